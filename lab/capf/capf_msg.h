/* CAPF inner messages (../../shared/docs/capf-wire.md) for the lab's CAPF
 * server and client: building a message field by field, and reading what
 * the peer sent without trusting any of its lengths.
 *
 * Pure encoding and decoding over byte buffers; no I/O (capf_io.h sends and
 * receives them over TLS).  The constants come from dissectors/capf_proto.h.
 */
#ifndef ENROLLMON_LAB_CAPF_MSG_H
#define ENROLLMON_LAB_CAPF_MSG_H

#include "dissectors/capf_proto.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The body length is a 16-bit field. */
#define CAPF_MSG_MAX_BODY 0xffffu
#define CAPF_MSG_MAX (CAPF_HEADER_LEN + CAPF_MSG_MAX_BODY)

/* A message being built: header first, then fields appended. */
typedef struct capf_builder {
    uint8_t buf[CAPF_MSG_MAX];
    size_t len;
    bool overflow;   /* a field did not fit: the message must not be sent */
} capf_builder_t;

void capf_build_begin(capf_builder_t *b, uint8_t opcode, uint32_t session_id);
void capf_build_field(capf_builder_t *b, uint8_t tag, const void *value, size_t len);
void capf_build_u8(capf_builder_t *b, uint8_t tag, uint8_t value);
/* Writes the body length into the header; false when something overflowed. */
bool capf_build_end(capf_builder_t *b);

/* A field inside a body, for nested building (cert package): appends
 * tag/len/value to `out` (capacity `cap`) at *pos; false when it does not fit. */
bool capf_field_encode(uint8_t *out, size_t cap, size_t *pos, uint8_t tag, const void *value,
                       size_t len);

typedef struct capf_header {
    uint8_t opcode;
    uint32_t session_id;
    uint16_t body_len;
} capf_header_t;

/* Parses the 8 header bytes; false when the magic is not 0x55. */
bool capf_header_parse(const uint8_t raw[CAPF_HEADER_LEN], capf_header_t *h);

/* A received message: header and body bytes (body_len of them). */
typedef struct capf_msg {
    capf_header_t h;
    uint8_t body[CAPF_MSG_MAX_BODY];
} capf_msg_t;

typedef struct capf_field {
    uint8_t tag;
    uint16_t len;
    const uint8_t *value;   /* points into the parsed buffer */
} capf_field_t;

/* Walks the fields of a body (or of a nested package). */
typedef struct capf_field_iter {
    const uint8_t *data;
    size_t len;
    size_t pos;
    bool malformed;   /* a field header or value ran past the end */
} capf_field_iter_t;

void capf_field_iter_init(capf_field_iter_t *it, const uint8_t *data, size_t len);
/* true with the next field; false at the end or when malformed (see it->malformed). */
bool capf_field_next(capf_field_iter_t *it, capf_field_t *f);

/* The first field with `tag`; false when absent or when the body is malformed
 * before it.  *malformed (may be NULL) tells the two apart. */
bool capf_field_find(const uint8_t *data, size_t len, uint8_t tag, capf_field_t *f, bool *malformed);
/* A one-byte field's value (a status, an operation); false when absent or not 1 byte. */
bool capf_field_u8(const uint8_t *data, size_t len, uint8_t tag, uint8_t *value);

/* A NUL-terminated ASCII name field (device name) copied to out (cap bytes,
 * NUL included): false when absent, not terminated inside the value, empty,
 * too long or not printable ASCII. */
bool capf_field_name(const uint8_t *data, size_t len, uint8_t tag, char *out, size_t cap);

/* Names for log lines ("continue", "already_issued"); "unknown" when not in the tables. */
const char *capf_opcode_name(uint8_t opcode);
const char *capf_status_name(uint8_t status);

#endif
