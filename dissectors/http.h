/* HTTP/1.x messages (RFC 9110, RFC 9112): where a message starts, where its
 * header block ends, what the start line and the headers that matter say,
 * and how a chunked body is cut.  Pure: bytes in (through the cursor),
 * records out; every size is bounded.
 *
 * Credentials are never kept: of Authorization and WWW-Authenticate only the
 * scheme (NTLM, Negotiate, Basic, Digest, Bearer) is recorded, never the
 * token or the parameters that follow it.  Of an NTLM or Negotiate token only
 * the NTLM message type is read (which step of the handshake it is), and
 * whether a challenge carries a token at all.
 */
#ifndef ENROLLMON_HTTP_H
#define ENROLLMON_HTTP_H

#include "cursor.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Bytes that decide whether a start line begins at a position: the longest
 * known method and its space, or "HTTP/1.x ". */
#define HTTP_PROBE_LEN 16
/* A header block (start line to the empty line) longer than this is not
 * followed: IIS refuses more than 16 KiB, nginx 8 KiB per line; Kerberos
 * tokens make the largest legitimate ones. */
#define HTTP_HEADER_MAX ((size_t)64 * 1024)
/* A chunk-size line (size and extensions) and all trailer lines together. */
#define HTTP_CHUNK_LINE_MAX ((size_t)4096)
#define HTTP_TRAILER_MAX ((size_t)64 * 1024)

#define HTTP_METHOD_MAX 24
#define HTTP_URI_MAX 2048
#define HTTP_TEXT_MAX 256
#define HTTP_REASON_MAX 96
#define HTTP_CONTENT_TYPE_MAX 128

typedef enum http_probe {
    HTTP_PROBE_NO = 0,
    HTTP_PROBE_YES,
    HTTP_PROBE_NEED_MORE, /* too few bytes to decide */
} http_probe_t;

/* Does a request line (a known method and a space) or a status line
 * ("HTTP/1.x ") start here?  Decided on at most HTTP_PROBE_LEN bytes, so the
 * answer does not depend on how a stream was cut. */
http_probe_t http_probe_start(byte_span_t data);

/* The same, false when undecided: for the first bytes of a stream. */
bool http_starts_stream(byte_span_t data);

/* Known method token (case-sensitive, as RFC 9110 says)?  "GET", "POST",
 * "PROPFIND", ... */
bool http_method_known(const char *method, size_t len);

typedef enum http_frame_status {
    HTTP_FRAME_NEED_MORE = 0, /* no end of the header block yet */
    HTTP_FRAME_OK,            /* the block is header_len bytes, empty line included */
    HTTP_FRAME_INVALID,       /* no request or status line starts here */
    HTTP_FRAME_TOO_LARGE,     /* no end within `cap` bytes */
} http_frame_status_t;

/* Finds the end of the header block that starts at start.ptr: an empty line
 * (CRLF CRLF; a bare LF is taken for CRLF).  *scanned (in/out, 0 the first
 * time) remembers how far the search got, so that a block arriving in many
 * pieces is scanned once.  cap: largest block accepted. */
http_frame_status_t http_header_frame(byte_span_t start, size_t cap, size_t *scanned,
                                      size_t *header_len);

typedef enum http_auth_scheme {
    HTTP_AUTH_NONE = 0,
    HTTP_AUTH_NTLM,
    HTTP_AUTH_NEGOTIATE,
    HTTP_AUTH_BASIC,
    HTTP_AUTH_DIGEST,
    HTTP_AUTH_BEARER,
    HTTP_AUTH_OTHER,
} http_auth_scheme_t;

/* "NTLM", "Negotiate", "Basic", "Digest", "Bearer", "other"; NULL for none. */
const char *http_auth_scheme_name(http_auth_scheme_t scheme);
/* The scheme a credentials or challenge value starts with. */
http_auth_scheme_t http_auth_scheme_of(byte_span_t value);

/* NTLM message types (MS-NLMP 2.2.1). */
enum {
    HTTP_NTLM_NONE = 0,         /* no token, or not NTLMSSP (a Kerberos token) */
    HTTP_NTLM_NEGOTIATE = 1,
    HTTP_NTLM_CHALLENGE = 2,
    HTTP_NTLM_AUTHENTICATE = 3,
};

/* Bytes of a token decoded at most, looking for "NTLMSSP\0" (SPNEGO puts
 * it after the mechanism list). */
#define HTTP_NTLM_SCAN 256

/* The NTLM message type a base64 token (token68 of an NTLM or Negotiate
 * Authorization / WWW-Authenticate value) carries: "NTLMSSP\0" then a
 * little-endian uint32 of 1, 2 or 3, plain or wrapped in SPNEGO within its
 * first HTTP_NTLM_SCAN bytes; HTTP_NTLM_NONE otherwise.  The decoded bytes
 * are wiped before returning. */
uint8_t http_ntlm_message_type(byte_span_t token);

/* Connection header tokens. */
enum {
    HTTP_CONN_CLOSE = 1u << 0,
    HTTP_CONN_KEEP_ALIVE = 1u << 1,
    HTTP_CONN_UPGRADE = 1u << 2,
};

/* What was wrong in a header block that still parsed. */
enum {
    HTTP_BAD_CONTENT_LENGTH = 1u << 0,  /* not a number, or too large */
    HTTP_CONFLICTING_LENGTH = 1u << 1,  /* several Content-Length values that differ */
    HTTP_BAD_TRANSFER_ENCODING = 1u << 2, /* a request whose last coding is not chunked */
    HTTP_BAD_HEADER_LINE = 1u << 3,     /* a line without a colon, or space before it */
    HTTP_LENGTH_AND_CHUNKED = 1u << 4,  /* Content-Length beside Transfer-Encoding */
    HTTP_FIELD_CUT = 1u << 5,           /* a kept text field was longer than its room */
};

typedef struct http_message {
    bool is_request;
    /* start line */
    char method[HTTP_METHOD_MAX];   /* request */
    char uri[HTTP_URI_MAX];         /* request target as sent, cut to fit */
    size_t uri_length;              /* its length on the wire */
    uint8_t version_major;
    uint8_t version_minor;
    int status;                     /* response: 100 to 999 */
    char reason[HTTP_REASON_MAX];
    /* headers (text fields are "" when absent; control bytes become '?') */
    bool has_host;
    char host[HTTP_TEXT_MAX];
    bool has_user_agent;
    char user_agent[HTTP_TEXT_MAX];
    bool has_content_type;
    char content_type[HTTP_CONTENT_TYPE_MAX];
    bool has_content_length;
    uint64_t content_length;        /* valid only with has_content_length and no BAD/CONFLICT */
    bool has_transfer_encoding;
    bool chunked;                   /* Transfer-Encoding ends with chunked */
    unsigned connection;            /* HTTP_CONN_* */
    bool expect_continue;           /* Expect: 100-continue */
    http_auth_scheme_t authorization; /* Authorization: scheme only */
    uint8_t authorization_ntlm_type; /* NTLM/Negotiate: HTTP_NTLM_* of its token */
    http_auth_scheme_t www_authenticate; /* the first challenge's scheme */
    unsigned www_authenticate_schemes; /* bit (1 << scheme) of every challenge */
    /* An NTLM or Negotiate challenge carries a token: the handshake goes on
     * (a bare "NTLM" / "Negotiate" starts it, or refuses what was sent). */
    bool www_authenticate_token;
    uint8_t www_authenticate_ntlm_type; /* HTTP_NTLM_* of the first such token */
    unsigned header_count;
    unsigned problems;              /* HTTP_BAD_* ... */
    size_t header_len;              /* the block, empty line included */
} http_message_t;

/* Invalid or conflicting Content-Length: the message's length is unknown. */
static inline bool http_length_malformed(const http_message_t *m)
{
    return (m->problems & (HTTP_BAD_CONTENT_LENGTH | HTTP_CONFLICTING_LENGTH)) != 0;
}

/* Parses a header block as framed by http_header_frame.  False when it does
 * not begin with a request or status line (nothing else is then set);
 * header problems are flagged in out->problems. */
bool http_message_parse(byte_span_t block, http_message_t *out);

/* ---- chunked bodies ---- */

typedef enum http_chunk_state {
    HTTP_CHUNK_SIZE = 0,
    HTTP_CHUNK_EXT,
    HTTP_CHUNK_SIZE_LF,
    HTTP_CHUNK_DATA,
    HTTP_CHUNK_DATA_CR,
    HTTP_CHUNK_DATA_LF,
    HTTP_CHUNK_TRAILER_START,
    HTTP_CHUNK_TRAILER_LINE,
    HTTP_CHUNK_TRAILER_END_LF,
    HTTP_CHUNK_DONE,
    HTTP_CHUNK_ERROR,
} http_chunk_state_t;

typedef struct http_chunked {
    http_chunk_state_t state;
    uint64_t size;          /* of the chunk whose size line is being read */
    unsigned size_digits;
    size_t line_len;        /* of the size line so far */
    uint64_t data_left;     /* of the chunk being read */
    size_t trailer_len;
    uint64_t total;         /* body bytes (chunk data) so far */
    unsigned chunks;
    bool extensions;        /* a chunk extension was seen */
    unsigned trailers;      /* trailer lines */
} http_chunked_t;

typedef enum http_chunk_result {
    HTTP_CHUNKED_MORE = 0,  /* all input used: more is needed */
    HTTP_CHUNKED_DATA,      /* *data holds body bytes (the input moved past them) */
    HTTP_CHUNKED_DONE,      /* the last chunk and the trailers are read */
    HTTP_CHUNKED_ERROR,     /* not a chunked body (or a bound was passed) */
} http_chunk_result_t;

void http_chunked_init(http_chunked_t *st);

/* Reads from in: framing bytes are consumed; body bytes are handed out one
 * piece per call.  Call until MORE, DONE or ERROR. */
http_chunk_result_t http_chunked_step(http_chunked_t *st, cursor_t *in, byte_span_t *data);

#endif
