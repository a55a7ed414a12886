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
#include "monitor/diag_internal.h"
#include "monitor/diag_queue.h"
#include "monitor/diagnosis.h"
#include "monitor/verdict.h"
#include "verdict_sink.h"

#include <glib.h>
#include <string.h>

#define SEC ((int64_t)1000000)
#define MS ((int64_t)1000)
#define T0 ((int64_t)1795357880 * SEC)

/* ------------------------------------------------------------------ */
/* The diagnosis and its flows                                         */

typedef struct fixture {
    diag_fixture_t diag;
    GPtrArray *flows;  /* flow_t*, all made */
    GHashTable *ended; /* flow_t* retired */
    uint64_t frame;
    uint64_t next_id;
} fixture_t;

static void fixture_start(fixture_t *f)
{
    f->diag.a.capf_port = 3804;
    diag_fixture_start(&f->diag);
}

/* Defaults; the test may change f->diag.config before fixture_start. */
static void fixture_init_memory(fixture_t *f, size_t global_memory)
{
    memset(f, 0, sizeof(*f));
    diag_fixture_prepare(&f->diag, global_memory, 4u << 20);
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
    diag_fixture_destroy(&f->diag, NULL);
    g_ptr_array_free(f->flows, TRUE);
    g_hash_table_destroy(f->ended);
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
    diagnosis_tick(f->diag.d, t, &at);
}

/* One TCP event at t, with the flow's flags kept as the engine keeps them;
 * returns its frame. */
static uint64_t tcp(fixture_t *f, flow_t *flow, tcp_event_t ev, int64_t t)
{
    packet_info_t at = { t, NULL, ++f->frame };
    diagnosis_tick(f->diag.d, t, &at);
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
    diagnosis_tcp(f->diag.d, flow, ev, &at);
    return at.pcap_cnt;
}

static void flow_end(fixture_t *f, flow_t *flow, flow_end_reason_t reason, int64_t t)
{
    tick(f, t);
    diagnosis_flow_end(f->diag.d, flow, reason);
    g_hash_table_add(f->ended, flow);
}

/* The end of the input, as engine_finish does it. */
static void input_end(fixture_t *f)
{
    diagnosis_input_ended(f->diag.d);
    for (guint i = 0; i < f->flows->len; i++) {
        flow_t *flow = g_ptr_array_index(f->flows, i);
        if (!g_hash_table_contains(f->ended, flow)) {
            diagnosis_flow_end(f->diag.d, flow, FLOW_END_CAPTURE_END);
            g_hash_table_add(f->ended, flow);
        }
    }
    diagnosis_finish(f->diag.d);
}

static const uint8_t PHONE[4] = { 10, 0, 0, 5 };
static const uint8_t CAPF[4] = { 10, 0, 0, 1 };

/* The diagnosis with the default configuration. */
static void fixture_open(fixture_t *f)
{
    fixture_init(f);
    fixture_start(f);
}

/* The phone's attempt from cport to CAPF's port: the SYN at t, then as
 * many of its retransmissions (1 s and 3 s after it) as make `syns`;
 * frames, when given, gets their frames. */
static flow_t *capf_attempt(fixture_t *f, uint16_t cport, uint16_t port, int64_t t, unsigned syns,
                            uint64_t *frames)
{
    static const int64_t after_s[] = { 0, 1, 3 };
    g_assert_cmpuint(syns, >=, 1);
    g_assert_cmpuint(syns, <=, G_N_ELEMENTS(after_s));
    flow_t *flow = new_flow(f, PHONE, cport, CAPF, port);
    for (unsigned i = 0; i < syns; i++) {
        uint64_t frame = tcp(f, flow, i ? TCP_EVENT_SYN_AGAIN : TCP_EVENT_SYN, t + after_s[i] * SEC);
        if (frames)
            frames[i] = frame;
    }
    return flow;
}

/* The phone's connection from cport to CAPF, answered at once. */
static flow_t *capf_connection(fixture_t *f, uint16_t cport, int64_t t)
{
    flow_t *flow = new_flow(f, PHONE, cport, CAPF, 3804);
    tcp(f, flow, TCP_EVENT_SYN, t);
    tcp(f, flow, TCP_EVENT_SYNACK, t + 1 * MS);
    tcp(f, flow, TCP_EVENT_ESTABLISHED, t + 2 * MS);
    return flow;
}

/* Time reaches t and the input ends: no verdict came. */
static void end_without_verdict(fixture_t *f, int64_t t)
{
    tick(f, t);
    input_end(f);
    g_assert_cmpuint(verdict_count(f->diag.sink), ==, 0);
}

/* ------------------------------------------------------------------ */
/* CAPF_UNREACHABLE                                                    */

static void test_capf_unreachable_after_timeout(void)
{
    fixture_t f;
    fixture_open(&f);
    uint64_t syns[3];
    flow_t *flow = capf_attempt(&f, 50000, 3804, T0, 3, syns);
    tick(&f, T0 + 9900 * MS);
    g_assert_cmpuint(verdict_count(f.diag.sink), ==, 0); /* not before syn_timeout_s */
    tick(&f, T0 + 10500 * MS);
    g_assert_cmpuint(verdict_count(f.diag.sink), ==, 1);
    const verdict_t *v = verdict_nth(f.diag.sink, 0);
    g_assert_cmpint(v->id, ==, V_CAPF_UNREACHABLE);
    g_assert_cmpstr(v->device, ==, "10.0.0.5");
    g_assert_true(v->device_is_address);
    g_assert_cmpstr(v->client, ==, "10.0.0.5");
    g_assert_cmpstr(v->server, ==, "10.0.0.1:3804");
    g_assert_cmpuint(v->evidence_count, ==, 3);
    g_assert_cmpuint(v->evidence[0], ==, syns[0]);
    g_assert_cmpuint(v->evidence[1], ==, syns[1]);
    g_assert_cmpuint(v->evidence[2], ==, syns[2]);
    g_assert_cmpuint(v->count, ==, 1);
    g_assert_false(v->update);
    g_assert_cmpint(v->first_ts_us, ==, T0);
    g_assert_cmpint(verdict_number_fact(v, "syns"), ==, 3);
    g_assert_nonnull(strstr(v->summary, "within 10 s"));
    /* the flow retired later: nothing more */
    flow_end(&f, flow, FLOW_END_TIMEOUT, T0 + 61 * SEC);
    input_end(&f);
    g_assert_cmpuint(verdict_count(f.diag.sink), ==, 1);
    fixture_free(&f);
}

/* Three attempts 30 s apart, a SYN and two retransmissions each: one
 * verdict, counted three times. */
static void test_capf_retries_fold(void)
{
    fixture_t f;
    fixture_open(&f);
    for (int i = 0; i < 3; i++)
        capf_attempt(&f, (uint16_t)(50001 + i), 3804, T0 + i * 30 * SEC, 3, NULL);
    tick(&f, T0 + 75 * SEC);
    input_end(&f);
    g_assert_cmpuint(verdict_count(f.diag.sink), ==, 3);
    for (guint i = 0; i < 3; i++) {
        const verdict_t *v = verdict_nth(f.diag.sink, i);
        g_assert_cmpint(v->id, ==, V_CAPF_UNREACHABLE);
        g_assert_cmpuint(v->seq, ==, verdict_nth(f.diag.sink, 0)->seq);
        g_assert_cmpuint(v->count, ==, i + 1);
        g_assert_true(v->update == (i > 0));
    }
    const verdict_t *last = verdict_nth(f.diag.sink, 2);
    g_assert_cmpuint(last->evidence_count, ==, 9);
    g_assert_cmpuint(last->flow_count, ==, 3);
    g_assert_cmpint(last->first_ts_us, ==, T0);
    g_assert_cmpuint(diagnosis_counts(f.diag.d)->verdicts[V_CAPF_UNREACHABLE], ==, 1);
    g_assert_cmpuint(diagnosis_counts(f.diag.d)->occurrences[V_CAPF_UNREACHABLE], ==, 3);
    fixture_free(&f);
}

static void test_capf_answered(void)
{
    fixture_t f;
    fixture_open(&f);
    capf_connection(&f, 50000, T0);
    /* a slow one, answered on its third SYN, before the timeout */
    flow_t *slow = capf_attempt(&f, 50001, 3804, T0 + 1 * SEC, 3, NULL);
    tcp(&f, slow, TCP_EVENT_SYNACK, T0 + 8 * SEC);
    end_without_verdict(&f, T0 + 60 * SEC);
    fixture_free(&f);
}

static void test_capf_end_young_single_syn(void)
{
    fixture_t f;
    fixture_open(&f);
    capf_attempt(&f, 50000, 3804, T0, 1, NULL);
    end_without_verdict(&f, T0 + 2 * SEC);
    fixture_free(&f);
}

static void test_capf_end_young_retransmitted(void)
{
    fixture_t f;
    fixture_open(&f);
    capf_attempt(&f, 50000, 3804, T0, 2, NULL);
    tick(&f, T0 + 2 * SEC);
    input_end(&f);
    g_assert_cmpuint(verdict_count(f.diag.sink), ==, 1);
    const verdict_t *v = verdict_nth(f.diag.sink, 0);
    g_assert_cmpint(v->id, ==, V_CAPF_UNREACHABLE);
    g_assert_nonnull(strstr(v->summary, "capture ended"));
    g_assert_cmpint(verdict_number_fact(v, "syns"), ==, 2);
    g_assert_cmpint(verdict_number_fact(v, "unanswered_for_ms"), ==, 2000);
    fixture_free(&f);
}

static void test_capf_retired_unanswered(void)
{
    fixture_t f;
    fixture_open(&f);
    flow_t *flow = capf_attempt(&f, 50000, 3804, T0, 2, NULL);
    flow_end(&f, flow, FLOW_END_EVICTED, T0 + 2 * SEC);
    g_assert_cmpuint(verdict_count(f.diag.sink), ==, 1);
    g_assert_cmpint(verdict_nth(f.diag.sink, 0)->id, ==, V_CAPF_UNREACHABLE);
    g_assert_nonnull(strstr(verdict_nth(f.diag.sink, 0)->summary, "given up"));
    /* a single SYN retired young: nothing */
    flow_t *young = capf_attempt(&f, 50001, 3804, T0 + 3 * SEC, 1, NULL);
    flow_end(&f, young, FLOW_END_EVICTED, T0 + 4 * SEC);
    tick(&f, T0 + 30 * SEC); /* both deadlines pass */
    input_end(&f);
    g_assert_cmpuint(verdict_count(f.diag.sink), ==, 1);
    fixture_free(&f);
}

static void test_capf_other_port(void)
{
    fixture_t f;
    fixture_open(&f);
    capf_attempt(&f, 50000, 443, T0, 3, NULL);
    flow_t *refused = new_flow(&f, PHONE, 50001, CAPF, 443);
    tcp(&f, refused, TCP_EVENT_SYN, T0 + 4 * SEC);
    tcp(&f, refused, TCP_EVENT_RST_FROM_SERVER, T0 + 4 * SEC + 1);
    end_without_verdict(&f, T0 + 30 * SEC);
    fixture_free(&f);
}

static void test_capf_configured_port_and_timeout(void)
{
    fixture_t f;
    fixture_init(&f);
    f.diag.config.syn_timeout_s = 20;
    fixture_start(&f);
    f.diag.a.capf_port = 5000;
    capf_attempt(&f, 50000, 5000, T0, 1, NULL); /* on the port */
    capf_attempt(&f, 50001, 3804, T0, 1, NULL); /* off it */
    tick(&f, T0 + 15 * SEC);
    g_assert_cmpuint(verdict_count(f.diag.sink), ==, 0);
    tick(&f, T0 + 21 * SEC);
    g_assert_cmpuint(verdict_count(f.diag.sink), ==, 1);
    g_assert_cmpstr(verdict_nth(f.diag.sink, 0)->server, ==, "10.0.0.1:5000");
    g_assert_nonnull(strstr(verdict_nth(f.diag.sink, 0)->summary, "within 20 s"));
    input_end(&f);
    g_assert_cmpuint(verdict_count(f.diag.sink), ==, 1);
    fixture_free(&f);
}

static void test_capf_device_name(void)
{
    fixture_t f;
    fixture_open(&f);
    flow_t *flow = capf_attempt(&f, 50000, 3804, T0, 1, NULL);
    diag_flow_t *df = diag_flow_find(f.diag.d, flow->id);
    g_assert_nonnull(df);
    g_strlcpy(df->device, "SEP74A02FC0A675", sizeof(df->device));
    tick(&f, T0 + 11 * SEC);
    g_assert_cmpuint(verdict_count(f.diag.sink), ==, 1);
    g_assert_cmpstr(verdict_nth(f.diag.sink, 0)->device, ==, "SEP74A02FC0A675");
    g_assert_false(verdict_nth(f.diag.sink, 0)->device_is_address);
    g_assert_cmpstr(verdict_nth(f.diag.sink, 0)->client, ==, "10.0.0.5");
    input_end(&f);
    fixture_free(&f);
}

/* ------------------------------------------------------------------ */
/* CAPF_SERVICE_DOWN                                                   */

static void test_capf_service_down(void)
{
    fixture_t f;
    fixture_open(&f);
    uint64_t frames[6];
    for (int i = 0; i < 3; i++) {
        int64_t t = T0 + i * 1200 * MS;
        flow_t *flow = capf_attempt(&f, (uint16_t)(50000 + i), 3804, t, 1, &frames[2 * i]);
        frames[2 * i + 1] = tcp(&f, flow, TCP_EVENT_RST_FROM_SERVER, t + 10);
        /* at once, not at a deadline */
        g_assert_cmpuint(verdict_count(f.diag.sink), ==, (guint)i + 1);
    }
    tick(&f, T0 + 30 * SEC);
    input_end(&f);
    g_assert_cmpuint(verdict_count(f.diag.sink), ==, 3);
    g_assert_cmpuint(verdict_count_id(f.diag.sink, V_CAPF_UNREACHABLE), ==, 0);
    const verdict_t *first = verdict_nth(f.diag.sink, 0), *last = verdict_nth(f.diag.sink, 2);
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
    fixture_open(&f);
    flow_t *flow = capf_connection(&f, 50000, T0);
    tcp(&f, flow, TCP_EVENT_RST_FROM_SERVER, T0 + 50 * MS);
    end_without_verdict(&f, T0 + 30 * SEC);
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

/* Attempts one after the other, each from a client of its own: the i-th
 * at T0 + at + i * every. */
typedef struct burst {
    int n; /* 0: the end of a list */
    bool answered;
    int64_t at, every;
    /* answered: closed by the server after open + i * open_more (open < 0:
     * left open) */
    int64_t open, open_more;
    /* unanswered: the SYN retransmitted before T0 + until */
    int64_t until;
} burst_t;

#define ANSWERED(n, at, every, open) { (n), true, (at), (every), (open), 0, 0 }
/* each one open `more` longer than the one before */
#define ANSWERED_LONGER(n, at, every, open, more) { (n), true, (at), (every), (open), (more), 0 }
#define UNANSWERED(n, at, every, until) { (n), false, (at), (every), 0, 0, (until) }

static void sched_bursts(sched_t *s, const burst_t *b)
{
    for (; b->n; b++) {
        for (int i = 0; i < b->n; i++) {
            int64_t t = T0 + b->at + i * b->every;
            if (b->answered)
                answered(s, t, b->open < 0 ? -1 : b->open + i * b->open_more);
            else
                unanswered(s, t, T0 + b->until);
        }
    }
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

/* The connections to IOS:80 and the configuration they are judged with. */
typedef struct queue_case {
    burst_t bursts[6];
    void (*more)(sched_t *s); /* connections after the bursts, or NULL */
    /* 0: the default */
    unsigned min_unanswered, unanswered_pct, silent_s, window_s;
} queue_case_t;

/* Served 0-10 s (40 attempts), deaf 10-25 s (60 attempts, retransmitting),
 * served again 25-35 s (40 attempts). */
static const queue_case_t ios_like = {
    .bursts = { ANSWERED(40, 0, 250 * MS, 100 * MS), UNANSWERED(60, 10 * SEC, 250 * MS, 25 * SEC),
      ANSWERED(40, 25 * SEC, 250 * MS, 100 * MS) },
};

/* The diagnosis configured as the case says, and its connections
 * scheduled. */
static void queue_open(fixture_t *f, sched_t *s, const queue_case_t *c)
{
    fixture_init(f);
    diagnosis_config_t *config = &f->diag.config;
    if (c->min_unanswered)
        config->queue_min_unanswered = c->min_unanswered;
    if (c->unanswered_pct)
        config->queue_unanswered_pct = c->unanswered_pct;
    if (c->silent_s)
        config->queue_silent_s = c->silent_s;
    if (c->window_s)
        config->queue_window_s = c->window_s;
    fixture_start(f);
    sched_init(s, f, IOS, 80);
    sched_bursts(s, c->bursts);
    if (c->more)
        c->more(s);
}

static void queue_close(fixture_t *f, sched_t *s)
{
    sched_free(s);
    fixture_free(f);
}

/* What a case came to, kept when its diagnosis is gone. */
typedef struct queue_outcome {
    guint verdicts;     /* of any id */
    guint queue_limits; /* TCP_QUEUE_LIMIT, updates too */
    verdict_t last;     /* the last TCP_QUEUE_LIMIT, if any */
    diag_queue_stats_t stats;
} queue_outcome_t;

/* The case played to `until`, then the input ends. */
static queue_outcome_t queue_outcome(const queue_case_t *c, int64_t until)
{
    fixture_t f;
    sched_t s;
    queue_open(&f, &s, c);
    sched_play(&s, until);
    input_end(&f);
    queue_outcome_t out;
    memset(&out, 0, sizeof(out));
    out.verdicts = verdict_count(f.diag.sink);
    out.queue_limits = verdict_count_id(f.diag.sink, V_TCP_QUEUE_LIMIT);
    if (out.queue_limits)
        out.last = *verdict_last_of(f.diag.sink, V_TCP_QUEUE_LIMIT);
    out.stats = *diag_queue_stats(diag_tcp_queue(f.diag.d));
    queue_close(&f, &s);
    return out;
}

static void test_queue_fires_when_server_comes_back(void)
{
    fixture_t f;
    sched_t s;
    queue_open(&f, &s, &ios_like);
    sched_play(&s, T0 + 25 * SEC);
    g_assert_cmpuint(verdict_count(f.diag.sink), ==, 0); /* deaf, but not yet known to be alive */
    sched_play(&s, T0 + 25 * SEC + 1 * MS + 1);
    g_assert_cmpuint(verdict_count(f.diag.sink), ==, 1); /* the first SYN-ACK after the silence */
    const verdict_t *v = verdict_nth(f.diag.sink, 0);
    g_assert_cmpint(v->id, ==, V_TCP_QUEUE_LIMIT);
    g_assert_cmpstr(v->device, ==, "10.0.0.80");
    g_assert_true(v->device_is_address);
    g_assert_cmpstr(v->server, ==, "10.0.0.80:80");
    g_assert_cmpstr(v->client, ==, ""); /* 49 clients: none in particular */
    g_assert_cmpuint(v->at.pcap_cnt, ==, sched_frame(&s, TCP_EVENT_SYNACK, T0 + 25 * SEC));
    g_assert_true(verdict_has_evidence(v, sched_frame(&s, TCP_EVENT_SYN, T0 + 10 * SEC)));
    g_assert_true(verdict_has_evidence(v, v->at.pcap_cnt));
    g_assert_cmpint(v->first_ts_us, ==, T0 + 10 * SEC);
    /* judged 3 s after their first SYN: those of 10.00-22.00 s so far */
    g_assert_cmpint(verdict_number_fact(v, "attempts"), ==, 101);
    g_assert_cmpint(verdict_number_fact(v, "unanswered"), ==, 49);
    g_assert_cmpint(verdict_number_fact(v, "unanswered_pct"), ==, 48);
    g_assert_cmpint(verdict_number_fact(v, "silent_periods"), ==, 1);
    g_assert_cmpint(verdict_number_fact(v, "longest_silent_s"), ==, 15);
    g_assert_cmpint(verdict_number_fact(v, "peak_concurrent"), ==, 1);
    g_assert_cmpint(verdict_number_fact(v, "attempts_per_minute_peak"), ==, 101);
    g_assert_cmpint(verdict_number_fact(v, "clients"), ==, 49);
    g_assert_cmpint(verdict_number_fact(v, "answer_window_s"), ==, 3);
    g_assert_false(verdict_has_fact(v, "not_judged"));
    g_assert_nonnull(strstr(v->summary, "affecting 49 client addresses"));

    /* the rest, and the end: an update with the final figures */
    sched_play(&s, T0 + 100 * SEC);
    g_assert_cmpuint(verdict_count(f.diag.sink), ==, 1); /* fired once */
    input_end(&f);
    g_assert_cmpuint(verdict_count(f.diag.sink), ==, 2);
    const verdict_t *u = verdict_nth(f.diag.sink, 1);
    g_assert_cmpint(u->id, ==, V_TCP_QUEUE_LIMIT);
    g_assert_cmpuint(u->seq, ==, verdict_nth(f.diag.sink, 0)->seq);
    g_assert_true(u->update);
    g_assert_cmpint(verdict_number_fact(u, "attempts"), ==, 140);
    g_assert_cmpint(verdict_number_fact(u, "unanswered"), ==, 60);
    g_assert_cmpint(verdict_number_fact(u, "unanswered_pct"), ==, 42);
    g_assert_cmpint(verdict_number_fact(u, "clients"), ==, 60);
    g_assert_cmpint(verdict_number_fact(u, "silent_periods"), ==, 1);
    g_assert_cmpuint(diagnosis_counts(f.diag.d)->verdicts[V_TCP_QUEUE_LIMIT], ==, 1);
    queue_close(&f, &s);
}

/* No update when nothing grew after the verdict (every attempt was judged
 * when it fired). */
static void test_queue_no_update_when_unchanged(void)
{
    static const queue_case_t c = {
        .bursts = { ANSWERED(40, 0, 250 * MS, 100 * MS), UNANSWERED(60, 10 * SEC, 250 * MS, 25 * SEC),
          ANSWERED(1, 28 * SEC, 0, 100 * MS) },
    };
    fixture_t f;
    sched_t s;
    queue_open(&f, &s, &c);
    sched_play(&s, T0 + 100 * SEC);
    g_assert_cmpuint(verdict_count(f.diag.sink), ==, 1);
    g_assert_cmpint(verdict_number_fact(verdict_nth(f.diag.sink, 0), "unanswered"), ==, 60);
    g_assert_cmpint(verdict_number_fact(verdict_nth(f.diag.sink, 0), "longest_silent_s"), ==, 18);
    input_end(&f);
    g_assert_cmpuint(verdict_count(f.diag.sink), ==, 1);
    queue_close(&f, &s);
}

/* After ios_like: 10 more left open, their flows retired at 34 s (they no
 * longer count); deaf again 35-45 s; then the server answers again: 16
 * connections at once (the clients done at once, the server holding them
 * 5 s), then 40 more one after the other, each closed by an RST, from
 * either side (left open, either half would make 20). */
static void second_silence(sched_t *s)
{
    for (int i = 0; i < 10; i++) {
        flow_t *flow = answered(s, T0 + 30 * SEC + i * 10 * MS, -1);
        sched_op(s, T0 + 34 * SEC, OP_END, 0, flow);
    }
    for (int i = 0; i < 40; i++)
        unanswered(s, T0 + 35 * SEC + i * 250 * MS, T0 + 45 * SEC);
    for (int i = 0; i < 16; i++)
        answered_half_closed(s, T0 + 45 * SEC + i * 10 * MS, 5 * SEC);
    for (int i = 0; i < 40; i++) {
        flow_t *flow = answered(s, T0 + 51 * SEC + i * 300 * MS, -1);
        sched_op(s, T0 + 51 * SEC + i * 300 * MS + 100 * MS, OP_TCP,
                 i % 2 ? TCP_EVENT_RST_FROM_CLIENT : TCP_EVENT_RST_FROM_SERVER, flow);
    }
}

/* A second deaf period after the verdict: the final update counts it. */
static void test_queue_update_counts_second_silence(void)
{
    queue_case_t c = ios_like;
    c.more = second_silence;
    fixture_t f;
    sched_t s;
    queue_open(&f, &s, &c);
    sched_play(&s, T0 + 120 * SEC);
    g_assert_cmpuint(verdict_count(f.diag.sink), ==, 1);
    input_end(&f);
    g_assert_cmpuint(verdict_count(f.diag.sink), ==, 2);
    const verdict_t *u = verdict_nth(f.diag.sink, 1);
    g_assert_true(u->update);
    g_assert_cmpint(verdict_number_fact(u, "silent_periods"), ==, 2);
    g_assert_cmpint(verdict_number_fact(u, "unanswered"), ==, 100);
    g_assert_cmpint(verdict_number_fact(u, "attempts"), ==, 246);
    g_assert_cmpint(verdict_number_fact(u, "peak_concurrent"), ==, 16);
    g_assert_cmpint(verdict_number_fact(u, "longest_silent_s"), ==, 15);
    queue_close(&f, &s);
}

/* While the silence lasts, it counts only once it is queue_silent_s long:
 * with one unanswered attempt enough (judged at 8 s), the server's FINs
 * during it (from 5.5 s) do not make it one before the SYNs 5 s into it. */
static void test_queue_life_needs_length(void)
{
    static const queue_case_t c = {
        .bursts = { ANSWERED_LONGER(20, 0, 250 * MS, 1 * SEC, 250 * MS), /* FINs from 1 s to 10.5 s */
                    UNANSWERED(40, 5 * SEC, 250 * MS, 60 * SEC) },
        .min_unanswered = 1,
        .unanswered_pct = 1,
    };
    fixture_t f;
    sched_t s;
    queue_open(&f, &s, &c);
    sched_play(&s, T0 + 60 * SEC);
    g_assert_cmpuint(verdict_count_id(f.diag.sink, V_TCP_QUEUE_LIMIT), ==, 1);
    const verdict_t *v = verdict_nth(f.diag.sink, 0);
    g_assert_cmpint(v->at.ts_us, ==, T0 + 10 * SEC);
    g_assert_cmpint(verdict_number_fact(v, "longest_silent_s"), ==, 5);
    input_end(&f);
    queue_close(&f, &s);
}

/* Two clients from 10 s and 10.1 s, retransmitting until the server comes
 * back at 25 s and answers them in that order; others unanswered meanwhile. */
static void two_waiting(sched_t *s)
{
    flow_t *waiting[2];
    for (int i = 0; i < 2; i++) {
        flow_t *flow = waiting[i] = sched_flow(s);
        int64_t t = T0 + 10 * SEC + i * 100 * MS;
        sched_op(s, t, OP_TCP, TCP_EVENT_SYN, flow);
        static const int64_t rtx[] = { 1, 3, 7, 15 };
        for (unsigned k = 0; k < G_N_ELEMENTS(rtx); k++)
            sched_op(s, t + rtx[k] * SEC, OP_TCP, TCP_EVENT_SYN_AGAIN, flow);
    }
    for (int i = 0; i < 40; i++)
        unanswered(s, T0 + 11 * SEC + i * 250 * MS, T0 + 25 * SEC);
    sched_op(s, T0 + 25 * SEC + 1 * MS, OP_TCP, TCP_EVENT_SYNACK, waiting[0]);
    sched_op(s, T0 + 25 * SEC + 2 * MS, OP_TCP, TCP_EVENT_ESTABLISHED, waiting[0]);
    sched_op(s, T0 + 25 * SEC + 101 * MS, OP_TCP, TCP_EVENT_SYNACK, waiting[1]);
    sched_op(s, T0 + 25 * SEC + 102 * MS, OP_TCP, TCP_EVENT_ESTABLISHED, waiting[1]);
}

/* Back from its silence, the server answers the retransmitted SYNs of the
 * clients still waiting, the first of them first. */
static void test_queue_answers_the_waiting(void)
{
    static const queue_case_t c = { .bursts = { ANSWERED(40, 0, 250 * MS, 100 * MS) }, .more = two_waiting };
    fixture_t f;
    sched_t s;
    queue_open(&f, &s, &c);
    sched_play(&s, T0 + 25 * SEC + 50 * MS);
    g_assert_cmpuint(verdict_count(f.diag.sink), ==, 1);
    const verdict_t *v = verdict_nth(f.diag.sink, 0);
    g_assert_cmpint(v->id, ==, V_TCP_QUEUE_LIMIT);
    g_assert_cmpint(v->at.ts_us, ==, T0 + 25 * SEC + 1 * MS);
    g_assert_cmpint(verdict_number_fact(v, "longest_silent_s"), ==, 15);
    sched_play(&s, T0 + 120 * SEC);
    input_end(&f);
    queue_close(&f, &s);
}

/* A server whose verdict fired, dropped from the table for newer ones:
 * its final figures go out then. */
static void test_queue_evicted_server_updates(void)
{
    fixture_t f;
    sched_t s;
    queue_open(&f, &s, &ios_like);
    sched_play(&s, T0 + 40 * SEC);
    g_assert_cmpuint(verdict_count(f.diag.sink), ==, 1);
    g_assert_cmpint(verdict_number_fact(verdict_nth(f.diag.sink, 0), "unanswered"), ==, 49);
    for (unsigned i = 0; i < DIAG_QUEUE_SERVERS_MAX; i++) {
        uint8_t server[4] = { 10, 2, (uint8_t)(i / 250), (uint8_t)(1 + i % 250) };
        flow_t *flow = new_flow(&f, PHONE, (uint16_t)(30000 + i), server, 80);
        tcp(&f, flow, TCP_EVENT_SYN, T0 + 41 * SEC + i * MS);
    }
    g_assert_cmpuint(diag_queue_stats(diag_tcp_queue(f.diag.d))->servers_dropped, ==, 1);
    g_assert_cmpuint(verdict_count(f.diag.sink), ==, 2);
    const verdict_t *u = verdict_nth(f.diag.sink, 1);
    g_assert_true(u->update);
    g_assert_cmpint(verdict_number_fact(u, "unanswered"), ==, 60);
    g_assert_cmpint(verdict_number_fact(u, "attempts"), ==, 140);
    input_end(&f);
    g_assert_cmpuint(verdict_count(f.diag.sink), ==, 2);
    queue_close(&f, &s);
}

/* Deaf to new SYNs but still closing its established connections: fires
 * during the silence, without waiting for a SYN-ACK. */
static void test_queue_fires_on_life_during_silence(void)
{
    static const queue_case_t c = {
        .bursts = { ANSWERED(20, 0, 250 * MS, 14 * SEC), /* the last closes at 18.75 s */
          UNANSWERED(80, 5 * SEC, 250 * MS, 60 * SEC) },
    };
    fixture_t f;
    sched_t s;
    queue_open(&f, &s, &c);
    sched_play(&s, T0 + 60 * SEC);
    g_assert_cmpuint(verdict_count(f.diag.sink), ==, 1);
    const verdict_t *v = verdict_nth(f.diag.sink, 0);
    g_assert_cmpint(v->id, ==, V_TCP_QUEUE_LIMIT);
    /* at the first FIN from the server once the silence was 5 s long with
     * enough unanswered: silence from 5 s, first FIN 14.002 s */
    g_assert_cmpint(v->at.ts_us, <, T0 + 19 * SEC);
    g_assert_cmpint(v->at.ts_us, >=, T0 + 14 * SEC);
    g_assert_cmpint(verdict_number_fact(v, "silent_periods"), ==, 1);
    g_assert_cmpint(verdict_number_fact(v, "peak_concurrent"), ==, 20);
    input_end(&f);
    queue_close(&f, &s);
}

/* How each attempt is judged: a SYN-ACK within 3 s (even on a
 * retransmission) answers it, a later one does not, an RST refuses it; at
 * the end, a single young SYN is left unjudged, a retransmitted one is
 * unanswered. */
static void test_queue_judgement(void)
{
    fixture_t f;
    fixture_open(&f);
    const diag_queue_stats_t *st = diag_queue_stats(diag_tcp_queue(f.diag.d));
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
    fixture_open(&m);
    flow_t *probe = new_flow(&m, PHONE, 40000, IOS, 80);
    tcp(&m, probe, TCP_EVENT_SYN, T0);
    size_t cost = m.diag.d->charged;
    g_assert_cmpuint(m.diag.d->timer_count, ==, 1);
    input_end(&m);
    fixture_free(&m);

    fixture_t f;
    fixture_init_memory(&f, cost - 1);
    fixture_start(&f);
    flow_t *flow = new_flow(&f, PHONE, 40000, IOS, 80);
    tcp(&f, flow, TCP_EVENT_SYN, T0);
    g_assert_cmpuint(f.diag.d->timer_count, ==, 0);
    const diag_queue_stats_t *st = diag_queue_stats(diag_tcp_queue(f.diag.d));
    g_assert_cmpuint(st->servers_now, ==, 1);
    tcp(&f, flow, TCP_EVENT_SYNACK, T0 + 5 * SEC);
    g_assert_cmpuint(st->answered, ==, 0);
    g_assert_cmpuint(st->unanswered, ==, 1);
    input_end(&f);
    fixture_free(&f);
}

/* ------------------------------------------------------------------ */
/* TCP_QUEUE_LIMIT: servers it must not accuse                         */

/* 2000 connections in 60 s, each open 3 s (about 100 at once), all
 * answered; a few lost SYNs answered on their first retransmission. */
static void busy_healthy(sched_t *s)
{
    for (int i = 0; i < 2000; i++) {
        int64_t t = T0 + i * 30 * MS;
        if (i % 100 == 7) {
            flow_t *flow = sched_flow(s);
            sched_op(s, t, OP_TCP, TCP_EVENT_SYN, flow);
            sched_op(s, t + 1 * SEC, OP_TCP, TCP_EVENT_SYN_AGAIN, flow);
            sched_op(s, t + 1 * SEC + 1 * MS, OP_TCP, TCP_EVENT_SYNACK, flow);
            sched_op(s, t + 1 * SEC + 2 * MS, OP_TCP, TCP_EVENT_ESTABLISHED, flow);
        } else {
            answered(s, t, 3 * SEC);
        }
    }
}

static void check_starts_late(const queue_outcome_t *out)
{
    g_assert_cmpuint(out->stats.unanswered, ==, 60);
}

static void check_busy_healthy(const queue_outcome_t *out)
{
    g_assert_cmpuint(out->stats.servers, ==, 1);
    g_assert_cmpuint(out->stats.attempts_not_judged, ==, 0);
}

/* Played for 120 s, then the input ends: no verdict. */
typedef struct quiet_case {
    queue_case_t c;
    void (*check)(const queue_outcome_t *out); /* more to check, or NULL */
} quiet_case_t;

static const quiet_case_t dead_server = {
    .c = { .bursts = { UNANSWERED(100, 0, 250 * MS, 60 * SEC) } },
};

/* Deaf from the start, then answering: a service starting, not a queue
 * limit (it had served no one before the silence). */
static const quiet_case_t starts_late = {
    .c = { .bursts = { UNANSWERED(60, 0, 250 * MS, 15 * SEC),
                       ANSWERED(40, 15 * SEC, 250 * MS, 100 * MS) } },
    .check = check_starts_late,
};

/* Served, then silent for good; its first 5 established connections stay
 * open (nothing closes them: the host died). */
static const quiet_case_t server_died = {
    .c = { .bursts = { ANSWERED(5, 0, 250 * MS, -1),
                       ANSWERED(35, 1250 * MS, 250 * MS, 100 * MS),
                       UNANSWERED(100, 10 * SEC, 250 * MS, 60 * SEC) } },
};

static const quiet_case_t busy = {
    .c = { .more = busy_healthy },
    .check = check_busy_healthy,
};

/* A 15 s silence with too few unanswered attempts (6 < 10). */
static const quiet_case_t too_few_unanswered = {
    .c = { .bursts = { ANSWERED(20, 0, 500 * MS, 100 * MS),
                       UNANSWERED(6, 10 * SEC, 2500 * MS, 25 * SEC),
                       ANSWERED(20, 25 * SEC, 500 * MS, 100 * MS) } },
};

/* One client retrying alone through a silence: not a silent period (SYNs
 * of one attempt only, then of one answered at once), even with the
 * thresholds at their lowest and the server closing a connection meanwhile. */
static const quiet_case_t lone_retrier = {
    .c = { .bursts = { ANSWERED(1, 0, 0, 15 * SEC), /* closed by the server during the silence */
                       UNANSWERED(1, 1 * SEC, 0, 30 * SEC),
                       ANSWERED(1, 20 * SEC, 0, 100 * MS) },
           .min_unanswered = 1,
           .unanswered_pct = 1 },
};

static void test_queue_quiet(gconstpointer data)
{
    const quiet_case_t *q = data;
    queue_outcome_t out = queue_outcome(&q->c, T0 + 120 * SEC);
    g_assert_cmpuint(out.verdicts, ==, 0);
    if (q->check)
        q->check(&out);
}

/* 12 unanswered among 212 attempts (5 %): below queue_unanswered_pct
 * (20); with 5 % it fires. */
static void test_queue_small_share(void)
{
    queue_case_t c = {
        .bursts = { ANSWERED(100, 0, 100 * MS, 50 * MS), UNANSWERED(12, 10 * SEC, 1200 * MS, 25 * SEC),
          ANSWERED(100, 25 * SEC, 100 * MS, 50 * MS) },
    };
    c.unanswered_pct = 20;
    g_assert_cmpuint(queue_outcome(&c, T0 + 120 * SEC).queue_limits, ==, 0);
    c.unanswered_pct = 5;
    g_assert_cmpuint(queue_outcome(&c, T0 + 120 * SEC).queue_limits, ==, 2); /* fired, then updated */
}

/* Many attempts left unanswered, but the server answers someone every
 * 2 s: no silence of 5 s (queue_silent_s); with 1 s there is. */
static void test_queue_short_silences(void)
{
    queue_case_t c = {
        .bursts = { ANSWERED(30, 0, 2 * SEC, 100 * MS), UNANSWERED(100, 500 * MS, 500 * MS, 60 * SEC) },
    };
    c.silent_s = 5;
    g_assert_cmpint(queue_outcome(&c, T0 + 120 * SEC).queue_limits > 0, ==, false);
    c.silent_s = 1;
    g_assert_cmpint(queue_outcome(&c, T0 + 120 * SEC).queue_limits > 0, ==, true);
}

/* A silence long before the unanswered attempts: outside a 60 s window,
 * inside a 600 s one. */
static void test_queue_silence_outside_window(void)
{
    queue_case_t c = {
        .bursts = { /* a 15 s silence with 4 unanswered */
          ANSWERED(1, 0, 0, 100 * MS), UNANSWERED(4, 1 * SEC, 3 * SEC, 16 * SEC),
          ANSWERED(1, 16 * SEC, 0, 100 * MS),
          /* 200 s later: answers every second, 30 attempts unanswered */
          ANSWERED(40, 200 * SEC, 1 * SEC, 100 * MS),
          UNANSWERED(30, 200 * SEC + 500 * MS, 1 * SEC, 240 * SEC) },
    };
    c.window_s = 60;
    g_assert_cmpint(queue_outcome(&c, T0 + 300 * SEC).queue_limits > 0, ==, false);
    c.window_s = 600;
    queue_outcome_t out = queue_outcome(&c, T0 + 300 * SEC);
    g_assert_cmpint(out.queue_limits > 0, ==, true);
    /* per minute, not per window: the 70 attempts of 200-240 s */
    g_assert_cmpint(verdict_number_fact(&out.last, "attempts_per_minute_peak"), ==, 70);
    g_assert_cmpint(verdict_number_fact(&out.last, "attempts"), ==, 76);
    g_assert_cmpint(verdict_number_fact(&out.last, "unanswered"), ==, 34);
}

/* The servers are per address:port: deafness on :80 says nothing of :443. */
static void test_queue_per_server(void)
{
    fixture_t f;
    fixture_open(&f);
    sched_t a, b;
    sched_init(&a, &f, IOS, 443);
    sched_init(&b, &f, IOS, 80);
    sched_bursts(&a, (const burst_t[]){ ANSWERED(40, 0, 250 * MS, 100 * MS), { 0 } });
    sched_bursts(&b, (const burst_t[]){ UNANSWERED(60, 10 * SEC, 250 * MS, 25 * SEC), { 0 } });
    sched_bursts(&a, (const burst_t[]){ ANSWERED(40, 25 * SEC, 250 * MS, 100 * MS), { 0 } });
    /* both schedules in one time order */
    g_array_append_vals(a.ops, b.ops->data, b.ops->len);
    for (guint i = 0; i < a.ops->len; i++)
        g_array_index(a.ops, op_t, i).order = i;
    sched_play(&a, T0 + 120 * SEC);
    input_end(&f);
    g_assert_cmpuint(verdict_count(f.diag.sink), ==, 0);
    g_assert_cmpuint(diag_queue_stats(diag_tcp_queue(f.diag.d))->servers, ==, 2);
    sched_free(&a);
    sched_free(&b);
    fixture_free(&f);
}

/* ------------------------------------------------------------------ */
/* TCP_QUEUE_LIMIT: bounds                                             */

static void test_queue_servers_bounded(void)
{
    fixture_t f;
    fixture_open(&f);
    for (unsigned i = 0; i < 2000; i++) {
        uint8_t server[4] = { 10, 2, (uint8_t)(i / 250), (uint8_t)(1 + i % 250) };
        flow_t *flow = new_flow(&f, PHONE, (uint16_t)(30000 + i), server, 80);
        tcp(&f, flow, TCP_EVENT_SYN, T0 + i * MS);
    }
    const diag_queue_stats_t *st = diag_queue_stats(diag_tcp_queue(f.diag.d));
    g_assert_cmpuint(st->servers, ==, 2000);
    g_assert_cmpuint(st->servers_now, ==, DIAG_QUEUE_SERVERS_MAX);
    g_assert_cmpuint(st->servers_dropped, ==, 2000 - DIAG_QUEUE_SERVERS_MAX);
    /* what the servers hold stays small: 512 entries, 2000 flows */
    g_assert_cmpuint(f.diag.d->charged, <, (size_t)8 << 20);
    input_end(&f);
    g_assert_cmpuint(verdict_count(f.diag.sink), ==, 0);
    fixture_free(&f);
}

static void test_queue_pending_bounded(void)
{
    fixture_t f;
    fixture_open(&f);
    for (unsigned i = 0; i < DIAG_QUEUE_PENDING_MAX + 76; i++) {
        uint8_t client[4] = { 10, 3, (uint8_t)(i / 250), (uint8_t)(1 + i % 250) };
        flow_t *flow = new_flow(&f, client, 40000, IOS, 80);
        tcp(&f, flow, TCP_EVENT_SYN, T0 + i * 100);
    }
    const diag_queue_stats_t *st = diag_queue_stats(diag_tcp_queue(f.diag.d));
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
    g_assert_nonnull(diag_flow_find(f.diag.d, flow->id));
    const diag_queue_stats_t *st = diag_queue_stats(diag_tcp_queue(f.diag.d));
    g_assert_cmpuint(st->servers_refused, ==, 1);
    g_assert_cmpuint(st->servers_now, ==, 0);
    input_end(&f);
    g_assert_cmpuint(verdict_count(f.diag.sink), ==, 0);
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
    g_test_add_data_func("/diag-tcp/queue/dead-server", &dead_server, test_queue_quiet);
    g_test_add_data_func("/diag-tcp/queue/starts-late", &starts_late, test_queue_quiet);
    g_test_add_data_func("/diag-tcp/queue/server-died", &server_died, test_queue_quiet);
    g_test_add_data_func("/diag-tcp/queue/busy-healthy", &busy, test_queue_quiet);
    g_test_add_data_func("/diag-tcp/queue/too-few-unanswered", &too_few_unanswered, test_queue_quiet);
    g_test_add_func("/diag-tcp/queue/small-share", test_queue_small_share);
    g_test_add_func("/diag-tcp/queue/short-silences", test_queue_short_silences);
    g_test_add_data_func("/diag-tcp/queue/lone-retrier", &lone_retrier, test_queue_quiet);
    g_test_add_func("/diag-tcp/queue/silence-outside-window", test_queue_silence_outside_window);
    g_test_add_func("/diag-tcp/queue/per-server", test_queue_per_server);
    g_test_add_func("/diag-tcp/queue/servers-bounded", test_queue_servers_bounded);
    g_test_add_func("/diag-tcp/queue/pending-bounded", test_queue_pending_bounded);
    g_test_add_func("/diag-tcp/queue/memory-refused", test_queue_memory_refused);
    return g_test_run();
}
