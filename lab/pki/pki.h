/* lab-pki: the test PKI of lab/README.md, shared between its two files. */
#ifndef ENROLLMON_LAB_PKI_H
#define ENROLLMON_LAB_PKI_H

#include "lab.h"

#include <openssl/x509.h>
#include <stdbool.h>
#include <stdio.h>

#define PKI_PROG "lab-pki"
#define PKI_ORGANIZATION "enrollmon TEST PKI"
#define PKI_KEY_BITS 2048
#define PKI_PATH_MAX 4096
/* The validity of every certificate that is not meant to be out of date. */
#define PKI_NOT_BEFORE "20240101000000Z"
#define PKI_NOT_AFTER "20491231235959Z"

typedef enum pki_role {
    PKI_ROOT,      /* self-signed CA */
    PKI_SUB_CA,    /* intermediate CA */
    PKI_CA_SERVER, /* self-signed TLS server certificate that is also a CA (CAPF, CUCM) */
    PKI_SERVER,    /* TLS server (and client) leaf */
    PKI_PHONE,     /* TLS client leaf: MIC or LSC */
} pki_role_t;

typedef struct pki_spec {
    const char *name;       /* file name without .pem / .key */
    const char *cn;
    const char *issuer;     /* name of the issuing entry; NULL: self-signed */
    pki_role_t role;
    long serial;            /* fixed, distinct across the whole PKI */
    const char *san_dns;    /* NULL: no subjectAltName */
    const char *not_before; /* NULL: PKI_NOT_BEFORE */
    const char *not_after;  /* NULL: PKI_NOT_AFTER */
    const char *purpose;
} pki_spec_t;

/* A new RSA key; NULL after printing OpenSSL's reason. */
EVP_PKEY *pki_new_key(const char *name);
/* The RSA key in path; NULL with *missing set when there is no such file,
 * NULL after printing the reason when it cannot be used. */
EVP_PKEY *pki_load_key(const char *path, bool *missing);
/* The certificate of spec s for key, signed by issuer_key (NULL: by key
 * itself; then issuer is NULL too); NULL after printing the reason. */
X509 *pki_make_cert(const pki_spec_t *s, EVP_PKEY *key, X509 *issuer, EVP_PKEY *issuer_key);

/* Writers for pki_write_file: arg is an EVP_PKEY, or a NULL-terminated
 * array of X509 pointers. */
bool pki_write_key(FILE *f, const void *arg);
bool pki_write_certs(FILE *f, const void *arg);

#endif
