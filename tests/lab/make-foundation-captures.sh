#!/usr/bin/env bash
# Regenerates the foundation sample captures in pcaps/ from real TLS traffic
# (openssl s_server / s_client) on the loopback interface.
#
#   sudo tests/lab/make-foundation-captures.sh
#
# It builds a throw-away TEST PKI in a temporary directory (every subject
# carries O=enrollmon TEST PKI; no real key of anyone is involved), runs one
# TLS conversation per scenario on a fixed port while dumpcap records it, and
# writes for every scenario:
#   pcaps/<name>.pcapng   the capture (only that scenario's TCP port)
#   pcaps/<name>.keys     the NSS key log written by s_server and s_client
# plus pcaps/pki/*.pem (the public CA certificates, usable as trust stores)
# and pcaps/rsa-kx-cbc-8443.server-key.pem (the private key of the server of
# the RSA key exchange scenario, a test key kept for RSA decryption tests).
# pcaps/README.md describes what each capture contains.
#
# Root is needed for the capture only.  The content of the captures (who
# sends which certificate, which alert, in which frame, how the connections
# end) is the same on every run, and checked with tshark when it is there;
# keys, signatures, times and client ports are not.  It takes about half a
# minute.  LAB_KEEP_WORKDIR=1 keeps the temporary directory (the PKI and the
# s_server / s_client logs) for a look after the run.
set -euo pipefail

say() { printf 'make-foundation-captures: %s\n' "$*" >&2; }
die() { say "$*"; exit 2; }

if [ "$(id -u)" -ne 0 ]; then
  die "must run as root to capture on the loopback interface: sudo $0"
fi
for tool in openssl dumpcap ss timeout taskset; do
  command -v "$tool" >/dev/null 2>&1 || die "'$tool' is not installed (Debian: openssl, wireshark-common, iproute2, coreutils, util-linux)"
done

repo=$(cd "$(dirname "$0")/../.." && pwd)
if [ ! -f "$repo/meson.build" ] || [ ! -d "$repo/dissectors" ]; then
  die "cannot find the repository root above $(dirname "$0")"
fi

work=$(mktemp -d -t enrollmon-lab.XXXXXX)
chmod 755 "$work"            # dumpcap writes its file here
stage="$work/out"            # everything for pcaps/, moved in at the end
pki="$work/pki"
mkdir -p "$stage/pki" "$pki/newcerts"

# Background processes of the scenario that is running, ended on any exit.
dumpcap_pid=""
server_pid=""
cleanup() {
  local pid
  for pid in "$server_pid" "$dumpcap_pid"; do
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
    fi
  done
  if [ -n "${LAB_KEEP_WORKDIR:-}" ]; then say "work directory kept: $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------------------
# The TEST PKI.  Every certificate is signed with "openssl ca" so that the
# validity period and the serial number are fixed; only keys and signatures
# change from one run to the next.

NOT_BEFORE=240101000000Z
NOT_AFTER=491231235959Z

cat >"$pki/ca.cnf" <<EOF
[ ca ]
default_ca = lab

[ lab ]
dir            = $pki
database       = \$dir/index.txt
new_certs_dir  = \$dir/newcerts
serial         = \$dir/serial
default_md     = sha256
policy         = policy_any
unique_subject = no
email_in_dn    = no
copy_extensions = none

[ policy_any ]
organizationName       = supplied
organizationalUnitName = optional
commonName             = supplied

[ req ]
distinguished_name = req_dn
prompt             = no
[ req_dn ]
CN = unused

# A self-signed root CA.
[ ext_root ]
basicConstraints       = critical, CA:TRUE
keyUsage               = critical, keyCertSign, cRLSign
subjectKeyIdentifier   = hash

# An intermediate CA.
[ ext_intermediate ]
basicConstraints       = critical, CA:TRUE, pathlen:0
keyUsage               = critical, keyCertSign, cRLSign
subjectKeyIdentifier   = hash
authorityKeyIdentifier = keyid:always

# CUCM's CAPF certificate: self-signed, a TLS server certificate and the
# issuer of the cluster's LSCs at once.
[ ext_capf ]
basicConstraints       = critical, CA:TRUE
keyUsage               = critical, digitalSignature, keyEncipherment, keyCertSign
extendedKeyUsage       = serverAuth, clientAuth
subjectKeyIdentifier   = hash

# A phone certificate (MIC or LSC): a TLS client certificate.
[ ext_phone ]
basicConstraints       = critical, CA:FALSE
keyUsage               = critical, digitalSignature, keyEncipherment
extendedKeyUsage       = clientAuth
subjectKeyIdentifier   = hash
authorityKeyIdentifier = keyid:always

# CUCM's CallManager certificate: self-signed.
[ ext_cucm ]
basicConstraints       = critical, CA:FALSE
keyUsage               = critical, digitalSignature, keyEncipherment
extendedKeyUsage       = serverAuth, clientAuth
subjectKeyIdentifier   = hash
subjectAltName         = DNS:cucm-pub.example.test

# The CA web server's certificate (issued, or self-signed).
[ ext_web_issued ]
basicConstraints       = critical, CA:FALSE
keyUsage               = critical, digitalSignature, keyEncipherment
extendedKeyUsage       = serverAuth
subjectKeyIdentifier   = hash
authorityKeyIdentifier = keyid:always
subjectAltName         = DNS:ca.example.test

[ ext_web_self ]
basicConstraints       = critical, CA:FALSE
keyUsage               = critical, digitalSignature, keyEncipherment
extendedKeyUsage       = serverAuth
subjectKeyIdentifier   = hash
subjectAltName         = DNS:ca.example.test
EOF
: >"$pki/index.txt"

# make_cert NAME "/O=.../CN=..." EXTENSIONS SERIAL ISSUER
# ISSUER is the NAME of an earlier certificate, or "self".
make_cert() {
  local name=$1 subject=$2 ext=$3 serial=$4 issuer=$5
  local key="$pki/$name.key" csr="$pki/$name.csr" crt="$pki/$name.pem"
  openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$key" 2>/dev/null
  openssl req -new -config "$pki/ca.cnf" -key "$key" -subj "$subject" -out "$csr"
  printf '%s\n' "$serial" >"$pki/serial"
  local signer=(-selfsign -keyfile "$key")
  [ "$issuer" = self ] || signer=(-cert "$pki/$issuer.pem" -keyfile "$pki/$issuer.key")
  openssl ca -batch -config "$pki/ca.cnf" "${signer[@]}" -in "$csr" -out "$crt" \
    -extensions "$ext" -startdate "$NOT_BEFORE" -enddate "$NOT_AFTER" -notext -preserveDN 2>"$pki/ca.log" ||
    { cat "$pki/ca.log" >&2; die "could not sign $name"; }
}

say "making the TEST PKI"
T="/O=enrollmon TEST PKI"
# (a) the MIC hierarchy
make_cert mic-root         "$T/CN=Cisco Root CA M2 (TEST)"      ext_root         0A01 self
make_cert mic-intermediate "$T/CN=Cisco Manufacturing CA SHA2"  ext_intermediate 0A02 mic-root
make_cert mic-sep74a0      "$T/CN=SEP74A02FC0A675"              ext_phone        0A03 mic-intermediate
# (b) cluster A: CAPF and an LSC it issued
make_cert capf-1a2b3c4d    "$T/CN=CAPF-1a2b3c4d"                ext_capf         0B01 self
make_cert lsc-sep74a0      "$T/CN=SEP74A02FC0A675"              ext_phone        0B02 capf-1a2b3c4d
# (c) cluster B: CAPF and an LSC it issued
make_cert capf-9f8e7d6c    "$T/CN=CAPF-9f8e7d6c"                ext_capf         0C01 self
make_cert lsc-sep001122    "$T/CN=SEP001122334455"              ext_phone        0C02 capf-9f8e7d6c
# (d) CUCM's CallManager certificate
make_cert cucm             "$T/CN=cucm-pub.example.test"        ext_cucm         0D01 self
# (e) the web CA and the CA web server
make_cert web-root         "$T/CN=enrollmon Test Root CA"       ext_root         0E01 self
make_cert web-intermediate "$T/CN=enrollmon Test Issuing CA"    ext_intermediate 0E02 web-root
make_cert web-leaf         "$T/CN=ca.example.test"              ext_web_issued   0E03 web-intermediate
make_cert web-self         "$T/CN=ca.example.test"              ext_web_self     0E04 self

for ca in capf-1a2b3c4d capf-9f8e7d6c mic-root mic-intermediate web-root web-intermediate; do
  cp "$pki/$ca.pem" "$stage/pki/$ca.pem"
done

# ---------------------------------------------------------------------------
# Running the scenarios.

# What the client sends once its handshake succeeded (s_server -rev sends it
# back reversed).
PAYLOAD="enrollmon test: hello over TLS"

# wait_for FILE PATTERN SECONDS: until FILE holds a line matching PATTERN.
wait_for() {
  local file=$1 pattern=$2 tenths=$(( $3 * 10 ))
  while [ "$tenths" -gt 0 ]; do
    grep -q -- "$pattern" "$file" 2>/dev/null && return 0
    sleep 0.1
    tenths=$(( tenths - 1 ))
  done
  return 1
}

# Client and server run on one CPU under the real-time FIFO policy, the client
# above the server: whoever has sent something keeps the CPU until it waits,
# and other work on the machine cannot delay either.  So the segments come in
# the same order on every run (when the client closes, its close_notify and
# its FIN both leave before the server answers with its own close_notify).
cpu=$(taskset -pc $$ | sed 's/.*: *//; s/[,-].*//')
if chrt -f 10 true 2>/dev/null; then
  CLIENT_SCHED=(taskset -c "$cpu" chrt -f 20)
  SERVER_SCHED=(taskset -c "$cpu" chrt -f 10)
else
  say "warning: cannot use real-time scheduling here (chrt -f); the order of the closing segments may vary"
  CLIENT_SCHED=(taskset -c "$cpu")
  SERVER_SCHED=(taskset -c "$cpu" nice -n 19)
fi

capture_once() {
  local name=$1 port=$2
  local pcap="$stage/$name.pcapng" log="$work/$name"
  rm -f "$pcap" "$log".*

  if [ -n "$(ss -Htln "sport = :$port")" ]; then
    die "TCP port $port is already in use on this machine (ss -tlnp 'sport = :$port' names the program); stop it and run again"
  fi

  # The capture: only this scenario's port, so other loopback traffic stays out.
  dumpcap -i lo -f "tcp port $port" -w "$pcap" \
    --capture-comment "enrollmon sample capture $name (TEST PKI, loopback), made by tests/lab/make-foundation-captures.sh" \
    >"$log.dumpcap" 2>&1 &
  dumpcap_pid=$!
  # dumpcap names its output file once the interface is open and the filter set.
  wait_for "$log.dumpcap" '^File: ' 10 || { cat "$log.dumpcap" >&2; die "dumpcap did not start"; }
  sleep 0.3

  "${SERVER_SCHED[@]}" openssl s_server "${SERVER[@]}" -naccept 1 -rev -keylogfile "$log.server-keys" \
    </dev/null >"$log.server" 2>&1 &
  server_pid=$!
  wait_for "$log.server" '^ACCEPT' 10 || { cat "$log.server" >&2; die "s_server did not start"; }

  # The client's one line comes half a second after it connected, so the
  # handshake (TLS 1.3 session tickets included) is over before; it reads the
  # answer, then its input ends and it closes the connection with close_notify.
  { sleep 0.5; printf '%s\n' "$PAYLOAD"; sleep 1; } |
    timeout 20 "${CLIENT_SCHED[@]}" openssl s_client "${CLIENT[@]}" -keylogfile "$log.client-keys" >"$log.client" 2>&1 || true

  local tenths=50
  while kill -0 "$server_pid" 2>/dev/null && [ "$tenths" -gt 0 ]; do sleep 0.1; tenths=$(( tenths - 1 )); done
  if kill -0 "$server_pid" 2>/dev/null; then
    say "s_server did not finish after the client; stopping it"
    kill -TERM "$server_pid" 2>/dev/null || true
  fi
  wait "$server_pid" 2>/dev/null || true
  server_pid=""

  sleep 0.5   # let the last segments reach the capture
  kill -TERM "$dumpcap_pid"
  wait "$dumpcap_pid" 2>/dev/null || true
  dumpcap_pid=""

  # One key log per capture: the secrets as both ends wrote them, once each.
  cat "$log.client-keys" "$log.server-keys" 2>/dev/null | awk 'NF && !seen[$0]++' >"$stage/$name.keys"
}

# shape FILE PORT KEYS: "<frames> <alerts> <anomalies>" as tshark sees the
# capture: the number of frames, every TLS alert as frame:code (decrypted with
# the key log), and how many frames tshark's TCP analysis flags
# (retransmissions, lost segments, ...).
shape() {
  local file=$1 port=$2 keys=$3
  local frames alerts anomalies
  frames=$(tshark -r "$file" 2>/dev/null | wc -l)
  alerts=$(tshark -r "$file" -d "tcp.port==$port,tls" -o "tls.keylog_file:$keys" -Y tls.alert_message \
             -T fields -e frame.number -e tls.alert_message.desc 2>/dev/null |
           awk -F'\t' '{ printf "%s%s:%s", (NR > 1 ? "," : ""), $1, $2 }')
  anomalies=$(tshark -r "$file" -Y tcp.analysis.flags 2>/dev/null | wc -l)
  printf '%s %s %s' "$frames" "${alerts:--}" "$anomalies"
}

# capture NAME PORT FRAMES ALERTS: one scenario, with the arrays SERVER
# (s_server options) and CLIENT (s_client options) set by the caller.  The
# capture must come out with FRAMES frames and the TLS alerts ALERTS
# (frame:code,...; pcaps/README.md cites these frames); it is made again
# (three attempts) when it does not.
capture() {
  local name=$1 port=$2 want="$3 $4 0" got attempt
  say "scenario $name (TCP port $port)"
  for attempt in 1 2 3; do
    capture_once "$name" "$port"
    if [ "$have_tshark" = no ]; then return 0; fi
    got=$(shape "$stage/$name.pcapng" "$port" "$stage/$name.keys")
    [ "$got" = "$want" ] && return 0
    say "  attempt $attempt: got frames/alerts/anomalies '$got', want '$want'"
  done
  say "scenario $name did not come out as expected; see the log above"
  exit 1
}

have_tshark=yes
if ! command -v tshark >/dev/null 2>&1; then
  have_tshark=no
  say "warning: tshark is not installed (Debian: tshark): the captures are not checked"
fi

P="$pki"
TLS12=(-tls1_2 -cipher ECDHE-RSA-AES128-GCM-SHA256)

# A phone with cluster B's LSC connects to cluster A's CAPF, which trusts only
# its own CAPF certificate: the server rejects the client certificate.
SERVER=(-accept 127.0.0.1:3804 "${TLS12[@]}" -cert "$P/capf-1a2b3c4d.pem" -key "$P/capf-1a2b3c4d.key"
        -Verify 1 -verify_return_error -CAfile "$P/capf-1a2b3c4d.pem")
CLIENT=(-connect 127.0.0.1:3804 "${TLS12[@]}" -cert "$P/lsc-sep001122.pem" -key "$P/lsc-sep001122.key")
capture lsc-foreign-cluster-3804 3804 12 9:48

# A phone without LSC presents its MIC and the manufacturing CA to CUCM (SIP
# TLS), which trusts the MIC root.
SERVER=(-accept 127.0.0.1:5061 "${TLS12[@]}" -cert "$P/cucm.pem" -key "$P/cucm.key"
        -Verify 2 -verify_return_error -CAfile "$P/mic-root.pem")
CLIENT=(-connect 127.0.0.1:5061 "${TLS12[@]}" -cert "$P/mic-sep74a0.pem" -key "$P/mic-sep74a0.key"
        -cert_chain "$P/mic-intermediate.pem")
capture mic-accepted-5061 5061 19 14:0,16:0

# A phone presents cluster A's LSC to CUCM (SCCP TLS), which trusts cluster A's CAPF.
SERVER=(-accept 127.0.0.1:2443 "${TLS12[@]}" -cert "$P/cucm.pem" -key "$P/cucm.key"
        -Verify 1 -verify_return_error -CAfile "$P/capf-1a2b3c4d.pem")
CLIENT=(-connect 127.0.0.1:2443 "${TLS12[@]}" -cert "$P/lsc-sep74a0.pem" -key "$P/lsc-sep74a0.key")
capture lsc-accepted-2443 2443 19 14:0,16:0

# The CA web server presents a self-signed certificate; the client trusts the
# web root only and rejects it.
SERVER=(-accept 127.0.0.1:443 "${TLS12[@]}" -cert "$P/web-self.pem" -key "$P/web-self.key")
CLIENT=(-connect 127.0.0.1:443 "${TLS12[@]}" -servername ca.example.test
        -CAfile "$P/web-root.pem" -verify 5 -verify_return_error)
capture web-self-signed-443 443 11 8:48

# Over IPv6: the CA web server sends its certificate and the issuing CA; the
# client verifies the chain and the name.
SERVER=(-6 -accept "[::1]:443" "${TLS12[@]}" -cert "$P/web-leaf.pem" -key "$P/web-leaf.key"
        -cert_chain "$P/web-intermediate.pem")
CLIENT=(-6 -connect "[::1]:443" "${TLS12[@]}" -servername ca.example.test
        -CAfile "$P/web-root.pem" -verify 5 -verify_return_error -verify_hostname ca.example.test)
capture web-chain-ok-ipv6-443 443 19 14:0,16:0

# TLS 1.3: cluster A's LSC accepted by cluster A's CAPF; the certificates are
# encrypted on the wire.
TLS13=(-tls1_3 -ciphersuites TLS_AES_128_GCM_SHA256)
SERVER=(-accept 127.0.0.1:3804 "${TLS13[@]}" -cert "$P/capf-1a2b3c4d.pem" -key "$P/capf-1a2b3c4d.key"
        -Verify 1 -verify_return_error -CAfile "$P/capf-1a2b3c4d.pem")
CLIENT=(-connect 127.0.0.1:3804 "${TLS13[@]}" -cert "$P/lsc-sep74a0.pem" -key "$P/lsc-sep74a0.key")
capture tls13-lsc-3804 3804 20 15:0,17:0

# TLS 1.2 with RSA key exchange and AES-CBC (AES128-SHA) to CUCM on 8443; the
# server's private key is kept so the capture can be decrypted with it.
SERVER=(-accept 127.0.0.1:8443 -tls1_2 -cipher AES128-SHA -cert "$P/cucm.pem" -key "$P/cucm.key")
CLIENT=(-connect 127.0.0.1:8443 -tls1_2 -cipher AES128-SHA)
capture rsa-kx-cbc-8443 8443 19 14:0,16:0
cp "$P/cucm.key" "$stage/rsa-kx-cbc-8443.server-key.pem"

# ---------------------------------------------------------------------------
out="$repo/pcaps"
mkdir -p "$out/pki"
for f in "$stage"/*.pcapng "$stage"/*.keys "$stage"/*.pem; do
  install -m 644 "$f" "$out/"
done
for f in "$stage"/pki/*.pem; do
  install -m 644 "$f" "$out/pki/"
done
# Run through sudo: leave the files to the user who asked for them.
if [ -n "${SUDO_UID:-}" ]; then
  chown -R "$SUDO_UID:${SUDO_GID:-$SUDO_UID}" "$out"
fi
made=("$stage"/*.pcapng)
say "wrote ${#made[@]} captures to pcaps/ (see pcaps/README.md)"
