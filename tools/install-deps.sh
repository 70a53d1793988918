#!/usr/bin/env bash
# Installs everything a fresh Debian 12 machine lacks to build and test coinrelay.
# Safe to run twice: apt-get skips installed packages, Maven and npm reuse their caches.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  build-essential cmake ninja-build pkg-config clang-format
  librdkafka-dev libcurl4-openssl-dev libsimdjson-dev libboost1.81-dev
  libspdlog-dev libfmt-dev libcli11-dev libtomlplusplus-dev libsqlite3-dev
  libgtest-dev libgmock-dev libbenchmark-dev zlib1g-dev
  default-jdk-headless maven kcat curl jq python3
  python3-venv python3-jsonschema
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: apt-get install ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
echo "install-deps: system packages ready"
