/* scep-storm: hundreds of SCEP clients asking an IOS CA/RA at once (seed
 * 001): each client sends GetCACaps, GetCACert and GetNextCACert, on one
 * keep-alive HTTP/1.1 connection or, with --separate, on one HTTP/1.0
 * connection each (as IOS PKI clients do).  Connections are made by the
 * kernel with its normal SYN retransmissions; a client gives up after
 * --connect-timeout-ms.  The summary on stdout (one "key: value" a line)
 * counts attempts, connections, timeouts and the HTTP statuses seen.
 *
 * Spread the starts (--start-spread-ms) for the pattern of seed 001 (SYNs
 * unanswered while the server is deaf).  Clients that all start in the same
 * millisecond on loopback are all answered SYN-ACK before any handshake
 * completes (Linux checks the accept queue when the SYN arrives), so the
 * overflow shows up as connected clients waiting for an answer instead.
 */
#include "lab.h"

#include <errno.h>
#include <glib.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static const char *PROG = "scep-storm";

#define RESP_CAP (256 * 1024)

typedef struct config {
    const char *host;
    int port;
    int clients;
    int concurrency;
    int spread_ms;
    int connect_timeout_ms;
    int response_timeout_ms;
    bool separate;
    bool verbose;
    const char *message;
    gint64 t0;
} config_t;

typedef struct stats {
    gint next_client;
    gint attempts, connected, timed_out, refused, slow_connects;
    gint requests, responses, response_timeouts, closed_early;
    gint clients_ok, clients_failed;
    gint status[600];
} stats_t;

static config_t cfg;
static stats_t st;

static void usage(void)
{
    fprintf(stderr,
            "usage: scep-storm [--host ADDR] [--port N] [--clients N] [--concurrency M]\n"
            "                  [--start-spread-ms MS] [--connect-timeout-ms MS]\n"
            "                  [--response-timeout-ms MS] [--separate] [--message NAME] [--verbose]\n"
            "  defaults: 127.0.0.1:80, 300 clients, 100 at a time, all started at once,\n"
            "  10000 ms to connect and to get each answer, one keep-alive connection a client.\n");
}

/* A connection, its failure told apart by time: lab_connect gives up at
 * the timeout, a refusal (RST) or an unreachable address comes sooner. */
static int client_connect(int client)
{
    g_atomic_int_inc(&st.attempts);
    gint64 t = lab_now_ms();
    int fd = lab_connect(cfg.host, (uint16_t)cfg.port, cfg.connect_timeout_ms);
    gint64 took = lab_now_ms() - t;
    if (fd < 0) {
        bool timeout = took >= cfg.connect_timeout_ms - 20;
        g_atomic_int_inc(timeout ? &st.timed_out : &st.refused);
        lab_say(PROG, "client %d: connect %s after %" G_GINT64_FORMAT " ms", client,
                timeout ? "timed out (SYNs unanswered)" : "refused or failed", took);
        return -1;
    }
    g_atomic_int_inc(&st.connected);
    if (took >= 900) {   /* at least one SYN was retransmitted (first RTO 1 s) */
        g_atomic_int_inc(&st.slow_connects);
        lab_say(PROG, "client %d: connected after %" G_GINT64_FORMAT " ms (SYN retransmitted)",
                client, took);
    } else if (cfg.verbose) {
        lab_say(PROG, "client %d: connected in %" G_GINT64_FORMAT " ms", client, took);
    }
    struct timeval tv = { 5, 0 };
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    return fd;
}

static bool send_all(int fd, const char *buf, size_t len)
{
    size_t done = 0;
    while (done < len) {
        ssize_t n = send(fd, buf + done, len - done, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        done += (size_t)n;
    }
    return true;
}

typedef enum { RESP_OK, RESP_TIMEOUT, RESP_CLOSED } read_result_t;

/* One response: status and whether the server keeps the connection. */
static read_result_t read_response(int fd, int *status, bool *keep)
{
    char *buf = g_malloc(RESP_CAP + 1);
    size_t len = 0, hdr_len = 0;
    long body_len = -1;
    read_result_t res = RESP_CLOSED;
    gint64 deadline = lab_now_ms() + cfg.response_timeout_ms;
    *status = 0;
    *keep = false;
    for (;;) {
        if (hdr_len == 0) {
            buf[len] = '\0';
            char *e = strstr(buf, "\r\n\r\n");
            if (e) {
                hdr_len = (size_t)(e - buf) + 4;
                int major = 0, minor = 0;
                if (sscanf(buf, "HTTP/%d.%d %d", &major, &minor, status) != 3) {
                    res = RESP_CLOSED;
                    break;
                }
                *e = '\0';
                char *lower = g_ascii_strdown(buf, -1);
                char *cl = strstr(lower, "\r\ncontent-length:");
                if (cl)
                    body_len = strtol(cl + 17, NULL, 10);
                bool close_hdr = strstr(lower, "\r\nconnection: close") != NULL;
                bool ka_hdr = strstr(lower, "\r\nconnection: keep-alive") != NULL;
                *keep = body_len >= 0 && !close_hdr && (minor >= 1 || ka_hdr);
                g_free(lower);
                *e = '\r';
            }
        }
        if (hdr_len && body_len >= 0 && len - hdr_len >= (size_t)body_len) {
            res = RESP_OK;
            break;
        }
        if (len == RESP_CAP) {
            res = RESP_CLOSED;
            break;
        }
        gint64 left = deadline - lab_now_ms();
        struct pollfd p = { fd, POLLIN, 0 };
        int r = left > 0 ? poll(&p, 1, (int)left) : 0;
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            res = RESP_TIMEOUT;
            break;
        }
        ssize_t n = recv(fd, buf + len, RESP_CAP - len, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            /* close-delimited body: the answer is complete at EOF */
            res = hdr_len && body_len < 0 && n == 0 ? RESP_OK : RESP_CLOSED;
            *keep = false;
            break;
        }
        len += (size_t)n;
    }
    g_free(buf);
    return res;
}

static const char *const OPS[] = { "GetCACaps", "GetCACert", "GetNextCACert" };

static void run_client(int client)
{
    int fd = -1;
    bool ok = true;
    for (size_t i = 0; i < G_N_ELEMENTS(OPS) && ok; i++) {
        if (fd < 0 && (fd = client_connect(client)) < 0) {
            ok = false;
            break;
        }
        char req[512];
        int n = snprintf(req, sizeof(req),
                         "GET /cgi-bin/pkiclient.exe?operation=%s&message=%s %s\r\n"
                         "User-Agent: Mozilla/4.0 (compatible; MSIE 5.0; Cisco PKI)\r\n"
                         "Host: %s\r\n%s\r\n",
                         OPS[i], cfg.message, cfg.separate ? "HTTP/1.0" : "HTTP/1.1", cfg.host,
                         cfg.separate ? "" : "Connection: keep-alive\r\n");
        g_atomic_int_inc(&st.requests);
        if (n <= 0 || (size_t)n >= sizeof(req) || !send_all(fd, req, (size_t)n)) {
            g_atomic_int_inc(&st.closed_early);
            lab_say(PROG, "client %d: %s: sending failed", client, OPS[i]);
            ok = false;
            break;
        }
        int status;
        bool keep;
        read_result_t r = read_response(fd, &status, &keep);
        if (r == RESP_OK) {
            g_atomic_int_inc(&st.responses);
            if (status >= 100 && status < 600)
                g_atomic_int_inc(&st.status[status]);
            if (cfg.verbose)
                lab_say(PROG, "client %d: %s -> %d", client, OPS[i], status);
        } else {
            g_atomic_int_inc(r == RESP_TIMEOUT ? &st.response_timeouts : &st.closed_early);
            lab_say(PROG, "client %d: %s: %s", client, OPS[i],
                    r == RESP_TIMEOUT ? "no answer in time" : "connection closed without an answer");
            ok = false;
        }
        if (!keep || cfg.separate) {
            close(fd);
            fd = -1;
        }
    }
    if (fd >= 0)
        close(fd);
    g_atomic_int_inc(ok ? &st.clients_ok : &st.clients_failed);
}

static gpointer worker(gpointer unused)
{
    (void)unused;
    for (;;) {
        int client = g_atomic_int_add(&st.next_client, 1);
        if (client >= cfg.clients)
            break;
        gint64 start = cfg.t0 + (gint64)cfg.spread_ms * client / cfg.clients;
        gint64 wait = start - lab_now_ms();
        if (wait > 0)
            lab_sleep_ms((int)wait);
        run_client(client);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    cfg = (config_t){ .host = "127.0.0.1", .port = 80, .clients = 300, .concurrency = 100,
                      .connect_timeout_ms = 10000, .response_timeout_ms = 10000,
                      .message = "GETVPN" };
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage();
            return 0;
        }
        if (strcmp(a, "--separate") == 0) {
            cfg.separate = true;
            continue;
        }
        if (strcmp(a, "--verbose") == 0) {
            cfg.verbose = true;
            continue;
        }
        bool ok = v != NULL;
        if (strcmp(a, "--host") == 0)
            cfg.host = v;
        else if (strcmp(a, "--port") == 0)
            ok = ok && lab_parse_int(v, 1, 65535, &cfg.port);
        else if (strcmp(a, "--clients") == 0)
            ok = ok && lab_parse_int(v, 1, 100000, &cfg.clients);
        else if (strcmp(a, "--concurrency") == 0)
            ok = ok && lab_parse_int(v, 1, 2000, &cfg.concurrency);
        else if (strcmp(a, "--start-spread-ms") == 0)
            ok = ok && lab_parse_int(v, 0, 3600000, &cfg.spread_ms);
        else if (strcmp(a, "--connect-timeout-ms") == 0)
            ok = ok && lab_parse_int(v, 1, 600000, &cfg.connect_timeout_ms);
        else if (strcmp(a, "--response-timeout-ms") == 0)
            ok = ok && lab_parse_int(v, 1, 600000, &cfg.response_timeout_ms);
        else if (strcmp(a, "--message") == 0)
            ok = ok && strlen(v) < 64 && strpbrk(v, " \r\n&") == NULL;
        else
            ok = false;
        if (!ok) {
            lab_say(PROG, "bad or incomplete option: %s", a);
            usage();
            return 2;
        }
        if (strcmp(a, "--message") == 0)
            cfg.message = v;
        i++;
    }
    int threads = cfg.concurrency < cfg.clients ? cfg.concurrency : cfg.clients;
    lab_say(PROG, "%d clients, %d at a time, over %d ms, to %s:%d (%s)", cfg.clients, threads,
            cfg.spread_ms, cfg.host, cfg.port,
            cfg.separate ? "one HTTP/1.0 connection a request" : "one keep-alive connection a client");
    cfg.t0 = lab_now_ms();
    GThread **pool = g_new0(GThread *, (gsize)threads);
    for (int i = 0; i < threads; i++)
        pool[i] = g_thread_new("client", worker, NULL);
    for (int i = 0; i < threads; i++)
        g_thread_join(pool[i]);
    g_free(pool);
    gint64 took = lab_now_ms() - cfg.t0;

    printf("clients: %d\n", cfg.clients);
    printf("attempts: %d\n", st.attempts);
    printf("connected: %d\n", st.connected);
    printf("timed_out: %d\n", st.timed_out);
    printf("refused: %d\n", st.refused);
    printf("slow_connects: %d\n", st.slow_connects);
    printf("requests: %d\n", st.requests);
    printf("responses: %d\n", st.responses);
    printf("response_timeouts: %d\n", st.response_timeouts);
    printf("closed_early: %d\n", st.closed_early);
    for (int s = 100; s < 600; s++)
        if (st.status[s])
            printf("status_%d: %d\n", s, st.status[s]);
    printf("clients_ok: %d\n", st.clients_ok);
    printf("clients_failed: %d\n", st.clients_failed);
    printf("elapsed_ms: %" G_GINT64_FORMAT "\n", took);
    return 0;
}
