#!/usr/bin/env python3
"""enrollmon against the tshark ground truth of the external captures.

The captures live in ../shared/pcaps-ext/ (relative to the source root),
their truth in ../shared/pcaps-ext/truth/ (see truth/HOWTO.md there).  For
every capture that MANIFEST.tsv lists, enrollmon is run with no hint at all
(no port to decode as TLS), given only the key log or RSA key that the
truth itself was made with:

    $ENROLLMON -q -r CAPTURE --json TMPFILE [--keylog KEYS | --rsa-key KEY]

and, per TCP connection and per direction (sender endpoint), the ordered
Certificate messages (subject CN and issuer CN of each certificate) and
the ordered alerts are compared with the truth.

Details of the matching:
- connections are paired by their unordered endpoints (ip:port, ip:port);
  when a pair occurs more than once (port reuse), in order of appearance
  (tcp.stream order in the truth, flow_id order in enrollmon);
- enrollmon's last `tls` event per flow_id is used (later ones are
  cumulative); its "from" is relative to the TLS client, which is the
  sender of the ClientHello in the truth (else the receiver of the
  ServerHello, else enrollmon's flow client);
- a truth connection that enrollmon does not report as TLS at all is a
  disagreement too (tshark was sometimes told the port with decode-as;
  enrollmon gets no hint);
- a Certificate message whose truth CN lists are both '' is ambiguous in
  the TSV (no certificate, or one certificate without any CN): it is read
  as an empty message when enrollmon reports 0 certificates there (or no
  message), as one certificate without CN otherwise;
- '?' (tshark could not parse the certificate) matches enrollmon's
  "parsed": false;
- truth rows without tcp.stream (QUIC, DTLS) are out of scope and counted
  as such in the output.

The last line is `certificates: N/M, alerts: N/M`: M counts the
certificates and alerts of the truth, N those enrollmon reproduced exactly
at the same position.  What enrollmon reports and the truth lacks counts as
a disagreement as well.  Every disagreement gets a line before the count.
The exit status is 0 only when every disagreement is listed, with its
reason, in truth-disagreements.tsv beside this script and every row of that
file still occurs; 77 (skip) when ../shared/pcaps-ext is absent.

Python standard library only.
"""

import csv
import ipaddress
import json
import os
import subprocess
import sys
import tempfile

SKIP = 77
HERE = os.path.dirname(os.path.abspath(__file__))
DISAGREEMENTS = os.path.join(HERE, "truth-disagreements.tsv")
EXT_REL = os.path.join("..", "shared", "pcaps-ext")

PCAP_MAGICS = (b"\xa1\xb2\xc3\xd4", b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\x3c\x4d",
               b"\x4d\x3c\xb2\xa1", b"\x0a\x0d\x0d\x0a")

LEVELS = {"warning": 1, "fatal": 2}


def fail(msg):
    print("truth-tshark: error: " + msg)
    sys.exit(1)


# ---------------------------------------------------------------- endpoints

def norm_ip(text):
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return text


def endpoint(ip, port):
    return (norm_ip(ip), int(port))


def ep_text(ep):
    ip, port = ep
    return ("[%s]:%d" if ":" in ip else "%s:%d") % (ip, port)


def conn_text(client, server):
    return "%s - %s" % (ep_text(client), ep_text(server))


# ---------------------------------------------------------------- truth

def is_capture(path):
    try:
        with open(path, "rb") as fh:
            return fh.read(4) in PCAP_MAGICS
    except OSError:
        return False


def read_manifest(ext):
    path = os.path.join(ext, "MANIFEST.tsv")
    if not os.path.isfile(path):
        fail("%s is missing" % os.path.join(EXT_REL, "MANIFEST.tsv"))
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE))


def split_list(text):
    """A '|'-separated CN list of the truth; '' is ambiguous (see below)."""
    return text.split("|")


def truth_cn(value):
    """Truth CN entry -> comparable value: None = no CN, '?' = unparsable."""
    if value == "":
        return None
    return value


class TruthConn:
    def __init__(self, stream, first_frame):
        self.stream = stream
        self.first_frame = first_frame
        self.client = None          # sender of the ClientHello, when seen
        self.server_hello_to = None  # receiver of the ServerHello, when seen
        self.pair = None
        self.certs = []             # (sender, frame, subjects, issuers, ambiguous_empty)
        self.alerts = []            # (sender, frame, (level, desc) or 'enc')


def read_truth(path):
    """Truth TLS rows grouped per tcp.stream; also the non-TCP row count."""
    conns = {}
    order = []
    non_tcp = 0
    with open(path, newline="") as fh:
        for row in csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE):
            if not row["tcp_stream"]:
                non_tcp += 1
                continue
            frame = int(row["frame"])
            src = endpoint(row["src"], row["srcport"])
            dst = endpoint(row["dst"], row["dstport"])
            c = conns.get(row["tcp_stream"])
            if c is None:
                c = conns[row["tcp_stream"]] = TruthConn(row["tcp_stream"], frame)
                c.pair = frozenset((src, dst))
                order.append(c)
            types = [t for t in row["handshake_types"].split(",") if t]
            if "1" in types and c.client is None:
                c.client = src
            if "2" in types and c.server_hello_to is None:
                c.server_hello_to = dst
            n_cert_msgs = types.count("11")
            if n_cert_msgs > 1:
                fail("%s frame %d: %d Certificate messages in one frame; the truth "
                     "joins their certificates and cannot be split" % (path, frame, n_cert_msgs))
            if n_cert_msgs == 1:
                subs = split_list(row["cert_subject_cn"])
                isss = split_list(row["cert_issuer_cn"])
                if len(subs) != len(isss):
                    fail("%s frame %d: subject and issuer lists differ in length" % (path, frame))
                # '' is both "no certificate" and "one certificate without CN".
                ambiguous = row["cert_subject_cn"] == "" and row["cert_issuer_cn"] == ""
                c.certs.append((src, frame, [truth_cn(s) for s in subs],
                                [truth_cn(i) for i in isss], ambiguous))
            levels = [x for x in row["alert_level"].split(",") if x != ""]
            descs = [x for x in row["alert_desc"].split(",") if x != ""]
            if len(levels) != len(descs):
                fail("%s frame %d: alert level and description lists differ" % (path, frame))
            for lev, desc in zip(levels, descs):
                if lev == "enc" or desc == "enc":
                    c.alerts.append((src, frame, "enc"))
                else:
                    lv = int(lev)
                    c.alerts.append((src, frame, (lv if lv in (1, 2) else None, int(desc))))
    return order, non_tcp


# ---------------------------------------------------------------- enrollmon

class MonConn:
    def __init__(self, ev):
        self.flow_id = ev["flow_id"]
        self.src = endpoint(ev["src_ip"], ev["src_port"])
        self.dst = endpoint(ev["dest_ip"], ev["dest_port"])
        self.pair = frozenset((self.src, self.dst))
        self.tls = ev["tls"]


def run_enrollmon(exe, capture, tmpdir, key_args=()):
    out = os.path.join(tmpdir, os.path.basename(capture) + ".json")
    p = subprocess.run([exe, "-q", "-r", capture, "--json", out, *key_args],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if p.returncode != 0:
        return None, "enrollmon exited with %d: %s" % (
            p.returncode, p.stderr.decode("utf-8", "replace").strip()[-2000:])
    last = {}
    with open(out, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                ev = json.loads(line)
            except ValueError as e:
                return None, "line %d of the JSON output does not parse: %s" % (n, e)
            if ev.get("event_type") == "tls":
                last[ev["flow_id"]] = ev     # later events are cumulative
    os.unlink(out)
    return [MonConn(last[k]) for k in sorted(last)], None


# ---------------------------------------------------------------- compare

class Result:
    def __init__(self):
        self.cert_n = self.cert_m = 0
        self.alert_n = self.alert_m = 0
        self.cert_extra = self.alert_extra = 0   # reported by enrollmon, not in the truth
        self.found = {}            # (capture, conn, what) -> detail

    def disagree(self, capture, conn, what, detail):
        key = (capture, conn, what)
        if key in self.found:
            self.found[key] += "; " + detail
        else:
            self.found[key] = detail


def cn_show(v):
    return "(no CN)" if v is None else repr(v)


def mon_cert_list(msg):
    """enrollmon's certificates of one message as (subject, issuer) with '?' for unparsed."""
    out = []
    subs, isss, parsed = msg["subject_cns"], msg["issuer_cns"], msg["parsed"]
    for k in range(len(subs)):
        if not parsed[k]:
            out.append(("?", "?"))
        else:
            out.append((subs[k], isss[k]))
    # certificates counted but not kept (limit) are unknown to us
    for _ in range(msg["count"] - len(subs)):
        out.append(("(not kept)", "(not kept)"))
    return out


def compare_conn(res, capture, t, m):
    """t: TruthConn or None; m: MonConn or None."""
    if t is not None and t.client is not None:
        client = t.client
    elif t is not None and t.server_hello_to is not None:
        client = t.server_hello_to
    elif m is not None:
        client = m.src
    else:
        client = min(t.pair)
    others = [e for e in (t.pair if t is not None else m.pair) if e != client]
    server = others[0] if others else client
    conn = conn_text(client, server)

    def side(sender):
        return "client" if sender == client and sender != server else "server"

    # enrollmon's "from" is relative to the TLS client (the ClientHello sender)
    def mon_sender(frm):
        return client if frm == "client" else server

    if m is None and t is not None:
        res.disagree(capture, conn, "TLS connection, frame %d" % t.first_frame,
                     "enrollmon reports no TLS on this connection (tcp.stream %s of the truth)"
                     % t.stream)

    # ---- certificates, per direction
    t_msgs = {}
    for sender, frame, subs, isss, amb in (t.certs if t else []):
        t_msgs.setdefault(sender, []).append((frame, subs, isss, amb))
    m_msgs = {}
    for msg in (m.tls.get("certificate_messages") or [] if m else []):
        m_msgs.setdefault(mon_sender(msg["from"]), []).append(msg)
    for sender in sorted(set(t_msgs) | set(m_msgs)):
        tl, ml = t_msgs.get(sender, []), m_msgs.get(sender, [])
        for i in range(max(len(tl), len(ml))):
            tm = tl[i] if i < len(tl) else None
            mm = ml[i] if i < len(ml) else None
            mcerts = mon_cert_list(mm) if mm is not None else None
            if tm is not None:
                frame, subs, isss, amb = tm
                tcerts = list(zip(subs, isss))
                if amb and (mcerts is None or len(mcerts) == 0):
                    tcerts = []     # an empty Certificate message
            else:
                frame = mm["pcap_cnt"]
                tcerts = []
            what = "certificate message from %s, frame %d" % (side(sender), frame)
            if tm is None:
                res.cert_extra += len(mcerts)
                res.disagree(capture, conn, what,
                             "enrollmon reports a Certificate message (%d certificates: %s) "
                             "that the truth lacks" % (len(mcerts), ", ".join(
                                 "%s <- %s" % (cn_show(s), cn_show(i)) for s, i in mcerts)))
            elif mm is None:
                res.disagree(capture, conn, what,
                             "enrollmon lacks this Certificate message (%d certificates: %s)" % (
                                 len(tcerts), ", ".join("%s <- %s" % (cn_show(s), cn_show(i))
                                                        for s, i in tcerts)))
            res.cert_m += len(tcerts)
            if mcerts is None:
                continue
            for k in range(max(len(tcerts), len(mcerts))):
                tc = tcerts[k] if k < len(tcerts) else None
                mc = mcerts[k] if k < len(mcerts) else None
                if tc is not None and mc is not None and tc == mc:
                    res.cert_n += 1
                    continue
                if tm is None:
                    continue        # already described as a whole
                if tc is None:
                    res.cert_extra += 1
                    res.disagree(capture, conn, what,
                                 "certificate %d: enrollmon reports %s <- %s, the truth has no "
                                 "such certificate" % (k, cn_show(mc[0]), cn_show(mc[1])))
                elif mc is None:
                    res.disagree(capture, conn, what,
                                 "certificate %d: enrollmon lacks %s <- %s" % (
                                     k, cn_show(tc[0]), cn_show(tc[1])))
                else:
                    res.disagree(capture, conn, what,
                                 "certificate %d: truth %s <- %s, enrollmon %s <- %s" % (
                                     k, cn_show(tc[0]), cn_show(tc[1]),
                                     cn_show(mc[0]), cn_show(mc[1])))

    # ---- alerts, per direction
    t_al = {}
    for sender, frame, val in (t.alerts if t else []):
        t_al.setdefault(sender, []).append((frame, val))
    m_al = {}
    for al in (m.tls.get("alerts") or [] if m else []):
        if al.get("encrypted"):
            val = "enc"
        else:
            val = (LEVELS.get(al.get("level")), al.get("code"))
        m_al.setdefault(mon_sender(al["from"]), []).append((al["pcap_cnt"], val))

    def al_show(v):
        if v == "enc":
            return "encrypted alert"
        return "level %s description %s" % (v[0] if v[0] is not None else "?", v[1])

    for sender in sorted(set(t_al) | set(m_al)):
        tl, ml = t_al.get(sender, []), m_al.get(sender, [])
        for i in range(max(len(tl), len(ml))):
            ta = tl[i] if i < len(tl) else None
            ma = ml[i] if i < len(ml) else None
            frame = ta[0] if ta is not None else ma[0]
            what = "alert from %s, frame %d" % (side(sender), frame)
            if ta is not None:
                res.alert_m += 1
            if ta is not None and ma is not None and ta[1] == ma[1]:
                res.alert_n += 1
            elif ta is None:
                res.alert_extra += 1
                res.disagree(capture, conn, what, "enrollmon reports %s (frame %d) that the "
                             "truth lacks" % (al_show(ma[1]), ma[0]))
            elif ma is None:
                res.disagree(capture, conn, what, "enrollmon lacks %s" % al_show(ta[1]))
            else:
                res.disagree(capture, conn, what, "truth %s, enrollmon %s (frame %d)" % (
                    al_show(ta[1]), al_show(ma[1]), ma[0]))


def compare_capture(res, capture, truth_conns, mon_conns):
    """Pairs connections by their unordered endpoints, in order of appearance."""
    by_pair_t, by_pair_m, pairs = {}, {}, []
    for c in truth_conns:
        if c.pair not in by_pair_t and c.pair not in by_pair_m:
            pairs.append(c.pair)
        by_pair_t.setdefault(c.pair, []).append(c)
    for c in mon_conns:
        if c.pair not in by_pair_t and c.pair not in by_pair_m:
            pairs.append(c.pair)
        by_pair_m.setdefault(c.pair, []).append(c)
    for pair in pairs:
        tl, ml = by_pair_t.get(pair, []), by_pair_m.get(pair, [])
        for i in range(max(len(tl), len(ml))):
            compare_conn(res, capture, tl[i] if i < len(tl) else None,
                         ml[i] if i < len(ml) else None)


# ---------------------------------------------------------------- accepted list

def read_accepted():
    accepted = {}
    if not os.path.isfile(DISAGREEMENTS):
        return accepted
    with open(DISAGREEMENTS, newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE))
    if not rows or rows[0] != ["capture", "connection", "what", "reason"]:
        fail("truth-disagreements.tsv must start with the header "
             "capture<TAB>connection<TAB>what<TAB>reason")
    for n, row in enumerate(rows[1:], 2):
        if not row or not "".join(row).strip():
            continue
        if len(row) != 4 or not all(x.strip() for x in row):
            fail("truth-disagreements.tsv line %d: want 4 non-empty columns" % n)
        key = tuple(x.strip() for x in row[:3])
        if key in accepted:
            fail("truth-disagreements.tsv line %d: listed twice" % n)
        accepted[key] = row[3].strip()
    return accepted


# ---------------------------------------------------------------- main

def main():
    root = os.environ.get("ENROLLMON_SOURCE_ROOT")
    exe = os.environ.get("ENROLLMON")
    if not root or not exe:
        fail("ENROLLMON_SOURCE_ROOT and ENROLLMON must be set (meson test sets them)")
    ext = os.path.normpath(os.path.join(root, EXT_REL))
    if not os.path.isdir(ext):
        print("SKIP: %s is not there (relative to the source root): no external captures "
              "to compare with the tshark ground truth" % EXT_REL)
        sys.exit(SKIP)
    truth_dir = os.path.join(ext, "truth")
    if not os.path.isdir(truth_dir):
        fail("%s has no truth/ folder" % EXT_REL)

    res = Result()
    compared = []
    with tempfile.TemporaryDirectory(prefix="enrollmon-truth-") as tmp:
        for entry in read_manifest(ext):
            name = entry["file"]
            path = os.path.join(ext, name)
            if not is_capture(path):
                continue
            opts = entry.get("truth_options") or ""
            # Truth made with keys is compared with enrollmon given the same keys.
            key_args = []
            for opt in opts.split(","):
                if opt.startswith("keylog="):
                    key_args += ["--keylog", os.path.join(ext, opt[len("keylog="):])]
                elif opt.startswith("rsakey="):
                    key_args += ["--rsa-key", os.path.join(ext, opt[len("rsakey="):])]
            tpath = os.path.join(truth_dir, name + ".tls.tsv")
            if not os.path.isfile(tpath):
                fail("%s: no truth file %s" % (name, os.path.join(EXT_REL, "truth",
                                                                   name + ".tls.tsv")))
            truth_conns, non_tcp = read_truth(tpath)
            if non_tcp:
                print("%s: %d TLS row(s) of the truth not on TCP (e.g. QUIC/DTLS): out of scope"
                      % (name, non_tcp))
            mon_conns, err = run_enrollmon(exe, path, tmp, key_args)
            if err:
                res.disagree(name, "-", "enrollmon run", err)
                continue
            compare_capture(res, name, truth_conns, mon_conns)
            compared.append(name)

    accepted = read_accepted()
    unlisted = 0
    for key in sorted(res.found):
        capture, conn, what = key
        if key in accepted:
            tag = "accepted"
        else:
            tag = "DISAGREEMENT"
            unlisted += 1
        print("%s: %s | %s | %s: %s" % (tag, capture, conn, what, res.found[key]))
    stale = [k for k in sorted(accepted) if k not in res.found]
    for capture, conn, what in stale:
        print("STALE: %s | %s | %s is listed in truth-disagreements.tsv but no longer "
              "occurs; remove the row" % (capture, conn, what))
    print("compared %d captures; reported by enrollmon but not in the truth: %d certificate(s), "
          "%d alert(s); %d disagreement(s): %d accepted in truth-disagreements.tsv, "
          "%d not accepted; %d stale row(s)" % (
              len(compared), res.cert_extra, res.alert_extra, len(res.found),
              len(res.found) - unlisted, unlisted, len(stale)))
    print("certificates: %d/%d, alerts: %d/%d" % (res.cert_n, res.cert_m,
                                                  res.alert_n, res.alert_m))
    sys.exit(1 if unlisted or stale else 0)


if __name__ == "__main__":
    main()
