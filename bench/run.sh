#!/bin/bash
# One command for the benchmark table: direct upstream (baseline) vs Switchyard, side by side in one run,
# plus the peers when they are installed (bench/peers-setup.sh). Usage: bench/run.sh [-s SECONDS] [TARGETS]
# Installs wrk, hey and nginx-light from Debian if missing. Everything stays on loopback.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
if ! command -v wrk >/dev/null || ! command -v hey >/dev/null || ! command -v nginx >/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk hey nginx-light >/dev/null
fi
secs=8
[ "${1:-}" = "-s" ] && { secs=$2; shift 2; }
targets=${*:-}
if [ -z "$targets" ]; then
  targets="direct switchyard"
  [ -x "${PEERS:-/tmp/peers}/litellm-venv/bin/litellm" ] && targets="$targets litellm"
  [ -f "${PEERS:-/tmp/peers}/portkey/node_modules/@portkey-ai/gateway/build/start-server.js" ] && targets="$targets portkey"
fi
PROJECT=$(cd "$here/.." && pwd) exec "$here/compare.sh" -s "$secs" $targets
