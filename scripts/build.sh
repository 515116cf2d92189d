#!/usr/bin/env bash
# Configures and builds one build directory; shared by run.sh and test.sh.
#   scripts/build.sh DIR [cmake options...]
# TAFEL_TARGET=name builds only that target.
set -euo pipefail
dir=$1
shift
root=$(cd "$(dirname "$0")/.." && pwd)
cmake -S "$root" -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
cmake --build "$dir" -j"$(nproc)" ${TAFEL_TARGET:+--target "$TAFEL_TARGET"}
