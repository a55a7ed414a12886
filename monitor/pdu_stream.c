#include "pdu_stream.h"

#include <glib.h>
#include <string.h>

void pdu_stream_init(pdu_stream_t *s)
{
    memset(s, 0, sizeof(*s));
}

void pdu_stream_release(pdu_stream_t *s, memcap_t *memcap, memcap_account_t *account)
{
    if (s->alloc)
        memcap_release(memcap, account, s->alloc);
    g_free(s->buf);
    memset(s, 0, sizeof(*s));
}

void pdu_stream_reset(pdu_stream_t *s, const pdu_stream_env_t *env)
{
    pdu_stream_release(s, env->memcap, env->account);
}

/* Makes room for `want` bytes in the buffer, charging the growth. */
static bool reserve(pdu_stream_t *s, const pdu_stream_env_t *env, size_t want)
{
    if (want <= s->alloc)
        return true;
    size_t grown = s->alloc ? s->alloc : 256;
    while (grown < want)
        grown = grown > SIZE_MAX / 2 ? want : grown * 2;
    if (!memcap_reserve(env->memcap, env->account, grown - s->alloc))
        return false;
    s->buf = g_realloc(s->buf, grown);
    s->alloc = grown;
    return true;
}

/* Copies up to `target` bytes of the PDU into the buffer. */
static size_t fill(pdu_stream_t *s, const pdu_stream_env_t *env, cursor_t *data)
{
    size_t want = s->target > s->len ? s->target - s->len : 0;
    size_t take = cur_remaining(data) < want ? cur_remaining(data) : want;
    if (take == 0)
        return 0;
    if (!reserve(s, env, s->len + take)) {
        s->cap_hit = true;
        return 0;
    }
    cur_copy(data, s->buf + s->len, take);
    s->len += take;
    return take;
}

static void finish_pdu(pdu_stream_t *s, size_t consumed_of_pdu, const pdu_frame_t *f)
{
    s->skip = f->length - consumed_of_pdu;
    s->len = 0;
    s->target = 0;
    s->pdu_length = 0;
}

bool pdu_stream_gap(pdu_stream_t *s, const pdu_stream_env_t *env, uint64_t missing)
{
    if (s->invalid || s->cap_hit) {
        pdu_stream_reset(s, env);
        return false;
    }
    if (s->len == 0 && s->skip >= missing) {
        s->skip -= (size_t)missing;
        return true;
    }
    if (s->len > 0 && s->pdu_length > s->len && s->pdu_length - s->len >= missing) {
        /* The PDU being gathered lost bytes: drop it, skip its remainder. */
        size_t rest = s->pdu_length - s->len - (size_t)missing;
        pdu_stream_reset(s, env);
        s->skip = rest;
        return true;
    }
    pdu_stream_reset(s, env);
    return false;
}

bool pdu_stream_feed(pdu_stream_t *s, const pdu_stream_env_t *env, byte_span_t data)
{
    cursor_t in = cur_from_span(data);
    while (!s->invalid && !s->cap_hit && !cur_empty(&in)) {
        if (s->skip) {
            size_t n = cur_remaining(&in) < s->skip ? cur_remaining(&in) : s->skip;
            cur_skip(&in, n);
            s->skip -= n;
            continue;
        }
        if (s->len == 0) {
            /* Try the PDU in place first: the common case needs no copy. */
            byte_span_t start = { in.base + in.pos, cur_remaining(&in) };
            pdu_frame_t f = env->frame(env->ctx, start);
            if (f.status == PDU_INVALID) {
                s->invalid = true;
                break;
            }
            if (f.status == PDU_READY && f.keep <= start.len) {
                byte_span_t pdu = { start.ptr, f.keep };
                size_t consumed = f.length < start.len ? f.length : start.len;
                env->handle(env->ctx, pdu, f.length);
                cur_skip(&in, consumed);
                finish_pdu(s, consumed, &f);
                continue;
            }
            s->target = f.status == PDU_READY ? f.keep : (f.need > start.len ? f.need : start.len + 1);
            s->pdu_length = f.status == PDU_READY ? f.length : 0;
            fill(s, env, &in);
            continue;
        }
        if (s->len < s->target) {
            fill(s, env, &in);
            if (s->len < s->target)
                continue; /* input exhausted, or a cap: the loop condition ends it */
        }
        byte_span_t start = { s->buf, s->len };
        pdu_frame_t f = env->frame(env->ctx, start);
        if (f.status == PDU_INVALID) {
            s->invalid = true;
            break;
        }
        if (f.status == PDU_READY && f.keep <= s->len) {
            byte_span_t pdu = { s->buf, f.keep };
            size_t held = s->len;
            env->handle(env->ctx, pdu, f.length);
            if (held > f.length) {
                /* The framer asked for more than this PDU turned out to be:
                 * the surplus starts the next one. */
                memmove(s->buf, s->buf + f.length, held - f.length);
                s->len = held - f.length;
                s->target = 0;
                s->skip = 0;
                s->pdu_length = 0;
                continue;
            }
            finish_pdu(s, held, &f);
            continue;
        }
        s->target = f.status == PDU_READY ? f.keep : (f.need > s->len ? f.need : s->len + 1);
        s->pdu_length = f.status == PDU_READY ? f.length : 0;
    }
    return !s->invalid && !s->cap_hit;
}
