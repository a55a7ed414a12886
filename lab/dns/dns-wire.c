#include "dns-wire.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

uint16_t dns_get16(const uint8_t *p)
{
    return (uint16_t)((p[0] << 8) | p[1]);
}

uint32_t dns_get32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

bool dns_header_read(const uint8_t *msg, size_t len, dns_header_t *h)
{
    if (len < DNS_HEADER_LEN)
        return false;
    h->id = dns_get16(msg);
    h->flags = dns_get16(msg + 2);
    h->qdcount = dns_get16(msg + 4);
    h->ancount = dns_get16(msg + 6);
    h->nscount = dns_get16(msg + 8);
    h->arcount = dns_get16(msg + 10);
    return true;
}

void dns_header_write(uint8_t *msg, const dns_header_t *h)
{
    const uint16_t v[6] = { h->id, h->flags, h->qdcount, h->ancount, h->nscount, h->arcount };
    for (int i = 0; i < 6; i++) {
        msg[2 * i] = (uint8_t)(v[i] >> 8);
        msg[2 * i + 1] = (uint8_t)v[i];
    }
}

bool dns_put16(uint8_t *out, size_t cap, size_t *off, uint16_t v)
{
    if (*off + 2 > cap)
        return false;
    out[(*off)++] = (uint8_t)(v >> 8);
    out[(*off)++] = (uint8_t)v;
    return true;
}

bool dns_put32(uint8_t *out, size_t cap, size_t *off, uint32_t v)
{
    return dns_put16(out, cap, off, (uint16_t)(v >> 16)) && dns_put16(out, cap, off, (uint16_t)v);
}

static bool text_put(char *out, size_t cap, size_t *o, const char *s, size_t n)
{
    if (*o + n + 1 > cap)
        return false;
    memcpy(out + *o, s, n);
    *o += n;
    out[*o] = '\0';
    return true;
}

bool dns_name_read(const uint8_t *msg, size_t len, size_t *off, char *out, size_t cap)
{
    size_t pos = *off, end = 0, wire = 0, o = 0;
    int hops = 0;
    bool jumped = false;
    if (cap == 0)
        return false;
    out[0] = '\0';
    /* Every step either consumes a label (wire length grows, bounded by 255)
     * or follows a pointer (bounded by DNS_MAX_HOPS): the loop ends. */
    for (;;) {
        if (pos >= len)
            return false;
        uint8_t l = msg[pos];
        if ((l & 0xc0) == 0xc0) {
            if (pos + 1 >= len || ++hops > DNS_MAX_HOPS)
                return false;
            size_t target = ((size_t)(l & 0x3f) << 8) | msg[pos + 1];
            if (target >= pos)   /* only backwards: no loops, no forward references */
                return false;
            if (!jumped)
                end = pos + 2;
            jumped = true;
            pos = target;
            continue;
        }
        if (l & 0xc0)            /* 01 and 10: extended/obsolete label types */
            return false;
        wire += 1u + l;
        if (wire > DNS_MAX_NAME)
            return false;
        if (l == 0) {
            if (!jumped)
                end = pos + 1;
            break;
        }
        if (pos + 1 + l > len)
            return false;
        if (o > 0 && !text_put(out, cap, &o, ".", 1))
            return false;
        for (size_t i = 0; i < l; i++) {
            uint8_t c = msg[pos + 1 + i];
            char esc[8];
            if (isalnum(c) || c == '-' || c == '_') {
                esc[0] = (char)c;
                if (!text_put(out, cap, &o, esc, 1))
                    return false;
            } else {
                snprintf(esc, sizeof(esc), "\\%03u", c);
                if (!text_put(out, cap, &o, esc, 4))
                    return false;
            }
        }
        pos += 1u + l;
    }
    if (o == 0 && !text_put(out, cap, &o, ".", 1))
        return false;
    *off = end;
    return true;
}

bool dns_name_write(uint8_t *out, size_t cap, size_t *off, const char *dotted)
{
    size_t o = *off, wire = 0;
    const char *p = dotted;
    if (strcmp(p, ".") == 0)
        p++;
    while (*p) {
        uint8_t label[63];
        size_t l = 0;
        while (*p && *p != '.') {
            unsigned c = (unsigned char)*p++;
            if (c == '\\') {
                if (isdigit((unsigned char)p[0]) && isdigit((unsigned char)p[1]) &&
                    isdigit((unsigned char)p[2])) {
                    c = (unsigned)((p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0'));
                    if (c > 255)
                        return false;
                    p += 3;
                } else if (*p) {
                    c = (unsigned char)*p++;
                } else {
                    return false;
                }
            }
            if (l == sizeof(label))
                return false;
            label[l++] = (uint8_t)c;
        }
        if (l == 0)              /* empty label: ".." or a leading dot */
            return false;
        if (*p == '.')
            p++;
        wire += 1 + l;
        if (wire + 1 > DNS_MAX_NAME || o + 1 + l > cap)
            return false;
        out[o++] = (uint8_t)l;
        memcpy(out + o, label, l);
        o += l;
    }
    if (o + 1 > cap)
        return false;
    out[o++] = 0;
    *off = o;
    return true;
}

bool dns_name_equal(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 1 && a[la - 1] == '.')
        la--;
    if (lb > 1 && b[lb - 1] == '.')
        lb--;
    return la == lb && strncasecmp(a, b, la) == 0;
}

static const struct {
    uint16_t type;
    const char *name;
} TYPES[] = {
    { DNS_TYPE_A, "A" },     { DNS_TYPE_NS, "NS" },   { DNS_TYPE_CNAME, "CNAME" },
    { DNS_TYPE_SOA, "SOA" }, { DNS_TYPE_PTR, "PTR" }, { DNS_TYPE_MX, "MX" },
    { DNS_TYPE_TXT, "TXT" }, { DNS_TYPE_AAAA, "AAAA" }, { DNS_TYPE_SRV, "SRV" },
    { DNS_TYPE_ANY, "ANY" },
};

const char *dns_type_name(uint16_t type, char *buf, size_t cap)
{
    for (size_t i = 0; i < sizeof(TYPES) / sizeof(TYPES[0]); i++)
        if (TYPES[i].type == type)
            return TYPES[i].name;
    snprintf(buf, cap, "TYPE%u", type);
    return buf;
}

bool dns_type_parse(const char *s, uint16_t *out)
{
    for (size_t i = 0; i < sizeof(TYPES) / sizeof(TYPES[0]); i++) {
        if (strcasecmp(s, TYPES[i].name) == 0) {
            *out = TYPES[i].type;
            return true;
        }
    }
    const char *num = strncasecmp(s, "TYPE", 4) == 0 ? s + 4 : s;
    char *end;
    unsigned long v = strtoul(num, &end, 10);
    if (end == num || *end || v > 65535)
        return false;
    *out = (uint16_t)v;
    return true;
}

const char *dns_rcode_name(unsigned rcode)
{
    static const char *const names[] = { "NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN",
                                         "NOTIMP", "REFUSED" };
    return rcode < 6 ? names[rcode] : "RCODE?";
}
