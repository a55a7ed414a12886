/* TCP_QUEUE_LIMIT: a server that leaves SYNs unanswered while it serves
 * other connections (IOS HTTP: more than 80 connections a minute -> 15 s
 * of not listening; 16 concurrent connections at most).
 *
 * Per server (address:port), in packet time:
 *  - attempts: first SYNs, counted per second in a ring of per-second bins
 *    (as many as max(queue_window_s, 60)); the peak over any 60 s is
 *    attempts_per_minute_peak;
 *  - each attempt is judged DIAG_QUEUE_ANSWER_S after its first SYN:
 *    answered (SYN-ACK by then), unanswered (none by then, even if one came
 *    later), refused (the server's RST); the judgement counts in the bin of
 *    the attempt's first SYN.  Attempts waiting for it sit in a bounded
 *    ring; one DIAG_TIMER_QUEUE per server fires at the oldest deadline;
 *  - concurrent connections: established (the client acknowledged the
 *    SYN-ACK) until the server closes it (FIN), an RST, or the flow's end;
 *    a client's FIN alone leaves it open on the server;
 *  - silent periods: from the first SYN that arrives after the server's
 *    last SYN-ACK to its next SYN-ACK.  One counts when it lasts at least
 *    queue_silent_s, SYNs of more than one attempt waited in it (the
 *    attempt answered at its end left out; while it lasts, more than one
 *    had to retransmit), the server had answered before it, and the server
 *    still served: either the period ends with a SYN-ACK (answered before
 *    and after), or, while it lasts, the server closed (FIN or RST) a
 *    connection it had established.  The mere existence of an established connection is not
 *    taken as proof: a host that died leaves its connections open too.
 *    A server that never answered, or stopped answering for good, is a dead
 *    server or a wrong address, not a queue limit.
 *
 * The verdict fires once per server, as soon as within the last
 * queue_window_s at least queue_min_unanswered attempts and
 * queue_unanswered_pct percent of the window's attempts were unanswered and
 * a counted silent period ended (or still lasts) within that window.  Its
 * figures (attempts, unanswered, unanswered_pct) are the server's totals so
 * far; at the end of the input (or when the server's entry is evicted) an
 * update carries the final figures if they grew.  The device is the
 * server's address.
 *
 * Memory: at most DIAG_QUEUE_SERVERS_MAX servers (the least recently
 * active is dropped), per server the bins, a ring of at most
 * DIAG_QUEUE_PENDING_MAX waiting attempts and at most DIAG_QUEUE_CLIENTS_MAX
 * client addresses; everything charged with diag_charge, every drop
 * counted (diag_queue_stats).
 */
#include "diag_queue.h"

#include <string.h>

enum queue_state {
    Q_NONE = 0,    /* not followed */
    Q_PENDING,     /* waiting for its judgement */
    Q_ANSWERED,
    Q_UNANSWERED,
    Q_REFUSED,     /* the server's RST */
    Q_UNKNOWN,     /* too young when the capture ended, or not judged (ring full) */
};

#define US 1000000
#define MINUTE_S 60
#define RING_MIN 32
#define EVIDENCE_KEPT 16
#define FLOWS_KEPT 12
#define SILENCE_FRAMES 4
#define CLIENT_COST 64 /* a client address in its hash table, roughly */

typedef struct q_bin {
    int64_t sec;
    uint32_t attempts;
    uint32_t unanswered;
} q_bin_t;

/* Running totals of the bins in (upto - width, upto]. */
typedef struct q_sum {
    int64_t width;
    int64_t upto;
    uint64_t attempts;
    uint64_t unanswered;
} q_sum_t;

typedef struct q_pending {
    uint64_t flow_id;
    int64_t syn_us;
} q_pending_t;

/* Which attempts (flow ids) sent SYNs: the first two, and whether more. */
typedef struct q_attempts_seen {
    uint64_t first, second;
    bool three;
} q_attempts_seen_t;

static void seen_add(q_attempts_seen_t *a, uint64_t flow_id)
{
    if (!a->first)
        a->first = flow_id;
    else if (flow_id != a->first && !a->second)
        a->second = flow_id;
    else if (flow_id != a->first && flow_id != a->second)
        a->three = true;
}

/* Whether more than one attempt, except that one (0: none), is among them. */
static bool seen_several(const q_attempts_seen_t *a, uint64_t except)
{
    if (a->three)
        return true;
    if (!a->second)
        return false;
    return except != a->first && except != a->second;
}

/* SYNs arriving since the server's last SYN-ACK. */
typedef struct q_gap {
    bool active;
    bool served_before;  /* the server had sent a SYN-ACK before it began */
    bool life;           /* the server closed an established connection meanwhile */
    bool counted;        /* counted as a silent period already */
    int64_t first_syn_us;
    int64_t last_syn_us;
    uint64_t first_frame;
    uint64_t life_frame;
    q_attempts_seen_t syns;        /* attempts with SYNs in it */
    q_attempts_seen_t retransmits; /* ... with retransmitted SYNs in it */
} q_gap_t;

/* What the verdict said last. */
typedef struct q_told {
    uint64_t attempts, unanswered, refused, apm_peak;
    unsigned peak_open, silent_periods, clients;
    int64_t longest_s;
} q_told_t;

typedef struct q_server {
    endpoint_t ep;
    uint64_t gen;                 /* unique per entry, never 0 */
    unsigned slot;
    int64_t last_active_us;
    size_t charged;

    q_bin_t *bins;
    unsigned nbins;
    q_sum_t minute;
    q_sum_t window;

    q_pending_t *ring;
    unsigned ring_cap, ring_head, ring_len;
    bool timer_armed;

    uint64_t attempts, answered, unanswered, refused, not_judged;
    uint64_t apm_peak;
    unsigned open, peak_open;
    uint64_t synacks;

    q_gap_t gap;
    unsigned silent_periods;
    int64_t longest_silent_us;
    bool have_silence;
    int64_t silence_end_us;       /* the latest counted period's end (ongoing: its latest SYN) */
    int64_t first_silence_us;
    uint64_t silence_frames[SILENCE_FRAMES];
    unsigned silence_frame_count;

    GHashTable *clients;          /* ip_addr_t* with an unanswered attempt */
    bool clients_more;
    ip_addr_t first_client;

    uint64_t evidence[EVIDENCE_KEPT]; /* first SYNs of unanswered attempts */
    unsigned evidence_count;
    uint64_t flows[FLOWS_KEPT];
    unsigned flow_count;

    bool fired;
    q_told_t told;
} q_server_t;

struct diag_queue {
    q_server_t *slots[DIAG_QUEUE_SERVERS_MAX];
    GHashTable *by_ep;            /* endpoint_t* (the server's own) -> q_server_t* */
    uint64_t next_gen;
    diag_queue_stats_t stats;
};

/* ---- hashing ---- */

static guint addr_hash(const ip_addr_t *a)
{
    guint h = a->family;
    unsigned n = a->family == 6 ? 16 : 4;
    for (unsigned i = 0; i < n; i++)
        h = h * 131u + a->bytes[i];
    return h;
}

static guint ep_hash(gconstpointer p)
{
    const endpoint_t *e = p;
    return addr_hash(&e->addr) * 31u + e->port;
}

static gboolean ep_equal(gconstpointer a, gconstpointer b)
{
    const endpoint_t *x = a, *y = b;
    return x->port == y->port && ip_addr_compare(&x->addr, &y->addr) == 0;
}

static guint client_hash(gconstpointer p)
{
    return addr_hash(p);
}

static gboolean client_equal(gconstpointer a, gconstpointer b)
{
    return ip_addr_compare(a, b) == 0;
}

/* ---- the table ---- */

diag_queue_t *diag_queue_new(void)
{
    diag_queue_t *q = g_new0(diag_queue_t, 1);
    q->by_ep = g_hash_table_new(ep_hash, ep_equal);
    return q;
}

static void server_free(diagnosis_t *d, diag_queue_t *q, q_server_t *s)
{
    g_hash_table_remove(q->by_ep, &s->ep);
    q->slots[s->slot] = NULL;
    q->stats.servers_now--;
    diag_charge(d, -(ptrdiff_t)s->charged);
    g_hash_table_destroy(s->clients);
    g_free(s->bins);
    g_free(s->ring);
    g_free(s);
}

void diag_queue_free(diagnosis_t *d, diag_queue_t *q)
{
    if (!q)
        return;
    for (unsigned i = 0; i < DIAG_QUEUE_SERVERS_MAX; i++)
        if (q->slots[i])
            server_free(d, q, q->slots[i]);
    g_hash_table_destroy(q->by_ep);
    g_free(q);
}

const diag_queue_stats_t *diag_queue_stats(const diag_queue_t *q)
{
    return &q->stats;
}

static int64_t sec_of(int64_t us)
{
    return us >= 0 ? us / US : -((-us + US - 1) / US);
}

static int64_t window_s(const diagnosis_t *d)
{
    int64_t w = d->config.queue_window_s;
    if (w < DIAG_QUEUE_ANSWER_S + 1)
        w = DIAG_QUEUE_ANSWER_S + 1;
    if (w > DIAG_QUEUE_WINDOW_MAX)
        w = DIAG_QUEUE_WINDOW_MAX;
    return w;
}

static q_bin_t *bin_of(q_server_t *s, int64_t sec)
{
    int64_t i = sec % (int64_t)s->nbins;
    if (i < 0)
        i += s->nbins;
    return &s->bins[i];
}

/* Moves the sum's end to now_sec: bins falling out of it are subtracted. */
static void sum_advance(q_server_t *s, q_sum_t *sum, int64_t now_sec)
{
    if (now_sec <= sum->upto)
        return;
    if (now_sec - sum->upto >= sum->width) {
        sum->attempts = sum->unanswered = 0;
    } else {
        for (int64_t x = sum->upto - sum->width + 1; x <= now_sec - sum->width; x++) {
            const q_bin_t *b = bin_of(s, x);
            if (b->sec == x) {
                sum->attempts -= b->attempts;
                sum->unanswered -= b->unanswered;
            }
        }
    }
    sum->upto = now_sec;
}

/* The sums end at the current second (or at sec, if later). */
static void advance(diagnosis_t *d, q_server_t *s, int64_t sec)
{
    int64_t now_sec = sec_of(d->now_us);
    if (sec > now_sec)
        now_sec = sec;
    sum_advance(s, &s->minute, now_sec);
    sum_advance(s, &s->window, now_sec);
}

static bool in_sum(const q_sum_t *sum, int64_t sec)
{
    return sec > sum->upto - sum->width && sec <= sum->upto;
}

static q_server_t *least_active(diag_queue_t *q)
{
    q_server_t *oldest = NULL;
    for (unsigned i = 0; i < DIAG_QUEUE_SERVERS_MAX; i++) {
        q_server_t *s = q->slots[i];
        if (s && (!oldest || s->last_active_us < oldest->last_active_us))
            oldest = s;
    }
    return oldest;
}

static void update_if_grown(diagnosis_t *d, q_server_t *s);

static q_server_t *server_find(diag_queue_t *q, const endpoint_t *ep)
{
    return g_hash_table_lookup(q->by_ep, ep);
}

/* The attempt's server entry, if the attempt counts in it. */
static q_server_t *server_of(diag_queue_t *q, const diag_flow_t *df)
{
    if (!df || !df->tcp.queue_server)
        return NULL;
    q_server_t *s = server_find(q, &df->tcp.server);
    return s && s->gen == df->tcp.queue_server ? s : NULL;
}

static q_server_t *server_make(diagnosis_t *d, diag_queue_t *q, const endpoint_t *ep)
{
    if (q->stats.servers_now >= DIAG_QUEUE_SERVERS_MAX) {
        q_server_t *victim = least_active(q);
        if (victim->fired)
            update_if_grown(d, victim);
        server_free(d, q, victim);
        q->stats.servers_dropped++;
    }
    int64_t w = window_s(d);
    unsigned nbins = (unsigned)(w > MINUTE_S ? w : MINUTE_S);
    size_t cost = sizeof(q_server_t) + nbins * sizeof(q_bin_t) + RING_MIN * sizeof(q_pending_t);
    if (!diag_charge(d, (ptrdiff_t)cost)) {
        q->stats.servers_refused++;
        return NULL;
    }
    unsigned slot = 0;
    while (q->slots[slot])
        slot++;
    q_server_t *s = g_new0(q_server_t, 1);
    s->ep = *ep;
    s->gen = ++q->next_gen;
    s->slot = slot;
    s->charged = cost;
    s->nbins = nbins;
    s->bins = g_new0(q_bin_t, nbins);
    for (unsigned i = 0; i < nbins; i++)
        s->bins[i].sec = INT64_MIN;
    int64_t now_sec = sec_of(d->now_us);
    s->minute = (q_sum_t){ MINUTE_S, now_sec, 0, 0 };
    s->window = (q_sum_t){ w, now_sec, 0, 0 };
    s->ring_cap = RING_MIN;
    s->ring = g_new0(q_pending_t, RING_MIN);
    s->clients = g_hash_table_new_full(client_hash, client_equal, g_free, NULL);
    s->last_active_us = d->now_us;
    q->slots[slot] = s;
    g_hash_table_insert(q->by_ep, &s->ep, s);
    q->stats.servers++;
    q->stats.servers_now++;
    return s;
}

/* ---- the verdict ---- */

static unsigned clients_affected(const q_server_t *s)
{
    return g_hash_table_size(s->clients);
}

static unsigned pct_of(uint64_t part, uint64_t whole)
{
    return whole ? (unsigned)(part * 100 / whole) : 0;
}

static int64_t longest_s(const q_server_t *s)
{
    return (s->longest_silent_us + US / 2) / US;
}

static q_told_t figures(const q_server_t *s)
{
    q_told_t t = { s->attempts,  s->unanswered,     s->refused,         s->apm_peak,
                   s->peak_open, s->silent_periods, clients_affected(s), longest_s(s) };
    return t;
}

static void emit(diagnosis_t *d, q_server_t *s, const packet_info_t *at)
{
    verdict_t v;
    verdict_init(&v, V_TCP_QUEUE_LIMIT, at);
    char addr[IP_ADDR_TEXT_MAX];
    ip_addr_format(&s->ep.addr, addr, sizeof(addr));
    diag_verdict_device(&v, addr);
    v.device_is_address = true; /* what it concerns is the server itself */
    diag_format_endpoint(&s->ep, v.server, sizeof(v.server));
    unsigned clients = clients_affected(s);
    if (clients == 1 && !s->clients_more)
        ip_addr_format(&s->first_client, v.client, sizeof(v.client));
    for (unsigned i = 0; i < s->silence_frame_count; i++)
        verdict_add_evidence(&v, s->silence_frames[i]);
    for (unsigned i = 0; i < s->evidence_count; i++)
        verdict_add_evidence(&v, s->evidence[i]);
    if (s->unanswered > s->evidence_count)
        v.evidence_more = true;
    for (unsigned i = 0; i < s->flow_count; i++)
        verdict_add_flow(&v, s->flows[i]);
    if (s->unanswered > s->flow_count)
        v.flows_more = true;
    v.first_ts_us = s->first_silence_us;
    unsigned pct = pct_of(s->unanswered, s->attempts);
    verdict_set_summary(&v,
                        "%s left %" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT
                        " connection attempts (%u%%) without SYN-ACK within %d s, affecting %s%u "
                        "client address%s; it stopped answering SYNs %u time%s, for up to %" G_GINT64_FORMAT
                        " s, while it still served other connections (peak %" G_GUINT64_FORMAT
                        " attempts a minute, %u concurrent connection%s)",
                        v.server, s->unanswered, s->attempts, pct, DIAG_QUEUE_ANSWER_S,
                        s->clients_more ? "more than " : "", clients, clients == 1 ? "" : "es",
                        s->silent_periods, s->silent_periods == 1 ? "" : "s", longest_s(s),
                        s->apm_peak, s->peak_open, s->peak_open == 1 ? "" : "s");
    verdict_fact_number(&v, "attempts_per_minute_peak", (int64_t)s->apm_peak);
    verdict_fact_number(&v, "unanswered_pct", pct);
    verdict_fact_number(&v, "unanswered", (int64_t)s->unanswered);
    verdict_fact_number(&v, "attempts", (int64_t)s->attempts);
    verdict_fact_number(&v, "peak_concurrent", s->peak_open);
    verdict_fact_number(&v, "silent_periods", s->silent_periods);
    verdict_fact_number(&v, "longest_silent_s", longest_s(s));
    verdict_fact_number(&v, "clients", clients);
    verdict_fact_number(&v, "answer_window_s", DIAG_QUEUE_ANSWER_S);
    if (s->refused)
        verdict_fact_number(&v, "refused", (int64_t)s->refused);
    if (s->not_judged)
        verdict_fact_number(&v, "not_judged", (int64_t)s->not_judged);
    v.refresh = s->fired; /* the final figures of the verdict already given */
    s->fired = true;
    s->told = figures(s);
    diag_emit(d, &v);
}

static void update_if_grown(diagnosis_t *d, q_server_t *s)
{
    q_told_t n = figures(s), *o = &s->told;
    if (n.attempts != o->attempts || n.unanswered != o->unanswered || n.refused != o->refused ||
        n.apm_peak != o->apm_peak || n.peak_open != o->peak_open ||
        n.silent_periods != o->silent_periods || n.clients != o->clients ||
        n.longest_s != o->longest_s)
        emit(d, s, NULL);
}

static void check_fire(diagnosis_t *d, q_server_t *s, const packet_info_t *at)
{
    if (s->fired || !s->have_silence)
        return;
    advance(d, s, INT64_MIN);
    if (s->silence_end_us <= d->now_us - s->window.width * US)
        return; /* the silence is older than the window */
    uint64_t a = s->window.attempts, u = s->window.unanswered;
    if (!a || u < d->config.queue_min_unanswered || u * 100 < (uint64_t)d->config.queue_unanswered_pct * a)
        return;
    emit(d, s, at);
}

/* ---- silent periods ---- */

static void silence_counted(q_server_t *s, int64_t length_us, int64_t end_us, uint64_t end_frame)
{
    if (!s->gap.counted) {
        s->gap.counted = true;
        s->silent_periods++;
        if (!s->have_silence)
            s->first_silence_us = s->gap.first_syn_us;
        if (s->silence_frame_count + 2 <= SILENCE_FRAMES) {
            s->silence_frames[s->silence_frame_count++] = s->gap.first_frame;
            s->silence_frames[s->silence_frame_count++] = end_frame;
        }
    }
    s->have_silence = true;
    if (length_us > s->longest_silent_us)
        s->longest_silent_us = length_us;
    if (end_us > s->silence_end_us)
        s->silence_end_us = end_us;
}

/* A silence still going on: it counts once the server showed it serves,
 * if more than one attempt had to retransmit in it (a new attempt's first
 * SYN may be answered the next moment: not yet a sign of deafness). */
static void gap_ongoing(diagnosis_t *d, q_server_t *s, const packet_info_t *at)
{
    q_gap_t *g = &s->gap;
    if (!g->active || !g->served_before || !seen_several(&g->retransmits, 0) || !g->life)
        return;
    int64_t length = g->last_syn_us - g->first_syn_us;
    if (length < (int64_t)d->config.queue_silent_s * US)
        return;
    silence_counted(s, length, g->last_syn_us, g->life_frame);
    check_fire(d, s, at);
}

static void gap_syn(diagnosis_t *d, q_server_t *s, const flow_t *flow, bool retransmission,
                    const packet_info_t *at)
{
    q_gap_t *g = &s->gap;
    if (!g->active) {
        memset(g, 0, sizeof(*g));
        g->active = true;
        g->served_before = s->synacks > 0;
        g->first_syn_us = g->last_syn_us = at->ts_us;
        g->first_frame = at->pcap_cnt;
    }
    if (at->ts_us > g->last_syn_us)
        g->last_syn_us = at->ts_us;
    seen_add(&g->syns, flow->id);
    if (retransmission)
        seen_add(&g->retransmits, flow->id);
    gap_ongoing(d, s, at);
}

/* The server sent a SYN-ACK (on flow_id): a silence, if any, ends here. */
static void gap_synack(diagnosis_t *d, q_server_t *s, uint64_t flow_id, const packet_info_t *at)
{
    q_gap_t *g = &s->gap;
    s->synacks++;
    if (!g->active)
        return;
    int64_t length = at->ts_us - g->first_syn_us;
    bool counts = g->counted || (g->served_before && seen_several(&g->syns, flow_id) &&
                                 length >= (int64_t)d->config.queue_silent_s * US);
    if (counts)
        silence_counted(s, length, at->ts_us, at->pcap_cnt);
    g->active = false;
    if (counts)
        check_fire(d, s, at);
}

/* The server closed a connection it had established. */
static void gap_life(diagnosis_t *d, q_server_t *s, const packet_info_t *at)
{
    q_gap_t *g = &s->gap;
    if (!g->active)
        return;
    if (!g->life) {
        g->life = true;
        g->life_frame = at->pcap_cnt;
    }
    gap_ongoing(d, s, at);
}

/* ---- attempts ---- */

static void count_attempt(diagnosis_t *d, q_server_t *s, int64_t syn_us)
{
    int64_t sec = sec_of(syn_us);
    advance(d, s, sec);
    s->attempts++;
    q_bin_t *b = bin_of(s, sec);
    if (b->sec < sec)
        *b = (q_bin_t){ sec, 0, 0 };
    if (b->sec != sec)
        return; /* older than the bins (packets far out of order) */
    b->attempts++;
    if (in_sum(&s->minute, sec))
        s->minute.attempts++;
    if (in_sum(&s->window, sec))
        s->window.attempts++;
    if (s->minute.attempts > s->apm_peak)
        s->apm_peak = s->minute.attempts;
}

static void note_client(diagnosis_t *d, q_server_t *s, const ip_addr_t *client)
{
    if (g_hash_table_contains(s->clients, client))
        return;
    if (g_hash_table_size(s->clients) >= DIAG_QUEUE_CLIENTS_MAX || !diag_charge(d, CLIENT_COST)) {
        s->clients_more = true;
        return;
    }
    s->charged += CLIENT_COST;
    if (!g_hash_table_size(s->clients))
        s->first_client = *client;
    g_hash_table_add(s->clients, g_memdup2(client, sizeof(*client)));
}

static void mark_unanswered(diagnosis_t *d, diag_queue_t *q, q_server_t *s, diag_flow_t *df,
                            const packet_info_t *at)
{
    diag_flow_tcp_t *t = &df->tcp;
    t->queue_state = Q_UNANSWERED;
    s->unanswered++;
    q->stats.unanswered++;
    advance(d, s, INT64_MIN);
    int64_t sec = sec_of(t->first_syn_us);
    q_bin_t *b = bin_of(s, sec);
    if (b->sec == sec) {
        b->unanswered++;
        if (in_sum(&s->minute, sec))
            s->minute.unanswered++;
        if (in_sum(&s->window, sec))
            s->window.unanswered++;
    }
    note_client(d, s, &t->client.addr);
    if (s->evidence_count < EVIDENCE_KEPT)
        s->evidence[s->evidence_count++] = t->syn_frames[0];
    if (s->flow_count < FLOWS_KEPT)
        s->flows[s->flow_count++] = df->flow_id;
    check_fire(d, s, at);
}

/* No SYN-ACK came: judged at its deadline, or earlier when its flow ends
 * or the input ends. */
static void judge_waiting(diagnosis_t *d, diag_queue_t *q, q_server_t *s, diag_flow_t *df)
{
    diag_flow_tcp_t *t = &df->tcp;
    if (t->queue_state != Q_PENDING)
        return;
    if (d->now_us - t->first_syn_us > (int64_t)DIAG_QUEUE_ANSWER_S * US || t->syns >= 2) {
        /* Past its deadline; or, younger (the capture ended, the flow was
         * retired), already retransmitted: a SYN went unanswered. */
        mark_unanswered(d, q, s, df, NULL);
    } else {
        t->queue_state = Q_UNKNOWN; /* one SYN, too young to tell */
    }
}

static void arm_timer(diagnosis_t *d, q_server_t *s)
{
    if (s->timer_armed || !s->ring_len)
        return;
    int64_t deadline = s->ring[s->ring_head].syn_us + (int64_t)DIAG_QUEUE_ANSWER_S * US;
    if (deadline < d->now_us)
        deadline = d->now_us; /* never one that would fire again at once */
    /* not armed when the memory cap refused it */
    s->timer_armed = diag_timer_add(d, deadline, DIAG_TIMER_QUEUE, s->slot, s->gen);
}

/* Judges the waiting attempts whose deadline passed (all: every one). */
static void process_ring(diagnosis_t *d, diag_queue_t *q, q_server_t *s, bool all)
{
    while (s->ring_len) {
        const q_pending_t *e = &s->ring[s->ring_head];
        diag_flow_t *df = diag_flow_find(d, e->flow_id);
        if (df && df->tcp.queue_server == s->gen && df->tcp.queue_state == Q_PENDING) {
            if (!all && e->syn_us + (int64_t)DIAG_QUEUE_ANSWER_S * US >= d->now_us)
                break;
            judge_waiting(d, q, s, df);
        }
        s->ring_head = (s->ring_head + 1) % s->ring_cap;
        s->ring_len--;
    }
}

static bool ring_push(diagnosis_t *d, q_server_t *s, uint64_t flow_id, int64_t syn_us)
{
    if (s->ring_len == s->ring_cap) {
        unsigned cap = s->ring_cap * 2;
        if (cap > DIAG_QUEUE_PENDING_MAX)
            cap = DIAG_QUEUE_PENDING_MAX;
        size_t more = (cap - s->ring_cap) * sizeof(q_pending_t);
        if (cap == s->ring_cap || !diag_charge(d, (ptrdiff_t)more))
            return false;
        s->charged += more;
        q_pending_t *ring = g_new(q_pending_t, cap);
        for (unsigned i = 0; i < s->ring_len; i++)
            ring[i] = s->ring[(s->ring_head + i) % s->ring_cap];
        g_free(s->ring);
        s->ring = ring;
        s->ring_cap = cap;
        s->ring_head = 0;
    }
    s->ring[(s->ring_head + s->ring_len) % s->ring_cap] = (q_pending_t){ flow_id, syn_us };
    s->ring_len++;
    return true;
}

static void new_attempt(diagnosis_t *d, diag_queue_t *q, const flow_t *flow, diag_flow_t *df)
{
    diag_flow_tcp_t *t = &df->tcp;
    q_server_t *s = server_find(q, &flow->server);
    if (!s)
        s = server_make(d, q, &flow->server);
    if (!s)
        return;
    s->last_active_us = d->now_us;
    t->queue_server = s->gen;
    count_attempt(d, s, t->first_syn_us);
    q->stats.attempts++;
    process_ring(d, q, s, false);
    if (ring_push(d, s, df->flow_id, t->first_syn_us)) {
        t->queue_state = Q_PENDING;
        arm_timer(d, s);
    } else {
        t->queue_state = Q_UNKNOWN;
        s->not_judged++;
        q->stats.attempts_not_judged++;
    }
}

static void close_open(q_server_t *s, diag_flow_tcp_t *t)
{
    if (!t->open_counted)
        return;
    t->open_counted = false;
    s->open--;
}

void diag_queue_event(diagnosis_t *d, diag_queue_t *q, const flow_t *flow, diag_flow_t *df,
                      tcp_event_t event, const packet_info_t *at)
{
    /* The attempt, when its SYN was seen and there was memory for it. */
    diag_flow_tcp_t *t = df && df->tcp.syns ? &df->tcp : NULL;
    bool waiting = t ? !t->answered && !t->reset_by_server
                     : !flow->tcp_flags.synack && !flow->tcp_flags.rst[DIR_TO_CLIENT];
    bool established = t ? t->established : flow->tcp_flags.handshake_complete;
    bool syn = event == TCP_EVENT_SYN || event == TCP_EVENT_SYN_AGAIN;
    if (syn && t && waiting && !t->queue_server && t->syns == 1)
        new_attempt(d, q, flow, df);
    q_server_t *s = server_find(q, &flow->server);
    if (!s)
        return;
    s->last_active_us = d->now_us;
    /* Whether the attempt counts in this entry (not in one dropped since). */
    bool mine = t && t->queue_server == s->gen;
    switch (event) {
    case TCP_EVENT_SYN:
    case TCP_EVENT_SYN_AGAIN:
        if (waiting)
            gap_syn(d, s, flow, event == TCP_EVENT_SYN_AGAIN, at);
        break;
    case TCP_EVENT_SYNACK:
        if (mine && t->queue_state == Q_PENDING) {
            if (at->ts_us - t->first_syn_us <= (int64_t)DIAG_QUEUE_ANSWER_S * US) {
                t->queue_state = Q_ANSWERED;
                s->answered++;
                q->stats.answered++;
            } else {
                mark_unanswered(d, q, s, df, at); /* its deadline's timer could not be armed */
            }
        }
        gap_synack(d, s, flow->id, at);
        break;
    case TCP_EVENT_ESTABLISHED:
        if (mine && !t->open_counted) {
            t->open_counted = true;
            s->open++;
            if (s->open > s->peak_open)
                s->peak_open = s->open;
        }
        break;
    case TCP_EVENT_RST_FROM_SERVER:
        if (mine && t->queue_state == Q_PENDING && t->reset_by_server && !t->answered) {
            t->queue_state = Q_REFUSED;
            s->refused++;
            q->stats.refused++;
        }
        if (established)
            gap_life(d, s, at);
        if (mine)
            close_open(s, t);
        break;
    case TCP_EVENT_RST_FROM_CLIENT:
        if (mine)
            close_open(s, t);
        break;
    case TCP_EVENT_FIN_FROM_SERVER:
        if (established)
            gap_life(d, s, at);
        if (mine)
            close_open(s, t);
        break;
    case TCP_EVENT_FIN_FROM_CLIENT:
        break; /* half-closed: the server still holds it */
    }
}

void diag_queue_flow_end(diagnosis_t *d, diag_queue_t *q, const flow_t *flow, diag_flow_t *df)
{
    (void)flow;
    q_server_t *s = server_of(q, df);
    if (!s)
        return;
    judge_waiting(d, q, s, df);
    close_open(s, &df->tcp);
}

void diag_queue_timer(diagnosis_t *d, diag_queue_t *q, const diag_timer_t *t)
{
    if (t->key >= DIAG_QUEUE_SERVERS_MAX)
        return;
    q_server_t *s = q->slots[t->key];
    if (!s || s->gen != t->key2)
        return; /* the entry was dropped since */
    s->timer_armed = false;
    process_ring(d, q, s, d->finishing);
    arm_timer(d, s);
}

void diag_queue_finish(diagnosis_t *d, diag_queue_t *q)
{
    for (unsigned i = 0; i < DIAG_QUEUE_SERVERS_MAX; i++) {
        q_server_t *s = q->slots[i];
        if (!s)
            continue;
        process_ring(d, q, s, true);
        check_fire(d, s, NULL);
        if (s->fired)
            update_if_grown(d, s);
    }
}
