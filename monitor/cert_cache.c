#include "cert_cache.h"

#include <glib.h>
#include <openssl/evp.h>

struct cert_cache {
    const cert_patterns_t *patterns;
    memcap_t *memcap;
    unsigned max_entries;
    GHashTable *by_digest; /* 20-byte SHA-1 (owned) -> cert_ref_t (one reference) */
    cert_cache_stats_t stats;
};

static guint digest_hash(gconstpointer key)
{
    guint h;
    memcpy(&h, key, sizeof(h)); /* a SHA-1 is already uniformly spread */
    return h;
}

static gboolean digest_equal(gconstpointer a, gconstpointer b)
{
    return memcmp(a, b, 20) == 0;
}

static void unref_value(gpointer value)
{
    cert_ref_unref(value);
}

cert_cache_t *cert_cache_new(const cert_patterns_t *patterns, unsigned max_entries)
{
    cert_cache_t *cache = g_new0(cert_cache_t, 1);
    cache->patterns = patterns;
    cache->max_entries = max_entries ? max_entries : 1;
    cache->by_digest = g_hash_table_new_full(digest_hash, digest_equal, g_free, unref_value);
    return cache;
}

void cert_cache_set_memcap(cert_cache_t *cache, memcap_t *memcap)
{
    cache->memcap = memcap;
}

void cert_cache_free(cert_cache_t *cache)
{
    if (!cache)
        return;
    g_hash_table_destroy(cache->by_digest);
    g_free(cache);
}

cert_ref_t *cert_ref_ref(cert_ref_t *ref)
{
    ref->refcount++;
    return ref;
}

void cert_ref_unref(cert_ref_t *ref)
{
    if (!ref || --ref->refcount > 0)
        return;
    if (ref->memcap)
        memcap_release(ref->memcap, NULL, ref->charged);
    x509_cert_info_clear(&ref->info);
    g_free(ref);
}

cert_ref_t *cert_cache_get(cert_cache_t *cache, byte_span_t der)
{
    cache->stats.lookups++;
    uint8_t digest[EVP_MAX_MD_SIZE];
    unsigned int digest_len = 0;
    bool hashed = EVP_Digest(der.ptr, der.len, digest, &digest_len, EVP_sha1(), NULL) &&
                  digest_len == 20;
    if (hashed) {
        cert_ref_t *found = g_hash_table_lookup(cache->by_digest, digest);
        if (found) {
            cache->stats.hits++;
            return cert_ref_ref(found);
        }
    }
    /* The parsed form holds the names and a few small strings: about twice
     * the DER's size is a fair upper estimate. */
    size_t cost = sizeof(cert_ref_t) + 2 * der.len + 256;
    if (cache->memcap && !memcap_reserve(cache->memcap, NULL, cost)) {
        cache->stats.refused++;
        return NULL;
    }
    cert_ref_t *ref = g_new0(cert_ref_t, 1);
    ref->refcount = 1;
    ref->memcap = cache->memcap;
    ref->charged = cache->memcap ? cost : 0;
    if (!x509_cert_parse(der, cache->patterns, &ref->info))
        cache->stats.parse_failures++;
    if (hashed) {
        /* Dropping every entry when full keeps the bound without an LRU;
         * certificates still in use live on through their references. */
        if (g_hash_table_size(cache->by_digest) >= cache->max_entries)
            g_hash_table_remove_all(cache->by_digest);
        g_hash_table_insert(cache->by_digest, g_memdup2(digest, 20), cert_ref_ref(ref));
    }
    return ref;
}

const cert_cache_stats_t *cert_cache_stats(const cert_cache_t *cache)
{
    return &cache->stats;
}
