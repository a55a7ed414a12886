#include "tls_crypto.h"

#include <glib.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rsa.h>
#include <string.h>

/* ------------------------------------------------------------------------
 * Suites
 */

#define GCM TLS_CIPHER_GCM
#define CHACHA TLS_CIPHER_CHACHA20_POLY1305
#define TLS13(id, name, kind, cipher, prf, key_len) \
    { id, name, kind, cipher, NULL, prf, key_len, 0, false, true }
#define AEAD12(id, name, kind, cipher, prf, key_len, rsa) \
    { id, name, kind, cipher, NULL, prf, key_len, 0, rsa, false }
#define CBC12(id, name, cipher, mac, mac_len, prf, key_len, rsa) \
    { id, name, TLS_CIPHER_CBC, cipher, mac, prf, key_len, mac_len, rsa, false }
#define RSA_KX true
#define DHE_KX false

/* Sorted by id (binary search). */
static const tls_suite_t suites[] = {
    CBC12(0x002f, "TLS_RSA_WITH_AES_128_CBC_SHA", "AES-128-CBC", "SHA1", 20, "SHA256", 16, RSA_KX),
    CBC12(0x0033, "TLS_DHE_RSA_WITH_AES_128_CBC_SHA", "AES-128-CBC", "SHA1", 20, "SHA256", 16,
          DHE_KX),
    CBC12(0x0035, "TLS_RSA_WITH_AES_256_CBC_SHA", "AES-256-CBC", "SHA1", 20, "SHA256", 32, RSA_KX),
    CBC12(0x0039, "TLS_DHE_RSA_WITH_AES_256_CBC_SHA", "AES-256-CBC", "SHA1", 20, "SHA256", 32,
          DHE_KX),
    CBC12(0x003c, "TLS_RSA_WITH_AES_128_CBC_SHA256", "AES-128-CBC", "SHA256", 32, "SHA256", 16,
          RSA_KX),
    CBC12(0x003d, "TLS_RSA_WITH_AES_256_CBC_SHA256", "AES-256-CBC", "SHA256", 32, "SHA256", 32,
          RSA_KX),
    CBC12(0x0067, "TLS_DHE_RSA_WITH_AES_128_CBC_SHA256", "AES-128-CBC", "SHA256", 32, "SHA256", 16,
          DHE_KX),
    CBC12(0x006b, "TLS_DHE_RSA_WITH_AES_256_CBC_SHA256", "AES-256-CBC", "SHA256", 32, "SHA256", 32,
          DHE_KX),
    AEAD12(0x009c, "TLS_RSA_WITH_AES_128_GCM_SHA256", GCM, "AES-128-GCM", "SHA256", 16, RSA_KX),
    AEAD12(0x009d, "TLS_RSA_WITH_AES_256_GCM_SHA384", GCM, "AES-256-GCM", "SHA384", 32, RSA_KX),
    AEAD12(0x009e, "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256", GCM, "AES-128-GCM", "SHA256", 16, DHE_KX),
    AEAD12(0x009f, "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384", GCM, "AES-256-GCM", "SHA384", 32, DHE_KX),
    TLS13(0x1301, "TLS_AES_128_GCM_SHA256", GCM, "AES-128-GCM", "SHA256", 16),
    TLS13(0x1302, "TLS_AES_256_GCM_SHA384", GCM, "AES-256-GCM", "SHA384", 32),
    TLS13(0x1303, "TLS_CHACHA20_POLY1305_SHA256", CHACHA, "ChaCha20-Poly1305", "SHA256", 32),
    CBC12(0xc009, "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", "AES-128-CBC", "SHA1", 20, "SHA256", 16,
          DHE_KX),
    CBC12(0xc00a, "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA", "AES-256-CBC", "SHA1", 20, "SHA256", 32,
          DHE_KX),
    CBC12(0xc013, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", "AES-128-CBC", "SHA1", 20, "SHA256", 16,
          DHE_KX),
    CBC12(0xc014, "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA", "AES-256-CBC", "SHA1", 20, "SHA256", 32,
          DHE_KX),
    CBC12(0xc023, "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256", "AES-128-CBC", "SHA256", 32, "SHA256",
          16, DHE_KX),
    CBC12(0xc024, "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384", "AES-256-CBC", "SHA384", 48, "SHA384",
          32, DHE_KX),
    CBC12(0xc027, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256", "AES-128-CBC", "SHA256", 32, "SHA256",
          16, DHE_KX),
    CBC12(0xc028, "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384", "AES-256-CBC", "SHA384", 48, "SHA384",
          32, DHE_KX),
    AEAD12(0xc02b, "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", GCM, "AES-128-GCM", "SHA256", 16,
           DHE_KX),
    AEAD12(0xc02c, "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", GCM, "AES-256-GCM", "SHA384", 32,
           DHE_KX),
    AEAD12(0xc02f, "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", GCM, "AES-128-GCM", "SHA256", 16,
           DHE_KX),
    AEAD12(0xc030, "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", GCM, "AES-256-GCM", "SHA384", 32,
           DHE_KX),
    AEAD12(0xcca8, "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256", CHACHA, "ChaCha20-Poly1305",
           "SHA256", 32, DHE_KX),
    AEAD12(0xcca9, "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", CHACHA, "ChaCha20-Poly1305",
           "SHA256", 32, DHE_KX),
    AEAD12(0xccaa, "TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256", CHACHA, "ChaCha20-Poly1305",
           "SHA256", 32, DHE_KX),
};

const tls_suite_t *tls_suite_lookup(uint16_t id)
{
    size_t lo = 0, hi = G_N_ELEMENTS(suites);
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (suites[mid].id == id)
            return &suites[mid];
        if (suites[mid].id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* ------------------------------------------------------------------------
 * Algorithms, fetched once per process
 */

static const char *const cipher_names[] = {
    "AES-128-GCM", "AES-256-GCM", "ChaCha20-Poly1305", "AES-128-CBC", "AES-256-CBC",
};

/* The transcript's digests, in the order its contexts are kept. */
static const char *const transcript_md_names[] = { "SHA256", "SHA384", "MD5-SHA1" };
#define TRANSCRIPT_MDS G_N_ELEMENTS(transcript_md_names)

typedef struct algorithms {
    EVP_KDF *tls1_prf;
    EVP_KDF *tls13_kdf;
    EVP_MAC *hmac;
    EVP_CIPHER *ciphers[G_N_ELEMENTS(cipher_names)];
    EVP_MD *transcript_mds[TRANSCRIPT_MDS];
} algorithms_t;

static algorithms_t algs;

/* A fetch that fails leaves NULL: whatever needs it then fails cleanly
 * (ChaCha20 or MD5 may be missing under a restricted provider). */
static const algorithms_t *algorithms(void)
{
    static gsize once = 0;
    if (g_once_init_enter(&once)) {
        algs.tls1_prf = EVP_KDF_fetch(NULL, "TLS1-PRF", NULL);
        algs.tls13_kdf = EVP_KDF_fetch(NULL, "TLS13-KDF", NULL);
        algs.hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
        for (size_t i = 0; i < G_N_ELEMENTS(cipher_names); i++)
            algs.ciphers[i] = EVP_CIPHER_fetch(NULL, cipher_names[i], NULL);
        for (size_t i = 0; i < TRANSCRIPT_MDS; i++)
            algs.transcript_mds[i] = EVP_MD_fetch(NULL, transcript_md_names[i], NULL);
        ERR_clear_error();
        g_once_init_leave(&once, 1);
    }
    return &algs;
}

static const EVP_CIPHER *cipher_for(const char *name)
{
    const algorithms_t *a = algorithms();
    for (size_t i = 0; i < G_N_ELEMENTS(cipher_names); i++)
        if (strcmp(cipher_names[i], name) == 0)
            return a->ciphers[i];
    return NULL;
}

/* ------------------------------------------------------------------------
 * Key derivation
 */

/* PRF(secret, label, seed_a | seed_b) of TLS 1.0-1.2 ("MD5-SHA1" for the
 * TLS 1.0/1.1 PRF). */
static bool tls_prf(const char *digest, const uint8_t *secret, size_t secret_len, const char *label,
                    const uint8_t *seed_a, size_t a_len, const uint8_t *seed_b, size_t b_len,
                    uint8_t *out, size_t out_len)
{
    const algorithms_t *a = algorithms();
    uint8_t seed[32 + 2 * EVP_MAX_MD_SIZE];
    size_t label_len = strlen(label);
    if (!a->tls1_prf || label_len + a_len + b_len > sizeof(seed))
        return false;
    memcpy(seed, label, label_len);
    if (a_len)
        memcpy(seed + label_len, seed_a, a_len);
    if (b_len)
        memcpy(seed + label_len + a_len, seed_b, b_len);

    EVP_KDF_CTX *kctx = EVP_KDF_CTX_new(a->tls1_prf);
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)digest, 0),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SECRET, (void *)secret, secret_len),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SEED, seed, label_len + a_len + b_len),
        OSSL_PARAM_construct_end(),
    };
    bool ok = kctx && EVP_KDF_derive(kctx, out, out_len, params) > 0;
    EVP_KDF_CTX_free(kctx);
    OPENSSL_cleanse(seed, sizeof(seed));
    if (!ok) {
        OPENSSL_cleanse(out, out_len);
        ERR_clear_error();
    }
    return ok;
}

bool tls13_hkdf_expand_label(const char *digest, const uint8_t *secret, size_t secret_len,
                             const char *label, const uint8_t *context, size_t context_len,
                             uint8_t *out, size_t out_len)
{
    const algorithms_t *a = algorithms();
    if (!a->tls13_kdf || !digest || !secret || !label || (context_len && !context))
        return false;
    static const char prefix[] = "tls13 ";
    static const uint8_t empty[1] = { 0 };
    EVP_KDF_CTX *kctx = EVP_KDF_CTX_new(a->tls13_kdf);
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_MODE, (char *)"EXPAND_ONLY", 0),
        OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)digest, 0),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)secret, secret_len),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_PREFIX, (void *)prefix,
                                          sizeof(prefix) - 1),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_LABEL, (void *)label, strlen(label)),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_DATA,
                                          (void *)(context_len ? context : empty), context_len),
        OSSL_PARAM_construct_end(),
    };
    bool ok = kctx && EVP_KDF_derive(kctx, out, out_len, params) > 0;
    EVP_KDF_CTX_free(kctx);
    if (!ok) {
        OPENSSL_cleanse(out, out_len);
        ERR_clear_error();
    }
    return ok;
}

/* The PRF digest of a version: MD5+SHA-1 before TLS 1.2. */
static const char *prf_digest(const tls_suite_t *suite, uint16_t version)
{
    return version >= 0x0303 ? suite->prf : "MD5-SHA1";
}

bool tls_master_secret_for_version(const tls_suite_t *suite, uint16_t version,
                                   const uint8_t premaster[48],
                                   const uint8_t client_random[TLS_RANDOM_LEN],
                                   const uint8_t server_random[TLS_RANDOM_LEN],
                                   const uint8_t *session_hash, size_t session_hash_len,
                                   uint8_t master[TLS_MASTER_SECRET_LEN])
{
    if (!suite || suite->tls13 || !premaster || !master || version < 0x0301 || version > 0x0303)
        return false;
    const char *digest = prf_digest(suite, version);
    if (session_hash && session_hash_len)
        return tls_prf(digest, premaster, 48, "extended master secret", session_hash,
                       session_hash_len, NULL, 0, master, TLS_MASTER_SECRET_LEN);
    if (!client_random || !server_random)
        return false;
    return tls_prf(digest, premaster, 48, "master secret", client_random, TLS_RANDOM_LEN,
                   server_random, TLS_RANDOM_LEN, master, TLS_MASTER_SECRET_LEN);
}

bool tls12_master_secret(const tls_suite_t *suite, const uint8_t premaster[48],
                         const uint8_t client_random[TLS_RANDOM_LEN],
                         const uint8_t server_random[TLS_RANDOM_LEN], const uint8_t *session_hash,
                         size_t session_hash_len, uint8_t master[TLS_MASTER_SECRET_LEN])
{
    return tls_master_secret_for_version(suite, 0x0303, premaster, client_random, server_random,
                                         session_hash, session_hash_len, master);
}

bool tls12_rsa_premaster(EVP_PKEY *server_key, byte_span_t encrypted, uint8_t premaster[48])
{
    if (!server_key || !encrypted.ptr || !encrypted.len || !premaster ||
        !EVP_PKEY_is_a(server_key, "RSA"))
        return false;
    int key_size = EVP_PKEY_get_size(server_key);
    if (key_size <= 0 || key_size > 2048)
        return false;
    /* Tolerate the body with its 2-byte length still in front. */
    if (encrypted.len == (size_t)key_size + 2 &&
        ((size_t)encrypted.ptr[0] << 8 | encrypted.ptr[1]) == (size_t)key_size) {
        encrypted.ptr += 2;
        encrypted.len -= 2;
    }

    bool ok = false;
    uint8_t buf[2048];
    size_t len = sizeof(buf);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, server_key, NULL);
    if (ctx && EVP_PKEY_decrypt_init(ctx) > 0 &&
        EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) > 0) {
#ifdef OSSL_ASYM_CIPHER_PARAM_IMPLICIT_REJECTION
        /* OpenSSL 3.2+ would return a synthetic secret for a bad block: we
         * want to know. */
        unsigned int implicit = 0;
        OSSL_PARAM params[] = {
            OSSL_PARAM_construct_uint(OSSL_ASYM_CIPHER_PARAM_IMPLICIT_REJECTION, &implicit),
            OSSL_PARAM_construct_end(),
        };
        EVP_PKEY_CTX_set_params(ctx, params);
#endif
        ok = EVP_PKEY_decrypt(ctx, buf, &len, encrypted.ptr, encrypted.len) > 0 && len == 48;
    }
    if (ok)
        memcpy(premaster, buf, 48);
    OPENSSL_cleanse(buf, sizeof(buf));
    EVP_PKEY_CTX_free(ctx);
    ERR_clear_error();
    return ok;
}

/* ------------------------------------------------------------------------
 * Transcript
 */

struct tls_transcript {
    EVP_MD_CTX *ctx[TRANSCRIPT_MDS]; /* NULL: that digest is unavailable */
};

tls_transcript_t *tls_transcript_new(void)
{
    const algorithms_t *a = algorithms();
    tls_transcript_t *t = g_new0(tls_transcript_t, 1);
    for (size_t i = 0; i < TRANSCRIPT_MDS; i++) {
        if (!a->transcript_mds[i])
            continue;
        t->ctx[i] = EVP_MD_CTX_new();
        if (t->ctx[i] && !EVP_DigestInit_ex2(t->ctx[i], a->transcript_mds[i], NULL)) {
            EVP_MD_CTX_free(t->ctx[i]);
            t->ctx[i] = NULL;
        }
    }
    ERR_clear_error();
    return t;
}

void tls_transcript_add(tls_transcript_t *t, byte_span_t message)
{
    if (!t || !message.ptr || !message.len)
        return;
    for (size_t i = 0; i < TRANSCRIPT_MDS; i++) {
        if (t->ctx[i] && !EVP_DigestUpdate(t->ctx[i], message.ptr, message.len)) {
            EVP_MD_CTX_free(t->ctx[i]);
            t->ctx[i] = NULL;
        }
    }
}

bool tls_transcript_hash(const tls_transcript_t *t, const char *digest, uint8_t *out,
                         size_t *out_len)
{
    if (!t || !digest || !out || !out_len)
        return false;
    for (size_t i = 0; i < TRANSCRIPT_MDS; i++) {
        if (!t->ctx[i] || !EVP_MD_is_a(EVP_MD_CTX_get0_md(t->ctx[i]), digest))
            continue;
        /* A copy is finished, so the running hash goes on. */
        EVP_MD_CTX *copy = EVP_MD_CTX_new();
        unsigned int len = 0;
        bool ok = copy && EVP_MD_CTX_copy_ex(copy, t->ctx[i]) &&
                  EVP_DigestFinal_ex(copy, out, &len);
        EVP_MD_CTX_free(copy);
        if (!ok) {
            ERR_clear_error();
            return false;
        }
        *out_len = len;
        return true;
    }
    return false;
}

void tls_transcript_free(tls_transcript_t *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < TRANSCRIPT_MDS; i++)
        EVP_MD_CTX_free(t->ctx[i]);
    g_free(t);
}

/* ------------------------------------------------------------------------
 * Record protection
 */

#define AEAD_TAG_LEN 16
#define AEAD_NONCE_LEN 12
#define GCM_SALT_LEN 4
#define GCM_EXPLICIT_LEN 8
#define CBC_BLOCK 16
/* RFC 5246 6.2.3 and RFC 8446 5.2: the largest ciphertext fragments. */
#define TLS12_MAX_CIPHERTEXT (16384 + 2048)
#define TLS13_MAX_CIPHERTEXT (16384 + 256)
#define TLS_MAX_CONTENT 16384

struct tls_record_crypto {
    const tls_suite_t *suite;
    bool tls13;
    bool explicit_iv;      /* CBC, TLS 1.1 and later */
    bool encrypt_then_mac; /* CBC only */
    uint64_t seq;
    EVP_CIPHER_CTX *cipher; /* keyed once; only the IV changes per record */
    EVP_MAC_CTX *mac;       /* CBC: HMAC keyed once */
    uint8_t iv[CBC_BLOCK];  /* GCM 1.2: salt; ChaCha20 and 1.3: IV; CBC 1.0: the chained IV */
    size_t iv_len;
    uint8_t secret[EVP_MAX_MD_SIZE]; /* TLS 1.3: current traffic secret, for KeyUpdate */
    size_t secret_len;
};

void tls_record_crypto_free(tls_record_crypto_t *c)
{
    if (!c)
        return;
    EVP_CIPHER_CTX_free(c->cipher); /* wipes the key schedule */
    EVP_MAC_CTX_free(c->mac);
    OPENSSL_cleanse(c, sizeof(*c));
    g_free(c);
}

static tls_record_crypto_t *crypto_alloc(const tls_suite_t *suite)
{
    const EVP_CIPHER *cipher = cipher_for(suite->cipher);
    if (!cipher)
        return NULL;
    tls_record_crypto_t *c = g_new0(tls_record_crypto_t, 1);
    c->suite = suite;
    c->cipher = EVP_CIPHER_CTX_new();
    if (!c->cipher || !EVP_DecryptInit_ex2(c->cipher, cipher, NULL, NULL, NULL)) {
        ERR_clear_error();
        tls_record_crypto_free(c);
        return NULL;
    }
    return c;
}

static bool set_cipher_key(tls_record_crypto_t *c, const uint8_t *key)
{
    if (EVP_DecryptInit_ex2(c->cipher, NULL, key, NULL, NULL))
        return true;
    ERR_clear_error();
    return false;
}

tls_record_crypto_t *tls12_record_crypto_new(const tls_suite_t *suite, uint16_t version,
                                             const uint8_t master[TLS_MASTER_SECRET_LEN],
                                             const uint8_t client_random[TLS_RANDOM_LEN],
                                             const uint8_t server_random[TLS_RANDOM_LEN],
                                             bool is_client, bool encrypt_then_mac)
{
    if (!suite || suite->tls13 || !master || !client_random || !server_random)
        return NULL;
    if (version < 0x0301 || version > 0x0303)
        return NULL;
    /* AEAD suites and the SHA-2 MACs came with TLS 1.2. */
    bool cbc = suite->kind == TLS_CIPHER_CBC;
    if (version < 0x0303 && (!cbc || strcmp(suite->mac, "SHA1") != 0))
        return NULL;

    size_t iv_len = suite->kind == TLS_CIPHER_GCM ? GCM_SALT_LEN
                    : suite->kind == TLS_CIPHER_CHACHA20_POLY1305 ? AEAD_NONCE_LEN
                                                                  : CBC_BLOCK;
    size_t mac_len = cbc ? suite->mac_len : 0;
    size_t key_len = suite->key_len;
    uint8_t block[2 * 48 + 2 * 32 + 2 * CBC_BLOCK];
    size_t block_len = 2 * (mac_len + key_len + iv_len);
    if (block_len > sizeof(block))
        return NULL;

    tls_record_crypto_t *c = crypto_alloc(suite);
    if (!c)
        return NULL;
    if (!tls_prf(prf_digest(suite, version), master, TLS_MASTER_SECRET_LEN, "key expansion",
                 server_random, TLS_RANDOM_LEN, client_random, TLS_RANDOM_LEN, block, block_len)) {
        tls_record_crypto_free(c);
        return NULL;
    }
    /* client MAC | server MAC | client key | server key | client IV | server IV */
    size_t side = is_client ? 0 : 1;
    const uint8_t *mac_key = block + side * mac_len;
    const uint8_t *key = block + 2 * mac_len + side * key_len;
    const uint8_t *iv = block + 2 * mac_len + 2 * key_len + side * iv_len;

    bool ok = set_cipher_key(c, key);
    memcpy(c->iv, iv, iv_len);
    c->iv_len = iv_len;
    if (ok && cbc) {
        c->explicit_iv = version >= 0x0302;
        c->encrypt_then_mac = encrypt_then_mac;
        const algorithms_t *a = algorithms();
        c->mac = a->hmac ? EVP_MAC_CTX_new(a->hmac) : NULL;
        OSSL_PARAM params[] = {
            OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)suite->mac, 0),
            OSSL_PARAM_construct_end(),
        };
        ok = c->mac && EVP_MAC_init(c->mac, mac_key, mac_len, params) &&
             EVP_MAC_CTX_get_mac_size(c->mac) == mac_len;
    }
    OPENSSL_cleanse(block, sizeof(block));
    if (!ok) {
        ERR_clear_error();
        tls_record_crypto_free(c);
        return NULL;
    }
    return c;
}

/* Key and IV of the current TLS 1.3 traffic secret. */
static bool tls13_install_secret(tls_record_crypto_t *c)
{
    uint8_t key[32];
    bool ok = c->suite->key_len <= sizeof(key) &&
              tls13_hkdf_expand_label(c->suite->prf, c->secret, c->secret_len, "key", NULL, 0, key,
                                      c->suite->key_len) &&
              tls13_hkdf_expand_label(c->suite->prf, c->secret, c->secret_len, "iv", NULL, 0, c->iv,
                                      AEAD_NONCE_LEN) &&
              set_cipher_key(c, key);
    OPENSSL_cleanse(key, sizeof(key));
    c->iv_len = AEAD_NONCE_LEN;
    c->seq = 0;
    return ok;
}

tls_record_crypto_t *tls13_record_crypto_new(const tls_suite_t *suite, const uint8_t *secret,
                                             size_t secret_len)
{
    if (!suite || !suite->tls13 || !secret)
        return NULL;
    /* The secret is one hash long. */
    size_t hash_len = strcmp(suite->prf, "SHA384") == 0 ? 48 : 32;
    if (secret_len != hash_len)
        return NULL;
    tls_record_crypto_t *c = crypto_alloc(suite);
    if (!c)
        return NULL;
    c->tls13 = true;
    memcpy(c->secret, secret, secret_len);
    c->secret_len = secret_len;
    if (!tls13_install_secret(c)) {
        tls_record_crypto_free(c);
        return NULL;
    }
    return c;
}

bool tls13_record_crypto_update(tls_record_crypto_t *c)
{
    if (!c || !c->tls13)
        return false;
    uint8_t next[EVP_MAX_MD_SIZE];
    bool ok = tls13_hkdf_expand_label(c->suite->prf, c->secret, c->secret_len, "traffic upd", NULL,
                                      0, next, c->secret_len);
    if (ok) {
        memcpy(c->secret, next, c->secret_len);
        ok = tls13_install_secret(c);
    }
    OPENSSL_cleanse(next, sizeof(next));
    return ok;
}

static void put_be64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t)v;
        v >>= 8;
    }
}

/* The per-record nonce of ChaCha20 (TLS 1.2) and TLS 1.3: IV XOR seq. */
static void xor_nonce(const tls_record_crypto_t *c, uint64_t seq, uint8_t nonce[AEAD_NONCE_LEN])
{
    uint8_t s[8];
    put_be64(s, seq);
    memcpy(nonce, c->iv, AEAD_NONCE_LEN);
    for (size_t i = 0; i < 8; i++)
        nonce[AEAD_NONCE_LEN - 8 + i] ^= s[i];
}

/* AEAD open: ct_len bytes into out; false when the tag does not match. */
static bool aead_open(tls_record_crypto_t *c, const uint8_t nonce[AEAD_NONCE_LEN],
                      const uint8_t *aad, size_t aad_len, const uint8_t *ct, size_t ct_len,
                      const uint8_t *tag, uint8_t *out)
{
    int n = 0, fin = 0;
    uint8_t tag_copy[AEAD_TAG_LEN];
    memcpy(tag_copy, tag, AEAD_TAG_LEN);
    bool ok = EVP_DecryptInit_ex2(c->cipher, NULL, NULL, nonce, NULL) &&
              EVP_DecryptUpdate(c->cipher, NULL, &n, aad, (int)aad_len) &&
              (ct_len == 0 || EVP_DecryptUpdate(c->cipher, out, &n, ct, (int)ct_len)) &&
              EVP_CIPHER_CTX_ctrl(c->cipher, EVP_CTRL_AEAD_SET_TAG, AEAD_TAG_LEN, tag_copy) > 0 &&
              EVP_DecryptFinal_ex(c->cipher, out + (ct_len ? (size_t)n : 0), &fin) > 0;
    if (!ok) {
        memset(out, 0, ct_len); /* unauthenticated bytes are nobody's business */
        ERR_clear_error();
    }
    return ok;
}

static tls_decrypt_status_t decrypt_tls13(tls_record_crypto_t *c, uint64_t seq, byte_span_t header,
                                          byte_span_t body, uint8_t *out, size_t *out_len,
                                          uint8_t *inner_type)
{
    /* At least the inner content type, and the tag. */
    if (body.len < AEAD_TAG_LEN + 1 || body.len > TLS13_MAX_CIPHERTEXT)
        return TLS_DECRYPT_BAD_RECORD;
    size_t ct_len = body.len - AEAD_TAG_LEN;
    uint8_t nonce[AEAD_NONCE_LEN];
    xor_nonce(c, seq, nonce);
    if (!aead_open(c, nonce, header.ptr, header.len, body.ptr, ct_len, body.ptr + ct_len, out))
        return TLS_DECRYPT_AUTH_FAILED;
    /* TLSInnerPlaintext: content | type | zeros */
    size_t i = ct_len;
    while (i > 0 && out[i - 1] == 0)
        i--;
    if (i == 0 || i - 1 > TLS_MAX_CONTENT) { /* all padding, no type; or record_overflow */
        memset(out, 0, ct_len);
        return TLS_DECRYPT_BAD_RECORD;
    }
    *inner_type = out[i - 1];
    *out_len = i - 1;
    return TLS_DECRYPT_OK;
}

/* The 13 bytes TLS 1.2 authenticates before the data: seq | type | version | length. */
static void tls12_pseudo_header(uint8_t aad[13], uint64_t seq, const uint8_t *header, size_t length)
{
    put_be64(aad, seq);
    aad[8] = header[0];
    aad[9] = header[1];
    aad[10] = header[2];
    aad[11] = (uint8_t)(length >> 8);
    aad[12] = (uint8_t)length;
}

static tls_decrypt_status_t decrypt_tls12_aead(tls_record_crypto_t *c, uint64_t seq,
                                               byte_span_t header, byte_span_t body, uint8_t *out,
                                               size_t *out_len)
{
    uint8_t nonce[AEAD_NONCE_LEN];
    const uint8_t *ct;
    size_t ct_len;
    if (c->suite->kind == TLS_CIPHER_GCM) {
        /* nonce = salt(4) | explicit(8), the explicit part in front of the ciphertext */
        if (body.len < GCM_EXPLICIT_LEN + AEAD_TAG_LEN)
            return TLS_DECRYPT_BAD_RECORD;
        memcpy(nonce, c->iv, GCM_SALT_LEN);
        memcpy(nonce + GCM_SALT_LEN, body.ptr, GCM_EXPLICIT_LEN);
        ct = body.ptr + GCM_EXPLICIT_LEN;
        ct_len = body.len - GCM_EXPLICIT_LEN - AEAD_TAG_LEN;
    } else {
        if (body.len < AEAD_TAG_LEN)
            return TLS_DECRYPT_BAD_RECORD;
        xor_nonce(c, seq, nonce);
        ct = body.ptr;
        ct_len = body.len - AEAD_TAG_LEN;
    }
    if (ct_len > TLS_MAX_CONTENT)
        return TLS_DECRYPT_BAD_RECORD; /* record_overflow */
    uint8_t aad[13];
    tls12_pseudo_header(aad, seq, header.ptr, ct_len);
    if (!aead_open(c, nonce, aad, sizeof(aad), ct, ct_len, ct + ct_len, out))
        return TLS_DECRYPT_AUTH_FAILED;
    *out_len = ct_len;
    return TLS_DECRYPT_OK;
}

/* HMAC(seq | type | version | length | data) compared with expected. */
static bool cbc_mac_ok(tls_record_crypto_t *c, uint64_t seq, const uint8_t *header, size_t length,
                       const uint8_t *data, size_t data_len, const uint8_t *expected)
{
    uint8_t pseudo[13], mac[EVP_MAX_MD_SIZE];
    size_t mac_len = 0;
    tls12_pseudo_header(pseudo, seq, header, length);
    bool ok = EVP_MAC_init(c->mac, NULL, 0, NULL) &&
              EVP_MAC_update(c->mac, pseudo, sizeof(pseudo)) &&
              (data_len == 0 || EVP_MAC_update(c->mac, data, data_len)) &&
              EVP_MAC_final(c->mac, mac, &mac_len, sizeof(mac)) && mac_len == c->suite->mac_len &&
              memcmp(mac, expected, mac_len) == 0; /* passive: no timing to hide */
    if (!ok)
        ERR_clear_error();
    return ok;
}

/* A CBC record's plaintext can be up to 2048 bytes longer than out holds
 * (padding of up to 255 bytes and the MAC); the part beyond goes here. */
typedef struct cbc_plain {
    uint8_t *head; /* out: the first TLS_MAX_PLAINTEXT bytes */
    uint8_t tail[TLS12_MAX_CIPHERTEXT - TLS_MAX_PLAINTEXT];
    size_t len;
} cbc_plain_t;

static uint8_t cbc_byte(const cbc_plain_t *p, size_t i)
{
    return i < TLS_MAX_PLAINTEXT ? p->head[i] : p->tail[i - TLS_MAX_PLAINTEXT];
}

static bool cbc_decrypt(tls_record_crypto_t *c, const uint8_t *iv, const uint8_t *ct, size_t ct_len,
                        cbc_plain_t *p)
{
    size_t head_len = ct_len < TLS_MAX_PLAINTEXT ? ct_len : TLS_MAX_PLAINTEXT;
    int n = 0;
    bool ok = EVP_DecryptInit_ex2(c->cipher, NULL, NULL, iv, NULL) &&
              EVP_CIPHER_CTX_set_padding(c->cipher, 0) &&
              EVP_DecryptUpdate(c->cipher, p->head, &n, ct, (int)head_len) &&
              (size_t)n == head_len &&
              (ct_len == head_len ||
               (EVP_DecryptUpdate(c->cipher, p->tail, &n, ct + head_len,
                                  (int)(ct_len - head_len)) &&
                (size_t)n == ct_len - head_len));
    if (!ok)
        ERR_clear_error();
    p->len = ct_len;
    return ok;
}

/* The padding at the end of p: its length including the length byte, or 0
 * when the bytes are not a TLS padding that leaves room for reserve bytes. */
static size_t cbc_padding(const cbc_plain_t *p, size_t reserve)
{
    size_t pad = cbc_byte(p, p->len - 1);
    if (pad + 1 + reserve > p->len)
        return 0;
    for (size_t i = p->len - 1 - pad; i < p->len - 1; i++)
        if (cbc_byte(p, i) != pad)
            return 0;
    return pad + 1;
}

static tls_decrypt_status_t decrypt_cbc(tls_record_crypto_t *c, uint64_t seq, byte_span_t header,
                                        byte_span_t body, uint8_t *out, size_t *out_len)
{
    size_t mac_len = c->suite->mac_len;
    size_t iv_len = c->explicit_iv ? CBC_BLOCK : 0;
    /* body: IV (TLS 1.1+) | ciphertext [| MAC with encrypt-then-MAC] */
    if (c->encrypt_then_mac && body.len < mac_len)
        return TLS_DECRYPT_BAD_RECORD;
    size_t enc_len = c->encrypt_then_mac ? body.len - mac_len : body.len;
    if (enc_len < iv_len + CBC_BLOCK || (enc_len - iv_len) % CBC_BLOCK != 0)
        return TLS_DECRYPT_BAD_RECORD;
    const uint8_t *ct = body.ptr + iv_len;
    size_t ct_len = enc_len - iv_len;
    if (!c->encrypt_then_mac && ct_len < mac_len + 1)
        return TLS_DECRYPT_BAD_RECORD;

    uint8_t iv[CBC_BLOCK];
    memcpy(iv, c->explicit_iv ? body.ptr : c->iv, CBC_BLOCK);
    if (!c->explicit_iv) /* TLS 1.0: the next record chains on this one's last block */
        memcpy(c->iv, ct + ct_len - CBC_BLOCK, CBC_BLOCK);

    if (c->encrypt_then_mac &&
        !cbc_mac_ok(c, seq, header.ptr, enc_len, body.ptr, enc_len, body.ptr + enc_len))
        return TLS_DECRYPT_AUTH_FAILED;

    cbc_plain_t plain;
    plain.head = out;
    if (!cbc_decrypt(c, iv, ct, ct_len, &plain)) {
        OPENSSL_cleanse(plain.tail, sizeof(plain.tail));
        return TLS_DECRYPT_AUTH_FAILED;
    }
    tls_decrypt_status_t status = TLS_DECRYPT_OK;
    size_t reserve = c->encrypt_then_mac ? 0 : mac_len;
    size_t pad = cbc_padding(&plain, reserve);
    size_t content_len = pad ? plain.len - pad - reserve : 0;
    if (!pad) {
        /* Authenticated by the MAC already: a bad record.  Otherwise it is
         * what wrong keys look like, and TLS itself treats it as a MAC
         * failure (RFC 5246 6.2.3.2). */
        status = c->encrypt_then_mac ? TLS_DECRYPT_BAD_RECORD : TLS_DECRYPT_AUTH_FAILED;
    } else if (content_len > TLS_MAX_CONTENT) {
        /* record_overflow, once the bytes are known to be the sender's.
         * Without encrypt-then-MAC nothing has authenticated them yet:
         * wrong keys give random padding that now and then looks valid and
         * short, so the MAC decides (it lies within out whenever the
         * content fits TLS_MAX_PLAINTEXT); a MAC that cannot even be
         * reached is what wrong keys look like too. */
        if (c->encrypt_then_mac)
            status = TLS_DECRYPT_BAD_RECORD;
        else if (content_len + mac_len > TLS_MAX_PLAINTEXT ||
                 !cbc_mac_ok(c, seq, header.ptr, content_len, out, content_len, out + content_len))
            status = TLS_DECRYPT_AUTH_FAILED;
        else
            status = TLS_DECRYPT_BAD_RECORD;
    } else if (!c->encrypt_then_mac &&
               !cbc_mac_ok(c, seq, header.ptr, content_len, out, content_len, out + content_len)) {
        status = TLS_DECRYPT_AUTH_FAILED;
    }
    OPENSSL_cleanse(plain.tail, sizeof(plain.tail));
    if (status != TLS_DECRYPT_OK) {
        memset(out, 0, plain.len < TLS_MAX_PLAINTEXT ? plain.len : TLS_MAX_PLAINTEXT);
        return status;
    }
    /* The MAC and padding after the content are not the caller's. */
    size_t used = plain.len < TLS_MAX_PLAINTEXT ? plain.len : TLS_MAX_PLAINTEXT;
    memset(out + content_len, 0, used - content_len);
    *out_len = content_len;
    return TLS_DECRYPT_OK;
}

tls_decrypt_status_t tls_record_decrypt(tls_record_crypto_t *c, byte_span_t header,
                                        byte_span_t body, uint8_t *out, size_t *out_len,
                                        uint8_t *inner_type)
{
    if (out_len)
        *out_len = 0;
    if (inner_type)
        *inner_type = 0;
    if (!c || !out || !out_len || !inner_type || !header.ptr || header.len != 5 ||
        (body.len && !body.ptr))
        return TLS_DECRYPT_BAD_RECORD;
    /* Every record handed in counts: the sender numbered it too. */
    uint64_t seq = c->seq++;
    if (((size_t)header.ptr[3] << 8 | header.ptr[4]) != body.len || body.len > TLS12_MAX_CIPHERTEXT)
        return TLS_DECRYPT_BAD_RECORD;

    if (c->tls13)
        return decrypt_tls13(c, seq, header, body, out, out_len, inner_type);
    *inner_type = header.ptr[0];
    if (c->suite->kind == TLS_CIPHER_CBC)
        return decrypt_cbc(c, seq, header, body, out, out_len);
    return decrypt_tls12_aead(c, seq, header, body, out, out_len);
}
