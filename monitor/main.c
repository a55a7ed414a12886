/* enrollmon: command line.
 *
 * Exit status: 0 every input was analysed (a capture cut short is analysed
 * up to the cut and named in a warning); 1 the run finished but something
 * was lost (an input could not be read, or writing events failed); 2 nothing
 * could be done (usage, configuration, output that cannot be opened, no
 * readable input).
 */
#include "../output/eve.h"
#include "../output/report.h"
#include "capture.h"
#include "config.h"
#include "engine.h"

#include <glib.h>
#include <locale.h>
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
    g_strfreev(opt->read_files);
    g_free(opt->json_path);
    g_free(opt->config_path);
}

/* Reads every capture; returns the exit status. */
static int analyse(const options_t *opt, const monitor_config_t *config)
{
    GError *error = NULL;
    engine_options_t eopt = { config->limits, &config->patterns,
                              opt->capf_port ? (uint16_t)opt->capf_port : config->capf_port };
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
    /* With events on standard output the readable report moves to stderr. */
    bool events_on_stdout = opt->json_path && strcmp(opt->json_path, "-") == 0;
    engine_add_sink(engine, report_sink_new(events_on_stdout ? stderr : stdout, opt->quiet));

    unsigned failed = 0, total = 0;
    for (char **f = opt->read_files; *f; f++) {
        total++;
        char *message = NULL;
        switch (capture_read_file(*f, engine, &message)) {
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
    status = analyse(&opt, &config);
out:
    config_clear(&config);
    options_clear(&opt);
    return status;
}
