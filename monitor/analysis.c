#include "analysis.h"

#include "dns_names.h"

void analysis_emit_tls(analysis_t *a, const flow_t *flow, const tls_conn_t *tls,
                       const packet_info_t *at, bool changed, bool final)
{
    for (unsigned i = 0; i < a->sink_count; i++)
        if (a->sinks[i]->tls)
            a->sinks[i]->tls(a->sinks[i], flow, tls, at, changed, final);
}

void analysis_emit_capf(analysis_t *a, const flow_t *flow, const capf_message_t *msg,
                        const capf_event_extra_t *extra, const packet_info_t *at)
{
    for (unsigned i = 0; i < a->sink_count; i++)
        if (a->sinks[i]->capf)
            a->sinks[i]->capf(a->sinks[i], flow, msg, extra, at);
}

void analysis_emit_capf_end(analysis_t *a, const flow_t *flow, const capf_conn_t *conn,
                            const packet_info_t *at)
{
    for (unsigned i = 0; i < a->sink_count; i++)
        if (a->sinks[i]->capf_end)
            a->sinks[i]->capf_end(a->sinks[i], flow, conn, at);
}

void analysis_emit_flow_end(analysis_t *a, const flow_t *flow, flow_end_reason_t reason)
{
    for (unsigned i = 0; i < a->sink_count; i++)
        if (a->sinks[i]->flow_end)
            a->sinks[i]->flow_end(a->sinks[i], flow, reason, &flow->last_packet);
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
}

void analysis_emit_dns(analysis_t *a, const flow_t *flow, const dns_transaction_t *transaction,
                       const packet_info_t *at)
{
    for (unsigned i = 0; i < a->sink_count; i++)
        if (a->sinks[i]->dns)
            a->sinks[i]->dns(a->sinks[i], flow, transaction, at);
}
