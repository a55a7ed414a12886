#include "tls_decrypt.h"

#include "../dissectors/tls.h"

#include <openssl/crypto.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <string.h>

const char *tls_decrypt_state_name(tls_decrypt_state_t state)
{
    switch (state) {
    case TLS_DECRYPT_NOT_ATTEMPTED: return "not_attempted";
    case TLS_DECRYPT_WAITING: return "incomplete";
    case TLS_DECRYPT_READY: return "ok";
    case TLS_DECRYPT_FAILED: return "failed";
    }
    return "unknown";
}

static void free_crypto(tls_decrypt_t *d)
{
    for (int i = 0; i < 2; i++) {
        tls_record_crypto_free(d->crypto[i]);
        d->crypto[i] = NULL;
        d->active[i] = false;
    }
}

static void fail(tls_decrypt_t *d, const char *reason)
{
    d->state = TLS_DECRYPT_FAILED;
    d->reason = reason;
    free_crypto(d);
    tls_transcript_free(d->transcript);
    d->transcript = NULL;
}

void tls_decrypt_init(tls_decrypt_t *d, const tls_keys_t *keys)
{
    memset(d, 0, sizeof(*d));
    d->keys = keys;
    d->state = tls_keys_any(keys) ? TLS_DECRYPT_WAITING : TLS_DECRYPT_NOT_ATTEMPTED;
    /* The session hash of the extended master secret is only needed when
     * a server's RSA key has to derive the master secret itself. */
    if (d->state == TLS_DECRYPT_WAITING && keys->rsa_keys && keys->rsa_keys->len)
        d->transcript = tls_transcript_new();
}

void tls_decrypt_clear(tls_decrypt_t *d)
{
    free_crypto(d);
    tls_transcript_free(d->transcript);
    OPENSSL_cleanse(d->master, sizeof(d->master));
    memset(d, 0, sizeof(*d));
}

void tls_decrypt_handshake(tls_decrypt_t *d, byte_span_t message)
{
    if (d->transcript && !d->have_master)
        tls_transcript_add(d->transcript, message);
}

void tls_decrypt_client_hello(tls_decrypt_t *d, int client_dir, const uint8_t random[TLS_RANDOM_LEN])
{
    d->client_dir = client_dir;
    memcpy(d->client_random, random, TLS_RANDOM_LEN);
    d->have_client_random = true;
}

static const keylog_entry_t *lookup(const tls_decrypt_t *d)
{
    if (!d->have_client_random || !d->keys->keylog)
        return NULL;
    return keylog_lookup(d->keys->keylog, d->client_random);
}

void tls_decrypt_server_hello(tls_decrypt_t *d, const uint8_t random[TLS_RANDOM_LEN],
                              uint16_t suite_id, uint16_t version, bool extended_master_secret,
                              bool encrypt_then_mac)
{
    memcpy(d->server_random, random, TLS_RANDOM_LEN);
    d->have_server_random = true;
    d->version = version;
    d->tls13 = version == TLS_VERSION_1_3;
    d->extended_master_secret = extended_master_secret;
    d->encrypt_then_mac = encrypt_then_mac;
    if (d->state != TLS_DECRYPT_WAITING)
        return;
    if ((version >> 8) == 0x7f) {
        fail(d, "a TLS 1.3 draft version: not decrypted");
        return;
    }
    d->suite = tls_suite_lookup(suite_id);
    if (!d->suite || d->suite->tls13 != d->tls13) {
        fail(d, "the negotiated cipher suite is not one enrollmon decrypts");
        return;
    }
    if (!d->have_client_random) {
        fail(d, "the ClientHello was not seen: its random names the keys");
        return;
    }
    d->entry = lookup(d);
    if (d->tls13) {
        const keylog_entry_t *e = d->entry;
        if (!e || !e->client_handshake.len || !e->server_handshake.len) {
            fail(d, "no TLS 1.3 handshake secrets for this connection in the key log");
            return;
        }
        int c = d->client_dir;
        d->crypto[c] = tls13_record_crypto_new(d->suite, e->client_handshake.bytes,
                                               e->client_handshake.len);
        d->crypto[!c] = tls13_record_crypto_new(d->suite, e->server_handshake.bytes,
                                                e->server_handshake.len);
        if (!d->crypto[0] || !d->crypto[1]) {
            fail(d, "the key log's TLS 1.3 secrets do not fit the negotiated cipher suite");
            return;
        }
        /* everything after the ServerHello is protected, both ways */
        d->active[0] = d->active[1] = true;
        d->state = TLS_DECRYPT_READY;
        return;
    }
    if (d->entry && d->entry->master.len == TLS_MASTER_SECRET_LEN) {
        memcpy(d->master, d->entry->master.bytes, TLS_MASTER_SECRET_LEN);
        d->have_master = true;
        d->state = TLS_DECRYPT_READY;
        tls_transcript_free(d->transcript);
        d->transcript = NULL;
        return;
    }
    bool have_rsa = d->keys->rsa_keys && d->keys->rsa_keys->len;
    if (!have_rsa)
        fail(d, "no key log entry for this connection's client random");
    else if (!d->suite->rsa_key_exchange)
        fail(d, "no key log entry, and the key exchange is (EC)DHE: a server's RSA key cannot decrypt it");
    /* else: wait for the server certificate and the ClientKeyExchange */
}

void tls_decrypt_server_certificate(tls_decrypt_t *d, byte_span_t der)
{
    if (d->state != TLS_DECRYPT_WAITING || d->have_master || d->server_key || !d->keys->rsa_keys)
        return;
    const unsigned char *p = der.ptr;
    X509 *cert = der.len ? d2i_X509(NULL, &p, (long)der.len) : NULL;
    EVP_PKEY *pub = cert ? X509_get0_pubkey(cert) : NULL;
    for (guint i = 0; pub && i < d->keys->rsa_keys->len; i++) {
        EVP_PKEY *key = g_ptr_array_index(d->keys->rsa_keys, i);
        if (EVP_PKEY_eq(pub, key) == 1) {
            d->server_key = key;
            break;
        }
    }
    X509_free(cert);
    if (!d->server_key)
        fail(d, "no key log entry, and no RSA key given matches the server's certificate");
}

void tls_decrypt_client_key_exchange(tls_decrypt_t *d, byte_span_t body)
{
    if (d->state != TLS_DECRYPT_WAITING || d->have_master || !d->suite || !d->suite->rsa_key_exchange)
        return;
    uint8_t premaster[48];
    bool ok = false;
    if (d->server_key) {
        ok = tls12_rsa_premaster(d->server_key, body, premaster);
    } else {
        /* no server certificate seen (a capture that starts late): try each key */
        for (guint i = 0; !ok && d->keys->rsa_keys && i < d->keys->rsa_keys->len; i++)
            ok = tls12_rsa_premaster(g_ptr_array_index(d->keys->rsa_keys, i), body, premaster);
    }
    if (!ok) {
        fail(d, "the RSA key does not decrypt this connection's premaster secret");
        return;
    }
    uint8_t hash[64];
    size_t hash_len = 0;
    if (d->extended_master_secret) {
        const char *digest = d->version >= TLS_VERSION_1_2 ? d->suite->prf : "MD5-SHA1";
        if (!d->transcript || !tls_transcript_hash(d->transcript, digest, hash, &hash_len)) {
            OPENSSL_cleanse(premaster, sizeof(premaster));
            fail(d, "the handshake was not seen whole: the extended master secret needs it");
            return;
        }
    }
    ok = tls_master_secret_for_version(d->suite, d->version, premaster, d->client_random,
                                       d->server_random, d->extended_master_secret ? hash : NULL,
                                       hash_len, d->master);
    OPENSSL_cleanse(premaster, sizeof(premaster));
    if (!ok) {
        fail(d, "the master secret could not be derived");
        return;
    }
    d->have_master = true;
    d->state = TLS_DECRYPT_READY;
    tls_transcript_free(d->transcript);
    d->transcript = NULL;
}

void tls_decrypt_change_cipher_spec(tls_decrypt_t *d, int dir)
{
    if (d->tls13 || d->state == TLS_DECRYPT_NOT_ATTEMPTED || d->state == TLS_DECRYPT_FAILED)
        return;
    if (!d->have_master) {
        fail(d, d->suite && d->suite->rsa_key_exchange
                    ? "no key log entry, and no ClientKeyExchange to use the RSA key on (a resumed session)"
                    : "no key log entry for this connection's client random");
        return;
    }
    if (!d->crypto[dir]) {
        d->crypto[dir] = tls12_record_crypto_new(d->suite, d->version, d->master, d->client_random,
                                                 d->server_random, dir == d->client_dir,
                                                 d->encrypt_then_mac);
        if (!d->crypto[dir]) {
            fail(d, "the record keys could not be derived");
            return;
        }
    }
    d->active[dir] = true;
}

void tls_decrypt_tls13_finished(tls_decrypt_t *d, int dir)
{
    if (!d->tls13 || d->state != TLS_DECRYPT_READY || !d->entry)
        return;
    const keylog_secret_t *s = dir == d->client_dir ? &d->entry->client_traffic0 : &d->entry->server_traffic0;
    if (!s->len) {
        fail(d, "no TLS 1.3 application traffic secrets for this connection in the key log");
        return;
    }
    tls_record_crypto_free(d->crypto[dir]);
    d->crypto[dir] = tls13_record_crypto_new(d->suite, s->bytes, s->len);
    if (!d->crypto[dir])
        fail(d, "the key log's TLS 1.3 application secret does not fit the cipher suite");
}

void tls_decrypt_tls13_key_update(tls_decrypt_t *d, int dir)
{
    if (!d->tls13 || !tls_decrypt_can(d, dir))
        return;
    if (!tls13_record_crypto_update(d->crypto[dir]))
        fail(d, "a TLS 1.3 key update could not be followed");
}

bool tls_decrypt_record(tls_decrypt_t *d, int dir, byte_span_t header, byte_span_t body,
                        uint8_t *out, size_t *out_len, uint8_t *inner_type)
{
    if (!tls_decrypt_can(d, dir))
        return false;
    switch (tls_record_decrypt(d->crypto[dir], header, body, out, out_len, inner_type)) {
    case TLS_DECRYPT_OK:
        d->records[dir]++;
        d->bytes[dir] += *out_len;
        return true;
    case TLS_DECRYPT_AUTH_FAILED:
        d->failures++;
        fail(d, "the keys do not match this connection (record authentication failed)");
        return false;
    case TLS_DECRYPT_BAD_RECORD:
        break;
    }
    d->failures++;
    fail(d, "a protected record is malformed");
    return false;
}

void tls_decrypt_conclude(tls_decrypt_t *d)
{
    if (d->state != TLS_DECRYPT_WAITING)
        return;
    d->reason = d->have_server_random ? "the handshake ended before the keys were used"
                                      : "no ServerHello: the handshake never reached its keys";
}
