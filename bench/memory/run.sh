#!/usr/bin/env bash
# Peak memory at the whole universe: `coinrelay run`, then `coinrelay fetch` publishing to Kafka
# with `coinrelay serve` reading it, each tracking COINS (20 000) coins in usd, eur and btc
# (60 000 quotes a cycle) for CYCLES (10) cycles of INTERVAL (20) s against
# `coinrelay simulate --coins COINS`. Prints each process's peak resident set (VmHWM, from GNU
# time's maximum RSS) as a Markdown table; see BENCHMARKS.md, "Memory".
#   bench/memory/run.sh                  # results in build/bench-memory/results.md
# Env: BUILD_DIR (build), COINS, CYCLES, INTERVAL, BENCH_INSTANCE (bench-memory),
#      BENCH_KAFKA_PORT (39392). Runs its own Kafka (tools/testenv), stopped at the end.
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${BUILD_DIR:-build}
bin=$build/src/coinrelay
coins=${COINS:-20000}
cycles=${CYCLES:-10}
interval=${INTERVAL:-20}
out=build/bench-memory
export TESTENV_INSTANCE=${BENCH_INSTANCE:-bench-memory}
export TESTENV_KAFKA_PORT=${BENCH_KAFKA_PORT:-39392}
brokers=127.0.0.1:$TESTENV_KAFKA_PORT
rm -rf "$out" && mkdir -p "$out"

tools/install-deps.sh >/dev/null  # GNU time, kcat, Java for Kafka, ...
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" --target coinrelay >/dev/null
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
json_field() { python3 -c "import json,sys; print(json.load(sys.stdin).get('$1', -1))" 2>/dev/null || echo -1; }
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  tools/testenv/testenv down >/dev/null 2>&1 || true
}
trap cleanup EXIT
# GNU time's maximum resident set of a command, in KB, written to $out/<name>.time. It replaces
# the shell it runs in: start it with & or in ( ), so that its child is the coinrelay process.
timed() {
  local name=$1
  shift
  exec /usr/bin/time -f '%M %e %U %S' -o "$out/$name.time" "$@" >"$out/$name.log" 2>&1
}
peak_mib() { awk '{printf "%.0f", $1 / 1024}' "$out/$1.time"; }
cpu_s() { awk '{printf "%.1f", $3 + $4}' "$out/$1.time"; }

sim_port=$(free_port)
"$bin" simulate --listen "127.0.0.1:$sim_port" --coins "$coins" --update-interval 5 \
  >"$out/simulate.log" 2>&1 &
pids+=($!)
until curl -sf "http://127.0.0.1:$sim_port/api/v3/ping" >/dev/null; do sleep 0.2; done
common=(--upstream "http://127.0.0.1:$sim_port/api/v3" --top "$coins" --interval "$interval"
  --plan enterprise --set budget.calls_per_minute=100000
  --set budget.monthly_credits=1000000000 --set upstream.vs_currencies=usd,eur,btc
  --log-level warn)
export COINRELAY_UPSTREAM_API_KEY=simulated

echo "== coinrelay run: $cycles cycles of $coins coins x 3 currencies"
run_port=$(free_port)
timed run "$bin" run "${common[@]}" --listen "127.0.0.1:$run_port" --sqlite "$out/run.db" \
  --cycles "$cycles" &
run_pid=$!
pids+=($run_pid)
until [[ $(curl -sf "http://127.0.0.1:$run_port/healthz" || true) == *"\"cycles\":$cycles"* ]]; do
  sleep 1
done
pkill -TERM -P "$run_pid" || true
wait "$run_pid" || true

echo "== coinrelay fetch -> Kafka -> coinrelay serve: $cycles cycles"
tools/testenv/testenv up kafka >"$out/testenv.log" 2>&1
topic=memory-$(date +%s)
"$bin" setup kafka --brokers "$brokers" --topic "$topic" >"$out/setup.log" 2>&1
serve_port=$(free_port)
timed serve "$bin" serve --brokers "$brokers" --topic "$topic" --listen "127.0.0.1:$serve_port" \
  --log-level warn &
serve_pid=$!
pids+=($serve_pid)
(timed fetch "$bin" fetch "${common[@]}" --brokers "$brokers" --topic "$topic" \
  --set "fetch.spool_dir=$out/spool" --cycles "$cycles")
# The replica has read everything when its count stops moving.
last=-2
while true; do
  consumed=$(curl -sf "http://127.0.0.1:$serve_port/healthz" | json_field quotes_consumed)
  [[ $consumed == "$last" && $consumed -gt 0 ]] && break
  last=$consumed
  sleep 3
done
pkill -TERM -P "$serve_pid" || true
wait "$serve_pid" || true

{
  echo "| process | peak RSS (MiB) | CPU s | what it held |"
  echo "| --- | ---: | ---: | --- |"
  echo "| \`coinrelay run\` | $(peak_mib run) | $(cpu_s run) | $cycles cycles, SQLite history |"
  echo "| \`coinrelay fetch\` | $(peak_mib fetch) | $(cpu_s fetch) | $cycles cycles to Kafka |"
  echo "| \`coinrelay serve\` | $(peak_mib serve) | $(cpu_s serve) | $consumed quotes read from Kafka |"
} | tee "$out/results.md"
