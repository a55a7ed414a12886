/* dns-responder: the DNS side of DNS_NXDOMAIN (../shared/docs/failures.md).
 * A small authoritative-looking server on UDP and TCP: A/AAAA answers for
 * the names given with --name, NXDOMAIN (with the zone's SOA in the
 * authority section, as a real server sends for negative caching) for
 * --nxdomain names and for every other name unless --refuse-others, and
 * no answer at all for --drop names.
 */
#include "dns-wire.h"
#include "lab.h"

#include <arpa/inet.h>
#include <errno.h>
#include <glib.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static const char *PROG = "dns-responder";

#define MAX_TCP 32
#define TCP_MSG_MAX 4096
#define TCP_IDLE_MS 10000

typedef struct record {
    char *name;
    uint16_t type;     /* A or AAAA */
    uint8_t addr[16];
} record_t;

typedef struct config {
    GArray *records;   /* record_t */
    GPtrArray *nxdomain, *drop;
    bool refuse_others;
    const char *zone;  /* SOA owner; NULL: the parent of the name asked */
    uint32_t ttl;
} config_t;

typedef struct tcp_conn {
    int fd;
    size_t len;
    gint64 last;
    char peer[64];
    uint8_t buf[2 + TCP_MSG_MAX];
} tcp_conn_t;

static volatile sig_atomic_t stop_flag;
static unsigned answered, dropped;

static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: dns-responder [--host ADDR] [--port N] [--name NAME=ADDR]... [--nxdomain NAME]...\n"
            "                     [--drop NAME]... [--refuse-others] [--zone ZONE] [--ttl S]\n"
            "                     [--duration-s N]\n"
            "  defaults: 127.0.0.1:5353 (UDP and TCP), ttl 300; names not given are NXDOMAIN\n"
            "  (REFUSED with --refuse-others); the SOA is the asked name's parent unless --zone.\n");
}

static bool name_listed(const GPtrArray *names, const char *name)
{
    for (guint i = 0; i < names->len; i++)
        if (dns_name_equal(g_ptr_array_index(names, i), name))
            return true;
    return false;
}

static void peer_name(const struct sockaddr_storage *ss, char *out, size_t cap)
{
    char host[NI_MAXHOST] = "?", serv[NI_MAXSERV] = "?";
    getnameinfo((const struct sockaddr *)ss, sizeof(*ss), host, sizeof(host), serv, sizeof(serv),
                NI_NUMERICHOST | NI_NUMERICSERV);
    snprintf(out, cap, "%s:%s", host, serv);
}

/* The zone a negative answer names: --zone, or the name minus its first label. */
static const char *soa_zone(const config_t *cfg, const char *qname)
{
    if (cfg->zone)
        return cfg->zone;
    const char *dot = strchr(qname, '.');   /* '.' inside a label is escaped as \046 */
    return dot && dot[1] ? dot + 1 : ".";
}

static bool put_soa(const config_t *cfg, const char *qname, uint8_t *out, size_t cap, size_t *o)
{
    const char *zone = soa_zone(cfg, qname);
    bool root = strcmp(zone, ".") == 0;
    char *mname = root ? g_strdup("a.root-servers.net") : g_strdup_printf("ns1.%s", zone);
    char *rname = root ? g_strdup("nstld.verisign-grs.com") : g_strdup_printf("hostmaster.%s", zone);
    size_t rdlen_at;
    bool ok = dns_name_write(out, cap, o, zone) && dns_put16(out, cap, o, DNS_TYPE_SOA) &&
              dns_put16(out, cap, o, 1) && dns_put32(out, cap, o, cfg->ttl);
    rdlen_at = *o;
    ok = ok && dns_put16(out, cap, o, 0) && dns_name_write(out, cap, o, mname) &&
         dns_name_write(out, cap, o, rname) && dns_put32(out, cap, o, 2024010101u) &&
         dns_put32(out, cap, o, 3600) && dns_put32(out, cap, o, 600) &&
         dns_put32(out, cap, o, 86400) && dns_put32(out, cap, o, cfg->ttl);
    if (ok) {
        size_t rdlen = *o - rdlen_at - 2;
        out[rdlen_at] = (uint8_t)(rdlen >> 8);
        out[rdlen_at + 1] = (uint8_t)rdlen;
    }
    g_free(mname);
    g_free(rname);
    return ok;
}

/* The answer to one query in `out`; 0: none (dropped, not a query, too short). */
static size_t handle(const config_t *cfg, const uint8_t *q, size_t qlen, uint8_t *out,
                     size_t cap, bool udp, const char *peer)
{
    const char *via = udp ? "udp" : "tcp";
    dns_header_t h;
    if (!dns_header_read(q, qlen, &h)) {
        lab_say(PROG, "%s %s: %zu bytes, not a DNS message: ignored", via, peer, qlen);
        return 0;
    }
    if (h.flags & DNS_FLAG_QR) {
        lab_say(PROG, "%s %s: a response, not a query: ignored", via, peer);
        return 0;
    }
    dns_header_t r = { .id = h.id,
                       .flags = (uint16_t)(DNS_FLAG_QR | DNS_FLAG_AA | (h.flags & 0x7900u) |
                                           ((h.flags & DNS_FLAG_RD) ? DNS_FLAG_RA : 0)) };
    unsigned opcode = (h.flags >> 11) & 0xf;
    char qname[DNS_NAME_TEXT];
    size_t off = DNS_HEADER_LEN;
    uint16_t qtype = 0, qclass = 0;
    unsigned rcode;
    if (opcode != 0) {
        rcode = DNS_RCODE_NOTIMP;
    } else if (h.qdcount != 1 || !dns_name_read(q, qlen, &off, qname, sizeof(qname)) ||
               off + 4 > qlen) {
        rcode = DNS_RCODE_FORMERR;
    } else {
        qtype = dns_get16(q + off);
        qclass = dns_get16(q + off + 2);
        rcode = DNS_RCODE_NOERROR;
    }
    if (rcode != DNS_RCODE_NOERROR) {
        r.flags = (uint16_t)(r.flags | rcode);
        dns_header_write(out, &r);
        lab_say(PROG, "%s %s: malformed or unsupported query -> %s", via, peer,
                dns_rcode_name(rcode));
        answered++;
        return DNS_HEADER_LEN;
    }
    char tbuf[16];
    const char *tname = dns_type_name(qtype, tbuf, sizeof(tbuf));
    if (name_listed(cfg->drop, qname)) {
        lab_say(PROG, "%s %s: %s %s -> dropped (never answered)", via, peer, tname, qname);
        dropped++;
        return 0;
    }

    size_t o = DNS_HEADER_LEN;
    r.qdcount = 1;
    bool ok = dns_name_write(out, cap, &o, qname) && dns_put16(out, cap, &o, qtype) &&
              dns_put16(out, cap, &o, qclass);
    size_t question_end = o;
    bool known = false;
    for (guint i = 0; ok && i < cfg->records->len; i++) {
        const record_t *rec = &g_array_index(cfg->records, record_t, i);
        if (!dns_name_equal(rec->name, qname))
            continue;
        known = true;
        if (qtype != rec->type && qtype != DNS_TYPE_ANY)
            continue;
        size_t alen = rec->type == DNS_TYPE_A ? 4 : 16;
        /* the owner is the question's name: a pointer to offset 12 */
        ok = dns_put16(out, cap, &o, 0xc000u | DNS_HEADER_LEN) &&
             dns_put16(out, cap, &o, rec->type) && dns_put16(out, cap, &o, 1) &&
             dns_put32(out, cap, &o, cfg->ttl) && dns_put16(out, cap, &o, (uint16_t)alen) &&
             o + alen <= cap;
        if (ok) {
            memcpy(out + o, rec->addr, alen);
            o += alen;
            r.ancount++;
        }
    }
    if (!known && name_listed(cfg->nxdomain, qname)) {
        rcode = DNS_RCODE_NXDOMAIN;
    } else if (!known) {
        rcode = cfg->refuse_others ? DNS_RCODE_REFUSED : DNS_RCODE_NXDOMAIN;
    }
    if (ok && (rcode == DNS_RCODE_NXDOMAIN || (known && r.ancount == 0))) {
        ok = put_soa(cfg, qname, out, cap, &o);
        r.nscount = 1;
    }
    if (ok && udp && o > DNS_UDP_MAX) {
        o = question_end;   /* too big for UDP: truncated, the client asks again over TCP */
        r.ancount = r.nscount = 0;
        r.flags |= DNS_FLAG_TC;
    }
    if (!ok) {
        o = question_end <= cap ? question_end : DNS_HEADER_LEN;
        r.ancount = r.nscount = 0;
        rcode = DNS_RCODE_SERVFAIL;
    }
    r.flags = (uint16_t)(r.flags | rcode);
    dns_header_write(out, &r);
    lab_say(PROG, "%s %s: %s %s -> %s, %u answer%s%s", via, peer, tname, qname,
            dns_rcode_name(rcode), r.ancount, r.ancount == 1 ? "" : "s",
            r.nscount ? " + SOA" : "");
    answered++;
    return o;
}

static int udp_bind(const char *host, int port)
{
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_DGRAM;
    hints.ai_flags = AI_NUMERICHOST;
    char service[8];
    snprintf(service, sizeof(service), "%d", port);
    if (getaddrinfo(host, service, &hints, &res) != 0 || !res)
        return -1;
    int fd = socket(res->ai_family, SOCK_DGRAM, 0);
    if (fd >= 0 && bind(fd, res->ai_addr, res->ai_addrlen) != 0) {
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    return fd;
}

static void serve_udp(const config_t *cfg, int fd)
{
    uint8_t q[TCP_MSG_MAX], out[TCP_MSG_MAX];
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    ssize_t n = recvfrom(fd, q, sizeof(q), 0, (struct sockaddr *)&ss, &sl);
    if (n < 0)
        return;
    char peer[80];
    peer_name(&ss, peer, sizeof(peer));
    size_t rlen = handle(cfg, q, (size_t)n, out, sizeof(out), true, peer);
    if (rlen > 0)
        sendto(fd, out, rlen, 0, (struct sockaddr *)&ss, sl);
}

/* Reads what the connection has; answers every complete message.  False: close it. */
static bool serve_tcp(const config_t *cfg, tcp_conn_t *c)
{
    ssize_t n = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, 0);
    if (n <= 0)
        return false;
    c->len += (size_t)n;
    c->last = lab_now_ms();
    while (c->len >= 2) {
        size_t mlen = dns_get16(c->buf);
        if (mlen > TCP_MSG_MAX) {
            lab_say(PROG, "tcp %s: message of %zu bytes: closing", c->peer, mlen);
            return false;
        }
        if (c->len < 2 + mlen)
            break;
        uint8_t out[2 + TCP_MSG_MAX];
        size_t rlen = handle(cfg, c->buf + 2, mlen, out + 2, TCP_MSG_MAX, false, c->peer);
        if (rlen > 0) {
            out[0] = (uint8_t)(rlen >> 8);
            out[1] = (uint8_t)rlen;
            if (send(c->fd, out, rlen + 2, MSG_NOSIGNAL) != (ssize_t)(rlen + 2))
                return false;
        }
        memmove(c->buf, c->buf + 2 + mlen, c->len - 2 - mlen);
        c->len -= 2 + mlen;
    }
    return true;
}

static bool add_record(config_t *cfg, const char *spec)
{
    const char *eq = strchr(spec, '=');
    if (!eq || eq == spec)
        return false;
    record_t rec = { .name = g_strndup(spec, (gsize)(eq - spec)) };
    uint8_t probe[DNS_MAX_NAME + 1];
    size_t off = 0;
    if (inet_pton(AF_INET, eq + 1, rec.addr) == 1)
        rec.type = DNS_TYPE_A;
    else if (inet_pton(AF_INET6, eq + 1, rec.addr) == 1)
        rec.type = DNS_TYPE_AAAA;
    if (!rec.type || !dns_name_write(probe, sizeof(probe), &off, rec.name)) {
        g_free(rec.name);
        return false;
    }
    g_array_append_val(cfg->records, rec);
    return true;
}

static bool valid_name(const char *name)
{
    uint8_t probe[DNS_MAX_NAME + 1];
    size_t off = 0;
    return dns_name_write(probe, sizeof(probe), &off, name);
}

int main(int argc, char **argv)
{
    const char *host = "127.0.0.1";
    long port = 5353, duration_s = 0, ttl = 300;
    config_t cfg = { .records = g_array_new(FALSE, TRUE, sizeof(record_t)),
                     .nxdomain = g_ptr_array_new(), .drop = g_ptr_array_new() };
    int status = 0;
    for (int i = 1; i < argc && status == 0; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage();
            status = -1;
            break;
        }
        if (strcmp(a, "--refuse-others") == 0) {
            cfg.refuse_others = true;
            continue;
        }
        bool ok = v != NULL;
        if (!ok) {
            /* a value is missing */
        } else if (strcmp(a, "--host") == 0) {
            host = v;
        } else if (strcmp(a, "--port") == 0) {
            ok = lab_parse_long(v, 1, 65535, &port);
        } else if (strcmp(a, "--name") == 0) {
            ok = add_record(&cfg, v);
        } else if (strcmp(a, "--nxdomain") == 0 || strcmp(a, "--drop") == 0) {
            ok = valid_name(v);
            if (ok)
                g_ptr_array_add(strcmp(a, "--drop") == 0 ? cfg.drop : cfg.nxdomain, (gpointer)v);
        } else if (strcmp(a, "--zone") == 0) {
            ok = valid_name(v);
            cfg.zone = v;
        } else if (strcmp(a, "--ttl") == 0) {
            ok = lab_parse_long(v, 0, 2147483647L, &ttl);
        } else if (strcmp(a, "--duration-s") == 0) {
            ok = lab_parse_long(v, 0, 86400L * 365, &duration_s);
        } else {
            ok = false;
        }
        if (!ok) {
            lab_say(PROG, "bad or incomplete option: %s%s%s", a, v ? " " : "", v ? v : "");
            usage();
            status = 2;
        }
        i++;
    }
    cfg.ttl = (uint32_t)ttl;

    int ufd = -1, lfd = -1;
    if (status == 0) {
        ufd = udp_bind(host, (int)port);
        lfd = lab_listen(host, (uint16_t)port, 16);
        if (ufd < 0 || lfd < 0) {
            lab_say(PROG, "cannot listen on %s port %ld (udp %s, tcp %s): %s", host, port,
                    ufd < 0 ? "failed" : "ok", lfd < 0 ? "failed" : "ok", strerror(errno));
            status = 1;
        }
    }
    if (status == 0) {
        struct sigaction sa;
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = on_signal;
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGINT, &sa, NULL);
        signal(SIGPIPE, SIG_IGN);
        lab_say(PROG, "listening on %s:%ld udp+tcp (%u names, %u NXDOMAIN, %u dropped, others %s)",
                host, port, cfg.records->len, cfg.nxdomain->len, cfg.drop->len,
                cfg.refuse_others ? "REFUSED" : "NXDOMAIN");
        tcp_conn_t *conns[MAX_TCP] = { 0 };
        int nconns = 0;
        gint64 end = duration_s > 0 ? lab_now_ms() + duration_s * 1000 : 0;
        while (!stop_flag && !(end && lab_now_ms() >= end)) {
            struct pollfd p[2 + MAX_TCP];
            p[0] = (struct pollfd){ ufd, POLLIN, 0 };
            p[1] = (struct pollfd){ lfd, nconns < MAX_TCP ? POLLIN : 0, 0 };
            for (int i = 0; i < nconns; i++)
                p[2 + i] = (struct pollfd){ conns[i]->fd, POLLIN, 0 };
            int r = poll(p, (nfds_t)(2 + nconns), 200);
            if (r < 0 && errno != EINTR)
                break;
            if (r > 0 && (p[0].revents & POLLIN))
                serve_udp(&cfg, ufd);
            gint64 now = lab_now_ms();
            for (int i = nconns - 1; i >= 0; i--) {
                tcp_conn_t *c = conns[i];
                bool keep = true;
                if (r > 0 && p[2 + i].revents)
                    keep = serve_tcp(&cfg, c);
                else if (now - c->last > TCP_IDLE_MS)
                    keep = false;
                if (!keep) {
                    close(c->fd);
                    g_free(c);
                    conns[i] = conns[--nconns];
                }
            }
            if (r > 0 && (p[1].revents & POLLIN) && nconns < MAX_TCP) {
                struct sockaddr_storage ss;
                socklen_t sl = sizeof(ss);
                int fd = accept(lfd, (struct sockaddr *)&ss, &sl);
                if (fd >= 0) {
                    tcp_conn_t *c = g_new0(tcp_conn_t, 1);
                    c->fd = fd;
                    c->last = now;
                    peer_name(&ss, c->peer, sizeof(c->peer));
                    conns[nconns++] = c;
                }
            }
        }
        for (int i = 0; i < nconns; i++) {
            close(conns[i]->fd);
            g_free(conns[i]);
        }
        lab_say(PROG, "stopped: %u queries answered, %u dropped", answered, dropped);
    }
    if (ufd >= 0)
        close(ufd);
    if (lfd >= 0)
        close(lfd);
    for (guint i = 0; i < cfg.records->len; i++)
        g_free(g_array_index(cfg.records, record_t, i).name);
    g_array_free(cfg.records, TRUE);
    g_ptr_array_free(cfg.nxdomain, TRUE);
    g_ptr_array_free(cfg.drop, TRUE);
    return status < 0 ? 0 : status;
}
