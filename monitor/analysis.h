/* What every analysis layer of the monitor shares during a run: limits,
 * memory accounting, the certificate cache, the packet being processed, the
 * run's counters, and the sinks that receive finished records.
 */
#ifndef ENROLLMON_ANALYSIS_H
#define ENROLLMON_ANALYSIS_H

#include "../dissectors/capf.h"
#include "../dissectors/decode.h"
#include "../dissectors/x509.h"
#include "cert_cache.h"
#include "flow.h"
#include "limits.h"
#include "memcap.h"
#include "packet_info.h"
#include "tls_decrypt.h"

#include <stdint.h>

typedef struct run_stats {
    uint64_t packets;
    uint64_t bytes;
    uint64_t decode_status[4];     /* by decode_status_t, for packets not analysed further */
    uint64_t unsupported_link;
    uint64_t not_ip;               /* ARP, LLDP, ... */
    uint64_t ipv4;
    uint64_t ipv6;
    uint64_t tcp;
    uint64_t udp;
    uint64_t other_ip;
    uint64_t tunneled;             /* packets found inside VXLAN, Geneve, GRE or ERSPAN */
    uint64_t fragments;
    uint64_t fragments_reassembled;
    uint64_t fragments_dropped;    /* timed out, overlapping badly, or over a cap */
    uint64_t flows_total;
    uint64_t flows_tcp;
    uint64_t flows_udp;
    uint64_t flows_active;
    uint64_t flows_evicted;        /* retired early for max_flows or the memory cap */
    uint64_t tcp_gaps;
    uint64_t tcp_gap_bytes;
    uint64_t tcp_overlap_conflicts;
    uint64_t tls_connections;
    uint64_t tls_certificates;
    uint64_t tls_alerts;
    uint64_t tls_invalid_streams;
    uint64_t tls_not_followed;     /* TLS found but no memory left to follow it */
    uint64_t tls_certs_not_kept;   /* certificates seen but not kept: memory cap */
    uint64_t tls_decrypted;        /* connections with at least one record decrypted */
    uint64_t tls_decrypted_bytes;  /* plaintext bytes of decrypted records */
    uint64_t tls_decrypt_failures; /* records that did not decrypt (keys that do not match) */
    uint64_t http_exchanges;       /* http events */
    uint64_t http_pki;             /* of which certsrv, EST or SCEP */
    uint64_t http_no_response;     /* requests left without a response */
    uint64_t http_no_request;      /* responses whose request was not captured */
    uint64_t files_read;
    uint64_t files_failed;
    uint64_t files_truncated;
    uint64_t capture_interfaces;   /* live: interfaces captured on (0 reading files) */
    uint64_t capture_received;     /* live: the capture layer's own counters */
    uint64_t capture_dropped;      /* ... packets the kernel dropped (no room in its buffer) */
    uint64_t capture_if_dropped;   /* ... packets the interface or driver dropped */
    int64_t first_ts_us;
    int64_t last_ts_us;
} run_stats_t;

typedef struct tls_conn tls_conn_t;
typedef struct capf_conn capf_conn_t;                 /* monitor/capf_flow.h */
typedef struct http_exchange http_exchange_t;         /* monitor/http_flow.h */
typedef struct dns_transaction dns_transaction_t;     /* monitor/dns_flow.h */
typedef struct capf_event_extra capf_event_extra_t;   /* monitor/capf_flow.h */
typedef struct dns_names dns_names_t;                 /* monitor/dns_names.h */
typedef struct dns_stats dns_stats_t;                 /* monitor/dns_names.h */
typedef struct certsrv_requests certsrv_requests_t;   /* monitor/certsrv_requests.h */
typedef struct verdict verdict_t;                     /* monitor/verdict.h */
typedef struct diagnosis diagnosis_t;                 /* monitor/diagnosis.h */
typedef struct diagnosis_config diagnosis_config_t;   /* monitor/diagnosis.h */
typedef struct trust_store trust_store_t;             /* monitor/trust_store.h */

/* What the TCP layer tells the diagnosis about connection attempts. */
typedef enum tcp_event {
    TCP_EVENT_SYN = 0,      /* the client's first SYN of the connection */
    TCP_EVENT_SYN_AGAIN,    /* a retransmitted SYN */
    TCP_EVENT_SYNACK,       /* the server's first SYN-ACK */
    TCP_EVENT_ESTABLISHED,  /* the client acknowledged the SYN-ACK */
    TCP_EVENT_RST_FROM_SERVER, /* the first RST the server sent */
    TCP_EVENT_RST_FROM_CLIENT,
    TCP_EVENT_FIN_FROM_SERVER, /* the first FIN of each side */
    TCP_EVENT_FIN_FROM_CLIENT,
} tcp_event_t;

/* A consumer of finished records (JSON lines, the terminal report, ...).
 * Sinks only read what they are given. */
typedef struct event_sink event_sink_t;
struct event_sink {
    /* changed: the record holds something not given before (a JSON sink
     * writes only then); final: the connection is over, nothing follows. */
    void (*tls)(event_sink_t *self, const flow_t *flow, const tls_conn_t *tls,
                const packet_info_t *at, bool changed, bool final);
    /* One complete CAPF message (either direction).  msg, extra and the
     * bytes they point into are valid during the call only. */
    void (*capf)(event_sink_t *self, const flow_t *flow, const capf_message_t *msg,
                 const capf_event_extra_t *extra, const packet_info_t *at);
    /* A CAPF connection is over; conn holds what the session showed (its
     * state is freed after the call). */
    void (*capf_end)(event_sink_t *self, const flow_t *flow, const capf_conn_t *conn,
                     const packet_info_t *at);
    void (*flow_end)(event_sink_t *self, const flow_t *flow, flow_end_reason_t reason,
                     const packet_info_t *at);
    /* dns: the DNS counters of the run (all zero when names are not kept). */
    void (*stats)(event_sink_t *self, const run_stats_t *stats, const memcap_t *memcap,
                  const dns_stats_t *dns, const packet_info_t *at);
    /* One HTTP request/response pair (or a request left without a
     * response, or a response without its request). */
    void (*http)(event_sink_t *self, const flow_t *flow, const http_exchange_t *exchange,
                 const packet_info_t *at);
    /* One DNS query with its answer (or without one). */
    void (*dns)(event_sink_t *self, const flow_t *flow, const dns_transaction_t *transaction,
                const packet_info_t *at);
    /* Decrypted TLS application data of one direction, in order. */
    void (*tls_plaintext)(event_sink_t *self, const flow_t *flow, bool from_client,
                          byte_span_t data, const packet_info_t *at);
    /* A conclusion of the diagnosis (or an update of one: a repeat). */
    void (*verdict)(event_sink_t *self, const verdict_t *verdict);
    void (*finish)(event_sink_t *self);
    void (*destroy)(event_sink_t *self);
};

#define ANALYSIS_MAX_SINKS 8

typedef struct analysis analysis_t;

/* With several workers: what their analyses share.  Records go to the
 * hub's sinks and diagnosis (in `shared`) under `lock`, so events are
 * written whole and the diagnosis sees one stream.  Recursive: a verdict
 * given while a record is being handed over goes out under the same lock. */
typedef struct analysis_hub analysis_hub_t;

struct analysis {
    monitor_limits_t limits;
    uint16_t capf_port;         /* where CAPF is expected (default 3804) */
    const tls_keys_t *keys;     /* key logs and RSA keys given for the run */
    memcap_t memcap;
    const cert_patterns_t *patterns;
    cert_cache_t *certs;
    packet_info_t packet;       /* the packet being processed */
    run_stats_t stats;
    event_sink_t *sinks[ANALYSIS_MAX_SINKS];
    unsigned sink_count;
    dns_names_t *dns_names;     /* names asked and how they were answered; NULL: not kept */
    certsrv_requests_t *certsrv_requests; /* CSR per certsrv ReqID; NULL: not kept */
    const trust_store_t *trust; /* --trust: CA certificates to verify chains with; NULL: none */
    diagnosis_t *diagnosis;     /* gets every record after the sinks; NULL: no verdicts */
    analysis_hub_t *hub;        /* several workers: records go to the hub, not to sinks[] */
    unsigned worker_index;      /* ... and which worker this analysis is */
    int64_t progress_told_us;   /* the last time told to the hub */
};

void analysis_emit_tls(analysis_t *a, const flow_t *flow, const tls_conn_t *tls,
                       const packet_info_t *at, bool changed, bool final);
void analysis_emit_capf(analysis_t *a, const flow_t *flow, const capf_message_t *msg,
                        const capf_event_extra_t *extra, const packet_info_t *at);
void analysis_emit_capf_end(analysis_t *a, const flow_t *flow, const capf_conn_t *conn,
                            const packet_info_t *at);
void analysis_emit_flow_end(analysis_t *a, const flow_t *flow, flow_end_reason_t reason);
void analysis_emit_stats(analysis_t *a);
void analysis_emit_tls_plaintext(analysis_t *a, const flow_t *flow, bool from_client, byte_span_t data);
void analysis_emit_http(analysis_t *a, const flow_t *flow, const http_exchange_t *exchange,
                        const packet_info_t *at);
/* A request is complete and waits for its response (the diagnosis arms
 * its deadline); the exchange is emitted later with analysis_emit_http. */
void analysis_emit_http_request(analysis_t *a, const flow_t *flow, const http_exchange_t *exchange,
                                const packet_info_t *at);
void analysis_emit_tcp(analysis_t *a, const flow_t *flow, tcp_event_t event);
void analysis_emit_verdict(analysis_t *a, const verdict_t *verdict);
/* Packet time (or live wall-clock time) has reached now_us. */
void analysis_tick(analysis_t *a, int64_t now_us, const packet_info_t *at);
void analysis_emit_dns(analysis_t *a, const flow_t *flow, const dns_transaction_t *transaction,
                       const packet_info_t *at);

#endif
