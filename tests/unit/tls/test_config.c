/* Unit tests for monitor/config.c: defaults, loading a key file over them,
 * units, and every kind of error.
 */
#include "monitor/config.h"

#include <glib.h>
#include <glib/gstdio.h>
#include <stddef.h>
#include <string.h>

static char *tmp_dir;

/* Writes text to a new file in the test's directory and returns its path. */
static char *write_conf(const char *name, const char *text)
{
    char *path = g_build_filename(tmp_dir, name, NULL);
    GError *error = NULL;
    g_assert_true(g_file_set_contents(path, text, -1, &error));
    g_assert_no_error(error);
    return path;
}

static void assert_limits_default(const monitor_limits_t *l)
{
    g_assert_cmpuint(l->global_memory, ==, LIMITS_DEFAULT_GLOBAL_MEMORY);
    g_assert_cmpuint(l->flow_memory, ==, LIMITS_DEFAULT_FLOW_MEMORY);
    g_assert_cmpuint(l->max_queued_segments, ==, LIMITS_DEFAULT_MAX_QUEUED_SEGMENTS);
    g_assert_cmpuint(l->max_handshake_message, ==, LIMITS_DEFAULT_MAX_HANDSHAKE_MESSAGE);
    g_assert_cmpuint(l->max_flows, ==, LIMITS_DEFAULT_MAX_FLOWS);
    g_assert_cmpuint(l->max_fragment_datagrams, ==, LIMITS_DEFAULT_MAX_FRAGMENT_DATAGRAMS);
    g_assert_cmpuint(l->fragment_memory, ==, LIMITS_DEFAULT_FRAGMENT_MEMORY);
    g_assert_cmpuint(l->tcp_idle_timeout, ==, LIMITS_DEFAULT_TCP_IDLE_TIMEOUT);
    g_assert_cmpuint(l->tcp_closed_linger, ==, LIMITS_DEFAULT_TCP_CLOSED_LINGER);
    g_assert_cmpuint(l->tcp_unanswered_syn_timeout, ==, LIMITS_DEFAULT_TCP_UNANSWERED_SYN_TIMEOUT);
    g_assert_cmpuint(l->udp_idle_timeout, ==, LIMITS_DEFAULT_UDP_IDLE_TIMEOUT);
    g_assert_cmpuint(l->fragment_timeout, ==, LIMITS_DEFAULT_FRAGMENT_TIMEOUT);
    g_assert_cmpuint(l->classify_packet_budget, ==, LIMITS_DEFAULT_CLASSIFY_PACKET_BUDGET);
    g_assert_cmpuint(l->starttls_probe_bytes, ==, LIMITS_DEFAULT_STARTTLS_PROBE_BYTES);
}

static void assert_patterns_default(const cert_patterns_t *p)
{
    const cert_patterns_t *d = cert_patterns_default();
    g_assert_true(g_strv_equal((const char *const *)p->lsc_issuer_cn_prefixes,
                               (const char *const *)d->lsc_issuer_cn_prefixes));
    g_assert_true(g_strv_equal((const char *const *)p->mic_issuer_cns, (const char *const *)d->mic_issuer_cns));
}

static void test_defaults(void)
{
    monitor_config_t config;
    memset(&config, 0x7e, sizeof(config));
    config_defaults(&config);
    assert_patterns_default(&config.patterns);
    /* Copies, not the built-in vectors themselves. */
    g_assert_true(config.patterns.lsc_issuer_cn_prefixes != cert_patterns_default()->lsc_issuer_cn_prefixes);
    g_assert_true(config.patterns.mic_issuer_cns != cert_patterns_default()->mic_issuer_cns);
    monitor_limits_t limits;
    memset(&limits, 0, sizeof(limits)); /* padding too, for the byte compare */
    monitor_limits_default(&limits);
    g_assert_cmpmem(&config.limits, sizeof(config.limits), &limits, sizeof(limits));
    assert_limits_default(&config.limits);
    g_assert_null(config.source);
    config_clear(&config);
    g_assert_null(config.patterns.mic_issuer_cns);
}

/* The shipped enrollmon.conf holds the built-in defaults. */
static void test_shipped_file(void)
{
    const char *root = g_getenv("ENROLLMON_SOURCE_ROOT");
    if (!root) {
        g_test_skip("ENROLLMON_SOURCE_ROOT is not set");
        return;
    }
    char *path = g_build_filename(root, "config", "enrollmon.conf", NULL);
    monitor_config_t config;
    config_defaults(&config);
    GError *error = NULL;
    g_assert_true(config_load(&config, path, &error));
    g_assert_no_error(error);
    assert_patterns_default(&config.patterns);
    assert_limits_default(&config.limits);
    g_assert_cmpstr(config.source, ==, path);
    config_clear(&config);
    g_free(path);
}

static void test_load_overrides(void)
{
    char *path = write_conf("override.conf",
                            "# comment\n"
                            "[certificate-kinds]\n"
                            "lsc-issuer-cn-prefixes=LSC-; Phone CA \n"
                            "mic-issuer-cns=Acme Factory CA\n"
                            "\n"
                            "[limits]\n"
                            "global-memory-mb=3\n"
                            "flow-memory-kb=5\n"
                            "max-handshake-message-kb=2\n"
                            "tcp-idle-timeout=42\n"
                            "max-flows=17\n");
    monitor_config_t config;
    config_defaults(&config);
    GError *error = NULL;
    g_assert_true(config_load(&config, path, &error));
    g_assert_no_error(error);
    const char *lsc[] = { "LSC-", "Phone CA", NULL };
    const char *mic[] = { "Acme Factory CA", NULL };
    g_assert_true(g_strv_equal((const char *const *)config.patterns.lsc_issuer_cn_prefixes, lsc));
    g_assert_true(g_strv_equal((const char *const *)config.patterns.mic_issuer_cns, mic));
    g_assert_cmpuint(config.limits.global_memory, ==, (size_t)3 * 1024 * 1024);
    g_assert_cmpuint(config.limits.flow_memory, ==, (size_t)5 * 1024);
    g_assert_cmpuint(config.limits.max_handshake_message, ==, (size_t)2 * 1024);
    g_assert_cmpuint(config.limits.tcp_idle_timeout, ==, 42);
    g_assert_cmpuint(config.limits.max_flows, ==, 17);
    /* What the file does not name keeps its default. */
    g_assert_cmpuint(config.limits.fragment_memory, ==, LIMITS_DEFAULT_FRAGMENT_MEMORY);
    g_assert_cmpuint(config.limits.udp_idle_timeout, ==, LIMITS_DEFAULT_UDP_IDLE_TIMEOUT);
    g_assert_cmpuint(config.limits.starttls_probe_bytes, ==, LIMITS_DEFAULT_STARTTLS_PROBE_BYTES);
    g_assert_cmpstr(config.source, ==, path);
    config_clear(&config);
    g_free(path);
}

static void test_load_partial(void)
{
    /* Only limits: the patterns stay the defaults; only patterns: the
     * limits stay.  An empty file changes nothing. */
    const char *texts[] = {
        "[limits]\nmax-flows=5\n",
        "[certificate-kinds]\nlsc-issuer-cn-prefixes=X-\n",
        "",
    };
    for (size_t i = 0; i < G_N_ELEMENTS(texts); i++) {
        char *name = g_strdup_printf("partial%zu.conf", i);
        char *path = write_conf(name, texts[i]);
        monitor_config_t config;
        config_defaults(&config);
        GError *error = NULL;
        g_assert_true(config_load(&config, path, &error));
        g_assert_no_error(error);
        if (i == 0) {
            assert_patterns_default(&config.patterns);
            g_assert_cmpuint(config.limits.max_flows, ==, 5);
        } else if (i == 1) {
            g_assert_cmpstr(config.patterns.lsc_issuer_cn_prefixes[0], ==, "X-");
            g_assert_null(config.patterns.lsc_issuer_cn_prefixes[1]);
            g_assert_true(g_strv_equal((const char *const *)config.patterns.mic_issuer_cns,
                                       (const char *const *)cert_patterns_default()->mic_issuer_cns));
            assert_limits_default(&config.limits);
        } else {
            assert_patterns_default(&config.patterns);
            assert_limits_default(&config.limits);
        }
        config_clear(&config);
        g_free(path);
        g_free(name);
    }
}

static void test_load_empty_list(void)
{
    char *path = write_conf("empty-list.conf", "[certificate-kinds]\nmic-issuer-cns=\n");
    monitor_config_t config;
    config_defaults(&config);
    GError *error = NULL;
    g_assert_true(config_load(&config, path, &error));
    g_assert_no_error(error);
    g_assert_nonnull(config.patterns.mic_issuer_cns);
    g_assert_cmpuint(g_strv_length(config.patterns.mic_issuer_cns), ==, 0);
    config_clear(&config);
    g_free(path);
}

typedef struct limit_case {
    const char *key;
    size_t offset;
    bool is_size;
    uint64_t scale;
} limit_case_t;

#define LIMIT_CASE(key, field, is_size, scale) { key, offsetof(monitor_limits_t, field), is_size, scale }

static const limit_case_t limit_cases[] = {
    LIMIT_CASE("global-memory-mb", global_memory, true, 1024 * 1024),
    LIMIT_CASE("flow-memory-kb", flow_memory, true, 1024),
    LIMIT_CASE("max-queued-segments", max_queued_segments, false, 1),
    LIMIT_CASE("max-handshake-message-kb", max_handshake_message, true, 1024),
    LIMIT_CASE("max-flows", max_flows, false, 1),
    LIMIT_CASE("max-fragment-datagrams", max_fragment_datagrams, false, 1),
    LIMIT_CASE("fragment-memory-mb", fragment_memory, true, 1024 * 1024),
    LIMIT_CASE("tcp-idle-timeout", tcp_idle_timeout, false, 1),
    LIMIT_CASE("tcp-closed-linger", tcp_closed_linger, false, 1),
    LIMIT_CASE("tcp-unanswered-syn-timeout", tcp_unanswered_syn_timeout, false, 1),
    LIMIT_CASE("udp-idle-timeout", udp_idle_timeout, false, 1),
    LIMIT_CASE("fragment-timeout", fragment_timeout, false, 1),
    LIMIT_CASE("classify-packet-budget", classify_packet_budget, false, 1),
    LIMIT_CASE("starttls-probe-kb", starttls_probe_bytes, true, 1024),
};

static uint64_t limit_value(const monitor_limits_t *l, const limit_case_t *lc)
{
    const char *field = (const char *)l + lc->offset;
    if (lc->is_size) {
        size_t v;
        memcpy(&v, field, sizeof(v));
        return v;
    }
    unsigned v;
    memcpy(&v, field, sizeof(v));
    return v;
}

/* Each key, set alone, changes its own field by its unit and nothing else. */
static void test_limit_units(gconstpointer data)
{
    const limit_case_t *lc = data;
    static const uint64_t values[] = { 1, 7, 4096 };
    for (size_t i = 0; i < G_N_ELEMENTS(values); i++) {
        char *text = g_strdup_printf("[limits]\n%s=%" G_GUINT64_FORMAT "\n", lc->key, values[i]);
        char *path = write_conf("unit.conf", text);
        monitor_config_t config;
        config_defaults(&config);
        GError *error = NULL;
        g_assert_true(config_load(&config, path, &error));
        g_assert_no_error(error);
        g_assert_cmpuint(limit_value(&config.limits, lc), ==, values[i] * lc->scale);
        monitor_limits_t defaults;
        monitor_limits_default(&defaults);
        for (size_t k = 0; k < G_N_ELEMENTS(limit_cases); k++)
            if (&limit_cases[k] != lc)
                g_assert_cmpuint(limit_value(&config.limits, &limit_cases[k]), ==,
                                 limit_value(&defaults, &limit_cases[k]));
        config_clear(&config);
        g_free(path);
        g_free(text);
    }
}

typedef struct error_case {
    const char *name;
    const char *text;
    const char *in_message; /* must appear in the error message */
} error_case_t;

static const error_case_t error_cases[] = {
    { "unknown group", "[limits]\nmax-flows=5\n[tls-kinds]\nx=1\n", "tls-kinds" },
    { "unknown group only", "[certificate-kind]\nlsc-issuer-cn-prefixes=CAPF-\n", "certificate-kind" },
    { "unknown limit key", "[limits]\nmax-flowz=5\n", "max-flowz" },
    { "unknown kinds key", "[certificate-kinds]\nlsc-issuer-prefixes=CAPF-\n", "lsc-issuer-prefixes" },
    { "zero limit", "[limits]\nmax-flows=0\n", "max-flows" },
    { "zero memory", "[limits]\nglobal-memory-mb=0\n", "global-memory-mb" },
    { "word limit", "[limits]\ntcp-idle-timeout=ten\n", "tcp-idle-timeout" },
    { "number and word", "[limits]\nflow-memory-kb=12abc\n", "flow-memory-kb" },
    { "unit in value", "[limits]\nglobal-memory-mb=256MB\n", "global-memory-mb" },
    { "negative", "[limits]\nmax-flows=-1\n", "max-flows" },
    { "fraction", "[limits]\nfragment-timeout=1.5\n", "fragment-timeout" },
    { "empty value", "[limits]\nudp-idle-timeout=\n", "udp-idle-timeout" },
    { "too large", "[limits]\nmax-queued-segments=4294967296\n", "max-queued-segments" },
    { "not a key file", "max-flows=5\n", NULL },
    { "broken group line", "[limits\nmax-flows=5\n", NULL },
};

static void test_load_errors(gconstpointer data)
{
    const error_case_t *ec = data;
    char *path = write_conf("bad.conf", ec->text);
    monitor_config_t config;
    config_defaults(&config);
    GError *error = NULL;
    g_assert_false(config_load(&config, path, &error));
    g_assert_nonnull(error);
    if (error) {
        if (ec->in_message)
            g_assert_nonnull(strstr(error->message, ec->in_message));
        /* Every message names the file. */
        g_assert_nonnull(strstr(error->message, path));
        g_error_free(error);
    }
    g_assert_null(config.source);
    config_clear(&config);
    g_free(path);
}

static void test_missing_file(void)
{
    char *path = g_build_filename(tmp_dir, "does-not-exist.conf", NULL);
    monitor_config_t config;
    config_defaults(&config);
    GError *error = NULL;
    g_assert_false(config_load(&config, path, &error));
    g_assert_nonnull(error);
    if (error)
        g_assert_nonnull(strstr(error->message, path));
    g_assert_null(config.source);
    /* Nothing was changed. */
    assert_patterns_default(&config.patterns);
    assert_limits_default(&config.limits);
    g_clear_error(&error);
    config_clear(&config);
    g_free(path);
}

/* The key file's own leniency: spaces around '=' and list items. */
static void test_load_spacing(void)
{
    char *path = write_conf("spacing.conf",
                            "[limits]\n"
                            "max-flows = 12\n"
                            "[certificate-kinds]\n"
                            "mic-issuer-cns = Acme Factory CA ; Other CA\n");
    monitor_config_t config;
    config_defaults(&config);
    GError *error = NULL;
    g_assert_true(config_load(&config, path, &error));
    g_assert_no_error(error);
    g_clear_error(&error);
    g_assert_cmpuint(config.limits.max_flows, ==, 12);
    const char *mic[] = { "Acme Factory CA", "Other CA", NULL };
    g_assert_true(g_strv_equal((const char *const *)config.patterns.mic_issuer_cns, mic));
    config_clear(&config);
    g_free(path);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    /* A failed check marks its test failed and the run goes on, so one run
     * reports every failing case. */
    g_test_set_nonfatal_assertions();
    GError *error = NULL;
    tmp_dir = g_dir_make_tmp("enrollmon-config-XXXXXX", &error);
    g_assert_no_error(error);

    g_test_add_func("/config/defaults", test_defaults);
    g_test_add_func("/config/shipped-file", test_shipped_file);
    g_test_add_func("/config/load/overrides", test_load_overrides);
    g_test_add_func("/config/load/partial", test_load_partial);
    g_test_add_func("/config/load/empty-list", test_load_empty_list);
    g_test_add_func("/config/load/spacing", test_load_spacing);
    for (size_t i = 0; i < G_N_ELEMENTS(limit_cases); i++) {
        char *path = g_strdup_printf("/config/limits/%s", limit_cases[i].key);
        g_test_add_data_func(path, &limit_cases[i], test_limit_units);
        g_free(path);
    }
    for (size_t i = 0; i < G_N_ELEMENTS(error_cases); i++) {
        char *path = g_strdup_printf("/config/errors/%s", error_cases[i].name);
        g_test_add_data_func(path, &error_cases[i], test_load_errors);
        g_free(path);
    }
    g_test_add_func("/config/errors/missing-file", test_missing_file);

    int status = g_test_run();

    /* Remove what the tests wrote. */
    GDir *dir = g_dir_open(tmp_dir, 0, NULL);
    if (dir) {
        const char *name;
        while ((name = g_dir_read_name(dir))) {
            char *file = g_build_filename(tmp_dir, name, NULL);
            g_unlink(file);
            g_free(file);
        }
        g_dir_close(dir);
    }
    g_rmdir(tmp_dir);
    g_free(tmp_dir);
    return status;
}
