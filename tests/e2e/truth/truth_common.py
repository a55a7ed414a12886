"""What the tshark ground-truth tests beside this file have in common.

truth_compare.py (TLS), http_truth.py (HTTP) and dns_truth.py (DNS) each
run enrollmon on the external captures that ../shared/pcaps-ext/MANIFEST.tsv
lists (relative to the source root) and compare one kind of event with
tshark's truth.  The environment they expect, the skip when the captures are
absent, the manifest, the enrollmon run, the accepted-disagreements TSV and
the closing report are the same for all three and live here; what differs
(the test name in messages, the TSV, its second column) is a TruthTest.

Python standard library only.
"""

import csv
import ipaddress
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import enrollmon_cmd  # noqa: E402

SKIP = 77
HERE = os.path.dirname(os.path.abspath(__file__))
EXT_REL = os.path.join("..", "shared", "pcaps-ext")

PCAP_MAGICS = (b"\xa1\xb2\xc3\xd4", b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\x3c\x4d",
               b"\x4d\x3c\xb2\xa1", b"\x0a\x0d\x0d\x0a")


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


def paired(truth_conns, mon_conns):
    """Yields (truth connection, enrollmon connection), None for a side that
    lacks it.  Connections (each with .pair, its unordered endpoints) are
    paired by their endpoints; when a pair occurs more than once (port
    reuse), in order of appearance on each side."""
    by_t, by_m, pairs = {}, {}, []
    for conns, by_side in ((truth_conns, by_t), (mon_conns, by_m)):
        for c in conns:
            if c.pair not in by_t and c.pair not in by_m:
                pairs.append(c.pair)
            by_side.setdefault(c.pair, []).append(c)
    for pair in pairs:
        tl, ml = by_t.get(pair, []), by_m.get(pair, [])
        for i in range(max(len(tl), len(ml))):
            yield tl[i] if i < len(tl) else None, ml[i] if i < len(ml) else None


# ---------------------------------------------------------------- files

def is_capture(path):
    try:
        with open(path, "rb") as fh:
            return fh.read(4) in PCAP_MAGICS
    except OSError:
        return False


def read_tsv(path):
    """The rows of a TSV with a header line (the truth's and the manifest's form)."""
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE))


def key_args_of(ext, options):
    """enrollmon's key options from a manifest truth_options value: the truth
    made with a key log or RSA key is compared with enrollmon given the same."""
    args = []
    for opt in (options or "").split(","):
        if opt.startswith("keylog="):
            args += ["--keylog", os.path.join(ext, opt[len("keylog="):])]
        elif opt.startswith("rsakey="):
            args += ["--rsa-key", os.path.join(ext, opt[len("rsakey="):])]
    return args


# ---------------------------------------------------------------- enrollmon

def enrollmon_events(exe, capture, tmpdir, key_args, event_type):
    """Runs enrollmon on one capture with no hint but the keys:
        exe -q -r CAPTURE --json TMPFILE KEY_ARGS
    -> (its events of event_type in the order written, None), or (None, error)
    when it fails or writes a line that is not JSON."""
    out = os.path.join(tmpdir, os.path.basename(capture) + ".json")
    p = subprocess.run(enrollmon_cmd.command(["-q", "-r", capture, "--json", out, *key_args], exe=exe),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if p.returncode != 0:
        return None, "enrollmon exited with %d: %s" % (
            p.returncode, p.stderr.decode("utf-8", "replace").strip()[-2000:])
    events = []
    with open(out, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                ev = json.loads(line)
            except ValueError as e:
                return None, "line %d of the JSON output does not parse: %s" % (n, e)
            if ev.get("event_type") == event_type:
                events.append(ev)
    os.unlink(out)
    return events, None


# ---------------------------------------------------------------- comparison

class Disagreements:
    """The disagreements found, keyed as the accepted TSV's rows are:
    (capture, place, what) -> detail; several details of one key are joined."""

    def __init__(self):
        self.found = {}

    def disagree(self, capture, place, what, detail):
        key = (capture, str(place), what)
        self.found[key] = self.found[key] + "; " + detail if key in self.found else detail


class TruthTest:
    """One of the truth tests.

    name: its meson test name, which starts its error messages;
    accepted_tsv: the file beside this one that lists its accepted
      disagreements with their reasons (columns capture, place_column,
      what, reason);
    place_label: what stands before a place in the printed lines;
    whats: when given, the only values its `what` column may hold."""

    def __init__(self, name, accepted_tsv, place_column, place_label="", whats=None):
        self.name = name
        self.accepted_tsv = accepted_tsv
        self.place_column = place_column
        self.place_label = place_label
        self.whats = whats

    def fail(self, msg):
        print("%s: error: %s" % (self.name, msg))
        sys.exit(1)

    def environment(self):
        """-> (enrollmon executable, the external captures' folder); exits 77
        (skip) when that folder is absent: most checkouts do not have it."""
        root = os.environ.get("ENROLLMON_SOURCE_ROOT")
        exe = os.environ.get("ENROLLMON")
        if not root or not exe:
            self.fail("ENROLLMON_SOURCE_ROOT and ENROLLMON must be set (meson test sets them)")
        ext = os.path.normpath(os.path.join(root, EXT_REL))
        if not os.path.isdir(ext):
            print("SKIP: %s is not there (relative to the source root): no external captures "
                  "to compare with the tshark ground truth" % EXT_REL)
            sys.exit(SKIP)
        return exe, ext

    def check_truth_folder(self, ext):
        if not os.path.isdir(os.path.join(ext, "truth")):
            self.fail("%s has no truth/ folder" % EXT_REL)

    def truth_file(self, ext, capture, suffix):
        """The path of truth/<capture><suffix>; fails when it is not there."""
        name = capture + suffix
        path = os.path.join(ext, "truth", name)
        if not os.path.isfile(path):
            self.fail("%s: no truth file %s" % (capture, os.path.join(EXT_REL, "truth", name)))
        return path

    def captures(self, ext):
        """Yields (file name, path, enrollmon key options) for each capture
        that MANIFEST.tsv lists and that is there (other entries are skipped)."""
        manifest = os.path.join(ext, "MANIFEST.tsv")
        if not os.path.isfile(manifest):
            self.fail("%s is missing" % os.path.join(EXT_REL, "MANIFEST.tsv"))
        for entry in read_tsv(manifest):
            name = entry["file"]
            path = os.path.join(ext, name)
            if is_capture(path):
                yield name, path, key_args_of(ext, entry.get("truth_options"))

    def read_accepted(self):
        """{(capture, place, what): reason} from the accepted TSV ({} without one)."""
        accepted = {}
        path = os.path.join(HERE, self.accepted_tsv)
        if not os.path.isfile(path):
            return accepted
        with open(path, newline="", encoding="utf-8") as fh:
            rows = list(csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE))
        header = ["capture", self.place_column, "what", "reason"]
        if not rows or rows[0] != header:
            self.fail("%s must start with the header %s"
                      % (self.accepted_tsv, "<TAB>".join(header)))
        for n, row in enumerate(rows[1:], 2):
            if not row or not "".join(row).strip():
                continue
            if len(row) != 4 or not all(x.strip() for x in row):
                self.fail("%s line %d: want 4 non-empty columns" % (self.accepted_tsv, n))
            key = tuple(x.strip() for x in row[:3])
            if self.whats is not None and key[2] not in self.whats:
                self.fail("%s line %d: what must be %s" % (self.accepted_tsv, n,
                                                           " or ".join(self.whats)))
            if key in accepted:
                self.fail("%s line %d: listed twice" % (self.accepted_tsv, n))
            accepted[key] = row[3].strip()
        return accepted

    def report(self, found, compared, extras, score, order=None):
        """Prints every disagreement (accepted or not), the accepted rows that
        no longer occur, the counts (extras: what enrollmon reports beyond the
        truth, in words) and the score line, then exits: 0 only when every
        disagreement is accepted and no accepted row is stale.
        order: the sort key of the disagreements' keys (default: as they are)."""
        accepted = self.read_accepted()
        unlisted = 0
        for key in sorted(found, key=order):
            capture, place, what = key
            if key in accepted:
                tag = "accepted"
            else:
                tag = "DISAGREEMENT"
                unlisted += 1
            print("%s: %s | %s%s | %s: %s" % (tag, capture, self.place_label, place, what,
                                              found[key]))
        stale = [k for k in sorted(accepted) if k not in found]
        for capture, place, what in stale:
            print("STALE: %s | %s%s | %s is listed in %s but no longer occurs; remove the row"
                  % (capture, self.place_label, place, what, self.accepted_tsv))
        print("compared %d captures; reported by enrollmon but not in the truth: %s; "
              "%d disagreement(s): %d accepted in %s, %d not accepted; %d stale row(s)" % (
                  compared, extras, len(found), len(found) - unlisted, self.accepted_tsv,
                  unlisted, len(stale)))
        print(score)
        sys.exit(1 if unlisted or stale else 0)
