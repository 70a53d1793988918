#!/usr/bin/env bash
# Serving benchmark: coinrelay vs nginx serving the same bytes from files vs a minimal
# Boost.Beast program answering those bytes (this machine's ceiling), in one run, with wrk at
# 64 and 256 connections on two queries. Prints a Markdown table; see BENCHMARKS.md.
#   bench/serve/run.sh [duration_seconds]
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
duration=${1:-10}
out=$root/build-bench/serve
mkdir -p "$out/nginx/api/v3/simple" "$out/nginx/api/v3/coins" "$out/files"

for tool in wrk nginx; do
  command -v "$tool" >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk nginx-light >/dev/null; }
done
tools/install-deps.sh >/dev/null
cmake -S . -B build-bench -G Ninja -DCMAKE_BUILD_TYPE=Release -DCOINRELAY_BUILD_BENCH=ON \
  -DCOINRELAY_BUILD_TESTS=OFF >/dev/null
cmake --build build-bench --target coinrelay beast_ceiling >/dev/null

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
bin=build-bench/src/coinrelay
$bin simulate --listen 127.0.0.1:18190 --coins 300 --update-interval 0 >"$out/simulate.log" 2>&1 &
pids+=($!)
sleep 0.5
$bin run --upstream http://127.0.0.1:18190/api/v3 --listen 127.0.0.1:18180 --top 250 \
  --sqlite "$out/bench.db" --set http.threads=2 --set log.level=warn >"$out/run.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do curl -sf http://127.0.0.1:18180/readyz >/dev/null && break; sleep 0.2; done

price='/api/v3/simple/price?ids=bitcoin,ethereum&vs_currencies=usd'
markets='/api/v3/coins/markets?vs_currency=usd&per_page=250'
curl -sf "http://127.0.0.1:18180$price" >"$out/files/_api_v3_simple_price"
curl -sf "http://127.0.0.1:18180$markets" >"$out/files/_api_v3_coins_markets"
cp "$out/files/_api_v3_simple_price" "$out/nginx/api/v3/simple/price"
cp "$out/files/_api_v3_coins_markets" "$out/nginx/api/v3/coins/markets"

cat >"$out/nginx.conf" <<NGINX
worker_processes auto;
pid $out/nginx.pid;
error_log $out/nginx-error.log;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  default_type application/json;
  server {
    listen 127.0.0.1:18181;
    root $out/nginx;
  }
}
NGINX
nginx -c "$out/nginx.conf" -g 'daemon off;' &
pids+=($!)
build-bench/bench/beast_ceiling 18182 2 "$out/files" &
pids+=($!)
sleep 0.5

for port in 18180 18181 18182; do
  cmp -s <(curl -s "http://127.0.0.1:$port$price") "$out/files/_api_v3_simple_price" &&
    cmp -s <(curl -s "http://127.0.0.1:$port$markets") "$out/files/_api_v3_coins_markets" ||
    { echo "port $port does not answer the same bytes"; exit 1; }
done

echo "| query | connections | server | requests/s | p99 latency | vs nginx | vs Beast ceiling |"
echo "|---|---|---|---|---|---|---|"
for path in "$price" "$markets"; do
  for conns in 64 256; do
    declare -A rps=() p99=()
    for target in coinrelay:18180 nginx:18181 beast:18182; do
      name=${target%%:*}
      port=${target##*:}
      result=$(wrk -t2 -c"$conns" -d"${duration}s" --latency "http://127.0.0.1:$port$path")
      rps[$name]=$(awk '/^Requests\/sec:/ {print $2}' <<<"$result")
      p99[$name]=$(awk '$1 == "99%" {print $2}' <<<"$result")
    done
    label=$([ "$path" = "$price" ] && echo "simple/price (2 coins)" || echo "coins/markets (250 coins)")
    for name in coinrelay nginx beast; do
      vs_nginx=$(awk -v a="${rps[$name]}" -v b="${rps[nginx]}" 'BEGIN {printf "%.2f", a / b}')
      vs_beast=$(awk -v a="${rps[$name]}" -v b="${rps[beast]}" 'BEGIN {printf "%.2f", a / b}')
      echo "| $label | $conns | $name | ${rps[$name]} | ${p99[$name]} | $vs_nginx | $vs_beast |"
    done
  done
done
echo
echo "machine: $(nproc) cores; load average before: $(cut -d' ' -f1-3 /proc/loadavg); wrk -t2 -d${duration}s --latency"
