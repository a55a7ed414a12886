/* nDPI 4.2 (Debian 12): ndpi_detection_process_packet takes five arguments
 * and returns ndpi_protocol {master, app, category}; confidence lives in the
 * flow struct.  The module is not thread-safe: one classifier per thread. */
#include "classify.h"

#include <glib.h>
#include <ndpi_api.h>
#include <stdio.h>
#include <string.h>

/* Port guesses for flows that never carried payload (scans, refused
 * connections) repeat the same few ports: a direct-mapped cache of nDPI's
 * answers saves its tree searches. */
#define GUESS_CACHE_SIZE 4096

typedef struct guess_entry {
    uint64_t key; /* proto << 32 | client port << 16 | server port, +1 so 0 is empty */
    ndpi_protocol proto;
} guess_entry_t;

struct classify_module {
    struct ndpi_detection_module_struct *ndpi;
};

struct classifier {
    struct ndpi_detection_module_struct *ndpi; /* the module's */
    classify_module_t *own_module;             /* NULL when the module is lent */
    memcap_t *memcap;
    guess_entry_t guesses[GUESS_CACHE_SIZE];
};

struct classify_flow {
    struct ndpi_flow_struct *ndpi_flow; /* only between the first payload and the final answer */
    classify_tuple_t tuple;
    unsigned packets;
    bool detected;
    bool final;
    classify_result_t result;
};

classify_module_t *classify_module_new(void)
{
    struct ndpi_detection_module_struct *ndpi = ndpi_init_detection_module(ndpi_no_prefs);
    if (!ndpi)
        return NULL;
    NDPI_PROTOCOL_BITMASK all;
    NDPI_BITMASK_SET_ALL(all);
    ndpi_set_protocol_detection_bitmask2(ndpi, &all);
    ndpi_finalize_initialization(ndpi);
    classify_module_t *m = g_new0(classify_module_t, 1);
    m->ndpi = ndpi;
    return m;
}

void classify_module_free(classify_module_t *m)
{
    if (!m)
        return;
    ndpi_exit_detection_module(m->ndpi);
    g_free(m);
}

classifier_t *classifier_new(memcap_t *memcap, classify_module_t *module)
{
    classify_module_t *own = NULL;
    if (!module) {
        own = module = classify_module_new();
        if (!module)
            return NULL;
    }
    classifier_t *c = g_new0(classifier_t, 1);
    c->ndpi = module->ndpi;
    c->own_module = own;
    c->memcap = memcap;
    return c;
}

void classifier_free(classifier_t *c)
{
    if (!c)
        return;
    classify_module_free(c->own_module);
    g_free(c);
}

size_t classify_flow_base_footprint(void)
{
    return sizeof(classify_flow_t);
}

classify_flow_t *classify_flow_new(const classify_tuple_t *tuple)
{
    classify_flow_t *f = g_new0(classify_flow_t, 1);
    f->tuple = *tuple;
    memcpy(f->result.protocol, "Unknown", sizeof("Unknown"));
    f->result.app = "Unknown";
    f->result.master = f->result.category = f->result.confidence = "";
    return f;
}

static void release_ndpi_flow(classifier_t *c, classify_flow_t *f)
{
    if (!f->ndpi_flow)
        return;
    ndpi_free_flow(f->ndpi_flow);
    f->ndpi_flow = NULL;
    if (c->memcap)
        memcap_release(c->memcap, NULL, SIZEOF_FLOW_STRUCT);
}

void classify_flow_free(classifier_t *c, classify_flow_t *f)
{
    if (!f)
        return;
    release_ndpi_flow(c, f);
    g_free(f);
}

bool classify_wants_packets(const classify_flow_t *f)
{
    return !f->final;
}

static void copy_name(char *dst, const char *src)
{
    g_strlcpy(dst, src ? src : "", CLASSIFY_NAME_MAX);
}

/* "TLS", "TLS.Google" (master.app), as ndpi_protocol2name writes them, but
 * without its printf: this runs once per flow. */
static void set_labels(classifier_t *c, classify_flow_t *f, ndpi_protocol proto)
{
    classify_result_t *r = &f->result;
    const char *app = ndpi_get_proto_name(c->ndpi, proto.app_protocol);
    bool has_master = proto.master_protocol != NDPI_PROTOCOL_UNKNOWN &&
                      proto.master_protocol != proto.app_protocol;
    const char *master = has_master ? ndpi_get_proto_name(c->ndpi, proto.master_protocol) : "";
    r->app = app ? app : "";
    r->master = master ? master : "";
    if (has_master && proto.app_protocol != NDPI_PROTOCOL_UNKNOWN) {
        copy_name(r->protocol, master);
        size_t used = strlen(r->protocol);
        if (used + 1 < CLASSIFY_NAME_MAX) {
            r->protocol[used] = '.';
            g_strlcpy(r->protocol + used + 1, app ? app : "", CLASSIFY_NAME_MAX - used - 1);
        }
    } else {
        copy_name(r->protocol, has_master ? master : app);
    }
    r->category = ndpi_category_get_name(c->ndpi, proto.category);
    if (!r->category)
        r->category = "";
}

static void set_risks(classify_flow_t *f)
{
    classify_result_t *r = &f->result;
    r->risk_count = 0;
    for (int bit = 0; bit < NDPI_MAX_RISK && r->risk_count < CLASSIFY_MAX_RISKS; bit++)
        if (NDPI_ISSET_BIT(f->ndpi_flow->risk, bit))
            r->risks[r->risk_count++] = ndpi_risk2str((ndpi_risk_enum)bit);
}

/* The answer from the flow's ports alone, for flows nDPI never saw (the
 * addresses are left out on purpose: that lookup is what the cache saves). */
static void guess_by_port(classifier_t *c, classify_flow_t *f)
{
    const classify_tuple_t *t = &f->tuple;
    uint64_t key = ((uint64_t)t->proto << 32 | (uint64_t)t->client_port << 16 | t->server_port) + 1;
    guess_entry_t *slot = &c->guesses[(key * 0x9e3779b97f4a7c15ull) >> 52];
    if (slot->key != key) {
        slot->proto = ndpi_guess_undetected_protocol(c->ndpi, NULL, t->proto, 0, t->client_port, 0,
                                                     t->server_port);
        slot->key = key;
    }
    set_labels(c, f, slot->proto);
    f->result.confidence = ndpi_confidence_get_name(NDPI_CONFIDENCE_MATCH_BY_PORT);
    f->result.guessed = true;
}

void classify_packet(classifier_t *c, classify_flow_t *f, byte_span_t ip_packet, bool has_payload,
                     int64_t ts_us, unsigned packet_budget)
{
    if (f->final || ip_packet.len == 0)
        return;
    if (!f->ndpi_flow) {
        if (!has_payload)
            return; /* nothing for nDPI yet: handshakes and scans are labelled by port */
        if (c->memcap && !memcap_reserve(c->memcap, NULL, SIZEOF_FLOW_STRUCT)) {
            f->result.no_memory = true;
            f->final = true;
            guess_by_port(c, f);
            return;
        }
        f->ndpi_flow = ndpi_flow_malloc(SIZEOF_FLOW_STRUCT);
        if (!f->ndpi_flow) {
            if (c->memcap)
                memcap_release(c->memcap, NULL, SIZEOF_FLOW_STRUCT);
            f->final = true;
            guess_by_port(c, f);
            return;
        }
        memset(f->ndpi_flow, 0, SIZEOF_FLOW_STRUCT);
    }
    /* nDPI takes the length as an unsigned short; longer (offloaded)
     * packets are shown to it cut to what fits. */
    unsigned short len = ip_packet.len > 0xffff ? 0xffff : (unsigned short)ip_packet.len;
    ndpi_protocol proto = ndpi_detection_process_packet(c->ndpi, f->ndpi_flow, ip_packet.ptr, len,
                                                        (u_int64_t)(ts_us / 1000));
    f->packets++;
    bool detected = proto.app_protocol != NDPI_PROTOCOL_UNKNOWN ||
                    proto.master_protocol != NDPI_PROTOCOL_UNKNOWN;
    if (detected) {
        f->detected = true;
        set_labels(c, f, proto);
        f->result.confidence = ndpi_confidence_get_name(f->ndpi_flow->confidence);
        set_risks(f);
    }
    bool more = detected && ndpi_extra_dissection_possible(c->ndpi, f->ndpi_flow);
    if ((detected && !more) || f->packets >= packet_budget)
        classify_finish(c, f);
}

void classify_finish(classifier_t *c, classify_flow_t *f)
{
    if (f->final)
        return;
    f->final = true;
    if (!f->ndpi_flow) {
        guess_by_port(c, f);
        return;
    }
    if (!f->detected) {
        u_int8_t guessed = 0;
        ndpi_protocol proto = ndpi_detection_giveup(c->ndpi, f->ndpi_flow, 1, &guessed);
        set_labels(c, f, proto);
        f->result.confidence = ndpi_confidence_get_name(f->ndpi_flow->confidence);
        f->result.guessed = guessed != 0;
    }
    set_risks(f); /* risks found since detection count too */
    release_ndpi_flow(c, f);
}

void classify_get_result(const classify_flow_t *f, classify_result_t *out)
{
    *out = f->result;
}
