/* Unit tests for dissectors/x509.c.  Every certificate is made here with
 * OpenSSL (see certgen.h); the expected values are what was put in.
 */
#include "certgen.h"
#include "dissectors/x509.h"

#include <arpa/inet.h>
#include <glib.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <string.h>

/* Loop cases: the case is named in the log only when a check in it fails. */
#define CASE_BEGIN() const bool case_failed_before_ = g_test_failed()
#define CASE_END(...)                                                                   \
    do {                                                                               \
        if (!case_failed_before_ && g_test_failed())                                   \
            g_test_message(__VA_ARGS__);                                               \
    } while (0)

/* Keys made once for the whole run: key generation is the slow part. */
static EVP_PKEY *leaf_key;
static EVP_PKEY *ca_key;
static EVP_PKEY *other_key;

static void parse_der(const uint8_t *der, size_t len, const cert_patterns_t *patterns, cert_info_t *info)
{
    byte_span_t span = { der, len };
    g_assert_true(x509_cert_parse(span, patterns, info));
    g_assert_true(info->parsed);
    g_assert_cmpuint(info->der_length, ==, len);
}

/* Builds, encodes and parses in one go. */
static void parse_spec(const certgen_spec_t *spec, const cert_patterns_t *patterns, cert_info_t *info)
{
    size_t len;
    uint8_t *der = certgen_cert_der(spec, &len);
    parse_der(der, len, patterns, info);
    g_free(der);
}

/* A leaf certificate "CN=subject_cn" issued by "CN=issuer_cn" and signed by
 * ca_key, parsed with the given patterns. */
static cert_kind_t kind_of_issued(const char *subject_cn, const char *issuer_cn,
                                  const cert_patterns_t *patterns, cert_info_t *info)
{
    X509_NAME *subject = certgen_name("CN", subject_cn, NULL);
    X509_NAME *issuer = certgen_name("O", "Example", "CN", issuer_cn, NULL);
    certgen_spec_t spec = { .subject = subject, .subject_key = leaf_key, .issuer = issuer, .signer = ca_key };
    parse_spec(&spec, patterns, info);
    X509_NAME_free(subject);
    X509_NAME_free(issuer);
    return info->kind;
}

/* ------------------------------------------------------------------ */
/* Kinds                                                               */

static void test_kind_lsc(void)
{
    cert_info_t info;
    g_assert_cmpint(kind_of_issued("SEP74A02FC0A675", "CAPF-1a2b3c4d", NULL, &info), ==, CERT_KIND_LSC);
    g_assert_cmpstr(cert_kind_name(info.kind), ==, "LSC");
    g_assert_cmpstr(info.subject_cn, ==, "SEP74A02FC0A675");
    g_assert_cmpstr(info.issuer_cn, ==, "CAPF-1a2b3c4d");
    g_assert_false(info.self_issued);
    g_assert_false(info.self_signed);
    x509_cert_info_clear(&info);

    /* The default patterns, passed explicitly, say the same. */
    g_assert_cmpint(kind_of_issued("SEP74A02FC0A675", "CAPF-1a2b3c4d", cert_patterns_default(), &info), ==,
                    CERT_KIND_LSC);
    x509_cert_info_clear(&info);

    /* The prefix is compared without regard to case. */
    g_assert_cmpint(kind_of_issued("SEP001122334455", "capf-0F9E8D7C", NULL, &info), ==, CERT_KIND_LSC);
    x509_cert_info_clear(&info);

    /* "CAPF" without the dash, or the prefix not at the start, is not an LSC. */
    g_assert_cmpint(kind_of_issued("SEP001122334455", "CAPF1a2b3c4d", NULL, &info), ==, CERT_KIND_CA_ISSUED);
    x509_cert_info_clear(&info);
    g_assert_cmpint(kind_of_issued("SEP001122334455", "Old CAPF-1a2b3c4d", NULL, &info), ==,
                    CERT_KIND_CA_ISSUED);
    x509_cert_info_clear(&info);
}

typedef struct mic_case {
    const char *issuer_cn;
    cert_kind_t expected;
} mic_case_t;

static const mic_case_t mic_cases[] = {
    { "Cisco Manufacturing CA", CERT_KIND_MIC },
    { "Cisco Manufacturing CA SHA2", CERT_KIND_MIC },
    { "CAP-RTP-001", CERT_KIND_MIC },
    { "CAP-RTP-002", CERT_KIND_MIC },
    { "ACT2 SUDI CA", CERT_KIND_MIC },
    { "High Assurance SUDI CA", CERT_KIND_MIC },
    { "cisco manufacturing ca sha2", CERT_KIND_MIC },
    { "CISCO MANUFACTURING CA", CERT_KIND_MIC },
    { "cap-rtp-002", CERT_KIND_MIC },
    { "act2 sudi ca", CERT_KIND_MIC },
    { "HIGH ASSURANCE SUDI CA", CERT_KIND_MIC },
    /* Whole names only: not a prefix, not a part. */
    { "Cisco Manufacturing CA SHA2 Test", CERT_KIND_CA_ISSUED },
    { "Cisco Manufacturing", CERT_KIND_CA_ISSUED },
    { "CAP-RTP-003", CERT_KIND_CA_ISSUED },
    { "Example Issuing CA", CERT_KIND_CA_ISSUED },
};

static void test_kind_mic(gconstpointer data)
{
    const mic_case_t *mc = data;
    cert_info_t info;
    g_assert_cmpint(kind_of_issued("SEP74A02FC0A675", mc->issuer_cn, NULL, &info), ==, mc->expected);
    g_assert_cmpstr(info.issuer_cn, ==, mc->issuer_cn);
    g_assert_false(info.self_signed);
    x509_cert_info_clear(&info);
}

static void test_default_patterns(void)
{
    /* Every default MIC issuer classifies as MIC, in any case. */
    const cert_patterns_t *d = cert_patterns_default();
    g_assert_nonnull(d);
    g_assert_cmpuint(g_strv_length(d->lsc_issuer_cn_prefixes), ==, 1);
    g_assert_cmpstr(d->lsc_issuer_cn_prefixes[0], ==, "CAPF-");
    g_assert_cmpuint(g_strv_length(d->mic_issuer_cns), ==, 6);
    for (char **p = d->mic_issuer_cns; *p; p++) {
        cert_info_t info;
        char *upper = g_ascii_strup(*p, -1);
        char *lower = g_ascii_strdown(*p, -1);
        const char *variants[] = { *p, upper, lower };
        for (size_t i = 0; i < G_N_ELEMENTS(variants); i++) {
            CASE_BEGIN();
            g_assert_cmpint(kind_of_issued("SEP", variants[i], NULL, &info), ==, CERT_KIND_MIC);
            CASE_END("issuer '%s'", variants[i]);
            x509_cert_info_clear(&info);
        }
        g_free(upper);
        g_free(lower);
    }
}

typedef struct self_case {
    const char *name;
    const char *cn;
    bool other_signer;
    bool self_signed;
    cert_kind_t kind;
} self_case_t;

static const self_case_t self_cases[] = {
    { "server", "cucm-pub.example.com", false, true, CERT_KIND_SELF_SIGNED },
    /* CAPF's own certificate: issued by CAPF-... to itself, not an LSC. */
    { "capf", "CAPF-1a2b3c4d", false, true, CERT_KIND_SELF_SIGNED },
    { "cisco root", "Cisco Manufacturing CA SHA2", false, true, CERT_KIND_SELF_SIGNED },
    /* Same subject and issuer but signed by another key: not self-signed. */
    { "name-only server", "cucm-pub.example.com", true, false, CERT_KIND_CA_ISSUED },
    { "name-only capf", "CAPF-1a2b3c4d", true, false, CERT_KIND_LSC },
};

static void test_kind_self_signed(gconstpointer data)
{
    const self_case_t *sc = data;
    X509_NAME *name = certgen_name("O", "Cisco", "CN", sc->cn, NULL);
    certgen_spec_t spec = {
        .subject = name,
        .subject_key = ca_key,
        .signer = sc->other_signer ? other_key : NULL,
        .basic_constraints = "critical,CA:TRUE",
    };
    cert_info_t info;
    parse_spec(&spec, NULL, &info);
    g_assert_true(info.self_issued);
    g_assert_cmpint(info.self_signed, ==, sc->self_signed);
    g_assert_cmpint(info.kind, ==, sc->kind);
    g_assert_cmpstr(info.subject, ==, info.issuer);
    g_assert_cmpstr(info.subject_cn, ==, sc->cn);
    g_assert_cmpint(x509_classify(&info, NULL), ==, sc->kind);
    x509_cert_info_clear(&info);
    X509_NAME_free(name);
}

static void test_kind_ca_issued(void)
{
    cert_info_t info;
    g_assert_cmpint(kind_of_issued("cucm-pub.example.com", "Example Issuing CA 1", NULL, &info), ==,
                    CERT_KIND_CA_ISSUED);
    g_assert_cmpstr(cert_kind_name(info.kind), ==, "CA-issued");
    x509_cert_info_clear(&info);

    /* An issuer without a CN at all. */
    X509_NAME *subject = certgen_name("CN", "host", NULL);
    X509_NAME *issuer = certgen_name("C", "US", "O", "Example", NULL);
    certgen_spec_t spec = { .subject = subject, .subject_key = leaf_key, .issuer = issuer, .signer = ca_key };
    parse_spec(&spec, NULL, &info);
    g_assert_null(info.issuer_cn);
    g_assert_cmpint(info.kind, ==, CERT_KIND_CA_ISSUED);
    x509_cert_info_clear(&info);
    X509_NAME_free(subject);
    X509_NAME_free(issuer);
}

static char *custom_lsc[] = { "LSC-", "Phone CA ", NULL };
static char *custom_mic[] = { "Acme Factory CA", NULL };
static const cert_patterns_t custom_patterns = { custom_lsc, custom_mic };
static char *empty_prefix[] = { "", NULL };
static char *no_names[] = { NULL };
static const cert_patterns_t empty_patterns = { empty_prefix, no_names };
static const cert_patterns_t null_patterns = { NULL, NULL };

typedef struct custom_case {
    const char *name;
    const cert_patterns_t *patterns;
    const char *issuer_cn;
    cert_kind_t expected;
} custom_case_t;

static const custom_case_t custom_cases[] = {
    { "prefix LSC-", &custom_patterns, "LSC-Cluster2", CERT_KIND_LSC },
    { "prefix with space", &custom_patterns, "phone ca 7", CERT_KIND_LSC },
    { "mic name", &custom_patterns, "acme factory ca", CERT_KIND_MIC },
    { "CAPF not in custom list", &custom_patterns, "CAPF-1a2b3c4d", CERT_KIND_CA_ISSUED },
    { "Cisco not in custom list", &custom_patterns, "Cisco Manufacturing CA", CERT_KIND_CA_ISSUED },
    { "empty prefix matches nothing", &empty_patterns, "CAPF-1a2b3c4d", CERT_KIND_CA_ISSUED },
    { "NULL lists", &null_patterns, "CAPF-1a2b3c4d", CERT_KIND_CA_ISSUED },
};

static void test_kind_custom(gconstpointer data)
{
    const custom_case_t *cc = data;
    cert_info_t info;
    g_assert_cmpint(kind_of_issued("SEP74A02FC0A675", cc->issuer_cn, cc->patterns, &info), ==, cc->expected);
    /* x509_classify agrees with the kind set at parse time. */
    g_assert_cmpint(x509_classify(&info, cc->patterns), ==, cc->expected);
    x509_cert_info_clear(&info);
}

static void test_classify_direct(void)
{
    cert_info_t info;
    memset(&info, 0, sizeof(info));
    char capf[] = "CAPF-00aa11bb";
    char cisco[] = "ACT2 SUDI CA";
    info.issuer_cn = capf;
    /* Not parsed: unknown, whatever the issuer. */
    g_assert_cmpint(x509_classify(&info, NULL), ==, CERT_KIND_UNKNOWN);
    info.parsed = true;
    g_assert_cmpint(x509_classify(&info, NULL), ==, CERT_KIND_LSC);
    info.self_signed = true;
    g_assert_cmpint(x509_classify(&info, NULL), ==, CERT_KIND_SELF_SIGNED);
    info.self_signed = false;
    info.issuer_cn = cisco;
    g_assert_cmpint(x509_classify(&info, NULL), ==, CERT_KIND_MIC);
    info.issuer_cn = NULL;
    g_assert_cmpint(x509_classify(&info, NULL), ==, CERT_KIND_CA_ISSUED);
}

static void test_kind_names(void)
{
    g_assert_cmpstr(cert_kind_name(CERT_KIND_UNKNOWN), ==, "unknown");
    g_assert_cmpstr(cert_kind_name(CERT_KIND_LSC), ==, "LSC");
    g_assert_cmpstr(cert_kind_name(CERT_KIND_MIC), ==, "MIC");
    g_assert_cmpstr(cert_kind_name(CERT_KIND_SELF_SIGNED), ==, "self-signed");
    g_assert_cmpstr(cert_kind_name(CERT_KIND_CA_ISSUED), ==, "CA-issued");
}

/* ------------------------------------------------------------------ */
/* Fields                                                              */

static void test_fields_names(void)
{
    X509_NAME *subject = certgen_name("C", "US", "O", "Example Corp", "OU", "Voice", "CN",
                                      "cucm-pub.example.com", NULL);
    X509_NAME *issuer = certgen_name("C", "US", "O", "Example Corp", "CN", "Example Issuing CA", NULL);
    certgen_spec_t spec = { .subject = subject, .subject_key = leaf_key, .issuer = issuer, .signer = ca_key };
    cert_info_t info;
    parse_spec(&spec, NULL, &info);
    g_assert_cmpstr(info.subject, ==, "C=US, O=Example Corp, OU=Voice, CN=cucm-pub.example.com");
    g_assert_cmpstr(info.issuer, ==, "C=US, O=Example Corp, CN=Example Issuing CA");
    g_assert_cmpstr(info.subject_cn, ==, "cucm-pub.example.com");
    g_assert_cmpstr(info.issuer_cn, ==, "Example Issuing CA");
    g_assert_cmpstr(info.parse_error, ==, "");
    x509_cert_info_clear(&info);
    X509_NAME_free(subject);
    X509_NAME_free(issuer);
}

typedef struct cn_case {
    const char *name;
    const char *fields[8]; /* field/value pairs, NULL-ended */
    const char *subject;
    const char *cn;
} cn_case_t;

static const cn_case_t cn_cases[] = {
    { "no CN", { "C", "US", "O", "Example", NULL }, "C=US, O=Example", NULL },
    { "two CNs", { "CN", "first", "O", "Example", "CN", "second", NULL }, "CN=first, O=Example, CN=second",
      "first+second" },
    { "UTF-8", { "CN", "Z\xc3\xbcrich", NULL }, "CN=Z\xc3\xbcrich", "Z\xc3\xbcrich" },
    { "comma in a value", { "O", "Example, Inc.", "CN", "x", NULL }, "O=Example\\, Inc., CN=x", "x" },
    { "control character", { "CN", "a\x01" "b", NULL }, NULL, "a?b" },
    { "DEL", { "CN", "a\x7f" "b", NULL }, NULL, "a?b" },
};

static void test_fields_cn(gconstpointer data)
{
    const cn_case_t *cc = data;
    X509_NAME *subject = X509_NAME_new();
    for (size_t i = 0; cc->fields[i]; i += 2)
        g_assert_cmpint(X509_NAME_add_entry_by_txt(subject, cc->fields[i], MBSTRING_UTF8,
                                                   (const unsigned char *)cc->fields[i + 1], -1, -1, 0),
                        ==, 1);
    X509_NAME *issuer = certgen_name("CN", "Example Issuing CA", NULL);
    certgen_spec_t spec = { .subject = subject, .subject_key = leaf_key, .issuer = issuer, .signer = ca_key };
    cert_info_t info;
    parse_spec(&spec, NULL, &info);
    if (cc->subject)
        g_assert_cmpstr(info.subject, ==, cc->subject);
    g_assert_cmpstr(info.subject_cn, ==, cc->cn);
    /* Whatever the name holds, the texts are single clean lines. */
    g_assert_true(g_utf8_validate(info.subject, -1, NULL));
    for (const char *p = info.subject; *p; p++)
        g_assert_true((unsigned char)*p >= 0x20 && *p != 0x7f);
    x509_cert_info_clear(&info);
    X509_NAME_free(subject);
    X509_NAME_free(issuer);
}

/* The serial as `openssl x509 -serial` prints it (i2a_ASN1_INTEGER). */
static char *openssl_serial_text(const char *hex)
{
    BIGNUM *bn = NULL;
    g_assert_cmpint(BN_hex2bn(&bn, hex), >, 0);
    ASN1_INTEGER *ai = BN_to_ASN1_INTEGER(bn, NULL);
    BIO *bio = BIO_new(BIO_s_mem());
    g_assert_cmpint(i2a_ASN1_INTEGER(bio, ai), >, 0);
    char *data = NULL;
    long len = BIO_get_mem_data(bio, &data);
    char *text = g_strndup(data, (gsize)len);
    BIO_free(bio);
    ASN1_INTEGER_free(ai);
    BN_free(bn);
    return text;
}

typedef struct serial_case {
    const char *hex;
    const char *expected;
} serial_case_t;

static const serial_case_t serial_cases[] = {
    { "1A2B3C4D5E6F", "1A2B3C4D5E6F" },
    { "1a2b3c", "1A2B3C" },
    { "01", "01" },
    { "7F", "7F" },
    { "80", "80" },
    { "FF", "FF" },
    { "100", "0100" },
    { "6C1A2B3DAABBCCDD00112233445566778899AABB", "6C1A2B3DAABBCCDD00112233445566778899AABB" },
    { "0", "00" },
};

static void test_fields_serial(gconstpointer data)
{
    const serial_case_t *sc = data;
    X509_NAME *name = certgen_name("CN", "serial", NULL);
    certgen_spec_t spec = { .subject = name, .subject_key = leaf_key, .signer = ca_key, .serial_hex = sc->hex };
    cert_info_t info;
    parse_spec(&spec, NULL, &info);
    char *openssl = openssl_serial_text(sc->hex);
    g_assert_cmpstr(openssl, ==, sc->expected); /* the table itself agrees with OpenSSL */
    g_assert_cmpstr(info.serial, ==, sc->expected);
    g_free(openssl);
    x509_cert_info_clear(&info);
    X509_NAME_free(name);
}

typedef struct validity_case {
    int64_t not_before;
    int64_t not_after;
} validity_case_t;

static const validity_case_t validity_cases[] = {
    { 1547647502, 2524608000 },   /* UTCTime, then GeneralizedTime (2050) */
    { 946684800, 2556143999 },    /* 2000-01-01, 2050-12-31T23:59:59 */
    { 951782400, 2524607999 },    /* 2000-02-29, 2049-12-31T23:59:59 (last UTCTime) */
    { 1, 253402300799 },          /* 1970-01-01T00:00:01, 9999-12-31T23:59:59 */
};

static void test_fields_validity(void)
{
    X509_NAME *name = certgen_name("CN", "validity", NULL);
    for (size_t i = 0; i < G_N_ELEMENTS(validity_cases); i++) {
        certgen_spec_t spec = { .subject = name, .subject_key = leaf_key, .signer = ca_key,
                                .not_before = validity_cases[i].not_before,
                                .not_after = validity_cases[i].not_after };
        cert_info_t info;
        CASE_BEGIN();
        parse_spec(&spec, NULL, &info);
        g_assert_cmpint(info.not_before, ==, validity_cases[i].not_before);
        g_assert_cmpint(info.not_after, ==, validity_cases[i].not_after);
        CASE_END("validity case %zu", i);
        x509_cert_info_clear(&info);
    }
    X509_NAME_free(name);
}

static void test_fields_sha1(void)
{
    X509_NAME *name = certgen_name("CN", "digest", NULL);
    certgen_spec_t spec = { .subject = name, .subject_key = leaf_key, .signer = ca_key };
    size_t len;
    uint8_t *der = certgen_cert_der(&spec, &len);
    char expected[41];
    certgen_sha1_hex(der, len, expected);
    cert_info_t info;
    parse_der(der, len, NULL, &info);
    g_assert_cmpstr(info.sha1, ==, expected);
    g_assert_cmpuint(strlen(info.sha1), ==, CERT_SHA1_HEX_LEN);
    x509_cert_info_clear(&info);
    g_free(der);
    X509_NAME_free(name);
}

static void test_fields_san(void)
{
    X509_NAME *name = certgen_name("CN", "cucm-pub.example.com", NULL);
    certgen_spec_t spec = {
        .subject = name,
        .subject_key = leaf_key,
        .signer = ca_key,
        .subject_alt_name = "DNS:cucm-pub.example.com,email:admin@example.com,IP:10.1.1.5,"
                            "DNS:cucm-pub,IP:2001:db8::1:0:5,URI:https://example.com/,IP:0.0.0.0",
    };
    cert_info_t info;
    parse_spec(&spec, NULL, &info);
    g_assert_nonnull(info.san_dns);
    g_assert_cmpuint(g_strv_length(info.san_dns), ==, 2);
    g_assert_cmpstr(info.san_dns[0], ==, "cucm-pub.example.com");
    g_assert_cmpstr(info.san_dns[1], ==, "cucm-pub");
    g_assert_nonnull(info.san_ip);
    g_assert_cmpuint(g_strv_length(info.san_ip), ==, 3);
    g_assert_cmpstr(info.san_ip[0], ==, "10.1.1.5");
    g_assert_cmpstr(info.san_ip[2], ==, "0.0.0.0");
    /* The IPv6 text, in whatever valid form, is the address put in. */
    struct in6_addr got, want;
    g_assert_cmpint(inet_pton(AF_INET6, info.san_ip[1], &got), ==, 1);
    g_assert_cmpint(inet_pton(AF_INET6, "2001:db8::1:0:5", &want), ==, 1);
    g_assert_cmpmem(&got, sizeof(got), &want, sizeof(want));
    x509_cert_info_clear(&info);

    /* No SAN: empty lists, not NULL. */
    spec.subject_alt_name = NULL;
    parse_spec(&spec, NULL, &info);
    g_assert_nonnull(info.san_dns);
    g_assert_nonnull(info.san_ip);
    g_assert_cmpuint(g_strv_length(info.san_dns), ==, 0);
    g_assert_cmpuint(g_strv_length(info.san_ip), ==, 0);
    x509_cert_info_clear(&info);
    X509_NAME_free(name);
}

typedef struct ca_case {
    const char *name;
    bool self_signed;
    bool version1;
    const char *basic_constraints;
    const char *key_usage;
    bool is_ca;
} ca_case_t;

static const ca_case_t ca_cases[] = {
    { "CA true", false, false, "critical,CA:TRUE", NULL, true },
    { "CA true with path length", true, false, "critical,CA:TRUE,pathlen:0", "keyCertSign,cRLSign", true },
    { "CA false", false, false, "CA:FALSE", NULL, false },
    { "CA false self-signed", true, false, "critical,CA:FALSE", NULL, false },
    { "no basicConstraints", false, false, NULL, NULL, false },
    { "no basicConstraints, self-signed v3", true, false, NULL, NULL, false },
    /* The key usage is not basicConstraints. */
    { "keyCertSign without basicConstraints", false, false, NULL, "keyCertSign", false },
    { "CA true but no keyCertSign", false, false, "critical,CA:TRUE", "digitalSignature", true },
    /* A v1 certificate has no extensions, so no basicConstraints. */
    { "self-signed v1", true, true, NULL, NULL, false },
};

static void test_fields_is_ca(gconstpointer data)
{
    const ca_case_t *cc = data;
    X509_NAME *name = certgen_name("CN", "ca-test", NULL);
    certgen_spec_t spec = {
        .subject = name,
        .subject_key = cc->self_signed ? ca_key : leaf_key,
        .signer = ca_key,
        .version1 = cc->version1,
        .basic_constraints = cc->basic_constraints,
        .key_usage = cc->key_usage,
    };
    X509_NAME *issuer = cc->self_signed ? NULL : certgen_name("CN", "Example Issuing CA", NULL);
    spec.issuer = issuer;
    cert_info_t info;
    parse_spec(&spec, NULL, &info);
    g_assert_cmpint(info.self_signed, ==, cc->self_signed);
    g_assert_cmpint(info.is_ca, ==, cc->is_ca);
    x509_cert_info_clear(&info);
    X509_NAME_free(name);
    if (issuer)
        X509_NAME_free(issuer);
}

static void test_fields_key_type(void)
{
    X509_NAME *name = certgen_name("CN", "keys", NULL);
    certgen_spec_t spec = { .subject = name, .subject_key = leaf_key, .signer = ca_key };
    cert_info_t info;
    parse_spec(&spec, NULL, &info);
    g_assert_cmpstr(info.key_type, ==, "EC 256");
    x509_cert_info_clear(&info);

    EVP_PKEY *rsa = certgen_key_rsa(2048);
    spec.subject_key = rsa;
    parse_spec(&spec, NULL, &info);
    g_assert_cmpstr(info.key_type, ==, "RSA 2048");
    x509_cert_info_clear(&info);

    /* Signed by RSA, self-signed. */
    spec.signer = NULL;
    parse_spec(&spec, NULL, &info);
    g_assert_cmpstr(info.key_type, ==, "RSA 2048");
    g_assert_true(info.self_signed);
    g_assert_cmpint(info.kind, ==, CERT_KIND_SELF_SIGNED);
    x509_cert_info_clear(&info);
    EVP_PKEY_free(rsa);
    X509_NAME_free(name);
}

/* ------------------------------------------------------------------ */
/* Bytes that are not a certificate                                    */

static void check_unparsed(const uint8_t *bytes, size_t len)
{
    /* An exactly sized copy, so a read past the end is caught. */
    uint8_t *copy = g_malloc(len ? len : 1);
    if (len)
        memcpy(copy, bytes, len);
    byte_span_t span = { len ? copy : NULL, len };
    cert_info_t info;
    memset(&info, 0x5c, sizeof(info));
    g_assert_false(x509_cert_parse(span, NULL, &info));
    g_assert_false(info.parsed);
    g_assert_cmpuint(info.der_length, ==, len);
    char expected[41];
    certgen_sha1_hex(copy, len, expected);
    g_assert_cmpstr(info.sha1, ==, expected);
    g_assert_cmpint(info.kind, ==, CERT_KIND_UNKNOWN);
    g_assert_cmpstr(cert_kind_name(info.kind), ==, "unknown");
    g_assert_cmpuint(strlen(info.parse_error), >, 0);
    g_assert_null(info.subject);
    g_assert_null(info.issuer);
    g_assert_null(info.subject_cn);
    g_assert_null(info.serial);
    g_assert_null(info.san_dns);
    g_assert_false(info.self_signed);
    x509_cert_info_clear(&info);
    g_free(copy);
}

static void test_garbage(void)
{
    static const uint8_t text[] = "this is not a certificate";
    static const uint8_t seq_huge[] = { 0x30, 0x82, 0xff, 0xff, 0x30, 0x00 };
    static const uint8_t seq_empty[] = { 0x30, 0x00 };
    static const uint8_t int_only[] = { 0x02, 0x01, 0x01 };
    static const uint8_t indefinite[] = { 0x30, 0x80, 0x00, 0x00 };
    check_unparsed(text, sizeof(text) - 1);
    check_unparsed(seq_huge, sizeof(seq_huge));
    check_unparsed(seq_empty, sizeof(seq_empty));
    check_unparsed(int_only, sizeof(int_only));
    check_unparsed(indefinite, sizeof(indefinite));
    check_unparsed(NULL, 0);
    /* The empty input still has a digest: SHA-1 of nothing. */
    cert_info_t info;
    byte_span_t empty = { NULL, 0 };
    g_assert_false(x509_cert_parse(empty, NULL, &info));
    g_assert_cmpstr(info.sha1, ==, "da39a3ee5e6b4b0d3255bfef95601890afd80709");
    x509_cert_info_clear(&info);

    GRand *rand = g_rand_new_with_seed(4711);
    for (unsigned round = 0; round < 32; round++) {
        uint8_t noise[300];
        for (size_t i = 0; i < sizeof(noise); i++)
            noise[i] = (uint8_t)g_rand_int_range(rand, 0, 256);
        noise[0] = 0x30; /* looks like a SEQUENCE */
        check_unparsed(noise, 1 + round * 9);
    }
    g_rand_free(rand);
}

static void test_truncated(void)
{
    X509_NAME *name = certgen_name("CN", "SEP74A02FC0A675", NULL);
    X509_NAME *issuer = certgen_name("CN", "CAPF-1a2b3c4d", NULL);
    certgen_spec_t spec = { .subject = name, .subject_key = leaf_key, .issuer = issuer, .signer = ca_key,
                            .subject_alt_name = "DNS:phone.example.com" };
    size_t len;
    uint8_t *der = certgen_cert_der(&spec, &len);
    size_t cuts[] = { 1, 2, 3, 4, 10, 50, len / 2, len - 20, len - 2, len - 1 };
    for (size_t i = 0; i < G_N_ELEMENTS(cuts); i++) {
        CASE_BEGIN();
        check_unparsed(der, cuts[i]);
        CASE_END("cut at %zu of %zu", cuts[i], len);
    }
    /* The whole of it parses. */
    cert_info_t info;
    parse_der(der, len, NULL, &info);
    g_assert_cmpint(info.kind, ==, CERT_KIND_LSC);
    x509_cert_info_clear(&info);
    g_free(der);
    X509_NAME_free(name);
    X509_NAME_free(issuer);
}

/* ------------------------------------------------------------------ */
/* Distinguished names from a CertificateRequest                       */

static void test_name_der_format(void)
{
    X509_NAME *name = certgen_name("C", "US", "O", "Example Corp", "CN", "CAPF-1a2b3c4d", NULL);
    size_t len;
    uint8_t *der = certgen_name_der(name, &len);
    uint8_t *exact = g_memdup2(der, len);
    byte_span_t span = { exact, len };
    char *text = x509_name_der_format(span);
    g_assert_cmpstr(text, ==, "C=US, O=Example Corp, CN=CAPF-1a2b3c4d");
    g_free(text);

    /* The same form as a certificate's subject. */
    certgen_spec_t spec = { .subject = name, .subject_key = leaf_key, .signer = ca_key };
    cert_info_t info;
    parse_spec(&spec, NULL, &info);
    text = x509_name_der_format(span);
    g_assert_cmpstr(text, ==, info.subject);
    g_free(text);
    x509_cert_info_clear(&info);

    /* Truncated and garbage names do not parse. */
    for (size_t cut = 1; cut < len; cut += 3) {
        byte_span_t part = { g_memdup2(der, cut), cut };
        CASE_BEGIN();
        g_assert_null(x509_name_der_format(part));
        CASE_END("name cut at %zu", cut);
        g_free((void *)part.ptr);
    }
    static const uint8_t garbage[] = { 0x04, 0x03, 'a', 'b', 'c' };
    byte_span_t bad = { garbage, sizeof(garbage) };
    g_assert_null(x509_name_der_format(bad));
    byte_span_t empty = { NULL, 0 };
    g_assert_null(x509_name_der_format(empty));

    g_free(exact);
    g_free(der);
    X509_NAME_free(name);

    /* An empty name (SEQUENCE of nothing) is a name with no text. */
    static const uint8_t empty_seq[] = { 0x30, 0x00 };
    byte_span_t e = { empty_seq, sizeof(empty_seq) };
    text = x509_name_der_format(e);
    g_assert_cmpstr(text, ==, "");
    g_free(text);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    /* A failed check marks its test failed and the run goes on, so one run
     * reports every failing case. */
    g_test_set_nonfatal_assertions();
    leaf_key = certgen_key_ec();
    ca_key = certgen_key_ec();
    other_key = certgen_key_ec();

    g_test_add_func("/x509/kind/lsc", test_kind_lsc);
    for (size_t i = 0; i < G_N_ELEMENTS(mic_cases); i++) {
        char *path = g_strdup_printf("/x509/kind/mic/%s", mic_cases[i].issuer_cn);
        g_test_add_data_func(path, &mic_cases[i], test_kind_mic);
        g_free(path);
    }
    g_test_add_func("/x509/kind/default-patterns", test_default_patterns);
    for (size_t i = 0; i < G_N_ELEMENTS(self_cases); i++) {
        char *path = g_strdup_printf("/x509/kind/self-issued/%s", self_cases[i].name);
        g_test_add_data_func(path, &self_cases[i], test_kind_self_signed);
        g_free(path);
    }
    g_test_add_func("/x509/kind/ca-issued", test_kind_ca_issued);
    for (size_t i = 0; i < G_N_ELEMENTS(custom_cases); i++) {
        char *path = g_strdup_printf("/x509/kind/custom/%s", custom_cases[i].name);
        g_test_add_data_func(path, &custom_cases[i], test_kind_custom);
        g_free(path);
    }
    g_test_add_func("/x509/kind/classify", test_classify_direct);
    g_test_add_func("/x509/kind/names", test_kind_names);

    g_test_add_func("/x509/fields/names", test_fields_names);
    for (size_t i = 0; i < G_N_ELEMENTS(cn_cases); i++) {
        char *path = g_strdup_printf("/x509/fields/cn/%s", cn_cases[i].name);
        g_test_add_data_func(path, &cn_cases[i], test_fields_cn);
        g_free(path);
    }
    for (size_t i = 0; i < G_N_ELEMENTS(serial_cases); i++) {
        char *path = g_strdup_printf("/x509/fields/serial/%s", serial_cases[i].hex);
        g_test_add_data_func(path, &serial_cases[i], test_fields_serial);
        g_free(path);
    }
    g_test_add_func("/x509/fields/validity", test_fields_validity);
    g_test_add_func("/x509/fields/sha1", test_fields_sha1);
    g_test_add_func("/x509/fields/san", test_fields_san);
    for (size_t i = 0; i < G_N_ELEMENTS(ca_cases); i++) {
        char *path = g_strdup_printf("/x509/fields/is-ca/%s", ca_cases[i].name);
        g_test_add_data_func(path, &ca_cases[i], test_fields_is_ca);
        g_free(path);
    }
    g_test_add_func("/x509/fields/key-type", test_fields_key_type);

    g_test_add_func("/x509/garbage", test_garbage);
    g_test_add_func("/x509/truncated", test_truncated);
    g_test_add_func("/x509/name-der-format", test_name_der_format);

    int status = g_test_run();
    EVP_PKEY_free(leaf_key);
    EVP_PKEY_free(ca_key);
    EVP_PKEY_free(other_key);
    return status;
}
