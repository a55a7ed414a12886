/* CAPF messages (../shared/docs/capf-wire.md): framing and fields.
 *
 * magic 0x55 | opcode | session id (4) | body length (2) | fields, each
 * tag (1) | length (2) | value, where a certificate package holds fields of
 * the same shape.  Every known constant comes from capf_proto.h; unknown
 * opcodes and tags are kept and reported by number, never dropped.
 */
#ifndef ENROLLMON_CAPF_H
#define ENROLLMON_CAPF_H

#include "capf_proto.h"
#include "cursor.h"

#include <stdbool.h>
#include <stdint.h>

typedef enum capf_parse_status {
    CAPF_PARSE_OK = 0,
    CAPF_PARSE_NEED_MORE, /* a valid start; the message is not complete yet */
    CAPF_PARSE_INVALID,   /* not a CAPF message (wrong magic) */
} capf_parse_status_t;

/* The first bytes of a message: total length (header + body) once known. */
capf_parse_status_t capf_frame(byte_span_t start, size_t *total_len);

/* Does this look like the start of a CAPF stream (magic, known opcode,
 * sane length)?  For CAPF in plaintext on the CAPF port. */
bool capf_starts_stream(byte_span_t data);

#define CAPF_MAX_FIELDS 32
#define CAPF_DEVICE_MAX 64

typedef struct capf_field {
    uint8_t tag;
    uint16_t len;
    uint8_t depth;        /* 0: in the body; 1: inside a certificate package */
    byte_span_t value;
} capf_field_t;

typedef struct capf_message {
    uint8_t opcode;
    uint32_t session_id;
    uint16_t body_len;
    unsigned field_count;   /* fields kept in fields[] */
    unsigned fields_total;  /* fields seen (more than CAPF_MAX_FIELDS are counted only) */
    capf_field_t fields[CAPF_MAX_FIELDS];
    bool malformed;         /* a field's length runs past the body: kept up to there */
    bool has_device;
    char device[CAPF_DEVICE_MAX]; /* printable ASCII; other bytes escaped */
    bool has_status;
    uint8_t status;         /* tag 0x01, or tag 0x03 in a certificate message */
    byte_span_t public_key; /* tag 0x09: DER SubjectPublicKeyInfo (the "CSR"), or empty */
    byte_span_t certificate; /* DER certificate from the certificate package, or empty */
} capf_message_t;

/* Parses one complete message (as framed by capf_frame). */
capf_parse_status_t capf_message_parse(byte_span_t message, capf_message_t *out);

#endif
