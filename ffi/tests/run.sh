#!/usr/bin/env bash
# The C tests of libcertmint (`make -C ffi test`). Fixtures are made here with the certmint CLI
# and OpenSSL: a throwaway hierarchy, the same intermediate key encrypted, and a CA whose key
# lives in a SoftHSM2 token. Then:
#   1. api_test (AddressSanitizer + UBSan, static library): basics, 8 threads x 10,000 lookups
#      over 1,000 hosts, fork with a software CA and with the SoftHSM2 CA;
#   2. api_test under valgrind (shared library, smaller sizes): zero errors, no definite leaks;
#   3. the OpenSSL glue through certmint-openssl-demo with curl, openssl s_client, gnutls-cli
#      and Python's ssl, each trusting only the interception root, P-256 and RSA-2048 CAs,
#      RSA-only and ECDSA-only clients.
# A missing tool fails under CI=true and is skipped with a message otherwise.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
OUT=${OUT:-$root/target/ffi}
CERTMINT=${CERTMINT:-$root/target/debug/certmint}
if [[ ! -x $CERTMINT ]]; then
  (cd "$root" && cargo build --features cli --bin certmint)
fi
work=$(mktemp -d)
demo_pid=
cleanup() {
  [[ -n $demo_pid ]] && kill "$demo_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

step() { printf '\n--> %s\n' "$*"; }
missing() {
  if [[ ${CI:-} == true ]]; then
    echo "FAIL: $1 is required in CI" >&2
    exit 1
  fi
  echo "SKIP: $1 not installed"
}
have() { command -v "$1" >/dev/null 2>&1; }

step "fixtures"
"$CERTMINT" ca init --dir "$work/p256" --key-type p256 >/dev/null
"$CERTMINT" ca init --dir "$work/rsa" --key-type rsa2048 >/dev/null
openssl pkcs8 -topk8 -v2 aes-256-cbc -passout pass:c-test-pass \
  -in "$work/p256/intermediate-key.pem" -out "$work/p256/intermediate-key-enc.pem"
for ca in p256 rsa; do
  cat >"$work/$ca.toml" <<EOF
[[ca]]
id = "corp"
cert = "$work/$ca/intermediate.pem"
key = "$work/$ca/intermediate-key.pem"
EOF
done

hsm_config=
module=
for m in /usr/lib/softhsm/libsofthsm2.so /usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so; do
  [[ -f $m ]] && module=$m && break
done
if [[ -n $module ]] && have softhsm2-util; then
  export SOFTHSM2_CONF=$work/softhsm2.conf
  mkdir "$work/tokens"
  printf 'directories.tokendir = %s\nobjectstore.backend = file\n' "$work/tokens" >"$SOFTHSM2_CONF"
  softhsm2-util --init-token --free --label certmint-c --so-pin 5678 --pin 1234 >/dev/null
  printf '1234' >"$work/pin"
  uri="pkcs11:token=certmint-c;object=c-ca?module-path=$module&pin-source=file:$work/pin"
  "$CERTMINT" ca csr --subject 'CN=certmint C test HSM CA' --key-out "$uri" \
    --out "$work/hsm.csr" >/dev/null
  openssl x509 -req -in "$work/hsm.csr" -CA "$work/p256/root.pem" \
    -CAkey "$work/p256/root-key.pem" -copy_extensions copyall -days 30 \
    -out "$work/hsm.pem" 2>/dev/null
  cat >"$work/hsm.toml" <<EOF
[[ca]]
id = "hsm"
cert = "$work/hsm.pem"
key = "$uri"
EOF
  hsm_config=$work/hsm.toml
else
  missing "SoftHSM2 (softhsm2)"
fi

export ASAN_OPTIONS=detect_leaks=0:abort_on_error=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
asan=$OUT/api_test_asan
step "api_test basics (ASan/UBSan)"
"$asan" basics "$work/p256.toml" "$work/p256/root.pem" "$work/p256"
step "api_test threads: 8 x 10000 lookups over 1000 hosts (ASan/UBSan)"
"$asan" threads "$work/p256.toml" "$work/p256/root.pem" 8 10000 1000
step "api_test fork, software CA (ASan/UBSan)"
"$asan" fork "$work/p256.toml" "$work/p256/root.pem"
if [[ -n $hsm_config ]]; then
  step "api_test fork, SoftHSM2 CA (ASan/UBSan)"
  "$asan" fork "$hsm_config" "$work/p256/root.pem"
fi

if have valgrind; then
  vg=(valgrind -q --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite
    --show-leak-kinds=definite)
  step "api_test basics (valgrind)"
  CERTMINT_TEST_UNDER_VALGRIND=1 "${vg[@]}" "$OUT/api_test" basics "$work/p256.toml" "$work/p256/root.pem" "$work/p256"
  step "api_test threads: 4 x 200 lookups over 50 hosts (valgrind)"
  "${vg[@]}" "$OUT/api_test" threads "$work/p256.toml" "$work/p256/root.pem" 4 200 50
  step "api_test fork, software CA (valgrind; the child's own leak report is not counted)"
  CERTMINT_TEST_UNDER_VALGRIND=1 "${vg[@]}" --child-silent-after-fork=yes "$OUT/api_test" fork "$work/p256.toml" "$work/p256/root.pem"
else
  missing valgrind
fi

# --- the OpenSSL glue, through the demo server and real clients -------------------------------
start_demo() {
  "$OUT/bin/certmint-openssl-demo" --listen 127.0.0.1:0 "$@" >"$work/demo.log" 2>&1 &
  demo_pid=$!
  for _ in $(seq 100); do
    grep -q '^listening on' "$work/demo.log" 2>/dev/null && break
    sleep 0.05
  done
  port=$(sed -n 's/^listening on 127.0.0.1://p' "$work/demo.log")
  [[ -n $port ]] || { cat "$work/demo.log"; exit 1; }
}
stop_demo() {
  kill -INT "$demo_pid"
  wait "$demo_pid"
  demo_pid=
  grep -q '^stopped' "$work/demo.log" || { cat "$work/demo.log"; exit 1; }
}
expect() { # expect NEEDLE TEXT...
  local needle=$1
  shift
  if ! grep -q -- "$needle" <<<"$*"; then
    echo "FAIL: expected '$needle' in: $*" >&2
    exit 1
  fi
}

for ca in p256 rsa; do
  rootpem=$work/$ca/root.pem
  step "certmint-openssl-demo, $ca CA"
  if [[ $ca == p256 ]]; then
    start_demo --config "$work/p256.toml"
  else
    start_demo --ca-cert "$work/rsa/intermediate.pem" --ca-key "$work/rsa/intermediate-key.pem"
  fi
  host=www.$ca.example
  if have curl; then
    body=$(curl -sS --cacert "$rootpem" --resolve "$host:$port:127.0.0.1" "https://$host:$port/")
    expect "hello from certmint-openssl-demo: $host" "$body"
    body=$(curl -sS --cacert "$rootpem" --resolve "$host:$port:127.0.0.1" "https://$host:$port/")
    expect "cache hit" "$body"
    echo "curl: ok ($body)"
  else
    missing curl
  fi
  out=$(printf 'GET / HTTP/1.0\r\n\r\n' | openssl s_client -connect "127.0.0.1:$port" \
    -servername "s-client.$ca.example" -verify_hostname "s-client.$ca.example" \
    -CAfile "$rootpem" -verify_return_error -ign_eof 2>&1)
  expect "Verify return code: 0 (ok)" "$out"
  expect "hello from certmint-openssl-demo" "$out"
  # Clients that accept only one key family get a leaf of that family.
  out=$(printf 'GET / HTTP/1.0\r\n\r\n' | openssl s_client -connect "127.0.0.1:$port" \
    -servername "rsa-only.$ca.example" -verify_hostname "rsa-only.$ca.example" \
    -sigalgs 'rsa_pss_rsae_sha256:rsa_pkcs1_sha256' -CAfile "$rootpem" \
    -verify_return_error -ign_eof 2>&1)
  expect "Verify return code: 0 (ok)" "$out"
  expect "Server public key is 2048 bit" "$out"
  out=$(printf 'GET / HTTP/1.0\r\n\r\n' | openssl s_client -connect "127.0.0.1:$port" \
    -servername "ecdsa-only.$ca.example" -verify_hostname "ecdsa-only.$ca.example" \
    -sigalgs 'ecdsa_secp256r1_sha256' -CAfile "$rootpem" -verify_return_error -ign_eof 2>&1)
  expect "Verify return code: 0 (ok)" "$out"
  expect "Server public key is 256 bit" "$out"
  echo "openssl s_client: ok (default, RSA-only, ECDSA-only)"
  if have gnutls-cli; then
    for case in 'NORMAL|key' 'NORMAL:-SIGN-ALL:+SIGN-RSA-SHA256:+SIGN-RSA-PSS-RSAE-SHA256|RSA key 2048' \
      'NORMAL:-SIGN-ALL:+SIGN-ECDSA-SECP256R1-SHA256|EC/ECDSA key 256'; do
      prio=${case%|*} leaf=${case#*|}
      # gnutls-cli closes as soon as its stdin ends: keep it open until the answer is in.
      out=$( (printf 'GET / HTTP/1.0\r\n\r\n'; sleep 0.5) | gnutls-cli --x509cafile "$rootpem" \
        --priority "$prio" --port "$port" --sni-hostname "gnutls.$ca.example" \
        --verify-hostname "gnutls.$ca.example" 127.0.0.1 2>&1) || { echo "$out"; exit 1; }
      expect "hello from certmint-openssl-demo" "$out"
      expect "$leaf" "$(grep -A1 'Certificate\[0\] info' <<<"$out" | tail -1)"
    done
    echo "gnutls-cli: ok (default, RSA-only, ECDSA-only)"
  else
    missing gnutls-cli
  fi
  if have python3; then
    python3 - "$port" "$rootpem" "python.$ca.example" <<'PY'
import socket, ssl, sys
port, cafile, host = int(sys.argv[1]), sys.argv[2], sys.argv[3]
ctx = ssl.create_default_context(cafile=cafile)
with socket.create_connection(("127.0.0.1", port)) as raw:
    with ctx.wrap_socket(raw, server_hostname=host) as tls:
        tls.sendall(b"GET / HTTP/1.0\r\n\r\n")
        data = tls.recv(4096).decode()
assert "hello from certmint-openssl-demo: " + host in data, data
print("python ssl: ok")
PY
  else
    missing python3
  fi
  # A refused SNI fails the handshake with an alert and a logged reason.
  if printf '' | openssl s_client -connect "127.0.0.1:$port" -servername 'bad_host!' \
    -CAfile "$rootpem" -verify_return_error >/dev/null 2>&1; then
    echo "FAIL: a bad SNI was served" >&2
    exit 1
  fi
  stop_demo
  expect "refused bad_host!" "$(cat "$work/demo.log")"
  echo "refusal: alert sent and logged"
done
step "certmint-squid-crtd: the protocol, then a real Squid"
OUT=$OUT CERTMINT=$CERTMINT bash "$root/ffi/tests/squid.sh"

step "C tests passed"
