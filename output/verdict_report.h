/* The verdicts as a person reads them on the terminal.
 *
 * Offline, they are gathered and printed when the input ends, grouped by
 * device, then by server: each failure on one line (severity, id, device,
 * time, summary, frames) with the advice under it, successes counted, and a
 * table of every id at the end.  Live (as_they_come), each verdict is
 * printed the moment it is given, and the table closes the run.
 */
#ifndef ENROLLMON_VERDICT_REPORT_H
#define ENROLLMON_VERDICT_REPORT_H

#include "../monitor/analysis.h"

#include <stdbool.h>
#include <stdio.h>

typedef enum report_color {
    REPORT_COLOR_AUTO = 0,   /* when out is a terminal (and NO_COLOR is not set) */
    REPORT_COLOR_ALWAYS,
    REPORT_COLOR_NEVER,
} report_color_t;

/* "auto", "always", "never"; false for anything else. */
bool report_color_parse(const char *text, report_color_t *out);

/* Whether colour is used on out for this choice. */
bool report_color_enabled(report_color_t choice, FILE *out);

event_sink_t *verdict_report_new(FILE *out, bool color, bool as_they_come);

#endif
