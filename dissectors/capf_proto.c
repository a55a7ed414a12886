#include "capf_proto.h"

const capf_name_t capf_opcodes[] = {
    { CAPF_OP_SERVER_HELLO, "server_hello", "Server hello" },
    { CAPF_OP_REQUEST, "request", "Certificate operation request" },
    { CAPF_OP_CONTINUE, "continue", "Continue" },
    { CAPF_OP_CSR, "csr", "Certificate signing request (public key)" },
    { CAPF_OP_CERTIFICATE, "certificate", "Issued certificate" },
    { CAPF_OP_ACK, "ack", "Acknowledgement" },
    { CAPF_OP_END_SESSION, "end_session", "End of session" },
};
const size_t capf_opcode_count = sizeof(capf_opcodes) / sizeof(capf_opcodes[0]);

const capf_name_t capf_tags[] = {
    { CAPF_TAG_STATUS, "status", "Status" },
    { CAPF_TAG_CERT_STATUS, "cert_status", "Certificate status" },
    { CAPF_TAG_CERT_PACKAGE, "cert_package", "Certificate package" },
    { CAPF_TAG_OPERATION, "operation", "Operation" },
    { CAPF_TAG_PUBLIC_KEY, "public_key", "Public key" },
    { CAPF_TAG_KEY_SIZE, "key_size", "Key size" },
    { CAPF_TAG_DEVICE_NAME, "device_name", "Device name" },
};
const size_t capf_tag_count = sizeof(capf_tags) / sizeof(capf_tags[0]);

const capf_name_t capf_statuses[] = {
    { CAPF_STATUS_OK, "ok", "OK" },
    { CAPF_STATUS_ALREADY_ISSUED, "already_issued", "Refused: a certificate was already issued to this device" },
    { CAPF_STATUS_DEVICE_UNKNOWN, "device_unknown", "Refused: no device with this name" },
};
const size_t capf_status_count = sizeof(capf_statuses) / sizeof(capf_statuses[0]);

static const capf_name_t *lookup(const capf_name_t *table, size_t count, uint8_t value)
{
    for (size_t i = 0; i < count; i++)
        if (table[i].value == value)
            return &table[i];
    return NULL;
}

const capf_name_t *capf_opcode_lookup(uint8_t opcode)
{
    return lookup(capf_opcodes, capf_opcode_count, opcode);
}

const capf_name_t *capf_tag_lookup(uint8_t tag)
{
    return lookup(capf_tags, capf_tag_count, tag);
}

const capf_name_t *capf_status_lookup(uint8_t status)
{
    return lookup(capf_statuses, capf_status_count, status);
}
