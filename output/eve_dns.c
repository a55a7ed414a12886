/* The `dns` event (events.md): one per transaction, a query with its
 * response, a query left without one, or a response whose query was not
 * seen ("query_seen": false).  The event's pcap_cnt is the response's frame,
 * or the query's when there is no response. */
#include "../monitor/dns_flow.h"
#include "eve_internal.h"

#include <stdio.h>

static const char *status_name(dns_status_t status)
{
    switch (status) {
    case DNS_OK: return "ok";
    case DNS_TRUNCATED: return "truncated";
    case DNS_MALFORMED: return "malformed";
    case DNS_NOT_DNS: return "not_dns";
    }
    return "unknown";
}

static void write_type(json_t *j, const char *key, const char *name_key, uint16_t type)
{
    char name[16];
    dns_type_format(type, name, sizeof(name));
    json_uint(j, key, type);
    json_string(j, name_key, name);
}

/* The header's flags: the raw value and the bits that are set. */
static void write_flags(json_t *j, const dns_header_t *h)
{
    char hex[8];
    snprintf(hex, sizeof(hex), "%04x", (unsigned)h->flags);
    json_string(j, "flags", hex);
    if (h->opcode)
        json_uint(j, "opcode", h->opcode);
    const struct {
        const char *name;
        bool set;
    } bits[] = { { "qr", h->qr }, { "aa", h->aa }, { "tc", h->tc }, { "rd", h->rd },
                 { "ra", h->ra }, { "z", h->z },   { "ad", h->ad }, { "cd", h->cd } };
    for (size_t i = 0; i < sizeof(bits) / sizeof(bits[0]); i++)
        if (bits[i].set)
            json_bool(j, bits[i].name, true);
}

static void write_answer(json_t *j, const dns_rr_t *rr)
{
    json_object_begin(j, NULL);
    json_string(j, "name", rr->name);
    write_type(j, "type", "type_name", rr->type);
    if (rr->rrclass != DNS_CLASS_IN)
        json_uint(j, "class", rr->rrclass);
    json_uint(j, "ttl", rr->ttl);
    json_string(j, "data", rr->data);
    if (rr->rdata_malformed)
        json_bool(j, "malformed", true);
    if (rr->data_truncated)
        json_bool(j, "data_truncated", true);
    json_object_end(j);
}

static void write_soa(json_t *j, const char *key, const dns_rr_t *rr)
{
    json_object_begin(j, key);
    json_string(j, "name", rr->name);
    json_string(j, "type_name", "SOA");
    json_uint(j, "ttl", rr->ttl);
    json_string(j, "mname", rr->soa.mname);
    json_string(j, "rname", rr->soa.rname);
    json_uint(j, "serial", rr->soa.serial);
    json_uint(j, "refresh", rr->soa.refresh);
    json_uint(j, "retry", rr->soa.retry);
    json_uint(j, "expire", rr->soa.expire);
    json_uint(j, "minimum", rr->soa.minimum);
    json_object_end(j);
}

void eve_dns(event_sink_t *base, const flow_t *flow, const dns_transaction_t *tx, const packet_info_t *at)
{
    eve_sink_t *s = (eve_sink_t *)base;
    json_t j;
    eve_begin_event(s, &j, "dns", at, flow);
    json_object_begin(&j, "dns");
    json_uint(&j, "id", tx->id);
    if (tx->has_question) {
        json_string(&j, "query", tx->qname);
        write_type(&j, "qtype", "qtype_name", tx->qtype);
        if (tx->qclass != DNS_CLASS_IN)
            json_uint(&j, "qclass", tx->qclass);
    } else {
        json_null(&j, "query");
        json_null(&j, "qtype");
    }
    json_bool(&j, "answered", tx->answered);
    json_bool(&j, "query_seen", tx->query_seen);
    json_string(&j, "transport", dns_transport_name(tx->transport));
    if (tx->answered) {
        json_uint(&j, "rcode", tx->rcode);
        json_string(&j, "rcode_name", tx->rcode_name);
    } else {
        json_null(&j, "rcode");
        json_null(&j, "rcode_name");
    }
    if (tx->answered && tx->query_seen) {
        json_int(&j, "response_ms", tx->response_us / 1000);
        json_int(&j, "response_us", tx->response_us);
    }
    if (!tx->answered) {
        json_int(&j, "waited_ms", tx->waited_us / 1000);
        json_int(&j, "waited_us", tx->waited_us);
        json_string(&j, "unanswered_reason", dns_unanswered_name(tx->unanswered));
    }
    write_flags(&j, tx->answered ? &tx->response_header : &tx->query_header);
    json_array_begin(&j, "answers");
    for (unsigned i = 0; i < tx->answer_count; i++)
        write_answer(&j, tx->answers[i]);
    json_array_end(&j);
    if (tx->answers_total > tx->answer_count)
        json_uint(&j, "answers_total", tx->answers_total);
    if (tx->authority_soa)
        write_soa(&j, "authority", tx->authority_soa);
    if (tx->query_seen)
        json_uint(&j, "request_pcap_cnt", tx->request_at.pcap_cnt);
    if (tx->retransmissions) {
        json_uint(&j, "retransmissions", tx->retransmissions);
        json_array_begin(&j, "retransmit_pcap_cnt");
        for (unsigned i = 0; i < tx->retransmits_kept; i++)
            json_uint(&j, NULL, tx->retransmit_pcap_cnt[i]);
        json_array_end(&j);
    }
    if (tx->query_seen && tx->query_status != DNS_OK)
        json_string(&j, "query_status", status_name(tx->query_status));
    if (tx->answered && tx->response_status != DNS_OK)
        json_string(&j, "response_status", status_name(tx->response_status));
    json_object_end(&j);
    eve_end_event(s, &j);
}
