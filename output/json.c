#include "json.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

/* GString's own append goes through g_string_insert_len, which is costly
 * for the many short pieces an event is made of: append in place. */
static inline void put(GString *o, const char *p, size_t n)
{
    if (G_UNLIKELY(o->len + n + 1 > o->allocated_len)) {
        size_t old = o->len;
        g_string_set_size(o, old + n); /* grows the allocation */
        o->len = old;
    }
    memcpy(o->str + o->len, p, n);
    o->len += n;
    o->str[o->len] = '\0';
}

static inline void put_c(GString *o, char c)
{
    put(o, &c, 1);
}

void json_init(json_t *j, GString *out)
{
    memset(j, 0, sizeof(*j));
    j->out = out;
    j->first[0] = true;
}

/* 1 for bytes that go into a JSON string as they are. */
#define PLAIN(c) ((c) >= 0x20 && (c) < 0x7f && (c) != 0x22 && (c) != 0x5c)
#define PLAIN_ROW(b)                                                                           \
    PLAIN(b + 0), PLAIN(b + 1), PLAIN(b + 2), PLAIN(b + 3), PLAIN(b + 4), PLAIN(b + 5),        \
        PLAIN(b + 6), PLAIN(b + 7), PLAIN(b + 8), PLAIN(b + 9), PLAIN(b + 10), PLAIN(b + 11),  \
        PLAIN(b + 12), PLAIN(b + 13), PLAIN(b + 14), PLAIN(b + 15)
static const uint8_t plain_byte[256] = {
    PLAIN_ROW(0x00), PLAIN_ROW(0x10), PLAIN_ROW(0x20), PLAIN_ROW(0x30),
    PLAIN_ROW(0x40), PLAIN_ROW(0x50), PLAIN_ROW(0x60), PLAIN_ROW(0x70),
    PLAIN_ROW(0x80), PLAIN_ROW(0x90), PLAIN_ROW(0xa0), PLAIN_ROW(0xb0),
    PLAIN_ROW(0xc0), PLAIN_ROW(0xd0), PLAIN_ROW(0xe0), PLAIN_ROW(0xf0),
};

static inline bool plain_ascii(unsigned char ch)
{
    return plain_byte[ch];
}

static inline char *reserve_tail(GString *o, size_t n)
{
    if (G_UNLIKELY(o->len + n + 1 > o->allocated_len)) {
        size_t old = o->len;
        g_string_set_size(o, old + n);
        o->len = old;
    }
    return o->str + o->len;
}

/* Keys are nearly always the program's own identifiers with nothing to
 * escape: those are written in one go (most of an event's bytes are keys). */
static void separator_and_key(json_t *j, const char *key)
{
    bool comma = !j->first[j->depth];
    j->first[j->depth] = false;
    if (!key) {
        if (comma)
            put_c(j->out, ',');
        return;
    }
    const unsigned char *k = (const unsigned char *)key;
    size_t len = 0;
    while (plain_byte[k[len]])
        len++;
    if (k[len] != '\0') {
        if (comma)
            put_c(j->out, ',');
        json_escape_append(j->out, key, strlen(key));
        put_c(j->out, ':');
        return;
    }
    char *w = reserve_tail(j->out, len + 4);
    char *start = w;
    if (comma)
        *w++ = ',';
    *w++ = '"';
    memcpy(w, key, len);
    w += len;
    *w++ = '"';
    *w++ = ':';
    *w = '\0';
    j->out->len += (size_t)(w - start);
}

/* Decimal digits without printf's machinery (a large share of the time
 * spent writing events otherwise). */
static void append_u64(GString *out, uint64_t value)
{
    char digits[20];
    int n = 0;
    do {
        digits[n++] = (char)('0' + value % 10);
        value /= 10;
    } while (value);
    char text[20];
    for (int i = 0; i < n; i++)
        text[i] = digits[n - 1 - i];
    put(out, text, (size_t)n);
}

static void open_container(json_t *j, const char *key, char bracket)
{
    separator_and_key(j, key);
    put_c(j->out, bracket);
    if (j->depth + 1 < JSON_MAX_DEPTH)
        j->depth++;
    j->first[j->depth] = true;
}

static void close_container(json_t *j, char bracket)
{
    put_c(j->out, bracket);
    if (j->depth > 0)
        j->depth--;
}

void json_object_begin(json_t *j, const char *key)
{
    open_container(j, key, '{');
}

void json_object_end(json_t *j)
{
    close_container(j, '}');
}

void json_array_begin(json_t *j, const char *key)
{
    open_container(j, key, '[');
}

void json_array_end(json_t *j)
{
    close_container(j, ']');
}

void json_escape_append(GString *out, const char *value, size_t len)
{
    put_c(out, '"');
    const char *p = value;
    const char *end = value + len;
    while (p < end) {
        /* Runs of characters that need nothing are copied at once. */
        const char *run = p;
        while (p < end && plain_ascii((unsigned char)*p))
            p++;
        if (p > run)
            put(out, run, (size_t)(p - run));
        if (p >= end)
            break;
        unsigned char ch = (unsigned char)*p;
        if (ch < 0x80) {
            switch (ch) {
            case '"': put(out, "\\\"", 2); break;
            case '\\': put(out, "\\\\", sizeof("\\\\") - 1); break;
            case '\n': put(out, "\\n", sizeof("\\n") - 1); break;
            case '\r': put(out, "\\r", sizeof("\\r") - 1); break;
            case '\t': put(out, "\\t", sizeof("\\t") - 1); break;
            default:
                if (ch < 0x20 || ch == 0x7f)
                    g_string_append_printf(out, "\\u%04x", ch);
                else
                    put_c(out, (char)ch);
            }
            p++;
            continue;
        }
        gunichar uc = g_utf8_get_char_validated(p, end - p);
        if (uc == (gunichar)-1 || uc == (gunichar)-2) {
            put(out, "\\ufffd", sizeof("\\ufffd") - 1);
            p++;
            continue;
        }
        const char *next = g_utf8_next_char(p);
        put(out, p, (size_t)(next - p));
        p = next;
    }
    put_c(out, '"');
}

void json_string(json_t *j, const char *key, const char *value)
{
    if (!value) {
        json_null(j, key);
        return;
    }
    json_string_len(j, key, value, strlen(value));
}

void json_string_len(json_t *j, const char *key, const char *value, size_t len)
{
    separator_and_key(j, key);
    json_escape_append(j->out, value, len);
}

void json_int(json_t *j, const char *key, int64_t value)
{
    separator_and_key(j, key);
    if (value < 0) {
        put_c(j->out, '-');
        append_u64(j->out, (uint64_t)0 - (uint64_t)value);
    } else {
        append_u64(j->out, (uint64_t)value);
    }
}

void json_uint(json_t *j, const char *key, uint64_t value)
{
    separator_and_key(j, key);
    append_u64(j->out, value);
}

void json_bool(json_t *j, const char *key, bool value)
{
    separator_and_key(j, key);
    if (value)
        put(j->out, "true", 4);
    else
        put(j->out, "false", 5);
}

void json_null(json_t *j, const char *key)
{
    separator_and_key(j, key);
    put(j->out, "null", sizeof("null") - 1);
}

static bool utc_fields(int64_t epoch, struct tm *tm)
{
    time_t t = (time_t)epoch;
    return gmtime_r(&t, tm) != NULL;
}

/* The date-and-time part of a timestamp changes at most once a second, but
 * one event holds several (a flow's start, end and the event's own), so a
 * few seconds are kept per thread; only the microseconds are written each
 * time. */
#define TIMESTAMP_CACHE 8

typedef struct second_text {
    int64_t second;
    size_t len;
    char text[40];
} second_text_t;

static _Thread_local second_text_t second_cache[TIMESTAMP_CACHE];
static _Thread_local bool second_cache_ready;

static const second_text_t *second_prefix(int64_t seconds)
{
    if (!second_cache_ready) {
        for (int i = 0; i < TIMESTAMP_CACHE; i++)
            second_cache[i].second = INT64_MIN;
        second_cache_ready = true;
    }
    second_text_t *slot = &second_cache[(uint64_t)seconds % TIMESTAMP_CACHE];
    if (slot->second != seconds) {
        struct tm tm;
        if (!utc_fields(seconds, &tm))
            return NULL;
        int n = snprintf(slot->text, sizeof(slot->text), "%04d-%02d-%02dT%02d:%02d:%02d.",
                         tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
        if (n <= 0 || (size_t)n >= sizeof(slot->text))
            return NULL;
        slot->len = (size_t)n;
        slot->second = seconds;
    }
    return slot;
}

void json_format_timestamp(int64_t ts_us, char *out, size_t out_len)
{
    int64_t seconds = ts_us / 1000000;
    int64_t micros = ts_us % 1000000;
    if (micros < 0) {
        micros += 1000000;
        seconds--;
    }
    const second_text_t *prefix = second_prefix(seconds);
    if (!prefix) {
        snprintf(out, out_len, "1970-01-01T00:00:00.000000+0000");
        return;
    }
    char full[64];
    memcpy(full, prefix->text, prefix->len);
    char *p = full + prefix->len;
    for (int i = 5; i >= 0; i--) {
        p[i] = (char)('0' + micros % 10);
        micros /= 10;
    }
    memcpy(p + 6, "+0000", 6);
    size_t len = prefix->len + 11;
    if (len < out_len) {
        memcpy(out, full, len + 1);
    } else if (out_len) {
        memcpy(out, full, out_len - 1); /* cut like snprintf when out is short */
        out[out_len - 1] = '\0';
    }
}

void json_format_time_seconds(int64_t epoch, char *out, size_t out_len)
{
    struct tm tm;
    if (!utc_fields(epoch, &tm)) {
        snprintf(out, out_len, "1970-01-01T00:00:00Z");
        return;
    }
    snprintf(out, out_len, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}
