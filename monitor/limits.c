#include "limits.h"

void monitor_limits_default(monitor_limits_t *limits)
{
    limits->global_memory = LIMITS_DEFAULT_GLOBAL_MEMORY;
    limits->flow_memory = LIMITS_DEFAULT_FLOW_MEMORY;
    limits->max_queued_segments = LIMITS_DEFAULT_MAX_QUEUED_SEGMENTS;
    limits->max_handshake_message = LIMITS_DEFAULT_MAX_HANDSHAKE_MESSAGE;
    limits->max_flows = LIMITS_DEFAULT_MAX_FLOWS;
    limits->max_fragment_datagrams = LIMITS_DEFAULT_MAX_FRAGMENT_DATAGRAMS;
    limits->fragment_memory = LIMITS_DEFAULT_FRAGMENT_MEMORY;
    limits->tcp_idle_timeout = LIMITS_DEFAULT_TCP_IDLE_TIMEOUT;
    limits->tcp_closed_linger = LIMITS_DEFAULT_TCP_CLOSED_LINGER;
    limits->tcp_unanswered_syn_timeout = LIMITS_DEFAULT_TCP_UNANSWERED_SYN_TIMEOUT;
    limits->udp_idle_timeout = LIMITS_DEFAULT_UDP_IDLE_TIMEOUT;
    limits->fragment_timeout = LIMITS_DEFAULT_FRAGMENT_TIMEOUT;
    limits->classify_packet_budget = LIMITS_DEFAULT_CLASSIFY_PACKET_BUDGET;
    limits->starttls_probe_bytes = LIMITS_DEFAULT_STARTTLS_PROBE_BYTES;
    limits->http_body_cap = LIMITS_DEFAULT_HTTP_BODY_CAP;
}
