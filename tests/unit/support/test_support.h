/* Helpers that several unit test programs need alike: searching bytes,
 * reading a file the code under test wrote, and checking that an events
 * file is JSON lines.
 */
#ifndef ENROLLMON_TEST_SUPPORT_H
#define ENROLLMON_TEST_SUPPORT_H

#include <stdbool.h>
#include <stddef.h>

/* Whether needle's bytes occur in [hay, hay + len) (memmem is a GNU extension). */
bool bytes_contain(const void *hay, size_t len, const char *needle);

/* The whole file as a string (the test fails when it cannot be read); g_free it. */
char *read_text_file(const char *path);

/* Every line must be JSON (checked with Python's parser when present, so
 * the tests still run where there is no Python). */
void check_json_lines(const char *path);

#endif
