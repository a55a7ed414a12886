/* X.509 (RFC 5280) through OpenSSL 3.  Strings are copied out as UTF-8 with
 * control characters escaped, so nothing a certificate holds can break the
 * output formats downstream. */
#include "x509.h"

#include <glib.h>
#include <openssl/asn1.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <string.h>

static char *default_lsc_prefixes[] = { "CAPF-", NULL };
static char *default_mic_issuers[] = {
    "Cisco Manufacturing CA",
    "Cisco Manufacturing CA SHA2",
    "CAP-RTP-001",
    "CAP-RTP-002",
    "ACT2 SUDI CA",
    "High Assurance SUDI CA",
    NULL,
};
static const cert_patterns_t default_patterns = { default_lsc_prefixes, default_mic_issuers };

const cert_patterns_t *cert_patterns_default(void)
{
    return &default_patterns;
}

const char *cert_kind_name(cert_kind_t kind)
{
    switch (kind) {
    case CERT_KIND_LSC: return "LSC";
    case CERT_KIND_MIC: return "MIC";
    case CERT_KIND_SELF_SIGNED: return "self-signed";
    case CERT_KIND_CA_ISSUED: return "CA-issued";
    case CERT_KIND_UNKNOWN: break;
    }
    return "unknown";
}

/* Printable one-line form, in the order the name holds its parts. */
static char *name_to_text(const X509_NAME *name)
{
    BIO *bio = BIO_new(BIO_s_mem());
    if (!bio)
        return NULL;
    unsigned long flags = (ASN1_STRFLGS_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) | ASN1_STRFLGS_UTF8_CONVERT |
                          XN_FLAG_SEP_CPLUS_SPC | XN_FLAG_FN_SN;
    char *text = NULL;
    if (X509_NAME_print_ex(bio, name, 0, flags) >= 0) {
        char *data = NULL;
        long len = BIO_get_mem_data(bio, &data);
        if (len >= 0)
            text = g_strndup(data ? data : "", (gsize)len);
    }
    BIO_free(bio);
    return text;
}

/* UTF-8 with C0 controls and DEL replaced, so a value is one clean line. */
static char *asn1_string_text(const ASN1_STRING *value)
{
    unsigned char *utf8 = NULL;
    int len = ASN1_STRING_to_UTF8(&utf8, value);
    if (len < 0)
        return g_strdup("");
    char *out = g_strndup((const char *)utf8, (gsize)len);
    OPENSSL_free(utf8);
    for (char *p = out; *p; p++)
        if ((unsigned char)*p < 0x20 || (unsigned char)*p == 0x7f)
            *p = '?';
    return out;
}

static char *name_common_names(const X509_NAME *name)
{
    GString *joined = NULL;
    int index = -1;
    while ((index = X509_NAME_get_index_by_NID(name, NID_commonName, index)) >= 0) {
        const X509_NAME_ENTRY *entry = X509_NAME_get_entry(name, index);
        char *cn = asn1_string_text(X509_NAME_ENTRY_get_data(entry));
        if (!joined)
            joined = g_string_new(cn);
        else
            g_string_append_printf(joined, "+%s", cn);
        g_free(cn);
    }
    return joined ? g_string_free(joined, FALSE) : NULL;
}

static int64_t asn1_time_epoch(const ASN1_TIME *when)
{
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    if (!when || ASN1_TIME_to_tm(when, &tm) != 1)
        return 0;
    GDateTime *dt = g_date_time_new_utc(tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                                        tm.tm_min, tm.tm_sec);
    if (!dt)
        return 0;
    int64_t epoch = g_date_time_to_unix(dt);
    g_date_time_unref(dt);
    return epoch;
}

static char *serial_hex(const X509 *cert)
{
    const ASN1_INTEGER *serial = X509_get0_serialNumber(cert);
    BIGNUM *bn = serial ? ASN1_INTEGER_to_BN(serial, NULL) : NULL;
    if (!bn)
        return g_strdup("");
    char *hex = BN_bn2hex(bn);
    /* `openssl x509 -serial` prints whole bytes: zero is "00". */
    char *out = g_strdup(!hex ? "" : strcmp(hex, "0") == 0 ? "00" : hex);
    OPENSSL_free(hex);
    BN_free(bn);
    return out;
}

static void collect_san(X509 *cert, cert_info_t *out)
{
    GPtrArray *dns = g_ptr_array_new();
    GPtrArray *ips = g_ptr_array_new();
    GENERAL_NAMES *names = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
    int count = names ? sk_GENERAL_NAME_num(names) : 0;
    for (int i = 0; i < count; i++) {
        const GENERAL_NAME *gn = sk_GENERAL_NAME_value(names, i);
        if (gn->type == GEN_DNS) {
            g_ptr_array_add(dns, asn1_string_text(gn->d.dNSName));
        } else if (gn->type == GEN_IPADD) {
            const ASN1_OCTET_STRING *ip = gn->d.iPAddress;
            int len = ASN1_STRING_length(ip);
            cursor_t c = cur_make(ASN1_STRING_get0_data(ip), len > 0 ? (size_t)len : 0);
            if (len == 4) {
                char text[16];
                unsigned b0 = cur_u8(&c), b1 = cur_u8(&c), b2 = cur_u8(&c), b3 = cur_u8(&c);
                snprintf(text, sizeof(text), "%u.%u.%u.%u", b0, b1, b2, b3);
                g_ptr_array_add(ips, g_strdup(text));
            } else if (len == 16) {
                GString *s = g_string_new(NULL);
                for (int k = 0; k < 8; k++)
                    g_string_append_printf(s, "%s%x", k ? ":" : "", cur_be16(&c));
                g_ptr_array_add(ips, g_string_free(s, FALSE));
            }
        }
    }
    GENERAL_NAMES_free(names);
    g_ptr_array_add(dns, NULL);
    g_ptr_array_add(ips, NULL);
    out->san_dns = (char **)g_ptr_array_free(dns, FALSE);
    out->san_ip = (char **)g_ptr_array_free(ips, FALSE);
}

static void describe_key(X509 *cert, cert_info_t *out)
{
    EVP_PKEY *key = X509_get0_pubkey(cert);
    if (!key) {
        snprintf(out->key_type, sizeof(out->key_type), "unknown");
        return;
    }
    const char *name = EVP_PKEY_get0_type_name(key);
    snprintf(out->key_type, sizeof(out->key_type), "%s %d", name ? name : "unknown",
             EVP_PKEY_get_bits(key));
}

/* MD5 of "Modulus=<HEX>\n" for an RSA (or RSA-PSS) key, as the openssl
 * commands print the modulus (BN_print: upper case, no leading zero digit). */
static bool pkey_modulus_md5(const EVP_PKEY *key, char out[CERT_MODULUS_MD5_HEX_LEN + 1])
{
    out[0] = '\0';
    if (!key || !(EVP_PKEY_is_a(key, "RSA") || EVP_PKEY_is_a(key, "RSA-PSS")))
        return false;
    BIGNUM *n = NULL;
    if (!EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_N, &n) || !n)
        return false;
    char *hex = BN_bn2hex(n);
    BN_free(n);
    if (!hex)
        return false;
    const char *digits = hex;
    while (digits[0] == '0' && digits[1] != '\0')
        digits++;
    char *text = g_strdup_printf("Modulus=%s\n", digits);
    OPENSSL_free(hex);
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int digest_len = 0;
    bool ok = EVP_Digest(text, strlen(text), digest, &digest_len, EVP_md5(), NULL) && digest_len == 16;
    g_free(text);
    if (!ok)
        return false;
    for (unsigned i = 0; i < digest_len; i++)
        snprintf(out + 2 * i, 3, "%02x", digest[i]);
    return true;
}

bool x509_spki_modulus_md5(byte_span_t spki_der, char out[CERT_MODULUS_MD5_HEX_LEN + 1])
{
    out[0] = '\0';
    if (spki_der.len == 0 || spki_der.len > (size_t)G_MAXINT32)
        return false;
    const unsigned char *p = spki_der.ptr;
    EVP_PKEY *key = d2i_PUBKEY(NULL, &p, (long)spki_der.len);
    if (!key)
        return false;
    bool ok = pkey_modulus_md5(key, out);
    EVP_PKEY_free(key);
    return ok;
}

static bool starts_with_nocase(const char *text, const char *prefix)
{
    return g_ascii_strncasecmp(text, prefix, strlen(prefix)) == 0;
}

cert_kind_t x509_classify(const cert_info_t *info, const cert_patterns_t *patterns)
{
    if (!info->parsed)
        return CERT_KIND_UNKNOWN;
    if (info->self_signed)
        return CERT_KIND_SELF_SIGNED;
    if (!patterns)
        patterns = cert_patterns_default();
    const char *issuer_cn = info->issuer_cn ? info->issuer_cn : "";
    for (char **p = patterns->lsc_issuer_cn_prefixes; p && *p; p++)
        if (**p && starts_with_nocase(issuer_cn, *p))
            return CERT_KIND_LSC;
    for (char **p = patterns->mic_issuer_cns; p && *p; p++)
        if (g_ascii_strcasecmp(issuer_cn, *p) == 0)
            return CERT_KIND_MIC;
    return CERT_KIND_CA_ISSUED;
}

static void sha1_hex(byte_span_t der, char out[CERT_SHA1_HEX_LEN + 1])
{
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int digest_len = 0;
    out[0] = '\0';
    if (!EVP_Digest(der.ptr, der.len, digest, &digest_len, EVP_sha1(), NULL) || digest_len != 20)
        return;
    for (unsigned i = 0; i < digest_len; i++)
        snprintf(out + 2 * i, 3, "%02x", digest[i]);
}

bool x509_cert_parse(byte_span_t der, const cert_patterns_t *patterns, cert_info_t *out)
{
    memset(out, 0, sizeof(*out));
    out->der_length = der.len;
    sha1_hex(der, out->sha1);
    if (der.len == 0 || der.len > (size_t)G_MAXINT32) {
        snprintf(out->parse_error, sizeof(out->parse_error), "empty or oversized certificate");
        return false;
    }
    const unsigned char *p = der.ptr;
    X509 *cert = d2i_X509(NULL, &p, (long)der.len);
    if (!cert) {
        snprintf(out->parse_error, sizeof(out->parse_error), "not a valid DER certificate");
        return false;
    }
    out->parsed = true;
    out->subject = name_to_text(X509_get_subject_name(cert));
    out->issuer = name_to_text(X509_get_issuer_name(cert));
    if (!out->subject)
        out->subject = g_strdup("");
    if (!out->issuer)
        out->issuer = g_strdup("");
    out->subject_cn = name_common_names(X509_get_subject_name(cert));
    out->issuer_cn = name_common_names(X509_get_issuer_name(cert));
    out->serial = serial_hex(cert);
    out->not_before = asn1_time_epoch(X509_get0_notBefore(cert));
    out->not_after = asn1_time_epoch(X509_get0_notAfter(cert));
    collect_san(cert, out);
    out->self_issued = X509_NAME_cmp(X509_get_subject_name(cert), X509_get_issuer_name(cert)) == 0;
    out->self_signed = out->self_issued && X509_self_signed(cert, 1) == 1;
    out->is_ca = (X509_get_extension_flags(cert) & EXFLAG_CA) != 0;
    describe_key(cert, out);
    pkey_modulus_md5(X509_get0_pubkey(cert), out->modulus_md5);
    out->kind = x509_classify(out, patterns);
    X509_free(cert);
    return true;
}

void x509_cert_info_clear(cert_info_t *info)
{
    g_free(info->subject);
    g_free(info->issuer);
    g_free(info->subject_cn);
    g_free(info->issuer_cn);
    g_free(info->serial);
    g_strfreev(info->san_dns);
    g_strfreev(info->san_ip);
    memset(info, 0, sizeof(*info));
}

char *x509_name_der_format(byte_span_t der)
{
    if (der.len == 0 || der.len > (size_t)G_MAXINT32)
        return NULL;
    const unsigned char *p = der.ptr;
    X509_NAME *name = d2i_X509_NAME(NULL, &p, (long)der.len);
    if (!name)
        return NULL;
    char *text = name_to_text(name);
    X509_NAME_free(name);
    return text;
}
