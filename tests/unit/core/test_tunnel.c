/* Unit tests for dissectors/tunnel.c.  The first cases are tunnel payloads
 * taken byte for byte from a public capture (Arkime's synthetic test
 * capture), where tshark decodes them as noted; the rest are built here to
 * reach the options each header can carry. */
#include "dissectors/tunnel.h"

#include <glib.h>
#include <stdio.h>
#include <string.h>

static size_t from_hex(const char *hex, uint8_t *out, size_t cap)
{
    size_t n = strlen(hex) / 2;
    g_assert_cmpuint(n, <=, cap);
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        g_assert_true(sscanf(hex + 2 * i, "%2x", &v) == 1);
        out[i] = (uint8_t)v;
    }
    return n;
}

typedef struct tunnel_case {
    const char *name;
    bool gre;                  /* else UDP to the port below */
    uint16_t src_port, dst_port;
    const char *hex;
    decode_status_t status;
    tunnel_kind_t kind;
    uint16_t inner_ethertype;
    size_t inner_offset;       /* where the inner IP header starts in the payload */
} tunnel_case_t;

/* An ICMP echo inside: "4500001c..." is where the inner IPv4 header begins. */
static const tunnel_case_t cases[] = {
    { "gre-ipv4 (frame 283)", true, 0, 0,
      "000008004500001c000100004001f78cc0a80101c0a801020800f7ff00000000",
      DECODE_OK, TUNNEL_GRE, ETHERTYPE_IPV4, 4 },
    { "vxlan-ethernet (frame 290)", false, 12345, 4789,
      "0800000000303900942a6fee8c836a70c5aff1f908004500001c000100004001f58cc0a80201c0a802020800f7ff00000000",
      DECODE_OK, TUNNEL_VXLAN, ETHERTYPE_IPV4, 22 },
    { "geneve-ethernet (frame 306)", false, 12345, 6081,
      "0000655800000000942a6fee8c836a70c5aff1f908004500001c000100004001ed8cc0a80601c0a806020800f7ff00000000",
      DECODE_OK, TUNNEL_GENEVE, ETHERTYPE_IPV4, 22 },
    { "vxlan-gpe-ipv4 (frame 618)", false, 40000, 4790,
      "0800000100d4310045000028000100004011f6a5c000020ac00002143039003500144b39000000000000000000000000",
      DECODE_OK, TUNNEL_VXLAN_GPE, ETHERTYPE_IPV4, 8 },
    { "vxlan-gpe answered from the tunnel port (frame 619)", false, 4790, 40000,
      "0800000100d4310045000028000100004011f6a5c000020ac00002143039003500144b39000000000000000000000000",
      DECODE_OK, TUNNEL_VXLAN_GPE, ETHERTYPE_IPV4, 8 },
    { "geneve dns (frame 622)", false, 12345, 6081,
      "0000655812345600aabbcc111102aabbcc11110108004500003900010000401187b70a6f6f0a0a6f6f1414e9003500250000123401000001000000000000076578616d706c6503636f6d0000010001",
      DECODE_OK, TUNNEL_GENEVE, ETHERTYPE_IPV4, 22 },
    /* Built: Geneve with one 8-byte option (option length 2 words). */
    { "geneve with an option", false, 12345, 6081,
      "02006558000001000104010100000000" "020000000001" "020000000002" "0800"
      "4500001c000100004001f78cc0a80101c0a80102",
      DECODE_OK, TUNNEL_GENEVE, ETHERTYPE_IPV4, 30 },
    /* tshark: GRE, ERSPAN, then an 802.3 frame with LLC: not IP. */
    { "erspan-ii with an 802.3 frame (frame 528)", true, 0, 0,
      "100088be0000000110000064942a6fee8c836a70c5aff1f908004500002800010000400620aaac110101ac1101020050303900000000000000005002200005340000",
      DECODE_UNSUPPORTED, TUNNEL_ERSPAN, 0, 0 },
    /* Built: GRE with checksum, key and sequence number before IPv6. */
    { "gre checksum+key+sequence ipv6", true, 0, 0,
      "b00086dd00000000000000070000002a" "6000000000003b40"
      "00000000000000000000000000000001" "00000000000000000000000000000002",
      DECODE_OK, TUNNEL_GRE, ETHERTYPE_IPV6, 16 },
    /* Built: ERSPAN type I (no sequence number, no ERSPAN header). */
    { "erspan-i", true, 0, 0,
      "000088be" "020000000001" "020000000002" "0800" "4500001c000100004001f78cc0a80101c0a80102",
      DECODE_OK, TUNNEL_ERSPAN, ETHERTYPE_IPV4, 18 },
    /* Built: ERSPAN type III with the platform subheader (O bit). */
    { "erspan-iii with subheader", true, 0, 0,
      "100022eb00000005" "20000064" "00000000" "00000001" "0102030405060708"
      "020000000001" "020000000002" "0800" "4500001c000100004001f78cc0a80101c0a80102",
      DECODE_OK, TUNNEL_ERSPAN, ETHERTYPE_IPV4, 42 },
    /* Built: ERSPAN type III carrying an IP frame (frame type 2). */
    { "erspan-iii frame type ip", true, 0, 0,
      "100022eb00000005" "20000064" "00000000" "00000800" "4500001c",
      DECODE_UNSUPPORTED, TUNNEL_ERSPAN, 0, 0 },
    { "gre version 1 (pptp)", true, 0, 0, "3001880b00000000", DECODE_UNSUPPORTED, TUNNEL_GRE, 0, 0 },
    { "gre routing bit", true, 0, 0, "c0000800000000004500", DECODE_UNSUPPORTED, TUNNEL_GRE, 0, 0 },
    { "vxlan without the I flag", false, 1, 4789, "0000000000303900", DECODE_MALFORMED, TUNNEL_VXLAN, 0, 0 },
    { "vxlan-gpe nsh", false, 1, 4790, "0800000400000000", DECODE_UNSUPPORTED, TUNNEL_VXLAN_GPE, 0, 0 },
    { "vxlan-gpe unknown version", false, 1, 4790, "1800000100000000", DECODE_UNSUPPORTED, TUNNEL_VXLAN_GPE, 0, 0 },
    { "geneve version 1", false, 1, 6081, "4000080000000000", DECODE_UNSUPPORTED, TUNNEL_GENEVE, 0, 0 },
    { "geneve options beyond the payload", false, 1, 6081, "3f00080000000000", DECODE_TRUNCATED, TUNNEL_GENEVE, 0, 0 },
};

static decode_status_t run_case(const tunnel_case_t *tc, byte_span_t payload, link_result_t *inner,
                                tunnel_kind_t *kind)
{
    memset(inner, 0xa5, sizeof(*inner));
    if (tc->gre)
        return tunnel_decode_gre(payload, inner, kind);
    g_assert_true(tunnel_udp_ports(tc->src_port, tc->dst_port, kind));
    return tunnel_decode_udp(*kind, payload, inner);
}

static void test_cases(void)
{
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        const tunnel_case_t *tc = &cases[i];
        uint8_t bytes[256];
        size_t len = from_hex(tc->hex, bytes, sizeof bytes);
        link_result_t inner;
        tunnel_kind_t kind = TUNNEL_KIND_COUNT;
        decode_status_t st = run_case(tc, (byte_span_t){ bytes, len }, &inner, &kind);
        if (st != tc->status)
            g_test_fail_printf("%s: %s, expected %s", tc->name, decode_status_name(st),
                               decode_status_name(tc->status));
        g_assert_cmpstr(tunnel_kind_name(kind), ==, tunnel_kind_name(tc->kind));
        if (st != DECODE_OK)
            continue;
        g_assert_cmphex(inner.ethertype, ==, tc->inner_ethertype);
        g_assert_true(inner.network.ptr == bytes + tc->inner_offset);
        g_assert_cmpuint(inner.network.len, ==, len - tc->inner_offset);
    }
}

/* Every prefix of every case that decodes: a heap copy of exactly that many
 * bytes, so AddressSanitizer catches a read past it.  A prefix shorter than
 * the headers must say truncated, never ok or a read beyond the end. */
static void test_truncated_every_length(void)
{
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        const tunnel_case_t *tc = &cases[i];
        if (tc->status != DECODE_OK)
            continue;
        uint8_t full[256];
        size_t len = from_hex(tc->hex, full, sizeof full);
        for (size_t cut = 0; cut < len; cut++) {
            uint8_t *copy = g_memdup2(full, cut ? cut : 1);
            link_result_t inner;
            tunnel_kind_t kind;
            decode_status_t st = run_case(tc, (byte_span_t){ copy, cut }, &inner, &kind);
            if (cut < tc->inner_offset && st != DECODE_TRUNCATED)
                g_test_fail_printf("%s cut at %zu: %s, expected truncated", tc->name, cut,
                                   decode_status_name(st));
            if (cut >= tc->inner_offset && st == DECODE_OK)
                g_assert_cmpuint(inner.network.len, ==, cut - tc->inner_offset);
            g_free(copy);
        }
    }
}

static void test_ports(void)
{
    tunnel_kind_t kind;
    g_assert_true(tunnel_udp_ports(50000, 4789, &kind) && kind == TUNNEL_VXLAN);
    g_assert_true(tunnel_udp_ports(6081, 50000, &kind) && kind == TUNNEL_GENEVE);
    /* The destination decides when both ports are tunnel ports. */
    g_assert_true(tunnel_udp_ports(6081, 4790, &kind) && kind == TUNNEL_VXLAN_GPE);
    g_assert_false(tunnel_udp_ports(53, 50000, &kind));
    for (int k = 0; k <= TUNNEL_KIND_COUNT; k++)
        g_assert_nonnull(tunnel_kind_name((tunnel_kind_t)k));
}

/* Random bytes after a valid tunnel header: whatever the status, the inner
 * span, when there is one, lies inside the payload. */
static void test_random_payloads(void)
{
    GRand *rng = g_rand_new_with_seed(4789);
    for (int round = 0; round < 20000; round++) {
        size_t len = (size_t)g_rand_int_range(rng, 0, 64);
        uint8_t *buf = g_malloc(len ? len : 1);
        for (size_t i = 0; i < len; i++)
            buf[i] = (uint8_t)g_rand_int(rng);
        link_result_t inner;
        tunnel_kind_t kind = (tunnel_kind_t)g_rand_int_range(rng, 0, 3);
        decode_status_t st = round % 2 ? tunnel_decode_gre((byte_span_t){ buf, len }, &inner, &kind)
                                       : tunnel_decode_udp(kind, (byte_span_t){ buf, len }, &inner);
        if (st == DECODE_OK)
            g_assert_true(inner.network.ptr >= buf && inner.network.ptr + inner.network.len <= buf + len);
        g_free(buf);
    }
    g_rand_free(rng);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/tunnel/cases", test_cases);
    g_test_add_func("/tunnel/truncated-every-length", test_truncated_every_length);
    g_test_add_func("/tunnel/ports", test_ports);
    g_test_add_func("/tunnel/random-payloads", test_random_payloads);
    return g_test_run();
}
