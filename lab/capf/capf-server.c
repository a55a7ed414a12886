/* capf-server: CUCM's CAPF on TCP 3804 for the enrollment lab.
 *
 * Speaks the softphone flow of capf-wire.md inside TLS: hello (0x01),
 * request (0x02) answered by continue (0x03) or a refusal (0x0f), the public
 * key (0x04) answered by an LSC issued by the CAPF CA (0x09), the
 * acknowledgement (0x0a), end of session (0x0f), close_notify and FIN.
 * Options make it play the failures of failures.md: refusals, a certificate
 * for the wrong key, another CAPF certificate, client authentication, a
 * server that stops answering.
 *
 * Exit status: 0 when every connection went the way the options asked,
 * 1 on a set-up error, 2 when at least one session failed on the peer's side
 * (TLS handshake refused, connection cut, not CAPF).
 */
#include "capf_lab.h"

#include <glib.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#define PROG "capf-server"
#define DEVICE_NAME_MAX 64
/* A stalled session waits this long at most for the client to give up. */
#define STALL_MAX_MS (10 * 60 * 1000)
#define CLOSE_WAIT_MS 2000
#define FIRST_SERIAL 0x1001u

typedef struct options {
    char *pki;
    char *host;
    int port;
    char *tls;
    char *keylog;
    char *server_cert;
    char *issuer;
    char *client_auth;
    char *trust;
    char **known;
    char **issued;
    gboolean wrong_key;
    char *stall_after;
    int connections;
    char *first_session_id;
    int timeout_ms;
} options_t;

typedef struct server {
    const options_t *opt;
    SSL_CTX *ctx;
    X509 *ca_cert;
    EVP_PKEY *ca_key;
    uint64_t next_serial;
    bool stall;
    uint8_t stall_opcode;
    capf_msg_t in;
    capf_builder_t out;
} server_t;

typedef enum outcome {
    OUTCOME_ISSUED,    /* certificate delivered and acknowledged */
    OUTCOME_REFUSED,   /* 0x0f with a refusal status, as asked */
    OUTCOME_STALLED,   /* stopped answering as asked; the client gave up */
    OUTCOME_FAILED,    /* the peer's side failed */
} outcome_t;

static bool in_list(char **list, const char *name)
{
    for (size_t i = 0; list && list[i]; i++)
        if (strcmp(list[i], name) == 0)
            return true;
    return false;
}

/* ---- issuing ---- */

static bool add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX v3;
    X509V3_set_ctx(&v3, issuer, cert, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &v3, nid, value);
    if (!ext)
        return false;
    int ok = X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
    return ok == 1;
}

/* The LSC: CN = device, O = enrollmon TEST PKI, issued by the CAPF CA,
 * 2024-01-01 .. 2049-12-31, SHA-256. */
static X509 *issue_lsc(server_t *srv, const char *device, EVP_PKEY *subject_key)
{
    X509 *cert = X509_new();
    X509_NAME *name = X509_NAME_new();
    bool ok = cert && name && X509_set_version(cert, X509_VERSION_3) &&
              ASN1_INTEGER_set_uint64(X509_get_serialNumber(cert), srv->next_serial) &&
              X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                                         (const unsigned char *)"enrollmon TEST PKI", -1, -1, 0) &&
              X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)device,
                                         -1, -1, 0) &&
              X509_set_subject_name(cert, name) &&
              X509_set_issuer_name(cert, X509_get_subject_name(srv->ca_cert)) &&
              ASN1_TIME_set_string_X509(X509_getm_notBefore(cert), "20240101000000Z") &&
              ASN1_TIME_set_string_X509(X509_getm_notAfter(cert), "20491231235959Z") &&
              X509_set_pubkey(cert, subject_key) &&
              add_ext(cert, srv->ca_cert, NID_basic_constraints, "critical,CA:FALSE") &&
              add_ext(cert, srv->ca_cert, NID_key_usage, "critical,digitalSignature,keyEncipherment") &&
              add_ext(cert, srv->ca_cert, NID_ext_key_usage, "serverAuth,clientAuth") &&
              add_ext(cert, srv->ca_cert, NID_subject_key_identifier, "hash") &&
              add_ext(cert, srv->ca_cert, NID_authority_key_identifier, "keyid:always") &&
              X509_sign(cert, srv->ca_key, EVP_sha256()) > 0;
    X509_NAME_free(name);
    if (!ok) {
        lab_ssl_errors(PROG, "issuing the certificate failed");
        X509_free(cert);
        return NULL;
    }
    srv->next_serial++;
    return cert;
}

static void say_md5(const char *what, const EVP_PKEY *key)
{
    char md5[33];
    if (capf_modulus_md5(key, md5))
        lab_say(PROG, "%s modulus MD5(stdin)= %s", what, md5);
    else
        lab_say(PROG, "%s: not an RSA key", what);
}

/* ---- one session ---- */

/* Closes after the peer ended the session or broke it: answers a
 * close_notify with one, otherwise just closes. */
static void close_after_peer(SSL *ssl, int fd)
{
    bool notified = (SSL_get_shutdown(ssl) & SSL_RECEIVED_SHUTDOWN) != 0;
    lab_tls_close(ssl, fd, notified);
    ERR_clear_error();
}

static outcome_t stall(server_t *srv, SSL *ssl, int fd)
{
    lab_say(PROG, "stalling after 0x%02x as asked: no answer until the client gives up",
            srv->stall_opcode);
    capf_recv_t r = capf_drain_until_close(ssl, STALL_MAX_MS);
    if (r == CAPF_RECV_TIMEOUT) {
        lab_say(PROG, "the client kept the stalled session open for %d s; closing", STALL_MAX_MS / 1000);
        lab_tls_close(ssl, fd, false);
        return OUTCOME_FAILED;
    }
    lab_say(PROG, "the client gave up (%s)",
            (SSL_get_shutdown(ssl) & SSL_RECEIVED_SHUTDOWN) ? "close_notify" : "FIN or RST");
    close_after_peer(ssl, fd);
    return OUTCOME_STALLED;
}

/* GOT_GONE: the connection broke or the peer closed it; GOT_PROTOCOL: a
 * message arrived that is not the one expected. */
typedef enum got { GOT_OK, GOT_STALL, GOT_GONE, GOT_PROTOCOL } got_t;

/* Receives the next message and checks its opcode and session id. */
static got_t expect(server_t *srv, SSL *ssl, uint32_t sid, uint8_t opcode)
{
    capf_recv_t r = capf_recv(ssl, PROG, &srv->in, srv->opt->timeout_ms);
    if (r != CAPF_RECV_OK) {
        lab_say(PROG, "session 0x%08x ended before 0x%02x %s", (unsigned)sid, opcode,
                capf_opcode_name(opcode));
        return r == CAPF_RECV_BAD_MAGIC ? GOT_PROTOCOL : GOT_GONE;
    }
    if (srv->stall && srv->in.h.opcode == srv->stall_opcode)
        return GOT_STALL;
    if (srv->in.h.session_id != sid) {
        lab_say(PROG, "session id 0x%08x in the client's message, 0x%08x expected",
                (unsigned)srv->in.h.session_id, (unsigned)sid);
        return GOT_PROTOCOL;
    }
    if (srv->in.h.opcode != opcode) {
        lab_say(PROG, "0x%02x %s expected", opcode, capf_opcode_name(opcode));
        return GOT_PROTOCOL;
    }
    return GOT_OK;
}

static bool send_status(server_t *srv, SSL *ssl, uint32_t sid, uint8_t status)
{
    capf_build_begin(&srv->out, CAPF_OP_END_SESSION, sid);
    capf_build_u8(&srv->out, CAPF_TAG_STATUS, status);
    return capf_send(ssl, PROG, &srv->out);
}

static bool send_certificate(server_t *srv, SSL *ssl, uint32_t sid, X509 *cert)
{
    unsigned char *der = NULL;
    int der_len = i2d_X509(cert, &der);
    if (der_len <= 0) {
        lab_ssl_errors(PROG, "encoding the certificate failed");
        return false;
    }
    /* cert package: nested field 0x01 = 00 01 + DER */
    size_t value_len = 2 + (size_t)der_len;
    uint8_t *value = g_malloc(value_len);
    value[0] = 0x00;
    value[1] = 0x01;
    memcpy(value + 2, der, (size_t)der_len);
    OPENSSL_free(der);
    size_t pkg_cap = CAPF_FIELD_HEADER_LEN + value_len, pkg_len = 0;
    uint8_t *pkg = g_malloc(pkg_cap);
    bool ok = capf_field_encode(pkg, pkg_cap, &pkg_len, CAPF_PACKAGE_TAG_CERT, value, value_len);
    g_free(value);
    if (ok) {
        capf_build_begin(&srv->out, CAPF_OP_CERTIFICATE, sid);
        capf_build_u8(&srv->out, CAPF_TAG_CERT_STATUS, CAPF_STATUS_OK);
        capf_build_field(&srv->out, CAPF_TAG_CERT_PACKAGE, pkg, pkg_len);
        ok = capf_send(ssl, PROG, &srv->out);
    } else {
        lab_say(PROG, "the certificate does not fit a CAPF field");
    }
    g_free(pkg);
    return ok;
}

/* The public key of 0x04; NULL after saying why. */
static EVP_PKEY *csr_key(const capf_msg_t *m)
{
    capf_field_t f;
    bool malformed = false;
    if (!capf_field_find(m->body, m->h.body_len, CAPF_TAG_PUBLIC_KEY, &f, &malformed)) {
        lab_say(PROG, "0x04 without a public key field (tag 0x%02x)%s", CAPF_TAG_PUBLIC_KEY,
                malformed ? ": malformed body" : "");
        return NULL;
    }
    const unsigned char *p = f.value;
    EVP_PKEY *key = d2i_PUBKEY(NULL, &p, f.len);
    if (!key) {
        lab_ssl_errors(PROG, "the public key of 0x04 is not a DER SubjectPublicKeyInfo");
        return NULL;
    }
    if (p != f.value + f.len)
        lab_say(PROG, "%ld bytes after the public key's DER, ignored", (long)(f.value + f.len - p));
    return key;
}

/* After the handshake: the CAPF exchange.  Takes the connection. */
static outcome_t capf_session(server_t *srv, SSL *ssl, int fd, uint32_t sid)
{
    const options_t *opt = srv->opt;
    char device[DEVICE_NAME_MAX];
    got_t got;

    capf_build_begin(&srv->out, CAPF_OP_SERVER_HELLO, sid);
    capf_build_u8(&srv->out, CAPF_TAG_OPERATION, 0x03);
    if (!capf_send(ssl, PROG, &srv->out))
        goto failed;

    if ((got = expect(srv, ssl, sid, CAPF_OP_REQUEST)) != GOT_OK)
        goto not_ok;
    uint8_t operation = 0;
    if (!capf_field_u8(srv->in.body, srv->in.h.body_len, CAPF_TAG_OPERATION, &operation) ||
        operation != 0x02)
        lab_say(PROG, "operation field absent or not 0x02: going on as for 0x02");
    if (!capf_field_name(srv->in.body, srv->in.h.body_len, CAPF_TAG_DEVICE_NAME, device,
                         sizeof(device))) {
        lab_say(PROG, "no usable device name (tag 0x%02x): refusing as unknown", CAPF_TAG_DEVICE_NAME);
        if (!send_status(srv, ssl, sid, CAPF_STATUS_DEVICE_UNKNOWN))
            goto failed;
        capf_close_graceful(ssl, fd, CLOSE_WAIT_MS);
        return OUTCOME_REFUSED;
    }
    uint8_t refusal = 0;
    if (in_list(opt->issued, device))
        refusal = CAPF_STATUS_ALREADY_ISSUED;
    else if (opt->known && !in_list(opt->known, device))
        refusal = CAPF_STATUS_DEVICE_UNKNOWN;
    if (refusal) {
        lab_say(PROG, "refusing %s: status 0x%02x %s", device, refusal, capf_status_name(refusal));
        if (!send_status(srv, ssl, sid, refusal))
            goto failed;
        capf_close_graceful(ssl, fd, CLOSE_WAIT_MS);
        return OUTCOME_REFUSED;
    }

    static const uint8_t key_size[2] = { 0x08, 0x00 };
    capf_build_begin(&srv->out, CAPF_OP_CONTINUE, sid);
    capf_build_field(&srv->out, CAPF_TAG_KEY_SIZE, key_size, sizeof(key_size));
    if (!capf_send(ssl, PROG, &srv->out))
        goto failed;

    if ((got = expect(srv, ssl, sid, CAPF_OP_CSR)) != GOT_OK)
        goto not_ok;
    EVP_PKEY *key = csr_key(&srv->in);
    if (!key)
        goto protocol_error;
    say_md5("CSR public key", key);
    EVP_PKEY *certified = key;
    if (opt->wrong_key) {
        certified = EVP_RSA_gen(2048);
        if (!certified) {
            lab_ssl_errors(PROG, "generating the wrong key failed");
            EVP_PKEY_free(key);
            goto failed;
        }
        lab_say(PROG, "--issue-wrong-key: certifying ANOTHER, fresh key instead of the CSR's");
    }
    X509 *cert = issue_lsc(srv, device, certified);
    if (cert) {
        char *issuer = capf_name_text(X509_get_issuer_name(cert));
        lab_say(PROG, "issued serial 0x%llx to CN=%s, issuer [%s]",
                (unsigned long long)(srv->next_serial - 1), device, issuer);
        g_free(issuer);
        say_md5("certificate public key", X509_get0_pubkey(cert));
    }
    if (certified != key)
        EVP_PKEY_free(certified);
    EVP_PKEY_free(key);
    if (!cert)
        goto failed;
    bool sent = send_certificate(srv, ssl, sid, cert);
    X509_free(cert);
    if (!sent)
        goto failed;

    if ((got = expect(srv, ssl, sid, CAPF_OP_ACK)) != GOT_OK)
        goto not_ok;
    uint8_t status = 0;
    if (!capf_field_u8(srv->in.body, srv->in.h.body_len, CAPF_TAG_STATUS, &status) ||
        status != CAPF_STATUS_OK)
        lab_say(PROG, "the acknowledgement carries no OK status: ending the session anyway");
    if (!send_status(srv, ssl, sid, CAPF_STATUS_OK))
        goto failed;
    capf_close_graceful(ssl, fd, CLOSE_WAIT_MS);
    lab_say(PROG, "session 0x%08x: certificate delivered and acknowledged", (unsigned)sid);
    return OUTCOME_ISSUED;

not_ok:
    if (got == GOT_STALL)
        return stall(srv, ssl, fd);
    if (got == GOT_GONE)
        goto failed;
protocol_error:
    capf_close_graceful(ssl, fd, CLOSE_WAIT_MS);
    return OUTCOME_FAILED;
failed:
    close_after_peer(ssl, fd);
    return OUTCOME_FAILED;
}

static outcome_t serve(server_t *srv, int fd, uint32_t sid)
{
    capf_socket_timeouts(fd, srv->opt->timeout_ms);
    SSL *ssl = lab_tls_accept(srv->ctx, fd);
    if (!ssl) {
        lab_say(PROG, "session 0x%08x: TLS handshake failed (see the alert above)", (unsigned)sid);
        close(fd);
        return OUTCOME_FAILED;
    }
    capf_log_tls(PROG, ssl);
    return capf_session(srv, ssl, fd, sid);
}

/* ---- set-up ---- */

static bool parse_options(int *argc, char ***argv, options_t *opt)
{
    GOptionEntry entries[] = {
        { "pki", 0, 0, G_OPTION_ARG_FILENAME, &opt->pki, "Directory made by lab-pki (required)", "DIR" },
        { "host", 0, 0, G_OPTION_ARG_STRING, &opt->host, "Address to listen on (127.0.0.1)", "ADDR" },
        { "port", 0, 0, G_OPTION_ARG_INT, &opt->port, "TCP port (3804)", "PORT" },
        { "tls", 0, 0, G_OPTION_ARG_STRING, &opt->tls, "tls12-gcm (default), tls12-rsa-cbc or tls13", "VARIANT" },
        { "keylog", 0, 0, G_OPTION_ARG_FILENAME, &opt->keylog, "Append TLS secrets (NSS key log) to FILE", "FILE" },
        { "server-cert", 0, 0, G_OPTION_ARG_STRING, &opt->server_cert,
          "Certificate presented on 3804 (capf-a; capf-b: not the one of the phone's ITL)", "NAME" },
        { "issuer", 0, 0, G_OPTION_ARG_STRING, &opt->issuer, "CA certificate and key issuing LSCs (capf-a)", "NAME" },
        { "client-auth", 0, 0, G_OPTION_ARG_STRING, &opt->client_auth, "none (default), optional or required", "MODE" },
        { "trust", 0, 0, G_OPTION_ARG_STRING, &opt->trust,
          "Trust store in DIR for client certificates (trust-capf-a.pem, trust-mic.pem, trust-all.pem)", "FILE" },
        { "known-device", 0, 0, G_OPTION_ARG_STRING_ARRAY, &opt->known,
          "A configured device (repeat); when given, others get 0x0f status 0x09", "NAME" },
        { "already-issued", 0, 0, G_OPTION_ARG_STRING_ARRAY, &opt->issued,
          "A device that gets 0x0f status 0x07 (repeat)", "NAME" },
        { "issue-wrong-key", 0, 0, G_OPTION_ARG_NONE, &opt->wrong_key,
          "Certify another, fresh key instead of the CSR's", NULL },
        { "stall-after", 0, 0, G_OPTION_ARG_STRING, &opt->stall_after,
          "Stop answering after receiving this opcode (hex), until the client gives up", "OPCODE" },
        { "connections", 0, 0, G_OPTION_ARG_INT, &opt->connections, "Serve N connections, then exit (1)", "N" },
        { "first-session-id", 0, 0, G_OPTION_ARG_STRING, &opt->first_session_id,
          "Session id of the first connection, hex (1001); +1 per connection", "HEX" },
        { "timeout-ms", 0, 0, G_OPTION_ARG_INT, &opt->timeout_ms,
          "Wait for each client message at most this long (30000)", "MS" },
        { NULL, 0, 0, 0, NULL, NULL, NULL },
    };
    GOptionContext *ctx = g_option_context_new("- the lab's CAPF (TCP 3804, CAPF framing inside TLS)");
    g_option_context_add_main_entries(ctx, entries, NULL);
    GError *error = NULL;
    bool ok = g_option_context_parse(ctx, argc, argv, &error);
    if (!ok) {
        lab_say(PROG, "%s (try --help)", error->message);
        g_error_free(error);
    } else if (*argc > 1) {
        lab_say(PROG, "unexpected argument '%s'", (*argv)[1]);
        ok = false;
    }
    g_option_context_free(ctx);
    return ok;
}

static void options_clear(options_t *opt)
{
    g_free(opt->pki);
    g_free(opt->host);
    g_free(opt->tls);
    g_free(opt->keylog);
    g_free(opt->server_cert);
    g_free(opt->issuer);
    g_free(opt->client_auth);
    g_free(opt->trust);
    g_strfreev(opt->known);
    g_strfreev(opt->issued);
    g_free(opt->stall_after);
    g_free(opt->first_session_id);
}

static bool load_issuer(server_t *srv, const char *dir, const char *name)
{
    char *cert_path = capf_pki_cert(dir, name);
    char *key_path = capf_pki_key(dir, name);
    BIO *b = BIO_new_file(cert_path, "r");
    srv->ca_cert = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
    BIO_free(b);
    b = BIO_new_file(key_path, "r");
    srv->ca_key = b ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;
    BIO_free(b);
    bool ok = srv->ca_cert && srv->ca_key && X509_check_private_key(srv->ca_cert, srv->ca_key) == 1;
    if (!ok)
        lab_ssl_errors(PROG, "cannot load the issuing CA (its .pem and .key, matching)");
    g_free(cert_path);
    g_free(key_path);
    return ok;
}

static int run(const options_t *opt)
{
    const char *host = opt->host ? opt->host : "127.0.0.1";
    const char *server_cert = opt->server_cert ? opt->server_cert : "capf-a";
    const char *issuer = opt->issuer ? opt->issuer : "capf-a";
    const char *client_auth = opt->client_auth ? opt->client_auth : "none";
    lab_tls_variant_t variant = LAB_TLS12_ECDHE_GCM;
    uint32_t sid = 0x1001;

    if (!opt->pki) {
        lab_say(PROG, "--pki DIR is required");
        return 1;
    }
    if (opt->port < 1 || opt->port > 65535 || opt->connections < 1 || opt->timeout_ms < 1) {
        lab_say(PROG, "--port, --connections and --timeout-ms take positive numbers (port <= 65535)");
        return 1;
    }
    if (opt->tls && !lab_tls_variant_parse(opt->tls, &variant)) {
        lab_say(PROG, "--tls: tls12-gcm, tls12-rsa-cbc or tls13, not '%s'", opt->tls);
        return 1;
    }
    if (opt->first_session_id && !capf_parse_hex_u32(opt->first_session_id, &sid)) {
        lab_say(PROG, "--first-session-id: a hexadecimal number of 32 bits, not '%s'", opt->first_session_id);
        return 1;
    }
    bool verify = strcmp(client_auth, "none") != 0;
    bool require = strcmp(client_auth, "required") == 0;
    if (verify && !require && strcmp(client_auth, "optional") != 0) {
        lab_say(PROG, "--client-auth: none, optional or required, not '%s'", client_auth);
        return 1;
    }
    if (verify && !opt->trust) {
        lab_say(PROG, "--client-auth %s needs --trust FILE (in DIR)", client_auth);
        return 1;
    }

    server_t *srv = g_new0(server_t, 1);
    srv->opt = opt;
    srv->next_serial = FIRST_SERIAL;
    if (opt->stall_after) {
        if (!capf_parse_hex_u8(opt->stall_after, &srv->stall_opcode)) {
            lab_say(PROG, "--stall-after: an opcode in hex (02, 04, 0a), not '%s'", opt->stall_after);
            g_free(srv);
            return 1;
        }
        srv->stall = true;
    }

    int status = 1;
    char *chain = capf_pki_chain(opt->pki, server_cert);
    char *key = capf_pki_key(opt->pki, server_cert);
    char *trust = verify ? capf_pki_file(opt->pki, opt->trust) : NULL;
    lab_tls_options_t tls = {
        .variant = variant,
        .cert_chain = chain,
        .key = key,
        .trust = trust,
        .require_peer_cert = require,
        .keylog = opt->keylog,
    };
    int lfd = -1;
    if (!load_issuer(srv, opt->pki, issuer))
        goto out;
    srv->ctx = lab_tls_server_ctx(&tls);
    if (!srv->ctx)
        goto out;
    lfd = lab_listen(host, (uint16_t)opt->port, 16);
    if (lfd < 0) {
        lab_say(PROG, "cannot listen on %s port %d", host, opt->port);
        goto out;
    }
    lab_say(PROG, "listening on %s port %d (%s, server certificate %s, client auth %s%s%s), %d connection(s)",
            host, opt->port, opt->tls ? opt->tls : "tls12-gcm", server_cert, client_auth,
            verify ? " against " : "", verify ? opt->trust : "", opt->connections);

    status = 0;
    for (int i = 0; i < opt->connections; i++, sid++) {
        int fd = lab_accept(lfd, -1);
        if (fd < 0) {
            lab_say(PROG, "accept failed");
            status = 1;
            break;
        }
        lab_say(PROG, "connection %d of %d: session 0x%08x", i + 1, opt->connections, (unsigned)sid);
        outcome_t o = serve(srv, fd, sid);
        if (o == OUTCOME_FAILED)
            status = 2;
        ERR_clear_error();
    }
    close(lfd);
    lab_say(PROG, "done, exit %d", status);
out:
    SSL_CTX_free(srv->ctx);
    X509_free(srv->ca_cert);
    EVP_PKEY_free(srv->ca_key);
    g_free(srv);
    g_free(chain);
    g_free(key);
    g_free(trust);
    return status;
}

int main(int argc, char **argv)
{
    options_t opt = { .port = CAPF_DEFAULT_PORT, .connections = 1, .timeout_ms = 30000 };
    int status = 1;
    /* a peer that reset the connection must not kill the server on write */
    signal(SIGPIPE, SIG_IGN);
    lab_set_program(PROG);
    if (parse_options(&argc, &argv, &opt))
        status = run(&opt);
    options_clear(&opt);
    return status;
}
