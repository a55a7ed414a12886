#!/usr/bin/env python3
"""Secrets and private keys never appear in any output: not in the events,
the report, the error lines, nor the decrypted-data dump's names.

enrollmon runs on the lab's key-logged captures with their key logs and on
the RSA capture with its server key; every secret of those key logs (hex,
either case) and every base64 line of the private key is then searched for
in all it wrote.  Bad key files must be one error line that names the file
and the line, without the offending content.
"""
import glob
import os
import subprocess
import sys
import tempfile

ROOT = os.environ.get("ENROLLMON_SOURCE_ROOT", os.path.join(os.path.dirname(__file__), "..", "..", ".."))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import enrollmon_cmd  # noqa: E402
failures = []


def check(name, ok, detail=""):
    print(("PASS " if ok else "FAIL ") + name + ("" if ok else ": " + detail))
    if not ok:
        failures.append(name)


def secrets_of(keylog):
    out = set()
    with open(keylog) as f:
        for line in f:
            parts = line.split()
            if len(parts) == 3 and not line.startswith("#"):
                out.add(parts[2].lower())
    return out


def main():
    with tempfile.TemporaryDirectory() as tmp:
        keylogs = [k for k in sorted(glob.glob(os.path.join(ROOT, "pcaps", "*.keys"))) if secrets_of(k)]
        args = ["--json", os.path.join(tmp, "events.json"), "--dump-plaintext", os.path.join(tmp, "dump")]
        for k in keylogs:
            args += ["-r", k[:-5] + ".pcapng", "--keylog", k]
        rsa = os.path.join(ROOT, "pcaps", "capf-enroll-ok-rsa-cbc.server-key.pem")
        args += ["--rsa-key", rsa]
        p = subprocess.run(enrollmon_cmd.command(args), capture_output=True, text=True,
                           timeout=enrollmon_cmd.timeout(300))
        check("run with every key log and an RSA key", p.returncode == 0, p.stderr[-500:])
        with open(os.path.join(tmp, "events.json")) as f:
            written = (f.read() + p.stdout + p.stderr + " ".join(os.listdir(os.path.join(tmp, "dump")))).lower()
        secrets = set().union(*(secrets_of(k) for k in keylogs))
        leaked = [s[:8] + "..." for s in secrets if s in written]
        check(f"none of {len(secrets)} key-log secrets in the output", not leaked, f"found {leaked}")
        with open(rsa) as f:
            key_lines = [l.strip().lower() for l in f if l.strip() and not l.startswith("-----")]
        leaked = [l[:8] + "..." for l in key_lines if l in written]
        check(f"none of the private key's {len(key_lines)} lines in the output", not leaked, f"found {leaked}")

        secret = "ab" * 48
        bad = os.path.join(tmp, "bad.keys")
        with open(bad, "w") as f:
            f.write("# a comment\nCLIENT_RANDOM " + "11" * 32 + " " + "22" * 48 + "\n")
            f.write("CLIENT_RANDOM " + "33" * 31 + " " + secret + "\n")
        p = subprocess.run(enrollmon_cmd.command(["-r", keylogs[0][:-5] + ".pcapng", "--keylog", bad]),
                           capture_output=True, text=True, timeout=enrollmon_cmd.timeout(60))
        lines = [l for l in p.stderr.splitlines() if l.strip()]
        check("a malformed key log: one line with file and line number, exit 2",
              p.returncode == 2 and len(lines) == 1 and "bad.keys" in lines[0] and "line 3" in lines[0],
              f"rc={p.returncode} {lines}")
        check("... and without the line's secret", secret not in p.stderr.lower() and "33" * 31 not in p.stderr,
              p.stderr)
        fake = os.path.join(tmp, "fake.pem")
        with open(fake, "w") as f:
            f.write("-----BEGIN PRIVATE KEY-----\nTUlJRXZRSUJBREFOQmdrcWhraUc5dzBCQVFFRkFBU0NCS2N3Z2dTakFnRUFBb0lCQVFD\n"
                    "-----END PRIVATE KEY-----\n")
        p = subprocess.run(enrollmon_cmd.command(["-r", keylogs[0][:-5] + ".pcapng", "--rsa-key", fake]),
                           capture_output=True, text=True, timeout=enrollmon_cmd.timeout(60))
        lines = [l for l in p.stderr.splitlines() if l.strip()]
        check("a broken RSA key: one line naming the file, exit 2, no key material",
              p.returncode == 2 and len(lines) == 1 and "fake.pem" in lines[0] and "TUlJ" not in p.stderr,
              f"rc={p.returncode} {lines}")
        p = subprocess.run(enrollmon_cmd.command(["-r", keylogs[0][:-5] + ".pcapng", "--keylog",
                                                   os.path.join(tmp, "nope")]),
                           capture_output=True, text=True, timeout=enrollmon_cmd.timeout(60))
        lines = [l for l in p.stderr.splitlines() if l.strip()]
        check("a missing key log: one line, exit 2", p.returncode == 2 and len(lines) == 1 and "nope" in lines[0],
              f"rc={p.returncode} {lines}")
    print(f"{len(failures)} case(s) failed" if failures else "all cases passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
