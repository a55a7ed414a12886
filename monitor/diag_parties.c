/* Who is which device across the legs of an enrollment (failures.md, "the
 * actors"): a phone's name comes from CAPF (0x02) or its certificate; the
 * same key travels in the CSR CAPF forwards to CES by EST and CES submits
 * to the CA by certsrv, so a key seen with a name names the device on the
 * other legs.  Where the key is not visible, an exchange is tied to the
 * latest request of the previous leg in the same time window.
 *
 * Every table is bounded: the oldest entries go first.
 */
#include "diag_internal.h"

#include <string.h>

#define PARTIES_KEYS_MAX 4096
#define PARTIES_NAMES_MAX 4096
#define PARTIES_REQ_IDS_MAX 4096
#define PARTIES_RECENT_MAX 64

typedef struct recent_device {
    char device[VERDICT_DEVICE_MAX];
    ip_addr_t where;          /* EST: the CES that received the request */
    int64_t ts_us;
} recent_device_t;

/* A string table that forgets its oldest entries. */
typedef struct bounded_table {
    GHashTable *map;          /* key -> value (both owned) */
    GQueue order;             /* keys, oldest first (borrowed from map) */
    unsigned max;
} bounded_table_t;

struct diag_parties {
    bounded_table_t keys;     /* modulus MD5 -> device */
    bounded_table_t req_ids;  /* "ca|reqid" -> device */
    bounded_table_t names;    /* lower-case name -> "" */
    recent_device_t capf[PARTIES_RECENT_MAX];
    unsigned capf_next;
    recent_device_t est[PARTIES_RECENT_MAX];
    unsigned est_next;
};

static void table_init(bounded_table_t *t, unsigned max)
{
    t->map = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    g_queue_init(&t->order);
    t->max = max;
}

static void table_clear(bounded_table_t *t)
{
    g_queue_clear(&t->order);
    g_hash_table_destroy(t->map);
}

/* Returns true when the key is new. */
static bool table_put(diagnosis_t *d, bounded_table_t *t, const char *key, const char *value)
{
    gpointer old_key = NULL;
    if (g_hash_table_lookup_extended(t->map, key, &old_key, NULL)) {
        g_hash_table_replace(t->map, g_strdup(key), g_strdup(value));
        /* the replaced key string was freed: point the queue at the new one */
        gpointer new_key = NULL;
        g_hash_table_lookup_extended(t->map, key, &new_key, NULL);
        GList *link = g_queue_find(&t->order, old_key);
        if (link)
            link->data = new_key;
        return false;
    }
    if (g_hash_table_size(t->map) >= t->max) {
        char *oldest = g_queue_pop_head(&t->order);
        if (oldest) {
            diag_charge(d, -(ptrdiff_t)(strlen(oldest) + 1 + 64));
            g_hash_table_remove(t->map, oldest);
        }
    }
    size_t cost = strlen(key) + 1 + 64;
    if (!diag_charge(d, (ptrdiff_t)cost))
        return false;
    char *k = g_strdup(key);
    g_hash_table_insert(t->map, k, g_strdup(value));
    g_queue_push_tail(&t->order, k);
    return true;
}

static const char *table_get(const bounded_table_t *t, const char *key)
{
    return g_hash_table_lookup(t->map, key);
}

diag_parties_t *diag_parties_new(void)
{
    diag_parties_t *p = g_new0(diag_parties_t, 1);
    table_init(&p->keys, PARTIES_KEYS_MAX);
    table_init(&p->req_ids, PARTIES_REQ_IDS_MAX);
    table_init(&p->names, PARTIES_NAMES_MAX);
    return p;
}

void diag_parties_free(diag_parties_t *p)
{
    if (!p)
        return;
    table_clear(&p->keys);
    table_clear(&p->req_ids);
    table_clear(&p->names);
    g_free(p);
}

void diag_parties_note_key(diagnosis_t *d, const char *modulus_md5, const char *device, int64_t ts_us)
{
    (void)ts_us;
    if (!modulus_md5 || !*modulus_md5 || !device || !*device)
        return;
    table_put(d, &d->parties->keys, modulus_md5, device);
}

const char *diag_parties_device_by_key(diagnosis_t *d, const char *modulus_md5)
{
    if (!modulus_md5 || !*modulus_md5)
        return NULL;
    return table_get(&d->parties->keys, modulus_md5);
}

static void recent_put(recent_device_t *ring, unsigned *next, const char *device,
                       const ip_addr_t *where, int64_t ts_us)
{
    recent_device_t *r = &ring[*next % PARTIES_RECENT_MAX];
    g_strlcpy(r->device, device, sizeof(r->device));
    if (where)
        r->where = *where;
    else
        memset(&r->where, 0, sizeof(r->where));
    r->ts_us = ts_us;
    (*next)++;
}

/* The newest entry at or before ts_us and within the window. */
static const char *recent_get(const diagnosis_t *d, const recent_device_t *ring, unsigned next,
                              const ip_addr_t *where, int64_t ts_us)
{
    int64_t window_us = (int64_t)d->config.link_window_s * 1000000;
    unsigned n = next < PARTIES_RECENT_MAX ? next : PARTIES_RECENT_MAX;
    for (unsigned i = 1; i <= n; i++) {
        const recent_device_t *r = &ring[(next - i) % PARTIES_RECENT_MAX];
        if (r->ts_us > ts_us || ts_us - r->ts_us > window_us)
            continue;
        if (where && ip_addr_compare(&r->where, where) != 0)
            continue;
        return r->device;
    }
    return NULL;
}

void diag_parties_note_capf_request(diagnosis_t *d, const char *device, int64_t ts_us)
{
    if (device && *device)
        recent_put(d->parties->capf, &d->parties->capf_next, device, NULL, ts_us);
}

void diag_parties_note_est(diagnosis_t *d, const char *device, const ip_addr_t *ces, int64_t ts_us)
{
    if (device && *device)
        recent_put(d->parties->est, &d->parties->est_next, device, ces, ts_us);
}

const char *diag_parties_recent_capf_device(diagnosis_t *d, int64_t ts_us)
{
    return recent_get(d, d->parties->capf, d->parties->capf_next, NULL, ts_us);
}

const char *diag_parties_recent_est_device(diagnosis_t *d, const ip_addr_t *ces, int64_t ts_us)
{
    return recent_get(d, d->parties->est, d->parties->est_next, ces, ts_us);
}

static char *req_id_key(const ip_addr_t *ca, long req_id)
{
    char addr[64];
    ip_addr_format(ca, addr, sizeof(addr));
    return g_strdup_printf("%s|%ld", addr, req_id);
}

void diag_parties_note_req_id(diagnosis_t *d, const ip_addr_t *ca, long req_id, const char *device)
{
    if (req_id < 0 || !device || !*device)
        return;
    char *key = req_id_key(ca, req_id);
    table_put(d, &d->parties->req_ids, key, device);
    g_free(key);
}

const char *diag_parties_device_by_req_id(diagnosis_t *d, const ip_addr_t *ca, long req_id)
{
    if (req_id < 0)
        return NULL;
    char *key = req_id_key(ca, req_id);
    const char *device = table_get(&d->parties->req_ids, key);
    g_free(key);
    return device;
}

void diag_parties_note_name(diagnosis_t *d, const char *name)
{
    if (!name || !*name)
        return;
    char *lower = g_ascii_strdown(name, -1);
    size_t n = strlen(lower);
    if (n && lower[n - 1] == '.')
        lower[n - 1] = '\0';
    if (*lower && table_put(d, &d->parties->names, lower, ""))
        diag_dns_name_of_interest(d, lower);
    g_free(lower);
}

bool diag_parties_name_known(diagnosis_t *d, const char *name)
{
    if (!name || !*name)
        return false;
    char *lower = g_ascii_strdown(name, -1);
    size_t n = strlen(lower);
    if (n && lower[n - 1] == '.')
        lower[n - 1] = '\0';
    bool known = table_get(&d->parties->names, lower) != NULL;
    g_free(lower);
    return known;
}
