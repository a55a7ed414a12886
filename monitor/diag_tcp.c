/* TCP verdicts: CAPF_UNREACHABLE and CAPF_SERVICE_DOWN from the connection
 * attempts to the CAPF port; every attempt (any server) also goes to
 * diag_queue.c for TCP_QUEUE_LIMIT.
 *
 * CAPF_UNREACHABLE: a SYN to the CAPF port (and its retransmissions) with
 * neither SYN-ACK nor RST within syn_timeout_s of the first SYN (timer
 * DIAG_TIMER_SYN keyed by the flow id), or a flow retired unanswered.
 * CAPF_SERVICE_DOWN: a SYN to the CAPF port answered by the server's RST
 * without SYN-ACK, at once.  A phone retries: each attempt is an
 * occurrence, diag_emit folds them (same id, device, server) into one
 * verdict whose count is the number of attempts.
 */
#include "diag_queue.h"

#include <string.h>

struct diag_tcp_state {
    diag_queue_t *queue;
};

diag_tcp_state_t *diag_tcp_new(void)
{
    diag_tcp_state_t *s = g_new0(diag_tcp_state_t, 1);
    s->queue = diag_queue_new();
    return s;
}

void diag_tcp_free(diagnosis_t *d, diag_tcp_state_t *s)
{
    if (!s)
        return;
    diag_queue_free(d, s->queue);
    g_free(s);
}

diag_queue_t *diag_tcp_queue(diagnosis_t *d)
{
    return d->tcp->queue;
}

static bool on_capf_port(const diagnosis_t *d, const diag_flow_tcp_t *t)
{
    return d->a->capf_port && t->server.port == d->a->capf_port;
}

/* The verdict's device, client and server, from what the attempt kept
 * (the deadline has no flow_t). */
static void verdict_for_attempt(diagnosis_t *d, verdict_t *v, const diag_flow_t *df)
{
    flow_t flow;
    memset(&flow, 0, sizeof(flow));
    flow.id = df->flow_id;
    flow.proto = IPPROTO_NUM_TCP;
    flow.client = df->tcp.client;
    flow.server = df->tcp.server;
    flow.closed_by = -1;
    diag_verdict_for_flow(d, v, &flow);
}

static void add_syn_evidence(verdict_t *v, const diag_flow_tcp_t *t)
{
    for (unsigned i = 0; i < DIAG_TCP_SYN_FRAMES; i++)
        verdict_add_evidence(v, t->syn_frames[i]);
    if (t->syns > DIAG_TCP_SYN_FRAMES)
        v->evidence_more = true;
}

static void capf_unreachable(diagnosis_t *d, diag_flow_t *df, bool timed_out)
{
    diag_flow_tcp_t *t = &df->tcp;
    t->concluded = true;
    if (!diag_flow_once(df, V_CAPF_UNREACHABLE))
        return;
    verdict_t v;
    verdict_init(&v, V_CAPF_UNREACHABLE, NULL); /* at: the moment the deadline passed */
    verdict_for_attempt(d, &v, df);
    add_syn_evidence(&v, t);
    v.first_ts_us = t->first_syn_us;
    double waited = (double)(d->now_us - t->first_syn_us) / 1e6;
    if (timed_out)
        verdict_set_summary(&v,
                            "%s could not reach CAPF at %s: %u SYN%s (%u retransmitted), neither "
                            "SYN-ACK nor RST within %u s",
                            v.device, v.server, t->syns, t->syns == 1 ? "" : "s", t->syns - 1,
                            d->config.syn_timeout_s);
    else
        verdict_set_summary(&v,
                            "%s could not reach CAPF at %s: %u SYNs (%u retransmitted) still "
                            "unanswered when %s, %.1f s after the first",
                            v.device, v.server, t->syns, t->syns - 1,
                            d->finishing ? "the capture ended" : "the connection was given up",
                            waited);
    verdict_fact_number(&v, "syns", t->syns);
    if (!timed_out)
        verdict_fact_number(&v, "unanswered_for_ms", (d->now_us - t->first_syn_us) / 1000);
    diag_emit(d, &v);
}

/* The attempt's deadline passed, or its flow is retired, or the input
 * ended: judge it once. */
static void conclude_capf_attempt(diagnosis_t *d, diag_flow_t *df)
{
    diag_flow_tcp_t *t = &df->tcp;
    if (t->concluded || !t->syns || t->answered || t->reset_by_server || !on_capf_port(d, t))
        return;
    int64_t timeout_us = (int64_t)d->config.syn_timeout_s * 1000000;
    bool timed_out = d->now_us - t->first_syn_us >= timeout_us;
    if (!timed_out && t->syns < 2) {
        /* Younger than the timeout and never retransmitted (the capture
         * ended, or the flow was retired for memory): the phone had not
         * waited long enough for its silence to mean anything.  Nothing to
         * say.  A retransmitted SYN already went unanswered once, so that
         * attempt is reported as still unanswered. */
        t->concluded = true;
        return;
    }
    capf_unreachable(d, df, timed_out);
}

static void capf_service_down(diagnosis_t *d, const flow_t *flow, diag_flow_t *df,
                              const packet_info_t *at)
{
    diag_flow_tcp_t *t = &df->tcp;
    t->concluded = true;
    if (!diag_flow_once(df, V_CAPF_SERVICE_DOWN))
        return;
    verdict_t v;
    verdict_init(&v, V_CAPF_SERVICE_DOWN, at);
    diag_verdict_for_flow(d, &v, flow);
    add_syn_evidence(&v, t);
    verdict_add_evidence(&v, at->pcap_cnt);
    v.first_ts_us = t->first_syn_us;
    verdict_set_summary(&v,
                        "CAPF at %s refused %s's connection: the SYN was answered by RST "
                        "(nothing listens on port %u)",
                        v.server, v.device, flow->server.port);
    verdict_fact_number(&v, "syns", t->syns);
    verdict_fact_number(&v, "rst_frame", (int64_t)at->pcap_cnt);
    diag_emit(d, &v);
}

static void note_syn(diag_flow_tcp_t *t, const packet_info_t *at)
{
    if (t->syns < DIAG_TCP_SYN_FRAMES)
        t->syn_frames[t->syns] = at->pcap_cnt;
    t->syns++;
}

void diagnosis_tcp(diagnosis_t *d, const flow_t *flow, tcp_event_t event, const packet_info_t *at)
{
    if (flow->proto != IPPROTO_NUM_TCP)
        return;
    diag_flow_t *df = diag_flow_find(d, flow->id);
    switch (event) {
    case TCP_EVENT_SYN:
    case TCP_EVENT_SYN_AGAIN:
        if (!df)
            df = diag_flow(d, flow);
        if (!df)
            break;
        if (!df->tcp.syns) {
            /* The first SYN (or the first one we had memory for: the flow
             * began with it). */
            diag_flow_tcp_t *t = &df->tcp;
            t->client = flow->client;
            t->server = flow->server;
            t->first_syn_us = event == TCP_EVENT_SYN ? at->ts_us : flow->first_ts_us;
            if (on_capf_port(d, t))
                diag_timer_add(d, t->first_syn_us + (int64_t)d->config.syn_timeout_s * 1000000,
                               DIAG_TIMER_SYN, flow->id, 0);
        }
        note_syn(&df->tcp, at);
        break;
    case TCP_EVENT_SYNACK:
        if (df && !df->tcp.answered) {
            df->tcp.answered = true;
            df->tcp.answer_us = at->ts_us;
            if (!df->tcp.reset_by_server)
                df->tcp.answer_frame = at->pcap_cnt;
        }
        break;
    case TCP_EVENT_ESTABLISHED:
        if (df)
            df->tcp.established = true;
        break;
    case TCP_EVENT_RST_FROM_SERVER:
        if (df && df->tcp.syns && !df->tcp.answered && !df->tcp.reset_by_server) {
            df->tcp.reset_by_server = true;
            df->tcp.answer_frame = at->pcap_cnt;
            if (on_capf_port(d, &df->tcp) && !df->tcp.concluded)
                capf_service_down(d, flow, df, at);
        }
        break;
    case TCP_EVENT_FIN_FROM_SERVER:
    case TCP_EVENT_FIN_FROM_CLIENT:
    case TCP_EVENT_RST_FROM_CLIENT:
        break;
    }
    diag_queue_event(d, d->tcp->queue, flow, df, event, at);
}

void diag_tcp_flow_end(diagnosis_t *d, const flow_t *flow, diag_flow_t *df)
{
    if (!df)
        return;
    /* Retired unanswered before its deadline (evicted, idle), or at the
     * end of the capture when no deadline could be armed. */
    conclude_capf_attempt(d, df);
    diag_queue_flow_end(d, d->tcp->queue, flow, df);
}

void diag_tcp_timer(diagnosis_t *d, const diag_timer_t *t)
{
    if (t->kind == DIAG_TIMER_QUEUE) {
        diag_queue_timer(d, d->tcp->queue, t);
        return;
    }
    diag_flow_t *df = diag_flow_find(d, t->key);
    if (df) /* gone: its end concluded it */
        conclude_capf_attempt(d, df);
}

void diag_tcp_finish(diagnosis_t *d)
{
    diag_queue_finish(d, d->tcp->queue);
}
