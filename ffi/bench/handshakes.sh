#!/usr/bin/env bash
# Full TLS 1.3 handshakes per second, one compiled sequential client for every server, in one run.
#
# 1. certmint-openssl-demo with a P-256 CA: a distinct SNI on every connection (each handshake
#    mints) against one SNI (each handshake is a cache hit), the demo's own baseline.
# 2. The same two with an RSA-2048 CA, and HAProxy 2.6 `generate-certificates` (nbthread 1) with
#    that CA, distinct SNI. HAProxy runs only with the RSA CA: with an EC CA, HAProxy 2.6 gives
#    each generated certificate's SSL_CTX 1024-bit DH parameters (it sizes them from RSA/DSA keys
#    only), which Debian's OpenSSL (built with security level 2) refuses, so every handshake on
#    a new name fails ("dh key too small"). HAProxy is skipped with a message when absent.
#
#   bash ffi/bench/handshakes.sh [COUNT]        (after `make -C ffi` and `cargo build`)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
OUT=${OUT:-$root/target/ffi}
COUNT=${1:-3000}
CERTMINT=${CERTMINT:-$root/target/debug/certmint}
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

cc -std=c99 -O2 -Wall -Wextra -Werror "$root/ffi/bench/handshake_client.c" -o "$work/client" \
  $(pkg-config --cflags --libs openssl)
rate() { sed -n 's/.*: \([0-9]*\)\/s.*/\1/p' <<<"$1"; }
run() { # LABEL PORT MODE: prints the line, returns the rate in $last
  printf '  %-44s ' "$1"
  local line
  line=$("$work/client" "$2" "$COUNT" "$3") || { echo "$line"; return 1; }
  echo "$line"
  last=$(rate "$line")
}

demo() { # KEY_TYPE: measures the demo on a CA of that type; sets $distinct
  local dir="$work/$1"
  "$CERTMINT" ca init --dir "$dir" --key-type "$1" >/dev/null
  "$OUT/bin/certmint-openssl-demo" --listen 127.0.0.1:0 --ca-cert "$dir/intermediate.pem" \
    --ca-key "$dir/intermediate-key.pem" >"$dir/demo.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 100); do grep -q '^listening' "$dir/demo.log" && break; sleep 0.05; done
  local port
  port=$(sed -n 's/^listening on 127.0.0.1://p' "$dir/demo.log")
  echo "$1 CA:"
  run "certmint-openssl-demo, distinct SNI:" "$port" distinct || exit 1
  distinct=$last
  run "certmint-openssl-demo, same SNI (cache hits):" "$port" same || exit 1
  awk -v d="$distinct" -v s="$last" 'BEGIN { printf "  distinct / same = %.2f\n", d / s }'
}

echo "openssl $(openssl version | cut -d' ' -f2), $(nproc) cores, $COUNT handshakes each"
demo p256
demo rsa2048

if command -v haproxy >/dev/null 2>&1; then
  cat "$work/rsa2048/intermediate.pem" "$work/rsa2048/intermediate-key.pem" >"$work/ca-bundle.pem"
  hport=$(( (RANDOM % 20000) + 30000 ))
  cat >"$work/haproxy.cfg" <<EOF
global
  nbthread 1
  tune.ssl.default-dh-param 2048
defaults
  mode http
  timeout connect 5s
  timeout client 5s
  timeout server 5s
frontend fe
  bind 127.0.0.1:$hport ssl crt $work/ca-bundle.pem ca-sign-file $work/ca-bundle.pem generate-certificates
  http-request return status 200 content-type text/plain string "hello from haproxy"
EOF
  haproxy -f "$work/haproxy.cfg" -db >"$work/haproxy.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$hport") 2>/dev/null && break; sleep 0.1; done
  run "haproxy generate-certificates, distinct SNI:" "$hport" distinct ||
    { cat "$work/haproxy.log"; exit 1; }
  awk -v d="$distinct" -v h="$last" \
    'BEGIN { printf "  certmint distinct / haproxy distinct (RSA-2048 CA) = %.2f\n", d / h }'
else
  echo "SKIP: haproxy not installed"
fi
