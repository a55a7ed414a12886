/* The table of live flows, with one activity-ordered list per timeout class
 * so that expiry in packet time only ever looks at list heads.
 */
#ifndef ENROLLMON_FLOW_TABLE_H
#define ENROLLMON_FLOW_TABLE_H

#include "flow.h"

typedef struct flow_table flow_table_t;

flow_table_t *flow_table_new(void);
void flow_table_free(flow_table_t *ft); /* the flows must have been removed */

/* Makes the canonical key (hash included) of a packet's addresses and ports. */
void flow_key_make(flow_key_t *key, const ip_addr_t *src, uint16_t sport, const ip_addr_t *dst,
                   uint16_t dport, uint8_t proto, bool *src_is_lo);

flow_t *flow_table_lookup(flow_table_t *ft, const flow_key_t *key);
/* Adds a zeroed flow for the key, the newest of its class. */
flow_t *flow_table_add(flow_table_t *ft, const flow_key_t *key, flow_timeout_class_t cls);
void flow_table_remove(flow_table_t *ft, flow_t *flow); /* unlinks and frees the flow struct */

/* Marks activity: the flow becomes the newest of (possibly a new) class. */
void flow_table_touch(flow_table_t *ft, flow_t *flow, flow_timeout_class_t cls);

flow_t *flow_table_oldest(flow_table_t *ft, flow_timeout_class_t cls);
/* The least recently active flow of any class. */
flow_t *flow_table_least_recent(flow_table_t *ft);
unsigned flow_table_size(const flow_table_t *ft);

#endif
