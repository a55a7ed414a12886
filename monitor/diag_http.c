/* HTTP/PKI verdicts: what the AD CS web enrollment (certsrv, CES -> CA),
 * EST (CAPF -> CES) and SCEP exchanges show (failures.md).
 *
 *   CA_LOGIN_TIMEOUT, CA_REQUEST_TIMEOUT, EST_ENROLL_FAILED (no answer):
 *       a deadline of response_timeout_s is armed when a request is
 *       complete (diagnosis_http_request) and disarmed by its exchange; see
 *       "Requests without an answer" below.
 *   CA_AUTH_FAILED: a certsrv request carrying credentials answered 401
 *       where the 401 is not the next step of an NTLM/Negotiate handshake.
 *   TEMPLATE_REJECTED: certfnsh.asp answered with a denial; or an EST
 *       simpleenroll answered 401 while that CES's login to the CA worked.
 *   EST_ENROLL_FAILED: simpleenroll/simplereenroll answered non-2xx.
 *   CSR_CERT_KEY_MISMATCH: the certificate's key is not the CSR's.
 *   SCEP_NO_SHADOW_CA: GetNextCACert answered 404.
 *   ENROLLMENT_OK: certnew.cer 200 with a certificate, EST 200 with one.
 *
 * Who an exchange concerns (failures.md, "the actors"): the CSR's subject
 * CN; else the device known for the CSR's or the certificate's key; else
 * (certsrv) the device its ReqID was submitted for; else the device of the
 * latest request of the previous leg in the link window (EST: the latest
 * CAPF request; certsrv: the latest EST enrollment through the CES that is
 * this connection's client).  What is found becomes the connection's
 * device, which later exchanges on it inherit; without any, the verdict
 * names the client's address.  EST and certsrv submission requests are
 * read as soon as they are complete (not only when answered), so that the
 * CES -> CA leg, which runs while the EST request waits, knows its device.
 */
#include "diag_internal.h"
#include "http_flow.h"

#include <string.h>

/* A client that closes this close to the timeout gave up on its own timer
 * (it may start it before the request is on the wire): at most 1 s, a tenth
 * of the timeout. */
#define GIVE_UP_SLACK_MAX_US ((int64_t)1000000)

static int64_t timeout_us(const diagnosis_t *d)
{
    return (int64_t)d->config.response_timeout_s * 1000000;
}

static int64_t give_up_slack_us(const diagnosis_t *d)
{
    int64_t slack = timeout_us(d) / 10;
    return slack < GIVE_UP_SLACK_MAX_US ? slack : GIVE_UP_SLACK_MAX_US;
}

static int64_t link_window_us(const diagnosis_t *d)
{
    return (int64_t)d->config.link_window_s * 1000000;
}

static bool is_est_enroll(int kind, int step)
{
    return kind == PKI_EST &&
           (step == PKI_STEP_EST_SIMPLEENROLL || step == PKI_STEP_EST_SIMPLEREENROLL);
}

/* Requests whose answer is waited for: every certsrv request, EST enrollments. */
static bool waits_for_answer(const http_exchange_t *ex)
{
    return ex->pki_kind == PKI_CERTSRV || is_est_enroll(ex->pki_kind, ex->pki_step);
}

/* "GET /certsrv", the URI cut for a summary. */
#define URI_IN_SUMMARY 160

static bool status_ok(int status)
{
    return status >= 200 && status < 400;
}

/* ------------------------------------------------------------------ */
/* Who the exchange concerns                                            */

static bool copy_device(const char *device, char *out, size_t len)
{
    if (!device || !*device)
        return false;
    g_strlcpy(out, device, len);
    return true;
}

/* The device an exchange concerns, by the order in the header comment but
 * the connection's own (left to diag_verdict_for_flow); false when none.
 * p: the PKI record (NULL when not dissected). */
static bool find_device(diagnosis_t *d, const flow_t *flow, const http_exchange_t *ex,
                        const pki_record_t *p, int64_t ts_us, char *out, size_t len)
{
    if (p && p->has_csr && diag_cn_of_subject(p->csr_subject, out, len) && *out)
        return true;
    if (p && copy_device(diag_parties_device_by_key(d, p->csr_modulus_md5), out, len))
        return true;
    if (copy_device(diag_parties_device_by_key(d, ex->csr_modulus_md5), out, len))
        return true;
    if (p && p->has_certificate &&
        copy_device(diag_parties_device_by_key(d, p->certificate.modulus_md5), out, len))
        return true;
    if (copy_device(diag_parties_device_by_key(d, ex->cert_modulus_md5), out, len))
        return true;
    if (ex->pki_kind == PKI_CERTSRV && p && p->req_id > 0 &&
        copy_device(diag_parties_device_by_req_id(d, &flow->server.addr, p->req_id), out, len))
        return true;
    if (ex->pki_kind == PKI_EST)
        return copy_device(diag_parties_recent_capf_device(d, ts_us), out, len);
    if (ex->pki_kind == PKI_CERTSRV)
        return copy_device(diag_parties_recent_est_device(d, &flow->client.addr, ts_us), out, len);
    return false;
}

/* Finds the device, tells the parties what the exchange showed of it, and
 * makes it the connection's device. */
static void learn_device(diagnosis_t *d, const flow_t *flow, diag_flow_t *df,
                         const http_exchange_t *ex, const pki_record_t *p, int64_t ts_us)
{
    char device[VERDICT_DEVICE_MAX];
    if (!find_device(d, flow, ex, p, ts_us, device, sizeof(device)))
        return;
    if (p && p->has_csr)
        diag_parties_note_key(d, p->csr_modulus_md5, device, ts_us);
    if (p && p->has_certificate && p->certificate.parsed)
        diag_parties_note_key(d, p->certificate.modulus_md5, device, ts_us);
    /* the CSR submitted earlier on the connection, the certificate fetched */
    diag_parties_note_key(d, ex->csr_modulus_md5, device, ts_us);
    diag_parties_note_key(d, ex->cert_modulus_md5, device, ts_us);
    if (ex->pki_kind == PKI_CERTSRV && p && p->req_id > 0)
        diag_parties_note_req_id(d, &flow->server.addr, p->req_id, device);
    if (is_est_enroll(ex->pki_kind, ex->pki_step))
        diag_parties_note_est(d, device, &flow->server.addr, ts_us);
    if (df)
        g_strlcpy(df->device, device, sizeof(df->device));
}

/* The Host a PKI request names, without its port, is a name enrollment
 * parties use (DNS_NXDOMAIN for it matters).  Address literals are not. */
static void note_host(diagnosis_t *d, const http_exchange_t *ex)
{
    if (!ex->has_host || !ex->host[0] || ex->host[0] == '[')
        return;
    char name[HTTP_TEXT_MAX];
    g_strlcpy(name, ex->host, sizeof(name));
    char *colon = strchr(name, ':');
    if (colon)
        *colon = '\0';
    if (!*name || strspn(name, "0123456789.") == strlen(name))
        return;
    diag_parties_note_name(d, name);
}

/* The CSR of a request read before its answer: EST enrollments and certsrv
 * submissions carry it in the body the HTTP layer keeps (read only here;
 * pki_dissect parses it, as it will again when the exchange completes). */
static bool request_pki(diagnosis_t *d, const http_exchange_t *ex, pki_record_t *out)
{
    if (!ex->body[0] || !ex->body_len[0])
        return false;
    if (!is_est_enroll(ex->pki_kind, ex->pki_step) &&
        !(ex->pki_kind == PKI_CERTSRV && ex->pki_step == PKI_STEP_SUBMISSION))
        return false;
    byte_span_t req = { ex->body[0], ex->body_len[0] };
    byte_span_t none = { NULL, 0 };
    memset(out, 0, sizeof(*out));
    pki_dissect(ex->method, ex->uri, ex->has_request_content_type ? ex->request_content_type : NULL,
                req, ex->request_truncated, 0, NULL, none, false, d->a->patterns, out);
    return true;
}

/* ------------------------------------------------------------------ */
/* Verdicts                                                             */

/* A verdict about an exchange: who, where, the request and response frames. */
static void exchange_verdict(diagnosis_t *d, verdict_t *v, verdict_id_t id, const flow_t *flow,
                             const http_exchange_t *ex, const packet_info_t *at)
{
    verdict_init(v, id, at);
    diag_verdict_for_flow(d, v, flow);
    verdict_add_evidence(v, ex->request_first.pcap_cnt);
    verdict_add_evidence(v, ex->response_first.pcap_cnt);
    if (ex->response_complete)
        verdict_add_evidence(v, ex->response_at.pcap_cnt);
    verdict_fact_text(v, "uri", ex->uri);
    if (ex->has_response)
        verdict_fact_number(v, "status", ex->status);
    if (ex->pki_dissected && ex->pki.req_id > 0)
        verdict_fact_number(v, "req_id", ex->pki.req_id);
}

/* Another connection's state made by this file, or NULL. */
static diag_flow_t *http_flow_state(gpointer value)
{
    diag_flow_t *df = value;
    return df && df->http.flow ? df : NULL;
}

/* A certsrv login that worked from `client` (to `server` when given) within
 * the link window around ts_us, on a connection still followed: the
 * connection's state, or NULL. */
static diag_flow_t *login_from(diagnosis_t *d, const ip_addr_t *client, const ip_addr_t *server,
                               uint64_t except_flow, int64_t ts_us)
{
    GHashTableIter it;
    gpointer key, value;
    diag_flow_t *best = NULL;
    g_hash_table_iter_init(&it, d->flows);
    while (g_hash_table_iter_next(&it, &key, &value)) {
        diag_flow_t *df = http_flow_state(value);
        if (!df || df->flow_id == except_flow || !df->http.login_succeeded)
            continue;
        const flow_t *f = df->http.flow;
        if (ip_addr_compare(&f->client.addr, client) != 0)
            continue;
        if (server && ip_addr_compare(&f->server.addr, server) != 0)
            continue;
        int64_t gap = ts_us > df->http.login_us ? ts_us - df->http.login_us : df->http.login_us - ts_us;
        if (gap > link_window_us(d))
            continue;
        if (!best || df->http.login_us > best->http.login_us)
            best = df;
    }
    return best;
}

/* ---- requests without an answer ---- */

/* The certsrv login step timing out is CA_LOGIN_TIMEOUT unless a login
 * already worked on the connection or from the same client to the same CA
 * (a new authentication in the middle of an enrollment).  df may be NULL. */
static verdict_id_t timeout_id(diagnosis_t *d, const diag_flow_t *df, const diag_http_waiting_t *w,
                               const flow_t *flow)
{
    if (w->pki_kind == PKI_EST)
        return V_EST_ENROLL_FAILED;
    if (w->pki_step != PKI_STEP_LOGIN)
        return V_CA_REQUEST_TIMEOUT;
    if (df && df->http.login_succeeded && df->http.login_us <= w->sent_us)
        return V_CA_REQUEST_TIMEOUT;
    diag_flow_t *other = login_from(d, &flow->client.addr, &flow->server.addr, flow->id, w->sent_us);
    if (other && other->http.login_us <= w->sent_us)
        return V_CA_REQUEST_TIMEOUT;
    return V_CA_LOGIN_TIMEOUT;
}

/* What the request was, for summaries: "GET /certsrv". */
static void request_text(const http_exchange_t *ex, const diag_http_waiting_t *w, char *out,
                         size_t len)
{
    if (ex) {
        g_snprintf(out, len, "%s %.*s", ex->method, URI_IN_SUMMARY, ex->uri);
        return;
    }
    const char *what = "request";
    if (w->pki_kind == PKI_EST)
        what = w->pki_step == PKI_STEP_EST_SIMPLEREENROLL ? "POST /.well-known/est/simplereenroll"
                                                           : "POST /.well-known/est/simpleenroll";
    else if (w->pki_step == PKI_STEP_LOGIN)
        what = "GET /certsrv";
    else
        what = pki_step_name((pki_step_t)w->pki_step);
    g_strlcpy(out, what ? what : "request", len);
}

/* A request left without an answer for the timeout: the verdict of its
 * kind.  ex: the exchange when it is at hand (the connection ended), else
 * NULL (the deadline passed). */
static void timeout_verdict(diagnosis_t *d, const flow_t *flow, const diag_flow_t *df,
                            const diag_http_waiting_t *w, const http_exchange_t *ex,
                            int64_t waited_us, const packet_info_t *at)
{
    verdict_id_t id = timeout_id(d, df, w, flow);
    verdict_t v;
    verdict_init(&v, id, at);
    diag_verdict_for_flow(d, &v, flow);
    verdict_add_evidence(&v, w->frame);
    verdict_add_evidence(&v, w->complete_frame);
    if (flow->closed_by >= 0 && flow->closed_at.ts_us >= w->sent_us)
        verdict_add_evidence(&v, flow->closed_at.pcap_cnt);
    if (id == V_CA_REQUEST_TIMEOUT && df && df->http.login_succeeded)
        verdict_add_evidence(&v, df->http.login_frame); /* the login that worked */
    char req[URI_IN_SUMMARY + 32];
    request_text(ex, w, req, sizeof(req));
    int64_t waited_ms = waited_us / 1000;
    unsigned limit = d->config.response_timeout_s;
    if (id == V_EST_ENROLL_FAILED)
        verdict_set_summary(&v,
                            "EST enrollment for %s: %s to CES %s got no answer within %u s "
                            "(%" G_GINT64_FORMAT " ms; CAPF logs rv = 35 EST_ERR_SSL_READ)",
                            v.device, req, v.server, limit, waited_ms);
    else if (id == V_CA_LOGIN_TIMEOUT)
        verdict_set_summary(&v,
                            "CA login for %s not answered: %s to %s got no response within %u s "
                            "(%" G_GINT64_FORMAT " ms)",
                            v.device, req, v.server, limit, waited_ms);
    else
        verdict_set_summary(&v,
                            "CA request for %s not answered after a successful login: %s to %s got "
                            "no response within %u s (%" G_GINT64_FORMAT " ms)",
                            v.device, req, v.server, limit, waited_ms);
    if (ex)
        verdict_fact_text(&v, "uri", ex->uri);
    else
        verdict_fact_text(&v, "step", pki_step_name((pki_step_t)w->pki_step));
    verdict_fact_number(&v, "waited_ms", waited_ms);
    verdict_fact_number(&v, "timeout_s", limit);
    diag_emit(d, &v);
}

/* A request without an answer that is not a timeout: the capture ended
 * first, or the connection ended before the timeout. */
static void not_seen_verdict(diagnosis_t *d, const flow_t *flow, const diag_http_waiting_t *w,
                             const http_exchange_t *ex, int64_t waited_us, const char *how,
                             bool capture_end, const packet_info_t *at)
{
    verdict_t v;
    verdict_init(&v, V_RESPONSE_NOT_SEEN, at);
    diag_verdict_for_flow(d, &v, flow);
    verdict_add_evidence(&v, w->frame);
    verdict_add_evidence(&v, w->complete_frame);
    if (flow->closed_by >= 0 && flow->closed_at.ts_us >= w->sent_us)
        verdict_add_evidence(&v, flow->closed_at.pcap_cnt);
    char req[URI_IN_SUMMARY + 32];
    request_text(ex, w, req, sizeof(req));
    int64_t waited_ms = waited_us / 1000;
    verdict_set_summary(&v,
                        "%s for %s to %s: no answer seen, %s %" G_GINT64_FORMAT
                        " ms after the request (under the %u s a client waits)",
                        req, v.device, v.server, how, waited_ms, d->config.response_timeout_s);
    if (!capture_end)
        g_strlcpy(v.advice,
                  "The connection ended before an answer and before the client's timeout: see "
                  "which side closed it, and the server's log at that time.",
                  sizeof(v.advice));
    if (ex)
        verdict_fact_text(&v, "uri", ex->uri);
    else
        verdict_fact_text(&v, "step", pki_step_name((pki_step_t)w->pki_step));
    verdict_fact_number(&v, "waited_ms", waited_ms);
    diag_emit(d, &v);
}

static diag_http_waiting_t *waiting_find(diag_flow_t *df, uint64_t seq)
{
    if (!df || !seq)
        return NULL;
    for (int i = 0; i < DIAG_HTTP_WAITING_MAX; i++)
        if (df->http.waiting[i].armed && df->http.waiting[i].exchange_seq == seq)
            return &df->http.waiting[i];
    return NULL;
}

/* A free slot, else the oldest one (whose deadline is then not followed:
 * only a client with more than DIAG_HTTP_WAITING_MAX requests in flight). */
static diag_http_waiting_t *waiting_slot(diag_flow_t *df)
{
    diag_http_waiting_t *oldest = &df->http.waiting[0];
    for (int i = 0; i < DIAG_HTTP_WAITING_MAX; i++) {
        diag_http_waiting_t *w = &df->http.waiting[i];
        if (!w->armed)
            return w;
        if (w->sent_us < oldest->sent_us)
            oldest = w;
    }
    return oldest;
}

/* Whether the server sent HTTP bytes after the request was complete: an
 * answer has begun (the exchange that completes it will tell). */
static bool answer_begun(const flow_t *flow, const diag_http_waiting_t *w)
{
    const http_conn_t *conn = http_flow_conn(flow);
    if (!conn)
        return false;
    const packet_info_t *last = &conn->dir[DIR_TO_CLIENT].last_at;
    if (!last->pcap_cnt)
        return false;
    return last->ts_us > w->sent_us ||
           (last->ts_us == w->sent_us && last->pcap_cnt > w->complete_frame);
}

/* Whether the connection was closed (first FIN or RST) after the request
 * and before t_us. */
static bool closed_before(const flow_t *flow, const diag_http_waiting_t *w, int64_t t_us)
{
    return flow->closed_by >= 0 && flow->closed_at.ts_us >= w->sent_us &&
           flow->closed_at.ts_us < t_us;
}

/* The exchange of a request still waiting on the connection (the HTTP
 * layer's queue), for its method and URI; NULL when not at hand. */
static const http_exchange_t *waiting_exchange(const flow_t *flow, uint64_t seq)
{
    const http_conn_t *conn = http_flow_conn(flow);
    if (!conn)
        return NULL;
    for (unsigned i = 0; i < conn->pending_count; i++) {
        const http_exchange_t *ex = conn->pending[(conn->pending_head + i) % HTTP_MAX_PENDING];
        if (ex && ex->seq == seq)
            return ex;
    }
    return NULL;
}

void diag_http_timer(diagnosis_t *d, const diag_timer_t *t)
{
    diag_flow_t *df = diag_flow_find(d, t->key);
    if (!df || !df->http.flow)
        return;
    diag_http_waiting_t *w = waiting_find(df, t->key2);
    if (!w || w->concluded || w->deadline_us != t->deadline_us)
        return;
    const flow_t *flow = df->http.flow;
    /* An answer under way, or a connection closed first: the exchange,
     * when it comes, says what happened (diagnosis_http). */
    if (answer_begun(flow, w) || closed_before(flow, w, w->deadline_us))
        return;
    int64_t waited_us = d->now_us - w->sent_us;
    const http_exchange_t *ex = waiting_exchange(flow, w->exchange_seq);
    if (d->finishing && waited_us < timeout_us(d)) {
        /* The capture ended before the deadline: not known to have failed. */
        not_seen_verdict(d, flow, w, ex, waited_us, "the capture ended", true, &d->now_at);
    } else {
        timeout_verdict(d, flow, df, w, ex, waited_us, &d->now_at);
    }
    w->concluded = true;
}

/* Requests without an answer, as the connection ends (ex->no_response)
 * with its deadline not concluded: either the deadline has not come (the
 * connection was retired first) or the connection closed before it.
 *
 * The wait is up to the first FIN/RST after the request when there was
 * one, else up to now (the connection idled out, was evicted, or the
 * capture ended).  A wait of the timeout (less a client's slack) is the
 * timeout verdict, whoever closed: at that point it is the client's timer
 * (CES closes at 10 s); servers keep a pending request far longer.  A
 * shorter wait is not a timeout: RESPONSE_NOT_SEEN, saying who closed the
 * connection (the client gave up early, or the server closed without an
 * answer) or that the capture ended. */
static void unanswered(diagnosis_t *d, const flow_t *flow, diag_flow_t *df, diag_http_waiting_t *w,
                       const http_exchange_t *ex, const packet_info_t *at)
{
    diag_http_waiting_t own;
    if (!w) {
        /* not armed (no memory for the state, or a slot taken over) */
        memset(&own, 0, sizeof(own));
        own.exchange_seq = ex->seq;
        own.sent_us = ex->request_at.ts_us;
        own.frame = ex->request_first.pcap_cnt;
        own.complete_frame = ex->request_at.pcap_cnt;
        own.pki_kind = (uint8_t)ex->pki_kind;
        own.pki_step = (uint8_t)ex->pki_step;
        w = &own;
    }
    bool closed = flow->closed_by >= 0 && flow->closed_at.ts_us >= w->sent_us;
    int64_t end_us;
    if (closed) {
        end_us = flow->closed_at.ts_us;
    } else {
        end_us = d->now_us > d->a->packet.ts_us ? d->now_us : d->a->packet.ts_us;
        if (ex->waited_ms > 0 && w->sent_us + ex->waited_ms * 1000 > end_us)
            end_us = w->sent_us + ex->waited_ms * 1000;
    }
    int64_t waited_us = end_us > w->sent_us ? end_us - w->sent_us : 0;
    if (waited_us >= timeout_us(d) - give_up_slack_us(d)) {
        timeout_verdict(d, flow, df, w, ex, waited_us, closed ? &flow->closed_at : at);
        return;
    }
    const char *how;
    bool capture_end = false;
    if (closed) {
        bool by_client = flow->closed_by == DIR_TO_SERVER;
        how = by_client ? (flow->closed_by_rst ? "the client reset the connection"
                                               : "the client closed the connection")
                        : (flow->closed_by_rst ? "the server reset the connection"
                                               : "the server closed the connection");
    } else if (ex->queue_overflow) {
        how = "too many requests were waiting on the connection to follow it";
    } else if (d->finishing) {
        how = "the capture ended";
        capture_end = true;
    } else {
        how = "the connection was no longer followed";
    }
    not_seen_verdict(d, flow, w, ex, waited_us, how, capture_end, closed ? &flow->closed_at : at);
}

/* ---- the answers ---- */

/* CA_AUTH_FAILED: a certsrv request with credentials answered 401 where the
 * 401 is not the next step of the handshake: an NTLM NEGOTIATE (type 1),
 * or a Negotiate token that is not NTLM (Kerberos), answered by a challenge
 * that carries a token is the handshake going on; a 401 answering an NTLM
 * AUTHENTICATE (type 3), Basic or Digest credentials, or anything answered
 * by a bare challenge is a refusal. */
static bool auth_refused(const http_exchange_t *ex)
{
    if (ex->pki_kind != PKI_CERTSRV || ex->status != 401 || ex->authorization == HTTP_AUTH_NONE)
        return false;
    bool handshake = ex->authorization == HTTP_AUTH_NTLM || ex->authorization == HTTP_AUTH_NEGOTIATE;
    if (handshake && ex->authorization_ntlm_type != HTTP_NTLM_AUTHENTICATE &&
        ex->www_authenticate_token)
        return false;
    return true;
}

static const char *ntlm_step_text(uint8_t type)
{
    switch (type) {
    case HTTP_NTLM_NEGOTIATE: return " (NTLM NEGOTIATE)";
    case HTTP_NTLM_CHALLENGE: return " (NTLM CHALLENGE)";
    case HTTP_NTLM_AUTHENTICATE: return " (NTLM AUTHENTICATE)";
    default: return "";
    }
}

static void auth_failed(diagnosis_t *d, const flow_t *flow, const diag_flow_t *df,
                        const http_exchange_t *ex, const packet_info_t *at)
{
    verdict_t v;
    exchange_verdict(d, &v, V_CA_AUTH_FAILED, flow, ex, at);
    if (df && df->http.challenge_frame && df->http.challenge_frame < ex->request_first.pcap_cnt)
        verdict_add_evidence(&v, df->http.challenge_frame);
    const char *scheme = http_auth_scheme_name(ex->authorization);
    verdict_set_summary(&v,
                        "CA %s refused the credentials of %s: %s %.*s with %s credentials%s "
                        "answered %d%s%s",
                        v.server, v.device, ex->method, URI_IN_SUMMARY, ex->uri, scheme,
                        ntlm_step_text(ex->authorization_ntlm_type), ex->status,
                        ex->reason[0] ? " " : "", ex->reason);
    verdict_fact_text(&v, "auth", scheme);
    diag_emit(d, &v);
}

static void template_denied(diagnosis_t *d, const flow_t *flow, const http_exchange_t *ex,
                            const packet_info_t *at)
{
    const pki_record_t *p = &ex->pki;
    verdict_t v;
    exchange_verdict(d, &v, V_TEMPLATE_REJECTED, flow, ex, at);
    verdict_set_summary(&v,
                        "CA %s denied the certificate request for %s (template %s): %s %.*s "
                        "answered %d with \"%.200s\"%s%s",
                        v.server, v.device, p->template_name[0] ? p->template_name : "not seen",
                        ex->method, URI_IN_SUMMARY, ex->uri, ex->status,
                        p->outcome_message[0] ? p->outcome_message : "a denial",
                        p->disposition[0] ? ", disposition " : "", p->disposition);
    if (p->template_name[0])
        verdict_fact_text(&v, "template", p->template_name);
    if (p->disposition[0])
        verdict_fact_text(&v, "disposition", p->disposition);
    if (p->outcome_message[0])
        verdict_fact_text(&v, "message", p->outcome_message);
    if (p->csr_modulus_md5[0])
        verdict_fact_text(&v, "csr_modulus_md5", p->csr_modulus_md5);
    diag_emit(d, &v);
}

/* EST simpleenroll/simplereenroll answered non-2xx.  A 401 while the CES's
 * own login to the CA worked (and the CA delivered nothing on that
 * connection) is the CA refusing the template: TEMPLATE_REJECTED. */
static void est_failed(diagnosis_t *d, const flow_t *flow, const http_exchange_t *ex,
                       const packet_info_t *at)
{
    diag_flow_t *login = NULL;
    if (ex->status == 401) {
        int64_t ts = ex->response_first.ts_us ? ex->response_first.ts_us : at->ts_us;
        login = login_from(d, &flow->server.addr, NULL, flow->id, ts);
        if (login && login->http.issued_us)
            login = NULL;
    }
    verdict_t v;
    char step[24];
    g_strlcpy(step, ex->pki_step == PKI_STEP_EST_SIMPLEREENROLL ? "simplereenroll" : "simpleenroll",
              sizeof(step));
    if (login) {
        exchange_verdict(d, &v, V_TEMPLATE_REJECTED, flow, ex, at);
        verdict_add_evidence(&v, login->http.login_frame);
        verdict_add_flow(&v, login->flow_id);
        char ca[VERDICT_ENDPOINT_MAX];
        diag_format_endpoint(&login->http.flow->server, ca, sizeof(ca));
        verdict_set_summary(&v,
                            "CES %s answered the EST %s for %s with 401 although its login to the "
                            "CA %s worked: the CA refused the certificate template or the "
                            "account's right to enroll with it",
                            v.server, step, v.device, ca);
        verdict_fact_text(&v, "ca", ca);
    } else {
        exchange_verdict(d, &v, V_EST_ENROLL_FAILED, flow, ex, at);
        verdict_set_summary(&v, "EST %s for %s: %s %.*s to CES %s answered %d%s%s%s", step,
                            v.device, ex->method, URI_IN_SUMMARY, ex->uri, v.server, ex->status,
                            ex->reason[0] ? " " : "", ex->reason,
                            ex->status == 401 ? " (CAPF logs EST_ERR_AUTH_FAIL)" : "");
    }
    diag_emit(d, &v);
}

static void key_mismatch(diagnosis_t *d, const flow_t *flow, const diag_flow_t *df,
                         const http_exchange_t *ex, const packet_info_t *at)
{
    verdict_t v;
    exchange_verdict(d, &v, V_CSR_CERT_KEY_MISMATCH, flow, ex, at);
    if (ex->csr_from_earlier && df && df->http.submission_frame)
        verdict_add_evidence(&v, df->http.submission_frame);
    verdict_set_summary(&v,
                        "the certificate %s returned for %s (%s %.*s, %d) was not made from its "
                        "CSR: CSR modulus MD5 %s, certificate modulus MD5 %s (as `openssl req "
                        "-noout -modulus | openssl md5` and `openssl x509 -noout -modulus | "
                        "openssl md5` print them)",
                        v.server, v.device, ex->method, URI_IN_SUMMARY, ex->uri, ex->status,
                        ex->csr_modulus_md5, ex->cert_modulus_md5);
    verdict_fact_text(&v, "csr_modulus_md5", ex->csr_modulus_md5);
    verdict_fact_text(&v, "cert_modulus_md5", ex->cert_modulus_md5);
    diag_emit(d, &v);
}

static void no_shadow_ca(diagnosis_t *d, const flow_t *flow, const http_exchange_t *ex,
                         const packet_info_t *at)
{
    verdict_t v;
    exchange_verdict(d, &v, V_SCEP_NO_SHADOW_CA, flow, ex, at);
    verdict_set_summary(&v,
                        "SCEP CA %s has no rollover certificate: %s %.*s from %s answered %d%s%s",
                        v.server, ex->method, URI_IN_SUMMARY, ex->uri, v.device, ex->status,
                        ex->reason[0] ? " " : "", ex->reason);
    diag_emit(d, &v);
}

static void delivered(diagnosis_t *d, const flow_t *flow, diag_flow_t *df,
                      const http_exchange_t *ex, const packet_info_t *at)
{
    const pki_record_t *p = &ex->pki;
    if (df)
        df->http.issued_us = at->ts_us;
    verdict_t v;
    exchange_verdict(d, &v, V_ENROLLMENT_OK, flow, ex, at);
    const cert_info_t *cert = p->has_certificate ? &p->certificate
                              : p->chain_count     ? &p->chain[0]
                                                   : NULL;
    const char *cn = cert && cert->parsed && cert->subject_cn ? cert->subject_cn : NULL;
    bool cn_differs = cn && strcmp(cn, v.device) != 0;
    verdict_set_summary(&v, "%s %s delivered the certificate of %s%s%s%s: %s %.*s answered %d",
                        ex->pki_kind == PKI_EST ? "CES" : "CA", v.server, v.device,
                        cn_differs ? " (subject CN " : "", cn_differs ? cn : "",
                        cn_differs ? ")" : "", ex->method, URI_IN_SUMMARY, ex->uri, ex->status);
    if (cert && cert->parsed && cert->serial)
        verdict_fact_text(&v, "serial", cert->serial);
    if (ex->cert_modulus_md5[0])
        verdict_fact_text(&v, "cert_modulus_md5", ex->cert_modulus_md5);
    diag_emit(d, &v);
}

/* ------------------------------------------------------------------ */
/* The records                                                          */

void diagnosis_http_request(diagnosis_t *d, const flow_t *flow, const http_exchange_t *ex,
                       const packet_info_t *at)
{
    if (!ex->has_request || ex->pki_kind == PKI_NONE)
        return;
    note_host(d, ex);
    if (!waits_for_answer(ex) || !ex->seq)
        return;
    diag_flow_t *df = diag_flow(d, flow);
    if (!df)
        return;
    df->http.flow = flow;
    pki_record_t early;
    bool have = request_pki(d, ex, &early);
    learn_device(d, flow, df, ex, have ? &early : NULL, at->ts_us);
    if (have)
        pki_record_clear(&early);

    diag_http_waiting_t *w = waiting_slot(df);
    memset(w, 0, sizeof(*w));
    w->exchange_seq = ex->seq;
    w->sent_us = at->ts_us;
    w->deadline_us = at->ts_us + timeout_us(d);
    w->frame = ex->request_first.pcap_cnt ? ex->request_first.pcap_cnt : at->pcap_cnt;
    w->complete_frame = at->pcap_cnt;
    w->pki_kind = (uint8_t)ex->pki_kind;
    w->pki_step = (uint8_t)ex->pki_step;
    w->armed = true;
    diag_timer_add(d, w->deadline_us, DIAG_TIMER_HTTP_RESPONSE, flow->id, ex->seq);
}

void diagnosis_http(diagnosis_t *d, const flow_t *flow, const http_exchange_t *ex,
                        const packet_info_t *at)
{
    if (!ex->has_request || ex->pki_kind == PKI_NONE)
        return;
    diag_flow_t *df = diag_flow(d, flow); /* NULL when the memory cap refuses: rules still run */
    if (df)
        df->http.flow = flow;
    const pki_record_t *p = ex->pki_dissected ? &ex->pki : NULL;
    learn_device(d, flow, df, ex, p, at->ts_us);

    diag_http_waiting_t *w = waiting_find(df, ex->seq);
    if (ex->no_response) {
        /* A request the HTTP layer never saw complete was not waited for. */
        if ((w && !w->concluded) || (!w && ex->request_complete && waits_for_answer(ex)))
            unanswered(d, flow, df, w, ex, at);
        if (w)
            w->armed = false;
        return;
    }
    if (w)
        w->armed = false; /* answered (or its answer lost in a gap): nothing to wait for */
    if (!ex->has_response)
        return;

    if (df) {
        if (ex->status == 401 && ex->www_authenticate_token)
            df->http.challenge_frame = ex->response_first.pcap_cnt;
        if (ex->pki_kind == PKI_CERTSRV && status_ok(ex->status) && !df->http.login_succeeded) {
            df->http.login_succeeded = true;
            df->http.login_us = ex->response_first.ts_us ? ex->response_first.ts_us : at->ts_us;
            df->http.login_frame = ex->response_first.pcap_cnt;
        }
        if (p && p->kind == PKI_CERTSRV && p->step == PKI_STEP_SUBMISSION && p->has_csr)
            df->http.submission_frame = ex->request_first.pcap_cnt;
    }

    bool mismatch = ex->cert_match_known && !ex->cert_matches_csr;
    if (auth_refused(ex))
        auth_failed(d, flow, df, ex, at);
    if (p && p->kind == PKI_CERTSRV && p->step == PKI_STEP_SUBMISSION &&
        p->outcome == PKI_OUTCOME_DENIED)
        template_denied(d, flow, ex, at);
    if (is_est_enroll(ex->pki_kind, ex->pki_step) && (ex->status < 200 || ex->status >= 300))
        est_failed(d, flow, ex, at);
    if (mismatch)
        key_mismatch(d, flow, df, ex, at);
    if (ex->pki_kind == PKI_SCEP && ex->pki_step == PKI_STEP_SCEP_GETNEXTCACERT && ex->status == 404)
        no_shadow_ca(d, flow, ex, at);
    if (!mismatch && p && ex->status == 200 &&
        ((p->kind == PKI_CERTSRV && p->step == PKI_STEP_CERT_RETRIEVAL && p->has_certificate) ||
         (is_est_enroll(p->kind, p->step) && (p->has_certificate || p->chain_count > 0))))
        delivered(d, flow, df, ex, at);
}
