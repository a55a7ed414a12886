/* The `verdict` event (events.md): a conclusion of the diagnosis.  Beyond
 * the fields events.md names it carries seq (an update repeats the seq of
 * the verdict it updates), count, inferred, client and server, the time of
 * the first occurrence, and the rule's own facts (modulus MD5s, queue
 * figures...) in "facts". */
#include "../monitor/verdict.h"
#include "eve_internal.h"

void eve_verdict(event_sink_t *base, const verdict_t *v)
{
    eve_sink_t *s = (eve_sink_t *)base;
    json_t j;
    eve_begin_event(s, &j, "verdict", &v->at, NULL);
    json_object_begin(&j, "verdict");
    json_string(&j, "id", verdict_kind(v->id)->id);
    json_string(&j, "severity", verdict_severity_name(v->severity));
    json_string(&j, "summary", v->summary);
    json_string(&j, "advice", v->advice);
    json_string(&j, "device", v->device);
    json_bool(&j, "device_is_address", v->device_is_address);
    json_array_begin(&j, "evidence");
    for (unsigned i = 0; i < v->evidence_count; i++)
        json_uint(&j, NULL, v->evidence[i]);
    json_array_end(&j);
    if (v->evidence_more)
        json_bool(&j, "evidence_truncated", true);
    json_array_begin(&j, "flow_ids");
    for (unsigned i = 0; i < v->flow_count; i++)
        json_uint(&j, NULL, v->flow_ids[i]);
    json_array_end(&j);
    json_uint(&j, "seq", v->seq);
    if (v->update)
        json_bool(&j, "update", true);
    json_uint(&j, "count", v->count);
    if (v->inferred)
        json_bool(&j, "inferred", true);
    if (v->client[0])
        json_string(&j, "client", v->client);
    if (v->server[0])
        json_string(&j, "server", v->server);
    if (v->first_ts_us != v->at.ts_us) {
        char ts[40];
        json_format_timestamp(v->first_ts_us, ts, sizeof(ts));
        json_string(&j, "first_seen", ts);
    }
    if (v->fact_count) {
        json_object_begin(&j, "facts");
        for (unsigned i = 0; i < v->fact_count; i++) {
            const verdict_fact_t *f = &v->facts[i];
            if (f->is_number)
                json_int(&j, f->key, f->number);
            else
                json_string(&j, f->key, f->text);
        }
        json_object_end(&j);
    }
    json_object_end(&j);
    eve_end_event(s, &j);
}
