/* Unit tests for monitor/dns_flow.c, monitor/dns_names.c and the `dns`
 * event of output/eve_dns.c: queries paired with responses on one UDP flow
 * (by id, name and type; retransmissions; responses alone; responses from
 * the wrong side), unanswered queries given up after 10 s of packet time or
 * reported at flow end, the bounded table of waiting queries, DNS over TCP
 * cut at every byte, gaps, the names table and its bounds, and memory
 * returned.  A recording sink turns every transaction into one line.
 */
#include "dissectors/dns.h"
#include "dns_fixtures.h"
#include "flow_fixture.h"
#include "monitor/analysis.h"
#include "monitor/dns_flow.h"
#include "monitor/dns_names.h"
#include "test_support.h"

#include <glib.h>
#include <string.h>

/* ------------------------------------------------------------------ */
/* A sink that records                                                 */

typedef struct record_sink {
    event_sink_t base;
    GPtrArray *events; /* char*: one line per dns event */
} record_sink_t;

static void record_dns(event_sink_t *base, const flow_t *flow, const dns_transaction_t *tx,
                       const packet_info_t *at)
{
    record_sink_t *r = (record_sink_t *)base;
    (void)flow;
    GString *s = g_string_new(NULL);
    g_string_append_printf(s, "%s id=%04x q=%s/%u", dns_transport_name(tx->transport), tx->id,
                           tx->has_question ? tx->qname : "-", tx->qtype);
    if (!tx->query_seen)
        g_string_append(s, " query_unseen");
    else
        g_string_append_printf(s, " req=%" G_GUINT64_FORMAT, tx->request_at.pcap_cnt);
    if (tx->answered) {
        g_string_append_printf(s, " resp=%" G_GUINT64_FORMAT " %s", tx->response_at.pcap_cnt, tx->rcode_name);
        if (tx->query_seen)
            g_string_append_printf(s, " rt=%" G_GINT64_FORMAT, tx->response_us);
        for (unsigned i = 0; i < tx->answer_count; i++)
            g_string_append_printf(s, "%s%u:%s", i ? "," : " ans=", tx->answers[i]->type, tx->answers[i]->data);
        if (tx->authority_soa)
            g_string_append_printf(s, " soa=%s", tx->authority_soa->soa.mname);
    } else {
        g_string_append_printf(s, " unanswered=%s waited=%" G_GINT64_FORMAT, dns_unanswered_name(tx->unanswered),
                               tx->waited_us);
    }
    if (tx->retransmissions) {
        g_string_append_printf(s, " rtx=%u[", tx->retransmissions);
        for (unsigned i = 0; i < tx->retransmits_kept; i++)
            g_string_append_printf(s, "%s%" G_GUINT64_FORMAT, i ? "," : "", tx->retransmit_pcap_cnt[i]);
        g_string_append_c(s, ']');
    }
    g_string_append_printf(s, " at=%" G_GUINT64_FORMAT, at->pcap_cnt);
    g_ptr_array_add(r->events, g_string_free(s, FALSE));
}

static void record_destroy(event_sink_t *base)
{
    record_sink_t *r = (record_sink_t *)base;
    g_ptr_array_free(r->events, TRUE);
    g_free(r);
}

static record_sink_t *record_sink_new(void)
{
    record_sink_t *r = g_new0(record_sink_t, 1);
    r->base.dns = record_dns;
    r->base.destroy = record_destroy;
    r->events = g_ptr_array_new_with_free_func(g_free);
    return r;
}

/* ------------------------------------------------------------------ */
/* An analysis context and one flow                                    */

typedef struct fixture {
    analysis_t a;
    flow_t *flow;
    record_sink_t *rec;
} fixture_t;

static void fixture_init_limits(fixture_t *f, uint8_t proto, size_t global_memory, unsigned max_names)
{
    flow_fixture_analysis_init(&f->a, global_memory, 4u << 20);
    f->a.dns_names = dns_names_new(&f->a.memcap, max_names);
    f->rec = record_sink_new();
    flow_fixture_add_sink(&f->a, &f->rec->base);
    /* the phone asking the lab's name server, over UDP or TCP */
    const flow_fixture_spec_t phone_to_dns = {
        .id = 3,
        .proto = proto,
        .client_ip = { 10, 1, 1, 20 },
        .client_port = 44507,
        .server_ip = { 10, 1, 1, 2 },
        .server_port = 53,
    };
    f->flow = flow_fixture_flow_new(&phone_to_dns);
}

static void fixture_init(fixture_t *f, uint8_t proto)
{
    fixture_init_limits(f, proto, 64u << 20, 0);
}

/* Ends the flow, frees everything and checks every byte was given back. */
static void fixture_free(fixture_t *f)
{
    dns_flow_end(&f->a, f->flow);
    g_assert_null(f->flow->dns);
    g_assert_cmpuint(f->flow->memory.in_use, ==, 0);
    dns_names_free(f->a.dns_names);
    flow_fixture_assert_memory_returned(&f->a);
    flow_fixture_destroy(&f->a, f->flow);
}

static void at_packet(fixture_t *f, int64_t ts_us, uint64_t frame)
{
    f->a.packet.ts_us = ts_us;
    f->a.packet.pcap_cnt = frame;
    f->flow->last_ts_us = ts_us;
    f->flow->last_packet = f->a.packet;
}

static void send_bytes(fixture_t *f, bool from_client, const uint8_t *data, size_t len, int64_t ts_us,
                       uint64_t frame)
{
    at_packet(f, ts_us, frame);
    uint8_t *copy = dns_test_copy(data, len);
    byte_span_t span = { copy, len };
    dns_flow_datagram(&f->a, f->flow, from_client, span);
    g_free(copy);
}

static void send_hex(fixture_t *f, bool from_client, const char *hex, int64_t ts_us, uint64_t frame)
{
    size_t len;
    uint8_t *bytes = dns_test_unhex(hex, &len);
    send_bytes(f, from_client, bytes, len, ts_us, frame);
    g_free(bytes);
}

static void send_array(fixture_t *f, bool from_client, GByteArray *b, int64_t ts_us, uint64_t frame)
{
    send_bytes(f, from_client, b->data, b->len, ts_us, frame);
    g_byte_array_free(b, TRUE);
}

static GByteArray *query(uint16_t id, const char *name, uint16_t type)
{
    GByteArray *b = dns_test_header(id, 0x0100, 1, 0, 0, 0);
    dns_test_name(b, name);
    dns_test_be16(b, type);
    dns_test_be16(b, DNS_CLASS_IN);
    return b;
}

/* A response with one A answer (rcode 0) or none. */
static GByteArray *response(uint16_t id, const char *name, uint16_t type, unsigned rcode, uint32_t addr)
{
    GByteArray *b = dns_test_header(id, (uint16_t)(0x8180 | rcode), 1, rcode == 0 && addr ? 1 : 0, 0, 0);
    dns_test_name(b, name);
    dns_test_be16(b, type);
    dns_test_be16(b, DNS_CLASS_IN);
    if (rcode == 0 && addr) {
        dns_test_pointer(b, 12);
        dns_test_rr_head(b, DNS_TYPE_A, DNS_CLASS_IN, 60, 4);
        dns_test_be32(b, addr);
    }
    return b;
}

static const char *event(fixture_t *f, guint i)
{
    g_assert_cmpuint(i, <, f->rec->events->len);
    return g_ptr_array_index(f->rec->events, i);
}

static const dns_stats_t *stats(fixture_t *f)
{
    return dns_names_stats_const(f->a.dns_names);
}

#define SEC ((int64_t)1000000)
#define T0 ((int64_t)1795357880 * SEC)

/* ------------------------------------------------------------------ */
/* UDP                                                                 */

static void test_lab_pairs(void)
{
    fixture_t f;
    fixture_init(&f, IPPROTO_NUM_UDP);
    send_hex(&f, true, dns_fx_lab_query_ca.hex, T0, 1);
    send_hex(&f, false, dns_fx_lab_response_ca.hex, T0 + 164, 2);
    send_hex(&f, true, dns_fx_lab_query_cucm.hex, T0 + 1000, 3);
    g_assert_cmpuint(dns_flow_pending(f.flow), ==, 1);
    send_hex(&f, false, dns_fx_lab_response_cucm.hex, T0 + 1250, 4);
    g_assert_cmpuint(dns_flow_pending(f.flow), ==, 0);
    g_assert_cmpuint(f.rec->events->len, ==, 2);
    g_assert_cmpstr(event(&f, 0), ==, "udp id=34f2 q=ca.example.test/1 req=1 resp=2 NOERROR rt=164 ans=1:127.0.0.1 at=2");
    g_assert_cmpstr(event(&f, 1), ==,
                    "udp id=59af q=cucm-pub.example.test/1 req=3 resp=4 NXDOMAIN rt=250 soa=ns1.example.test at=4");
    g_assert_cmpuint(stats(&f)->queries, ==, 2);
    g_assert_cmpuint(stats(&f)->responses, ==, 2);
    g_assert_cmpuint(stats(&f)->answered, ==, 2);
    g_assert_cmpuint(stats(&f)->transactions, ==, 2);

    /* The names table ties the NXDOMAIN to the name. */
    const dns_name_result_t *cucm = dns_lookup_name(&f.a, "CUCM-PUB.example.test.");
    g_assert_nonnull(cucm);
    g_assert_cmpstr(cucm->name, ==, "cucm-pub.example.test");
    g_assert_cmpint(cucm->state, ==, DNS_NAME_ANSWERED);
    g_assert_cmpint(cucm->last_rcode, ==, DNS_RCODE_NXDOMAIN);
    g_assert_cmpuint(cucm->nxdomain, ==, 1);
    g_assert_cmpuint(cucm->queries, ==, 1);
    g_assert_cmpuint(cucm->last_query_at.pcap_cnt, ==, 3);
    g_assert_cmpuint(cucm->last_response_at.pcap_cnt, ==, 4);
    g_assert_cmpuint(cucm->last_failure_at.pcap_cnt, ==, 4);
    g_assert_false(cucm->has_address);
    g_assert_true(cucm->has_client);
    g_assert_cmpmem(cucm->client.bytes, 4, f.flow->client.addr.bytes, 4);
    g_assert_cmpuint(cucm->last_flow_id, ==, 3);
    const dns_name_result_t *ca = dns_lookup_name(&f.a, "ca.example.test");
    g_assert_nonnull(ca);
    g_assert_cmpint(ca->last_rcode, ==, 0);
    g_assert_true(ca->has_address);
    g_assert_cmpuint(ca->address.bytes[0], ==, 127);
    g_assert_cmpint(ca->last_response_us, ==, 164);
    g_assert_null(dns_lookup_name(&f.a, "example.test"));
    g_assert_cmpuint(dns_names_count(f.a.dns_names), ==, 2);
    fixture_free(&f);
}

static void test_pairing_by_id_name_type(void)
{
    fixture_t f;
    fixture_init(&f, IPPROTO_NUM_UDP);
    /* One client port, many questions; the same id for different names
     * and types; answers out of order. */
    send_array(&f, true, query(7, "a.test", DNS_TYPE_A), T0, 1);
    send_array(&f, true, query(7, "b.test", DNS_TYPE_A), T0 + 10, 2);
    send_array(&f, true, query(7, "a.test", DNS_TYPE_AAAA), T0 + 20, 3);
    send_array(&f, true, query(8, "c.test", DNS_TYPE_A), T0 + 30, 4);
    g_assert_cmpuint(dns_flow_pending(f.flow), ==, 4);
    send_array(&f, false, response(8, "c.test", DNS_TYPE_A, 0, 0x0a000003), T0 + 100, 5);
    send_array(&f, false, response(7, "B.TEST", DNS_TYPE_A, 0, 0x0a000002), T0 + 110, 6); /* 0x20 case */
    send_array(&f, false, response(7, "a.test", DNS_TYPE_AAAA, 3, 0), T0 + 120, 7);
    send_array(&f, false, response(7, "a.test", DNS_TYPE_A, 2, 0), T0 + 130, 8);
    g_assert_cmpuint(dns_flow_pending(f.flow), ==, 0);
    g_assert_cmpuint(f.rec->events->len, ==, 4);
    g_assert_cmpstr(event(&f, 0), ==, "udp id=0008 q=c.test/1 req=4 resp=5 NOERROR rt=70 ans=1:10.0.0.3 at=5");
    g_assert_cmpstr(event(&f, 1), ==, "udp id=0007 q=b.test/1 req=2 resp=6 NOERROR rt=100 ans=1:10.0.0.2 at=6");
    g_assert_cmpstr(event(&f, 2), ==, "udp id=0007 q=a.test/28 req=3 resp=7 NXDOMAIN rt=100 at=7");
    g_assert_cmpstr(event(&f, 3), ==, "udp id=0007 q=a.test/1 req=1 resp=8 SERVFAIL rt=130 at=8");
    /* The last word on a.test was SERVFAIL. */
    const dns_name_result_t *a = dns_lookup_name(&f.a, "a.test");
    g_assert_cmpint(a->last_rcode, ==, DNS_RCODE_SERVFAIL);
    g_assert_cmpuint(a->nxdomain, ==, 1);
    g_assert_cmpuint(a->failures, ==, 1);
    g_assert_cmpuint(a->queries, ==, 2);
    fixture_free(&f);
}

static void test_wrong_side_and_alone(void)
{
    fixture_t f;
    fixture_init(&f, IPPROTO_NUM_UDP);
    send_array(&f, true, query(9, "x.test", DNS_TYPE_A), T0, 1);
    /* A "response" from the side that asked does not answer it. */
    send_array(&f, true, response(9, "x.test", DNS_TYPE_A, 0, 0x01020304), T0 + 5, 2);
    g_assert_cmpuint(dns_flow_pending(f.flow), ==, 1);
    /* A response whose query was not seen. */
    send_hex(&f, false, dns_fx_ad_alone.hex, T0 + 6, 3);
    /* A response for another id. */
    send_array(&f, false, response(10, "x.test", DNS_TYPE_A, 0, 0x01020304), T0 + 7, 4);
    g_assert_cmpuint(f.rec->events->len, ==, 3);
    g_assert_cmpstr(event(&f, 0), ==, "udp id=0009 q=x.test/1 query_unseen resp=2 NOERROR ans=1:1.2.3.4 at=2");
    g_assert_cmpstr(event(&f, 1), ==, "udp id=200e q=ad.example.org/1 query_unseen resp=3 NOERROR ans=1:7.7.7.7 at=3");
    g_assert_cmpstr(event(&f, 2), ==, "udp id=000a q=x.test/1 query_unseen resp=4 NOERROR ans=1:1.2.3.4 at=4");
    g_assert_cmpuint(stats(&f)->responses_alone, ==, 3);
    at_packet(&f, T0 + 2 * SEC, 5);
    dns_flow_end(&f.a, f.flow);
    g_assert_cmpuint(f.rec->events->len, ==, 4);
    g_assert_cmpstr(event(&f, 3), ==, "udp id=0009 q=x.test/1 req=1 unanswered=flow_end waited=2000000 at=1");
    fixture_free(&f);
}

static void test_retransmission(void)
{
    fixture_t f;
    fixture_init(&f, IPPROTO_NUM_UDP);
    send_hex(&f, true, dns_fx_svc_query.hex, T0, 715);
    send_hex(&f, true, dns_fx_svc_query.hex, T0 + SEC, 716);
    g_assert_cmpuint(dns_flow_pending(f.flow), ==, 1);
    send_hex(&f, false, dns_fx_svc_response.hex, T0 + SEC + 300, 717);
    g_assert_cmpuint(f.rec->events->len, ==, 1);
    g_assert_cmpstr(event(&f, 0), ==,
                    "udp id=9120 q=svc-empty-alpn.example.com/65 req=715 resp=717 NOERROR rt=1000300 "
                    "ans=65:\\# 21 000100000100000003000201bb00040004c0000201 rtx=1[716] at=717");
    g_assert_cmpuint(stats(&f)->retransmissions, ==, 1);
    g_assert_cmpuint(dns_lookup_name(&f.a, "svc-empty-alpn.example.com")->queries, ==, 1);
    fixture_free(&f);
}

static void test_unanswered_expiry(void)
{
    fixture_t f;
    fixture_init(&f, IPPROTO_NUM_UDP);
    send_array(&f, true, query(1, "slow.test", DNS_TYPE_A), T0, 1);
    send_array(&f, true, query(2, "gone.test", DNS_TYPE_A), T0 + 2 * SEC, 2);
    /* Exactly 10 s later: not yet older than 10 s. */
    send_array(&f, true, query(3, "other.test", DNS_TYPE_A), T0 + 10 * SEC, 3);
    g_assert_cmpuint(f.rec->events->len, ==, 0);
    g_assert_cmpint(dns_lookup_name(&f.a, "slow.test")->state, ==, DNS_NAME_PENDING);
    /* One microsecond more: slow.test is given up, whatever the packet. */
    send_array(&f, false, response(3, "other.test", DNS_TYPE_A, 0, 0x0a000001), T0 + 10 * SEC + 1, 4);
    g_assert_cmpuint(f.rec->events->len, ==, 2);
    g_assert_cmpstr(event(&f, 0), ==, "udp id=0003 q=other.test/1 req=3 resp=4 NOERROR rt=1 ans=1:10.0.0.1 at=4");
    g_assert_cmpstr(event(&f, 1), ==, "udp id=0001 q=slow.test/1 req=1 unanswered=timeout waited=10000001 at=1");
    const dns_name_result_t *slow = dns_lookup_name(&f.a, "slow.test");
    g_assert_cmpint(slow->state, ==, DNS_NAME_UNANSWERED);
    g_assert_cmpuint(slow->unanswered, ==, 1);
    g_assert_cmpint(slow->last_rcode, ==, -1);
    g_assert_cmpuint(slow->last_failure_at.pcap_cnt, ==, 1);
    /* gone.test: its answer arrives late (11 s), as the next packet of the
     * flow: it still finds its query. */
    send_array(&f, false, response(2, "gone.test", DNS_TYPE_A, 3, 0), T0 + 13 * SEC, 5);
    g_assert_cmpuint(f.rec->events->len, ==, 3);
    g_assert_cmpstr(event(&f, 2), ==, "udp id=0002 q=gone.test/1 req=2 resp=5 NXDOMAIN rt=11000000 at=5");
    g_assert_cmpuint(stats(&f)->unanswered, ==, 1);
    fixture_free(&f);
}

static void test_answer_after_expiry_is_alone(void)
{
    fixture_t f;
    fixture_init(&f, IPPROTO_NUM_UDP);
    send_array(&f, true, query(1, "a.test", DNS_TYPE_A), T0, 1);
    send_array(&f, true, query(2, "b.test", DNS_TYPE_A), T0 + 11 * SEC, 2);
    send_array(&f, false, response(1, "a.test", DNS_TYPE_A, 0, 0x0a000001), T0 + 12 * SEC, 3);
    g_assert_cmpuint(f.rec->events->len, ==, 2);
    g_assert_cmpstr(event(&f, 0), ==, "udp id=0001 q=a.test/1 req=1 unanswered=timeout waited=11000000 at=1");
    g_assert_cmpstr(event(&f, 1), ==, "udp id=0001 q=a.test/1 query_unseen resp=3 NOERROR ans=1:10.0.0.1 at=3");
    /* The response came after all: the name's state follows it. */
    g_assert_cmpint(dns_lookup_name(&f.a, "a.test")->state, ==, DNS_NAME_ANSWERED);
    fixture_free(&f);
}

static void test_flow_end_reports_waiting(void)
{
    fixture_t f;
    fixture_init(&f, IPPROTO_NUM_UDP);
    send_hex(&f, true, dns_fx_lab_query_cucm.hex, T0, 3);
    send_array(&f, true, query(5, "second.test", DNS_TYPE_AAAA), T0 + 500, 4);
    g_assert_cmpuint(f.rec->events->len, ==, 0);
    at_packet(&f, T0 + 4 * SEC, 99); /* the packet that ended the flow, elsewhere */
    dns_flow_end(&f.a, f.flow);
    g_assert_null(f.flow->dns);
    g_assert_cmpuint(f.rec->events->len, ==, 2);
    g_assert_cmpstr(event(&f, 0), ==, "udp id=59af q=cucm-pub.example.test/1 req=3 unanswered=flow_end waited=4000000 at=3");
    g_assert_cmpstr(event(&f, 1), ==, "udp id=0005 q=second.test/28 req=4 unanswered=flow_end waited=3999500 at=4");
    g_assert_cmpint(dns_lookup_name(&f.a, "cucm-pub.example.test")->state, ==, DNS_NAME_UNANSWERED);
    /* Ending again, or a flow without DNS, is harmless. */
    dns_flow_end(&f.a, f.flow);
    g_assert_cmpuint(f.a.memcap.in_use, >, 0); /* the names table */
    fixture_free(&f);
}

static void test_pending_cap(void)
{
    fixture_t f;
    fixture_init(&f, IPPROTO_NUM_UDP);
    for (unsigned i = 0; i < DNS_FLOW_MAX_PENDING + 2; i++) {
        char name[32];
        snprintf(name, sizeof(name), "n%u.test", i);
        send_array(&f, true, query((uint16_t)i, name, DNS_TYPE_A), T0 + i, i + 1);
    }
    g_assert_cmpuint(dns_flow_pending(f.flow), ==, DNS_FLOW_MAX_PENDING);
    g_assert_cmpuint(stats(&f)->pending_cap_hits, ==, 2);
    g_assert_cmpuint(f.rec->events->len, ==, 2);
    g_assert_cmpstr(event(&f, 0), ==, "udp id=0000 q=n0.test/1 req=1 unanswered=evicted waited=64 at=1");
    g_assert_cmpstr(event(&f, 1), ==, "udp id=0001 q=n1.test/1 req=2 unanswered=evicted waited=64 at=2");
    /* The newest still pair. */
    send_array(&f, false, response(65, "n65.test", DNS_TYPE_A, 0, 0x0a000001), T0 + 100, 100);
    g_assert_cmpuint(f.rec->events->len, ==, 3);
    g_assert_cmpuint(dns_flow_pending(f.flow), ==, DNS_FLOW_MAX_PENDING - 1);
    fixture_free(&f);
}

static void test_memory_cap(void)
{
    /* A global cap too small for the DNS state: nothing is tracked, the
     * refusals are counted by the cap, nothing leaks. */
    fixture_t f;
    fixture_init_limits(&f, IPPROTO_NUM_UDP, 64, 0);
    send_hex(&f, true, dns_fx_lab_query_ca.hex, T0, 1);
    send_hex(&f, false, dns_fx_lab_response_ca.hex, T0 + 1, 2);
    g_assert_null(f.flow->dns);
    g_assert_cmpuint(f.rec->events->len, ==, 0);
    g_assert_cmpuint(f.a.memcap.hits[CAP_GLOBAL_MEMORY], >, 0);
    fixture_free(&f);

    /* Room for the flow state but not for a waiting query, nor a name. */
    fixture_init(&f, IPPROTO_NUM_UDP);
    send_bytes(&f, true, (const uint8_t *)"abc", 3, T0, 1); /* makes the state */
    g_assert_nonnull(f.flow->dns);
    f.a.memcap.global_limit = f.a.memcap.in_use;
    send_hex(&f, true, dns_fx_lab_query_ca.hex, T0, 2);
    g_assert_cmpuint(dns_flow_pending(f.flow), ==, 0);
    g_assert_cmpuint(stats(&f)->pending_not_kept, ==, 1);
    send_hex(&f, false, dns_fx_lab_response_ca.hex, T0 + 1, 3);
    g_assert_cmpuint(f.rec->events->len, ==, 1);
    g_assert_cmpstr(event(&f, 0), ==, "udp id=34f2 q=ca.example.test/1 query_unseen resp=3 NOERROR ans=1:127.0.0.1 at=3");
    g_assert_cmpuint(stats(&f)->names_not_kept, ==, 1);
    g_assert_null(dns_lookup_name(&f.a, "ca.example.test"));
    fixture_free(&f);
}

static void test_not_dns_and_damaged(void)
{
    fixture_t f;
    fixture_init(&f, IPPROTO_NUM_UDP);
    send_bytes(&f, true, (const uint8_t *)"abc", 3, T0, 1);
    send_bytes(&f, true, (const uint8_t *)"", 0, T0, 2);
    g_assert_cmpuint(stats(&f)->not_dns, ==, 2);
    /* A query whose question loops: tracked by id alone; its response
     * (question readable) answers it. */
    GByteArray *b = dns_test_header(0x55, 0x0100, 1, 0, 0, 0);
    dns_test_labels(b, "a");
    dns_test_pointer(b, 12);
    dns_test_be32(b, 0x00010001);
    send_array(&f, true, b, T0 + 1, 3);
    g_assert_cmpuint(stats(&f)->malformed, ==, 1);
    send_array(&f, false, response(0x55, "a.test", DNS_TYPE_A, 1, 0), T0 + 2, 4);
    g_assert_cmpstr(event(&f, 0), ==, "udp id=0055 q=a.test/1 req=3 resp=4 FORMERR rt=1 at=4");
    /* A response cut short: what was read is reported. */
    size_t len;
    uint8_t *bytes = dns_test_unhex(dns_fx_mx.hex, &len);
    send_bytes(&f, false, bytes, 100, T0 + 3, 5);
    g_free(bytes);
    g_assert_cmpuint(stats(&f)->truncated, ==, 1);
    g_assert_cmpstr(event(&f, 1), ==,
                    "udp id=f76f q=google.com/15 query_unseen resp=5 NOERROR ans=15:40 smtp4.google.com,"
                    "15:10 smtp5.google.com,15:10 smtp6.google.com at=5");
    fixture_free(&f);
}

/* ------------------------------------------------------------------ */
/* TCP                                                                 */

static void tcp_deliver(fixture_t *f, int dir, const uint8_t *data, size_t len)
{
    uint8_t *copy = dns_test_copy(data, len);
    byte_span_t span = { copy, len };
    dns_flow_stream(&f->a, f->flow, dir, dir == DIR_TO_SERVER, span);
    g_free(copy);
}

/* The query and the response of frames 353-354, each direction cut into
 * pieces at the given points. */
static GPtrArray *run_tcp(const size_t *cuts_q, size_t ncuts_q, const size_t *cuts_r, size_t ncuts_r)
{
    fixture_t f;
    fixture_init(&f, IPPROTO_NUM_TCP);
    size_t qlen, rlen;
    uint8_t *q = dns_test_unhex(dns_fx_tcp_query.hex, &qlen);
    uint8_t *r = dns_test_unhex(dns_fx_tcp_response.hex, &rlen);
    at_packet(&f, T0, 353);
    size_t from = 0;
    for (size_t i = 0; i <= ncuts_q; i++) {
        size_t to = i < ncuts_q ? cuts_q[i] : qlen;
        tcp_deliver(&f, DIR_TO_SERVER, q + from, to - from);
        from = to;
    }
    at_packet(&f, T0 + SEC, 354);
    from = 0;
    for (size_t i = 0; i <= ncuts_r; i++) {
        size_t to = i < ncuts_r ? cuts_r[i] : rlen;
        tcp_deliver(&f, DIR_TO_CLIENT, r + from, to - from);
        from = to;
    }
    g_free(q);
    g_free(r);
    GPtrArray *events = f.rec->events;
    f.rec->events = g_ptr_array_new_with_free_func(g_free);
    fixture_free(&f);
    return events;
}

static void test_tcp_split_everywhere(void)
{
    GPtrArray *whole = run_tcp(NULL, 0, NULL, 0);
    g_assert_cmpuint(whole->len, ==, 1);
    g_assert_cmpstr(g_ptr_array_index(whole, 0), ==,
                    "tcp id=200d q=tcptest.example.org/1 req=353 resp=354 NOERROR rt=1000000 ans=1:10.10.10.10 at=354");
    size_t qlen = strlen(dns_fx_tcp_query.hex) / 2, rlen = strlen(dns_fx_tcp_response.hex) / 2;
    for (size_t c = 1; c < qlen; c++) {
        GPtrArray *e = run_tcp(&c, 1, NULL, 0);
        g_assert_cmpuint(e->len, ==, 1);
        g_assert_cmpstr(g_ptr_array_index(e, 0), ==, g_ptr_array_index(whole, 0));
        g_ptr_array_free(e, TRUE);
    }
    for (size_t c = 1; c < rlen; c++) {
        GPtrArray *e = run_tcp(NULL, 0, &c, 1);
        g_assert_cmpuint(e->len, ==, 1);
        g_assert_cmpstr(g_ptr_array_index(e, 0), ==, g_ptr_array_index(whole, 0));
        g_ptr_array_free(e, TRUE);
    }
    /* One byte at a time, both ways. */
    size_t *qc = g_new(size_t, qlen), *rc = g_new(size_t, rlen);
    for (size_t i = 0; i < qlen - 1; i++)
        qc[i] = i + 1;
    for (size_t i = 0; i < rlen - 1; i++)
        rc[i] = i + 1;
    GPtrArray *e = run_tcp(qc, qlen - 1, rc, rlen - 1);
    g_assert_cmpuint(e->len, ==, 1);
    g_assert_cmpstr(g_ptr_array_index(e, 0), ==, g_ptr_array_index(whole, 0));
    g_ptr_array_free(e, TRUE);
    g_free(qc);
    g_free(rc);
    g_ptr_array_free(whole, TRUE);
}

static GByteArray *tcp_framed(GByteArray *msg)
{
    GByteArray *b = g_byte_array_new();
    dns_test_be16(b, (uint16_t)msg->len);
    dns_test_bytes(b, msg->data, msg->len);
    g_byte_array_free(msg, TRUE);
    return b;
}

static void test_tcp_pipelined_gap_and_garbage(void)
{
    fixture_t f;
    fixture_init(&f, IPPROTO_NUM_TCP);
    /* Three queries in one delivery. */
    GByteArray *qs = g_byte_array_new();
    for (uint16_t id = 1; id <= 3; id++) {
        char name[16];
        snprintf(name, sizeof(name), "p%u.test", id);
        GByteArray *m = tcp_framed(query(id, name, DNS_TYPE_A));
        dns_test_bytes(qs, m->data, m->len);
        g_byte_array_free(m, TRUE);
    }
    at_packet(&f, T0, 10);
    tcp_deliver(&f, DIR_TO_SERVER, qs->data, qs->len);
    g_byte_array_free(qs, TRUE);
    g_assert_cmpuint(dns_flow_pending(f.flow), ==, 3);

    /* The first response arrives half, then a gap: it is lost; the next
     * delivery starts a message and is read. */
    GByteArray *r1 = tcp_framed(response(1, "p1.test", DNS_TYPE_A, 0, 0x0a000001));
    at_packet(&f, T0 + 1, 11);
    tcp_deliver(&f, DIR_TO_CLIENT, r1->data, r1->len / 2);
    dns_flow_gap(&f.a, f.flow, DIR_TO_CLIENT);
    g_byte_array_free(r1, TRUE);
    /* Bytes that do not start a message, after the gap: skipped. */
    at_packet(&f, T0 + 2, 12);
    tcp_deliver(&f, DIR_TO_CLIENT, (const uint8_t *)"\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f", 15);
    GByteArray *r2 = tcp_framed(response(2, "p2.test", DNS_TYPE_A, 3, 0));
    at_packet(&f, T0 + 3, 13);
    tcp_deliver(&f, DIR_TO_CLIENT, r2->data, r2->len);
    g_byte_array_free(r2, TRUE);
    g_assert_cmpuint(f.rec->events->len, ==, 1);
    g_assert_cmpstr(event(&f, 0), ==, "tcp id=0002 q=p2.test/1 req=10 resp=13 NXDOMAIN rt=3 at=13");

    /* A length below a header: framing lost, counted. */
    at_packet(&f, T0 + 4, 14);
    tcp_deliver(&f, DIR_TO_CLIENT, (const uint8_t *)"\x00\x05hello", 7);
    g_assert_cmpuint(stats(&f)->tcp_framing_lost, ==, 1);
    GByteArray *r3 = tcp_framed(response(3, "p3.test", DNS_TYPE_A, 0, 0x0a000003));
    at_packet(&f, T0 + 5, 15);
    tcp_deliver(&f, DIR_TO_CLIENT, r3->data, r3->len);
    g_byte_array_free(r3, TRUE);
    g_assert_cmpuint(f.rec->events->len, ==, 2);
    g_assert_cmpstr(event(&f, 1), ==, "tcp id=0003 q=p3.test/1 req=10 resp=15 NOERROR rt=5 ans=1:10.0.0.3 at=15");

    /* Queries waiting on TCP expire too, on the next delivery. */
    at_packet(&f, T0 + 20 * SEC, 16);
    tcp_deliver(&f, DIR_TO_SERVER, (const uint8_t *)"", 0);
    g_assert_cmpuint(f.rec->events->len, ==, 3);
    g_assert_cmpstr(event(&f, 2), ==, "tcp id=0001 q=p1.test/1 req=10 unanswered=timeout waited=20000000 at=10");
    fixture_free(&f);
}

static void test_tcp_buffer_cap(void)
{
    /* A message larger than the flow may buffer: the cap refuses, the
     * direction loses its framing, nothing leaks. */
    fixture_t f;
    fixture_init(&f, IPPROTO_NUM_TCP);
    memcap_init(&f.a.memcap, 64u << 20, 512);
    uint8_t big[2 + 12 + 30];
    memset(big, 0, sizeof(big));
    big[0] = 0x10; /* 4096 bytes announced */
    big[5] = 1;
    at_packet(&f, T0, 1);
    tcp_deliver(&f, DIR_TO_SERVER, big, sizeof(big));
    for (int i = 0; i < 20; i++)
        tcp_deliver(&f, DIR_TO_SERVER, big + 14, 30);
    g_assert_cmpuint(f.a.memcap.hits[CAP_FLOW_MEMORY], >, 0);
    g_assert_cmpuint(stats(&f)->tcp_framing_lost, ==, 1);
    fixture_free(&f);
}

/* ------------------------------------------------------------------ */
/* The names table                                                     */

typedef struct visit_ctx {
    GString *order;
} visit_ctx_t;

static void visit(const dns_name_result_t *e, void *ctx)
{
    visit_ctx_t *v = ctx;
    g_string_append_printf(v->order, "%s%s:%s", v->order->len ? " " : "", e->name, dns_name_state_name(e->state));
}

static void test_names_bounded(void)
{
    memcap_t mc;
    memcap_init(&mc, 1u << 20, 1u << 20);
    dns_names_t *t = dns_names_new(&mc, 3);
    packet_info_t at = { T0, NULL, 1 };
    /* bad.test NXDOMAIN, then three successes: the successes make room
     * for each other, the failure stays. */
    dns_names_note_query(t, "bad.test", 1, NULL, true, &at);
    dns_names_note_response(t, "bad.test", 1, 3, 0, NULL, 10, NULL, &at);
    const char *ok[] = { "a.test", "b.test", "c.test", "d.test" };
    ip_addr_t addr = { 4, { 10, 0, 0, 1 } };
    for (int i = 0; i < 4; i++) {
        at.pcap_cnt = (uint64_t)(i + 2);
        dns_names_note_query(t, ok[i], 1, NULL, true, &at);
        dns_names_note_response(t, ok[i], 1, 0, 1, &addr, 10, NULL, &at);
    }
    g_assert_cmpuint(dns_names_count(t), ==, 3);
    g_assert_nonnull(dns_names_lookup(t, "bad.test"));
    g_assert_null(dns_names_lookup(t, "a.test"));
    g_assert_null(dns_names_lookup(t, "b.test"));
    g_assert_nonnull(dns_names_lookup(t, "d.test"));
    g_assert_cmpuint(dns_names_stats_const(t)->names_evicted, ==, 2);
    visit_ctx_t v = { g_string_new(NULL) };
    dns_names_foreach(t, visit, &v);
    g_assert_cmpstr(v.order->str, ==, "bad.test:answered c.test:answered d.test:answered");
    g_string_free(v.order, TRUE);

    /* Only failures held: the oldest failure goes. */
    for (int i = 0; i < 3; i++) {
        char name[16];
        snprintf(name, sizeof(name), "f%d.test", i);
        dns_names_note_query(t, name, 1, NULL, true, &at);
    }
    g_assert_null(dns_names_lookup(t, "bad.test"));
    g_assert_nonnull(dns_names_lookup(t, "f0.test"));
    g_assert_cmpint(dns_names_lookup(t, "f0.test")->state, ==, DNS_NAME_PENDING);
    /* Nameless and NULL tables are ignored. */
    dns_names_note_query(t, "", 1, NULL, true, &at);
    dns_names_note_query(NULL, "x", 1, NULL, true, &at);
    g_assert_null(dns_names_lookup(NULL, "x"));
    g_assert_null(dns_names_stats(NULL));
    g_assert_cmpuint(dns_names_stats_const(NULL)->messages, ==, 0);
    g_assert_cmpuint(dns_names_count(t), ==, 3);
    dns_names_free(t);
    dns_names_free(NULL);
    g_assert_cmpuint(mc.in_use, ==, 0);
}

static void test_names_last_question_decides(void)
{
    fixture_t f;
    fixture_init(&f, IPPROTO_NUM_UDP);
    /* Asked twice; the second answered, the first then given up: the name
     * stays answered. */
    send_array(&f, true, query(1, "n.test", DNS_TYPE_A), T0, 1);
    send_array(&f, true, query(2, "n.test", DNS_TYPE_A), T0 + 9 * SEC, 2);
    send_array(&f, false, response(2, "n.test", DNS_TYPE_A, 0, 0x0a000001), T0 + 11 * SEC, 3);
    g_assert_cmpuint(f.rec->events->len, ==, 2);
    const dns_name_result_t *n = dns_lookup_name(&f.a, "n.test");
    g_assert_cmpint(n->state, ==, DNS_NAME_ANSWERED);
    g_assert_cmpuint(n->unanswered, ==, 1);
    g_assert_cmpuint(n->queries, ==, 2);
    g_assert_cmpuint(n->responses, ==, 1);
    fixture_free(&f);
}

/* ------------------------------------------------------------------ */
/* The `dns` event                                                     */

static char *run_eve(void (*feed)(fixture_t *f))
{
    fixture_t f;
    fixture_init(&f, IPPROTO_NUM_UDP);
    eve_file_t events;
    eve_file_open(&events, &f.a, "enrollmon-dns-XXXXXX");
    feed(&f);
    fixture_free(&f); /* flushes and closes the sink */
    char *text = read_text_file(events.path);
    eve_file_remove(&events);
    return text;
}

static void feed_lab(fixture_t *f)
{
    f->a.packet.pcap_file = "dns-nxdomain.pcapng";
    send_hex(f, true, dns_fx_lab_query_ca.hex, T0, 1);
    send_hex(f, false, dns_fx_lab_response_ca.hex, T0 + 164, 2);
    send_hex(f, true, dns_fx_lab_query_cucm.hex, T0 + 1000, 3);
    send_hex(f, false, dns_fx_lab_response_cucm.hex, T0 + 1250, 4);
    send_array(f, true, query(0x77, "never.example.test", DNS_TYPE_AAAA), T0 + 2000, 5);
    send_hex(f, true, dns_fx_svc_query.hex, T0 + 3000, 6);
    send_hex(f, true, dns_fx_svc_query.hex, T0 + 4000, 7);
    send_hex(f, false, dns_fx_svc_response.hex, T0 + 5000, 8);
    send_hex(f, false, dns_fx_ad_alone.hex, T0 + 6000, 9);
    at_packet(f, T0 + 3 * SEC, 10);
}

static void test_eve_event(void)
{
    char *text = run_eve(feed_lab);
    gchar **lines = g_strsplit(text, "\n", -1);
    g_assert_cmpuint(g_strv_length(lines), ==, 6); /* five events and the empty end */
    const char *ca = lines[0];
    g_assert_true(g_str_has_prefix(ca, "{\"timestamp\":\"2026-11-22T14:31:20.000164+0000\",\"event_type\":\"dns\","
                                       "\"pcap_file\":\"dns-nxdomain.pcapng\",\"pcap_cnt\":2,\"flow_id\":3,"
                                       "\"src_ip\":\"10.1.1.20\",\"src_port\":44507,\"dest_ip\":\"10.1.1.2\","
                                       "\"dest_port\":53,\"proto\":\"UDP\",\"dns\":{"));
    g_assert_nonnull(strstr(ca, "\"dns\":{\"id\":13554,\"query\":\"ca.example.test\",\"qtype\":1,\"qtype_name\":\"A\","
                                "\"answered\":true,\"query_seen\":true,\"transport\":\"udp\",\"rcode\":0,"
                                "\"rcode_name\":\"NOERROR\",\"response_ms\":0,\"response_us\":164,\"flags\":\"8580\","
                                "\"qr\":true,\"aa\":true,\"rd\":true,\"ra\":true,"
                                "\"answers\":[{\"name\":\"ca.example.test\",\"type\":1,\"type_name\":\"A\",\"ttl\":300,"
                                "\"data\":\"127.0.0.1\"}],\"request_pcap_cnt\":1}}"));
    const char *cucm = lines[1];
    g_assert_nonnull(strstr(cucm, "\"pcap_cnt\":4,"));
    g_assert_nonnull(strstr(cucm, "\"query\":\"cucm-pub.example.test\""));
    g_assert_nonnull(strstr(cucm, "\"rcode\":3,\"rcode_name\":\"NXDOMAIN\""));
    g_assert_nonnull(strstr(cucm, "\"answers\":[],\"authority\":{\"name\":\"example.test\",\"type_name\":\"SOA\","
                                  "\"ttl\":300,\"mname\":\"ns1.example.test\",\"rname\":\"hostmaster.example.test\","
                                  "\"serial\":2024010101,\"refresh\":3600,\"retry\":600,\"expire\":86400,"
                                  "\"minimum\":300},\"request_pcap_cnt\":3}"));
    const char *svc = lines[2];
    g_assert_nonnull(strstr(svc, "\"pcap_cnt\":8,"));
    g_assert_nonnull(strstr(svc, "\"qtype\":65,\"qtype_name\":\"HTTPS\""));
    g_assert_nonnull(strstr(svc, "\"response_ms\":2,\"response_us\":2000"));
    g_assert_nonnull(strstr(svc, "\"request_pcap_cnt\":6,\"retransmissions\":1,\"retransmit_pcap_cnt\":[7]"));
    const char *alone = lines[3];
    g_assert_nonnull(strstr(alone, "\"pcap_cnt\":9,"));
    g_assert_nonnull(strstr(alone, "\"answered\":true,\"query_seen\":false"));
    g_assert_null(strstr(alone, "request_pcap_cnt"));
    g_assert_null(strstr(alone, "response_ms"));
    g_assert_nonnull(strstr(alone, "\"ad\":true"));
    const char *never = lines[4];
    g_assert_true(g_str_has_prefix(never, "{\"timestamp\":\"2026-11-22T14:31:20.002000+0000\""));
    g_assert_nonnull(strstr(never, "\"pcap_cnt\":5,"));
    g_assert_nonnull(strstr(never, "\"query\":\"never.example.test\",\"qtype\":28,\"qtype_name\":\"AAAA\","
                                   "\"answered\":false,\"query_seen\":true,\"transport\":\"udp\",\"rcode\":null,"
                                   "\"rcode_name\":null,\"waited_ms\":2998,\"waited_us\":2998000,"
                                   "\"unanswered_reason\":\"flow_end\",\"flags\":\"0100\",\"rd\":true,\"answers\":[],"
                                   "\"request_pcap_cnt\":5}}"));
    g_strfreev(lines);
    g_free(text);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/dns-flow/lab-pairs", test_lab_pairs);
    g_test_add_func("/dns-flow/pairing-by-id-name-type", test_pairing_by_id_name_type);
    g_test_add_func("/dns-flow/wrong-side-and-alone", test_wrong_side_and_alone);
    g_test_add_func("/dns-flow/retransmission", test_retransmission);
    g_test_add_func("/dns-flow/unanswered-expiry", test_unanswered_expiry);
    g_test_add_func("/dns-flow/answer-after-expiry-is-alone", test_answer_after_expiry_is_alone);
    g_test_add_func("/dns-flow/flow-end-reports-waiting", test_flow_end_reports_waiting);
    g_test_add_func("/dns-flow/pending-cap", test_pending_cap);
    g_test_add_func("/dns-flow/memory-cap", test_memory_cap);
    g_test_add_func("/dns-flow/not-dns-and-damaged", test_not_dns_and_damaged);
    g_test_add_func("/dns-flow/tcp-split-everywhere", test_tcp_split_everywhere);
    g_test_add_func("/dns-flow/tcp-pipelined-gap-and-garbage", test_tcp_pipelined_gap_and_garbage);
    g_test_add_func("/dns-flow/tcp-buffer-cap", test_tcp_buffer_cap);
    g_test_add_func("/dns-flow/names-bounded", test_names_bounded);
    g_test_add_func("/dns-flow/names-last-question-decides", test_names_last_question_decides);
    g_test_add_func("/dns-flow/eve-event", test_eve_event);
    return g_test_run();
}
