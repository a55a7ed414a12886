/* A one-line progress display for long offline runs on a terminal: the
 * share of the input read, packets per second and verdicts so far,
 * rewritten in place on standard error at most a few times a second, and
 * erased when the run ends.  Nothing at all when the stream is not a
 * terminal (logs and pipes stay clean).
 */
#ifndef ENROLLMON_PROGRESS_H
#define ENROLLMON_PROGRESS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

typedef struct progress progress_t;

/* NULL when out is not a terminal: callers then skip progress entirely. */
progress_t *progress_new(FILE *out, uint64_t total_bytes);
/* total_bytes: every input file together; done: of it so far. */
void progress_update(progress_t *p, const char *file, uint64_t done_bytes, uint64_t packets,
                     uint64_t verdicts);
/* Erases the line until the next update (before printing something else). */
void progress_erase(progress_t *p);
/* Erases the line. */
void progress_free(progress_t *p);

#endif
