/* NSS key log files (the SSLKEYLOGFILE format): secrets by client random.
 *
 *   CLIENT_RANDOM <client random hex> <master secret hex>            TLS 1.2 and earlier
 *   CLIENT_HANDSHAKE_TRAFFIC_SECRET / SERVER_HANDSHAKE_TRAFFIC_SECRET
 *   CLIENT_TRAFFIC_SECRET_0 / SERVER_TRAFFIC_SECRET_0                TLS 1.3
 * (other labels, such as EXPORTER_SECRET and CLIENT_EARLY_TRAFFIC_SECRET,
 * are accepted and ignored).  Comment lines start with '#'.
 *
 * Secrets never appear in any output or error message: errors name the
 * file and the line number only.
 */
#ifndef ENROLLMON_KEYLOG_H
#define ENROLLMON_KEYLOG_H

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KEYLOG_RANDOM_LEN 32
#define KEYLOG_MAX_SECRET 64 /* SHA-384 traffic secrets are 48 bytes; leave room */

typedef struct keylog_secret {
    size_t len;           /* 0: not present */
    uint8_t bytes[KEYLOG_MAX_SECRET];
} keylog_secret_t;

typedef struct keylog_entry {
    keylog_secret_t master;                 /* CLIENT_RANDOM: 48 bytes */
    keylog_secret_t client_handshake;
    keylog_secret_t server_handshake;
    keylog_secret_t client_traffic0;
    keylog_secret_t server_traffic0;
} keylog_entry_t;

typedef struct keylog keylog_t;

keylog_t *keylog_new(void);
void keylog_free(keylog_t *kl);

/* Adds the secrets of one file.  On a file that cannot be read, or a line
 * that is not key log syntax, returns false with error set to one line that
 * names the file and the line ("keys.txt line 12: not an NSS key log line"),
 * never the line's content. */
bool keylog_load_file(keylog_t *kl, const char *path, GError **error);

/* Adds one line (the same syntax); false for a malformed line. */
bool keylog_add_line(keylog_t *kl, const char *line);

/* The secrets for a client random, or NULL. */
const keylog_entry_t *keylog_lookup(const keylog_t *kl, const uint8_t random[KEYLOG_RANDOM_LEN]);

/* Number of client randoms with at least one secret. */
unsigned keylog_count(const keylog_t *kl);

#endif
