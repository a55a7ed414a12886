#!/usr/bin/env bash
# The project's two commands (see README.md):
#   ./run.sh        install what is missing, build, analyse the captures in pcaps/
#   ./run.sh test   install what is missing, build with AddressSanitizer and
#                   UndefinedBehaviorSanitizer, run every test; then a subset
#                   of them under valgrind's memcheck (README.md, "Under valgrind")
set -euo pipefail
cd "$(dirname "$0")"

# Every Debian package the project uses: to build, to test (valgrind too),
# and for the benchmark and the capture lab (tshark, tcpdump, tcpreplay,
# ndpiReader).
PACKAGES=(
  gcc clang libc6-dev pkg-config meson ninja-build python3
  libpcap-dev libssl-dev libndpi-dev libglib2.0-dev
  openssl tshark wireshark-common tcpdump tcpreplay libndpi-bin time valgrind
)

say() { printf 'run.sh: %s\n' "$*" >&2; }

install_missing() {
  local missing=()
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
      sudo=(sudo)
    else
      say "these Debian packages are missing and I am not root (nor is sudo there): ${missing[*]}"
      exit 2
    fi
  fi
  say "installing missing Debian packages: ${missing[*]}"
  # tshark asks whether non-root users may capture; answer for it.
  echo "wireshark-common wireshark-common/install-setuid boolean false" | "${sudo[@]}" debconf-set-selections
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
}

build() { # build DIR [meson options...]; quiet unless something fails
  local dir=$1; shift
  local log
  log=$(mktemp)
  if [ ! -f "$dir/build.ninja" ] && ! meson setup "$dir" "$@" >"$log" 2>&1; then
    cat "$log" >&2; rm -f "$log"; say "meson setup failed in $dir"; exit 2
  fi
  if ! ninja -C "$dir" >"$log" 2>&1; then
    cat "$log" >&2; rm -f "$log"; say "the build failed in $dir"; exit 2
  fi
  rm -f "$log"
}

main_job() {
  build build --buildtype=release
  shopt -s nullglob
  local captures=(pcaps/*.pcapng pcaps/*.pcap)
  if [ ${#captures[@]} -eq 0 ]; then
    say "no captures in pcaps/"
    exit 2
  fi
  mkdir -p out
  local args=()
  for c in "${captures[@]}"; do args+=(-r "$c"); done
  # Key logs beside the captures are for the decryption work; the
  # foundation reads the TLS layer only.
  ./build/enrollmon "${args[@]}" --json out/events.json
  say "events written to out/events.json"
}

test_job() {
  # The main command's release build too: optimisation brings warnings of
  # its own, and warnings are errors.
  build build --buildtype=release
  build build-test -Db_sanitize=address,undefined -Db_lundef=false
  # valgrind cannot run sanitizer builds: a plain one for it.
  build build-valgrind --buildtype=debugoptimized
  local status=0
  meson test -C build-test --print-errorlogs --num-processes 2 || status=$?
  # The suite `valgrind-ci` under memcheck: the whole suite under valgrind
  # takes too long for every run (README.md, "Under valgrind").
  local vglog=build-valgrind/meson-logs/testlog-valgrind.json
  rm -f "$vglog"
  meson test -C build-valgrind --setup valgrind --suite valgrind-ci --print-errorlogs \
    --num-processes 2 || status=$?
  # One plain line of counts, both runs together, for CI and for people.
  local counted=0
  python3 - build-test/meson-logs/testlog.json "$vglog" <<'PY' || counted=$?
import json, sys
counts = {"OK": 0, "FAIL": 0, "SKIP": 0, "TIMEOUT": 0, "ERROR": 0, "EXPECTEDFAIL": 0, "UNEXPECTEDPASS": 0}
for path in sys.argv[1:]:
    try:
        f = open(path)
    except OSError as e:  # that run did not even start: a failure
        print(f"run.sh: no test log: {e}", file=sys.stderr)
        counts["ERROR"] += 1
        continue
    with f:
        for line in f:
            line = line.strip()
            if line:
                r = json.loads(line).get("result", "ERROR")
                counts[r] = counts.get(r, 0) + 1
passed = counts["OK"] + counts["EXPECTEDFAIL"]
failed = counts["FAIL"] + counts["TIMEOUT"] + counts["ERROR"] + counts["UNEXPECTEDPASS"]
print(f"{passed} passed, {failed} failed, {counts['SKIP']} skipped")
sys.exit(1 if failed or passed == 0 else 0)
PY
  [ $status -eq 0 ] && [ $counted -eq 0 ]
}

install_missing
case "${1:-}" in
  "") main_job ;;
  test) test_job ;;
  *) say "usage: ./run.sh [test]"; exit 2 ;;
esac
