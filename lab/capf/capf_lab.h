/* What the lab's CAPF server and client share beyond the message codec:
 * sending and receiving CAPF messages over TLS with one log line each,
 * closing a TLS session both ways, PKI file names, option values, and the
 * modulus hash of seed 002.
 */
#ifndef ENROLLMON_LAB_CAPF_LAB_H
#define ENROLLMON_LAB_CAPF_LAB_H

#include "capf_msg.h"
#include "lab.h"

#include <openssl/evp.h>
#include <stdbool.h>
#include <stdint.h>

typedef enum capf_recv {
    CAPF_RECV_OK = 0,
    CAPF_RECV_CLOSED,    /* the peer closed (close_notify or FIN) before a message */
    CAPF_RECV_TIMEOUT,   /* nothing within the time given */
    CAPF_RECV_ERROR,     /* reset, TLS alert or error, or a message cut in the middle */
    CAPF_RECV_BAD_MAGIC, /* the bytes are not CAPF framing */
} capf_recv_t;

/* Finishes the builder, sends it in one TLS write, and logs "prog: -> 0x03
 * continue session 0x00001001" followed by its fields.  False (after saying
 * why) when it could not. */
bool capf_send(SSL *ssl, const char *prog, capf_builder_t *b);

/* Reads one whole message (header, then body_len bytes) and logs it like
 * capf_send with "<-".  timeout_ms bounds the wait for the first byte and
 * for each later read; negative waits forever.  Says what went wrong. */
capf_recv_t capf_recv(SSL *ssl, const char *prog, capf_msg_t *m, int timeout_ms);

/* Sends close_notify, waits up to timeout_ms for the peer's close_notify or
 * FIN, then closes the socket (a FIN): the peer never finds its last record
 * refused with an RST. */
void capf_close_graceful(SSL *ssl, int fd, int timeout_ms);

/* Reads and throws away whatever the peer sends until it closes or
 * timeout_ms passes (negative: forever); CAPF_RECV_CLOSED, _TIMEOUT or _ERROR. */
capf_recv_t capf_drain_until_close(SSL *ssl, int timeout_ms);

/* SO_RCVTIMEO and SO_SNDTIMEO on a connected socket (ms > 0): a peer that
 * goes silent in the middle of a TLS handshake cannot hold the program. */
void capf_socket_timeouts(int fd, int ms);

/* "TLS 1.2 ECDHE-RSA-AES128-GCM-SHA256, peer certificate CN=..., issuer CN=...". */
void capf_log_tls(const char *prog, SSL *ssl);
/* One-line text of a name ("CN = CAPF-1a2b3c4d, O = enrollmon TEST PKI"); g_free() it. */
char *capf_name_text(const X509_NAME *name);

/* DIR/NAME.pem, DIR/NAME.key, DIR/NAME-chain.pem when it exists else
 * DIR/NAME.pem, DIR/FILE; g_free() them. */
char *capf_pki_file(const char *dir, const char *file);
char *capf_pki_cert(const char *dir, const char *name);
char *capf_pki_key(const char *dir, const char *name);
char *capf_pki_chain(const char *dir, const char *name);

/* Hexadecimal option values ("0x03", "3", "1001"); false when not a number in range. */
bool capf_parse_hex_u8(const char *text, uint8_t *out);
bool capf_parse_hex_u32(const char *text, uint32_t *out);
/* A decimal port, 1..65535. */
bool capf_parse_port(const char *text, uint16_t *out);

/* MD5 of "Modulus=<UPPERHEX>\n" as `openssl x509 -noout -modulus | openssl md5`
 * (and `openssl rsa -noout -modulus`) prints it: 32 lowercase hex digits.
 * False when the key is not RSA. */
bool capf_modulus_md5(const EVP_PKEY *key, char out[33]);

#endif
