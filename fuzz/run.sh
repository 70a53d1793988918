#!/usr/bin/env bash
# Runs every libFuzzer target of a build tree configured with -DCOINRELAY_FUZZ=ON for a bounded
# time, starting from its seed corpus (fuzz/corpus/<target>; new inputs go to the build tree,
# never into the repository), and prints each target's executions, coverage and speed. A crash
# or a failed property stops the script with the input saved in <build>/fuzz/artifacts/.
# Usage: fuzz/run.sh <build dir> [seconds per target, default 10] [targets at once, default 1]
# Env: FUZZ_SEED (1): libFuzzer's seed, fixed so that a CI run explores the same inputs first and
#      a failure reproduces; 0 draws a new one each run (for longer runs that look further).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:?usage: fuzz/run.sh <build dir> [seconds per target]}
seconds=${2:-10}
parallel=${3:-1}
seed=${FUZZ_SEED:-1}
targets=(http_request query_parsers markets_parser quote_decoder spool_reader config_loader)
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

# One target: its summary line in <build>/fuzz/<target>.result, or its failure in .failed.
fuzz_one() {
  local target=$1
  local binary=$build/fuzz/fuzz_$target work=$build/fuzz/corpus/$target
  local artifacts=$build/fuzz/artifacts/$target log=$build/fuzz/$target.log
  mkdir -p "$work" "$artifacts"
  rm -f "$build/fuzz/$target.result" "$build/fuzz/$target.failed"
  if ! "$binary" -max_total_time="$seconds" -seed="$seed" -timeout=10 -rss_limit_mb=2048 \
    -max_len=16384 -print_final_stats=1 -artifact_prefix="$artifacts/" "$work" \
    "fuzz/corpus/$target" >"$log" 2>&1; then
    {
      echo "FAILED: fuzz_$target; its input and log:"
      ls "$artifacts"
      tail -n 60 "$log"
    } >"$build/fuzz/$target.failed"
    return
  fi
  local done_line executions cov ft speed
  done_line=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -1)
  executions=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
  cov=$(sed -E -n 's/.* cov: ([0-9]+).*/\1/p' <<<"$done_line")
  ft=$(sed -E -n 's/.* ft: ([0-9]+).*/\1/p' <<<"$done_line")
  speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
  printf '%-16s %12s %8s %8s %10s\n' "$target" "$executions" "$cov" "$ft" "$speed" \
    >"$build/fuzz/$target.result"
}

# Each target is single-threaded: `parallel` of them at once use that many cores for the same
# time per target.
mkdir -p "$build/fuzz"
for target in "${targets[@]}"; do
  while (($(jobs -rp | wc -l) >= parallel)); do
    wait -n || true
  done
  fuzz_one "$target" &
done
wait

status=0
printf '%-16s %12s %8s %8s %10s\n' target executions cov ft exec/s
for target in "${targets[@]}"; do
  if [[ -f $build/fuzz/$target.result ]]; then
    cat "$build/fuzz/$target.result"
  else
    cat "$build/fuzz/$target.failed" 2>/dev/null || echo "FAILED: fuzz_$target left no result"
    status=1
  fi
done
exit $status
