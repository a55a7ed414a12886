/* Every limit and timeout of the monitor, in one place.
 *
 * Each cap is counted when it is hit and the counts appear in the stats
 * event and the end-of-run summary (see memcap.h), so a run that lost data to
 * a limit says so.  The defaults can be changed in the configuration file
 * ([limits] group) or on the command line where an option exists.
 */
#ifndef ENROLLMON_LIMITS_H
#define ENROLLMON_LIMITS_H

#include <stddef.h>
#include <stdint.h>

typedef struct monitor_limits {
    /* Bytes buffered for reassembly (out-of-order TCP segments, partial TLS
     * records and handshake messages) across all flows. */
    size_t global_memory;
    /* The same, for one flow (both directions). */
    size_t flow_memory;
    /* Out-of-order segments queued per direction before the earliest hole
     * is declared a gap. */
    unsigned max_queued_segments;
    /* A single handshake message larger than this is skipped, not buffered
     * (a certificate chain is rarely above 64 KiB; RFC 8446 allows 16 MiB). */
    size_t max_handshake_message;
    /* Flows tracked at once; beyond it the least recently seen is retired. */
    unsigned max_flows;
    /* IPv4/IPv6 datagrams being reassembled at once, and bytes held for them. */
    unsigned max_fragment_datagrams;
    size_t fragment_memory;
    /* Idle timeouts, in seconds of packet time. */
    unsigned tcp_idle_timeout;
    unsigned tcp_closed_linger;   /* after FIN both ways or RST */
    unsigned tcp_unanswered_syn_timeout;
    unsigned udp_idle_timeout;
    unsigned fragment_timeout;
    /* Packets per flow given to nDPI before its verdict is taken as final. */
    unsigned classify_packet_budget;
    /* How far into a non-TLS stream to look for a STARTTLS switch. */
    size_t starttls_probe_bytes;
    /* HTTP bodies kept for the PKI dissectors (AD CS web enrollment, EST,
     * SCEP), per body; longer ones are cut (the exchange says so).  Other
     * bodies are skipped without being held. */
    size_t http_body_cap;
} monitor_limits_t;

#define LIMITS_DEFAULT_GLOBAL_MEMORY ((size_t)256 * 1024 * 1024)
#define LIMITS_DEFAULT_FLOW_MEMORY ((size_t)4 * 1024 * 1024)
#define LIMITS_DEFAULT_MAX_QUEUED_SEGMENTS 2048u
#define LIMITS_DEFAULT_MAX_HANDSHAKE_MESSAGE ((size_t)1024 * 1024)
#define LIMITS_DEFAULT_MAX_FLOWS 1000000u
#define LIMITS_DEFAULT_MAX_FRAGMENT_DATAGRAMS 8192u
#define LIMITS_DEFAULT_FRAGMENT_MEMORY ((size_t)32 * 1024 * 1024)
#define LIMITS_DEFAULT_TCP_IDLE_TIMEOUT 600u
#define LIMITS_DEFAULT_TCP_CLOSED_LINGER 10u
#define LIMITS_DEFAULT_TCP_UNANSWERED_SYN_TIMEOUT 60u
#define LIMITS_DEFAULT_UDP_IDLE_TIMEOUT 60u
#define LIMITS_DEFAULT_FRAGMENT_TIMEOUT 30u
#define LIMITS_DEFAULT_CLASSIFY_PACKET_BUDGET 24u
#define LIMITS_DEFAULT_STARTTLS_PROBE_BYTES ((size_t)16 * 1024)
#define LIMITS_DEFAULT_HTTP_BODY_CAP ((size_t)256 * 1024)

void monitor_limits_default(monitor_limits_t *limits);

#endif
