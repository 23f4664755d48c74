#!/usr/bin/env bash
# certmint-squid-crtd against Squid's own security_file_certgen (with its -s database on tmpfs,
# as deployed), same run: the same 1,000 requests (distinct origins, P-256 CA) on stdin, one
# after another; each round starts a fresh process (and a fresh database), so every request
# mints. Prints each helper's median requests/s over ROUNDS rounds and the ratio.
#
#   bash ffi/bench/squid.sh [REQUESTS [ROUNDS]]     (after `make -C ffi` and `cargo build`)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
OUT=${OUT:-$root/target/ffi}
CERTMINT=${CERTMINT:-$root/target/debug/certmint}
N=${1:-1000}
ROUNDS=${2:-5}
STOCK=/usr/lib/squid/security_file_certgen
work=$(mktemp -d)
db_root=$(mktemp -d -p /dev/shm 2>/dev/null || mktemp -d)
trap 'rm -rf "$work" "$db_root"' EXIT

"$CERTMINT" ca init --dir "$work/ca" >/dev/null    # the interception CA (P-256)
"$CERTMINT" ca init --dir "$work/pub" >/dev/null   # stands in for the origins' public CA
# N distinct origin certificates: host-only leaves from certmint's own helper, under "pub".
python3 - "$work" "$N" <<'EOF'
import sys
work, n = sys.argv[1], int(sys.argv[2])
def ca(d):
    return open(f"{work}/{d}/intermediate.pem").read() + open(f"{work}/{d}/intermediate-key.pem").read()
def request(params, signing, origin=None):
    body = (params + signing + ((" " + origin) if origin else "")).encode()
    return f"new_certificate {len(body)} ".encode() + body + b"\n"
with open(f"{work}/origin-requests.bin", "wb") as f:
    for i in range(n):
        f.write(request(f"host=site{i}.bench.example\nSign=signTrusted\nSignHash=SHA256\n", ca("pub")))
EOF
"$OUT/bin/certmint-squid-crtd" <"$work/origin-requests.bin" >"$work/origins.bin"
python3 - "$work" <<'EOF'
import sys, re
work = sys.argv[1]
replies = open(f"{work}/origins.bin", "rb").read().split(b"\x01")[:-1]
signing = open(f"{work}/ca/intermediate.pem").read() + open(f"{work}/ca/intermediate-key.pem").read()
with open(f"{work}/requests.bin", "wb") as f:
    for i, r in enumerate(replies):
        m = re.match(rb"OK (\d+) ", r)
        assert m, r[:60]
        text = r[m.end():].decode()
        origin = text[: text.index("-----END CERTIFICATE-----") + 26]
        body = (f"host=site{i}.bench.example\nSign=signTrusted\nSignHash=SHA256\n" + signing + " " + origin).encode()
        f.write(f"new_certificate {len(body)} ".encode() + body + b"\n")
EOF

rate() { # NAME COMMAND...: runs the command ROUNDS times on the requests, prints the median rate
  local name=$1
  shift
  local rates=()
  for r in $(seq "$ROUNDS"); do
    rm -rf "$db_root/db"
    [[ "$name" == stock ]] && "$STOCK" -c -s "$db_root/db" -M 64MB >/dev/null
    local start end
    start=$(date +%s.%N)
    # security_file_certgen exits 1 at end of input: its status says nothing, the replies do.
    "$@" <"$work/requests.bin" >"$work/replies-$name.bin" 2>"$work/err-$name.txt" || true
    end=$(date +%s.%N)
    local ok
    ok=$(python3 -c "import sys; d=open(sys.argv[1],'rb').read().split(b'\x01')[:-1]; print(sum(x.startswith(b'OK ') for x in d))" "$work/replies-$name.bin")
    [[ "$ok" == "$N" ]] || { cat "$work/err-$name.txt"; echo "$name: $ok of $N replies OK" >&2; exit 1; }
    rates+=("$(awk -v n="$N" -v s="$start" -v e="$end" 'BEGIN { printf "%.0f", n / (e - s) }')")
  done
  printf '%s\n' "${rates[@]}" | sort -n | awk -v name="$name" '{ a[NR] = $1 } END {
    printf "%-22s median %7d requests/s  (rounds: ", name, a[int((NR + 1) / 2)];
    for (i = 1; i <= NR; i++) printf "%s%s", a[i], i < NR ? " " : ")\n" }'
  median=$(printf '%s\n' "${rates[@]}" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }')
}

echo "$N requests (distinct origins, P-256 CA), $ROUNDS rounds each, $(nproc) cores"
rate certmint "$OUT/bin/certmint-squid-crtd" -s "$db_root/db" -M 64MB
certmint=$median
if [[ -x "$STOCK" ]]; then
  rate stock "$STOCK" -s "$db_root/db" -M 64MB
  awk -v c="$certmint" -v s="$median" 'BEGIN { printf "certmint / security_file_certgen = %.1fx\n", c / s }'
else
  echo "SKIP: $STOCK not installed (squid-openssl)"
fi
