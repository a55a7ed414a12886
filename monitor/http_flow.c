#include "http_flow.h"

#include "certsrv_requests.h"

#include <glib.h>
#include <string.h>

/* What the handlers of one delivery need. */
typedef struct http_delivery {
    analysis_t *a;
    flow_t *flow;
    http_conn_t *conn;
    int dir;
} http_delivery_t;

http_auth_scheme_t http_exchange_auth(const http_exchange_t *ex)
{
    if (ex->has_request && ex->authorization != HTTP_AUTH_NONE)
        return ex->authorization;
    if (ex->has_response)
        return ex->www_authenticate;
    return HTTP_AUTH_NONE;
}

static int64_t ms_between(int64_t from_us, int64_t to_us)
{
    return to_us > from_us ? (to_us - from_us) / 1000 : 0;
}

/* ------------------------------------------------------------------ */
/* Exchanges                                                            */

static http_exchange_t *ex_new(http_delivery_t *dl)
{
    if (!memcap_reserve(&dl->a->memcap, NULL, sizeof(http_exchange_t))) {
        dl->conn->exchanges_not_kept++;
        return NULL;
    }
    http_exchange_t *ex = g_new0(http_exchange_t, 1);
    ex->response_ms = -1;
    ex->waited_ms = -1;
    ex->pki.req_id = -1;
    ex->refs = 1;
    return ex;
}

static void ex_drop_bodies(analysis_t *a, flow_t *flow, http_exchange_t *ex)
{
    for (int i = 0; i < 2; i++) {
        if (ex->body_alloc[i])
            memcap_release(&a->memcap, &flow->memory, ex->body_alloc[i]);
        g_free(ex->body[i]);
        ex->body[i] = NULL;
        ex->body_len[i] = 0;
        ex->body_alloc[i] = 0;
    }
}

static void ex_unref(analysis_t *a, flow_t *flow, http_exchange_t *ex)
{
    if (!ex || --ex->refs > 0)
        return;
    ex_drop_bodies(a, flow, ex);
    if (ex->pki_dissected)
        pki_record_clear(&ex->pki);
    g_free(ex);
    memcap_release(&a->memcap, NULL, sizeof(http_exchange_t));
}

static void copy_md5(char dst[CERT_MODULUS_MD5_HEX_LEN + 1], const char *src)
{
    size_t n = strlen(src);
    if (n > CERT_MODULUS_MD5_HEX_LEN)
        n = CERT_MODULUS_MD5_HEX_LEN;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

/* The CSR a certsrv retrieval's certificate answers: the one submitted
 * under the same ReqID to the same CA anywhere in the run, else the last one
 * submitted on this connection. */
static const char *certsrv_csr_for(const analysis_t *a, const flow_t *flow, const http_conn_t *conn,
                                   const pki_record_t *p, char by_req_id[33])
{
    if (certsrv_requests_csr_copy(a->certsrv_requests, &flow->server.addr, p->req_id, by_req_id))
        return by_req_id;
    return conn->last_csr_modulus_md5[0] ? conn->last_csr_modulus_md5 : NULL;
}

/* The PKI record of a finished exchange, and its certificate against the
 * CSR (its own, or for a certsrv retrieval the one submitted earlier). */
static void dissect_pki(analysis_t *a, const flow_t *flow, http_conn_t *conn, http_exchange_t *ex)
{
    if (ex->pki_kind == PKI_NONE || !ex->has_request)
        return;
    byte_span_t req = { ex->body[0], ex->body_len[0] };
    byte_span_t resp = { ex->body[1], ex->body_len[1] };
    pki_dissect(ex->method, ex->uri,
                ex->has_request_content_type ? ex->request_content_type : NULL, req,
                ex->request_truncated || !ex->request_complete, ex->has_response ? ex->status : 0,
                ex->has_content_type ? ex->content_type : NULL, resp,
                ex->response_truncated || (ex->has_response && !ex->response_complete),
                a->patterns, &ex->pki);
    ex->pki_dissected = true;

    const pki_record_t *p = &ex->pki;
    if (p->has_certificate && p->certificate.parsed && p->certificate.modulus_md5[0])
        copy_md5(ex->cert_modulus_md5, p->certificate.modulus_md5);
    if (p->has_csr && p->csr_modulus_md5[0]) {
        copy_md5(ex->csr_modulus_md5, p->csr_modulus_md5);
        copy_md5(conn->last_csr_modulus_md5, p->csr_modulus_md5);
        if (p->kind == PKI_CERTSRV)
            certsrv_requests_note(a->certsrv_requests, &flow->server.addr, p->req_id,
                                  p->csr_modulus_md5);
    } else if (ex->cert_modulus_md5[0] && p->kind == PKI_CERTSRV &&
               (p->step == PKI_STEP_CERT_RETRIEVAL || p->step == PKI_STEP_CHAIN_RETRIEVAL)) {
        char by_req_id[33];
        const char *earlier = certsrv_csr_for(a, flow, conn, p, by_req_id);
        if (earlier) {
            copy_md5(ex->csr_modulus_md5, earlier);
            ex->csr_from_earlier = true;
        }
    }
    if (ex->csr_modulus_md5[0] && ex->cert_modulus_md5[0]) {
        ex->cert_match_known = true;
        ex->cert_matches_csr = strcmp(ex->csr_modulus_md5, ex->cert_modulus_md5) == 0;
    }
}

/* Reports the exchange (once) and lets go of its bodies. */
static void ex_emit(http_delivery_t *dl, http_exchange_t *ex, const packet_info_t *at)
{
    if (!ex || ex->emitted)
        return;
    dissect_pki(dl->a, dl->flow, dl->conn, ex);
    ex->emitted = true;
    dl->conn->exchanges_emitted++;
    run_stats_t *st = &dl->a->stats;
    st->http_exchanges++;
    st->http_pki += ex->pki_dissected;
    st->http_no_response += ex->no_response;
    st->http_no_request += ex->no_request;
    analysis_emit_http(dl->a, dl->flow, ex, at);
    ex_drop_bodies(dl->a, dl->flow, ex);
}

/* ---- the queue of requests waiting for their response ---- */

static http_exchange_t *pending_pop(http_conn_t *conn, bool *had)
{
    *had = conn->pending_count > 0;
    if (!*had)
        return NULL;
    http_exchange_t *ex = conn->pending[conn->pending_head];
    conn->pending[conn->pending_head] = NULL;
    conn->pending_head = (conn->pending_head + 1) % HTTP_MAX_PENDING;
    conn->pending_count--;
    return ex;
}

static http_exchange_t *pending_oldest(const http_conn_t *conn)
{
    return conn->pending_count ? conn->pending[conn->pending_head] : NULL;
}

static void pending_push(http_delivery_t *dl, http_exchange_t *ex)
{
    http_conn_t *conn = dl->conn;
    if (conn->pending_count == HTTP_MAX_PENDING) {
        bool had;
        http_exchange_t *old = pending_pop(conn, &had);
        conn->queue_overflows++;
        memcap_count_hit(&dl->a->memcap, CAP_HTTP_PENDING);
        if (old) {
            old->no_response = true;
            old->queue_overflow = true;
            old->waited_ms = ms_between(old->request_at.ts_us, dl->a->packet.ts_us);
            ex_emit(dl, old, &dl->a->packet);
            ex_unref(dl->a, dl->flow, old);
        }
    }
    conn->pending[(conn->pending_head + conn->pending_count) % HTTP_MAX_PENDING] = ex;
    conn->pending_count++;
}

/* ------------------------------------------------------------------ */
/* Buffers                                                              */

/* Grows a buffer to hold `want` bytes, charging the growth to the flow. */
static bool grow(http_delivery_t *dl, uint8_t **buf, size_t *alloc, size_t want, size_t most)
{
    if (want <= *alloc)
        return true;
    size_t grown = *alloc ? *alloc : 512;
    while (grown < want)
        grown *= 2;
    if (grown > most)
        grown = most > want ? most : want;
    if (!memcap_reserve(&dl->a->memcap, &dl->flow->memory, grown - *alloc))
        return false;
    *buf = g_realloc(*buf, grown);
    *alloc = grown;
    return true;
}

static void hdr_release(http_delivery_t *dl, http_dir_t *hd)
{
    if (hd->hdr_alloc)
        memcap_release(&dl->a->memcap, &dl->flow->memory, hd->hdr_alloc);
    g_free(hd->hdr);
    hd->hdr = NULL;
    hd->hdr_len = 0;
    hd->hdr_alloc = 0;
    hd->hdr_scanned = 0;
}

/* Moves up to n bytes of in to the header buffer; false when memory is refused. */
static bool hdr_append(http_delivery_t *dl, http_dir_t *hd, cursor_t *in, size_t n)
{
    if (n == 0)
        return true;
    if (!grow(dl, &hd->hdr, &hd->hdr_alloc, hd->hdr_len + n, HTTP_HEADER_MAX))
        return false;
    cur_copy(in, hd->hdr + hd->hdr_len, n);
    hd->hdr_len += n;
    return true;
}

/* Keeps body bytes of a PKI exchange, up to limits.http_body_cap. */
static void body_keep(http_delivery_t *dl, http_exchange_t *ex, int which, byte_span_t data)
{
    bool *truncated = which == 0 ? &ex->request_truncated : &ex->response_truncated;
    if (*truncated || data.len == 0)
        return;
    size_t cap = dl->a->limits.http_body_cap;
    size_t have = ex->body_len[which];
    size_t n = data.len;
    bool cut = false;
    if (have >= cap || n > cap - have) {
        n = have >= cap ? 0 : cap - have;
        cut = true;
    }
    if (n && !grow(dl, &ex->body[which], &ex->body_alloc[which], have + n, cap))
        n = 0, cut = true;
    if (n) {
        cursor_t c = cur_from_span(data);
        cur_copy(&c, ex->body[which] + have, n);
        ex->body_len[which] = have + n;
    }
    if (cut) {
        *truncated = true;
        dl->conn->bodies_truncated++;
        memcap_count_hit(&dl->a->memcap, CAP_HTTP_BODY);
    }
}

/* ------------------------------------------------------------------ */
/* Framing                                                              */

static void feed(http_delivery_t *dl, byte_span_t data);

/* The direction stops following the message it was reading (a response's
 * exchange is reported as it stands). */
static void drop_message(http_delivery_t *dl, http_dir_t *hd)
{
    hdr_release(dl, hd);
    http_exchange_t *ex = hd->ex;
    hd->ex = NULL;
    if (!ex)
        return;
    if (!hd->body_is_request) {
        ex->response_at = dl->a->packet;
        ex_emit(dl, ex, &dl->a->packet);
    }
    ex_unref(dl->a, dl->flow, ex);
}

/* Framing lost (bytes that are not HTTP, a header block too large, a
 * length that cannot be trusted): look for the next start line. */
static void lose_framing(http_delivery_t *dl, http_dir_t *hd, bool line_start)
{
    drop_message(dl, hd);
    hd->probe_len = 0;
    hd->line_start = line_start;
    if (++hd->resyncs > HTTP_MAX_RESYNCS) {
        hd->state = HTTP_DIR_GIVEN_UP;
        return;
    }
    hd->state = HTTP_DIR_RESYNC;
}

/* A body of the message just parsed begins (or there is none). */
static void begin_body(http_dir_t *hd, http_exchange_t *ex, bool is_request, http_dir_state_t state,
                       uint64_t length)
{
    hd->state = state;
    hd->body_is_request = is_request;
    hd->body_left = length;
    http_chunked_init(&hd->chunk);
    hd->ex = ex;
    if (ex)
        ex->refs++;
}

static void body_data(http_delivery_t *dl, http_dir_t *hd, byte_span_t data)
{
    http_exchange_t *ex = hd->ex;
    if (!ex || data.len == 0)
        return;
    int which = hd->body_is_request ? 0 : 1;
    if (which == 0)
        ex->request_length += data.len;
    else
        ex->response_length += data.len;
    if (ex->keep_body && !ex->emitted)
        body_keep(dl, ex, which, data);
}

/* The message's body is complete. */
static void body_done(http_delivery_t *dl, http_dir_t *hd)
{
    http_exchange_t *ex = hd->ex;
    hd->ex = NULL;
    hd->state = HTTP_DIR_START;
    if (!ex)
        return;
    if (hd->body_is_request) {
        ex->request_complete = true;
        ex->request_at = dl->a->packet;
        if (!ex->emitted) /* a response can come before the body ends */
            analysis_emit_http_request(dl->a, dl->flow, ex, &dl->a->packet);
    } else {
        ex->response_complete = true;
        ex->response_at = dl->a->packet;
        ex_emit(dl, ex, &dl->a->packet);
    }
    ex_unref(dl->a, dl->flow, ex);
}

static void on_request(http_delivery_t *dl, http_dir_t *hd, const http_message_t *m)
{
    http_conn_t *conn = dl->conn;
    conn->requests++;
    http_exchange_t *ex = ex_new(dl);
    if (ex) {
        ex->has_request = true;
        ex->seq = conn->requests;
        memcpy(ex->method, m->method, sizeof(ex->method));
        memcpy(ex->uri, m->uri, sizeof(ex->uri));
        ex->uri_truncated = m->uri_length >= sizeof(ex->uri);
        ex->request_version[0] = m->version_major;
        ex->request_version[1] = m->version_minor;
        ex->has_host = m->has_host;
        memcpy(ex->host, m->host, sizeof(ex->host));
        ex->has_user_agent = m->has_user_agent;
        memcpy(ex->user_agent, m->user_agent, sizeof(ex->user_agent));
        ex->has_request_content_type = m->has_content_type;
        memcpy(ex->request_content_type, m->content_type, sizeof(ex->request_content_type));
        ex->request_chunked = m->chunked;
        ex->expect_continue = m->expect_continue;
        ex->authorization = m->authorization;
        ex->authorization_ntlm_type = m->authorization_ntlm_type;
        ex->request_problems = m->problems;
        ex->request_first = hd->hdr_first;
        ex->request_at = dl->a->packet;
        ex->pki_kind = pki_kind_of_request(ex->method, ex->uri, &ex->pki_step);
        ex->keep_body = ex->pki_kind != PKI_NONE && dl->a->limits.http_body_cap > 0;
    }
    pending_push(dl, ex); /* the queue holds the creation reference (NULL: not kept) */

    if (http_length_malformed(m) || (m->problems & HTTP_BAD_TRANSFER_ENCODING)) {
        /* Where this request ends is unknown. */
        if (http_length_malformed(m))
            conn->malformed_length++;
        lose_framing(dl, hd, true);
        return;
    }
    if (m->chunked)
        begin_body(hd, ex, true, HTTP_DIR_CHUNKED, 0);
    else if (m->has_content_length && m->content_length > 0)
        begin_body(hd, ex, true, HTTP_DIR_BODY, m->content_length);
    else if (ex) {
        ex->request_complete = true;
        analysis_emit_http_request(dl->a, dl->flow, ex, &dl->a->packet);
    }
}

/* The connection is not HTTP any more (101 Switching Protocols, a CONNECT
 * tunnel): both directions stop. */
static void enter_tunnel(http_delivery_t *dl)
{
    dl->conn->upgraded = true;
    for (int d = 0; d < 2; d++) {
        http_dir_t *hd = &dl->conn->dir[d];
        hdr_release(dl, hd);
        if (hd->ex) {
            http_exchange_t *ex = hd->ex;
            hd->ex = NULL;
            ex_unref(dl->a, dl->flow, ex);
        }
        hd->state = HTTP_DIR_TUNNEL;
    }
}

static void on_response(http_delivery_t *dl, http_dir_t *hd, const http_message_t *m)
{
    http_conn_t *conn = dl->conn;
    if (m->status < 200 && m->status != 101) {
        /* interim (100 Continue, 102, 103): the final response follows */
        conn->interim_responses++;
        http_exchange_t *ex = pending_oldest(conn);
        if (ex) {
            if (ex->interim_count < HTTP_INTERIM_KEPT)
                ex->interim_status[ex->interim_count] = m->status;
            ex->interim_count++;
        }
        return;
    }
    conn->responses++;
    bool had;
    http_exchange_t *ex = pending_pop(conn, &had);
    if (!had) {
        ex = ex_new(dl);
        if (ex) {
            ex->no_request = true;
            if (conn->requests_lost) {
                conn->requests_lost--;
                ex->request_lost = true;
            }
        }
    }
    bool head = false, connect = false;
    if (ex) {
        ex->has_response = true;
        ex->status = m->status;
        memcpy(ex->reason, m->reason, sizeof(ex->reason));
        ex->response_version[0] = m->version_major;
        ex->response_version[1] = m->version_minor;
        ex->has_content_type = m->has_content_type;
        memcpy(ex->content_type, m->content_type, sizeof(ex->content_type));
        ex->response_chunked = m->chunked;
        ex->www_authenticate = m->www_authenticate;
        ex->www_authenticate_schemes = m->www_authenticate_schemes;
        ex->www_authenticate_token = m->www_authenticate_token;
        ex->www_authenticate_ntlm_type = m->www_authenticate_ntlm_type;
        ex->response_problems = m->problems;
        ex->response_first = dl->a->packet;
        ex->response_at = dl->a->packet;
        if (ex->has_request) {
            ex->response_ms = ms_between(ex->request_at.ts_us, dl->a->packet.ts_us);
            head = strcmp(ex->method, "HEAD") == 0;
            connect = strcmp(ex->method, "CONNECT") == 0;
        }
    }
    /* ex's one reference now belongs to this direction. */
    if (m->status == 101 || (connect && m->status / 100 == 2)) {
        if (ex)
            ex->response_complete = true;
        ex_emit(dl, ex, &dl->a->packet);
        ex_unref(dl->a, dl->flow, ex);
        enter_tunnel(dl);
        return;
    }
    http_dir_state_t state = HTTP_DIR_START;
    uint64_t length = 0;
    if (head || m->status == 204 || m->status == 304) {
        state = HTTP_DIR_START;
    } else if (m->chunked) {
        state = HTTP_DIR_CHUNKED;
    } else if (m->has_transfer_encoding) {
        state = HTTP_DIR_UNTIL_CLOSE;
    } else if (http_length_malformed(m)) {
        /* RFC 9112 6.3: unrecoverable; report it and look for the next response */
        conn->malformed_length++;
        begin_body(hd, ex, false, HTTP_DIR_BODY, 0);
        ex_unref(dl->a, dl->flow, ex); /* the direction holds it now */
        lose_framing(dl, hd, true);
        return;
    } else if (m->has_content_length) {
        state = m->content_length ? HTTP_DIR_BODY : HTTP_DIR_START;
        length = m->content_length;
    } else {
        state = HTTP_DIR_UNTIL_CLOSE;
    }
    if (state == HTTP_DIR_START) {
        if (ex) {
            ex->response_complete = true;
            ex_emit(dl, ex, &dl->a->packet);
        }
        ex_unref(dl->a, dl->flow, ex);
        return;
    }
    begin_body(hd, ex, false, state, length);
    ex_unref(dl->a, dl->flow, ex); /* the direction holds it now */
}

/* A complete header block. */
static void on_header(http_delivery_t *dl, http_dir_t *hd, byte_span_t block)
{
    http_message_t m;
    if (!http_message_parse(block, &m)) {
        lose_framing(dl, hd, true);
        return;
    }
    hd->messages++;
    hd->state = HTTP_DIR_START;
    if (m.is_request)
        on_request(dl, hd, &m);
    else
        on_response(dl, hd, &m);
}

/* Bytes added to a header block at a time while looking for its end. */
#define HTTP_HEADER_STEP ((size_t)2048)

/* HTTP_DIR_HEADER: the block continues in these bytes. */
static void header_feed(http_delivery_t *dl, http_dir_t *hd, cursor_t *in)
{
    cursor_t entry = *in;
    size_t old = hd->hdr_len;
    if (hd->hdr_len < HTTP_PROBE_LEN) {
        /* First decide whether a start line begins here at all. */
        size_t want = HTTP_PROBE_LEN - hd->hdr_len;
        size_t n = cur_remaining(in) < want ? cur_remaining(in) : want;
        if (!hdr_append(dl, hd, in, n)) {
            lose_framing(dl, hd, false);
            return;
        }
        byte_span_t held = { hd->hdr, hd->hdr_len };
        http_probe_t p = http_probe_start(held);
        if (p == HTTP_PROBE_NEED_MORE)
            return; /* all input taken */
        if (p == HTTP_PROBE_NO) {
            /* Not a start: look again from the byte after the one that
             * seemed to begin one (the held bytes first, then the rest). */
            uint8_t rest[HTTP_PROBE_LEN];
            size_t rest_len = hd->hdr_len - 1;
            memcpy(rest, hd->hdr + 1, rest_len);
            lose_framing(dl, hd, false);
            byte_span_t again = { rest, rest_len };
            feed(dl, again);
            return;
        }
    }
    /* Then take the input a step at a time, so that the bytes after the
     * block (a body, the next message) are not copied for nothing. */
    size_t len = 0;
    http_frame_status_t st = HTTP_FRAME_NEED_MORE;
    do {
        size_t room = HTTP_HEADER_MAX > hd->hdr_len ? HTTP_HEADER_MAX - hd->hdr_len : 0;
        size_t n = MIN(MIN(cur_remaining(in), room), HTTP_HEADER_STEP);
        if (!hdr_append(dl, hd, in, n)) {
            lose_framing(dl, hd, false);
            return;
        }
        byte_span_t held = { hd->hdr, hd->hdr_len };
        st = http_header_frame(held, HTTP_HEADER_MAX, &hd->hdr_scanned, &len);
    } while (st == HTTP_FRAME_NEED_MORE && !cur_empty(in));
    switch (st) {
    case HTTP_FRAME_NEED_MORE:
        return; /* all input taken */
    case HTTP_FRAME_OK:
        break;
    case HTTP_FRAME_TOO_LARGE:
        dl->conn->oversize_headers++;
        memcap_count_hit(&dl->a->memcap, CAP_HTTP_HEADER);
        lose_framing(dl, hd, false);
        return;
    case HTTP_FRAME_INVALID:
        lose_framing(dl, hd, false);
        return;
    }
    if (len <= old) {
        /* cannot happen: the block was looked at after every addition */
        lose_framing(dl, hd, true);
        return;
    }
    /* The bytes after the block go back to the input. */
    *in = entry;
    cur_skip(in, len - old);
    byte_span_t block = { hd->hdr, len };
    on_header(dl, hd, block);
    /* on_header may have changed the state; the buffer is done with */
    uint8_t *buf = hd->hdr;
    size_t alloc = hd->hdr_alloc;
    hd->hdr = NULL;
    hd->hdr_len = 0;
    hd->hdr_alloc = 0;
    hd->hdr_scanned = 0;
    if (alloc)
        memcap_release(&dl->a->memcap, &dl->flow->memory, alloc);
    g_free(buf);
}

/* HTTP_DIR_START: a message begins with these bytes (after stray line ends). */
static void start_feed(http_delivery_t *dl, http_dir_t *hd, cursor_t *in)
{
    uint8_t b = cur_peek_u8(in, 0);
    if (b == '\r' || b == '\n') {
        cur_skip(in, 1);
        return;
    }
    hd->hdr_first = dl->a->packet;
    hd->hdr_scanned = 0;
    cursor_t look = *in;
    byte_span_t rest = cur_rest(&look);
    size_t scanned = 0, len = 0;
    switch (http_header_frame(rest, HTTP_HEADER_MAX, &scanned, &len)) {
    case HTTP_FRAME_OK: {
        byte_span_t block = cur_view(in, len);
        on_header(dl, hd, block);
        return;
    }
    case HTTP_FRAME_NEED_MORE:
        hd->state = HTTP_DIR_HEADER;
        if (!hdr_append(dl, hd, in, cur_remaining(in))) {
            cur_skip(in, 1);
            lose_framing(dl, hd, false);
            return;
        }
        hd->hdr_scanned = scanned;
        return;
    case HTTP_FRAME_TOO_LARGE:
        dl->conn->oversize_headers++;
        memcap_count_hit(&dl->a->memcap, CAP_HTTP_HEADER);
        cur_skip(in, 1);
        lose_framing(dl, hd, false);
        return;
    case HTTP_FRAME_INVALID:
        cur_skip(in, 1);
        lose_framing(dl, hd, false);
        return;
    }
}

/* Keeps the undecided bytes at a line start (fewer than a probe) for later. */
static void keep_probe(http_dir_t *hd, byte_span_t tail)
{
    cursor_t c = cur_from_span(tail);
    size_t n = cur_remaining(&c) < HTTP_PROBE_LEN ? cur_remaining(&c) : HTTP_PROBE_LEN;
    uint8_t copy[HTTP_PROBE_LEN];
    cur_copy(&c, copy, n); /* the tail may lie in probe[] itself */
    memcpy(hd->probe, copy, n);
    hd->probe_len = (uint8_t)n;
}

/* HTTP_DIR_RESYNC: looks for a request or status line at the start of a
 * line; the state becomes START where one begins. */
static void resync_feed(http_delivery_t *dl, http_dir_t *hd, cursor_t *in)
{
    size_t carried = hd->probe_len;
    if (carried) {
        /* The carried bytes begin at a line start. */
        uint8_t joined[2 * HTTP_PROBE_LEN];
        size_t head = cur_remaining(in) < HTTP_PROBE_LEN ? cur_remaining(in) : HTTP_PROBE_LEN;
        memcpy(joined, hd->probe, carried);
        cursor_t h = *in;
        cur_copy(&h, joined + carried, head);
        cursor_t j = cur_make(joined, carried + head);
        hd->probe_len = 0;
        for (size_t p = 0; p < carried; p++) {
            bool at_line_start = p == 0 || cur_peek_u8(&j, p - 1) == '\n';
            if (!at_line_start) {
                hd->skipped_bytes++;
                continue;
            }
            cursor_t at_cur = j;
            cur_skip(&at_cur, p);
            byte_span_t at = cur_rest(&at_cur);
            http_probe_t r = http_probe_start(at);
            if (r == HTTP_PROBE_YES) {
                /* The start lies in the carried bytes: they go first. */
                uint8_t from[HTTP_PROBE_LEN];
                size_t n = carried - p;
                memcpy(from, joined + p, n);
                byte_span_t first = { from, n };
                hd->state = HTTP_DIR_START;
                feed(dl, first);
                return; /* the caller goes on with in */
            }
            if (r == HTTP_PROBE_NEED_MORE) {
                /* Undecided even with what came: all of in is in joined. */
                keep_probe(hd, at);
                cur_skip(in, head);
                return;
            }
            hd->skipped_bytes++;
        }
        hd->line_start = cur_peek_u8(&j, carried - 1) == '\n';
    }
    while (!cur_empty(in)) {
        if (hd->line_start) {
            cursor_t look = *in;
            byte_span_t at = cur_rest(&look);
            http_probe_t r = http_probe_start(at);
            if (r == HTTP_PROBE_YES) {
                hd->state = HTTP_DIR_START;
                return;
            }
            if (r == HTTP_PROBE_NEED_MORE) {
                keep_probe(hd, at);
                cur_skip(in, at.len);
                return;
            }
        }
        size_t before = cur_offset(in);
        if (!cur_seek_either(in, '\n', '\n')) {
            hd->skipped_bytes += cur_offset(in) - before;
            hd->line_start = false;
            return;
        }
        cur_skip(in, 1);
        hd->skipped_bytes += cur_offset(in) - before;
        hd->line_start = true;
    }
}

/* Bytes of the direction, through whatever state it is in. */
static void feed(http_delivery_t *dl, byte_span_t data)
{
    http_dir_t *hd = &dl->conn->dir[dl->dir];
    cursor_t in = cur_from_span(data);
    while (!cur_empty(&in)) {
        switch (hd->state) {
        case HTTP_DIR_START:
            start_feed(dl, hd, &in);
            break;
        case HTTP_DIR_HEADER:
            header_feed(dl, hd, &in);
            break;
        case HTTP_DIR_BODY: {
            size_t n = cur_remaining(&in);
            if ((uint64_t)n > hd->body_left)
                n = (size_t)hd->body_left;
            body_data(dl, hd, cur_view(&in, n));
            hd->body_left -= n;
            if (hd->body_left == 0)
                body_done(dl, hd);
            break;
        }
        case HTTP_DIR_CHUNKED: {
            byte_span_t piece;
            switch (http_chunked_step(&hd->chunk, &in, &piece)) {
            case HTTP_CHUNKED_DATA:
                body_data(dl, hd, piece);
                break;
            case HTTP_CHUNKED_DONE:
                body_done(dl, hd);
                break;
            case HTTP_CHUNKED_ERROR:
                lose_framing(dl, hd, false);
                break;
            case HTTP_CHUNKED_MORE:
                break;
            }
            break;
        }
        case HTTP_DIR_UNTIL_CLOSE:
            body_data(dl, hd, cur_rest(&in));
            break;
        case HTTP_DIR_RESYNC:
            resync_feed(dl, hd, &in);
            break;
        case HTTP_DIR_TUNNEL:
        case HTTP_DIR_GIVEN_UP:
            return;
        }
    }
}

/* ------------------------------------------------------------------ */
/* The connection                                                       */

static http_conn_t *conn_get(analysis_t *a, flow_t *flow)
{
    if (flow->http)
        return flow->http;
    /* A refusal is counted by the memory cap itself (stats: caps_hit). */
    if (!memcap_reserve(&a->memcap, NULL, sizeof(http_conn_t)))
        return NULL;
    http_conn_t *conn = g_new0(http_conn_t, 1);
    for (int d = 0; d < 2; d++)
        conn->dir[d].line_start = true;
    flow->http = conn;
    return conn;
}

void http_flow_data(analysis_t *a, flow_t *flow, int dir, bool from_client, byte_span_t data)
{
    (void)from_client; /* messages are told apart by their start lines */
    if (dir != DIR_TO_SERVER && dir != DIR_TO_CLIENT)
        return;
    http_conn_t *conn = conn_get(a, flow);
    if (!conn || data.len == 0)
        return;
    http_dir_t *hd = &conn->dir[dir];
    if (hd->state == HTTP_DIR_TUNNEL || hd->state == HTTP_DIR_GIVEN_UP)
        return;
    hd->last_at = a->packet;
    http_delivery_t dl = { a, flow, conn, dir };
    feed(&dl, data);
}

void http_flow_gap(analysis_t *a, flow_t *flow, int dir)
{
    if (dir != DIR_TO_SERVER && dir != DIR_TO_CLIENT)
        return;
    http_conn_t *conn = flow->http;
    if (!conn)
        return;
    http_dir_t *hd = &conn->dir[dir];
    http_delivery_t dl = { a, flow, conn, dir };
    hd->gaps++;
    switch (hd->state) {
    case HTTP_DIR_TUNNEL:
    case HTTP_DIR_GIVEN_UP:
        return;
    case HTTP_DIR_UNTIL_CLOSE:
        /* the body still ends with the connection */
        if (hd->ex)
            hd->ex->response_gap = true;
        return;
    case HTTP_DIR_HEADER: {
        /* A message whose header was cut: a response takes its request
         * with it; a request is remembered for the response it will get. */
        static const char status_prefix[] = "HTTP/";
        cursor_t c = cur_make(hd->hdr, hd->hdr_len);
        size_t n = cur_remaining(&c) < 5 ? cur_remaining(&c) : 5;
        bool like_status = n > 0;
        for (size_t i = 0; i < n; i++)
            like_status = like_status && cur_peek_u8(&c, i) == (uint8_t)status_prefix[i];
        bool response = like_status && n == 5;
        bool request = n > 0 && !like_status; /* too few bytes to tell: neither */
        if (response) {
            bool had;
            http_exchange_t *ex = pending_pop(conn, &had);
            if (ex) {
                ex->response_lost = true;
                ex_emit(&dl, ex, &a->packet);
                ex_unref(a, flow, ex);
            }
        } else if (request) {
            conn->requests_lost++;
        }
        break;
    }
    case HTTP_DIR_BODY:
    case HTTP_DIR_CHUNKED:
        if (hd->ex) {
            if (hd->body_is_request)
                hd->ex->request_gap = true;
            else
                hd->ex->response_gap = true;
        }
        break;
    case HTTP_DIR_START:
    case HTTP_DIR_RESYNC:
        break;
    }
    /* Not counted as a framing loss: the stream itself did nothing wrong. */
    drop_message(&dl, hd);
    hd->probe_len = 0;
    hd->line_start = true;
    hd->state = HTTP_DIR_RESYNC;
}

void http_flow_end(analysis_t *a, flow_t *flow)
{
    http_conn_t *conn = flow->http;
    if (!conn)
        return;
    http_delivery_t dl = { a, flow, conn, 0 };
    /* A response being read: complete when it ran up to the close. */
    for (int d = 0; d < 2; d++) {
        http_dir_t *hd = &conn->dir[d];
        dl.dir = d;
        http_exchange_t *ex = hd->ex;
        hd->ex = NULL;
        if (ex && !hd->body_is_request) {
            if (hd->state == HTTP_DIR_UNTIL_CLOSE)
                ex->response_complete = true;
            ex->response_at = hd->last_at;
            ex_emit(&dl, ex, &hd->last_at);
        }
        ex_unref(a, flow, ex);
        hdr_release(&dl, hd);
    }
    /* Requests that got no response. */
    bool had;
    http_exchange_t *ex;
    while ((ex = pending_pop(conn, &had)) != NULL || had) {
        if (!ex)
            continue;
        ex->no_response = true;
        ex->waited_ms = ms_between(ex->request_at.ts_us, flow->last_ts_us);
        ex_emit(&dl, ex, &flow->last_packet);
        ex_unref(a, flow, ex);
    }
    g_free(conn);
    memcap_release(&a->memcap, NULL, sizeof(http_conn_t));
    flow->http = NULL;
}
