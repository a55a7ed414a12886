/* TLS record decryption with known secrets, through OpenSSL's EVP and KDF
 * interfaces only: the TLS 1.2 PRF is EVP_KDF "TLS1-PRF", TLS 1.3's
 * HKDF-Expand-Label is EVP_KDF "TLS13-KDF", ciphers and MACs are EVP.
 *
 * Knows nothing of flows: the TLS layer (tls_flow.c) says which suite was
 * negotiated, hands over the secrets from the key log (or an RSA key), and
 * gives each encrypted record to the right direction's state.  Secrets and
 * keys never leave these structures and are wiped when freed.
 *
 * Suites: AES-128/256-GCM and ChaCha20-Poly1305 (TLS 1.2 and 1.3),
 * AES-128/256-CBC with HMAC-SHA1/SHA256/SHA384 (TLS 1.2, MAC-then-encrypt
 * and encrypt-then-MAC, RFC 7366), RSA or (EC)DHE key exchange; extended
 * master secret (RFC 7627) for RSA key exchange needs the session hash.
 */
#ifndef ENROLLMON_TLS_CRYPTO_H
#define ENROLLMON_TLS_CRYPTO_H

#include "../dissectors/cursor.h"

#include <openssl/evp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TLS_RANDOM_LEN 32
#define TLS_MASTER_SECRET_LEN 48
#define TLS_MAX_PLAINTEXT (16384 + 256) /* TLSInnerPlaintext: 2^14 + 1 + padding slack */

typedef enum tls_cipher_kind {
    TLS_CIPHER_GCM,
    TLS_CIPHER_CHACHA20_POLY1305,
    TLS_CIPHER_CBC,
} tls_cipher_kind_t;

typedef struct tls_suite {
    uint16_t id;
    const char *name;        /* IANA name, "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256" */
    tls_cipher_kind_t kind;
    const char *cipher;      /* EVP cipher name for EVP_CIPHER_fetch: "AES-128-GCM" */
    const char *mac;         /* CBC suites: "SHA1", "SHA256", "SHA384"; NULL for AEAD */
    const char *prf;         /* "SHA256" or "SHA384" (TLS 1.2 PRF, TLS 1.3 HKDF) */
    unsigned key_len;
    unsigned mac_len;        /* CBC: HMAC length; AEAD: 0 */
    bool rsa_key_exchange;   /* TLS_RSA_WITH_...: decryptable with the server's RSA key */
    bool tls13;
} tls_suite_t;

/* NULL when the suite is not one this module decrypts. */
const tls_suite_t *tls_suite_lookup(uint16_t id);

/* The handshake transcript, hashed as it goes for the extended master
 * secret; both candidate hashes run until the suite is known. */
typedef struct tls_transcript tls_transcript_t;
tls_transcript_t *tls_transcript_new(void);
void tls_transcript_add(tls_transcript_t *t, byte_span_t handshake_message);
/* Hash so far with the suite's PRF digest; false if unavailable. */
bool tls_transcript_hash(const tls_transcript_t *t, const char *digest, uint8_t *out, size_t *out_len);
void tls_transcript_free(tls_transcript_t *t);

/* HKDF-Expand-Label (RFC 8446 section 7.1, "tls13 " prefix) through EVP_KDF
 * "TLS13-KDF"; digest is the suite's prf.  Exposed for tests against the
 * RFC 8448 vectors and for callers that need other labels. */
bool tls13_hkdf_expand_label(const char *digest, const uint8_t *secret, size_t secret_len,
                             const char *label, const uint8_t *context, size_t context_len,
                             uint8_t *out, size_t out_len);

/* TLS 1.2: the premaster secret from an RSA-encrypted ClientKeyExchange
 * (the body's encrypted part), with the server's private key.  False when
 * the key does not decrypt it to a well-formed 48-byte secret. */
bool tls12_rsa_premaster(EVP_PKEY *server_key, byte_span_t encrypted, uint8_t premaster[48]);

/* TLS 1.2: the master secret from the premaster (randoms, or the session
 * hash when the extended master secret was negotiated). */
bool tls12_master_secret(const tls_suite_t *suite, const uint8_t premaster[48],
                         const uint8_t client_random[TLS_RANDOM_LEN],
                         const uint8_t server_random[TLS_RANDOM_LEN], const uint8_t *session_hash,
                         size_t session_hash_len, uint8_t master[TLS_MASTER_SECRET_LEN]);

/* The same for any version from TLS 1.0: before TLS 1.2 the PRF is MD5+SHA-1
 * whatever the suite, and the extended master secret's session hash is
 * MD5 | SHA-1 of the transcript (tls_transcript_hash with "MD5-SHA1", 36
 * bytes).  tls12_master_secret is this with version 0x0303. */
bool tls_master_secret_for_version(const tls_suite_t *suite, uint16_t version,
                                   const uint8_t premaster[48],
                                   const uint8_t client_random[TLS_RANDOM_LEN],
                                   const uint8_t server_random[TLS_RANDOM_LEN],
                                   const uint8_t *session_hash, size_t session_hash_len,
                                   uint8_t master[TLS_MASTER_SECRET_LEN]);

/* One direction of a connection. */
typedef struct tls_record_crypto tls_record_crypto_t;

/* TLS 1.2 (1.0/1.1 CBC too): key block from the master secret; is_client
 * picks the client_write or server_write half. */
tls_record_crypto_t *tls12_record_crypto_new(const tls_suite_t *suite, uint16_t version,
                                             const uint8_t master[TLS_MASTER_SECRET_LEN],
                                             const uint8_t client_random[TLS_RANDOM_LEN],
                                             const uint8_t server_random[TLS_RANDOM_LEN],
                                             bool is_client, bool encrypt_then_mac);

/* TLS 1.3: key and IV from a traffic secret (handshake or application). */
tls_record_crypto_t *tls13_record_crypto_new(const tls_suite_t *suite, const uint8_t *secret,
                                             size_t secret_len);

/* TLS 1.3 KeyUpdate: the next generation of the application secret. */
bool tls13_record_crypto_update(tls_record_crypto_t *c);

typedef enum tls_decrypt_status {
    TLS_DECRYPT_OK = 0,
    /* Not a record of this suite: too short, not whole cipher blocks, over
     * the size limits, a header length that is not the body's, no TLS 1.3
     * content type, more than 2^14 bytes of content, bad CBC padding under
     * an encrypt-then-MAC that authenticated it. */
    TLS_DECRYPT_BAD_RECORD,
    /* Tag or MAC mismatch: wrong keys (or a damaged record).  CBC padding
     * that is wrong without encrypt-then-MAC counts here, as in TLS itself
     * (RFC 5246 6.2.3.2): it is what wrong keys look like. */
    TLS_DECRYPT_AUTH_FAILED,
} tls_decrypt_status_t;

/* Decrypts the next record of this direction (sequence numbers advance by
 * themselves, for every record handed in whatever the result, since the
 * sender counted it too; a TLS 1.0 CBC state chains its IV the same way).  header is the 5-byte record header; out must hold
 * TLS_MAX_PLAINTEXT bytes.  TLS 1.3: *inner_type is the real content type
 * (padding removed); before 1.3 it is the record's type. */
tls_decrypt_status_t tls_record_decrypt(tls_record_crypto_t *c, byte_span_t header,
                                        byte_span_t body, uint8_t *out, size_t *out_len,
                                        uint8_t *inner_type);

void tls_record_crypto_free(tls_record_crypto_t *c);

#endif
