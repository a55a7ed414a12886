/* CAPF on a connection (../shared/docs/capf-wire.md): the inner messages of
 * both directions cut out of their byte streams (decrypted TLS application
 * data, or plaintext from tools that log it), one `capf` event per message,
 * and what the session showed, kept for diagnosis until the connection ends.
 *
 * The caller decides that a connection carries CAPF and hands over the
 * ordered bytes of each direction.  A direction whose framing is lost (bytes
 * missing, bytes that are not CAPF, a buffer the memory cap refused) looks
 * for the next message start and goes on from there.
 */
#ifndef ENROLLMON_CAPF_FLOW_H
#define ENROLLMON_CAPF_FLOW_H

#include "../dissectors/capf.h"
#include "../dissectors/x509.h"
#include "analysis.h"
#include "cert_cache.h"
#include "flow.h"
#include "pdu_stream.h"

#include <stdbool.h>
#include <stdint.h>

/* Bytes that decide whether a message starts at a position: the header and
 * the first field's header. */
#define CAPF_PROBE_LEN (CAPF_HEADER_LEN + CAPF_FIELD_HEADER_LEN)
/* Opcodes kept in the order they came (all are counted). */
#define CAPF_OPCODES_KEPT 24
/* A direction that loses its framing more often than this is given up. */
#define CAPF_MAX_RESYNCS 8

/* How the session went, from the messages seen. */
typedef enum capf_outcome {
    CAPF_OUTCOME_NONE = 0,        /* no complete message */
    CAPF_OUTCOME_INCOMPLETE,      /* no certificate and no end of session */
    CAPF_OUTCOME_ENDED,           /* end of session with status OK, no certificate (another operation) */
    CAPF_OUTCOME_REFUSED,         /* end of session (0x0f) with a status other than OK, no certificate */
    CAPF_OUTCOME_ISSUED_UNACKED,  /* a certificate (0x09) was sent, no acknowledgement (0x0a) */
    CAPF_OUTCOME_ISSUED,          /* certificate sent and acknowledged */
} capf_outcome_t;

/* "none", "incomplete", "ended", "refused", "issued_unacknowledged", "issued". */
const char *capf_outcome_name(capf_outcome_t outcome);

/* Per-connection state.  Directions are the flow's (DIR_TO_SERVER: from the
 * TCP client).  Read it through capf_flow_conn(); it is freed by
 * capf_flow_end(). */
struct capf_conn {
    /* ---- framing, per flow direction ---- */
    pdu_stream_t stream[2];
    bool resync[2];               /* boundaries lost: looking for a message start */
    bool invalid[2];              /* more than CAPF_MAX_RESYNCS losses: given up */
    uint8_t probe[2][CAPF_PROBE_LEN]; /* undecided bytes of a possible start (resync) */
    uint8_t probe_len[2];
    unsigned resyncs[2];
    uint64_t gaps[2];
    uint64_t skipped_bytes[2];    /* passed over while looking for a start */
    int client_dir;               /* direction whose bytes came with from_client; -1 unknown */

    /* ---- the session ---- */
    uint64_t messages[2];         /* complete messages, per direction */
    uint64_t malformed;           /* messages with a field running past its body */
    bool has_session_id;
    uint32_t session_id;          /* from the first message */
    unsigned session_id_changes;  /* later messages with another id */
    uint8_t opcodes[CAPF_OPCODES_KEPT]; /* in order, the first CAPF_OPCODES_KEPT */
    unsigned opcode_count;        /* kept in opcodes[] */
    unsigned opcodes_total;       /* all messages, both directions */
    uint32_t opcode_seen[8];      /* bit per opcode value: see capf_conn_saw() */
    bool has_device;
    char device[CAPF_DEVICE_MAX]; /* the first device name (tag 0x0d), escaped as in capf_message_t */
    bool has_status;
    uint8_t last_status;          /* status of the last message that had one */
    uint8_t last_status_opcode;   /* ... and that message's opcode */
    packet_info_t last_status_at;
    packet_info_t first_at;       /* the first complete message */
    packet_info_t request_at;     /* 0x02 */
    packet_info_t csr_at;         /* 0x04 */
    packet_info_t certificate_at; /* 0x09 */
    packet_info_t ack_at;         /* 0x0a */
    packet_info_t end_at;         /* 0x0f */
    bool certificate_seen;        /* 0x09 */
    bool ack_seen;                /* 0x0a */
    bool end_seen;                /* 0x0f */
    bool end_has_status;
    uint8_t end_status;           /* status of the first 0x0f */
    char csr_modulus_md5[CERT_MODULUS_MD5_HEX_LEN + 1]; /* RSA key of the last 0x04; "" otherwise */
    cert_ref_t *certificate;      /* the last issued certificate (0x09), a counted reference; NULL */
    bool key_match_known;         /* both an RSA CSR key and an RSA certificate were seen */
    bool cert_matches_csr;        /* ... and their moduli agree */
};

/* What a `capf` event carries beyond the message itself. */
struct capf_event_extra {
    bool from_client;             /* "direction": to_server when true */
    const cert_ref_t *cert;       /* the certificate this message carries (0x09), parsed; or NULL */
    /* The CSR's modulus MD5: this message's public key for a 0x04, the
     * session's CSR for the message carrying the certificate; NULL otherwise. */
    const char *csr_modulus_md5;
    bool cert_match_known;        /* this message completed the CSR/certificate pair */
    bool cert_matches_csr;
    const capf_conn_t *conn;      /* the session, this message included */
};

/* Ordered bytes of one direction of a CAPF stream.  dir: the flow direction
 * (DIR_TO_SERVER / DIR_TO_CLIENT), which indexes the framing state;
 * from_client: the TLS/TCP client sent them (the event's "to_server").  The
 * first bytes of a direction must start a message (or the direction
 * resynchronises on the next one).  Emits a `capf` event per message. */
void capf_flow_data(analysis_t *a, flow_t *flow, int dir, bool from_client, byte_span_t data);

/* Bytes of a direction were lost: the message being gathered is dropped and
 * the direction resynchronises on the next message start. */
void capf_flow_gap(analysis_t *a, flow_t *flow, int dir);

/* The connection is over: tells the sinks (capf_end) and frees the state,
 * returning its memory.  Safe to call when the flow has no CAPF state. */
void capf_flow_end(analysis_t *a, flow_t *flow);

/* The flow's CAPF state, or NULL. */
static inline const capf_conn_t *capf_flow_conn(const flow_t *flow)
{
    return flow->capf;
}

/* Whether a message with this opcode was seen. */
static inline bool capf_conn_saw(const capf_conn_t *conn, uint8_t opcode)
{
    return (conn->opcode_seen[opcode >> 5] >> (opcode & 31)) & 1u;
}

capf_outcome_t capf_conn_outcome(const capf_conn_t *conn);

#endif
