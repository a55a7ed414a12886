#!/usr/bin/env python3
"""Seed corpora for the fuzz targets, cut from real captures: the
project's own (pcaps/*.pcapng, decrypted with their key logs) and, when the
folder is there, ../shared/pcaps-ext/ (with the key logs its MANIFEST.tsv
names).  tshark does the cutting, so the seeds do not depend on the code
they will test.

  make_seeds.py OUT_DIR [--max-per-target N]

Writes OUT_DIR/<target>/<sha1 of the seed>.  The campaign (campaign.sh)
then keeps, with libFuzzer's -merge=1, only the seeds that add coverage,
into fuzz/corpus/<target>/.

Input formats are those the targets read (fuzz/flow_harness.h for the
conversations of tls, capf, http and dns; fuzz/targets/fuzz_pki.c).
"""

import argparse
import csv
import glob
import hashlib
import os
import re
import struct
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
EXT = os.path.join(os.path.dirname(ROOT), "shared", "pcaps-ext")

CAPF_PORT = 3804
SEED_MAX = 60 * 1024          # libFuzzer's -max_len in campaign.sh is 64 KiB
PIPELINE_PACKETS = 40         # first packets of a capture kept as a pipeline seed
DNS_DATAGRAMS_PER_SEED = 12


def tshark(args):
    run = subprocess.run(["tshark", "-n"] + args, capture_output=True, text=True, errors="replace")
    if run.returncode != 0:
        sys.stderr.write("make_seeds: tshark %s: %s\n" % (" ".join(args), run.stderr.strip()))
        return ""
    return run.stdout


def captures():
    """(path, key log or None) of every capture to cut seeds from."""
    out = []
    for cap in sorted(glob.glob(os.path.join(ROOT, "pcaps", "*.pcapng"))):
        keys = cap[: -len(".pcapng")] + ".keys"
        out.append((cap, keys if os.path.exists(keys) else None))
    manifest = os.path.join(EXT, "MANIFEST.tsv")
    if os.path.exists(manifest):
        with open(manifest, newline="") as f:
            for row in csv.DictReader(f, delimiter="\t"):
                name = row["file"]
                if not re.search(r"\.(pcap|pcapng|cap)$", name):
                    continue
                keylog = None
                for opt in (row.get("truth_options") or "").split():
                    if opt.startswith("keylog="):
                        keylog = os.path.join(EXT, opt[len("keylog="):])
                out.append((os.path.join(EXT, name), keylog))
    else:
        sys.stderr.write("make_seeds: %s is not there; seeds from pcaps/ only\n" % EXT)
    return out


class Seeds:
    def __init__(self, out_dir, max_per_target):
        self.out_dir = out_dir
        self.max = max_per_target
        self.count = {}

    def add(self, target, data):
        if not data or self.count.get(target, 0) >= self.max:
            return
        data = data[:SEED_MAX]
        d = os.path.join(self.out_dir, target)
        os.makedirs(d, exist_ok=True)
        path = os.path.join(d, hashlib.sha1(data).hexdigest())
        if not os.path.exists(path):
            with open(path, "wb") as f:
                f.write(data)
            self.count[target] = self.count.get(target, 0) + 1


def unhex(text):
    """Bytes of tshark's hex field (the first occurrence); None when it is not hex."""
    try:
        return bytes.fromhex(text.split(",")[0].replace(":", ""))
    except ValueError:
        return None


def conversation(server_port, chunks):
    """chunks: (to_client, bytes) in order -> the flow_harness.h format."""
    out = bytearray(struct.pack(">H", server_port))
    for to_client, data in chunks:
        for i in range(0, max(len(data), 1), 0xFFFF):
            part = data[i:i + 0xFFFF]
            out += struct.pack(">BH", 1 if to_client else 0, len(part)) + part
            if len(out) >= SEED_MAX:
                return bytes(out)
    return bytes(out)


def tcp_streams(cap):
    """{stream: (client port, server port)}: the client is the side that
    sent the first SYN (else the first packet's sender)."""
    streams = {}
    for line in tshark(["-r", cap, "-Y", "tcp", "-T", "fields", "-e", "tcp.stream", "-e",
                        "tcp.srcport", "-e", "tcp.dstport", "-e", "tcp.flags.syn", "-e",
                        "tcp.flags.ack"]).splitlines():
        parts = line.split("\t")
        if len(parts) < 5 or not parts[0]:
            continue
        stream, sport, dport = int(parts[0]), int(parts[1]), int(parts[2])
        syn_only = parts[3] in ("1", "True") and parts[4] in ("0", "False")
        if stream not in streams or (syn_only and not streams[stream][2]):
            streams[stream] = (sport, dport, syn_only)
    return {s: (v[0], v[1]) for s, v in streams.items()}


def follow(cap, kind, stream_ids, keylog):
    """tshark -z follow,<kind>,raw for the streams: {stream: [(from node 1, bytes)]}.
    Node 0 is the sender of the stream's first packet."""
    result = {}
    for start in range(0, len(stream_ids), 25):
        batch = stream_ids[start:start + 25]
        # CAPF's port is no TLS port to tshark.
        args = ["-r", cap, "-q", "-d", "tcp.port==%d,tls" % CAPF_PORT]
        if keylog:
            args += ["-o", "tls.keylog_file:" + keylog]
        for s in batch:
            args += ["-z", "follow,%s,raw,%d" % (kind, s)]
        current = None
        for line in tshark(args).splitlines():
            m = re.match(r"Filter: .*stream eq (\d+)", line)
            if m:
                current = int(m.group(1))
                result[current] = []
                continue
            if current is None or line.startswith(("===", "Follow:", "Node ")) or not line.strip():
                continue
            from_node1 = line.startswith("\t")
            try:
                data = bytes.fromhex(line.strip())
            except ValueError:
                continue
            chunks = result[current]
            if chunks and chunks[-1][0] == from_node1:
                chunks[-1] = (from_node1, chunks[-1][1] + data)
            else:
                chunks.append((from_node1, data))
    return result


def oriented(chunks, first_sender_port, client_port):
    """(to_client, bytes) from follow's (from node 1, bytes)."""
    node0_client = first_sender_port == client_port
    return [((not n1) if not node0_client else n1, data) for n1, data in chunks]


def first_senders(cap):
    out = {}
    for line in tshark(["-r", cap, "-Y", "tcp", "-T", "fields", "-e", "tcp.stream", "-e",
                        "tcp.srcport"]).splitlines():
        parts = line.split("\t")
        if len(parts) == 2 and parts[0] and int(parts[0]) not in out:
            out[int(parts[0])] = int(parts[1])
    return out


# ---- HTTP messages, for the pki seeds -------------------------------------

def split_http(data):
    """HTTP/1.x messages of one direction: [(start line, headers dict, body)]."""
    messages = []
    pos = 0
    while pos < len(data):
        end = data.find(b"\r\n\r\n", pos)
        if end < 0:
            break
        head = data[pos:end].decode("latin-1").split("\r\n")
        headers = {}
        for h in head[1:]:
            if ":" in h:
                k, v = h.split(":", 1)
                headers[k.strip().lower()] = v.strip()
        pos = end + 4
        body = b""
        if "chunked" in headers.get("transfer-encoding", "").lower():
            while pos < len(data):
                eol = data.find(b"\r\n", pos)
                if eol < 0:
                    break
                try:
                    size = int(data[pos:eol].split(b";")[0], 16)
                except ValueError:
                    break
                pos = eol + 2
                if size == 0:
                    trailer = data.find(b"\r\n\r\n", pos - 2)
                    pos = trailer + 4 if trailer >= 0 else len(data)
                    break
                body += data[pos:pos + size]
                pos += size + 2
        elif "content-length" in headers:
            try:
                n = int(headers["content-length"])
            except ValueError:
                n = 0
            body = data[pos:pos + n]
            pos += n
        messages.append((head[0], headers, body))
    return messages


def pki_seed(request, response):
    req_line, req_headers, req_body = request
    parts = req_line.split(" ")
    if len(parts) < 2:
        return None
    method, uri = parts[0], parts[1]
    status = 0
    resp_ct, resp_body = "", b""
    if response:
        status_parts = response[0].split(" ")
        status = int(status_parts[1]) if len(status_parts) > 1 and status_parts[1].isdigit() else 0
        resp_ct = response[1].get("content-type", "")
        resp_body = response[2]
    head = "\n".join([method, uri, req_headers.get("content-type", ""), str(status), resp_ct]) + "\n"
    return head.encode("latin-1") + struct.pack(">BI", 0, len(req_body)) + req_body + resp_body


PKI_URI = re.compile(r"/certsrv|/\.well-known/est|pkiclient|scep|cgi-bin", re.I)


def add_http_seeds(seeds, server_port, chunks):
    seeds.add("http", conversation(server_port, chunks))
    requests = split_http(b"".join(d for to_client, d in chunks if not to_client))
    responses = [m for m in split_http(b"".join(d for to_client, d in chunks if to_client))
                 if not m[0].split(" ")[1:2] or not m[0].split(" ")[1].startswith("1")]
    for i, req in enumerate(requests):
        if PKI_URI.search(req[0]):
            seed = pki_seed(req, responses[i] if i < len(responses) else None)
            if seed:
                seeds.add("pki", seed)


def cut_capture(cap, seeds):
    """The first packets of a capture, as pcapng and as pcap."""
    with tempfile.TemporaryDirectory() as tmp:
        for fmt in ("pcapng", "pcap"):
            out = os.path.join(tmp, "cut." + fmt)
            run = subprocess.run(["editcap", "-F", fmt, "-r", cap, out, "1-%d" % PIPELINE_PACKETS],
                                 capture_output=True)
            if run.returncode == 0 and os.path.getsize(out) <= SEED_MAX:
                with open(out, "rb") as f:
                    seeds.add("pipeline", f.read())


def seeds_of(cap, keylog, seeds):
    streams = tcp_streams(cap)
    senders = first_senders(cap)
    raw = follow(cap, "tcp", sorted(streams), None)
    tls_ids = []
    for s, chunks in raw.items():
        client_port, server_port = streams.get(s, (0, 0))
        conv = oriented(chunks, senders.get(s), client_port)
        first = next((d for to_client, d in conv if d), b"")
        if first[:1] == b"\x16":
            seeds.add("tls", conversation(server_port, conv))
            tls_ids.append(s)
        elif server_port == CAPF_PORT:
            seeds.add("capf", conversation(server_port, conv))
        elif re.match(rb"[A-Z]+ \S+ HTTP/1|HTTP/1", first):
            add_http_seeds(seeds, server_port, conv)
    if keylog and tls_ids:
        for s, chunks in follow(cap, "tls", tls_ids, keylog).items():
            client_port, server_port = streams.get(s, (0, 0))
            conv = oriented(chunks, senders.get(s), client_port)
            if not conv:
                continue
            if server_port == CAPF_PORT:
                seeds.add("capf", conversation(server_port, conv))
            else:
                add_http_seeds(seeds, server_port, conv)

    tls_args = ["-r", cap, "-d", "tcp.port==%d,tls" % CAPF_PORT, "-Y", "tls.handshake.certificate", "-T", "fields", "-E", "occurrence=a",
                "-E", "aggregator=,", "-e", "tls.handshake.certificate"]
    if keylog:
        tls_args = ["-o", "tls.keylog_file:" + keylog] + tls_args
    for line in tshark(tls_args).splitlines():
        for cert in line.split(","):
            der = unhex(cert)
            if der:
                seeds.add("x509", der)

    dns = []
    for line in tshark(["-r", cap, "-Y", "dns && udp", "-T", "fields", "-e", "udp.dstport", "-e",
                        "udp.payload"]).splitlines():
        parts = line.split("\t")
        if len(parts) == 2 and parts[1]:
            payload = unhex(parts[1])
            if payload:
                dns.append((parts[0].split(",")[0] != "53", payload))
    for i in range(0, len(dns), DNS_DATAGRAMS_PER_SEED):
        seeds.add("dns", conversation(53, dns[i:i + DNS_DATAGRAMS_PER_SEED]))

    if keylog:
        with open(keylog, "rb") as f:
            lines = f.read().splitlines(keepends=True)
        for i in range(0, len(lines), 8):
            seeds.add("keylog", b"".join(lines[i:i + 8]))
    cut_capture(cap, seeds)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out_dir")
    ap.add_argument("--max-per-target", type=int, default=400)
    args = ap.parse_args()
    seeds = Seeds(args.out_dir, args.max_per_target)
    for cap, keylog in captures():
        seeds_of(cap, keylog, seeds)
    # The certificates of the project's PKI, as DER.
    for pem in sorted(glob.glob(os.path.join(ROOT, "pcaps", "pki", "*.pem"))):
        der = subprocess.run(["openssl", "x509", "-in", pem, "-outform", "DER"],
                             capture_output=True).stdout
        seeds.add("x509", der)
    for target in sorted(seeds.count):
        print("%s: %d seeds" % (target, seeds.count[target]))


if __name__ == "__main__":
    main()
