/* Parsed certificates shared by SHA-1 of their DER bytes.
 *
 * The same server certificate comes back in every connection to that
 * server; parsing it once saves most of the X.509 cost.  Entries are
 * reference counted, so a connection keeps its certificates even after the
 * cache has dropped them to stay within its size.
 */
#ifndef ENROLLMON_CERT_CACHE_H
#define ENROLLMON_CERT_CACHE_H

#include "../dissectors/x509.h"
#include "memcap.h"

typedef struct cert_ref {
    unsigned refcount;
    size_t charged;      /* bytes charged to the global memory cap */
    memcap_t *memcap;
    cert_info_t info;
} cert_ref_t;

typedef struct cert_cache cert_cache_t;

cert_cache_t *cert_cache_new(const cert_patterns_t *patterns, unsigned max_entries);
/* From now on, parsed certificates are charged to memcap's global account. */
void cert_cache_set_memcap(cert_cache_t *cache, memcap_t *memcap);
void cert_cache_free(cert_cache_t *cache);

/* A counted reference to the parsed certificate; release with cert_ref_unref.
 * NULL when the memory cap refuses room for a certificate not yet cached. */
cert_ref_t *cert_cache_get(cert_cache_t *cache, byte_span_t der);
cert_ref_t *cert_ref_ref(cert_ref_t *ref);
void cert_ref_unref(cert_ref_t *ref);

typedef struct cert_cache_stats {
    uint64_t lookups;
    uint64_t hits;
    uint64_t parse_failures;
    uint64_t refused;    /* not kept: the memory cap was reached */
} cert_cache_stats_t;

const cert_cache_stats_t *cert_cache_stats(const cert_cache_t *cache);

#endif
