/* Accounting of memory against the global and per-flow caps, and the
 * counters of every cap that was hit.
 *
 * Everything that grows with traffic reserves before it grows and releases
 * when it shrinks: buffers that hold wire bytes (reassembly queues, partial
 * PDUs, fragments; also charged to their flow's own cap) and state (flows,
 * nDPI and TLS state, parsed certificates; global cap only).  A refused
 * reservation is counted under the cap's name; the caller then drops data
 * (reported as a gap) instead of growing.
 */
#ifndef ENROLLMON_MEMCAP_H
#define ENROLLMON_MEMCAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum cap_id {
    CAP_GLOBAL_MEMORY = 0,
    CAP_FLOW_MEMORY,
    CAP_QUEUED_SEGMENTS,
    CAP_HANDSHAKE_MESSAGE,
    CAP_MAX_FLOWS,
    CAP_FRAGMENT_DATAGRAMS,
    CAP_FRAGMENT_MEMORY,
    CAP_HTTP_BODY,          /* a body kept only up to http_body_cap */
    CAP_HTTP_HEADER,        /* a header block larger than the dissector takes */
    CAP_HTTP_PENDING,       /* requests waiting for answers on one connection */
    CAP_DNS_PENDING,        /* queries waiting for answers on one flow */
    CAP_DNS_NAMES,          /* the table of names asked for, oldest dropped */
    CAP_CERTSRV_REQUESTS,   /* the table of certsrv request numbers, oldest dropped */
    CAP_DIAGNOSIS_STATE,    /* the diagnosis's own state (open requests, servers watched) */
    CAP_COUNT
} cap_id_t;

const char *cap_name(cap_id_t cap);

typedef struct memcap {
    size_t global_limit;
    size_t flow_limit;
    size_t in_use;
    size_t peak;
    size_t buffers_in_use;   /* the part held in per-flow buffers (reassembly) */
    size_t buffers_peak;
    uint64_t hits[CAP_COUNT];
} memcap_t;

/* The per-flow share: lives in the flow, points at the shared accounting. */
typedef struct memcap_account {
    size_t in_use;
} memcap_account_t;

void memcap_init(memcap_t *mc, size_t global_limit, size_t flow_limit);

/* Reserves n bytes for a flow; false (and a counted hit) when either cap
 * would be exceeded.  account may be NULL for memory that belongs to no flow. */
bool memcap_reserve(memcap_t *mc, memcap_account_t *account, size_t n);
void memcap_release(memcap_t *mc, memcap_account_t *account, size_t n);
void memcap_count_hit(memcap_t *mc, cap_id_t cap);

#endif
