/* certsrv-server: Microsoft AD CS web enrollment (/certsrv on IIS) as CES /
 * CiscoRA meets it (failures.md, seed 000):
 *
 *   GET /certsrv                     401 WWW-Authenticate: Negotiate, NTLM
 *   GET /certsrv  (NTLM type 1)      401 WWW-Authenticate: NTLM <type 2>
 *   GET /certsrv  (NTLM type 3)      301 Location: .../certsrv/  (or 401: CA_AUTH_FAILED)
 *   GET /certsrv/certrqxt.asp        200 the request form
 *   POST /certsrv/certfnsh.asp       200 "Certificate Issued" with certnew.cer?ReqID=<n>,
 *                                    or "Certificate Request Denied" (TEMPLATE_REJECTED)
 *   GET /certsrv/certnew.cer?ReqID=<n>&Enc=b64|bin       the certificate
 *   GET /certsrv/certnew.p7b?ReqID=CACert&Renewal=0&Enc=bin   the CA chain (PKCS#7)
 *
 * NTLM authenticates the connection (keep-alive carries the whole flow); a
 * new GET /certsrv without credentials starts the dance again, as CES does
 * before its POST.  --login-delay-ms / --request-delay-ms hold the answer
 * back (CA_LOGIN_TIMEOUT / CA_REQUEST_TIMEOUT); the wait ends early when the
 * client gives up and closes.
 */
#include "enroll_lab.h"
#include "http_lab.h"
#include "lab.h"
#include "ntlm_lab.h"

#include <getopt.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROG "certsrv-server"
#define SERVER_HEADERS "Server: Microsoft-IIS/10.0\r\nX-Powered-By: ASP.NET\r\n"
#define BODY_CAP (256u * 1024u)
#define IDLE_MS 120000 /* IIS connectionTimeout */
#define FIRST_REQID 10
#define MAX_ISSUED 4096
#define NB_DOMAIN "ENROLLMON"
#define NB_COMPUTER "CA"
#define DNS_DOMAIN "example.test"
#define DNS_COMPUTER "ca.example.test"
#define CA_NAME "enrollmon-Test-Issuing-CA"

typedef struct server {
    const char *domain;   /* NULL: any */
    const char *user;
    const char *password;
    char **templates;
    int login_delay_ms;
    int request_delay_ms;
    EVP_PKEY *wrong_key;
    enroll_lab_ca_t ca;
    GPtrArray *issued; /* X509 *, ReqID FIRST_REQID + index */
} server_t;

typedef enum auth_state {
    AUTH_NONE = 0,
    AUTH_CHALLENGED,
    AUTH_OK,
} auth_state_t;

typedef struct conn {
    server_t *srv;
    SSL *ssl;
    http_lab_conn_t http;
    auth_state_t auth;
    unsigned char challenge[8];
    char who[2 * NTLM_LAB_NAME_MAX + 2];
    bool close_after;
} conn_t;

static bool send_html(conn_t *c, int status, const char *reason, const char *extra,
                      const char *html)
{
    GString *h = g_string_new(NULL);
    if (status == 200)
        g_string_append(h, "Cache-Control: private\r\n");
    g_string_append(h, "Content-Type: text/html\r\n");
    if (extra)
        g_string_append(h, extra);
    g_string_append(h, SERVER_HEADERS);
    bool ok = http_lab_send_response(c->ssl, status, reason, h->str, html, strlen(html));
    g_string_free(h, TRUE);
    return ok;
}

static const char *error_page(int status)
{
    switch (status) {
    case 400:
        return "<!DOCTYPE HTML PUBLIC \"-//W3C//DTD HTML 4.01//EN\"\r\n"
               "<HTML><HEAD><TITLE>Bad Request</TITLE></HEAD>\r\n"
               "<BODY><h2>Bad Request - Invalid Request</h2><hr><p>HTTP Error 400. "
               "The request is badly formed.</p></BODY></HTML>\r\n";
    case 404:
        return "<!DOCTYPE html>\r\n<html><head><title>404 - File or directory not found."
               "</title></head>\r\n<body><h2>404 - File or directory not found.</h2>\r\n"
               "<h3>The resource you are looking for might have been removed, had its name "
               "changed, or is temporarily unavailable.</h3></body></html>\r\n";
    case 405:
        return "<!DOCTYPE html>\r\n<html><head><title>405 - HTTP verb used to access this page "
               "is not allowed.</title></head>\r\n<body><h2>405 - HTTP verb used to access this "
               "page is not allowed.</h2></body></html>\r\n";
    case 413:
        return "<!DOCTYPE html>\r\n<html><head><title>413 - Request Entity Too Large</title>"
               "</head>\r\n<body><h2>413 - Request Entity Too Large</h2></body></html>\r\n";
    default:
        return "<!DOCTYPE html>\r\n<html><head><title>401 - Unauthorized: Access is denied due "
               "to invalid credentials.</title></head>\r\n<body><div id=\"header\"><h1>Server "
               "Error</h1></div>\r\n<div id=\"content\"><fieldset><h2>401 - Unauthorized: "
               "Access is denied due to invalid credentials.</h2>\r\n<h3>You do not have "
               "permission to view this directory or page using the credentials that you "
               "supplied.</h3></fieldset></div>\r\n</body></html>\r\n";
    }
}

static bool send_error(conn_t *c, int status, const char *reason)
{
    return send_html(c, status, reason, NULL, error_page(status));
}

static bool send_401(conn_t *c, const char *challenge_b64)
{
    char *extra = challenge_b64 ? g_strdup_printf("WWW-Authenticate: NTLM %s\r\n", challenge_b64)
                                : g_strdup("WWW-Authenticate: Negotiate\r\nWWW-Authenticate: NTLM\r\n");
    bool ok = send_html(c, 401, "Unauthorized", extra, error_page(401));
    g_free(extra);
    return ok;
}

/* The Host header if it looks like a host name (it goes into a Location). */
static const char *safe_host(const http_lab_msg_t *m)
{
    const char *h = http_lab_header(m, "Host");
    if (!h || !*h || strlen(h) > 255)
        return DNS_COMPUTER;
    for (const char *p = h; *p; p++)
        if (!g_ascii_isalnum(*p) && !strchr(".-:[]", *p))
            return DNS_COMPUTER;
    return h;
}

static void log_request(conn_t *c, const http_lab_msg_t *m, int status)
{
    const char *q = strchr(m->target, '?');
    const char *ua = http_lab_header(m, "User-Agent");
    char *ua_log = g_strdup(ua ? ua : "-");
    g_strdelimit(ua_log, " ", '+');
    lab_say(PROG, "%s %.*s %s %s %s %d", m->method, (int)(q ? (size_t)(q - m->target) : strlen(m->target)),
            m->target, q ? q + 1 : "-", c->auth == AUTH_OK ? c->who : "-", ua_log, status);
    g_free(ua_log);
}

/* Holds the answer back; false when the client gave up meanwhile. */
static bool delay(conn_t *c, int ms, const char *what)
{
    if (ms <= 0)
        return true;
    lab_say(PROG, "holding the answer to %s for %d ms", what, ms);
    gint64 t0 = g_get_monotonic_time();
    if (http_lab_wait_quiet(&c->http, ms))
        return true;
    lab_say(PROG, "the client gave up after %lld ms without an answer",
            (long long)((g_get_monotonic_time() - t0) / 1000));
    return false;
}

static bool user_matches(const server_t *s, const ntlm_lab_identity_t *who)
{
    if (g_ascii_strcasecmp(who->user, s->user) != 0)
        return false;
    return !s->domain || g_ascii_strcasecmp(who->domain, s->domain) == 0;
}

/* GET /certsrv: the NTLM dance.  Returns the status sent, 0 when the
 * connection is to end without an answer, -1 on a write failure. */
static int handle_login(conn_t *c, const http_lab_msg_t *m)
{
    const char *authz = http_lab_header(m, "Authorization");
    if (!authz) {
        if (c->auth == AUTH_OK && http_lab_path_is(m->target, "/certsrv/")) {
            static const char welcome[] =
                "<HTML><HEAD><TITLE>Microsoft Active Directory Certificate Services</TITLE>"
                "</HEAD>\r\n<BODY><P><Font ID=locPageTitle>Microsoft Active Directory Certificate "
                "Services</Font> -- " CA_NAME "</P>\r\n<P ID=locPageTitle>Welcome</P>\r\n"
                "<P>Use this Web site to request a certificate for your Web browser, e-mail "
                "client, or other program.</P>\r\n<P><A Href=\"certrqus.asp\">Request a "
                "certificate</A><BR><A Href=\"certckpn.asp\">View the status of a pending "
                "certificate request</A><BR><A Href=\"certcarc.asp\">Download a CA certificate, "
                "certificate chain, or CRL</A></P>\r\n</BODY></HTML>\r\n";
            return send_html(c, 200, "OK", NULL, welcome) ? 200 : -1;
        }
        c->auth = AUTH_NONE;
        if (!delay(c, c->srv->login_delay_ms, "GET /certsrv"))
            return 0;
        return send_401(c, NULL) ? 401 : -1;
    }
    const char *sp = strchr(authz, ' ');
    size_t scheme_len = sp ? (size_t)(sp - authz) : strlen(authz);
    bool ntlm = (scheme_len == 4 && g_ascii_strncasecmp(authz, "NTLM", 4) == 0) ||
                (scheme_len == 9 && g_ascii_strncasecmp(authz, "Negotiate", 9) == 0);
    size_t raw_len = 0;
    unsigned char *raw = ntlm && sp ? http_lab_base64_decode(sp + 1, strlen(sp + 1), 4096, &raw_len)
                                    : NULL;
    int type = raw ? ntlm_lab_message_type(raw, raw_len) : 0;
    int status;
    if (type == 1) {
        if (RAND_bytes(c->challenge, sizeof(c->challenge)) != 1) {
            g_free(raw);
            return -1;
        }
        GByteArray *t2 = ntlm_lab_challenge(c->challenge, NB_DOMAIN, NB_COMPUTER, DNS_DOMAIN,
                                            DNS_COMPUTER);
        gchar *b64 = g_base64_encode(t2->data, t2->len);
        g_byte_array_unref(t2);
        c->auth = AUTH_CHALLENGED;
        status = send_401(c, b64) ? 401 : -1;
        g_free(b64);
    } else if (type == 3 && c->auth == AUTH_CHALLENGED) {
        ntlm_lab_identity_t who;
        ntlm_lab_verdict_t v = ntlm_lab_verify(raw, raw_len, c->challenge, c->srv->password, &who);
        snprintf(c->who, sizeof(c->who), "%s\\%s", who.domain, who.user);
        if (v == NTLM_LAB_VERIFIED && user_matches(c->srv, &who)) {
            c->auth = AUTH_OK;
            char *loc = g_strdup_printf("Location: https://%s/certsrv/\r\n", safe_host(m));
            char *body = g_strdup_printf("<head><title>Document Moved</title></head>\r\n<body>"
                                         "<h1>Object Moved</h1>This document may be found "
                                         "<a HREF=\"https://%s/certsrv/\">here</a></body>",
                                         safe_host(m));
            status = send_html(c, 301, "Moved Permanently", loc, body) ? 301 : -1;
            g_free(loc);
            g_free(body);
        } else {
            lab_say(PROG, "NTLM authentication of %s failed: %s", c->who,
                    v == NTLM_LAB_MALFORMED ? "malformed message"
                    : v == NTLM_LAB_BAD_PASSWORD ? "wrong password"
                                                 : "not the accepted user");
            c->auth = AUTH_NONE;
            status = send_401(c, NULL) ? 401 : -1;
        }
    } else {
        lab_say(PROG, "unusable Authorization header: %s",
                !ntlm  ? "neither NTLM nor Negotiate"
                : !raw ? "the token is not base64"
                : type ? "NTLM message out of order"
                       : "the token is not an NTLMSSP message");
        c->auth = AUTH_NONE;
        status = send_401(c, NULL) ? 401 : -1;
    }
    g_free(raw);
    return status;
}

static char *html_escape(const char *s)
{
    return g_markup_escape_text(s, -1);
}

static int handle_form(conn_t *c)
{
    GString *opts = g_string_new(NULL);
    for (char **t = c->srv->templates; *t; t++) {
        char *e = html_escape(*t);
        g_string_append_printf(opts, "<Option Value=\"%s\">%s</Option>\r\n", e, e);
        g_free(e);
    }
    char *page = g_strdup_printf(
        "<HTML><HEAD><TITLE>Microsoft Active Directory Certificate Services</TITLE></HEAD>\r\n"
        "<BODY><P><Font ID=locPageTitle>Microsoft Active Directory Certificate Services</Font> -- "
        CA_NAME "</P>\r\n<P ID=locPageTitle>Submit a Certificate Request or Renewal Request</P>\r\n"
        "<P>To submit a saved request to the CA, paste a base-64-encoded CMC or PKCS #10 "
        "certificate request or PKCS #7 renewal request generated by an external source (such as "
        "a Web server) in the Saved Request box.</P>\r\n"
        "<Form Name=SubmittedData Action=\"certfnsh.asp\" Method=Post>\r\n"
        "<Input Type=Hidden Name=Mode Value=newreq>\r\n"
        "<Input Type=Hidden Name=TargetStoreFlags Value=0>\r\n"
        "<Input Type=Hidden Name=SaveCert Value=yes>\r\n"
        "<P>Saved Request:<BR><TextArea Name=CertRequest Rows=10 Cols=64></TextArea></P>\r\n"
        "<P>Certificate Template:<BR><Select Name=lbCertTemplate>\r\n%s</Select></P>\r\n"
        "<P>Additional Attributes:<BR><TextArea Name=CertAttrib Rows=2 Cols=64></TextArea></P>\r\n"
        "<Input Type=Submit Value=\"Submit &gt;\">\r\n</Form></BODY></HTML>\r\n",
        opts->str);
    g_string_free(opts, TRUE);
    bool ok = send_html(c, 200, "OK", NULL, page);
    g_free(page);
    return ok ? 200 : -1;
}

/* The template named in CertAttrib ("CertificateTemplate:<name>" on one of
 * its lines), or NULL. */
static char *template_of(const char *attrib)
{
    if (!attrib)
        return NULL;
    char **lines = g_strsplit_set(attrib, "\r\n", -1);
    char *out = NULL;
    static const char key[] = "CertificateTemplate:";
    for (char **l = lines; *l && !out; l++) {
        char *line = g_strstrip(*l);
        if (g_ascii_strncasecmp(line, key, sizeof(key) - 1) == 0)
            out = g_strdup(g_strstrip(line + sizeof(key) - 1));
    }
    g_strfreev(lines);
    return out;
}

static bool known_template(const server_t *s, const char *name)
{
    for (char **t = s->templates; *t; t++)
        if (g_ascii_strcasecmp(*t, name) == 0)
            return true;
    return false;
}

static int send_denied(conn_t *c, const char *title, const char *disposition, const char *detail)
{
    char *page = g_strdup_printf(
        "<HTML><HEAD><TITLE>Microsoft Active Directory Certificate Services</TITLE></HEAD>\r\n"
        "<BODY><P><Font ID=locPageTitle>Microsoft Active Directory Certificate Services</Font> -- "
        CA_NAME "</P>\r\n<P ID=locPageTitle>%s</P>\r\n"
        "<P>Your certificate request was denied.</P>\r\n"
        "<P>Your Request Id is 0. The disposition message is \"%s\".</P>\r\n"
        "<P>Contact your administrator for further information.</P>\r\n"
        "<P ID=locErrorMsg>%s</P>\r\n</BODY></HTML>\r\n",
        title, disposition, detail);
    bool ok = send_html(c, 200, "OK", NULL, page);
    g_free(page);
    return ok ? 200 : -1;
}

static int handle_submit(conn_t *c, const http_lab_msg_t *m)
{
    const char *body = m->body ? (const char *)m->body : "";
    char *mode = http_lab_form_field(body, m->body_len, "Mode");
    char *csr = http_lab_form_field(body, m->body_len, "CertRequest");
    char *attrib = http_lab_form_field(body, m->body_len, "CertAttrib");
    char *tmpl = template_of(attrib);
    X509_REQ *req = csr ? enroll_lab_csr_parse((const unsigned char *)csr, strlen(csr)) : NULL;
    int status;
    if (!mode || strcmp(mode, "newreq") != 0 || !req) {
        lab_say(PROG, "certfnsh.asp: %s", !req ? "no usable CertRequest" : "Mode is not newreq");
        status = send_denied(c, "Certificate Request Denied", "Error Parsing Request",
                             "ASN1 bad tag value met. 0x8009310b (ASN: 267 CRYPT_E_ASN1_BADTAG)");
    } else if (!tmpl || !*tmpl) {
        lab_say(PROG, "certfnsh.asp: no certificate template named: TEMPLATE_REJECTED");
        status = send_denied(c, "Certificate Request Denied", "Denied by Policy Module",
                             "The request contains no certificate template information. "
                             "0x80094801 (-2146875391 CERTSRV_E_NO_CERT_TYPE)");
    } else if (!known_template(c->srv, tmpl)) {
        lab_say(PROG, "certfnsh.asp: unknown certificate template \"%s\": TEMPLATE_REJECTED", tmpl);
        char *e = html_escape(tmpl);
        char *detail = g_strdup_printf(
            "The request was for a certificate template that is not supported by the Active "
            "Directory Certificate Services policy: %s. 0x80094800 (-2146875392 "
            "CERTSRV_E_UNSUPPORTED_CERT_TYPE)",
            e);
        status = send_denied(c, "Certificate Request Denied", "Denied by Policy Module", detail);
        g_free(detail);
        g_free(e);
    } else if (c->srv->issued->len >= MAX_ISSUED) {
        status = send_denied(c, "Certificate Request Denied", "Denied by Policy Module",
                             "The CA's request database of this lab run is full.");
    } else {
        X509 *cert = enroll_lab_issue(&c->srv->ca, req, c->srv->wrong_key);
        if (!cert) {
            lab_ssl_errors(PROG, "issuing failed");
            status = send_error(c, 400, "Bad Request") ? 400 : -1;
        } else {
            g_ptr_array_add(c->srv->issued, cert);
            unsigned reqid = FIRST_REQID + c->srv->issued->len - 1;
            char *subject = enroll_lab_subject(cert);
            lab_say(PROG, "ReqID %u issued to %s (template %s)%s", reqid, subject, tmpl,
                    c->srv->wrong_key ? " for ANOTHER key than the CSR's" : "");
            g_free(subject);
            char *page = g_strdup_printf(
                "<HTML><HEAD><TITLE>Microsoft Active Directory Certificate Services</TITLE>\r\n"
                "<Script Language=\"JavaScript\">\r\n"
                "//----------------------------------------------------------------\r\n"
                "// the requested certificate, in the encoding chosen below\r\n"
                "function handleGetCert() {\r\n"
                "    location=\"certnew.cer?ReqID=%u&\"+getEncoding();\r\n}\r\n"
                "// the requested certificate with its chain\r\n"
                "function handleGetChain() {\r\n"
                "    location=\"certnew.p7b?ReqID=%u&\"+getEncoding();\r\n}\r\n"
                "function getEncoding() {\r\n"
                "    if (true==document.UIForm.rbEncoding[0].checked) {\r\n"
                "        return \"Enc=bin\";\r\n    } else {\r\n        return \"Enc=b64\";\r\n"
                "    }\r\n}\r\n</Script></HEAD>\r\n"
                "<BODY><P><Font ID=locPageTitle>Microsoft Active Directory Certificate "
                "Services</Font> -- " CA_NAME "</P>\r\n"
                "<P ID=locPageTitle>Certificate Issued</P>\r\n"
                "<P>The certificate you requested was issued to you.</P>\r\n"
                "<Form Name=UIForm><Input Type=Radio Name=rbEncoding>DER encoded or "
                "<Input Type=Radio Name=rbEncoding Checked>Base 64 encoded</Form>\r\n"
                "<P><A Href=\"certnew.cer?ReqID=%u&amp;Enc=b64\">Download certificate</A><BR>\r\n"
                "<A Href=\"certnew.p7b?ReqID=%u&amp;Enc=b64\">Download certificate chain</A></P>\r\n"
                "</BODY></HTML>\r\n",
                reqid, reqid, reqid, reqid);
            status = send_html(c, 200, "OK", NULL, page) ? 200 : -1;
            g_free(page);
        }
    }
    X509_REQ_free(req);
    g_free(mode);
    g_free(csr);
    g_free(attrib);
    g_free(tmpl);
    return status;
}

/* The certificate of a ReqID query value, or NULL. */
static X509 *issued_cert(const server_t *s, const char *reqid)
{
    long n;
    if (!reqid || !lab_parse_long(reqid, FIRST_REQID, FIRST_REQID + MAX_ISSUED, &n) ||
        (size_t)(n - FIRST_REQID) >= s->issued->len)
        return NULL;
    return g_ptr_array_index(s->issued, (guint)(n - FIRST_REQID));
}

static int send_object(conn_t *c, const char *type, const char *filename, const void *data,
                       size_t len)
{
    char *h = g_strdup_printf("Content-Type: %s\r\nContent-Disposition: attachment; "
                              "filename=\"%s\"\r\n" SERVER_HEADERS,
                              type, filename);
    bool ok = http_lab_send_response(c->ssl, 200, "OK", h, data, len);
    g_free(h);
    return ok ? 200 : -1;
}

static int handle_cert(conn_t *c, const http_lab_msg_t *m)
{
    char *reqid = http_lab_query_field(m->target, "ReqID");
    char *enc = http_lab_query_field(m->target, "Enc");
    X509 *cert = reqid && g_ascii_strcasecmp(reqid, "CACert") == 0 ? c->srv->ca.issuing
                                                                    : issued_cert(c->srv, reqid);
    bool bin = enc && g_ascii_strcasecmp(enc, "bin") == 0;
    int status;
    if (!cert) {
        status = send_error(c, 404, "Not Found") ? 404 : -1;
    } else if (bin) {
        GByteArray *der = enroll_lab_cert_der(cert);
        status = der ? send_object(c, "application/pkix-cert", "certnew.cer", der->data, der->len) : -1;
        if (der)
            g_byte_array_unref(der);
    } else {
        char *pem = enroll_lab_cert_pem(cert);
        status = pem ? send_object(c, "application/pkix-cert", "certnew.cer", pem, strlen(pem)) : -1;
        g_free(pem);
    }
    g_free(reqid);
    g_free(enc);
    return status;
}

static int handle_chain(conn_t *c, const http_lab_msg_t *m)
{
    char *reqid = http_lab_query_field(m->target, "ReqID");
    char *enc = http_lab_query_field(m->target, "Enc");
    X509 *certs[3];
    size_t n = 0;
    X509 *leaf = reqid && g_ascii_strcasecmp(reqid, "CACert") == 0 ? NULL : issued_cert(c->srv, reqid);
    if (leaf)
        certs[n++] = leaf;
    certs[n++] = c->srv->ca.issuing;
    certs[n++] = c->srv->ca.root;
    int status;
    if (!leaf && !(reqid && g_ascii_strcasecmp(reqid, "CACert") == 0)) {
        status = send_error(c, 404, "Not Found") ? 404 : -1;
    } else {
        GByteArray *der = enroll_lab_pkcs7(certs, n);
        if (!der) {
            status = -1;
        } else if (enc && g_ascii_strcasecmp(enc, "bin") == 0) {
            status = send_object(c, "application/x-pkcs7-certificates", "certnew.p7b", der->data,
                                 der->len);
        } else {
            char *b64 = http_lab_base64_lines(der->data, der->len);
            char *pem = g_strdup_printf("-----BEGIN PKCS7-----\n%s-----END PKCS7-----\n", b64);
            status = send_object(c, "application/x-pkcs7-certificates", "certnew.p7b", pem,
                                 strlen(pem));
            g_free(pem);
            g_free(b64);
        }
        if (der)
            g_byte_array_unref(der);
    }
    g_free(reqid);
    g_free(enc);
    return status;
}

/* One request; the status sent, 0 to end silently, -1 on failure. */
static int handle(conn_t *c, const http_lab_msg_t *m)
{
    bool get = strcmp(m->method, "GET") == 0;
    bool post = strcmp(m->method, "POST") == 0;
    if (http_lab_path_is(m->target, "/certsrv") || http_lab_path_is(m->target, "/certsrv/"))
        return get ? handle_login(c, m) : (send_error(c, 405, "Method Not Allowed") ? 405 : -1);
    if (c->auth != AUTH_OK)
        return send_401(c, NULL) ? 401 : -1;
    if (!delay(c, c->srv->request_delay_ms, m->target))
        return 0;
    if (http_lab_path_is(m->target, "/certsrv/certrqxt.asp") && get)
        return handle_form(c);
    if (http_lab_path_is(m->target, "/certsrv/certfnsh.asp") && post)
        return handle_submit(c, m);
    if (http_lab_path_is(m->target, "/certsrv/certnew.cer") && get)
        return handle_cert(c, m);
    if (http_lab_path_is(m->target, "/certsrv/certnew.p7b") && get)
        return handle_chain(c, m);
    if (post || get)
        return send_error(c, 404, "Not Found") ? 404 : -1;
    return send_error(c, 405, "Method Not Allowed") ? 405 : -1;
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
                send_error(c, 400, "Bad Request");
            else if (r == HTTP_LAB_TOO_LARGE)
                send_error(c, 413, "Request Entity Too Large");
            if (r == HTTP_LAB_MALFORMED || r == HTTP_LAB_TOO_LARGE)
                http_lab_drain(&c->http, 500, 1024u * 1024u);
            clean = r != HTTP_LAB_IO_ERROR;
            lab_say(PROG, "connection ends: %s", http_lab_result_name(r));
            http_lab_msg_clear(m);
            break;
        }
        int status = handle(c, m);
        if (status > 0)
            log_request(c, m, status);
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
            "usage: " PROG " --pki DIR [--host 127.0.0.1] [--port 443] [--tls tls12-gcm|tls12-rsa-cbc|tls13]\n"
            "         [--keylog FILE] [--cert web-good-chain] [--user [DOMAIN\\]USER] [--password P]\n"
            "         [--templates CiscoRA,...] [--login-delay-ms MS] [--request-delay-ms MS]\n"
            "         [--wrong-key] [--connections N (0: forever)]\n");
}

int main(int argc, char **argv)
{
    const char *pki = NULL, *host = "127.0.0.1", *keylog = NULL, *cert = "web-good-chain";
    const char *user = "ENROLLMON\\ciscora", *password = "lab-password", *templates = "CiscoRA";
    long port = 443, login_delay = 0, request_delay = 0, connections = 1;
    lab_tls_variant_t variant = LAB_TLS12_ECDHE_GCM;
    bool wrong_key = false;
    enum { O_PKI = 1, O_HOST, O_PORT, O_TLS, O_KEYLOG, O_CERT, O_USER, O_PASSWORD, O_TEMPLATES,
           O_LOGIN_DELAY, O_REQUEST_DELAY, O_WRONG_KEY, O_CONNECTIONS, O_HELP };
    static const struct option longopts[] = {
        { "pki", required_argument, NULL, O_PKI },
        { "host", required_argument, NULL, O_HOST },
        { "port", required_argument, NULL, O_PORT },
        { "tls", required_argument, NULL, O_TLS },
        { "keylog", required_argument, NULL, O_KEYLOG },
        { "cert", required_argument, NULL, O_CERT },
        { "user", required_argument, NULL, O_USER },
        { "password", required_argument, NULL, O_PASSWORD },
        { "templates", required_argument, NULL, O_TEMPLATES },
        { "login-delay-ms", required_argument, NULL, O_LOGIN_DELAY },
        { "request-delay-ms", required_argument, NULL, O_REQUEST_DELAY },
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
        case O_USER: user = optarg; break;
        case O_PASSWORD: password = optarg; break;
        case O_TEMPLATES: templates = optarg; break;
        case O_LOGIN_DELAY: ok = ok && lab_parse_long(optarg, 0, 3600000, &login_delay); break;
        case O_REQUEST_DELAY: ok = ok && lab_parse_long(optarg, 0, 3600000, &request_delay); break;
        case O_WRONG_KEY: wrong_key = true; break;
        case O_CONNECTIONS: ok = ok && lab_parse_long(optarg, 0, 1000000, &connections); break;
        case O_HELP: usage(); return 0;
        default: ok = false; break;
        }
    }
    if (!ok || optind != argc || !pki || strchr(cert, '/')) {
        usage();
        return 2;
    }
    enroll_lab_ignore_sigpipe();

    server_t srv = { 0 };
    const char *bs = strchr(user, '\\');
    char *domain = bs ? g_strndup(user, (gsize)(bs - user)) : NULL;
    srv.domain = domain;
    srv.user = bs ? bs + 1 : user;
    srv.password = password;
    srv.templates = g_strsplit(templates, ",", -1);
    srv.login_delay_ms = (int)login_delay;
    srv.request_delay_ms = (int)request_delay;
    srv.issued = g_ptr_array_new_with_free_func((GDestroyNotify)X509_free);
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
    lab_say(PROG, "accepting %s%s%s, templates %s", domain ? domain : "", domain ? "\\" : "",
            srv.user, templates);
    rc = enroll_lab_serve(PROG, host, (uint16_t)port, ctx, connections, serve, &srv);
out:
    SSL_CTX_free(ctx);
    EVP_PKEY_free(srv.wrong_key);
    enroll_lab_ca_free(&srv.ca);
    g_ptr_array_unref(srv.issued);
    g_strfreev(srv.templates);
    g_free(domain);
    return rc;
}
