#!/usr/bin/env python3
"""Independent check of the project's captures: tshark, given each capture's
key log, must find the inner traffic the capture claims to hold.

This proves the captures are real TLS with correct keys, without enrollmon's
own dissectors agreeing with themselves.  What each capture must hold comes
from its `pcaps/<name>.expect`:

    inner   capf                    CAPF messages (first byte 0x55) inside TLS on the CAPF port
    inner   http    URI             an HTTP request for URI inside TLS
    inner   text    TEXT            plaintext application data starting with TEXT
    inner   none                    nothing inside: the handshake failed, or no TLS
    port    capf    N               the CAPF port of this capture (default 3804)

Every .expect says what is inside, `none` included, so a capture cannot
pass by having nothing to check.  Lines starting with `verdict` are for
the diagnosis tests and are ignored here.
"""
import glob
import os
import shutil
import subprocess
import sys

ROOT = os.environ.get("ENROLLMON_SOURCE_ROOT", os.path.join(os.path.dirname(__file__), "..", "..", ".."))
PCAPS = os.path.join(ROOT, "pcaps")


def read_expect(path):
    inner, capf_port = [], 3804
    with open(path) as f:
        for raw in f:
            line = raw.split("#", 1)[0].strip()
            if not line:
                continue
            parts = line.split("\t") if "\t" in line else line.split(None, 2)
            if parts[0] == "inner":
                inner.append(tuple(parts[1:]))
            elif parts[0] == "port" and parts[1] == "capf":
                capf_port = int(parts[2])
    return inner, capf_port


def has_secrets(keys):
    with open(keys) as f:
        return any(l.split(" ", 1)[0] in ("CLIENT_RANDOM", "CLIENT_TRAFFIC_SECRET_0",
                                          "CLIENT_HANDSHAKE_TRAFFIC_SECRET") for l in f)


def tshark(capture, keys, capf_port, fields, display_filter, raw=False):
    cmd = ["tshark", "-n", "-r", capture, "-o", "tls.keylog_file:" + keys,
           "-d", f"tcp.port=={capf_port},tls", "-Y", display_filter, "-T", "fields"]
    if raw:
        # plaintext checks: keep HTTP and SIP from claiming the bytes
        cmd += ["--disable-protocol", "http", "--disable-protocol", "sip"]
    for f in fields:
        cmd += ["-e", f]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    if p.returncode != 0:
        raise RuntimeError(f"tshark failed on {capture}: {p.stderr.strip()}")
    return [line.split("\t") for line in p.stdout.splitlines() if line.strip()]


def check_capture(capture, expect):
    name = os.path.basename(capture)
    keys = capture.rsplit(".", 1)[0] + ".keys"
    inner, capf_port = read_expect(expect)
    problems = []
    if not os.path.exists(keys):
        return [f"{name}: no key log {os.path.basename(keys)}"]
    if not inner:
        return [f"{name}: the .expect says nothing of the inner traffic (use 'inner none')"]
    if inner == [("none",)]:
        return problems
    if not has_secrets(keys):
        return [f"{name}: inner traffic is expected but the key log holds no secrets"]
    data_rows = tshark(capture, keys, capf_port, ["tcp.srcport", "tcp.dstport", "data.data"], "data",
                       raw=True)
    http_rows = tshark(capture, keys, capf_port, ["http.request.uri"], "http.request")
    uris = {r[0] for r in http_rows if r and r[0]}
    for want in inner:
        kind = want[0]
        if kind == "capf":
            capf = [r for r in data_rows if len(r) == 3 and str(capf_port) in (r[0], r[1])
                    and r[2].startswith("55")]
            if not capf:
                problems.append(f"{name}: no decrypted CAPF bytes (0x55 ...) on port {capf_port}")
        elif kind == "http":
            if want[1] not in uris:
                problems.append(f"{name}: no decrypted HTTP request for {want[1]} (saw {sorted(uris)})")
        elif kind == "text":
            prefix = want[1].encode().hex()
            if not any(len(r) == 3 and r[2].startswith(prefix) for r in data_rows):
                problems.append(f"{name}: no decrypted data starting with {want[1]!r}")
        else:
            problems.append(f"{name}: unknown inner kind {kind!r} in the .expect")
    return problems


def main():
    if not shutil.which("tshark"):
        print("SKIP: tshark is not installed (./run.sh installs it)")
        return 77
    captures = sorted(glob.glob(os.path.join(PCAPS, "*.pcapng")))
    if not captures:
        print("FAIL: no captures in pcaps/")
        return 1
    failed = 0
    checked = 0
    for capture in captures:
        expect = capture.rsplit(".", 1)[0] + ".expect"
        name = os.path.basename(capture)
        if not os.path.exists(expect):
            print(f"FAIL {name}: no .expect beside it")
            failed += 1
            continue
        problems = check_capture(capture, expect)
        checked += 1
        if problems:
            failed += 1
            for p in problems:
                print("FAIL " + p)
        else:
            print(f"PASS {name}")
    print(f"{checked} captures checked with tshark, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
