#include "flow_table.h"

#include <glib.h>
#include <stddef.h>
#include <string.h>

typedef struct class_list {
    flow_t *oldest;
    flow_t *newest;
} class_list_t;

struct flow_table {
    GHashTable *flows; /* flow_key_t* (inside the flow) -> flow_t* */
    class_list_t lists[FLOW_CLASS_COUNT];
};

const char *flow_end_reason_name(flow_end_reason_t reason)
{
    switch (reason) {
    case FLOW_END_CLOSED: return "closed";
    case FLOW_END_TIMEOUT: return "timeout";
    case FLOW_END_CAPTURE_END: return "capture_end";
    case FLOW_END_EVICTED: return "evicted";
    case FLOW_END_REUSED: return "reused";
    case FLOW_END_NONE: break;
    }
    return "none";
}

static int endpoint_compare(const endpoint_t *a, const endpoint_t *b)
{
    int c = ip_addr_compare(&a->addr, &b->addr);
    if (c)
        return c;
    return a->port < b->port ? -1 : a->port > b->port;
}

/* The table is keyed by what an attacker sends, so the hash is seeded at
 * random per run.  The key bytes before the hash field (zero-filled, so
 * padding is stable) are mixed eight at a time. */
static uint64_t run_seed;

static uint32_t key_bytes_hash(const flow_key_t *key)
{
    const uint8_t *p = (const uint8_t *)key;
    size_t len = offsetof(flow_key_t, hash);
    uint64_t h = run_seed ^ (len * 0x9e3779b97f4a7c15ull);
    while (len >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        h = (h ^ w) * 0xff51afd7ed558ccdull;
        h ^= h >> 32;
        p += 8;
        len -= 8;
    }
    uint64_t tail = 0;
    memcpy(&tail, p, len);
    h = (h ^ tail) * 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 29;
    return (uint32_t)h;
}

void flow_key_make(flow_key_t *key, const ip_addr_t *src, uint16_t sport, const ip_addr_t *dst,
                   uint16_t dport, uint8_t proto, bool *src_is_lo)
{
    memset(key, 0, sizeof(*key));
    endpoint_t s = { *src, sport }, d = { *dst, dport };
    bool lo = endpoint_compare(&s, &d) <= 0;
    /* Field by field: the key is hashed as bytes, and struct assignment may
     * leave padding undefined. */
    key->lo.addr = lo ? s.addr : d.addr;
    key->lo.port = lo ? sport : dport;
    key->hi.addr = lo ? d.addr : s.addr;
    key->hi.port = lo ? dport : sport;
    key->proto = proto;
    key->hash = key_bytes_hash(key);
    if (src_is_lo)
        *src_is_lo = lo;
}

static guint key_hash(gconstpointer k)
{
    return ((const flow_key_t *)k)->hash;
}

static gboolean key_equal(gconstpointer a, gconstpointer b)
{
    return memcmp(a, b, sizeof(flow_key_t)) == 0;
}

flow_table_t *flow_table_new(void)
{
    flow_table_t *ft = g_new0(flow_table_t, 1);
    if (!run_seed)
        run_seed = ((uint64_t)g_random_int() << 32) | g_random_int();
    ft->flows = g_hash_table_new(key_hash, key_equal);
    return ft;
}

void flow_table_free(flow_table_t *ft)
{
    if (!ft)
        return;
    g_hash_table_destroy(ft->flows);
    g_free(ft);
}

flow_t *flow_table_lookup(flow_table_t *ft, const flow_key_t *key)
{
    return g_hash_table_lookup(ft->flows, key);
}

static void list_unlink(flow_table_t *ft, flow_t *f)
{
    class_list_t *l = &ft->lists[f->timeout_class];
    if (f->older)
        f->older->newer = f->newer;
    else
        l->oldest = f->newer;
    if (f->newer)
        f->newer->older = f->older;
    else
        l->newest = f->older;
    f->older = f->newer = NULL;
}

static void list_append(flow_table_t *ft, flow_t *f, flow_timeout_class_t cls)
{
    class_list_t *l = &ft->lists[cls];
    f->timeout_class = cls;
    f->older = l->newest;
    f->newer = NULL;
    if (l->newest)
        l->newest->newer = f;
    else
        l->oldest = f;
    l->newest = f;
}

flow_t *flow_table_add(flow_table_t *ft, const flow_key_t *key, flow_timeout_class_t cls)
{
    flow_t *f = g_new0(flow_t, 1);
    f->key = *key;
    g_hash_table_insert(ft->flows, &f->key, f);
    list_append(ft, f, cls);
    return f;
}

void flow_table_remove(flow_table_t *ft, flow_t *flow)
{
    g_hash_table_remove(ft->flows, &flow->key);
    list_unlink(ft, flow);
    g_free(flow);
}

void flow_table_touch(flow_table_t *ft, flow_t *flow, flow_timeout_class_t cls)
{
    if (ft->lists[flow->timeout_class].newest == flow && flow->timeout_class == cls)
        return;
    list_unlink(ft, flow);
    list_append(ft, flow, cls);
}

flow_t *flow_table_oldest(flow_table_t *ft, flow_timeout_class_t cls)
{
    return ft->lists[cls].oldest;
}

flow_t *flow_table_least_recent(flow_table_t *ft)
{
    flow_t *best = NULL;
    for (int c = 0; c < FLOW_CLASS_COUNT; c++) {
        flow_t *f = ft->lists[c].oldest;
        if (f && (!best || f->last_ts_us < best->last_ts_us))
            best = f;
    }
    return best;
}

unsigned flow_table_size(const flow_table_t *ft)
{
    return g_hash_table_size(ft->flows);
}
