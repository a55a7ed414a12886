#!/usr/bin/env bash
# Live capture speed (not a test; never part of `meson test`).
#
#   sudo bench/live.sh
#
# 1. Builds a release enrollmon in build-bench/ and a replay capture in
#    build-bench/bench-work/live/: the lab's captures (pcaps/, Ethernet)
#    laid end to end, then REPLICAS copies of that (default 16), each with
#    other addresses (`tcprewrite --seed=K`), so that flows spread over the
#    workers, which are chosen by address pair.
# 2. Makes a veth pair, one end in a network namespace of its own, and for
#    1 and for 2 workers searches the highest replay rate (tcpreplay --pps,
#    the capture looped for at least TRIAL_SECONDS seconds, default 6) at which a
#    live `enrollmon -i` drops nothing: the capture layer's kernel and
#    interface drop counters stay 0 and every frame sent is analysed.  The
#    kernel buffer is BUFFER_MB (default 8 MiB, small on purpose: a large
#    buffer hides a rate the workers cannot keep up with for a few seconds).
# 3. Reads the same capture offline with 1 and 2 workers, and measures
#    tcpreplay's own top speed on the veth pair (the reference of the run).
# Prints packets/s and Mbit/s, each as a share of tcpreplay's top speed
# measured in the same run (the machine may be shared and noisy).  Timing
# never fails the script; a missing tool, privilege or build does.
set -euo pipefail
cd "$(dirname "$0")/.."
export LC_ALL=C

BUILD=build-bench
WORK=$BUILD/bench-work/live
REPLICAS=${REPLICAS:-16}
SECONDS_PER_TRIAL=${TRIAL_SECONDS:-6}
BUFFER_MB=${BUFFER_MB:-8}
NS=enrollmon-bench
A=enb-a
B=enb-b

say() { printf 'bench: %s\n' "$*" >&2; }
die() { printf 'bench: error: %s\n' "$*" >&2; exit 2; }

[ "$(id -u)" = 0 ] || die "run as root: it makes a network namespace and captures on it"
for tool in ip tcpreplay tcprewrite editcap mergecap capinfos meson ninja python3; do
  command -v "$tool" >/dev/null || die "$tool is missing (./run.sh installs the packages)"
done

[ -f "$BUILD/build.ninja" ] || meson setup "$BUILD" --buildtype=release >/dev/null
ninja -C "$BUILD" enrollmon >/dev/null
EXE=$PWD/$BUILD/enrollmon

# ---------------------------------------------------------------- capture ---
mkdir -p "$WORK"
CAP=$WORK/live-x$REPLICAS.pcap
if [ ! -f "$CAP" ]; then
  say "building $CAP"
  parts=()
  for f in pcaps/*.pcapng; do
    out=$WORK/part-$(basename "$f" .pcapng).pcap
    editcap -F pcap "$f" "$out" >/dev/null
    parts+=("$out")
  done
  mergecap -a -F pcap -w "$WORK/base.pcap" "${parts[@]}"
  reps=()
  for ((k = 1; k <= REPLICAS; k++)); do
    tcprewrite --seed="$k" -i "$WORK/base.pcap" -o "$WORK/rep-$k.pcap" >/dev/null 2>&1
    reps+=("$WORK/rep-$k.pcap")
  done
  mergecap -a -F pcap -w "$CAP" "${reps[@]}"
  rm -f "${parts[@]}" "${reps[@]}"
fi
PACKETS=$(capinfos -c -M "$CAP" | awk -F': *' '/Number of packets/ {print $2}')
BYTES=$(capinfos -d -M "$CAP" | awk -F': *' '/Data size/ {print $2+0}')
AVG_BITS=$(awk -v b="$BYTES" -v p="$PACKETS" 'BEGIN {printf "%.1f", b * 8 / p}')
say "capture: $PACKETS packets, $BYTES bytes ($AVG_BITS bits a packet on average)"

# ---------------------------------------------------------------- veth ---
cleanup() { ip netns del "$NS" 2>/dev/null || true; ip link del "$A" 2>/dev/null || true; }
trap cleanup EXIT
cleanup
ip netns add "$NS" || die "cannot make a network namespace here"
ip link add "$A" mtu 65535 type veth peer name "$B" mtu 65535
ip link set "$B" netns "$NS"
ip link set "$A" up
ip netns exec "$NS" ip link set "$B" up
ip netns exec "$NS" ip link set lo up
sleep 1

# tcpreplay's packets/s from its summary line ("Rated: ... bps, ... Mbps, N pps").
replay() { # replay ARGS... -> prints "sent pps"
  tcpreplay -i "$A" "$@" "$CAP" 2>&1 | awk '
    /Actual:/ {sent=$2}
    /Rated:/ {for (i = 1; i <= NF; i++) if ($i == "pps") pps=$(i-1)}
    END {printf "%d %d\n", sent, pps}'
}

# One live run at a rate: "lossless sent analysed kernel_drops if_drops".
trial() { # workers pps
  local workers=$1 pps=$2 loops out pid
  loops=$(awk -v p="$PACKETS" -v r="$pps" -v s="$SECONDS_PER_TRIAL" 'BEGIN {n = int(r * s / p) + 1; print n}')
  out=$WORK/trial.json
  rm -f "$out"
  ip netns exec "$NS" "$EXE" -i "$B" --workers "$workers" --buffer-mb "$BUFFER_MB" --stats-interval 0 \
    -q --json "$out" >/dev/null 2>"$WORK/trial.err" &
  pid=$!
  sleep 1
  read -r sent _ < <(replay --pps="$pps" --loop="$loops")
  sleep 1
  kill -INT "$pid"; wait "$pid" || true
  python3 - "$out" "$sent" <<'EOF'
import json, sys
stats = [json.loads(l) for l in open(sys.argv[1]) if '"event_type":"stats"' in l]
s = stats[-1]["stats"]
d = s.get("drops") or {}
analysed = s["packets"]
sent = int(sys.argv[2])
k, i = d.get("kernel", 0), d.get("interface", 0)
print(int(k == 0 and i == 0 and analysed >= sent), sent, analysed, k, i)
EOF
}

say "tcpreplay top speed on the veth pair (the reference)"
read -r _ TOP_PPS < <(replay --topspeed)
say "top speed: $TOP_PPS packets/s"

declare -A BEST
for workers in 1 2; do
  lo=0; hi=$TOP_PPS; rate=$((TOP_PPS / 4))
  for step in 1 2 3 4 5 6 7; do
    read -r ok sent analysed kdrop idrop < <(trial "$workers" "$rate")
    say "workers $workers, $rate packets/s: sent $sent, analysed $analysed, kernel drops $kdrop, interface drops $idrop -> $([ "$ok" = 1 ] && echo lossless || echo LOSS)"
    if [ "$ok" = 1 ]; then lo=$rate; else hi=$rate; fi
    [ $((hi - lo)) -le $((TOP_PPS / 50 + 1)) ] && break
    rate=$(((lo + hi) / 2))
  done
  BEST[$workers]=$lo
done

offline() { # workers -> packets/s
  local start end
  start=$EPOCHREALTIME
  "$EXE" -r "$CAP" --workers "$1" -q >/dev/null
  end=$EPOCHREALTIME
  awk -v p="$PACKETS" -v a="$start" -v b="$end" 'BEGIN {printf "%d\n", p / (b - a)}'
}
OFF1=$(offline 1)
OFF2=$(offline 2)

row() { # label pps
  awk -v l="$1" -v p="$2" -v bits="$AVG_BITS" -v top="$TOP_PPS" 'BEGIN {
    printf "%-44s %10d packets/s %8.1f Mbit/s  %5.2f x tcpreplay top speed\n", l, p, p * bits / 1e6, p / top }'
}
echo
echo "live capture on a veth pair, $BUFFER_MB MiB kernel buffer, $PACKETS-packet capture looped for ${SECONDS_PER_TRIAL} s a trial"
row "tcpreplay top speed (reference)" "$TOP_PPS"
row "live, 1 worker: highest rate without drops" "${BEST[1]}"
row "live, 2 workers: highest rate without drops" "${BEST[2]}"
row "offline, 1 worker (same capture)" "$OFF1"
row "offline, 2 workers (same capture)" "$OFF2"
