/* The `dns` event (events.md). */
#include "eve_internal.h"

void eve_dns(event_sink_t *base, const flow_t *flow, const dns_transaction_t *transaction,
             const packet_info_t *at)
{
    (void)base;
    (void)flow;
    (void)transaction;
    (void)at;
}
