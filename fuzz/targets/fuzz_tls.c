/* TLS on one connection: record framing and reassembly, every handshake
 * message (hellos, certificates of both sides, certificate request),
 * alerts, and, with the key logs of ENROLLMON_FUZZ_KEYLOG, decryption and
 * the CAPF or HTTP conversation inside.  Input: a conversation
 * (flow_harness.h). */
#include "../flow_harness.h"
#include "../fuzz_target.h"

#include "dissectors/tls.h"
#include "monitor/tls_flow.h"

static void tls_data(flow_harness_t *h, int dir, byte_span_t data)
{
    /* The record-level probes of the start of a stream, on hostile bytes. */
    (void)tls_probe_record_header(data);
    (void)tls_is_exact_record_chain(data);
    if (!h->ignored[dir] && !tls_flow_data(&h->a, h->flow, dir, data))
        h->ignored[dir] = true;
}

static void tls_gap(flow_harness_t *h, int dir, uint64_t missing)
{
    if (!h->ignored[dir])
        tls_flow_gap(&h->a, h->flow, dir, missing);
}

static const flow_harness_layer_t tls_layer = { tls_data, tls_gap };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    flow_harness_run(data, size, IPPROTO_NUM_TCP, &tls_layer);
    return 0;
}
