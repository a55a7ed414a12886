#include "analysis.h"

#include "diagnosis.h"
#include "dns_names.h"

void analysis_emit_tls(analysis_t *a, const flow_t *flow, const tls_conn_t *tls,
                       const packet_info_t *at, bool changed, bool final)
{
    for (unsigned i = 0; i < a->sink_count; i++)
        if (a->sinks[i]->tls)
            a->sinks[i]->tls(a->sinks[i], flow, tls, at, changed, final);
    if (a->diagnosis)
        diagnosis_tls(a->diagnosis, flow, tls, at, changed, final);
}

void analysis_emit_capf(analysis_t *a, const flow_t *flow, const capf_message_t *msg,
                        const capf_event_extra_t *extra, const packet_info_t *at)
{
    for (unsigned i = 0; i < a->sink_count; i++)
        if (a->sinks[i]->capf)
            a->sinks[i]->capf(a->sinks[i], flow, msg, extra, at);
    if (a->diagnosis)
        diagnosis_capf(a->diagnosis, flow, msg, extra, at);
}

void analysis_emit_capf_end(analysis_t *a, const flow_t *flow, const capf_conn_t *conn,
                            const packet_info_t *at)
{
    for (unsigned i = 0; i < a->sink_count; i++)
        if (a->sinks[i]->capf_end)
            a->sinks[i]->capf_end(a->sinks[i], flow, conn, at);
    if (a->diagnosis)
        diagnosis_capf_end(a->diagnosis, flow, conn, at);
}

void analysis_emit_flow_end(analysis_t *a, const flow_t *flow, flow_end_reason_t reason)
{
    for (unsigned i = 0; i < a->sink_count; i++)
        if (a->sinks[i]->flow_end)
            a->sinks[i]->flow_end(a->sinks[i], flow, reason, &flow->last_packet);
    if (a->diagnosis)
        diagnosis_flow_end(a->diagnosis, flow, reason);
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
    for (unsigned i = 0; i < a->sink_count; i++)
        if (a->sinks[i]->tls_plaintext)
            a->sinks[i]->tls_plaintext(a->sinks[i], flow, from_client, data, &a->packet);
}

void analysis_emit_http(analysis_t *a, const flow_t *flow, const http_exchange_t *exchange,
                        const packet_info_t *at)
{
    for (unsigned i = 0; i < a->sink_count; i++)
        if (a->sinks[i]->http)
            a->sinks[i]->http(a->sinks[i], flow, exchange, at);
    if (a->diagnosis)
        diagnosis_http(a->diagnosis, flow, exchange, at);
}

void analysis_emit_dns(analysis_t *a, const flow_t *flow, const dns_transaction_t *transaction,
                       const packet_info_t *at)
{
    for (unsigned i = 0; i < a->sink_count; i++)
        if (a->sinks[i]->dns)
            a->sinks[i]->dns(a->sinks[i], flow, transaction, at);
    if (a->diagnosis)
        diagnosis_dns(a->diagnosis, flow, transaction, at);
}

void analysis_emit_http_request(analysis_t *a, const flow_t *flow, const http_exchange_t *exchange,
                                const packet_info_t *at)
{
    if (a->diagnosis)
        diagnosis_http_request(a->diagnosis, flow, exchange, at);
}

void analysis_emit_tcp(analysis_t *a, const flow_t *flow, tcp_event_t event)
{
    if (a->diagnosis)
        diagnosis_tcp(a->diagnosis, flow, event, &a->packet);
}

void analysis_emit_verdict(analysis_t *a, const verdict_t *verdict)
{
    for (unsigned i = 0; i < a->sink_count; i++)
        if (a->sinks[i]->verdict)
            a->sinks[i]->verdict(a->sinks[i], verdict);
}

void analysis_tick(analysis_t *a, int64_t now_us, const packet_info_t *at)
{
    if (a->diagnosis)
        diagnosis_tick(a->diagnosis, now_us, at);
}
