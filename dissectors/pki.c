/* The PKI conversations carried by HTTP (pki.h): Microsoft AD CS web
 * enrollment (certsrv), EST (RFC 7030) and SCEP (RFC 8894, Cisco IOS).
 *
 * Every body is read through a cursor; every copy is bounded (URI_MAX,
 * SCAN_MAX, FIELD_MAX, DER_MAX); certificates, CSRs and PKCS#7 go through
 * OpenSSL, whose objects are freed before returning and whose error queue is
 * left as it was found.  Text that leaves this file (subject, template,
 * operation, messages) is printable UTF-8: control bytes and bytes that are
 * not UTF-8 are written as \xNN.
 */
#include "pki.h"

#include <glib.h>
#include <openssl/err.h>
#include <openssl/pkcs7.h>
#include <openssl/x509.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#define URI_MAX 8192u              /* characters of a URI looked at */
#define PATH_BUF 1024u             /* a decoded path, longer ones are cut */
#define SCAN_MAX (1024u * 1024u)   /* bytes of a body looked at */
#define FIELD_MAX (64u * 1024u)    /* decoded bytes of one form field */
#define DER_MAX (512u * 1024u)     /* bytes decoded from base64 */
#define TEXT_MAX (256u * 1024u)    /* text extracted from an HTML page */
#define PKCS7_CERTS_MAX 64u        /* certificates taken from one PKCS#7 */

/* ------------------------------------------------------------------ */
/* Names                                                              */

const char *pki_kind_name(pki_kind_t kind)
{
    switch (kind) {
    case PKI_CERTSRV: return "certsrv";
    case PKI_EST: return "est";
    case PKI_SCEP: return "scep";
    case PKI_NONE: break;
    }
    return NULL;
}

const char *pki_step_name(pki_step_t step)
{
    switch (step) {
    case PKI_STEP_LOGIN: return "login";
    case PKI_STEP_REQUEST_FORM: return "request_form";
    case PKI_STEP_SUBMISSION: return "submission";
    case PKI_STEP_CERT_RETRIEVAL: return "cert_retrieval";
    case PKI_STEP_CHAIN_RETRIEVAL: return "chain_retrieval";
    case PKI_STEP_CA_CERT_RETRIEVAL: return "ca_cert_retrieval";
    case PKI_STEP_EST_CACERTS: return "cacerts";
    case PKI_STEP_EST_SIMPLEENROLL: return "simpleenroll";
    case PKI_STEP_EST_SIMPLEREENROLL: return "simplereenroll";
    case PKI_STEP_EST_CSRATTRS: return "csrattrs";
    case PKI_STEP_SCEP_GETCACAPS: return "getcacaps";
    case PKI_STEP_SCEP_GETCACERT: return "getcacert";
    case PKI_STEP_SCEP_GETNEXTCACERT: return "getnextcacert";
    case PKI_STEP_SCEP_PKIOPERATION: return "pkioperation";
    case PKI_STEP_OTHER: break;
    }
    return "other";
}

const char *pki_outcome_name(pki_outcome_t o)
{
    switch (o) {
    case PKI_OUTCOME_ISSUED: return "issued";
    case PKI_OUTCOME_PENDING: return "pending";
    case PKI_OUTCOME_DENIED: return "denied";
    case PKI_OUTCOME_NONE: break;
    }
    return NULL;
}

void pki_record_clear(pki_record_t *r)
{
    if (!r)
        return;
    x509_cert_info_clear(&r->certificate);
    for (unsigned i = 0; i < PKI_MAX_CHAIN; i++)
        x509_cert_info_clear(&r->chain[i]);
    memset(r, 0, sizeof(*r));
    r->req_id = -1;
}

/* ------------------------------------------------------------------ */
/* Bytes and text                                                     */

static const byte_span_t no_span = { NULL, 0 };

static uint8_t lower(uint8_t c)
{
    return (c >= 'A' && c <= 'Z') ? (uint8_t)(c - 'A' + 'a') : c;
}

static bool is_space(uint8_t c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
}

static bool is_digit(uint8_t c)
{
    return c >= '0' && c <= '9';
}

static bool is_alnum(uint8_t c)
{
    return is_digit(c) || (lower(c) >= 'a' && lower(c) <= 'z');
}

static int hex_value(uint8_t c)
{
    if (is_digit(c))
        return c - '0';
    c = lower(c);
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

static size_t min_size(size_t a, size_t b)
{
    return a < b ? a : b;
}

/* The first max bytes of a span (never a pointer without its length). */
static byte_span_t span_head(byte_span_t s, size_t max)
{
    if (!s.ptr || !s.len)
        return no_span;
    cursor_t c = cur_from_span(s);
    return cur_view(&c, min_size(s.len, max));
}

static byte_span_t array_span(const GByteArray *a)
{
    if (!a || !a->len)
        return no_span;
    byte_span_t s = { a->data, a->len };
    return s;
}

/* Leading and trailing white space off. */
static byte_span_t span_trim(byte_span_t s)
{
    if (!s.ptr || !s.len)
        return no_span;
    cursor_t c = cur_from_span(s);
    while (is_space(cur_peek_u8(&c, 0)) && !cur_empty(&c))
        cur_skip(&c, 1);
    size_t len = cur_remaining(&c);
    while (len && is_space(cur_peek_u8(&c, len - 1)))
        len--;
    return len ? cur_view(&c, len) : no_span;
}

/* Does the text at the cursor start with needle (ASCII, any case)?  The
 * cursor does not move. */
static bool cur_match(const cursor_t *c, const char *needle)
{
    size_t n = strlen(needle);
    if (!cur_has(c, n))
        return false;
    for (size_t i = 0; i < n; i++)
        if (lower(cur_peek_u8(c, i)) != lower((uint8_t)needle[i]))
            return false;
    return true;
}

/* Moves to the next place where needle starts (any case); false, with the
 * cursor at the end, when there is none. */
static bool cur_find(cursor_t *c, const char *needle)
{
    uint8_t first = (uint8_t)needle[0];
    uint8_t upper = (first >= 'a' && first <= 'z') ? (uint8_t)(first - 'a' + 'A') : first;
    while (cur_seek_either(c, lower(first), upper)) {
        if (cur_match(c, needle))
            return true;
        cur_skip(c, 1);
    }
    return false;
}

static bool span_equals(byte_span_t s, const char *text)
{
    cursor_t c = cur_from_span(s);
    return s.len == strlen(text) && cur_match(&c, text);
}

static bool span_starts_with(byte_span_t s, const char *prefix)
{
    cursor_t c = cur_from_span(s);
    return cur_match(&c, prefix);
}

/* Copies text out as printable UTF-8: C0 controls, DEL, C1 controls and
 * bytes that do not form UTF-8 become "\xNN".  Stops before a character
 * that would not fit, so the result is never a broken sequence. */
static void copy_text(char *dst, size_t cap, byte_span_t src)
{
    if (!cap)
        return;
    size_t n = 0;
    cursor_t c = cur_from_span(src);
    while (!cur_empty(&c)) {
        char piece[8];
        size_t plen = 0;
        uint8_t b = cur_peek_u8(&c, 0);
        if (b >= 0x20 && b < 0x7f) {
            piece[0] = (char)b;
            plen = 1;
        } else if (b >= 0x80) {
            cursor_t look = c;
            byte_span_t s = cur_view(&look, min_size(cur_remaining(&c), 4));
            gunichar ch = g_utf8_get_char_validated((const gchar *)s.ptr, (gssize)s.len);
            if (ch != (gunichar)-1 && ch != (gunichar)-2 && ch >= 0xa0) {
                plen = (size_t)g_unichar_to_utf8(ch, piece);
                if (!cur_copy(&c, piece, plen)) /* the same bytes, validated */
                    break;
                if (n + plen >= cap)
                    break;
                memcpy(dst + n, piece, plen);
                n += plen;
                continue;
            }
        }
        if (!plen) {
            snprintf(piece, sizeof(piece), "\\x%02x", b);
            plen = 4;
        }
        if (n + plen >= cap)
            break;
        memcpy(dst + n, piece, plen);
        n += plen;
        cur_skip(&c, 1);
    }
    dst[n] = '\0';
}

static void copy_cstr(char *dst, size_t cap, const char *text, size_t len)
{
    byte_span_t s = { (const uint8_t *)text, len };
    copy_text(dst, cap, text && len ? s : no_span);
}

/* %XX and (when asked) '+' as in application/x-www-form-urlencoded.  A '%'
 * not followed by two hex digits stays as it is. */
static GByteArray *url_decode(byte_span_t s, bool plus_is_space, size_t max)
{
    GByteArray *out = g_byte_array_new();
    cursor_t c = cur_from_span(s);
    while (!cur_empty(&c) && out->len < max) {
        uint8_t b = cur_u8(&c);
        if (b == '+' && plus_is_space) {
            b = ' ';
        } else if (b == '%' && cur_has(&c, 2)) {
            int hi = hex_value(cur_peek_u8(&c, 0)), lo = hex_value(cur_peek_u8(&c, 1));
            if (hi >= 0 && lo >= 0) {
                b = (uint8_t)(hi * 16 + lo);
                cur_skip(&c, 2);
            }
        }
        g_byte_array_append(out, &b, 1);
    }
    return out;
}

static int b64_value(uint8_t c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (is_digit(c))
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

/* Skips a PEM armour line, "-----BEGIN ...-----", wherever its line ends. */
static bool skip_armour(cursor_t *c)
{
    if (!cur_match(c, "-----"))
        return false;
    cur_skip(c, 5);
    if (cur_find(c, "-----"))
        while (!cur_empty(c) && cur_peek_u8(c, 0) == '-')
            cur_skip(c, 1);
    return true;
}

/* Base64 text (PEM or bare, lines of any length) to bytes.  White space
 * and armour lines are skipped, '=' ends a quantum, anything else ends the
 * decoding: what was decoded up to there is returned. */
static GByteArray *b64_decode(byte_span_t s, size_t max)
{
    GByteArray *out = g_byte_array_new();
    cursor_t c = cur_from_span(s);
    if (cur_match(&c, "\xef\xbb\xbf"))
        cur_skip(&c, 3);
    uint32_t acc = 0;
    unsigned n = 0;
    while (!cur_empty(&c) && out->len < max) {
        uint8_t b = cur_peek_u8(&c, 0);
        int v = b64_value(b);
        if (v >= 0) {
            cur_skip(&c, 1);
            acc = (acc << 6) | (uint32_t)v;
            if (++n == 4) {
                uint8_t bytes[3] = { (uint8_t)(acc >> 16), (uint8_t)(acc >> 8), (uint8_t)acc };
                g_byte_array_append(out, bytes, 3);
                acc = 0;
                n = 0;
            }
            continue;
        }
        if (is_space(b)) {
            cur_skip(&c, 1);
        } else if (b == '-') {
            if (!skip_armour(&c))
                break;
            /* a form's '+' (a space) left as it was next to the armour:
             * DER's base64 never starts with '+' */
            while (!cur_empty(&c) && cur_peek_u8(&c, 0) == '+')
                cur_skip(&c, 1);
        } else if (b == '=') {
            cur_skip(&c, 1);
            if (n == 2 || n == 3) {
                uint8_t bytes[2] = { (uint8_t)(n == 2 ? acc >> 4 : acc >> 10), (uint8_t)(acc >> 2) };
                g_byte_array_append(out, bytes, n - 1);
            }
            acc = 0;
            n = 0;
        } else {
            break;
        }
    }
    if (n == 2 || n == 3) { /* unpadded end, or text cut short */
        uint8_t bytes[2] = { (uint8_t)(n == 2 ? acc >> 4 : acc >> 10), (uint8_t)(acc >> 2) };
        g_byte_array_append(out, bytes, n - 1);
    }
    return out;
}

/* A body holding DER, or base64 / PEM text of it.  *owned keeps decoded
 * bytes alive; free it with g_byte_array_unref. */
static byte_span_t body_der(byte_span_t body, GByteArray **owned)
{
    *owned = NULL;
    body = span_head(body, SCAN_MAX);
    if (!body.len)
        return no_span;
    cursor_t c = cur_from_span(body);
    if (cur_peek_u8(&c, 0) == 0x30) /* SEQUENCE: base64 text never starts with '0' */
        return body;
    *owned = b64_decode(body, DER_MAX);
    return array_span(*owned);
}

/* Digits at the cursor as a non-negative number; false when there are none,
 * too many, or (cut) they run to the end of a text cut short. */
static bool read_number(cursor_t *c, bool cut, long *out)
{
    int64_t v = 0;
    size_t n = 0;
    while (is_digit(cur_peek_u8(c, 0)) && !cur_empty(c)) {
        if (++n > 15)
            return false;
        v = v * 10 + (cur_u8(c) - '0');
    }
    if (!n || (cut && cur_empty(c)) || v > LONG_MAX)
        return false;
    *out = (long)v;
    return true;
}

/* ------------------------------------------------------------------ */
/* URIs                                                               */

typedef enum resource {
    RES_OTHER = 0,
    RES_CER,   /* certnew.cer */
    RES_P7B,   /* certnew.p7b */
    RES_CARC,  /* certcarc.asp */
} resource_t;

typedef struct uri_facts {
    pki_kind_t kind;
    pki_step_t step;
    resource_t res;
    long req_id;
    char operation[sizeof(((pki_record_t *)0)->operation)];
} uri_facts_t;

/* The first value of a query parameter (name in any case), decoded. */
static GByteArray *query_param(byte_span_t query, const char *name)
{
    cursor_t c = cur_from_span(query);
    while (!cur_empty(&c)) {
        cursor_t start = c;
        bool more = cur_seek_either(&c, '&', ';');
        byte_span_t pair = cur_view(&start, cur_offset(&c) - cur_offset(&start));
        if (more)
            cur_skip(&c, 1);
        cursor_t p = cur_from_span(pair);
        cursor_t name_start = p;
        bool has_value = cur_seek_either(&p, '=', '=');
        byte_span_t key = cur_view(&name_start, cur_offset(&p) - cur_offset(&name_start));
        if (!has_value || !span_equals(key, name))
            continue;
        cur_skip(&p, 1);
        return url_decode(cur_rest(&p), true, 256);
    }
    return NULL;
}

/* ReqID=<n> or ReqID=CACert. */
static void read_req_id(byte_span_t query, uri_facts_t *f, bool *ca_cert)
{
    *ca_cert = false;
    GByteArray *v = query_param(query, "ReqID");
    if (!v)
        return;
    byte_span_t value = span_trim(array_span(v));
    long n;
    cursor_t c = cur_from_span(value);
    if (span_equals(value, "CACert"))
        *ca_cert = true;
    else if (value.len && read_number(&c, false, &n) && cur_empty(&c))
        f->req_id = n;
    g_byte_array_unref(v);
}

/* The path decoded (%XX), with '\' as '/' (as IIS takes it) and runs of '/'
 * made one.  Cut at PATH_BUF - 1 characters or at a %00. */
static size_t decode_path(byte_span_t path, char out[PATH_BUF])
{
    size_t n = 0;
    cursor_t c = cur_from_span(path);
    while (!cur_empty(&c) && n < PATH_BUF - 1) {
        uint8_t b = cur_u8(&c);
        if (b == '%' && cur_has(&c, 2) && hex_value(cur_peek_u8(&c, 0)) >= 0 &&
            hex_value(cur_peek_u8(&c, 1)) >= 0) {
            b = (uint8_t)(hex_value(cur_peek_u8(&c, 0)) * 16 + hex_value(cur_peek_u8(&c, 1)));
            cur_skip(&c, 2);
        }
        if (b == '\0')
            break;
        if (b == '\\')
            b = '/';
        if (b == '/' && n && out[n - 1] == '/')
            continue;
        out[n++] = (char)b;
    }
    out[n] = '\0';
    return n;
}

static pki_step_t scep_step(const char *op)
{
    if (g_ascii_strcasecmp(op, "GetCACaps") == 0)
        return PKI_STEP_SCEP_GETCACAPS;
    if (g_ascii_strcasecmp(op, "GetCACert") == 0)
        return PKI_STEP_SCEP_GETCACERT;
    if (g_ascii_strcasecmp(op, "GetNextCACert") == 0)
        return PKI_STEP_SCEP_GETNEXTCACERT;
    if (g_ascii_strcasecmp(op, "PKIOperation") == 0)
        return PKI_STEP_SCEP_PKIOPERATION;
    return PKI_STEP_OTHER;
}

static pki_step_t est_step(const char *op)
{
    if (g_ascii_strcasecmp(op, "simpleenroll") == 0)
        return PKI_STEP_EST_SIMPLEENROLL;
    if (g_ascii_strcasecmp(op, "simplereenroll") == 0)
        return PKI_STEP_EST_SIMPLEREENROLL;
    if (g_ascii_strcasecmp(op, "cacerts") == 0)
        return PKI_STEP_EST_CACERTS;
    if (g_ascii_strcasecmp(op, "csrattrs") == 0)
        return PKI_STEP_EST_CSRATTRS;
    return PKI_STEP_OTHER;
}

static void classify_scep(byte_span_t query, uri_facts_t *f)
{
    f->kind = PKI_SCEP;
    GByteArray *op = query_param(query, "operation");
    if (!op)
        return;
    copy_text(f->operation, sizeof(f->operation), array_span(op));
    g_byte_array_unref(op);
    f->step = scep_step(f->operation);
}

/* After "/.well-known/est/": "<op>" or "<label>/<op>". */
static void classify_est(const char *rest, uri_facts_t *f)
{
    f->kind = PKI_EST;
    size_t len = strlen(rest);
    while (len && rest[len - 1] == '/')
        len--;
    if (!len)
        return;
    unsigned segments = 1;
    size_t last = 0;
    for (size_t i = 0; i < len; i++)
        if (rest[i] == '/') {
            segments++;
            last = i + 1;
        }
    copy_cstr(f->operation, sizeof(f->operation), rest + last, len - last);
    if (segments <= 2) {
        char *op = g_strndup(rest + last, len - last);
        f->step = est_step(op);
        g_free(op);
    }
}

static void classify_certsrv(const char *rest, const char *method, byte_span_t query, uri_facts_t *f)
{
    (void)method; /* any method: a GET certfnsh.asp still gets the CA's answer page */
    f->kind = PKI_CERTSRV;
    bool ca_cert = false;
    if (!*rest || g_ascii_strcasecmp(rest, "default.asp") == 0) {
        f->step = PKI_STEP_LOGIN;
    } else if (g_ascii_strcasecmp(rest, "certrqxt.asp") == 0) {
        f->step = PKI_STEP_REQUEST_FORM;
    } else if (g_ascii_strcasecmp(rest, "certfnsh.asp") == 0) {
        f->step = PKI_STEP_SUBMISSION;
    } else if (g_ascii_strcasecmp(rest, "certnew.cer") == 0) {
        f->res = RES_CER;
        read_req_id(query, f, &ca_cert);
        f->step = ca_cert ? PKI_STEP_CA_CERT_RETRIEVAL : PKI_STEP_CERT_RETRIEVAL;
    } else if (g_ascii_strcasecmp(rest, "certnew.p7b") == 0) {
        f->res = RES_P7B;
        read_req_id(query, f, &ca_cert);
        f->step = ca_cert ? PKI_STEP_CA_CERT_RETRIEVAL : PKI_STEP_CHAIN_RETRIEVAL;
    } else if (g_ascii_strcasecmp(rest, "certcarc.asp") == 0) {
        f->res = RES_CARC;
        f->step = PKI_STEP_CA_CERT_RETRIEVAL;
    }
}

static void classify(const char *method, const char *uri, uri_facts_t *f)
{
    memset(f, 0, sizeof(*f));
    f->req_id = -1;
    if (!uri)
        return;
    cursor_t c = cur_make((const uint8_t *)uri, strnlen(uri, URI_MAX));
    /* absolute-form (through a proxy): the path starts after the authority */
    if (cur_match(&c, "http://") || cur_match(&c, "https://")) {
        cur_skip(&c, cur_match(&c, "http://") ? 7 : 8);
        cursor_t probe = c;
        bool found = cur_seek_either(&probe, '/', '?');
        if (!found || cur_peek_u8(&probe, 0) == '?')
            return; /* no path: the server's root */
        c = probe;
    }
    cursor_t path_start = c;
    bool has_query = cur_seek_either(&c, '?', '#') && cur_peek_u8(&c, 0) == '?';
    byte_span_t path = cur_view(&path_start, cur_offset(&c) - cur_offset(&path_start));
    byte_span_t query = no_span;
    if (has_query) {
        cur_skip(&c, 1);
        cursor_t q_start = c;
        cur_seek_either(&c, '#', '#');
        query = cur_view(&q_start, cur_offset(&c) - cur_offset(&q_start));
    }
    char decoded[PATH_BUF];
    size_t len = decode_path(path, decoded);
    char *low = g_ascii_strdown(decoded, (gssize)len);
    const char *slash = strrchr(low, '/');
    const char *last = slash ? slash + 1 : low;
    if (strcmp(last, "pkiclient.exe") == 0 || strcmp(last, "mscep.dll") == 0 ||
        g_str_has_prefix(low, "/certsrv/mscep/")) {
        classify_scep(query, f);
    } else if (strcmp(low, "/.well-known/est") == 0 || g_str_has_prefix(low, "/.well-known/est/")) {
        f->kind = PKI_EST;
        if (len > strlen("/.well-known/est/"))
            classify_est(decoded + strlen("/.well-known/est/"), f);
    } else if (strcmp(low, "/certsrv") == 0) {
        classify_certsrv("", method, query, f);
    } else if (g_str_has_prefix(low, "/certsrv/")) {
        classify_certsrv(decoded + strlen("/certsrv/"), method, query, f);
    }
    g_free(low);
}

pki_kind_t pki_kind_of_request(const char *method, const char *uri, pki_step_t *step)
{
    uri_facts_t f;
    classify(method, uri, &f);
    if (step)
        *step = f.step;
    return f.kind;
}

/* ------------------------------------------------------------------ */
/* CSRs, certificates, PKCS#7                                          */

/* A PKCS#10 in DER: subject and the public key's modulus MD5. */
static bool take_csr(byte_span_t der, pki_record_t *out)
{
    if (!der.len || der.len > (size_t)G_MAXINT32)
        return false;
    const unsigned char *p = der.ptr;
    X509_REQ *req = d2i_X509_REQ(NULL, &p, (long)der.len);
    if (!req)
        return false;
    out->has_csr = true;
    unsigned char *name_der = NULL;
    int name_len = i2d_X509_NAME(X509_REQ_get_subject_name(req), &name_der);
    if (name_len > 0) {
        byte_span_t name = { name_der, (size_t)name_len };
        char *subject = x509_name_der_format(name);
        if (subject)
            copy_cstr(out->csr_subject, sizeof(out->csr_subject), subject, strlen(subject));
        g_free(subject);
    }
    OPENSSL_free(name_der);
    EVP_PKEY *key = X509_REQ_get0_pubkey(req);
    unsigned char *spki = NULL;
    int spki_len = key ? i2d_PUBKEY(key, &spki) : -1;
    if (spki_len > 0) {
        byte_span_t s = { spki, (size_t)spki_len };
        x509_spki_modulus_md5(s, out->csr_modulus_md5);
    }
    OPENSSL_free(spki);
    X509_REQ_free(req);
    return true;
}

/* A CSR as base64 text (PEM or bare) or DER. */
static bool take_csr_text(byte_span_t text, pki_record_t *out)
{
    GByteArray *owned = NULL;
    bool ok = take_csr(body_der(text, &owned), out);
    if (owned)
        g_byte_array_unref(owned);
    return ok;
}

static void append_x509(GPtrArray *certs, X509 *x)
{
    unsigned char *der = NULL;
    int len = x ? i2d_X509(x, &der) : -1;
    if (len > 0)
        g_ptr_array_add(certs, g_bytes_new(der, (gsize)len));
    OPENSSL_free(der);
}

/* One DER element: tag, and its length clamped to what is there (a cut
 * body keeps what it has); false when the header itself is not there. */
static bool der_header(cursor_t *c, uint8_t *tag, size_t *len, bool *complete)
{
    *tag = cur_u8(c);
    uint8_t first = cur_u8(c);
    size_t n = first;
    if (first == 0x80) { /* indefinite: the rest */
        n = SIZE_MAX;
    } else if (first > 0x80) {
        unsigned bytes = first & 0x7fu;
        if (bytes > 4)
            return false;
        n = 0;
        for (unsigned i = 0; i < bytes; i++)
            n = (n << 8) | cur_u8(c);
    }
    if (!cur_ok(c))
        return false;
    *complete = n <= cur_remaining(c);
    *len = min_size(n, cur_remaining(c));
    return true;
}

static bool der_enter(cursor_t *c, uint8_t want, cursor_t *inner)
{
    uint8_t tag;
    size_t len;
    bool complete;
    if (!der_header(c, &tag, &len, &complete) || tag != want)
        return false;
    *inner = cur_sub(c, len);
    return cur_ok(inner);
}

static bool der_skip(cursor_t *c, uint8_t want)
{
    uint8_t tag;
    size_t len;
    bool complete;
    return der_header(c, &tag, &len, &complete) && tag == want && complete && cur_skip(c, len);
}

/* What OpenSSL cannot read, a PKCS#7 cut short, still holds its first
 * certificates whole: ContentInfo { signedData, [0] SignedData { version,
 * digestAlgorithms, contentInfo, [0] certificates ... } }. */
static void pkcs7_salvage(byte_span_t der, GPtrArray *certs)
{
    static const uint8_t signed_data[] = { 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02 };
    cursor_t c = cur_from_span(der), ci, oid, explicit_content, sd, set;
    if (!der_enter(&c, 0x30, &ci) || !der_enter(&ci, 0x06, &oid))
        return;
    byte_span_t oid_bytes = cur_rest(&oid);
    if (oid_bytes.len != sizeof(signed_data) || memcmp(oid_bytes.ptr, signed_data, sizeof(signed_data)))
        return;
    if (!der_enter(&ci, 0xa0, &explicit_content) || !der_enter(&explicit_content, 0x30, &sd) ||
        !der_skip(&sd, 0x02) || !der_skip(&sd, 0x31) || !der_skip(&sd, 0x30) ||
        !der_enter(&sd, 0xa0, &set))
        return;
    while (!cur_empty(&set) && certs->len < PKCS7_CERTS_MAX) {
        cursor_t start = set;
        uint8_t tag;
        size_t len;
        bool complete;
        if (!der_header(&set, &tag, &len, &complete) || tag != 0x30 || !complete)
            return;
        size_t whole = cur_offset(&set) - cur_offset(&start) + len;
        byte_span_t cert = cur_view(&start, whole);
        if (!cur_skip(&set, len) || !cert.len)
            return;
        g_ptr_array_add(certs, g_bytes_new(cert.ptr, cert.len));
    }
}

/* The certificates of a PKCS#7 SignedData, as DER (GBytes).  A SignedData
 * whose content is itself a certs-only PKCS#7 (SCEP GetNextCACert) gives
 * the inner certificates. */
static void pkcs7_certs(byte_span_t der, GPtrArray *certs, unsigned depth)
{
    if (!der.len || der.len > (size_t)G_MAXINT32)
        return;
    const unsigned char *p = der.ptr;
    PKCS7 *p7 = d2i_PKCS7(NULL, &p, (long)der.len);
    if (!p7) {
        pkcs7_salvage(der, certs);
        return;
    }
    if (PKCS7_type_is_signed(p7) && p7->d.sign) {
        guint before = certs->len;
        PKCS7 *content = p7->d.sign->contents;
        if (depth == 0 && content && PKCS7_type_is_data(content) && content->d.data) {
            int len = ASN1_STRING_length(content->d.data);
            const unsigned char *data = ASN1_STRING_get0_data(content->d.data);
            if (len > 0 && data) {
                byte_span_t inner = { data, (size_t)len };
                pkcs7_certs(inner, certs, depth + 1);
            }
        }
        STACK_OF(X509) *sk = p7->d.sign->cert;
        if (certs->len == before)
            for (int i = 0; sk && i < sk_X509_num(sk) && certs->len < PKCS7_CERTS_MAX; i++)
                append_x509(certs, sk_X509_value(sk, i));
    }
    PKCS7_free(p7);
}

static bool parse_cert_bytes(GBytes *bytes, const cert_patterns_t *patterns, cert_info_t *info)
{
    gsize len = 0;
    const uint8_t *data = g_bytes_get_data(bytes, &len);
    byte_span_t der = { data, len };
    if (x509_cert_parse(der, patterns, info))
        return true;
    x509_cert_info_clear(info);
    return false;
}

/* Every certificate that parses into chain[], up to PKI_MAX_CHAIN. */
static void store_chain(pki_record_t *out, GPtrArray *certs, const cert_patterns_t *patterns)
{
    for (guint i = 0; i < certs->len && out->chain_count < PKI_MAX_CHAIN; i++)
        if (parse_cert_bytes(g_ptr_array_index(certs, i), patterns, &out->chain[out->chain_count]))
            out->chain_count++;
}

/* The first certificate that parses (and, leaf_only, is not a CA). */
static void store_certificate(pki_record_t *out, GPtrArray *certs, const cert_patterns_t *patterns,
                              bool leaf_only)
{
    for (guint i = 0; i < certs->len && !out->has_certificate; i++) {
        if (!parse_cert_bytes(g_ptr_array_index(certs, i), patterns, &out->certificate))
            continue;
        if (leaf_only && out->certificate.is_ca)
            x509_cert_info_clear(&out->certificate);
        else
            out->has_certificate = true;
    }
}

typedef enum cert_want {
    WANT_CERT,        /* one certificate (certnew.cer, SCEP GetCACert) */
    WANT_CHAIN,       /* a PKCS#7 into chain[] */
    WANT_CHAIN_LEAF,  /* chain[], and the first non-CA certificate as the certificate */
    WANT_CHAIN_FIRST, /* chain[], and the first certificate as the certificate (EST) */
} cert_want_t;

/* A response body holding a certificate or a PKCS#7, DER or base64; a
 * single certificate where a PKCS#7 was expected (or the other way round)
 * is taken too. */
static void take_certs(byte_span_t body, cert_want_t want, const cert_patterns_t *patterns,
                       pki_record_t *out)
{
    GByteArray *owned = NULL;
    byte_span_t der = body_der(body, &owned);
    GPtrArray *certs = g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
    if (want == WANT_CERT && der.len) {
        if (x509_cert_parse(der, patterns, &out->certificate))
            out->has_certificate = true;
        else
            x509_cert_info_clear(&out->certificate);
    }
    if (!out->has_certificate && der.len) {
        pkcs7_certs(der, certs, 0);
        if (!certs->len && want != WANT_CERT)
            g_ptr_array_add(certs, g_bytes_new(der.ptr, der.len)); /* a lone certificate */
        store_chain(out, certs, patterns);
        if (want == WANT_CHAIN_FIRST)
            store_certificate(out, certs, patterns, false);
        else if (want == WANT_CHAIN_LEAF)
            store_certificate(out, certs, patterns, true);
    }
    g_ptr_array_unref(certs);
    if (owned)
        g_byte_array_unref(owned);
}

/* ------------------------------------------------------------------ */
/* certsrv: the submitted form                                        */

/* "CertificateTemplate:<name>" on one of CertAttrib's lines.  Attributes
 * put on one line ("CertificateTemplate:X UserAgent:Y") are split too. */
static void take_template(byte_span_t attrib, pki_record_t *out)
{
    cursor_t c = cur_from_span(attrib);
    while (!cur_empty(&c)) {
        cursor_t start = c;
        bool more = cur_seek_either(&c, '\r', '\n');
        byte_span_t line = span_trim(cur_view(&start, cur_offset(&c) - cur_offset(&start)));
        if (more)
            cur_skip(&c, 1);
        static const char key[] = "CertificateTemplate:";
        if (!span_starts_with(line, key))
            continue;
        cursor_t v = cur_from_span(line);
        cur_skip(&v, sizeof(key) - 1);
        while (is_space(cur_peek_u8(&v, 0)) && !cur_empty(&v))
            cur_skip(&v, 1);
        /* the value ends where white space is followed by "Word:" */
        size_t end = 0, rem = cur_remaining(&v);
        while (end < rem) {
            if (is_space(cur_peek_u8(&v, end))) {
                size_t k = end;
                while (k < rem && is_space(cur_peek_u8(&v, k)))
                    k++;
                size_t w = k;
                while (w < rem && is_alnum(cur_peek_u8(&v, w)))
                    w++;
                if (w > k && w < rem && cur_peek_u8(&v, w) == ':')
                    break;
                end = k;
                continue;
            }
            end++;
        }
        copy_text(out->template_name, sizeof(out->template_name), span_trim(cur_view(&v, end)));
        return;
    }
}

static void take_form_field(byte_span_t field, pki_record_t *out)
{
    cursor_t c = cur_from_span(field);
    cursor_t name_start = c;
    if (!cur_seek_either(&c, '=', '='))
        return;
    byte_span_t name = cur_view(&name_start, cur_offset(&c) - cur_offset(&name_start));
    cur_skip(&c, 1);
    byte_span_t value = cur_rest(&c);
    if (span_equals(name, "CertRequest") && !out->has_csr) {
        /* '+' is a space (the armour lines); a client that left the
         * base64 '+' unescaped gets a second reading with '+' kept */
        GByteArray *text = url_decode(value, true, FIELD_MAX);
        if (!take_csr_text(array_span(text), out)) {
            g_byte_array_unref(text);
            text = url_decode(value, false, FIELD_MAX);
            take_csr_text(array_span(text), out);
        }
        g_byte_array_unref(text);
    } else if (span_equals(name, "CertAttrib") && !out->template_name[0]) {
        GByteArray *text = url_decode(value, true, FIELD_MAX);
        take_template(array_span(text), out);
        g_byte_array_unref(text);
    }
}

/* Mode=newreq&CertRequest=...&CertAttrib=...&TargetStoreFlags=0&SaveCert=yes */
static void take_form(byte_span_t body, bool cut, pki_record_t *out)
{
    if (body.len > SCAN_MAX)
        cut = true;
    body = span_head(body, SCAN_MAX);
    cursor_t c = cur_from_span(body);
    while (!cur_empty(&c)) {
        cursor_t start = c;
        bool more = cur_seek_either(&c, '&', '&');
        byte_span_t field = cur_view(&start, cur_offset(&c) - cur_offset(&start));
        if (more)
            cur_skip(&c, 1);
        else if (cut)
            break; /* the last field of a cut body may be cut itself */
        take_form_field(field, out);
    }
}

/* ------------------------------------------------------------------ */
/* certsrv: the answer page                                           */

static bool ends_with_char(const GString *t, char ch)
{
    return t->len && t->str[t->len - 1] == ch;
}

static void emit_space(GString *t)
{
    if (t->len && !ends_with_char(t, ' ') && !ends_with_char(t, '\n'))
        g_string_append_c(t, ' ');
}

static void emit_break(GString *t)
{
    while (ends_with_char(t, ' '))
        g_string_truncate(t, t->len - 1);
    if (t->len && !ends_with_char(t, '\n'))
        g_string_append_c(t, '\n');
}

static bool name_in(const char *name, const char *const *list)
{
    for (; *list; list++)
        if (strcmp(name, *list) == 0)
            return true;
    return false;
}

/* At '<': a tag, a comment, or a lone '<'. */
static void html_tag(cursor_t *c, GString *t)
{
    static const char *const blocks[] = { "p", "br", "div", "tr", "td", "th", "li", "ul", "ol",
                                          "table", "h1", "h2", "h3", "h4", "h5", "h6", "hr",
                                          "title", "head", "body", "html", "form", "center",
                                          "fieldset", "legend", "pre", "blockquote", "dd", "dt",
                                          "select", "option", "textarea", NULL };
    static const char *const inlines[] = { "a", "b", "i", "u", "em", "strong", "font", "span",
                                           "small", "big", "tt", "code", "sup", "sub", "abbr",
                                           "nobr", "label", NULL };
    if (cur_match(c, "<!--")) {
        cur_skip(c, 4);
        if (cur_find(c, "-->"))
            cur_skip(c, 3);
        emit_space(t);
        return;
    }
    cur_skip(c, 1);
    bool closing = cur_peek_u8(c, 0) == '/';
    if (closing)
        cur_skip(c, 1);
    char name[16];
    size_t n = 0;
    while (is_alnum(cur_peek_u8(c, 0)) && !cur_empty(c)) {
        uint8_t b = cur_u8(c);
        if (n < sizeof(name) - 1)
            name[n++] = (char)lower(b);
    }
    name[n] = '\0';
    uint8_t next = cur_peek_u8(c, 0);
    if (!n && !closing && next != '!' && next != '?') {
        if (!cur_empty(c))
            g_string_append_c(t, '<'); /* "a < b"; at the end, a tag cut short */
        return;
    }
    /* to the end of the tag; a quote opens a value only right after '=' */
    uint8_t quote = 0, prev = 0;
    while (!cur_empty(c)) {
        uint8_t b = cur_u8(c);
        if (quote) {
            if (b == quote)
                quote = 0;
        } else if ((b == '"' || b == '\'') && prev == '=') {
            quote = b;
        } else if (b == '>') {
            break;
        }
        if (!is_space(b))
            prev = b;
    }
    if (!closing && (strcmp(name, "script") == 0 || strcmp(name, "style") == 0)) {
        if (cur_find(c, strcmp(name, "script") == 0 ? "</script" : "</style") &&
            cur_seek_either(c, '>', '>'))
            cur_skip(c, 1);
        emit_space(t);
        return;
    }
    if (name_in(name, blocks))
        emit_break(t);
    else if (!name_in(name, inlines))
        emit_space(t);
}

/* After '&': an entity, or a lone '&'. */
static void html_entity(cursor_t *c, GString *t)
{
    static const struct {
        const char *name;
        const char *text;
    } named[] = { { "amp", "&" }, { "lt", "<" }, { "gt", ">" }, { "quot", "\"" },
                  { "apos", "'" }, { "nbsp", " " } };
    if (cur_peek_u8(c, 0) == '#') {
        cursor_t p = *c;
        cur_skip(&p, 1);
        bool hex = lower(cur_peek_u8(&p, 0)) == 'x';
        if (hex)
            cur_skip(&p, 1);
        uint32_t cp = 0;
        unsigned digits = 0;
        while (!cur_empty(&p) &&
               (hex ? hex_value(cur_peek_u8(&p, 0)) >= 0 : is_digit(cur_peek_u8(&p, 0)))) {
            cp = cp * (hex ? 16u : 10u) + (uint32_t)hex_value(cur_u8(&p));
            if (cp > 0x10ffff)
                cp = 0x110000; /* too big for a character: stays too big */
            digits++;
        }
        if (digits) {
            if (cur_peek_u8(&p, 0) == ';' && !cur_empty(&p))
                cur_skip(&p, 1);
            *c = p;
            if (cp < 0x20 || cp == 0x7f)
                emit_space(t);
            else if (g_unichar_validate(cp)) {
                char utf8[8];
                g_string_append_len(t, utf8, g_unichar_to_utf8(cp, utf8));
            } else {
                g_string_append_c(t, '?');
            }
            return;
        }
    }
    for (size_t i = 0; i < G_N_ELEMENTS(named); i++) {
        if (!cur_match(c, named[i].name))
            continue;
        cur_skip(c, strlen(named[i].name));
        if (cur_peek_u8(c, 0) == ';' && !cur_empty(c))
            cur_skip(c, 1);
        if (named[i].text[0] == ' ')
            emit_space(t);
        else
            g_string_append(t, named[i].text);
        return;
    }
    g_string_append_c(t, '&');
}

/* The page as text: tags out (block elements end a line), script and
 * style out, entities decoded, white space collapsed. */
static GString *html_text(byte_span_t body)
{
    GString *t = g_string_new(NULL);
    cursor_t c = cur_from_span(span_head(body, SCAN_MAX));
    while (!cur_empty(&c) && t->len < TEXT_MAX) {
        uint8_t b = cur_peek_u8(&c, 0);
        if (b == '<') {
            html_tag(&c, t);
            continue;
        }
        cur_skip(&c, 1);
        if (b == '&')
            html_entity(&c, t);
        else if (is_space(b) || b == '\0')
            emit_space(t);
        else
            g_string_append_c(t, (char)b);
    }
    emit_break(t);
    while (ends_with_char(t, '\n'))
        g_string_truncate(t, t->len - 1);
    return t;
}

/* The ReqID of the page's certnew.cer (or .p7b) link: "certnew.cer?ReqID=77&" */
static bool page_link_req_id(byte_span_t body, bool cut, long *req_id)
{
    static const char *const links[] = { "certnew.cer?", "certnew.p7b?" };
    for (size_t i = 0; i < G_N_ELEMENTS(links); i++) {
        cursor_t c = cur_from_span(span_head(body, SCAN_MAX));
        while (cur_find(&c, links[i])) {
            cur_skip(&c, strlen(links[i]));
            /* ReqID among the next parameters of the same link */
            cursor_t look = c;
            size_t span = min_size(cur_remaining(&c), 64);
            for (size_t k = 0; k < span; k++) {
                uint8_t b = cur_peek_u8(&look, 0);
                if (b == '"' || b == '\'' || b == '<' || b == '>' || is_space(b))
                    break;
                if (cur_match(&look, "ReqID=")) {
                    cur_skip(&look, 6);
                    long n;
                    if (read_number(&look, cut, &n)) {
                        *req_id = n;
                        return true;
                    }
                    break;
                }
                cur_skip(&look, 1);
            }
        }
    }
    return false;
}

/* The text's line around an offset. */
static void line_at(const GString *t, size_t at, size_t *start, size_t *end)
{
    size_t s = at, e = at;
    while (s > 0 && t->str[s - 1] != '\n')
        s--;
    while (e < t->len && t->str[e] != '\n')
        e++;
    *start = s;
    *end = e;
}

static const char *find_any(const char *low, const char *const *needles)
{
    for (; *needles; needles++) {
        const char *hit = strstr(low, *needles);
        if (hit)
            return hit;
    }
    return NULL;
}

/* "Your Request Id is 25" */
static long page_said_req_id(const GString *t, const char *low, bool cut)
{
    const char *hit = strstr(low, "request id");
    while (hit) {
        size_t at = (size_t)(hit - low) + strlen("request id");
        cursor_t c = cur_make((const uint8_t *)t->str, t->len);
        cur_skip(&c, at);
        while (!cur_empty(&c) && (is_space(cur_peek_u8(&c, 0)) || cur_peek_u8(&c, 0) == ':' ||
                                  cur_peek_u8(&c, 0) == '#'))
            cur_skip(&c, 1);
        if (cur_match(&c, "is"))
            cur_skip(&c, 2);
        while (!cur_empty(&c) && (is_space(cur_peek_u8(&c, 0)) || cur_peek_u8(&c, 0) == ':'))
            cur_skip(&c, 1);
        long n;
        if (read_number(&c, cut, &n))
            return n;
        hit = strstr(hit + 1, "request id");
    }
    return -1;
}

/* The disposition message: `The disposition message is "Denied by Policy Module".` */
static bool page_disposition_message(const GString *t, const char *low, bool cut, size_t *start,
                                     size_t *end)
{
    const char *hit = strstr(low, "disposition message is");
    if (!hit)
        return false;
    size_t s = (size_t)(hit - low) + strlen("disposition message is");
    while (s < t->len && t->str[s] == ' ')
        s++;
    size_t line_start, line_end;
    line_at(t, s, &line_start, &line_end);
    size_t e;
    if (cut && line_end == t->len && s < line_end && t->str[s] == '"' &&
        !memchr(t->str + s + 1, '"', line_end - s - 1))
        return false; /* cut inside the quotes: a piece of a message would mislead */
    if (s < line_end && t->str[s] == '"') {
        s++;
        const char *close = memchr(t->str + s, '"', line_end - s);
        e = close ? (size_t)(close - t->str) : line_end;
    } else {
        if (cut && line_end == t->len)
            return false;
        e = line_end;
        while (e > s && (t->str[e - 1] == '.' || t->str[e - 1] == ' '))
            e--;
    }
    while (s < e && t->str[s] == ' ')
        s++;
    while (e > s && t->str[e - 1] == ' ')
        e--;
    if (e <= s)
        return false;
    *start = s;
    *end = e;
    return true;
}

/* A result code "0x80094800", with what follows it in parentheses
 * "(-2146875392 CERTSRV_E_UNSUPPORTED_CERT_TYPE)" when there is one.
 * Failure codes (0x8...) first. */
static bool page_code(const GString *t, bool cut, size_t *code_start, size_t *code_end, size_t *full_end)
{
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i + 10 <= t->len; i++) {
            const char *s = t->str + i;
            if (s[0] != '0' || lower((uint8_t)s[1]) != 'x' || (i && is_alnum((uint8_t)s[-1])))
                continue;
            bool hex = true;
            for (int k = 2; k < 10 && hex; k++)
                hex = hex_value((uint8_t)s[k]) >= 0;
            if (!hex || (i + 10 < t->len && is_alnum((uint8_t)s[10])) || (cut && i + 10 == t->len))
                continue;
            if (pass == 0 && s[2] != '8')
                continue;
            *code_start = i;
            *code_end = *full_end = i + 10;
            size_t p = i + 10;
            while (p < t->len && t->str[p] == ' ')
                p++;
            if (p < t->len && t->str[p] == '(') {
                size_t limit = min_size(t->len, p + 96);
                for (size_t q = p + 1; q < limit && t->str[q] != '\n'; q++)
                    if (t->str[q] == ')') {
                        *full_end = q + 1;
                        break;
                    }
            }
            return true;
        }
    }
    return false;
}

static void trim_range(const GString *t, size_t *s, size_t *e, const char *also)
{
    while (*s < *e && (t->str[*s] == ' ' || (t->str[*s] && strchr(also, t->str[*s]))))
        (*s)++;
    while (*e > *s && (t->str[*e - 1] == ' ' || (t->str[*e - 1] && strchr(also, t->str[*e - 1]))))
        (*e)--;
}

static void set_message(pki_record_t *out, const GString *msg)
{
    copy_cstr(out->outcome_message, sizeof(out->outcome_message), msg->str, msg->len);
}

/* Denied (or failed): the disposition message, the error text beside the
 * code when it stands apart from it, and the code. */
static void page_denial(const GString *t, const char *low, const char *marker, bool cut,
                        pki_record_t *out)
{
    GString *msg = g_string_new(NULL);
    size_t dm_start = 0, dm_end = 0, dm_line_start = 0, dm_line_end = 0;
    bool dm = page_disposition_message(t, low, cut, &dm_start, &dm_end);
    if (dm) {
        g_string_append_len(msg, t->str + dm_start, (gssize)(dm_end - dm_start));
        line_at(t, dm_start, &dm_line_start, &dm_line_end);
    }
    size_t cs, ce, fe;
    if (page_code(t, cut, &cs, &ce, &fe)) {
        size_t whole = fe - cs;
        copy_cstr(out->disposition, sizeof(out->disposition), t->str + cs,
                  whole < sizeof(out->disposition) ? whole : ce - cs);
        size_t ls, le;
        line_at(t, cs, &ls, &le);
        if (!dm || ls != dm_line_start) {
            /* the line's text without the code: before it, else after it */
            size_t s = ls, e = cs;
            trim_range(t, &s, &e, ",;:-");
            if (e <= s) {
                s = fe;
                e = le;
                trim_range(t, &s, &e, ",;:-");
            }
            if (e > s) {
                if (msg->len)
                    g_string_append(msg, ": ");
                g_string_append_len(msg, t->str + s, (gssize)(e - s));
            }
        }
    }
    if (!msg->len && marker) {
        size_t ls, le;
        line_at(t, (size_t)(marker - low), &ls, &le);
        g_string_append_len(msg, t->str + ls, (gssize)(le - ls));
    }
    set_message(out, msg);
    g_string_free(msg, TRUE);
}

static void page_pending(const GString *t, const char *low, const char *marker, bool cut,
                         pki_record_t *out)
{
    size_t s, e;
    const char *title = strstr(low, "certificate pending");
    if (page_disposition_message(t, low, cut, &s, &e)) {
        copy_cstr(out->outcome_message, sizeof(out->outcome_message), t->str + s, e - s);
    } else {
        line_at(t, (size_t)((title ? title : marker) - low), &s, &e);
        copy_cstr(out->outcome_message, sizeof(out->outcome_message), t->str + s, e - s);
    }
}

/* certfnsh.asp's answer.  Issued: a certnew.cer?ReqID=<n> link.  Pending:
 * "Certificate Pending" / "taken under submission".  Denied: "denied", or
 * an error page with a failure code. */
static void take_answer_page(byte_span_t body, bool cut, pki_record_t *out)
{
    static const char *const pending[] = { "certificate pending", "taken under submission",
                                           "under submission", "must wait for an administrator",
                                           NULL };
    static const char *const denied[] = { "denied", "request failed", "error occurred",
                                          "certificate server error", "unexpected error",
                                          "request error", NULL };
    if (body.len > SCAN_MAX)
        cut = true;
    long link_id = -1;
    bool link = page_link_req_id(body, cut, &link_id);
    GString *t = html_text(body);
    char *low = g_ascii_strdown(t->str, (gssize)t->len);
    long said = page_said_req_id(t, low, cut);
    const char *marker = NULL;
    size_t cs, ce, fe;
    if (link) {
        out->outcome = PKI_OUTCOME_ISSUED;
        out->req_id = link_id;
    } else if ((marker = find_any(low, pending)) != NULL) {
        out->outcome = PKI_OUTCOME_PENDING;
        out->req_id = said;
        page_pending(t, low, marker, cut, out);
    } else if ((marker = find_any(low, denied)) != NULL ||
               (strstr(low, "error") && page_code(t, cut, &cs, &ce, &fe))) {
        out->outcome = PKI_OUTCOME_DENIED;
        out->req_id = said;
        page_denial(t, low, marker, cut, out);
    } else if (strstr(low, "certificate issued") || strstr(low, "was issued to you")) {
        out->outcome = PKI_OUTCOME_ISSUED; /* the link part was not kept */
        out->req_id = said;
    }
    g_free(low);
    g_string_free(t, TRUE);
}

/* ------------------------------------------------------------------ */
/* The exchange                                                       */

void pki_dissect(const char *method, const char *uri, const char *request_content_type,
                 byte_span_t request_body, bool request_truncated, int response_status,
                 const char *response_content_type, byte_span_t response_body,
                 bool response_truncated, const cert_patterns_t *patterns, pki_record_t *out)
{
    /* Content types are not trusted: bodies are recognised by what they hold. */
    (void)request_content_type;
    (void)response_content_type;
    if (!out)
        return;
    memset(out, 0, sizeof(*out));
    out->req_id = -1;
    uri_facts_t f;
    classify(method, uri, &f);
    out->kind = f.kind;
    out->step = f.step;
    out->req_id = f.req_id;
    memcpy(out->operation, f.operation, sizeof(out->operation));
    if (f.kind == PKI_NONE)
        return;
    if (!patterns)
        patterns = cert_patterns_default();
    if (!request_body.ptr)
        request_body = no_span;
    if (!response_body.ptr)
        response_body = no_span;
    bool answered = response_status >= 200 && response_status < 300;
    bool uses_request = false, uses_response = false;
    ERR_set_mark();
    switch (f.step) {
    case PKI_STEP_SUBMISSION:
        uses_request = true;
        take_form(request_body, request_truncated, out);
        if (answered) {
            uses_response = true;
            take_answer_page(response_body, response_truncated, out);
        }
        break;
    case PKI_STEP_CERT_RETRIEVAL:
    case PKI_STEP_CHAIN_RETRIEVAL:
    case PKI_STEP_CA_CERT_RETRIEVAL:
        if (!answered || (f.res != RES_CER && f.res != RES_P7B))
            break;
        uses_response = true;
        take_certs(response_body,
                   f.res == RES_CER                         ? WANT_CERT
                   : f.step == PKI_STEP_CHAIN_RETRIEVAL ? WANT_CHAIN_LEAF
                                                            : WANT_CHAIN,
                   patterns, out);
        break;
    case PKI_STEP_EST_SIMPLEENROLL:
    case PKI_STEP_EST_SIMPLEREENROLL:
        uses_request = true;
        take_csr_text(request_body, out);
        if (answered) {
            uses_response = true;
            take_certs(response_body, WANT_CHAIN_FIRST, patterns, out);
        }
        break;
    case PKI_STEP_EST_CACERTS:
    case PKI_STEP_SCEP_GETNEXTCACERT:
        if (answered) {
            uses_response = true;
            take_certs(response_body, WANT_CHAIN, patterns, out);
        }
        break;
    case PKI_STEP_SCEP_GETCACERT:
        if (answered) {
            uses_response = true;
            take_certs(response_body, WANT_CERT, patterns, out);
        }
        break;
    default:
        break;
    }
    ERR_pop_to_mark();
    out->body_truncated = (uses_request && request_truncated) || (uses_response && response_truncated);
}
