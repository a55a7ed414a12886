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
/* The same; append: add to what the file holds (live: a restarted service
 * keeps the events it wrote before). */
event_sink_t *eve_sink_open(const char *path, bool append, GError **error);

/* True when a write failed (disk full, closed pipe) or the file could not
 * be reopened: reported once on stderr. */
bool eve_sink_failed(const event_sink_t *sink);

/* Live: flush after every event, so that each line reaches the file the
 * moment it is written (a verdict within the second it is given). */
void eve_sink_set_flush_each(event_sink_t *sink, bool on);

/* Closes the file and opens it again under its name (log rotation, on
 * SIGHUP), appending if something already made it anew.  Safe while
 * another thread writes events.  Standard output is left alone.  On failure
 * the events keep going to the old file, false is returned with error set,
 * and eve_sink_failed is true from then on. */
bool eve_sink_reopen(event_sink_t *sink, GError **error);

#endif
