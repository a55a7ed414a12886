#include "enroll_lab.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/pkcs7.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#define SUBJECT_O "enrollmon TEST PKI"

static X509 *load_cert_file(const char *path)
{
    FILE *fp = fopen(path, "r");
    if (!fp)
        return NULL;
    X509 *c = PEM_read_X509(fp, NULL, NULL, NULL);
    fclose(fp);
    return c;
}

static EVP_PKEY *load_key_file(const char *path)
{
    FILE *fp = fopen(path, "r");
    if (!fp)
        return NULL;
    EVP_PKEY *k = PEM_read_PrivateKey(fp, NULL, NULL, NULL);
    fclose(fp);
    return k;
}

char *enroll_lab_pki_path(const char *pki, const char *name)
{
    if (strchr(name, '/'))
        return g_strdup(name);
    return g_build_filename(pki, name, NULL);
}

bool enroll_lab_ca_load(const char *prog, const char *pki, enroll_lab_ca_t *ca)
{
    char *cert = g_build_filename(pki, "adcs-issuing.pem", NULL);
    char *key = g_build_filename(pki, "adcs-issuing.key", NULL);
    char *root = g_build_filename(pki, "adcs-root.pem", NULL);
    ca->issuing = load_cert_file(cert);
    ca->key = load_key_file(key);
    ca->root = load_cert_file(root);
    bool ok = ca->issuing && ca->key && ca->root && X509_check_private_key(ca->issuing, ca->key);
    if (!ok) {
        lab_ssl_errors(prog, "cannot load the issuing CA");
        lab_say(prog, "needed: %s, %s, %s", cert, key, root);
        enroll_lab_ca_free(ca);
    }
    g_free(cert);
    g_free(key);
    g_free(root);
    return ok;
}

void enroll_lab_ca_free(enroll_lab_ca_t *ca)
{
    X509_free(ca->issuing);
    EVP_PKEY_free(ca->key);
    X509_free(ca->root);
    ca->issuing = ca->root = NULL;
    ca->key = NULL;
}

EVP_PKEY *enroll_lab_new_key(void)
{
    return EVP_RSA_gen(2048);
}

X509_REQ *enroll_lab_make_csr(EVP_PKEY *key, const char *cn)
{
    X509_REQ *req = X509_REQ_new();
    X509_NAME *name = X509_NAME_new();
    bool ok = req && name && X509_REQ_set_version(req, 0) &&
              X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8, (const unsigned char *)SUBJECT_O,
                                         -1, -1, 0) &&
              X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1,
                                         -1, 0) &&
              X509_REQ_set_subject_name(req, name) && X509_REQ_set_pubkey(req, key) &&
              X509_REQ_sign(req, key, EVP_sha256()) > 0;
    X509_NAME_free(name);
    if (!ok) {
        X509_REQ_free(req);
        return NULL;
    }
    return req;
}

static char *bio_to_string(BIO *bio)
{
    char *data = NULL;
    long n = BIO_get_mem_data(bio, &data);
    char *s = g_strndup(data, n > 0 ? (gsize)n : 0);
    BIO_free(bio);
    return s;
}

char *enroll_lab_csr_pem(X509_REQ *req)
{
    BIO *bio = BIO_new(BIO_s_mem());
    if (!bio || !PEM_write_bio_X509_REQ(bio, req)) {
        BIO_free(bio);
        return NULL;
    }
    return bio_to_string(bio);
}

static GByteArray *take_der(unsigned char *der, int n)
{
    if (n <= 0)
        return NULL;
    GByteArray *b = g_byte_array_new();
    g_byte_array_append(b, der, (guint)n);
    OPENSSL_free(der);
    return b;
}

GByteArray *enroll_lab_csr_der(X509_REQ *req)
{
    unsigned char *der = NULL;
    return take_der(der, i2d_X509_REQ(req, &der));
}

static bool looks_pem(const unsigned char *data, size_t len)
{
    static const char mark[] = "-----BEGIN";
    for (size_t i = 0; i + sizeof(mark) - 1 <= len; i++)
        if (memcmp(data + i, mark, sizeof(mark) - 1) == 0)
            return true;
    return false;
}

X509_REQ *enroll_lab_csr_parse(const unsigned char *data, size_t len)
{
    if (len > INT32_MAX)
        return NULL;
    X509_REQ *req = NULL;
    if (looks_pem(data, len)) {
        BIO *bio = BIO_new_mem_buf(data, (int)len);
        req = bio ? PEM_read_bio_X509_REQ(bio, NULL, NULL, NULL) : NULL;
        BIO_free(bio);
    } else {
        const unsigned char *p = data;
        req = d2i_X509_REQ(NULL, &p, (long)len);
        if (req && p != data + len) {
            X509_REQ_free(req);
            req = NULL;
        }
    }
    if (!req)
        return NULL;
    EVP_PKEY *key = X509_REQ_get0_pubkey(req);
    if (!key || X509_REQ_verify(req, key) != 1) {
        X509_REQ_free(req);
        return NULL;
    }
    return req;
}

static bool add_ext(X509 *cert, X509V3_CTX *ctx, int nid, const char *value)
{
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, ctx, nid, value);
    bool ok = ext && X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
    return ok;
}

X509 *enroll_lab_issue(const enroll_lab_ca_t *ca, X509_REQ *req, EVP_PKEY *other_key)
{
    X509 *cert = X509_new();
    BIGNUM *serial = BN_new();
    EVP_PKEY *pub = other_key ? other_key : X509_REQ_get0_pubkey(req);
    bool ok = cert && serial && pub && X509_set_version(cert, 2) &&
              BN_rand(serial, 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) &&
              BN_to_ASN1_INTEGER(serial, X509_get_serialNumber(cert)) &&
              X509_set_issuer_name(cert, X509_get_subject_name(ca->issuing)) &&
              X509_set_subject_name(cert, X509_REQ_get_subject_name(req)) &&
              X509_gmtime_adj(X509_getm_notBefore(cert), -300) &&
              X509_gmtime_adj(X509_getm_notAfter(cert), 365L * 24 * 3600) &&
              X509_set_pubkey(cert, pub);
    BN_free(serial);
    if (ok) {
        X509V3_CTX ctx;
        X509V3_set_ctx(&ctx, ca->issuing, cert, NULL, NULL, 0);
        ok = add_ext(cert, &ctx, NID_basic_constraints, "critical,CA:FALSE") &&
             add_ext(cert, &ctx, NID_key_usage, "critical,digitalSignature,keyEncipherment") &&
             add_ext(cert, &ctx, NID_ext_key_usage, "clientAuth,serverAuth") &&
             add_ext(cert, &ctx, NID_subject_key_identifier, "hash") &&
             add_ext(cert, &ctx, NID_authority_key_identifier, "keyid:always") &&
             X509_sign(cert, ca->key, EVP_sha256()) > 0;
    }
    if (!ok) {
        X509_free(cert);
        return NULL;
    }
    return cert;
}

char *enroll_lab_cert_pem(X509 *cert)
{
    BIO *bio = BIO_new(BIO_s_mem());
    if (!bio || !PEM_write_bio_X509(bio, cert)) {
        BIO_free(bio);
        return NULL;
    }
    return bio_to_string(bio);
}

GByteArray *enroll_lab_cert_der(X509 *cert)
{
    unsigned char *der = NULL;
    return take_der(der, i2d_X509(cert, &der));
}

X509 *enroll_lab_cert_parse(const unsigned char *data, size_t len)
{
    if (len > INT32_MAX)
        return NULL;
    if (looks_pem(data, len)) {
        BIO *bio = BIO_new_mem_buf(data, (int)len);
        X509 *c = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
        BIO_free(bio);
        return c;
    }
    const unsigned char *p = data;
    X509 *c = d2i_X509(NULL, &p, (long)len);
    if (c && p != data + len) {
        X509_free(c);
        c = NULL;
    }
    return c;
}

GByteArray *enroll_lab_pkcs7(X509 *const *certs, size_t n)
{
    PKCS7 *p7 = PKCS7_new();
    bool ok = p7 && PKCS7_set_type(p7, NID_pkcs7_signed) && PKCS7_content_new(p7, NID_pkcs7_data);
    if (ok)
        PKCS7_set_detached(p7, 1); /* no content at all, as `openssl crl2pkcs7` writes */
    for (size_t i = 0; ok && i < n; i++)
        ok = PKCS7_add_certificate(p7, certs[i]) == 1;
    GByteArray *out = NULL;
    if (ok) {
        unsigned char *der = NULL;
        out = take_der(der, i2d_PKCS7(p7, &der));
    }
    PKCS7_free(p7);
    return out;
}

STACK_OF(X509) *enroll_lab_pkcs7_certs(const unsigned char *der, size_t len)
{
    if (len > INT32_MAX)
        return NULL;
    const unsigned char *p = der;
    PKCS7 *p7 = d2i_PKCS7(NULL, &p, (long)len);
    if (!p7 || p != der + len || !PKCS7_type_is_signed(p7) || !p7->d.sign || !p7->d.sign->cert) {
        PKCS7_free(p7);
        return NULL;
    }
    STACK_OF(X509) *out = sk_X509_new_null();
    STACK_OF(X509) *in = p7->d.sign->cert;
    for (int i = 0; out && i < sk_X509_num(in); i++) {
        X509 *c = sk_X509_value(in, i);
        if (X509_up_ref(c) != 1 || !sk_X509_push(out, c)) {
            X509_free(c);
            sk_X509_pop_free(out, X509_free);
            out = NULL;
        }
    }
    PKCS7_free(p7);
    return out;
}

bool enroll_lab_modulus_md5(EVP_PKEY *pkey, char out[33])
{
    BIGNUM *n = NULL;
    if (!pkey || !EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_N, &n))
        return false;
    char *hex = BN_bn2hex(n);
    BN_free(n);
    if (!hex)
        return false;
    const char *digits = hex;
    while (digits[0] == '0' && digits[1] != '\0') /* BN_print leaves out leading zeros */
        digits++;
    char *line = g_strdup_printf("Modulus=%s\n", digits);
    OPENSSL_free(hex);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    bool ok = EVP_Digest(line, strlen(line), md, &mdlen, EVP_md5(), NULL) == 1 && mdlen == 16;
    g_free(line);
    for (unsigned int i = 0; ok && i < mdlen; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
    return ok;
}

bool enroll_lab_report_key_match(const char *prog, X509_REQ *req, X509 *cert)
{
    char csr_md5[33] = "?", cert_md5[33] = "?";
    EVP_PKEY *req_key = X509_REQ_get0_pubkey(req);
    EVP_PKEY *cert_key = X509_get0_pubkey(cert);
    enroll_lab_modulus_md5(req_key, csr_md5);
    enroll_lab_modulus_md5(cert_key, cert_md5);
    printf("csr modulus: MD5(stdin)= %s\n", csr_md5);
    printf("certificate modulus: MD5(stdin)= %s\n", cert_md5);
    fflush(stdout);
    bool match = req_key && cert_key && EVP_PKEY_eq(req_key, cert_key) == 1;
    if (match)
        lab_say(prog, "the certificate carries the CSR's key");
    else
        lab_say(prog, "CSR_CERT_KEY_MISMATCH: the certificate's public key is not the CSR's "
                      "(modulus MD5 %s vs %s)", cert_md5, csr_md5);
    return match;
}

char *enroll_lab_subject(X509 *cert)
{
    char *s = X509_NAME_oneline(X509_get_subject_name(cert), NULL, 0);
    char *out = g_strdup(s ? s : "?");
    OPENSSL_free(s);
    return out;
}

static const char *const intermediates[] = { "adcs-issuing", "mic-ca" };

/* Adds the leaf's issuer among the PKI's intermediates to ctx's chain. */
static bool add_issuer(SSL_CTX *ctx, const char *pki, const char *leaf_path)
{
    X509 *leaf = load_cert_file(leaf_path);
    bool ok = false;
    for (size_t i = 0; leaf && !ok && i < G_N_ELEMENTS(intermediates); i++) {
        char *file = g_strdup_printf("%s.pem", intermediates[i]);
        char *path = g_build_filename(pki, file, NULL);
        X509 *ca = load_cert_file(path);
        if (ca && X509_check_issued(ca, leaf) == X509_V_OK)
            ok = SSL_CTX_add1_chain_cert(ctx, ca) == 1;
        X509_free(ca);
        g_free(path);
        g_free(file);
    }
    X509_free(leaf);
    return ok;
}

SSL_CTX *enroll_lab_server_ctx(const char *prog, const char *pki, const char *name,
                               lab_tls_variant_t variant, const char *keylog)
{
    size_t n = strlen(name);
    bool chain = n > 6 && strcmp(name + n - 6, "-chain") == 0;
    char *base = g_strndup(name, chain ? n - 6 : n);
    char *file = g_strdup_printf("%s.pem", name);
    char *key_file = g_strdup_printf("%s.key", base);
    char *cert_path = g_build_filename(pki, file, NULL);
    char *key_path = g_build_filename(pki, key_file, NULL);
    bool synth = false;
    if (chain && !g_file_test(cert_path, G_FILE_TEST_EXISTS)) {
        g_free(cert_path);
        g_free(file);
        file = g_strdup_printf("%s.pem", base);
        cert_path = g_build_filename(pki, file, NULL);
        synth = true;
    }
    lab_tls_options_t opt = {
        .variant = variant,
        .cert_chain = cert_path,
        .key = key_path,
        .keylog = keylog,
    };
    SSL_CTX *ctx = lab_tls_server_ctx(&opt);
    if (!ctx) {
        lab_say(prog, "cannot use %s with %s", cert_path, key_path);
    } else if (synth && !add_issuer(ctx, pki, cert_path)) {
        lab_say(prog, "no issuer of %s among the PKI's intermediates", cert_path);
        SSL_CTX_free(ctx);
        ctx = NULL;
    } else {
        STACK_OF(X509) *extra = NULL;
        X509 *leaf = SSL_CTX_get0_certificate(ctx);
        bool alone = !synth && SSL_CTX_get0_chain_certs(ctx, &extra) == 1 &&
                     sk_X509_num(extra) <= 0 && leaf &&
                     X509_NAME_cmp(X509_get_subject_name(leaf), X509_get_issuer_name(leaf)) != 0;
        lab_say(prog, "presenting %s%s%s", cert_path, synth ? " and its issuer" : "",
                alone ? " alone, without its issuer (a client trusting only the root cannot "
                        "build the chain: use NAME-chain for the whole chain)"
                      : "");
    }
    g_free(base);
    g_free(file);
    g_free(key_file);
    g_free(cert_path);
    g_free(key_path);
    return ctx;
}

void enroll_lab_socket_timeouts(int fd, int ms)
{
    if (ms <= 0)
        return;
    struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

void enroll_lab_ignore_sigpipe(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
}

int enroll_lab_client_connect(const char *prog, const enroll_lab_client_opts_t *o, SSL **ssl,
                              int *fd)
{
    *ssl = NULL;
    *fd = -1;
    char *trust = o->no_verify ? NULL : enroll_lab_pki_path(o->pki, o->trust);
    lab_tls_options_t t = {
        .variant = o->variant,
        .trust = trust,
        .check_host = o->check_host,
        .sni = o->sni,
        .keylog = o->keylog,
    };
    SSL_CTX *ctx = lab_tls_client_ctx(&t);
    g_free(trust);
    if (!ctx)
        return ENROLL_LAB_EXIT_OTHER;
    int s = lab_connect(o->host, o->port, o->timeout_ms);
    if (s < 0) {
        lab_say(prog, "cannot connect to %s port %u", o->host, o->port);
        SSL_CTX_free(ctx);
        return ENROLL_LAB_EXIT_OTHER;
    }
    enroll_lab_socket_timeouts(s, o->timeout_ms);
    SSL *c = lab_tls_connect(ctx, s, o->sni);
    SSL_CTX_free(ctx); /* the SSL holds its own reference */
    if (!c) {
        lab_say(prog, "TLS handshake with %s port %u failed", o->host, o->port);
        close(s);
        return ENROLL_LAB_EXIT_TLS;
    }
    lab_say(prog, "connected to %s port %u, %s %s", o->host, o->port, SSL_get_version(c),
            SSL_get_cipher_name(c));
    *ssl = c;
    *fd = s;
    return ENROLL_LAB_EXIT_OK;
}

void enroll_lab_tls_finish(SSL *ssl, int fd, int wait_ms)
{
    if (ssl && SSL_shutdown(ssl) == 0) {
        struct pollfd p = { fd, POLLIN, 0 };
        if (poll(&p, 1, wait_ms) > 0)
            SSL_shutdown(ssl);
    }
    lab_tls_close(ssl, fd, false);
}

int enroll_lab_serve(const char *prog, const char *host, uint16_t port, SSL_CTX *ctx,
                     long connections, enroll_lab_serve_fn serve, void *user)
{
    int lfd = lab_listen(host, port, 16);
    if (lfd < 0) {
        lab_say(prog, "cannot listen on %s port %u: %s", host, port, strerror(errno));
        return 1;
    }
    lab_say(prog, "listening on %s port %u", host, port);
    for (long i = 0; connections == 0 || i < connections; i++) {
        int fd = lab_accept(lfd, -1);
        if (fd < 0) {
            lab_say(prog, "accept failed: %s", strerror(errno));
            close(lfd);
            return 1;
        }
        enroll_lab_socket_timeouts(fd, 30000);
        SSL *ssl = lab_tls_accept(ctx, fd);
        if (!ssl) {
            lab_say(prog, "connection %ld: TLS handshake failed", i + 1);
            close(fd);
            continue;
        }
        lab_say(prog, "connection %ld: %s %s", i + 1, SSL_get_version(ssl), SSL_get_cipher_name(ssl));
        serve(ssl, fd, user);
    }
    close(lfd);
    return 0;
}
