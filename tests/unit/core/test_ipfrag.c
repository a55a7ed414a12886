/* Unit tests for monitor/ipfrag.c: fragments are built as real IPv4/IPv6
 * packets, decoded with decode_ip, added, and the reassembled buffer is
 * decoded again. */
#include "dissectors/decode.h"
#include "monitor/ipfrag.h"
#include "monitor/limits.h"
#include "monitor/memcap.h"

#include <glib.h>
#include <string.h>

#define SEC 1000000LL

typedef struct fx {
    monitor_limits_t limits;
    memcap_t mc;
    ipfrag_table_t *t;
    uint8_t *datagram;   /* the upper-layer bytes being fragmented */
    size_t datagram_len;
} fx_t;

static void fx_init_limits(fx_t *f, size_t payload_len, unsigned max_datagrams, size_t frag_memory,
                           size_t global)
{
    memset(f, 0, sizeof(*f));
    monitor_limits_default(&f->limits);
    f->limits.max_fragment_datagrams = max_datagrams;
    f->limits.fragment_memory = frag_memory;
    memcap_init(&f->mc, global, LIMITS_DEFAULT_FLOW_MEMORY);
    f->t = ipfrag_table_new(&f->limits, &f->mc);
    /* a UDP datagram: header, then a recognisable body */
    f->datagram_len = payload_len;
    f->datagram = g_malloc(payload_len ? payload_len : 1);
    for (size_t i = 0; i < payload_len; i++)
        f->datagram[i] = (uint8_t)(i * 31 + 7);
    if (payload_len >= 8) {
        f->datagram[0] = 0x13;
        f->datagram[1] = 0xc4; /* 5060 */
        f->datagram[2] = 0x13;
        f->datagram[3] = 0xc5;
        f->datagram[4] = (uint8_t)(payload_len >> 8);
        f->datagram[5] = (uint8_t)payload_len;
        f->datagram[6] = 0;
        f->datagram[7] = 0;
    }
}

static void fx_init(fx_t *f, size_t payload_len)
{
    fx_init_limits(f, payload_len, LIMITS_DEFAULT_MAX_FRAGMENT_DATAGRAMS,
                   LIMITS_DEFAULT_FRAGMENT_MEMORY, LIMITS_DEFAULT_GLOBAL_MEMORY);
}

static void fx_done(fx_t *f)
{
    ipfrag_table_free(f->t);
    g_assert_cmpuint(f->mc.in_use, ==, 0);
    g_free(f->datagram);
}

/* Fragment options; zero means the default. */
typedef struct frag_opts {
    uint32_t src;       /* IPv4 source (or last byte of the IPv6 source) */
    uint16_t id;
    uint8_t proto;
    unsigned ihl;       /* IPv4 header words */
    const uint8_t *override; /* bytes to send instead of the datagram's */
} frag_opts_t;

static const frag_opts_t defaults = { 0x0a000001, 0x4242, IPPROTO_NUM_UDP, 5, NULL };

/* Builds the IPv4 fragment carrying datagram[off, off+len), decodes it and
 * adds it.  Returns what ipfrag_add returns. */
static uint8_t *add_v4(fx_t *f, const frag_opts_t *o, size_t off, size_t len, bool more,
                       int64_t now, size_t *out_len)
{
    size_t hl = (size_t)o->ihl * 4;
    size_t total = hl + len;
    uint8_t *pkt = g_malloc0(total);
    pkt[0] = (uint8_t)(0x40 | o->ihl);
    pkt[2] = (uint8_t)(total >> 8);
    pkt[3] = (uint8_t)total;
    pkt[4] = (uint8_t)(o->id >> 8);
    pkt[5] = (uint8_t)o->id;
    uint16_t frag = (uint16_t)((off / 8) | (more ? 0x2000 : 0));
    pkt[6] = (uint8_t)(frag >> 8);
    pkt[7] = (uint8_t)frag;
    pkt[8] = 64;
    pkt[9] = o->proto;
    for (int i = 0; i < 4; i++) {
        pkt[12 + i] = (uint8_t)(o->src >> (24 - 8 * i));
        pkt[16 + i] = (uint8_t)(0xc0a80005u >> (24 - 8 * i));
    }
    for (size_t i = 20; i < hl; i++)
        pkt[i] = 0x01; /* NOP options */
    memcpy(pkt + hl, (o->override ? o->override : f->datagram) + off, len);
    ip_result_t ip;
    g_assert_cmpint(decode_ip(ETHERTYPE_IPV4, (byte_span_t){ pkt, total }, &ip), ==, DECODE_OK);
    g_assert_true(ip.is_fragment || (off == 0 && !more));
    *out_len = 0;
    uint8_t *out = ipfrag_add(f->t, &ip, now, out_len);
    g_free(pkt);
    g_assert_cmpuint(f->mc.in_use, <=, f->mc.global_limit);
    return out;
}

/* The same for IPv6, with a hop-by-hop header before the fragment header. */
static uint8_t *add_v6(fx_t *f, const frag_opts_t *o, size_t off, size_t len, bool more,
                       int64_t now, size_t *out_len)
{
    size_t total = 40 + 8 + 8 + len;
    uint8_t *pkt = g_malloc0(total);
    pkt[0] = 0x60;
    pkt[4] = (uint8_t)((total - 40) >> 8);
    pkt[5] = (uint8_t)(total - 40);
    pkt[6] = 0; /* hop-by-hop */
    pkt[7] = 64;
    pkt[8] = 0x20;
    pkt[9] = 0x01;
    pkt[10] = 0x0d;
    pkt[11] = 0xb8;
    pkt[23] = (uint8_t)o->src;
    pkt[24] = 0x20;
    pkt[25] = 0x01;
    pkt[26] = 0x0d;
    pkt[27] = 0xb8;
    pkt[39] = 0x99;
    uint8_t *hbh = pkt + 40;
    hbh[0] = 44; /* -> fragment */
    hbh[1] = 0;
    hbh[2] = 0x01; /* PadN */
    hbh[3] = 4;
    uint8_t *fh = pkt + 48;
    fh[0] = o->proto;
    uint16_t of = (uint16_t)((off & 0xfff8) | (more ? 1 : 0));
    fh[2] = (uint8_t)(of >> 8);
    fh[3] = (uint8_t)of;
    uint32_t id = 0x10000000u | o->id;
    fh[4] = (uint8_t)(id >> 24);
    fh[5] = (uint8_t)(id >> 16);
    fh[6] = (uint8_t)(id >> 8);
    fh[7] = (uint8_t)id;
    memcpy(pkt + 56, (o->override ? o->override : f->datagram) + off, len);
    ip_result_t ip;
    g_assert_cmpint(decode_ip(ETHERTYPE_IPV6, (byte_span_t){ pkt, total }, &ip), ==, DECODE_OK);
    g_assert_true(ip.is_fragment);
    *out_len = 0;
    uint8_t *out = ipfrag_add(f->t, &ip, now, out_len);
    g_free(pkt);
    return out;
}

/* The reassembled buffer is one whole datagram carrying the expected bytes. */
static void check_whole(const fx_t *f, uint16_t ethertype, const uint8_t *buf, size_t len,
                        const uint8_t *expected, size_t header_len)
{
    g_assert_nonnull(buf);
    if (!buf)
        return;
    g_assert_cmpuint(len, ==, header_len + f->datagram_len);
    ip_result_t ip;
    g_assert_cmpint(decode_ip(ethertype, (byte_span_t){ buf, len }, &ip), ==, DECODE_OK);
    g_assert_false(ip.is_fragment);
    g_assert_false(ip.more_fragments);
    g_assert_cmpuint(ip.fragment_offset, ==, 0);
    g_assert_false(ip.payload_truncated);
    g_assert_cmpuint(ip.protocol, ==, IPPROTO_NUM_UDP);
    g_assert_cmpuint(ip.header_and_payload.len, ==, len);
    g_assert_cmpmem(ip.payload.ptr, ip.payload.len, expected, f->datagram_len);
    udp_result_t udp;
    g_assert_cmpint(decode_udp(ip.payload, &udp), ==, DECODE_OK);
    g_assert_cmpuint(udp.src_port, ==, 5060);
    g_assert_cmpuint(udp.payload.len, ==, f->datagram_len - 8);
}

/* ---- IPv4 ------------------------------------------------------------------ */

static void run_order(const size_t *order, size_t n, unsigned ihl)
{
    fx_t f;
    fx_init(&f, 64);
    frag_opts_t o = defaults;
    o.ihl = ihl;
    uint8_t *out = NULL;
    size_t out_len = 0;
    for (size_t i = 0; i < n; i++) {
        size_t off = order[i] * 16;
        g_assert_null(out);
        out = add_v4(&f, &o, off, 16, off + 16 < 64, (int64_t)i * SEC, &out_len);
        if (i + 1 < n)
            g_assert_cmpuint(f.mc.in_use, >, 0);
    }
    check_whole(&f, ETHERTYPE_IPV4, out, out_len, f.datagram, (size_t)ihl * 4);
    if (out) {
        /* the header is the first fragment's, lengths rewritten */
        g_assert_cmpuint(((size_t)out[2] << 8) | out[3], ==, out_len);
        g_assert_cmpuint(out[0], ==, 0x40 | ihl);
        g_assert_cmpuint(((size_t)out[4] << 8) | out[5], ==, 0x4242);
    }
    const ipfrag_stats_t *st = ipfrag_stats(f.t);
    g_assert_cmpuint(st->fragments, ==, n);
    g_assert_cmpuint(st->reassembled, ==, 1);
    g_assert_cmpuint(st->dropped, ==, 0);
    g_assert_cmpuint(st->overlaps, ==, 0);
    g_assert_cmpuint(f.mc.in_use, ==, 0); /* nothing held once handed back */
    g_free(out);
    fx_done(&f);
}

static void test_v4_in_order(void)
{
    static const size_t order[] = { 0, 1, 2, 3 };
    run_order(order, G_N_ELEMENTS(order), 5);
}

static void test_v4_reversed(void)
{
    static const size_t order[] = { 3, 2, 1, 0 };
    run_order(order, G_N_ELEMENTS(order), 5);
}

static void test_v4_shuffled_with_options(void)
{
    static const size_t order[] = { 2, 0, 3, 1 };
    run_order(order, G_N_ELEMENTS(order), 7);
    run_order(order, G_N_ELEMENTS(order), 15);
}

static void test_v4_overlap_first_wins(void)
{
    for (int later_first = 0; later_first <= 1; later_first++) {
        fx_t f;
        fx_init(&f, 64);
        uint8_t other[64];
        memcpy(other, f.datagram, sizeof(other));
        memset(other + 16, 0xee, 8); /* [16,24) differs */
        frag_opts_t a = defaults, b = defaults;
        b.override = other;
        uint8_t expected[64];
        memcpy(expected, later_first ? other : f.datagram, 64);
        size_t n;
        uint8_t *out;
        if (later_first) {
            /* [16,40) with the odd bytes first, then [0,24) overlapping it */
            g_assert_null(add_v4(&f, &b, 16, 24, true, 0, &n));
            g_assert_null(add_v4(&f, &a, 0, 24, true, 0, &n));
        } else {
            g_assert_null(add_v4(&f, &a, 0, 24, true, 0, &n));
            g_assert_null(add_v4(&f, &b, 16, 24, true, 0, &n));
        }
        out = add_v4(&f, &a, 40, 24, false, 0, &n);
        check_whole(&f, ETHERTYPE_IPV4, out, n, expected, 20);
        g_assert_cmpuint(ipfrag_stats(f.t)->overlaps, >=, 1);
        g_assert_cmpuint(ipfrag_stats(f.t)->reassembled, ==, 1);
        g_free(out);
        fx_done(&f);
    }
}

static void test_v4_duplicate(void)
{
    fx_t f;
    fx_init(&f, 48);
    size_t n;
    g_assert_null(add_v4(&f, &defaults, 0, 16, true, 0, &n));
    g_assert_null(add_v4(&f, &defaults, 0, 16, true, 0, &n));
    g_assert_null(add_v4(&f, &defaults, 16, 16, true, 0, &n));
    g_assert_null(add_v4(&f, &defaults, 16, 16, true, 0, &n));
    uint8_t *out = add_v4(&f, &defaults, 32, 16, false, 0, &n);
    check_whole(&f, ETHERTYPE_IPV4, out, n, f.datagram, 20);
    g_assert_cmpuint(ipfrag_stats(f.t)->overlaps, >=, 2);
    g_assert_cmpuint(ipfrag_stats(f.t)->reassembled, ==, 1);
    g_free(out);
    fx_done(&f);
}

static void test_v4_missing_piece_expires(void)
{
    fx_t f;
    fx_init(&f, 64);
    f.limits.fragment_timeout = 30;
    size_t n;
    const int64_t t0 = 1700000000 * SEC;
    g_assert_null(add_v4(&f, &defaults, 0, 16, true, t0, &n));
    g_assert_null(add_v4(&f, &defaults, 32, 16, true, t0 + SEC, &n));
    g_assert_null(add_v4(&f, &defaults, 48, 16, false, t0 + 2 * SEC, &n)); /* [16,32) never comes */
    g_assert_cmpuint(f.mc.in_use, >, 0);
    ipfrag_expire(f.t, t0 + 30 * SEC); /* exactly the timeout: not older yet */
    g_assert_cmpuint(ipfrag_stats(f.t)->timed_out, ==, 0);
    g_assert_cmpuint(f.mc.in_use, >, 0);
    ipfrag_expire(f.t, t0 + 30 * SEC + 1);
    g_assert_cmpuint(ipfrag_stats(f.t)->timed_out, ==, 1);
    g_assert_cmpuint(ipfrag_stats(f.t)->reassembled, ==, 0);
    g_assert_cmpuint(f.mc.in_use, ==, 0);
    /* the missing piece, too late: it starts a new datagram of its own */
    g_assert_null(add_v4(&f, &defaults, 16, 16, true, t0 + 40 * SEC, &n));
    g_assert_cmpuint(ipfrag_stats(f.t)->reassembled, ==, 0);
    /* a later fragment's arrival expires old datagrams as well */
    g_assert_null(add_v4(&f, &defaults, 0, 16, true, t0 + 100 * SEC, &n));
    g_assert_cmpuint(ipfrag_stats(f.t)->timed_out, ==, 2);
    fx_done(&f);
}

static void test_v4_two_ends(void)
{
    fx_t f;
    fx_init(&f, 64);
    size_t n;
    g_assert_null(add_v4(&f, &defaults, 0, 16, true, 0, &n));
    g_assert_null(add_v4(&f, &defaults, 48, 16, false, 0, &n)); /* ends at 64 */
    g_assert_null(add_v4(&f, &defaults, 40, 16, false, 0, &n)); /* ends at 56 */
    g_assert_cmpuint(ipfrag_stats(f.t)->dropped, ==, 1);
    g_assert_cmpuint(f.mc.in_use, ==, 0); /* the datagram is gone */
    /* the rest of the first attempt does not complete anything */
    g_assert_null(add_v4(&f, &defaults, 16, 32, true, 0, &n));
    g_assert_cmpuint(ipfrag_stats(f.t)->reassembled, ==, 0);
    fx_done(&f);
}

static void test_v4_keys_apart(void)
{
    fx_t f;
    fx_init(&f, 32);
    frag_opts_t other_src = defaults, other_id = defaults, other_proto = defaults;
    other_src.src = 0x0a000099;
    other_id.id = 0x4243;
    other_proto.proto = IPPROTO_NUM_TCP;
    size_t n;
    g_assert_null(add_v4(&f, &defaults, 0, 16, true, 0, &n));
    g_assert_null(add_v4(&f, &other_src, 16, 16, false, 0, &n));
    g_assert_null(add_v4(&f, &other_id, 16, 16, false, 0, &n));
    g_assert_null(add_v4(&f, &other_proto, 16, 16, false, 0, &n));
    uint8_t *out = add_v4(&f, &defaults, 16, 16, false, 0, &n);
    check_whole(&f, ETHERTYPE_IPV4, out, n, f.datagram, 20);
    g_assert_cmpuint(ipfrag_stats(f.t)->reassembled, ==, 1);
    g_free(out);
    fx_done(&f); /* three partial datagrams freed with the table */
}

static void test_v4_datagram_cap(void)
{
    fx_t f;
    fx_init_limits(&f, 32, 2, LIMITS_DEFAULT_FRAGMENT_MEMORY, LIMITS_DEFAULT_GLOBAL_MEMORY);
    frag_opts_t d[3] = { defaults, defaults, defaults };
    d[1].id = 2;
    d[2].id = 3;
    size_t n;
    for (int i = 0; i < 3; i++)
        g_assert_null(add_v4(&f, &d[i], 0, 16, true, i, &n));
    g_assert_cmpuint(f.mc.hits[CAP_FRAGMENT_DATAGRAMS], ==, 1);
    g_assert_cmpuint(ipfrag_stats(f.t)->dropped, ==, 1);
    /* the oldest was dropped: its end completes nothing, and now the
     * table is full again, so another one goes */
    g_assert_null(add_v4(&f, &d[0], 16, 16, false, 3, &n));
    /* the two newest still complete */
    uint8_t *out = add_v4(&f, &d[2], 16, 16, false, 4, &n);
    check_whole(&f, ETHERTYPE_IPV4, out, n, f.datagram, 20);
    g_free(out);
    g_assert_cmpuint(ipfrag_stats(f.t)->reassembled, ==, 1);
    fx_done(&f);
}

static void test_v4_memory_caps(void)
{
    /* the fragment memory cap */
    fx_t f;
    fx_init_limits(&f, 128, LIMITS_DEFAULT_MAX_FRAGMENT_DATAGRAMS, 100,
                   LIMITS_DEFAULT_GLOBAL_MEMORY);
    size_t n;
    g_assert_null(add_v4(&f, &defaults, 0, 64, true, 0, &n));
    g_assert_cmpuint(f.mc.in_use, >, 0);
    g_assert_cmpuint(f.mc.in_use, <=, 100);
    g_assert_null(add_v4(&f, &defaults, 64, 64, false, 0, &n));
    g_assert_cmpuint(f.mc.hits[CAP_FRAGMENT_MEMORY], ==, 1);
    g_assert_cmpuint(ipfrag_stats(f.t)->dropped, ==, 1);
    g_assert_cmpuint(f.mc.in_use, ==, 0);
    g_assert_cmpuint(f.mc.peak, <=, 100);
    fx_done(&f);

    /* the global cap */
    fx_init_limits(&f, 128, LIMITS_DEFAULT_MAX_FRAGMENT_DATAGRAMS, LIMITS_DEFAULT_FRAGMENT_MEMORY, 100);
    g_assert_null(add_v4(&f, &defaults, 0, 64, true, 0, &n));
    g_assert_null(add_v4(&f, &defaults, 64, 64, false, 0, &n));
    g_assert_cmpuint(f.mc.hits[CAP_GLOBAL_MEMORY], ==, 1);
    g_assert_cmpuint(ipfrag_stats(f.t)->dropped, ==, 1);
    g_assert_cmpuint(f.mc.in_use, ==, 0);
    g_assert_cmpuint(f.mc.peak, <=, 100);
    fx_done(&f);
}

/* A datagram that cannot exist: IPv4's total length is 16 bits. */
static void test_v4_too_long(void)
{
    fx_t f;
    fx_init(&f, 65536);
    size_t n;
    /* the offset field allows 65528 + 8 bytes: one byte beyond any datagram */
    g_assert_null(add_v4(&f, &defaults, 65528, 8, false, 0, &n));
    g_assert_cmpuint(ipfrag_stats(f.t)->dropped, ==, 1);
    fx_done(&f);

    /* 65535 bytes of payload plus a 20-byte header: 65555 > 65535 */
    fx_init(&f, 65535);
    uint8_t *out = add_v4(&f, &defaults, 0, 65000, true, 0, &n);
    g_assert_null(out);
    out = add_v4(&f, &defaults, 65000, 535, false, 0, &n);
    if (out) {
        ip_result_t ip;
        decode_status_t st = decode_ip(ETHERTYPE_IPV4, (byte_span_t){ out, n }, &ip);
        g_test_message("reassembled %zu bytes, total length field %u, decodes as %s", n,
                       ((unsigned)out[2] << 8) | out[3], decode_status_name(st));
    }
    g_assert_null(out);
    g_assert_cmpuint(ipfrag_stats(f.t)->dropped, ==, 1);
    g_free(out);
    fx_done(&f);

    /* the largest possible datagram is fine */
    fx_init(&f, 65515);
    g_assert_null(add_v4(&f, &defaults, 0, 65000, true, 0, &n));
    out = add_v4(&f, &defaults, 65000, 515, false, 0, &n);
    g_assert_nonnull(out);
    if (out) {
        ip_result_t ip;
        g_assert_cmpint(decode_ip(ETHERTYPE_IPV4, (byte_span_t){ out, n }, &ip), ==, DECODE_OK);
        g_assert_cmpuint(ip.payload.len, ==, 65515);
        g_assert_false(ip.payload_truncated);
    }
    g_free(out);
    fx_done(&f);
}

/* ---- IPv6 -------------------------------------------------------------------- */

static void test_v6_reassembly(void)
{
    static const size_t orders[][5] = {
        { 0, 1, 2, 3, 4 },
        { 4, 3, 2, 1, 0 },
        { 2, 4, 0, 3, 1 },
    };
    for (size_t k = 0; k < G_N_ELEMENTS(orders); k++) {
        fx_t f;
        fx_init(&f, 80);
        uint8_t *out = NULL;
        size_t n = 0;
        for (size_t i = 0; i < 5; i++) {
            size_t off = orders[k][i] * 16;
            g_assert_null(out);
            out = add_v6(&f, &defaults, off, 16, off + 16 < 80, (int64_t)i, &n);
        }
        check_whole(&f, ETHERTYPE_IPV6, out, n, f.datagram, 40);
        if (out) {
            g_assert_cmpuint(((size_t)out[4] << 8) | out[5], ==, 80); /* payload length */
            g_assert_cmpuint(out[6], ==, IPPROTO_NUM_UDP);
            g_assert_cmpuint(out[23], ==, (uint8_t)defaults.src);
        }
        g_assert_cmpuint(ipfrag_stats(f.t)->reassembled, ==, 1);
        g_assert_cmpuint(f.mc.in_use, ==, 0);
        g_free(out);
        fx_done(&f);
    }
}

static void test_v6_overlap_and_expiry(void)
{
    fx_t f;
    fx_init(&f, 48);
    uint8_t other[48];
    memset(other, 0x77, sizeof(other));
    frag_opts_t b = defaults;
    b.override = other;
    size_t n;
    g_assert_null(add_v6(&f, &defaults, 0, 24, true, 0, &n));
    g_assert_null(add_v6(&f, &b, 16, 16, true, 0, &n)); /* [16,24) overlaps */
    uint8_t *out = add_v6(&f, &defaults, 32, 16, false, 0, &n);
    uint8_t expected[48];
    memcpy(expected, f.datagram, 48);
    memset(expected + 24, 0x77, 8); /* [24,32) came only from the second copy */
    check_whole(&f, ETHERTYPE_IPV6, out, n, expected, 40);
    g_free(out);
    g_assert_cmpuint(ipfrag_stats(f.t)->overlaps, >=, 1);

    /* an IPv6 datagram missing its middle times out */
    g_assert_null(add_v6(&f, &defaults, 0, 16, true, 10 * SEC, &n));
    g_assert_null(add_v6(&f, &defaults, 32, 16, false, 10 * SEC, &n));
    ipfrag_expire(f.t, 10 * SEC + (int64_t)f.limits.fragment_timeout * SEC + 1);
    g_assert_cmpuint(ipfrag_stats(f.t)->timed_out, ==, 1);
    g_assert_cmpuint(f.mc.in_use, ==, 0);
    fx_done(&f);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    /* A failed check marks its test failed and the others still run. */
    g_test_set_nonfatal_assertions();
    g_test_add_func("/ipfrag/v4/in-order", test_v4_in_order);
    g_test_add_func("/ipfrag/v4/reversed", test_v4_reversed);
    g_test_add_func("/ipfrag/v4/shuffled-with-options", test_v4_shuffled_with_options);
    g_test_add_func("/ipfrag/v4/overlap-first-wins", test_v4_overlap_first_wins);
    g_test_add_func("/ipfrag/v4/duplicate", test_v4_duplicate);
    g_test_add_func("/ipfrag/v4/missing-piece-expires", test_v4_missing_piece_expires);
    g_test_add_func("/ipfrag/v4/two-ends", test_v4_two_ends);
    g_test_add_func("/ipfrag/v4/keys-apart", test_v4_keys_apart);
    g_test_add_func("/ipfrag/v4/datagram-cap", test_v4_datagram_cap);
    g_test_add_func("/ipfrag/v4/memory-caps", test_v4_memory_caps);
    g_test_add_func("/ipfrag/v4/too-long", test_v4_too_long);
    g_test_add_func("/ipfrag/v6/reassembly", test_v6_reassembly);
    g_test_add_func("/ipfrag/v6/overlap-and-expiry", test_v6_overlap_and_expiry);
    return g_test_run();
}
