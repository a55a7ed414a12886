#include "tls_flow.h"

#include "../dissectors/http.h"
#include "capf_flow.h"
#include "http_flow.h"

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
    tls_decrypt_init(&tls->decrypt, a->keys);
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
    tls_decrypt_clear(&tls->decrypt);
    if (tls->plaintext) {
        g_free(tls->plaintext);
        memcap_release(&a->memcap, NULL, TLS_MAX_PLAINTEXT);
    }
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
    /* A CAPF session's last record carries how it ended and what its
     * record sizes say: it always goes out. */
    bool changed = has_news(tls) || (final && tls->on_capf_port);
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
        tls->roles_known = true;
    }
    tls->client_hello_seen = true;
    tls_decrypt_client_hello(&tls->decrypt, tls->client_dir, hello.random);
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
    tls_decrypt_server_hello(&tls->decrypt, hello.random, hello.cipher_suite, hello.selected_version,
                             hello.extended_master_secret, hello.encrypt_then_mac);
    tls->capf_infer.version = hello.selected_version;
    tls->capf_infer.cipher_suite = hello.cipher_suite;
    tls->capf_infer.encrypt_then_mac = hello.encrypt_then_mac;
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
    if (!tls_dir_is_client(dl->tls, dl->dir) && list.kept)
        tls_decrypt_server_certificate(&dl->tls->decrypt, list.der[0]);
    if (dl->a->trust && !tls_dir_is_client(dl->tls, dl->dir) && list.kept)
        trust_store_verify(dl->a->trust, list.der, list.kept, dl->a->packet.ts_us / 1000000,
                           &msg.trust);
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

/* Picked up mid-connection, the TLS client is whoever sends a message only
 * a client sends, or the peer of whoever sends one only a server sends. */
static void learn_roles(tls_conn_t *tls, int dir, uint8_t type)
{
    if (tls->roles_known)
        return;
    switch (type) {
    case TLS_HS_CLIENT_HELLO:
    case TLS_HS_CERTIFICATE_VERIFY:
    case TLS_HS_CLIENT_KEY_EXCHANGE:
    case TLS_HS_END_OF_EARLY_DATA:
        tls->client_dir = dir;
        tls->roles_known = true;
        break;
    case TLS_HS_SERVER_HELLO:
    case TLS_HS_NEW_SESSION_TICKET:
    case TLS_HS_ENCRYPTED_EXTENSIONS:
    case TLS_HS_SERVER_KEY_EXCHANGE:
    case TLS_HS_CERTIFICATE_REQUEST:
    case TLS_HS_SERVER_HELLO_DONE:
    case TLS_HS_HELLO_REQUEST:
        tls->client_dir = !dir;
        tls->roles_known = true;
        break;
    default:
        break; /* Certificate and Finished come from both sides */
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
    learn_roles(dl->tls, dl->dir, h.type);
    tls_decrypt_handshake(&dl->tls->decrypt, pdu);
    switch (h.type) {
    case TLS_HS_CLIENT_KEY_EXCHANGE:
        tls_decrypt_client_key_exchange(&dl->tls->decrypt, body);
        break;
    case TLS_HS_FINISHED:
        tls_decrypt_tls13_finished(&dl->tls->decrypt, dl->dir);
        break;
    case TLS_HS_KEY_UPDATE:
        tls_decrypt_tls13_key_update(&dl->tls->decrypt, dl->dir);
        break;
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

/* Alerts read in the clear, or decrypted with the keys. */
static void record_plain_alerts(tls_delivery_t *dl, byte_span_t payload, bool decrypted)
{
    cursor_t c = cur_from_span(payload);
    bool fatal = false;
    while (cur_has(&c, 2)) {
        tls_alert_t parsed;
        tls_alert_parse(&c, &parsed);
        tls_alert_seen_t alert = { dl->dir, false, decrypted, parsed.level, parsed.description,
                                   dl->a->packet };
        g_array_append_val(dl->tls->alerts, alert);
        dl->a->stats.tls_alerts++;
        fatal = fatal || parsed.level == 2;
    }
    if (fatal)
        conclude(dl, TLS_STATE_FAILED);
}

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
        if (!tls->capf_infer.any_close_notify) {
            /* after the handshake an encrypted alert is nearly always close_notify */
            tls->capf_infer.any_close_notify = true;
            tls->capf_infer.server_close_notify_first = !tls_dir_is_client(tls, dl->dir);
        }
        tls_alert_seen_t alert = { dl->dir, true, false, 0, 0, dl->a->packet };
        g_array_append_val(tls->alerts, alert);
        dl->a->stats.tls_alerts++;
        if (tls->state == TLS_STATE_HANDSHAKE && !tls->midstream)
            conclude(dl, TLS_STATE_FAILED);
        return;
    }
    record_plain_alerts(dl, payload, false);
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
    if (opaque && h.content_type != TLS_CT_HEARTBEAT && tls_decrypt_can(&dl->tls->decrypt, dl->dir))
        opaque = false;
    f.keep = opaque ? TLS_RECORD_HEADER_LEN : f.length;
    return f;
}

/* Handshake bytes, in the clear or decrypted, to the message reassembly. */
static void feed_handshake(tls_delivery_t *dl, byte_span_t bytes)
{
    pdu_stream_t *hs = &dl->tls->handshake[dl->dir];
    pdu_stream_env_t env = { &dl->a->memcap, &dl->flow->memory, handshake_frame, handshake_message, dl };
    /* Refused memory for a message: drop it, the next record starts afresh. */
    if (!pdu_stream_feed(hs, &env, bytes))
        pdu_stream_reset(hs, &env);
}

/* An application-data record as the wire shows it (its ciphertext size is
 * what the CAPF inference reads). */
static void count_application_record(tls_delivery_t *dl, uint16_t length, bool capf_message)
{
    tls_conn_t *tls = dl->tls;
    tls->application_records[dl->dir]++;
    tls->application_bytes[dl->dir] += length;
    if (tls->on_capf_port && capf_message)
        capf_infer_add_record(&tls->capf_infer, tls_dir_is_client(tls, dl->dir), length);
}

/* Decrypted application data: to the dissector that wants it. */
static void application_plaintext(tls_delivery_t *dl, byte_span_t data)
{
    tls_conn_t *tls = dl->tls;
    bool from_client = tls_dir_is_client(tls, dl->dir);
    analysis_emit_tls_plaintext(dl->a, dl->flow, from_client, data);
    if (!tls->app_checked && data.len) {
        /* CAPF: on its port, or wherever a server opens with a CAPF hello */
        tls->app_checked = true;
        tls->app_is_capf = dl->flow->server.port == dl->a->capf_port ||
                           (!from_client && capf_starts_stream(data));
        tls->app_is_http = !tls->app_is_capf && http_starts_stream(data);
    }
    if (tls->app_is_capf)
        capf_flow_data(dl->a, dl->flow, dl->dir, from_client, data);
    else if (tls->app_is_http)
        http_flow_data(dl->a, dl->flow, dl->dir, from_client, data);
}

/* A protected record read with the keys: its plaintext goes where the
 * clear one would have gone.  False when it does not decrypt. */
static bool decrypted_record(tls_delivery_t *dl, const tls_record_header_t *h, byte_span_t pdu)
{
    tls_conn_t *tls = dl->tls;
    if (!tls->plaintext) {
        if (!memcap_reserve(&dl->a->memcap, NULL, TLS_MAX_PLAINTEXT))
            return false;
        tls->plaintext = g_malloc(TLS_MAX_PLAINTEXT);
    }
    cursor_t c = cur_from_span(pdu);
    byte_span_t header = cur_view(&c, TLS_RECORD_HEADER_LEN);
    byte_span_t body = cur_rest(&c);
    size_t len = 0;
    uint8_t inner = h->content_type;
    if (!tls_decrypt_record(&tls->decrypt, dl->dir, header, body, tls->plaintext, &len, &inner)) {
        dl->a->stats.tls_decrypt_failures++;
        return false;
    }
    byte_span_t plain = { tls->plaintext, len };
    dl->a->stats.tls_decrypted_bytes += len;
    if (h->content_type == TLS_CT_APPLICATION_DATA)
        count_application_record(dl, h->length, inner == TLS_CT_APPLICATION_DATA);
    switch (inner) {
    case TLS_CT_HANDSHAKE:
        feed_handshake(dl, plain);
        break;
    case TLS_CT_ALERT:
        record_plain_alerts(dl, plain, true);
        break;
    case TLS_CT_APPLICATION_DATA:
        tls->plaintext_application_records[dl->dir]++;
        application_plaintext(dl, plain);
        break;
    default:
        break;
    }
    if (tls->state == TLS_STATE_HANDSHAKE)
        check_established(dl);
    return true;
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
    bool protected_record = tls->encrypted[dl->dir] && h.content_type != TLS_CT_CHANGE_CIPHER_SPEC &&
                            pdu.len == full_length;
    if (protected_record && tls_decrypt_can(&tls->decrypt, dl->dir) && decrypted_record(dl, &h, pdu))
        return;
    switch (h.content_type) {
    case TLS_CT_CHANGE_CIPHER_SPEC:
        tls->ccs_seen[dl->dir] = true;
        tls->encrypted[dl->dir] = true;
        tls_decrypt_change_cipher_spec(&tls->decrypt, dl->dir);
        break;
    case TLS_CT_ALERT:
        on_alert_record(dl, payload);
        break;
    case TLS_CT_HANDSHAKE:
        if (pdu.len < full_length || tls->encrypted[dl->dir]) {
            tls->encrypted_handshake_records[dl->dir]++;
            break;
        }
        feed_handshake(dl, payload);
        break;
    case TLS_CT_APPLICATION_DATA:
        count_application_record(dl, h.length, true);
        if (!tls->encrypted[dl->dir] && (tls->midstream || !tls->server_hello_seen))
            tls->encrypted[dl->dir] = true; /* picked up after the handshake */
        break;
    default:
        break;
    }
    if (tls->state == TLS_STATE_HANDSHAKE)
        check_established(dl);
}

/* ---- finding TLS in a stream ----
 *
 * A direction is searched (no TLS yet: a ClientHello anywhere in the first
 * bytes, which also finds it after a STARTTLS exchange; a ServerHello, or
 * any record when the capture began mid-connection, at the very start),
 * joined (the peer already speaks TLS: this side's first record), or
 * resynchronised (after a gap or bytes that broke the framing: the next
 * plausible record header).  Matches may span deliveries: the undecided
 * tail of one delivery is carried into the next.
 */

typedef enum start_kind {
    START_NONE = 0,
    START_CLIENT_HELLO,
    START_SERVER_HELLO,
    START_RECORD,
} start_kind_t;

typedef struct start_rules {
    bool client_hello;      /* anywhere */
    bool server_hello;      /* anywhere */
    bool alert;             /* anywhere */
    bool record;            /* anywhere */
    bool server_hello_at_start;
    bool record_at_start;
} start_rules_t;

_Static_assert(TLS_PROBE_MAX_BYTES < STREAM_CARRY_MAX, "a probe's undecided tail must fit the carry");

/* Resynchronising gives up on a direction after this many false starts:
 * it is not TLS (or no longer). */
#define TLS_MAX_RESYNCS 8

static void merge_probe(tls_probe_t p, start_kind_t kind, tls_probe_t *best, start_kind_t *best_kind)
{
    if (p == TLS_PROBE_YES && *best != TLS_PROBE_YES) {
        *best = TLS_PROBE_YES;
        *best_kind = kind;
    } else if (p == TLS_PROBE_NEED_MORE && *best == TLS_PROBE_NO) {
        *best = TLS_PROBE_NEED_MORE;
    }
}

static tls_probe_t probe_at(const start_rules_t *r, byte_span_t at, bool stream_start, start_kind_t *kind)
{
    tls_probe_t best = TLS_PROBE_NO;
    *kind = START_NONE;
    cursor_t c = cur_from_span(at);
    uint8_t first = cur_peek_u8(&c, 0);
    /* The first byte rules most positions out before any probe runs. */
    if (first == TLS_CT_HANDSHAKE) {
        if (r->client_hello)
            merge_probe(tls_probe_hello(at, TLS_HS_CLIENT_HELLO), START_CLIENT_HELLO, &best, kind);
        if (r->server_hello || (r->server_hello_at_start && stream_start))
            merge_probe(tls_probe_hello(at, TLS_HS_SERVER_HELLO), START_SERVER_HELLO, &best, kind);
    }
    if (first == TLS_CT_ALERT && r->alert)
        merge_probe(tls_probe_alert_record(at), START_RECORD, &best, kind);
    if (first >= TLS_CT_CHANGE_CIPHER_SPEC && first <= TLS_CT_HEARTBEAT &&
        (r->record || (r->record_at_start && stream_start)))
        merge_probe(tls_probe_record_header(at), START_RECORD, &best, kind);
    return best;
}

/* Keeps an undecided tail for the next delivery.  NEED_MORE means fewer
 * than TLS_PROBE_MAX_BYTES were there; the tail may overlap the carry. */
static void carry_keep(stream_carry_t *carry, byte_span_t tail)
{
    size_t keep = tail.len < STREAM_CARRY_MAX ? tail.len : STREAM_CARRY_MAX;
    memmove(carry->bytes, tail.ptr, keep);
    carry->len = (uint8_t)keep;
}

/* Where the searched-for start lies in carry + data.  On a match,
 * *in_carry is its offset in the carried bytes (carry->len when it lies in
 * data) and *in_data its offset in data.  Without one, the undecided tail
 * becomes the new carry. */
static bool find_start(stream_carry_t *carry, uint64_t carry_origin, byte_span_t data,
                       const start_rules_t *rules, start_kind_t *kind, size_t *in_carry,
                       size_t *in_data)
{
    uint8_t joined[2 * STREAM_CARRY_MAX];
    size_t head = data.len < STREAM_CARRY_MAX ? data.len : STREAM_CARRY_MAX;
    size_t joined_len = carry->len + head;
    memcpy(joined, carry->bytes, carry->len);
    if (head)
        memcpy(joined + carry->len, data.ptr, head);
    for (size_t p = 0; p < carry->len; p++) {
        byte_span_t at = { joined + p, joined_len - p };
        tls_probe_t r = probe_at(rules, at, carry_origin + p == 0, kind);
        if (r == TLS_PROBE_YES) {
            *in_carry = p;
            *in_data = 0;
            return true;
        }
        if (r == TLS_PROBE_NEED_MORE) {
            carry_keep(carry, at);
            return false;
        }
    }
    uint64_t data_origin = carry_origin + carry->len;
    /* Away from the stream start only the "anywhere" rules apply, and they
     * all need a first byte of 21 or 22 unless any record will do: skip to
     * such bytes without probing. */
    bool any_record = rules->record;
    cursor_t scan = cur_from_span(data);
    while (!cur_empty(&scan)) {
        if (!any_record && data_origin + cur_offset(&scan) != 0 &&
            !cur_seek_either(&scan, TLS_CT_HANDSHAKE, TLS_CT_ALERT))
            break;
        size_t p = cur_offset(&scan);
        cursor_t look = scan;
        byte_span_t at = cur_rest(&look);
        tls_probe_t r = probe_at(rules, at, data_origin + p == 0, kind);
        if (r == TLS_PROBE_YES) {
            *in_carry = carry->len;
            *in_data = p;
            return true;
        }
        if (r == TLS_PROBE_NEED_MORE) {
            carry_keep(carry, at);
            return false;
        }
        cur_skip(&scan, 1);
    }
    carry->len = 0;
    return false;
}

static void feed_records(analysis_t *a, flow_t *flow, tls_conn_t *tls, int dir, byte_span_t data);

static void resync(tls_conn_t *tls, analysis_t *a, flow_t *flow, int dir)
{
    pdu_stream_release(&tls->records[dir], &a->memcap, &flow->memory);
    pdu_stream_release(&tls->handshake[dir], &a->memcap, &flow->memory);
    if (++tls->resyncs[dir] > TLS_MAX_RESYNCS) {
        tls->invalid[dir] = true;
        a->stats.tls_invalid_streams++;
        return;
    }
    tls->resync[dir] = true;
}

static void feed_records(analysis_t *a, flow_t *flow, tls_conn_t *tls, int dir, byte_span_t data)
{
    if (tls->invalid[dir] || tls->resync[dir] || data.len == 0)
        return;
    tls_delivery_t dl = { a, flow, tls, dir };
    pdu_stream_env_t env = { &a->memcap, &flow->memory, record_frame, record, &dl };
    if (!pdu_stream_feed(&tls->records[dir], &env, data))
        resync(tls, a, flow, dir); /* out of step: bad bytes, or no memory to buffer */
}

bool tls_flow_data(analysis_t *a, flow_t *flow, int dir, byte_span_t data)
{
    tls_conn_t *tls = flow->tls;
    if (tls && tls->invalid[dir])
        return false;
    if (tls && tls->active[dir] && !tls->resync[dir]) {
        feed_records(a, flow, tls, dir, data);
        return !tls->invalid[dir];
    }

    start_rules_t rules = { 0 };
    if (!tls) {
        if (flow->stream_bytes[dir] >= a->limits.starttls_probe_bytes)
            return false; /* no TLS in the first bytes: stop looking */
        rules.client_hello = true;
        rules.server_hello_at_start = true;
        rules.record_at_start = flow->tcp[dir].midstream;
    } else if (!tls->active[dir]) {
        if (tls->midstream || tls_dir_is_client(tls, dir)) {
            rules.record = true;
        } else {
            rules.server_hello = true;
            rules.alert = true;
            rules.record_at_start = true;
        }
    } else {
        rules.record = true; /* resynchronising */
    }

    stream_carry_t *carry = &flow->carry[dir];
    uint64_t carry_origin = flow->stream_bytes[dir] - carry->len;
    start_kind_t kind;
    size_t in_carry, in_data;
    if (!find_start(carry, carry_origin, data, &rules, &kind, &in_carry, &in_data))
        return tls || flow->stream_bytes[dir] + data.len < a->limits.starttls_probe_bytes;

    if (!tls) {
        bool midstream = kind == START_RECORD;
        tls = tls_conn_new(a, kind == START_SERVER_HELLO ? !dir : midstream ? DIR_TO_SERVER : dir);
        if (!tls) {
            carry->len = 0;
            return false; /* no memory to follow it: counted in the stats */
        }
        tls->midstream = midstream;
        tls->on_capf_port = flow->server.port == a->capf_port;
        flow->tls = tls;
        flow->tls_seen = true;
    }
    tls->active[dir] = true;
    tls->resync[dir] = false;
    /* The carried bytes come first: copy them out, the carry is reused. */
    stream_carry_t from = *carry;
    carry->len = 0;
    if (in_carry < from.len) {
        byte_span_t head = { from.bytes + in_carry, from.len - in_carry };
        feed_records(a, flow, tls, dir, head);
        feed_records(a, flow, tls, dir, data);
    } else {
        byte_span_t rest = { data.ptr + in_data, data.len - in_data };
        feed_records(a, flow, tls, dir, rest);
    }
    return !tls->invalid[dir];
}

void tls_flow_gap(analysis_t *a, flow_t *flow, int dir, uint64_t missing)
{
    flow->carry[dir].len = 0; /* bytes before a gap cannot join bytes after it */
    tls_conn_t *tls = flow->tls;
    if (!tls || !tls->active[dir] || tls->invalid[dir])
        return;
    tls->gaps[dir]++;
    /* Handshake messages in progress lost their middle. */
    pdu_stream_release(&tls->handshake[dir], &a->memcap, &flow->memory);
    if (tls->resync[dir])
        return;
    tls_delivery_t dl = { a, flow, tls, dir };
    pdu_stream_env_t env = { &a->memcap, &flow->memory, record_frame, record, &dl };
    /* Inside a record whose length is known, the next record still starts
     * where the framing says: no need to search for it. */
    if (!pdu_stream_gap(&tls->records[dir], &env, missing))
        tls->resync[dir] = true;
}

void tls_flow_end(analysis_t *a, flow_t *flow)
{
    tls_conn_t *tls = flow->tls;
    if (!tls)
        return;
    if (tls->state == TLS_STATE_HANDSHAKE)
        tls->state = TLS_STATE_INCOMPLETE;
    tls_decrypt_conclude(&tls->decrypt);
    if (flow->closed_by >= 0) {
        tls->capf_infer.client_closed_first = tls_dir_is_client(tls, flow->closed_by);
        tls->capf_infer.closed_with_rst = flow->closed_by_rst;
    }
    if (tls->decrypt.records[0] || tls->decrypt.records[1])
        a->stats.tls_decrypted++;
    /* The last word comes with the flow's last packet, whatever packet
     * (of another flow, for a timeout) made the run notice the end. */
    emit(a, flow, tls, &flow->last_packet, true);
    tls_conn_free(a, flow, tls);
    flow->tls = NULL;
}
