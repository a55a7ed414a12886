/* The JSON-lines event stream (docs: events.md), one event per line, in the
 * EVE layout.  Each line is built whole and written with one call, so lines
 * never interleave.
 */
#ifndef ENROLLMON_EVE_H
#define ENROLLMON_EVE_H

#include "../monitor/analysis.h"

#include <glib.h>

/* path "-" is standard output.  NULL with error set when it cannot be opened. */
event_sink_t *eve_sink_new(const char *path, GError **error);

/* True when a write failed (disk full, closed pipe): reported once on stderr. */
bool eve_sink_failed(const event_sink_t *sink);

#endif
