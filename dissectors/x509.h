/* X.509 certificates through OpenSSL: the facts an engineer reads off a
 * certificate, and its kind in a Cisco phone deployment (LSC, MIC, ...).
 */
#ifndef ENROLLMON_X509_H
#define ENROLLMON_X509_H

#include "cursor.h"

#include <stdbool.h>
#include <stdint.h>

typedef enum cert_kind {
    CERT_KIND_UNKNOWN = 0, /* the certificate could not be parsed */
    CERT_KIND_LSC,         /* locally significant certificate: issued by a cluster's CAPF */
    CERT_KIND_MIC,         /* manufacturing installed certificate: issued by a Cisco manufacturing CA */
    CERT_KIND_SELF_SIGNED,
    CERT_KIND_CA_ISSUED,
} cert_kind_t;

const char *cert_kind_name(cert_kind_t kind);

/* How certificate kinds are told apart; loaded from the configuration file
 * by the monitor.  Both lists are NULL-terminated; matching ignores case. */
typedef struct cert_patterns {
    char **lsc_issuer_cn_prefixes; /* default: "CAPF-" */
    char **mic_issuer_cns;         /* default: the Cisco manufacturing CA names */
} cert_patterns_t;

/* The built-in defaults, used when no configuration file says otherwise. */
const cert_patterns_t *cert_patterns_default(void);

#define CERT_SHA1_HEX_LEN 40
#define CERT_MODULUS_MD5_HEX_LEN 32

typedef struct cert_info {
    bool parsed;
    char parse_error[64];       /* set when !parsed */
    size_t der_length;
    char sha1[CERT_SHA1_HEX_LEN + 1]; /* of the DER bytes, lower-case hex; set even when !parsed */
    char *subject;              /* "C=US, O=Example, CN=host"; never NULL when parsed */
    char *issuer;
    char *subject_cn;           /* NULL when the name has no CN; several CNs joined with '+' */
    char *issuer_cn;
    char *serial;               /* upper-case hex, as `openssl x509 -serial` prints it */
    int64_t not_before;         /* seconds since the epoch, UTC */
    int64_t not_after;
    char **san_dns;             /* NULL-terminated, may be empty */
    char **san_ip;              /* NULL-terminated, may be empty */
    bool self_issued;           /* subject equals issuer */
    bool self_signed;           /* self-issued and its signature verifies with its own key */
    bool is_ca;                 /* basicConstraints cA */
    char key_type[32];          /* "RSA 2048", "EC 256", ... */
    char modulus_md5[CERT_MODULUS_MD5_HEX_LEN + 1]; /* RSA keys: see x509_spki_modulus_md5; else "" */
    cert_kind_t kind;
} cert_info_t;

/* Parses DER bytes.  Always fills sha1 and der_length; on failure returns
 * false with parse_error set and the other fields empty. */
bool x509_cert_parse(byte_span_t der, const cert_patterns_t *patterns, cert_info_t *out);
void x509_cert_info_clear(cert_info_t *info);

/* Kind from the issuer and self-signature (self-signed wins: CAPF's own
 * certificate is issued by "CAPF-..." to itself and is not an LSC). */
cert_kind_t x509_classify(const cert_info_t *info, const cert_patterns_t *patterns);

/* For an RSA SubjectPublicKeyInfo (DER), the MD5 in lower-case hex of the
 * text "Modulus=<modulus in upper-case hex, no leading zeros>\n": what
 * `openssl x509 -noout -modulus | openssl md5` (or `req`, `rsa -pubin`)
 * hashes, the usual way to tell whether a certificate, a CSR and a key go
 * together.  False, with out empty, for other keys or bytes that do not parse. */
bool x509_spki_modulus_md5(byte_span_t spki_der, char out[CERT_MODULUS_MD5_HEX_LEN + 1]);

/* Formats a DER-encoded distinguished name (as in a CertificateRequest's CA
 * list) the same way as cert_info_t.subject.  Returns NULL if it does not parse. */
char *x509_name_der_format(byte_span_t der);

#endif
