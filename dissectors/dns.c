/* DNS messages: see dns.h. */
#include "dns.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- text ---- */

/* A bounded text being written into a caller's buffer; always terminated. */
typedef struct sbuf {
    char *p;
    size_t len;
    size_t cap;
    bool cut;
} sbuf_t;

static void sb_init(sbuf_t *b, char *p, size_t cap)
{
    b->p = p;
    b->len = 0;
    b->cap = cap;
    b->cut = false;
    p[0] = '\0';
}

static void sb_putc(sbuf_t *b, char ch)
{
    if (b->len + 1 < b->cap) {
        b->p[b->len++] = ch;
        b->p[b->len] = '\0';
    } else {
        b->cut = true;
    }
}

static void sb_puts(sbuf_t *b, const char *s)
{
    for (; *s; s++)
        sb_putc(b, *s);
}

static void sb_putu(sbuf_t *b, unsigned long v)
{
    char tmp[24];
    snprintf(tmp, sizeof(tmp), "%lu", v);
    sb_puts(b, tmp);
}

static void sb_escaped(sbuf_t *b, uint8_t ch)
{
    char tmp[6];
    snprintf(tmp, sizeof(tmp), "\\%03u", (unsigned)ch);
    sb_puts(b, tmp);
}

/* A byte of a label: printable ASCII kept, '.' and '\' escaped with a
 * backslash, anything else (space included) as \DDD. */
static void sb_label_byte(sbuf_t *b, uint8_t ch)
{
    if (ch == '.' || ch == '\\') {
        sb_putc(b, '\\');
        sb_putc(b, (char)ch);
    } else if (ch > 0x20 && ch < 0x7f) {
        sb_putc(b, (char)ch);
    } else {
        sb_escaped(b, ch);
    }
}

/* A byte of a TXT character-string (inside quotes). */
static void sb_string_byte(sbuf_t *b, uint8_t ch)
{
    if (ch == '"' || ch == '\\') {
        sb_putc(b, '\\');
        sb_putc(b, (char)ch);
    } else if (ch >= 0x20 && ch < 0x7f) {
        sb_putc(b, (char)ch);
    } else {
        sb_escaped(b, ch);
    }
}

static const char hexdigits[] = "0123456789abcdef";

/* Copies a text into the message's store; "" when the store is full. */
static const char *store(dns_message_t *m, const char *s)
{
    size_t n = strlen(s) + 1;
    if (n > sizeof(m->text) - m->text_len) {
        m->text_full = true;
        return m->text; /* text[0] is always '\0' */
    }
    char *dst = m->text + m->text_len;
    memcpy(dst, s, n);
    m->text_len += n;
    return dst;
}

/* ---- names ---- */

const char *dns_name_status_text(dns_name_status_t status)
{
    switch (status) {
    case DNS_NAME_OK: return "ok";
    case DNS_NAME_TRUNCATED: return "name cut short";
    case DNS_NAME_BAD_POINTER: return "compression pointer that does not lead backwards";
    case DNS_NAME_TOO_MANY_JUMPS: return "too many compression pointers";
    case DNS_NAME_TOO_LONG: return "name longer than 255 bytes";
    case DNS_NAME_BAD_LABEL: return "unknown label type";
    }
    return "unknown";
}

static dns_name_status_t name_fail(cursor_t *at, dns_name_status_t status)
{
    cur_fail(at);
    return status;
}

dns_name_status_t dns_name_read(byte_span_t message, cursor_t *at, char out[DNS_NAME_TEXT_MAX])
{
    sbuf_t b;
    sb_init(&b, out, DNS_NAME_TEXT_MAX);
    if (!cur_ok(at))
        return DNS_NAME_TRUNCATED;
    cursor_t r = *at;               /* reads the labels: in place, then wherever pointers lead */
    bool jumped = false;
    size_t stretch = cur_offset(&r); /* where the labels being read began */
    size_t wire = 0;                /* octets of the name so far */
    unsigned jumps = 0;
    for (;;) {
        /* Off the end in place: the message is cut short.  Off the end after
         * a jump: the pointer led somewhere no name lies. */
        dns_name_status_t off_end = jumped ? DNS_NAME_BAD_POINTER : DNS_NAME_TRUNCATED;
        if (!cur_has(&r, 1))
            return name_fail(at, off_end);
        uint8_t len = cur_u8(&r);
        if ((len & 0xC0) == 0xC0) {
            if (!cur_has(&r, 1))
                return name_fail(at, off_end);
            size_t target = ((size_t)(len & 0x3F) << 8) | cur_u8(&r);
            if (!jumped) {
                *at = r; /* in place, the name ends with its first pointer */
                jumped = true;
            }
            if (++jumps > DNS_MAX_POINTER_JUMPS)
                return name_fail(at, DNS_NAME_TOO_MANY_JUMPS);
            /* Strictly before the labels that led here: every jump goes
             * backwards, so no sequence of pointers can loop. */
            if (target >= stretch || target < DNS_HEADER_LEN)
                return name_fail(at, DNS_NAME_BAD_POINTER);
            r = cur_make(message.ptr, message.len);
            cur_skip(&r, target);
            stretch = target;
            continue;
        }
        if (len & 0xC0)
            return name_fail(at, DNS_NAME_BAD_LABEL);
        if (len == 0) {
            if (b.len == 0)
                sb_putc(&b, '.');
            break;
        }
        wire += 1u + len;
        if (wire + 1 > DNS_NAME_WIRE_MAX) /* the root octet is still to come */
            return name_fail(at, DNS_NAME_TOO_LONG);
        cursor_t label = cur_sub(&r, len);
        if (!cur_ok(&label))
            return name_fail(at, off_end);
        if (b.len)
            sb_putc(&b, '.');
        while (!cur_empty(&label))
            sb_label_byte(&b, cur_u8(&label));
    }
    if (!jumped)
        *at = r;
    return DNS_NAME_OK;
}

bool dns_name_equal(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    /* A final '.' (not an escaped one) does not count, except for the root. */
    if (la > 1 && a[la - 1] == '.' && a[la - 2] != '\\')
        la--;
    if (lb > 1 && b[lb - 1] == '.' && b[lb - 2] != '\\')
        lb--;
    if (la != lb)
        return false;
    for (size_t i = 0; i < la; i++) {
        unsigned char x = (unsigned char)a[i], y = (unsigned char)b[i];
        if (x >= 'A' && x <= 'Z')
            x = (unsigned char)(x - 'A' + 'a');
        if (y >= 'A' && y <= 'Z')
            y = (unsigned char)(y - 'A' + 'a');
        if (x != y)
            return false;
    }
    return true;
}

/* ---- numbers to names ---- */

const char *dns_type_name(uint16_t type)
{
    switch (type) {
    case 1: return "A";
    case 2: return "NS";
    case 3: return "MD";
    case 4: return "MF";
    case 5: return "CNAME";
    case 6: return "SOA";
    case 7: return "MB";
    case 8: return "MG";
    case 9: return "MR";
    case 10: return "NULL";
    case 11: return "WKS";
    case 12: return "PTR";
    case 13: return "HINFO";
    case 14: return "MINFO";
    case 15: return "MX";
    case 16: return "TXT";
    case 17: return "RP";
    case 18: return "AFSDB";
    case 24: return "SIG";
    case 25: return "KEY";
    case 28: return "AAAA";
    case 29: return "LOC";
    case 33: return "SRV";
    case 35: return "NAPTR";
    case 36: return "KX";
    case 37: return "CERT";
    case 39: return "DNAME";
    case 41: return "OPT";
    case 42: return "APL";
    case 43: return "DS";
    case 44: return "SSHFP";
    case 45: return "IPSECKEY";
    case 46: return "RRSIG";
    case 47: return "NSEC";
    case 48: return "DNSKEY";
    case 49: return "DHCID";
    case 50: return "NSEC3";
    case 51: return "NSEC3PARAM";
    case 52: return "TLSA";
    case 53: return "SMIMEA";
    case 55: return "HIP";
    case 59: return "CDS";
    case 60: return "CDNSKEY";
    case 61: return "OPENPGPKEY";
    case 62: return "CSYNC";
    case 63: return "ZONEMD";
    case 64: return "SVCB";
    case 65: return "HTTPS";
    case 99: return "SPF";
    case 249: return "TKEY";
    case 250: return "TSIG";
    case 251: return "IXFR";
    case 252: return "AXFR";
    case 253: return "MAILB";
    case 254: return "MAILA";
    case 255: return "ANY";
    case 256: return "URI";
    case 257: return "CAA";
    default: return NULL;
    }
}

const char *dns_class_name(uint16_t rrclass)
{
    switch (rrclass) {
    case 1: return "IN";
    case 3: return "CH";
    case 4: return "HS";
    case 254: return "NONE";
    case 255: return "ANY";
    default: return NULL;
    }
}

const char *dns_rcode_name(unsigned rcode)
{
    switch (rcode) {
    case 0: return "NOERROR";
    case 1: return "FORMERR";
    case 2: return "SERVFAIL";
    case 3: return "NXDOMAIN";
    case 4: return "NOTIMP";
    case 5: return "REFUSED";
    case 6: return "YXDOMAIN";
    case 7: return "YXRRSET";
    case 8: return "NXRRSET";
    case 9: return "NOTAUTH";
    case 10: return "NOTZONE";
    case 11: return "DSOTYPENI";
    case 16: return "BADVERS";
    case 17: return "BADKEY";
    case 18: return "BADTIME";
    case 19: return "BADMODE";
    case 20: return "BADNAME";
    case 21: return "BADALG";
    case 22: return "BADTRUNC";
    case 23: return "BADCOOKIE";
    default: return NULL;
    }
}

const char *dns_opcode_name(uint8_t opcode)
{
    switch (opcode) {
    case 0: return "QUERY";
    case 1: return "IQUERY";
    case 2: return "STATUS";
    case 4: return "NOTIFY";
    case 5: return "UPDATE";
    case 6: return "DSO";
    default: return NULL;
    }
}

void dns_type_format(uint16_t type, char *out, size_t out_len)
{
    const char *name = dns_type_name(type);
    if (name)
        snprintf(out, out_len, "%s", name);
    else
        snprintf(out, out_len, "TYPE%u", (unsigned)type);
}

void dns_rcode_format(unsigned rcode, char *out, size_t out_len)
{
    const char *name = dns_rcode_name(rcode);
    if (name)
        snprintf(out, out_len, "%s", name);
    else
        snprintf(out, out_len, "RCODE%u", rcode);
}

/* ---- header ---- */

bool dns_header_read(byte_span_t message, dns_header_t *out)
{
    memset(out, 0, sizeof(*out));
    cursor_t c = cur_from_span(message);
    if (!cur_has(&c, DNS_HEADER_LEN))
        return false;
    out->id = cur_be16(&c);
    uint16_t f = cur_be16(&c);
    out->flags = f;
    out->qr = (f >> 15) & 1;
    out->opcode = (uint8_t)((f >> 11) & 0x0f);
    out->aa = (f >> 10) & 1;
    out->tc = (f >> 9) & 1;
    out->rd = (f >> 8) & 1;
    out->ra = (f >> 7) & 1;
    out->z = (f >> 6) & 1;
    out->ad = (f >> 5) & 1;
    out->cd = (f >> 4) & 1;
    out->rcode = (uint8_t)(f & 0x0f);
    out->qdcount = cur_be16(&c);
    out->ancount = cur_be16(&c);
    out->nscount = cur_be16(&c);
    out->arcount = cur_be16(&c);
    return cur_ok(&c);
}

bool dns_looks_like(byte_span_t datagram)
{
    dns_header_t h;
    if (!dns_header_read(datagram, &h))
        return false;
    if (h.opcode != 0 || h.z || h.qdcount != 1)
        return false;
    if (!h.qr && (h.ancount || h.nscount || h.rcode || h.arcount > 2))
        return false;
    /* Every record needs 11 bytes at least (root name, type, class, TTL,
     * length), the question 5. */
    size_t room = datagram.len - DNS_HEADER_LEN;
    size_t records = (size_t)h.ancount + h.nscount + h.arcount;
    if (room < 5 || records > (room - 5) / 11)
        return false;
    cursor_t c = cur_from_span(datagram);
    cur_skip(&c, DNS_HEADER_LEN);
    char name[DNS_NAME_TEXT_MAX];
    if (dns_name_read(datagram, &c, name) != DNS_NAME_OK)
        return false;
    cur_skip(&c, 4);
    return cur_ok(&c);
}

/* ---- messages ---- */

dns_message_t *dns_message_new(void)
{
    dns_message_t *m = malloc(sizeof(*m));
    if (!m)
        abort();
    m->text[0] = '\0';
    m->text_len = 1;
    return m;
}

void dns_message_free(dns_message_t *m)
{
    free(m);
}

/* Notes the first problem of the message. */
static void problem(dns_message_t *m, dns_status_t status, const char *what, size_t offset)
{
    if (m->status != DNS_OK)
        return;
    m->status = status;
    m->error = what;
    m->error_offset = offset;
}

static dns_status_t name_problem(dns_message_t *m, dns_name_status_t ns, size_t offset)
{
    problem(m, ns == DNS_NAME_TRUNCATED ? DNS_TRUNCATED : DNS_MALFORMED, dns_name_status_text(ns),
            offset);
    return m->status;
}

/* A name inside record data: read from rd (whose base is the message). */
static bool rdata_name(byte_span_t message, cursor_t *rd, dns_message_t *m, const char **out)
{
    char name[DNS_NAME_TEXT_MAX];
    if (dns_name_read(message, rd, name) != DNS_NAME_OK)
        return false;
    *out = store(m, name);
    return true;
}

static void generic_rdata(sbuf_t *b, byte_span_t rdata)
{
    sb_puts(b, "\\# ");
    sb_putu(b, (unsigned long)rdata.len);
    cursor_t c = cur_from_span(rdata);
    if (!cur_empty(&c))
        sb_putc(b, ' ');
    while (!cur_empty(&c) && !b->cut) {
        uint8_t v = cur_u8(&c);
        sb_putc(b, hexdigits[v >> 4]);
        sb_putc(b, hexdigits[v & 0x0f]);
    }
}

/* Formats the data of rr (its rdata already set) into text; false when the
 * data does not fit the type. */
static bool typed_rdata(byte_span_t message, cursor_t rd, dns_message_t *m, dns_rr_t *rr, sbuf_t *b)
{
    char addr[IP_ADDR_TEXT_MAX];
    switch (rr->type) {
    case DNS_TYPE_A:
    case DNS_TYPE_AAAA: {
        size_t n = rr->type == DNS_TYPE_A ? 4 : 16;
        if (rr->rrclass != DNS_CLASS_IN)
            return false;
        if (rr->rdata.len != n)
            return false;
        rr->address.family = rr->type == DNS_TYPE_A ? 4 : 6;
        cur_copy(&rd, rr->address.bytes, n);
        ip_addr_format(&rr->address, addr, sizeof(addr));
        sb_puts(b, addr);
        return true;
    }
    case DNS_TYPE_NS:
    case DNS_TYPE_CNAME:
    case DNS_TYPE_PTR:
    case DNS_TYPE_DNAME:
        if (!rdata_name(message, &rd, m, &rr->target) || !cur_empty(&rd))
            return false;
        sb_puts(b, rr->target);
        return true;
    case DNS_TYPE_MX:
        rr->preference = cur_be16(&rd);
        if (!rdata_name(message, &rd, m, &rr->target) || !cur_empty(&rd))
            return false;
        sb_putu(b, rr->preference);
        sb_putc(b, ' ');
        sb_puts(b, rr->target);
        return true;
    case DNS_TYPE_SRV:
        rr->preference = cur_be16(&rd);
        rr->weight = cur_be16(&rd);
        rr->port = cur_be16(&rd);
        if (!rdata_name(message, &rd, m, &rr->target) || !cur_empty(&rd))
            return false;
        sb_putu(b, rr->preference);
        sb_putc(b, ' ');
        sb_putu(b, rr->weight);
        sb_putc(b, ' ');
        sb_putu(b, rr->port);
        sb_putc(b, ' ');
        sb_puts(b, rr->target);
        return true;
    case DNS_TYPE_SOA: {
        dns_soa_t soa;
        memset(&soa, 0, sizeof(soa));
        if (!rdata_name(message, &rd, m, &soa.mname) || !rdata_name(message, &rd, m, &soa.rname))
            return false;
        soa.serial = cur_be32(&rd);
        soa.refresh = cur_be32(&rd);
        soa.retry = cur_be32(&rd);
        soa.expire = cur_be32(&rd);
        soa.minimum = cur_be32(&rd);
        if (!cur_ok(&rd) || !cur_empty(&rd))
            return false;
        rr->soa = soa;
        sb_puts(b, soa.mname);
        sb_putc(b, ' ');
        sb_puts(b, soa.rname);
        const uint32_t nums[5] = { soa.serial, soa.refresh, soa.retry, soa.expire, soa.minimum };
        for (int i = 0; i < 5; i++) {
            sb_putc(b, ' ');
            sb_putu(b, nums[i]);
        }
        return true;
    }
    case DNS_TYPE_TXT:
    case 99: /* SPF: the same layout */
        if (cur_empty(&rd))
            return false; /* one string at least */
        while (!cur_empty(&rd)) {
            cursor_t s = cur_sub_u8len(&rd);
            if (!cur_ok(&s))
                return false;
            if (b->len)
                sb_putc(b, ' ');
            sb_putc(b, '"');
            while (!cur_empty(&s))
                sb_string_byte(b, cur_u8(&s));
            sb_putc(b, '"');
        }
        return true;
    default:
        return false;
    }
}

static bool has_typed_form(uint16_t type, uint16_t rrclass)
{
    switch (type) {
    case DNS_TYPE_A:
    case DNS_TYPE_AAAA:
        return rrclass == DNS_CLASS_IN;
    case DNS_TYPE_NS:
    case DNS_TYPE_CNAME:
    case DNS_TYPE_PTR:
    case DNS_TYPE_DNAME:
    case DNS_TYPE_MX:
    case DNS_TYPE_SRV:
    case DNS_TYPE_SOA:
    case DNS_TYPE_TXT:
    case 99:
        return true;
    default:
        return false;
    }
}

static void format_rdata(byte_span_t message, cursor_t rd, dns_message_t *m, dns_rr_t *rr)
{
    char buf[DNS_DATA_TEXT_MAX];
    sbuf_t b;
    sb_init(&b, buf, sizeof(buf));
    bool typed = has_typed_form(rr->type, rr->rrclass);
    if (!typed || !typed_rdata(message, rd, m, rr, &b)) {
        if (typed) {
            rr->rdata_malformed = true;
            rr->target = NULL;
            memset(&rr->soa, 0, sizeof(rr->soa));
            memset(&rr->address, 0, sizeof(rr->address));
        }
        sb_init(&b, buf, sizeof(buf));
        generic_rdata(&b, rr->rdata);
    }
    rr->data_truncated = b.cut;
    rr->data = store(m, buf);
}

/* One resource record; false when parsing must stop. */
static bool parse_rr(byte_span_t message, cursor_t *c, dns_message_t *m, dns_section_t section)
{
    size_t at = cur_offset(c);
    char name[DNS_NAME_TEXT_MAX];
    dns_name_status_t ns = dns_name_read(message, c, name);
    if (ns != DNS_NAME_OK) {
        name_problem(m, ns, at);
        return false;
    }
    uint16_t type = cur_be16(c);
    uint16_t rrclass = cur_be16(c);
    uint32_t ttl = cur_be32(c);
    uint16_t rdlength = cur_be16(c);
    if (!cur_ok(c)) {
        problem(m, DNS_TRUNCATED, "record header cut short", at);
        return false;
    }
    size_t rdata_at = cur_offset(c);
    if (!cur_has(c, rdlength)) {
        problem(m, DNS_TRUNCATED, "record data cut short", at);
        return false;
    }
    /* The data's window: names in it may point anywhere earlier in the
     * message but must themselves end inside it. */
    cursor_t rd = cur_make(message.ptr, rdata_at + rdlength);
    cur_skip(&rd, rdata_at);
    byte_span_t rdata = cur_view(c, rdlength);

    if (type == DNS_TYPE_OPT && section == DNS_SECTION_ADDITIONAL && !m->edns.present) {
        m->edns.present = true;
        m->edns.udp_size = rrclass;
        m->edns.ext_rcode = (uint8_t)(ttl >> 24);
        m->edns.version = (uint8_t)(ttl >> 16);
        m->edns.dnssec_ok = (ttl >> 15) & 1;
    }
    m->rrs_read[section]++;
    if (m->rr_count >= DNS_MAX_RRS)
        return true;
    dns_rr_t *rr = &m->rrs[m->rr_count++];
    memset(rr, 0, sizeof(*rr));
    rr->section = section;
    rr->name = store(m, name);
    rr->type = type;
    rr->rrclass = rrclass;
    rr->ttl = ttl;
    rr->rdata = rdata;
    format_rdata(message, rd, m, rr);
    if (rr->rdata_malformed)
        problem(m, DNS_MALFORMED, "record data does not fit its type", rdata_at);
    return true;
}

dns_status_t dns_parse(byte_span_t message, dns_message_t *m)
{
    memset(m, 0, offsetof(dns_message_t, text));
    m->text[0] = '\0';
    m->text_len = 1;
    m->length = message.len;
    if (!dns_header_read(message, &m->header)) {
        problem(m, DNS_NOT_DNS, "shorter than a DNS header", 0);
        return m->status;
    }
    m->rcode = m->header.rcode;
    cursor_t c = cur_from_span(message);
    cur_skip(&c, DNS_HEADER_LEN);

    bool go_on = true;
    for (unsigned i = 0; go_on && i < m->header.qdcount; i++) {
        size_t at = cur_offset(&c);
        char name[DNS_NAME_TEXT_MAX];
        dns_name_status_t ns = dns_name_read(message, &c, name);
        if (ns != DNS_NAME_OK) {
            name_problem(m, ns, at);
            go_on = false;
            break;
        }
        uint16_t type = cur_be16(&c);
        uint16_t qclass = cur_be16(&c);
        if (!cur_ok(&c)) {
            problem(m, DNS_TRUNCATED, "question cut short", at);
            go_on = false;
            break;
        }
        if (m->question_count < DNS_MAX_QUESTIONS) {
            dns_question_t *q = &m->questions[m->question_count++];
            q->name = store(m, name);
            q->type = type;
            q->qclass = qclass;
        }
        m->questions_read++;
    }

    const uint16_t counts[3] = { m->header.ancount, m->header.nscount, m->header.arcount };
    for (int s = 0; go_on && s < 3; s++)
        for (unsigned i = 0; go_on && i < counts[s]; i++)
            go_on = parse_rr(message, &c, m, (dns_section_t)s);

    if (go_on)
        m->trailing = cur_remaining(&c);
    if (m->edns.present)
        m->rcode = ((unsigned)m->edns.ext_rcode << 4) | m->header.rcode;
    return m->status;
}
