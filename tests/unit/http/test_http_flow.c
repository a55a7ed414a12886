/* Unit tests for monitor/http_flow.c: requests and responses cut out of
 * both byte streams however they are split, paired in order (pipelining,
 * keep-alive, 100-continue, bodiless responses, responses without requests
 * and requests without responses), resynchronisation after gaps and
 * garbage, the limits (header size, body cap, pending queue) and memory
 * accounting, the PKI hand-off, and the `http` events written by
 * output/eve_http.c.  A recording sink turns every exchange into one line
 * of text, so event sequences compare as string lists.
 */
#include "certgen.h"
#include "flow_fixture.h"
#include "monitor/analysis.h"
#include "monitor/certsrv_requests.h"
#include "monitor/http_flow.h"
#include "test_support.h"

#include <glib.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <string.h>

/* ------------------------------------------------------------------ */
/* A sink that records                                                 */

typedef struct record_sink {
    event_sink_t base;
    GPtrArray *events;    /* char*: one line per exchange, frames left out */
    GPtrArray *frames;    /* char*: "event frame / request frame" per exchange */
    const char *secret;   /* bytes that must never be in an exchange */
} record_sink_t;

static const char *flag(bool set, const char *name)
{
    return set ? name : "";
}

static void record_http(event_sink_t *base, const flow_t *flow, const http_exchange_t *ex,
                        const packet_info_t *at)
{
    record_sink_t *r = (record_sink_t *)base;
    (void)flow;
    if (r->secret)
        g_assert_false(bytes_contain(ex, sizeof(*ex), r->secret));
    GString *s = g_string_new(NULL);
    if (ex->has_request)
        g_string_append_printf(s, "%s %s host=%s ua=%s req_ct=%s req_len=%" G_GUINT64_FORMAT
                                  " authz=%s%s%s",
                               ex->method, ex->uri, ex->has_host ? ex->host : "-",
                               ex->has_user_agent ? ex->user_agent : "-",
                               ex->has_request_content_type ? ex->request_content_type : "-",
                               ex->request_length,
                               http_auth_scheme_name(ex->authorization) ? http_auth_scheme_name(ex->authorization) : "-",
                               flag(ex->expect_continue, " expect"), flag(!ex->request_complete, " req_incomplete"));
    else
        g_string_append(s, "(no request)");
    g_string_append(s, " | ");
    if (ex->has_response)
        g_string_append_printf(s, "%d %s ct=%s len=%" G_GUINT64_FORMAT " www=%s%s", ex->status, ex->reason,
                               ex->has_content_type ? ex->content_type : "-", ex->response_length,
                               http_auth_scheme_name(ex->www_authenticate) ? http_auth_scheme_name(ex->www_authenticate) : "-",
                               flag(!ex->response_complete, " resp_incomplete"));
    else
        g_string_append(s, "(no response)");
    if (ex->interim_count) {
        g_string_append_printf(s, " interim=%u", ex->interim_count);
        for (unsigned i = 0; i < ex->interim_count && i < HTTP_INTERIM_KEPT; i++)
            g_string_append_printf(s, "/%d", ex->interim_status[i]);
    }
    const char *auth = http_auth_scheme_name(http_exchange_auth(ex));
    g_string_append_printf(s, " auth=%s", auth ? auth : "-");
    g_string_append_printf(s, "%s%s%s%s%s%s%s%s%s%s", flag(ex->no_response, " no_response"),
                           flag(ex->queue_overflow, " overflow"), flag(ex->response_lost, " response_lost"),
                           flag(ex->no_request, " no_request"), flag(ex->request_lost, " request_lost"),
                           flag(ex->request_gap, " req_gap"), flag(ex->response_gap, " resp_gap"),
                           flag(ex->request_truncated, " req_cut"), flag(ex->response_truncated, " resp_cut"),
                           flag((ex->request_problems | ex->response_problems) &
                                    (HTTP_BAD_CONTENT_LENGTH | HTTP_CONFLICTING_LENGTH),
                                " bad_length"));
    if (ex->pki_kind != PKI_NONE)
        g_string_append_printf(s, " pki=%s/%s kept=%zu/%zu", pki_kind_name(ex->pki_kind),
                               pki_step_name(ex->pki_step), ex->body_len[0], ex->body_len[1]);
    g_ptr_array_add(r->events, g_string_free(s, FALSE));
    g_ptr_array_add(r->frames,
                    g_strdup_printf("%" G_GUINT64_FORMAT "/%" G_GUINT64_FORMAT " ms=%" G_GINT64_FORMAT
                                    " waited=%" G_GINT64_FORMAT,
                                    at->pcap_cnt, ex->request_at.pcap_cnt, ex->response_ms, ex->waited_ms));
}

static void record_destroy(event_sink_t *base)
{
    record_sink_t *r = (record_sink_t *)base;
    g_ptr_array_free(r->events, TRUE);
    g_ptr_array_free(r->frames, TRUE);
    g_free(r);
}

static record_sink_t *record_sink_new(void)
{
    record_sink_t *r = g_new0(record_sink_t, 1);
    r->base.http = record_http;
    r->base.destroy = record_destroy;
    r->events = g_ptr_array_new_with_free_func(g_free);
    r->frames = g_ptr_array_new_with_free_func(g_free);
    return r;
}

/* ------------------------------------------------------------------ */
/* An analysis context and one flow                                    */

typedef struct fixture {
    analysis_t a;
    flow_t *flow;
    record_sink_t *rec;
} fixture_t;

#define T0 1547647502000000 /* 2019-01-16T14:05:02Z */

/* A CES (the registration authority) talking to the CA's web server. */
static const flow_fixture_spec_t ces_to_ca = {
    .id = 9,
    .proto = IPPROTO_NUM_TCP,
    .client_ip = { 10, 1, 1, 30 },
    .client_port = 49152,
    .server_ip = { 10, 1, 1, 40 },
    .server_port = 80,
};

static void fixture_init(fixture_t *f, size_t global_memory, size_t flow_memory)
{
    flow_fixture_analysis_init(&f->a, global_memory, flow_memory);
    f->rec = record_sink_new();
    flow_fixture_add_sink(&f->a, &f->rec->base);
    f->flow = flow_fixture_flow_new(&ces_to_ca);
    f->a.packet.pcap_cnt = 1;
    f->a.packet.ts_us = T0;
}

/* Ends the flow and checks every byte was given back. */
static void fixture_end(fixture_t *f)
{
    f->flow->last_ts_us = f->a.packet.ts_us;
    f->flow->last_packet = f->a.packet;
    http_flow_end(&f->a, f->flow);
    g_assert_null(f->flow->http);
    g_assert_cmpuint(f->flow->memory.in_use, ==, 0);
    flow_fixture_assert_memory_returned(&f->a);
}

static void fixture_free(fixture_t *f)
{
    if (f->flow->http)
        fixture_end(f);
    flow_fixture_destroy(&f->a, f->flow);
}

/* Delivers bytes as an exact-size heap copy (ASan sees overreads). */
static void deliver(fixture_t *f, bool to_server, const void *data, size_t len)
{
    uint8_t *copy = g_memdup2(data, len ? len : 1);
    byte_span_t span = { copy, len };
    http_flow_data(&f->a, f->flow, to_server ? DIR_TO_SERVER : DIR_TO_CLIENT, to_server, span);
    g_free(copy);
}

static void send_text(fixture_t *f, bool to_server, const char *text)
{
    deliver(f, to_server, text, strlen(text));
}

/* The next packet: one frame and 10 ms later. */
static void next_packet(fixture_t *f)
{
    f->a.packet.pcap_cnt++;
    f->a.packet.ts_us += 10000;
}

static void assert_events(const record_sink_t *r, const char *const *want, size_t n)
{
    for (guint i = 0; i < r->events->len && i < n; i++)
        g_assert_cmpstr(g_ptr_array_index(r->events, i), ==, want[i]);
    g_assert_cmpuint(r->events->len, ==, n);
}

/* ------------------------------------------------------------------ */
/* Conversations                                                       */

typedef struct conv_msg {
    bool to_server;
    const char *text;
    size_t len; /* 0: strlen */
} conv_msg_t;

static size_t msg_len(const conv_msg_t *m)
{
    return m->len ? m->len : strlen(m->text);
}

/* Plays a conversation, each message in pieces of `piece` bytes (0: whole),
 * or split once at `split` (when piece is 0 and split is not 0); one packet
 * per message.  Returns the recorded lines (to free with g_ptr_array_unref). */
static GPtrArray *play(const conv_msg_t *conv, size_t n, size_t piece, size_t split)
{
    fixture_t f;
    fixture_init(&f, 64u << 20, 4u << 20);
    for (size_t i = 0; i < n; i++) {
        const conv_msg_t *m = &conv[i];
        size_t len = msg_len(m);
        if (piece) {
            for (size_t off = 0; off < len; off += piece)
                deliver(&f, m->to_server, m->text + off, len - off < piece ? len - off : piece);
        } else if (split && split < len) {
            deliver(&f, m->to_server, m->text, split);
            deliver(&f, m->to_server, m->text + split, len - split);
        } else {
            deliver(&f, m->to_server, m->text, len);
        }
        next_packet(&f);
    }
    fixture_end(&f);
    GPtrArray *out = f.rec->events; /* taken over */
    f.rec->events = g_ptr_array_new_with_free_func(g_free);
    fixture_free(&f);
    return out;
}

static void assert_same(GPtrArray *got, GPtrArray *want, const char *what)
{
    for (guint i = 0; i < got->len && i < want->len; i++)
        if (g_strcmp0(g_ptr_array_index(got, i), g_ptr_array_index(want, i)) != 0)
            g_error("%s: event %u: got '%s', want '%s'", what, i, (char *)g_ptr_array_index(got, i),
                    (char *)g_ptr_array_index(want, i));
    if (got->len != want->len)
        g_error("%s: %u events, want %u", what, got->len, want->len);
}

/* Keep-alive with every framing: Content-Length, chunked with extensions
 * and trailers, 100-continue, HEAD, 204, 304, a pipelined pair, a response
 * read to the close. */
static const conv_msg_t rich[] = {
    { true, "GET /certsrv HTTP/1.1\r\nHost: ca.example.com\r\nUser-Agent: CiscoRA 1.0\r\n\r\n", 0 },
    { false, "HTTP/1.1 401 Unauthorized\r\nContent-Type: text/html\r\nWWW-Authenticate: Negotiate\r\n"
             "WWW-Authenticate: NTLM\r\nContent-Length: 13\r\n\r\nAccess denied", 0 },
    { true, "POST /upload HTTP/1.1\r\nHost: ca.example.com\r\nContent-Type: text/plain\r\n"
            "Expect: 100-continue\r\nContent-Length: 11\r\n\r\n", 0 },
    { false, "HTTP/1.1 100 Continue\r\n\r\n", 0 },
    { true, "hello world", 0 },
    { false, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: text/plain\r\n\r\n"
             "5;ext=1\r\nfirst\r\n6\r\nsecond\r\n0\r\nX-Trailer: yes\r\n\r\n", 0 },
    { true, "HEAD /index.html HTTP/1.1\r\nHost: ca.example.com\r\n\r\n"
            "GET /none HTTP/1.1\r\nHost: ca.example.com\r\n\r\n", 0 },
    { false, "HTTP/1.1 200 OK\r\nContent-Length: 5000\r\nContent-Type: text/html\r\n\r\n"
             "HTTP/1.1 204 No Content\r\n\r\n", 0 },
    { true, "POST /chunky HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
            "3\r\nabc\r\n0\r\n\r\n", 0 },
    { false, "HTTP/1.1 304 Not Modified\r\nContent-Length: 77\r\n\r\n", 0 },
    { true, "\r\nGET /last HTTP/1.0\r\n\r\n", 0 },
    { false, "HTTP/1.0 200 OK\r\nContent-Type: application/octet-stream\r\n\r\nto the close", 0 },
};

static const char *const rich_events[] = {
    "GET /certsrv host=ca.example.com ua=CiscoRA 1.0 req_ct=- req_len=0 authz=- | "
    "401 Unauthorized ct=text/html len=13 www=Negotiate auth=Negotiate pki=certsrv/login kept=0/13",
    "POST /upload host=ca.example.com ua=- req_ct=text/plain req_len=11 authz=- expect | "
    "200 OK ct=text/plain len=11 www=- interim=1/100 auth=-",
    "HEAD /index.html host=ca.example.com ua=- req_ct=- req_len=0 authz=- | 200 OK ct=text/html len=0 www=- auth=-",
    "GET /none host=ca.example.com ua=- req_ct=- req_len=0 authz=- | 204 No Content ct=- len=0 www=- auth=-",
    "POST /chunky host=h ua=- req_ct=- req_len=3 authz=- | 304 Not Modified ct=- len=0 www=- auth=-",
    "GET /last host=- ua=- req_ct=- req_len=0 authz=- | 200 OK ct=application/octet-stream len=12 www=- auth=-",
};

static void test_rich(void)
{
    GPtrArray *got = play(rich, G_N_ELEMENTS(rich), 0, 0);
    for (guint i = 0; i < got->len && i < G_N_ELEMENTS(rich_events); i++)
        g_assert_cmpstr(g_ptr_array_index(got, i), ==, rich_events[i]);
    g_assert_cmpuint(got->len, ==, G_N_ELEMENTS(rich_events));
    g_ptr_array_unref(got);
}

static void test_one_byte_deliveries(void)
{
    GPtrArray *want = play(rich, G_N_ELEMENTS(rich), 0, 0);
    for (size_t piece = 1; piece <= 5; piece++) {
        GPtrArray *got = play(rich, G_N_ELEMENTS(rich), piece, 0);
        char *what = g_strdup_printf("pieces of %zu", piece);
        assert_same(got, want, what);
        g_free(what);
        g_ptr_array_unref(got);
    }
    g_ptr_array_unref(want);
}

/* Every message of the conversation split in two at every position. */
static void test_every_split(void)
{
    GPtrArray *want = play(rich, G_N_ELEMENTS(rich), 0, 0);
    size_t longest = 0;
    for (size_t i = 0; i < G_N_ELEMENTS(rich); i++)
        longest = MAX(longest, msg_len(&rich[i]));
    for (size_t split = 1; split < longest; split++) {
        GPtrArray *got = play(rich, G_N_ELEMENTS(rich), 0, split);
        char *what = g_strdup_printf("split at %zu", split);
        assert_same(got, want, what);
        g_free(what);
        g_ptr_array_unref(got);
    }
    g_ptr_array_unref(want);
}

static void test_pipelining(void)
{
    fixture_t f;
    fixture_init(&f, 64u << 20, 4u << 20);
    send_text(&f, true,
              "GET /one HTTP/1.1\r\nHost: a\r\n\r\n"
              "POST /two HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n\r\nbody"
              "GET /three HTTP/1.1\r\nHost: a\r\n\r\n");
    g_assert_cmpuint(f.flow->http->pending_count, ==, 3);
    next_packet(&f);
    send_text(&f, false,
              "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\none"
              "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n"
              "HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nnot found");
    g_assert_cmpuint(f.flow->http->pending_count, ==, 0);
    static const char *const want[] = {
        "GET /one host=a ua=- req_ct=- req_len=0 authz=- | 200 OK ct=- len=3 www=- auth=-",
        "POST /two host=a ua=- req_ct=- req_len=4 authz=- | 201 Created ct=- len=0 www=- auth=-",
        "GET /three host=a ua=- req_ct=- req_len=0 authz=- | 404 Not Found ct=- len=9 www=- auth=-",
    };
    assert_events(f.rec, want, G_N_ELEMENTS(want));
    /* the event comes at the response's frame, and names the request's */
    g_assert_cmpstr(g_ptr_array_index(f.rec->frames, 0), ==, "2/1 ms=10 waited=-1");
    fixture_free(&f);
}

static void test_continue_and_interim(void)
{
    fixture_t f;
    fixture_init(&f, 64u << 20, 4u << 20);
    send_text(&f, true, "POST /.well-known/est/simpleenroll HTTP/1.1\r\nHost: ces\r\n"
                        "Expect: 100-continue\r\nContent-Length: 4\r\n\r\n");
    next_packet(&f);
    send_text(&f, false, "HTTP/1.1 100 Continue\r\n\r\n");
    g_assert_cmpuint(f.rec->events->len, ==, 0); /* the 100 is not the answer */
    next_packet(&f);
    send_text(&f, true, "abcd");
    next_packet(&f);
    send_text(&f, false, "HTTP/1.1 102 Processing\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n");
    g_assert_cmpuint(f.rec->events->len, ==, 0);
    next_packet(&f);
    send_text(&f, false, "HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n");
    g_assert_cmpuint(f.rec->events->len, ==, 1);
    g_assert_cmpstr(g_ptr_array_index(f.rec->events, 0), ==,
                    "POST /.well-known/est/simpleenroll host=ces ua=- req_ct=- req_len=4 authz=- expect | "
                    "401 Unauthorized ct=- len=0 www=- interim=3/100/102/103 auth=- pki=est/simpleenroll kept=4/0");
    /* response time: from the complete request (frame 3) to the answer (frame 5) */
    g_assert_cmpstr(g_ptr_array_index(f.rec->frames, 0), ==, "5/3 ms=20 waited=-1");
    g_assert_cmpuint(f.flow->http->interim_responses, ==, 3);
    fixture_free(&f);
}

static void test_response_without_request(void)
{
    fixture_t f;
    fixture_init(&f, 64u << 20, 4u << 20);
    /* capture started late: the end of a body, then responses */
    send_text(&f, false, "end of an earlier body\r\n"
                         "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    g_assert_cmpuint(f.rec->events->len, ==, 1);
    next_packet(&f);
    send_text(&f, true, "GET /next HTTP/1.1\r\nHost: a\r\n\r\n");
    next_packet(&f);
    send_text(&f, false, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx");
    static const char *const want[] = {
        "(no request) | 200 OK ct=- len=2 www=- auth=- no_request",
        "GET /next host=a ua=- req_ct=- req_len=0 authz=- | 200 OK ct=- len=1 www=- auth=-",
    };
    assert_events(f.rec, want, G_N_ELEMENTS(want));
    g_assert_cmpuint(f.flow->http->dir[DIR_TO_CLIENT].resyncs, ==, 1);
    fixture_free(&f);
}

static void test_request_without_response(void)
{
    fixture_t f;
    fixture_init(&f, 64u << 20, 4u << 20);
    send_text(&f, true, "GET /certsrv/certnew.cer?ReqID=12&Enc=b64 HTTP/1.1\r\nHost: ca\r\n\r\n");
    f.a.packet.pcap_cnt = 40;
    f.a.packet.ts_us = T0 + 10500000; /* the client gives up 10.5 s later */
    fixture_end(&f);
    static const char *const want[] = {
        "GET /certsrv/certnew.cer?ReqID=12&Enc=b64 host=ca ua=- req_ct=- req_len=0 authz=- | (no response) "
        "auth=- no_response pki=certsrv/cert_retrieval kept=0/0",
    };
    assert_events(f.rec, want, G_N_ELEMENTS(want));
    g_assert_cmpstr(g_ptr_array_index(f.rec->frames, 0), ==, "40/1 ms=-1 waited=10500");
    fixture_free(&f);
}

static void test_head_204_304(void)
{
    fixture_t f;
    fixture_init(&f, 64u << 20, 4u << 20);
    send_text(&f, true, "HEAD /a HTTP/1.1\r\n\r\n");
    send_text(&f, false, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n");
    send_text(&f, true, "GET /b HTTP/1.1\r\n\r\n");
    send_text(&f, false, "HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n");
    send_text(&f, true, "GET /c HTTP/1.1\r\nIf-None-Match: \"x\"\r\n\r\n");
    send_text(&f, false, "HTTP/1.1 304 Not Modified\r\n\r\n");
    send_text(&f, true, "GET /d HTTP/1.1\r\n\r\n");
    send_text(&f, false, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    static const char *const want[] = {
        "HEAD /a host=- ua=- req_ct=- req_len=0 authz=- | 200 OK ct=- len=0 www=- auth=-",
        "GET /b host=- ua=- req_ct=- req_len=0 authz=- | 204 No Content ct=- len=0 www=- auth=-",
        "GET /c host=- ua=- req_ct=- req_len=0 authz=- | 304 Not Modified ct=- len=0 www=- auth=-",
        "GET /d host=- ua=- req_ct=- req_len=0 authz=- | 200 OK ct=- len=2 www=- auth=-",
    };
    assert_events(f.rec, want, G_N_ELEMENTS(want));
    fixture_free(&f);
}

static void test_malformed_length(void)
{
    fixture_t f;
    fixture_init(&f, 64u << 20, 4u << 20);
    /* a request whose length cannot be trusted: the next request line is found */
    send_text(&f, true, "POST /x HTTP/1.1\r\nContent-Length: 12abc\r\n\r\nsome body\r\n"
                        "GET /y HTTP/1.1\r\n\r\n");
    /* a response with two lengths: reported, the next response found */
    send_text(&f, false, "HTTP/1.1 400 Bad Request\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello\r\n"
                         "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    static const char *const want[] = {
        "POST /x host=- ua=- req_ct=- req_len=0 authz=- req_incomplete | 400 Bad Request ct=- len=0 www=- "
        "resp_incomplete auth=- bad_length",
        "GET /y host=- ua=- req_ct=- req_len=0 authz=- | 200 OK ct=- len=0 www=- auth=-",
    };
    assert_events(f.rec, want, G_N_ELEMENTS(want));
    g_assert_cmpuint(f.flow->http->malformed_length, ==, 2);
    fixture_free(&f);
}

static GString *oversized_request(void)
{
    GString *s = g_string_new("GET /huge HTTP/1.1\r\nHost: a\r\n");
    while (s->len < HTTP_HEADER_MAX + 5000)
        g_string_append(s, "X-Filler: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n");
    g_string_append(s, "\r\nGET /after HTTP/1.1\r\nHost: a\r\n\r\n");
    return s;
}

static void test_oversized_header(void)
{
    GString *s = oversized_request();
    for (size_t piece = 0; piece <= 1000; piece += 1000) {
        fixture_t f;
        fixture_init(&f, 64u << 20, 4u << 20);
        if (!piece) {
            deliver(&f, true, s->str, s->len);
        } else {
            for (size_t off = 0; off < s->len; off += piece) {
                deliver(&f, true, s->str + off, MIN(piece, s->len - off));
                g_assert_cmpuint(f.flow->memory.in_use, <=, 2 * HTTP_HEADER_MAX);
            }
        }
        g_assert_cmpuint(f.flow->http->oversize_headers, ==, 1);
        send_text(&f, false, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
        static const char *const want[] = {
            "GET /after host=a ua=- req_ct=- req_len=0 authz=- | 200 OK ct=- len=0 www=- auth=-",
        };
        assert_events(f.rec, want, G_N_ELEMENTS(want));
        fixture_free(&f);
    }
    g_string_free(s, TRUE);
}

static void test_body_cap(void)
{
    fixture_t f;
    fixture_init(&f, 64u << 20, 4u << 20);
    f.a.limits.http_body_cap = 1024;
    GString *body = g_string_new(NULL);
    while (body->len < 5000)
        g_string_append(body, "Mode=newreq&CertRequest=xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx&");
    char *head = g_strdup_printf("POST /certsrv/certfnsh.asp HTTP/1.1\r\nHost: ca\r\n"
                                 "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: %zu\r\n\r\n",
                                 body->len);
    send_text(&f, true, head);
    for (size_t off = 0; off < body->len; off += 700) {
        deliver(&f, true, body->str + off, MIN(700, body->len - off));
        /* what is held stays within the cap (and the growth step) */
        g_assert_cmpuint(f.flow->memory.in_use, <=, 1024);
    }
    g_assert_cmpuint(f.flow->memory.in_use, >, 0);
    next_packet(&f);
    char *resp = g_strdup_printf("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: %zu\r\n\r\n",
                                 body->len);
    send_text(&f, false, resp);
    deliver(&f, false, body->str, body->len);
    /* the exchange went out: its bodies are given back */
    g_assert_cmpuint(f.rec->events->len, ==, 1);
    g_assert_cmpuint(f.flow->memory.in_use, ==, 0);
    char *want = g_strdup_printf("POST /certsrv/certfnsh.asp host=ca ua=- req_ct=application/x-www-form-urlencoded "
                                 "req_len=%zu authz=- | 200 OK ct=text/html len=%zu www=- auth=- req_cut resp_cut "
                                 "pki=certsrv/submission kept=1024/1024",
                                 body->len, body->len);
    g_assert_cmpstr(g_ptr_array_index(f.rec->events, 0), ==, want);
    g_assert_cmpuint(f.flow->http->bodies_truncated, ==, 2);

    /* a body no PKI dissector wants is never held */
    send_text(&f, true, "POST /other HTTP/1.1\r\nContent-Length: 5000\r\n\r\n");
    deliver(&f, true, body->str, body->len);
    g_assert_cmpuint(f.flow->memory.in_use, ==, 0);
    g_free(want);
    g_free(resp);
    g_free(head);
    g_string_free(body, TRUE);
    fixture_end(&f);
    g_assert_cmpuint(f.rec->events->len, ==, 2); /* /other: no response */
    fixture_free(&f);
}

static void test_gaps(void)
{
    fixture_t f;
    fixture_init(&f, 64u << 20, 4u << 20);
    send_text(&f, true, "GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n");
    /* a gap in the first response's body: reported, the next one found */
    send_text(&f, false, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nfirst part");
    http_flow_gap(&f.a, f.flow, DIR_TO_CLIENT);
    g_assert_cmpuint(f.rec->events->len, ==, 1);
    send_text(&f, false, "rest of the body\r\nHTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
    /* a gap in a request's header: its response has no request */
    send_text(&f, true, "GET /c HTTP/1.1\r\nHo");
    http_flow_gap(&f.a, f.flow, DIR_TO_SERVER);
    send_text(&f, false, "HTTP/1.1 500 Error\r\nContent-Length: 0\r\n\r\n");
    /* a gap in a response's header: its request loses the response */
    send_text(&f, true, "GET /d HTTP/1.1\r\n\r\n");
    send_text(&f, false, "HTTP/1.1 20");
    http_flow_gap(&f.a, f.flow, DIR_TO_CLIENT);
    /* a gap in a request body: the request stays incomplete */
    send_text(&f, true, "POST /e HTTP/1.1\r\nContent-Length: 50\r\n\r\nabc");
    http_flow_gap(&f.a, f.flow, DIR_TO_SERVER);
    send_text(&f, false, "HTTP/1.1 413 Too Large\r\nContent-Length: 0\r\n\r\n");
    static const char *const want[] = {
        "GET /a host=- ua=- req_ct=- req_len=0 authz=- | 200 OK ct=- len=10 www=- resp_incomplete auth=- resp_gap",
        "GET /b host=- ua=- req_ct=- req_len=0 authz=- | 404 Not Found ct=- len=0 www=- auth=-",
        "(no request) | 500 Error ct=- len=0 www=- auth=- no_request request_lost",
        "GET /d host=- ua=- req_ct=- req_len=0 authz=- | (no response) auth=- response_lost",
        "POST /e host=- ua=- req_ct=- req_len=3 authz=- req_incomplete | 413 Too Large ct=- len=0 www=- auth=- req_gap",
    };
    assert_events(f.rec, want, G_N_ELEMENTS(want));
    g_assert_cmpuint(f.flow->http->dir[0].gaps + f.flow->http->dir[1].gaps, ==, 4);
    /* gaps are not framing losses */
    g_assert_cmpuint(f.flow->http->dir[DIR_TO_CLIENT].resyncs, ==, 0);
    fixture_free(&f);
}

static void test_garbage_and_give_up(void)
{
    fixture_t f;
    fixture_init(&f, 64u << 20, 4u << 20);
    /* bytes that are not HTTP, then a request at a line start; "GET " in
     * the middle of a line is not taken for one */
    send_text(&f, true, "\x16\x03\x01 not http at all, GET /no HTTP/1.1\r\nGET /yes HTTP/1.1\r\n\r\n");
    send_text(&f, false, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    static const char *const want[] = {
        "GET /yes host=- ua=- req_ct=- req_len=0 authz=- | 200 OK ct=- len=0 www=- auth=-",
    };
    assert_events(f.rec, want, G_N_ELEMENTS(want));
    /* a direction that keeps breaking is given up */
    for (int i = 0; i < HTTP_MAX_RESYNCS + 2; i++)
        send_text(&f, true, "GET / HTTP/1.1\r\nContent-Length: x\r\n\r\n");
    g_assert_cmpint(f.flow->http->dir[DIR_TO_SERVER].state, ==, HTTP_DIR_GIVEN_UP);
    fixture_free(&f);
}

static void test_tunnel(void)
{
    fixture_t f;
    fixture_init(&f, 64u << 20, 4u << 20);
    send_text(&f, true, "CONNECT ca.example.com:443 HTTP/1.1\r\nHost: ca.example.com:443\r\n\r\n");
    send_text(&f, false, "HTTP/1.1 200 Connection established\r\n\r\n");
    send_text(&f, true, "\x16\x03\x01\x00\x05hello GET / HTTP/1.1\r\n\r\n");
    send_text(&f, false, "HTTP/1.1 200 OK\r\n\r\n");
    g_assert_cmpuint(f.rec->events->len, ==, 1);
    g_assert_true(f.flow->http->upgraded);
    fixture_free(&f);

    fixture_init(&f, 64u << 20, 4u << 20);
    send_text(&f, true, "GET /ws HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n");
    send_text(&f, false, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\x81\x05hello");
    g_assert_cmpuint(f.rec->events->len, ==, 1);
    g_assert_cmpstr(g_ptr_array_index(f.rec->events, 0), ==,
                    "GET /ws host=- ua=- req_ct=- req_len=0 authz=- | 101 Switching Protocols ct=- len=0 www=- auth=-");
    fixture_free(&f);
}

static void test_pending_cap(void)
{
    fixture_t f;
    fixture_init(&f, 64u << 20, 4u << 20);
    for (int i = 0; i < HTTP_MAX_PENDING + 3; i++) {
        char *req = g_strdup_printf("GET /%d HTTP/1.1\r\n\r\n", i);
        send_text(&f, true, req);
        g_free(req);
    }
    g_assert_cmpuint(f.rec->events->len, ==, 3);
    g_assert_cmpstr(g_ptr_array_index(f.rec->events, 0), ==,
                    "GET /0 host=- ua=- req_ct=- req_len=0 authz=- | (no response) auth=- no_response overflow");
    g_assert_cmpuint(f.flow->http->queue_overflows, ==, 3);
    send_text(&f, false, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    g_assert_cmpstr(g_ptr_array_index(f.rec->events, 3), ==,
                    "GET /3 host=- ua=- req_ct=- req_len=0 authz=- | 200 OK ct=- len=0 www=- auth=-");
    fixture_end(&f);
    g_assert_cmpuint(f.rec->events->len, ==, HTTP_MAX_PENDING + 3);
    fixture_free(&f);
}

static void test_memory_refused(void)
{
    /* no room for the connection state: nothing followed, nothing leaks */
    fixture_t f;
    fixture_init(&f, sizeof(http_conn_t) - 1, 4u << 20);
    send_text(&f, true, "GET / HTTP/1.1\r\n\r\n");
    g_assert_null(f.flow->http);
    g_assert_cmpuint(f.a.memcap.hits[CAP_GLOBAL_MEMORY], >, 0);
    fixture_free(&f);
    /* room for the state but not for an exchange: framed, not reported */
    fixture_init(&f, sizeof(http_conn_t) + sizeof(http_exchange_t) / 2, 4u << 20);
    send_text(&f, true, "GET / HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\n");
    send_text(&f, false, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    g_assert_cmpuint(f.rec->events->len, ==, 0);
    g_assert_cmpuint(f.flow->http->exchanges_not_kept, ==, 2);
    g_assert_cmpuint(f.flow->http->pending_count, ==, 0);
    fixture_free(&f);
    /* a tiny flow cap: a header block spanning deliveries cannot be held */
    fixture_init(&f, 64u << 20, 100);
    send_text(&f, true, "GET /a HTTP/1.1\r\nHost: a\r\n");
    send_text(&f, true, "\r\nGET /b HTTP/1.1\r\n\r\n");
    g_assert_cmpuint(f.a.memcap.hits[CAP_FLOW_MEMORY], >, 0);
    g_assert_cmpuint(f.flow->http->pending_count, ==, 1); /* /b, found again */
    fixture_free(&f);
}

static void test_auth_never_kept(void)
{
    static const char ntlm_token[] = "TlRMTVNTUAADAAAAGAAYAEgAAAAYABgAYAAAAAwADAB4AAAACAAIAIQAAAAWABYAjAAAAAAAAACiAAAABYKIogYBsR0AAAAP";
    static const char challenge[] = "TlRMTVNTUAACAAAADAAMADgAAAAFgomi3kjBL4HfjO0AAAAAAAAAAJAAkABEAAAABgGxHQAAAA9DAEEARABJAFMAUwA=";
    fixture_t f;
    fixture_init(&f, 64u << 20, 4u << 20);
    eve_file_t events;
    event_sink_t *eve = eve_file_open(&events, &f.a, "http-auth-XXXXXX");
    f.rec->secret = ntlm_token + 10;
    char *req = g_strdup_printf("GET /certsrv HTTP/1.1\r\nHost: ca\r\nAuthorization: NTLM %s\r\n\r\n", ntlm_token);
    send_text(&f, true, req);
    char *resp = g_strdup_printf("HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: NTLM %s\r\n"
                                 "Content-Length: 0\r\n\r\n",
                                 challenge);
    f.rec->secret = challenge + 10;
    send_text(&f, false, resp);
    f.rec->secret = NULL;
    eve->finish(eve);
    g_assert_cmpuint(f.rec->events->len, ==, 1);
    g_assert_cmpstr(g_ptr_array_index(f.rec->events, 0), ==,
                    "GET /certsrv host=ca ua=- req_ct=- req_len=0 authz=NTLM | 401 Unauthorized ct=- len=0 www=NTLM "
                    "auth=NTLM pki=certsrv/login kept=0/0");
    char *text = read_text_file(events.path);
    g_assert_null(strstr(text, "TlRMTVNT"));
    g_assert_nonnull(strstr(text, "\"auth\":\"NTLM\""));
    g_free(text);
    g_free(req);
    g_free(resp);
    fixture_free(&f);
    eve_file_remove(&events);
}

/* ------------------------------------------------------------------ */
/* PKI: a CSR submitted to certsrv, the certificate fetched later       */

typedef struct pki_material {
    char *csr_pem;
    char *cert_pem;
    char *other_cert_pem; /* same subject, another key */
} pki_material_t;

static char *bio_text(BIO *bio)
{
    char *data = NULL;
    long n = BIO_get_mem_data(bio, &data);
    g_assert_cmpint(n, >, 0);
    char *out = g_strndup(data, (gsize)n);
    BIO_free(bio);
    return out;
}

static char *csr_pem(EVP_PKEY *key, X509_NAME *subject)
{
    X509_REQ *req = X509_REQ_new();
    g_assert_nonnull(req);
    g_assert_true(X509_REQ_set_version(req, 0));
    g_assert_true(X509_REQ_set_subject_name(req, subject));
    g_assert_true(X509_REQ_set_pubkey(req, key));
    g_assert_cmpint(X509_REQ_sign(req, key, EVP_sha256()), >, 0);
    BIO *bio = BIO_new(BIO_s_mem());
    g_assert_true(PEM_write_bio_X509_REQ(bio, req));
    X509_REQ_free(req);
    return bio_text(bio);
}

static char *cert_pem(EVP_PKEY *key, const X509_NAME *subject, const X509_NAME *issuer, EVP_PKEY *ca_key)
{
    certgen_spec_t spec = { 0 };
    spec.subject = subject;
    spec.subject_key = key;
    spec.issuer = issuer;
    spec.signer = ca_key;
    X509 *cert = certgen_cert(&spec);
    BIO *bio = BIO_new(BIO_s_mem());
    g_assert_true(PEM_write_bio_X509(bio, cert));
    X509_free(cert);
    return bio_text(bio);
}

static void pki_material_make(pki_material_t *m)
{
    EVP_PKEY *ca_key = certgen_key_ec();
    EVP_PKEY *key = certgen_key_rsa(2048);
    EVP_PKEY *other = certgen_key_rsa(2048);
    X509_NAME *subject = certgen_name("O", "enrollmon TEST", "CN", "SEP001122334455", NULL);
    X509_NAME *issuer = certgen_name("CN", "enrollmon Test Issuing CA", NULL);
    m->csr_pem = csr_pem(key, subject);
    m->cert_pem = cert_pem(key, subject, issuer, ca_key);
    m->other_cert_pem = cert_pem(other, subject, issuer, ca_key);
    X509_NAME_free(subject);
    X509_NAME_free(issuer);
    EVP_PKEY_free(ca_key);
    EVP_PKEY_free(key);
    EVP_PKEY_free(other);
}

static void pki_material_free(pki_material_t *m)
{
    g_free(m->csr_pem);
    g_free(m->cert_pem);
    g_free(m->other_cert_pem);
}

static char *form_encode(const char *text)
{
    GString *s = g_string_new(NULL);
    for (const char *p = text; *p; p++) {
        if (g_ascii_isalnum(*p) || *p == '-' || *p == '.' || *p == '_')
            g_string_append_c(s, *p);
        else if (*p == ' ')
            g_string_append_c(s, '+');
        else
            g_string_append_printf(s, "%%%02X", (unsigned char)*p);
    }
    return g_string_free(s, FALSE);
}

/* Submission, answer page, then the certificate: one event each. */
/* The submission: the form with the CSR, and the answer page naming ReqID 77. */
static void play_certsrv_submission(fixture_t *f, const pki_material_t *m)
{
    char *enc = form_encode(m->csr_pem);
    char *form = g_strdup_printf("Mode=newreq&CertRequest=%s&CertAttrib=CertificateTemplate:CiscoRA%%0D%%0A"
                                 "&TargetStoreFlags=0&SaveCert=yes",
                                 enc);
    char *req = g_strdup_printf("POST /certsrv/certfnsh.asp HTTP/1.1\r\nHost: ca\r\nUser-Agent: CiscoRA 1.0\r\n"
                                "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: %zu\r\n\r\n%s",
                                strlen(form), form);
    /* in pieces, as a real segmentation would */
    for (size_t off = 0, len = strlen(req); off < len; off += 536)
        deliver(f, true, req + off, MIN(536, len - off));
    next_packet(f);
    static const char page[] =
        "<html><body><P ID=locInfo>The certificate you requested was issued to you.</P>"
        "<a href=\"certnew.cer?ReqID=77&amp;Enc=b64\">Download certificate</a></body></html>";
    char *resp = g_strdup_printf("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nTransfer-Encoding: chunked\r\n\r\n"
                                 "%zx\r\n%s\r\n0\r\n\r\n",
                                 strlen(page), page);
    send_text(f, false, resp);
    next_packet(f);
    g_free(resp);
    g_free(req);
    g_free(form);
    g_free(enc);
}

static void play_certsrv_retrieval(fixture_t *f, const char *cert)
{
    send_text(f, true, "GET /certsrv/certnew.cer?ReqID=77&Enc=b64 HTTP/1.1\r\nHost: ca\r\n\r\n");
    next_packet(f);
    char *cer = g_strdup_printf("HTTP/1.1 200 OK\r\nContent-Type: application/pkix-cert\r\nContent-Length: %zu\r\n\r\n%s",
                                strlen(cert), cert);
    send_text(f, false, cer);
    g_free(cer);
}

static void play_certsrv(fixture_t *f, const pki_material_t *m, const char *cert)
{
    play_certsrv_submission(f, m);
    play_certsrv_retrieval(f, cert);
}

typedef struct pki_seen {
    event_sink_t base;
    unsigned count;
    pki_record_t rec[2];
    bool match_known[2];
    bool matches[2];
    bool from_earlier[2];
    char csr_md5[2][CERT_MODULUS_MD5_HEX_LEN + 1];
    char cert_md5[2][CERT_MODULUS_MD5_HEX_LEN + 1];
} pki_seen_t;

static void pki_seen_http(event_sink_t *base, const flow_t *flow, const http_exchange_t *ex,
                          const packet_info_t *at)
{
    pki_seen_t *s = (pki_seen_t *)base;
    (void)flow;
    (void)at;
    if (s->count < 2 && ex->pki_dissected) {
        unsigned i = s->count;
        /* the scalar facts only: the certificates' text belongs to the exchange */
        s->rec[i].kind = ex->pki.kind;
        s->rec[i].step = ex->pki.step;
        s->rec[i].req_id = ex->pki.req_id;
        s->rec[i].has_csr = ex->pki.has_csr;
        s->rec[i].has_certificate = ex->pki.has_certificate;
        s->rec[i].outcome = ex->pki.outcome;
        memcpy(s->rec[i].template_name, ex->pki.template_name, sizeof(s->rec[i].template_name));
        s->match_known[i] = ex->cert_match_known;
        s->matches[i] = ex->cert_matches_csr;
        s->from_earlier[i] = ex->csr_from_earlier;
        memcpy(s->csr_md5[i], ex->csr_modulus_md5, sizeof(s->csr_md5[i]));
        memcpy(s->cert_md5[i], ex->cert_modulus_md5, sizeof(s->cert_md5[i]));
    }
    s->count++;
}

static void pki_seen_destroy(event_sink_t *base)
{
    g_free(base);
}

static void test_certsrv_key_match(void)
{
    pki_material_t m;
    pki_material_make(&m);
    for (int mismatch = 0; mismatch < 2; mismatch++) {
        fixture_t f;
        fixture_init(&f, 64u << 20, 4u << 20);
        pki_seen_t *seen = g_new0(pki_seen_t, 1);
        seen->base.http = pki_seen_http;
        seen->base.destroy = pki_seen_destroy;
        flow_fixture_add_sink(&f.a, &seen->base);
        eve_file_t events;
        event_sink_t *eve = eve_file_open(&events, &f.a, "http-eve-XXXXXX");

        play_certsrv(&f, &m, mismatch ? m.other_cert_pem : m.cert_pem);
        fixture_end(&f);
        eve->finish(eve);
        g_assert_cmpuint(seen->count, ==, 2);
        /* the submission: its CSR, remembered by the connection */
        g_assert_cmpint(seen->rec[0].kind, ==, PKI_CERTSRV);
        g_assert_cmpint(seen->rec[0].step, ==, PKI_STEP_SUBMISSION);
        g_assert_true(seen->rec[0].has_csr);
        g_assert_cmpstr(seen->rec[0].template_name, ==, "CiscoRA");
        g_assert_cmpuint(strlen(seen->csr_md5[0]), ==, 32);
        g_assert_false(seen->match_known[0]);
        /* the retrieval: the certificate against that CSR */
        g_assert_cmpint(seen->rec[1].step, ==, PKI_STEP_CERT_RETRIEVAL);
        g_assert_cmpint(seen->rec[1].req_id, ==, 77);
        g_assert_true(seen->rec[1].has_certificate);
        g_assert_true(seen->from_earlier[1]);
        g_assert_cmpstr(seen->csr_md5[1], ==, seen->csr_md5[0]);
        g_assert_cmpuint(strlen(seen->cert_md5[1]), ==, 32);
        g_assert_true(seen->match_known[1]);
        g_assert_cmpint(seen->matches[1], ==, !mismatch);

        char *text = read_text_file(events.path);
        char **lines = g_strsplit(text, "\n", -1);
        g_assert_cmpuint(g_strv_length(lines), ==, 3);
        g_assert_nonnull(strstr(lines[0], "\"event_type\":\"http\""));
        g_assert_nonnull(strstr(lines[0], "\"pki\":{\"kind\":\"certsrv\",\"step\":\"submission\""));
        g_assert_nonnull(strstr(lines[0], "\"template\":\"CiscoRA\""));
        g_assert_nonnull(strstr(lines[0], "\"csr_subject\":\"O=enrollmon TEST, CN=SEP001122334455\""));
        g_assert_nonnull(strstr(lines[0], "\"request_content_type\":\"application/x-www-form-urlencoded\""));
        g_assert_nonnull(strstr(lines[0], "\"user_agent\":\"CiscoRA 1.0\""));
        g_assert_nonnull(strstr(lines[0], "\"cert_matches_csr\":null"));
        g_assert_nonnull(strstr(lines[1], "\"step\":\"cert_retrieval\",\"req_id\":77"));
        g_assert_nonnull(strstr(lines[1], "\"certificate\":{\"subject\":\"O=enrollmon TEST, CN=SEP001122334455\""));
        char *csr_field = g_strdup_printf("\"csr_modulus_md5\":\"%s\"", seen->csr_md5[0]);
        char *cert_field = g_strdup_printf("\"cert_modulus_md5\":\"%s\"", seen->cert_md5[1]);
        g_assert_nonnull(strstr(lines[0], csr_field));
        g_assert_nonnull(strstr(lines[1], csr_field));
        g_assert_nonnull(strstr(lines[1], cert_field));
        g_assert_nonnull(strstr(lines[1], mismatch ? "\"cert_matches_csr\":false" : "\"cert_matches_csr\":true"));
        g_free(csr_field);
        g_free(cert_field);
        g_strfreev(lines);
        g_free(text);
        fixture_free(&f);
        eve_file_remove(&events);
    }
    pki_material_free(&m);
}

/* Mangled conversations (bytes changed, inserted and dropped, random
 * pieces, gaps): nothing breaks, memory stays bounded and all comes back. */
/* The certificate fetched on a new connection (as after a pending
 * request): matched through the run's table of ReqIDs, and only at the CA
 * that was given the request. */
/* Ends the flow; the run's tables may still hold memory, the flow not. */
static void end_connection(fixture_t *f)
{
    f->flow->last_ts_us = f->a.packet.ts_us;
    f->flow->last_packet = f->a.packet;
    http_flow_end(&f->a, f->flow);
    g_assert_null(f->flow->http);
    g_assert_cmpuint(f->flow->memory.in_use, ==, 0);
}

static void test_certsrv_match_across_connections(void)
{
    pki_material_t m;
    pki_material_make(&m);
    for (int other_ca = 0; other_ca < 2; other_ca++) {
        fixture_t f;
        fixture_init(&f, 64u << 20, 4u << 20);
        f.a.certsrv_requests = certsrv_requests_new(&f.a.memcap, 0);
        pki_seen_t *seen = g_new0(pki_seen_t, 1);
        seen->base.http = pki_seen_http;
        seen->base.destroy = pki_seen_destroy;
        flow_fixture_add_sink(&f.a, &seen->base);

        play_certsrv_submission(&f, &m);
        end_connection(&f);
        /* a second connection from another port, maybe to another CA */
        f.flow->id++;
        f.flow->client.port++;
        if (other_ca)
            f.flow->server.addr.bytes[3]++;
        play_certsrv_retrieval(&f, m.cert_pem);
        end_connection(&f);

        g_assert_cmpuint(seen->count, ==, 2);
        g_assert_cmpint(seen->rec[0].req_id, ==, 77);
        g_assert_cmpint(seen->rec[1].step, ==, PKI_STEP_CERT_RETRIEVAL);
        g_assert_cmpuint(strlen(seen->cert_md5[1]), ==, 32);
        if (other_ca) {
            g_assert_false(seen->match_known[1]);
        } else {
            g_assert_true(seen->from_earlier[1]);
            g_assert_cmpstr(seen->csr_md5[1], ==, seen->csr_md5[0]);
            g_assert_true(seen->match_known[1]);
            g_assert_true(seen->matches[1]);
        }
        certsrv_requests_free(f.a.certsrv_requests);
        g_assert_cmpuint(f.a.memcap.in_use, ==, 0);
        fixture_free(&f);
    }
    pki_material_free(&m);
}

/* The table forgets the oldest request numbers first, and says so. */
static void test_certsrv_requests_bounded(void)
{
    memcap_t mc;
    memcap_init(&mc, 1u << 20, 1u << 20);
    certsrv_requests_t *t = certsrv_requests_new(&mc, 3);
    ip_addr_t ca = { .family = 4, .bytes = { 10, 1, 1, 40 } };
    static const char md5[] = "0123456789abcdef0123456789abcdef";
    for (long id = 1; id <= 5; id++)
        certsrv_requests_note(t, &ca, id, md5);
    g_assert_null(certsrv_requests_csr(t, &ca, 1));
    g_assert_null(certsrv_requests_csr(t, &ca, 2));
    g_assert_cmpstr(certsrv_requests_csr(t, &ca, 5), ==, md5);
    g_assert_null(certsrv_requests_csr(t, &ca, -1));
    g_assert_cmpuint(mc.hits[CAP_CERTSRV_REQUESTS], ==, 2);
    certsrv_requests_free(t);
    g_assert_cmpuint(mc.in_use, ==, 0);
}

static void test_mangled(void)
{
    GRand *rng = g_rand_new_with_seed(20261122);
    for (int round = 0; round < 400; round++) {
        fixture_t f;
        fixture_init(&f, 64u << 20, 4u << 20);
        f.a.limits.http_body_cap = 64;
        for (size_t i = 0; i < G_N_ELEMENTS(rich); i++) {
            const conv_msg_t *m = &rich[i];
            GByteArray *b = g_byte_array_new();
            g_byte_array_append(b, (const guint8 *)m->text, (guint)msg_len(m));
            int edits = g_rand_int_range(rng, 0, 4);
            for (int e = 0; e < edits && b->len > 1; e++) {
                guint at = (guint)g_rand_int_range(rng, 0, (gint32)b->len);
                switch (g_rand_int_range(rng, 0, 3)) {
                case 0:
                    b->data[at] = (guint8)g_rand_int_range(rng, 0, 256);
                    break;
                case 1: {
                    static const char *const bits[] = { "\r\n", "\n", "GET / HTTP/1.1\r\n", "HTTP/1.1 200 OK\r\n",
                                                        "Content-Length: 3\r\n", "0\r\n\r\n", ";" };
                    const char *bit = bits[g_rand_int_range(rng, 0, G_N_ELEMENTS(bits))];
                    GByteArray *n = g_byte_array_new();
                    g_byte_array_append(n, b->data, at);
                    g_byte_array_append(n, (const guint8 *)bit, (guint)strlen(bit));
                    g_byte_array_append(n, b->data + at, b->len - at);
                    g_byte_array_free(b, TRUE);
                    b = n;
                    break;
                }
                default:
                    g_byte_array_remove_index(b, at);
                    break;
                }
            }
            for (guint off = 0; off < b->len;) {
                guint n = (guint)g_rand_int_range(rng, 1, 40);
                if (n > b->len - off)
                    n = b->len - off;
                deliver(&f, m->to_server, b->data + off, n);
                off += n;
                if (g_rand_int_range(rng, 0, 50) == 0)
                    http_flow_gap(&f.a, f.flow, m->to_server ? DIR_TO_SERVER : DIR_TO_CLIENT);
                g_assert_cmpuint(f.flow->memory.in_use, <=, 2 * HTTP_HEADER_MAX);
            }
            g_byte_array_free(b, TRUE);
            next_packet(&f);
        }
        fixture_free(&f); /* ends the flow: memory back to 0 */
    }
    g_rand_free(rng);
}

/* ------------------------------------------------------------------ */
/* The event                                                           */

static void test_eve(void)
{
    fixture_t f;
    fixture_init(&f, 64u << 20, 4u << 20);
    eve_file_t events;
    event_sink_t *eve = eve_file_open(&events, &f.a, "http-eve-XXXXXX");
    f.a.packet.pcap_file = "capture.pcapng";
    send_text(&f, false, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    next_packet(&f);
    send_text(&f, true, "GET /certsrv/ HTTP/1.1\r\nHost: ca.example.com\r\nUser-Agent: CiscoRA 1.0\r\n"
                        "Authorization: Negotiate YIIGhgYGKwYBBQUCoIIGejCCBnag\r\n\r\n");
    f.a.packet.pcap_cnt = 7;
    f.a.packet.ts_us += 1234000;
    send_text(&f, false, "HTTP/1.1 401 Unauthorized\r\nContent-Type: text/html\r\n"
                         "WWW-Authenticate: NTLM\r\nContent-Length: 4\r\n\r\ndeny");
    next_packet(&f);
    send_text(&f, true, "POST /cgi-bin/pkiclient.exe?operation=PKIOperation HTTP/1.0\r\n"
                        "Content-Type: application/x-pki-message\r\nContent-Length: 3\r\n\r\nabc");
    f.a.packet.pcap_cnt = 20;
    f.a.packet.ts_us += 10000000;
    fixture_end(&f);
    eve->finish(eve);
    check_json_lines(events.path);

    char *text = read_text_file(events.path);
    char **lines = g_strsplit(text, "\n", -1);
    g_assert_cmpuint(g_strv_length(lines), ==, 4);
    for (int i = 0; i < 3; i++) {
        g_assert_nonnull(strstr(lines[i], "\"event_type\":\"http\""));
        g_assert_nonnull(strstr(lines[i], "\"flow_id\":9"));
        g_assert_nonnull(strstr(lines[i], "\"src_ip\":\"10.1.1.30\",\"src_port\":49152,"
                                          "\"dest_ip\":\"10.1.1.40\",\"dest_port\":80,\"proto\":\"TCP\""));
    }
    /* a response without its request */
    g_assert_nonnull(strstr(lines[0], "\"pcap_cnt\":1,"));
    g_assert_nonnull(strstr(lines[0], "\"http\":{\"request\":null,\"no_request\":true,\"method\":null,"
                                      "\"uri\":null,\"host\":null,\"user_agent\":null,\"status\":200,"));
    g_assert_nonnull(strstr(lines[0], "\"length\":2,"));
    g_assert_nonnull(strstr(lines[0], "\"auth\":null"));
    g_assert_null(strstr(lines[0], "pki"));
    /* a login refused: the request's scheme is the auth */
    g_assert_nonnull(strstr(lines[1], "\"pcap_cnt\":7,"));
    g_assert_nonnull(strstr(lines[1], "\"http\":{\"method\":\"GET\",\"uri\":\"/certsrv/\",\"host\":\"ca.example.com\","
                                      "\"user_agent\":\"CiscoRA 1.0\",\"protocol\":\"HTTP/1.1\",\"status\":401,"
                                      "\"reason\":\"Unauthorized\",\"content_type\":\"text/html\",\"length\":4,"
                                      "\"auth\":\"Negotiate\",\"request_content_type\":null,\"request_length\":0,"
                                      "\"authorization\":\"Negotiate\",\"request_pcap_cnt\":2,"
                                      "\"www_authenticate\":\"NTLM\",\"response_ms\":1234,"));
    g_assert_nonnull(strstr(lines[1], "\"pki\":{\"kind\":\"certsrv\",\"step\":\"login\",\"req_id\":null,"));
    g_assert_null(strstr(lines[1], "YIIG"));
    /* a request left without an answer */
    g_assert_nonnull(strstr(lines[2], "\"pcap_cnt\":20,"));
    g_assert_nonnull(strstr(lines[2], "\"method\":\"POST\",\"uri\":\"/cgi-bin/pkiclient.exe?operation=PKIOperation\""));
    g_assert_nonnull(strstr(lines[2], "\"protocol\":\"HTTP/1.0\",\"status\":null,\"content_type\":null,\"length\":null,"));
    g_assert_nonnull(strstr(lines[2], "\"request_content_type\":\"application/x-pki-message\",\"request_length\":3,"));
    g_assert_nonnull(strstr(lines[2], "\"request_pcap_cnt\":8,"));
    g_assert_nonnull(strstr(lines[2], "\"response_ms\":null,\"no_response\":true,\"waited_ms\":10000"));
    g_assert_nonnull(strstr(lines[2], "\"kind\":\"scep\",\"step\":\"pkioperation\""));
    g_assert_nonnull(strstr(lines[2], "\"operation\":\"PKIOperation\""));
    g_strfreev(lines);
    g_free(text);
    fixture_free(&f);
    eve_file_remove(&events);
}

/* The event's optional parts: interim statuses, the challenges offered,
 * a response cut by a gap, a request body cut by the cap. */
static void test_eve_flags(void)
{
    fixture_t f;
    fixture_init(&f, 64u << 20, 4u << 20);
    f.a.limits.http_body_cap = 4;
    eve_file_t events;
    event_sink_t *eve = eve_file_open(&events, &f.a, "http-eve-XXXXXX");
    send_text(&f, true, "POST /.well-known/est/simpleenroll HTTP/1.1\r\nExpect: 100-continue\r\n"
                        "Content-Length: 10\r\n\r\n");
    send_text(&f, false, "HTTP/1.1 100 Continue\r\n\r\n");
    send_text(&f, true, "0123456789");
    send_text(&f, false, "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Negotiate\r\n"
                         "WWW-Authenticate: NTLM\r\nWWW-Authenticate: Basic realm=\"est\"\r\n"
                         "Content-Length: 100\r\n\r\npartial");
    http_flow_gap(&f.a, f.flow, DIR_TO_CLIENT);
    fixture_end(&f);
    eve->finish(eve);
    check_json_lines(events.path);
    char *text = read_text_file(events.path);
    g_assert_nonnull(strstr(text, "\"expect_continue\":true"));
    g_assert_nonnull(strstr(text, "\"www_authenticate\":\"Negotiate\","
                                  "\"www_authenticate_schemes\":[\"NTLM\",\"Negotiate\",\"Basic\"],"
                                  "\"interim\":[100],"));
    g_assert_nonnull(strstr(text, "\"response_incomplete\":true,\"gap\":true,\"request_body_truncated\":true,"
                                  "\"response_body_truncated\":true"));
    g_assert_nonnull(strstr(text, "\"pki\":{\"kind\":\"est\",\"step\":\"simpleenroll\""));
    g_free(text);
    fixture_free(&f);
    eve_file_remove(&events);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/http-flow/rich", test_rich);
    g_test_add_func("/http-flow/one-byte-deliveries", test_one_byte_deliveries);
    g_test_add_func("/http-flow/every-split", test_every_split);
    g_test_add_func("/http-flow/pipelining", test_pipelining);
    g_test_add_func("/http-flow/continue-and-interim", test_continue_and_interim);
    g_test_add_func("/http-flow/response-without-request", test_response_without_request);
    g_test_add_func("/http-flow/request-without-response", test_request_without_response);
    g_test_add_func("/http-flow/head-204-304", test_head_204_304);
    g_test_add_func("/http-flow/malformed-length", test_malformed_length);
    g_test_add_func("/http-flow/oversized-header", test_oversized_header);
    g_test_add_func("/http-flow/body-cap", test_body_cap);
    g_test_add_func("/http-flow/gaps", test_gaps);
    g_test_add_func("/http-flow/garbage-and-give-up", test_garbage_and_give_up);
    g_test_add_func("/http-flow/tunnel", test_tunnel);
    g_test_add_func("/http-flow/pending-cap", test_pending_cap);
    g_test_add_func("/http-flow/memory-refused", test_memory_refused);
    g_test_add_func("/http-flow/auth-never-kept", test_auth_never_kept);
    g_test_add_func("/http-flow/certsrv-key-match", test_certsrv_key_match);
    g_test_add_func("/http-flow/certsrv-match-across-connections", test_certsrv_match_across_connections);
    g_test_add_func("/http-flow/certsrv-requests-bounded", test_certsrv_requests_bounded);
    g_test_add_func("/http-flow/mangled", test_mangled);
    g_test_add_func("/http-flow/eve", test_eve);
    g_test_add_func("/http-flow/eve-flags", test_eve_flags);
    return g_test_run();
}
