#include "capf_lab.h"

#include <errno.h>
#include <glib.h>
#include <limits.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/x509.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>

/* ---- log lines ---- */

static bool is_status_tag(uint8_t tag)
{
    return tag == CAPF_TAG_STATUS || tag == CAPF_TAG_CERT_STATUS;
}

/* " operation=0x02 device_name="SEP..." status=0x01 ok public_key=(294 bytes)" */
static void describe_body(GString *s, const uint8_t *body, size_t len)
{
    capf_field_iter_t it;
    capf_field_iter_init(&it, body, len);
    capf_field_t f;
    while (capf_field_next(&it, &f)) {
        const capf_name_t *tag = capf_tag_lookup(f.tag);
        if (tag)
            g_string_append_printf(s, " %s=", tag->name);
        else
            g_string_append_printf(s, " tag_0x%02x=", f.tag);
        if (f.tag == CAPF_TAG_DEVICE_NAME) {
            g_string_append_c(s, '"');
            for (size_t i = 0; i < f.len && f.value[i] != 0; i++) {
                uint8_t c = f.value[i];
                if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\')
                    g_string_append_c(s, (char)c);
                else
                    g_string_append_printf(s, "\\x%02x", c);
            }
            g_string_append_c(s, '"');
        } else if (f.len == 1 && is_status_tag(f.tag)) {
            g_string_append_printf(s, "0x%02x %s", f.value[0], capf_status_name(f.value[0]));
        } else if (f.len >= 1 && f.len <= 4) {
            for (size_t i = 0; i < f.len; i++)
                g_string_append_printf(s, i ? " %02x" : "%02x", f.value[i]);
        } else {
            g_string_append_printf(s, "(%u bytes)", (unsigned)f.len);
        }
    }
    if (it.malformed)
        g_string_append(s, " (malformed body: a field runs past the end)");
}

static void log_message(const char *prog, const char *dir, const capf_header_t *h,
                        const uint8_t *body)
{
    GString *s = g_string_new(NULL);
    g_string_append_printf(s, "%s 0x%02x %s session 0x%08x", dir, h->opcode,
                           capf_opcode_name(h->opcode), (unsigned)h->session_id);
    describe_body(s, body, h->body_len);
    lab_say(prog, "%s", s->str);
    g_string_free(s, TRUE);
}

/* ---- sending and receiving ---- */

bool capf_send(SSL *ssl, const char *prog, capf_builder_t *b)
{
    if (!capf_build_end(b)) {
        lab_say(prog, "message 0x%02x does not fit the CAPF framing", b->buf[1]);
        return false;
    }
    capf_header_t h;
    capf_header_parse(b->buf, &h);
    log_message(prog, "->", &h, b->buf + CAPF_HEADER_LEN);
    if (!lab_tls_write(ssl, b->buf, b->len)) {
        lab_ssl_errors(prog, "sending failed");
        ERR_clear_error();
        return false;
    }
    return true;
}

/* 1 readable, 0 timeout, -1 error. */
static int wait_readable(SSL *ssl, int timeout_ms)
{
    if (SSL_has_pending(ssl))
        return 1;
    struct pollfd p = { SSL_get_fd(ssl), POLLIN, 0 };
    int r;
    do {
        r = poll(&p, 1, timeout_ms);
    } while (r < 0 && errno == EINTR);
    return r > 0 ? 1 : r;
}

/* After lab_tls_read_some returned -1 on readable data: a FIN without
 * close_notify counts as a close, the rest is an error (reason printed). */
static capf_recv_t classify_read_error(const char *prog, int saved_errno, bool quiet)
{
    unsigned long e = ERR_peek_error();
    if (e != 0 && ERR_GET_LIB(e) == ERR_LIB_SSL &&
        ERR_GET_REASON(e) == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
        ERR_clear_error();
        if (!quiet)
            lab_say(prog, "the peer closed the connection without close_notify");
        return CAPF_RECV_CLOSED;
    }
    if (!quiet) {
        if (e != 0)
            lab_ssl_errors(prog, "receiving failed");
        else if (saved_errno != 0)
            lab_say(prog, "receiving failed: %s", strerror(saved_errno));
        else
            lab_say(prog, "receiving failed");
    }
    ERR_clear_error();
    return CAPF_RECV_ERROR;
}

capf_recv_t capf_recv(SSL *ssl, const char *prog, capf_msg_t *m, int timeout_ms)
{
    uint8_t raw[CAPF_HEADER_LEN];
    int w = wait_readable(ssl, timeout_ms);
    if (w == 0) {
        lab_say(prog, "no message within %d ms", timeout_ms);
        return CAPF_RECV_TIMEOUT;
    }
    errno = 0;
    long n = w < 0 ? -1 : lab_tls_read_some(ssl, raw, sizeof(raw), timeout_ms);
    int saved = errno;
    if (n == 0) {
        lab_say(prog, "the peer closed the session (close_notify)");
        return CAPF_RECV_CLOSED;
    }
    if (n < 0)
        return classify_read_error(prog, saved, false);
    if ((size_t)n < sizeof(raw) &&
        !lab_tls_read_exact(ssl, raw + n, sizeof(raw) - (size_t)n, timeout_ms)) {
        lab_say(prog, "a CAPF header was cut after %ld bytes", n);
        ERR_clear_error();
        return CAPF_RECV_ERROR;
    }
    if (!capf_header_parse(raw, &m->h)) {
        lab_say(prog, "not CAPF framing: first byte 0x%02x, magic 0x%02x expected", raw[0], CAPF_MAGIC);
        return CAPF_RECV_BAD_MAGIC;
    }
    if (m->h.body_len > 0 && !lab_tls_read_exact(ssl, m->body, m->h.body_len, timeout_ms)) {
        lab_say(prog, "message 0x%02x was cut: its body of %u bytes did not arrive", m->h.opcode,
                (unsigned)m->h.body_len);
        ERR_clear_error();
        return CAPF_RECV_ERROR;
    }
    log_message(prog, "<-", &m->h, m->body);
    return CAPF_RECV_OK;
}

capf_recv_t capf_drain_until_close(SSL *ssl, int timeout_ms)
{
    long deadline = timeout_ms < 0 ? 0 : lab_now_ms() + timeout_ms;
    uint8_t scratch[4096];
    for (;;) {
        int left = -1;
        if (timeout_ms >= 0) {
            long l = deadline - lab_now_ms();
            if (l <= 0)
                return CAPF_RECV_TIMEOUT;
            left = l > INT_MAX ? INT_MAX : (int)l;
        }
        int w = wait_readable(ssl, left);
        if (w == 0)
            return CAPF_RECV_TIMEOUT;
        errno = 0;
        long n = w < 0 ? -1 : lab_tls_read_some(ssl, scratch, sizeof(scratch), left);
        if (n == 0)
            return CAPF_RECV_CLOSED;
        if (n < 0)
            return classify_read_error("", errno, true);
    }
}

void capf_close_graceful(SSL *ssl, int fd, int timeout_ms)
{
    int r = SSL_shutdown(ssl);
    if (r == 0)
        capf_drain_until_close(ssl, timeout_ms);
    ERR_clear_error();
    lab_tls_close(ssl, fd, false);
}

void capf_socket_timeouts(int fd, int ms)
{
    if (ms <= 0)
        return;
    struct timeval tv = { ms / 1000, (long)(ms % 1000) * 1000L };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

char *capf_name_text(const X509_NAME *name)
{
    BIO *mem = BIO_new(BIO_s_mem());
    char *text = NULL;
    if (mem && X509_NAME_print_ex(mem, name, 0, XN_FLAG_ONELINE & ~ASN1_STRFLGS_ESC_MSB) >= 0) {
        char *data = NULL;
        long len = BIO_get_mem_data(mem, &data);
        text = g_strndup(data, len > 0 ? (gsize)len : 0);
    }
    BIO_free(mem);
    return text ? text : g_strdup("?");
}

void capf_log_tls(const char *prog, SSL *ssl)
{
    GString *s = g_string_new(NULL);
    g_string_append_printf(s, "%s %s", SSL_get_version(ssl), SSL_get_cipher_name(ssl));
    X509 *peer = SSL_get1_peer_certificate(ssl);
    if (peer) {
        char *subject = capf_name_text(X509_get_subject_name(peer));
        char *issuer = capf_name_text(X509_get_issuer_name(peer));
        g_string_append_printf(s, ", peer certificate [%s] issued by [%s]", subject, issuer);
        g_free(subject);
        g_free(issuer);
        X509_free(peer);
    } else {
        g_string_append(s, ", no peer certificate");
    }
    lab_say(prog, "%s", s->str);
    g_string_free(s, TRUE);
}

/* ---- PKI files ---- */

char *capf_pki_file(const char *dir, const char *file)
{
    return g_build_filename(dir, file, NULL);
}

static char *pki_with_suffix(const char *dir, const char *name, const char *suffix)
{
    char *file = g_strconcat(name, suffix, NULL);
    char *path = g_build_filename(dir, file, NULL);
    g_free(file);
    return path;
}

char *capf_pki_cert(const char *dir, const char *name)
{
    return pki_with_suffix(dir, name, ".pem");
}

char *capf_pki_key(const char *dir, const char *name)
{
    return pki_with_suffix(dir, name, ".key");
}

char *capf_pki_chain(const char *dir, const char *name)
{
    char *chain = pki_with_suffix(dir, name, "-chain.pem");
    if (g_file_test(chain, G_FILE_TEST_IS_REGULAR))
        return chain;
    g_free(chain);
    return capf_pki_cert(dir, name);
}

/* ---- option values ---- */

static bool parse_ulong(const char *text, int base, unsigned long max, unsigned long *out)
{
    if (!text || !*text || *text == '-' || *text == '+')
        return false;
    char *end = NULL;
    errno = 0;
    unsigned long v = strtoul(text, &end, base);
    if (errno != 0 || !end || *end != '\0' || end == text || v > max)
        return false;
    *out = v;
    return true;
}

bool capf_parse_hex_u8(const char *text, uint8_t *out)
{
    unsigned long v;
    if (!parse_ulong(text, 16, 0xff, &v))
        return false;
    *out = (uint8_t)v;
    return true;
}

bool capf_parse_hex_u32(const char *text, uint32_t *out)
{
    unsigned long v;
    if (!parse_ulong(text, 16, 0xffffffffUL, &v))
        return false;
    *out = (uint32_t)v;
    return true;
}

bool capf_parse_port(const char *text, uint16_t *out)
{
    unsigned long v;
    if (!parse_ulong(text, 10, 65535, &v) || v == 0)
        return false;
    *out = (uint16_t)v;
    return true;
}

/* ---- seed 002: modulus hash ---- */

bool capf_modulus_md5(const EVP_PKEY *key, char out[33])
{
    BIGNUM *n = NULL;
    if (!key || EVP_PKEY_get_base_id(key) != EVP_PKEY_RSA ||
        !EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_N, &n))
        return false;
    bool ok = false;
    BIO *mem = BIO_new(BIO_s_mem());
    /* BN_print is what `openssl x509 -modulus` writes: uppercase, no leading zeros */
    if (mem && BIO_puts(mem, "Modulus=") > 0 && BN_print(mem, n) && BIO_puts(mem, "\n") > 0) {
        char *text = NULL;
        long len = BIO_get_mem_data(mem, &text);
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned int mdlen = 0;
        if (len > 0 && EVP_Digest(text, (size_t)len, md, &mdlen, EVP_md5(), NULL) && mdlen == 16) {
            for (unsigned int i = 0; i < mdlen; i++)
                snprintf(out + 2 * i, 3, "%02x", md[i]);
            ok = true;
        }
    }
    BIO_free(mem);
    BN_free(n);
    ERR_clear_error();
    return ok;
}
