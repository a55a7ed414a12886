/* Unit tests for monitor/flow_table.c (canonical keys, lookup, the
 * activity-ordered class lists) and monitor/memcap.c (the caps). */
#include "monitor/flow.h"
#include "monitor/flow_table.h"
#include "monitor/memcap.h"

#include <glib.h>
#include <string.h>

static ip_addr_t v4(uint8_t a, uint8_t b, uint8_t c, uint8_t d)
{
    ip_addr_t x;
    memset(&x, 0, sizeof(x));
    x.family = 4;
    x.bytes[0] = a;
    x.bytes[1] = b;
    x.bytes[2] = c;
    x.bytes[3] = d;
    return x;
}

static ip_addr_t v6(uint8_t last)
{
    ip_addr_t x;
    memset(&x, 0, sizeof(x));
    x.family = 6;
    x.bytes[0] = 0xfe;
    x.bytes[1] = 0x80;
    x.bytes[15] = last;
    return x;
}

/* ---- keys ------------------------------------------------------------------ */

static void test_key_canonical(void)
{
    static const struct {
        const char *name;
        int a_kind, b_kind; /* 4 or 6 */
        uint8_t a_last, b_last;
        uint16_t a_port, b_port;
        gboolean a_is_lo;
    } cases[] = {
        { "addresses differ", 4, 4, 5, 20, 3804, 51562, TRUE },
        { "addresses differ, low port high", 4, 4, 20, 5, 443, 50000, FALSE },
        { "same address, ports differ", 4, 4, 1, 1, 8443, 2443, FALSE },
        { "same address, ports differ (2)", 4, 4, 1, 1, 2443, 8443, TRUE },
        { "ipv6", 6, 6, 9, 2, 5061, 40000, FALSE },
        { "ipv4 before ipv6", 6, 4, 1, 200, 1, 2, FALSE },
        { "identical endpoints", 4, 4, 7, 7, 1000, 1000, TRUE },
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        ip_addr_t a = cases[i].a_kind == 4 ? v4(10, 0, 0, cases[i].a_last) : v6(cases[i].a_last);
        ip_addr_t b = cases[i].b_kind == 4 ? v4(10, 0, 0, cases[i].b_last) : v6(cases[i].b_last);
        flow_key_t ab, ba;
        bool ab_lo = !cases[i].a_is_lo, ba_lo = FALSE;
        memset(&ab, 0xa5, sizeof(ab)); /* padding must not leak into the key */
        memset(&ba, 0x5a, sizeof(ba));
        flow_key_make(&ab, &a, cases[i].a_port, &b, cases[i].b_port, IPPROTO_NUM_TCP, &ab_lo);
        flow_key_make(&ba, &b, cases[i].b_port, &a, cases[i].a_port, IPPROTO_NUM_TCP, &ba_lo);
        if (memcmp(&ab, &ba, sizeof(ab)) != 0)
            g_test_fail_printf("%s: the two directions give different keys", cases[i].name);
        g_assert_cmpuint(ab.hash, ==, ba.hash);
        g_assert_cmpint(ab_lo, ==, cases[i].a_is_lo);
        if (cases[i].a_port != cases[i].b_port || ip_addr_compare(&a, &b) != 0)
            g_assert_cmpint(ba_lo, ==, !cases[i].a_is_lo);
        g_assert_cmpint(ip_addr_compare(&ab.lo.addr, cases[i].a_is_lo ? &a : &b), ==, 0);
        g_assert_cmpuint(ab.lo.port, ==, cases[i].a_is_lo ? cases[i].a_port : cases[i].b_port);
        g_assert_cmpuint(ab.hi.port, ==, cases[i].a_is_lo ? cases[i].b_port : cases[i].a_port);
        g_assert_cmpuint(ab.proto, ==, IPPROTO_NUM_TCP);
        /* the protocol is part of the key */
        flow_key_t udp;
        flow_key_make(&udp, &a, cases[i].a_port, &b, cases[i].b_port, IPPROTO_NUM_UDP, NULL);
        g_assert_true(memcmp(&ab, &udp, sizeof(ab)) != 0);
    }
}

/* ---- the table --------------------------------------------------------------- */

/* Walks a class list both ways and checks the links; returns its length. */
static unsigned check_list(flow_table_t *ft, flow_timeout_class_t cls, flow_t *const *expected,
                           unsigned n_expected)
{
    unsigned n = 0;
    flow_t *prev = NULL;
    for (flow_t *f = flow_table_oldest(ft, cls); f; f = f->newer) {
        g_assert_true(f->older == prev);
        g_assert_cmpint(f->timeout_class, ==, cls);
        if (expected && n < n_expected)
            g_assert_true(f == expected[n]);
        prev = f;
        n++;
        g_assert_cmpuint(n, <=, flow_table_size(ft)); /* no cycle */
        if (n > flow_table_size(ft))
            break;
    }
    if (expected)
        g_assert_cmpuint(n, ==, n_expected);
    return n;
}

static flow_t *add_flow(flow_table_t *ft, uint8_t host, uint16_t port, flow_timeout_class_t cls,
                        int64_t ts)
{
    ip_addr_t c = v4(192, 168, 1, host), s = v4(10, 0, 0, 5);
    flow_key_t key;
    flow_key_make(&key, &c, port, &s, 443, IPPROTO_NUM_TCP, NULL);
    g_assert_null(flow_table_lookup(ft, &key));
    flow_t *f = flow_table_add(ft, &key, cls);
    g_assert_nonnull(f);
    g_assert_cmpint(f->timeout_class, ==, cls);
    g_assert_cmpuint(f->packets[0], ==, 0); /* zeroed */
    g_assert_null(f->tls);
    f->last_ts_us = ts;
    return f;
}

static flow_t *find(flow_table_t *ft, uint8_t host, uint16_t port, gboolean reverse)
{
    ip_addr_t c = v4(192, 168, 1, host), s = v4(10, 0, 0, 5);
    flow_key_t key;
    if (reverse)
        flow_key_make(&key, &s, 443, &c, port, IPPROTO_NUM_TCP, NULL);
    else
        flow_key_make(&key, &c, port, &s, 443, IPPROTO_NUM_TCP, NULL);
    return flow_table_lookup(ft, &key);
}

static void remove_all(flow_table_t *ft)
{
    for (int c = 0; c < FLOW_CLASS_COUNT; c++) {
        flow_t *f;
        while ((f = flow_table_oldest(ft, (flow_timeout_class_t)c)))
            flow_table_remove(ft, f);
    }
    g_assert_cmpuint(flow_table_size(ft), ==, 0);
    flow_table_free(ft);
}

static void test_lookup(void)
{
    flow_table_t *ft = flow_table_new();
    g_assert_cmpuint(flow_table_size(ft), ==, 0);
    g_assert_null(flow_table_least_recent(ft));
    flow_t *a = add_flow(ft, 1, 50000, FLOW_CLASS_TCP_OPEN, 10);
    flow_t *b = add_flow(ft, 1, 50001, FLOW_CLASS_TCP_OPEN, 11);
    flow_t *c = add_flow(ft, 2, 50000, FLOW_CLASS_UDP, 12);
    g_assert_cmpuint(flow_table_size(ft), ==, 3);
    g_assert_true(find(ft, 1, 50000, FALSE) == a);
    g_assert_true(find(ft, 1, 50000, TRUE) == a); /* the other direction */
    g_assert_true(find(ft, 1, 50001, TRUE) == b);
    g_assert_true(find(ft, 2, 50000, FALSE) == c);
    g_assert_null(find(ft, 3, 50000, FALSE));
    g_assert_null(find(ft, 1, 50002, FALSE));
    /* a UDP key for the same endpoints is another flow */
    ip_addr_t cl = v4(192, 168, 1, 1), s = v4(10, 0, 0, 5);
    flow_key_t key;
    flow_key_make(&key, &cl, 50000, &s, 443, IPPROTO_NUM_UDP, NULL);
    g_assert_null(flow_table_lookup(ft, &key));
    remove_all(ft);
}

static void test_touch_moves_to_newest(void)
{
    flow_table_t *ft = flow_table_new();
    flow_t *f1 = add_flow(ft, 1, 1, FLOW_CLASS_TCP_OPEN, 1);
    flow_t *f2 = add_flow(ft, 2, 1, FLOW_CLASS_TCP_OPEN, 2);
    flow_t *f3 = add_flow(ft, 3, 1, FLOW_CLASS_TCP_OPEN, 3);
    flow_t *order1[] = { f1, f2, f3 };
    check_list(ft, FLOW_CLASS_TCP_OPEN, order1, 3);

    flow_table_touch(ft, f1, FLOW_CLASS_TCP_OPEN);
    flow_t *order2[] = { f2, f3, f1 };
    check_list(ft, FLOW_CLASS_TCP_OPEN, order2, 3);
    g_assert_true(flow_table_oldest(ft, FLOW_CLASS_TCP_OPEN) == f2);

    flow_table_touch(ft, f1, FLOW_CLASS_TCP_OPEN); /* already the newest */
    check_list(ft, FLOW_CLASS_TCP_OPEN, order2, 3);

    flow_table_touch(ft, f3, FLOW_CLASS_TCP_OPEN); /* from the middle */
    flow_t *order3[] = { f2, f1, f3 };
    check_list(ft, FLOW_CLASS_TCP_OPEN, order3, 3);

    /* to another class: it leaves this list and becomes the newest there */
    flow_t *c1 = add_flow(ft, 9, 1, FLOW_CLASS_TCP_CLOSED, 4);
    flow_table_touch(ft, f3, FLOW_CLASS_TCP_CLOSED);
    flow_t *open_left[] = { f2, f1 };
    check_list(ft, FLOW_CLASS_TCP_OPEN, open_left, 2);
    flow_t *closed[] = { c1, f3 };
    check_list(ft, FLOW_CLASS_TCP_CLOSED, closed, 2);
    g_assert_cmpint(f3->timeout_class, ==, FLOW_CLASS_TCP_CLOSED);

    /* the newest of one class touched into another */
    flow_table_touch(ft, f1, FLOW_CLASS_TCP_CLOSED);
    flow_t *open_left2[] = { f2 };
    check_list(ft, FLOW_CLASS_TCP_OPEN, open_left2, 1);
    flow_t *closed2[] = { c1, f3, f1 };
    check_list(ft, FLOW_CLASS_TCP_CLOSED, closed2, 3);

    /* the only flow of a class leaves it empty */
    flow_table_touch(ft, f2, FLOW_CLASS_UDP);
    g_assert_null(flow_table_oldest(ft, FLOW_CLASS_TCP_OPEN));
    check_list(ft, FLOW_CLASS_TCP_OPEN, NULL, 0);
    flow_t *udp[] = { f2 };
    check_list(ft, FLOW_CLASS_UDP, udp, 1);
    remove_all(ft);
}

static void test_oldest_and_least_recent(void)
{
    flow_table_t *ft = flow_table_new();
    for (int c = 0; c < FLOW_CLASS_COUNT; c++)
        g_assert_null(flow_table_oldest(ft, (flow_timeout_class_t)c));
    flow_t *opening = add_flow(ft, 1, 1, FLOW_CLASS_TCP_OPENING, 500);
    flow_t *open1 = add_flow(ft, 2, 1, FLOW_CLASS_TCP_OPEN, 100);
    flow_t *open2 = add_flow(ft, 3, 1, FLOW_CLASS_TCP_OPEN, 300);
    flow_t *udp = add_flow(ft, 4, 1, FLOW_CLASS_UDP, 200);
    g_assert_true(flow_table_oldest(ft, FLOW_CLASS_TCP_OPENING) == opening);
    g_assert_true(flow_table_oldest(ft, FLOW_CLASS_TCP_OPEN) == open1);
    g_assert_true(flow_table_oldest(ft, FLOW_CLASS_UDP) == udp);
    g_assert_null(flow_table_oldest(ft, FLOW_CLASS_TCP_CLOSED));
    g_assert_true(flow_table_least_recent(ft) == open1);
    /* open1 becomes active again */
    open1->last_ts_us = 600;
    flow_table_touch(ft, open1, FLOW_CLASS_TCP_OPEN);
    g_assert_true(flow_table_oldest(ft, FLOW_CLASS_TCP_OPEN) == open2);
    g_assert_true(flow_table_least_recent(ft) == udp);
    udp->last_ts_us = 700;
    flow_table_touch(ft, udp, FLOW_CLASS_UDP);
    g_assert_true(flow_table_least_recent(ft) == open2);
    flow_table_remove(ft, open2);
    g_assert_true(flow_table_least_recent(ft) == opening);
    remove_all(ft);
}

static void test_remove(void)
{
    flow_table_t *ft = flow_table_new();
    flow_t *f[5];
    for (int i = 0; i < 5; i++)
        f[i] = add_flow(ft, (uint8_t)(i + 1), 7, FLOW_CLASS_UDP, i);
    flow_table_remove(ft, f[2]); /* middle */
    flow_t *o1[] = { f[0], f[1], f[3], f[4] };
    check_list(ft, FLOW_CLASS_UDP, o1, 4);
    g_assert_null(find(ft, 3, 7, FALSE));
    flow_table_remove(ft, f[0]); /* oldest */
    flow_t *o2[] = { f[1], f[3], f[4] };
    check_list(ft, FLOW_CLASS_UDP, o2, 3);
    flow_table_remove(ft, f[4]); /* newest */
    flow_t *o3[] = { f[1], f[3] };
    check_list(ft, FLOW_CLASS_UDP, o3, 2);
    g_assert_cmpuint(flow_table_size(ft), ==, 2);
    g_assert_true(find(ft, 2, 7, TRUE) == f[1]);
    g_assert_true(find(ft, 4, 7, FALSE) == f[3]);
    /* a removed key can be added again */
    flow_t *again = add_flow(ft, 3, 7, FLOW_CLASS_TCP_OPEN, 9);
    g_assert_true(find(ft, 3, 7, TRUE) == again);
    flow_table_touch(ft, f[1], FLOW_CLASS_UDP);
    flow_t *o4[] = { f[3], f[1] };
    check_list(ft, FLOW_CLASS_UDP, o4, 2);
    remove_all(ft);
}

/* Random adds, touches and removes against a simple model of the lists. */
static void test_random_against_model(void)
{
    enum { SLOTS = 64, STEPS = 4000 };
    GRand *rand = g_rand_new_with_seed(1234);
    flow_table_t *ft = flow_table_new();
    flow_t *live[SLOTS] = { 0 };
    GQueue model[FLOW_CLASS_COUNT];
    for (int c = 0; c < FLOW_CLASS_COUNT; c++)
        g_queue_init(&model[c]);
    unsigned count = 0;
    for (int step = 0; step < STEPS; step++) {
        int slot = g_rand_int_range(rand, 0, SLOTS);
        flow_timeout_class_t cls = (flow_timeout_class_t)g_rand_int_range(rand, 0, FLOW_CLASS_COUNT);
        int op = g_rand_int_range(rand, 0, 3);
        if (!live[slot]) {
            live[slot] = add_flow(ft, (uint8_t)slot, 1000, cls, step);
            g_queue_push_tail(&model[cls], live[slot]);
            count++;
        } else if (op == 0) {
            flow_t *f = live[slot];
            g_queue_remove(&model[f->timeout_class], f);
            flow_table_remove(ft, f);
            live[slot] = NULL;
            count--;
            g_assert_null(find(ft, (uint8_t)slot, 1000, FALSE));
        } else {
            flow_t *f = live[slot];
            g_queue_remove(&model[f->timeout_class], f);
            g_queue_push_tail(&model[cls], f);
            f->last_ts_us = step;
            flow_table_touch(ft, f, cls);
        }
        g_assert_cmpuint(flow_table_size(ft), ==, count);
        if (step % 50 == 0 || step == STEPS - 1) {
            flow_t *least = NULL;
            for (int c = 0; c < FLOW_CLASS_COUNT; c++) {
                flow_t *expected[SLOTS];
                unsigned n = 0;
                for (GList *l = model[c].head; l; l = l->next)
                    expected[n++] = l->data;
                check_list(ft, (flow_timeout_class_t)c, expected, n);
                if (n && (!least || expected[0]->last_ts_us < least->last_ts_us))
                    least = expected[0];
            }
            g_assert_true(flow_table_least_recent(ft) == least);
            for (int s = 0; s < SLOTS; s++)
                if (live[s])
                    g_assert_true(find(ft, (uint8_t)s, 1000, TRUE) == live[s]);
        }
    }
    for (int c = 0; c < FLOW_CLASS_COUNT; c++)
        g_queue_clear(&model[c]);
    remove_all(ft);
    g_rand_free(rand);
}

static void test_end_reason_names(void)
{
    g_assert_cmpstr(flow_end_reason_name(FLOW_END_CLOSED), ==, "closed");
    g_assert_cmpstr(flow_end_reason_name(FLOW_END_TIMEOUT), ==, "timeout");
    g_assert_cmpstr(flow_end_reason_name(FLOW_END_CAPTURE_END), ==, "capture_end");
    g_assert_cmpstr(flow_end_reason_name(FLOW_END_EVICTED), ==, "evicted");
    g_assert_cmpstr(flow_end_reason_name(FLOW_END_REUSED), ==, "reused");
    g_assert_cmpstr(flow_end_reason_name(FLOW_END_NONE), ==, "none");
}

/* ---- memcap ----------------------------------------------------------------- */

static void test_memcap_global(void)
{
    memcap_t mc;
    memcap_init(&mc, 1000, 400);
    g_assert_cmpuint(mc.in_use, ==, 0);
    for (int c = 0; c < CAP_COUNT; c++)
        g_assert_cmpuint(mc.hits[c], ==, 0);
    g_assert_true(memcap_reserve(&mc, NULL, 600)); /* no account: the flow cap does not apply */
    g_assert_true(memcap_reserve(&mc, NULL, 400)); /* exactly up to the cap */
    g_assert_cmpuint(mc.in_use, ==, 1000);
    g_assert_false(memcap_reserve(&mc, NULL, 1));
    g_assert_cmpuint(mc.hits[CAP_GLOBAL_MEMORY], ==, 1);
    g_assert_cmpuint(mc.in_use, ==, 1000);
    memcap_release(&mc, NULL, 300);
    g_assert_cmpuint(mc.in_use, ==, 700);
    g_assert_cmpuint(mc.peak, ==, 1000);
    g_assert_false(memcap_reserve(&mc, NULL, 301));
    g_assert_true(memcap_reserve(&mc, NULL, 300));
    g_assert_false(memcap_reserve(&mc, NULL, SIZE_MAX)); /* no wrap-around */
    g_assert_cmpuint(mc.hits[CAP_GLOBAL_MEMORY], ==, 3);
    memcap_release(&mc, NULL, 5000); /* more than held: clamps at zero */
    g_assert_cmpuint(mc.in_use, ==, 0);
    g_assert_cmpuint(mc.peak, ==, 1000);
    g_assert_true(memcap_reserve(&mc, NULL, 0));
}

static void test_memcap_flow_account(void)
{
    memcap_t mc;
    memcap_init(&mc, 1000, 400);
    memcap_account_t a = { 0 }, b = { 0 };
    g_assert_true(memcap_reserve(&mc, &a, 300));
    g_assert_true(memcap_reserve(&mc, &a, 100)); /* a at its cap */
    g_assert_false(memcap_reserve(&mc, &a, 1));
    g_assert_cmpuint(mc.hits[CAP_FLOW_MEMORY], ==, 1);
    g_assert_cmpuint(mc.hits[CAP_GLOBAL_MEMORY], ==, 0);
    g_assert_cmpuint(a.in_use, ==, 400);
    g_assert_false(memcap_reserve(&mc, &b, 401)); /* larger than any flow may hold */
    g_assert_cmpuint(mc.hits[CAP_FLOW_MEMORY], ==, 2);
    g_assert_false(memcap_reserve(&mc, &b, SIZE_MAX));
    g_assert_true(memcap_reserve(&mc, &b, 400));
    g_assert_cmpuint(mc.in_use, ==, 800);
    /* the global cap binds before b's own */
    memcap_account_t c = { 0 };
    g_assert_true(memcap_reserve(&mc, &c, 200));
    g_assert_false(memcap_reserve(&mc, &c, 1));
    g_assert_cmpuint(mc.hits[CAP_GLOBAL_MEMORY], >=, 1);
    g_assert_cmpuint(c.in_use, ==, 200);
    g_assert_cmpuint(mc.in_use, ==, 1000);
    g_assert_cmpuint(mc.peak, ==, 1000);
    memcap_release(&mc, &a, 400);
    memcap_release(&mc, &b, 100);
    g_assert_cmpuint(a.in_use, ==, 0);
    g_assert_cmpuint(b.in_use, ==, 300);
    g_assert_cmpuint(mc.in_use, ==, 500);
    memcap_release(&mc, &c, 1000); /* clamps both */
    g_assert_cmpuint(c.in_use, ==, 0);
    g_assert_cmpuint(mc.in_use, ==, 0);
    memcap_release(&mc, &b, 300);
    g_assert_cmpuint(b.in_use, ==, 0);
    g_assert_cmpuint(mc.in_use, ==, 0);
}

static void test_memcap_hits_and_names(void)
{
    static const struct {
        cap_id_t cap;
        const char *name;
    } names[] = {
        { CAP_GLOBAL_MEMORY, "global_memory" },
        { CAP_FLOW_MEMORY, "flow_memory" },
        { CAP_QUEUED_SEGMENTS, "queued_segments" },
        { CAP_HANDSHAKE_MESSAGE, "handshake_message" },
        { CAP_MAX_FLOWS, "max_flows" },
        { CAP_FRAGMENT_DATAGRAMS, "fragment_datagrams" },
        { CAP_FRAGMENT_MEMORY, "fragment_memory" },
        { CAP_HTTP_BODY, "http_body" },
        { CAP_HTTP_HEADER, "http_header" },
        { CAP_HTTP_PENDING, "http_pending" },
        { CAP_DNS_PENDING, "dns_pending" },
        { CAP_DNS_NAMES, "dns_names" },
        { CAP_CERTSRV_REQUESTS, "certsrv_requests" },
        { CAP_DIAGNOSIS_STATE, "diagnosis_state" },
    };
    g_assert_cmpuint(G_N_ELEMENTS(names), ==, CAP_COUNT);
    memcap_t mc;
    memcap_init(&mc, 10, 10);
    for (size_t i = 0; i < G_N_ELEMENTS(names); i++) {
        g_assert_cmpstr(cap_name(names[i].cap), ==, names[i].name);
        for (size_t k = 0; k <= i; k++)
            memcap_count_hit(&mc, names[i].cap);
    }
    for (size_t i = 0; i < G_N_ELEMENTS(names); i++)
        g_assert_cmpuint(mc.hits[names[i].cap], ==, i + 1);
    g_assert_cmpstr(cap_name(CAP_COUNT), ==, "unknown");
    memcap_count_hit(&mc, CAP_COUNT); /* ignored, no write out of bounds */
    g_assert_cmpuint(mc.in_use, ==, 0);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    /* A failed check marks its test failed and the others still run. */
    g_test_set_nonfatal_assertions();
    g_test_add_func("/flow/key-canonical", test_key_canonical);
    g_test_add_func("/flow/lookup", test_lookup);
    g_test_add_func("/flow/touch-moves-to-newest", test_touch_moves_to_newest);
    g_test_add_func("/flow/oldest-and-least-recent", test_oldest_and_least_recent);
    g_test_add_func("/flow/remove", test_remove);
    g_test_add_func("/flow/random-against-model", test_random_against_model);
    g_test_add_func("/flow/end-reason-names", test_end_reason_names);
    g_test_add_func("/memcap/global", test_memcap_global);
    g_test_add_func("/memcap/flow-account", test_memcap_flow_account);
    g_test_add_func("/memcap/hits-and-names", test_memcap_hits_and_names);
    return g_test_run();
}
