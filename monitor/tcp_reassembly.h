/* TCP stream reassembly, one direction at a time.
 *
 * In-order data is handed on straight from the packet without a copy; only
 * segments that arrive ahead of a hole are copied into a queue, charged to
 * the flow's and the global memory caps.  Overlapping data: the first copy
 * wins and differing bytes are counted as conflicts.  A hole becomes a gap
 * (reported, then the stream goes on) when the queue hits a cap, when the
 * peer acknowledges data beyond it, when the connection ends, or when the
 * flow is retired.  Sequence numbers are compared modulo 2^32, so streams
 * that wrap are followed; offsets handed on are 64-bit stream positions.
 */
#ifndef ENROLLMON_TCP_REASSEMBLY_H
#define ENROLLMON_TCP_REASSEMBLY_H

#include "../dissectors/cursor.h"
#include "limits.h"
#include "memcap.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct tcp_dir_stats {
    uint64_t segments;              /* segments that carried data */
    uint64_t bytes_delivered;
    uint64_t retransmitted_segments; /* data wholly seen before */
    uint64_t out_of_order_segments;
    uint64_t overlap_bytes;         /* bytes that arrived twice */
    uint64_t overlap_conflicts;     /* overlapping bytes that differed from the first copy */
    uint64_t gaps;
    uint64_t gap_bytes;
} tcp_dir_stats_t;

typedef struct queued_segment queued_segment_t;

typedef struct tcp_dir {
    bool started;
    bool midstream;        /* first seen without its SYN */
    bool syn_seen;
    bool fin_seen;
    bool finished;         /* all data up to the FIN delivered */
    bool rst_seen;
    uint32_t isn;
    uint32_t next_seq;     /* sequence number of the next byte to deliver */
    uint64_t delivered;    /* stream offset of next_seq */
    uint32_t fin_seq;
    queued_segment_t *queue;
    size_t queued_bytes;
    unsigned queued_count;
    tcp_dir_stats_t stats;
} tcp_dir_t;

/* What the reassembler calls with the ordered stream. */
typedef struct tcp_stream_sink {
    void (*data)(void *ctx, int dir, byte_span_t data);
    void (*gap)(void *ctx, int dir, uint64_t missing_bytes);
    void *ctx;
} tcp_stream_sink_t;

typedef struct tcp_reassembly_env {
    memcap_t *memcap;
    memcap_account_t *account;
    const monitor_limits_t *limits;
    tcp_stream_sink_t sink;
} tcp_reassembly_env_t;

void tcp_dir_init(tcp_dir_t *d);

/* One segment of direction dir (an index the sink gets back). */
void tcp_dir_segment(tcp_dir_t *d, const tcp_reassembly_env_t *env, int dir, uint32_t seq,
                     uint8_t flags, byte_span_t payload);

/* The other side acknowledged up to ack: if that lies beyond a hole which
 * has queued data behind it, the hole's bytes were sent and missed by the
 * capture, so it becomes a gap now rather than blocking the stream. */
void tcp_dir_peer_ack(tcp_dir_t *d, const tcp_reassembly_env_t *env, int dir, uint32_t ack);

/* Delivers everything queued, declaring the holes as gaps (connection end,
 * flow retired, end of capture). */
void tcp_dir_flush(tcp_dir_t *d, const tcp_reassembly_env_t *env, int dir);

/* Frees the queue and returns its memory to the caps. */
void tcp_dir_release(tcp_dir_t *d, const tcp_reassembly_env_t *env);

#endif
