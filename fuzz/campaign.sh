#!/usr/bin/env bash
# A fuzzing campaign: every target (or those named) run with libFuzzer for
# MINUTES each, a few at a time, then a table of executions, coverage
# (edges: libFuzzer's "cov"), corpus size and findings.
#
#   fuzz/campaign.sh [--minutes M] [--jobs J] [--seed-from DIR] [--keep-corpus] [TARGET...]
#
#   --minutes M      per target (default 30)
#   --jobs J         targets run at once (default 2, the cores of the machine
#                    the campaign was first run on)
#   --seed-from DIR  first merge DIR/<target>/ (e.g. make_seeds.py's output)
#                    into fuzz/corpus/<target>/, keeping only inputs that add
#                    coverage
#   --keep-corpus    afterwards, merge what the campaign found into
#                    fuzz/corpus/<target>/ (minimised the same way)
#   --report         run nothing: print the table of the last campaign's logs
#   --merge-only     run nothing: merge the last campaign's fuzz-work/<target>/corpus
#                    into fuzz/corpus/<target>/ (as --keep-corpus does)
#
# The build is build-fuzz (clang, -Dfuzzing=true, ASan and UBSan).  Work
# files (corpus grown, logs, crashing inputs) go to fuzz-work/<target>/.
# Each input may take at most 1 s (-timeout=1) and 2 GiB; leaks are
# findings.  A crash stops that target; its input is in fuzz-work/<target>/
# (crash-*, leak-*, timeout-*, oom-*): fix the bug, then copy the input into
# fuzz/corpus/<target>/ as regress-<what it was> so the normal test suite
# replays it from then on.
set -euo pipefail
cd "$(dirname "$0")/.."

MINUTES=30
JOBS=2
SEED_FROM=
KEEP=0
REPORT_ONLY=0
MERGE_ONLY=0
TARGETS=()
ALL_TARGETS=(tls x509 capf http pki dns keylog pipeline)
while [ $# -gt 0 ]; do
  case "$1" in
    --minutes) MINUTES=$2; shift 2 ;;
    --jobs) JOBS=$2; shift 2 ;;
    --seed-from) SEED_FROM=$2; shift 2 ;;
    --keep-corpus) KEEP=1; shift ;;
    --report) REPORT_ONLY=1; shift ;;
    --merge-only) MERGE_ONLY=1; shift ;;
    -h|--help) sed -n '2,26p' "$0"; exit 0 ;;
    -*) echo "campaign.sh: unknown option $1" >&2; exit 2 ;;
    *) TARGETS+=("$1"); shift ;;
  esac
done
[ ${#TARGETS[@]} -eq 0 ] && TARGETS=("${ALL_TARGETS[@]}")

say() { printf 'campaign: %s\n' "$*" >&2; }

run_campaign() {
  if [ ! -f build-fuzz/build.ninja ]; then
    CC=clang meson setup build-fuzz -Dfuzzing=true -Db_sanitize=address,undefined \
      -Db_lundef=false --buildtype=debugoptimized >/dev/null
  fi
  ninja -C build-fuzz $(printf 'fuzz/fuzz-%s ' "${TARGETS[@]}") >/dev/null

  # Key logs: the project's captures', and those of ../shared/pcaps-ext when
  # it is there, so that seeds cut from them decrypt.
  KEYS=$(mktemp -d)
  trap 'rm -rf "$KEYS"' EXIT
  cp pcaps/*.keys "$KEYS"/
  if [ -f ../shared/pcaps-ext/MANIFEST.tsv ]; then
    for k in $(grep -o 'keylog=[^[:space:]]*' ../shared/pcaps-ext/MANIFEST.tsv | cut -d= -f2 | sort -u); do
      [ -f "../shared/pcaps-ext/$k" ] && cp "../shared/pcaps-ext/$k" "$KEYS/ext-$k.keys"
    done
  fi
  export ENROLLMON_FUZZ_KEYLOG=$KEYS
  # Leaks are findings; UBSan stops at the first report (-fno-sanitize-recover).
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
  export UBSAN_OPTIONS=print_stacktrace=1

  COMMON=(-timeout=1 -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1)

  # fuzz/corpus/<target>/ becomes the smallest set of its inputs and
  # those of the directories given that covers the same edges (libFuzzer's
  # -merge=1 counting edges only, so the repository keeps a small corpus);
  # the regress-* cases stay as they are.
  merge_into_corpus() { # target from_dir...
    local t=$1; shift
    local fresh
    fresh=$(mktemp -d)
    mkdir -p "fuzz/corpus/$t"
    if ! "build-fuzz/fuzz/fuzz-$t" -merge=1 -use_counters=0 -use_value_profile=0 "${COMMON[@]}" \
        "$fresh" "fuzz/corpus/$t" "$@" >"fuzz-work/$t/merge.log" 2>&1; then
      say "$t: merge failed, see fuzz-work/$t/merge.log"
      rm -rf "$fresh"
      return 1
    fi
    # libFuzzer names inputs by their SHA-1: a regression case's copy goes.
    for r in "fuzz/corpus/$t"/regress-*; do
      [ -f "$r" ] && rm -f "$fresh/$(sha1sum "$r" | cut -c1-40)"
    done
    find "fuzz/corpus/$t" -type f ! -name 'regress-*' -delete
    cp "$fresh"/. "fuzz/corpus/$t"/ -r
    rm -rf "$fresh"
  }

  run_target() { # target
    local t=$1 dir="fuzz-work/$1"
    mkdir -p "$dir/corpus"
    if [ -n "$SEED_FROM" ] && [ -d "$SEED_FROM/$t" ]; then
      merge_into_corpus "$t" "$SEED_FROM/$t"
    fi
    say "$t: $MINUTES min"
    local status=0
    "build-fuzz/fuzz/fuzz-$t" "${COMMON[@]}" -max_total_time=$((MINUTES * 60)) \
      -artifact_prefix="$dir/" "$dir/corpus" "fuzz/corpus/$t" >"$dir/log" 2>&1 || status=$?
    echo "$status" >"$dir/status"
    if [ "$KEEP" = 1 ]; then
      merge_into_corpus "$t" "$dir/corpus"
    fi
  }

  if [ "$MERGE_ONLY" = 1 ]; then
    for t in "${TARGETS[@]}"; do
      merge_into_corpus "$t" "fuzz-work/$t/corpus"
    done
    return 0
  fi

  mkdir -p fuzz-work
  running=0
  for t in "${TARGETS[@]}"; do
    rm -rf "fuzz-work/$t"
    mkdir -p "fuzz-work/$t"
    run_target "$t" &
    running=$((running + 1))
    if [ "$running" -ge "$JOBS" ]; then
      wait -n || true
      running=$((running - 1))
    fi
  done
  wait || true
}

[ "$REPORT_ONLY" = 1 ] || run_campaign

# The table: libFuzzer's final statistics and its last coverage line.
status=0
printf '%-9s %12s %9s %7s %8s %8s  %s\n' target executions exec/s edges features corpus findings
for t in "${TARGETS[@]}"; do
  log="fuzz-work/$t/log"
  last() { grep -oE "$1 *[0-9]+" "$log" 2>/dev/null | tail -1 | awk '{print $NF}' || true; }
  execs=$(last 'stat::number_of_executed_units:')
  speed=$(last 'stat::average_exec_per_sec:')
  cov=$(last 'cov:')
  ft=$(last 'ft:')
  corpus=$(find "fuzz-work/$t/corpus" "fuzz/corpus/$t" -type f 2>/dev/null | wc -l)
  findings=$(find "fuzz-work/$t" -maxdepth 1 2>/dev/null -type f \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' -o -name 'slow-unit-*' \) | wc -l)
  printf '%-9s %12s %9s %7s %8s %8s  %s\n' "$t" "${execs:-?}" "${speed:-?}" "${cov:-?}" "${ft:-?}" "$corpus" "$findings"
  if [ "$findings" -ne 0 ] || [ "$(cat "fuzz-work/$t/status" 2>/dev/null)" != 0 ]; then
    status=1
  fi
done
exit $status
