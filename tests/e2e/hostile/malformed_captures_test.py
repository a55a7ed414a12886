#!/usr/bin/env python3
"""Malformed captures (issue 9, point 4): every capture in pcaps/*.pcapng
and in ../shared/pcaps-ext/ (relative to the source root; skipped, with a
line saying so, when that folder is absent) is damaged in six ways with
fixed seeds, and enrollmon (the sanitizer build, $ENROLLMON) analyses each
damaged copy:

  editcap-S   `editcap -E 0.01 --seed S` (S = 1, 2, 3): about 1% of the
              packet bytes changed; the copy keeps the capture's format
              (pcap, pcap with nanoseconds or pcapng).  Without editcap the
              same three copies are made here instead: random.Random with
              the seed changes about 1% of the bytes after the file header.
  trunc-S     the capture cut at an offset drawn with random.Random(S, name):
              seed 1 inside the file header (the pcap header, or pcapng's
              section header and the interface blocks before the first
              packet), seeds 2 and 3 anywhere after it.

Each run is
    $ENROLLMON -q --color=never -r DAMAGED --json OUT [--keylog K] [--rsa-key P]
with the capture's keys: pcaps/X.keys and pcaps/X.server-key.pem, or the
keylog=/rsakey= of the capture's truth_options in pcaps-ext/MANIFEST.tsv.

A run passes when it exits 0, 1 or 2 (a damaged file may be refused, 2, or
partly analysed, 0 or 1 with a warning), was not killed by a signal,
finished within 60 s, wrote no AddressSanitizer, UndefinedBehaviorSanitizer
or LeakSanitizer report on standard error, and its JSON output (when there
is one) is JSON lines.  Runs go two at a time.

  malformed_captures_test.py [--seeds N] [--raw] [--keep DIR]

--raw adds, for each seed, the python byte damage (flip-S) beside editcap's:
it also reaches what editcap -E leaves alone (record and block headers,
timestamps, lengths, options).  --seeds N uses the seeds 1..N (default 3) for a longer hunt; seed 1's cut
stays inside the file header.  --keep DIR copies every damaged capture that failed into DIR.  Every
failure prints the command that rebuilds the damaged file and the one that
runs enrollmon on it, with the top frames of the sanitizer report.
"""

import concurrent.futures
import csv
import glob
import json
import os
import random
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import enrollmon_cmd  # noqa: E402

SEEDS = (1, 2, 3)
ERROR_PROBABILITY = 0.01
RUN_TIMEOUT = 60          # seconds per damaged capture
WORKERS = 2
OK_STATUSES = (0, 1, 2)
SANITIZER_MARKS = ("ERROR: AddressSanitizer", "runtime error:", "LeakSanitizer")

PCAP_FORMATS = {          # magic -> editcap -F name
    b"\xa1\xb2\xc3\xd4": "pcap", b"\xd4\xc3\xb2\xa1": "pcap",
    b"\xa1\xb2\x3c\x4d": "nsecpcap", b"\x4d\x3c\xb2\xa1": "nsecpcap",
    b"\x0a\x0d\x0d\x0a": "pcapng",
}
PCAPNG_PACKET_BLOCKS = (0x00000002, 0x00000003, 0x00000006)  # PB, SPB, EPB


def die(msg):
    print("malformed-captures: " + msg, flush=True)
    sys.exit(1)


# ---------------------------------------------------------------- captures

def capture_format(path):
    with open(path, "rb") as fh:
        return PCAP_FORMATS.get(fh.read(4))


def header_end(data, fmt):
    """Where the file header region ends: the 24-byte pcap header, or the
    pcapng blocks (section header, interface descriptions, ...) before the
    first packet block.  Never more than the file's length."""
    if fmt != "pcapng":
        return min(24, len(data))
    if len(data) < 12:
        return len(data)
    endian = "<" if data[8:12] == b"\x4d\x3c\x2b\x1a" else ">"
    pos = 0
    while pos + 8 <= len(data):
        btype, blen = struct.unpack(endian + "II", data[pos:pos + 8])
        if btype in PCAPNG_PACKET_BLOCKS or blen < 12 or blen % 4:
            break
        pos += blen
    return max(1, min(pos, len(data)))


def project_captures(root):
    """(name, path, key arguments) of pcaps/*.pcapng."""
    out = []
    for path in sorted(glob.glob(os.path.join(root, "pcaps", "*.pcapng"))):
        base = path[:-len(".pcapng")]
        keys = []
        if os.path.exists(base + ".keys"):
            keys += ["--keylog", base + ".keys"]
        if os.path.exists(base + ".server-key.pem"):
            keys += ["--rsa-key", base + ".server-key.pem"]
        out.append(("pcaps/" + os.path.basename(path), path, keys))
    return out


def ext_captures(ext):
    """(name, path, key arguments) of every capture in ext: each file there
    that starts with a pcap or pcapng magic, whether MANIFEST.tsv lists it
    or not; its keys from the manifest's truth_options."""
    options = {}
    manifest = os.path.join(ext, "MANIFEST.tsv")
    if os.path.exists(manifest):
        with open(manifest, newline="", encoding="utf-8") as fh:
            for row in csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE):
                options[row.get("file", "")] = row.get("truth_options") or ""
    out = []
    for fname in sorted(os.listdir(ext)):
        path = os.path.join(ext, fname)
        if not os.path.isfile(path) or capture_format(path) is None:
            continue
        keys = []
        for opt in options.get(fname, "").split(","):
            if opt.startswith("keylog="):
                keys += ["--keylog", os.path.join(ext, opt[len("keylog="):])]
            elif opt.startswith("rsakey="):
                keys += ["--rsa-key", os.path.join(ext, opt[len("rsakey="):])]
        out.append(("pcaps-ext/" + fname, path, keys))
    return out


# ---------------------------------------------------------------- damage

def variants(name, path, editcap, raw=False):
    """The damaged copies to make of one capture:
    (label, how to make it: ("editcap", seed, fmt) | ("flip", seed, start)
    | ("truncate", offset), the shell command that makes it)."""
    with open(path, "rb") as fh:
        data = fh.read()
    fmt = capture_format(path)
    hdr = header_end(data, fmt)
    out = []
    for seed in SEEDS:
        if editcap:
            cmd = "editcap -F %s -E %s --seed %d '%s' DAMAGED" % (
                fmt, ERROR_PROBABILITY, seed, path)
            out.append(("editcap-%d" % seed, ("editcap", seed, fmt), cmd))
        if raw or not editcap:
            cmd = ("python3: random.Random('%d:%s') changes each byte after offset %d "
                   "with probability %s" % (seed, name, hdr, ERROR_PROBABILITY))
            out.append(("flip-%d" % seed, ("flip", seed, hdr), cmd))
    for seed in SEEDS:
        rng = random.Random("%d:%s" % (seed, name))
        if seed == SEEDS[0] or hdr >= len(data) - 1:
            offset = rng.randrange(1, max(2, hdr))      # inside the file header
        else:
            offset = rng.randrange(hdr, len(data))      # after it, before the end
        cmd = "head -c %d '%s' > DAMAGED" % (offset, path)
        out.append(("trunc-%d@%d" % (seed, offset), ("truncate", offset), cmd))
    return out


def make_damaged(name, path, how, dest):
    if how[0] == "editcap":
        _, seed, fmt = how
        p = subprocess.run(["editcap", "-F", fmt, "-E", str(ERROR_PROBABILITY),
                            "--seed", str(seed), path, dest],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
        if p.returncode != 0 or not os.path.exists(dest):
            return "editcap failed (%d): %s" % (
                p.returncode, p.stderr.decode("utf-8", "replace").strip())
        return None
    with open(path, "rb") as fh:
        data = bytearray(fh.read())
    if how[0] == "flip":
        _, seed, start = how
        rng = random.Random("%d:%s" % (seed, name))
        for i in range(start, len(data)):
            if rng.random() < ERROR_PROBABILITY:
                data[i] = rng.randrange(256)
    else:
        del data[how[1]:]
    with open(dest, "wb") as fh:
        fh.write(data)
    return None


# ---------------------------------------------------------------- one run

def sanitizer_excerpt(stderr):
    """The report's first line and its top stack frames."""
    lines = stderr.splitlines()
    for i, line in enumerate(lines):
        if any(m in line for m in SANITIZER_MARKS):
            frames = [l.strip() for l in lines[i + 1:] if l.strip().startswith("#")][:8]
            return "\n".join(["    " + line.strip()] + ["      " + f for f in frames])
    return "    " + "\n    ".join(lines[-12:])


def check_json(out):
    if not os.path.exists(out):
        return None
    with open(out, "rb") as fh:
        for n, raw in enumerate(fh, 1):
            if not raw.strip():
                continue
            try:
                json.loads(raw.decode("utf-8"))
            except (ValueError, UnicodeDecodeError) as e:
                return "line %d of the JSON output is not JSON: %s" % (n, e)
    return None


def run_one(exe, tmp, index, name, path, keys, label, how, make_cmd):
    """-> (name, label, problem or None, stderr, damaged file, seconds, exit status)."""
    stem = "%04d-%s" % (index, label.replace("@", "-"))
    ext = ".pcapng" if how[0] == "editcap" or path.endswith(".pcapng") else ".pcap"
    damaged = os.path.join(tmp, stem + ext)
    out = os.path.join(tmp, stem + ".json")
    err = make_damaged(name, path, how, damaged)
    if err:
        return name, label, "could not make the damaged copy: " + err, "", damaged, 0.0, "none"
    argv = enrollmon_cmd.command(["-q", "--color=never", "-r", damaged, "--json", out] + keys, exe)
    limit = enrollmon_cmd.timeout(RUN_TIMEOUT)
    t0 = time.monotonic()
    try:
        p = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                           timeout=limit)
    except subprocess.TimeoutExpired as e:
        stderr = (e.stderr or b"").decode("utf-8", "replace")
        return (name, label, "no end within %d s" % limit, stderr, damaged, limit,
                "timeout")
    secs = time.monotonic() - t0
    stderr = p.stderr.decode("utf-8", "replace")
    problem = None
    if any(m in stderr for m in SANITIZER_MARKS):
        problem = "sanitizer report (exit %d)" % p.returncode
    elif p.returncode < 0:
        try:
            sig = signal.Signals(-p.returncode).name
        except ValueError:
            sig = str(-p.returncode)
        problem = "killed by %s" % sig
    elif p.returncode not in OK_STATUSES:
        problem = "exit status %d" % p.returncode
    else:
        problem = check_json(out)
    if os.path.exists(out):
        os.unlink(out)
    if problem is None:
        os.unlink(damaged)
    return name, label, problem, stderr, damaged, secs, str(p.returncode)


# ---------------------------------------------------------------- main

def main():
    global SEEDS
    keep, raw = None, False
    args = sys.argv[1:]
    while args:
        if args[0] == "--keep" and len(args) >= 2:
            keep = args[1]
            os.makedirs(keep, exist_ok=True)
        elif args[0] == "--raw":
            raw = True
            args = args[1:]
            continue
        elif args[0] == "--seeds" and len(args) >= 2 and args[1].isdigit() and int(args[1]) > 0:
            SEEDS = tuple(range(1, int(args[1]) + 1))
        else:
            die("usage: malformed_captures_test.py [--seeds N] [--raw] [--keep DIR]")
        args = args[2:]
    exe = os.environ.get("ENROLLMON")
    root = os.environ.get("ENROLLMON_SOURCE_ROOT")
    if not exe or not root:
        die("ENROLLMON and ENROLLMON_SOURCE_ROOT must be set (meson test sets them)")
    # Standalone runs get what tests/meson.build's test_env gives.
    os.environ.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=1:halt_on_error=1")
    os.environ.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")

    editcap = shutil.which("editcap")
    if not editcap:
        print("editcap not found: the byte damage is made here instead "
              "(random.Random, %s of the bytes after the file header)" % ERROR_PROBABILITY)
    captures = project_captures(root)
    ext = os.path.normpath(os.path.join(root, "..", "shared", "pcaps-ext"))
    if os.path.isdir(ext):
        ext_list = ext_captures(ext)
        print("%d captures in pcaps/, %d in %s" % (len(captures), len(ext_list), ext))
        captures += ext_list
    else:
        print("%d captures in pcaps/; %s is absent: external captures not tested"
              % (len(captures), ext))

    jobs = []
    for name, path, keys in captures:
        for label, how, make_cmd in variants(name, path, editcap, raw):
            jobs.append((name, path, keys, label, how, make_cmd))

    analysed, failures, slowest = 0, [], (0.0, "")
    statuses = {}
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="enrollmon-malformed-") as tmp:
        with concurrent.futures.ThreadPoolExecutor(max_workers=WORKERS) as pool:
            futures = {pool.submit(run_one, exe, tmp, i, name, path, keys, label, how, cmd):
                       (name, path, keys, label, cmd)
                       for i, (name, path, keys, label, how, cmd) in enumerate(jobs)}
            for fut in concurrent.futures.as_completed(futures):
                name, path, keys, label, make_cmd = futures[fut]
                _, _, problem, stderr, damaged, secs, status = fut.result()
                statuses[status] = statuses.get(status, 0) + 1
                if not problem or not problem.startswith("could not make"):
                    analysed += 1
                if secs > slowest[0]:
                    slowest = (secs, "%s %s" % (name, label))
                if problem:
                    kept = damaged
                    if keep and os.path.exists(damaged):
                        kept = os.path.join(keep, name.replace("/", "--") + "." + label.replace("@", "-")
                                            + os.path.splitext(damaged)[1])
                        shutil.copyfile(damaged, kept)
                    failures.append((name, label, problem, stderr, make_cmd, keys, kept))
    elapsed = time.monotonic() - t0

    for name, label, problem, stderr, make_cmd, keys, kept in sorted(failures):
        print("FAIL %s %s: %s" % (name, label, problem))
        print("  damaged by: %s" % make_cmd)
        print("  run:        %s -q --color=never -r DAMAGED --json OUT %s"
              % (exe, " ".join(keys)))
        if kept and os.path.exists(kept):
            print("  kept as:    %s" % kept)
        print(sanitizer_excerpt(stderr))
    print("%d captures x %d damaged copies in %.0f s (slowest run %.1f s: %s)"
          % (len(captures), len(jobs) // max(1, len(captures)), elapsed, slowest[0], slowest[1]))
    print("exit statuses: " + ", ".join("%s: %d" % kv for kv in sorted(statuses.items())))
    print("damaged captures analysed: %d, crashes or sanitizer reports: %d"
          % (analysed, len(failures)))
    if failures or analysed == 0:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
