/* DNS messages (RFC 1035 4.1), read through the cursor only.
 *
 * header (id, flags, four counts) | questions | answer, authority and
 * additional resource records.  Names are decompressed under a strict
 * bound: a compression pointer must lead strictly before the start of the
 * stretch of labels it ends (so every jump goes backwards and no loop is
 * possible), at most DNS_MAX_POINTER_JUMPS jumps, labels of at most 63
 * bytes, names of at most 255 bytes on the wire.  Names are kept as text:
 * printable ASCII as it is, '.' and '\' inside a label as "\." and "\\",
 * every other byte as \DDD (RFC 1035 5.1); the root is ".".
 *
 * Record data is kept as presentation text for A, AAAA, NS, CNAME, PTR,
 * DNAME, MX, SOA, SRV and TXT; any other type (and data that does not fit
 * its type) as RFC 3597's "\# <length> <hex>".  OPT (RFC 6891) gives the
 * EDNS facts and the upper bits of the response code.
 *
 * Counts that announce more than the message holds make it TRUNCATED, a
 * name or record that breaks the rules makes it MALFORMED; either way what
 * was read up to there is kept.
 */
#ifndef ENROLLMON_DNS_H
#define ENROLLMON_DNS_H

#include "cursor.h"
#include "decode.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DNS_HEADER_LEN 12
#define DNS_PORT 53
#define DNS_LABEL_MAX 63
#define DNS_NAME_WIRE_MAX 255       /* length octets and the root included */
#define DNS_MAX_POINTER_JUMPS 32
/* The longest name text: every label byte escaped as \DDD, plus the dots
 * (4 * 254 = 1016) and the terminating NUL. */
#define DNS_NAME_TEXT_MAX 1024
/* Presentation text of one record's data (longer TXT or unknown data is cut,
 * and the record says so). */
#define DNS_DATA_TEXT_MAX 2304
/* What one message keeps; more is read (and counted) but not kept. */
#define DNS_MAX_QUESTIONS 8
#define DNS_MAX_RRS 64
/* Room for all the texts of one message (names and data). */
#define DNS_TEXT_MAX 32768

enum dns_type {
    DNS_TYPE_A = 1,
    DNS_TYPE_NS = 2,
    DNS_TYPE_CNAME = 5,
    DNS_TYPE_SOA = 6,
    DNS_TYPE_PTR = 12,
    DNS_TYPE_HINFO = 13,
    DNS_TYPE_MX = 15,
    DNS_TYPE_TXT = 16,
    DNS_TYPE_AAAA = 28,
    DNS_TYPE_SRV = 33,
    DNS_TYPE_NAPTR = 35,
    DNS_TYPE_DNAME = 39,
    DNS_TYPE_OPT = 41,
    DNS_TYPE_DS = 43,
    DNS_TYPE_RRSIG = 46,
    DNS_TYPE_NSEC = 47,
    DNS_TYPE_DNSKEY = 48,
    DNS_TYPE_SVCB = 64,
    DNS_TYPE_HTTPS = 65,
    DNS_TYPE_ANY = 255,
    DNS_TYPE_CAA = 257,
};

enum dns_class { DNS_CLASS_IN = 1, DNS_CLASS_CH = 3, DNS_CLASS_HS = 4, DNS_CLASS_ANY = 255 };

enum dns_rcode {
    DNS_RCODE_NOERROR = 0,
    DNS_RCODE_FORMERR = 1,
    DNS_RCODE_SERVFAIL = 2,
    DNS_RCODE_NXDOMAIN = 3,
    DNS_RCODE_NOTIMP = 4,
    DNS_RCODE_REFUSED = 5,
    DNS_RCODE_BADVERS = 16,
};

typedef enum dns_section {
    DNS_SECTION_ANSWER = 0,
    DNS_SECTION_AUTHORITY = 1,
    DNS_SECTION_ADDITIONAL = 2,
} dns_section_t;

typedef enum dns_status {
    DNS_OK = 0,
    DNS_TRUNCATED,  /* the message ends before all the records its counts announce */
    DNS_MALFORMED,  /* a name or a record breaks the rules (see dns_message_t.error) */
    DNS_NOT_DNS,    /* shorter than a header: nothing was read */
} dns_status_t;

typedef struct dns_header {
    uint16_t id;
    uint16_t flags;     /* as on the wire */
    bool qr;            /* a response */
    uint8_t opcode;     /* 0 QUERY, 1 IQUERY, 2 STATUS, 4 NOTIFY, 5 UPDATE */
    bool aa, tc, rd, ra, z, ad, cd;
    uint8_t rcode;      /* the header's four bits (see dns_message_t.rcode) */
    uint16_t qdcount, ancount, nscount, arcount;
} dns_header_t;

typedef struct dns_question {
    const char *name;   /* text (see above), in the message's text store */
    uint16_t type;
    uint16_t qclass;
} dns_question_t;

typedef struct dns_soa {
    const char *mname;  /* primary server */
    const char *rname;  /* responsible mailbox, as a name */
    uint32_t serial, refresh, retry, expire, minimum;
} dns_soa_t;

typedef struct dns_rr {
    dns_section_t section;
    const char *name;
    uint16_t type;
    uint16_t rrclass;       /* for OPT: the requester's UDP payload size */
    uint32_t ttl;           /* for OPT: extended rcode, version and flags */
    byte_span_t rdata;      /* inside the parsed message */
    /* The data as presentation text: "192.0.2.1", "mail.example.org" (CNAME,
     * NS, PTR, DNAME), "10 mx.example.org" (MX), "0 5 5060 sip.example.org"
     * (SRV), "ns1.example. hostmaster.example. 1 2 3 4 5" style for SOA
     * (mname rname serial refresh retry expire minimum), "\"a\" \"b\"" (TXT),
     * "\# 4 0a000101" otherwise. */
    const char *data;
    const char *target;     /* the name in CNAME, NS, PTR, DNAME, MX, SRV data; NULL otherwise */
    uint16_t preference;    /* MX preference, SRV priority */
    uint16_t weight, port;  /* SRV */
    ip_addr_t address;      /* A, AAAA (family 0 otherwise) */
    dns_soa_t soa;          /* SOA (mname and rname NULL otherwise) */
    bool rdata_malformed;   /* the data does not fit its type: data is the \# form */
    bool data_truncated;    /* data text cut at DNS_DATA_TEXT_MAX */
} dns_rr_t;

typedef struct dns_edns {
    bool present;           /* an OPT record was in the additional section */
    uint16_t udp_size;
    uint8_t ext_rcode;      /* upper 8 bits of the 12-bit response code */
    uint8_t version;
    bool dnssec_ok;
} dns_edns_t;

/* One parsed message.  The strings point into the message's own text store
 * and rdata into the parsed bytes: allocate with dns_message_new() and do
 * not copy the structure by value. */
typedef struct dns_message {
    dns_status_t status;
    const char *error;          /* what broke, for TRUNCATED and MALFORMED; NULL when OK */
    size_t error_offset;        /* where (offset in the message) */
    size_t length;              /* bytes parsed from */
    dns_header_t header;
    unsigned rcode;             /* header rcode with the EDNS extension (RFC 6891 6.1.3) */
    dns_edns_t edns;
    unsigned question_count;    /* kept in questions[] */
    unsigned questions_read;    /* read completely (more than kept are counted only) */
    dns_question_t questions[DNS_MAX_QUESTIONS];
    unsigned rr_count;          /* kept in rrs[], in wire order */
    unsigned rrs_read[3];       /* read completely, per section (kept or not) */
    dns_rr_t rrs[DNS_MAX_RRS];
    size_t trailing;            /* bytes after the last announced record */
    bool text_full;             /* the text store filled up: some texts are "" */
    size_t text_len;
    char text[DNS_TEXT_MAX];
} dns_message_t;

dns_message_t *dns_message_new(void);
void dns_message_free(dns_message_t *m);

/* Parses one whole message (a UDP payload, or a TCP one without its length
 * prefix) into m, which it resets first.  Returns m->status. */
dns_status_t dns_parse(byte_span_t message, dns_message_t *m);

/* Reads the header only: false when there are fewer than 12 bytes. */
bool dns_header_read(byte_span_t message, dns_header_t *out);

/* Does this datagram look like DNS (for DNS on ports other than 53)?  A
 * header with opcode QUERY, sane counts (a question, and no more records
 * than the bytes could hold), and a first question that reads. */
bool dns_looks_like(byte_span_t datagram);

typedef enum dns_name_status {
    DNS_NAME_OK = 0,
    DNS_NAME_TRUNCATED,     /* the name runs past the end of its window */
    DNS_NAME_BAD_POINTER,   /* a pointer that does not lead backwards, or into the header */
    DNS_NAME_TOO_MANY_JUMPS,
    DNS_NAME_TOO_LONG,      /* more than DNS_NAME_WIRE_MAX bytes */
    DNS_NAME_BAD_LABEL,     /* a label type other than 00 (length) or 11 (pointer) */
} dns_name_status_t;

const char *dns_name_status_text(dns_name_status_t status);

/* Reads the name that starts at the position of `at`, a cursor whose base
 * is the start of `message` (its end may be nearer: a name inside record
 * data must lie in it, although its pointers may lead anywhere earlier in
 * the message).  Writes the text to out (DNS_NAME_TEXT_MAX bytes) and
 * moves `at` past the name as it lies in place; on an error `at` is marked
 * bad and out holds the labels read so far. */
dns_name_status_t dns_name_read(byte_span_t message, cursor_t *at, char out[DNS_NAME_TEXT_MAX]);

/* Names of types ("A", "AAAA", ...), classes ("IN"), rcodes ("NOERROR",
 * "NXDOMAIN", ...) and opcodes ("QUERY"); NULL when the number has none. */
const char *dns_type_name(uint16_t type);
const char *dns_class_name(uint16_t rrclass);
const char *dns_rcode_name(unsigned rcode);
const char *dns_opcode_name(uint8_t opcode);
/* The name, or "TYPE<n>" / "CLASS<n>" / "RCODE<n>" (RFC 3597 style). */
void dns_type_format(uint16_t type, char *out, size_t out_len);
void dns_rcode_format(unsigned rcode, char *out, size_t out_len);

/* Names compared as DNS does: ASCII case ignored, a final '.' ignored. */
bool dns_name_equal(const char *a, const char *b);

#endif
