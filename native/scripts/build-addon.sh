#!/usr/bin/env bash
# Compiles the addon (native/build/Release/wolfguard.node) against the wolfSSL
# that wolfssl.sh put behind native/.wolfssl/prefix.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
prefix="$ROOT/native/.wolfssl/prefix"
[[ -e "$prefix/include/wolfssl/ssl.h" ]] || { echo "build-addon: no wolfSSL at $prefix; run native/scripts/wolfssl.sh first" >&2; exit 1; }
args=()
if [[ ! -f "$prefix/lib/libwolfssl.a" ]]; then
  real=$(cd "$prefix/lib" && pwd -P)
  args+=("--wolfssl_libs=-L$real -lwolfssl -Wl,-rpath,$real")
fi
npx --no-install node-gyp rebuild -C native "${args[@]}"
