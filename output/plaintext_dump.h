/* Decrypted TLS application data written to files, one per connection and
 * direction: DIR/<flow id>-<client|server>.bin (what each side sent, in
 * order).  For comparing enrollmon's decryption with another tool's.
 */
#ifndef ENROLLMON_PLAINTEXT_DUMP_H
#define ENROLLMON_PLAINTEXT_DUMP_H

#include "../monitor/analysis.h"

#include <glib.h>

/* NULL with error set when DIR cannot be created. */
event_sink_t *plaintext_dump_sink_new(const char *dir, GError **error);

#endif
