#!/bin/bash
# One command for the benchmark table: direct upstream (baseline) vs Switchyard, side by side in one run,
# plus the peers when they are installed (bench/peers-setup.sh). Usage: bench/run.sh [-s SECONDS] [TARGETS]
# TARGETS: direct switchyard litellm portkey, and the policy variants sy-limit sy-limit-redis sy-cache sy-cache-redis
# switchyard-full, any of them + -w2 for two workers (switchyard-start.sh; the Redis ones need the Redis at
# $SWITCHYARD_BENCH_REDIS, default redis://127.0.0.1:6379/0); base, base-full, base-w2, ... the same variants of
# the checkout at $BASELINE_PROJECT, in the same run (compare.sh).
# SWITCHYARD_PROJECT=DIR measures another checkout's gateway (DIR/.venv/bin/switchyard) with these same scripts.
# Installs wrk, hey and nginx-light from Debian if missing. Everything stays on loopback.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
if ! command -v wrk >/dev/null || ! command -v hey >/dev/null || ! command -v nginx >/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk hey nginx-light >/dev/null
fi
secs=8
[ "${1:-}" = "-s" ] && { secs=$2; shift 2; }
targets=${*:-}
for t in $targets; do
  case $t in
    direct | floor | switchyard | switchyard-full | sy-limit | sy-limit-redis | sy-cache | sy-cache-redis | litellm | portkey) ;;
    switchyard-w2 | switchyard-full-w2 | sy-*-w2 | base | base-full | base-w2 | base-full-w2) ;;
    *) echo "unknown target '$t' (direct floor switchyard switchyard-full sy-limit sy-limit-redis sy-cache sy-cache-redis" \
            "litellm portkey; + -w2; base, base-full, base-w2 with BASELINE_PROJECT)" >&2
       exit 2;;
  esac
done
if [ -z "$targets" ]; then
  targets="direct switchyard"
  [ -x "${PEERS:-/tmp/peers}/litellm-venv/bin/litellm" ] && targets="$targets litellm"
  [ -f "${PEERS:-/tmp/peers}/portkey/node_modules/@portkey-ai/gateway/build/start-server.js" ] && targets="$targets portkey"
fi
PROJECT=${SWITCHYARD_PROJECT:-$(cd "$here/.." && pwd)} exec "$here/compare.sh" -s "$secs" $targets
