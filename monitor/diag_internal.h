/* What the diagnosis's rule files share: the engine's state, the per-flow
 * state each rule keeps, deadlines, the parties (who is which device), and
 * emitting a verdict.  Rules live in their own files by the records they
 * read: diag_tls.c, diag_capf.c, diag_http.c, diag_dns.c, diag_tcp.c.
 */
#ifndef ENROLLMON_DIAG_INTERNAL_H
#define ENROLLMON_DIAG_INTERNAL_H

#include "diagnosis.h"

#include <glib.h>

/* ---- per-flow state (one per connection the rules looked at) ---- */

/* HTTP requests waiting for their answer on one connection (diag_http.c). */
#define DIAG_HTTP_WAITING_MAX 8

typedef struct diag_http_waiting {
    uint64_t exchange_seq;        /* http_exchange_t.seq on the connection */
    int64_t sent_us;              /* request complete */
    int64_t deadline_us;
    uint64_t frame;               /* the request's first frame */
    uint64_t complete_frame;      /* where it was complete */
    uint8_t pki_kind;             /* pki_kind_t */
    uint8_t pki_step;             /* pki_step_t */
    bool armed;                   /* waiting: the slot is in use until its exchange comes */
    bool concluded;               /* a verdict was given for it (timeout, or not seen before the
                                     end of the capture): its exchange adds nothing */
} diag_http_waiting_t;

typedef struct diag_flow_http {
    /* The connection.  Valid as long as this state: both end in
     * diagnosis_flow_end (the deadline and the links to other connections
     * read its addresses, its close and its HTTP state through it). */
    const flow_t *flow;
    diag_http_waiting_t waiting[DIAG_HTTP_WAITING_MAX];
    bool login_succeeded;         /* a certsrv request was answered 2xx/3xx (the login worked) */
    int64_t login_us;             /* ... the first such answer */
    uint64_t login_frame;
    uint64_t challenge_frame;     /* the last 401 carrying an NTLM/Negotiate challenge token */
    uint64_t submission_frame;    /* the last certsrv submission (certfnsh.asp) with a CSR */
    int64_t issued_us;            /* a certificate was delivered on the connection (0: none) */
} diag_flow_http_t;

typedef struct diag_flow_tls {
    bool judged;                  /* the handshake's certificates were judged */
    int64_t established_us;       /* when the handshake completed; 0 until then */
    bool sni_noted;               /* the SNI went to the names of interest */
    unsigned cert_messages_seen;  /* certificate messages already read for names and device */
} diag_flow_tls_t;

/* A connection attempt (diag_tcp.c, diag_queue.c). */
#define DIAG_TCP_SYN_FRAMES 6

typedef struct diag_flow_tcp {
    endpoint_t client;            /* the deadlines have no flow: who it concerns */
    endpoint_t server;
    int64_t first_syn_us;         /* 0: no SYN seen (picked up mid-stream) */
    int64_t answer_us;            /* the first SYN-ACK */
    uint64_t syn_frames[DIAG_TCP_SYN_FRAMES]; /* the first SYN and its retransmissions */
    uint64_t answer_frame;        /* the SYN-ACK, or the server's RST refusing the SYN */
    uint64_t queue_server;        /* diag_queue.c: generation of the server entry counting it */
    unsigned syns;                /* SYN packets, retransmissions included */
    uint8_t queue_state;          /* diag_queue.c: the attempt's judgement */
    bool answered;                /* SYN-ACK seen */
    bool reset_by_server;         /* the server's RST before any SYN-ACK */
    bool established;
    bool open_counted;            /* among its server's concurrent connections */
    bool concluded;               /* CAPF: the attempt was judged (or given up) */
} diag_flow_tcp_t;

typedef struct diag_flow {
    uint64_t flow_id;
    /* The device this connection concerns, once known (CAPF device name,
     * the client certificate's CN, the CSR's CN); "" until then. */
    char device[VERDICT_DEVICE_MAX];
    uint64_t fired;               /* bit per verdict_id_t already given for this connection */
    diag_flow_tls_t tls;
    diag_flow_http_t http;
    diag_flow_tcp_t tcp;
} diag_flow_t;

/* ---- deadlines ---- */

typedef enum diag_timer_kind {
    DIAG_TIMER_HTTP_RESPONSE = 0, /* key: flow id, key2: exchange seq */
    DIAG_TIMER_SYN,               /* key: flow id */
    DIAG_TIMER_QUEUE,             /* key: server index (diag_tcp.c) */
    DIAG_TIMER_DNS,               /* key: diag_dns.c's own */
    DIAG_TIMER_KINDS
} diag_timer_kind_t;

typedef struct diag_timer {
    int64_t deadline_us;
    diag_timer_kind_t kind;
    uint64_t key;
    uint64_t key2;
} diag_timer_t;

/* ---- the rule files' own state ---- */
typedef struct diag_tcp_state diag_tcp_state_t;
typedef struct diag_dns_state diag_dns_state_t;
typedef struct diag_parties diag_parties_t;

struct diagnosis {
    analysis_t *a;
    diagnosis_config_t config;
    uint64_t next_seq;
    GHashTable *flows;            /* flow id -> diag_flow_t* */
    GHashTable *past;             /* fold key -> diag_past_t*: verdicts given, for repeats */
    diag_timer_t *timers;         /* a min-heap by deadline, timer_count of timer_slots used */
    guint timer_count;
    guint timer_slots;            /* the storage, charged whole (see diag_timer_add) */
    int64_t now_us;
    packet_info_t now_at;         /* the packet that brought now_us */
    bool finishing;               /* diagnosis_finish is concluding */
    size_t charged;               /* bytes charged to the global memory cap */
    diagnosis_counts_t counts;
    diag_parties_t *parties;
    diag_tcp_state_t *tcp;
    diag_dns_state_t *dns;
};

/* The rules' state of a flow, made on first use; NULL if the memory cap
 * refuses it (the rule then does without).  Freed at the flow's end. */
diag_flow_t *diag_flow(diagnosis_t *d, const flow_t *flow);
diag_flow_t *diag_flow_find(diagnosis_t *d, uint64_t flow_id);

/* Whether a verdict id was given for this connection already; marks it. */
bool diag_flow_once(diag_flow_t *df, verdict_id_t id);

/* Charges (n > 0) or returns (n < 0) state memory to the global cap;
 * false when the cap refuses. */
bool diag_charge(diagnosis_t *d, ptrdiff_t n);

/* Arms a deadline; false when the memory cap refuses room for it. */
bool diag_timer_add(diagnosis_t *d, int64_t deadline_us, diag_timer_kind_t kind, uint64_t key,
                    uint64_t key2);

/* Fills the verdict's device, client and server from the flow and what is
 * known of it (the flow's device, else the client's address). */
void diag_verdict_for_flow(diagnosis_t *d, verdict_t *v, const flow_t *flow);
/* Sets the device name (overrides the address). */
void diag_verdict_device(verdict_t *v, const char *device);

/* Gives the verdict to the sinks, folding a repeat of one given within
 * repeat_window_s (same id, severity, device, server and topic) into it. */
void diag_emit(diagnosis_t *d, verdict_t *v);

/* "addr" and "addr:port" of an endpoint. */
void diag_format_addr(const endpoint_t *ep, char *out, size_t len);
void diag_format_endpoint(const endpoint_t *ep, char *out, size_t len);

/* The CN of a "C=.., O=.., CN=x" subject, or NULL; out gets it. */
bool diag_cn_of_subject(const char *subject, char *out, size_t len);

/* ---- parties (diag_parties.c) ---- */
diag_parties_t *diag_parties_new(void);
void diag_parties_free(diag_parties_t *p);
/* A device's key (CSR or certificate modulus MD5), seen at ts_us. */
void diag_parties_note_key(diagnosis_t *d, const char *modulus_md5, const char *device, int64_t ts_us);
const char *diag_parties_device_by_key(diagnosis_t *d, const char *modulus_md5);
/* A device asked CAPF for a certificate (0x04 CSR seen) at ts_us: the
 * EST request CAPF sends next, in the same window, is for it. */
void diag_parties_note_capf_request(diagnosis_t *d, const char *device, int64_t ts_us);
/* An EST enrollment for device at ts_us (the CES then talks to the CA). */
void diag_parties_note_est(diagnosis_t *d, const char *device, const ip_addr_t *ces, int64_t ts_us);
/* The device of the latest CAPF request, or of the latest EST enrollment
 * through ces, within link_window_s before ts_us; NULL when none. */
const char *diag_parties_recent_capf_device(diagnosis_t *d, int64_t ts_us);
const char *diag_parties_recent_est_device(diagnosis_t *d, const ip_addr_t *ces, int64_t ts_us);
/* certsrv: the device a ReqID was submitted for. */
void diag_parties_note_req_id(diagnosis_t *d, const ip_addr_t *ca, long req_id, const char *device);
const char *diag_parties_device_by_req_id(diagnosis_t *d, const ip_addr_t *ca, long req_id);
/* Names enrollment parties use (SNI, Host, certificate names): DNS_NXDOMAIN
 * for them matters.  diag_dns.c is told when a new one appears. */
void diag_parties_note_name(diagnosis_t *d, const char *name);
bool diag_parties_name_known(diagnosis_t *d, const char *name);

/* ---- the rules ----
 * The public diagnosis_capf, diagnosis_capf_end, diagnosis_http_request,
 * diagnosis_http, diagnosis_dns and diagnosis_tcp are defined in the rule
 * files that read those records; what diagnosis.c dispatches is below. */
void diag_tls_record(diagnosis_t *d, const flow_t *flow, const tls_conn_t *tls,
                     const packet_info_t *at, bool final);
void diag_capf_inferred(diagnosis_t *d, const flow_t *flow, const tls_conn_t *tls,
                        const packet_info_t *at);
void diag_http_timer(diagnosis_t *d, const diag_timer_t *t);

diag_dns_state_t *diag_dns_new(void);
void diag_dns_free(diagnosis_t *d, diag_dns_state_t *s);
void diag_dns_name_of_interest(diagnosis_t *d, const char *name); /* a name just became known */
void diag_dns_timer(diagnosis_t *d, const diag_timer_t *t);

diag_tcp_state_t *diag_tcp_new(void);
void diag_tcp_free(diagnosis_t *d, diag_tcp_state_t *s);
void diag_tcp_flow_end(diagnosis_t *d, const flow_t *flow, diag_flow_t *df);
void diag_tcp_timer(diagnosis_t *d, const diag_timer_t *t);
void diag_tcp_finish(diagnosis_t *d); /* end of input: conclude the servers' windows */

#endif
