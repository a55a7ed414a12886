/* Unit tests for the DNS verdict rule (monitor/diag_dns.c): transactions
 * made by hand (dns_transaction_t) go through diagnosis_dns and the
 * verdicts are read from a sink.  Covered: NXDOMAIN and never-answered
 * queries for names of interest (patterns, case, the final dot), answers
 * that are no failure, names not of interest kept until a party uses them
 * (an enrollment request's Host, or diag_parties_note_name), the bounded
 * list of those, repeats folded, the address that asked, and memory.
 */
#include "monitor/diag_internal.h"
#include "monitor/diagnosis.h"
#include "monitor/dns_flow.h"
#include "monitor/http_flow.h"
#include "monitor/verdict.h"
#include "verdict_sink.h"

#include <glib.h>
#include <string.h>

#define T0 ((int64_t)1700000000 * 1000000)
#define MS ((int64_t)1000)
#define SEC ((int64_t)1000000)

typedef struct fixture {
    diag_fixture_t diag;
    flow_t *flow; /* 10.0.0.2:5353 -> 10.0.0.53:53, UDP */
} fixture_t;

/* patterns: NULL for the default names of interest. */
static void fixture_init_with(fixture_t *f, const char *const *patterns)
{
    diag_fixture_prepare(&f->diag, 64u << 20, 1u << 20);
    if (patterns) {
        g_strfreev(f->diag.config.names_of_interest);
        f->diag.config.names_of_interest = g_strdupv((char **)patterns);
    }
    diag_fixture_start(&f->diag);
    flow_fixture_spec_t spec = { .id = 1, .proto = IPPROTO_NUM_UDP, .client_ip = { 10, 0, 0, 2 },
                                 .client_port = 5353, .server_ip = { 10, 0, 0, 53 }, .server_port = 53 };
    f->flow = flow_fixture_flow_new(&spec);
}

static void fixture_init(fixture_t *f)
{
    fixture_init_with(f, NULL);
}

static void fixture_destroy(fixture_t *f)
{
    diagnosis_flow_end(f->diag.d, f->flow, FLOW_END_CAPTURE_END);
    diag_fixture_destroy(&f->diag, f->flow);
}

/* ---- transactions ---- */

static packet_info_t packet(int64_t ts_us, uint64_t frame)
{
    return (packet_info_t){ ts_us, "t.pcap", frame };
}

/* A query (frame) answered with rcode at frame + 1. */
static void answered(fixture_t *f, const char *name, unsigned rcode, int64_t ts_us, uint64_t frame)
{
    dns_rr_t soa = { 0 };
    soa.name = "example.test";
    dns_transaction_t tx = { 0 };
    tx.query_seen = true;
    tx.answered = true;
    tx.query_from_client = true;
    tx.id = 0x1234;
    tx.has_question = true;
    tx.qname = name;
    tx.qtype = 1;
    tx.qclass = 1;
    tx.rcode = rcode;
    tx.rcode_name = rcode == 3 ? "NXDOMAIN" : rcode == 0 ? "NOERROR" : "SERVFAIL";
    tx.authority_soa = rcode == 3 ? &soa : NULL;
    tx.request_at = packet(ts_us, frame);
    tx.response_at = packet(ts_us + 200, frame + 1);
    tx.response_us = 200;
    f->diag.a.packet = tx.response_at;
    diagnosis_tick(f->diag.d, tx.response_at.ts_us, &tx.response_at);
    diagnosis_dns(f->diag.d, f->flow, &tx, &tx.response_at);
}

/* A query never answered, reported as `why` at now_us. */
static void unanswered(fixture_t *f, const char *name, dns_unanswered_t why, int64_t ts_us,
                       int64_t waited_us, int64_t now_us, uint64_t frame)
{
    dns_transaction_t tx = { 0 };
    tx.query_seen = true;
    tx.query_from_client = true;
    tx.unanswered = why;
    tx.has_question = true;
    tx.qname = name;
    tx.qtype = 28;
    tx.qclass = 1;
    tx.request_at = packet(ts_us, frame);
    tx.waited_us = waited_us;
    tx.retransmissions = 2;
    tx.retransmits_kept = 2;
    tx.retransmit_pcap_cnt[0] = frame + 1;
    tx.retransmit_pcap_cnt[1] = frame + 2;
    f->diag.a.packet = packet(now_us, frame + 3);
    diagnosis_tick(f->diag.d, now_us, &f->diag.a.packet);
    diagnosis_dns(f->diag.d, f->flow, &tx, &f->diag.a.packet);
}

/* ------------------------------------------------------------------ */

static void test_nxdomain(void)
{
    fixture_t f;
    fixture_init(&f);
    answered(&f, "cucm-pub.example.test", 3, T0, 3);
    g_assert_cmpuint(verdict_count(f.diag.sink), ==, 1);
    const verdict_t *v = verdict_nth(f.diag.sink, 0);
    verdict_assert_is(v, V_DNS_NXDOMAIN, VERDICT_ERROR, "10.0.0.2", true);
    g_assert_cmpstr(v->client, ==, "10.0.0.2");
    g_assert_cmpstr(v->server, ==, "10.0.0.53:53");
    g_assert_true(verdict_has_evidence(v, 3) && verdict_has_evidence(v, 4));
    g_assert_cmpuint(v->flow_count, ==, 1);
    g_assert_cmpstr(verdict_fact_find(v, "name")->text, ==, "cucm-pub.example.test");
    g_assert_cmpstr(verdict_fact_find(v, "rcode")->text, ==, "NXDOMAIN");
    g_assert_cmpstr(verdict_fact_find(v, "qtype")->text, ==, "A");
    g_assert_nonnull(strstr(v->summary, "cucm-pub.example.test"));
    g_assert_nonnull(strstr(v->summary, "NXDOMAIN"));
    g_assert_nonnull(strstr(v->summary, "example.test)")); /* the zone */
    /* the same name again: one verdict, counted */
    answered(&f, "cucm-pub.example.test", 3, T0 + 30 * SEC, 10);
    g_assert_cmpuint(verdict_count(f.diag.sink), ==, 2);
    g_assert_true(verdict_nth(f.diag.sink, 1)->update);
    g_assert_cmpuint(verdict_nth(f.diag.sink, 1)->count, ==, 2);
    /* case and the final dot do not matter */
    answered(&f, "CAPF.Example.TEST.", 3, T0 + 31 * SEC, 12);
    g_assert_cmpuint(verdict_count(f.diag.sink), ==, 3);
    g_assert_cmpstr(verdict_fact_find(verdict_nth(f.diag.sink, 2), "name")->text, ==, "capf.example.test");
    /* answers that are no NXDOMAIN, names of no interest: nothing */
    answered(&f, "cucm-pub.example.test", 0, T0 + 32 * SEC, 14);
    answered(&f, "cucm-pub.example.test", 2, T0 + 33 * SEC, 16);
    answered(&f, "www.example.org", 3, T0 + 34 * SEC, 18);
    answered(&f, "", 3, T0 + 35 * SEC, 20);
    g_assert_cmpuint(verdict_count(f.diag.sink), ==, 3);
    fixture_destroy(&f);
}

/* The response alone (query not captured) went to the flow's client side
 * or server side: the verdict names the side that asked. */
static void test_asker(void)
{
    fixture_t f;
    fixture_init(&f);
    dns_transaction_t tx = { 0 };
    tx.answered = true;
    tx.query_from_client = false; /* the flow's "server" asked */
    tx.has_question = true;
    tx.qname = "ca.example.test";
    tx.qtype = 1;
    tx.rcode = 3;
    tx.response_at = packet(T0, 7);
    diagnosis_dns(f.diag.d, f.flow, &tx, &tx.response_at);
    g_assert_cmpuint(verdict_count(f.diag.sink), ==, 1);
    g_assert_cmpstr(verdict_nth(f.diag.sink, 0)->device, ==, "10.0.0.53");
    g_assert_cmpstr(verdict_nth(f.diag.sink, 0)->server, ==, "10.0.0.2:5353");
    g_assert_true(verdict_has_evidence(verdict_nth(f.diag.sink, 0), 7));
    fixture_destroy(&f);
}

static void test_never_answered(void)
{
    fixture_t f;
    fixture_init(&f);
    /* given up by the DNS layer after its timeout */
    unanswered(&f, "ciscora.example.test", DNS_UNANSWERED_TIMEOUT, T0, 10 * SEC, T0 + 11 * SEC, 20);
    g_assert_cmpuint(verdict_count(f.diag.sink), ==, 1);
    const verdict_t *v = verdict_nth(f.diag.sink, 0);
    g_assert_cmpint(v->id, ==, V_DNS_NXDOMAIN);
    g_assert_nonnull(strstr(v->summary, "never answered"));
    g_assert_cmpstr(verdict_fact_find(v, "rcode")->text, ==, "none");
    g_assert_cmpstr(verdict_fact_find(v, "qtype")->text, ==, "AAAA");
    g_assert_cmpint(verdict_fact_find(v, "waited_ms")->number, ==, 10000);
    g_assert_true(verdict_has_evidence(v, 20) && verdict_has_evidence(v, 21) && verdict_has_evidence(v, 22));
    /* the flow ended 300 ms after the query because the capture did: not known */
    unanswered(&f, "enroll.example.test", DNS_UNANSWERED_FLOW_END, T0 + 20 * SEC, 300 * MS,
               T0 + 20 * SEC + 300 * MS, 30);
    g_assert_cmpuint(verdict_count(f.diag.sink), ==, 1);
    /* the flow idled out long after the query: never answered */
    unanswered(&f, "enroll.example.test", DNS_UNANSWERED_FLOW_END, T0 + 30 * SEC, 0,
               T0 + 130 * SEC, 40);
    g_assert_cmpuint(verdict_count(f.diag.sink), ==, 2);
    g_assert_cmpint(verdict_fact_find(verdict_nth(f.diag.sink, 1), "waited_ms")->number, ==, 100000);
    /* pushed out of the DNS layer's full table: its answer was not waited for */
    unanswered(&f, "capf.example.test", DNS_UNANSWERED_EVICTED, T0 + 140 * SEC, 20 * SEC,
               T0 + 160 * SEC, 50);
    g_assert_cmpuint(verdict_count(f.diag.sink), ==, 2);
    fixture_destroy(&f);
}

/* A name not of interest yet: reported once a party uses it. */
static void test_later_interest(void)
{
    fixture_t f;
    fixture_init(&f);
    answered(&f, "issuer01.corp.test", 3, T0, 3);
    answered(&f, "Issuer01.corp.test.", 3, T0 + SEC, 5);
    unanswered(&f, "other.corp.test", DNS_UNANSWERED_TIMEOUT, T0, 10 * SEC, T0 + 11 * SEC, 7);
    g_assert_cmpuint(verdict_count(f.diag.sink), ==, 0);
    /* an unrelated name becomes known: nothing */
    diag_parties_note_name(f.diag.d, "unrelated.corp.test");
    g_assert_cmpuint(verdict_count(f.diag.sink), ==, 0);
    /* CES's request names the CA by that name (Host, with its port) */
    flow_fixture_spec_t spec = { .id = 2, .proto = IPPROTO_NUM_TCP, .client_ip = { 10, 0, 0, 5 },
                                 .client_port = 40000, .server_ip = { 10, 0, 0, 9 }, .server_port = 443 };
    flow_t *ca = flow_fixture_flow_new(&spec);
    http_exchange_t *ex = g_new0(http_exchange_t, 1);
    ex->has_request = true;
    ex->seq = 1;
    g_strlcpy(ex->method, "GET", sizeof(ex->method));
    g_strlcpy(ex->uri, "/certsrv", sizeof(ex->uri));
    ex->has_host = true;
    g_strlcpy(ex->host, "ISSUER01.corp.test:443", sizeof(ex->host));
    ex->pki_kind = PKI_CERTSRV;
    ex->pki_step = PKI_STEP_LOGIN;
    ex->request_complete = true;
    ex->request_first = ex->request_at = packet(T0 + 20 * SEC, 30);
    diagnosis_http_request(f.diag.d, ca, ex, &ex->request_at);
    g_assert_cmpuint(verdict_count(f.diag.sink), ==, 1);
    const verdict_t *v = verdict_nth(f.diag.sink, 0);
    g_assert_cmpint(v->id, ==, V_DNS_NXDOMAIN);
    g_assert_cmpstr(verdict_fact_find(v, "name")->text, ==, "issuer01.corp.test");
    g_assert_cmpstr(v->device, ==, "10.0.0.2");
    g_assert_cmpint(verdict_fact_find(v, "queries")->number, ==, 2); /* both failures, one verdict */
    g_assert_true(verdict_has_evidence(v, 3) && verdict_has_evidence(v, 6));
    g_assert_cmpuint(v->at.pcap_cnt, ==, 6); /* the failure's own time, not the Host's */
    diagnosis_flow_end(f.diag.d, ca, FLOW_END_CLOSED); /* its deadline then finds nothing */
    g_free(ca);
    g_free(ex);
    /* reported once: the name is known now, the list no longer holds it */
    diag_parties_note_name(f.diag.d, "issuer01.corp.test");
    diag_dns_name_of_interest(f.diag.d, "issuer01.corp.test");
    g_assert_cmpuint(verdict_count(f.diag.sink), ==, 1);
    /* and a new failure for it is reported at once */
    answered(&f, "issuer01.corp.test", 3, T0 + 400 * SEC, 40);
    g_assert_cmpuint(verdict_count(f.diag.sink), ==, 2);
    /* the unanswered one, when its name is used (a certificate name, say) */
    diag_parties_note_name(f.diag.d, "OTHER.corp.test");
    g_assert_cmpuint(verdict_count(f.diag.sink), ==, 3);
    g_assert_nonnull(strstr(verdict_nth(f.diag.sink, 2)->summary, "never answered"));
    fixture_destroy(&f);
}

/* The list of names not of interest is bounded: the oldest go first. */
static void test_pending_bound(void)
{
    fixture_t f;
    fixture_init(&f);
    for (int i = 0; i < 300; i++) {
        char name[64];
        g_snprintf(name, sizeof(name), "host%03d.corp.test", i);
        answered(&f, name, 3, T0 + i * MS, (uint64_t)(10 + 2 * i));
    }
    g_assert_cmpuint(verdict_count(f.diag.sink), ==, 0);
    g_assert_cmpuint(f.diag.a.memcap.in_use, >, 0);
    diag_parties_note_name(f.diag.d, "host000.corp.test"); /* forgotten */
    diag_parties_note_name(f.diag.d, "host043.corp.test"); /* forgotten */
    g_assert_cmpuint(verdict_count(f.diag.sink), ==, 0);
    diag_parties_note_name(f.diag.d, "host044.corp.test"); /* the oldest kept */
    diag_parties_note_name(f.diag.d, "host299.corp.test");
    g_assert_cmpuint(verdict_count(f.diag.sink), ==, 2);
    g_assert_cmpstr(verdict_fact_find(verdict_nth(f.diag.sink, 0), "name")->text, ==, "host044.corp.test");
    fixture_destroy(&f); /* what is left is returned */
}

static void test_patterns(void)
{
    static const char *const patterns[] = { "*.PKI.corp", "ldap?.corp.test", NULL };
    fixture_t f;
    fixture_init_with(&f, patterns);
    answered(&f, "issuer.pki.CORP", 3, T0, 3);
    answered(&f, "ldap1.corp.test", 3, T0 + SEC, 5);
    answered(&f, "ldap12.corp.test", 3, T0 + 2 * SEC, 7); /* ? is one character */
    answered(&f, "cucm-pub.example.test", 3, T0 + 3 * SEC, 9); /* defaults replaced */
    g_assert_cmpuint(verdict_count(f.diag.sink), ==, 2);
    g_assert_cmpstr(verdict_fact_find(verdict_nth(f.diag.sink, 0), "name")->text, ==, "issuer.pki.corp");
    g_assert_cmpstr(verdict_fact_find(verdict_nth(f.diag.sink, 1), "name")->text, ==, "ldap1.corp.test");
    fixture_destroy(&f);

    /* no patterns at all: only names parties use */
    static const char *const none[] = { NULL };
    fixture_init_with(&f, none);
    answered(&f, "cucm-pub.example.test", 3, T0, 3);
    g_assert_cmpuint(verdict_count(f.diag.sink), ==, 0);
    diag_parties_note_name(f.diag.d, "cucm-pub.example.test");
    g_assert_cmpuint(verdict_count(f.diag.sink), ==, 1);
    fixture_destroy(&f);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/diag-dns/nxdomain", test_nxdomain);
    g_test_add_func("/diag-dns/asker", test_asker);
    g_test_add_func("/diag-dns/never-answered", test_never_answered);
    g_test_add_func("/diag-dns/later-interest", test_later_interest);
    g_test_add_func("/diag-dns/pending-bound", test_pending_bound);
    g_test_add_func("/diag-dns/patterns", test_patterns);
    return g_test_run();
}
