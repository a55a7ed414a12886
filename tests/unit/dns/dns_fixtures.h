/* DNS test data: real messages from captures (UDP payloads, or TCP payloads
 * with their 2-byte length prefix), a builder for messages made by hand,
 * and hex/copy helpers.
 */
#ifndef ENROLLMON_TEST_DNS_FIXTURES_H
#define ENROLLMON_TEST_DNS_FIXTURES_H

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct dns_fixture {
    const char *what;   /* capture and frame */
    const char *hex;
} dns_fixture_t;

/* pcaps/dns-nxdomain.pcapng, frames 1-4: ca.example.test A (answered
 * 127.0.0.1), cucm-pub.example.test A (NXDOMAIN with the zone's SOA). */
extern const dns_fixture_t dns_fx_lab_query_ca;
extern const dns_fixture_t dns_fx_lab_response_ca;
extern const dns_fixture_t dns_fx_lab_query_cucm;
extern const dns_fixture_t dns_fx_lab_response_cucm;
/* suricata-verify dns-udp-nxdomain-soa, frames 1-2 (EDNS, SOA). */
extern const dns_fixture_t dns_fx_sv_query;
extern const dns_fixture_t dns_fx_sv_response;
/* arkime dns-wiresharkrepo: TXT, MX (+ A additional), PTR, AAAA, CNAME,
 * ANY, NS responses. */
extern const dns_fixture_t dns_fx_txt;
extern const dns_fixture_t dns_fx_mx;
extern const dns_fixture_t dns_fx_ptr;
extern const dns_fixture_t dns_fx_aaaa;
extern const dns_fixture_t dns_fx_cname;
extern const dns_fixture_t dns_fx_any;
extern const dns_fixture_t dns_fx_ns;
/* arkime synthetic: A with RRSIG and DS (generic form), CAA, HTTPS, NSEC,
 * an EDNS BADVERS response, a response with the AD bit alone. */
extern const dns_fixture_t dns_fx_rrsig_ds;
extern const dns_fixture_t dns_fx_caa;
extern const dns_fixture_t dns_fx_https;
extern const dns_fixture_t dns_fx_nsec;
extern const dns_fixture_t dns_fx_badvers;
extern const dns_fixture_t dns_fx_ad_alone;
/* arkime synthetic, frames 715-717: a query, its retransmission, the answer. */
extern const dns_fixture_t dns_fx_svc_query;
extern const dns_fixture_t dns_fx_svc_response;
/* arkime synthetic, frames 353-354: DNS over TCP (with length prefixes). */
extern const dns_fixture_t dns_fx_tcp_query;
extern const dns_fixture_t dns_fx_tcp_response;

/* Every response fixture above, for loops. */
extern const dns_fixture_t *const dns_fx_responses[];
extern const size_t dns_fx_response_count;

/* Hex text to bytes in a heap block of exactly the decoded size. */
uint8_t *dns_test_unhex(const char *hex, size_t *len);
/* An exact-size heap copy (ASan catches any read past it). */
uint8_t *dns_test_copy(const uint8_t *data, size_t len);

/* Messages made by hand. */
GByteArray *dns_test_header(uint16_t id, uint16_t flags, uint16_t qd, uint16_t an, uint16_t ns, uint16_t ar);
void dns_test_bytes(GByteArray *m, const void *data, size_t len);
void dns_test_u8(GByteArray *m, uint8_t v);
void dns_test_be16(GByteArray *m, uint16_t v);
void dns_test_be32(GByteArray *m, uint32_t v);
/* "www.example.org" as labels ending with the root; "" or "." is the root. */
void dns_test_name(GByteArray *m, const char *dotted);
/* Labels without the final root (for a pointer to follow). */
void dns_test_labels(GByteArray *m, const char *dotted);
void dns_test_pointer(GByteArray *m, uint16_t offset);
/* A record header (name already written): type, class, ttl, rdata length. */
void dns_test_rr_head(GByteArray *m, uint16_t type, uint16_t rrclass, uint32_t ttl, uint16_t rdlength);

#endif
