#!/usr/bin/env bash
# The whole test suite, from a fresh Debian 12 machine: installs what is missing, checks the
# formatting, builds, runs the unit tests, starts real Kafka and OpenSearch (tools/testenv) for
# the integration tests, drives the dashboard in headless Chromium, and runs the unit tests
# again under AddressSanitizer and UndefinedBehaviorSanitizer. Safe to run twice; leaves no server
# running.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
jobs=$(nproc)
# The Kafka unit tests mostly wait on the mock cluster's timers: twice the cores keeps both busy.
unit_jobs=$((2 * jobs))
# ccache (installed by install-deps) keyed on paths relative to the checkout, so a fresh clone of
# an unchanged tree compiles from the cache of an earlier one.
export CCACHE_BASEDIR=$root CCACHE_NOHASHDIR=true
stages=()
step() {
  stages+=("$SECONDS $1")
  printf '\n== %s (%ss)\n' "$1" "$SECONDS"
}
summary() {  # each stage's duration, for the closing line and the logs
  local i start name next
  for i in "${!stages[@]}"; do
    start=${stages[$i]%% *} name=${stages[$i]#* }
    next=${stages[$((i + 1))]:-$SECONDS}
    printf '  %5ss  %s\n' "$((${next%% *} - start))" "$name"
  done
}

step "dependencies"
tools/install-deps.sh

step "format check"
tools/check-format.sh

# Kafka and OpenSearch start while coinrelay compiles: their start-up is mostly waiting.
# --all on exit: also the servers of a test that was killed before it could stop its own instance.
trap 'tools/testenv/testenv down --all >/dev/null 2>&1 || true' EXIT
mkdir -p build
tools/testenv/testenv up >build/testenv-up.log 2>&1 &
testenv_up=$!

step "build (RelWithDebInfo)"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$jobs"

step "unit tests"
ctest --test-dir build -L unit --output-on-failure -j "$unit_jobs"

# The sanitizer tree (tools/build-sanitized.sh) compiles from here on at the lowest CPU priority:
# the integration tests below mostly wait on servers and schedules, and the CPU they use comes
# first. Its own session, so that an early exit stops the compilers too.
setsid nice -n 19 tools/build-sanitized.sh >build/sanitized-build.log 2>&1 &
sanitized=$!
trap 'kill -- -$sanitized 2>/dev/null || true; tools/testenv/testenv down --all >/dev/null 2>&1 || true' EXIT

step "integration tests (real Kafka 3.9 and OpenSearch 2.19)"
wait "$testenv_up" || { cat build/testenv-up.log; exit 1; }
cat build/testenv-up.log
# Three groups at a time: they mostly wait on servers, schedules and outages (tests/CMakeLists.txt).
ctest --test-dir build -L integration --output-on-failure -j 3

step "message contract and consumer examples against real Kafka"
tools/test-consumers.sh build

step "deployment files: compose schema, image libraries, systemd units, compose wiring run natively"
deploy/check.sh build/src/coinrelay
tools/testenv/testenv down --all
trap 'kill -- -$sanitized 2>/dev/null || true' EXIT

step "browser tests (the dashboard in headless Chromium, against coinrelay run + simulate)"
ctest --test-dir build -L browser --output-on-failure
echo "screenshot: build/screenshots/dashboard.png"

step "client libraries (CoinGecko's Python and TypeScript SDKs, pycoingecko) against coinrelay run + simulate"
ctest --test-dir build -L clients --output-on-failure

step "unit tests under AddressSanitizer + UndefinedBehaviorSanitizer (clang)"
# Its build started before the integration tests; with nothing else running now, whatever it has
# left gets the whole machine.
wait "$sanitized" || { tail -n 80 build/sanitized-build.log; exit 1; }
trap - EXIT
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build-asan -L unit --output-on-failure -j "$unit_jobs"

step "fuzzing: each libFuzzer target 12 s from its seed corpus, one per core (fuzz/README.md)"
fuzz/run.sh build-asan 12 "$jobs"

step "all tests passed in ${SECONDS}s"
summary
echo "root: $root"
