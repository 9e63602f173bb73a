#!/usr/bin/env bash
# `npm install` runs this: Debian packages, wolfSSL, the addon, TypeScript.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
step() { printf '\n=== wolfguard install: %s\n' "$*"; }
step "system packages"
bash native/scripts/system-deps.sh
step "wolfSSL"
bash native/scripts/wolfssl.sh
step "native addon"
bash native/scripts/build-addon.sh
step "TypeScript"
npx --no-install tsc -p tsconfig.json
step "done"
