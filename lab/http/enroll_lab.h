/* What the lab's web enrollment parties share beyond HTTP: fresh keys and
 * PKCS#10 requests, a CA issuing from a request, certs-only PKCS#7, the
 * modulus MD5 the way `openssl ... -modulus | openssl md5` shows it, and
 * TLS contexts made from the names of lab-pki's files.
 *
 * (Candidates for lab/common: the CAPF lab needs the same CSR, issuing and
 * modulus code for its 0x04 / 0x09 messages.)
 */
#ifndef ENROLLMON_ENROLL_LAB_H
#define ENROLLMON_ENROLL_LAB_H

#include "lab.h"

#include <glib.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The AD CS-like issuing CA of the PKI directory: adcs-issuing.pem/.key
 * and the root above it, adcs-root.pem. */
typedef struct enroll_lab_ca {
    X509 *issuing;
    EVP_PKEY *key;
    X509 *root;
} enroll_lab_ca_t;

bool enroll_lab_ca_load(const char *prog, const char *pki, enroll_lab_ca_t *ca);
void enroll_lab_ca_free(enroll_lab_ca_t *ca);

/* A fresh RSA 2048 key; NULL on failure. */
EVP_PKEY *enroll_lab_new_key(void);
/* PKCS#10 for key, subject CN=cn, O=enrollmon TEST PKI, signed SHA-256. */
X509_REQ *enroll_lab_make_csr(EVP_PKEY *key, const char *cn);
/* A request as PEM (g_free) or DER. */
char *enroll_lab_csr_pem(X509_REQ *req);
GByteArray *enroll_lab_csr_der(X509_REQ *req);
/* A request from PEM or DER; NULL unless it parses and its signature
 * verifies with its own key. */
X509_REQ *enroll_lab_csr_parse(const unsigned char *data, size_t len);

/* A certificate for the request's subject, issued by ca: the request's
 * public key, or other_key's when not NULL (a certificate that does not
 * match its CSR).  Valid from five minutes ago for a year. */
X509 *enroll_lab_issue(const enroll_lab_ca_t *ca, X509_REQ *req, EVP_PKEY *other_key);

char *enroll_lab_cert_pem(X509 *cert);
GByteArray *enroll_lab_cert_der(X509 *cert);
/* A certificate from PEM or DER. */
X509 *enroll_lab_cert_parse(const unsigned char *data, size_t len);

/* DER of a degenerate (certs-only) PKCS#7 SignedData holding certs. */
GByteArray *enroll_lab_pkcs7(X509 *const *certs, size_t n);
/* The certificates of a certs-only PKCS#7 in DER; NULL when it is not
 * one (free with OSSL_STACK_OF_X509_free / sk_X509_pop_free). */
STACK_OF(X509) *enroll_lab_pkcs7_certs(const unsigned char *der, size_t len);

/* MD5 of "Modulus=<UPPER HEX>\n" of an RSA key, lower-case hex. */
bool enroll_lab_modulus_md5(EVP_PKEY *pkey, char out[33]);
/* Prints both modulus MD5s on stdout ("csr" / "certificate" lines, the
 * digest as `openssl md5` prints it) and says whether the certificate
 * carries the request's key. */
bool enroll_lab_report_key_match(const char *prog, X509_REQ *req, X509 *cert);
/* One-line subject, g_free. */
char *enroll_lab_subject(X509 *cert);

/* A server context presenting PKI file NAME.pem (leaf, or leaf and
 * intermediates for a "-chain" name) with the key of the leaf,
 * NAME-without-"-chain".key.  A "-chain" name whose file is missing is made
 * from the leaf and its issuer among the PKI's intermediates. */
SSL_CTX *enroll_lab_server_ctx(const char *prog, const char *pki, const char *name,
                               lab_tls_variant_t variant, const char *keylog);
/* A path: `name` itself when it holds a '/', else pki/name (g_free). */
char *enroll_lab_pki_path(const char *pki, const char *name);

/* Socket send/receive timeouts, so a silent peer cannot stall a TLS
 * handshake forever. */
void enroll_lab_socket_timeouts(int fd, int ms);
/* Once per program: a write to a peer that left must not kill us. */
void enroll_lab_ignore_sigpipe(void);

/* Exit codes of the clients. */
enum {
    ENROLL_LAB_EXIT_OK = 0,
    ENROLL_LAB_EXIT_TLS = 1,      /* handshake failed (certificate rejected, alert) */
    ENROLL_LAB_EXIT_OTHER = 2,    /* usage, connection refused, unexpected answers */
    ENROLL_LAB_EXIT_DENIED = 3,   /* authentication failed, request denied, EST 4xx/5xx */
    ENROLL_LAB_EXIT_MISMATCH = 4, /* the certificate does not carry the CSR's key */
    ENROLL_LAB_EXIT_TIMEOUT = 5,  /* no answer within --timeout-ms: the client gave up */
};

/* A client's connection settings. */
typedef struct enroll_lab_client_opts {
    const char *pki;
    const char *host;
    uint16_t port;
    lab_tls_variant_t variant;
    const char *keylog;
    const char *sni;
    const char *trust; /* PKI file name or path; ignored with no_verify */
    bool no_verify;
    bool check_host;
    int timeout_ms;
} enroll_lab_client_opts_t;

/* TCP connect and TLS handshake; ENROLL_LAB_EXIT_OK or the exit code of
 * the failure (the verification reason printed by lab_tls_connect). */
int enroll_lab_client_connect(const char *prog, const enroll_lab_client_opts_t *o, SSL **ssl,
                              int *fd);
/* close_notify, a short wait (wait_ms) for the peer's, then the socket
 * closed: a tidy end of the session on the wire. */
void enroll_lab_tls_finish(SSL *ssl, int fd, int wait_ms);

/* Serves `connections` TLS connections (0: forever) on host:port with
 * ctx, one at a time, calling serve() for each completed handshake.
 * Prints "listening on HOST:PORT" once ready.  Returns the exit code. */
typedef void (*enroll_lab_serve_fn)(SSL *ssl, int fd, void *user);
int enroll_lab_serve(const char *prog, const char *host, uint16_t port, SSL_CTX *ctx,
                     long connections, enroll_lab_serve_fn serve, void *user);

#endif
