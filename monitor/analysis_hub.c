#include "analysis_hub.h"

#include "diagnosis.h"

analysis_t *analysis_hub_enter(analysis_hub_t *hub)
{
    g_rec_mutex_lock(&hub->lock);
    return &hub->shared;
}

void analysis_hub_leave(analysis_hub_t *hub)
{
    g_rec_mutex_unlock(&hub->lock);
}

void analysis_hub_progress(analysis_hub_t *hub, unsigned worker, int64_t ts_us)
{
    g_rec_mutex_lock(&hub->lock);
    if (worker < hub->workers && ts_us > hub->done_ts[worker]) {
        hub->done_ts[worker] = ts_us;
        int64_t slowest = hub->done_ts[0];
        for (unsigned i = 1; i < hub->workers; i++)
            if (hub->done_ts[i] < slowest)
                slowest = hub->done_ts[i];
        if (slowest > hub->diagnosis_ts) {
            hub->diagnosis_ts = slowest;
            if (hub->shared.diagnosis)
                diagnosis_tick(hub->shared.diagnosis, slowest, NULL);
        }
    }
    g_rec_mutex_unlock(&hub->lock);
}
