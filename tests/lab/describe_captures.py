#!/usr/bin/env python3
"""Writes pcaps/README.md from the captures themselves: for every
pcaps/<name>.pcapng, what happens in it (its .expect), the verdicts it must
lead to, and the frames that carry the evidence, read with tshark and the
capture's key log (so CAPF messages and HTTP inside TLS are listed too).

    tests/lab/describe_captures.py        (make_captures.py runs it at the end)
"""
import glob
import os
import subprocess
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
PCAPS = os.path.join(ROOT, "pcaps")
sys.path.insert(0, os.path.join(ROOT, "tests", "e2e", "tshark"))
from tshark_check import read_expect  # noqa: E402

HEADER = """# Captures

Every capture here was made by the project from real traffic between real TLS stacks (OpenSSL 3)
on the loopback interface: the enrollment lab's programs (`lab/`, see `lab/README.md`) driven
by `tests/lab/make_captures.py`, and the first seven by `tests/lab/make-foundation-captures.sh`
(`openssl s_server`/`s_client`). Regenerate them with `sudo tests/lab/make_captures.py` (root
only for capturing on loopback); this file is then rewritten by `tests/lab/describe_captures.py`.
Every certificate comes from the lab's TEST PKI (`O=enrollmon TEST PKI`; `pki/` holds the
public CA certificates of the first seven captures).

Beside each `<name>.pcapng`:

- `<name>.keys`: the NSS key log the programs wrote through OpenSSL's key log callback
  (`tshark -o tls.keylog_file:pcaps/<name>.keys`; CAPF on 3804 also needs
  `-d tcp.port==3804,tls`). It is empty when the handshake failed before any secret existed.
- `<name>.server-key.pem` (RSA key exchange captures): the server's private key, for RSA
  decryption without the key log.
- `<name>.expect`: what the capture must make enrollmon conclude (`verdict<TAB>ID<TAB>device`,
  the ids of `../shared/docs/failures.md`; the device is the phone's name, else the client's
  address) and what its TLS carries (`inner<TAB>capf`, `inner<TAB>http<TAB>URI`,
  `inner<TAB>text<TAB>TEXT`, `inner<TAB>none`). The test `pcaps-tshark-decrypt` checks the
  `inner` lines with tshark, independently of enrollmon.

Frame numbers below are tshark's (and Wireshark's, and enrollmon's `pcap_cnt`).
"""


def tshark(capture, fields, display_filter, capf_port):
    keys = capture.rsplit(".", 1)[0] + ".keys"
    cmd = ["tshark", "-n", "-r", capture, "-d", f"tcp.port=={capf_port},tls", "-Y", display_filter,
           "-T", "fields", "-E", "separator=\t", "-E", "aggregator=,"]
    if os.path.exists(keys):
        cmd += ["-o", "tls.keylog_file:" + keys]
    for f in fields:
        cmd += ["-e", f]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    return [line.split("\t") for line in p.stdout.splitlines() if line.strip()]


ALERTS = {"40": "handshake_failure", "42": "bad_certificate", "45": "certificate_expired",
          "46": "certificate_unknown", "48": "unknown_ca", "0": "close_notify", "51": "decrypt_error"}
CAPF_OPS = {"01": "hello", "02": "request", "03": "continue", "04": "CSR", "09": "certificate",
            "0a": "ack", "0f": "end"}


def frames(rows, limit=12):
    nums = [r[0] for r in rows]
    text = ", ".join(nums[:limit])
    return text + (f" ... ({len(nums)} in all)" if len(nums) > limit else "")


def evidence(capture, capf_port):
    out = []
    certs = tshark(capture, ["frame.number", "x509sat.uTF8String"], "tls.handshake.type == 11",
                   capf_port)
    if certs:
        out.append(f"Certificate messages: frames {frames(certs)}")
    alerts = tshark(capture, ["frame.number", "tls.alert_message.level", "tls.alert_message.desc"],
                    "tls.alert_message", capf_port)
    if alerts:
        parts = [f"{r[0]} ({'fatal' if r[1] == '2' else 'warning'} {ALERTS.get(r[2], r[2])})"
                 for r in alerts[:8]]
        out.append("TLS alerts: frames " + ", ".join(parts))
    capf = tshark(capture, ["frame.number", "data.data"], f"data && tcp.port == {capf_port}", capf_port)
    capf = [r for r in capf if len(r) > 1 and r[1].startswith("55")]
    if capf:
        parts = []
        for r in capf[:14]:
            for msg in r[1].split(","):
                if msg.startswith("55") and len(msg) >= 4:
                    parts.append(f"{r[0]} {CAPF_OPS.get(msg[2:4], '0x' + msg[2:4])}")
        out.append("CAPF messages (decrypted): frames " + ", ".join(parts[:14]) +
                   (" ..." if len(capf) > 14 else ""))
    http = tshark(capture, ["frame.number", "http.request.method", "http.request.uri",
                            "http.response.code"], "http.request || http.response", capf_port)
    if http:
        parts = []
        for r in http[:16]:
            parts.append(f"{r[0]} {r[1]} {r[2]}" if r[1] else f"{r[0]} -> {r[3]}")
        out.append("HTTP: " + "; ".join(parts) + (" ..." if len(http) > 16 else ""))
    dns = tshark(capture, ["frame.number", "dns.qry.name", "dns.flags.rcode"],
                 "dns.flags.response == 1", capf_port)
    if dns:
        out.append("DNS answers: " + "; ".join(
            f"{r[0]} {r[1]} {'NXDOMAIN' if r[2] == '3' else 'rcode ' + r[2]}" for r in dns[:8]))
    syns = tshark(capture, ["frame.number"], "tcp.flags.syn == 1 && tcp.flags.ack == 0", capf_port)
    synacks = tshark(capture, ["frame.number"], "tcp.flags.syn == 1 && tcp.flags.ack == 1", capf_port)
    resets = tshark(capture, ["frame.number"], "tcp.flags.reset == 1", capf_port)
    retrans = tshark(capture, ["frame.number"],
                     "tcp.flags.syn == 1 && tcp.flags.ack == 0 && tcp.analysis.retransmission",
                     capf_port)
    out.append(f"TCP: {len(syns)} SYN ({len(retrans)} retransmitted), {len(synacks)} SYN-ACK, "
               f"{len(resets)} RST" + (f"; RST frames {frames(resets, 6)}" if 0 < len(resets) <= 20 else ""))
    return out


def describe(capture):
    name = os.path.basename(capture).rsplit(".", 1)[0]
    expect = capture.rsplit(".", 1)[0] + ".expect"
    what, verdicts = "", []
    capf_port = 3804
    if os.path.exists(expect):
        _, capf_port = read_expect(expect)
        with open(expect) as f:
            for line in f:
                if line.startswith("# ") and not what:
                    what = line[2:].strip()
                parts = line.strip().split("\t")
                if parts[0] == "verdict":
                    verdicts.append(f"`{parts[1]}` ({parts[2]})")
    count = tshark(capture, ["frame.number"], "frame", capf_port)
    lines = [f"## {name}", "", what, "",
             f"- {len(count)} frames, {os.path.getsize(capture)} bytes",
             "- must lead to: " + (", ".join(verdicts) if verdicts else "no failure (a working connection)")]
    lines += [f"- {e}" for e in evidence(capture, capf_port)]
    return "\n".join(lines) + "\n"


def main():
    captures = sorted(glob.glob(os.path.join(PCAPS, "*.pcapng")))
    text = HEADER + "\n" + "\n".join(describe(c) for c in captures)
    with open(os.path.join(PCAPS, "README.md"), "w") as f:
        f.write(text)
    print(f"pcaps/README.md: {len(captures)} captures described", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
