/* What the JSON-lines writers share: the sink, and the start and end of an
 * event (the EVE common fields).  The writers of each event type live in
 * their own files (eve.c: tls, capf, flow, stats; eve_http.c; eve_dns.c).
 */
#ifndef ENROLLMON_EVE_INTERNAL_H
#define ENROLLMON_EVE_INTERNAL_H

#include "../monitor/analysis.h"
#include "json.h"

#include <glib.h>
#include <stdio.h>

typedef struct eve_sink {
    event_sink_t base;
    /* The stream, under stream_lock: written by the thread handing records
     * over, reopened by the main loop (SIGHUP). */
    GMutex stream_lock;
    FILE *fp;
    bool owns_fp;
    bool failed;                /* a write failed: nothing more is written (until a reopen) */
    bool lost;                  /* a write or a reopen failed at some point of the run */
    bool flush_each;            /* live: every line reaches the file at once */
    char *path;
    GString *line;
} eve_sink_t;


/* Starts an event: timestamp, event_type, pcap_file, pcap_cnt and, with a
 * flow, flow_id and the connection as its initiator opened it. */
void eve_begin_event(eve_sink_t *s, json_t *j, const char *type, const packet_info_t *at,
                     const flow_t *flow);
/* Ends it and writes the line in one call. */
void eve_end_event(eve_sink_t *s, json_t *j);

void eve_http(event_sink_t *base, const flow_t *flow, const http_exchange_t *exchange,
              const packet_info_t *at);
void eve_verdict(event_sink_t *base, const verdict_t *verdict);
void eve_dns(event_sink_t *base, const flow_t *flow, const dns_transaction_t *transaction,
             const packet_info_t *at);

#endif
