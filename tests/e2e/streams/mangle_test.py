#!/usr/bin/env python3
"""End-to-end stream tests: transform a real capture, check the TLS facts hold.

From an input capture of complete TLS connections (certificates on both
sides, an alert), this script writes variants into a temporary directory,
runs

    $ENROLLMON -q -r VARIANT --json OUT

on each and compares, connection by connection (keyed by its endpoints
after undoing any address change), the last `tls` event's facts with those
of the run on the untouched input: certificate_messages (from, subject_cns,
issuer_cns), alerts (from, level, description, code, encrypted), version,
sni and state.  One line per variant (PASS / FAIL / SKIP); exit status 1 if
any failed, 77 if there is no input capture.

Groups of variants (--group):
  link  the input against its Ethernet rewrite (the base every other variant
        is made from and compared with); raw IP, Linux cooked v1 and v2,
        BSD loopback little- and big-endian, DLT_LOOP, one 802.1Q tag, QinQ
        (0x88a8 + 0x8100), pcapng (both byte orders), big-endian pcap.
  ip    IPv4 options; every data segment as 3-4 IPv4 fragments (the first
        8 bytes long, so the fragment boundaries cut the TCP header; some
        datagrams' fragments out of order); IPv6 (addresses mapped into
        2001:db8::/32) with hop-by-hop and destination options before TCP;
        the same with fragment headers (hop-by-hop unfragmentable,
        destination options in the fragmentable part); IPv6 on BSD loopback.
  tcp   1-byte segments; re-cut to 256 bytes and shuffled within windows of
        one direction (fixed seed); every data segment sent twice;
        overlapping re-cuts with identical content; ISN 0xFFFFFF00 and
        0xFFFFFFFF (the streams cross 2^32); picked up mid-stream at the
        record of the first Certificate message (only what follows is
        expected); each bare FIN overtaking its side's last data segment.
  loss  one whole data segment dropped in an application-data stretch
        (flow tcp.gaps >= 1, same TLS facts, later alerts found); the same
        with the gap inside a record body and the later records starting in
        the middle of segments; an overlap conflict (a differing copy of
        queued data inside the first Certificate message: flow
        tcp.overlap_conflicts >= 1, the first copy's facts).

Inputs: pcaps/lsc-foreign-cluster-3804.pcapng (alert) and
pcaps/mic-accepted-5061.pcapng (mutual TLS) when present, else
../shared/pcaps-ext/zeek--client-certificate.pcap (mutual TLS) and
arkime--ssl-selfsign.pcap (mutual TLS and an alert), else exit 77.

Usage: mangle_test.py [--group link|ip|tcp|loss|all] [--input FILE ...] [--keep DIR]
Environment: ENROLLMON (the binary), ENROLLMON_SOURCE_ROOT (the source tree).
"""

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pcaplib as pl  # noqa: E402
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import enrollmon_cmd  # noqa: E402

SKIP = 77
SEED = 20240229

# Preferred inputs (the project's own loopback captures), by role; then the
# external reference captures as a fallback while those are not there.
PROJECT_INPUTS = ["lsc-foreign-cluster-3804.pcapng", "mic-accepted-5061.pcapng"]
SHARED_INPUTS = ["zeek--client-certificate.pcap", "arkime--ssl-selfsign.pcap"]


# ====================================================================== model

class Pkt:
    """A packet of the capture being transformed.  TCP packets keep their IP
    header object (payload unused) and a TCP object; other IP datagrams are
    kept as bytes (raw), frames that are not IP as the whole frame."""

    __slots__ = ("ts", "smac", "dmac", "ip", "tcp", "raw", "frame")

    def __init__(self, ts, smac, dmac, ip=None, tcp=None, raw=None, frame=None):
        self.ts = ts
        self.smac = smac
        self.dmac = dmac
        self.ip = ip
        self.tcp = tcp
        self.raw = raw
        self.frame = frame

    def with_tcp(self, tcp):
        return Pkt(self.ts, self.smac, self.dmac, self.ip, tcp)

    @property
    def sender(self):
        return (str(self.ip.src), self.tcp.sport)

    @property
    def receiver(self):
        return (str(self.ip.dst), self.tcp.dport)

    @property
    def conn(self):
        return frozenset((self.sender, self.receiver))

    def network(self):
        if self.tcp is None:
            return self.raw
        ip = self.ip
        ip.payload = self.tcp.build(ip)
        return ip.build()


def synth_mac(addr):
    packed = pl.ipaddress.ip_address(addr).packed
    return b"\x02\x00" + packed[-4:]


def load_model(path):
    """Reads any supported capture into a list of Pkt: the Ethernet base."""
    records = pl.read_capture(path)
    pkts = []
    for r in records:
        dec = pl.link_decode(r.linktype, r.data)
        if dec is None:
            if r.linktype == pl.LINKTYPE_ETHERNET:
                pkts.append(Pkt(r.ts_ns, None, None, frame=r.data))
            continue
        _etype, network, eth = dec
        try:
            ip = pl.parse_ip(network)
        except ValueError:
            continue
        smac = eth.src if eth else synth_mac(ip.src)
        dmac = eth.dst if eth else synth_mac(ip.dst)
        frag = ip.is_fragment if ip.version == 4 else any(t == pl.IPPROTO_FRAGMENT for t, _ in ip.exts)
        if ip.proto == pl.IPPROTO_TCP and not frag:
            try:
                tcp = pl.TCP.parse(ip.payload)
            except ValueError:
                continue
            pkts.append(Pkt(r.ts_ns, smac, dmac, ip, tcp))
        else:
            pkts.append(Pkt(r.ts_ns, smac, dmac, raw=bytes(network)))
    return pkts


# ====================================================================== streams

class Direction:
    """One direction of one connection in the base capture: its initial
    sequence number and the stream bytes (offset 0 = first data byte)."""

    def __init__(self, sender):
        self.sender = sender
        self.isn = None
        self.syn = False
        self.data = bytearray()
        self.known = bytearray()  # 1 where data[i] was seen
        self.records = []
        self.hs_messages = []     # (stream offset, handshake type)
        self.alert_offsets = []

    def offset_of(self, seq):
        return pl.seq_diff(seq, (self.isn + 1) & 0xFFFFFFFF)

    def seq_of(self, offset):
        return (self.isn + 1 + offset) & 0xFFFFFFFF

    def put(self, off, payload):
        end = off + len(payload)
        if end > len(self.data):
            self.data.extend(b"\0" * (end - len(self.data)))
            self.known.extend(b"\0" * (end - len(self.known)))
        for i, b in enumerate(payload):
            if not self.known[off + i]:
                self.data[off + i] = b
                self.known[off + i] = 1

    def complete(self):
        return all(self.known)

    def walk_tls(self):
        """Finds the TLS records, the plaintext handshake messages and the
        alert records of this direction."""
        d = bytes(self.data)
        pos = 0
        encrypted = False
        hs_buf = bytearray()
        hs_map = []  # (hs buffer offset, stream offset, length)
        while pos + 5 <= len(d):
            ctype, ver, length = d[pos], (d[pos + 1] << 8) | d[pos + 2], (d[pos + 3] << 8) | d[pos + 4]
            if ctype not in (20, 21, 22, 23, 24) or (ver >> 8) != 3:
                break
            self.records.append((pos, ctype, length))
            body = pos + 5
            if ctype == 20:
                encrypted = True
            elif ctype == 21:
                self.alert_offsets.append(pos)
            elif ctype == 22 and not encrypted:
                hs_map.append((len(hs_buf), body, length))
                hs_buf += d[body:body + length]
            pos = body + length
        hp = 0
        while hp + 4 <= len(hs_buf):
            mtype = hs_buf[hp]
            mlen = int.from_bytes(hs_buf[hp + 1:hp + 4], "big")
            for hoff, soff, ln in hs_map:
                if hoff <= hp < hoff + ln:
                    self.hs_messages.append((soff + (hp - hoff), mtype))
                    break
            hp += 4 + mlen

    def record_at(self, offset):
        for rec in self.records:
            if rec[0] <= offset < rec[0] + 5 + rec[2]:
                return rec
        return None


class Streams:
    def __init__(self, pkts):
        self.dirs = {}   # sender -> Direction
        self.client = {}  # conn -> client endpoint
        for p in pkts:
            if p.tcp is None:
                continue
            d = self.dirs.setdefault(p.sender, Direction(p.sender))
            if p.tcp.flags & pl.TCP_SYN:
                if d.isn is None or not d.syn:
                    d.isn = p.tcp.seq
                    d.syn = True
                if not p.tcp.flags & pl.TCP_ACK:
                    self.client[p.conn] = p.sender
        # without a SYN: the lowest sequence number seen starts the stream
        for p in pkts:
            if p.tcp is None:
                continue
            d = self.dirs[p.sender]
            if not d.syn and (p.tcp.payload or p.tcp.flags & pl.TCP_FIN):
                cand = (p.tcp.seq - 1) & 0xFFFFFFFF
                if d.isn is None or pl.seq_diff(cand, d.isn) < 0:
                    d.isn = cand
        for p in pkts:
            if p.tcp is None or not p.tcp.payload:
                continue
            d = self.dirs[p.sender]
            off = d.offset_of(p.tcp.seq)
            if p.tcp.flags & pl.TCP_SYN:
                off += 1
            if off >= 0:
                d.put(off, p.tcp.payload)
        for d in self.dirs.values():
            if d.isn is None:
                d.isn = 0
            d.walk_tls()

    def of(self, p):
        return self.dirs[p.sender]

    def peer(self, p):
        return self.dirs.get(p.receiver)

    def data_range(self, p):
        d = self.of(p)
        off = d.offset_of(p.tcp.seq) + (1 if p.tcp.flags & pl.TCP_SYN else 0)
        return off, off + len(p.tcp.payload)


def piece(p, d, a, b, fin=False, push=False):
    """A segment of p's direction carrying stream bytes [a, b)."""
    flags = p.tcp.flags & ~(pl.TCP_FIN | pl.TCP_PSH | pl.TCP_SYN)
    if fin:
        flags |= pl.TCP_FIN
    if push:
        flags |= pl.TCP_PSH
    tcp = p.tcp.copy(seq=d.seq_of(a), flags=flags, payload=bytes(d.data[a:b]))
    return p.with_tcp(tcp)


def is_data(p):
    return p.tcp is not None and len(p.tcp.payload) > 0 and not p.tcp.flags & pl.TCP_SYN


def split_packet(p, st, cuts, extend=0):
    """Cuts p's payload at the given relative positions; extend > 0 makes
    each piece overlap its neighbours (and the previous segment) by that
    many bytes, with the same content."""
    d = st.of(p)
    s, e = st.data_range(p)
    bounds = [s] + [s + c for c in cuts if 0 < c < e - s] + [e]
    out = []
    for i in range(len(bounds) - 1):
        a, b = bounds[i], bounds[i + 1]
        if extend:
            a = max(0, a - extend)
            while a < bounds[i] and not d.known[a]:
                a += 1
            if i + 1 < len(bounds) - 1:
                b = min(e, b + extend)
        last = i == len(bounds) - 2
        out.append(piece(p, d, a, b, fin=last and bool(p.tcp.flags & pl.TCP_FIN),
                         push=last and bool(p.tcp.flags & pl.TCP_PSH)))
    return out


# ====================================================================== TCP variants

def v_onebyte(pkts, st, cap=65536):
    out = []
    for p in pkts:
        if not is_data(p):
            out.append(p)
            continue
        s, e = st.data_range(p)
        if s >= cap:
            out.append(p)
            continue
        cuts = list(range(1, min(e, cap) - s + 1))
        out.extend(split_packet(p, st, cuts))
    return out, {}


def v_recut(pkts, st, size):
    out = []
    for p in pkts:
        if is_data(p) and len(p.tcp.payload) > size:
            out.extend(split_packet(p, st, list(range(size, len(p.tcp.payload), size))))
        else:
            out.append(p)
    return out


def v_shuffle(pkts, st, window=6, chunk=256):
    """Re-cuts into chunks of at most `chunk` bytes, then shuffles the data
    segments within windows of consecutive segments of one direction (no
    segment of the other side in between, so no ACK covers a segment that
    is still to come)."""
    rng = random.Random(SEED)
    pkts = v_recut(pkts, st, chunk)
    out = []
    moved = 0
    i = 0
    while i < len(pkts):
        p = pkts[i]
        if not is_data(p) or p.tcp.flags & (pl.TCP_FIN | pl.TCP_RST):
            out.append(p)
            i += 1
            continue
        run = [p]
        j = i + 1
        while (j < len(pkts) and is_data(pkts[j]) and pkts[j].sender == p.sender and
               not pkts[j].tcp.flags & (pl.TCP_FIN | pl.TCP_RST)):
            run.append(pkts[j])
            j += 1
        for w in range(0, len(run), window):
            win = run[w:w + window]
            order = list(range(len(win)))
            rng.shuffle(order)
            moved += sum(1 for k, o in enumerate(order) if k != o)
            out.extend(win[o] for o in order)
        i = j
    return out, {"note": "%d segments moved" % moved, "tcp_min": {"out_of_order_segments": 1 if moved else 0}}


def v_duplicate(pkts, st):
    out = []
    n = 0
    for p in pkts:
        out.append(p)
        if is_data(p):
            out.append(p.with_tcp(p.tcp.copy()))
            n += 1
    return out, {"note": "%d segments sent twice" % n, "tcp_min": {"retransmitted_segments": n}}


def v_overlap(pkts, st, extend=3):
    out = []
    for p in pkts:
        if not is_data(p):
            out.append(p)
            continue
        n = len(p.tcp.payload)
        cuts = [n // 3, 2 * n // 3] if n >= 9 else []
        out.extend(split_packet(p, st, cuts, extend=extend))
    return out, {"tcp_min": {"overlap_bytes": 1}}


def v_seq_wrap(pkts, st, isn=0xFFFFFF00):
    delta = {s: (isn - d.isn) & 0xFFFFFFFF for s, d in st.dirs.items()}
    out = []
    for p in pkts:
        if p.tcp is None:
            out.append(p)
            continue
        t = p.tcp.copy(seq=p.tcp.seq + delta[p.sender])
        peer = delta.get(p.receiver, 0)
        if t.flags & pl.TCP_ACK:
            t.ack = (t.ack + peer) & 0xFFFFFFFF
        t.shift_sack(peer)
        out.append(p.with_tcp(t))
    crossing = [s for s, d in st.dirs.items() if ((isn + 1) & 0xFFFFFFFF) + len(d.data) > 1 << 32 or
                isn == 0xFFFFFFFF]
    return out, {"note": "ISN 0x%08x, %d of %d directions cross 2^32" % (isn, len(crossing), len(st.dirs))}


def v_fin_early(pkts, st):
    """Each bare FIN overtakes the last data segment its side sent before
    it (capture reordering on a SPAN port): the data comes in after both
    FINs have been seen."""
    out = list(pkts)
    moved = 0
    for i, p in enumerate(pkts):
        if p.tcp is None or not p.tcp.flags & pl.TCP_FIN or p.tcp.payload:
            continue
        j = next((k for k in range(i - 1, -1, -1) if is_data(pkts[k]) and pkts[k].sender == p.sender), None)
        if j is None:
            continue
        k = out.index(pkts[j])
        out.remove(p)
        out.insert(k, p)
        moved += 1
    if not moved:
        return None, {"skip": "no bare FIN after data"}
    return out, {"note": "%d FIN(s) moved before their side's last data segment" % moved}


def certificate_records(st, conn):
    """[(direction, offset of the record holding its first Certificate
    message)] for each direction of conn that sends one."""
    found = []
    for sender, d in st.dirs.items():
        if sender not in conn:
            continue
        cert = [off for off, mtype in d.hs_messages if mtype == 11]
        rec = d.record_at(cert[0]) if cert else None
        if rec:
            found.append((d, rec[0]))
    return found


def v_midstream(pkts, st):
    """Per connection: drops everything before the packet carrying the start
    of the record with the first Certificate message (so the SYN/SYN-ACK and
    the hellos) and trims that packet to start at the record."""
    conns = {}
    for i, p in enumerate(pkts):
        if p.tcp is not None:
            conns.setdefault(p.conn, []).append(i)
    cut_at = {}  # conn -> (packet index, direction, record offset)
    for conn in conns:
        found = certificate_records(st, conn)
        if not found:
            continue
        best = None
        for d, rec_off in found:
            for i in conns[conn]:
                p = pkts[i]
                if is_data(p) and p.sender == d.sender:
                    s, e = st.data_range(p)
                    if s <= rec_off < e:
                        if best is None or i < best[0]:
                            best = (i, d, rec_off)
                        break
        if best:
            cut_at[conn] = best
    if not cut_at:
        return None, {"skip": "no Certificate message in a readable TLS stream"}
    out = []
    expected_from = {}
    for i, p in enumerate(pkts):
        if p.tcp is None or p.conn not in cut_at:
            out.append(p)
            continue
        ci, d, rec_off = cut_at[p.conn]
        if i < ci:
            continue
        if i == ci:
            s, e = st.data_range(p)
            out.append(piece(p, d, rec_off, e, fin=bool(p.tcp.flags & pl.TCP_FIN),
                             push=bool(p.tcp.flags & pl.TCP_PSH)))
            expected_from[p.conn] = ci + 1  # pcap_cnt in the base capture
            continue
        out.append(p)
    return out, {"cut_pcap_cnt": expected_from, "midstream": list(expected_from),
                 "note": "cut before frame(s) %s" % ",".join(str(v) for v in expected_from.values())}


def app_data_start(d):
    """Stream offset of d's first application-data record after its
    ChangeCipherSpec, or None."""
    ccs = False
    for off, ctype, _ln in d.records:
        if ctype == 20:
            ccs = True
        elif ctype == 23 and ccs:
            return off
    return None


def gap_directions(st):
    """Directions in the order a gap is best placed: those with an alert
    after application data first."""
    ranked = []
    for sender, d in st.dirs.items():
        start = app_data_start(d)
        if start is None:
            continue
        alert_after = any(a > start for a in d.alert_offsets)
        ranked.append((0 if alert_after else 1, -(len(d.data) - start), sender))
    ranked.sort()
    return [st.dirs[s] for _r, _n, s in ranked]


def v_gap_segment(pkts, st):
    """Drops one whole data segment from the middle of an application-data
    stretch (later data of the same direction still to come)."""
    for d in gap_directions(st):
        start = app_data_start(d)
        cands = []
        for i, p in enumerate(pkts):
            if is_data(p) and p.sender == d.sender:
                s, e = st.data_range(p)
                if s >= start and e < len(d.data):
                    cands.append((i, s, e))
        if cands:
            i, s, e = cands[len(cands) // 2]
            after = [a for a in d.alert_offsets if a >= e]
            out = pkts[:i] + pkts[i + 1:]
            return out, {"gap_conn": pkts[i].conn,
                         "note": "dropped frame %d (%d bytes at stream offset %d of %s:%d), %d alert record(s) "
                                 "after it" % (i + 1, e - s, s, d.sender[0], d.sender[1], len(after))}
    return None, {"skip": "no application data followed by more data in the same direction"}


def v_gap_midrecord(pkts, st):
    """Re-cuts the application-data part of a direction into small segments
    that do not start at record boundaries (as TCP does when records are
    coalesced), then drops one that lies inside a record body: the records
    after it, alert included, start in the middle of a segment."""
    for d in gap_directions(st):
        start = app_data_start(d)
        end = len(d.data)
        rec_starts = {r[0] for r in d.records}
        if end - start < 32:
            continue
        size = max(8, min(256, (end - start) // 10))
        for shift in range(1, size):
            bounds = list(range(start + shift, end, size))
            if not any(b in rec_starts for b in bounds):
                break
        else:
            continue
        bounds = [start] + bounds + [end]
        chunks = list(zip(bounds[:-1], bounds[1:]))
        # the chunk to drop: wholly inside one record body, with a record
        # starting after it (an alert one if there is)
        victim = None
        targets = [a for a in d.alert_offsets if a > start] or sorted(rec_starts)
        for ci in range(len(chunks) // 2, 0, -1):
            a, b = chunks[ci]
            rec = d.record_at(a)
            if rec and rec[0] + 5 <= a and b <= rec[0] + 5 + rec[2] and any(t >= b for t in targets):
                victim = ci
                break
        if victim is None:
            continue
        # emit each chunk at the packet that held its first byte
        out = []
        placed = 0
        for p in pkts:
            if not (is_data(p) and p.sender == d.sender):
                out.append(p)
                continue
            s, e = st.data_range(p)
            if e <= start:
                out.append(p)
                continue
            pieces = []
            if s < start:
                pieces.append(piece(p, d, s, start))
            for ci, (a, b) in enumerate(chunks):
                if max(s, start) <= a < e and ci >= placed:
                    if ci != victim:
                        last = b == end
                        pieces.append(piece(p, d, a, b, fin=last and bool(p.tcp.flags & pl.TCP_FIN),
                                            push=last))
                    placed = ci + 1
            if not pieces:
                # its bytes went out earlier: an ACK (with its FIN) remains
                flags = p.tcp.flags & ~pl.TCP_PSH
                pieces.append(p.with_tcp(p.tcp.copy(seq=d.seq_of(e), payload=b"", flags=flags)))
            out.extend(pieces)
        a, b = chunks[victim]
        later = [x for x in d.alert_offsets if x >= b]
        return out, {"gap_conn": next(p.conn for p in pkts if p.tcp is not None and p.sender == d.sender),
                     "note": "%s:%d re-cut into %d-byte segments, bytes %d-%d (inside a record) dropped, "
                             "%d alert record(s) after it" % (d.sender[0], d.sender[1], size, a, b, len(later))}
    return None, {"skip": "no application-data stretch long enough"}


def v_overlap_conflict(pkts, st):
    """Around the first Certificate record: the segment is split in three,
    the middle piece sent first (queued behind the hole), then a copy of it
    with different bytes, then the first piece and the rest."""
    for i, p in enumerate(pkts):
        if not is_data(p):
            continue
        d = st.of(p)
        cert = [off for off, t in d.hs_messages if t == 11]
        if not cert:
            continue
        s, e = st.data_range(p)
        c = cert[0]
        if not s <= c + 40 < e:
            if s > c and e - s >= 3 and d.record_at(s) and d.record_at(s)[1] == 22:
                m = s + (e - s) // 3  # the certificate continues in this segment
            else:
                continue
        else:
            m = c + 40
        m2 = min(e, m + 400)
        if m <= s or m2 <= m:
            continue
        first = piece(p, d, s, m)
        middle = piece(p, d, m, m2)
        rest = piece(p, d, m2, e, fin=bool(p.tcp.flags & pl.TCP_FIN), push=bool(p.tcp.flags & pl.TCP_PSH)) \
            if m2 < e else None
        forged = middle.with_tcp(middle.tcp.copy(payload=bytes(b ^ 0x5A for b in middle.tcp.payload)))
        seq = [middle, forged, first] + ([rest] if rest else [])
        return pkts[:i] + seq + pkts[i + 1:], {
            "conflict_conn": p.conn,
            "note": "frame %d: bytes %d-%d of %s:%d sent first, then a differing copy, then bytes %d-%d"
                    % (i + 1, m, m2, d.sender[0], d.sender[1], s, m)}
    return None, {"skip": "no Certificate message to conflict over"}


# ====================================================================== IP layer

class Wire:
    """A frame to write: a network datagram (or a non-IP Ethernet frame)."""

    __slots__ = ("ts", "smac", "dmac", "network", "frame")

    def __init__(self, ts, smac, dmac, network=None, frame=None):
        self.ts = ts
        self.smac = smac
        self.dmac = dmac
        self.network = network
        self.frame = frame


def ip_plain(pkts):
    return [Wire(p.ts, p.smac, p.dmac, frame=p.frame) if p.frame is not None else
            Wire(p.ts, p.smac, p.dmac, p.network()) for p in pkts]


def frag_sizes(n):
    """Sizes for splitting n bytes into 3+ fragments, the first ones small so
    that the 8-byte boundaries cut the TCP header (the first fragment holds
    only the ports and the sequence number)."""
    if n <= 24:
        return [8, 8, None]
    if n <= 48:
        return [8, 16, None]
    mid = ((n - 24) // 2 + 7) // 8 * 8
    return [8, 16, mid, None]


def frag_order(k, count):
    """Some datagrams in order, others reversed, last-first, or middle-first."""
    kind = k % 4
    idx = list(range(count))
    if kind == 1:
        return idx[::-1]
    if kind == 2:
        return [idx[-1]] + idx[:-1]
    if kind == 3:
        return [1, 0] + idx[2:]
    return idx


def ip_options4(pkts):
    """Every IPv4 header carries options (router alert, then NOPs): 28-byte headers."""
    out = []
    for p in pkts:
        if p.tcp is None or p.ip.version != 4:
            out.extend(ip_plain([p]))
            continue
        ip = pl.IPv4(p.ip.src, p.ip.dst, pl.IPPROTO_TCP, b"", p.ip.ttl, p.ip.ident, p.ip.tos, p.ip.df, False, 0,
                     b"\x94\x04\x00\x00" + b"\x01" * 4)
        ip.payload = p.tcp.build(ip)
        out.append(Wire(p.ts, p.smac, p.dmac, ip.build()))
    return out, {"note": "28-byte IPv4 headers"}


def ip_frag4(pkts):
    out = []
    ident = 0x1000
    k = 0
    for p in pkts:
        if not is_data(p) or p.ip.version != 4:
            out.extend(ip_plain([p]))
            continue
        ip = pl.IPv4(p.ip.src, p.ip.dst, pl.IPPROTO_TCP, b"", p.ip.ttl, ident, p.ip.tos, False, False, 0,
                     p.ip.options)
        ip.payload = p.tcp.build(ip)
        sizes = frag_sizes(len(ip.payload))
        for f in pl.fragment_ipv4(ip, sizes, frag_order(k, len(sizes))):
            out.append(Wire(p.ts, p.smac, p.dmac, f.build()))
        ident = (ident + 1) & 0xFFFF
        k += 1
    return out, {"datagrams": k, "note": "%d segments sent as 3-4 fragments each" % k}


HBH = (pl.IPPROTO_HOPOPTS, pl.padn_options(8))
DST8 = (pl.IPPROTO_DSTOPTS, pl.padn_options(8))
DST16 = (pl.IPPROTO_DSTOPTS, pl.padn_options(16))


def to_ipv6(p, exts):
    ip = p.ip
    hlim = ip.ttl if ip.version == 4 else ip.hlim
    src = pl.ipv4_to_doc6(ip.src) if ip.version == 4 else ip.src
    dst = pl.ipv4_to_doc6(ip.dst) if ip.version == 4 else ip.dst
    return pl.IPv6(src, dst, pl.IPPROTO_TCP, b"", hlim, exts=exts)


def ip_v6(pkts, frag=False):
    out = []
    k = 0
    for p in pkts:
        if p.tcp is None:
            continue  # only the TCP traffic is converted
        if frag and is_data(p):
            ip6 = to_ipv6(p, [])
            ip6.payload = p.tcp.build(ip6)
            # hop-by-hop options stay in front of every fragment; the
            # destination options travel in the fragmentable part
            fragmentable_len = 8 + len(ip6.payload)
            sizes = frag_sizes(fragmentable_len)
            for f in pl.fragment_ipv6(ip6, [HBH], [DST8], 0x8000 + k, sizes, frag_order(k, len(sizes))):
                out.append(Wire(p.ts, p.smac, p.dmac, f))
            k += 1
            continue
        ip6 = to_ipv6(p, [HBH, DST16])
        ip6.payload = p.tcp.build(ip6)
        out.append(Wire(p.ts, p.smac, p.dmac, ip6.build()))
    note = "%d segments as 3-4 IPv6 fragments each" % k if frag else "hop-by-hop + destination options"
    return out, {"datagrams": k, "ipv6": True, "note": note}


# ====================================================================== link layer and files

def write_wires(path, wires, linktype=pl.LINKTYPE_ETHERNET, fmt="pcap", vlans=None, null_big_endian=False,
                big_endian=False):
    records = []
    for w in wires:
        if w.frame is not None:
            if linktype != pl.LINKTYPE_ETHERNET:
                continue
            records.append(pl.Record(w.ts, linktype, w.frame))
            continue
        smac = w.smac or b"\x02\0\0\0\0\x01"
        dmac = w.dmac or b"\x02\0\0\0\0\x02"
        data = pl.link_encode(linktype, w.network, smac, dmac, vlans=vlans, null_big_endian=null_big_endian)
        records.append(pl.Record(w.ts, linktype, data))
    if fmt == "pcapng":
        pl.write_pcapng(path, linktype, records, big_endian=big_endian)
    else:
        pl.write_pcap(path, linktype, records, big_endian=big_endian)
    return len(records)


# ====================================================================== running and facts

class Run:
    def __init__(self, events, rc, stderr):
        self.events = events
        self.rc = rc
        self.stderr = stderr

    def stats(self):
        for e in self.events:
            if e.get("event_type") == "stats":
                return e["stats"]
        return {}


def run_enrollmon(capture, out_json):
    proc = subprocess.run(enrollmon_cmd.command(["-q", "-r", capture, "--json", out_json]),
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=enrollmon_cmd.timeout(120))
    events = []
    if os.path.exists(out_json):
        with open(out_json) as f:
            for line in f:
                line = line.strip()
                if line:
                    events.append(json.loads(line))
    return Run(events, proc.returncode, proc.stderr.decode(errors="replace"))


def endpoint(ip, port):
    return (str(pl.doc6_to_ipv4(ip)), port)


def conn_key(e):
    return frozenset((endpoint(e["src_ip"], e["src_port"]), endpoint(e["dest_ip"], e["dest_port"])))


def fmt_key(key):
    eps = sorted(key)
    if len(eps) == 1:
        eps = eps * 2
    return "%s:%d<->%s:%d" % (eps[0][0], eps[0][1], eps[1][0], eps[1][1])


def model_key(conn):
    return frozenset(endpoint(a, p) for a, p in conn)


def tls_facts(run):
    """connection key -> facts of the last tls event of each flow (a list,
    one per flow on those endpoints, in flow order)."""
    last = {}
    for e in run.events:
        if e.get("event_type") == "tls":
            last[e["flow_id"]] = e
    out = {}
    for fid in sorted(last):
        e = last[fid]
        t = e["tls"]
        facts = {
            "version": t.get("version"),
            "sni": t.get("sni"),
            "state": t.get("state"),
            "certificate_messages": [
                {"from": m.get("from"), "subject_cns": m.get("subject_cns"), "issuer_cns": m.get("issuer_cns"),
                 "pcap_cnt": m.get("pcap_cnt")}
                for m in t.get("certificate_messages", [])],
            "alerts": [
                {"from": a.get("from"), "level": a.get("level"), "description": a.get("description"),
                 "code": a.get("code"), "encrypted": a.get("encrypted"), "pcap_cnt": a.get("pcap_cnt")}
                for a in t.get("alerts", [])],
        }
        out.setdefault(conn_key(e), []).append(facts)
    return out


def flow_tcp(run):
    out = {}
    for e in run.events:
        if e.get("event_type") == "flow" and e.get("proto") == "TCP":
            out.setdefault(conn_key(e), []).append(e.get("tcp", {}))
    return out


def strip_cnt(items):
    return [{k: v for k, v in it.items() if k != "pcap_cnt"} for it in items]


COMPARED = ("certificate_messages", "alerts", "version", "sni", "state")


def compare_facts(expected, actual, fields=COMPARED):
    """Returns a list of differences (empty when equal)."""
    diffs = []
    for key in sorted(set(expected) | set(actual), key=fmt_key):
        exp = expected.get(key, [])
        act = actual.get(key, [])
        if len(exp) != len(act):
            diffs.append("%s: %d TLS connection(s) expected, %d reported" % (fmt_key(key), len(exp), len(act)))
            continue
        for n, (x, y) in enumerate(zip(exp, act)):
            for f in fields:
                xv, yv = x[f], y[f]
                if f in ("certificate_messages", "alerts"):
                    xv, yv = strip_cnt(xv), strip_cnt(yv)
                if xv != yv:
                    diffs.append("%s%s %s: expected %s, got %s" % (
                        fmt_key(key), "#%d" % n if len(exp) > 1 else "", f, brief(xv), brief(yv)))
    return diffs


def brief(v):
    if isinstance(v, list) and v and isinstance(v[0], dict):
        if "subject_cns" in v[0]:
            return "[" + "; ".join("%s: %s <- %s" % (m["from"], ",".join(m["subject_cns"] or []),
                                                      ",".join(m["issuer_cns"] or [])) for m in v) + "]"
        if "description" in v[0]:
            return "[" + "; ".join("%s %s %s" % (a["from"], a["level"], a["description"]) for a in v) + "]"
    return json.dumps(v)


def facts_after(facts, cut_cnt):
    """Only what the base run saw from frame cut_cnt on."""
    out = {}
    for key, lst in facts.items():
        if key not in cut_cnt:
            out[key] = lst
            continue
        new = []
        for f in lst:
            g = dict(f)
            g["certificate_messages"] = [m for m in f["certificate_messages"] if m["pcap_cnt"] >= cut_cnt[key]]
            g["alerts"] = [a for a in f["alerts"] if a["pcap_cnt"] >= cut_cnt[key]]
            new.append(g)
        out[key] = new
    return out


# ====================================================================== the variants

class Context:
    def __init__(self, name, path, tmp):
        self.name = name
        self.src = path
        self.tmp = tmp
        self.pkts = load_model(path)
        self.streams = Streams(self.pkts)
        self.base_path = os.path.join(tmp, "base.pcap")
        write_wires(self.base_path, ip_plain(self.pkts))
        self.base = run_enrollmon(self.base_path, os.path.join(tmp, "base.json"))
        self.base_facts = tls_facts(self.base)
        self.base_flows = flow_tcp(self.base)


LINK_VARIANTS = [
    ("link-raw", dict(linktype=pl.LINKTYPE_RAW)),
    ("link-sll", dict(linktype=pl.LINKTYPE_LINUX_SLL)),
    ("link-sll2", dict(linktype=pl.LINKTYPE_LINUX_SLL2)),
    ("link-null-le", dict(linktype=pl.LINKTYPE_NULL)),
    ("link-null-be", dict(linktype=pl.LINKTYPE_NULL, null_big_endian=True)),
    ("link-loop", dict(linktype=pl.LINKTYPE_LOOP)),
    ("link-vlan", dict(vlans=[(pl.ETHERTYPE_VLAN, 0x0064)])),
    ("link-qinq", dict(vlans=[(pl.ETHERTYPE_QINQ, 0x00c8), (pl.ETHERTYPE_VLAN, 0x2064)])),
    ("link-pcapng", dict(fmt="pcapng")),
    ("link-pcapng-be", dict(fmt="pcapng", big_endian=True)),
    ("link-pcap-be", dict(big_endian=True)),
]

TCP_VARIANTS = [
    ("tcp-1byte", v_onebyte),
    ("tcp-shuffle", v_shuffle),
    ("tcp-duplicate", v_duplicate),
    ("tcp-overlap", v_overlap),
    ("tcp-seq-wrap", v_seq_wrap),
    ("tcp-seq-wrap-isn-ffffffff", lambda p, s: v_seq_wrap(p, s, 0xFFFFFFFF)),
    ("tcp-midstream", v_midstream),
    ("tcp-fin-early", v_fin_early),
]

LOSS_VARIANTS = [
    ("loss-gap-segment", v_gap_segment),
    ("loss-gap-midrecord", v_gap_midrecord),
    ("loss-overlap-conflict", v_overlap_conflict),
]


def check_run(ctx, run, meta, expected=None, fields=COMPARED):
    """Returns (ok, message)."""
    problems = []
    if run.rc != 0:
        tail = " | ".join(run.stderr.strip().splitlines()[-6:])
        problems.append("enrollmon exited %d: %s" % (run.rc, tail))
    facts = tls_facts(run)
    exp = ctx.base_facts if expected is None else expected
    problems += compare_facts(exp, facts, fields)
    flows = flow_tcp(run)
    stats = run.stats()
    dec = stats.get("decoder", {})
    base_dec = ctx.base.stats().get("decoder", {})
    for field in ("truncated", "malformed"):
        if dec.get(field, 0) > base_dec.get(field, 0):
            problems.append("decoder.%s = %d (base %d)" % (field, dec.get(field, 0), base_dec.get(field, 0)))
    if meta.get("datagrams") is not None:
        want = meta["datagrams"]
        got = dec.get("fragments_reassembled")
        if got != want:
            problems.append("fragments_reassembled = %s, %d datagrams were fragmented (dropped %s)" % (
                got, want, dec.get("fragments_dropped")))
    if meta.get("ipv6"):
        if not dec.get("ipv6") or dec.get("ipv4"):
            problems.append("decoder counted ipv4=%s ipv6=%s" % (dec.get("ipv4"), dec.get("ipv6")))
    lossless = not any(k in meta for k in ("gap_conn", "cut_pcap_cnt"))
    for key, tcps in flows.items():
        base_tcps = ctx.base_flows.get(key, [])
        if lossless and len(tcps) == len(base_tcps):
            for t, b in zip(tcps, base_tcps):
                if t.get("gaps", 0) != b.get("gaps", 0):
                    problems.append("%s: tcp.gaps = %s on a complete stream (base %s, gap_bytes %s)" % (
                        fmt_key(key), t.get("gaps"), b.get("gaps"), t.get("gap_bytes")))
    for field, least in meta.get("tcp_min", {}).items():
        total = sum(t.get(field, 0) for tcps in flows.values() for t in tcps)
        if total < least:
            problems.append("flow tcp.%s = %d in all, expected >= %d" % (field, total, least))
    for conn in meta.get("midstream", []):
        k = model_key(conn)
        if not any(t.get("midstream") for t in flows.get(k, [])):
            problems.append("%s: flow tcp.midstream is not true" % fmt_key(k))
    if "gap_conn" in meta:
        k = model_key(meta["gap_conn"])
        gaps = sum(t.get("gaps", 0) for t in flows.get(k, []))
        if gaps < 1:
            problems.append("%s: flow tcp.gaps = %d, expected >= 1" % (fmt_key(k), gaps))
    if "conflict_conn" in meta:
        k = model_key(meta["conflict_conn"])
        conflicts = sum(t.get("overlap_conflicts", 0) for t in flows.get(k, []))
        if conflicts < 1:
            problems.append("%s: flow tcp.overlap_conflicts = %d, expected >= 1" % (fmt_key(k), conflicts))
    return not problems, problems


class Reporter:
    def __init__(self):
        self.failed = 0
        self.passed = 0
        self.skipped = 0

    def line(self, status, label, detail=""):
        if status == "PASS":
            self.passed += 1
        elif status == "FAIL":
            self.failed += 1
        else:
            self.skipped += 1
        print("%s %s%s" % (status, label, (" -- " + detail) if detail else ""), flush=True)


def run_variant(ctx, rep, name, build, fields=COMPARED, expected_fn=None):
    label = "%s/%s" % (ctx.name, name)
    path = os.path.join(ctx.tmp, name + ".pcap")
    try:
        meta = build(path)
    except Exception as exc:  # a generator fault is a test failure, not a crash
        rep.line("FAIL", label, "could not build the variant: %r" % (exc,))
        return
    if meta.get("skip"):
        rep.line("SKIP", label, meta["skip"])
        return
    run = run_enrollmon(path, os.path.join(ctx.tmp, name + ".json"))
    expected = expected_fn(meta) if expected_fn else None
    ok, problems = check_run(ctx, run, meta, expected, fields)
    note = meta.get("note", "")
    if ok:
        rep.line("PASS", label, note)
    else:
        rep.line("FAIL", label, "; ".join(problems[:6]) + ("; ..." if len(problems) > 6 else "") +
                 (" [%s]" % note if note else ""))


def group_link(ctx, rep):
    # the input itself against the Ethernet base built from it
    orig = run_enrollmon(ctx.src, os.path.join(ctx.tmp, "input.json"))
    diffs = compare_facts(tls_facts(orig), ctx.base_facts)
    rep.line("FAIL" if diffs else "PASS", "%s/base-ethernet" % ctx.name,
             "; ".join(diffs) if diffs else "input and its Ethernet rewrite agree")
    wires = ip_plain(ctx.pkts)
    for name, opts in LINK_VARIANTS:
        def build(path, opts=opts):
            n = write_wires(path, wires, **opts)
            return {"note": "%d frames" % n}
        run_variant(ctx, rep, name, build)


def group_ip(ctx, rep):
    def frag4(path):
        wires, meta = ip_frag4(ctx.pkts)
        write_wires(path, wires)
        return meta

    def v6(path):
        wires, meta = ip_v6(ctx.pkts)
        write_wires(path, wires)
        return meta

    def v6frag(path):
        wires, meta = ip_v6(ctx.pkts, frag=True)
        write_wires(path, wires)
        return meta

    def v6null(path):
        wires, meta = ip_v6(ctx.pkts)
        write_wires(path, wires, linktype=pl.LINKTYPE_NULL)
        meta["note"] += ", BSD loopback AF_INET6"
        return meta

    def opts4(path):
        wires, meta = ip_options4(ctx.pkts)
        write_wires(path, wires)
        return meta

    run_variant(ctx, rep, "ipv4-options", opts4)
    run_variant(ctx, rep, "ipv4-frag", frag4)
    run_variant(ctx, rep, "ipv6-ext", v6)
    run_variant(ctx, rep, "ipv6-frag", v6frag)
    run_variant(ctx, rep, "ipv6-ext-null", v6null)


def tcp_builder(ctx, fn):
    def build(path):
        pkts, meta = fn(ctx.pkts, ctx.streams)
        if pkts is None:
            return meta
        write_wires(path, ip_plain(pkts))
        return meta
    return build


def group_tcp(ctx, rep):
    for name, fn in TCP_VARIANTS:
        if name == "tcp-midstream":
            run_variant(ctx, rep, name, tcp_builder(ctx, fn), fields=("certificate_messages", "alerts"),
                        expected_fn=lambda meta: facts_after(
                            ctx.base_facts, {model_key(c): n for c, n in meta["cut_pcap_cnt"].items()}))
        else:
            run_variant(ctx, rep, name, tcp_builder(ctx, fn))


def group_loss(ctx, rep):
    for name, fn in LOSS_VARIANTS:
        run_variant(ctx, rep, name, tcp_builder(ctx, fn))


GROUPS = {"link": group_link, "ip": group_ip, "tcp": group_tcp, "loss": group_loss}


def find_inputs():
    root = os.environ.get("ENROLLMON_SOURCE_ROOT", os.path.join(os.path.dirname(__file__), "..", "..", ".."))
    own = [os.path.join(root, "pcaps", n) for n in PROJECT_INPUTS]
    own = [p for p in own if os.path.isfile(p)]
    if own:
        return own, "pcaps/"
    shared = [os.path.join(root, "..", "shared", "pcaps-ext", n) for n in SHARED_INPUTS]
    shared = [p for p in shared if os.path.isfile(p)]
    return shared, "../shared/pcaps-ext/"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--group", default="all", choices=list(GROUPS) + ["all"])
    ap.add_argument("--input", action="append", help="input capture (default: pcaps/, else ../shared)")
    ap.add_argument("--keep", help="write the variants into this directory and keep them")
    args = ap.parse_args()
    if not os.environ.get("ENROLLMON"):
        print("ENROLLMON is not set (the path of the enrollmon binary)", file=sys.stderr)
        return 2
    if args.input:
        inputs, origin = args.input, "command line"
    else:
        inputs, origin = find_inputs()
    if not inputs:
        print("SKIP: no input capture: neither pcaps/%s nor ../shared/pcaps-ext/%s exists" % (
            " / ".join(PROJECT_INPUTS), " / ".join(SHARED_INPUTS)))
        return SKIP
    groups = list(GROUPS) if args.group == "all" else [args.group]
    rep = Reporter()
    with tempfile.TemporaryDirectory(prefix="enrollmon-streams-") as tmp:
        for path in inputs:
            name = os.path.basename(path)
            for ext in (".pcapng", ".pcap", ".cap"):
                if name.endswith(ext):
                    name = name[:-len(ext)]
            work = os.path.join(args.keep or tmp, name)
            os.makedirs(work, exist_ok=True)
            ctx = Context(name, path, work)
            if ctx.base.rc != 0 or not ctx.base_facts:
                rep.line("FAIL", "%s/base" % name, "enrollmon found no TLS connection in the Ethernet rewrite "
                         "(exit %d) %s" % (ctx.base.rc, ctx.base.stderr.strip()[-300:]))
                continue
            summary = []
            for key, lst in ctx.base_facts.items():
                for f in lst:
                    summary.append("%s %s %s, %d certificate message(s), %d alert(s)" % (
                        fmt_key(key), f["version"], f["state"], len(f["certificate_messages"]), len(f["alerts"])))
            print("input %s (from %s): %d packets; %s" % (os.path.basename(path), origin, len(ctx.pkts),
                                                          "; ".join(summary)), flush=True)
            for g in groups:
                GROUPS[g](ctx, rep)
    print("%d passed, %d failed, %d skipped" % (rep.passed, rep.failed, rep.skipped))
    return 1 if rep.failed else 0


if __name__ == "__main__":
    sys.exit(main())
