/* A small JSON text builder for one event at a time.  Strings are escaped
 * and made valid UTF-8 (invalid bytes become U+FFFD), so nothing taken from
 * the wire can break a line of output.
 */
#ifndef ENROLLMON_JSON_H
#define ENROLLMON_JSON_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#define JSON_MAX_DEPTH 32

typedef struct json {
    GString *out;
    int depth;
    bool first[JSON_MAX_DEPTH];
} json_t;

void json_init(json_t *j, GString *out);

/* key is NULL inside arrays (and for the top-level object). */
void json_object_begin(json_t *j, const char *key);
void json_object_end(json_t *j);
void json_array_begin(json_t *j, const char *key);
void json_array_end(json_t *j);

void json_string(json_t *j, const char *key, const char *value); /* NULL writes null */
void json_string_len(json_t *j, const char *key, const char *value, size_t len);
void json_int(json_t *j, const char *key, int64_t value);
void json_uint(json_t *j, const char *key, uint64_t value);
void json_bool(json_t *j, const char *key, bool value);
void json_null(json_t *j, const char *key);

/* Appends value as a JSON string literal (quotes included). */
void json_escape_append(GString *out, const char *value, size_t len);

/* "2019-01-16T14:05:02.123456+0000" (EVE's form, always UTC). */
void json_format_timestamp(int64_t ts_us, char *out, size_t out_len);
/* "2019-01-16T14:05:02Z", for certificate validity. */
void json_format_time_seconds(int64_t epoch, char *out, size_t out_len);

#endif
