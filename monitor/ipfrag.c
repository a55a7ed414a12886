#include "ipfrag.h"

#include <glib.h>
#include <string.h>

#define IPFRAG_MAX_PAYLOAD 65535u

typedef struct frag_key {
    ip_addr_t src;
    ip_addr_t dst;
    uint32_t id;
    uint8_t protocol;
} frag_key_t;

typedef struct frag_piece {
    uint32_t offset;
    uint32_t len;
    uint8_t data[];
} frag_piece_t;

typedef struct frag_datagram {
    frag_key_t key;
    int64_t first_seen_us;
    GList *link;            /* in the table's age queue */
    GPtrArray *pieces;      /* frag_piece_t*, sorted by offset, non-overlapping */
    uint32_t total_len;     /* payload length, known once the last fragment came */
    bool have_last;
    size_t held;            /* bytes charged to the cap */
    uint8_t header[60];     /* the IPv4 header of the first fragment (or a fixed IPv6 header) */
    size_t header_len;
    bool have_first;
} frag_datagram_t;

struct ipfrag_table {
    const monitor_limits_t *limits;
    memcap_t *memcap;
    size_t held;
    GHashTable *datagrams;  /* frag_key_t* -> frag_datagram_t* */
    GQueue age;             /* oldest first */
    ipfrag_stats_t stats;
};

static guint key_hash(gconstpointer k)
{
    const uint8_t *p = k;
    guint h = 2166136261u;
    for (size_t i = 0; i < sizeof(frag_key_t); i++)
        h = (h ^ p[i]) * 16777619u;
    return h;
}

static gboolean key_equal(gconstpointer a, gconstpointer b)
{
    return memcmp(a, b, sizeof(frag_key_t)) == 0;
}

static void datagram_free(ipfrag_table_t *t, frag_datagram_t *d)
{
    g_ptr_array_free(d->pieces, TRUE);
    memcap_release(t->memcap, NULL, d->held);
    t->held -= d->held;
    g_free(d);
}

static void datagram_drop(ipfrag_table_t *t, frag_datagram_t *d)
{
    g_hash_table_remove(t->datagrams, &d->key);
    g_queue_delete_link(&t->age, d->link);
    datagram_free(t, d);
}

ipfrag_table_t *ipfrag_table_new(const monitor_limits_t *limits, memcap_t *memcap)
{
    ipfrag_table_t *t = g_new0(ipfrag_table_t, 1);
    t->limits = limits;
    t->memcap = memcap;
    t->datagrams = g_hash_table_new(key_hash, key_equal);
    g_queue_init(&t->age);
    return t;
}

void ipfrag_table_free(ipfrag_table_t *t)
{
    if (!t)
        return;
    while (!g_queue_is_empty(&t->age))
        datagram_drop(t, g_queue_peek_head(&t->age));
    g_hash_table_destroy(t->datagrams);
    g_free(t);
}

const ipfrag_stats_t *ipfrag_stats(const ipfrag_table_t *t)
{
    return &t->stats;
}

void ipfrag_expire(ipfrag_table_t *t, int64_t now_us)
{
    int64_t timeout_us = (int64_t)t->limits->fragment_timeout * 1000000;
    frag_datagram_t *d;
    while ((d = g_queue_peek_head(&t->age)) && d->first_seen_us + timeout_us < now_us) {
        t->stats.timed_out++;
        datagram_drop(t, d);
    }
}

static bool charge(ipfrag_table_t *t, frag_datagram_t *d, size_t n)
{
    if (t->held + n > t->limits->fragment_memory) {
        memcap_count_hit(t->memcap, CAP_FRAGMENT_MEMORY);
        return false;
    }
    if (!memcap_reserve(t->memcap, NULL, n))
        return false;
    t->held += n;
    d->held += n;
    return true;
}

/* Adds the parts of [offset, offset+len) not yet present: first copy wins. */
static bool add_piece(ipfrag_table_t *t, frag_datagram_t *d, uint32_t offset, const uint8_t *data,
                      uint32_t len)
{
    uint32_t end = offset + len;
    uint32_t pos = offset;
    guint i = 0;
    while (pos < end) {
        frag_piece_t *cur = i < d->pieces->len ? g_ptr_array_index(d->pieces, i) : NULL;
        if (cur && cur->offset + cur->len <= pos) {
            i++;
            continue;
        }
        uint32_t piece_end = cur && cur->offset < end ? cur->offset : end;
        if (pos < piece_end) {
            uint32_t n = piece_end - pos;
            if (!charge(t, d, sizeof(frag_piece_t) + n))
                return false;
            frag_piece_t *p = g_malloc(sizeof(frag_piece_t) + n);
            p->offset = pos;
            p->len = n;
            memcpy(p->data, data + (pos - offset), n);
            g_ptr_array_insert(d->pieces, (gint)i, p);
            i++;
            pos = piece_end;
            continue;
        }
        if (!cur)
            break;
        t->stats.overlaps++;
        pos = cur->offset + cur->len < end ? cur->offset + cur->len : end;
        i++;
    }
    return true;
}

static bool complete(const frag_datagram_t *d)
{
    if (!d->have_last || !d->have_first)
        return false;
    uint32_t covered = 0;
    for (guint i = 0; i < d->pieces->len; i++) {
        const frag_piece_t *p = g_ptr_array_index(d->pieces, i);
        if (p->offset > covered)
            return false;
        if (p->offset + p->len > covered)
            covered = p->offset + p->len;
    }
    return covered >= d->total_len;
}

/* Builds header + payload with the header's lengths and fragment fields
 * rewritten to describe the whole datagram. */
static uint8_t *assemble(const frag_datagram_t *d, size_t *out_len)
{
    size_t total = d->header_len + d->total_len;
    uint8_t *buf = g_malloc(total);
    memcpy(buf, d->header, d->header_len);
    for (guint i = 0; i < d->pieces->len; i++) {
        const frag_piece_t *p = g_ptr_array_index(d->pieces, i);
        if (p->offset >= d->total_len)
            break;
        uint32_t n = p->offset + p->len > d->total_len ? d->total_len - p->offset : p->len;
        memcpy(buf + d->header_len + p->offset, p->data, n);
    }
    if (d->key.src.family == 4) {
        buf[2] = (uint8_t)(total >> 8);
        buf[3] = (uint8_t)total;
        buf[6] = 0;
        buf[7] = 0;
    } else {
        buf[4] = (uint8_t)(d->total_len >> 8);
        buf[5] = (uint8_t)d->total_len;
        buf[6] = d->key.protocol;
    }
    *out_len = total;
    return buf;
}

uint8_t *ipfrag_add(ipfrag_table_t *t, const ip_result_t *frag, int64_t now_us, size_t *out_len)
{
    t->stats.fragments++;
    ipfrag_expire(t, now_us);
    uint64_t end = (uint64_t)frag->fragment_offset + frag->payload.len;
    if (end > IPFRAG_MAX_PAYLOAD) {
        t->stats.dropped++;
        return NULL;
    }
    frag_key_t key;
    memset(&key, 0, sizeof(key));
    key.src = frag->src;
    key.dst = frag->dst;
    key.id = frag->fragment_id;
    key.protocol = frag->protocol;
    frag_datagram_t *d = g_hash_table_lookup(t->datagrams, &key);
    if (!d) {
        if (g_hash_table_size(t->datagrams) >= t->limits->max_fragment_datagrams) {
            memcap_count_hit(t->memcap, CAP_FRAGMENT_DATAGRAMS);
            /* make room by dropping the oldest datagram */
            t->stats.dropped++;
            datagram_drop(t, g_queue_peek_head(&t->age));
        }
        d = g_new0(frag_datagram_t, 1);
        d->key = key;
        d->first_seen_us = now_us;
        d->pieces = g_ptr_array_new_with_free_func(g_free);
        g_hash_table_insert(t->datagrams, &d->key, d);
        g_queue_push_tail(&t->age, d);
        d->link = g_queue_peek_tail_link(&t->age);
    }
    if (frag->fragment_offset == 0 && !d->have_first) {
        d->have_first = true;
        cursor_t hdr = cur_from_span(frag->header_and_payload);
        d->header_len = frag->src.family == 4 ? (size_t)(cur_peek_u8(&hdr, 0) & 0x0f) * 4 : 40;
        /* decode_ip checked the header was captured; the cursor checks again */
        if (!cur_copy(&hdr, d->header, d->header_len)) {
            t->stats.dropped++;
            datagram_drop(t, d);
            return NULL;
        }
    }
    if (!frag->more_fragments) {
        if (d->have_last && d->total_len != end) {
            t->stats.dropped++; /* two different ends: not a datagram we can trust */
            datagram_drop(t, d);
            return NULL;
        }
        d->have_last = true;
        d->total_len = (uint32_t)end;
    }
    if (!add_piece(t, d, frag->fragment_offset, frag->payload.ptr, (uint32_t)frag->payload.len)) {
        t->stats.dropped++;
        datagram_drop(t, d);
        return NULL;
    }
    if (!complete(d))
        return NULL;
    if (d->key.src.family == 4 && d->header_len + d->total_len > IPFRAG_MAX_PAYLOAD) {
        /* an IPv4 datagram cannot be longer than its 16-bit total length */
        t->stats.dropped++;
        datagram_drop(t, d);
        return NULL;
    }
    uint8_t *out = assemble(d, out_len);
    t->stats.reassembled++;
    datagram_drop(t, d);
    return out;
}
