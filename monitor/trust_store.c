/* The user's trust anchors in an OpenSSL X509_STORE, and chain verification
 * at packet time.  Loading is strict about what the user named (a missing
 * or unreadable path, a file that is not what it claims, nothing at all to
 * trust: an error), because a silently empty store would make every chain
 * look untrusted.
 */
#include "trust_store.h"

#include <limits.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <string.h>

struct trust_store {
    X509_STORE *store;
    unsigned count;
};

static void set_error(GError **error, GFileError code, const char *path, const char *problem)
{
    g_set_error(error, G_FILE_ERROR, code, "trust store '%s': %s", path, problem);
}

static bool add_cert(trust_store_t *ts, X509 *cert)
{
    bool added = X509_STORE_add_cert(ts->store, cert) == 1;
    if (added)
        ts->count++;
    X509_free(cert);
    return added;
}

/* Certificates of one file: PEM blocks, or (Windows exports .cer files
 * that way) a single DER certificate.  Returns how many were added, -1
 * (error set) when the file is damaged. */
static int load_file_bytes(trust_store_t *ts, const char *path, const char *bytes, size_t len,
                           GError **error)
{
    if (len > INT_MAX) {
        set_error(error, G_FILE_ERROR_INVAL, path, "file too large");
        return -1;
    }
    int added = 0;
    BIO *bio = BIO_new_mem_buf(bytes, (int)len);
    if (!bio) {
        set_error(error, G_FILE_ERROR_NOMEM, path, "out of memory");
        return -1;
    }
    ERR_clear_error();
    X509 *cert;
    while ((cert = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
        if (add_cert(ts, cert))
            added++;
    }
    BIO_free(bio);
    /* The loop ends on "no more PEM blocks" (PEM_R_NO_START_LINE) at the
     * end of the file; any other error is a block that does not decode. */
    unsigned long err = ERR_peek_last_error();
    bool clean_end = !err || (ERR_GET_LIB(err) == ERR_LIB_PEM &&
                              ERR_GET_REASON(err) == PEM_R_NO_START_LINE);
    ERR_clear_error();
    if (!clean_end) {
        char problem[96];
        g_snprintf(problem, sizeof(problem), "certificate %d does not decode", added + 1);
        set_error(error, G_FILE_ERROR_INVAL, path, problem);
        return -1;
    }
    if (added == 0) {
        const unsigned char *p = (const unsigned char *)bytes;
        cert = d2i_X509(NULL, &p, (long)len);
        ERR_clear_error();
        if (cert && p == (const unsigned char *)bytes + len && add_cert(ts, cert))
            added++;
        else if (cert && p != (const unsigned char *)bytes + len)
            X509_free(cert); /* DER followed by other bytes: not a certificate file */
    }
    return added;
}

static int load_file(trust_store_t *ts, const char *path, GError **error)
{
    char *bytes = NULL;
    gsize len = 0;
    GError *read_error = NULL;
    if (!g_file_get_contents(path, &bytes, &len, &read_error)) {
        /* GLib's message already names the file and the reason. */
        g_set_error(error, G_FILE_ERROR, read_error->code, "trust store: %s", read_error->message);
        g_error_free(read_error);
        return -1;
    }
    int added = load_file_bytes(ts, path, bytes, len, error);
    g_free(bytes);
    return added;
}

static bool has_certificate_suffix(const char *name)
{
    static const char *const suffixes[] = { ".pem", ".crt", ".cer" };
    size_t n = strlen(name);
    for (size_t i = 0; i < G_N_ELEMENTS(suffixes); i++) {
        size_t s = strlen(suffixes[i]);
        if (n > s && g_ascii_strcasecmp(name + n - s, suffixes[i]) == 0)
            return true;
    }
    return false;
}

static gint compare_names(gconstpointer a, gconstpointer b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Every certificate file of a directory, in name order (so a run is
 * repeatable).  Files of other names are not looked at; a certificate file
 * without certificates (a key saved as .pem) is passed over, but one that
 * cannot be read or does not decode is an error: the user meant it. */
static int load_dir(trust_store_t *ts, const char *path, GError **error)
{
    GError *dir_error = NULL;
    GDir *dir = g_dir_open(path, 0, &dir_error);
    if (!dir) {
        g_set_error(error, G_FILE_ERROR, dir_error->code, "trust store: %s", dir_error->message);
        g_error_free(dir_error);
        return -1;
    }
    GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
    const char *name;
    while ((name = g_dir_read_name(dir)) != NULL) {
        if (has_certificate_suffix(name))
            g_ptr_array_add(names, g_strdup(name));
    }
    g_dir_close(dir);
    g_ptr_array_sort(names, compare_names);
    int total = 0;
    for (guint i = 0; i < names->len && total >= 0; i++) {
        char *file = g_build_filename(path, g_ptr_array_index(names, i), NULL);
        if (!g_file_test(file, G_FILE_TEST_IS_DIR)) {
            int added = load_file(ts, file, error);
            total = added < 0 ? -1 : total + added;
        }
        g_free(file);
    }
    g_ptr_array_free(names, TRUE);
    return total;
}

trust_store_t *trust_store_load(const char *path, GError **error)
{
    if (!path || !*path) {
        set_error(error, G_FILE_ERROR_INVAL, "", "no path given");
        return NULL;
    }
    if (!g_file_test(path, G_FILE_TEST_EXISTS)) {
        set_error(error, G_FILE_ERROR_NOENT, path, "no such file or directory");
        return NULL;
    }
    trust_store_t *ts = g_new0(trust_store_t, 1);
    ts->store = X509_STORE_new();
    if (!ts->store) {
        g_free(ts);
        set_error(error, G_FILE_ERROR_NOMEM, path, "out of memory");
        return NULL;
    }
    bool is_dir = g_file_test(path, G_FILE_TEST_IS_DIR);
    int added = is_dir ? load_dir(ts, path, error) : load_file(ts, path, error);
    if (added == 0)
        set_error(error, G_FILE_ERROR_INVAL, path,
                  is_dir ? "no certificate in any *.pem, *.crt or *.cer file"
                         : "no certificate in it");
    if (added <= 0) {
        trust_store_free(ts);
        return NULL;
    }
    return ts;
}

void trust_store_free(trust_store_t *store)
{
    if (!store)
        return;
    X509_STORE_free(store->store);
    g_free(store);
}

unsigned trust_store_count(const trust_store_t *store)
{
    return store ? store->count : 0;
}

/* ---- verification ---- */

bool trust_error_is_time(int code)
{
    switch (code) {
    case X509_V_ERR_CERT_NOT_YET_VALID:
    case X509_V_ERR_CERT_HAS_EXPIRED:
    case X509_V_ERR_ERROR_IN_CERT_NOT_BEFORE_FIELD:
    case X509_V_ERR_ERROR_IN_CERT_NOT_AFTER_FIELD:
    case X509_V_ERR_CRL_NOT_YET_VALID:
    case X509_V_ERR_CRL_HAS_EXPIRED:
    case X509_V_ERR_ERROR_IN_CRL_LAST_UPDATE_FIELD:
    case X509_V_ERR_ERROR_IN_CRL_NEXT_UPDATE_FIELD:
        return true;
    default:
        return false;
    }
}

static void note_problem(trust_problem_t *p, int code, int depth)
{
    if (p->code != X509_V_OK)
        return; /* the first one is kept */
    p->code = code;
    p->text = X509_verify_cert_error_string(code);
    p->depth = depth;
}

/* Records every problem and lets verification carry on, so a time problem
 * behind a chain problem (or the other way round) is still found. */
static int collect_problems(int preverify_ok, X509_STORE_CTX *ctx)
{
    if (preverify_ok)
        return 1;
    trust_verify_result_t *res = X509_STORE_CTX_get_app_data(ctx);
    int code = X509_STORE_CTX_get_error(ctx);
    int depth = X509_STORE_CTX_get_error_depth(ctx);
    if (res) {
        note_problem(&res->first, code, depth);
        note_problem(trust_error_is_time(code) ? &res->time : &res->chain, code, depth);
    }
    return 1;
}

static X509 *parse_der(byte_span_t der)
{
    if (!der.ptr || der.len == 0 || der.len > LONG_MAX)
        return NULL;
    const unsigned char *p = der.ptr;
    X509 *cert = d2i_X509(NULL, &p, (long)der.len);
    ERR_clear_error();
    return cert;
}

bool trust_store_verify(const trust_store_t *store, const byte_span_t *ders, unsigned n,
                        int64_t at_time_s, trust_verify_result_t *out)
{
    memset(out, 0, sizeof(*out));
    if (!store || !ders || n == 0)
        return false;
    X509 *leaf = parse_der(ders[0]);
    if (!leaf)
        return false;
    STACK_OF(X509) *untrusted = sk_X509_new_null();
    for (unsigned i = 1; untrusted && i < n; i++) {
        X509 *cert = parse_der(ders[i]);
        /* an intermediate that does not parse is left out: the chain then
         * shows as incomplete, which is what a TLS client would find too */
        if (cert && !sk_X509_push(untrusted, cert))
            X509_free(cert);
    }
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    if (untrusted && ctx &&
        X509_STORE_CTX_init(ctx, store->store, leaf, untrusted) == 1) {
        X509_VERIFY_PARAM *param = X509_STORE_CTX_get0_param(ctx);
        X509_VERIFY_PARAM_set_time(param, (time_t)at_time_s);
        /* Trust stores such as CAPF-trust often hold the issuing CA without
         * its root; like curl, accept a chain that ends at any certificate
         * the store holds. */
        X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_PARTIAL_CHAIN);
        X509_STORE_CTX_set_app_data(ctx, out);
        X509_STORE_CTX_set_verify_cb(ctx, collect_problems);
        int rc = X509_verify_cert(ctx);
        out->checked = true;
        if (rc <= 0 && out->first.code == X509_V_OK) {
            /* failed without the callback hearing of it (an internal error) */
            int code = X509_STORE_CTX_get_error(ctx);
            if (code == X509_V_OK)
                code = X509_V_ERR_UNSPECIFIED;
            int depth = X509_STORE_CTX_get_error_depth(ctx);
            note_problem(&out->first, code, depth);
            note_problem(trust_error_is_time(code) ? &out->time : &out->chain, code, depth);
        }
        out->ok = out->first.code == X509_V_OK;
    }
    ERR_clear_error();
    X509_STORE_CTX_free(ctx);
    sk_X509_pop_free(untrusted, X509_free);
    X509_free(leaf);
    return out->ok;
}
