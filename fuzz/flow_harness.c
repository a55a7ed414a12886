#include "flow_harness.h"
#include "fuzz_target.h"

#include "dissectors/cursor.h"
#include "monitor/capf_flow.h"
#include "monitor/cert_cache.h"
#include "monitor/certsrv_requests.h"
#include "monitor/dns_flow.h"
#include "monitor/dns_names.h"
#include "monitor/http_flow.h"
#include "monitor/tls_flow.h"

#include <glib.h>
#include <openssl/err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Small caps, so that inputs of a few tens of kilobytes reach the paths
 * taken when a cap is hit. */
#define HARNESS_GLOBAL_MEMORY (1024u * 1024u)
#define HARNESS_FLOW_MEMORY (64u * 1024u)
#define HARNESS_CERT_CACHE_ENTRIES 64u
#define HARNESS_CLIENT_PORT 50123u
#define HARNESS_START_US INT64_C(1700000000000000)
#define HARNESS_TIME_STEP_US INT64_C(100000)

enum { SEGMENT_TO_CLIENT = 0x01, SEGMENT_GAP = 0x02, SEGMENT_TIME_SHIFT = 2 };

static void harness_open(flow_harness_t *h, uint8_t proto, uint16_t server_port)
{
    memset(h, 0, sizeof(*h));
    analysis_t *a = &h->a;
    monitor_limits_default(&a->limits);
    memcap_init(&a->memcap, HARNESS_GLOBAL_MEMORY, HARNESS_FLOW_MEMORY);
    a->patterns = cert_patterns_default();
    a->capf_port = CAPF_DEFAULT_PORT;
    a->keys = fuzz_keys_from_env();
    a->certs = cert_cache_new(a->patterns, HARNESS_CERT_CACHE_ENTRIES);
    cert_cache_set_memcap(a->certs, &a->memcap);
    a->dns_names = dns_names_new(&a->memcap, 0);
    a->certsrv_requests = certsrv_requests_new(&a->memcap, 0);
    fuzz_add_null_sinks(a);
    diagnosis_config_default(&h->diagnosis_config);
    a->diagnosis = diagnosis_new(a, &h->diagnosis_config);

    flow_t *flow = g_new0(flow_t, 1);
    flow->id = 1;
    flow->proto = proto;
    flow->client.addr.family = 4;
    memcpy(flow->client.addr.bytes, (const uint8_t[]){ 10, 0, 0, 20 }, 4);
    flow->client.port = HARNESS_CLIENT_PORT;
    flow->server.addr.family = 4;
    memcpy(flow->server.addr.bytes, (const uint8_t[]){ 10, 0, 0, 5 }, 4);
    flow->server.port = server_port;
    flow->closed_by = -1;
    h->flow = flow;
    a->packet.ts_us = HARNESS_START_US;
}

/* Ends the flow in every layer (each ignores a flow it never saw), as the
 * engine does, then the run; checks that the caps got every byte back. */
static void harness_close(flow_harness_t *h)
{
    analysis_t *a = &h->a;
    diagnosis_input_ended(a->diagnosis);
    tls_flow_end(a, h->flow);
    capf_flow_end(a, h->flow);
    http_flow_end(a, h->flow);
    dns_flow_end(a, h->flow);
    analysis_emit_flow_end(a, h->flow, FLOW_END_CAPTURE_END);
    diagnosis_finish(a->diagnosis);
    analysis_emit_stats(a);
    for (unsigned i = 0; i < a->sink_count; i++)
        if (a->sinks[i]->finish)
            a->sinks[i]->finish(a->sinks[i]);
    for (unsigned i = 0; i < a->sink_count; i++)
        a->sinks[i]->destroy(a->sinks[i]);
    diagnosis_free(a->diagnosis);
    diagnosis_config_clear(&h->diagnosis_config);
    certsrv_requests_free(a->certsrv_requests);
    dns_names_free(a->dns_names);
    cert_cache_free(a->certs);
    if (h->flow->memory.in_use != 0 || a->memcap.in_use != 0 || a->memcap.buffers_in_use != 0) {
        fprintf(stderr, "fuzz: memory charged to the caps was not given back: flow %zu, global %zu, "
                        "buffers %zu\n",
                (size_t)h->flow->memory.in_use, (size_t)a->memcap.in_use,
                (size_t)a->memcap.buffers_in_use);
        abort();
    }
    g_free(h->flow);
    /* OpenSSL keeps the errors of refused certificates and keys on the
     * thread's queue, each with its own allocation: left there, every
     * input would end with more allocations than frees, and libFuzzer
     * would run a full leak check after each one. */
    ERR_clear_error();
}

void flow_harness_run(const uint8_t *input, size_t size, uint8_t proto,
                      const flow_harness_layer_t *layer)
{
    cursor_t c = cur_make(input, size);
    uint16_t server_port = cur_be16(&c);
    if (!cur_ok(&c))
        return;
    flow_harness_t h;
    harness_open(&h, proto, server_port);
    while (cur_remaining(&c) >= 3) {
        uint8_t control = cur_u8(&c);
        uint16_t length = cur_be16(&c);
        int dir = (control & SEGMENT_TO_CLIENT) ? DIR_TO_CLIENT : DIR_TO_SERVER;
        h.a.packet.ts_us += (int64_t)(control >> SEGMENT_TIME_SHIFT) * HARNESS_TIME_STEP_US;
        h.a.packet.pcap_cnt++;
        analysis_tick(&h.a, h.a.packet.ts_us, &h.a.packet);
        if (control & SEGMENT_GAP) {
            if (layer->gap)
                layer->gap(&h, dir, length);
            continue;
        }
        size_t take = length < cur_remaining(&c) ? length : cur_remaining(&c);
        byte_span_t view = cur_view(&c, take);
        uint8_t *copy = g_memdup2(view.ptr, view.len);
        layer->data(&h, dir, (byte_span_t){ copy, view.len });
        g_free(copy);
    }
    harness_close(&h);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_keys_from_env();
    return 0;
}
