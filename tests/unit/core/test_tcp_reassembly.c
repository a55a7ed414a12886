/* Unit tests for monitor/tcp_reassembly.c: one direction at a time, through
 * tcp_dir_segment / tcp_dir_peer_ack / tcp_dir_flush, with a sink that
 * records the delivered bytes and the gaps. */
#include "dissectors/decode.h"
#include "monitor/limits.h"
#include "monitor/memcap.h"
#include "monitor/tcp_reassembly.h"

#include <glib.h>
#include <string.h>

#define GAP_FILL '?'
#define TEST_DIR 1

/* The original stream: printable, never GAP_FILL. */
static uint8_t pattern(uint64_t i)
{
    return (uint8_t)('a' + (i * 7 + i / 26) % 26);
}

typedef struct rec {
    GByteArray *stream; /* delivered bytes in order; a gap adds GAP_FILL bytes */
    GString *log;       /* "D<len> G<len> ..." */
    unsigned data_calls;
    unsigned gap_calls;
    uint64_t gap_bytes;
    unsigned wrong_dir;
    const uint8_t *first_ptr;
} rec_t;

typedef struct fx {
    memcap_t mc;
    memcap_account_t acct;
    monitor_limits_t limits;
    tcp_reassembly_env_t env;
    tcp_dir_t d;
    rec_t rec;
    uint8_t *wire;      /* the stream's bytes, for segments cut from it */
    size_t wire_len;
} fx_t;

static void on_data(void *ctx, int dir, byte_span_t data)
{
    rec_t *r = ctx;
    if (dir != TEST_DIR)
        r->wrong_dir++;
    if (!r->first_ptr)
        r->first_ptr = data.ptr;
    g_assert_cmpuint(data.len, >, 0);
    g_byte_array_append(r->stream, data.ptr, (guint)data.len);
    r->data_calls++;
    g_string_append_printf(r->log, "D%zu ", data.len);
}

static void on_gap(void *ctx, int dir, uint64_t missing)
{
    rec_t *r = ctx;
    if (dir != TEST_DIR)
        r->wrong_dir++;
    g_assert_cmpuint(missing, >, 0);
    for (uint64_t i = 0; i < missing; i++) {
        uint8_t fill = GAP_FILL;
        g_byte_array_append(r->stream, &fill, 1);
    }
    r->gap_calls++;
    r->gap_bytes += missing;
    g_string_append_printf(r->log, "G%" G_GUINT64_FORMAT " ", missing);
}

static void fx_init(fx_t *f, size_t global, size_t flow, unsigned max_queued, size_t wire_len)
{
    memset(f, 0, sizeof(*f));
    monitor_limits_default(&f->limits);
    f->limits.global_memory = global;
    f->limits.flow_memory = flow;
    f->limits.max_queued_segments = max_queued;
    memcap_init(&f->mc, global, flow);
    f->rec.stream = g_byte_array_new();
    f->rec.log = g_string_new(NULL);
    f->env.memcap = &f->mc;
    f->env.account = &f->acct;
    f->env.limits = &f->limits;
    f->env.sink.data = on_data;
    f->env.sink.gap = on_gap;
    f->env.sink.ctx = &f->rec;
    tcp_dir_init(&f->d);
    f->wire_len = wire_len;
    f->wire = g_malloc(wire_len ? wire_len : 1);
    for (size_t i = 0; i < wire_len; i++)
        f->wire[i] = pattern(i);
}

static void fx_default(fx_t *f, size_t wire_len)
{
    fx_init(f, LIMITS_DEFAULT_GLOBAL_MEMORY, LIMITS_DEFAULT_FLOW_MEMORY,
            LIMITS_DEFAULT_MAX_QUEUED_SEGMENTS, wire_len);
}

/* The caps hold, and the memory in use is this direction's queue. */
static void check_caps(const fx_t *f)
{
    g_assert_cmpuint(f->mc.in_use, <=, f->mc.global_limit);
    g_assert_cmpuint(f->mc.peak, <=, f->mc.global_limit);
    g_assert_cmpuint(f->acct.in_use, <=, f->mc.flow_limit);
    g_assert_cmpuint(f->d.queued_count, <=, f->limits.max_queued_segments);
    g_assert_cmpuint(f->mc.in_use, ==, f->acct.in_use);
    g_assert_cmpuint(f->d.queued_bytes, <=, f->acct.in_use);
    if (!f->d.queue) {
        g_assert_cmpuint(f->d.queued_bytes, ==, 0);
        g_assert_cmpuint(f->d.queued_count, ==, 0);
        g_assert_cmpuint(f->acct.in_use, ==, 0);
    }
}

static void fx_done(fx_t *f)
{
    tcp_dir_release(&f->d, &f->env);
    g_assert_null(f->d.queue);
    g_assert_cmpuint(f->mc.in_use, ==, 0);
    g_assert_cmpuint(f->acct.in_use, ==, 0);
    g_assert_cmpuint(f->rec.wrong_dir, ==, 0);
    g_byte_array_unref(f->rec.stream);
    g_string_free(f->rec.log, TRUE);
    g_free(f->wire);
}

static void syn(fx_t *f, uint32_t isn)
{
    byte_span_t none = { NULL, 0 };
    tcp_dir_segment(&f->d, &f->env, TEST_DIR, isn, TCP_FLAG_SYN, none);
    check_caps(f);
}

/* Sends wire[off, off+len) as one segment whose first byte has sequence
 * number base + off. */
static void seg_flags(fx_t *f, uint32_t base, size_t off, size_t len, uint8_t flags)
{
    g_assert_cmpuint(off + len, <=, f->wire_len);
    /* a private copy per packet, as a capture buffer would be */
    uint8_t *pkt = len ? g_memdup2(f->wire + off, len) : NULL;
    byte_span_t payload = { pkt, len };
    tcp_dir_segment(&f->d, &f->env, TEST_DIR, base + (uint32_t)off, flags | TCP_FLAG_ACK, payload);
    g_free(pkt);
    check_caps(f);
}

static void seg(fx_t *f, uint32_t base, size_t off, size_t len)
{
    seg_flags(f, base, off, len, 0);
}

/* A segment with explicit bytes. */
static void seg_bytes(fx_t *f, uint32_t seq, const uint8_t *bytes, size_t len)
{
    uint8_t *pkt = g_memdup2(bytes, len);
    byte_span_t payload = { pkt, len };
    tcp_dir_segment(&f->d, &f->env, TEST_DIR, seq, TCP_FLAG_ACK, payload);
    g_free(pkt);
    check_caps(f);
}

/* The recorded stream equals the wire bytes [0, len). */
static void assert_stream_is_wire(const fx_t *f, size_t len)
{
    g_assert_cmpmem(f->rec.stream->data, f->rec.stream->len, f->wire, len);
}

/* Every recorded byte is either the wire's byte at that position or gap
 * fill; the gap fill adds up to the gap bytes reported. */
static void assert_stream_consistent(const fx_t *f)
{
    uint64_t filled = 0;
    g_assert_cmpuint(f->rec.stream->len, <=, f->wire_len);
    for (guint i = 0; i < f->rec.stream->len; i++) {
        if (f->rec.stream->data[i] == GAP_FILL)
            filled++;
        else if (f->rec.stream->data[i] != f->wire[i])
            g_test_fail_printf("byte %u: %c, expected %c", i, f->rec.stream->data[i], f->wire[i]);
    }
    g_assert_cmpuint(filled, ==, f->rec.gap_bytes);
    g_assert_cmpuint(f->rec.gap_bytes, ==, f->d.stats.gap_bytes);
    g_assert_cmpuint(f->rec.gap_calls, ==, f->d.stats.gaps);
    g_assert_cmpuint(f->rec.stream->len - filled, ==, f->d.stats.bytes_delivered);
    g_assert_cmpuint(f->rec.stream->len, ==, f->d.delivered);
}

/* ---- ordered data ----------------------------------------------------- */

static void test_in_order(void)
{
    fx_t f;
    fx_default(&f, 40);
    const uint32_t isn = 1000;
    syn(&f, isn);
    g_assert_true(f.d.syn_seen);
    g_assert_false(f.d.midstream);
    g_assert_cmpuint(f.d.isn, ==, isn);

    /* in-order data goes out straight from the packet */
    byte_span_t first = { f.wire, 10 };
    tcp_dir_segment(&f.d, &f.env, TEST_DIR, isn + 1, TCP_FLAG_ACK, first);
    g_assert_true(f.rec.first_ptr == f.wire);
    g_assert_cmpuint(f.mc.peak, ==, 0); /* nothing was copied into a queue */
    seg(&f, isn + 1, 10, 15);
    seg(&f, isn + 1, 25, 15);
    assert_stream_is_wire(&f, 40);
    g_assert_cmpuint(f.d.stats.segments, ==, 3);
    g_assert_cmpuint(f.d.stats.bytes_delivered, ==, 40);
    g_assert_cmpuint(f.d.stats.out_of_order_segments, ==, 0);
    g_assert_cmpuint(f.d.stats.gaps, ==, 0);
    g_assert_cmpuint(f.d.delivered, ==, 40);
    g_assert_cmpuint(f.d.next_seq, ==, isn + 1 + 40);
    g_assert_cmpuint(f.mc.peak, ==, 0);
    g_assert_cmpstr(f.rec.log->str, ==, "D10 D15 D15 ");
    /* a pure ACK changes nothing */
    byte_span_t none = { NULL, 0 };
    tcp_dir_segment(&f.d, &f.env, TEST_DIR, isn + 41, TCP_FLAG_ACK, none);
    g_assert_cmpuint(f.d.stats.segments, ==, 3);
    assert_stream_consistent(&f);
    fx_done(&f);
}

static void test_out_of_order_reversed(void)
{
    fx_t f;
    fx_default(&f, 50);
    const uint32_t isn = 77;
    syn(&f, isn);
    for (int i = 4; i >= 1; i--) {
        seg(&f, isn + 1, (size_t)i * 10, 10);
        g_assert_cmpuint(f.rec.stream->len, ==, 0); /* nothing until the first */
        g_assert_cmpuint(f.d.queued_count, ==, (unsigned)(5 - i));
        g_assert_cmpuint(f.mc.in_use, >, 0);
    }
    seg(&f, isn + 1, 0, 10);
    assert_stream_is_wire(&f, 50);
    g_assert_null(f.d.queue);
    g_assert_cmpuint(f.mc.in_use, ==, 0);
    g_assert_cmpuint(f.acct.in_use, ==, 0);
    g_assert_cmpuint(f.mc.peak, >=, 40);
    g_assert_cmpuint(f.d.stats.out_of_order_segments, ==, 4);
    g_assert_cmpuint(f.d.stats.gaps, ==, 0);
    g_assert_cmpuint(f.d.stats.overlap_bytes, ==, 0);
    assert_stream_consistent(&f);
    fx_done(&f);
}

static void test_retransmission_exact(void)
{
    fx_t f;
    fx_default(&f, 30);
    syn(&f, 5);
    seg(&f, 6, 0, 10);
    seg(&f, 6, 0, 10);
    seg(&f, 6, 10, 20);
    seg(&f, 6, 10, 20);
    assert_stream_is_wire(&f, 30);
    g_assert_cmpuint(f.d.stats.retransmitted_segments, ==, 2);
    g_assert_cmpuint(f.d.stats.overlap_bytes, ==, 30);
    g_assert_cmpuint(f.d.stats.overlap_conflicts, ==, 0);
    g_assert_cmpuint(f.d.stats.bytes_delivered, ==, 30);
    assert_stream_consistent(&f);
    fx_done(&f);
}

/* A segment queued ahead of a hole and sent again before the hole fills is
 * data wholly seen before, too. */
static void test_retransmission_of_queued(void)
{
    fx_t f;
    fx_default(&f, 20);
    syn(&f, 5);
    seg(&f, 6, 10, 10);
    seg(&f, 6, 10, 10);
    g_assert_cmpuint(f.d.queued_count, ==, 1);
    g_assert_cmpuint(f.d.queued_bytes, ==, 10);
    seg(&f, 6, 0, 10);
    assert_stream_is_wire(&f, 20);
    g_assert_cmpuint(f.d.stats.overlap_bytes, ==, 10);
    g_assert_cmpuint(f.d.stats.overlap_conflicts, ==, 0);
    g_assert_cmpuint(f.d.stats.retransmitted_segments, ==, 1);
    assert_stream_consistent(&f);
    fx_done(&f);
}

/* ---- overlaps: the first copy wins ------------------------------------ */

static void test_overlap_queued_equal(void)
{
    fx_t f;
    fx_default(&f, 25);
    syn(&f, 100);
    seg(&f, 101, 10, 10);
    seg(&f, 101, 15, 10); /* [15,20) again, same bytes, and [20,25) new */
    g_assert_cmpuint(f.d.queued_bytes, ==, 15);
    seg(&f, 101, 0, 10);
    assert_stream_is_wire(&f, 25);
    g_assert_cmpuint(f.d.stats.overlap_bytes, ==, 5);
    g_assert_cmpuint(f.d.stats.overlap_conflicts, ==, 0);
    assert_stream_consistent(&f);
    fx_done(&f);
}

static void test_overlap_queued_conflict(void)
{
    fx_t f;
    fx_default(&f, 25);
    syn(&f, 100);
    seg(&f, 101, 10, 10);
    uint8_t second[10];
    memcpy(second, f.wire + 15, 10);
    memset(second, 'X', 5); /* [15,20) differs from the queued copy */
    seg_bytes(&f, 101 + 15, second, sizeof(second));
    seg(&f, 101, 0, 10);
    assert_stream_is_wire(&f, 25); /* the first copy's bytes */
    g_assert_cmpuint(f.d.stats.overlap_bytes, ==, 5);
    g_assert_cmpuint(f.d.stats.overlap_conflicts, ==, 1);
    assert_stream_consistent(&f);
    fx_done(&f);
}

/* A new segment spanning two queued ones and the hole between them. */
static void test_overlap_queued_spanning(void)
{
    fx_t f;
    fx_default(&f, 50);
    syn(&f, 100);
    seg(&f, 101, 10, 10);
    seg(&f, 101, 30, 10);
    uint8_t big[40];
    memcpy(big, f.wire + 5, sizeof(big)); /* [5,45) */
    big[35 - 5] = 'X';                     /* differs inside the second queued one */
    seg_bytes(&f, 101 + 5, big, sizeof(big));
    seg(&f, 101, 0, 5);
    assert_stream_is_wire(&f, 45);
    g_assert_cmpuint(f.d.stats.overlap_bytes, ==, 20);
    g_assert_cmpuint(f.d.stats.overlap_conflicts, ==, 1);
    assert_stream_consistent(&f);
    fx_done(&f);
}

static void test_overlap_in_order_vs_queued(void)
{
    for (int differ = 0; differ <= 1; differ++) {
        fx_t f;
        fx_default(&f, 20);
        syn(&f, 9);
        seg(&f, 10, 10, 10); /* queued: [10,20) */
        uint8_t first[15];
        memcpy(first, f.wire, sizeof(first));
        if (differ)
            memset(first + 12, 'X', 3); /* [12,15) differs from the queued copy */
        seg_bytes(&f, 10, first, sizeof(first)); /* in order: [0,15) */
        assert_stream_is_wire(&f, 20);
        g_assert_cmpuint(f.d.stats.overlap_bytes, ==, 5);
        g_assert_cmpuint(f.d.stats.overlap_conflicts, ==, (guint64)differ);
        g_assert_null(f.d.queue);
        assert_stream_consistent(&f);
        fx_done(&f);
    }
}

/* In-order data running over two queued segments that touch each other:
 * both overlaps are compared with the first copies. */
static void test_overlap_in_order_vs_two_queued(void)
{
    static const struct {
        size_t differ_at; /* stream offset of the one differing byte */
        guint64 conflicts;
    } cases[] = {
        { 5, 0 },  /* before the queued data: not an overlap */
        { 15, 1 }, /* inside the first queued segment */
        { 25, 1 }, /* inside the second queued segment */
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        fx_t f;
        fx_default(&f, 30);
        syn(&f, 0);
        seg(&f, 1, 10, 10);
        seg(&f, 1, 20, 10); /* queued: [10,20) and [20,30) */
        g_assert_cmpuint(f.d.queued_count, ==, 2);
        uint8_t all[30];
        memcpy(all, f.wire, sizeof(all));
        all[cases[i].differ_at] = 'X';
        seg_bytes(&f, 1, all, sizeof(all));
        if (cases[i].differ_at < 10) {
            g_assert_cmpuint(f.rec.stream->data[cases[i].differ_at], ==, 'X');
            f.rec.stream->data[cases[i].differ_at] = f.wire[cases[i].differ_at];
        }
        assert_stream_is_wire(&f, 30); /* queued bytes win */
        g_assert_cmpuint(f.d.stats.overlap_bytes, ==, 20);
        if (f.d.stats.overlap_conflicts != cases[i].conflicts)
            g_test_fail_printf("difference at %zu: %" G_GUINT64_FORMAT " conflicts, expected %"
                               G_GUINT64_FORMAT, cases[i].differ_at, f.d.stats.overlap_conflicts,
                               cases[i].conflicts);
        fx_done(&f);
    }
}

/* ---- gaps ---------------------------------------------------------------- */

static void test_gap_by_peer_ack(void)
{
    fx_t f;
    fx_default(&f, 40);
    const uint32_t base = 2001;
    syn(&f, base - 1);
    /* The peer acknowledging data we have not seen, with nothing queued:
     * no gap (the data may simply be late). */
    tcp_dir_peer_ack(&f.d, &f.env, TEST_DIR, base + 5);
    g_assert_cmpuint(f.d.stats.gaps, ==, 0);

    seg(&f, base, 10, 10); /* hole [0,10), queued [10,20) */
    tcp_dir_peer_ack(&f.d, &f.env, TEST_DIR, base + 5);  /* inside the hole */
    tcp_dir_peer_ack(&f.d, &f.env, TEST_DIR, base - 50); /* old */
    g_assert_cmpuint(f.d.stats.gaps, ==, 0);
    g_assert_cmpuint(f.rec.stream->len, ==, 0);

    tcp_dir_peer_ack(&f.d, &f.env, TEST_DIR, base + 15); /* beyond the hole, into queued data */
    g_assert_cmpuint(f.d.stats.gaps, ==, 1);
    g_assert_cmpuint(f.d.stats.gap_bytes, ==, 10);
    g_assert_cmpstr(f.rec.log->str, ==, "G10 D10 ");
    g_assert_null(f.d.queue);
    g_assert_cmpuint(f.mc.in_use, ==, 0);

    seg(&f, base, 20, 20); /* the stream goes on */
    g_assert_cmpuint(f.d.delivered, ==, 40);
    seg(&f, base, 0, 10);  /* the lost bytes, too late: nothing new */
    g_assert_cmpuint(f.d.stats.retransmitted_segments, ==, 1);
    g_assert_cmpuint(f.rec.stream->len, ==, 40);
    for (size_t i = 0; i < 10; i++)
        g_assert_cmpuint(f.rec.stream->data[i], ==, GAP_FILL);
    g_assert_cmpmem(f.rec.stream->data + 10, 30, f.wire + 10, 30);
    assert_stream_consistent(&f);
    fx_done(&f);
}

/* One ACK beyond two holes, each with queued data behind it: neither hole
 * can be filled any more, so neither may block the stream. */
static void test_gap_by_peer_ack_two_holes(void)
{
    fx_t f;
    fx_default(&f, 40);
    const uint32_t base = 1;
    syn(&f, base - 1);
    seg(&f, base, 10, 10);
    seg(&f, base, 30, 10); /* holes [0,10) and [20,30) */
    tcp_dir_peer_ack(&f.d, &f.env, TEST_DIR, base + 40);
    g_assert_cmpuint(f.d.stats.gaps, ==, 2);
    g_assert_cmpuint(f.d.stats.gap_bytes, ==, 20);
    g_assert_cmpuint(f.d.delivered, ==, 40);
    g_assert_cmpstr(f.rec.log->str, ==, "G10 D10 G10 D10 ");
    g_assert_null(f.d.queue);
    assert_stream_consistent(&f);
    fx_done(&f);
}

static void test_gap_at_flush(void)
{
    fx_t f;
    fx_default(&f, 50);
    syn(&f, 0xabcdef00u);
    seg(&f, 0xabcdef01u, 0, 5);
    seg(&f, 0xabcdef01u, 10, 10);
    seg(&f, 0xabcdef01u, 30, 20); /* holes [5,10) and [20,30) */
    g_assert_cmpuint(f.d.queued_count, ==, 2);
    tcp_dir_flush(&f.d, &f.env, TEST_DIR);
    g_assert_null(f.d.queue);
    g_assert_cmpuint(f.mc.in_use, ==, 0);
    g_assert_cmpuint(f.d.stats.gaps, ==, 2);
    g_assert_cmpuint(f.d.stats.gap_bytes, ==, 15);
    g_assert_cmpstr(f.rec.log->str, ==, "D5 G5 D10 G10 D20 ");
    g_assert_cmpuint(f.d.delivered, ==, 50);
    assert_stream_consistent(&f);
    /* flushing an empty queue does nothing */
    tcp_dir_flush(&f.d, &f.env, TEST_DIR);
    g_assert_cmpuint(f.d.stats.gaps, ==, 2);
    fx_done(&f);
}

static void test_release_with_queue(void)
{
    fx_t f;
    fx_default(&f, 60);
    syn(&f, 0);
    for (size_t off = 10; off < 60; off += 20)
        seg(&f, 1, off, 10);
    g_assert_cmpuint(f.d.queued_count, ==, 3);
    g_assert_cmpuint(f.mc.in_use, >=, 30);
    fx_done(&f); /* release: in_use back to 0 */
}

/* ---- where the stream starts ------------------------------------------ */

static void test_midstream_pickup(void)
{
    fx_t f;
    fx_default(&f, 40);
    const uint32_t first_seen = 5000; /* stream offset 0 is this sequence number */
    byte_span_t none = { NULL, 0 };
    tcp_dir_segment(&f.d, &f.env, TEST_DIR, 4000, TCP_FLAG_ACK, none);
    g_assert_false(f.d.started); /* a pure ACK says nothing */

    seg(&f, first_seen, 0, 10);
    g_assert_true(f.d.started);
    g_assert_true(f.d.midstream);
    g_assert_false(f.d.syn_seen);
    g_assert_cmpuint(f.d.isn, ==, first_seen - 1);
    g_assert_cmpuint(f.d.delivered, ==, 10);

    /* A retransmission reaching back before the pick-up point: only what
     * lies after what was delivered is new. */
    uint8_t older[20];
    memset(older, 'Z', 10);
    memcpy(older + 10, f.wire, 10);
    seg_bytes(&f, first_seen - 10, older, sizeof(older));
    g_assert_cmpuint(f.d.delivered, ==, 10);
    uint8_t reaching[25];
    memset(reaching, 'Z', 5);
    memcpy(reaching + 5, f.wire, 20);
    seg_bytes(&f, first_seen - 5, reaching, sizeof(reaching));
    g_assert_cmpuint(f.d.delivered, ==, 20);
    seg(&f, first_seen, 20, 20);
    assert_stream_is_wire(&f, 40);
    assert_stream_consistent(&f);
    fx_done(&f);
}

static void test_wraparound(void)
{
    fx_t f;
    fx_default(&f, 96);
    const uint32_t isn = 0xfffffff0u;
    syn(&f, isn);
    /* out of order across the wrap: [16,48) has sequence numbers 0x1.. */
    seg(&f, isn + 1, 16, 32);
    g_assert_cmpuint(f.d.queued_count, ==, 1);
    g_assert_cmpuint(f.rec.stream->len, ==, 0);
    seg(&f, isn + 1, 0, 16); /* 0xfffffff1 .. 0x00000000 */
    g_assert_cmpuint(f.d.delivered, ==, 48);
    g_assert_cmpuint(f.d.next_seq, ==, (uint32_t)(isn + 1 + 48));
    /* one segment straddling 2^32 is a simpler case of the same */
    seg(&f, isn + 1, 48, 48);
    assert_stream_is_wire(&f, 96);
    g_assert_cmpuint(f.d.stats.gaps, ==, 0);
    g_assert_cmpuint(f.d.stats.retransmitted_segments, ==, 0);
    /* and a retransmission from before the wrap is recognised as old */
    seg(&f, isn + 1, 0, 16);
    g_assert_cmpuint(f.d.stats.retransmitted_segments, ==, 1);
    assert_stream_consistent(&f);
    fx_done(&f);

    /* in order, the first segment itself crossing 2^32 */
    fx_default(&f, 64);
    syn(&f, isn);
    seg(&f, isn + 1, 0, 32);
    seg(&f, isn + 1, 32, 32);
    assert_stream_is_wire(&f, 64);
    g_assert_cmpuint(f.d.next_seq, ==, 0x31u);
    fx_done(&f);
}

static void test_fin(void)
{
    fx_t f;
    fx_default(&f, 15);
    syn(&f, 300);
    seg(&f, 301, 0, 10);
    g_assert_false(f.d.fin_seen);
    seg_flags(&f, 301, 10, 5, TCP_FLAG_FIN);
    g_assert_true(f.d.fin_seen);
    g_assert_cmpuint(f.d.fin_seq, ==, 301 + 15);
    g_assert_true(f.d.finished);
    assert_stream_is_wire(&f, 15);
    fx_done(&f);

    /* a FIN ahead of missing data: finished only once the data is in */
    fx_default(&f, 15);
    syn(&f, 300);
    seg_flags(&f, 301, 10, 5, TCP_FLAG_FIN);
    g_assert_true(f.d.fin_seen);
    g_assert_false(f.d.finished);
    seg(&f, 301, 0, 10);
    g_assert_true(f.d.finished);
    assert_stream_is_wire(&f, 15);
    fx_done(&f);

    /* a bare FIN */
    fx_default(&f, 10);
    syn(&f, 300);
    seg(&f, 301, 0, 10);
    seg_flags(&f, 301, 10, 0, TCP_FLAG_FIN);
    g_assert_true(f.d.fin_seen);
    g_assert_cmpuint(f.d.fin_seq, ==, 311);
    g_assert_true(f.d.finished);
    fx_done(&f);

    /* a FIN with a hole before it, resolved at flush */
    fx_default(&f, 20);
    syn(&f, 300);
    seg(&f, 301, 10, 5);
    seg_flags(&f, 301, 15, 5, TCP_FLAG_FIN);
    g_assert_false(f.d.finished);
    tcp_dir_flush(&f.d, &f.env, TEST_DIR);
    g_assert_true(f.d.finished);
    g_assert_cmpuint(f.d.stats.gap_bytes, ==, 10);
    fx_done(&f);
}

/* ---- caps ------------------------------------------------------------------ */

/* Segments of 30 bytes; segment 0 arrives last (or never).  Whatever the
 * caps refuse, the stream declares a gap and goes on. */
static void run_capped(fx_t *f, const unsigned *order, size_t n)
{
    syn(f, 0x7ffffff0u);
    for (size_t i = 0; i < n; i++) {
        seg(f, 0x7ffffff1u, (size_t)order[i] * 30, 30);
        assert_stream_consistent(f);
    }
    tcp_dir_flush(&f->d, &f->env, TEST_DIR);
    check_caps(f);
    assert_stream_consistent(f);
    g_assert_null(f->d.queue);
    g_assert_cmpuint(f->mc.in_use, ==, 0);
}

static const unsigned missing_first[] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 0 };
static const unsigned every_other[] = { 1, 3, 5, 7, 9, 2, 6, 0, 4, 8 };
static const unsigned reversed[] = { 9, 8, 7, 6, 5, 4, 3, 2, 1, 0 };

static const struct {
    const unsigned *order;
} cap_orders[] = { { missing_first }, { every_other }, { reversed } };

static void test_cap_global(void)
{
    for (size_t i = 0; i < G_N_ELEMENTS(cap_orders); i++) {
        fx_t f;
        /* room for about one queued 30-byte segment */
        fx_init(&f, 100, LIMITS_DEFAULT_FLOW_MEMORY, LIMITS_DEFAULT_MAX_QUEUED_SEGMENTS, 300);
        run_capped(&f, cap_orders[i].order, 10);
        g_assert_cmpuint(f.mc.hits[CAP_GLOBAL_MEMORY], >=, 1);
        g_assert_cmpuint(f.d.stats.gaps, >=, 1);
        g_assert_cmpuint(f.mc.peak, <=, 100);
        g_assert_cmpuint(f.d.delivered, ==, 300);
        g_assert_cmpuint(f.d.stats.bytes_delivered + f.d.stats.gap_bytes, ==, 300);
        fx_done(&f);
    }
    /* a cap too small for any segment: every hole is a gap at once */
    fx_t f;
    fx_init(&f, 10, LIMITS_DEFAULT_FLOW_MEMORY, LIMITS_DEFAULT_MAX_QUEUED_SEGMENTS, 300);
    run_capped(&f, reversed, 10);
    g_assert_cmpuint(f.mc.peak, ==, 0);
    g_assert_cmpuint(f.d.stats.gap_bytes, ==, 270);
    g_assert_cmpuint(f.d.stats.bytes_delivered, ==, 30);
    fx_done(&f);
}

static void test_cap_flow(void)
{
    for (size_t i = 0; i < G_N_ELEMENTS(cap_orders); i++) {
        fx_t f;
        fx_init(&f, LIMITS_DEFAULT_GLOBAL_MEMORY, 120, LIMITS_DEFAULT_MAX_QUEUED_SEGMENTS, 300);
        run_capped(&f, cap_orders[i].order, 10);
        g_assert_cmpuint(f.mc.hits[CAP_FLOW_MEMORY], >=, 1);
        g_assert_cmpuint(f.mc.hits[CAP_GLOBAL_MEMORY], ==, 0);
        g_assert_cmpuint(f.d.stats.gaps, >=, 1);
        g_assert_cmpuint(f.mc.peak, <=, 120);
        g_assert_cmpuint(f.d.stats.bytes_delivered + f.d.stats.gap_bytes, ==, 300);
        fx_done(&f);
    }
}

static void test_cap_queued_segments(void)
{
    for (size_t i = 0; i < G_N_ELEMENTS(cap_orders); i++) {
        fx_t f;
        fx_init(&f, LIMITS_DEFAULT_GLOBAL_MEMORY, LIMITS_DEFAULT_FLOW_MEMORY, 2, 300);
        run_capped(&f, cap_orders[i].order, 10);
        g_assert_cmpuint(f.mc.hits[CAP_QUEUED_SEGMENTS], >=, 1);
        g_assert_cmpuint(f.d.stats.gaps, >=, 1);
        g_assert_cmpuint(f.d.stats.bytes_delivered + f.d.stats.gap_bytes, ==, 300);
        fx_done(&f);
    }
    /* exactly: two holes fit, the third segment ahead of a hole gives up
     * the earliest hole */
    fx_t f;
    fx_init(&f, LIMITS_DEFAULT_GLOBAL_MEMORY, LIMITS_DEFAULT_FLOW_MEMORY, 2, 300);
    syn(&f, 0);
    seg(&f, 1, 30, 30);
    seg(&f, 1, 90, 30);
    g_assert_cmpuint(f.d.stats.gaps, ==, 0);
    seg(&f, 1, 150, 30);
    g_assert_cmpuint(f.mc.hits[CAP_QUEUED_SEGMENTS], ==, 1);
    g_assert_cmpuint(f.d.stats.gaps, ==, 1);
    g_assert_cmpuint(f.d.stats.gap_bytes, ==, 30);
    g_assert_cmpuint(f.d.delivered, ==, 60);
    g_assert_cmpuint(f.d.queued_count, ==, 2);
    assert_stream_consistent(&f);
    fx_done(&f);
}

/* A segment that the queue takes only in part (the cap refuses its tail):
 * the piece already queued is the segment's own data, not a second copy, so
 * only the bytes that really arrived twice count as overlap. */
static void test_cap_partial_enqueue(void)
{
    fx_t f;
    fx_init(&f, LIMITS_DEFAULT_GLOBAL_MEMORY, LIMITS_DEFAULT_FLOW_MEMORY, 2, 40);
    syn(&f, 0);
    seg(&f, 1, 20, 10); /* queued: [20,30) */
    seg(&f, 1, 10, 30); /* [10,20) queued, [20,30) seen before, [30,40) refused */
    g_assert_cmpuint(f.mc.hits[CAP_QUEUED_SEGMENTS], ==, 1);
    g_assert_cmpuint(f.d.stats.gaps, ==, 1);
    g_assert_cmpuint(f.d.stats.gap_bytes, ==, 10);
    g_assert_cmpuint(f.d.delivered, ==, 40);
    assert_stream_consistent(&f);
    g_assert_cmpmem(f.rec.stream->data + 10, 30, f.wire + 10, 30);
    g_assert_cmpuint(f.d.stats.overlap_bytes, ==, 10);
    fx_done(&f);
}

/* ---- many tiny segments -------------------------------------------------- */

static void shuffle(GRand *rand, unsigned *v, size_t n)
{
    for (size_t i = n - 1; i > 0; i--) {
        size_t j = (size_t)g_rand_int_range(rand, 0, (gint32)i + 1);
        unsigned t = v[i];
        v[i] = v[j];
        v[j] = t;
    }
}

static void test_random_one_byte(void)
{
    enum { N = 1500 };
    GRand *rand = g_rand_new_with_seed(20240611);
    unsigned *order = g_new(unsigned, N);
    for (unsigned i = 0; i < N; i++)
        order[i] = i;
    shuffle(rand, order, N);
    fx_t f;
    fx_default(&f, N);
    const uint32_t isn = 0xffffff00u; /* wraps along the way */
    syn(&f, isn);
    for (size_t i = 0; i < N; i++)
        seg(&f, isn + 1, order[i], 1);
    assert_stream_is_wire(&f, N);
    g_assert_cmpuint(f.d.stats.gaps, ==, 0);
    g_assert_cmpuint(f.d.stats.overlap_bytes, ==, 0);
    g_assert_null(f.d.queue);
    g_assert_cmpuint(f.mc.in_use, ==, 0);
    assert_stream_consistent(&f);
    fx_done(&f);

    /* each byte twice, and some 3-byte segments in between */
    fx_default(&f, N);
    syn(&f, isn);
    unsigned *twice = g_new(unsigned, 2 * N);
    for (unsigned i = 0; i < 2 * N; i++)
        twice[i] = i % N;
    shuffle(rand, twice, 2 * N);
    for (size_t i = 0; i < 2 * N; i++) {
        if (i % 7 == 0 && twice[i] + 3 <= N)
            seg(&f, isn + 1, twice[i], 3);
        else
            seg(&f, isn + 1, twice[i], 1);
    }
    assert_stream_is_wire(&f, N);
    g_assert_cmpuint(f.d.stats.gaps, ==, 0);
    g_assert_cmpuint(f.d.stats.overlap_conflicts, ==, 0);
    g_assert_cmpuint(f.d.stats.overlap_bytes, >=, N);
    assert_stream_consistent(&f);
    fx_done(&f);
    g_free(twice);
    g_free(order);
    g_rand_free(rand);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    /* A failed check marks its test failed and the others still run. */
    g_test_set_nonfatal_assertions();
    g_test_add_func("/tcp/in-order", test_in_order);
    g_test_add_func("/tcp/out-of-order-reversed", test_out_of_order_reversed);
    g_test_add_func("/tcp/retransmission-exact", test_retransmission_exact);
    g_test_add_func("/tcp/retransmission-of-queued", test_retransmission_of_queued);
    g_test_add_func("/tcp/overlap/queued-equal", test_overlap_queued_equal);
    g_test_add_func("/tcp/overlap/queued-conflict", test_overlap_queued_conflict);
    g_test_add_func("/tcp/overlap/queued-spanning", test_overlap_queued_spanning);
    g_test_add_func("/tcp/overlap/in-order-vs-queued", test_overlap_in_order_vs_queued);
    g_test_add_func("/tcp/overlap/in-order-vs-two-queued", test_overlap_in_order_vs_two_queued);
    g_test_add_func("/tcp/gap/peer-ack", test_gap_by_peer_ack);
    g_test_add_func("/tcp/gap/peer-ack-two-holes", test_gap_by_peer_ack_two_holes);
    g_test_add_func("/tcp/gap/flush", test_gap_at_flush);
    g_test_add_func("/tcp/release-with-queue", test_release_with_queue);
    g_test_add_func("/tcp/midstream-pickup", test_midstream_pickup);
    g_test_add_func("/tcp/wraparound", test_wraparound);
    g_test_add_func("/tcp/fin", test_fin);
    g_test_add_func("/tcp/cap/global", test_cap_global);
    g_test_add_func("/tcp/cap/flow", test_cap_flow);
    g_test_add_func("/tcp/cap/queued-segments", test_cap_queued_segments);
    g_test_add_func("/tcp/cap/partial-enqueue", test_cap_partial_enqueue);
    g_test_add_func("/tcp/random-one-byte", test_random_one_byte);
    return g_test_run();
}
