#!/usr/bin/env python3
"""The exported Wireshark plugin against enrollmon's own CAPF dissector, with
the real tshark.

enrollmon --export-wireshark-plugin writes capf.lua to a temporary
directory; on every lab capture with CAPF traffic (pcaps/capf-*.pcapng and
pcaps/mixed-enrollment.pcapng, each with its key log) tshark runs with it:

    tshark -X lua_script:DIR/capf.lua -o tls.keylog_file:KEYS -r CAPTURE \
           -T fields -e capf.opcode -e capf.device -e capf.status

and must give the messages of enrollmon's `capf` events (enrollmon -r
CAPTURE --keylog KEYS --json -), in the same order: opcode, device, status
of each.  tshark prints one line per frame; the messages of a frame are
enrollmon's events with that frame's pcap_cnt, in order (a field absent
from a message is absent from tshark's list too).

Then CAPF in the clear, as tools that log plaintext record it: the
decrypted messages of a lab session laid into one TCP connection cut at
odd places (a header over two segments, a message over several, several
messages and the start of the next one in one segment), on 3804 and, with
the plugin's capf.port preference (enrollmon's --capf-port), on 4804.

Skipped (77) when tshark is not installed.  tshark runs with a temporary
HOME, so a plugin installed in the personal folder is not loaded twice.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "streams"))
import pcaplib as P  # noqa: E402

ROOT = os.environ.get("ENROLLMON_SOURCE_ROOT", os.path.join(HERE, "..", "..", ".."))
sys.path.insert(0, os.path.join(HERE, ".."))
import enrollmon_cmd  # noqa: E402
PCAPS = os.path.join(ROOT, "pcaps")
failures = []


def check(name, ok, detail=""):
    print(("PASS " if ok else "FAIL ") + name + ("" if ok else ": " + detail))
    if not ok:
        failures.append(name)


def lab_captures():
    names = sorted(n[:-len(".pcapng")] for n in os.listdir(PCAPS)
                   if n.startswith("capf-") and n.endswith(".pcapng"))
    names.append("mixed-enrollment")
    return [os.path.join(PCAPS, n) for n in names]


def enrollmon_groups(capture, args):
    """enrollmon's capf events as [(pcap_cnt, [(opcode, device, status), ...]), ...] in order."""
    p = subprocess.run(enrollmon_cmd.command(["-q", "-r", capture, *args, "--json", "-"]), capture_output=True,
                       text=True, timeout=enrollmon_cmd.timeout(300))
    if p.returncode != 0:
        raise RuntimeError(f"enrollmon exited {p.returncode} on {capture}: {p.stderr.strip()}")
    groups = []
    for line in p.stdout.splitlines():
        if not line.strip():
            continue
        e = json.loads(line)
        if e["event_type"] != "capf":
            continue
        c = e["capf"]
        msg = (c["opcode"], c.get("device"), c.get("status"))
        if groups and groups[-1][0] == e["pcap_cnt"]:
            groups[-1][1].append(msg)
        else:
            groups.append((e["pcap_cnt"], [msg]))
    return groups


def tshark_frames(plugin, capture, options, home):
    """tshark's lines with CAPF, each [opcodes], [devices], [statuses]."""
    cmd = ["tshark", "-X", "lua_script:" + plugin, *options, "-r", capture,
           "-T", "fields", "-e", "capf.opcode", "-e", "capf.device", "-e", "capf.status"]
    env = dict(os.environ, HOME=home)
    env.pop("SSLKEYLOGFILE", None)
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    if p.returncode != 0:
        raise RuntimeError(f"tshark exited {p.returncode} on {capture}: {p.stderr.strip()}")
    errors = [line for line in p.stderr.splitlines() if "lua" in line.lower() or "capf" in line.lower()]
    if errors:
        raise RuntimeError("tshark reports on the plugin: " + " | ".join(errors))
    frames = []
    for line in p.stdout.splitlines():
        cols = (line.split("\t") + ["", "", ""])[:3]
        if not cols[0]:
            continue
        split = [c.split(",") if c else [] for c in cols]
        frames.append(([int(v, 0) for v in split[0]], split[1], [int(v, 0) for v in split[2]]))
    return frames


def compare(label, groups, frames):
    """Prints and checks 'N/M messages agree'."""
    total = sum(len(msgs) for _, msgs in groups)
    agree, first_difference = 0, None
    for i in range(max(len(groups), len(frames))):
        if i >= len(groups) or i >= len(frames):
            if first_difference is None:
                extra = frames[i] if i < len(frames) else groups[i]
                first_difference = f"message group {i + 1}: only on one side: {extra}"
            continue
        frame, msgs = groups[i]
        want = ([m[0] for m in msgs], [m[1] for m in msgs if m[1] is not None],
                [m[2] for m in msgs if m[2] is not None])
        got = frames[i]
        if tuple(got) == want:
            agree += len(msgs)
        elif first_difference is None:
            first_difference = f"frame {frame}: enrollmon {msgs}, tshark {got}"
    print(f"{label}: {agree}/{total} messages agree")
    check(label, agree == total and len(groups) == len(frames) and total > 0 or (total == 0 and not frames),
          first_difference or f"{len(frames)} tshark frames with CAPF, {len(groups)} in enrollmon")
    return total


# ---- CAPF in the clear ----

def messages(stream):
    out, pos = [], 0
    while pos + 8 <= len(stream):
        total = 8 + int.from_bytes(stream[pos + 6:pos + 8], "big")
        out.append(stream[pos:pos + total])
        pos += total
    return out


# Segment sizes, in turn, after the first message of a direction (which goes
# whole: enrollmon recognises CAPF in the clear on a first segment that holds
# at least a header and a field header): a header cut in two (3 + 5), a
# message over several segments, several messages and a part of the next in
# one.
CUTS = [3, 5, 1, 40, 2, 300, 7, 1400, 11, 64]


def chunks(msgs, offset):
    first, data = msgs[0], b"".join(msgs[1:])
    out, pos, k = [first], 0, offset
    while pos < len(data):
        n = CUTS[k % len(CUTS)]
        out.append(data[pos:pos + n])
        pos += n
        k += 1
    return out


def build_plaintext(path, port, client_msgs, server_msgs):
    c, s = "10.20.30.40", "10.20.30.1"
    cport = 51562
    recs, t = [], 1_700_000_000 * 10**9
    seq = {True: 1000, False: 9000}

    def add(from_client, flags, payload=b""):
        nonlocal t
        me, peer = seq[from_client], seq[not from_client]
        if from_client:
            tcp = P.TCP(cport, port, me, peer, flags, payload=payload)
            ip = P.IPv4(c, s, 6, tcp.build(P.IPv4(c, s, 6)))
        else:
            tcp = P.TCP(port, cport, me, peer, flags, payload=payload)
            ip = P.IPv4(s, c, 6, tcp.build(P.IPv4(s, c, 6)))
        seq[from_client] += len(payload) + (1 if flags & (P.TCP_SYN | P.TCP_FIN) else 0)
        recs.append(P.Record(t, P.LINKTYPE_ETHERNET, P.link_encode(P.LINKTYPE_ETHERNET, ip.build())))
        t += 1_000_000

    add(True, P.TCP_SYN)
    add(False, P.TCP_SYN | P.TCP_ACK)
    add(True, P.TCP_ACK)
    # The server speaks first; then the two sides take turns, each sending
    # its whole next message plus whatever of the following one its cut holds.
    server = chunks(server_msgs, 0)
    client = chunks(client_msgs, 4)
    for i in range(max(len(server), len(client))):
        if i < len(server):
            add(False, P.TCP_ACK | P.TCP_PSH, server[i])
        if i < len(client):
            add(True, P.TCP_ACK | P.TCP_PSH, client[i])
    add(True, P.TCP_FIN | P.TCP_ACK)
    add(False, P.TCP_FIN | P.TCP_ACK)
    add(True, P.TCP_ACK)
    P.write_pcap(path, P.LINKTYPE_ETHERNET, recs)


def main():
    if not shutil.which("tshark"):
        print("SKIP: tshark is not installed")
        return 77
    with tempfile.TemporaryDirectory() as tmp:
        home = os.path.join(tmp, "home")
        os.mkdir(home)
        plugin_dir = os.path.join(tmp, "plugins")
        p = subprocess.run(enrollmon_cmd.command(["--export-wireshark-plugin", plugin_dir]),
                           capture_output=True, text=True, timeout=enrollmon_cmd.timeout(60))
        check("export exits 0 and says nothing", p.returncode == 0 and not p.stdout and not p.stderr,
              f"exit {p.returncode}: {p.stdout}{p.stderr}")
        plugin = os.path.join(plugin_dir, "capf.lua")
        if not os.path.isfile(plugin):
            print("no plugin written")
            return 1

        bad = os.path.join(tmp, "a-file")
        open(bad, "w").close()
        p = subprocess.run(enrollmon_cmd.command(["--export-wireshark-plugin", bad]),
                           capture_output=True, text=True, timeout=enrollmon_cmd.timeout(60))
        check("a directory that cannot be written: one error line, exit 2",
              p.returncode == 2 and len(p.stderr.strip().splitlines()) == 1 and not p.stdout,
              f"exit {p.returncode}: {p.stderr!r}")

        grand = 0
        for base in lab_captures():
            capture, keys = base + ".pcapng", base + ".keys"
            name = os.path.basename(base)
            try:
                groups = enrollmon_groups(capture, ["--keylog", keys])
                frames = tshark_frames(plugin, capture, ["-o", "tls.keylog_file:" + keys], home)
            except (RuntimeError, subprocess.TimeoutExpired) as e:
                check(name, False, str(e))
                continue
            grand += compare(name, groups, frames)
        check("the lab captures hold CAPF messages at all", grand > 0, "no capf events anywhere")

        # CAPF in the clear, from the decrypted messages of a lab session.
        source = os.path.join(PCAPS, "capf-enroll-ok-tls12")
        dump = os.path.join(tmp, "dump")
        subprocess.run(enrollmon_cmd.command(["-q", "-r", source + ".pcapng", "--keylog", source + ".keys",
                                              "--dump-plaintext", dump]),
                       capture_output=True, timeout=enrollmon_cmd.timeout(120), check=True)
        with open(os.path.join(dump, "1-client.bin"), "rb") as f:
            client = messages(f.read())
        with open(os.path.join(dump, "1-server.bin"), "rb") as f:
            server = messages(f.read())
        for port in (3804, 4804):
            cap = os.path.join(tmp, f"plain-{port}.pcap")
            build_plaintext(cap, port, client, server)
            e_args = [] if port == 3804 else ["--capf-port", str(port)]
            t_opts = [] if port == 3804 else ["-o", f"capf.port:{port}"]
            label = f"plaintext on {port}, cut at odd places" + (" (capf.port preference)" if t_opts else "")
            try:
                groups = enrollmon_groups(cap, e_args)
                frames = tshark_frames(plugin, cap, t_opts, home)
            except (RuntimeError, subprocess.TimeoutExpired) as e:
                check(label, False, str(e))
                continue
            n = compare(label, groups, frames)
            check(label + ": the whole session", n == len(client) + len(server),
                  f"{n} messages, {len(client) + len(server)} sent")
    print(f"{len(failures)} case(s) failed" if failures else "all cases passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
