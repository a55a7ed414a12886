#!/usr/bin/env python3
"""CAPF in the clear, as tools that log plaintext record it, and the CAPF
port as a setting.

The CAPF messages of a real session (pcaps/capf-enroll-ok-tls12, decrypted
by enrollmon with its key log) are laid into a new TCP conversation without
TLS, in their order (the two sides alternate), one of them cut over three
segments, on 3804 and on 4804.  (Several messages in one delivery are
covered by the CAPF unit tests.)  enrollmon must report the same CAPF
messages as from the decrypted original: on 3804 by default, on 4804 only
with --capf-port 4804.
"""
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "streams"))
import pcaplib as P  # noqa: E402

ROOT = os.environ.get("ENROLLMON_SOURCE_ROOT", os.path.join(os.path.dirname(__file__), "..", "..", ".."))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import enrollmon_cmd  # noqa: E402
SOURCE = os.path.join(ROOT, "pcaps", "capf-enroll-ok-tls12")
failures = []


def check(name, ok, detail=""):
    print(("PASS " if ok else "FAIL ") + name + ("" if ok else ": " + detail))
    if not ok:
        failures.append(name)


def run(args, tmp):
    out = os.path.join(tmp, "events.json")
    p = subprocess.run(enrollmon_cmd.command(["-q", "--json", out, *args]), capture_output=True, text=True,
                       timeout=enrollmon_cmd.timeout(120))
    if p.returncode != 0:
        raise RuntimeError(f"enrollmon exited {p.returncode}: {p.stderr.strip()}")
    with open(out) as f:
        return [json.loads(line) for line in f if line.strip()]


def messages(stream):
    """Cuts a CAPF byte stream into messages on the framing."""
    out, pos = [], 0
    while pos + 8 <= len(stream):
        total = 8 + int.from_bytes(stream[pos + 6:pos + 8], "big")
        out.append(stream[pos:pos + total])
        pos += total
    return out


def capf_summary(evs):
    return [(e["capf"]["opcode"], e["capf"]["direction"], e["capf"].get("device"), e["capf"].get("status"),
             (e["capf"].get("cert") or {}).get("kind"), e["capf"].get("cert_matches_csr"))
            for e in evs if e["event_type"] == "capf"]


def build(path, port, client_msgs, server_msgs):
    c, s = "10.20.30.40", "10.20.30.1"
    cport = 51562
    recs, t = [], 1_700_000_000 * 10**9
    cseq, sseq = 1000, 9000

    def add(src_is_client, flags, payload=b""):
        nonlocal t, cseq, sseq
        if src_is_client:
            tcp = P.TCP(cport, port, cseq, sseq, flags, payload=payload)
            ip = P.IPv4(c, s, 6, tcp.build(P.IPv4(c, s, 6)))
            cseq += len(payload) + (1 if flags & (P.TCP_SYN | P.TCP_FIN) else 0)
        else:
            tcp = P.TCP(port, cport, sseq, cseq, flags, payload=payload)
            ip = P.IPv4(s, c, 6, tcp.build(P.IPv4(s, c, 6)))
            sseq += len(payload) + (1 if flags & (P.TCP_SYN | P.TCP_FIN) else 0)
        recs.append(P.Record(t, P.LINKTYPE_ETHERNET, P.link_encode(P.LINKTYPE_ETHERNET, ip.build())))
        t += 1_000_000

    add(True, P.TCP_SYN)
    add(False, P.TCP_SYN | P.TCP_ACK)
    add(True, P.TCP_ACK)
    # the session's order: the server speaks first, then they alternate
    order = []
    for i in range(max(len(client_msgs), len(server_msgs))):
        if i < len(server_msgs):
            order.append((False, server_msgs[i]))
        if i < len(client_msgs):
            order.append((True, client_msgs[i]))
    for k, (from_client, msg) in enumerate(order):
        if k == 3 and len(msg) > 10:
            # one message over three segments
            a, b = len(msg) // 3, 2 * len(msg) // 3
            for part in (msg[:a], msg[a:b], msg[b:]):
                add(from_client, P.TCP_ACK | P.TCP_PSH, part)
        else:
            add(from_client, P.TCP_ACK | P.TCP_PSH, msg)
    add(True, P.TCP_FIN | P.TCP_ACK)
    add(False, P.TCP_FIN | P.TCP_ACK)
    add(True, P.TCP_ACK)
    P.write_pcap(path, P.LINKTYPE_ETHERNET, recs)


def main():
    with tempfile.TemporaryDirectory() as tmp:
        dump = os.path.join(tmp, "dump")
        original = run(["-r", SOURCE + ".pcapng", "--keylog", SOURCE + ".keys", "--dump-plaintext", dump], tmp)
        want = capf_summary(original)
        with open(os.path.join(dump, "1-client.bin"), "rb") as f:
            client = messages(f.read())
        with open(os.path.join(dump, "1-server.bin"), "rb") as f:
            server = messages(f.read())
        check("the decrypted original has the whole session", len(want) == 7 and len(client) == 3 and len(server) == 4,
              f"{len(want)} events, {len(client)}+{len(server)} messages")
        for port, extra, expect_events in ((3804, [], True), (4804, [], False), (4804, ["--capf-port", "4804"], True)):
            cap = os.path.join(tmp, f"plain-{port}.pcap")
            build(cap, port, client, server)
            got = capf_summary(run(["-r", cap, *extra], tmp))
            label = f"plaintext CAPF on {port} {' '.join(extra) or '(default port)'}"
            if expect_events:
                check(label + ": the same messages as decrypted", got == want, f"got {got}, want {want}")
            else:
                check(label + ": not taken for CAPF", got == [], f"got {got}")
    print(f"{len(failures)} case(s) failed" if failures else "all cases passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
