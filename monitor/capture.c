#include "capture.h"

#include "../dissectors/cursor.h"

#include <errno.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <sys/stat.h>

#define PCAPNG_MAGIC 0x0a0d0d0au
#define PCAP_FILE_HEADER_LEN 24u
#define PCAP_RECORD_HEADER_LEN 16u
#define CAPTURE_READ_BUFFER (1024 * 1024)

/* Opens the file ourselves so that "missing" and "not allowed" are told
 * apart from "not a capture". */
static FILE *open_capture(const char *path, bool *is_pcapng, char **message)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        *message = g_strdup_printf("cannot open capture '%s': %s", path, g_strerror(errno));
        return NULL;
    }
    /* libpcap reads through stdio: a large buffer saves most read calls
     * (set before the first read, as stdio requires). */
    setvbuf(fp, NULL, _IOFBF, CAPTURE_READ_BUFFER);
    struct stat st;
    if (fstat(fileno(fp), &st) == 0 && S_ISDIR(st.st_mode)) {
        *message = g_strdup_printf("cannot read capture '%s': it is a directory", path);
        fclose(fp);
        return NULL;
    }
    unsigned char magic[4] = { 0 };
    size_t got = fread(magic, 1, sizeof(magic), fp);
    if (got == 0 && ferror(fp)) {
        *message = g_strdup_printf("cannot read capture '%s': %s", path, g_strerror(errno));
        fclose(fp);
        return NULL;
    }
    if (got == 0) {
        *message = g_strdup_printf("'%s' is empty, not a capture", path);
        fclose(fp);
        return NULL;
    }
    cursor_t c = cur_make(magic, got);
    *is_pcapng = cur_be32(&c) == PCAPNG_MAGIC;
    rewind(fp);
    return fp;
}

capture_outcome_t capture_read_file(const char *path, workers_t *workers, char **message)
{
    return capture_read_file_progress(path, workers, NULL, NULL, message);
}

/* Packets between progress reports: rare enough to cost nothing. */
#define PROGRESS_EVERY 4096

capture_outcome_t capture_read_file_progress(const char *path, workers_t *workers,
                                             capture_progress_fn fn, void *ctx, char **message)
{
    *message = NULL;
    bool is_pcapng = false;
    FILE *fp = open_capture(path, &is_pcapng, message);
    if (!fp) {
        return CAPTURE_FAILED;
    }
    char errbuf[PCAP_ERRBUF_SIZE] = "";
    pcap_t *p = pcap_fopen_offline_with_tstamp_precision(fp, PCAP_TSTAMP_PRECISION_MICRO, errbuf);
    if (!p) {
        fclose(fp); /* libpcap leaves the stream to us when it fails */
        *message = g_strdup_printf("'%s' is not a pcap or pcapng capture (%s)", path, errbuf);
        return CAPTURE_FAILED;
    }
    int linktype = pcap_datalink(p);
    if (!decode_linktype_supported(linktype)) {
        const char *name = pcap_datalink_val_to_name(linktype);
        *message = g_strdup_printf("'%s': link type %s (%d) is not supported", path,
                                   name ? name : "unknown", linktype);
        pcap_close(p);
        return CAPTURE_FAILED;
    }
    struct pcap_pkthdr *hdr;
    const u_char *data;
    uint64_t count = 0;
    uint64_t offset = PCAP_FILE_HEADER_LEN; /* where the next record starts (classic pcap) */
    int rc;
    uint64_t total = 0;
    struct stat st;
    if (fn && fstat(fileno(fp), &st) == 0 && S_ISREG(st.st_mode))
        total = (uint64_t)st.st_size;
    while ((rc = pcap_next_ex(p, &hdr, &data)) == 1) {
        count++;
        int64_t ts_us = packet_time_us((int64_t)hdr->ts.tv_sec, (int64_t)hdr->ts.tv_usec);
        workers_packet(workers, linktype, ts_us, data, hdr->caplen, hdr->len, path, count);
        offset += PCAP_RECORD_HEADER_LEN + hdr->caplen;
        if (fn && count % PROGRESS_EVERY == 0) {
            long pos = ftell(fp); /* libpcap reads the stream it was given */
            fn(ctx, path, pos > 0 ? (uint64_t)pos : 0, total, count);
        }
    }
    if (fn)
        fn(ctx, path, total, total, count);
    capture_outcome_t outcome = CAPTURE_COMPLETE;
    if (rc == PCAP_ERROR) {
        outcome = CAPTURE_TRUNCATED;
        if (is_pcapng)
            *message = g_strdup_printf("'%s' is cut short or damaged after packet %" G_GUINT64_FORMAT
                                       "; analysed the %" G_GUINT64_FORMAT " packets before it (%s)",
                                       path, count, count, pcap_geterr(p));
        else
            *message = g_strdup_printf("'%s' is cut short or damaged after packet %" G_GUINT64_FORMAT
                                       " (at byte %" G_GUINT64_FORMAT "); analysed the %" G_GUINT64_FORMAT
                                       " packets before it (%s)",
                                       path, count, offset, count, pcap_geterr(p));
    }
    pcap_close(p);
    return outcome;
}
