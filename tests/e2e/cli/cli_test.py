#!/usr/bin/env python3
"""Bad input gets one clear line and the right exit status, and nothing is lost.

Each case runs the real binary ($ENROLLMON) on a file this script makes:
missing, not a capture, empty, a directory, unreadable, cut short (pcap and
pcapng), an unsupported link type, several files with one bad, an output that
cannot be opened or written, bad options and configuration.
"""
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import enrollmon_cmd  # noqa: E402
failures = []


def run(args, **kw):
    p = subprocess.run(enrollmon_cmd.command(args), capture_output=True, text=True,
                       timeout=enrollmon_cmd.timeout(60), **kw)
    return p.returncode, p.stdout, p.stderr


def check(name, ok, detail=""):
    print(("PASS " if ok else "FAIL ") + name + ("" if ok else ": " + detail))
    if not ok:
        failures.append(name)


def one_line(stderr):
    lines = [l for l in stderr.splitlines() if l.strip()]
    return len(lines) == 1, lines


def udp_frame(i):
    """Ethernet + IPv4 + UDP with an 8-byte payload (a DNS-looking port pair)."""
    payload = struct.pack(">II", 0xE0E0E0E0, i)
    udp = struct.pack(">HHHH", 40000 + i % 7, 53, 8 + len(payload), 0) + payload
    ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), i, 0, 64, 17, 0,
                     bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2]))
    eth = b"\x02\x00\x00\x00\x00\x02" + b"\x02\x00\x00\x00\x00\x01" + b"\x08\x00"
    return eth + ip + udp


def write_pcap(path, frames, linktype=1):
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, linktype))
        for i, fr in enumerate(frames):
            f.write(struct.pack("<IIII", 1700000000 + i, 0, len(fr), len(fr)))
            f.write(fr)


def pad4(b):
    return b + b"\x00" * (-len(b) % 4)


def write_pcapng(path, frames):
    def block(btype, body):
        body = pad4(body)
        n = 12 + len(body)
        return struct.pack("<II", btype, n) + body + struct.pack("<I", n)
    with open(path, "wb") as f:
        f.write(block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1)))
        f.write(block(1, struct.pack("<HHI", 1, 0, 65535)))
        for i, fr in enumerate(frames):
            ts = (1700000000 + i) * 1000000
            f.write(block(6, struct.pack("<IIIII", 0, ts >> 32, ts & 0xFFFFFFFF, len(fr), len(fr)) + fr))


def stats_event(path):
    with open(path) as f:
        events = [json.loads(l) for l in f if l.strip()]
    stats = [e for e in events if e["event_type"] == "stats"]
    return stats[-1]["stats"] if stats else None


def main():
    tmp = tempfile.mkdtemp(prefix="enrollmon-cli-")
    try:
        good = os.path.join(tmp, "good.pcap")
        write_pcap(good, [udp_frame(i) for i in range(10)])
        events = os.path.join(tmp, "events.json")

        rc, out, err = run(["-r", good, "--json", events])
        st = stats_event(events)
        check("good capture analysed", rc == 0 and st and st["packets"] == 10 and err == "",
              f"rc={rc} err={err!r} stats={st}")

        missing = os.path.join(tmp, "no-such.pcap")
        rc, out, err = run(["-r", missing])
        single, lines = one_line(err)
        check("missing file", rc == 2 and single and "no-such.pcap" in err and "No such file" in err,
              f"rc={rc} stderr={lines}")

        notcap = os.path.join(tmp, "notes.txt")
        with open(notcap, "w") as f:
            f.write("this is a text file, not a capture\n" * 10)
        rc, out, err = run(["-r", notcap])
        single, lines = one_line(err)
        check("not a capture", rc == 2 and single and "not a pcap or pcapng capture" in err,
              f"rc={rc} stderr={lines}")

        empty = os.path.join(tmp, "empty.pcap")
        open(empty, "wb").close()
        rc, out, err = run(["-r", empty])
        single, lines = one_line(err)
        check("empty file", rc == 2 and single and "is empty" in err, f"rc={rc} stderr={lines}")

        rc, out, err = run(["-r", tmp])
        single, lines = one_line(err)
        check("directory", rc == 2 and single and "directory" in err, f"rc={rc} stderr={lines}")

        # Unreadable: permissions do not stop root, so as root read a file
        # that opens but fails on read.
        if os.geteuid() != 0:
            locked = os.path.join(tmp, "locked.pcap")
            shutil.copy(good, locked)
            os.chmod(locked, 0)
            rc, out, err = run(["-r", locked])
            single, lines = one_line(err)
            check("unreadable file", rc == 2 and single and "Permission denied" in err,
                  f"rc={rc} stderr={lines}")
        elif os.path.exists("/proc/self/mem"):
            rc, out, err = run(["-r", "/proc/self/mem"])
            single, lines = one_line(err)
            check("unreadable file", rc == 2 and single and "cannot read capture" in err,
                  f"rc={rc} stderr={lines}")

        # Cut inside the 7th record's data: 6 packets analysed, then the warning.
        data = open(good, "rb").read()
        rec = 16 + len(udp_frame(0))
        cut = os.path.join(tmp, "cut.pcap")
        with open(cut, "wb") as f:
            f.write(data[:24 + 6 * rec + 20])
        rc, out, err = run(["-r", cut, "--json", events])
        st = stats_event(events)
        single, lines = one_line(err)
        check("truncated pcap: analysed, then named",
              rc == 0 and single and "warning" in err and "after packet 6" in err
              and f"at byte {24 + 6 * rec}" in err and st and st["packets"] == 6
              and st["files"]["truncated"] == 1,
              f"rc={rc} stderr={lines} stats={st and st['packets']}")

        ng = os.path.join(tmp, "good.pcapng")
        write_pcapng(ng, [udp_frame(i) for i in range(5)])
        rc, out, err = run(["-r", ng, "--json", events])
        st = stats_event(events)
        check("pcapng read", rc == 0 and st and st["packets"] == 5, f"rc={rc} err={err!r}")
        ngdata = open(ng, "rb").read()
        ngcut = os.path.join(tmp, "cut.pcapng")
        with open(ngcut, "wb") as f:
            f.write(ngdata[:-30])
        rc, out, err = run(["-r", ngcut, "--json", events])
        st = stats_event(events)
        single, lines = one_line(err)
        check("truncated pcapng: analysed, then named",
              rc == 0 and single and "after packet 4" in err and st and st["packets"] == 4,
              f"rc={rc} stderr={lines}")

        odd = os.path.join(tmp, "usb.pcap")
        write_pcap(odd, [b"\x00" * 40], linktype=189)
        rc, out, err = run(["-r", odd])
        single, lines = one_line(err)
        check("unsupported link type", rc == 2 and single and "link type" in err and "not supported" in err,
              f"rc={rc} stderr={lines}")

        rc, out, err = run(["-r", good, "-r", missing, "--json", events])
        st = stats_event(events)
        single, lines = one_line(err)
        check("one of two files missing: the other analysed, exit 1",
              rc == 1 and single and st and st["packets"] == 10 and st["files"]["failed"] == 1,
              f"rc={rc} stderr={lines} stats={st and st['files']}")

        rc, out, err = run(["-r", good, "--json", os.path.join(tmp, "no", "dir", "x.json")])
        single, lines = one_line(err)
        check("output cannot be opened", rc == 2 and single and "cannot write events" in err,
              f"rc={rc} stderr={lines}")

        if os.path.exists("/dev/full"):
            rc, out, err = run(["-r", good, "--json", "/dev/full"])
            check("output write fails (disk full)", rc == 1 and "cannot write events" in err
                  and "No space left" in err, f"rc={rc} stderr={err!r}")

        rc, out, err = run([])
        single, lines = one_line(err)
        check("nothing to read", rc == 2 and single and "-r FILE" in err, f"rc={rc} stderr={lines}")

        rc, out, err = run(["--no-such-option"])
        single, lines = one_line(err)
        check("unknown option", rc == 2 and single, f"rc={rc} stderr={lines}")

        rc, out, err = run([good])
        single, lines = one_line(err)
        check("bare argument", rc == 2 and single and "-r FILE" in err, f"rc={rc} stderr={lines}")

        badconf = os.path.join(tmp, "bad.conf")
        with open(badconf, "w") as f:
            f.write("[limits]\nglobal-memroy-mb=12\n")
        rc, out, err = run(["-r", good, "--config", badconf])
        single, lines = one_line(err)
        check("configuration typo", rc == 2 and single and "global-memroy-mb" in err,
              f"rc={rc} stderr={lines}")

        rc, out, err = run(["-r", good, "--config", os.path.join(tmp, "nope.conf")])
        single, lines = one_line(err)
        check("configuration missing", rc == 2 and single and "nope.conf" in err,
              f"rc={rc} stderr={lines}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"{len(failures)} case(s) failed" if failures else "all cases passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
