#include "workers.h"

#include "../dissectors/tunnel.h"
#include "analysis_hub.h"
#include "certsrv_requests.h"
#include "diagnosis.h"
#include "dns_names.h"

#include <string.h>

#define WORKERS_DEFAULT_QUEUE 8192
/* Tunnels looked through when choosing a worker (as the engine does). */
#define HASH_TUNNEL_DEPTH 4

typedef enum item_kind { ITEM_PACKET = 0, ITEM_TICK, ITEM_STOP } item_kind_t;

/* One packet (or a tick) on its way to a worker. */
typedef struct item {
    item_kind_t kind;
    int linktype;
    int64_t ts_us;
    size_t caplen;
    size_t wirelen;
    const char *pcap_file;
    uint64_t pcap_cnt;
    uint8_t data[]; /* caplen bytes */
} item_t;

typedef struct worker {
    struct workers *owner;
    engine_t *engine;
    GThread *thread;
    GMutex mutex;
    GCond not_empty;
    GCond not_full;
    GQueue queue;               /* item_t*, oldest first */
    unsigned capacity;
    /* What the worker last published of its counters (read by the stats
     * event while it runs). */
    GMutex snapshot_mutex;
    run_stats_t snapshot;
    memcap_t memcap_snapshot;
    dns_stats_t dns_snapshot;
} worker_t;

struct workers {
    unsigned count;
    worker_t *workers;          /* count of them (one, without threads, when count <= 1) */
    analysis_hub_t *hub;        /* several workers only */
    bool finished;
    uint64_t packets;           /* handed over */
    int64_t told_ts;            /* the last packet time every worker was told */
    capture_counters_t capture; /* the capture layer's, as last given (for the final stats) */
    bool has_capture;
    uint64_t files[3];          /* read, truncated, failed (several workers: added when emitted) */
};

/* ---- choosing a worker ---- */

/* The same for both directions: the addresses in a fixed order. */
static uint32_t pair_hash(const ip_addr_t *a, const ip_addr_t *b)
{
    const ip_addr_t *lo = ip_addr_compare(a, b) <= 0 ? a : b;
    const ip_addr_t *hi = lo == a ? b : a;
    uint32_t h = 2166136261u; /* FNV-1a */
    const ip_addr_t *both[2] = { lo, hi };
    for (int i = 0; i < 2; i++)
        for (size_t k = 0; k < sizeof(both[i]->bytes); k++) {
            h ^= both[i]->bytes[k];
            h *= 16777619u;
        }
    return h ^ (h >> 16);
}

/* A flow is chosen by its (innermost) address pair, not its ports: the
 * fragments of a datagram carry no ports, and they must meet the flow's
 * other packets on the same worker.  Frames that do not decode go to
 * worker 0. */
static unsigned worker_of_frame(unsigned count, int linktype, const uint8_t *data, size_t caplen)
{
    link_result_t link;
    byte_span_t frame = { data, caplen };
    if (decode_link(linktype, frame, &link) != DECODE_OK)
        return 0;
    ip_result_t ip;
    if (decode_ip(link.ethertype, link.network, &ip) != DECODE_OK)
        return 0;
    for (unsigned depth = 0; depth < HASH_TUNNEL_DEPTH && !ip.is_fragment; depth++) {
        link_result_t inner;
        decode_status_t st = DECODE_UNSUPPORTED;
        tunnel_kind_t kind;
        udp_result_t udp;
        if (ip.protocol == IPPROTO_NUM_UDP && decode_udp(ip.payload, &udp) == DECODE_OK &&
            tunnel_udp_ports(udp.src_port, udp.dst_port, &kind))
            st = tunnel_decode_udp(kind, udp.payload, &inner);
        else if (ip.protocol == 47 /* GRE */)
            st = tunnel_decode_gre(ip.payload, &inner, &kind);
        ip_result_t inner_ip;
        if (st != DECODE_OK || decode_ip(inner.ethertype, inner.network, &inner_ip) != DECODE_OK)
            break;
        ip = inner_ip;
    }
    return pair_hash(&ip.src, &ip.dst) % count;
}

/* ---- the worker threads ---- */

static void publish_counters(worker_t *wk)
{
    analysis_t *a = engine_analysis(wk->engine);
    g_mutex_lock(&wk->snapshot_mutex);
    wk->snapshot = a->stats;
    wk->memcap_snapshot = a->memcap;
    const dns_stats_t *dns = dns_names_stats_const(a->dns_names);
    if (dns)
        wk->dns_snapshot = *dns;
    g_mutex_unlock(&wk->snapshot_mutex);
}

static gpointer worker_main(gpointer data)
{
    worker_t *wk = data;
    uint64_t handled = 0;
    for (;;) {
        g_mutex_lock(&wk->mutex);
        while (g_queue_is_empty(&wk->queue))
            g_cond_wait(&wk->not_empty, &wk->mutex);
        item_t *it = g_queue_pop_head(&wk->queue);
        g_cond_signal(&wk->not_full);
        g_mutex_unlock(&wk->mutex);
        item_kind_t kind = it->kind;
        if (kind == ITEM_PACKET)
            engine_packet(wk->engine, it->linktype, it->ts_us, it->data, it->caplen, it->wirelen,
                          it->pcap_file, it->pcap_cnt);
        else if (kind == ITEM_TICK)
            engine_tick(wk->engine, it->ts_us);
        g_free(it);
        /* Counters are published now and then, and at every tick. */
        if (kind != ITEM_PACKET || ++handled % 4096 == 0)
            publish_counters(wk);
        if (kind == ITEM_STOP)
            break;
    }
    return NULL;
}

static void enqueue(worker_t *wk, item_t *it)
{
    g_mutex_lock(&wk->mutex);
    while (wk->queue.length >= wk->capacity)
        g_cond_wait(&wk->not_full, &wk->mutex);
    g_queue_push_tail(&wk->queue, it);
    g_cond_signal(&wk->not_empty);
    g_mutex_unlock(&wk->mutex);
}

static item_t *item_new(item_kind_t kind, size_t caplen)
{
    item_t *it = g_malloc(sizeof(item_t) + caplen);
    memset(it, 0, sizeof(*it));
    it->kind = kind;
    it->caplen = caplen;
    return it;
}

/* ---- the hub ---- */

static analysis_hub_t *hub_new(const engine_options_t *eo)
{
    analysis_hub_t *hub = g_new0(analysis_hub_t, 1);
    g_rec_mutex_init(&hub->lock);
    analysis_t *s = &hub->shared;
    s->limits = eo->limits;
    s->patterns = eo->patterns ? eo->patterns : cert_patterns_default();
    s->capf_port = eo->capf_port ? eo->capf_port : CAPF_DEFAULT_PORT;
    s->keys = eo->keys;
    s->trust = eo->trust;
    memcap_init(&s->memcap, s->limits.global_memory, s->limits.flow_memory);
    s->certsrv_requests = certsrv_requests_new(&s->memcap, 0);
    certsrv_requests_set_lock(s->certsrv_requests, &hub->lock);
    if (eo->diagnosis)
        s->diagnosis = diagnosis_new(s, eo->diagnosis);
    return hub;
}

static void hub_free(analysis_hub_t *hub)
{
    analysis_t *s = &hub->shared;
    for (unsigned i = 0; i < s->sink_count; i++)
        if (s->sinks[i]->destroy)
            s->sinks[i]->destroy(s->sinks[i]);
    diagnosis_free(s->diagnosis);
    certsrv_requests_free(s->certsrv_requests);
    g_free(hub->done_ts);
    g_rec_mutex_clear(&hub->lock);
    g_free(hub);
}

/* ---- the API ---- */

workers_t *workers_new(const workers_options_t *options, GError **error)
{
    workers_t *w = g_new0(workers_t, 1);
    w->count = options->count > 1 ? options->count : 1;
    w->workers = g_new0(worker_t, w->count);
    if (w->count > 1) {
        w->hub = hub_new(&options->engine);
        w->hub->workers = w->count;
        w->hub->done_ts = g_new0(int64_t, w->count);
    }
    for (unsigned i = 0; i < w->count; i++) {
        worker_t *wk = &w->workers[i];
        engine_options_t eo = options->engine;
        if (w->hub) {
            /* The caps are for the whole run: each worker gets its share. */
            eo.limits.global_memory /= w->count;
            eo.limits.max_flows = eo.limits.max_flows / w->count ? eo.limits.max_flows / w->count : 1;
            eo.hub = w->hub;
            eo.flow_id_first = i + 1;
            eo.worker_index = i;
            eo.flow_id_step = w->count;
            /* nDPI's module is not thread-safe: each worker sets up its own. */
            eo.classify_module = NULL;
        }
        wk->owner = w;
        wk->engine = engine_new(&eo, error);
        if (!wk->engine) {
            w->count = i; /* only the ones made are freed */
            workers_free(w);
            return NULL;
        }
    }
    if (w->hub) {
        unsigned capacity = options->queue_packets ? options->queue_packets : WORKERS_DEFAULT_QUEUE;
        for (unsigned i = 0; i < w->count; i++) {
            worker_t *wk = &w->workers[i];
            g_mutex_init(&wk->mutex);
            g_cond_init(&wk->not_empty);
            g_cond_init(&wk->not_full);
            g_mutex_init(&wk->snapshot_mutex);
            g_queue_init(&wk->queue);
            wk->capacity = capacity;
            char name[16];
            g_snprintf(name, sizeof(name), "worker-%u", i);
            wk->thread = g_thread_new(name, worker_main, wk);
        }
    }
    return w;
}

void workers_add_sink(workers_t *w, event_sink_t *sink)
{
    if (!w->hub) {
        engine_add_sink(w->workers[0].engine, sink);
        return;
    }
    analysis_t *s = &w->hub->shared;
    if (s->sink_count < ANALYSIS_MAX_SINKS)
        s->sinks[s->sink_count++] = sink;
    else if (sink->destroy)
        sink->destroy(sink);
}

/* Packet time between the ticks every worker gets. */
#define TIME_BROADCAST_US 50000

static void broadcast_tick(workers_t *w, int64_t now_us)
{
    w->told_ts = now_us;
    for (unsigned i = 0; i < w->count; i++) {
        item_t *it = item_new(ITEM_TICK, 0);
        it->ts_us = now_us;
        enqueue(&w->workers[i], it);
    }
}

void workers_packet(workers_t *w, int linktype, int64_t ts_us, const uint8_t *data, size_t caplen,
                    size_t wirelen, const char *pcap_file, uint64_t pcap_cnt)
{
    w->packets++;
    if (!w->hub) {
        engine_packet(w->workers[0].engine, linktype, ts_us, data, caplen, wirelen, pcap_file, pcap_cnt);
        return;
    }
    item_t *it = item_new(ITEM_PACKET, caplen);
    it->linktype = linktype;
    it->ts_us = ts_us;
    it->wirelen = wirelen;
    it->pcap_file = pcap_file;
    it->pcap_cnt = pcap_cnt;
    memcpy(it->data, data, caplen);
    enqueue(&w->workers[worker_of_frame(w->count, linktype, data, caplen)], it);
    /* Every worker learns how far time has got, also one that gets none of
     * these packets: the shared diagnosis waits for the slowest. */
    if (ts_us - w->told_ts >= TIME_BROADCAST_US)
        broadcast_tick(w, ts_us);
}

void workers_tick(workers_t *w, int64_t now_us)
{
    if (!w->hub) {
        engine_tick(w->workers[0].engine, now_us);
        return;
    }
    broadcast_tick(w, now_us);
}

static void sum_u64(uint64_t *into, const uint64_t *add, size_t n)
{
    for (size_t i = 0; i < n; i++)
        into[i] += add[i];
}

/* run_stats_t is uint64 counters followed by the two times: summed
 * field by field, the times by min and max. */
G_STATIC_ASSERT(offsetof(run_stats_t, first_ts_us) % sizeof(uint64_t) == 0);
G_STATIC_ASSERT(sizeof(run_stats_t) == offsetof(run_stats_t, first_ts_us) + 2 * sizeof(int64_t));
G_STATIC_ASSERT(sizeof(dns_stats_t) % sizeof(uint64_t) == 0);

static void add_run_stats(run_stats_t *into, const run_stats_t *add)
{
    int64_t first = into->first_ts_us, last = into->last_ts_us;
    sum_u64((uint64_t *)into, (const uint64_t *)add, offsetof(run_stats_t, first_ts_us) / sizeof(uint64_t));
    into->first_ts_us = !first || (add->first_ts_us && add->first_ts_us < first) ? add->first_ts_us : first;
    into->last_ts_us = add->last_ts_us > last ? add->last_ts_us : last;
}

static void add_memcap(memcap_t *into, const memcap_t *add)
{
    into->in_use += add->in_use;
    into->peak += add->peak; /* an upper bound: the workers' peaks need not coincide */
    into->buffers_in_use += add->buffers_in_use;
    into->buffers_peak += add->buffers_peak;
    sum_u64(into->hits, add->hits, CAP_COUNT);
}

/* Everything the workers counted, from their published snapshots (or
 * their engines once they have stopped). */
static void gather(const workers_t *w, run_stats_t *stats, memcap_t *mc, dns_stats_t *dns)
{
    memset(stats, 0, sizeof(*stats));
    memset(dns, 0, sizeof(*dns));
    *mc = w->hub->shared.memcap; /* limits, and what the shared part holds */
    for (unsigned i = 0; i < w->count; i++) {
        worker_t *wk = &w->workers[i];
        g_mutex_lock(&wk->snapshot_mutex);
        add_run_stats(stats, &wk->snapshot);
        add_memcap(mc, &wk->memcap_snapshot);
        sum_u64((uint64_t *)dns, (const uint64_t *)&wk->dns_snapshot, sizeof(*dns) / sizeof(uint64_t));
        g_mutex_unlock(&wk->snapshot_mutex);
    }
}

static void put_capture(run_stats_t *stats, const capture_counters_t *capture)
{
    stats->capture_interfaces = capture->interfaces;
    stats->capture_received = capture->received;
    stats->capture_dropped = capture->dropped;
    stats->capture_if_dropped = capture->if_dropped;
}

static void emit_gathered(workers_t *w, const capture_counters_t *capture)
{
    run_stats_t stats;
    memcap_t mc;
    dns_stats_t dns;
    gather(w, &stats, &mc, &dns);
    stats.files_read += w->files[0];
    stats.files_truncated += w->files[1];
    stats.files_failed += w->files[2];
    if (capture)
        put_capture(&stats, capture);
    analysis_t *s = analysis_hub_enter(w->hub);
    packet_info_t at = { stats.last_ts_us, NULL, 0 };
    for (unsigned i = 0; i < s->sink_count; i++)
        if (s->sinks[i]->stats)
            s->sinks[i]->stats(s->sinks[i], &stats, &mc, &dns, &at);
    analysis_hub_leave(w->hub);
}

void workers_emit_stats(workers_t *w, const capture_counters_t *capture)
{
    if (capture) {
        w->capture = *capture;
        w->has_capture = true;
    }
    if (!w->hub) {
        analysis_t *a = engine_analysis(w->workers[0].engine);
        if (capture)
            put_capture(&a->stats, capture);
        analysis_emit_stats(a);
        return;
    }
    emit_gathered(w, capture);
}

void workers_set_capture(workers_t *w, const capture_counters_t *capture)
{
    w->capture = *capture;
    w->has_capture = true;
    if (!w->hub)
        put_capture(&engine_analysis(w->workers[0].engine)->stats, capture);
}

void workers_count_file(workers_t *w, bool read, bool truncated, bool failed)
{
    uint64_t add[3] = { read, truncated, failed };
    if (!w->hub) {
        run_stats_t *st = &engine_analysis(w->workers[0].engine)->stats;
        st->files_read += add[0];
        st->files_truncated += add[1];
        st->files_failed += add[2];
        return;
    }
    for (int i = 0; i < 3; i++)
        w->files[i] += add[i];
}

void workers_finish(workers_t *w)
{
    if (w->finished)
        return;
    w->finished = true;
    if (!w->hub) {
        engine_finish(w->workers[0].engine);
        return;
    }
    for (unsigned i = 0; i < w->count; i++)
        enqueue(&w->workers[i], item_new(ITEM_STOP, 0));
    for (unsigned i = 0; i < w->count; i++) {
        g_thread_join(w->workers[i].thread);
        w->workers[i].thread = NULL;
    }
    /* The workers have stopped: their engines are this thread's now.  What
     * waits for a deadline is concluded before the open flows are. */
    analysis_t *s = analysis_hub_enter(w->hub);
    if (s->diagnosis)
        diagnosis_input_ended(s->diagnosis);
    analysis_hub_leave(w->hub);
    for (unsigned i = 0; i < w->count; i++) {
        engine_finish(w->workers[i].engine);
        publish_counters(&w->workers[i]);
    }
    s = analysis_hub_enter(w->hub);
    if (s->diagnosis)
        diagnosis_finish(s->diagnosis);
    analysis_hub_leave(w->hub);
    emit_gathered(w, w->has_capture ? &w->capture : NULL);
    s = analysis_hub_enter(w->hub);
    for (unsigned i = 0; i < s->sink_count; i++)
        if (s->sinks[i]->finish)
            s->sinks[i]->finish(s->sinks[i]);
    analysis_hub_leave(w->hub);
}

void workers_free(workers_t *w)
{
    if (!w)
        return;
    if (w->count && w->workers[0].engine)
        workers_finish(w);
    for (unsigned i = 0; i < w->count; i++) {
        worker_t *wk = &w->workers[i];
        engine_free(wk->engine);
        if (w->hub) {
            g_queue_clear_full(&wk->queue, g_free);
            g_mutex_clear(&wk->mutex);
            g_cond_clear(&wk->not_empty);
            g_cond_clear(&wk->not_full);
            g_mutex_clear(&wk->snapshot_mutex);
        }
    }
    if (w->hub)
        hub_free(w->hub);
    g_free(w->workers);
    g_free(w);
}

uint64_t workers_packets(const workers_t *w)
{
    return w->packets;
}

uint64_t workers_verdicts(const workers_t *w)
{
    const analysis_t *a = w->hub ? &w->hub->shared : engine_analysis(w->workers[0].engine);
    if (!a->diagnosis)
        return 0;
    if (w->hub)
        g_rec_mutex_lock(&w->hub->lock);
    uint64_t n = 0;
    for (int id = 0; id < V_COUNT; id++)
        n += diagnosis_counts(a->diagnosis)->verdicts[id];
    if (w->hub)
        g_rec_mutex_unlock(&w->hub->lock);
    return n;
}

void workers_sum_stats(const workers_t *w, run_stats_t *stats)
{
    if (!w->hub) {
        *stats = engine_analysis(w->workers[0].engine)->stats;
        return;
    }
    memcap_t mc;
    dns_stats_t dns;
    gather(w, stats, &mc, &dns);
    stats->files_read += w->files[0];
    stats->files_truncated += w->files[1];
    stats->files_failed += w->files[2];
    if (w->has_capture)
        put_capture(stats, &w->capture);
}
