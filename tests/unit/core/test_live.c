/* Unit tests for monitor/live.c's filter: the default capture filter
 * compiles for every link type enrollmon decodes, and on Ethernet it takes
 * what enrollmon dissects (plain, in one VLAN tag and in two) and leaves the
 * rest; a filter that does not compile is one line quoting libpcap. */
#include "dissectors/decode.h"
#include "monitor/live.h"

#include <glib.h>
#include <pcap/pcap.h>
#include <string.h>

typedef struct frame {
    uint8_t b[256];
    size_t len;
} frame_t;

static void put(frame_t *f, const void *bytes, size_t n)
{
    g_assert_cmpuint(f->len + n, <=, sizeof(f->b));
    memcpy(f->b + f->len, bytes, n);
    f->len += n;
}

static void put16(frame_t *f, uint16_t v)
{
    uint8_t b[2] = { (uint8_t)(v >> 8), (uint8_t)v };
    put(f, b, 2);
}

/* Ethernet header with tags (outer first), then the ethertype. */
static void eth(frame_t *f, uint16_t ethertype, const uint16_t *tags, unsigned ntags)
{
    static const uint8_t macs[12] = { 2, 2, 2, 2, 2, 2, 4, 4, 4, 4, 4, 4 };
    f->len = 0;
    put(f, macs, sizeof(macs));
    for (unsigned i = 0; i < ntags; i++) {
        put16(f, i == 0 && ntags == 2 ? 0x88a8 : 0x8100);
        put16(f, tags[i]);
    }
    put16(f, ethertype);
}

static void ipv4(frame_t *f, uint8_t proto, uint16_t frag, size_t payload_len)
{
    uint8_t h[20] = { 0x45, 0, 0, 0, 0, 1, (uint8_t)(frag >> 8), (uint8_t)frag, 64, proto, 0, 0,
                      10, 0, 0, 1, 10, 0, 0, 2 };
    h[2] = (uint8_t)((20 + payload_len) >> 8);
    h[3] = (uint8_t)(20 + payload_len);
    put(f, h, sizeof(h));
}

static void ipv6(frame_t *f, uint8_t next, size_t payload_len)
{
    uint8_t h[40] = { 0x60, 0, 0, 0, (uint8_t)(payload_len >> 8), (uint8_t)payload_len, next, 64 };
    h[23] = 1;
    h[39] = 2;
    put(f, h, sizeof(h));
}

static void ports(frame_t *f, uint16_t sport, uint16_t dport, bool is_tcp)
{
    put16(f, sport);
    put16(f, dport);
    uint8_t rest[16] = { 0 };
    if (is_tcp) {
        rest[8] = 0x50; /* data offset */
        rest[9] = 0x02; /* SYN */
    }
    put(f, rest, is_tcp ? 16 : 4);
}

static bool matches(struct bpf_program *prog, const frame_t *f)
{
    struct pcap_pkthdr h;
    memset(&h, 0, sizeof(h));
    h.caplen = h.len = (bpf_u_int32)f->len;
    return pcap_offline_filter(prog, &h, f->b) != 0;
}

static void compile(const char *expr, int linktype, struct bpf_program *prog)
{
    pcap_t *p = pcap_open_dead(linktype, LIVE_DEFAULT_SNAPLEN);
    g_assert_nonnull(p);
    if (pcap_compile(p, prog, expr, 1, PCAP_NETMASK_UNKNOWN) != 0)
        g_error("does not compile for link type %d: %s", linktype, pcap_geterr(p));
    pcap_close(p);
}

static void test_compiles_for_every_link_type(void)
{
    const int types[] = { DLT_EN10MB, DLT_LINUX_SLL, DLT_LINUX_SLL2, DLT_RAW, DLT_NULL, DLT_LOOP,
                          DLT_IPV4, DLT_IPV6 };
    for (size_t i = 0; i < G_N_ELEMENTS(types); i++) {
        g_assert_true(decode_linktype_supported(types[i]));
        char *f = live_default_filter(3804, types[i]);
        struct bpf_program prog;
        compile(f, types[i], &prog);
        /* far from the kernel's limit of 4096 instructions */
        g_assert_cmpuint(prog.bf_len, <, 1000);
        pcap_freecode(&prog);
        g_free(f);
    }
}

static void test_ethernet_takes_what_is_dissected(void)
{
    char *expr = live_default_filter(3804, DLT_EN10MB);
    struct bpf_program prog;
    compile(expr, DLT_EN10MB, &prog);
    frame_t f;
    const uint16_t one[] = { 10 }, two[] = { 10, 20 };
    const unsigned tag_counts[] = { 0, 1, 2 };
    for (unsigned t = 0; t < G_N_ELEMENTS(tag_counts); t++) {
        const uint16_t *tags = tag_counts[t] == 2 ? two : one;
        unsigned n = tag_counts[t];
        const uint16_t wanted_tcp[] = { 3804, 443, 80, 8080, 8443, 5061, 2443, 8084 };
        for (size_t i = 0; i < G_N_ELEMENTS(wanted_tcp); i++) {
            eth(&f, 0x0800, tags, n);
            ipv4(&f, 6, 0, 20);
            ports(&f, 50000, wanted_tcp[i], true);
            g_assert_true(matches(&prog, &f));
            eth(&f, 0x86dd, tags, n); /* the server's side, over IPv6 */
            ipv6(&f, 6, 20);
            ports(&f, wanted_tcp[i], 50000, true);
            g_assert_true(matches(&prog, &f));
        }
        eth(&f, 0x0800, tags, n); /* DNS over UDP and TCP */
        ipv4(&f, 17, 0, 8);
        ports(&f, 50000, 53, false);
        g_assert_true(matches(&prog, &f));
        eth(&f, 0x0800, tags, n);
        ipv4(&f, 6, 0, 20);
        ports(&f, 53, 50000, true);
        g_assert_true(matches(&prog, &f));
        const uint16_t tunnels[] = { 4789, 4790, 6081 };
        for (size_t i = 0; i < G_N_ELEMENTS(tunnels); i++) {
            eth(&f, 0x0800, tags, n);
            ipv4(&f, 17, 0, 8);
            ports(&f, 50000, tunnels[i], false);
            g_assert_true(matches(&prog, &f));
        }
        eth(&f, 0x0800, tags, n); /* GRE, ERSPAN */
        ipv4(&f, 47, 0, 8);
        ports(&f, 0, 0x88be, false);
        g_assert_true(matches(&prog, &f));
        eth(&f, 0x0800, tags, n); /* a later fragment: no ports */
        ipv4(&f, 6, 185, 40);
        ports(&f, 1, 1, true);
        g_assert_true(matches(&prog, &f));
        eth(&f, 0x86dd, tags, n); /* IPv6 fragment header before TCP */
        ipv6(&f, 44, 28);
        put(&f, (const uint8_t[]){ 6, 0, 0, 1, 0, 0, 0, 7 }, 8);
        ports(&f, 50000, 9999, true);
        g_assert_true(matches(&prog, &f));

        /* and not the rest */
        eth(&f, 0x0800, tags, n);
        ipv4(&f, 6, 0, 20);
        ports(&f, 50000, 22, true);
        g_assert_false(matches(&prog, &f));
        eth(&f, 0x0800, tags, n);
        ipv4(&f, 17, 0, 8);
        ports(&f, 50000, 9999, false);
        g_assert_false(matches(&prog, &f));
        eth(&f, 0x86dd, tags, n); /* ICMPv6 */
        ipv6(&f, 58, 8);
        put(&f, (const uint8_t[]){ 135, 0, 0, 0, 0, 0, 0, 0 }, 8);
        g_assert_false(matches(&prog, &f));
        eth(&f, 0x0806, tags, n); /* ARP */
        put(&f, (const uint8_t[28]){ 0 }, 28);
        g_assert_false(matches(&prog, &f));
    }
    pcap_freecode(&prog);
    g_free(expr);
}

static void test_capf_port_from_configuration(void)
{
    char *expr = live_default_filter(4000, DLT_EN10MB);
    struct bpf_program prog;
    compile(expr, DLT_EN10MB, &prog);
    frame_t f;
    eth(&f, 0x0800, NULL, 0);
    ipv4(&f, 6, 0, 20);
    ports(&f, 50000, 4000, true);
    g_assert_true(matches(&prog, &f));
    pcap_freecode(&prog);
    g_free(expr);
}

static void test_check_filter(void)
{
    char *message = NULL;
    g_assert_true(live_check_filter("tcp port 3804 or (vlan and tcp port 3804)", 65535, &message));
    g_assert_null(message);
    g_assert_false(live_check_filter("tcp port and", 65535, &message));
    g_assert_nonnull(message);
    g_assert_nonnull(strstr(message, "'tcp port and'"));
    g_assert_nonnull(strstr(message, "does not compile"));
    g_assert_null(strchr(message, '\n'));
    g_free(message);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/live/filter/compiles-for-every-link-type", test_compiles_for_every_link_type);
    g_test_add_func("/live/filter/ethernet-takes-what-is-dissected", test_ethernet_takes_what_is_dissected);
    g_test_add_func("/live/filter/capf-port", test_capf_port_from_configuration);
    g_test_add_func("/live/filter/check", test_check_filter);
    return g_test_run();
}
