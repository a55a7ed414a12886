/* Key log parsing (NSS key log format, as SSLKEYLOGFILE writes it): the
 * input is written to a file and read as --keylog reads one; then each of
 * its lines is added alone (a bad line is refused, the others kept), and
 * the client randoms are looked up.  No secret may be written anywhere,
 * and nothing may be read past a line. */
#include "../fuzz_target.h"

#include "monitor/keylog.h"

#include <glib.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *keylog_path; /* one file per process, rewritten for each input */

static void remove_keylog_file(void)
{
    g_unlink(keylog_path);
    g_free(keylog_path);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    GError *error = NULL;
    int fd = g_file_open_tmp("enrollmon-fuzz-keylog-XXXXXX", &keylog_path, &error);
    if (fd < 0) {
        fprintf(stderr, "fuzz: %s\n", error->message);
        abort();
    }
    close(fd);
    atexit(remove_keylog_file);
    return 0;
}

static void load_as_file(const uint8_t *data, size_t size)
{
    GError *error = NULL;
    if (!g_file_set_contents(keylog_path, (const char *)data, (gssize)size, &error)) {
        fprintf(stderr, "fuzz: %s\n", error->message);
        abort();
    }
    keylog_t *kl = keylog_new();
    if (!keylog_load_file(kl, keylog_path, &error))
        g_clear_error(&error);
    keylog_free(kl);
}

/* Every line alone, as a NUL-terminated copy; the 32 bytes after each
 * line's first space looked up as a client random. */
static void add_lines(const uint8_t *data, size_t size)
{
    keylog_t *kl = keylog_new();
    size_t start = 0;
    while (start < size) {
        const uint8_t *lf = memchr(data + start, '\n', size - start);
        size_t end = lf ? (size_t)(lf - data) : size;
        char *line = g_strndup((const char *)data + start, end - start);
        (void)keylog_add_line(kl, line);
        g_free(line);
        uint8_t random[KEYLOG_RANDOM_LEN] = { 0 };
        size_t n = end - start < KEYLOG_RANDOM_LEN ? end - start : KEYLOG_RANDOM_LEN;
        memcpy(random, data + start, n);
        (void)keylog_lookup(kl, random);
        start = end + 1;
    }
    (void)keylog_count(kl);
    keylog_free(kl);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    load_as_file(data, size);
    add_lines(data, size);
    return 0;
}
