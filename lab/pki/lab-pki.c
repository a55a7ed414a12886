/* lab-pki: writes the test PKI of lab/README.md into a directory.
 *
 *   lab-pki [--reuse] DIR     every NAME.pem + NAME.key, NAME-chain.pem, trust-*.pem
 *   lab-pki --list [DIR]      the files it writes, one a line (tab-separated)
 *
 * Keys are new on every run unless --reuse keeps the key files already in
 * DIR; names, serials, validity and extensions are fixed, so a run with
 * --reuse writes the same certificates again (RSA PKCS#1 v1.5 signatures
 * are deterministic).  Files are replaced atomically (temporary file +
 * rename), keys with mode 0600.  Exit status: 0 done, 1 failure (reason on
 * stderr), 2 bad arguments.
 */
#include "pki.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Issuers come before the certificates they sign. */
static const pki_spec_t specs[] = {
    { "mic-root", "Cisco Root CA M2", NULL, PKI_ROOT, 1, NULL, NULL, NULL,
      "root of the manufacturing hierarchy (test)" },
    { "mic-ca", "Cisco Manufacturing CA SHA2", "mic-root", PKI_SUB_CA, 2, NULL, NULL, NULL,
      "issues MICs" },
    { "capf-a", "CAPF-1a2b3c4d", NULL, PKI_CA_SERVER, 3, NULL, NULL, NULL,
      "cluster A's CAPF: server certificate on 3804 and LSC issuer" },
    { "capf-b", "CAPF-9f8e7d6c", NULL, PKI_CA_SERVER, 4, NULL, NULL, NULL,
      "cluster B's CAPF (LSCs from another cluster)" },
    { "cucm", "cucm-pub.example.test", NULL, PKI_CA_SERVER, 5, NULL, NULL, NULL,
      "CallManager certificate (SIP 5061, SCCP 2443)" },
    /* The AD CS CAs start in 2019 so that web-expired was once valid:
     * only its own notAfter is wrong, as in the field. */
    { "adcs-root", "enrollmon Test Root CA", NULL, PKI_ROOT, 6, NULL, "20190101000000Z", NULL,
      "AD CS-like root" },
    { "adcs-issuing", "enrollmon Test Issuing CA", "adcs-root", PKI_SUB_CA, 7, NULL,
      "20190101000000Z", NULL, "AD CS-like intermediate; issues web and device certificates" },
    { "web-good", "ca.example.test", "adcs-issuing", PKI_SERVER, 8, "ca.example.test", NULL,
      NULL, "the CA web server, correct" },
    { "web-self-signed", "ca.example.test", NULL, PKI_SERVER, 9, "ca.example.test", NULL, NULL,
      "self-signed IIS certificate" },
    { "web-wrong-name", "other.example.test", "adcs-issuing", PKI_SERVER, 10,
      "other.example.test", NULL, NULL, "issued to the wrong name" },
    { "web-not-yet-valid", "ca.example.test", "adcs-issuing", PKI_SERVER, 11, "ca.example.test",
      "20490101000000Z", NULL, "notBefore 2049-01-01" },
    { "web-expired", "ca.example.test", "adcs-issuing", PKI_SERVER, 12, "ca.example.test",
      "20190101000000Z", "20210101000000Z", "notAfter 2021-01-01" },
    { "ces", "ces.example.test", "adcs-issuing", PKI_SERVER, 13, "ces.example.test", NULL, NULL,
      "CES/CiscoRA's EST server certificate" },
    { "phone-SEP74A02FC0A675-mic", "SEP74A02FC0A675", "mic-ca", PKI_PHONE, 14, NULL, NULL, NULL,
      "a phone's MIC" },
    { "phone-SEP74A02FC0A675-lsc", "SEP74A02FC0A675", "capf-a", PKI_PHONE, 15, NULL, NULL, NULL,
      "the same phone's LSC from its own cluster" },
    { "phone-SEP001122334455-lsc-b", "SEP001122334455", "capf-b", PKI_PHONE, 16, NULL, NULL,
      NULL, "a phone holding an LSC from another cluster" },
};
#define NSPECS (sizeof(specs) / sizeof(specs[0]))

typedef struct trust_store {
    const char *file;
    const char *roots[6]; /* NULL-terminated */
} trust_store_t;

static const trust_store_t trust_stores[] = {
    { "trust-adcs.pem", { "adcs-root", NULL } },
    { "trust-mic.pem", { "mic-root", NULL } },
    { "trust-capf-a.pem", { "capf-a", NULL } },
    { "trust-capf-b.pem", { "capf-b", NULL } },
    { "trust-cucm.pem", { "cucm", NULL } },
    { "trust-all.pem", { "mic-root", "capf-a", "capf-b", "cucm", "adcs-root", NULL } },
};
#define NSTORES (sizeof(trust_stores) / sizeof(trust_stores[0]))

static int spec_index(const char *name)
{
    for (size_t i = 0; i < NSPECS; i++)
        if (strcmp(specs[i].name, name) == 0)
            return (int)i;
    return -1;
}

/* Index of the issuer of specs[i]; -1 for a self-signed certificate. */
static int issuer_of(size_t i)
{
    return specs[i].issuer != NULL ? spec_index(specs[i].issuer) : -1;
}

/* A leaf has a chain file when its issuer is an intermediate. */
static bool has_chain(size_t i)
{
    int up = issuer_of(i);
    return up >= 0 && issuer_of((size_t)up) >= 0;
}

static void usage(FILE *to)
{
    fprintf(to, "usage: %s [--reuse] DIR\n"
                "       %s --list [DIR]\n"
                "Writes the enrollment lab's test PKI (lab/README.md) into DIR.\n"
                "  --reuse  keep the NAME.key files already in DIR, rewrite the certificates\n"
                "  --list   print the files written, with subject, issuer and purpose\n",
            PKI_PROG, PKI_PROG);
}

static void list_files(const char *dir)
{
    const char *pre = dir != NULL ? dir : "";
    const char *sep = dir != NULL ? "/" : "";
    for (size_t i = 0; i < NSPECS; i++) {
        const pki_spec_t *s = &specs[i];
        printf("%s%s%s.pem\tCN=%s\tissuer=%s\t%s\n", pre, sep, s->name, s->cn,
               s->issuer != NULL ? s->issuer : "self", s->purpose);
        printf("%s%s%s.key\tRSA %d private key of %s.pem\n", pre, sep, s->name, PKI_KEY_BITS,
               s->name);
    }
    for (size_t i = 0; i < NSPECS; i++) {
        if (!has_chain(i))
            continue;
        printf("%s%s%s-chain.pem\t%s", pre, sep, specs[i].name, specs[i].name);
        for (int up = issuer_of(i); up >= 0 && issuer_of((size_t)up) >= 0;
             up = issuer_of((size_t)up))
            printf(" + %s", specs[up].name);
        putchar('\n');
    }
    for (size_t t = 0; t < NSTORES; t++) {
        printf("%s%s%s\ttrust store:", pre, sep, trust_stores[t].file);
        for (const char *const *r = trust_stores[t].roots; *r != NULL; r++)
            printf(" %s", *r);
        putchar('\n');
    }
}

/* mkdir -p */
static bool make_dir(const char *dir)
{
    char path[PKI_PATH_MAX];
    size_t len = strlen(dir);
    if (len == 0 || len >= sizeof(path)) {
        lab_say(PKI_PROG, "%s: bad directory name", dir);
        return false;
    }
    memcpy(path, dir, len + 1);
    for (size_t i = 1; i <= len; i++) {
        if (path[i] != '/' && path[i] != '\0')
            continue;
        char saved = path[i];
        path[i] = '\0';
        if (mkdir(path, 0755) != 0 && errno != EEXIST) {
            lab_say(PKI_PROG, "cannot create %s: %s", path, strerror(errno));
            return false;
        }
        path[i] = saved;
    }
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        lab_say(PKI_PROG, "%s: not a directory", dir);
        return false;
    }
    return true;
}

static bool join(char *out, size_t cap, const char *dir, const char *name, const char *suffix)
{
    int n = snprintf(out, cap, "%s/%s%s", dir, name, suffix);
    if (n < 0 || (size_t)n >= cap) {
        lab_say(PKI_PROG, "%s/%s%s: path too long", dir, name, suffix);
        return false;
    }
    return true;
}

/* Writes dir/file through a temporary file renamed over it; write() prints
 * its own (OpenSSL) errors, this function the system's. */
static bool write_file(const char *dir, const char *file, mode_t mode,
                       bool (*write)(FILE *, const void *), const void *arg)
{
    char path[PKI_PATH_MAX], tmp[PKI_PATH_MAX];
    char hidden[256];
    snprintf(hidden, sizeof(hidden), ".%s", file);
    if (!join(path, sizeof(path), dir, file, "") || !join(tmp, sizeof(tmp), dir, hidden, ".XXXXXX"))
        return false;
    int fd = mkstemp(tmp);
    if (fd < 0) {
        lab_say(PKI_PROG, "cannot create %s: %s", tmp, strerror(errno));
        return false;
    }
    FILE *f = NULL;
    if (fchmod(fd, mode) != 0 || (f = fdopen(fd, "w")) == NULL) {
        lab_say(PKI_PROG, "%s: %s", tmp, strerror(errno));
        close(fd);
        unlink(tmp);
        return false;
    }
    bool ok = write(f, arg);
    if (fclose(f) != 0 && ok) {
        lab_say(PKI_PROG, "writing %s: %s", tmp, strerror(errno));
        ok = false;
    }
    if (ok && rename(tmp, path) != 0) {
        lab_say(PKI_PROG, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
        ok = false;
    }
    if (!ok)
        unlink(tmp);
    return ok;
}

static bool get_keys(const char *dir, bool reuse, EVP_PKEY *keys[])
{
    char path[PKI_PATH_MAX];
    for (size_t i = 0; i < NSPECS; i++) {
        const char *name = specs[i].name;
        if (!join(path, sizeof(path), dir, name, ".key"))
            return false;
        if (reuse) {
            bool missing;
            keys[i] = pki_load_key(path, &missing);
            if (keys[i] != NULL)
                continue;
            if (!missing)
                return false;
        }
        char file[256];
        snprintf(file, sizeof(file), "%s.key", name);
        if ((keys[i] = pki_new_key(name)) == NULL
            || !write_file(dir, file, 0600, pki_write_key, keys[i]))
            return false;
    }
    return true;
}

static bool make_certs(const char *dir, EVP_PKEY *keys[], X509 *certs[])
{
    for (size_t i = 0; i < NSPECS; i++) {
        int up = issuer_of(i);
        if (specs[i].issuer != NULL && (up < 0 || (size_t)up >= i)) {
            lab_say(PKI_PROG, "internal error: %s's issuer %s is not made before it",
                    specs[i].name, specs[i].issuer);
            return false;
        }
        certs[i] = pki_make_cert(&specs[i], keys[i], up >= 0 ? certs[up] : NULL,
                                 up >= 0 ? keys[up] : NULL);
        char file[256];
        snprintf(file, sizeof(file), "%s.pem", specs[i].name);
        X509 *one[] = { certs[i], NULL };
        if (certs[i] == NULL || !write_file(dir, file, 0644, pki_write_certs, one))
            return false;
    }
    return true;
}

static bool write_bundles(const char *dir, X509 *certs[])
{
    X509 *list[NSPECS + 1];
    char file[256];
    for (size_t i = 0; i < NSPECS; i++) {
        if (!has_chain(i))
            continue;
        size_t n = 0;
        list[n++] = certs[i];
        for (int up = issuer_of(i); up >= 0 && issuer_of((size_t)up) >= 0;
             up = issuer_of((size_t)up))
            list[n++] = certs[up];
        list[n] = NULL;
        snprintf(file, sizeof(file), "%s-chain.pem", specs[i].name);
        if (!write_file(dir, file, 0644, pki_write_certs, list))
            return false;
    }
    for (size_t t = 0; t < NSTORES; t++) {
        size_t n = 0;
        for (const char *const *r = trust_stores[t].roots; *r != NULL; r++) {
            int k = spec_index(*r);
            if (k < 0) {
                lab_say(PKI_PROG, "internal error: unknown root %s", *r);
                return false;
            }
            list[n++] = certs[k];
        }
        list[n] = NULL;
        if (!write_file(dir, trust_stores[t].file, 0644, pki_write_certs, list))
            return false;
    }
    return true;
}

int main(int argc, char **argv)
{
    bool reuse = false, list = false;
    const char *dir = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--reuse") == 0) {
            reuse = true;
        } else if (strcmp(a, "--list") == 0) {
            list = true;
        } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(a, "--") == 0 && i + 2 == argc && dir == NULL) {
            dir = argv[++i];
        } else if (a[0] == '-' && a[1] != '\0') {
            lab_say(PKI_PROG, "unknown option %s", a);
            usage(stderr);
            return 2;
        } else if (dir == NULL) {
            dir = a;
        } else {
            lab_say(PKI_PROG, "one directory only (%s, then %s)", dir, a);
            usage(stderr);
            return 2;
        }
    }
    if (list) {
        if (reuse) {
            lab_say(PKI_PROG, "--list writes nothing: --reuse makes no sense with it");
            return 2;
        }
        list_files(dir);
        return fflush(stdout) == 0 ? 0 : 1;
    }
    if (dir == NULL || dir[0] == '\0') {
        lab_say(PKI_PROG, "which directory?");
        usage(stderr);
        return 2;
    }

    EVP_PKEY *keys[NSPECS] = { NULL };
    X509 *certs[NSPECS] = { NULL };
    bool ok = make_dir(dir) && get_keys(dir, reuse, keys) && make_certs(dir, keys, certs)
        && write_bundles(dir, certs);
    for (size_t i = 0; i < NSPECS; i++) {
        X509_free(certs[i]);
        EVP_PKEY_free(keys[i]);
    }
    if (ok)
        lab_say(PKI_PROG, "%zu certificates, their keys (%s), chains and trust stores in %s",
                NSPECS, reuse ? "reused where present" : "new", dir);
    return ok ? 0 : 1;
}
