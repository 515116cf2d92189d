#!/usr/bin/env bash
# Writes docs/data-model.md and docs/permissions.md from the schema table
# (protocol/schema.c), with the tafeld of a build directory:
#   scripts/gen-docs.sh [BUILD_DIR]     (default: build)
# Builds tafeld there first. The docs_generated test fails until the
# committed docs are what this writes.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dir=${1:-$root/build}
if [ -f "$dir/CMakeCache.txt" ]; then
  cmake --build "$dir" --target gen-docs
else
  TAFEL_TARGET=gen-docs "$root/scripts/build.sh" "$dir"
fi
