#!/usr/bin/env bash
# Installs the client libraries the client test drives, pinned, into OUT (default
# build/clients), never into the source tree:
#   OUT/venv: coingecko-sdk 4.3.0 and pycoingecko 3.2.0 with their pinned dependencies
#     (requirements.txt, PyPI), on Debian's python3 so that its python3-jsonschema is seen too;
#   OUT/node/node_modules: @coingecko/coingecko-typescript 8.2.0 by `npm ci` from the committed
#     package-lock.json.
# Each part is redone only when its inputs changed (a stamp holds their hash): a second run
# takes well under a second. Usage: tests/clients/install.sh [OUT]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=$(mkdir -p "${1:-$here/../../build/clients}" && cd "${1:-$here/../../build/clients}" && pwd)
# Debian's interpreter: tools/install-deps.sh installs python3-venv and python3-jsonschema for it.
python=${CLIENTS_PYTHON:-/usr/bin/python3}
[ -x "$python" ] || python=python3

stamp_of() { cat "$@" | sha256sum | cut -d' ' -f1; }
fresh() { [ -f "$1" ] && [ "$(cat "$1")" = "$2" ]; }
now_ms() { date +%s%3N; }

if ! "$python" -c 'import jsonschema, venv' 2>/dev/null; then
  echo "clients: $python lacks jsonschema or venv; run tools/install-deps.sh" >&2
  exit 1
fi

venv=$out/venv
want=$( (cat "$here/requirements.txt"; "$python" --version) | sha256sum | cut -d' ' -f1)
if ! fresh "$venv/.coinrelay-stamp" "$want"; then
  t0=$(now_ms)
  echo "clients: python venv ($venv)"
  "$python" -m venv --clear --system-site-packages "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check -r "$here/requirements.txt"
  echo "$want" >"$venv/.coinrelay-stamp"
  echo "clients: python venv ready in $(($(now_ms) - t0)) ms"
fi

node_dir=$out/node
want=$(stamp_of "$here/package.json" "$here/package-lock.json")
if ! fresh "$node_dir/node_modules/.coinrelay-stamp" "$want"; then
  t0=$(now_ms)
  echo "clients: npm ci ($node_dir)"
  mkdir -p "$node_dir"
  cp "$here/package.json" "$here/package-lock.json" "$node_dir/"
  (cd "$node_dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  echo "$want" >"$node_dir/node_modules/.coinrelay-stamp"
  echo "clients: node_modules ready in $(($(now_ms) - t0)) ms"
fi
echo "clients: coingecko-sdk, pycoingecko and @coingecko/coingecko-typescript ready in $out"
