#include "verdict_sink.h"

#include <string.h>

/* ------------------------------------------------------------------ */
/* The recording sink                                                   */

static void keep_verdict(event_sink_t *base, const verdict_t *v)
{
    g_array_append_val(((verdict_sink_t *)base)->verdicts, *v);
}

static void verdict_sink_destroy(event_sink_t *base)
{
    g_array_free(((verdict_sink_t *)base)->verdicts, TRUE);
    g_free(base);
}

verdict_sink_t *verdict_sink_new(void)
{
    verdict_sink_t *s = g_new0(verdict_sink_t, 1);
    s->base.verdict = keep_verdict;
    s->base.destroy = verdict_sink_destroy;
    s->verdicts = g_array_new(FALSE, TRUE, sizeof(verdict_t));
    return s;
}

guint verdict_count(const verdict_sink_t *s)
{
    return s->verdicts->len;
}

const verdict_t *verdict_nth(const verdict_sink_t *s, guint i)
{
    g_assert_cmpuint(i, <, s->verdicts->len);
    return &g_array_index(s->verdicts, verdict_t, i);
}

const verdict_t *verdict_only(const verdict_sink_t *s)
{
    g_assert_cmpuint(verdict_count(s), ==, 1);
    return verdict_nth(s, 0);
}

guint verdict_count_id(const verdict_sink_t *s, verdict_id_t id)
{
    guint n = 0;
    for (guint i = 0; i < s->verdicts->len; i++)
        n += verdict_nth(s, i)->id == id;
    return n;
}

const verdict_t *verdict_last_of(const verdict_sink_t *s, verdict_id_t id)
{
    for (guint i = s->verdicts->len; i-- > 0;)
        if (verdict_nth(s, i)->id == id)
            return verdict_nth(s, i);
    g_assert_not_reached();
    return NULL;
}

/* ------------------------------------------------------------------ */
/* One verdict                                                          */

const verdict_fact_t *verdict_fact_find(const verdict_t *v, const char *key)
{
    for (unsigned i = 0; i < v->fact_count; i++)
        if (strcmp(v->facts[i].key, key) == 0)
            return &v->facts[i];
    return NULL;
}

const char *verdict_text_fact(const verdict_t *v, const char *key)
{
    const verdict_fact_t *fact = verdict_fact_find(v, key);
    return fact && !fact->is_number ? fact->text : NULL;
}

int64_t verdict_number_fact(const verdict_t *v, const char *key)
{
    const verdict_fact_t *fact = verdict_fact_find(v, key);
    if (!fact)
        g_error("no fact %s", key);
    g_assert_true(fact->is_number);
    return fact->number;
}

bool verdict_has_fact(const verdict_t *v, const char *key)
{
    return verdict_fact_find(v, key) != NULL;
}

bool verdict_has_number_fact(const verdict_t *v, const char *key, int64_t value)
{
    const verdict_fact_t *fact = verdict_fact_find(v, key);
    return fact && fact->is_number && fact->number == value;
}

bool verdict_has_evidence(const verdict_t *v, uint64_t frame)
{
    for (unsigned i = 0; i < v->evidence_count; i++)
        if (v->evidence[i] == frame)
            return true;
    return false;
}

void verdict_assert_evidence(const verdict_t *v, const uint64_t *frames, unsigned n)
{
    g_assert_cmpuint(v->evidence_count, ==, n);
    for (unsigned i = 0; i < n; i++)
        g_assert_cmpuint(v->evidence[i], ==, frames[i]);
}

bool verdict_summary_has(const verdict_t *v, const char *text)
{
    return strstr(v->summary, text) != NULL;
}

void verdict_assert_is(const verdict_t *v, verdict_id_t id, verdict_severity_t severity, const char *device,
                       bool device_is_address)
{
    g_assert_cmpstr(verdict_kind(v->id)->id, ==, verdict_kind(id)->id);
    g_assert_cmpint(v->severity, ==, severity);
    g_assert_cmpstr(v->device, ==, device);
    g_assert_cmpint(v->device_is_address, ==, device_is_address);
}

/* ------------------------------------------------------------------ */
/* The analysis with a diagnosis                                        */

void diag_fixture_prepare(diag_fixture_t *f, size_t global_memory, size_t flow_memory)
{
    memset(f, 0, sizeof(*f));
    flow_fixture_analysis_init(&f->a, global_memory, flow_memory);
    diagnosis_config_default(&f->config);
    f->sink = verdict_sink_new();
    flow_fixture_add_sink(&f->a, &f->sink->base);
}

void diag_fixture_start(diag_fixture_t *f)
{
    f->d = diagnosis_new(&f->a, &f->config);
    f->a.diagnosis = f->d;
}

void diag_fixture_init(diag_fixture_t *f)
{
    diag_fixture_prepare(f, 64u << 20, 1u << 20);
    diag_fixture_start(f);
}

void diag_fixture_stop(diag_fixture_t *f)
{
    diagnosis_free(f->d);
    f->d = NULL;
    f->a.diagnosis = NULL;
}

void diag_fixture_destroy(diag_fixture_t *f, flow_t *flow)
{
    if (f->d)
        diag_fixture_stop(f);
    flow_fixture_assert_memory_returned(&f->a);
    diagnosis_config_clear(&f->config);
    flow_fixture_destroy(&f->a, flow);
    f->sink = NULL;
}
