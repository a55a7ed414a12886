/* The whole pipeline, as `enrollmon -r FILE --json OUT --write-pcapng OUT`
 * runs it: the input is a capture file (pcap or pcapng, any link type);
 * libpcap reads it, then link layers, tunnels, IP fragments, flows, TCP
 * reassembly, nDPI, TLS (decrypted with the key logs of
 * ENROLLMON_FUZZ_KEYLOG), CAPF, HTTP and the PKI bodies, DNS, the
 * diagnosis, every output, and the annotated capture written again.  One
 * worker, in this thread. */
#include "../fuzz_support.h"
#include "../fuzz_target.h"

#include "monitor/capture.h"
#include "monitor/config.h"
#include "monitor/workers.h"
#include "output/annotate.h"

#include <glib.h>
#include <openssl/err.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* Small caps, so that inputs of tens of kilobytes reach the paths taken
 * when a cap is hit. */
#define PIPELINE_GLOBAL_MEMORY (4u * 1024u * 1024u)
#define PIPELINE_FLOW_MEMORY (256u * 1024u)

static char *capture_path;    /* the input, as a file (libpcap reads files) */
static char *annotated_path;  /* --write-pcapng's output */
static monitor_config_t config;
/* nDPI's module, set up once: its tables take tenths of a second, which
 * would be most of every input's time.  Its caches then outlive an input
 * (they only change which labels flows get). */
static classify_module_t *ndpi_module;

static char *temp_file(const char *template)
{
    GError *error = NULL;
    char *path = NULL;
    int fd = g_file_open_tmp(template, &path, &error);
    if (fd < 0) {
        fprintf(stderr, "fuzz: %s\n", error->message);
        abort();
    }
    close(fd);
    return path;
}

static void remove_temp_files(void)
{
    g_unlink(capture_path);
    g_unlink(annotated_path);
    g_free(capture_path);
    g_free(annotated_path);
    config_clear(&config);
    classify_module_free(ndpi_module);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    capture_path = temp_file("enrollmon-fuzz-capture-XXXXXX");
    annotated_path = temp_file("enrollmon-fuzz-annotated-XXXXXX");
    config_defaults(&config);
    config.limits.global_memory = PIPELINE_GLOBAL_MEMORY;
    config.limits.flow_memory = PIPELINE_FLOW_MEMORY;
    fuzz_keys_from_env();
    ndpi_module = classify_module_new();
    if (!ndpi_module) {
        fprintf(stderr, "fuzz: nDPI could not be initialised\n");
        abort();
    }
    atexit(remove_temp_files);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    GError *error = NULL;
    if (!g_file_set_contents(capture_path, (const char *)data, (gssize)size, &error)) {
        fprintf(stderr, "fuzz: %s\n", error->message);
        abort();
    }
    workers_options_t options = { 0 };
    options.count = 1;
    options.engine.limits = config.limits;
    options.engine.patterns = &config.patterns;
    options.engine.capf_port = config.capf_port;
    options.engine.keys = fuzz_keys_from_env();
    options.engine.diagnosis = &config.diagnosis;
    options.engine.classify_module = ndpi_module;
    workers_t *workers = workers_new(&options, &error);
    if (!workers) {
        fprintf(stderr, "fuzz: %s\n", error->message);
        abort();
    }
    analysis_t sinks_only = { 0 };
    fuzz_add_null_sinks(&sinks_only);
    for (unsigned i = 0; i < sinks_only.sink_count; i++)
        workers_add_sink(workers, sinks_only.sinks[i]);
    event_sink_t *annotate = annotate_sink_new();
    workers_add_sink(workers, annotate);

    char *message = NULL;
    capture_outcome_t outcome = capture_read_file(capture_path, workers, &message);
    g_free(message);
    workers_finish(workers);
    if (outcome != CAPTURE_FAILED) {
        char *files[] = { capture_path, NULL };
        if (!annotate_write(annotate, files, annotated_path, &error))
            g_clear_error(&error);
    }
    workers_free(workers);
    /* Errors OpenSSL queued for refused input: see flow_harness.c. */
    ERR_clear_error();
    return 0;
}
