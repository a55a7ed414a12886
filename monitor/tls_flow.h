/* TLS on a reassembled TCP connection: finds it by content (any port, also
 * after a STARTTLS exchange or when the capture starts mid-connection),
 * reassembles records and handshake messages, and keeps what the
 * connection showed: hellos, certificates of both sides, the certificate
 * request, alerts.
 */
#ifndef ENROLLMON_TLS_FLOW_H
#define ENROLLMON_TLS_FLOW_H

#include "../dissectors/tls.h"
#include "analysis.h"
#include "cert_cache.h"
#include "flow.h"
#include "capf_infer.h"
#include "pdu_stream.h"
#include "tls_decrypt.h"
#include "trust_store.h"

#include <glib.h>

typedef enum tls_state {
    TLS_STATE_HANDSHAKE = 0, /* under way */
    TLS_STATE_ESTABLISHED,   /* both sides switched to encrypted records */
    TLS_STATE_FAILED,        /* an alert ended the handshake */
    TLS_STATE_INCOMPLETE,    /* the connection ended before either */
} tls_state_t;

const char *tls_state_name(tls_state_t state);

typedef struct tls_alert_seen {
    int from_dir;        /* direction the alert travelled in */
    bool encrypted;      /* sent under encryption and not decrypted: level and description unknown */
    bool decrypted;      /* sent under encryption, read with the keys */
    uint8_t level;
    uint8_t description;
    packet_info_t at;
} tls_alert_seen_t;

typedef struct tls_cert_message {
    int from_dir;
    unsigned count;      /* certificates in the message */
    GPtrArray *certs;    /* cert_ref_t*, the first TLS_MAX_CERTS */
    packet_info_t at;
    /* The server's chain verified against --trust at the packet's time
     * (trust.checked false without --trust, for the client's message, or
     * when the leaf does not parse).  Done here: only here are the DER
     * bytes at hand. */
    trust_verify_result_t trust;
} tls_cert_message_t;

struct tls_conn {
    bool active[2];       /* records of this direction are being followed */
    bool resync[2];       /* after a gap: waiting for a record boundary */
    bool midstream;       /* picked up without the hellos */
    pdu_stream_t records[2];
    pdu_stream_t handshake[2];
    bool encrypted[2];    /* this direction's records are now encrypted */
    bool ccs_seen[2];
    int client_dir;       /* direction of the TLS client's records */

    uint16_t client_version;  /* highest offered */
    uint16_t version;         /* negotiated; 0 when unknown */
    uint16_t cipher_suite;
    bool tls13;
    bool client_hello_seen;
    bool server_hello_seen;
    bool hello_retry;
    bool has_sni;
    char sni[TLS_SNI_MAX];
    char alpn[TLS_ALPN_MAX];
    bool extended_master_secret;
    bool encrypt_then_mac;
    packet_info_t client_hello_at;
    packet_info_t server_hello_at;

    bool certificate_request_seen;
    packet_info_t certificate_request_at;
    unsigned ca_name_count;
    GPtrArray *ca_names;      /* char*, distinguished names the server accepts */

    GArray *cert_messages;    /* tls_cert_message_t */
    GArray *alerts;           /* tls_alert_seen_t */

    uint64_t record_count[2];
    uint64_t application_records[2];
    uint64_t application_bytes[2];
    uint64_t plaintext_application_records[2]; /* decrypted records whose inner type is
                                                * application data (not a TLS 1.3 Finished
                                                * or alert) */
    uint64_t encrypted_handshake_records[2];
    uint64_t gaps[2];
    uint64_t oversize_messages;
    bool invalid[2];          /* the stream stopped looking like TLS: given up */
    unsigned resyncs[2];      /* times the record framing was lost and searched for */
    bool roles_known;         /* who is the TLS client is known (a hello, or mid-stream
                               * a message only one side sends) */

    tls_decrypt_t decrypt;
    uint8_t *plaintext;       /* TLS_MAX_PLAINTEXT bytes while decrypting */
    bool app_is_capf;         /* the decrypted application data is CAPF */
    bool app_is_http;         /* ... or HTTP */
    bool on_capf_port;        /* the server is on the CAPF port: sizes kept for inference */
    capf_infer_input_t capf_infer;
    bool app_checked;         /* ... decided on the first application data */

    tls_state_t state;
    bool emitted;
    unsigned emitted_alerts;
    unsigned emitted_cert_messages;
    tls_state_t emitted_state;
};

/* Ordered bytes of one direction of a TCP flow.  Returns false when this
 * direction is not (or no longer) TLS and need not be delivered again. */
bool tls_flow_data(analysis_t *a, flow_t *flow, int dir, byte_span_t data);

/* Bytes missing from one direction. */
void tls_flow_gap(analysis_t *a, flow_t *flow, int dir, uint64_t missing);

/* The connection ended (close, timeout, end of input): conclude and emit
 * what has not been emitted yet, then free the TLS state. */
void tls_flow_end(analysis_t *a, flow_t *flow);

/* Role of a direction in the TLS conversation. */
static inline bool tls_dir_is_client(const tls_conn_t *tls, int dir)
{
    return dir == tls->client_dir;
}

#endif
