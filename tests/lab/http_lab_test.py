#!/usr/bin/env python3
"""The lab's web enrollment parties against each other over loopback.

certsrv-server (AD CS web enrollment on IIS) with ces-client (CES/CiscoRA),
est-server (CES's EST) with est-client (CAPF's EST client), one scenario per
failure id of ../../../shared/docs/failures.md that these programs act out:
the whole certsrv flow (ENROLLMENT_OK), an unknown template
(TEMPLATE_REJECTED), a wrong password (CA_AUTH_FAILED), each bad web
certificate (CA_CHAIN_UNTRUSTED, SERVER_CERT_SELF_SIGNED,
SERVER_NAME_MISMATCH, CERT_NOT_YET_VALID, CERT_EXPIRED), a CA too slow to
answer (CA_LOGIN_TIMEOUT, CA_REQUEST_TIMEOUT), a certificate for another key
(CSR_CERT_KEY_MISMATCH), EST success and refusal (EST_ENROLL_FAILED), the
TLS 1.3 and RSA key exchange variants, and the HTTP layer's refusals.

Programs come from the environment (LAB_CERTSRV_SERVER, LAB_CES_CLIENT,
LAB_EST_SERVER, LAB_EST_CLIENT; meson sets them).  The PKI is made by
lab-pki (LAB_PKI) when it is built, else by the openssl command with the
same file names (lab/README.md).  LAB_KEEP_WORKDIR=1 keeps the temporary
directory.  Only the standard library and the openssl command are used.
"""

import base64
import os
import re
import shlex
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time

PROGRAMS = {}
FAILURES = []
WORK = None


def say(msg):
    print(msg, flush=True)


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


# ---------------------------------------------------------------- the PKI

CA_CONF = """\
[ ca ]
default_ca = lab_ca

[ lab_ca ]
dir = {dir}
database = $dir/index.txt
new_certs_dir = $dir/newcerts
serial = $dir/serial
default_md = sha256
policy = policy_any
unique_subject = no
copy_extensions = none
email_in_dn = no

[ policy_any ]
organizationName = optional
commonName = supplied

[ req ]
distinguished_name = req_dn

[ req_dn ]

[ v3_ca ]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always

[ v3_server ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always

[ v3_server_san ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
subjectAltName = DNS:${{ENV::LAB_SAN}}
"""

O = "enrollmon TEST PKI"
VALID = ("20240101000000Z", "20491231235959Z")
CA_VALID = ("20190101000000Z", "20491231235959Z")  # so that web-expired was once valid

# name, CN, issuer (None: self), SAN, validity, extensions section
PKI_PLAN = [
    ("adcs-root", "enrollmon Test Root CA", None, None, CA_VALID, "v3_ca"),
    ("adcs-issuing", "enrollmon Test Issuing CA", "adcs-root", None, CA_VALID, "v3_ca"),
    ("web-good", "ca.example.test", "adcs-issuing", "ca.example.test", VALID, "v3_server_san"),
    ("web-self-signed", "ca.example.test", None, "ca.example.test", VALID, "v3_server_san"),
    ("web-wrong-name", "other.example.test", "adcs-issuing", "other.example.test", VALID,
     "v3_server_san"),
    ("web-not-yet-valid", "ca.example.test", "adcs-issuing", "ca.example.test",
     ("20490101000000Z", "20491231235959Z"), "v3_server_san"),
    ("web-expired", "ca.example.test", "adcs-issuing", "ca.example.test",
     ("20190101000000Z", "20210101000000Z"), "v3_server_san"),
    ("ces", "ces.example.test", "adcs-issuing", "ces.example.test", VALID, "v3_server_san"),
]


def openssl(*args, env=None, stdin=None):
    if env is None:
        env = dict(os.environ, LAB_SAN="unused.example.test")  # ca.cnf names it
    r = subprocess.run(["openssl", *args], capture_output=True, text=True, env=env, input=stdin)
    if r.returncode != 0:
        raise RuntimeError("openssl %s failed: %s" % (" ".join(args), r.stderr.strip()))
    return r.stdout


def make_pki_with_openssl(pki):
    """The files of lab/README.md this test needs, made with `openssl ca`."""
    os.makedirs(os.path.join(pki, "newcerts"), exist_ok=True)
    conf = os.path.join(pki, "ca.cnf")
    with open(conf, "w") as f:
        f.write(CA_CONF.format(dir=pki))
    open(os.path.join(pki, "index.txt"), "w").close()
    with open(os.path.join(pki, "serial"), "w") as f:
        f.write("1000\n")
    for name, cn, issuer, san, (nb, na), ext in PKI_PLAN:
        key = os.path.join(pki, name + ".key")
        csr = os.path.join(pki, name + ".csr")
        crt = os.path.join(pki, name + ".pem")
        openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", key)
        openssl("req", "-new", "-config", conf, "-key", key, "-subj", "/O=%s/CN=%s" % (O, cn),
                "-out", csr)
        env = dict(os.environ, LAB_SAN=san or "unused.example.test")
        signer = (["-selfsign", "-keyfile", key] if issuer is None else
                  ["-cert", os.path.join(pki, issuer + ".pem"),
                   "-keyfile", os.path.join(pki, issuer + ".key")])
        openssl("ca", "-batch", "-config", conf, *signer, "-in", csr, "-out", crt,
                "-extensions", ext, "-startdate", nb, "-enddate", na, "-notext", "-preserveDN",
                env=env)
        os.unlink(csr)
        with open(crt) as f:
            leaf = f.read()
        chain = leaf
        if issuer == "adcs-issuing":
            with open(os.path.join(pki, "adcs-issuing.pem")) as f:
                chain += f.read()
        with open(os.path.join(pki, name + "-chain.pem"), "w") as f:
            f.write(chain)
    shutil.copy(os.path.join(pki, "adcs-root.pem"), os.path.join(pki, "trust-adcs.pem"))


def make_pki(pki):
    lab_pki = os.environ.get("LAB_PKI")
    if lab_pki:
        say("PKI: %s %s" % (os.path.basename(lab_pki), pki))
        r = subprocess.run([lab_pki, pki], capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError("lab-pki failed: %s" % r.stderr.strip())
    else:
        say("PKI: lab-pki is not built yet; made with the openssl command")
        make_pki_with_openssl(pki)
    for name in ("adcs-root.pem", "adcs-issuing.pem", "adcs-issuing.key", "web-good.pem",
                 "web-good-chain.pem", "web-self-signed.pem", "web-wrong-name.pem",
                 "web-not-yet-valid.pem", "web-expired.pem", "ces.pem", "ces.key",
                 "trust-adcs.pem"):
        if not os.path.exists(os.path.join(pki, name)):
            raise RuntimeError("the PKI lacks %s" % name)


# ---------------------------------------------------------- the processes

class Server:
    def __init__(self, name, argv):
        self.name = name
        self.log_path = os.path.join(WORK, name + ".server.log")
        self.log = open(self.log_path, "w")
        self.argv = argv
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=self.log)

    def wait_listening(self, timeout=30):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if "listening on" in self.text():
                return True
            if self.proc.poll() is not None:
                return False
            time.sleep(0.05)
        return False

    def text(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def finish(self, timeout=20):
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            rc = None
        self.log.close()
        return rc


def run_client(argv, timeout=60):
    t0 = time.monotonic()
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
        return r.returncode, r.stdout, r.stderr, time.monotonic() - t0
    except subprocess.TimeoutExpired as e:
        return None, e.stdout or "", e.stderr or "", time.monotonic() - t0


def show(argv):
    return " ".join(shlex.quote(a) for a in argv)


class Case:
    """One scenario: a server, a client, and what both must say."""

    def __init__(self, name):
        self.name = name
        self.problems = []
        self.dir = os.path.join(WORK, name)
        os.makedirs(self.dir, exist_ok=True)
        self.keylog = os.path.join(self.dir, "keys.log")

    def expect(self, cond, what):
        if not cond:
            self.problems.append(what)

    def run(self, server_prog, server_args, client_prog, client_args, client_timeout=60):
        port = free_port()
        pki = os.path.join(WORK, "pki")
        sargv = [server_prog, "--pki", pki, "--port", str(port), "--connections", "1",
                 "--keylog", self.keylog, *server_args]
        cargv = [client_prog, "--pki", pki, "--port", str(port), "--keylog", self.keylog,
                 "--save-dir", self.dir, *client_args]
        self.server = Server(self.name, sargv)
        if not self.server.wait_listening():
            self.server.finish(timeout=1)
            self.problems.append("server did not start: " + self.server.text())
            self.server_log, self.rc, self.out, self.err, self.secs = "", None, "", "", 0
            return self
        self.rc, self.out, self.err, self.secs = run_client(cargv, client_timeout)
        self.server_rc = self.server.finish()
        self.server_log = self.server.text()
        self.expect(self.server_rc == 0, "server exit status %r, wanted 0" % self.server_rc)
        self.argv = (sargv, cargv)
        return self

    def client_exit(self, want):
        self.expect(self.rc == want, "client exit status %r, wanted %d" % (self.rc, want))

    def client_says(self, pattern):
        self.expect(re.search(pattern, self.err), "client stderr lacks /%s/" % pattern)

    def server_says(self, pattern):
        self.expect(re.search(pattern, self.server_log), "server stderr lacks /%s/" % pattern)

    def keylog_has(self, label):
        try:
            with open(self.keylog) as f:
                lines = [l for l in f if l.startswith(label + " ")]
        except OSError:
            lines = []
        self.expect(len(lines) >= 2, "key log has %d %s lines (server and client: >= 2)"
                    % (len(lines), label))

    def modulus_md5s_match_openssl(self, equal):
        """The client's MD5 lines against `openssl req|x509 -noout -modulus | openssl md5`."""
        got = dict(re.findall(r"^(csr|certificate) modulus: (MD5\(stdin\)= [0-9a-f]{32})$",
                              self.out, re.M))
        for kind, cmd, f in (("csr", "req", "csr.pem"), ("certificate", "x509", "cert.pem")):
            path = os.path.join(self.dir, f)
            if not os.path.exists(path):
                self.problems.append("%s was not saved" % f)
                continue
            modulus = openssl(cmd, "-noout", "-modulus", "-in", path)
            md5 = openssl("md5", stdin=modulus).strip()
            self.expect(got.get(kind) == md5, "%s modulus: client printed %r, openssl %r"
                        % (kind, got.get(kind), md5))
        if "csr" in got and "certificate" in got:
            self.expect((got["csr"] == got["certificate"]) == equal,
                        "modulus MD5s should %sbe equal" % ("" if equal else "not "))

    def report(self):
        status = "ok" if not self.problems else "FAIL"
        say("%-28s %s (client exit %s, %.1f s)" % (self.name, status, self.rc, self.secs))
        if hasattr(self, "argv"):
            say("    server: %s" % show(self.argv[0]))
            say("    client: %s" % show(self.argv[1]))
        if self.problems:
            for p in self.problems:
                say("    - " + p)
            say("    --- server stderr ---\n" + indent(self.server_log))
            say("    --- client stderr ---\n" + indent(self.err))
            say("    --- client stdout ---\n" + indent(self.out))
            FAILURES.append(self.name)


def indent(text):
    return "\n".join("    | " + l for l in text.splitlines())


# -------------------------------------------------------------- scenarios

def certsrv(name, server_args, client_args, client_timeout=60):
    return Case(name).run(PROGRAMS["LAB_CERTSRV_SERVER"], server_args,
                          PROGRAMS["LAB_CES_CLIENT"], client_args, client_timeout)


def est(name, server_args, client_args):
    return Case(name).run(PROGRAMS["LAB_EST_SERVER"], server_args,
                          PROGRAMS["LAB_EST_CLIENT"], client_args)


def iis_line(method, stem, status):
    return r"certsrv-server: %s %s \S+ \S+ CiscoRA\+1\.0 %d\n" % (method, re.escape(stem), status)


def case_certsrv_ok(tls, label):
    c = certsrv("certsrv-ok-" + tls, ["--tls", tls, "--templates", "CiscoRA,WebServer"],
                ["--tls", tls, "--template", "CiscoRA", "--check-host"])
    c.client_exit(0)
    # the IIS log of seed 000: 401, 301, form, 401, 301, POST, certnew.cer, chain
    c.expect(len(re.findall(iis_line("GET", "/certsrv", 401), c.server_log)) == 4,
             "two NTLM dances (two 401s each)")
    c.expect(len(re.findall(iis_line("GET", "/certsrv", 301), c.server_log)) == 2,
             "two logins answered 301")
    for method, stem in (("GET", "/certsrv/certrqxt.asp"), ("POST", "/certsrv/certfnsh.asp"),
                         ("GET", "/certsrv/certnew.cer"), ("GET", "/certsrv/certnew.p7b")):
        c.server_says(iis_line(method, stem, 200))
    c.server_says(r"ENROLLMON\\ciscora")
    c.client_says(r"Certificate Issued: ReqID \d+")
    c.client_says(r"CA Cert chain retrieved from CA \(2 certificates\)")
    c.modulus_md5s_match_openssl(equal=True)
    c.keylog_has(label)
    if tls == "tls12-rsa-cbc":
        c.client_says(r"TLSv1\.2 AES128-SHA")
    elif tls == "tls13":
        c.client_says(r"TLSv1\.3 TLS_")
    else:
        c.client_says(r"TLSv1\.2 ECDHE-RSA-AES128-GCM-SHA256")
    c.report()


def case_template_rejected():
    c = certsrv("certsrv-unknown-template", ["--templates", "CiscoRA"],
                ["--template", "CiscoRAx", "--steps", "login,form,submit,retrieve"])
    c.client_exit(3)
    c.client_says(r"TEMPLATE_REJECTED: Certificate Request Denied")
    c.client_says(r"Denied by Policy Module")
    c.client_says(r"0x80094800 \(-2146875392 CERTSRV_E_UNSUPPORTED_CERT_TYPE\)")
    c.server_says(r"unknown certificate template \"CiscoRAx\"")
    c.server_says(iis_line("POST", "/certsrv/certfnsh.asp", 200))
    c.expect("certnew.cer" not in c.server_log, "no certnew.cer after a denial")
    c.report()


def case_auth_failed():
    c = certsrv("certsrv-bad-password", ["--user", "ENROLLMON\\ciscora", "--password", "right"],
                ["--user", "ENROLLMON\\ciscora", "--password", "wrong"])
    c.client_exit(3)
    c.client_says(r"CA_AUTH_FAILED: /certsrv still answered 401 after the credentials")
    c.server_says(r"NTLM authentication of ENROLLMON\\ciscora failed: wrong password")
    c.expect(len(re.findall(iis_line("GET", "/certsrv", 401), c.server_log)) == 3,
             "three 401s: no credentials, the challenge, after the credentials")
    c.report()


def case_bad_web_cert(name, cert, client_args, reason, alert):
    c = certsrv("certsrv-" + name, ["--cert", cert], ["--steps", "login,chain", *client_args])
    c.client_exit(1)
    c.client_says(r"peer certificate: " + reason)
    c.server_says(r"alert " + alert)
    c.expect("GET /certsrv" not in c.server_log, "no request after a rejected certificate")
    c.report()


def case_wrong_name_accepted():
    """Without a host name check the client carries on (the warning case)."""
    c = certsrv("certsrv-wrong-name-unchecked", ["--cert", "web-wrong-name-chain"],
                ["--steps", "login,chain"])
    c.client_exit(0)
    c.server_says(iis_line("GET", "/certsrv/certnew.p7b", 200))
    c.report()


def case_login_timeout():
    c = certsrv("certsrv-login-timeout", ["--login-delay-ms", "12000"],
                ["--timeout-ms", "2000", "--steps", "login,chain"], client_timeout=30)
    c.client_exit(5)
    c.client_says(r"CA_LOGIN_TIMEOUT: GET /certsrv: Operation timed out after 2000 milliseconds")
    c.server_says(r"holding the answer to GET /certsrv for 12000 ms")
    c.server_says(r"the client gave up after \d+ ms without an answer")
    c.expect(c.secs < 8, "the client gave up after %.1f s, wanted about 2" % c.secs)
    c.report()


def case_request_timeout():
    c = certsrv("certsrv-request-timeout", ["--request-delay-ms", "12000"],
                ["--timeout-ms", "2000", "--steps", "login,chain"], client_timeout=30)
    c.client_exit(5)
    c.client_says(r"CA_REQUEST_TIMEOUT: GET /certsrv/certnew.p7b\?ReqID=CACert&Renewal=0&Enc=bin")
    c.server_says(iis_line("GET", "/certsrv", 301))
    c.server_says(r"the client gave up after \d+ ms without an answer")
    c.report()


def case_wrong_key():
    c = certsrv("certsrv-wrong-key", ["--wrong-key"],
                ["--steps", "login,form,submit,retrieve"])
    c.client_exit(4)
    c.client_says(r"CSR_CERT_KEY_MISMATCH")
    c.modulus_md5s_match_openssl(equal=False)
    c.report()


def case_est_ok(tls, label):
    c = est("est-ok-" + tls, ["--tls", tls, "--cert", "ces-chain"],
            ["--tls", tls, "--check-host", "--user", "capf", "--password", "lab-password"])
    c.client_exit(0)
    c.server_says(r'"GET /.well-known/est/cacerts HTTP/1.1" 200 "Cisco EST client 1.0"')
    c.server_says(r'"POST /.well-known/est/simpleenroll HTTP/1.1" 200 "Cisco EST client 1.0"')
    c.client_says(r"Enrollment rv = 0 \(EST_ERR_NONE\)")
    c.modulus_md5s_match_openssl(equal=True)
    c.keylog_has(label)
    c.report()


def case_est_rejected(name, server_args, client_args):
    c = est(name, ["--cert", "ces-chain", *server_args], client_args)
    c.client_exit(3)
    c.client_says(r"EST_ENROLL_FAILED: Enrollment rv = 22 \(EST_ERR_AUTH_FAIL\)")
    c.server_says(r'"POST /.well-known/est/simpleenroll HTTP/1.1" 401')
    c.server_says(r"rc=22 \(EST_ERR_AUTH_FAIL\)")
    c.report()


def case_est_timeout():
    c = est("est-timeout", ["--cert", "ces-chain", "--delay-ms", "12000"], ["--timeout-ms", "2000"])
    c.client_exit(5)
    c.client_says(r"rv = 35 \(EST_ERR_SSL_READ\)")
    c.server_says(r"the client gave up after \d+ ms without an answer")
    c.report()


def case_est_wrong_key():
    c = est("est-wrong-key", ["--cert", "ces-chain", "--wrong-key"], [])
    c.client_exit(4)
    c.modulus_md5s_match_openssl(equal=False)
    c.report()


def raw_exchange(port, data, read_timeout=10):
    """Sends data over TLS (no verification) and returns what came back."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", port), timeout=read_timeout) as s:
        with ctx.wrap_socket(s, server_hostname="ca.example.test") as t:
            t.sendall(data)
            out = b""
            try:
                while True:
                    chunk = t.recv(65536)
                    if not chunk:
                        break
                    out += chunk
            except (ssl.SSLError, OSError):
                pass
            return out


def case_http_refusals():
    """The HTTP layer refuses what it must not trust; the server lives on."""
    c = Case("certsrv-http-refusals")
    port = free_port()
    pki = os.path.join(WORK, "pki")
    sargv = [PROGRAMS["LAB_CERTSRV_SERVER"], "--pki", pki, "--port", str(port),
             "--connections", "5"]
    server = Server(c.name, sargv)
    c.rc, c.out, c.err, c.secs = 0, "", "", 0
    if not server.wait_listening():
        server.finish(timeout=1)
        c.problems.append("server did not start")
        c.server_log = server.text()
        c.report()
        return
    t0 = time.monotonic()
    probes = [
        ("huge Content-Length", b"POST /certsrv/certfnsh.asp HTTP/1.1\r\nHost: x\r\n"
         b"Content-Length: 99999999999999999999\r\n\r\n", b"HTTP/1.1 413 "),
        ("bad Content-Length", b"POST /certsrv/certfnsh.asp HTTP/1.1\r\nHost: x\r\n"
         b"Content-Length: 12, 13\r\n\r\n", b"HTTP/1.1 400 "),
        ("header without colon", b"GET /certsrv HTTP/1.1\r\nHost x\r\n\r\n", b"HTTP/1.1 400 "),
        ("head above 16 KiB", b"GET /certsrv HTTP/1.1\r\nX-Fill: " + b"a" * 20000 + b"\r\n\r\n",
         b"HTTP/1.1 413 "),
        # keep-alive: a request before login, a broken NTLM token, then a NTLM
        # type 3 without a challenge before it; all 401
        ("not logged in", b"GET /certsrv/certnew.p7b?ReqID=CACert&Renewal=0&Enc=bin HTTP/1.1\r\n"
         b"Host: x\r\n\r\nGET /certsrv HTTP/1.1\r\nHost: x\r\nAuthorization: NTLM %%%\r\n\r\n"
         b"GET /certsrv HTTP/1.1\r\nHost: x\r\nAuthorization: NTLM "
         + base64.b64encode(b"NTLMSSP\0\3\0\0\0" + bytes(60))
         + b"\r\nConnection: close\r\n\r\n", None),
    ]
    for what, data, want in probes:
        try:
            out = raw_exchange(port, data)
        except OSError as e:
            c.problems.append("%s: %s" % (what, e))
            continue
        if want is not None:
            c.expect(out.startswith(want), "%s: answer %r, wanted %r" % (what, out[:40], want))
        else:
            statuses = re.findall(rb"HTTP/1\.1 (\d{3}) ", out)
            c.expect(statuses == [b"401", b"401", b"401"],
                     "%s: statuses %r, wanted three 401" % (what, statuses))
            c.expect(b"Server: Microsoft-IIS/10.0\r\n" in out, "IIS Server header")
            c.expect(b"WWW-Authenticate: NTLM\r\n" in out and
                     b"WWW-Authenticate: Negotiate\r\n" in out, "NTLM and Negotiate offered")
    c.secs = time.monotonic() - t0
    server_rc = server.finish()
    c.server_log = server.text()
    c.expect(server_rc == 0, "server exit status %r, wanted 0" % server_rc)
    c.argv = (sargv, ["(python ssl probes)"])
    c.report()


def case_est_refusals():
    """est-server: unknown path, a body that is no PKCS#10, all on one connection."""
    c = Case("est-refusals")
    port = free_port()
    pki = os.path.join(WORK, "pki")
    sargv = [PROGRAMS["LAB_EST_SERVER"], "--pki", pki, "--port", str(port), "--connections", "1"]
    server = Server(c.name, sargv)
    c.rc, c.out, c.err, c.secs = 0, "", "", 0
    if not server.wait_listening():
        server.finish(timeout=1)
        c.problems.append("server did not start")
        c.server_log = server.text()
        c.report()
        return
    auth = b"Authorization: Basic " + base64.b64encode(b"capf:lab-password") + b"\r\n"
    data = (b"GET /.well-known/est/csrattrs HTTP/1.1\r\nHost: x\r\n\r\n"
            b"POST /.well-known/est/simpleenroll HTTP/1.1\r\nHost: x\r\n" + auth +
            b"Content-Type: application/pkcs10\r\nContent-Length: 8\r\n\r\nMIIB!!!=" +
            b"POST /.well-known/est/simpleenroll HTTP/1.1\r\nHost: x\r\n"
            b"Content-Length: 0\r\nConnection: close\r\n\r\n")
    try:
        out = raw_exchange(port, data)
    except OSError as e:
        out = b""
        c.problems.append(str(e))
    statuses = re.findall(rb"HTTP/1\.1 (\d{3}) ", out)
    c.expect(statuses == [b"404", b"400", b"401"], "statuses %r, wanted 404 400 401" % statuses)
    c.expect(b'WWW-Authenticate: Basic realm="estrealm"\r\n' in out, "Basic realm estrealm")
    c.expect(b"Server: nginx\r\n" in out, "nginx Server header")
    server_rc = server.finish()
    c.server_log = server.text()
    c.expect(server_rc == 0, "server exit status %r, wanted 0" % server_rc)
    c.argv = (sargv, ["(python ssl probe)"])
    c.report()


def main():
    global WORK
    for var in ("LAB_CERTSRV_SERVER", "LAB_CES_CLIENT", "LAB_EST_SERVER", "LAB_EST_CLIENT"):
        path = os.environ.get(var)
        if not path or not os.access(path, os.X_OK):
            say("%s is not set to a program" % var)
            return 2
        PROGRAMS[var] = path
    if not shutil.which("openssl"):
        say("the openssl command is needed")
        return 2
    WORK = tempfile.mkdtemp(prefix="enrollmon-lab-http.")
    try:
        make_pki(os.path.join(WORK, "pki"))
        case_certsrv_ok("tls12-gcm", "CLIENT_RANDOM")
        case_template_rejected()
        case_auth_failed()
        case_bad_web_cert("missing-intermediate", "web-good", [],
                          "unable to get local issuer certificate", "unknown ca")
        case_bad_web_cert("self-signed", "web-self-signed", [],
                          "self.signed certificate", "unknown ca")
        case_bad_web_cert("wrong-name", "web-wrong-name-chain", ["--check-host"],
                          "[Hh]ostname mismatch", "bad certificate")
        case_bad_web_cert("not-yet-valid", "web-not-yet-valid-chain", [],
                          "certificate is not yet valid", "bad certificate")
        case_bad_web_cert("expired", "web-expired-chain", [],
                          "certificate has expired", "certificate expired")
        case_wrong_name_accepted()
        case_login_timeout()
        case_request_timeout()
        case_wrong_key()
        case_certsrv_ok("tls13", "CLIENT_HANDSHAKE_TRAFFIC_SECRET")
        case_certsrv_ok("tls12-rsa-cbc", "CLIENT_RANDOM")
        case_est_ok("tls12-gcm", "CLIENT_RANDOM")
        case_est_ok("tls13", "CLIENT_TRAFFIC_SECRET_0")
        case_est_rejected("est-rejected", ["--reject"], [])
        case_est_rejected("est-bad-password", [], ["--password", "wrong"])
        case_est_timeout()
        case_est_wrong_key()
        case_http_refusals()
        case_est_refusals()
    finally:
        if os.environ.get("LAB_KEEP_WORKDIR"):
            say("work directory kept: " + WORK)
        else:
            shutil.rmtree(WORK, ignore_errors=True)
    if FAILURES:
        say("FAILED: " + ", ".join(FAILURES))
        return 1
    say("all lab/http scenarios passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
