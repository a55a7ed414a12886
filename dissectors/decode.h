/* Stateless decoding of one captured frame: link layer, IPv4/IPv6, TCP/UDP.
 *
 * Nothing here keeps state between packets; fragment reassembly and flows
 * belong to the monitor.  Every function reads through a cursor and reports
 * truncated (the capture holds fewer bytes than the headers announce) apart
 * from malformed (the bytes contradict the protocol).
 */
#ifndef ENROLLMON_DECODE_H
#define ENROLLMON_DECODE_H

#include "cursor.h"

#include <stdbool.h>
#include <stdint.h>

typedef enum decode_status {
    DECODE_OK = 0,
    DECODE_TRUNCATED,   /* headers cut short by the snap length or the file */
    DECODE_MALFORMED,   /* bytes that contradict the protocol */
    DECODE_UNSUPPORTED, /* a link type or network protocol we do not follow */
} decode_status_t;

const char *decode_status_name(decode_status_t status);

typedef struct ip_addr {
    uint8_t family; /* 4 or 6 */
    uint8_t bytes[16];
} ip_addr_t;

/* Writes the address as text (dotted quad or RFC 5952 form). */
void ip_addr_format(const ip_addr_t *addr, char *out, size_t out_len);
int ip_addr_compare(const ip_addr_t *a, const ip_addr_t *b);

#define IP_ADDR_TEXT_MAX 46

#define ETHERTYPE_IPV4 0x0800
#define ETHERTYPE_IPV6 0x86dd

#define IPPROTO_NUM_TCP 6
#define IPPROTO_NUM_UDP 17

#define DECODE_MAX_VLAN_TAGS 4

/* Where the network layer starts inside a frame. */
typedef struct link_result {
    uint16_t ethertype;         /* ETHERTYPE_IPV4 or ETHERTYPE_IPV6 */
    byte_span_t network;        /* from the IP header to the end of the captured frame */
    uint16_t vlan[DECODE_MAX_VLAN_TAGS];
    unsigned vlan_count;
} link_result_t;

#define DECODE_LINKTYPE_ETHERNET 1

/* linktype is libpcap's DLT_ value for the capture. */
decode_status_t decode_link(int linktype, byte_span_t frame, link_result_t *out);
bool decode_linktype_supported(int linktype);

typedef struct ip_result {
    ip_addr_t src;
    ip_addr_t dst;
    uint8_t protocol;       /* the upper-layer protocol after IPv6 extension headers */
    uint8_t ttl;
    byte_span_t header_and_payload; /* the IP datagram as captured (for nDPI) */
    byte_span_t payload;    /* upper-layer bytes (or this fragment's bytes) */
    bool payload_truncated; /* the capture holds fewer bytes than the IP length says */
    bool is_fragment;
    uint32_t fragment_id;
    uint32_t fragment_offset; /* in bytes */
    bool more_fragments;
    unsigned extension_headers; /* IPv6 extension headers skipped */
} ip_result_t;

/* Decodes an IPv4 or IPv6 header; ethertype says which one to expect. */
decode_status_t decode_ip(uint16_t ethertype, byte_span_t network, ip_result_t *out);

#define TCP_FLAG_FIN 0x01
#define TCP_FLAG_SYN 0x02
#define TCP_FLAG_RST 0x04
#define TCP_FLAG_PSH 0x08
#define TCP_FLAG_ACK 0x10
#define TCP_FLAG_URG 0x20

typedef struct tcp_result {
    uint16_t src_port;
    uint16_t dst_port;
    uint32_t seq;
    uint32_t ack;
    uint8_t flags;
    uint16_t window;
    byte_span_t payload;
} tcp_result_t;

decode_status_t decode_tcp(byte_span_t segment, tcp_result_t *out);

typedef struct udp_result {
    uint16_t src_port;
    uint16_t dst_port;
    byte_span_t payload;
} udp_result_t;

decode_status_t decode_udp(byte_span_t datagram, udp_result_t *out);

#endif
