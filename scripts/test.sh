#!/usr/bin/env bash
# Builds Tafel twice with -Werror and runs every test in both builds:
#   build/       the default build (-Wall -Wextra -Werror)
#   build-asan/  AddressSanitizer + UndefinedBehaviorSanitizer
# then builds it as a user would (cmake -DCMAKE_BUILD_TYPE=Release, no
# -Werror: it must build, warnings and all), and fuzzes the protocol parser
# for 30 s on its seed corpus.
# Exits non-zero when anything fails.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
scripts/setup.sh

failed=0
run_suite() {
  local dir=$1
  shift
  echo "== build $dir $*"
  scripts/build.sh "$dir" "$@" >"$dir.log" 2>&1 || { cat "$dir.log"; return 1; }
  echo "== test $dir"
  (cd "$dir" && ctest --output-on-failure --timeout 600) || return 1
}

run_suite build -DTAFEL_WERROR=ON || failed=1
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  run_suite build-asan -DTAFEL_WERROR=ON -DTAFEL_SANITIZE=ON || failed=1

echo "== build build-release (cmake -DCMAKE_BUILD_TYPE=Release, as users build)"
if cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release >build-release.log 2>&1 &&
  cmake --build build-release -j"$(nproc)" >>build-release.log 2>&1; then
  if grep -q "warning:" build-release.log; then
    grep "warning:" build-release.log
    echo "build-release: the Release build warns; every build type must be warnings-clean"
    failed=1
  fi
else
  cat build-release.log
  failed=1
fi

echo "== fuzz protocol parser (30 s)"
# Only the fuzz target: in this build protocol/ is instrumented for libFuzzer.
if CC=clang TAFEL_TARGET=fuzz_request scripts/build.sh build-fuzz -DTAFEL_FUZZ=ON -DTAFEL_WERROR=ON \
  >build-fuzz.log 2>&1; then
  work=build-fuzz/corpus
  mkdir -p "$work"
  if build-fuzz/tests/fuzz_request -max_total_time=30 -print_final_stats=1 \
       -artifact_prefix=build-fuzz/ "$work" tests/fuzz/corpus >build-fuzz/fuzz.log 2>&1; then
    grep -E 'stat::number_of_executed_units|Done' build-fuzz/fuzz.log || true
    echo "fuzz: no crash"
  else
    tail -40 build-fuzz/fuzz.log
    echo "fuzz: FAILED (artifact in build-fuzz/)"
    failed=1
  fi
else
  cat build-fuzz.log
  failed=1
fi

if [ $failed -ne 0 ]; then
  echo "test.sh: FAILED"
  exit 1
fi
echo "test.sh: all suites passed"
