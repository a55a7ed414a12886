#include "capf_flow.h"

#include <glib.h>
#include <stdint.h>
#include <string.h>

const char *capf_outcome_name(capf_outcome_t outcome)
{
    switch (outcome) {
    case CAPF_OUTCOME_NONE: return "none";
    case CAPF_OUTCOME_INCOMPLETE: return "incomplete";
    case CAPF_OUTCOME_ENDED: return "ended";
    case CAPF_OUTCOME_REFUSED: return "refused";
    case CAPF_OUTCOME_ISSUED_UNACKED: return "issued_unacknowledged";
    case CAPF_OUTCOME_ISSUED: return "issued";
    }
    return "unknown";
}

capf_outcome_t capf_conn_outcome(const capf_conn_t *conn)
{
    if (conn->opcodes_total == 0)
        return CAPF_OUTCOME_NONE;
    if (conn->certificate_seen)
        return conn->ack_seen ? CAPF_OUTCOME_ISSUED : CAPF_OUTCOME_ISSUED_UNACKED;
    if (conn->end_seen && conn->end_has_status && conn->end_status != CAPF_STATUS_OK)
        return CAPF_OUTCOME_REFUSED;
    if (conn->end_seen)
        return CAPF_OUTCOME_ENDED;
    return CAPF_OUTCOME_INCOMPLETE;
}

/* What the framer and the message handler of one delivery need. */
typedef struct capf_delivery {
    analysis_t *a;
    flow_t *flow;
    capf_conn_t *conn;
    int dir;
    bool from_client;
    const uint8_t *last_start; /* where the framer last looked: resync goes on after it */
} capf_delivery_t;

static capf_conn_t *conn_new(analysis_t *a)
{
    /* A refusal is counted by the memory cap itself (stats: caps_hit). */
    if (!memcap_reserve(&a->memcap, NULL, sizeof(capf_conn_t)))
        return NULL;
    capf_conn_t *conn = g_new0(capf_conn_t, 1);
    conn->client_dir = -1;
    for (int d = 0; d < 2; d++)
        pdu_stream_init(&conn->stream[d]);
    return conn;
}

static void conn_free(analysis_t *a, flow_t *flow, capf_conn_t *conn)
{
    for (int d = 0; d < 2; d++)
        pdu_stream_release(&conn->stream[d], &a->memcap, &flow->memory);
    if (conn->certificate)
        cert_ref_unref(conn->certificate);
    g_free(conn);
    memcap_release(&a->memcap, NULL, sizeof(capf_conn_t));
}

static capf_conn_t *conn_get(analysis_t *a, flow_t *flow)
{
    if (!flow->capf)
        flow->capf = conn_new(a);
    return flow->capf;
}

/* ---- messages ---- */

static void note_opcode(capf_conn_t *conn, uint8_t opcode)
{
    conn->opcode_seen[opcode >> 5] |= 1u << (opcode & 31);
    if (conn->opcode_count < CAPF_OPCODES_KEPT)
        conn->opcodes[conn->opcode_count++] = opcode;
    conn->opcodes_total++;
}

/* Compares the CSR's key with the issued certificate's, when both are RSA. */
static bool compare_keys(capf_conn_t *conn)
{
    conn->key_match_known = false;
    if (!conn->csr_modulus_md5[0] || !conn->certificate || !conn->certificate->info.modulus_md5[0])
        return false;
    conn->key_match_known = true;
    conn->cert_matches_csr = strcmp(conn->csr_modulus_md5, conn->certificate->info.modulus_md5) == 0;
    return true;
}

static void on_message(void *ctx, byte_span_t pdu, size_t full_length)
{
    capf_delivery_t *dl = ctx;
    capf_conn_t *conn = dl->conn;
    analysis_t *a = dl->a;
    if (pdu.len < full_length)
        return; /* never happens: whole messages are always kept */
    capf_message_t msg;
    if (capf_message_parse(pdu, &msg) != CAPF_PARSE_OK)
        return;

    capf_event_extra_t extra;
    memset(&extra, 0, sizeof(extra));
    extra.from_client = dl->from_client;
    extra.conn = conn;
    char csr_md5[CERT_MODULUS_MD5_HEX_LEN + 1] = "";

    if (conn->opcodes_total == 0)
        conn->first_at = a->packet;
    conn->messages[dl->dir]++;
    note_opcode(conn, msg.opcode);
    if (msg.malformed)
        conn->malformed++;
    if (!conn->has_session_id) {
        conn->has_session_id = true;
        conn->session_id = msg.session_id;
    } else if (msg.session_id != conn->session_id) {
        conn->session_id_changes++;
    }
    if (msg.has_device && !conn->has_device) {
        conn->has_device = true;
        memcpy(conn->device, msg.device, sizeof(conn->device));
    }
    if (msg.has_status) {
        conn->has_status = true;
        conn->last_status = msg.status;
        conn->last_status_opcode = msg.opcode;
        conn->last_status_at = a->packet;
    }

    switch (msg.opcode) {
    case CAPF_OP_REQUEST:
        conn->request_at = a->packet;
        break;
    case CAPF_OP_CSR:
        conn->csr_at = a->packet;
        if (msg.public_key.len && x509_spki_modulus_md5(msg.public_key, csr_md5)) {
            extra.csr_modulus_md5 = csr_md5;
            memcpy(conn->csr_modulus_md5, csr_md5, sizeof(csr_md5));
        } else {
            conn->csr_modulus_md5[0] = '\0';
        }
        if (compare_keys(conn)) {
            extra.cert_match_known = true;
            extra.cert_matches_csr = conn->cert_matches_csr;
        }
        break;
    case CAPF_OP_CERTIFICATE:
        conn->certificate_seen = true;
        conn->certificate_at = a->packet;
        if (msg.certificate.len) {
            cert_ref_t *ref = cert_cache_get(a->certs, msg.certificate);
            if (ref) {
                if (conn->certificate)
                    cert_ref_unref(conn->certificate);
                conn->certificate = ref;
                extra.cert = ref;
                if (compare_keys(conn)) {
                    extra.cert_match_known = true;
                    extra.cert_matches_csr = conn->cert_matches_csr;
                }
            }
        }
        if (conn->csr_modulus_md5[0])
            extra.csr_modulus_md5 = conn->csr_modulus_md5;
        break;
    case CAPF_OP_ACK:
        conn->ack_seen = true;
        conn->ack_at = a->packet;
        break;
    case CAPF_OP_END_SESSION:
        if (!conn->end_seen) {
            conn->end_seen = true;
            conn->end_at = a->packet;
            conn->end_has_status = msg.has_status;
            conn->end_status = msg.status;
        }
        break;
    default:
        break;
    }
    analysis_emit_capf(a, dl->flow, &msg, &extra, &a->packet);
}

static pdu_frame_t message_frame(void *ctx, byte_span_t start)
{
    capf_delivery_t *dl = ctx;
    dl->last_start = start.ptr;
    pdu_frame_t f = { PDU_NEED_MORE, CAPF_HEADER_LEN, 0, 0 };
    size_t total = 0;
    switch (capf_frame(start, &total)) {
    case CAPF_PARSE_NEED_MORE:
        return f;
    case CAPF_PARSE_INVALID:
        f.status = PDU_INVALID;
        return f;
    case CAPF_PARSE_OK:
        break;
    }
    f.status = PDU_READY;
    f.length = total;
    f.keep = total;
    return f;
}

/* ---- finding a message start after the framing was lost ---- */

typedef enum probe_result { PROBE_NO, PROBE_YES, PROBE_NEED_MORE } probe_result_t;

/* Does a message start here?  Decided on a fixed number of bytes (the
 * header, and the first field's header when the body has one), so the
 * answer does not depend on how the stream was cut into deliveries.  Once
 * the session id is known, a start must carry it. */
static probe_result_t probe(const capf_conn_t *conn, byte_span_t at)
{
    cursor_t c = cur_from_span(at);
    if (cur_empty(&c))
        return PROBE_NEED_MORE;
    if (cur_peek_u8(&c, 0) != CAPF_MAGIC)
        return PROBE_NO;
    if (!cur_has(&c, 2))
        return PROBE_NEED_MORE;
    if (!capf_opcode_lookup(cur_peek_u8(&c, 1)))
        return PROBE_NO;
    if (!cur_has(&c, CAPF_HEADER_LEN))
        return PROBE_NEED_MORE;
    cursor_t h = c;
    cur_skip(&h, 2);
    uint32_t session_id = cur_be32(&h);
    uint16_t body_len = cur_be16(&h);
    if (conn->has_session_id && session_id != conn->session_id)
        return PROBE_NO;
    size_t need = body_len >= CAPF_FIELD_HEADER_LEN ? CAPF_PROBE_LEN : CAPF_HEADER_LEN;
    if (!cur_has(&c, need))
        return PROBE_NEED_MORE;
    return capf_starts_stream(cur_view(&c, need)) ? PROBE_YES : PROBE_NO;
}

static void enter_resync(analysis_t *a, flow_t *flow, capf_conn_t *conn, int dir)
{
    pdu_stream_release(&conn->stream[dir], &a->memcap, &flow->memory);
    conn->probe_len[dir] = 0;
    if (conn->resync[dir])
        return;
    if (++conn->resyncs[dir] > CAPF_MAX_RESYNCS) {
        conn->invalid[dir] = true;
        return;
    }
    conn->resync[dir] = true;
}

static void feed_stream(capf_delivery_t *dl, byte_span_t data);
static void resync_feed(capf_delivery_t *dl, byte_span_t data);

/* Bytes of the direction, to whichever state it is in. */
static void deliver(capf_delivery_t *dl, byte_span_t data)
{
    if (dl->conn->invalid[dl->dir] || data.len == 0)
        return;
    if (dl->conn->resync[dl->dir])
        resync_feed(dl, data);
    else
        feed_stream(dl, data);
}

/* Keeps an undecided tail (shorter than a probe) for the next delivery. */
static void keep_probe(capf_conn_t *conn, int dir, byte_span_t tail)
{
    cursor_t c = cur_from_span(tail);
    size_t n = cur_remaining(&c) < CAPF_PROBE_LEN ? cur_remaining(&c) : CAPF_PROBE_LEN;
    uint8_t copy[CAPF_PROBE_LEN];
    cur_copy(&c, copy, n); /* the tail may lie in probe[] itself */
    memcpy(conn->probe[dir], copy, n);
    conn->probe_len[dir] = (uint8_t)n;
}

/* Looks for a message start in the carried bytes and then in data; feeds
 * the stream from there when one is found. */
static void resync_feed(capf_delivery_t *dl, byte_span_t data)
{
    capf_conn_t *conn = dl->conn;
    int dir = dl->dir;
    cursor_t in = cur_from_span(data);

    size_t carried = conn->probe_len[dir];
    if (carried) {
        uint8_t joined[2 * CAPF_PROBE_LEN];
        size_t head = cur_remaining(&in) < CAPF_PROBE_LEN ? cur_remaining(&in) : CAPF_PROBE_LEN;
        memcpy(joined, conn->probe[dir], carried);
        cursor_t h = in;
        cur_copy(&h, joined + carried, head);
        cursor_t j = cur_make(joined, carried + head);
        for (size_t p = 0; p < carried; p++) {
            cursor_t at_cur = j;
            cur_skip(&at_cur, p);
            byte_span_t at = cur_rest(&at_cur);
            probe_result_t r = probe(conn, at);
            if (r == PROBE_YES) {
                /* The start lies in the carried bytes: they go first. */
                uint8_t from[CAPF_PROBE_LEN];
                size_t n = carried - p;
                memcpy(from, joined + p, n);
                byte_span_t first = { from, n };
                conn->probe_len[dir] = 0;
                conn->resync[dir] = false;
                deliver(dl, first);
                deliver(dl, data);
                return;
            }
            if (r == PROBE_NEED_MORE) {
                /* Not decidable yet: all of data fits in the probe. */
                keep_probe(conn, dir, at);
                return;
            }
            conn->skipped_bytes[dir]++;
        }
        conn->probe_len[dir] = 0;
    }

    while (!cur_empty(&in)) {
        size_t before = cur_offset(&in);
        if (!cur_seek_either(&in, CAPF_MAGIC, CAPF_MAGIC)) {
            conn->skipped_bytes[dir] += cur_offset(&in) - before;
            return;
        }
        conn->skipped_bytes[dir] += cur_offset(&in) - before;
        cursor_t look = in;
        byte_span_t at = cur_rest(&look);
        probe_result_t r = probe(conn, at);
        if (r == PROBE_YES) {
            conn->resync[dir] = false;
            feed_stream(dl, at);
            return;
        }
        if (r == PROBE_NEED_MORE) {
            keep_probe(conn, dir, at);
            return;
        }
        cur_skip(&in, 1);
        conn->skipped_bytes[dir]++;
    }
}

/* Feeds bytes known to begin at a message boundary (or inside a message
 * being gathered).  When the framing breaks, looks for the next start after
 * the point where it broke. */
static void feed_stream(capf_delivery_t *dl, byte_span_t data)
{
    capf_conn_t *conn = dl->conn;
    int dir = dl->dir;
    if (data.len == 0)
        return;
    pdu_stream_env_t env = { &dl->a->memcap, &dl->flow->memory, message_frame, on_message, dl };
    dl->last_start = NULL;
    if (pdu_stream_feed(&conn->stream[dir], &env, data))
        return;
    /* Out of step: bytes that are not CAPF, or no memory for a message.  The
     * search goes on after the start the framer last looked at when that
     * lies in these bytes, else from the beginning of these bytes. */
    uintptr_t begin = (uintptr_t)data.ptr, last = (uintptr_t)dl->last_start;
    size_t from = 0;
    if (dl->last_start && last >= begin && last - begin < data.len) {
        from = (size_t)(last - begin) + 1;
        conn->skipped_bytes[dir]++; /* the byte that was no start */
    }
    enter_resync(dl->a, dl->flow, conn, dir);
    if (!conn->resync[dir])
        return; /* given up */
    cursor_t c = cur_from_span(data);
    cur_skip(&c, from);
    resync_feed(dl, cur_rest(&c));
}

/* ---- the interface ---- */

void capf_flow_data(analysis_t *a, flow_t *flow, int dir, bool from_client, byte_span_t data)
{
    if (dir != DIR_TO_SERVER && dir != DIR_TO_CLIENT)
        return;
    capf_conn_t *conn = conn_get(a, flow);
    if (!conn || conn->invalid[dir] || data.len == 0)
        return;
    if (from_client)
        conn->client_dir = dir;
    capf_delivery_t dl = { a, flow, conn, dir, from_client, NULL };
    deliver(&dl, data);
}

void capf_flow_gap(analysis_t *a, flow_t *flow, int dir)
{
    if (dir != DIR_TO_SERVER && dir != DIR_TO_CLIENT)
        return;
    capf_conn_t *conn = conn_get(a, flow);
    if (!conn || conn->invalid[dir])
        return;
    conn->gaps[dir]++;
    /* The message being gathered lost bytes, and bytes before the gap
     * cannot join bytes after it: look for the next start.  (Not counted as
     * a framing loss: the stream itself did nothing wrong.) */
    pdu_stream_release(&conn->stream[dir], &a->memcap, &flow->memory);
    conn->probe_len[dir] = 0;
    conn->resync[dir] = true;
}

void capf_flow_end(analysis_t *a, flow_t *flow)
{
    capf_conn_t *conn = flow->capf;
    if (!conn)
        return;
    analysis_emit_capf_end(a, flow, conn, &flow->last_packet);
    conn_free(a, flow, conn);
    flow->capf = NULL;
}
