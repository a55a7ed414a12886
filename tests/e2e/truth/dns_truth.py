#!/usr/bin/env python3
"""enrollmon's `dns` events against the tshark ground truth of the external
captures.

The captures live in ../shared/pcaps-ext/ (relative to the source root),
their truth in ../shared/pcaps-ext/truth/<capture>.dns.tsv: one row per
frame that tshark decodes as unicast DNS, with the columns frame,
is_response, qry_name, qry_type, rcode (see truth/HOWTO.md there).  For
every capture that MANIFEST.tsv lists, enrollmon is run as
truth_compare.py runs it (the key log or RSA key the truth was made with,
no other hint):

    $ENROLLMON -q -r CAPTURE --json TMPFILE [--keylog KEYS | --rsa-key KEY]

and its `dns` events are turned into frames:
- a query frame for each transaction whose query was seen: its
  request_pcap_cnt, and the frames of the query's retransmissions
  (retransmit_pcap_cnt), each with the query name and type;
- a response frame for each transaction with a response: its pcap_cnt,
  with the query name and the rcode.

Every query row of the truth must have an enrollmon query at the same
frame with the same name and type, every response row an enrollmon
response at the same frame with the same name and rcode.  Names compare
without regard to ASCII case (DNS names are case-insensitive, and a
response may echo the question in another case); tshark writes the root
name as "<Root>", enrollmon as ".".  A frame with several questions is
compared on its first.  What enrollmon reports and the truth lacks is a
disagreement as well.

The last line is `dns queries: N/M, responses: N/M` (M: rows of the truth,
N: rows enrollmon reproduced).  Every disagreement gets a line before it.
The exit status is 0 only when every disagreement is listed, with its
reason, in dns-disagreements.tsv beside this script (columns capture,
frame, what, reason; `what` is "query" or "response") and every row of
that file still occurs; 77 (skip) when ../shared/pcaps-ext is absent.

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
from truth_common import Disagreements, TruthTest, enrollmon_events  # noqa: E402

TEST = TruthTest("truth-tshark-dns", "dns-disagreements.tsv", "frame", place_label="frame ",
                 whats=("query", "response"))
fail = TEST.fail


def norm_name(name):
    """A name as both sides can compare it."""
    if name is None:
        return None
    if name == "<Root>":
        return "."
    return name.lower()


def show_name(name):
    return "(no question)" if name is None else repr(name)


# ---------------------------------------------------------------- truth

def read_truth(path):
    """{frame: ('query'|'response', name or None, qtype or None, rcode or None)}."""
    rows = {}
    with open(path, newline="") as fh:
        for row in csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE):
            frame = int(row["frame"])
            names = row["qry_name"].split("|")
            types = row["qry_type"].split("|")
            name = names[0] if row["qry_name"] != "" else None
            qtype = int(types[0]) if types and types[0] != "" else None
            kind = "response" if row["is_response"] == "1" else "query"
            rcode = int(row["rcode"]) if kind == "response" and row["rcode"] != "" else None
            if frame in rows:
                fail("%s: frame %d twice" % (path, frame))
            rows[frame] = (kind, name, qtype, rcode)
    return rows


# ---------------------------------------------------------------- enrollmon

def run_enrollmon(exe, capture, tmpdir, key_args):
    """(queries, responses, error): {frame: (name, qtype)}, {frame: (name, rcode)}."""
    events, err = enrollmon_events(exe, capture, tmpdir, key_args, "dns")
    if err:
        return None, None, err
    queries, responses = {}, {}
    for ev in events:
        d = ev["dns"]
        name = d.get("query")
        qtype = d.get("qtype")
        if d.get("query_seen"):
            for frame in [d["request_pcap_cnt"]] + list(d.get("retransmit_pcap_cnt") or []):
                queries.setdefault(frame, []).append((name, qtype))
        if d.get("answered"):
            responses.setdefault(ev["pcap_cnt"], []).append((name, d.get("rcode")))
    return queries, responses, None


# ---------------------------------------------------------------- compare

class Result(Disagreements):
    def __init__(self):
        super().__init__()  # found: (capture, str(frame), what) -> detail
        self.q_n = self.q_m = 0
        self.r_n = self.r_m = 0
        self.q_extra = self.r_extra = 0


def compare_capture(res, capture, truth, queries, responses):
    for frame in sorted(truth):
        kind, name, qtype, rcode = truth[frame]
        if kind == "query":
            res.q_m += 1
            got = queries.get(frame)
            if not got:
                res.disagree(capture, frame, "query", "enrollmon reports no query at this frame "
                             "(truth: %s type %s)" % (show_name(name), qtype))
                continue
            if any(norm_name(n) == norm_name(name) and t == qtype for n, t in got):
                res.q_n += 1
            else:
                res.disagree(capture, frame, "query", "truth %s type %s, enrollmon %s" % (
                    show_name(name), qtype, ", ".join("%s type %s" % (show_name(n), t)
                                                      for n, t in got)))
        else:
            res.r_m += 1
            got = responses.get(frame)
            if not got:
                res.disagree(capture, frame, "response", "enrollmon reports no response at this "
                             "frame (truth: %s rcode %s)" % (show_name(name), rcode))
                continue
            if any(norm_name(n) == norm_name(name) and r == rcode for n, r in got):
                res.r_n += 1
            else:
                res.disagree(capture, frame, "response", "truth %s rcode %s, enrollmon %s" % (
                    show_name(name), rcode, ", ".join("%s rcode %s" % (show_name(n), r)
                                                      for n, r in got)))
    for frame in sorted(queries):
        if truth.get(frame, (None,))[0] != "query":
            res.q_extra += 1
            res.disagree(capture, frame, "query", "enrollmon reports a query (%s) that the truth "
                         "lacks" % ", ".join("%s type %s" % (show_name(n), t)
                                             for n, t in queries[frame]))
    for frame in sorted(responses):
        if truth.get(frame, (None,))[0] != "response":
            res.r_extra += 1
            res.disagree(capture, frame, "response", "enrollmon reports a response (%s) that the "
                         "truth lacks" % ", ".join("%s rcode %s" % (show_name(n), r)
                                                   for n, r in responses[frame]))


# ---------------------------------------------------------------- main

def frame_order(key):
    """Disagreements by capture, then frame by number ("-", a failed run, first)."""
    capture, frame, what = key
    return capture, int(frame) if frame.isdigit() else -1, what


def main():
    exe, ext = TEST.environment()
    TEST.check_truth_folder(ext)

    res = Result()
    compared = []
    with tempfile.TemporaryDirectory(prefix="enrollmon-dns-truth-") as tmp:
        for name, path, key_args in TEST.captures(ext):
            truth = read_truth(TEST.truth_file(ext, name, ".dns.tsv"))
            queries, responses, err = run_enrollmon(exe, path, tmp, key_args)
            if err:
                res.disagree(name, "-", "run", err)
                continue
            compare_capture(res, name, truth, queries, responses)
            compared.append(name)

    TEST.report(res.found, len(compared),
                "%d query frame(s), %d response frame(s)" % (res.q_extra, res.r_extra),
                "dns queries: %d/%d, responses: %d/%d" % (res.q_n, res.q_m, res.r_n, res.r_m),
                order=frame_order)


if __name__ == "__main__":
    main()
