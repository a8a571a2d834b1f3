#!/bin/bash
# Instructions per request of the gateway process (valgrind's cachegrind), for comparing trees on a machine too
# busy for timings: the count does not move with the load. Each PROJECT's gateway (switchyard-start.sh, embedded
# SQLite, auth and logging on) runs under valgrind twice, answering N1 and N2 requests (hey, 4 connections, the
# nginx mock upstream), and is stopped with SIGTERM (the log drained); the difference of the two totals over
# N2 − N1 is the cost of one request with its log writing, without start-up and shut-down. User-space
# instructions only: system calls' kernel time, cache misses and the GIL hand-overs between threads are not in it,
# so it complements CPU µs/request (bench/run.sh), it does not replace it.
# Usage: bench/instructions.sh [-v VARIANT] [-n "N1 N2"] [--stream] PROJECT...   (INSTRUCTIONS_PORT: the gateway port, default 18995)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
variant=switchyard counts="200 1000" stream=""
while [ $# -gt 0 ]; do
  case $1 in
    -v) variant=$2; shift 2 ;;
    -n) counts=$2; shift 2 ;;
    --stream) stream=1; shift ;;
    *) break ;;
  esac
done
command -v valgrind >/dev/null || { echo "valgrind is needed (apt-get install valgrind)" >&2; exit 1; }
read -r n1 n2 <<< "$counts"
"$here/upstream/start.sh" >/dev/null
total() { # PROJECT N → instructions of one gateway run that answered N requests
  local out ir
  out=$(SWITCHYARD_BENCH_PORT=${INSTRUCTIONS_PORT:-18995} SWITCHYARD_BENCH_START_TRIES=600 \
    SWITCHYARD_BENCH_WRAP="valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file=/dev/null" \
    "$here/switchyard-start.sh" "$1" "$variant") || { echo "$1 did not start" >&2; return 1; }
  eval "$out"
  local m=$model h=$headers body
  [ -n "$stream" ] && { m=$smodel; h=$sheaders; }
  body='{"model":"'"$m"'","messages":[{"role":"user","content":"What is the capital of France?"}]'
  [ -n "$stream" ] && body="$body"',"stream":true'
  hey -n "$2" -c 4 -m POST -T application/json -H "Authorization: Bearer $key" ${h:+-H "$h"} \
    -d "$body}" "$url" > "$sydir/hey.txt"
  grep -q '\[200\]' "$sydir/hey.txt" || { echo "no 200 answers from $1" >&2; cat "$sydir/hey.txt" >&2; return 1; }
  kill -TERM "$root"
  while kill -0 "$root" 2>/dev/null; do sleep 0.5; done
  ir=$(awk '/I +refs/{gsub(",", "", $NF); print $NF}' "$sydir/serve.log")
  rm -rf "$sydir"
  echo "$ir"
}
echo "| tree | instructions per request | runs (requests: instructions) |"
echo "|---|---|---|"
for p in "$@"; do
  (cd "$p" && env -u PYTHONDONTWRITEBYTECODE .venv/bin/python -m compileall -q src >/dev/null)
  a=$(total "$p" "$n1"); b=$(total "$p" "$n2")
  awk -v p="$p" -v a="$a" -v b="$b" -v n1="$n1" -v n2="$n2" \
    'BEGIN { printf "| %s | %.0f | %d: %.0f, %d: %.0f |\n", p, (b - a) / (n2 - n1), n1, a, n2, b }'
done
