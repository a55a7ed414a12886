/* A small HTTP/1.1 layer over an SSL connection for the lab's web parties
 * (certsrv-server, ces-client, est-server, est-client): read a request or a
 * response head with a size cap, Content-Length bodies, send responses and
 * requests in one write, URL-decode form and query fields.
 *
 * Parsing is bounded and distrustful: a head larger than HTTP_LAB_HEAD_MAX,
 * more than HTTP_LAB_HEADERS_MAX header lines, a body above the caller's
 * cap, a malformed or repeated-and-different Content-Length, a
 * Transfer-Encoding (not supported here) or folded header lines are refused.
 */
#ifndef ENROLLMON_HTTP_LAB_H
#define ENROLLMON_HTTP_LAB_H

#include <glib.h>
#include <openssl/ssl.h>
#include <stdbool.h>
#include <stddef.h>

#define HTTP_LAB_HEAD_MAX 16384u
#define HTTP_LAB_HEADERS_MAX 64u

typedef enum http_lab_result {
    HTTP_LAB_OK = 0,
    HTTP_LAB_CLOSED,    /* the peer closed before the first byte of a message */
    HTTP_LAB_TIMEOUT,   /* the deadline passed before the message was complete */
    HTTP_LAB_IO_ERROR,  /* TLS/socket error, or closed in the middle of a message */
    HTTP_LAB_MALFORMED, /* not HTTP/1.x as this layer accepts it */
    HTTP_LAB_TOO_LARGE, /* head or body above its cap */
} http_lab_result_t;

const char *http_lab_result_name(http_lab_result_t r);

/* One connection: bytes received and not yet consumed are kept for the
 * next message (keep-alive). */
typedef struct http_lab_conn {
    SSL *ssl;
    unsigned char buf[HTTP_LAB_HEAD_MAX];
    size_t len;
} http_lab_conn_t;

typedef struct http_lab_header {
    const char *name;
    const char *value;
} http_lab_header_t;

/* A parsed message.  The strings point into `head`; `body` is g_malloc'ed,
 * NUL-terminated (not counted in body_len), NULL when there is none. */
typedef struct http_lab_msg {
    char head[HTTP_LAB_HEAD_MAX + 1];
    size_t head_len;
    int minor;               /* HTTP/1.<minor> */
    const char *method;      /* request */
    const char *target;      /* request */
    int status;              /* response */
    const char *reason;      /* response */
    size_t n_headers;
    http_lab_header_t headers[HTTP_LAB_HEADERS_MAX];
    bool has_length;
    size_t content_length;
    unsigned char *body;
    size_t body_len;
} http_lab_msg_t;

void http_lab_conn_init(http_lab_conn_t *c, SSL *ssl);

/* Reads one request: head (at most HTTP_LAB_HEAD_MAX bytes) and its
 * Content-Length body (at most body_cap bytes).  timeout_ms bounds the whole
 * message; negative waits forever.  On any result m is usable with
 * http_lab_msg_clear(). */
http_lab_result_t http_lab_read_request(http_lab_conn_t *c, http_lab_msg_t *m, size_t body_cap,
                                        int timeout_ms);
/* Reads one response; without Content-Length the body runs to the close
 * (still capped).  `head_only`: the request was HEAD (no body). */
http_lab_result_t http_lab_read_response(http_lab_conn_t *c, http_lab_msg_t *m, bool head_only,
                                         size_t body_cap, int timeout_ms);
void http_lab_msg_clear(http_lab_msg_t *m);

/* Value of the first header of that name (case-insensitive), or NULL. */
const char *http_lab_header(const http_lab_msg_t *m, const char *name);
/* Whether the connection stays open after this message (HTTP/1.1 default,
 * "Connection: close", HTTP/1.0 "keep-alive"). */
bool http_lab_keep_alive(const http_lab_msg_t *m);

/* Waits up to ms for nothing to happen on the connection: false as soon as
 * the peer closes or fails (it gave up waiting for an answer), true when
 * the time ran out.  Bytes that arrive meanwhile are kept for the next
 * read (they must fit the buffer, else false). */
bool http_lab_wait_quiet(http_lab_conn_t *c, int ms);

/* Reads and drops what the peer still sends, for up to ms or max bytes,
 * before closing after an error answer: closing with unread bytes would
 * reset the connection and could destroy that answer on its way. */
void http_lab_drain(http_lab_conn_t *c, int ms, size_t max);

/* Status line, `headers` ("Name: value\r\n" each, may be NULL), then
 * Date and Content-Length, an empty line and the body, in one write. */
bool http_lab_send_response(SSL *ssl, int status, const char *reason, const char *headers,
                            const void *body, size_t len);
/* Request line, `headers`, Content-Length when body is not NULL. */
bool http_lab_send_request(SSL *ssl, const char *method, const char *target, const char *headers,
                           const void *body, size_t len);

/* Whether target's path (before '?') equals path, ASCII case-insensitive
 * (IIS does not care about case). */
bool http_lab_path_is(const char *target, const char *path);

/* application/x-www-form-urlencoded: '+' is a space, %XX a byte.  NULL for a
 * broken escape or a decoded NUL.  g_free the result. */
char *http_lab_url_decode(const char *s, size_t len);
/* Encodes for a form value: unreserved characters kept, space as '+'. */
char *http_lab_url_encode(const char *s);
/* Decoded value of the first field `name` in "a=1&b=2" data of len bytes,
 * NULL when absent or undecodable. */
char *http_lab_form_field(const char *data, size_t len, const char *name);
/* The same on the query part of a request target. */
char *http_lab_query_field(const char *target, const char *name);

/* Base64 decoding that refuses anything but the alphabet, '=' padding at
 * the end and white space; NULL when broken or when the result would
 * exceed cap bytes. */
unsigned char *http_lab_base64_decode(const char *s, size_t len, size_t cap, size_t *out_len);
/* Base64 in lines of 64 characters, each ended by "\n". */
char *http_lab_base64_lines(const unsigned char *data, size_t len);

#endif
