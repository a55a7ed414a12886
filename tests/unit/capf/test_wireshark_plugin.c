/* Unit tests for output/wireshark_plugin.c: the Lua text carries every
 * opcode, tag and status of capf_proto's tables (name and label, under its
 * value), the constants of the framing, and the field names the README
 * documents; the export writes exactly that text and fails cleanly on a
 * directory it cannot write.  (tests/e2e/wireshark runs it in tshark.)
 */
#include "dissectors/capf.h"
#include "output/wireshark_plugin.h"

#include <glib.h>
#include <glib/gstdio.h>
#include <string.h>

/* The Lua string literal a name is written as (the tables hold no quote,
 * backslash or control byte; the check below makes sure of it). */
static char *quoted(const char *text)
{
    for (const char *p = text; *p; p++)
        g_assert_true(*p != '"' && *p != '\\' && (unsigned char)*p >= 0x20);
    return g_strdup_printf("\"%s\"", text);
}

/* `[0xNN] = "text",` inside the Lua table `local NAME = {`. */
static void assert_entry(const char *lua, const char *table, uint8_t value, const char *text)
{
    char *head = g_strdup_printf("local %s = {\n", table);
    const char *start = strstr(lua, head);
    g_assert_nonnull(start);
    const char *end = strstr(start, "\n}\n");
    g_assert_nonnull(end);
    char *q = quoted(text);
    char *entry = g_strdup_printf("    [0x%02x] = %s,\n", (unsigned)value, q);
    char *body = g_strndup(start, (gsize)(end - start) + 1);
    if (!strstr(body, entry))
        g_test_message("missing in %s: %s", table, entry);
    g_assert_nonnull(strstr(body, entry));
    g_free(body);
    g_free(entry);
    g_free(q);
    g_free(head);
}

static void assert_table(const char *lua, const char *names, const char *labels, const capf_name_t *table,
                         size_t count)
{
    g_assert_cmpuint(count, >, 0);
    for (size_t i = 0; i < count; i++) {
        assert_entry(lua, names, table[i].value, table[i].name);
        assert_entry(lua, labels, table[i].value, table[i].label);
    }
}

static void test_every_name(void)
{
    char *lua = wireshark_plugin_lua();
    assert_table(lua, "opcode_names", "opcode_labels", capf_opcodes, capf_opcode_count);
    assert_table(lua, "tag_names", "tag_labels", capf_tags, capf_tag_count);
    assert_table(lua, "status_names", "status_labels", capf_statuses, capf_status_count);
    g_free(lua);
}

static void test_constants_and_fields(void)
{
    char *lua = wireshark_plugin_lua();
    char *line = g_strdup_printf("local CAPF_DEFAULT_PORT = %d\n", CAPF_DEFAULT_PORT);
    g_assert_nonnull(strstr(lua, line));
    g_free(line);
    line = g_strdup_printf("local CAPF_MAGIC = 0x%02x\n", CAPF_MAGIC);
    g_assert_nonnull(strstr(lua, line));
    g_free(line);
    line = g_strdup_printf("local HEADER_LEN = %d\n", CAPF_HEADER_LEN);
    g_assert_nonnull(strstr(lua, line));
    g_free(line);
    line = g_strdup_printf("local DEVICE_MAX = %d\n", CAPF_DEVICE_MAX);
    g_assert_nonnull(strstr(lua, line));
    g_free(line);
    static const char *const fields[] = {
        "\"capf.magic\"", "\"capf.opcode\"", "\"capf.session_id\"", "\"capf.length\"", "\"capf.field\"",
        "\"capf.field.tag\"", "\"capf.field.len\"", "\"capf.field.value\"", "\"capf.device\"",
        "\"capf.status\"", "\"capf.cert\"", "Proto(\"capf\"", "Pref.uint(", "DissectorTable.get(\"tls.port\")",
        "DissectorTable.get(\"tcp.port\")", "desegment_len", "desegment_offset", "ProtoExpert.new(\"capf.refused\"",
        "ProtoExpert.new(\"capf.unknown_opcode\"",
    };
    for (size_t i = 0; i < G_N_ELEMENTS(fields); i++) {
        if (!strstr(lua, fields[i]))
            g_test_message("missing: %s", fields[i]);
        g_assert_nonnull(strstr(lua, fields[i]));
    }
    /* The same text every time. */
    char *again = wireshark_plugin_lua();
    g_assert_cmpstr(lua, ==, again);
    g_free(again);
    g_free(lua);
}

static void test_export(void)
{
    GError *error = NULL;
    char *tmp = g_dir_make_tmp("capf-plugin-XXXXXX", &error);
    g_assert_no_error(error);
    char *dir = g_build_filename(tmp, "plugins", NULL); /* created by the export */
    char *path = NULL;
    g_assert_true(wireshark_plugin_export(dir, &path, &error));
    g_assert_no_error(error);
    char *expected_path = g_build_filename(dir, WIRESHARK_PLUGIN_FILE, NULL);
    g_assert_cmpstr(path, ==, expected_path);
    char *written = NULL;
    g_assert_true(g_file_get_contents(path, &written, NULL, NULL));
    char *lua = wireshark_plugin_lua();
    g_assert_cmpstr(written, ==, lua);

    /* A "directory" that is a file: an error, nothing written. */
    char *not_dir = g_build_filename(path, "below", NULL);
    char *bad_path = NULL;
    g_assert_false(wireshark_plugin_export(not_dir, &bad_path, &error));
    g_assert_nonnull(error);
    g_assert_null(bad_path);
    g_assert_nonnull(strstr(error->message, not_dir));
    g_clear_error(&error);

    g_remove(path);
    g_rmdir(dir);
    g_rmdir(tmp);
    g_free(not_dir);
    g_free(lua);
    g_free(written);
    g_free(expected_path);
    g_free(path);
    g_free(dir);
    g_free(tmp);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/wireshark-plugin/every-name", test_every_name);
    g_test_add_func("/wireshark-plugin/constants-and-fields", test_constants_and_fields);
    g_test_add_func("/wireshark-plugin/export", test_export);
    return g_test_run();
}
