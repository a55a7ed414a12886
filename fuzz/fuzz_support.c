#include "fuzz_support.h"

#include "monitor/keylog.h"
#include "output/eve.h"
#include "output/report.h"
#include "output/verdict_report.h"

#include <glib.h>
#include <stdlib.h>
#include <string.h>

FILE *fuzz_null_stream(void)
{
    static FILE *null_stream;
    if (!null_stream) {
        null_stream = fopen("/dev/null", "w");
        if (!null_stream) {
            fprintf(stderr, "fuzz: cannot open /dev/null\n");
            abort();
        }
    }
    return null_stream;
}

static void add_sink(analysis_t *a, event_sink_t *sink)
{
    if (!sink || a->sink_count >= ANALYSIS_MAX_SINKS)
        abort();
    a->sinks[a->sink_count++] = sink;
}

void fuzz_add_null_sinks(analysis_t *a)
{
    GError *error = NULL;
    event_sink_t *eve = eve_sink_new("/dev/null", &error);
    if (!eve) {
        fprintf(stderr, "fuzz: %s\n", error->message);
        abort();
    }
    add_sink(a, eve);
    add_sink(a, report_sink_new(fuzz_null_stream(), false));
    add_sink(a, verdict_report_new(fuzz_null_stream(), true, false));
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

static void load_keylog_or_abort(keylog_t *kl, const char *path)
{
    GError *error = NULL;
    if (!keylog_load_file(kl, path, &error)) {
        fprintf(stderr, "fuzz: ENROLLMON_FUZZ_KEYLOG: %s\n", error->message);
        abort();
    }
}

const tls_keys_t *fuzz_keys_from_env(void)
{
    static bool loaded;
    static tls_keys_t keys;
    if (loaded)
        return keys.keylog ? &keys : NULL;
    loaded = true;
    const char *path = g_getenv("ENROLLMON_FUZZ_KEYLOG");
    if (!path || !*path)
        return NULL;
    keys.keylog = keylog_new();
    if (!g_file_test(path, G_FILE_TEST_IS_DIR)) {
        load_keylog_or_abort(keys.keylog, path);
        return &keys;
    }
    GError *error = NULL;
    GDir *dir = g_dir_open(path, 0, &error);
    if (!dir) {
        fprintf(stderr, "fuzz: ENROLLMON_FUZZ_KEYLOG: %s\n", error->message);
        abort();
    }
    for (const char *name; (name = g_dir_read_name(dir)) != NULL;) {
        if (!ends_with(name, ".keys"))
            continue;
        char *file = g_build_filename(path, name, NULL);
        load_keylog_or_abort(keys.keylog, file);
        g_free(file);
    }
    g_dir_close(dir);
    return &keys;
}
