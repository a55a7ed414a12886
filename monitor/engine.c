#include "engine.h"
#include "analysis_hub.h"
#include "diagnosis.h"

#include "../dissectors/http.h"
#include "capf_flow.h"
#include "classify.h"
#include "dns_flow.h"
#include "certsrv_requests.h"
#include "dns_names.h"
#include "http_flow.h"
#include "flow_table.h"
#include "ipfrag.h"
#include "tls_flow.h"
#include "../dissectors/tunnel.h"

#include <string.h>

struct engine {
    analysis_t a;
    flow_table_t *flows;
    ipfrag_table_t *fragments;
    classifier_t *classifier;
    uint64_t next_flow_id;
    uint64_t flow_id_step;
    bool shares_certsrv_requests; /* the hub's table: not this engine's to free */
    uint64_t global_hits_seen;
    size_t frame_wirelen;       /* the packet being processed, as it was on the wire */
    bool finished;
};

analysis_t *engine_analysis(engine_t *e)
{
    return &e->a;
}

engine_t *engine_new(const engine_options_t *options, GError **error)
{
    engine_t *e = g_new0(engine_t, 1);
    e->classifier = classifier_new(&e->a.memcap, options->classify_module);
    if (!e->classifier) {
        g_set_error_literal(error, g_quark_from_static_string("enrollmon-engine"), 1,
                            "nDPI could not be initialised");
        g_free(e);
        return NULL;
    }
    e->a.limits = options->limits;
    e->a.patterns = options->patterns ? options->patterns : cert_patterns_default();
    e->a.capf_port = options->capf_port ? options->capf_port : CAPF_DEFAULT_PORT;
    e->a.keys = options->keys;
    memcap_init(&e->a.memcap, e->a.limits.global_memory, e->a.limits.flow_memory);
    e->a.dns_names = dns_names_new(&e->a.memcap, 0);   /* 0: the default table size */
    e->a.trust = options->trust;
    e->a.hub = options->hub;
    e->a.worker_index = options->worker_index;
    if (options->hub) {
        /* The ReqID table ties connections together: all workers share it. */
        e->a.certsrv_requests = options->hub->shared.certsrv_requests;
        e->shares_certsrv_requests = true;
    } else {
        e->a.certsrv_requests = certsrv_requests_new(&e->a.memcap, 0);
        if (options->diagnosis)
            e->a.diagnosis = diagnosis_new(&e->a, options->diagnosis);
    }
    e->a.certs = cert_cache_new(e->a.patterns, 4096);
    cert_cache_set_memcap(e->a.certs, &e->a.memcap);
    e->flows = flow_table_new();
    e->fragments = ipfrag_table_new(&e->a.limits, &e->a.memcap);
    e->next_flow_id = options->flow_id_first ? options->flow_id_first : 1;
    e->flow_id_step = options->flow_id_step ? options->flow_id_step : 1;
    return e;
}

void engine_add_sink(engine_t *e, event_sink_t *sink)
{
    if (e->a.sink_count < ANALYSIS_MAX_SINKS)
        e->a.sinks[e->a.sink_count++] = sink;
    else if (sink->destroy)
        sink->destroy(sink);
}

/* ---- flow lifecycle ---- */

static unsigned class_timeout(const engine_t *e, flow_timeout_class_t cls)
{
    switch (cls) {
    case FLOW_CLASS_TCP_OPENING: return e->a.limits.tcp_unanswered_syn_timeout;
    case FLOW_CLASS_TCP_OPEN: return e->a.limits.tcp_idle_timeout;
    case FLOW_CLASS_TCP_CLOSED: return e->a.limits.tcp_closed_linger;
    case FLOW_CLASS_UDP: return e->a.limits.udp_idle_timeout;
    case FLOW_CLASS_COUNT: break;
    }
    return e->a.limits.tcp_idle_timeout;
}

typedef struct stream_ctx {
    engine_t *e;
    flow_t *flow;
} stream_ctx_t;

/* CAPF in the clear: on the CAPF port, a stream that starts with a CAPF
 * message instead of a TLS record (captures of tools that log plaintext). */
static bool starts_plaintext_capf(const analysis_t *a, const flow_t *flow, int dir, byte_span_t data)
{
    return !flow->tls && flow->stream_bytes[dir] == 0 && flow->server.port == a->capf_port &&
           capf_starts_stream(data);
}

/* Decides, at the start of a direction's stream, what the connection
 * carries when it is not TLS: CAPF in the clear, DNS over TCP, or HTTP
 * (a request line, or a status line when the capture began late). */
static void classify_plain_stream(const analysis_t *a, flow_t *flow, int dir, byte_span_t data)
{
    if (flow->tls || flow->capf_plaintext || flow->http_plaintext || flow->dns_stream ||
        flow->stream_bytes[dir] != 0)
        return;
    if (starts_plaintext_capf(a, flow, dir, data))
        flow->capf_plaintext = true;
    else if (flow->server.port == DNS_PORT)
        flow->dns_stream = true;
    else if (http_starts_stream(data))
        flow->http_plaintext = true;
}

static void on_stream_data(void *ctx, int dir, byte_span_t data)
{
    stream_ctx_t *sc = ctx;
    flow_t *flow = sc->flow;
    analysis_t *a = &sc->e->a;
    if (flow->stream_ignored[dir])
        return;
    classify_plain_stream(a, flow, dir, data);
    bool from_client = dir == DIR_TO_SERVER;
    if (flow->capf_plaintext)
        capf_flow_data(a, flow, dir, from_client, data);
    else if (flow->http_plaintext)
        http_flow_data(a, flow, dir, from_client, data);
    else if (flow->dns_stream)
        dns_flow_stream(a, flow, dir, from_client, data);
    else if (!tls_flow_data(a, flow, dir, data))
        flow->stream_ignored[dir] = true;
    flow->stream_bytes[dir] += data.len;
}

static void on_stream_gap(void *ctx, int dir, uint64_t missing)
{
    stream_ctx_t *sc = ctx;
    sc->e->a.stats.tcp_gaps++;
    sc->e->a.stats.tcp_gap_bytes += missing;
    if (sc->flow->capf_plaintext)
        capf_flow_gap(&sc->e->a, sc->flow, dir);
    else if (sc->flow->http_plaintext || (sc->flow->tls && sc->flow->http))
        http_flow_gap(&sc->e->a, sc->flow, dir);
    else if (sc->flow->dns_stream)
        dns_flow_gap(&sc->e->a, sc->flow, dir);
    if (!sc->flow->stream_ignored[dir] && !sc->flow->capf_plaintext && !sc->flow->http_plaintext &&
        !sc->flow->dns_stream)
        tls_flow_gap(&sc->e->a, sc->flow, dir, missing);
    sc->flow->stream_bytes[dir] += missing;
}

static tcp_reassembly_env_t reassembly_env(engine_t *e, flow_t *flow, stream_ctx_t *sc)
{
    sc->e = e;
    sc->flow = flow;
    tcp_reassembly_env_t env = { &e->a.memcap, &flow->memory, &e->a.limits,
                                 { on_stream_data, on_stream_gap, sc } };
    return env;
}

/* The connection is over for the analysis (closed, or about to be
 * retired): deliver what is queued and let the app layer conclude. */
static void conclude_streams(engine_t *e, flow_t *flow)
{
    if (flow->proto == IPPROTO_NUM_TCP) {
        stream_ctx_t sc;
        tcp_reassembly_env_t env = reassembly_env(e, flow, &sc);
        for (int d = 0; d < 2; d++)
            tcp_dir_flush(&flow->tcp[d], &env, d);
    }
    tls_flow_end(&e->a, flow);
    capf_flow_end(&e->a, flow);
    http_flow_end(&e->a, flow);
    dns_flow_end(&e->a, flow);
}

static void retire(engine_t *e, flow_t *flow, flow_end_reason_t reason)
{
    if (!flow->tcp_closed)
        conclude_streams(e, flow);
    if (flow->classify)
        classify_finish(e->classifier, flow->classify);
    analysis_emit_flow_end(&e->a, flow, reason);
    e->a.stats.tcp_overlap_conflicts +=
        flow->tcp[0].stats.overlap_conflicts + flow->tcp[1].stats.overlap_conflicts;
    if (flow->proto == IPPROTO_NUM_TCP) {
        stream_ctx_t sc;
        tcp_reassembly_env_t env = reassembly_env(e, flow, &sc);
        tcp_dir_release(&flow->tcp[0], &env);
        tcp_dir_release(&flow->tcp[1], &env);
    }
    classify_flow_free(e->classifier, flow->classify);
    memcap_release(&e->a.memcap, NULL, flow->state_bytes);
    /* Every buffer has been released by now; this only guards the global
     * account against a leak of accounting, never of memory. */
    g_warn_if_fail(flow->memory.in_use == 0);
    memcap_release(&e->a.memcap, &flow->memory, flow->memory.in_use);
    e->a.stats.flows_active--;
    flow_table_remove(e->flows, flow);
}

static void expire(engine_t *e, int64_t now_us)
{
    for (int cls = 0; cls < FLOW_CLASS_COUNT; cls++) {
        int64_t timeout_us = (int64_t)class_timeout(e, cls) * 1000000;
        flow_t *f;
        while ((f = flow_table_oldest(e->flows, cls)) && f->last_ts_us + timeout_us < now_us)
            retire(e, f, cls == FLOW_CLASS_TCP_CLOSED ? FLOW_END_CLOSED : FLOW_END_TIMEOUT);
    }
}

/* Who opened the connection.  The SYN says it; without one, the side on a
 * well-known port is the server, and between two ports of the same range
 * (3804 against an ephemeral 51562) the lower one is. */
static bool src_is_client(uint8_t proto, uint8_t tcp_flags, uint16_t sport, uint16_t dport)
{
    if (proto == IPPROTO_NUM_TCP && (tcp_flags & TCP_FLAG_SYN))
        return !(tcp_flags & TCP_FLAG_ACK);
    bool sport_known = sport < 1024, dport_known = dport < 1024;
    if (sport_known != dport_known)
        return dport_known;
    return sport >= dport;
}

/* Retires the least recently active flows until `need` more bytes fit
 * under the global cap (p0f's answer to a full table: the stalest go). */
static void make_room(engine_t *e, size_t need, const flow_t *keep)
{
    memcap_t *mc = &e->a.memcap;
    while (mc->in_use + need > mc->global_limit) {
        flow_t *victim = flow_table_least_recent(e->flows);
        if (!victim || victim == keep)
            return;
        e->a.stats.flows_evicted++;
        retire(e, victim, FLOW_END_EVICTED);
    }
}

/* A reservation failed somewhere since the last packet: free a tenth of the
 * cap by retiring the stalest flows, so new connections can be followed. */
static void relieve_pressure(engine_t *e, const flow_t *keep)
{
    memcap_t *mc = &e->a.memcap;
    if (mc->hits[CAP_GLOBAL_MEMORY] == e->global_hits_seen)
        return;
    e->global_hits_seen = mc->hits[CAP_GLOBAL_MEMORY];
    size_t target = mc->global_limit - mc->global_limit / 10;
    while (mc->in_use > target) {
        flow_t *victim = flow_table_least_recent(e->flows);
        if (!victim || victim == keep)
            return;
        e->a.stats.flows_evicted++;
        retire(e, victim, FLOW_END_EVICTED);
    }
}

static flow_t *new_flow(engine_t *e, const flow_key_t *key, const ip_result_t *ip,
                        uint16_t sport, uint16_t dport, uint8_t tcp_flags, bool src_lo)
{
    if (flow_table_size(e->flows) >= e->a.limits.max_flows) {
        memcap_count_hit(&e->a.memcap, CAP_MAX_FLOWS);
        flow_t *victim = flow_table_least_recent(e->flows);
        if (victim) {
            e->a.stats.flows_evicted++;
            retire(e, victim, FLOW_END_EVICTED);
        }
    }
    /* The flow's own state counts against the global cap like its buffers. */
    size_t state = sizeof(flow_t) + classify_flow_base_footprint();
    make_room(e, state, NULL);
    if (!memcap_reserve(&e->a.memcap, NULL, state))
        state = 0; /* only when the cap is smaller than one flow */
    flow_timeout_class_t cls = FLOW_CLASS_UDP;
    if (ip->protocol == IPPROTO_NUM_TCP)
        cls = (tcp_flags & TCP_FLAG_SYN) && !(tcp_flags & TCP_FLAG_ACK) ? FLOW_CLASS_TCP_OPENING
                                                                          : FLOW_CLASS_TCP_OPEN;
    flow_t *flow = flow_table_add(e->flows, key, cls);
    flow->id = e->next_flow_id;
    e->next_flow_id += e->flow_id_step;
    flow->proto = ip->protocol;
    bool client_src = src_is_client(ip->protocol, tcp_flags, sport, dport);
    endpoint_t src = { ip->src, sport }, dst = { ip->dst, dport };
    flow->client = client_src ? src : dst;
    flow->server = client_src ? dst : src;
    flow->client_is_lo = client_src == src_lo;
    flow->first_ts_us = e->a.packet.ts_us;
    flow->closed_by = -1;
    flow->first_packet = e->a.packet;
    tcp_dir_init(&flow->tcp[0]);
    tcp_dir_init(&flow->tcp[1]);
    classify_tuple_t tuple = { ip->protocol, flow->client.port, flow->server.port };
    flow->classify = classify_flow_new(&tuple);
    flow->state_bytes = state;
    e->a.stats.flows_total++;
    e->a.stats.flows_active++;
    if (ip->protocol == IPPROTO_NUM_TCP)
        e->a.stats.flows_tcp++;
    else
        e->a.stats.flows_udp++;
    return flow;
}

static void update_tcp_state(engine_t *e, flow_t *flow, int dir, const tcp_result_t *tcp)
{
    tcp_flags_seen_t *seen = &flow->tcp_flags;
    uint8_t flags = tcp->flags;
    analysis_t *a = &e->a;
    bool from_server = dir == DIR_TO_CLIENT;
    if ((flags & TCP_FLAG_SYN) && !(flags & TCP_FLAG_ACK) && dir == DIR_TO_SERVER) {
        seen->syn++;
        analysis_emit_tcp(a, flow, seen->syn == 1 ? TCP_EVENT_SYN : TCP_EVENT_SYN_AGAIN);
    }
    if ((flags & TCP_FLAG_SYN) && (flags & TCP_FLAG_ACK) && dir == DIR_TO_CLIENT) {
        seen->synack++;
        if (seen->synack == 1)
            analysis_emit_tcp(a, flow, TCP_EVENT_SYNACK);
    }
    if (flags & TCP_FLAG_RST) {
        seen->rst[dir]++;
        if (seen->rst[dir] == 1)
            analysis_emit_tcp(a, flow, from_server ? TCP_EVENT_RST_FROM_SERVER : TCP_EVENT_RST_FROM_CLIENT);
    }
    if (flags & TCP_FLAG_FIN) {
        seen->fin[dir]++;
        if (seen->fin[dir] == 1)
            analysis_emit_tcp(a, flow, from_server ? TCP_EVENT_FIN_FROM_SERVER : TCP_EVENT_FIN_FROM_CLIENT);
    }
    if (flow->closed_by < 0 && (flags & (TCP_FLAG_FIN | TCP_FLAG_RST))) {
        flow->closed_by = (int8_t)dir;
        flow->closed_by_rst = (flags & TCP_FLAG_RST) != 0;
        flow->closed_at = e->a.packet;
    }
    if (!seen->handshake_complete && seen->syn && seen->synack && dir == DIR_TO_SERVER &&
        (flags & TCP_FLAG_ACK) && !(flags & (TCP_FLAG_SYN | TCP_FLAG_RST))) {
        seen->handshake_complete = true;
        analysis_emit_tcp(a, flow, TCP_EVENT_ESTABLISHED);
    }

    bool closed = seen->rst[0] || seen->rst[1] || (seen->fin[0] && seen->fin[1]);
    /* Only SYNs so far: an unanswered attempt times out sooner. */
    bool opening = seen->syn && !seen->synack && !flow->packets[DIR_TO_CLIENT] &&
                   !flow->tcp[DIR_TO_SERVER].stats.segments;
    flow_timeout_class_t cls = FLOW_CLASS_TCP_OPEN;
    if (closed)
        cls = FLOW_CLASS_TCP_CLOSED;
    else if (opening)
        cls = FLOW_CLASS_TCP_OPENING;
    flow_table_touch(e->flows, flow, cls);
}

/* A FIN can reach the capture before the last data of its side (SPAN
 * ports reorder): a side is done when its data up to the FIN arrived. */
static bool streams_complete(const flow_t *flow)
{
    if (flow->tcp_flags.rst[0] || flow->tcp_flags.rst[1])
        return true;
    for (int d = 0; d < 2; d++)
        if (flow->tcp[d].fin_seen && !flow->tcp[d].finished && !flow->stream_ignored[d])
            return false;
    return true;
}

static void process_tcp(engine_t *e, flow_t *flow, int dir, const tcp_result_t *tcp)
{
    stream_ctx_t sc;
    tcp_reassembly_env_t env = reassembly_env(e, flow, &sc);
    if (!flow->tcp_closed) {
        if (!flow->stream_ignored[dir])
            tcp_dir_segment(&flow->tcp[dir], &env, dir, tcp->seq, tcp->flags, tcp->payload);
        else if (flow->tcp[dir].queue)
            tcp_dir_release(&flow->tcp[dir], &env);
        if ((tcp->flags & TCP_FLAG_ACK) && !flow->stream_ignored[!dir])
            tcp_dir_peer_ack(&flow->tcp[!dir], &env, !dir, tcp->ack);
    }
    update_tcp_state(e, flow, dir, tcp);
    if (!flow->tcp_closed && flow->timeout_class == FLOW_CLASS_TCP_CLOSED &&
        streams_complete(flow)) {
        /* FIN both ways (with all data up to them) or RST: conclude now, so
         * the records come out at the packet that ended the connection; the
         * flow lingers a little to absorb retransmissions before it is
         * retired. */
        conclude_streams(e, flow);
        flow->tcp_closed = true;
    }
}

static void process_network(engine_t *e, const link_result_t *link, unsigned depth);

/* A datagram to a tunnel port, or GRE: the packet inside is analysed as if
 * it had been captured itself.  False when the bytes are not that tunnel
 * after all, so the datagram is treated as ordinary traffic. */
static bool follow_tunnel(engine_t *e, decode_status_t st, const link_result_t *inner, unsigned depth)
{
    if (st == DECODE_UNSUPPORTED || st == DECODE_MALFORMED)
        return false;
    if (st != DECODE_OK) {
        e->a.stats.decode_status[st]++;
        return true;
    }
    if (depth + 1 >= TUNNEL_MAX_DEPTH) {
        e->a.stats.decode_status[DECODE_MALFORMED]++;
        return true;
    }
    e->a.stats.tunneled++;
    process_network(e, inner, depth + 1);
    return true;
}

static void process_l4(engine_t *e, const ip_result_t *ip, unsigned depth)
{
    tcp_result_t tcp;
    udp_result_t udp;
    uint16_t sport, dport;
    uint8_t tcp_flags = 0;
    if (ip->protocol == IPPROTO_NUM_TCP) {
        decode_status_t st = decode_tcp(ip->payload, &tcp);
        if (st != DECODE_OK) {
            e->a.stats.decode_status[st]++;
            return;
        }
        e->a.stats.tcp++;
        sport = tcp.src_port;
        dport = tcp.dst_port;
        tcp_flags = tcp.flags;
    } else if (ip->protocol == IPPROTO_NUM_UDP) {
        decode_status_t st = decode_udp(ip->payload, &udp);
        if (st != DECODE_OK) {
            e->a.stats.decode_status[st]++;
            return;
        }
        e->a.stats.udp++;
        sport = udp.src_port;
        dport = udp.dst_port;
        tunnel_kind_t kind;
        link_result_t inner;
        if (tunnel_udp_ports(sport, dport, &kind) &&
            follow_tunnel(e, tunnel_decode_udp(kind, udp.payload, &inner), &inner, depth))
            return;
    } else {
        tunnel_kind_t kind;
        link_result_t inner;
        if (ip->protocol == IPPROTO_NUM_GRE &&
            follow_tunnel(e, tunnel_decode_gre(ip->payload, &inner, &kind), &inner, depth))
            return;
        e->a.stats.other_ip++;
        return;
    }

    flow_key_t key;
    bool src_lo;
    flow_key_make(&key, &ip->src, sport, &ip->dst, dport, ip->protocol, &src_lo);
    flow_t *flow = flow_table_lookup(e->flows, &key);
    if (flow && flow->tcp_closed && (tcp_flags & TCP_FLAG_SYN) && !(tcp_flags & TCP_FLAG_ACK)) {
        /* The ports are used again for a new connection. */
        retire(e, flow, FLOW_END_REUSED);
        flow = NULL;
    }
    if (!flow)
        flow = new_flow(e, &key, ip, sport, dport, tcp_flags, src_lo);

    int dir = flow_dir_of(flow, &ip->src, sport);
    flow->packets[dir]++;
    /* Whole frames, as EVE counts them (a reassembled datagram counts the
     * frame of its last fragment). */
    flow->bytes[dir] += e->frame_wirelen;
    flow->last_ts_us = e->a.packet.ts_us;
    flow->last_packet = e->a.packet;
    if (flow->classify && classify_wants_packets(flow->classify)) {
        bool has_payload = ip->protocol == IPPROTO_NUM_TCP ? tcp.payload.len > 0 : udp.payload.len > 0;
        classify_packet(e->classifier, flow->classify, ip->header_and_payload, has_payload,
                        e->a.packet.ts_us, e->a.limits.classify_packet_budget);
    }
    if (ip->protocol == IPPROTO_NUM_TCP) {
        process_tcp(e, flow, dir, &tcp);
    } else {
        flow_table_touch(e->flows, flow, FLOW_CLASS_UDP);
        if ((sport == DNS_PORT || dport == DNS_PORT) && udp.payload.len)
            dns_flow_datagram(&e->a, flow, dir == DIR_TO_SERVER, udp.payload);
    }
    relieve_pressure(e, flow);
}

/* From the IP header on: the captured packet (depth 0) or one found inside
 * a tunnel. */
static void process_network(engine_t *e, const link_result_t *link, unsigned depth)
{
    analysis_t *a = &e->a;
    ip_result_t ip;
    decode_status_t st = decode_ip(link->ethertype, link->network, &ip);
    if (st != DECODE_OK) {
        a->stats.decode_status[st]++;
        return;
    }
    if (link->ethertype == ETHERTYPE_IPV4)
        a->stats.ipv4++;
    else
        a->stats.ipv6++;
    if (!ip.is_fragment) {
        process_l4(e, &ip, depth);
        return;
    }
    a->stats.fragments++;
    size_t whole_len = 0;
    uint8_t *whole = ipfrag_add(e->fragments, &ip, a->packet.ts_us, &whole_len);
    if (!whole)
        return;
    a->stats.fragments_reassembled++;
    byte_span_t datagram = { whole, whole_len };
    ip_result_t reassembled;
    st = decode_ip(link->ethertype, datagram, &reassembled);
    if (st == DECODE_OK && !reassembled.is_fragment)
        process_l4(e, &reassembled, depth);
    else
        a->stats.decode_status[st == DECODE_OK ? DECODE_MALFORMED : st]++;
    g_free(whole);
}

void engine_packet(engine_t *e, int linktype, int64_t ts_us, const uint8_t *data, size_t caplen,
                   size_t wirelen, const char *pcap_file, uint64_t pcap_cnt)
{
    analysis_t *a = &e->a;
    a->packet.ts_us = ts_us;
    a->packet.pcap_file = pcap_file;
    a->packet.pcap_cnt = pcap_cnt;
    a->stats.packets++;
    a->stats.bytes += wirelen;
    e->frame_wirelen = wirelen;
    if (!a->stats.first_ts_us || ts_us < a->stats.first_ts_us)
        a->stats.first_ts_us = ts_us;
    if (ts_us > a->stats.last_ts_us)
        a->stats.last_ts_us = ts_us;

    expire(e, ts_us);
    analysis_tick(a, ts_us, &a->packet);

    byte_span_t frame = { data, caplen };
    link_result_t link;
    decode_status_t st = decode_link(linktype, frame, &link);
    if (st == DECODE_UNSUPPORTED) {
        a->stats.not_ip++;
        return;
    }
    if (st != DECODE_OK) {
        a->stats.decode_status[st]++;
        return;
    }
    process_network(e, &link, 0);
}

void engine_tick(engine_t *e, int64_t now_us)
{
    if (now_us > e->a.packet.ts_us)
        expire(e, now_us); /* else packets already brought time this far */
    analysis_tick(&e->a, now_us, NULL);
}

static gint by_flow_id(gconstpointer a, gconstpointer b)
{
    const flow_t *fa = *(const flow_t *const *)a, *fb = *(const flow_t *const *)b;
    return fa->id < fb->id ? -1 : fa->id > fb->id;
}

void engine_finish(engine_t *e)
{
    if (e->finished)
        return;
    e->finished = true;
    if (e->a.diagnosis)
        diagnosis_input_ended(e->a.diagnosis);
    /* Conclude what is still open in the order the flows began, so the
     * output does not depend on hash table order. */
    GPtrArray *open = g_ptr_array_new();
    for (int cls = 0; cls < FLOW_CLASS_COUNT; cls++)
        for (flow_t *f = flow_table_oldest(e->flows, cls); f; f = f->newer)
            g_ptr_array_add(open, f);
    g_ptr_array_sort(open, by_flow_id);
    for (guint i = 0; i < open->len; i++) {
        flow_t *f = g_ptr_array_index(open, i);
        retire(e, f, f->timeout_class == FLOW_CLASS_TCP_CLOSED ? FLOW_END_CLOSED
                                                               : FLOW_END_CAPTURE_END);
    }
    g_ptr_array_free(open, TRUE);
    if (e->a.diagnosis)
        diagnosis_finish(e->a.diagnosis);
    const ipfrag_stats_t *fs = ipfrag_stats(e->fragments);
    e->a.stats.fragments_dropped = fs->dropped + fs->timed_out;
    analysis_emit_stats(&e->a);
    for (unsigned i = 0; i < e->a.sink_count; i++)
        if (e->a.sinks[i]->finish)
            e->a.sinks[i]->finish(e->a.sinks[i]);
}

void engine_free(engine_t *e)
{
    if (!e)
        return;
    engine_finish(e);
    for (unsigned i = 0; i < e->a.sink_count; i++)
        if (e->a.sinks[i]->destroy)
            e->a.sinks[i]->destroy(e->a.sinks[i]);
    diagnosis_free(e->a.diagnosis);
    ipfrag_table_free(e->fragments);
    flow_table_free(e->flows);
    dns_names_free(e->a.dns_names);
    if (!e->shares_certsrv_requests)
        certsrv_requests_free(e->a.certsrv_requests);
    cert_cache_free(e->a.certs);
    classifier_free(e->classifier);
    g_free(e);
}
