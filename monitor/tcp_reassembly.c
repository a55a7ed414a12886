#include "tcp_reassembly.h"

#include "../dissectors/decode.h"

#include <glib.h>
#include <string.h>

struct queued_segment {
    queued_segment_t *next;
    uint64_t offset; /* stream offset of data[0] */
    size_t len;
    uint8_t data[];
};

/* What a queued segment costs against the caps: its bytes and its header. */
static size_t segment_cost(size_t len)
{
    return sizeof(queued_segment_t) + len;
}

void tcp_dir_init(tcp_dir_t *d)
{
    memset(d, 0, sizeof(*d));
}

static void deliver(tcp_dir_t *d, const tcp_reassembly_env_t *env, int dir, byte_span_t data)
{
    if (data.len == 0)
        return;
    d->next_seq += (uint32_t)data.len;
    d->delivered += data.len;
    d->stats.bytes_delivered += data.len;
    env->sink.data(env->sink.ctx, dir, data);
}

static void pop_head(tcp_dir_t *d, const tcp_reassembly_env_t *env)
{
    queued_segment_t *head = d->queue;
    d->queue = head->next;
    d->queued_bytes -= head->len;
    d->queued_count--;
    memcap_release(env->memcap, env->account, segment_cost(head->len));
    g_free(head);
}

/* Hands on every queued segment that now touches the delivered edge. */
static void drain(tcp_dir_t *d, const tcp_reassembly_env_t *env, int dir)
{
    while (d->queue && d->queue->offset <= d->delivered) {
        queued_segment_t *head = d->queue;
        uint64_t already = d->delivered - head->offset;
        if (already < head->len) {
            byte_span_t rest = { head->data + already, head->len - (size_t)already };
            /* Delivery may re-enter through a callback that frees nothing
             * here, so the segment stays owned until it is popped. */
            deliver(d, env, dir, rest);
        }
        pop_head(d, env);
    }
    if (d->fin_seen && !d->finished && d->next_seq == d->fin_seq)
        d->finished = true;
}

static queued_segment_t *new_segment(const tcp_reassembly_env_t *env, uint64_t offset,
                                     const uint8_t *data, size_t len)
{
    if (!memcap_reserve(env->memcap, env->account, segment_cost(len)))
        return NULL;
    queued_segment_t *seg = g_malloc(sizeof(*seg) + len);
    seg->next = NULL;
    seg->offset = offset;
    seg->len = len;
    memcpy(seg->data, data, len);
    return seg;
}

static void count_conflict(tcp_dir_t *d, const uint8_t *first, const uint8_t *second, size_t len)
{
    if (memcmp(first, second, len) != 0)
        d->stats.overlap_conflicts++;
}

typedef enum enqueue_result {
    ENQUEUED_NEW,     /* at least one byte was not queued before */
    ENQUEUED_NOTHING, /* every byte was already queued: a retransmission */
    ENQUEUE_REFUSED,  /* a cap refused memory at *refused_at (earlier pieces stay queued) */
} enqueue_result_t;

/* Inserts [offset, offset+len) into the sorted queue.  Parts already queued
 * keep their first copy; only the parts not yet present are added. */
static enqueue_result_t enqueue(tcp_dir_t *d, const tcp_reassembly_env_t *env, uint64_t offset,
                                const uint8_t *data, size_t len, uint64_t *refused_at)
{
    uint64_t end = offset + len;
    uint64_t pos = offset;
    bool added = false;
    queued_segment_t **link = &d->queue;
    while (pos < end) {
        queued_segment_t *cur = *link;
        if (cur && cur->offset + cur->len <= pos) {
            link = &cur->next;
            continue;
        }
        /* The piece before cur (or the tail when there is no cur). */
        uint64_t piece_end = cur && cur->offset < end ? cur->offset : end;
        if (pos < piece_end) {
            if (d->queued_count >= env->limits->max_queued_segments) {
                memcap_count_hit(env->memcap, CAP_QUEUED_SEGMENTS);
                *refused_at = pos;
                return ENQUEUE_REFUSED;
            }
            queued_segment_t *seg =
                new_segment(env, pos, data + (pos - offset), (size_t)(piece_end - pos));
            if (!seg) {
                *refused_at = pos;
                return ENQUEUE_REFUSED;
            }
            added = true;
            seg->next = cur;
            *link = seg;
            link = &seg->next;
            d->queued_bytes += seg->len;
            d->queued_count++;
            pos = piece_end;
            continue;
        }
        if (!cur)
            break;
        /* pos lies inside cur: compare the overlap, keep cur's bytes. */
        uint64_t overlap_end = cur->offset + cur->len < end ? cur->offset + cur->len : end;
        d->stats.overlap_bytes += overlap_end - pos;
        count_conflict(d, cur->data + (pos - cur->offset), data + (pos - offset),
                       (size_t)(overlap_end - pos));
        pos = overlap_end;
        link = &cur->next;
    }
    return added ? ENQUEUED_NEW : ENQUEUED_NOTHING;
}

/* Declares the bytes up to offset missing: a gap, then the stream goes on. */
static void skip_to(tcp_dir_t *d, const tcp_reassembly_env_t *env, int dir, uint64_t offset)
{
    uint64_t missing = offset - d->delivered;
    d->stats.gaps++;
    d->stats.gap_bytes += missing;
    d->next_seq += (uint32_t)missing;
    d->delivered += missing;
    env->sink.gap(env->sink.ctx, dir, missing);
    drain(d, env, dir);
}

/* Takes the bytes of one segment at a stream offset.  Every turn of the
 * loop delivers, queues, or moves the delivered edge, so it ends. */
static void accept_data(tcp_dir_t *d, const tcp_reassembly_env_t *env, int dir, uint64_t offset,
                        const uint8_t *bytes, size_t len)
{
    if (offset + len <= d->delivered) {
        d->stats.retransmitted_segments++;
        d->stats.overlap_bytes += len;
        return;
    }
    if (offset > d->delivered)
        d->stats.out_of_order_segments++;
    while (len > 0) {
        if (offset < d->delivered) {
            uint64_t behind = d->delivered - offset;
            if (behind >= len) {
                d->stats.overlap_bytes += len;
                return;
            }
            d->stats.overlap_bytes += behind;
            bytes += behind;
            len -= (size_t)behind;
            offset = d->delivered;
        }
        if (offset == d->delivered) {
            /* In order: hand on without a copy up to the first queued byte,
             * whose first copy then wins over ours. */
            size_t now = len;
            if (d->queue && d->queue->offset < offset + len)
                now = (size_t)(d->queue->offset - offset);
            byte_span_t span = { bytes, now };
            deliver(d, env, dir, span);
            bytes += now;
            len -= now;
            offset += now;
            /* The rest of this segment overlaps queued data that drain()
             * is about to hand on: compare it with every such segment. */
            uint64_t end = offset + len, edge = offset;
            for (queued_segment_t *q = d->queue; len > 0 && q && q->offset <= edge && q->offset < end;
                 q = q->next) {
                uint64_t to = q->offset + q->len < end ? q->offset + q->len : end;
                if (to > q->offset)
                    count_conflict(d, q->data, bytes + (q->offset - offset), (size_t)(to - q->offset));
                if (q->offset + q->len > edge)
                    edge = q->offset + q->len;
            }
            drain(d, env, dir);
            continue;
        }
        uint64_t refused_at = offset;
        switch (enqueue(d, env, offset, bytes, len, &refused_at)) {
        case ENQUEUED_NEW:
            return;
        case ENQUEUED_NOTHING:
            d->stats.retransmitted_segments++;
            return;
        case ENQUEUE_REFUSED:
            break;
        }
        /* What was queued before the refusal stays; go on from there. */
        bytes += refused_at - offset;
        len -= (size_t)(refused_at - offset);
        offset = refused_at;
        /* No room: give up the earliest hole, whichever segment lies beyond it. */
        if (d->queue && d->queue->offset < offset)
            skip_to(d, env, dir, d->queue->offset);
        else
            skip_to(d, env, dir, offset);
    }
}

void tcp_dir_segment(tcp_dir_t *d, const tcp_reassembly_env_t *env, int dir, uint32_t seq,
                     uint8_t flags, byte_span_t payload)
{
    uint32_t data_seq = seq;
    if (flags & TCP_FLAG_SYN) {
        if (!d->started || (!d->syn_seen && d->delivered == 0 && !d->queue)) {
            d->started = true;
            d->midstream = false;
            d->syn_seen = true;
            d->isn = seq;
            d->next_seq = seq + 1;
        }
        data_seq = seq + 1;
    } else if (!d->started) {
        if (payload.len == 0 && !(flags & TCP_FLAG_FIN))
            return; /* a pure ACK says nothing about where this side's data starts */
        d->started = true;
        d->midstream = true;
        d->isn = seq - 1;
        d->next_seq = seq;
    }
    if (flags & TCP_FLAG_RST)
        d->rst_seen = true;
    if ((flags & TCP_FLAG_FIN) && !d->fin_seen) {
        d->fin_seen = true;
        d->fin_seq = data_seq + (uint32_t)payload.len;
    }
    if (payload.len > 0) {
        d->stats.segments++;
        int32_t rel = (int32_t)(data_seq - d->next_seq);
        /* rel is the distance in sequence space, wrap-around included */
        int64_t offset = (int64_t)d->delivered + rel;
        const uint8_t *bytes = payload.ptr;
        size_t len = payload.len;
        if (offset < 0) {
            /* before the start of what we follow (mid-stream pick-up) */
            size_t before = (size_t)(-offset);
            if (before >= len) {
                len = 0;
            } else {
                bytes += before;
                len -= before;
                offset = 0;
            }
        }
        if (len > 0)
            accept_data(d, env, dir, (uint64_t)offset, bytes, len);
    }
    drain(d, env, dir);
}

void tcp_dir_peer_ack(tcp_dir_t *d, const tcp_reassembly_env_t *env, int dir, uint32_t ack)
{
    if (!d->started || !d->queue)
        return;
    int32_t ahead = (int32_t)(ack - d->next_seq);
    if (ahead <= 0)
        return;
    uint64_t acked_offset = d->delivered + (uint64_t)ahead;
    /* Only when the peer has acknowledged queued data past the hole: an ACK
     * that merely outruns our copy of the data may be capture reordering. */
    /* every hole with queued data behind it, up to the acknowledged point */
    while (d->queue && acked_offset > d->queue->offset && d->queue->offset > d->delivered)
        skip_to(d, env, dir, d->queue->offset);
}

void tcp_dir_flush(tcp_dir_t *d, const tcp_reassembly_env_t *env, int dir)
{
    while (d->queue) {
        if (d->queue->offset > d->delivered)
            skip_to(d, env, dir, d->queue->offset);
        else
            drain(d, env, dir);
    }
}

void tcp_dir_release(tcp_dir_t *d, const tcp_reassembly_env_t *env)
{
    while (d->queue)
        pop_head(d, env);
}
