/* DNS test data; see dns_fixtures.h.  The hex strings are the UDP (or TCP)
 * payloads of the frames named, as tshark -T fields -e udp.payload shows them. */
#include "dns_fixtures.h"

#include <string.h>

const dns_fixture_t dns_fx_lab_query_ca = {
    "pcaps/dns-nxdomain.pcapng frame 1",
    "34f201000001000000000000026361076578616d706c6504746573740000010001"
};

const dns_fixture_t dns_fx_lab_response_ca = {
    "pcaps/dns-nxdomain.pcapng frame 2",
    "34f285800001000100000000026361076578616d706c6504746573740000010001c00c000100010000012c00"
    "047f000001"
};

const dns_fixture_t dns_fx_lab_query_cucm = {
    "pcaps/dns-nxdomain.pcapng frame 3",
    "59af01000001000000000000086375636d2d707562076578616d706c6504746573740000010001"
};

const dns_fixture_t dns_fx_lab_response_cucm = {
    "pcaps/dns-nxdomain.pcapng frame 4",
    "59af85830001000000010000086375636d2d707562076578616d706c6504746573740000010001076578616d"
    "706c65047465737400000600010000012c003f036e7331076578616d706c650474657374000a686f73746d61"
    "73746572076578616d706c6504746573740078a3f17500000e1000000258000151800000012c"
};

const dns_fixture_t dns_fx_sv_query = {
    "suricata-verify--dns-udp-nxdomain-soa.pcap frame 1",
    "82950120000100000000000103646e65046f697366036e65740000010001000029100000000000000c000a00"
    "08a4f5228c58c6180a"
};

const dns_fixture_t dns_fx_sv_response = {
    "suricata-verify--dns-udp-nxdomain-soa.pcap frame 2",
    "82958183000100000001000103646e65046f697366036e65740000010001c01000060001000003830045066e"
    "732d31313009617773646e732d313303636f6d0011617773646e732d686f73746d617374657206616d617a6f"
    "6ec03b0000000100001c200000038400127500000151800000290200000000000000"
};

const dns_fixture_t dns_fx_txt = {
    "arkime--dns-wiresharkrepo.pcap frame 2",
    "10328180000100010000000006676f6f676c6503636f6d0000100001c00c001000010000010e00100f763d73"
    "70663120707472203f616c6c"
};

const dns_fixture_t dns_fx_mx = {
    "arkime--dns-wiresharkrepo.pcap frame 4",
    "f76f8180000100060000000606676f6f676c6503636f6d00000f0001c00c000f000100000228000a00280573"
    "6d747034c00cc00c000f000100000228000a000a05736d747035c00cc00c000f000100000228000a000a0573"
    "6d747036c00cc00c000f000100000228000a000a05736d747031c00cc00c000f000100000228000a000a0573"
    "6d747032c00cc00c000f000100000228000a002805736d747033c00cc02a00010001000002580004d8ef251a"
    "c0400001000100000258000440e9a719c0560001000100000258000442660919c06c00010001000002580004"
    "d8ef3919c08200010001000002580004d8ef2519c09800010001000002580004d8ef391a"
};

const dns_fixture_t dns_fx_ptr = {
    "arkime--dns-wiresharkrepo.pcap frame 8",
    "9bbb818000010001000000000331303401390331393202363607696e2d61646472046172706100000c0001c0"
    "0c000c00010001512500200c36362d3139322d392d3130340367656e09747774656c65636f6d036e657400"
};

const dns_fixture_t dns_fx_aaaa = {
    "arkime--dns-wiresharkrepo.pcap frame 12",
    "f0d48180000100010000000003777777066e6574627364036f726700001c0001c00c001c0001000151800010"
    "200104f80004000702e081fffe529a6b"
};

const dns_fixture_t dns_fx_cname = {
    "arkime--dns-wiresharkrepo.pcap frame 16",
    "8db3818000010001000000000377777706676f6f676c6503636f6d00001c0001c00c00050001000002790008"
    "03777777016cc010"
};

const dns_fixture_t dns_fx_any = {
    "arkime--dns-wiresharkrepo.pcap frame 24",
    "fee3818000010002000000000377777703697363036f72670000ff0001c00c001c0001000002580010200104"
    "f800000002000000000000000dc00c00010001000002580004cc98b858"
};

const dns_fixture_t dns_fx_ns = {
    "arkime--dns-wiresharkrepo.pcap frame 29",
    "208a8180000100040000000003697363036f72670000020001c00c0002000100000e10000e066e732d657874"
    "046e727431c00cc00c0002000100000e10000e066e732d6578740473746831c00cc00c0002000100000e1000"
    "09066e732d657874c00cc00c0002000100000e10000e066e732d657874046c676131c00c"
};

const dns_fixture_t dns_fx_rrsig_ds = {
    "arkime--arkime_synthetic.pcap frame 222",
    "123481800001000300000000076578616d706c6503636f6d0000010001076578616d706c6503636f6d000001"
    "00010000012c00040a000101076578616d706c6503636f6d00002e00010000012c003f00010d0200000e1067"
    "957b00676dee003039076578616d706c6503636f6d00deadbeefdeadbeefdeadbeefdeadbeefdeadbeefdead"
    "beefdeadbeefdeadbeef076578616d706c6503636f6d00002b0001000151800024d4310d02aabbccdd112233"
    "44556677889900aabbccddeeff00112233445566778899aabb"
};

const dns_fixture_t dns_fx_caa = {
    "arkime--arkime_synthetic.pcap frame 335",
    "200684000001000100000000076578616d706c65036f72670001010001c00c0101000100000e100016000569"
    "737375656c657473656e63727970742e6f7267"
};

const dns_fixture_t dns_fx_https = {
    "arkime--arkime_synthetic.pcap frame 337",
    "200784000001000100000000076578616d706c65036f72670000410001c00c004100010000012c000d000100"
    "00010006026832026833"
};

const dns_fixture_t dns_fx_nsec = {
    "arkime--arkime_synthetic.pcap frame 339",
    "200884000001000100000000076578616d706c65036f726700002f0001c00c002f000100000e10001a046e65"
    "7874076578616d706c65036f7267000006600180080003"
};

const dns_fixture_t dns_fx_badvers = {
    "arkime--arkime_synthetic.pcap frame 698",
    "1234858000010000000000010c65646e732d62616476657273076578616d706c6503636f6d00000100010000"
    "291000010000000000"
};

const dns_fixture_t dns_fx_ad_alone = {
    "arkime--arkime_synthetic.pcap frame 355",
    "200e81a00001000100000000026164076578616d706c65036f72670000010001c00c000100010000012c0004"
    "07070707"
};

const dns_fixture_t dns_fx_svc_query = {
    "arkime--arkime_synthetic.pcap frame 715",
    "9120010000010000000000000e7376632d656d7074792d616c706e076578616d706c6503636f6d0000410001"
};

const dns_fixture_t dns_fx_svc_response = {
    "arkime--arkime_synthetic.pcap frame 717",
    "9120818000010001000000000e7376632d656d7074792d616c706e076578616d706c6503636f6d0000410001"
    "c00c004100010000012c0015000100000100000003000201bb00040004c0000201"
};

const dns_fixture_t dns_fx_tcp_query = {
    "arkime--arkime_synthetic.pcap frame 353 (TCP payload)",
    "0025200d010000010000000000000774637074657374076578616d706c65036f72670000010001"
};

const dns_fixture_t dns_fx_tcp_response = {
    "arkime--arkime_synthetic.pcap frame 354 (TCP payload)",
    "0048200d858000010001000000000774637074657374076578616d706c65036f726700000100010774637074"
    "657374076578616d706c65036f726700000100010000012c00040a0a0a0a"
};

const dns_fixture_t *const dns_fx_responses[] = {
    &dns_fx_lab_response_ca,
    &dns_fx_lab_response_cucm,
    &dns_fx_sv_response,
    &dns_fx_txt,
    &dns_fx_mx,
    &dns_fx_ptr,
    &dns_fx_aaaa,
    &dns_fx_cname,
    &dns_fx_any,
    &dns_fx_ns,
    &dns_fx_rrsig_ds,
    &dns_fx_caa,
    &dns_fx_https,
    &dns_fx_nsec,
    &dns_fx_badvers,
    &dns_fx_ad_alone,
    &dns_fx_svc_response,
};
const size_t dns_fx_response_count = sizeof(dns_fx_responses) / sizeof(dns_fx_responses[0]);

/* ---- helpers ---- */

static int hexval(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

uint8_t *dns_test_unhex(const char *hex, size_t *len)
{
    size_t n = strlen(hex);
    g_assert_cmpuint(n % 2, ==, 0);
    uint8_t *out = g_malloc(n / 2 ? n / 2 : 1);
    for (size_t i = 0; i < n / 2; i++) {
        int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);
        g_assert_cmpint(hi, >=, 0);
        g_assert_cmpint(lo, >=, 0);
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    *len = n / 2;
    return out;
}

uint8_t *dns_test_copy(const uint8_t *data, size_t len)
{
    uint8_t *copy = g_malloc(len ? len : 1);
    if (len)
        memcpy(copy, data, len);
    return copy;
}

void dns_test_bytes(GByteArray *m, const void *data, size_t len)
{
    g_byte_array_append(m, data, (guint)len);
}

void dns_test_u8(GByteArray *m, uint8_t v)
{
    g_byte_array_append(m, &v, 1);
}

void dns_test_be16(GByteArray *m, uint16_t v)
{
    uint8_t b[2] = { (uint8_t)(v >> 8), (uint8_t)v };
    g_byte_array_append(m, b, 2);
}

void dns_test_be32(GByteArray *m, uint32_t v)
{
    dns_test_be16(m, (uint16_t)(v >> 16));
    dns_test_be16(m, (uint16_t)v);
}

GByteArray *dns_test_header(uint16_t id, uint16_t flags, uint16_t qd, uint16_t an, uint16_t ns, uint16_t ar)
{
    GByteArray *m = g_byte_array_new();
    dns_test_be16(m, id);
    dns_test_be16(m, flags);
    dns_test_be16(m, qd);
    dns_test_be16(m, an);
    dns_test_be16(m, ns);
    dns_test_be16(m, ar);
    return m;
}

void dns_test_labels(GByteArray *m, const char *dotted)
{
    if (!dotted[0] || strcmp(dotted, ".") == 0)
        return;
    gchar **labels = g_strsplit(dotted, ".", -1);
    for (gchar **l = labels; *l; l++) {
        size_t n = strlen(*l);
        g_assert_cmpuint(n, >, 0);
        g_assert_cmpuint(n, <=, 63);
        dns_test_u8(m, (uint8_t)n);
        dns_test_bytes(m, *l, n);
    }
    g_strfreev(labels);
}

void dns_test_name(GByteArray *m, const char *dotted)
{
    dns_test_labels(m, dotted);
    dns_test_u8(m, 0);
}

void dns_test_pointer(GByteArray *m, uint16_t offset)
{
    dns_test_be16(m, (uint16_t)(0xC000 | offset));
}

void dns_test_rr_head(GByteArray *m, uint16_t type, uint16_t rrclass, uint32_t ttl, uint16_t rdlength)
{
    dns_test_be16(m, type);
    dns_test_be16(m, rrclass);
    dns_test_be32(m, ttl);
    dns_test_be16(m, rdlength);
}
