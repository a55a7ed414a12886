#!/usr/bin/env python3
"""Diagnosis accuracy on the lab: every scenario's expected verdicts, with
the right device, and no error verdict the scenario did not expect.

Each capture in pcaps/ has a .expect file whose `verdict ID DEVICE` lines
name what it acts out (the device is the phone's name, else the client's
address).  enrollmon is run on it with the capture's key log (and the
server key kept beside it, if any) and its `verdict` events are compared:

  found       an expected (id, device) among the verdicts;
  unexpected  an error verdict whose (id, device) the scenario does not list.

Updates (repeats of a verdict) are not separate verdicts.  Every verdict
must also carry evidence frames, a summary and advice.  Prints
`expected verdicts found: N/M, unexpected error verdicts: K` and fails
unless N = M and K = 0.
"""
import glob
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.environ.get("ENROLLMON_SOURCE_ROOT", os.path.join(os.path.dirname(__file__), "..", "..", ".."))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import enrollmon_cmd  # noqa: E402
PCAPS = os.path.join(ROOT, "pcaps")


def expected_of(path):
    wanted = []
    with open(path) as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if parts and parts[0] == "verdict":
                wanted.append((parts[1], parts[2]))
    return wanted


def verdicts_of(capture, tmp):
    base = capture[: -len(".pcapng")]
    out = os.path.join(tmp, os.path.basename(base) + ".json")
    args = ["-q", "-r", capture, "--json", out, "--color=never"]
    if os.path.exists(base + ".keys"):
        args += ["--keylog", base + ".keys"]
    if os.path.exists(base + ".server-key.pem"):
        args += ["--rsa-key", base + ".server-key.pem"]
    p = subprocess.run(enrollmon_cmd.command(args), capture_output=True, text=True,
                       timeout=enrollmon_cmd.timeout(600))
    if p.returncode != 0:
        raise RuntimeError(f"enrollmon exited {p.returncode} on {capture}: {p.stderr.strip()}")
    with open(out) as f:
        events = [json.loads(line) for line in f if line.strip()]
    return [e for e in events if e["event_type"] == "verdict"]


def main():
    expects = sorted(glob.glob(os.path.join(PCAPS, "*.expect")))
    if not expects:
        print(f"error: no .expect files in {PCAPS}")
        return 1
    found = total = unexpected = malformed = 0
    with tempfile.TemporaryDirectory() as tmp:
        for exp in expects:
            capture = exp[: -len(".expect")] + ".pcapng"
            name = os.path.basename(capture)
            wanted = expected_of(exp)
            events = verdicts_of(capture, tmp)
            given = [e["verdict"] for e in events if not e["verdict"].get("update")]
            pairs = {(v["id"], v["device"]) for v in given}
            for v in given:
                if not v["evidence"] or not v["summary"] or not v["advice"]:
                    malformed += 1
                    print(f"FAIL {name}: {v['id']} {v['device']} lacks evidence, summary or advice")
            for w in wanted:
                total += 1
                if w in pairs:
                    found += 1
                    print(f"ok   {name}: {w[0]} {w[1]}")
                else:
                    near = sorted(f"{i} {d}" for i, d in pairs if i == w[0])
                    print(f"MISS {name}: {w[0]} {w[1]}" + (f" (given for: {', '.join(near)})" if near else ""))
            for v in given:
                if v["severity"] == "error" and (v["id"], v["device"]) not in set(wanted):
                    unexpected += 1
                    print(f"EXTRA {name}: {v['id']} {v['device']}: {v['summary']}")
    print(f"expected verdicts found: {found}/{total}, unexpected error verdicts: {unexpected}")
    return 0 if found == total and unexpected == 0 and malformed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
