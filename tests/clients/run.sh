#!/usr/bin/env bash
# The client test as ctest runs it: install the pinned clients (cached), then drive coinrelay
# through each. Usage: tests/clients/run.sh COINRELAY_BINARY [OUT] [clients_test.py options]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
binary=$1
out=${2:-$here/../../build/clients}
shift $(($# < 2 ? $# : 2))
"$here/install.sh" "$out"
exec "$out/venv/bin/python" "$here/clients_test.py" --binary "$binary" --node-dir "$out/node" \
  --report "$out/report.json" "$@"
