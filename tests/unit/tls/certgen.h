/* Test helper: certificates built on the spot with OpenSSL 3, so no key or
 * certificate is ever checked in.  Every function aborts the test (through
 * g_assert) when OpenSSL fails, so a test never runs on half-built input.
 */
#ifndef ENROLLMON_TEST_CERTGEN_H
#define ENROLLMON_TEST_CERTGEN_H

#include <glib.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A fresh EC P-256 key (fast) or RSA key of the given size. */
EVP_PKEY *certgen_key_ec(void);
EVP_PKEY *certgen_key_rsa(unsigned bits);

/* A name from field/value pairs in the order given, ended by NULL:
 * certgen_name("C", "US", "O", "Example", "CN", "host", NULL).
 * Values are UTF-8.  An empty name when the first field is NULL. */
X509_NAME *certgen_name(const char *field, ...) G_GNUC_NULL_TERMINATED;

typedef struct certgen_spec {
    const X509_NAME *subject;
    EVP_PKEY *subject_key;      /* the public key the certificate holds */
    const X509_NAME *issuer;    /* NULL: same as subject */
    EVP_PKEY *signer;           /* NULL: subject_key (signed by itself) */
    const char *serial_hex;     /* NULL: "1A2B3C"; a leading '-' for negative */
    int64_t not_before;         /* 0: 1547647502 (2019-01-16T14:05:02Z) */
    int64_t not_after;          /* 0: 2524608000 (2050-01-01T00:00:00Z) */
    bool version1;              /* X.509 v1, no extensions allowed */
    /* Extensions in openssl.cnf syntax; NULL leaves the extension out. */
    const char *basic_constraints; /* "critical,CA:TRUE" */
    const char *key_usage;         /* "critical,keyCertSign,cRLSign" */
    const char *subject_alt_name;  /* "DNS:a.example,IP:10.1.1.5" */
} certgen_spec_t;

/* Builds and signs a certificate (SHA-256).  Free with X509_free. */
X509 *certgen_cert(const certgen_spec_t *spec);

/* DER of a certificate or of a name, g_malloc'd; *len receives the size. */
uint8_t *certgen_der(X509 *cert, size_t *len);
uint8_t *certgen_name_der(const X509_NAME *name, size_t *len);

/* Builds a certificate and returns its DER in one step. */
uint8_t *certgen_cert_der(const certgen_spec_t *spec, size_t *len);

/* Lower-case hex SHA-1 of bytes, computed independently of the code under
 * test; out must hold 41 bytes. */
void certgen_sha1_hex(const uint8_t *data, size_t len, char out[41]);

#endif
