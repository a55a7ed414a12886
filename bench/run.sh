#!/usr/bin/env bash
# The benchmark (not a test; never part of `meson test`).
#
#   bench/run.sh [--profile]
#
# 1. Builds a release enrollmon and the plain libpcap read loop in
#    build-bench/ (ignored by git, separate from every other build dir).
# 2. Builds the benchmark capture once and caches it in build-bench/bench-work/:
#    every capture in ../shared/pcaps-ext/ and pcaps/ is converted to Ethernet
#    pcap and laid one after the other in time (the "base"); the base is then
#    replicated with `tcprewrite --seed=K` (other addresses for every replica,
#    so flows never collide) and `editcap -t` (each replica starts after the
#    previous one ended), and the replicas are concatenated with `mergecap -a`
#    until the file is at least BENCH_MB megabytes (default 300).
# 3. Runs on that file, once each (the cheap ones best of 3): the libpcap read
#    loop, tcpdump, tshark, ndpiReader and enrollmon, and prints wall time,
#    MB/s, packets/s, peak RSS and the wall time as a multiple of the read
#    loop's, measured in the same run (the machine may be shared and noisy).
# 4. Runs enrollmon on the first 1/4 and 1/2 of the file to show whether its
#    peak memory grows with the capture's length.
# 5. With --profile, profiles enrollmon: `perf record` when hardware counters
#    work (`perf stat -e instructions true`), else callgrind on a 1/16 cut.
#
# Timing never fails the script; only a missing tool or a failed build does.
# Environment: BENCH_MB (default 300), BENCH_REBUILD=1 to rebuild the capture.
set -euo pipefail
cd "$(dirname "$0")/.."
# Decimal points in $EPOCHREALTIME and awk, whatever the locale.
export LC_ALL=C

BUILD=build-bench
WORK=$BUILD/bench-work
TARGET_MB=${BENCH_MB:-300}
PROFILE=0
for arg in "$@"; do
  case $arg in
    --profile) PROFILE=1 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench/run.sh: unknown argument '$arg' (try --help)" >&2; exit 2 ;;
  esac
done

say() { printf 'bench: %s\n' "$*" >&2; }
die() { printf 'bench: error: %s\n' "$*" >&2; exit 2; }

# ---------------------------------------------------------------- tools ---
check_tools() {
  local missing=() pkgs=() t pkg
  local -A package=(
    [meson]=meson [ninja]=ninja-build [cc]=gcc [pkg-config]=pkg-config
    [tcprewrite]=tcpreplay [editcap]=wireshark-common [mergecap]=wireshark-common
    [capinfos]=wireshark-common [tshark]=tshark [tcpdump]=tcpdump
    [ndpiReader]=libndpi-bin [awk]=gawk
  )
  for t in "${!package[@]}"; do
    command -v "$t" >/dev/null 2>&1 || { missing+=("$t"); pkgs+=("${package[$t]}"); }
  done
  # GNU time, not the shell keyword: it reports the peak RSS (%M).
  if [ ! -x /usr/bin/time ] || ! /usr/bin/time -f '%M' true >/dev/null 2>&1; then
    missing+=("/usr/bin/time (GNU)"); pkgs+=(time)
  fi
  if [ ${#missing[@]} -gt 0 ]; then
    say "missing tools: ${missing[*]}"
    say "install them with: apt-get install $(printf '%s\n' "${pkgs[@]}" | sort -u | tr '\n' ' ')"
    say "(./run.sh installs every one of these Debian packages)"
    exit 2
  fi
}

# ---------------------------------------------------------------- build ---
build() {
  if [ ! -f "$BUILD/build.ninja" ]; then
    say "meson setup $BUILD --buildtype=release"
    meson setup "$BUILD" --buildtype=release >/dev/null
  fi
  # Only the two programs measured: the tests are not needed here.
  ninja -C "$BUILD" enrollmon bench/pcap-read-loop >/dev/null \
    || die "the release build in $BUILD failed (run: ninja -C $BUILD enrollmon bench/pcap-read-loop)"
  ENROLLMON=$BUILD/enrollmon
  READLOOP=$BUILD/bench/pcap-read-loop
}

# ------------------------------------------------------ the capture ------
# Seconds between one input (or one replica) and the next in packet time.
GAP=2
# Inputs whose own timestamps span more than this (or run backwards over long
# stretches) are re-timed to one packet per millisecond first, so that the
# replicas fit in 32-bit pcap time and packet time only moves forward.
MAX_SPAN=3600
BASE_START=1700000000   # 2023-11-14, packet time of the base's first packet

fsize() { stat -c %s "$1"; }

# capinfos field helper: capinfos -T -r (table, no header) with the options given
cap() { capinfos -T -r "$@" 2>/dev/null | awk -F'\t' '{print $2}'; }

# Converts one input to an Ethernet, microsecond pcap in $2 with addresses
# rewritten by tcprewrite --seed=$3; returns 1 (after noting why in $NOTES)
# when it cannot.
normalise_one() {
  local in=$1 out=$2 seed=$3 name encap hdr v4 v6 ethertype span
  name=$(basename "$in")
  if ! capinfos -c "$in" >/dev/null 2>&1; then
    NOTES+=("skipped $name: damaged or cut short (capinfos cannot read it to the end)")
    return 1
  fi
  encap=$(cap -E "$in")
  case $encap in
    ether) hdr=-1 ;;
    null|loop) hdr=4 ;;
    linux-sll) hdr=16 ;;
    linux-sll2) hdr=20 ;;
    rawip|rawip4|rawip6) hdr=0 ;;
    *) NOTES+=("skipped $name: link type '$encap' has no conversion to Ethernet here"); return 1 ;;
  esac
  if [ "$hdr" -lt 0 ]; then
    editcap -F pcap "$in" "$out.1" 2>/dev/null || { NOTES+=("skipped $name: editcap cannot rewrite it as pcap"); return 1; }
  else
    # tcprewrite has no plugin for Linux cooked v2 and writes EtherType 0
    # when it turns BSD loopback or cooked v1 into Ethernet, so: strip the
    # link header with editcap (-L keeps the lengths consistent), mark the
    # packets raw IP, and give them a fixed Ethernet header with tcprewrite's
    # user DLT, EtherType after the IP version the file carries.
    v4=$(tshark -n -r "$in" -Y ip 2>/dev/null | wc -l)
    v6=$(tshark -n -r "$in" -Y ipv6 2>/dev/null | wc -l)
    if [ "$v4" -gt 0 ] && [ "$v6" -gt 0 ]; then
      NOTES+=("skipped $name: $encap link type with both IPv4 and IPv6 (no single EtherType)"); return 1
    fi
    if [ "$v6" -gt 0 ]; then ethertype=86,dd; else ethertype=08,00; fi
    editcap -F pcap -L -C "$hdr" -T rawip "$in" "$out.0" 2>/dev/null \
      && tcprewrite --dlt=user --user-dlt=1 \
           --user-dlink=02,00,00,00,00,02,02,00,00,00,00,01,$ethertype \
           -i "$out.0" -o "$out.1" >/dev/null 2>&1 \
      || { NOTES+=("skipped $name: could not convert $encap to Ethernet"); rm -f "$out.0" "$out.1"; return 1; }
    rm -f "$out.0"
    NOTES+=("converted $name: $encap -> Ethernet (link header replaced)")
  fi
  span=$(cap -u "$out.1")
  if awk -v s="$span" -v m="$MAX_SPAN" 'BEGIN{exit !(s > m)}'; then
    editcap -S -0.001 "$out.1" "$out.2" 2>/dev/null && mv "$out.2" "$out.1"
    NOTES+=("re-timed $name: its timestamps span ${span%.*} s (out of order); now 1 ms apart")
  fi
  # Addresses of its own for every input too (several share loopback or the
  # same connection), which also tells whether tcprewrite --seed can rewrite
  # every packet of it.
  if ! tcprewrite --seed="$seed" -i "$out.1" -o "$out" >/dev/null 2>&1; then
    NOTES+=("skipped $name: tcprewrite --seed cannot rewrite it"); rm -f "$out.1" "$out"; return 1
  fi
  rm -f "$out.1"
}

build_capture() {
  BENCH=$WORK/bench.pcap
  shopt -s nullglob
  local inputs=(../shared/pcaps-ext/*.pcap* pcaps/*.pcap*)
  shopt -u nullglob
  [ ${#inputs[@]} -gt 0 ] || die "no captures in ../shared/pcaps-ext/ nor pcaps/"
  # The cache is valid for the same inputs (names, sizes), size and script.
  local key
  key=$( { echo "$TARGET_MB $GAP $MAX_SPAN $BASE_START"; for f in "${inputs[@]}"; do echo "$f $(fsize "$f")"; done;
           sed -n '/^# ---.*the capture/,/^# ---.*measure/p' "$0"; } | md5sum | cut -d' ' -f1)
  if [ "${BENCH_REBUILD:-0}" != 1 ] && [ -f "$WORK/key" ] && [ "$(cat "$WORK/key")" = "$key" ] \
     && [ -f "$BENCH" ] && [ -f "$WORK/cut-1of4.pcap" ] && [ -f "$WORK/cut-1of2.pcap" ]; then
    say "reusing $BENCH ($(( $(fsize "$BENCH") / 1000000 )) MB; BENCH_REBUILD=1 rebuilds it)"
    [ -f "$WORK/notes" ] && cat "$WORK/notes" >&2
    return 0
  fi
  say "building the benchmark capture (>= $TARGET_MB MB) in $WORK/"
  rm -rf "$WORK"; mkdir -p "$WORK/norm" "$WORK/rep"
  NOTES=()
  # 1. Every input as Ethernet pcap, laid one after the other in time.
  local cursor=$BASE_START i=0 f n first span parts=()
  for f in "${inputs[@]}"; do
    case $f in *.keylog|*.txt|*.pem|*.tsv) continue ;; esac
    n=$(printf '%s/norm/%03d.pcap' "$WORK" "$i"); i=$((i + 1))
    normalise_one "$f" "$n.tmp" $((100000 + i)) || continue
    first=$(cap -a -S "$n.tmp"); span=$(cap -u "$n.tmp")
    editcap -t "$(awk -v c="$cursor" -v f="$first" 'BEGIN{printf "%.6f", c - f}')" "$n.tmp" "$n" 2>/dev/null
    rm -f "$n.tmp"
    cursor=$(awk -v c="$cursor" -v s="$span" -v g="$GAP" 'BEGIN{printf "%.6f", c + s + g}')
    parts+=("$n")
  done
  [ ${#parts[@]} -gt 0 ] || die "no input could be converted"
  local base=$WORK/base.pcap
  mergecap -a -F pcap -w "$base" "${parts[@]}"
  local base_span base_size copies shift_s k
  base_span=$(cap -u "$base"); base_size=$(fsize "$base")
  shift_s=$(awk -v s="$base_span" -v g="$GAP" 'BEGIN{printf "%d", s + g + 1}')
  copies=$(( (TARGET_MB * 1000000 + base_size - 1) / base_size ))
  NOTES+=("base: ${#parts[@]} captures, $base_size bytes, $(cap -c "$base") packets, ${base_span%.*} s of packet time")
  NOTES+=("replicas: $copies, replica K: tcprewrite --seed=K, editcap -t (K-1)*${shift_s} s")
  # 2. Replicas with their own addresses, each after the previous in time.
  for ((k = 1; k <= copies; k++)); do
    tcprewrite --seed="$k" -i "$base" -o "$WORK/rep/tmp.pcap" >/dev/null 2>&1 \
      || die "tcprewrite --seed=$k failed on $base"
    editcap -t $(( (k - 1) * shift_s )) "$WORK/rep/tmp.pcap" "$(printf '%s/rep/%04d.pcap' "$WORK" "$k")" 2>/dev/null
  done
  rm -f "$WORK/rep/tmp.pcap"
  # 3. One file, replicas in order (packet time only moves forward).
  mergecap -a -F pcap -w "$BENCH" "$WORK"/rep/[0-9]*.pcap
  rm -rf "$WORK/rep" "$WORK/norm"
  # The first quarter and half, for the memory-against-length runs.
  local packets
  packets=$(cap -c "$BENCH")
  editcap -r "$BENCH" "$WORK/cut-1of4.pcap" "1-$((packets / 4))" 2>/dev/null
  editcap -r "$BENCH" "$WORK/cut-1of2.pcap" "1-$((packets / 2))" 2>/dev/null
  printf 'bench: %s\n' "${NOTES[@]}" > "$WORK/notes"
  cat "$WORK/notes" >&2
  echo "$key" > "$WORK/key"
}

# -------------------------------------------------------------- measure ---
# run_timed LABEL CMD... : runs once; sets WALL (s) RSS (KB) STATUS.
run_timed() {
  local label=$1; shift
  local tf=$WORK/time.$label log=$WORK/log.$label t0 t1
  t0=$EPOCHREALTIME
  set +e
  /usr/bin/time -f '%M' -o "$tf" "$@" >"$log" 2>&1
  STATUS=$?
  set -e
  t1=$EPOCHREALTIME
  WALL=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.3f", b - a}')
  RSS=$(tail -n 1 "$tf")
}

# measure LABEL N CMD... : best (lowest wall) of N runs; appends a table row.
ROWS=()
measure() {
  local label=$1 n=$2; shift 2
  local best_wall="" best_rss="" st=0 i
  for ((i = 0; i < n; i++)); do
    run_timed "$label" "$@"
    [ "$STATUS" -eq 0 ] || st=$STATUS
    if [ -z "$best_wall" ] || awk -v a="$WALL" -v b="$best_wall" 'BEGIN{exit !(a < b)}'; then
      best_wall=$WALL; best_rss=$RSS
    fi
  done
  [ "$st" -eq 0 ] || say "$label exited with status $st (see $WORK/log.$label)"
  ROWS+=("$label|$n|$best_wall|$best_rss|$st")
  say "$label: ${best_wall} s, peak RSS $((best_rss / 1024)) MB"
}

print_table() {
  local file_mb=$1 packets=$2 read_wall=$3 read_rss=$4
  printf '\n%s: %.1f MB, %d packets; ratios against the libpcap read loop of this run\n' \
    "$BENCH" "$file_mb" "$packets"
  printf '%-12s %5s %9s %9s %12s %11s %10s %10s\n' tool runs 'wall s' 'MB/s' 'packets/s' 'peak RSS MB' 'x read t' 'x read RSS'
  local row label n wall rss st
  for row in "${ROWS[@]}"; do
    IFS='|' read -r label n wall rss st <<<"$row"
    awk -v l="$label" -v n="$n" -v w="$wall" -v r="$rss" -v st="$st" -v mb="$file_mb" -v p="$packets" \
        -v rw="$read_wall" -v rr="$read_rss" 'BEGIN{
      if (w <= 0) w = 0.001
      printf "%-12s %5s %9.2f %9.1f %12.0f %11.1f %10.1f %10.1f%s\n", l, (n > 1 ? "best" n : "1"), w, mb / w, p / w,
             r / 1024, w / rw, r / rr, (st != 0 ? "  (exit " st ")" : "")
    }'
  done
}

main() {
  check_tools
  build
  build_capture
  local file_mb packets
  file_mb=$(awk -v b="$(fsize "$BENCH")" 'BEGIN{printf "%.1f", b / 1e6}')
  say "warming the page cache"
  cat "$BENCH" >/dev/null
  say "measuring (the cheap ones best of 3)"
  measure read-loop 3 "$READLOOP" "$BENCH"
  packets=$(sed -n 's/.*packets=\([0-9]*\).*/\1/p' "$WORK/log.read-loop")
  [ -n "$packets" ] || die "the read loop printed no packet count (see $WORK/log.read-loop)"
  IFS='|' read -r _ _ READ_WALL READ_RSS _ <<<"${ROWS[0]}"
  measure tcpdump 3 tcpdump -n -r "$BENCH" -w /dev/null
  measure tshark 1 tshark -n -r "$BENCH" \
    -Y 'tls.handshake or http.request or http.response or tls.alert_message' \
    -T fields -e frame.number -e tls.handshake.type -e tls.handshake.extensions_server_name
  measure ndpiReader 1 ndpiReader -q -i "$BENCH"
  measure enrollmon 1 "$ENROLLMON" -r "$BENCH" --json /dev/null -q
  local full_wall full_rss
  IFS='|' read -r _ _ full_wall full_rss _ <<<"${ROWS[-1]}"
  print_table "$file_mb" "$packets" "$READ_WALL" "$READ_RSS"

  local verdict
  verdict=$(awk -v w="$full_wall" -v r="$READ_WALL" 'BEGIN{x = w / r; printf "%.1fx the read time: %s the 5x target", x, (x <= 5 ? "within" : "misses")}')
  printf '\nenrollmon: %s\n' "$verdict"
  case $verdict in *misses*) [ "$PROFILE" -eq 1 ] || printf '(bench/run.sh --profile shows what dominates)\n' ;; esac

  printf '\nenrollmon peak RSS against the length of the capture:\n'
  printf '%-10s %9s %9s %13s %9s\n' part 'MB' 'wall s' 'peak RSS MB' 'x read t'
  local part f
  for part in 1of4 1of2 all; do
    if [ "$part" = all ]; then
      WALL=$full_wall; RSS=$full_rss; f=$BENCH
    else
      f=$WORK/cut-$part.pcap
      cat "$f" >/dev/null
      run_timed "enrollmon-$part" "$ENROLLMON" -r "$f" --json /dev/null -q
      [ "$STATUS" -eq 0 ] || say "enrollmon on $f exited with status $STATUS"
    fi
    awk -v p="${part/of/\/}" -v b="$(fsize "$f")" -v w="$WALL" -v r="$RSS" -v rw="$READ_WALL" -v fb="$(fsize "$BENCH")" \
      'BEGIN{printf "%-10s %9.1f %9.2f %13.1f %9.1f\n", p, b / 1e6, w, r / 1024, w / (rw * b / fb)}'
  done
  printf '(x read t for a part: against the read time scaled to the part'\''s size)\n'
  printf 'enrollmon summary of the full run: %s\n' "$WORK/log.enrollmon"

  [ "$PROFILE" -eq 1 ] && profile
  return 0
}

# -------------------------------------------------------------- profile ---
# perf record when perf can count instructions; otherwise callgrind on the
# first 1/16 of the file (and, when perf can at least sample the clock, a
# flat time profile of the full run beside it).
profile() {
  printf '\nprofile of enrollmon -r FILE --json /dev/null -q\n'
  local hw=""
  command -v perf >/dev/null 2>&1 && hw=$(perf stat -e instructions true 2>&1 || true)
  if [ -n "$hw" ] && grep -q instructions <<<"$hw" && ! grep -q 'not supported\|not counted' <<<"$hw"; then
    perf record -o "$WORK/perf.data" -- "$ENROLLMON" -r "$BENCH" --json /dev/null -q >/dev/null 2>&1 || true
    perf report -i "$WORK/perf.data" --no-children --percent-limit 0.8 --stdio 2>/dev/null \
      | grep -v '^#' | grep -v '^$' | sed -n '1,40p'
    return 0
  fi
  if ! command -v valgrind >/dev/null 2>&1; then
    say "perf cannot count instructions here and valgrind is missing (apt-get install valgrind)"
    return 0
  fi
  local cut=$WORK/cut-1of16.pcap packets
  packets=$(cap -c "$BENCH")
  [ -f "$cut" ] || editcap -r "$BENCH" "$cut" "1-$((packets / 16))" 2>/dev/null
  printf 'perf cannot count instructions here: callgrind on the first 1/16 (%s)\n' "$cut"
  valgrind --tool=callgrind --callgrind-out-file="$WORK/callgrind.out" \
    "$ENROLLMON" -r "$cut" --json /dev/null -q >"$WORK/log.callgrind" 2>&1 || true
  printf '\ninstructions, self (top 30):\n'
  callgrind_annotate --inclusive=no "$WORK/callgrind.out" 2>/dev/null \
    | sed -n '/file:function/,$p' | sed -n '3,32p'
  printf '\ninstructions, inclusive (top 40):\n'
  callgrind_annotate --inclusive=yes "$WORK/callgrind.out" 2>/dev/null \
    | sed -n '/file:function/,$p' | sed -n '3,42p'
  printf '(callgrind data: %s; callgrind_annotate --tree=calling shows who calls what)\n' "$WORK/callgrind.out"
  if command -v perf >/dev/null 2>&1 \
     && perf record -e cpu-clock -o "$WORK/perf.data" -- "$ENROLLMON" -r "$BENCH" --json /dev/null -q >/dev/null 2>&1; then
    printf '\ncpu-clock samples of the full run (time, not instructions; self, >= 0.8%%):\n'
    perf report -i "$WORK/perf.data" --no-children --percent-limit 0.8 --stdio 2>/dev/null \
      | grep -v '^#' | grep -v '^$' | sed -n '1,30p'
  fi
}

main
