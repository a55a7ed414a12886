/* Unit tests for monitor/pdu_stream.c with a toy framer: a PDU is a 2-byte
 * big-endian body length followed by the body; the length 0xffff is not a
 * PDU of the toy protocol (INVALID). */
#include "monitor/memcap.h"
#include "monitor/pdu_stream.h"

#include <glib.h>
#include <string.h>

#define TOY_INVALID_LENGTH 0xffff

typedef struct toy {
    size_t keep_max;     /* keep = min(length, keep_max) */
    GPtrArray *pdus;     /* GBytes of the kept bytes handed over */
    GArray *lengths;     /* size_t full lengths */
    GArray *in_place;    /* gboolean: the kept bytes pointed into the fed data */
    const uint8_t *feed_lo, *feed_hi; /* the data of the current feed */
    unsigned frame_calls;
    size_t max_start;    /* longest span the framer was shown */
} toy_t;

static pdu_frame_t toy_frame(void *ctx, byte_span_t start)
{
    toy_t *t = ctx;
    pdu_frame_t f = { PDU_NEED_MORE, 0, 0, 0 };
    t->frame_calls++;
    g_assert_cmpuint(start.len, >, 0);
    g_assert_nonnull(start.ptr);
    if (start.len > t->max_start)
        t->max_start = start.len;
    if (start.len < 2) {
        f.need = 2;
        return f;
    }
    size_t body = ((size_t)start.ptr[0] << 8) | start.ptr[1];
    if (body == TOY_INVALID_LENGTH) {
        f.status = PDU_INVALID;
        return f;
    }
    f.status = PDU_READY;
    f.length = 2 + body;
    f.keep = f.length < t->keep_max ? f.length : t->keep_max;
    return f;
}

static void toy_handle(void *ctx, byte_span_t pdu, size_t full_length)
{
    toy_t *t = ctx;
    g_assert_cmpuint(pdu.len, <=, full_length);
    g_assert_cmpuint(pdu.len, ==, full_length < t->keep_max ? full_length : t->keep_max);
    g_ptr_array_add(t->pdus, g_bytes_new(pdu.ptr, pdu.len));
    g_array_append_val(t->lengths, full_length);
    gboolean in_place = pdu.ptr >= t->feed_lo && pdu.ptr < t->feed_hi;
    g_array_append_val(t->in_place, in_place);
}

typedef struct fx {
    memcap_t mc;
    memcap_account_t acct;
    pdu_stream_t s;
    pdu_stream_env_t env;
    toy_t toy;
    GByteArray *wire;    /* the stream */
    GArray *expected;    /* size_t offsets of the PDUs in wire */
} fx_t;

static void fx_init(fx_t *f, size_t global, size_t flow, size_t keep_max)
{
    memset(f, 0, sizeof(*f));
    memcap_init(&f->mc, global, flow);
    pdu_stream_init(&f->s);
    f->toy.keep_max = keep_max;
    f->toy.pdus = g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
    f->toy.lengths = g_array_new(FALSE, FALSE, sizeof(size_t));
    f->toy.in_place = g_array_new(FALSE, FALSE, sizeof(gboolean));
    f->env.memcap = &f->mc;
    f->env.account = &f->acct;
    f->env.frame = toy_frame;
    f->env.handle = toy_handle;
    f->env.ctx = &f->toy;
    f->wire = g_byte_array_new();
    f->expected = g_array_new(FALSE, FALSE, sizeof(size_t));
}

static void fx_default(fx_t *f, size_t keep_max)
{
    fx_init(f, 1 << 24, 1 << 22, keep_max);
}

static void fx_done(fx_t *f)
{
    pdu_stream_release(&f->s, &f->mc, &f->acct);
    g_assert_cmpuint(f->mc.in_use, ==, 0);
    g_assert_cmpuint(f->acct.in_use, ==, 0);
    g_assert_cmpuint(pdu_stream_pending(&f->s), ==, 0);
    g_ptr_array_unref(f->toy.pdus);
    g_array_unref(f->toy.lengths);
    g_array_unref(f->toy.in_place);
    g_byte_array_unref(f->wire);
    g_array_unref(f->expected);
}

/* Appends a PDU whose body bytes are derived from its number. */
static void add_pdu(fx_t *f, size_t body)
{
    size_t at = f->wire->len;
    uint8_t hdr[2] = { (uint8_t)(body >> 8), (uint8_t)body };
    g_byte_array_append(f->wire, hdr, 2);
    uint8_t tag = (uint8_t)(0x30 + f->expected->len);
    for (size_t i = 0; i < body; i++) {
        uint8_t b = (uint8_t)(tag + i * 13);
        g_byte_array_append(f->wire, &b, 1);
    }
    g_array_append_val(f->expected, at);
}

static void add_raw(fx_t *f, const uint8_t *bytes, size_t len)
{
    g_byte_array_append(f->wire, bytes, (guint)len);
}

static gboolean feed(fx_t *f, size_t from, size_t len)
{
    /* each feed in its own allocation, as packets are */
    uint8_t *copy = g_memdup2(f->wire->data + from, len ? len : 1);
    byte_span_t data = { copy, len };
    f->toy.feed_lo = copy;
    f->toy.feed_hi = copy + len;
    gboolean ok = pdu_stream_feed(&f->s, &f->env, data);
    f->toy.feed_lo = f->toy.feed_hi = NULL;
    g_free(copy);
    g_assert_cmpuint(f->mc.in_use, <=, f->mc.global_limit);
    g_assert_cmpuint(f->acct.in_use, <=, f->mc.flow_limit);
    g_assert_cmpuint(f->mc.in_use, ==, f->acct.in_use);
    g_assert_cmpuint(f->s.alloc, ==, f->acct.in_use);
    return ok;
}

/* The PDUs handled are the first n expected ones, with their kept bytes. */
static void assert_pdus(const fx_t *f, guint n)
{
    g_assert_cmpuint(f->toy.pdus->len, ==, n);
    for (guint i = 0; i < n && i < f->toy.pdus->len; i++) {
        size_t at = g_array_index(f->expected, size_t, i);
        size_t full = 2 + (((size_t)f->wire->data[at] << 8) | f->wire->data[at + 1]);
        size_t keep = full < f->toy.keep_max ? full : f->toy.keep_max;
        gsize got_len;
        const uint8_t *got = g_bytes_get_data(g_ptr_array_index(f->toy.pdus, i), &got_len);
        g_assert_cmpuint(g_array_index(f->toy.lengths, size_t, i), ==, full);
        g_assert_cmpmem(got, got_len, f->wire->data + at, keep);
    }
}

/* ---- cases ---------------------------------------------------------------- */

static void test_whole_in_one_feed(void)
{
    fx_t f;
    fx_default(&f, SIZE_MAX);
    add_pdu(&f, 40);
    g_assert_true(feed(&f, 0, f.wire->len));
    assert_pdus(&f, 1);
    g_assert_true(g_array_index(f.toy.in_place, gboolean, 0)); /* handed on in place */
    g_assert_cmpuint(pdu_stream_pending(&f.s), ==, 0);
    g_assert_cmpuint(f.mc.peak, ==, 0); /* nothing buffered */
    fx_done(&f);
}

static const size_t bodies[] = { 0, 1, 5, 300, 2, 0, 1000, 17 };

static void test_several_per_feed(void)
{
    fx_t f;
    fx_default(&f, SIZE_MAX);
    for (size_t i = 0; i < G_N_ELEMENTS(bodies); i++)
        add_pdu(&f, bodies[i]);
    g_assert_true(feed(&f, 0, f.wire->len));
    assert_pdus(&f, G_N_ELEMENTS(bodies));
    for (guint i = 0; i < f.toy.in_place->len; i++)
        g_assert_true(g_array_index(f.toy.in_place, gboolean, i));
    g_assert_cmpuint(f.mc.peak, ==, 0);
    g_assert_cmpuint(pdu_stream_pending(&f.s), ==, 0);
    fx_done(&f);
}

static void test_one_byte_feeds(void)
{
    fx_t f;
    fx_default(&f, SIZE_MAX);
    for (size_t i = 0; i < G_N_ELEMENTS(bodies); i++)
        add_pdu(&f, bodies[i]);
    size_t boundary = 0;
    guint done = 0;
    for (size_t i = 0; i < f.wire->len; i++) {
        g_assert_true(feed(&f, i, 1));
        /* a PDU is handed over exactly when its last byte arrives */
        if (done < f.expected->len) {
            size_t at = g_array_index(f.expected, size_t, done);
            size_t full = 2 + bodies[done];
            boundary = at + full;
            if (i + 1 == boundary)
                done++;
        }
        g_assert_cmpuint(f.toy.pdus->len, ==, done);
        g_assert_cmpuint(pdu_stream_pending(&f.s), <, 2 + 1000);
    }
    assert_pdus(&f, G_N_ELEMENTS(bodies));
    g_assert_cmpuint(pdu_stream_pending(&f.s), ==, 0);
    g_assert_cmpuint(f.mc.peak, >=, 1002); /* the 1000-byte body was held whole */
    fx_done(&f);
}

static void test_random_chunks(void)
{
    GRand *rand = g_rand_new_with_seed(7);
    for (int round = 0; round < 50; round++) {
        fx_t f;
        size_t keep = round % 3 == 0 ? SIZE_MAX : (size_t)g_rand_int_range(rand, 1, 40);
        fx_default(&f, keep);
        guint n = (guint)g_rand_int_range(rand, 1, 30);
        for (guint i = 0; i < n; i++)
            add_pdu(&f, (size_t)g_rand_int_range(rand, 0, 600));
        size_t pos = 0;
        while (pos < f.wire->len) {
            size_t chunk = (size_t)g_rand_int_range(rand, 1, 700);
            if (chunk > f.wire->len - pos)
                chunk = f.wire->len - pos;
            g_assert_true(feed(&f, pos, chunk));
            pos += chunk;
        }
        assert_pdus(&f, n);
        g_assert_cmpuint(pdu_stream_pending(&f.s), ==, 0);
        fx_done(&f);
    }
    g_rand_free(rand);
}

/* keep < length: the body is skipped, never buffered. */
static void test_keep_less_skips_body(void)
{
    static const size_t feed_sizes[] = { 1, 3, 100, 4096, 70000 };
    for (size_t k = 0; k < G_N_ELEMENTS(feed_sizes); k++) {
        fx_t f;
        fx_default(&f, 4);
        add_pdu(&f, 60000);
        add_pdu(&f, 1);      /* shorter than keep: whole */
        add_pdu(&f, 50000);
        add_pdu(&f, 3);
        for (size_t pos = 0; pos < f.wire->len; pos += feed_sizes[k]) {
            size_t n = f.wire->len - pos < feed_sizes[k] ? f.wire->len - pos : feed_sizes[k];
            g_assert_true(feed(&f, pos, n));
            g_assert_cmpuint(pdu_stream_pending(&f.s), <=, 4);
        }
        assert_pdus(&f, 4);
        g_assert_cmpuint(g_array_index(f.toy.lengths, size_t, 0), ==, 60002);
        /* never more than one small buffer, far below a body */
        g_assert_cmpuint(f.mc.peak, <=, 256);
        /* the framer sees one feed in place, or at most the kept bytes buffered */
        g_assert_cmpuint(f.toy.max_start, <=, MAX(feed_sizes[k], 4));
        fx_done(&f);
    }
}

static void test_invalid_stops_stream(void)
{
    fx_t f;
    fx_default(&f, SIZE_MAX);
    add_pdu(&f, 3);
    static const uint8_t bad[] = { 0xff, 0xff, 1, 2, 3 };
    add_raw(&f, bad, sizeof(bad));
    size_t after_bad = f.wire->len;
    add_pdu(&f, 4);
    g_assert_false(feed(&f, 0, f.wire->len));
    assert_pdus(&f, 1);
    g_assert_true(f.s.invalid);
    unsigned calls = f.toy.frame_calls;
    /* nothing more is cut, even bytes that would make a good PDU */
    g_assert_false(feed(&f, after_bad, f.wire->len - after_bad));
    g_assert_cmpuint(f.toy.frame_calls, ==, calls);
    assert_pdus(&f, 1);
    /* a reset starts afresh */
    pdu_stream_reset(&f.s, &f.env);
    g_assert_false(f.s.invalid);
    g_assert_true(feed(&f, after_bad, f.wire->len - after_bad));
    g_assert_cmpuint(f.toy.pdus->len, ==, 2);
    fx_done(&f);

    /* INVALID found on buffered bytes (the header split over two feeds) */
    fx_default(&f, SIZE_MAX);
    add_pdu(&f, 2);
    add_raw(&f, bad, sizeof(bad));
    g_assert_true(feed(&f, 0, 5));
    g_assert_false(feed(&f, 5, 1)); /* the second 0xff completes the bad header */
    g_assert_true(f.s.invalid);
    g_assert_false(feed(&f, 7, 3));
    assert_pdus(&f, 1);
    fx_done(&f);
}

static void test_cap_hit(void)
{
    /* a global cap below the first buffer */
    fx_t f;
    fx_init(&f, 100, 1 << 20, SIZE_MAX);
    add_pdu(&f, 50);
    add_pdu(&f, 10);
    g_assert_false(feed(&f, 0, 30)); /* a partial PDU must be held: refused */
    g_assert_true(f.s.cap_hit);
    g_assert_cmpuint(f.mc.hits[CAP_GLOBAL_MEMORY], ==, 1);
    g_assert_cmpuint(f.mc.in_use, ==, 0);
    g_assert_cmpuint(f.toy.pdus->len, ==, 0);
    unsigned calls = f.toy.frame_calls;
    g_assert_false(feed(&f, 30, f.wire->len - 30)); /* out of step: nothing is cut */
    g_assert_cmpuint(f.toy.frame_calls, ==, calls);
    g_assert_cmpuint(f.toy.pdus->len, ==, 0);
    pdu_stream_reset(&f.s, &f.env);
    g_assert_false(f.s.cap_hit);
    g_assert_cmpuint(f.mc.in_use, ==, 0);
    /* whole PDUs need no memory and go through */
    size_t second = g_array_index(f.expected, size_t, 1);
    g_assert_true(feed(&f, second, f.wire->len - second));
    g_assert_cmpuint(f.toy.pdus->len, ==, 1);
    fx_done(&f);

    /* a per-flow cap reached while a PDU grows */
    fx_init(&f, 1 << 24, 300, SIZE_MAX);
    add_pdu(&f, 1000);
    g_assert_true(feed(&f, 0, 200)); /* 256 bytes buffered: fits */
    g_assert_cmpuint(f.acct.in_use, ==, 256);
    g_assert_false(feed(&f, 200, 200)); /* would grow to 512: refused */
    g_assert_true(f.s.cap_hit);
    g_assert_cmpuint(f.mc.hits[CAP_FLOW_MEMORY], ==, 1);
    g_assert_cmpuint(f.acct.in_use, <=, 300);
    g_assert_cmpuint(f.mc.peak, <=, 300);
    g_assert_cmpuint(f.toy.pdus->len, ==, 0);
    pdu_stream_reset(&f.s, &f.env);
    g_assert_cmpuint(f.mc.in_use, ==, 0);
    g_assert_cmpuint(f.acct.in_use, ==, 0);
    fx_done(&f);
}

static void test_reset_releases(void)
{
    fx_t f;
    fx_default(&f, SIZE_MAX);
    add_pdu(&f, 5000);
    add_pdu(&f, 7);
    g_assert_true(feed(&f, 0, 3000));
    g_assert_cmpuint(pdu_stream_pending(&f.s), ==, 3000);
    g_assert_cmpuint(f.mc.in_use, >=, 3000);
    g_assert_cmpuint(f.acct.in_use, ==, f.mc.in_use);
    pdu_stream_reset(&f.s, &f.env);
    g_assert_cmpuint(pdu_stream_pending(&f.s), ==, 0);
    g_assert_cmpuint(f.mc.in_use, ==, 0);
    g_assert_cmpuint(f.acct.in_use, ==, 0);
    g_assert_cmpuint(f.mc.peak, >=, 3000);
    /* after the reset (a gap), the stream picks up at the next PDU */
    size_t second = g_array_index(f.expected, size_t, 1);
    g_assert_true(feed(&f, second, 2));
    g_assert_cmpuint(f.mc.in_use, >, 0);
    g_assert_true(feed(&f, second + 2, f.wire->len - second - 2));
    g_assert_cmpuint(f.toy.pdus->len, ==, 1);
    g_assert_cmpuint(g_array_index(f.toy.lengths, size_t, 0), ==, 9);
    /* release returns the buffer too */
    pdu_stream_release(&f.s, &f.mc, &f.acct);
    g_assert_cmpuint(f.mc.in_use, ==, 0);
    g_assert_null(f.s.buf);
    fx_done(&f);
}

/* ---- gaps --------------------------------------------------------------------- */

/* Feeds wire[from, from+len) and then reports the next `missing` bytes lost. */
static gboolean feed_then_gap(fx_t *f, size_t from, size_t len, size_t missing)
{
    g_assert_true(feed(f, from, len));
    gboolean in_step = pdu_stream_gap(&f->s, &f->env, missing);
    g_assert_cmpuint(f->mc.in_use, ==, f->acct.in_use);
    g_assert_cmpuint(f->s.alloc, ==, f->acct.in_use);
    return in_step;
}

static void test_gap_in_skipped_body(void)
{
    fx_t f;
    fx_default(&f, 4);
    add_pdu(&f, 100); /* 102 bytes, 4 kept */
    add_pdu(&f, 3);
    g_assert_cmpuint(f.toy.pdus->len, ==, 0);
    /* the PDU is handed over after 10 bytes; 40 body bytes are lost */
    g_assert_true(feed_then_gap(&f, 0, 10, 40));
    g_assert_cmpuint(f.toy.pdus->len, ==, 1);
    g_assert_true(feed(&f, 50, f.wire->len - 50));
    assert_pdus(&f, 2);
    fx_done(&f);

    /* a gap reaching exactly to the end of the skipped body */
    fx_default(&f, 4);
    add_pdu(&f, 100);
    add_pdu(&f, 3);
    g_assert_true(feed_then_gap(&f, 0, 10, 92));
    g_assert_true(feed(&f, 102, f.wire->len - 102));
    assert_pdus(&f, 2);
    fx_done(&f);
}

static void test_gap_in_buffered_pdu(void)
{
    static const struct {
        size_t fed;     /* bytes of the 202-byte first PDU fed before the gap */
        size_t missing;
    } cases[] = {
        { 2, 50 },    /* just the header */
        { 30, 100 },
        { 30, 172 },  /* the gap ends exactly where the PDU does */
        { 201, 1 },
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        fx_t f;
        fx_default(&f, SIZE_MAX);
        add_pdu(&f, 200);
        add_pdu(&f, 5);
        add_pdu(&f, 0);
        gboolean in_step = feed_then_gap(&f, 0, cases[i].fed, cases[i].missing);
        if (!in_step)
            g_test_fail_printf("case %zu: out of step after a gap inside a PDU of known length", i);
        g_assert_cmpuint(pdu_stream_pending(&f.s), ==, 0); /* the damaged PDU is dropped */
        size_t resume = cases[i].fed + cases[i].missing;
        g_assert_true(feed(&f, resume, f.wire->len - resume));
        /* the damaged PDU never comes out; the next two do */
        g_assert_cmpuint(f.toy.pdus->len, ==, 2);
        if (f.toy.pdus->len == 2) {
            g_assert_cmpuint(g_array_index(f.toy.lengths, size_t, 0), ==, 7);
            g_assert_cmpuint(g_array_index(f.toy.lengths, size_t, 1), ==, 2);
        }
        fx_done(&f);
    }
}

static void test_gap_loses_boundaries(void)
{
    /* at a PDU boundary: where the next PDU starts is unknown */
    fx_t f;
    fx_default(&f, SIZE_MAX);
    add_pdu(&f, 10);
    add_pdu(&f, 10);
    g_assert_false(feed_then_gap(&f, 0, 12, 5));
    g_assert_cmpuint(f.toy.pdus->len, ==, 1);
    fx_done(&f);

    /* beyond the end of the PDU being gathered */
    fx_default(&f, SIZE_MAX);
    add_pdu(&f, 300);
    g_assert_false(feed_then_gap(&f, 0, 100, 203));
    g_assert_cmpuint(pdu_stream_pending(&f.s), ==, 0);
    g_assert_cmpuint(f.mc.in_use, ==, 0); /* reset: the buffer is released */
    fx_done(&f);

    /* beyond the end of a skipped body */
    fx_default(&f, 4);
    add_pdu(&f, 100);
    g_assert_false(feed_then_gap(&f, 0, 10, 93));
    fx_done(&f);

    /* inside a header: the length is not known yet */
    fx_default(&f, SIZE_MAX);
    add_pdu(&f, 100);
    g_assert_false(feed_then_gap(&f, 0, 1, 1));
    g_assert_cmpuint(pdu_stream_pending(&f.s), ==, 0);
    g_assert_cmpuint(f.mc.in_use, ==, 0);
    fx_done(&f);

    /* a stream already out of step is reset */
    fx_default(&f, SIZE_MAX);
    static const uint8_t bad[] = { 0xff, 0xff, 0 };
    add_raw(&f, bad, sizeof(bad));
    add_pdu(&f, 1);
    g_assert_false(feed(&f, 0, 3));
    g_assert_false(pdu_stream_gap(&f.s, &f.env, 10));
    g_assert_false(f.s.invalid);
    g_assert_true(feed(&f, 3, f.wire->len - 3)); /* the caller found the next boundary */
    g_assert_cmpuint(f.toy.pdus->len, ==, 1);
    fx_done(&f);
}

static void test_empty_feed(void)
{
    fx_t f;
    fx_default(&f, SIZE_MAX);
    byte_span_t none = { NULL, 0 };
    g_assert_true(pdu_stream_feed(&f.s, &f.env, none));
    g_assert_cmpuint(f.toy.frame_calls, ==, 0);
    g_assert_cmpuint(pdu_stream_pending(&f.s), ==, 0);
    fx_done(&f);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    /* A failed check marks its test failed and the others still run. */
    g_test_set_nonfatal_assertions();
    g_test_add_func("/pdu/whole-in-one-feed", test_whole_in_one_feed);
    g_test_add_func("/pdu/several-per-feed", test_several_per_feed);
    g_test_add_func("/pdu/one-byte-feeds", test_one_byte_feeds);
    g_test_add_func("/pdu/random-chunks", test_random_chunks);
    g_test_add_func("/pdu/keep-less-skips-body", test_keep_less_skips_body);
    g_test_add_func("/pdu/invalid-stops-stream", test_invalid_stops_stream);
    g_test_add_func("/pdu/cap-hit", test_cap_hit);
    g_test_add_func("/pdu/reset-releases", test_reset_releases);
    g_test_add_func("/pdu/empty-feed", test_empty_feed);
    g_test_add_func("/pdu/gap/in-skipped-body", test_gap_in_skipped_body);
    g_test_add_func("/pdu/gap/in-buffered-pdu", test_gap_in_buffered_pdu);
    g_test_add_func("/pdu/gap/loses-boundaries", test_gap_loses_boundaries);
    return g_test_run();
}
