#!/usr/bin/env python3
"""enrollmon's HTTP exchanges against the tshark ground truth.

For every capture that ../shared/pcaps-ext/MANIFEST.tsv lists (relative to
the source root), enrollmon is run with only the key log or RSA key that
the truth itself was made with (truth_options keylog= / rsakey=, paths
relative to pcaps-ext):

    $ENROLLMON -q -r CAPTURE --json TMPFILE [--keylog KEYS | --rsa-key KEY]

and, per TCP connection, the ordered HTTP requests (method, request URI,
Host) and the ordered responses (status code) are compared with
truth/<capture>.http.tsv (see truth/HOWTO.md there).

Details of the matching:
- the truth's rows carry a tcp.stream; truth/<capture>.tcp.tsv gives its
  client and server.  Connections are paired by their unordered endpoints;
  when a pair occurs more than once (port reuse), in order of appearance
  (tcp.stream order in the truth, flow_id order in enrollmon);
- several messages in one frame are '|'-joined in the truth: they are split
  (a Host list that does not line up with the methods leaves those hosts
  uncompared, and says so);
- enrollmon's `http` events of a flow, in the order written, give its
  requests (events with a method) and its responses: the interim statuses
  ("interim": [100, ...]) and then the final status of each event that
  has one.  A request left without a response ("no_response") is still a
  request; a response without its request ("no_request") is still a
  response;
- the truth's empty Host field stands for no Host header and for an empty
  one alike: enrollmon's null and "" both match it;
- the messages of a connection are aligned in order, first where frame
  and value agree (tshark's frame is where it completed the message,
  enrollmon's request_pcap_cnt and pcap_cnt the same), then position by
  position on the value alone in between; what is left over is named by
  the frame of its truth row (or of enrollmon's event).

The last line is `http requests: N/M, responses: N/M`: M counts the truth's
requests and responses, N those enrollmon reproduced exactly at the same
position.  What enrollmon reports beyond the truth is a disagreement too.
Every disagreement gets a line before the count.  The exit status is 0 only
when every disagreement is listed, with its reason, in
http-disagreements.tsv beside this script (columns capture, connection,
what, reason; a row only once it is established from the bytes that tshark
is wrong or that the difference is one of presentation) and every row of
that file still occurs; 77 (skip) when ../shared/pcaps-ext is absent.

Python standard library only.
"""

import difflib
import os
import sys
import tempfile

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
# meson runs this file by its path; the helpers it shares with the other
# truth tests sit beside it.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from truth_common import (EXT_REL, Disagreements, TruthTest, conn_text,  # noqa: E402
                          endpoint, enrollmon_events, paired, read_tsv)

TEST = TruthTest("truth-tshark-http", "http-disagreements.tsv", "connection")
fail = TEST.fail


# ---------------------------------------------------------------- endpoints

def parse_endpoint(text):
    """'10.0.0.1:80' or '::1:9000' (the truth's form: the last colon ends the address)."""
    ip, _, port = text.rpartition(":")
    if ip.startswith("[") and ip.endswith("]"):
        ip = ip[1:-1]
    return endpoint(ip, port)


# ---------------------------------------------------------------- truth

class Conn:
    def __init__(self, client, server, order):
        self.client = client
        self.server = server
        self.pair = frozenset((client, server))
        self.order = order
        self.requests = []    # (frame or None, (method, uri, host))
        self.responses = []   # (frame or None, status)
        self.notes = []


def read_truth(http_path, tcp_path):
    streams = {}
    for row in read_tsv(tcp_path):
        streams[row["tcp_stream"]] = (parse_endpoint(row["client"]),
                                      parse_endpoint(row["server"]), int(row["first_frame"]))
    conns = {}
    for row in read_tsv(http_path):
        stream = row["tcp_stream"]
        if stream == "":
            continue
        if stream not in streams:
            fail("%s: tcp.stream %s is not in %s" % (http_path, stream, tcp_path))
        c = conns.get(stream)
        if c is None:
            client, server, first = streams[stream]
            c = conns[stream] = Conn(client, server, int(stream))
        frame = int(row["frame"])
        methods = [m for m in row["method"].split("|")] if row["method"] else []
        uris = row["request_uri"].split("|") if row["request_uri"] else []
        hosts = row["host"].split("|") if row["host"] else []
        if len(uris) != len(methods):
            fail("%s frame %d: %d methods but %d URIs" % (http_path, frame, len(methods), len(uris)))
        hosts_line_up = len(hosts) == len(methods) or (len(methods) == 1 and not hosts)
        if not hosts_line_up:
            c.notes.append("frame %d: %d hosts for %d requests: hosts not compared"
                           % (frame, len(hosts), len(methods)))
        for i, method in enumerate(methods):
            if hosts_line_up:
                host = hosts[i] if hosts else None
                host = host if host else None
            else:
                host = Ellipsis    # unknown: not compared
            c.requests.append((frame, (method, uris[i], host)))
        codes = row["response_code"].split("|") if row["response_code"] else []
        for code in codes:
            c.responses.append((frame, int(code)))
    return sorted(conns.values(), key=lambda c: c.order)


# ---------------------------------------------------------------- enrollmon

def run_enrollmon(exe, capture, tmpdir, key_args):
    events, err = enrollmon_events(exe, capture, tmpdir, key_args, "http")
    if err:
        return None, err
    flows = {}
    for ev in events:
        fid = ev["flow_id"]
        c = flows.get(fid)
        if c is None:
            c = flows[fid] = Conn(endpoint(ev["src_ip"], ev["src_port"]),
                                  endpoint(ev["dest_ip"], ev["dest_port"]), fid)
        h = ev["http"]
        if h.get("method") is not None:
            # the truth writes an empty Host and none alike
            host = h.get("host") or None
            c.requests.append((h.get("request_pcap_cnt"), (h["method"], h.get("uri"), host)))
        for code in h.get("interim") or []:
            c.responses.append((ev["pcap_cnt"], code))
        if h.get("status") is not None:
            c.responses.append((ev["pcap_cnt"], h["status"]))
    return sorted(flows.values(), key=lambda c: c.order), None


# ---------------------------------------------------------------- compare

class Result(Disagreements):
    def __init__(self):
        super().__init__()  # found: (capture, conn, what) -> detail
        self.req_n = self.req_m = 0
        self.resp_n = self.resp_m = 0
        self.req_extra = self.resp_extra = 0


def show_request(r):
    method, uri, host = r
    return "%s %s Host: %s" % (method, uri, "(unknown)" if host is Ellipsis else
                               "(none)" if host is None else host)


def same_request(t, m):
    return t[0] == m[0] and t[1] == m[1] and (t[2] is Ellipsis or t[2] == m[2])


def frame_text(frame):
    return "frame %s" % (frame if frame is not None else "?")


class Key:
    """A message for the alignment: equal when the values agree (a truth
    Host that could not be lined up matches any) and the frames are the same."""

    def __init__(self, frame, value, same):
        self.frame, self.value, self.same = frame, value, same

    def __eq__(self, other):
        return self.frame == other.frame and self.same(self.value, other.value)

    def __hash__(self):
        return hash(self.frame)


def compare_list(res, capture, conn, kind, tl, ml, same, show, both_seen):
    """Aligns the truth's and enrollmon's messages of one kind: first where
    frame and value agree; in between, position by position on the value
    alone (a message completed at another frame is no disagreement).
    Returns (matched, extra)."""
    a = [Key(f, v, same) for f, v in tl]
    b = [Key(f, v, same) for f, v in ml]
    matched = extra = 0
    sm = difflib.SequenceMatcher(None, a, b, autojunk=False)
    for op, i1, i2, j1, j2 in sm.get_opcodes():
        if op == "equal":
            matched += i2 - i1
            continue
        for k in range(max(i2 - i1, j2 - j1)):
            t = a[i1 + k] if i1 + k < i2 else None
            m = b[j1 + k] if j1 + k < j2 else None
            if t is not None and m is not None and same(t.value, m.value):
                matched += 1
                continue
            frame = t.frame if t is not None else m.frame
            what = "%s, %s" % (kind, frame_text(frame))
            if t is None:
                extra += 1
                res.disagree(capture, conn, what, "enrollmon reports %s that the truth lacks"
                             % show(m.value))
            elif m is None:
                if both_seen:
                    res.disagree(capture, conn, what, "enrollmon lacks %s" % show(t.value))
            else:
                res.disagree(capture, conn, what, "truth %s, enrollmon %s (%s)" % (
                    show(t.value), show(m.value), frame_text(m.frame)))
    return matched, extra


def compare_conn(res, capture, t, m):
    client, server = (t.client, t.server) if t is not None else (m.client, m.server)
    conn = conn_text(client, server)
    if t is not None and m is None:
        res.disagree(capture, conn, "HTTP connection, tcp.stream %d" % t.order,
                     "enrollmon reports no HTTP on this connection")
    both = t is not None and m is not None
    tr, mr = (t.requests if t else []), (m.requests if m else [])
    n, x = compare_list(res, capture, conn, "request", tr, mr, same_request, show_request, both)
    res.req_m += len(tr)
    res.req_n += n
    res.req_extra += x
    ts, ms = (t.responses if t else []), (m.responses if m else [])
    n, x = compare_list(res, capture, conn, "response", ts, ms, lambda p, q: p == q,
                        lambda v: "status %d" % v, both)
    res.resp_m += len(ts)
    res.resp_n += n
    res.resp_extra += x
    for note in (t.notes if t else []):
        print("note: %s | %s | %s" % (capture, conn, note))


def compare_capture(res, capture, truth_conns, mon_conns):
    for t, m in paired(truth_conns, mon_conns):
        compare_conn(res, capture, t, m)


# ---------------------------------------------------------------- main

def main():
    exe, ext = TEST.environment()
    truth_dir = os.path.join(ext, "truth")
    manifest = os.path.join(ext, "MANIFEST.tsv")
    if not os.path.isdir(truth_dir) or not os.path.isfile(manifest):
        fail("%s has no truth/ folder or no MANIFEST.tsv" % EXT_REL)

    res = Result()
    compared = 0
    with tempfile.TemporaryDirectory(prefix="enrollmon-http-truth-") as tmp:
        for name, path, key_args in TEST.captures(ext):
            truth_conns = read_truth(TEST.truth_file(ext, name, ".http.tsv"),
                                     TEST.truth_file(ext, name, ".tcp.tsv"))
            mon_conns, err = run_enrollmon(exe, path, tmp, key_args)
            if err:
                res.disagree(name, "-", "enrollmon run", err)
                continue
            compare_capture(res, name, truth_conns, mon_conns)
            compared += 1

    TEST.report(res.found, compared,
                "%d request(s), %d response(s)" % (res.req_extra, res.resp_extra),
                "http requests: %d/%d, responses: %d/%d" % (res.req_n, res.req_m,
                                                            res.resp_n, res.resp_m))


if __name__ == "__main__":
    main()
