/* dns-query: one DNS question, over UDP or TCP, and what came back.
 *
 *   dns-query --server 127.0.0.1 --port 5353 [--tcp] [--timeout-ms 2000] NAME [TYPE]
 *
 * stdout: "status: NOERROR|NXDOMAIN|NODATA|TIMEOUT|<rcode>", then one line
 * per record ("answer: ...", "authority: ...").  Exit status: 0 an answer,
 * 3 NXDOMAIN, 4 NOERROR without an answer, 5 no answer in time, 2 another
 * rcode, 1 usage, network or malformed-answer error.
 */
#include "dns-wire.h"
#include "lab.h"

#include <arpa/inet.h>
#include <errno.h>
#include <glib.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static const char *PROG = "dns-query";

#define MSG_MAX 65535

enum { EXIT_ANSWER = 0, EXIT_ERROR = 1, EXIT_RCODE = 2, EXIT_NXDOMAIN = 3, EXIT_NODATA = 4,
       EXIT_TIMEOUT = 5 };

static void usage(void)
{
    fprintf(stderr,
            "usage: dns-query [--server ADDR] [--port N] [--tcp] [--timeout-ms MS] NAME [TYPE]\n"
            "  defaults: 127.0.0.1 port 5353, UDP, 2000 ms, type A.\n"
            "  exit: 0 answer, 3 NXDOMAIN, 4 no data, 5 timeout, 2 other rcode, 1 error\n");
}

/* Waits until fd is readable or the deadline passes. */
static bool wait_readable(int fd, gint64 deadline)
{
    for (;;) {
        gint64 left = deadline - lab_now_ms();
        if (left <= 0)
            return false;
        struct pollfd p = { fd, POLLIN, 0 };
        int r = poll(&p, 1, (int)left);
        if (r > 0)
            return true;
        if (r < 0 && errno != EINTR)
            return false;
    }
}

/* -1 error, 0 timeout, else the answer's length. */
static long ask_udp(const char *server, int port, const uint8_t *q, size_t qlen, uint8_t *ans,
                    gint64 deadline)
{
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_DGRAM;
    hints.ai_flags = AI_NUMERICHOST;
    char service[8];
    snprintf(service, sizeof(service), "%d", port);
    if (getaddrinfo(server, service, &hints, &res) != 0 || !res) {
        lab_say(PROG, "not a numeric address: %s", server);
        return -1;
    }
    int fd = socket(res->ai_family, SOCK_DGRAM, 0);
    bool ok = fd >= 0 && connect(fd, res->ai_addr, res->ai_addrlen) == 0 &&
              send(fd, q, qlen, 0) == (ssize_t)qlen;
    freeaddrinfo(res);
    long result = ok ? 0 : -1;
    if (!ok)
        lab_say(PROG, "udp send failed: %s", strerror(errno));
    uint16_t id = dns_get16(q);
    while (ok && wait_readable(fd, deadline)) {
        ssize_t n = recv(fd, ans, MSG_MAX, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            /* ICMP port unreachable comes back as ECONNREFUSED */
            lab_say(PROG, "udp: %s", strerror(errno));
            result = -1;
            break;
        }
        if (n >= DNS_HEADER_LEN && dns_get16(ans) == id && (dns_get16(ans + 2) & DNS_FLAG_QR)) {
            result = (long)n;
            break;
        }
        lab_say(PROG, "udp: ignored %zd bytes that are not the answer", n);
    }
    if (fd >= 0)
        close(fd);
    return result;
}

static bool recv_exact(int fd, uint8_t *buf, size_t len, gint64 deadline, bool *timeout)
{
    size_t done = 0;
    while (done < len) {
        if (!wait_readable(fd, deadline)) {
            *timeout = true;
            return false;
        }
        ssize_t n = recv(fd, buf + done, len - done, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        done += (size_t)n;
    }
    return true;
}

static long ask_tcp(const char *server, int port, const uint8_t *q, size_t qlen, uint8_t *ans,
                    gint64 deadline)
{
    gint64 start = lab_now_ms();
    int fd = lab_connect(server, (uint16_t)port, (int)(deadline - start));
    if (fd < 0) {
        bool timeout = lab_now_ms() >= deadline - 20;
        lab_say(PROG, "tcp connect to %s port %d %s", server, port,
                timeout ? "timed out" : "failed");
        return timeout ? 0 : -1;
    }
    uint8_t *msg = g_malloc(qlen + 2);
    msg[0] = (uint8_t)(qlen >> 8);
    msg[1] = (uint8_t)qlen;
    memcpy(msg + 2, q, qlen);
    bool ok = send(fd, msg, qlen + 2, MSG_NOSIGNAL) == (ssize_t)(qlen + 2);
    g_free(msg);
    uint8_t lenbuf[2];
    bool timeout = false;
    long result = -1;
    if (ok && recv_exact(fd, lenbuf, 2, deadline, &timeout)) {
        size_t alen = dns_get16(lenbuf);
        if (recv_exact(fd, ans, alen, deadline, &timeout))
            result = (long)alen;
    }
    if (timeout)
        result = 0;
    else if (result < 0)
        lab_say(PROG, "tcp: connection closed without an answer");
    close(fd);
    return result;
}

/* One resource record as text; false when malformed. */
static bool print_rr(const char *section, const uint8_t *m, size_t len, size_t *off)
{
    char owner[DNS_NAME_TEXT], tbuf[16];
    if (!dns_name_read(m, len, off, owner, sizeof(owner)) || *off + 10 > len)
        return false;
    uint16_t type = dns_get16(m + *off), cls = dns_get16(m + *off + 2);
    uint32_t ttl = dns_get32(m + *off + 4);
    size_t rdlen = dns_get16(m + *off + 8);
    size_t rd = *off + 10;
    if (rd + rdlen > len)
        return false;
    GString *line = g_string_new(NULL);
    g_string_printf(line, "%s: %s%s %u %s %s ", section, owner, strcmp(owner, ".") ? "." : "", ttl,
                    cls == 1 ? "IN" : "CLASS?", dns_type_name(type, tbuf, sizeof(tbuf)));
    char text[DNS_NAME_TEXT], addr[INET6_ADDRSTRLEN];
    bool ok = true;
    if (type == DNS_TYPE_A && rdlen == 4) {
        g_string_append(line, inet_ntop(AF_INET, m + rd, addr, sizeof(addr)));
    } else if (type == DNS_TYPE_AAAA && rdlen == 16) {
        g_string_append(line, inet_ntop(AF_INET6, m + rd, addr, sizeof(addr)));
    } else if (type == DNS_TYPE_CNAME || type == DNS_TYPE_NS || type == DNS_TYPE_PTR) {
        size_t p = rd;
        ok = dns_name_read(m, rd + rdlen, &p, text, sizeof(text));
        if (ok)
            g_string_append_printf(line, "%s.", text);
    } else if (type == DNS_TYPE_SOA) {
        char rname[DNS_NAME_TEXT];
        size_t p = rd;
        ok = dns_name_read(m, rd + rdlen, &p, text, sizeof(text)) &&
             dns_name_read(m, rd + rdlen, &p, rname, sizeof(rname)) && p + 20 == rd + rdlen;
        if (ok)
            g_string_append_printf(line, "%s. %s. %u %u %u %u %u", text, rname, dns_get32(m + p),
                                   dns_get32(m + p + 4), dns_get32(m + p + 8),
                                   dns_get32(m + p + 12), dns_get32(m + p + 16));
    } else {
        g_string_append_printf(line, "\\# %zu", rdlen);
        for (size_t i = 0; i < rdlen && i < 64; i++)
            g_string_append_printf(line, "%s%02x", i ? "" : " ", m[rd + i]);
    }
    if (ok)
        printf("%s\n", line->str);
    g_string_free(line, TRUE);
    *off = rd + rdlen;
    return ok;
}

int main(int argc, char **argv)
{
    const char *server = "127.0.0.1", *name = NULL, *type_text = "A";
    int port = 5353, timeout_ms = 2000;
    bool tcp = false, type_given = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        char *end = NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage();
            return 0;
        } else if (strcmp(a, "--tcp") == 0) {
            tcp = true;
        } else if (strcmp(a, "--server") == 0 && v) {
            server = v;
            i++;
        } else if (strcmp(a, "--port") == 0 && v) {
            long p = strtol(v, &end, 10);
            if (*end || p < 1 || p > 65535) {
                usage();
                return EXIT_ERROR;
            }
            port = (int)p;
            i++;
        } else if (strcmp(a, "--timeout-ms") == 0 && v) {
            long t = strtol(v, &end, 10);
            if (*end || t < 1 || t > 600000) {
                usage();
                return EXIT_ERROR;
            }
            timeout_ms = (int)t;
            i++;
        } else if (a[0] == '-' && a[1] == '-') {
            lab_say(PROG, "bad or incomplete option: %s", a);
            usage();
            return EXIT_ERROR;
        } else if (!name) {
            name = a;
        } else if (!type_given) {
            type_text = a;
            type_given = true;
        } else {
            usage();
            return EXIT_ERROR;
        }
    }
    uint16_t qtype;
    if (!name || !dns_type_parse(type_text, &qtype)) {
        usage();
        return EXIT_ERROR;
    }
    uint8_t q[DNS_HEADER_LEN + DNS_MAX_NAME + 4];
    dns_header_t h = { .id = (uint16_t)g_random_int_range(0, 65536), .flags = DNS_FLAG_RD,
                       .qdcount = 1 };
    dns_header_write(q, &h);
    size_t qlen = DNS_HEADER_LEN;
    if (!dns_name_write(q, sizeof(q), &qlen, name) || !dns_put16(q, sizeof(q), &qlen, qtype) ||
        !dns_put16(q, sizeof(q), &qlen, 1)) {
        lab_say(PROG, "not a valid DNS name: %s", name);
        return EXIT_ERROR;
    }

    uint8_t *ans = g_malloc(MSG_MAX);
    gint64 start = lab_now_ms(), deadline = start + timeout_ms;
    long alen = tcp ? ask_tcp(server, port, q, qlen, ans, deadline)
                    : ask_udp(server, port, q, qlen, ans, deadline);
    dns_header_t r;
    if (alen > 0 && !tcp && dns_header_read(ans, (size_t)alen, &r) && (r.flags & DNS_FLAG_TC)) {
        lab_say(PROG, "answer truncated over UDP: asking again over TCP");
        tcp = true;
        alen = ask_tcp(server, port, q, qlen, ans, deadline);
    }
    const char *via = tcp ? "tcp" : "udp";
    int rc;
    if (alen == 0) {
        printf("status: TIMEOUT\n");
        lab_say(PROG, "no answer from %s port %d (%s) within %d ms", server, port, via, timeout_ms);
        rc = EXIT_TIMEOUT;
    } else if (alen < 0 || !dns_header_read(ans, (size_t)alen, &r) || r.id != h.id) {
        rc = EXIT_ERROR;
    } else {
        size_t len = (size_t)alen, off = DNS_HEADER_LEN;
        unsigned rcode = r.flags & 0xf;
        char qname[DNS_NAME_TEXT];
        bool ok = true;
        for (unsigned i = 0; ok && i < r.qdcount; i++)
            ok = dns_name_read(ans, len, &off, qname, sizeof(qname)) && (off += 4) <= len;
        if (!ok) {
            lab_say(PROG, "malformed answer (question section)");
            g_free(ans);
            return EXIT_ERROR;
        }
        unsigned answers = r.ancount;
        if (rcode == DNS_RCODE_NOERROR)
            printf("status: %s\n", answers ? "NOERROR" : "NODATA");
        else
            printf("status: %s\n", dns_rcode_name(rcode));
        for (unsigned i = 0; ok && i < r.ancount; i++)
            ok = print_rr("answer", ans, len, &off);
        for (unsigned i = 0; ok && i < r.nscount; i++)
            ok = print_rr("authority", ans, len, &off);
        lab_say(PROG, "%s from %s port %d (%s) in %" G_GINT64_FORMAT " ms: %u answer%s, %u authority",
                dns_rcode_name(rcode), server, port, via, lab_now_ms() - start, r.ancount,
                r.ancount == 1 ? "" : "s", r.nscount);
        if (!ok) {
            lab_say(PROG, "malformed answer (records)");
            rc = EXIT_ERROR;
        } else if (rcode == DNS_RCODE_NXDOMAIN) {
            rc = EXIT_NXDOMAIN;
        } else if (rcode != DNS_RCODE_NOERROR) {
            rc = EXIT_RCODE;
        } else {
            rc = answers ? EXIT_ANSWER : EXIT_NODATA;
        }
    }
    g_free(ans);
    return rc;
}
