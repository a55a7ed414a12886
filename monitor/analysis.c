#include "analysis.h"

void analysis_emit_tls(analysis_t *a, const flow_t *flow, const tls_conn_t *tls,
                       const packet_info_t *at, bool changed, bool final)
{
    for (unsigned i = 0; i < a->sink_count; i++)
        if (a->sinks[i]->tls)
            a->sinks[i]->tls(a->sinks[i], flow, tls, at, changed, final);
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
            a->sinks[i]->stats(a->sinks[i], &a->stats, &a->memcap, &a->packet);
}
