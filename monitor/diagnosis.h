/* The correlation engine: turns the records of the analysis layers (TLS
 * handshakes, CAPF messages and sessions, HTTP exchanges and their PKI
 * records, DNS transactions, TCP connection attempts) into the verdicts of
 * failures.md, each as soon as its evidence is complete.
 *
 * Time is packet time: a deadline (no answer within 10 s) passes when a
 * packet later than it is processed, or when diagnosis_tick is called with
 * a later time (live capture with no traffic).  diagnosis_finish concludes
 * what is still open when the input ends: a request still waiting is then
 * reported as unanswered at the end of the capture, not as a timeout.
 *
 * The same problem again (a phone retrying) within repeat_window_s is one
 * verdict whose count grows: the first occurrence is emitted at once, each
 * repeat as an update carrying the same seq.
 */
#ifndef ENROLLMON_DIAGNOSIS_H
#define ENROLLMON_DIAGNOSIS_H

#include "analysis.h"
#include "verdict.h"

#include <stdbool.h>
#include <stdint.h>

struct diagnosis_config {
    unsigned response_timeout_s;   /* a PKI request without an answer (CES: 10 s) */
    unsigned syn_timeout_s;        /* a connection attempt without an answer */
    unsigned repeat_window_s;      /* the same failure again within: one verdict, counted */
    unsigned expiry_warning_days;  /* a certificate in use expiring sooner: a warning */
    unsigned link_window_s;        /* CAPF -> CES -> CA exchanges this close belong together */
    unsigned queue_window_s;       /* TCP_QUEUE_LIMIT: sliding window for attempts */
    unsigned queue_min_unanswered; /* ... attempts left unanswered in a window, at least */
    unsigned queue_unanswered_pct; /* ... and this share of the window's attempts */
    unsigned queue_silent_s;       /* ... and a period this long with SYNs and no SYN-ACK */
    char **names_of_interest;      /* glob patterns of names that matter (DNS_NXDOMAIN) */
};

void diagnosis_config_default(diagnosis_config_t *config); /* names_of_interest allocated */
void diagnosis_config_clear(diagnosis_config_t *config);
void diagnosis_config_copy(diagnosis_config_t *dst, const diagnosis_config_t *src);

typedef struct diagnosis diagnosis_t;

/* Verdicts go out through analysis_emit_verdict.  The configuration is copied. */
diagnosis_t *diagnosis_new(analysis_t *a, const diagnosis_config_t *config);
void diagnosis_free(diagnosis_t *d);

/* The records, as the sinks get them (analysis.c calls these after them). */
void diagnosis_tls(diagnosis_t *d, const flow_t *flow, const tls_conn_t *tls,
                   const packet_info_t *at, bool changed, bool final);
void diagnosis_capf(diagnosis_t *d, const flow_t *flow, const capf_message_t *msg,
                    const capf_event_extra_t *extra, const packet_info_t *at);
void diagnosis_capf_end(diagnosis_t *d, const flow_t *flow, const capf_conn_t *conn,
                        const packet_info_t *at);
void diagnosis_http_request(diagnosis_t *d, const flow_t *flow, const http_exchange_t *exchange,
                            const packet_info_t *at);
void diagnosis_http(diagnosis_t *d, const flow_t *flow, const http_exchange_t *exchange,
                    const packet_info_t *at);
void diagnosis_dns(diagnosis_t *d, const flow_t *flow, const dns_transaction_t *transaction,
                   const packet_info_t *at);
void diagnosis_tcp(diagnosis_t *d, const flow_t *flow, tcp_event_t event, const packet_info_t *at);
void diagnosis_flow_end(diagnosis_t *d, const flow_t *flow, flow_end_reason_t reason);

/* Time has reached now_us: deadlines before it fire.  at: the packet
 * that brought the time (NULL when live time passes without packets). */
void diagnosis_tick(diagnosis_t *d, int64_t now_us, const packet_info_t *at);

/* The input is over, before the open flows are concluded: what waits for a
 * deadline is concluded as "not seen before the end of the capture". */
void diagnosis_input_ended(diagnosis_t *d);
/* After the open flows were concluded: conclude everything still open. */
void diagnosis_finish(diagnosis_t *d);

typedef struct diagnosis_counts {
    uint64_t verdicts[V_COUNT];    /* distinct verdicts (updates not counted) */
    uint64_t occurrences[V_COUNT]; /* with their repeats */
    uint64_t not_folded;           /* repeats emitted apart: the table of past verdicts was full */
} diagnosis_counts_t;

const diagnosis_counts_t *diagnosis_counts(const diagnosis_t *d);

#endif
