#include "memcap.h"

#include <string.h>

const char *cap_name(cap_id_t cap)
{
    switch (cap) {
    case CAP_GLOBAL_MEMORY: return "global_memory";
    case CAP_FLOW_MEMORY: return "flow_memory";
    case CAP_QUEUED_SEGMENTS: return "queued_segments";
    case CAP_HANDSHAKE_MESSAGE: return "handshake_message";
    case CAP_MAX_FLOWS: return "max_flows";
    case CAP_FRAGMENT_DATAGRAMS: return "fragment_datagrams";
    case CAP_FRAGMENT_MEMORY: return "fragment_memory";
    case CAP_HTTP_BODY: return "http_body";
    case CAP_HTTP_HEADER: return "http_header";
    case CAP_HTTP_PENDING: return "http_pending";
    case CAP_DNS_PENDING: return "dns_pending";
    case CAP_DNS_NAMES: return "dns_names";
    case CAP_CERTSRV_REQUESTS: return "certsrv_requests";
    case CAP_DIAGNOSIS_STATE: return "diagnosis_state";
    case CAP_COUNT: break;
    }
    return "unknown";
}

void memcap_init(memcap_t *mc, size_t global_limit, size_t flow_limit)
{
    memset(mc, 0, sizeof(*mc));
    mc->global_limit = global_limit;
    mc->flow_limit = flow_limit;
}

bool memcap_reserve(memcap_t *mc, memcap_account_t *account, size_t n)
{
    if (n > mc->global_limit - mc->in_use || mc->in_use > mc->global_limit) {
        mc->hits[CAP_GLOBAL_MEMORY]++;
        return false;
    }
    if (account && (n > mc->flow_limit || account->in_use > mc->flow_limit - n)) {
        mc->hits[CAP_FLOW_MEMORY]++;
        return false;
    }
    mc->in_use += n;
    if (mc->in_use > mc->peak)
        mc->peak = mc->in_use;
    if (account) {
        account->in_use += n;
        mc->buffers_in_use += n;
        if (mc->buffers_in_use > mc->buffers_peak)
            mc->buffers_peak = mc->buffers_in_use;
    }
    return true;
}

void memcap_release(memcap_t *mc, memcap_account_t *account, size_t n)
{
    mc->in_use = n > mc->in_use ? 0 : mc->in_use - n;
    if (account) {
        account->in_use = n > account->in_use ? 0 : account->in_use - n;
        mc->buffers_in_use = n > mc->buffers_in_use ? 0 : mc->buffers_in_use - n;
    }
}

void memcap_count_hit(memcap_t *mc, cap_id_t cap)
{
    if (cap < CAP_COUNT)
        mc->hits[cap]++;
}
