#!/usr/bin/env bash
# `make -C ffi install PREFIX=DIR`, then the README's C program built with pkg-config alone
# (shared and static), run against a throwaway CA, its output checked by `openssl verify`.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
make -s -C "$root/ffi" install PREFIX="$work/prefix" >/dev/null
lib=$work/prefix/lib
[[ $(readlink "$lib/libcertmint.so") == libcertmint.so.0 ]]
[[ $(readlink "$lib/libcertmint.so.0") == libcertmint.so.0.1.0 ]]
readelf -d "$lib/libcertmint.so.0.1.0" | grep -q 'SONAME.*\[libcertmint.so.0\]'
[[ -x $work/prefix/bin/certmint-openssl-demo && -f $work/prefix/include/certmint.h ]]
# The Squid helper is self-contained (static libcertmint): it runs from anywhere.
"$work/prefix/bin/certmint-squid-crtd" -v | grep -q certmint
export PKG_CONFIG_PATH=$lib/pkgconfig
# The README's C program, exactly as printed there.
sed -n '/^```c$/,/^```$/p' "$root/README.md" | sed '1d;$d' >"$work/app.c"
[[ $(wc -l <"$work/app.c") -ge 15 ]]
cc -std=c99 -Wall -Wextra -Werror "$work/app.c" -o "$work/app" \
  $(pkg-config --cflags --libs certmint) -Wl,-rpath,"$lib"
# Static: the archive plus the Libs.private the .pc file records.
cc -std=c99 -Wall -Wextra -Werror "$work/app.c" -o "$work/app-static" \
  $(pkg-config --cflags certmint) "$lib/libcertmint.a" \
  $(sed -n 's/^Libs.private: //p' "$lib/pkgconfig/certmint.pc")
if ldd "$work/app-static" | grep -q libcertmint; then
  echo "FAIL: the static build links libcertmint.so" >&2
  exit 1
fi
"${CERTMINT:-$root/target/debug/certmint}" ca init --dir "$work/ca" >/dev/null
printf '[[ca]]\nid = "corp"\ncert = "intermediate.pem"\nkey = "intermediate-key.pem"\n' \
  >"$work/ca/certmint.toml"
for app in app app-static; do
  "$work/$app" "$work/ca/certmint.toml" www.example.com >"$work/$app.pem"
  openssl verify -CAfile "$work/ca/root.pem" -untrusted "$work/$app.pem" \
    -verify_hostname www.example.com -purpose sslserver "$work/$app.pem" >/dev/null
done
echo "install: soname links, pkg-config, README program (shared and static) verified"
