#include "tls_flow.h"

#include <string.h>

const char *tls_state_name(tls_state_t state)
{
    switch (state) {
    case TLS_STATE_HANDSHAKE: return "handshake";
    case TLS_STATE_ESTABLISHED: return "established";
    case TLS_STATE_FAILED: return "failed";
    case TLS_STATE_INCOMPLETE: return "incomplete";
    }
    return "unknown";
}

/* What the framers and handlers of one delivery need to know. */
typedef struct tls_delivery {
    analysis_t *a;
    flow_t *flow;
    tls_conn_t *tls;
    int dir;
} tls_delivery_t;

static tls_conn_t *tls_conn_new(analysis_t *a, int client_dir)
{
    if (!memcap_reserve(&a->memcap, NULL, sizeof(tls_conn_t))) {
        a->stats.tls_not_followed++;
        return NULL;
    }
    a->stats.tls_connections++;
    tls_conn_t *tls = g_new0(tls_conn_t, 1);
    tls->client_dir = client_dir;
    tls->ca_names = g_ptr_array_new_with_free_func(g_free);
    tls->cert_messages = g_array_new(FALSE, TRUE, sizeof(tls_cert_message_t));
    tls->alerts = g_array_new(FALSE, TRUE, sizeof(tls_alert_seen_t));
    for (int d = 0; d < 2; d++) {
        pdu_stream_init(&tls->records[d]);
        pdu_stream_init(&tls->handshake[d]);
    }
    return tls;
}

static void tls_conn_free(analysis_t *a, flow_t *flow, tls_conn_t *tls)
{
    for (int d = 0; d < 2; d++) {
        pdu_stream_release(&tls->records[d], &a->memcap, &flow->memory);
        pdu_stream_release(&tls->handshake[d], &a->memcap, &flow->memory);
    }
    for (guint i = 0; i < tls->cert_messages->len; i++) {
        tls_cert_message_t *m = &g_array_index(tls->cert_messages, tls_cert_message_t, i);
        for (guint k = 0; k < m->certs->len; k++)
            cert_ref_unref(g_ptr_array_index(m->certs, k));
        g_ptr_array_free(m->certs, TRUE);
    }
    g_array_free(tls->cert_messages, TRUE);
    g_array_free(tls->alerts, TRUE);
    g_ptr_array_free(tls->ca_names, TRUE);
    g_free(tls);
    memcap_release(&a->memcap, NULL, sizeof(tls_conn_t));
}

static bool has_news(const tls_conn_t *tls)
{
    return !tls->emitted || tls->alerts->len != tls->emitted_alerts ||
           tls->cert_messages->len != tls->emitted_cert_messages ||
           tls->state != tls->emitted_state;
}

static void emit(analysis_t *a, flow_t *flow, tls_conn_t *tls, const packet_info_t *at, bool final)
{
    bool changed = has_news(tls);
    if (!changed && !final)
        return;
    analysis_emit_tls(a, flow, tls, at, changed, final);
    tls->emitted = true;
    tls->emitted_alerts = tls->alerts->len;
    tls->emitted_cert_messages = tls->cert_messages->len;
    tls->emitted_state = tls->state;
}

/* The handshake has concluded one way or the other: the record goes out
 * now, not at the end of the connection, so live runs see it at once. */
static void conclude(tls_delivery_t *dl, tls_state_t state)
{
    if (dl->tls->state != TLS_STATE_HANDSHAKE)
        return;
    dl->tls->state = state;
    emit(dl->a, dl->flow, dl->tls, &dl->a->packet, false);
}

static void check_established(tls_delivery_t *dl)
{
    tls_conn_t *tls = dl->tls;
    int server_dir = !tls->client_dir;
    bool client_encrypted = tls->encrypted[tls->client_dir];
    bool server_encrypted = tls->encrypted[server_dir];
    if (tls->tls13)
        /* TLS 1.3: the client's first protected record carries its Finished. */
        client_encrypted = tls->application_records[tls->client_dir] > 0;
    if (client_encrypted && server_encrypted)
        conclude(dl, TLS_STATE_ESTABLISHED);
}

/* ---- handshake messages ---- */

static void on_client_hello(tls_delivery_t *dl, byte_span_t body)
{
    tls_client_hello_t hello;
    tls_conn_t *tls = dl->tls;
    if (tls_client_hello_parse(body, &hello) != TLS_PARSE_OK)
        return;
    if (!tls->client_hello_seen) {
        tls->client_dir = dl->dir;
        tls->client_hello_at = dl->a->packet;
    }
    tls->client_hello_seen = true;
    tls->client_version = tls_client_hello_max_version(&hello);
    tls->has_sni = hello.has_sni;
    memcpy(tls->sni, hello.sni, sizeof(tls->sni));
    memcpy(tls->alpn, hello.alpn, sizeof(tls->alpn));
}

static void on_server_hello(tls_delivery_t *dl, byte_span_t body)
{
    tls_server_hello_t hello;
    tls_conn_t *tls = dl->tls;
    if (tls_server_hello_parse(body, &hello) != TLS_PARSE_OK)
        return;
    tls->server_hello_seen = true;
    tls->server_hello_at = dl->a->packet;
    tls->version = hello.selected_version;
    tls->cipher_suite = hello.cipher_suite;
    tls->extended_master_secret = hello.extended_master_secret;
    tls->encrypt_then_mac = hello.encrypt_then_mac;
    if (hello.alpn[0])
        memcpy(tls->alpn, hello.alpn, sizeof(tls->alpn));
    if (hello.is_hello_retry_request) {
        tls->hello_retry = true;
        return; /* a second ClientHello follows in the clear */
    }
    if (hello.selected_version == TLS_VERSION_1_3 || (hello.selected_version >> 8) == 0x7f) {
        /* Everything after the ServerHello is protected, both ways. */
        tls->tls13 = true;
        tls->encrypted[0] = tls->encrypted[1] = true;
    }
}

static void on_certificate(tls_delivery_t *dl, byte_span_t body)
{
    tls_certificate_list_t list;
    if (tls_certificate_parse(body, dl->tls->tls13, &list) != TLS_PARSE_OK) {
        /* Keep the fact that a Certificate message came, even unreadable. */
        memset(&list, 0, sizeof(list));
    }
    tls_cert_message_t msg;
    memset(&msg, 0, sizeof(msg));
    msg.from_dir = dl->dir;
    msg.count = list.count;
    msg.at = dl->a->packet;
    msg.certs = g_ptr_array_sized_new(list.kept);
    for (unsigned i = 0; i < list.kept; i++) {
        cert_ref_t *ref = cert_cache_get(dl->a->certs, list.der[i]);
        if (ref)
            g_ptr_array_add(msg.certs, ref);
        else
            dl->a->stats.tls_certs_not_kept++;
    }
    g_array_append_val(dl->tls->cert_messages, msg);
    dl->a->stats.tls_certificates += list.count;
}

static void on_certificate_request(tls_delivery_t *dl, byte_span_t body)
{
    tls_certificate_request_t req;
    tls_conn_t *tls = dl->tls;
    tls->certificate_request_seen = true;
    tls->certificate_request_at = dl->a->packet;
    uint16_t version = tls->version ? tls->version : TLS_VERSION_1_2;
    if (tls_certificate_request_parse(body, version, &req) != TLS_PARSE_OK)
        return;
    tls->ca_name_count = req.ca_name_count;
    for (unsigned i = 0; i < req.ca_names_kept; i++) {
        char *name = x509_name_der_format(req.ca_names[i]);
        g_ptr_array_add(tls->ca_names, name ? name : g_strdup("(unparsable name)"));
    }
}

static pdu_frame_t handshake_frame(void *ctx, byte_span_t start)
{
    tls_delivery_t *dl = ctx;
    pdu_frame_t f = { PDU_NEED_MORE, TLS_HANDSHAKE_HEADER_LEN, 0, 0 };
    cursor_t c = cur_from_span(start);
    tls_handshake_header_t h;
    if (tls_handshake_header_parse(&c, &h) != TLS_PARSE_OK)
        return f;
    f.status = PDU_READY;
    f.length = TLS_HANDSHAKE_HEADER_LEN + (size_t)h.length;
    f.keep = f.length;
    if (h.length > dl->a->limits.max_handshake_message) {
        /* Too big to hold: skip it, counted and reported. */
        f.keep = TLS_HANDSHAKE_HEADER_LEN;
        memcap_count_hit(&dl->a->memcap, CAP_HANDSHAKE_MESSAGE);
        dl->tls->oversize_messages++;
    }
    return f;
}

static void handshake_message(void *ctx, byte_span_t pdu, size_t full_length)
{
    tls_delivery_t *dl = ctx;
    cursor_t c = cur_from_span(pdu);
    tls_handshake_header_t h;
    if (tls_handshake_header_parse(&c, &h) != TLS_PARSE_OK)
        return;
    if (pdu.len < full_length)
        return; /* oversize: only the header was kept */
    byte_span_t body = cur_rest(&c);
    switch (h.type) {
    case TLS_HS_CLIENT_HELLO:
        on_client_hello(dl, body);
        break;
    case TLS_HS_SERVER_HELLO:
        on_server_hello(dl, body);
        break;
    case TLS_HS_CERTIFICATE:
        on_certificate(dl, body);
        break;
    case TLS_HS_CERTIFICATE_REQUEST:
        on_certificate_request(dl, body);
        break;
    default:
        break;
    }
}

/* ---- records ---- */

static void on_alert_record(tls_delivery_t *dl, byte_span_t payload)
{
    tls_conn_t *tls = dl->tls;
    /* TLS 1.3 protects alerts inside application-data records, so a visible
     * alert record there is plaintext.  Before 1.3 an alert after the
     * sender's ChangeCipherSpec is encrypted.  Where the state is unknown
     * (picked up mid-way, or after a gap) the length decides: a plaintext
     * alert is 2 bytes, an encrypted one carries a MAC or tag. */
    bool plaintext;
    if (tls->tls13)
        plaintext = true;
    else if (tls->encrypted[dl->dir])
        plaintext = false;
    else if (tls->midstream)
        plaintext = payload.len == 2;
    else
        plaintext = payload.len % 2 == 0 && payload.len <= 8;
    if (!plaintext) {
        tls_alert_seen_t alert = { dl->dir, true, 0, 0, dl->a->packet };
        g_array_append_val(tls->alerts, alert);
        dl->a->stats.tls_alerts++;
        if (tls->state == TLS_STATE_HANDSHAKE && !tls->midstream)
            conclude(dl, TLS_STATE_FAILED);
        return;
    }
    cursor_t c = cur_from_span(payload);
    bool fatal = false;
    while (cur_has(&c, 2)) {
        tls_alert_t parsed;
        tls_alert_parse(&c, &parsed);
        tls_alert_seen_t alert = { dl->dir, false, parsed.level, parsed.description, dl->a->packet };
        g_array_append_val(tls->alerts, alert);
        dl->a->stats.tls_alerts++;
        fatal = fatal || parsed.level == 2;
    }
    if (fatal)
        conclude(dl, TLS_STATE_FAILED);
}

static pdu_frame_t record_frame(void *ctx, byte_span_t start)
{
    tls_delivery_t *dl = ctx;
    pdu_frame_t f = { PDU_NEED_MORE, TLS_RECORD_HEADER_LEN, 0, 0 };
    cursor_t c = cur_from_span(start);
    tls_record_header_t h;
    switch (tls_record_header_parse(&c, &h)) {
    case TLS_PARSE_NEED_MORE:
        return f;
    case TLS_PARSE_INVALID:
        f.status = PDU_INVALID;
        return f;
    case TLS_PARSE_OK:
        break;
    }
    f.status = PDU_READY;
    f.length = TLS_RECORD_HEADER_LEN + (size_t)h.length;
    /* Bodies we cannot read are skipped, never buffered. */
    bool opaque = h.content_type == TLS_CT_APPLICATION_DATA || h.content_type == TLS_CT_HEARTBEAT ||
                  (h.content_type == TLS_CT_HANDSHAKE && dl->tls->encrypted[dl->dir]);
    f.keep = opaque ? TLS_RECORD_HEADER_LEN : f.length;
    return f;
}

static void record(void *ctx, byte_span_t pdu, size_t full_length)
{
    tls_delivery_t *dl = ctx;
    tls_conn_t *tls = dl->tls;
    cursor_t c = cur_from_span(pdu);
    tls_record_header_t h;
    if (tls_record_header_parse(&c, &h) != TLS_PARSE_OK)
        return;
    tls->record_count[dl->dir]++;
    byte_span_t payload = cur_rest(&c);
    switch (h.content_type) {
    case TLS_CT_CHANGE_CIPHER_SPEC:
        tls->ccs_seen[dl->dir] = true;
        tls->encrypted[dl->dir] = true;
        break;
    case TLS_CT_ALERT:
        on_alert_record(dl, payload);
        break;
    case TLS_CT_HANDSHAKE:
        if (pdu.len < full_length || tls->encrypted[dl->dir]) {
            tls->encrypted_handshake_records[dl->dir]++;
            break;
        }
        {
            pdu_stream_env_t env = { &dl->a->memcap, &dl->flow->memory, handshake_frame,
                                     handshake_message, dl };
            pdu_stream_feed(&tls->handshake[dl->dir], &env, payload);
        }
        break;
    case TLS_CT_APPLICATION_DATA:
        tls->application_records[dl->dir]++;
        tls->application_bytes[dl->dir] += h.length;
        if (!tls->encrypted[dl->dir] && (tls->midstream || !tls->server_hello_seen))
            tls->encrypted[dl->dir] = true; /* picked up after the handshake */
        break;
    default:
        break;
    }
    if (tls->state == TLS_STATE_HANDSHAKE)
        check_established(dl);
}

/* ---- finding TLS in a stream ---- */

static bool record_boundary_here(byte_span_t data)
{
    cursor_t c = cur_from_span(data);
    tls_record_header_t h;
    return tls_record_header_parse(&c, &h) == TLS_PARSE_OK;
}

/* Decides from the first bytes of a delivery whether TLS starts here. */
static tls_conn_t *detect(analysis_t *a, flow_t *flow, int dir, byte_span_t data)
{
    bool stream_start = flow->stream_bytes[dir] == 0;
    if (tls_starts_with_client_hello(data))
        return tls_conn_new(a, dir);
    if (stream_start && tls_starts_with_server_hello(data))
        return tls_conn_new(a, !dir);
    if (stream_start && flow->tcp[dir].midstream && tls_is_exact_record_chain(data)) {
        tls_conn_t *tls = tls_conn_new(a, DIR_TO_SERVER);
        if (tls)
            tls->midstream = true;
        return tls;
    }
    return NULL;
}

bool tls_flow_data(analysis_t *a, flow_t *flow, int dir, byte_span_t data)
{
    tls_conn_t *tls = flow->tls;
    if (!tls) {
        tls = detect(a, flow, dir, data);
        if (!tls) {
            /* Keep looking for a STARTTLS switch for a while, then stop. */
            return flow->stream_bytes[dir] + data.len < a->limits.starttls_probe_bytes;
        }
        flow->tls = tls;
        flow->tls_seen = true;
        tls->active[dir] = true;
    }
    if (!tls->active[dir]) {
        /* The other side spoke first; this side joins at a record boundary. */
        if (!record_boundary_here(data))
            return flow->stream_bytes[dir] + data.len < a->limits.starttls_probe_bytes;
        tls->active[dir] = true;
        if (tls->midstream && !tls_is_exact_record_chain(data))
            tls->encrypted[dir] = true;
    }
    if (tls->invalid[dir])
        return false;
    if (tls->resync[dir]) {
        if (!record_boundary_here(data))
            return true;
        tls->resync[dir] = false;
    }
    tls_delivery_t dl = { a, flow, tls, dir };
    pdu_stream_env_t env = { &a->memcap, &flow->memory, record_frame, record, &dl };
    if (!pdu_stream_feed(&tls->records[dir], &env, data)) {
        if (tls->records[dir].cap_hit) {
            /* Out of step for want of memory: start again at a boundary. */
            pdu_stream_reset(&tls->records[dir], &env);
            tls->resync[dir] = true;
            return true;
        }
        tls->invalid[dir] = true;
        a->stats.tls_invalid_streams++;
        pdu_stream_reset(&tls->records[dir], &env);
        return false;
    }
    return true;
}

void tls_flow_gap(analysis_t *a, flow_t *flow, int dir, uint64_t missing)
{
    (void)missing;
    tls_conn_t *tls = flow->tls;
    if (!tls || !tls->active[dir])
        return;
    tls->gaps[dir]++;
    pdu_stream_release(&tls->records[dir], &a->memcap, &flow->memory);
    pdu_stream_release(&tls->handshake[dir], &a->memcap, &flow->memory);
    tls->resync[dir] = true;
}

void tls_flow_end(analysis_t *a, flow_t *flow)
{
    tls_conn_t *tls = flow->tls;
    if (!tls)
        return;
    if (tls->state == TLS_STATE_HANDSHAKE)
        tls->state = TLS_STATE_INCOMPLETE;
    /* The last word comes with the flow's last packet, whatever packet
     * (of another flow, for a timeout) made the run notice the end. */
    emit(a, flow, tls, &flow->last_packet, true);
    tls_conn_free(a, flow, tls);
    flow->tls = NULL;
}
