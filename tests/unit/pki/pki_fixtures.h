/* Real HTTP bodies of certsrv, EST and SCEP exchanges (pki_fixtures.c). */
#ifndef ENROLLMON_TEST_PKI_FIXTURES_H
#define ENROLLMON_TEST_PKI_FIXTURES_H

extern const char pki_fx_ok_form[];   /* 1115 bytes */
extern const char pki_fx_ok_page[];   /* 1152 bytes */
extern const char pki_fx_ok_cer_b64[];   /* 1277 bytes */
extern const char pki_fx_ok_p7b_der_b64[];   /* 1741 bytes once decoded */
extern const char pki_fx_mismatch_form[];   /* 1117 bytes */
extern const char pki_fx_mismatch_cer_b64[];   /* 1277 bytes */
extern const char pki_fx_rejected_form[];   /* 1138 bytes */
extern const char pki_fx_rejected_page[];   /* 667 bytes */
extern const char pki_fx_est_csr[];   /* 870 bytes */
extern const char pki_fx_est_p7[];   /* 1284 bytes */
extern const char pki_fx_est_cacerts[];   /* 2361 bytes */
extern const char pki_fx_scep_cacert_der_b64[];   /* 829 bytes once decoded */
extern const char pki_fx_scep_cacaps[];   /* 44 bytes */

#endif
