/* The capture written again as pcapng with a packet comment on every frame
 * that is evidence for a verdict (`--write-pcapng OUT`), so Wireshark shows
 * enrollmon's verdicts in its packet list (frame.comment) and its Expert
 * Information.
 *
 * The sink keeps the latest state of each verdict (an update can add
 * frames); annotate_write reads the inputs again once the run is over.  A
 * verdict's frames are numbers in the capture file its packet came from.
 */
#ifndef ENROLLMON_ANNOTATE_H
#define ENROLLMON_ANNOTATE_H

#include "../monitor/analysis.h"

#include <glib.h>
#include <stdbool.h>

event_sink_t *annotate_sink_new(void);

/* Writes out_path from the capture files (in the order they were read);
 * the sink must still exist (before the sinks are destroyed).  False with
 * error set (one line) on a problem. */
bool annotate_write(event_sink_t *sink, char **read_files, const char *out_path, GError **error);

/* Frames given a comment by the last annotate_write. */
unsigned annotate_frames_written(const event_sink_t *sink);

#endif
