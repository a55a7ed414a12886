/* Unit tests for monitor/workers.c: several workers give what one gives.
 *
 * A lab capture (a three-minute mixed enrollment) is read with its key
 * log, the clients' addresses spread over many (so that flows land on both
 * workers), and handed to one worker and then to two.  The records each
 * sink gets (TLS, CAPF, HTTP, DNS, flows) and the verdicts (id, severity,
 * device, final count) must be the same, flow ids unique, every event
 * whole, and the summed counters equal.  Skips (77) without the capture.
 */
#include "monitor/diagnosis.h"
#include "monitor/keylog.h"
#include "monitor/verdict.h"
#include "monitor/workers.h"

#include <glib.h>
#include <pcap/pcap.h>
#include <string.h>

typedef struct record_sink {
    event_sink_t base;
    GMutex mutex;          /* sinks are called under the hub's lock; this checks nothing overlaps */
    int inside;
    bool overlapped;
    GHashTable *counts;    /* "kind" -> count (GINT_TO_POINTER) */
    GHashTable *verdicts;  /* seq -> "ID severity device" of the latest */
    GHashTable *final_count; /* seq -> count */
    GHashTable *flow_ids;  /* flow ids seen at flow_end */
    bool duplicate_flow_id;
    bool stats_seen;
    uint64_t stats_packets;
} record_sink_t;

static void enter(record_sink_t *r)
{
    if (g_atomic_int_add(&r->inside, 1) != 0)
        r->overlapped = true;
}

static void leave(record_sink_t *r)
{
    g_atomic_int_add(&r->inside, -1);
}

static void count(record_sink_t *r, const char *kind)
{
    gpointer n = g_hash_table_lookup(r->counts, kind);
    g_hash_table_insert(r->counts, g_strdup(kind), GINT_TO_POINTER(GPOINTER_TO_INT(n) + 1));
}

static void on_tls(event_sink_t *b, const flow_t *f, const tls_conn_t *t, const packet_info_t *at,
                   bool changed, bool final)
{
    record_sink_t *r = (record_sink_t *)b;
    (void)f, (void)t, (void)at, (void)changed;
    enter(r);
    if (final)
        count(r, "tls-final");
    leave(r);
}

static void on_capf(event_sink_t *b, const flow_t *f, const capf_message_t *m, const capf_event_extra_t *x,
                    const packet_info_t *at)
{
    record_sink_t *r = (record_sink_t *)b;
    (void)f, (void)m, (void)x, (void)at;
    enter(r);
    count(r, "capf");
    leave(r);
}

static void on_http(event_sink_t *b, const flow_t *f, const http_exchange_t *x, const packet_info_t *at)
{
    record_sink_t *r = (record_sink_t *)b;
    (void)f, (void)x, (void)at;
    enter(r);
    count(r, "http");
    leave(r);
}

static void on_dns(event_sink_t *b, const flow_t *f, const dns_transaction_t *x, const packet_info_t *at)
{
    record_sink_t *r = (record_sink_t *)b;
    (void)f, (void)x, (void)at;
    enter(r);
    count(r, "dns");
    leave(r);
}

static void on_flow_end(event_sink_t *b, const flow_t *f, flow_end_reason_t why, const packet_info_t *at)
{
    record_sink_t *r = (record_sink_t *)b;
    (void)why, (void)at;
    enter(r);
    count(r, "flow");
    if (!g_hash_table_add(r->flow_ids, g_memdup2(&f->id, sizeof(f->id))))
        r->duplicate_flow_id = true;
    leave(r);
}

static void on_verdict(event_sink_t *b, const verdict_t *v)
{
    record_sink_t *r = (record_sink_t *)b;
    enter(r);
    g_hash_table_insert(r->verdicts, g_memdup2(&v->seq, sizeof(v->seq)),
                        g_strdup_printf("%s %s %s", verdict_kind(v->id)->id,
                                        verdict_severity_name(v->severity), v->device));
    g_hash_table_insert(r->final_count, g_memdup2(&v->seq, sizeof(v->seq)), GUINT_TO_POINTER(v->count));
    leave(r);
}

static void on_stats(event_sink_t *b, const run_stats_t *st, const memcap_t *mc, const dns_stats_t *dns,
                     const packet_info_t *at)
{
    record_sink_t *r = (record_sink_t *)b;
    (void)mc, (void)dns, (void)at;
    r->stats_seen = true;
    r->stats_packets = st->packets;
}

static void on_destroy(event_sink_t *b)
{
    (void)b; /* the test keeps the sink until it has compared it */
}

static record_sink_t *record_sink_new(void)
{
    record_sink_t *r = g_new0(record_sink_t, 1);
    r->base.tls = on_tls;
    r->base.capf = on_capf;
    r->base.http = on_http;
    r->base.dns = on_dns;
    r->base.flow_end = on_flow_end;
    r->base.verdict = on_verdict;
    r->base.stats = on_stats;
    r->base.destroy = on_destroy;
    r->counts = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    r->verdicts = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, g_free);
    r->final_count = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, NULL);
    r->flow_ids = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, NULL);
    return r;
}

static void record_sink_free(record_sink_t *r)
{
    g_hash_table_destroy(r->counts);
    g_hash_table_destroy(r->verdicts);
    g_hash_table_destroy(r->final_count);
    g_hash_table_destroy(r->flow_ids);
    g_free(r);
}

static gint by_text(gconstpointer a, gconstpointer b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* "ID severity device xCOUNT" of every verdict, sorted. */
static char *verdict_list(const record_sink_t *r)
{
    GPtrArray *lines = g_ptr_array_new_with_free_func(g_free);
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init(&it, r->verdicts);
    while (g_hash_table_iter_next(&it, &k, &v))
        g_ptr_array_add(lines, g_strdup_printf("%s x%u", (const char *)v,
                                               GPOINTER_TO_UINT(g_hash_table_lookup(r->final_count, k))));
    g_ptr_array_sort(lines, by_text);
    g_ptr_array_add(lines, NULL);
    char *all = g_strjoinv("\n", (char **)lines->pdata);
    g_ptr_array_free(lines, TRUE);
    return all;
}

/* Gives each client port its own address 10.77.x.y (the server side, the
 * lower port, keeps its own), so the flows spread over the workers. */
static void spread_clients(uint8_t *frame, size_t len)
{
    if (len < 14 + 20 + 4 || frame[12] != 0x08 || frame[13] != 0x00)
        return;
    uint8_t *ip = frame + 14;
    size_t ihl = (size_t)(ip[0] & 0x0f) * 4;
    if ((ip[9] != 6 && ip[9] != 17) || len < 14 + ihl + 4 || (ip[6] & 0x3f) || ip[7])
        return;
    const uint8_t *l4 = ip + ihl;
    unsigned sport = (unsigned)(l4[0] << 8 | l4[1]), dport = (unsigned)(l4[2] << 8 | l4[3]);
    uint8_t *client = sport > dport ? ip + 12 : ip + 16;
    unsigned port = sport > dport ? sport : dport;
    client[0] = 10;
    client[1] = 77;
    client[2] = (uint8_t)(port >> 8);
    client[3] = (uint8_t)port;
}

static record_sink_t *run(const char *capture, const tls_keys_t *keys, unsigned count,
                          const diagnosis_config_t *dconf)
{
    workers_options_t wo = { 0 };
    wo.count = count;
    monitor_limits_default(&wo.engine.limits);
    wo.engine.keys = keys;
    wo.engine.diagnosis = dconf;
    wo.queue_packets = 64; /* small: the producer waits on full queues too */
    GError *error = NULL;
    workers_t *w = workers_new(&wo, &error);
    g_assert_no_error(error);
    record_sink_t *r = record_sink_new();
    workers_add_sink(w, &r->base);
    char errbuf[PCAP_ERRBUF_SIZE];
    pcap_t *p = pcap_open_offline(capture, errbuf);
    g_assert_nonnull(p);
    struct pcap_pkthdr *hdr;
    const u_char *data;
    uint64_t n = 0;
    while (pcap_next_ex(p, &hdr, &data) == 1) {
        uint8_t *copy = g_memdup2(data, hdr->caplen);
        spread_clients(copy, hdr->caplen);
        workers_packet(w, pcap_datalink(p), (int64_t)hdr->ts.tv_sec * 1000000 + hdr->ts.tv_usec, copy,
                       hdr->caplen, hdr->len, capture, ++n);
        g_free(copy);
    }
    pcap_close(p);
    g_assert_cmpuint(workers_packets(w), ==, n);
    workers_finish(w);
    run_stats_t sum;
    workers_sum_stats(w, &sum);
    g_assert_cmpuint(sum.packets, ==, n);
    workers_free(w);
    return r;
}

/* data: the capture's name in pcaps/, without .pcapng. */
static void test_two_workers_same_as_one(gconstpointer data)
{
    const char *name = data;
    const char *root = g_getenv("ENROLLMON_SOURCE_ROOT");
    char *file = g_strconcat(name, ".pcapng", NULL), *keys_file = g_strconcat(name, ".keys", NULL);
    char *capture = g_build_filename(root ? root : ".", "pcaps", file, NULL);
    char *keyfile = g_build_filename(root ? root : ".", "pcaps", keys_file, NULL);
    g_free(file);
    g_free(keys_file);
    if (!g_file_test(capture, G_FILE_TEST_EXISTS)) {
        g_test_skip("the capture is not there");
        g_free(capture);
        g_free(keyfile);
        return;
    }
    tls_keys_t keys = { 0 };
    keys.keylog = keylog_new();
    GError *error = NULL;
    if (g_file_test(keyfile, G_FILE_TEST_EXISTS))
        g_assert_true(keylog_load_file(keys.keylog, keyfile, &error));
    diagnosis_config_t dconf;
    diagnosis_config_default(&dconf);

    record_sink_t *one = run(capture, &keys, 1, &dconf);
    record_sink_t *two = run(capture, &keys, 2, &dconf);

    const char *kinds[] = { "tls-final", "capf", "http", "dns", "flow" };
    for (size_t i = 0; i < G_N_ELEMENTS(kinds); i++) {
        int a = GPOINTER_TO_INT(g_hash_table_lookup(one->counts, kinds[i]));
        int b = GPOINTER_TO_INT(g_hash_table_lookup(two->counts, kinds[i]));
        g_test_message("%s: %s: %d with one worker, %d with two", name, kinds[i], a, b);
        g_assert_cmpint(a, ==, b);
    }
    g_assert_cmpint(GPOINTER_TO_INT(g_hash_table_lookup(one->counts, "flow")), >, 10);
    g_assert_cmpint(GPOINTER_TO_INT(g_hash_table_lookup(one->counts, "http")), >, 10);
    char *v1 = verdict_list(one), *v2 = verdict_list(two);
    g_test_message("verdicts:\n%s", v1);
    g_assert_cmpuint(g_hash_table_size(one->verdicts), >=, 2);
    g_assert_cmpstr(v1, ==, v2);
    g_assert_false(two->duplicate_flow_id);
    g_assert_false(two->overlapped);
    g_assert_true(one->stats_seen && two->stats_seen);
    g_assert_cmpuint(one->stats_packets, ==, two->stats_packets);
    g_free(v1);
    g_free(v2);
    record_sink_free(one);
    record_sink_free(two);
    diagnosis_config_clear(&dconf);
    keylog_free(keys.keylog);
    g_free(capture);
    g_free(keyfile);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    /* CAPF, EST, certsrv and DNS with keys; a SYN storm against one server. */
    g_test_add_data_func("/workers/two-like-one/mixed-enrollment", "mixed-enrollment",
                         test_two_workers_same_as_one);
    g_test_add_data_func("/workers/two-like-one/tcp-queue-limit", "tcp-queue-limit",
                         test_two_workers_same_as_one);
    return g_test_run();
}
