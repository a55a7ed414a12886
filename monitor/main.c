/* enrollmon: command line.
 *
 * Exit status: 0 every input was analysed (a capture cut short is analysed
 * up to the cut and named in a warning); 1 the run finished but something
 * was lost (an input could not be read, or writing events failed); 2 nothing
 * could be done (usage, configuration, output that cannot be opened, no
 * readable input).
 */
#include "../output/eve.h"
#include "../output/plaintext_dump.h"
#include "../output/progress.h"
#include "../output/report.h"
#include "../output/verdict_report.h"
#include "capture.h"
#include "config.h"
#include "engine.h"
#include "diagnosis.h"
#include "keylog.h"
#include "trust_store.h"

#include <errno.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <sys/stat.h>
#include <locale.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <string.h>

#ifndef ENROLLMON_VERSION
#define ENROLLMON_VERSION "0"
#endif
#ifndef ENROLLMON_SYSCONFDIR
#define ENROLLMON_SYSCONFDIR "/etc"
#endif

enum { EXIT_ALL_DONE = 0, EXIT_SOMETHING_LOST = 1, EXIT_NOTHING_DONE = 2 };

typedef struct options {
    char **read_files;
    char *json_path;
    char *config_path;
    gboolean quiet;
    gboolean version;
    gint capf_port;
    char **keylog_files;
    char **rsa_key_files;
    char *dump_plaintext_dir;
    char *trust_path;
    char *color;
} options_t;

static void fail_line(const char *message)
{
    fprintf(stderr, "enrollmon: error: %s\n", message);
}

/* The configuration beside the binary (a build tree) or the installed one;
 * the built-in defaults hold the same values when neither exists. */
static char *default_config_path(void)
{
    const char *env = g_getenv("ENROLLMON_CONFIG");
    if (env && *env)
        return g_strdup(env);
    char *exe = g_file_read_link("/proc/self/exe", NULL);
    if (exe) {
        char *dir = g_path_get_dirname(exe);
        char *beside = g_build_filename(dir, "enrollmon.conf", NULL);
        g_free(dir);
        g_free(exe);
        if (g_file_test(beside, G_FILE_TEST_IS_REGULAR))
            return beside;
        g_free(beside);
    }
    char *installed = g_build_filename(ENROLLMON_SYSCONFDIR, "enrollmon", "enrollmon.conf", NULL);
    if (g_file_test(installed, G_FILE_TEST_IS_REGULAR))
        return installed;
    g_free(installed);
    return NULL;
}

static bool parse_options(int *argc, char ***argv, options_t *opt)
{
    GOptionEntry entries[] = {
        { "read", 'r', 0, G_OPTION_ARG_FILENAME_ARRAY, &opt->read_files,
          "Read packets from a pcap or pcapng capture (repeat for several)", "FILE" },
        { "json", 0, 0, G_OPTION_ARG_FILENAME, &opt->json_path,
          "Write JSON-lines events to OUT ('-' for standard output)", "OUT" },
        { "config", 0, 0, G_OPTION_ARG_FILENAME, &opt->config_path,
          "Configuration file (certificate kinds, limits)", "FILE" },
        { "keylog", 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &opt->keylog_files,
          "NSS key log (SSLKEYLOGFILE) to decrypt TLS with (repeat for several)", "FILE" },
        { "rsa-key", 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &opt->rsa_key_files,
          "A server's PEM private key, for TLS with RSA key exchange (repeat for several)", "FILE" },
        { "dump-plaintext", 0, 0, G_OPTION_ARG_FILENAME, &opt->dump_plaintext_dir,
          "Write decrypted application data to DIR/<flow>-<client|server>.bin", "DIR" },
        { "trust", 0, 0, G_OPTION_ARG_FILENAME, &opt->trust_path,
          "CA certificates (a PEM file or a directory of them) to verify server chains with", "FILE_OR_DIR" },
        { "color", 0, 0, G_OPTION_ARG_STRING, &opt->color,
          "Colour in the report: auto (when a terminal), always or never", "WHEN" },
        { "capf-port", 0, 0, G_OPTION_ARG_INT, &opt->capf_port,
          "TCP port of the CAPF service (default 3804, or the configuration's)", "PORT" },
        { "quiet", 'q', 0, G_OPTION_ARG_NONE, &opt->quiet,
          "No per-connection lines on the terminal, only the summary", NULL },
        { "version", 0, 0, G_OPTION_ARG_NONE, &opt->version, "Print the version and exit", NULL },
        { NULL, 0, 0, 0, NULL, NULL, NULL },
    };
    GOptionContext *ctx = g_option_context_new("- watch Cisco phone certificate enrollment on the wire");
    g_option_context_set_summary(ctx,
        "Reads captures, follows TLS on every port, and reports the certificates each\n"
        "side presented (LSC, MIC, self-signed, CA-issued) and the alerts that ended\n"
        "handshakes.");
    g_option_context_add_main_entries(ctx, entries, NULL);
    GError *error = NULL;
    bool ok = g_option_context_parse(ctx, argc, argv, &error);
    if (!ok) {
        fprintf(stderr, "enrollmon: error: %s (try --help)\n", error->message);
        g_error_free(error);
    } else if (*argc > 1) {
        fprintf(stderr, "enrollmon: error: unexpected argument '%s' (captures are given with -r FILE)\n",
                (*argv)[1]);
        ok = false;
    }
    g_option_context_free(ctx);
    return ok;
}

static void options_clear(options_t *opt)
{
    g_strfreev(opt->keylog_files);
    g_strfreev(opt->rsa_key_files);
    g_free(opt->dump_plaintext_dir);
    g_free(opt->trust_path);
    g_free(opt->color);
    g_strfreev(opt->read_files);
    g_free(opt->json_path);
    g_free(opt->config_path);
}

/* A server's private key for RSA key exchange.  Errors never show the key. */
static EVP_PKEY *load_rsa_key(const char *path, char **problem)
{
    FILE *fp = fopen(path, "r");
    if (!fp) {
        *problem = g_strdup_printf("cannot read the RSA key '%s': %s", path, g_strerror(errno));
        return NULL;
    }
    EVP_PKEY *key = PEM_read_PrivateKey(fp, NULL, NULL, NULL);
    fclose(fp);
    if (!key) {
        *problem = g_strdup_printf("'%s' is not an unencrypted PEM private key", path);
        return NULL;
    }
    if (EVP_PKEY_get_base_id(key) != EVP_PKEY_RSA) {
        *problem = g_strdup_printf("'%s' is not an RSA key (only RSA key exchange can be decrypted with a key)", path);
        EVP_PKEY_free(key);
        return NULL;
    }
    return key;
}

static void free_pkey(gpointer key)
{
    EVP_PKEY_free(key);
}

/* Key logs and RSA keys, all read before any capture: a bad one is one line. */
static bool load_keys(const options_t *opt, tls_keys_t *keys)
{
    GError *error = NULL;
    for (char **f = opt->keylog_files; f && *f; f++) {
        if (!keys->keylog)
            keys->keylog = keylog_new();
        if (!keylog_load_file(keys->keylog, *f, &error)) {
            fail_line(error->message);
            g_error_free(error);
            return false;
        }
    }
    for (char **f = opt->rsa_key_files; f && *f; f++) {
        char *problem = NULL;
        EVP_PKEY *key = load_rsa_key(*f, &problem);
        if (!key) {
            fail_line(problem);
            g_free(problem);
            return false;
        }
        if (!keys->rsa_keys)
            keys->rsa_keys = g_ptr_array_new_with_free_func(free_pkey);
        g_ptr_array_add(keys->rsa_keys, key);
    }
    return true;
}

static void keys_clear(tls_keys_t *keys)
{
    keylog_free(keys->keylog);
    if (keys->rsa_keys)
        g_ptr_array_free(keys->rsa_keys, TRUE);
    memset(keys, 0, sizeof(*keys));
}

/* What the progress line needs while files are read. */
typedef struct progress_ctx {
    progress_t *progress;
    engine_t *engine;
    uint64_t bytes_before;    /* of the files already read */
    uint64_t packets_before;
} progress_ctx_t;

static void on_progress(void *ctx, const char *path, uint64_t bytes_read, uint64_t bytes_total,
                        uint64_t packets)
{
    (void)bytes_total;
    progress_ctx_t *pc = ctx;
    const diagnosis_t *d = engine_analysis(pc->engine)->diagnosis;
    uint64_t verdicts = 0;
    if (d)
        for (int id = 0; id < V_COUNT; id++)
            verdicts += diagnosis_counts(d)->verdicts[id];
    progress_update(pc->progress, path, pc->bytes_before + bytes_read, pc->packets_before + packets,
                    verdicts);
}

static uint64_t input_size(char **files)
{
    uint64_t total = 0;
    for (char **f = files; *f; f++) {
        GStatBuf st;
        if (g_stat(*f, &st) == 0 && S_ISREG(st.st_mode))
            total += (uint64_t)st.st_size;
    }
    return total;
}

/* Reads every capture; returns the exit status. */
static int analyse(const options_t *opt, const monitor_config_t *config, const tls_keys_t *keys,
                   const trust_store_t *trust)
{
    GError *error = NULL;
    engine_options_t eopt = { config->limits, &config->patterns,
                              opt->capf_port ? (uint16_t)opt->capf_port : config->capf_port, keys,
                              &config->diagnosis, trust };
    engine_t *engine = engine_new(&eopt, &error);
    if (!engine) {
        fail_line(error->message);
        g_error_free(error);
        return EXIT_NOTHING_DONE;
    }
    event_sink_t *eve = NULL;
    if (opt->json_path) {
        eve = eve_sink_new(opt->json_path, &error);
        if (!eve) {
            fail_line(error->message);
            g_error_free(error);
            engine_free(engine);
            return EXIT_NOTHING_DONE;
        }
        engine_add_sink(engine, eve);
    }
    if (opt->dump_plaintext_dir) {
        event_sink_t *dump = plaintext_dump_sink_new(opt->dump_plaintext_dir, &error);
        if (!dump) {
            fail_line(error->message);
            g_error_free(error);
            engine_free(engine);
            return EXIT_NOTHING_DONE;
        }
        engine_add_sink(engine, dump);
    }
    /* With events on standard output the readable report moves to stderr. */
    bool events_on_stdout = opt->json_path && strcmp(opt->json_path, "-") == 0;
    FILE *report_out = events_on_stdout ? stderr : stdout;
    engine_add_sink(engine, report_sink_new(report_out, opt->quiet));
    report_color_t color = REPORT_COLOR_AUTO;
    report_color_parse(opt->color, &color);
    engine_add_sink(engine, verdict_report_new(report_out, report_color_enabled(color, report_out), false));

    unsigned failed = 0, total = 0;
    /* Progress only on a terminal, and never mixed into events on stdout's terminal. */
    progress_ctx_t pc = { progress_new(stderr, input_size(opt->read_files)), engine, 0, 0 };
    for (char **f = opt->read_files; *f; f++) {
        total++;
        char *message = NULL;
        capture_outcome_t outcome =
            capture_read_file_progress(*f, engine, pc.progress ? on_progress : NULL, &pc, &message);
        if (pc.progress) {
            GStatBuf st;
            if (g_stat(*f, &st) == 0)
                pc.bytes_before += (uint64_t)st.st_size;
            pc.packets_before = engine_analysis(engine)->stats.packets;
        }
        if (message)
            progress_erase(pc.progress); /* the line about the file goes on a clean line */
        switch (outcome) {
        case CAPTURE_COMPLETE:
            break;
        case CAPTURE_TRUNCATED:
            fprintf(stderr, "enrollmon: warning: %s\n", message);
            break;
        case CAPTURE_FAILED:
            fail_line(message);
            failed++;
            break;
        }
        g_free(message);
    }
    progress_free(pc.progress);
    engine_finish(engine);
    bool output_failed = eve && eve_sink_failed(eve);
    engine_free(engine);
    if (failed == total)
        return EXIT_NOTHING_DONE;
    if (failed || output_failed)
        return EXIT_SOMETHING_LOST;
    return EXIT_ALL_DONE;
}

int main(int argc, char **argv)
{
    setlocale(LC_ALL, "");
    options_t opt = { 0 };
    int status = EXIT_NOTHING_DONE;
    monitor_config_t config;
    config_defaults(&config);
    if (!parse_options(&argc, &argv, &opt))
        goto out;
    if (opt.version) {
        printf("enrollmon %s\n", ENROLLMON_VERSION);
        status = EXIT_ALL_DONE;
        goto out;
    }
    if (opt.capf_port < 0 || opt.capf_port > 65535) {
        fail_line("--capf-port must be a TCP port (1 to 65535)");
        goto out;
    }
    report_color_t color_choice;
    if (!report_color_parse(opt.color, &color_choice)) {
        fail_line("--color must be auto, always or never");
        goto out;
    }
    if (!opt.read_files || !opt.read_files[0]) {
        fail_line("nothing to read: give one or more captures with -r FILE");
        goto out;
    }
    char *config_path = opt.config_path ? g_strdup(opt.config_path) : default_config_path();
    GError *error = NULL;
    bool config_ok = !config_path || config_load(&config, config_path, &error);
    g_free(config_path);
    if (!config_ok) {
        fail_line(error->message);
        g_error_free(error);
        goto out;
    }
    trust_store_t *trust = NULL;
    if (opt.trust_path) {
        trust = trust_store_load(opt.trust_path, &error);
        if (!trust) {
            fail_line(error->message);
            g_error_free(error);
            goto out;
        }
    }
    tls_keys_t keys = { 0 };
    if (load_keys(&opt, &keys))
        status = analyse(&opt, &config, &keys, trust);
    keys_clear(&keys);
    trust_store_free(trust);
out:
    config_clear(&config);
    options_clear(&opt);
    return status;
}
