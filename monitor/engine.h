/* The packet pipeline: link layer -> IP (fragments reassembled) -> flow ->
 * TCP reassembly -> TLS, with nDPI labelling each flow, and flows retired in
 * packet time.  The same engine serves files and live capture.
 */
#ifndef ENROLLMON_ENGINE_H
#define ENROLLMON_ENGINE_H

#include "analysis.h"
#include "classify.h"

#include <glib.h>

typedef struct engine engine_t;

typedef struct engine_options {
    monitor_limits_t limits;
    const cert_patterns_t *patterns;
    uint16_t capf_port;         /* 0: the default, 3804 */
    const tls_keys_t *keys;     /* NULL: nothing to decrypt with */
    const struct diagnosis_config *diagnosis; /* NULL: no verdicts */
    const trust_store_t *trust; /* NULL: no trust store given */
    /* Several workers: the hub their records go to (then diagnosis above is
     * ignored: the hub has the one diagnosis), and the flow ids this engine
     * gives (first, first + step, ...) so that ids are unique in the run. */
    analysis_hub_t *hub;
    uint64_t flow_id_first;     /* 0: 1 */
    uint64_t flow_id_step;      /* 0: 1 */
    unsigned worker_index;      /* which worker (several workers) */
    /* nDPI's module lent to this engine (see classify.h), or NULL: the
     * engine sets up its own. */
    classify_module_t *classify_module;
} engine_options_t;

/* NULL with error set when a part (nDPI) cannot start. */
engine_t *engine_new(const engine_options_t *options, GError **error);
void engine_free(engine_t *e); /* frees the sinks too */

/* Takes ownership of the sink. */
void engine_add_sink(engine_t *e, event_sink_t *sink);

/* One captured frame.  linktype is libpcap's DLT_ value. */
void engine_packet(engine_t *e, int linktype, int64_t ts_us, const uint8_t *data, size_t caplen,
                   size_t wirelen, const char *pcap_file, uint64_t pcap_cnt);

/* Time has passed without packets (live capture): flows idle past their
 * timeouts are retired and the diagnosis's deadlines before now_us fire. */
void engine_tick(engine_t *e, int64_t now_us);

/* The input is over: conclude every open flow, emit the stats, flush sinks. */
void engine_finish(engine_t *e);

analysis_t *engine_analysis(engine_t *e);

#endif
