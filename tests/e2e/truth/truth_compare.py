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
import os
import sys
import tempfile

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
# meson runs this file by its path; the helpers it shares with the other
# truth tests sit beside it.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from truth_common import (Disagreements, TruthTest, conn_text, endpoint,  # noqa: E402
                          enrollmon_events, paired)

TEST = TruthTest("truth-tshark", "truth-disagreements.tsv", "connection")
fail = TEST.fail

LEVELS = {"warning": 1, "fatal": 2}


# ---------------------------------------------------------------- truth

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


def run_enrollmon(exe, capture, tmpdir, key_args):
    events, err = enrollmon_events(exe, capture, tmpdir, key_args, "tls")
    if err:
        return None, err
    last = {}
    for ev in events:
        last[ev["flow_id"]] = ev     # later events are cumulative
    return [MonConn(last[k]) for k in sorted(last)], None


# ---------------------------------------------------------------- compare

class Result(Disagreements):
    def __init__(self):
        super().__init__()       # found: (capture, conn, what) -> detail
        self.cert_n = self.cert_m = 0
        self.alert_n = self.alert_m = 0
        self.cert_extra = self.alert_extra = 0   # reported by enrollmon, not in the truth


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
    for t, m in paired(truth_conns, mon_conns):
        compare_conn(res, capture, t, m)


# ---------------------------------------------------------------- main

def main():
    exe, ext = TEST.environment()
    TEST.check_truth_folder(ext)

    res = Result()
    compared = []
    with tempfile.TemporaryDirectory(prefix="enrollmon-truth-") as tmp:
        for name, path, key_args in TEST.captures(ext):
            truth_conns, non_tcp = read_truth(TEST.truth_file(ext, name, ".tls.tsv"))
            if non_tcp:
                print("%s: %d TLS row(s) of the truth not on TCP (e.g. QUIC/DTLS): out of scope"
                      % (name, non_tcp))
            mon_conns, err = run_enrollmon(exe, path, tmp, key_args)
            if err:
                res.disagree(name, "-", "enrollmon run", err)
                continue
            compare_capture(res, name, truth_conns, mon_conns)
            compared.append(name)

    TEST.report(res.found, len(compared),
                "%d certificate(s), %d alert(s)" % (res.cert_extra, res.alert_extra),
                "certificates: %d/%d, alerts: %d/%d" % (res.cert_n, res.cert_m,
                                                        res.alert_n, res.alert_m))


if __name__ == "__main__":
    main()
