#!/usr/bin/env bash
# Checks of the deployment files that can run without a Docker engine:
#  1. the compose file against the Compose schema (Debian's docker-compose, `config`);
#  2. the Dockerfile's runtime packages cover every library the binary needs;
#  3. the systemd units (`systemd-analyze verify`);
#  4. every coinrelay service of the compose file, run natively with its own command line and
#     environment against the test environment's Kafka and OpenSearch and `coinrelay simulate`
#     (host names mapped to 127.0.0.1; topic and index names made unique so the shared test
#     servers are not disturbed). Kibana cannot run here: `setup-kibana` is checked against the
#     stub in the unit tests instead.
# Usage: deploy/check.sh [path/to/coinrelay]  (tools/testenv must be up)
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(readlink -f "${1:-build/src/coinrelay}")
kafka=127.0.0.1:${TESTENV_KAFKA_PORT:-9092}
opensearch=http://127.0.0.1:${TESTENV_OPENSEARCH_PORT:-9200}
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
pass=0
fail=0
ok() { echo "ok: $*"; pass=$((pass + 1)); }
bad() { echo "FAILED: $*"; fail=$((fail + 1)); }

command -v docker-compose >/dev/null ||
  { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-compose >/dev/null; }

# 1. Compose schema, and the resolved file for step 4.
cp deploy/docker-compose.yml "$work/"
cp deploy/coinrelay.env.example "$work/coinrelay.env"
if (cd "$work" && docker-compose config >"$work/resolved.yml" 2>"$work/compose.err"); then
  ok "docker-compose config accepts deploy/docker-compose.yml"
else
  bad "docker-compose config: $(cat "$work/compose.err")"
fi

# 2. Runtime packages of the image.
runtime=$(sed -n '/^FROM debian:bookworm-slim/,$p' deploy/Dockerfile | tr ' \\' '\n\n' | grep -E '^lib|^zlib' || true)
missing=()
# The linker cache, read once; searched from a string, so no pipe can break (SIGPIPE under
# pipefail failed the whole script when awk stopped reading a live `ldconfig -p`).
ld_cache=$(ldconfig -p)
for lib in $(readelf -d "$bin" | awk '/NEEDED/ {gsub(/[\[\]]/, "", $5); print $5}'); do
  path=$(awk -v l="$lib" '$1 == l {print $NF; exit}' <<<"$ld_cache")
  real=$(readlink -f "$path")
  # usrmerge: dpkg may know the file under /lib or /usr/lib.
  package=$({ dpkg -S "$real" || dpkg -S "${real#/usr}" || dpkg -S "/usr$real"; } 2>/dev/null |
    cut -d: -f1 | head -1 || true)
  case "$package" in libc6 | libstdc++6 | libgcc-s1 | "") continue ;; esac
  grep -qx "$package" <<<"$runtime" || missing+=("$package ($lib)")
done
if [ ${#missing[@]} -eq 0 ]; then
  ok "the image's runtime stage installs every library the binary links"
else
  bad "deploy/Dockerfile runtime stage lacks: ${missing[*]}"
fi

# 3. systemd units, with ExecStart pointing at the built binary.
if command -v systemd-analyze >/dev/null; then
  mkdir -p "$work/units"
  for unit in deploy/systemd/*.service; do
    sed "s|/usr/local/bin/coinrelay|$bin|" "$unit" >"$work/units/$(basename "$unit")"
  done
  cp "$work/units/coinrelay-serve@.service" "$work/units/coinrelay-serve@8080.service"
  rm "$work/units/coinrelay-serve@.service"
  if out=$(systemd-analyze verify --man=no "$work"/units/*.service 2>&1) && [ -z "$out" ]; then
    ok "systemd-analyze verify: $(ls deploy/systemd | tr '\n' ' ')"
  else
    bad "systemd-analyze verify: $out"
  fi
fi

# 4. Every coinrelay service, natively.
suffix=$$-$RANDOM
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
sim_port=$(free_port)
"$bin" simulate --listen "127.0.0.1:$sim_port" --coins 100 --update-interval 0 >"$work/simulate.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$sim_port/api/v3/ping" >/dev/null && break; sleep 0.1; done

# service -> one line: name<TAB>json(command)<TAB>json(environment)
/usr/bin/python3 - "$work/resolved.yml" >"$work/services.tsv" <<'PY'
import json, sys, yaml
compose = yaml.safe_load(open(sys.argv[1]))
for name, service in compose["services"].items():
    if service.get("image") != "coinrelay:latest":
        continue
    replicas = service.get("deploy", {}).get("replicas", 1)
    print("\t".join([name, json.dumps(service.get("command", [])),
                     json.dumps(service.get("environment", {})), str(replicas)]))
PY
[ -s "$work/services.tsv" ] || bad "no coinrelay service found in the compose file"

start_service() {  # name command_json env_json index
  local name=$1 command=$2 environment=$3 n=$4
  local port
  port=$(free_port)
  last_pid=
  last_port=
  /usr/bin/python3 - "$command" "$environment" "$kafka" "$opensearch" "$sim_port" "$port" "$suffix" \
    >"$work/$name-$n.args" <<'PY'
import json, sys
command, environment = json.loads(sys.argv[1]), json.loads(sys.argv[2])
kafka, opensearch, sim, port, suffix = sys.argv[3:]
hosts = {"kafka:9092": kafka, "http://elasticsearch:9200": opensearch}
env = {k: hosts.get(str(v), str(v)) for k, v in environment.items()}
env["COINRELAY_UPSTREAM_BASE_URL"] = f"http://127.0.0.1:{sim}/api/v3"
env["COINRELAY_KAFKA_TOPIC"] = f"crypto-data-deploy-{suffix}"
env["COINRELAY_KAFKA_GROUP_ID"] = f"coinrelay-indexer-deploy-{suffix}"
env["COINRELAY_ELASTICSEARCH_INDEX"] = f"crypto-prices-deploy-{suffix}"
env["COINRELAY_FETCH_METRICS_LISTEN"] = "127.0.0.1:0"
args = [a.replace("0.0.0.0:8080", f"127.0.0.1:{port}") for a in command]
print(" ".join(f"{k}={v}" for k, v in env.items()))
print("\n".join(args))
PY
  mapfile -t lines <"$work/$name-$n.args"
  # shellcheck disable=SC2086
  env -i PATH="$PATH" HOME="$work" ${lines[0]} "$bin" "${lines[@]:1}" >"$work/$name-$n.log" 2>&1 &
  last_pid=$!
  last_port=$port
  pids+=("$last_pid")
}

declare -A ports=()
while IFS=$'\t' read -r name command environment replicas; do
  case "$name" in
    setup-kibana) ok "$name: skipped here (Kibana cannot run on this machine; see the stub test)"; continue ;;
    setup-*)
      start_service "$name" "$command" "$environment" 1
      if wait "$last_pid"; then ok "$name ran and exited 0"; else bad "$name exited non-zero: $(tail -3 "$work/$name-1.log")"; fi
      ;;
  esac
done <"$work/services.tsv"
while IFS=$'\t' read -r name command environment replicas; do
  case "$name" in setup-*) continue ;; esac
  for n in $(seq "$replicas"); do
    start_service "$name" "$command" "$environment" "$n"
    ports["$name-$n"]=$last_port
  done
done <"$work/services.tsv"

index_name="crypto-prices-deploy-$suffix"
count=0
for _ in $(seq 120); do
  curl -s -XPOST "$opensearch/$index_name/_refresh" >/dev/null 2>&1 || true
  count=$(curl -s "$opensearch/$index_name/_count" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin).get("count", 0))' 2>/dev/null || echo 0)
  [ "$count" -ge 50 ] && break
  sleep 0.5
done
[ "$count" -ge 50 ] && ok "fetch -> Kafka -> index -> OpenSearch: $count documents" ||
  bad "index holds $count documents, expected 50; $(tail -3 "$work"/index-1.log)"
calls=$(curl -s "http://127.0.0.1:$sim_port/_sim/stats" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["paths"].get("/api/v3/coins/markets", {}).get("total", 0))')
[ "$calls" -eq 1 ] && ok "two fetch replicas, one upstream call (one active fetcher)" ||
  bad "two fetch replicas made $calls upstream calls in the first cycle"
for key in "${!ports[@]}"; do
  case "$key" in serve-*)
    ready=no
    for _ in $(seq 60); do curl -sf "http://127.0.0.1:${ports[$key]}/readyz" >/dev/null && { ready=yes; break; }; sleep 0.5; done
    [ $ready = yes ] && ok "$key is ready from Kafka alone" || bad "$key not ready: $(tail -3 "$work/$key.log")" ;;
  esac
done

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
