/* ios-ca: the HTTP side of a Cisco IOS CA/RA (seed 001, SCEP_NO_SHADOW_CA
 * and TCP_QUEUE_LIMIT in ../shared/docs/failures.md).
 *
 * Answers SCEP on /cgi-bin/pkiclient.exe the way IOS does: GetCACaps,
 * GetCACert (DER), GetNextCACert (404 while the CA has no shadow
 * certificate), PKIOperation (an opaque body: no SCEP crypto here).  It
 * also keeps the IOS HTTP server's limits: at most --max-concurrent
 * connections served at once and --max-per-minute accepted per sliding
 * minute; when a connection is waiting and the minute is full, the server
 * goes deaf for --deaf-seconds.
 *
 * "Deaf" is done the way the kernel would drop SYNs on a busy listener: the
 * listening socket stays open but nothing is accepted and its backlog is
 * cut to 0, so the accept queue is full (the connection that crossed the
 * limit sits in it) and Linux drops every further SYN without answering;
 * the clients retransmit them.  A closed port would answer RST instead.
 * The concurrency limit works the same way with the normal --backlog:
 * while --max-concurrent connections are served nothing is accepted, the
 * queue fills and later SYNs go unanswered.
 */
#include "lab.h"

#include <arpa/inet.h>
#include <errno.h>
#include <glib.h>
#include <netinet/in.h>
#include <openssl/pem.h>
#include <openssl/pkcs7.h>
#include <openssl/x509.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static const char *PROG = "ios-ca";

#define REQ_CAP 16384              /* request line and headers */
#define BODY_MAX (1024 * 1024)     /* a PKIOperation POST body is read and discarded */
#define SLICE_MS 200               /* how often blocked threads look at the stop flag */

typedef struct server {
    int max_concurrent;    /* 0: no limit */
    int max_per_minute;    /* 0: no limit */
    int deaf_s;
    int idle_ms;
    GBytes *ca_der;        /* GetCACert */
    GBytes *next_msg;      /* GetNextCACert body; NULL: 404 */
    gint active;           /* connections being served */
    gint peak;
    gint requests;
    GMutex lock;
    GCond done;            /* a connection ended */
} server_t;

typedef struct conn {
    server_t *srv;
    int fd;
    unsigned id;
    char peer[64];
} conn_t;

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: ios-ca [--host ADDR] [--port N] [--pki DIR] [--ca NAME] [--shadow NAME]\n"
            "              [--max-concurrent N] [--max-per-minute N] [--deaf-seconds N]\n"
            "              [--backlog N] [--idle-s N] [--duration-s N]\n"
            "  defaults: 127.0.0.1:80, --pki . --ca adcs-root, no shadow (GetNextCACert 404),\n"
            "  16 concurrent, 80 per minute then 15 s deaf, backlog 8, idle 180 s;\n"
            "  0 for a limit means none.\n");
}

static X509 *load_cert(const char *dir, const char *name)
{
    char *path = g_strdup_printf("%s/%s.pem", dir, name);
    FILE *fp = fopen(path, "r");
    X509 *x = fp ? PEM_read_X509(fp, NULL, NULL, NULL) : NULL;
    if (fp)
        fclose(fp);
    if (!x)
        lab_ssl_errors(PROG, path);
    g_free(path);
    return x;
}

static EVP_PKEY *load_key(const char *dir, const char *name)
{
    char *path = g_strdup_printf("%s/%s.key", dir, name);
    FILE *fp = fopen(path, "r");
    EVP_PKEY *k = fp ? PEM_read_PrivateKey(fp, NULL, NULL, NULL) : NULL;
    if (fp)
        fclose(fp);
    if (!k)
        lab_ssl_errors(PROG, path);
    g_free(path);
    return k;
}

static GBytes *cert_der(X509 *x)
{
    unsigned char *der = NULL;
    int n = i2d_X509(x, &der);
    if (n <= 0)
        return NULL;
    GBytes *b = g_bytes_new(der, (gsize)n);
    OPENSSL_free(der);
    return b;
}

/* GetNextCACert's answer (RFC 8894 4.7): a certificates-only SignedData
 * holding the new CA certificate (and the signer's), signed by the current CA. */
static GBytes *next_ca_message(X509 *ca, EVP_PKEY *ca_key, X509 *next)
{
    STACK_OF(X509) *certs = sk_X509_new_null();
    BIO *empty = BIO_new_mem_buf("", 0);
    GBytes *out = NULL;
    if (certs && empty && sk_X509_push(certs, next)) {
        PKCS7 *p7 = PKCS7_sign(ca, ca_key, certs, empty,
                               PKCS7_BINARY | PKCS7_NOSMIMECAP);
        unsigned char *der = NULL;
        int n = p7 ? i2d_PKCS7(p7, &der) : 0;
        if (n > 0)
            out = g_bytes_new(der, (gsize)n);
        OPENSSL_free(der);
        PKCS7_free(p7);
    }
    if (!out)
        lab_ssl_errors(PROG, "signing the GetNextCACert answer failed");
    BIO_free(empty);
    sk_X509_free(certs);
    return out;
}

/* ---------------------------------------------------------------- HTTP */

/* Waits for data in SLICE_MS steps until deadline; >0 bytes, 0 closed, -1 timeout/error/stop. */
static long read_some(int fd, char *buf, size_t cap, gint64 deadline)
{
    while (!stop_flag) {
        gint64 left = deadline - lab_now_ms();
        if (left <= 0)
            return -1;
        struct pollfd p = { fd, POLLIN, 0 };
        int r = poll(&p, 1, left < SLICE_MS ? (int)left : SLICE_MS);
        if (r < 0 && errno != EINTR)
            return -1;
        if (r <= 0)
            continue;
        ssize_t n = recv(fd, buf, cap, 0);
        if (n < 0 && errno == EINTR)
            continue;
        return n < 0 ? -1 : (long)n;
    }
    return -1;
}

static bool send_all(int fd, const void *buf, size_t len)
{
    size_t done = 0;
    while (done < len) {
        ssize_t n = send(fd, (const char *)buf + done, len - done, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        done += (size_t)n;
    }
    return true;
}

static const char *find_header_end(const char *buf, size_t len, size_t *hdr_len)
{
    for (size_t i = 0; i + 1 < len; i++) {
        if (buf[i] == '\n' && buf[i + 1] == '\n') {
            *hdr_len = i + 2;
            return buf + i;
        }
        if (i + 3 < len && memcmp(buf + i, "\r\n\r\n", 4) == 0) {
            *hdr_len = i + 4;
            return buf + i;
        }
    }
    return NULL;
}

/* The value of header `name` (case-insensitive) in the header block, trimmed, or NULL. */
static char *header_value(const char *headers, const char *name)
{
    size_t nlen = strlen(name);
    const char *line = strchr(headers, '\n');
    while (line) {
        line++;
        if (g_ascii_strncasecmp(line, name, nlen) == 0 && line[nlen] == ':') {
            const char *v = line + nlen + 1;
            const char *e = v;
            while (*e && *e != '\r' && *e != '\n')
                e++;
            char *val = g_strndup(v, (gsize)(e - v));
            return g_strstrip(val);
        }
        line = strchr(line, '\n');
    }
    return NULL;
}

/* The value of query parameter `key` in target, or NULL. */
static char *query_param(const char *target, const char *key)
{
    const char *q = strchr(target, '?');
    if (!q)
        return NULL;
    size_t klen = strlen(key);
    const char *p = q + 1;
    while (*p) {
        const char *e = strchr(p, '&');
        size_t plen = e ? (size_t)(e - p) : strlen(p);
        if (plen > klen && strncmp(p, key, klen) == 0 && p[klen] == '=')
            return g_strndup(p + klen + 1, plen - klen - 1);
        if (!e)
            break;
        p = e + 1;
    }
    return NULL;
}

/* At most 40 printable characters of s, for the log. */
static void printable(const char *s, char *out, size_t cap)
{
    size_t o = 0;
    for (; s && *s && o + 1 < cap && o < 40; s++)
        out[o++] = g_ascii_isprint(*s) ? *s : '?';
    out[o] = '\0';
}

static void append_date(GString *r)
{
    char date[64];
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
    g_string_append_printf(r, "Date: %s\r\n", date);
}

/* IOS's answer: status, Date, Server: cisco-IOS, Content-Type, Accept-Ranges
 * (seed 001 shows the 404 exactly so).  Close-delimited like IOS unless the
 * client keeps the connection, which needs a Content-Length. */
static bool respond(int fd, int status, const char *reason, const char *type,
                    const void *body, size_t body_len, bool keep, bool http10)
{
    GString *r = g_string_new(NULL);
    g_string_append_printf(r, "HTTP/1.1 %d %s\r\n", status, reason);
    append_date(r);
    g_string_append(r, "Server: cisco-IOS\r\n");
    if (type)
        g_string_append_printf(r, "Content-Type: %s\r\n", type);
    g_string_append(r, "Accept-Ranges: none\r\n");
    if (keep) {
        g_string_append_printf(r, "Content-Length: %zu\r\n", body_len);
        if (http10)
            g_string_append(r, "Connection: Keep-Alive\r\n");
    }
    g_string_append(r, "\r\n");
    g_string_append_len(r, body, (gssize)body_len);
    bool ok = send_all(fd, r->str, r->len);
    g_string_free(r, TRUE);
    return ok;
}

/* An opaque CertRep stand-in: a DER SEQUENCE around an OCTET STRING. */
static const unsigned char PKI_REPLY[] = {
    0x30, 0x1b, 0x04, 0x19,
    'e', 'n', 'r', 'o', 'l', 'l', 'm', 'o', 'n', ' ', 'l', 'a', 'b', ':', ' ',
    'n', 'o', ' ', 'S', 'C', 'E', 'P', ' ', 'P', 'K',
};

static const char CA_CAPS[] = "POSTPKIOperation\nRenewal\nSHA-256\nSHA-1\nDES3\n";

/* Answers one request; false: close the connection. */
static bool answer(conn_t *c, const char *method, const char *target, bool keep, bool http10)
{
    server_t *srv = c->srv;
    char *op = query_param(target, "operation");
    char *msg = query_param(target, "message");
    char shown_op[48], shown_msg[48];
    printable(op ? op : "-", shown_op, sizeof(shown_op));
    printable(msg ? msg : "-", shown_msg, sizeof(shown_msg));
    bool scep = g_str_has_prefix(target, "/cgi-bin/pkiclient.exe") &&
                (target[22] == '\0' || target[22] == '?');
    int status;
    bool ok;
    gsize n = 0;
    if (!scep || !op) {
        status = 404;
        ok = respond(c->fd, 404, "Not Found", NULL, "404 Not Found\r\n", 15, keep, http10);
    } else if (strcmp(op, "GetCACaps") == 0) {
        status = 200;
        ok = respond(c->fd, 200, "OK", "text/plain", CA_CAPS, sizeof(CA_CAPS) - 1, keep, http10);
    } else if (strcmp(op, "GetCACert") == 0) {
        const void *der = g_bytes_get_data(srv->ca_der, &n);
        status = 200;
        ok = respond(c->fd, 200, "OK", "application/x-x509-ca-cert", der, n, keep, http10);
    } else if (strcmp(op, "GetNextCACert") == 0) {
        if (srv->next_msg) {
            const void *p7 = g_bytes_get_data(srv->next_msg, &n);
            status = 200;
            ok = respond(c->fd, 200, "OK", "application/x-x509-next-ca-cert", p7, n, keep, http10);
        } else {
            /* no shadow (rollover) CA certificate yet: SCEP_NO_SHADOW_CA */
            status = 404;
            ok = respond(c->fd, 404, "Not Found", NULL, "404 Not Found\r\n", 15, keep, http10);
        }
    } else if (strcmp(op, "PKIOperation") == 0) {
        status = 200;
        ok = respond(c->fd, 200, "OK", "application/x-pki-message", PKI_REPLY,
                     sizeof(PKI_REPLY), keep, http10);
    } else {
        status = 400;
        ok = respond(c->fd, 400, "Bad Request", NULL, "400 Bad Request\r\n", 17, keep, http10);
    }
    g_atomic_int_inc(&srv->requests);
    lab_say(PROG, "conn %u: %s %s message=%s -> %d%s", c->id, method, shown_op, shown_msg,
            status, ok ? "" : " (send failed)");
    g_free(op);
    g_free(msg);
    return ok && keep;
}

/* Reads and discards `len` body bytes, `have` of which are at buf already. */
static bool skip_body(conn_t *c, char *buf, size_t *buflen, size_t hdr_len, size_t len)
{
    size_t have = *buflen - hdr_len;
    if (have >= len) {
        memmove(buf, buf + hdr_len + len, have - len);
        *buflen = have - len;
        return true;
    }
    size_t left = len - have;
    *buflen = 0;
    gint64 deadline = lab_now_ms() + c->srv->idle_ms;
    char tmp[4096];
    while (left > 0) {
        long n = read_some(c->fd, tmp, left < sizeof(tmp) ? left : sizeof(tmp), deadline);
        if (n <= 0)
            return false;
        left -= (size_t)n;
    }
    return true;
}

static void serve(conn_t *c)
{
    char *buf = g_malloc(REQ_CAP + 1);
    size_t len = 0;
    unsigned served = 0;
    const char *why = "client closed";
    for (;;) {
        size_t hdr_len = 0;
        gint64 deadline = lab_now_ms() + c->srv->idle_ms;
        while (!find_header_end(buf, len, &hdr_len)) {
            if (len == REQ_CAP) {
                respond(c->fd, 400, "Bad Request", NULL, "400 Bad Request\r\n", 17, false, false);
                why = "request headers too long";
                goto out;
            }
            long n = read_some(c->fd, buf + len, REQ_CAP - len, deadline);
            if (n <= 0) {
                why = n == 0 ? (served ? "client closed" : "client closed before a request")
                             : (stop_flag ? "server stopping" : "idle timeout or error");
                goto out;
            }
            len += (size_t)n;
        }
        char saved = buf[hdr_len];
        buf[hdr_len] = '\0';
        char method[16], target[2048], version[16];
        if (sscanf(buf, "%15s %2047s %15s", method, target, version) != 3) {
            respond(c->fd, 400, "Bad Request", NULL, "400 Bad Request\r\n", 17, false, false);
            why = "malformed request line";
            goto out;
        }
        bool http10 = strcmp(version, "HTTP/1.0") == 0;
        char *conn_hdr = header_value(buf, "Connection");
        char *cl_hdr = header_value(buf, "Content-Length");
        bool keep = http10 ? (conn_hdr && g_ascii_strcasecmp(conn_hdr, "keep-alive") == 0)
                           : !(conn_hdr && g_ascii_strcasecmp(conn_hdr, "close") == 0);
        int body = 0;
        bool body_ok = !cl_hdr || lab_parse_int(cl_hdr, 0, BODY_MAX, &body);
        g_free(conn_hdr);
        g_free(cl_hdr);
        buf[hdr_len] = saved;
        if (!body_ok) {
            respond(c->fd, 413, "Request Entity Too Large", NULL, "413\r\n", 5, false, false);
            why = "bad Content-Length";
            goto out;
        }
        if (!skip_body(c, buf, &len, hdr_len, (size_t)body)) {
            why = "request body cut short";
            goto out;
        }
        served++;
        if (!answer(c, method, target, keep, http10)) {
            why = keep ? "send failed" : "answered, closing";
            break;
        }
    }
out:
    lab_say(PROG, "conn %u: closed (%s) after %u request%s", c->id, why, served,
            served == 1 ? "" : "s");
    g_free(buf);
}

static void worker(gpointer data, gpointer user)
{
    conn_t *c = data;
    server_t *srv = user;
    struct timeval tv = { 5, 0 };
    setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    serve(c);
    close(c->fd);
    g_free(c);
    g_mutex_lock(&srv->lock);
    (void)g_atomic_int_add(&srv->active, -1);
    g_cond_signal(&srv->done);
    g_mutex_unlock(&srv->lock);
}

/* ------------------------------------------------------------ accepting */

/* The accept times of the last minute, oldest first (a ring of max_per_minute). */
typedef struct window {
    gint64 *t;
    int cap, head, count;
} window_t;

static void window_prune(window_t *w, gint64 now)
{
    while (w->count > 0 && w->t[w->head] <= now - 60000) {
        w->head = (w->head + 1) % w->cap;
        w->count--;
    }
}

static void window_add(window_t *w, gint64 now)
{
    if (w->cap == 0)
        return;
    if (w->count == w->cap) {   /* cannot happen: the limit is checked first */
        w->head = (w->head + 1) % w->cap;
        w->count--;
    }
    w->t[(w->head + w->count) % w->cap] = now;
    w->count++;
}

static void peer_name(const struct sockaddr_storage *ss, char *out, size_t cap)
{
    char host[64] = "?";
    unsigned port = 0;
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
        inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
        port = ntohs(a->sin_port);
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
        inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
        port = ntohs(a->sin6_port);
    }
    snprintf(out, cap, "%s:%u", host, port);
}

int main(int argc, char **argv)
{
    const char *host = "127.0.0.1", *pki = ".", *ca_name = "adcs-root", *shadow = NULL;
    int port = 80, backlog = 8, duration_s = 0, idle_s = 180;
    server_t srv = { .max_concurrent = 16, .max_per_minute = 80, .deaf_s = 15 };
    /* Options are pairs (name, value): the index moves by two. */
    for (int i = 1; i < argc; i += 2) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        bool ok = v != NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage();
            return 0;
        } else if (strcmp(a, "--host") == 0)
            host = v;
        else if (strcmp(a, "--port") == 0)
            ok = ok && lab_parse_int(v, 1, 65535, &port);
        else if (strcmp(a, "--pki") == 0)
            pki = v;
        else if (strcmp(a, "--ca") == 0)
            ca_name = v;
        else if (strcmp(a, "--shadow") == 0)
            shadow = v;
        else if (strcmp(a, "--max-concurrent") == 0)
            ok = ok && lab_parse_int(v, 0, 100000, &srv.max_concurrent);
        else if (strcmp(a, "--max-per-minute") == 0)
            ok = ok && lab_parse_int(v, 0, 10000000, &srv.max_per_minute);
        else if (strcmp(a, "--deaf-seconds") == 0)
            ok = ok && lab_parse_int(v, 0, 3600, &srv.deaf_s);
        else if (strcmp(a, "--backlog") == 0)
            ok = ok && lab_parse_int(v, 0, 4096, &backlog);
        else if (strcmp(a, "--idle-s") == 0)
            ok = ok && lab_parse_int(v, 1, 86400, &idle_s);
        else if (strcmp(a, "--duration-s") == 0)
            ok = ok && lab_parse_int(v, 0, 86400 * 365, &duration_s);
        else
            ok = false;
        if (!ok) {
            lab_say(PROG, "bad or incomplete option: %s", a);
            usage();
            return 2;
        }
    }
    srv.idle_ms = idle_s * 1000;

    X509 *ca = load_cert(pki, ca_name);
    if (!ca)
        return 1;
    srv.ca_der = cert_der(ca);
    if (shadow) {
        X509 *next = load_cert(pki, shadow);
        EVP_PKEY *key = next ? load_key(pki, ca_name) : NULL;
        srv.next_msg = key ? next_ca_message(ca, key, next) : NULL;
        EVP_PKEY_free(key);
        X509_free(next);
        if (!srv.next_msg) {
            X509_free(ca);
            g_bytes_unref(srv.ca_der);
            return 1;
        }
    }
    X509_free(ca);

    int lfd = lab_listen(host, (uint16_t)port, backlog);
    if (lfd < 0) {
        lab_say(PROG, "cannot listen on %s:%d: %s", host, port, strerror(errno));
        g_bytes_unref(srv.ca_der);
        if (srv.next_msg)
            g_bytes_unref(srv.next_msg);
        return 1;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    g_mutex_init(&srv.lock);
    g_cond_init(&srv.done);
    GThreadPool *pool = g_thread_pool_new(worker, &srv, -1, FALSE, NULL);
    window_t win = { .cap = srv.max_per_minute };
    win.t = g_new0(gint64, win.cap > 0 ? win.cap : 1);

    lab_say(PROG, "listening on %s:%d (CA %s, GetNextCACert %s; %d concurrent, %d per minute, "
            "then %d s deaf; backlog %d)", host, port, ca_name,
            shadow ? "200 with the shadow certificate" : "404: no shadow certificate",
            srv.max_concurrent, srv.max_per_minute, srv.deaf_s, backlog);

    gint64 end = duration_s > 0 ? lab_now_ms() + (gint64)duration_s * 1000 : 0;
    gint64 deaf_until = 0;
    bool deaf = false, at_limit = false;
    unsigned next_id = 1, accepted = 0, deaf_periods = 0;
    while (!stop_flag) {
        gint64 now = lab_now_ms();
        if (end && now >= end)
            break;
        if (deaf) {
            if (now < deaf_until) {
                lab_sleep_ms(deaf_until - now < SLICE_MS ? (int)(deaf_until - now) : SLICE_MS);
                continue;
            }
            listen(lfd, backlog);
            deaf = false;
            win.count = 0;   /* IOS counts afresh once it listens again */
            lab_say(PROG, "listening again after %d s deaf", srv.deaf_s);
        }
        if (srv.max_concurrent > 0 && g_atomic_int_get(&srv.active) >= srv.max_concurrent) {
            if (!at_limit)
                lab_say(PROG, "concurrency limit: %d connections served, not accepting more",
                        srv.max_concurrent);
            at_limit = true;
            g_mutex_lock(&srv.lock);
            if (g_atomic_int_get(&srv.active) >= srv.max_concurrent)
                g_cond_wait_until(&srv.done, &srv.lock,
                                  g_get_monotonic_time() + SLICE_MS * G_TIME_SPAN_MILLISECOND);
            g_mutex_unlock(&srv.lock);
            continue;
        }
        if (at_limit)
            lab_say(PROG, "below the concurrency limit again: accepting");
        at_limit = false;
        struct pollfd p = { lfd, POLLIN, 0 };
        int r = poll(&p, 1, SLICE_MS);
        if (r <= 0)
            continue;
        now = lab_now_ms();
        window_prune(&win, now);
        if (srv.max_per_minute > 0 && win.count >= srv.max_per_minute) {
            /* The waiting connection stays in the accept queue; with the
             * backlog at 0 the queue is full and the kernel drops SYNs. */
            listen(lfd, 0);
            deaf = true;
            deaf_periods++;
            deaf_until = now + (gint64)srv.deaf_s * 1000;
            lab_say(PROG, "deaf: not accepting for %d s (%d connections in the last minute, "
                    "limit %d; SYNs go unanswered)", srv.deaf_s, win.count, srv.max_per_minute);
            continue;
        }
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        int fd = accept(lfd, (struct sockaddr *)&ss, &sl);
        if (fd < 0)
            continue;
        window_add(&win, now);
        accepted++;
        conn_t *c = g_new0(conn_t, 1);
        c->srv = &srv;
        c->fd = fd;
        c->id = next_id++;
        peer_name(&ss, c->peer, sizeof(c->peer));
        int active = g_atomic_int_add(&srv.active, 1) + 1;
        if (active > g_atomic_int_get(&srv.peak))
            g_atomic_int_set(&srv.peak, active);
        lab_say(PROG, "conn %u from %s: accepted (%d active, %d this minute)", c->id, c->peer,
                active, win.count);
        g_thread_pool_push(pool, c, NULL);
    }
    stop_flag = 1;   /* the workers finish their connections */
    close(lfd);
    g_thread_pool_free(pool, FALSE, TRUE);
    lab_say(PROG, "stopped: %u connections accepted, %d requests, peak %d concurrent, "
            "%u deaf period%s", accepted, g_atomic_int_get(&srv.requests),
            g_atomic_int_get(&srv.peak), deaf_periods, deaf_periods == 1 ? "" : "s");
    g_free(win.t);
    g_bytes_unref(srv.ca_der);
    if (srv.next_msg)
        g_bytes_unref(srv.next_msg);
    g_mutex_clear(&srv.lock);
    g_cond_clear(&srv.done);
    return 0;
}
