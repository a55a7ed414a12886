/* TCP_QUEUE_LIMIT (diag_queue.c): per server (address:port), connection
 * attempts over sliding windows in packet time, the share left without a
 * SYN-ACK, concurrent connections and silent periods.  diag_tcp.c feeds it
 * the TCP events after updating the attempt's diag_flow_tcp_t.
 *
 * An attempt is "unanswered" when no SYN-ACK came within
 * DIAG_QUEUE_ANSWER_S of its first SYN: the initial SYN retransmission
 * timeout is 1 s (RFC 6298), so by then the client has retransmitted twice
 * (1 s, 3 s); one lost SYN answered on its first retransmission still counts
 * as answered, a server that lets two SYNs in a row go by does not.
 */
#ifndef ENROLLMON_DIAG_QUEUE_H
#define ENROLLMON_DIAG_QUEUE_H

#include "diag_internal.h"

#define DIAG_QUEUE_ANSWER_S 3
/* Servers followed at once; beyond, the least recently active is dropped. */
#define DIAG_QUEUE_SERVERS_MAX 512
/* Attempts of one server waiting for their judgement (about the last
 * DIAG_QUEUE_ANSWER_S seconds of attempts); beyond, an attempt is counted but
 * not judged. */
#define DIAG_QUEUE_PENDING_MAX 1024
/* Distinct client addresses with an unanswered attempt, per server. */
#define DIAG_QUEUE_CLIENTS_MAX 256
/* The per-second counts cover at most this many seconds (queue_window_s is
 * clamped to it). */
#define DIAG_QUEUE_WINDOW_MAX 3600

typedef struct diag_queue diag_queue_t;

typedef struct diag_queue_stats {
    uint64_t attempts;            /* first SYNs to followed servers */
    uint64_t answered;            /* judged: SYN-ACK within DIAG_QUEUE_ANSWER_S */
    uint64_t unanswered;          /* judged: none within it */
    uint64_t refused;             /* judged: the server's RST */
    uint64_t servers;             /* server entries made */
    uint64_t servers_dropped;     /* evicted to stay within DIAG_QUEUE_SERVERS_MAX */
    uint64_t servers_refused;     /* attempts to a new server the memory cap refused an entry */
    uint64_t attempts_not_judged; /* the pending ring was full, or no memory for it */
    unsigned servers_now;
} diag_queue_stats_t;

diag_queue_t *diag_queue_new(void);
void diag_queue_free(diagnosis_t *d, diag_queue_t *q);
/* After diag_tcp.c updated df->tcp for the event (df NULL: no state). */
void diag_queue_event(diagnosis_t *d, diag_queue_t *q, const flow_t *flow, diag_flow_t *df,
                      tcp_event_t event, const packet_info_t *at);
void diag_queue_flow_end(diagnosis_t *d, diag_queue_t *q, const flow_t *flow, diag_flow_t *df);
void diag_queue_timer(diagnosis_t *d, diag_queue_t *q, const diag_timer_t *t);
/* End of input: judge what waits, conclude the servers, update verdicts. */
void diag_queue_finish(diagnosis_t *d, diag_queue_t *q);
const diag_queue_stats_t *diag_queue_stats(const diag_queue_t *q);

/* diag_tcp.c: the queue state of the diagnosis (for tests). */
diag_queue_t *diag_tcp_queue(diagnosis_t *d);

#endif
