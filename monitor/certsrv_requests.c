#include "certsrv_requests.h"

#include <glib.h>
#include <stdio.h>
#include <string.h>

/* What one entry costs: the key, the value, the queue link and the hash
 * table's own bookkeeping (an estimate). */
#define ENTRY_CHARGE (IP_ADDR_TEXT_MAX + 24 + 33 + 64)

struct certsrv_requests {
    memcap_t *memcap;
    unsigned max_requests;
    GHashTable *by_key; /* "address#reqid" -> modulus MD5 (both owned) */
    GQueue order;       /* keys, oldest first (borrowed from the table) */
    GRecMutex *lock;    /* shared between workers; NULL: one thread */
};

void certsrv_requests_set_lock(certsrv_requests_t *t, GRecMutex *lock)
{
    t->lock = lock;
}

static void lock(const certsrv_requests_t *t)
{
    if (t->lock)
        g_rec_mutex_lock(t->lock);
}

static void unlock(const certsrv_requests_t *t)
{
    if (t->lock)
        g_rec_mutex_unlock(t->lock);
}

certsrv_requests_t *certsrv_requests_new(memcap_t *memcap, unsigned max_requests)
{
    certsrv_requests_t *t = g_new0(certsrv_requests_t, 1);
    t->memcap = memcap;
    t->max_requests = max_requests ? max_requests : CERTSRV_REQUESTS_DEFAULT_MAX;
    t->by_key = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    g_queue_init(&t->order);
    return t;
}

void certsrv_requests_free(certsrv_requests_t *t)
{
    if (!t)
        return;
    if (t->memcap)
        memcap_release(t->memcap, NULL, (size_t)g_hash_table_size(t->by_key) * ENTRY_CHARGE);
    g_queue_clear(&t->order);
    g_hash_table_destroy(t->by_key);
    g_free(t);
}

static void make_key(const ip_addr_t *server, long req_id, char *out, size_t out_len)
{
    char addr[IP_ADDR_TEXT_MAX];
    ip_addr_format(server, addr, sizeof addr);
    snprintf(out, out_len, "%s#%ld", addr, req_id);
}

static void forget_oldest(certsrv_requests_t *t)
{
    char *key = g_queue_pop_head(&t->order);
    if (!key)
        return;
    g_hash_table_remove(t->by_key, key);
    if (t->memcap) {
        memcap_release(t->memcap, NULL, ENTRY_CHARGE);
        memcap_count_hit(t->memcap, CAP_CERTSRV_REQUESTS);
    }
}

void certsrv_requests_note(certsrv_requests_t *t, const ip_addr_t *server, long req_id,
                           const char *csr_modulus_md5)
{
    if (!t || req_id < 0 || !csr_modulus_md5 || !csr_modulus_md5[0])
        return;
    char key[IP_ADDR_TEXT_MAX + 24];
    make_key(server, req_id, key, sizeof key);
    lock(t);
    char *held = g_hash_table_lookup(t->by_key, key);
    if (held) {
        /* A CA does not reuse request numbers: the same one again is the
         * same submission seen twice, or a restored CA database. */
        g_strlcpy(held, csr_modulus_md5, 33);
    } else {
        if (g_hash_table_size(t->by_key) >= t->max_requests)
            forget_oldest(t);
        if (!t->memcap || memcap_reserve(t->memcap, NULL, ENTRY_CHARGE)) {
            char *owned_key = g_strdup(key);
            g_hash_table_insert(t->by_key, owned_key, g_strndup(csr_modulus_md5, 32));
            g_queue_push_tail(&t->order, owned_key);
        }
    }
    unlock(t);
}

const char *certsrv_requests_csr(const certsrv_requests_t *t, const ip_addr_t *server, long req_id)
{
    if (!t || req_id < 0)
        return NULL;
    char key[IP_ADDR_TEXT_MAX + 24];
    make_key(server, req_id, key, sizeof key);
    return g_hash_table_lookup(t->by_key, key);
}

bool certsrv_requests_csr_copy(const certsrv_requests_t *t, const ip_addr_t *server, long req_id,
                               char out[33])
{
    out[0] = '\0';
    if (!t)
        return false;
    lock(t);
    const char *held = certsrv_requests_csr(t, server, req_id);
    if (held)
        g_strlcpy(out, held, 33);
    unlock(t);
    return held != NULL;
}
