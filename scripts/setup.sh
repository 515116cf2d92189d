#!/usr/bin/env bash
# Installs what Tafel needs on Debian 12, idempotently: when everything is
# present it changes nothing and does not touch the network; it runs
# `apt-get update` only when something must be installed.
#
#   scripts/setup.sh            build + test dependencies
#
# Needs root (or sudo) only when something is missing.
set -euo pipefail

packages=(
  # build
  gcc make cmake pkg-config git
  # libraries
  libwebsockets-dev liblmdb-dev libjansson-dev libsodium-dev
  # tools: mdb_stat/mdb_dump for operators, clang + libFuzzer for the fuzz target
  lmdb-utils clang libclang-rt-14-dev clang-format
  # tests: cmocka unit tests, integration tests with a real WebSocket client
  libcmocka-dev python3 python3-websockets curl openssl
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "setup: installing ${missing[*]}" >&2
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    sudo="sudo"
  else
    echo "setup: need root to install: ${missing[*]}" >&2
    exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "setup: done" >&2
