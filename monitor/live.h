/* Live capture (enrollmon -i IFACE ...): the interfaces opened with
 * libpcap, a BPF filter on each, and one loop that polls them all, hands
 * every frame to the workers, ticks them on wall-clock time when no packet
 * comes, emits the statistics every interval and reacts to signals.
 *
 * Every way an interface can fail to open is one line naming the fix.
 */
#ifndef ENROLLMON_LIVE_H
#define ENROLLMON_LIVE_H

#include "workers.h"

#include <stdbool.h>
#include <stdint.h>

#define LIVE_DEFAULT_SNAPLEN 262144
#define LIVE_DEFAULT_BUFFER_MB 64
/* Wall-clock time between ticks, when no packet brings time forward. */
#define LIVE_TICK_US 200000

typedef struct live_options {
    char **interfaces;          /* NULL-terminated names, at least one */
    const char *filter;         /* NULL: live_default_filter for each link type */
    int snaplen;                /* bytes kept of each frame */
    int buffer_mb;              /* the kernel's capture buffer, per interface */
    bool promisc;
    uint16_t capf_port;         /* for the default filter */
} live_options_t;

typedef struct live live_t;

/* The default filter: what enrollmon dissects (TLS and HTTP on the CAPF and
 * enrollment ports, DNS, IPv4 fragments, IPv6 with extension headers, the
 * tunnels), and the same inside one or two VLAN tags where the link type
 * has them (Ethernet).  Free with g_free. */
char *live_default_filter(uint16_t capf_port, int linktype);

/* Whether a filter expression compiles (before any interface is opened, so
 * a typo is told without privileges).  false with *message (g_free). */
bool live_check_filter(const char *expr, int snaplen, char **message);

/* Opens and activates every interface with its filter.  NULL with
 * *message: the one line to show (g_free).  Warnings (promiscuous mode
 * not supported ...) are printed on stderr and the capture goes on. */
live_t *live_open(const live_options_t *options, char **message);

/* Closes the interfaces (NULL is fine). */
void live_free(live_t *live);

/* The capture layer's counters, summed over the interfaces. */
void live_counters(live_t *live, capture_counters_t *out);

/* What the loop calls back (any may be NULL); ctx is theirs. */
typedef struct live_callbacks {
    void *ctx;
    /* SIGHUP: reopen the output files. */
    void (*reopen)(void *ctx);
    /* About every LIVE_TICK_US: check the outputs, say, for errors. */
    void (*tick)(void *ctx);
} live_callbacks_t;

/* Captures until SIGINT or SIGTERM (or until every interface failed):
 * every frame to workers_packet (pcap_file NULL, pcap_cnt counted over the
 * run), workers_tick every LIVE_TICK_US (with the wall-clock time when the
 * capture buffers were found empty, else with the latest packet time, so
 * that no deadline passes before a packet still waiting in a buffer), and with
 * stats_interval_s > 0 a stats event (workers_emit_stats, with the capture
 * counters) every so many seconds, and a warning line on stderr when the
 * drop counters grew since the last one.  Returns false when an interface
 * failed while capturing (told on stderr).  The workers are not finished. */
bool live_run(live_t *live, workers_t *workers, unsigned stats_interval_s,
              const live_callbacks_t *callbacks);

/* After live_run: the final counters, with the warning line when the drops
 * grew since the last stats event. */
void live_conclude(live_t *live, capture_counters_t *out);

#endif
