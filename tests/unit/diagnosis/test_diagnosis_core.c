/* Unit tests for the diagnosis's core (monitor/verdict.c, diagnosis.c,
 * diag_parties.c) and the verdict outputs (output/eve_verdict.c,
 * output/verdict_report.c): the catalogue, evidence and facts, repeats
 * folded into one verdict with a count, deadlines in time order, the
 * parties' tables, memory returned, the `verdict` event and the grouped
 * terminal report with and without colour.
 */
#include "monitor/diag_internal.h"
#include "monitor/diagnosis.h"
#include "monitor/verdict.h"
#include "output/verdict_report.h"
#include "test_support.h"
#include "verdict_sink.h"

#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void make_verdict(verdict_t *v, verdict_id_t id, const char *device, const char *server,
                         int64_t ts_s, uint64_t frame)
{
    packet_info_t at = { ts_s * 1000000, "x.pcap", frame };
    verdict_init(v, id, &at);
    g_strlcpy(v->device, device, sizeof(v->device));
    g_strlcpy(v->server, server, sizeof(v->server));
    verdict_add_evidence(v, frame);
    verdict_set_summary(v, "test %s", device);
}

/* Every one of the NULL-terminated texts is found in text. */
static void assert_contains(const char *text, const char *const *parts)
{
    for (; *parts; parts++) {
        if (!strstr(text, *parts))
            g_test_message("not found: %s", *parts);
        g_assert_nonnull(strstr(text, *parts));
    }
}

/* ------------------------------------------------------------------ */

static void test_catalogue(void)
{
    GHashTable *seen = g_hash_table_new(g_str_hash, g_str_equal);
    for (int id = 0; id < V_COUNT; id++) {
        const verdict_kind_t *k = verdict_kind(id);
        g_assert_nonnull(k);
        g_assert_nonnull(k->id);
        g_assert_true(g_hash_table_add(seen, (gpointer)k->id)); /* ids are unique */
        g_assert_cmpstr(k->advice, !=, "");
        g_assert_cmpint(verdict_id_from_name(k->id), ==, id);
    }
    g_assert_cmpint(verdict_id_from_name("NO_SUCH_ID"), ==, V_COUNT);
    g_assert_null(verdict_kind(V_COUNT));
    /* failures.md: ENROLLMENT_OK is info, near expiry a warning, the rest errors. */
    g_assert_cmpint(verdict_kind(V_ENROLLMENT_OK)->severity, ==, VERDICT_INFO);
    g_assert_cmpint(verdict_kind(V_CERT_EXPIRING_SOON)->severity, ==, VERDICT_WARNING);
    g_assert_cmpint(verdict_kind(V_CAPF_REFUSED)->severity, ==, VERDICT_ERROR);
    g_assert_cmpstr(verdict_severity_name(VERDICT_WARNING), ==, "warning");
    g_hash_table_destroy(seen);
}

static void test_evidence_and_facts(void)
{
    verdict_t v;
    verdict_init(&v, V_CAPF_REFUSED, NULL);
    verdict_add_evidence(&v, 44);
    verdict_add_evidence(&v, 41);
    verdict_add_evidence(&v, 44);
    verdict_add_evidence(&v, 0); /* no frame: ignored */
    verdict_add_evidence(&v, 42);
    g_assert_cmpuint(v.evidence_count, ==, 3);
    g_assert_cmpuint(v.evidence[0], ==, 41);
    g_assert_cmpuint(v.evidence[1], ==, 42);
    g_assert_cmpuint(v.evidence[2], ==, 44);
    for (uint64_t i = 100; i < 200; i++)
        verdict_add_evidence(&v, i);
    g_assert_cmpuint(v.evidence_count, ==, VERDICT_EVIDENCE_MAX);
    g_assert_true(v.evidence_more);
    for (uint64_t i = 1; i < 40; i++)
        verdict_add_flow(&v, i % 20);
    g_assert_cmpuint(v.flow_count, ==, VERDICT_FLOWS_MAX);
    g_assert_true(v.flows_more);
    verdict_fact_text(&v, "status", "0x07");
    verdict_fact_number(&v, "count", 3);
    verdict_fact_text(&v, "status", "0x09"); /* replaces */
    g_assert_cmpuint(v.fact_count, ==, 2);
    g_assert_cmpstr(v.facts[0].text, ==, "0x09");
    g_assert_true(v.facts[1].is_number);
    g_assert_cmpint(v.facts[1].number, ==, 3);
    g_assert_cmpstr(v.advice, ==, verdict_kind(V_CAPF_REFUSED)->advice);
}

static void test_repeats_fold(void)
{
    diag_fixture_t f;
    diag_fixture_init(&f);
    diagnosis_t *d = f.d;
    static const struct {
        verdict_id_t id;
        const char *device, *server;
        int64_t ts_s;
        uint64_t frame;
        const char *topic; /* NULL: none */
        bool warning;      /* instead of the catalogue's severity */
    } emitted[] = {
        { V_CAPF_UNREACHABLE, "10.0.0.5", "10.0.0.1:3804", 1000, 10, NULL, false },
        { V_CAPF_UNREACHABLE, "10.0.0.5", "10.0.0.1:3804", 1030, 20, NULL, false },
        { V_CAPF_UNREACHABLE, "10.0.0.5", "10.0.0.1:3804", 1060, 30, NULL, false },
        /* another device: its own verdict */
        { V_CAPF_UNREACHABLE, "10.0.0.6", "10.0.0.1:3804", 1061, 31, NULL, false },
        /* the first device again, after the repeat window: a new verdict */
        { V_CAPF_UNREACHABLE, "10.0.0.5", "10.0.0.1:3804", 1060 + 301, 40, NULL, false },
        /* the same id, device and server about another thing (topic), or
         * with another severity: apart */
        { V_DNS_NXDOMAIN, "10.0.0.5", "10.0.0.53:53", 1100, 50, "cucm.example.test", false },
        { V_DNS_NXDOMAIN, "10.0.0.5", "10.0.0.53:53", 1101, 51, "capf.example.test", false },
        { V_DNS_NXDOMAIN, "10.0.0.5", "10.0.0.53:53", 1102, 52, "capf.example.test", true },
    };
    for (size_t i = 0; i < G_N_ELEMENTS(emitted); i++) {
        verdict_t v;
        make_verdict(&v, emitted[i].id, emitted[i].device, emitted[i].server, emitted[i].ts_s,
                     emitted[i].frame);
        if (emitted[i].topic)
            g_strlcpy(v.topic, emitted[i].topic, sizeof(v.topic));
        if (emitted[i].warning)
            v.severity = VERDICT_WARNING;
        diag_emit(d, &v);
    }
    g_assert_cmpuint(verdict_count(f.sink), ==, 8);
    for (guint i = 5; i < 8; i++) {
        g_assert_false(verdict_nth(f.sink, i)->update);
        g_assert_cmpuint(verdict_nth(f.sink, i)->seq, ==, i - 1);
    }
    g_array_set_size(f.sink->verdicts, 5);
    g_assert_cmpuint(verdict_count(f.sink), ==, 5);
    g_assert_cmpuint(verdict_nth(f.sink, 0)->seq, ==, 1);
    g_assert_false(verdict_nth(f.sink, 0)->update);
    g_assert_cmpuint(verdict_nth(f.sink, 0)->count, ==, 1);
    g_assert_cmpuint(verdict_nth(f.sink, 2)->seq, ==, 1);
    g_assert_true(verdict_nth(f.sink, 2)->update);
    g_assert_cmpuint(verdict_nth(f.sink, 2)->count, ==, 3);
    g_assert_cmpuint(verdict_nth(f.sink, 2)->evidence_count, ==, 3); /* 10, 20, 30 */
    g_assert_cmpuint(verdict_nth(f.sink, 2)->evidence[0], ==, 10);
    g_assert_cmpint(verdict_nth(f.sink, 2)->first_ts_us, ==, INT64_C(1000) * 1000000);
    g_assert_cmpuint(verdict_nth(f.sink, 3)->seq, ==, 2);
    g_assert_false(verdict_nth(f.sink, 3)->update);
    g_assert_cmpuint(verdict_nth(f.sink, 4)->seq, ==, 3);
    g_assert_false(verdict_nth(f.sink, 4)->update);
    g_assert_cmpuint(verdict_nth(f.sink, 4)->count, ==, 1);
    const diagnosis_counts_t *c = diagnosis_counts(d);
    g_assert_cmpuint(c->verdicts[V_CAPF_UNREACHABLE], ==, 3);
    g_assert_cmpuint(c->occurrences[V_CAPF_UNREACHABLE], ==, 5);
    g_assert_cmpuint(c->verdicts[V_DNS_NXDOMAIN], ==, 3);
    diag_fixture_destroy(&f, NULL);
}

static void test_cn_of_subject(void)
{
    char cn[64];
    g_assert_true(diag_cn_of_subject("C=US, O=Cisco, CN=SEP74A02FC0A675", cn, sizeof(cn)));
    g_assert_cmpstr(cn, ==, "SEP74A02FC0A675");
    g_assert_true(diag_cn_of_subject("CN=CSF123, OU=x", cn, sizeof(cn)));
    g_assert_cmpstr(cn, ==, "CSF123");
    g_assert_true(diag_cn_of_subject("/C=US/CN=phone", cn, sizeof(cn)));
    g_assert_cmpstr(cn, ==, "phone");
    /* "CN=" inside another attribute's value is not the CN */
    g_assert_false(diag_cn_of_subject("O=XCN=fake", cn, sizeof(cn)));
    g_assert_false(diag_cn_of_subject("O=Cisco", cn, sizeof(cn)));
    g_assert_false(diag_cn_of_subject(NULL, cn, sizeof(cn)));
    char small[4];
    g_assert_true(diag_cn_of_subject("CN=SEP74A02FC0A675", small, sizeof(small)));
    g_assert_cmpstr(small, ==, "SEP");
}

static void test_timers_in_order(void)
{
    diag_fixture_t f;
    diag_fixture_init(&f);
    diagnosis_t *d = f.d;
    /* Deadlines in scrambled order; DIAG_TIMER_KINDS fires nothing, so only
     * the heap is under test: after each tick exactly the deadlines before
     * the time must be gone. */
    int64_t deadlines[64];
    for (int i = 0; i < 64; i++) {
        deadlines[i] = ((i * 37) % 64 + 1) * 1000;
        diag_timer_add(d, deadlines[i], DIAG_TIMER_KINDS, (uint64_t)i, 0);
    }
    for (int64_t now = 0; now <= 66000; now += 1500) {
        diagnosis_tick(d, now, NULL);
        guint left = 0;
        for (int i = 0; i < 64; i++)
            left += deadlines[i] >= now;
        g_assert_cmpuint(d->timer_count, ==, left);
        for (guint i = 0; i < d->timer_count; i++)
            g_assert_cmpint(d->timers[i].deadline_us, >=, now);
    }
    diag_timer_add(d, 99000000, DIAG_TIMER_KINDS, 1, 0);
    diagnosis_finish(d); /* fires what is left */
    g_assert_cmpuint(d->timer_count, ==, 0);
    diag_fixture_destroy(&f, NULL);
}

/* The heap's storage is charged whole, never beyond an eighth more than the
 * timers in it (plus the few slots kept), and given back once a flood of
 * deadlines has passed: what it holds is what the cap counts. */
static void test_timers_storage_charged(void)
{
    diag_fixture_t f;
    diag_fixture_init(&f);
    diagnosis_t *d = f.d;
    size_t before = d->charged;
    for (guint i = 0; i < 100000; i++) {
        g_assert_true(diag_timer_add(d, 1000 + i, DIAG_TIMER_KINDS, i, 0));
        g_assert_cmpuint(d->timer_slots, >=, d->timer_count);
        g_assert_cmpuint(d->timer_slots, <=, d->timer_count + d->timer_count / 8 + 1);
    }
    g_assert_cmpuint(d->charged - before, ==, (size_t)d->timer_slots * sizeof(diag_timer_t));
    g_assert_cmpuint(f.a.memcap.in_use, >=, (size_t)d->timer_slots * sizeof(diag_timer_t));
    diagnosis_tick(d, 1000 + 99990, NULL); /* all but ten have passed */
    g_assert_cmpuint(d->timer_count, ==, 10);
    g_assert_cmpuint(d->timer_slots, <=, 128);
    g_assert_cmpuint(d->charged - before, ==, (size_t)d->timer_slots * sizeof(diag_timer_t));
    diag_fixture_destroy(&f, NULL);
}

/* A cap too small for more room refuses the deadline, counted; the timers
 * already armed stay. */
static void test_timers_refused_by_cap(void)
{
    diag_fixture_t f;
    diag_fixture_prepare(&f, 64 * 1024, 64 * 1024);
    diag_fixture_start(&f);
    diagnosis_t *d = f.d;
    guint armed = 0;
    while (diag_timer_add(d, 1000 + armed, DIAG_TIMER_KINDS, armed, 0))
        armed++;
    g_assert_cmpuint(armed, >, 100);
    g_assert_cmpuint(d->timer_count, ==, armed);
    g_assert_cmpuint(f.a.memcap.in_use, <=, 64 * 1024);
    g_assert_cmpuint(f.a.memcap.hits[CAP_DIAGNOSIS_STATE], >=, 1);
    diagnosis_finish(d);
    g_assert_cmpuint(d->timer_count, ==, 0);
    diag_fixture_destroy(&f, NULL);
}

static void test_parties(void)
{
    diag_fixture_t f;
    diag_fixture_init(&f);
    diagnosis_t *d = f.d;
    ip_addr_t ces = { 0 }, other = { 0 };
    ces.family = 4;
    ces.bytes[0] = 10;
    ces.bytes[3] = 9;
    other.family = 4;
    other.bytes[0] = 10;
    other.bytes[3] = 8;
    diag_parties_note_key(d, "0123456789abcdef0123456789abcdef", "SEP1", 100);
    g_assert_cmpstr(diag_parties_device_by_key(d, "0123456789abcdef0123456789abcdef"), ==, "SEP1");
    g_assert_null(diag_parties_device_by_key(d, "ffff"));
    g_assert_null(diag_parties_device_by_key(d, ""));
    /* the newest CAPF request within the link window */
    diag_parties_note_capf_request(d, "SEP1", INT64_C(100) * 1000000);
    diag_parties_note_capf_request(d, "SEP2", INT64_C(110) * 1000000);
    g_assert_cmpstr(diag_parties_recent_capf_device(d, INT64_C(115) * 1000000), ==, "SEP2");
    g_assert_cmpstr(diag_parties_recent_capf_device(d, INT64_C(105) * 1000000), ==, "SEP1");
    g_assert_null(diag_parties_recent_capf_device(d, INT64_C(110 + 61) * 1000000));
    /* EST enrollments by CES address */
    diag_parties_note_est(d, "SEP3", &ces, INT64_C(200) * 1000000);
    g_assert_cmpstr(diag_parties_recent_est_device(d, &ces, INT64_C(201) * 1000000), ==, "SEP3");
    g_assert_null(diag_parties_recent_est_device(d, &other, INT64_C(201) * 1000000));
    /* ReqIDs per CA */
    diag_parties_note_req_id(d, &ces, 42, "SEP4");
    g_assert_cmpstr(diag_parties_device_by_req_id(d, &ces, 42), ==, "SEP4");
    g_assert_null(diag_parties_device_by_req_id(d, &other, 42));
    g_assert_null(diag_parties_device_by_req_id(d, &ces, -1));
    /* names, case and trailing dot folded */
    diag_parties_note_name(d, "CA.Example.Test.");
    g_assert_true(diag_parties_name_known(d, "ca.example.test"));
    g_assert_true(diag_parties_name_known(d, "CA.EXAMPLE.TEST."));
    g_assert_false(diag_parties_name_known(d, "cucm.example.test"));
    /* bounded: the oldest keys go */
    for (int i = 0; i < 5000; i++) {
        char key[40];
        g_snprintf(key, sizeof(key), "%032x", i + 1);
        diag_parties_note_key(d, key, "SEPX", 0);
    }
    g_assert_null(diag_parties_device_by_key(d, "0123456789abcdef0123456789abcdef"));
    g_assert_cmpstr(diag_parties_device_by_key(d, "00000000000000000000000000001388"), ==, "SEPX");
    diag_fixture_destroy(&f, NULL);
}

static void test_eve_verdict(void)
{
    analysis_t a;
    flow_fixture_analysis_init(&a, 64u << 20, 1u << 20);
    eve_file_t file;
    event_sink_t *eve = eve_file_open(&file, &a, "diag-eve-XXXXXX");
    verdict_t v;
    make_verdict(&v, V_CSR_CERT_KEY_MISMATCH, "SEP74A02FC0A675", "10.0.0.1:443", 1700000000, 12);
    verdict_add_evidence(&v, 9);
    verdict_add_flow(&v, 3);
    verdict_fact_text(&v, "csr_modulus_md5", "aa\"bb");
    verdict_fact_number(&v, "status", 401);
    v.seq = 7;
    v.count = 2;
    v.update = true;
    analysis_emit_verdict(&a, &v);
    flow_fixture_destroy(&a, NULL);
    check_json_lines(file.path);
    char *text = read_text_file(file.path);
    static const char *const fields[] = {
        "\"event_type\":\"verdict\"",
        "\"id\":\"CSR_CERT_KEY_MISMATCH\"",
        "\"severity\":\"error\"",
        "\"device\":\"SEP74A02FC0A675\"",
        "\"evidence\":[9,12]",
        "\"flow_ids\":[3]",
        "\"seq\":7",
        "\"update\":true",
        "\"count\":2",
        "\"csr_modulus_md5\":\"aa\\\"bb\"",
        "\"status\":401",
        "\"advice\":\"The certificate was signed",
        NULL,
    };
    assert_contains(text, fields);
    g_free(text);
    eve_file_remove(&file);
    (void)eve;
}

/* The report printed into a string. */
static char *report_of(const verdict_t *vs, size_t n, bool color, bool as_they_come)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    event_sink_t *r = verdict_report_new(out, color, as_they_come);
    for (size_t i = 0; i < n; i++)
        r->verdict(r, &vs[i]);
    r->finish(r);
    r->destroy(r);
    fclose(out);
    /* A GLib copy: the test's later pointers into it are then plainly
     * into one string (gcc -O3 sees open_memstream's buffer as escaping). */
    char *text = g_strndup(buf, len);
    free(buf);
    return text;
}

static void test_report_grouped(void)
{
    verdict_t vs[5];
    make_verdict(&vs[0], V_ENROLLMENT_OK, "SEP2", "10.0.0.1:3804", 1700000010, 30);
    make_verdict(&vs[1], V_CAPF_REFUSED, "SEP1", "10.0.0.1:3804", 1700000005, 12);
    verdict_add_evidence(&vs[1], 13);
    verdict_add_evidence(&vs[1], 14);
    make_verdict(&vs[2], V_CA_CHAIN_UNTRUSTED, "10.0.0.9", "10.0.0.2:443", 1700000001, 41);
    vs[2].device_is_address = true;
    make_verdict(&vs[3], V_ENROLLMENT_OK, "SEP2", "10.0.0.1:3804", 1700000020, 50);
    make_verdict(&vs[4], V_CAPF_REFUSED, "SEP1", "10.0.0.1:3804", 1700000035, 60);
    for (int i = 0; i < 5; i++)
        vs[i].seq = (uint64_t)i + 1;
    vs[4].seq = 2; /* an update of vs[1] */
    vs[4].update = true;
    vs[4].count = 2;
    vs[4].first_ts_us = vs[1].at.ts_us;
    verdict_merge(&vs[4], &vs[1]); /* as diag_emit gives an update */

    char *text = report_of(vs, 5, false, false);
    g_assert_null(strstr(text, "\033["));
    /* grouped by device: 10.0.0.9, then SEP1, then SEP2 */
    const char *g1 = strstr(text, "10.0.0.9 (address; no device name seen)");
    const char *g2 = strstr(text, "\nSEP1\n");
    const char *g3 = strstr(text, "\nSEP2\n");
    g_assert_nonnull(g1);
    g_assert_nonnull(g2);
    g_assert_nonnull(g3);
    g_assert_true(g1 < g2 && g2 < g3);
    static const char *const lines[] = {
        "  server 10.0.0.2:443\n",
        "ERROR CAPF_REFUSED SEP1 2023-11-14 22:13:25: test SEP1 [2 times] (frames 12-14, 60)",
        "-> ",
        "  2 certificates delivered\n",
        "verdicts: 2 failures, 0 warnings, 2 enrollments completed",
        "CAPF_REFUSED                       1           2        1",
        NULL,
    };
    assert_contains(text, lines);
    g_free(text);

    text = report_of(vs, 5, true, false);
    g_assert_nonnull(strstr(text, "\033[31mERROR\033[0m"));
    g_free(text);

    /* live: each verdict when it comes, repeats as a short line */
    text = report_of(vs, 5, false, true);
    g_assert_null(strstr(text, "diagnosis, by device"));
    const char *first = strstr(text, "OK    ENROLLMENT_OK SEP2");
    const char *again = strstr(text, "again: CAPF_REFUSED SEP1, 2 times now");
    g_assert_nonnull(first);
    g_assert_nonnull(again);
    g_assert_true(first < again);
    g_free(text);
}

static void test_color_choice(void)
{
    report_color_t c;
    g_assert_true(report_color_parse("always", &c));
    g_assert_cmpint(c, ==, REPORT_COLOR_ALWAYS);
    g_assert_true(report_color_parse(NULL, &c));
    g_assert_cmpint(c, ==, REPORT_COLOR_AUTO);
    g_assert_false(report_color_parse("sometimes", &c));
    FILE *f = tmpfile();
    g_assert_false(report_color_enabled(REPORT_COLOR_AUTO, f)); /* not a terminal */
    g_assert_true(report_color_enabled(REPORT_COLOR_ALWAYS, f));
    g_assert_false(report_color_enabled(REPORT_COLOR_NEVER, f));
    fclose(f);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/diagnosis/catalogue", test_catalogue);
    g_test_add_func("/diagnosis/evidence-and-facts", test_evidence_and_facts);
    g_test_add_func("/diagnosis/repeats-fold", test_repeats_fold);
    g_test_add_func("/diagnosis/cn-of-subject", test_cn_of_subject);
    g_test_add_func("/diagnosis/timers-in-order", test_timers_in_order);
    g_test_add_func("/diagnosis/timers-storage-charged", test_timers_storage_charged);
    g_test_add_func("/diagnosis/timers-refused-by-cap", test_timers_refused_by_cap);
    g_test_add_func("/diagnosis/parties", test_parties);
    g_test_add_func("/diagnosis/eve-verdict", test_eve_verdict);
    g_test_add_func("/diagnosis/report-grouped", test_report_grouped);
    g_test_add_func("/diagnosis/color-choice", test_color_choice);
    return g_test_run();
}
