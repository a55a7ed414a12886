/* The `http` event (events.md), with its `pki` object. */
#include "eve_internal.h"

void eve_http(event_sink_t *base, const flow_t *flow, const http_exchange_t *exchange,
              const packet_info_t *at)
{
    (void)base;
    (void)flow;
    (void)exchange;
    (void)at;
}
