/* nDPI 4.2 (Debian 12): ndpi_detection_process_packet takes five arguments
 * and returns ndpi_protocol {master, app, category}; confidence lives in the
 * flow struct.  The module is not thread-safe: one classifier per thread. */
#include "classify.h"

#include <glib.h>
#include <ndpi_api.h>
#include <stdio.h>
#include <string.h>

struct classifier {
    struct ndpi_detection_module_struct *ndpi;
};

struct classify_flow {
    struct ndpi_flow_struct *ndpi_flow; /* NULL once the result is final */
    unsigned packets;
    bool final;
    classify_result_t result;
};

classifier_t *classifier_new(void)
{
    struct ndpi_detection_module_struct *ndpi = ndpi_init_detection_module(ndpi_no_prefs);
    if (!ndpi)
        return NULL;
    NDPI_PROTOCOL_BITMASK all;
    NDPI_BITMASK_SET_ALL(all);
    ndpi_set_protocol_detection_bitmask2(ndpi, &all);
    ndpi_finalize_initialization(ndpi);
    classifier_t *c = g_new0(classifier_t, 1);
    c->ndpi = ndpi;
    return c;
}

void classifier_free(classifier_t *c)
{
    if (!c)
        return;
    ndpi_exit_detection_module(c->ndpi);
    g_free(c);
}

classify_flow_t *classify_flow_new(void)
{
    classify_flow_t *f = g_new0(classify_flow_t, 1);
    f->ndpi_flow = ndpi_flow_malloc(SIZEOF_FLOW_STRUCT);
    if (f->ndpi_flow)
        memset(f->ndpi_flow, 0, SIZEOF_FLOW_STRUCT);
    else
        f->final = true;
    snprintf(f->result.protocol, sizeof(f->result.protocol), "Unknown");
    return f;
}

static void release_ndpi_flow(classify_flow_t *f)
{
    if (f->ndpi_flow) {
        ndpi_free_flow(f->ndpi_flow);
        f->ndpi_flow = NULL;
    }
}

void classify_flow_free(classify_flow_t *f)
{
    if (!f)
        return;
    release_ndpi_flow(f);
    g_free(f);
}

size_t classify_flow_footprint(const classify_flow_t *f)
{
    return sizeof(*f) + (f->ndpi_flow ? SIZEOF_FLOW_STRUCT : 0);
}

size_t classify_flow_initial_footprint(void)
{
    return sizeof(classify_flow_t) + SIZEOF_FLOW_STRUCT;
}

bool classify_wants_packets(const classify_flow_t *f)
{
    return !f->final;
}

static void copy_name(char *dst, const char *src)
{
    snprintf(dst, CLASSIFY_NAME_MAX, "%s", src ? src : "");
}

/* Reads everything wanted out of nDPI's flow while it still exists. */
static void capture_result(classifier_t *c, classify_flow_t *f, ndpi_protocol proto, bool guessed)
{
    classify_result_t *r = &f->result;
    char buf[CLASSIFY_NAME_MAX];
    copy_name(r->protocol, ndpi_protocol2name(c->ndpi, proto, buf, sizeof(buf)));
    copy_name(r->app, ndpi_get_proto_name(c->ndpi, proto.app_protocol));
    copy_name(r->master, proto.master_protocol != NDPI_PROTOCOL_UNKNOWN
                             ? ndpi_get_proto_name(c->ndpi, proto.master_protocol)
                             : "");
    copy_name(r->category, ndpi_category_get_name(c->ndpi, proto.category));
    copy_name(r->confidence, ndpi_confidence_get_name(f->ndpi_flow->confidence));
    r->guessed = guessed;
    r->risk_count = 0;
    for (int bit = 0; bit < NDPI_MAX_RISK && r->risk_count < CLASSIFY_MAX_RISKS; bit++)
        if (NDPI_ISSET_BIT(f->ndpi_flow->risk, bit))
            r->risks[r->risk_count++] = ndpi_risk2str((ndpi_risk_enum)bit);
}

void classify_packet(classifier_t *c, classify_flow_t *f, byte_span_t ip_packet, int64_t ts_us,
                     unsigned packet_budget)
{
    if (f->final || ip_packet.len == 0)
        return;
    /* nDPI takes the length as an unsigned short; longer (offloaded)
     * packets are shown to it cut to what fits. */
    unsigned short len = ip_packet.len > 0xffff ? 0xffff : (unsigned short)ip_packet.len;
    ndpi_protocol proto = ndpi_detection_process_packet(c->ndpi, f->ndpi_flow, ip_packet.ptr, len,
                                                        (u_int64_t)(ts_us / 1000));
    f->packets++;
    bool detected = proto.app_protocol != NDPI_PROTOCOL_UNKNOWN ||
                    proto.master_protocol != NDPI_PROTOCOL_UNKNOWN;
    if (detected)
        capture_result(c, f, proto, false);
    bool more = detected && ndpi_extra_dissection_possible(c->ndpi, f->ndpi_flow);
    if ((detected && !more) || f->packets >= packet_budget) {
        if (!detected)
            classify_finish(c, f);
        f->final = true;
        release_ndpi_flow(f);
    }
}

void classify_finish(classifier_t *c, classify_flow_t *f)
{
    if (!f->ndpi_flow) {
        f->final = true;
        return;
    }
    if (strcmp(f->result.protocol, "Unknown") == 0) {
        u_int8_t guessed = 0;
        ndpi_protocol proto = ndpi_detection_giveup(c->ndpi, f->ndpi_flow, 1, &guessed);
        capture_result(c, f, proto, guessed != 0);
    } else {
        /* keep the detected label but pick up risks found since */
        classify_result_t kept = f->result;
        f->result.risk_count = 0;
        for (int bit = 0; bit < NDPI_MAX_RISK && f->result.risk_count < CLASSIFY_MAX_RISKS; bit++)
            if (NDPI_ISSET_BIT(f->ndpi_flow->risk, bit))
                f->result.risks[f->result.risk_count++] = ndpi_risk2str((ndpi_risk_enum)bit);
        if (f->result.risk_count == 0)
            f->result.risk_count = kept.risk_count;
    }
    f->final = true;
    release_ndpi_flow(f);
}

void classify_get_result(const classify_flow_t *f, classify_result_t *out)
{
    *out = f->result;
}
