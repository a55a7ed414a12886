#include "lab.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static const char *program_name = "lab";

void lab_set_program(const char *name)
{
    program_name = name;
}

void lab_say(const char *prog, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", prog);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

void lab_ssl_errors(const char *prog, const char *what)
{
    unsigned long e;
    char buf[256];
    bool any = false;
    while ((e = ERR_get_error()) != 0) {
        ERR_error_string_n(e, buf, sizeof(buf));
        lab_say(prog, "%s: %s", what, buf);
        any = true;
    }
    if (!any)
        lab_say(prog, "%s", what);
}

bool lab_parse_long(const char *s, long min, long max, long *out)
{
    if (!s || !*s)
        return false;
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || v < min || v > max)
        return false;
    *out = v;
    return true;
}

bool lab_parse_int(const char *s, int min, int max, int *out)
{
    long v;
    if (!lab_parse_long(s, min, max, &v))
        return false;
    *out = (int)v;
    return true;
}

int64_t lab_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void lab_sleep_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

bool lab_tls_variant_parse(const char *name, lab_tls_variant_t *out)
{
    if (strcmp(name, "tls12-gcm") == 0)
        *out = LAB_TLS12_ECDHE_GCM;
    else if (strcmp(name, "tls12-rsa-cbc") == 0)
        *out = LAB_TLS12_RSA_CBC;
    else if (strcmp(name, "tls13") == 0)
        *out = LAB_TLS13;
    else
        return false;
    return true;
}

/* Appends each secret line to the file named in the context's ex data. */
static int keylog_index = -1;

static void keylog_line(const SSL *ssl, const char *line)
{
    const char *path = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), keylog_index);
    if (!path)
        return;
    FILE *fp = fopen(path, "a");
    if (!fp)
        return;
    fprintf(fp, "%s\n", line);
    fclose(fp);
}

static bool configure(SSL_CTX *ctx, const lab_tls_options_t *opt, bool server)
{
    switch (opt->variant) {
    case LAB_TLS12_ECDHE_GCM:
        SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
        SSL_CTX_set_max_proto_version(ctx, TLS1_2_VERSION);
        if (!SSL_CTX_set_cipher_list(ctx, "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES128-GCM-SHA256"))
            return false;
        break;
    case LAB_TLS12_RSA_CBC:
        SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
        SSL_CTX_set_max_proto_version(ctx, TLS1_2_VERSION);
        /* RSA key exchange: decryptable with the server's private key */
        if (!SSL_CTX_set_cipher_list(ctx, "AES128-SHA:AES256-SHA256"))
            return false;
        break;
    case LAB_TLS13:
        SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
        SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION);
        break;
    }
    /* One full handshake per connection, as phones do: no tickets (TLS 1.2
     * needs the option, TLS 1.3 the ticket count). */
    SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
    SSL_CTX_set_num_tickets(ctx, 0);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    if (opt->cert_chain && !SSL_CTX_use_certificate_chain_file(ctx, opt->cert_chain))
        return false;
    if (opt->key && !SSL_CTX_use_PrivateKey_file(ctx, opt->key, SSL_FILETYPE_PEM))
        return false;
    if (opt->trust) {
        if (!SSL_CTX_load_verify_locations(ctx, opt->trust, NULL))
            return false;
        if (server) {
            STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(opt->trust);
            if (names)
                SSL_CTX_set_client_CA_list(ctx, names);
        }
        int mode = SSL_VERIFY_PEER;
        if (server && opt->require_peer_cert)
            mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
        SSL_CTX_set_verify(ctx, mode, NULL);
    } else if (server && opt->require_peer_cert) {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
    }
    if (opt->keylog) {
        if (keylog_index < 0)
            keylog_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, NULL);
        SSL_CTX_set_ex_data(ctx, keylog_index, (void *)opt->keylog);
        SSL_CTX_set_keylog_callback(ctx, keylog_line);
    }
    if (!server && opt->check_host && opt->sni) {
        X509_VERIFY_PARAM *param = SSL_CTX_get0_param(ctx);
        if (!X509_VERIFY_PARAM_set1_host(param, opt->sni, 0))
            return false;
    }
    return true;
}

static SSL_CTX *make_ctx(const lab_tls_options_t *opt, bool server)
{
    SSL_CTX *ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
    if (!ctx || !configure(ctx, opt, server)) {
        lab_ssl_errors(program_name, server ? "server TLS set-up failed" : "client TLS set-up failed");
        SSL_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

SSL_CTX *lab_tls_server_ctx(const lab_tls_options_t *opt)
{
    return make_ctx(opt, true);
}

SSL_CTX *lab_tls_client_ctx(const lab_tls_options_t *opt)
{
    return make_ctx(opt, false);
}

static bool resolve(const char *host, uint16_t port, struct sockaddr_storage *ss, socklen_t *len)
{
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICHOST;
    char service[8];
    snprintf(service, sizeof(service), "%u", port);
    if (getaddrinfo(host, service, &hints, &res) != 0 || !res)
        return false;
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *len = res->ai_addrlen;
    freeaddrinfo(res);
    return true;
}

int lab_listen(const char *host, uint16_t port, int backlog)
{
    struct sockaddr_storage ss;
    socklen_t len;
    if (!resolve(host, port, &ss, &len))
        return -1;
    int fd = socket(ss.ss_family, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&ss, len) != 0 || listen(fd, backlog) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static bool wait_fd(int fd, short events, int timeout_ms)
{
    struct pollfd p = { fd, events, 0 };
    int r;
    do {
        r = poll(&p, 1, timeout_ms);
    } while (r < 0 && errno == EINTR);
    return r > 0;
}

int lab_connect(const char *host, uint16_t port, int timeout_ms)
{
    struct sockaddr_storage ss;
    socklen_t len;
    if (!resolve(host, port, &ss, &len))
        return -1;
    int fd = socket(ss.ss_family, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    int flags = fcntl(fd, F_GETFL);
    fcntl(fd, F_SETFL, flags | O_NONBLOCK);
    int r = connect(fd, (struct sockaddr *)&ss, len);
    if (r != 0 && errno != EINPROGRESS) {
        close(fd);
        return -1;
    }
    if (r != 0) {
        int err = 0;
        socklen_t elen = sizeof(err);
        if (!wait_fd(fd, POLLOUT, timeout_ms) ||
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) != 0 || err != 0) {
            close(fd);
            return -1;
        }
    }
    fcntl(fd, F_SETFL, flags);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}

int lab_accept(int listen_fd, int timeout_ms)
{
    if (!wait_fd(listen_fd, POLLIN, timeout_ms))
        return -1;
    int fd = accept(listen_fd, NULL, NULL);
    if (fd >= 0) {
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    }
    return fd;
}

SSL *lab_tls_accept(SSL_CTX *ctx, int fd)
{
    SSL *ssl = SSL_new(ctx);
    if (!ssl)
        return NULL;
    SSL_set_fd(ssl, fd);
    if (SSL_accept(ssl) != 1) {
        lab_ssl_errors(program_name, "TLS handshake (server side) failed");
        SSL_free(ssl);
        return NULL;
    }
    return ssl;
}

SSL *lab_tls_connect(SSL_CTX *ctx, int fd, const char *sni)
{
    SSL *ssl = SSL_new(ctx);
    if (!ssl)
        return NULL;
    SSL_set_fd(ssl, fd);
    if (sni)
        SSL_set_tlsext_host_name(ssl, sni);
    if (SSL_connect(ssl) != 1) {
        lab_ssl_errors(program_name, "TLS handshake (client side) failed");
        long v = SSL_get_verify_result(ssl);
        if (v != X509_V_OK)
            lab_say(program_name, "peer certificate: %s", X509_verify_cert_error_string(v));
        SSL_free(ssl);
        return NULL;
    }
    return ssl;
}

bool lab_tls_write(SSL *ssl, const void *buf, size_t len)
{
    size_t done = 0;
    while (done < len) {
        size_t n = 0;
        if (SSL_write_ex(ssl, (const char *)buf + done, len - done, &n) != 1)
            return false;
        done += n;
    }
    return true;
}

long lab_tls_read_some(SSL *ssl, void *buf, size_t cap, int timeout_ms)
{
    if (SSL_pending(ssl) == 0 && !wait_fd(SSL_get_fd(ssl), POLLIN, timeout_ms))
        return -1;
    size_t n = 0;
    if (SSL_read_ex(ssl, buf, cap, &n) == 1)
        return (long)n;
    int err = SSL_get_error(ssl, 0);
    return err == SSL_ERROR_ZERO_RETURN ? 0 : -1;
}

bool lab_tls_read_exact(SSL *ssl, void *buf, size_t len, int timeout_ms)
{
    size_t done = 0;
    while (done < len) {
        long n = lab_tls_read_some(ssl, (char *)buf + done, len - done, timeout_ms);
        if (n <= 0)
            return false;
        done += (size_t)n;
    }
    return true;
}

void lab_tls_close(SSL *ssl, int fd, bool clean)
{
    if (ssl) {
        if (clean)
            SSL_shutdown(ssl);
        SSL_free(ssl);
    }
    if (fd >= 0)
        close(fd);
}

void lab_close_reset(int fd)
{
    struct linger lg = { 1, 0 };
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    close(fd);
}
