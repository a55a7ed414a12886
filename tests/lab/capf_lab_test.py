#!/usr/bin/env python3
"""Runs the lab's CAPF server and client (lab/capf) against each other on
127.0.0.1 for the CAPF cases of failures.md, and checks what each side did.

Environment: CAPF_SERVER and CAPF_CLIENT (the programs), LAB_PKI (lab-pki,
optional: without it the test PKI of lab/README.md is made with the openssl
command, same file names).  Every case gets a free port (not 3804).

For each case it checks the exit status of both programs, the CAPF messages
each one logged (direction, opcode, session id, in order), the case's own
evidence (refusal status, modulus hashes against `openssl x509 -noout
-modulus | openssl md5`, the alert the server saw, the key log lines), and
prints the command lines it ran (the capture scripts reuse them; PKI, PORT
and CASE stand for the PKI directory, the port and the case's directory).
"""
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import time

SERVER = os.environ.get("CAPF_SERVER")
CLIENT = os.environ.get("CAPF_CLIENT")
LAB_PKI = os.environ.get("LAB_PKI", "")
OPENSSL = shutil.which("openssl")

ORG = "enrollmon TEST PKI"
PHONE = "SEP74A02FC0A675"

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL: " + what)
    return cond


def run(args, timeout=60, stdin=None):
    return subprocess.run(args, input=stdin, capture_output=True, text=True, timeout=timeout)


# ---- the PKI ----

def openssl(*args, stdin=None):
    r = run([OPENSSL, *args], stdin=stdin)
    if r.returncode != 0:
        raise RuntimeError("openssl %s failed: %s" % (" ".join(args), r.stderr.strip()))
    return r.stdout


def make_pki_with_openssl(d):
    """The files of lab/README.md the CAPF cases use, made with the openssl
    command (validity from now on: `openssl x509` of OpenSSL 3.0 cannot set
    fixed dates)."""
    os.makedirs(d, exist_ok=True)
    exts = {
        "ca": "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n"
              "subjectKeyIdentifier=hash\n",
        "ca-server": "basicConstraints=critical,CA:TRUE\n"
                     "keyUsage=critical,keyCertSign,cRLSign,digitalSignature,keyEncipherment\n"
                     "extendedKeyUsage=serverAuth,clientAuth\nsubjectKeyIdentifier=hash\n",
        "phone": "basicConstraints=critical,CA:FALSE\n"
                 "keyUsage=critical,digitalSignature,keyEncipherment\n"
                 "extendedKeyUsage=clientAuth\nsubjectKeyIdentifier=hash\n"
                 "authorityKeyIdentifier=keyid\n",
    }
    for kind, text in exts.items():
        with open(os.path.join(d, "ext-%s.cnf" % kind), "w") as f:
            f.write(text)
    table = [  # name, CN, issuer (None: self-signed), kind
        ("mic-root", "Cisco Root CA M2", None, "ca"),
        ("mic-ca", "Cisco Manufacturing CA SHA2", "mic-root", "ca"),
        ("capf-a", "CAPF-1a2b3c4d", None, "ca-server"),
        ("capf-b", "CAPF-9f8e7d6c", None, "ca-server"),
        ("phone-SEP74A02FC0A675-mic", PHONE, "mic-ca", "phone"),
        ("phone-SEP74A02FC0A675-lsc", PHONE, "capf-a", "phone"),
        ("phone-SEP001122334455-lsc-b", "SEP001122334455", "capf-b", "phone"),
    ]
    for serial, (name, cn, issuer, kind) in enumerate(table, start=1):
        pem, key = (os.path.join(d, name + s) for s in (".pem", ".key"))
        csr = os.path.join(d, name + ".csr")
        openssl("req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr,
                "-subj", "/O=%s/CN=%s" % (ORG, cn))
        signer = ["-signkey", key] if issuer is None else \
            ["-CA", os.path.join(d, issuer + ".pem"), "-CAkey", os.path.join(d, issuer + ".key")]
        openssl("x509", "-req", "-in", csr, *signer, "-set_serial", str(serial), "-days", "9000",
                "-sha256", "-extfile", os.path.join(d, "ext-%s.cnf" % kind), "-out", pem)
        os.unlink(csr)

    def cat(out, names):
        with open(os.path.join(d, out), "w") as f:
            for n in names:
                with open(os.path.join(d, n + ".pem")) as g:
                    f.write(g.read())
    cat("phone-SEP74A02FC0A675-mic-chain.pem", ["phone-SEP74A02FC0A675-mic", "mic-ca"])
    cat("trust-mic.pem", ["mic-root"])
    cat("trust-capf-a.pem", ["capf-a"])
    cat("trust-all.pem", ["mic-root", "capf-a", "capf-b"])


NEEDED = ["capf-a.pem", "capf-a.key", "capf-b.pem", "capf-b.key",
          "phone-SEP74A02FC0A675-lsc.pem", "phone-SEP74A02FC0A675-lsc.key",
          "phone-SEP74A02FC0A675-mic.pem", "phone-SEP74A02FC0A675-mic.key",
          "phone-SEP74A02FC0A675-mic-chain.pem",
          "phone-SEP001122334455-lsc-b.pem", "phone-SEP001122334455-lsc-b.key",
          "trust-capf-a.pem", "trust-mic.pem"]


def make_pki(d):
    if LAB_PKI and os.path.exists(LAB_PKI):
        r = run([LAB_PKI, d], timeout=120)
        if not check(r.returncode == 0, "lab-pki %s: exit %d: %s" % (d, r.returncode, r.stderr.strip())):
            return False
        how = "lab-pki"
    else:
        make_pki_with_openssl(d)
        how = "the openssl command (no lab-pki)"
    missing = [n for n in NEEDED if not os.path.exists(os.path.join(d, n))]
    print("PKI made with %s" % how)
    return check(not missing, "PKI files missing: %s" % ", ".join(missing))


# ---- running a case ----

def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


MSG = re.compile(r"^capf-(client|server): (->|<-) 0x([0-9a-f]{2}) (\S+) session 0x([0-9a-f]{8})", re.M)


def messages(log):
    """[(dir, opcode, session id)] in the order logged."""
    return [(m.group(2), int(m.group(3), 16), int(m.group(5), 16)) for m in MSG.finditer(log)]


def flow(side, opcodes_client_to_server, sid):
    """Expected message list from one side: opcodes as (sender, opcode)."""
    out = []
    for sender, op in opcodes_client_to_server:
        mine = sender == side
        out.append(("->" if mine else "<-", op, sid))
    return out


FULL = [("server", 0x01), ("client", 0x02), ("server", 0x03), ("client", 0x04),
        ("server", 0x09), ("client", 0x0a), ("server", 0x0f)]
REFUSAL = [("server", 0x01), ("client", 0x02), ("server", 0x0f)]


def shown(args, pki, port, casedir):
    words = []
    for a in args:
        a = a.replace(casedir, "CASE").replace(pki, "PKI")
        words.append("PORT" if a == str(port) else a)
    return " ".join(shlex.quote(w) for w in words)


class Case:
    def __init__(self, name, work, pki):
        self.name, self.work, self.pki = name, work, pki
        self.dir = os.path.join(work, name)
        os.makedirs(self.dir)
        self.keylog = os.path.join(self.dir, "keys.txt")
        self.port = free_port()
        self.server_log = ""
        self.client_log = ""
        self.server_rc = None
        self.client_rc = None

    def path(self, file):
        return os.path.join(self.dir, file)

    def run(self, server_args, client_args, client_timeout=90):
        base = ["--pki", self.pki, "--host", "127.0.0.1", "--port", str(self.port)]
        client_cmd = [CLIENT, *base, *client_args]
        server = None
        if server_args is not None:
            server_cmd = [SERVER, *base, *server_args]
            print("  server: %s" % shown(["capf-server", *server_cmd[1:]], self.pki, self.port, self.dir))
            slog_path = self.path("server.log")
            with open(slog_path, "w") as slog:
                server = subprocess.Popen(server_cmd, stdout=subprocess.DEVNULL, stderr=slog)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                with open(slog_path) as f:
                    if "listening on" in f.read():
                        break
                if server.poll() is not None:
                    break
                time.sleep(0.05)
        print("  client: %s" % shown(["capf-client", *client_cmd[1:]], self.pki, self.port, self.dir))
        try:
            r = run(client_cmd, timeout=client_timeout)
            self.client_rc, self.client_log = r.returncode, r.stderr
        except subprocess.TimeoutExpired as e:
            self.client_rc = "timeout"
            self.client_log = e.stderr.decode() if isinstance(e.stderr, bytes) else (e.stderr or "")
        if server is not None:
            try:
                self.server_rc = server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
                self.server_rc = "killed: still running 30 s after the client"
            with open(self.path("server.log")) as f:
                self.server_log = f.read()

    def expect_rc(self, client, server=None):
        ok = check(self.client_rc == client, "%s: client exit %s, %s expected" % (self.name, self.client_rc, client))
        if server is not None:
            ok &= check(self.server_rc == server,
                        "%s: server exit %s, %s expected" % (self.name, self.server_rc, server))
        return ok

    def expect_flow(self, expected, sid):
        ok = check(messages(self.client_log) == flow("client", expected, sid),
                   "%s: client messages %s" % (self.name, messages(self.client_log)))
        ok &= check(messages(self.server_log) == flow("server", expected, sid),
                    "%s: server messages %s" % (self.name, messages(self.server_log)))
        return ok

    def dump(self):
        print("---- %s: server (exit %s) ----\n%s---- %s: client (exit %s) ----\n%s" %
              (self.name, self.server_rc, self.server_log, self.name, self.client_rc, self.client_log))


def keylog_labels(path):
    if not os.path.exists(path):
        return set()
    with open(path) as f:
        return {line.split()[0] for line in f if line.strip()}


TLS12_LABELS = {"CLIENT_RANDOM"}
TLS13_LABELS = {"CLIENT_HANDSHAKE_TRAFFIC_SECRET", "SERVER_HANDSHAKE_TRAFFIC_SECRET",
                "CLIENT_TRAFFIC_SECRET_0", "SERVER_TRAFFIC_SECRET_0"}


def modulus_md5(kind, path):
    """`openssl x509|rsa -noout -modulus -in FILE | openssl md5`, the hash only."""
    text = openssl(kind, "-noout", "-modulus", "-in", path)
    out = openssl("md5", stdin=text)
    return out.strip().split("= ")[-1]


def printed_md5(log, what):
    m = re.search(r"capf-client: %s modulus MD5\(stdin\)= ([0-9a-f]{32})" % what, log)
    return m.group(1) if m else None


def check_issued(c, cert, key, same):
    """The saved certificate: subject, issuer, validity, signature; the
    printed hashes against the openssl command's."""
    text = openssl("x509", "-noout", "-subject", "-issuer", "-startdate", "-enddate", "-in", cert,
                   "-nameopt", "RFC2253")
    check("CN=%s" % PHONE in text and "O=%s" % ORG in text, "%s: issued subject: %s" % (c.name, text))
    check("issuer=CN=CAPF-1a2b3c4d" in text, "%s: issued issuer: %s" % (c.name, text))
    check("notBefore=Jan  1 00:00:00 2024 GMT" in text and "notAfter=Dec 31 23:59:59 2049 GMT" in text,
          "%s: issued validity: %s" % (c.name, text))
    v = run([OPENSSL, "verify", "-CAfile", os.path.join(c.pki, "capf-a.pem"), cert])
    check(v.returncode == 0, "%s: the LSC does not verify against capf-a: %s" % (c.name, v.stdout + v.stderr))
    sig = openssl("x509", "-noout", "-text", "-in", cert)
    check("sha256WithRSAEncryption" in sig, "%s: LSC not signed with SHA-256" % c.name)
    cert_md5, csr_md5 = printed_md5(c.client_log, "certificate"), printed_md5(c.client_log, "CSR")
    check(cert_md5 == modulus_md5("x509", cert),
          "%s: printed certificate modulus MD5 %s differs from openssl's" % (c.name, cert_md5))
    check(csr_md5 == modulus_md5("rsa", key),
          "%s: printed CSR modulus MD5 %s differs from openssl's" % (c.name, csr_md5))
    check((cert_md5 == csr_md5) == same, "%s: CSR and certificate hashes %s / %s" % (c.name, csr_md5, cert_md5))


# ---- the cases ----

def case_issue(c, tls, server_extra, client_cert, sid=0x1001, labels=TLS12_LABELS, cipher=None):
    cert, key = c.path("lsc.pem"), c.path("lsc.key")
    c.run(["--tls", tls, *server_extra, "--known-device", PHONE],
          ["--tls", tls, "--keylog", c.keylog, "--device", PHONE, "--client-cert", client_cert,
           "--trust", "trust-capf-a.pem", "--save-cert", cert, "--save-key", key])
    ok = c.expect_rc(0, 0) and c.expect_flow(FULL, sid)
    if ok:
        check_issued(c, cert, key, same=True)
    got = keylog_labels(c.keylog)
    check(labels <= got, "%s: key log lines %s, %s expected" % (c.name, sorted(got), sorted(labels)))
    if cipher:
        check(cipher in c.client_log, "%s: cipher %s not negotiated" % (c.name, cipher))


def main():
    for what, path in (("CAPF_SERVER", SERVER), ("CAPF_CLIENT", CLIENT)):
        if not path or not os.access(path, os.X_OK):
            print("%s is not set to the program" % what)
            return 1
    if not OPENSSL:
        print("the openssl command is needed")
        return 1
    work = tempfile.mkdtemp(prefix="capf-lab-")
    keep = bool(os.environ.get("LAB_KEEP_WORKDIR"))
    try:
        pki = os.path.join(work, "pki")
        if not make_pki(pki):
            return 1
        cases = []

        def case(name, fn):
            print("case %s" % name)
            c = Case(name, work, pki)
            before = len(failures)
            try:
                fn(c)
            except Exception as e:  # a failed openssl call, a timeout
                check(False, "%s: %s" % (name, e))
            if len(failures) > before:
                c.dump()
            else:
                print("  ok")
            cases.append(c)

        # issue OK, the phone authenticating with its LSC (TLS 1.2 ECDHE GCM)
        case("issue-lsc-tls12-gcm", lambda c: case_issue(
            c, "tls12-gcm", ["--client-auth", "required", "--trust", "trust-capf-a.pem"],
            "phone-SEP74A02FC0A675-lsc", cipher="ECDHE-RSA-AES128-GCM-SHA256"))

        # the phone authenticating with its MIC (sent with its intermediate)
        def mic(c):
            case_issue(c, "tls12-gcm", ["--client-auth", "required", "--trust", "trust-mic.pem",
                                        "--first-session-id", "2a00"],
                       "phone-SEP74A02FC0A675-mic", sid=0x2a00)
            check("Cisco Manufacturing CA SHA2" in c.server_log, "mic: the server did not see the MIC")
        case("issue-mic", mic)

        def no_cert(c):
            case_issue(c, "tls12-gcm", ["--client-auth", "none"], "NONE")
            check("no peer certificate" in c.server_log, "no-client-cert: the server saw a certificate")
        case("issue-no-client-cert", no_cert)

        case("issue-tls13", lambda c: case_issue(
            c, "tls13", ["--client-auth", "required", "--trust", "trust-capf-a.pem"],
            "phone-SEP74A02FC0A675-lsc", labels=TLS13_LABELS, cipher="TLSv1.3"))

        case("issue-tls12-rsa-cbc", lambda c: case_issue(
            c, "tls12-rsa-cbc", ["--client-auth", "required", "--trust", "trust-capf-a.pem"],
            "phone-SEP74A02FC0A675-lsc", cipher="AES128-SHA"))

        def refused(status, server_extra, device):
            def fn(c):
                c.run(server_extra, ["--keylog", c.keylog, "--device", device, "--client-cert", "NONE"])
                if c.expect_rc(3, 0) and c.expect_flow(REFUSAL, 0x1001):
                    check(re.search(r"REFUSED: status 0x%02x" % status, c.client_log),
                          "%s: the client did not print status 0x%02x" % (c.name, status))
            return fn
        case("refused-already-issued-07", refused(0x07, ["--already-issued", PHONE], PHONE))
        case("refused-device-unknown-09", refused(0x09, ["--known-device", PHONE], "CSF123"))

        def wrong_key(c):
            cert, key = c.path("lsc.pem"), c.path("lsc.key")
            c.run(["--issue-wrong-key"],
                  ["--keylog", c.keylog, "--device", PHONE, "--save-cert", cert, "--save-key", key])
            if c.expect_rc(4, 0) and c.expect_flow(FULL, 0x1001):
                check("KEY MISMATCH" in c.client_log, "wrong-key: no KEY MISMATCH line")
                check_issued(c, cert, key, same=False)
        case("csr-cert-key-mismatch", wrong_key)

        # the CAPF certificate differs from the phone's ITL: the phone's TLS
        # library refuses it with an alert; the phone retries
        def wrong_capf(c):
            c.run(["--server-cert", "capf-b", "--connections", "3"],
                  ["--keylog", c.keylog, "--trust", "trust-capf-a.pem",
                   "--retries", "2", "--retry-delay-ms", "200"])
            if c.expect_rc(1, 2):
                check(c.client_log.count("capf-client: attempt ") == 3, "wrong-capf-cert: not 3 attempts")
                check(len(re.findall(r"alert unknown ca", c.server_log)) == 3,
                      "wrong-capf-cert: the server did not see 3 unknown_ca alerts")
                check(not messages(c.client_log), "wrong-capf-cert: CAPF messages after a refused handshake")
        case("capf-server-cert-rejected", wrong_capf)

        # an LSC from another cluster: CAPF refuses the client certificate
        def lsc_b(c):
            c.run(["--client-auth", "required", "--trust", "trust-capf-a.pem"],
                  ["--keylog", c.keylog, "--device", "SEP001122334455",
                   "--client-cert", "phone-SEP001122334455-lsc-b"])
            if c.expect_rc(1, 2):
                check("alert unknown ca" in c.client_log, "lsc-ca-untrusted: the client got no unknown_ca")
        case("lsc-ca-untrusted", lsc_b)

        def abort(c):
            c.run([], ["--keylog", c.keylog, "--abort-after", "03", "--abort-mode", "rst"])
            if c.expect_rc(5, 2) and c.expect_flow(FULL[:3], 0x1001):
                check("TCP RST" in c.client_log, "abort: no RST")
                check("ended before 0x04" in c.server_log, "abort: the server did not see the cut")
        case("abort-after-03-rst", abort)

        def no_ack(c):
            c.run([], ["--keylog", c.keylog, "--no-ack"])
            if c.expect_rc(5, 2) and c.expect_flow(FULL[:5], 0x1001):
                check("ended before 0x0a" in c.server_log, "no-ack: the server did not see the missing ack")
        case("no-ack", no_ack)

        def stall(c):
            c.run(["--stall-after", "04"], ["--keylog", c.keylog, "--timeout-ms", "1500"])
            if c.expect_rc(1, 0) and c.expect_flow(FULL[:4], 0x1001):
                check("the client gave up" in c.server_log, "stall: the server did not see the client give up")
        case("stall-after-04", stall)

        def down(c):
            c.run(None, ["--retries", "2", "--retry-delay-ms", "100", "--connect-timeout-ms", "1000"],
                  client_timeout=60)
            if c.expect_rc(1):
                check(c.client_log.count("cannot connect") == 3, "service-down: not 3 failed attempts")
        case("capf-service-down", down)

        print("%d cases, %d failures" % (len(cases), len(failures)))
        return 1 if failures else 0
    finally:
        if keep:
            print("work directory kept: %s" % work)
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
