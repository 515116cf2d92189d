#!/usr/bin/env bash
# Builds tafeld and serves the embedded default: a data directory under the
# checkout (data/, created on first run, which prints the first beheerder
# key), on http://127.0.0.1:8080/ (TAFEL_LISTEN overrides).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
scripts/setup.sh
scripts/build.sh build >/dev/null
listen=${TAFEL_LISTEN:-127.0.0.1:8080}
if [ ! -e data ]; then
  echo "First run: creating data/ and the first beheerder (administrator) key."
  echo "Keep this key safe; it is shown only now:"
  build/server/tafeld init --data data
elif [ ! -e data/data.mdb ]; then
  echo "run.sh: data/ exists but is not a Tafel data directory; move it away and run again" >&2
  exit 1
fi
echo "Serving http://$listen/ (Ctrl-C stops)"
exec build/server/tafeld serve --data data --listen "$listen"
