/* DNS messages for dns-responder and dns-query (RFC 1035): a bounded name
 * reader (compression pointers followed only backwards and at most
 * DNS_MAX_HOPS times), a name writer (no compression) and the few
 * constants the lab needs. */
#ifndef ENROLLMON_LAB_DNS_WIRE_H
#define ENROLLMON_LAB_DNS_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DNS_HEADER_LEN 12
#define DNS_MAX_NAME 255      /* wire length of a name */
#define DNS_NAME_TEXT 1024    /* dotted text, every byte escaped at worst (\DDD) */
#define DNS_MAX_HOPS 16       /* compression pointers followed in one name */
#define DNS_UDP_MAX 512       /* answers over UDP without EDNS */

enum {
    DNS_TYPE_A = 1,
    DNS_TYPE_NS = 2,
    DNS_TYPE_CNAME = 5,
    DNS_TYPE_SOA = 6,
    DNS_TYPE_PTR = 12,
    DNS_TYPE_MX = 15,
    DNS_TYPE_TXT = 16,
    DNS_TYPE_AAAA = 28,
    DNS_TYPE_SRV = 33,
    DNS_TYPE_ANY = 255,
};

enum {
    DNS_RCODE_NOERROR = 0,
    DNS_RCODE_FORMERR = 1,
    DNS_RCODE_SERVFAIL = 2,
    DNS_RCODE_NXDOMAIN = 3,
    DNS_RCODE_NOTIMP = 4,
    DNS_RCODE_REFUSED = 5,
};

#define DNS_FLAG_QR 0x8000u
#define DNS_FLAG_AA 0x0400u
#define DNS_FLAG_TC 0x0200u
#define DNS_FLAG_RD 0x0100u
#define DNS_FLAG_RA 0x0080u

typedef struct dns_header {
    uint16_t id, flags, qdcount, ancount, nscount, arcount;
} dns_header_t;

uint16_t dns_get16(const uint8_t *p);
uint32_t dns_get32(const uint8_t *p);

/* False when len < 12. */
bool dns_header_read(const uint8_t *msg, size_t len, dns_header_t *h);
void dns_header_write(uint8_t *msg, const dns_header_t *h);

/* Reads the name at *off into `out` as dotted text ("." for the root, no
 * trailing dot otherwise; bytes other than letters, digits, '-' and '_'
 * as \DDD) and moves *off past it.  False on anything malformed: a label
 * running past the message, a forward or self pointer, more than
 * DNS_MAX_HOPS pointers, a name longer than 255 bytes, label types 01/10. */
bool dns_name_read(const uint8_t *msg, size_t len, size_t *off, char *out, size_t cap);

/* Appends a name given as dotted text (a trailing dot is allowed; \DDD
 * and \X escapes are understood) to out at *off without compression.
 * False when it does not fit or is not a valid name. */
bool dns_name_write(uint8_t *out, size_t cap, size_t *off, const char *dotted);

/* Appends 16 or 32 bits; false when out of room. */
bool dns_put16(uint8_t *out, size_t cap, size_t *off, uint16_t v);
bool dns_put32(uint8_t *out, size_t cap, size_t *off, uint32_t v);

/* Case-insensitive equality of two dotted names, trailing dots ignored. */
bool dns_name_equal(const char *a, const char *b);

/* "A", "AAAA", ...; "TYPE<n>" in buf for the others. */
const char *dns_type_name(uint16_t type, char *buf, size_t cap);
/* "A", "aaaa", "TYPE28", "28". */
bool dns_type_parse(const char *s, uint16_t *out);
const char *dns_rcode_name(unsigned rcode);

#endif
