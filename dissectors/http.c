#include "http.h"

#include <string.h>

/* Methods of RFC 9110, WebDAV (RFC 4918, 3253, 5323 ...), GENA and
 * Outlook's RPC over HTTP.  None is longer than HTTP_PROBE_LEN - 1. */
static const char *const http_methods[] = {
    "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH",
    "PROPFIND", "PROPPATCH", "MKCOL", "COPY", "MOVE", "LOCK", "UNLOCK", "SEARCH", "REPORT",
    "MKCALENDAR", "ACL", "BIND", "UNBIND", "REBIND", "CHECKOUT", "CHECKIN", "UNCHECKOUT",
    "VERSION-CONTROL", "MERGE", "MKACTIVITY", "MKWORKSPACE", "UPDATE", "LABEL", "ORDERPATCH",
    "NOTIFY", "SUBSCRIBE", "UNSUBSCRIBE", "POLL", "BPROPFIND", "BPROPPATCH", "BCOPY",
    "BDELETE", "BMOVE", "RPC_IN_DATA", "RPC_OUT_DATA",
};

static inline char lower(char ch)
{
    return (ch >= 'A' && ch <= 'Z') ? (char)(ch - 'A' + 'a') : ch;
}

static inline bool is_digit(uint8_t b)
{
    return b >= '0' && b <= '9';
}

static inline bool is_ows(uint8_t b)
{
    return b == ' ' || b == '\t';
}

/* RFC 9110 tchar */
static bool is_tchar(uint8_t b)
{
    if ((b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') || is_digit(b))
        return true;
    return b != 0 && strchr("!#$%&'*+-.^_`|~", b) != NULL;
}

static int hex_value(uint8_t b)
{
    if (is_digit(b))
        return b - '0';
    if (b >= 'a' && b <= 'f')
        return b - 'a' + 10;
    if (b >= 'A' && b <= 'F')
        return b - 'A' + 10;
    return -1;
}

bool http_method_known(const char *method, size_t len)
{
    for (size_t i = 0; i < sizeof(http_methods) / sizeof(http_methods[0]); i++)
        if (strlen(http_methods[i]) == len && memcmp(http_methods[i], method, len) == 0)
            return true;
    return false;
}

/* ------------------------------------------------------------------ */
/* Where a message starts                                               */

http_probe_t http_probe_start(byte_span_t data)
{
    cursor_t c = cur_from_span(data);
    size_t n = cur_remaining(&c) < HTTP_PROBE_LEN ? cur_remaining(&c) : HTTP_PROBE_LEN;
    char buf[HTTP_PROBE_LEN];
    if (n == 0)
        return HTTP_PROBE_NEED_MORE;
    cur_copy(&c, buf, n);

    /* "HTTP/1." DIGIT SP */
    static const char status_prefix[] = "HTTP/1.";
    bool pending = false;
    bool status_ok = true;
    for (size_t i = 0; i < n && i < 9 && status_ok; i++) {
        if (i < 7)
            status_ok = buf[i] == status_prefix[i];
        else if (i == 7)
            status_ok = is_digit((uint8_t)buf[i]);
        else
            status_ok = buf[i] == ' ';
    }
    if (status_ok) {
        if (n >= 9)
            return HTTP_PROBE_YES;
        pending = true;
    }

    for (size_t i = 0; i < sizeof(http_methods) / sizeof(http_methods[0]); i++) {
        size_t len = strlen(http_methods[i]);
        if (n >= len + 1) {
            if (memcmp(buf, http_methods[i], len) == 0 && buf[len] == ' ')
                return HTTP_PROBE_YES;
        } else if (memcmp(buf, http_methods[i], n < len ? n : len) == 0) {
            pending = true; /* a prefix of the method (and its space) */
        }
    }
    return pending ? HTTP_PROBE_NEED_MORE : HTTP_PROBE_NO;
}

bool http_starts_stream(byte_span_t data)
{
    return http_probe_start(data) == HTTP_PROBE_YES;
}

http_frame_status_t http_header_frame(byte_span_t start, size_t cap, size_t *scanned,
                                      size_t *header_len)
{
    *header_len = 0;
    switch (http_probe_start(start)) {
    case HTTP_PROBE_NO:
        return HTTP_FRAME_INVALID;
    case HTTP_PROBE_NEED_MORE:
        return start.len >= cap ? HTTP_FRAME_TOO_LARGE : HTTP_FRAME_NEED_MORE;
    case HTTP_PROBE_YES:
        break;
    }
    cursor_t c = cur_from_span(start);
    size_t from = *scanned < start.len ? *scanned : start.len;
    cur_skip(&c, from);
    for (;;) {
        if (!cur_seek_either(&c, '\n', '\n')) {
            *scanned = cur_offset(&c);
            break;
        }
        size_t lf = cur_offset(&c);
        uint8_t next = cur_peek_u8(&c, 1);
        size_t end = 0;
        if (!cur_has(&c, 2)) {
            *scanned = lf; /* decided by the byte after the LF */
            break;
        }
        if (next == '\n') {
            end = lf + 2;
        } else if (next == '\r') {
            if (!cur_has(&c, 3)) {
                *scanned = lf;
                break;
            }
            if (cur_peek_u8(&c, 2) == '\n')
                end = lf + 3;
        }
        if (end) {
            *scanned = end;
            if (end > cap)
                return HTTP_FRAME_TOO_LARGE;
            *header_len = end;
            return HTTP_FRAME_OK;
        }
        cur_skip(&c, 1);
    }
    return start.len >= cap ? HTTP_FRAME_TOO_LARGE : HTTP_FRAME_NEED_MORE;
}

/* ------------------------------------------------------------------ */
/* Header values                                                        */

const char *http_auth_scheme_name(http_auth_scheme_t scheme)
{
    switch (scheme) {
    case HTTP_AUTH_NONE: return NULL;
    case HTTP_AUTH_NTLM: return "NTLM";
    case HTTP_AUTH_NEGOTIATE: return "Negotiate";
    case HTTP_AUTH_BASIC: return "Basic";
    case HTTP_AUTH_DIGEST: return "Digest";
    case HTTP_AUTH_BEARER: return "Bearer";
    case HTTP_AUTH_OTHER: return "other";
    }
    return NULL;
}

/* Does the span equal the lower-case literal, ignoring case? */
static bool span_ieq(byte_span_t span, const char *lit)
{
    size_t n = strlen(lit);
    cursor_t c = cur_from_span(span);
    if (cur_remaining(&c) != n)
        return false;
    for (size_t i = 0; i < n; i++)
        if (lower((char)cur_u8(&c)) != lit[i])
            return false;
    return true;
}

/* The span without leading and trailing spaces and tabs. */
static byte_span_t trim(byte_span_t span)
{
    cursor_t c = cur_from_span(span);
    while (!cur_empty(&c) && is_ows(cur_peek_u8(&c, 0)))
        cur_skip(&c, 1);
    size_t n = cur_remaining(&c);
    while (n > 0 && is_ows(cur_peek_u8(&c, n - 1)))
        n--;
    return cur_view(&c, n);
}

/* Takes the next element of a comma-separated list (trimmed); false at the end. */
static bool next_element(cursor_t *list, byte_span_t *element)
{
    if (cur_empty(list))
        return false;
    size_t n = 0;
    while (n < cur_remaining(list) && cur_peek_u8(list, n) != ',')
        n++;
    *element = trim(cur_view(list, n));
    if (!cur_empty(list))
        cur_skip(list, 1); /* the comma */
    return true;
}

/* The leading token of a span. */
static byte_span_t leading_token(byte_span_t span, cursor_t *after)
{
    cursor_t c = cur_from_span(span);
    size_t n = 0;
    while (n < cur_remaining(&c) && is_tchar(cur_peek_u8(&c, n)))
        n++;
    byte_span_t tok = cur_view(&c, n);
    if (after)
        *after = c;
    return tok;
}

http_auth_scheme_t http_auth_scheme_of(byte_span_t value)
{
    byte_span_t tok = leading_token(trim(value), NULL);
    if (tok.len == 0)
        return HTTP_AUTH_NONE;
    if (span_ieq(tok, "ntlm"))
        return HTTP_AUTH_NTLM;
    if (span_ieq(tok, "negotiate"))
        return HTTP_AUTH_NEGOTIATE;
    if (span_ieq(tok, "basic"))
        return HTTP_AUTH_BASIC;
    if (span_ieq(tok, "digest"))
        return HTTP_AUTH_DIGEST;
    if (span_ieq(tok, "bearer"))
        return HTTP_AUTH_BEARER;
    return HTTP_AUTH_OTHER;
}

static int base64_value(uint8_t b)
{
    if (b >= 'A' && b <= 'Z')
        return b - 'A';
    if (b >= 'a' && b <= 'z')
        return b - 'a' + 26;
    if (is_digit(b))
        return b - '0' + 52;
    if (b == '+')
        return 62;
    if (b == '/')
        return 63;
    return -1;
}

/* Overwrites bytes that held a token, in a way the compiler keeps. */
static void wipe(uint8_t *buf, size_t len)
{
    volatile uint8_t *p = buf;
    for (size_t i = 0; i < len; i++)
        p[i] = 0;
}

uint8_t http_ntlm_message_type(byte_span_t token)
{
    static const uint8_t signature[8] = { 'N', 'T', 'L', 'M', 'S', 'S', 'P', 0 };
    uint8_t buf[HTTP_NTLM_SCAN];
    size_t n = 0;
    uint32_t acc = 0;
    unsigned bits = 0;
    cursor_t c = cur_from_span(token);
    /* the base64 text up to its padding or the first byte that is not base64 */
    while (!cur_empty(&c) && n < sizeof(buf)) {
        int v = base64_value(cur_u8(&c));
        if (v < 0)
            break;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            buf[n++] = (uint8_t)(acc >> bits);
        }
    }
    acc = 0;
    uint8_t type = HTTP_NTLM_NONE;
    for (size_t i = 0; i + sizeof(signature) + 4 <= n; i++) {
        if (memcmp(buf + i, signature, sizeof(signature)) != 0)
            continue;
        const uint8_t *t = buf + i + sizeof(signature);
        uint32_t v = (uint32_t)t[0] | (uint32_t)t[1] << 8 | (uint32_t)t[2] << 16 |
                     (uint32_t)t[3] << 24;
        if (v >= HTTP_NTLM_NEGOTIATE && v <= HTTP_NTLM_AUTHENTICATE)
            type = (uint8_t)v;
        break;
    }
    wipe(buf, n);
    return type;
}

/* The token68 that follows a scheme ("NTLM TlRM..."): empty when none. */
static byte_span_t auth_token(cursor_t after)
{
    while (!cur_empty(&after) && is_ows(cur_peek_u8(&after, 0)))
        cur_skip(&after, 1);
    size_t n = 0;
    while (n < cur_remaining(&after) && !is_ows(cur_peek_u8(&after, n)) &&
           cur_peek_u8(&after, n) != ',')
        n++;
    return cur_view(&after, n);
}

/* Authorization: the scheme, and for NTLM and Negotiate which NTLM message
 * the token is (never the token itself). */
static void parse_authorization(http_message_t *m, byte_span_t value)
{
    m->authorization = http_auth_scheme_of(value);
    m->authorization_ntlm_type = HTTP_NTLM_NONE;
    if (m->authorization != HTTP_AUTH_NTLM && m->authorization != HTTP_AUTH_NEGOTIATE)
        return;
    cursor_t after;
    leading_token(trim(value), &after);
    m->authorization_ntlm_type = http_ntlm_message_type(auth_token(after));
}

/* Copies text into a fixed field: control bytes become '?'; cut to fit. */
static bool copy_text(char *dst, size_t size, byte_span_t src)
{
    cursor_t c = cur_from_span(src);
    size_t n = cur_remaining(&c);
    bool cut = n > size - 1;
    if (cut)
        n = size - 1;
    for (size_t i = 0; i < n; i++) {
        uint8_t b = cur_u8(&c);
        dst[i] = (b < 0x20 || b == 0x7f) ? '?' : (char)b;
    }
    dst[n] = '\0';
    return !cut;
}

/* Appends a folded continuation (obs-fold) to a text field, joined by a space. */
static bool append_text(char *dst, size_t size, byte_span_t more)
{
    size_t have = strlen(dst);
    if (have + 1 >= size)
        return more.len == 0;
    dst[have] = ' ';
    return copy_text(dst + have + 1, size - have - 1, more);
}

static void parse_content_length(http_message_t *m, byte_span_t value)
{
    cursor_t list = cur_from_span(value);
    byte_span_t el;
    bool any = false;
    while (next_element(&list, &el)) {
        any = true;
        cursor_t c = cur_from_span(el);
        uint64_t v = 0;
        bool ok = !cur_empty(&c);
        while (ok && !cur_empty(&c)) {
            uint8_t b = cur_u8(&c);
            if (!is_digit(b) || v > (UINT64_C(1) << 62) / 10) {
                ok = false;
                break;
            }
            v = v * 10 + (uint64_t)(b - '0');
        }
        if (!ok) {
            m->problems |= HTTP_BAD_CONTENT_LENGTH;
            continue;
        }
        if (m->has_content_length && m->content_length != v)
            m->problems |= HTTP_CONFLICTING_LENGTH;
        m->has_content_length = true;
        m->content_length = v;
    }
    if (!any) {
        m->has_content_length = true;
        m->problems |= HTTP_BAD_CONTENT_LENGTH;
    }
}

static void parse_transfer_encoding(http_message_t *m, byte_span_t value)
{
    cursor_t list = cur_from_span(value);
    byte_span_t el;
    m->has_transfer_encoding = true;
    while (next_element(&list, &el)) {
        if (el.len == 0)
            continue;
        /* transfer-coding parameters follow a ';' */
        cursor_t c = cur_from_span(el);
        size_t n = 0;
        while (n < cur_remaining(&c) && cur_peek_u8(&c, n) != ';')
            n++;
        m->chunked = span_ieq(trim(cur_view(&c, n)), "chunked");
    }
}

static void parse_connection(http_message_t *m, byte_span_t value)
{
    cursor_t list = cur_from_span(value);
    byte_span_t el;
    while (next_element(&list, &el)) {
        if (span_ieq(el, "close"))
            m->connection |= HTTP_CONN_CLOSE;
        else if (span_ieq(el, "keep-alive"))
            m->connection |= HTTP_CONN_KEEP_ALIVE;
        else if (span_ieq(el, "upgrade"))
            m->connection |= HTTP_CONN_UPGRADE;
    }
}

static void parse_expect(http_message_t *m, byte_span_t value)
{
    cursor_t list = cur_from_span(value);
    byte_span_t el;
    while (next_element(&list, &el))
        if (span_ieq(el, "100-continue"))
            m->expect_continue = true;
}

/* WWW-Authenticate: one or more challenges, "scheme [token68 | params]",
 * separated by commas that also separate the parameters.  An element whose
 * leading token is followed by '=' is a parameter; one followed by a space
 * or nothing starts a challenge.  Only the schemes are kept. */
static void parse_www_authenticate(http_message_t *m, byte_span_t value)
{
    cursor_t list = cur_from_span(value);
    byte_span_t el;
    while (next_element(&list, &el)) {
        cursor_t after;
        byte_span_t tok = leading_token(el, &after);
        if (tok.len == 0)
            continue;
        if (!cur_empty(&after)) {
            if (!is_ows(cur_peek_u8(&after, 0)))
                continue; /* "name=value" or a piece of a quoted string */
            while (!cur_empty(&after) && is_ows(cur_peek_u8(&after, 0)))
                cur_skip(&after, 1);
            if (cur_peek_u8(&after, 0) == '=')
                continue; /* "name = value" */
        }
        http_auth_scheme_t s = http_auth_scheme_of(tok);
        if (m->www_authenticate == HTTP_AUTH_NONE)
            m->www_authenticate = s;
        m->www_authenticate_schemes |= 1u << s;
        if ((s == HTTP_AUTH_NTLM || s == HTTP_AUTH_NEGOTIATE) && !m->www_authenticate_token) {
            byte_span_t token = auth_token(after);
            if (token.len) {
                m->www_authenticate_token = true;
                m->www_authenticate_ntlm_type = http_ntlm_message_type(token);
            }
        }
    }
}

/* ------------------------------------------------------------------ */
/* The header block                                                     */

/* Takes the next line (without its CR LF) from c; false at the end. */
static bool next_line(cursor_t *c, byte_span_t *line)
{
    if (cur_empty(c))
        return false;
    size_t n = 0;
    while (n < cur_remaining(c) && cur_peek_u8(c, n) != '\n')
        n++;
    size_t len = n;
    if (len > 0 && cur_peek_u8(c, len - 1) == '\r')
        len--;
    *line = cur_view(c, len);
    cur_skip(c, n - len); /* the CR */
    if (!cur_empty(c))
        cur_skip(c, 1);   /* the LF */
    return true;
}

/* "HTTP/" DIGIT "." DIGIT */
static bool parse_version(cursor_t *c, http_message_t *m)
{
    static const char prefix[] = "HTTP/";
    for (size_t i = 0; i < 5; i++)
        if (cur_u8(c) != (uint8_t)prefix[i])
            return false;
    uint8_t major = cur_u8(c);
    uint8_t dot = cur_u8(c);
    uint8_t minor = cur_u8(c);
    if (!cur_ok(c) || !is_digit(major) || dot != '.' || !is_digit(minor))
        return false;
    m->version_major = (uint8_t)(major - '0');
    m->version_minor = (uint8_t)(minor - '0');
    return true;
}

static void skip_spaces(cursor_t *c)
{
    while (!cur_empty(c) && cur_peek_u8(c, 0) == ' ')
        cur_skip(c, 1);
}

static bool parse_request_line(byte_span_t line, http_message_t *m)
{
    cursor_t c = cur_from_span(line);
    byte_span_t method = leading_token(line, &c);
    if (method.len == 0 || method.len >= HTTP_METHOD_MAX || cur_peek_u8(&c, 0) != ' ')
        return false;
    cursor_t mc = cur_from_span(method);
    char name[HTTP_METHOD_MAX];
    cur_copy(&mc, name, method.len);
    if (!http_method_known(name, method.len))
        return false;
    memcpy(m->method, name, method.len);
    m->method[method.len] = '\0';
    skip_spaces(&c);
    size_t n = 0;
    while (n < cur_remaining(&c) && cur_peek_u8(&c, n) != ' ')
        n++;
    if (n == 0)
        return false;
    byte_span_t uri = cur_view(&c, n);
    m->uri_length = uri.len;
    if (!copy_text(m->uri, sizeof(m->uri), uri))
        m->problems |= HTTP_FIELD_CUT;
    skip_spaces(&c);
    if (!parse_version(&c, m))
        return false;
    m->is_request = true;
    return true;
}

static bool parse_status_line(byte_span_t line, http_message_t *m)
{
    cursor_t c = cur_from_span(line);
    if (!parse_version(&c, m) || m->version_major != 1 || cur_u8(&c) != ' ')
        return false;
    skip_spaces(&c);
    int status = 0;
    for (int i = 0; i < 3; i++) {
        uint8_t b = cur_u8(&c);
        if (!cur_ok(&c) || !is_digit(b))
            return false;
        status = status * 10 + (b - '0');
    }
    if (status < 100)
        return false;
    if (!cur_empty(&c)) {
        if (!is_ows(cur_peek_u8(&c, 0)))
            return false;
        copy_text(m->reason, sizeof(m->reason), trim(cur_rest(&c)));
    }
    m->status = status;
    m->is_request = false;
    return true;
}

/* The text field a header fills (for folded continuations). */
typedef struct text_field {
    char *dst;
    size_t size;
} text_field_t;

bool http_message_parse(byte_span_t block, http_message_t *out)
{
    memset(out, 0, sizeof(*out));
    cursor_t c = cur_from_span(block);
    byte_span_t line;
    if (!next_line(&c, &line))
        return false;
    cursor_t probe = cur_from_span(line);
    bool ok = (cur_remaining(&probe) >= 5 && cur_peek_u8(&probe, 0) == 'H' &&
               cur_peek_u8(&probe, 4) == '/' && cur_peek_u8(&probe, 1) == 'T')
                  ? parse_status_line(line, out)
                  : parse_request_line(line, out);
    if (!ok) {
        memset(out, 0, sizeof(*out));
        return false;
    }
    out->header_len = block.len;

    text_field_t last = { NULL, 0 };
    while (next_line(&c, &line)) {
        if (line.len == 0)
            break; /* the empty line that ends the block */
        cursor_t lc = cur_from_span(line);
        if (is_ows(cur_peek_u8(&lc, 0))) {
            /* obs-fold: continues the previous header's value */
            if (last.dst && !append_text(last.dst, last.size, trim(line)))
                out->problems |= HTTP_FIELD_CUT;
            continue;
        }
        last.dst = NULL;
        size_t n = 0;
        while (n < cur_remaining(&lc) && cur_peek_u8(&lc, n) != ':')
            n++;
        if (n == cur_remaining(&lc) || n == 0) {
            out->problems |= HTTP_BAD_HEADER_LINE;
            continue;
        }
        byte_span_t name = cur_view(&lc, n);
        cur_skip(&lc, 1);
        byte_span_t value = trim(cur_rest(&lc));
        if (leading_token(name, NULL).len != name.len) {
            /* "Name :" or bytes that are no token: RFC 9112 5.1 says reject */
            out->problems |= HTTP_BAD_HEADER_LINE;
            continue;
        }
        out->header_count++;
        text_field_t field = { NULL, 0 };
        bool *has = NULL;
        if (span_ieq(name, "host")) {
            field = (text_field_t){ out->host, sizeof(out->host) };
            has = &out->has_host;
        } else if (span_ieq(name, "user-agent")) {
            field = (text_field_t){ out->user_agent, sizeof(out->user_agent) };
            has = &out->has_user_agent;
        } else if (span_ieq(name, "content-type")) {
            field = (text_field_t){ out->content_type, sizeof(out->content_type) };
            has = &out->has_content_type;
        } else if (span_ieq(name, "content-length")) {
            parse_content_length(out, value);
        } else if (span_ieq(name, "transfer-encoding")) {
            parse_transfer_encoding(out, value);
        } else if (span_ieq(name, "connection")) {
            parse_connection(out, value);
        } else if (span_ieq(name, "expect")) {
            parse_expect(out, value);
        } else if (span_ieq(name, "authorization")) {
            /* the scheme (and NTLM step) only: the credentials stay on the wire */
            parse_authorization(out, value);
        } else if (span_ieq(name, "www-authenticate")) {
            parse_www_authenticate(out, value);
        }
        if (field.dst && !*has) {
            /* the first occurrence counts */
            *has = true;
            if (!copy_text(field.dst, field.size, value))
                out->problems |= HTTP_FIELD_CUT;
            last = field;
        }
    }
    if (out->has_transfer_encoding && out->has_content_length)
        out->problems |= HTTP_LENGTH_AND_CHUNKED;
    if (out->is_request && out->has_transfer_encoding && !out->chunked)
        out->problems |= HTTP_BAD_TRANSFER_ENCODING;
    return true;
}

/* ------------------------------------------------------------------ */
/* Chunked bodies                                                       */

void http_chunked_init(http_chunked_t *st)
{
    memset(st, 0, sizeof(*st));
    st->state = HTTP_CHUNK_SIZE;
}

static http_chunk_result_t chunk_error(http_chunked_t *st)
{
    st->state = HTTP_CHUNK_ERROR;
    return HTTP_CHUNKED_ERROR;
}

/* A size line ended: a chunk of data follows, or the trailers. */
static void size_line_done(http_chunked_t *st)
{
    st->line_len = 0;
    st->size_digits = 0;
    if (st->size == 0) {
        st->state = HTTP_CHUNK_TRAILER_START;
        return;
    }
    st->chunks++;
    st->data_left = st->size;
    st->size = 0;
    st->state = HTTP_CHUNK_DATA;
}

http_chunk_result_t http_chunked_step(http_chunked_t *st, cursor_t *in, byte_span_t *data)
{
    data->ptr = NULL;
    data->len = 0;
    for (;;) {
        if (st->state == HTTP_CHUNK_DONE)
            return HTTP_CHUNKED_DONE;
        if (st->state == HTTP_CHUNK_ERROR)
            return HTTP_CHUNKED_ERROR;
        if (cur_empty(in))
            return HTTP_CHUNKED_MORE;
        if (st->state == HTTP_CHUNK_DATA) {
            size_t n = cur_remaining(in);
            if ((uint64_t)n > st->data_left)
                n = (size_t)st->data_left;
            *data = cur_view(in, n);
            st->data_left -= n;
            st->total += n;
            if (st->data_left == 0)
                st->state = HTTP_CHUNK_DATA_CR;
            return HTTP_CHUNKED_DATA;
        }
        uint8_t b = cur_u8(in);
        switch (st->state) {
        case HTTP_CHUNK_SIZE: {
            if (++st->line_len > HTTP_CHUNK_LINE_MAX)
                return chunk_error(st);
            int v = hex_value(b);
            if (v >= 0) {
                if (st->size > (UINT64_MAX >> 4))
                    return chunk_error(st);
                st->size = (st->size << 4) | (uint64_t)v;
                st->size_digits++;
                break;
            }
            if (st->size_digits == 0)
                return chunk_error(st);
            if (b == ';' || is_ows(b)) {
                st->state = HTTP_CHUNK_EXT;
                if (b == ';')
                    st->extensions = true;
            } else if (b == '\r') {
                st->state = HTTP_CHUNK_SIZE_LF;
            } else if (b == '\n') {
                size_line_done(st);
            } else {
                return chunk_error(st);
            }
            break;
        }
        case HTTP_CHUNK_EXT:
            if (++st->line_len > HTTP_CHUNK_LINE_MAX)
                return chunk_error(st);
            if (b == ';')
                st->extensions = true;
            if (b == '\r')
                st->state = HTTP_CHUNK_SIZE_LF;
            else if (b == '\n')
                size_line_done(st);
            break;
        case HTTP_CHUNK_SIZE_LF:
            if (b != '\n')
                return chunk_error(st);
            size_line_done(st);
            break;
        case HTTP_CHUNK_DATA_CR:
            if (b == '\r')
                st->state = HTTP_CHUNK_DATA_LF;
            else if (b == '\n')
                st->state = HTTP_CHUNK_SIZE;
            else
                return chunk_error(st);
            break;
        case HTTP_CHUNK_DATA_LF:
            if (b != '\n')
                return chunk_error(st);
            st->state = HTTP_CHUNK_SIZE;
            break;
        case HTTP_CHUNK_TRAILER_START:
            if (++st->trailer_len > HTTP_TRAILER_MAX)
                return chunk_error(st);
            if (b == '\r') {
                st->state = HTTP_CHUNK_TRAILER_END_LF;
            } else if (b == '\n') {
                st->state = HTTP_CHUNK_DONE;
            } else {
                st->trailers++;
                st->state = HTTP_CHUNK_TRAILER_LINE;
            }
            break;
        case HTTP_CHUNK_TRAILER_LINE:
            if (++st->trailer_len > HTTP_TRAILER_MAX)
                return chunk_error(st);
            if (b == '\n')
                st->state = HTTP_CHUNK_TRAILER_START;
            break;
        case HTTP_CHUNK_TRAILER_END_LF:
            if (b != '\n')
                return chunk_error(st);
            st->state = HTTP_CHUNK_DONE;
            break;
        case HTTP_CHUNK_DATA:
        case HTTP_CHUNK_DONE:
        case HTTP_CHUNK_ERROR:
            break;
        }
    }
}
