/* The names DNS was asked about during the run, with how the last question
 * for each ended (answered and with which rcode, or never answered), so the
 * diagnosis can tie an NXDOMAIN or a silent server to a name an enrollment
 * party needed (DNS_NXDOMAIN in failures.md).  Also the run's DNS counters.
 *
 * One table per run, bounded: when it is full the least recently updated
 * name whose last answer was a success goes first, a failed one only when
 * every name held failed.  Entries are charged to the global memory cap.
 */
#ifndef ENROLLMON_DNS_NAMES_H
#define ENROLLMON_DNS_NAMES_H

#include "../dissectors/decode.h"
#include "analysis.h"
#include "memcap.h"
#include "packet_info.h"

#include <stdbool.h>
#include <stdint.h>

#define DNS_NAMES_DEFAULT_MAX 4096

typedef enum dns_name_state {
    DNS_NAME_PENDING = 0,   /* asked, no response yet (and not yet given up) */
    DNS_NAME_ANSWERED,      /* the last question got a response: see last_rcode */
    DNS_NAME_UNANSWERED,    /* the last question got none (10 s, or its flow ended) */
} dns_name_state_t;

/* "pending", "answered", "unanswered". */
const char *dns_name_state_name(dns_name_state_t state);

typedef struct dns_name_result {
    const char *name;           /* as first seen (case kept, no final dot) */
    dns_name_state_t state;     /* of the last question for the name */
    uint16_t last_qtype;
    int last_rcode;             /* of the last response, -1 before any */
    unsigned last_answer_count; /* answer records of the last response */
    bool has_address;           /* the last NOERROR response held an A or AAAA... */
    ip_addr_t address;          /* ... the first of them */
    uint32_t queries;           /* questions seen (retransmissions not counted) */
    uint32_t responses;
    uint32_t nxdomain;          /* responses with NXDOMAIN */
    uint32_t failures;          /* responses with another rcode than NOERROR and NXDOMAIN */
    uint32_t unanswered;        /* questions that got no response */
    packet_info_t first_query_at;
    packet_info_t last_query_at;
    packet_info_t last_response_at;   /* pcap_cnt 0 before any */
    packet_info_t last_failure_at;    /* the last NXDOMAIN/other error, or unanswered question */
    int64_t last_response_us;   /* response time of the last answered question, -1 unknown */
    uint64_t last_flow_id;      /* flow of the last question or response */
    bool has_client;
    ip_addr_t client;           /* who asked last */
} dns_name_result_t;

/* The run's DNS counters (for the stats event). */
typedef struct dns_stats {
    uint64_t messages;          /* parsed messages, UDP and TCP */
    uint64_t queries;
    uint64_t responses;
    uint64_t not_dns;           /* payloads too short for a DNS header */
    uint64_t truncated;         /* messages shorter than their counts announce */
    uint64_t malformed;         /* messages with a name or record breaking the rules */
    uint64_t transactions;      /* dns events */
    uint64_t answered;
    uint64_t unanswered;        /* queries reported without a response */
    uint64_t responses_alone;   /* responses whose query was not seen */
    uint64_t retransmissions;   /* copies of a query still waiting */
    uint64_t pending_cap_hits;  /* a query pushed out of a flow's full table of waiting queries */
    uint64_t pending_not_kept;  /* a query not tracked: the memory cap refused */
    uint64_t names_evicted;     /* names dropped from the full table */
    uint64_t names_not_kept;    /* names not recorded: the memory cap refused */
    uint64_t tcp_framing_lost;  /* DNS-over-TCP directions that lost their length framing */
} dns_stats_t;

typedef struct dns_names dns_names_t;

/* max_names: names held at once (0: DNS_NAMES_DEFAULT_MAX).  memcap may be
 * NULL (no accounting). */
dns_names_t *dns_names_new(memcap_t *memcap, unsigned max_names);
/* Returns all memory to the cap.  NULL is fine. */
void dns_names_free(dns_names_t *names);

/* Updates, called by dns_flow.c.  qtype is the question's type; flow may be
 * NULL. */
void dns_names_note_query(dns_names_t *names, const char *name, uint16_t qtype,
                          const flow_t *flow, bool from_client, const packet_info_t *at);
void dns_names_note_response(dns_names_t *names, const char *name, uint16_t qtype, unsigned rcode,
                             unsigned answer_count, const ip_addr_t *first_address,
                             int64_t response_us, const flow_t *flow, const packet_info_t *at);
void dns_names_note_unanswered(dns_names_t *names, const char *name, uint16_t qtype,
                               const flow_t *flow, const packet_info_t *query_at);

/* The entry for a name (ASCII case and a final dot ignored), or NULL. */
const dns_name_result_t *dns_names_lookup(const dns_names_t *names, const char *name);
/* The same through the run's analysis state (NULL when it has no table). */
const dns_name_result_t *dns_lookup_name(const analysis_t *a, const char *name);

/* Names held. */
unsigned dns_names_count(const dns_names_t *names);
/* Visits every entry in the order the names were first seen. */
typedef void (*dns_names_visit_fn)(const dns_name_result_t *entry, void *ctx);
void dns_names_foreach(const dns_names_t *names, dns_names_visit_fn visit, void *ctx);

/* The run's counters; NULL for a NULL table. */
dns_stats_t *dns_names_stats(dns_names_t *names);
/* The same, read only; all zero for a NULL table. */
const dns_stats_t *dns_names_stats_const(const dns_names_t *names);

#endif
