/* Unit tests for monitor/capf_flow.c: messages cut out of byte streams
 * however the stream is split, resynchronisation after gaps and garbage,
 * memory accounting, the session facts, and the `capf` events written by
 * output/eve.c.  A recording sink turns every event into one line of text,
 * so event sequences compare as string lists.
 */
#include "capf_fixtures.h"
#include "certgen.h"
#include "flow_fixture.h"
#include "monitor/analysis.h"
#include "monitor/capf_flow.h"
#include "monitor/dns_names.h"
#include "output/report.h"
#include "test_support.h"

#include <glib.h>
#include <glib/gstdio.h>
#include <openssl/x509.h>
#include <string.h>

#define CASE_BEGIN() const bool case_failed_before_ = g_test_failed()
#define CASE_END(...)                                                                   \
    do {                                                                               \
        if (!case_failed_before_ && g_test_failed())                                   \
            g_test_message(__VA_ARGS__);                                               \
    } while (0)

#define SESSION 0x00001001u

/* ------------------------------------------------------------------ */
/* A sink that records                                                 */

typedef struct record_sink {
    event_sink_t base;
    GPtrArray *events;   /* char*: one line per capf event */
    GPtrArray *ends;     /* char*: one line per capf_end */
} record_sink_t;

static void record_capf(event_sink_t *base, const flow_t *flow, const capf_message_t *msg,
                        const capf_event_extra_t *extra, const packet_info_t *at)
{
    record_sink_t *r = (record_sink_t *)base;
    (void)flow;
    GString *s = g_string_new(NULL);
    g_string_append_printf(s, "op=%02x sid=%08x %s fields=", msg->opcode, (unsigned)msg->session_id,
                           extra->from_client ? "to_server" : "to_client");
    for (unsigned i = 0; i < msg->field_count; i++) {
        const capf_field_t *f = &msg->fields[i];
        g_string_append_printf(s, "%s%02x/%u/%u/%zu", i ? "," : "", f->tag, f->depth, f->len, f->value.len);
    }
    if (msg->has_device)
        g_string_append_printf(s, " device=%s", msg->device);
    if (msg->has_status)
        g_string_append_printf(s, " status=%02x", msg->status);
    if (msg->malformed)
        g_string_append(s, " malformed");
    if (extra->cert)
        g_string_append_printf(s, " cert=%s/%s", cert_kind_name(extra->cert->info.kind), extra->cert->info.sha1);
    if (extra->csr_modulus_md5)
        g_string_append_printf(s, " csr=%s", extra->csr_modulus_md5);
    if (extra->cert_match_known)
        g_string_append_printf(s, " match=%s", extra->cert_matches_csr ? "yes" : "no");
    g_string_append_printf(s, " frame=%" G_GUINT64_FORMAT, at->pcap_cnt);
    g_ptr_array_add(r->events, g_string_free(s, FALSE));
}

static void record_capf_end(event_sink_t *base, const flow_t *flow, const capf_conn_t *conn,
                            const packet_info_t *at)
{
    record_sink_t *r = (record_sink_t *)base;
    (void)flow;
    (void)at;
    GString *s = g_string_new(NULL);
    g_string_append_printf(s, "outcome=%s device=%s sid=%08x ops=", capf_outcome_name(capf_conn_outcome(conn)),
                           conn->has_device ? conn->device : "-", (unsigned)conn->session_id);
    for (unsigned i = 0; i < conn->opcode_count; i++)
        g_string_append_printf(s, "%02x", conn->opcodes[i]);
    if (conn->key_match_known)
        g_string_append_printf(s, " match=%s", conn->cert_matches_csr ? "yes" : "no");
    if (conn->has_status)
        g_string_append_printf(s, " last_status=%02x/%02x", conn->last_status, conn->last_status_opcode);
    g_ptr_array_add(r->ends, g_string_free(s, FALSE));
}

static void record_destroy(event_sink_t *base)
{
    record_sink_t *r = (record_sink_t *)base;
    g_ptr_array_free(r->events, TRUE);
    g_ptr_array_free(r->ends, TRUE);
    g_free(r);
}

static record_sink_t *record_sink_new(void)
{
    record_sink_t *r = g_new0(record_sink_t, 1);
    r->base.capf = record_capf;
    r->base.capf_end = record_capf_end;
    r->base.destroy = record_destroy;
    r->events = g_ptr_array_new_with_free_func(g_free);
    r->ends = g_ptr_array_new_with_free_func(g_free);
    return r;
}

/* ------------------------------------------------------------------ */
/* An analysis context and one flow                                    */

typedef struct fixture {
    analysis_t a;
    flow_t *flow;
    record_sink_t *rec;
} fixture_t;

/* The phone's enrollment connection to the CUCM's CAPF port. */
static const flow_fixture_spec_t phone_to_capf = {
    .id = 7,
    .proto = IPPROTO_NUM_TCP,
    .client_ip = { 10, 1, 1, 20 },
    .client_port = 51562,
    .server_ip = { 10, 1, 1, 5 },
    .server_port = 3804,
};

static void fixture_init(fixture_t *f, size_t global_memory, size_t flow_memory)
{
    flow_fixture_analysis_init(&f->a, global_memory, flow_memory);
    /* the certificate message (0x09) goes through the run's certificate cache */
    f->a.certs = cert_cache_new(f->a.patterns, 64);
    cert_cache_set_memcap(f->a.certs, &f->a.memcap);
    f->rec = record_sink_new();
    flow_fixture_add_sink(&f->a, &f->rec->base);
    f->flow = flow_fixture_flow_new(&phone_to_capf);
    f->a.packet.pcap_cnt = 1;
}

/* Ends the flow and checks every byte was given back. */
static void fixture_free(fixture_t *f)
{
    capf_flow_end(&f->a, f->flow);
    g_assert_null(f->flow->capf);
    g_assert_cmpuint(f->flow->memory.in_use, ==, 0);
    cert_cache_free(f->a.certs);
    flow_fixture_assert_memory_returned(&f->a);
    flow_fixture_destroy(&f->a, f->flow);
}

/* Delivers bytes as an exact-size heap copy (ASan sees overreads). */
static void deliver(fixture_t *f, bool to_server, const uint8_t *data, size_t len)
{
    uint8_t *copy = capf_test_copy(data, len);
    byte_span_t span = { copy, len };
    capf_flow_data(&f->a, f->flow, to_server ? DIR_TO_SERVER : DIR_TO_CLIENT, to_server, span);
    g_free(copy);
}

/* ------------------------------------------------------------------ */
/* Conversations                                                       */

typedef struct conv_msg {
    bool to_server;
    GByteArray *bytes;
} conv_msg_t;

static void conv_free(GArray *conv)
{
    for (guint i = 0; i < conv->len; i++)
        g_byte_array_free(g_array_index(conv, conv_msg_t, i).bytes, TRUE);
    g_array_free(conv, TRUE);
}

static void conv_add(GArray *conv, bool to_server, GByteArray *bytes)
{
    conv_msg_t m = { to_server, bytes };
    g_array_append_val(conv, m);
}

static GArray *conv_from_fixture(const capf_fixture_msg_t *msgs, size_t count)
{
    GArray *conv = g_array_new(FALSE, FALSE, sizeof(conv_msg_t));
    for (size_t i = 0; i < count; i++) {
        size_t len;
        uint8_t *data = capf_test_unhex(msgs[i].hex, &len);
        GByteArray *b = g_byte_array_new_take(data, len);
        conv_add(conv, msgs[i].to_server, b);
    }
    return conv;
}

/* The lab enrollment, plus messages the softphone flow does not have: an
 * unknown opcode with an unknown tag, a malformed one, an empty body. */
static GArray *conv_rich(void)
{
    GArray *conv = conv_from_fixture(capf_fixture_enroll_ok, capf_fixture_enroll_ok_count);
    GByteArray *m = capf_test_begin(0x42, SESSION);
    capf_test_field(m, 0x77, "\x01\x02\x03", 3);
    capf_test_end(m);
    conv_add(conv, false, m);
    m = capf_test_begin(0x0b, SESSION);
    capf_test_u8(m, CAPF_TAG_STATUS, 0x01);
    capf_test_field_lying(m, 0x05, 40, "abc", 3);
    capf_test_end(m);
    conv_add(conv, true, m);
    m = capf_test_begin(0x10, SESSION);
    capf_test_end(m);
    conv_add(conv, true, m);
    return conv;
}

/* The bytes one direction sends, all messages in a row. */
static GByteArray *conv_stream(const GArray *conv, bool to_server)
{
    GByteArray *s = g_byte_array_new();
    for (guint i = 0; i < conv->len; i++) {
        const conv_msg_t *m = &g_array_index(conv, conv_msg_t, i);
        if (m->to_server == to_server)
            g_byte_array_append(s, m->bytes->data, m->bytes->len);
    }
    return s;
}

static GPtrArray *steal_events(fixture_t *f)
{
    GPtrArray *e = f->rec->events;
    f->rec->events = g_ptr_array_new_with_free_func(g_free);
    return e;
}

static void assert_same_events(GPtrArray *got, GPtrArray *want)
{
    for (guint i = 0; i < got->len && i < want->len; i++)
        g_assert_cmpstr(g_ptr_array_index(got, i), ==, g_ptr_array_index(want, i));
    g_assert_cmpuint(got->len, ==, want->len);
}

/* Reference: each message in one delivery, in conversation order. */
static GPtrArray *run_whole(const GArray *conv, GPtrArray **ends)
{
    fixture_t f;
    fixture_init(&f, 64u << 20, 4u << 20);
    for (guint i = 0; i < conv->len; i++) {
        const conv_msg_t *m = &g_array_index(conv, conv_msg_t, i);
        deliver(&f, m->to_server, m->bytes->data, m->bytes->len);
    }
    GPtrArray *events = steal_events(&f);
    capf_flow_end(&f.a, f.flow);
    if (ends) {
        *ends = f.rec->ends;
        f.rec->ends = g_ptr_array_new_with_free_func(g_free);
    }
    fixture_free(&f);
    return events;
}

/* Events of the reference in "all the phone's, then all the server's"
 * order: what delivering one direction's stream before the other gives. */
static GPtrArray *by_direction(GPtrArray *events)
{
    GPtrArray *out = g_ptr_array_new_with_free_func(g_free);
    for (int pass = 0; pass < 2; pass++)
        for (guint i = 0; i < events->len; i++) {
            const char *e = g_ptr_array_index(events, i);
            bool up = strstr(e, " to_server ") != NULL;
            if (up == (pass == 0))
                g_ptr_array_add(out, g_strdup(e));
        }
    return out;
}

static void test_fixture_events(void)
{
    GArray *conv = conv_from_fixture(capf_fixture_enroll_ok, capf_fixture_enroll_ok_count);
    GPtrArray *ends = NULL;
    GPtrArray *events = run_whole(conv, &ends);
    g_assert_cmpuint(events->len, ==, 7);
    const char *want_prefix[] = {
        "op=01 sid=00001001 to_client fields=07/0/1/1 frame=1",
        "op=02 sid=00001001 to_server fields=07/0/1/1,0d/0/16/16,01/0/1/1 device=SEP74A02FC0A675 status=01",
        "op=03 sid=00001001 to_client fields=0a/0/2/2 frame=1",
        "op=04 sid=00001001 to_server fields=09/0/294/294 csr=",
        "op=09 sid=00001001 to_client fields=03/0/1/1,04/0/880/880,01/1/877/877 status=01 cert=LSC/",
        "op=0a sid=00001001 to_server fields=01/0/1/1 status=01",
        "op=0f sid=00001001 to_client fields=01/0/1/1 status=01",
    };
    for (guint i = 0; i < events->len; i++)
        g_assert_true(g_str_has_prefix(g_ptr_array_index(events, i), want_prefix[i]));
    char *csr = g_strdup_printf(" csr=%s ", capf_fixture_enroll_ok_csr_md5);
    g_assert_nonnull(strstr(g_ptr_array_index(events, 3), csr));
    g_assert_null(strstr(g_ptr_array_index(events, 3), "match="));
    g_assert_nonnull(strstr(g_ptr_array_index(events, 4), csr));
    g_assert_nonnull(strstr(g_ptr_array_index(events, 4), " match=yes "));
    g_free(csr);
    g_assert_cmpuint(ends->len, ==, 1);
    g_assert_cmpstr(g_ptr_array_index(ends, 0), ==,
                    "outcome=issued device=SEP74A02FC0A675 sid=00001001 ops=01020304090a0f match=yes "
                    "last_status=01/0f");
    g_ptr_array_free(ends, TRUE);
    g_ptr_array_free(events, TRUE);
    conv_free(conv);
}

static void test_key_mismatch(void)
{
    GArray *conv = conv_from_fixture(capf_fixture_key_mismatch, capf_fixture_key_mismatch_count);
    GPtrArray *ends = NULL;
    GPtrArray *events = run_whole(conv, &ends);
    g_assert_cmpuint(events->len, ==, 2);
    g_assert_nonnull(strstr(g_ptr_array_index(events, 1), " match=no "));
    char *csr = g_strdup_printf(" csr=%s ", capf_fixture_key_mismatch_csr_md5);
    g_assert_nonnull(strstr(g_ptr_array_index(events, 1), csr));
    g_free(csr);
    g_assert_cmpstr(g_ptr_array_index(ends, 0), ==,
                    "outcome=issued_unacknowledged device=- sid=00001001 ops=0409 match=no last_status=01/09");
    g_ptr_array_free(ends, TRUE);
    g_ptr_array_free(events, TRUE);
    conv_free(conv);
}

/* Refused right after the request. */
static void test_refused(void)
{
    GArray *conv = g_array_new(FALSE, FALSE, sizeof(conv_msg_t));
    GByteArray *m = capf_test_begin(CAPF_OP_SERVER_HELLO, 0x2002);
    capf_test_u8(m, CAPF_TAG_OPERATION, 3);
    capf_test_end(m);
    conv_add(conv, false, m);
    m = capf_test_begin(CAPF_OP_REQUEST, 0x2002);
    capf_test_u8(m, CAPF_TAG_OPERATION, 2);
    capf_test_field(m, CAPF_TAG_DEVICE_NAME, "CSF123", 7);
    capf_test_u8(m, CAPF_TAG_STATUS, 1);
    capf_test_end(m);
    conv_add(conv, true, m);
    m = capf_test_begin(CAPF_OP_END_SESSION, 0x2002);
    capf_test_u8(m, CAPF_TAG_STATUS, CAPF_STATUS_DEVICE_UNKNOWN);
    capf_test_end(m);
    conv_add(conv, false, m);
    GPtrArray *ends = NULL;
    GPtrArray *events = run_whole(conv, &ends);
    g_assert_cmpuint(events->len, ==, 3);
    g_assert_cmpstr(g_ptr_array_index(ends, 0), ==,
                    "outcome=refused device=CSF123 sid=00002002 ops=01020f last_status=09/0f");
    g_ptr_array_free(ends, TRUE);
    g_ptr_array_free(events, TRUE);
    conv_free(conv);
}

/* One byte per delivery, in conversation order: the same events. */
static void test_one_byte_deliveries(void)
{
    GArray *conv = conv_rich();
    GPtrArray *want = run_whole(conv, NULL);
    g_assert_cmpuint(want->len, ==, conv->len);
    fixture_t f;
    fixture_init(&f, 64u << 20, 4u << 20);
    for (guint i = 0; i < conv->len; i++) {
        const conv_msg_t *m = &g_array_index(conv, conv_msg_t, i);
        for (guint k = 0; k < m->bytes->len; k++)
            deliver(&f, m->to_server, m->bytes->data + k, 1);
    }
    GPtrArray *got = steal_events(&f);
    assert_same_events(got, want);
    fixture_free(&f);
    g_ptr_array_free(got, TRUE);
    g_ptr_array_free(want, TRUE);
    conv_free(conv);
}

/* Each direction's whole stream in one delivery (several messages in one),
 * and cut in two at every byte, and cut at random places: the same events. */
static void test_every_split(void)
{
    GArray *conv = conv_rich();
    GPtrArray *whole = run_whole(conv, NULL);
    GPtrArray *want = by_direction(whole);
    GByteArray *up = conv_stream(conv, true);
    GByteArray *down = conv_stream(conv, false);

    for (int side = 0; side < 2; side++) {
        GByteArray *cut_stream = side == 0 ? up : down;
        for (guint k = 0; k <= cut_stream->len; k++) {
            CASE_BEGIN();
            fixture_t f;
            fixture_init(&f, 64u << 20, 4u << 20);
            if (side == 0) {
                deliver(&f, true, up->data, k);
                deliver(&f, true, up->data + k, up->len - k);
                deliver(&f, false, down->data, down->len);
            } else {
                deliver(&f, true, up->data, up->len);
                deliver(&f, false, down->data, k);
                deliver(&f, false, down->data + k, down->len - k);
            }
            GPtrArray *got = steal_events(&f);
            assert_same_events(got, want);
            g_ptr_array_free(got, TRUE);
            fixture_free(&f);
            CASE_END("%s stream cut at %u", side == 0 ? "phone" : "server", k);
        }
    }

    /* Random cuts, many per stream (fixed seed: the same every run). */
    GRand *rand = g_rand_new_with_seed(3804);
    for (int round = 0; round < 200; round++) {
        CASE_BEGIN();
        fixture_t f;
        fixture_init(&f, 64u << 20, 4u << 20);
        for (int side = 0; side < 2; side++) {
            GByteArray *s = side == 0 ? up : down;
            guint pos = 0;
            while (pos < s->len) {
                guint n = (guint)g_rand_int_range(rand, 1, 40);
                if (n > s->len - pos)
                    n = s->len - pos;
                deliver(&f, side == 0, s->data + pos, n);
                pos += n;
            }
        }
        GPtrArray *got = steal_events(&f);
        assert_same_events(got, want);
        g_ptr_array_free(got, TRUE);
        fixture_free(&f);
        CASE_END("random round %d", round);
    }
    g_rand_free(rand);
    g_byte_array_free(up, TRUE);
    g_byte_array_free(down, TRUE);
    g_ptr_array_free(want, TRUE);
    g_ptr_array_free(whole, TRUE);
    conv_free(conv);
}

/* ------------------------------------------------------------------ */
/* Losing and finding the framing                                      */

static GByteArray *status_msg(uint8_t opcode, uint32_t session, uint8_t status)
{
    GByteArray *m = capf_test_begin(opcode, session);
    capf_test_u8(m, CAPF_TAG_STATUS, status);
    capf_test_end(m);
    return m;
}

static unsigned count_op(GPtrArray *events, const char *op)
{
    unsigned n = 0;
    for (guint i = 0; i < events->len; i++)
        if (g_str_has_prefix(g_ptr_array_index(events, i), op))
            n++;
    return n;
}

/* A gap inside the CSR: the CSR is lost, the acknowledgement after it is
 * found, however the bytes after the gap are delivered. */
static void test_gap_resync(void)
{
    GArray *conv = conv_from_fixture(capf_fixture_enroll_ok, capf_fixture_enroll_ok_count);
    const GByteArray *request = g_array_index(conv, conv_msg_t, 1).bytes;
    const GByteArray *csr = g_array_index(conv, conv_msg_t, 3).bytes;
    const GByteArray *ack = g_array_index(conv, conv_msg_t, 5).bytes;
    const GByteArray *hello = g_array_index(conv, conv_msg_t, 0).bytes;
    for (int step = 0; step <= 1; step++) {
        for (guint lost_at = 1; lost_at < csr->len; lost_at += 37) {
            CASE_BEGIN();
            fixture_t f;
            fixture_init(&f, 64u << 20, 4u << 20);
            deliver(&f, false, hello->data, hello->len);
            deliver(&f, true, request->data, request->len);
            deliver(&f, true, csr->data, lost_at);
            capf_flow_gap(&f.a, f.flow, DIR_TO_SERVER);
            guint resume = lost_at + 20 < csr->len ? lost_at + 20 : csr->len;
            GByteArray *after = g_byte_array_new();
            g_byte_array_append(after, csr->data + resume, csr->len - resume);
            g_byte_array_append(after, ack->data, ack->len);
            if (step == 0) {
                deliver(&f, true, after->data, after->len);
            } else {
                for (guint k = 0; k < after->len; k++)
                    deliver(&f, true, after->data + k, 1);
            }
            g_assert_cmpuint(f.rec->events->len, ==, 3);
            g_assert_cmpuint(count_op(f.rec->events, "op=04"), ==, 0);
            g_assert_true(g_str_has_prefix(g_ptr_array_index(f.rec->events, 2), "op=0a "));
            g_assert_cmpuint(f.flow->capf->gaps[DIR_TO_SERVER], ==, 1);
            g_assert_false(f.flow->capf->resync[DIR_TO_SERVER]);
            g_assert_cmpuint(f.flow->capf->skipped_bytes[DIR_TO_SERVER], ==, csr->len - resume);
            g_byte_array_free(after, TRUE);
            fixture_free(&f);
            CASE_END("step %d, lost at %u", step, lost_at);
        }
    }
    conv_free(conv);
}

/* Bytes that are not CAPF in the middle of a stream: skipped, the next
 * message found; a look-alike start with another session id is refused. */
static void test_garbage_resync(void)
{
    GByteArray *s = g_byte_array_new();
    GByteArray *m1 = status_msg(CAPF_OP_ACK, SESSION, 1);
    g_byte_array_append(s, m1->data, m1->len);
    /* garbage: a fake start with another session (0x55 0x0a ... 0x00009999) */
    static const uint8_t junk[] = { 0x17, 0x03, 0x03, 0x55, 0x0a, 0x00, 0x00, 0x99, 0x99,
                                    0x00, 0x04, 0x01, 0x00, 0x01, 0x01, 0x55, 0x55, 0x00 };
    g_byte_array_append(s, junk, sizeof(junk));
    GByteArray *m2 = status_msg(CAPF_OP_END_SESSION, SESSION, 7);
    g_byte_array_append(s, m2->data, m2->len);
    g_byte_array_append(s, m1->data, m1->len);
    for (int mode = 0; mode < 2; mode++) {
        fixture_t f;
        fixture_init(&f, 64u << 20, 4u << 20);
        if (mode == 0)
            deliver(&f, false, s->data, s->len);
        else
            for (guint k = 0; k < s->len; k++)
                deliver(&f, false, s->data + k, 1);
        g_assert_cmpuint(f.rec->events->len, ==, 3);
        g_assert_true(g_str_has_prefix(g_ptr_array_index(f.rec->events, 0), "op=0a "));
        g_assert_true(g_str_has_prefix(g_ptr_array_index(f.rec->events, 1), "op=0f "));
        g_assert_true(g_str_has_prefix(g_ptr_array_index(f.rec->events, 2), "op=0a "));
        g_assert_cmpuint(f.flow->capf->resyncs[DIR_TO_CLIENT], ==, 1);
        g_assert_cmpuint(f.flow->capf->skipped_bytes[DIR_TO_CLIENT], ==, sizeof(junk));
        fixture_free(&f);
    }
    g_byte_array_free(m1, TRUE);
    g_byte_array_free(m2, TRUE);
    g_byte_array_free(s, TRUE);
}

/* A stream that begins with a gap (picked up mid-message) and one that is
 * never CAPF: the first is found, the second given up without events. */
static void test_start_and_give_up(void)
{
    fixture_t f;
    fixture_init(&f, 64u << 20, 4u << 20);
    capf_flow_gap(&f.a, f.flow, DIR_TO_CLIENT);
    GByteArray *m = status_msg(CAPF_OP_END_SESSION, SESSION, 1);
    /* the end of some earlier message, with a 0x55 that starts nothing */
    static const uint8_t tail[] = { 0x00, 0x55, 0x42 };
    deliver(&f, false, tail, sizeof(tail));
    deliver(&f, false, m->data, m->len);
    g_assert_cmpuint(f.rec->events->len, ==, 1);
    g_assert_cmpuint(f.flow->capf->resyncs[DIR_TO_CLIENT], ==, 0);
    fixture_free(&f);

    /* Not CAPF at all, from the first byte: resynchronised, never found. */
    fixture_init(&f, 64u << 20, 4u << 20);
    uint8_t noise[4096];
    for (size_t i = 0; i < sizeof(noise); i++)
        noise[i] = (uint8_t)(i * 7 + 3);
    deliver(&f, true, noise, sizeof(noise));
    g_assert_cmpuint(f.rec->events->len, ==, 0);
    g_assert_true(f.flow->capf->resync[DIR_TO_SERVER] || f.flow->capf->invalid[DIR_TO_SERVER]);
    fixture_free(&f);

    /* Repeated false starts: the direction is given up after the limit. */
    fixture_init(&f, 64u << 20, 4u << 20);
    GByteArray *ok = status_msg(CAPF_OP_ACK, SESSION, 1);
    deliver(&f, true, ok->data, ok->len);
    for (int i = 0; i < CAPF_MAX_RESYNCS + 2; i++) {
        /* a start with the right session, then a body that is not what it said */
        GByteArray *liar = status_msg(CAPF_OP_ACK, SESSION, 1);
        static const uint8_t bad = 0x00;
        g_byte_array_append(liar, &bad, 1);
        deliver(&f, true, liar->data, liar->len);
        g_byte_array_free(liar, TRUE);
    }
    g_assert_true(f.flow->capf->invalid[DIR_TO_SERVER]);
    guint before = f.rec->events->len;
    deliver(&f, true, ok->data, ok->len);
    g_assert_cmpuint(f.rec->events->len, ==, before);
    /* The other direction is not affected. */
    deliver(&f, false, ok->data, ok->len);
    g_assert_cmpuint(f.rec->events->len, ==, before + 1);
    g_byte_array_free(ok, TRUE);
    fixture_free(&f);
    g_byte_array_free(m, TRUE);
}

/* ------------------------------------------------------------------ */
/* Memory                                                              */

static void test_memory(void)
{
    GArray *conv = conv_from_fixture(capf_fixture_enroll_ok, capf_fixture_enroll_ok_count);
    const GByteArray *cert_msg = g_array_index(conv, conv_msg_t, 4).bytes;
    const GByteArray *end_msg = g_array_index(conv, conv_msg_t, 6).bytes;

    /* Partial messages are charged to the flow while held. */
    fixture_t f;
    fixture_init(&f, 64u << 20, 4u << 20);
    deliver(&f, false, cert_msg->data, 100);
    g_assert_nonnull(f.flow->capf);
    g_assert_cmpuint(f.flow->memory.in_use, >=, 100);
    g_assert_cmpuint(f.a.memcap.in_use, >=, sizeof(capf_conn_t) + 100);
    deliver(&f, false, cert_msg->data + 100, cert_msg->len - 100);
    g_assert_cmpuint(f.rec->events->len, ==, 1);
    fixture_free(&f);

    /* The per-flow cap refuses the certificate message: it is lost, the
     * message after it is still found. */
    fixture_init(&f, 64u << 20, 256);
    for (guint k = 0; k < cert_msg->len; k += 50)
        deliver(&f, false, cert_msg->data + k, MIN(50u, cert_msg->len - k));
    deliver(&f, false, end_msg->data, end_msg->len);
    g_assert_cmpuint(f.rec->events->len, ==, 1);
    g_assert_true(g_str_has_prefix(g_ptr_array_index(f.rec->events, 0), "op=0f "));
    g_assert_cmpuint(f.a.memcap.hits[CAP_FLOW_MEMORY], >, 0);
    fixture_free(&f);

    /* No room for the state at all: nothing followed, nothing leaks. */
    fixture_init(&f, 16, 16);
    deliver(&f, false, end_msg->data, end_msg->len);
    capf_flow_gap(&f.a, f.flow, DIR_TO_CLIENT);
    g_assert_null(f.flow->capf);
    g_assert_cmpuint(f.rec->events->len, ==, 0);
    g_assert_cmpuint(f.a.memcap.hits[CAP_GLOBAL_MEMORY], >, 0);
    fixture_free(&f);
    conv_free(conv);
}

/* ------------------------------------------------------------------ */
/* The JSON events                                                     */

static void test_eve(void)
{
    fixture_t f;
    fixture_init(&f, 64u << 20, 4u << 20);
    eve_file_t events;
    event_sink_t *eve = eve_file_open(&events, &f.a, "capf-eve-XXXXXX");
    GArray *conv = conv_rich();
    for (guint i = 0; i < conv->len; i++) {
        const conv_msg_t *m = &g_array_index(conv, conv_msg_t, i);
        f.a.packet.pcap_cnt = 10 + i;
        f.a.packet.ts_us = 1547647502000000 + i;
        deliver(&f, m->to_server, m->bytes->data, m->bytes->len);
    }
    eve->finish(eve);
    char *text = read_text_file(events.path);
    char **lines = g_strsplit(text, "\n", -1);
    g_assert_cmpuint(g_strv_length(lines), ==, conv->len + 1);
    g_assert_cmpstr(lines[conv->len], ==, "");
    for (guint i = 0; i < conv->len; i++) {
        g_assert_nonnull(strstr(lines[i], "\"event_type\":\"capf\""));
        g_assert_nonnull(strstr(lines[i], "\"flow_id\":7"));
        g_assert_nonnull(strstr(lines[i], "\"session_id\":\"0x00001001\""));
    }
    /* hello */
    g_assert_nonnull(strstr(lines[0], "\"pcap_cnt\":10,"));
    g_assert_nonnull(strstr(lines[0], "\"opcode\":1,\"opcode_name\":\"server_hello\""));
    g_assert_nonnull(strstr(lines[0], "\"direction\":\"to_client\""));
    g_assert_nonnull(strstr(lines[0], "\"fields\":[{\"tag\":7,\"tag_name\":\"operation\",\"len\":1,\"value_hex\":\"03\"}]"));
    g_assert_nonnull(strstr(lines[0], "\"device\":null,\"status\":null,\"status_name\":null"));
    /* request */
    g_assert_nonnull(strstr(lines[1], "\"direction\":\"to_server\""));
    g_assert_nonnull(strstr(lines[1], "\"value_hex\":\"53455037344130324643304136373500\""));
    g_assert_nonnull(strstr(lines[1], "\"device\":\"SEP74A02FC0A675\",\"status\":1,\"status_name\":\"ok\""));
    /* continue: the device comes from the session */
    g_assert_nonnull(strstr(lines[2], "\"device\":\"SEP74A02FC0A675\""));
    /* CSR: capped value, its modulus MD5 */
    g_assert_nonnull(strstr(lines[3], "\"tag_name\":\"public_key\",\"len\":294,\"value_hex\":\"30820122"));
    g_assert_nonnull(strstr(lines[3], "\"truncated\":true"));
    char *csr = g_strdup_printf("\"csr_modulus_md5\":\"%s\"", capf_fixture_enroll_ok_csr_md5);
    g_assert_nonnull(strstr(lines[3], csr));
    g_assert_null(strstr(lines[3], "cert_matches_csr"));
    /* certificate: nested field, the certificate object, the match */
    g_assert_nonnull(strstr(lines[4], "\"opcode_name\":\"certificate\""));
    g_assert_nonnull(strstr(lines[4], "{\"tag\":1,\"depth\":1,\"len\":877,"));
    g_assert_nonnull(strstr(lines[4], "\"cert\":{\"subject\":\"O=enrollmon TEST PKI, CN=SEP74A02FC0A675\""));
    g_assert_nonnull(strstr(lines[4], "\"kind\":\"LSC\""));
    char *cert_md5 = g_strdup_printf("\"modulus_md5\":\"%s\"", capf_fixture_enroll_ok_cert_md5);
    g_assert_nonnull(strstr(lines[4], cert_md5));
    g_assert_nonnull(strstr(lines[4], csr));
    g_assert_nonnull(strstr(lines[4], "\"cert_matches_csr\":true"));
    g_assert_nonnull(strstr(lines[4], "\"status\":1,\"status_name\":\"ok\""));
    /* ack: nothing cut */
    g_assert_null(strstr(lines[5], "truncated"));
    /* unknown opcode and tag */
    g_assert_nonnull(strstr(lines[7], "\"opcode\":66,\"opcode_name\":null"));
    g_assert_nonnull(strstr(lines[7], "{\"tag\":119,\"len\":3,\"value_hex\":\"010203\"}"));
    /* malformed: the lying field cut by the body end */
    g_assert_nonnull(strstr(lines[8], "{\"tag\":5,\"len\":40,\"value_hex\":\"616263\",\"truncated\":true}"));
    g_assert_nonnull(strstr(lines[8], "\"malformed\":true"));
    /* empty body */
    g_assert_nonnull(strstr(lines[9], "\"fields\":[]"));
    g_assert_null(strstr(lines[0], "malformed"));
    check_json_lines(events.path);
    g_free(csr);
    g_free(cert_md5);
    g_strfreev(lines);
    g_free(text);
    fixture_free(&f);
    eve_file_remove(&events);
    conv_free(conv);
}

/* The report's line per session (not quiet) and its summary. */
static void test_report(void)
{
    char *dir = g_dir_make_tmp("capf-report-XXXXXX", NULL);
    char *path = g_build_filename(dir, "report.txt", NULL);
    FILE *out = fopen(path, "w");
    g_assert_nonnull(out);
    fixture_t f;
    fixture_init(&f, 64u << 20, 4u << 20);
    flow_fixture_add_sink(&f.a, report_sink_new(out, false));
    GArray *conv = conv_from_fixture(capf_fixture_enroll_ok, capf_fixture_enroll_ok_count);
    for (guint i = 0; i < conv->len; i++) {
        const conv_msg_t *m = &g_array_index(conv, conv_msg_t, i);
        f.a.packet.pcap_cnt = 10 + i;
        deliver(&f, m->to_server, m->bytes->data, m->bytes->len);
    }
    capf_flow_end(&f.a, f.flow);
    run_stats_t stats;
    memset(&stats, 0, sizeof(stats));
    stats.files_read = 1;
    dns_stats_t no_dns;
    memset(&no_dns, 0, sizeof(no_dns));
    f.a.sinks[1]->stats(f.a.sinks[1], &stats, &f.a.memcap, &no_dns, &f.a.packet);
    fixture_free(&f);
    fclose(out);
    char *text = read_text_file(path);
    g_assert_nonnull(strstr(text, "capf #7 10.1.1.20:51562 -> 10.1.1.5:3804 device=SEP74A02FC0A675 session=0x00001001 "
                                  "opcodes=01,02,03,04,09,0a,0f issued | cert: LSC SEP74A02FC0A675 <- CAPF-1a2b3c4d "
                                  "(frame 14), key matches CSR\n"));
    g_assert_nonnull(strstr(text, "capf: 1 sessions (issued 1,"));
    g_free(text);
    g_unlink(path);
    g_rmdir(dir);
    g_free(path);
    g_free(dir);
    conv_free(conv);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/capf-flow/fixture-events", test_fixture_events);
    g_test_add_func("/capf-flow/key-mismatch", test_key_mismatch);
    g_test_add_func("/capf-flow/refused", test_refused);
    g_test_add_func("/capf-flow/one-byte-deliveries", test_one_byte_deliveries);
    g_test_add_func("/capf-flow/every-split", test_every_split);
    g_test_add_func("/capf-flow/gap-resync", test_gap_resync);
    g_test_add_func("/capf-flow/garbage-resync", test_garbage_resync);
    g_test_add_func("/capf-flow/start-and-give-up", test_start_and_give_up);
    g_test_add_func("/capf-flow/memory", test_memory);
    g_test_add_func("/capf-flow/eve", test_eve);
    g_test_add_func("/capf-flow/report", test_report);
    return g_test_run();
}
