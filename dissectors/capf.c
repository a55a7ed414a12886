/* CAPF messages (../shared/docs/capf-wire.md).  Every byte is read through
 * a cursor; a field that claims more bytes than its body holds is kept up to
 * the end of the body and the message is marked malformed, never rejected. */
#include "capf.h"

#include <stdio.h>
#include <string.h>

/* A body is a sequence of fields, each at least a field header long, so a
 * body of 1 or 2 bytes cannot be CAPF; and no message seen comes near this
 * size (a certificate package is about a kilobyte). */
#define CAPF_PLAUSIBLE_BODY_MAX 32768u

capf_parse_status_t capf_frame(byte_span_t start, size_t *total_len)
{
    cursor_t c = cur_from_span(start);
    if (cur_empty(&c))
        return CAPF_PARSE_NEED_MORE;
    if (cur_peek_u8(&c, 0) != CAPF_MAGIC)
        return CAPF_PARSE_INVALID;
    if (!cur_has(&c, CAPF_HEADER_LEN))
        return CAPF_PARSE_NEED_MORE;
    cur_skip(&c, 6); /* magic, opcode, session id */
    uint16_t body_len = cur_be16(&c);
    *total_len = CAPF_HEADER_LEN + (size_t)body_len;
    return CAPF_PARSE_OK;
}

bool capf_starts_stream(byte_span_t data)
{
    cursor_t c = cur_from_span(data);
    if (!cur_has(&c, CAPF_HEADER_LEN))
        return false;
    if (cur_u8(&c) != CAPF_MAGIC)
        return false;
    if (!capf_opcode_lookup(cur_u8(&c)))
        return false;
    cur_skip(&c, 4); /* session id: any value */
    uint16_t body_len = cur_be16(&c);
    if (body_len > CAPF_PLAUSIBLE_BODY_MAX)
        return false;
    if (body_len > 0 && body_len < CAPF_FIELD_HEADER_LEN)
        return false;
    if (body_len >= CAPF_FIELD_HEADER_LEN && cur_has(&c, CAPF_FIELD_HEADER_LEN)) {
        /* The first field must fit in the body. */
        cur_skip(&c, 1);
        uint16_t first_len = cur_be16(&c);
        if ((size_t)first_len > (size_t)body_len - CAPF_FIELD_HEADER_LEN)
            return false;
    }
    return true;
}

/* The device name: up to the NUL, printable ASCII as it is, anything else
 * (and the backslash, so the form stays unambiguous) as \xNN.  Cut at a
 * whole character when the buffer is full. */
static void device_name(byte_span_t value, char out[CAPF_DEVICE_MAX])
{
    cursor_t c = cur_from_span(value);
    size_t n = 0;
    out[0] = '\0';
    while (!cur_empty(&c)) {
        uint8_t b = cur_u8(&c);
        if (b == 0)
            break;
        char piece[5];
        if (b >= 0x20 && b <= 0x7e && b != '\\') {
            piece[0] = (char)b;
            piece[1] = '\0';
        } else {
            snprintf(piece, sizeof(piece), "\\x%02x", b);
        }
        size_t plen = strlen(piece);
        if (n + plen >= CAPF_DEVICE_MAX)
            break;
        memcpy(out + n, piece, plen + 1);
        n += plen;
    }
}

static void keep_field(capf_message_t *out, uint8_t tag, uint16_t len, uint8_t depth, byte_span_t value)
{
    out->fields_total++;
    if (out->field_count >= CAPF_MAX_FIELDS)
        return;
    capf_field_t *f = &out->fields[out->field_count++];
    f->tag = tag;
    f->len = len;
    f->depth = depth;
    f->value = value;
}

/* The certificate inside a package: `00 01` and then the DER. */
static void package_certificate(byte_span_t value, capf_message_t *out)
{
    cursor_t c = cur_from_span(value);
    if (cur_peek_u8(&c, 0) != 0x00 || cur_peek_u8(&c, 1) != 0x01 || !cur_has(&c, 3))
        return;
    if (out->certificate.len)
        return; /* the first one counts */
    cur_skip(&c, 2);
    out->certificate = cur_rest(&c);
}

static void interpret(capf_message_t *out, uint8_t tag, uint8_t depth, byte_span_t value, bool whole)
{
    if (depth == 1) {
        if (tag == CAPF_PACKAGE_TAG_CERT && whole)
            package_certificate(value, out);
        return;
    }
    cursor_t c = cur_from_span(value);
    switch (tag) {
    case CAPF_TAG_DEVICE_NAME:
        if (!out->has_device) {
            out->has_device = true;
            device_name(value, out->device);
        }
        break;
    case CAPF_TAG_STATUS:
    case CAPF_TAG_CERT_STATUS:
        if (tag == CAPF_TAG_CERT_STATUS && out->opcode != CAPF_OP_CERTIFICATE)
            break;
        if (!out->has_status && whole && value.len == 1) {
            out->has_status = true;
            out->status = cur_u8(&c);
        }
        break;
    case CAPF_TAG_PUBLIC_KEY:
        if (out->opcode == CAPF_OP_CSR && whole && value.len && !out->public_key.len)
            out->public_key = value;
        break;
    default:
        break;
    }
}

/* Walks the fields of a body (depth 0) or of a certificate package (depth 1). */
static void parse_fields(cursor_t *body, uint8_t depth, capf_message_t *out)
{
    while (!cur_empty(body)) {
        if (!cur_has(body, CAPF_FIELD_HEADER_LEN)) {
            /* A field header cut by the end of the body. */
            out->malformed = true;
            cur_rest(body);
            return;
        }
        uint8_t tag = cur_u8(body);
        uint16_t len = cur_be16(body);
        bool whole = cur_has(body, len);
        if (!whole)
            out->malformed = true;
        byte_span_t value = cur_view(body, whole ? len : cur_remaining(body));
        keep_field(out, tag, len, depth, value);
        interpret(out, tag, depth, value, whole);
        if (depth == 0 && tag == CAPF_TAG_CERT_PACKAGE) {
            cursor_t package = cur_from_span(value);
            parse_fields(&package, 1, out);
        }
    }
}

capf_parse_status_t capf_message_parse(byte_span_t message, capf_message_t *out)
{
    memset(out, 0, sizeof(*out));
    size_t total = 0;
    capf_parse_status_t st = capf_frame(message, &total);
    if (st != CAPF_PARSE_OK)
        return st;
    if (message.len < total)
        return CAPF_PARSE_NEED_MORE;
    cursor_t c = cur_from_span(message);
    cur_skip(&c, 1); /* magic */
    out->opcode = cur_u8(&c);
    out->session_id = cur_be32(&c);
    out->body_len = cur_be16(&c);
    cursor_t body = cur_sub(&c, out->body_len);
    parse_fields(&body, 0, out);
    return cur_ok(&c) ? CAPF_PARSE_OK : CAPF_PARSE_NEED_MORE;
}
