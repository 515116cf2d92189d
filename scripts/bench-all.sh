#!/usr/bin/env bash
# Runs every tafel-bench scenario at the sizes of docs/performance.md (the
# median of 3 runs each), saves each result as JSON and draws the charts:
#   scripts/bench-all.sh [BUILD_DIR] [OUT_DIR]
# BUILD_DIR defaults to build/ (a RelWithDebInfo build: scripts/build.sh),
# OUT_DIR to docs/perf/. Takes about ten minutes on a quiet 2-core machine;
# everything runs on 127.0.0.1, every run bounded by the tool's deadlines.
# Not part of the test suite: ctest -L bench runs every scenario small.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
out=${2:-$root/docs/perf}
bench=$build/bench/tafel-bench
mkdir -p "$out/results"

run() {
  local name=$1
  shift
  echo "== tafel-bench $* ($name)"
  # A run that fails still leaves its JSON (with the reason under "errors").
  "$bench" "$@" --json >"$out/results/$name.json" || echo "   (failed: see $out/results/$name.json)"
}

run connections-N10000 connections --count 10000
run fanout-R1000-S100 fanout --subscribers 100 --rate 1000 --duration 5
for s in 100 1000 5000; do
  run "fanout-S$s" fanout --subscribers "$s" --rate 200 --duration 5
done
for w in 1 10 50 100 200; do
  run "writes-W$w" writes --writers "$w" --duration 5
done
run catchup-M100000 catchup --changes 100000
run coldstart-D1000000 coldstart --docs 1000000

python3 "$root/scripts/bench-charts.py" "$out/results" "$out"
echo "results in $out/results, charts in $out"
