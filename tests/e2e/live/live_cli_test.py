#!/usr/bin/env python3
"""Live capture's bad input: one clear line and exit status 2, before any
packet is captured, with or without privileges.

Each case runs the real binary ($ENROLLMON): an interface that does not
exist (the line names it and lists the ones that do), a filter that does
not compile (the line quotes libpcap's reason), -r with -i, a --user that
does not exist, options for live capture given to an offline run, and
out-of-range numbers.
"""
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import enrollmon_cmd  # noqa: E402
failures = []


def run(args):
    p = subprocess.run(enrollmon_cmd.command(args), capture_output=True, text=True,
                       timeout=enrollmon_cmd.timeout(60))
    return p.returncode, p.stdout, p.stderr


def check(name, ok, detail=""):
    print(("PASS " if ok else "FAIL ") + name + ("" if ok else ": " + detail))
    if not ok:
        failures.append(name)


def one_error_line(rc, out, err, *needles):
    lines = [l for l in err.splitlines() if l.strip()]
    ok = (rc == 2 and len(lines) == 1 and lines[0].startswith("enrollmon: error: ") and out == ""
          and all(n in lines[0] for n in needles))
    return ok, f"rc={rc} stdout={out!r} stderr={lines}"


def a_real_interface():
    """An interface that exists here (lo on Linux), for cases that must get
    past the interface to fail on something else."""
    return "lo" if os.path.exists("/sys/class/net/lo") else "any"


def main():
    iface = a_real_interface()
    with tempfile.TemporaryDirectory(prefix="enrollmon-live-cli-") as tmp:
        capture = os.path.join(tmp, "x.pcap")
        open(capture, "wb").close()

        rc, out, err = run(["-i", "enrollmon-no-such0"])
        ok, detail = one_error_line(rc, out, err, "enrollmon-no-such0", "no interface", "interfaces here:")
        check("missing interface: named, the others listed", ok, detail)

        rc, out, err = run(["-i", iface, "-i", "enrollmon-no-such1"])
        ok, detail = one_error_line(rc, out, err, "enrollmon-no-such1")
        check("second of two interfaces missing", ok, detail)

        rc, out, err = run(["-i", iface, "-f", "tcp port and and"])
        ok, detail = one_error_line(rc, out, err, "capture filter", "tcp port and and", "does not compile",
                                    "syntax error")
        check("filter that does not compile: quoted with libpcap's reason", ok, detail)

        rc, out, err = run(["-i", iface, "-f", "tcp port 99999"])
        ok, detail = one_error_line(rc, out, err, "tcp port 99999", "does not compile")
        check("filter with a port out of range", ok, detail)

        rc, out, err = run(["-r", capture, "-i", iface])
        ok, detail = one_error_line(rc, out, err, "-r", "-i", "together")
        check("-r with -i", ok, detail)

        rc, out, err = run(["-i", iface, "--user", "enrollmon-no-such-user"])
        ok, detail = one_error_line(rc, out, err, "enrollmon-no-such-user", "--user")
        check("--user that does not exist", ok, detail)

        for opt in (["-f", "tcp"], ["--snaplen", "1500"], ["--buffer-mb", "8"], ["--no-promisc"],
                    ["--stats-interval", "5"], ["--user", "nobody"]):
            rc, out, err = run(["-r", capture] + opt)
            ok, detail = one_error_line(rc, out, err, opt[0], "live capture")
            check(f"{opt[0]} with -r", ok, detail)

        for opt, needle in ((["--workers", "0"], "--workers"), (["--snaplen", "10"], "--snaplen"),
                            (["--buffer-mb", "0"], "--buffer-mb"), (["--buffer-mb", "4096"], "--buffer-mb"),
                            (["--stats-interval", "-5"], "--stats-interval")):
            rc, out, err = run(["-i", iface] + opt)
            ok, detail = one_error_line(rc, out, err, needle)
            check(f"{' '.join(opt)} refused", ok, detail)

        rc, out, err = run(["-i", iface, "--json", os.path.join(tmp, "no", "dir", "x.json")])
        ok, detail = one_error_line(rc, out, err, "cannot write events")
        check("live output that cannot be opened", ok, detail)

        rc, out, err = run([])
        ok, detail = one_error_line(rc, out, err, "-r FILE", "-i IFACE")
        check("nothing to read names both -r and -i", ok, detail)

        # Without privileges, an existing interface: the line names the fix.
        if os.geteuid() != 0:
            rc, out, err = run(["-i", iface])
            ok, detail = one_error_line(rc, out, err, iface, "CAP_NET_RAW", "setcap")
            check("no privileges: the fix named", ok, detail)
    print(f"{len(failures)} case(s) failed" if failures else "all cases passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
