/* est-client: CAPF's EST client (libEST, User-Agent "Cisco EST client 1.0")
 * enrolling a phone's key at CES / CiscoRA (RFC 7030):
 *
 *   cacerts   GET /.well-known/est/cacerts -> base64 PKCS#7 CA certificates
 *   enroll    POST /.well-known/est/simpleenroll (or simplereenroll), HTTP
 *             Basic, body the base64 PKCS#10 of a fresh RSA 2048 key ->
 *             base64 PKCS#7 with the certificate, or 401 (EST_ERR_AUTH_FAIL)
 *
 * One keep-alive connection carries both.  Exit codes as ces-client: 0
 * certificate received with the CSR's key, 1 TLS failure, 2 other failure,
 * 3 enrollment refused (EST_ENROLL_FAILED / TEMPLATE_REJECTED), 4 key
 * mismatch, 5 no answer within --timeout-ms (EST_ERR_SSL_READ).
 */
#include "enroll_lab.h"
#include "http_lab.h"
#include "lab.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROG "est-client"
#define USER_AGENT "Cisco EST client 1.0"
#define BODY_CAP (256u * 1024u)

typedef struct client {
    enroll_lab_client_opts_t net;
    const char *user;
    const char *password;
    const char *save_dir;
    char *host_header;
    SSL *ssl;
    int fd;
    http_lab_conn_t *http;
    http_lab_msg_t *resp;
} client_t;

static void save(const client_t *c, const char *name, const void *data, size_t len)
{
    if (!c->save_dir || !data)
        return;
    char *path = g_build_filename(c->save_dir, name, NULL);
    GError *err = NULL;
    if (!g_file_set_contents(path, data, (gssize)len, &err)) {
        lab_say(PROG, "cannot save %s: %s", path, err->message);
        g_error_free(err);
    }
    g_free(path);
}

static int exchange(client_t *c, const char *method, const char *target, const char *extra,
                    const char *body)
{
    http_lab_msg_clear(c->resp);
    GString *h = g_string_new(NULL);
    g_string_append_printf(h, "User-Agent: " USER_AGENT "\r\nConnection: keep-alive\r\n"
                              "Host: %s\r\nAccept: */*\r\n",
                           c->host_header);
    if (extra)
        g_string_append(h, extra);
    bool sent = http_lab_send_request(c->ssl, method, target, h->str, body, body ? strlen(body) : 0);
    g_string_free(h, TRUE);
    if (!sent) {
        lab_say(PROG, "%s %s: cannot send the request", method, target);
        return ENROLL_LAB_EXIT_OTHER;
    }
    http_lab_result_t r = http_lab_read_response(c->http, c->resp, false, BODY_CAP, c->net.timeout_ms);
    if (r == HTTP_LAB_TIMEOUT) {
        lab_say(PROG, "EST_ENROLL_FAILED: %s %s: no answer within %d ms: rv = 35 (EST_ERR_SSL_READ)",
                method, target, c->net.timeout_ms);
        return ENROLL_LAB_EXIT_TIMEOUT;
    }
    if (r != HTTP_LAB_OK) {
        lab_say(PROG, "%s %s: no usable answer (%s)", method, target, http_lab_result_name(r));
        return ENROLL_LAB_EXIT_OTHER;
    }
    lab_say(PROG, "%s %s -> %d %s", method, target, c->resp->status, c->resp->reason);
    return ENROLL_LAB_EXIT_OK;
}

/* The certificates of a base64 PKCS#7 answer. */
static STACK_OF(X509) *answer_certs(const http_lab_msg_t *m)
{
    if (!m->body)
        return NULL;
    size_t n = 0;
    unsigned char *der = http_lab_base64_decode((const char *)m->body, m->body_len, BODY_CAP, &n);
    STACK_OF(X509) *certs = der ? enroll_lab_pkcs7_certs(der, n) : NULL;
    g_free(der);
    return certs;
}

static int cacerts(client_t *c)
{
    int rc = exchange(c, "GET", "/.well-known/est/cacerts", NULL, NULL);
    if (rc)
        return rc;
    if (c->resp->status != 200) {
        lab_say(PROG, "cacerts: status %d", c->resp->status);
        return ENROLL_LAB_EXIT_OTHER;
    }
    STACK_OF(X509) *certs = answer_certs(c->resp);
    if (!certs || sk_X509_num(certs) == 0) {
        sk_X509_pop_free(certs, X509_free);
        lab_say(PROG, "cacerts: the answer is not a base64 PKCS#7");
        return ENROLL_LAB_EXIT_OTHER;
    }
    for (int i = 0; i < sk_X509_num(certs); i++) {
        char *s = enroll_lab_subject(sk_X509_value(certs, i));
        lab_say(PROG, "CA certificate: %s", s);
        g_free(s);
    }
    sk_X509_pop_free(certs, X509_free);
    return ENROLL_LAB_EXIT_OK;
}

static int enroll(client_t *c, X509_REQ *req, bool reenroll)
{
    GByteArray *der = enroll_lab_csr_der(req);
    if (!der)
        return ENROLL_LAB_EXIT_OTHER;
    char *body = http_lab_base64_lines(der->data, der->len);
    g_byte_array_unref(der);
    char *cred = g_strdup_printf("%s:%s", c->user, c->password);
    gchar *cred64 = g_base64_encode((const guchar *)cred, strlen(cred));
    char *extra = g_strdup_printf("Content-Type: application/pkcs10\r\nAuthorization: Basic %s\r\n",
                                  cred64);
    const char *target = reenroll ? "/.well-known/est/simplereenroll" : "/.well-known/est/simpleenroll";
    int rc = exchange(c, "POST", target, extra, body);
    g_free(body);
    g_free(cred);
    g_free(cred64);
    g_free(extra);
    if (rc)
        return rc;
    if (c->resp->status == 401) {
        lab_say(PROG, "EST_ENROLL_FAILED: Enrollment rv = 22 (EST_ERR_AUTH_FAIL) with pkcs7 length = 0");
        return ENROLL_LAB_EXIT_DENIED;
    }
    if (c->resp->status < 200 || c->resp->status > 299) {
        lab_say(PROG, "EST_ENROLL_FAILED: status %d", c->resp->status);
        return ENROLL_LAB_EXIT_DENIED;
    }
    STACK_OF(X509) *certs = answer_certs(c->resp);
    if (!certs || sk_X509_num(certs) == 0) {
        sk_X509_pop_free(certs, X509_free);
        lab_say(PROG, "the enrollment answer is not a base64 PKCS#7 with a certificate");
        return ENROLL_LAB_EXIT_OTHER;
    }
    X509 *cert = sk_X509_value(certs, 0);
    lab_say(PROG, "Enrollment rv = 0 (EST_ERR_NONE) with pkcs7 length = %zu", c->resp->body_len);
    char *subject = enroll_lab_subject(cert);
    lab_say(PROG, "ENROLLMENT: certificate for %s received", subject);
    g_free(subject);
    char *pem = enroll_lab_cert_pem(cert);
    if (pem)
        save(c, "cert.pem", pem, strlen(pem));
    g_free(pem);
    rc = enroll_lab_report_key_match(PROG, req, cert) ? ENROLL_LAB_EXIT_OK : ENROLL_LAB_EXIT_MISMATCH;
    sk_X509_pop_free(certs, X509_free);
    return rc;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: " PROG " --pki DIR [--host 127.0.0.1] [--port 8084] [--tls tls12-gcm|tls12-rsa-cbc|tls13]\n"
            "         [--keylog FILE] [--sni ces.example.test] [--trust trust-adcs.pem] [--no-verify]\n"
            "         [--check-host] [--user capf] [--password P] [--subject-cn SEP74A02FC0A675]\n"
            "         [--timeout-ms 10000] [--no-cacerts] [--reenroll] [--save-dir DIR]\n");
}

int main(int argc, char **argv)
{
    client_t c = { 0 };
    c.net = (enroll_lab_client_opts_t){
        .host = "127.0.0.1",
        .port = 8084,
        .variant = LAB_TLS12_ECDHE_GCM,
        .sni = "ces.example.test",
        .trust = "trust-adcs.pem",
        .timeout_ms = 10000,
    };
    c.user = "capf";
    c.password = "lab-password";
    c.fd = -1;
    const char *cn = "SEP74A02FC0A675";
    long port = 8084, timeout = 10000;
    bool no_cacerts = false, reenroll = false;
    enum { O_PKI = 1, O_HOST, O_PORT, O_TLS, O_KEYLOG, O_SNI, O_TRUST, O_NO_VERIFY, O_CHECK_HOST,
           O_USER, O_PASSWORD, O_CN, O_TIMEOUT, O_NO_CACERTS, O_REENROLL, O_SAVE, O_HELP };
    static const struct option longopts[] = {
        { "pki", required_argument, NULL, O_PKI },
        { "host", required_argument, NULL, O_HOST },
        { "port", required_argument, NULL, O_PORT },
        { "tls", required_argument, NULL, O_TLS },
        { "keylog", required_argument, NULL, O_KEYLOG },
        { "sni", required_argument, NULL, O_SNI },
        { "trust", required_argument, NULL, O_TRUST },
        { "no-verify", no_argument, NULL, O_NO_VERIFY },
        { "check-host", no_argument, NULL, O_CHECK_HOST },
        { "user", required_argument, NULL, O_USER },
        { "password", required_argument, NULL, O_PASSWORD },
        { "subject-cn", required_argument, NULL, O_CN },
        { "timeout-ms", required_argument, NULL, O_TIMEOUT },
        { "no-cacerts", no_argument, NULL, O_NO_CACERTS },
        { "reenroll", no_argument, NULL, O_REENROLL },
        { "save-dir", required_argument, NULL, O_SAVE },
        { "help", no_argument, NULL, O_HELP },
        { NULL, 0, NULL, 0 },
    };
    lab_set_program(PROG);
    int opt;
    bool ok = true;
    while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (opt) {
        case O_PKI: c.net.pki = optarg; break;
        case O_HOST: c.net.host = optarg; break;
        case O_PORT: ok = ok && lab_parse_long(optarg, 1, 65535, &port); break;
        case O_TLS: ok = ok && lab_tls_variant_parse(optarg, &c.net.variant); break;
        case O_KEYLOG: c.net.keylog = optarg; break;
        case O_SNI: c.net.sni = optarg; break;
        case O_TRUST: c.net.trust = optarg; break;
        case O_NO_VERIFY: c.net.no_verify = true; break;
        case O_CHECK_HOST: c.net.check_host = true; break;
        case O_USER: c.user = optarg; break;
        case O_PASSWORD: c.password = optarg; break;
        case O_CN: cn = optarg; break;
        case O_TIMEOUT: ok = ok && lab_parse_long(optarg, 1, 3600000, &timeout); break;
        case O_NO_CACERTS: no_cacerts = true; break;
        case O_REENROLL: reenroll = true; break;
        case O_SAVE: c.save_dir = optarg; break;
        case O_HELP: usage(); return 0;
        default: ok = false; break;
        }
    }
    if (!ok || optind != argc || !c.net.pki || strlen(c.net.sni) > 253) {
        usage();
        return ENROLL_LAB_EXIT_OTHER;
    }
    enroll_lab_ignore_sigpipe();
    c.net.port = (uint16_t)port;
    c.net.timeout_ms = (int)timeout;
    c.host_header = g_strdup_printf("%s:%ld", c.net.sni, port);
    c.http = g_new0(http_lab_conn_t, 1);
    c.resp = g_new0(http_lab_msg_t, 1);
    int rc;
    EVP_PKEY *key = enroll_lab_new_key();
    X509_REQ *req = key ? enroll_lab_make_csr(key, cn) : NULL;
    if (!req) {
        lab_ssl_errors(PROG, "cannot make the key and CSR");
        rc = ENROLL_LAB_EXIT_OTHER;
        goto out;
    }
    char *pem = enroll_lab_csr_pem(req);
    if (pem)
        save(&c, "csr.pem", pem, strlen(pem));
    g_free(pem);

    rc = enroll_lab_client_connect(PROG, &c.net, &c.ssl, &c.fd);
    if (rc)
        goto out;
    http_lab_conn_init(c.http, c.ssl);
    if (!no_cacerts)
        rc = cacerts(&c);
    if (rc == ENROLL_LAB_EXIT_OK)
        rc = enroll(&c, req, reenroll);
    enroll_lab_tls_finish(c.ssl, c.fd, 500);
    lab_say(PROG, "exit %d", rc);
out:
    http_lab_msg_clear(c.resp);
    g_free(c.resp);
    g_free(c.http);
    X509_REQ_free(req);
    EVP_PKEY_free(key);
    g_free(c.host_header);
    return rc;
}
