/* A CAPF session's outcome read from the sizes and directions of its
 * encrypted records, for when there are no keys (the usual case with
 * hardware phones).  failures.md, "Reading the evidence": the plaintext
 * messages are about 12-13 bytes (0x01 hello, 0x03 continue, 0x0a ack,
 * 0x0f end), 26 + the device name (0x02 request), ~300 (0x04 CSR) and ~1 kB
 * (0x09 certificate); each record adds the cipher's overhead.  A ~1 kB
 * server record followed by a small client record is a delivered
 * certificate; a short session without it is a refusal or an abort.
 * Everything here is marked as inferred.
 *
 * Only TLS 1.2 and earlier: TLS 1.3 encrypts the end of the handshake too,
 * so its first protected records are not CAPF messages.
 */
#ifndef ENROLLMON_CAPF_INFER_H
#define ENROLLMON_CAPF_INFER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CAPF_INFER_MAX_RECORDS 48

typedef enum capf_size_class {
    CAPF_SIZE_SMALL = 0,  /* hello, continue, ack, end of session */
    CAPF_SIZE_REQUEST,    /* a certificate operation request with a device name */
    CAPF_SIZE_CSR,        /* the phone's public key */
    CAPF_SIZE_CERTIFICATE,
} capf_size_class_t;

const char *capf_size_class_name(capf_size_class_t c);

typedef enum capf_inferred_outcome {
    CAPF_INFERRED_NONE = 0,          /* no CAPF message went through (handshake failed, no data) */
    CAPF_INFERRED_DELIVERED,         /* certificate sent and acknowledged */
    CAPF_INFERRED_DELIVERED_UNACKED, /* certificate sent, no acknowledgement */
    CAPF_INFERRED_REFUSED,           /* CAPF answered the request briefly and closed */
    CAPF_INFERRED_ABORTED,           /* the session stopped before a certificate */
    CAPF_INFERRED_NOT_INFERABLE,     /* TLS 1.3, or sizes no CAPF exchange has */
} capf_inferred_outcome_t;

const char *capf_inferred_outcome_name(capf_inferred_outcome_t o);

typedef struct capf_record_size {
    bool from_client;
    uint16_t wire_len;        /* record body as sent (ciphertext) */
    uint16_t plaintext_est;   /* estimated CAPF message size */
    capf_size_class_t size_class;
} capf_record_size_t;

typedef struct capf_infer_input {
    uint16_t version;         /* negotiated TLS version */
    uint16_t cipher_suite;
    bool encrypt_then_mac;
    unsigned record_count;    /* application-data records, in order */
    capf_record_size_t records[CAPF_INFER_MAX_RECORDS];
    bool client_closed_first; /* the client sent the first FIN or RST */
    bool closed_with_rst;     /* that first close was an RST */
    bool server_close_notify_first; /* the server's (encrypted) alert came before the client's */
    bool any_close_notify;
} capf_infer_input_t;

/* Adds an application-data record (fills its estimate and class). */
void capf_infer_add_record(capf_infer_input_t *in, bool from_client, size_t wire_len);

capf_inferred_outcome_t capf_infer_outcome(const capf_infer_input_t *in);

#endif
