/* The readable report: one line per TLS connection when it ends (both
 * sides' certificate kinds, the alerts), and a summary at the end.
 */
#ifndef ENROLLMON_REPORT_H
#define ENROLLMON_REPORT_H

#include "../monitor/analysis.h"

#include <stdbool.h>
#include <stdio.h>

/* quiet: only the summary, no per-connection lines. */
event_sink_t *report_sink_new(FILE *out, bool quiet);

/* Live: each stats event (every --stats-interval, and at the end) is one
 * line; the full summary is printed when the run ends. */
void report_sink_set_live(event_sink_t *sink, bool live);

#endif
