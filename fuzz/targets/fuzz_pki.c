/* The bodies of the PKI conversations over HTTP: AD CS web enrollment
 * (certsrv: the answer pages, ReqID, CertAttrib, the URL-encoded CSR,
 * certnew.cer in DER or base64, certnew.p7b), EST (PKCS#10 requests,
 * PKCS#7 answers) and SCEP.  Input:
 *
 *   five lines, each ended by LF: method, URI, the request's Content-Type,
 *   the response status (decimal), the response's Content-Type
 *   u8    bit 0: the request body was cut (body cap), bit 1: the response's
 *   be32  length of the request body
 *   the request body (cut short when the input ends), then the response
 *   body: the rest
 */
#include "../fuzz_target.h"

#include "dissectors/cursor.h"
#include "dissectors/pki.h"

#include <glib.h>
#include <openssl/err.h>
#include <stdlib.h>
#include <string.h>

enum { PKI_HEADER_LINES = 5, REQUEST_CUT = 0x01, RESPONSE_CUT = 0x02 };

/* The next line as a NUL-terminated copy (NULL when no LF is left). */
static char *read_line(cursor_t *c)
{
    cursor_t ahead = *c; /* looked through, not consumed */
    byte_span_t rest = cur_rest(&ahead);
    const uint8_t *lf = rest.len ? memchr(rest.ptr, '\n', rest.len) : NULL;
    if (!lf)
        return NULL;
    size_t len = (size_t)(lf - rest.ptr);
    byte_span_t line = cur_view(c, len);
    cur_skip(c, 1);
    return g_strndup((const char *)line.ptr, line.len);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cursor_t c = cur_make(data, size);
    char *lines[PKI_HEADER_LINES] = { NULL };
    for (unsigned i = 0; i < PKI_HEADER_LINES; i++)
        if (!(lines[i] = read_line(&c)))
            goto done;
    uint8_t flags = cur_u8(&c);
    uint32_t request_length = cur_be32(&c);
    if (!cur_ok(&c))
        goto done;
    size_t take = request_length < cur_remaining(&c) ? request_length : cur_remaining(&c);
    byte_span_t request_body = cur_view(&c, take);
    byte_span_t response_body = cur_rest(&c);
    /* Exact-size copies: a read past either body is seen by ASan. */
    uint8_t *request_copy = g_memdup2(request_body.ptr, request_body.len);
    uint8_t *response_copy = g_memdup2(response_body.ptr, response_body.len);
    int status = atoi(lines[3]);

    pki_step_t step;
    (void)pki_kind_of_request(lines[0], lines[1], &step);
    pki_record_t record;
    pki_dissect(lines[0], lines[1], lines[2], (byte_span_t){ request_copy, request_body.len },
                (flags & REQUEST_CUT) != 0, status, lines[4],
                (byte_span_t){ response_copy, response_body.len }, (flags & RESPONSE_CUT) != 0,
                cert_patterns_default(), &record);
    pki_record_clear(&record);
    /* Errors OpenSSL queued for refused input: see flow_harness.c. */
    ERR_clear_error();
    g_free(request_copy);
    g_free(response_copy);
done:
    for (unsigned i = 0; i < PKI_HEADER_LINES; i++)
        g_free(lines[i]);
    return 0;
}
