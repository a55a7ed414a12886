/* IPv4 and IPv6 fragment reassembly (RFC 791, RFC 8200 section 4.5).
 *
 * Fragments are copied until their datagram is complete, then handed back
 * as one buffer holding an IP header and the whole payload, which the
 * caller decodes like any captured datagram.  Overlapping fragments: the
 * first copy wins.  Datagrams that do not complete within the timeout (in
 * packet time) are dropped and counted; held bytes count against their own cap.
 */
#ifndef ENROLLMON_IPFRAG_H
#define ENROLLMON_IPFRAG_H

#include "../dissectors/decode.h"
#include "limits.h"
#include "memcap.h"

#include <stdint.h>

typedef struct ipfrag_table ipfrag_table_t;

typedef struct ipfrag_stats {
    uint64_t fragments;
    uint64_t reassembled;
    uint64_t timed_out;
    uint64_t dropped;     /* refused by a cap, or impossible (too long, inconsistent) */
    uint64_t overlaps;
} ipfrag_stats_t;

ipfrag_table_t *ipfrag_table_new(const monitor_limits_t *limits, memcap_t *memcap);
void ipfrag_table_free(ipfrag_table_t *t);

/* Adds one fragment.  When it completes its datagram, returns a buffer with
 * the reassembled datagram (free with g_free) and its length; else NULL. */
uint8_t *ipfrag_add(ipfrag_table_t *t, const ip_result_t *frag, int64_t now_us, size_t *out_len);

/* Drops datagrams whose first fragment is older than the timeout. */
void ipfrag_expire(ipfrag_table_t *t, int64_t now_us);

const ipfrag_stats_t *ipfrag_stats(const ipfrag_table_t *t);

#endif
