/* Unit tests for dissectors/cursor.h: the bounds-checked reader. */
#include "dissectors/cursor.h"

#include <glib.h>

static const uint8_t sample[] = { 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
                                  0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10 };

/* A pointer range check: [p, p+n) lies inside [base, base+len). */
static gboolean span_inside(byte_span_t s, const uint8_t *base, size_t len)
{
    if (s.len == 0)
        return TRUE;
    return s.ptr >= base && s.ptr <= base + len && s.len <= (size_t)(base + len - s.ptr);
}

static void test_reads_values(void)
{
    cursor_t c = cur_make(sample, sizeof(sample));
    g_assert_true(cur_ok(&c));
    g_assert_cmpuint(cur_remaining(&c), ==, sizeof(sample));
    g_assert_cmpuint(cur_u8(&c), ==, 0x01);
    g_assert_cmpuint(cur_offset(&c), ==, 1);
    g_assert_cmpuint(cur_be16(&c), ==, 0x0203);
    g_assert_cmpuint(cur_be24(&c), ==, 0x040506);
    g_assert_cmpuint(cur_be32(&c), ==, 0x0708090a);
    g_assert_cmpuint(cur_le16(&c), ==, 0x0c0b);
    g_assert_cmpuint(cur_le32(&c), ==, 0x100f0e0du);
    g_assert_cmpuint(cur_offset(&c), ==, 16);
    g_assert_true(cur_ok(&c));
    g_assert_true(cur_empty(&c));
    g_assert_cmpuint(cur_remaining(&c), ==, 0);
}

/* Reader kinds, so that every reader is tried against every short length. */
typedef enum { R_U8, R_BE16, R_BE24, R_BE32, R_LE16, R_LE32, R_SKIP, R_COPY, R_VIEW, R_SUB } reader_t;

static const struct {
    const char *name;
    reader_t kind;
    size_t width;
} readers[] = {
    { "u8", R_U8, 1 },       { "be16", R_BE16, 2 },   { "be24", R_BE24, 3 },
    { "be32", R_BE32, 4 },   { "le16", R_LE16, 2 },   { "le32", R_LE32, 4 },
    { "skip5", R_SKIP, 5 },  { "copy6", R_COPY, 6 },  { "view7", R_VIEW, 7 },
    { "sub3", R_SUB, 3 },
};

/* Runs one read; returns whether it reported success in its own way and
 * fills *value with what the read returned (0 when it has no value). */
static gboolean run_reader(cursor_t *c, reader_t kind, size_t width, uint64_t *value)
{
    uint8_t buf[16];
    *value = 0;
    switch (kind) {
    case R_U8: *value = cur_u8(c); break;
    case R_BE16: *value = cur_be16(c); break;
    case R_BE24: *value = cur_be24(c); break;
    case R_BE32: *value = cur_be32(c); break;
    case R_LE16: *value = cur_le16(c); break;
    case R_LE32: *value = cur_le32(c); break;
    case R_SKIP: return cur_skip(c, width);
    case R_COPY: {
        memset(buf, 0xee, sizeof(buf));
        gboolean ok = cur_copy(c, buf, width);
        if (!ok) {
            /* a failed copy writes nothing */
            for (size_t i = 0; i < sizeof(buf); i++)
                g_assert_cmpuint(buf[i], ==, 0xee);
        }
        return ok;
    }
    case R_VIEW: {
        byte_span_t s = cur_view(c, width);
        if (!cur_ok(c)) {
            g_assert_null(s.ptr);
            g_assert_cmpuint(s.len, ==, 0);
            return FALSE;
        }
        g_assert_cmpuint(s.len, ==, width);
        return TRUE;
    }
    case R_SUB: {
        cursor_t sub = cur_sub(c, width);
        if (!cur_ok(c)) {
            g_assert_false(cur_ok(&sub));
            g_assert_cmpuint(cur_remaining(&sub), ==, 0);
            g_assert_cmpuint(cur_u8(&sub), ==, 0);
            return FALSE;
        }
        g_assert_cmpuint(cur_remaining(&sub), ==, width);
        return TRUE;
    }
    }
    return cur_ok(c);
}

static void test_read_beyond_end_fails(void)
{
    for (size_t r = 0; r < G_N_ELEMENTS(readers); r++) {
        size_t width = readers[r].width;
        /* Every short window, with the read starting at every position. */
        for (size_t len = 0; len <= width + 2 && len <= sizeof(sample); len++) {
            for (size_t start = 0; start <= len; start++) {
                cursor_t c = cur_make(sample, len);
                g_assert_true(cur_skip(&c, start));
                uint64_t value;
                gboolean ok = run_reader(&c, readers[r].kind, width, &value);
                gboolean fits = len - start >= width;
                if (fits != ok || fits != cur_ok(&c))
                    g_test_fail_printf("%s: window %zu, start %zu: ok=%d cur_ok=%d, expected %d",
                            readers[r].name, len, start, ok, cur_ok(&c), fits);
                if (fits) {
                    g_assert_cmpuint(cur_offset(&c), ==, start + width);
                } else {
                    g_assert_cmpuint(value, ==, 0);
                    g_assert_cmpuint(cur_offset(&c), ==, start); /* position kept */
                    g_assert_cmpuint(cur_remaining(&c), ==, 0);
                    g_assert_true(cur_empty(&c));
                }
            }
        }
    }
}

static void test_bad_is_sticky(void)
{
    for (size_t r = 0; r < G_N_ELEMENTS(readers); r++) {
        cursor_t c = cur_make(sample, sizeof(sample));
        g_assert_true(cur_skip(&c, 14));
        g_assert_cmpuint(cur_be24(&c), ==, 0); /* 2 left: fails */
        g_assert_false(cur_ok(&c));
        /* Now every read fails, even one that would fit the two bytes left. */
        uint64_t value;
        g_assert_false(run_reader(&c, readers[r].kind, 1, &value));
        g_assert_cmpuint(value, ==, 0);
        g_assert_false(cur_ok(&c));
        g_assert_false(cur_has(&c, 0));
        g_assert_false(cur_has(&c, 1));
        g_assert_false(cur_skip(&c, 0));
        g_assert_cmpuint(cur_remaining(&c), ==, 0);
        g_assert_cmpuint(cur_offset(&c), ==, 14);
        byte_span_t rest = cur_rest(&c);
        g_assert_null(rest.ptr);
        g_assert_cmpuint(rest.len, ==, 0);
        g_assert_false(cur_ok(&c));
    }
}

static void test_fail_marks_bad(void)
{
    cursor_t c = cur_make(sample, sizeof(sample));
    g_assert_cmpuint(cur_u8(&c), ==, 1);
    cur_fail(&c);
    g_assert_false(cur_ok(&c));
    g_assert_cmpuint(cur_u8(&c), ==, 0);
    g_assert_cmpuint(cur_remaining(&c), ==, 0);
}

static void test_has_does_not_mark_bad(void)
{
    cursor_t c = cur_make(sample, 4);
    g_assert_true(cur_has(&c, 4));
    g_assert_false(cur_has(&c, 5));
    g_assert_false(cur_has(&c, SIZE_MAX));
    g_assert_true(cur_ok(&c));
    g_assert_false(cur_need(&c, 5));
    g_assert_false(cur_ok(&c));

    /* A huge length must not wrap around the bounds check. */
    cursor_t d = cur_make(sample, sizeof(sample));
    g_assert_cmpuint(cur_u8(&d), ==, 1);
    g_assert_false(cur_skip(&d, SIZE_MAX));
    g_assert_false(cur_ok(&d));
    cursor_t e = cur_make(sample, sizeof(sample));
    byte_span_t v = cur_view(&e, SIZE_MAX);
    g_assert_null(v.ptr);
    g_assert_false(cur_ok(&e));
    cursor_t f = cur_make(sample, sizeof(sample));
    cursor_t sub = cur_sub(&f, (size_t)-1 - 1);
    g_assert_false(cur_ok(&f));
    g_assert_false(cur_ok(&sub));
}

static void test_sub_cannot_escape(void)
{
    cursor_t c = cur_make(sample, sizeof(sample));
    g_assert_cmpuint(cur_u8(&c), ==, 0x01);
    cursor_t sub = cur_sub(&c, 3);
    g_assert_true(cur_ok(&c));
    g_assert_true(cur_ok(&sub));
    /* The parent moved past the field. */
    g_assert_cmpuint(cur_offset(&c), ==, 4);
    g_assert_cmpuint(cur_u8(&c), ==, 0x05);
    /* The sub-cursor sees the three bytes and nothing after them, although
     * the buffer goes on. */
    g_assert_cmpuint(cur_remaining(&sub), ==, 3);
    g_assert_cmpuint(cur_be16(&sub), ==, 0x0203);
    g_assert_cmpuint(cur_be16(&sub), ==, 0); /* would read 0x04 0x05 */
    g_assert_false(cur_ok(&sub));
    g_assert_cmpuint(cur_peek_u8(&sub, 0), ==, 0);
    /* The child's failure does not touch the parent. */
    g_assert_true(cur_ok(&c));
    g_assert_cmpuint(cur_u8(&c), ==, 0x06);

    /* Peeks and views of a healthy sub-cursor stay inside its field too. */
    cursor_t c2 = cur_make(sample, sizeof(sample));
    cursor_t s2 = cur_sub(&c2, 2);
    g_assert_cmpuint(cur_peek_u8(&s2, 1), ==, 0x02);
    g_assert_cmpuint(cur_peek_u8(&s2, 2), ==, 0); /* 0x03 lies outside the field */
    byte_span_t all = cur_rest(&s2);
    g_assert_true(all.ptr == sample);
    g_assert_cmpuint(all.len, ==, 2);
    g_assert_true(cur_empty(&s2));
    g_assert_true(cur_ok(&s2));

    /* A sub-cursor of a sub-cursor is bounded by the inner field. */
    cursor_t c3 = cur_make(sample, sizeof(sample));
    cursor_t outer = cur_sub(&c3, 8);
    cursor_t inner = cur_sub(&outer, 9);
    g_assert_false(cur_ok(&outer));
    g_assert_false(cur_ok(&inner));
    g_assert_true(cur_ok(&c3));
}

static void test_sub_too_long(void)
{
    cursor_t c = cur_make(sample, 5);
    g_assert_cmpuint(cur_u8(&c), ==, 1);
    cursor_t sub = cur_sub(&c, 5); /* 4 left */
    g_assert_false(cur_ok(&c));
    g_assert_false(cur_ok(&sub));
    g_assert_cmpuint(cur_offset(&c), ==, 1);
    g_assert_cmpuint(cur_remaining(&sub), ==, 0);
    byte_span_t v = cur_view(&sub, 0);
    g_assert_null(v.ptr);
}

static void test_views_lie_inside(void)
{
    for (size_t len = 0; len <= sizeof(sample); len++) {
        for (size_t start = 0; start <= len; start++) {
            for (size_t n = 0; n <= len + 2; n++) {
                cursor_t c = cur_make(sample, len);
                g_assert_true(cur_skip(&c, start));
                byte_span_t s = cur_view(&c, n);
                if (start + n <= len) {
                    g_assert_true(cur_ok(&c));
                    g_assert_cmpuint(s.len, ==, n);
                    g_assert_true(span_inside(s, sample, len));
                    if (n > 0)
                        g_assert_cmpmem(s.ptr, s.len, sample + start, n);
                    g_assert_cmpuint(cur_offset(&c), ==, start + n);
                } else {
                    g_assert_false(cur_ok(&c));
                    g_assert_null(s.ptr);
                    g_assert_cmpuint(s.len, ==, 0);
                    g_assert_cmpuint(cur_offset(&c), ==, start);
                }
                /* cur_rest never fails on a good cursor and ends it. */
                cursor_t r = cur_make(sample, len);
                g_assert_true(cur_skip(&r, start));
                byte_span_t rest = cur_rest(&r);
                g_assert_true(cur_ok(&r));
                g_assert_cmpuint(rest.len, ==, len - start);
                g_assert_true(span_inside(rest, sample, len));
                g_assert_true(cur_empty(&r));
            }
        }
    }
}

static void test_span_roundtrip(void)
{
    byte_span_t span = { sample + 3, 5 };
    cursor_t c = cur_from_span(span);
    g_assert_cmpuint(cur_remaining(&c), ==, 5);
    g_assert_cmpuint(cur_u8(&c), ==, 0x04);
    byte_span_t rest = cur_rest(&c);
    g_assert_true(rest.ptr == sample + 4);
    g_assert_cmpuint(rest.len, ==, 4);
    g_assert_cmpuint(cur_u8(&c), ==, 0);
    g_assert_false(cur_ok(&c));
}

static void test_peek_does_not_move(void)
{
    cursor_t c = cur_make(sample, 6);
    g_assert_cmpuint(cur_u8(&c), ==, 0x01);
    g_assert_cmpuint(cur_peek_u8(&c, 0), ==, 0x02);
    g_assert_cmpuint(cur_peek_u8(&c, 4), ==, 0x06);
    g_assert_cmpuint(cur_peek_be16(&c, 1), ==, 0x0304);
    g_assert_cmpuint(cur_peek_be24(&c, 2), ==, 0x040506);
    g_assert_cmpuint(cur_offset(&c), ==, 1);
    g_assert_cmpuint(cur_remaining(&c), ==, 5);
    /* Beyond the end: zero, and the cursor stays good. */
    g_assert_cmpuint(cur_peek_u8(&c, 5), ==, 0);
    g_assert_cmpuint(cur_peek_u8(&c, SIZE_MAX), ==, 0);
    g_assert_cmpuint(cur_peek_be16(&c, 5), ==, 0);
    g_assert_cmpuint(cur_peek_be24(&c, 10), ==, 0);
    g_assert_cmpuint(cur_peek_be16(&c, 4), ==, 0x0600); /* the byte past the end reads as 0 */
    g_assert_true(cur_ok(&c));
    g_assert_cmpuint(cur_offset(&c), ==, 1);
    g_assert_cmpuint(cur_u8(&c), ==, 0x02);
    /* On a bad cursor peeks read nothing. */
    cur_fail(&c);
    g_assert_cmpuint(cur_peek_u8(&c, 0), ==, 0);
    g_assert_cmpuint(cur_peek_be16(&c, 0), ==, 0);
}

static void test_length_prefixed(void)
{
    static const struct {
        const char *name;
        uint8_t bytes[12];
        size_t len;
        int width; /* prefix bytes: 1, 2 or 3 */
        gboolean ok;
        size_t body;
        uint8_t after; /* the byte the parent reads next when ok */
    } cases[] = {
        { "u8 fits", { 0x03, 0xa1, 0xa2, 0xa3, 0xff }, 5, 1, TRUE, 3, 0xff },
        { "u8 empty", { 0x00, 0xff }, 2, 1, TRUE, 0, 0xff },
        { "u8 exact end", { 0x02, 0xa1, 0xa2 }, 3, 1, TRUE, 2, 0 },
        { "u8 too long", { 0x04, 0xa1, 0xa2, 0xa3 }, 4, 1, FALSE, 0, 0 },
        { "u8 no prefix", { 0 }, 0, 1, FALSE, 0, 0 },
        { "be16 fits", { 0x00, 0x02, 0xa1, 0xa2, 0xff }, 5, 2, TRUE, 2, 0xff },
        { "be16 too long", { 0x01, 0x00, 0xa1, 0xa2 }, 4, 2, FALSE, 0, 0 },
        { "be16 half prefix", { 0x00 }, 1, 2, FALSE, 0, 0 },
        { "be24 fits", { 0x00, 0x00, 0x03, 0xa1, 0xa2, 0xa3, 0xff }, 7, 3, TRUE, 3, 0xff },
        { "be24 huge", { 0xff, 0xff, 0xff, 0xa1 }, 4, 3, FALSE, 0, 0 },
        { "be24 short prefix", { 0x00, 0x00 }, 2, 3, FALSE, 0, 0 },
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        cursor_t c = cur_make(cases[i].bytes, cases[i].len);
        cursor_t sub = cases[i].width == 1   ? cur_sub_u8len(&c)
                       : cases[i].width == 2 ? cur_sub_be16len(&c)
                                             : cur_sub_be24len(&c);
        if (cur_ok(&c) != cases[i].ok || cur_ok(&sub) != cases[i].ok)
            g_test_fail_printf("case %s: parent ok %d, sub ok %d", cases[i].name, cur_ok(&c), cur_ok(&sub));
        if (!cases[i].ok) {
            g_assert_cmpuint(cur_remaining(&sub), ==, 0);
            g_assert_cmpuint(cur_u8(&sub), ==, 0);
            continue;
        }
        g_assert_cmpuint(cur_remaining(&sub), ==, cases[i].body);
        for (size_t k = 0; k < cases[i].body; k++)
            g_assert_cmpuint(cur_u8(&sub), ==, 0xa1 + k);
        g_assert_true(cur_ok(&sub));
        g_assert_cmpuint(cur_u8(&sub), ==, 0); /* the field is over */
        g_assert_false(cur_ok(&sub));
        g_assert_cmpuint(cur_u8(&c), ==, cases[i].after);
    }

    /* Nested vectors: the inner length lies beyond its outer field. */
    static const uint8_t nested[] = { 0x00, 0x03, 0x05, 0xb1, 0xb2, 0xc1, 0xc2, 0xc3 };
    cursor_t c = cur_make(nested, sizeof(nested));
    cursor_t outer = cur_sub_be16len(&c);
    cursor_t inner = cur_sub_u8len(&outer);
    g_assert_false(cur_ok(&inner));
    g_assert_false(cur_ok(&outer));
    g_assert_true(cur_ok(&c));
    g_assert_cmpuint(cur_u8(&c), ==, 0xc1); /* the parent goes on after the outer field */
}

static void test_zero_length_and_null(void)
{
    /* NULL data: an empty window whatever length is claimed. */
    cursor_t c = cur_make(NULL, 100);
    g_assert_true(cur_ok(&c));
    g_assert_cmpuint(cur_remaining(&c), ==, 0);
    g_assert_true(cur_empty(&c));
    g_assert_false(cur_has(&c, 1));
    g_assert_true(cur_has(&c, 0));
    g_assert_cmpuint(cur_peek_u8(&c, 0), ==, 0);
    g_assert_true(cur_skip(&c, 0));
    g_assert_true(cur_ok(&c));
    g_assert_cmpuint(cur_u8(&c), ==, 0);
    g_assert_false(cur_ok(&c));

    byte_span_t null_span = { NULL, 42 };
    cursor_t n = cur_from_span(null_span);
    g_assert_cmpuint(cur_remaining(&n), ==, 0);
    g_assert_false(cur_skip(&n, 1));

    /* Zero length over real data. */
    cursor_t z = cur_make(sample, 0);
    g_assert_true(cur_empty(&z));
    byte_span_t v = cur_view(&z, 0);
    g_assert_cmpuint(v.len, ==, 0);
    g_assert_true(cur_ok(&z));
    cursor_t sub = cur_sub(&z, 0);
    g_assert_true(cur_ok(&sub));
    g_assert_true(cur_empty(&sub));
    g_assert_cmpuint(cur_be16(&z), ==, 0);
    g_assert_false(cur_ok(&z));
    byte_span_t r = cur_rest(&z);
    g_assert_cmpuint(r.len, ==, 0);
}

/* A zero-length copy out of a cursor over NULL data succeeds and touches no
 * memory.  (Under UBSan a memcpy from NULL, even of 0 bytes, aborts: this
 * test runs last so that such an abort hides no other test.) */
static void test_copy_zero_from_null(void)
{
    cursor_t e = cur_make(NULL, 0);
    uint8_t dst[1] = { 0x5a };
    g_assert_true(cur_copy(&e, dst, 0));
    g_assert_cmpuint(dst[0], ==, 0x5a);
    g_assert_true(cur_ok(&e));
    g_assert_false(cur_copy(&e, dst, 1));
    g_assert_cmpuint(dst[0], ==, 0x5a);
    g_assert_false(cur_ok(&e));
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    /* A failed check marks its test failed and the others still run. */
    g_test_set_nonfatal_assertions();
    g_test_add_func("/cursor/reads-values", test_reads_values);
    g_test_add_func("/cursor/read-beyond-end-fails", test_read_beyond_end_fails);
    g_test_add_func("/cursor/bad-is-sticky", test_bad_is_sticky);
    g_test_add_func("/cursor/fail-marks-bad", test_fail_marks_bad);
    g_test_add_func("/cursor/has-does-not-mark-bad", test_has_does_not_mark_bad);
    g_test_add_func("/cursor/sub-cannot-escape", test_sub_cannot_escape);
    g_test_add_func("/cursor/sub-too-long", test_sub_too_long);
    g_test_add_func("/cursor/views-lie-inside", test_views_lie_inside);
    g_test_add_func("/cursor/span-roundtrip", test_span_roundtrip);
    g_test_add_func("/cursor/peek-does-not-move", test_peek_does_not_move);
    g_test_add_func("/cursor/length-prefixed", test_length_prefixed);
    g_test_add_func("/cursor/zero-length-and-null", test_zero_length_and_null);
    g_test_add_func("/cursor/copy-zero-from-null", test_copy_zero_from_null);
    return g_test_run();
}
