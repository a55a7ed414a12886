#!/usr/bin/env python3
"""Decryption checked against a reference nobody here wrote: for every
capture that comes with a key log or an RSA key (the external captures of
../shared/pcaps-ext/ per MANIFEST.tsv, and the project's own in pcaps/),
the application bytes enrollmon decrypts for each connection and direction
must equal what tshark decrypts with the same key (`-z follow,tls,raw,N`).

Prints `decrypted connections matching tshark: N/M`, where M counts the
connections tshark decrypts something in; fails below M/M.  Without
../shared the project's own captures are still compared.
"""
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.environ.get("ENROLLMON_SOURCE_ROOT", os.path.join(os.path.dirname(__file__), "..", "..", ".."))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import enrollmon_cmd  # noqa: E402
EXT = os.path.join(ROOT, "..", "shared", "pcaps-ext")


def inputs():
    """(capture, key kind, key path, ports to decode as TLS)."""
    out = []
    manifest = os.path.join(EXT, "MANIFEST.tsv")
    if os.path.exists(manifest):
        with open(manifest) as f:
            rows = [line.rstrip("\n").split("\t") for line in f][1:]
        for row in rows:
            if len(row) < 9:
                continue
            for opt in row[8].split(","):
                if opt.startswith("keylog="):
                    out.append((os.path.join(EXT, row[0]), "keylog", os.path.join(EXT, opt[7:]), []))
                elif opt.startswith("rsakey="):
                    out.append((os.path.join(EXT, row[0]), "rsakey", os.path.join(EXT, opt[7:]), []))
    else:
        print("note: ../shared/pcaps-ext is not there: comparing the project's own captures only")
    for cap in sorted(glob.glob(os.path.join(ROOT, "pcaps", "*.pcapng"))):
        keys = cap.rsplit(".", 1)[0] + ".keys"
        if os.path.exists(keys) and os.path.getsize(keys) > 0:
            out.append((cap, "keylog", keys, [3804, 2443, 8084]))
    return out


def tshark_streams(capture, kind, key, ports):
    """{stream: (client 'ip:port', server 'ip:port', client bytes, server bytes)} for streams
    tshark decrypts anything in."""
    base = ["tshark", "-n", "-r", capture]
    if kind == "keylog":
        base += ["-o", "tls.keylog_file:" + key]
    else:
        base += ["-o", f'uat:rsa_keys:"{key}",""']
    for p in ports:
        base += ["-d", f"tcp.port=={p},tls"]
    p = subprocess.run(base + ["-T", "fields", "-E", "separator=\t", "-e", "tcp.stream", "-e", "ip.src",
                               "-e", "ipv6.src", "-e", "tcp.srcport", "-e", "ip.dst", "-e", "ipv6.dst",
                               "-e", "tcp.dstport", "-Y", "tls"],
                       capture_output=True, text=True, timeout=120)
    # follow,tls names only the first sender (Node 1 prints as ':0' in 4.0):
    # the stream's two endpoints come from its packets
    endpoints = {}
    for line in p.stdout.splitlines():
        f = line.split("\t")
        if len(f) < 7 or not f[0].isdigit():
            continue
        src = f"{f[1]}:{f[3]}" if f[1] else f"[{f[2]}]:{f[3]}"
        dst = f"{f[4]}:{f[6]}" if f[4] else f"[{f[5]}]:{f[6]}"
        endpoints.setdefault(int(f[0]), (src, dst))
    streams = sorted(endpoints)
    result = {}
    for n in streams:
        p = subprocess.run(base + ["-q", "-z", f"follow,tls,raw,{n}"], capture_output=True, text=True,
                           timeout=120)
        node0 = node1 = None
        sides = [bytearray(), bytearray()]
        for line in p.stdout.splitlines():
            if line.startswith("Node 0: "):
                node0 = line[8:].strip()
            elif line.startswith("Node 1: "):
                node1 = line[8:].strip()
            elif line and not line.startswith(("=", "Follow", "Filter")):
                # Node 0's data flush left, node 1's indented with a tab
                side = 1 if line.startswith("\t") else 0
                sides[side] += bytes.fromhex(line.strip())
        a, b = endpoints[n]
        node0 = norm(node0)
        node1 = b if node0 == a else a
        if sides[0] or sides[1]:
            result[n] = (node0, node1, bytes(sides[0]), bytes(sides[1]))
    return result


def enrollmon_streams(capture, kind, key, tmp):
    """{frozenset of endpoints: {'ip:port' of the sender: bytes}} from enrollmon's dump."""
    dump = os.path.join(tmp, "dump")
    shutil.rmtree(dump, ignore_errors=True)
    events = os.path.join(tmp, "events.json")
    args = ["-q", "-r", capture, "--json", events, "--dump-plaintext", dump]
    args += ["--keylog", key] if kind == "keylog" else ["--rsa-key", key]
    p = subprocess.run(enrollmon_cmd.command(args), capture_output=True, text=True,
                       timeout=enrollmon_cmd.timeout(120))
    if p.returncode != 0:
        raise RuntimeError(f"enrollmon exited {p.returncode}: {p.stderr.strip()}")
    flows = {}
    with open(events) as f:
        for line in f:
            e = json.loads(line)
            if e["event_type"] == "flow":
                fmt = lambda ip, port: (f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}")
                flows[e["flow_id"]] = (fmt(e["src_ip"], e["src_port"]), fmt(e["dest_ip"], e["dest_port"]))
    out = {}
    for fid, (client, server) in flows.items():
        got = {}
        for who, ep in (("client", client), ("server", server)):
            path = os.path.join(dump, f"{fid}-{who}.bin")
            if os.path.exists(path):
                with open(path, "rb") as f:
                    got[ep] = f.read()
        out.setdefault(frozenset((client, server)), []).append(got)
    return out


def norm(endpoint):
    """tshark prints IPv6 nodes as addr:port without brackets."""
    if endpoint and endpoint.count(":") > 1 and not endpoint.startswith("["):
        addr, port = endpoint.rsplit(":", 1)
        return f"[{addr}]:{port}"
    return endpoint


def main():
    if not shutil.which("tshark"):
        print("SKIP: tshark is not installed (./run.sh installs it)")
        return 77
    total = matched = 0
    with tempfile.TemporaryDirectory() as tmp:
        for capture, kind, key, ports in inputs():
            name = os.path.basename(capture)
            ts = tshark_streams(capture, kind, key, ports)
            ours = enrollmon_streams(capture, kind, key, tmp)
            seen = {}
            for n, (node0, node1, data0, data1) in sorted(ts.items()):
                total += 1
                pair = frozenset((norm(node0), norm(node1)))
                index = seen.get(pair, 0)
                seen[pair] = index + 1
                candidates = ours.get(pair, [])
                got = candidates[index] if index < len(candidates) else {}
                ok = got.get(norm(node0), b"") == data0 and got.get(norm(node1), b"") == data1
                if ok:
                    matched += 1
                else:
                    print(f"DIFF {name} stream {n} ({node0} <-> {node1}): tshark {len(data0)}+{len(data1)} "
                          f"bytes, enrollmon {len(got.get(norm(node0), b''))}+{len(got.get(norm(node1), b''))}")
    print(f"decrypted connections matching tshark: {matched}/{total}")
    return 0 if total and matched == total else 1


if __name__ == "__main__":
    sys.exit(main())
