/* Reading capture files (pcap and pcapng, through libpcap) into the
 * workers, with one clear line for every way a file can be unusable.
 */
#ifndef ENROLLMON_CAPTURE_H
#define ENROLLMON_CAPTURE_H

#include "workers.h"

typedef enum capture_outcome {
    CAPTURE_COMPLETE = 0,
    CAPTURE_TRUNCATED, /* analysed up to a cut or damaged record */
    CAPTURE_FAILED,    /* nothing could be read */
} capture_outcome_t;

/* Feeds every packet of the file to the workers (pcap_file: path, which
 * must outlive the run; pcap_cnt: the frame number in the file).  For
 * TRUNCATED and FAILED, *message holds the line to show (free with g_free).
 * Files read (COMPLETE or TRUNCATED), truncated and failed are the caller's
 * to count. */
capture_outcome_t capture_read_file(const char *path, workers_t *workers, char **message);

/* Called now and then while a file is read: bytes of it read so far, its
 * size (0 when unknown), packets read from it. */
typedef void (*capture_progress_fn)(void *ctx, const char *path, uint64_t bytes_read,
                                    uint64_t bytes_total, uint64_t packets);

/* The same, telling progress to fn (may be NULL) every few thousand packets. */
capture_outcome_t capture_read_file_progress(const char *path, workers_t *workers,
                                             capture_progress_fn fn, void *ctx, char **message);

#endif
