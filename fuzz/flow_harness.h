/* What the per-connection fuzz targets (TLS, CAPF, HTTP, DNS) share: one
 * analysis context with the run tables, the diagnosis and every output a
 * real run has (written to /dev/null), one flow, and the input format that
 * says which bytes each side sent.
 *
 * Input format (a "conversation"), read with the bounds-checked cursor:
 *
 *   be16   the server's port (the client's is fixed); it decides, as in a
 *          real run, whether TLS application data is CAPF (the CAPF port)
 *          or HTTP
 *   then, until the input ends, segments:
 *     u8   control: bit 0 the direction (0: client to server),
 *          bit 1 a gap (bytes lost) instead of data,
 *          bits 2-7 packet time that passes before it, in 100 ms steps
 *     be16 length: of the data that follows, or the bytes lost
 *     data (cut short when the input ends)
 *
 * Each segment is handed over as an exact-size heap copy, so a read past
 * its end is seen by AddressSanitizer.  When the conversation is over every
 * layer concludes the flow, the diagnosis its input, and every byte
 * charged to the memory caps must have been given back (else abort: an
 * accounting leak is a bug too).
 *
 * flow_harness.c also defines LLVMFuzzerInitialize for these targets (it
 * loads the key logs).
 */
#ifndef ENROLLMON_FUZZ_FLOW_HARNESS_H
#define ENROLLMON_FUZZ_FLOW_HARNESS_H

#include "monitor/analysis.h"
#include "monitor/diagnosis.h"
#include "fuzz_support.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct flow_harness flow_harness_t;

/* A layer's entry points for one flow. */
typedef struct flow_harness_layer {
    void (*data)(flow_harness_t *h, int dir, byte_span_t data);
    void (*gap)(flow_harness_t *h, int dir, uint64_t missing);
} flow_harness_layer_t;

struct flow_harness {
    analysis_t a;
    flow_t *flow;
    diagnosis_config_t diagnosis_config;
    bool ignored[2];            /* the layer gave up on this direction */
};

/* Runs one conversation through the layer.  proto: IPPROTO_NUM_TCP or
 * IPPROTO_NUM_UDP (each segment a datagram). */
void flow_harness_run(const uint8_t *input, size_t size, uint8_t proto,
                      const flow_harness_layer_t *layer);

#endif
