/* Encapsulations a SPAN or cloud mirror wraps around the traffic we want:
 * VXLAN (RFC 7348), VXLAN-GPE (draft-ietf-nvo3-vxlan-gpe), Geneve
 * (RFC 8926), and GRE (RFC 2784/2890) including ERSPAN types I, II and III,
 * which remote SPAN sessions use to ship mirrored frames.
 *
 * Each function reads the tunnel header and, when it recognises it, says
 * where the inner packet's network layer starts, exactly as decode_link()
 * does for a captured frame.
 */
#ifndef ENROLLMON_TUNNEL_H
#define ENROLLMON_TUNNEL_H

#include "decode.h"

#define UDP_PORT_VXLAN 4789
#define UDP_PORT_VXLAN_GPE 4790
#define UDP_PORT_GENEVE 6081
#define IPPROTO_NUM_GRE 47

/* How deep tunnels may nest before a packet is dropped as malformed:
 * real deployments nest two at most; a crafted packet could nest until
 * the frame runs out. */
#define TUNNEL_MAX_DEPTH 4

typedef enum tunnel_kind {
    TUNNEL_VXLAN,
    TUNNEL_VXLAN_GPE,
    TUNNEL_GENEVE,
    TUNNEL_GRE,
    TUNNEL_ERSPAN,
    TUNNEL_KIND_COUNT,
} tunnel_kind_t;

const char *tunnel_kind_name(tunnel_kind_t kind);

/* Whether a datagram between these ports is one of the tunnels we follow.
 * The destination port decides first; the source port counts too, because
 * some endpoints answer from the well-known port to an ephemeral one. */
bool tunnel_udp_ports(uint16_t src_port, uint16_t dst_port, tunnel_kind_t *kind);

/* The UDP payload of a datagram to one of the tunnel ports. */
decode_status_t tunnel_decode_udp(tunnel_kind_t kind, byte_span_t payload, link_result_t *inner);

/* The payload of an IP packet with protocol 47; *kind says whether it was
 * plain GRE or ERSPAN. */
decode_status_t tunnel_decode_gre(byte_span_t payload, link_result_t *inner, tunnel_kind_t *kind);

#endif
