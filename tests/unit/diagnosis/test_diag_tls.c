/* Unit tests for monitor/diag_tls.c (the TLS verdicts) and
 * monitor/trust_store.c (--trust): TLS connections are written by hand as
 * the TLS layer would leave them (hellos, Certificate messages with real
 * certificates made on the spot, alerts, the state, the close), handed to
 * the diagnosis as records, and the verdicts a sink receives are checked:
 * id, severity, device, evidence frames and facts.
 */
#include "certgen.h"
#include "monitor/diag_internal.h"
#include "monitor/diagnosis.h"
#include "monitor/tls_flow.h"
#include "monitor/trust_store.h"
#include "monitor/verdict.h"
#include "verdict_sink.h"

#include <glib.h>
#include <glib/gstdio.h>
#include <openssl/pem.h>
#include <openssl/x509_vfy.h>
#include <string.h>
#include <unistd.h>

/* Every packet is around 2025-01-01T00:00:00Z. */
#define CAPTURE_S INT64_C(1735689600)
#define DAY_S INT64_C(86400)

/* Where the messages of a connection are in its capture. */
enum {
    FRAME_CLIENT_HELLO = 4,
    FRAME_SERVER_CERT = 6,
    FRAME_CLIENT_CERT = 8,
    FRAME_ALERT = 9,
    FRAME_ESTABLISHED = 10,
    FRAME_CLOSE = 12,
    FRAME_LAST = 14,
};

/* ------------------------------------------------------------------ */
/* The test PKI, made once                                              */

typedef struct test_cert {
    X509 *x509;
    uint8_t *der;
    size_t len;
} test_cert_t;

static struct {
    EVP_PKEY *root_key, *issuing_key, *leaf_key, *capf_key, *phone_key, *other_key;
    test_cert_t root;           /* enrollmon Test Root CA, self-signed */
    test_cert_t issuing;        /* enrollmon Test Issuing CA, by the root */
    test_cert_t leaf;           /* ca.example.test (SAN ca., pki.example.test), by the issuing CA */
    test_cert_t wildcard;       /* *.example.test (CN and SAN), by the issuing CA */
    test_cert_t no_cn;          /* O=TestCorp only, SAN ca.example.test, by the issuing CA */
    test_cert_t self_signed;    /* ca.example.test, self-signed */
    test_cert_t capf;           /* CAPF-1a2b3c4d, self-signed (CUCM's own) */
    test_cert_t lsc;            /* SEP001122334455 by CAPF-9f8e7d6c */
    test_cert_t mic;            /* CP-8845-SEP74A02FC0A675 by Cisco Manufacturing CA SHA2 */
    test_cert_t client_plain;   /* ces.example.test by the issuing CA: neither LSC nor MIC */
    test_cert_t expired;        /* ca.example.test, ended 10 days before the capture */
    test_cert_t not_yet;        /* ca.example.test, begins 10 days after the capture */
    test_cert_t expiring;       /* ca.example.test, ends 10 days after the capture */
    test_cert_t issuing_expired; /* the issuing CA again, ended before the capture */
    test_cert_t lsc_expired;
    test_cert_t lsc_not_yet;
    test_cert_t lsc_expiring;
} pki;

typedef struct cert_plan {
    const char *cn;             /* NULL: no CN, O=TestCorp only */
    const char *issuer_cn;      /* NULL: self-signed */
    EVP_PKEY *key;
    EVP_PKEY *signer;           /* NULL: key */
    int64_t not_before;         /* 0: certgen's default (2019) */
    int64_t not_after;          /* 0: certgen's default (2050) */
    bool ca;
    const char *san;
    const char *serial;
} cert_plan_t;

static X509_NAME *pki_name(const char *cn)
{
    if (!cn)
        return certgen_name("O", "TestCorp", NULL);
    return certgen_name("O", "enrollmon TEST PKI", "CN", cn, NULL);
}

static test_cert_t make_cert(const cert_plan_t *plan)
{
    X509_NAME *subject = pki_name(plan->cn);
    X509_NAME *issuer = plan->issuer_cn ? pki_name(plan->issuer_cn) : NULL;
    certgen_spec_t spec = {
        .subject = subject,
        .subject_key = plan->key,
        .issuer = issuer,
        .signer = plan->signer,
        .serial_hex = plan->serial,
        .not_before = plan->not_before,
        .not_after = plan->not_after,
        .basic_constraints = plan->ca ? "critical,CA:TRUE" : NULL,
        .key_usage = plan->ca ? "critical,keyCertSign,cRLSign" : NULL,
        .subject_alt_name = plan->san,
    };
    test_cert_t c;
    c.x509 = certgen_cert(&spec);
    c.der = certgen_der(c.x509, &c.len);
    X509_NAME_free(subject);
    if (issuer)
        X509_NAME_free(issuer);
    return c;
}

/* The plan again, valid from not_before to not_after (0: certgen's
 * defaults) with its own serial. */
static test_cert_t make_cert_valid(cert_plan_t plan, int64_t not_before, int64_t not_after, const char *serial)
{
    plan.not_before = not_before;
    plan.not_after = not_after;
    plan.serial = serial;
    return make_cert(&plan);
}

/* The plan again, with another subject CN (NULL: none) and SAN. */
static test_cert_t make_cert_named(cert_plan_t plan, const char *cn, const char *san, const char *serial)
{
    plan.cn = cn;
    plan.san = san;
    plan.serial = serial;
    return make_cert(&plan);
}

static void free_cert(test_cert_t *c)
{
    X509_free(c->x509);
    g_free(c->der);
}

#define ROOT_CN "enrollmon Test Root CA"
#define ISSUING_CN "enrollmon Test Issuing CA"
#define WEB_SAN "DNS:ca.example.test,DNS:pki.example.test"

static void pki_make(void)
{
    pki.root_key = certgen_key_ec();
    pki.issuing_key = certgen_key_ec();
    pki.leaf_key = certgen_key_ec();
    pki.capf_key = certgen_key_ec();
    pki.phone_key = certgen_key_ec();
    pki.other_key = certgen_key_ec();
    pki.root = make_cert(&(cert_plan_t){ .cn = ROOT_CN, .key = pki.root_key, .ca = true, .serial = "01" });
    pki.issuing = make_cert(&(cert_plan_t){ .cn = ISSUING_CN, .issuer_cn = ROOT_CN, .key = pki.issuing_key,
                                            .signer = pki.root_key, .ca = true, .serial = "02" });
    pki.issuing_expired = make_cert(&(cert_plan_t){ .cn = ISSUING_CN, .issuer_cn = ROOT_CN,
                                                    .key = pki.issuing_key, .signer = pki.root_key,
                                                    .ca = true, .serial = "03",
                                                    .not_after = CAPTURE_S - 5 * DAY_S });
    cert_plan_t web = { .cn = "ca.example.test", .issuer_cn = ISSUING_CN, .key = pki.leaf_key,
                        .signer = pki.issuing_key, .san = WEB_SAN, .serial = "10" };
    pki.leaf = make_cert(&web);
    pki.expired = make_cert_valid(web, CAPTURE_S - 400 * DAY_S, CAPTURE_S - 10 * DAY_S, "11");
    pki.not_yet = make_cert_valid(web, CAPTURE_S + 10 * DAY_S, 0, "12");
    pki.expiring = make_cert_valid(web, 0, CAPTURE_S + 10 * DAY_S, "13");
    pki.wildcard = make_cert_named(web, "*.example.test", "DNS:*.example.test", "14");
    pki.no_cn = make_cert_named(web, NULL, "DNS:ca.example.test", "15");
    pki.client_plain = make_cert_named(web, "ces.example.test", NULL, "16");
    pki.self_signed = make_cert(&(cert_plan_t){ .cn = "ca.example.test", .key = pki.leaf_key,
                                                .san = WEB_SAN, .serial = "20" });
    pki.capf = make_cert(&(cert_plan_t){ .cn = "CAPF-1a2b3c4d", .key = pki.capf_key, .ca = true,
                                         .serial = "30" });
    cert_plan_t lsc = { .cn = "SEP001122334455", .issuer_cn = "CAPF-9f8e7d6c", .key = pki.phone_key,
                        .signer = pki.other_key, .serial = "40" };
    pki.lsc = make_cert(&lsc);
    pki.lsc_expired = make_cert_valid(lsc, 0, CAPTURE_S - DAY_S, "41");
    pki.lsc_not_yet = make_cert_valid(lsc, CAPTURE_S + DAY_S, 0, "42");
    pki.lsc_expiring = make_cert_valid(lsc, 0, CAPTURE_S + 3 * DAY_S, "43");
    pki.mic = make_cert(&(cert_plan_t){ .cn = "CP-8845-SEP74A02FC0A675",
                                        .issuer_cn = "Cisco Manufacturing CA SHA2",
                                        .key = pki.phone_key, .signer = pki.other_key, .serial = "50" });
}

static void pki_free(void)
{
    test_cert_t *all[] = { &pki.root, &pki.issuing, &pki.leaf, &pki.wildcard, &pki.no_cn,
                           &pki.self_signed, &pki.capf, &pki.lsc, &pki.mic, &pki.client_plain,
                           &pki.expired, &pki.not_yet, &pki.expiring, &pki.issuing_expired,
                           &pki.lsc_expired, &pki.lsc_not_yet, &pki.lsc_expiring };
    for (size_t i = 0; i < G_N_ELEMENTS(all); i++)
        free_cert(all[i]);
    EVP_PKEY *keys[] = { pki.root_key, pki.issuing_key, pki.leaf_key, pki.capf_key, pki.phone_key,
                         pki.other_key };
    for (size_t i = 0; i < G_N_ELEMENTS(keys); i++)
        EVP_PKEY_free(keys[i]);
}

static char *pem_of(const test_cert_t *c)
{
    BIO *bio = BIO_new(BIO_s_mem());
    g_assert_cmpint(PEM_write_bio_X509(bio, c->x509), ==, 1);
    char *data;
    long n = BIO_get_mem_data(bio, &data);
    char *text = g_strndup(data, (gsize)n);
    BIO_free(bio);
    return text;
}

/* ------------------------------------------------------------------ */
/* The diagnosis fixture, with a certificate cache and --trust         */

typedef struct fixture {
    diag_fixture_t diag;
    trust_store_t *trust;
    uint64_t next_flow_id;
} fixture_t;

static void fixture_init(fixture_t *f)
{
    memset(f, 0, sizeof(*f));
    diag_fixture_prepare(&f->diag, 64u << 20, 1u << 20);
    f->diag.a.capf_port = 3804;
    f->diag.a.certs = cert_cache_new(f->diag.a.patterns, 64);
    cert_cache_set_memcap(f->diag.a.certs, &f->diag.a.memcap);
    diag_fixture_start(&f->diag);
    f->next_flow_id = 1;
}

/* Trust the web root (as --trust would). */
static void fixture_trust_root(fixture_t *f)
{
    char *dir = g_dir_make_tmp("diag-tls-XXXXXX", NULL);
    g_assert_nonnull(dir);
    char *path = g_build_filename(dir, "root.pem", NULL);
    char *pem = pem_of(&pki.root);
    g_assert_true(g_file_set_contents(path, pem, -1, NULL));
    GError *error = NULL;
    f->trust = trust_store_load(path, &error);
    g_assert_no_error(error);
    g_assert_nonnull(f->trust);
    f->diag.a.trust = f->trust;
    g_unlink(path);
    g_rmdir(dir);
    g_free(pem);
    g_free(path);
    g_free(dir);
}

static void fixture_destroy(fixture_t *f)
{
    diag_fixture_stop(&f->diag);
    cert_cache_free(f->diag.a.certs);
    trust_store_free(f->trust);
    diag_fixture_destroy(&f->diag, NULL);
}

static void assert_verdict(const verdict_t *v, verdict_id_t id, verdict_severity_t severity,
                           const char *device, bool device_is_address)
{
    verdict_assert_is(v, id, severity, device, device_is_address);
    g_assert_false(v->update);
    g_assert_false(v->inferred);
    g_assert_cmpstr(v->client, ==, "10.1.1.20");
    g_assert_cmpuint(strlen(v->summary), >, 0);
}

/* ------------------------------------------------------------------ */
/* A TLS connection, written as the TLS layer leaves it                 */

typedef struct conn {
    fixture_t *f;
    flow_t *flow;
    tls_conn_t *tls;
} conn_t;

static packet_info_t frame_at(uint64_t frame, int64_t extra_us)
{
    packet_info_t at = { CAPTURE_S * G_USEC_PER_SEC + (int64_t)frame * 1000 + extra_us, "unit.pcapng",
                         frame };
    return at;
}

/* Hands the record over as tls_flow.c does when something changed. */
static void conn_emit(conn_t *c, uint64_t frame)
{
    packet_info_t at = frame_at(frame, 0);
    analysis_emit_tls(&c->f->diag.a, c->flow, c->tls, &at, true, false);
}

/* The phone (or CES) 10.1.1.20 to 10.1.1.5:port; sni NULL: none sent. */
static conn_t conn_open(fixture_t *f, uint16_t server_port, const char *sni)
{
    flow_fixture_spec_t spec = {
        .id = f->next_flow_id++,
        .proto = IPPROTO_NUM_TCP,
        .client_ip = { 10, 1, 1, 20 },
        .client_port = 51562,
        .server_ip = { 10, 1, 1, 5 },
        .server_port = server_port,
    };
    conn_t c = { f, flow_fixture_flow_new(&spec), g_new0(tls_conn_t, 1) };
    tls_conn_t *tls = c.tls;
    tls->client_dir = DIR_TO_SERVER;
    tls->roles_known = true;
    tls->client_hello_seen = true;
    tls->client_hello_at = frame_at(FRAME_CLIENT_HELLO, 0);
    tls->server_hello_seen = true;
    tls->server_hello_at = frame_at(FRAME_CLIENT_HELLO + 1, 0);
    tls->version = 0x0303;
    tls->on_capf_port = server_port == f->diag.a.capf_port;
    tls->cert_messages = g_array_new(FALSE, TRUE, sizeof(tls_cert_message_t));
    tls->alerts = g_array_new(FALSE, TRUE, sizeof(tls_alert_seen_t));
    if (sni) {
        tls->has_sni = true;
        g_strlcpy(tls->sni, sni, sizeof(tls->sni));
    }
    conn_emit(&c, FRAME_CLIENT_HELLO);
    return c;
}

/* A Certificate message with the certificates given (NULL-terminated);
 * the server's chain is verified against the fixture's trust store the
 * way tls_flow.c does. */
/* from_client is an int, not a bool: the parameter before "..." must keep
 * its type under default argument promotion (C11 7.16.1.4). */
static void conn_certs(conn_t *c, int from_client, ...)
{
    uint64_t frame = from_client ? FRAME_CLIENT_CERT : FRAME_SERVER_CERT;
    tls_cert_message_t msg;
    memset(&msg, 0, sizeof(msg));
    msg.from_dir = from_client ? DIR_TO_SERVER : DIR_TO_CLIENT;
    msg.at = frame_at(frame, 0);
    msg.certs = g_ptr_array_new();
    byte_span_t ders[TLS_MAX_CERTS];
    va_list ap;
    va_start(ap, from_client);
    for (const test_cert_t *cert = va_arg(ap, const test_cert_t *); cert;
         cert = va_arg(ap, const test_cert_t *)) {
        g_assert_cmpuint(msg.count, <, TLS_MAX_CERTS);
        byte_span_t der = { cert->der, cert->len };
        ders[msg.count++] = der;
        cert_ref_t *ref = cert_cache_get(c->f->diag.a.certs, der);
        g_assert_nonnull(ref);
        g_ptr_array_add(msg.certs, ref);
    }
    va_end(ap);
    if (c->f->diag.a.trust && !from_client && msg.count)
        trust_store_verify(c->f->diag.a.trust, ders, msg.count, msg.at.ts_us / G_USEC_PER_SEC, &msg.trust);
    g_array_append_val(c->tls->cert_messages, msg);
    conn_emit(c, frame);
}

static void conn_alert(conn_t *c, bool from_client, uint8_t level, uint8_t description)
{
    tls_alert_seen_t alert = { from_client ? DIR_TO_SERVER : DIR_TO_CLIENT, false, false, level,
                               description, frame_at(FRAME_ALERT, 0) };
    g_array_append_val(c->tls->alerts, alert);
    if (level == 2 && c->tls->state == TLS_STATE_HANDSHAKE)
        c->tls->state = TLS_STATE_FAILED;
    conn_emit(c, FRAME_ALERT);
}

/* Both sides switched to encrypted records (late_us after the usual
 * frame time); the client sent this many application-data records. */
static void conn_established_late(conn_t *c, uint64_t client_records, int64_t late_us)
{
    c->tls->encrypted[0] = c->tls->encrypted[1] = true;
    c->tls->state = TLS_STATE_ESTABLISHED;
    c->tls->application_records[DIR_TO_SERVER] = client_records;
    packet_info_t at = frame_at(FRAME_ESTABLISHED, late_us);
    analysis_emit_tls(&c->f->diag.a, c->flow, c->tls, &at, true, false);
}

static void conn_established(conn_t *c, uint64_t client_records)
{
    conn_established_late(c, client_records, 0);
}

/* The first FIN (or RST), after_us after the handshake's end. */
static void conn_close(conn_t *c, bool by_client, int64_t after_us)
{
    c->flow->closed_by = by_client ? DIR_TO_SERVER : DIR_TO_CLIENT;
    c->flow->closed_at = frame_at(FRAME_CLOSE, after_us);
}

/* The end of the connection: the last record, then the flow's end. */
static void conn_end(conn_t *c)
{
    tls_conn_t *tls = c->tls;
    if (tls->state == TLS_STATE_HANDSHAKE)
        tls->state = TLS_STATE_INCOMPLETE;
    c->flow->last_packet = frame_at(FRAME_LAST, c->flow->closed_by >= 0 ? c->flow->closed_at.ts_us -
                                                                          frame_at(FRAME_CLOSE, 0).ts_us
                                                                        : 0);
    analysis_emit_tls(&c->f->diag.a, c->flow, tls, &c->flow->last_packet, false, true);
    analysis_emit_flow_end(&c->f->diag.a, c->flow, FLOW_END_CLOSED);
    for (guint i = 0; i < tls->cert_messages->len; i++) {
        tls_cert_message_t *m = &g_array_index(tls->cert_messages, tls_cert_message_t, i);
        for (guint k = 0; k < m->certs->len; k++)
            cert_ref_unref(g_ptr_array_index(m->certs, k));
        g_ptr_array_free(m->certs, TRUE);
    }
    g_array_free(tls->cert_messages, TRUE);
    g_array_free(tls->alerts, TRUE);
    g_free(tls);
    g_free(c->flow);
}

#define FATAL 2
#define CHAIN(...) { __VA_ARGS__ }

/* A connection whose handshake completed: both sides switched to
 * encrypted records. */
typedef struct session {
    uint16_t port;
    const char *sni;
    const test_cert_t *chain[2];    /* the server's certificates (NULL: none seen) */
    const test_cert_t *client_cert; /* NULL: none */
    uint64_t client_records;        /* application-data records from the client */
    bool client_closes;             /* 1 ms after the handshake; else open at the end */
    bool tls13;
    /* TLS 1.3 with keys: records decrypted each way, and the client's
     * application data among them */
    uint64_t decrypted_to_server, decrypted_to_client, plaintext_to_server;
} session_t;

static void session_run(fixture_t *f, const session_t *s)
{
    conn_t c = conn_open(f, s->port, s->sni);
    c.tls->tls13 = s->tls13;
    if (s->chain[0])
        conn_certs(&c, false, s->chain[0], s->chain[1], NULL);
    if (s->client_cert)
        conn_certs(&c, true, s->client_cert, NULL);
    c.tls->decrypt.records[DIR_TO_SERVER] = s->decrypted_to_server;
    c.tls->decrypt.records[DIR_TO_CLIENT] = s->decrypted_to_client;
    c.tls->plaintext_application_records[DIR_TO_SERVER] = s->plaintext_to_server;
    conn_established(&c, s->client_records);
    if (s->client_closes)
        conn_close(&c, true, 1000);
    conn_end(&c);
}

/* A connection to port whose server (CAPF's certificate) refuses the
 * client's certificate with a fatal alert. */
static conn_t client_cert_refused(fixture_t *f, uint16_t port, const test_cert_t *client_cert, uint8_t alert)
{
    conn_t c = conn_open(f, port, NULL);
    conn_certs(&c, false, &pki.capf, NULL);
    conn_certs(&c, true, client_cert, NULL);
    conn_alert(&c, false, FATAL, alert);
    return c;
}

/* ------------------------------------------------------------------ */
/* Trust store                                                          */

typedef struct tmpdir {
    char *path;
} tmpdir_t;

static tmpdir_t tmpdir_new(void)
{
    tmpdir_t t = { g_dir_make_tmp("trust-XXXXXX", NULL) };
    g_assert_nonnull(t.path);
    return t;
}

static char *tmpdir_write(tmpdir_t *t, const char *name, const char *text, gssize len)
{
    char *path = g_build_filename(t->path, name, NULL);
    g_assert_true(g_file_set_contents(path, text, len, NULL));
    return path;
}

static void tmpdir_remove(tmpdir_t *t)
{
    GDir *dir = g_dir_open(t->path, 0, NULL);
    const char *name;
    while (dir && (name = g_dir_read_name(dir)) != NULL) {
        char *p = g_build_filename(t->path, name, NULL);
        g_unlink(p);
        g_free(p);
    }
    if (dir)
        g_dir_close(dir);
    g_rmdir(t->path);
    g_free(t->path);
}

static trust_store_t *load_ok(const char *path)
{
    GError *error = NULL;
    trust_store_t *ts = trust_store_load(path, &error);
    g_assert_no_error(error);
    g_assert_nonnull(ts);
    return ts;
}

/* A load that must fail, with one line naming the path and the problem. */
static void load_fails(const char *path, const char *problem)
{
    GError *error = NULL;
    trust_store_t *ts = trust_store_load(path, &error);
    g_assert_null(ts);
    g_assert_nonnull(error);
    g_assert_nonnull(strstr(error->message, path));
    g_assert_nonnull(strstr(error->message, problem));
    g_assert_null(strchr(error->message, '\n'));
    g_error_free(error);
}

static bool verify(const trust_store_t *ts, int64_t at_s, trust_verify_result_t *out, ...)
{
    byte_span_t ders[8];
    unsigned n = 0;
    va_list ap;
    va_start(ap, out);
    for (const test_cert_t *c = va_arg(ap, const test_cert_t *); c; c = va_arg(ap, const test_cert_t *)) {
        byte_span_t der = { c->der, c->len };
        ders[n++] = der;
    }
    va_end(ap);
    return trust_store_verify(ts, ders, n, at_s, out);
}

static void test_trust_file_verifies(void)
{
    tmpdir_t t = tmpdir_new();
    /* two certificates in one file, text around them as in a bundle */
    char *root = pem_of(&pki.root), *capf = pem_of(&pki.capf);
    char *bundle = g_strdup_printf("# bundle\n%s\nsome words\n%s", root, capf);
    char *path = tmpdir_write(&t, "bundle.pem", bundle, -1);
    trust_store_t *ts = load_ok(path);
    g_assert_cmpuint(trust_store_count(ts), ==, 2);

    trust_verify_result_t r;
    g_assert_true(verify(ts, CAPTURE_S, &r, &pki.leaf, &pki.issuing, NULL));
    g_assert_true(r.checked);
    g_assert_true(r.ok);
    g_assert_cmpint(r.first.code, ==, X509_V_OK);
    g_assert_null(r.first.text);
    g_assert_cmpint(r.chain.code, ==, X509_V_OK);
    g_assert_cmpint(r.time.code, ==, X509_V_OK);

    /* the trusted self-signed CAPF certificate alone */
    g_assert_true(verify(ts, CAPTURE_S, &r, &pki.capf, NULL));

    /* the intermediate missing: the chain, not time */
    g_assert_false(verify(ts, CAPTURE_S, &r, &pki.leaf, NULL));
    g_assert_true(r.checked);
    g_assert_false(r.ok);
    g_assert_cmpint(r.chain.code, ==, X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);
    g_assert_cmpint(r.chain.depth, ==, 0);
    g_assert_cmpstr(r.chain.text, ==, X509_verify_cert_error_string(r.chain.code));
    g_assert_cmpint(r.time.code, ==, X509_V_OK);
    g_assert_cmpint(r.first.code, ==, r.chain.code);

    /* a self-signed leaf nobody trusts */
    g_assert_false(verify(ts, CAPTURE_S, &r, &pki.self_signed, NULL));
    g_assert_cmpint(r.chain.code, ==, X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT);
    g_assert_cmpint(r.time.code, ==, X509_V_OK);

    /* bytes that are not a certificate */
    static const uint8_t junk[] = { 0x30, 0x03, 0x02, 0x01, 0x05 };
    byte_span_t bad = { junk, sizeof(junk) };
    g_assert_false(trust_store_verify(ts, &bad, 1, CAPTURE_S, &r));
    g_assert_false(r.checked);

    trust_store_free(ts);
    g_free(path);
    g_free(bundle);
    g_free(root);
    g_free(capf);
    tmpdir_remove(&t);
}

/* Time problems are told apart from chain problems, also when both are
 * there, and the time is the capture's, not the clock's. */
static void test_trust_time(void)
{
    tmpdir_t t = tmpdir_new();
    char *root = pem_of(&pki.root);
    char *path = tmpdir_write(&t, "root.pem", root, -1);
    trust_store_t *ts = load_ok(path);
    trust_verify_result_t r;

    g_assert_false(verify(ts, CAPTURE_S, &r, &pki.expired, &pki.issuing, NULL));
    g_assert_cmpint(r.time.code, ==, X509_V_ERR_CERT_HAS_EXPIRED);
    g_assert_cmpint(r.time.depth, ==, 0);
    g_assert_cmpint(r.chain.code, ==, X509_V_OK);
    g_assert_true(trust_error_is_time(r.first.code));

    g_assert_false(verify(ts, CAPTURE_S, &r, &pki.not_yet, &pki.issuing, NULL));
    g_assert_cmpint(r.time.code, ==, X509_V_ERR_CERT_NOT_YET_VALID);
    g_assert_cmpint(r.chain.code, ==, X509_V_OK);

    /* an expired intermediate: depth 1 */
    g_assert_false(verify(ts, CAPTURE_S, &r, &pki.leaf, &pki.issuing_expired, NULL));
    g_assert_cmpint(r.time.code, ==, X509_V_ERR_CERT_HAS_EXPIRED);
    g_assert_cmpint(r.time.depth, ==, 1);

    /* expired and incomplete: both are reported */
    g_assert_false(verify(ts, CAPTURE_S, &r, &pki.expired, NULL));
    g_assert_cmpint(r.chain.code, ==, X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);
    g_assert_cmpint(r.time.code, ==, X509_V_ERR_CERT_HAS_EXPIRED);

    /* the same expired certificate, at a time it was valid */
    g_assert_true(verify(ts, CAPTURE_S - 100 * DAY_S, &r, &pki.expired, &pki.issuing, NULL));
    g_assert_false(trust_error_is_time(X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT));

    trust_store_free(ts);
    g_free(path);
    g_free(root);
    tmpdir_remove(&t);
}

/* A directory: every *.pem, *.crt, *.cer (PEM, or a single DER), in any
 * case; other files and certificate-less PEM files are passed over. */
static void test_trust_directory(void)
{
    tmpdir_t t = tmpdir_new();
    char *root = pem_of(&pki.root), *issuing = pem_of(&pki.issuing);
    g_free(tmpdir_write(&t, "root.pem", root, -1));
    g_free(tmpdir_write(&t, "issuing.CRT", issuing, -1));
    g_free(tmpdir_write(&t, "capf.cer", (const char *)pki.capf.der, (gssize)pki.capf.len));
    g_free(tmpdir_write(&t, "mic.txt", issuing, -1)); /* not a certificate file name */
    EVP_PKEY *key = pki.other_key;
    BIO *bio = BIO_new(BIO_s_mem());
    g_assert_cmpint(PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL), ==, 1);
    char *data;
    long n = BIO_get_mem_data(bio, &data);
    g_free(tmpdir_write(&t, "server-key.pem", data, n));
    BIO_free(bio);

    trust_store_t *ts = load_ok(t.path);
    g_assert_cmpuint(trust_store_count(ts), ==, 3);
    trust_verify_result_t r;
    /* the issuing CA from the directory completes the chain */
    g_assert_true(verify(ts, CAPTURE_S, &r, &pki.leaf, NULL));
    g_assert_true(verify(ts, CAPTURE_S, &r, &pki.capf, NULL));
    trust_store_free(ts);

    /* a store with the issuing CA and not its root (as CAPF-trust may be)
     * is enough for the chains that CA issued */
    char *alone = tmpdir_write(&t, "issuing-only.pem", issuing, -1);
    ts = load_ok(alone);
    g_assert_cmpuint(trust_store_count(ts), ==, 1);
    g_assert_true(verify(ts, CAPTURE_S, &r, &pki.leaf, NULL));
    g_assert_false(verify(ts, CAPTURE_S, &r, &pki.self_signed, NULL));
    trust_store_free(ts);
    g_free(alone);
    g_free(root);
    g_free(issuing);
    tmpdir_remove(&t);
}

static void test_trust_errors(void)
{
    tmpdir_t t = tmpdir_new();
    char *missing = g_build_filename(t.path, "missing.pem", NULL);
    load_fails(missing, "no such file");

    char *empty = tmpdir_write(&t, "empty.pem", "", 0);
    load_fails(empty, "no certificate");
    char *text = tmpdir_write(&t, "notes.pem", "not a certificate\n", -1);
    load_fails(text, "no certificate");
    char *damaged = tmpdir_write(&t, "damaged.pem",
                                 "-----BEGIN CERTIFICATE-----\n!!!! not base64 !!!!\n"
                                 "-----END CERTIFICATE-----\n", -1);
    load_fails(damaged, "does not decode");
    load_fails(t.path, "does not decode"); /* the damaged file spoils the directory */
    g_unlink(damaged);
    load_fails(t.path, "no certificate in any");

    /* a certificate file of the directory that cannot be read */
    char *root = pem_of(&pki.root);
    g_free(tmpdir_write(&t, "root.pem", root, -1));
    char *dangling = g_build_filename(t.path, "gone.crt", NULL);
    g_assert_cmpint(symlink(missing, dangling), ==, 0);
    load_fails(t.path, dangling);
    g_unlink(dangling);
    trust_store_t *ts = load_ok(t.path);
    g_assert_cmpuint(trust_store_count(ts), ==, 1);
    trust_store_free(ts);

    if (geteuid() != 0) { /* root reads whatever the mode says */
        char *locked = g_build_filename(t.path, "root.pem", NULL);
        g_assert_cmpint(g_chmod(locked, 0), ==, 0);
        load_fails(locked, "denied");
        g_free(locked);
    }
    g_free(root);
    g_free(dangling);
    g_free(missing);
    g_free(empty);
    g_free(text);
    g_free(damaged);
    tmpdir_remove(&t);
}

/* ------------------------------------------------------------------ */
/* The server refuses the client's certificate                          */

static void test_lsc_unknown_ca(void)
{
    fixture_t f;
    fixture_init(&f);
    conn_t c = client_cert_refused(&f, 3804, &pki.lsc, 48);
    g_assert_cmpuint(verdict_count(f.diag.sink), ==, 0); /* judged at the end, with the close */
    conn_close(&c, false, 0);
    conn_end(&c);
    const verdict_t *v = verdict_only(f.diag.sink);
    assert_verdict(v, V_LSC_CA_UNTRUSTED, VERDICT_ERROR, "SEP001122334455", false);
    static const uint64_t frames[] = { FRAME_CLIENT_HELLO, FRAME_SERVER_CERT, FRAME_CLIENT_CERT,
                                       FRAME_ALERT, FRAME_CLOSE };
    verdict_assert_evidence(v, frames, G_N_ELEMENTS(frames));
    g_assert_cmpstr(v->server, ==, "10.1.1.5:3804");
    g_assert_cmpstr(verdict_text_fact(v, "alert"), ==, "unknown_ca");
    g_assert_cmpstr(verdict_text_fact(v, "issuer"), ==, "O=enrollmon TEST PKI, CN=CAPF-9f8e7d6c");
    g_assert_cmpstr(verdict_text_fact(v, "subject"), ==, "O=enrollmon TEST PKI, CN=SEP001122334455");
    g_assert_nonnull(strstr(v->summary, "CAPF-9f8e7d6c"));
    g_assert_nonnull(strstr(v->summary, "SEP001122334455"));
    g_assert_cmpuint(v->at.pcap_cnt, ==, FRAME_CLOSE);
    fixture_destroy(&f);
}

/* A MIC's CN names the model first: the device is its SEP name. */
static void test_mic_unknown_ca(void)
{
    fixture_t f;
    fixture_init(&f);
    conn_t c = client_cert_refused(&f, 5061, &pki.mic, 48);
    conn_end(&c); /* no close seen: still open at the end of the capture */
    const verdict_t *v = verdict_only(f.diag.sink);
    assert_verdict(v, V_MIC_CA_UNTRUSTED, VERDICT_ERROR, "SEP74A02FC0A675", false);
    static const uint64_t frames[] = { FRAME_CLIENT_HELLO, FRAME_SERVER_CERT, FRAME_CLIENT_CERT,
                                       FRAME_ALERT };
    verdict_assert_evidence(v, frames, G_N_ELEMENTS(frames));
    g_assert_nonnull(strstr(v->summary, "Cisco Manufacturing CA SHA2"));
    g_assert_cmpuint(v->at.pcap_cnt, ==, FRAME_ALERT);
    fixture_destroy(&f);
}

static void test_client_cert_time(void)
{
    static const struct {
        const test_cert_t *cert;
        uint8_t alert;
        verdict_id_t expected; /* V_COUNT: none */
    } cases[] = {
        { &pki.lsc_expired, 45, V_CERT_EXPIRED },
        { &pki.lsc_not_yet, 42, V_CERT_NOT_YET_VALID },
        { &pki.lsc_expired, 42, V_CERT_EXPIRED },
        { &pki.lsc_expired, 40, V_COUNT },   /* handshake_failure names no certificate cause */
        { &pki.lsc, 45, V_COUNT },           /* the certificate is valid: the alert alone says nothing */
        { &pki.client_plain, 48, V_COUNT },  /* neither LSC nor MIC */
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        fixture_t f;
        fixture_init(&f);
        conn_t c = client_cert_refused(&f, 2443, cases[i].cert, cases[i].alert);
        conn_close(&c, false, 0);
        conn_end(&c);
        if (cases[i].expected == V_COUNT) {
            g_assert_cmpuint(verdict_count(f.diag.sink), ==, 0);
        } else {
            const verdict_t *v = verdict_only(f.diag.sink);
            assert_verdict(v, cases[i].expected, VERDICT_ERROR, "SEP001122334455", false);
            g_assert_nonnull(verdict_text_fact(v, "not_after"));
            g_assert_nonnull(strstr(v->summary, "10.1.1.5:2443 refused the client certificate"));
        }
        fixture_destroy(&f);
    }
}

/* ------------------------------------------------------------------ */
/* The client refuses the server's certificate                          */

static void test_capf_server_cert_rejected(void)
{
    fixture_t f;
    fixture_init(&f);
    conn_t c = conn_open(&f, 3804, NULL);
    conn_certs(&c, false, &pki.capf, NULL);
    conn_alert(&c, true, FATAL, 48);
    conn_close(&c, true, 0);
    conn_end(&c);
    const verdict_t *v = verdict_only(f.diag.sink);
    /* before any certificate of its own, the phone is its address */
    assert_verdict(v, V_CAPF_SERVER_CERT_REJECTED, VERDICT_ERROR, "10.1.1.20", true);
    static const uint64_t frames[] = { FRAME_CLIENT_HELLO, FRAME_SERVER_CERT, FRAME_ALERT, FRAME_CLOSE };
    verdict_assert_evidence(v, frames, G_N_ELEMENTS(frames));
    g_assert_cmpstr(verdict_text_fact(v, "subject"), ==, "O=enrollmon TEST PKI, CN=CAPF-1a2b3c4d");
    g_assert_nonnull(strstr(v->summary, "CAPF-1a2b3c4d"));

    /* the phone retries: the same problem, counted */
    conn_t again = conn_open(&f, 3804, NULL);
    conn_certs(&again, false, &pki.capf, NULL);
    conn_alert(&again, true, FATAL, 51); /* decrypt_error */
    conn_end(&again);
    g_assert_cmpuint(verdict_count(f.diag.sink), ==, 2);
    g_assert_true(verdict_nth(f.diag.sink, 1)->update);
    g_assert_cmpuint(verdict_nth(f.diag.sink, 1)->count, ==, 2);
    fixture_destroy(&f);
}

typedef struct refusal_case {
    const char *name;
    uint16_t port;
    const char *sni;
    const test_cert_t *chain[3];
    uint8_t alert;              /* 0: the client closes without data instead */
    bool trust;                 /* --trust the web root */
    verdict_id_t expected;      /* V_COUNT: no verdict */
    const char *fact_key;       /* a fact to check, or NULL */
    const char *fact_value;
} refusal_case_t;

static void run_refusal(const refusal_case_t *rc)
{
    fixture_t f;
    fixture_init(&f);
    if (rc->trust)
        fixture_trust_root(&f);
    conn_t c = conn_open(&f, rc->port, rc->sni);
    conn_certs(&c, false, rc->chain[0], rc->chain[1], rc->chain[2], NULL);
    if (rc->alert) {
        conn_alert(&c, true, FATAL, rc->alert);
        conn_close(&c, true, 0);
    } else {
        conn_established(&c, 0);
        conn_close(&c, true, 2000); /* 2 ms after the handshake */
    }
    conn_end(&c);
    if (rc->expected == V_COUNT) {
        if (verdict_count(f.diag.sink))
            g_test_message("%s: unexpected %s: %s", rc->name, verdict_kind(verdict_nth(f.diag.sink, 0)->id)->id,
                           verdict_nth(f.diag.sink, 0)->summary);
        g_assert_cmpuint(verdict_count(f.diag.sink), ==, 0);
    } else {
        const verdict_t *v = verdict_only(f.diag.sink);
        if (v->id != rc->expected)
            g_test_message("%s: got %s: %s", rc->name, verdict_kind(v->id)->id, v->summary);
        assert_verdict(v, rc->expected, VERDICT_ERROR, "10.1.1.20", true);
        uint64_t frames[] = { FRAME_CLIENT_HELLO, FRAME_SERVER_CERT, rc->alert ? FRAME_ALERT : FRAME_CLOSE,
                              FRAME_CLOSE };
        verdict_assert_evidence(v, frames, rc->alert ? 4 : 3);
        g_assert_cmpstr(verdict_text_fact(v, "alert"), ==,
                        rc->alert ? tls_alert_description_name(rc->alert)
                                  : "none (closed without sending data)");
        if (rc->sni)
            g_assert_cmpstr(verdict_text_fact(v, "sni"), ==, rc->sni);
        if (rc->fact_key)
            g_assert_cmpstr(verdict_text_fact(v, rc->fact_key), ==, rc->fact_value);
        if (rc->trust && rc->fact_key && strcmp(rc->fact_key, "verify_error") == 0)
            g_assert_true(verdict_has_number_fact(v, "verify_depth", 0));
    }
    fixture_destroy(&f);
}

static const refusal_case_t refusals[] = {
    { "expired leaf", 443, "ca.example.test", CHAIN(&pki.expired, &pki.issuing), 45, false,
      V_CERT_EXPIRED, "subject", "O=enrollmon TEST PKI, CN=ca.example.test" },
    { "not yet valid leaf", 443, "ca.example.test", CHAIN(&pki.not_yet, &pki.issuing), 42, false,
      V_CERT_NOT_YET_VALID, NULL, NULL },
    { "expired leaf, closed", 443, "ca.example.test", CHAIN(&pki.expired, &pki.issuing), 0, false,
      V_CERT_EXPIRED, NULL, NULL },
    { "expired intermediate", 443, "ca.example.test", CHAIN(&pki.leaf, &pki.issuing_expired), 45,
      false, V_CERT_EXPIRED, "subject", "O=enrollmon TEST PKI, CN=" ISSUING_CN },
    { "expired intermediate, other alert", 443, "ca.example.test",
      CHAIN(&pki.leaf, &pki.issuing_expired, &pki.root), 46, false, V_COUNT, NULL, NULL },
    { "self-signed", 443, "ca.example.test", CHAIN(&pki.self_signed), 48, false,
      V_SERVER_CERT_SELF_SIGNED, NULL, NULL },
    { "self-signed, closed", 443, "ca.example.test", CHAIN(&pki.self_signed), 0, false,
      V_SERVER_CERT_SELF_SIGNED, NULL, NULL },
    { "name mismatch", 443, "ca2.example.test", CHAIN(&pki.leaf, &pki.issuing), 42, false,
      V_SERVER_NAME_MISMATCH, "sni", "ca2.example.test" },
    { "name mismatch, closed", 443, "ca2.example.test", CHAIN(&pki.leaf, &pki.issuing), 0, false,
      V_SERVER_NAME_MISMATCH, NULL, NULL },
    { "wildcard too deep", 443, "a.b.example.test", CHAIN(&pki.wildcard, &pki.issuing), 42, false,
      V_SERVER_NAME_MISMATCH, NULL, NULL },
    { "wildcard not the bare domain", 443, "example.test", CHAIN(&pki.wildcard, &pki.issuing), 42,
      false, V_SERVER_NAME_MISMATCH, NULL, NULL },
    /* names that match: the cause lies elsewhere (here the chain) */
    { "wildcard, any case", 443, "CA.Example.TEST.", CHAIN(&pki.wildcard, &pki.issuing, &pki.root),
      48, false, V_CA_CHAIN_UNTRUSTED, NULL, NULL },
    { "SAN name", 443, "pki.example.test", CHAIN(&pki.leaf, &pki.issuing, &pki.root), 48, false,
      V_CA_CHAIN_UNTRUSTED, NULL, NULL },
    { "SAN of a certificate without CN", 443, "ca.example.test", CHAIN(&pki.no_cn, &pki.issuing),
      48, false, V_CA_CHAIN_UNTRUSTED, NULL, NULL },
    /* without --trust: an incomplete chain and unknown_ca or a close */
    { "incomplete chain", 443, "ca.example.test", CHAIN(&pki.leaf), 48, false, V_CA_CHAIN_UNTRUSTED,
      "issuer", "O=enrollmon TEST PKI, CN=" ISSUING_CN },
    { "incomplete chain, closed", 443, "ca.example.test", CHAIN(&pki.leaf, &pki.issuing), 0, false,
      V_CA_CHAIN_UNTRUSTED, NULL, NULL },
    { "complete chain, closed", 443, "ca.example.test", CHAIN(&pki.leaf, &pki.issuing, &pki.root), 0,
      false, V_COUNT, NULL, NULL },
    { "incomplete chain, certificate_unknown", 443, "ca.example.test", CHAIN(&pki.leaf), 46, false,
      V_COUNT, NULL, NULL },
    /* with --trust */
    { "not trusted here", 443, "ca.example.test", CHAIN(&pki.leaf), 46, true, V_CA_CHAIN_UNTRUSTED,
      "verify_error", "unable to get local issuer certificate" },
    { "not trusted here, closed", 443, "ca.example.test", CHAIN(&pki.leaf), 0, true,
      V_CA_CHAIN_UNTRUSTED, "verify_error", "unable to get local issuer certificate" },
    { "trusted here, the client lacks the root", 443, "ca.example.test",
      CHAIN(&pki.leaf, &pki.issuing), 48, true, V_CA_CHAIN_UNTRUSTED, NULL, NULL },
    { "trusted here, certificate_unknown", 443, "ca.example.test", CHAIN(&pki.leaf, &pki.issuing),
      46, true, V_COUNT, NULL, NULL },
    { "trusted here, closed", 443, "ca.example.test", CHAIN(&pki.leaf, &pki.issuing), 0, true,
      V_COUNT, NULL, NULL },
    /* alerts about the negotiation name no certificate */
    { "handshake_failure", 443, "ca.example.test", CHAIN(&pki.self_signed), 40, false, V_COUNT,
      NULL, NULL },
    { "protocol_version", 443, "ca.example.test", CHAIN(&pki.leaf), 70, false, V_COUNT, NULL, NULL },
    /* no SNI: no name to check */
    { "no SNI, self-signed first", 8443, NULL, CHAIN(&pki.self_signed), 48, false,
      V_SERVER_CERT_SELF_SIGNED, NULL, NULL },
};

static void test_client_refusals(void)
{
    for (size_t i = 0; i < G_N_ELEMENTS(refusals); i++) {
        const bool failed_before = g_test_failed();
        run_refusal(&refusals[i]);
        if (!failed_before && g_test_failed())
            g_test_message("case: %s", refusals[i].name);
    }
}

/* Order of the causes: CAPF's port first, then time, then self-signed. */
static void test_refusal_order(void)
{
    static const struct {
        uint16_t port;
        const char *sni;
        const test_cert_t *chain[2];
        uint8_t alert;
        verdict_id_t expected;
    } cases[] = {
        /* on the CAPF port, an expired self-signed certificate is still CAPF's */
        { 3804, "capf.example.test", CHAIN(&pki.expired), 45, V_CAPF_SERVER_CERT_REJECTED },
        /* expired and misnamed: the time */
        { 443, "other.example.test", CHAIN(&pki.expired, &pki.issuing), 42, V_CERT_EXPIRED },
        /* self-signed and misnamed: self-signed */
        { 443, "other.example.test", CHAIN(&pki.self_signed), 48, V_SERVER_CERT_SELF_SIGNED },
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        fixture_t f;
        fixture_init(&f);
        conn_t c = conn_open(&f, cases[i].port, cases[i].sni);
        conn_certs(&c, false, cases[i].chain[0], cases[i].chain[1], NULL);
        conn_alert(&c, true, FATAL, cases[i].alert);
        conn_end(&c);
        assert_verdict(verdict_only(f.diag.sink), cases[i].expected, VERDICT_ERROR, "10.1.1.20", true);
        fixture_destroy(&f);
    }
}

/* A close is a refusal only right after the handshake, by the client. */
static void test_close_not_refusal(void)
{
    static const struct {
        bool established;
        int close_by; /* DIR_TO_SERVER: the client, DIR_TO_CLIENT: the server, -1: no close */
        int64_t after_us;
    } quiet[] = {
        { true, DIR_TO_SERVER, 3 * G_USEC_PER_SEC }, /* an idle connection given up */
        { true, DIR_TO_CLIENT, 1000 },               /* the server closed */
        { true, -1, 0 },                             /* still open when the capture ended */
        { false, DIR_TO_SERVER, 1000 },              /* the handshake never completed */
    };
    fixture_t f;
    fixture_init(&f);
    for (size_t i = 0; i < G_N_ELEMENTS(quiet); i++) {
        conn_t c = conn_open(&f, 443, "ca.example.test");
        conn_certs(&c, false, &pki.self_signed, NULL);
        if (quiet[i].established)
            conn_established(&c, 0);
        if (quiet[i].close_by >= 0)
            conn_close(&c, quiet[i].close_by == DIR_TO_SERVER, quiet[i].after_us);
        conn_end(&c);
    }
    g_assert_cmpuint(verdict_count(f.diag.sink), ==, 0);

    /* a slow handshake: the close counts from its end, not from the certificate */
    conn_t c = conn_open(&f, 443, "ca.example.test");
    conn_certs(&c, false, &pki.self_signed, NULL);
    conn_established_late(&c, 0, 3 * G_USEC_PER_SEC);
    conn_close(&c, true, 3 * G_USEC_PER_SEC + 2000);
    conn_end(&c);
    assert_verdict(verdict_only(f.diag.sink), V_SERVER_CERT_SELF_SIGNED, VERDICT_ERROR, "10.1.1.20", true);
    fixture_destroy(&f);
}

/* TLS 1.3: without keys the certificates are hidden and nothing is said;
 * the client's first protected record is its Finished, not data. */
static void test_tls13(void)
{
    fixture_t f;
    fixture_init(&f);
    conn_t c = conn_open(&f, 443, "ca.example.test");
    c.tls->tls13 = true;
    c.tls->version = 0x0304;
    /* without keys: no certificate visible, an encrypted alert, a close */
    tls_alert_seen_t hidden = { DIR_TO_SERVER, true, false, 0, 0, frame_at(FRAME_ALERT, 0) };
    g_array_append_val(c.tls->alerts, hidden);
    conn_established(&c, 1);
    conn_close(&c, true, 1000);
    conn_end(&c);
    g_assert_cmpuint(verdict_count(f.diag.sink), ==, 0);

    /* with keys: the certificate, the Finished and a close_notify decrypted, no data */
    session_run(&f, &(session_t){ .port = 443, .sni = "ca.example.test", .chain = CHAIN(&pki.self_signed),
                                  .client_records = 2, .client_closes = true, .tls13 = true,
                                  .decrypted_to_server = 2 });
    assert_verdict(verdict_only(f.diag.sink), V_SERVER_CERT_SELF_SIGNED, VERDICT_ERROR, "10.1.1.20", true);

    /* the server's side decrypted, not the client's: its one record is its Finished */
    session_run(&f, &(session_t){ .port = 8443, .sni = "ca.example.test", .chain = CHAIN(&pki.self_signed),
                                  .client_records = 1, .client_closes = true, .tls13 = true,
                                  .decrypted_to_client = 4 });
    g_assert_cmpuint(verdict_count(f.diag.sink), ==, 2);
    assert_verdict(verdict_nth(f.diag.sink, 1), V_SERVER_CERT_SELF_SIGNED, VERDICT_ERROR, "10.1.1.20", true);
    g_assert_cmpstr(verdict_nth(f.diag.sink, 1)->server, ==, "10.1.1.5:8443");

    /* with keys and a request: accepted, nothing */
    session_run(&f, &(session_t){ .port = 443, .sni = "ca.example.test",
                                  .chain = CHAIN(&pki.leaf, &pki.issuing), .client_records = 3,
                                  .client_closes = true, .tls13 = true, .decrypted_to_server = 3,
                                  .plaintext_to_server = 1 });
    /* without keys, two records from the client: it carried on (the
     * certificates as if decrypted earlier) */
    session_run(&f, &(session_t){ .port = 443, .sni = "other.example.test",
                                  .chain = CHAIN(&pki.leaf, &pki.issuing), .client_records = 2,
                                  .client_closes = true, .tls13 = true });
    g_assert_cmpuint(verdict_count(f.diag.sink), ==, 3);
    assert_verdict(verdict_nth(f.diag.sink, 2), V_SERVER_NAME_MISMATCH, VERDICT_WARNING, "10.1.1.20", true);
    fixture_destroy(&f);
}

/* ------------------------------------------------------------------ */
/* Accepted                                                             */

static void test_accepted_healthy(void)
{
    fixture_t f;
    fixture_init(&f);
    fixture_trust_root(&f);
    static const session_t healthy[] = {
        /* a CA-issued chain that verifies, the right name, data sent */
        { .port = 443, .sni = "ca.example.test", .chain = CHAIN(&pki.leaf, &pki.issuing), .client_records = 3,
          .client_closes = true },
        /* CUCM's own self-signed CAPF certificate, accepted with an LSC */
        { .port = 3804, .chain = CHAIN(&pki.capf), .client_cert = &pki.lsc, .client_records = 5,
          .client_closes = true },
        /* a self-signed server certificate without a name asked: accepted, nothing */
        { .port = 8443, .chain = CHAIN(&pki.self_signed), .client_records = 1 },
    };
    for (size_t i = 0; i < G_N_ELEMENTS(healthy); i++)
        session_run(&f, &healthy[i]);
    g_assert_cmpuint(verdict_count(f.diag.sink), ==, 0);
    fixture_destroy(&f);
}

static void test_accepted_warnings(void)
{
    fixture_t f;
    fixture_init(&f);
    session_run(&f, &(session_t){ .port = 443, .sni = "ca2.example.test",
                                  .chain = CHAIN(&pki.leaf, &pki.issuing), .client_records = 2 });
    const verdict_t *v = verdict_only(f.diag.sink);
    assert_verdict(v, V_SERVER_NAME_MISMATCH, VERDICT_WARNING, "10.1.1.20", true);
    g_assert_cmpstr(verdict_text_fact(v, "sni"), ==, "ca2.example.test");
    g_assert_null(verdict_text_fact(v, "alert"));
    static const uint64_t frames[] = { FRAME_CLIENT_HELLO, FRAME_SERVER_CERT };
    verdict_assert_evidence(v, frames, G_N_ELEMENTS(frames));
    fixture_destroy(&f);

    static const struct {
        session_t session;
        unsigned warning_days;            /* 0: the default */
        verdict_id_t expected;            /* V_COUNT: none */
        const char *device;               /* NULL: the client's address */
        const char *fact_key, *fact_text; /* a text fact, or NULL */
        const char *summary_part;         /* or NULL */
    } cases[] = {
        { .session = { .port = 443, .sni = "ca.example.test", .chain = CHAIN(&pki.expired, &pki.issuing),
                       .client_records = 1 },
          .expected = V_CERT_EXPIRED },
        { .session = { .port = 443, .sni = "ca.example.test", .chain = CHAIN(&pki.not_yet, &pki.issuing),
                       .client_records = 1 },
          .expected = V_CERT_NOT_YET_VALID },
        /* the server's certificate ends in 10 days, the warning period is 30 */
        { .session = { .port = 443, .sni = "ca.example.test", .chain = CHAIN(&pki.expiring, &pki.issuing),
                       .client_records = 1 },
          .expected = V_CERT_EXPIRING_SOON,
          .summary_part = "in 10 days" },
        /* ... and with a warning period of 5 days, nothing */
        { .session = { .port = 443, .sni = "ca.example.test", .chain = CHAIN(&pki.expiring, &pki.issuing),
                       .client_records = 1 },
          .warning_days = 5,
          .expected = V_COUNT },
        /* the phone's LSC ends in 3 days: about the device */
        { .session = { .port = 2443, .chain = CHAIN(&pki.capf), .client_cert = &pki.lsc_expiring,
                       .client_records = 4 },
          .expected = V_CERT_EXPIRING_SOON,
          .device = "SEP001122334455",
          .fact_key = "subject",
          .fact_text = "O=enrollmon TEST PKI, CN=SEP001122334455" },
        /* an expired LSC the server still accepted */
        { .session = { .port = 2443, .chain = CHAIN(&pki.capf), .client_cert = &pki.lsc_expired,
                       .client_records = 4 },
          .expected = V_CERT_EXPIRED,
          .device = "SEP001122334455" },
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_test_message("case %zu", i);
        fixture_init(&f);
        if (cases[i].warning_days)
            f.diag.d->config.expiry_warning_days = cases[i].warning_days;
        session_run(&f, &cases[i].session);
        if (cases[i].expected == V_COUNT) {
            g_assert_cmpuint(verdict_count(f.diag.sink), ==, 0);
        } else {
            v = verdict_only(f.diag.sink);
            if (cases[i].device)
                assert_verdict(v, cases[i].expected, VERDICT_WARNING, cases[i].device, false);
            else
                assert_verdict(v, cases[i].expected, VERDICT_WARNING, "10.1.1.20", true);
            if (cases[i].fact_key)
                g_assert_cmpstr(verdict_text_fact(v, cases[i].fact_key), ==, cases[i].fact_text);
            if (cases[i].summary_part)
                g_assert_nonnull(strstr(v->summary, cases[i].summary_part));
        }
        fixture_destroy(&f);
    }
}

/* However often the record comes, a connection gives each verdict once. */
static void test_once_per_connection(void)
{
    fixture_t f;
    fixture_init(&f);
    conn_t c = client_cert_refused(&f, 3804, &pki.lsc, 48);
    conn_alert(&c, false, FATAL, 48);
    conn_emit(&c, FRAME_ALERT);
    packet_info_t at = frame_at(FRAME_LAST, 0);
    /* a final record given twice (it must not be, but a verdict stays single) */
    analysis_emit_tls(&f.diag.a, c.flow, c.tls, &at, false, true);
    conn_end(&c);
    g_assert_cmpuint(verdict_count(f.diag.sink), ==, 1);
    fixture_destroy(&f);
}

/* The names of interest: the SNI, the server certificate's CN and SAN DNS
 * names; not a wildcard, not the client certificate's names. */
static void test_names_of_interest(void)
{
    fixture_t f;
    fixture_init(&f);
    diagnosis_t *d = f.diag.d;
    g_assert_false(diag_parties_name_known(d, "ca.example.test"));
    session_run(&f, &(session_t){ .port = 443, .sni = "www.example.test",
                                  .chain = CHAIN(&pki.leaf, &pki.issuing), .client_cert = &pki.client_plain,
                                  .client_records = 1 });
    g_assert_true(diag_parties_name_known(d, "www.example.test"));
    g_assert_true(diag_parties_name_known(d, "ca.example.test"));
    g_assert_true(diag_parties_name_known(d, "pki.example.test"));
    g_assert_false(diag_parties_name_known(d, ISSUING_CN));
    g_assert_false(diag_parties_name_known(d, "ces.example.test")); /* the client's certificate */
    session_run(&f, &(session_t){ .port = 443, .chain = CHAIN(&pki.wildcard, &pki.issuing),
                                  .client_records = 1 });
    g_assert_false(diag_parties_name_known(d, "*.example.test"));
    fixture_destroy(&f);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    pki_make();
    g_test_add_func("/diag-tls/trust/file-verifies", test_trust_file_verifies);
    g_test_add_func("/diag-tls/trust/time", test_trust_time);
    g_test_add_func("/diag-tls/trust/directory", test_trust_directory);
    g_test_add_func("/diag-tls/trust/errors", test_trust_errors);
    g_test_add_func("/diag-tls/server-refuses/lsc-unknown-ca", test_lsc_unknown_ca);
    g_test_add_func("/diag-tls/server-refuses/mic-unknown-ca", test_mic_unknown_ca);
    g_test_add_func("/diag-tls/server-refuses/client-cert-time", test_client_cert_time);
    g_test_add_func("/diag-tls/client-refuses/capf-server-cert", test_capf_server_cert_rejected);
    g_test_add_func("/diag-tls/client-refuses/causes", test_client_refusals);
    g_test_add_func("/diag-tls/client-refuses/order", test_refusal_order);
    g_test_add_func("/diag-tls/client-refuses/close-not-refusal", test_close_not_refusal);
    g_test_add_func("/diag-tls/tls13", test_tls13);
    g_test_add_func("/diag-tls/accepted/healthy", test_accepted_healthy);
    g_test_add_func("/diag-tls/accepted/warnings", test_accepted_warnings);
    g_test_add_func("/diag-tls/once-per-connection", test_once_per_connection);
    g_test_add_func("/diag-tls/names-of-interest", test_names_of_interest);
    int status = g_test_run();
    pki_free();
    return status;
}
