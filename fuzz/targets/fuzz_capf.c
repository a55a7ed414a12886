/* CAPF (../shared/docs/capf-wire.md) on one connection: the framing of
 * both directions, resynchronisation after gaps, every field, the
 * certificate of message 0x09 and the session's outcome; each segment is
 * also parsed alone as one message.  Input: a conversation
 * (flow_harness.h); the server port should be the CAPF port. */
#include "../flow_harness.h"
#include "../fuzz_target.h"

#include "dissectors/capf.h"
#include "monitor/capf_flow.h"

static void parse_alone(byte_span_t data)
{
    size_t total = 0;
    (void)capf_frame(data, &total);
    (void)capf_starts_stream(data);
    capf_message_t message;
    (void)capf_message_parse(data, &message);
}

static void capf_data(flow_harness_t *h, int dir, byte_span_t data)
{
    parse_alone(data);
    capf_flow_data(&h->a, h->flow, dir, dir == DIR_TO_SERVER, data);
}

static void capf_gap(flow_harness_t *h, int dir, uint64_t missing)
{
    (void)missing;
    capf_flow_gap(&h->a, h->flow, dir);
}

static const flow_harness_layer_t capf_layer = { capf_data, capf_gap };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    flow_harness_run(data, size, IPPROTO_NUM_TCP, &capf_layer);
    return 0;
}
