/* est-server: CES / CiscoRA's EST server (nginx + libEST, RFC 7030) as
 * CAPF's EST client meets it (failures.md, seed 000):
 *
 *   GET  /.well-known/est/cacerts         200 base64 PKCS#7 (adcs-issuing, adcs-root)
 *   POST /.well-known/est/simpleenroll    HTTP Basic + base64 PKCS#10 ->
 *   POST /.well-known/est/simplereenroll    200 base64 PKCS#7 certs-only (the certificate
 *                                           issued by adcs-issuing), or 401
 *                                           WWW-Authenticate: Basic realm="estrealm"
 *
 * --reject answers every enrollment 401 even with good credentials (the
 * template or CES login behind it failed: TEMPLATE_REJECTED /
 * EST_ENROLL_FAILED); --delay-ms holds enrollment answers back (CAPF gives
 * up after 10 s: EST_ERR_SSL_READ); --wrong-key issues for another key.
 */
#include "enroll_lab.h"
#include "http_lab.h"
#include "lab.h"

#include <getopt.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROG "est-server"
#define SERVER_HEADERS "Server: nginx\r\n"
#define BODY_CAP (64u * 1024u)
#define CSR_CAP (32u * 1024u)
#define IDLE_MS 75000 /* nginx keepalive_timeout */
#define REALM "estrealm"

typedef struct server {
    const char *user;
    const char *password;
    bool reject;
    int delay_ms;
    EVP_PKEY *wrong_key;
    enroll_lab_ca_t ca;
} server_t;

typedef struct conn {
    server_t *srv;
    SSL *ssl;
    http_lab_conn_t http;
} conn_t;

static bool send_text(conn_t *c, int status, const char *reason, const char *extra,
                      const char *type, const char *body)
{
    char *h = g_strdup_printf(SERVER_HEADERS "Content-Type: %s\r\n%s", type, extra ? extra : "");
    bool ok = http_lab_send_response(c->ssl, status, reason, h, body, strlen(body));
    g_free(h);
    return ok;
}

static int send_status(conn_t *c, int status, const char *reason)
{
    char *page = g_strdup_printf("<html>\r\n<head><title>%d %s</title></head>\r\n<body>\r\n"
                                 "<center><h1>%d %s</h1></center>\r\n<hr><center>nginx</center>\r\n"
                                 "</body>\r\n</html>\r\n",
                                 status, reason, status, reason);
    bool ok = send_text(c, status, reason, NULL, "text/html", page);
    g_free(page);
    return ok ? status : -1;
}

static int send_401(conn_t *c)
{
    return send_text(c, 401, "Unauthorized", "WWW-Authenticate: Basic realm=\"" REALM "\"\r\n",
                     "text/plain",
                     "The server was unable to authorize the request.\n")
               ? 401
               : -1;
}

static int send_pkcs7(conn_t *c, X509 *const *certs, size_t n, bool certs_only)
{
    GByteArray *der = enroll_lab_pkcs7(certs, n);
    if (!der)
        return -1;
    char *b64 = http_lab_base64_lines(der->data, der->len);
    g_byte_array_unref(der);
    bool ok = send_text(c, 200, "OK", "Content-Transfer-Encoding: base64\r\n",
                        certs_only ? "application/pkcs7-mime; smime-type=certs-only"
                                   : "application/pkcs7-mime",
                        b64);
    g_free(b64);
    return ok ? 200 : -1;
}

/* Whether an "Authorization: Basic ..." header names the accepted user and
 * password; *who gets the user name given (g_free). */
static bool basic_ok(const server_t *s, const char *authz, char **who)
{
    *who = NULL;
    if (!authz || g_ascii_strncasecmp(authz, "Basic ", 6) != 0)
        return false;
    size_t n = 0;
    unsigned char *raw = http_lab_base64_decode(authz + 6, strlen(authz + 6), 512, &n);
    if (!raw)
        return false;
    char *cred = g_strndup((const char *)raw, n);
    g_free(raw);
    char *colon = strchr(cred, ':');
    bool ok = false;
    if (colon && strlen(cred) == n) {
        *colon = '\0';
        *who = g_strdup(cred);
        size_t pl = strlen(colon + 1);
        ok = strcmp(cred, s->user) == 0 && pl == strlen(s->password) &&
             CRYPTO_memcmp(colon + 1, s->password, pl) == 0;
    }
    OPENSSL_cleanse(cred, n);
    g_free(cred);
    return ok;
}

static int handle_enroll(conn_t *c, const http_lab_msg_t *m)
{
    if (c->srv->delay_ms > 0) {
        lab_say(PROG, "holding the answer to %s for %d ms", m->target, c->srv->delay_ms);
        gint64 t0 = g_get_monotonic_time();
        if (!http_lab_wait_quiet(&c->http, c->srv->delay_ms)) {
            lab_say(PROG, "the client gave up after %lld ms without an answer",
                    (long long)((g_get_monotonic_time() - t0) / 1000));
            return 0;
        }
    }
    char *who = NULL;
    bool authed = basic_ok(c->srv, http_lab_header(m, "Authorization"), &who);
    if (!authed || c->srv->reject) {
        lab_say(PROG, "HTTP authentication failed for %s%s: rc=22 (EST_ERR_AUTH_FAIL)",
                who ? who : "(no credentials)",
                authed ? " (--reject: the CA login or template behind it failed)" : "");
        g_free(who);
        return send_401(c);
    }
    const char *type = http_lab_header(m, "Content-Type");
    if (!type || g_ascii_strncasecmp(type, "application/pkcs10", 18) != 0)
        lab_say(PROG, "warning: Content-Type is %s, not application/pkcs10", type ? type : "absent");
    size_t der_len = 0;
    unsigned char *der = m->body ? http_lab_base64_decode((const char *)m->body, m->body_len,
                                                          CSR_CAP, &der_len)
                                 : NULL;
    X509_REQ *req = der ? enroll_lab_csr_parse(der, der_len) : NULL;
    g_free(der);
    int status;
    if (!req) {
        lab_say(PROG, "the body is not a base64 PKCS#10 request");
        status = send_status(c, 400, "Bad Request");
    } else {
        X509 *cert = enroll_lab_issue(&c->srv->ca, req, c->srv->wrong_key);
        if (!cert) {
            lab_ssl_errors(PROG, "issuing failed");
            status = send_status(c, 500, "Internal Server Error");
        } else {
            char *subject = enroll_lab_subject(cert);
            lab_say(PROG, "issued to %s for %s%s", subject, who,
                    c->srv->wrong_key ? " (for ANOTHER key than the CSR's)" : "");
            g_free(subject);
            status = send_pkcs7(c, &cert, 1, true);
            X509_free(cert);
        }
    }
    X509_REQ_free(req);
    g_free(who);
    return status;
}

static int handle(conn_t *c, const http_lab_msg_t *m)
{
    bool get = strcmp(m->method, "GET") == 0;
    bool post = strcmp(m->method, "POST") == 0;
    if (http_lab_path_is(m->target, "/.well-known/est/cacerts")) {
        if (!get)
            return send_status(c, 405, "Not Allowed");
        X509 *chain[2] = { c->srv->ca.issuing, c->srv->ca.root };
        return send_pkcs7(c, chain, 2, false);
    }
    if (http_lab_path_is(m->target, "/.well-known/est/simpleenroll") ||
        http_lab_path_is(m->target, "/.well-known/est/simplereenroll"))
        return post ? handle_enroll(c, m) : send_status(c, 405, "Not Allowed");
    return send_status(c, 404, "Not Found");
}

static void serve(SSL *ssl, int fd, void *user)
{
    conn_t *c = g_new0(conn_t, 1);
    c->srv = user;
    c->ssl = ssl;
    http_lab_conn_init(&c->http, ssl);
    http_lab_msg_t *m = g_new0(http_lab_msg_t, 1);
    bool clean = true;
    for (;;) {
        http_lab_result_t r = http_lab_read_request(&c->http, m, BODY_CAP, IDLE_MS);
        if (r != HTTP_LAB_OK) {
            if (r == HTTP_LAB_MALFORMED)
                send_status(c, 400, "Bad Request");
            else if (r == HTTP_LAB_TOO_LARGE)
                send_status(c, 413, "Request Entity Too Large");
            if (r == HTTP_LAB_MALFORMED || r == HTTP_LAB_TOO_LARGE)
                http_lab_drain(&c->http, 500, 1024u * 1024u);
            clean = r != HTTP_LAB_IO_ERROR;
            lab_say(PROG, "connection ends: %s", http_lab_result_name(r));
            http_lab_msg_clear(m);
            break;
        }
        int status = handle(c, m);
        if (status > 0) {
            const char *ua = http_lab_header(m, "User-Agent");
            lab_say(PROG, "\"%s %s HTTP/1.%d\" %d \"%s\"", m->method, m->target, m->minor, status,
                    ua ? ua : "-");
        }
        bool more = status > 0 && http_lab_keep_alive(m);
        http_lab_msg_clear(m);
        if (!more) {
            clean = status >= 0;
            break;
        }
    }
    lab_tls_close(ssl, fd, clean);
    g_free(m);
    g_free(c);
}

static void usage(void)
{
    fprintf(stderr,
            "usage: " PROG " --pki DIR [--host 127.0.0.1] [--port 8084] [--tls tls12-gcm|tls12-rsa-cbc|tls13]\n"
            "         [--keylog FILE] [--cert ces-chain] [--user USER] [--password P] [--reject]\n"
            "         [--delay-ms MS] [--wrong-key] [--connections N (0: forever)]\n");
}

int main(int argc, char **argv)
{
    const char *pki = NULL, *host = "127.0.0.1", *keylog = NULL, *cert = "ces-chain";
    long port = 8084, delay = 0, connections = 1;
    lab_tls_variant_t variant = LAB_TLS12_ECDHE_GCM;
    bool wrong_key = false;
    server_t srv = { .user = "capf", .password = "lab-password" };
    enum { O_PKI = 1, O_HOST, O_PORT, O_TLS, O_KEYLOG, O_CERT, O_USER, O_PASSWORD, O_REJECT,
           O_DELAY, O_WRONG_KEY, O_CONNECTIONS, O_HELP };
    static const struct option longopts[] = {
        { "pki", required_argument, NULL, O_PKI },
        { "host", required_argument, NULL, O_HOST },
        { "port", required_argument, NULL, O_PORT },
        { "tls", required_argument, NULL, O_TLS },
        { "keylog", required_argument, NULL, O_KEYLOG },
        { "cert", required_argument, NULL, O_CERT },
        { "user", required_argument, NULL, O_USER },
        { "password", required_argument, NULL, O_PASSWORD },
        { "reject", no_argument, NULL, O_REJECT },
        { "delay-ms", required_argument, NULL, O_DELAY },
        { "wrong-key", no_argument, NULL, O_WRONG_KEY },
        { "connections", required_argument, NULL, O_CONNECTIONS },
        { "help", no_argument, NULL, O_HELP },
        { NULL, 0, NULL, 0 },
    };
    lab_set_program(PROG);
    int opt;
    bool ok = true;
    while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (opt) {
        case O_PKI: pki = optarg; break;
        case O_HOST: host = optarg; break;
        case O_PORT: ok = ok && lab_parse_long(optarg, 1, 65535, &port); break;
        case O_TLS: ok = ok && lab_tls_variant_parse(optarg, &variant); break;
        case O_KEYLOG: keylog = optarg; break;
        case O_CERT: cert = optarg; break;
        case O_USER: srv.user = optarg; break;
        case O_PASSWORD: srv.password = optarg; break;
        case O_REJECT: srv.reject = true; break;
        case O_DELAY: ok = ok && lab_parse_long(optarg, 0, 3600000, &delay); break;
        case O_WRONG_KEY: wrong_key = true; break;
        case O_CONNECTIONS: ok = ok && lab_parse_long(optarg, 0, 1000000, &connections); break;
        case O_HELP: usage(); return 0;
        default: ok = false; break;
        }
    }
    if (!ok || optind != argc || !pki || strchr(cert, '/') || strchr(srv.user, ':')) {
        usage();
        return 2;
    }
    enroll_lab_ignore_sigpipe();
    srv.delay_ms = (int)delay;
    int rc = 1;
    SSL_CTX *ctx = NULL;
    if (!enroll_lab_ca_load(PROG, pki, &srv.ca))
        goto out;
    if (wrong_key && !(srv.wrong_key = enroll_lab_new_key())) {
        lab_ssl_errors(PROG, "key generation failed");
        goto out;
    }
    ctx = enroll_lab_server_ctx(PROG, pki, cert, variant, keylog);
    if (!ctx)
        goto out;
    rc = enroll_lab_serve(PROG, host, (uint16_t)port, ctx, connections, serve, &srv);
out:
    SSL_CTX_free(ctx);
    EVP_PKEY_free(srv.wrong_key);
    enroll_lab_ca_free(&srv.ca);
    return rc;
}
