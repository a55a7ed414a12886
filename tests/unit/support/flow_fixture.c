#include "flow_fixture.h"

#include "output/eve.h"

#include <glib.h>
#include <glib/gstdio.h>
#include <string.h>

void flow_fixture_analysis_init(analysis_t *a, size_t global_memory, size_t flow_memory)
{
    memset(a, 0, sizeof(*a));
    monitor_limits_default(&a->limits);
    memcap_init(&a->memcap, global_memory, flow_memory);
    a->patterns = cert_patterns_default();
}

flow_t *flow_fixture_flow_new(const flow_fixture_spec_t *spec)
{
    flow_t *flow = g_new0(flow_t, 1);
    flow->id = spec->id;
    flow->proto = spec->proto;
    flow->client.addr.family = 4;
    memcpy(flow->client.addr.bytes, spec->client_ip, sizeof(spec->client_ip));
    flow->client.port = spec->client_port;
    flow->server.addr.family = 4;
    memcpy(flow->server.addr.bytes, spec->server_ip, sizeof(spec->server_ip));
    flow->server.port = spec->server_port;
    flow->closed_by = -1; /* open, as the engine starts every flow */
    return flow;
}

void flow_fixture_add_sink(analysis_t *a, event_sink_t *sink)
{
    g_assert_cmpuint(a->sink_count, <, ANALYSIS_MAX_SINKS);
    a->sinks[a->sink_count++] = sink;
}

void flow_fixture_assert_memory_returned(const analysis_t *a)
{
    g_assert_cmpuint(a->memcap.in_use, ==, 0);
    g_assert_cmpuint(a->memcap.buffers_in_use, ==, 0);
}

void flow_fixture_destroy(analysis_t *a, flow_t *flow)
{
    for (unsigned i = 0; i < a->sink_count; i++)
        a->sinks[i]->destroy(a->sinks[i]);
    a->sink_count = 0;
    g_free(flow);
}

event_sink_t *eve_file_open(eve_file_t *file, analysis_t *a, const char *dir_template)
{
    GError *error = NULL;
    file->dir = g_dir_make_tmp(dir_template, &error);
    g_assert_no_error(error);
    file->path = g_build_filename(file->dir, "events.json", NULL);
    file->sink = eve_sink_new(file->path, &error);
    g_assert_no_error(error);
    flow_fixture_add_sink(a, file->sink);
    return file->sink;
}

void eve_file_remove(eve_file_t *file)
{
    g_unlink(file->path);
    g_rmdir(file->dir);
    g_free(file->path);
    g_free(file->dir);
    file->path = NULL;
    file->dir = NULL;
    file->sink = NULL;
}
