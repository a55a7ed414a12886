/* Flows: one per connection (TCP) or address/port pair (UDP), both
 * directions together, with the state every analysis layer keeps for it.
 */
#ifndef ENROLLMON_FLOW_H
#define ENROLLMON_FLOW_H

#include "../dissectors/decode.h"
#include "memcap.h"
#include "packet_info.h"
#include "tcp_reassembly.h"

#include <stdbool.h>
#include <stdint.h>

/* Directions are relative to the connection's initiator (the client). */
enum flow_dir { DIR_TO_SERVER = 0, DIR_TO_CLIENT = 1 };

typedef struct endpoint {
    ip_addr_t addr;
    uint16_t port;
} endpoint_t;

/* Canonical key: the lower endpoint first, so both directions match.  The
 * hash is computed once, when the key is made, and travels with it. */
typedef struct flow_key {
    endpoint_t lo;
    endpoint_t hi;
    uint8_t proto;
    uint32_t hash;
} flow_key_t;

typedef enum flow_timeout_class {
    FLOW_CLASS_TCP_OPENING = 0, /* SYN seen, no answer yet */
    FLOW_CLASS_TCP_OPEN,
    FLOW_CLASS_TCP_CLOSED,      /* FIN both ways, or RST: lingers briefly */
    FLOW_CLASS_UDP,
    FLOW_CLASS_COUNT
} flow_timeout_class_t;

typedef enum flow_end_reason {
    FLOW_END_NONE = 0,
    FLOW_END_CLOSED,      /* FIN both ways or RST, then the linger time passed */
    FLOW_END_TIMEOUT,     /* idle for the class's timeout in packet time */
    FLOW_END_CAPTURE_END, /* still open when the input ended */
    FLOW_END_EVICTED,     /* retired early to stay within max_flows */
    FLOW_END_REUSED,      /* a new SYN on the same ports after the old connection closed */
} flow_end_reason_t;

const char *flow_end_reason_name(flow_end_reason_t reason);

typedef struct tcp_flags_seen {
    uint32_t syn;        /* SYN without ACK, from the client, retransmissions included */
    uint32_t synack;
    uint32_t rst[2];
    uint32_t fin[2];
    bool handshake_complete;
} tcp_flags_seen_t;

typedef struct tls_conn tls_conn_t;
typedef struct capf_conn capf_conn_t;
typedef struct http_conn http_conn_t; /* monitor/http_flow.h */
typedef struct dns_conn dns_conn_t;   /* monitor/dns_flow.h */
typedef struct classify_flow classify_flow_t;

/* The last bytes of a direction's stream that could still be the start of
 * something an analyser looks for (a TLS record split over tiny segments). */
#define STREAM_CARRY_MAX 16

typedef struct stream_carry {
    uint8_t bytes[STREAM_CARRY_MAX];
    uint8_t len;
} stream_carry_t;

typedef struct flow {
    flow_key_t key;
    uint64_t id;
    endpoint_t client;
    endpoint_t server;
    uint8_t proto;
    bool client_is_lo;        /* the client is key.lo */
    int64_t first_ts_us;
    int64_t last_ts_us;
    packet_info_t first_packet;
    packet_info_t last_packet;
    uint64_t packets[2];
    uint64_t bytes[2];

    flow_timeout_class_t timeout_class;
    struct flow *older;       /* neighbours in the class's list, by last activity */
    struct flow *newer;

    tcp_flags_seen_t tcp_flags;
    int8_t closed_by;         /* direction of the first FIN or RST, -1 while open */
    bool closed_by_rst;       /* ... and whether it was an RST */
    packet_info_t closed_at;
    tcp_dir_t tcp[2];
    bool tcp_closed;

    memcap_account_t memory;  /* buffers (reassembly, partial PDUs): per-flow cap */
    size_t state_bytes;       /* the flow's own state, charged to the global cap only */
    tls_conn_t *tls;
    bool tls_seen;            /* TLS was found (the state is freed at close) */
    capf_conn_t *capf;        /* CAPF messages being followed (monitor/capf_flow.h) */
    classify_flow_t *classify;
    bool stream_ignored[2];   /* no analysis wants this direction's bytes */
    bool capf_plaintext;      /* CAPF in the clear on the CAPF port (tools that log plaintext) */
    bool http_plaintext;      /* the TCP stream itself is HTTP */
    bool dns_stream;          /* DNS over TCP */
    http_conn_t *http;        /* HTTP on this connection (plain, or inside TLS) */
    dns_conn_t *dns;          /* DNS on this flow (UDP, or TCP with length prefixes) */
    stream_carry_t carry[2];
    uint64_t stream_bytes[2]; /* ordered bytes delivered so far */
} flow_t;

/* Which direction a packet from (src, sport) travels in this flow. */
static inline int flow_dir_of(const flow_t *f, const ip_addr_t *src, uint16_t sport)
{
    return (ip_addr_compare(src, &f->client.addr) == 0 && sport == f->client.port) ? DIR_TO_SERVER
                                                                                   : DIR_TO_CLIENT;
}

#endif
