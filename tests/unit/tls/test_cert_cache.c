/* Unit tests for monitor/cert_cache.c: sharing by content, hit and failure
 * counts, and references that outlive the cache's own.
 */
#include "certgen.h"
#include "monitor/cert_cache.h"

#include <glib.h>
#include <string.h>

static EVP_PKEY *leaf_key;
static EVP_PKEY *ca_key;

/* The DER of a leaf "CN=cn" issued by issuer_cn. */
static uint8_t *make_der(const char *cn, const char *issuer_cn, size_t *len)
{
    X509_NAME *subject = certgen_name("CN", cn, NULL);
    X509_NAME *issuer = certgen_name("CN", issuer_cn, NULL);
    certgen_spec_t spec = { .subject = subject, .subject_key = leaf_key, .issuer = issuer, .signer = ca_key };
    uint8_t *der = certgen_cert_der(&spec, len);
    X509_NAME_free(subject);
    X509_NAME_free(issuer);
    return der;
}

static byte_span_t span(const uint8_t *p, size_t len)
{
    byte_span_t s = { p, len };
    return s;
}

static void test_same_der_shared(void)
{
    cert_cache_t *cache = cert_cache_new(NULL, 16);
    size_t len;
    uint8_t *der = make_der("SEP74A02FC0A675", "CAPF-1a2b3c4d", &len);
    /* The same bytes at another address are the same certificate. */
    uint8_t *again = g_memdup2(der, len);

    cert_ref_t *a = cert_cache_get(cache, span(der, len));
    g_assert_nonnull(a);
    g_assert_true(a->info.parsed);
    g_assert_cmpint(a->info.kind, ==, CERT_KIND_LSC);
    g_assert_cmpstr(a->info.subject_cn, ==, "SEP74A02FC0A675");
    const cert_cache_stats_t *stats = cert_cache_stats(cache);
    g_assert_cmpuint(stats->lookups, ==, 1);
    g_assert_cmpuint(stats->hits, ==, 0);
    g_assert_cmpuint(stats->parse_failures, ==, 0);
    g_assert_cmpuint(a->refcount, ==, 2); /* the cache's and ours */

    cert_ref_t *b = cert_cache_get(cache, span(again, len));
    g_assert_true(a == b);
    g_assert_cmpuint(a->refcount, ==, 3);
    g_assert_cmpuint(stats->lookups, ==, 2);
    g_assert_cmpuint(stats->hits, ==, 1);

    cert_ref_t *c = cert_cache_get(cache, span(der, len));
    g_assert_true(a == c);
    g_assert_cmpuint(stats->hits, ==, 2);

    cert_ref_unref(b);
    cert_ref_unref(c);
    g_assert_cmpuint(a->refcount, ==, 2);
    cert_ref_t *d = cert_ref_ref(a);
    g_assert_true(d == a);
    g_assert_cmpuint(a->refcount, ==, 3);
    cert_ref_unref(d);
    cert_ref_unref(a);
    cert_cache_free(cache);
    g_free(der);
    g_free(again);
}

static void test_different_der(void)
{
    cert_cache_t *cache = cert_cache_new(NULL, 16);
    size_t len1, len2;
    uint8_t *der1 = make_der("phone-1", "CAPF-1a2b3c4d", &len1);
    uint8_t *der2 = make_der("phone-2", "CAPF-1a2b3c4d", &len2);
    cert_ref_t *a = cert_cache_get(cache, span(der1, len1));
    cert_ref_t *b = cert_cache_get(cache, span(der2, len2));
    g_assert_true(a != b);
    g_assert_cmpstr(a->info.subject_cn, ==, "phone-1");
    g_assert_cmpstr(b->info.subject_cn, ==, "phone-2");
    g_assert_cmpstr(a->info.sha1, !=, b->info.sha1);
    g_assert_cmpuint(cert_cache_stats(cache)->hits, ==, 0);
    g_assert_cmpuint(cert_cache_stats(cache)->lookups, ==, 2);
    cert_ref_unref(a);
    cert_ref_unref(b);
    cert_cache_free(cache);
    g_free(der1);
    g_free(der2);
}

static void test_overflow_keeps_references(void)
{
    cert_cache_t *cache = cert_cache_new(NULL, 2);
    const cert_cache_stats_t *stats = cert_cache_stats(cache);
    size_t len[3];
    uint8_t *der[3];
    cert_ref_t *ref[3];
    const char *cn[3] = { "SEP000000000001", "SEP000000000002", "SEP000000000003" };
    for (int i = 0; i < 3; i++) {
        der[i] = make_der(cn[i], "Cisco Manufacturing CA SHA2", &len[i]);
        ref[i] = cert_cache_get(cache, span(der[i], len[i]));
        g_assert_nonnull(ref[i]);
    }
    g_assert_cmpuint(stats->lookups, ==, 3);
    g_assert_cmpuint(stats->hits, ==, 0);
    /* The third insertion cleared the first two from the cache: only our
     * references hold them now, and they are intact. */
    g_assert_cmpuint(ref[0]->refcount, ==, 1);
    g_assert_cmpuint(ref[1]->refcount, ==, 1);
    g_assert_cmpuint(ref[2]->refcount, ==, 2);
    for (int i = 0; i < 3; i++) {
        g_assert_true(ref[i]->info.parsed);
        g_assert_cmpstr(ref[i]->info.subject_cn, ==, cn[i]);
        g_assert_cmpint(ref[i]->info.kind, ==, CERT_KIND_MIC);
        char sha1[41];
        certgen_sha1_hex(der[i], len[i], sha1);
        g_assert_cmpstr(ref[i]->info.sha1, ==, sha1);
    }

    /* The first certificate is no longer cached: a new entry. */
    cert_ref_t *first_again = cert_cache_get(cache, span(der[0], len[0]));
    g_assert_true(first_again != ref[0]);
    g_assert_cmpuint(stats->hits, ==, 0);
    g_assert_cmpstr(first_again->info.subject_cn, ==, cn[0]);
    /* The third still is. */
    cert_ref_t *third_again = cert_cache_get(cache, span(der[2], len[2]));
    g_assert_true(third_again == ref[2]);
    g_assert_cmpuint(stats->hits, ==, 1);
    g_assert_cmpuint(stats->lookups, ==, 5);

    /* Freeing the cache leaves references held elsewhere alive. */
    cert_cache_free(cache);
    g_assert_cmpuint(ref[2]->refcount, ==, 2);
    g_assert_cmpstr(ref[2]->info.subject_cn, ==, cn[2]);
    g_assert_cmpstr(first_again->info.subject_cn, ==, cn[0]);
    cert_ref_unref(third_again);
    cert_ref_unref(first_again);
    for (int i = 0; i < 3; i++) {
        cert_ref_unref(ref[i]);
        g_free(der[i]);
    }
}

static void test_zero_max_entries(void)
{
    /* Zero entries is taken as one: the cache still works. */
    cert_cache_t *cache = cert_cache_new(NULL, 0);
    size_t len;
    uint8_t *der = make_der("x", "CAPF-1a2b3c4d", &len);
    cert_ref_t *a = cert_cache_get(cache, span(der, len));
    cert_ref_t *b = cert_cache_get(cache, span(der, len));
    g_assert_true(a == b);
    g_assert_cmpuint(cert_cache_stats(cache)->hits, ==, 1);
    cert_ref_unref(a);
    cert_ref_unref(b);
    cert_cache_free(cache);
    g_free(der);
}

static void test_parse_failures(void)
{
    cert_cache_t *cache = cert_cache_new(NULL, 16);
    const cert_cache_stats_t *stats = cert_cache_stats(cache);
    static const uint8_t garbage1[] = { 0x30, 0x03, 0x02, 0x01, 0x05 };
    static const uint8_t garbage2[] = "not a certificate at all";

    cert_ref_t *a = cert_cache_get(cache, span(garbage1, sizeof(garbage1)));
    g_assert_nonnull(a);
    g_assert_false(a->info.parsed);
    g_assert_cmpint(a->info.kind, ==, CERT_KIND_UNKNOWN);
    char sha1[41];
    certgen_sha1_hex(garbage1, sizeof(garbage1), sha1);
    g_assert_cmpstr(a->info.sha1, ==, sha1);
    g_assert_cmpuint(stats->parse_failures, ==, 1);

    /* The same garbage again is found, not parsed again. */
    cert_ref_t *b = cert_cache_get(cache, span(garbage1, sizeof(garbage1)));
    g_assert_true(a == b);
    g_assert_cmpuint(stats->parse_failures, ==, 1);
    g_assert_cmpuint(stats->hits, ==, 1);

    cert_ref_t *c = cert_cache_get(cache, span(garbage2, sizeof(garbage2) - 1));
    g_assert_false(c->info.parsed);
    g_assert_cmpuint(stats->parse_failures, ==, 2);

    /* A good certificate is not a failure. */
    size_t len;
    uint8_t *der = make_der("ok", "Example CA", &len);
    cert_ref_t *d = cert_cache_get(cache, span(der, len));
    g_assert_true(d->info.parsed);
    g_assert_cmpint(d->info.kind, ==, CERT_KIND_CA_ISSUED);
    g_assert_cmpuint(stats->parse_failures, ==, 2);

    /* Nothing at all. */
    cert_ref_t *e = cert_cache_get(cache, span(NULL, 0));
    g_assert_nonnull(e);
    g_assert_false(e->info.parsed);
    g_assert_cmpuint(stats->parse_failures, ==, 3);
    g_assert_cmpuint(stats->lookups, ==, 5);

    cert_ref_unref(a);
    cert_ref_unref(b);
    cert_ref_unref(c);
    cert_ref_unref(d);
    cert_ref_unref(e);
    cert_ref_unref(NULL); /* allowed */
    cert_cache_free(cache);
    cert_cache_free(NULL); /* allowed */
    g_free(der);
}

static void test_patterns_used(void)
{
    char *lsc[] = { "Phone CA ", NULL };
    char *mic[] = { NULL };
    cert_patterns_t patterns = { lsc, mic };
    cert_cache_t *cache = cert_cache_new(&patterns, 4);
    size_t len1, len2;
    uint8_t *der1 = make_der("phone", "Phone CA 3", &len1);
    uint8_t *der2 = make_der("phone", "CAPF-1a2b3c4d", &len2);
    cert_ref_t *a = cert_cache_get(cache, span(der1, len1));
    cert_ref_t *b = cert_cache_get(cache, span(der2, len2));
    g_assert_cmpint(a->info.kind, ==, CERT_KIND_LSC);
    g_assert_cmpint(b->info.kind, ==, CERT_KIND_CA_ISSUED);
    cert_ref_unref(a);
    cert_ref_unref(b);
    cert_cache_free(cache);
    g_free(der1);
    g_free(der2);
}

/* Parsed certificates are charged to the global memory cap while they live,
 * and given back when the last reference goes, whoever holds it. */
static void test_memcap(void)
{
    memcap_t mc;
    memcap_init(&mc, (size_t)1 << 30, (size_t)1 << 20);
    cert_cache_t *cache = cert_cache_new(NULL, 2);
    cert_cache_set_memcap(cache, &mc);
    size_t len[3];
    uint8_t *der[3];
    cert_ref_t *ref[3];
    for (int i = 0; i < 3; i++) {
        char cn[16];
        g_snprintf(cn, sizeof(cn), "phone-%d", i);
        der[i] = make_der(cn, "CAPF-1a2b3c4d", &len[i]);
    }

    ref[0] = cert_cache_get(cache, span(der[0], len[0]));
    g_assert_nonnull(ref[0]);
    size_t one = mc.in_use;
    g_assert_cmpuint(one, >, len[0]);
    /* A hit costs nothing more. */
    cert_ref_t *again = cert_cache_get(cache, span(der[0], len[0]));
    g_assert_true(again == ref[0]);
    g_assert_cmpuint(mc.in_use, ==, one);
    cert_ref_unref(again);

    /* Full: a new certificate is refused, a cached one is still found. */
    mc.global_limit = mc.in_use;
    cert_ref_t *refused = cert_cache_get(cache, span(der[1], len[1]));
    g_assert_null(refused);
    g_assert_cmpuint(cert_cache_stats(cache)->refused, ==, 1);
    g_assert_cmpuint(mc.hits[CAP_GLOBAL_MEMORY], ==, 1);
    g_assert_cmpuint(mc.in_use, ==, one);
    again = cert_cache_get(cache, span(der[0], len[0]));
    g_assert_true(again == ref[0]);
    cert_ref_unref(again);

    /* Room again: three certificates, the cache clears itself on the third
     * and the two dropped ones stay charged while referenced. */
    mc.global_limit = (size_t)1 << 30;
    ref[1] = cert_cache_get(cache, span(der[1], len[1]));
    ref[2] = cert_cache_get(cache, span(der[2], len[2]));
    g_assert_nonnull(ref[1]);
    g_assert_nonnull(ref[2]);
    size_t three = mc.in_use;
    g_assert_cmpuint(three, >, one);
    cert_ref_unref(ref[0]); /* dropped by the cache: this was the last reference */
    g_assert_cmpuint(mc.in_use, <, three);
    cert_ref_unref(ref[1]);
    g_assert_cmpuint(mc.in_use, >, 0);
    cert_cache_free(cache); /* drops its reference to the third */
    g_assert_cmpuint(mc.in_use, >, 0);
    cert_ref_unref(ref[2]);
    g_assert_cmpuint(mc.in_use, ==, 0);
    for (int i = 0; i < 3; i++)
        g_free(der[i]);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    /* A failed check marks its test failed and the run goes on, so one run
     * reports every failing case. */
    g_test_set_nonfatal_assertions();
    leaf_key = certgen_key_ec();
    ca_key = certgen_key_ec();
    g_test_add_func("/cert-cache/same-der-shared", test_same_der_shared);
    g_test_add_func("/cert-cache/different-der", test_different_der);
    g_test_add_func("/cert-cache/overflow-keeps-references", test_overflow_keeps_references);
    g_test_add_func("/cert-cache/zero-max-entries", test_zero_max_entries);
    g_test_add_func("/cert-cache/parse-failures", test_parse_failures);
    g_test_add_func("/cert-cache/patterns", test_patterns_used);
    g_test_add_func("/cert-cache/memcap", test_memcap);
    int status = g_test_run();
    EVP_PKEY_free(leaf_key);
    EVP_PKEY_free(ca_key);
    return status;
}
