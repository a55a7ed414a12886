/* The engines that analyse packets, one per worker thread, behind one
 * entry point for every packet source (files, live interfaces).
 *
 * With one worker the packet is analysed in the caller's thread.  With
 * several, each packet is copied to the queue of the worker its flow
 * belongs to, chosen by a hash that is the same in both directions (and for
 * every fragment of a datagram, and for the traffic inside a tunnel), so a
 * connection and all its state stay on one worker.  What crosses
 * connections (the diagnosis: CAPF to CES to CA, queue limits per server;
 * the certsrv ReqID table) and the outputs are shared, each record handed
 * over under one lock, so an event is written whole and the diagnosis sees
 * one stream.
 */
#ifndef ENROLLMON_WORKERS_H
#define ENROLLMON_WORKERS_H

#include "engine.h"

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct workers workers_t;

typedef struct workers_options {
    unsigned count;             /* worker threads; 0 or 1: analysed in the caller's thread */
    engine_options_t engine;    /* each worker's engine (the diagnosis, if any, is shared) */
    unsigned queue_packets;     /* per worker queue, in packets (0: a default) */
} workers_options_t;

/* NULL with error set when an engine cannot start. */
workers_t *workers_new(const workers_options_t *options, GError **error);

/* Frees the sinks too; finishes first if workers_finish was not called. */
void workers_free(workers_t *w);

/* A sink every worker's records go to (taken over). */
void workers_add_sink(workers_t *w, event_sink_t *sink);

/* One captured frame.  Blocks while the chosen worker's queue is full
 * (files: nothing is lost; live: the capture layer's buffer absorbs it and
 * counts its own drops). */
void workers_packet(workers_t *w, int linktype, int64_t ts_us, const uint8_t *data, size_t caplen,
                    size_t wirelen, const char *pcap_file, uint64_t pcap_cnt);

/* Time has passed without packets (live: wall-clock time): deadlines
 * before now_us fire, idle flows are retired. */
void workers_tick(workers_t *w, int64_t now_us);

/* A `stats` event now, the counts of every worker together (live, every
 * --stats-interval).  capture: the capture layer's own counters, or NULL. */
typedef struct capture_counters {
    uint64_t interfaces;        /* live interfaces (0: reading files) */
    uint64_t received;          /* packets the capture layer saw */
    uint64_t dropped;           /* dropped by the kernel: no room in the buffer */
    uint64_t if_dropped;        /* dropped by the interface or its driver */
} capture_counters_t;
void workers_emit_stats(workers_t *w, const capture_counters_t *capture);

/* The capture layer's counters as they stand (the final stats event, and
 * any later one, carry them). */
void workers_set_capture(workers_t *w, const capture_counters_t *capture);

/* A capture file was read (completely or up to a cut: truncated), or could
 * not be read at all (failed): counted in the stats events. */
void workers_count_file(workers_t *w, bool read, bool truncated, bool failed);

/* The input is over: the queues are drained, every open flow concluded, the
 * final stats emitted and the sinks finished. */
void workers_finish(workers_t *w);

/* Packets analysed so far, and distinct verdicts given (for a progress line). */
uint64_t workers_packets(const workers_t *w);
uint64_t workers_verdicts(const workers_t *w);

/* The run's counters of every worker together (after workers_finish: final). */
void workers_sum_stats(const workers_t *w, run_stats_t *stats);

#endif
