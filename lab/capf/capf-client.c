/* capf-client: a phone or softphone enrolling with CAPF on TCP 3804, for
 * the enrollment lab.
 *
 * Verifies the CAPF server certificate against what its ITL trusts (the
 * TLS library sends the alert when it does not verify), presents its LSC or
 * MIC or nothing, then plays the softphone flow of capf-wire.md with a
 * fresh RSA 2048 key per session, checks that the issued certificate
 * carries that key, and prints both modulus hashes the way
 * `openssl x509 -noout -modulus | openssl md5` prints them (seed 002).
 *
 * Exit status: 0 certificate delivered and acknowledged, 1 TLS or
 * connection failure (after the retries), 3 refused by CAPF (status
 * printed), 4 the certificate's key is not the CSR's, 5 the session was cut
 * on purpose (--abort-after, --no-ack), 2 bad options.
 */
#include "capf_lab.h"

#include <glib.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#define PROG "capf-client"
#define CLOSE_WAIT_MS 2000

enum {
    EXIT_DELIVERED = 0,
    EXIT_FAILED = 1,
    EXIT_USAGE = 2,
    EXIT_REFUSED = 3,
    EXIT_KEY_MISMATCH = 4,
    EXIT_CUT = 5,
};

typedef enum abort_mode { ABORT_FIN, ABORT_RST, ABORT_CLOSE_NOTIFY } abort_mode_t;

typedef struct options {
    char *pki;
    char *host;
    int port;
    char *tls;
    char *keylog;
    char *device;
    char *client_cert;
    char *trust;
    char *abort_after;
    char *abort_mode;
    gboolean no_ack;
    int retries;
    int retry_delay_ms;
    int connect_timeout_ms;
    int timeout_ms;
    char *save_cert;
    char *save_key;
} options_t;

typedef struct client {
    const options_t *opt;
    const char *host;
    const char *device;
    SSL_CTX *ctx;
    bool abort;
    uint8_t abort_opcode;
    abort_mode_t abort_mode;
    capf_msg_t in;
    capf_builder_t out;
} client_t;

/* Ends the connection now, the way --abort-mode says. */
static void cut(client_t *cli, SSL *ssl, int fd)
{
    switch (cli->abort_mode) {
    case ABORT_RST:
        lab_say(PROG, "cutting the session: TCP RST");
        lab_tls_close(ssl, -1, false);
        lab_close_reset(fd);
        break;
    case ABORT_FIN:
        lab_say(PROG, "cutting the session: FIN without close_notify");
        lab_tls_close(ssl, fd, false);
        break;
    case ABORT_CLOSE_NOTIFY:
        lab_say(PROG, "cutting the session: close_notify and FIN");
        capf_close_graceful(ssl, fd, CLOSE_WAIT_MS);
        break;
    }
    ERR_clear_error();
}

/* Closes after the peer ended or broke the session. */
static void close_after_peer(SSL *ssl, int fd)
{
    bool notified = (SSL_get_shutdown(ssl) & SSL_RECEIVED_SHUTDOWN) != 0;
    lab_tls_close(ssl, fd, notified);
    ERR_clear_error();
}

static bool save_pem(const char *path, X509 *cert, EVP_PKEY *key)
{
    BIO *b = BIO_new_file(path, "w");
    bool ok = b && (cert ? PEM_write_bio_X509(b, cert)
                         : PEM_write_bio_PrivateKey(b, key, NULL, NULL, 0, NULL, NULL));
    BIO_free(b);
    if (!ok)
        lab_ssl_errors(PROG, "cannot write the PEM file");
    return ok;
}

/* The certificate inside 0x09: tag 0x04 package, nested tag 0x01 = 00 01 + DER. */
static X509 *delivered_certificate(const capf_msg_t *m)
{
    uint8_t status = 0;
    if (!capf_field_u8(m->body, m->h.body_len, CAPF_TAG_CERT_STATUS, &status))
        lab_say(PROG, "0x09 without a certificate status (tag 0x%02x)", CAPF_TAG_CERT_STATUS);
    else if (status != CAPF_STATUS_OK)
        lab_say(PROG, "0x09 with certificate status 0x%02x %s", status, capf_status_name(status));
    capf_field_t pkg, cert;
    bool malformed = false;
    if (!capf_field_find(m->body, m->h.body_len, CAPF_TAG_CERT_PACKAGE, &pkg, &malformed)) {
        lab_say(PROG, "0x09 without a certificate package (tag 0x%02x)%s", CAPF_TAG_CERT_PACKAGE,
                malformed ? ": malformed body" : "");
        return NULL;
    }
    if (!capf_field_find(pkg.value, pkg.len, CAPF_PACKAGE_TAG_CERT, &cert, &malformed)) {
        lab_say(PROG, "the certificate package holds no certificate field%s",
                malformed ? ": malformed package" : "");
        return NULL;
    }
    if (cert.len < 2 || cert.value[0] != 0x00 || cert.value[1] != 0x01) {
        lab_say(PROG, "the certificate field does not start with 00 01");
        return NULL;
    }
    const unsigned char *p = cert.value + 2;
    X509 *x = d2i_X509(NULL, &p, cert.len - 2);
    if (!x) {
        lab_ssl_errors(PROG, "the delivered certificate is not DER");
        return NULL;
    }
    if (p != cert.value + cert.len)
        lab_say(PROG, "%ld bytes after the certificate's DER, ignored", (long)(cert.value + cert.len - p));
    return x;
}

/* Compares the delivered certificate's key with ours; true when equal. */
static bool check_key(X509 *x, EVP_PKEY *key)
{
    char *subject = capf_name_text(X509_get_subject_name(x));
    char *issuer = capf_name_text(X509_get_issuer_name(x));
    lab_say(PROG, "certificate [%s] issued by [%s]", subject, issuer);
    g_free(subject);
    g_free(issuer);
    char csr_md5[33] = "(not RSA)", cert_md5[33] = "(not RSA)";
    capf_modulus_md5(key, csr_md5);
    capf_modulus_md5(X509_get0_pubkey(x), cert_md5);
    lab_say(PROG, "CSR modulus MD5(stdin)= %s", csr_md5);
    lab_say(PROG, "certificate modulus MD5(stdin)= %s", cert_md5);
    bool same = EVP_PKEY_eq(X509_get0_pubkey(x), key) == 1;
    ERR_clear_error();
    if (same)
        lab_say(PROG, "the certificate carries the CSR's public key");
    else
        lab_say(PROG, "KEY MISMATCH: the certificate's public key is not the CSR's");
    return same;
}

typedef enum step { STEP_OK, STEP_CUT, STEP_FAILED } step_t;

/* Receives the next server message; STEP_CUT when --abort-after asked to
 * cut after it (the connection is then closed). */
static step_t receive(client_t *cli, SSL *ssl, int fd, uint32_t sid, bool check_sid)
{
    capf_recv_t r = capf_recv(ssl, PROG, &cli->in, cli->opt->timeout_ms);
    if (r == CAPF_RECV_TIMEOUT) {
        lab_say(PROG, "giving up: CAPF did not answer");
        cut(cli, ssl, fd);
        return STEP_FAILED;
    }
    if (r != CAPF_RECV_OK) {
        lab_say(PROG, "the session ended before the certificate was delivered");
        if (r == CAPF_RECV_BAD_MAGIC)
            capf_close_graceful(ssl, fd, CLOSE_WAIT_MS);
        else
            close_after_peer(ssl, fd);
        return STEP_FAILED;
    }
    if (check_sid && cli->in.h.session_id != sid) {
        lab_say(PROG, "session id 0x%08x, 0x%08x expected", (unsigned)cli->in.h.session_id, (unsigned)sid);
        capf_close_graceful(ssl, fd, CLOSE_WAIT_MS);
        return STEP_FAILED;
    }
    if (cli->abort && cli->in.h.opcode == cli->abort_opcode) {
        lab_say(PROG, "--abort-after 0x%02x", cli->abort_opcode);
        cut(cli, ssl, fd);
        return STEP_CUT;
    }
    return STEP_OK;
}

static int unexpected(SSL *ssl, int fd, const char *expected)
{
    lab_say(PROG, "%s expected", expected);
    capf_close_graceful(ssl, fd, CLOSE_WAIT_MS);
    return EXIT_FAILED;
}

/* The CAPF exchange over an established TLS session; takes the connection. */
static int capf_session(client_t *cli, SSL *ssl, int fd, EVP_PKEY *key)
{
    const options_t *opt = cli->opt;
    step_t s;

    if ((s = receive(cli, ssl, fd, 0, false)) != STEP_OK)
        return s == STEP_CUT ? EXIT_CUT : EXIT_FAILED;
    if (cli->in.h.opcode != CAPF_OP_SERVER_HELLO)
        return unexpected(ssl, fd, "0x01 server_hello");
    uint32_t sid = cli->in.h.session_id;

    /* request: operation 0x02, device name with its NUL, status OK */
    capf_build_begin(&cli->out, CAPF_OP_REQUEST, sid);
    capf_build_u8(&cli->out, CAPF_TAG_OPERATION, 0x02);
    capf_build_field(&cli->out, CAPF_TAG_DEVICE_NAME, cli->device, strlen(cli->device) + 1);
    capf_build_u8(&cli->out, CAPF_TAG_STATUS, CAPF_STATUS_OK);
    if (!capf_send(ssl, PROG, &cli->out)) {
        close_after_peer(ssl, fd);
        return EXIT_FAILED;
    }

    if ((s = receive(cli, ssl, fd, sid, true)) != STEP_OK)
        return s == STEP_CUT ? EXIT_CUT : EXIT_FAILED;
    if (cli->in.h.opcode == CAPF_OP_END_SESSION) {
        uint8_t status = 0;
        if (capf_field_u8(cli->in.body, cli->in.h.body_len, CAPF_TAG_STATUS, &status)) {
            const capf_name_t *n = capf_status_lookup(status);
            lab_say(PROG, "REFUSED: status 0x%02x %s (%s)", status, n ? n->name : "unknown",
                    n ? n->label : "not a known status");
        } else {
            lab_say(PROG, "REFUSED: 0x0f without a status");
        }
        capf_close_graceful(ssl, fd, CLOSE_WAIT_MS);
        return EXIT_REFUSED;
    }
    if (cli->in.h.opcode != CAPF_OP_CONTINUE)
        return unexpected(ssl, fd, "0x03 continue or 0x0f end_session");

    /* CSR: the SubjectPublicKeyInfo DER of the fresh key */
    unsigned char *spki = NULL;
    int spki_len = i2d_PUBKEY(key, &spki);
    if (spki_len <= 0) {
        lab_ssl_errors(PROG, "encoding the public key failed");
        capf_close_graceful(ssl, fd, CLOSE_WAIT_MS);
        return EXIT_FAILED;
    }
    capf_build_begin(&cli->out, CAPF_OP_CSR, sid);
    capf_build_field(&cli->out, CAPF_TAG_PUBLIC_KEY, spki, (size_t)spki_len);
    OPENSSL_free(spki);
    if (!capf_send(ssl, PROG, &cli->out)) {
        close_after_peer(ssl, fd);
        return EXIT_FAILED;
    }

    if ((s = receive(cli, ssl, fd, sid, true)) != STEP_OK)
        return s == STEP_CUT ? EXIT_CUT : EXIT_FAILED;
    if (cli->in.h.opcode != CAPF_OP_CERTIFICATE)
        return unexpected(ssl, fd, "0x09 certificate");
    X509 *cert = delivered_certificate(&cli->in);
    if (!cert) {
        capf_close_graceful(ssl, fd, CLOSE_WAIT_MS);
        return EXIT_FAILED;
    }
    bool same = check_key(cert, key);
    if (opt->save_cert)
        save_pem(opt->save_cert, cert, NULL);
    X509_free(cert);

    if (opt->no_ack) {
        lab_say(PROG, "--no-ack: not acknowledging the certificate");
        cut(cli, ssl, fd);
        return same ? EXIT_CUT : EXIT_KEY_MISMATCH;
    }
    capf_build_begin(&cli->out, CAPF_OP_ACK, sid);
    capf_build_u8(&cli->out, CAPF_TAG_STATUS, CAPF_STATUS_OK);
    if (!capf_send(ssl, PROG, &cli->out)) {
        close_after_peer(ssl, fd);
        return EXIT_FAILED;
    }

    if ((s = receive(cli, ssl, fd, sid, true)) != STEP_OK)
        return s == STEP_CUT ? EXIT_CUT : EXIT_FAILED;
    if (cli->in.h.opcode != CAPF_OP_END_SESSION)
        return unexpected(ssl, fd, "0x0f end_session");
    uint8_t status = 0;
    if (!capf_field_u8(cli->in.body, cli->in.h.body_len, CAPF_TAG_STATUS, &status) ||
        status != CAPF_STATUS_OK)
        lab_say(PROG, "the end of session carries no OK status");
    capf_close_graceful(ssl, fd, CLOSE_WAIT_MS);
    return same ? EXIT_DELIVERED : EXIT_KEY_MISMATCH;
}

/* One connection from key generation to close. */
static int attempt(client_t *cli)
{
    const options_t *opt = cli->opt;
    EVP_PKEY *key = EVP_RSA_gen(2048);
    if (!key) {
        lab_ssl_errors(PROG, "generating the RSA key failed");
        return EXIT_FAILED;
    }
    if (opt->save_key)
        save_pem(opt->save_key, NULL, key);
    int status = EXIT_FAILED;
    int fd = lab_connect(cli->host, (uint16_t)opt->port, opt->connect_timeout_ms);
    if (fd < 0) {
        lab_say(PROG, "cannot connect to %s port %d (refused, or no answer within %d ms)", cli->host,
                opt->port, opt->connect_timeout_ms);
        goto out;
    }
    capf_socket_timeouts(fd, opt->timeout_ms);
    SSL *ssl = lab_tls_connect(cli->ctx, fd, NULL);
    if (!ssl) {
        lab_say(PROG, "TLS handshake failed (see the reason above)");
        close(fd);
        goto out;
    }
    capf_log_tls(PROG, ssl);
    status = capf_session(cli, ssl, fd, key);
out:
    EVP_PKEY_free(key);
    ERR_clear_error();
    return status;
}

static bool parse_options(int *argc, char ***argv, options_t *opt)
{
    GOptionEntry entries[] = {
        { "pki", 0, 0, G_OPTION_ARG_FILENAME, &opt->pki, "Directory made by lab-pki (required)", "DIR" },
        { "host", 0, 0, G_OPTION_ARG_STRING, &opt->host, "CAPF address (127.0.0.1)", "ADDR" },
        { "port", 0, 0, G_OPTION_ARG_INT, &opt->port, "TCP port (3804)", "PORT" },
        { "tls", 0, 0, G_OPTION_ARG_STRING, &opt->tls, "tls12-gcm (default), tls12-rsa-cbc or tls13", "VARIANT" },
        { "keylog", 0, 0, G_OPTION_ARG_FILENAME, &opt->keylog, "Append TLS secrets (NSS key log) to FILE", "FILE" },
        { "device", 0, 0, G_OPTION_ARG_STRING, &opt->device, "Device name sent in 0x02 (SEP74A02FC0A675)", "NAME" },
        { "client-cert", 0, 0, G_OPTION_ARG_STRING, &opt->client_cert,
          "Certificate to present: NONE (default) or a name in DIR (phone-SEP74A02FC0A675-lsc, ...-mic)", "NAME" },
        { "trust", 0, 0, G_OPTION_ARG_STRING, &opt->trust,
          "What the ITL trusts: a file in DIR (trust-capf-a.pem, the default) or NONE", "FILE" },
        { "abort-after", 0, 0, G_OPTION_ARG_STRING, &opt->abort_after,
          "Cut the session after receiving this opcode (hex)", "OPCODE" },
        { "abort-mode", 0, 0, G_OPTION_ARG_STRING, &opt->abort_mode,
          "How to cut or give up: fin (default, no close_notify), rst, or close_notify", "MODE" },
        { "no-ack", 0, 0, G_OPTION_ARG_NONE, &opt->no_ack, "Do not acknowledge the certificate (no 0x0a)", NULL },
        { "retries", 0, 0, G_OPTION_ARG_INT, &opt->retries, "Retry a failed connection N times (0)", "N" },
        { "retry-delay-ms", 0, 0, G_OPTION_ARG_INT, &opt->retry_delay_ms, "Between retries (30000)", "MS" },
        { "connect-timeout-ms", 0, 0, G_OPTION_ARG_INT, &opt->connect_timeout_ms,
          "Give up a TCP connection attempt after MS (5000)", "MS" },
        { "timeout-ms", 0, 0, G_OPTION_ARG_INT, &opt->timeout_ms,
          "Give up when CAPF does not answer within MS (10000)", "MS" },
        { "save-cert", 0, 0, G_OPTION_ARG_FILENAME, &opt->save_cert, "Write the delivered certificate (PEM)", "FILE" },
        { "save-key", 0, 0, G_OPTION_ARG_FILENAME, &opt->save_key, "Write the generated private key (PEM)", "FILE" },
        { NULL, 0, 0, 0, NULL, NULL, NULL },
    };
    GOptionContext *ctx = g_option_context_new("- a phone enrolling with the lab's CAPF");
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
    g_free(opt->device);
    g_free(opt->client_cert);
    g_free(opt->trust);
    g_free(opt->abort_after);
    g_free(opt->abort_mode);
    g_free(opt->save_cert);
    g_free(opt->save_key);
}

static bool is_none(const char *s)
{
    return s && g_ascii_strcasecmp(s, "NONE") == 0;
}

static int run(const options_t *opt)
{
    client_t cli = { .opt = opt };
    cli.host = opt->host ? opt->host : "127.0.0.1";
    cli.device = opt->device ? opt->device : "SEP74A02FC0A675";
    const char *trust_name = opt->trust ? opt->trust : "trust-capf-a.pem";
    lab_tls_variant_t variant = LAB_TLS12_ECDHE_GCM;

    if (!opt->pki) {
        lab_say(PROG, "--pki DIR is required");
        return EXIT_USAGE;
    }
    if (opt->port < 1 || opt->port > 65535 || opt->retries < 0 || opt->retry_delay_ms < 0 ||
        opt->connect_timeout_ms < 1 || opt->timeout_ms < 1) {
        lab_say(PROG, "--port is 1..65535, --retries and --retry-delay-ms >= 0, timeouts > 0");
        return EXIT_USAGE;
    }
    if (opt->tls && !lab_tls_variant_parse(opt->tls, &variant)) {
        lab_say(PROG, "--tls: tls12-gcm, tls12-rsa-cbc or tls13, not '%s'", opt->tls);
        return EXIT_USAGE;
    }
    size_t dlen = strlen(cli.device);
    if (dlen == 0 || dlen > 63) {
        lab_say(PROG, "--device: 1 to 63 characters");
        return EXIT_USAGE;
    }
    if (opt->abort_after) {
        if (!capf_parse_hex_u8(opt->abort_after, &cli.abort_opcode)) {
            lab_say(PROG, "--abort-after: an opcode in hex (01, 03, 09), not '%s'", opt->abort_after);
            return EXIT_USAGE;
        }
        cli.abort = true;
    }
    const char *mode = opt->abort_mode ? opt->abort_mode : "fin";
    if (strcmp(mode, "fin") == 0)
        cli.abort_mode = ABORT_FIN;
    else if (strcmp(mode, "rst") == 0)
        cli.abort_mode = ABORT_RST;
    else if (strcmp(mode, "close_notify") == 0)
        cli.abort_mode = ABORT_CLOSE_NOTIFY;
    else {
        lab_say(PROG, "--abort-mode: fin, rst or close_notify, not '%s'", mode);
        return EXIT_USAGE;
    }

    bool with_cert = opt->client_cert && !is_none(opt->client_cert);
    char *chain = with_cert ? capf_pki_chain(opt->pki, opt->client_cert) : NULL;
    char *key = with_cert ? capf_pki_key(opt->pki, opt->client_cert) : NULL;
    char *trust = is_none(trust_name) ? NULL : capf_pki_file(opt->pki, trust_name);
    lab_tls_options_t tls = {
        .variant = variant,
        .cert_chain = chain,
        .key = key,
        .trust = trust,
        .keylog = opt->keylog,
    };
    cli.ctx = lab_tls_client_ctx(&tls);
    int status = EXIT_FAILED;
    if (cli.ctx) {
        lab_say(PROG, "%s enrolling with %s port %d (%s, client certificate %s, trusting %s)", cli.device,
                cli.host, opt->port, opt->tls ? opt->tls : "tls12-gcm", with_cert ? opt->client_cert : "none",
                trust ? trust_name : "anything");
        for (int i = 0; i <= opt->retries; i++) {
            if (i > 0) {
                lab_say(PROG, "retry %d of %d in %d ms", i, opt->retries, opt->retry_delay_ms);
                lab_sleep_ms(opt->retry_delay_ms);
            }
            lab_say(PROG, "attempt %d", i + 1);
            status = attempt(&cli);
            if (status != EXIT_FAILED)
                break;
        }
    }
    static const char *const results[] = {
        [EXIT_DELIVERED] = "certificate delivered and acknowledged",
        [EXIT_FAILED] = "TLS or connection failure",
        [EXIT_USAGE] = "bad options",
        [EXIT_REFUSED] = "refused by CAPF",
        [EXIT_KEY_MISMATCH] = "certificate delivered for another key",
        [EXIT_CUT] = "session cut as asked",
    };
    lab_say(PROG, "result: %s (exit %d)", results[status], status);
    SSL_CTX_free(cli.ctx);
    g_free(chain);
    g_free(key);
    g_free(trust);
    return status;
}

int main(int argc, char **argv)
{
    options_t opt = {
        .port = CAPF_DEFAULT_PORT,
        .retry_delay_ms = 30000,
        .connect_timeout_ms = 5000,
        .timeout_ms = 10000,
    };
    int status = EXIT_USAGE;
    /* a server that reset the connection must not kill the client on write */
    signal(SIGPIPE, SIG_IGN);
    lab_set_program(PROG);
    if (parse_options(&argc, &argv, &opt))
        status = run(&opt);
    options_clear(&opt);
    return status;
}
