#!/usr/bin/env python3
"""Timeouts in packet time, and every cap counted and reported when hit.

The captures are built here packet by packet: a connection that goes quiet
longer than the idle timeout and then speaks again (two flows, the first
ended by timeout); more connections than max-flows; out-of-order data past
the per-flow memory cap; more flow state than the global memory cap.  Each
run must finish, report the cap in the stats event and the summary, and
stay within the cap.
"""
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "streams"))
import pcaplib as P  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import enrollmon_cmd  # noqa: E402
failures = []
SECOND = 1_000_000_000


def check(name, ok, detail=""):
    print(("PASS " if ok else "FAIL ") + name + ("" if ok else ": " + detail))
    if not ok:
        failures.append(name)


def frame(ts_ns, src, dst, tcp):
    ip = P.IPv4(src, dst, 6, tcp.build(P.IPv4(src, dst, 6)))
    return P.Record(ts_ns, P.LINKTYPE_ETHERNET, P.link_encode(P.LINKTYPE_ETHERNET, ip.build()))


def handshake(t, client, server, cport, sport, cseq=1000, sseq=5000):
    return [
        frame(t, client, server, P.TCP(cport, sport, cseq, 0, P.TCP_SYN)),
        frame(t + 1000, server, client, P.TCP(sport, cport, sseq, cseq + 1, P.TCP_SYN | P.TCP_ACK)),
        frame(t + 2000, client, server, P.TCP(cport, sport, cseq + 1, sseq + 1, P.TCP_ACK)),
    ]


def run(tmp, name, records, config=None):
    cap = os.path.join(tmp, name + ".pcap")
    P.write_pcap(cap, P.LINKTYPE_ETHERNET, records)
    out = os.path.join(tmp, name + ".json")
    args = ["-r", cap, "--json", out]
    if config:
        conf = os.path.join(tmp, name + ".conf")
        with open(conf, "w") as f:
            f.write(config)
        args += ["--config", conf]
    p = subprocess.run(enrollmon_cmd.command(args), capture_output=True, text=True,
                       timeout=enrollmon_cmd.timeout(120))
    events = []
    if os.path.exists(out):
        with open(out) as f:
            events = [json.loads(line) for line in f if line.strip()]
    return p, events


def stats_of(events):
    s = [e for e in events if e["event_type"] == "stats"]
    return s[-1]["stats"] if s else {}


def main():
    with tempfile.TemporaryDirectory(prefix="enrollmon-limits-") as tmp:
        # 1. Idle timeout by packet time: 700 s of silence (default 600 s).
        recs = handshake(0, "10.0.0.1", "10.0.0.2", 40000, 80)
        recs.append(frame(3000, "10.0.0.1", "10.0.0.2", P.TCP(40000, 80, 1001, 5001, P.TCP_ACK | P.TCP_PSH, payload=b"hello")))
        recs.append(frame(700 * SECOND, "10.0.0.1", "10.0.0.2", P.TCP(40000, 80, 1006, 5001, P.TCP_ACK | P.TCP_PSH, payload=b"again")))
        p, events = run(tmp, "idle", recs)
        flows = [e for e in events if e["event_type"] == "flow"]
        ok = (p.returncode == 0 and len(flows) == 2 and flows[0]["flow"]["reason"] == "timeout"
              and flows[0]["pcap_cnt"] == 4 and flows[1]["tcp"]["midstream"] is True
              and flows[1]["flow"]["reason"] == "capture_end")
        check("idle timeout in packet time ends the flow; the late packet opens a new one", ok,
              f"rc={p.returncode} flows={[(f['flow']['reason'], f['pcap_cnt']) for f in flows]}")

        # A shorter timeout from the configuration is honoured.
        p, events = run(tmp, "idle-conf", recs, "[limits]\ntcp-idle-timeout=1000\n")
        flows = [e for e in events if e["event_type"] == "flow"]
        check("configured idle timeout (1000 s) keeps the flow whole", p.returncode == 0 and len(flows) == 1,
              f"flows={len(flows)}")

        # 2. max-flows: 40 connections, room for 10.
        recs = []
        for i in range(40):
            recs += handshake(i * 10_000_000, "10.1.0.1", "10.1.0.2", 41000 + i, 443)
        p, events = run(tmp, "maxflows", recs, "[limits]\nmax-flows=10\n")
        st = stats_of(events)
        flows = [e for e in events if e["event_type"] == "flow"]
        ok = (p.returncode == 0 and st.get("caps_hit", {}).get("max_flows") == 30
              and st["flows"]["evicted"] == 30 and len(flows) == 40
              and sum(1 for f in flows if f["flow"]["reason"] == "evicted") == 30
              and "max_flows=30" in p.stdout)
        check("max-flows: the stalest flows are retired, counted, reported, none lost from the output",
              ok, f"rc={p.returncode} caps={st.get('caps_hit')} flows={len(flows)} stdout={p.stdout[-300:]!r}")

        # 3. Per-flow memory: 64 KiB of out-of-order data behind a hole, cap 8 KiB.
        recs = handshake(0, "10.2.0.1", "10.2.0.2", 42000, 8443)
        chunk = bytes(range(256)) * 4  # 1 KiB
        t = 10_000
        for k in range(1, 65):  # segment 0 never arrives
            recs.append(frame(t, "10.2.0.1", "10.2.0.2",
                              P.TCP(42000, 8443, 1001 + k * len(chunk), 5001, P.TCP_ACK, payload=chunk)))
            t += 1000
        p, events = run(tmp, "flowmem", recs, "[limits]\nflow-memory-kb=8\n")
        st = stats_of(events)
        flows = [e for e in events if e["event_type"] == "flow"]
        tcp = flows[0]["tcp"] if flows else {}
        ok = (p.returncode == 0 and st.get("caps_hit", {}).get("flow_memory", 0) > 0
              and tcp.get("gaps", 0) >= 1 and "flow_memory=" in p.stdout
              and st["memory"]["peak"] < 8 * 1024 + 64 * 1024)
        check("per-flow memory: queueing stops at the cap, the hole becomes a gap, reported", ok,
              f"rc={p.returncode} caps={st.get('caps_hit')} tcp={tcp} peak={st.get('memory')}")

        # 4. Global memory: 6000 connections' state against a 1 MiB cap.
        recs = []
        for i in range(6000):
            a = "10.3.%d.%d" % (i // 250, i % 250 + 1)
            recs += handshake(i * 1_000_000, a, "10.3.255.1", 43000 + i % 20000, 443)
        p, events = run(tmp, "globalmem", recs, "[limits]\nglobal-memory-mb=1\n")
        st = stats_of(events)
        flows = [e for e in events if e["event_type"] == "flow"]
        mem = st.get("memory", {})
        ok = (p.returncode == 0 and len(flows) == 6000 and st["flows"]["evicted"] > 0
              and mem.get("peak", 1 << 30) <= mem.get("global_limit", 0)
              and "flows retired early" in p.stdout)
        check("global memory: flow state stays under the cap; the stalest flows are retired and counted",
              ok, f"rc={p.returncode} flows={len(flows)} evicted={st.get('flows', {}).get('evicted')} mem={mem}")

    print(f"{len(failures)} case(s) failed" if failures else "all cases passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
