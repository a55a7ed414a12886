#!/usr/bin/env python3
"""The IOS CA/RA and DNS parties of the enrollment lab, run on loopback.

ios-ca must answer SCEP like an IOS CA (GetCACert DER, GetNextCACert 404
without a shadow certificate and 200 with one) and keep the IOS HTTP
server's limits: a connection over the per-minute limit makes it deaf, and
a deaf server's SYNs time out (they are dropped, never refused) until the
deaf period ends; a server at its concurrency limit serves nobody else.
scep-storm must see timeouts against those limits and none without them.
dns-responder/dns-query: an answer, NXDOMAIN (rcode 3 with an SOA), a
dropped name timing out, TCP, and malformed queries that do not stop it.

Programs come from the environment (IOS_CA, SCEP_STORM, DNS_RESPONDER,
DNS_QUERY; LAB_PKI when lab/pki/lab-pki is built, else the CA is made
with the openssl command).  No root needed: every port is a free one.
"""
import os
import select
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

IOS_CA = os.environ["IOS_CA"]
SCEP_STORM = os.environ["SCEP_STORM"]
DNS_RESPONDER = os.environ["DNS_RESPONDER"]
DNS_QUERY = os.environ["DNS_QUERY"]
LAB_PKI = os.environ.get("LAB_PKI")

SCEP = "/cgi-bin/pkiclient.exe?operation={}&message=GETVPN"
ROOT_CN = "enrollmon Test Root CA"


class Failure(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Failure(what)


def free_port(udp_too=False):
    """A port free for TCP (and UDP): bound to 0, read back, released."""
    for _ in range(20):
        t = socket.socket()
        t.bind(("127.0.0.1", 0))
        port = t.getsockname()[1]
        u = None
        try:
            if udp_too:
                u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                u.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue
        finally:
            t.close()
            if u:
                u.close()
    raise Failure("no free port")


class Program:
    """A lab server with its stderr collected line by line."""

    def __init__(self, argv):
        self.argv = argv
        self.lines = []
        self.cond = threading.Condition()
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     text=True)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        if not self.wait_for("listening on", 10):
            self.stop(check_rc=False)
            raise Failure(f"{os.path.basename(argv[0])} did not start:\n" + self.log())

    def _read(self):
        for line in self.proc.stderr:
            with self.cond:
                self.lines.append(line.rstrip("\n"))
                self.cond.notify_all()

    def count(self, text):
        with self.cond:
            return sum(text in l for l in self.lines)

    def wait_for(self, text, timeout, times=1):
        end = time.monotonic() + timeout
        with self.cond:
            while sum(text in l for l in self.lines) < times:
                left = end - time.monotonic()
                if left <= 0 or self.proc.poll() is not None and not self.reader.is_alive():
                    return False
                self.cond.wait(min(left, 0.2))
            return True

    def log(self):
        with self.cond:
            return "\n".join(self.lines[-40:])

    def stop(self, check_rc=True):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        self.reader.join(5)
        if check_rc and rc != 0:
            raise Failure(f"{os.path.basename(self.argv[0])} exited {rc}:\n" + self.log())
        return rc


# ---------------------------------------------------------------- PKI

def openssl(*args, data=None):
    p = subprocess.run(["openssl", *args], input=data, capture_output=True, timeout=60)
    if p.returncode != 0:
        raise Failure("openssl " + " ".join(args) + ": " + p.stderr.decode(errors="replace"))
    return p.stdout


def make_pki(d):
    """adcs-root from lab-pki when it is built, else from openssl; the shadow
    (rollover) CA certificate adcs-root-next always from openssl."""
    if LAB_PKI and os.path.exists(LAB_PKI):
        p = subprocess.run([LAB_PKI, d], capture_output=True, text=True, timeout=120)
        check(p.returncode == 0, f"lab-pki failed: {p.stderr}")
        names = ["adcs-root-next"]
    else:
        names = ["adcs-root", "adcs-root-next"]
    for name in names:
        openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256", "-days", "3650",
                "-subj", f"/O=enrollmon TEST PKI/CN={ROOT_CN}",
                "-keyout", os.path.join(d, name + ".key"), "-out", os.path.join(d, name + ".pem"))
    for name in ("adcs-root", "adcs-root-next"):
        check(os.path.exists(os.path.join(d, name + ".pem")), f"no {name}.pem in the PKI")


def der_of(pem_path):
    return openssl("x509", "-in", pem_path, "-outform", "DER")


# ---------------------------------------------------------------- HTTP

def connect(port, timeout):
    """('connected', socket) | ('timeout', None) | ('refused', None)"""
    s = socket.socket()
    s.settimeout(timeout)
    try:
        s.connect(("127.0.0.1", port))
        s.settimeout(None)
        return "connected", s
    except (socket.timeout, TimeoutError):
        s.close()
        return "timeout", None
    except ConnectionRefusedError:
        s.close()
        return "refused", None


def parse_response(data):
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    headers = {}
    for l in lines[1:]:
        k, _, v = l.partition(":")
        headers[k.strip().lower()] = v.strip()
    return int(parts[1]), headers, body


def request(op, version="HTTP/1.0", method="GET", body=b"", extra=""):
    r = f"{method} {SCEP.format(op)} {version}\r\n" \
        "User-Agent: Mozilla/4.0 (compatible; MSIE 5.0; Cisco PKI)\r\nHost: 127.0.0.1\r\n" + extra
    if body:
        r += f"Content-Length: {len(body)}\r\n"
    return (r + "\r\n").encode() + body


def recv_until_close(s, timeout):
    s.settimeout(timeout)
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            return data
        data += chunk


def http_get(port, op, **kw):
    """One HTTP/1.0 exchange on its own connection, read to the server's close."""
    st, s = connect(port, 3)
    check(st == "connected", f"{op}: connect {st}")
    try:
        s.sendall(request(op, **kw))
        return parse_response(recv_until_close(s, 5))
    finally:
        s.close()


def read_one_keepalive(s, buf, timeout):
    """One Content-Length-framed response from s; (response, rest of buffer)."""
    s.settimeout(timeout)
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(65536)
        check(chunk, "keep-alive connection closed before a response")
        buf += chunk
    head, _, rest = buf.partition(b"\r\n\r\n")
    status, headers, _ = parse_response(head + b"\r\n\r\n")
    n = int(headers["content-length"])
    while len(rest) < n:
        chunk = s.recv(65536)
        check(chunk, "keep-alive connection closed inside a body")
        rest += chunk
    return (status, headers, rest[:n]), rest[n:]


def readable(s, timeout):
    return bool(select.select([s], [], [], timeout)[0])


def ios_ca(port, pki, *extra):
    return Program([IOS_CA, "--host", "127.0.0.1", "--port", str(port), "--pki", pki, *extra])


# ---------------------------------------------------------------- cases

def case_scep_answers(pki, tmp):
    port = free_port()
    srv = ios_ca(port, pki)
    try:
        st, h, body = http_get(port, "GetCACaps")
        check(st == 200 and h.get("content-type") == "text/plain", f"GetCACaps {st} {h}")
        check(b"POSTPKIOperation" in body and b"SHA-256" in body, f"GetCACaps body {body!r}")
        check(h.get("server") == "cisco-IOS", f"Server header {h.get('server')}")

        st, h, body = http_get(port, "GetCACert")
        check(st == 200 and h.get("content-type") == "application/x-x509-ca-cert",
              f"GetCACert {st} {h}")
        der = os.path.join(tmp, "getcacert.der")
        with open(der, "wb") as f:
            f.write(body)
        subject = openssl("x509", "-inform", "DER", "-in", der, "-noout", "-subject").decode()
        check(ROOT_CN in subject, f"GetCACert certificate subject {subject}")
        check(body == der_of(os.path.join(pki, "adcs-root.pem")), "GetCACert is not adcs-root")

        st, h, body = http_get(port, "GetNextCACert")
        check(st == 404 and body == b"404 Not Found\r\n" and "content-type" not in h,
              f"GetNextCACert without a shadow: {st} {h} {body!r}")

        st, h, body = http_get(port, "PKIOperation", method="POST", body=b"\x30\x03\x02\x01\x00")
        check(st == 200 and h.get("content-type") == "application/x-pki-message" and body,
              f"PKIOperation {st} {h}")

        # the three GETs on one HTTP/1.1 keep-alive connection
        st, s = connect(port, 3)
        check(st == "connected", "keep-alive connect")
        s.sendall(request("GetCACaps", "HTTP/1.1") + request("GetCACert", "HTTP/1.1") +
                  request("GetNextCACert", "HTTP/1.1"))
        buf, seen = b"", []
        for _ in range(3):
            (st, h, body), buf = read_one_keepalive(s, buf, 5)
            seen.append(st)
        s.close()
        check(seen == [200, 200, 404], f"keep-alive statuses {seen}")
    finally:
        srv.stop()
    return "GetCACaps/GetCACert(DER parses)/GetNextCACert 404/PKIOperation, keep-alive"


def case_shadow(pki, tmp):
    port = free_port()
    srv = ios_ca(port, pki, "--shadow", "adcs-root-next")
    try:
        st, h, body = http_get(port, "GetNextCACert")
        check(st == 200 and h.get("content-type") == "application/x-x509-next-ca-cert",
              f"GetNextCACert with a shadow: {st} {h}")
        p7 = os.path.join(tmp, "next.p7")
        with open(p7, "wb") as f:
            f.write(body)
        certs = openssl("pkcs7", "-inform", "DER", "-in", p7, "-print_certs").decode()
        check(ROOT_CN in certs, "no CA certificate in the GetNextCACert answer")
        check(der_of(os.path.join(pki, "adcs-root-next.pem")) in body,
              "the shadow certificate is not in the GetNextCACert answer")
    finally:
        srv.stop()
    return "GetNextCACert 200 with --shadow (PKCS#7 holding the shadow certificate)"


def case_per_minute(pki, tmp):
    port = free_port()
    # 6 s deaf: the two probes below take 1.6 s, and under load the test may
    # notice the server's "deaf" line late
    srv = ios_ca(port, pki, "--max-per-minute", "5", "--deaf-seconds", "6")
    held = None
    try:
        for i in range(5):
            st, _, _ = http_get(port, "GetCACert")
            check(st == 200, f"request {i + 1} of the minute: {st}")
        # the 6th connection crosses the limit: it waits in the accept queue
        st, held = connect(port, 2)
        check(st == "connected", f"6th connection {st}")
        held.sendall(request("GetNextCACert"))
        check(srv.wait_for("deaf: not accepting for 6 s", 10), "no deaf period:\n" + srv.log())
        t_deaf = time.monotonic()
        outcomes = []
        for _ in range(2):
            st, s = connect(port, 0.8)
            outcomes.append(st)
            if s:
                s.close()
        check(outcomes == ["timeout", "timeout"],
              f"connections while deaf: {outcomes} (want timeouts, never refused)")
        check(not readable(held, 0), "the queued connection was answered while deaf")
        check(srv.wait_for("listening again", 15), "deaf period did not end:\n" + srv.log())
        deaf_for = time.monotonic() - t_deaf
        st, h, _ = parse_response(recv_until_close(held, 3))
        check(st == 404, f"the queued connection after the deaf period: {st}")
        st, _, _ = http_get(port, "GetCACert")
        check(st == 200, f"after the deaf period: {st}")
        check(srv.count("accepted") == 7, "accepted count:\n" + srv.log())
    finally:
        if held:
            held.close()
        srv.stop()
    return f"per-minute limit 5 -> deaf, connects time out (not refused), served again after {deaf_for:.1f} s"


def case_concurrency(pki, tmp):
    port = free_port()
    srv = ios_ca(port, pki, "--max-concurrent", "3", "--max-per-minute", "0", "--backlog", "0")
    held, waiting = [], None
    try:
        for i in range(3):
            st, s = connect(port, 2)
            check(st == "connected", f"held connection {i + 1}: {st}")
            held.append(s)
            # one at a time: with backlog 0 a second SYN before the accept is dropped
            check(srv.wait_for("accepted", 10, times=i + 1), f"connection {i + 1} not accepted")
        check(srv.wait_for("concurrency limit", 10), "no concurrency limit:\n" + srv.log())
        # the 4th completes its handshake into the kernel's queue but is not served ...
        st, waiting = connect(port, 2)
        check(st == "connected", f"4th connection {st}")
        waiting.sendall(request("GetCACaps"))
        check(not readable(waiting, 1.0), "a 4th connection was served beyond the limit")
        # ... and with the queue full, a 5th SYN is dropped
        st, s = connect(port, 1.0)
        check(st == "timeout", f"5th connection at the limit: {st}")
        held.pop().close()
        st, h, _ = parse_response(recv_until_close(waiting, 3))
        check(st == 200, f"the waiting connection once a slot was free: {st}")
    finally:
        for s in held + ([waiting] if waiting else []):
            s.close()
        srv.stop()
    return "3 concurrent: a 4th waits unserved, a 5th SYN times out, served when one ends"


def run_storm(port, *args):
    p = subprocess.run([SCEP_STORM, "--host", "127.0.0.1", "--port", str(port), *args],
                       capture_output=True, text=True, timeout=120)
    check(p.returncode == 0, f"scep-storm exited {p.returncode}: {p.stderr[-2000:]}")
    summary = {}
    for line in p.stdout.splitlines():
        k, _, v = line.partition(":")
        summary[k.strip()] = int(v)
    return summary


def case_storm_limited(pki, tmp):
    port = free_port()
    srv = ios_ca(port, pki, "--max-concurrent", "16", "--max-per-minute", "10",
                 "--deaf-seconds", "3")
    try:
        s = run_storm(port, "--clients", "100", "--concurrency", "100", "--start-spread-ms", "2000",
                      "--connect-timeout-ms", "4000", "--response-timeout-ms", "4000")
    finally:
        srv.stop()
    check(s["attempts"] == 100, f"storm summary {s}")
    check(s["timed_out"] > 0 and s["refused"] == 0, f"limited storm: want timeouts, no refusals: {s}")
    check(s.get("status_404", 0) > 0 and s.get("status_200", 0) > 0, f"storm statuses {s}")
    check(srv.count("deaf: not accepting") >= 1, "storm did not make the server deaf")
    return (f"storm of 100 against 10/min: {s['timed_out']} timed out, {s['connected']} connected, "
            f"{srv.count('deaf: not accepting')} deaf periods")


def case_storm_unlimited(pki, tmp):
    port = free_port()
    srv = ios_ca(port, pki, "--max-concurrent", "200", "--max-per-minute", "0", "--backlog", "128")
    try:
        s = run_storm(port, "--clients", "100", "--concurrency", "100")
        sep = run_storm(port, "--clients", "20", "--concurrency", "20", "--separate")
    finally:
        srv.stop()
    check(s["timed_out"] == 0 and s["connected"] == 100 and s["clients_ok"] == 100,
          f"unlimited storm {s}")
    check(s.get("status_200") == 200 and s.get("status_404") == 100, f"unlimited statuses {s}")
    check(sep["attempts"] == 60 and sep["timed_out"] == 0 and sep.get("status_404") == 20,
          f"--separate storm {sep}")
    return "storm of 100 without limits: 0 timed out, 200 x 200 + 100 x 404; --separate: 3 connections a client"


def dns_query(port, *args):
    p = subprocess.run([DNS_QUERY, "--server", "127.0.0.1", "--port", str(port), *args],
                       capture_output=True, text=True, timeout=30)
    return p.returncode, p.stdout


def raw_udp_query(port, name, qtype=1, qid=0x4242):
    q = struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    for label in name.split("."):
        q += bytes([len(label)]) + label.encode()
    q += b"\x00" + struct.pack("!HH", qtype, 1)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(2)
    try:
        s.sendto(q, ("127.0.0.1", port))
        return s.recv(4096)
    finally:
        s.close()


def case_dns(pki, tmp):
    port = free_port(udp_too=True)
    srv = Program([DNS_RESPONDER, "--host", "127.0.0.1", "--port", str(port),
                   "--name", "ca.example.test=192.0.2.10", "--name", "ca.example.test=2001:db8::10",
                   "--nxdomain", "cucm-pub.example.test", "--drop", "slow.example.test"])
    try:
        rc, out = dns_query(port, "ca.example.test")
        check(rc == 0 and "IN A 192.0.2.10" in out, f"A answer: {rc} {out}")
        rc, out = dns_query(port, "CA.Example.Test.", "AAAA")
        check(rc == 0 and "IN AAAA 2001:db8::10" in out, f"AAAA answer: {rc} {out}")
        rc, out = dns_query(port, "cucm-pub.example.test")
        check(rc == 3 and "status: NXDOMAIN" in out and "SOA" in out, f"NXDOMAIN: {rc} {out}")
        rc, out = dns_query(port, "anything.else.test")
        check(rc == 3, f"other names are NXDOMAIN: {rc} {out}")

        # the NXDOMAIN on the wire: rcode 3, the question echoed, one SOA in authority
        r = raw_udp_query(port, "cucm-pub.example.test")
        qid, flags, qd, an, ns, ar = struct.unpack("!HHHHHH", r[:12])
        check(qid == 0x4242 and flags & 0x8000 and flags & 0xf == 3 and (qd, an, ns) == (1, 0, 1),
              f"NXDOMAIN header {qid:#x} {flags:#x} {qd} {an} {ns}")
        off = 12 + len("cucm-pub.example.test") + 2 + 4
        soa_type = struct.unpack("!H", r[off + len("example.test") + 2:][:2])[0]
        check(soa_type == 6, f"authority record type {soa_type}, want SOA")

        t = time.monotonic()
        rc, out = dns_query(port, "--timeout-ms", "500", "slow.example.test")
        check(rc == 5 and "TIMEOUT" in out and time.monotonic() - t >= 0.45,
              f"dropped name over UDP: {rc} {out}")
        rc, out = dns_query(port, "--tcp", "ca.example.test")
        check(rc == 0 and "IN A 192.0.2.10" in out, f"TCP answer: {rc} {out}")
        rc, out = dns_query(port, "--tcp", "cucm-pub.example.test")
        check(rc == 3, f"TCP NXDOMAIN: {rc} {out}")
        rc, out = dns_query(port, "--tcp", "--timeout-ms", "500", "slow.example.test")
        check(rc == 5, f"dropped name over TCP: {rc} {out}")

        # malformed queries: a pointer loop, a forward pointer, a label past the end, 2 bytes
        hdr = struct.pack("!HHHHHH", 7, 0x0100, 1, 0, 0, 0)
        bad = [hdr + b"\xc0\x0c\x00\x01\x00\x01", hdr + b"\x03abc\xc0\x0c\x00\x01\x00\x01",
               hdr + b"\xc0\x20\x00\x01\x00\x01", hdr + b"\x3fabc", b"\x00\x07",
               hdr + b"\x01a" * 130 + b"\x00\x00\x01\x00\x01"]
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        for b in bad:
            s.sendto(b, ("127.0.0.1", port))
        s.close()
        check(srv.wait_for("FORMERR", 3, times=5), "malformed queries not refused:\n" + srv.log())
        rc, out = dns_query(port, "ca.example.test")
        check(rc == 0, f"answers after malformed queries: {rc} {out}")
    finally:
        srv.stop()

    port = free_port(udp_too=True)
    srv = Program([DNS_RESPONDER, "--port", str(port), "--refuse-others",
                   "--nxdomain", "cucm-pub.example.test"])
    try:
        rc, out = dns_query(port, "unknown.example.test")
        check(rc == 2 and "REFUSED" in out, f"--refuse-others: {rc} {out}")
        rc, out = dns_query(port, "cucm-pub.example.test")
        check(rc == 3, f"--refuse-others keeps NXDOMAIN names: {rc} {out}")
    finally:
        srv.stop()
    return "DNS: A/AAAA, NXDOMAIN rcode 3 + SOA, dropped name -> timeout (UDP, TCP), TCP, malformed"


CASES = [case_scep_answers, case_shadow, case_per_minute, case_concurrency, case_storm_limited,
         case_storm_unlimited, case_dns]


def main():
    start = time.monotonic()
    failed = 0
    with tempfile.TemporaryDirectory(prefix="enrollmon-ios-dns-") as tmp:
        pki = os.path.join(tmp, "pki")
        os.mkdir(pki)
        make_pki(pki)
        print(f"PKI from {'lab-pki' if LAB_PKI and os.path.exists(LAB_PKI) else 'openssl'}")
        for case in CASES:
            t = time.monotonic()
            try:
                what = case(pki, tmp)
                print(f"ok   {case.__name__} ({time.monotonic() - t:.1f} s): {what}", flush=True)
            except Failure as e:
                failed += 1
                print(f"FAIL {case.__name__}: {e}", flush=True)
    print(f"{len(CASES) - failed}/{len(CASES)} passed in {time.monotonic() - start:.1f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
