/* Known answers for monitor/tls_crypto.c from RFC 8448 ("Example Handshake
 * Traces for TLS 1.3"), section 3, the simple 1-RTT handshake with
 * TLS_AES_128_GCM_SHA256: traffic keys and IVs from the published secrets,
 * the server's encrypted handshake flight (EncryptedExtensions, Certificate,
 * CertificateVerify, Finished), the client's Finished and the application
 * data both ways.  Plus the transcript against digests of known inputs.
 */
#include "monitor/tls_crypto.h"

#include <glib.h>
#include <openssl/evp.h>
#include <string.h>

/* Hex as the RFC prints it: blanks and line breaks ignored. */
static GByteArray *unhex(const char *text)
{
    GByteArray *out = g_byte_array_new();
    int hi = -1;
    for (const char *p = text; *p; p++) {
        if (g_ascii_isspace(*p))
            continue;
        int v = g_ascii_xdigit_value(*p);
        g_assert_cmpint(v, >=, 0);
        if (hi < 0) {
            hi = v;
        } else {
            uint8_t b = (uint8_t)(hi << 4 | v);
            g_byte_array_append(out, &b, 1);
            hi = -1;
        }
    }
    g_assert_cmpint(hi, <, 0);
    return out;
}

static byte_span_t span(const uint8_t *p, size_t n)
{
    byte_span_t s = { p, n };
    return s;
}

/* RFC 8448 section 3 values. */
static const char server_hs_secret[] =
    "b6 7b 7d 69 0c c1 6c 4e 75 e5 42 13 cb 2d 37 b4 e9 c9 12 bc de d9 10 5d 42 be fd 59 d3 91 ad 38";
static const char server_hs_key[] = "3f ce 51 60 09 c2 17 27 d0 f2 e4 e8 6e e4 03 bc";
static const char server_hs_iv[] = "5d 31 3e b2 67 12 76 ee 13 00 0b 30";
static const char client_hs_secret[] =
    "b3 ed db 12 6e 06 7f 35 a7 80 b3 ab f4 5e 2d 8f 3b 1a 95 07 38 f5 2e 96 00 74 6a 0e 27 a5 5a 21";
static const char client_hs_key[] = "db fa a6 93 d1 76 2c 5b 66 6a f5 d9 50 25 8d 01";
static const char client_hs_iv[] = "5b d3 c7 1b 83 6e 0b 76 bb 73 26 5f";
static const char client_app_secret[] =
    "9e 40 64 6c e7 9a 7f 9d c0 5a f8 88 9b ce 65 52 87 5a fa 0b 06 df 00 87 f7 92 eb b7 c1 75 04 a5";
static const char client_app_key[] = "17 42 2d da 59 6e d5 d9 ac d8 90 e3 c6 3f 50 51";
static const char client_app_iv[] = "5b 78 92 3d ee 08 57 90 33 e5 23 d9";
static const char server_app_secret[] =
    "a1 1a f9 f0 55 31 f8 56 ad 47 11 6b 45 a9 50 32 82 04 b4 f4 4b fb 6b 3a 4b 4f 1f 3f cb 63 16 43";
static const char server_app_key[] = "9f 02 28 3b 6c 9c 07 ef c2 6b b9 f2 ac 92 e3 56";
static const char server_app_iv[] = "cf 78 2b 88 dd 83 54 9a ad f1 e9 84";

/* {server} send handshake record: complete record (679 octets) */
static const char server_flight[] =
    "17 03 03 02 a2 d1 ff 33 4a 56 f5 bf f6 59 4a 07 cc 87 b5 80 23 3f 50 0f"
    "45 e4 89 e7 f3 3a f3 5e df 78 69 fc f4 0a a4 0a a2 b8 ea 73 f8 48 a7 ca"
    "07 61 2e f9 f9 45 cb 96 0b 40 68 90 51 23 ea 78 b1 11 b4 29 ba 91 91 cd"
    "05 d2 a3 89 28 0f 52 61 34 aa dc 7f c7 8c 4b 72 9d f8 28 b5 ec f7 b1 3b"
    "d9 ae fb 0e 57 f2 71 58 5b 8e a9 bb 35 5c 7c 79 02 07 16 cf b9 b1 18 3e"
    "f3 ab 20 e3 7d 57 a6 b9 d7 47 76 09 ae e6 e1 22 a4 cf 51 42 73 25 25 0c"
    "7d 0e 50 92 89 44 4c 9b 3a 64 8f 1d 71 03 5d 2e d6 5b 0e 3c dd 0c ba e8"
    "bf 2d 0b 22 78 12 cb b3 60 98 72 55 cc 74 41 10 c4 53 ba a4 fc d6 10 92"
    "8d 80 98 10 e4 b7 ed 1a 8f d9 91 f0 6a a6 24 82 04 79 7e 36 a6 a7 3b 70"
    "a2 55 9c 09 ea d6 86 94 5b a2 46 ab 66 e5 ed d8 04 4b 4c 6d e3 fc f2 a8"
    "94 41 ac 66 27 2f d8 fb 33 0e f8 19 05 79 b3 68 45 96 c9 60 bd 59 6e ea"
    "52 0a 56 a8 d6 50 f5 63 aa d2 74 09 96 0d ca 63 d3 e6 88 61 1e a5 e2 2f"
    "44 15 cf 95 38 d5 1a 20 0c 27 03 42 72 96 8a 26 4e d6 54 0c 84 83 8d 89"
    "f7 2c 24 46 1a ad 6d 26 f5 9e ca ba 9a cb bb 31 7b 66 d9 02 f4 f2 92 a3"
    "6a c1 b6 39 c6 37 ce 34 31 17 b6 59 62 22 45 31 7b 49 ee da 0c 62 58 f1"
    "00 d7 d9 61 ff b1 38 64 7e 92 ea 33 0f ae ea 6d fa 31 c7 a8 4d c3 bd 7e"
    "1b 7a 6c 71 78 af 36 87 90 18 e3 f2 52 10 7f 24 3d 24 3d c7 33 9d 56 84"
    "c8 b0 37 8b f3 02 44 da 8c 87 c8 43 f5 e5 6e b4 c5 e8 28 0a 2b 48 05 2c"
    "f9 3b 16 49 9a 66 db 7c ca 71 e4 59 94 26 f7 d4 61 e6 6f 99 88 2b d8 9f"
    "c5 08 00 be cc a6 2d 6c 74 11 6d bd 29 72 fd a1 fa 80 f8 5d f8 81 ed be"
    "5a 37 66 89 36 b3 35 58 3b 59 91 86 dc 5c 69 18 a3 96 fa 48 a1 81 d6 b6"
    "fa 4f 9d 62 d5 13 af bb 99 2f 2b 99 2f 67 f8 af e6 7f 76 91 3f a3 88 cb"
    "56 30 c8 ca 01 e0 c6 5d 11 c6 6a 1e 2a c4 c8 59 77 b7 c7 a6 99 9b bf 10"
    "dc 35 ae 69 f5 51 56 14 63 6c 0b 9b 68 c1 9e d2 e3 1c 0b 3b 66 76 30 38"
    "eb ba 42 f3 b3 8e dc 03 99 f3 a9 f2 3f aa 63 97 8c 31 7f c9 fa 66 a7 3f"
    "60 f0 50 4d e9 3b 5b 84 5e 27 55 92 c1 23 35 ee 34 0b bc 4f dd d5 02 78"
    "40 16 e4 b3 be 7e f0 4d da 49 f4 b4 40 a3 0c b5 d2 af 93 98 28 fd 4a e3"
    "79 4e 44 f9 4d f5 a6 31 ed e4 2c 17 19 bf da bf 02 53 fe 51 75 be 89 8e"
    "75 0e dc 53 37 0d 2b";

/* {server} construct an EncryptedExtensions handshake message */
static const char encrypted_extensions[] =
    "08 00 00 24 00 22 00 0a 00 14 00 12 00 1d 00 17 00 18 00 19 01 00 01 01"
    "01 02 01 03 01 04 00 1c 00 02 40 01 00 00 00 00";

/* {client} send handshake record (the client's Finished) */
static const char client_finished[] =
    "17 03 03 00 35 75 ec 4d c2 38 cc e6 0b 29 80 44 a7 1e 21 9c 56 cc 77 b0"
    "51 7f e9 b9 3c 7a 4b fc 44 d8 7f 38 f8 03 38 ac 98 fc 46 de b3 84 bd 1c"
    "ae ac ab 68 67 d7 26 c4 05 46";

/* {client} send application_data record, and the server's */
static const char client_app_record[] =
    "17 03 03 00 43 a2 3f 70 54 b6 2c 94 d0 af fa fe 82 28 ba 55 cb ef ac ea"
    "42 f9 14 aa 66 bc ab 3f 2b 98 19 a8 a5 b4 6b 39 5b d5 4a 9a 20 44 1e 2b"
    "62 97 4e 1f 5a 62 92 a2 97 70 14 bd 1e 3d ea e6 3a ee bb 21 69 49 15 e4";
static const char server_app_record[] =
    "17 03 03 00 43 2e 93 7e 11 ef 4a c7 40 e5 38 ad 36 00 5f c4 a4 69 32 fc"
    "32 25 d0 5f 82 aa 1b 36 e3 0e fa f9 7d 90 e6 df fc 60 2d cb 50 1a 59 a8"
    "fc c4 9c 4b f2 e5 f0 a2 1c 00 47 c2 ab f3 32 54 0d d0 32 e1 67 c2 95 5d";

static void check_key_iv(const char *secret_hex, const char *key_hex, const char *iv_hex)
{
    const tls_suite_t *suite = tls_suite_lookup(0x1301);
    g_assert_nonnull(suite);
    GByteArray *secret = unhex(secret_hex), *key = unhex(key_hex), *iv = unhex(iv_hex);
    uint8_t got_key[16], got_iv[12];
    g_assert_true(tls13_hkdf_expand_label(suite->prf, secret->data, secret->len, "key", NULL, 0,
                                          got_key, suite->key_len));
    g_assert_true(tls13_hkdf_expand_label(suite->prf, secret->data, secret->len, "iv", NULL, 0,
                                          got_iv, sizeof(got_iv)));
    g_assert_cmpmem(got_key, sizeof(got_key), key->data, key->len);
    g_assert_cmpmem(got_iv, sizeof(got_iv), iv->data, iv->len);
    g_byte_array_unref(secret);
    g_byte_array_unref(key);
    g_byte_array_unref(iv);
}

static void test_traffic_keys(void)
{
    check_key_iv(server_hs_secret, server_hs_key, server_hs_iv);
    check_key_iv(client_hs_secret, client_hs_key, client_hs_iv);
    check_key_iv(client_app_secret, client_app_key, client_app_iv);
    check_key_iv(server_app_secret, server_app_key, server_app_iv);
}

/* Decrypts one whole record (header included) with c. */
static tls_decrypt_status_t open_record(tls_record_crypto_t *c, const GByteArray *record,
                                        uint8_t *out, size_t *out_len, uint8_t *type)
{
    g_assert_cmpuint(record->len, >=, 5);
    return tls_record_decrypt(c, span(record->data, 5), span(record->data + 5, record->len - 5), out,
                              out_len, type);
}

static tls_record_crypto_t *crypto_from(const char *secret_hex)
{
    GByteArray *secret = unhex(secret_hex);
    tls_record_crypto_t *c = tls13_record_crypto_new(tls_suite_lookup(0x1301), secret->data,
                                                     secret->len);
    g_assert_nonnull(c);
    g_byte_array_unref(secret);
    return c;
}

static void test_server_flight(void)
{
    GByteArray *record = unhex(server_flight);
    g_assert_cmpuint(record->len, ==, 679);
    tls_record_crypto_t *c = crypto_from(server_hs_secret);
    uint8_t *out = g_malloc(TLS_MAX_PLAINTEXT);
    size_t len = 0;
    uint8_t type = 0;
    g_assert_cmpint(open_record(c, record, out, &len, &type), ==, TLS_DECRYPT_OK);
    g_assert_cmpuint(type, ==, 22); /* handshake */
    g_assert_cmpuint(len, ==, 657);

    /* EncryptedExtensions first, exactly as the RFC constructs it ... */
    GByteArray *ee = unhex(encrypted_extensions);
    g_assert_cmpmem(out, ee->len, ee->data, ee->len);
    /* ... then Certificate (11), CertificateVerify (15), Finished (20),
     * each framed by its own length up to the end. */
    static const uint8_t expected_types[] = { 8, 11, 15, 20 };
    size_t pos = 0, n = 0;
    while (pos + 4 <= len) {
        g_assert_cmpuint(n, <, G_N_ELEMENTS(expected_types));
        g_assert_cmpuint(out[pos], ==, expected_types[n]);
        pos += 4 + ((size_t)out[pos + 1] << 16 | (size_t)out[pos + 2] << 8 | out[pos + 3]);
        n++;
    }
    g_assert_cmpuint(pos, ==, len);
    g_assert_cmpuint(n, ==, 4);

    /* The same record again is sequence 1 to this state: it must fail. */
    g_assert_cmpint(open_record(c, record, out, &len, &type), ==, TLS_DECRYPT_AUTH_FAILED);
    g_assert_cmpuint(len, ==, 0);

    /* And one changed bit anywhere, the header included, fails. */
    static const size_t flips[] = { 0, 2, 5, 300, 678 };
    for (size_t i = 0; i < G_N_ELEMENTS(flips); i++) {
        tls_record_crypto_t *fresh = crypto_from(server_hs_secret);
        record->data[flips[i]] ^= 0x01;
        g_assert_cmpint(open_record(fresh, record, out, &len, &type), ==, TLS_DECRYPT_AUTH_FAILED);
        record->data[flips[i]] ^= 0x01;
        tls_record_crypto_free(fresh);
    }

    g_free(out);
    g_byte_array_unref(ee);
    g_byte_array_unref(record);
    tls_record_crypto_free(c);
}

static void test_client_finished(void)
{
    GByteArray *record = unhex(client_finished);
    tls_record_crypto_t *c = crypto_from(client_hs_secret);
    uint8_t *out = g_malloc(TLS_MAX_PLAINTEXT);
    size_t len = 0;
    uint8_t type = 0;
    g_assert_cmpint(open_record(c, record, out, &len, &type), ==, TLS_DECRYPT_OK);
    g_assert_cmpuint(type, ==, 22);
    g_assert_cmpuint(len, ==, 36);
    static const uint8_t finished_header[] = { 0x14, 0x00, 0x00, 0x20 };
    g_assert_cmpmem(out, 4, finished_header, 4);
    g_free(out);
    g_byte_array_unref(record);
    tls_record_crypto_free(c);
}

static void test_application_data(void)
{
    uint8_t payload[50];
    for (size_t i = 0; i < sizeof(payload); i++)
        payload[i] = (uint8_t)i;
    uint8_t *out = g_malloc(TLS_MAX_PLAINTEXT);
    size_t len = 0;
    uint8_t type = 0;

    GByteArray *record = unhex(client_app_record);
    tls_record_crypto_t *c = crypto_from(client_app_secret);
    g_assert_cmpint(open_record(c, record, out, &len, &type), ==, TLS_DECRYPT_OK);
    g_assert_cmpuint(type, ==, 23);
    g_assert_cmpmem(out, len, payload, sizeof(payload));
    tls_record_crypto_free(c);
    g_byte_array_unref(record);

    /* The server's application data is its second record under this key
     * (a NewSessionTicket came first): a record that does not decrypt
     * still counts, so a stand-in for the ticket moves the sequence on. */
    record = unhex(server_app_record);
    c = crypto_from(server_app_secret);
    g_assert_cmpint(open_record(c, record, out, &len, &type), ==, TLS_DECRYPT_AUTH_FAILED);
    g_assert_cmpint(open_record(c, record, out, &len, &type), ==, TLS_DECRYPT_OK);
    g_assert_cmpuint(type, ==, 23);
    g_assert_cmpmem(out, len, payload, sizeof(payload));
    tls_record_crypto_free(c);
    g_byte_array_unref(record);
    g_free(out);
}

/* Records sealed here with the RFC's server handshake key and IV (sequence
 * 0): the limits of TLSInnerPlaintext. */
static GByteArray *seal_tls13(const uint8_t *inner, size_t inner_len)
{
    GByteArray *key = unhex(server_hs_key), *iv = unhex(server_hs_iv);
    size_t body_len = inner_len + 16;
    GByteArray *rec = g_byte_array_new();
    g_byte_array_set_size(rec, (guint)(5 + body_len));
    uint8_t *p = rec->data;
    p[0] = 23;
    p[1] = 3;
    p[2] = 3;
    p[3] = (uint8_t)(body_len >> 8);
    p[4] = (uint8_t)body_len;
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int n = 0;
    g_assert_true(EVP_EncryptInit_ex2(ctx, EVP_aes_128_gcm(), key->data, iv->data, NULL));
    g_assert_true(EVP_EncryptUpdate(ctx, NULL, &n, p, 5));
    g_assert_true(EVP_EncryptUpdate(ctx, p + 5, &n, inner, (int)inner_len));
    g_assert_true(EVP_EncryptFinal_ex(ctx, p + 5 + n, &n));
    g_assert_true(EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, 16, p + 5 + inner_len));
    EVP_CIPHER_CTX_free(ctx);
    g_byte_array_unref(key);
    g_byte_array_unref(iv);
    return rec;
}

static void test_inner_plaintext_limits(void)
{
    uint8_t *inner = g_malloc0(16384 + 256);
    uint8_t *out = g_malloc(TLS_MAX_PLAINTEXT);
    size_t len = 0;
    uint8_t type = 0;
    static const struct {
        size_t content, padding;
        uint8_t type; /* 0: none at all */
        tls_decrypt_status_t status;
    } cases[] = {
        { 16384, 239, 23, TLS_DECRYPT_OK },      /* the largest record there is */
        { 0, 0, 21, TLS_DECRYPT_OK },            /* nothing but the type */
        { 5, 1000, 22, TLS_DECRYPT_OK },         /* much padding */
        { 0, 10, 0, TLS_DECRYPT_BAD_RECORD },    /* zeros only: no content type */
        { 16385, 0, 23, TLS_DECRYPT_BAD_RECORD }, /* more than 2^14 of content */
        { 16384, 240, 23, TLS_DECRYPT_BAD_RECORD }, /* ciphertext over 2^14 + 256 */
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        size_t inner_len = cases[i].content + (cases[i].type ? 1 : 0) + cases[i].padding;
        inner = g_realloc(inner, inner_len);
        for (size_t j = 0; j < cases[i].content; j++)
            inner[j] = (uint8_t)(j * 7);
        memset(inner + cases[i].content, 0, inner_len - cases[i].content);
        if (cases[i].type)
            inner[cases[i].content] = cases[i].type;
        GByteArray *rec = seal_tls13(inner, inner_len);
        tls_record_crypto_t *c = crypto_from(server_hs_secret);
        tls_decrypt_status_t st = open_record(c, rec, out, &len, &type);
        if (st != cases[i].status)
            g_error("case %zu: status %d, expected %d", i, st, cases[i].status);
        if (st == TLS_DECRYPT_OK) {
            g_assert_cmpuint(type, ==, cases[i].type);
            g_assert_cmpmem(out, len, inner, cases[i].content);
        } else {
            g_assert_cmpuint(len, ==, 0);
        }
        tls_record_crypto_free(c);
        g_byte_array_unref(rec);
    }
    g_free(inner);
    g_free(out);
}

/* The running transcript against one-shot digests of the same bytes. */
static void check_digest(const tls_transcript_t *t, const char *name, const char *expected_hex)
{
    uint8_t got[EVP_MAX_MD_SIZE];
    size_t len = 0;
    g_assert_true(tls_transcript_hash(t, name, got, &len));
    GByteArray *expected = unhex(expected_hex);
    g_assert_cmpmem(got, len, expected->data, expected->len);
    g_byte_array_unref(expected);
}

static void test_transcript(void)
{
    tls_transcript_t *t = tls_transcript_new();
    const uint8_t ab[] = { 'a', 'b' }, c[] = { 'c' };
    tls_transcript_add(t, span(ab, 2));
    /* Reading the hash does not end it. */
    uint8_t mid[EVP_MAX_MD_SIZE];
    size_t mid_len = 0;
    g_assert_true(tls_transcript_hash(t, "SHA256", mid, &mid_len));
    g_assert_cmpuint(mid_len, ==, 32);
    tls_transcript_add(t, span(c, 1));
    tls_transcript_add(t, span(NULL, 0));
    /* FIPS 180 "abc" */
    check_digest(t, "SHA256",
                 "ba7816bf 8f01cfea 414140de 5dae2223 b00361a3 96177a9c b410ff61 f20015ad");
    check_digest(t, "SHA2-256",
                 "ba7816bf 8f01cfea 414140de 5dae2223 b00361a3 96177a9c b410ff61 f20015ad");
    check_digest(t, "SHA384",
                 "cb00753f 45a35e8b b5a03d69 9ac65007 272c32ab 0eded163 1a8b605a 43ff5bed"
                 "8086072b a1e7cc23 58baeca1 34c825a7");
    /* MD5("abc") | SHA-1("abc"), the TLS 1.0/1.1 session hash */
    check_digest(t, "MD5-SHA1",
                 "90015098 3cd24fb0 d6963f7d 28e17f72 a9993e36 4706816a ba3e2571 7850c26c 9cd0d89d");
    /* Twice in a row gives the same. */
    check_digest(t, "SHA256",
                 "ba7816bf 8f01cfea 414140de 5dae2223 b00361a3 96177a9c b410ff61 f20015ad");
    uint8_t out[EVP_MAX_MD_SIZE];
    size_t len = 0;
    g_assert_false(tls_transcript_hash(t, "SHA512", out, &len));
    g_assert_false(tls_transcript_hash(NULL, "SHA256", out, &len));
    tls_transcript_free(t);
    tls_transcript_free(NULL);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/rfc8448/traffic-keys", test_traffic_keys);
    g_test_add_func("/rfc8448/server-handshake-flight", test_server_flight);
    g_test_add_func("/rfc8448/client-finished", test_client_finished);
    g_test_add_func("/rfc8448/application-data", test_application_data);
    g_test_add_func("/rfc8448/inner-plaintext-limits", test_inner_plaintext_limits);
    g_test_add_func("/rfc8448/transcript", test_transcript);
    return g_test_run();
}
