/* Unit tests for the HTTP/PKI verdict rules (monitor/diag_http.c): records
 * made by hand (http_exchange_t with its PKI record) go through the
 * diagnosis entry points (diagnosis_http_request, diagnosis_http,
 * diagnosis_tick, diagnosis_input_ended, diagnosis_flow_end) and the
 * verdicts are read from a sink.  Covered: the response deadlines (login,
 * request after a login, EST) fired by packet time, at the end of the
 * capture, and when the connection ends first; the NTLM/Negotiate dance
 * against a refused login; template denials (certsrv, and EST 401 while the
 * CES's login worked); EST failures; key mismatch; SCEP without a shadow
 * CA; deliveries; naming the device across CAPF -> EST -> certsrv; memory.
 */
#include "monitor/diag_internal.h"
#include "monitor/diagnosis.h"
#include "monitor/http_flow.h"
#include "monitor/verdict.h"
#include "verdict_sink.h"

#include <glib.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <string.h>

#define T0 ((int64_t)1700000000 * 1000000)
#define MS ((int64_t)1000)
#define SEC ((int64_t)1000000)

/* ------------------------------------------------------------------ */
/* Fixture: the diagnosis, and the flows and exchanges made for it     */

typedef struct fixture {
    diag_fixture_t diag;
    GPtrArray *flows;     /* flow_t*, freed at the end */
    GPtrArray *exchanges; /* http_exchange_t*, freed at the end */
} fixture_t;

static void fixture_init(fixture_t *f)
{
    diag_fixture_init(&f->diag);
    f->flows = g_ptr_array_new();
    f->exchanges = g_ptr_array_new();
}

static void fixture_destroy(fixture_t *f)
{
    for (guint i = 0; i < f->flows->len; i++)
        diagnosis_flow_end(f->diag.d, g_ptr_array_index(f->flows, i), FLOW_END_CLOSED);
    diag_fixture_destroy(&f->diag, NULL);
    for (guint i = 0; i < f->exchanges->len; i++) {
        http_exchange_t *ex = g_ptr_array_index(f->exchanges, i);
        g_free(ex->body[0]);
        g_free(ex);
    }
    g_ptr_array_free(f->exchanges, TRUE);
    for (guint i = 0; i < f->flows->len; i++)
        g_free(g_ptr_array_index(f->flows, i));
    g_ptr_array_free(f->flows, TRUE);
}

/* ---- flows ---- */

static flow_t *flow_add(fixture_t *f, uint64_t id, uint8_t client, uint8_t server, uint16_t port)
{
    flow_fixture_spec_t spec = { .id = id, .proto = IPPROTO_NUM_TCP, .client_ip = { 10, 0, 0, client },
                                 .client_port = (uint16_t)(40000 + id), .server_ip = { 10, 0, 0, server },
                                 .server_port = port };
    flow_t *flow = flow_fixture_flow_new(&spec);
    g_ptr_array_add(f->flows, flow);
    return flow;
}

/* A fresh fixture and its first flow, from 10.0.0.client to
 * 10.0.0.server:port. */
static flow_t *fixture_init_flow(fixture_t *f, uint8_t client, uint8_t server, uint16_t port)
{
    fixture_init(f);
    return flow_add(f, 1, client, server, port);
}

static void flow_close(flow_t *flow, int by, bool rst, int64_t ts_us, uint64_t frame)
{
    flow->closed_by = (int8_t)by;
    flow->closed_by_rst = rst;
    flow->closed_at = (packet_info_t){ ts_us, "t.pcap", frame };
}

/* Retires the flow now (its rule state goes). */
static void flow_retire(fixture_t *f, flow_t *flow)
{
    diagnosis_flow_end(f->diag.d, flow, FLOW_END_CLOSED);
    g_ptr_array_remove(f->flows, flow);
    g_free(flow);
}

/* ---- packet time ---- */

static packet_info_t packet(int64_t ts_us, uint64_t frame)
{
    return (packet_info_t){ ts_us, "t.pcap", frame };
}

/* A packet at ts: the analysis's packet and the diagnosis's clock. */
static void at_time(fixture_t *f, int64_t ts_us, uint64_t frame)
{
    f->diag.a.packet = packet(ts_us, frame);
    diagnosis_tick(f->diag.d, ts_us, &f->diag.a.packet);
}

/* ---- exchanges ---- */

static http_exchange_t *exchange(fixture_t *f, uint64_t seq, const char *method, const char *uri,
                                 pki_kind_t kind, pki_step_t step, int64_t ts_us, uint64_t frame)
{
    http_exchange_t *ex = g_new0(http_exchange_t, 1);
    g_ptr_array_add(f->exchanges, ex);
    ex->has_request = true;
    ex->seq = seq;
    g_strlcpy(ex->method, method, sizeof(ex->method));
    g_strlcpy(ex->uri, uri, sizeof(ex->uri));
    ex->request_version[0] = 1;
    ex->request_version[1] = 1;
    ex->request_complete = true;
    ex->request_first = packet(ts_us, frame);
    ex->request_at = packet(ts_us, frame);
    ex->response_ms = -1;
    ex->waited_ms = -1;
    ex->pki_kind = kind;
    ex->pki_step = step;
    ex->pki.req_id = -1;
    ex->pki.kind = kind;
    ex->pki.step = step;
    ex->pki_dissected = kind != PKI_NONE;
    return ex;
}

static http_exchange_t *certsrv(fixture_t *f, uint64_t seq, const char *method, const char *uri,
                                pki_step_t step, int64_t ts_us, uint64_t frame)
{
    return exchange(f, seq, method, uri, PKI_CERTSRV, step, ts_us, frame);
}

static http_exchange_t *est_enroll(fixture_t *f, uint64_t seq, int64_t ts_us, uint64_t frame)
{
    http_exchange_t *ex = exchange(f, seq, "POST", "/.well-known/est/simpleenroll", PKI_EST,
                                   PKI_STEP_EST_SIMPLEENROLL, ts_us, frame);
    ex->authorization = HTTP_AUTH_BASIC;
    return ex;
}

static void answer(http_exchange_t *ex, int status, int64_t ts_us, uint64_t frame)
{
    ex->has_response = true;
    ex->status = status;
    g_strlcpy(ex->reason, status == 401 ? "Unauthorized" : status == 404 ? "Not Found" : "OK",
              sizeof(ex->reason));
    ex->response_first = packet(ts_us, frame);
    ex->response_at = packet(ts_us, frame);
    ex->response_complete = true;
}

/* The request is complete (deadline armed). */
static void send_request(fixture_t *f, const flow_t *flow, http_exchange_t *ex)
{
    at_time(f, ex->request_at.ts_us, ex->request_at.pcap_cnt);
    diagnosis_http_request(f->diag.d, flow, ex, &ex->request_at);
}

/* The exchange is reported with its response. */
static void deliver(fixture_t *f, const flow_t *flow, http_exchange_t *ex)
{
    at_time(f, ex->response_at.ts_us, ex->response_at.pcap_cnt);
    diagnosis_http(f->diag.d, flow, ex, &ex->response_at);
}

/* A whole exchange: request, then its answer. */
static void round_trip(fixture_t *f, const flow_t *flow, http_exchange_t *ex, int status,
                       int64_t after_us, uint64_t frame)
{
    send_request(f, flow, ex);
    answer(ex, status, ex->request_at.ts_us + after_us, frame);
    deliver(f, flow, ex);
}

/* The connection ended with the request unanswered (http_flow_end). */
static void end_unanswered(fixture_t *f, flow_t *flow, http_exchange_t *ex, int64_t now_us,
                           uint64_t frame)
{
    f->diag.a.packet = packet(now_us, frame);
    int64_t last = flow->closed_by >= 0 ? flow->closed_at.ts_us : now_us;
    flow->last_ts_us = last;
    flow->last_packet = packet(last, frame);
    ex->no_response = true;
    ex->waited_ms = (last - ex->request_at.ts_us) / 1000;
    diagnosis_http(f->diag.d, flow, ex, &flow->last_packet);
}

/* A login to certsrv (GET /certsrv). */
static http_exchange_t *certsrv_login(fixture_t *f, uint64_t seq, int64_t ts_us, uint64_t frame)
{
    return certsrv(f, seq, "GET", "/certsrv", PKI_STEP_LOGIN, ts_us, frame);
}

/* ... with the NTLM message of that type (HTTP_NTLM_*) in Authorization. */
static http_exchange_t *ntlm_login(fixture_t *f, uint64_t seq, uint8_t ntlm_type, int64_t ts_us,
                                   uint64_t frame)
{
    http_exchange_t *ex = certsrv_login(f, seq, ts_us, frame);
    ex->authorization = HTTP_AUTH_NTLM;
    ex->authorization_ntlm_type = ntlm_type;
    return ex;
}

/* The answer: 401 with an NTLM token in WWW-Authenticate. */
static void ntlm_challenge(http_exchange_t *ex, int64_t ts_us, uint64_t frame)
{
    answer(ex, 401, ts_us, frame);
    ex->www_authenticate = HTTP_AUTH_NTLM;
    ex->www_authenticate_token = true;
}

/* A new connection from 10.0.0.client to the CA 10.0.0.server:443, its
 * login sent and waiting. */
static flow_t *login_waiting(fixture_t *f, uint64_t id, uint8_t client, uint8_t server, int64_t ts_us,
                             uint64_t frame)
{
    flow_t *flow = flow_add(f, id, client, server, 443);
    send_request(f, flow, certsrv_login(f, 1, ts_us, frame));
    return flow;
}

/* A certificate request submitted (POST certfnsh.asp) with a CSR of that
 * subject and key (csr_subject NULL: none read). */
static http_exchange_t *submission(fixture_t *f, uint64_t seq, const char *csr_subject, const char *csr_md5,
                                   int64_t ts_us, uint64_t frame)
{
    http_exchange_t *ex = certsrv(f, seq, "POST", "/certsrv/certfnsh.asp", PKI_STEP_SUBMISSION, ts_us, frame);
    if (csr_subject) {
        ex->pki.has_csr = true;
        g_strlcpy(ex->pki.csr_subject, csr_subject, sizeof(ex->pki.csr_subject));
        g_strlcpy(ex->pki.csr_modulus_md5, csr_md5, sizeof(ex->pki.csr_modulus_md5));
    }
    return ex;
}

/* The certificate of request req_id fetched (certnew.cer); cn: the
 * subject's CN once parsed (NULL: not parsed). */
static http_exchange_t *fetched_cert(fixture_t *f, uint64_t seq, long req_id, char *cn, int64_t ts_us,
                                     uint64_t frame)
{
    char uri[64];
    g_snprintf(uri, sizeof(uri), "/certsrv/certnew.cer?ReqID=%ld&Enc=b64", req_id);
    http_exchange_t *ex = certsrv(f, seq, "GET", uri, PKI_STEP_CERT_RETRIEVAL, ts_us, frame);
    ex->pki.req_id = req_id;
    ex->pki.has_certificate = true;
    if (cn) {
        ex->pki.certificate.parsed = true;
        ex->pki.certificate.subject_cn = cn;
    }
    return ex;
}

static const char MD5_A[] = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
static const char MD5_B[] = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
static const char MD5_C[] = "cccccccccccccccccccccccccccccccc";
static const char MD5_D[] = "dddddddddddddddddddddddddddddddd";

/* ------------------------------------------------------------------ */
/* Deadlines                                                            */

static void test_login_timeout(void)
{
    fixture_t f;
    flow_t *flow = fixture_init_flow(&f, 5, 9, 443);
    http_exchange_t *ex = certsrv_login(&f, 1, T0 + 3 * MS, 10);
    send_request(&f, flow, ex);
    at_time(&f, T0 + 5 * SEC, 11);
    at_time(&f, T0 + 10 * SEC, 12); /* the deadline itself has not passed */
    g_assert_cmpuint(verdict_count(f.diag.sink), ==, 0);
    at_time(&f, T0 + 10 * SEC + 6 * MS, 13);
    g_assert_cmpuint(verdict_count(f.diag.sink), ==, 1);
    const verdict_t *v = verdict_nth(f.diag.sink, 0);
    verdict_assert_is(v, V_CA_LOGIN_TIMEOUT, VERDICT_ERROR, "10.0.0.5", true);
    g_assert_cmpstr(v->server, ==, "10.0.0.9:443");
    g_assert_true(verdict_has_evidence(v, 10));
    g_assert_cmpuint(v->at.pcap_cnt, ==, 13);
    g_assert_cmpint(verdict_fact_find(v, "waited_ms")->number, ==, 10003);
    g_assert_true(verdict_summary_has(v, "/certsrv"));
    g_assert_true(verdict_summary_has(v, "10 s"));
    /* the same request reported again when the connection ends: never twice */
    flow_close(flow, DIR_TO_SERVER, false, T0 + 10 * SEC + 6 * MS, 13);
    end_unanswered(&f, flow, ex, T0 + 21 * SEC, 17);
    diagnosis_input_ended(f.diag.d);
    diagnosis_finish(f.diag.d);
    g_assert_cmpuint(verdict_count(f.diag.sink), ==, 1);
    fixture_destroy(&f);
}

/* A login that worked makes a request's (or a new login's) silence a
 * request timeout, on the connection or from the same client to the CA. */
static void test_request_timeout_after_login(void)
{
    fixture_t f;
    flow_t *flow = fixture_init_flow(&f, 5, 9, 443);
    http_exchange_t *l1 = certsrv_login(&f, 1, T0, 10);
    round_trip(&f, flow, l1, 401, 100, 11);
    http_exchange_t *l2 = ntlm_login(&f, 2, HTTP_NTLM_NEGOTIATE, T0 + 1 * MS, 12);
    send_request(&f, flow, l2);
    ntlm_challenge(l2, T0 + 2 * MS, 13);
    deliver(&f, flow, l2);
    http_exchange_t *l3 = ntlm_login(&f, 3, HTTP_NTLM_AUTHENTICATE, T0 + 3 * MS, 14);
    round_trip(&f, flow, l3, 301, 100, 15);
    g_assert_cmpuint(verdict_count(f.diag.sink), ==, 0);

    http_exchange_t *p7b = certsrv(&f, 4, "GET", "/certsrv/certnew.p7b?ReqID=CACert&Renewal=0&Enc=bin",
                                   PKI_STEP_CA_CERT_RETRIEVAL, T0 + 4 * MS, 16);
    send_request(&f, flow, p7b);
    /* the HTTP layer still holds the request: the summary names its URI */
    http_conn_t *conn = g_new0(http_conn_t, 1);
    conn->pending[0] = p7b;
    conn->pending_count = 1;
    flow->http = conn;
    at_time(&f, T0 + 10 * SEC + 10 * MS, 18);
    flow->http = NULL;
    g_free(conn);
    g_assert_cmpuint(verdict_count(f.diag.sink), ==, 1);
    const verdict_t *v = verdict_nth(f.diag.sink, 0);
    g_assert_cmpint(v->id, ==, V_CA_REQUEST_TIMEOUT);
    g_assert_true(verdict_has_evidence(v, 16));
    g_assert_true(verdict_has_evidence(v, 15)); /* the login that worked */
    g_assert_true(verdict_summary_has(v, "GET /certsrv/certnew.p7b?ReqID=CACert"));
    g_assert_cmpstr(verdict_fact_find(v, "uri")->text, ==,
                    "/certsrv/certnew.p7b?ReqID=CACert&Renewal=0&Enc=bin");

    /* another connection from the same client: its login step times out
     * after that login worked, a request timeout too */
    login_waiting(&f, 2, 5, 9, T0 + 20 * SEC, 30);
    at_time(&f, T0 + 31 * SEC, 31);
    g_assert_cmpuint(verdict_count_id(f.diag.sink, V_CA_REQUEST_TIMEOUT), ==, 2);
    g_assert_cmpuint(verdict_count_id(f.diag.sink, V_CA_LOGIN_TIMEOUT), ==, 0);
    /* ... but not from another client, nor to another CA */
    login_waiting(&f, 3, 6, 9, T0 + 40 * SEC, 40); /* another client */
    login_waiting(&f, 4, 5, 8, T0 + 40 * SEC, 41); /* another CA */
    at_time(&f, T0 + 51 * SEC, 42);
    g_assert_cmpuint(verdict_count_id(f.diag.sink, V_CA_LOGIN_TIMEOUT), ==, 2);
    g_assert_cmpuint(verdict_count_id(f.diag.sink, V_CA_REQUEST_TIMEOUT), ==, 2);
    fixture_destroy(&f);
}

static void test_est_timeout(void)
{
    fixture_t f;
    flow_t *flow = fixture_init_flow(&f, 1, 5, 8084);
    http_exchange_t *ex = est_enroll(&f, 2, T0, 12);
    send_request(&f, flow, ex);
    at_time(&f, T0 + 10 * SEC + 1, 20);
    g_assert_cmpuint(verdict_count(f.diag.sink), ==, 1);
    const verdict_t *v = verdict_nth(f.diag.sink, 0);
    g_assert_cmpint(v->id, ==, V_EST_ENROLL_FAILED);
    g_assert_cmpstr(v->server, ==, "10.0.0.5:8084");
    g_assert_true(verdict_summary_has(v, "rv = 35"));
    g_assert_true(verdict_summary_has(v, "EST_ERR_SSL_READ"));
    g_assert_true(verdict_summary_has(v, "simpleenroll"));
    /* requests that are not waited for arm nothing: cacerts, SCEP, plain HTTP */
    http_exchange_t *cacerts = exchange(&f, 3, "GET", "/.well-known/est/cacerts", PKI_EST,
                                        PKI_STEP_EST_CACERTS, T0 + 20 * SEC, 30);
    send_request(&f, flow, cacerts);
    http_exchange_t *scep = exchange(&f, 4, "GET", "/cgi-bin/pkiclient.exe?operation=GetCACert",
                                     PKI_SCEP, PKI_STEP_SCEP_GETCACERT, T0 + 20 * SEC, 31);
    send_request(&f, flow, scep);
    http_exchange_t *web = exchange(&f, 5, "GET", "/index.html", PKI_NONE, PKI_STEP_OTHER,
                                    T0 + 20 * SEC, 32);
    send_request(&f, flow, web);
    at_time(&f, T0 + 60 * SEC, 40);
    diagnosis_input_ended(f.diag.d);
    g_assert_cmpuint(verdict_count(f.diag.sink), ==, 1);
    fixture_destroy(&f);
}

/* The capture ends while a request waits: not known to have failed. */
static void test_capture_end(void)
{
    fixture_t f;
    flow_t *flow = fixture_init_flow(&f, 5, 9, 443);
    http_exchange_t *ex = submission(&f, 1, NULL, NULL, T0, 20);
    send_request(&f, flow, ex);
    at_time(&f, T0 + 3 * SEC, 21);
    diagnosis_input_ended(f.diag.d);
    g_assert_cmpuint(verdict_count(f.diag.sink), ==, 1);
    const verdict_t *v = verdict_nth(f.diag.sink, 0);
    g_assert_cmpint(v->id, ==, V_RESPONSE_NOT_SEEN);
    g_assert_cmpint(v->severity, ==, VERDICT_WARNING);
    g_assert_cmpint(verdict_fact_find(v, "waited_ms")->number, ==, 3000);
    g_assert_true(verdict_summary_has(v, "capture ended"));
    g_assert_true(verdict_has_evidence(v, 20));
    g_assert_cmpstr(v->advice, ==, verdict_kind(V_RESPONSE_NOT_SEEN)->advice);
    /* the open flows are concluded next: the exchange adds nothing */
    end_unanswered(&f, flow, ex, T0 + 3 * SEC, 21);
    diagnosis_finish(f.diag.d);
    g_assert_cmpuint(verdict_count(f.diag.sink), ==, 1);
    fixture_destroy(&f);

    /* the capture ends exactly at the deadline: the whole timeout passed */
    flow = fixture_init_flow(&f, 5, 9, 443);
    ex = certsrv_login(&f, 1, T0, 20);
    send_request(&f, flow, ex);
    at_time(&f, T0 + 10 * SEC, 21);
    g_assert_cmpuint(verdict_count(f.diag.sink), ==, 0);
    diagnosis_input_ended(f.diag.d);
    g_assert_cmpuint(verdict_count(f.diag.sink), ==, 1);
    g_assert_cmpint(verdict_nth(f.diag.sink, 0)->id, ==, V_CA_LOGIN_TIMEOUT);
    fixture_destroy(&f);
}

static void test_answered_in_time(void)
{
    fixture_t f;
    flow_t *flow = fixture_init_flow(&f, 5, 9, 443);
    http_exchange_t *ex = certsrv(&f, 1, "GET", "/certsrv/certrqxt.asp", PKI_STEP_REQUEST_FORM, T0, 20);
    round_trip(&f, flow, ex, 200, 9 * SEC, 21);
    at_time(&f, T0 + 30 * SEC, 22);
    g_assert_cmpuint(verdict_count(f.diag.sink), ==, 0);

    /* an answer under way at the deadline (its header came, its body is
     * slow): the exchange will tell, not the deadline */
    http_exchange_t *slow = certsrv(&f, 2, "GET", "/certsrv/certnew.cer?ReqID=5&Enc=b64",
                                    PKI_STEP_CERT_RETRIEVAL, T0 + 40 * SEC, 30);
    send_request(&f, flow, slow);
    http_conn_t *conn = g_new0(http_conn_t, 1);
    conn->dir[DIR_TO_CLIENT].last_at = packet(T0 + 41 * SEC, 31);
    flow->http = conn;
    at_time(&f, T0 + 55 * SEC, 32);
    g_assert_cmpuint(verdict_count(f.diag.sink), ==, 0);
    /* without it, the same deadline is a timeout (the check above can fail) */
    http_exchange_t *silent = certsrv(&f, 3, "GET", "/certsrv/certnew.cer?ReqID=6&Enc=b64",
                                      PKI_STEP_CERT_RETRIEVAL, T0 + 56 * SEC, 33);
    send_request(&f, flow, silent);
    at_time(&f, T0 + 67 * SEC, 34);
    flow->http = NULL;
    g_free(conn);
    g_assert_cmpuint(verdict_count(f.diag.sink), ==, 1);
    g_assert_cmpint(verdict_nth(f.diag.sink, 0)->id, ==, V_CA_REQUEST_TIMEOUT);
    fixture_destroy(&f);
}

/* The connection ends with the request unanswered. */
static void test_connection_ended(void)
{
    /* the client gives up after 2 s: not a timeout */
    fixture_t f;
    flow_t *flow = fixture_init_flow(&f, 5, 9, 443);
    http_exchange_t *ex = certsrv_login(&f, 1, T0, 10);
    send_request(&f, flow, ex);
    flow_close(flow, DIR_TO_SERVER, false, T0 + 2 * SEC, 11);
    at_time(&f, T0 + 11 * SEC, 12); /* the deadline passes while the closed flow lingers */
    g_assert_cmpuint(verdict_count(f.diag.sink), ==, 0);
    end_unanswered(&f, flow, ex, T0 + 12 * SEC, 13);
    g_assert_cmpuint(verdict_count(f.diag.sink), ==, 1);
    const verdict_t *v = verdict_nth(f.diag.sink, 0);
    g_assert_cmpint(v->id, ==, V_RESPONSE_NOT_SEEN);
    g_assert_true(verdict_summary_has(v, "client closed"));
    g_assert_cmpint(verdict_fact_find(v, "waited_ms")->number, ==, 2000);
    g_assert_true(verdict_has_evidence(v, 11));
    g_assert_cmpstr(v->advice, !=, verdict_kind(V_RESPONSE_NOT_SEEN)->advice);
    fixture_destroy(&f);

    /* the client closes at 9.5 s: its own 10 s timer, a timeout, once */
    flow = fixture_init_flow(&f, 5, 9, 443);
    ex = certsrv_login(&f, 1, T0, 10);
    send_request(&f, flow, ex);
    flow_close(flow, DIR_TO_CLIENT, false, T0 + 9500 * MS, 11); /* the server's FIN came first */
    at_time(&f, T0 + 10 * SEC + 500 * MS, 12);
    g_assert_cmpuint(verdict_count(f.diag.sink), ==, 0);
    end_unanswered(&f, flow, ex, T0 + 20 * SEC, 13);
    g_assert_cmpuint(verdict_count(f.diag.sink), ==, 1);
    g_assert_cmpint(verdict_nth(f.diag.sink, 0)->id, ==, V_CA_LOGIN_TIMEOUT);
    g_assert_cmpint(verdict_fact_find(verdict_nth(f.diag.sink, 0), "waited_ms")->number, ==, 9500);
    fixture_destroy(&f);

    /* the server resets the connection after 1 s */
    flow = fixture_init_flow(&f, 1, 5, 8084);
    ex = est_enroll(&f, 1, T0, 10);
    send_request(&f, flow, ex);
    flow_close(flow, DIR_TO_CLIENT, true, T0 + 1 * SEC, 11);
    end_unanswered(&f, flow, ex, T0 + 1 * SEC, 11);
    g_assert_cmpuint(verdict_count(f.diag.sink), ==, 1);
    g_assert_cmpint(verdict_nth(f.diag.sink, 0)->id, ==, V_RESPONSE_NOT_SEEN);
    g_assert_true(verdict_summary_has(verdict_nth(f.diag.sink, 0), "server reset"));
    fixture_destroy(&f);

    /* the flow idles out before a packet passes the deadline: the exchange
     * tells first, the deadline then finds nothing */
    flow = fixture_init_flow(&f, 5, 9, 443);
    ex = submission(&f, 1, NULL, NULL, T0, 10);
    send_request(&f, flow, ex);
    end_unanswered(&f, flow, ex, T0 + 700 * SEC, 50);
    g_assert_cmpuint(verdict_count(f.diag.sink), ==, 1);
    g_assert_cmpint(verdict_nth(f.diag.sink, 0)->id, ==, V_CA_REQUEST_TIMEOUT);
    g_assert_cmpint(verdict_fact_find(verdict_nth(f.diag.sink, 0), "waited_ms")->number, ==, 700000);
    flow_retire(&f, flow);
    at_time(&f, T0 + 700 * SEC, 50);
    diagnosis_input_ended(f.diag.d);
    g_assert_cmpuint(verdict_count(f.diag.sink), ==, 1);
    fixture_destroy(&f);

    /* a request never complete was not waited for */
    flow = fixture_init_flow(&f, 5, 9, 443);
    ex = submission(&f, 1, NULL, NULL, T0, 10);
    ex->request_complete = false;
    end_unanswered(&f, flow, ex, T0 + 60 * SEC, 11);
    g_assert_cmpuint(verdict_count(f.diag.sink), ==, 0);
    fixture_destroy(&f);
}

/* ------------------------------------------------------------------ */
/* Authentication                                                       */

typedef struct auth_case {
    http_auth_scheme_t authorization;
    uint8_t ntlm_type;
    bool challenge_token;
    int status;
    bool refused;
} auth_case_t;

static void test_auth_cases(void)
{
    static const auth_case_t cases[] = {
        { HTTP_AUTH_NONE, 0, false, 401, false },               /* the dance begins */
        { HTTP_AUTH_NTLM, HTTP_NTLM_NEGOTIATE, true, 401, false }, /* challenge: goes on */
        { HTTP_AUTH_NTLM, HTTP_NTLM_NEGOTIATE, false, 401, true }, /* bare: refused */
        { HTTP_AUTH_NTLM, HTTP_NTLM_AUTHENTICATE, false, 401, true },
        { HTTP_AUTH_NTLM, HTTP_NTLM_AUTHENTICATE, true, 401, true },
        { HTTP_AUTH_NEGOTIATE, HTTP_NTLM_NONE, true, 401, false }, /* Kerberos continuation */
        { HTTP_AUTH_NEGOTIATE, HTTP_NTLM_NONE, false, 401, true },
        { HTTP_AUTH_NEGOTIATE, HTTP_NTLM_NEGOTIATE, true, 401, false },
        { HTTP_AUTH_NEGOTIATE, HTTP_NTLM_AUTHENTICATE, false, 401, true },
        { HTTP_AUTH_BASIC, 0, false, 401, true },
        { HTTP_AUTH_DIGEST, 0, false, 401, true },
        { HTTP_AUTH_NTLM, HTTP_NTLM_AUTHENTICATE, false, 301, false },
        { HTTP_AUTH_NTLM, HTTP_NTLM_AUTHENTICATE, false, 403, false },
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        fixture_t f;
        flow_t *flow = fixture_init_flow(&f, 5, 9, 443);
        http_exchange_t *ex = certsrv_login(&f, 1, T0, 10);
        ex->authorization = cases[i].authorization;
        ex->authorization_ntlm_type = cases[i].ntlm_type;
        send_request(&f, flow, ex);
        answer(ex, cases[i].status, T0 + MS, 11);
        ex->www_authenticate = HTTP_AUTH_NTLM;
        ex->www_authenticate_token = cases[i].challenge_token;
        deliver(&f, flow, ex);
        g_test_message("case %zu", i);
        g_assert_cmpuint(verdict_count_id(f.diag.sink, V_CA_AUTH_FAILED), ==, cases[i].refused ? 1 : 0);
        fixture_destroy(&f);
    }

    /* EST's 401 is no CA login refusal */
    fixture_t f;
    flow_t *flow = fixture_init_flow(&f, 1, 5, 8084);
    http_exchange_t *ex = est_enroll(&f, 1, T0, 10);
    round_trip(&f, flow, ex, 401, MS, 11);
    g_assert_cmpuint(verdict_count_id(f.diag.sink, V_CA_AUTH_FAILED), ==, 0);
    g_assert_cmpuint(verdict_count_id(f.diag.sink, V_EST_ENROLL_FAILED), ==, 1);
    fixture_destroy(&f);
}

/* ca-auth-failed.pcapng: none -> 401, NTLM type 1 -> 401 + challenge,
 * type 3 -> 401 bare; then a retry on a new connection. */
static void test_ntlm_dance(void)
{
    fixture_t f;
    flow_t *flow = fixture_init_flow(&f, 5, 9, 443);
    http_exchange_t *a = certsrv_login(&f, 1, T0, 10);
    send_request(&f, flow, a);
    answer(a, 401, T0 + MS, 11);
    a->www_authenticate = HTTP_AUTH_NEGOTIATE;
    deliver(&f, flow, a);
    http_exchange_t *b = ntlm_login(&f, 2, HTTP_NTLM_NEGOTIATE, T0 + 2 * MS, 12);
    send_request(&f, flow, b);
    ntlm_challenge(b, T0 + 3 * MS, 13);
    b->www_authenticate_ntlm_type = HTTP_NTLM_CHALLENGE;
    deliver(&f, flow, b);
    g_assert_cmpuint(verdict_count(f.diag.sink), ==, 0);
    http_exchange_t *c = ntlm_login(&f, 3, HTTP_NTLM_AUTHENTICATE, T0 + 4 * MS, 14);
    send_request(&f, flow, c);
    answer(c, 401, T0 + 5 * MS, 15);
    c->www_authenticate = HTTP_AUTH_NEGOTIATE;
    deliver(&f, flow, c);
    g_assert_cmpuint(verdict_count(f.diag.sink), ==, 1);
    const verdict_t *v = verdict_nth(f.diag.sink, 0);
    g_assert_cmpint(v->id, ==, V_CA_AUTH_FAILED);
    g_assert_cmpstr(v->device, ==, "10.0.0.5");
    g_assert_cmpstr(v->server, ==, "10.0.0.9:443");
    g_assert_cmpuint(v->evidence_count, ==, 3);
    g_assert_true(verdict_has_evidence(v, 13)); /* the challenge it answered */
    g_assert_true(verdict_has_evidence(v, 14));
    g_assert_true(verdict_has_evidence(v, 15));
    g_assert_true(verdict_summary_has(v, "NTLM AUTHENTICATE"));
    g_assert_true(verdict_summary_has(v, "401"));
    g_assert_cmpint(verdict_fact_find(v, "status")->number, ==, 401);
    g_assert_cmpstr(verdict_fact_find(v, "auth")->text, ==, "NTLM");
    uint64_t seq = v->seq;
    /* answered: no deadline left behind */
    at_time(&f, T0 + 30 * SEC, 30);
    g_assert_cmpuint(verdict_count(f.diag.sink), ==, 1);

    /* CES tries again a minute later: the same problem, counted */
    flow_t *retry = flow_add(&f, 2, 5, 9, 443);
    http_exchange_t *r = ntlm_login(&f, 3, HTTP_NTLM_AUTHENTICATE, T0 + 60 * SEC, 40);
    round_trip(&f, retry, r, 401, MS, 41);
    g_assert_cmpuint(verdict_count(f.diag.sink), ==, 2);
    g_assert_true(verdict_nth(f.diag.sink, 1)->update);
    g_assert_cmpuint(verdict_nth(f.diag.sink, 1)->count, ==, 2);
    g_assert_cmpuint(verdict_nth(f.diag.sink, 1)->seq, ==, seq);
    fixture_destroy(&f);
}

/* ------------------------------------------------------------------ */
/* Answers                                                              */

static void test_template_denied(void)
{
    fixture_t f;
    flow_t *flow = fixture_init_flow(&f, 5, 9, 443);
    http_exchange_t *ex = submission(&f, 7, "O=enrollmon TEST PKI, CN=SEP74A02FC0A675", MD5_A, T0, 24);
    g_strlcpy(ex->pki.template_name, "CiscoRAx", sizeof(ex->pki.template_name));
    ex->pki.outcome = PKI_OUTCOME_DENIED;
    g_strlcpy(ex->pki.outcome_message, "Denied by Policy Module", sizeof(ex->pki.outcome_message));
    g_strlcpy(ex->pki.disposition, "0x80094800 (-2146875392 CERTSRV_E_UNSUPPORTED_CERT_TYPE)",
              sizeof(ex->pki.disposition));
    round_trip(&f, flow, ex, 200, MS, 25);
    g_assert_cmpuint(verdict_count(f.diag.sink), ==, 1);
    const verdict_t *v = verdict_nth(f.diag.sink, 0);
    g_assert_cmpint(v->id, ==, V_TEMPLATE_REJECTED);
    g_assert_cmpstr(v->device, ==, "SEP74A02FC0A675");
    g_assert_false(v->device_is_address);
    g_assert_cmpstr(verdict_fact_find(v, "template")->text, ==, "CiscoRAx");
    g_assert_cmpstr(verdict_fact_find(v, "disposition")->text, ==,
                    "0x80094800 (-2146875392 CERTSRV_E_UNSUPPORTED_CERT_TYPE)");
    g_assert_cmpstr(verdict_fact_find(v, "message")->text, ==, "Denied by Policy Module");
    g_assert_cmpstr(verdict_fact_find(v, "uri")->text, ==, "/certsrv/certfnsh.asp");
    g_assert_true(verdict_summary_has(v, "CiscoRAx"));
    g_assert_true(verdict_summary_has(v, "Denied by Policy Module"));
    g_assert_true(verdict_has_evidence(v, 24) && verdict_has_evidence(v, 25));
    /* issued, or pending: no denial */
    http_exchange_t *ok = submission(&f, 8, NULL, NULL, T0 + SEC, 30);
    ok->pki.outcome = PKI_OUTCOME_ISSUED;
    round_trip(&f, flow, ok, 200, MS, 31);
    http_exchange_t *pending = submission(&f, 9, NULL, NULL, T0 + 2 * SEC, 32);
    pending->pki.outcome = PKI_OUTCOME_PENDING;
    round_trip(&f, flow, pending, 200, MS, 33);
    g_assert_cmpuint(verdict_count(f.diag.sink), ==, 1);
    fixture_destroy(&f);
}

/* EST simpleenroll answered non-2xx; a 401 while the CES's login to the CA
 * worked is the template. */
static void test_est_failures(void)
{
    fixture_t f;
    flow_t *est = fixture_init_flow(&f, 1, 5, 8084); /* CAPF 10.0.0.1 -> CES 10.0.0.5 */
    http_exchange_t *e1 = est_enroll(&f, 1, T0, 12);
    round_trip(&f, est, e1, 401, MS, 13);
    g_assert_cmpuint(verdict_count(f.diag.sink), ==, 1);
    const verdict_t *v = verdict_nth(f.diag.sink, 0);
    g_assert_cmpint(v->id, ==, V_EST_ENROLL_FAILED);
    g_assert_true(verdict_summary_has(v, "EST_ERR_AUTH_FAIL"));
    g_assert_true(verdict_summary_has(v, "401"));
    g_assert_true(verdict_has_evidence(v, 12) && verdict_has_evidence(v, 13));
    http_exchange_t *e2 = est_enroll(&f, 2, T0 + SEC, 14);
    round_trip(&f, est, e2, 502, MS, 15);
    g_assert_cmpuint(verdict_count(f.diag.sink), ==, 2);
    g_assert_true(verdict_summary_has(verdict_nth(f.diag.sink, 1), "502"));
    g_assert_false(verdict_summary_has(verdict_nth(f.diag.sink, 1), "EST_ERR_AUTH_FAIL"));
    http_exchange_t *re = exchange(&f, 3, "POST", "/.well-known/est/simplereenroll", PKI_EST,
                                   PKI_STEP_EST_SIMPLEREENROLL, T0 + 2 * SEC, 16);
    round_trip(&f, est, re, 500, MS, 17);
    g_assert_cmpuint(verdict_count_id(f.diag.sink, V_EST_ENROLL_FAILED), ==, 3);
    g_assert_true(verdict_summary_has(verdict_nth(f.diag.sink, 2), "simplereenroll"));
    /* 202 (try later) and 200 without a certificate are no failure */
    http_exchange_t *later = est_enroll(&f, 4, T0 + 3 * SEC, 18);
    round_trip(&f, est, later, 202, MS, 19);
    http_exchange_t *bare = est_enroll(&f, 5, T0 + 4 * SEC, 20);
    round_trip(&f, est, bare, 200, MS, 21);
    g_assert_cmpuint(verdict_count(f.diag.sink), ==, 3);

    /* CES (10.0.0.5) logs into the CA fine; then its EST answer is 401 */
    flow_t *ca = flow_add(&f, 2, 5, 9, 443);
    http_exchange_t *login = ntlm_login(&f, 1, HTTP_NTLM_AUTHENTICATE, T0 + 100 * SEC, 50);
    round_trip(&f, ca, login, 301, MS, 51);
    http_exchange_t *e3 = est_enroll(&f, 6, T0 + 101 * SEC, 52);
    round_trip(&f, est, e3, 401, MS, 53);
    g_assert_cmpuint(verdict_count(f.diag.sink), ==, 4);
    v = verdict_nth(f.diag.sink, 3);
    g_assert_cmpint(v->id, ==, V_TEMPLATE_REJECTED);
    g_assert_cmpstr(v->server, ==, "10.0.0.5:8084");
    g_assert_true(verdict_has_evidence(v, 51)); /* the login that worked */
    g_assert_true(verdict_has_evidence(v, 52) && verdict_has_evidence(v, 53));
    g_assert_cmpuint(v->flow_count, ==, 2);
    g_assert_cmpstr(verdict_fact_find(v, "ca")->text, ==, "10.0.0.9:443");
    g_assert_true(verdict_summary_has(v, "10.0.0.9:443"));
    /* outside the link window: EST_ENROLL_FAILED again */
    http_exchange_t *e4 = est_enroll(&f, 7, T0 + 200 * SEC, 60);
    round_trip(&f, est, e4, 401, MS, 61);
    g_assert_cmpint(verdict_nth(f.diag.sink, verdict_count(f.diag.sink) - 1)->id, ==, V_EST_ENROLL_FAILED);
    g_assert_cmpuint(verdict_count_id(f.diag.sink, V_TEMPLATE_REJECTED), ==, 1);
    fixture_destroy(&f);

    /* the 401 is not the template's when the login came from another
     * address than the CES, or when the CES got its certificate from the CA */
    static const struct {
        uint8_t login_from;
        int login_status;
        bool certificate; /* delivered to the CES, then the 401 */
    } not_template[] = { { 6, 200, false }, { 5, 301, true } };
    for (size_t i = 0; i < G_N_ELEMENTS(not_template); i++) {
        est = fixture_init_flow(&f, 1, 5, 8084);
        ca = flow_add(&f, 2, not_template[i].login_from, 9, 443);
        login = certsrv_login(&f, 1, T0, 50);
        round_trip(&f, ca, login, not_template[i].login_status, MS, 51);
        uint64_t frame = 52;
        if (not_template[i].certificate) {
            http_exchange_t *cer = certsrv(&f, 2, "GET", "/certsrv/certnew.cer?ReqID=3&Enc=b64",
                                           PKI_STEP_CERT_RETRIEVAL, T0 + MS, frame);
            cer->pki.has_certificate = true;
            round_trip(&f, ca, cer, 200, MS, frame + 1);
            g_assert_cmpuint(verdict_count_id(f.diag.sink, V_ENROLLMENT_OK), ==, 1);
            frame += 2;
        }
        e1 = est_enroll(&f, 1, T0 + SEC, frame);
        round_trip(&f, est, e1, 401, MS, frame + 1);
        g_assert_cmpuint(verdict_count_id(f.diag.sink, V_TEMPLATE_REJECTED), ==, 0);
        g_assert_cmpuint(verdict_count_id(f.diag.sink, V_EST_ENROLL_FAILED), ==, 1);
        fixture_destroy(&f);
    }
}

static void test_key_mismatch(void)
{
    static char cn[] = "SEP74A02FC0A675";
    fixture_t f;
    flow_t *flow = fixture_init_flow(&f, 5, 9, 443);
    http_exchange_t *sub = submission(&f, 1, "O=enrollmon TEST PKI, CN=SEP74A02FC0A675", MD5_A, T0, 24);
    sub->pki.req_id = 10;
    sub->pki.outcome = PKI_OUTCOME_ISSUED;
    round_trip(&f, flow, sub, 200, MS, 25);
    http_exchange_t *cer = fetched_cert(&f, 2, 10, cn, T0 + 2 * MS, 26);
    g_strlcpy(cer->pki.certificate.modulus_md5, MD5_B, sizeof(cer->pki.certificate.modulus_md5));
    g_strlcpy(cer->csr_modulus_md5, MD5_A, sizeof(cer->csr_modulus_md5));
    g_strlcpy(cer->cert_modulus_md5, MD5_B, sizeof(cer->cert_modulus_md5));
    cer->csr_from_earlier = true;
    cer->cert_match_known = true;
    cer->cert_matches_csr = false;
    round_trip(&f, flow, cer, 200, MS, 27);
    g_assert_cmpuint(verdict_count(f.diag.sink), ==, 1);
    const verdict_t *v = verdict_nth(f.diag.sink, 0);
    g_assert_cmpint(v->id, ==, V_CSR_CERT_KEY_MISMATCH);
    g_assert_cmpstr(v->device, ==, "SEP74A02FC0A675");
    g_assert_cmpstr(verdict_fact_find(v, "csr_modulus_md5")->text, ==, MD5_A);
    g_assert_cmpstr(verdict_fact_find(v, "cert_modulus_md5")->text, ==, MD5_B);
    g_assert_cmpint(verdict_fact_find(v, "req_id")->number, ==, 10);
    g_assert_true(verdict_summary_has(v, MD5_A) && verdict_summary_has(v, MD5_B));
    g_assert_true(verdict_summary_has(v, "openssl"));
    g_assert_true(verdict_has_evidence(v, 24)); /* the submission with the CSR */
    g_assert_true(verdict_has_evidence(v, 26) && verdict_has_evidence(v, 27));
    g_assert_cmpuint(verdict_count_id(f.diag.sink, V_ENROLLMENT_OK), ==, 0);

    /* EST: the response's certificate against the request's CSR */
    flow_t *est = flow_add(&f, 2, 1, 5, 8084);
    http_exchange_t *e = est_enroll(&f, 1, T0 + SEC, 40);
    e->pki.has_csr = true;
    g_strlcpy(e->pki.csr_subject, "CN=SEP0000000000AA", sizeof(e->pki.csr_subject));
    e->pki.has_certificate = true;
    e->pki.certificate.parsed = true;
    g_strlcpy(e->csr_modulus_md5, MD5_C, sizeof(e->csr_modulus_md5));
    g_strlcpy(e->cert_modulus_md5, MD5_D, sizeof(e->cert_modulus_md5));
    e->cert_match_known = true;
    e->cert_matches_csr = false;
    round_trip(&f, est, e, 200, MS, 41);
    g_assert_cmpuint(verdict_count_id(f.diag.sink, V_CSR_CERT_KEY_MISMATCH), ==, 2);
    g_assert_cmpstr(verdict_last_of(f.diag.sink, V_CSR_CERT_KEY_MISMATCH)->device, ==, "SEP0000000000AA");
    g_assert_cmpuint(verdict_count_id(f.diag.sink, V_ENROLLMENT_OK), ==, 0);
    fixture_destroy(&f);
}

static void test_scep(void)
{
    fixture_t f;
    flow_t *flow = fixture_init_flow(&f, 3, 4, 80);
    http_exchange_t *caps = exchange(&f, 1, "GET", "/cgi-bin/pkiclient.exe?operation=GetCACert&message=X",
                                     PKI_SCEP, PKI_STEP_SCEP_GETCACERT, T0, 8);
    round_trip(&f, flow, caps, 404, MS, 9);
    http_exchange_t *next_ok = exchange(&f, 2, "GET", "/cgi-bin/pkiclient.exe?operation=GetNextCACert",
                                        PKI_SCEP, PKI_STEP_SCEP_GETNEXTCACERT, T0 + MS, 10);
    round_trip(&f, flow, next_ok, 200, MS, 11);
    g_assert_cmpuint(verdict_count(f.diag.sink), ==, 0);
    http_exchange_t *next = exchange(&f, 3, "GET",
                                     "/cgi-bin/pkiclient.exe?operation=GetNextCACert&message=GETVPN",
                                     PKI_SCEP, PKI_STEP_SCEP_GETNEXTCACERT, T0 + 2 * MS, 12);
    round_trip(&f, flow, next, 404, MS, 13);
    g_assert_cmpuint(verdict_count(f.diag.sink), ==, 1);
    const verdict_t *v = verdict_nth(f.diag.sink, 0);
    g_assert_cmpint(v->id, ==, V_SCEP_NO_SHADOW_CA);
    g_assert_cmpstr(v->device, ==, "10.0.0.3");
    g_assert_cmpstr(v->server, ==, "10.0.0.4:80");
    g_assert_true(verdict_has_evidence(v, 12) && verdict_has_evidence(v, 13));
    g_assert_true(verdict_summary_has(v, "GetNextCACert"));
    g_assert_true(verdict_summary_has(v, "404"));
    fixture_destroy(&f);
}

static void test_enrollment_ok(void)
{
    static char cn[] = "SEP74A02FC0A675";
    static char serial[] = "0F5C01D6";
    fixture_t f;
    flow_t *flow = fixture_init_flow(&f, 5, 9, 443);
    /* certnew.cer without a certificate, a chain, a CA certificate: nothing delivered */
    http_exchange_t *empty = certsrv(&f, 1, "GET", "/certsrv/certnew.cer?ReqID=10&Enc=b64",
                                     PKI_STEP_CERT_RETRIEVAL, T0, 10);
    round_trip(&f, flow, empty, 200, MS, 11);
    http_exchange_t *p7b = certsrv(&f, 2, "GET", "/certsrv/certnew.p7b?ReqID=CACert&Renewal=0&Enc=bin",
                                   PKI_STEP_CA_CERT_RETRIEVAL, T0 + MS, 12);
    p7b->pki.chain_count = 2;
    round_trip(&f, flow, p7b, 200, MS, 13);
    g_assert_cmpuint(verdict_count(f.diag.sink), ==, 0);
    http_exchange_t *cer = fetched_cert(&f, 3, 10, cn, T0 + 2 * MS, 26);
    cer->pki.certificate.serial = serial;
    cer->cert_match_known = true;
    cer->cert_matches_csr = true;
    round_trip(&f, flow, cer, 200, MS, 27);
    g_assert_cmpuint(verdict_count(f.diag.sink), ==, 1);
    const verdict_t *v = verdict_nth(f.diag.sink, 0);
    g_assert_cmpint(v->id, ==, V_ENROLLMENT_OK);
    g_assert_cmpint(v->severity, ==, VERDICT_INFO);
    g_assert_cmpstr(verdict_fact_find(v, "serial")->text, ==, serial);
    g_assert_true(verdict_summary_has(v, "SEP74A02FC0A675"));
    g_assert_true(verdict_has_evidence(v, 26) && verdict_has_evidence(v, 27));
    /* the same certificate fetched again: folded into that verdict */
    http_exchange_t *again = certsrv(&f, 4, "GET", "/certsrv/certnew.cer?ReqID=10&Enc=b64",
                                     PKI_STEP_CERT_RETRIEVAL, T0 + 3 * MS, 28);
    again->pki = cer->pki;
    round_trip(&f, flow, again, 200, MS, 29);
    g_assert_cmpuint(verdict_count_id(f.diag.sink, V_ENROLLMENT_OK), ==, 2);
    g_assert_true(verdict_nth(f.diag.sink, 1)->update);
    /* a 404 for certnew.cer is no delivery */
    http_exchange_t *gone = certsrv(&f, 5, "GET", "/certsrv/certnew.cer?ReqID=11&Enc=b64",
                                    PKI_STEP_CERT_RETRIEVAL, T0 + 4 * MS, 30);
    gone->pki.has_certificate = true;
    round_trip(&f, flow, gone, 404, MS, 31);
    g_assert_cmpuint(verdict_count(f.diag.sink), ==, 2);

    /* EST: 200 with a PKCS#7 of the certificate */
    flow_t *est = flow_add(&f, 2, 1, 5, 8084);
    http_exchange_t *e = est_enroll(&f, 1, T0 + SEC, 40);
    e->pki.has_csr = true;
    g_strlcpy(e->pki.csr_subject, "O=enrollmon TEST PKI, CN=SEP0000000000BB", sizeof(e->pki.csr_subject));
    e->pki.chain_count = 1;
    round_trip(&f, est, e, 200, MS, 41);
    g_assert_cmpuint(verdict_count(f.diag.sink), ==, 3);
    v = verdict_nth(f.diag.sink, 2);
    g_assert_cmpint(v->id, ==, V_ENROLLMENT_OK);
    g_assert_cmpstr(v->device, ==, "SEP0000000000BB");
    g_assert_cmpstr(v->server, ==, "10.0.0.5:8084");
    fixture_destroy(&f);
}

/* ------------------------------------------------------------------ */
/* Who the verdicts concern                                             */

static void test_device_linking(void)
{
    fixture_t f;
    fixture_init(&f);
    /* CAPF got a request from SEP111111111111 (diag_capf.c says so) */
    diag_parties_note_capf_request(f.diag.d, "SEP111111111111", T0);
    /* CAPF (10.0.0.1) -> CES (10.0.0.5): EST, its CSR not read */
    flow_t *est = flow_add(&f, 1, 1, 5, 8084);
    http_exchange_t *e = est_enroll(&f, 1, T0 + SEC, 10);
    send_request(&f, est, e);
    g_assert_cmpstr(diag_flow_find(f.diag.d, 1)->device, ==, "SEP111111111111");
    g_assert_cmpstr(diag_parties_recent_est_device(f.diag.d, &est->server.addr, T0 + 2 * SEC), ==,
                    "SEP111111111111");
    /* CES (10.0.0.5) -> CA: the login meanwhile */
    login_waiting(&f, 2, 5, 9, T0 + 2 * SEC, 20);
    at_time(&f, T0 + 13 * SEC, 30); /* both deadlines pass */
    g_assert_cmpuint(verdict_count(f.diag.sink), ==, 2);
    g_assert_cmpint(verdict_nth(f.diag.sink, 0)->id, ==, V_EST_ENROLL_FAILED);
    g_assert_cmpstr(verdict_nth(f.diag.sink, 0)->device, ==, "SEP111111111111");
    g_assert_false(verdict_nth(f.diag.sink, 0)->device_is_address);
    g_assert_cmpint(verdict_nth(f.diag.sink, 1)->id, ==, V_CA_LOGIN_TIMEOUT);
    g_assert_cmpstr(verdict_nth(f.diag.sink, 1)->device, ==, "SEP111111111111");
    g_assert_cmpstr(verdict_nth(f.diag.sink, 1)->client, ==, "10.0.0.5");

    /* by key: a CSR without a CN whose key CAPF saw with a name */
    diag_parties_note_key(f.diag.d, MD5_A, "SEP222222222222", T0);
    flow_t *k = flow_add(&f, 3, 6, 9, 443);
    http_exchange_t *sub = submission(&f, 1, "O=no name here", MD5_A, T0 + 20 * SEC, 40);
    sub->pki.outcome = PKI_OUTCOME_DENIED;
    round_trip(&f, k, sub, 200, MS, 41);
    g_assert_cmpstr(verdict_last_of(f.diag.sink, V_TEMPLATE_REJECTED)->device, ==, "SEP222222222222");

    /* by ReqID: submitted for SEP333333333333 on one connection, fetched on another */
    flow_t *s1 = flow_add(&f, 4, 7, 9, 443);
    http_exchange_t *s = submission(&f, 1, "O=enrollmon, CN=SEP333333333333", MD5_D, T0 + 30 * SEC, 50);
    s->pki.req_id = 7;
    s->pki.outcome = PKI_OUTCOME_ISSUED;
    round_trip(&f, s1, s, 200, MS, 51);
    g_assert_cmpstr(diag_parties_device_by_key(f.diag.d, MD5_D), ==, "SEP333333333333");
    flow_t *s2 = flow_add(&f, 5, 8, 9, 443);
    http_exchange_t *cer = fetched_cert(&f, 1, 7, NULL, T0 + 31 * SEC, 52);
    g_strlcpy(cer->csr_modulus_md5, MD5_C, sizeof(cer->csr_modulus_md5));
    g_strlcpy(cer->cert_modulus_md5, MD5_B, sizeof(cer->cert_modulus_md5));
    cer->cert_match_known = true;
    round_trip(&f, s2, cer, 200, MS, 53);
    g_assert_cmpstr(verdict_last_of(f.diag.sink, V_CSR_CERT_KEY_MISMATCH)->device, ==, "SEP333333333333");
    /* ... and the keys of that exchange now name it too */
    g_assert_cmpstr(diag_parties_device_by_key(f.diag.d, MD5_C), ==, "SEP333333333333");
    g_assert_cmpstr(diag_parties_device_by_key(f.diag.d, MD5_B), ==, "SEP333333333333");

    /* inherited: a later refusal on the first connection, no CSR of its own */
    http_exchange_t *auth = certsrv_login(&f, 2, T0 + 32 * SEC, 54);
    auth->authorization = HTTP_AUTH_BASIC;
    round_trip(&f, s1, auth, 401, MS, 55);
    g_assert_cmpstr(verdict_last_of(f.diag.sink, V_CA_AUTH_FAILED)->device, ==, "SEP333333333333");

    /* outside the link window, and nothing else: the client's address */
    flow_t *late = flow_add(&f, 6, 5, 9, 443);
    http_exchange_t *la = certsrv_login(&f, 1, T0 + 200 * SEC, 60);
    la->authorization = HTTP_AUTH_BASIC;
    round_trip(&f, late, la, 401, MS, 61);
    const verdict_t *v = verdict_last_of(f.diag.sink, V_CA_AUTH_FAILED);
    g_assert_cmpstr(v->device, ==, "10.0.0.5");
    g_assert_true(v->device_is_address);
    /* an EST request long after the CAPF request: its address too */
    http_exchange_t *e2 = est_enroll(&f, 2, T0 + 300 * SEC, 70);
    round_trip(&f, est, e2, 500, MS, 71);
    /* inherited */
    g_assert_cmpstr(verdict_last_of(f.diag.sink, V_EST_ENROLL_FAILED)->device, ==, "SEP111111111111");
    flow_t *est2 = flow_add(&f, 7, 1, 5, 8084);
    http_exchange_t *e3 = est_enroll(&f, 1, T0 + 300 * SEC, 72);
    round_trip(&f, est2, e3, 500, MS, 73);
    g_assert_cmpstr(verdict_last_of(f.diag.sink, V_EST_ENROLL_FAILED)->device, ==, "10.0.0.1");
    fixture_destroy(&f);
}

/* A CSR made with OpenSSL, base64 DER as an EST body carries it. */
static char *est_csr_body(const char *cn)
{
    EVP_PKEY *key = EVP_RSA_gen(1024);
    g_assert_nonnull(key);
    X509_REQ *req = X509_REQ_new();
    X509_NAME *name = X509_NAME_new();
    X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, (const unsigned char *)"enrollmon TEST", -1, -1, 0);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
    g_assert_true(X509_REQ_set_subject_name(req, name));
    g_assert_true(X509_REQ_set_pubkey(req, key));
    g_assert_cmpint(X509_REQ_sign(req, key, EVP_sha256()), >, 0);
    unsigned char *der = NULL;
    int len = i2d_X509_REQ(req, &der);
    g_assert_cmpint(len, >, 0);
    char *b64 = g_base64_encode(der, (gsize)len);
    OPENSSL_free(der);
    X509_NAME_free(name);
    X509_REQ_free(req);
    EVP_PKEY_free(key);
    return b64;
}

/* The EST request's CSR is read when the request is complete: the EST
 * deadline and the CES's CA login meanwhile name the phone, with no CAPF
 * leg seen; the Host names a party. */
static void test_csr_read_early(void)
{
    fixture_t f;
    flow_t *est = fixture_init_flow(&f, 1, 5, 8084);
    http_exchange_t *e = est_enroll(&f, 1, T0, 10);
    char *body = est_csr_body("SEP0011AABBCCDD");
    e->body[0] = (uint8_t *)body;
    e->body_len[0] = strlen(body);
    e->has_request_content_type = true;
    g_strlcpy(e->request_content_type, "application/pkcs10", sizeof(e->request_content_type));
    e->has_host = true;
    g_strlcpy(e->host, "CES.Example.Test:8084", sizeof(e->host));
    send_request(&f, est, e);
    g_assert_true(diag_parties_name_known(f.diag.d, "ces.example.test"));
    g_assert_cmpstr(diag_parties_recent_est_device(f.diag.d, &est->server.addr, T0 + SEC), ==,
                    "SEP0011AABBCCDD");
    flow_t *ca = flow_add(&f, 2, 5, 9, 443);
    http_exchange_t *l = ntlm_login(&f, 1, HTTP_NTLM_AUTHENTICATE, T0 + SEC, 20);
    round_trip(&f, ca, l, 401, MS, 21);
    g_assert_cmpstr(verdict_last_of(f.diag.sink, V_CA_AUTH_FAILED)->device, ==, "SEP0011AABBCCDD");
    at_time(&f, T0 + 11 * SEC, 30);
    const verdict_t *v = verdict_last_of(f.diag.sink, V_EST_ENROLL_FAILED);
    g_assert_cmpstr(v->device, ==, "SEP0011AABBCCDD");
    g_assert_true(verdict_summary_has(v, "SEP0011AABBCCDD"));
    /* an address literal in Host is no name */
    flow_t *lit = flow_add(&f, 3, 1, 5, 8084);
    http_exchange_t *e2 = est_enroll(&f, 1, T0 + 20 * SEC, 40);
    e2->has_host = true;
    g_strlcpy(e2->host, "10.0.0.5:8084", sizeof(e2->host));
    send_request(&f, lit, e2);
    g_assert_false(diag_parties_name_known(f.diag.d, "10.0.0.5"));
    fixture_destroy(&f);
}

/* Memory: per-flow state goes with the flow, the rest with the diagnosis. */
static void test_memory(void)
{
    fixture_t f;
    fixture_init(&f);
    for (uint64_t i = 1; i <= 50; i++) {
        flow_t *flow = flow_add(&f, i, 5, 9, 443);
        for (uint64_t s = 1; s <= 10; s++) { /* more than a connection's slots */
            http_exchange_t *ex = certsrv_login(&f, s, T0 + (int64_t)(i * 100 + s) * MS, i * 100 + s);
            send_request(&f, flow, ex);
        }
    }
    g_assert_cmpuint(f.diag.a.memcap.in_use, >, 0);
    /* half the flows end before their deadlines: their timers find nothing */
    for (uint64_t i = 1; i <= 25; i++)
        flow_retire(&f, g_ptr_array_index(f.flows, 0));
    at_time(&f, T0 + 100 * SEC, 99999);
    /* 25 connections, 8 deadlines followed each (two slots taken over) */
    g_assert_cmpuint(verdict_count_id(f.diag.sink, V_CA_LOGIN_TIMEOUT), ==, 25 * 8);
    fixture_destroy(&f); /* checks that all memory came back */
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/diag-http/login-timeout", test_login_timeout);
    g_test_add_func("/diag-http/request-timeout-after-login", test_request_timeout_after_login);
    g_test_add_func("/diag-http/est-timeout", test_est_timeout);
    g_test_add_func("/diag-http/capture-end", test_capture_end);
    g_test_add_func("/diag-http/answered-in-time", test_answered_in_time);
    g_test_add_func("/diag-http/connection-ended", test_connection_ended);
    g_test_add_func("/diag-http/auth-cases", test_auth_cases);
    g_test_add_func("/diag-http/ntlm-dance", test_ntlm_dance);
    g_test_add_func("/diag-http/template-denied", test_template_denied);
    g_test_add_func("/diag-http/est-failures", test_est_failures);
    g_test_add_func("/diag-http/key-mismatch", test_key_mismatch);
    g_test_add_func("/diag-http/scep", test_scep);
    g_test_add_func("/diag-http/enrollment-ok", test_enrollment_ok);
    g_test_add_func("/diag-http/device-linking", test_device_linking);
    g_test_add_func("/diag-http/csr-read-early", test_csr_read_early);
    g_test_add_func("/diag-http/memory", test_memory);
    return g_test_run();
}
