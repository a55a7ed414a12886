#!/usr/bin/env python3
"""Checks lab-pki (lab/pki) against the test PKI table of lab/README.md.

Runs $LAB_PKI into a temporary directory and checks, with the openssl CLI:
every file of the layout and nothing else, subjects/issuers/validity/SANs/
serials/extensions, each key matching its certificate, the chain files and
trust stores, the verifications the lab's scenarios rely on (including the
ones that must fail, with their error codes), --reuse keeping keys, --list,
and the exit status of bad arguments (2) and failures (1).
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

PKI = os.environ.get("LAB_PKI")
OPENSSL = shutil.which("openssl")

ORG = "enrollmon TEST PKI"
VALID = ("Jan  1 00:00:00 2024 GMT", "Dec 31 23:59:59 2049 GMT")

# name: (CN, issuer or None for self-signed, kind, SAN DNS, (notBefore, notAfter))
# kind: ca (CA only), ca-server (self-signed CA that is also a TLS server),
# server (serverAuth+clientAuth leaf), phone (clientAuth leaf).
# the AD CS CAs start in 2019 so that web-expired was once valid
ADCS_VALID = ("Jan  1 00:00:00 2019 GMT", VALID[1])
TABLE = {
    "mic-root": ("Cisco Root CA M2", None, "ca", None, VALID),
    "mic-ca": ("Cisco Manufacturing CA SHA2", "mic-root", "ca", None, VALID),
    "capf-a": ("CAPF-1a2b3c4d", None, "ca-server", None, VALID),
    "capf-b": ("CAPF-9f8e7d6c", None, "ca-server", None, VALID),
    "cucm": ("cucm-pub.example.test", None, "ca-server", None, VALID),
    "adcs-root": ("enrollmon Test Root CA", None, "ca", None, ADCS_VALID),
    "adcs-issuing": ("enrollmon Test Issuing CA", "adcs-root", "ca", None, ADCS_VALID),
    "web-good": ("ca.example.test", "adcs-issuing", "server", "ca.example.test", VALID),
    "web-self-signed": ("ca.example.test", None, "server", "ca.example.test", VALID),
    "web-wrong-name": ("other.example.test", "adcs-issuing", "server",
                       "other.example.test", VALID),
    "web-not-yet-valid": ("ca.example.test", "adcs-issuing", "server", "ca.example.test",
                          ("Jan  1 00:00:00 2049 GMT", VALID[1])),
    "web-expired": ("ca.example.test", "adcs-issuing", "server", "ca.example.test",
                    ("Jan  1 00:00:00 2019 GMT", "Jan  1 00:00:00 2021 GMT")),
    "ces": ("ces.example.test", "adcs-issuing", "server", "ces.example.test", VALID),
    "phone-SEP74A02FC0A675-mic": ("SEP74A02FC0A675", "mic-ca", "phone", None, VALID),
    "phone-SEP74A02FC0A675-lsc": ("SEP74A02FC0A675", "capf-a", "phone", None, VALID),
    "phone-SEP001122334455-lsc-b": ("SEP001122334455", "capf-b", "phone", None, VALID),
}
CHAINS = {
    "web-good-chain.pem": ["web-good", "adcs-issuing"],
    "web-wrong-name-chain.pem": ["web-wrong-name", "adcs-issuing"],
    "web-not-yet-valid-chain.pem": ["web-not-yet-valid", "adcs-issuing"],
    "web-expired-chain.pem": ["web-expired", "adcs-issuing"],
    "ces-chain.pem": ["ces", "adcs-issuing"],
    "phone-SEP74A02FC0A675-mic-chain.pem": ["phone-SEP74A02FC0A675-mic", "mic-ca"],
}
TRUST = {
    "trust-adcs.pem": ["adcs-root"],
    "trust-mic.pem": ["mic-root"],
    "trust-capf-a.pem": ["capf-a"],
    "trust-capf-b.pem": ["capf-b"],
    "trust-cucm.pem": ["cucm"],
    "trust-all.pem": ["mic-root", "capf-a", "capf-b", "cucm", "adcs-root"],
}

# openssl verify error numbers (X509_V_ERR_*)
CERT_NOT_YET_VALID = 9
CERT_HAS_EXPIRED = 10
SELF_SIGNED = 18
UNABLE_TO_GET_ISSUER_LOCALLY = 20
HOSTNAME_MISMATCH = 62

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL: " + what, file=sys.stderr)
    return cond


def run(args, timeout=90):
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout)


def lab_pki(*args):
    return run([PKI, *args])


def read(path, mode="r"):
    with open(path, mode) as f:
        return f.read()


def pem_blocks(text):
    return re.findall(r"-----BEGIN CERTIFICATE-----\n.*?-----END CERTIFICATE-----\n",
                      text, re.S)


def verify(d, trust, target, untrusted=None, opts=()):
    """(error number or 0, depth of the error, output) of openssl verify."""
    args = [OPENSSL, "verify", *opts, "-CAfile", os.path.join(d, trust)]
    if untrusted:
        args += ["-untrusted", os.path.join(d, untrusted)]
    args.append(os.path.join(d, target))
    p = run(args)
    out = p.stdout + p.stderr
    if p.returncode == 0 and out.strip().endswith(": OK"):
        return 0, 0, out
    m = re.search(r"error (\d+) at (\d+) depth", out)
    if m is None:
        return -1, -1, out
    return int(m.group(1)), int(m.group(2)), out


def expect_verify(d, trust, target, untrusted=None, opts=(), error=0, at=0):
    got, depth, out = verify(d, trust, target, untrusted, opts)
    want = "OK" if error == 0 else "error %d at depth %d" % (error, at)
    check(got == error and depth == at, "verify %s against %s%s%s: want %s, got:\n%s" % (
        target, trust, " -untrusted " + untrusted if untrusted else "",
        " " + " ".join(opts) if opts else "", want, out.strip()))


def expected_files():
    files = set()
    for name in TABLE:
        files |= {name + ".pem", name + ".key"}
    return files | set(CHAINS) | set(TRUST)


def x509(path, *opts):
    p = run([OPENSSL, "x509", "-noout", "-in", path, *opts])
    check(p.returncode == 0, "openssl x509 %s %s: %s" % (path, " ".join(opts), p.stderr))
    return p.stdout


def modulus(path, kind):
    p = run([OPENSSL, kind, "-noout", "-modulus", "-in", path])
    check(p.returncode == 0, "openssl %s -modulus %s: %s" % (kind, path, p.stderr))
    return p.stdout.strip()


def check_certs(d):
    serials = {}
    for name, (cn, issuer, kind, san, (nb, na)) in TABLE.items():
        pem = os.path.join(d, name + ".pem")
        key = os.path.join(d, name + ".key")
        out = x509(pem, "-subject", "-issuer", "-dates", "-serial", "-ext", "subjectAltName")
        check("subject=O = %s, CN = %s\n" % (ORG, cn) in out, "%s: subject in\n%s" % (name, out))
        icn = TABLE[issuer][0] if issuer else cn
        check("issuer=O = %s, CN = %s\n" % (ORG, icn) in out, "%s: issuer in\n%s" % (name, out))
        check("notBefore=%s\n" % nb in out, "%s: notBefore %s in\n%s" % (name, nb, out))
        check("notAfter=%s\n" % na in out, "%s: notAfter %s in\n%s" % (name, na, out))
        sans = re.findall(r"DNS:([^,\s]+)", out)
        check(sans == ([san] if san else []), "%s: SAN %s, got %s" % (name, san, sans))
        m = re.search(r"serial=([0-9A-F]+)", out)
        if check(m is not None, "%s: no serial" % name):
            serials[name] = int(m.group(1), 16)

        text = x509(pem, "-text")
        check("Version: 3 (0x2)" in text, "%s: not X.509 v3" % name)
        check("Signature Algorithm: sha256WithRSAEncryption" in text, "%s: not SHA-256" % name)
        check("Public-Key: (2048 bit)" in text, "%s: not RSA 2048" % name)
        is_ca = kind in ("ca", "ca-server")
        check(re.search(r"Basic Constraints: critical\n\s+CA:TRUE" if is_ca
                        else r"Basic Constraints:.*\n\s+CA:FALSE", text) is not None,
              "%s: basicConstraints" % name)
        ku = re.search(r"Key Usage: critical\n\s+(.*)\n", text)
        want_ku = {"ca": "Certificate Sign, CRL Sign",
                   "ca-server": "Digital Signature, Key Encipherment, Certificate Sign, CRL Sign",
                   }.get(kind, "Digital Signature, Key Encipherment")
        check(ku is not None and ku.group(1).strip() == want_ku,
              "%s: keyUsage %s, got %s" % (name, want_ku, ku and ku.group(1)))
        eku = re.search(r"Extended Key Usage: *\n\s+(.*)\n", text)
        want_eku = {"ca": None, "phone": "TLS Web Client Authentication"}.get(
            kind, "TLS Web Server Authentication, TLS Web Client Authentication")
        check((eku.group(1).strip() if eku else None) == want_eku,
              "%s: extendedKeyUsage %s, got %s" % (name, want_eku, eku and eku.group(1)))
        check("Subject Key Identifier" in text, "%s: no subjectKeyIdentifier" % name)
        check(("Authority Key Identifier" in text) == (issuer is not None),
              "%s: authorityKeyIdentifier only where there is an issuer" % name)
        if issuer is None:
            # self-signed: it verifies with its own key
            p = run([OPENSSL, "verify", "-CAfile", pem, "-partial_chain", pem])
            check(p.returncode == 0, "%s: not signed by its own key: %s" % (name, p.stdout + p.stderr))

        check(modulus(pem, "x509") == modulus(key, "rsa"), "%s: key does not match" % name)
        check(read(key).startswith("-----BEGIN PRIVATE KEY-----\n"),
              "%s.key: not an unencrypted PEM key" % name)
        check(os.stat(key).st_mode & 0o077 == 0, "%s.key: readable by others" % name)
    check(len(set(serials.values())) == len(TABLE),
          "serials are not distinct: %s" % serials)
    return serials


def check_bundles(d):
    for f, names in list(CHAINS.items()) + list(TRUST.items()):
        want = [read(os.path.join(d, n + ".pem")) for n in names]
        got = pem_blocks(read(os.path.join(d, f)))
        check(got == want, "%s: should hold %s in that order" % (f, " + ".join(names)))


def check_verifications(d):
    web = ["-purpose", "sslserver", "-x509_strict"]
    client = ["-purpose", "sslclient", "-x509_strict"]
    ca_host = web + ["-verify_hostname", "ca.example.test"]
    # the AD CS-like hierarchy
    expect_verify(d, "trust-adcs.pem", "web-good.pem", "adcs-issuing.pem")
    expect_verify(d, "trust-adcs.pem", "web-good.pem", "adcs-issuing.pem", ca_host)
    expect_verify(d, "trust-adcs.pem", "web-good.pem", "web-good-chain.pem", ca_host)
    expect_verify(d, "trust-all.pem", "web-good.pem", "web-good-chain.pem", ca_host)
    expect_verify(d, "trust-adcs.pem", "ces.pem", "ces-chain.pem",
                  web + ["-verify_hostname", "ces.example.test"])
    # the missing intermediate
    expect_verify(d, "trust-adcs.pem", "web-good.pem", error=UNABLE_TO_GET_ISSUER_LOCALLY)
    expect_verify(d, "trust-adcs.pem", "web-expired.pem", "adcs-issuing.pem",
                  error=CERT_HAS_EXPIRED)
    expect_verify(d, "trust-adcs.pem", "web-expired.pem", "web-expired-chain.pem",
                  error=CERT_HAS_EXPIRED)
    expect_verify(d, "trust-adcs.pem", "web-not-yet-valid.pem", "adcs-issuing.pem",
                  error=CERT_NOT_YET_VALID)
    expect_verify(d, "trust-adcs.pem", "web-not-yet-valid.pem", "web-not-yet-valid-chain.pem",
                  error=CERT_NOT_YET_VALID)
    # web-not-yet-valid is valid in its own time (web-expired is not: its
    # 2019-2021 lies before its issuer's 2024-2049)
    expect_verify(d, "trust-adcs.pem", "web-not-yet-valid.pem", "adcs-issuing.pem",
                  ["-attime", "2506118400"])  # 2049-06-01
    expect_verify(d, "trust-adcs.pem", "web-wrong-name.pem", "adcs-issuing.pem", web)
    expect_verify(d, "trust-adcs.pem", "web-wrong-name.pem", "web-wrong-name-chain.pem",
                  ca_host, error=HOSTNAME_MISMATCH)
    expect_verify(d, "trust-adcs.pem", "web-self-signed.pem", error=SELF_SIGNED)
    expect_verify(d, "trust-all.pem", "web-self-signed.pem", error=SELF_SIGNED)
    # phones: MIC, LSC of its own cluster, LSC of another cluster
    mic = "phone-SEP74A02FC0A675-mic.pem"
    expect_verify(d, "trust-mic.pem", mic, "mic-ca.pem", client)
    expect_verify(d, "trust-mic.pem", mic, "phone-SEP74A02FC0A675-mic-chain.pem", client)
    expect_verify(d, "trust-mic.pem", mic, error=UNABLE_TO_GET_ISSUER_LOCALLY)
    expect_verify(d, "trust-capf-a.pem", mic, "mic-ca.pem", error=UNABLE_TO_GET_ISSUER_LOCALLY,
                  at=1)
    expect_verify(d, "trust-capf-a.pem", "phone-SEP74A02FC0A675-lsc.pem", opts=client)
    expect_verify(d, "trust-capf-a.pem", "phone-SEP001122334455-lsc-b.pem",
                  error=UNABLE_TO_GET_ISSUER_LOCALLY)
    expect_verify(d, "trust-mic.pem", "phone-SEP74A02FC0A675-lsc.pem",
                  error=UNABLE_TO_GET_ISSUER_LOCALLY)
    expect_verify(d, "trust-all.pem", "phone-SEP001122334455-lsc-b.pem", opts=client)
    # the self-signed servers that are trusted by design
    expect_verify(d, "trust-capf-a.pem", "capf-a.pem", opts=web)
    expect_verify(d, "trust-all.pem", "cucm.pem", opts=web)
    expect_verify(d, "trust-capf-a.pem", "capf-b.pem", error=SELF_SIGNED)
    expect_verify(d, "trust-adcs.pem", "adcs-issuing.pem")
    expect_verify(d, "trust-mic.pem", "mic-ca.pem")


def snapshot(d, suffix):
    return {f: read(os.path.join(d, f), "rb") for f in sorted(os.listdir(d)) if f.endswith(suffix)}


def check_reuse(d, serials):
    keys, certs = snapshot(d, ".key"), snapshot(d, ".pem")
    p = lab_pki("--reuse", d)
    check(p.returncode == 0, "--reuse: exit %d: %s" % (p.returncode, p.stderr))
    check(snapshot(d, ".key") == keys, "--reuse changed key files")
    check(snapshot(d, ".pem") == certs, "--reuse with every key kept changed certificates")

    # one key missing: only it is made anew, the rest stays
    os.unlink(os.path.join(d, "adcs-issuing.key"))
    p = lab_pki("--reuse", d)
    check(p.returncode == 0, "--reuse with a missing key: exit %d: %s" % (p.returncode, p.stderr))
    now = snapshot(d, ".key")
    check(set(now) == set(keys), "--reuse with a missing key: key files %s" % sorted(now))
    changed = sorted(f for f in keys if now.get(f) != keys[f])
    check(changed == ["adcs-issuing.key"], "--reuse with a missing key changed %s" % changed)
    check(read(os.path.join(d, "web-good.pem"), "rb") != certs["web-good.pem"],
          "--reuse: web-good.pem not re-signed by the new adcs-issuing key")
    check(read(os.path.join(d, "mic-ca.pem"), "rb") == certs["mic-ca.pem"],
          "--reuse: mic-ca.pem changed though none of its keys did")
    check_bundles(d)
    expect_verify(d, "trust-adcs.pem", "web-good.pem", "web-good-chain.pem")

    # without --reuse every key is new, the serials are not
    p = lab_pki(d)
    check(p.returncode == 0, "second run: exit %d: %s" % (p.returncode, p.stderr))
    again = snapshot(d, ".key")
    same = sorted(f for f in keys if again.get(f) == now.get(f))
    check(not same, "a run without --reuse kept keys %s" % same)
    check(check_certs(d) == serials, "serials differ between runs")
    check(sorted(os.listdir(d)) == sorted(expected_files()), "files after reruns: %s"
          % sorted(set(os.listdir(d)) ^ expected_files()))


def check_list(d):
    p = lab_pki("--list")
    check(p.returncode == 0, "--list: exit %d: %s" % (p.returncode, p.stderr))
    listed = [line.split("\t")[0] for line in p.stdout.splitlines()]
    check(sorted(listed) == sorted(expected_files()),
          "--list differs from the files written: %s" % sorted(set(listed) ^ expected_files()))
    p = lab_pki("--list", d)
    check(p.returncode == 0 and all(line.startswith(d + "/") for line in p.stdout.splitlines()),
          "--list DIR should prefix DIR/: %s" % p.stdout[:200])


def check_errors(tmp):
    for args in ([], ["--bogus", tmp], [tmp, tmp + "2"], ["--list", "--reuse"], [""]):
        p = lab_pki(*args)
        check(p.returncode == 2, "lab-pki %s: exit %d, want 2" % (args, p.returncode))
        check(p.stderr.startswith("lab-pki: "), "lab-pki %s: no reason on stderr" % args)

    blocker = os.path.join(tmp, "a-file")
    with open(blocker, "w") as f:
        f.write("not a directory\n")
    p = lab_pki(os.path.join(blocker, "pki"))
    check(p.returncode == 1 and "a-file" in p.stderr,
          "DIR under a file: exit %d (want 1): %s" % (p.returncode, p.stderr))

    bad = os.path.join(tmp, "bad")
    os.mkdir(bad)
    with open(os.path.join(bad, "mic-root.key"), "w") as f:
        f.write("-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n")
    p = lab_pki("--reuse", bad)
    lines = p.stderr.splitlines()
    check(p.returncode == 1 and lines and all("mic-root.key" in l for l in lines)
          and len(lines) == len(set(lines)),
          "--reuse with a broken key: exit %d (want 1), stderr:\n%s" % (p.returncode, p.stderr))
    check(not os.path.exists(os.path.join(bad, "mic-root.pem")),
          "--reuse with a broken key still wrote certificates")

    # a write that fails half-way (a directory where a certificate goes)
    clash = os.path.join(tmp, "clash")
    os.makedirs(os.path.join(clash, "web-good.pem"))
    p = lab_pki(clash)
    check(p.returncode == 1 and "web-good.pem" in p.stderr,
          "unwritable web-good.pem: exit %d (want 1): %s" % (p.returncode, p.stderr))
    left = [f for f in os.listdir(clash) if f.startswith(".")]
    check(not left, "temporary files left behind: %s" % left)

    g = run([OPENSSL, "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
             "-out", os.path.join(bad, "mic-root.key")])
    if check(g.returncode == 0, "openssl genpkey EC: %s" % g.stderr):
        p = lab_pki("--reuse", bad)
        check(p.returncode == 1 and "not an RSA key" in p.stderr,
              "--reuse with an EC key: exit %d (want 1): %s" % (p.returncode, p.stderr))


def main():
    if not PKI:
        print("LAB_PKI is not set (the lab-pki program)", file=sys.stderr)
        return 1
    if not OPENSSL:
        print("openssl CLI not found (Debian: apt-get install openssl)", file=sys.stderr)
        return 1
    tmp = tempfile.mkdtemp(prefix="lab-pki-test-")
    try:
        d = os.path.join(tmp, "made", "pki")  # two levels: DIR is created as needed
        p = lab_pki(d)
        if not check(p.returncode == 0, "lab-pki %s: exit %d: %s" % (d, p.returncode, p.stderr)):
            return 1
        files = set(os.listdir(d))
        check(files == expected_files(), "files written, unexpected/missing: %s"
              % sorted(files ^ expected_files()))
        serials = check_certs(d)
        check_bundles(d)
        check_verifications(d)
        check_list(d)
        check_reuse(d, serials)
        check_errors(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if failures:
        print("%d check(s) failed" % len(failures), file=sys.stderr)
        return 1
    print("lab-pki: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
