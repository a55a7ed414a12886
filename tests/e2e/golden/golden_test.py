#!/usr/bin/env python3
"""Golden outputs: enrollmon's JSON events on each capture in pcaps/ must
equal tests/golden/<capture>.jsonl, event for event.

The comparison is exact apart from pcap_file, which is reduced to the file's
name so the test does not depend on where the tree lives.  After a change
that is meant to alter the output, regenerate with --update and review the
diff in version control like code.
"""
import difflib
import glob
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.environ.get("ENROLLMON_SOURCE_ROOT", os.path.join(os.path.dirname(__file__), "..", "..", ".."))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import enrollmon_cmd  # noqa: E402
GOLDEN = os.path.join(ROOT, "tests", "golden")


def normalise(line):
    event = json.loads(line)
    if "pcap_file" in event:
        event["pcap_file"] = os.path.basename(event["pcap_file"])
    for msg in event.get("tls", {}).get("certificate_messages", []):
        if "pcap_file" in msg:
            msg["pcap_file"] = os.path.basename(msg["pcap_file"])
    return json.dumps(event, sort_keys=True)


def run(capture):
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "events.json")
        p = subprocess.run(enrollmon_cmd.command(["-q", "-r", capture, "--json", out]),
                           capture_output=True, text=True, timeout=enrollmon_cmd.timeout(120))
        if p.returncode != 0:
            raise RuntimeError(f"enrollmon exited {p.returncode}: {p.stderr.strip()}")
        with open(out) as f:
            return [normalise(l) for l in f if l.strip()]


def main():
    update = "--update" in sys.argv
    captures = sorted(glob.glob(os.path.join(ROOT, "pcaps", "*.pcapng")) +
                      glob.glob(os.path.join(ROOT, "pcaps", "*.pcap")))
    if not captures:
        print("no captures in pcaps/: nothing to compare")
        return 1
    failed = 0
    for capture in captures:
        name = os.path.basename(capture)
        golden = os.path.join(GOLDEN, name + ".jsonl")
        got = run(capture)
        if update:
            with open(golden, "w") as f:
                f.write("\n".join(got) + "\n")
            print(f"updated {os.path.relpath(golden, ROOT)} ({len(got)} events)")
            continue
        if not os.path.exists(golden):
            print(f"FAIL {name}: no golden file {os.path.relpath(golden, ROOT)} (run with --update)")
            failed += 1
            continue
        with open(golden) as f:
            want = [l.rstrip("\n") for l in f if l.strip()]
        if got == want:
            print(f"PASS {name} ({len(got)} events)")
            continue
        failed += 1
        print(f"FAIL {name}:")
        for line in difflib.unified_diff(want, got, "golden", "now", n=0, lineterm=""):
            print("  " + line[:400])
    golden_files = glob.glob(os.path.join(GOLDEN, "*.jsonl"))
    stale = [g for g in golden_files
             if not os.path.exists(os.path.join(ROOT, "pcaps", os.path.basename(g)[:-len(".jsonl")]))]
    for g in stale:
        print(f"FAIL stale golden file without its capture: {os.path.relpath(g, ROOT)}")
        failed += 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
