/* DNS: with server port 53, each segment of the conversation
 * (flow_harness.h) is one datagram of a UDP flow; with any other port the
 * segments are the byte streams of DNS over TCP (length-prefixed messages,
 * gaps).  Covered: header, names with compression (loops, pointers forward,
 * names too long), questions, answers, SOA, EDNS; queries matched with
 * their answers and the names table the diagnosis reads.  Each datagram is
 * also parsed alone, as the dissector's own API gives it. */
#include "../flow_harness.h"
#include "../fuzz_target.h"

#include "dissectors/dns.h"
#include "monitor/dns_flow.h"

static void parse_alone(byte_span_t datagram)
{
    (void)dns_looks_like(datagram);
    dns_header_t header;
    (void)dns_header_read(datagram, &header);
    dns_message_t *m = dns_message_new();
    (void)dns_parse(datagram, m);
    dns_message_free(m);
}

static void dns_datagram(flow_harness_t *h, int dir, byte_span_t data)
{
    parse_alone(data);
    dns_flow_datagram(&h->a, h->flow, dir == DIR_TO_SERVER, data);
}

static void dns_stream(flow_harness_t *h, int dir, byte_span_t data)
{
    dns_flow_stream(&h->a, h->flow, dir, dir == DIR_TO_SERVER, data);
}

static void dns_stream_gap(flow_harness_t *h, int dir, uint64_t missing)
{
    (void)missing;
    dns_flow_gap(&h->a, h->flow, dir);
}

static const flow_harness_layer_t dns_udp_layer = { dns_datagram, NULL };
static const flow_harness_layer_t dns_tcp_layer = { dns_stream, dns_stream_gap };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    bool udp = size >= 2 && data[0] == 0 && data[1] == DNS_PORT;
    flow_harness_run(data, size, udp ? IPPROTO_NUM_UDP : IPPROTO_NUM_TCP,
                     udp ? &dns_udp_layer : &dns_tcp_layer);
    return 0;
}
