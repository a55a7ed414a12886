/* Cuts an ordered byte stream into PDUs whose length a dissector announces
 * from their first bytes, buffering only what has to be (a PDU that spans
 * deliveries), and skipping bodies the dissector does not want.
 *
 * The dissector's framer looks at the start of a PDU and answers:
 *   NEED_MORE(need)       at least `need` bytes from the PDU start are needed;
 *   READY(length, keep)   the PDU is `length` bytes; hand me the first `keep`
 *                         (keep == length for all of it, less to skip a body);
 *   INVALID               these bytes are not a PDU of this protocol.
 * PDUs that arrive whole inside one delivery are handed on in place.
 */
#ifndef ENROLLMON_PDU_STREAM_H
#define ENROLLMON_PDU_STREAM_H

#include "../dissectors/cursor.h"
#include "memcap.h"

#include <stdbool.h>
#include <stddef.h>

typedef enum pdu_status {
    PDU_NEED_MORE,
    PDU_READY,
    PDU_INVALID,
} pdu_status_t;

typedef struct pdu_frame {
    pdu_status_t status;
    size_t need;   /* NEED_MORE */
    size_t length; /* READY */
    size_t keep;   /* READY, <= length */
} pdu_frame_t;

typedef pdu_frame_t (*pdu_frame_fn)(void *ctx, byte_span_t start);
/* pdu holds the kept bytes; full_length is the PDU's whole length. */
typedef void (*pdu_handle_fn)(void *ctx, byte_span_t pdu, size_t full_length);

typedef struct pdu_stream {
    uint8_t *buf;
    size_t len;
    size_t alloc;
    size_t target;   /* bytes wanted in buf before asking the framer again */
    size_t skip;     /* body bytes still to drop */
    size_t pdu_length; /* full length of the PDU being buffered, 0 while unknown */
    bool invalid;    /* the framer rejected the stream; nothing more is cut */
    bool cap_hit;    /* a memory cap stopped buffering; the stream is out of step */
} pdu_stream_t;

typedef struct pdu_stream_env {
    memcap_t *memcap;
    memcap_account_t *account;
    pdu_frame_fn frame;
    pdu_handle_fn handle;
    void *ctx;
} pdu_stream_env_t;

void pdu_stream_init(pdu_stream_t *s);

/* Feeds the next bytes of the stream.  Returns false once the stream is out
 * of step (framer said INVALID, or a cap refused memory). */
bool pdu_stream_feed(pdu_stream_t *s, const pdu_stream_env_t *env, byte_span_t data);

/* Bytes missing from the stream.  Returns true when the stream is still in
 * step: the gap fell inside a body being skipped, or inside a PDU of known
 * length (that PDU is then dropped, the one after it starts where the
 * framing says).  False when the PDU boundaries are lost (the stream is
 * reset; the caller must find a boundary again). */
bool pdu_stream_gap(pdu_stream_t *s, const pdu_stream_env_t *env, uint64_t missing);

/* Forgets any partial PDU (after a gap) and clears the out-of-step state. */
void pdu_stream_reset(pdu_stream_t *s, const pdu_stream_env_t *env);

/* Frees the buffer and returns its memory. */
void pdu_stream_release(pdu_stream_t *s, memcap_t *memcap, memcap_account_t *account);

/* Bytes of a partial PDU being held. */
static inline size_t pdu_stream_pending(const pdu_stream_t *s)
{
    return s->len;
}

#endif
