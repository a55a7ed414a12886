/* CAPF protocol constants (../shared/docs/capf-wire.md), written once.
 *
 * The dissector, the lab's CAPF server and client, and the exported
 * Wireshark plugin all take opcode, tag and status names from these tables,
 * so they cannot drift apart.  Every constant is "observed", not specified:
 * values not listed here are reported by number, never rejected.
 */
#ifndef ENROLLMON_CAPF_PROTO_H
#define ENROLLMON_CAPF_PROTO_H

#include <stddef.h>
#include <stdint.h>

#define CAPF_DEFAULT_PORT 3804
#define CAPF_MAGIC 0x55
#define CAPF_HEADER_LEN 8        /* magic, opcode, session id (4), body length (2) */
#define CAPF_FIELD_HEADER_LEN 3  /* tag, length (2) */

enum capf_opcode {
    CAPF_OP_SERVER_HELLO = 0x01,   /* server -> client: opens the session, carries its id */
    CAPF_OP_REQUEST = 0x02,        /* client -> server: certificate operation for a device */
    CAPF_OP_CONTINUE = 0x03,       /* server -> client: accepted, go on */
    CAPF_OP_CSR = 0x04,            /* client -> server: the public key to certify */
    CAPF_OP_CERTIFICATE = 0x09,    /* server -> client: the issued certificate */
    CAPF_OP_ACK = 0x0a,            /* client -> server: acknowledgement */
    CAPF_OP_END_SESSION = 0x0f,    /* server -> client: end, or refusal right after a request */
};

enum capf_tag {
    CAPF_TAG_STATUS = 0x01,
    CAPF_TAG_CERT_STATUS = 0x03,   /* status inside a certificate message */
    CAPF_TAG_CERT_PACKAGE = 0x04,  /* nested fields: 0x01 = 00 01 + DER certificate */
    CAPF_TAG_OPERATION = 0x07,     /* 0x03 in the hello, 0x02 in the request */
    CAPF_TAG_PUBLIC_KEY = 0x09,    /* minimal DER: rsaEncryption + BIT STRING(modulus, exponent) */
    CAPF_TAG_KEY_SIZE = 0x0a,      /* 08 00 seen: 2048 */
    CAPF_TAG_DEVICE_NAME = 0x0d,   /* NUL-terminated ASCII: SEP74A02FC0A675, CSF123 */
};

#define CAPF_PACKAGE_TAG_CERT 0x01 /* inside CAPF_TAG_CERT_PACKAGE */

enum capf_status {
    CAPF_STATUS_OK = 0x01,
    CAPF_STATUS_ALREADY_ISSUED = 0x07,
    CAPF_STATUS_DEVICE_UNKNOWN = 0x09,
};

typedef struct capf_name {
    uint8_t value;
    const char *name;        /* machine name, as in events: "certificate" */
    const char *label;       /* for people: "Issued certificate" */
} capf_name_t;

/* The tables themselves, for generators (the Wireshark plugin export). */
extern const capf_name_t capf_opcodes[];
extern const size_t capf_opcode_count;
extern const capf_name_t capf_tags[];
extern const size_t capf_tag_count;
extern const capf_name_t capf_statuses[];
extern const size_t capf_status_count;

/* NULL when the value is not known. */
const capf_name_t *capf_opcode_lookup(uint8_t opcode);
const capf_name_t *capf_tag_lookup(uint8_t tag);
const capf_name_t *capf_status_lookup(uint8_t status);

#endif
