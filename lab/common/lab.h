/* What every lab program shares: TLS contexts for the three variants the
 * captures use, NSS key logging through OpenSSL's callback, TCP sockets
 * with timeouts, and one way of reporting errors.
 *
 * The lab programs act out the parties of ../shared/docs/failures.md on
 * loopback so that real TLS stacks produce the project's captures.  They
 * are test tools: simple, blocking, one connection at a time unless said.
 */
#ifndef ENROLLMON_LAB_H
#define ENROLLMON_LAB_H

#include <openssl/ssl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The TLS variants of the captures (issue 3): ECDHE with AES-GCM, RSA key
 * exchange with AES-CBC (decryptable with the server key), and TLS 1.3. */
typedef enum lab_tls_variant {
    LAB_TLS12_ECDHE_GCM = 0,
    LAB_TLS12_RSA_CBC,
    LAB_TLS13,
} lab_tls_variant_t;

/* "tls12-gcm", "tls12-rsa-cbc", "tls13"; false when the name is unknown. */
bool lab_tls_variant_parse(const char *name, lab_tls_variant_t *out);

typedef struct lab_tls_options {
    lab_tls_variant_t variant;
    const char *cert_chain;   /* PEM: the leaf first, then intermediates; NULL for none */
    const char *key;          /* PEM private key of the leaf */
    const char *trust;        /* PEM CA file to verify the peer against; NULL: no verification */
    bool require_peer_cert;   /* server: ask for and require a client certificate */
    bool check_host;          /* client: verify the server name against `sni` */
    const char *sni;          /* client: server name to send */
    const char *keylog;       /* NSS key log file to append to; NULL for none */
} lab_tls_options_t;

/* NULL after printing the reason. */
SSL_CTX *lab_tls_server_ctx(const lab_tls_options_t *opt);
SSL_CTX *lab_tls_client_ctx(const lab_tls_options_t *opt);

/* Listening socket on host:port ("127.0.0.1", "::1"); backlog as given. */
int lab_listen(const char *host, uint16_t port, int backlog);
/* Connected socket, or -1 after timeout_ms (connect and SYN retries included). */
int lab_connect(const char *host, uint16_t port, int timeout_ms);
/* Accepts one connection; -1 after timeout_ms (negative: wait forever). */
int lab_accept(int listen_fd, int timeout_ms);

/* TLS over a connected socket; NULL after printing OpenSSL's reason (the
 * alert the peer sent or the verification error). */
SSL *lab_tls_accept(SSL_CTX *ctx, int fd);
SSL *lab_tls_connect(SSL_CTX *ctx, int fd, const char *sni);

/* All of buf or failure. */
bool lab_tls_write(SSL *ssl, const void *buf, size_t len);
/* Exactly len bytes, or false (closed, error, timeout_ms passed). */
bool lab_tls_read_exact(SSL *ssl, void *buf, size_t len, int timeout_ms);
/* Up to cap bytes of whatever comes next; 0 when the peer closed, -1 on error/timeout. */
long lab_tls_read_some(SSL *ssl, void *buf, size_t cap, int timeout_ms);
/* Sends close_notify (if `clean`) and closes the socket. */
void lab_tls_close(SSL *ssl, int fd, bool clean);
/* Closes with a TCP RST instead of a FIN (SO_LINGER 0): a session cut short. */
void lab_close_reset(int fd);

/* The name the helpers use when they report (default "lab"). */
void lab_set_program(const char *name);

/* "prog: message" on stderr. */
void lab_say(const char *prog, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void lab_ssl_errors(const char *prog, const char *what);

/* A whole decimal number within [min, max] (options, header values). */
bool lab_parse_long(const char *s, long min, long max, long *out);
/* The same into an int. */
bool lab_parse_int(const char *s, int min, int max, int *out);

/* Milliseconds on the monotonic clock. */
int64_t lab_now_ms(void);

/* Sleeps for ms milliseconds. */
void lab_sleep_ms(int ms);

#endif
