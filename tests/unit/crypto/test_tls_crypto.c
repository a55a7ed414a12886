/* End-to-end tests for monitor/tls_crypto.c (with monitor/keylog.c): an
 * OpenSSL client and server talk TLS in this process over memory BIOs; the
 * test keeps every record each side writes and the key log lines OpenSSL
 * hands out, then decrypts the records with the module under test and
 * compares the plaintext with what the application wrote.
 *
 * TLS 1.3 with each suite and with KeyUpdate; TLS 1.2 (EC)DHE with GCM,
 * ChaCha20-Poly1305 and CBC (SHA-1, SHA-256, SHA-384; with and without
 * encrypt-then-MAC); TLS 1.0 and 1.1 CBC; RSA key exchange decrypted from
 * the server's private key alone, with and without the extended master
 * secret (the session hash from the transcript of the handshake messages
 * parsed out of the captured records).  Then wrong keys, damaged records
 * and suites that are not supported.
 */
#include "../tls/certgen.h"
#include "dissectors/cursor.h"
#include "monitor/keylog.h"
#include "monitor/tls_crypto.h"

#include <glib.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/kdf.h>
#include <openssl/ssl.h>
#include <string.h>

static EVP_PKEY *rsa_key;
static EVP_PKEY *ec_key;
static X509 *rsa_cert;
static X509 *ec_cert;

static byte_span_t span(const uint8_t *p, size_t n)
{
    byte_span_t s = { p, n };
    return s;
}

/* ------------------------------------------------------------------------
 * A connection in memory, with everything on the wire kept
 */

enum { CLIENT = 0, SERVER = 1 }; /* also the direction: what that side sends */

typedef struct record {
    int from; /* CLIENT or SERVER */
    GByteArray *bytes; /* header and body */
} record_t;

typedef struct conn {
    SSL_CTX *ctx[2];
    SSL *ssl[2];
    BIO *in[2], *out[2];  /* what each side reads, and writes */
    GByteArray *wire[2];  /* everything each side wrote */
    size_t cut[2];        /* how much of it is cut into records */
    GPtrArray *records;   /* record_t, in the order they crossed */
    keylog_t *keylog;
    GByteArray *sent[2];     /* application data each side wrote */
    GByteArray *received[2]; /* what the peer read of it */
} conn_t;

static void record_free(gpointer p)
{
    record_t *r = p;
    g_byte_array_unref(r->bytes);
    g_free(r);
}

static void keylog_line(const SSL *ssl, const char *line)
{
    conn_t *c = SSL_get_app_data(ssl);
    if (!keylog_add_line(c->keylog, line))
        g_error("key log line not taken: %.40s", line);
}

static void cut_records(conn_t *c, int from)
{
    GByteArray *w = c->wire[from];
    while (w->len - c->cut[from] >= 5) {
        const uint8_t *p = w->data + c->cut[from];
        size_t len = 5 + ((size_t)p[3] << 8 | p[4]);
        if (w->len - c->cut[from] < len)
            break;
        record_t *r = g_new0(record_t, 1);
        r->from = from;
        r->bytes = g_byte_array_sized_new((guint)len);
        g_byte_array_append(r->bytes, p, (guint)len);
        g_ptr_array_add(c->records, r);
        c->cut[from] += len;
    }
}

/* Moves what each side wrote to the other; true when anything moved. */
static bool shuttle(conn_t *c)
{
    bool moved = false;
    uint8_t buf[16384];
    for (int from = 0; from < 2; from++) {
        int n;
        while ((n = BIO_read(c->out[from], buf, sizeof(buf))) > 0) {
            g_byte_array_append(c->wire[from], buf, (guint)n);
            g_assert_cmpint(BIO_write(c->in[!from], buf, n), ==, n);
            moved = true;
        }
        cut_records(c, from);
    }
    return moved;
}

/* Each side reads all it can (which also answers KeyUpdates). */
static void drain(conn_t *c)
{
    uint8_t buf[32768];
    for (int reader = 0; reader < 2; reader++) {
        size_t n = 0;
        while (SSL_read_ex(c->ssl[reader], buf, sizeof(buf), &n))
            g_byte_array_append(c->received[!reader], buf, (guint)n);
        int err = SSL_get_error(c->ssl[reader], 0);
        g_assert_true(err == SSL_ERROR_WANT_READ || err == SSL_ERROR_ZERO_RETURN);
        ERR_clear_error();
    }
}

static void settle(conn_t *c)
{
    for (int i = 0; i < 100; i++) {
        bool moved = shuttle(c);
        drain(c);
        if (!moved && !shuttle(c))
            return;
    }
    g_assert_not_reached();
}

typedef struct scenario {
    const char *name;
    int version;           /* TLS1_VERSION ... TLS1_3_VERSION */
    const char *ciphers;   /* a TLS 1.3 ciphersuite or a cipher list */
    uint16_t suite;        /* the id that must be negotiated */
    bool ecdsa;            /* an EC certificate instead of RSA */
    bool no_etm;           /* SSL_OP_NO_ENCRYPT_THEN_MAC */
    bool no_ems;           /* SSL_OP_NO_EXTENDED_MASTER_SECRET */
    bool rsa_kx;           /* decrypt with the server's RSA key, not the key log */
    bool key_update;       /* TLS 1.3 KeyUpdate both ways */
    size_t block_padding;  /* TLS 1.3: records padded to a multiple of this */
} scenario_t;

static SSL_CTX *make_ctx(const scenario_t *sc, bool server)
{
    SSL_CTX *ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
    g_assert_nonnull(ctx);
    g_assert_true(SSL_CTX_set_min_proto_version(ctx, sc->version));
    g_assert_true(SSL_CTX_set_max_proto_version(ctx, sc->version));
    if (sc->version < TLS1_2_VERSION)
        SSL_CTX_set_security_level(ctx, 0); /* SHA-1 and MD5 signatures */
    if (sc->version == TLS1_3_VERSION) {
        g_assert_true(SSL_CTX_set_ciphersuites(ctx, sc->ciphers));
    } else {
        char *list = g_strdup_printf("%s%s", sc->ciphers,
                                     sc->version < TLS1_2_VERSION ? ":@SECLEVEL=0" : "");
        g_assert_true(SSL_CTX_set_cipher_list(ctx, list));
        g_free(list);
    }
    if (sc->block_padding)
        g_assert_true(SSL_CTX_set_block_padding(ctx, sc->block_padding));
    uint64_t options = 0;
    if (sc->no_etm)
        options |= SSL_OP_NO_ENCRYPT_THEN_MAC;
    if (sc->no_ems)
        options |= SSL_OP_NO_EXTENDED_MASTER_SECRET;
    SSL_CTX_set_options(ctx, options);
    if (server) {
        g_assert_true(SSL_CTX_use_certificate(ctx, sc->ecdsa ? ec_cert : rsa_cert));
        g_assert_true(SSL_CTX_use_PrivateKey(ctx, sc->ecdsa ? ec_key : rsa_key));
        SSL_CTX_set_dh_auto(ctx, 1); /* for DHE suites */
    } else {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
        SSL_CTX_set_keylog_callback(ctx, keylog_line);
    }
    return ctx;
}

static conn_t *conn_new(const scenario_t *sc)
{
    conn_t *c = g_new0(conn_t, 1);
    c->records = g_ptr_array_new_with_free_func(record_free);
    c->keylog = keylog_new();
    for (int side = 0; side < 2; side++) {
        c->ctx[side] = make_ctx(sc, side == SERVER);
        c->ssl[side] = SSL_new(c->ctx[side]);
        g_assert_nonnull(c->ssl[side]);
        SSL_set_app_data(c->ssl[side], c);
        c->in[side] = BIO_new(BIO_s_mem());
        c->out[side] = BIO_new(BIO_s_mem());
        BIO_set_mem_eof_return(c->in[side], -1); /* empty is "try again", not EOF */
        SSL_set_bio(c->ssl[side], c->in[side], c->out[side]);
        c->wire[side] = g_byte_array_new();
        c->sent[side] = g_byte_array_new();
        c->received[side] = g_byte_array_new();
    }
    SSL_set_connect_state(c->ssl[CLIENT]);
    SSL_set_accept_state(c->ssl[SERVER]);

    bool done[2] = { false, false };
    for (int round = 0; round < 50 && !(done[0] && done[1]); round++) {
        for (int side = 0; side < 2; side++) {
            if (done[side])
                continue;
            int rc = SSL_do_handshake(c->ssl[side]);
            if (rc == 1) {
                done[side] = true;
            } else {
                int err = SSL_get_error(c->ssl[side], rc);
                if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE) {
                    ERR_print_errors_fp(stderr);
                    g_error("%s: handshake failed on the %s side (%d)", sc->name,
                            side == CLIENT ? "client" : "server", err);
                }
            }
        }
        shuttle(c);
    }
    g_assert_true(done[0] && done[1]);
    g_assert_cmpint(SSL_version(c->ssl[CLIENT]), ==, sc->version);
    const SSL_CIPHER *cipher = SSL_get_current_cipher(c->ssl[CLIENT]);
    g_assert_nonnull(cipher);
    g_assert_cmphex(SSL_CIPHER_get_protocol_id(cipher), ==, sc->suite);
    settle(c);
    return c;
}

static void conn_free(conn_t *c)
{
    for (int side = 0; side < 2; side++) {
        SSL_free(c->ssl[side]); /* frees its BIOs */
        SSL_CTX_free(c->ctx[side]);
        g_byte_array_unref(c->wire[side]);
        g_byte_array_unref(c->sent[side]);
        g_byte_array_unref(c->received[side]);
    }
    g_ptr_array_unref(c->records);
    keylog_free(c->keylog);
    g_free(c);
}

static void app_write(conn_t *c, int from, const uint8_t *data, size_t len)
{
    size_t written = 0;
    g_assert_true(SSL_write_ex(c->ssl[from], data, len, &written));
    g_assert_cmpuint(written, ==, len);
    g_byte_array_append(c->sent[from], data, (guint)len);
    settle(c);
}

static void app_write_pattern(conn_t *c, int from, size_t len, unsigned seed)
{
    uint8_t *data = g_malloc(len);
    for (size_t i = 0; i < len; i++)
        data[i] = (uint8_t)(seed + i * 7 + (i >> 9));
    app_write(c, from, data, len);
    g_free(data);
}

static void app_write_text(conn_t *c, int from, const char *text)
{
    app_write(c, from, (const uint8_t *)text, strlen(text));
}

/* The conversation every scenario has. */
static void converse(conn_t *c, const scenario_t *sc)
{
    app_write_text(c, CLIENT, "POST /capf HTTP/1.1\r\nHost: cucm\r\n\r\n");
    app_write_pattern(c, SERVER, 40000, 1); /* three records, two of them full */
    app_write_pattern(c, CLIENT, 16384, 2); /* exactly one full record */
    app_write_text(c, SERVER, "x");
    if (sc->key_update) {
        /* The client asks for an update both ways; later the server
         * updates once more on its own. */
        g_assert_true(SSL_key_update(c->ssl[CLIENT], SSL_KEY_UPDATE_REQUESTED));
        app_write_text(c, CLIENT, "after the client's update");
        app_write_pattern(c, SERVER, 3000, 3);
        g_assert_true(SSL_key_update(c->ssl[SERVER], SSL_KEY_UPDATE_NOT_REQUESTED));
        app_write_pattern(c, SERVER, 20000, 4);
        app_write_text(c, CLIENT, "bye");
    }
    g_assert_cmpint(SSL_shutdown(c->ssl[CLIENT]), >=, 0);
    settle(c);
    g_assert_cmpint(SSL_shutdown(c->ssl[SERVER]), >=, 0);
    settle(c);
    for (int side = 0; side < 2; side++)
        g_assert_cmpmem(c->received[side]->data, c->received[side]->len, c->sent[side]->data,
                        c->sent[side]->len);
}

/* ------------------------------------------------------------------------
 * What a passive observer does with the records
 */

typedef struct side_state {
    tls_record_crypto_t *crypto;
    bool encrypted;         /* records from this side are protected */
    bool app_keys;          /* TLS 1.3: past the handshake secret */
    bool switch_pending;    /* TLS 1.3: Finished seen, next record on the traffic secret */
    unsigned updates_pending;
    unsigned updates;
    GByteArray *handshake;  /* handshake bytes not yet a whole message */
    GByteArray *app;        /* decrypted application data */
    unsigned finished;      /* Finished messages decrypted */
    unsigned records;       /* records decrypted */
    bool close_notify;
} side_state_t;

typedef struct observer {
    const scenario_t *sc;
    conn_t *conn;
    side_state_t side[2];
    uint8_t client_random[32], server_random[32];
    bool have_client_hello, have_server_hello;
    uint16_t version, suite_id;
    bool tls13, ems, etm;
    const tls_suite_t *suite;
    tls_transcript_t *transcript;
    bool transcript_done;
    uint8_t session_hash[EVP_MAX_MD_SIZE];
    size_t session_hash_len;
    GByteArray *encrypted_premaster;
    uint8_t *out;
    const record_t *stop_at; /* observe up to this record, not including it */
} observer_t;

static void parse_client_hello(observer_t *o, cursor_t body)
{
    cur_be16(&body);
    g_assert_true(cur_copy(&body, o->client_random, 32));
    o->have_client_hello = true;
}

static void parse_server_hello(observer_t *o, cursor_t body)
{
    o->version = cur_be16(&body);
    g_assert_true(cur_copy(&body, o->server_random, 32));
    cur_sub_u8len(&body); /* session id */
    o->suite_id = cur_be16(&body);
    cur_u8(&body); /* compression */
    cursor_t exts = cur_sub_be16len(&body);
    while (cur_ok(&exts) && !cur_empty(&exts)) {
        uint16_t type = cur_be16(&exts);
        cursor_t ext = cur_sub_be16len(&exts);
        if (type == 0x002b) /* supported_versions */
            o->version = cur_be16(&ext);
        else if (type == 0x0017)
            o->ems = true;
        else if (type == 0x0016)
            o->etm = true;
    }
    g_assert_true(cur_ok(&body) && cur_ok(&exts));
    o->have_server_hello = true;
    o->tls13 = o->version == 0x0304;
    o->suite = tls_suite_lookup(o->suite_id);
    g_assert_nonnull(o->suite);
    g_assert_cmphex(o->suite_id, ==, o->sc->suite);
    g_assert_true(o->suite->tls13 == o->tls13);
}

static const keylog_entry_t *keylog_entry(observer_t *o)
{
    const keylog_entry_t *e = keylog_lookup(o->conn->keylog, o->client_random);
    g_assert_nonnull(e);
    return e;
}

/* TLS 1.3: from the ServerHello on, both directions are protected. */
static void start_tls13(observer_t *o)
{
    const keylog_entry_t *e = keylog_entry(o);
    for (int from = 0; from < 2; from++) {
        const keylog_secret_t *s = from == CLIENT ? &e->client_handshake : &e->server_handshake;
        o->side[from].crypto = tls13_record_crypto_new(o->suite, s->bytes, s->len);
        g_assert_nonnull(o->side[from].crypto);
        o->side[from].encrypted = true;
    }
}

/* TLS 1.0-1.2: the master secret, from the key log or from the RSA key. */
static void master_secret(observer_t *o, uint8_t master[48])
{
    const keylog_entry_t *e = keylog_entry(o);
    g_assert_cmpuint(e->master.len, ==, 48);
    if (!o->sc->rsa_kx) {
        memcpy(master, e->master.bytes, 48);
        return;
    }
    g_assert_true(o->suite->rsa_key_exchange);
    g_assert_nonnull(o->encrypted_premaster);
    uint8_t premaster[48];
    g_assert_true(tls12_rsa_premaster(rsa_key, span(o->encrypted_premaster->data,
                                                    o->encrypted_premaster->len),
                                      premaster));
    g_assert_cmphex(premaster[0] << 8 | premaster[1], ==, o->sc->version); /* client_version */
    g_assert_true(o->transcript_done);
    if (o->version == 0x0303)
        g_assert_true(tls12_master_secret(o->suite, premaster, o->client_random, o->server_random,
                                          o->ems ? o->session_hash : NULL,
                                          o->ems ? o->session_hash_len : 0, master));
    else
        g_assert_true(tls_master_secret_for_version(o->suite, o->version, premaster,
                                                    o->client_random, o->server_random,
                                                    o->ems ? o->session_hash : NULL,
                                                    o->ems ? o->session_hash_len : 0, master));
    /* What OpenSSL logged agrees with what the RSA key gave. */
    g_assert_cmpmem(master, 48, e->master.bytes, 48);
}

static void on_handshake_message(observer_t *o, int from, const uint8_t *msg, size_t len)
{
    uint8_t type = msg[0];
    cursor_t body = cur_make(msg + 4, len - 4);
    side_state_t *side = &o->side[from];

    if (type == 1 && from == CLIENT)
        parse_client_hello(o, body);
    else if (type == 2 && from == SERVER)
        parse_server_hello(o, body);

    if (!o->tls13 && !o->transcript_done) {
        tls_transcript_add(o->transcript, span(msg, len));
        if (type == 16 && from == CLIENT) { /* ClientKeyExchange ends the session hash */
            const char *digest = o->version >= 0x0303 ? o->suite->prf : "MD5-SHA1";
            g_assert_true(tls_transcript_hash(o->transcript, digest, o->session_hash,
                                              &o->session_hash_len));
            g_assert_cmpuint(o->session_hash_len, ==,
                             o->version < 0x0303                       ? 36
                             : strcmp(o->suite->prf, "SHA384") == 0 ? 48
                                                                      : 32);
            o->transcript_done = true;
            if (o->suite->rsa_key_exchange) {
                cursor_t enc = cur_sub_be16len(&body);
                g_assert_true(cur_ok(&enc) && cur_empty(&body));
                byte_span_t s = cur_rest(&enc);
                o->encrypted_premaster = g_byte_array_new();
                g_byte_array_append(o->encrypted_premaster, s.ptr, (guint)s.len);
            }
        }
    }
    if (type == 2 && o->tls13)
        start_tls13(o);
    if (type == 20) { /* Finished: only ever seen decrypted */
        g_assert_true(side->encrypted);
        side->finished++;
        if (o->tls13 && !side->app_keys)
            side->switch_pending = true;
    }
    if (type == 24) { /* KeyUpdate */
        g_assert_true(o->tls13 && side->app_keys);
        side->updates_pending++;
    }
}

static void feed_handshake(observer_t *o, int from, const uint8_t *p, size_t n)
{
    GByteArray *b = o->side[from].handshake;
    g_byte_array_append(b, p, (guint)n);
    while (b->len >= 4) {
        size_t len = 4 + ((size_t)b->data[1] << 16 | (size_t)b->data[2] << 8 | b->data[3]);
        if (b->len < len)
            break;
        on_handshake_message(o, from, b->data, len);
        g_byte_array_remove_range(b, 0, (guint)len);
    }
}

static void observer_init(observer_t *o, const scenario_t *sc, conn_t *c)
{
    memset(o, 0, sizeof(*o));
    o->sc = sc;
    o->conn = c;
    o->transcript = tls_transcript_new();
    o->out = g_malloc(TLS_MAX_PLAINTEXT); /* exactly: ASan sees any overrun */
    for (int from = 0; from < 2; from++) {
        o->side[from].handshake = g_byte_array_new();
        o->side[from].app = g_byte_array_new();
    }
}

static void observer_clear(observer_t *o)
{
    for (int from = 0; from < 2; from++) {
        tls_record_crypto_free(o->side[from].crypto);
        g_byte_array_unref(o->side[from].handshake);
        g_byte_array_unref(o->side[from].app);
    }
    tls_transcript_free(o->transcript);
    if (o->encrypted_premaster)
        g_byte_array_unref(o->encrypted_premaster);
    g_free(o->out);
}

/* Every record, in wire order, as a passive monitor sees them. */
static void observe(observer_t *o)
{
    GPtrArray *records = o->conn->records;
    for (guint i = 0; i < records->len; i++) {
        const record_t *r = g_ptr_array_index(records, i);
        if (r == o->stop_at)
            return;
        side_state_t *side = &o->side[r->from];
        const uint8_t *rec = r->bytes->data;
        byte_span_t header = span(rec, 5), body = span(rec + 5, r->bytes->len - 5);
        uint8_t type = rec[0];

        if (type == 20) { /* ChangeCipherSpec */
            if (!o->tls13) {
                uint8_t master[48];
                master_secret(o, master);
                side->crypto = tls12_record_crypto_new(o->suite, o->version, master,
                                                       o->client_random, o->server_random,
                                                       r->from == CLIENT, o->etm);
                g_assert_nonnull(side->crypto);
                side->encrypted = true;
            }
            continue;
        }
        if (!side->encrypted) {
            g_assert_cmpuint(type, ==, 22);
            feed_handshake(o, r->from, body.ptr, body.len);
            continue;
        }

        size_t len = 0;
        uint8_t inner = 0;
        tls_decrypt_status_t st = tls_record_decrypt(side->crypto, header, body, o->out, &len,
                                                     &inner);
        if (st != TLS_DECRYPT_OK)
            g_error("%s: record %u from the %s: status %d", o->sc->name, i,
                    r->from == CLIENT ? "client" : "server", st);
        g_assert_cmpuint(len, <=, 16384);
        side->records++;
        if (inner == 22) {
            feed_handshake(o, r->from, o->out, len);
        } else if (inner == 23) {
            g_assert_true(!o->tls13 || side->app_keys);
            g_byte_array_append(side->app, o->out, (guint)len);
        } else if (inner == 21) {
            g_assert_cmpuint(len, ==, 2);
            if (o->out[0] == 1 && o->out[1] == 0)
                side->close_notify = true;
        } else {
            g_error("%s: unexpected inner content type %u", o->sc->name, inner);
        }

        if (side->switch_pending) {
            const keylog_entry_t *e = keylog_entry(o);
            const keylog_secret_t *s = r->from == CLIENT ? &e->client_traffic0 : &e->server_traffic0;
            tls_record_crypto_free(side->crypto);
            side->crypto = tls13_record_crypto_new(o->suite, s->bytes, s->len);
            g_assert_nonnull(side->crypto);
            side->app_keys = true;
            side->switch_pending = false;
        }
        for (; side->updates_pending; side->updates_pending--) {
            g_assert_true(tls13_record_crypto_update(side->crypto));
            side->updates++;
        }
    }
}

static void test_scenario(gconstpointer data)
{
    const scenario_t *sc = data;
    conn_t *c = conn_new(sc);
    converse(c, sc);

    observer_t o;
    observer_init(&o, sc, c);
    observe(&o);
    g_assert_true(o.have_client_hello && o.have_server_hello);
    g_assert_cmphex(o.version, ==, sc->version);
    if (!o.tls13) {
        g_assert_true(o.ems == !sc->no_ems);
        g_assert_true(o.etm == (o.suite->kind == TLS_CIPHER_CBC && !sc->no_etm));
    }
    for (int from = 0; from < 2; from++) {
        side_state_t *side = &o.side[from];
        g_assert_cmpuint(side->finished, ==, 1);
        g_assert_true(side->close_notify);
        g_assert_cmpmem(side->app->data, side->app->len, c->sent[from]->data, c->sent[from]->len);
        g_assert_cmpuint(side->updates, ==, sc->key_update ? (from == SERVER ? 2 : 1) : 0);
    }
    g_test_message("%s: %u client and %u server records decrypted, %u + %u bytes", sc->name,
                   o.side[CLIENT].records, o.side[SERVER].records, o.side[CLIENT].app->len,
                   o.side[SERVER].app->len);
    observer_clear(&o);
    conn_free(c);
}

#define TLS13(n, cs, id, ...) { .name = n, .version = TLS1_3_VERSION, .ciphers = cs, .suite = id, __VA_ARGS__ }
#define TLS12(n, cl, id, ...) { .name = n, .version = TLS1_2_VERSION, .ciphers = cl, .suite = id, __VA_ARGS__ }

static const scenario_t scenarios[] = {
    TLS13("tls13-aes128gcm", "TLS_AES_128_GCM_SHA256", 0x1301, .ecdsa = false),
    TLS13("tls13-aes256gcm", "TLS_AES_256_GCM_SHA384", 0x1302, .ecdsa = false),
    TLS13("tls13-chacha20", "TLS_CHACHA20_POLY1305_SHA256", 0x1303, .ecdsa = false),
    TLS13("tls13-aes128gcm-ecdsa", "TLS_AES_128_GCM_SHA256", 0x1301, .ecdsa = true),
    TLS13("tls13-keyupdate-aes128gcm", "TLS_AES_128_GCM_SHA256", 0x1301, .key_update = true),
    TLS13("tls13-keyupdate-aes256gcm", "TLS_AES_256_GCM_SHA384", 0x1302, .key_update = true),
    TLS13("tls13-keyupdate-chacha20", "TLS_CHACHA20_POLY1305_SHA256", 0x1303, .key_update = true),
    /* Zero padding after the inner content type (RFC 8446 5.4). */
    TLS13("tls13-padded-aes128gcm", "TLS_AES_128_GCM_SHA256", 0x1301, .block_padding = 512,
          .key_update = true),

    TLS12("tls12-ecdhe-rsa-aes128gcm", "ECDHE-RSA-AES128-GCM-SHA256", 0xc02f, .ecdsa = false),
    TLS12("tls12-ecdhe-rsa-aes256gcm", "ECDHE-RSA-AES256-GCM-SHA384", 0xc030, .ecdsa = false),
    TLS12("tls12-ecdhe-rsa-chacha20", "ECDHE-RSA-CHACHA20-POLY1305", 0xcca8, .ecdsa = false),
    TLS12("tls12-ecdhe-ecdsa-aes128gcm", "ECDHE-ECDSA-AES128-GCM-SHA256", 0xc02b, .ecdsa = true),
    TLS12("tls12-ecdhe-ecdsa-aes256gcm", "ECDHE-ECDSA-AES256-GCM-SHA384", 0xc02c, .ecdsa = true),
    TLS12("tls12-ecdhe-ecdsa-chacha20", "ECDHE-ECDSA-CHACHA20-POLY1305", 0xcca9, .ecdsa = true),
    TLS12("tls12-dhe-rsa-chacha20", "DHE-RSA-CHACHA20-POLY1305", 0xccaa, .ecdsa = false),
    TLS12("tls12-ecdhe-rsa-aes128-sha-etm", "ECDHE-RSA-AES128-SHA", 0xc013, .no_etm = false),
    TLS12("tls12-ecdhe-rsa-aes128-sha", "ECDHE-RSA-AES128-SHA", 0xc013, .no_etm = true),
    TLS12("tls12-ecdhe-rsa-aes256-sha-etm", "ECDHE-RSA-AES256-SHA", 0xc014, .no_etm = false),
    TLS12("tls12-ecdhe-rsa-aes256-sha", "ECDHE-RSA-AES256-SHA", 0xc014, .no_etm = true),
    TLS12("tls12-ecdhe-rsa-aes128-sha256-etm", "ECDHE-RSA-AES128-SHA256", 0xc027, .no_etm = false),
    TLS12("tls12-ecdhe-rsa-aes128-sha256", "ECDHE-RSA-AES128-SHA256", 0xc027, .no_etm = true),
    TLS12("tls12-ecdhe-rsa-aes256-sha384-etm", "ECDHE-RSA-AES256-SHA384", 0xc028, .no_etm = false),
    TLS12("tls12-ecdhe-rsa-aes256-sha384", "ECDHE-RSA-AES256-SHA384", 0xc028, .no_etm = true),
    TLS12("tls12-ecdhe-ecdsa-aes128-sha-etm", "ECDHE-ECDSA-AES128-SHA", 0xc009, .ecdsa = true),
    TLS12("tls12-ecdhe-ecdsa-aes256-sha", "ECDHE-ECDSA-AES256-SHA", 0xc00a, .ecdsa = true,
          .no_etm = true),
    TLS12("tls12-ecdhe-ecdsa-aes128-sha256", "ECDHE-ECDSA-AES128-SHA256", 0xc023, .ecdsa = true,
          .no_etm = true),
    TLS12("tls12-ecdhe-ecdsa-aes256-sha384-etm", "ECDHE-ECDSA-AES256-SHA384", 0xc024, .ecdsa = true),

    /* RSA key exchange: decrypted with the server's key only. */
    TLS12("tls12-rsa-aes128-sha-ems-etm", "AES128-SHA", 0x002f, .rsa_kx = true),
    TLS12("tls12-rsa-aes128-sha-noems-noetm", "AES128-SHA", 0x002f, .rsa_kx = true, .no_ems = true,
          .no_etm = true),
    TLS12("tls12-rsa-aes128-sha-ems-noetm", "AES128-SHA", 0x002f, .rsa_kx = true, .no_etm = true),
    TLS12("tls12-rsa-aes128-sha-noems-etm", "AES128-SHA", 0x002f, .rsa_kx = true, .no_ems = true),
    TLS12("tls12-rsa-aes128gcm-ems", "AES128-GCM-SHA256", 0x009c, .rsa_kx = true),
    TLS12("tls12-rsa-aes128gcm-noems", "AES128-GCM-SHA256", 0x009c, .rsa_kx = true, .no_ems = true),
    TLS12("tls12-rsa-aes256gcm-ems", "AES256-GCM-SHA384", 0x009d, .rsa_kx = true),
    TLS12("tls12-rsa-aes256-sha256-ems", "AES256-SHA256", 0x003d, .rsa_kx = true, .no_etm = true),
    TLS12("tls12-rsa-aes256-sha-noems", "AES256-SHA", 0x0035, .rsa_kx = true, .no_ems = true),

    /* TLS 1.0 (IV chained from record to record) and 1.1 (explicit IV). */
    { .name = "tls10-ecdhe-rsa-aes128-sha", .version = TLS1_VERSION,
      .ciphers = "ECDHE-RSA-AES128-SHA", .suite = 0xc013, .no_etm = true },
    { .name = "tls10-ecdhe-rsa-aes128-sha-etm", .version = TLS1_VERSION,
      .ciphers = "ECDHE-RSA-AES128-SHA", .suite = 0xc013 },
    { .name = "tls11-ecdhe-rsa-aes256-sha", .version = TLS1_1_VERSION,
      .ciphers = "ECDHE-RSA-AES256-SHA", .suite = 0xc014, .no_etm = true },
    { .name = "tls10-rsa-aes128-sha-ems", .version = TLS1_VERSION, .ciphers = "AES128-SHA",
      .suite = 0x002f, .rsa_kx = true, .no_etm = true },
    { .name = "tls10-rsa-aes128-sha-noems", .version = TLS1_VERSION, .ciphers = "AES128-SHA",
      .suite = 0x002f, .rsa_kx = true, .no_ems = true },
    { .name = "tls11-rsa-aes256-sha-ems-etm", .version = TLS1_1_VERSION, .ciphers = "AES256-SHA",
      .suite = 0x0035, .rsa_kx = true },
};

/* ------------------------------------------------------------------------
 * Wrong keys, damaged records, unsupported suites
 */

/* A finished conversation and the observer's view of its hellos. */
typedef struct captured {
    conn_t *conn;
    observer_t o;
} captured_t;

static void capture(captured_t *cap, const scenario_t *sc)
{
    cap->conn = conn_new(sc);
    converse(cap->conn, sc);
    observer_init(&cap->o, sc, cap->conn);
    observe(&cap->o); /* fills randoms, suite, version, EtM */
}

static void captured_clear(captured_t *cap)
{
    observer_clear(&cap->o);
    conn_free(cap->conn);
}

/* The n-th protected record from one side (TLS 1.2: after its CCS; TLS
 * 1.3: application_data records). */
static const record_t *protected_record(captured_t *cap, int from, unsigned n)
{
    bool after_ccs = false;
    GPtrArray *records = cap->conn->records;
    for (guint i = 0; i < records->len; i++) {
        const record_t *r = g_ptr_array_index(records, i);
        if (r->from != from)
            continue;
        if (r->bytes->data[0] == 20) {
            after_ccs = true;
            continue;
        }
        bool prot = cap->o.tls13 ? r->bytes->data[0] == 23 : after_ccs;
        if (prot && n-- == 0)
            return r;
    }
    g_assert_not_reached();
    return NULL;
}

static tls_decrypt_status_t decrypt_record(tls_record_crypto_t *crypto, const record_t *r,
                                           uint8_t *out, size_t *len)
{
    uint8_t inner = 0;
    return tls_record_decrypt(crypto, span(r->bytes->data, 5),
                              span(r->bytes->data + 5, r->bytes->len - 5), out, len, &inner);
}

static tls_record_crypto_t *tls12_crypto(captured_t *cap, const uint8_t master[48], int from)
{
    tls_record_crypto_t *crypto = tls12_record_crypto_new(
        cap->o.suite, cap->o.version, master, cap->o.client_random, cap->o.server_random,
        from == CLIENT, cap->o.etm);
    g_assert_nonnull(crypto);
    return crypto;
}

static void test_wrong_keys(gconstpointer data)
{
    const scenario_t *sc = data;
    captured_t cap;
    capture(&cap, sc);
    const keylog_entry_t *e = keylog_lookup(cap.conn->keylog, cap.o.client_random);
    g_assert_nonnull(e);
    uint8_t *out = cap.o.out;
    size_t len = 0;

    for (int from = 0; from < 2; from++) {
        tls_record_crypto_t *crypto;
        if (cap.o.tls13) {
            keylog_secret_t wrong = from == CLIENT ? e->client_handshake : e->server_handshake;
            wrong.bytes[7] ^= 0x20;
            crypto = tls13_record_crypto_new(cap.o.suite, wrong.bytes, wrong.len);
        } else {
            uint8_t wrong[48];
            memcpy(wrong, e->master.bytes, 48);
            wrong[47] ^= 0x01;
            crypto = tls12_crypto(&cap, wrong, from);
        }
        g_assert_nonnull(crypto);
        /* Every record from this side: never OK, never a crash, and the
         * out buffer holds nothing unauthenticated. */
        unsigned n = 0, auth_failed = 0;
        GPtrArray *records = cap.conn->records;
        bool after_ccs = false;
        for (guint i = 0; i < records->len; i++) {
            const record_t *r = g_ptr_array_index(records, i);
            if (r->from != from)
                continue;
            if (r->bytes->data[0] == 20) {
                after_ccs = true;
                continue;
            }
            if (!(cap.o.tls13 ? r->bytes->data[0] == 23 : after_ccs))
                continue;
            tls_decrypt_status_t st = decrypt_record(crypto, r, out, &len);
            g_assert_cmpint(st, !=, TLS_DECRYPT_OK);
            g_assert_cmpuint(len, ==, 0);
            if (n == 0)
                g_assert_cmpint(st, ==, TLS_DECRYPT_AUTH_FAILED);
            auth_failed += st == TLS_DECRYPT_AUTH_FAILED;
            n++;
        }
        g_assert_cmpuint(n, >, 2);
        g_assert_cmpuint(auth_failed, ==, n);
        tls_record_crypto_free(crypto);

        /* The right keys, but one side's state used for the other. */
        if (!cap.o.tls13) {
            crypto = tls12_crypto(&cap, e->master.bytes, !from);
            g_assert_cmpint(decrypt_record(crypto, protected_record(&cap, from, 0), out, &len), ==,
                            TLS_DECRYPT_AUTH_FAILED);
            tls_record_crypto_free(crypto);
        }
    }
    captured_clear(&cap);
}

static const scenario_t wrong_key_scenarios[] = {
    TLS13("tls13-aes128gcm", "TLS_AES_128_GCM_SHA256", 0x1301, .ecdsa = false),
    TLS13("tls13-chacha20", "TLS_CHACHA20_POLY1305_SHA256", 0x1303, .ecdsa = false),
    TLS12("tls12-aes128gcm", "ECDHE-RSA-AES128-GCM-SHA256", 0xc02f, .ecdsa = false),
    TLS12("tls12-chacha20", "ECDHE-RSA-CHACHA20-POLY1305", 0xcca8, .ecdsa = false),
    TLS12("tls12-cbc-sha", "ECDHE-RSA-AES128-SHA", 0xc013, .no_etm = true),
    TLS12("tls12-cbc-sha-etm", "ECDHE-RSA-AES128-SHA", 0xc013, .no_etm = false),
    TLS12("tls12-cbc-sha384", "ECDHE-RSA-AES256-SHA384", 0xc028, .no_etm = true),
    { .name = "tls10-cbc-sha", .version = TLS1_VERSION, .ciphers = "ECDHE-RSA-AES128-SHA",
      .suite = 0xc013, .no_etm = true },
};

/* A copy of a record with its body cut to body_len; the header's length
 * says body_len too unless keep_length. */
static GByteArray *damaged(const record_t *r, size_t body_len, bool keep_length)
{
    GByteArray *b = g_byte_array_new();
    g_byte_array_append(b, r->bytes->data, (guint)(5 + body_len));
    if (!keep_length) {
        b->data[3] = (uint8_t)(body_len >> 8);
        b->data[4] = (uint8_t)body_len;
    }
    return b;
}

static tls_decrypt_status_t decrypt_bytes(tls_record_crypto_t *crypto, GByteArray *b, uint8_t *out)
{
    size_t len = 99;
    uint8_t inner = 99;
    tls_decrypt_status_t st = tls_record_decrypt(crypto, span(b->data, 5),
                                                 span(b->data + 5, b->len - 5), out, &len, &inner);
    if (st != TLS_DECRYPT_OK)
        g_assert_cmpuint(len, ==, 0);
    g_byte_array_unref(b);
    return st;
}

static tls_record_crypto_t *first_crypto(captured_t *cap, int from)
{
    const keylog_entry_t *e = keylog_lookup(cap->conn->keylog, cap->o.client_random);
    if (cap->o.tls13) {
        const keylog_secret_t *s = from == CLIENT ? &e->client_handshake : &e->server_handshake;
        return tls13_record_crypto_new(cap->o.suite, s->bytes, s->len);
    }
    return tls12_crypto(cap, e->master.bytes, from);
}

static void test_truncated(gconstpointer data)
{
    const scenario_t *sc = data;
    captured_t cap;
    capture(&cap, sc);
    uint8_t *out = cap.o.out;
    const record_t *r = protected_record(&cap, SERVER, 0);
    size_t body = r->bytes->len - 5;
    tls_record_crypto_t *c;

    /* The header promises more than there is. */
    c = first_crypto(&cap, SERVER);
    g_assert_cmpint(decrypt_bytes(c, damaged(r, body - 1, true), out), ==, TLS_DECRYPT_BAD_RECORD);
    tls_record_crypto_free(c);
    /* Shorter than the smallest record of the suite. */
    size_t smallest = cap.o.tls13                                  ? 16 + 1 /* tag, type */
                      : cap.o.suite->kind == TLS_CIPHER_GCM           ? 8 + 16 /* nonce, tag */
                      : cap.o.suite->kind == TLS_CIPHER_CHACHA20_POLY1305 ? 16
                      : cap.o.etm ? 16 + 16 + cap.o.suite->mac_len /* IV, block, MAC */
                                  : 16 + 16;                      /* IV, block */
    static const size_t shorts[] = { 0, 1, 8, 15, 16, 17, 23, 24, 31 };
    for (size_t i = 0; i < G_N_ELEMENTS(shorts); i++) {
        if (shorts[i] >= body)
            continue;
        c = first_crypto(&cap, SERVER);
        tls_decrypt_status_t st = decrypt_bytes(c, damaged(r, shorts[i], false), out);
        if (shorts[i] < smallest || cap.o.suite->kind == TLS_CIPHER_CBC)
            g_assert_cmpint(st, ==, TLS_DECRYPT_BAD_RECORD);
        else
            g_assert_cmpint(st, ==, TLS_DECRYPT_AUTH_FAILED); /* well-formed, but not this record */
        tls_record_crypto_free(c);
    }
    /* A record cut short but with a header that matches: the tag or MAC
     * (or, for CBC, the block length) gives it away. */
    c = first_crypto(&cap, SERVER);
    tls_decrypt_status_t st = decrypt_bytes(c, damaged(r, body - 1, false), out);
    g_assert_cmpint(st, ==,
                    cap.o.suite->kind == TLS_CIPHER_CBC ? TLS_DECRYPT_BAD_RECORD
                                                        : TLS_DECRYPT_AUTH_FAILED);
    tls_record_crypto_free(c);
    /* A header that is not 5 bytes. */
    c = first_crypto(&cap, SERVER);
    size_t len = 0;
    uint8_t inner = 0;
    g_assert_cmpint(tls_record_decrypt(c, span(r->bytes->data, 4), span(r->bytes->data + 5, body),
                                       out, &len, &inner),
                    ==, TLS_DECRYPT_BAD_RECORD);
    /* Far too long. */
    GByteArray *huge = g_byte_array_new();
    g_byte_array_set_size(huge, 5 + 16384 + 2048 + 16);
    memset(huge->data, 0, huge->len);
    memcpy(huge->data, r->bytes->data, 3);
    huge->data[3] = (uint8_t)((huge->len - 5) >> 8);
    huge->data[4] = (uint8_t)(huge->len - 5);
    g_assert_cmpint(decrypt_bytes(c, huge, out), ==, TLS_DECRYPT_BAD_RECORD);
    tls_record_crypto_free(c);

    /* After a damaged record the sequence has moved on: the real first
     * record no longer decrypts in second place (TLS 1.3, ChaCha20 and
     * CBC's MAC depend on it; so does GCM's additional data). */
    c = first_crypto(&cap, SERVER);
    g_assert_cmpint(decrypt_bytes(c, damaged(r, 3, false), out), ==, TLS_DECRYPT_BAD_RECORD);
    len = 0;
    st = decrypt_record(c, r, out, &len);
    g_assert_cmpint(st, !=, TLS_DECRYPT_OK);
    tls_record_crypto_free(c);
    /* And with a fresh state it does. */
    c = first_crypto(&cap, SERVER);
    g_assert_cmpint(decrypt_record(c, r, out, &len), ==, TLS_DECRYPT_OK);
    tls_record_crypto_free(c);

    captured_clear(&cap);
}

static const scenario_t truncated_scenarios[] = {
    TLS13("tls13-aes256gcm", "TLS_AES_256_GCM_SHA384", 0x1302, .ecdsa = false),
    TLS12("tls12-aes128gcm", "ECDHE-RSA-AES128-GCM-SHA256", 0xc02f, .ecdsa = false),
    TLS12("tls12-chacha20", "ECDHE-RSA-CHACHA20-POLY1305", 0xcca8, .ecdsa = false),
    TLS12("tls12-cbc-sha256", "ECDHE-RSA-AES128-SHA256", 0xc027, .no_etm = true),
    TLS12("tls12-cbc-sha256-etm", "ECDHE-RSA-AES128-SHA256", 0xc027, .no_etm = false),
};

static void test_suites(void)
{
    /* Not decrypted: RC4, 3DES, NULL, CCM, export, GREASE, nonsense. */
    static const uint16_t unsupported[] = { 0x0000, 0x0001, 0x0004, 0x0005, 0x000a, 0x0016,
                                            0x1304, 0x1305, 0xc012, 0xc0ac, 0x0a0a, 0xffff,
                                            0x00ff, 0x5600 };
    for (size_t i = 0; i < G_N_ELEMENTS(unsupported); i++)
        g_assert_null(tls_suite_lookup(unsupported[i]));

    static const struct {
        uint16_t id;
        const char *name;
    } named[] = {
        { 0x1301, "TLS_AES_128_GCM_SHA256" },
        { 0x1302, "TLS_AES_256_GCM_SHA384" },
        { 0x1303, "TLS_CHACHA20_POLY1305_SHA256" },
        { 0x002f, "TLS_RSA_WITH_AES_128_CBC_SHA" },
        { 0x0035, "TLS_RSA_WITH_AES_256_CBC_SHA" },
        { 0x003c, "TLS_RSA_WITH_AES_128_CBC_SHA256" },
        { 0x003d, "TLS_RSA_WITH_AES_256_CBC_SHA256" },
        { 0x009c, "TLS_RSA_WITH_AES_128_GCM_SHA256" },
        { 0x009d, "TLS_RSA_WITH_AES_256_GCM_SHA384" },
        { 0xc009, "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA" },
        { 0xc00a, "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA" },
        { 0xc013, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA" },
        { 0xc014, "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA" },
        { 0xc023, "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256" },
        { 0xc024, "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384" },
        { 0xc027, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256" },
        { 0xc028, "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384" },
        { 0xc02b, "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256" },
        { 0xc02c, "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384" },
        { 0xc02f, "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256" },
        { 0xc030, "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384" },
        { 0xcca8, "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256" },
        { 0xcca9, "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256" },
    };
    for (size_t i = 0; i < G_N_ELEMENTS(named); i++) {
        const tls_suite_t *s = tls_suite_lookup(named[i].id);
        g_assert_nonnull(s);
        g_assert_cmphex(s->id, ==, named[i].id);
        g_assert_cmpstr(s->name, ==, named[i].name);
        /* The name says the rest: check the table against it. */
        g_assert_true(s->tls13 == (named[i].id >> 8 == 0x13));
        g_assert_true(s->rsa_key_exchange == g_str_has_prefix(s->name, "TLS_RSA_"));
        g_assert_true(s->kind == (strstr(s->name, "GCM")      ? TLS_CIPHER_GCM
                                  : strstr(s->name, "CHACHA") ? TLS_CIPHER_CHACHA20_POLY1305
                                                              : TLS_CIPHER_CBC));
        g_assert_cmpuint(s->key_len, ==, strstr(s->name, "AES_128") ? 16u : 32u);
        g_assert_cmpstr(s->prf, ==, g_str_has_suffix(s->name, "SHA384") ? "SHA384" : "SHA256");
        if (s->kind == TLS_CIPHER_CBC) {
            g_assert_cmpuint(s->mac_len, ==,
                             g_str_has_suffix(s->name, "_SHA")      ? 20u
                             : g_str_has_suffix(s->name, "_SHA256") ? 32u
                                                                    : 48u);
        } else {
            g_assert_null(s->mac);
            g_assert_cmpuint(s->mac_len, ==, 0);
        }
    }

    /* States that cannot be made. */
    uint8_t secret[48] = { 1 }, master[48] = { 2 }, cr[32] = { 3 }, sr[32] = { 4 };
    const tls_suite_t *gcm12 = tls_suite_lookup(0xc02f), *gcm13 = tls_suite_lookup(0x1301);
    const tls_suite_t *sha384 = tls_suite_lookup(0x1302), *cbc256 = tls_suite_lookup(0xc027);
    g_assert_null(tls13_record_crypto_new(gcm12, secret, 32));  /* not a TLS 1.3 suite */
    g_assert_null(tls13_record_crypto_new(gcm13, secret, 48));  /* SHA-256 secrets are 32 bytes */
    g_assert_null(tls13_record_crypto_new(sha384, secret, 32)); /* and SHA-384 ones 48 */
    g_assert_null(tls13_record_crypto_new(NULL, secret, 32));
    g_assert_null(tls12_record_crypto_new(gcm13, 0x0303, master, cr, sr, true, false));
    g_assert_null(tls12_record_crypto_new(gcm12, 0x0302, master, cr, sr, true, false));
    g_assert_null(tls12_record_crypto_new(cbc256, 0x0301, master, cr, sr, true, false));
    g_assert_null(tls12_record_crypto_new(gcm12, 0x0300, master, cr, sr, true, false));
    g_assert_null(tls12_record_crypto_new(gcm12, 0x0304, master, cr, sr, true, false));
    g_assert_null(tls12_record_crypto_new(NULL, 0x0303, master, cr, sr, true, false));
    g_assert_false(tls12_master_secret(gcm13, secret, cr, sr, NULL, 0, master));
    tls_record_crypto_t *c = tls12_record_crypto_new(gcm12, 0x0303, master, cr, sr, true, false);
    g_assert_nonnull(c);
    g_assert_false(tls13_record_crypto_update(c)); /* KeyUpdate is TLS 1.3's */
    g_assert_false(tls13_record_crypto_update(NULL));
    tls_record_crypto_free(c);
    tls_record_crypto_free(NULL);
}

static void test_rsa_premaster(void)
{
    uint8_t premaster[48];
    uint8_t junk[256];
    memset(junk, 0x5a, sizeof(junk));
    /* Not an RSA block for this key. */
    g_assert_false(tls12_rsa_premaster(rsa_key, span(junk, sizeof(junk)), premaster));
    g_assert_false(tls12_rsa_premaster(rsa_key, span(junk, 10), premaster));
    g_assert_false(tls12_rsa_premaster(rsa_key, span(NULL, 0), premaster));
    g_assert_false(tls12_rsa_premaster(NULL, span(junk, sizeof(junk)), premaster));
    /* Not an RSA key. */
    g_assert_false(tls12_rsa_premaster(ec_key, span(junk, sizeof(junk)), premaster));

    /* A well-formed block, but of the wrong length for a premaster. */
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, rsa_key, NULL);
    g_assert_nonnull(ctx);
    g_assert_cmpint(EVP_PKEY_encrypt_init(ctx), >, 0);
    g_assert_cmpint(EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING), >, 0);
    uint8_t enc[512];
    size_t enc_len = sizeof(enc);
    uint8_t secret[47];
    memset(secret, 3, sizeof(secret));
    g_assert_cmpint(EVP_PKEY_encrypt(ctx, enc, &enc_len, secret, sizeof(secret)), >, 0);
    g_assert_false(tls12_rsa_premaster(rsa_key, span(enc, enc_len), premaster));
    /* And the right length, with and without the 2-byte length in front. */
    uint8_t right[48];
    memset(right, 4, sizeof(right));
    uint8_t with_len[514];
    enc_len = sizeof(with_len) - 2;
    g_assert_cmpint(EVP_PKEY_encrypt(ctx, with_len + 2, &enc_len, right, sizeof(right)), >, 0);
    with_len[0] = (uint8_t)(enc_len >> 8);
    with_len[1] = (uint8_t)enc_len;
    g_assert_true(tls12_rsa_premaster(rsa_key, span(with_len + 2, enc_len), premaster));
    g_assert_cmpmem(premaster, 48, right, 48);
    memset(premaster, 0, sizeof(premaster));
    g_assert_true(tls12_rsa_premaster(rsa_key, span(with_len, enc_len + 2), premaster));
    g_assert_cmpmem(premaster, 48, right, 48);
    EVP_PKEY_CTX_free(ctx);
}

/* ------------------------------------------------------------------------
 * CBC records made here, independently of the module: the longest padding
 * (the plaintext then runs past TLS_MAX_PLAINTEXT), bad padding, and content
 * over 2^14.  OpenSSL itself only ever pads minimally.
 */

typedef struct cbc_keys {
    uint8_t mac_key[20];
    uint8_t key[16];
} cbc_keys_t;

/* TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA, TLS 1.2, the client's write keys:
 * the key block by the RFC 5246 PRF straight from OpenSSL's KDF. */
static void cbc_client_keys(const uint8_t master[48], const uint8_t cr[32], const uint8_t sr[32],
                            cbc_keys_t *keys)
{
    uint8_t seed[13 + 64], block[2 * 20 + 2 * 16 + 2 * 16];
    memcpy(seed, "key expansion", 13);
    memcpy(seed + 13, sr, 32);
    memcpy(seed + 45, cr, 32);
    EVP_KDF *kdf = EVP_KDF_fetch(NULL, "TLS1-PRF", NULL);
    EVP_KDF_CTX *kctx = EVP_KDF_CTX_new(kdf);
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string("digest", (char *)"SHA256", 0),
        OSSL_PARAM_construct_octet_string("secret", (void *)master, 48),
        OSSL_PARAM_construct_octet_string("seed", seed, sizeof(seed)),
        OSSL_PARAM_construct_end(),
    };
    g_assert_cmpint(EVP_KDF_derive(kctx, block, sizeof(block), params), >, 0);
    EVP_KDF_CTX_free(kctx);
    EVP_KDF_free(kdf);
    memcpy(keys->mac_key, block, 20);
    memcpy(keys->key, block + 40, 16);
}

static void hmac_sha1(const uint8_t key[20], const uint8_t *a, size_t a_len, const uint8_t *b,
                      size_t b_len, uint8_t out[20])
{
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    EVP_MAC_CTX *ctx = EVP_MAC_CTX_new(mac);
    OSSL_PARAM params[] = { OSSL_PARAM_construct_utf8_string("digest", (char *)"SHA1", 0),
                            OSSL_PARAM_construct_end() };
    size_t len = 0;
    g_assert_true(EVP_MAC_init(ctx, key, 20, params));
    g_assert_true(EVP_MAC_update(ctx, a, a_len));
    g_assert_true(EVP_MAC_update(ctx, b, b_len));
    g_assert_true(EVP_MAC_final(ctx, out, &len, 20));
    EVP_MAC_CTX_free(ctx);
    EVP_MAC_free(mac);
}

typedef struct cbc_spec {
    uint64_t seq;
    size_t content_len;
    size_t pad;          /* padding length byte; pad + 1 bytes of padding */
    bool etm;
    bool break_padding;  /* one padding byte off */
    bool break_mac;      /* one MAC byte off (MAC-then-encrypt): what wrong keys give */
} cbc_spec_t;

/* A whole record (header | IV | ciphertext [| MAC]) with content byte i = i * 3. */
static GByteArray *cbc_record(const cbc_keys_t *keys, const cbc_spec_t *spec)
{
    size_t plain_len = spec->content_len + (spec->etm ? 0 : 20) + spec->pad + 1;
    g_assert_cmpuint(plain_len % 16, ==, 0);
    uint8_t *plain = g_malloc(plain_len);
    for (size_t i = 0; i < spec->content_len; i++)
        plain[i] = (uint8_t)(i * 3);
    uint8_t pseudo[13];
    for (int i = 0; i < 8; i++)
        pseudo[i] = (uint8_t)(spec->seq >> (56 - 8 * i));
    pseudo[8] = 23;
    pseudo[9] = 3;
    pseudo[10] = 3;
    if (!spec->etm) {
        pseudo[11] = (uint8_t)(spec->content_len >> 8);
        pseudo[12] = (uint8_t)spec->content_len;
        hmac_sha1(keys->mac_key, pseudo, 13, plain, spec->content_len, plain + spec->content_len);
        if (spec->break_mac)
            plain[spec->content_len] ^= 1;
    }
    memset(plain + plain_len - spec->pad - 1, (int)spec->pad, spec->pad + 1);
    if (spec->break_padding)
        plain[plain_len - 2] ^= 1;

    size_t body_len = 16 + plain_len + (spec->etm ? 20 : 0);
    GByteArray *rec = g_byte_array_new();
    g_byte_array_set_size(rec, (guint)(5 + body_len));
    uint8_t *p = rec->data;
    p[0] = 23;
    p[1] = 3;
    p[2] = 3;
    p[3] = (uint8_t)(body_len >> 8);
    p[4] = (uint8_t)body_len;
    for (int i = 0; i < 16; i++)
        p[5 + i] = (uint8_t)(0xa0 + i + spec->seq); /* explicit IV */
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int n = 0;
    g_assert_true(EVP_EncryptInit_ex2(ctx, EVP_aes_128_cbc(), keys->key, p + 5, NULL));
    EVP_CIPHER_CTX_set_padding(ctx, 0);
    g_assert_true(EVP_EncryptUpdate(ctx, p + 21, &n, plain, (int)plain_len));
    g_assert_cmpint(n, ==, (int)plain_len);
    EVP_CIPHER_CTX_free(ctx);
    if (spec->etm) {
        size_t enc_len = 16 + plain_len;
        pseudo[11] = (uint8_t)(enc_len >> 8);
        pseudo[12] = (uint8_t)enc_len;
        hmac_sha1(keys->mac_key, pseudo, 13, p + 5, enc_len, p + 5 + enc_len);
    }
    g_free(plain);
    return rec;
}

static void test_cbc_padding(void)
{
    uint8_t master[48], cr[32], sr[32];
    for (int i = 0; i < 48; i++)
        master[i] = (uint8_t)(i + 1);
    for (int i = 0; i < 32; i++) {
        cr[i] = (uint8_t)(0x40 + i);
        sr[i] = (uint8_t)(0x80 + i);
    }
    cbc_keys_t keys;
    cbc_client_keys(master, cr, sr, &keys);
    const tls_suite_t *suite = tls_suite_lookup(0xc013);
    uint8_t *out = g_malloc(TLS_MAX_PLAINTEXT);

    static const struct {
        cbc_spec_t spec;
        tls_decrypt_status_t status;
    } cases[] = {
        /* 16384 + 20 + 252 = 16656: beyond TLS_MAX_PLAINTEXT (16640) */
        { { .content_len = 16384, .pad = 251 }, TLS_DECRYPT_OK },
        { { .content_len = 16384, .pad = 255, .etm = true }, TLS_DECRYPT_OK },
        { { .content_len = 16380, .pad = 255 }, TLS_DECRYPT_OK },
        { { .content_len = 0, .pad = 11 }, TLS_DECRYPT_OK },
        { { .content_len = 0, .pad = 255, .etm = true }, TLS_DECRYPT_OK },
        { { .content_len = 100, .pad = 23 }, TLS_DECRYPT_OK },
        /* bad padding: wrong keys look like this, so a MAC failure without
         * EtM; with EtM the MAC vouched for the record, so a bad record */
        { { .content_len = 100, .pad = 23, .break_padding = true }, TLS_DECRYPT_AUTH_FAILED },
        { { .content_len = 16384, .pad = 251, .break_padding = true }, TLS_DECRYPT_AUTH_FAILED },
        { { .content_len = 100, .pad = 11, .etm = true, .break_padding = true },
          TLS_DECRYPT_BAD_RECORD },
        /* more than 2^14 bytes of content */
        { { .content_len = 16395, .pad = 0 }, TLS_DECRYPT_BAD_RECORD },
        /* ... that the MAC does not vouch for: wrong keys whose random
         * padding byte happened to be 0 decrypt to this */
        { { .content_len = 16395, .pad = 0, .break_mac = true }, TLS_DECRYPT_AUTH_FAILED },
        { { .content_len = 16399, .pad = 0, .etm = true }, TLS_DECRYPT_BAD_RECORD },
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        const cbc_spec_t *spec = &cases[i].spec;
        tls_record_crypto_t *c = tls12_record_crypto_new(suite, 0x0303, master, cr, sr, true,
                                                         spec->etm);
        g_assert_nonnull(c);
        /* Two records: sequence 0 with the case, then sequence 1 plain,
         * to see the state carry on. */
        cbc_spec_t second = { .seq = 1, .content_len = 5, .pad = spec->etm ? 10 : 6, .etm = spec->etm };
        for (int k = 0; k < 2; k++) {
            GByteArray *rec = cbc_record(&keys, k == 0 ? spec : &second);
            size_t len = 99;
            uint8_t type = 0;
            tls_decrypt_status_t st = tls_record_decrypt(c, span(rec->data, 5),
                                                         span(rec->data + 5, rec->len - 5), out,
                                                         &len, &type);
            size_t want_len = k == 0 ? spec->content_len : second.content_len;
            tls_decrypt_status_t want = k == 0 ? cases[i].status : TLS_DECRYPT_OK;
            if (st != want)
                g_error("case %zu record %d: status %d, expected %d", i, k, st, want);
            if (st == TLS_DECRYPT_OK) {
                g_assert_cmpuint(type, ==, 23);
                g_assert_cmpuint(len, ==, want_len);
                for (size_t j = 0; j < len; j++)
                    g_assert_cmpuint(out[j], ==, (uint8_t)(j * 3));
            } else {
                g_assert_cmpuint(len, ==, 0);
            }
            g_byte_array_unref(rec);
        }
        tls_record_crypto_free(c);
    }
    g_free(out);
}

/* TLS 1.2 AES-128-GCM records sealed here: at and over 2^14 of content. */
static void test_gcm_limits(void)
{
    uint8_t master[48], cr[32], sr[32];
    for (int i = 0; i < 48; i++)
        master[i] = (uint8_t)(3 * i);
    for (int i = 0; i < 32; i++) {
        cr[i] = (uint8_t)(0x11 * i);
        sr[i] = (uint8_t)(0x22 + i);
    }
    /* key block: client key | server key | client salt | server salt */
    uint8_t seed[13 + 64], block[2 * 16 + 2 * 4];
    memcpy(seed, "key expansion", 13);
    memcpy(seed + 13, sr, 32);
    memcpy(seed + 45, cr, 32);
    EVP_KDF *kdf = EVP_KDF_fetch(NULL, "TLS1-PRF", NULL);
    EVP_KDF_CTX *kctx = EVP_KDF_CTX_new(kdf);
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string("digest", (char *)"SHA256", 0),
        OSSL_PARAM_construct_octet_string("secret", master, 48),
        OSSL_PARAM_construct_octet_string("seed", seed, sizeof(seed)),
        OSSL_PARAM_construct_end(),
    };
    g_assert_cmpint(EVP_KDF_derive(kctx, block, sizeof(block), params), >, 0);
    EVP_KDF_CTX_free(kctx);
    EVP_KDF_free(kdf);

    const tls_suite_t *suite = tls_suite_lookup(0xc02f);
    uint8_t *out = g_malloc(TLS_MAX_PLAINTEXT);
    static const size_t sizes[] = { 16384, 16385, 0 };
    for (size_t i = 0; i < G_N_ELEMENTS(sizes); i++) {
        size_t n = sizes[i], body_len = 8 + n + 16;
        GByteArray *rec = g_byte_array_new();
        g_byte_array_set_size(rec, (guint)(5 + body_len));
        uint8_t *p = rec->data;
        uint8_t aad[13] = { 0, 0, 0, 0, 0, 0, 0, 0, 23, 3, 3, (uint8_t)(n >> 8), (uint8_t)n };
        memcpy(p, aad + 8, 3);
        p[3] = (uint8_t)(body_len >> 8);
        p[4] = (uint8_t)body_len;
        uint8_t nonce[12];
        memcpy(nonce, block + 32, 4); /* client salt */
        for (int j = 0; j < 8; j++)
            nonce[4 + j] = p[5 + j] = (uint8_t)(0xe0 + j);
        uint8_t *plain = g_malloc(n + 1);
        for (size_t j = 0; j < n; j++)
            plain[j] = (uint8_t)(j * 5);
        EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
        int m = 0;
        g_assert_true(EVP_EncryptInit_ex2(ctx, EVP_aes_128_gcm(), block, nonce, NULL));
        g_assert_true(EVP_EncryptUpdate(ctx, NULL, &m, aad, 13));
        g_assert_true(n == 0 || EVP_EncryptUpdate(ctx, p + 13, &m, plain, (int)n));
        g_assert_true(EVP_EncryptFinal_ex(ctx, p + 13 + n, &m));
        g_assert_true(EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, 16, p + 13 + n));
        EVP_CIPHER_CTX_free(ctx);

        tls_record_crypto_t *c = tls12_record_crypto_new(suite, 0x0303, master, cr, sr, true, false);
        g_assert_nonnull(c);
        size_t len = 99;
        uint8_t type = 0;
        tls_decrypt_status_t st = tls_record_decrypt(c, span(p, 5), span(p + 5, body_len), out,
                                                     &len, &type);
        if (n <= 16384) {
            g_assert_cmpint(st, ==, TLS_DECRYPT_OK);
            g_assert_cmpuint(type, ==, 23);
            g_assert_cmpmem(out, len, plain, n);
        } else {
            g_assert_cmpint(st, ==, TLS_DECRYPT_BAD_RECORD);
            g_assert_cmpuint(len, ==, 0);
        }
        tls_record_crypto_free(c);
        g_free(plain);
        g_byte_array_unref(rec);
    }
    g_free(out);
}

/* ------------------------------------------------------------------------
 * Throughput (run with -m perf): 16 KiB records, next to the bare cipher
 */

static void perf_records(const scenario_t *sc)
{
    conn_t *c = conn_new(sc);
    enum { RECORDS = 512 };
    app_write_pattern(c, SERVER, (size_t)RECORDS * 16384, 9);
    /* Time only the full application records (OpenSSL's multi-block CBC
     * writes make them a little short of 16 KiB). */
    GPtrArray *full = g_ptr_array_new();
    for (guint i = 0; i < c->records->len; i++) {
        const record_t *r = g_ptr_array_index(c->records, i);
        if (r->from == SERVER && r->bytes->data[0] == 23 && r->bytes->len > 15000)
            g_ptr_array_add(full, (gpointer)r);
    }
    g_assert_cmpuint(full->len, >=, RECORDS);

    /* Passes over the records for about two seconds, as openssl speed
     * runs for a few: the mean over all of them. */
    double total_secs = 0, total_bytes = 0;
    while (total_secs < 2.0) {
        /* The observer, stopped just before the first of them, has the
         * server's state at the right key and sequence number. */
        observer_t o;
        observer_init(&o, sc, c);
        o.stop_at = g_ptr_array_index(full, 0);
        observe(&o);
        tls_record_crypto_t *crypto = o.side[SERVER].crypto;
        g_assert_nonnull(crypto);

        gint64 start = g_get_monotonic_time();
        size_t bytes = 0;
        for (guint i = 0; i < full->len; i++) {
            const record_t *r = g_ptr_array_index(full, i);
            size_t len = 0;
            if (decrypt_record(crypto, r, o.out, &len) != TLS_DECRYPT_OK)
                g_error("%s: record %u does not decrypt", sc->name, i);
            bytes += len;
        }
        total_secs += (double)(g_get_monotonic_time() - start) / 1e6;
        total_bytes += (double)bytes;
        observer_clear(&o);
    }
    double mbps = total_bytes / total_secs / 1e6;
    g_test_message("%s: %.0f MB/s of plaintext in %u records of about 16 KiB", sc->name, mbps,
                   full->len);
    g_test_minimized_result(1000.0 / mbps, "%s: %.0f MB/s", sc->name, mbps);
    g_ptr_array_unref(full);
    conn_free(c);
}

static void test_perf(void)
{
    if (!g_test_perf()) {
        g_test_skip("throughput is measured with -m perf");
        return;
    }
    static const scenario_t perf[] = {
        TLS12("tls12-aes128gcm", "ECDHE-RSA-AES128-GCM-SHA256", 0xc02f, .ecdsa = false),
        TLS13("tls13-aes128gcm", "TLS_AES_128_GCM_SHA256", 0x1301, .ecdsa = false),
        TLS13("tls13-chacha20", "TLS_CHACHA20_POLY1305_SHA256", 0x1303, .ecdsa = false),
        TLS12("tls12-cbc-sha256", "ECDHE-RSA-AES128-SHA256", 0xc027, .no_etm = true),
    };
    for (size_t i = 0; i < G_N_ELEMENTS(perf); i++)
        perf_records(&perf[i]);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);

    rsa_key = certgen_key_rsa(2048);
    ec_key = certgen_key_ec();
    X509_NAME *name = certgen_name("CN", "CAPF-6c1a2b3d", NULL);
    certgen_spec_t spec = { .subject = name, .subject_key = rsa_key };
    rsa_cert = certgen_cert(&spec);
    spec.subject_key = ec_key;
    ec_cert = certgen_cert(&spec);
    X509_NAME_free(name);

    for (size_t i = 0; i < G_N_ELEMENTS(scenarios); i++) {
        char *path = g_strdup_printf("/tls-crypto/e2e/%s", scenarios[i].name);
        g_test_add_data_func(path, &scenarios[i], test_scenario);
        g_free(path);
    }
    for (size_t i = 0; i < G_N_ELEMENTS(wrong_key_scenarios); i++) {
        char *path = g_strdup_printf("/tls-crypto/wrong-keys/%s", wrong_key_scenarios[i].name);
        g_test_add_data_func(path, &wrong_key_scenarios[i], test_wrong_keys);
        g_free(path);
    }
    for (size_t i = 0; i < G_N_ELEMENTS(truncated_scenarios); i++) {
        char *path = g_strdup_printf("/tls-crypto/damaged/%s", truncated_scenarios[i].name);
        g_test_add_data_func(path, &truncated_scenarios[i], test_truncated);
        g_free(path);
    }
    g_test_add_func("/tls-crypto/suites", test_suites);
    g_test_add_func("/tls-crypto/rsa-premaster", test_rsa_premaster);
    g_test_add_func("/tls-crypto/cbc-padding", test_cbc_padding);
    g_test_add_func("/tls-crypto/gcm-limits", test_gcm_limits);
    g_test_add_func("/tls-crypto/perf", test_perf);

    int rc = g_test_run();
    X509_free(rsa_cert);
    X509_free(ec_cert);
    EVP_PKEY_free(rsa_key);
    EVP_PKEY_free(ec_key);
    return rc;
}
