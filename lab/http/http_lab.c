#include "http_lab.h"

#include "lab.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

const char *http_lab_result_name(http_lab_result_t r)
{
    switch (r) {
    case HTTP_LAB_OK:
        return "ok";
    case HTTP_LAB_CLOSED:
        return "closed by the peer";
    case HTTP_LAB_TIMEOUT:
        return "timed out";
    case HTTP_LAB_IO_ERROR:
        return "connection error";
    case HTTP_LAB_MALFORMED:
        return "malformed message";
    case HTTP_LAB_TOO_LARGE:
        return "message too large";
    }
    return "?";
}

void http_lab_conn_init(http_lab_conn_t *c, SSL *ssl)
{
    c->ssl = ssl;
    c->len = 0;
}

void http_lab_msg_clear(http_lab_msg_t *m)
{
    g_free(m->body);
    m->body = NULL;
    m->body_len = 0;
}

static void msg_reset(http_lab_msg_t *m)
{
    m->head[0] = '\0';
    m->head_len = 0;
    m->minor = 1;
    m->method = m->target = m->reason = NULL;
    m->status = 0;
    m->n_headers = 0;
    m->has_length = false;
    m->content_length = 0;
    m->body = NULL;
    m->body_len = 0;
}

/* Milliseconds left before deadline_us (monotonic); -1 for no deadline. */
static int remaining_ms(gint64 deadline_us)
{
    if (deadline_us < 0)
        return -1;
    gint64 left = deadline_us - g_get_monotonic_time();
    if (left <= 0)
        return 0;
    gint64 ms = (left + 999) / 1000;
    return ms > INT32_MAX ? INT32_MAX : (int)ms;
}

/* Up to cap bytes into dst; *n = 0 when the peer closed cleanly. */
static http_lab_result_t read_more(SSL *ssl, void *dst, size_t cap, gint64 deadline_us, size_t *n)
{
    *n = 0;
    long got = lab_tls_read_some(ssl, dst, cap, remaining_ms(deadline_us));
    if (got > 0) {
        *n = (size_t)got;
        return HTTP_LAB_OK;
    }
    if (got == 0)
        return HTTP_LAB_OK;
    if (deadline_us >= 0 && g_get_monotonic_time() >= deadline_us)
        return HTTP_LAB_TIMEOUT;
    return HTTP_LAB_IO_ERROR;
}

static void consume(http_lab_conn_t *c, size_t n)
{
    memmove(c->buf, c->buf + n, c->len - n);
    c->len -= n;
}

/* Moves a complete head (through the empty line) from the connection
 * buffer into m->head. */
static http_lab_result_t read_head(http_lab_conn_t *c, http_lab_msg_t *m, gint64 deadline_us)
{
    size_t scanned = 0;
    for (;;) {
        for (size_t i = scanned; i + 4 <= c->len; i++) {
            if (memcmp(c->buf + i, "\r\n\r\n", 4) == 0) {
                size_t head_len = i + 4;
                memcpy(m->head, c->buf, head_len);
                m->head[head_len] = '\0';
                m->head_len = head_len;
                consume(c, head_len);
                return HTTP_LAB_OK;
            }
        }
        scanned = c->len >= 3 ? c->len - 3 : 0;
        if (c->len == sizeof(c->buf))
            return HTTP_LAB_TOO_LARGE;
        size_t n;
        http_lab_result_t r = read_more(c->ssl, c->buf + c->len, sizeof(c->buf) - c->len, deadline_us, &n);
        if (r != HTTP_LAB_OK)
            return r;
        if (n == 0)
            return c->len == 0 ? HTTP_LAB_CLOSED : HTTP_LAB_IO_ERROR;
        c->len += n;
    }
}

static bool is_tchar(unsigned char ch)
{
    return g_ascii_isalnum(ch) || (ch != '\0' && strchr("!#$%&'*+-.^_`|~", ch) != NULL);
}

/* Visible characters, obs-text, space and tab: what a header value or a
 * reason phrase may hold. */
static bool is_text(unsigned char ch)
{
    return ch == '\t' || ch == ' ' || (ch >= 0x21 && ch != 0x7f);
}

/* "HTTP/1.x" at p; the minor version in *minor. */
static bool parse_version(const char *p, int *minor)
{
    if (strncmp(p, "HTTP/1.", 7) != 0 || !g_ascii_isdigit(p[7]))
        return false;
    *minor = p[7] - '0';
    return true;
}

static bool parse_request_line(char *line, http_lab_msg_t *m)
{
    char *p = line;
    while (is_tchar((unsigned char)*p))
        p++;
    if (p == line || p - line > 16 || *p != ' ')
        return false;
    *p++ = '\0';
    m->method = line;
    char *target = p;
    while ((unsigned char)*p >= 0x21 && (unsigned char)*p < 0x7f)
        p++;
    if (p == target || *p != ' ')
        return false;
    *p++ = '\0';
    m->target = target;
    return parse_version(p, &m->minor) && p[8] == '\0';
}

static bool parse_status_line(char *line, http_lab_msg_t *m)
{
    if (!parse_version(line, &m->minor) || line[8] != ' ')
        return false;
    char *p = line + 9;
    if (!g_ascii_isdigit(p[0]) || !g_ascii_isdigit(p[1]) || !g_ascii_isdigit(p[2]))
        return false;
    m->status = (p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0');
    if (m->status < 100)
        return false;
    p += 3;
    if (*p == '\0') {
        m->reason = p;
        return true;
    }
    if (*p != ' ')
        return false;
    m->reason = ++p;
    for (; *p; p++)
        if (!is_text((unsigned char)*p))
            return false;
    return true;
}

static http_lab_result_t parse_content_length(http_lab_msg_t *m, const char *v)
{
    if (*v == '\0')
        return HTTP_LAB_MALFORMED;
    size_t n = 0;
    for (const char *p = v; *p; p++) {
        if (!g_ascii_isdigit(*p))
            return HTTP_LAB_MALFORMED;
        if (n > (SIZE_MAX - 9) / 10)
            return HTTP_LAB_TOO_LARGE;
        n = n * 10 + (size_t)(*p - '0');
    }
    if (m->has_length && m->content_length != n)
        return HTTP_LAB_MALFORMED;
    m->has_length = true;
    m->content_length = n;
    return HTTP_LAB_OK;
}

/* Splits m->head into the start line and header fields, in place. */
static http_lab_result_t parse_head(http_lab_msg_t *m, bool request)
{
    char *p = m->head;
    char *end = m->head + m->head_len - 2; /* the final CRLF: the empty line */
    bool first = true;
    while (p < end) {
        char *eol = p;
        while (eol < end && *eol != '\r' && *eol != '\n' && *eol != '\0')
            eol++;
        if (eol + 1 >= m->head + m->head_len || eol[0] != '\r' || eol[1] != '\n')
            return HTTP_LAB_MALFORMED; /* bare CR or LF, or a NUL */
        eol[0] = eol[1] = '\0';
        if (first) {
            if (!(request ? parse_request_line(p, m) : parse_status_line(p, m)))
                return HTTP_LAB_MALFORMED;
            first = false;
        } else {
            if (*p == ' ' || *p == '\t')
                return HTTP_LAB_MALFORMED; /* obsolete line folding */
            char *colon = p;
            while (is_tchar((unsigned char)*colon))
                colon++;
            if (colon == p || *colon != ':')
                return HTTP_LAB_MALFORMED;
            *colon = '\0';
            char *v = colon + 1;
            while (*v == ' ' || *v == '\t')
                v++;
            char *ve = v + strlen(v);
            for (char *q = v; q < ve; q++)
                if (!is_text((unsigned char)*q))
                    return HTTP_LAB_MALFORMED;
            while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
                *--ve = '\0';
            if (m->n_headers == HTTP_LAB_HEADERS_MAX)
                return HTTP_LAB_TOO_LARGE;
            m->headers[m->n_headers].name = p;
            m->headers[m->n_headers].value = v;
            m->n_headers++;
            if (g_ascii_strcasecmp(p, "Content-Length") == 0) {
                http_lab_result_t r = parse_content_length(m, v);
                if (r != HTTP_LAB_OK)
                    return r;
            } else if (g_ascii_strcasecmp(p, "Transfer-Encoding") == 0) {
                return HTTP_LAB_MALFORMED; /* chunked bodies are not spoken here */
            }
        }
        p = eol + 2;
    }
    return first ? HTTP_LAB_MALFORMED : HTTP_LAB_OK;
}

static http_lab_result_t read_body_length(http_lab_conn_t *c, http_lab_msg_t *m, size_t cap,
                                          gint64 deadline_us)
{
    size_t want = m->content_length;
    if (want > cap)
        return HTTP_LAB_TOO_LARGE;
    m->body = g_malloc(want + 1);
    size_t have = c->len < want ? c->len : want;
    memcpy(m->body, c->buf, have);
    consume(c, have);
    while (have < want) {
        size_t n;
        http_lab_result_t r = read_more(c->ssl, m->body + have, want - have, deadline_us, &n);
        if (r != HTTP_LAB_OK)
            return r;
        if (n == 0)
            return HTTP_LAB_IO_ERROR;
        have += n;
    }
    m->body[want] = '\0';
    m->body_len = want;
    return HTTP_LAB_OK;
}

static http_lab_result_t read_body_to_close(http_lab_conn_t *c, http_lab_msg_t *m, size_t cap,
                                            gint64 deadline_us)
{
    GByteArray *acc = g_byte_array_new();
    http_lab_result_t r = HTTP_LAB_OK;
    g_byte_array_append(acc, c->buf, (guint)c->len);
    c->len = 0;
    for (;;) {
        if (acc->len > cap) {
            r = HTTP_LAB_TOO_LARGE;
            break;
        }
        unsigned char chunk[4096];
        size_t n;
        r = read_more(c->ssl, chunk, sizeof(chunk), deadline_us, &n);
        if (r != HTTP_LAB_OK || n == 0)
            break;
        g_byte_array_append(acc, chunk, (guint)n);
    }
    if (r == HTTP_LAB_OK) {
        m->body_len = acc->len;
        g_byte_array_append(acc, (const guint8 *)"", 1);
        m->body = g_byte_array_free(acc, FALSE);
    } else {
        g_byte_array_free(acc, TRUE);
    }
    return r;
}

static gint64 deadline_from(int timeout_ms)
{
    return timeout_ms < 0 ? -1 : g_get_monotonic_time() + (gint64)timeout_ms * 1000;
}

http_lab_result_t http_lab_read_request(http_lab_conn_t *c, http_lab_msg_t *m, size_t body_cap,
                                        int timeout_ms)
{
    gint64 deadline = deadline_from(timeout_ms);
    msg_reset(m);
    http_lab_result_t r = read_head(c, m, deadline);
    if (r == HTTP_LAB_OK)
        r = parse_head(m, true);
    if (r == HTTP_LAB_OK && m->has_length && m->content_length > 0)
        r = read_body_length(c, m, body_cap, deadline);
    return r;
}

http_lab_result_t http_lab_read_response(http_lab_conn_t *c, http_lab_msg_t *m, bool head_only,
                                         size_t body_cap, int timeout_ms)
{
    gint64 deadline = deadline_from(timeout_ms);
    msg_reset(m);
    http_lab_result_t r = read_head(c, m, deadline);
    if (r == HTTP_LAB_OK)
        r = parse_head(m, false);
    if (r != HTTP_LAB_OK)
        return r;
    if (head_only || m->status < 200 || m->status == 204 || m->status == 304)
        return HTTP_LAB_OK;
    if (m->has_length)
        return m->content_length > 0 ? read_body_length(c, m, body_cap, deadline) : HTTP_LAB_OK;
    return read_body_to_close(c, m, body_cap, deadline);
}

const char *http_lab_header(const http_lab_msg_t *m, const char *name)
{
    for (size_t i = 0; i < m->n_headers; i++)
        if (g_ascii_strcasecmp(m->headers[i].name, name) == 0)
            return m->headers[i].value;
    return NULL;
}

/* Whether a comma-separated header value lists token (case-insensitive). */
static bool list_has(const char *value, const char *token)
{
    size_t tl = strlen(token);
    const char *p = value;
    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        const char *e = p;
        while (*e && *e != ',')
            e++;
        const char *t = e;
        while (t > p && (t[-1] == ' ' || t[-1] == '\t'))
            t--;
        if ((size_t)(t - p) == tl && g_ascii_strncasecmp(p, token, tl) == 0)
            return true;
        p = e;
    }
    return false;
}

bool http_lab_keep_alive(const http_lab_msg_t *m)
{
    const char *conn = http_lab_header(m, "Connection");
    if (conn && list_has(conn, "close"))
        return false;
    if (m->minor == 0)
        return conn && list_has(conn, "keep-alive");
    return true;
}

bool http_lab_wait_quiet(http_lab_conn_t *c, int ms)
{
    gint64 deadline = deadline_from(ms);
    for (;;) {
        int left = remaining_ms(deadline);
        if (left == 0)
            return true;
        if (c->len == sizeof(c->buf)) {
            lab_sleep_ms(left);
            return true;
        }
        long n = lab_tls_read_some(c->ssl, c->buf + c->len, sizeof(c->buf) - c->len, left);
        if (n > 0) {
            c->len += (size_t)n;
            continue;
        }
        if (n < 0 && g_get_monotonic_time() >= deadline)
            return true;
        return false;
    }
}

void http_lab_drain(http_lab_conn_t *c, int ms, size_t max)
{
    gint64 deadline = deadline_from(ms);
    size_t total = 0;
    c->len = 0;
    while (total < max) {
        int left = remaining_ms(deadline);
        if (left == 0)
            break;
        long n = lab_tls_read_some(c->ssl, c->buf, sizeof(c->buf), left);
        if (n <= 0)
            break;
        total += (size_t)n;
    }
    c->len = 0;
}

static void add_date(GString *s)
{
    time_t now = time(NULL);
    struct tm tm;
    char date[64];
    gmtime_r(&now, &tm);
    strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
    g_string_append_printf(s, "Date: %s\r\n", date);
}

static bool send_all(SSL *ssl, GString *s, const void *body, size_t len)
{
    if (body && len)
        g_string_append_len(s, body, (gssize)len);
    bool ok = lab_tls_write(ssl, s->str, s->len);
    g_string_free(s, TRUE);
    return ok;
}

bool http_lab_send_response(SSL *ssl, int status, const char *reason, const char *headers,
                            const void *body, size_t len)
{
    GString *s = g_string_new(NULL);
    g_string_append_printf(s, "HTTP/1.1 %d %s\r\n", status, reason);
    if (headers)
        g_string_append(s, headers);
    add_date(s);
    g_string_append_printf(s, "Content-Length: %zu\r\n\r\n", body ? len : 0);
    return send_all(ssl, s, body, len);
}

bool http_lab_send_request(SSL *ssl, const char *method, const char *target, const char *headers,
                           const void *body, size_t len)
{
    GString *s = g_string_new(NULL);
    g_string_append_printf(s, "%s %s HTTP/1.1\r\n", method, target);
    if (headers)
        g_string_append(s, headers);
    if (body)
        g_string_append_printf(s, "Content-Length: %zu\r\n", len);
    g_string_append(s, "\r\n");
    return send_all(ssl, s, body, len);
}

bool http_lab_path_is(const char *target, const char *path)
{
    size_t n = strcspn(target, "?");
    return n == strlen(path) && g_ascii_strncasecmp(target, path, n) == 0;
}

char *http_lab_url_decode(const char *s, size_t len)
{
    char *out = g_malloc(len + 1);
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        char ch = s[i];
        if (ch == '+') {
            ch = ' ';
        } else if (ch == '%') {
            if (i + 2 >= len || !g_ascii_isxdigit(s[i + 1]) || !g_ascii_isxdigit(s[i + 2])) {
                g_free(out);
                return NULL;
            }
            ch = (char)(g_ascii_xdigit_value(s[i + 1]) * 16 + g_ascii_xdigit_value(s[i + 2]));
            i += 2;
        }
        if (ch == '\0') {
            g_free(out);
            return NULL;
        }
        out[o++] = ch;
    }
    out[o] = '\0';
    return out;
}

char *http_lab_url_encode(const char *s)
{
    GString *out = g_string_new(NULL);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (g_ascii_isalnum(*p) || *p == '-' || *p == '.' || *p == '_' || *p == '~')
            g_string_append_c(out, (char)*p);
        else if (*p == ' ')
            g_string_append_c(out, '+');
        else
            g_string_append_printf(out, "%%%02X", *p);
    }
    return g_string_free(out, FALSE);
}

char *http_lab_form_field(const char *data, size_t len, const char *name)
{
    size_t i = 0;
    while (i < len) {
        size_t e = i;
        while (e < len && data[e] != '&')
            e++;
        size_t eq = i;
        while (eq < e && data[eq] != '=')
            eq++;
        char *key = http_lab_url_decode(data + i, eq - i);
        bool match = key && strcmp(key, name) == 0;
        g_free(key);
        if (match)
            return eq < e ? http_lab_url_decode(data + eq + 1, e - eq - 1) : g_strdup("");
        i = e + 1;
    }
    return NULL;
}

char *http_lab_query_field(const char *target, const char *name)
{
    const char *q = strchr(target, '?');
    if (!q)
        return NULL;
    q++;
    return http_lab_form_field(q, strcspn(q, "#"), name);
}

static int b64_value(unsigned char ch)
{
    if (ch >= 'A' && ch <= 'Z')
        return ch - 'A';
    if (ch >= 'a' && ch <= 'z')
        return ch - 'a' + 26;
    if (ch >= '0' && ch <= '9')
        return ch - '0' + 52;
    if (ch == '+')
        return 62;
    if (ch == '/')
        return 63;
    return -1;
}

unsigned char *http_lab_base64_decode(const char *s, size_t len, size_t cap, size_t *out_len)
{
    unsigned char *out = g_malloc(len / 4 * 3 + 3);
    size_t o = 0, chars = 0, pad = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n')
            continue;
        if (ch == '=') {
            if (++pad > 2)
                goto fail;
            continue;
        }
        int v = b64_value(ch);
        if (v < 0 || pad)
            goto fail;
        chars++;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (o == cap)
                goto fail;
            out[o++] = (unsigned char)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    if (chars % 4 == 1 || (pad && (chars + pad) % 4 != 0))
        goto fail;
    *out_len = o;
    return out;
fail:
    g_free(out);
    return NULL;
}

char *http_lab_base64_lines(const unsigned char *data, size_t len)
{
    gchar *flat = g_base64_encode(data, len);
    size_t n = strlen(flat);
    GString *s = g_string_sized_new(n + n / 64 + 2);
    for (size_t i = 0; i < n; i += 64) {
        g_string_append_len(s, flat + i, (gssize)(n - i < 64 ? n - i : 64));
        g_string_append_c(s, '\n');
    }
    g_free(flat);
    return g_string_free(s, FALSE);
}
