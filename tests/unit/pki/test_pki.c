/* Unit tests for dissectors/pki.c: which step of certsrv / EST / SCEP an
 * exchange is, and what its bodies hold.  The bodies are the lab captures'
 * own (pki_fixtures.c); the parser always gets exact-size heap copies, so a
 * read past the end is an ASan error, not a silent pass.
 *
 * Expected modulus MD5s were made with the OpenSSL command line on the
 * exported bodies (see pki_fixtures.c for the export):
 *   CSR:  the CertRequest field URL-decoded (or the EST body between
 *         BEGIN/END CERTIFICATE REQUEST lines), then
 *         `openssl req -noout -modulus -in csr.pem | openssl md5`
 *   cert: `openssl x509 -noout -modulus -in certnew.cer | openssl md5`
 *         (EST: `openssl pkcs7 -print_certs` first)
 */
#include "pki_fixtures.h"
#include "dissectors/pki.h"
#include "dissectors/x509.h"

#include <glib.h>
#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/pkcs7.h>
#include <openssl/x509.h>
#include <string.h>

/* certsrv-enroll-ok-tls12: CSR and certificate share one key */
#define OK_MD5 "cac48b2c04a4c32a54bd7cdf8dd0291b"
#define OK_SERIAL "0F5C01D67F2A984F2FA578D995963A6C"
/* certsrv-key-mismatch: the certificate has another key than the CSR */
#define MISMATCH_CSR_MD5 "2943c5f685bd4be5c9b580f041e0d1c1"
#define MISMATCH_CERT_MD5 "56774b4d025073fa6757e0ef16ac9959"
/* ca-template-rejected's CSR */
#define REJECTED_MD5 "f94791568849746de9b44419fbaf4845"
/* est-enroll-ok: CSR and issued certificate */
#define EST_MD5 "500580551a80020ee0c888d904c6c4eb"

#define PHONE_SUBJECT "O=enrollmon TEST PKI, CN=SEP74A02FC0A675"
#define ISSUING_CN "enrollmon Test Issuing CA"
#define ROOT_CN "enrollmon Test Root CA"

/* ------------------------------------------------------------------ */
/* Helpers                                                            */

static void assert_printable(const char *s, size_t cap)
{
    g_assert_nonnull(memchr(s, '\0', cap));
    g_assert_true(g_utf8_validate(s, -1, NULL));
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        g_assert_true(*p >= 0x20 && *p != 0x7f);
}

static void assert_record_sane(const pki_record_t *r)
{
    assert_printable(r->operation, sizeof(r->operation));
    assert_printable(r->template_name, sizeof(r->template_name));
    assert_printable(r->csr_subject, sizeof(r->csr_subject));
    assert_printable(r->csr_modulus_md5, sizeof(r->csr_modulus_md5));
    assert_printable(r->outcome_message, sizeof(r->outcome_message));
    assert_printable(r->disposition, sizeof(r->disposition));
    g_assert_cmpuint(r->chain_count, <=, PKI_MAX_CHAIN);
    for (unsigned i = 0; i < r->chain_count; i++)
        g_assert_true(r->chain[i].parsed);
    for (unsigned i = r->chain_count; i < PKI_MAX_CHAIN; i++)
        g_assert_false(r->chain[i].parsed);
    if (r->has_certificate)
        g_assert_true(r->certificate.parsed);
    else
        g_assert_false(r->certificate.parsed);
    if (!r->has_csr) {
        g_assert_cmpstr(r->csr_subject, ==, "");
        g_assert_cmpstr(r->csr_modulus_md5, ==, "");
    }
    g_assert_true(r->kind != PKI_NONE || r->step == PKI_STEP_OTHER);
}

/* An exact-size heap copy (NULL for nothing). */
static uint8_t *copy_exact(const void *data, size_t len)
{
    if (!len)
        return NULL;
    uint8_t *copy = g_malloc(len);
    memcpy(copy, data, len);
    return copy;
}

typedef struct exchange {
    const char *method;
    const char *uri;
    const char *req_type;
    const void *req;
    size_t req_len;
    bool req_cut;
    int status;
    const char *resp_type;
    const void *resp;
    size_t resp_len;
    bool resp_cut;
} exchange_t;

static void run(const exchange_t *x, pki_record_t *out)
{
    uint8_t *req = copy_exact(x->req, x->req_len);
    uint8_t *resp = copy_exact(x->resp, x->resp_len);
    byte_span_t req_span = { req, req ? x->req_len : 0 };
    byte_span_t resp_span = { resp, resp ? x->resp_len : 0 };
    pki_dissect(x->method, x->uri, x->req_type, req_span, x->req_cut, x->status, x->resp_type,
                resp_span, x->resp_cut, NULL, out);
    g_free(req);
    g_free(resp);
    assert_record_sane(out);
}

static GBytes *unbase64(const char *b64)
{
    gsize len = 0;
    guchar *data = g_base64_decode(b64, &len);
    return g_bytes_new_take(data, len);
}

/* A certificate's DER from PEM text. */
static GBytes *pem_cert_der(const char *pem)
{
    BIO *bio = BIO_new_mem_buf(pem, -1);
    X509 *x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
    g_assert_nonnull(x);
    unsigned char *der = NULL;
    int len = i2d_X509(x, &der);
    g_assert_cmpint(len, >, 0);
    GBytes *out = g_bytes_new(der, (gsize)len);
    OPENSSL_free(der);
    X509_free(x);
    BIO_free(bio);
    return out;
}

/* The certificates of a PKCS#7 (DER), for building other PKCS#7 here. */
static STACK_OF(X509) *p7_certs(GBytes *der)
{
    gsize len;
    const unsigned char *p = g_bytes_get_data(der, &len);
    PKCS7 *p7 = d2i_PKCS7(NULL, &p, (long)len);
    g_assert_nonnull(p7);
    STACK_OF(X509) *out = sk_X509_new_null();
    STACK_OF(X509) *in = p7->d.sign->cert;
    for (int i = 0; i < sk_X509_num(in); i++) {
        X509 *x = sk_X509_value(in, i);
        X509_up_ref(x);
        sk_X509_push(out, x);
    }
    PKCS7_free(p7);
    return out;
}

/* A certs-only SignedData holding certs (and, when inner is given, that
 * DER as its data content, the way SCEP's GetNextCACert nests it). */
static GBytes *build_p7(STACK_OF(X509) *certs, GBytes *inner)
{
    PKCS7 *p7 = PKCS7_new();
    g_assert_true(PKCS7_set_type(p7, NID_pkcs7_signed));
    PKCS7 *content = PKCS7_new();
    g_assert_true(PKCS7_set_type(content, NID_pkcs7_data));
    if (inner) {
        gsize len;
        const void *data = g_bytes_get_data(inner, &len);
        g_assert_true(ASN1_OCTET_STRING_set(content->d.data, data, (int)len));
    } else {
        ASN1_OCTET_STRING_free(content->d.data);
        content->d.data = NULL;
    }
    g_assert_true(PKCS7_set_content(p7, content));
    for (int i = 0; certs && i < sk_X509_num(certs); i++)
        g_assert_true(PKCS7_add_certificate(p7, sk_X509_value(certs, i)));
    unsigned char *der = NULL;
    int len = i2d_PKCS7(p7, &der);
    g_assert_cmpint(len, >, 0);
    GBytes *out = g_bytes_new(der, (gsize)len);
    OPENSSL_free(der);
    PKCS7_free(p7);
    return out;
}

static GBytes *est_cacerts_der(void)
{
    return unbase64(pki_fx_est_cacerts);
}

/* ------------------------------------------------------------------ */
/* Names and classification                                           */

static void test_names(void)
{
    g_assert_cmpstr(pki_kind_name(PKI_CERTSRV), ==, "certsrv");
    g_assert_cmpstr(pki_kind_name(PKI_EST), ==, "est");
    g_assert_cmpstr(pki_kind_name(PKI_SCEP), ==, "scep");
    g_assert_null(pki_kind_name(PKI_NONE));
    g_assert_null(pki_kind_name((pki_kind_t)99));
    g_assert_cmpstr(pki_step_name(PKI_STEP_LOGIN), ==, "login");
    g_assert_cmpstr(pki_step_name(PKI_STEP_REQUEST_FORM), ==, "request_form");
    g_assert_cmpstr(pki_step_name(PKI_STEP_SUBMISSION), ==, "submission");
    g_assert_cmpstr(pki_step_name(PKI_STEP_CERT_RETRIEVAL), ==, "cert_retrieval");
    g_assert_cmpstr(pki_step_name(PKI_STEP_CHAIN_RETRIEVAL), ==, "chain_retrieval");
    g_assert_cmpstr(pki_step_name(PKI_STEP_CA_CERT_RETRIEVAL), ==, "ca_cert_retrieval");
    g_assert_cmpstr(pki_step_name(PKI_STEP_EST_CACERTS), ==, "cacerts");
    g_assert_cmpstr(pki_step_name(PKI_STEP_EST_SIMPLEENROLL), ==, "simpleenroll");
    g_assert_cmpstr(pki_step_name(PKI_STEP_EST_SIMPLEREENROLL), ==, "simplereenroll");
    g_assert_cmpstr(pki_step_name(PKI_STEP_EST_CSRATTRS), ==, "csrattrs");
    g_assert_cmpstr(pki_step_name(PKI_STEP_SCEP_GETCACAPS), ==, "getcacaps");
    g_assert_cmpstr(pki_step_name(PKI_STEP_SCEP_GETCACERT), ==, "getcacert");
    g_assert_cmpstr(pki_step_name(PKI_STEP_SCEP_GETNEXTCACERT), ==, "getnextcacert");
    g_assert_cmpstr(pki_step_name(PKI_STEP_SCEP_PKIOPERATION), ==, "pkioperation");
    g_assert_cmpstr(pki_step_name(PKI_STEP_OTHER), ==, "other");
    g_assert_cmpstr(pki_step_name((pki_step_t)99), ==, "other");
    g_assert_cmpstr(pki_outcome_name(PKI_OUTCOME_ISSUED), ==, "issued");
    g_assert_cmpstr(pki_outcome_name(PKI_OUTCOME_PENDING), ==, "pending");
    g_assert_cmpstr(pki_outcome_name(PKI_OUTCOME_DENIED), ==, "denied");
    g_assert_null(pki_outcome_name(PKI_OUTCOME_NONE));
}

typedef struct uri_case {
    const char *method;
    const char *uri;
    pki_kind_t kind;
    pki_step_t step;
    long req_id;
    const char *operation;
} uri_case_t;

static const uri_case_t uri_cases[] = {
    /* certsrv, as CES and browsers ask (IIS ignores case) */
    { "GET", "/certsrv", PKI_CERTSRV, PKI_STEP_LOGIN, -1, "" },
    { "GET", "/certsrv/", PKI_CERTSRV, PKI_STEP_LOGIN, -1, "" },
    { "GET", "/CertSrv", PKI_CERTSRV, PKI_STEP_LOGIN, -1, "" },
    { "GET", "/CERTSRV/", PKI_CERTSRV, PKI_STEP_LOGIN, -1, "" },
    { "GET", "/certsrv/default.asp", PKI_CERTSRV, PKI_STEP_LOGIN, -1, "" },
    { "GET", "/certsrv/certrqxt.asp", PKI_CERTSRV, PKI_STEP_REQUEST_FORM, -1, "" },
    { "GET", "/CertSrv/CertRqXt.asp", PKI_CERTSRV, PKI_STEP_REQUEST_FORM, -1, "" },
    { "POST", "/certsrv/certfnsh.asp", PKI_CERTSRV, PKI_STEP_SUBMISSION, -1, "" },
    { "POST", "/CERTSRV/CERTFNSH.ASP", PKI_CERTSRV, PKI_STEP_SUBMISSION, -1, "" },
    { "GET", "/certsrv/certnew.cer?ReqID=77&Enc=b64", PKI_CERTSRV, PKI_STEP_CERT_RETRIEVAL, 77, "" },
    { "GET", "/certsrv/certnew.cer?reqid=10&enc=bin", PKI_CERTSRV, PKI_STEP_CERT_RETRIEVAL, 10, "" },
    { "GET", "/certsrv/certnew.cer?Enc=b64&ReqID=123456", PKI_CERTSRV, PKI_STEP_CERT_RETRIEVAL, 123456, "" },
    { "GET", "/certsrv/certnew.cer", PKI_CERTSRV, PKI_STEP_CERT_RETRIEVAL, -1, "" },
    { "GET", "/certsrv/certnew.cer?ReqID=12x", PKI_CERTSRV, PKI_STEP_CERT_RETRIEVAL, -1, "" },
    { "GET", "/certsrv/certnew.cer?ReqID=99999999999999999999", PKI_CERTSRV, PKI_STEP_CERT_RETRIEVAL, -1, "" },
    { "GET", "/certsrv/certnew.p7b?ReqID=77&Enc=b64", PKI_CERTSRV, PKI_STEP_CHAIN_RETRIEVAL, 77, "" },
    { "GET", "/CertSrv/CertNew.P7B?REQID=7", PKI_CERTSRV, PKI_STEP_CHAIN_RETRIEVAL, 7, "" },
    { "GET", "/certsrv/certnew.cer?ReqID=CACert&Renewal=0&Enc=bin", PKI_CERTSRV, PKI_STEP_CA_CERT_RETRIEVAL, -1, "" },
    { "GET", "/certsrv/certnew.p7b?ReqID=CACert&Renewal=0&Enc=bin", PKI_CERTSRV, PKI_STEP_CA_CERT_RETRIEVAL, -1, "" },
    { "GET", "/certsrv/certnew.p7b?ReqID=cacert", PKI_CERTSRV, PKI_STEP_CA_CERT_RETRIEVAL, -1, "" },
    { "GET", "/certsrv/certcarc.asp", PKI_CERTSRV, PKI_STEP_CA_CERT_RETRIEVAL, -1, "" },
    { "GET", "/certsrv/certckpn.asp", PKI_CERTSRV, PKI_STEP_OTHER, -1, "" },
    { "GET", "https://ca.example.test/certsrv/certnew.cer?ReqID=5", PKI_CERTSRV, PKI_STEP_CERT_RETRIEVAL, 5, "" },
    { "GET", "HTTP://ca.example.test:443/certsrv/", PKI_CERTSRV, PKI_STEP_LOGIN, -1, "" },
    { "GET", "/certsrv/certnew%2Ecer?ReqID=5", PKI_CERTSRV, PKI_STEP_CERT_RETRIEVAL, 5, "" },
    { "GET", "//certsrv//certrqxt.asp", PKI_CERTSRV, PKI_STEP_REQUEST_FORM, -1, "" },
    { "GET", "/certsrv\\certrqxt.asp", PKI_CERTSRV, PKI_STEP_REQUEST_FORM, -1, "" },
    { "GET", "/certsrv#frag", PKI_CERTSRV, PKI_STEP_LOGIN, -1, "" },
    /* not certsrv */
    { "GET", "/certsrvx", PKI_NONE, PKI_STEP_OTHER, -1, "" },
    { "GET", "/certsrv.old/", PKI_NONE, PKI_STEP_OTHER, -1, "" },
    { "GET", "/foo/certsrv/", PKI_NONE, PKI_STEP_OTHER, -1, "" },
    { "GET", "/", PKI_NONE, PKI_STEP_OTHER, -1, "" },
    { "GET", "", PKI_NONE, PKI_STEP_OTHER, -1, "" },
    { "GET", "https://certsrv", PKI_NONE, PKI_STEP_OTHER, -1, "" },
    { "GET", "/index.html?certsrv/certfnsh.asp", PKI_NONE, PKI_STEP_OTHER, -1, "" },
    { NULL, NULL, PKI_NONE, PKI_STEP_OTHER, -1, "" },
    /* EST */
    { "GET", "/.well-known/est/cacerts", PKI_EST, PKI_STEP_EST_CACERTS, -1, "cacerts" },
    { "POST", "/.well-known/est/simpleenroll", PKI_EST, PKI_STEP_EST_SIMPLEENROLL, -1, "simpleenroll" },
    { "POST", "/.well-known/est/simplereenroll", PKI_EST, PKI_STEP_EST_SIMPLEREENROLL, -1, "simplereenroll" },
    { "GET", "/.well-known/est/csrattrs", PKI_EST, PKI_STEP_EST_CSRATTRS, -1, "csrattrs" },
    { "POST", "/.well-known/est/capf/simpleenroll", PKI_EST, PKI_STEP_EST_SIMPLEENROLL, -1, "simpleenroll" },
    { "GET", "/.well-known/est/capf/cacerts", PKI_EST, PKI_STEP_EST_CACERTS, -1, "cacerts" },
    { "POST", "/.well-known/est/SimpleEnroll", PKI_EST, PKI_STEP_EST_SIMPLEENROLL, -1, "SimpleEnroll" },
    { "GET", "/.WELL-KNOWN/EST/CACERTS", PKI_EST, PKI_STEP_EST_CACERTS, -1, "CACERTS" },
    { "GET", "/.well-known/est/cacerts/", PKI_EST, PKI_STEP_EST_CACERTS, -1, "cacerts" },
    { "POST", "/.well-known/est/serverkeygen", PKI_EST, PKI_STEP_OTHER, -1, "serverkeygen" },
    { "POST", "/.well-known/est/a/b/simpleenroll", PKI_EST, PKI_STEP_OTHER, -1, "simpleenroll" },
    { "GET", "/.well-known/est", PKI_EST, PKI_STEP_OTHER, -1, "" },
    { "GET", "/.well-known/est/", PKI_EST, PKI_STEP_OTHER, -1, "" },
    { "GET", "/.well-known/estx/cacerts", PKI_NONE, PKI_STEP_OTHER, -1, "" },
    { "GET", "/well-known/est/cacerts", PKI_NONE, PKI_STEP_OTHER, -1, "" },
    /* SCEP: Cisco IOS CA/RA and Microsoft NDES */
    { "GET", "/cgi-bin/pkiclient.exe?operation=GetCACaps&message=GETVPN", PKI_SCEP, PKI_STEP_SCEP_GETCACAPS, -1, "GetCACaps" },
    { "GET", "/cgi-bin/pkiclient.exe?operation=GetCACert&message=GETVPN", PKI_SCEP, PKI_STEP_SCEP_GETCACERT, -1, "GetCACert" },
    { "GET", "/cgi-bin/pkiclient.exe?operation=GetNextCACert&message=GETVPN", PKI_SCEP, PKI_STEP_SCEP_GETNEXTCACERT, -1, "GetNextCACert" },
    { "POST", "/cgi-bin/pkiclient.exe?operation=PKIOperation", PKI_SCEP, PKI_STEP_SCEP_PKIOPERATION, -1, "PKIOperation" },
    { "GET", "/cgi-bin/pkiclient.exe?message=x&OPERATION=getcacert", PKI_SCEP, PKI_STEP_SCEP_GETCACERT, -1, "getcacert" },
    { "GET", "/CGI-BIN/PKICLIENT.EXE?operation=GETNEXTCACERT", PKI_SCEP, PKI_STEP_SCEP_GETNEXTCACERT, -1, "GETNEXTCACERT" },
    { "GET", "/certsrv/mscep/mscep.dll?operation=GetCACert&message=x", PKI_SCEP, PKI_STEP_SCEP_GETCACERT, -1, "GetCACert" },
    { "GET", "/certsrv/mscep/mscep.dll/pkiclient.exe?operation=GetCACaps", PKI_SCEP, PKI_STEP_SCEP_GETCACAPS, -1, "GetCACaps" },
    { "GET", "/CertSrv/MSCEP/mscep.dll?operation=GetNextCACert", PKI_SCEP, PKI_STEP_SCEP_GETNEXTCACERT, -1, "GetNextCACert" },
    { "GET", "/cgi-bin/pkiclient.exe?operation=GetCRL", PKI_SCEP, PKI_STEP_OTHER, -1, "GetCRL" },
    { "GET", "/cgi-bin/pkiclient.exe", PKI_SCEP, PKI_STEP_OTHER, -1, "" },
    { "GET", "/cgi-bin/pkiclient.exe?operation=", PKI_SCEP, PKI_STEP_OTHER, -1, "" },
    { "GET", "/cgi-bin/pkiclient.exe?operation=Get%43ACert", PKI_SCEP, PKI_STEP_SCEP_GETCACERT, -1, "GetCACert" },
    { "GET", "/cgi-bin/pkiclient.exe?operation=Get%01CA", PKI_SCEP, PKI_STEP_OTHER, -1, "Get\\x01CA" },
};

static void test_classify(void)
{
    for (size_t i = 0; i < G_N_ELEMENTS(uri_cases); i++) {
        const uri_case_t *c = &uri_cases[i];
        g_test_message("%s %s", c->method ? c->method : "(null)", c->uri ? c->uri : "(null)");
        pki_step_t step = (pki_step_t)12345;
        g_assert_cmpint(pki_kind_of_request(c->method, c->uri, &step), ==, c->kind);
        g_assert_cmpint(step, ==, c->step);
        g_assert_cmpint(pki_kind_of_request(c->method, c->uri, NULL), ==, c->kind);
        /* the same through pki_dissect, with no bodies */
        pki_record_t r;
        exchange_t x = { .method = c->method, .uri = c->uri };
        run(&x, &r);
        g_assert_cmpint(r.kind, ==, c->kind);
        g_assert_cmpint(r.step, ==, c->step);
        g_assert_cmpint(r.req_id, ==, c->req_id);
        g_assert_cmpstr(r.operation, ==, c->operation);
        g_assert_false(r.body_truncated);
        g_assert_false(r.has_csr);
        g_assert_false(r.has_certificate);
        g_assert_cmpint(r.outcome, ==, PKI_OUTCOME_NONE);
        pki_record_clear(&r);
    }
}

/* A URI longer than anything looked at, and bytes no URI should hold. */
static void test_classify_hostile(void)
{
    GString *u = g_string_new("/cgi-bin/pkiclient.exe?operation=");
    for (int i = 0; i < 20000; i++)
        g_string_append_c(u, 'A');
    pki_step_t step;
    g_assert_cmpint(pki_kind_of_request("GET", u->str, &step), ==, PKI_SCEP);
    g_assert_cmpint(step, ==, PKI_STEP_OTHER);
    pki_record_t r;
    exchange_t x = { .method = "GET", .uri = u->str };
    run(&x, &r);
    g_assert_cmpuint(strlen(r.operation), ==, sizeof(r.operation) - 1);
    pki_record_clear(&r);

    g_string_assign(u, "/");
    for (int i = 0; i < 5000; i++)
        g_string_append(u, "certsrv/");
    g_assert_cmpint(pki_kind_of_request("GET", u->str, &step), ==, PKI_CERTSRV);
    g_assert_cmpint(step, ==, PKI_STEP_OTHER);

    g_string_assign(u, "/.well-known/est/");
    for (int i = 0; i < 5000; i++)
        g_string_append(u, "%ff%00\x01");
    g_assert_cmpint(pki_kind_of_request("POST", u->str, &step), ==, PKI_EST);
    x.uri = u->str;
    run(&x, &r);
    pki_record_clear(&r);

    /* control bytes and broken UTF-8 in the operation come out escaped */
    x.uri = "/cgi-bin/pkiclient.exe?operation=%1b[31m%c3%28%e2%82%ac%7f";
    run(&x, &r);
    g_assert_cmpstr(r.operation, ==, "\\x1b[31m\\xc3(\xe2\x82\xac\\x7f");
    pki_record_clear(&r);
    /* a label holding a NUL ends the path there */
    g_assert_cmpint(pki_kind_of_request("GET", "/certsrv%00/x", &step), ==, PKI_CERTSRV);
    g_assert_cmpint(step, ==, PKI_STEP_LOGIN);
    g_string_free(u, TRUE);
}

/* ------------------------------------------------------------------ */
/* certsrv                                                            */

static void submit(const char *form, size_t form_len, bool form_cut, int status, const char *page,
                   size_t page_len, bool page_cut, pki_record_t *r)
{
    exchange_t x = { "POST", "/certsrv/certfnsh.asp", "application/x-www-form-urlencoded", form,
                     form_len, form_cut, status, "text/html", page, page_len, page_cut };
    run(&x, r);
}

static void test_submission_issued(void)
{
    pki_record_t r;
    submit(pki_fx_ok_form, strlen(pki_fx_ok_form), false, 200, pki_fx_ok_page,
           strlen(pki_fx_ok_page), false, &r);
    g_assert_cmpint(r.kind, ==, PKI_CERTSRV);
    g_assert_cmpint(r.step, ==, PKI_STEP_SUBMISSION);
    g_assert_cmpstr(r.template_name, ==, "CiscoRA");
    g_assert_true(r.has_csr);
    g_assert_cmpstr(r.csr_subject, ==, PHONE_SUBJECT);
    g_assert_cmpstr(r.csr_modulus_md5, ==, OK_MD5);
    g_assert_cmpint(r.outcome, ==, PKI_OUTCOME_ISSUED);
    g_assert_cmpint(r.req_id, ==, 10);
    g_assert_cmpstr(r.outcome_message, ==, "");
    g_assert_cmpstr(r.disposition, ==, "");
    g_assert_false(r.has_certificate);
    g_assert_cmpuint(r.chain_count, ==, 0);
    g_assert_false(r.body_truncated);
    pki_record_clear(&r);

    /* the form without its answer (no response, or one not kept) */
    submit(pki_fx_ok_form, strlen(pki_fx_ok_form), false, 0, NULL, 0, false, &r);
    g_assert_true(r.has_csr);
    g_assert_cmpint(r.outcome, ==, PKI_OUTCOME_NONE);
    g_assert_cmpint(r.req_id, ==, -1);
    pki_record_clear(&r);
    /* an answer that is not 2xx is not read as a page */
    submit(pki_fx_ok_form, strlen(pki_fx_ok_form), false, 500, pki_fx_ok_page,
           strlen(pki_fx_ok_page), true, &r);
    g_assert_cmpint(r.outcome, ==, PKI_OUTCOME_NONE);
    g_assert_false(r.body_truncated);
    pki_record_clear(&r);
}

/* Forms as other clients write them. */
static void test_submission_form_variants(void)
{
    /* the EST capture's CSR (key EST_MD5), written into forms */
    GBytes *der = unbase64(pki_fx_est_csr);
    gsize der_len;
    const guchar *der_data = g_bytes_get_data(der, &der_len);
    gchar *b64 = g_base64_encode(der_data, der_len);
    /* 1. bare base64, '+' '/' '=' escaped, attributes on CR LF lines */
    GString *form = g_string_new("Mode=newreq&CertRequest=");
    for (const char *p = b64; *p; p++) {
        if (*p == '+' || *p == '/' || *p == '=')
            g_string_append_printf(form, "%%%02X", (unsigned char)*p);
        else
            g_string_append_c(form, *p);
        if ((p - b64) % 64 == 63)
            g_string_append(form, "%0D%0A");
    }
    g_string_append(form, "&CertAttrib=UserAgent%3AMozilla%2F5.0+(Windows+NT+10.0)%0D%0A"
                          "CertificateTemplate%3A+Web%20Server2+%0D%0ASAN%3Adns%3Dx.example"
                          "&TargetStoreFlags=0&SaveCert=yes");
    pki_record_t r;
    submit(form->str, form->len, false, 0, NULL, 0, false, &r);
    g_assert_true(r.has_csr);
    g_assert_cmpstr(r.csr_modulus_md5, ==, EST_MD5);
    g_assert_cmpstr(r.csr_subject, ==, PHONE_SUBJECT);
    g_assert_cmpstr(r.template_name, ==, "Web Server2");
    pki_record_clear(&r);

    /* 2. a client that left the base64 '+' unescaped; the attributes on one
     * line, as a browser's console shows them; field names in other case */
    g_string_assign(form, "mode=newreq&certrequest=-----BEGIN+CERTIFICATE+REQUEST-----+");
    g_string_append(form, b64);
    g_string_append(form, "+-----END+CERTIFICATE+REQUEST-----&certattrib=CertificateTemplate:"
                          "CiscoRA+UserAgent:Mozilla/5.0");
    g_assert_nonnull(strchr(b64, '+')); /* else this case tests nothing */
    submit(form->str, form->len, false, 0, NULL, 0, false, &r);
    g_assert_true(r.has_csr);
    g_assert_cmpstr(r.csr_modulus_md5, ==, EST_MD5);
    g_assert_cmpstr(r.template_name, ==, "CiscoRA");
    pki_record_clear(&r);

    /* 3. control bytes in the template come out escaped, a long one is cut */
    g_string_assign(form, "CertAttrib=CertificateTemplate:%1B[2J%00x%C3%A9");
    submit(form->str, form->len, false, 0, NULL, 0, false, &r);
    g_assert_false(r.has_csr);
    g_assert_cmpstr(r.template_name, ==, "\\x1b[2J\\x00x\xc3\xa9");
    pki_record_clear(&r);
    g_string_assign(form, "CertAttrib=CertificateTemplate:");
    for (int i = 0; i < 500; i++)
        g_string_append(form, "%C3%A9");
    submit(form->str, form->len, false, 0, NULL, 0, false, &r);
    g_assert_cmpuint(strlen(r.template_name), ==, sizeof(r.template_name) - 2); /* whole é only */
    pki_record_clear(&r);

    /* 4. no template, a CSR that is not one, a CertRequest that is PKCS#7 */
    g_string_assign(form, "Mode=newreq&CertRequest=AAAA&CertAttrib=&x");
    submit(form->str, form->len, false, 0, NULL, 0, false, &r);
    g_assert_false(r.has_csr);
    g_assert_cmpstr(r.template_name, ==, "");
    pki_record_clear(&r);
    g_string_assign(form, "CertRequest=");
    g_string_append(form, pki_fx_est_p7);
    submit(form->str, form->len, false, 0, NULL, 0, false, &r);
    g_assert_false(r.has_csr);
    pki_record_clear(&r);

    g_string_free(form, TRUE);
    g_free(b64);
    g_bytes_unref(der);
}

static void test_cert_retrieval(void)
{
    pki_record_t r;
    exchange_t x = { .method = "GET", .uri = "/certsrv/certnew.cer?ReqID=10&Enc=b64", .status = 200,
                     .resp_type = "application/pkix-cert", .resp = pki_fx_ok_cer_b64,
                     .resp_len = strlen(pki_fx_ok_cer_b64) };
    run(&x, &r);
    g_assert_cmpint(r.step, ==, PKI_STEP_CERT_RETRIEVAL);
    g_assert_cmpint(r.req_id, ==, 10);
    g_assert_true(r.has_certificate);
    g_assert_cmpstr(r.certificate.subject, ==, PHONE_SUBJECT);
    g_assert_cmpstr(r.certificate.subject_cn, ==, "SEP74A02FC0A675");
    g_assert_cmpstr(r.certificate.issuer, ==, "O=enrollmon TEST PKI, CN=" ISSUING_CN);
    g_assert_cmpstr(r.certificate.issuer_cn, ==, ISSUING_CN);
    g_assert_cmpstr(r.certificate.serial, ==, OK_SERIAL);
    g_assert_cmpint(r.certificate.kind, ==, CERT_KIND_CA_ISSUED);
    g_assert_cmpstr(r.certificate.modulus_md5, ==, OK_MD5);
    g_assert_false(r.certificate.is_ca);
    g_assert_cmpuint(r.chain_count, ==, 0);
    g_assert_false(r.body_truncated);
    pki_record_clear(&r);

    /* Enc=bin: the same certificate as DER */
    GBytes *der = pem_cert_der(pki_fx_ok_cer_b64);
    gsize len;
    x.uri = "/certsrv/certnew.cer?ReqID=10&Enc=bin";
    x.resp = g_bytes_get_data(der, &len);
    x.resp_len = len;
    run(&x, &r);
    g_assert_true(r.has_certificate);
    g_assert_cmpstr(r.certificate.serial, ==, OK_SERIAL);
    g_assert_cmpstr(r.certificate.modulus_md5, ==, OK_MD5);
    pki_record_clear(&r);

    /* ReqID=CACert: the CA's certificate, also into certificate */
    GBytes *cacerts = est_cacerts_der();
    STACK_OF(X509) *cas = p7_certs(cacerts);
    unsigned char *ca_der = NULL;
    int ca_len = i2d_X509(sk_X509_value(cas, 0), &ca_der);
    x.uri = "/certsrv/certnew.cer?ReqID=CACert&Renewal=0&Enc=bin";
    x.resp_type = "application/x-x509-ca-cert";
    x.resp = ca_der;
    x.resp_len = (size_t)ca_len;
    run(&x, &r);
    g_assert_cmpint(r.step, ==, PKI_STEP_CA_CERT_RETRIEVAL);
    g_assert_cmpint(r.req_id, ==, -1);
    g_assert_true(r.has_certificate);
    g_assert_cmpstr(r.certificate.subject_cn, ==, ISSUING_CN);
    g_assert_true(r.certificate.is_ca);
    pki_record_clear(&r);
    OPENSSL_free(ca_der);

    /* a 404 (the IIS error page) or an HTML page with 200: no certificate */
    x.uri = "/certsrv/certnew.cer?ReqID=99&Enc=b64";
    x.status = 404;
    x.resp = "<html><body>404 - File or directory not found.</body></html>";
    x.resp_len = strlen(x.resp);
    x.resp_cut = true;
    run(&x, &r);
    g_assert_false(r.has_certificate);
    g_assert_false(r.body_truncated);
    pki_record_clear(&r);
    x.status = 200;
    x.resp_cut = false;
    run(&x, &r);
    g_assert_false(r.has_certificate);
    g_assert_cmpuint(r.chain_count, ==, 0);
    pki_record_clear(&r);

    sk_X509_pop_free(cas, X509_free);
    g_bytes_unref(cacerts);
    g_bytes_unref(der);
}

static void test_chain_retrieval(void)
{
    GBytes *p7b = unbase64(pki_fx_ok_p7b_der_b64);
    gsize len;
    const void *data = g_bytes_get_data(p7b, &len);
    pki_record_t r;
    exchange_t x = { .method = "GET", .uri = "/certsrv/certnew.p7b?ReqID=CACert&Renewal=0&Enc=bin",
                     .status = 200, .resp_type = "application/x-pkcs7-certificates", .resp = data,
                     .resp_len = len };
    run(&x, &r);
    g_assert_cmpint(r.step, ==, PKI_STEP_CA_CERT_RETRIEVAL);
    g_assert_cmpuint(r.chain_count, ==, 2);
    g_assert_cmpstr(r.chain[0].subject_cn, ==, ISSUING_CN);
    g_assert_cmpstr(r.chain[0].issuer_cn, ==, ROOT_CN);
    g_assert_true(r.chain[0].is_ca);
    g_assert_cmpint(r.chain[0].kind, ==, CERT_KIND_CA_ISSUED);
    g_assert_cmpstr(r.chain[1].subject_cn, ==, ROOT_CN);
    g_assert_cmpint(r.chain[1].kind, ==, CERT_KIND_SELF_SIGNED);
    g_assert_false(r.has_certificate);
    pki_record_clear(&r);

    /* Enc=b64: the same as PEM */
    gchar *b64 = g_base64_encode(data, len);
    gchar *pem = g_strdup_printf("-----BEGIN PKCS7-----\r\n%s\r\n-----END PKCS7-----\r\n", b64);
    x.uri = "/certsrv/certnew.p7b?ReqID=CACert&Renewal=0&Enc=b64";
    x.resp = pem;
    x.resp_len = strlen(pem);
    run(&x, &r);
    g_assert_cmpuint(r.chain_count, ==, 2);
    g_assert_cmpstr(r.chain[1].subject_cn, ==, ROOT_CN);
    pki_record_clear(&r);

    /* ReqID=<n>: the issued certificate and its chain; the certificate is
     * the one that is not a CA, wherever it stands */
    GBytes *leaf = pem_cert_der(pki_fx_ok_cer_b64);
    STACK_OF(X509) *certs = p7_certs(p7b);
    gsize leaf_len;
    const unsigned char *lp = g_bytes_get_data(leaf, &leaf_len);
    X509 *leaf_x = d2i_X509(NULL, &lp, (long)leaf_len);
    sk_X509_push(certs, leaf_x);
    GBytes *chain = build_p7(certs, NULL);
    x.uri = "/certsrv/certnew.p7b?ReqID=10&Enc=bin";
    x.resp = g_bytes_get_data(chain, &x.resp_len);
    run(&x, &r);
    g_assert_cmpint(r.step, ==, PKI_STEP_CHAIN_RETRIEVAL);
    g_assert_cmpint(r.req_id, ==, 10);
    g_assert_cmpuint(r.chain_count, ==, 3);
    g_assert_cmpstr(r.chain[2].subject_cn, ==, "SEP74A02FC0A675");
    g_assert_true(r.has_certificate);
    g_assert_cmpstr(r.certificate.serial, ==, OK_SERIAL);
    pki_record_clear(&r);

    /* more certificates than the record holds */
    STACK_OF(X509) *many = sk_X509_new_null();
    for (int i = 0; i < 20; i++)
        sk_X509_push(many, sk_X509_value(certs, i % 3));
    GBytes *big = build_p7(many, NULL);
    x.resp = g_bytes_get_data(big, &x.resp_len);
    run(&x, &r);
    g_assert_cmpuint(r.chain_count, ==, PKI_MAX_CHAIN);
    g_assert_true(r.has_certificate);
    pki_record_clear(&r);
    sk_X509_free(many);
    g_bytes_unref(big);

    sk_X509_pop_free(certs, X509_free);
    g_bytes_unref(chain);
    g_bytes_unref(leaf);
    g_free(pem);
    g_free(b64);
    g_bytes_unref(p7b);
}

static void test_submission_denied(void)
{
    pki_record_t r;
    submit(pki_fx_rejected_form, strlen(pki_fx_rejected_form), false, 200, pki_fx_rejected_page,
           strlen(pki_fx_rejected_page), false, &r);
    g_assert_cmpstr(r.template_name, ==, "CiscoRAx");
    g_assert_true(r.has_csr);
    g_assert_cmpstr(r.csr_subject, ==, PHONE_SUBJECT);
    g_assert_cmpstr(r.csr_modulus_md5, ==, REJECTED_MD5);
    g_assert_cmpint(r.outcome, ==, PKI_OUTCOME_DENIED);
    g_assert_cmpint(r.req_id, ==, 0); /* "Your Request Id is 0." */
    g_assert_cmpstr(r.disposition, ==, "0x80094800 (-2146875392 CERTSRV_E_UNSUPPORTED_CERT_TYPE)");
    g_assert_cmpstr(r.outcome_message, ==,
                    "Denied by Policy Module: The request was for a certificate template that is not "
                    "supported by the Active Directory Certificate Services policy: CiscoRAx.");
    pki_record_clear(&r);
}

/* Pages written here in the shape IIS gives them (seed 000, AD CS), with
 * the tags, entities and line breaks of hand-made ASP output. */
static const char iis_denied_page[] =
    "<HTML>\r\n<Head>\r\n<Meta HTTP-Equiv=\"Content-Type\" Content=\"text/html; charset=UTF-8\">\r\n"
    "<Title>Microsoft Active Directory Certificate Services</Title>\r\n</Head>\r\n"
    "<Body BgColor=#FFFFFF LINK=#0000FF VLINK=#0000FF ALINK=#0000FF><Font ID=locPageFont Face=\"Arial\">\r\n"
    "<Table Border=0 CellSpacing=0 CellPadding=4 Width=100% BgColor=#008080>\r\n<TR>\r\n"
    "\t<TD><Font Color=#FFFFFF><LocID ID=locMSCertSrv><Font Face=\"Arial\" Size=-1><B><I>"
    "Microsoft</I></B> Active Directory Certificate Services</Font></LocID></Font></TD>\r\n"
    "\t<TD ID=locHomeAlign Align=Right><A Href=\"/certsrv\"><Font Color=#FFFFFF>"
    "<LocID ID=locHomeLink><Font Face=\"Arial\" Size=-1><B>Home</B></Font></LocID></Font></A></TD>\r\n"
    "</TR>\r\n</Table>\r\n<P ID=locPageTitle> <B> Certificate&nbsp;Request&nbsp;Denied </B>\r\n"
    "<!-- Green HR --><Table Border=0 CellSpacing=0 CellPadding=0 Width=100%><TR><TD BgColor=#008080>"
    "<Img Src=\"certspc.gif\" Alt=\"\" Height=2 Width=1></TD></TR></Table>\r\n"
    "<P><Font ID=locDenied>Your certificate request was denied.</Font>\r\n"
    "<P><LocID ID=locInfoReqIDAndReason>Your Request Id is 45. The disposition message is "
    "&quot;Denied by Policy Module  0x80094801, The request contains no certificate template "
    "information. &quot;.</LocID>\r\n"
    "<P><LocID ID=locContactAdmin>Contact your administrator for further information.</LocID>\r\n"
    "</Font>\r\n</Body>\r\n</HTML>\r\n";

static const char iis_error_page[] =
    "<HTML><Head><Title>Microsoft Active Directory Certificate Services</Title></Head>\r\n"
    "<Body><P ID=locPageTitle> <B> Certificate Request Error </B>\r\n"
    "<P><LocID ID=locErrorMsg>Your certificate request failed because of an error.</LocID>\r\n"
    "<P><LocID ID=locErrorCode>Error Parsing Request&nbsp;&nbsp;ASN1 bad tag value met. "
    "0x8009310b (ASN: 267 CRYPT_E_ASN1_BADTAG)</LocID>\r\n"
    "<P>Contact your administrator for further information.\r\n</Body></HTML>\r\n";

static const char iis_pending_page[] =
    "<HTML><Head><Title>Microsoft Active Directory Certificate Services</Title></Head>\r\n"
    "<Body><P ID=locPageTitle> <B> Certificate Pending </B>\r\n"
    "<P ID=locInfoPend>Your certificate request has been received. However, you must wait for an "
    "administrator to issue the certificate you requested.\r\n"
    "<P ID=locReqID>Your Request Id is <B>26</B>.\r\n"
    "<P ID=locInfoReturn>Please return to this web site in a day or two to retrieve your "
    "certificate.\r\n</Body></HTML>\r\n";

static const char pending_dm_page[] =
    "<p>Certificate Pending</p><p>Your Request Id is 31. The disposition message is "
    "\"Taken Under Submission\".</p>";

static void test_submission_pages(void)
{
    pki_record_t r;
    submit(NULL, 0, false, 200, iis_denied_page, strlen(iis_denied_page), false, &r);
    g_assert_cmpint(r.outcome, ==, PKI_OUTCOME_DENIED);
    g_assert_cmpint(r.req_id, ==, 45);
    g_assert_cmpstr(r.disposition, ==, "0x80094801");
    g_assert_cmpstr(r.outcome_message, ==,
                    "Denied by Policy Module 0x80094801, The request contains no certificate "
                    "template information.");
    g_assert_false(r.has_csr);
    pki_record_clear(&r);

    submit(NULL, 0, false, 200, iis_error_page, strlen(iis_error_page), false, &r);
    g_assert_cmpint(r.outcome, ==, PKI_OUTCOME_DENIED);
    g_assert_cmpint(r.req_id, ==, -1);
    g_assert_cmpstr(r.disposition, ==, "0x8009310b (ASN: 267 CRYPT_E_ASN1_BADTAG)");
    g_assert_cmpstr(r.outcome_message, ==, "Error Parsing Request ASN1 bad tag value met.");
    pki_record_clear(&r);

    submit(NULL, 0, false, 200, iis_pending_page, strlen(iis_pending_page), false, &r);
    g_assert_cmpint(r.outcome, ==, PKI_OUTCOME_PENDING);
    g_assert_cmpint(r.req_id, ==, 26);
    g_assert_cmpstr(r.outcome_message, ==, "Certificate Pending");
    g_assert_cmpstr(r.disposition, ==, "");
    pki_record_clear(&r);

    submit(NULL, 0, false, 200, pending_dm_page, strlen(pending_dm_page), false, &r);
    g_assert_cmpint(r.outcome, ==, PKI_OUTCOME_PENDING);
    g_assert_cmpint(r.req_id, ==, 31);
    g_assert_cmpstr(r.outcome_message, ==, "Taken Under Submission");
    pki_record_clear(&r);

    /* the issued page of seed 000: the ReqID is in the script's link */
    static const char seed_issued[] =
        "<P ID=locPageTitle> Certificate Issued </P>\n<P>The certificate you requested was issued "
        "to you.\n<Script>\nfunction handleGetCert() {\n    location=\"certnew.cer?ReqID=77&\"+"
        "getEncoding();\n}\n</Script>";
    submit(NULL, 0, false, 200, seed_issued, strlen(seed_issued), false, &r);
    g_assert_cmpint(r.outcome, ==, PKI_OUTCOME_ISSUED);
    g_assert_cmpint(r.req_id, ==, 77);
    pki_record_clear(&r);

    /* issued, with the link part not kept: the title still says it */
    static const char issued_no_link[] = "<P ID=locPageTitle>Certificate Issued</P><P>The "
                                         "certificate you requested was issued to you.</P>";
    submit(NULL, 0, false, 200, issued_no_link, strlen(issued_no_link), false, &r);
    g_assert_cmpint(r.outcome, ==, PKI_OUTCOME_ISSUED);
    g_assert_cmpint(r.req_id, ==, -1);
    pki_record_clear(&r);

    /* a page that says none of these */
    static const char other[] = "<html><body><p>Welcome</p><p>Request a certificate</p></body></html>";
    submit(NULL, 0, false, 200, other, strlen(other), false, &r);
    g_assert_cmpint(r.outcome, ==, PKI_OUTCOME_NONE);
    g_assert_cmpstr(r.outcome_message, ==, "");
    pki_record_clear(&r);

    /* entities, comments and control bytes in a denial */
    static const char odd[] = "<!-- denied? not here --><P>Certificate Request Denied</P>"
                              "<P>The disposition message is \"Policy &#8220;x&#8221; &lt;b&gt;"
                              "\x01\x1b[1m&#1;&#xD800;&bogus;&#99999999999;\".</P>";
    submit(NULL, 0, false, 200, odd, strlen(odd), false, &r);
    g_assert_cmpint(r.outcome, ==, PKI_OUTCOME_DENIED);
    g_assert_cmpstr(r.outcome_message, ==,
                    "Policy \xe2\x80\x9cx\xe2\x80\x9d <b>\\x01\\x1b[1m ?&bogus;?");
    pki_record_clear(&r);
}

static void test_key_mismatch(void)
{
    pki_record_t form, cert;
    submit(pki_fx_mismatch_form, strlen(pki_fx_mismatch_form), false, 0, NULL, 0, false, &form);
    exchange_t x = { .method = "GET", .uri = "/certsrv/certnew.cer?ReqID=10&Enc=b64", .status = 200,
                     .resp_type = "application/pkix-cert", .resp = pki_fx_mismatch_cer_b64,
                     .resp_len = strlen(pki_fx_mismatch_cer_b64) };
    run(&x, &cert);
    g_assert_true(form.has_csr);
    g_assert_true(cert.has_certificate);
    /* same subject, another key: CSR_CERT_KEY_MISMATCH's evidence */
    g_assert_cmpstr(form.csr_subject, ==, cert.certificate.subject);
    g_assert_cmpstr(form.csr_modulus_md5, ==, MISMATCH_CSR_MD5);
    g_assert_cmpstr(cert.certificate.modulus_md5, ==, MISMATCH_CERT_MD5);
    g_assert_cmpstr(form.csr_modulus_md5, !=, cert.certificate.modulus_md5);
    pki_record_clear(&form);
    pki_record_clear(&cert);

    /* and the good capture's pair agrees */
    submit(pki_fx_ok_form, strlen(pki_fx_ok_form), false, 0, NULL, 0, false, &form);
    x.resp = pki_fx_ok_cer_b64;
    x.resp_len = strlen(pki_fx_ok_cer_b64);
    run(&x, &cert);
    g_assert_cmpstr(form.csr_modulus_md5, ==, cert.certificate.modulus_md5);
    pki_record_clear(&form);
    pki_record_clear(&cert);
}

/* ------------------------------------------------------------------ */
/* EST                                                                */

static void test_est(void)
{
    pki_record_t r;
    exchange_t x = { "POST", "/.well-known/est/simpleenroll", "application/pkcs10", pki_fx_est_csr,
                     strlen(pki_fx_est_csr), false, 200, "application/pkcs7-mime; smime-type=certs-only",
                     pki_fx_est_p7, strlen(pki_fx_est_p7), false };
    run(&x, &r);
    g_assert_cmpint(r.kind, ==, PKI_EST);
    g_assert_cmpint(r.step, ==, PKI_STEP_EST_SIMPLEENROLL);
    g_assert_cmpstr(r.operation, ==, "simpleenroll");
    g_assert_true(r.has_csr);
    g_assert_cmpstr(r.csr_subject, ==, PHONE_SUBJECT);
    g_assert_cmpstr(r.csr_modulus_md5, ==, EST_MD5);
    g_assert_true(r.has_certificate);
    g_assert_cmpstr(r.certificate.subject, ==, PHONE_SUBJECT);
    g_assert_cmpstr(r.certificate.issuer_cn, ==, ISSUING_CN);
    g_assert_cmpstr(r.certificate.modulus_md5, ==, EST_MD5);
    g_assert_cmpint(r.certificate.kind, ==, CERT_KIND_CA_ISSUED);
    g_assert_cmpuint(r.chain_count, ==, 1);
    g_assert_cmpstr(r.chain[0].sha1, ==, r.certificate.sha1);
    g_assert_cmpint(r.req_id, ==, -1);
    g_assert_cmpint(r.outcome, ==, PKI_OUTCOME_NONE);
    g_assert_false(r.body_truncated);
    pki_record_clear(&r);

    /* with a label, and as simplereenroll */
    x.uri = "/.well-known/est/capf/simpleenroll";
    run(&x, &r);
    g_assert_cmpint(r.step, ==, PKI_STEP_EST_SIMPLEENROLL);
    g_assert_true(r.has_csr);
    g_assert_true(r.has_certificate);
    pki_record_clear(&r);
    x.uri = "/.well-known/est/simplereenroll";
    run(&x, &r);
    g_assert_cmpint(r.step, ==, PKI_STEP_EST_SIMPLEREENROLL);
    g_assert_cmpstr(r.csr_modulus_md5, ==, EST_MD5);
    g_assert_cmpstr(r.certificate.modulus_md5, ==, EST_MD5);
    pki_record_clear(&r);

    /* EST_ENROLL_FAILED: 401, the CSR still read */
    x.uri = "/.well-known/est/simpleenroll";
    x.status = 401;
    x.resp = "";
    x.resp_len = 0;
    run(&x, &r);
    g_assert_true(r.has_csr);
    g_assert_false(r.has_certificate);
    pki_record_clear(&r);

    /* binary (DER) request and response bodies are taken too */
    GBytes *csr_der = unbase64(pki_fx_est_csr);
    GBytes *p7_der = unbase64(pki_fx_est_p7);
    x.req = g_bytes_get_data(csr_der, &x.req_len);
    x.resp = g_bytes_get_data(p7_der, &x.resp_len);
    x.status = 200;
    run(&x, &r);
    g_assert_cmpstr(r.csr_modulus_md5, ==, EST_MD5);
    g_assert_cmpstr(r.certificate.modulus_md5, ==, EST_MD5);
    pki_record_clear(&r);
    g_bytes_unref(csr_der);
    g_bytes_unref(p7_der);

    /* cacerts: the chain */
    exchange_t ca = { .method = "GET", .uri = "/.well-known/est/cacerts", .status = 200,
                      .resp_type = "application/pkcs7-mime", .resp = pki_fx_est_cacerts,
                      .resp_len = strlen(pki_fx_est_cacerts) };
    run(&ca, &r);
    g_assert_cmpint(r.step, ==, PKI_STEP_EST_CACERTS);
    g_assert_cmpuint(r.chain_count, ==, 2);
    g_assert_cmpstr(r.chain[0].subject_cn, ==, ISSUING_CN);
    g_assert_cmpstr(r.chain[1].subject_cn, ==, ROOT_CN);
    g_assert_false(r.has_certificate);
    g_assert_false(r.has_csr);
    pki_record_clear(&r);

    /* csrattrs: the step, nothing more */
    ca.uri = "/.well-known/est/csrattrs";
    ca.resp = "MAsGCSqGSIb3DQEJBw==";
    ca.resp_len = strlen(ca.resp);
    run(&ca, &r);
    g_assert_cmpint(r.step, ==, PKI_STEP_EST_CSRATTRS);
    g_assert_cmpuint(r.chain_count, ==, 0);
    g_assert_false(r.has_certificate);
    pki_record_clear(&r);
}

/* ------------------------------------------------------------------ */
/* SCEP                                                               */

static void test_scep(void)
{
    GBytes *der = unbase64(pki_fx_scep_cacert_der_b64);
    pki_record_t r;
    exchange_t x = { .method = "GET", .uri = "/cgi-bin/pkiclient.exe?operation=GetCACert&message=GETVPN",
                     .status = 200, .resp_type = "application/x-x509-ca-cert" };
    x.resp = g_bytes_get_data(der, &x.resp_len);
    run(&x, &r);
    g_assert_cmpint(r.kind, ==, PKI_SCEP);
    g_assert_cmpint(r.step, ==, PKI_STEP_SCEP_GETCACERT);
    g_assert_cmpstr(r.operation, ==, "GetCACert");
    g_assert_true(r.has_certificate);
    g_assert_cmpstr(r.certificate.subject_cn, ==, ROOT_CN);
    g_assert_cmpint(r.certificate.kind, ==, CERT_KIND_SELF_SIGNED);
    g_assert_cmpuint(r.chain_count, ==, 0);
    pki_record_clear(&r);

    /* an RA's answer: a PKCS#7 of CA and RA certificates */
    GBytes *cacerts = est_cacerts_der();
    x.resp_type = "application/x-x509-ca-ra-cert";
    x.resp = g_bytes_get_data(cacerts, &x.resp_len);
    run(&x, &r);
    g_assert_cmpuint(r.chain_count, ==, 2);
    g_assert_false(r.has_certificate);
    pki_record_clear(&r);

    /* GetNextCACert 404: SCEP_NO_SHADOW_CA is the status alone */
    x.uri = "/cgi-bin/pkiclient.exe?operation=GetNextCACert&message=GETVPN";
    x.status = 404;
    x.resp = "404 Not Found";
    x.resp_len = strlen(x.resp);
    run(&x, &r);
    g_assert_cmpint(r.step, ==, PKI_STEP_SCEP_GETNEXTCACERT);
    g_assert_cmpuint(r.chain_count, ==, 0);
    g_assert_false(r.has_certificate);
    pki_record_clear(&r);

    /* GetNextCACert 200: a SignedData whose content is the certs-only
     * PKCS#7 of the rollover certificate; the signer's certificates
     * outside are not the answer */
    STACK_OF(X509) *cas = p7_certs(cacerts);
    STACK_OF(X509) *next = sk_X509_new_null();
    STACK_OF(X509) *signer = sk_X509_new_null();
    sk_X509_push(next, sk_X509_value(cas, 1));
    sk_X509_push(signer, sk_X509_value(cas, 0));
    GBytes *inner = build_p7(next, NULL);
    GBytes *outer = build_p7(signer, inner);
    x.status = 200;
    x.resp_type = "application/x-x509-next-ca-cert";
    x.resp = g_bytes_get_data(outer, &x.resp_len);
    run(&x, &r);
    g_assert_cmpuint(r.chain_count, ==, 1);
    g_assert_cmpstr(r.chain[0].subject_cn, ==, ROOT_CN);
    pki_record_clear(&r);
    /* a plain certs-only answer is taken as it is */
    x.resp = g_bytes_get_data(cacerts, &x.resp_len);
    run(&x, &r);
    g_assert_cmpuint(r.chain_count, ==, 2);
    pki_record_clear(&r);

    /* GetCACaps and PKIOperation: the step */
    x.uri = "/cgi-bin/pkiclient.exe?operation=GetCACaps&message=GETVPN";
    x.resp_type = "text/plain";
    x.resp = pki_fx_scep_cacaps;
    x.resp_len = strlen(pki_fx_scep_cacaps);
    run(&x, &r);
    g_assert_cmpint(r.step, ==, PKI_STEP_SCEP_GETCACAPS);
    g_assert_cmpuint(r.chain_count, ==, 0);
    pki_record_clear(&r);
    x.method = "POST";
    x.uri = "/cgi-bin/pkiclient.exe?operation=PKIOperation";
    x.req = g_bytes_get_data(der, &x.req_len);
    run(&x, &r);
    g_assert_cmpint(r.step, ==, PKI_STEP_SCEP_PKIOPERATION);
    g_assert_false(r.has_csr);
    pki_record_clear(&r);

    sk_X509_free(next);
    sk_X509_free(signer);
    sk_X509_pop_free(cas, X509_free);
    g_bytes_unref(inner);
    g_bytes_unref(outer);
    g_bytes_unref(cacerts);
    g_bytes_unref(der);
}

/* ------------------------------------------------------------------ */
/* Bodies cut by the cap                                              */

static size_t offset_of(const char *hay, const char *needle)
{
    const char *p = strstr(hay, needle);
    g_assert_nonnull(p);
    return (size_t)(p - hay);
}

static void test_truncated_form(void)
{
    const char *form = pki_fx_ok_form;
    size_t len = strlen(form);
    /* a field is whole once the '&' after it is there */
    size_t csr_whole = offset_of(form, "&CertAttrib") + 1;
    size_t attrib_whole = offset_of(form, "&TargetStoreFlags") + 1;
    for (size_t n = 0; n <= len; n++) {
        pki_record_t r;
        submit(form, n, true, 0, NULL, 0, false, &r);
        g_assert_true(r.body_truncated);
        g_assert_cmpint(r.has_csr, ==, n >= csr_whole);
        if (r.has_csr)
            g_assert_cmpstr(r.csr_modulus_md5, ==, OK_MD5);
        g_assert_cmpstr(r.template_name, ==, n >= attrib_whole ? "CiscoRA" : "");
        pki_record_clear(&r);
    }
}

static void test_truncated_p7b(void)
{
    GBytes *p7b = unbase64(pki_fx_ok_p7b_der_b64);
    gsize len;
    const uint8_t *data = g_bytes_get_data(p7b, &len);
    unsigned last = 0;
    for (size_t n = 0; n < len; n++) {
        pki_record_t r;
        exchange_t x = { .method = "GET", .uri = "/certsrv/certnew.p7b?ReqID=CACert&Enc=bin",
                         .status = 200, .resp = data, .resp_len = n, .resp_cut = true };
        run(&x, &r);
        g_assert_true(r.body_truncated);
        g_assert_cmpuint(r.chain_count, >=, last); /* whole certificates are kept */
        g_assert_cmpuint(r.chain_count, <=, 2);
        if (r.chain_count >= 1)
            g_assert_cmpstr(r.chain[0].subject_cn, ==, ISSUING_CN);
        if (r.chain_count == 2)
            g_assert_cmpstr(r.chain[1].subject_cn, ==, ROOT_CN);
        last = r.chain_count;
        pki_record_clear(&r);
    }
    g_assert_cmpuint(last, ==, 2); /* before the end: only the empty signerInfos missing */
    g_bytes_unref(p7b);

    /* base64 bodies cut anywhere: EST's answer and certnew.cer */
    const char *est = pki_fx_est_p7;
    for (size_t n = 0; n < strlen(est); n++) {
        pki_record_t r;
        exchange_t x = { "POST", "/.well-known/est/simpleenroll", NULL, pki_fx_est_csr,
                         strlen(pki_fx_est_csr), false, 200, NULL, est, n, true };
        run(&x, &r);
        g_assert_true(r.body_truncated);
        g_assert_true(r.has_csr);
        if (r.has_certificate)
            g_assert_cmpstr(r.certificate.modulus_md5, ==, EST_MD5);
        pki_record_clear(&r);
    }
    const char *cer = pki_fx_ok_cer_b64;
    for (size_t n = 0; n < strlen(cer); n++) {
        pki_record_t r;
        exchange_t x = { .method = "GET", .uri = "/certsrv/certnew.cer?ReqID=10&Enc=b64",
                         .status = 200, .resp = cer, .resp_len = n, .resp_cut = true };
        run(&x, &r);
        g_assert_true(r.body_truncated);
        if (r.has_certificate)
            g_assert_cmpstr(r.certificate.serial, ==, OK_SERIAL);
        pki_record_clear(&r);
    }
}

static void test_truncated_pages(void)
{
    const char *page = pki_fx_ok_page;
    for (size_t n = 0; n <= strlen(page); n++) {
        pki_record_t r;
        submit(NULL, 0, false, 200, page, n, true, &r);
        g_assert_true(r.body_truncated);
        /* never a cut number: "ReqID=1" of "ReqID=10" */
        g_assert_true(r.req_id == -1 || r.req_id == 10);
        g_assert_true(r.outcome == PKI_OUTCOME_NONE || r.outcome == PKI_OUTCOME_ISSUED);
        if (r.req_id == 10)
            g_assert_cmpint(r.outcome, ==, PKI_OUTCOME_ISSUED);
        pki_record_clear(&r);
    }
    page = pki_fx_rejected_page;
    for (size_t n = 0; n <= strlen(page); n++) {
        pki_record_t r;
        submit(NULL, 0, false, 200, page, n, true, &r);
        g_assert_true(r.outcome == PKI_OUTCOME_NONE || r.outcome == PKI_OUTCOME_DENIED);
        g_assert_true(r.req_id == -1 || r.req_id == 0);
        g_assert_true(!r.disposition[0] || g_str_has_prefix(r.disposition, "0x80094800"));
        g_assert_true(!r.outcome_message[0] || g_str_has_prefix(r.outcome_message, "Certificate") ||
                      g_str_has_prefix(r.outcome_message, "Denied"));
        pki_record_clear(&r);
    }
    /* a cut body that was not needed is not reported */
    pki_record_t r;
    exchange_t x = { .method = "GET", .uri = "/certsrv/certrqxt.asp", .status = 200,
                     .resp = page, .resp_len = 10, .resp_cut = true };
    run(&x, &r);
    g_assert_false(r.body_truncated);
    pki_record_clear(&r);
    x.uri = "/certsrv/certfnsh.asp";
    x.method = "POST";
    x.resp_cut = false;
    x.req_cut = true; /* the form was not kept at all */
    run(&x, &r);
    g_assert_true(r.body_truncated);
    pki_record_clear(&r);
}

/* ------------------------------------------------------------------ */
/* Garbage                                                            */

static const char *const garbage_uris[] = {
    "/certsrv/certfnsh.asp",
    "/certsrv/certnew.cer?ReqID=10&Enc=bin",
    "/certsrv/certnew.p7b?ReqID=10&Enc=bin",
    "/certsrv/certnew.p7b?ReqID=CACert",
    "/.well-known/est/simpleenroll",
    "/.well-known/est/cacerts",
    "/cgi-bin/pkiclient.exe?operation=GetCACert",
    "/cgi-bin/pkiclient.exe?operation=GetNextCACert",
};

static void dissect_everywhere(const uint8_t *body, size_t len)
{
    for (size_t i = 0; i < G_N_ELEMENTS(garbage_uris); i++) {
        pki_record_t r;
        exchange_t x = { "POST", garbage_uris[i], NULL, body, len, false, 200, NULL, body, len, false };
        run(&x, &r);
        pki_record_clear(&r);
    }
}

static void test_garbage(void)
{
    /* DER headers that lie, nest deep or never end */
    static const uint8_t lies[][12] = {
        { 0x30, 0x84, 0x7f, 0xff, 0xff, 0xff, 0x06, 0x09 },
        { 0x30, 0x80, 0x30, 0x80, 0x30, 0x80, 0x30, 0x80, 0x00, 0x00 },
        { 0x30, 0x85, 0x01, 0x00, 0x00, 0x00, 0x00 },
        { 0x30, 0x0a, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07 },
        { 0x30 },
    };
    for (size_t i = 0; i < G_N_ELEMENTS(lies); i++)
        for (size_t n = 0; n <= sizeof(lies[i]); n++)
            dissect_everywhere(lies[i], n);
    /* a PKCS#7 whose certificate set holds a lie */
    static const uint8_t p7_lie[] = { 0x30, 0x20, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01,
                                      0x07, 0x02, 0xa0, 0x13, 0x30, 0x11, 0x02, 0x01, 0x01, 0x31, 0x00,
                                      0x30, 0x00, 0xa0, 0x08, 0x30, 0x84, 0xff, 0xff, 0xff, 0xff, 0x00 };
    dissect_everywhere(p7_lie, sizeof(p7_lie));

    static const char *const texts[] = {
        "", "=", "&&&&", "CertRequest", "CertRequest=", "CertRequest=%", "CertRequest=%2",
        "CertRequest=-----", "CertRequest=-----BEGIN", "CertRequest=====", "CertAttrib=%0D%0A%0D",
        "CertAttrib=CertificateTemplate:", "-----BEGIN PKCS7-----", "-----BEGIN PKCS7-----\nMII",
        "MIIGyQYJKoZIhvcNAQcCoIIGujCCBrYCAQExADALBgkqhkiG9w0BBwGgggae====", "\xef\xbb\xbfMIIB",
        "<", "<<<<", "<!--", "<script>", "<script>certnew.cer?ReqID=5&", "<p", "<p a='", "&", "&#",
        "&#x", "&#xFFFFFFFFFF;", "&amp", "denied", "0x80094800", "0x80094800 (", "Request Id is ",
        "Request Id is 99999999999999999999999.", "disposition message is \"", "certnew.cer?ReqID=",
        "certnew.cer?ReqID=12", "certnew.cer?ReqID=12&", "error 0x8000000",
    };
    for (size_t i = 0; i < G_N_ELEMENTS(texts); i++)
        dissect_everywhere((const uint8_t *)texts[i], strlen(texts[i]));

    /* random bytes, and random bytes after a plausible start */
    GRand *rng = g_rand_new_with_seed(7030);
    static const char b64ish[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=\n-";
    static const char htmlish[] = "<>&;#x\"'=/ pPdenidDENID0x8()\nReqID=certnew.c?1";
    uint8_t buf[2048];
    for (int round = 0; round < 200; round++) {
        size_t n = (size_t)g_rand_int_range(rng, 0, (gint32)sizeof(buf));
        for (size_t k = 0; k < n; k++)
            buf[k] = (uint8_t)g_rand_int(rng);
        if (round % 4 == 1 && n > 2) {
            buf[0] = 0x30;
            buf[1] = 0x82;
        } else if (round % 4 == 2) {
            for (size_t k = 0; k < n; k++)
                buf[k] = (uint8_t)b64ish[g_rand_int_range(rng, 0, (gint32)sizeof(b64ish) - 1)];
        } else if (round % 4 == 3) {
            for (size_t k = 0; k < n; k++)
                buf[k] = (uint8_t)htmlish[g_rand_int_range(rng, 0, (gint32)sizeof(htmlish) - 1)];
        }
        dissect_everywhere(buf, n);
    }
    /* a real body with bytes flipped */
    GBytes *p7b = unbase64(pki_fx_ok_p7b_der_b64);
    gsize len;
    const uint8_t *data = g_bytes_get_data(p7b, &len);
    uint8_t *copy = g_memdup2(data, len);
    for (int round = 0; round < 300; round++) {
        memcpy(copy, data, len);
        for (int k = 0; k < 3; k++)
            copy[g_rand_int_range(rng, 0, (gint32)len)] = (uint8_t)g_rand_int(rng);
        pki_record_t r;
        exchange_t x = { .method = "GET", .uri = "/certsrv/certnew.p7b?ReqID=CACert", .status = 200,
                         .resp = copy, .resp_len = len };
        run(&x, &r);
        pki_record_clear(&r);
    }
    g_free(copy);
    g_bytes_unref(p7b);
    g_rand_free(rng);

    /* NULL everything */
    pki_dissect(NULL, NULL, NULL, (byte_span_t){ NULL, 0 }, false, 0, NULL, (byte_span_t){ NULL, 0 },
                false, NULL, NULL);
    pki_record_t r;
    pki_dissect("POST", "/certsrv/certfnsh.asp", NULL, (byte_span_t){ NULL, 5 }, true, 200, NULL,
                (byte_span_t){ NULL, 9 }, true, NULL, &r);
    assert_record_sane(&r);
    g_assert_true(r.body_truncated);
    pki_record_clear(&r);
}

static void test_record_clear(void)
{
    pki_record_t r;
    memset(&r, 0, sizeof(r));
    pki_record_clear(&r);
    g_assert_cmpint(r.req_id, ==, -1);
    g_assert_cmpint(r.kind, ==, PKI_NONE);
    pki_record_clear(&r);
    pki_record_clear(NULL);
    exchange_t x = { .method = "GET", .uri = "/.well-known/est/cacerts", .status = 200,
                     .resp = pki_fx_est_cacerts, .resp_len = strlen(pki_fx_est_cacerts) };
    run(&x, &r);
    g_assert_cmpuint(r.chain_count, ==, 2);
    pki_record_clear(&r);
    g_assert_cmpuint(r.chain_count, ==, 0);
    g_assert_null(r.chain[0].subject);
    pki_record_clear(&r);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/pki/names", test_names);
    g_test_add_func("/pki/classify", test_classify);
    g_test_add_func("/pki/classify-hostile", test_classify_hostile);
    g_test_add_func("/pki/certsrv/submission-issued", test_submission_issued);
    g_test_add_func("/pki/certsrv/submission-form-variants", test_submission_form_variants);
    g_test_add_func("/pki/certsrv/submission-denied", test_submission_denied);
    g_test_add_func("/pki/certsrv/submission-pages", test_submission_pages);
    g_test_add_func("/pki/certsrv/cert-retrieval", test_cert_retrieval);
    g_test_add_func("/pki/certsrv/chain-retrieval", test_chain_retrieval);
    g_test_add_func("/pki/certsrv/key-mismatch", test_key_mismatch);
    g_test_add_func("/pki/est", test_est);
    g_test_add_func("/pki/scep", test_scep);
    g_test_add_func("/pki/truncated/form", test_truncated_form);
    g_test_add_func("/pki/truncated/p7b", test_truncated_p7b);
    g_test_add_func("/pki/truncated/pages", test_truncated_pages);
    g_test_add_func("/pki/garbage", test_garbage);
    g_test_add_func("/pki/record-clear", test_record_clear);
    return g_test_run();
}
