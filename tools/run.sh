#!/usr/bin/env bash
# Builds coinrelay and runs the main job on the embedded default: fetch from CoinGecko ->
# SQLite history -> HTTP API on 127.0.0.1:8080. No Kafka, no Elasticsearch. Extra arguments
# go to `coinrelay run` (e.g. --upstream http://127.0.0.1:8090/api/v3 for the simulator).
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install-deps.sh >/dev/null
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$(nproc)" --target coinrelay
exec build/src/coinrelay run "$@"
