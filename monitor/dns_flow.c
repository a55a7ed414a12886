#include "dns_flow.h"

#include "dns_names.h"

#include <glib.h>
#include <string.h>

/* A query waiting for its response. */
typedef struct dns_pending {
    uint16_t id;
    bool has_question;
    uint16_t qtype;
    uint16_t qclass;
    char *qname;
    size_t charged;
    bool from_client;
    dns_transport_t transport;
    dns_header_t header;
    dns_status_t status;
    packet_info_t at;
    unsigned retransmissions;
    unsigned retransmits_kept;
    uint64_t retransmit_pcap_cnt[DNS_RETRANSMITS_KEPT];
} dns_pending_t;

struct dns_conn {
    /* ---- DNS over TCP, per flow direction ---- */
    pdu_stream_t stream[2];
    bool lost[2];           /* framing lost: waiting for a delivery that starts a message */
    uint64_t gaps[2];
    /* ---- queries waiting, oldest first ---- */
    dns_pending_t *pending[DNS_FLOW_MAX_PENDING];
    unsigned pending_count;
};

#define COUNT(a, field)                                                \
    do {                                                               \
        dns_stats_t *count_stats_ = dns_names_stats((a)->dns_names);   \
        if (count_stats_)                                              \
            count_stats_->field++;                                     \
    } while (0)

const char *dns_transport_name(dns_transport_t transport)
{
    return transport == DNS_TRANSPORT_TCP ? "tcp" : "udp";
}

const char *dns_unanswered_name(dns_unanswered_t why)
{
    switch (why) {
    case DNS_UNANSWERED_NONE: return "";
    case DNS_UNANSWERED_TIMEOUT: return "timeout";
    case DNS_UNANSWERED_FLOW_END: return "flow_end";
    case DNS_UNANSWERED_EVICTED: return "evicted";
    }
    return "unknown";
}

/* ---- state ---- */

static dns_conn_t *conn_get(analysis_t *a, flow_t *flow)
{
    if (flow->dns)
        return flow->dns;
    /* A refusal is counted by the memory cap itself (stats: caps_hit). */
    if (!memcap_reserve(&a->memcap, NULL, sizeof(dns_conn_t)))
        return NULL;
    dns_conn_t *conn = g_new0(dns_conn_t, 1);
    for (int d = 0; d < 2; d++)
        pdu_stream_init(&conn->stream[d]);
    flow->dns = conn;
    return conn;
}

static void pending_free(analysis_t *a, dns_pending_t *p)
{
    memcap_release(&a->memcap, NULL, p->charged);
    g_free(p->qname);
    g_free(p);
}

/* Takes the i-th waiting query out of the table (the caller frees it). */
static dns_pending_t *pending_take(dns_conn_t *conn, unsigned i)
{
    dns_pending_t *p = conn->pending[i];
    memmove(&conn->pending[i], &conn->pending[i + 1], (conn->pending_count - i - 1) * sizeof(conn->pending[0]));
    conn->pending_count--;
    return p;
}

unsigned dns_flow_pending(const flow_t *flow)
{
    return flow->dns ? flow->dns->pending_count : 0;
}

/* ---- transactions ---- */

static void emit(analysis_t *a, const flow_t *flow, const dns_transaction_t *tx, const packet_info_t *at)
{
    COUNT(a, transactions);
    if (tx->answered && tx->query_seen)
        COUNT(a, answered);
    else if (tx->answered)
        COUNT(a, responses_alone);
    else
        COUNT(a, unanswered);
    analysis_emit_dns(a, flow, tx, at);
}

static void tx_from_pending(dns_transaction_t *tx, const dns_pending_t *p)
{
    tx->transport = p->transport;
    tx->query_seen = true;
    tx->query_from_client = p->from_client;
    tx->id = p->id;
    tx->has_question = p->has_question;
    tx->qname = p->qname;
    tx->qtype = p->qtype;
    tx->qclass = p->qclass;
    tx->query_header = p->header;
    tx->query_status = p->status;
    tx->request_at = p->at;
    tx->retransmissions = p->retransmissions;
    tx->retransmits_kept = p->retransmits_kept;
    memcpy(tx->retransmit_pcap_cnt, p->retransmit_pcap_cnt, sizeof(tx->retransmit_pcap_cnt));
}

/* Reports a query that got no response, and forgets it. */
static void report_unanswered(analysis_t *a, const flow_t *flow, dns_pending_t *p, dns_unanswered_t why,
                              int64_t now_us)
{
    dns_transaction_t tx;
    memset(&tx, 0, sizeof(tx));
    tx_from_pending(&tx, p);
    tx.unanswered = why;
    tx.rcode_name = NULL;
    tx.waited_us = now_us > p->at.ts_us ? now_us - p->at.ts_us : 0;
    emit(a, flow, &tx, &p->at);
    dns_names_note_unanswered(a->dns_names, p->qname, p->qtype, flow, &p->at);
    pending_free(a, p);
}

/* Queries waiting longer than the timeout are given up. */
static void expire(analysis_t *a, const flow_t *flow, dns_conn_t *conn, int64_t now_us)
{
    for (unsigned i = 0; i < conn->pending_count;) {
        dns_pending_t *p = conn->pending[i];
        if (now_us - p->at.ts_us > DNS_QUERY_TIMEOUT_US)
            report_unanswered(a, flow, pending_take(conn, i), DNS_UNANSWERED_TIMEOUT, now_us);
        else
            i++;
    }
}

/* ---- messages ---- */

typedef struct dns_delivery {
    analysis_t *a;
    flow_t *flow;
    dns_conn_t *conn;
    int dir;
    bool from_client;
    dns_transport_t transport;
} dns_delivery_t;

static bool same_question(const dns_pending_t *p, bool has_question, const char *qname, uint16_t qtype)
{
    if (!has_question || !p->has_question)
        return !has_question && !p->has_question;
    return p->qtype == qtype && dns_name_equal(p->qname, qname);
}

static void handle_query(dns_delivery_t *dl, const dns_message_t *m)
{
    analysis_t *a = dl->a;
    dns_conn_t *conn = dl->conn;
    bool has_question = m->question_count > 0;
    const char *qname = has_question ? m->questions[0].name : "";
    uint16_t qtype = has_question ? m->questions[0].type : 0;
    COUNT(a, queries);

    for (unsigned i = 0; i < conn->pending_count; i++) {
        dns_pending_t *p = conn->pending[i];
        if (p->id == m->header.id && p->from_client == dl->from_client &&
            same_question(p, has_question, qname, qtype)) {
            /* The same question again while it waits: a retransmission. */
            if (p->retransmits_kept < DNS_RETRANSMITS_KEPT)
                p->retransmit_pcap_cnt[p->retransmits_kept++] = a->packet.pcap_cnt;
            p->retransmissions++;
            COUNT(a, retransmissions);
            return;
        }
    }

    if (conn->pending_count >= DNS_FLOW_MAX_PENDING) {
        COUNT(a, pending_cap_hits);
        memcap_count_hit(&a->memcap, CAP_DNS_PENDING);
        report_unanswered(a, dl->flow, pending_take(conn, 0), DNS_UNANSWERED_EVICTED, a->packet.ts_us);
    }
    size_t charge = sizeof(dns_pending_t) + strlen(qname) + 1;
    if (!memcap_reserve(&a->memcap, NULL, charge)) {
        COUNT(a, pending_not_kept);
        return;
    }
    dns_pending_t *p = g_new0(dns_pending_t, 1);
    p->charged = charge;
    p->id = m->header.id;
    p->has_question = has_question;
    p->qname = g_strdup(qname);
    p->qtype = qtype;
    p->qclass = has_question ? m->questions[0].qclass : 0;
    p->from_client = dl->from_client;
    p->transport = dl->transport;
    p->header = m->header;
    p->status = m->status;
    p->at = a->packet;
    conn->pending[conn->pending_count++] = p;
    dns_names_note_query(a->dns_names, qname, qtype, dl->flow, dl->from_client, &a->packet);
}

static void handle_response(dns_delivery_t *dl, const dns_message_t *m)
{
    analysis_t *a = dl->a;
    dns_conn_t *conn = dl->conn;
    bool has_question = m->question_count > 0;
    const char *qname = has_question ? m->questions[0].name : "";
    uint16_t qtype = has_question ? m->questions[0].type : 0;
    COUNT(a, responses);

    /* The oldest waiting query from the other side with the same id and
     * question; a response without a question answers by id alone, and so
     * does any response to a query whose question could not be read. */
    dns_pending_t *p = NULL;
    for (unsigned i = 0; i < conn->pending_count; i++) {
        dns_pending_t *q = conn->pending[i];
        if (q->id != m->header.id || q->from_client == dl->from_client)
            continue;
        if (has_question && q->has_question &&
            (q->qtype != qtype || !dns_name_equal(q->qname, qname)))
            continue;
        p = pending_take(conn, i);
        break;
    }

    dns_transaction_t tx;
    memset(&tx, 0, sizeof(tx));
    if (p) {
        tx_from_pending(&tx, p);
        tx.response_us = a->packet.ts_us - p->at.ts_us;
        if (!tx.has_question && has_question) {
            tx.has_question = true;
            tx.qname = qname;
            tx.qtype = qtype;
            tx.qclass = m->questions[0].qclass;
        }
    } else {
        tx.transport = dl->transport;
        tx.query_from_client = !dl->from_client;
        tx.id = m->header.id;
        tx.has_question = has_question;
        tx.qname = qname;
        tx.qtype = qtype;
        tx.qclass = has_question ? m->questions[0].qclass : 0;
    }
    tx.answered = true;
    tx.response_header = m->header;
    tx.response_status = m->status;
    tx.response = m;
    tx.response_at = a->packet;
    tx.rcode = m->rcode;
    char rcode_text[16];
    dns_rcode_format(m->rcode, rcode_text, sizeof(rcode_text));
    tx.rcode_name = rcode_text;
    for (unsigned i = 0; i < m->rr_count; i++) {
        const dns_rr_t *rr = &m->rrs[i];
        if (rr->section == DNS_SECTION_ANSWER) {
            if (tx.answer_count < DNS_TX_ANSWERS_MAX)
                tx.answers[tx.answer_count++] = rr;
            if (!tx.first_address.family && rr->address.family)
                tx.first_address = rr->address;
        } else if (rr->section == DNS_SECTION_AUTHORITY && rr->type == DNS_TYPE_SOA && !tx.authority_soa &&
                   rr->soa.mname) {
            tx.authority_soa = rr;
        }
    }
    tx.answers_total = m->rrs_read[DNS_SECTION_ANSWER];
    emit(a, dl->flow, &tx, &a->packet);
    dns_names_note_response(a->dns_names, tx.qname, tx.qtype, tx.rcode, tx.answers_total, &tx.first_address,
                            p ? tx.response_us : -1, dl->flow, &a->packet);
    if (p)
        pending_free(a, p);
}

static void handle_message(dns_delivery_t *dl, byte_span_t bytes)
{
    dns_message_t *m = dns_message_new();
    dns_status_t status = dns_parse(bytes, m);
    if (status == DNS_NOT_DNS) {
        COUNT(dl->a, not_dns);
    } else {
        COUNT(dl->a, messages);
        if (status == DNS_TRUNCATED)
            COUNT(dl->a, truncated);
        else if (status == DNS_MALFORMED)
            COUNT(dl->a, malformed);
        if (m->header.qr)
            handle_response(dl, m);
        else
            handle_query(dl, m);
    }
    dns_message_free(m);
}

/* ---- UDP ---- */

void dns_flow_datagram(analysis_t *a, flow_t *flow, bool from_client, byte_span_t payload)
{
    dns_conn_t *conn = conn_get(a, flow);
    if (!conn)
        return;
    dns_delivery_t dl = { a, flow, conn, from_client ? DIR_TO_SERVER : DIR_TO_CLIENT, from_client,
                          DNS_TRANSPORT_UDP };
    handle_message(&dl, payload);
    /* After the message: a late response still finds its query. */
    expire(a, flow, conn, a->packet.ts_us);
}

/* ---- TCP ---- */

static pdu_frame_t tcp_frame(void *ctx, byte_span_t start)
{
    (void)ctx;
    pdu_frame_t f = { PDU_NEED_MORE, 2, 0, 0 };
    cursor_t c = cur_from_span(start);
    if (!cur_has(&c, 2))
        return f;
    size_t len = cur_be16(&c);
    if (len < DNS_HEADER_LEN) {
        f.status = PDU_INVALID;
        return f;
    }
    f.status = PDU_READY;
    f.length = 2 + len;
    f.keep = 2 + len;
    return f;
}

static void tcp_message(void *ctx, byte_span_t pdu, size_t full_length)
{
    dns_delivery_t *dl = ctx;
    if (pdu.len < full_length)
        return; /* never happens: whole messages are kept */
    cursor_t c = cur_from_span(pdu);
    cur_skip(&c, 2);
    handle_message(dl, cur_rest(&c));
}

/* Does a message (length prefix and header) start these bytes?  Decided on
 * the prefix and the header only. */
static bool tcp_plausible_start(byte_span_t data)
{
    cursor_t c = cur_from_span(data);
    if (!cur_has(&c, 2 + DNS_HEADER_LEN))
        return false;
    size_t len = cur_be16(&c);
    dns_header_t h;
    if (len < DNS_HEADER_LEN || !dns_header_read(cur_view(&c, DNS_HEADER_LEN), &h))
        return false;
    return (h.opcode == 0 || h.opcode == 4 || h.opcode == 5) && !h.z && h.qdcount <= 1;
}

void dns_flow_stream(analysis_t *a, flow_t *flow, int dir, bool from_client, byte_span_t data)
{
    if (dir != DIR_TO_SERVER && dir != DIR_TO_CLIENT)
        return;
    dns_conn_t *conn = conn_get(a, flow);
    if (!conn)
        return;
    if (data.len) {
        if (conn->lost[dir] && tcp_plausible_start(data))
            conn->lost[dir] = false;
        if (!conn->lost[dir]) {
            dns_delivery_t dl = { a, flow, conn, dir, from_client, DNS_TRANSPORT_TCP };
            pdu_stream_env_t env = { &a->memcap, &flow->memory, tcp_frame, tcp_message, &dl };
            if (!pdu_stream_feed(&conn->stream[dir], &env, data)) {
                /* Not a length prefix, or no memory for the message. */
                pdu_stream_release(&conn->stream[dir], &a->memcap, &flow->memory);
                conn->lost[dir] = true;
                COUNT(a, tcp_framing_lost);
            }
        }
    }
    expire(a, flow, conn, a->packet.ts_us);
}

void dns_flow_gap(analysis_t *a, flow_t *flow, int dir)
{
    if (dir != DIR_TO_SERVER && dir != DIR_TO_CLIENT)
        return;
    dns_conn_t *conn = conn_get(a, flow);
    if (!conn)
        return;
    conn->gaps[dir]++;
    pdu_stream_release(&conn->stream[dir], &a->memcap, &flow->memory);
    conn->lost[dir] = true;
}

void dns_flow_end(analysis_t *a, flow_t *flow)
{
    dns_conn_t *conn = flow->dns;
    if (!conn)
        return;
    int64_t now = a->packet.ts_us > flow->last_ts_us ? a->packet.ts_us : flow->last_ts_us;
    while (conn->pending_count)
        report_unanswered(a, flow, pending_take(conn, 0), DNS_UNANSWERED_FLOW_END, now);
    for (int d = 0; d < 2; d++)
        pdu_stream_release(&conn->stream[d], &a->memcap, &flow->memory);
    g_free(conn);
    memcap_release(&a->memcap, NULL, sizeof(dns_conn_t));
    flow->dns = NULL;
}
