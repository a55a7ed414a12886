#include "analysis.h"

#include "analysis_hub.h"
#include "diagnosis.h"
#include "dns_names.h"

void analysis_emit_tls(analysis_t *a, const flow_t *flow, const tls_conn_t *tls,
                       const packet_info_t *at, bool changed, bool final)
{
    analysis_t *to = a->hub ? analysis_hub_enter(a->hub) : a;
    for (unsigned i = 0; i < to->sink_count; i++)
        if (to->sinks[i]->tls)
            to->sinks[i]->tls(to->sinks[i], flow, tls, at, changed, final);
    if (to->diagnosis)
        diagnosis_tls(to->diagnosis, flow, tls, at, changed, final);
    if (a->hub)
        analysis_hub_leave(a->hub);
}

void analysis_emit_capf(analysis_t *a, const flow_t *flow, const capf_message_t *msg,
                        const capf_event_extra_t *extra, const packet_info_t *at)
{
    analysis_t *to = a->hub ? analysis_hub_enter(a->hub) : a;
    for (unsigned i = 0; i < to->sink_count; i++)
        if (to->sinks[i]->capf)
            to->sinks[i]->capf(to->sinks[i], flow, msg, extra, at);
    if (to->diagnosis)
        diagnosis_capf(to->diagnosis, flow, msg, extra, at);
    if (a->hub)
        analysis_hub_leave(a->hub);
}

void analysis_emit_capf_end(analysis_t *a, const flow_t *flow, const capf_conn_t *conn,
                            const packet_info_t *at)
{
    analysis_t *to = a->hub ? analysis_hub_enter(a->hub) : a;
    for (unsigned i = 0; i < to->sink_count; i++)
        if (to->sinks[i]->capf_end)
            to->sinks[i]->capf_end(to->sinks[i], flow, conn, at);
    if (to->diagnosis)
        diagnosis_capf_end(to->diagnosis, flow, conn, at);
    if (a->hub)
        analysis_hub_leave(a->hub);
}

void analysis_emit_flow_end(analysis_t *a, const flow_t *flow, flow_end_reason_t reason)
{
    analysis_t *to = a->hub ? analysis_hub_enter(a->hub) : a;
    for (unsigned i = 0; i < to->sink_count; i++)
        if (to->sinks[i]->flow_end)
            to->sinks[i]->flow_end(to->sinks[i], flow, reason, &flow->last_packet);
    if (to->diagnosis)
        diagnosis_flow_end(to->diagnosis, flow, reason);
    if (a->hub)
        analysis_hub_leave(a->hub);
}

void analysis_emit_stats(analysis_t *a)
{
    for (unsigned i = 0; i < a->sink_count; i++)
        if (a->sinks[i]->stats)
            a->sinks[i]->stats(a->sinks[i], &a->stats, &a->memcap, dns_names_stats_const(a->dns_names),
                               &a->packet);
}

void analysis_emit_tls_plaintext(analysis_t *a, const flow_t *flow, bool from_client, byte_span_t data)
{
    analysis_t *to = a->hub ? analysis_hub_enter(a->hub) : a;
    for (unsigned i = 0; i < to->sink_count; i++)
        if (to->sinks[i]->tls_plaintext)
            to->sinks[i]->tls_plaintext(to->sinks[i], flow, from_client, data, &a->packet);
    if (a->hub)
        analysis_hub_leave(a->hub);
}

void analysis_emit_http(analysis_t *a, const flow_t *flow, const http_exchange_t *exchange,
                        const packet_info_t *at)
{
    analysis_t *to = a->hub ? analysis_hub_enter(a->hub) : a;
    for (unsigned i = 0; i < to->sink_count; i++)
        if (to->sinks[i]->http)
            to->sinks[i]->http(to->sinks[i], flow, exchange, at);
    if (to->diagnosis)
        diagnosis_http(to->diagnosis, flow, exchange, at);
    if (a->hub)
        analysis_hub_leave(a->hub);
}

void analysis_emit_dns(analysis_t *a, const flow_t *flow, const dns_transaction_t *transaction,
                       const packet_info_t *at)
{
    analysis_t *to = a->hub ? analysis_hub_enter(a->hub) : a;
    for (unsigned i = 0; i < to->sink_count; i++)
        if (to->sinks[i]->dns)
            to->sinks[i]->dns(to->sinks[i], flow, transaction, at);
    if (to->diagnosis)
        diagnosis_dns(to->diagnosis, flow, transaction, at);
    if (a->hub)
        analysis_hub_leave(a->hub);
}

void analysis_emit_http_request(analysis_t *a, const flow_t *flow, const http_exchange_t *exchange,
                                const packet_info_t *at)
{
    analysis_t *to = a->hub ? analysis_hub_enter(a->hub) : a;
    if (to->diagnosis)
        diagnosis_http_request(to->diagnosis, flow, exchange, at);
    if (a->hub)
        analysis_hub_leave(a->hub);
}

void analysis_emit_tcp(analysis_t *a, const flow_t *flow, tcp_event_t event)
{
    analysis_t *to = a->hub ? analysis_hub_enter(a->hub) : a;
    if (to->diagnosis)
        diagnosis_tcp(to->diagnosis, flow, event, &a->packet);
    if (a->hub)
        analysis_hub_leave(a->hub);
}

void analysis_emit_verdict(analysis_t *a, const verdict_t *verdict)
{
    analysis_t *to = a->hub ? analysis_hub_enter(a->hub) : a;
    for (unsigned i = 0; i < to->sink_count; i++)
        if (to->sinks[i]->verdict)
            to->sinks[i]->verdict(to->sinks[i], verdict);
    if (a->hub)
        analysis_hub_leave(a->hub);
}

/* How often a worker tells the hub how far it has got (packet time). */
#define HUB_PROGRESS_US 10000

void analysis_tick(analysis_t *a, int64_t now_us, const packet_info_t *at)
{
    if (a->hub) {
        /* The shared diagnosis moves on the slowest worker's time. */
        if (now_us - a->progress_told_us >= HUB_PROGRESS_US || !at) {
            a->progress_told_us = now_us;
            analysis_hub_progress(a->hub, a->worker_index, now_us);
        }
        return;
    }
    if (a->diagnosis)
        diagnosis_tick(a->diagnosis, now_us, at);
}
