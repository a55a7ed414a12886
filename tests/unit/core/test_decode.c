/* Unit tests for dissectors/decode.c: link layer, IPv4/IPv6, TCP, UDP and
 * address formatting. */
#include "dissectors/decode.h"
#include "monitor/packet_info.h"

#include <arpa/inet.h>

#include <glib.h>
#include <string.h>

/* ---- frame builders ---------------------------------------------------- */

static size_t put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
    return 2;
}

static size_t put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
    return 4;
}

/* An IPv4 header of ihl 32-bit words (options filled with NOPs). */
static size_t put_ipv4(uint8_t *p, unsigned ihl, uint16_t total_len, uint16_t id, uint16_t frag,
                       uint8_t proto, uint32_t src, uint32_t dst)
{
    p[0] = (uint8_t)(0x40 | (ihl & 0x0f));
    p[1] = 0;
    put16(p + 2, total_len);
    put16(p + 4, id);
    put16(p + 6, frag);
    p[8] = 64;
    p[9] = proto;
    put16(p + 10, 0);
    put32(p + 12, src);
    put32(p + 16, dst);
    for (size_t i = 20; i < (size_t)ihl * 4; i++)
        p[i] = 0x01; /* NOP option */
    return (size_t)ihl * 4;
}

static void fill_v6addr(uint8_t *p, uint8_t last)
{
    static const uint8_t prefix[8] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0 };
    memcpy(p, prefix, 8);
    memset(p + 8, 0, 7);
    p[15] = last;
}

static size_t put_ipv6(uint8_t *p, uint16_t payload_len, uint8_t next)
{
    put32(p, 0x60000000u);
    put16(p + 4, payload_len);
    p[6] = next;
    p[7] = 57;
    fill_v6addr(p + 8, 1);
    fill_v6addr(p + 24, 2);
    return 40;
}

/* A generic IPv6 extension header (hop-by-hop, routing, destination
 * options) of (len_units + 1) * 8 bytes. */
static size_t put_ext(uint8_t *p, uint8_t next, uint8_t len_units)
{
    size_t total = ((size_t)len_units + 1) * 8;
    memset(p, 0, total);
    p[0] = next;
    p[1] = len_units;
    p[2] = 0x01; /* PadN */
    p[3] = (uint8_t)(total - 4);
    return total;
}

/* An authentication header of (len_units + 2) * 4 bytes. */
static size_t put_ah(uint8_t *p, uint8_t next, uint8_t len_units)
{
    size_t total = ((size_t)len_units + 2) * 4;
    memset(p, 0xa5, total);
    p[0] = next;
    p[1] = len_units;
    return total;
}

static size_t put_frag6(uint8_t *p, uint8_t next, uint32_t offset, bool more, uint32_t id)
{
    p[0] = next;
    p[1] = 0;
    put16(p + 2, (uint16_t)((offset & 0xfff8) | (more ? 1 : 0)));
    put32(p + 4, id);
    return 8;
}

static size_t put_tcp(uint8_t *p, uint16_t sport, uint16_t dport, uint32_t seq, uint32_t ack,
                      unsigned data_off, uint8_t flags, uint16_t window)
{
    put16(p, sport);
    put16(p + 2, dport);
    put32(p + 4, seq);
    put32(p + 8, ack);
    p[12] = (uint8_t)(data_off << 4);
    p[13] = flags;
    put16(p + 14, window);
    put16(p + 16, 0);
    put16(p + 18, 0);
    for (size_t i = 20; i < (size_t)data_off * 4; i++)
        p[i] = 0x01; /* NOP */
    return (size_t)data_off * 4 > 20 ? (size_t)data_off * 4 : 20;
}

static size_t put_udp(uint8_t *p, uint16_t sport, uint16_t dport, uint16_t length)
{
    put16(p, sport);
    put16(p + 2, dport);
    put16(p + 4, length);
    put16(p + 6, 0);
    return 8;
}

static byte_span_t span(const uint8_t *p, size_t len)
{
    byte_span_t s = { p, len };
    return s;
}

static gboolean inside(byte_span_t s, const uint8_t *base, size_t len)
{
    if (s.len == 0)
        return s.ptr == NULL || (s.ptr >= base && s.ptr <= base + len);
    return s.ptr >= base && s.ptr + s.len <= base + len;
}

/* ---- decode_link --------------------------------------------------------- */

typedef struct link_case {
    const char *name;
    int linktype;
    uint8_t header[32];
    size_t header_len;   /* link header bytes before the IP packet */
    int ip_version;      /* 4 or 6: the packet put behind the header */
    uint16_t ethertype;
    unsigned vlan_count;
    uint16_t vlan[DECODE_MAX_VLAN_TAGS];
} link_case_t;

static const link_case_t link_ok_cases[] = {
    { "ethernet ipv4", 1, { [12] = 0x08, [13] = 0x00 }, 14, 4, ETHERTYPE_IPV4, 0, { 0 } },
    { "ethernet ipv6", 1, { [12] = 0x86, [13] = 0xdd }, 14, 6, ETHERTYPE_IPV6, 0, { 0 } },
    { "802.1q", 1, { [12] = 0x81, 0x00, 0x20, 0x64, 0x08, 0x00 }, 18, 4, ETHERTYPE_IPV4, 1, { 100 } },
    { "802.1q vid 4095 prio 7", 1, { [12] = 0x81, 0x00, 0xff, 0xff, 0x86, 0xdd }, 18, 6,
      ETHERTYPE_IPV6, 1, { 4095 } },
    { "qinq 88a8 then 8100", 1,
      { [12] = 0x88, 0xa8, 0x00, 0xc8, 0x81, 0x00, 0x30, 0x64, 0x86, 0xdd }, 22, 6, ETHERTYPE_IPV6,
      2, { 200, 100 } },
    { "qinq 9100", 1, { [12] = 0x91, 0x00, 0x00, 0x07, 0x81, 0x00, 0x00, 0x08, 0x08, 0x00 }, 22, 4,
      ETHERTYPE_IPV4, 2, { 7, 8 } },
    { "four tags", 1,
      { [12] = 0x88, 0xa8, 0x00, 0x01, 0x81, 0x00, 0x00, 0x02, 0x81, 0x00, 0x00, 0x03, 0x81, 0x00,
        0x00, 0x04, 0x08, 0x00 },
      30, 4, ETHERTYPE_IPV4, 4, { 1, 2, 3, 4 } },
    { "sll v1 ipv4", 113, { 0x00, 0x00, 0x00, 0x01, 0x00, 0x06, 1, 2, 3, 4, 5, 6, 0, 0, 0x08, 0x00 },
      16, 4, ETHERTYPE_IPV4, 0, { 0 } },
    { "sll v1 ipv6", 113, { 0x00, 0x04, 0x03, 0x04, 0x00, 0x00, [14] = 0x86, 0xdd }, 16, 6,
      ETHERTYPE_IPV6, 0, { 0 } },
    { "sll v1 vlan", 113, { [14] = 0x81, 0x00, 0x00, 0x2a, 0x08, 0x00 }, 20, 4, ETHERTYPE_IPV4, 1,
      { 42 } },
    { "sll v2 ipv4", 276,
      { 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x01, 0x00, 0x06, 1, 2, 3, 4, 5, 6, 0,
        0 },
      20, 4, ETHERTYPE_IPV4, 0, { 0 } },
    { "sll v2 ipv6", 276, { 0x86, 0xdd, [8] = 0x03, 0x04, 0x04, 0x00 }, 20, 6, ETHERTYPE_IPV6, 0,
      { 0 } },
    { "raw 12 ipv4", 12, { 0 }, 0, 4, ETHERTYPE_IPV4, 0, { 0 } },
    { "raw 12 ipv6", 12, { 0 }, 0, 6, ETHERTYPE_IPV6, 0, { 0 } },
    { "raw 14 ipv4", 14, { 0 }, 0, 4, ETHERTYPE_IPV4, 0, { 0 } },
    { "raw 14 ipv6", 14, { 0 }, 0, 6, ETHERTYPE_IPV6, 0, { 0 } },
    { "raw 101 ipv4", 101, { 0 }, 0, 4, ETHERTYPE_IPV4, 0, { 0 } },
    { "raw 101 ipv6", 101, { 0 }, 0, 6, ETHERTYPE_IPV6, 0, { 0 } },
    { "ipv4 228", 228, { 0 }, 0, 4, ETHERTYPE_IPV4, 0, { 0 } },
    { "ipv6 229", 229, { 0 }, 0, 6, ETHERTYPE_IPV6, 0, { 0 } },
    { "null family 2 le", 0, { 2, 0, 0, 0 }, 4, 4, ETHERTYPE_IPV4, 0, { 0 } },
    { "null family 2 be", 0, { 0, 0, 0, 2 }, 4, 4, ETHERTYPE_IPV4, 0, { 0 } },
    { "null family 10 le", 0, { 10, 0, 0, 0 }, 4, 6, ETHERTYPE_IPV6, 0, { 0 } },
    { "null family 10 be", 0, { 0, 0, 0, 10 }, 4, 6, ETHERTYPE_IPV6, 0, { 0 } },
    { "null family 24 le", 0, { 24, 0, 0, 0 }, 4, 6, ETHERTYPE_IPV6, 0, { 0 } },
    { "null family 24 be", 0, { 0, 0, 0, 24 }, 4, 6, ETHERTYPE_IPV6, 0, { 0 } },
    { "null family 28 le", 0, { 28, 0, 0, 0 }, 4, 6, ETHERTYPE_IPV6, 0, { 0 } },
    { "null family 28 be", 0, { 0, 0, 0, 28 }, 4, 6, ETHERTYPE_IPV6, 0, { 0 } },
    { "null family 30 le", 0, { 30, 0, 0, 0 }, 4, 6, ETHERTYPE_IPV6, 0, { 0 } },
    { "null family 30 be", 0, { 0, 0, 0, 30 }, 4, 6, ETHERTYPE_IPV6, 0, { 0 } },
    { "loop family 2", 108, { 0, 0, 0, 2 }, 4, 4, ETHERTYPE_IPV4, 0, { 0 } },
    { "loop family 24", 108, { 0, 0, 0, 24 }, 4, 6, ETHERTYPE_IPV6, 0, { 0 } },
    { "loop family 28", 108, { 0, 0, 0, 28 }, 4, 6, ETHERTYPE_IPV6, 0, { 0 } },
    { "loop family 30", 108, { 0, 0, 0, 30 }, 4, 6, ETHERTYPE_IPV6, 0, { 0 } },
    { "loop family 2 swapped", 108, { 2, 0, 0, 0 }, 4, 4, ETHERTYPE_IPV4, 0, { 0 } },
};

/* Puts header + a small IP packet into buf; returns the frame length. */
static size_t build_link_frame(const link_case_t *lc, uint8_t *buf)
{
    memcpy(buf, lc->header, lc->header_len);
    uint8_t *ip = buf + lc->header_len;
    size_t n;
    if (lc->ip_version == 4) {
        n = put_ipv4(ip, 5, 28, 1, 0, IPPROTO_NUM_UDP, 0x0a000001, 0x0a000002);
        n += put_udp(ip + n, 1000, 2000, 8);
    } else {
        n = put_ipv6(ip, 8, IPPROTO_NUM_UDP);
        n += put_udp(ip + n, 1000, 2000, 8);
    }
    return lc->header_len + n;
}

static void test_link_supported_types(void)
{
    for (size_t i = 0; i < G_N_ELEMENTS(link_ok_cases); i++) {
        const link_case_t *lc = &link_ok_cases[i];
        uint8_t buf[128];
        size_t len = build_link_frame(lc, buf);
        link_result_t out;
        memset(&out, 0xcc, sizeof(out));
        decode_status_t st = decode_link(lc->linktype, span(buf, len), &out);
        if (st != DECODE_OK) {
            g_test_fail_printf("%s: status %s", lc->name, decode_status_name(st));
            continue;
        }
        g_assert_true(decode_linktype_supported(lc->linktype));
        g_assert_cmpuint(out.ethertype, ==, lc->ethertype);
        g_assert_true(out.network.ptr == buf + lc->header_len);
        g_assert_cmpuint(out.network.len, ==, len - lc->header_len);
        if (out.vlan_count != lc->vlan_count)
            g_test_fail_printf("%s: %u tags, expected %u", lc->name, out.vlan_count, lc->vlan_count);
        for (unsigned k = 0; k < lc->vlan_count; k++)
            g_assert_cmpuint(out.vlan[k], ==, lc->vlan[k]);
        /* and the network layer then decodes */
        ip_result_t ip;
        g_assert_cmpint(decode_ip(out.ethertype, out.network, &ip), ==, DECODE_OK);
        g_assert_cmpuint(ip.protocol, ==, IPPROTO_NUM_UDP);
    }
}

/* Every prefix of every supported frame: shorter than the link header is
 * TRUNCATED; from there on the network span is what follows the header. */
static void test_link_truncated_every_length(void)
{
    for (size_t i = 0; i < G_N_ELEMENTS(link_ok_cases); i++) {
        const link_case_t *lc = &link_ok_cases[i];
        uint8_t full[128];
        size_t len = build_link_frame(lc, full);
        size_t min_len = lc->header_len ? lc->header_len : 1; /* raw IP needs the version */
        for (size_t cut = 0; cut <= len; cut++) {
            /* a fresh heap copy of exactly cut bytes, so ASan sees any overread */
            uint8_t *frame = g_memdup2(full, cut ? cut : 1);
            link_result_t out;
            decode_status_t st = decode_link(lc->linktype, span(frame, cut), &out);
            if (cut < min_len) {
                if (st != DECODE_TRUNCATED)
                    g_test_fail_printf("%s cut at %zu: %s, expected truncated", lc->name, cut,
                            decode_status_name(st));
            } else {
                if (st != DECODE_OK)
                    g_test_fail_printf("%s cut at %zu: %s, expected ok", lc->name, cut,
                                       decode_status_name(st));
                g_assert_cmpuint(out.network.len, ==, cut - lc->header_len);
                g_assert_true(inside(out.network, frame, cut));
            }
            g_free(frame);
        }
    }
}

static void test_link_malformed_and_unsupported(void)
{
    static const struct {
        const char *name;
        int linktype;
        uint8_t bytes[48];
        size_t len;
        decode_status_t status;
    } cases[] = {
        { "five tags", 1,
          { [12] = 0x88, 0xa8, 0x00, 0x01, 0x81, 0x00, 0x00, 0x02, 0x81, 0x00, 0x00, 0x03, 0x81,
            0x00, 0x00, 0x04, 0x81, 0x00, 0x00, 0x05, 0x08, 0x00, 0x45 },
          35, DECODE_MALFORMED },
        { "six tags", 1,
          { [12] = 0x81, 0x00, 0, 1, 0x81, 0x00, 0, 2, 0x81, 0x00, 0, 3, 0x81, 0x00, 0, 4, 0x81, 0x00,
            0, 5, 0x81, 0x00, 0, 6, 0x08, 0x00 },
          38, DECODE_MALFORMED },
        { "ethernet arp", 1, { [12] = 0x08, 0x06, 0, 1 }, 16, DECODE_UNSUPPORTED },
        { "ethernet 802.3 length", 1, { [12] = 0x05, 0xdc, 0xaa, 0xaa, 0x03 }, 17,
          DECODE_UNSUPPORTED },
        { "vlan then arp", 1, { [12] = 0x81, 0x00, 0x00, 0x01, 0x08, 0x06 }, 18, DECODE_UNSUPPORTED },
        { "sll arp", 113, { [14] = 0x08, 0x06 }, 16, DECODE_UNSUPPORTED },
        { "sll2 arp", 276, { 0x08, 0x06 }, 20, DECODE_UNSUPPORTED },
        { "raw version 5", 101, { 0x50, 0 }, 2, DECODE_UNSUPPORTED },
        { "raw version 0", 12, { 0x00 }, 1, DECODE_UNSUPPORTED },
        { "null family 7", 0, { 7, 0, 0, 0, 0x45 }, 5, DECODE_UNSUPPORTED },
        { "null family 0", 0, { 0, 0, 0, 0, 0x45 }, 5, DECODE_UNSUPPORTED },
        { "loop family 23", 108, { 0, 0, 0, 23, 0x45 }, 5, DECODE_UNSUPPORTED },
        { "802.11", 105, { 0x08, 0x00 }, 2, DECODE_UNSUPPORTED },
        { "radiotap", 127, { 0 }, 8, DECODE_UNSUPPORTED },
        { "negative", -1, { 0x45 }, 1, DECODE_UNSUPPORTED },
        { "large", 65536 + 1, { [12] = 0x08, 0x00 }, 14, DECODE_UNSUPPORTED },
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        link_result_t out;
        decode_status_t st = decode_link(cases[i].linktype, span(cases[i].bytes, cases[i].len), &out);
        if (st != cases[i].status)
            g_test_fail_printf("%s: %s, expected %s", cases[i].name, decode_status_name(st),
                    decode_status_name(cases[i].status));
    }
    static const int unsupported[] = { -1, 2, 6, 9, 105, 127, 192, 230, 275, 277, 100000 };
    for (size_t i = 0; i < G_N_ELEMENTS(unsupported); i++)
        g_assert_false(decode_linktype_supported(unsupported[i]));
    static const int supported[] = { 0, 1, 12, 14, 101, 108, 113, 228, 229, 276 };
    for (size_t i = 0; i < G_N_ELEMENTS(supported); i++)
        g_assert_true(decode_linktype_supported(supported[i]));
}

static void test_link_null_frame(void)
{
    link_result_t out;
    g_assert_cmpint(decode_link(1, span(NULL, 0), &out), ==, DECODE_TRUNCATED);
    g_assert_cmpint(decode_link(101, span(NULL, 0), &out), ==, DECODE_TRUNCATED);
    g_assert_cmpint(decode_link(0, span(NULL, 10), &out), ==, DECODE_TRUNCATED);
    g_assert_cmpstr(decode_status_name(DECODE_OK), ==, "ok");
    g_assert_cmpstr(decode_status_name(DECODE_TRUNCATED), ==, "truncated");
    g_assert_cmpstr(decode_status_name(DECODE_MALFORMED), ==, "malformed");
    g_assert_cmpstr(decode_status_name(DECODE_UNSUPPORTED), ==, "unsupported");
}

/* ---- decode_ip: IPv4 ----------------------------------------------------- */

static void test_ipv4_basic_and_options(void)
{
    static const unsigned ihls[] = { 5, 6, 8, 15 };
    for (size_t i = 0; i < G_N_ELEMENTS(ihls); i++) {
        uint8_t buf[128];
        size_t hl = (size_t)ihls[i] * 4;
        size_t total = hl + 12;
        put_ipv4(buf, ihls[i], (uint16_t)total, 0x1234, 0x4000 /* DF */, IPPROTO_NUM_TCP,
                 0xc0a80001, 0xc0a80102);
        for (size_t k = 0; k < 12; k++)
            buf[hl + k] = (uint8_t)(0x70 + k);
        ip_result_t ip;
        g_assert_cmpint(decode_ip(ETHERTYPE_IPV4, span(buf, total), &ip), ==, DECODE_OK);
        g_assert_cmpuint(ip.src.family, ==, 4);
        g_assert_cmpuint(ip.dst.family, ==, 4);
        static const uint8_t src[4] = { 192, 168, 0, 1 }, dst[4] = { 192, 168, 1, 2 };
        g_assert_cmpmem(ip.src.bytes, 4, src, 4);
        g_assert_cmpmem(ip.dst.bytes, 4, dst, 4);
        g_assert_cmpuint(ip.protocol, ==, IPPROTO_NUM_TCP);
        g_assert_cmpuint(ip.ttl, ==, 64);
        g_assert_true(ip.payload.ptr == buf + hl);
        g_assert_cmpuint(ip.payload.len, ==, 12);
        g_assert_cmpmem(ip.payload.ptr, ip.payload.len, buf + hl, 12);
        g_assert_true(ip.header_and_payload.ptr == buf);
        g_assert_cmpuint(ip.header_and_payload.len, ==, total);
        g_assert_false(ip.payload_truncated);
        g_assert_false(ip.is_fragment); /* DF is not a fragment */
        g_assert_false(ip.more_fragments);
        g_assert_cmpuint(ip.fragment_offset, ==, 0);
    }
}

static void test_ipv4_padding_trimmed(void)
{
    /* A 60-byte Ethernet minimum frame holding a 40-byte datagram. */
    uint8_t frame[60];
    memset(frame, 0xee, sizeof(frame));
    size_t n = put_ipv4(frame, 5, 40, 7, 0, IPPROTO_NUM_TCP, 0x0a000001, 0x0a000002);
    put_tcp(frame + n, 1, 2, 3, 4, 5, TCP_FLAG_ACK, 100);
    ip_result_t ip;
    g_assert_cmpint(decode_ip(ETHERTYPE_IPV4, span(frame, sizeof(frame)), &ip), ==, DECODE_OK);
    g_assert_cmpuint(ip.header_and_payload.len, ==, 40);
    g_assert_cmpuint(ip.payload.len, ==, 20);
    g_assert_false(ip.payload_truncated);
    tcp_result_t tcp;
    g_assert_cmpint(decode_tcp(ip.payload, &tcp), ==, DECODE_OK);
    g_assert_cmpuint(tcp.payload.len, ==, 0); /* the padding is not TCP data */
}

static void test_ipv4_longer_than_captured(void)
{
    uint8_t buf[64];
    size_t n = put_ipv4(buf, 5, 1500, 7, 0, IPPROTO_NUM_UDP, 1, 2);
    memset(buf + n, 0x55, sizeof(buf) - n);
    ip_result_t ip;
    g_assert_cmpint(decode_ip(ETHERTYPE_IPV4, span(buf, sizeof(buf)), &ip), ==, DECODE_OK);
    g_assert_true(ip.payload_truncated);
    g_assert_cmpuint(ip.header_and_payload.len, ==, sizeof(buf));
    g_assert_cmpuint(ip.payload.len, ==, sizeof(buf) - 20);
    g_assert_true(inside(ip.payload, buf, sizeof(buf)));
}

static void test_ipv4_bad_headers(void)
{
    static const struct {
        const char *name;
        uint8_t ver_ihl;
        uint16_t total_len;
        size_t captured;
        decode_status_t status;
    } cases[] = {
        { "ihl 0", 0x40, 40, 40, DECODE_MALFORMED },
        { "ihl 4", 0x44, 40, 40, DECODE_MALFORMED },
        { "total below header", 0x45, 19, 40, DECODE_MALFORMED },
        { "total below options", 0x46, 22, 40, DECODE_MALFORMED },
        { "version 6 in ipv4", 0x65, 40, 40, DECODE_MALFORMED },
        { "version 0", 0x05, 40, 40, DECODE_MALFORMED },
        { "options not captured", 0x4f, 60, 40, DECODE_TRUNCATED },
        { "options cut by one", 0x46, 24, 23, DECODE_TRUNCATED },
        { "total exactly header", 0x45, 20, 20, DECODE_OK },
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        uint8_t *buf = g_malloc0(cases[i].captured);
        put_ipv4(buf, 5, cases[i].total_len, 1, 0, 6, 1, 2);
        buf[0] = cases[i].ver_ihl;
        ip_result_t ip;
        decode_status_t st = decode_ip(ETHERTYPE_IPV4, span(buf, cases[i].captured), &ip);
        if (st != cases[i].status)
            g_test_fail_printf("%s: %s, expected %s", cases[i].name, decode_status_name(st),
                    decode_status_name(cases[i].status));
        g_free(buf);
    }
}

static void test_ipv4_truncated_every_length(void)
{
    uint8_t full[20];
    put_ipv4(full, 5, 20, 1, 0, 6, 1, 2);
    for (size_t cut = 0; cut < sizeof(full); cut++) {
        uint8_t *buf = g_memdup2(full, cut ? cut : 1);
        ip_result_t ip;
        g_assert_cmpint(decode_ip(ETHERTYPE_IPV4, span(buf, cut), &ip), ==, DECODE_TRUNCATED);
        g_free(buf);
    }
}

static void test_ipv4_fragments(void)
{
    static const struct {
        uint16_t frag_field;
        bool is_fragment;
        bool more;
        uint32_t offset;
    } cases[] = {
        { 0x0000, false, false, 0 },
        { 0x4000, false, false, 0 },         /* DF */
        { 0x2000, true, true, 0 },           /* first fragment */
        { 0x20b9, true, true, 185 * 8 },     /* middle */
        { 0x00b9, true, false, 185 * 8 },    /* last */
        { 0x1fff, true, false, 0x1fff * 8 }, /* largest offset */
        { 0x8001, true, false, 8 },          /* reserved bit ignored */
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        uint8_t buf[36];
        size_t n = put_ipv4(buf, 5, sizeof(buf), 0xbeef, cases[i].frag_field, IPPROTO_NUM_UDP,
                            0x01020304, 0x05060708);
        memset(buf + n, 0x11, sizeof(buf) - n);
        ip_result_t ip;
        g_assert_cmpint(decode_ip(ETHERTYPE_IPV4, span(buf, sizeof(buf)), &ip), ==, DECODE_OK);
        g_assert_cmpint(ip.is_fragment, ==, cases[i].is_fragment);
        g_assert_cmpint(ip.more_fragments, ==, cases[i].more);
        g_assert_cmpuint(ip.fragment_offset, ==, cases[i].offset);
        g_assert_cmpuint(ip.fragment_id, ==, 0xbeef);
        g_assert_cmpuint(ip.payload.len, ==, 16);
        g_assert_cmpuint(ip.protocol, ==, IPPROTO_NUM_UDP);
    }
}

static void test_ip_unsupported_ethertype(void)
{
    uint8_t buf[40];
    put_ipv4(buf, 5, 40, 1, 0, 6, 1, 2);
    ip_result_t ip;
    g_assert_cmpint(decode_ip(0x0806, span(buf, sizeof(buf)), &ip), ==, DECODE_UNSUPPORTED);
    g_assert_cmpint(decode_ip(0, span(buf, sizeof(buf)), &ip), ==, DECODE_UNSUPPORTED);
}

/* ---- decode_ip: IPv6 ----------------------------------------------------- */

static void test_ipv6_basic(void)
{
    uint8_t buf[80];
    size_t n = put_ipv6(buf, 20, IPPROTO_NUM_TCP);
    n += put_tcp(buf + n, 443, 5555, 1, 2, 5, TCP_FLAG_SYN, 1);
    ip_result_t ip;
    g_assert_cmpint(decode_ip(ETHERTYPE_IPV6, span(buf, n), &ip), ==, DECODE_OK);
    g_assert_cmpuint(ip.src.family, ==, 6);
    g_assert_cmpuint(ip.src.bytes[0], ==, 0x20);
    g_assert_cmpuint(ip.src.bytes[15], ==, 1);
    g_assert_cmpuint(ip.dst.bytes[15], ==, 2);
    g_assert_cmpuint(ip.protocol, ==, IPPROTO_NUM_TCP);
    g_assert_cmpuint(ip.ttl, ==, 57);
    g_assert_true(ip.payload.ptr == buf + 40);
    g_assert_cmpuint(ip.payload.len, ==, 20);
    g_assert_cmpuint(ip.header_and_payload.len, ==, 60);
    g_assert_false(ip.is_fragment);
    g_assert_cmpuint(ip.extension_headers, ==, 0);

    /* padding after the payload length is trimmed */
    uint8_t padded[100];
    memset(padded, 0xee, sizeof(padded));
    memcpy(padded, buf, n);
    g_assert_cmpint(decode_ip(ETHERTYPE_IPV6, span(padded, sizeof(padded)), &ip), ==, DECODE_OK);
    g_assert_cmpuint(ip.payload.len, ==, 20);
    g_assert_false(ip.payload_truncated);

    /* a payload length beyond the capture */
    put16(buf + 4, 1000);
    g_assert_cmpint(decode_ip(ETHERTYPE_IPV6, span(buf, n), &ip), ==, DECODE_OK);
    g_assert_true(ip.payload_truncated);
    g_assert_cmpuint(ip.payload.len, ==, 20);
    g_assert_cmpuint(ip.header_and_payload.len, ==, n);

    /* version 4 under the IPv6 ethertype */
    buf[0] = 0x45;
    g_assert_cmpint(decode_ip(ETHERTYPE_IPV6, span(buf, n), &ip), ==, DECODE_MALFORMED);

    /* every length below the fixed header */
    uint8_t full[40];
    put_ipv6(full, 0, 59);
    for (size_t cut = 0; cut < sizeof(full); cut++) {
        uint8_t *p = g_memdup2(full, cut ? cut : 1);
        g_assert_cmpint(decode_ip(ETHERTYPE_IPV6, span(p, cut), &ip), ==, DECODE_TRUNCATED);
        g_free(p);
    }
}

static void test_ipv6_extension_chain(void)
{
    uint8_t buf[256];
    size_t n = 40;
    n += put_ext(buf + n, 43, 0);                 /* hop-by-hop, 8 bytes -> routing */
    n += put_ext(buf + n, 60, 2);                 /* routing, 24 bytes -> destination options */
    n += put_ext(buf + n, 51, 1);                 /* destination options, 16 bytes -> AH */
    n += put_ah(buf + n, IPPROTO_NUM_TCP, 4);     /* AH, 24 bytes -> TCP */
    size_t upper = n;
    n += put_tcp(buf + n, 1, 2, 3, 4, 5, TCP_FLAG_ACK, 9);
    memcpy(buf + n, "data", 4);
    n += 4;
    put_ipv6(buf, (uint16_t)(n - 40), 0);
    g_assert_cmpuint(upper, ==, 40 + 8 + 24 + 16 + 24);

    ip_result_t ip;
    g_assert_cmpint(decode_ip(ETHERTYPE_IPV6, span(buf, n), &ip), ==, DECODE_OK);
    g_assert_cmpuint(ip.protocol, ==, IPPROTO_NUM_TCP);
    g_assert_cmpuint(ip.extension_headers, ==, 4);
    g_assert_false(ip.is_fragment);
    g_assert_true(ip.payload.ptr == buf + upper);
    g_assert_cmpuint(ip.payload.len, ==, n - upper);
    tcp_result_t tcp;
    g_assert_cmpint(decode_tcp(ip.payload, &tcp), ==, DECODE_OK);
    g_assert_cmpmem(tcp.payload.ptr, tcp.payload.len, "data", 4);

    /* Cut anywhere inside the extension headers: truncated, never a read
     * past the capture. */
    for (size_t cut = 41; cut < upper; cut++) {
        uint8_t *p = g_memdup2(buf, cut);
        g_assert_cmpint(decode_ip(ETHERTYPE_IPV6, span(p, cut), &ip), ==, DECODE_TRUNCATED);
        g_free(p);
    }
    /* The payload length ends the datagram inside the chain: truncated too. */
    put16(buf + 4, 20);
    g_assert_cmpint(decode_ip(ETHERTYPE_IPV6, span(buf, n), &ip), ==, DECODE_TRUNCATED);
}

static void test_ipv6_fragment_header(void)
{
    static const struct {
        uint32_t offset;
        bool more;
        bool is_fragment;
    } cases[] = {
        { 0, true, true },
        { 1448, true, true },
        { 1448, false, true },
        { 65528, false, true },
        { 0, false, false }, /* atomic fragment: parsing goes on */
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        uint8_t buf[128];
        size_t n = 40;
        n += put_ext(buf + n, 44, 0);                                     /* hop-by-hop */
        n += put_frag6(buf + n, IPPROTO_NUM_UDP, cases[i].offset, cases[i].more, 0xdeadbeef);
        size_t after = n;
        n += put_udp(buf + n, 53, 53, 12);
        memcpy(buf + n, "abcd", 4);
        n += 4;
        put_ipv6(buf, (uint16_t)(n - 40), 0);
        ip_result_t ip;
        g_assert_cmpint(decode_ip(ETHERTYPE_IPV6, span(buf, n), &ip), ==, DECODE_OK);
        g_assert_cmpint(ip.is_fragment, ==, cases[i].is_fragment);
        g_assert_cmpuint(ip.protocol, ==, IPPROTO_NUM_UDP);
        g_assert_cmpuint(ip.extension_headers, ==, 2);
        g_assert_true(ip.payload.ptr == buf + after);
        g_assert_cmpuint(ip.payload.len, ==, n - after);
        if (cases[i].is_fragment) {
            g_assert_cmpuint(ip.fragment_offset, ==, cases[i].offset);
            g_assert_cmpint(ip.more_fragments, ==, cases[i].more);
            g_assert_cmpuint(ip.fragment_id, ==, 0xdeadbeef);
        }
    }
    /* Headers after the fragment header of a non-first fragment belong to
     * the reassembled datagram and are not parsed: the fragment header's
     * next-header value is the protocol. */
    uint8_t buf[96];
    size_t n = 40;
    n += put_frag6(buf + n, 60, 8, true, 7);
    memset(buf + n, 0xff, 16); /* not a valid destination options header */
    n += 16;
    put_ipv6(buf, (uint16_t)(n - 40), 44);
    ip_result_t ip;
    g_assert_cmpint(decode_ip(ETHERTYPE_IPV6, span(buf, n), &ip), ==, DECODE_OK);
    g_assert_true(ip.is_fragment);
    g_assert_cmpuint(ip.protocol, ==, 60);
    g_assert_cmpuint(ip.fragment_offset, ==, 8);
    g_assert_cmpuint(ip.payload.len, ==, 16);
    /* a fragment header cut short */
    for (size_t cut = 41; cut < 48; cut++)
        g_assert_cmpint(decode_ip(ETHERTYPE_IPV6, span(buf, cut), &ip), ==, DECODE_TRUNCATED);
}

static size_t build_chain(uint8_t *buf, unsigned headers)
{
    size_t n = 40;
    for (unsigned i = 0; i < headers; i++)
        n += put_ext(buf + n, i + 1 < headers ? 60 : IPPROTO_NUM_UDP, 0);
    n += put_udp(buf + n, 1, 2, 8);
    put_ipv6(buf, (uint16_t)(n - 40), headers ? 60 : IPPROTO_NUM_UDP);
    return n;
}

static void test_ipv6_chain_too_long(void)
{
    uint8_t buf[40 + 64 * 8 + 8];
    ip_result_t ip;
    /* A long but finite chain decodes ... */
    size_t n = build_chain(buf, 8);
    g_assert_cmpint(decode_ip(ETHERTYPE_IPV6, span(buf, n), &ip), ==, DECODE_OK);
    g_assert_cmpuint(ip.extension_headers, ==, 8);
    g_assert_cmpuint(ip.protocol, ==, IPPROTO_NUM_UDP);
    /* ... an absurd one is refused. */
    n = build_chain(buf, 64);
    g_assert_cmpint(decode_ip(ETHERTYPE_IPV6, span(buf, n), &ip), ==, DECODE_MALFORMED);
    /* The limit is somewhere, and every length above it is refused too. */
    bool refused = false;
    for (unsigned h = 0; h <= 64; h++) {
        n = build_chain(buf, h);
        decode_status_t st = decode_ip(ETHERTYPE_IPV6, span(buf, n), &ip);
        if (refused)
            g_assert_cmpint(st, ==, DECODE_MALFORMED);
        else if (st == DECODE_MALFORMED)
            refused = true;
        else
            g_assert_cmpint(st, ==, DECODE_OK);
    }
    g_assert_true(refused);
}

/* ---- decode_tcp / decode_udp --------------------------------------------- */

static void test_tcp_header(void)
{
    static const struct {
        unsigned data_off;
        size_t payload;
        uint8_t flags;
    } cases[] = {
        { 5, 0, TCP_FLAG_SYN },
        { 5, 10, TCP_FLAG_ACK | TCP_FLAG_PSH },
        { 6, 3, TCP_FLAG_FIN | TCP_FLAG_ACK },
        { 8, 1, TCP_FLAG_SYN | TCP_FLAG_ACK },
        { 15, 7, TCP_FLAG_RST | TCP_FLAG_URG },
        { 15, 0, 0xff },
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        uint8_t buf[128];
        size_t n = put_tcp(buf, 49152, 3804, 0xfffffff0u, 0x80000001u, cases[i].data_off,
                           cases[i].flags, 0xabcd);
        for (size_t k = 0; k < cases[i].payload; k++)
            buf[n + k] = (uint8_t)k;
        size_t total = n + cases[i].payload;
        tcp_result_t tcp;
        g_assert_cmpint(decode_tcp(span(buf, total), &tcp), ==, DECODE_OK);
        g_assert_cmpuint(tcp.src_port, ==, 49152);
        g_assert_cmpuint(tcp.dst_port, ==, 3804);
        g_assert_cmpuint(tcp.seq, ==, 0xfffffff0u);
        g_assert_cmpuint(tcp.ack, ==, 0x80000001u);
        g_assert_cmpuint(tcp.flags, ==, cases[i].flags);
        g_assert_cmpuint(tcp.window, ==, 0xabcd);
        g_assert_cmpuint(tcp.payload.len, ==, cases[i].payload);
        if (cases[i].payload)
            g_assert_true(tcp.payload.ptr == buf + (size_t)cases[i].data_off * 4);
        /* every shorter capture */
        for (size_t cut = 0; cut < (size_t)cases[i].data_off * 4; cut++) {
            uint8_t *p = g_memdup2(buf, cut ? cut : 1);
            g_assert_cmpint(decode_tcp(span(p, cut), &tcp), ==, DECODE_TRUNCATED);
            g_free(p);
        }
    }
    /* data offsets below 5 words */
    for (unsigned off = 0; off < 5; off++) {
        uint8_t buf[40];
        put_tcp(buf, 1, 2, 3, 4, off, 0, 0);
        tcp_result_t tcp;
        g_assert_cmpint(decode_tcp(span(buf, sizeof(buf)), &tcp), ==, DECODE_MALFORMED);
    }
}

static void test_udp_lengths(void)
{
    static const struct {
        const char *name;
        uint16_t length;
        size_t captured_body;
        decode_status_t status;
        size_t payload;
    } cases[] = {
        { "exact", 8 + 10, 10, DECODE_OK, 10 },
        { "empty", 8, 0, DECODE_OK, 0 },
        { "padding trimmed", 8 + 4, 30, DECODE_OK, 4 },
        { "length zero takes all", 0, 12, DECODE_OK, 12 },
        { "longer than captured", 8 + 100, 20, DECODE_OK, 20 },
        { "length 1", 1, 10, DECODE_MALFORMED, 0 },
        { "length 7", 7, 10, DECODE_MALFORMED, 0 },
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        uint8_t buf[64];
        memset(buf, 0x33, sizeof(buf));
        put_udp(buf, 5060, 5061, cases[i].length);
        udp_result_t udp;
        decode_status_t st = decode_udp(span(buf, 8 + cases[i].captured_body), &udp);
        if (st != cases[i].status)
            g_test_fail_printf("%s: %s", cases[i].name, decode_status_name(st));
        if (st != DECODE_OK)
            continue;
        g_assert_cmpuint(udp.src_port, ==, 5060);
        g_assert_cmpuint(udp.dst_port, ==, 5061);
        g_assert_cmpuint(udp.payload.len, ==, cases[i].payload);
        g_assert_true(inside(udp.payload, buf, 8 + cases[i].captured_body));
    }
    for (size_t cut = 0; cut < 8; cut++) {
        uint8_t full[8];
        put_udp(full, 1, 2, 8);
        uint8_t *p = g_memdup2(full, cut ? cut : 1);
        udp_result_t udp;
        g_assert_cmpint(decode_udp(span(p, cut), &udp), ==, DECODE_TRUNCATED);
        g_free(p);
    }
}

/* ---- ip_addr_format / ip_addr_compare ------------------------------------ */

static ip_addr_t v6(const uint16_t groups[8])
{
    ip_addr_t a;
    memset(&a, 0, sizeof(a));
    a.family = 6;
    for (int i = 0; i < 8; i++) {
        a.bytes[2 * i] = (uint8_t)(groups[i] >> 8);
        a.bytes[2 * i + 1] = (uint8_t)groups[i];
    }
    return a;
}

static void test_format_ipv4(void)
{
    static const struct {
        uint8_t b[4];
        const char *text;
    } cases[] = {
        { { 0, 0, 0, 0 }, "0.0.0.0" },
        { { 10, 1, 1, 20 }, "10.1.1.20" },
        { { 255, 255, 255, 255 }, "255.255.255.255" },
        { { 192, 0, 2, 1 }, "192.0.2.1" },
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        ip_addr_t a;
        memset(&a, 0, sizeof(a));
        a.family = 4;
        memcpy(a.bytes, cases[i].b, 4);
        char out[IP_ADDR_TEXT_MAX];
        ip_addr_format(&a, out, sizeof(out));
        g_assert_cmpstr(out, ==, cases[i].text);
    }
}

static const struct {
    uint16_t g[8];
    const char *text;
} v6_cases[] = {
    { { 0, 0, 0, 0, 0, 0, 0, 1 }, "::1" },
    { { 0, 0, 0, 0, 0, 0, 0, 0 }, "::" },
    { { 0x2001, 0xdb8, 0, 0, 0, 0, 0, 1 }, "2001:db8::1" },
    { { 0xfe80, 0, 0, 0, 1, 2, 3, 4 }, "fe80::1:2:3:4" },
    { { 0, 0, 0, 0, 0, 0xffff, 0x0102, 0x0304 }, "::ffff:1.2.3.4" },
    { { 0, 0, 0, 0, 0, 0xffff, 0xc000, 0x0201 }, "::ffff:192.0.2.1" },
    { { 0x2001, 0xdb8, 0, 0, 1, 0, 0, 1 }, "2001:db8::1:0:0:1" },   /* tie: first run */
    { { 0x2001, 0, 0, 1, 0, 0, 0, 1 }, "2001:0:0:1::1" },           /* longer run later */
    { { 0x2001, 0xdb8, 0, 1, 1, 1, 1, 1 }, "2001:db8:0:1:1:1:1:1" }, /* one zero group stays */
    { { 0x2001, 0xdb8, 0, 0, 0, 0, 0, 0 }, "2001:db8::" },
    { { 1, 0, 0, 0, 0, 0, 0, 0 }, "1::" },
    { { 0x2001, 0x0db8, 0x00ab, 0xcdef, 0xABCD, 0x0001, 0x0010, 0x0100 },
      "2001:db8:ab:cdef:abcd:1:10:100" },
    { { 1, 2, 3, 4, 5, 6, 7, 8 }, "1:2:3:4:5:6:7:8" },
    { { 0xffff, 0xffff, 0xffff, 0xffff, 0xffff, 0xffff, 0xffff, 0xffff },
      "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff" },
    { { 0, 0, 1, 0, 0, 0, 1, 0 }, "0:0:1::1:0" },
    { { 0, 1, 0, 0, 0, 0, 0, 0 }, "0:1::" },
};

static void test_format_ipv6_rfc5952(void)
{
    for (size_t i = 0; i < G_N_ELEMENTS(v6_cases); i++) {
        ip_addr_t a = v6(v6_cases[i].g);
        char out[IP_ADDR_TEXT_MAX];
        memset(out, 'x', sizeof(out));
        ip_addr_format(&a, out, sizeof(out));
        if (strcmp(out, v6_cases[i].text) != 0)
            g_test_message("case %zu: got \"%s\", expected \"%s\"", i, out, v6_cases[i].text);
        g_assert_cmpstr(out, ==, v6_cases[i].text);
    }
}

/* The system's inet_ntop as a second opinion, on addresses with many zero
 * groups.  Addresses whose first six groups are zero are left out: inet_ntop
 * writes some of them as IPv4-compatible, a form RFC 5952 does not ask for;
 * IPv4-mapped ones have their own cases in the table above. */
static void test_format_ipv6_against_inet_ntop(void)
{
    GRand *rand = g_rand_new_with_seed(5952);
    for (int iter = 0; iter < 20000; iter++) {
        uint16_t g[8];
        for (int k = 0; k < 8; k++)
            g[k] = g_rand_int_range(rand, 0, 3) ? 0 : (uint16_t)g_rand_int_range(rand, 1, 0x10000);
        if (!g[0] && !g[1] && !g[2] && !g[3] && !g[4] && (!g[5] || g[5] == 0xffff))
            continue; /* IPv4-compatible and IPv4-mapped: see format-ipv6-rfc5952 */
        ip_addr_t a = v6(g);
        char ours[IP_ADDR_TEXT_MAX], theirs[INET6_ADDRSTRLEN];
        ip_addr_format(&a, ours, sizeof(ours));
        g_assert_nonnull(inet_ntop(AF_INET6, a.bytes, theirs, sizeof(theirs)));
        if (strcmp(ours, theirs) != 0) {
            g_test_fail_printf("%04x:%04x:%04x:%04x:%04x:%04x:%04x:%04x: \"%s\", inet_ntop \"%s\"",
                               g[0], g[1], g[2], g[3], g[4], g[5], g[6], g[7], ours, theirs);
            break;
        }
    }
    g_rand_free(rand);
}

/* A short buffer gets a terminated prefix of the text, never more. */
static void test_format_short_buffer(void)
{
    static const uint16_t g[8] = { 0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x1 };
    ip_addr_t a = v6(g);
    const char *full = "2001:db8::1";
    for (size_t len = 1; len <= strlen(full) + 1; len++) {
        char *out = g_malloc(len);
        ip_addr_format(&a, out, len);
        g_assert_cmpuint(strlen(out), <, len);
        g_assert_true(strncmp(out, full, strlen(out)) == 0);
        if (len == strlen(full) + 1)
            g_assert_cmpstr(out, ==, full);
        g_free(out);
    }
    ip_addr_t v4;
    memset(&v4, 0, sizeof(v4));
    v4.family = 4;
    v4.bytes[0] = 172;
    v4.bytes[3] = 99;
    char small[6];
    ip_addr_format(&v4, small, sizeof(small));
    g_assert_cmpstr(small, ==, "172.0");
    char untouched = 'z';
    ip_addr_format(&v4, &untouched, 0);
    g_assert_cmpint(untouched, ==, 'z');
}

static void test_addr_compare(void)
{
    ip_addr_t a, b;
    memset(&a, 0, sizeof(a));
    memset(&b, 0, sizeof(b));
    a.family = 4;
    b.family = 4;
    a.bytes[3] = 1;
    b.bytes[3] = 2;
    g_assert_cmpint(ip_addr_compare(&a, &b), <, 0);
    g_assert_cmpint(ip_addr_compare(&b, &a), >, 0);
    g_assert_cmpint(ip_addr_compare(&a, &a), ==, 0);
    b.family = 6;
    g_assert_cmpint(ip_addr_compare(&a, &b), <, 0); /* IPv4 before IPv6 */
    g_assert_cmpint(ip_addr_compare(&b, &a), >, 0);
    a.family = 6;
    a.bytes[15] = 9;
    b.bytes[15] = 9;
    a.bytes[3] = 2;
    g_assert_cmpint(ip_addr_compare(&a, &b), ==, 0);
    b.bytes[15] = 10;
    g_assert_cmpint(ip_addr_compare(&a, &b), <, 0);
}

/* Capture times from damaged headers are clamped, never overflowed. */
static void test_packet_time(void)
{
    g_assert_cmpint(packet_time_us(1700000000, 123456), ==, INT64_C(1700000000123456));
    g_assert_cmpint(packet_time_us(0, 0), ==, 0);
    /* a damaged timestamp-high word: 1.8e13 s would overflow 64-bit microseconds */
    int64_t huge = packet_time_us(INT64_C(18446744071112), 5);
    g_assert_cmpint(huge, ==, (INT64_C(1) << 40) * 1000000 + 5);
    g_assert_cmpint(huge + INT64_C(86400) * 1000000 * 365, >, huge); /* room for deadlines */
    g_assert_cmpint(packet_time_us(INT64_MIN, 0), ==, -(INT64_C(1) << 40) * 1000000);
    g_assert_cmpint(packet_time_us(10, 1000000), ==, 10000000); /* microseconds out of range */
    g_assert_cmpint(packet_time_us(10, -1), ==, 10000000);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    /* A failed check marks its test failed and the others still run. */
    g_test_set_nonfatal_assertions();
    g_test_add_func("/decode/link/supported-types", test_link_supported_types);
    g_test_add_func("/decode/link/truncated-every-length", test_link_truncated_every_length);
    g_test_add_func("/decode/link/malformed-and-unsupported", test_link_malformed_and_unsupported);
    g_test_add_func("/decode/link/null-frame", test_link_null_frame);
    g_test_add_func("/decode/ipv4/basic-and-options", test_ipv4_basic_and_options);
    g_test_add_func("/decode/ipv4/padding-trimmed", test_ipv4_padding_trimmed);
    g_test_add_func("/decode/ipv4/longer-than-captured", test_ipv4_longer_than_captured);
    g_test_add_func("/decode/ipv4/bad-headers", test_ipv4_bad_headers);
    g_test_add_func("/decode/ipv4/truncated-every-length", test_ipv4_truncated_every_length);
    g_test_add_func("/decode/ipv4/fragments", test_ipv4_fragments);
    g_test_add_func("/decode/ip/unsupported-ethertype", test_ip_unsupported_ethertype);
    g_test_add_func("/decode/ipv6/basic", test_ipv6_basic);
    g_test_add_func("/decode/ipv6/extension-chain", test_ipv6_extension_chain);
    g_test_add_func("/decode/ipv6/fragment-header", test_ipv6_fragment_header);
    g_test_add_func("/decode/ipv6/chain-too-long", test_ipv6_chain_too_long);
    g_test_add_func("/decode/tcp/header", test_tcp_header);
    g_test_add_func("/decode/udp/lengths", test_udp_lengths);
    g_test_add_func("/decode/addr/format-ipv4", test_format_ipv4);
    g_test_add_func("/decode/addr/format-ipv6-rfc5952", test_format_ipv6_rfc5952);
    g_test_add_func("/decode/addr/format-ipv6-vs-inet-ntop", test_format_ipv6_against_inet_ntop);
    g_test_add_func("/decode/addr/format-short-buffer", test_format_short_buffer);
    g_test_add_func("/decode/addr/compare", test_addr_compare);
    g_test_add_func("/decode/packet-time", test_packet_time);
    return g_test_run();
}
