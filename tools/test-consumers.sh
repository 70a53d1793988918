#!/usr/bin/env bash
# Runs the consumer examples (examples/consumers/) against real Kafka and checks what they print.
#
#   tools/test-consumers.sh [BUILD_DIR] [python|node|java|shell ...]    (BUILD_DIR = build)
#
# A frozen `coinrelay simulate` market, one `coinrelay fetch` cycle of the top 50 into a fresh
# topic, then:
#   1. every message coinrelay wrote validates against schemas/quote.v1.json, its key is its id,
#      and each key stays on one partition (tests/contract/validate_json.py);
#   2. `coinrelay run` serves schemas/*.json, byte for byte, at /v1/schemas/;
#   3. 10 of the messages are published again (at-least-once delivery made to happen), and each
#      example, as its own consumer group, prints the simulator's price and last_updated of every
#      coin and reports every message read and every duplicate skipped
#      (tests/contract/check_latest_prices.py).
# Needs Kafka from tools/testenv/testenv (started here if it is not up; never stopped here) and
# installs the examples' dependencies with tools/install-consumers.sh.
# Ends with "consumers: N passed, M failed"; exits 1 when anything failed.
set -euo pipefail
cd "$(dirname "$0")/.."
build=$(cd "${1:-build}" && pwd)
shift || true
examples=("$@")
[ ${#examples[@]} -gt 0 ] || examples=(python node java shell)
binary=${CONSUMERS_TEST_BINARY:-$build/src/coinrelay}
out=$build/consumers
idle=${CONSUMER_IDLE_SECONDS:-3}
brokers=127.0.0.1:${TESTENV_KAFKA_PORT:-9092}
schema_python=${JSONSCHEMA_PYTHON:-/usr/bin/python3}  # Debian's python3-jsonschema

now() { date +%s.%N; }
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

[ -x "$binary" ] || { echo "test-consumers: no $binary; build first" >&2; exit 1; }
start=$(now)
tools/install-consumers.sh "$out"
echo "test-consumers: dependencies ready in $(since "$start") s"
tools/testenv/testenv up >/dev/null

suffix=$$-$(date +%s%N | tail -c 10)
topic=crypto-data-consumers-$suffix
run=$out/run-$suffix
mkdir -p "$run"
port=$(free_port)
"$binary" simulate --listen "127.0.0.1:$port" --coins 100 --update-interval 0 \
  >"$run/simulate.log" 2>&1 &
simulator=$!
trap 'kill "$simulator" 2>/dev/null || true; wait "$simulator" 2>/dev/null || true' EXIT
upstream=http://127.0.0.1:$port/api/v3
for _ in $(seq 50); do curl -fs "$upstream/ping" >/dev/null && break; sleep 0.2; done

# One cycle: it starts at once, and one upstream call fits any CoinGecko plan's budget.
start=$(now)
if ! "$binary" fetch --upstream "$upstream" --brokers "$brokers" --topic "$topic" --top 50 \
  --interval 60 --cycles 1 >"$run/fetch.log" 2>&1; then
  cat "$run/fetch.log"
  echo "test-consumers: coinrelay fetch failed"
  exit 1
fi
echo "test-consumers: fetched the top 50 into $topic in $(since "$start") s"
curl -fs "$upstream/coins/markets?vs_currency=usd&per_page=50" >"$run/markets.json"

passed=0
failed=0
verdict() {  # name, status
  if [ "$2" -eq 0 ]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
}

echo "test-consumers: contract: every message coinrelay wrote to $topic against schemas/quote.v1.json"
kcat -C -b "$brokers" -t "$topic" -e -J -q >"$run/fetched.jsonl"
set +e
"$schema_python" tests/contract/validate_json.py --kcat --min-count 50 schemas/quote.v1.json \
  "$run/fetched.jsonl" | tail -n 20
verdict contract "${PIPESTATUS[0]}"
set -e

# At-least-once delivery, made to happen: 10 messages published again, same key and value, as a
# producer retrying after a restart would. The examples must skip them by the dedup key.
head -n 10 "$run/fetched.jsonl" | jq -r '"\(.key)\t\(.payload)"' |
  kcat -P -b "$brokers" -t "$topic" -K $'\t' -z zstd
kcat -C -b "$brokers" -t "$topic" -e -J -q >"$run/messages.jsonl"
messages=$(wc -l <"$run/messages.jsonl")
observations=$(jq -r '.payload | fromjson | "\(.id) \(.vs_currency) \(.last_updated)"' \
  "$run/messages.jsonl" | sort -u | wc -l)
duplicates=$((messages - observations))
if [ "$duplicates" -lt 10 ]; then
  echo "test-consumers: the 10 messages published again are not in $topic" >&2
  exit 1
fi
echo "test-consumers: $topic holds $messages messages, $duplicates of them duplicates"

echo "test-consumers: contract: coinrelay run serves schemas/*.json at /v1/schemas/"
http_port=$(free_port)
"$binary" run --upstream "$upstream" --listen "127.0.0.1:$http_port" --sqlite "$run/run.db" \
  >"$run/run.log" 2>&1 &
relay=$!
status=1
for _ in $(seq 50); do
  curl -fs "http://127.0.0.1:$http_port/v1/schemas" >/dev/null && break
  sleep 0.2
done
for schema in schemas/*.json; do
  url=http://127.0.0.1:$http_port/v1/schemas/$(basename "$schema")
  if curl -fs -o "$run/served.json" -w '%{content_type}\n' "$url" >"$run/served.type" &&
    cmp -s "$schema" "$run/served.json" && grep -qx 'application/schema+json' "$run/served.type"; then
    echo "  $url: identical to $schema, application/schema+json"
    status=0
  else
    echo "  $url: missing, different from $schema, or not application/schema+json"
    status=1
    break
  fi
done
kill "$relay" 2>/dev/null || true
wait "$relay" 2>/dev/null || true
verdict http "$status"

for example in "${examples[@]}"; do
  case $example in
    python) command=("$out/python-venv/bin/python" examples/consumers/python/latest_prices.py) ;;
    node) command=(node examples/consumers/node/latest-prices.js) ;;
    java)
      classpath=examples/consumers/java/target/classes:examples/consumers/java/target/dependency/*
      command=(java -cp "$classpath" coinrelay.examples.LatestPrices)
      ;;
    shell) command=(examples/consumers/shell/latest-prices.sh) ;;
    *) echo "test-consumers: unknown example '$example'" >&2; exit 2 ;;
  esac
  start=$(now)
  set +e
  KAFKA_BOOTSTRAP_SERVERS=$brokers KAFKA_TOPIC=$topic IDLE_SECONDS=$idle \
    KAFKA_GROUP_ID=team-example-$example-latest-prices-$suffix \
    timeout 180 "${command[@]}" >"$run/$example.out" 2>"$run/$example.err"
  status=$?
  seconds=$(since "$start")
  echo "test-consumers: $example example: exit $status in $seconds s (idle wait ${idle} s included)"
  if [ "$status" -eq 0 ]; then
    python3 tests/contract/check_latest_prices.py "$run/markets.json" "$run/$example.out" \
      "$run/$example.err" --messages "$messages" --duplicates "$duplicates"
    status=$?
  fi
  set -e
  if [ "$status" -ne 0 ]; then
    echo "  stderr of the $example example (last lines):"
    tail -n 15 "$run/$example.err" | sed 's/^/    /'
  fi
  verdict "$example" "$status"
done

echo "test-consumers: logs and outputs in $run"
echo "consumers: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
