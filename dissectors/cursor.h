/* The one bounds-checked reader that every parser of wire or file bytes uses.
 *
 * A cursor is a window [base, base+end) with a read position.  Every read
 * checks the remaining length first; a read that does not fit returns zero,
 * leaves the position where it was and makes the cursor "bad".  Badness is
 * sticky: all later reads on a bad cursor fail too, so a parser may read a
 * whole structure and test cur_ok() once at the end instead of after every
 * field.  Length-prefixed fields open a sub-cursor (cur_sub) that can never
 * read past the field, whatever the bytes inside claim.
 *
 * There is no way to obtain a pointer without a length: cur_view() hands out
 * a (pointer, length) pair that lies wholly inside the window, which is what
 * length-taking consumers such as OpenSSL's d2i_* functions need.
 */
#ifndef ENROLLMON_CURSOR_H
#define ENROLLMON_CURSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct cursor {
    const uint8_t *base;
    size_t pos;
    size_t end;
    bool bad;
} cursor_t;

/* A span of bytes known to lie inside the buffer it came from. */
typedef struct byte_span {
    const uint8_t *ptr;
    size_t len;
} byte_span_t;

static inline cursor_t cur_make(const uint8_t *data, size_t len)
{
    cursor_t c = { data, 0, data ? len : 0, false };
    return c;
}

static inline cursor_t cur_from_span(byte_span_t span)
{
    return cur_make(span.ptr, span.len);
}

static inline size_t cur_remaining(const cursor_t *c)
{
    return c->bad ? 0 : c->end - c->pos;
}

static inline size_t cur_offset(const cursor_t *c)
{
    return c->pos;
}

static inline bool cur_ok(const cursor_t *c)
{
    return !c->bad;
}

static inline bool cur_empty(const cursor_t *c)
{
    return cur_remaining(c) == 0;
}

/* True when n more bytes can be read; never marks the cursor bad. */
static inline bool cur_has(const cursor_t *c, size_t n)
{
    return !c->bad && n <= c->end - c->pos;
}

/* Checks for n bytes and marks the cursor bad when they are not there. */
static inline bool cur_need(cursor_t *c, size_t n)
{
    if (cur_has(c, n))
        return true;
    c->bad = true;
    return false;
}

static inline uint8_t cur_u8(cursor_t *c)
{
    if (!cur_need(c, 1))
        return 0;
    return c->base[c->pos++];
}

static inline uint16_t cur_be16(cursor_t *c)
{
    if (!cur_need(c, 2))
        return 0;
    const uint8_t *p = c->base + c->pos;
    c->pos += 2;
    return (uint16_t)((p[0] << 8) | p[1]);
}

static inline uint32_t cur_be24(cursor_t *c)
{
    if (!cur_need(c, 3))
        return 0;
    const uint8_t *p = c->base + c->pos;
    c->pos += 3;
    return ((uint32_t)p[0] << 16) | ((uint32_t)p[1] << 8) | p[2];
}

static inline uint32_t cur_be32(cursor_t *c)
{
    if (!cur_need(c, 4))
        return 0;
    const uint8_t *p = c->base + c->pos;
    c->pos += 4;
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static inline uint16_t cur_le16(cursor_t *c)
{
    if (!cur_need(c, 2))
        return 0;
    const uint8_t *p = c->base + c->pos;
    c->pos += 2;
    return (uint16_t)(p[0] | (p[1] << 8));
}

static inline uint32_t cur_le32(cursor_t *c)
{
    if (!cur_need(c, 4))
        return 0;
    const uint8_t *p = c->base + c->pos;
    c->pos += 4;
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

/* Reads without moving; offset is relative to the current position. */
static inline uint8_t cur_peek_u8(const cursor_t *c, size_t offset)
{
    if (c->bad || offset >= c->end - c->pos)
        return 0;
    return c->base[c->pos + offset];
}

static inline uint16_t cur_peek_be16(const cursor_t *c, size_t offset)
{
    return (uint16_t)((cur_peek_u8(c, offset) << 8) | cur_peek_u8(c, offset + 1));
}

static inline uint32_t cur_peek_be24(const cursor_t *c, size_t offset)
{
    return ((uint32_t)cur_peek_u8(c, offset) << 16) | ((uint32_t)cur_peek_u8(c, offset + 1) << 8) |
           cur_peek_u8(c, offset + 2);
}

static inline bool cur_skip(cursor_t *c, size_t n)
{
    if (!cur_need(c, n))
        return false;
    c->pos += n;
    return true;
}

static inline bool cur_copy(cursor_t *c, void *dst, size_t n)
{
    if (!cur_need(c, n))
        return false;
    if (n) /* memcpy with a NULL source is undefined even for 0 bytes */
        memcpy(dst, c->base + c->pos, n);
    c->pos += n;
    return true;
}

/* Takes the next n bytes as a span and moves past them. */
static inline byte_span_t cur_view(cursor_t *c, size_t n)
{
    byte_span_t s = { NULL, 0 };
    if (!cur_need(c, n))
        return s;
    s.ptr = c->base + c->pos;
    s.len = n;
    c->pos += n;
    return s;
}

/* All that is left, as a span; the cursor ends up empty. */
static inline byte_span_t cur_rest(cursor_t *c)
{
    return cur_view(c, cur_remaining(c));
}

/* Takes the next n bytes as a cursor of their own and moves past them.
 * When the bytes are not there the parent goes bad and the child is bad. */
static inline cursor_t cur_sub(cursor_t *c, size_t n)
{
    if (!cur_need(c, n)) {
        cursor_t bad = { NULL, 0, 0, true };
        return bad;
    }
    cursor_t sub = cur_make(c->base + c->pos, n);
    c->pos += n;
    return sub;
}

/* Length-prefixed vectors, as TLS and many others lay them out. */
static inline cursor_t cur_sub_u8len(cursor_t *c)
{
    size_t n = cur_u8(c);
    return cur_sub(c, n);
}

static inline cursor_t cur_sub_be16len(cursor_t *c)
{
    size_t n = cur_be16(c);
    return cur_sub(c, n);
}

static inline cursor_t cur_sub_be24len(cursor_t *c)
{
    size_t n = cur_be24(c);
    return cur_sub(c, n);
}

/* Moves to the next byte equal to a or b (staying put when the current one
 * is); false, at the end, when there is none.  For fast scans. */
static inline bool cur_seek_either(cursor_t *c, uint8_t a, uint8_t b)
{
    if (c->bad)
        return false;
    while (c->pos < c->end) {
        uint8_t v = c->base[c->pos];
        if (v == a || v == b)
            return true;
        c->pos++;
    }
    return false;
}

/* Marks the cursor bad on purpose: for a value that is present but invalid. */
static inline void cur_fail(cursor_t *c)
{
    c->bad = true;
}

#endif
