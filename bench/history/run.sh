#!/usr/bin/env bash
# History benchmark: a simulated year of the top 250 coins at 60 s written into the tiered SQLite
# store as fast as it goes, its size on disk after retention and the time spent rolling up, then
# market_chart (1 day, 90 days, 1 year) and ohlc (30 days) latency under 32 concurrent clients.
# Prints Markdown tables; see BENCHMARKS.md. Built in the project's default build (RelWithDebInfo).
#   bench/history/run.sh [extra history_bench flags, e.g. --seconds 20]
set -euo pipefail
cd "$(dirname "$0")/../.."
out=build/bench-history
mkdir -p "$out"
tools/install-deps.sh >/dev/null
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCOINRELAY_BUILD_BENCH=ON >/dev/null
cmake --build build --target history_bench >/dev/null
build/bench/history_bench --db "$out/history.db" "$@"
