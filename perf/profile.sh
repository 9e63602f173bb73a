#!/usr/bin/env bash
# Where the gateway's cycles go on the data path: runs one bench row and, as
# each gateway of the row comes up (wolfguard, then ocserv), attaches
#   perf stat   (task-clock, context switches, migrations, page faults; cycles
#                and instructions where the CPU exposes a PMU, not in most VMs)
#   perf record (cpu-clock sampling at $PERF_FREQ Hz, call graphs)
# for $SECONDS_TO_RECORD seconds after $PERF_DELAY seconds (login, warm-up),
# then writes, per gateway: a perf report top list, folded stacks and a
# flame graph SVG. Needs root and linux-perf (Debian: apt-get install linux-perf).
#
# usage: perf/profile.sh [row] [seconds]      row: a bench row (default small)
# env:   BENCH_BUILD  folder holding the compiled bench (default dist)
#        PERF_OUT     output folder (default perf/out/<timestamp>)
#        PERF_DELAY   seconds between a gateway coming up and recording (default 4)
#        PERF_FREQ    sampling frequency (default 999)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
row=${1:-small}
SECONDS_TO_RECORD=${2:-5}
build=${BENCH_BUILD:-$root/dist}
out=${PERF_OUT:-$here/out/$(date +%Y%m%dT%H%M%S)}
delay=${PERF_DELAY:-4}
freq=${PERF_FREQ:-999}

command -v perf >/dev/null || { echo "perf not found: apt-get install linux-perf" >&2; exit 1; }
[ -f "$build/bench/run.js" ] || { echo "no $build/bench/run.js: npm run build (or set BENCH_BUILD)" >&2; exit 1; }
mkdir -p "$out"
pidfile="$out/gateways.txt"
: > "$pidfile"

# --perf-basic-prof: V8 writes /tmp/perf-<pid>.map so JIT-compiled JavaScript
# frames get names in perf's output instead of [unknown].
NODE_OPTIONS="--perf-basic-prof ${NODE_OPTIONS:-}" BENCH_PID_FILE="$pidfile" \
  node "$build/bench/run.js" "$row" > "$out/bench.log" 2>&1 &
bench=$!
trap 'kill "$bench" 2>/dev/null || true' INT TERM

# pid and all its descendants, comma-separated (ocserv's workers were forked
# before we attach; perf -p follows only what is forked afterwards).
tree_pids() {
  ps -e -o pid=,ppid= | awk -v root="$1" '
    { parent[$1] = $2 }
    END {
      keep[root] = 1; out = root; grew = 1
      while (grew) { grew = 0; for (p in parent) if (!(p in keep) && (parent[p] in keep)) { keep[p] = 1; out = out "," p; grew = 1 } }
      print out
    }'
}

profile() { # name pid tag
  local name=$1 pid=$2 tag=$3
  sleep "$delay"
  kill -0 "$pid" 2>/dev/null || { echo "$name ($pid) gone before recording" >&2; return; }
  local pids
  pids=$(tree_pids "$pid")
  echo "$pids" > "$out/$tag.pids"
  perf stat -e task-clock,context-switches,cpu-migrations,page-faults,cycles,instructions \
    -p "$pids" -o "$out/$tag.stat" -- sleep "$SECONDS_TO_RECORD" 2>/dev/null &
  local stat=$!
  perf record -F "$freq" -e cpu-clock -g -p "$pids" -o "$out/$tag.data" -- sleep "$SECONDS_TO_RECORD" 2> "$out/$tag.record.log" || true
  wait "$stat" 2>/dev/null || true
  perf report -i "$out/$tag.data" --stdio --no-children -g none --sort comm,dso,sym --percent-limit 0.5 2>/dev/null | head -80 > "$out/$tag.top.txt" || true
  perf script -i "$out/$tag.data" 2>/dev/null | awk -f "$here/collapse.awk" | sort > "$out/$tag.folded" || true
  node "$build/perf/flame.js" "$out/$tag.folded" "$name, bench row $row: cpu-clock samples, $SECONDS_TO_RECORD s" > "$out/$tag.svg" || true
  echo "$name: $out/$tag.{stat,top.txt,folded,svg}"
}

seen=0
while kill -0 "$bench" 2>/dev/null || [ "$(wc -l < "$pidfile")" -gt "$seen" ]; do
  if [ "$(wc -l < "$pidfile")" -gt "$seen" ]; then
    seen=$((seen + 1))
    read -r name pid < <(sed -n "${seen}p" "$pidfile")
    # In the background: rows such as rtt keep both gateways up at once, and
    # each is recorded $PERF_DELAY seconds after its own start.
    profile "$name" "$pid" "$seen-$name" &
  fi
  sleep 0.2
done
wait "$bench" || echo "bench row $row failed, see $out/bench.log" >&2
wait
echo "bench output: $out/bench.log"
