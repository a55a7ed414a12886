#include "verdict_report.h"

#include "../monitor/verdict.h"

#include <glib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Verdicts kept for the grouped report; beyond it they are counted only
 * (a live run of weeks must not grow without bound). */
#define REPORT_VERDICTS_MAX 20000

#define ANSI_RESET "\033[0m"
#define ANSI_BOLD "\033[1m"
#define ANSI_DIM "\033[2m"
#define ANSI_RED "\033[31m"
#define ANSI_YELLOW "\033[33m"
#define ANSI_GREEN "\033[32m"

typedef struct verdict_report {
    event_sink_t base;
    FILE *out;
    bool color;
    bool as_they_come;
    GPtrArray *kept;          /* verdict_t*, the latest state of each (by seq) */
    GHashTable *by_seq;       /* seq -> index in kept */
    uint64_t not_kept;
    uint64_t verdicts[V_COUNT];     /* distinct */
    uint64_t occurrences[V_COUNT];  /* with repeats */
    GHashTable *devices[V_COUNT];   /* device names per id, for the table */
} verdict_report_t;

bool report_color_parse(const char *text, report_color_t *out)
{
    if (!text || strcmp(text, "auto") == 0)
        *out = REPORT_COLOR_AUTO;
    else if (strcmp(text, "always") == 0)
        *out = REPORT_COLOR_ALWAYS;
    else if (strcmp(text, "never") == 0)
        *out = REPORT_COLOR_NEVER;
    else
        return false;
    return true;
}

bool report_color_enabled(report_color_t choice, FILE *out)
{
    if (choice != REPORT_COLOR_AUTO)
        return choice == REPORT_COLOR_ALWAYS;
    const char *no_color = g_getenv("NO_COLOR");
    const char *term = g_getenv("TERM");
    if ((no_color && *no_color) || (term && strcmp(term, "dumb") == 0))
        return false;
    return isatty(fileno(out));
}

static const char *paint(const verdict_report_t *r, const char *code)
{
    return r->color ? code : "";
}

static const char *severity_color(verdict_severity_t s)
{
    switch (s) {
    case VERDICT_ERROR: return ANSI_RED;
    case VERDICT_WARNING: return ANSI_YELLOW;
    case VERDICT_INFO: return ANSI_GREEN;
    }
    return "";
}

static const char *severity_label(verdict_severity_t s)
{
    switch (s) {
    case VERDICT_ERROR: return "ERROR";
    case VERDICT_WARNING: return "WARN ";
    case VERDICT_INFO: return "OK   ";
    }
    return "?";
}

static void format_time(int64_t ts_us, char *out, size_t len)
{
    time_t secs = (time_t)(ts_us / 1000000);
    struct tm tm;
    if (!gmtime_r(&secs, &tm) || !strftime(out, len, "%Y-%m-%d %H:%M:%S", &tm))
        g_strlcpy(out, "?", len);
}

static void append_frames(GString *s, const verdict_t *v)
{
    if (!v->evidence_count)
        return;
    g_string_append(s, v->evidence_count == 1 ? " (frame " : " (frames ");
    /* Runs of consecutive frames are shown as ranges: 41-44. */
    for (unsigned i = 0; i < v->evidence_count;) {
        unsigned j = i;
        while (j + 1 < v->evidence_count && v->evidence[j + 1] == v->evidence[j] + 1)
            j++;
        if (i)
            g_string_append(s, ", ");
        if (j > i)
            g_string_append_printf(s, "%" G_GUINT64_FORMAT "-%" G_GUINT64_FORMAT, v->evidence[i],
                                   v->evidence[j]);
        else
            g_string_append_printf(s, "%" G_GUINT64_FORMAT, v->evidence[i]);
        i = j + 1;
    }
    if (v->evidence_more)
        g_string_append(s, ", ...");
    g_string_append(s, ")");
}

/* "ERROR CAPF_REFUSED SEP74A02FC0A675 2026-11-22 10:00:03: summary (frames ...)" and
 * the advice on the next line. */
static void print_verdict(verdict_report_t *r, const verdict_t *v, const char *indent, bool with_advice)
{
    char when[32];
    format_time(v->first_ts_us ? v->first_ts_us : v->at.ts_us, when, sizeof(when));
    GString *line = g_string_new(indent);
    g_string_append_printf(line, "%s%s%s %s%s%s %s %s: %s", paint(r, severity_color(v->severity)),
                           severity_label(v->severity), paint(r, ANSI_RESET), paint(r, ANSI_BOLD),
                           verdict_kind(v->id)->id, paint(r, ANSI_RESET), v->device, when, v->summary);
    if (v->count > 1)
        g_string_append_printf(line, " [%u times]", v->count);
    if (v->inferred)
        g_string_append(line, " [inferred]");
    append_frames(line, v);
    fprintf(r->out, "%s\n", line->str);
    if (with_advice && v->severity != VERDICT_INFO)
        fprintf(r->out, "%s      %s-> %s%s\n", indent, paint(r, ANSI_DIM), v->advice, paint(r, ANSI_RESET));
    g_string_free(line, TRUE);
}

static void report_verdict(event_sink_t *base, const verdict_t *v)
{
    verdict_report_t *r = (verdict_report_t *)base;
    r->occurrences[v->id]++;
    if (!v->update) {
        r->verdicts[v->id]++;
        if (!r->devices[v->id])
            r->devices[v->id] = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
        if (g_hash_table_size(r->devices[v->id]) < REPORT_VERDICTS_MAX)
            g_hash_table_add(r->devices[v->id], g_strdup(v->device));
    }
    gpointer index = NULL;
    if (g_hash_table_lookup_extended(r->by_seq, GSIZE_TO_POINTER(v->seq), NULL, &index)) {
        verdict_t *kept = g_ptr_array_index(r->kept, GPOINTER_TO_SIZE(index));
        *kept = *v;
    } else if (r->kept->len < REPORT_VERDICTS_MAX) {
        g_hash_table_insert(r->by_seq, GSIZE_TO_POINTER(v->seq), GSIZE_TO_POINTER(r->kept->len));
        g_ptr_array_add(r->kept, g_memdup2(v, sizeof(*v)));
    } else {
        r->not_kept++;
    }
    if (r->as_they_come) {
        if (v->update)
            fprintf(r->out, "  again: %s %s, %u times now\n", verdict_kind(v->id)->id, v->device, v->count);
        else
            print_verdict(r, v, "", true);
        fflush(r->out);
    }
}

/* Grouping order: device, then server, then time. */
static gint by_device_server_time(gconstpointer a, gconstpointer b)
{
    const verdict_t *va = *(const verdict_t *const *)a, *vb = *(const verdict_t *const *)b;
    int c = strcmp(va->device, vb->device);
    if (c)
        return c;
    c = strcmp(va->server, vb->server);
    if (c)
        return c;
    return va->first_ts_us < vb->first_ts_us ? -1 : va->first_ts_us > vb->first_ts_us;
}

static void print_grouped(verdict_report_t *r)
{
    GPtrArray *sorted = g_ptr_array_sized_new(r->kept->len);
    for (guint i = 0; i < r->kept->len; i++)
        g_ptr_array_add(sorted, g_ptr_array_index(r->kept, i));
    g_ptr_array_sort(sorted, by_device_server_time);
    const char *device = NULL, *server = NULL;
    unsigned ok_count = 0;
    for (guint i = 0; i <= sorted->len; i++) {
        const verdict_t *v = i < sorted->len ? g_ptr_array_index(sorted, i) : NULL;
        bool new_device = !v || !device || strcmp(v->device, device) != 0;
        if (new_device && device && ok_count)
            fprintf(r->out, "  %s%u certificate%s delivered%s\n", paint(r, ANSI_GREEN), ok_count,
                    ok_count == 1 ? "" : "s", paint(r, ANSI_RESET));
        if (!v)
            break;
        if (new_device) {
            device = v->device;
            server = NULL;
            ok_count = 0;
            fprintf(r->out, "%s%s%s%s\n", paint(r, ANSI_BOLD), v->device,
                    v->device_is_address ? " (address; no device name seen)" : "", paint(r, ANSI_RESET));
        }
        if (v->id == V_ENROLLMENT_OK) {
            ok_count += v->count;
            continue;
        }
        if (!server || strcmp(v->server, server) != 0) {
            server = v->server;
            fprintf(r->out, "  server %s\n", v->server[0] ? v->server : "(none)");
        }
        print_verdict(r, v, "    ", true);
    }
    g_ptr_array_free(sorted, TRUE);
}

static void print_table(verdict_report_t *r)
{
    uint64_t errors = 0, warnings = 0, ok = 0;
    for (int id = 0; id < V_COUNT; id++) {
        const verdict_kind_t *k = verdict_kind(id);
        if (k->severity == VERDICT_INFO)
            ok += r->occurrences[id];
        else if (k->severity == VERDICT_WARNING)
            warnings += r->verdicts[id];
        else
            errors += r->verdicts[id];
    }
    fprintf(r->out, "verdicts: %" G_GUINT64_FORMAT " failures, %" G_GUINT64_FORMAT " warnings, %"
                    G_GUINT64_FORMAT " enrollments completed\n",
            errors, warnings, ok);
    bool any = false;
    for (int id = 0; id < V_COUNT; id++)
        any = any || r->verdicts[id];
    if (!any)
        return;
    fprintf(r->out, "  %-26s %9s %11s %8s\n", "id", "verdicts", "occurrences", "devices");
    for (int id = 0; id < V_COUNT; id++) {
        if (!r->verdicts[id])
            continue;
        fprintf(r->out, "  %-26s %9" G_GUINT64_FORMAT " %11" G_GUINT64_FORMAT " %8u\n",
                verdict_kind(id)->id, r->verdicts[id], r->occurrences[id],
                r->devices[id] ? g_hash_table_size(r->devices[id]) : 0);
    }
    if (r->not_kept)
        fprintf(r->out, "  (%" G_GUINT64_FORMAT " verdicts were counted but not kept for the list above)\n",
                r->not_kept);
}

static void report_finish(event_sink_t *base)
{
    verdict_report_t *r = (verdict_report_t *)base;
    if (!r->as_they_come && r->kept->len) {
        fprintf(r->out, "\ndiagnosis, by device and server:\n");
        print_grouped(r);
        fprintf(r->out, "\n");
    }
    print_table(r);
    fflush(r->out);
}

static void report_destroy(event_sink_t *base)
{
    verdict_report_t *r = (verdict_report_t *)base;
    g_ptr_array_free(r->kept, TRUE);
    g_hash_table_destroy(r->by_seq);
    for (int id = 0; id < V_COUNT; id++)
        if (r->devices[id])
            g_hash_table_destroy(r->devices[id]);
    g_free(r);
}

event_sink_t *verdict_report_new(FILE *out, bool color, bool as_they_come)
{
    verdict_report_t *r = g_new0(verdict_report_t, 1);
    r->base.verdict = report_verdict;
    r->base.finish = report_finish;
    r->base.destroy = report_destroy;
    r->out = out;
    r->color = color;
    r->as_they_come = as_they_come;
    r->kept = g_ptr_array_new_with_free_func(g_free);
    r->by_seq = g_hash_table_new(g_direct_hash, g_direct_equal);
    return &r->base;
}
