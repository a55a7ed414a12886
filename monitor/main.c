/* enrollmon: command line.
 *
 * Offline (-r FILE ...) or live (-i IFACE ...), both through the workers.
 *
 * Exit status: 0 every input was analysed (a capture cut short is analysed
 * up to the cut and named in a warning; a live capture stopped by SIGINT or
 * SIGTERM); 1 the run finished but something was lost (an input could not
 * be read, an interface failed while capturing, or writing an output
 * failed); 2 nothing could be done (usage, configuration, output that cannot
 * be opened, no readable input, an interface that cannot be opened, a user
 * that cannot be switched to).
 */
#include "../output/eve.h"
#include "../output/plaintext_dump.h"
#include "../output/progress.h"
#include "../output/report.h"
#include "../output/verdict_report.h"
#include "../output/wireshark_plugin.h"
#include "../output/annotate.h"
#include "capture.h"
#include "config.h"
#include "diagnosis.h"
#include "keylog.h"
#include "live.h"
#include "trust_store.h"
#include "workers.h"

#include <errno.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <grp.h>
#include <locale.h>
#include <openssl/pem.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef ENROLLMON_VERSION
#define ENROLLMON_VERSION "0"
#endif
#ifndef ENROLLMON_SYSCONFDIR
#define ENROLLMON_SYSCONFDIR "/etc"
#endif

enum { EXIT_ALL_DONE = 0, EXIT_SOMETHING_LOST = 1, EXIT_NOTHING_DONE = 2 };

/* Options given with a value that means "not given". */
#define UNSET (-1)
/* --workers and --stats-interval bounds. */
#define MAX_WORKERS 256
#define MAX_STATS_INTERVAL_S 86400
#define DEFAULT_STATS_INTERVAL_S 60

typedef struct options {
    char **read_files;
    char **interfaces;
    char *filter;
    gint snaplen;
    gint buffer_mb;
    gboolean no_promisc;
    gint workers;
    gint stats_interval;
    char *user;
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
    char *wireshark_plugin_dir;
    char *write_pcapng_path;
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
        { "interface", 'i', 0, G_OPTION_ARG_STRING_ARRAY, &opt->interfaces,
          "Capture live on IFACE (repeat for several; 'any' for all)", "IFACE" },
        { "filter", 'f', 0, G_OPTION_ARG_STRING, &opt->filter,
          "Live: BPF capture filter instead of the default (the ports and tunnels enrollmon dissects; '' for the default)", "EXPR" },
        { "snaplen", 0, 0, G_OPTION_ARG_INT, &opt->snaplen,
          "Live: bytes kept of each frame (default 262144)", "BYTES" },
        { "buffer-mb", 0, 0, G_OPTION_ARG_INT, &opt->buffer_mb,
          "Live: kernel capture buffer per interface, in MiB (default 64)", "MB" },
        { "no-promisc", 0, 0, G_OPTION_ARG_NONE, &opt->no_promisc,
          "Live: do not put the interfaces in promiscuous mode", NULL },
        { "workers", 0, 0, G_OPTION_ARG_INT, &opt->workers,
          "Analysis threads (default: live, the number of cores; offline, 1)", "N" },
        { "stats-interval", 0, 0, G_OPTION_ARG_INT, &opt->stats_interval,
          "Live: a stats event and summary every SECONDS (default 60; 0: only at exit)", "SECONDS" },
        { "user", 0, 0, G_OPTION_ARG_STRING, &opt->user,
          "Live, started as root: the user to continue as once the interfaces are open (default nobody)", "NAME" },
        { "quiet", 'q', 0, G_OPTION_ARG_NONE, &opt->quiet,
          "No per-connection lines on the terminal, only the summary", NULL },
        { "version", 0, 0, G_OPTION_ARG_NONE, &opt->version, "Print the version and exit", NULL },
        { "write-pcapng", 0, 0, G_OPTION_ARG_FILENAME, &opt->write_pcapng_path,
          "Write the capture again to OUT (pcapng) with a comment on every frame that is evidence "
          "for a verdict", "OUT" },
        { "export-wireshark-plugin", 0, 0, G_OPTION_ARG_FILENAME, &opt->wireshark_plugin_dir,
          "Write the CAPF dissector for Wireshark/tshark to DIR/capf.lua and exit", "DIR" },
        { NULL, 0, 0, 0, NULL, NULL, NULL },
    };
    GOptionContext *ctx = g_option_context_new("- watch Cisco phone certificate enrollment on the wire");
    g_option_context_set_summary(ctx,
        "Reads captures (-r) or captures live (-i), follows TLS on every port, and\n"
        "reports the certificates each side presented (LSC, MIC, self-signed,\n"
        "CA-issued), the alerts that ended handshakes, and the verdicts of the\n"
        "diagnosis on each enrollment.");
    g_option_context_add_main_entries(ctx, entries, NULL);
    GError *error = NULL;
    bool ok = g_option_context_parse(ctx, argc, argv, &error);
    if (!ok) {
        fprintf(stderr, "enrollmon: error: %s (try --help)\n", error->message);
        g_error_free(error);
    } else if (*argc > 1) {
        fprintf(stderr, "enrollmon: error: unexpected argument '%s' (captures are given with -r FILE, "
                        "interfaces with -i IFACE)\n",
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
    g_free(opt->wireshark_plugin_dir);
    g_free(opt->write_pcapng_path);
    g_strfreev(opt->read_files);
    g_strfreev(opt->interfaces);
    g_free(opt->filter);
    g_free(opt->user);
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

/* ---- outputs ---- */

/* The sinks of a run, made before the workers. */
typedef struct outputs {
    event_sink_t *sinks[ANALYSIS_MAX_SINKS];
    unsigned count;
    event_sink_t *eve;          /* also in sinks; NULL without --json */
    FILE *report_out;           /* stdout, or stderr with events on stdout */
    bool report_failed;         /* told once */
} outputs_t;

static void outputs_destroy(outputs_t *o)
{
    for (unsigned i = 0; i < o->count; i++)
        if (o->sinks[i]->destroy)
            o->sinks[i]->destroy(o->sinks[i]);
    o->count = 0;
}

/* live: events appended and flushed one by one, verdicts printed as they
 * come.  false with the line already shown. */
static bool outputs_open(outputs_t *o, const options_t *opt, bool live)
{
    GError *error = NULL;
    memset(o, 0, sizeof(*o));
    if (opt->json_path) {
        o->eve = eve_sink_open(opt->json_path, live, &error);
        if (!o->eve) {
            fail_line(error->message);
            g_error_free(error);
            return false;
        }
        eve_sink_set_flush_each(o->eve, live);
        o->sinks[o->count++] = o->eve;
    }
    if (opt->dump_plaintext_dir) {
        event_sink_t *dump = plaintext_dump_sink_new(opt->dump_plaintext_dir, &error);
        if (!dump) {
            fail_line(error->message);
            g_error_free(error);
            outputs_destroy(o);
            return false;
        }
        o->sinks[o->count++] = dump;
    }
    /* With events on standard output the readable report moves to stderr. */
    bool events_on_stdout = opt->json_path && strcmp(opt->json_path, "-") == 0;
    o->report_out = events_on_stdout ? stderr : stdout;
    event_sink_t *report = report_sink_new(o->report_out, opt->quiet);
    report_sink_set_live(report, live);
    o->sinks[o->count++] = report;
    report_color_t color = REPORT_COLOR_AUTO;
    report_color_parse(opt->color, &color);
    o->sinks[o->count++] =
        verdict_report_new(o->report_out, report_color_enabled(color, o->report_out), live);
    return true;
}

/* The sinks go to the workers (which free them from then on). */
static void outputs_hand_over(outputs_t *o, workers_t *w)
{
    for (unsigned i = 0; i < o->count; i++)
        workers_add_sink(w, o->sinks[i]);
    o->count = 0;
}

/* Whether the readable report could be written (disk full, closed pipe:
 * told once). */
static bool report_output_ok(outputs_t *o)
{
    if (o->report_failed)
        return false;
    errno = 0;
    if (fflush(o->report_out) == 0 && !ferror(o->report_out))
        return true;
    int err = errno;
    o->report_failed = true;
    fprintf(stderr, "enrollmon: error: cannot write the report to standard %s: %s\n",
            o->report_out == stderr ? "error" : "output",
            err ? g_strerror(err) : "a write failed");
    return false;
}

static workers_t *start_workers(const options_t *opt, const monitor_config_t *config,
                                const tls_keys_t *keys, const trust_store_t *trust, unsigned count)
{
    GError *error = NULL;
    workers_options_t wopt;
    memset(&wopt, 0, sizeof(wopt));
    wopt.count = count;
    wopt.engine.limits = config->limits;
    wopt.engine.patterns = &config->patterns;
    wopt.engine.capf_port = opt->capf_port ? (uint16_t)opt->capf_port : config->capf_port;
    wopt.engine.keys = keys;
    wopt.engine.diagnosis = &config->diagnosis;
    wopt.engine.trust = trust;
    workers_t *w = workers_new(&wopt, &error);
    if (!w) {
        fail_line(error->message);
        g_error_free(error);
    }
    return w;
}

/* ---- offline ---- */

/* What the progress line needs while files are read. */
typedef struct progress_ctx {
    progress_t *progress;
    workers_t *workers;
    uint64_t bytes_before;    /* of the files already read */
} progress_ctx_t;

static void on_progress(void *ctx, const char *path, uint64_t bytes_read, uint64_t bytes_total,
                        uint64_t packets)
{
    (void)bytes_total;
    (void)packets;
    progress_ctx_t *pc = ctx;
    progress_update(pc->progress, path, pc->bytes_before + bytes_read, workers_packets(pc->workers),
                    workers_verdicts(pc->workers));
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
static int analyse_files(const options_t *opt, const monitor_config_t *config, const tls_keys_t *keys,
                         const trust_store_t *trust)
{
    outputs_t out;
    if (!outputs_open(&out, opt, false))
        return EXIT_NOTHING_DONE;
    /* Offline, one worker unless told: the outputs stay in one order. */
    workers_t *w = start_workers(opt, config, keys, trust, opt->workers == UNSET ? 1 : (unsigned)opt->workers);
    if (!w) {
        outputs_destroy(&out);
        return EXIT_NOTHING_DONE;
    }
    event_sink_t *eve = out.eve;
    outputs_hand_over(&out, w);
    event_sink_t *annotate = NULL;
    if (opt->write_pcapng_path) {
        annotate = annotate_sink_new();
        workers_add_sink(w, annotate); /* freed with the workers' sinks */
    }

    unsigned failed = 0, total = 0;
    /* Progress only on a terminal, and never mixed into events on stdout's terminal. */
    progress_ctx_t pc = { progress_new(stderr, input_size(opt->read_files)), w, 0 };
    for (char **f = opt->read_files; *f; f++) {
        total++;
        char *message = NULL;
        capture_outcome_t outcome =
            capture_read_file_progress(*f, w, pc.progress ? on_progress : NULL, &pc, &message);
        if (pc.progress) {
            GStatBuf st;
            if (g_stat(*f, &st) == 0)
                pc.bytes_before += (uint64_t)st.st_size;
        }
        if (message)
            progress_erase(pc.progress); /* the line about the file goes on a clean line */
        switch (outcome) {
        case CAPTURE_COMPLETE:
            workers_count_file(w, true, false, false);
            break;
        case CAPTURE_TRUNCATED:
            workers_count_file(w, true, true, false);
            fprintf(stderr, "enrollmon: warning: %s\n", message);
            break;
        case CAPTURE_FAILED:
            workers_count_file(w, false, false, true);
            fail_line(message);
            failed++;
            break;
        }
        g_free(message);
    }
    progress_free(pc.progress);
    workers_finish(w);
    bool output_failed = eve && eve_sink_failed(eve);
    output_failed = !report_output_ok(&out) || output_failed;
    if (annotate && failed < total) {
        GError *error = NULL;
        if (!annotate_write(annotate, opt->read_files, opt->write_pcapng_path, &error)) {
            fail_line(error->message);
            g_error_free(error);
            output_failed = true;
        }
    }
    workers_free(w);
    if (failed == total)
        return EXIT_NOTHING_DONE;
    if (failed || output_failed)
        return EXIT_SOMETHING_LOST;
    return EXIT_ALL_DONE;
}

/* ---- live ---- */

/* The user to continue as. */
typedef struct run_as {
    bool drop;                  /* started as root: switch once the interfaces are open */
    char *name;
    uid_t uid;
    gid_t gid;
} run_as_t;

/* Looked up before anything is opened.  As non-root (capabilities given to
 * the binary, or a service's User=) there is nothing to drop: only a user
 * named explicitly must exist. */
static bool resolve_user(const options_t *opt, run_as_t *as)
{
    const char *name = opt->user ? opt->user : "nobody";
    memset(as, 0, sizeof(*as));
    bool root = geteuid() == 0;
    if (!root && !opt->user)
        return true;
    errno = 0;
    struct passwd *pw = getpwnam(name);
    if (!pw) {
        if (errno)
            fprintf(stderr, "enrollmon: error: cannot look up the user '%s' to run as: %s\n", name,
                    g_strerror(errno));
        else
            fprintf(stderr, "enrollmon: error: there is no user '%s' to run as once capturing: name an "
                            "existing unprivileged user with --user NAME\n",
                    name);
        return false;
    }
    as->drop = root && pw->pw_uid != 0;
    as->name = g_strdup(pw->pw_name);
    as->uid = pw->pw_uid;
    as->gid = pw->pw_gid;
    return true;
}

/* Groups, group, user, in that order, and then a check that root cannot be
 * had back. */
static bool drop_privileges(const run_as_t *as)
{
    if (!as->drop)
        return true;
    const char *step = NULL;
    int err = 0;
    if (initgroups(as->name, as->gid) != 0)
        step = "initgroups", err = errno;
    else if (setgid(as->gid) != 0)
        step = "setgid", err = errno;
    else if (setuid(as->uid) != 0)
        step = "setuid", err = errno;
    if (step) {
        fprintf(stderr, "enrollmon: error: cannot switch to user '%s' (%s: %s): run as root with "
                        "CAP_SETUID and CAP_SETGID, or as that user with CAP_NET_RAW and CAP_NET_ADMIN\n",
                as->name, step, g_strerror(err));
        return false;
    }
    bool stuck = getuid() == as->uid && geteuid() == as->uid && getgid() == as->gid &&
                 getegid() == as->gid && setuid(0) != 0 && seteuid(0) != 0;
    if (!stuck) {
        fprintf(stderr, "enrollmon: error: switching to user '%s' did not stick (root could be had "
                        "back): not capturing as root\n",
                as->name);
        return false;
    }
    return true;
}

typedef struct live_ctx {
    outputs_t *out;
    event_sink_t *eve;
} live_ctx_t;

static void on_reopen(void *ctx)
{
    live_ctx_t *lc = ctx;
    GError *error = NULL;
    if (lc->eve && !eve_sink_reopen(lc->eve, &error)) {
        fail_line(error->message);
        g_error_free(error);
    }
}

static void on_tick(void *ctx)
{
    live_ctx_t *lc = ctx;
    report_output_ok(lc->out);
}

static int analyse_live(const options_t *opt, const monitor_config_t *config, const tls_keys_t *keys,
                        const trust_store_t *trust)
{
    /* Until the loop handles it, a SIGHUP (a reload while starting) must
     * not end the run. */
    signal(SIGHUP, SIG_IGN);
    run_as_t as;
    if (!resolve_user(opt, &as))
        return EXIT_NOTHING_DONE;
    int status = EXIT_NOTHING_DONE;
    char *message = NULL;
    live_t *live = NULL;
    workers_t *w = NULL;
    outputs_t out;
    memset(&out, 0, sizeof(out));
    if (opt->filter && !live_check_filter(opt->filter, opt->snaplen, &message)) {
        fail_line(message);
        goto done;
    }
    /* Line by line even into a pipe or the journal: each line as it is given. */
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (!outputs_open(&out, opt, true))
        goto done;
    uint16_t capf_port = opt->capf_port ? (uint16_t)opt->capf_port : config->capf_port;
    live_options_t lopt = { opt->interfaces, opt->filter, opt->snaplen, opt->buffer_mb, !opt->no_promisc,
                            capf_port };
    live = live_open(&lopt, &message);
    if (!live) {
        fail_line(message);
        outputs_destroy(&out);
        goto done;
    }
    /* Everything that needs privileges is open: continue without them. */
    if (!drop_privileges(&as)) {
        outputs_destroy(&out);
        goto done;
    }
    unsigned count = opt->workers == UNSET ? g_get_num_processors() : (unsigned)opt->workers;
    w = start_workers(opt, config, keys, trust, count);
    if (!w) {
        outputs_destroy(&out);
        goto done;
    }
    event_sink_t *eve = out.eve;
    outputs_hand_over(&out, w);
    char *names = g_strjoinv(", ", opt->interfaces);
    fprintf(stderr, "enrollmon: capturing on %s (%s filter), %u worker%s%s%s; SIGINT or SIGTERM stops, "
                    "SIGHUP reopens the outputs\n",
            names, opt->filter ? "the -f" : "the default", count, count == 1 ? "" : "s",
            as.drop ? ", as user " : "", as.drop ? as.name : "");
    g_free(names);
    live_ctx_t lc = { &out, eve };
    live_callbacks_t cb = { &lc, on_reopen, on_tick };
    unsigned interval = opt->stats_interval == UNSET ? DEFAULT_STATS_INTERVAL_S : (unsigned)opt->stats_interval;
    bool capture_ok = live_run(live, w, interval, &cb);
    /* Capturing stops; what is open is concluded, the summary printed. */
    capture_counters_t final_counters;
    live_conclude(live, &final_counters);
    workers_set_capture(w, &final_counters);
    live_free(live);
    live = NULL;
    workers_finish(w);
    bool output_failed = eve && eve_sink_failed(eve);
    output_failed = !report_output_ok(&out) || output_failed;
    status = capture_ok && !output_failed ? EXIT_ALL_DONE : EXIT_SOMETHING_LOST;
done:
    workers_free(w);
    live_free(live);
    g_free(message);
    g_free(as.name);
    return status;
}

/* ---- the command line ---- */

/* Options that only make sense live, given with -r. */
static const char *live_only_option(const options_t *opt)
{
    if (opt->filter)
        return "-f";
    if (opt->snaplen != UNSET)
        return "--snaplen";
    if (opt->buffer_mb != UNSET)
        return "--buffer-mb";
    if (opt->no_promisc)
        return "--no-promisc";
    if (opt->stats_interval != UNSET)
        return "--stats-interval";
    if (opt->user)
        return "--user";
    return NULL;
}

static bool check_numbers(options_t *opt)
{
    if (opt->capf_port < 0 || opt->capf_port > 65535) {
        fail_line("--capf-port must be a TCP port (1 to 65535)");
        return false;
    }
    if (opt->workers != UNSET && (opt->workers < 1 || opt->workers > MAX_WORKERS)) {
        fprintf(stderr, "enrollmon: error: --workers must be 1 to %d\n", MAX_WORKERS);
        return false;
    }
    if (opt->snaplen == UNSET)
        opt->snaplen = LIVE_DEFAULT_SNAPLEN;
    else if (opt->snaplen < 64 || opt->snaplen > LIVE_DEFAULT_SNAPLEN) {
        fprintf(stderr, "enrollmon: error: --snaplen must be 64 to %d bytes\n", LIVE_DEFAULT_SNAPLEN);
        return false;
    }
    if (opt->buffer_mb == UNSET)
        opt->buffer_mb = LIVE_DEFAULT_BUFFER_MB;
    else if (opt->buffer_mb < 1 || opt->buffer_mb > 2047) {
        fail_line("--buffer-mb must be 1 to 2047 (MiB)");
        return false;
    }
    if (opt->stats_interval != UNSET && (opt->stats_interval < 0 || opt->stats_interval > MAX_STATS_INTERVAL_S)) {
        fprintf(stderr, "enrollmon: error: --stats-interval must be 0 (only at exit) to %d seconds\n",
                MAX_STATS_INTERVAL_S);
        return false;
    }
    return true;
}

int main(int argc, char **argv)
{
    setlocale(LC_ALL, "");
    /* A closed pipe is an output error to report, not a silent death. */
    signal(SIGPIPE, SIG_IGN);
    options_t opt = { 0 };
    opt.snaplen = opt.buffer_mb = opt.workers = opt.stats_interval = UNSET;
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
    /* Needs no capture: the plugin is written and that is all. */
    if (opt.wireshark_plugin_dir) {
        GError *plugin_error = NULL;
        if (wireshark_plugin_export(opt.wireshark_plugin_dir, NULL, &plugin_error)) {
            status = EXIT_ALL_DONE;
        } else {
            fail_line(plugin_error->message);
            g_error_free(plugin_error);
        }
        goto out;
    }
    /* -f '' is the default filter (a service's empty ENROLLMON_FILTER). */
    if (opt.filter && !opt.filter[0])
        g_clear_pointer(&opt.filter, g_free);
    bool offline = opt.read_files && opt.read_files[0];
    bool live = opt.interfaces && opt.interfaces[0];
    if (offline && live) {
        fail_line("-r and -i cannot be used together: read captures (-r FILE) or capture live (-i IFACE)");
        goto out;
    }
    if (!offline && !live) {
        fail_line("nothing to read: give one or more captures with -r FILE, or interfaces to capture on "
                  "with -i IFACE");
        goto out;
    }
    if (opt.write_pcapng_path && live) {
        fail_line("--write-pcapng annotates captures read with -r; live, capture with tcpdump and "
                  "annotate that file afterwards");
        goto out;
    }
    if (opt.write_pcapng_path) {
        /* Found out now, not after a long run. */
        FILE *probe = fopen(opt.write_pcapng_path, "wb");
        if (!probe) {
            char *line = g_strdup_printf("cannot write '%s': %s", opt.write_pcapng_path, g_strerror(errno));
            fail_line(line);
            g_free(line);
            goto out;
        }
        fclose(probe);
    }
    const char *live_only = offline ? live_only_option(&opt) : NULL;
    if (live_only) {
        fprintf(stderr, "enrollmon: error: %s is for live capture (-i IFACE), not for reading captures\n",
                live_only);
        goto out;
    }
    if (!check_numbers(&opt))
        goto out;
    report_color_t color_choice;
    if (!report_color_parse(opt.color, &color_choice)) {
        fail_line("--color must be auto, always or never");
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
        status = live ? analyse_live(&opt, &config, &keys, trust) : analyse_files(&opt, &config, &keys, trust);
    keys_clear(&keys);
    trust_store_free(trust);
out:
    config_clear(&config);
    options_clear(&opt);
    return status;
}
