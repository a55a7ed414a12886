/* Unit tests for dissectors/capf.c (framing and fields of CAPF messages) and
 * the modulus MD5 of dissectors/x509.c.  Every message is built here byte by
 * byte or taken from the lab's own captures (capf_fixtures.c); the parser is
 * always given an exact-size heap copy, so a read past the end is an ASan
 * error, not a silent pass.
 */
#include "capf_fixtures.h"
#include "certgen.h"
#include "dissectors/capf.h"
#include "dissectors/x509.h"

#include <glib.h>
#include <glib/gstdio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <string.h>

#define CASE_BEGIN() const bool case_failed_before_ = g_test_failed()
#define CASE_END(...)                                                                   \
    do {                                                                               \
        if (!case_failed_before_ && g_test_failed())                                   \
            g_test_message(__VA_ARGS__);                                               \
    } while (0)

#define SESSION 0x00001001u

static EVP_PKEY *rsa_key;   /* made once: key generation is the slow part */

/* Parses an exact-size heap copy of bytes. */
static capf_parse_status_t parse_copy(const uint8_t *data, size_t len, capf_message_t *msg)
{
    uint8_t *copy = capf_test_copy(data, len);
    byte_span_t span = { copy, len };
    capf_parse_status_t st = capf_message_parse(span, msg);
    /* The spans point into the copy: check them before it goes. */
    for (unsigned i = 0; i < msg->field_count; i++) {
        const capf_field_t *f = &msg->fields[i];
        if (f->value.len) {
            g_assert_true(f->value.ptr >= copy);
            g_assert_true(f->value.ptr + f->value.len <= copy + len);
        }
    }
    g_free(copy);
    return st;
}

static capf_parse_status_t parse_array(GByteArray *m, capf_message_t *msg)
{
    return parse_copy(m->data, m->len, msg);
}

static uint8_t *spki_der(EVP_PKEY *key, size_t *len)
{
    unsigned char *der = NULL;
    int n = i2d_PUBKEY(key, &der);
    g_assert_cmpint(n, >, 0);
    uint8_t *out = capf_test_copy(der, (size_t)n);
    OPENSSL_free(der);
    *len = (size_t)n;
    return out;
}

static uint8_t *lsc_der(EVP_PKEY *key, size_t *len)
{
    X509_NAME *subject = certgen_name("O", "enrollmon TEST PKI", "CN", "SEP74A02FC0A675", NULL);
    X509_NAME *issuer = certgen_name("O", "enrollmon TEST PKI", "CN", "CAPF-1a2b3c4d", NULL);
    certgen_spec_t spec = { .subject = subject, .subject_key = key, .issuer = issuer, .signer = key };
    uint8_t *der = certgen_cert_der(&spec, len);
    X509_NAME_free(subject);
    X509_NAME_free(issuer);
    return der;
}

/* ------------------------------------------------------------------ */
/* The messages of the softphone flow, one builder each                */

static const char device[] = "SEP74A02FC0A675"; /* sent with its NUL */

static GByteArray *build_opcode(uint8_t opcode)
{
    GByteArray *m = capf_test_begin(opcode, SESSION);
    switch (opcode) {
    case CAPF_OP_SERVER_HELLO:
        capf_test_u8(m, CAPF_TAG_OPERATION, 0x03);
        break;
    case CAPF_OP_REQUEST:
        capf_test_u8(m, CAPF_TAG_OPERATION, 0x02);
        capf_test_field(m, CAPF_TAG_DEVICE_NAME, device, sizeof(device));
        capf_test_u8(m, CAPF_TAG_STATUS, CAPF_STATUS_OK);
        break;
    case CAPF_OP_CONTINUE: {
        static const uint8_t key_size[] = { 0x08, 0x00 };
        capf_test_field(m, CAPF_TAG_KEY_SIZE, key_size, sizeof(key_size));
        break;
    }
    case CAPF_OP_CSR: {
        size_t len;
        uint8_t *der = spki_der(rsa_key, &len);
        capf_test_field(m, CAPF_TAG_PUBLIC_KEY, der, len);
        g_free(der);
        break;
    }
    case CAPF_OP_CERTIFICATE: {
        size_t len;
        uint8_t *der = lsc_der(rsa_key, &len);
        GByteArray *package = g_byte_array_new();
        GByteArray *value = g_byte_array_new();
        static const uint8_t prefix[] = { 0x00, 0x01 };
        g_byte_array_append(value, prefix, sizeof(prefix));
        g_byte_array_append(value, der, (guint)len);
        capf_test_field(package, CAPF_PACKAGE_TAG_CERT, value->data, value->len);
        capf_test_u8(m, CAPF_TAG_CERT_STATUS, CAPF_STATUS_OK);
        capf_test_field(m, CAPF_TAG_CERT_PACKAGE, package->data, package->len);
        g_byte_array_free(value, TRUE);
        g_byte_array_free(package, TRUE);
        g_free(der);
        break;
    }
    case CAPF_OP_ACK:
        capf_test_u8(m, CAPF_TAG_STATUS, CAPF_STATUS_OK);
        break;
    case CAPF_OP_END_SESSION:
        capf_test_u8(m, CAPF_TAG_STATUS, CAPF_STATUS_ALREADY_ISSUED);
        break;
    default:
        g_assert_not_reached();
    }
    capf_test_end(m);
    return m;
}

static const uint8_t all_opcodes[] = {
    CAPF_OP_SERVER_HELLO, CAPF_OP_REQUEST, CAPF_OP_CONTINUE, CAPF_OP_CSR,
    CAPF_OP_CERTIFICATE, CAPF_OP_ACK, CAPF_OP_END_SESSION,
};

/* ------------------------------------------------------------------ */
/* Framing                                                             */

static void test_frame(void)
{
    GByteArray *m = build_opcode(CAPF_OP_REQUEST);
    size_t total = 0;
    for (size_t n = 0; n < CAPF_HEADER_LEN; n++) {
        uint8_t *copy = capf_test_copy(m->data, n);
        byte_span_t span = { copy, n };
        g_assert_cmpint(capf_frame(span, &total), ==, CAPF_PARSE_NEED_MORE);
        g_free(copy);
    }
    for (size_t n = CAPF_HEADER_LEN; n <= m->len; n++) {
        uint8_t *copy = capf_test_copy(m->data, n);
        byte_span_t span = { copy, n };
        total = 0;
        g_assert_cmpint(capf_frame(span, &total), ==, CAPF_PARSE_OK);
        g_assert_cmpuint(total, ==, m->len);
        g_free(copy);
    }
    /* A wrong magic is refused at once, whatever follows. */
    for (size_t n = 1; n <= m->len; n++) {
        uint8_t *copy = capf_test_copy(m->data, n);
        copy[0] = 0x16;
        byte_span_t span = { copy, n };
        g_assert_cmpint(capf_frame(span, &total), ==, CAPF_PARSE_INVALID);
        g_free(copy);
    }
    /* The largest body the length can say. */
    uint8_t header[8] = { 0x55, 0x09, 0, 0, 0x10, 0x01, 0xff, 0xff };
    byte_span_t span = { header, sizeof(header) };
    g_assert_cmpint(capf_frame(span, &total), ==, CAPF_PARSE_OK);
    g_assert_cmpuint(total, ==, 8 + 0xffff);
    byte_span_t empty = { NULL, 0 };
    g_assert_cmpint(capf_frame(empty, &total), ==, CAPF_PARSE_NEED_MORE);
    g_byte_array_free(m, TRUE);
}

static bool starts_copy(const uint8_t *data, size_t len)
{
    uint8_t *copy = capf_test_copy(data, len);
    byte_span_t span = { copy, len };
    bool r = capf_starts_stream(span);
    g_free(copy);
    return r;
}

static void test_starts_stream(void)
{
    for (size_t i = 0; i < G_N_ELEMENTS(all_opcodes); i++) {
        GByteArray *m = build_opcode(all_opcodes[i]);
        g_assert_true(starts_copy(m->data, m->len));
        /* The header alone, and header plus the first field's header. */
        g_assert_true(starts_copy(m->data, CAPF_HEADER_LEN));
        g_assert_true(starts_copy(m->data, CAPF_HEADER_LEN + CAPF_FIELD_HEADER_LEN));
        /* Too short to tell. */
        for (size_t n = 0; n < CAPF_HEADER_LEN; n++)
            g_assert_false(starts_copy(m->data, n));
        g_byte_array_free(m, TRUE);
    }
    uint8_t h[] = { 0x55, 0x02, 0, 0, 0x10, 0x01, 0x00, 0x04, 0x07, 0x00, 0x01, 0x02 };
    g_assert_true(starts_copy(h, sizeof(h)));
    h[0] = 0x54; /* magic */
    g_assert_false(starts_copy(h, sizeof(h)));
    h[0] = 0x55;
    h[1] = 0x42; /* opcode not in the table */
    g_assert_false(starts_copy(h, sizeof(h)));
    h[1] = 0x00;
    g_assert_false(starts_copy(h, sizeof(h)));
    h[1] = 0x02;
    h[7] = 0x02; /* a body of 2 bytes cannot hold a field */
    g_assert_false(starts_copy(h, sizeof(h)));
    h[7] = 0x01;
    g_assert_false(starts_copy(h, sizeof(h)));
    h[7] = 0x00; /* an empty body is possible */
    g_assert_true(starts_copy(h, CAPF_HEADER_LEN));
    h[6] = 0xf0; /* 61440 bytes: not a CAPF message */
    h[7] = 0x00;
    g_assert_false(starts_copy(h, sizeof(h)));
    h[6] = 0x00;
    h[7] = 0x04;
    h[10] = 0x02; /* first field claims 2 bytes, the body has 1 after its header */
    g_assert_false(starts_copy(h, sizeof(h)));
    /* TLS and HTTP are not CAPF. */
    static const uint8_t tls[] = { 0x16, 0x03, 0x01, 0x00, 0x2f, 0x01, 0x00, 0x00, 0x2b, 0x03, 0x03 };
    g_assert_false(starts_copy(tls, sizeof(tls)));
    static const char http[] = "GET / HTTP/1.1\r\n";
    g_assert_false(starts_copy((const uint8_t *)http, strlen(http)));
}

/* ------------------------------------------------------------------ */
/* Every opcode                                                        */

static void test_each_opcode(void)
{
    size_t spki_len, cert_len;
    uint8_t *spki = spki_der(rsa_key, &spki_len);
    uint8_t *cert = lsc_der(rsa_key, &cert_len);
    for (size_t i = 0; i < G_N_ELEMENTS(all_opcodes); i++) {
        CASE_BEGIN();
        uint8_t op = all_opcodes[i];
        GByteArray *m = build_opcode(op);
        capf_message_t msg;
        g_assert_cmpint(parse_array(m, &msg), ==, CAPF_PARSE_OK);
        g_assert_cmpuint(msg.opcode, ==, op);
        g_assert_cmpuint(msg.session_id, ==, SESSION);
        g_assert_cmpuint(msg.body_len, ==, m->len - CAPF_HEADER_LEN);
        g_assert_false(msg.malformed);
        g_assert_cmpuint(msg.fields_total, ==, msg.field_count);
        switch (op) {
        case CAPF_OP_SERVER_HELLO:
            g_assert_cmpuint(msg.field_count, ==, 1);
            g_assert_cmpuint(msg.fields[0].tag, ==, CAPF_TAG_OPERATION);
            g_assert_cmpuint(msg.fields[0].len, ==, 1);
            g_assert_cmpuint(msg.fields[0].value.ptr ? msg.fields[0].value.len : 0, ==, 1);
            g_assert_false(msg.has_status);
            g_assert_false(msg.has_device);
            break;
        case CAPF_OP_REQUEST:
            g_assert_cmpuint(msg.field_count, ==, 3);
            g_assert_true(msg.has_device);
            g_assert_cmpstr(msg.device, ==, "SEP74A02FC0A675");
            g_assert_cmpuint(msg.fields[1].tag, ==, CAPF_TAG_DEVICE_NAME);
            g_assert_cmpuint(msg.fields[1].len, ==, sizeof(device));
            g_assert_true(msg.has_status);
            g_assert_cmpuint(msg.status, ==, CAPF_STATUS_OK);
            break;
        case CAPF_OP_CONTINUE:
            g_assert_cmpuint(msg.field_count, ==, 1);
            g_assert_cmpuint(msg.fields[0].tag, ==, CAPF_TAG_KEY_SIZE);
            g_assert_cmpuint(msg.fields[0].len, ==, 2);
            g_assert_false(msg.has_status);
            break;
        case CAPF_OP_CSR:
            g_assert_cmpuint(msg.field_count, ==, 1);
            g_assert_cmpuint(msg.fields[0].tag, ==, CAPF_TAG_PUBLIC_KEY);
            g_assert_cmpuint(msg.fields[0].len, ==, spki_len);
            g_assert_cmpuint(msg.public_key.len, ==, spki_len);
            g_assert_cmpuint(msg.certificate.len, ==, 0);
            g_assert_false(msg.has_status);
            break;
        case CAPF_OP_CERTIFICATE:
            /* status, package, and the package's certificate field */
            g_assert_cmpuint(msg.field_count, ==, 3);
            g_assert_cmpuint(msg.fields[0].tag, ==, CAPF_TAG_CERT_STATUS);
            g_assert_cmpuint(msg.fields[0].depth, ==, 0);
            g_assert_cmpuint(msg.fields[1].tag, ==, CAPF_TAG_CERT_PACKAGE);
            g_assert_cmpuint(msg.fields[1].depth, ==, 0);
            g_assert_cmpuint(msg.fields[1].len, ==, cert_len + 2 + CAPF_FIELD_HEADER_LEN);
            g_assert_cmpuint(msg.fields[2].tag, ==, CAPF_PACKAGE_TAG_CERT);
            g_assert_cmpuint(msg.fields[2].depth, ==, 1);
            g_assert_cmpuint(msg.fields[2].len, ==, cert_len + 2);
            g_assert_true(msg.has_status);
            g_assert_cmpuint(msg.status, ==, CAPF_STATUS_OK);
            g_assert_cmpuint(msg.certificate.len, ==, cert_len);
            g_assert_cmpuint(msg.public_key.len, ==, 0);
            break;
        case CAPF_OP_ACK:
            g_assert_true(msg.has_status);
            g_assert_cmpuint(msg.status, ==, CAPF_STATUS_OK);
            break;
        case CAPF_OP_END_SESSION:
            g_assert_true(msg.has_status);
            g_assert_cmpuint(msg.status, ==, CAPF_STATUS_ALREADY_ISSUED);
            break;
        default:
            break;
        }
        /* The spans hold the bytes that were put in (checked on a copy that lives). */
        byte_span_t whole = { m->data, m->len };
        g_assert_cmpint(capf_message_parse(whole, &msg), ==, CAPF_PARSE_OK);
        if (op == CAPF_OP_CSR)
            g_assert_cmpmem(msg.public_key.ptr, msg.public_key.len, spki, spki_len);
        if (op == CAPF_OP_CERTIFICATE)
            g_assert_cmpmem(msg.certificate.ptr, msg.certificate.len, cert, cert_len);
        g_byte_array_free(m, TRUE);
        CASE_END("opcode 0x%02x", op);
    }
    g_free(spki);
    g_free(cert);
}

/* Bytes after the message (the next one in a stream) are not part of it. */
static void test_trailing_bytes(void)
{
    GByteArray *m = build_opcode(CAPF_OP_ACK);
    static const uint8_t next[] = { 0x55, 0x0f, 0x00, 0x00 };
    g_byte_array_append(m, next, sizeof(next));
    capf_message_t msg;
    g_assert_cmpint(parse_array(m, &msg), ==, CAPF_PARSE_OK);
    g_assert_cmpuint(msg.field_count, ==, 1);
    g_assert_false(msg.malformed);
    g_byte_array_free(m, TRUE);
}

/* ------------------------------------------------------------------ */
/* Truncation                                                          */

/* Offsets (from the message start) where a top-level field begins or the
 * body ends. */
static GArray *field_boundaries(const uint8_t *data, size_t len)
{
    GArray *b = g_array_new(FALSE, FALSE, sizeof(size_t));
    size_t pos = CAPF_HEADER_LEN;
    while (pos + CAPF_FIELD_HEADER_LEN <= len) {
        g_array_append_val(b, pos);
        pos += CAPF_FIELD_HEADER_LEN + ((size_t)data[pos + 1] << 8 | data[pos + 2]);
    }
    g_assert_cmpuint(pos, ==, len);
    g_array_append_val(b, pos);
    return b;
}

static bool is_boundary(const GArray *b, size_t at)
{
    for (guint i = 0; i < b->len; i++)
        if (g_array_index(b, size_t, i) == at)
            return true;
    return false;
}

/* Every prefix of the message: NEED_MORE as it stands; and with the body
 * length rewritten to what is there, OK, malformed unless the cut falls
 * between two fields. */
static void check_truncations(const uint8_t *data, size_t len)
{
    GArray *bounds = field_boundaries(data, len);
    capf_message_t full;
    g_assert_cmpint(parse_copy(data, len, &full), ==, CAPF_PARSE_OK);
    for (size_t cut = 0; cut < len; cut++) {
        CASE_BEGIN();
        capf_message_t msg;
        g_assert_cmpint(parse_copy(data, cut, &msg), ==, CAPF_PARSE_NEED_MORE);
        if (cut >= CAPF_HEADER_LEN) {
            uint8_t *copy = capf_test_copy(data, cut);
            size_t body = cut - CAPF_HEADER_LEN;
            copy[6] = (uint8_t)(body >> 8);
            copy[7] = (uint8_t)body;
            g_assert_cmpint(parse_copy(copy, cut, &msg), ==, CAPF_PARSE_OK);
            g_assert_cmpuint(msg.body_len, ==, body);
            g_assert_true(msg.malformed == !is_boundary(bounds, cut));
            /* A cut certificate or key is never handed on. */
            g_assert_true(msg.certificate.len == 0 || msg.certificate.len == full.certificate.len);
            g_assert_true(msg.public_key.len == 0 || msg.public_key.len == full.public_key.len);
            g_free(copy);
        }
        CASE_END("cut at %zu of %zu", cut, len);
    }
    g_array_free(bounds, TRUE);
}

static void test_truncation_built(void)
{
    for (size_t i = 0; i < G_N_ELEMENTS(all_opcodes); i++) {
        GByteArray *m = build_opcode(all_opcodes[i]);
        check_truncations(m->data, m->len);
        g_byte_array_free(m, TRUE);
    }
}

static void test_truncation_fixtures(void)
{
    for (size_t i = 0; i < capf_fixture_enroll_ok_count; i++) {
        size_t len;
        uint8_t *data = capf_test_unhex(capf_fixture_enroll_ok[i].hex, &len);
        check_truncations(data, len);
        g_free(data);
    }
}

/* ------------------------------------------------------------------ */
/* Lying lengths, nesting, unknown values                              */

static void test_lying_length(void)
{
    /* status OK, then a field claiming 100 bytes with 5 there. */
    GByteArray *m = capf_test_begin(CAPF_OP_REQUEST, SESSION);
    capf_test_u8(m, CAPF_TAG_OPERATION, 0x02);
    capf_test_field_lying(m, CAPF_TAG_DEVICE_NAME, 100, "SEP12", 5);
    capf_test_end(m);
    capf_message_t msg;
    g_assert_cmpint(parse_array(m, &msg), ==, CAPF_PARSE_OK);
    g_assert_true(msg.malformed);
    g_assert_cmpuint(msg.field_count, ==, 2);
    g_assert_cmpuint(msg.fields[1].tag, ==, CAPF_TAG_DEVICE_NAME);
    g_assert_cmpuint(msg.fields[1].len, ==, 100);
    g_assert_cmpuint(msg.fields[1].value.len, ==, 5);
    /* What is there is still read. */
    g_assert_true(msg.has_device);
    g_assert_cmpstr(msg.device, ==, "SEP12");
    g_byte_array_free(m, TRUE);

    /* A status whose length lies is not taken as a status. */
    m = capf_test_begin(CAPF_OP_END_SESSION, SESSION);
    capf_test_field_lying(m, CAPF_TAG_STATUS, 0xffff, "\x07", 1);
    capf_test_end(m);
    g_assert_cmpint(parse_array(m, &msg), ==, CAPF_PARSE_OK);
    g_assert_true(msg.malformed);
    g_assert_false(msg.has_status);
    g_byte_array_free(m, TRUE);

    /* A public key cut by the body end is not handed on. */
    m = capf_test_begin(CAPF_OP_CSR, SESSION);
    capf_test_field_lying(m, CAPF_TAG_PUBLIC_KEY, 300, "\x30\x82\x01\x22", 4);
    capf_test_end(m);
    g_assert_cmpint(parse_array(m, &msg), ==, CAPF_PARSE_OK);
    g_assert_true(msg.malformed);
    g_assert_cmpuint(msg.public_key.len, ==, 0);
    g_byte_array_free(m, TRUE);

    /* Half a field header at the end of the body. */
    m = capf_test_begin(CAPF_OP_ACK, SESSION);
    capf_test_u8(m, CAPF_TAG_STATUS, CAPF_STATUS_OK);
    static const uint8_t half[] = { 0x01, 0x00 };
    g_byte_array_append(m, half, sizeof(half));
    capf_test_end(m);
    g_assert_cmpint(parse_array(m, &msg), ==, CAPF_PARSE_OK);
    g_assert_true(msg.malformed);
    g_assert_cmpuint(msg.field_count, ==, 1);
    g_assert_true(msg.has_status);
    g_byte_array_free(m, TRUE);
}

static void test_nested_package(void)
{
    size_t cert_len;
    uint8_t *cert = lsc_der(rsa_key, &cert_len);
    GByteArray *value = g_byte_array_new();
    static const uint8_t prefix[] = { 0x00, 0x01 };
    g_byte_array_append(value, prefix, 2);
    g_byte_array_append(value, cert, (guint)cert_len);

    /* An unknown nested field before the certificate, and one after. */
    GByteArray *package = g_byte_array_new();
    capf_test_u8(package, 0x22, 0x05);
    capf_test_field(package, CAPF_PACKAGE_TAG_CERT, value->data, value->len);
    capf_test_field(package, 0x23, "ab", 2);
    GByteArray *m = capf_test_begin(CAPF_OP_CERTIFICATE, SESSION);
    capf_test_u8(m, CAPF_TAG_CERT_STATUS, CAPF_STATUS_OK);
    capf_test_field(m, CAPF_TAG_CERT_PACKAGE, package->data, package->len);
    capf_test_u8(m, 0x30, 0x01); /* after the package: back at depth 0 */
    capf_test_end(m);
    capf_message_t msg;
    g_assert_cmpint(parse_array(m, &msg), ==, CAPF_PARSE_OK);
    g_assert_false(msg.malformed);
    g_assert_cmpuint(msg.field_count, ==, 6);
    static const uint8_t tags[] = { 0x03, 0x04, 0x22, 0x01, 0x23, 0x30 };
    static const uint8_t depths[] = { 0, 0, 1, 1, 1, 0 };
    for (unsigned i = 0; i < 6; i++) {
        g_assert_cmpuint(msg.fields[i].tag, ==, tags[i]);
        g_assert_cmpuint(msg.fields[i].depth, ==, depths[i]);
    }
    g_assert_cmpuint(msg.certificate.len, ==, cert_len);
    byte_span_t whole = { m->data, m->len };
    capf_message_parse(whole, &msg);
    g_assert_cmpmem(msg.certificate.ptr, msg.certificate.len, cert, cert_len);
    g_byte_array_free(m, TRUE);

    /* A nested field that lies about its length: malformed, no certificate. */
    GByteArray *bad = g_byte_array_new();
    capf_test_field_lying(bad, CAPF_PACKAGE_TAG_CERT, (uint16_t)(value->len + 10), value->data, value->len);
    m = capf_test_begin(CAPF_OP_CERTIFICATE, SESSION);
    capf_test_u8(m, CAPF_TAG_CERT_STATUS, CAPF_STATUS_OK);
    capf_test_field(m, CAPF_TAG_CERT_PACKAGE, bad->data, bad->len);
    capf_test_u8(m, CAPF_TAG_STATUS, 0x09); /* still read: the package's own length held */
    capf_test_end(m);
    g_assert_cmpint(parse_array(m, &msg), ==, CAPF_PARSE_OK);
    g_assert_true(msg.malformed);
    g_assert_cmpuint(msg.certificate.len, ==, 0);
    g_assert_cmpuint(msg.field_count, ==, 4);
    g_assert_cmpuint(msg.fields[2].depth, ==, 1);
    g_assert_cmpuint(msg.fields[2].value.len, ==, value->len);
    g_assert_cmpuint(msg.fields[3].tag, ==, CAPF_TAG_STATUS);
    g_assert_cmpuint(msg.fields[3].depth, ==, 0);
    /* tag 0x03 came first: it is the status of a certificate message */
    g_assert_cmpuint(msg.status, ==, CAPF_STATUS_OK);
    g_byte_array_free(m, TRUE);
    g_byte_array_free(bad, TRUE);

    /* A certificate field without the 00 01 prefix is kept but not taken. */
    GByteArray *odd = g_byte_array_new();
    capf_test_field(odd, CAPF_PACKAGE_TAG_CERT, cert, cert_len);
    m = capf_test_begin(CAPF_OP_CERTIFICATE, SESSION);
    capf_test_field(m, CAPF_TAG_CERT_PACKAGE, odd->data, odd->len);
    capf_test_end(m);
    g_assert_cmpint(parse_array(m, &msg), ==, CAPF_PARSE_OK);
    g_assert_false(msg.malformed);
    g_assert_cmpuint(msg.field_count, ==, 2);
    g_assert_cmpuint(msg.certificate.len, ==, 0);
    g_byte_array_free(m, TRUE);
    g_byte_array_free(odd, TRUE);

    g_byte_array_free(package, TRUE);
    g_byte_array_free(value, TRUE);
    g_free(cert);
}

static void test_unknown_kept(void)
{
    GByteArray *m = capf_test_begin(0x42, 0xdeadbeef);
    capf_test_field(m, 0x77, "\x01\x02\x03", 3);
    capf_test_field(m, 0xff, NULL, 0);
    capf_test_u8(m, CAPF_TAG_STATUS, 0x33);
    capf_test_end(m);
    capf_message_t msg;
    g_assert_cmpint(parse_array(m, &msg), ==, CAPF_PARSE_OK);
    g_assert_cmpuint(msg.opcode, ==, 0x42);
    g_assert_null(capf_opcode_lookup(msg.opcode));
    g_assert_cmpuint(msg.session_id, ==, 0xdeadbeef);
    g_assert_false(msg.malformed);
    g_assert_cmpuint(msg.field_count, ==, 3);
    g_assert_cmpuint(msg.fields[0].tag, ==, 0x77);
    g_assert_null(capf_tag_lookup(0x77));
    g_assert_cmpuint(msg.fields[0].len, ==, 3);
    g_assert_cmpuint(msg.fields[1].tag, ==, 0xff);
    g_assert_cmpuint(msg.fields[1].len, ==, 0);
    g_assert_cmpuint(msg.fields[1].value.len, ==, 0);
    /* An unknown status value is still the status. */
    g_assert_true(msg.has_status);
    g_assert_cmpuint(msg.status, ==, 0x33);
    g_assert_null(capf_status_lookup(0x33));
    /* Not a stream start (opcode unknown), but a message all the same. */
    g_assert_false(starts_copy(m->data, m->len));
    size_t total = 0;
    byte_span_t span = { m->data, m->len };
    g_assert_cmpint(capf_frame(span, &total), ==, CAPF_PARSE_OK);
    g_assert_cmpuint(total, ==, m->len);
    g_byte_array_free(m, TRUE);

    /* An empty body. */
    m = capf_test_begin(CAPF_OP_END_SESSION, SESSION);
    capf_test_end(m);
    g_assert_cmpint(parse_array(m, &msg), ==, CAPF_PARSE_OK);
    g_assert_cmpuint(msg.field_count, ==, 0);
    g_assert_false(msg.malformed);
    g_assert_false(msg.has_status);
    g_byte_array_free(m, TRUE);

    /* Wrong magic. */
    static const uint8_t tls[] = { 0x16, 0x03, 0x01, 0x00, 0x05, 0x01, 0x00, 0x00, 0x01, 0x00 };
    g_assert_cmpint(parse_copy(tls, sizeof(tls), &msg), ==, CAPF_PARSE_INVALID);
}

static void test_status_rules(void)
{
    capf_message_t msg;
    /* tag 0x03 is a status only in a certificate message */
    GByteArray *m = capf_test_begin(CAPF_OP_REQUEST, SESSION);
    capf_test_u8(m, CAPF_TAG_CERT_STATUS, 0x07);
    capf_test_end(m);
    g_assert_cmpint(parse_array(m, &msg), ==, CAPF_PARSE_OK);
    g_assert_false(msg.has_status);
    g_byte_array_free(m, TRUE);
    /* a two-byte value is not a one-byte status */
    m = capf_test_begin(CAPF_OP_END_SESSION, SESSION);
    capf_test_field(m, CAPF_TAG_STATUS, "\x00\x07", 2);
    capf_test_end(m);
    g_assert_cmpint(parse_array(m, &msg), ==, CAPF_PARSE_OK);
    g_assert_false(msg.has_status);
    g_byte_array_free(m, TRUE);
    /* the first status counts */
    m = capf_test_begin(CAPF_OP_END_SESSION, SESSION);
    capf_test_u8(m, CAPF_TAG_STATUS, CAPF_STATUS_DEVICE_UNKNOWN);
    capf_test_u8(m, CAPF_TAG_STATUS, CAPF_STATUS_OK);
    capf_test_end(m);
    g_assert_cmpint(parse_array(m, &msg), ==, CAPF_PARSE_OK);
    g_assert_cmpuint(msg.status, ==, CAPF_STATUS_DEVICE_UNKNOWN);
    g_byte_array_free(m, TRUE);
    /* a public key outside a CSR message is just a field */
    m = capf_test_begin(CAPF_OP_REQUEST, SESSION);
    capf_test_field(m, CAPF_TAG_PUBLIC_KEY, "\x30\x00", 2);
    capf_test_end(m);
    g_assert_cmpint(parse_array(m, &msg), ==, CAPF_PARSE_OK);
    g_assert_cmpuint(msg.public_key.len, ==, 0);
    g_byte_array_free(m, TRUE);
}

static void test_too_many_fields(void)
{
    GByteArray *m = capf_test_begin(CAPF_OP_REQUEST, SESSION);
    for (int i = 0; i < CAPF_MAX_FIELDS + 8; i++)
        capf_test_u8(m, 0x40, (uint8_t)i);
    capf_test_field(m, CAPF_TAG_DEVICE_NAME, "CSF123", 7); /* past the kept ones: still read */
    capf_test_end(m);
    capf_message_t msg;
    g_assert_cmpint(parse_array(m, &msg), ==, CAPF_PARSE_OK);
    g_assert_cmpuint(msg.field_count, ==, CAPF_MAX_FIELDS);
    g_assert_cmpuint(msg.fields_total, ==, CAPF_MAX_FIELDS + 9);
    g_assert_true(msg.has_device);
    g_assert_cmpstr(msg.device, ==, "CSF123");
    g_byte_array_free(m, TRUE);
}

/* ------------------------------------------------------------------ */
/* Device names                                                        */

static const char *device_of(const void *value, size_t len)
{
    static char out[CAPF_DEVICE_MAX];
    GByteArray *m = capf_test_begin(CAPF_OP_REQUEST, SESSION);
    capf_test_field(m, CAPF_TAG_DEVICE_NAME, value, len);
    capf_test_end(m);
    capf_message_t msg;
    g_assert_cmpint(parse_array(m, &msg), ==, CAPF_PARSE_OK);
    g_assert_true(msg.has_device);
    g_assert_cmpuint(strlen(msg.device), <, CAPF_DEVICE_MAX);
    memcpy(out, msg.device, sizeof(out));
    g_byte_array_free(m, TRUE);
    return out;
}

static void test_device_name(void)
{
    g_assert_cmpstr(device_of("CSF123", 7), ==, "CSF123");
    /* Up to the NUL: what follows it is not the name. */
    g_assert_cmpstr(device_of("SEP001122334455\0garbage", 23), ==, "SEP001122334455");
    /* No NUL: the whole value. */
    g_assert_cmpstr(device_of("CSFABC", 6), ==, "CSFABC");
    /* Control bytes, high bytes and the backslash escaped. */
    g_assert_cmpstr(device_of("SEP\x01" "A\\B\xff\x7f\n", 10), ==, "SEP\\x01A\\x5cB\\xff\\x7f\\x0a");
    g_assert_cmpstr(device_of("with space", 11), ==, "with space");
    g_assert_cmpstr(device_of("\0", 1), ==, "");
    g_assert_cmpstr(device_of("", 0), ==, "");
    /* Too long: cut, never in the middle of an escape. */
    char longname[200];
    memset(longname, 'A', sizeof(longname));
    const char *cut = device_of(longname, sizeof(longname));
    g_assert_cmpuint(strlen(cut), ==, CAPF_DEVICE_MAX - 1);
    uint8_t escapes[100];
    memset(escapes, 0x01, sizeof(escapes));
    cut = device_of(escapes, sizeof(escapes));
    g_assert_cmpuint(strlen(cut) % 4, ==, 0);
    g_assert_cmpuint(strlen(cut), >=, CAPF_DEVICE_MAX - 4);
    for (size_t i = 0; i < strlen(cut); i += 4)
        g_assert_cmpint(strncmp(cut + i, "\\x01", 4), ==, 0);
    /* The first device name counts. */
    GByteArray *m = capf_test_begin(CAPF_OP_REQUEST, SESSION);
    capf_test_field(m, CAPF_TAG_DEVICE_NAME, "FIRST", 6);
    capf_test_field(m, CAPF_TAG_DEVICE_NAME, "SECOND", 7);
    capf_test_end(m);
    capf_message_t msg;
    g_assert_cmpint(parse_array(m, &msg), ==, CAPF_PARSE_OK);
    g_assert_cmpstr(msg.device, ==, "FIRST");
    g_byte_array_free(m, TRUE);
}

/* ------------------------------------------------------------------ */
/* Real messages from the lab captures                                 */

static void test_fixtures(void)
{
    static const uint8_t expected_ops[] = { 0x01, 0x02, 0x03, 0x04, 0x09, 0x0a, 0x0f };
    g_assert_cmpuint(capf_fixture_enroll_ok_count, ==, G_N_ELEMENTS(expected_ops));
    for (size_t i = 0; i < capf_fixture_enroll_ok_count; i++) {
        CASE_BEGIN();
        size_t len;
        uint8_t *data = capf_test_unhex(capf_fixture_enroll_ok[i].hex, &len);
        byte_span_t span = { data, len };
        g_assert_true(capf_starts_stream(span));
        capf_message_t msg;
        g_assert_cmpint(capf_message_parse(span, &msg), ==, CAPF_PARSE_OK);
        g_assert_cmpuint(msg.opcode, ==, expected_ops[i]);
        g_assert_cmpuint(msg.session_id, ==, 0x1001);
        g_assert_false(msg.malformed);
        g_assert_cmpuint(msg.body_len + CAPF_HEADER_LEN, ==, len);
        char md5[33];
        cert_info_t info;
        switch (msg.opcode) {
        case CAPF_OP_REQUEST:
            g_assert_cmpstr(msg.device, ==, "SEP74A02FC0A675");
            g_assert_cmpuint(msg.status, ==, CAPF_STATUS_OK);
            break;
        case CAPF_OP_CSR:
            g_assert_cmpuint(msg.public_key.len, ==, 0x126);
            g_assert_true(x509_spki_modulus_md5(msg.public_key, md5));
            g_assert_cmpstr(md5, ==, capf_fixture_enroll_ok_csr_md5);
            break;
        case CAPF_OP_CERTIFICATE:
            g_assert_cmpuint(msg.status, ==, CAPF_STATUS_OK);
            g_assert_cmpuint(msg.certificate.len, ==, 877 - 2);
            g_assert_true(x509_cert_parse(msg.certificate, NULL, &info));
            g_assert_cmpint(info.kind, ==, CERT_KIND_LSC);
            g_assert_cmpstr(info.subject_cn, ==, "SEP74A02FC0A675");
            g_assert_cmpstr(info.issuer_cn, ==, "CAPF-1a2b3c4d");
            g_assert_cmpstr(info.modulus_md5, ==, capf_fixture_enroll_ok_cert_md5);
            x509_cert_info_clear(&info);
            break;
        case CAPF_OP_ACK:
        case CAPF_OP_END_SESSION:
            g_assert_cmpuint(msg.status, ==, CAPF_STATUS_OK);
            break;
        default:
            break;
        }
        g_free(data);
        CASE_END("fixture message %zu", i);
    }
    /* The mismatching pair really mismatches. */
    char csr_md5[33] = "", cert_md5[33] = "";
    for (size_t i = 0; i < capf_fixture_key_mismatch_count; i++) {
        size_t len;
        uint8_t *data = capf_test_unhex(capf_fixture_key_mismatch[i].hex, &len);
        byte_span_t span = { data, len };
        capf_message_t msg;
        g_assert_cmpint(capf_message_parse(span, &msg), ==, CAPF_PARSE_OK);
        if (msg.opcode == CAPF_OP_CSR)
            g_assert_true(x509_spki_modulus_md5(msg.public_key, csr_md5));
        if (msg.opcode == CAPF_OP_CERTIFICATE) {
            cert_info_t info;
            g_assert_true(x509_cert_parse(msg.certificate, NULL, &info));
            memcpy(cert_md5, info.modulus_md5, sizeof(cert_md5));
            x509_cert_info_clear(&info);
        }
        g_free(data);
    }
    g_assert_cmpstr(csr_md5, ==, capf_fixture_key_mismatch_csr_md5);
    g_assert_cmpstr(cert_md5, ==, capf_fixture_key_mismatch_cert_md5);
    g_assert_cmpstr(csr_md5, !=, cert_md5);
}

/* ------------------------------------------------------------------ */
/* Modulus MD5 against the openssl command                             */

/* Runs `openssl <args> -noout -modulus -in file | openssl md5` and returns
 * the digest, or NULL when the command is not there. */
static char *cli_modulus_md5(const char *subcommand, const char *path)
{
    char *openssl = g_find_program_in_path("openssl");
    if (!openssl)
        return NULL;
    char *quoted = g_shell_quote(path);
    char *cmd = g_strdup_printf("'%s' %s -noout -modulus -in %s | '%s' md5", openssl, subcommand,
                                quoted, openssl);
    char *argv[] = { "/bin/sh", "-c", cmd, NULL };
    char *out = NULL;
    int status = 0;
    GError *error = NULL;
    gboolean ran = g_spawn_sync(NULL, argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out, NULL, &status, &error);
    g_assert_no_error(error);
    g_assert_true(ran);
    g_assert_true(g_spawn_check_wait_status(status, NULL));
    /* "MD5(stdin)= 0123..." (older: "(stdin)= 0123...") */
    const char *eq = strstr(out, "= ");
    g_assert_nonnull(eq);
    char *md5 = g_strstrip(g_strdup(eq + 2));
    g_assert_cmpuint(strlen(md5), ==, 32);
    g_free(out);
    g_free(cmd);
    g_free(quoted);
    g_free(openssl);
    return md5;
}

typedef bool (*pem_writer_fn)(FILE *fp, void *object);

static char *write_temp(const char *name, pem_writer_fn writer, void *object)
{
    char *dir = g_dir_make_tmp("capf-test-XXXXXX", NULL);
    g_assert_nonnull(dir);
    char *path = g_build_filename(dir, name, NULL);
    FILE *fp = fopen(path, "w");
    g_assert_nonnull(fp);
    g_assert_true(writer(fp, object));
    fclose(fp);
    g_free(dir);
    return path;
}

static void remove_temp(char *path)
{
    char *dir = g_path_get_dirname(path);
    g_unlink(path);
    g_rmdir(dir);
    g_free(dir);
    g_free(path);
}

static bool write_pubkey(FILE *fp, void *object)
{
    return PEM_write_PUBKEY(fp, object) == 1;
}

static bool write_cert(FILE *fp, void *object)
{
    return PEM_write_X509(fp, object) == 1;
}

static bool write_req(FILE *fp, void *object)
{
    return PEM_write_X509_REQ(fp, object) == 1;
}

static void check_key_against_cli(EVP_PKEY *key)
{
    /* The public key, as the 0x04 carries it. */
    size_t spki_len;
    uint8_t *spki = spki_der(key, &spki_len);
    byte_span_t span = { spki, spki_len };
    char md5[33];
    g_assert_true(x509_spki_modulus_md5(span, md5));
    g_assert_cmpuint(strlen(md5), ==, 32);

    char *path = write_temp("key.pem", write_pubkey, key);
    char *expected = cli_modulus_md5("rsa -pubin", path);
    remove_temp(path);
    if (!expected) {
        g_free(spki);
        g_test_skip("no openssl command");
        return;
    }
    g_assert_cmpstr(md5, ==, expected);
    g_free(expected);

    /* A certificate for the key: `openssl x509 -modulus`. */
    X509_NAME *name = certgen_name("CN", "SEP74A02FC0A675", NULL);
    certgen_spec_t spec = { .subject = name, .subject_key = key };
    X509 *cert = certgen_cert(&spec);
    path = write_temp("cert.pem", write_cert, cert);
    expected = cli_modulus_md5("x509", path);
    remove_temp(path);
    size_t der_len;
    uint8_t *der = certgen_der(cert, &der_len);
    cert_info_t info;
    byte_span_t der_span = { der, der_len };
    g_assert_true(x509_cert_parse(der_span, NULL, &info));
    g_assert_cmpstr(info.modulus_md5, ==, expected);
    g_assert_cmpstr(info.modulus_md5, ==, md5);
    x509_cert_info_clear(&info);
    g_free(expected);
    g_free(der);
    X509_free(cert);

    /* A certificate request for the key: `openssl req -modulus`. */
    X509_REQ *req = X509_REQ_new();
    g_assert_nonnull(req);
    g_assert_cmpint(X509_REQ_set_subject_name(req, name), ==, 1);
    g_assert_cmpint(X509_REQ_set_pubkey(req, key), ==, 1);
    g_assert_cmpint(X509_REQ_sign(req, key, EVP_sha256()), >, 0);
    path = write_temp("req.pem", write_req, req);
    expected = cli_modulus_md5("req", path);
    remove_temp(path);
    g_assert_cmpstr(md5, ==, expected);
    g_free(expected);
    X509_REQ_free(req);
    X509_NAME_free(name);
    g_free(spki);
}

static void test_modulus_md5_cli(void)
{
    check_key_against_cli(rsa_key);
}

/* A 1026-bit modulus starts with a single hex digit's worth of bits: the
 * text has no leading zero, as BN_print writes it. */
static void test_modulus_md5_odd_size(void)
{
    EVP_PKEY *key = certgen_key_rsa(1026);
    check_key_against_cli(key);
    EVP_PKEY_free(key);
}

static void test_modulus_md5_not_rsa(void)
{
    EVP_PKEY *ec = certgen_key_ec();
    size_t len;
    uint8_t *spki = spki_der(ec, &len);
    byte_span_t span = { spki, len };
    char md5[33] = "x";
    g_assert_false(x509_spki_modulus_md5(span, md5));
    g_assert_cmpstr(md5, ==, "");
    /* cut short: not parsed, and no read past the copy */
    for (size_t n = 0; n < len; n++) {
        uint8_t *copy = capf_test_copy(spki, n);
        byte_span_t cut = { copy, n };
        g_assert_false(x509_spki_modulus_md5(cut, md5));
        g_free(copy);
    }
    g_free(spki);
    /* an EC certificate has no modulus */
    X509_NAME *name = certgen_name("CN", "ec", NULL);
    certgen_spec_t spec = { .subject = name, .subject_key = ec };
    uint8_t *der = certgen_cert_der(&spec, &len);
    cert_info_t info;
    byte_span_t der_span = { der, len };
    g_assert_true(x509_cert_parse(der_span, NULL, &info));
    g_assert_cmpstr(info.modulus_md5, ==, "");
    x509_cert_info_clear(&info);
    g_free(der);
    X509_NAME_free(name);
    EVP_PKEY_free(ec);
    /* garbage */
    static const uint8_t junk[] = { 0x30, 0x03, 0x02, 0x01, 0x00 };
    byte_span_t j = { junk, sizeof(junk) };
    g_assert_false(x509_spki_modulus_md5(j, md5));
    byte_span_t empty = { NULL, 0 };
    g_assert_false(x509_spki_modulus_md5(empty, md5));
    /* RSA keys cut short */
    uint8_t *rsa = spki_der(rsa_key, &len);
    for (size_t n = 0; n < len; n++) {
        uint8_t *copy = capf_test_copy(rsa, n);
        byte_span_t cut = { copy, n };
        g_assert_false(x509_spki_modulus_md5(cut, md5));
        g_free(copy);
    }
    g_free(rsa);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    rsa_key = certgen_key_rsa(2048);
    g_test_add_func("/capf/frame", test_frame);
    g_test_add_func("/capf/starts-stream", test_starts_stream);
    g_test_add_func("/capf/opcodes", test_each_opcode);
    g_test_add_func("/capf/trailing-bytes", test_trailing_bytes);
    g_test_add_func("/capf/truncation/built", test_truncation_built);
    g_test_add_func("/capf/truncation/fixtures", test_truncation_fixtures);
    g_test_add_func("/capf/lying-length", test_lying_length);
    g_test_add_func("/capf/nested-package", test_nested_package);
    g_test_add_func("/capf/unknown-kept", test_unknown_kept);
    g_test_add_func("/capf/status-rules", test_status_rules);
    g_test_add_func("/capf/too-many-fields", test_too_many_fields);
    g_test_add_func("/capf/device-name", test_device_name);
    g_test_add_func("/capf/fixtures", test_fixtures);
    g_test_add_func("/x509/modulus-md5/cli", test_modulus_md5_cli);
    g_test_add_func("/x509/modulus-md5/odd-size", test_modulus_md5_odd_size);
    g_test_add_func("/x509/modulus-md5/not-rsa", test_modulus_md5_not_rsa);
    int rc = g_test_run();
    EVP_PKEY_free(rsa_key);
    return rc;
}
