/* The CA certificates the user trusts (--trust FILE_OR_DIR, PEM), and
 * verifying a chain a server sent against them at the capture's time.
 */
#ifndef ENROLLMON_TRUST_STORE_H
#define ENROLLMON_TRUST_STORE_H

#include "../dissectors/cursor.h"

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct trust_store trust_store_t;

/* A PEM file with one or more certificates, or a directory of them (*.pem,
 * *.crt, *.cer).  NULL with error set (one line naming the problem) when
 * nothing usable is there. */
trust_store_t *trust_store_load(const char *path, GError **error);
void trust_store_free(trust_store_t *store);
unsigned trust_store_count(const trust_store_t *store);

/* One problem verification found: an X509_V_ERR_* code (X509_V_OK for
 * none), OpenSSL's text for it, and the chain depth it concerns (0: the
 * leaf). */
typedef struct trust_problem {
    int code;
    const char *text;   /* static (X509_verify_cert_error_string); NULL when code is X509_V_OK */
    int depth;
} trust_problem_t;

/* Verification goes on past the first problem so that both kinds are
 * known: a chain that is incomplete or ends at an untrusted root is a
 * different failure (CA_CHAIN_UNTRUSTED) from a certificate used outside
 * its validity period (CERT_EXPIRED / CERT_NOT_YET_VALID), and a chain can
 * have both. */
typedef struct trust_verify_result {
    bool checked;             /* the leaf parsed and the chain was verified */
    bool ok;                  /* no problem at all */
    trust_problem_t first;    /* the first problem, what OpenSSL alone would report */
    trust_problem_t chain;    /* the first problem that is not about time: issuer not found,
                               * self-signed, untrusted root, bad signature, ... */
    trust_problem_t time;     /* the first validity-period problem (not yet valid, expired) */
} trust_verify_result_t;

/* Verifies the chain ders[0] (the leaf) .. ders[n-1] (untrusted
 * intermediates, as the server sent them) against the store, as of
 * at_time_s (seconds since the epoch: the packet's capture time).
 * Returns out->ok.  A leaf that does not parse: checked false. */
bool trust_store_verify(const trust_store_t *store, const byte_span_t *ders, unsigned n,
                        int64_t at_time_s, trust_verify_result_t *out);

/* Whether an X509_V_ERR_* code is about a validity period. */
bool trust_error_is_time(int code);

#endif
