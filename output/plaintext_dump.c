#include "plaintext_dump.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <stdio.h>

typedef struct dump_sink {
    event_sink_t base;
    char *dir;
    bool failed;
} dump_sink_t;

static void dump_plaintext(event_sink_t *base, const flow_t *flow, bool from_client, byte_span_t data,
                           const packet_info_t *at)
{
    dump_sink_t *s = (dump_sink_t *)base;
    (void)at;
    if (s->failed || data.len == 0)
        return;
    char name[64];
    snprintf(name, sizeof(name), "%" G_GUINT64_FORMAT "-%s.bin", flow->id, from_client ? "client" : "server");
    char *path = g_build_filename(s->dir, name, NULL);
    FILE *fp = fopen(path, "ab");
    if (!fp || fwrite(data.ptr, 1, data.len, fp) != data.len) {
        fprintf(stderr, "enrollmon: error: cannot write decrypted data to '%s': %s\n", path,
                g_strerror(errno));
        s->failed = true;
    }
    if (fp)
        fclose(fp);
    g_free(path);
}

static void dump_destroy(event_sink_t *base)
{
    dump_sink_t *s = (dump_sink_t *)base;
    g_free(s->dir);
    g_free(s);
}

event_sink_t *plaintext_dump_sink_new(const char *dir, GError **error)
{
    if (g_mkdir_with_parents(dir, 0700) != 0) {
        int err = errno;
        g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(err),
                    "cannot create the directory '%s' for decrypted data: %s", dir, g_strerror(err));
        return NULL;
    }
    dump_sink_t *s = g_new0(dump_sink_t, 1);
    s->base.tls_plaintext = dump_plaintext;
    s->base.destroy = dump_destroy;
    s->dir = g_strdup(dir);
    return &s->base;
}
