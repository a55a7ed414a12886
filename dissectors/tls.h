/* TLS record and handshake parsing (RFC 5246, RFC 8446).
 *
 * Pure functions over bytes: the record layer framer says how long the next
 * record is, the handshake framer does the same one layer up, and the message
 * parsers turn a complete message body into a record.  Buffering across
 * segments and records is the caller's business (see monitor/tls_flow.c).
 */
#ifndef ENROLLMON_TLS_H
#define ENROLLMON_TLS_H

#include "cursor.h"

#include <stdbool.h>
#include <stdint.h>

enum tls_content_type {
    TLS_CT_CHANGE_CIPHER_SPEC = 20,
    TLS_CT_ALERT = 21,
    TLS_CT_HANDSHAKE = 22,
    TLS_CT_APPLICATION_DATA = 23,
    TLS_CT_HEARTBEAT = 24,
};

enum tls_handshake_type {
    TLS_HS_HELLO_REQUEST = 0,
    TLS_HS_CLIENT_HELLO = 1,
    TLS_HS_SERVER_HELLO = 2,
    TLS_HS_NEW_SESSION_TICKET = 4,
    TLS_HS_END_OF_EARLY_DATA = 5,
    TLS_HS_ENCRYPTED_EXTENSIONS = 8,
    TLS_HS_CERTIFICATE = 11,
    TLS_HS_SERVER_KEY_EXCHANGE = 12,
    TLS_HS_CERTIFICATE_REQUEST = 13,
    TLS_HS_SERVER_HELLO_DONE = 14,
    TLS_HS_CERTIFICATE_VERIFY = 15,
    TLS_HS_CLIENT_KEY_EXCHANGE = 16,
    TLS_HS_FINISHED = 20,
    TLS_HS_CERTIFICATE_STATUS = 22,
    TLS_HS_KEY_UPDATE = 24,
};

#define TLS_VERSION_SSL3 0x0300
#define TLS_VERSION_1_0 0x0301
#define TLS_VERSION_1_1 0x0302
#define TLS_VERSION_1_2 0x0303
#define TLS_VERSION_1_3 0x0304

#define TLS_RECORD_HEADER_LEN 5
/* TLSCiphertext may exceed the 2^14 plaintext limit by up to 2048 bytes
 * (RFC 5246 6.2.3); anything longer is not TLS. */
#define TLS_RECORD_MAX_LEN (16384 + 2048)
#define TLS_HANDSHAKE_HEADER_LEN 4

typedef enum tls_parse_status {
    TLS_PARSE_OK = 0,
    TLS_PARSE_NEED_MORE, /* the bytes so far are a valid start; more are needed */
    TLS_PARSE_INVALID,   /* the bytes are not what the protocol allows */
} tls_parse_status_t;

typedef struct tls_record_header {
    uint8_t content_type;
    uint16_t version;
    uint16_t length;
} tls_record_header_t;

/* Reads and validates a 5-byte record header at the cursor. */
tls_parse_status_t tls_record_header_parse(cursor_t *c, tls_record_header_t *out);

/* Content checks used to find TLS on any port, after a STARTTLS exchange,
 * in a stream picked up in the middle, and again after a gap.  Each looks at
 * the bytes at the start of `data` and answers as soon as they decide;
 * NEED_MORE means they are a consistent beginning but too short (never more
 * than TLS_PROBE_MAX_BYTES are needed). */
typedef enum tls_probe {
    TLS_PROBE_NO = 0,
    TLS_PROBE_YES,
    TLS_PROBE_NEED_MORE,
} tls_probe_t;

#define TLS_PROBE_MAX_BYTES 11

/* A handshake record holding a ClientHello (hello_type 1) or ServerHello (2). */
tls_probe_t tls_probe_hello(byte_span_t data, uint8_t hello_type);
/* A plaintext alert record (2-byte body, level warning or fatal). */
tls_probe_t tls_probe_alert_record(byte_span_t data);
/* Any plausible record header. */
tls_probe_t tls_probe_record_header(byte_span_t data);

/* Convenience forms of the probes on complete data. */
bool tls_starts_with_client_hello(byte_span_t data);
bool tls_starts_with_server_hello(byte_span_t data);
/* A chain of plausible records that ends exactly at the end of data. */
bool tls_is_exact_record_chain(byte_span_t data);

typedef struct tls_handshake_header {
    uint8_t type;
    uint32_t length;
} tls_handshake_header_t;

tls_parse_status_t tls_handshake_header_parse(cursor_t *c, tls_handshake_header_t *out);

#define TLS_SNI_MAX 256
#define TLS_ALPN_MAX 64
#define TLS_MAX_VERSIONS 16

typedef struct tls_client_hello {
    uint16_t legacy_version;
    uint8_t random[32];
    uint8_t session_id_len;
    uint16_t cipher_suite_count;
    bool has_sni;
    char sni[TLS_SNI_MAX];       /* NUL-terminated; bytes outside printable ASCII are escaped */
    char alpn[TLS_ALPN_MAX];     /* first protocol offered, NUL-terminated */
    unsigned version_count;       /* supported_versions, GREASE removed */
    uint16_t versions[TLS_MAX_VERSIONS];
    bool offers_extended_master_secret;
    bool offers_encrypt_then_mac;
    unsigned extension_count;
} tls_client_hello_t;

tls_parse_status_t tls_client_hello_parse(byte_span_t body, tls_client_hello_t *out);

/* The highest version the client offers (supported_versions, else legacy). */
uint16_t tls_client_hello_max_version(const tls_client_hello_t *hello);

typedef struct tls_server_hello {
    uint16_t legacy_version;
    uint16_t selected_version; /* supported_versions extension, else legacy_version */
    uint8_t random[32];
    uint16_t cipher_suite;
    uint8_t compression;
    bool is_hello_retry_request;
    bool extended_master_secret;
    bool encrypt_then_mac;
    char alpn[TLS_ALPN_MAX];
} tls_server_hello_t;

tls_parse_status_t tls_server_hello_parse(byte_span_t body, tls_server_hello_t *out);

/* One Certificate message: up to TLS_MAX_CERTS DER certificates in the order
 * sent; more are counted but not kept. */
#define TLS_MAX_CERTS 16

typedef struct tls_certificate_list {
    unsigned count;             /* certificates in the message */
    unsigned kept;              /* entries filled in der[] */
    byte_span_t der[TLS_MAX_CERTS];
} tls_certificate_list_t;

/* tls13 selects the RFC 8446 layout (request context, per-entry extensions). */
tls_parse_status_t tls_certificate_parse(byte_span_t body, bool tls13, tls_certificate_list_t *out);

#define TLS_MAX_CA_NAMES 16

typedef struct tls_certificate_request {
    unsigned ca_name_count;
    unsigned ca_names_kept;
    byte_span_t ca_names[TLS_MAX_CA_NAMES]; /* DER-encoded distinguished names */
} tls_certificate_request_t;

/* version is the negotiated one: TLS 1.0/1.1 lack the signature algorithms,
 * TLS 1.3 moves the CA names into an extension. */
tls_parse_status_t tls_certificate_request_parse(byte_span_t body, uint16_t version,
                                                 tls_certificate_request_t *out);

typedef struct tls_alert {
    uint8_t level;       /* 1 warning, 2 fatal */
    uint8_t description;
} tls_alert_t;

tls_parse_status_t tls_alert_parse(cursor_t *c, tls_alert_t *out);

const char *tls_alert_description_name(uint8_t description); /* never NULL */
const char *tls_alert_level_name(uint8_t level);             /* never NULL */
/* Writes "TLSv1.2", "SSLv3", "TLSv1.3 (draft 23)", or "0x...". */
void tls_version_format(uint16_t version, char *out, size_t out_len);
const char *tls_handshake_type_name(uint8_t type);          /* never NULL */
bool tls_is_grease(uint16_t value);

#endif
