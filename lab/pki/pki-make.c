/* Keys and certificates of the test PKI, made with OpenSSL 3's C API. */
#include "pki.h"

#include <glib.h>

#include <errno.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <string.h>

/* Never prompt for a pass phrase: the lab's keys are unencrypted. */
static int no_pass_phrase(char *buf, int size, int rwflag, void *u)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    (void)u;
    return -1;
}

EVP_PKEY *pki_new_key(const char *name)
{
    EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)PKI_KEY_BITS);
    if (key == NULL) {
        char what[256];
        snprintf(what, sizeof(what), "RSA key generation for %s failed", name);
        lab_ssl_errors(PKI_PROG, what);
    }
    return key;
}

EVP_PKEY *pki_load_key(const char *path, bool *missing)
{
    char what[PKI_PATH_MAX + 64];
    *missing = false;
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        if (errno == ENOENT) {
            *missing = true;
            return NULL;
        }
        lab_say(PKI_PROG, "%s: %s", path, strerror(errno));
        return NULL;
    }
    EVP_PKEY *key = PEM_read_PrivateKey(f, NULL, no_pass_phrase, NULL);
    fclose(f);
    if (key == NULL) {
        snprintf(what, sizeof(what), "%s: cannot read the private key", path);
        lab_ssl_errors(PKI_PROG, what);
        return NULL;
    }
    if (!EVP_PKEY_is_a(key, "RSA")) {
        lab_say(PKI_PROG, "%s: not an RSA key (%s); delete it or run without --reuse",
                path, EVP_PKEY_get0_type_name(key));
        EVP_PKEY_free(key);
        return NULL;
    }
    return key;
}

/* Adds one extension written in openssl.cnf syntax ("critical,CA:TRUE"). */
static bool add_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value, const char *name)
{
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, ctx, nid, value);
    bool ok = ext != NULL && X509_add_ext(x, ext, -1) == 1;
    X509_EXTENSION_free(ext);
    if (!ok) {
        char *what = g_strdup_printf("%s: cannot add extension %s = %s", name, OBJ_nid2sn(nid), value);
        lab_ssl_errors(PKI_PROG, what);
        g_free(what);
    }
    return ok;
}

static bool set_name(X509 *x, const char *cn)
{
    X509_NAME *n = X509_get_subject_name(x);
    return X509_NAME_add_entry_by_txt(n, "O", MBSTRING_UTF8,
                                      (const unsigned char *)PKI_ORGANIZATION, -1, -1, 0) == 1
        && X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1,
                                      -1, 0) == 1;
}

static bool set_time(X509 *x, const char *when, bool not_before)
{
    ASN1_TIME *t = ASN1_TIME_new();
    bool ok = t != NULL && ASN1_TIME_set_string_X509(t, when) == 1
        && (not_before ? X509_set1_notBefore(x, t) : X509_set1_notAfter(x, t)) == 1;
    ASN1_TIME_free(t);
    return ok;
}

static bool add_extensions(X509 *x, const pki_spec_t *s, X509 *issuer)
{
    X509V3_CTX ctx;
    X509V3_set_ctx(&ctx, issuer != NULL ? issuer : x, x, NULL, NULL, 0);
    const char *bc, *ku, *eku;
    switch (s->role) {
    case PKI_ROOT:
    case PKI_SUB_CA:
        bc = "critical,CA:TRUE";
        ku = "critical,keyCertSign,cRLSign";
        eku = NULL;
        break;
    case PKI_CA_SERVER:
        /* CAPF and CallManager: self-signed TLS server certificates that are
         * also trust anchors, and CAPF issues the LSCs. */
        bc = "critical,CA:TRUE";
        ku = "critical,digitalSignature,keyEncipherment,keyCertSign,cRLSign";
        eku = "serverAuth,clientAuth";
        break;
    case PKI_SERVER:
        bc = "CA:FALSE";
        ku = "critical,digitalSignature,keyEncipherment";
        eku = "serverAuth,clientAuth";
        break;
    case PKI_PHONE:
    default:
        bc = "CA:FALSE";
        ku = "critical,digitalSignature,keyEncipherment";
        eku = "clientAuth";
        break;
    }
    if (!add_ext(x, &ctx, NID_basic_constraints, bc, s->name)
        || !add_ext(x, &ctx, NID_key_usage, ku, s->name)
        || (eku != NULL && !add_ext(x, &ctx, NID_ext_key_usage, eku, s->name))
        || !add_ext(x, &ctx, NID_subject_key_identifier, "hash", s->name)
        || (issuer != NULL
            && !add_ext(x, &ctx, NID_authority_key_identifier, "keyid:always", s->name)))
        return false;
    if (s->san_dns != NULL) {
        char san[256];
        snprintf(san, sizeof(san), "DNS:%s", s->san_dns);
        if (!add_ext(x, &ctx, NID_subject_alt_name, san, s->name))
            return false;
    }
    return true;
}

X509 *pki_make_cert(const pki_spec_t *s, EVP_PKEY *key, X509 *issuer, EVP_PKEY *issuer_key)
{
    char what[256];
    X509 *x = X509_new();
    if (x == NULL || X509_set_version(x, X509_VERSION_3) != 1
        || ASN1_INTEGER_set(X509_get_serialNumber(x), s->serial) != 1
        || !set_name(x, s->cn)
        || X509_set_issuer_name(x, X509_get_subject_name(issuer != NULL ? issuer : x)) != 1
        || !set_time(x, s->not_before != NULL ? s->not_before : PKI_NOT_BEFORE, true)
        || !set_time(x, s->not_after != NULL ? s->not_after : PKI_NOT_AFTER, false)
        || X509_set_pubkey(x, key) != 1) {
        snprintf(what, sizeof(what), "%s: cannot fill in the certificate", s->name);
        lab_ssl_errors(PKI_PROG, what);
        X509_free(x);
        return NULL;
    }
    if (!add_extensions(x, s, issuer)) {
        X509_free(x);
        return NULL;
    }
    if (X509_sign(x, issuer_key != NULL ? issuer_key : key, EVP_sha256()) <= 0) {
        snprintf(what, sizeof(what), "%s: signing failed", s->name);
        lab_ssl_errors(PKI_PROG, what);
        X509_free(x);
        return NULL;
    }
    return x;
}

bool pki_write_key(FILE *f, const void *arg)
{
    if (PEM_write_PrivateKey(f, (EVP_PKEY *)arg, NULL, NULL, 0, NULL, NULL) != 1) {
        lab_ssl_errors(PKI_PROG, "writing a private key failed");
        return false;
    }
    return true;
}

bool pki_write_certs(FILE *f, const void *arg)
{
    for (X509 *const *x = arg; *x != NULL; x++) {
        if (PEM_write_X509(f, *x) != 1) {
            lab_ssl_errors(PKI_PROG, "writing a certificate failed");
            return false;
        }
    }
    return true;
}
