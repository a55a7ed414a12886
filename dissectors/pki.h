/* The PKI conversations carried by HTTP: Microsoft AD CS web enrollment
 * (certsrv), EST (RFC 7030) and SCEP (Cisco IOS CA/RA).  Given one HTTP
 * exchange (method, URI, headers that matter, bodies as far as kept), says
 * which step of which conversation it is and pulls out what an engineer
 * reads in the IIS log and nginx's error.log: ReqID, template, the CSR and
 * its public key, the issued certificate, the chain, the outcome.
 *
 * Pure: bytes in, a record out.  Certificates and CSRs are parsed with
 * OpenSSL through dissectors/x509.
 */
#ifndef ENROLLMON_PKI_H
#define ENROLLMON_PKI_H

#include "cursor.h"
#include "x509.h"

#include <stdbool.h>
#include <stdint.h>

typedef enum pki_kind {
    PKI_NONE = 0,
    PKI_CERTSRV,
    PKI_EST,
    PKI_SCEP,
} pki_kind_t;

typedef enum pki_step {
    PKI_STEP_OTHER = 0,
    /* certsrv */
    PKI_STEP_LOGIN,            /* GET /certsrv or /certsrv/ */
    PKI_STEP_REQUEST_FORM,     /* certrqxt.asp */
    PKI_STEP_SUBMISSION,       /* POST certfnsh.asp */
    PKI_STEP_CERT_RETRIEVAL,   /* certnew.cer?ReqID=n */
    PKI_STEP_CHAIN_RETRIEVAL,  /* certnew.p7b?ReqID=n */
    PKI_STEP_CA_CERT_RETRIEVAL, /* certnew.cer|p7b?ReqID=CACert, certcarc.asp */
    /* EST */
    PKI_STEP_EST_CACERTS,
    PKI_STEP_EST_SIMPLEENROLL,
    PKI_STEP_EST_SIMPLEREENROLL,
    PKI_STEP_EST_CSRATTRS,
    /* SCEP */
    PKI_STEP_SCEP_GETCACAPS,
    PKI_STEP_SCEP_GETCACERT,
    PKI_STEP_SCEP_GETNEXTCACERT,
    PKI_STEP_SCEP_PKIOPERATION,
} pki_step_t;

const char *pki_kind_name(pki_kind_t kind);   /* "certsrv", "est", "scep", NULL for none */
const char *pki_step_name(pki_step_t step);   /* "login", "request_form", "submission", ... */

typedef enum pki_outcome {
    PKI_OUTCOME_NONE = 0,
    PKI_OUTCOME_ISSUED,     /* certsrv answer page: issued (a certnew.cer link) */
    PKI_OUTCOME_PENDING,    /* certsrv: taken under submission */
    PKI_OUTCOME_DENIED,     /* certsrv: denied, with a message and disposition */
} pki_outcome_t;

const char *pki_outcome_name(pki_outcome_t o);

#define PKI_TEXT_MAX 256
#define PKI_MAX_CHAIN 8

/* What one exchange showed.  Certificates are parsed records (x509). */
typedef struct pki_record {
    pki_kind_t kind;
    pki_step_t step;
    char operation[48];          /* SCEP operation= value, EST path's last part */
    long req_id;                 /* -1 when none */
    char template_name[96];      /* certsrv CertAttrib CertificateTemplate:<name> */
    bool has_csr;
    char csr_subject[PKI_TEXT_MAX];
    char csr_modulus_md5[33];    /* RSA: as `openssl req -noout -modulus | openssl md5` */
    bool has_certificate;
    cert_info_t certificate;     /* the issued certificate (certnew.cer, EST response) */
    unsigned chain_count;        /* certificates in a PKCS#7 (certnew.p7b, EST, SCEP) */
    cert_info_t chain[PKI_MAX_CHAIN];
    pki_outcome_t outcome;
    char outcome_message[PKI_TEXT_MAX]; /* the denial's text, e.g. "Denied by Policy Module" */
    char disposition[64];        /* "0x80094800 (-2146875392 CERTSRV_E_UNSUPPORTED_CERT_TYPE)" */
    bool body_truncated;         /* a body needed here was cut by the body cap */
} pki_record_t;

/* Which conversation a request belongs to, from its method and URI alone:
 * the HTTP layer asks this first, to know whether to keep the bodies. */
pki_kind_t pki_kind_of_request(const char *method, const char *uri, pki_step_t *step);

/* Everything the exchange shows.  request_body / response_body may be
 * empty (not kept, or none); *_truncated say they were cut by the cap.
 * response_status 0 when there was no response. */
void pki_dissect(const char *method, const char *uri, const char *request_content_type,
                 byte_span_t request_body, bool request_truncated, int response_status,
                 const char *response_content_type, byte_span_t response_body,
                 bool response_truncated, const cert_patterns_t *patterns, pki_record_t *out);

void pki_record_clear(pki_record_t *r);

#endif
