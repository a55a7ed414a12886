/* What the analyses of several workers share (see analysis_hub_t in
 * analysis.h): the sinks, the diagnosis and the run-level tables, behind
 * one recursive lock.
 */
#ifndef ENROLLMON_ANALYSIS_HUB_H
#define ENROLLMON_ANALYSIS_HUB_H

#include "analysis.h"

#include <glib.h>

struct analysis_hub {
    GRecMutex lock;
    /* How far in time each worker has got.  The diagnosis runs on the
     * slowest one's time: a worker ahead must not make a deadline pass
     * while another still holds the packets that answer it. */
    unsigned workers;
    int64_t *done_ts;
    int64_t diagnosis_ts;
    /* The shared part: sinks, diagnosis (whose memory is charged to this
     * memcap), certsrv_requests, limits, patterns, capf_port, trust. */
    analysis_t shared;
};

/* Takes the lock; returns the shared analysis to hand records to. */
analysis_t *analysis_hub_enter(analysis_hub_t *hub);
void analysis_hub_leave(analysis_hub_t *hub);

/* Worker `worker` has handled everything up to packet time ts_us. */
void analysis_hub_progress(analysis_hub_t *hub, unsigned worker, int64_t ts_us);

#endif
