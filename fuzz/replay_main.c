/* The driver a fuzz target is linked with when there is no fuzzing engine:
 * it runs the target once on every file named, or on every file of every
 * directory named (its corpus), so the corpus, and every crash that became
 * a regression case in it, is replayed by the normal test suite.
 *
 *   fuzz-X [--quiet] FILE_OR_DIR...
 *
 * Exit 0 when every input ran (a bug aborts before that); 2 when an
 * argument cannot be read or no input was found at all: a replay that runs
 * nothing must not pass.
 */
#include "fuzz_target.h"

#include <glib.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct replay {
    unsigned inputs;
    double slowest_s;
    char *slowest_name;
} replay_t;

static bool replay_file(replay_t *r, const char *path)
{
    gchar *bytes = NULL;
    gsize len = 0;
    GError *error = NULL;
    if (!g_file_get_contents(path, &bytes, &len, &error)) {
        fprintf(stderr, "fuzz replay: cannot read %s: %s\n", path, error->message);
        g_error_free(error);
        return false;
    }
    /* An exact-size copy: a read past the input's end is caught by the
     * sanitizers, as under libFuzzer (g_file_get_contents adds a NUL). */
    uint8_t *input = g_memdup2(bytes, len);
    g_free(bytes);
    gint64 start = g_get_monotonic_time();
    LLVMFuzzerTestOneInput(input, len);
    double took_s = (double)(g_get_monotonic_time() - start) / 1e6;
    g_free(input);
    r->inputs++;
    if (took_s > r->slowest_s) {
        r->slowest_s = took_s;
        g_free(r->slowest_name);
        r->slowest_name = g_strdup(path);
    }
    return true;
}

static int by_name(gconstpointer a, gconstpointer b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Every regular file of the directory, in name order (the same order on
 * every machine). */
static bool replay_dir(replay_t *r, const char *dir_path)
{
    GError *error = NULL;
    GDir *dir = g_dir_open(dir_path, 0, &error);
    if (!dir) {
        fprintf(stderr, "fuzz replay: cannot open %s: %s\n", dir_path, error->message);
        g_error_free(error);
        return false;
    }
    GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
    for (const char *name; (name = g_dir_read_name(dir)) != NULL;) {
        char *path = g_build_filename(dir_path, name, NULL);
        if (g_file_test(path, G_FILE_TEST_IS_REGULAR))
            g_ptr_array_add(names, path);
        else
            g_free(path);
    }
    g_dir_close(dir);
    g_ptr_array_sort(names, by_name);
    bool ok = true;
    for (guint i = 0; i < names->len && ok; i++)
        ok = replay_file(r, g_ptr_array_index(names, i));
    g_ptr_array_free(names, TRUE);
    return ok;
}

int main(int argc, char **argv)
{
    bool quiet = argc > 1 && strcmp(argv[1], "--quiet") == 0;
    int first = quiet ? 2 : 1;
    if (first >= argc) {
        fprintf(stderr, "usage: %s [--quiet] FILE_OR_DIR...\n", argv[0]);
        return 2;
    }
    LLVMFuzzerInitialize(&argc, &argv);
    replay_t r = { 0, 0.0, NULL };
    for (int i = first; i < argc; i++) {
        bool ok = g_file_test(argv[i], G_FILE_TEST_IS_DIR) ? replay_dir(&r, argv[i])
                                                            : replay_file(&r, argv[i]);
        if (!ok)
            return 2;
    }
    if (r.inputs == 0) {
        fprintf(stderr, "fuzz replay: no input found in the paths given\n");
        return 2;
    }
    if (!quiet)
        printf("replayed %u inputs; the slowest took %.3f s (%s)\n", r.inputs, r.slowest_s,
               r.slowest_name);
    g_free(r.slowest_name);
    return 0;
}
