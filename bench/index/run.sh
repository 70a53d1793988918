#!/usr/bin/env bash
# Indexing benchmark: `coinrelay index` against the search engine's own ceiling, and against the
# seed's Python consumers. See BENCHMARKS.md.
#
# QUOTES quotes (1 000 000) are pre-loaded into Kafka (3 partitions, zstd, the documents
# `coinrelay fetch` publishes, byte for byte) and also written as prebuilt `_bulk` bodies of
# BULK_DOCS (1 000) documents with the same ids. Then, after a warm-up of both (not measured),
# ROUNDS (3) rounds alternate, each into a fresh index of the same template (explicit
# mappings, refresh 1 s), the clock stopping when `_count` (after a `_refresh`) reaches QUOTES:
# - the ceiling: WORKERS (4) curl processes post the prebuilt bodies over keep-alive
#   connections, as fast as the engine answers (no Kafka, nothing to encode: the most the engine
#   takes on this machine);
# - `coinrelay index` (its defaults plus INDEX_ARGS), from process start, in a new consumer
#   group; its peak RSS (VmHWM) and CPU seconds are read before it is stopped. While it runs the
#   script watches its own count of documents the engine acknowledged (its /metrics), and only
#   then refreshes and counts, as it does once the ceiling's workers are done: polling `_count`
#   after a `_refresh` during the run would cut the engine's segments small for one contender
#   only (it cost the engine about a tenth more CPU, see BENCHMARKS.md).
# The engine's own CPU seconds (its process, read before and after) are reported for both.
# The order of the two flips every round, so slow phases of the machine hit both sides. The
# ratio is coinrelay's mean documents/s over the ceiling's. Then (PYTHON=1) the seed's Python
# consumer, one POST /_doc per message, and the same consumer sending _bulk of 1 000 (without and
# with coinrelay's ids), each on its first PY_DOCS documents or PY_SECONDS.
#
#   bench/index/run.sh                   # results in build/bench-index/results.json and .md
#   ROUNDS=2 PYTHON=0 bench/index/run.sh # ceiling vs coinrelay only
#
# Env: BUILD_DIR (build), QUOTES (1000000), ROUNDS (3), WORKERS (4), BULK_DOCS (1000: the
#      ceiling's bodies), WARMUP_DOCS (200000), PYTHON (1), PY_DOCS (100000), PY_SECONDS (120),
#      INDEX_ARGS (extra --set ... for coinrelay index), BENCH_INSTANCE (bench-index),
#      BENCH_KAFKA_PORT (29092), BENCH_OPENSEARCH_PORT (29200), BENCH_METRICS_PORT (29465:
#      coinrelay's /metrics), CODEC (zstd: the topic's compression, as `coinrelay fetch` writes
#      it by default), CEILING_READS_KAFKA (0; 1: a kcat consumer reads the topic during each
#      ceiling run, so that the ceiling shares the cores with Kafka too), REFRESH (the template's
#      refresh interval, 1s; e.g. 30s for both contenders), COINRELAY_BIN (a coinrelay binary to
#      measure instead of building one), KEEP_ENV (0; 1 leaves Kafka and OpenSearch running and
#      reuses them, topic and bodies included, on the next run). Runs its own testenv instance,
#      never the default one.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
build=${BUILD_DIR:-build}
quotes=${QUOTES:-1000000}
rounds=${ROUNDS:-3}
workers=${WORKERS:-4}
bulk_docs=${BULK_DOCS:-1000}
warmup_docs=${WARMUP_DOCS:-200000}
python=${PYTHON:-1}
py_docs=${PY_DOCS:-100000}
py_seconds=${PY_SECONDS:-120}
keep_env=${KEEP_ENV:-0}
# The topic's compression: zstd is `coinrelay fetch`'s default (kafka.compression).
codec=${CODEC:-zstd}
ceiling_reads_kafka=${CEILING_READS_KAFKA:-0}
refresh=${REFRESH:-}
out=$root/build/bench-index
bodies=$out/bodies
venv=$root/build/bench-venv
mkdir -p "$out"
step() { printf '\n== %s (%ss, load %s)\n' "$1" "$SECONDS" "$(load)"; }
now() { date +%s.%N; }
load() { cut -d' ' -f1 /proc/loadavg; }

export TESTENV_INSTANCE=${BENCH_INSTANCE:-bench-index}
export TESTENV_KAFKA_PORT=${BENCH_KAFKA_PORT:-29092}
export TESTENV_OPENSEARCH_PORT=${BENCH_OPENSEARCH_PORT:-29200}
# A long run: let the JIT compile fully (the testenv default stops at C1 for short tests), and
# give OpenSearch the heap a small production node would have.
export TESTENV_KAFKA_JVM_OPTS="-Xms512m -Xmx512m -XX:+UseSerialGC"
export TESTENV_OPENSEARCH_JVM_OPTS="-Xms1g -Xmx1g -XX:+UseG1GC"
brokers=127.0.0.1:$TESTENV_KAFKA_PORT
engine=http://127.0.0.1:$TESTENV_OPENSEARCH_PORT
metrics=127.0.0.1:${BENCH_METRICS_PORT:-29465}
topic=bench-quotes

tools/install-deps.sh >/dev/null  # kcat, curl, Java for Kafka and OpenSearch, ...
if [[ -n ${COINRELAY_BIN:-} ]]; then
  bin=$(realpath "$COINRELAY_BIN")
  # coinrelay refuses COINRELAY_* variables it does not know: this one is the script's own.
  unset COINRELAY_BIN
else
  step "build coinrelay (RelWithDebInfo) into $build"
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build "$build" --target coinrelay
  bin=$root/$build/src/coinrelay
fi

if [[ $python == 1 ]]; then
  step "Python venv with kafka-python and requests (from PyPI)"
  if [[ ! -x $venv/bin/python ]]; then
    python3 -m venv "$venv"
  fi
  "$venv/bin/pip" install --quiet --disable-pip-version-check kafka-python==2.3.3 requests==2.32.5 \
    zstandard==0.25.0  # the topic is zstd-compressed, as `coinrelay fetch` writes it
fi

step "Kafka and OpenSearch (testenv instance $TESTENV_INSTANCE)"
messages() { kcat -C -b "$brokers" -t "$topic" -o -1 -e -q -f '%o\n' 2>/dev/null | awk '{ s += $1 + 1 } END { print s + 0 }'; }
reuse=0
if [[ $keep_env == 1 ]]; then
  trap 'echo "Kafka and OpenSearch left running (KEEP_ENV=1); stop them with TESTENV_INSTANCE=$TESTENV_INSTANCE tools/testenv/testenv down"' EXIT
  if tools/testenv/testenv status >/dev/null 2>&1 && [[ $(messages) == "$quotes" ]] &&
    [[ -f $bodies/.complete && $(cat "$bodies/.complete") == "$quotes $bulk_docs" ]]; then
    reuse=1
    echo "reusing the running instance, its $quotes quotes and the bodies in $bodies"
  fi
else
  trap 'tools/testenv/testenv down >/dev/null 2>&1 || true' EXIT
fi
if [[ $reuse == 0 ]]; then
  tools/testenv/testenv down >/dev/null 2>&1 || true
  tools/testenv/testenv up

  step "pre-load $quotes quotes into $topic, and the same documents as _bulk bodies of $bulk_docs"
  "$bin" setup kafka --brokers "$brokers" --topic "$topic" >/dev/null
  rm -rf "$bodies"
  t0=$(now)
  python3 bench/index/gen_quotes.py "$quotes" --bulk-dir "$bodies" --bulk-docs "$bulk_docs" |
    kcat -P -b "$brokers" -t "$topic" -K$'\t' -z "$codec" -X queue.buffering.max.kbytes=262144
  loaded=$(messages)
  echo "loaded $loaded messages in $(awk -v a="$t0" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }') s"
  [[ $loaded == "$quotes" ]] || { echo "expected $quotes messages, found $loaded" >&2; exit 1; }
  echo "$quotes $bulk_docs" >"$bodies/.complete"
fi
mapfile -t body_files < <(find "$bodies" -name '*.ndjson' | sort)

count() {
  curl -s -XPOST "$engine/$1/_refresh" >/dev/null
  curl -s "$engine/$1/_count" | sed -n 's/.*"count":\([0-9]*\).*/\1/p'
}
# Waits until index $1 holds $2 documents and prints the moment it did; fails after $3 seconds
# (600) without them.
wait_count() {
  local deadline=$(($(date +%s) + ${3:-600})) n
  while :; do
    n=$(count "$1")
    if [[ -n $n ]] && ((n >= $2)); then now; return; fi
    if (($(date +%s) > deadline)); then
      echo "index $1 holds ${n:-no} documents, $2 expected" >&2
      return 1
    fi
    sleep 0.2
  done
}
fresh_index() {  # the same template for every contender; nothing left of an earlier run
  curl -s -XDELETE "$engine/$1" >/dev/null
  "$bin" setup elasticsearch --elasticsearch "$engine" --index "$1" >/dev/null
  if [[ -n $refresh ]]; then
    curl -s -XPUT "$engine/$1/_settings" -H 'Content-Type: application/json' \
      -d "{\"index\":{\"refresh_interval\":\"$refresh\"}}" >/dev/null
  fi
}
# CPU seconds (user + system) process $1 has used so far.
cpu_of() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%.1f", ($14 + $15) / hz }' "/proc/$1/stat"; }
engine_cpu() { cpu_of "$(cat "$root/build/testenv/instances/$TESTENV_INSTANCE/run/opensearch/opensearch.pid")"; }
# Documents the running `coinrelay index` says the engine acknowledged (0 until it answers).
acknowledged() {
  curl -s --max-time 2 "http://$metrics/metrics" | awk '/^coinrelay_index_documents_indexed_total/ { n = $2 } END { printf "%d", n }'
}
# Waits until the indexer (pid $1) says $2 documents were acknowledged and prints the moment;
# fails after $3 seconds (600) or when the indexer exits.
wait_acknowledged() {
  local deadline=$(($(date +%s) + ${3:-600}))
  while (($(acknowledged) < $2)); do
    if ! kill -0 "$1" 2>/dev/null || (($(date +%s) > deadline)); then
      echo "coinrelay index acknowledged $(acknowledged) of $2 documents" >&2
      return 1
    fi
    sleep 0.1
  done
  now
}
rate() { awk -v n="$1" -v s="$2" 'BEGIN { printf "%.0f", n / s }'; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }

# Posts the first $2 bodies into index $1 with $workers curl processes, each sending its share
# one request after the other over one keep-alive connection. Prints "docs seconds".
ceiling_run() {
  local index=$1 n=$2 t0 t1 w i docs=0 pids=()
  fresh_index "$index"
  for ((w = 0; w < workers; w++)); do
    : >"$out/ceiling-$w.curl"
  done
  for ((i = 0; i < n; i++)); do
    # One operation per body; `next` separates them (curl reuses the connection).
    ((i >= workers)) && echo next >>"$out/ceiling-$((i % workers)).curl"
    printf 'url = "%s/%s/_bulk"\nupload-file = "%s"\nrequest = "POST"\nheader = "Content-Type: application/x-ndjson"\nheader = "Expect:"\noutput = "/dev/null"\nwrite-out = "%%{http_code}\\n"\nsilent\n' \
      "$engine" "$index" "${body_files[i]}" >>"$out/ceiling-$((i % workers)).curl"
  done
  docs=$((n * bulk_docs < quotes ? n * bulk_docs : quotes))
  local cpu0
  cpu0=$(engine_cpu)
  t0=$(now)
  for ((w = 0; w < workers; w++)); do
    curl -K "$out/ceiling-$w.curl" >"$out/ceiling-$w.status" &
    pids+=($!)
  done
  local reader=
  if [[ $ceiling_reads_kafka == 1 ]]; then
    # The same messages read from Kafka meanwhile, decompressed and dropped: the ceiling then
    # shares the two cores with the broker and a consumer, as coinrelay does.
    kcat -C -b "$brokers" -t "$topic" -o beginning -e -q -f '%s\n' >/dev/null 2>&1 &
    reader=$!
  fi
  wait "${pids[@]}"
  [[ -n $reader ]] && { wait "$reader" || true; }
  if grep -qv '^200$' "$out"/ceiling-*.status; then
    echo "ceiling: a _bulk request was not answered 200" >&2
    exit 1
  fi
  t1=$(wait_count "$index" "$docs")
  echo "$docs $(elapsed "$t0" "$t1") $(elapsed "$cpu0" "$(engine_cpu)")"
}

# Indexes the topic into index $1 with coinrelay until it holds $2 documents, in a group of its
# own (a group of an earlier run, with KEEP_ENV=1, would start where that run stopped). Prints
# "seconds first_seconds peak_rss_mb cpu_seconds engine_cpu_seconds" (first: until $py_docs
# were searchable); nothing when it fails.
coinrelay_run() {
  local index=$1 n=$2 t0 t1 tfirst pid peak_kb cpu cpu0
  fresh_index "$index"
  cpu0=$(engine_cpu)
  t0=$(now)
  # shellcheck disable=SC2086
  "$bin" index --brokers "$brokers" --topic "$topic" --elasticsearch "$engine" --index "$index" \
    --set kafka.group_id="$index-$(date +%s%N)" --set index.metrics_listen="$metrics" \
    ${INDEX_ARGS:-} >"$out/$index.log" 2>&1 &
  pid=$!
  local first=$((py_docs < n ? py_docs : n))
  # Each time, the engine has the last word: once coinrelay says they were acknowledged, one
  # refresh, and the documents must be searchable (as the Python consumers' are timed).
  if ! wait_acknowledged "$pid" "$first" >/dev/null || ! tfirst=$(wait_count "$index" "$first") ||
    ! wait_acknowledged "$pid" "$n" >/dev/null || ! t1=$(wait_count "$index" "$n"); then
    kill -TERM "$pid" 2>/dev/null || true  # never leave an indexer behind, holding the port
    wait "$pid" || true
    return 1
  fi
  peak_kb=$(awk '/VmHWM/ { print $2 }' "/proc/$pid/status")
  # CPU seconds the indexer itself used (user + system), of the 2 cores it shares with the engine.
  cpu=$(cpu_of "$pid")
  kill -TERM "$pid"
  wait "$pid" || true
  echo "$(elapsed "$t0" "$t1") $(elapsed "$t0" "$tfirst") $((peak_kb / 1024)) $cpu $(elapsed "$cpu0" "$(engine_cpu)")"
}

step "warm-up (not measured): $warmup_docs documents by each into throwaway indices"
# A freshly started JVM compiles its hot paths during the first minute; without this, whoever
# goes first pays for OpenSearch's warm-up.
warm_bodies=$(((warmup_docs + bulk_docs - 1) / bulk_docs))
((warm_bodies > ${#body_files[@]})) && warm_bodies=${#body_files[@]}
read -r docs seconds _ < <(ceiling_run bench-warmup-ceiling "$warm_bodies")
echo "ceiling: $docs documents in $seconds s"
read -r seconds _ _ _ _ < <(coinrelay_run bench-warmup-coinrelay "$docs")
echo "coinrelay: $docs documents in $seconds s"
curl -s -XDELETE "$engine/bench-warmup-*" >/dev/null

ceiling_rates=() coinrelay_rates=() first_rates=() peaks=() rows=()
for ((r = 1; r <= rounds; r++)); do
  order=(ceiling coinrelay)
  ((r % 2 == 0)) && order=(coinrelay ceiling)
  for who in "${order[@]}"; do
    step "round $r: $who, $quotes documents"
    before=$(load)
    if [[ $who == ceiling ]]; then
      read -r docs seconds engine_s < <(ceiling_run "bench-ceiling-$r" "${#body_files[@]}")
      [[ $docs == "$quotes" ]] || { echo "the bodies hold $docs documents, not $quotes" >&2; exit 1; }
      docs_s=$(rate "$quotes" "$seconds")
      ceiling_rates+=("$docs_s")
      echo "ceiling: $quotes documents searchable in $seconds s = $docs_s docs/s, engine $engine_s CPU s"
      rows+=("$r|ceiling ($workers curl workers)|$seconds|$docs_s|—|—|$engine_s|$before")
    else
      read -r seconds first_seconds peak_mb cpu engine_s < <(coinrelay_run "bench-coinrelay-$r" "$quotes") || true
      [[ -n ${engine_s:-} ]] || { echo "coinrelay index did not index the $quotes documents" >&2; exit 1; }
      docs_s=$(rate "$quotes" "$seconds")
      coinrelay_rates+=("$docs_s")
      first_rates+=("$(rate "$py_docs" "$first_seconds")")
      peaks+=("$peak_mb")
      echo "coinrelay: $quotes documents searchable in $seconds s = $docs_s docs/s (first $py_docs in $first_seconds s), peak RSS $peak_mb MB, $cpu CPU s, engine $engine_s CPU s"
      rows+=("$r|\`coinrelay index\`|$seconds|$docs_s|$peak_mb|$cpu|$engine_s|$before")
    fi
    curl -s -XDELETE "$engine/bench-$who-$r" >/dev/null
  done
done
mean() { printf '%s\n' "$@" | awk '{ s += $1 } END { printf "%.0f", s / NR }'; }
ceiling_mean=$(mean "${ceiling_rates[@]}")
coinrelay_mean=$(mean "${coinrelay_rates[@]}")
first_mean=$(mean "${first_rates[@]}")
peak_max=$(printf '%s\n' "${peaks[@]}" | sort -n | tail -1)
ratio=$(awk -v a="$coinrelay_mean" -v b="$ceiling_mean" 'BEGIN { printf "%.2f", a / b }')
echo
echo "ceiling mean $ceiling_mean docs/s, coinrelay mean $coinrelay_mean docs/s: ratio $ratio; coinrelay peak RSS $peak_max MB"

python_json=""
python_md=""
if [[ $python == 1 ]]; then
  python_run() {  # mode index [extra args] -> "docs seconds"
    local mode=$1 index=$2 t0 t1 result docs
    shift 2
    fresh_index "$index"
    t0=$(now)
    result=$("$venv/bin/python" bench/index/python_consumer.py --brokers "$brokers" --topic "$topic" \
      --group "bench-$index-$RANDOM" --engine "$engine" --index "$index" --mode "$mode" \
      --max-docs "$py_docs" --max-seconds "$py_seconds" "$@")
    docs=$(echo "$result" | sed -n 's/.*"docs": \([0-9]*\).*/\1/p')
    t1=$(wait_count "$index" "$docs")
    curl -s -XDELETE "$engine/$index" >/dev/null
    echo "$docs $(elapsed "$t0" "$t1")"
  }
  step "Python, one POST /_doc per message (the seed's consumer)"
  read -r doc_docs doc_seconds < <(python_run doc bench-python-doc)
  doc_rate=$(rate "$doc_docs" "$doc_seconds")
  echo "python _doc: $doc_docs documents searchable in $doc_seconds s = $doc_rate docs/s"
  step "Python, _bulk of 1000"
  read -r bulk_docs_n bulk_seconds < <(python_run bulk bench-python-bulk)
  bulk_rate=$(rate "$bulk_docs_n" "$bulk_seconds")
  echo "python _bulk: $bulk_docs_n documents searchable in $bulk_seconds s = $bulk_rate docs/s"
  step "Python, _bulk of 1000 with coinrelay's document ids (idempotent, as coinrelay)"
  read -r ids_docs ids_seconds < <(python_run bulk bench-python-bulk-ids --ids)
  ids_rate=$(rate "$ids_docs" "$ids_seconds")
  echo "python _bulk with ids: $ids_docs documents searchable in $ids_seconds s = $ids_rate docs/s"
  # Ratios on the same amount of documents: coinrelay's first $py_docs (mean of its runs).
  ratio_doc=$(awk -v a="$first_mean" -v b="$doc_rate" 'BEGIN { printf "%.1f", a / b }')
  ratio_bulk=$(awk -v a="$first_mean" -v b="$bulk_rate" 'BEGIN { printf "%.2f", a / b }')
  ratio_ids=$(awk -v a="$first_mean" -v b="$ids_rate" 'BEGIN { printf "%.2f", a / b }')
  python_json=",
 \"coinrelay_first_docs\":$py_docs,\"coinrelay_first_docs_per_s_mean\":$first_mean,
 \"python_doc\":{\"docs\":$doc_docs,\"seconds\":$doc_seconds,\"docs_per_s\":$doc_rate,\"coinrelay_first_ratio\":$ratio_doc},
 \"python_bulk\":{\"docs\":$bulk_docs_n,\"seconds\":$bulk_seconds,\"docs_per_s\":$bulk_rate,\"coinrelay_first_ratio\":$ratio_bulk},
 \"python_bulk_ids\":{\"docs\":$ids_docs,\"seconds\":$ids_seconds,\"docs_per_s\":$ids_rate,\"coinrelay_first_ratio\":$ratio_ids}"
  python_md="
| Python consumer | documents | seconds until searchable | documents/s | coinrelay (its first $py_docs, mean $first_mean/s) / this |
| --- | ---: | ---: | ---: | ---: |
| one \`POST /_doc\` per message (the seed) | $doc_docs | $doc_seconds | $doc_rate | $ratio_doc |
| \`_bulk\` of 1000 | $bulk_docs_n | $bulk_seconds | $bulk_rate | $ratio_bulk |
| \`_bulk\` of 1000 with coinrelay's ids | $ids_docs | $ids_seconds | $ids_rate | $ratio_ids |"
fi

step "results"
runs_json=$(printf '%s\n' "${rows[@]}" | awk -F'|' '{ printf "%s{\"round\":%s,\"who\":\"%s\",\"seconds\":%s,\"docs_per_s\":%s,\"engine_cpu_s\":%s,\"load_before\":%s}", (NR > 1 ? "," : ""), $1, ($2 ~ /ceiling/ ? "ceiling" : "coinrelay"), $3, $4, $7, $8 }')
cat >"$out/results.json" <<EOF
{"date":"$(date -u +%Y-%m-%dT%H:%M:%SZ)","quotes":$quotes,"rounds":$rounds,"workers":$workers,"bulk_docs":$bulk_docs,"cpus":$(nproc),
 "index_args":"${INDEX_ARGS:-}","runs":[$runs_json],
 "ceiling_docs_per_s_mean":$ceiling_mean,"coinrelay_docs_per_s_mean":$coinrelay_mean,"ratio":$ratio,
 "coinrelay_peak_rss_mb_max":$peak_max,"load_at_end":"$(cut -d' ' -f1-3 /proc/loadavg)"$python_json}
EOF
{
  echo "| round | indexer | seconds until $quotes searchable | documents/s | peak RSS MB | CPU s | engine CPU s | load before |"
  echo "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |"
  printf '%s\n' "${rows[@]}" | awk -F'|' '{ printf "| %s | %s | %s | %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5, $6, $7, $8 }'
  echo
  echo "Mean: ceiling $ceiling_mean documents/s, \`coinrelay index\` $coinrelay_mean documents/s: **$ratio** of the ceiling; peak RSS of \`coinrelay index\` over the $quotes: at most **$peak_max MB** (load average at the end: $(cut -d' ' -f1-3 /proc/loadavg))."
  echo "$python_md"
} >"$out/results.md"
cat "$out/results.md"
