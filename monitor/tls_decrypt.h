/* Decryption of one TLS connection: which keys, from where, when each
 * direction switches to them, and why it failed when it did.
 *
 * The TLS layer (tls_flow.c) reports the handshake as it goes (randoms,
 * the negotiated suite and options, the server certificate, the
 * ClientKeyExchange, ChangeCipherSpec, TLS 1.3 Finished and KeyUpdate) and
 * hands each protected record over; this module finds the secrets in the
 * key log (or derives them with the server's RSA key) and decrypts with
 * tls_crypto.  Reasons for failure are fixed texts without secrets.
 */
#ifndef ENROLLMON_TLS_DECRYPT_H
#define ENROLLMON_TLS_DECRYPT_H

#include "keylog.h"
#include "tls_crypto.h"

#include <glib.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stdint.h>

/* What a run was given to decrypt with. */
typedef struct tls_keys {
    keylog_t *keylog;        /* NULL: none given */
    GPtrArray *rsa_keys;     /* EVP_PKEY*, servers' private keys; NULL or empty: none */
} tls_keys_t;

static inline bool tls_keys_any(const tls_keys_t *k)
{
    return k && ((k->keylog && keylog_count(k->keylog)) || (k->rsa_keys && k->rsa_keys->len));
}

typedef enum tls_decrypt_state {
    TLS_DECRYPT_NOT_ATTEMPTED = 0, /* no keys given for the run */
    TLS_DECRYPT_WAITING,           /* keys given; the handshake has not yet said which */
    TLS_DECRYPT_READY,             /* secrets known: records decrypt as they come */
    TLS_DECRYPT_FAILED,            /* see reason */
} tls_decrypt_state_t;

const char *tls_decrypt_state_name(tls_decrypt_state_t state);

typedef struct tls_decrypt {
    tls_decrypt_state_t state;
    const char *reason;              /* when FAILED or still WAITING at the end */
    const tls_keys_t *keys;
    const tls_suite_t *suite;
    uint16_t version;
    bool tls13;
    bool extended_master_secret;
    bool encrypt_then_mac;
    int client_dir;
    bool have_client_random;
    bool have_server_random;
    uint8_t client_random[TLS_RANDOM_LEN];
    uint8_t server_random[TLS_RANDOM_LEN];
    bool have_master;
    uint8_t master[TLS_MASTER_SECRET_LEN];
    EVP_PKEY *server_key;            /* the RSA key matching the server certificate (borrowed) */
    tls_transcript_t *transcript;    /* kept only while an RSA key may need the session hash */
    const keylog_entry_t *entry;     /* TLS 1.3 secrets (borrowed from the key log) */
    tls_record_crypto_t *crypto[2];  /* by flow direction */
    bool active[2];                  /* this direction's protected records are decrypted */
    uint64_t records[2];             /* decrypted */
    uint64_t bytes[2];               /* plaintext bytes */
    uint64_t failures;
} tls_decrypt_t;

void tls_decrypt_init(tls_decrypt_t *d, const tls_keys_t *keys);
void tls_decrypt_clear(tls_decrypt_t *d); /* frees and wipes */

/* A plaintext handshake message (header included) from direction dir, in
 * the order they came: the transcript for the extended master secret. */
void tls_decrypt_handshake(tls_decrypt_t *d, byte_span_t message);

void tls_decrypt_client_hello(tls_decrypt_t *d, int client_dir, const uint8_t random[TLS_RANDOM_LEN]);

/* The ServerHello's outcome: from here the key log can be consulted. */
void tls_decrypt_server_hello(tls_decrypt_t *d, const uint8_t random[TLS_RANDOM_LEN],
                              uint16_t suite_id, uint16_t version, bool extended_master_secret,
                              bool encrypt_then_mac);

/* The server's leaf certificate (DER): picks the RSA key that matches it. */
void tls_decrypt_server_certificate(tls_decrypt_t *d, byte_span_t der);

/* TLS 1.2 ClientKeyExchange body: with RSA key exchange and a matching
 * server key, the premaster secret and from it the master secret. */
void tls_decrypt_client_key_exchange(tls_decrypt_t *d, byte_span_t body);

/* TLS 1.2 ChangeCipherSpec from dir: that direction's next records are protected. */
void tls_decrypt_change_cipher_spec(tls_decrypt_t *d, int dir);

/* TLS 1.3: Finished from dir ends its handshake keys (application keys from
 * now on); KeyUpdate from dir moves to the next generation. */
void tls_decrypt_tls13_finished(tls_decrypt_t *d, int dir);
void tls_decrypt_tls13_key_update(tls_decrypt_t *d, int dir);

static inline bool tls_decrypt_can(const tls_decrypt_t *d, int dir)
{
    return d->state == TLS_DECRYPT_READY && d->active[dir] && d->crypto[dir];
}

/* Decrypts one protected record of dir into out (TLS_MAX_PLAINTEXT bytes).
 * False when it does not decrypt: the connection's decryption then stops
 * with a reason (keys that do not match). */
bool tls_decrypt_record(tls_decrypt_t *d, int dir, byte_span_t header, byte_span_t body,
                        uint8_t *out, size_t *out_len, uint8_t *inner_type);

/* At the end of the connection: a reason for a WAITING state. */
void tls_decrypt_conclude(tls_decrypt_t *d);

#endif
