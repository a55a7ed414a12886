/* HTTP/1.x on a connection (plain TCP, or decrypted TLS): requests and
 * responses of both directions cut out of their byte streams, paired in
 * order (pipelining and keep-alive), one `http` event per exchange.
 *
 * Bodies are framed (Content-Length, chunked, up to the close) and skipped
 * without being held, except in the PKI conversations (AD CS web
 * enrollment, EST, SCEP: pki_kind_of_request decides from the request
 * line), whose request and response bodies are kept up to
 * limits.http_body_cap each and handed to pki_dissect when the exchange
 * completes.
 *
 * A direction whose framing is lost (bytes missing, bytes that are not
 * HTTP, a header block over HTTP_HEADER_MAX) looks for the next request or
 * status line at the start of a line and goes on from there.  After a 101
 * Switching Protocols or a CONNECT tunnel the connection is no longer HTTP
 * and is not followed further.
 *
 * Memory: the connection state and each exchange are charged to the
 * global cap (memcap_reserve with no account, as the CAPF state is); header
 * blocks spanning deliveries and kept bodies are buffers, charged to the
 * flow's own cap as well.  Everything is returned by http_flow_end.
 */
#ifndef ENROLLMON_HTTP_FLOW_H
#define ENROLLMON_HTTP_FLOW_H

#include "../dissectors/http.h"
#include "../dissectors/pki.h"
#include "../dissectors/x509.h"
#include "analysis.h"
#include "flow.h"

#include <stdbool.h>
#include <stdint.h>

/* Requests waiting for their response, per connection; beyond it the
 * oldest is reported without a response (no_response, queue_overflow). */
#define HTTP_MAX_PENDING 32
/* 1xx statuses kept per exchange (all are counted). */
#define HTTP_INTERIM_KEPT 4
/* A direction that loses its framing more often than this is given up. */
#define HTTP_MAX_RESYNCS 16

/* One request/response pair, or a request left without a response, or a
 * response whose request was not seen.  What the `http` event carries. */
struct http_exchange {
    /* ---- the request ---- */
    bool has_request;             /* false: a response without its request */
    uint64_t seq;                 /* the request's number on its connection (1-based); 0 without one */
    char method[HTTP_METHOD_MAX];
    char uri[HTTP_URI_MAX];       /* as sent; cut to fit (uri_truncated) */
    bool uri_truncated;
    uint8_t request_version[2];   /* major, minor */
    bool has_host;
    char host[HTTP_TEXT_MAX];
    bool has_user_agent;
    char user_agent[HTTP_TEXT_MAX];
    bool has_request_content_type;
    char request_content_type[HTTP_CONTENT_TYPE_MAX];
    uint64_t request_length;      /* body bytes seen (chunked: decoded) */
    bool request_chunked;
    bool expect_continue;
    http_auth_scheme_t authorization; /* the scheme of Authorization only */
    uint8_t authorization_ntlm_type; /* NTLM/Negotiate: HTTP_NTLM_* of its token (never the token) */
    unsigned request_problems;    /* HTTP_BAD_* of the request's header block */
    bool request_complete;        /* the whole body was seen */
    packet_info_t request_first;  /* where the request began */
    packet_info_t request_at;     /* where it was complete (else: last seen) */

    /* ---- the response ---- */
    bool has_response;            /* a final (non-1xx) response */
    int status;                   /* 0 without a response */
    char reason[HTTP_REASON_MAX];
    uint8_t response_version[2];
    bool has_content_type;
    char content_type[HTTP_CONTENT_TYPE_MAX];
    uint64_t response_length;     /* body bytes seen (chunked: decoded) */
    bool response_chunked;
    http_auth_scheme_t www_authenticate; /* the first challenge's scheme */
    unsigned www_authenticate_schemes;   /* bit (1 << scheme) of every challenge */
    bool www_authenticate_token;  /* an NTLM/Negotiate challenge carries a token: a handshake step */
    uint8_t www_authenticate_ntlm_type;  /* HTTP_NTLM_* of that token */
    unsigned response_problems;
    bool response_complete;       /* the whole body was seen */
    unsigned interim_count;       /* 1xx responses before the final one (100 Continue) */
    int interim_status[HTTP_INTERIM_KEPT]; /* the first of them, in order */
    packet_info_t response_first; /* where the final response's header block completed */
    packet_info_t response_at;    /* where the response was complete */
    int64_t response_ms;          /* request complete -> response header; -1 unknown */

    /* ---- how it ended ---- */
    bool no_response;             /* the connection ended (or the queue overflowed) first */
    int64_t waited_ms;            /* no_response: from the request to the last packet */
    bool queue_overflow;          /* no_response because HTTP_MAX_PENDING were waiting */
    bool response_lost;           /* a gap took the response's header */
    bool no_request;              /* the response came without a request (capture started late) */
    bool request_lost;            /* ... because a gap took it */
    bool request_gap;             /* bytes of the request body were missing */
    bool response_gap;            /* bytes of the response body were missing */
    bool request_truncated;       /* the kept request body was cut (cap, memory) */
    bool response_truncated;      /* the kept response body was cut */

    /* ---- PKI (kind PKI_NONE when the exchange is no PKI conversation) ---- */
    pki_kind_t pki_kind;          /* from the request line, decided when it arrived */
    pki_step_t pki_step;
    bool pki_dissected;           /* pki holds pki_dissect's record */
    pki_record_t pki;
    /* The certificate against the CSR: this exchange's own CSR, or for
     * certsrv the last CSR submitted earlier on the connection. */
    bool cert_match_known;
    bool cert_matches_csr;
    bool csr_from_earlier;        /* csr_modulus_md5 comes from an earlier exchange */
    char csr_modulus_md5[CERT_MODULUS_MD5_HEX_LEN + 1];
    char cert_modulus_md5[CERT_MODULUS_MD5_HEX_LEN + 1];

    /* ---- kept bodies (private to http_flow.c) ---- */
    uint8_t *body[2];             /* [0] request, [1] response */
    size_t body_len[2];
    size_t body_alloc[2];         /* charged to the flow's memory */
    bool keep_body;               /* a PKI exchange: bodies are kept */
    unsigned refs;                /* holders: the pending queue or a direction reading it */
    bool emitted;
};

typedef enum http_dir_state {
    HTTP_DIR_START = 0,     /* at a message boundary */
    HTTP_DIR_HEADER,        /* gathering a header block */
    HTTP_DIR_BODY,          /* a body of known length */
    HTTP_DIR_CHUNKED,       /* a chunked body */
    HTTP_DIR_UNTIL_CLOSE,   /* a response body that ends with the connection */
    HTTP_DIR_RESYNC,        /* framing lost: looking for a request or status line */
    HTTP_DIR_TUNNEL,        /* after 101 or CONNECT: not HTTP any more */
    HTTP_DIR_GIVEN_UP,      /* lost its framing more than HTTP_MAX_RESYNCS times */
} http_dir_state_t;

/* One direction's framing. */
typedef struct http_dir {
    http_dir_state_t state;
    uint8_t *hdr;                 /* a header block spanning deliveries */
    size_t hdr_len;
    size_t hdr_alloc;             /* charged to the flow's memory */
    size_t hdr_scanned;
    packet_info_t hdr_first;      /* where the block began */
    uint64_t body_left;           /* HTTP_DIR_BODY */
    http_chunked_t chunk;         /* HTTP_DIR_CHUNKED */
    http_exchange_t *ex;          /* the exchange whose body is being read, or NULL */
    bool body_is_request;
    bool line_start;              /* RESYNC: the next byte begins a line */
    uint8_t probe[HTTP_PROBE_LEN]; /* RESYNC: undecided bytes at a line start */
    uint8_t probe_len;
    unsigned resyncs;
    uint64_t gaps;
    uint64_t skipped_bytes;       /* passed over while looking for a start line */
    uint64_t messages;            /* header blocks parsed */
    packet_info_t last_at;        /* the last packet that brought bytes */
} http_dir_t;

struct http_conn {
    http_dir_t dir[2];            /* by flow direction */
    http_exchange_t *pending[HTTP_MAX_PENDING]; /* ring: requests without a final response;
                                                   NULL for one not kept (memory) */
    unsigned pending_head;
    unsigned pending_count;
    unsigned requests_lost;       /* request headers a gap took, not yet matched */
    bool upgraded;                /* 101 or CONNECT: the rest is not HTTP */
    /* certsrv: the last CSR submitted on the connection (certfnsh.asp),
     * compared with a certificate fetched later (certnew.cer). */
    char last_csr_modulus_md5[CERT_MODULUS_MD5_HEX_LEN + 1];
    /* counts */
    uint64_t requests;
    uint64_t responses;
    uint64_t interim_responses;
    uint64_t exchanges_emitted;
    uint64_t exchanges_not_kept;  /* no memory for the exchange: framed, not reported */
    uint64_t oversize_headers;    /* header blocks over HTTP_HEADER_MAX */
    uint64_t malformed_length;    /* invalid or conflicting Content-Length */
    uint64_t bodies_truncated;    /* kept bodies cut by limits.http_body_cap or memory */
    uint64_t queue_overflows;
};

/* Ordered bytes of one direction (plain TCP, or decrypted TLS application
 * data).  dir: the flow direction (DIR_TO_SERVER / DIR_TO_CLIENT), which
 * indexes the framing state; from_client: the TCP/TLS client sent them.
 * Messages are told apart by their start line (a response in the client's
 * direction is still a response).  Emits an `http` event when an exchange's
 * response completes. */
void http_flow_data(analysis_t *a, flow_t *flow, int dir, bool from_client, byte_span_t data);

/* Bytes of a direction were lost: the message being read is given up (a
 * response's exchange is reported as it stands) and the direction looks
 * for the next request or status line. */
void http_flow_gap(analysis_t *a, flow_t *flow, int dir);

/* The connection is over: a response read up to the close is complete,
 * requests left without a response are reported (no_response, waited_ms),
 * and the state is freed, returning its memory.  Safe without HTTP state. */
void http_flow_end(analysis_t *a, flow_t *flow);

/* The flow's HTTP state, or NULL. */
static inline const http_conn_t *http_flow_conn(const flow_t *flow)
{
    return flow->http;
}

/* The `auth` of the event: the request's Authorization scheme, else the
 * response's first WWW-Authenticate challenge; HTTP_AUTH_NONE for neither. */
http_auth_scheme_t http_exchange_auth(const http_exchange_t *ex);

#endif
