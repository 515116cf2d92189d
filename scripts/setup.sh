#!/usr/bin/env bash
# Installs what Tafel needs on Debian 12, idempotently: when everything is
# present it changes nothing and does not touch the network; it runs
# `apt-get update` only when something must be installed.
#
#   scripts/setup.sh            build + test dependencies
#
# Then the web page's npm packages: the runtime libraries in web/ (their
# browser builds are copied into web/vendor/, which tafeld serves: nothing is
# fetched from the internet at run time) and the browser tests' in
# tests/browser/ (playwright-core, axe-core). `npm ci` runs only when a
# package-lock.json changed since the last install (a stamp in node_modules/).
#
# Needs root (or sudo) only when something is missing.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

packages=(
  # build
  gcc make cmake pkg-config git
  # libraries
  libwebsockets-dev liblmdb-dev libjansson-dev libsodium-dev
  # tools: mdb_stat/mdb_dump for operators, clang + libFuzzer for the fuzz target
  lmdb-utils clang libclang-rt-14-dev clang-format
  # tests: cmocka unit tests, integration tests with a real WebSocket client
  libcmocka-dev python3 python3-websockets curl openssl
  # the web page's browser tests drive Debian's chromium (never a downloaded browser)
  chromium
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

# Node.js and npm: Debian's packages, unless a node (with its npm) is
# already installed some other way.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  missing+=(nodejs npm)
fi

if [ ${#missing[@]} -gt 0 ]; then
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
fi

# npm packages, from each directory's package-lock.json.
npm_install() {
  local dir=$1
  local stamp="$dir/node_modules/.tafel-lock.sha256"
  local want
  want=$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    return 0
  fi
  echo "setup: npm ci in ${dir#"$root"/}" >&2
  (cd "$dir" && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error >/dev/null)
  echo "$want" >"$stamp"
}
npm_install "$root/web"
npm_install "$root/tests/browser"

# The browser builds the page loads, served by tafeld from web/vendor/.
vendor() {
  local from="$root/web/node_modules/$1" to="$root/web/vendor/$2"
  mkdir -p "$root/web/vendor"
  if ! cmp -s "$from" "$to"; then
    cp "$from" "$to"
  fi
}
# tafeld serves .js but not .mjs: the ES module build under a .js name.
vendor qrcode-generator/dist/qrcode.mjs qrcode-generator.js
