#include "test_support.h"

#include <glib.h>
#include <string.h>

bool bytes_contain(const void *hay, size_t len, const char *needle)
{
    size_t n = strlen(needle);
    const unsigned char *h = hay;
    for (size_t i = 0; n && i + n <= len; i++)
        if (memcmp(h + i, needle, n) == 0)
            return true;
    return false;
}

char *read_text_file(const char *path)
{
    char *text = NULL;
    g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
    return text;
}

void check_json_lines(const char *path)
{
    char *python = g_find_program_in_path("python3");
    if (!python)
        return;
    char *argv[] = { python, "-c",
                     "import json,sys\n"
                     "for line in open(sys.argv[1]):\n"
                     "    json.loads(line)\n",
                     (char *)path, NULL };
    int status = 0;
    GError *error = NULL;
    g_assert_true(g_spawn_sync(NULL, argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, NULL, NULL, &status, &error));
    g_assert_no_error(error);
    g_assert_true(g_spawn_check_wait_status(status, NULL));
    g_free(python);
}
