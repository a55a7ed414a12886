#include "annotate.h"

#include "../monitor/verdict.h"
#include "pcapng_writer.h"

#include <errno.h>
#include <pcap/pcap.h>
#include <string.h>

typedef struct annotate_sink {
    event_sink_t base;
    GHashTable *by_seq;         /* seq -> verdict_t*, the latest state */
    unsigned frames_written;
} annotate_sink_t;

static void keep_verdict(event_sink_t *base, const verdict_t *v)
{
    annotate_sink_t *s = (annotate_sink_t *)base;
    g_hash_table_insert(s->by_seq, g_memdup2(&v->seq, sizeof(v->seq)), g_memdup2(v, sizeof(*v)));
}

static void destroy(event_sink_t *base)
{
    annotate_sink_t *s = (annotate_sink_t *)base;
    g_hash_table_destroy(s->by_seq);
    g_free(s);
}

event_sink_t *annotate_sink_new(void)
{
    annotate_sink_t *s = g_new0(annotate_sink_t, 1);
    s->base.verdict = keep_verdict;
    s->base.destroy = destroy;
    s->by_seq = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, g_free);
    return &s->base;
}

unsigned annotate_frames_written(const event_sink_t *sink)
{
    return ((const annotate_sink_t *)sink)->frames_written;
}

static char *frame_key(const char *file, uint64_t frame)
{
    return g_strdup_printf("%s\n%" G_GUINT64_FORMAT, file ? file : "", frame);
}

static void free_comments(gpointer p)
{
    g_ptr_array_free(p, TRUE);
}

static gint by_seq(gconstpointer a, gconstpointer b)
{
    const verdict_t *va = *(const verdict_t *const *)a, *vb = *(const verdict_t *const *)b;
    return va->seq < vb->seq ? -1 : va->seq > vb->seq;
}

/* (file, frame) -> the comments of the verdicts that frame is evidence for,
 * in the order the verdicts were first given. */
static GHashTable *comments_by_frame(annotate_sink_t *s)
{
    GHashTable *by_frame = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, free_comments);
    GPtrArray *verdicts = g_ptr_array_new();
    GHashTableIter it;
    gpointer value;
    g_hash_table_iter_init(&it, s->by_seq);
    while (g_hash_table_iter_next(&it, NULL, &value))
        g_ptr_array_add(verdicts, value);
    g_ptr_array_sort(verdicts, by_seq);
    for (guint i = 0; i < verdicts->len; i++) {
        const verdict_t *v = g_ptr_array_index(verdicts, i);
        char *text = g_strdup_printf("enrollmon %s %s %s: %s%s", verdict_severity_name(v->severity),
                                     verdict_kind(v->id)->id, v->device, v->summary,
                                     v->count > 1 ? " (repeated)" : "");
        for (unsigned e = 0; e < v->evidence_count; e++) {
            char *key = frame_key(v->at.pcap_file, v->evidence[e]);
            GPtrArray *list = g_hash_table_lookup(by_frame, key);
            if (!list) {
                list = g_ptr_array_new_with_free_func(g_free);
                g_hash_table_insert(by_frame, key, list);
            } else {
                g_free(key);
            }
            g_ptr_array_add(list, g_strdup(text));
        }
        g_free(text);
    }
    g_ptr_array_free(verdicts, TRUE);
    return by_frame;
}

bool annotate_write(event_sink_t *sink, char **read_files, const char *out_path, GError **error)
{
    annotate_sink_t *s = (annotate_sink_t *)sink;
    pcapng_writer_t *w = pcapng_writer_open(out_path);
    if (!w) {
        int err = errno;
        g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(err), "cannot write '%s': %s", out_path,
                    g_strerror(err));
        return false;
    }
    GHashTable *by_frame = comments_by_frame(s);
    s->frames_written = 0;
    bool ok = true;
    for (char **f = read_files; ok && f && *f; f++) {
        char errbuf[PCAP_ERRBUF_SIZE] = "";
        pcap_t *p = pcap_open_offline_with_tstamp_precision(*f, PCAP_TSTAMP_PRECISION_MICRO, errbuf);
        if (!p)
            continue; /* could not be read in the run either: said then */
        unsigned ifc = pcapng_writer_interface(w, pcap_datalink(p), (uint32_t)pcap_snapshot(p));
        struct pcap_pkthdr *hdr;
        const u_char *data;
        uint64_t n = 0;
        while (pcap_next_ex(p, &hdr, &data) == 1) {
            n++;
            char *key = frame_key(*f, n);
            GPtrArray *list = g_hash_table_lookup(by_frame, key);
            g_free(key);
            if (list) {
                g_ptr_array_add(list, NULL); /* NULL-terminated for the writer */
                s->frames_written++;
            }
            /* The time as the file had it.  A damaged or hostile file's
             * seconds can be so large that, in microseconds, they only fit
             * pcapng's unsigned 64 bits (modulo 2^64 beyond, as libpcap
             * read them from 64 bits in the first place). */
            uint64_t ts_us = (uint64_t)hdr->ts.tv_sec * UINT64_C(1000000) + (uint64_t)hdr->ts.tv_usec;
            pcapng_writer_packet(w, ifc, ts_us, data, hdr->caplen, hdr->len,
                                 list ? (const char *const *)list->pdata : NULL);
            if (list)
                g_ptr_array_remove_index(list, list->len - 1);
        }
        pcap_close(p);
    }
    g_hash_table_destroy(by_frame);
    if (!pcapng_writer_close(w) && ok) {
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_IO, "could not write all of '%s'", out_path);
        ok = false;
    }
    return ok;
}
