/* Application protocol labels and flow risks from nDPI.  This module is the
 * only caller of nDPI.  A flow gets nDPI state only when a packet carries
 * payload (a scan's SYNs never need it: they are labelled from their ports),
 * and keeps it only until nDPI's answer is final or a packet budget is
 * spent; then only the result stays.  nDPI state is charged to the global
 * memory cap; when it does not fit, the flow is labelled from its ports.
 */
#ifndef ENROLLMON_CLASSIFY_H
#define ENROLLMON_CLASSIFY_H

#include "../dissectors/cursor.h"
#include "memcap.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct classifier classifier_t;
typedef struct classify_flow classify_flow_t;

#define CLASSIFY_NAME_MAX 64
#define CLASSIFY_MAX_RISKS 16

/* The names are nDPI's own strings, valid while the classifier lives. */
typedef struct classify_result {
    char protocol[CLASSIFY_NAME_MAX];   /* "TLS", "HTTP", "DNS", "Unknown", "TLS.Google" ... */
    const char *app;                    /* app protocol name alone */
    const char *master;                 /* master protocol name, "" when none */
    const char *category;
    const char *confidence;
    unsigned risk_count;
    const char *risks[CLASSIFY_MAX_RISKS]; /* static strings from nDPI */
    bool guessed;                       /* nDPI gave up and guessed (by port) */
    bool no_memory;                     /* nDPI state did not fit under the memory cap */
} classify_result_t;

/* nDPI's detection module.  Setting one up (its address and host name
 * tables) costs tenths of a second, so one may be made once and lent to
 * classifiers that run one after another in the same thread: the fuzz
 * pipeline target starts an engine per input.  Never to two threads at
 * once: the module holds the packet being classified. */
typedef struct classify_module classify_module_t;

/* NULL when nDPI cannot be initialised. */
classify_module_t *classify_module_new(void);
void classify_module_free(classify_module_t *m);

/* NULL when nDPI cannot be initialised.  memcap may be NULL.  module: one
 * lent for the classifier's life, or NULL for a module of its own. */
classifier_t *classifier_new(memcap_t *memcap, classify_module_t *module);
void classifier_free(classifier_t *c);

/* The flow's addresses and ports, as its initiator opened it: nDPI's guess
 * by port needs them when no payload was ever seen. */
typedef struct classify_tuple {
    uint8_t proto;
    uint16_t client_port;
    uint16_t server_port;
} classify_tuple_t;

classify_flow_t *classify_flow_new(const classify_tuple_t *tuple);
void classify_flow_free(classifier_t *c, classify_flow_t *f);

/* What a flow's classification costs without nDPI state (that part is
 * charged by this module when it is allocated). */
size_t classify_flow_base_footprint(void);

/* True while nDPI still wants packets of this flow. */
bool classify_wants_packets(const classify_flow_t *f);

/* One packet of the flow, from its IP header on; has_payload says whether
 * it carries upper-layer bytes. */
void classify_packet(classifier_t *c, classify_flow_t *f, byte_span_t ip_packet, bool has_payload,
                     int64_t ts_us, unsigned packet_budget);

/* The flow ended: make nDPI's answer final (guessing if it has none). */
void classify_finish(classifier_t *c, classify_flow_t *f);

void classify_get_result(const classify_flow_t *f, classify_result_t *out);

#endif
