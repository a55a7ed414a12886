/* A verdict: one conclusion of the diagnosis, named by an id of the
 * failure catalogue (failures.md), with the evidence it rests on, the
 * device it concerns and what to do about it.  What the `verdict` event
 * and the report's failure lines carry.
 */
#ifndef ENROLLMON_VERDICT_H
#define ENROLLMON_VERDICT_H

#include "packet_info.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum verdict_severity {
    VERDICT_INFO = 0,
    VERDICT_WARNING,
    VERDICT_ERROR,
} verdict_severity_t;

/* "info", "warning", "error". */
const char *verdict_severity_name(verdict_severity_t severity);

/* The catalogue, in failures.md's order; the last ones are ours. */
typedef enum verdict_id {
    V_LSC_CA_UNTRUSTED = 0,
    V_MIC_CA_UNTRUSTED,
    V_CAPF_SERVER_CERT_REJECTED,
    V_CAPF_UNREACHABLE,
    V_CAPF_SERVICE_DOWN,
    V_CAPF_REFUSED,
    V_CAPF_SESSION_ABORTED,
    V_CA_CHAIN_UNTRUSTED,
    V_SERVER_CERT_SELF_SIGNED,
    V_SERVER_NAME_MISMATCH,
    V_CERT_NOT_YET_VALID,
    V_CERT_EXPIRED,
    V_DNS_NXDOMAIN,
    V_CA_LOGIN_TIMEOUT,
    V_CA_REQUEST_TIMEOUT,
    V_CA_AUTH_FAILED,
    V_TEMPLATE_REJECTED,
    V_EST_ENROLL_FAILED,
    V_CSR_CERT_KEY_MISMATCH,
    V_SCEP_NO_SHADOW_CA,
    V_TCP_QUEUE_LIMIT,
    V_ENROLLMENT_OK,
    /* Not in failures.md's table (proposed there): */
    V_CERT_EXPIRING_SOON,     /* a certificate in use expires within the warning period */
    V_RESPONSE_NOT_SEEN,      /* a PKI request still unanswered when the capture ended */
    V_COUNT
} verdict_id_t;

typedef struct verdict_kind {
    const char *id;               /* "LSC_CA_UNTRUSTED" */
    verdict_severity_t severity;  /* the usual one; a rule may lower it */
    const char *title;            /* a few words for the report's table */
    const char *advice;           /* what the user should do (failures.md) */
} verdict_kind_t;

const verdict_kind_t *verdict_kind(verdict_id_t id);
/* V_COUNT for a name not in the catalogue. */
verdict_id_t verdict_id_from_name(const char *name);

#define VERDICT_DEVICE_MAX 80
#define VERDICT_ENDPOINT_MAX 56
#define VERDICT_SUMMARY_MAX 480
#define VERDICT_ADVICE_MAX 400
#define VERDICT_EVIDENCE_MAX 32
#define VERDICT_FLOWS_MAX 16
#define VERDICT_FACTS_MAX 12
#define VERDICT_FACT_TEXT_MAX 112

/* An extra named value of a verdict (modulus MD5s, queue figures...):
 * written into the event beside the standard fields. */
typedef struct verdict_fact {
    const char *key;              /* a static string */
    bool is_number;
    int64_t number;
    char text[VERDICT_FACT_TEXT_MAX];
} verdict_fact_t;

typedef struct verdict {
    uint64_t seq;                 /* 1-based in the run; an update repeats its verdict's */
    verdict_id_t id;
    verdict_severity_t severity;
    bool update;                  /* the same problem again (a retry): count grew */
    bool refresh;                 /* given to diag_emit: new figures of the same occurrence
                                   * (an update that does not count as a repeat) */
    unsigned count;               /* occurrences folded into this verdict */
    bool inferred;                /* from encrypted record sizes, not from the messages */
    bool device_is_address;       /* no device name is known: device is an address */
    char device[VERDICT_DEVICE_MAX];   /* "SEP74A02FC0A675", else the address concerned */
    char client[VERDICT_ENDPOINT_MAX]; /* the initiating side, "addr" */
    char server[VERDICT_ENDPOINT_MAX]; /* the server concerned, "addr:port"; "" if none */
    /* What else tells this problem from another of the same id, device and
     * server (the DNS name that failed); "" for nothing. */
    char topic[VERDICT_FACT_TEXT_MAX];
    char summary[VERDICT_SUMMARY_MAX];
    char advice[VERDICT_ADVICE_MAX];
    packet_info_t at;             /* the packet that completed the evidence */
    int64_t first_ts_us;          /* the first occurrence */
    uint64_t evidence[VERDICT_EVIDENCE_MAX]; /* pcap_cnt, ascending, unique */
    unsigned evidence_count;
    bool evidence_more;           /* more frames than kept */
    uint64_t flow_ids[VERDICT_FLOWS_MAX];
    unsigned flow_count;
    bool flows_more;
    verdict_fact_t facts[VERDICT_FACTS_MAX];
    unsigned fact_count;
} verdict_t;

/* A verdict of this id with the catalogue's severity and advice. */
void verdict_init(verdict_t *v, verdict_id_t id, const packet_info_t *at);
void verdict_add_evidence(verdict_t *v, uint64_t pcap_cnt); /* 0 is ignored */
void verdict_add_flow(verdict_t *v, uint64_t flow_id);
void verdict_set_summary(verdict_t *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void verdict_fact_text(verdict_t *v, const char *key, const char *value);
void verdict_fact_number(verdict_t *v, const char *key, int64_t value);
/* Evidence and flows of other, folded in (a repeat of the same problem). */
void verdict_merge(verdict_t *into, const verdict_t *other);

#endif
