/* Unit tests for dissectors/tls.c: record and handshake framing, the hello,
 * Certificate, CertificateRequest and alert parsers, and the name helpers.
 *
 * Every message is built byte by byte in the test.  Parsers are always
 * handed an exactly sized heap copy of their input, so a read past the end
 * is an AddressSanitizer error and not a silent pass.
 */
#include "dissectors/tls.h"

#include <glib.h>
#include <stdint.h>
#include <string.h>

/* Loop cases: the case is named in the log only when a check in it fails. */
#define CASE_BEGIN() const bool case_failed_before_ = g_test_failed()
#define CASE_END(...)                                                                   \
    do {                                                                               \
        if (!case_failed_before_ && g_test_failed())                                   \
            g_test_message(__VA_ARGS__);                                               \
    } while (0)

/* ------------------------------------------------------------------ */
/* Byte building                                                       */

static void put_u8(GByteArray *b, unsigned v)
{
    guint8 x = (guint8)v;
    g_byte_array_append(b, &x, 1);
}

static void put_be16(GByteArray *b, unsigned v)
{
    put_u8(b, (v >> 8) & 0xff);
    put_u8(b, v & 0xff);
}

static void put_be24(GByteArray *b, unsigned v)
{
    put_u8(b, (v >> 16) & 0xff);
    put_u8(b, (v >> 8) & 0xff);
    put_u8(b, v & 0xff);
}

static void put_bytes(GByteArray *b, const void *p, size_t n)
{
    if (n)
        g_byte_array_append(b, p, (guint)n);
}

static void put_fill(GByteArray *b, unsigned value, size_t n)
{
    for (size_t i = 0; i < n; i++)
        put_u8(b, (value + i) & 0xff);
}

/* A length field of width bytes whose value is filled in by close_len. */
static size_t open_len(GByteArray *b, unsigned width)
{
    size_t at = b->len;
    for (unsigned i = 0; i < width; i++)
        put_u8(b, 0);
    return at;
}

static void close_len(GByteArray *b, size_t at, unsigned width)
{
    size_t n = b->len - at - width;
    g_assert_cmpuint(n, <, (size_t)1 << (8 * width));
    for (unsigned i = 0; i < width; i++)
        b->data[at + i] = (guint8)(n >> (8 * (width - 1 - i)));
}

/* An exactly sized heap copy of the first len bytes. */
static uint8_t *exact_copy(const uint8_t *data, size_t len)
{
    uint8_t *copy = g_malloc(len ? len : 1);
    if (len)
        memcpy(copy, data, len);
    return copy;
}

static byte_span_t span_of(const uint8_t *p, size_t len)
{
    byte_span_t s = { len ? p : NULL, len };
    return s;
}

/* ------------------------------------------------------------------ */
/* Record header                                                       */

static tls_parse_status_t parse_header_bytes(const uint8_t *bytes, size_t n, tls_record_header_t *rec,
                                             size_t *consumed)
{
    uint8_t *copy = exact_copy(bytes, n);
    cursor_t c = cur_make(n ? copy : NULL, n);
    memset(rec, 0, sizeof(*rec));
    tls_parse_status_t st = tls_record_header_parse(&c, rec);
    *consumed = cur_offset(&c);
    g_free(copy);
    return st;
}

static void test_record_header_content_types(void)
{
    for (unsigned type = 0; type < 256; type++) {
        const uint8_t bytes[] = { (uint8_t)type, 0x03, 0x03, 0x00, 0x05 };
        tls_record_header_t rec;
        size_t consumed;
        tls_parse_status_t st = parse_header_bytes(bytes, sizeof(bytes), &rec, &consumed);
        bool valid = type >= 20 && type <= 24;
        CASE_BEGIN();
        g_assert_cmpint(st, ==, valid ? TLS_PARSE_OK : TLS_PARSE_INVALID);
        if (valid) {
            g_assert_cmpuint(rec.content_type, ==, type);
            g_assert_cmpuint(rec.version, ==, 0x0303);
            g_assert_cmpuint(rec.length, ==, 5);
            g_assert_cmpuint(consumed, ==, TLS_RECORD_HEADER_LEN);
        }
        CASE_END("content type %u", type);
    }
}

typedef struct version_case {
    uint16_t version;
    tls_parse_status_t expected;
} version_case_t;

static const version_case_t record_versions[] = {
    { 0x0300, TLS_PARSE_OK },      { 0x0301, TLS_PARSE_OK },      { 0x0302, TLS_PARSE_OK },
    { 0x0303, TLS_PARSE_OK },      { 0x0304, TLS_PARSE_OK },      { 0x0305, TLS_PARSE_INVALID },
    { 0x02ff, TLS_PARSE_INVALID }, { 0x0200, TLS_PARSE_INVALID }, { 0x0002, TLS_PARSE_INVALID },
    { 0x0000, TLS_PARSE_INVALID }, { 0x0103, TLS_PARSE_INVALID }, { 0x0403, TLS_PARSE_INVALID },
    { 0x7f17, TLS_PARSE_INVALID }, { 0xfefd, TLS_PARSE_INVALID }, { 0xffff, TLS_PARSE_INVALID },
    { 0x0a0a, TLS_PARSE_INVALID },
};

static void test_record_header_versions(void)
{
    for (size_t i = 0; i < G_N_ELEMENTS(record_versions); i++) {
        const version_case_t *vc = &record_versions[i];
        const uint8_t bytes[] = { 22, vc->version >> 8, vc->version & 0xff, 0x00, 0x30 };
        tls_record_header_t rec;
        size_t consumed;
        CASE_BEGIN();
        g_assert_cmpint(parse_header_bytes(bytes, sizeof(bytes), &rec, &consumed), ==, vc->expected);
        if (vc->expected == TLS_PARSE_OK) {
            g_assert_cmpuint(rec.version, ==, vc->version);
            g_assert_cmpuint(rec.length, ==, 0x30);
        }
        CASE_END("record version 0x%04x", vc->version);
    }
}

static void test_record_header_zero_length(void)
{
    for (unsigned type = 20; type <= 24; type++) {
        const uint8_t bytes[] = { (uint8_t)type, 0x03, 0x03, 0x00, 0x00 };
        tls_record_header_t rec;
        size_t consumed;
        CASE_BEGIN();
        g_assert_cmpint(parse_header_bytes(bytes, sizeof(bytes), &rec, &consumed), ==,
                        type == TLS_CT_APPLICATION_DATA ? TLS_PARSE_OK : TLS_PARSE_INVALID);
        CASE_END("empty record of type %u", type);
    }
}

typedef struct length_case {
    unsigned length;
    tls_parse_status_t expected;
} length_case_t;

static const length_case_t record_lengths[] = {
    { 1, TLS_PARSE_OK },
    { 16384, TLS_PARSE_OK },
    { TLS_RECORD_MAX_LEN - 1, TLS_PARSE_OK },
    { TLS_RECORD_MAX_LEN, TLS_PARSE_OK },
    { TLS_RECORD_MAX_LEN + 1, TLS_PARSE_INVALID },
    { 0x8000, TLS_PARSE_INVALID },
    { 0xffff, TLS_PARSE_INVALID },
};

static void test_record_header_lengths(void)
{
    g_assert_cmpuint(TLS_RECORD_MAX_LEN, ==, 18432);
    for (size_t i = 0; i < G_N_ELEMENTS(record_lengths); i++) {
        for (unsigned type = 20; type <= 24; type++) {
            const length_case_t *lc = &record_lengths[i];
            const uint8_t bytes[] = { (uint8_t)type, 0x03, 0x01, lc->length >> 8, lc->length & 0xff };
            tls_record_header_t rec;
            size_t consumed;
            CASE_BEGIN();
            g_assert_cmpint(parse_header_bytes(bytes, sizeof(bytes), &rec, &consumed), ==, lc->expected);
            if (lc->expected == TLS_PARSE_OK)
                g_assert_cmpuint(rec.length, ==, lc->length);
            CASE_END("type %u length %u", type, lc->length);
        }
    }
}

typedef struct short_case {
    const char *name;
    uint8_t bytes[4];
    size_t len;
    tls_parse_status_t expected;
} short_case_t;

static const short_case_t short_headers[] = {
    { "nothing", { 0 }, 0, TLS_PARSE_NEED_MORE },
    { "handshake type only", { 0x16 }, 1, TLS_PARSE_NEED_MORE },
    { "ccs type only", { 0x14 }, 1, TLS_PARSE_NEED_MORE },
    { "heartbeat type only", { 0x18 }, 1, TLS_PARSE_NEED_MORE },
    { "type and major", { 0x16, 0x03 }, 2, TLS_PARSE_NEED_MORE },
    { "type, major, minor", { 0x16, 0x03, 0x03 }, 3, TLS_PARSE_NEED_MORE },
    { "four bytes", { 0x17, 0x03, 0x03, 0x40 }, 4, TLS_PARSE_NEED_MORE },
    { "alert four bytes", { 0x15, 0x03, 0x00, 0x00 }, 4, TLS_PARSE_NEED_MORE },
    { "'G' of GET", { 'G' }, 1, TLS_PARSE_INVALID },
    { "zero byte", { 0x00 }, 1, TLS_PARSE_INVALID },
    { "type 19", { 0x13 }, 1, TLS_PARSE_INVALID },
    { "type 25", { 0x19 }, 1, TLS_PARSE_INVALID },
    { "SSLv2 hello start", { 0x80 }, 1, TLS_PARSE_INVALID },
    { "bad type, 4 bytes", { 0x47, 0x45, 0x54, 0x20 }, 4, TLS_PARSE_INVALID },
    { "major 2", { 0x16, 0x02 }, 2, TLS_PARSE_INVALID },
    { "major 4", { 0x16, 0x04 }, 2, TLS_PARSE_INVALID },
    { "major 0, 3 bytes", { 0x17, 0x00, 0x03 }, 3, TLS_PARSE_INVALID },
    { "major 0xfe, 4 bytes", { 0x16, 0xfe, 0xfd, 0x00 }, 4, TLS_PARSE_INVALID },
};

static void test_record_header_short(gconstpointer data)
{
    const short_case_t *sc = data;
    uint8_t *copy = exact_copy(sc->bytes, sc->len);
    cursor_t c = cur_make(sc->len ? copy : NULL, sc->len);
    tls_record_header_t rec;
    memset(&rec, 0, sizeof(rec));
    g_assert_cmpint(tls_record_header_parse(&c, &rec), ==, sc->expected);
    /* A short header consumes nothing and leaves the cursor usable. */
    g_assert_cmpuint(cur_offset(&c), ==, 0);
    g_assert_true(cur_ok(&c));
    g_assert_cmpuint(cur_remaining(&c), ==, sc->len);
    g_free(copy);
}

/* ------------------------------------------------------------------ */
/* Stream starts and record chains                                     */

typedef struct start_case {
    const char *name;
    uint8_t bytes[16];
    size_t len;
    bool client_hello;
    bool server_hello;
} start_case_t;

static const start_case_t start_cases[] = {
    { "client hello 1.2", { 0x16, 0x03, 0x01, 0x00, 0xc8, 0x01, 0x00, 0x00, 0xc4, 0x03, 0x03 }, 11, true, false },
    { "client hello SSLv3", { 0x16, 0x03, 0x00, 0x00, 0x40, 0x01, 0x00, 0x00, 0x3c, 0x03, 0x00 }, 11, true, false },
    { "client hello min length 38", { 0x16, 0x03, 0x01, 0x00, 0x2a, 0x01, 0x00, 0x00, 0x26, 0x03, 0x01 }, 11, true, false },
    { "client hello length 37", { 0x16, 0x03, 0x01, 0x00, 0x29, 0x01, 0x00, 0x00, 0x25, 0x03, 0x01 }, 11, false, false },
    { "client hello length 65535", { 0x16, 0x03, 0x01, 0x40, 0x00, 0x01, 0x00, 0xff, 0xff, 0x03, 0x03 }, 11, true, false },
    { "client hello length 65536", { 0x16, 0x03, 0x01, 0x40, 0x00, 0x01, 0x01, 0x00, 0x00, 0x03, 0x03 }, 11, false, false },
    { "client hello draft 23", { 0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x7f, 0x17 }, 11, true, false },
    { "client hello version 0x0305", { 0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x05 }, 11, false, false },
    { "client hello version 0x0200", { 0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x02, 0x00 }, 11, false, false },
    { "client hello cut at 10 bytes", { 0x16, 0x03, 0x01, 0x00, 0xc8, 0x01, 0x00, 0x00, 0xc4, 0x03 }, 10, false, false },
    { "server hello 1.2", { 0x16, 0x03, 0x03, 0x00, 0x51, 0x02, 0x00, 0x00, 0x4d, 0x03, 0x03 }, 11, false, true },
    { "server hello draft 18", { 0x16, 0x03, 0x01, 0x00, 0x51, 0x02, 0x00, 0x00, 0x4d, 0x7f, 0x12 }, 11, false, true },
    { "certificate message", { 0x16, 0x03, 0x03, 0x00, 0x51, 0x0b, 0x00, 0x00, 0x4d, 0x00, 0x00 }, 11, false, false },
    { "application data", { 0x17, 0x03, 0x03, 0x00, 0x51, 0x01, 0x00, 0x00, 0x4d, 0x03, 0x03 }, 11, false, false },
    { "bad record version", { 0x16, 0x02, 0x00, 0x00, 0x51, 0x01, 0x00, 0x00, 0x4d, 0x03, 0x03 }, 11, false, false },
    { "HTTP", { 'G', 'E', 'T', ' ', '/', ' ', 'H', 'T', 'T', 'P', '/', '1', '.', '1' }, 14, false, false },
    { "empty", { 0 }, 0, false, false },
};

static void test_stream_start(gconstpointer data)
{
    const start_case_t *sc = data;
    uint8_t *copy = exact_copy(sc->bytes, sc->len);
    byte_span_t span = span_of(copy, sc->len);
    g_assert_cmpint(tls_starts_with_client_hello(span), ==, sc->client_hello);
    g_assert_cmpint(tls_starts_with_server_hello(span), ==, sc->server_hello);
    g_free(copy);
}

static GByteArray *record(GByteArray *b, unsigned type, unsigned version, size_t payload_len)
{
    put_u8(b, type);
    put_be16(b, version);
    put_be16(b, (unsigned)payload_len);
    put_fill(b, 0x30, payload_len);
    return b;
}

static void check_chain(GByteArray *b, size_t len, bool expected)
{
    uint8_t *copy = exact_copy(b->data, len);
    g_assert_cmpint(tls_is_exact_record_chain(span_of(copy, len)), ==, expected);
    g_free(copy);
}

static void test_record_chain(void)
{
    GByteArray *b = g_byte_array_new();

    check_chain(b, 0, false); /* no record at all */

    record(b, TLS_CT_HANDSHAKE, 0x0303, 60);
    check_chain(b, b->len, true);
    size_t one = b->len;

    record(b, TLS_CT_CHANGE_CIPHER_SPEC, 0x0303, 1);
    record(b, TLS_CT_APPLICATION_DATA, 0x0303, 0); /* empty application data is allowed */
    record(b, TLS_CT_APPLICATION_DATA, 0x0303, 100);
    record(b, TLS_CT_ALERT, 0x0303, 2);
    check_chain(b, b->len, true);

    /* Every cut that does not fall on a record boundary breaks the chain. */
    size_t boundaries[] = { 0, one, one + 6, one + 6 + 5, one + 6 + 5 + 105, b->len };
    for (size_t len = 0; len <= b->len; len++) {
        bool at_boundary = false;
        for (size_t k = 0; k < G_N_ELEMENTS(boundaries); k++)
            at_boundary = at_boundary || boundaries[k] == len;
        CASE_BEGIN();
        check_chain(b, len, at_boundary && len > 0);
        CASE_END("chain cut at %zu", len);
    }

    /* One trailing byte after the last record. */
    put_u8(b, 0x15);
    check_chain(b, b->len, false);
    g_byte_array_free(b, TRUE);

    /* A record whose header is not plausible. */
    b = g_byte_array_new();
    record(b, TLS_CT_HANDSHAKE, 0x0303, 10);
    record(b, 0x42, 0x0303, 10);
    check_chain(b, b->len, false);
    g_byte_array_free(b, TRUE);

    b = g_byte_array_new();
    record(b, TLS_CT_HANDSHAKE, 0x0303, 10);
    record(b, TLS_CT_HANDSHAKE, 0x0303, 0); /* empty handshake record */
    check_chain(b, b->len, false);
    g_byte_array_free(b, TRUE);
}

/* ------------------------------------------------------------------ */
/* Handshake header                                                    */

static void test_handshake_header(void)
{
    const uint8_t bytes[] = { 0x0b, 0x01, 0x23, 0x45, 0xaa };
    for (size_t n = 0; n < TLS_HANDSHAKE_HEADER_LEN; n++) {
        uint8_t *copy = exact_copy(bytes, n);
        cursor_t c = cur_make(n ? copy : NULL, n);
        tls_handshake_header_t h;
        CASE_BEGIN();
        g_assert_cmpint(tls_handshake_header_parse(&c, &h), ==, TLS_PARSE_NEED_MORE);
        g_assert_cmpuint(cur_offset(&c), ==, 0);
        CASE_END("%zu bytes", n);
        g_free(copy);
    }
    for (size_t n = TLS_HANDSHAKE_HEADER_LEN; n <= sizeof(bytes); n++) {
        uint8_t *copy = exact_copy(bytes, n);
        cursor_t c = cur_make(copy, n);
        tls_handshake_header_t h;
        g_assert_cmpint(tls_handshake_header_parse(&c, &h), ==, TLS_PARSE_OK);
        g_assert_cmpuint(h.type, ==, TLS_HS_CERTIFICATE);
        g_assert_cmpuint(h.length, ==, 0x012345);
        g_assert_cmpuint(cur_offset(&c), ==, TLS_HANDSHAKE_HEADER_LEN);
        g_free(copy);
    }
    const uint8_t max[] = { 0x01, 0xff, 0xff, 0xff };
    cursor_t c = cur_make(max, sizeof(max));
    tls_handshake_header_t h;
    g_assert_cmpint(tls_handshake_header_parse(&c, &h), ==, TLS_PARSE_OK);
    g_assert_cmpuint(h.type, ==, TLS_HS_CLIENT_HELLO);
    g_assert_cmpuint(h.length, ==, 0xffffff);
}

/* ------------------------------------------------------------------ */
/* ClientHello                                                         */

static void ext_raw(GByteArray *exts, unsigned type, const void *data, size_t len)
{
    put_be16(exts, type);
    put_be16(exts, (unsigned)len);
    put_bytes(exts, data, len);
}

static void ext_sni(GByteArray *exts, const void *name, size_t len)
{
    put_be16(exts, 0);
    size_t ext = open_len(exts, 2);
    size_t list = open_len(exts, 2);
    put_u8(exts, 0); /* host_name */
    put_be16(exts, (unsigned)len);
    put_bytes(exts, name, len);
    close_len(exts, list, 2);
    close_len(exts, ext, 2);
}

static void ext_alpn(GByteArray *exts, const char *const *protocols)
{
    put_be16(exts, 16);
    size_t ext = open_len(exts, 2);
    size_t list = open_len(exts, 2);
    for (const char *const *p = protocols; *p; p++) {
        put_u8(exts, (unsigned)strlen(*p));
        put_bytes(exts, *p, strlen(*p));
    }
    close_len(exts, list, 2);
    close_len(exts, ext, 2);
}

static void ext_client_versions(GByteArray *exts, const uint16_t *versions, size_t n)
{
    put_be16(exts, 43);
    size_t ext = open_len(exts, 2);
    size_t list = open_len(exts, 1);
    for (size_t i = 0; i < n; i++)
        put_be16(exts, versions[i]);
    close_len(exts, list, 1);
    close_len(exts, ext, 2);
}

#define HELLO_RANDOM_SEED 0x40

/* A ClientHello body.  exts NULL: no extensions block at all.  The offset
 * of the extensions block (where a hello without extensions ends) goes to
 * *ext_at when given. */
static GByteArray *client_hello(unsigned legacy, size_t session_id_len, size_t suites,
                                const GByteArray *exts, size_t *ext_at)
{
    GByteArray *b = g_byte_array_new();
    put_be16(b, legacy);
    put_fill(b, HELLO_RANDOM_SEED, 32);
    put_u8(b, (unsigned)session_id_len);
    put_fill(b, 0x90, session_id_len);
    put_be16(b, (unsigned)(suites * 2));
    for (size_t i = 0; i < suites; i++)
        put_be16(b, 0xc02b + (unsigned)i);
    put_u8(b, 1);
    put_u8(b, 0); /* null compression */
    if (ext_at)
        *ext_at = b->len;
    if (exts) {
        put_be16(b, exts->len);
        put_bytes(b, exts->data, exts->len);
    }
    return b;
}

static tls_parse_status_t parse_client_hello(const GByteArray *b, size_t len, tls_client_hello_t *out)
{
    uint8_t *copy = exact_copy(b->data, len);
    tls_parse_status_t st = tls_client_hello_parse(span_of(copy, len), out);
    g_free(copy);
    return st;
}

static const char *const alpn_h2_http11[] = { "h2", "http/1.1", NULL };

/* The extensions of a modern browser-like hello, with GREASE. */
static GByteArray *full_client_extensions(unsigned *count)
{
    GByteArray *exts = g_byte_array_new();
    static const uint16_t versions[] = { 0x3a3a, 0x0304, 0x0303, 0xfafa };
    static const uint8_t groups[] = { 0x00, 0x04, 0x00, 0x1d, 0x00, 0x17 };
    ext_raw(exts, 0x2a2a, NULL, 0); /* GREASE extension */
    ext_sni(exts, "cucm-pub.example.com", strlen("cucm-pub.example.com"));
    ext_raw(exts, 23, NULL, 0); /* extended_master_secret */
    ext_raw(exts, 10, groups, sizeof(groups));
    ext_alpn(exts, alpn_h2_http11);
    ext_raw(exts, 22, NULL, 0); /* encrypt_then_mac */
    ext_client_versions(exts, versions, G_N_ELEMENTS(versions));
    *count = 7;
    return exts;
}

static void test_client_hello_full(void)
{
    unsigned ext_count;
    GByteArray *exts = full_client_extensions(&ext_count);
    GByteArray *b = client_hello(0x0303, 32, 5, exts, NULL);
    tls_client_hello_t h;
    g_assert_cmpint(parse_client_hello(b, b->len, &h), ==, TLS_PARSE_OK);
    g_assert_cmpuint(h.legacy_version, ==, 0x0303);
    uint8_t random[32];
    for (unsigned i = 0; i < 32; i++)
        random[i] = (uint8_t)(HELLO_RANDOM_SEED + i);
    g_assert_cmpmem(h.random, sizeof(h.random), random, sizeof(random));
    g_assert_cmpuint(h.session_id_len, ==, 32);
    g_assert_cmpuint(h.cipher_suite_count, ==, 5);
    g_assert_true(h.has_sni);
    g_assert_cmpstr(h.sni, ==, "cucm-pub.example.com");
    g_assert_cmpstr(h.alpn, ==, "h2");
    g_assert_cmpuint(h.version_count, ==, 2);
    g_assert_cmpuint(h.versions[0], ==, 0x0304);
    g_assert_cmpuint(h.versions[1], ==, 0x0303);
    g_assert_true(h.offers_extended_master_secret);
    g_assert_true(h.offers_encrypt_then_mac);
    g_assert_cmpuint(h.extension_count, ==, ext_count);
    g_assert_cmpuint(tls_client_hello_max_version(&h), ==, 0x0304);
    g_byte_array_free(b, TRUE);
    g_byte_array_free(exts, TRUE);
}

static void test_client_hello_no_extensions(void)
{
    /* A TLS 1.0 client: the hello ends after the compression methods. */
    GByteArray *b = client_hello(0x0301, 0, 2, NULL, NULL);
    tls_client_hello_t h;
    memset(&h, 0xa5, sizeof(h)); /* the parser must clear what it does not set */
    g_assert_cmpint(parse_client_hello(b, b->len, &h), ==, TLS_PARSE_OK);
    g_assert_cmpuint(h.legacy_version, ==, 0x0301);
    g_assert_cmpuint(h.session_id_len, ==, 0);
    g_assert_cmpuint(h.cipher_suite_count, ==, 2);
    g_assert_false(h.has_sni);
    g_assert_cmpstr(h.sni, ==, "");
    g_assert_cmpstr(h.alpn, ==, "");
    g_assert_cmpuint(h.version_count, ==, 0);
    g_assert_false(h.offers_extended_master_secret);
    g_assert_false(h.offers_encrypt_then_mac);
    g_assert_cmpuint(h.extension_count, ==, 0);
    g_assert_cmpuint(tls_client_hello_max_version(&h), ==, 0x0301);
    g_byte_array_free(b, TRUE);

    /* An empty extensions block is the same as none. */
    GByteArray *exts = g_byte_array_new();
    b = client_hello(0x0302, 16, 1, exts, NULL);
    g_assert_cmpint(parse_client_hello(b, b->len, &h), ==, TLS_PARSE_OK);
    g_assert_cmpuint(h.session_id_len, ==, 16);
    g_assert_cmpuint(h.extension_count, ==, 0);
    g_assert_false(h.has_sni);
    g_byte_array_free(b, TRUE);
    g_byte_array_free(exts, TRUE);
}

typedef struct sni_case {
    const char *name;
    const char *wire;
    size_t wire_len;
    const char *expected;
} sni_case_t;

static const sni_case_t sni_cases[] = {
    { "plain", "phone.example.com", 17, "phone.example.com" },
    { "control byte", "a\x01" "b", 3, "a\\x01b" },
    { "NUL inside", "a\0b", 3, "a\\x00b" },
    { "DEL", "x\x7fy", 3, "x\\x7fy" },
    { "high bytes", "\xc3\xa9t\xff", 4, "\\xc3\\xa9t\\xff" },
    { "newline and quote", "a\nb\"c", 5, "a\\x0ab\"c" },
    { "space and tilde", " ~", 2, " ~" },
    { "empty", "", 0, "" },
};

static void test_client_hello_sni(gconstpointer data)
{
    const sni_case_t *sc = data;
    GByteArray *exts = g_byte_array_new();
    ext_sni(exts, sc->wire, sc->wire_len);
    GByteArray *b = client_hello(0x0303, 0, 1, exts, NULL);
    tls_client_hello_t h;
    g_assert_cmpint(parse_client_hello(b, b->len, &h), ==, TLS_PARSE_OK);
    g_assert_true(h.has_sni);
    g_assert_cmpstr(h.sni, ==, sc->expected);
    for (const char *p = h.sni; *p; p++)
        g_assert_true(*p >= 0x20 && *p < 0x7f);
    g_byte_array_free(b, TRUE);
    g_byte_array_free(exts, TRUE);
}

/* The escaped form must not be confused with the same text sent literally:
 * a host name holding the four characters \x01 and one holding byte 0x01
 * come out different. */
static void test_client_hello_sni_unambiguous(void)
{
    const char *wires[] = { "a\x01", "a\\x01" };
    const size_t lens[] = { 2, 5 };
    char results[2][TLS_SNI_MAX];
    for (size_t i = 0; i < 2; i++) {
        GByteArray *exts = g_byte_array_new();
        ext_sni(exts, wires[i], lens[i]);
        GByteArray *b = client_hello(0x0303, 0, 1, exts, NULL);
        tls_client_hello_t h;
        g_assert_cmpint(parse_client_hello(b, b->len, &h), ==, TLS_PARSE_OK);
        memcpy(results[i], h.sni, sizeof(h.sni));
        g_byte_array_free(b, TRUE);
        g_byte_array_free(exts, TRUE);
    }
    g_assert_cmpstr(results[0], ==, "a\\x01");
    g_assert_cmpstr(results[0], !=, results[1]);
}

static void test_client_hello_sni_long(void)
{
    /* Longer than the field: cut, NUL-terminated, escapes never split. */
    char name[400];
    for (size_t i = 0; i < sizeof(name); i++)
        name[i] = (char)('a' + i % 26);
    GByteArray *exts = g_byte_array_new();
    ext_sni(exts, name, sizeof(name));
    GByteArray *b = client_hello(0x0303, 0, 1, exts, NULL);
    tls_client_hello_t h;
    g_assert_cmpint(parse_client_hello(b, b->len, &h), ==, TLS_PARSE_OK);
    g_assert_cmpuint(strlen(h.sni), ==, TLS_SNI_MAX - 1);
    g_assert_cmpmem(h.sni, TLS_SNI_MAX - 1, name, TLS_SNI_MAX - 1);
    g_byte_array_free(b, TRUE);
    g_byte_array_free(exts, TRUE);

    char binary[300];
    memset(binary, 0x01, sizeof(binary));
    exts = g_byte_array_new();
    ext_sni(exts, binary, sizeof(binary));
    b = client_hello(0x0303, 0, 1, exts, NULL);
    g_assert_cmpint(parse_client_hello(b, b->len, &h), ==, TLS_PARSE_OK);
    size_t len = strlen(h.sni);
    g_assert_cmpuint(len, <, TLS_SNI_MAX);
    g_assert_cmpuint(len % 4, ==, 0);
    g_assert_cmpuint(len, >=, TLS_SNI_MAX - 8);
    for (size_t i = 0; i < len; i += 4)
        g_assert_cmpmem(h.sni + i, 4, "\\x01", 4);
    g_byte_array_free(b, TRUE);
    g_byte_array_free(exts, TRUE);
}

static void test_client_hello_sni_first_host_name(void)
{
    /* A server_name list whose first entry is not a host_name. */
    GByteArray *exts = g_byte_array_new();
    put_be16(exts, 0);
    size_t ext = open_len(exts, 2);
    size_t list = open_len(exts, 2);
    put_u8(exts, 7);
    put_be16(exts, 3);
    put_bytes(exts, "xyz", 3);
    put_u8(exts, 0);
    put_be16(exts, 5);
    put_bytes(exts, "first", 5);
    put_u8(exts, 0);
    put_be16(exts, 6);
    put_bytes(exts, "second", 6);
    close_len(exts, list, 2);
    close_len(exts, ext, 2);
    GByteArray *b = client_hello(0x0303, 0, 1, exts, NULL);
    tls_client_hello_t h;
    g_assert_cmpint(parse_client_hello(b, b->len, &h), ==, TLS_PARSE_OK);
    g_assert_true(h.has_sni);
    g_assert_cmpstr(h.sni, ==, "first");
    g_byte_array_free(b, TRUE);
    g_byte_array_free(exts, TRUE);
}

static void test_client_hello_alpn(void)
{
    static const char *const one[] = { "http/1.1", NULL };
    static const char *const sip[] = { "sip", "h2", NULL };
    const char *const *lists[] = { alpn_h2_http11, one, sip };
    const char *expected[] = { "h2", "http/1.1", "sip" };
    for (size_t i = 0; i < G_N_ELEMENTS(lists); i++) {
        GByteArray *exts = g_byte_array_new();
        ext_alpn(exts, lists[i]);
        GByteArray *b = client_hello(0x0303, 0, 1, exts, NULL);
        tls_client_hello_t h;
        g_assert_cmpint(parse_client_hello(b, b->len, &h), ==, TLS_PARSE_OK);
        g_assert_cmpstr(h.alpn, ==, expected[i]);
        g_assert_cmpuint(h.extension_count, ==, 1);
        g_byte_array_free(b, TRUE);
        g_byte_array_free(exts, TRUE);
    }
}

typedef struct versions_case {
    const char *name;
    uint16_t offered[8];
    size_t offered_count;
    uint16_t kept[8];
    size_t kept_count;
    uint16_t max;
} versions_case_t;

static const versions_case_t versions_cases[] = {
    { "1.3 and 1.2 with GREASE", { 0x0a0a, 0x0304, 0x0303 }, 3, { 0x0304, 0x0303 }, 2, 0x0304 },
    { "GREASE everywhere", { 0xdada, 0x0304, 0x7a7a, 0x0303, 0xaaaa }, 5, { 0x0304, 0x0303 }, 2, 0x0304 },
    { "only GREASE", { 0x1a1a }, 1, { 0 }, 0, 0x0303 },
    { "drafts", { 0x7f17, 0x7f1c, 0x0303 }, 3, { 0x7f17, 0x7f1c, 0x0303 }, 3, 0x7f1c },
    { "draft after 1.3", { 0x0304, 0x7f1c }, 2, { 0x0304, 0x7f1c }, 2, 0x0304 },
    { "1.1 and 1.0", { 0x0302, 0x0301 }, 2, { 0x0302, 0x0301 }, 2, 0x0303 },
};

static void test_client_hello_versions(gconstpointer data)
{
    const versions_case_t *vc = data;
    GByteArray *exts = g_byte_array_new();
    ext_client_versions(exts, vc->offered, vc->offered_count);
    GByteArray *b = client_hello(0x0303, 32, 3, exts, NULL);
    tls_client_hello_t h;
    g_assert_cmpint(parse_client_hello(b, b->len, &h), ==, TLS_PARSE_OK);
    g_assert_cmpuint(h.version_count, ==, vc->kept_count);
    g_assert_cmpmem(h.versions, h.version_count * sizeof(uint16_t), vc->kept,
                    vc->kept_count * sizeof(uint16_t));
    g_assert_cmpuint(tls_client_hello_max_version(&h), ==, vc->max);
    g_byte_array_free(b, TRUE);
    g_byte_array_free(exts, TRUE);
}

static void test_client_hello_many_versions(void)
{
    uint16_t offered[40];
    for (size_t i = 0; i < G_N_ELEMENTS(offered); i++)
        offered[i] = (uint16_t)(0x7f00 + i);
    GByteArray *exts = g_byte_array_new();
    ext_client_versions(exts, offered, G_N_ELEMENTS(offered));
    GByteArray *b = client_hello(0x0303, 0, 1, exts, NULL);
    tls_client_hello_t h;
    g_assert_cmpint(parse_client_hello(b, b->len, &h), ==, TLS_PARSE_OK);
    g_assert_cmpuint(h.version_count, ==, TLS_MAX_VERSIONS);
    g_assert_cmpuint(h.versions[TLS_MAX_VERSIONS - 1], ==, 0x7f00 + TLS_MAX_VERSIONS - 1);
    g_byte_array_free(b, TRUE);
    g_byte_array_free(exts, TRUE);
}

static void test_client_hello_session_id(void)
{
    for (size_t sid = 0; sid <= 40; sid++) {
        GByteArray *b = client_hello(0x0303, sid, 2, NULL, NULL);
        tls_client_hello_t h;
        CASE_BEGIN();
        tls_parse_status_t st = parse_client_hello(b, b->len, &h);
        if (sid <= 32) {
            g_assert_cmpint(st, ==, TLS_PARSE_OK);
            g_assert_cmpuint(h.session_id_len, ==, sid);
        } else {
            g_assert_cmpint(st, ==, TLS_PARSE_INVALID);
        }
        CASE_END("session id of %zu bytes", sid);
        g_byte_array_free(b, TRUE);
    }
    /* The largest a one-byte length can claim. */
    GByteArray *b = client_hello(0x0303, 255, 2, NULL, NULL);
    tls_client_hello_t h;
    g_assert_cmpint(parse_client_hello(b, b->len, &h), ==, TLS_PARSE_INVALID);
    g_byte_array_free(b, TRUE);
}

static void test_client_hello_lying_lengths(void)
{
    tls_client_hello_t h;
    /* An extension that claims more than its block holds. */
    GByteArray *exts = g_byte_array_new();
    ext_raw(exts, 23, NULL, 0);
    put_be16(exts, 0);
    put_be16(exts, 50);
    put_fill(exts, 0, 10);
    GByteArray *b = client_hello(0x0303, 0, 1, exts, NULL);
    g_assert_cmpint(parse_client_hello(b, b->len, &h), ==, TLS_PARSE_INVALID);
    g_byte_array_free(b, TRUE);
    g_byte_array_free(exts, TRUE);

    /* An extensions block that claims more than the message holds. */
    exts = g_byte_array_new();
    ext_raw(exts, 23, NULL, 0);
    size_t ext_at;
    b = client_hello(0x0303, 0, 1, exts, &ext_at);
    b->data[ext_at] = 0x01;
    g_assert_cmpint(parse_client_hello(b, b->len, &h), ==, TLS_PARSE_INVALID);
    g_byte_array_free(b, TRUE);

    /* A cipher suite list that runs past the end. */
    b = client_hello(0x0303, 0, 1, exts, NULL);
    b->data[2 + 32 + 1] = 0x40;
    g_assert_cmpint(parse_client_hello(b, b->len, &h), ==, TLS_PARSE_INVALID);
    g_byte_array_free(b, TRUE);

    /* One lone byte where the extensions block length belongs. */
    b = client_hello(0x0303, 0, 1, NULL, NULL);
    put_u8(b, 0);
    g_assert_cmpint(parse_client_hello(b, b->len, &h), ==, TLS_PARSE_INVALID);
    g_byte_array_free(b, TRUE);
    g_byte_array_free(exts, TRUE);
}

/* Every prefix of a valid message is INVALID, except where a shorter
 * message would be valid too (ok_at, SIZE_MAX when there is none). */
typedef tls_parse_status_t (*body_parser_t)(byte_span_t body);

static void check_truncations(const GByteArray *msg, body_parser_t parse, size_t ok_at)
{
    for (size_t len = 0; len < msg->len; len++) {
        uint8_t *copy = exact_copy(msg->data, len);
        tls_parse_status_t st = parse(span_of(copy, len));
        if (st != (len == ok_at ? TLS_PARSE_OK : TLS_PARSE_INVALID))
            g_test_message("cut at %zu of %u bytes: status %d", len, msg->len, st);
        g_assert_cmpint(st, ==, len == ok_at ? TLS_PARSE_OK : TLS_PARSE_INVALID);
        g_free(copy);
    }
    uint8_t *copy = exact_copy(msg->data, msg->len);
    g_assert_cmpint(parse(span_of(copy, msg->len)), ==, TLS_PARSE_OK);
    g_free(copy);
}

static tls_parse_status_t parse_ch(byte_span_t body)
{
    tls_client_hello_t h;
    return tls_client_hello_parse(body, &h);
}

static void test_client_hello_truncated(void)
{
    unsigned ext_count;
    GByteArray *exts = full_client_extensions(&ext_count);
    size_t ext_at;
    GByteArray *b = client_hello(0x0303, 32, 5, exts, &ext_at);
    /* Cut exactly before the extensions it is a valid extension-less hello. */
    check_truncations(b, parse_ch, ext_at);
    g_byte_array_free(b, TRUE);
    g_byte_array_free(exts, TRUE);
}

/* ------------------------------------------------------------------ */
/* Maximum version                                                     */

typedef struct max_case {
    uint16_t legacy;
    uint16_t versions[4];
    unsigned count;
    uint16_t expected;
} max_case_t;

static const max_case_t max_cases[] = {
    { 0x0303, { 0 }, 0, 0x0303 },
    { 0x0301, { 0 }, 0, 0x0301 },
    { 0x0303, { 0x0304, 0x0303 }, 2, 0x0304 },
    { 0x0303, { 0x0303, 0x0304 }, 2, 0x0304 },
    { 0x0303, { 0x7f17 }, 1, 0x7f17 },
    { 0x0303, { 0x7f17, 0x0304 }, 2, 0x0304 },
    { 0x0303, { 0x0304, 0x7f1c, 0x7f17 }, 3, 0x0304 },
    { 0x0303, { 0x7f12, 0x7f17, 0x7f0e }, 3, 0x7f17 },
    { 0x0303, { 0x7fff }, 1, 0x7fff },
    { 0x0303, { 0x0304, 0x7fff }, 2, 0x0304 },
    { 0x0301, { 0x0302 }, 1, 0x0302 },
    { 0x0303, { 0x0302, 0x0301 }, 2, 0x0303 },
    { 0x7f12, { 0 }, 0, 0x7f12 },
    { 0x7f12, { 0x0304 }, 1, 0x0304 },
};

static void test_client_hello_max_version(void)
{
    for (size_t i = 0; i < G_N_ELEMENTS(max_cases); i++) {
        const max_case_t *mc = &max_cases[i];
        tls_client_hello_t h;
        memset(&h, 0, sizeof(h));
        h.legacy_version = mc->legacy;
        h.version_count = mc->count;
        memcpy(h.versions, mc->versions, mc->count * sizeof(uint16_t));
        CASE_BEGIN();
        g_assert_cmphex(tls_client_hello_max_version(&h), ==, mc->expected);
        CASE_END("max version case %zu", i);
    }
}

/* ------------------------------------------------------------------ */
/* ServerHello                                                         */

static const uint8_t hrr_random[32] = {
    0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
    0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
};

/* A ServerHello body; early_draft leaves out session id and compression. */
static GByteArray *server_hello(unsigned legacy, const uint8_t *random, size_t session_id_len,
                                unsigned suite, bool early_draft, const GByteArray *exts, size_t *ext_at)
{
    GByteArray *b = g_byte_array_new();
    put_be16(b, legacy);
    if (random)
        put_bytes(b, random, 32);
    else
        put_fill(b, 0x60, 32);
    if (!early_draft) {
        put_u8(b, (unsigned)session_id_len);
        put_fill(b, 0xa0, session_id_len);
    }
    put_be16(b, suite);
    if (!early_draft)
        put_u8(b, 0);
    if (ext_at)
        *ext_at = b->len;
    if (exts) {
        put_be16(b, exts->len);
        put_bytes(b, exts->data, exts->len);
    }
    return b;
}

static tls_parse_status_t parse_server_hello(const GByteArray *b, size_t len, tls_server_hello_t *out)
{
    uint8_t *copy = exact_copy(b->data, len);
    tls_parse_status_t st = tls_server_hello_parse(span_of(copy, len), out);
    g_free(copy);
    return st;
}

static void ext_server_version(GByteArray *exts, unsigned version)
{
    put_be16(exts, 43);
    put_be16(exts, 2);
    put_be16(exts, version);
}

static void test_server_hello_tls12(void)
{
    static const char *const h2[] = { "h2", NULL };
    GByteArray *exts = g_byte_array_new();
    ext_raw(exts, 0xff01, "\0", 1); /* renegotiation_info */
    ext_raw(exts, 23, NULL, 0);
    ext_raw(exts, 22, NULL, 0);
    ext_alpn(exts, h2);
    GByteArray *b = server_hello(0x0303, NULL, 32, 0xc02f, false, exts, NULL);
    tls_server_hello_t s;
    g_assert_cmpint(parse_server_hello(b, b->len, &s), ==, TLS_PARSE_OK);
    g_assert_cmphex(s.legacy_version, ==, 0x0303);
    g_assert_cmphex(s.selected_version, ==, 0x0303);
    g_assert_cmphex(s.cipher_suite, ==, 0xc02f);
    g_assert_cmpuint(s.compression, ==, 0);
    g_assert_false(s.is_hello_retry_request);
    g_assert_true(s.extended_master_secret);
    g_assert_true(s.encrypt_then_mac);
    g_assert_cmpstr(s.alpn, ==, "h2");
    uint8_t random[32];
    for (unsigned i = 0; i < 32; i++)
        random[i] = (uint8_t)(0x60 + i);
    g_assert_cmpmem(s.random, 32, random, 32);
    g_byte_array_free(b, TRUE);
    g_byte_array_free(exts, TRUE);
}

static void test_server_hello_no_extensions(void)
{
    GByteArray *b = server_hello(0x0301, NULL, 0, 0x002f, false, NULL, NULL);
    tls_server_hello_t s;
    memset(&s, 0x5a, sizeof(s));
    g_assert_cmpint(parse_server_hello(b, b->len, &s), ==, TLS_PARSE_OK);
    g_assert_cmphex(s.selected_version, ==, 0x0301);
    g_assert_cmphex(s.cipher_suite, ==, 0x002f);
    g_assert_false(s.extended_master_secret);
    g_assert_false(s.encrypt_then_mac);
    g_assert_false(s.is_hello_retry_request);
    g_assert_cmpstr(s.alpn, ==, "");
    g_byte_array_free(b, TRUE);
}

typedef struct selected_case {
    const char *name;
    uint16_t legacy;
    int extension_version; /* -1: no supported_versions extension */
    uint16_t expected;
} selected_case_t;

static const selected_case_t selected_cases[] = {
    { "1.3", 0x0303, 0x0304, 0x0304 },
    { "draft 23", 0x0303, 0x7f17, 0x7f17 },
    { "draft 28", 0x0303, 0x7f1c, 0x7f1c },
    { "1.2 without extension", 0x0303, -1, 0x0303 },
    { "1.1 without extension", 0x0302, -1, 0x0302 },
};

static void test_server_hello_selected_version(gconstpointer data)
{
    const selected_case_t *sc = data;
    GByteArray *exts = g_byte_array_new();
    ext_raw(exts, 51, "\x00\x1d\x00\x01\x42", 5); /* key_share */
    if (sc->extension_version >= 0)
        ext_server_version(exts, (unsigned)sc->extension_version);
    GByteArray *b = server_hello(sc->legacy, NULL, 32, 0x1301, false, exts, NULL);
    tls_server_hello_t s;
    g_assert_cmpint(parse_server_hello(b, b->len, &s), ==, TLS_PARSE_OK);
    g_assert_cmphex(s.legacy_version, ==, sc->legacy);
    g_assert_cmphex(s.selected_version, ==, sc->expected);
    g_byte_array_free(b, TRUE);
    g_byte_array_free(exts, TRUE);
}

static void test_server_hello_retry_request(void)
{
    GByteArray *exts = g_byte_array_new();
    ext_server_version(exts, 0x0304);
    ext_raw(exts, 51, "\x00\x17", 2);
    GByteArray *b = server_hello(0x0303, hrr_random, 32, 0x1301, false, exts, NULL);
    tls_server_hello_t s;
    g_assert_cmpint(parse_server_hello(b, b->len, &s), ==, TLS_PARSE_OK);
    g_assert_true(s.is_hello_retry_request);
    g_assert_cmphex(s.selected_version, ==, 0x0304);
    g_byte_array_free(b, TRUE);

    /* One bit away from the special random is an ordinary hello. */
    uint8_t almost[32];
    memcpy(almost, hrr_random, 32);
    almost[31] ^= 0x01;
    b = server_hello(0x0303, almost, 32, 0x1301, false, exts, NULL);
    g_assert_cmpint(parse_server_hello(b, b->len, &s), ==, TLS_PARSE_OK);
    g_assert_false(s.is_hello_retry_request);
    g_byte_array_free(b, TRUE);
    g_byte_array_free(exts, TRUE);
}

static void test_server_hello_early_draft(void)
{
    /* Draft 16 to 21: version, random, cipher suite, extensions. */
    static const uint16_t drafts[] = { 0x7f10, 0x7f12, 0x7f15 };
    for (size_t i = 0; i < G_N_ELEMENTS(drafts); i++) {
        GByteArray *exts = g_byte_array_new();
        ext_raw(exts, 40, "\x00\x17\x00\x01\x42", 5); /* draft key_share */
        size_t ext_at;
        GByteArray *b = server_hello(drafts[i], NULL, 0, 0x1302, true, exts, &ext_at);
        g_assert_cmpuint(ext_at, ==, 2 + 32 + 2);
        tls_server_hello_t s;
        CASE_BEGIN();
        g_assert_cmpint(parse_server_hello(b, b->len, &s), ==, TLS_PARSE_OK);
        g_assert_cmphex(s.legacy_version, ==, drafts[i]);
        g_assert_cmphex(s.selected_version, ==, drafts[i]);
        g_assert_cmphex(s.cipher_suite, ==, 0x1302);
        CASE_END("draft 0x%04x", drafts[i]);
        g_byte_array_free(b, TRUE);
        g_byte_array_free(exts, TRUE);
    }
    /* Draft 22 and later put session id and compression back. */
    GByteArray *exts = g_byte_array_new();
    ext_server_version(exts, 0x7f16);
    GByteArray *b = server_hello(0x7f16, NULL, 32, 0x1303, false, exts, NULL);
    tls_server_hello_t s;
    g_assert_cmpint(parse_server_hello(b, b->len, &s), ==, TLS_PARSE_OK);
    g_assert_cmphex(s.cipher_suite, ==, 0x1303);
    g_assert_cmphex(s.selected_version, ==, 0x7f16);
    g_byte_array_free(b, TRUE);
    g_byte_array_free(exts, TRUE);
}

static void test_server_hello_session_id(void)
{
    for (size_t sid = 30; sid <= 34; sid++) {
        GByteArray *b = server_hello(0x0303, NULL, sid, 0xc030, false, NULL, NULL);
        tls_server_hello_t s;
        CASE_BEGIN();
        g_assert_cmpint(parse_server_hello(b, b->len, &s), ==, sid <= 32 ? TLS_PARSE_OK : TLS_PARSE_INVALID);
        CASE_END("session id of %zu bytes", sid);
        g_byte_array_free(b, TRUE);
    }
}

static tls_parse_status_t parse_sh(byte_span_t body)
{
    tls_server_hello_t s;
    return tls_server_hello_parse(body, &s);
}

static void test_server_hello_truncated(void)
{
    GByteArray *exts = g_byte_array_new();
    ext_server_version(exts, 0x0304);
    ext_raw(exts, 51, "\x00\x1d\x00\x04\x01\x02\x03\x04", 8);
    size_t ext_at;
    GByteArray *b = server_hello(0x0303, NULL, 32, 0x1301, false, exts, &ext_at);
    check_truncations(b, parse_sh, ext_at);
    g_byte_array_free(b, TRUE);

    b = server_hello(0x7f12, NULL, 0, 0x1301, true, exts, &ext_at);
    check_truncations(b, parse_sh, ext_at);
    g_byte_array_free(b, TRUE);
    g_byte_array_free(exts, TRUE);
}

/* ------------------------------------------------------------------ */
/* Certificate                                                         */

/* A Certificate body with n entries; entry i holds 10 + i bytes of value
 * 0xc0 + i.  TLS 1.3: a request context and per-entry extensions (entry i
 * gets i % 3 bytes of extensions). */
static GByteArray *certificate_message(unsigned n, bool tls13, size_t context_len)
{
    GByteArray *b = g_byte_array_new();
    if (tls13) {
        put_u8(b, (unsigned)context_len);
        put_fill(b, 0x11, context_len);
    }
    size_t list = open_len(b, 3);
    for (unsigned i = 0; i < n; i++) {
        put_be24(b, 10 + i);
        for (unsigned k = 0; k < 10 + i; k++)
            put_u8(b, 0xc0 + i);
        if (tls13) {
            size_t ext_len = i % 3;
            put_be16(b, (unsigned)ext_len);
            put_fill(b, 0xee, ext_len);
        }
    }
    close_len(b, list, 3);
    return b;
}

static tls_parse_status_t parse_certificate(const GByteArray *b, size_t len, bool tls13,
                                            tls_certificate_list_t *out, uint8_t **copy)
{
    *copy = exact_copy(b->data, len);
    return tls_certificate_parse(span_of(*copy, len), tls13, out);
}

static void check_cert_entries(const tls_certificate_list_t *list, unsigned expected_kept)
{
    g_assert_cmpuint(list->kept, ==, expected_kept);
    for (unsigned i = 0; i < list->kept; i++) {
        g_assert_cmpuint(list->der[i].len, ==, 10 + i);
        for (size_t k = 0; k < list->der[i].len; k++)
            g_assert_cmpuint(list->der[i].ptr[k], ==, 0xc0 + i);
    }
}

typedef struct cert_case {
    const char *name;
    unsigned count;
    bool tls13;
    size_t context_len;
} cert_case_t;

static const cert_case_t cert_cases[] = {
    { "1.2 one", 1, false, 0 },
    { "1.2 chain of three", 3, false, 0 },
    { "1.2 empty", 0, false, 0 },
    { "1.2 sixteen", TLS_MAX_CERTS, false, 0 },
    { "1.2 twenty", 20, false, 0 },
    { "1.3 chain of three", 3, true, 0 },
    { "1.3 with request context", 2, true, 8 },
    { "1.3 empty", 0, true, 0 },
    { "1.3 empty with context", 0, true, 4 },
    { "1.3 twenty", 20, true, 0 },
};

static void test_certificate(gconstpointer data)
{
    const cert_case_t *cc = data;
    GByteArray *b = certificate_message(cc->count, cc->tls13, cc->context_len);
    tls_certificate_list_t list;
    uint8_t *copy;
    g_assert_cmpint(parse_certificate(b, b->len, cc->tls13, &list, &copy), ==, TLS_PARSE_OK);
    g_assert_cmpuint(list.count, ==, cc->count);
    check_cert_entries(&list, MIN(cc->count, TLS_MAX_CERTS));
    /* The spans point into the message, not into a copy. */
    for (unsigned i = 0; i < list.kept; i++)
        g_assert_true(list.der[i].ptr >= copy && list.der[i].ptr + list.der[i].len <= copy + b->len);
    g_free(copy);
    g_byte_array_free(b, TRUE);
}

static tls_parse_status_t parse_cert12(byte_span_t body)
{
    tls_certificate_list_t l;
    return tls_certificate_parse(body, false, &l);
}

static tls_parse_status_t parse_cert13(byte_span_t body)
{
    tls_certificate_list_t l;
    return tls_certificate_parse(body, true, &l);
}

static void test_certificate_truncated(void)
{
    GByteArray *b = certificate_message(3, false, 0);
    check_truncations(b, parse_cert12, SIZE_MAX);
    g_byte_array_free(b, TRUE);
    b = certificate_message(3, true, 4);
    check_truncations(b, parse_cert13, SIZE_MAX);
    g_byte_array_free(b, TRUE);
}

typedef struct cert_lie {
    const char *name;
    bool tls13;
    size_t offset; /* where to write */
    unsigned width;
    unsigned value;
    unsigned extra; /* bytes appended after the message */
} cert_lie_t;

/* certificate_message(2, tls13, 0): 1.2 layout: list length at 0, entry 0
 * length at 3 (10 bytes), entry 1 length at 16 (11 bytes), end at 30.
 * 1.3 layout: context length at 0, list length at 1, entry 0 length at 4,
 * its extensions length at 17, entry 1 length at 19, its extensions length
 * at 33 (1 byte of extensions), end at 36. */
static const cert_lie_t cert_lies[] = {
    { "1.2 list longer than message", false, 0, 3, 28, 0 },
    { "1.2 list length huge", false, 0, 3, 0xffffff, 0 },
    { "1.2 list shorter, cuts an entry", false, 0, 3, 20, 0 },
    { "1.2 list shorter than message", false, 0, 3, 13, 0 },
    { "1.2 entry longer than list", false, 16, 3, 12, 0 },
    { "1.2 entry length huge", false, 3, 3, 0xffffff, 0 },
    { "1.2 entry shorter, leaves stray bytes", false, 16, 3, 9, 0 },
    { "1.3 context longer than message", true, 0, 1, 200, 0 },
    { "1.3 list longer than message", true, 1, 3, 34, 0 },
    { "1.3 entry longer than list", true, 19, 3, 13, 0 },
    { "1.3 extensions longer than list", true, 33, 2, 2, 0 },
    { "1.3 extensions length huge", true, 17, 2, 0xffff, 0 },
    { "1.3 message read as 1.2", true, SIZE_MAX, 0, 0, 0 },
};

static void test_certificate_lies(gconstpointer data)
{
    const cert_lie_t *lie = data;
    GByteArray *b = certificate_message(2, lie->tls13, 0);
    g_assert_cmpuint(b->len, ==, lie->tls13 ? 36 : 30);
    bool parse_as_13 = lie->tls13;
    if (lie->offset == SIZE_MAX) {
        parse_as_13 = false;
    } else {
        for (unsigned i = 0; i < lie->width; i++)
            b->data[lie->offset + i] = (guint8)(lie->value >> (8 * (lie->width - 1 - i)));
    }
    put_fill(b, 0x77, lie->extra);
    tls_certificate_list_t list;
    uint8_t *copy;
    g_assert_cmpint(parse_certificate(b, b->len, parse_as_13, &list, &copy), ==, TLS_PARSE_INVALID);
    g_free(copy);
    g_byte_array_free(b, TRUE);
}

static void test_certificate_empty_body(void)
{
    tls_certificate_list_t list;
    g_assert_cmpint(tls_certificate_parse(span_of(NULL, 0), false, &list), ==, TLS_PARSE_INVALID);
    g_assert_cmpint(tls_certificate_parse(span_of(NULL, 0), true, &list), ==, TLS_PARSE_INVALID);
}

/* ------------------------------------------------------------------ */
/* CertificateRequest                                                  */

/* A fake DER name i: 0x30 len, then bytes. */
static void put_dn(GByteArray *b, unsigned i)
{
    size_t len = 4 + i % 5;
    put_be16(b, (unsigned)len);
    put_u8(b, 0x30);
    put_u8(b, (unsigned)len - 2);
    for (size_t k = 2; k < len; k++)
        put_u8(b, 0x40 + i);
}

static void put_dn_list(GByteArray *b, unsigned names)
{
    size_t list = open_len(b, 2);
    for (unsigned i = 0; i < names; i++)
        put_dn(b, i);
    close_len(b, list, 2);
}

static GByteArray *certificate_request(uint16_t version, unsigned names)
{
    GByteArray *b = g_byte_array_new();
    if (version == TLS_VERSION_1_3 || (version >> 8) == 0x7f) {
        put_u8(b, 0); /* context */
        size_t exts = open_len(b, 2);
        put_be16(b, 13); /* signature_algorithms */
        put_be16(b, 6);
        put_be16(b, 4);
        put_be16(b, 0x0403);
        put_be16(b, 0x0804);
        put_be16(b, 47);
        size_t ext = open_len(b, 2);
        put_dn_list(b, names);
        close_len(b, ext, 2);
        close_len(b, exts, 2);
        return b;
    }
    put_u8(b, 2); /* certificate types: rsa_sign, ecdsa_sign */
    put_u8(b, 1);
    put_u8(b, 64);
    if (version >= TLS_VERSION_1_2) {
        put_be16(b, 6);
        put_be16(b, 0x0401);
        put_be16(b, 0x0403);
        put_be16(b, 0x0804);
    }
    put_dn_list(b, names);
    return b;
}

static void check_ca_names(const tls_certificate_request_t *req, unsigned count)
{
    g_assert_cmpuint(req->ca_name_count, ==, count);
    g_assert_cmpuint(req->ca_names_kept, ==, MIN(count, TLS_MAX_CA_NAMES));
    for (unsigned i = 0; i < req->ca_names_kept; i++) {
        size_t len = 4 + i % 5;
        g_assert_cmpuint(req->ca_names[i].len, ==, len);
        g_assert_cmpuint(req->ca_names[i].ptr[0], ==, 0x30);
        g_assert_cmpuint(req->ca_names[i].ptr[1], ==, len - 2);
        g_assert_cmpuint(req->ca_names[i].ptr[len - 1], ==, 0x40 + i);
    }
}

typedef struct cr_case {
    const char *name;
    uint16_t version;
    unsigned names;
} cr_case_t;

static const cr_case_t cr_cases[] = {
    { "SSLv3", 0x0300, 2 },
    { "1.0", 0x0301, 2 },
    { "1.1", 0x0302, 3 },
    { "1.2", 0x0303, 2 },
    { "1.2 no names", 0x0303, 0 },
    { "1.2 sixteen names", 0x0303, TLS_MAX_CA_NAMES },
    { "1.2 twenty names", 0x0303, 20 },
    { "1.0 twenty names", 0x0301, 20 },
    { "1.3", 0x0304, 2 },
    { "1.3 empty authorities", 0x0304, 0 },
    { "1.3 twenty names", 0x0304, 20 },
    { "draft 23", 0x7f17, 3 },
};

static void test_certificate_request(gconstpointer data)
{
    const cr_case_t *cc = data;
    GByteArray *b = certificate_request(cc->version, cc->names);
    uint8_t *copy = exact_copy(b->data, b->len);
    tls_certificate_request_t req;
    g_assert_cmpint(tls_certificate_request_parse(span_of(copy, b->len), cc->version, &req), ==,
                    TLS_PARSE_OK);
    check_ca_names(&req, cc->names);
    g_free(copy);
    g_byte_array_free(b, TRUE);
}

static void test_certificate_request_13_without_authorities(void)
{
    GByteArray *b = g_byte_array_new();
    put_u8(b, 0);
    size_t exts = open_len(b, 2);
    put_be16(b, 13);
    put_be16(b, 4);
    put_be16(b, 2);
    put_be16(b, 0x0403);
    close_len(b, exts, 2);
    uint8_t *copy = exact_copy(b->data, b->len);
    tls_certificate_request_t req;
    memset(&req, 0x33, sizeof(req));
    g_assert_cmpint(tls_certificate_request_parse(span_of(copy, b->len), TLS_VERSION_1_3, &req), ==,
                    TLS_PARSE_OK);
    g_assert_cmpuint(req.ca_name_count, ==, 0);
    g_assert_cmpuint(req.ca_names_kept, ==, 0);
    g_free(copy);
    g_byte_array_free(b, TRUE);
}

static tls_parse_status_t parse_cr10(byte_span_t body)
{
    tls_certificate_request_t r;
    return tls_certificate_request_parse(body, TLS_VERSION_1_0, &r);
}

static tls_parse_status_t parse_cr12(byte_span_t body)
{
    tls_certificate_request_t r;
    return tls_certificate_request_parse(body, TLS_VERSION_1_2, &r);
}

static tls_parse_status_t parse_cr13(byte_span_t body)
{
    tls_certificate_request_t r;
    return tls_certificate_request_parse(body, TLS_VERSION_1_3, &r);
}

static void test_certificate_request_truncated(void)
{
    GByteArray *b = certificate_request(TLS_VERSION_1_0, 3);
    check_truncations(b, parse_cr10, SIZE_MAX);
    g_byte_array_free(b, TRUE);
    b = certificate_request(TLS_VERSION_1_2, 3);
    check_truncations(b, parse_cr12, SIZE_MAX);
    g_byte_array_free(b, TRUE);
    b = certificate_request(TLS_VERSION_1_3, 3);
    check_truncations(b, parse_cr13, SIZE_MAX);
    g_byte_array_free(b, TRUE);
}

/* A CA name whose own length runs past the names list: the list length is
 * right, the name inside it lies. */
static void test_certificate_request_name_lies(gconstpointer data)
{
    uint16_t version = (uint16_t)GPOINTER_TO_UINT(data);
    GByteArray *b = certificate_request(version, 2);
    /* The last name is 2 + 5 bytes long (put_dn(1)); its length field is
     * 7 bytes before the end of the list; in 1.3 the list is last too. */
    size_t at = b->len - 7;
    g_assert_cmpuint(b->data[at], ==, 0);
    g_assert_cmpuint(b->data[at + 1], ==, 5);
    b->data[at + 1] = 40; /* claims 40 bytes where 5 are left */
    uint8_t *copy = exact_copy(b->data, b->len);
    tls_certificate_request_t req;
    g_assert_cmpint(tls_certificate_request_parse(span_of(copy, b->len), version, &req), ==,
                    TLS_PARSE_INVALID);
    g_free(copy);
    g_byte_array_free(b, TRUE);
}

static void check_cr_invalid(GByteArray *b, uint16_t version)
{
    uint8_t *copy = exact_copy(b->data, b->len);
    tls_certificate_request_t req;
    g_assert_cmpint(tls_certificate_request_parse(span_of(copy, b->len), version, &req), ==,
                    TLS_PARSE_INVALID);
    g_free(copy);
}

/* 1.2: the names list claims more than the message holds. */
static void test_certificate_request_names_list_long(void)
{
    GByteArray *b = certificate_request(TLS_VERSION_1_2, 2);
    size_t list_at = 1 + 2 + 2 + 6;
    g_assert_cmpuint(b->data[list_at + 1], ==, b->len - list_at - 2);
    b->data[list_at + 1] += 1;
    check_cr_invalid(b, TLS_VERSION_1_2);
    g_byte_array_free(b, TRUE);
}

/* 1.3: the extensions block claims more than the message holds. */
static void test_certificate_request_extensions_long(void)
{
    GByteArray *b = certificate_request(TLS_VERSION_1_3, 2);
    b->data[2] += 1;
    check_cr_invalid(b, TLS_VERSION_1_3);
    g_byte_array_free(b, TRUE);
}

/* A 1.2 message read with the 1.0 layout: the signature algorithms are
 * taken for the names list, and the first "name" in it claims 0x0401 bytes. */
static void test_certificate_request_12_read_as_10(void)
{
    GByteArray *b = certificate_request(TLS_VERSION_1_2, 2);
    check_cr_invalid(b, TLS_VERSION_1_0);
    g_byte_array_free(b, TRUE);
}

/* ------------------------------------------------------------------ */
/* Alerts and names                                                    */

typedef struct alert_case {
    uint8_t bytes[3];
    size_t len;
    tls_parse_status_t expected;
    uint8_t level;
    uint8_t description;
} alert_case_t;

static const alert_case_t alert_cases[] = {
    { { 0 }, 0, TLS_PARSE_NEED_MORE, 0, 0 },
    { { 2 }, 1, TLS_PARSE_NEED_MORE, 0, 0 },
    { { 2, 48 }, 2, TLS_PARSE_OK, 2, 48 },
    { { 1, 0 }, 2, TLS_PARSE_OK, 1, 0 },
    { { 2, 42, 0x99 }, 3, TLS_PARSE_OK, 2, 42 },
    { { 2, 200 }, 2, TLS_PARSE_OK, 2, 200 },
    { { 0, 48 }, 2, TLS_PARSE_INVALID, 0, 0 },
    { { 3, 48 }, 2, TLS_PARSE_INVALID, 0, 0 },
    { { 0xff, 0xff }, 2, TLS_PARSE_INVALID, 0, 0 },
};

static void test_alert_parse(void)
{
    for (size_t i = 0; i < G_N_ELEMENTS(alert_cases); i++) {
        const alert_case_t *ac = &alert_cases[i];
        uint8_t *copy = exact_copy(ac->bytes, ac->len);
        cursor_t c = cur_make(ac->len ? copy : NULL, ac->len);
        tls_alert_t alert;
        memset(&alert, 0, sizeof(alert));
        CASE_BEGIN();
        tls_parse_status_t st = tls_alert_parse(&c, &alert);
        g_assert_cmpint(st, ==, ac->expected);
        if (st == TLS_PARSE_OK) {
            g_assert_cmpuint(alert.level, ==, ac->level);
            g_assert_cmpuint(alert.description, ==, ac->description);
            g_assert_cmpuint(cur_offset(&c), ==, 2);
        }
        if (st == TLS_PARSE_NEED_MORE)
            g_assert_cmpuint(cur_offset(&c), ==, 0);
        CASE_END("alert case %zu", i);
        g_free(copy);
    }
}

typedef struct name_case {
    unsigned code;
    const char *name;
} name_case_t;

static const name_case_t alert_names[] = {
    { 0, "close_notify" },
    { 10, "unexpected_message" },
    { 20, "bad_record_mac" },
    { 40, "handshake_failure" },
    { 42, "bad_certificate" },
    { 43, "unsupported_certificate" },
    { 44, "certificate_revoked" },
    { 45, "certificate_expired" },
    { 46, "certificate_unknown" },
    { 47, "illegal_parameter" },
    { 48, "unknown_ca" },
    { 49, "access_denied" },
    { 50, "decode_error" },
    { 51, "decrypt_error" },
    { 70, "protocol_version" },
    { 71, "insufficient_security" },
    { 80, "internal_error" },
    { 86, "inappropriate_fallback" },
    { 90, "user_canceled" },
    { 109, "missing_extension" },
    { 112, "unrecognized_name" },
    { 116, "certificate_required" },
    { 120, "no_application_protocol" },
    { 1, "unknown" },
    { 241, "unknown" },
    { 99, "unknown" },
    { 255, "unknown" },
};

static void test_alert_names(void)
{
    for (size_t i = 0; i < G_N_ELEMENTS(alert_names); i++)
        g_assert_cmpstr(tls_alert_description_name((uint8_t)alert_names[i].code), ==, alert_names[i].name);
    /* Never NULL, whatever the code. */
    for (unsigned code = 0; code < 256; code++)
        g_assert_nonnull(tls_alert_description_name((uint8_t)code));
    g_assert_cmpstr(tls_alert_level_name(1), ==, "warning");
    g_assert_cmpstr(tls_alert_level_name(2), ==, "fatal");
    g_assert_cmpstr(tls_alert_level_name(0), ==, "unknown");
    g_assert_cmpstr(tls_alert_level_name(3), ==, "unknown");
}

static const name_case_t handshake_names[] = {
    { 1, "client_hello" },       { 2, "server_hello" },         { 4, "new_session_ticket" },
    { 8, "encrypted_extensions" }, { 11, "certificate" },       { 12, "server_key_exchange" },
    { 13, "certificate_request" }, { 14, "server_hello_done" }, { 15, "certificate_verify" },
    { 16, "client_key_exchange" }, { 20, "finished" },          { 3, "unknown" },
    { 255, "unknown" },
};

static void test_handshake_names(void)
{
    for (size_t i = 0; i < G_N_ELEMENTS(handshake_names); i++)
        g_assert_cmpstr(tls_handshake_type_name((uint8_t)handshake_names[i].code), ==,
                        handshake_names[i].name);
}

static const name_case_t version_names[] = {
    { 0x0300, "SSLv3" },
    { 0x0301, "TLSv1" },
    { 0x0302, "TLSv1.1" },
    { 0x0303, "TLSv1.2" },
    { 0x0304, "TLSv1.3" },
    { 0x7f17, "TLSv1.3 (draft 23)" },
    { 0x7f12, "TLSv1.3 (draft 18)" },
    { 0x7f1c, "TLSv1.3 (draft 28)" },
    { 0x0200, "0x0200" },
    { 0xfefd, "0xfefd" },
    { 0x0305, "0x0305" },
};

static void test_version_format(void)
{
    for (size_t i = 0; i < G_N_ELEMENTS(version_names); i++) {
        char out[64];
        memset(out, 'X', sizeof(out));
        tls_version_format((uint16_t)version_names[i].code, out, sizeof(out));
        g_assert_cmpstr(out, ==, version_names[i].name);
    }
    /* A short buffer is cut and still terminated. */
    char small[5];
    memset(small, 'X', sizeof(small));
    tls_version_format(0x0303, small, sizeof(small));
    g_assert_cmpstr(small, ==, "TLSv");
}

static void test_grease(void)
{
    static const uint16_t grease[] = { 0x0a0a, 0x1a1a, 0x2a2a, 0x3a3a, 0x4a4a, 0x5a5a, 0x6a6a, 0x7a7a,
                                       0x8a8a, 0x9a9a, 0xaaaa, 0xbaba, 0xcaca, 0xdada, 0xeaea, 0xfafa };
    unsigned found = 0;
    for (unsigned v = 0; v <= 0xffff; v++) {
        bool expected = false;
        for (size_t i = 0; i < G_N_ELEMENTS(grease); i++)
            expected = expected || grease[i] == v;
        if (tls_is_grease((uint16_t)v) != expected)
            g_test_message("0x%04x", v);
        g_assert_cmpint(tls_is_grease((uint16_t)v), ==, expected);
        found += expected;
    }
    g_assert_cmpuint(found, ==, 16);
}

/* ------------------------------------------------------------------ */
/* Bytes after the end a message's own lengths give                     */

static GByteArray *build_client_hello(void)
{
    GByteArray *exts = g_byte_array_new();
    ext_raw(exts, 23, NULL, 0);
    ext_sni(exts, "host", 4);
    GByteArray *b = client_hello(0x0303, 32, 2, exts, NULL);
    g_byte_array_free(exts, TRUE);
    return b;
}

static GByteArray *build_server_hello(void)
{
    GByteArray *exts = g_byte_array_new();
    ext_raw(exts, 23, NULL, 0);
    GByteArray *b = server_hello(0x0303, NULL, 32, 0xc02f, false, exts, NULL);
    g_byte_array_free(exts, TRUE);
    return b;
}

static GByteArray *build_cert12(void)
{
    return certificate_message(2, false, 0);
}

static GByteArray *build_cert13(void)
{
    return certificate_message(2, true, 0);
}

static GByteArray *build_cr12(void)
{
    return certificate_request(TLS_VERSION_1_2, 2);
}

static GByteArray *build_cr13(void)
{
    return certificate_request(TLS_VERSION_1_3, 2);
}

typedef struct trailing_case {
    const char *name;
    GByteArray *(*build)(void);
    body_parser_t parse;
} trailing_case_t;

static const trailing_case_t trailing_cases[] = {
    { "client-hello", build_client_hello, parse_ch },
    { "server-hello", build_server_hello, parse_sh },
    { "certificate-1.2", build_cert12, parse_cert12 },
    { "certificate-1.3", build_cert13, parse_cert13 },
    { "certificate-request-1.2", build_cr12, parse_cr12 },
    { "certificate-request-1.3", build_cr13, parse_cr13 },
};

/* The handshake header gives the body's length; a body that goes on after
 * its last field is not what the protocol allows (OpenSSL and Wireshark
 * both reject it). */
static void test_trailing_bytes(gconstpointer data)
{
    const trailing_case_t *tc = data;
    GByteArray *b = tc->build();
    uint8_t *copy = exact_copy(b->data, b->len);
    g_assert_cmpint(tc->parse(span_of(copy, b->len)), ==, TLS_PARSE_OK);
    g_free(copy);
    put_u8(b, 0);
    put_u8(b, 0);
    copy = exact_copy(b->data, b->len);
    g_assert_cmpint(tc->parse(span_of(copy, b->len)), ==, TLS_PARSE_INVALID);
    g_free(copy);
    g_byte_array_free(b, TRUE);
}

/* ------------------------------------------------------------------ */

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    /* A failed check marks its test failed and the run goes on, so one run
     * reports every failing case. */
    g_test_set_nonfatal_assertions();

    g_test_add_func("/tls/record-header/content-types", test_record_header_content_types);
    g_test_add_func("/tls/record-header/versions", test_record_header_versions);
    g_test_add_func("/tls/record-header/zero-length", test_record_header_zero_length);
    g_test_add_func("/tls/record-header/lengths", test_record_header_lengths);
    for (size_t i = 0; i < G_N_ELEMENTS(short_headers); i++) {
        char *path = g_strdup_printf("/tls/record-header/short/%s", short_headers[i].name);
        g_test_add_data_func(path, &short_headers[i], test_record_header_short);
        g_free(path);
    }
    for (size_t i = 0; i < G_N_ELEMENTS(start_cases); i++) {
        char *path = g_strdup_printf("/tls/stream-start/%s", start_cases[i].name);
        g_test_add_data_func(path, &start_cases[i], test_stream_start);
        g_free(path);
    }
    g_test_add_func("/tls/record-chain", test_record_chain);
    g_test_add_func("/tls/handshake-header", test_handshake_header);

    g_test_add_func("/tls/client-hello/full", test_client_hello_full);
    g_test_add_func("/tls/client-hello/no-extensions", test_client_hello_no_extensions);
    for (size_t i = 0; i < G_N_ELEMENTS(sni_cases); i++) {
        char *path = g_strdup_printf("/tls/client-hello/sni/%s", sni_cases[i].name);
        g_test_add_data_func(path, &sni_cases[i], test_client_hello_sni);
        g_free(path);
    }
    g_test_add_func("/tls/client-hello/sni-long", test_client_hello_sni_long);
    g_test_add_func("/tls/client-hello/sni-unambiguous", test_client_hello_sni_unambiguous);
    g_test_add_func("/tls/client-hello/sni-first-host-name", test_client_hello_sni_first_host_name);
    g_test_add_func("/tls/client-hello/alpn", test_client_hello_alpn);
    for (size_t i = 0; i < G_N_ELEMENTS(versions_cases); i++) {
        char *path = g_strdup_printf("/tls/client-hello/supported-versions/%s", versions_cases[i].name);
        g_test_add_data_func(path, &versions_cases[i], test_client_hello_versions);
        g_free(path);
    }
    g_test_add_func("/tls/client-hello/many-versions", test_client_hello_many_versions);
    g_test_add_func("/tls/client-hello/session-id", test_client_hello_session_id);
    g_test_add_func("/tls/client-hello/lying-lengths", test_client_hello_lying_lengths);
    g_test_add_func("/tls/client-hello/truncated", test_client_hello_truncated);
    g_test_add_func("/tls/client-hello/max-version", test_client_hello_max_version);

    g_test_add_func("/tls/server-hello/tls12", test_server_hello_tls12);
    g_test_add_func("/tls/server-hello/no-extensions", test_server_hello_no_extensions);
    for (size_t i = 0; i < G_N_ELEMENTS(selected_cases); i++) {
        char *path = g_strdup_printf("/tls/server-hello/selected-version/%s", selected_cases[i].name);
        g_test_add_data_func(path, &selected_cases[i], test_server_hello_selected_version);
        g_free(path);
    }
    g_test_add_func("/tls/server-hello/hello-retry-request", test_server_hello_retry_request);
    g_test_add_func("/tls/server-hello/early-draft", test_server_hello_early_draft);
    g_test_add_func("/tls/server-hello/session-id", test_server_hello_session_id);
    g_test_add_func("/tls/server-hello/truncated", test_server_hello_truncated);

    for (size_t i = 0; i < G_N_ELEMENTS(cert_cases); i++) {
        char *path = g_strdup_printf("/tls/certificate/%s", cert_cases[i].name);
        g_test_add_data_func(path, &cert_cases[i], test_certificate);
        g_free(path);
    }
    g_test_add_func("/tls/certificate/truncated", test_certificate_truncated);
    g_test_add_func("/tls/certificate/empty-body", test_certificate_empty_body);
    for (size_t i = 0; i < G_N_ELEMENTS(cert_lies); i++) {
        char *path = g_strdup_printf("/tls/certificate/lies/%s", cert_lies[i].name);
        g_test_add_data_func(path, &cert_lies[i], test_certificate_lies);
        g_free(path);
    }

    for (size_t i = 0; i < G_N_ELEMENTS(cr_cases); i++) {
        char *path = g_strdup_printf("/tls/certificate-request/%s", cr_cases[i].name);
        g_test_add_data_func(path, &cr_cases[i], test_certificate_request);
        g_free(path);
    }
    g_test_add_func("/tls/certificate-request/1.3-without-authorities",
                    test_certificate_request_13_without_authorities);
    g_test_add_func("/tls/certificate-request/truncated", test_certificate_request_truncated);
    g_test_add_func("/tls/certificate-request/lies/names-list-too-long", test_certificate_request_names_list_long);
    g_test_add_func("/tls/certificate-request/lies/extensions-too-long", test_certificate_request_extensions_long);
    g_test_add_func("/tls/certificate-request/lies/1.2-read-as-1.0", test_certificate_request_12_read_as_10);
    g_test_add_data_func("/tls/certificate-request/lies/name-too-long/1.0", GUINT_TO_POINTER(TLS_VERSION_1_0),
                         test_certificate_request_name_lies);
    g_test_add_data_func("/tls/certificate-request/lies/name-too-long/1.2", GUINT_TO_POINTER(TLS_VERSION_1_2),
                         test_certificate_request_name_lies);
    g_test_add_data_func("/tls/certificate-request/lies/name-too-long/1.3", GUINT_TO_POINTER(TLS_VERSION_1_3),
                         test_certificate_request_name_lies);

    for (size_t i = 0; i < G_N_ELEMENTS(trailing_cases); i++) {
        char *path = g_strdup_printf("/tls/trailing-bytes/%s", trailing_cases[i].name);
        g_test_add_data_func(path, &trailing_cases[i], test_trailing_bytes);
        g_free(path);
    }

    g_test_add_func("/tls/alert/parse", test_alert_parse);
    g_test_add_func("/tls/alert/names", test_alert_names);
    g_test_add_func("/tls/handshake-type-names", test_handshake_names);
    g_test_add_func("/tls/version-format", test_version_format);
    g_test_add_func("/tls/grease", test_grease);

    return g_test_run();
}
