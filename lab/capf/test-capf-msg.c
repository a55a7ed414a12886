/* Unit tests for lab/capf/capf_msg.h: building CAPF messages and reading
 * untrusted ones (every length checked against what is there). */
#include "capf_msg.h"

#include <glib.h>
#include <string.h>

static void test_build_request(void)
{
    capf_builder_t *b = g_new(capf_builder_t, 1);
    capf_build_begin(b, CAPF_OP_REQUEST, 0x00001001);
    capf_build_u8(b, CAPF_TAG_OPERATION, 0x02);
    capf_build_field(b, CAPF_TAG_DEVICE_NAME, "CSF123", 7);
    capf_build_u8(b, CAPF_TAG_STATUS, CAPF_STATUS_OK);
    g_assert_true(capf_build_end(b));
    static const uint8_t expected[] = {
        0x55, 0x02, 0x00, 0x00, 0x10, 0x01, 0x00, 0x12,
        0x07, 0x00, 0x01, 0x02,
        0x0d, 0x00, 0x07, 'C', 'S', 'F', '1', '2', '3', 0x00,
        0x01, 0x00, 0x01, 0x01,
    };
    g_assert_cmpmem(b->buf, b->len, expected, sizeof(expected));

    capf_header_t h;
    g_assert_true(capf_header_parse(b->buf, &h));
    g_assert_cmpuint(h.opcode, ==, CAPF_OP_REQUEST);
    g_assert_cmpuint(h.session_id, ==, 0x1001);
    g_assert_cmpuint(h.body_len, ==, b->len - CAPF_HEADER_LEN);
    const uint8_t *body = b->buf + CAPF_HEADER_LEN;
    uint8_t v = 0;
    g_assert_true(capf_field_u8(body, h.body_len, CAPF_TAG_OPERATION, &v));
    g_assert_cmpuint(v, ==, 0x02);
    char name[16];
    g_assert_true(capf_field_name(body, h.body_len, CAPF_TAG_DEVICE_NAME, name, sizeof(name)));
    g_assert_cmpstr(name, ==, "CSF123");
    g_assert_false(capf_field_name(body, h.body_len, CAPF_TAG_DEVICE_NAME, name, 6));
    g_assert_false(capf_field_u8(body, h.body_len, CAPF_TAG_KEY_SIZE, &v));
    g_free(b);
}

static void test_bad_magic(void)
{
    static const uint8_t raw[CAPF_HEADER_LEN] = { 0x16, 0x03, 0x01, 0x00, 0x10, 0x01, 0x00, 0x00 };
    capf_header_t h;
    g_assert_false(capf_header_parse(raw, &h));
}

/* A field whose length runs past the body, at every cut of a good body. */
static void test_truncated_fields(void)
{
    static const uint8_t body[] = { 0x03, 0x00, 0x01, 0x01, 0x04, 0x00, 0x05, 0x01, 0x00, 0x02, 0x00, 0x01 };
    for (size_t cut = 0; cut <= sizeof(body); cut++) {
        uint8_t *copy = g_memdup2(body, cut ? cut : 1);
        capf_field_iter_t it;
        capf_field_iter_init(&it, copy, cut);
        capf_field_t f;
        size_t n = 0;
        while (capf_field_next(&it, &f)) {
            g_assert_true(f.value >= copy && f.value + f.len <= copy + cut);
            n++;
        }
        bool whole = cut == 0 || cut == 4 || cut == sizeof(body);
        g_assert_cmpint(it.malformed, ==, !whole);
        g_assert_cmpuint(n, ==, cut >= sizeof(body) ? 2 : cut >= 4 ? 1 : 0);
        g_free(copy);
    }
}

static void test_nested_package(void)
{
    uint8_t inner[16];
    size_t ilen = 0;
    static const uint8_t cert[] = { 0x00, 0x01, 0x30, 0x00 };
    g_assert_true(capf_field_encode(inner, sizeof(inner), &ilen, CAPF_PACKAGE_TAG_CERT, cert, sizeof(cert)));
    g_assert_cmpuint(ilen, ==, 7);
    g_assert_false(capf_field_encode(inner, 9, &ilen, 0x02, cert, sizeof(cert)));
    capf_field_t f;
    bool malformed = true;
    g_assert_true(capf_field_find(inner, ilen, CAPF_PACKAGE_TAG_CERT, &f, &malformed));
    g_assert_false(malformed);
    g_assert_cmpmem(f.value, f.len, cert, sizeof(cert));
    /* a length byte that lies: 0xffff announced, 4 there */
    inner[1] = 0xff;
    inner[2] = 0xff;
    g_assert_false(capf_field_find(inner, ilen, CAPF_PACKAGE_TAG_CERT, &f, &malformed));
    g_assert_true(malformed);
}

static void test_name_rules(void)
{
    static const uint8_t unterminated[] = { 0x0d, 0x00, 0x03, 'S', 'E', 'P' };
    static const uint8_t empty[] = { 0x0d, 0x00, 0x01, 0x00 };
    static const uint8_t control[] = { 0x0d, 0x00, 0x04, 'S', '\n', 'P', 0x00 };
    char name[8];
    g_assert_false(capf_field_name(unterminated, sizeof(unterminated), 0x0d, name, sizeof(name)));
    g_assert_false(capf_field_name(empty, sizeof(empty), 0x0d, name, sizeof(name)));
    g_assert_false(capf_field_name(control, sizeof(control), 0x0d, name, sizeof(name)));
}

static void test_overflow(void)
{
    capf_builder_t *b = g_new(capf_builder_t, 1);
    uint8_t *big = g_malloc0(CAPF_MSG_MAX_BODY);
    capf_build_begin(b, CAPF_OP_CERTIFICATE, 1);
    capf_build_field(b, CAPF_TAG_CERT_PACKAGE, big, CAPF_MSG_MAX_BODY - CAPF_FIELD_HEADER_LEN);
    g_assert_true(capf_build_end(b));
    g_assert_cmpuint(b->len, ==, CAPF_MSG_MAX);
    capf_build_u8(b, CAPF_TAG_STATUS, 1);
    g_assert_true(b->overflow);
    g_assert_false(capf_build_end(b));
    capf_build_begin(b, CAPF_OP_CERTIFICATE, 1);
    capf_build_field(b, CAPF_TAG_CERT_PACKAGE, big, CAPF_MSG_MAX_BODY);
    g_assert_false(capf_build_end(b));
    g_free(big);
    g_free(b);
}

static void test_names(void)
{
    g_assert_cmpstr(capf_opcode_name(CAPF_OP_CONTINUE), ==, "continue");
    g_assert_cmpstr(capf_opcode_name(0x42), ==, "unknown");
    g_assert_cmpstr(capf_status_name(CAPF_STATUS_ALREADY_ISSUED), ==, "already_issued");
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/capf-msg/build-request", test_build_request);
    g_test_add_func("/capf-msg/bad-magic", test_bad_magic);
    g_test_add_func("/capf-msg/truncated-fields", test_truncated_fields);
    g_test_add_func("/capf-msg/nested-package", test_nested_package);
    g_test_add_func("/capf-msg/name-rules", test_name_rules);
    g_test_add_func("/capf-msg/overflow", test_overflow);
    g_test_add_func("/capf-msg/names", test_names);
    return g_test_run();
}
