/* The analysis context and the one flow that the tests of a per-flow layer
 * (capf-flow, http-flow, dns-flow) feed bytes to, without the flow table
 * or the engine.  Each test keeps its own fixture type around these, with
 * its recording sink and the end-of-flow checks of its layer; what is here
 * does not depend on the layer.
 */
#ifndef ENROLLMON_TEST_FLOW_FIXTURE_H
#define ENROLLMON_TEST_FLOW_FIXTURE_H

#include "monitor/analysis.h"

#include <stddef.h>
#include <stdint.h>

/* Limits at their defaults, the memory caps given and the default
 * certificate patterns; no sinks, no certificate cache, no run tables (a
 * test adds those its layer uses). */
void flow_fixture_analysis_init(analysis_t *a, size_t global_memory, size_t flow_memory);

/* The flow as the flow table hands it to a layer (IPv4). */
typedef struct flow_fixture_spec {
    uint64_t id;
    uint8_t proto; /* IPPROTO_NUM_TCP or IPPROTO_NUM_UDP */
    uint8_t client_ip[4];
    uint16_t client_port;
    uint8_t server_ip[4];
    uint16_t server_port;
} flow_fixture_spec_t;

/* Open, every other field zero; g_free it (flow_fixture_destroy does). */
flow_t *flow_fixture_flow_new(const flow_fixture_spec_t *spec);

/* The sink receives records after those added before it. */
void flow_fixture_add_sink(analysis_t *a, event_sink_t *sink);

/* Nothing charged to the memory caps is still held. */
void flow_fixture_assert_memory_returned(const analysis_t *a);

/* Destroys every sink (a JSON sink flushes and closes its file) and frees
 * the flow; the layer's state must already be gone. */
void flow_fixture_destroy(analysis_t *a, flow_t *flow);

/* A JSON events file in a fresh temporary directory, and the eve sink that
 * writes it. */
typedef struct eve_file {
    char *dir;
    char *path;
    event_sink_t *sink; /* destroyed with the analysis's other sinks */
} eve_file_t;

/* Makes the directory (dir_template as for g_dir_make_tmp), opens the
 * sink and adds it to the analysis; returns the sink. */
event_sink_t *eve_file_open(eve_file_t *file, analysis_t *a, const char *dir_template);

/* Deletes the file and its directory. */
void eve_file_remove(eve_file_t *file);

#endif
