/* DNS on a flow: queries paired with their responses, one `dns` event per
 * transaction (a query and its response, a query that got none, or a
 * response whose query was not seen), and the run's table of names
 * (dns_names.h) kept up to date.
 *
 * UDP: each payload is one message (dns_flow_datagram).  The UDP flow is
 * per address/port pair, so a client that asks many questions from one port
 * is one flow: queries waiting for their answer are kept in a bounded table
 * and paired by (id, question name, question type); a response from the
 * side that asked is not an answer.  TCP: each direction's ordered bytes
 * carry messages behind 2-byte lengths (RFC 1035 4.2.2, RFC 7766).
 *
 * A query left without a response for more than DNS_QUERY_TIMEOUT_US of
 * packet time is reported as unanswered when a later packet of the flow
 * arrives, and every query still waiting when the flow ends is reported
 * then, with how long it waited.  Copies of a waiting query (same id, name
 * and type) are retransmissions of it, not new questions.
 */
#ifndef ENROLLMON_DNS_FLOW_H
#define ENROLLMON_DNS_FLOW_H

#include "../dissectors/dns.h"
#include "analysis.h"
#include "flow.h"
#include "pdu_stream.h"

#include <stdbool.h>
#include <stdint.h>

/* A query older than this (packet time) is given up when a later packet
 * of its flow arrives. */
#define DNS_QUERY_TIMEOUT_US ((int64_t)10 * 1000000)
/* Queries waiting at once per flow; beyond it the oldest is reported as
 * unanswered (DNS_UNANSWERED_EVICTED) and counted. */
#define DNS_FLOW_MAX_PENDING 64
/* Answer records a transaction points at (more are counted). */
#define DNS_TX_ANSWERS_MAX 32
/* Frames of retransmitted copies of a query that are kept. */
#define DNS_RETRANSMITS_KEPT 4

typedef enum dns_transport { DNS_TRANSPORT_UDP = 0, DNS_TRANSPORT_TCP } dns_transport_t;

/* "udp", "tcp". */
const char *dns_transport_name(dns_transport_t transport);

/* Why a query is reported without a response. */
typedef enum dns_unanswered {
    DNS_UNANSWERED_NONE = 0,  /* answered, or a response alone */
    DNS_UNANSWERED_TIMEOUT,   /* no response within DNS_QUERY_TIMEOUT_US */
    DNS_UNANSWERED_FLOW_END,  /* the flow ended first */
    DNS_UNANSWERED_EVICTED,   /* pushed out of the flow's full table of waiting queries */
} dns_unanswered_t;

/* "", "timeout", "flow_end", "evicted". */
const char *dns_unanswered_name(dns_unanswered_t why);

/* One transaction, as the `dns` sink receives it.  Pointers (strings,
 * records, messages) are valid during the call only. */
struct dns_transaction {
    dns_transport_t transport;
    bool query_seen;              /* false: a response whose query was not seen */
    bool answered;                /* a response was seen */
    dns_unanswered_t unanswered;  /* why not, when query_seen && !answered */
    bool query_from_client;       /* the query went from the flow's client to its server */

    /* ---- the question (from the query, else from the response) ---- */
    uint16_t id;
    bool has_question;            /* false: a message without a question */
    const char *qname;            /* text (dns.h); "" without a question */
    uint16_t qtype;
    uint16_t qclass;

    /* ---- the messages ---- */
    dns_header_t query_header;    /* when query_seen: flags QR/opcode/AA/TC/RD/RA/AD/CD, counts */
    dns_header_t response_header; /* when answered */
    dns_status_t query_status;    /* DNS_OK, or how the query was truncated / malformed */
    dns_status_t response_status;
    const dns_message_t *query;   /* the parsed query when it is at hand (not for an unanswered one) */
    const dns_message_t *response; /* the parsed response, when answered; NULL otherwise */

    /* ---- the outcome (when answered) ---- */
    unsigned rcode;               /* with the EDNS extension */
    const char *rcode_name;       /* "NOERROR", "NXDOMAIN", "SERVFAIL", "REFUSED", ... or "RCODE<n>" */
    unsigned answer_count;        /* records in answers[] */
    unsigned answers_total;       /* answer records read from the response */
    const dns_rr_t *answers[DNS_TX_ANSWERS_MAX]; /* the ANSWER section: type, name, data as text */
    const dns_rr_t *authority_soa; /* the first SOA of the AUTHORITY section (NXDOMAIN, NODATA), or NULL */
    ip_addr_t first_address;      /* the first A/AAAA answer (family 0 when none) */

    /* ---- when and where ---- */
    packet_info_t request_at;     /* the (first copy of the) query; pcap_cnt 0 when not seen */
    packet_info_t response_at;    /* the response; pcap_cnt 0 when none */
    int64_t response_us;          /* answered with the query seen: response time */
    int64_t waited_us;            /* unanswered: how long it waited, as far as the capture shows */
    unsigned retransmissions;     /* copies of the query sent while it waited */
    unsigned retransmits_kept;
    uint64_t retransmit_pcap_cnt[DNS_RETRANSMITS_KEPT];
};

/* Per-flow state (read it through flow->dns). */
struct dns_conn;

/* One UDP payload of the flow (from_client: sent by the flow's client).
 * Also gives up queries waiting for more than DNS_QUERY_TIMEOUT_US. */
void dns_flow_datagram(analysis_t *a, flow_t *flow, bool from_client, byte_span_t payload);

/* Ordered bytes of one direction of DNS over TCP.  dir: the flow direction
 * (DIR_TO_SERVER / DIR_TO_CLIENT); from_client: the TCP client sent them.
 * The first bytes of a direction must start a length prefix. */
void dns_flow_stream(analysis_t *a, flow_t *flow, int dir, bool from_client, byte_span_t data);

/* Bytes of a TCP direction were lost: the message being gathered is
 * dropped, and the direction takes up again at the next delivery that
 * starts with a plausible length prefix and header. */
void dns_flow_gap(analysis_t *a, flow_t *flow, int dir);

/* The flow is over: queries still waiting are reported as never answered
 * (with how long they waited) and the state is freed, its memory returned.
 * Safe to call when the flow has no DNS state. */
void dns_flow_end(analysis_t *a, flow_t *flow);

/* Queries waiting for an answer on the flow. */
unsigned dns_flow_pending(const flow_t *flow);

#endif
