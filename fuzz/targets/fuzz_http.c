/* HTTP/1.x on one connection: start lines and headers, Content-Length,
 * chunked bodies, pipelining, resynchronisation after gaps, the auth
 * schemes, and the PKI conversations (certsrv, EST, SCEP) recognised from
 * the URIs with their kept bodies.  Input: a conversation
 * (flow_harness.h). */
#include "../flow_harness.h"
#include "../fuzz_target.h"

#include "dissectors/http.h"
#include "monitor/http_flow.h"

static void http_data(flow_harness_t *h, int dir, byte_span_t data)
{
    (void)http_probe_start(data);
    http_flow_data(&h->a, h->flow, dir, dir == DIR_TO_SERVER, data);
}

static void http_gap(flow_harness_t *h, int dir, uint64_t missing)
{
    (void)missing;
    http_flow_gap(&h->a, h->flow, dir);
}

static const flow_harness_layer_t http_layer = { http_data, http_gap };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    flow_harness_run(data, size, IPPROTO_NUM_TCP, &http_layer);
    return 0;
}
