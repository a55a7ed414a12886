/* The CSR behind each certsrv request number, for the whole run.
 *
 * AD CS web enrollment submits the CSR in one request (certfnsh.asp, whose
 * answer page names the ReqID) and hands out the certificate in another
 * (certnew.cer?ReqID=n), often on a new connection and, for a request left
 * pending, hours later.  Remembering which CSR each ReqID of each CA stands
 * for lets the certificate be checked against the key that asked for it
 * wherever it is retrieved.
 */
#ifndef ENROLLMON_CERTSRV_REQUESTS_H
#define ENROLLMON_CERTSRV_REQUESTS_H

#include "../dissectors/decode.h"
#include "memcap.h"

#include <glib.h>
#include <stdbool.h>

typedef struct certsrv_requests certsrv_requests_t;

#define CERTSRV_REQUESTS_DEFAULT_MAX 4096

/* max_requests: request numbers held at once, the oldest forgotten first
 * (0: the default).  memcap may be NULL. */
certsrv_requests_t *certsrv_requests_new(memcap_t *memcap, unsigned max_requests);
void certsrv_requests_free(certsrv_requests_t *t);

/* Records the CSR's modulus MD5 (32 hex digits) for request req_id at
 * the CA at server. */
void certsrv_requests_note(certsrv_requests_t *t, const ip_addr_t *server, long req_id,
                           const char *csr_modulus_md5);

/* The CSR's modulus MD5 for that request, or NULL when it was not seen.
 * Not for a table shared between threads: use certsrv_requests_csr_copy. */
const char *certsrv_requests_csr(const certsrv_requests_t *t, const ip_addr_t *server, long req_id);

/* The same, copied into out (33 bytes); false when it was not seen. */
bool certsrv_requests_csr_copy(const certsrv_requests_t *t, const ip_addr_t *server, long req_id,
                               char out[33]);

/* Several workers share the table: every call takes this lock (and the
 * memcap given at creation is only touched under it). */
void certsrv_requests_set_lock(certsrv_requests_t *t, GRecMutex *lock);

#endif
