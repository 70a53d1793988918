#!/usr/bin/env bash
# Builds the sanitizer tree: clang with AddressSanitizer and UndefinedBehaviorSanitizer, for the
# sanitized unit tests and the libFuzzer targets (-O1: asserts kept, fuzzing at a useful speed).
#   tools/build-sanitized.sh [build dir, default build-asan]
# Then: ctest --test-dir build-asan -L unit; fuzz/run.sh build-asan
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build-asan}
cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_COMPILER=clang++ \
  -DCMAKE_CXX_FLAGS_DEBUG="-g -O1" -DCOINRELAY_SANITIZE=ON -DCOINRELAY_FUZZ=ON >/dev/null
cmake --build "$dir" -j "$(nproc)" --target unit_tests fuzz_targets
