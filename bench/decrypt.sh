#!/usr/bin/env bash
# Decryption speed (not a test).
#
#   bench/decrypt.sh
#
# Builds a large key-logged capture by laying the public key-logged TLS 1.2
# stream of ../shared/pcaps-ext (zeek--tls-1.2-stream-keylog: AES-256-GCM,
# 157 kB of application data) end to end REPLICAS times (default 600, about
# 100 MB), then runs the release enrollmon on it without and with the key
# log.  The difference is what decrypting costs; the plaintext it produced
# (the stats event's decrypted_bytes) over that difference is the
# decryption speed, printed next to `openssl speed -evp` for the same cipher
# and for AES-128-GCM, measured in the same run.  Timing never fails the
# script.
set -euo pipefail
cd "$(dirname "$0")/.."
export LC_ALL=C
BUILD=build-bench
WORK=$BUILD/bench-work/decrypt
REPLICAS=${REPLICAS:-600}
SRC=../shared/pcaps-ext/zeek--tls-1.2-stream-keylog.pcap
KEYS=../shared/pcaps-ext/zeek--tls-1.2-stream-keylog.keylog

say() { printf 'bench: %s\n' "$*" >&2; }
for tool in editcap mergecap openssl meson ninja; do
  command -v "$tool" >/dev/null || { say "$tool is missing (./run.sh installs it)"; exit 2; }
done
[ -x /usr/bin/time ] || { say "GNU time is missing (Debian package time)"; exit 2; }
[ -f "$SRC" ] || { say "$SRC is not there: the decryption benchmark needs ../shared/pcaps-ext"; exit 2; }

[ -f "$BUILD/build.ninja" ] || meson setup "$BUILD" --buildtype=release >/dev/null
ninja -C "$BUILD" enrollmon >/dev/null
mkdir -p "$WORK"
BIG=$WORK/stream-x$REPLICAS.pcap
if [ ! -f "$BIG" ]; then
  say "building $BIG ($REPLICAS replicas, 20 s apart)"
  parts=()
  for ((k = 0; k < REPLICAS; k++)); do
    part=$WORK/part-$k.pcap
    editcap -t $((k * 20)) "$SRC" "$part"
    parts+=("$part")
  done
  mergecap -a -F pcap -w "$BIG" "${parts[@]}"
  rm -f "${parts[@]}"
fi
size=$(stat -c %s "$BIG")

measure() { # measure LABEL [enrollmon options...]: best wall seconds of 5 (ms resolution)
  local label=$1; shift
  python3 - "$BUILD/enrollmon" "$BIG" "$WORK/$label.json" "$@" <<'PY'
import subprocess, sys, time
exe, cap, out, extra = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
best = None
for _ in range(5):
    t = time.perf_counter()
    subprocess.run([exe, "-q", "-r", cap, "--json", out, *extra], stdout=subprocess.DEVNULL, check=True)
    t = time.perf_counter() - t
    best = t if best is None or t < best else best
print(f"{best:.4f}")
PY
}
say "measuring enrollmon without and with the key log (best of 5 each)"
t_plain=$(measure plain)
t_keys=$(measure keys --keylog "$KEYS")
read -r bytes records < <(python3 -c "
import json,sys
last, total = {}, 0
for l in open(sys.argv[1]):
    e=json.loads(l)
    if e['event_type']=='tls': last[e['flow_id']]=e['tls'].get('decryption',{})
    if e['event_type']=='stats': total=e['stats']['tls']['decrypted_bytes']
recs=sum(d.get('records_toserver',0)+d.get('records_toclient',0) for d in last.values())
print(total, recs)" "$WORK/keys.json")
avg=$(( records > 0 ? bytes / records : 16384 ))

speed() { # speed CIPHER BYTES: MB/s for blocks of BYTES
  openssl speed -evp "$1" -bytes "$2" -seconds 2 -mr 2>/dev/null |
    awk -F: '/^\+F:/ { printf "%.0f\n", $4 / 1e6 }'
}
say "measuring openssl speed"
ossl256=$(speed aes-256-gcm 16384)
ossl128=$(speed aes-128-gcm 16384)
ossl_avg=$(speed aes-256-gcm "$avg")

awk -v size="$size" -v tp="$t_plain" -v tk="$t_keys" -v b="$bytes" -v o256="$ossl256" -v o128="$ossl128" \
    -v oavg="$ossl_avg" -v avg="$avg" -v recs="$records" 'BEGIN {
  cost = tk - tp
  printf "capture: %.1f MB, %d replicas of a TLS 1.2 AES-256-GCM stream; plaintext decrypted: %.1f MB\n", size/1e6, '"$REPLICAS"', b/1e6
  printf "%-42s %8.3f s\n", "enrollmon without keys", tp
  printf "%-42s %8.3f s\n", "enrollmon with the key log", tk
  if (cost > 0) printf "%-42s %8.0f MB/s  (plaintext / extra time)\n", "decryption in enrollmon", b/1e6/cost
  else printf "%-42s %8s\n", "decryption in enrollmon", "too fast to separate from noise"
  printf "%-42s %8.0f MB/s  (16 KiB blocks)\n", "openssl speed -evp aes-256-gcm", o256
  printf "%-42s %8.0f MB/s  (16 KiB blocks)\n", "openssl speed -evp aes-128-gcm", o128
  printf "%-42s %8.0f MB/s  (%d-byte blocks: this capture'"'"'s average record)\n", "openssl speed -evp aes-256-gcm", oavg, avg
  if (cost > 0) {
    crypto = b/1e6/oavg
    printf "records decrypted: %d; extra time with the key log %.1f ms, of which the bare cipher needs %.1f ms\n", recs, cost*1000, crypto*1000
    printf "decryption in enrollmon runs at %.2fx the bare cipher on records of this size\n", (b/1e6/cost)/oavg
  }
}'
