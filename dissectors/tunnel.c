/* Tunnel headers: VXLAN, VXLAN-GPE, Geneve, GRE and ERSPAN. */
#include "tunnel.h"

#include <string.h>

#define ETHERTYPE_TRANSPARENT_BRIDGING 0x6558 /* an Ethernet frame follows */
#define ETHERTYPE_ERSPAN_II 0x88be           /* also type I, told apart by GRE's S bit */
#define ETHERTYPE_ERSPAN_III 0x22eb

const char *tunnel_kind_name(tunnel_kind_t kind)
{
    switch (kind) {
    case TUNNEL_VXLAN: return "vxlan";
    case TUNNEL_VXLAN_GPE: return "vxlan-gpe";
    case TUNNEL_GENEVE: return "geneve";
    case TUNNEL_GRE: return "gre";
    case TUNNEL_ERSPAN: return "erspan";
    case TUNNEL_KIND_COUNT: break;
    }
    return "unknown";
}

static bool tunnel_udp_port(uint16_t port, tunnel_kind_t *kind)
{
    switch (port) {
    case UDP_PORT_VXLAN: *kind = TUNNEL_VXLAN; return true;
    case UDP_PORT_VXLAN_GPE: *kind = TUNNEL_VXLAN_GPE; return true;
    case UDP_PORT_GENEVE: *kind = TUNNEL_GENEVE; return true;
    default: return false;
    }
}

bool tunnel_udp_ports(uint16_t src_port, uint16_t dst_port, tunnel_kind_t *kind)
{
    return tunnel_udp_port(dst_port, kind) || tunnel_udp_port(src_port, kind);
}

static decode_status_t inner_ethernet(cursor_t *c, link_result_t *inner)
{
    return decode_link(DECODE_LINKTYPE_ETHERNET, cur_rest(c), inner);
}

static decode_status_t inner_ip(cursor_t *c, uint16_t ethertype, link_result_t *inner)
{
    memset(inner, 0, sizeof(*inner));
    inner->ethertype = ethertype;
    inner->network = cur_rest(c);
    return DECODE_OK;
}

/* What follows a header that names its payload by ethertype. */
static decode_status_t inner_by_ethertype(cursor_t *c, uint16_t type, link_result_t *inner)
{
    if (type == ETHERTYPE_TRANSPARENT_BRIDGING)
        return inner_ethernet(c, inner);
    if (type == ETHERTYPE_IPV4 || type == ETHERTYPE_IPV6)
        return inner_ip(c, type, inner);
    return DECODE_UNSUPPORTED;
}

/* RFC 7348 §5: flags (I must be set), 24 reserved bits, VNI, 8 reserved bits. */
static decode_status_t vxlan(cursor_t *c, link_result_t *inner)
{
    uint8_t flags = cur_u8(c);
    cur_skip(c, 7);
    if (!cur_ok(c))
        return DECODE_TRUNCATED;
    if (!(flags & 0x08))
        return DECODE_MALFORMED;
    return inner_ethernet(c, inner);
}

/* VXLAN-GPE: flags with the version in bits 4-5, 16 reserved bits, next
 * protocol (1 IPv4, 2 IPv6, 3 Ethernet), VNI, 8 reserved bits. */
static decode_status_t vxlan_gpe(cursor_t *c, link_result_t *inner)
{
    uint8_t flags = cur_u8(c);
    cur_skip(c, 2);
    uint8_t next = cur_u8(c);
    cur_skip(c, 4);
    if (!cur_ok(c))
        return DECODE_TRUNCATED;
    if ((flags & 0x30) != 0)
        return DECODE_UNSUPPORTED; /* a version this code does not know */
    switch (next) {
    case 1: return inner_ip(c, ETHERTYPE_IPV4, inner);
    case 2: return inner_ip(c, ETHERTYPE_IPV6, inner);
    case 3: return inner_ethernet(c, inner);
    default: return DECODE_UNSUPPORTED; /* NSH, MPLS, ... */
    }
}

/* RFC 8926 §3.4: version and option length (in 4-byte words), flags,
 * protocol type, VNI, reserved, then the options. */
static decode_status_t geneve(cursor_t *c, link_result_t *inner)
{
    uint8_t ver_optlen = cur_u8(c);
    cur_skip(c, 1);
    uint16_t protocol = cur_be16(c);
    cur_skip(c, 4);
    if (!cur_ok(c))
        return DECODE_TRUNCATED;
    if ((ver_optlen >> 6) != 0)
        return DECODE_UNSUPPORTED;
    if (!cur_skip(c, (size_t)(ver_optlen & 0x3f) * 4))
        return DECODE_TRUNCATED;
    return inner_by_ethertype(c, protocol, inner);
}

decode_status_t tunnel_decode_udp(tunnel_kind_t kind, byte_span_t payload, link_result_t *inner)
{
    cursor_t c = cur_from_span(payload);
    switch (kind) {
    case TUNNEL_VXLAN: return vxlan(&c, inner);
    case TUNNEL_VXLAN_GPE: return vxlan_gpe(&c, inner);
    case TUNNEL_GENEVE: return geneve(&c, inner);
    default: return DECODE_UNSUPPORTED;
    }
}

#define GRE_CHECKSUM 0x8000
#define GRE_ROUTING 0x4000
#define GRE_KEY 0x2000
#define GRE_SEQUENCE 0x1000

/* ERSPAN type II: version and VLAN, COS/encapsulation/truncated/session,
 * reserved and index: 8 bytes, then the mirrored Ethernet frame. */
static decode_status_t erspan_ii(cursor_t *c, link_result_t *inner)
{
    if (!cur_skip(c, 8))
        return DECODE_TRUNCATED;
    return inner_ethernet(c, inner);
}

/* ERSPAN type III: 12 bytes whose last bits hold the frame type (0 is
 * Ethernet) and O, which adds an 8-byte platform-specific subheader. */
static decode_status_t erspan_iii(cursor_t *c, link_result_t *inner)
{
    cur_skip(c, 10);
    uint16_t last = cur_be16(c);
    if (!cur_ok(c))
        return DECODE_TRUNCATED;
    unsigned frame_type = (last >> 10) & 0x1f;
    if ((last & 0x0001) && !cur_skip(c, 8))
        return DECODE_TRUNCATED;
    if (frame_type != 0)
        return DECODE_UNSUPPORTED;
    return inner_ethernet(c, inner);
}

decode_status_t tunnel_decode_gre(byte_span_t payload, link_result_t *inner, tunnel_kind_t *kind)
{
    cursor_t c = cur_from_span(payload);
    uint16_t flags = cur_be16(&c);
    uint16_t protocol = cur_be16(&c);
    if (!cur_ok(&c))
        return DECODE_TRUNCATED;
    *kind = TUNNEL_GRE;
    if ((flags & 0x0007) != 0)
        return DECODE_UNSUPPORTED; /* version 1 is PPTP's, which carries PPP */
    if (flags & GRE_ROUTING)
        return DECODE_UNSUPPORTED; /* RFC 1701 source routing, deprecated */
    size_t optional = ((flags & GRE_CHECKSUM) ? 4 : 0) + ((flags & GRE_KEY) ? 4 : 0) +
                      ((flags & GRE_SEQUENCE) ? 4 : 0);
    if (!cur_skip(&c, optional))
        return DECODE_TRUNCATED;
    if (protocol == ETHERTYPE_ERSPAN_II) {
        *kind = TUNNEL_ERSPAN;
        /* Type I has no ERSPAN header and no GRE sequence number. */
        return (flags & GRE_SEQUENCE) ? erspan_ii(&c, inner) : inner_ethernet(&c, inner);
    }
    if (protocol == ETHERTYPE_ERSPAN_III) {
        *kind = TUNNEL_ERSPAN;
        return erspan_iii(&c, inner);
    }
    return inner_by_ethertype(&c, protocol, inner);
}
