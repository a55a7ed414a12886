#include "keylog.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <string.h>

/* The longest line accepted, without its line ending.  A TLS 1.3 line with
 * a 48-byte secret is 31 + 1 + 64 + 1 + 96 = 193 characters; anything much
 * longer is not a key log line, and the file is untrusted input too. */
#define KEYLOG_MAX_LINE 1024

/* Longest hex field of a label that is accepted and ignored (ECH_CONFIG
 * carries a whole ECHConfig, longer than any secret). */
#define KEYLOG_MAX_IGNORED_FIELD (KEYLOG_MAX_LINE / 2)

struct keylog {
    GHashTable *by_random; /* 32-byte client random (owned) -> keylog_entry_t (owned) */
};

typedef enum line_status {
    LINE_OK,
    LINE_BAD_SYNTAX,   /* not LABEL <hex> <hex> */
    LINE_BAD_LABEL,
    LINE_BAD_RANDOM,   /* client random not 32 bytes of hex */
    LINE_BAD_SECRET,   /* secret not hex, or of a length the label cannot have */
    LINE_TOO_LONG,
} line_status_t;

static const char *status_text(line_status_t s)
{
    switch (s) {
    case LINE_OK: return "ok";
    case LINE_BAD_SYNTAX: return "not an NSS key log line (LABEL <client random> <secret>)";
    case LINE_BAD_LABEL: return "unknown key log label";
    case LINE_BAD_RANDOM: return "the client random is not 32 bytes of hex";
    case LINE_BAD_SECRET: return "the secret is not hex of a valid length";
    case LINE_TOO_LONG: return "line too long for a key log line";
    }
    return "not an NSS key log line";
}

/* Labels and where their secret goes.  offset < 0: accepted, ignored. */
typedef struct label_def {
    const char *name;
    long offset;
    size_t min_len, max_len; /* secret length in bytes */
    size_t random_len;       /* length of the first field */
} label_def_t;

#define SECRET_AT(field) ((long)offsetof(keylog_entry_t, field))

static const label_def_t labels[] = {
    { "CLIENT_RANDOM", SECRET_AT(master), 48, 48, KEYLOG_RANDOM_LEN },
    { "CLIENT_HANDSHAKE_TRAFFIC_SECRET", SECRET_AT(client_handshake), 32, KEYLOG_MAX_SECRET,
      KEYLOG_RANDOM_LEN },
    { "SERVER_HANDSHAKE_TRAFFIC_SECRET", SECRET_AT(server_handshake), 32, KEYLOG_MAX_SECRET,
      KEYLOG_RANDOM_LEN },
    { "CLIENT_TRAFFIC_SECRET_0", SECRET_AT(client_traffic0), 32, KEYLOG_MAX_SECRET,
      KEYLOG_RANDOM_LEN },
    { "SERVER_TRAFFIC_SECRET_0", SECRET_AT(server_traffic0), 32, KEYLOG_MAX_SECRET,
      KEYLOG_RANDOM_LEN },
    /* Accepted and ignored (NSS, OpenSSL, BoringSSL and Wireshark labels). */
    { "CLIENT_EARLY_TRAFFIC_SECRET", -1, 1, KEYLOG_MAX_SECRET, KEYLOG_RANDOM_LEN },
    { "EARLY_EXPORTER_SECRET", -1, 1, KEYLOG_MAX_SECRET, KEYLOG_RANDOM_LEN },
    { "EARLY_EXPORTER_MASTER_SECRET", -1, 1, KEYLOG_MAX_SECRET, KEYLOG_RANDOM_LEN },
    { "EXPORTER_SECRET", -1, 1, KEYLOG_MAX_SECRET, KEYLOG_RANDOM_LEN },
    { "ECH_SECRET", -1, 1, KEYLOG_MAX_SECRET, KEYLOG_RANDOM_LEN },
    { "ECH_CONFIG", -1, 1, KEYLOG_MAX_IGNORED_FIELD, KEYLOG_RANDOM_LEN },
    /* "RSA <first 8 bytes of the encrypted premaster> <premaster>" */
    { "RSA", -1, 48, 48, 8 },
};

/* The secrets after a KeyUpdate, as recent OpenSSL logs them
 * (CLIENT_TRAFFIC_SECRET_N) or numbered (..._1, _2, ...): ignored, since
 * they follow from _0 (tls13_record_crypto_update). */
static const label_def_t updated_secret = { "CLIENT/SERVER_TRAFFIC_SECRET_N", -1, 1,
                                            KEYLOG_MAX_SECRET, KEYLOG_RANDOM_LEN };

static bool is_updated_secret(const char *name, size_t len)
{
    static const char *const prefixes[] = { "CLIENT_TRAFFIC_SECRET_", "SERVER_TRAFFIC_SECRET_" };
    for (size_t i = 0; i < G_N_ELEMENTS(prefixes); i++) {
        size_t plen = strlen(prefixes[i]);
        if (len <= plen || memcmp(name, prefixes[i], plen) != 0)
            continue;
        const char *suffix = name + plen;
        size_t slen = len - plen;
        if (slen == 1 && suffix[0] == 'N')
            return true;
        if (slen > 6 || suffix[0] == '0')
            return false; /* _0 is a real label, handled above */
        for (size_t j = 0; j < slen; j++)
            if (!g_ascii_isdigit(suffix[j]))
                return false;
        return true;
    }
    return false;
}

static const label_def_t *find_label(const char *name, size_t len)
{
    for (size_t i = 0; i < G_N_ELEMENTS(labels); i++)
        if (strlen(labels[i].name) == len && memcmp(labels[i].name, name, len) == 0)
            return &labels[i];
    return is_updated_secret(name, len) ? &updated_secret : NULL;
}

static guint random_hash(gconstpointer key)
{
    /* Client randoms are random, except that some stacks still start them
     * with the time: mix all 32 bytes. */
    const uint8_t *p = key;
    guint32 h = 2166136261u;
    for (size_t i = 0; i < KEYLOG_RANDOM_LEN; i++)
        h = (h ^ p[i]) * 16777619u;
    return h;
}

static gboolean random_equal(gconstpointer a, gconstpointer b)
{
    return memcmp(a, b, KEYLOG_RANDOM_LEN) == 0;
}

static void entry_free(gpointer p)
{
    OPENSSL_cleanse(p, sizeof(keylog_entry_t));
    g_free(p);
}

keylog_t *keylog_new(void)
{
    keylog_t *kl = g_new0(keylog_t, 1);
    kl->by_random = g_hash_table_new_full(random_hash, random_equal, g_free, entry_free);
    return kl;
}

void keylog_free(keylog_t *kl)
{
    if (!kl)
        return;
    g_hash_table_destroy(kl->by_random);
    g_free(kl);
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decodes exactly len hex characters into out (capacity cap); false when a
 * character is not hex, the count is odd, or the bytes do not fit. */
static bool hex_decode(const char *hex, size_t len, uint8_t *out, size_t cap, size_t *out_len)
{
    if (len == 0 || len % 2 != 0 || len / 2 > cap)
        return false;
    for (size_t i = 0; i < len; i += 2) {
        int hi = hex_value(hex[i]), lo = hex_value(hex[i + 1]);
        if (hi < 0 || lo < 0)
            return false;
        if (out)
            out[i / 2] = (uint8_t)(hi << 4 | lo);
    }
    *out_len = len / 2;
    return true;
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t';
}

typedef struct field {
    const char *ptr;
    size_t len;
} field_t;

/* Splits [p, end) into at most max fields separated by blanks; returns how
 * many there are (max + 1 when there are more). */
static size_t split_fields(const char *p, const char *end, field_t *fields, size_t max)
{
    size_t n = 0;
    while (p < end) {
        while (p < end && is_space(*p))
            p++;
        if (p == end)
            break;
        const char *start = p;
        while (p < end && !is_space(*p))
            p++;
        if (n == max)
            return max + 1;
        fields[n].ptr = start;
        fields[n].len = (size_t)(p - start);
        n++;
    }
    return n;
}

/* Parses one line of len bytes (no terminator needed; a trailing CR or LF
 * is ignored) into kl. */
static line_status_t parse_line(keylog_t *kl, const char *line, size_t len)
{
    while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
        len--;
    if (len > KEYLOG_MAX_LINE)
        return LINE_TOO_LONG;
    if (memchr(line, '\0', len))
        return LINE_BAD_SYNTAX;

    const char *p = line, *end = line + len;
    while (p < end && is_space(*p))
        p++;
    if (p == end || *p == '#')
        return LINE_OK; /* blank or comment */

    field_t f[3];
    if (split_fields(p, end, f, 3) != 3)
        return LINE_BAD_SYNTAX;

    const label_def_t *label = find_label(f[0].ptr, f[0].len);
    if (!label)
        return LINE_BAD_LABEL;

    uint8_t random[KEYLOG_RANDOM_LEN];
    size_t random_len = 0;
    if (!hex_decode(f[1].ptr, f[1].len, random, sizeof(random), &random_len) ||
        random_len != label->random_len)
        return LINE_BAD_RANDOM;

    keylog_secret_t secret = { 0 };
    bool ok;
    if (label->offset < 0) /* only the syntax of an ignored label's value is checked */
        ok = hex_decode(f[2].ptr, f[2].len, NULL, label->max_len, &secret.len);
    else
        ok = hex_decode(f[2].ptr, f[2].len, secret.bytes, sizeof(secret.bytes), &secret.len);
    if (!ok || secret.len < label->min_len || secret.len > label->max_len) {
        OPENSSL_cleanse(&secret, sizeof(secret));
        return LINE_BAD_SECRET;
    }
    if (label->offset < 0)
        return LINE_OK;

    keylog_entry_t *entry = g_hash_table_lookup(kl->by_random, random);
    if (!entry) {
        entry = g_new0(keylog_entry_t, 1);
        g_hash_table_insert(kl->by_random, g_memdup2(random, sizeof(random)), entry);
    }
    keylog_secret_t *dst = (keylog_secret_t *)((uint8_t *)entry + label->offset);
    *dst = secret; /* a later line for the same random and label wins */
    OPENSSL_cleanse(&secret, sizeof(secret));
    return LINE_OK;
}

bool keylog_add_line(keylog_t *kl, const char *line)
{
    if (!kl || !line)
        return false;
    /* Bounded: never look further than one byte past the longest line. */
    size_t len = strnlen(line, KEYLOG_MAX_LINE + 3);
    return parse_line(kl, line, len) == LINE_OK;
}

/* Copies every secret of src into dst (later files win, field by field). */
static void merge_into(keylog_t *dst, keylog_t *src)
{
    GHashTableIter it;
    gpointer key, value;
    g_hash_table_iter_init(&it, src->by_random);
    while (g_hash_table_iter_next(&it, &key, &value)) {
        const keylog_entry_t *from = value;
        keylog_entry_t *to = g_hash_table_lookup(dst->by_random, key);
        if (!to) {
            /* Move the entry over instead of copying the secrets again. */
            g_hash_table_iter_steal(&it);
            g_hash_table_insert(dst->by_random, key, value);
            continue;
        }
        const keylog_secret_t *f[] = { &from->master, &from->client_handshake,
                                       &from->server_handshake, &from->client_traffic0,
                                       &from->server_traffic0 };
        keylog_secret_t *t[] = { &to->master, &to->client_handshake, &to->server_handshake,
                                 &to->client_traffic0, &to->server_traffic0 };
        for (size_t i = 0; i < G_N_ELEMENTS(f); i++)
            if (f[i]->len)
                *t[i] = *f[i];
    }
}

static GQuark keylog_error_quark(void)
{
    return g_quark_from_static_string("enrollmon-keylog");
}

bool keylog_load_file(keylog_t *kl, const char *path, GError **error)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        int err = errno;
        g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(err),
                    "cannot read key log '%s': %s", path, g_strerror(err));
        return false;
    }

    /* The lines go into a table of their own first, so a file with an
     * error adds nothing. */
    keylog_t *staged = keylog_new();
    char line[KEYLOG_MAX_LINE + 2]; /* the longest line, plus CR (LF ends it) */
    size_t len = 0;
    bool overlong = false;
    unsigned long lineno = 1;
    line_status_t status = LINE_OK;
    bool read_error = false;
    int read_errno = 0;
    char chunk[16384];
    size_t got;

    while (status == LINE_OK && (got = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        for (size_t i = 0; i < got && status == LINE_OK; i++) {
            char c = chunk[i];
            if (c == '\n') {
                status = overlong ? LINE_TOO_LONG : parse_line(staged, line, len);
                if (status == LINE_OK) {
                    lineno++;
                    len = 0;
                }
                overlong = false;
                continue;
            }
            if (len < sizeof(line))
                line[len++] = c;
            else
                overlong = true;
        }
    }
    if (status == LINE_OK && ferror(f)) {
        read_error = true;
        read_errno = errno;
    } else if (status == LINE_OK && (len > 0 || overlong)) /* last line without a newline */
        status = overlong ? LINE_TOO_LONG : parse_line(staged, line, len);
    fclose(f);
    OPENSSL_cleanse(line, sizeof(line));
    OPENSSL_cleanse(chunk, sizeof(chunk));

    if (read_error) {
        g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(read_errno),
                    "cannot read key log '%s': %s", path, g_strerror(read_errno));
        keylog_free(staged);
        return false;
    }
    if (status != LINE_OK) {
        g_set_error(error, keylog_error_quark(), (int)status, "%s line %lu: %s", path, lineno,
                    status_text(status));
        keylog_free(staged);
        return false;
    }
    merge_into(kl, staged);
    keylog_free(staged);
    return true;
}

const keylog_entry_t *keylog_lookup(const keylog_t *kl, const uint8_t random[KEYLOG_RANDOM_LEN])
{
    if (!kl || !random)
        return NULL;
    return g_hash_table_lookup(kl->by_random, random);
}

unsigned keylog_count(const keylog_t *kl)
{
    return kl ? g_hash_table_size(kl->by_random) : 0;
}
