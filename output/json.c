#include "json.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

void json_init(json_t *j, GString *out)
{
    memset(j, 0, sizeof(*j));
    j->out = out;
    j->first[0] = true;
}

static void separator_and_key(json_t *j, const char *key)
{
    if (!j->first[j->depth])
        g_string_append_c(j->out, ',');
    j->first[j->depth] = false;
    if (key) {
        json_escape_append(j->out, key, strlen(key));
        g_string_append_c(j->out, ':');
    }
}

static void open_container(json_t *j, const char *key, char bracket)
{
    separator_and_key(j, key);
    g_string_append_c(j->out, bracket);
    if (j->depth + 1 < JSON_MAX_DEPTH)
        j->depth++;
    j->first[j->depth] = true;
}

static void close_container(json_t *j, char bracket)
{
    g_string_append_c(j->out, bracket);
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
    g_string_append_c(out, '"');
    const char *p = value;
    const char *end = value + len;
    while (p < end) {
        unsigned char ch = (unsigned char)*p;
        if (ch < 0x80) {
            switch (ch) {
            case '"': g_string_append(out, "\\\""); break;
            case '\\': g_string_append(out, "\\\\"); break;
            case '\n': g_string_append(out, "\\n"); break;
            case '\r': g_string_append(out, "\\r"); break;
            case '\t': g_string_append(out, "\\t"); break;
            default:
                if (ch < 0x20 || ch == 0x7f)
                    g_string_append_printf(out, "\\u%04x", ch);
                else
                    g_string_append_c(out, (char)ch);
            }
            p++;
            continue;
        }
        gunichar uc = g_utf8_get_char_validated(p, end - p);
        if (uc == (gunichar)-1 || uc == (gunichar)-2) {
            g_string_append(out, "\\ufffd");
            p++;
            continue;
        }
        const char *next = g_utf8_next_char(p);
        g_string_append_len(out, p, next - p);
        p = next;
    }
    g_string_append_c(out, '"');
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
    g_string_append_printf(j->out, "%" G_GINT64_FORMAT, (gint64)value);
}

void json_uint(json_t *j, const char *key, uint64_t value)
{
    separator_and_key(j, key);
    g_string_append_printf(j->out, "%" G_GUINT64_FORMAT, (guint64)value);
}

void json_bool(json_t *j, const char *key, bool value)
{
    separator_and_key(j, key);
    g_string_append(j->out, value ? "true" : "false");
}

void json_null(json_t *j, const char *key)
{
    separator_and_key(j, key);
    g_string_append(j->out, "null");
}

static bool utc_fields(int64_t epoch, struct tm *tm)
{
    time_t t = (time_t)epoch;
    return gmtime_r(&t, tm) != NULL;
}

void json_format_timestamp(int64_t ts_us, char *out, size_t out_len)
{
    int64_t seconds = ts_us / 1000000;
    int64_t micros = ts_us % 1000000;
    if (micros < 0) {
        micros += 1000000;
        seconds--;
    }
    struct tm tm;
    if (!utc_fields(seconds, &tm)) {
        snprintf(out, out_len, "1970-01-01T00:00:00.000000+0000");
        return;
    }
    snprintf(out, out_len, "%04d-%02d-%02dT%02d:%02d:%02d.%06d+0000", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)micros);
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
