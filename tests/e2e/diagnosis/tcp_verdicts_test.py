#!/usr/bin/env python3
"""TCP verdicts end to end, on captures generated here packet by packet.

- capf-retries: a phone tries CAPF three times, 30 s apart, a SYN and two
  retransmissions each, never answered: ONE CAPF_UNREACHABLE whose count
  reaches 3 (the first event, then updates with the same seq).
- capf-service-down: a SYN to CAPF answered by RST: CAPF_SERVICE_DOWN.
- ios-queue: 300 SCEP clients against an IOS-like HTTP server (16
  concurrent connections at most, more than 80 connections a minute -> 15 s
  of not listening; SYNs beyond either limit dropped; clients retransmit at
  1, 3, 7, 15 s): TCP_QUEUE_LIMIT for the server's address.
- busy-healthy: 2000 connections in 60 s, about 100 at once, all answered
  (a few lost SYNs answered on their first retransmission): no verdict.
- dead-server: SYNs to a server that never answers: no TCP_QUEUE_LIMIT.

Each runs `$ENROLLMON -r X --json -` and checks the verdict events
(verdict.id, device, count, facts).  Prints one PASS/FAIL line per check.
"""
import heapq
import json
import os
import random
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "streams"))
import pcaplib as P  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import enrollmon_cmd  # noqa: E402
SEC = 1_000_000_000
MS = 1_000_000
T0 = 1_795_357_880 * SEC
failures = []


def check(name, ok, detail=""):
    print(("PASS " if ok else "FAIL ") + name + ("" if ok else ": " + str(detail)))
    if not ok:
        failures.append(name)


def frame(ts_ns, src, dst, tcp):
    ip = P.IPv4(src, dst, 6, tcp.build(P.IPv4(src, dst, 6)))
    return P.Record(ts_ns, P.LINKTYPE_ETHERNET, P.link_encode(P.LINKTYPE_ETHERNET, ip.build()))


class Conn:
    """One TCP connection's packets, sequence numbers kept."""

    def __init__(self, client, cport, server, sport, isn=1000, server_isn=5000):
        self.c, self.cp, self.s, self.sp = client, cport, server, sport
        self.cseq, self.sseq = isn, server_isn
        self.out = []

    def syn(self, t):
        self.out.append(frame(t, self.c, self.s, P.TCP(self.cp, self.sp, self.cseq, 0, P.TCP_SYN)))

    def rst_answer(self, t):
        self.out.append(frame(t, self.s, self.c, P.TCP(self.sp, self.cp, 0, self.cseq + 1,
                                                       P.TCP_RST | P.TCP_ACK)))

    def accept(self, t, request=b"", response=b"", close_after=0):
        """SYN-ACK at t, the handshake, one request and response, then the
        server closes `close_after` ns later."""
        c, s = self.c, self.s
        self.out.append(frame(t, s, c, P.TCP(self.sp, self.cp, self.sseq, self.cseq + 1,
                                             P.TCP_SYN | P.TCP_ACK)))
        self.cseq += 1
        self.sseq += 1
        self.out.append(frame(t + 100_000, c, s, P.TCP(self.cp, self.sp, self.cseq, self.sseq, P.TCP_ACK)))
        t += 200_000
        if request:
            self.out.append(frame(t, c, s, P.TCP(self.cp, self.sp, self.cseq, self.sseq,
                                                 P.TCP_ACK | P.TCP_PSH, payload=request)))
            self.cseq += len(request)
            t += 300_000
            self.out.append(frame(t, s, c, P.TCP(self.sp, self.cp, self.sseq, self.cseq,
                                                 P.TCP_ACK | P.TCP_PSH, payload=response)))
            self.sseq += len(response)
        t += close_after
        self.out.append(frame(t, s, c, P.TCP(self.sp, self.cp, self.sseq, self.cseq, P.TCP_ACK | P.TCP_FIN)))
        self.sseq += 1
        self.out.append(frame(t + 100_000, c, s, P.TCP(self.cp, self.sp, self.cseq, self.sseq,
                                                       P.TCP_ACK | P.TCP_FIN)))
        self.cseq += 1
        self.out.append(frame(t + 200_000, s, c, P.TCP(self.sp, self.cp, self.sseq, self.cseq, P.TCP_ACK)))


def write_and_run(tmp, name, records):
    records.sort(key=lambda r: r.ts_ns)
    cap = os.path.join(tmp, name + ".pcap")
    P.write_pcap(cap, P.LINKTYPE_ETHERNET, records)
    p = subprocess.run(enrollmon_cmd.command(["-r", cap, "--json", "-"]), capture_output=True, text=True,
                       timeout=enrollmon_cmd.timeout(300))
    check(name + ": exit 0", p.returncode == 0, p.stderr[-2000:])
    check(name + ": no sanitizer report", "Sanitizer" not in p.stderr and "runtime error" not in p.stderr,
          p.stderr[-2000:])
    verdicts = []
    for line in p.stdout.splitlines():
        if not line.strip():
            continue
        e = json.loads(line)
        if e.get("event_type") == "verdict":
            verdicts.append(e["verdict"])
    return verdicts


def of(verdicts, vid):
    return [v for v in verdicts if v["id"] == vid]


def summary(verdicts):
    return ["%s/%s/count=%s" % (v["id"], v["device"], v["count"]) for v in verdicts]


# ---------------------------------------------------------------- captures

def capf_retries():
    out = []
    for i in range(3):
        c = Conn("10.0.0.5", 50000 + i, "10.0.0.1", 3804, isn=1000 + i * 77)
        t = T0 + i * 30 * SEC
        for rtx in (0, 1, 3):
            c.syn(t + rtx * SEC)
        out += c.out
    return out


def capf_service_down():
    c = Conn("10.0.0.5", 50010, "10.0.0.1", 3804)
    c.syn(T0)
    c.rst_answer(T0 + 50_000)
    return c.out


SCEP_GET = (b"GET /cgi-bin/pkiclient.exe?operation=GetCACaps&message=ca HTTP/1.1\r\n"
            b"Host: ca.lab\r\nUser-Agent: scep-client\r\n\r\n")
SCEP_OK = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 16\r\n\r\nPOSTPKIOperation"


def ios_queue(rng):
    """300 clients, arrivals spread over 40 s; the server serves each
    connection for 0.5-1.5 s, at most 16 at once; over 80 connections in a
    minute it stops listening for 15 s."""
    server = "10.0.0.80"
    RTX = (1, 3, 7, 15)
    events = []  # (time, seq, client index, retransmission number)
    for i in range(300):
        heapq.heappush(events, (T0 + int(rng.uniform(0, 40) * SEC), i, i, 0))
    open_until = []      # end times of the open connections
    accepted = []        # accept times
    deaf_until = 0
    out = []
    conns = {}
    while events:
        t, _, i, n = heapq.heappop(events)
        if i not in conns:
            conns[i] = Conn("10.1.%d.%d" % (i // 250, 1 + i % 250), 30000 + i, server, 80,
                            isn=rng.randrange(1, 2**31))
        c = conns[i]
        c.syn(t)
        open_until = [e for e in open_until if e > t]
        recent = [a for a in accepted if a > t - 60 * SEC]
        if t >= deaf_until and len(open_until) < 16 and len(recent) < 80:
            hold = int(rng.uniform(0.5, 1.5) * SEC)
            c.accept(t + 200_000, SCEP_GET, SCEP_OK, close_after=hold)
            open_until.append(t + hold + 1 * MS)
            accepted.append(t)
            if len(recent) + 1 >= 80:
                deaf_until = t + 15 * SEC
                accepted = []
        elif n < len(RTX):
            heapq.heappush(events, (t - (RTX[n - 1] * SEC if n else 0) + RTX[n] * SEC, i, i, n + 1))
    for c in conns.values():
        out += c.out
    return out


def busy_healthy(rng):
    server = "10.0.0.90"
    out = []
    for i in range(2000):
        t = T0 + i * 30 * MS + rng.randrange(0, 20 * MS)
        c = Conn("10.2.%d.%d" % (i // 250, 1 + i % 250), 20000 + i % 40000, server, 443,
                 isn=rng.randrange(1, 2**31))
        c.syn(t)
        if i % 97 == 5:  # a lost SYN, answered on its retransmission
            t += 1 * SEC
            c.syn(t)
        c.accept(t + 300_000, close_after=int(rng.uniform(2, 4) * SEC))
        out += c.out
    return out


def dead_server():
    out = []
    for i in range(50):
        c = Conn("10.3.0.%d" % (1 + i), 40000 + i, "10.0.0.99", 80)
        t = T0 + i * 500 * MS
        for rtx in (0, 1, 3, 7):
            c.syn(t + rtx * SEC)
        out += c.out
    return out


# ---------------------------------------------------------------- checks

def main():
    rng = random.Random(20240611)
    with tempfile.TemporaryDirectory(prefix="enrollmon-tcp-verdicts-") as tmp:
        v = write_and_run(tmp, "capf-retries", capf_retries())
        u = of(v, "CAPF_UNREACHABLE")
        print("  capf-retries:", summary(v))
        check("capf-retries: one verdict (one seq)", len({x["seq"] for x in u}) == 1, summary(v))
        check("capf-retries: count 3", bool(u) and max(x["count"] for x in u) == 3, summary(v))
        check("capf-retries: device is the phone's address",
              bool(u) and all(x["device"] == "10.0.0.5" for x in u), summary(v))
        check("capf-retries: server", bool(u) and u[-1].get("server") == "10.0.0.1:3804", u[-1:])
        check("capf-retries: 3 SYNs an attempt", bool(u) and u[-1]["facts"]["syns"] == 3, u[-1:])
        check("capf-retries: 9 SYN frames of evidence", bool(u) and len(u[-1]["evidence"]) == 9, u[-1:])
        check("capf-retries: nothing else of ours",
              not of(v, "CAPF_SERVICE_DOWN") and not of(v, "TCP_QUEUE_LIMIT"), summary(v))

        v = write_and_run(tmp, "capf-service-down", capf_service_down())
        d = of(v, "CAPF_SERVICE_DOWN")
        print("  capf-service-down:", summary(v))
        check("capf-service-down: one verdict", len(d) == 1, summary(v))
        check("capf-service-down: device, count, evidence",
              len(d) == 1 and d[0]["device"] == "10.0.0.5" and d[0]["count"] == 1
              and d[0]["evidence"] == [1, 2], d)
        check("capf-service-down: not unreachable", not of(v, "CAPF_UNREACHABLE"), summary(v))

        v = write_and_run(tmp, "ios-queue", ios_queue(rng))
        q = of(v, "TCP_QUEUE_LIMIT")
        print("  ios-queue:", summary(v))
        for x in q:
            print("    facts:", json.dumps(x["facts"], sort_keys=True), "update" if x.get("update") else "")
        check("ios-queue: TCP_QUEUE_LIMIT", len(q) >= 1, summary(v))
        check("ios-queue: one verdict (one seq)", len({x["seq"] for x in q}) == 1, summary(v))
        check("ios-queue: device is the server's address",
              bool(q) and all(x["device"] == "10.0.0.80" and x["server"] == "10.0.0.80:80" for x in q), q)
        if q:
            f = q[-1]["facts"]
            check("ios-queue: facts present", all(k in f for k in (
                "attempts_per_minute_peak", "unanswered_pct", "unanswered", "attempts", "peak_concurrent",
                "silent_periods", "longest_silent_s")), f)
            check("ios-queue: peak concurrent at most 16", 1 <= f.get("peak_concurrent", 0) <= 16, f)
            check("ios-queue: 300 clients' attempts", f.get("attempts") == 300, f)
            check("ios-queue: a silence of 15 s", f.get("longest_silent_s", 0) >= 14, f)
            check("ios-queue: a fifth or more unanswered", f.get("unanswered_pct", 0) >= 20, f)
            check("ios-queue: more than 80 attempts a minute", f.get("attempts_per_minute_peak", 0) > 80, f)
        check("ios-queue: no CAPF verdict", not of(v, "CAPF_UNREACHABLE") and not of(v, "CAPF_SERVICE_DOWN"),
              summary(v))

        v = write_and_run(tmp, "busy-healthy", busy_healthy(rng))
        print("  busy-healthy:", summary(v))
        check("busy-healthy: no TCP_QUEUE_LIMIT", not of(v, "TCP_QUEUE_LIMIT"), summary(v))
        check("busy-healthy: no verdict of the TCP rules",
              not of(v, "CAPF_UNREACHABLE") and not of(v, "CAPF_SERVICE_DOWN"), summary(v))

        v = write_and_run(tmp, "dead-server", dead_server())
        print("  dead-server:", summary(v))
        check("dead-server: no TCP_QUEUE_LIMIT", not of(v, "TCP_QUEUE_LIMIT"), summary(v))

    if failures:
        print("%d check(s) failed: %s" % (len(failures), ", ".join(failures)))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
