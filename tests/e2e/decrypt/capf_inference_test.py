#!/usr/bin/env python3
"""The outcome of a CAPF session inferred without keys (from the sizes and
directions of its encrypted records) must agree with what the same capture
shows when decrypted.

For every capture in pcaps/ with TLS on the CAPF port: enrollmon runs once
with the key log (the truth: the CAPF messages themselves) and once with
its keys hidden (the inference), and each session's `capf_inferred.outcome`
is compared with the outcome of its decrypted messages.  TLS 1.3 sessions
must say `not_inferable` (their first protected records are handshake, not
CAPF).  Prints `inferred CAPF outcomes agreeing with decryption: N/M`.
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
CAPF_PORT = 3804


def events(capture, keys, tmp):
    out = os.path.join(tmp, "events.json")
    args = ["-q", "-r", capture, "--json", out]
    if keys:
        args += ["--keylog", keys]
    p = subprocess.run(enrollmon_cmd.command(args), capture_output=True, text=True,
                       timeout=enrollmon_cmd.timeout(120))
    if p.returncode != 0:
        raise RuntimeError(f"enrollmon exited {p.returncode}: {p.stderr.strip()}")
    with open(out) as f:
        return [json.loads(line) for line in f if line.strip()]


def truth_outcomes(evs):
    """flow_id -> outcome of the decrypted CAPF messages."""
    msgs = {}
    for e in evs:
        if e["event_type"] == "capf":
            msgs.setdefault(e["flow_id"], []).append(e["capf"])
    out = {}
    for e in evs:
        if e["event_type"] != "tls" or e["dest_port"] != CAPF_PORT:
            continue
        fid = e["flow_id"]
        m = msgs.get(fid, [])
        ops = [x["opcode"] for x in m]
        refused = any(x["opcode"] == 0x0F and x.get("status") not in (None, 1) for x in m)
        if not m:
            outcome = "no_capf_messages"
        elif 0x09 in ops:
            outcome = "certificate_delivered" if 0x0A in ops[ops.index(0x09):] else "certificate_not_acknowledged"
        elif refused:
            outcome = "refused"
        else:
            outcome = "aborted"
        out[fid] = (outcome, e["tls"].get("version"))
    return out


def inferred_outcomes(evs):
    out = {}
    for e in evs:
        if e["event_type"] == "tls" and e["dest_port"] == CAPF_PORT and "capf_inferred" in e["tls"]:
            out[e["flow_id"]] = e["tls"]["capf_inferred"]
    return out


def main():
    total = agreed = 0
    with tempfile.TemporaryDirectory() as tmp:
        for capture in sorted(glob.glob(os.path.join(ROOT, "pcaps", "*.pcapng"))):
            keys = capture.rsplit(".", 1)[0] + ".keys"
            if not os.path.exists(keys):
                continue
            truth = truth_outcomes(events(capture, keys, tmp))
            if not truth:
                continue
            inferred = inferred_outcomes(events(capture, None, tmp))
            for fid, (outcome, version) in sorted(truth.items()):
                total += 1
                got = inferred.get(fid, {})
                want = "not_inferable" if version == "TLSv1.3" else outcome
                ok = got.get("inferred") is True and got.get("outcome") == want
                agreed += ok
                mark = "PASS" if ok else "FAIL"
                print(f"{mark} {os.path.basename(capture)} flow {fid}: decrypted {outcome} ({version}), "
                      f"inferred {got.get('outcome')}")
    print(f"inferred CAPF outcomes agreeing with decryption: {agreed}/{total}")
    return 0 if total and agreed == total else 1


if __name__ == "__main__":
    sys.exit(main())
