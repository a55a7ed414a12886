#!/usr/bin/env python3
"""--write-pcapng: the capture written again with a comment on every frame
that is evidence for a verdict, read back with the real tshark.

For each lab capture (with its key log): enrollmon -r CAPTURE --json J
--write-pcapng OUT, then `tshark -r OUT -Y frame.comment -T fields -e
frame.number -e frame.comment`.  The commented frames must be exactly the
evidence frames of the JSON verdicts (each verdict's latest state: an
update can add frames), each comment must name the ids of the verdicts that
frame is evidence for, and OUT must hold every frame of the capture.
Prints `annotated frames agree: N/M captures` and fails below M/M.
Skips (77) when tshark is not installed.
"""
import collections
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
PCAPS = os.path.join(ROOT, "pcaps")


def tshark(*args):
    p = subprocess.run(["tshark", *args], capture_output=True, text=True, timeout=300)
    if p.returncode != 0:
        raise RuntimeError("tshark %s: %s" % (" ".join(args), p.stderr.strip()))
    return p.stdout


def main():
    if not shutil.which("tshark"):
        print("SKIP: tshark is not installed (./run.sh installs it)")
        return 77
    captures = sorted(glob.glob(os.path.join(PCAPS, "*.pcapng")))
    agree = 0
    with tempfile.TemporaryDirectory() as tmp:
        for cap in captures:
            name = os.path.basename(cap)
            keys = cap[: -len(".pcapng")] + ".keys"
            out = os.path.join(tmp, "annotated.pcapng")
            events = os.path.join(tmp, "events.json")
            args = ["-q", "-r", cap, "--json", events, "--write-pcapng", out]
            if os.path.exists(keys):
                args += ["--keylog", keys]
            p = subprocess.run(enrollmon_cmd.command(args), capture_output=True, text=True,
                               timeout=enrollmon_cmd.timeout(600))
            if p.returncode != 0:
                print("FAIL %s: enrollmon exited %d: %s" % (name, p.returncode, p.stderr.strip()))
                continue
            latest = {}
            with open(events) as f:
                for line in f:
                    ev = json.loads(line)
                    if ev["event_type"] == "verdict":
                        latest[ev["verdict"]["seq"]] = ev["verdict"]
            want = collections.defaultdict(set)
            for v in latest.values():
                for frame in v["evidence"]:
                    want[frame].add(v["id"])
            got = {}
            for row in tshark("-r", out, "-Y", "frame.comment", "-T", "fields", "-e", "frame.number",
                              "-e", "frame.comment").splitlines():
                number, _, comment = row.partition("\t")
                got[int(number)] = comment
            frames_in = int(tshark("-r", cap, "-T", "fields", "-e", "frame.number").split()[-1])
            frames_out = int(tshark("-r", out, "-T", "fields", "-e", "frame.number").split()[-1])
            problems = []
            if set(got) != set(want):
                problems.append("commented frames %s, evidence frames %s" % (sorted(got), sorted(want)))
            for frame, ids in want.items():
                missing = [i for i in ids if i not in got.get(frame, "")]
                if missing:
                    problems.append("frame %d: comment lacks %s" % (frame, ", ".join(sorted(missing))))
            if frames_in != frames_out:
                problems.append("%d frames in, %d out" % (frames_in, frames_out))
            if problems:
                print("FAIL %s: %s" % (name, "; ".join(problems)))
            else:
                agree += 1
                print("ok   %s: %d verdicts, %d frames commented" % (name, len(latest), len(got)))
    print("annotated frames agree: %d/%d captures" % (agree, len(captures)))
    return 0 if agree == len(captures) and captures else 1


if __name__ == "__main__":
    sys.exit(main())
