/* NTLMSSP as the lab speaks it: the three messages of the NTLM exchange
 * (negotiate, challenge, authenticate) with their real framing -- the
 * "NTLMSSP\0" signature, message types 1/2/3, negotiate flags, security
 * buffers, version fields, UTF-16LE names, AV pairs in the challenge and an
 * NTLMv2-shaped response (NTProofStr + blob).  The cryptography is NOT
 * NTLMv2: the password hash is MD5 instead of MD4 (which OpenSSL 3 keeps in
 * its legacy provider), so only lab peers understand each other.  Both
 * sides compute the same keyed digest, which is what the lab needs to tell
 * a right password from a wrong one (CA_AUTH_FAILED).
 */
#ifndef ENROLLMON_NTLM_LAB_H
#define ENROLLMON_NTLM_LAB_H

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>

#define NTLM_LAB_NAME_MAX 128 /* bytes of a UTF-8 user, domain or workstation name */

/* 1, 2 or 3 for a well-signed message of that type; 0 otherwise. */
int ntlm_lab_message_type(const unsigned char *msg, size_t len);

/* Type 1, as a client sends first. */
GByteArray *ntlm_lab_negotiate(void);

/* Type 2 from the server: the 8-byte challenge, the NetBIOS domain and
 * computer names and their DNS forms as target information. */
GByteArray *ntlm_lab_challenge(const unsigned char challenge[8], const char *nb_domain,
                               const char *nb_computer, const char *dns_domain,
                               const char *dns_computer);

/* Reads a type 2: its challenge and a copy of its target information
 * (g_byte_array_unref it).  False when malformed. */
bool ntlm_lab_parse_challenge(const unsigned char *msg, size_t len, unsigned char challenge[8],
                              GByteArray **target_info);

/* Type 3 answering a challenge for domain\user with password. */
GByteArray *ntlm_lab_authenticate(const unsigned char challenge[8], const GByteArray *target_info,
                                  const char *domain, const char *user, const char *workstation,
                                  const char *password);

typedef struct ntlm_lab_identity {
    char domain[NTLM_LAB_NAME_MAX + 1];
    char user[NTLM_LAB_NAME_MAX + 1];
    char workstation[NTLM_LAB_NAME_MAX + 1];
} ntlm_lab_identity_t;

typedef enum ntlm_lab_verdict {
    NTLM_LAB_MALFORMED = 0,
    NTLM_LAB_BAD_PASSWORD,
    NTLM_LAB_VERIFIED,
} ntlm_lab_verdict_t;

/* Reads a type 3 and checks its response against challenge and password.
 * `who` is filled whenever the names could be read. */
ntlm_lab_verdict_t ntlm_lab_verify(const unsigned char *msg, size_t len,
                                   const unsigned char challenge[8], const char *password,
                                   ntlm_lab_identity_t *who);

#endif
