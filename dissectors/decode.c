/* Link layer, IPv4, IPv6, TCP and UDP header decoding.
 *
 * Link-type numbers are libpcap's DLT_ values (tcpdump.org/linktypes.html);
 * raw IP appears under several numbers depending on the platform that wrote
 * the capture, so all of them are accepted.
 */
#include "decode.h"

#include <stdio.h>

enum {
    LT_NULL = 0,          /* BSD loopback, host byte order family */
    LT_EN10MB = 1,        /* Ethernet */
    LT_RAW_LINUX = 12,    /* raw IP as DLT_RAW on most platforms */
    LT_RAW_BSD = 14,      /* raw IP as DLT_RAW on OpenBSD */
    LT_RAW = 101,         /* LINKTYPE_RAW when not mapped */
    LT_LOOP = 108,        /* OpenBSD loopback, network byte order family */
    LT_LINUX_SLL = 113,   /* Linux cooked capture v1 */
    LT_IPV4 = 228,
    LT_IPV6 = 229,
    LT_LINUX_SLL2 = 276,  /* Linux cooked capture v2 */
};

/* Address family values that BSD loopback headers carry for IPv6: they
 * differ between the systems that write such captures. */
static bool null_family_is_ipv6(uint32_t family)
{
    return family == 10 || family == 24 || family == 28 || family == 30;
}

const char *decode_status_name(decode_status_t status)
{
    switch (status) {
    case DECODE_OK: return "ok";
    case DECODE_TRUNCATED: return "truncated";
    case DECODE_MALFORMED: return "malformed";
    case DECODE_UNSUPPORTED: return "unsupported";
    }
    return "unknown";
}

bool decode_linktype_supported(int linktype)
{
    switch (linktype) {
    case LT_NULL: case LT_EN10MB: case LT_RAW_LINUX: case LT_RAW_BSD: case LT_RAW:
    case LT_LOOP: case LT_LINUX_SLL: case LT_IPV4: case LT_IPV6: case LT_LINUX_SLL2:
        return true;
    default:
        return false;
    }
}

static bool is_vlan_ethertype(uint16_t type)
{
    return type == 0x8100 || type == 0x88a8 || type == 0x9100 || type == 0x9200;
}

/* Follows 802.1Q / 802.1ad tags until a network-layer ethertype. */
static decode_status_t finish_ethertype(cursor_t *c, uint16_t type, link_result_t *out)
{
    while (is_vlan_ethertype(type)) {
        uint16_t tci = cur_be16(c);
        type = cur_be16(c);
        if (!cur_ok(c))
            return DECODE_TRUNCATED;
        if (out->vlan_count >= DECODE_MAX_VLAN_TAGS)
            return DECODE_MALFORMED;
        out->vlan[out->vlan_count++] = tci & 0x0fff;
    }
    if (type != ETHERTYPE_IPV4 && type != ETHERTYPE_IPV6)
        return DECODE_UNSUPPORTED;
    out->ethertype = type;
    out->network = cur_rest(c);
    return DECODE_OK;
}

static decode_status_t raw_ip(cursor_t *c, link_result_t *out)
{
    if (!cur_has(c, 1))
        return DECODE_TRUNCATED;
    uint8_t version = cur_peek_u8(c, 0) >> 4;
    if (version == 4)
        out->ethertype = ETHERTYPE_IPV4;
    else if (version == 6)
        out->ethertype = ETHERTYPE_IPV6;
    else
        return DECODE_UNSUPPORTED;
    out->network = cur_rest(c);
    return DECODE_OK;
}

decode_status_t decode_link(int linktype, byte_span_t frame, link_result_t *out)
{
    memset(out, 0, sizeof(*out));
    cursor_t c = cur_from_span(frame);
    switch (linktype) {
    case LT_EN10MB: {
        if (!cur_skip(&c, 12))
            return DECODE_TRUNCATED;
        uint16_t type = cur_be16(&c);
        if (!cur_ok(&c))
            return DECODE_TRUNCATED;
        if (type < 0x0600)
            return DECODE_UNSUPPORTED; /* 802.3 length field: LLC/SNAP, not IP */
        return finish_ethertype(&c, type, out);
    }
    case LT_LINUX_SLL: {
        /* packet type, ARPHRD type, address length, 8 address bytes, protocol */
        if (!cur_skip(&c, 14))
            return DECODE_TRUNCATED;
        uint16_t type = cur_be16(&c);
        if (!cur_ok(&c))
            return DECODE_TRUNCATED;
        return finish_ethertype(&c, type, out);
    }
    case LT_LINUX_SLL2: {
        /* protocol, reserved, interface index, ARPHRD, packet type, address length, 8 address bytes */
        uint16_t type = cur_be16(&c);
        if (!cur_skip(&c, 18))
            return DECODE_TRUNCATED;
        return finish_ethertype(&c, type, out);
    }
    case LT_NULL:
    case LT_LOOP: {
        uint32_t family = linktype == LT_LOOP ? cur_be32(&c) : cur_le32(&c);
        if (!cur_ok(&c))
            return DECODE_TRUNCATED;
        /* A capture written on a host of the other byte order: the family
         * then shows up in the high bytes. */
        if (family > 0xffff)
            family = ((family & 0xff) << 24) | ((family & 0xff00) << 8) | ((family >> 8) & 0xff00) |
                     (family >> 24);
        if (family == 2)
            out->ethertype = ETHERTYPE_IPV4;
        else if (null_family_is_ipv6(family))
            out->ethertype = ETHERTYPE_IPV6;
        else
            return DECODE_UNSUPPORTED;
        out->network = cur_rest(&c);
        return DECODE_OK;
    }
    case LT_RAW_LINUX:
    case LT_RAW_BSD:
    case LT_RAW:
        return raw_ip(&c, out);
    case LT_IPV4:
    case LT_IPV6:
        return raw_ip(&c, out);
    default:
        return DECODE_UNSUPPORTED;
    }
}

/* RFC 791 */
static decode_status_t decode_ipv4(cursor_t *c, ip_result_t *out)
{
    cursor_t hdr = *c;
    uint8_t ver_ihl = cur_u8(&hdr);
    cur_skip(&hdr, 1); /* DSCP/ECN */
    uint16_t total_len = cur_be16(&hdr);
    uint16_t id = cur_be16(&hdr);
    uint16_t frag = cur_be16(&hdr);
    out->ttl = cur_u8(&hdr);
    out->protocol = cur_u8(&hdr);
    cur_skip(&hdr, 2); /* checksum: captures are often taken before offload fills it */
    out->src.family = 4;
    out->dst.family = 4;
    cur_copy(&hdr, out->src.bytes, 4);
    cur_copy(&hdr, out->dst.bytes, 4);
    if (!cur_ok(&hdr))
        return DECODE_TRUNCATED;
    if ((ver_ihl >> 4) != 4)
        return DECODE_MALFORMED;
    size_t header_len = (size_t)(ver_ihl & 0x0f) * 4;
    if (header_len < 20 || total_len < header_len)
        return DECODE_MALFORMED;
    size_t captured = cur_remaining(c);
    if (header_len > captured)
        return DECODE_TRUNCATED;
    /* Ethernet pads short frames: the IP length, not the frame, says where
     * the datagram ends.  A capture cut by the snap length keeps less. */
    size_t datagram_len = total_len;
    if (datagram_len > captured) {
        datagram_len = captured;
        out->payload_truncated = true;
    }
    cursor_t datagram = cur_sub(c, datagram_len);
    out->header_and_payload = cur_view(&datagram, datagram_len);
    datagram = cur_from_span(out->header_and_payload);
    cur_skip(&datagram, header_len);
    out->payload = cur_rest(&datagram);
    out->fragment_id = id;
    out->fragment_offset = (uint32_t)(frag & 0x1fff) * 8;
    out->more_fragments = (frag & 0x2000) != 0;
    out->is_fragment = out->more_fragments || out->fragment_offset != 0;
    return DECODE_OK;
}

/* RFC 8200: skips extension headers up to the upper-layer protocol,
 * noting a fragment header on the way. */
static decode_status_t decode_ipv6(cursor_t *c, ip_result_t *out)
{
    cursor_t hdr = *c;
    uint32_t first = cur_be32(&hdr);
    uint16_t payload_len = cur_be16(&hdr);
    uint8_t next = cur_u8(&hdr);
    out->ttl = cur_u8(&hdr);
    out->src.family = 6;
    out->dst.family = 6;
    cur_copy(&hdr, out->src.bytes, 16);
    cur_copy(&hdr, out->dst.bytes, 16);
    if (!cur_ok(&hdr))
        return DECODE_TRUNCATED;
    if ((first >> 28) != 6)
        return DECODE_MALFORMED;
    size_t captured = cur_remaining(c);
    size_t datagram_len = 40 + (size_t)payload_len;
    if (payload_len == 0)
        datagram_len = captured; /* jumbogram or zero length: take what is there */
    if (datagram_len > captured) {
        datagram_len = captured;
        out->payload_truncated = true;
    }
    cursor_t datagram = cur_sub(c, datagram_len);
    out->header_and_payload = cur_view(&datagram, datagram_len);
    datagram = cur_from_span(out->header_and_payload);
    cur_skip(&datagram, 40);

    for (unsigned guard = 0; guard < 16; guard++) {
        switch (next) {
        case 0:   /* hop-by-hop options */
        case 43:  /* routing */
        case 60:  /* destination options */
        case 135: /* mobility */
        case 139: /* HIP */
        case 140: /* shim6 */
        {
            uint8_t following = cur_u8(&datagram);
            uint8_t len_units = cur_u8(&datagram);
            cur_skip(&datagram, (size_t)len_units * 8 + 6);
            if (!cur_ok(&datagram))
                return DECODE_TRUNCATED;
            next = following;
            out->extension_headers++;
            break;
        }
        case 51: { /* authentication header: length in 4-byte units, minus 2 */
            uint8_t following = cur_u8(&datagram);
            uint8_t len_units = cur_u8(&datagram);
            cur_skip(&datagram, ((size_t)len_units + 2) * 4 - 2);
            if (!cur_ok(&datagram))
                return DECODE_TRUNCATED;
            next = following;
            out->extension_headers++;
            break;
        }
        case 44: { /* fragment */
            uint8_t following = cur_u8(&datagram);
            cur_skip(&datagram, 1);
            uint16_t offset_flags = cur_be16(&datagram);
            uint32_t id = cur_be32(&datagram);
            if (!cur_ok(&datagram))
                return DECODE_TRUNCATED;
            out->fragment_offset = (uint32_t)(offset_flags & 0xfff8);
            out->more_fragments = (offset_flags & 1) != 0;
            out->fragment_id = id;
            out->is_fragment = out->more_fragments || out->fragment_offset != 0;
            next = following;
            out->extension_headers++;
            if (out->is_fragment) {
                /* later headers belong to the reassembled datagram */
                out->protocol = next;
                out->payload = cur_rest(&datagram);
                return DECODE_OK;
            }
            break;
        }
        default:
            out->protocol = next;
            out->payload = cur_rest(&datagram);
            return DECODE_OK;
        }
    }
    return DECODE_MALFORMED; /* an extension header chain this long is not real traffic */
}

decode_status_t decode_ip(uint16_t ethertype, byte_span_t network, ip_result_t *out)
{
    memset(out, 0, sizeof(*out));
    cursor_t c = cur_from_span(network);
    if (ethertype == ETHERTYPE_IPV4)
        return decode_ipv4(&c, out);
    if (ethertype == ETHERTYPE_IPV6)
        return decode_ipv6(&c, out);
    return DECODE_UNSUPPORTED;
}

/* RFC 9293 section 3.1 */
decode_status_t decode_tcp(byte_span_t segment, tcp_result_t *out)
{
    memset(out, 0, sizeof(*out));
    cursor_t c = cur_from_span(segment);
    out->src_port = cur_be16(&c);
    out->dst_port = cur_be16(&c);
    out->seq = cur_be32(&c);
    out->ack = cur_be32(&c);
    uint8_t offset_byte = cur_u8(&c);
    out->flags = cur_u8(&c);
    out->window = cur_be16(&c);
    cur_skip(&c, 4); /* checksum, urgent pointer */
    if (!cur_ok(&c))
        return DECODE_TRUNCATED;
    size_t header_len = (size_t)(offset_byte >> 4) * 4;
    if (header_len < 20)
        return DECODE_MALFORMED;
    if (!cur_skip(&c, header_len - 20))
        return DECODE_TRUNCATED;
    out->payload = cur_rest(&c);
    return DECODE_OK;
}

/* RFC 768 */
decode_status_t decode_udp(byte_span_t datagram, udp_result_t *out)
{
    memset(out, 0, sizeof(*out));
    cursor_t c = cur_from_span(datagram);
    out->src_port = cur_be16(&c);
    out->dst_port = cur_be16(&c);
    uint16_t length = cur_be16(&c);
    cur_skip(&c, 2);
    if (!cur_ok(&c))
        return DECODE_TRUNCATED;
    if (length != 0 && length < 8)
        return DECODE_MALFORMED;
    size_t body = cur_remaining(&c);
    if (length >= 8 && (size_t)length - 8 < body)
        body = (size_t)length - 8; /* trailing padding */
    out->payload = cur_view(&c, body);
    return DECODE_OK;
}

void ip_addr_format(const ip_addr_t *addr, char *out, size_t out_len)
{
    if (out_len == 0)
        return;
    if (addr->family == 4) {
        /* by hand: this runs twice for every event written */
        char text[16];
        size_t n = 0;
        for (int i = 0; i < 4; i++) {
            unsigned v = addr->bytes[i];
            if (v >= 100)
                text[n++] = (char)('0' + v / 100);
            if (v >= 10)
                text[n++] = (char)('0' + v / 10 % 10);
            text[n++] = (char)('0' + v % 10);
            text[n++] = i < 3 ? '.' : '\0';
        }
        if (n > out_len)
            n = out_len;
        memcpy(out, text, n);
        out[n - 1] = '\0';
        return;
    }
    /* RFC 5952: lower case, longest run (>= 2) of zero groups becomes "::" */
    uint16_t groups[8];
    for (int i = 0; i < 8; i++)
        groups[i] = (uint16_t)((addr->bytes[2 * i] << 8) | addr->bytes[2 * i + 1]);
    int best_start = -1, best_len = 0;
    for (int i = 0; i < 8;) {
        if (groups[i] != 0) {
            i++;
            continue;
        }
        int j = i;
        while (j < 8 && groups[j] == 0)
            j++;
        if (j - i > best_len && j - i >= 2) {
            best_start = i;
            best_len = j - i;
        }
        i = j;
    }
    /* IPv4-mapped addresses keep their dotted tail, as inet_ntop writes them */
    bool mapped = best_start == 0 && best_len == 5 && groups[5] == 0xffff;
    size_t used = 0;
    out[0] = '\0';
    for (int i = 0; i < 8; i++) {
        if (i == best_start) {
            used += (size_t)snprintf(out + used, used < out_len ? out_len - used : 0, "::");
            i += best_len - 1;
            continue;
        }
        if (mapped && i == 6) {
            snprintf(out + used, used < out_len ? out_len - used : 0, ":%u.%u.%u.%u",
                     addr->bytes[12], addr->bytes[13], addr->bytes[14], addr->bytes[15]);
            return;
        }
        bool after_gap = best_start >= 0 && i == best_start + best_len;
        used += (size_t)snprintf(out + used, used < out_len ? out_len - used : 0,
                                 (i == 0 || after_gap) ? "%x" : ":%x", groups[i]);
        if (used >= out_len)
            return;
    }
}

int ip_addr_compare(const ip_addr_t *a, const ip_addr_t *b)
{
    if (a->family != b->family)
        return a->family < b->family ? -1 : 1;
    return memcmp(a->bytes, b->bytes, a->family == 4 ? 4 : 16);
}
