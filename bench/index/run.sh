#!/usr/bin/env bash
# Indexing benchmark: 1 000 000 quotes pre-loaded in Kafka, time until all are searchable in
# OpenSearch, for `coinrelay index` and, in the same run, for the seed's approach (a
# kafka-python consumer POSTing each message to /<index>/_doc with requests) and for the same
# consumer sending _bulk requests of 1000 documents. Each Python consumer is measured on its
# first 100 000 documents or 120 s, whichever comes first. See BENCHMARKS.md.
#
#   bench/index/run.sh                      # results in build/bench-index/results.json and .md
#
# Env: BUILD_DIR (build), QUOTES (1000000), PY_DOCS (100000), PY_SECONDS (120),
#      BENCH_KAFKA_PORT (29092), BENCH_OPENSEARCH_PORT (29200), INDEX_ARGS (extra --set ... for
#      coinrelay index). Runs its own testenv instance (named bench-index), never the default one.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
build=${BUILD_DIR:-build}
quotes=${QUOTES:-1000000}
py_docs=${PY_DOCS:-100000}
py_seconds=${PY_SECONDS:-120}
out=$root/build/bench-index
venv=$root/build/bench-venv
mkdir -p "$out"
step() { printf '\n== %s (%ss)\n' "$1" "$SECONDS"; }
now() { date +%s.%N; }

export TESTENV_INSTANCE=bench-index
export TESTENV_KAFKA_PORT=${BENCH_KAFKA_PORT:-29092}
export TESTENV_OPENSEARCH_PORT=${BENCH_OPENSEARCH_PORT:-29200}
# A long run: let the JIT compile fully (the testenv default stops at C1 for short tests), and
# give OpenSearch the heap a small production node would have.
export TESTENV_KAFKA_JVM_OPTS="-Xms512m -Xmx512m -XX:+UseSerialGC"
export TESTENV_OPENSEARCH_JVM_OPTS="-Xms1g -Xmx1g -XX:+UseG1GC"
brokers=127.0.0.1:$TESTENV_KAFKA_PORT
engine=http://127.0.0.1:$TESTENV_OPENSEARCH_PORT
topic=bench-quotes

step "build coinrelay (RelWithDebInfo) into $build"
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" --target coinrelay
bin=$root/$build/src/coinrelay

step "Python venv with kafka-python and requests (from PyPI)"
if [[ ! -x $venv/bin/python ]]; then
  python3 -m venv "$venv"
fi
"$venv/bin/pip" install --quiet --disable-pip-version-check kafka-python==2.3.3 requests==2.32.5 \
  zstandard==0.25.0  # the topic is zstd-compressed, as `coinrelay fetch` writes it

step "Kafka and OpenSearch (testenv instance $TESTENV_INSTANCE)"
trap 'tools/testenv/testenv down >/dev/null 2>&1 || true' EXIT
tools/testenv/testenv down >/dev/null 2>&1 || true
tools/testenv/testenv up

step "pre-load $quotes quotes into $topic"
"$bin" setup kafka --brokers "$brokers" --topic "$topic" >/dev/null
t0=$(now)
python3 bench/index/gen_quotes.py "$quotes" | kcat -P -b "$brokers" -t "$topic" -K$'\t' -z zstd \
  -X queue.buffering.max.kbytes=262144
loaded=$(kcat -C -b "$brokers" -t "$topic" -o -1 -e -q -f '%o\n' | awk '{ s += $1 + 1 } END { print s }')
echo "loaded $loaded messages in $(awk -v a="$t0" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }') s"
[[ $loaded == "$quotes" ]] || { echo "expected $quotes messages, found $loaded" >&2; exit 1; }

count() {
  curl -s -XPOST "$engine/$1/_refresh" >/dev/null
  curl -s "$engine/$1/_count" | sed -n 's/.*"count":\([0-9]*\).*/\1/p'
}
# Waits until index $1 holds $2 documents; prints the moment it did.
wait_count() {
  while :; do
    local n
    n=$(count "$1")
    if [[ -n $n ]] && ((n >= $2)); then now; return; fi
    sleep 0.2
  done
}
# Same template (explicit mappings, refresh 1 s) for every contender.
for index in bench-warmup bench-coinrelay bench-python-doc bench-python-bulk bench-python-bulk-ids; do
  "$bin" setup elasticsearch --elasticsearch "$engine" --index "$index" >/dev/null
done

step "warm-up: 200000 documents into a throwaway index (not measured)"
# A freshly started JVM compiles its hot paths during the first minute; without this, whoever
# goes first pays for OpenSearch's warm-up.
"$venv/bin/python" bench/index/python_consumer.py --brokers "$brokers" --topic "$topic" \
  --group bench-warmup --engine "$engine" --index bench-warmup --mode bulk --max-docs 200000 \
  --max-seconds 300 >/dev/null
curl -s -XDELETE "$engine/bench-warmup" >/dev/null

step "coinrelay index: $quotes documents"
t0=$(now)
# shellcheck disable=SC2086
"$bin" index --brokers "$brokers" --topic "$topic" --elasticsearch "$engine" --index bench-coinrelay \
  --set kafka.group_id=bench-coinrelay --set index.metrics_listen= ${INDEX_ARGS:-} \
  >"$out/coinrelay-index.log" 2>&1 &
pid=$!
# Also the moment its first $py_docs are searchable: the same amount the Python consumers get.
t100=$(wait_count bench-coinrelay "$py_docs")
t1=$(wait_count bench-coinrelay "$quotes")
peak_kb=$(awk '/VmHWM/ { print $2 }' "/proc/$pid/status")
# CPU seconds the indexer itself used (user + system), out of the 2 cores it shares with the engine.
cpu_s=$(awk -v hz="$(getconf CLK_TCK)" '{ printf "%.1f", ($14 + $15) / hz }' "/proc/$pid/stat")
kill -TERM "$pid"
wait "$pid" || true
cr_seconds=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
cr_rate=$(awk -v n="$quotes" -v s="$cr_seconds" 'BEGIN { printf "%.0f", n / s }')
cr100_seconds=$(awk -v a="$t0" -v b="$t100" 'BEGIN { printf "%.2f", b - a }')
cr100_rate=$(awk -v n="$py_docs" -v s="$cr100_seconds" 'BEGIN { printf "%.0f", n / s }')
echo "coinrelay: $quotes documents searchable in $cr_seconds s = $cr_rate docs/s (first $py_docs in $cr100_seconds s = $cr100_rate docs/s), peak RSS $((peak_kb / 1024)) MB, $cpu_s CPU s"

python_run() {  # mode index [extra args] -> "docs seconds"
  local mode=$1 index=$2 t0 t1 result docs
  shift 2
  t0=$(now)
  result=$("$venv/bin/python" bench/index/python_consumer.py --brokers "$brokers" --topic "$topic" \
    --group "bench-$index" --engine "$engine" --index "$index" --mode "$mode" \
    --max-docs "$py_docs" --max-seconds "$py_seconds" "$@")
  docs=$(echo "$result" | sed -n 's/.*"docs": \([0-9]*\).*/\1/p')
  t1=$(wait_count "$index" "$docs")
  echo "$docs $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')"
}

step "Python, one POST /_doc per message (the seed's consumer)"
read -r doc_docs doc_seconds < <(python_run doc bench-python-doc)
doc_rate=$(awk -v n="$doc_docs" -v s="$doc_seconds" 'BEGIN { printf "%.0f", n / s }')
echo "python _doc: $doc_docs documents searchable in $doc_seconds s = $doc_rate docs/s"

step "Python, _bulk of 1000"
read -r bulk_docs bulk_seconds < <(python_run bulk bench-python-bulk)
bulk_rate=$(awk -v n="$bulk_docs" -v s="$bulk_seconds" 'BEGIN { printf "%.0f", n / s }')
echo "python _bulk: $bulk_docs documents searchable in $bulk_seconds s = $bulk_rate docs/s"

step "Python, _bulk of 1000 with coinrelay's document ids (idempotent, as coinrelay)"
read -r ids_docs ids_seconds < <(python_run bulk bench-python-bulk-ids --ids)
ids_rate=$(awk -v n="$ids_docs" -v s="$ids_seconds" 'BEGIN { printf "%.0f", n / s }')
echo "python _bulk with ids: $ids_docs documents searchable in $ids_seconds s = $ids_rate docs/s"

step "results"
# Ratios on the same amount of documents (each one's first $py_docs, or 120 s for the seed's).
ratio_doc=$(awk -v a="$cr100_rate" -v b="$doc_rate" 'BEGIN { printf "%.1f", a / b }')
ratio_bulk=$(awk -v a="$cr100_rate" -v b="$bulk_rate" 'BEGIN { printf "%.2f", a / b }')
ratio_ids=$(awk -v a="$cr100_rate" -v b="$ids_rate" 'BEGIN { printf "%.2f", a / b }')
cat >"$out/results.json" <<EOF
{"date":"$(date -u +%Y-%m-%dT%H:%M:%SZ)","quotes":$quotes,"cpus":$(nproc),
 "coinrelay":{"docs":$quotes,"seconds":$cr_seconds,"docs_per_s":$cr_rate,"peak_rss_mb":$((peak_kb / 1024)),"cpu_seconds":$cpu_s,
   "first_docs":$py_docs,"first_seconds":$cr100_seconds,"first_docs_per_s":$cr100_rate},
 "python_doc":{"docs":$doc_docs,"seconds":$doc_seconds,"docs_per_s":$doc_rate},
 "python_bulk":{"docs":$bulk_docs,"seconds":$bulk_seconds,"docs_per_s":$bulk_rate},
 "python_bulk_ids":{"docs":$ids_docs,"seconds":$ids_seconds,"docs_per_s":$ids_rate},
 "ratio_vs_python_doc":$ratio_doc,"ratio_vs_python_bulk":$ratio_bulk,"ratio_vs_python_bulk_ids":$ratio_ids}
EOF
cat >"$out/results.md" <<EOF
| indexer | documents | seconds until searchable | documents/s | ratio |
| --- | ---: | ---: | ---: | ---: |
| \`coinrelay index\`, all | $quotes | $cr_seconds | $cr_rate | — |
| \`coinrelay index\`, its first $py_docs | $py_docs | $cr100_seconds | $cr100_rate | — |
| Python, one \`POST /_doc\` per message (the seed) | $doc_docs | $doc_seconds | $doc_rate | coinrelay (first $py_docs) / this = ${ratio_doc} |
| Python, \`_bulk\` of 1000 | $bulk_docs | $bulk_seconds | $bulk_rate | coinrelay (first $py_docs) / this = ${ratio_bulk} |
| Python, \`_bulk\` of 1000 with coinrelay's ids | $ids_docs | $ids_seconds | $ids_rate | coinrelay (first $py_docs) / this = ${ratio_ids} |

Peak memory (VmHWM) of \`coinrelay index\`: $((peak_kb / 1024)) MB; CPU it used: $cpu_s s (load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)).
EOF
cat "$out/results.md"
