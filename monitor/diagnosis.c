/* The correlation engine's core: configuration, per-flow rule state,
 * deadlines in packet time, folding repeats, and dispatching records to the
 * rule files.  The rules themselves are in diag_*.c.
 */
#include "diag_internal.h"
#include "tls_flow.h"

#include <string.h>

/* Verdicts remembered for folding repeats; beyond it, old ones are dropped. */
#define DIAG_PAST_MAX 8192

/* A verdict given, for its repeats. */
typedef struct diag_past {
    uint64_t seq;
    unsigned count;
    int64_t first_ts_us;
    int64_t last_ts_us;
    uint64_t evidence[VERDICT_EVIDENCE_MAX];
    unsigned evidence_count;
    bool evidence_more;
    uint64_t flow_ids[VERDICT_FLOWS_MAX];
    unsigned flow_count;
    bool flows_more;
} diag_past_t;

static const char *const default_names_of_interest[] = {
    "*cucm*", "*capf*", "*callmanager*", "*certsrv*", "*ciscora*", "ca.*", "*-ca.*", "*pki*",
    "*enroll*", NULL,
};

void diagnosis_config_default(diagnosis_config_t *c)
{
    memset(c, 0, sizeof(*c));
    c->response_timeout_s = 10;
    c->syn_timeout_s = 10;
    c->repeat_window_s = 300;
    c->expiry_warning_days = 30;
    c->link_window_s = 60;
    c->queue_window_s = 60;
    c->queue_min_unanswered = 10;
    c->queue_unanswered_pct = 20;
    c->queue_silent_s = 5;
    c->names_of_interest = g_strdupv((char **)default_names_of_interest);
}

void diagnosis_config_clear(diagnosis_config_t *c)
{
    g_strfreev(c->names_of_interest);
    c->names_of_interest = NULL;
}

void diagnosis_config_copy(diagnosis_config_t *dst, const diagnosis_config_t *src)
{
    *dst = *src;
    dst->names_of_interest = g_strdupv(src->names_of_interest);
}

diagnosis_t *diagnosis_new(analysis_t *a, const diagnosis_config_t *config)
{
    diagnosis_t *d = g_new0(diagnosis_t, 1);
    d->a = a;
    diagnosis_config_copy(&d->config, config);
    d->flows = g_hash_table_new_full(g_int64_hash, g_int64_equal, NULL, g_free);
    d->past = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    d->parties = diag_parties_new();
    d->tcp = diag_tcp_new();
    d->dns = diag_dns_new();
    return d;
}

void diagnosis_free(diagnosis_t *d)
{
    if (!d)
        return;
    diag_tcp_free(d, d->tcp);
    diag_dns_free(d, d->dns);
    diag_parties_free(d->parties);
    g_hash_table_destroy(d->flows);
    g_hash_table_destroy(d->past);
    g_free(d->timers);
    if (d->charged)
        memcap_release(&d->a->memcap, NULL, d->charged);
    diagnosis_config_clear(&d->config);
    g_free(d);
}

const diagnosis_counts_t *diagnosis_counts(const diagnosis_t *d)
{
    return &d->counts;
}

bool diag_charge(diagnosis_t *d, ptrdiff_t n)
{
    if (n > 0) {
        if (!memcap_reserve(&d->a->memcap, NULL, (size_t)n)) {
            memcap_count_hit(&d->a->memcap, CAP_DIAGNOSIS_STATE);
            return false;
        }
        d->charged += (size_t)n;
    } else if (n < 0) {
        size_t back = (size_t)-n;
        if (back > d->charged)
            back = d->charged;
        memcap_release(&d->a->memcap, NULL, back);
        d->charged -= back;
    }
    return true;
}

/* ---- per-flow state ---- */

diag_flow_t *diag_flow_find(diagnosis_t *d, uint64_t flow_id)
{
    return g_hash_table_lookup(d->flows, &flow_id);
}

diag_flow_t *diag_flow(diagnosis_t *d, const flow_t *flow)
{
    diag_flow_t *df = diag_flow_find(d, flow->id);
    if (df)
        return df;
    if (!diag_charge(d, (ptrdiff_t)sizeof(diag_flow_t)))
        return NULL;
    df = g_new0(diag_flow_t, 1);
    df->flow_id = flow->id;
    g_hash_table_insert(d->flows, &df->flow_id, df);
    return df;
}

bool diag_flow_once(diag_flow_t *df, verdict_id_t id)
{
    if (!df)
        return true;
    uint64_t bit = UINT64_C(1) << id;
    if (df->fired & bit)
        return false;
    df->fired |= bit;
    return true;
}

/* ---- deadlines: a binary min-heap ---- */

static diag_timer_t *timer_at(diagnosis_t *d, guint i)
{
    return &d->timers[i];
}

static void timer_swap(diagnosis_t *d, guint i, guint j)
{
    diag_timer_t t = *timer_at(d, i);
    *timer_at(d, i) = *timer_at(d, j);
    *timer_at(d, j) = t;
}

/* The heap's storage is what the cap is charged for, not the timers in it:
 * a flood arms a deadline per connection attempt, and a growable array
 * keeps the room it grew to.  It grows by an eighth (one slot at a time
 * while small), so that a step never asks the cap for much more than the
 * flows retired under pressure free and the room beyond the timers stays
 * within that eighth, and it gives half back when it is three quarters
 * empty (a flood's deadlines, once passed, free their memory). */
#define TIMER_SLOTS_KEPT 64u /* never shrunk below this */

static bool timer_storage_resize(diagnosis_t *d, guint slots)
{
    ptrdiff_t change = ((ptrdiff_t)slots - (ptrdiff_t)d->timer_slots) * (ptrdiff_t)sizeof(diag_timer_t);
    if (!diag_charge(d, change))
        return false;
    d->timers = g_renew(diag_timer_t, d->timers, slots);
    d->timer_slots = slots;
    return true;
}

bool diag_timer_add(diagnosis_t *d, int64_t deadline_us, diag_timer_kind_t kind, uint64_t key,
                    uint64_t key2)
{
    if (d->timer_count == d->timer_slots &&
        !timer_storage_resize(d, d->timer_slots + d->timer_slots / 8 + 1))
        return false;
    diag_timer_t t = { deadline_us, kind, key, key2 };
    guint i = d->timer_count++;
    d->timers[i] = t;
    while (i > 0) {
        guint parent = (i - 1) / 2;
        if (timer_at(d, parent)->deadline_us <= timer_at(d, i)->deadline_us)
            break;
        timer_swap(d, i, parent);
        i = parent;
    }
    return true;
}

static diag_timer_t timer_pop(diagnosis_t *d)
{
    diag_timer_t top = *timer_at(d, 0);
    guint last = --d->timer_count;
    *timer_at(d, 0) = *timer_at(d, last);
    guint i = 0;
    for (;;) {
        guint l = 2 * i + 1, r = l + 1, m = i;
        if (l < last && timer_at(d, l)->deadline_us < timer_at(d, m)->deadline_us)
            m = l;
        if (r < last && timer_at(d, r)->deadline_us < timer_at(d, m)->deadline_us)
            m = r;
        if (m == i)
            break;
        timer_swap(d, i, m);
        i = m;
    }
    if (d->timer_slots > TIMER_SLOTS_KEPT && last <= d->timer_slots / 4)
        timer_storage_resize(d, d->timer_slots / 2); /* giving back: never refused */
    return top;
}

static void timer_fire(diagnosis_t *d, const diag_timer_t *t)
{
    switch (t->kind) {
    case DIAG_TIMER_HTTP_RESPONSE: diag_http_timer(d, t); break;
    case DIAG_TIMER_SYN:
    case DIAG_TIMER_QUEUE: diag_tcp_timer(d, t); break;
    case DIAG_TIMER_DNS: diag_dns_timer(d, t); break;
    case DIAG_TIMER_KINDS: break;
    }
}

void diagnosis_tick(diagnosis_t *d, int64_t now_us, const packet_info_t *at)
{
    if (now_us > d->now_us) {
        d->now_us = now_us;
        if (at)
            d->now_at = *at;
        else
            d->now_at.ts_us = now_us;
    }
    while (d->timer_count && timer_at(d, 0)->deadline_us < d->now_us) {
        diag_timer_t t = timer_pop(d);
        timer_fire(d, &t);
    }
}

static void fire_all_timers(diagnosis_t *d)
{
    while (d->timer_count) {
        diag_timer_t t = timer_pop(d);
        timer_fire(d, &t);
    }
}

void diagnosis_input_ended(diagnosis_t *d)
{
    d->finishing = true;
    fire_all_timers(d);
}

void diagnosis_finish(diagnosis_t *d)
{
    d->finishing = true;
    fire_all_timers(d);
    diag_tcp_finish(d);
}

/* ---- who a verdict concerns ---- */

void diag_format_addr(const endpoint_t *ep, char *out, size_t len)
{
    ip_addr_format(&ep->addr, out, len);
}

void diag_format_endpoint(const endpoint_t *ep, char *out, size_t len)
{
    char addr[64];
    ip_addr_format(&ep->addr, addr, sizeof(addr));
    if (strchr(addr, ':'))
        g_snprintf(out, len, "[%s]:%u", addr, ep->port);
    else
        g_snprintf(out, len, "%s:%u", addr, ep->port);
}

void diag_verdict_device(verdict_t *v, const char *device)
{
    if (!device || !*device)
        return;
    g_strlcpy(v->device, device, sizeof(v->device));
    v->device_is_address = false;
}

void diag_verdict_for_flow(diagnosis_t *d, verdict_t *v, const flow_t *flow)
{
    diag_format_addr(&flow->client, v->client, sizeof(v->client));
    diag_format_endpoint(&flow->server, v->server, sizeof(v->server));
    verdict_add_flow(v, flow->id);
    diag_flow_t *df = diag_flow_find(d, flow->id);
    if (df && df->device[0]) {
        diag_verdict_device(v, df->device);
    } else {
        g_strlcpy(v->device, v->client, sizeof(v->device));
        v->device_is_address = true;
    }
}

bool diag_cn_of_subject(const char *subject, char *out, size_t len)
{
    if (!subject)
        return false;
    const char *p = subject;
    while ((p = strstr(p, "CN=")) != NULL) {
        if (p == subject || p[-1] == ' ' || p[-1] == ',' || p[-1] == '/') {
            p += 3;
            size_t n = strcspn(p, ",/");
            if (!n)
                return false;
            if (n >= len)
                n = len - 1;
            memcpy(out, p, n);
            out[n] = '\0';
            return true;
        }
        p += 3;
    }
    return false;
}

/* ---- emitting, with repeats folded ---- */

static void prune_past(diagnosis_t *d, int64_t now_us)
{
    int64_t window_us = (int64_t)d->config.repeat_window_s * 1000000;
    GHashTableIter it;
    gpointer key, value;
    g_hash_table_iter_init(&it, d->past);
    while (g_hash_table_iter_next(&it, &key, &value)) {
        const diag_past_t *p = value;
        if (p->last_ts_us + window_us < now_us) {
            diag_charge(d, -(ptrdiff_t)(sizeof(diag_past_t) + strlen(key) + 1));
            g_hash_table_iter_remove(&it);
        }
    }
}

static void past_take(diag_past_t *p, const verdict_t *v)
{
    p->evidence_count = v->evidence_count;
    memcpy(p->evidence, v->evidence, sizeof(p->evidence));
    p->evidence_more = v->evidence_more;
    p->flow_count = v->flow_count;
    memcpy(p->flow_ids, v->flow_ids, sizeof(p->flow_ids));
    p->flows_more = v->flows_more;
}

void diag_emit(diagnosis_t *d, verdict_t *v)
{
    if (!v->at.ts_us)
        v->at = d->now_at;
    if (!v->first_ts_us)
        v->first_ts_us = v->at.ts_us;
    int64_t window_us = (int64_t)d->config.repeat_window_s * 1000000;
    /* Severity is part of the problem: a name mismatch the client refused
     * and one it accepted are two verdicts. */
    char *key = g_strdup_printf("%s|%d|%s|%s|%s", verdict_kind(v->id)->id, (int)v->severity, v->device,
                                v->server, v->topic);
    diag_past_t *p = g_hash_table_lookup(d->past, key);
    if (!v->refresh)
        d->counts.occurrences[v->id]++;
    /* A refresh belongs to its verdict however late it comes. */
    if (p && (v->refresh || v->at.ts_us <= p->last_ts_us + window_us)) {
        verdict_t merged_from = { 0 };
        merged_from.evidence_count = p->evidence_count;
        memcpy(merged_from.evidence, p->evidence, sizeof(p->evidence));
        merged_from.evidence_more = p->evidence_more;
        merged_from.flow_count = p->flow_count;
        memcpy(merged_from.flow_ids, p->flow_ids, sizeof(p->flow_ids));
        merged_from.flows_more = p->flows_more;
        verdict_merge(v, &merged_from);
        if (!v->refresh)
            p->count++;
        p->last_ts_us = v->at.ts_us;
        past_take(p, v);
        v->seq = p->seq;
        v->update = true;
        v->count = p->count;
        v->first_ts_us = p->first_ts_us;
        g_free(key);
        analysis_emit_verdict(d->a, v);
        return;
    }
    v->seq = ++d->next_seq;
    d->counts.verdicts[v->id]++;
    if (g_hash_table_size(d->past) >= DIAG_PAST_MAX)
        prune_past(d, v->at.ts_us);
    size_t cost = sizeof(diag_past_t) + strlen(key) + 1;
    if (g_hash_table_size(d->past) < DIAG_PAST_MAX && diag_charge(d, (ptrdiff_t)cost)) {
        if (p) {
            diag_charge(d, -(ptrdiff_t)cost); /* replaces an entry of the same key */
            g_hash_table_remove(d->past, key);
        }
        diag_past_t *np = g_new0(diag_past_t, 1);
        np->seq = v->seq;
        np->count = 1;
        np->first_ts_us = v->first_ts_us;
        np->last_ts_us = v->at.ts_us;
        past_take(np, v);
        g_hash_table_insert(d->past, key, np);
    } else {
        d->counts.not_folded++;
        g_free(key);
    }
    analysis_emit_verdict(d->a, v);
}

/* ---- the records ---- */

void diagnosis_tls(diagnosis_t *d, const flow_t *flow, const tls_conn_t *tls,
                   const packet_info_t *at, bool changed, bool final)
{
    if (!changed && !final)
        return;
    diag_tls_record(d, flow, tls, at, final);
    if (final)
        diag_capf_inferred(d, flow, tls, at);
}

void diagnosis_flow_end(diagnosis_t *d, const flow_t *flow, flow_end_reason_t reason)
{
    (void)reason;
    diag_flow_t *df = diag_flow_find(d, flow->id);
    diag_tcp_flow_end(d, flow, df);
    if (df) {
        g_hash_table_remove(d->flows, &flow->id);
        diag_charge(d, -(ptrdiff_t)sizeof(diag_flow_t));
    }
}
