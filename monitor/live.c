#include "live.h"

#include "../dissectors/decode.h"

#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <pcap/pcap.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Frames taken from one interface before the others get their turn. */
#define LIVE_BATCH 1024

/* Ports enrollmon follows TLS or HTTP on besides the CAPF port: HTTPS and
 * EST (443, 8443, 9443), HTTP (80, 8080: SCEP and certsrv in the clear),
 * SIP over TLS (5061), SCCP over TLS (2443), CUCM's TFTP over HTTP and
 * HTTPS (6970, 6971, 6972), 8084 and 8444 (CES and CA management ports). */
static const unsigned enrollment_ports[] = { 3804, 443, 80, 8080, 8443, 9443, 5061, 2443,
                                             6970, 6971, 6972, 8084, 8444 };

typedef struct iface {
    char *name;
    pcap_t *pcap;
    int linktype;
    int fd;
    bool failed;                /* stopped while capturing */
    /* libpcap's counters are 32 bits and wrap (in hours, on a busy port):
     * the last values read, and the totals they add up to. */
    unsigned raw[3];
    uint64_t total[3];
} iface_t;

struct live {
    iface_t *ifaces;
    unsigned count;
    uint64_t pcap_cnt;          /* frames handed over in the run, all interfaces */
    int64_t last_ts_us;         /* the latest packet time handed over */
    workers_t *workers;         /* during live_run */
    capture_counters_t last;    /* as the last stats event gave them */
    int64_t last_at_us;         /* when (monotonic) */
};

static void warn_line(const char *fmt, ...) G_GNUC_PRINTF(1, 2);
static void warn_line(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *text = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    fprintf(stderr, "enrollmon: warning: %s\n", text);
    g_free(text);
}

/* ---- the filter ---- */

char *live_default_filter(uint16_t capf_port, int linktype)
{
    GString *f = g_string_new("(");
    bool capf_listed = false;
    for (size_t i = 0; i < G_N_ELEMENTS(enrollment_ports); i++) {
        g_string_append_printf(f, "%stcp port %u", i ? " or " : "", enrollment_ports[i]);
        capf_listed = capf_listed || enrollment_ports[i] == capf_port;
    }
    if (capf_port && !capf_listed)
        g_string_append_printf(f, " or tcp port %u", capf_port);
    g_string_append(f,
                    /* DNS over UDP and TCP */
                    " or port 53"
                    /* VXLAN, VXLAN-GPE, Geneve; GRE and ERSPAN */
                    " or udp port 4789 or udp port 4790 or udp port 6081"
                    " or ip proto 47 or ip6 proto 47"
                    /* IPv4 fragments: only the first has the ports */
                    " or (ip[6:2] & 0x3fff != 0)"
                    /* IPv6 whose next header is hop-by-hop, routing, fragment
                     * or destination options: ports are further in */
                    " or (ip6 and (ip6[6] == 0 or ip6[6] == 43 or ip6[6] == 44 or ip6[6] == 60))"
                    ")");
    if (linktype != DLT_EN10MB)
        return g_string_free(f, FALSE);
    /* The same inside one 802.1Q/802.1ad tag, and inside two (QinQ): each
     * "vlan" moves the offsets of what follows it by the tag. */
    char *core = g_string_free(f, FALSE);
    char *tagged = g_strdup_printf("%s or (vlan and (%s or (vlan and %s)))", core, core, core);
    g_free(core);
    return tagged;
}

bool live_check_filter(const char *expr, int snaplen, char **message)
{
    pcap_t *dead = pcap_open_dead(DLT_EN10MB, snaplen);
    if (!dead) {
        *message = g_strdup("cannot check the capture filter: libpcap has no memory");
        return false;
    }
    struct bpf_program prog;
    bool ok = pcap_compile(dead, &prog, expr, 1, PCAP_NETMASK_UNKNOWN) == 0;
    if (ok)
        pcap_freecode(&prog);
    else
        *message = g_strdup_printf("the capture filter -f '%s' does not compile: %s", expr,
                                   pcap_geterr(dead));
    pcap_close(dead);
    return ok;
}

/* ---- opening ---- */

/* "eth0, eth1, lo, any" for a line that names a missing interface. */
static char *interface_list(void)
{
    pcap_if_t *all = NULL;
    char errbuf[PCAP_ERRBUF_SIZE] = "";
    if (pcap_findalldevs(&all, errbuf) != 0)
        return g_strdup_printf("(cannot list them: %s)", errbuf);
    GString *s = g_string_new(NULL);
    /* Network interfaces only, not libpcap's other sources (nflog, dbus,
     * bluetooth, usbmon): on Linux, those in /sys/class/net, and "any". */
    bool sysfs = g_file_test("/sys/class/net", G_FILE_TEST_IS_DIR);
    for (pcap_if_t *d = all; d; d = d->next) {
        char *path = g_build_filename("/sys/class/net", d->name, NULL);
        bool network = !sysfs || strcmp(d->name, "any") == 0 || g_file_test(path, G_FILE_TEST_EXISTS);
        g_free(path);
        if (network)
            g_string_append_printf(s, "%s%s", s->len ? ", " : "", d->name);
    }
    pcap_freealldevs(all);
    if (!s->len)
        g_string_append(s, "none that this user may capture on");
    return g_string_free(s, FALSE);
}

/* The path of this binary, for the setcap advice. */
static char *self_path(void)
{
    char *exe = g_file_read_link("/proc/self/exe", NULL);
    return exe ? exe : g_strdup("enrollmon");
}

/* The line for a pcap_activate error, naming the fix. */
static char *activate_error(const char *name, int rc, pcap_t *p)
{
    const char *detail = pcap_geterr(p);
    char *exe = self_path();
    char *msg;
    switch (rc) {
    case PCAP_ERROR_NO_SUCH_DEVICE: {
        char *list = interface_list();
        msg = g_strdup_printf("no interface named '%s' to capture on (interfaces here: %s)", name, list);
        g_free(list);
        break;
    }
    case PCAP_ERROR_PERM_DENIED:
        msg = g_strdup_printf("not allowed to capture on '%s' (%s): run as root or give the binary "
                              "CAP_NET_RAW and CAP_NET_ADMIN: setcap cap_net_raw,cap_net_admin=eip %s",
                              name, detail, exe);
        break;
    case PCAP_ERROR_PROMISC_PERM_DENIED:
        msg = g_strdup_printf("not allowed to put '%s' in promiscuous mode (%s): give the binary "
                              "CAP_NET_ADMIN (setcap cap_net_raw,cap_net_admin=eip %s), or add "
                              "--no-promisc (then only this host's own traffic is seen, not a SPAN "
                              "port's)",
                              name, detail, exe);
        break;
    case PCAP_ERROR_IFACE_NOT_UP:
        msg = g_strdup_printf("interface '%s' is down: bring it up (ip link set %s up) and start again",
                              name, name);
        break;
    case PCAP_ERROR_RFMON_NOTSUP:
    case PCAP_ERROR_NOT_RFMON:
        msg = g_strdup_printf("cannot capture on '%s': %s (monitor mode is not needed: use a wired or "
                              "SPAN interface)",
                              name, detail);
        break;
#ifdef PCAP_ERROR_CAPTURE_NOTSUP
    case PCAP_ERROR_CAPTURE_NOTSUP:
        msg = g_strdup_printf("'%s' does not support packet capture (%s): choose another interface",
                              name, detail);
        break;
#endif
    default:
        if (strstr(detail, "ermission") || strstr(detail, "not permitted"))
            msg = g_strdup_printf("not allowed to capture on '%s' (%s): run as root or give the binary "
                                  "CAP_NET_RAW and CAP_NET_ADMIN: setcap cap_net_raw,cap_net_admin=eip %s",
                                  name, detail, exe);
        else if (strstr(detail, "buffer") || strstr(detail, "memory"))
            msg = g_strdup_printf("cannot capture on '%s': %s (try a smaller --buffer-mb)", name, detail);
        else
            msg = g_strdup_printf("cannot capture on '%s': %s", name, detail[0] ? detail : pcap_statustostr(rc));
        break;
    }
    g_free(exe);
    return msg;
}

/* A link type enrollmon decodes: the interface's own, or one it offers. */
static bool choose_linktype(iface_t *ifc, char **message)
{
    int lt = pcap_datalink(ifc->pcap);
    if (decode_linktype_supported(lt)) {
        ifc->linktype = lt;
        return true;
    }
    int *list = NULL;
    int n = pcap_list_datalinks(ifc->pcap, &list);
    for (int i = 0; i < n; i++)
        if (decode_linktype_supported(list[i]) && pcap_set_datalink(ifc->pcap, list[i]) == 0) {
            ifc->linktype = list[i];
            pcap_free_datalinks(list);
            return true;
        }
    if (n >= 0)
        pcap_free_datalinks(list);
    const char *lname = pcap_datalink_val_to_name(lt);
    *message = g_strdup_printf("'%s' has link type %s (%d), which enrollmon does not decode: capture on "
                               "an Ethernet interface (or 'any')",
                               ifc->name, lname ? lname : "unknown", lt);
    return false;
}

static bool set_filter(iface_t *ifc, const live_options_t *opt, char **message)
{
    char *expr = opt->filter ? g_strdup(opt->filter) : live_default_filter(opt->capf_port, ifc->linktype);
    struct bpf_program prog;
    bool ok = false;
    if (pcap_compile(ifc->pcap, &prog, expr, 1, PCAP_NETMASK_UNKNOWN) != 0) {
        const char *lname = pcap_datalink_val_to_name(ifc->linktype);
        if (opt->filter)
            *message = g_strdup_printf("the capture filter -f '%s' does not compile for '%s' (link type "
                                       "%s): %s",
                                       expr, ifc->name, lname ? lname : "?", pcap_geterr(ifc->pcap));
        else
            *message = g_strdup_printf("the default capture filter does not compile for '%s' (link type "
                                       "%s): %s (give one with -f EXPR)",
                                       ifc->name, lname ? lname : "?", pcap_geterr(ifc->pcap));
    } else {
        if (pcap_setfilter(ifc->pcap, &prog) != 0)
            *message = g_strdup_printf("cannot set the capture filter on '%s': %s", ifc->name,
                                       pcap_geterr(ifc->pcap));
        else
            ok = true;
        pcap_freecode(&prog);
    }
    g_free(expr);
    return ok;
}

/* Whether libpcap knows a source of that name (false also when it cannot
 * tell): without privileges, opening a missing interface fails for want of
 * them, which would hide the real problem. */
static bool interface_missing(const char *name)
{
    pcap_if_t *all = NULL;
    char errbuf[PCAP_ERRBUF_SIZE] = "";
    if (pcap_findalldevs(&all, errbuf) != 0)
        return false;
    bool found = false;
    for (pcap_if_t *d = all; d && !found; d = d->next)
        found = strcmp(d->name, name) == 0;
    pcap_freealldevs(all);
    return !found;
}

static bool open_one(iface_t *ifc, const live_options_t *opt, char **message)
{
    char errbuf[PCAP_ERRBUF_SIZE] = "";
    ifc->fd = -1;
    ifc->pcap = pcap_create(ifc->name, errbuf);
    if (!ifc->pcap) {
        *message = g_strdup_printf("cannot capture on '%s': %s", ifc->name, errbuf);
        return false;
    }
    /* Setting options before activation fails only for a handle already active. */
    pcap_set_snaplen(ifc->pcap, opt->snaplen);
    pcap_set_promisc(ifc->pcap, opt->promisc ? 1 : 0);
    pcap_set_immediate_mode(ifc->pcap, 1);
    pcap_set_buffer_size(ifc->pcap, opt->buffer_mb * 1024 * 1024);
    pcap_set_tstamp_precision(ifc->pcap, PCAP_TSTAMP_PRECISION_MICRO);
    int rc = pcap_activate(ifc->pcap);
    if (rc < 0) {
        *message = activate_error(ifc->name, rc, ifc->pcap);
        return false;
    }
    if (rc == PCAP_WARNING_PROMISC_NOTSUP)
        warn_line("'%s' does not support promiscuous mode (%s): only traffic addressed to this host is "
                  "seen",
                  ifc->name, pcap_geterr(ifc->pcap));
    else if (rc == PCAP_WARNING)
        warn_line("'%s': %s", ifc->name, pcap_geterr(ifc->pcap));
    /* PCAP_WARNING_TSTAMP_TYPE_NOTSUP: no type was asked for */
    if (!choose_linktype(ifc, message) || !set_filter(ifc, opt, message))
        return false;
    if (pcap_setnonblock(ifc->pcap, 1, errbuf) != 0) {
        *message = g_strdup_printf("cannot capture on '%s': %s", ifc->name, errbuf);
        return false;
    }
    ifc->fd = pcap_get_selectable_fd(ifc->pcap);
    if (ifc->fd < 0) {
        *message = g_strdup_printf("cannot capture on '%s': it cannot be polled", ifc->name);
        return false;
    }
    return true;
}

live_t *live_open(const live_options_t *opt, char **message)
{
    *message = NULL;
    live_t *live = g_new0(live_t, 1);
    live->count = opt->interfaces ? g_strv_length(opt->interfaces) : 0;
    live->ifaces = g_new0(iface_t, live->count);
    for (unsigned i = 0; i < live->count; i++) {
        live->ifaces[i].name = g_strdup(opt->interfaces[i]);
        for (unsigned k = 0; k < i; k++)
            if (strcmp(live->ifaces[k].name, live->ifaces[i].name) == 0) {
                *message = g_strdup_printf("interface '%s' is given twice with -i", live->ifaces[i].name);
                live_free(live);
                return NULL;
            }
    }
    /* Every name first: a typo is told before a missing privilege. */
    for (unsigned i = 0; i < live->count; i++)
        if (interface_missing(live->ifaces[i].name)) {
            char *list = interface_list();
            *message = g_strdup_printf("no interface named '%s' to capture on (interfaces here: %s)",
                                       live->ifaces[i].name, list);
            g_free(list);
            live_free(live);
            return NULL;
        }
    for (unsigned i = 0; i < live->count; i++)
        if (!open_one(&live->ifaces[i], opt, message)) {
            live_free(live);
            return NULL;
        }
    return live;
}

void live_free(live_t *live)
{
    if (!live)
        return;
    for (unsigned i = 0; i < live->count; i++) {
        if (live->ifaces[i].pcap)
            pcap_close(live->ifaces[i].pcap);
        g_free(live->ifaces[i].name);
    }
    g_free(live->ifaces);
    g_free(live);
}

void live_counters(live_t *live, capture_counters_t *out)
{
    memset(out, 0, sizeof(*out));
    out->interfaces = live->count;
    for (unsigned i = 0; i < live->count; i++) {
        iface_t *ifc = &live->ifaces[i];
        struct pcap_stat ps;
        if (ifc->pcap && pcap_stats(ifc->pcap, &ps) == 0) {
            const unsigned now[3] = { ps.ps_recv, ps.ps_drop, ps.ps_ifdrop };
            for (int k = 0; k < 3; k++) {
                ifc->total[k] += (unsigned)(now[k] - ifc->raw[k]); /* modulo 2^32 */
                ifc->raw[k] = now[k];
            }
        }
        out->received += ifc->total[0];
        out->dropped += ifc->total[1];
        out->if_dropped += ifc->total[2];
    }
}

/* ---- signals ---- */

static volatile sig_atomic_t stop_requested;
static volatile sig_atomic_t reopen_requested;
static int wake_fd = -1; /* the write end of the loop's self-pipe */

static void on_signal(int sig)
{
    int saved = errno;
    if (sig == SIGHUP)
        reopen_requested = 1;
    else
        stop_requested = 1;
    if (wake_fd >= 0) {
        char c = 0;
        ssize_t n = write(wake_fd, &c, 1); /* full pipe: the loop is awake anyway */
        (void)n;
    }
    errno = saved;
}

static void set_handler(int sig, void (*handler)(int))
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = handler;
    sigemptyset(&sa.sa_mask);
    sigaction(sig, &sa, NULL); /* no SA_RESTART: poll returns at once */
}

/* ---- the loop ---- */

typedef struct frame_ctx {
    live_t *live;
    iface_t *ifc;
} frame_ctx_t;

static void hand_over(u_char *user, const struct pcap_pkthdr *hdr, const u_char *bytes)
{
    frame_ctx_t *fc = (frame_ctx_t *)user;
    int64_t ts_us = packet_time_us((int64_t)hdr->ts.tv_sec, (int64_t)hdr->ts.tv_usec);
    if (ts_us > fc->live->last_ts_us)
        fc->live->last_ts_us = ts_us;
    workers_packet(fc->live->workers, fc->ifc->linktype, ts_us, bytes, hdr->caplen, hdr->len, NULL,
                   ++fc->live->pcap_cnt);
}

static void warn_drops(const capture_counters_t *now, const capture_counters_t *before,
                       int64_t interval_us)
{
    uint64_t kernel = now->dropped > before->dropped ? now->dropped - before->dropped : 0;
    uint64_t iface = now->if_dropped > before->if_dropped ? now->if_dropped - before->if_dropped : 0;
    if (!kernel && !iface)
        return;
    GString *s = g_string_new(NULL);
    g_string_append_printf(s, "packets were lost in the last %.0f s:", (double)interval_us / 1e6);
    if (kernel)
        g_string_append_printf(s, " %" G_GUINT64_FORMAT " dropped by the kernel (its buffer was full: "
                                  "raise --buffer-mb, add --workers, or narrow the filter)",
                               kernel);
    if (iface)
        g_string_append_printf(s, "%s %" G_GUINT64_FORMAT " dropped by the interface or its driver "
                                  "(the link or the host cannot keep up with the SPAN traffic)",
                               kernel ? ";" : "", iface);
    warn_line("%s", s->str);
    g_string_free(s, TRUE);
}

bool live_run(live_t *live, workers_t *workers, unsigned stats_interval_s,
              const live_callbacks_t *cb)
{
    live->workers = workers;
    int pipe_fds[2];
    if (pipe(pipe_fds) != 0) {
        fprintf(stderr, "enrollmon: error: cannot make the signal pipe: %s\n", g_strerror(errno));
        return false;
    }
    for (int i = 0; i < 2; i++) {
        fcntl(pipe_fds[i], F_SETFL, fcntl(pipe_fds[i], F_GETFL) | O_NONBLOCK);
        fcntl(pipe_fds[i], F_SETFD, FD_CLOEXEC);
    }
    stop_requested = 0;
    reopen_requested = 0;
    wake_fd = pipe_fds[1];
    set_handler(SIGINT, on_signal);
    set_handler(SIGTERM, on_signal);
    set_handler(SIGHUP, on_signal);

    struct pollfd *fds = g_new0(struct pollfd, live->count + 1);
    frame_ctx_t *ctx = g_new0(frame_ctx_t, live->count);
    for (unsigned i = 0; i < live->count; i++) {
        fds[i].fd = live->ifaces[i].fd;
        fds[i].events = POLLIN;
        ctx[i].live = live;
        ctx[i].ifc = &live->ifaces[i];
    }
    fds[live->count].fd = pipe_fds[0];
    fds[live->count].events = POLLIN;

    bool ok = true;
    unsigned alive = live->count;
    int64_t now = g_get_monotonic_time();
    int64_t next_tick = now + LIVE_TICK_US;
    int64_t next_stats = stats_interval_s ? now + (int64_t)stats_interval_s * G_USEC_PER_SEC : INT64_MAX;
    live->last_at_us = now;
    while (!stop_requested && alive) {
        int64_t wait_us = next_tick - now;
        int timeout_ms = wait_us > 0 ? (int)((wait_us + 999) / 1000) : 0;
        int n = poll(fds, live->count + 1, timeout_ms);
        if (n < 0 && errno != EINTR) {
            fprintf(stderr, "enrollmon: error: waiting for packets failed: %s\n", g_strerror(errno));
            ok = false;
            break;
        }
        if (n > 0 && fds[live->count].revents) {
            char buf[64];
            while (read(pipe_fds[0], buf, sizeof(buf)) > 0)
                ;
        }
        bool idle = true; /* nothing was waiting in any capture buffer */
        for (unsigned i = 0; n > 0 && i < live->count && !stop_requested; i++) {
            if (!fds[i].revents)
                continue;
            iface_t *ifc = &live->ifaces[i];
            int got = pcap_dispatch(ifc->pcap, LIVE_BATCH, hand_over, (u_char *)&ctx[i]);
            if (got > 0)
                idle = false;
            bool broken = got == PCAP_ERROR ||
                          (got == 0 && (fds[i].revents & (POLLERR | POLLHUP | POLLNVAL)));
            if (broken) {
                fprintf(stderr, "enrollmon: error: capture on '%s' stopped: %s\n", ifc->name,
                        got == PCAP_ERROR ? pcap_geterr(ifc->pcap) : "the interface went away");
                ifc->failed = true;
                fds[i].fd = -1; /* poll skips it from now on */
                alive--;
                ok = false;
            }
        }
        now = g_get_monotonic_time();
        if (reopen_requested) {
            reopen_requested = 0;
            if (cb && cb->reopen)
                cb->reopen(cb->ctx);
        }
        if (now >= next_tick) {
            /* Wall-clock time moves deadlines only once every packet that
             * came before it has been handed over: a response still in the
             * kernel's buffer must not be late.  While packets flow, the
             * latest packet time moves every worker's clock (a worker whose
             * own flows are quiet included). */
            int64_t clock_us = idle ? g_get_real_time() : live->last_ts_us;
            if (clock_us > 0)
                workers_tick(workers, clock_us);
            if (cb && cb->tick)
                cb->tick(cb->ctx);
            next_tick = now + LIVE_TICK_US;
        }
        if (now >= next_stats) {
            capture_counters_t c;
            live_counters(live, &c);
            workers_emit_stats(workers, &c);
            warn_drops(&c, &live->last, now - live->last_at_us);
            live->last = c;
            live->last_at_us = now;
            next_stats = now + (int64_t)stats_interval_s * G_USEC_PER_SEC;
        }
    }
    /* A second signal while the run is concluded ends the process at once;
     * a SIGHUP then is of no use. */
    set_handler(SIGINT, SIG_DFL);
    set_handler(SIGTERM, SIG_DFL);
    set_handler(SIGHUP, SIG_IGN);
    wake_fd = -1;
    close(pipe_fds[0]);
    close(pipe_fds[1]);
    g_free(fds);
    g_free(ctx);
    live->workers = NULL;
    return ok;
}

void live_conclude(live_t *live, capture_counters_t *out)
{
    live_counters(live, out);
    warn_drops(out, &live->last, g_get_monotonic_time() - live->last_at_us);
    live->last = *out;
}
