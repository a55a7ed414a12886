/* DNS verdicts: DNS_NXDOMAIN, for a name of interest answered NXDOMAIN
 * (rcode 3) or never answered (failures.md).
 *
 * A name is of interest when it matches one of names_of_interest (glob
 * patterns, case-insensitive: "*cucm*", "ca.*"...) or an enrollment party
 * uses it (diag_parties_name_known: SNI, Host, certificate names).  A
 * failure for a name not (yet) of interest is kept in a bounded list
 * (DIAG_DNS_PENDING_MAX, oldest first out: when the list is full the
 * oldest failure is forgotten, and counted) and reported when a party
 * later uses the name (diag_dns_name_of_interest).  The same name failing
 * again for the same client while it waits in the list is counted there,
 * not kept twice.
 *
 * Never answered: the DNS layer gives a query up after DNS_QUERY_TIMEOUT_US
 * (timeout), or reports it when its flow ends (flow_end).  A query whose
 * flow ended less than DNS_QUERY_TIMEOUT_US after it, because the capture
 * ended, is not called unanswered (the answer may simply not have been
 * captured); nor is one pushed out of a full table of waiting queries
 * (evicted), whose answer the DNS layer stopped waiting for.
 *
 * The verdict concerns the client that asked (its address); repeated
 * queries fold into one verdict with a count (diag_emit).
 */
#include "diag_internal.h"
#include "dns_flow.h"

#include <string.h>

#define DIAG_DNS_PENDING_MAX 256
/* Frames kept per failure (queries, retransmissions, responses). */
#define DNS_FAILURE_FRAMES 8

/* One failure of a name: what the verdict needs, kept until it is known
 * whether the name matters. */
typedef struct dns_failure {
    char *name;                   /* lower case, no final dot */
    uint16_t qtype;
    bool nxdomain;                /* else never answered */
    char soa[64];                 /* NXDOMAIN: the zone of the authority SOA, "" when none */
    endpoint_t asker;             /* the client that asked */
    endpoint_t resolver;
    uint64_t flow_id;
    packet_info_t at;             /* the response, or where the query was given up */
    int64_t waited_us;            /* unanswered: how long it waited */
    unsigned retransmissions;
    unsigned count;               /* failures folded in */
    uint64_t frames[DNS_FAILURE_FRAMES];
    unsigned frame_count;
} dns_failure_t;

struct diag_dns_state {
    GQueue pending;               /* dns_failure_t*, oldest first */
    uint64_t forgotten;           /* pushed out of the full list */
};

static size_t failure_cost(const dns_failure_t *f)
{
    return sizeof(*f) + strlen(f->name) + 1;
}

static void failure_free(dns_failure_t *f)
{
    g_free(f->name);
    g_free(f);
}

diag_dns_state_t *diag_dns_new(void)
{
    diag_dns_state_t *s = g_new0(diag_dns_state_t, 1);
    g_queue_init(&s->pending);
    return s;
}

void diag_dns_free(diagnosis_t *d, diag_dns_state_t *s)
{
    if (!s)
        return;
    dns_failure_t *f;
    while ((f = g_queue_pop_head(&s->pending)) != NULL) {
        diag_charge(d, -(ptrdiff_t)failure_cost(f));
        failure_free(f);
    }
    g_free(s);
}

/* Lower case, without the final dot; NULL for an empty name. */
static char *name_key(const char *name)
{
    if (!name || !*name)
        return NULL;
    char *lower = g_ascii_strdown(name, -1);
    size_t n = strlen(lower);
    if (n && lower[n - 1] == '.')
        lower[n - 1] = '\0';
    if (!*lower) {
        g_free(lower);
        return NULL;
    }
    return lower;
}

static bool matches_pattern(const diagnosis_t *d, const char *lower)
{
    if (!d->config.names_of_interest)
        return false;
    for (char **p = d->config.names_of_interest; *p; p++) {
        char *pattern = g_ascii_strdown(*p, -1);
        bool hit = g_pattern_match_simple(pattern, lower);
        g_free(pattern);
        if (hit)
            return true;
    }
    return false;
}

static void failure_add_frame(dns_failure_t *f, uint64_t frame)
{
    if (!frame || f->frame_count == DNS_FAILURE_FRAMES)
        return;
    for (unsigned i = 0; i < f->frame_count; i++)
        if (f->frames[i] == frame)
            return;
    f->frames[f->frame_count++] = frame;
}

static void emit_failure(diagnosis_t *d, const dns_failure_t *f)
{
    verdict_t v;
    verdict_init(&v, V_DNS_NXDOMAIN, &f->at);
    diag_format_addr(&f->asker, v.client, sizeof(v.client));
    diag_format_endpoint(&f->resolver, v.server, sizeof(v.server));
    g_strlcpy(v.device, v.client, sizeof(v.device));
    v.device_is_address = true;
    verdict_add_flow(&v, f->flow_id);
    for (unsigned i = 0; i < f->frame_count; i++)
        verdict_add_evidence(&v, f->frames[i]);
    char type[24];
    dns_type_format(f->qtype, type, sizeof(type));
    char times[40] = "";
    if (f->count > 1)
        g_snprintf(times, sizeof(times), " (%u times)", f->count);
    if (f->nxdomain) {
        verdict_set_summary(&v, "%s does not resolve: %s asked %s for its %s record and got NXDOMAIN%s%s%s%s",
                            f->name, v.client, v.server, type, f->soa[0] ? " (zone " : "", f->soa,
                            f->soa[0] ? ")" : "", times);
        verdict_fact_text(&v, "rcode", "NXDOMAIN");
    } else {
        verdict_set_summary(&v,
                            "%s: the %s query of %s to %s was never answered (waited %" G_GINT64_FORMAT
                            " ms, %u retransmissions)%s",
                            f->name, type, v.client, v.server, f->waited_us / 1000, f->retransmissions,
                            times);
        verdict_fact_text(&v, "rcode", "none");
        verdict_fact_number(&v, "waited_ms", f->waited_us / 1000);
    }
    verdict_fact_text(&v, "name", f->name);
    g_strlcpy(v.topic, f->name, sizeof(v.topic)); /* another name is another problem */
    verdict_fact_text(&v, "qtype", type);
    if (f->count > 1)
        verdict_fact_number(&v, "queries", f->count);
    diag_emit(d, &v);
}

/* Keeps a failure of a name not of interest (yet). */
static void pending_keep(diagnosis_t *d, dns_failure_t *f)
{
    diag_dns_state_t *s = d->dns;
    for (GList *l = s->pending.head; l; l = l->next) {
        dns_failure_t *old = l->data;
        if (old->nxdomain == f->nxdomain && strcmp(old->name, f->name) == 0 &&
            ip_addr_compare(&old->asker.addr, &f->asker.addr) == 0) {
            old->count++;
            old->at = f->at;
            for (unsigned i = 0; i < f->frame_count; i++)
                failure_add_frame(old, f->frames[i]);
            failure_free(f);
            return;
        }
    }
    if (g_queue_get_length(&s->pending) >= DIAG_DNS_PENDING_MAX) {
        dns_failure_t *oldest = g_queue_pop_head(&s->pending);
        diag_charge(d, -(ptrdiff_t)failure_cost(oldest));
        failure_free(oldest);
        s->forgotten++;
    }
    if (!diag_charge(d, (ptrdiff_t)failure_cost(f))) {
        failure_free(f); /* the memory cap refuses: not kept, never reported */
        return;
    }
    g_queue_push_tail(&s->pending, f);
}

void diagnosis_dns(diagnosis_t *d, const flow_t *flow, const dns_transaction_t *tx,
                          const packet_info_t *at)
{
    if (!tx->has_question || !tx->qname || !*tx->qname)
        return;
    bool nxdomain = tx->answered && tx->rcode == 3;
    bool unanswered = false;
    int64_t waited_us = tx->waited_us;
    if (tx->query_seen && !tx->answered) {
        if (tx->unanswered == DNS_UNANSWERED_TIMEOUT) {
            unanswered = true;
        } else if (tx->unanswered == DNS_UNANSWERED_FLOW_END) {
            /* The flow idled out (time has passed since) or the capture ended. */
            int64_t now = d->now_us > d->a->packet.ts_us ? d->now_us : d->a->packet.ts_us;
            if (tx->request_at.ts_us && now - tx->request_at.ts_us > waited_us)
                waited_us = now - tx->request_at.ts_us;
            unanswered = waited_us >= DNS_QUERY_TIMEOUT_US;
        }
    }
    if (!nxdomain && !unanswered)
        return;
    char *name = name_key(tx->qname);
    if (!name)
        return;

    dns_failure_t *f = g_new0(dns_failure_t, 1);
    f->name = name;
    f->qtype = tx->qtype;
    f->nxdomain = nxdomain;
    if (nxdomain && tx->authority_soa && tx->authority_soa->name)
        g_strlcpy(f->soa, tx->authority_soa->name, sizeof(f->soa));
    /* The asker: the side the query came from (a response alone went to it). */
    bool client_asked = tx->query_from_client;
    f->asker = client_asked ? flow->client : flow->server;
    f->resolver = client_asked ? flow->server : flow->client;
    f->flow_id = flow->id;
    f->at = *at;
    f->waited_us = waited_us;
    f->retransmissions = tx->retransmissions;
    f->count = 1;
    failure_add_frame(f, tx->request_at.pcap_cnt);
    for (unsigned i = 0; i < tx->retransmits_kept && i < DNS_RETRANSMITS_KEPT; i++)
        failure_add_frame(f, tx->retransmit_pcap_cnt[i]);
    failure_add_frame(f, tx->response_at.pcap_cnt);

    if (matches_pattern(d, name) || diag_parties_name_known(d, name)) {
        emit_failure(d, f);
        failure_free(f);
        return;
    }
    pending_keep(d, f);
}

void diag_dns_name_of_interest(diagnosis_t *d, const char *name)
{
    char *key = name_key(name);
    if (!key || !d->dns)
        goto out;
    GList *l = d->dns->pending.head;
    while (l) {
        GList *next = l->next;
        dns_failure_t *f = l->data;
        if (strcmp(f->name, key) == 0) {
            g_queue_delete_link(&d->dns->pending, l);
            emit_failure(d, f);
            diag_charge(d, -(ptrdiff_t)failure_cost(f));
            failure_free(f);
        }
        l = next;
    }
out:
    g_free(key);
}

void diag_dns_timer(diagnosis_t *d, const diag_timer_t *t)
{
    /* No deadlines of its own: the DNS layer gives unanswered queries up. */
    (void)d;
    (void)t;
}
