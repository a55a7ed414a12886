/* Unit tests for output/json.c: string escaping and UTF-8 repair, the
 * builder's nesting and commas, and the timestamp formats.  The expected
 * JSON text is written out in full in every case.
 */
#include "output/json.h"

#include <glib.h>
#include <string.h>

typedef struct escape_case {
    const char *name;
    const char *input;
    size_t len;
    const char *expected;
} escape_case_t;

#define CASE(name, literal, expected) { name, literal, sizeof(literal) - 1, expected }

static const escape_case_t escape_cases[] = {
    CASE("plain", "cucm-pub.example.com", "\"cucm-pub.example.com\""),
    CASE("empty", "", "\"\""),
    CASE("quote", "say \"hi\"", "\"say \\\"hi\\\"\""),
    CASE("backslash", "C:\\temp\\", "\"C:\\\\temp\\\\\""),
    CASE("slash stays", "a/b", "\"a/b\""),
    CASE("newline, return, tab", "a\nb\rc\td", "\"a\\nb\\rc\\td\""),
    CASE("control 0x01", "a\x01" "b", "\"a\\u0001b\""),
    CASE("control 0x1f", "\x1f", "\"\\u001f\""),
    CASE("backspace and form feed", "\b\f", "\"\\u0008\\u000c\""),
    CASE("escape character", "\x1b[31m", "\"\\u001b[31m\""),
    CASE("NUL inside", "a\0b", "\"a\\u0000b\""),
    CASE("DEL", "a\x7f" "b", "\"a\\u007fb\""),
    CASE("space and tilde", " ~", "\" ~\""),
    CASE("two-byte UTF-8", "Z\xc3\xbcrich", "\"Z\xc3\xbcrich\""),
    CASE("three-byte UTF-8", "\xe2\x82\xac" "5", "\"\xe2\x82\xac" "5\""),
    CASE("four-byte UTF-8", "\xf0\x9f\x98\x80", "\"\xf0\x9f\x98\x80\""),
    CASE("largest code point", "\xf4\x8f\xbf\xbf", "\"\xf4\x8f\xbf\xbf\""),
    CASE("lone 0xff", "a\xff" "b", "\"a\\ufffdb\""),
    CASE("lone continuation", "\x80", "\"\\ufffd\""),
    CASE("lead byte then ASCII", "\xc3" "A", "\"\\ufffdA\""),
    CASE("lead byte at the end", "ab\xc3", "\"ab\\ufffd\""),
    CASE("cut three-byte sequence", "\xe2\x82", "\"\\ufffd\\ufffd\""),
    CASE("overlong slash", "\xc0\xaf", "\"\\ufffd\\ufffd\""),
    CASE("surrogate", "\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\""),
    CASE("above U+10FFFF", "\xf4\x90\x80\x80", "\"\\ufffd\\ufffd\\ufffd\\ufffd\""),
    CASE("Latin-1 text", "caf\xe9!", "\"caf\\ufffd!\""),
    CASE("valid after invalid", "\xfe\xc3\xa9", "\"\\ufffd\xc3\xa9\""),
    CASE("mixed", "\"\x01\xff\xc3\xa9\\", "\"\\\"\\u0001\\ufffd\xc3\xa9\\\\\""),
};

static void test_escape(gconstpointer data)
{
    const escape_case_t *ec = data;
    /* An exactly sized copy without a terminator: the length rules. */
    char *copy = g_malloc(ec->len ? ec->len : 1);
    memcpy(copy, ec->input, ec->len);
    GString *out = g_string_new("x");
    json_escape_append(out, copy, ec->len);
    g_assert_cmpstr(out->str + 1, ==, ec->expected);
    g_assert_cmpint(out->str[0], ==, 'x'); /* appends, does not replace */
    g_assert_true(g_utf8_validate(out->str, (gssize)out->len, NULL));
    g_string_free(out, TRUE);
    g_free(copy);
}

/* json_string stops at the terminator; json_string_len does not. */
static void test_string_and_len(void)
{
    GString *out = g_string_new(NULL);
    json_t j;
    json_init(&j, out);
    json_object_begin(&j, NULL);
    json_string(&j, "a", "one\0two");
    json_string_len(&j, "b", "one\0two", 7);
    json_string_len(&j, "c", "prefix-only", 6);
    json_object_end(&j);
    g_assert_cmpstr(out->str, ==, "{\"a\":\"one\",\"b\":\"one\\u0000two\",\"c\":\"prefix\"}");
    g_string_free(out, TRUE);
}

static void test_keys_escaped(void)
{
    GString *out = g_string_new(NULL);
    json_t j;
    json_init(&j, out);
    json_object_begin(&j, NULL);
    json_int(&j, "we\"ird\n", 1);
    json_bool(&j, "\xff", false);
    json_object_end(&j);
    g_assert_cmpstr(out->str, ==, "{\"we\\\"ird\\n\":1,\"\\ufffd\":false}");
    g_string_free(out, TRUE);
}

static void test_scalars(void)
{
    GString *out = g_string_new(NULL);
    json_t j;
    json_init(&j, out);
    json_object_begin(&j, NULL);
    json_int(&j, "zero", 0);
    json_int(&j, "neg", -42);
    json_int(&j, "min", INT64_MIN);
    json_int(&j, "max", INT64_MAX);
    json_uint(&j, "umax", UINT64_MAX);
    json_bool(&j, "t", true);
    json_bool(&j, "f", false);
    json_null(&j, "n");
    json_string(&j, "s", NULL);
    json_object_end(&j);
    g_assert_cmpstr(out->str, ==,
                    "{\"zero\":0,\"neg\":-42,\"min\":-9223372036854775808,\"max\":9223372036854775807,"
                    "\"umax\":18446744073709551615,\"t\":true,\"f\":false,\"n\":null,\"s\":null}");
    g_string_free(out, TRUE);
}

static void test_nesting(void)
{
    GString *out = g_string_new(NULL);
    json_t j;
    json_init(&j, out);
    json_object_begin(&j, NULL);
    json_string(&j, "event_type", "tls");
    json_object_begin(&j, "tls");
    json_string(&j, "version", "TLSv1.2");
    json_array_begin(&j, "server_certs");
    json_object_begin(&j, NULL);
    json_string(&j, "subject", "CN=a");
    json_array_begin(&j, "san");
    json_string(&j, NULL, "a.example");
    json_string(&j, NULL, "b.example");
    json_array_end(&j);
    json_object_end(&j);
    json_object_begin(&j, NULL);
    json_string(&j, "subject", "CN=b");
    json_array_begin(&j, "san");
    json_array_end(&j);
    json_object_end(&j);
    json_array_end(&j);
    json_array_begin(&j, "alerts");
    json_object_begin(&j, NULL);
    json_uint(&j, "code", 48);
    json_object_end(&j);
    json_array_end(&j);
    json_object_begin(&j, "empty");
    json_object_end(&j);
    json_object_end(&j);
    json_array_begin(&j, "mixed");
    json_int(&j, NULL, 1);
    json_string(&j, NULL, NULL);
    json_array_begin(&j, NULL);
    json_array_end(&j);
    json_object_begin(&j, NULL);
    json_object_end(&j);
    json_bool(&j, NULL, true);
    json_array_end(&j);
    json_int(&j, "after", 7);
    json_object_end(&j);
    g_assert_cmpstr(out->str, ==,
                    "{\"event_type\":\"tls\",\"tls\":{\"version\":\"TLSv1.2\",\"server_certs\":["
                    "{\"subject\":\"CN=a\",\"san\":[\"a.example\",\"b.example\"]},"
                    "{\"subject\":\"CN=b\",\"san\":[]}],"
                    "\"alerts\":[{\"code\":48}],\"empty\":{}},"
                    "\"mixed\":[1,null,[],{},true],\"after\":7}");
    g_string_free(out, TRUE);
}

/* A fresh builder per event: json_init starts over on a new string. */
static void test_init_resets(void)
{
    GString *out = g_string_new(NULL);
    json_t j;
    json_init(&j, out);
    json_object_begin(&j, NULL);
    json_array_begin(&j, "a");
    json_int(&j, NULL, 1);
    json_array_end(&j);
    json_object_end(&j);
    g_assert_cmpstr(out->str, ==, "{\"a\":[1]}");
    g_string_truncate(out, 0);
    json_init(&j, out);
    json_object_begin(&j, NULL);
    json_int(&j, "b", 2);
    json_object_end(&j);
    g_assert_cmpstr(out->str, ==, "{\"b\":2}");
    g_string_free(out, TRUE);
}

/* As deep as the builder allows: [1,[1,[ ... ],2],2] */
static void test_deep_nesting(void)
{
    const int levels = JSON_MAX_DEPTH - 1;
    GString *out = g_string_new(NULL);
    GString *expected = g_string_new(NULL);
    json_t j;
    json_init(&j, out);
    for (int i = 0; i < levels; i++) {
        json_array_begin(&j, NULL);
        json_int(&j, NULL, 1);
        g_string_append(expected, i ? ",[1" : "[1");
    }
    for (int i = 0; i < levels; i++) {
        json_int(&j, NULL, 2);
        json_array_end(&j);
        g_string_append(expected, ",2]");
    }
    g_assert_cmpstr(out->str, ==, expected->str);
    g_string_free(out, TRUE);
    g_string_free(expected, TRUE);
}

typedef struct time_case {
    int64_t value;
    const char *expected;
} time_case_t;

static const time_case_t timestamp_cases[] = {
    { INT64_C(1547647502123456), "2019-01-16T14:05:02.123456+0000" },
    { INT64_C(1547647502000001), "2019-01-16T14:05:02.000001+0000" },
    { INT64_C(1547647502999999), "2019-01-16T14:05:02.999999+0000" },
    { 0, "1970-01-01T00:00:00.000000+0000" },
    { 1, "1970-01-01T00:00:00.000001+0000" },
    { -1, "1969-12-31T23:59:59.999999+0000" },
    { -999999, "1969-12-31T23:59:59.000001+0000" },
    { -1000000, "1969-12-31T23:59:59.000000+0000" },
    { -1000001, "1969-12-31T23:59:58.999999+0000" },
    { -1500000, "1969-12-31T23:59:58.500000+0000" },
    { INT64_C(951782399999999), "2000-02-28T23:59:59.999999+0000" },
    { INT64_C(951782400000000), "2000-02-29T00:00:00.000000+0000" },
    { INT64_C(2524607999500000), "2049-12-31T23:59:59.500000+0000" },
};

static void test_timestamp(void)
{
    for (size_t i = 0; i < G_N_ELEMENTS(timestamp_cases); i++) {
        char out[64];
        memset(out, 'X', sizeof(out));
        json_format_timestamp(timestamp_cases[i].value, out, sizeof(out));
        g_assert_cmpstr(out, ==, timestamp_cases[i].expected);
    }
    /* A short buffer is cut and terminated. */
    char small[11];
    json_format_timestamp(INT64_C(1547647502123456), small, sizeof(small));
    g_assert_cmpstr(small, ==, "2019-01-16");
}

static const time_case_t seconds_cases[] = {
    { 1547647502, "2019-01-16T14:05:02Z" },
    { 0, "1970-01-01T00:00:00Z" },
    { -1, "1969-12-31T23:59:59Z" },
    { 951782400, "2000-02-29T00:00:00Z" },
    { 2524608000, "2050-01-01T00:00:00Z" },
    { INT64_C(253402300799), "9999-12-31T23:59:59Z" },
};

static void test_time_seconds(void)
{
    for (size_t i = 0; i < G_N_ELEMENTS(seconds_cases); i++) {
        char out[64];
        memset(out, 'X', sizeof(out));
        json_format_time_seconds(seconds_cases[i].value, out, sizeof(out));
        g_assert_cmpstr(out, ==, seconds_cases[i].expected);
    }
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    /* A failed check marks its test failed and the run goes on, so one run
     * reports every failing case. */
    g_test_set_nonfatal_assertions();
    for (size_t i = 0; i < G_N_ELEMENTS(escape_cases); i++) {
        char *path = g_strdup_printf("/json/escape/%s", escape_cases[i].name);
        g_test_add_data_func(path, &escape_cases[i], test_escape);
        g_free(path);
    }
    g_test_add_func("/json/string-len", test_string_and_len);
    g_test_add_func("/json/keys-escaped", test_keys_escaped);
    g_test_add_func("/json/scalars", test_scalars);
    g_test_add_func("/json/nesting", test_nesting);
    g_test_add_func("/json/init-resets", test_init_resets);
    g_test_add_func("/json/deep-nesting", test_deep_nesting);
    g_test_add_func("/json/timestamp", test_timestamp);
    g_test_add_func("/json/time-seconds", test_time_seconds);
    return g_test_run();
}
