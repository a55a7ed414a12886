#include "dns_names.h"

#include <glib.h>
#include <string.h>

/* Hash table overhead per entry, charged with it (an estimate). */
#define ENTRY_OVERHEAD 48

enum { LIST_OK = 0, LIST_KEEP = 1 }; /* successes go first when the table is full */

typedef struct name_entry {
    dns_name_result_t r;
    char *key;      /* lower-cased, no final dot: the hash key */
    char *shown;    /* r.name */
    uint64_t seq;   /* order of first appearance */
    size_t charged;
    int list;
    struct name_entry *older, *newer;
} name_entry_t;

typedef struct lru {
    name_entry_t *oldest, *newest;
} lru_t;

struct dns_names {
    memcap_t *memcap;
    unsigned max_names;
    GHashTable *table; /* key -> name_entry_t (owned) */
    lru_t lists[2];
    uint64_t next_seq;
    dns_stats_t stats;
};

const char *dns_name_state_name(dns_name_state_t state)
{
    switch (state) {
    case DNS_NAME_PENDING: return "pending";
    case DNS_NAME_ANSWERED: return "answered";
    case DNS_NAME_UNANSWERED: return "unanswered";
    }
    return "unknown";
}

/* ---- lists ---- */

static void lru_unlink(lru_t *l, name_entry_t *e)
{
    if (e->older)
        e->older->newer = e->newer;
    else
        l->oldest = e->newer;
    if (e->newer)
        e->newer->older = e->older;
    else
        l->newest = e->older;
    e->older = e->newer = NULL;
}

static void lru_push(lru_t *l, name_entry_t *e)
{
    e->older = l->newest;
    e->newer = NULL;
    if (l->newest)
        l->newest->newer = e;
    else
        l->oldest = e;
    l->newest = e;
}

static int list_for(const dns_name_result_t *r)
{
    return r->state == DNS_NAME_ANSWERED && r->last_rcode == 0 ? LIST_OK : LIST_KEEP;
}

/* Moves the entry to the recent end of the list its state calls for. */
static void touch(dns_names_t *t, name_entry_t *e)
{
    lru_unlink(&t->lists[e->list], e);
    e->list = list_for(&e->r);
    lru_push(&t->lists[e->list], e);
}

/* ---- the table ---- */

static void entry_destroy(gpointer p)
{
    name_entry_t *e = p;
    g_free(e->key);
    g_free(e->shown);
    g_free(e);
}

dns_names_t *dns_names_new(memcap_t *memcap, unsigned max_names)
{
    dns_names_t *t = g_new0(dns_names_t, 1);
    t->memcap = memcap;
    t->max_names = max_names ? max_names : DNS_NAMES_DEFAULT_MAX;
    t->table = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, entry_destroy);
    return t;
}

static void release(dns_names_t *t, size_t n)
{
    if (t->memcap)
        memcap_release(t->memcap, NULL, n);
}

void dns_names_free(dns_names_t *t)
{
    if (!t)
        return;
    GHashTableIter it;
    gpointer value;
    g_hash_table_iter_init(&it, t->table);
    while (g_hash_table_iter_next(&it, NULL, &value))
        release(t, ((name_entry_t *)value)->charged);
    g_hash_table_destroy(t->table);
    g_free(t);
}

/* The key of a name: ASCII lower case, no final dot (the root stays "."). */
static char *make_key(const char *name, size_t *len_out)
{
    size_t len = strlen(name);
    if (len > 1 && name[len - 1] == '.' && name[len - 2] != '\\')
        len--;
    char *key = g_ascii_strdown(name, (gssize)len);
    *len_out = len;
    return key;
}

static name_entry_t *find(const dns_names_t *t, const char *name)
{
    if (!t || !name)
        return NULL;
    size_t len;
    char *key = make_key(name, &len);
    name_entry_t *e = g_hash_table_lookup(t->table, key);
    g_free(key);
    return e;
}

static void evict_one(dns_names_t *t)
{
    lru_t *l = t->lists[LIST_OK].oldest ? &t->lists[LIST_OK] : &t->lists[LIST_KEEP];
    name_entry_t *victim = l->oldest;
    if (!victim)
        return;
    lru_unlink(l, victim);
    release(t, victim->charged);
    t->stats.names_evicted++;
    if (t->memcap)
        memcap_count_hit(t->memcap, CAP_DNS_NAMES);
    g_hash_table_remove(t->table, victim->key);
}

/* The entry for a name, made when missing; NULL when it cannot be kept. */
static name_entry_t *get(dns_names_t *t, const char *name)
{
    name_entry_t *e = find(t, name);
    if (e)
        return e;
    size_t len;
    char *key = make_key(name, &len);
    size_t charge = sizeof(name_entry_t) + 2 * (len + 1) + ENTRY_OVERHEAD;
    if (g_hash_table_size(t->table) >= t->max_names)
        evict_one(t);
    if (t->memcap && !memcap_reserve(t->memcap, NULL, charge)) {
        t->stats.names_not_kept++;
        g_free(key);
        return NULL;
    }
    e = g_new0(name_entry_t, 1);
    e->key = key;
    e->shown = g_strndup(name, len);
    e->charged = charge;
    e->seq = t->next_seq++;
    e->r.name = e->shown;
    e->r.last_rcode = -1;
    e->r.last_response_us = -1;
    e->list = list_for(&e->r);
    lru_push(&t->lists[e->list], e);
    g_hash_table_insert(t->table, e->key, e);
    return e;
}

static void note_flow(dns_name_result_t *r, const flow_t *flow, bool from_client)
{
    if (!flow)
        return;
    r->last_flow_id = flow->id;
    r->has_client = true;
    r->client = from_client ? flow->client.addr : flow->server.addr;
}

void dns_names_note_query(dns_names_t *t, const char *name, uint16_t qtype, const flow_t *flow,
                          bool from_client, const packet_info_t *at)
{
    if (!t || !name || !name[0])
        return;
    name_entry_t *e = get(t, name);
    if (!e)
        return;
    dns_name_result_t *r = &e->r;
    if (r->queries == 0)
        r->first_query_at = *at;
    r->queries++;
    r->last_query_at = *at;
    r->last_qtype = qtype;
    r->state = DNS_NAME_PENDING;
    note_flow(r, flow, from_client);
    touch(t, e);
}

void dns_names_note_response(dns_names_t *t, const char *name, uint16_t qtype, unsigned rcode,
                             unsigned answer_count, const ip_addr_t *first_address,
                             int64_t response_us, const flow_t *flow, const packet_info_t *at)
{
    if (!t || !name || !name[0])
        return;
    name_entry_t *e = get(t, name);
    if (!e)
        return;
    dns_name_result_t *r = &e->r;
    r->responses++;
    r->state = DNS_NAME_ANSWERED;
    r->last_qtype = qtype;
    r->last_rcode = (int)rcode;
    r->last_answer_count = answer_count;
    r->last_response_at = *at;
    r->last_response_us = response_us;
    if (rcode == 3)
        r->nxdomain++;
    else if (rcode != 0)
        r->failures++;
    if (rcode != 0)
        r->last_failure_at = *at;
    if (rcode == 0 && first_address && first_address->family) {
        r->has_address = true;
        r->address = *first_address;
    } else if (rcode != 0) {
        r->has_address = false;
        memset(&r->address, 0, sizeof(r->address));
    }
    if (flow)
        r->last_flow_id = flow->id;
    touch(t, e);
}

void dns_names_note_unanswered(dns_names_t *t, const char *name, uint16_t qtype, const flow_t *flow,
                               const packet_info_t *query_at)
{
    if (!t || !name || !name[0])
        return;
    name_entry_t *e = get(t, name);
    if (!e)
        return;
    dns_name_result_t *r = &e->r;
    r->unanswered++;
    r->last_qtype = qtype;
    r->last_failure_at = *query_at;
    /* A later question for the name may have been answered meanwhile: only
     * the name's last question decides its state. */
    if (r->last_query_at.pcap_cnt == query_at->pcap_cnt && r->last_query_at.ts_us == query_at->ts_us &&
        r->state == DNS_NAME_PENDING)
        r->state = DNS_NAME_UNANSWERED;
    if (flow)
        r->last_flow_id = flow->id;
    touch(t, e);
}

const dns_name_result_t *dns_names_lookup(const dns_names_t *t, const char *name)
{
    name_entry_t *e = find(t, name);
    return e ? &e->r : NULL;
}

const dns_name_result_t *dns_lookup_name(const analysis_t *a, const char *name)
{
    return a ? dns_names_lookup(a->dns_names, name) : NULL;
}

unsigned dns_names_count(const dns_names_t *t)
{
    return t ? g_hash_table_size(t->table) : 0;
}

static gint by_seq(gconstpointer a, gconstpointer b)
{
    const name_entry_t *x = *(const name_entry_t *const *)a, *y = *(const name_entry_t *const *)b;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

void dns_names_foreach(const dns_names_t *t, dns_names_visit_fn visit, void *ctx)
{
    if (!t)
        return;
    GPtrArray *all = g_ptr_array_sized_new(g_hash_table_size(t->table));
    GHashTableIter it;
    gpointer value;
    g_hash_table_iter_init(&it, t->table);
    while (g_hash_table_iter_next(&it, NULL, &value))
        g_ptr_array_add(all, value);
    g_ptr_array_sort(all, by_seq);
    for (guint i = 0; i < all->len; i++)
        visit(&((const name_entry_t *)g_ptr_array_index(all, i))->r, ctx);
    g_ptr_array_free(all, TRUE);
}

dns_stats_t *dns_names_stats(dns_names_t *t)
{
    return t ? &t->stats : NULL;
}

const dns_stats_t *dns_names_stats_const(const dns_names_t *t)
{
    static const dns_stats_t none;
    return t ? &t->stats : &none;
}
