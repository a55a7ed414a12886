/* Unit tests for dissectors/dns.c: every record type from real captures,
 * name compression and its bounds (backward pointers only, jump limit,
 * 255-byte names, 63-byte labels), escaping, counts that lie, messages cut
 * at every byte (exact-size heap copies, so ASan sees any overread), and
 * random damage.
 */
#include "dissectors/dns.h"
#include "dns_fixtures.h"

#include <glib.h>
#include <string.h>

/* A parsed fixture: the bytes stay alive with the message. */
typedef struct parsed {
    uint8_t *bytes;
    size_t len;
    dns_message_t *m;
} parsed_t;

static parsed_t parse_hex(const char *hex)
{
    parsed_t p;
    p.bytes = dns_test_unhex(hex, &p.len);
    p.m = dns_message_new();
    byte_span_t span = { p.bytes, p.len };
    dns_parse(span, p.m);
    return p;
}

static parsed_t parse_array(const GByteArray *b)
{
    parsed_t p;
    p.len = b->len;
    p.bytes = dns_test_copy(b->data, b->len);
    p.m = dns_message_new();
    byte_span_t span = { p.bytes, p.len };
    dns_parse(span, p.m);
    return p;
}

static void parsed_free(parsed_t *p)
{
    dns_message_free(p->m);
    g_free(p->bytes);
}

static const dns_rr_t *rr_at(const dns_message_t *m, unsigned i)
{
    g_assert_cmpuint(i, <, m->rr_count);
    return &m->rrs[i];
}

/* ------------------------------------------------------------------ */
/* Real messages                                                       */

static void test_lab_answer(void)
{
    parsed_t p = parse_hex(dns_fx_lab_response_ca.hex);
    const dns_message_t *m = p.m;
    g_assert_cmpint(m->status, ==, DNS_OK);
    g_assert_cmphex(m->header.id, ==, 0x34f2);
    g_assert_cmphex(m->header.flags, ==, 0x8580);
    g_assert_true(m->header.qr);
    g_assert_true(m->header.aa);
    g_assert_false(m->header.tc);
    g_assert_true(m->header.rd);
    g_assert_true(m->header.ra);
    g_assert_cmpuint(m->header.opcode, ==, 0);
    g_assert_cmpuint(m->rcode, ==, 0);
    g_assert_cmpuint(m->header.qdcount, ==, 1);
    g_assert_cmpuint(m->header.ancount, ==, 1);
    g_assert_cmpuint(m->question_count, ==, 1);
    g_assert_cmpstr(m->questions[0].name, ==, "ca.example.test");
    g_assert_cmpuint(m->questions[0].type, ==, DNS_TYPE_A);
    g_assert_cmpuint(m->questions[0].qclass, ==, DNS_CLASS_IN);
    g_assert_cmpuint(m->rr_count, ==, 1);
    const dns_rr_t *rr = rr_at(m, 0);
    g_assert_cmpint(rr->section, ==, DNS_SECTION_ANSWER);
    g_assert_cmpstr(rr->name, ==, "ca.example.test"); /* through the pointer c00c */
    g_assert_cmpuint(rr->type, ==, DNS_TYPE_A);
    g_assert_cmpuint(rr->ttl, ==, 300);
    g_assert_cmpstr(rr->data, ==, "127.0.0.1");
    g_assert_cmpuint(rr->address.family, ==, 4);
    g_assert_cmpuint(rr->rdata.len, ==, 4);
    g_assert_cmpuint(m->trailing, ==, 0);
    g_assert_false(m->edns.present);
    parsed_free(&p);
}

static void test_lab_nxdomain_soa(void)
{
    parsed_t p = parse_hex(dns_fx_lab_response_cucm.hex);
    const dns_message_t *m = p.m;
    g_assert_cmpint(m->status, ==, DNS_OK);
    g_assert_cmpuint(m->rcode, ==, DNS_RCODE_NXDOMAIN);
    g_assert_cmpstr(dns_rcode_name(m->rcode), ==, "NXDOMAIN");
    g_assert_cmpstr(m->questions[0].name, ==, "cucm-pub.example.test");
    g_assert_cmpuint(m->rrs_read[DNS_SECTION_ANSWER], ==, 0);
    g_assert_cmpuint(m->rrs_read[DNS_SECTION_AUTHORITY], ==, 1);
    const dns_rr_t *soa = rr_at(m, 0);
    g_assert_cmpint(soa->section, ==, DNS_SECTION_AUTHORITY);
    g_assert_cmpuint(soa->type, ==, DNS_TYPE_SOA);
    g_assert_cmpstr(soa->name, ==, "example.test");
    g_assert_cmpstr(soa->soa.mname, ==, "ns1.example.test");
    g_assert_cmpstr(soa->soa.rname, ==, "hostmaster.example.test");
    g_assert_cmpuint(soa->soa.serial, ==, 0x78a3f175u);
    g_assert_cmpuint(soa->soa.refresh, ==, 3600);
    g_assert_cmpuint(soa->soa.retry, ==, 600);
    g_assert_cmpuint(soa->soa.expire, ==, 86400);
    g_assert_cmpuint(soa->soa.minimum, ==, 300);
    g_assert_cmpstr(soa->data, ==, "ns1.example.test hostmaster.example.test 2024010101 3600 600 86400 300");
    parsed_free(&p);
}

static void test_edns_soa(void)
{
    parsed_t q = parse_hex(dns_fx_sv_query.hex);
    g_assert_cmpint(q.m->status, ==, DNS_OK);
    g_assert_false(q.m->header.qr);
    g_assert_true(q.m->header.ad);
    g_assert_true(q.m->edns.present);
    g_assert_cmpuint(q.m->edns.udp_size, ==, 4096);
    g_assert_cmpstr(q.m->questions[0].name, ==, "dne.oisf.net");
    const dns_rr_t *opt = rr_at(q.m, 0);
    g_assert_cmpuint(opt->type, ==, DNS_TYPE_OPT);
    g_assert_cmpstr(opt->name, ==, ".");
    g_assert_cmpstr(opt->data, ==, "\\# 12 000a0008a4f5228c58c6180a"); /* a cookie option */
    parsed_free(&q);

    parsed_t p = parse_hex(dns_fx_sv_response.hex);
    const dns_message_t *m = p.m;
    g_assert_cmpint(m->status, ==, DNS_OK);
    g_assert_cmpuint(m->rcode, ==, DNS_RCODE_NXDOMAIN);
    g_assert_true(m->edns.present);
    g_assert_cmpuint(m->edns.udp_size, ==, 512);
    g_assert_cmpuint(m->edns.ext_rcode, ==, 0);
    const dns_rr_t *soa = rr_at(m, 0);
    g_assert_cmpstr(soa->name, ==, "oisf.net");
    g_assert_cmpstr(soa->soa.mname, ==, "ns-110.awsdns-13.com");
    g_assert_cmpstr(soa->soa.rname, ==, "awsdns-hostmaster.amazon.com");
    g_assert_cmpuint(soa->soa.serial, ==, 1);
    g_assert_cmpuint(soa->soa.refresh, ==, 7200);
    g_assert_cmpuint(soa->soa.retry, ==, 900);
    g_assert_cmpuint(soa->soa.expire, ==, 1209600);
    g_assert_cmpuint(soa->soa.minimum, ==, 86400);
    g_assert_cmpuint(soa->ttl, ==, 899);
    g_assert_cmpint(rr_at(m, 1)->section, ==, DNS_SECTION_ADDITIONAL);
    g_assert_cmpuint(rr_at(m, 1)->type, ==, DNS_TYPE_OPT);
    parsed_free(&p);
}

static void test_txt(void)
{
    parsed_t p = parse_hex(dns_fx_txt.hex);
    g_assert_cmpint(p.m->status, ==, DNS_OK);
    const dns_rr_t *rr = rr_at(p.m, 0);
    g_assert_cmpuint(rr->type, ==, DNS_TYPE_TXT);
    g_assert_cmpstr(rr->name, ==, "google.com");
    g_assert_cmpstr(rr->data, ==, "\"v=spf1 ptr ?all\"");
    g_assert_cmpuint(rr->ttl, ==, 270);
    parsed_free(&p);
}

static void test_mx_and_additional(void)
{
    parsed_t p = parse_hex(dns_fx_mx.hex);
    const dns_message_t *m = p.m;
    g_assert_cmpint(m->status, ==, DNS_OK);
    g_assert_cmpuint(m->rr_count, ==, 12);
    g_assert_cmpuint(m->rrs_read[DNS_SECTION_ANSWER], ==, 6);
    g_assert_cmpuint(m->rrs_read[DNS_SECTION_ADDITIONAL], ==, 6);
    static const char *const mx[] = { "40 smtp4.google.com", "10 smtp5.google.com", "10 smtp6.google.com",
                                      "10 smtp1.google.com", "10 smtp2.google.com", "40 smtp3.google.com" };
    static const char *const addr[] = { "216.239.37.26", "64.233.167.25", "66.102.9.25",
                                        "216.239.57.25", "216.239.37.25", "216.239.57.26" };
    for (unsigned i = 0; i < 6; i++) {
        const dns_rr_t *rr = rr_at(m, i);
        g_assert_cmpuint(rr->type, ==, DNS_TYPE_MX);
        g_assert_cmpstr(rr->name, ==, "google.com");
        g_assert_cmpstr(rr->data, ==, mx[i]);
        g_assert_cmpstr(rr->target, ==, mx[i] + 3);
        g_assert_cmpuint(rr->preference, ==, mx[i][0] == '4' ? 40 : 10);
        g_assert_cmpuint(rr->ttl, ==, 552);
        const dns_rr_t *a = rr_at(m, 6 + i);
        g_assert_cmpint(a->section, ==, DNS_SECTION_ADDITIONAL);
        g_assert_cmpstr(a->name, ==, mx[i] + 3);
        g_assert_cmpstr(a->data, ==, addr[i]);
    }
    parsed_free(&p);
}

static void test_ptr_aaaa_cname_ns_any(void)
{
    parsed_t p = parse_hex(dns_fx_ptr.hex);
    g_assert_cmpint(p.m->status, ==, DNS_OK);
    g_assert_cmpstr(p.m->questions[0].name, ==, "104.9.192.66.in-addr.arpa");
    g_assert_cmpuint(rr_at(p.m, 0)->type, ==, DNS_TYPE_PTR);
    g_assert_cmpstr(rr_at(p.m, 0)->data, ==, "66-192-9-104.gen.twtelecom.net");
    g_assert_cmpstr(rr_at(p.m, 0)->target, ==, "66-192-9-104.gen.twtelecom.net");
    parsed_free(&p);

    p = parse_hex(dns_fx_aaaa.hex);
    g_assert_cmpint(p.m->status, ==, DNS_OK);
    g_assert_cmpuint(rr_at(p.m, 0)->type, ==, DNS_TYPE_AAAA);
    g_assert_cmpstr(rr_at(p.m, 0)->data, ==, "2001:4f8:4:7:2e0:81ff:fe52:9a6b");
    g_assert_cmpuint(rr_at(p.m, 0)->address.family, ==, 6);
    parsed_free(&p);

    p = parse_hex(dns_fx_cname.hex);
    g_assert_cmpint(p.m->status, ==, DNS_OK);
    g_assert_cmpuint(rr_at(p.m, 0)->type, ==, DNS_TYPE_CNAME);
    g_assert_cmpstr(rr_at(p.m, 0)->name, ==, "www.google.com");
    g_assert_cmpstr(rr_at(p.m, 0)->data, ==, "www.l.google.com"); /* "www" "l" + pointer */
    parsed_free(&p);

    p = parse_hex(dns_fx_ns.hex);
    g_assert_cmpint(p.m->status, ==, DNS_OK);
    static const char *const ns[] = { "ns-ext.nrt1.isc.org", "ns-ext.sth1.isc.org", "ns-ext.isc.org",
                                      "ns-ext.lga1.isc.org" };
    g_assert_cmpuint(p.m->rr_count, ==, 4);
    for (unsigned i = 0; i < 4; i++) {
        g_assert_cmpuint(rr_at(p.m, i)->type, ==, DNS_TYPE_NS);
        g_assert_cmpstr(rr_at(p.m, i)->data, ==, ns[i]);
        g_assert_cmpuint(rr_at(p.m, i)->ttl, ==, 3600);
    }
    parsed_free(&p);

    p = parse_hex(dns_fx_any.hex);
    g_assert_cmpint(p.m->status, ==, DNS_OK);
    g_assert_cmpuint(p.m->questions[0].type, ==, DNS_TYPE_ANY);
    g_assert_cmpstr(rr_at(p.m, 0)->data, ==, "2001:4f8:0:2::d");
    g_assert_cmpstr(rr_at(p.m, 1)->data, ==, "204.152.184.88");
    parsed_free(&p);
}

static void test_generic_types(void)
{
    /* A, then RRSIG and DS in the generic form; names in place, no pointers. */
    parsed_t p = parse_hex(dns_fx_rrsig_ds.hex);
    g_assert_cmpint(p.m->status, ==, DNS_OK);
    g_assert_cmpuint(p.m->rr_count, ==, 3);
    g_assert_cmpstr(rr_at(p.m, 0)->data, ==, "10.0.1.1");
    g_assert_cmpuint(rr_at(p.m, 1)->type, ==, DNS_TYPE_RRSIG);
    g_assert_true(g_str_has_prefix(rr_at(p.m, 1)->data, "\\# 63 00010d02"));
    g_assert_false(rr_at(p.m, 1)->rdata_malformed);
    g_assert_cmpuint(rr_at(p.m, 2)->type, ==, DNS_TYPE_DS);
    g_assert_true(g_str_has_prefix(rr_at(p.m, 2)->data, "\\# 36 d4310d02"));
    parsed_free(&p);

    p = parse_hex(dns_fx_caa.hex);
    g_assert_cmpint(p.m->status, ==, DNS_OK);
    g_assert_cmpuint(rr_at(p.m, 0)->type, ==, DNS_TYPE_CAA);
    g_assert_cmpstr(rr_at(p.m, 0)->data, ==, "\\# 22 000569737375656c657473656e63727970742e6f7267");
    parsed_free(&p);

    p = parse_hex(dns_fx_https.hex);
    g_assert_cmpint(p.m->status, ==, DNS_OK);
    g_assert_cmpuint(rr_at(p.m, 0)->type, ==, DNS_TYPE_HTTPS);
    g_assert_cmpstr(rr_at(p.m, 0)->data, ==, "\\# 13 00010000010006026832026833");
    parsed_free(&p);

    p = parse_hex(dns_fx_nsec.hex);
    g_assert_cmpint(p.m->status, ==, DNS_OK);
    g_assert_cmpuint(rr_at(p.m, 0)->type, ==, DNS_TYPE_NSEC);
    g_assert_true(g_str_has_prefix(rr_at(p.m, 0)->data, "\\# 26 046e657874"));
    parsed_free(&p);

    /* Unknown type and class: kept by number. */
    GByteArray *b = dns_test_header(7, 0x8180, 0, 1, 0, 0);
    dns_test_name(b, "x.test");
    dns_test_rr_head(b, 65280, 3, 5, 3);
    dns_test_bytes(b, "\x01\x02\xff", 3);
    p = parse_array(b);
    g_assert_cmpint(p.m->status, ==, DNS_OK);
    g_assert_cmpuint(rr_at(p.m, 0)->type, ==, 65280);
    g_assert_cmpuint(rr_at(p.m, 0)->rrclass, ==, 3);
    g_assert_cmpstr(rr_at(p.m, 0)->data, ==, "\\# 3 0102ff");
    char name[16];
    dns_type_format(65280, name, sizeof(name));
    g_assert_cmpstr(name, ==, "TYPE65280");
    parsed_free(&p);
    g_byte_array_free(b, TRUE);
}

static void test_srv_and_txt_escapes(void)
{
    GByteArray *b = dns_test_header(0x4242, 0x8180, 1, 3, 0, 0);
    dns_test_name(b, "_sip._tls.example.test"); /* question at 12 */
    dns_test_be16(b, DNS_TYPE_SRV);
    dns_test_be16(b, DNS_CLASS_IN);
    /* SRV with the owner as a pointer and the target in place. */
    dns_test_pointer(b, 12);
    dns_test_rr_head(b, DNS_TYPE_SRV, DNS_CLASS_IN, 60, (uint16_t)(6 + 1 + 4 + 1 + 7 + 1 + 4 + 1));
    dns_test_be16(b, 10);
    dns_test_be16(b, 60);
    dns_test_be16(b, 5061);
    dns_test_name(b, "cucm.example.test");
    /* SRV whose target is a pointer into the question ("example.test"). */
    dns_test_pointer(b, 12);
    dns_test_rr_head(b, DNS_TYPE_SRV, DNS_CLASS_IN, 60, 8);
    dns_test_be16(b, 20);
    dns_test_be16(b, 0);
    dns_test_be16(b, 5061);
    dns_test_pointer(b, 12 + 5 + 5); /* past "_sip" and "_tls" */
    /* TXT with two strings, quotes, backslash, a control byte and an empty string. */
    dns_test_pointer(b, 12);
    static const uint8_t txt[] = { 6, 'a', '"', 'b', '\\', 'c', 0x07, 0 };
    dns_test_rr_head(b, DNS_TYPE_TXT, DNS_CLASS_IN, 1, sizeof(txt));
    dns_test_bytes(b, txt, sizeof(txt));
    parsed_t p = parse_array(b);
    g_assert_cmpint(p.m->status, ==, DNS_OK);
    g_assert_cmpstr(rr_at(p.m, 0)->name, ==, "_sip._tls.example.test");
    g_assert_cmpstr(rr_at(p.m, 0)->data, ==, "10 60 5061 cucm.example.test");
    g_assert_cmpstr(rr_at(p.m, 0)->target, ==, "cucm.example.test");
    g_assert_cmpuint(rr_at(p.m, 0)->preference, ==, 10);
    g_assert_cmpuint(rr_at(p.m, 0)->weight, ==, 60);
    g_assert_cmpuint(rr_at(p.m, 0)->port, ==, 5061);
    g_assert_cmpstr(rr_at(p.m, 1)->data, ==, "20 0 5061 example.test");
    g_assert_cmpstr(rr_at(p.m, 2)->data, ==, "\"a\\\"b\\\\c\\007\" \"\"");
    parsed_free(&p);
    g_byte_array_free(b, TRUE);
}

static void test_rdata_that_does_not_fit(void)
{
    GByteArray *b = dns_test_header(1, 0x8180, 0, 4, 0, 0);
    dns_test_name(b, "a.test");
    dns_test_rr_head(b, DNS_TYPE_A, DNS_CLASS_IN, 1, 5); /* an address of 5 bytes */
    dns_test_bytes(b, "\x01\x02\x03\x04\x05", 5);
    dns_test_name(b, "b.test");
    dns_test_rr_head(b, DNS_TYPE_CNAME, DNS_CLASS_IN, 1, 4); /* a name running past its data */
    dns_test_bytes(b, "\x05" "abc", 4);
    dns_test_name(b, "c.test");
    dns_test_rr_head(b, DNS_TYPE_MX, DNS_CLASS_IN, 1, 4); /* a name with bytes after it */
    dns_test_bytes(b, "\x00\x0a\x00\x00", 4);
    dns_test_name(b, "d.test");
    dns_test_rr_head(b, DNS_TYPE_A, DNS_CLASS_IN, 1, 4); /* good, after the bad ones */
    dns_test_bytes(b, "\x0a\x00\x00\x01", 4);
    parsed_t p = parse_array(b);
    g_assert_cmpint(p.m->status, ==, DNS_MALFORMED);
    g_assert_cmpuint(p.m->rr_count, ==, 4);
    g_assert_true(rr_at(p.m, 0)->rdata_malformed);
    g_assert_cmpstr(rr_at(p.m, 0)->data, ==, "\\# 5 0102030405");
    g_assert_cmpuint(rr_at(p.m, 0)->address.family, ==, 0);
    g_assert_true(rr_at(p.m, 1)->rdata_malformed);
    g_assert_null(rr_at(p.m, 1)->target);
    g_assert_true(rr_at(p.m, 2)->rdata_malformed);
    g_assert_false(rr_at(p.m, 3)->rdata_malformed);
    g_assert_cmpstr(rr_at(p.m, 3)->data, ==, "10.0.0.1");
    parsed_free(&p);
    g_byte_array_free(b, TRUE);
}

static void test_edns_badvers(void)
{
    /* The header says NOERROR, the OPT record's upper bits make it 16. */
    parsed_t p = parse_hex(dns_fx_badvers.hex);
    g_assert_cmpint(p.m->status, ==, DNS_OK);
    g_assert_cmpuint(p.m->header.rcode, ==, 0);
    g_assert_true(p.m->edns.present);
    g_assert_cmpuint(p.m->edns.ext_rcode, ==, 1);
    g_assert_cmpuint(p.m->rcode, ==, DNS_RCODE_BADVERS);
    g_assert_cmpstr(dns_rcode_name(p.m->rcode), ==, "BADVERS");
    parsed_free(&p);

    p = parse_hex(dns_fx_ad_alone.hex);
    g_assert_cmpint(p.m->status, ==, DNS_OK);
    g_assert_true(p.m->header.ad);
    g_assert_false(p.m->header.aa);
    parsed_free(&p);
}

static void test_names_of_numbers(void)
{
    g_assert_cmpstr(dns_type_name(1), ==, "A");
    g_assert_cmpstr(dns_type_name(28), ==, "AAAA");
    g_assert_cmpstr(dns_type_name(33), ==, "SRV");
    g_assert_cmpstr(dns_type_name(255), ==, "ANY");
    g_assert_null(dns_type_name(65280));
    g_assert_cmpstr(dns_class_name(1), ==, "IN");
    g_assert_cmpstr(dns_rcode_name(0), ==, "NOERROR");
    g_assert_cmpstr(dns_rcode_name(2), ==, "SERVFAIL");
    g_assert_cmpstr(dns_rcode_name(5), ==, "REFUSED");
    g_assert_null(dns_rcode_name(12));
    char text[16];
    dns_rcode_format(12, text, sizeof(text));
    g_assert_cmpstr(text, ==, "RCODE12");
    dns_rcode_format(3, text, sizeof(text));
    g_assert_cmpstr(text, ==, "NXDOMAIN");
    g_assert_cmpstr(dns_opcode_name(5), ==, "UPDATE");
    g_assert_true(dns_name_equal("CUCM-Pub.Example.TEST.", "cucm-pub.example.test"));
    g_assert_true(dns_name_equal(".", "."));
    g_assert_false(dns_name_equal("a.test", "b.test"));
    g_assert_false(dns_name_equal("a\\.", "a"));
}

/* ------------------------------------------------------------------ */
/* Names and compression                                               */

/* Reads the name at `offset` of a message made by hand. */
static dns_name_status_t read_name_at(const GByteArray *b, size_t offset, char *out, size_t *end)
{
    uint8_t *copy = dns_test_copy(b->data, b->len);
    byte_span_t msg = { copy, b->len };
    cursor_t c = cur_make(copy, b->len);
    cur_skip(&c, offset);
    dns_name_status_t st = dns_name_read(msg, &c, out);
    if (end)
        *end = cur_ok(&c) ? cur_offset(&c) : (size_t)-1;
    g_free(copy);
    return st;
}

static void test_compression_valid(void)
{
    GByteArray *b = dns_test_header(1, 0, 0, 0, 0, 0);
    dns_test_name(b, "example.org");        /* 12 */
    size_t www = b->len;
    dns_test_labels(b, "www");              /* "www" + pointer to example.org */
    dns_test_pointer(b, 12);
    size_t deep = b->len;
    dns_test_labels(b, "a.b");              /* "a.b" + pointer to www.example.org */
    dns_test_pointer(b, (uint16_t)www);
    size_t only = b->len;
    dns_test_pointer(b, (uint16_t)deep);    /* a name that is a pointer alone */
    char out[DNS_NAME_TEXT_MAX];
    size_t end;
    g_assert_cmpint(read_name_at(b, 12, out, &end), ==, DNS_NAME_OK);
    g_assert_cmpstr(out, ==, "example.org");
    g_assert_cmpuint(end, ==, www);
    g_assert_cmpint(read_name_at(b, www, out, &end), ==, DNS_NAME_OK);
    g_assert_cmpstr(out, ==, "www.example.org");
    g_assert_cmpuint(end, ==, deep);        /* in place, the name ends with its pointer */
    g_assert_cmpint(read_name_at(b, deep, out, &end), ==, DNS_NAME_OK);
    g_assert_cmpstr(out, ==, "a.b.www.example.org");
    g_assert_cmpint(read_name_at(b, only, out, &end), ==, DNS_NAME_OK);
    g_assert_cmpstr(out, ==, "a.b.www.example.org");
    g_assert_cmpuint(end, ==, only + 2);
    g_byte_array_free(b, TRUE);
}

static void test_compression_forward_rejected(void)
{
    GByteArray *b = dns_test_header(1, 0, 0, 0, 0, 0);
    dns_test_labels(b, "x");
    dns_test_pointer(b, 20);                /* forward: to what follows */
    while (b->len < 20)
        dns_test_u8(b, 0);
    dns_test_name(b, "test");
    char out[DNS_NAME_TEXT_MAX];
    g_assert_cmpint(read_name_at(b, 12, out, NULL), ==, DNS_NAME_BAD_POINTER);
    g_byte_array_free(b, TRUE);

    /* A pointer to itself. */
    b = dns_test_header(1, 0, 0, 0, 0, 0);
    dns_test_pointer(b, 12);
    g_assert_cmpint(read_name_at(b, 12, out, NULL), ==, DNS_NAME_BAD_POINTER);
    g_byte_array_free(b, TRUE);

    /* A pointer into the header. */
    b = dns_test_header(1, 0, 0, 0, 0, 0);
    dns_test_pointer(b, 4);
    g_assert_cmpint(read_name_at(b, 12, out, NULL), ==, DNS_NAME_BAD_POINTER);
    g_byte_array_free(b, TRUE);

    /* A pointer past the end of the message. */
    b = dns_test_header(1, 0, 0, 0, 0, 0);
    dns_test_name(b, "a");
    dns_test_pointer(b, 0x3fff);
    g_assert_cmpint(read_name_at(b, 15, out, NULL), ==, DNS_NAME_BAD_POINTER);
    g_byte_array_free(b, TRUE);
}

static void test_compression_loop_rejected(void)
{
    /* 12: "a" -> 16;  16: "b" -> 12.  Each name, read from either end,
     * meets a pointer that does not lead backwards within two jumps. */
    GByteArray *b = dns_test_header(1, 0, 0, 0, 0, 0);
    dns_test_labels(b, "a");
    dns_test_pointer(b, 16);
    dns_test_labels(b, "b");
    dns_test_pointer(b, 12);
    char out[DNS_NAME_TEXT_MAX];
    g_assert_cmpint(read_name_at(b, 12, out, NULL), ==, DNS_NAME_BAD_POINTER);
    g_assert_cmpint(read_name_at(b, 16, out, NULL), ==, DNS_NAME_BAD_POINTER);
    g_assert_cmpstr(out, ==, "b.a"); /* what was read before the bad jump */
    g_byte_array_free(b, TRUE);

    /* The same loop as a question: the message is malformed, quickly. */
    b = dns_test_header(1, 0, 1, 0, 0, 0);
    dns_test_labels(b, "a");
    dns_test_pointer(b, 12);
    dns_test_be16(b, 1);
    dns_test_be16(b, 1);
    parsed_t p = parse_array(b);
    g_assert_cmpint(p.m->status, ==, DNS_MALFORMED);
    g_assert_cmpuint(p.m->question_count, ==, 0);
    g_assert_cmpuint(p.m->error_offset, ==, 12);
    parsed_free(&p);
    g_byte_array_free(b, TRUE);
}

static void test_compression_jump_limit(void)
{
    /* The root at 12, then pointers each leading to the one before it:
     * reading from the k-th pointer takes k + 1 jumps. */
    GByteArray *b = dns_test_header(1, 0, 0, 0, 0, 0);
    dns_test_u8(b, 0);
    size_t prev = 12;
    size_t at[40];
    for (int k = 0; k < 40; k++) {
        at[k] = b->len;
        dns_test_pointer(b, (uint16_t)prev);
        prev = at[k];
    }
    char out[DNS_NAME_TEXT_MAX];
    g_assert_cmpint(read_name_at(b, at[DNS_MAX_POINTER_JUMPS - 1], out, NULL), ==, DNS_NAME_OK);
    g_assert_cmpstr(out, ==, ".");
    g_assert_cmpint(read_name_at(b, at[DNS_MAX_POINTER_JUMPS], out, NULL), ==, DNS_NAME_TOO_MANY_JUMPS);
    g_assert_cmpint(read_name_at(b, at[39], out, NULL), ==, DNS_NAME_TOO_MANY_JUMPS);
    g_byte_array_free(b, TRUE);
}

/* A name of `wire` bytes on the wire (labels of 63 and a last shorter one). */
static void name_of_wire_length(GByteArray *b, size_t wire)
{
    size_t left = wire - 1; /* the root */
    char label[64];
    memset(label, 'x', sizeof(label));
    while (left) {
        size_t n = left - 1 > 63 ? 63 : left - 1;
        g_assert_cmpuint(n, >, 0);
        dns_test_u8(b, (uint8_t)n);
        dns_test_bytes(b, label, n);
        left -= n + 1;
    }
    dns_test_u8(b, 0);
}

static void test_name_length_limits(void)
{
    char out[DNS_NAME_TEXT_MAX];
    GByteArray *b = dns_test_header(1, 0, 0, 0, 0, 0);
    name_of_wire_length(b, 255);
    g_assert_cmpint(read_name_at(b, 12, out, NULL), ==, DNS_NAME_OK);
    g_assert_cmpuint(strlen(out), ==, 253);
    g_byte_array_free(b, TRUE);

    b = dns_test_header(1, 0, 0, 0, 0, 0);
    name_of_wire_length(b, 256);
    g_assert_cmpint(read_name_at(b, 12, out, NULL), ==, DNS_NAME_TOO_LONG);
    g_byte_array_free(b, TRUE);

    /* Too long only once the pointer is followed: 200 + 60 bytes. */
    b = dns_test_header(1, 0, 0, 0, 0, 0);
    name_of_wire_length(b, 61);
    size_t second = b->len;
    name_of_wire_length(b, 201);
    b->len--; /* drop its root ... */
    dns_test_pointer(b, 12); /* ... and continue with the first name */
    g_assert_cmpint(read_name_at(b, second, out, NULL), ==, DNS_NAME_TOO_LONG);
    g_byte_array_free(b, TRUE);

    /* Every byte escaped: the longest text fits its buffer. */
    b = dns_test_header(1, 0, 0, 0, 0, 0);
    for (int l = 0; l < 4; l++) {
        int n = l < 3 ? 63 : 61; /* 3 * 64 + 62 + the root = 255 */
        dns_test_u8(b, (uint8_t)n);
        for (int i = 0; i < n; i++)
            dns_test_u8(b, 0xff);
    }
    dns_test_u8(b, 0);
    g_assert_cmpint(read_name_at(b, 12, out, NULL), ==, DNS_NAME_OK);
    g_assert_cmpuint(strlen(out), ==, (3 * 63 + 61) * 4 + 3);
    g_assert_cmpuint(strlen(out), <, DNS_NAME_TEXT_MAX);
    g_byte_array_free(b, TRUE);
}

static void test_label_types(void)
{
    char out[DNS_NAME_TEXT_MAX];
    static const uint8_t kinds[] = { 0x40, 0x41, 0x7f, 0x80, 0xbf };
    for (size_t i = 0; i < sizeof(kinds); i++) {
        GByteArray *b = dns_test_header(1, 0, 0, 0, 0, 0);
        dns_test_u8(b, kinds[i]);
        for (int k = 0; k < 70; k++)
            dns_test_u8(b, 'a');
        dns_test_u8(b, 0);
        g_assert_cmpint(read_name_at(b, 12, out, NULL), ==, DNS_NAME_BAD_LABEL);
        g_byte_array_free(b, TRUE);
    }
    /* 63 is the longest label. */
    GByteArray *b = dns_test_header(1, 0, 0, 0, 0, 0);
    dns_test_u8(b, 63);
    for (int k = 0; k < 63; k++)
        dns_test_u8(b, 'a');
    dns_test_u8(b, 0);
    g_assert_cmpint(read_name_at(b, 12, out, NULL), ==, DNS_NAME_OK);
    g_assert_cmpuint(strlen(out), ==, 63);
    g_byte_array_free(b, TRUE);
}

static void test_name_escapes(void)
{
    GByteArray *b = dns_test_header(1, 0, 0, 0, 0, 0);
    static const uint8_t label[] = { 9, 'a', '.', 'b', '\\', ' ', 0x00, 0xff, 'Z', '~' };
    dns_test_bytes(b, label, sizeof(label));
    dns_test_name(b, "test");
    char out[DNS_NAME_TEXT_MAX];
    g_assert_cmpint(read_name_at(b, 12, out, NULL), ==, DNS_NAME_OK);
    g_assert_cmpstr(out, ==, "a\\.b\\\\\\032\\000\\255Z~.test");
    g_byte_array_free(b, TRUE);

    b = dns_test_header(1, 0, 0, 0, 0, 0);
    dns_test_u8(b, 0);
    g_assert_cmpint(read_name_at(b, 12, out, NULL), ==, DNS_NAME_OK);
    g_assert_cmpstr(out, ==, ".");
    g_byte_array_free(b, TRUE);
}

/* ------------------------------------------------------------------ */
/* Counts that lie, cuts, damage                                       */

static void test_lying_counts(void)
{
    size_t len;
    uint8_t *bytes = dns_test_unhex(dns_fx_lab_response_ca.hex, &len);
    bytes[7] = 3; /* three answers announced, one present */
    byte_span_t span = { bytes, len };
    dns_message_t *m = dns_message_new();
    g_assert_cmpint(dns_parse(span, m), ==, DNS_TRUNCATED);
    g_assert_nonnull(m->error);
    g_assert_cmpuint(m->rr_count, ==, 1);
    g_assert_cmpstr(m->rrs[0].data, ==, "127.0.0.1");
    g_assert_cmpuint(m->rrs_read[DNS_SECTION_ANSWER], ==, 1);

    bytes[7] = 1;
    bytes[5] = 9; /* nine questions */
    g_assert_cmpint(dns_parse(span, m), ==, DNS_TRUNCATED);
    g_assert_cmpuint(m->question_count, ==, 3); /* the answer's bytes read as questions too */
    g_assert_cmpstr(m->questions[0].name, ==, "ca.example.test");
    g_assert_cmpuint(m->rr_count, ==, 0);

    bytes[5] = 1;
    bytes[11] = 0xff; /* 255 additional records */
    g_assert_cmpint(dns_parse(span, m), ==, DNS_TRUNCATED);
    g_assert_cmpuint(m->rr_count, ==, 1);

    bytes[11] = 0;
    bytes[7] = 0; /* fewer announced than present: the rest is trailing */
    g_assert_cmpint(dns_parse(span, m), ==, DNS_OK);
    g_assert_cmpuint(m->rr_count, ==, 0);
    g_assert_cmpuint(m->trailing, ==, 16);

    /* All counts 65535 on a header alone. */
    uint8_t all[12] = { 0, 1, 0x81, 0x80, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
    uint8_t *copy = dns_test_copy(all, sizeof(all));
    byte_span_t alone = { copy, sizeof(all) };
    g_assert_cmpint(dns_parse(alone, m), ==, DNS_TRUNCATED);
    g_assert_cmpuint(m->question_count, ==, 0);
    g_free(copy);

    /* More questions and records than are kept: counted, not kept. */
    GByteArray *b = dns_test_header(2, 0x8180, 10, 70, 0, 0);
    for (int i = 0; i < 10; i++) {
        dns_test_name(b, "q.test");
        dns_test_be16(b, 1);
        dns_test_be16(b, 1);
    }
    for (int i = 0; i < 70; i++) {
        dns_test_pointer(b, 12);
        dns_test_rr_head(b, DNS_TYPE_A, DNS_CLASS_IN, 1, 4);
        dns_test_be32(b, 0x0a000000u + (uint32_t)i);
    }
    uint8_t *many = dns_test_copy(b->data, b->len);
    byte_span_t mspan = { many, b->len };
    g_assert_cmpint(dns_parse(mspan, m), ==, DNS_OK);
    g_assert_cmpuint(m->question_count, ==, DNS_MAX_QUESTIONS);
    g_assert_cmpuint(m->questions_read, ==, 10);
    g_assert_cmpuint(m->rr_count, ==, DNS_MAX_RRS);
    g_assert_cmpuint(m->rrs_read[DNS_SECTION_ANSWER], ==, 70);
    g_assert_cmpstr(m->rrs[DNS_MAX_RRS - 1].data, ==, "10.0.0.63");
    g_free(many);
    g_byte_array_free(b, TRUE);

    dns_message_free(m);
    g_free(bytes);
}

static bool same_rr(const dns_rr_t *a, const dns_rr_t *b)
{
    return a->section == b->section && strcmp(a->name, b->name) == 0 && a->type == b->type &&
           a->ttl == b->ttl && strcmp(a->data, b->data) == 0;
}

/* Every cut of every real response: truncated, never read past, and what
 * was kept is what the whole message gives. */
static void test_cut_at_every_byte(void)
{
    dns_message_t *whole = dns_message_new();
    dns_message_t *m = dns_message_new();
    for (size_t f = 0; f < dns_fx_response_count; f++) {
        size_t len;
        uint8_t *bytes = dns_test_unhex(dns_fx_responses[f]->hex, &len);
        byte_span_t all = { bytes, len };
        g_assert_cmpint(dns_parse(all, whole), ==, DNS_OK);
        unsigned prev_rrs = 0;
        for (size_t cut = 0; cut < len; cut++) {
            uint8_t *copy = dns_test_copy(bytes, cut);
            byte_span_t span = { copy, cut };
            dns_status_t st = dns_parse(span, m);
            if (cut < DNS_HEADER_LEN) {
                g_assert_cmpint(st, ==, DNS_NOT_DNS);
            } else {
                if (st != DNS_TRUNCATED)
                    g_test_message("%s cut at %zu: status %d", dns_fx_responses[f]->what, cut, st);
                g_assert_cmpint(st, ==, DNS_TRUNCATED);
                g_assert_cmpuint(m->rr_count, >=, prev_rrs);
                g_assert_cmpuint(m->rr_count, <, whole->rr_count + 1);
                prev_rrs = m->rr_count;
                for (unsigned i = 0; i < m->rr_count; i++)
                    g_assert_true(same_rr(&m->rrs[i], &whole->rrs[i]));
                for (unsigned i = 0; i < m->question_count; i++)
                    g_assert_cmpstr(m->questions[i].name, ==, whole->questions[i].name);
            }
            g_free(copy);
        }
        g_free(bytes);
    }
    dns_message_free(m);
    dns_message_free(whole);
}

/* Random damage to real messages, and random bytes: no crash, no overread,
 * every text terminated and within its bounds. */
static void test_random_damage(void)
{
    GRand *rng = g_rand_new_with_seed(20261122);
    dns_message_t *m = dns_message_new();
    for (int round = 0; round < 20000; round++) {
        size_t len;
        const dns_fixture_t *fx = dns_fx_responses[g_rand_int_range(rng, 0, (gint32)dns_fx_response_count)];
        uint8_t *bytes = dns_test_unhex(fx->hex, &len);
        int flips = g_rand_int_range(rng, 1, 6);
        for (int k = 0; k < flips; k++) {
            size_t at = (size_t)g_rand_int_range(rng, 0, (gint32)len);
            /* Favour bytes that steer the parser: lengths and pointers. */
            switch (g_rand_int_range(rng, 0, 4)) {
            case 0: bytes[at] = (uint8_t)g_rand_int(rng); break;
            case 1: bytes[at] = (uint8_t)(0xc0 | g_rand_int_range(rng, 0, 64)); break;
            case 2: bytes[at] = (uint8_t)g_rand_int_range(rng, 0, 64); break;
            default: bytes[at] ^= 0xff; break;
            }
        }
        size_t cut = g_rand_boolean(rng) ? len : (size_t)g_rand_int_range(rng, 0, (gint32)len + 1);
        uint8_t *copy = dns_test_copy(bytes, cut);
        byte_span_t span = { copy, cut };
        dns_parse(span, m);
        for (unsigned i = 0; i < m->rr_count; i++) {
            g_assert_cmpuint(strlen(m->rrs[i].name), <, DNS_NAME_TEXT_MAX);
            g_assert_cmpuint(strlen(m->rrs[i].data), <, DNS_DATA_TEXT_MAX);
        }
        (void)dns_looks_like(span);
        g_free(copy);
        g_free(bytes);
    }
    for (int round = 0; round < 5000; round++) {
        size_t len = (size_t)g_rand_int_range(rng, 0, 300);
        uint8_t *bytes = g_malloc(len ? len : 1);
        for (size_t i = 0; i < len; i++)
            bytes[i] = (uint8_t)g_rand_int(rng);
        byte_span_t span = { bytes, len };
        dns_parse(span, m);
        (void)dns_looks_like(span);
        g_free(bytes);
    }
    dns_message_free(m);
    g_rand_free(rng);
}

static void test_looks_like(void)
{
    const dns_fixture_t *yes[] = { &dns_fx_lab_query_ca, &dns_fx_lab_response_ca, &dns_fx_lab_response_cucm,
                                   &dns_fx_sv_query, &dns_fx_sv_response, &dns_fx_mx, &dns_fx_any };
    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        size_t len;
        uint8_t *bytes = dns_test_unhex(yes[i]->hex, &len);
        byte_span_t span = { bytes, len };
        g_assert_true(dns_looks_like(span));
        g_free(bytes);
    }
    /* A TLS ClientHello record start, text, a query with answers, an
     * UPDATE, no question, and a question that runs off the end. */
    static const char *const no[] = {
        "160301020001000200030303aabbccddeeff00112233",
        "474554202f20485454502f312e310d0a486f73743a20",
        "34f201000001000100000000026361076578616d706c6504746573740000010001",
        "34f229000001000000000000026361076578616d706c6504746573740000010001",
        "34f201000000000000000000",
        "34f20100000100000000000002636107657861",
        "",
    };
    for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
        size_t len;
        uint8_t *bytes = dns_test_unhex(no[i], &len);
        byte_span_t span = { bytes, len };
        g_assert_false(dns_looks_like(span));
        g_free(bytes);
    }
}

static void test_text_store_full(void)
{
    /* A question of 253 characters, then 64 CNAME records whose owner and
     * data both point at it: 64 * 3 * 254 bytes of text, more than the
     * store holds.  The texts that do not fit are "", and the message says
     * so. */
    GByteArray *b = dns_test_header(3, 0x8180, 1, 64, 0, 0);
    name_of_wire_length(b, 255); /* at 12 */
    dns_test_be16(b, DNS_TYPE_CNAME);
    dns_test_be16(b, DNS_CLASS_IN);
    for (int i = 0; i < 64; i++) {
        dns_test_pointer(b, 12);
        dns_test_rr_head(b, DNS_TYPE_CNAME, DNS_CLASS_IN, 1, 2);
        dns_test_pointer(b, 12);
    }
    parsed_t p = parse_array(b);
    g_assert_cmpint(p.m->status, ==, DNS_OK);
    g_assert_cmpuint(p.m->rr_count, ==, 64);
    g_assert_true(p.m->text_full);
    g_assert_cmpuint(strlen(p.m->questions[0].name), ==, 253);
    g_assert_cmpstr(p.m->rrs[0].name, ==, p.m->questions[0].name);
    g_assert_cmpstr(p.m->rrs[0].data, ==, p.m->questions[0].name);
    g_assert_cmpstr(p.m->rrs[63].name, ==, "");
    g_assert_cmpuint(p.m->text_len, <=, DNS_TEXT_MAX);
    parsed_free(&p);
    g_byte_array_free(b, TRUE);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/dns/lab-answer", test_lab_answer);
    g_test_add_func("/dns/lab-nxdomain-soa", test_lab_nxdomain_soa);
    g_test_add_func("/dns/edns-soa", test_edns_soa);
    g_test_add_func("/dns/txt", test_txt);
    g_test_add_func("/dns/mx-and-additional", test_mx_and_additional);
    g_test_add_func("/dns/ptr-aaaa-cname-ns-any", test_ptr_aaaa_cname_ns_any);
    g_test_add_func("/dns/generic-types", test_generic_types);
    g_test_add_func("/dns/srv-and-txt-escapes", test_srv_and_txt_escapes);
    g_test_add_func("/dns/rdata-that-does-not-fit", test_rdata_that_does_not_fit);
    g_test_add_func("/dns/edns-badvers", test_edns_badvers);
    g_test_add_func("/dns/names-of-numbers", test_names_of_numbers);
    g_test_add_func("/dns/compression-valid", test_compression_valid);
    g_test_add_func("/dns/compression-forward-rejected", test_compression_forward_rejected);
    g_test_add_func("/dns/compression-loop-rejected", test_compression_loop_rejected);
    g_test_add_func("/dns/compression-jump-limit", test_compression_jump_limit);
    g_test_add_func("/dns/name-length-limits", test_name_length_limits);
    g_test_add_func("/dns/label-types", test_label_types);
    g_test_add_func("/dns/name-escapes", test_name_escapes);
    g_test_add_func("/dns/lying-counts", test_lying_counts);
    g_test_add_func("/dns/cut-at-every-byte", test_cut_at_every_byte);
    g_test_add_func("/dns/random-damage", test_random_damage);
    g_test_add_func("/dns/looks-like", test_looks_like);
    g_test_add_func("/dns/text-store-full", test_text_store_full);
    return g_test_run();
}
