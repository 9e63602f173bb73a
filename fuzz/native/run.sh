#!/usr/bin/env bash
# Builds and runs the native libFuzzer targets (clang with libFuzzer needed:
# Debian's clang-14 + libclang-rt-14-dev). Run by `npm run fuzz` only, never by
# `npm install`. The seed corpus is the TypeScript fuzzers' (test/fixtures/fuzz/cstp),
# each file prefixed with a cut-size byte; new inputs libFuzzer finds go to
# fuzz/native/.corpus (not checked in), crashes to fuzz/native/crashes/ and
# make this script fail. FUZZ_SECONDS bounds the run (default 60).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT/fuzz/native"
CXX=${CXX_FUZZ:-$(command -v clang++-14 || command -v clang++ || true)}
if [[ -z "$CXX" && $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
  echo "fuzz/native: installing Debian's clang-14 and libFuzzer (libclang-rt-14-dev) for the native target" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q clang-14 libclang-rt-14-dev >&2 || true
  CXX=$(command -v clang++-14 || true)
fi
if [[ -z "$CXX" ]]; then
  echo "fuzz/native: no clang++ (apt-get install clang-14 libclang-rt-14-dev); native fuzzing skipped" >&2
  exit 2
fi
seconds=${FUZZ_SECONDS:-60}
out=.out
mkdir -p "$out" .corpus crashes
"$CXX" -std=c++17 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
  -fprofile-instr-generate -fcoverage-mapping cstp_fuzz.cc -o "$out/cstp_fuzz"
# Seeds: every corpus file, cut whole (step byte 0xff) and byte by byte (0x00).
seeds="$out/seeds"
rm -rf "$seeds" && mkdir -p "$seeds"
for f in "$ROOT"/test/fixtures/fuzz/cstp/*; do
  b=$(basename "$f")
  { printf '\xff'; cat "$f"; } > "$seeds/$b.whole"
  { printf '\x00'; cat "$f"; } > "$seeds/$b.bytes"
done
cp -f crashes/* "$seeds/" 2>/dev/null || true
set +e
LLVM_PROFILE_FILE="$out/cstp.profraw" "$out/cstp_fuzz" -max_total_time="$seconds" -max_len=4096 \
  -artifact_prefix=crashes/ -print_final_stats=1 .corpus "$seeds" > "$out/cstp.log" 2>&1
status=$?
set -e
grep -E "^#[0-9]+[[:space:]]+(DONE|INITED)|stat::|ERROR|SUMMARY|Test unit written" "$out/cstp.log" || true
PROFDATA=$(command -v llvm-profdata-14 || command -v llvm-profdata || true)
COV=$(command -v llvm-cov-14 || command -v llvm-cov || true)
if [[ -n "$PROFDATA" && -n "$COV" && -f "$out/cstp.profraw" ]]; then
  "$PROFDATA" merge -sparse "$out/cstp.profraw" -o "$out/cstp.profdata"
  "$COV" report "$out/cstp_fuzz" -instr-profile="$out/cstp.profdata" "$ROOT/native/src/cstp-framer.h" | cut -c1-140
fi
exit "$status"
