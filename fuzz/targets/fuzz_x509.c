/* X.509 handling: a DER certificate parsed (names, validity, extensions,
 * key), classified (LSC, MIC, CAPF, CA, ...) and written as the JSON the
 * events carry; the same bytes also read as a distinguished name and as a
 * SubjectPublicKeyInfo (the modulus digest compared with CSRs).  Input: DER
 * bytes, as a certificate message or a PKCS#7 would hand them over. */
#include "../fuzz_target.h"

#include "dissectors/x509.h"
#include "output/cert_json.h"
#include "output/json.h"

#include <glib.h>
#include <openssl/err.h>

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    byte_span_t der = { data, size };
    const cert_patterns_t *patterns = cert_patterns_default();
    cert_info_t info;
    if (x509_cert_parse(der, patterns, &info)) {
        (void)cert_kind_name(x509_classify(&info, patterns));
        GString *out = g_string_new(NULL);
        json_t j;
        json_init(&j, out);
        json_object_begin(&j, NULL);
        cert_json_write(&j, "certificate", &info);
        json_object_end(&j);
        g_string_free(out, TRUE);
    }
    x509_cert_info_clear(&info);

    g_free(x509_name_der_format(der));
    char md5[CERT_MODULUS_MD5_HEX_LEN + 1];
    (void)x509_spki_modulus_md5(der, md5);
    /* Errors OpenSSL queued for refused input: see flow_harness.c. */
    ERR_clear_error();
    return 0;
}
