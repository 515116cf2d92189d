#!/usr/bin/env bash
# Builds Tafel twice with -Werror and runs every test in both builds:
#   build/       the default build (-Wall -Wextra -Werror)
#   build-asan/  AddressSanitizer + UndefinedBehaviorSanitizer
# then builds it as a user would (cmake -DCMAKE_BUILD_TYPE=Release, no
# -Werror: it must build, warnings and all), and fuzzes for 30 s each, on
# their seed corpora, the protocol parser (fuzz_request) and the request
# handler (fuzz_dispatch: the server library on a real store).
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

# A fuzz target for 30 s on a corpus of its own in build-fuzz/ (grown from its
# seeds in tests/fuzz/); a crash or a broken invariant fails the script.
run_fuzz() {
  local target=$1 work=$2 seeds=$3
  shift 3
  mkdir -p "$work"
  if build-fuzz/tests/$target -max_total_time=30 -print_final_stats=1 \
       -artifact_prefix=build-fuzz/$target- "$@" "$work" "$seeds" >build-fuzz/$target.log 2>&1; then
    grep -E 'stat::number_of_executed_units|stat::average_exec_per_sec|Done' build-fuzz/$target.log || true
    echo "$target: no crash"
  else
    tail -40 build-fuzz/$target.log
    echo "$target: FAILED (artifact build-fuzz/$target-*)"
    return 1
  fi
}

echo "== fuzz the protocol parser and the request handler (30 s each)"
# Only the fuzz targets (the target `fuzz`): in this build protocol/, storage/
# and server/ are instrumented for libFuzzer.
if CC=clang TAFEL_TARGET=fuzz scripts/build.sh build-fuzz -DTAFEL_FUZZ=ON -DTAFEL_WERROR=ON \
  >build-fuzz.log 2>&1; then
  run_fuzz fuzz_request build-fuzz/corpus tests/fuzz/corpus || failed=1
  run_fuzz fuzz_dispatch build-fuzz/corpus-dispatch tests/fuzz/corpus_dispatch \
    -dict=tests/fuzz/dispatch.dict || failed=1
else
  cat build-fuzz.log
  failed=1
fi

# The crash test (docs/durability.md) ran in both builds above (ctest
# crash_short, 10 trials). Here the same harness must FAIL a build that does
# not sync (TAFEL_UNSAFE_NOSYNC: MDB_NOSYNC), or it no longer sees lost writes.
echo "== crash test against build-nosync (TAFEL_UNSAFE_NOSYNC): must report lost writes"
if cmake -S . -B build-nosync -DTAFEL_WERROR=ON -DTAFEL_UNSAFE_NOSYNC=ON >build-nosync.log 2>&1 &&
  cmake --build build-nosync -j"$(nproc)" --target tafeld tafel_crash_shim >>build-nosync.log 2>&1; then
  if TAFELD=build-nosync/server/tafeld TAFEL_CRASH_SHIM=build-nosync/tests/libtafel_crash_shim.so \
    /usr/bin/python3 tests/crash/crash_test.py --trials 2 >build-nosync/crash.log 2>&1; then
    cat build-nosync/crash.log
    echo "crash test: PASSED a build that does not sync: it no longer sees lost writes"
    failed=1
  elif grep -qE "lost acknowledged writes|does not open after the power cut" build-nosync/crash.log; then
    grep -E "^crash_test: [0-9]+ of" build-nosync/crash.log
    echo "crash test: fails the build that does not sync, as it must"
  else
    cat build-nosync/crash.log
    failed=1
  fi
else
  cat build-nosync.log
  failed=1
fi

if [ $failed -ne 0 ]; then
  echo "test.sh: FAILED"
  exit 1
fi
echo "test.sh: all suites passed"
