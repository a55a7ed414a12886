/* What the diagnosis tests (test_diagnosis_core.c, test_diag_*.c) share:
 * a sink that records every verdict in the order it came, lookups over
 * those and over one verdict's facts and evidence, and the analysis with
 * a diagnosis that feeds the sink (built on flow_fixture.h).  Each test
 * keeps its own fixture type around diag_fixture_t, with the flows and
 * records of its layer.
 */
#ifndef ENROLLMON_TEST_VERDICT_SINK_H
#define ENROLLMON_TEST_VERDICT_SINK_H

#include "flow_fixture.h"
#include "monitor/diagnosis.h"
#include "monitor/verdict.h"

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ------------------------------------------------------------------ */
/* The recording sink                                                   */

typedef struct verdict_sink {
    event_sink_t base;
    GArray *verdicts; /* verdict_t, as they came (updates too) */
} verdict_sink_t;

/* Destroyed with the analysis's other sinks (flow_fixture_destroy). */
verdict_sink_t *verdict_sink_new(void);

guint verdict_count(const verdict_sink_t *s);
/* The i-th verdict (the test fails past the last). */
const verdict_t *verdict_nth(const verdict_sink_t *s, guint i);
/* The one verdict (the test fails unless there is exactly one). */
const verdict_t *verdict_only(const verdict_sink_t *s);
/* How many of this id, updates included. */
guint verdict_count_id(const verdict_sink_t *s, verdict_id_t id);
/* The last of this id (the test fails without one). */
const verdict_t *verdict_last_of(const verdict_sink_t *s, verdict_id_t id);

/* ------------------------------------------------------------------ */
/* One verdict                                                          */

/* The fact of that key; NULL for none. */
const verdict_fact_t *verdict_fact_find(const verdict_t *v, const char *key);
/* The text of a text fact; NULL for none, or a number. */
const char *verdict_text_fact(const verdict_t *v, const char *key);
/* The value of a number fact (the test fails without one). */
int64_t verdict_number_fact(const verdict_t *v, const char *key);
bool verdict_has_fact(const verdict_t *v, const char *key);
/* A number fact of that key and value. */
bool verdict_has_number_fact(const verdict_t *v, const char *key, int64_t value);
bool verdict_has_evidence(const verdict_t *v, uint64_t frame);
/* The evidence is these frames, no other. */
void verdict_assert_evidence(const verdict_t *v, const uint64_t *frames, unsigned n);
bool verdict_summary_has(const verdict_t *v, const char *text);
/* Its id, severity and device, and whether the device is an address. */
void verdict_assert_is(const verdict_t *v, verdict_id_t id, verdict_severity_t severity, const char *device,
                       bool device_is_address);

/* ------------------------------------------------------------------ */
/* The analysis with a diagnosis                                        */

typedef struct diag_fixture {
    analysis_t a;
    diagnosis_config_t config; /* the defaults until the test changes them */
    verdict_sink_t *sink;      /* the analysis's first sink */
    diagnosis_t *d;            /* a.diagnosis, once started */
} diag_fixture_t;

/* The analysis (flow_fixture_analysis_init), the default configuration
 * and the sink; no diagnosis yet: the test may change the configuration
 * or the analysis, then call diag_fixture_start. */
void diag_fixture_prepare(diag_fixture_t *f, size_t global_memory, size_t flow_memory);
/* The diagnosis, with f->config. */
void diag_fixture_start(diag_fixture_t *f);
/* Both, with 64 MiB of memory and 1 MiB a flow. */
void diag_fixture_init(diag_fixture_t *f);
/* Frees the diagnosis (what else holds memory can go after it). */
void diag_fixture_stop(diag_fixture_t *f);
/* Stops the diagnosis if still there, checks that no memory is held,
 * clears the configuration, destroys the sinks and frees flow (may be
 * NULL). */
void diag_fixture_destroy(diag_fixture_t *f, flow_t *flow);

#endif
