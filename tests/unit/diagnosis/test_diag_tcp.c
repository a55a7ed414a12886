/* Unit tests for monitor/diag_tcp.c and monitor/diag_queue.c: the TCP
 * events of hand-made flows fed through diagnosis_tcp / diagnosis_tick /
 * diagnosis_flow_end as the engine sends them, verdicts recorded by a
 * sink.  CAPF_UNREACHABLE (deadline, retries folded into one verdict with a
 * count, end of capture, retired flows, the configured port and timeout),
 * CAPF_SERVICE_DOWN, and TCP_QUEUE_LIMIT (an IOS-like server that goes deaf
 * and comes back, one that serves its established connections during the
 * silence, and the servers it must not accuse: dead, died, busy but
 * healthy, too few or too small a share unanswered, short silences, a lone
 * retrier, a silence outside the window), the final update, and the bounds
 * on its memory.
 */
#include "flow_fixture.h"
#include "monitor/diag_internal.h"
#include "monitor/diag_queue.h"
#include "monitor/diagnosis.h"
#include "monitor/verdict.h"

#include <glib.h>
#include <string.h>

#define SEC ((int64_t)1000000)
#define MS ((int64_t)1000)
#define T0 ((int64_t)1795357880 * SEC)

/* ------------------------------------------------------------------ */
/* A sink that keeps every verdict                                     */

typedef struct record_sink {
    event_sink_t base;
    GArray *verdicts; /* verdict_t */
} record_sink_t;

static void record_verdict(event_sink_t *base, const verdict_t *v)
{
    record_sink_t *r = (record_sink_t *)base;
    g_array_append_val(r->verdicts, *v);
}

static void record_destroy(event_sink_t *base)
{
    record_sink_t *r = (record_sink_t *)base;
    g_array_free(r->verdicts, TRUE);
    g_free(r);
}

/* ------------------------------------------------------------------ */
/* The diagnosis and its flows                                         */

typedef struct fixture {
    analysis_t a;
    diagnosis_config_t config;
    diagnosis_t *d;
    record_sink_t *rec;
    GPtrArray *flows;  /* flow_t*, all made */
    GHashTable *ended; /* flow_t* retired */
    uint64_t frame;
    uint64_t next_id;
} fixture_t;

static void fixture_start(fixture_t *f)
{
    f->a.capf_port = 3804;
    f->d = diagnosis_new(&f->a, &f->config);
    f->a.diagnosis = f->d;
}

/* Defaults; the test may change f->config before fixture_start. */
static void fixture_init_memory(fixture_t *f, size_t global_memory)
{
    memset(f, 0, sizeof(*f));
    flow_fixture_analysis_init(&f->a, global_memory, 4u << 20);
    diagnosis_config_default(&f->config);
    f->rec = g_new0(record_sink_t, 1);
    f->rec->base.verdict = record_verdict;
    f->rec->base.destroy = record_destroy;
    f->rec->verdicts = g_array_new(FALSE, TRUE, sizeof(verdict_t));
    flow_fixture_add_sink(&f->a, &f->rec->base);
    f->flows = g_ptr_array_new_with_free_func(g_free);
    f->ended = g_hash_table_new(g_direct_hash, g_direct_equal);
    f->next_id = 1;
}

static void fixture_init(fixture_t *f)
{
    fixture_init_memory(f, 256u << 20);
}

static void fixture_free(fixture_t *f)
{
    diagnosis_free(f->d);
    f->a.diagnosis = NULL;
    flow_fixture_assert_memory_returned(&f->a);
    for (unsigned i = 0; i < f->a.sink_count; i++)
        f->a.sinks[i]->destroy(f->a.sinks[i]);
    f->a.sink_count = 0;
    g_ptr_array_free(f->flows, TRUE);
    g_hash_table_destroy(f->ended);
    diagnosis_config_clear(&f->config);
}

static flow_t *new_flow(fixture_t *f, const uint8_t client[4], uint16_t cport, const uint8_t server[4],
                        uint16_t sport)
{
    flow_fixture_spec_t spec = { .id = f->next_id++, .proto = IPPROTO_NUM_TCP, .client_port = cport,
                                 .server_port = sport };
    memcpy(spec.client_ip, client, 4);
    memcpy(spec.server_ip, server, 4);
    flow_t *flow = flow_fixture_flow_new(&spec);
    g_ptr_array_add(f->flows, flow);
    return flow;
}

/* Time reaches t (a packet of another flow, or none). */
static void tick(fixture_t *f, int64_t t)
{
    packet_info_t at = { t, NULL, ++f->frame };
    diagnosis_tick(f->d, t, &at);
}

/* One TCP event at t, with the flow's flags kept as the engine keeps them;
 * returns its frame. */
static uint64_t tcp(fixture_t *f, flow_t *flow, tcp_event_t ev, int64_t t)
{
    packet_info_t at = { t, NULL, ++f->frame };
    diagnosis_tick(f->d, t, &at);
    if (!flow->first_ts_us)
        flow->first_ts_us = t;
    flow->last_ts_us = t;
    tcp_flags_seen_t *seen = &flow->tcp_flags;
    switch (ev) {
    case TCP_EVENT_SYN:
    case TCP_EVENT_SYN_AGAIN: seen->syn++; break;
    case TCP_EVENT_SYNACK: seen->synack++; break;
    case TCP_EVENT_ESTABLISHED: seen->handshake_complete = true; break;
    case TCP_EVENT_RST_FROM_SERVER: seen->rst[DIR_TO_CLIENT]++; break;
    case TCP_EVENT_RST_FROM_CLIENT: seen->rst[DIR_TO_SERVER]++; break;
    case TCP_EVENT_FIN_FROM_SERVER: seen->fin[DIR_TO_CLIENT]++; break;
    case TCP_EVENT_FIN_FROM_CLIENT: seen->fin[DIR_TO_SERVER]++; break;
    }
    diagnosis_tcp(f->d, flow, ev, &at);
    return at.pcap_cnt;
}

static void flow_end(fixture_t *f, flow_t *flow, flow_end_reason_t reason, int64_t t)
{
    tick(f, t);
    diagnosis_flow_end(f->d, flow, reason);
    g_hash_table_add(f->ended, flow);
}

/* The end of the input, as engine_finish does it. */
static void input_end(fixture_t *f)
{
    diagnosis_input_ended(f->d);
    for (guint i = 0; i < f->flows->len; i++) {
        flow_t *flow = g_ptr_array_index(f->flows, i);
        if (!g_hash_table_contains(f->ended, flow)) {
            diagnosis_flow_end(f->d, flow, FLOW_END_CAPTURE_END);
            g_hash_table_add(f->ended, flow);
        }
    }
    diagnosis_finish(f->d);
}

static guint verdict_count(fixture_t *f)
{
    return f->rec->verdicts->len;
}

static const verdict_t *verdict_at(fixture_t *f, guint i)
{
    g_assert_cmpuint(i, <, f->rec->verdicts->len);
    return &g_array_index(f->rec->verdicts, verdict_t, i);
}

static guint count_of(fixture_t *f, verdict_id_t id)
{
    guint n = 0;
    for (guint i = 0; i < f->rec->verdicts->len; i++)
        if (verdict_at(f, i)->id == id)
            n++;
    return n;
}

/* The last event of that id. */
static const verdict_t *last_of(fixture_t *f, verdict_id_t id)
{
    for (guint i = f->rec->verdicts->len; i-- > 0;)
        if (verdict_at(f, i)->id == id)
            return verdict_at(f, i);
    g_assert_not_reached();
    return NULL;
}

static int64_t fact(const verdict_t *v, const char *key)
{
    for (unsigned i = 0; i < v->fact_count; i++)
        if (strcmp(v->facts[i].key, key) == 0) {
            g_assert_true(v->facts[i].is_number);
            return v->facts[i].number;
        }
    g_error("no fact %s", key);
    return -1;
}

static bool has_fact(const verdict_t *v, const char *key)
{
    for (unsigned i = 0; i < v->fact_count; i++)
        if (strcmp(v->facts[i].key, key) == 0)
            return true;
    return false;
}

static bool has_evidence(const verdict_t *v, uint64_t frame)
{
    for (unsigned i = 0; i < v->evidence_count; i++)
        if (v->evidence[i] == frame)
            return true;
    return false;
}

static const uint8_t PHONE[4] = { 10, 0, 0, 5 };
static const uint8_t CAPF[4] = { 10, 0, 0, 1 };

/* ------------------------------------------------------------------ */
/* CAPF_UNREACHABLE                                                    */

static void test_capf_unreachable_after_timeout(void)
{
    fixture_t f;
    fixture_init(&f);
    fixture_start(&f);
    flow_t *flow = new_flow(&f, PHONE, 50000, CAPF, 3804);
    uint64_t s1 = tcp(&f, flow, TCP_EVENT_SYN, T0);
    uint64_t s2 = tcp(&f, flow, TCP_EVENT_SYN_AGAIN, T0 + 1 * SEC);
    uint64_t s3 = tcp(&f, flow, TCP_EVENT_SYN_AGAIN, T0 + 3 * SEC);
    tick(&f, T0 + 9900 * MS);
    g_assert_cmpuint(verdict_count(&f), ==, 0); /* not before syn_timeout_s */
    tick(&f, T0 + 10500 * MS);
    g_assert_cmpuint(verdict_count(&f), ==, 1);
    const verdict_t *v = verdict_at(&f, 0);
    g_assert_cmpint(v->id, ==, V_CAPF_UNREACHABLE);
    g_assert_cmpstr(v->device, ==, "10.0.0.5");
    g_assert_true(v->device_is_address);
    g_assert_cmpstr(v->client, ==, "10.0.0.5");
    g_assert_cmpstr(v->server, ==, "10.0.0.1:3804");
    g_assert_cmpuint(v->evidence_count, ==, 3);
    g_assert_cmpuint(v->evidence[0], ==, s1);
    g_assert_cmpuint(v->evidence[1], ==, s2);
    g_assert_cmpuint(v->evidence[2], ==, s3);
    g_assert_cmpuint(v->count, ==, 1);
    g_assert_false(v->update);
    g_assert_cmpint(v->first_ts_us, ==, T0);
    g_assert_cmpint(fact(v, "syns"), ==, 3);
    g_assert_nonnull(strstr(v->summary, "within 10 s"));
    /* the flow retired later: nothing more */
    flow_end(&f, flow, FLOW_END_TIMEOUT, T0 + 61 * SEC);
    input_end(&f);
    g_assert_cmpuint(verdict_count(&f), ==, 1);
    fixture_free(&f);
}

/* Three attempts 30 s apart, a SYN and two retransmissions each: one
 * verdict, counted three times. */
static void test_capf_retries_fold(void)
{
    fixture_t f;
    fixture_init(&f);
    fixture_start(&f);
    for (int i = 0; i < 3; i++) {
        flow_t *flow = new_flow(&f, PHONE, (uint16_t)(50001 + i), CAPF, 3804);
        int64_t t = T0 + i * 30 * SEC;
        tcp(&f, flow, TCP_EVENT_SYN, t);
        tcp(&f, flow, TCP_EVENT_SYN_AGAIN, t + 1 * SEC);
        tcp(&f, flow, TCP_EVENT_SYN_AGAIN, t + 3 * SEC);
    }
    tick(&f, T0 + 75 * SEC);
    input_end(&f);
    g_assert_cmpuint(verdict_count(&f), ==, 3);
    for (guint i = 0; i < 3; i++) {
        const verdict_t *v = verdict_at(&f, i);
        g_assert_cmpint(v->id, ==, V_CAPF_UNREACHABLE);
        g_assert_cmpuint(v->seq, ==, verdict_at(&f, 0)->seq);
        g_assert_cmpuint(v->count, ==, i + 1);
        g_assert_true(v->update == (i > 0));
    }
    const verdict_t *last = verdict_at(&f, 2);
    g_assert_cmpuint(last->evidence_count, ==, 9);
    g_assert_cmpuint(last->flow_count, ==, 3);
    g_assert_cmpint(last->first_ts_us, ==, T0);
    g_assert_cmpuint(diagnosis_counts(f.d)->verdicts[V_CAPF_UNREACHABLE], ==, 1);
    g_assert_cmpuint(diagnosis_counts(f.d)->occurrences[V_CAPF_UNREACHABLE], ==, 3);
    fixture_free(&f);
}

static void test_capf_answered(void)
{
    fixture_t f;
    fixture_init(&f);
    fixture_start(&f);
    flow_t *flow = new_flow(&f, PHONE, 50000, CAPF, 3804);
    tcp(&f, flow, TCP_EVENT_SYN, T0);
    tcp(&f, flow, TCP_EVENT_SYNACK, T0 + 1 * MS);
    tcp(&f, flow, TCP_EVENT_ESTABLISHED, T0 + 2 * MS);
    /* a slow one, answered on its third SYN, before the timeout */
    flow_t *slow = new_flow(&f, PHONE, 50001, CAPF, 3804);
    tcp(&f, slow, TCP_EVENT_SYN, T0 + 1 * SEC);
    tcp(&f, slow, TCP_EVENT_SYN_AGAIN, T0 + 2 * SEC);
    tcp(&f, slow, TCP_EVENT_SYN_AGAIN, T0 + 4 * SEC);
    tcp(&f, slow, TCP_EVENT_SYNACK, T0 + 8 * SEC);
    tick(&f, T0 + 60 * SEC);
    input_end(&f);
    g_assert_cmpuint(verdict_count(&f), ==, 0);
    fixture_free(&f);
}

static void test_capf_end_young_single_syn(void)
{
    fixture_t f;
    fixture_init(&f);
    fixture_start(&f);
    flow_t *flow = new_flow(&f, PHONE, 50000, CAPF, 3804);
    tcp(&f, flow, TCP_EVENT_SYN, T0);
    tick(&f, T0 + 2 * SEC);
    input_end(&f);
    g_assert_cmpuint(verdict_count(&f), ==, 0);
    fixture_free(&f);
}

static void test_capf_end_young_retransmitted(void)
{
    fixture_t f;
    fixture_init(&f);
    fixture_start(&f);
    flow_t *flow = new_flow(&f, PHONE, 50000, CAPF, 3804);
    tcp(&f, flow, TCP_EVENT_SYN, T0);
    tcp(&f, flow, TCP_EVENT_SYN_AGAIN, T0 + 1 * SEC);
    tick(&f, T0 + 2 * SEC);
    input_end(&f);
    g_assert_cmpuint(verdict_count(&f), ==, 1);
    const verdict_t *v = verdict_at(&f, 0);
    g_assert_cmpint(v->id, ==, V_CAPF_UNREACHABLE);
    g_assert_nonnull(strstr(v->summary, "capture ended"));
    g_assert_cmpint(fact(v, "syns"), ==, 2);
    g_assert_cmpint(fact(v, "unanswered_for_ms"), ==, 2000);
    fixture_free(&f);
}

static void test_capf_retired_unanswered(void)
{
    fixture_t f;
    fixture_init(&f);
    fixture_start(&f);
    flow_t *flow = new_flow(&f, PHONE, 50000, CAPF, 3804);
    tcp(&f, flow, TCP_EVENT_SYN, T0);
    tcp(&f, flow, TCP_EVENT_SYN_AGAIN, T0 + 1 * SEC);
    flow_end(&f, flow, FLOW_END_EVICTED, T0 + 2 * SEC);
    g_assert_cmpuint(verdict_count(&f), ==, 1);
    g_assert_cmpint(verdict_at(&f, 0)->id, ==, V_CAPF_UNREACHABLE);
    g_assert_nonnull(strstr(verdict_at(&f, 0)->summary, "given up"));
    /* a single SYN retired young: nothing */
    flow_t *young = new_flow(&f, PHONE, 50001, CAPF, 3804);
    tcp(&f, young, TCP_EVENT_SYN, T0 + 3 * SEC);
    flow_end(&f, young, FLOW_END_EVICTED, T0 + 4 * SEC);
    tick(&f, T0 + 30 * SEC); /* both deadlines pass */
    input_end(&f);
    g_assert_cmpuint(verdict_count(&f), ==, 1);
    fixture_free(&f);
}

static void test_capf_other_port(void)
{
    fixture_t f;
    fixture_init(&f);
    fixture_start(&f);
    flow_t *flow = new_flow(&f, PHONE, 50000, CAPF, 443);
    tcp(&f, flow, TCP_EVENT_SYN, T0);
    tcp(&f, flow, TCP_EVENT_SYN_AGAIN, T0 + 1 * SEC);
    tcp(&f, flow, TCP_EVENT_SYN_AGAIN, T0 + 3 * SEC);
    flow_t *refused = new_flow(&f, PHONE, 50001, CAPF, 443);
    tcp(&f, refused, TCP_EVENT_SYN, T0 + 4 * SEC);
    tcp(&f, refused, TCP_EVENT_RST_FROM_SERVER, T0 + 4 * SEC + 1);
    tick(&f, T0 + 30 * SEC);
    input_end(&f);
    g_assert_cmpuint(verdict_count(&f), ==, 0);
    fixture_free(&f);
}

static void test_capf_configured_port_and_timeout(void)
{
    fixture_t f;
    fixture_init(&f);
    f.config.syn_timeout_s = 20;
    fixture_start(&f);
    f.a.capf_port = 5000;
    flow_t *on = new_flow(&f, PHONE, 50000, CAPF, 5000);
    flow_t *off = new_flow(&f, PHONE, 50001, CAPF, 3804);
    tcp(&f, on, TCP_EVENT_SYN, T0);
    tcp(&f, off, TCP_EVENT_SYN, T0);
    tick(&f, T0 + 15 * SEC);
    g_assert_cmpuint(verdict_count(&f), ==, 0);
    tick(&f, T0 + 21 * SEC);
    g_assert_cmpuint(verdict_count(&f), ==, 1);
    g_assert_cmpstr(verdict_at(&f, 0)->server, ==, "10.0.0.1:5000");
    g_assert_nonnull(strstr(verdict_at(&f, 0)->summary, "within 20 s"));
    input_end(&f);
    g_assert_cmpuint(verdict_count(&f), ==, 1);
    fixture_free(&f);
}

static void test_capf_device_name(void)
{
    fixture_t f;
    fixture_init(&f);
    fixture_start(&f);
    flow_t *flow = new_flow(&f, PHONE, 50000, CAPF, 3804);
    tcp(&f, flow, TCP_EVENT_SYN, T0);
    diag_flow_t *df = diag_flow_find(f.d, flow->id);
    g_assert_nonnull(df);
    g_strlcpy(df->device, "SEP74A02FC0A675", sizeof(df->device));
    tick(&f, T0 + 11 * SEC);
    g_assert_cmpuint(verdict_count(&f), ==, 1);
    g_assert_cmpstr(verdict_at(&f, 0)->device, ==, "SEP74A02FC0A675");
    g_assert_false(verdict_at(&f, 0)->device_is_address);
    g_assert_cmpstr(verdict_at(&f, 0)->client, ==, "10.0.0.5");
    input_end(&f);
    fixture_free(&f);
}

/* ------------------------------------------------------------------ */
/* CAPF_SERVICE_DOWN                                                   */

static void test_capf_service_down(void)
{
    fixture_t f;
    fixture_init(&f);
    fixture_start(&f);
    uint64_t frames[6];
    for (int i = 0; i < 3; i++) {
        flow_t *flow = new_flow(&f, PHONE, (uint16_t)(50000 + i), CAPF, 3804);
        int64_t t = T0 + i * 1200 * MS;
        frames[2 * i] = tcp(&f, flow, TCP_EVENT_SYN, t);
        frames[2 * i + 1] = tcp(&f, flow, TCP_EVENT_RST_FROM_SERVER, t + 10);
        /* at once, not at a deadline */
        g_assert_cmpuint(verdict_count(&f), ==, (guint)i + 1);
    }
    tick(&f, T0 + 30 * SEC);
    input_end(&f);
    g_assert_cmpuint(verdict_count(&f), ==, 3);
    g_assert_cmpuint(count_of(&f, V_CAPF_UNREACHABLE), ==, 0);
    const verdict_t *first = verdict_at(&f, 0), *last = verdict_at(&f, 2);
    g_assert_cmpint(first->id, ==, V_CAPF_SERVICE_DOWN);
    g_assert_cmpuint(first->evidence_count, ==, 2);
    g_assert_cmpuint(first->evidence[0], ==, frames[0]);
    g_assert_cmpuint(first->evidence[1], ==, frames[1]);
    g_assert_cmpint(first->at.ts_us, ==, T0 + 10);
    g_assert_cmpstr(first->device, ==, "10.0.0.5");
    g_assert_cmpint(last->id, ==, V_CAPF_SERVICE_DOWN);
    g_assert_cmpuint(last->seq, ==, first->seq);
    g_assert_cmpuint(last->count, ==, 3);
    g_assert_true(last->update);
    g_assert_cmpuint(last->evidence_count, ==, 6);
    fixture_free(&f);
}

/* An RST after the handshake is a connection closed, not a service down. */
static void test_capf_rst_after_synack(void)
{
    fixture_t f;
    fixture_init(&f);
    fixture_start(&f);
    flow_t *flow = new_flow(&f, PHONE, 50000, CAPF, 3804);
    tcp(&f, flow, TCP_EVENT_SYN, T0);
    tcp(&f, flow, TCP_EVENT_SYNACK, T0 + 1 * MS);
    tcp(&f, flow, TCP_EVENT_ESTABLISHED, T0 + 2 * MS);
    tcp(&f, flow, TCP_EVENT_RST_FROM_SERVER, T0 + 50 * MS);
    tick(&f, T0 + 30 * SEC);
    input_end(&f);
    g_assert_cmpuint(verdict_count(&f), ==, 0);
    fixture_free(&f);
}

/* ------------------------------------------------------------------ */
/* TCP_QUEUE_LIMIT: a scheduler of connections to one server           */

typedef enum { OP_TCP, OP_END } op_kind_t;

typedef struct op {
    int64_t t;
    unsigned order;
    op_kind_t kind;
    tcp_event_t ev;
    flow_t *flow;
    uint64_t frame; /* given when played */
} op_t;

typedef struct sched {
    fixture_t *f;
    GArray *ops;
    unsigned next_client;
    const uint8_t *server;
    uint16_t port;
} sched_t;

static void sched_init(sched_t *s, fixture_t *f, const uint8_t server[4], uint16_t port)
{
    s->f = f;
    s->ops = g_array_new(FALSE, TRUE, sizeof(op_t));
    s->next_client = 0;
    s->server = server;
    s->port = port;
}

static void sched_op(sched_t *s, int64_t t, op_kind_t kind, tcp_event_t ev, flow_t *flow)
{
    op_t op = { t, s->ops->len, kind, ev, flow, 0 };
    g_array_append_val(s->ops, op);
}

/* A client (its own address, 10.1.x.y) opening one connection. */
static flow_t *sched_flow(sched_t *s)
{
    unsigned n = s->next_client++;
    uint8_t client[4] = { 10, 1, (uint8_t)(n / 250), (uint8_t)(1 + n % 250) };
    return new_flow(s->f, client, (uint16_t)(40000 + n % 20000), s->server, s->port);
}

/* Answered at once; open for `open_us`, then closed by the server (FIN
 * both ways; < 0: left open). */
static flow_t *answered(sched_t *s, int64_t t, int64_t open_us)
{
    flow_t *flow = sched_flow(s);
    sched_op(s, t, OP_TCP, TCP_EVENT_SYN, flow);
    sched_op(s, t + 1 * MS, OP_TCP, TCP_EVENT_SYNACK, flow);
    sched_op(s, t + 2 * MS, OP_TCP, TCP_EVENT_ESTABLISHED, flow);
    if (open_us >= 0) {
        sched_op(s, t + 2 * MS + open_us, OP_TCP, TCP_EVENT_FIN_FROM_SERVER, flow);
        sched_op(s, t + 3 * MS + open_us, OP_TCP, TCP_EVENT_FIN_FROM_CLIENT, flow);
    }
    return flow;
}

/* Answered at once; the client is done after 100 ms (its FIN), the server
 * closes only after `open_us`. */
static flow_t *answered_half_closed(sched_t *s, int64_t t, int64_t open_us)
{
    flow_t *flow = sched_flow(s);
    sched_op(s, t, OP_TCP, TCP_EVENT_SYN, flow);
    sched_op(s, t + 1 * MS, OP_TCP, TCP_EVENT_SYNACK, flow);
    sched_op(s, t + 2 * MS, OP_TCP, TCP_EVENT_ESTABLISHED, flow);
    sched_op(s, t + 100 * MS, OP_TCP, TCP_EVENT_FIN_FROM_CLIENT, flow);
    sched_op(s, t + 2 * MS + open_us, OP_TCP, TCP_EVENT_FIN_FROM_SERVER, flow);
    return flow;
}

/* Never answered: the SYN and its retransmissions at 1, 3, 7 s (those
 * before `until`), then the client gives up; the flow ends 60 s later. */
static flow_t *unanswered(sched_t *s, int64_t t, int64_t until)
{
    flow_t *flow = sched_flow(s);
    sched_op(s, t, OP_TCP, TCP_EVENT_SYN, flow);
    static const int64_t rtx[] = { 1, 3, 7 };
    for (unsigned i = 0; i < G_N_ELEMENTS(rtx); i++)
        if (t + rtx[i] * SEC < until)
            sched_op(s, t + rtx[i] * SEC, OP_TCP, TCP_EVENT_SYN_AGAIN, flow);
    sched_op(s, t + 60 * SEC, OP_END, 0, flow);
    return flow;
}

static gint op_cmp(gconstpointer a, gconstpointer b)
{
    const op_t *x = a, *y = b;
    if (x->t != y->t)
        return x->t < y->t ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

/* Plays every operation before `until` in time order, ticks to `until`. */
static void sched_play(sched_t *s, int64_t until)
{
    g_array_sort(s->ops, op_cmp);
    for (guint i = 0; i < s->ops->len; i++) {
        op_t *op = &g_array_index(s->ops, op_t, i);
        if (op->t >= until || op->frame)
            continue;
        if (op->kind == OP_TCP) {
            op->frame = tcp(s->f, op->flow, op->ev, op->t);
        } else {
            flow_end(s->f, op->flow, FLOW_END_TIMEOUT, op->t);
            op->frame = s->f->frame;
        }
    }
    tick(s->f, until);
}

/* The frame of the first played op of that event at or after t. */
static uint64_t sched_frame(sched_t *s, tcp_event_t ev, int64_t t)
{
    for (guint i = 0; i < s->ops->len; i++) {
        const op_t *op = &g_array_index(s->ops, op_t, i);
        if (op->kind == OP_TCP && op->ev == ev && op->t >= t && op->frame)
            return op->frame;
    }
    g_assert_not_reached();
    return 0;
}

static void sched_free(sched_t *s)
{
    g_array_free(s->ops, TRUE);
}

static const uint8_t IOS[4] = { 10, 0, 0, 80 };

/* Served 0-10 s (40 attempts), deaf 10-25 s (60 attempts, retransmitting),
 * served again 25-35 s (40 attempts). */
static void ios_like(sched_t *s)
{
    for (int i = 0; i < 40; i++)
        answered(s, T0 + i * 250 * MS, 100 * MS);
    for (int i = 0; i < 60; i++)
        unanswered(s, T0 + 10 * SEC + i * 250 * MS, T0 + 25 * SEC);
    for (int i = 0; i < 40; i++)
        answered(s, T0 + 25 * SEC + i * 250 * MS, 100 * MS);
}

static void test_queue_fires_when_server_comes_back(void)
{
    fixture_t f;
    fixture_init(&f);
    fixture_start(&f);
    sched_t s;
    sched_init(&s, &f, IOS, 80);
    ios_like(&s);
    sched_play(&s, T0 + 25 * SEC);
    g_assert_cmpuint(verdict_count(&f), ==, 0); /* deaf, but not yet known to be alive */
    sched_play(&s, T0 + 25 * SEC + 1 * MS + 1);
    g_assert_cmpuint(verdict_count(&f), ==, 1); /* the first SYN-ACK after the silence */
    const verdict_t *v = verdict_at(&f, 0);
    g_assert_cmpint(v->id, ==, V_TCP_QUEUE_LIMIT);
    g_assert_cmpstr(v->device, ==, "10.0.0.80");
    g_assert_true(v->device_is_address);
    g_assert_cmpstr(v->server, ==, "10.0.0.80:80");
    g_assert_cmpstr(v->client, ==, ""); /* 49 clients: none in particular */
    g_assert_cmpuint(v->at.pcap_cnt, ==, sched_frame(&s, TCP_EVENT_SYNACK, T0 + 25 * SEC));
    g_assert_true(has_evidence(v, sched_frame(&s, TCP_EVENT_SYN, T0 + 10 * SEC)));
    g_assert_true(has_evidence(v, v->at.pcap_cnt));
    g_assert_cmpint(v->first_ts_us, ==, T0 + 10 * SEC);
    /* judged 3 s after their first SYN: those of 10.00-22.00 s so far */
    g_assert_cmpint(fact(v, "attempts"), ==, 101);
    g_assert_cmpint(fact(v, "unanswered"), ==, 49);
    g_assert_cmpint(fact(v, "unanswered_pct"), ==, 48);
    g_assert_cmpint(fact(v, "silent_periods"), ==, 1);
    g_assert_cmpint(fact(v, "longest_silent_s"), ==, 15);
    g_assert_cmpint(fact(v, "peak_concurrent"), ==, 1);
    g_assert_cmpint(fact(v, "attempts_per_minute_peak"), ==, 101);
    g_assert_cmpint(fact(v, "clients"), ==, 49);
    g_assert_cmpint(fact(v, "answer_window_s"), ==, 3);
    g_assert_false(has_fact(v, "not_judged"));
    g_assert_nonnull(strstr(v->summary, "affecting 49 client addresses"));

    /* the rest, and the end: an update with the final figures */
    sched_play(&s, T0 + 100 * SEC);
    g_assert_cmpuint(verdict_count(&f), ==, 1); /* fired once */
    input_end(&f);
    g_assert_cmpuint(verdict_count(&f), ==, 2);
    const verdict_t *u = verdict_at(&f, 1);
    g_assert_cmpint(u->id, ==, V_TCP_QUEUE_LIMIT);
    g_assert_cmpuint(u->seq, ==, verdict_at(&f, 0)->seq);
    g_assert_true(u->update);
    g_assert_cmpint(fact(u, "attempts"), ==, 140);
    g_assert_cmpint(fact(u, "unanswered"), ==, 60);
    g_assert_cmpint(fact(u, "unanswered_pct"), ==, 42);
    g_assert_cmpint(fact(u, "clients"), ==, 60);
    g_assert_cmpint(fact(u, "silent_periods"), ==, 1);
    g_assert_cmpuint(diagnosis_counts(f.d)->verdicts[V_TCP_QUEUE_LIMIT], ==, 1);
    sched_free(&s);
    fixture_free(&f);
}

/* No update when nothing grew after the verdict (every attempt was judged
 * when it fired). */
static void test_queue_no_update_when_unchanged(void)
{
    fixture_t f;
    fixture_init(&f);
    fixture_start(&f);
    sched_t s;
    sched_init(&s, &f, IOS, 80);
    for (int i = 0; i < 40; i++)
        answered(&s, T0 + i * 250 * MS, 100 * MS);
    for (int i = 0; i < 60; i++)
        unanswered(&s, T0 + 10 * SEC + i * 250 * MS, T0 + 25 * SEC);
    answered(&s, T0 + 28 * SEC, 100 * MS);
    sched_play(&s, T0 + 100 * SEC);
    g_assert_cmpuint(verdict_count(&f), ==, 1);
    g_assert_cmpint(fact(verdict_at(&f, 0), "unanswered"), ==, 60);
    g_assert_cmpint(fact(verdict_at(&f, 0), "longest_silent_s"), ==, 18);
    input_end(&f);
    g_assert_cmpuint(verdict_count(&f), ==, 1);
    sched_free(&s);
    fixture_free(&f);
}

/* A second deaf period after the verdict: the final update counts it. */
static void test_queue_update_counts_second_silence(void)
{
    fixture_t f;
    fixture_init(&f);
    fixture_start(&f);
    sched_t s;
    sched_init(&s, &f, IOS, 80);
    ios_like(&s);
    /* 10 more left open, their flows retired at 34 s (they no longer count) */
    for (int i = 0; i < 10; i++) {
        flow_t *flow = answered(&s, T0 + 30 * SEC + i * 10 * MS, -1);
        sched_op(&s, T0 + 34 * SEC, OP_END, 0, flow);
    }
    for (int i = 0; i < 40; i++)
        unanswered(&s, T0 + 35 * SEC + i * 250 * MS, T0 + 45 * SEC);
    /* the server answers again: 16 connections at once (the clients done
     * at once, the server holding them 5 s), then 40 more one after the
     * other, each closed by an RST, from either side (left open, either
     * half would make 20) */
    for (int i = 0; i < 16; i++)
        answered_half_closed(&s, T0 + 45 * SEC + i * 10 * MS, 5 * SEC);
    for (int i = 0; i < 40; i++) {
        flow_t *flow = answered(&s, T0 + 51 * SEC + i * 300 * MS, -1);
        sched_op(&s, T0 + 51 * SEC + i * 300 * MS + 100 * MS, OP_TCP,
                 i % 2 ? TCP_EVENT_RST_FROM_CLIENT : TCP_EVENT_RST_FROM_SERVER, flow);
    }
    sched_play(&s, T0 + 120 * SEC);
    g_assert_cmpuint(verdict_count(&f), ==, 1);
    input_end(&f);
    g_assert_cmpuint(verdict_count(&f), ==, 2);
    const verdict_t *u = verdict_at(&f, 1);
    g_assert_true(u->update);
    g_assert_cmpint(fact(u, "silent_periods"), ==, 2);
    g_assert_cmpint(fact(u, "unanswered"), ==, 100);
    g_assert_cmpint(fact(u, "attempts"), ==, 246);
    g_assert_cmpint(fact(u, "peak_concurrent"), ==, 16);
    g_assert_cmpint(fact(u, "longest_silent_s"), ==, 15);
    sched_free(&s);
    fixture_free(&f);
}

/* While the silence lasts, it counts only once it is queue_silent_s long:
 * with one unanswered attempt enough (judged at 8 s), the server's FINs
 * during it (from 5.5 s) do not make it one before the SYNs 5 s into it. */
static void test_queue_life_needs_length(void)
{
    fixture_t f;
    fixture_init(&f);
    f.config.queue_min_unanswered = 1;
    f.config.queue_unanswered_pct = 1;
    fixture_start(&f);
    sched_t s;
    sched_init(&s, &f, IOS, 80);
    for (int i = 0; i < 20; i++)
        answered(&s, T0 + i * 250 * MS, 1 * SEC + i * 250 * MS); /* FINs from 1 s to 10.5 s */
    for (int i = 0; i < 40; i++)
        unanswered(&s, T0 + 5 * SEC + i * 250 * MS, T0 + 60 * SEC);
    sched_play(&s, T0 + 60 * SEC);
    g_assert_cmpuint(count_of(&f, V_TCP_QUEUE_LIMIT), ==, 1);
    const verdict_t *v = verdict_at(&f, 0);
    g_assert_cmpint(v->at.ts_us, ==, T0 + 10 * SEC);
    g_assert_cmpint(fact(v, "longest_silent_s"), ==, 5);
    input_end(&f);
    sched_free(&s);
    fixture_free(&f);
}

/* Back from its silence, the server answers the retransmitted SYNs of the
 * clients still waiting, the first of them first. */
static void test_queue_answers_the_waiting(void)
{
    fixture_t f;
    fixture_init(&f);
    fixture_start(&f);
    sched_t s;
    sched_init(&s, &f, IOS, 80);
    for (int i = 0; i < 40; i++)
        answered(&s, T0 + i * 250 * MS, 100 * MS);
    flow_t *waiting[2];
    for (int i = 0; i < 2; i++) {
        flow_t *flow = waiting[i] = sched_flow(&s);
        int64_t t = T0 + 10 * SEC + i * 100 * MS;
        sched_op(&s, t, OP_TCP, TCP_EVENT_SYN, flow);
        static const int64_t rtx[] = { 1, 3, 7, 15 };
        for (unsigned k = 0; k < G_N_ELEMENTS(rtx); k++)
            sched_op(&s, t + rtx[k] * SEC, OP_TCP, TCP_EVENT_SYN_AGAIN, flow);
    }
    for (int i = 0; i < 40; i++)
        unanswered(&s, T0 + 11 * SEC + i * 250 * MS, T0 + 25 * SEC);
    sched_op(&s, T0 + 25 * SEC + 1 * MS, OP_TCP, TCP_EVENT_SYNACK, waiting[0]);
    sched_op(&s, T0 + 25 * SEC + 2 * MS, OP_TCP, TCP_EVENT_ESTABLISHED, waiting[0]);
    sched_op(&s, T0 + 25 * SEC + 101 * MS, OP_TCP, TCP_EVENT_SYNACK, waiting[1]);
    sched_op(&s, T0 + 25 * SEC + 102 * MS, OP_TCP, TCP_EVENT_ESTABLISHED, waiting[1]);
    sched_play(&s, T0 + 25 * SEC + 50 * MS);
    g_assert_cmpuint(verdict_count(&f), ==, 1);
    const verdict_t *v = verdict_at(&f, 0);
    g_assert_cmpint(v->id, ==, V_TCP_QUEUE_LIMIT);
    g_assert_cmpint(v->at.ts_us, ==, T0 + 25 * SEC + 1 * MS);
    g_assert_cmpint(fact(v, "longest_silent_s"), ==, 15);
    sched_play(&s, T0 + 120 * SEC);
    input_end(&f);
    sched_free(&s);
    fixture_free(&f);
}

/* A server whose verdict fired, dropped from the table for newer ones:
 * its final figures go out then. */
static void test_queue_evicted_server_updates(void)
{
    fixture_t f;
    fixture_init(&f);
    fixture_start(&f);
    sched_t s;
    sched_init(&s, &f, IOS, 80);
    ios_like(&s);
    sched_play(&s, T0 + 40 * SEC);
    g_assert_cmpuint(verdict_count(&f), ==, 1);
    g_assert_cmpint(fact(verdict_at(&f, 0), "unanswered"), ==, 49);
    for (unsigned i = 0; i < DIAG_QUEUE_SERVERS_MAX; i++) {
        uint8_t server[4] = { 10, 2, (uint8_t)(i / 250), (uint8_t)(1 + i % 250) };
        flow_t *flow = new_flow(&f, PHONE, (uint16_t)(30000 + i), server, 80);
        tcp(&f, flow, TCP_EVENT_SYN, T0 + 41 * SEC + i * MS);
    }
    g_assert_cmpuint(diag_queue_stats(diag_tcp_queue(f.d))->servers_dropped, ==, 1);
    g_assert_cmpuint(verdict_count(&f), ==, 2);
    const verdict_t *u = verdict_at(&f, 1);
    g_assert_true(u->update);
    g_assert_cmpint(fact(u, "unanswered"), ==, 60);
    g_assert_cmpint(fact(u, "attempts"), ==, 140);
    input_end(&f);
    g_assert_cmpuint(verdict_count(&f), ==, 2);
    sched_free(&s);
    fixture_free(&f);
}

/* Deaf to new SYNs but still closing its established connections: fires
 * during the silence, without waiting for a SYN-ACK. */
static void test_queue_fires_on_life_during_silence(void)
{
    fixture_t f;
    fixture_init(&f);
    fixture_start(&f);
    sched_t s;
    sched_init(&s, &f, IOS, 80);
    for (int i = 0; i < 20; i++)
        answered(&s, T0 + i * 250 * MS, 14 * SEC); /* the last closes at 18.75 s */
    for (int i = 0; i < 80; i++)
        unanswered(&s, T0 + 5 * SEC + i * 250 * MS, T0 + 60 * SEC);
    sched_play(&s, T0 + 60 * SEC);
    g_assert_cmpuint(verdict_count(&f), ==, 1);
    const verdict_t *v = verdict_at(&f, 0);
    g_assert_cmpint(v->id, ==, V_TCP_QUEUE_LIMIT);
    /* at the first FIN from the server once the silence was 5 s long with
     * enough unanswered: silence from 5 s, first FIN 14.002 s */
    g_assert_cmpint(v->at.ts_us, <, T0 + 19 * SEC);
    g_assert_cmpint(v->at.ts_us, >=, T0 + 14 * SEC);
    g_assert_cmpint(fact(v, "silent_periods"), ==, 1);
    g_assert_cmpint(fact(v, "peak_concurrent"), ==, 20);
    input_end(&f);
    sched_free(&s);
    fixture_free(&f);
}

/* How each attempt is judged: a SYN-ACK within 3 s (even on a
 * retransmission) answers it, a later one does not, an RST refuses it; at
 * the end, a single young SYN is left unjudged, a retransmitted one is
 * unanswered. */
static void test_queue_judgement(void)
{
    fixture_t f;
    fixture_init(&f);
    fixture_start(&f);
    const diag_queue_stats_t *st = diag_queue_stats(diag_tcp_queue(f.d));
    uint8_t c[4] = { 10, 4, 0, 1 };
    flow_t *a = new_flow(&f, c, 40001, IOS, 80);
    flow_t *b = new_flow(&f, c, 40002, IOS, 80);
    flow_t *late = new_flow(&f, c, 40003, IOS, 80);
    flow_t *rst = new_flow(&f, c, 40004, IOS, 80);
    flow_t *never = new_flow(&f, c, 40005, IOS, 80);
    tcp(&f, a, TCP_EVENT_SYN, T0);
    tcp(&f, b, TCP_EVENT_SYN, T0 + 1);
    tcp(&f, late, TCP_EVENT_SYN, T0 + 2);
    tcp(&f, rst, TCP_EVENT_SYN, T0 + 3);
    tcp(&f, never, TCP_EVENT_SYN, T0 + 4);
    tcp(&f, a, TCP_EVENT_SYNACK, T0 + 1 * MS);
    tcp(&f, rst, TCP_EVENT_RST_FROM_SERVER, T0 + 2 * MS);
    tcp(&f, b, TCP_EVENT_SYN_AGAIN, T0 + 1 * SEC);
    tcp(&f, late, TCP_EVENT_SYN_AGAIN, T0 + 1 * SEC);
    tcp(&f, never, TCP_EVENT_SYN_AGAIN, T0 + 1 * SEC);
    tcp(&f, b, TCP_EVENT_SYNACK, T0 + 1 * SEC + 1 * MS);
    tick(&f, T0 + 2900 * MS);
    g_assert_cmpuint(st->attempts, ==, 5);
    g_assert_cmpuint(st->answered, ==, 2);
    g_assert_cmpuint(st->refused, ==, 1);
    g_assert_cmpuint(st->unanswered, ==, 0); /* their 3 s are not over */
    tick(&f, T0 + 3100 * MS);
    g_assert_cmpuint(st->unanswered, ==, 2);
    tcp(&f, late, TCP_EVENT_SYNACK, T0 + 3500 * MS); /* too late */
    g_assert_cmpuint(st->answered, ==, 2);
    g_assert_cmpuint(st->unanswered, ==, 2);
    flow_t *young = new_flow(&f, c, 40006, IOS, 80);
    flow_t *young_rtx = new_flow(&f, c, 40007, IOS, 80);
    tcp(&f, young, TCP_EVENT_SYN, T0 + 10 * SEC);
    tcp(&f, young_rtx, TCP_EVENT_SYN, T0 + 10 * SEC);
    tcp(&f, young_rtx, TCP_EVENT_SYN_AGAIN, T0 + 11 * SEC);
    tick(&f, T0 + 11500 * MS);
    input_end(&f);
    g_assert_cmpuint(st->attempts, ==, 7);
    g_assert_cmpuint(st->answered, ==, 2);
    g_assert_cmpuint(st->refused, ==, 1);
    g_assert_cmpuint(st->unanswered, ==, 3);
    fixture_free(&f);
}

/* The deadline's timer refused by the memory cap: a late SYN-ACK is still
 * judged late. */
static void test_queue_late_answer_without_timer(void)
{
    /* what one attempt costs: its flow state, the server, the timer */
    fixture_t m;
    fixture_init(&m);
    fixture_start(&m);
    flow_t *probe = new_flow(&m, PHONE, 40000, IOS, 80);
    tcp(&m, probe, TCP_EVENT_SYN, T0);
    size_t cost = m.d->charged;
    g_assert_cmpuint(m.d->timers->len, ==, 1);
    input_end(&m);
    fixture_free(&m);

    fixture_t f;
    fixture_init_memory(&f, cost - 1);
    fixture_start(&f);
    flow_t *flow = new_flow(&f, PHONE, 40000, IOS, 80);
    tcp(&f, flow, TCP_EVENT_SYN, T0);
    g_assert_cmpuint(f.d->timers->len, ==, 0);
    const diag_queue_stats_t *st = diag_queue_stats(diag_tcp_queue(f.d));
    g_assert_cmpuint(st->servers_now, ==, 1);
    tcp(&f, flow, TCP_EVENT_SYNACK, T0 + 5 * SEC);
    g_assert_cmpuint(st->answered, ==, 0);
    g_assert_cmpuint(st->unanswered, ==, 1);
    input_end(&f);
    fixture_free(&f);
}

/* ------------------------------------------------------------------ */
/* TCP_QUEUE_LIMIT: servers it must not accuse                         */

static void test_queue_dead_server(void)
{
    fixture_t f;
    fixture_init(&f);
    fixture_start(&f);
    sched_t s;
    sched_init(&s, &f, IOS, 80);
    for (int i = 0; i < 100; i++)
        unanswered(&s, T0 + i * 250 * MS, T0 + 60 * SEC);
    sched_play(&s, T0 + 120 * SEC);
    input_end(&f);
    g_assert_cmpuint(verdict_count(&f), ==, 0);
    sched_free(&s);
    fixture_free(&f);
}

/* Deaf from the start, then answering: a service starting, not a queue
 * limit (it had served no one before the silence). */
static void test_queue_starts_late(void)
{
    fixture_t f;
    fixture_init(&f);
    fixture_start(&f);
    sched_t s;
    sched_init(&s, &f, IOS, 80);
    for (int i = 0; i < 60; i++)
        unanswered(&s, T0 + i * 250 * MS, T0 + 15 * SEC);
    for (int i = 0; i < 40; i++)
        answered(&s, T0 + 15 * SEC + i * 250 * MS, 100 * MS);
    sched_play(&s, T0 + 120 * SEC);
    input_end(&f);
    g_assert_cmpuint(verdict_count(&f), ==, 0);
    g_assert_cmpuint(diag_queue_stats(diag_tcp_queue(f.d))->unanswered, ==, 60);
    sched_free(&s);
    fixture_free(&f);
}

/* Served, then silent for good; its established connections stay open
 * (nothing closes them: the host died). */
static void test_queue_server_died(void)
{
    fixture_t f;
    fixture_init(&f);
    fixture_start(&f);
    sched_t s;
    sched_init(&s, &f, IOS, 80);
    for (int i = 0; i < 40; i++)
        answered(&s, T0 + i * 250 * MS, i < 5 ? -1 : 100 * MS);
    for (int i = 0; i < 100; i++)
        unanswered(&s, T0 + 10 * SEC + i * 250 * MS, T0 + 60 * SEC);
    sched_play(&s, T0 + 120 * SEC);
    input_end(&f);
    g_assert_cmpuint(verdict_count(&f), ==, 0);
    sched_free(&s);
    fixture_free(&f);
}

/* 2000 connections in 60 s, each open 3 s (about 100 at once), all
 * answered; a few lost SYNs answered on their first retransmission. */
static void test_queue_busy_healthy(void)
{
    fixture_t f;
    fixture_init(&f);
    fixture_start(&f);
    sched_t s;
    sched_init(&s, &f, IOS, 80);
    for (int i = 0; i < 2000; i++) {
        int64_t t = T0 + i * 30 * MS;
        if (i % 100 == 7) {
            flow_t *flow = sched_flow(&s);
            sched_op(&s, t, OP_TCP, TCP_EVENT_SYN, flow);
            sched_op(&s, t + 1 * SEC, OP_TCP, TCP_EVENT_SYN_AGAIN, flow);
            sched_op(&s, t + 1 * SEC + 1 * MS, OP_TCP, TCP_EVENT_SYNACK, flow);
            sched_op(&s, t + 1 * SEC + 2 * MS, OP_TCP, TCP_EVENT_ESTABLISHED, flow);
        } else {
            answered(&s, t, 3 * SEC);
        }
    }
    sched_play(&s, T0 + 120 * SEC);
    input_end(&f);
    g_assert_cmpuint(verdict_count(&f), ==, 0);
    const diag_queue_stats_t *st = diag_queue_stats(diag_tcp_queue(f.d));
    g_assert_cmpuint(st->servers, ==, 1);
    g_assert_cmpuint(st->attempts_not_judged, ==, 0);
    sched_free(&s);
    fixture_free(&f);
}

/* A 15 s silence with too few unanswered attempts (6 < 10). */
static void test_queue_too_few_unanswered(void)
{
    fixture_t f;
    fixture_init(&f);
    fixture_start(&f);
    sched_t s;
    sched_init(&s, &f, IOS, 80);
    for (int i = 0; i < 20; i++)
        answered(&s, T0 + i * 500 * MS, 100 * MS);
    for (int i = 0; i < 6; i++)
        unanswered(&s, T0 + 10 * SEC + i * 2500 * MS, T0 + 25 * SEC);
    for (int i = 0; i < 20; i++)
        answered(&s, T0 + 25 * SEC + i * 500 * MS, 100 * MS);
    sched_play(&s, T0 + 120 * SEC);
    input_end(&f);
    g_assert_cmpuint(verdict_count(&f), ==, 0);
    sched_free(&s);
    fixture_free(&f);
}

/* 12 unanswered among 212 attempts (5 %): below queue_unanswered_pct
 * (20); with 5 % it fires. */
static void run_small_share(unsigned pct, guint expected)
{
    fixture_t f;
    fixture_init(&f);
    f.config.queue_unanswered_pct = pct;
    fixture_start(&f);
    sched_t s;
    sched_init(&s, &f, IOS, 80);
    for (int i = 0; i < 100; i++)
        answered(&s, T0 + i * 100 * MS, 50 * MS);
    for (int i = 0; i < 12; i++)
        unanswered(&s, T0 + 10 * SEC + i * 1200 * MS, T0 + 25 * SEC);
    for (int i = 0; i < 100; i++)
        answered(&s, T0 + 25 * SEC + i * 100 * MS, 50 * MS);
    sched_play(&s, T0 + 120 * SEC);
    input_end(&f);
    g_assert_cmpuint(count_of(&f, V_TCP_QUEUE_LIMIT), ==, expected);
    sched_free(&s);
    fixture_free(&f);
}

static void test_queue_small_share(void)
{
    run_small_share(20, 0);
    run_small_share(5, 2); /* fired, then updated at the end */
}

/* Many attempts left unanswered, but the server answers someone every
 * 2 s: no silence of 5 s (queue_silent_s); with 1 s there is. */
static void run_short_silences(unsigned silent_s, bool expected)
{
    fixture_t f;
    fixture_init(&f);
    f.config.queue_silent_s = silent_s;
    fixture_start(&f);
    sched_t s;
    sched_init(&s, &f, IOS, 80);
    for (int i = 0; i < 30; i++)
        answered(&s, T0 + i * 2 * SEC, 100 * MS);
    for (int i = 0; i < 100; i++)
        unanswered(&s, T0 + 500 * MS + i * 500 * MS, T0 + 60 * SEC);
    sched_play(&s, T0 + 120 * SEC);
    input_end(&f);
    g_assert_cmpint(count_of(&f, V_TCP_QUEUE_LIMIT) > 0, ==, expected);
    sched_free(&s);
    fixture_free(&f);
}

static void test_queue_short_silences(void)
{
    run_short_silences(5, false);
    run_short_silences(1, true);
}

/* One client retrying alone through a silence: not a silent period (SYNs
 * of one attempt only, then of one answered at once), even with the
 * thresholds at their lowest and the server closing a connection meanwhile. */
static void test_queue_lone_retrier(void)
{
    fixture_t f;
    fixture_init(&f);
    f.config.queue_min_unanswered = 1;
    f.config.queue_unanswered_pct = 1;
    fixture_start(&f);
    sched_t s;
    sched_init(&s, &f, IOS, 80);
    answered(&s, T0, 15 * SEC); /* closed by the server during the silence */
    unanswered(&s, T0 + 1 * SEC, T0 + 30 * SEC);
    answered(&s, T0 + 20 * SEC, 100 * MS);
    sched_play(&s, T0 + 120 * SEC);
    input_end(&f);
    g_assert_cmpuint(verdict_count(&f), ==, 0);
    sched_free(&s);
    fixture_free(&f);
}

/* A silence long before the unanswered attempts: outside a 60 s window,
 * inside a 600 s one. */
static void run_silence_outside_window(unsigned window_s, bool expected)
{
    fixture_t f;
    fixture_init(&f);
    f.config.queue_window_s = window_s;
    fixture_start(&f);
    sched_t s;
    sched_init(&s, &f, IOS, 80);
    /* a 15 s silence with 4 unanswered */
    answered(&s, T0, 100 * MS);
    for (int i = 0; i < 4; i++)
        unanswered(&s, T0 + 1 * SEC + i * 3 * SEC, T0 + 16 * SEC);
    answered(&s, T0 + 16 * SEC, 100 * MS);
    /* 200 s later: answers every second, 30 attempts unanswered */
    for (int i = 0; i < 40; i++)
        answered(&s, T0 + 200 * SEC + i * SEC, 100 * MS);
    for (int i = 0; i < 30; i++)
        unanswered(&s, T0 + 200 * SEC + 500 * MS + i * SEC, T0 + 240 * SEC);
    sched_play(&s, T0 + 300 * SEC);
    input_end(&f);
    g_assert_cmpuint(count_of(&f, V_TCP_QUEUE_LIMIT) > 0, ==, expected);
    if (expected) {
        /* per minute, not per window: the 70 attempts of 200-240 s */
        const verdict_t *v = last_of(&f, V_TCP_QUEUE_LIMIT);
        g_assert_cmpint(fact(v, "attempts_per_minute_peak"), ==, 70);
        g_assert_cmpint(fact(v, "attempts"), ==, 76);
        g_assert_cmpint(fact(v, "unanswered"), ==, 34);
    }
    sched_free(&s);
    fixture_free(&f);
}

static void test_queue_silence_outside_window(void)
{
    run_silence_outside_window(60, false);
    run_silence_outside_window(600, true);
}

/* The servers are per address:port: deafness on :80 says nothing of :443. */
static void test_queue_per_server(void)
{
    fixture_t f;
    fixture_init(&f);
    fixture_start(&f);
    sched_t a, b;
    sched_init(&a, &f, IOS, 443);
    sched_init(&b, &f, IOS, 80);
    for (int i = 0; i < 40; i++)
        answered(&a, T0 + i * 250 * MS, 100 * MS);
    for (int i = 0; i < 60; i++)
        unanswered(&b, T0 + 10 * SEC + i * 250 * MS, T0 + 25 * SEC);
    for (int i = 0; i < 40; i++)
        answered(&a, T0 + 25 * SEC + i * 250 * MS, 100 * MS);
    /* both schedules in one time order */
    g_array_append_vals(a.ops, b.ops->data, b.ops->len);
    for (guint i = 0; i < a.ops->len; i++)
        g_array_index(a.ops, op_t, i).order = i;
    sched_play(&a, T0 + 120 * SEC);
    input_end(&f);
    g_assert_cmpuint(verdict_count(&f), ==, 0);
    g_assert_cmpuint(diag_queue_stats(diag_tcp_queue(f.d))->servers, ==, 2);
    sched_free(&a);
    sched_free(&b);
    fixture_free(&f);
}

/* ------------------------------------------------------------------ */
/* TCP_QUEUE_LIMIT: bounds                                             */

static void test_queue_servers_bounded(void)
{
    fixture_t f;
    fixture_init(&f);
    fixture_start(&f);
    for (unsigned i = 0; i < 2000; i++) {
        uint8_t server[4] = { 10, 2, (uint8_t)(i / 250), (uint8_t)(1 + i % 250) };
        flow_t *flow = new_flow(&f, PHONE, (uint16_t)(30000 + i), server, 80);
        tcp(&f, flow, TCP_EVENT_SYN, T0 + i * MS);
    }
    const diag_queue_stats_t *st = diag_queue_stats(diag_tcp_queue(f.d));
    g_assert_cmpuint(st->servers, ==, 2000);
    g_assert_cmpuint(st->servers_now, ==, DIAG_QUEUE_SERVERS_MAX);
    g_assert_cmpuint(st->servers_dropped, ==, 2000 - DIAG_QUEUE_SERVERS_MAX);
    /* what the servers hold stays small: 512 entries, 2000 flows */
    g_assert_cmpuint(f.d->charged, <, (size_t)8 << 20);
    input_end(&f);
    g_assert_cmpuint(verdict_count(&f), ==, 0);
    fixture_free(&f);
}

static void test_queue_pending_bounded(void)
{
    fixture_t f;
    fixture_init(&f);
    fixture_start(&f);
    for (unsigned i = 0; i < DIAG_QUEUE_PENDING_MAX + 76; i++) {
        uint8_t client[4] = { 10, 3, (uint8_t)(i / 250), (uint8_t)(1 + i % 250) };
        flow_t *flow = new_flow(&f, client, 40000, IOS, 80);
        tcp(&f, flow, TCP_EVENT_SYN, T0 + i * 100);
    }
    const diag_queue_stats_t *st = diag_queue_stats(diag_tcp_queue(f.d));
    g_assert_cmpuint(st->attempts_not_judged, ==, 76);
    tick(&f, T0 + 10 * SEC);
    input_end(&f);
    g_assert_cmpuint(st->attempts_not_judged, ==, 76);
    fixture_free(&f);
}

/* The memory cap refuses the server's entry: counted, nothing breaks. */
static void test_queue_memory_refused(void)
{
    fixture_t f;
    fixture_init_memory(&f, sizeof(diag_flow_t) + 2 * sizeof(diag_timer_t) + 64);
    fixture_start(&f);
    flow_t *flow = new_flow(&f, PHONE, 50000, IOS, 80);
    tcp(&f, flow, TCP_EVENT_SYN, T0);
    tcp(&f, flow, TCP_EVENT_SYN_AGAIN, T0 + 1 * SEC);
    tcp(&f, flow, TCP_EVENT_SYNACK, T0 + 2 * SEC);
    g_assert_nonnull(diag_flow_find(f.d, flow->id));
    const diag_queue_stats_t *st = diag_queue_stats(diag_tcp_queue(f.d));
    g_assert_cmpuint(st->servers_refused, ==, 1);
    g_assert_cmpuint(st->servers_now, ==, 0);
    input_end(&f);
    g_assert_cmpuint(verdict_count(&f), ==, 0);
    fixture_free(&f);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/diag-tcp/capf/unreachable-after-timeout", test_capf_unreachable_after_timeout);
    g_test_add_func("/diag-tcp/capf/retries-fold", test_capf_retries_fold);
    g_test_add_func("/diag-tcp/capf/answered", test_capf_answered);
    g_test_add_func("/diag-tcp/capf/end-young-single-syn", test_capf_end_young_single_syn);
    g_test_add_func("/diag-tcp/capf/end-young-retransmitted", test_capf_end_young_retransmitted);
    g_test_add_func("/diag-tcp/capf/retired-unanswered", test_capf_retired_unanswered);
    g_test_add_func("/diag-tcp/capf/other-port", test_capf_other_port);
    g_test_add_func("/diag-tcp/capf/configured-port-and-timeout", test_capf_configured_port_and_timeout);
    g_test_add_func("/diag-tcp/capf/device-name", test_capf_device_name);
    g_test_add_func("/diag-tcp/capf/service-down", test_capf_service_down);
    g_test_add_func("/diag-tcp/capf/rst-after-synack", test_capf_rst_after_synack);
    g_test_add_func("/diag-tcp/queue/fires-when-server-comes-back", test_queue_fires_when_server_comes_back);
    g_test_add_func("/diag-tcp/queue/no-update-when-unchanged", test_queue_no_update_when_unchanged);
    g_test_add_func("/diag-tcp/queue/update-counts-second-silence", test_queue_update_counts_second_silence);
    g_test_add_func("/diag-tcp/queue/fires-on-life-during-silence", test_queue_fires_on_life_during_silence);
    g_test_add_func("/diag-tcp/queue/life-needs-length", test_queue_life_needs_length);
    g_test_add_func("/diag-tcp/queue/answers-the-waiting", test_queue_answers_the_waiting);
    g_test_add_func("/diag-tcp/queue/evicted-server-updates", test_queue_evicted_server_updates);
    g_test_add_func("/diag-tcp/queue/judgement", test_queue_judgement);
    g_test_add_func("/diag-tcp/queue/late-answer-without-timer", test_queue_late_answer_without_timer);
    g_test_add_func("/diag-tcp/queue/dead-server", test_queue_dead_server);
    g_test_add_func("/diag-tcp/queue/starts-late", test_queue_starts_late);
    g_test_add_func("/diag-tcp/queue/server-died", test_queue_server_died);
    g_test_add_func("/diag-tcp/queue/busy-healthy", test_queue_busy_healthy);
    g_test_add_func("/diag-tcp/queue/too-few-unanswered", test_queue_too_few_unanswered);
    g_test_add_func("/diag-tcp/queue/small-share", test_queue_small_share);
    g_test_add_func("/diag-tcp/queue/short-silences", test_queue_short_silences);
    g_test_add_func("/diag-tcp/queue/lone-retrier", test_queue_lone_retrier);
    g_test_add_func("/diag-tcp/queue/silence-outside-window", test_queue_silence_outside_window);
    g_test_add_func("/diag-tcp/queue/per-server", test_queue_per_server);
    g_test_add_func("/diag-tcp/queue/servers-bounded", test_queue_servers_bounded);
    g_test_add_func("/diag-tcp/queue/pending-bounded", test_queue_pending_bounded);
    g_test_add_func("/diag-tcp/queue/memory-refused", test_queue_memory_refused);
    return g_test_run();
}
