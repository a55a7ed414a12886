#include "capf_infer.h"

#include "../dissectors/tls.h"
#include "tls_crypto.h"

/* Upper bounds of each size class (estimated plaintext bytes): the
 * fixed-size messages are 12-13 bytes, a request is 26 + the device name
 * (up to ~64), a CSR ~300, a certificate ~1 kB. */
#define SMALL_MAX 20
#define REQUEST_MAX 100
#define CSR_MAX 700

const char *capf_size_class_name(capf_size_class_t c)
{
    switch (c) {
    case CAPF_SIZE_SMALL: return "hello/continue/ack/end";
    case CAPF_SIZE_REQUEST: return "request";
    case CAPF_SIZE_CSR: return "csr";
    case CAPF_SIZE_CERTIFICATE: return "certificate";
    }
    return "unknown";
}

const char *capf_inferred_outcome_name(capf_inferred_outcome_t o)
{
    switch (o) {
    case CAPF_INFERRED_NONE: return "no_capf_messages";
    case CAPF_INFERRED_DELIVERED: return "certificate_delivered";
    case CAPF_INFERRED_DELIVERED_UNACKED: return "certificate_not_acknowledged";
    case CAPF_INFERRED_REFUSED: return "refused";
    case CAPF_INFERRED_ABORTED: return "aborted";
    case CAPF_INFERRED_NOT_INFERABLE: return "not_inferable";
    }
    return "unknown";
}

/* What the cipher adds to a record's plaintext. */
static size_t overhead(const capf_infer_input_t *in)
{
    const tls_suite_t *suite = tls_suite_lookup(in->cipher_suite);
    if (!suite)
        return 24; /* unknown: assume AES-GCM, the common case */
    switch (suite->kind) {
    case TLS_CIPHER_GCM:
        return 8 + 16; /* explicit nonce + tag */
    case TLS_CIPHER_CHACHA20_POLY1305:
        return 16;
    case TLS_CIPHER_CBC: {
        size_t iv = in->version >= TLS_VERSION_1_1 ? 16 : 0;
        /* padding is 1 to 16 bytes: take the middle */
        return iv + suite->mac_len + 8;
    }
    }
    return 24;
}

void capf_infer_add_record(capf_infer_input_t *in, bool from_client, size_t wire_len)
{
    if (in->record_count >= CAPF_INFER_MAX_RECORDS)
        return;
    capf_record_size_t *r = &in->records[in->record_count++];
    size_t o = overhead(in);
    size_t est = wire_len > o ? wire_len - o : 0;
    r->from_client = from_client;
    r->wire_len = wire_len > UINT16_MAX ? UINT16_MAX : (uint16_t)wire_len;
    r->plaintext_est = est > UINT16_MAX ? UINT16_MAX : (uint16_t)est;
    r->size_class = est <= SMALL_MAX     ? CAPF_SIZE_SMALL
                    : est <= REQUEST_MAX ? CAPF_SIZE_REQUEST
                    : est <= CSR_MAX     ? CAPF_SIZE_CSR
                                         : CAPF_SIZE_CERTIFICATE;
}

capf_inferred_outcome_t capf_infer_outcome(const capf_infer_input_t *in)
{
    if (in->version == TLS_VERSION_1_3 || (in->version >> 8) == 0x7f)
        return CAPF_INFERRED_NOT_INFERABLE;
    if (in->record_count == 0)
        return CAPF_INFERRED_NONE;
    int certificate = -1;
    bool csr = false, request = false;
    for (unsigned i = 0; i < in->record_count; i++) {
        const capf_record_size_t *r = &in->records[i];
        if (!r->from_client && r->size_class == CAPF_SIZE_CERTIFICATE && certificate < 0)
            certificate = (int)i;
        if (r->from_client && r->size_class == CAPF_SIZE_CSR)
            csr = true;
        if (r->from_client && r->size_class == CAPF_SIZE_REQUEST)
            request = true;
    }
    if (certificate >= 0) {
        for (unsigned i = (unsigned)certificate + 1; i < in->record_count; i++)
            if (in->records[i].from_client && in->records[i].size_class == CAPF_SIZE_SMALL)
                return CAPF_INFERRED_DELIVERED;
        return CAPF_INFERRED_DELIVERED_UNACKED;
    }
    if (!request)
        return in->record_count <= 2 ? CAPF_INFERRED_ABORTED : CAPF_INFERRED_NOT_INFERABLE;
    /* After the request: a short server answer and no CSR.  CAPF closes a
     * refused session itself (its end message, then close_notify); a phone
     * that gives up cuts the connection without one. */
    bool server_answered = false;
    for (unsigned i = 0; i < in->record_count; i++) {
        const capf_record_size_t *r = &in->records[i];
        if (!r->from_client && r->size_class == CAPF_SIZE_SMALL && i > 0)
            server_answered = true;
    }
    if (!csr && server_answered && in->any_close_notify && in->server_close_notify_first &&
        !(in->client_closed_first && in->closed_with_rst))
        return CAPF_INFERRED_REFUSED;
    return CAPF_INFERRED_ABORTED;
}
