/* ces-client: CES / CiscoRA (User-Agent "CiscoRA 1.0") enrolling at AD CS
 * web enrollment, as seed 000's IIS log shows it:
 *
 *   login     GET /certsrv 401 -> (NTLM type 1) 401 -> (NTLM type 3) 301
 *   form      GET /certsrv/certrqxt.asp 200
 *   submit    [login again, unless it came just before] POST /certsrv/certfnsh.asp
 *             (Mode=newreq, CertRequest=<PEM CSR of a fresh RSA 2048 key>,
 *             CertAttrib=CertificateTemplate:<name>) -> page with certnew.cer?ReqID=<n>
 *   retrieve  GET /certsrv/certnew.cer?ReqID=<n>&Enc=b64 -> the certificate
 *   chain     GET /certsrv/certnew.p7b?ReqID=CACert&Renewal=0&Enc=bin (CES start-up)
 *
 * --steps chooses and orders them; one keep-alive connection carries all.
 * Every answer must come within --timeout-ms (CES: 10 s), else the client
 * gives up and closes (CA_LOGIN_TIMEOUT / CA_REQUEST_TIMEOUT).  Exit codes:
 * 0 done (certificate retrieved and carrying the CSR's key), 1 TLS failure,
 * 2 other failure, 3 authentication failed or request denied, 4 the
 * certificate's key is not the CSR's, 5 timeout.
 */
#include "enroll_lab.h"
#include "http_lab.h"
#include "lab.h"
#include "ntlm_lab.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROG "ces-client"
#define USER_AGENT "CiscoRA 1.0"
#define WORKSTATION "CES"
#define BODY_CAP (1024u * 1024u)
#define MAX_STEPS 16

typedef enum step {
    STEP_LOGIN = 0,
    STEP_FORM,
    STEP_SUBMIT,
    STEP_RETRIEVE,
    STEP_CHAIN,
} step_t;

static const char *const step_names[] = { "login", "form", "submit", "retrieve", "chain" };

typedef struct client {
    enroll_lab_client_opts_t net;
    char *domain;
    const char *user;
    const char *password;
    const char *tmpl;
    const char *cn;
    const char *save_dir;
    char *host_header;
    SSL *ssl;
    int fd;
    http_lab_conn_t *http;
    http_lab_msg_t *resp;
    EVP_PKEY *key;
    X509_REQ *req;
    long reqid;
    X509 *cert;
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

/* One request and its answer in c->resp.  `login`: a timeout is the
 * login's (CA_LOGIN_TIMEOUT), else a later request's (CA_REQUEST_TIMEOUT). */
static int exchange(client_t *c, const char *method, const char *target, const char *extra,
                    const char *body, bool login)
{
    http_lab_msg_clear(c->resp);
    GString *h = g_string_new(NULL);
    g_string_append_printf(h, "Host: %s\r\nUser-Agent: " USER_AGENT "\r\nAccept: */*\r\n",
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
        lab_say(PROG, "%s: %s %s: Operation timed out after %d milliseconds with 0 bytes received; "
                      "giving up",
                login ? "CA_LOGIN_TIMEOUT" : "CA_REQUEST_TIMEOUT", method, target,
                c->net.timeout_ms);
        return ENROLL_LAB_EXIT_TIMEOUT;
    }
    if (r != HTTP_LAB_OK) {
        lab_say(PROG, "%s %s: no usable answer (%s)", method, target, http_lab_result_name(r));
        return ENROLL_LAB_EXIT_OTHER;
    }
    lab_say(PROG, "%s %s -> %d %s", method, target, c->resp->status, c->resp->reason);
    return ENROLL_LAB_EXIT_OK;
}

/* The NTLM offer or challenge among the WWW-Authenticate headers: true
 * when NTLM is offered; *token is its base64 token when there is one. */
static bool ntlm_offer(const http_lab_msg_t *m, const char **token)
{
    *token = NULL;
    for (size_t i = 0; i < m->n_headers; i++) {
        const char *v = m->headers[i].value;
        if (g_ascii_strcasecmp(m->headers[i].name, "WWW-Authenticate") != 0 ||
            g_ascii_strncasecmp(v, "NTLM", 4) != 0 || (v[4] != '\0' && v[4] != ' '))
            continue;
        if (v[4] == ' ' && v[5] != '\0')
            *token = v + 5;
        return true;
    }
    return false;
}

static char *authorization(GByteArray *msg)
{
    gchar *b64 = g_base64_encode(msg->data, msg->len);
    char *h = g_strdup_printf("Authorization: NTLM %s\r\n", b64);
    g_free(b64);
    g_byte_array_unref(msg);
    return h;
}

static int login(client_t *c)
{
    int rc = exchange(c, "GET", "/certsrv", NULL, NULL, true);
    if (rc)
        return rc;
    if (c->resp->status == 301 || c->resp->status == 200) {
        lab_say(PROG, "the CA did not ask for credentials");
        return ENROLL_LAB_EXIT_OK;
    }
    const char *token;
    if (c->resp->status != 401 || !ntlm_offer(c->resp, &token)) {
        lab_say(PROG, "login_to_certsrv_ca: expected 401 with an NTLM offer");
        return ENROLL_LAB_EXIT_OTHER;
    }
    char *h = authorization(ntlm_lab_negotiate());
    rc = exchange(c, "GET", "/certsrv", h, NULL, true);
    g_free(h);
    if (rc)
        return rc;
    unsigned char challenge[8];
    GByteArray *info = NULL;
    size_t raw_len = 0;
    unsigned char *raw = NULL;
    if (c->resp->status == 401 && ntlm_offer(c->resp, &token) && token)
        raw = http_lab_base64_decode(token, strlen(token), 4096, &raw_len);
    if (!raw || !ntlm_lab_parse_challenge(raw, raw_len, challenge, &info)) {
        g_free(raw);
        lab_say(PROG, "login_to_certsrv_ca: no usable NTLM challenge");
        return c->resp->status == 401 ? ENROLL_LAB_EXIT_DENIED : ENROLL_LAB_EXIT_OTHER;
    }
    g_free(raw);
    GByteArray *t3 = ntlm_lab_authenticate(challenge, info, c->domain, c->user, WORKSTATION,
                                           c->password);
    g_byte_array_unref(info);
    if (!t3)
        return ENROLL_LAB_EXIT_OTHER;
    h = authorization(t3);
    rc = exchange(c, "GET", "/certsrv", h, NULL, true);
    g_free(h);
    if (rc)
        return rc;
    if (c->resp->status == 301 || c->resp->status == 200) {
        lab_say(PROG, "login_to_certsrv_ca: Secure connection to MS CertServ completed successfully "
                      "as %s\\%s", c->domain, c->user);
        return ENROLL_LAB_EXIT_OK;
    }
    if (c->resp->status == 401) {
        lab_say(PROG, "CA_AUTH_FAILED: /certsrv still answered 401 after the credentials of %s\\%s",
                c->domain, c->user);
        return ENROLL_LAB_EXIT_DENIED;
    }
    return ENROLL_LAB_EXIT_OTHER;
}

static int not_ok(client_t *c, const char *what)
{
    if (c->resp->status == 401) {
        lab_say(PROG, "%s: 401, not logged in", what);
        return ENROLL_LAB_EXIT_DENIED;
    }
    lab_say(PROG, "%s: unexpected status %d", what, c->resp->status);
    return ENROLL_LAB_EXIT_OTHER;
}

static int form(client_t *c)
{
    int rc = exchange(c, "GET", "/certsrv/certrqxt.asp", NULL, NULL, false);
    if (rc)
        return rc;
    return c->resp->status == 200 ? ENROLL_LAB_EXIT_OK : not_ok(c, "navigate_to_certsrv_page");
}

/* Text of the page between `start` (excluded) and `stop`, at most max
 * bytes, or NULL. */
static char *excerpt(const http_lab_msg_t *m, const char *start, const char *stop, bool keep_start,
                     size_t max)
{
    const char *body = (const char *)m->body;
    const char *p = body ? g_strstr_len(body, (gssize)m->body_len, start) : NULL;
    if (!p)
        return NULL;
    if (!keep_start)
        p += strlen(start);
    size_t left = m->body_len - (size_t)(p - body);
    const char *e = g_strstr_len(p, (gssize)(left < max ? left : max), stop);
    return e ? g_strndup(p, (gsize)(e - p) + (keep_start ? strlen(stop) : 0)) : NULL;
}

static int submit(client_t *c)
{
    char *pem = enroll_lab_csr_pem(c->req);
    char *attrib = g_strdup_printf("CertificateTemplate:%s", c->tmpl);
    char *pem_enc = http_lab_url_encode(pem);
    char *attrib_enc = http_lab_url_encode(attrib);
    char *body = g_strdup_printf("Mode=newreq&CertRequest=%s&CertAttrib=%s&TargetStoreFlags=0"
                                 "&SaveCert=yes",
                                 pem_enc, attrib_enc);
    char *extra = g_strdup_printf("Content-Type: application/x-www-form-urlencoded\r\n"
                                  "Referer: https://%s/certsrv/certrqxt.asp\r\n",
                                  c->host_header);
    int rc = exchange(c, "POST", "/certsrv/certfnsh.asp", extra, body, false);
    g_free(pem);
    g_free(attrib);
    g_free(pem_enc);
    g_free(attrib_enc);
    g_free(body);
    g_free(extra);
    if (rc)
        return rc;
    if (c->resp->status != 200)
        return not_ok(c, "certfnsh.asp");
    char *id = excerpt(c->resp, "certnew.cer?ReqID=", "&", false, 32);
    if (id && lab_parse_long(id, 0, 1000000000, &c->reqid)) {
        lab_say(PROG, "Certificate Issued: ReqID %ld", c->reqid);
        g_free(id);
        return ENROLL_LAB_EXIT_OK;
    }
    g_free(id);
    char *disposition = excerpt(c->resp, "The disposition message is \"", "\"", false, 200);
    char *code = excerpt(c->resp, "0x8009", ")", true, 120);
    bool denied = c->resp->body && g_strstr_len((const char *)c->resp->body,
                                                (gssize)c->resp->body_len, "Request Denied");
    lab_say(PROG, "TEMPLATE_REJECTED: %s: disposition \"%s\" %s",
            denied ? "Certificate Request Denied" : "no ReqID in the answer",
            disposition ? disposition : "?", code ? code : "");
    g_free(disposition);
    g_free(code);
    return ENROLL_LAB_EXIT_DENIED;
}

static int retrieve(client_t *c)
{
    char *target = g_strdup_printf("/certsrv/certnew.cer?ReqID=%ld&Enc=b64", c->reqid);
    int rc = exchange(c, "GET", target, NULL, NULL, false);
    g_free(target);
    if (rc)
        return rc;
    if (c->resp->status != 200)
        return not_ok(c, "certnew.cer");
    X509_free(c->cert);
    c->cert = c->resp->body ? enroll_lab_cert_parse(c->resp->body, c->resp->body_len) : NULL;
    if (!c->cert) {
        lab_say(PROG, "certnew.cer: the answer is not a certificate");
        return ENROLL_LAB_EXIT_OTHER;
    }
    save(c, "cert.pem", c->resp->body, c->resp->body_len);
    char *subject = enroll_lab_subject(c->cert);
    lab_say(PROG, "ENROLLMENT: certificate for %s retrieved", subject);
    g_free(subject);
    return enroll_lab_report_key_match(PROG, c->req, c->cert) ? ENROLL_LAB_EXIT_OK
                                                              : ENROLL_LAB_EXIT_MISMATCH;
}

static int chain(client_t *c)
{
    int rc = exchange(c, "GET", "/certsrv/certnew.p7b?ReqID=CACert&Renewal=0&Enc=bin", NULL, NULL,
                      false);
    if (rc)
        return rc;
    if (c->resp->status != 200)
        return not_ok(c, "retrieve_cacerts");
    STACK_OF(X509) *certs = c->resp->body ? enroll_lab_pkcs7_certs(c->resp->body, c->resp->body_len)
                                          : NULL;
    if (!certs || sk_X509_num(certs) == 0) {
        sk_X509_pop_free(certs, X509_free);
        lab_say(PROG, "retrieve_cacerts: the answer is not a PKCS#7 chain");
        return ENROLL_LAB_EXIT_OTHER;
    }
    for (int i = 0; i < sk_X509_num(certs); i++) {
        char *s = enroll_lab_subject(sk_X509_value(certs, i));
        lab_say(PROG, "CA chain: %s", s);
        g_free(s);
    }
    lab_say(PROG, "ra_certsrv_ca_plugin_postconf: CA Cert chain retrieved from CA (%d certificates)",
            sk_X509_num(certs));
    save(c, "chain.p7b", c->resp->body, c->resp->body_len);
    sk_X509_pop_free(certs, X509_free);
    return ENROLL_LAB_EXIT_OK;
}

static bool parse_steps(const char *s, step_t *steps, size_t *n)
{
    char **names = g_strsplit(s, ",", -1);
    bool ok = true;
    *n = 0;
    for (char **p = names; *p && ok; p++) {
        size_t i = 0;
        while (i < G_N_ELEMENTS(step_names) && strcmp(*p, step_names[i]) != 0)
            i++;
        ok = i < G_N_ELEMENTS(step_names) && *n < MAX_STEPS;
        if (ok)
            steps[(*n)++] = (step_t)i;
    }
    g_strfreev(names);
    /* certnew.cer needs the ReqID of a submission before it */
    bool submitted = false;
    for (size_t i = 0; ok && i < *n; i++) {
        if (steps[i] == STEP_SUBMIT)
            submitted = true;
        if (steps[i] == STEP_RETRIEVE && !submitted)
            ok = false;
    }
    return ok && *n > 0;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: " PROG " --pki DIR [--host 127.0.0.1] [--port 443] [--tls tls12-gcm|tls12-rsa-cbc|tls13]\n"
            "         [--keylog FILE] [--sni ca.example.test] [--trust trust-adcs.pem] [--no-verify]\n"
            "         [--check-host] [--user [DOMAIN\\]USER] [--password P] [--template CiscoRA]\n"
            "         [--subject-cn SEP74A02FC0A675] [--timeout-ms 10000]\n"
            "         [--steps login,form,submit,retrieve,chain] [--save-dir DIR]\n");
}

int main(int argc, char **argv)
{
    client_t c = { 0 };
    c.net = (enroll_lab_client_opts_t){
        .host = "127.0.0.1",
        .port = 443,
        .variant = LAB_TLS12_ECDHE_GCM,
        .sni = "ca.example.test",
        .trust = "trust-adcs.pem",
        .timeout_ms = 10000,
    };
    const char *user = "ENROLLMON\\ciscora", *steps_arg = "login,form,submit,retrieve,chain";
    c.password = "lab-password";
    c.tmpl = "CiscoRA";
    c.cn = "SEP74A02FC0A675";
    c.fd = -1;
    long port = 443, timeout = 10000;
    enum { O_PKI = 1, O_HOST, O_PORT, O_TLS, O_KEYLOG, O_SNI, O_TRUST, O_NO_VERIFY, O_CHECK_HOST,
           O_USER, O_PASSWORD, O_TEMPLATE, O_CN, O_TIMEOUT, O_STEPS, O_SAVE, O_HELP };
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
        { "template", required_argument, NULL, O_TEMPLATE },
        { "subject-cn", required_argument, NULL, O_CN },
        { "timeout-ms", required_argument, NULL, O_TIMEOUT },
        { "steps", required_argument, NULL, O_STEPS },
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
        case O_USER: user = optarg; break;
        case O_PASSWORD: c.password = optarg; break;
        case O_TEMPLATE: c.tmpl = optarg; break;
        case O_CN: c.cn = optarg; break;
        case O_TIMEOUT: ok = ok && lab_parse_long(optarg, 1, 3600000, &timeout); break;
        case O_STEPS: steps_arg = optarg; break;
        case O_SAVE: c.save_dir = optarg; break;
        case O_HELP: usage(); return 0;
        default: ok = false; break;
        }
    }
    step_t steps[MAX_STEPS];
    size_t n_steps = 0;
    if (!ok || optind != argc || !c.net.pki || !parse_steps(steps_arg, steps, &n_steps) ||
        strlen(user) > NTLM_LAB_NAME_MAX || strlen(c.net.sni) > 253) {
        usage();
        return ENROLL_LAB_EXIT_OTHER;
    }
    enroll_lab_ignore_sigpipe();
    c.net.port = (uint16_t)port;
    c.net.timeout_ms = (int)timeout;
    const char *bs = strchr(user, '\\');
    c.domain = bs ? g_strndup(user, (gsize)(bs - user)) : g_strdup("ENROLLMON");
    c.user = bs ? bs + 1 : user;
    c.host_header = port == 443 ? g_strdup(c.net.sni) : g_strdup_printf("%s:%ld", c.net.sni, port);
    c.http = g_new0(http_lab_conn_t, 1);
    c.resp = g_new0(http_lab_msg_t, 1);
    int rc = ENROLL_LAB_EXIT_OK;

    for (size_t i = 0; i < n_steps && !c.req; i++) {
        if (steps[i] != STEP_SUBMIT)
            continue;
        c.key = enroll_lab_new_key();
        c.req = c.key ? enroll_lab_make_csr(c.key, c.cn) : NULL;
        if (!c.req) {
            lab_ssl_errors(PROG, "cannot make the key and CSR");
            rc = ENROLL_LAB_EXIT_OTHER;
            goto out;
        }
        char *pem = enroll_lab_csr_pem(c.req);
        if (pem)
            save(&c, "csr.pem", pem, strlen(pem));
        g_free(pem);
    }

    rc = enroll_lab_client_connect(PROG, &c.net, &c.ssl, &c.fd);
    if (rc)
        goto out;
    http_lab_conn_init(c.http, c.ssl);
    for (size_t i = 0; i < n_steps && rc == ENROLL_LAB_EXIT_OK; i++) {
        switch (steps[i]) {
        case STEP_LOGIN:
            rc = login(&c);
            break;
        case STEP_FORM:
            rc = form(&c);
            break;
        case STEP_SUBMIT:
            /* CES logs in again before it posts (seed 000) */
            if (i == 0 || steps[i - 1] != STEP_LOGIN)
                rc = login(&c);
            if (rc == ENROLL_LAB_EXIT_OK)
                rc = submit(&c);
            break;
        case STEP_RETRIEVE:
            rc = retrieve(&c);
            break;
        case STEP_CHAIN:
            rc = chain(&c);
            break;
        }
    }
    enroll_lab_tls_finish(c.ssl, c.fd, 500);
    lab_say(PROG, "exit %d", rc);
out:
    http_lab_msg_clear(c.resp);
    g_free(c.resp);
    g_free(c.http);
    X509_free(c.cert);
    X509_REQ_free(c.req);
    EVP_PKEY_free(c.key);
    g_free(c.domain);
    g_free(c.host_header);
    return rc;
}
