#!/usr/bin/env bash
# Installs what the consumer examples (examples/consumers/) need to run, from the registries:
#   python: a venv under $OUT/python-venv with examples/consumers/python/requirements.txt (PyPI)
#   node:   examples/consumers/node/node_modules by `npm ci` from the committed package-lock.json
#   java:   examples/consumers/java/target/{classes,dependency} by mvn (Maven Central)
#   shell:  kcat and jq (Debian; tools/install-deps.sh installs them)
# Idempotent: each part is redone only when its inputs changed (a stamp holds their hash), so a
# second run takes about a second. Usage: tools/install-consumers.sh [OUT], OUT = build/consumers.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
out=$(mkdir -p "${1:-build/consumers}" && cd "${1:-build/consumers}" && pwd)
examples=$root/examples/consumers
python=${PYTHON:-python3}

# node_modules and target/ live in the source tree, shared by every build directory: one
# install at a time.
exec 9>"$examples/.install.lock"
flock 9

stamp_of() { cat "$@" | sha256sum | cut -d' ' -f1; }
fresh() { [ -f "$1" ] && [ "$(cat "$1")" = "$2" ]; }
t0=0
begin() { echo "install-consumers: $1"; t0=$(date +%s%N); }
took() { echo "install-consumers: $1 ready in $(( ($(date +%s%N) - t0) / 1000000 )) ms"; }

# Python
venv=$out/python-venv
want=$(stamp_of "$examples/python/requirements.txt")
if ! fresh "$venv/.coinrelay-stamp" "$want"; then
  begin "python venv ($venv)"
  "$python" -m venv --clear "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check -r "$examples/python/requirements.txt"
  echo "$want" >"$venv/.coinrelay-stamp"
  took python
fi

# Node.js (Debian 12's own nodejs is 18, which the example supports)
if ! command -v npm >/dev/null; then
  echo "install-consumers: apt-get install nodejs npm"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs npm \
    >/dev/null
fi
want=$(stamp_of "$examples/node/package-lock.json")
if ! fresh "$examples/node/node_modules/.coinrelay-stamp" "$want"; then
  begin "npm ci (examples/consumers/node)"
  (cd "$examples/node" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  echo "$want" >"$examples/node/node_modules/.coinrelay-stamp"
  took node
fi

# Java: compile and copy the runtime jars next to the classes; no jar packaging needed.
java_sources=$(find "$examples/java/pom.xml" "$examples/java/src" -type f | sort)
# shellcheck disable=SC2086 # one path per line, none with spaces
want=$(stamp_of $java_sources)
if ! fresh "$examples/java/target/.coinrelay-stamp" "$want"; then
  begin "mvn compile (examples/consumers/java)"
  rm -rf "$examples/java/target/dependency"  # copy-dependencies never removes a dropped jar
  if ! (cd "$examples/java" && mvn -B -q compile \
    org.apache.maven.plugins:maven-dependency-plugin:copy-dependencies \
    -DincludeScope=runtime >"$out/mvn.log" 2>&1); then
    grep -E '\[ERROR\]' "$out/mvn.log" | head -20 || tail -20 "$out/mvn.log"
    echo "install-consumers: mvn failed; the whole log is $out/mvn.log" >&2
    exit 1
  fi
  echo "$want" >"$examples/java/target/.coinrelay-stamp"
  took java
fi

for tool in kcat jq; do
  if ! command -v "$tool" >/dev/null; then
    echo "install-consumers: $tool is missing; run tools/install-deps.sh" >&2
    exit 1
  fi
done
echo "install-consumers: python, node, java and shell examples ready"
