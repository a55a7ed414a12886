#!/usr/bin/env python3
"""The HTTP, PKI and DNS facts each lab capture was made to show.

Every capture in pcaps/ comes with its key log and a .expect file naming
the failure it acts out and the requests inside its TLS (`inner http
URI`).  enrollmon, given the keys, must report an http event for each of
those URIs, and for each failure id the facts that make it that failure:

  CA_AUTH_FAILED          /certsrv answered 401 with an authentication scheme
  CA_LOGIN_TIMEOUT        a /certsrv login step without a response
  CA_REQUEST_TIMEOUT      a certsrv step past the login without a response
  TEMPLATE_REJECTED       a certsrv submission denied, with its disposition
  CSR_CERT_KEY_MISMATCH   (certsrv) a certificate whose modulus MD5 is not the CSR's
  ENROLLMENT_OK           (certsrv) a submission issued with a ReqID, and the
                          certificate of that ReqID matching the CSR;
                          (EST) simpleenroll 200 with a certificate matching the CSR
  EST_ENROLL_FAILED       simpleenroll answered with an error status
  SCEP_NO_SHADOW_CA       GetNextCACert answered with an error status
  DNS_NXDOMAIN            a dns event answered NXDOMAIN
"""
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.environ.get("ENROLLMON_SOURCE_ROOT", os.path.join(os.path.dirname(__file__), "..", "..", ".."))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import enrollmon_cmd  # noqa: E402
PCAPS = os.path.join(ROOT, "pcaps")
failures = []
checked = 0


def check(name, ok, detail=""):
    global checked
    checked += 1
    print(("PASS " if ok else "FAIL ") + name + ("" if ok else ": " + detail))
    if not ok:
        failures.append(name)


def events_of(capture, keys, tmp):
    out = os.path.join(tmp, "events.json")
    args = ["-q", "-r", capture, "--json", out]
    if os.path.exists(keys):
        args += ["--keylog", keys]
    p = subprocess.run(enrollmon_cmd.command(args), capture_output=True, text=True,
                       timeout=enrollmon_cmd.timeout(300))
    if p.returncode != 0:
        raise RuntimeError(f"enrollmon exited {p.returncode} on {capture}: {p.stderr.strip()}")
    with open(out) as f:
        return [json.loads(line) for line in f if line.strip()]


def path_of(uri):
    return uri.split("?", 1)[0]


def pki(ev):
    return ev["http"].get("pki") or {}


def certsrv_enrollment_ok(https):
    issued = [e for e in https if pki(e).get("step") == "submission" and pki(e).get("outcome") == "issued"
              and pki(e).get("req_id") is not None]
    if not issued:
        return False, "no certsrv submission answered issued with a ReqID"
    for sub in issued:
        rid = pki(sub)["req_id"]
        for e in https:
            p = pki(e)
            if p.get("step") == "cert_retrieval" and p.get("req_id") == rid and p.get("cert_matches_csr") is True \
                    and p.get("csr_modulus_md5") == pki(sub).get("csr_modulus_md5"):
                return True, ""
    return False, "no certnew.cer of the issued ReqID whose key matches the submitted CSR"


def est_enrollment_ok(https):
    for e in https:
        p = pki(e)
        if p.get("kind") == "est" and p.get("step") in ("simpleenroll", "simplereenroll") \
                and e["http"].get("status") == 200 and p.get("cert_matches_csr") is True:
            return True, ""
    return False, "no EST simpleenroll answered 200 with a certificate matching its CSR"


def rule_checks(verdict, https, dnss, inner_uris):
    """(name, ok, detail) for the facts of one failure id, or [] when the id
    is not about HTTP or DNS."""
    def any_http(pred):
        return any(pred(e) for e in https)

    if verdict == "CA_AUTH_FAILED":
        ok = any_http(lambda e: path_of(e["http"]["uri"]) == "/certsrv" and e["http"].get("status") == 401
                      and e["http"].get("www_authenticate") in ("NTLM", "Negotiate", "Basic"))
        return [("401 with an authentication scheme", ok, "none")]
    if verdict == "CA_LOGIN_TIMEOUT":
        ok = any_http(lambda e: pki(e).get("step") == "login" and e["http"].get("no_response") is True
                      and e["http"].get("waited_ms", 0) > 0)
        return [("login step without a response", ok, "none")]
    if verdict == "CA_REQUEST_TIMEOUT":
        ok = any_http(lambda e: pki(e).get("kind") == "certsrv" and pki(e).get("step") not in (None, "login")
                      and e["http"].get("no_response") is True and e["http"].get("waited_ms", 0) > 0)
        return [("certsrv request without a response", ok, "none")]
    if verdict == "TEMPLATE_REJECTED":
        ok = any_http(lambda e: pki(e).get("step") == "submission" and pki(e).get("outcome") == "denied"
                      and pki(e).get("disposition") and pki(e).get("template"))
        return [("submission denied with disposition and template", ok, "none")]
    if verdict == "CSR_CERT_KEY_MISMATCH" and any(u.startswith("/certsrv") for u in inner_uris):
        ok = any_http(lambda e: pki(e).get("cert_matches_csr") is False and pki(e).get("csr_modulus_md5")
                      and pki(e).get("cert_modulus_md5") and pki(e)["csr_modulus_md5"] != pki(e)["cert_modulus_md5"])
        return [("certificate key differs from the CSR", ok, "none")]
    if verdict == "ENROLLMENT_OK":
        out = []
        if "/certsrv/certfnsh.asp" in inner_uris:
            ok, why = certsrv_enrollment_ok(https)
            out.append(("certsrv issued and matching", ok, why))
        if "/.well-known/est/simpleenroll" in inner_uris:
            ok, why = est_enrollment_ok(https)
            out.append(("EST issued and matching", ok, why))
        return out
    if verdict == "EST_ENROLL_FAILED":
        ok = any_http(lambda e: pki(e).get("step") in ("simpleenroll", "simplereenroll")
                      and (e["http"].get("status") or 0) >= 400)
        return [("simpleenroll refused", ok, "none")]
    if verdict == "SCEP_NO_SHADOW_CA":
        ok = any_http(lambda e: pki(e).get("kind") == "scep" and pki(e).get("step") == "getnextcacert"
                      and (e["http"].get("status") or 0) >= 400)
        return [("GetNextCACert refused", ok, "none")]
    if verdict == "DNS_NXDOMAIN":
        ok = any(d["dns"].get("answered") and d["dns"].get("rcode_name") == "NXDOMAIN" for d in dnss)
        return [("NXDOMAIN answer", ok, "none")]
    return []


def main():
    expects = sorted(f for f in os.listdir(PCAPS) if f.endswith(".expect"))
    if not expects:
        print("no .expect files in pcaps/")
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        for name in expects:
            stem = name[:-len(".expect")]
            verdicts, inner_uris = [], []
            with open(os.path.join(PCAPS, name)) as f:
                for line in f:
                    cols = line.rstrip("\n").split("\t")
                    if cols[0] == "verdict":
                        verdicts.append(cols[1])
                    elif cols[0] == "inner" and len(cols) > 2 and cols[1] == "http":
                        inner_uris.append(cols[2])
            evs = events_of(os.path.join(PCAPS, stem + ".pcapng"), os.path.join(PCAPS, stem + ".keys"), tmp)
            https = [e for e in evs if e["event_type"] == "http"]
            dnss = [e for e in evs if e["event_type"] == "dns"]
            seen_paths = {path_of(e["http"]["uri"]) for e in https if e["http"].get("uri")}
            for uri in inner_uris:
                check(f"{stem}: http event for {uri}", uri in seen_paths, f"paths seen: {sorted(seen_paths)}")
            for verdict in sorted(set(verdicts)):
                for what, ok, detail in rule_checks(verdict, https, dnss, inner_uris):
                    check(f"{stem}: {verdict}: {what}", ok, detail)
    print(f"{checked - len(failures)}/{checked} lab facts reported")
    if checked == 0:
        print("nothing was checked")
        return 1
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
