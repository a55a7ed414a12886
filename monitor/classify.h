/* Application protocol labels and flow risks from nDPI.  This module is the
 * only caller of nDPI.  Each flow's nDPI state is kept only until nDPI's
 * answer is final (or a packet budget is spent); then only the result stays.
 */
#ifndef ENROLLMON_CLASSIFY_H
#define ENROLLMON_CLASSIFY_H

#include "../dissectors/cursor.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct classifier classifier_t;
typedef struct classify_flow classify_flow_t;

#define CLASSIFY_NAME_MAX 64
#define CLASSIFY_MAX_RISKS 16

typedef struct classify_result {
    char protocol[CLASSIFY_NAME_MAX];   /* "TLS", "HTTP", "DNS", "Unknown", "TLS.Google" ... */
    char app[CLASSIFY_NAME_MAX];        /* app protocol name alone */
    char master[CLASSIFY_NAME_MAX];     /* master protocol name, "" when none */
    char category[CLASSIFY_NAME_MAX];
    char confidence[CLASSIFY_NAME_MAX];
    unsigned risk_count;
    const char *risks[CLASSIFY_MAX_RISKS]; /* static strings from nDPI */
    bool guessed;                       /* nDPI gave up and guessed (by port) */
} classify_result_t;

/* NULL when nDPI cannot be initialised. */
classifier_t *classifier_new(void);
void classifier_free(classifier_t *c);

classify_flow_t *classify_flow_new(void);
void classify_flow_free(classify_flow_t *f);

/* Bytes a flow's classification holds now (nDPI's state is freed once its
 * answer is final), for the memory accounting. */
size_t classify_flow_footprint(const classify_flow_t *f);
/* What a new flow's classification costs before its first packet. */
size_t classify_flow_initial_footprint(void);

/* True while nDPI still wants packets of this flow. */
bool classify_wants_packets(const classify_flow_t *f);

/* One packet of the flow, from its IP header on. */
void classify_packet(classifier_t *c, classify_flow_t *f, byte_span_t ip_packet, int64_t ts_us,
                     unsigned packet_budget);

/* The flow ended: make nDPI's answer final (guessing if it has none). */
void classify_finish(classifier_t *c, classify_flow_t *f);

void classify_get_result(const classify_flow_t *f, classify_result_t *out);

#endif
