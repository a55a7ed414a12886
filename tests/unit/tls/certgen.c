#include "certgen.h"

#include <openssl/asn1.h>
#include <openssl/bn.h>
#include <openssl/x509v3.h>
#include <stdarg.h>
#include <stdio.h>

EVP_PKEY *certgen_key_ec(void)
{
    EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    g_assert_nonnull(key);
    return key;
}

EVP_PKEY *certgen_key_rsa(unsigned bits)
{
    EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)bits);
    g_assert_nonnull(key);
    return key;
}

X509_NAME *certgen_name(const char *field, ...)
{
    X509_NAME *name = X509_NAME_new();
    g_assert_nonnull(name);
    va_list ap;
    va_start(ap, field);
    for (const char *f = field; f; f = va_arg(ap, const char *)) {
        const char *value = va_arg(ap, const char *);
        g_assert_nonnull(value);
        int ok = X509_NAME_add_entry_by_txt(name, f, MBSTRING_UTF8, (const unsigned char *)value,
                                            -1, -1, 0);
        g_assert_cmpint(ok, ==, 1);
    }
    va_end(ap);
    return name;
}

static void add_extension(X509 *cert, X509V3_CTX *ctx, int nid, const char *value)
{
    if (!value)
        return;
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, ctx, nid, value);
    g_assert_nonnull(ext);
    g_assert_cmpint(X509_add_ext(cert, ext, -1), ==, 1);
    X509_EXTENSION_free(ext);
}

X509 *certgen_cert(const certgen_spec_t *spec)
{
    g_assert_nonnull(spec->subject);
    g_assert_nonnull(spec->subject_key);
    X509 *cert = X509_new();
    g_assert_nonnull(cert);
    g_assert_cmpint(X509_set_version(cert, spec->version1 ? X509_VERSION_1 : X509_VERSION_3), ==, 1);

    BIGNUM *bn = NULL;
    const char *serial = spec->serial_hex ? spec->serial_hex : "1A2B3C";
    g_assert_cmpint(BN_hex2bn(&bn, serial), >, 0);
    ASN1_INTEGER *ai = BN_to_ASN1_INTEGER(bn, NULL);
    g_assert_nonnull(ai);
    g_assert_cmpint(X509_set_serialNumber(cert, ai), ==, 1);
    ASN1_INTEGER_free(ai);
    BN_free(bn);

    g_assert_cmpint(X509_set_subject_name(cert, spec->subject), ==, 1);
    g_assert_cmpint(X509_set_issuer_name(cert, spec->issuer ? spec->issuer : spec->subject), ==, 1);
    time_t nb = (time_t)(spec->not_before ? spec->not_before : 1547647502);
    time_t na = (time_t)(spec->not_after ? spec->not_after : 2524608000);
    g_assert_nonnull(ASN1_TIME_set(X509_getm_notBefore(cert), nb));
    g_assert_nonnull(ASN1_TIME_set(X509_getm_notAfter(cert), na));
    g_assert_cmpint(X509_set_pubkey(cert, spec->subject_key), ==, 1);

    if (!spec->version1) {
        X509V3_CTX ctx;
        X509V3_set_ctx(&ctx, cert, cert, NULL, NULL, 0);
        add_extension(cert, &ctx, NID_basic_constraints, spec->basic_constraints);
        add_extension(cert, &ctx, NID_key_usage, spec->key_usage);
        add_extension(cert, &ctx, NID_subject_alt_name, spec->subject_alt_name);
    } else {
        g_assert_null(spec->basic_constraints);
        g_assert_null(spec->key_usage);
        g_assert_null(spec->subject_alt_name);
    }

    EVP_PKEY *signer = spec->signer ? spec->signer : spec->subject_key;
    g_assert_cmpint(X509_sign(cert, signer, EVP_sha256()), >, 0);
    return cert;
}

uint8_t *certgen_der(X509 *cert, size_t *len)
{
    unsigned char *der = NULL;
    int n = i2d_X509(cert, &der);
    g_assert_cmpint(n, >, 0);
    uint8_t *copy = g_memdup2(der, (gsize)n);
    OPENSSL_free(der);
    *len = (size_t)n;
    return copy;
}

uint8_t *certgen_name_der(const X509_NAME *name, size_t *len)
{
    unsigned char *der = NULL;
    int n = i2d_X509_NAME(name, &der);
    g_assert_cmpint(n, >, 0);
    uint8_t *copy = g_memdup2(der, (gsize)n);
    OPENSSL_free(der);
    *len = (size_t)n;
    return copy;
}

uint8_t *certgen_cert_der(const certgen_spec_t *spec, size_t *len)
{
    X509 *cert = certgen_cert(spec);
    uint8_t *der = certgen_der(cert, len);
    X509_free(cert);
    return der;
}

void certgen_sha1_hex(const uint8_t *data, size_t len, char out[41])
{
    static const char digits[] = "0123456789abcdef";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    static const uint8_t nothing[1] = { 0 };
    g_assert_cmpint(EVP_Digest(data ? data : nothing, len, md, &md_len, EVP_sha1(), NULL), ==, 1);
    g_assert_cmpuint(md_len, ==, 20);
    for (unsigned i = 0; i < md_len; i++) {
        out[2 * i] = digits[md[i] >> 4];
        out[2 * i + 1] = digits[md[i] & 0x0f];
    }
    out[40] = '\0';
}
