#!/usr/bin/env python3
"""Every verdict enrollmon gives on the external captures
(../shared/pcaps-ext, made by other projects), held against a reviewed
list: ext-verdicts.tsv beside this file, one row per verdict with a
one-line justification.  A verdict that appears, disappears or changes
(id, severity, device or server) fails the test, so it is seen in review.

Each capture is read with the keys its MANIFEST.tsv truth_options name, as
the tshark truth tests do.  Repeats (updates) are not separate verdicts.

  ext_verdicts_test.py           compare (exit 77 when the captures are absent)
  ext_verdicts_test.py --update  rewrite the list from this run, keeping the
                                 justifications of rows that still occur;
                                 new rows get "TODO", which fails until a
                                 person writes the reason.
"""
import collections
import csv
import os
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "truth"))
import truth_common  # noqa: E402

LIST = os.path.join(HERE, "ext-verdicts.tsv")
HEADER = ["capture", "id", "severity", "device", "server", "justification"]
TEST = truth_common.TruthTest("ext-verdicts", "ext-verdicts.tsv", "id")


def run_all():
    exe, ext = TEST.environment()
    rows = collections.Counter()
    with tempfile.TemporaryDirectory() as tmp:
        for name, path, key_args in TEST.captures(ext):
            events, error = truth_common.enrollmon_events(exe, path, tmp, key_args, "verdict")
            if error:
                TEST.fail("%s: %s" % (name, error))
            for ev in events:
                v = ev["verdict"]
                if v.get("update"):
                    continue
                rows[(name, v["id"], v["severity"], v["device"], v.get("server", ""))] += 1
    return rows


def read_list():
    listed = collections.Counter()
    reasons = {}
    if not os.path.exists(LIST):
        return listed, reasons
    with open(LIST, newline="", encoding="utf-8") as fh:
        table = list(csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE))
    if not table or table[0] != HEADER:
        TEST.fail("ext-verdicts.tsv must start with the header " + "<TAB>".join(HEADER))
    for n, row in enumerate(table[1:], 2):
        if not row:
            continue
        if len(row) != len(HEADER):
            TEST.fail("ext-verdicts.tsv line %d: want %d columns" % (n, len(HEADER)))
        key = tuple(row[:5])
        listed[key] += 1
        reasons.setdefault(key, row[5])
    return listed, reasons


def main():
    got = run_all()
    listed, reasons = read_list()
    if "--update" in sys.argv:
        with open(LIST, "w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh, delimiter="\t", quoting=csv.QUOTE_NONE, lineterminator="\n")
            w.writerow(HEADER)
            for key in sorted(got):
                for _ in range(got[key]):
                    w.writerow(list(key) + [reasons.get(key, "TODO")])
        print("ext-verdicts.tsv: %d rows written" % sum(got.values()))
        return 0
    bad = 0
    for key in sorted(set(got) | set(listed)):
        if got[key] > listed[key]:
            bad += 1
            print("NEW VERDICT (not in the reviewed list): %s x%d" % (" | ".join(key), got[key] - listed[key]))
        elif got[key] < listed[key]:
            bad += 1
            print("GONE (listed, not given any more): %s x%d" % (" | ".join(key), listed[key] - got[key]))
    todo = [k for k, r in reasons.items() if not r.strip() or r.strip() == "TODO"]
    for key in todo:
        bad += 1
        print("NOT JUSTIFIED: %s" % " | ".join(key))
    by_id = collections.Counter()
    for (capture, vid, sev, dev, srv), n in got.items():
        by_id[vid] += n
    print("ext verdicts: %d given on %d captures (%s); %d differences from the reviewed list"
          % (sum(got.values()), len({k[0] for k in got}),
             ", ".join("%s %d" % (k, n) for k, n in sorted(by_id.items())) or "none", bad))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
