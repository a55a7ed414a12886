#include "progress.h"

#include <glib.h>
#include <unistd.h>

/* Redraw at most this often (microseconds): a terminal is slow. */
#define PROGRESS_REDRAW_US 250000

struct progress {
    FILE *out;
    uint64_t total_bytes;
    int64_t started_us;
    int64_t last_draw_us;
    bool drawn;
};

progress_t *progress_new(FILE *out, uint64_t total_bytes)
{
    if (!isatty(fileno(out)))
        return NULL;
    progress_t *p = g_new0(progress_t, 1);
    p->out = out;
    p->total_bytes = total_bytes;
    p->started_us = g_get_monotonic_time();
    return p;
}

void progress_update(progress_t *p, const char *file, uint64_t done_bytes, uint64_t packets,
                     uint64_t verdicts)
{
    if (!p)
        return;
    int64_t now = g_get_monotonic_time();
    if (p->drawn && now - p->last_draw_us < PROGRESS_REDRAW_US)
        return;
    p->last_draw_us = now;
    p->drawn = true;
    double elapsed = (double)(now - p->started_us) / 1e6;
    double rate = elapsed > 0 ? (double)packets / elapsed : 0;
    char *base = g_path_get_basename(file);
    if (p->total_bytes)
        fprintf(p->out, "\r\033[K%s: %3.0f%% read, %.0f packets/s, %" G_GUINT64_FORMAT " verdicts",
                base, 100.0 * (double)done_bytes / (double)p->total_bytes, rate, verdicts);
    else
        fprintf(p->out, "\r\033[K%s: %" G_GUINT64_FORMAT " packets, %.0f packets/s, %" G_GUINT64_FORMAT
                        " verdicts",
                base, packets, rate, verdicts);
    fflush(p->out);
    g_free(base);
}

void progress_erase(progress_t *p)
{
    if (!p || !p->drawn)
        return;
    fputs("\r\033[K", p->out);
    fflush(p->out);
    p->drawn = false;
}

void progress_free(progress_t *p)
{
    progress_erase(p);
    g_free(p);
}
