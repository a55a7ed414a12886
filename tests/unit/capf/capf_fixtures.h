/* Test helpers for the CAPF unit tests: messages built by hand, hex
 * decoding, and real messages from the lab captures (capf_fixtures.c).
 */
#ifndef ENROLLMON_TEST_CAPF_FIXTURES_H
#define ENROLLMON_TEST_CAPF_FIXTURES_H

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct capf_fixture_msg {
    bool to_server;     /* sent by the phone (the TCP client) */
    const char *hex;
} capf_fixture_msg_t;

/* capf-enroll-ok-tls12: hello, request, continue, CSR, certificate, ack, end. */
extern const capf_fixture_msg_t capf_fixture_enroll_ok[];
extern const size_t capf_fixture_enroll_ok_count;
/* capf-key-mismatch: the CSR (0x04) and the certificate (0x09). */
extern const capf_fixture_msg_t capf_fixture_key_mismatch[];
extern const size_t capf_fixture_key_mismatch_count;
extern const char capf_fixture_enroll_ok_cert_md5[];
extern const char capf_fixture_enroll_ok_csr_md5[];
extern const char capf_fixture_key_mismatch_cert_md5[];
extern const char capf_fixture_key_mismatch_csr_md5[];

/* Hex text to bytes in a heap block of exactly the decoded size. */
uint8_t *capf_test_unhex(const char *hex, size_t *len);

/* A message: header with a zero body length, fields appended, then
 * capf_test_end() writes the body length (or leaves it as set when
 * capf_test_end_len() says otherwise). */
GByteArray *capf_test_begin(uint8_t opcode, uint32_t session_id);
void capf_test_field(GByteArray *m, uint8_t tag, const void *value, size_t len);
void capf_test_u8(GByteArray *m, uint8_t tag, uint8_t value);
void capf_test_end(GByteArray *m);
/* A field header claiming `claimed` bytes, then only `value` (len bytes). */
void capf_test_field_lying(GByteArray *m, uint8_t tag, uint16_t claimed, const void *value, size_t len);

/* An exact-size heap copy (ASan catches any read past it). */
uint8_t *capf_test_copy(const uint8_t *data, size_t len);

#endif
