#!/bin/bash
# Where a request's CPU goes: one gateway process under cProfile at saturation (wrk, 32 connections), then a summary
# by package and the top functions (bench/profile_summary.py). The profiler roughly doubles the cost per request, so
# read shares, not absolute times. Only the event loop's thread is profiled (SQLite's writer thread is not), and
# only the load window (bench/profile_serve.py switches the profiler on and off by signal).
# Usage: bench/profile.sh [-s SECONDS] [PROJECT] [VARIANT]   (VARIANT: switchyard, switchyard-full, ...; BENCH_STREAM=1)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
secs=8
[ "${1:-}" = "-s" ] && { secs=$2; shift 2; }
project=${1:-$(cd "$here/.." && pwd)}
variant=${2:-switchyard}
"$here/upstream/start.sh" >/dev/null
prof=${PROFILE_OUT:-$(mktemp /tmp/switchyard-profile.XXXXXX)}   # PROFILE_OUT=FILE keeps the stats
out=$(SWITCHYARD_BENCH_PROFILE=$prof "$here/switchyard-start.sh" "$project" "$variant")
eval "$out"
m=$model; [ -n "${BENCH_STREAM:-}" ] && m=$smodel
BENCH_KEY=$key BENCH_MODEL=$m BENCH_HEADERS="$headers" wrk -t1 -c32 -d2s -s "$here/chat.lua" "$url" >/dev/null
sleep 1  # the warm-up's log records are written before the profile starts
kill -USR1 "$root"
w=$(BENCH_KEY=$key BENCH_MODEL=$m BENCH_HEADERS="$headers" wrk -t1 -c32 -d${secs}s -s "$here/chat.lua" "$url")
sleep 1  # and the load's are written inside it
kill -USR2 "$root"; sleep 1
n=$(awk '/ requests in /{print $1}' <<< "$w")
echo "$w" | grep -E "Requests/sec|requests in"
kill "$root"; for _ in $(seq 1 60); do kill -0 "$root" 2>/dev/null || break; sleep 0.5; done
[ -z "${BENCH_KEEP:-}" ] && rm -rf "$sydir"
"$project/.venv/bin/python" "$here/profile_summary.py" "$prof" "${n:-0}"
[ -n "${PROFILE_OUT:-}" ] || rm -f "$prof"
