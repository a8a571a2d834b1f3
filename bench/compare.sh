#!/bin/bash
# Side-by-side gateway overhead, one machine, one run: the same nginx mock upstream, the same load.
# Usage: compare.sh [-s SECONDS] [TARGET...]    TARGETS: direct portkey litellm switchyard (default: all)
#   direct      no gateway: the baseline (the physical limit of this setup)
#   portkey     npm @portkey-ai/gateway 1.15.2   (peers-setup.sh installs it under $PEERS)
#   litellm     PyPI litellm[proxy], 1 worker, no database
#   switchyard  the project at $PROJECT, started by switchyard-start.sh (embedded defaults, auth + logging on)
# Columns: saturation req/s at 32 connections (non-stream and stream), p50/p99 there, p50/p99 at a fixed
# 200 req/s from one sequential client (pure per-request overhead), peak RSS of the gateway process tree, non-2xx answers.
set -u
here=$(cd "$(dirname "$0")" && pwd)
secs=10
[ "${1:-}" = "-s" ] && { secs=$2; shift 2; }
targets=${*:-direct portkey litellm switchyard}
PEERS=${PEERS:-/tmp/peers}
PROJECT=${PROJECT:-$(pwd)}
"$here/upstream/start.sh" >/dev/null
body=$(mktemp)
echo '{"model":"MODEL","messages":[{"role":"system","content":"You are a helpful assistant."},{"role":"user","content":"What is the capital of France?"}],"max_tokens":64,"temperature":0.2}' > "$body"
pids=()
stop_all() { for p in "${pids[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null; done; pids=(); sleep 1; }
trap 'stop_all; rm -f "$body"' EXIT
wait_port() { for _ in $(seq 1 120); do curl -s -o /dev/null "http://127.0.0.1:$1/" && return 0; sleep 0.5; done; return 1; }
tree_rss_kb() { # RSS of a process and its descendants, in kB
  local all=$1 p kids
  for p in $(pgrep -P "$1" 2>/dev/null); do all="$all $(tree_pids "$p")"; done
  ps -o rss= -p "$(echo $all | tr ' ' ',')" 2>/dev/null | awk '{s+=$1} END{print s+0}'
}
tree_pids() { local out=$1 p; for p in $(pgrep -P "$1" 2>/dev/null); do out="$out $(tree_pids "$p")"; done; echo "$out"; }
start() { # sets: url, key, headers, model, smodel (stream model), root pid
  case $1 in
    direct) url=http://127.0.0.1:18080/v1/chat/completions; surl=http://127.0.0.1:18081/v1/chat/completions
            key=sk-bench; headers=""; sheaders=""; model=gpt-4o-mini; smodel=gpt-4o-mini; root="";;
    portkey)
      node "$PEERS/portkey/node_modules/@portkey-ai/gateway/build/start-server.js" --headless --port=18787 >/tmp/bench-portkey.log 2>&1 & root=$!; pids+=($root)
      wait_port 18787 || return 1
      url=http://127.0.0.1:18787/v1/chat/completions; surl=$url; key=sk-upstream; model=gpt-4o-mini; smodel=gpt-4o-mini
      headers="x-portkey-provider: openai|x-portkey-custom-host: http://127.0.0.1:18080/v1"
      sheaders="x-portkey-provider: openai|x-portkey-custom-host: http://127.0.0.1:18081/v1";;
    litellm)
      LITELLM_LOCAL_MODEL_COST_MAP=True "$PEERS/litellm-venv/bin/litellm" --config "$here/litellm.yaml" --host 127.0.0.1 --port 14000 --num_workers 1 >/tmp/bench-litellm.log 2>&1 & root=$!; pids+=($root)
      wait_port 14000 || return 1; sleep 2
      url=http://127.0.0.1:14000/v1/chat/completions; surl=$url; key=sk-bench; headers=""; sheaders=""
      model=gpt-4o-mini; smodel=gpt-4o-mini-stream;;
    switchyard)
      local out; out=$("$here/switchyard-start.sh" "$PROJECT") || return 1
      eval "$out"   # sets: root url key model smodel headers sheaders
      surl=$url; pids+=($root);;
  esac
}
ms() { awk -v q="$1" '$1==q{v=$2; if (v ~ /us$/) {sub(/us/,"",v); v=v/1000} else if (v ~ /ms$/) {sub(/ms/,"",v)} else if (v ~ /s$/) {sub(/s/,"",v); v=v*1000}; printf "%.2f", v}'; }
echo "| target | req/s | p50 ms | p99 ms | stream req/s | stream p99 ms | p50 ms @200/s | p99 ms @200/s | peak RSS MB | non-2xx |"
echo "|---|---|---|---|---|---|---|---|---|---|"
for t in $targets; do
  if ! start "$t"; then echo "| $t | did not start | | | | | | | | |"; stop_all; continue; fi
  BENCH_KEY=$key BENCH_MODEL=$model BENCH_HEADERS="$headers" wrk -t1 -c8 -d2s -s "$here/chat.lua" "$url" >/dev/null 2>&1
  w=$(BENCH_KEY=$key BENCH_MODEL=$model BENCH_HEADERS="$headers" wrk -t1 -c32 -d${secs}s -s "$here/chat.lua" --latency "$url" 2>&1)
  rss1=$( [ -n "$root" ] && tree_rss_kb "$root" || echo 0)
  s=$(BENCH_STREAM=1 BENCH_KEY=$key BENCH_MODEL=$smodel BENCH_HEADERS="$sheaders" wrk -t1 -c32 -d${secs}s -s "$here/chat.lua" --latency "$surl" 2>&1)
  rss2=$( [ -n "$root" ] && tree_rss_kb "$root" || echo 0)
  sed "s|MODEL|$model|" "$body" > "$body.j"
  hargs=(-z ${secs}s -c 1 -q 200 -m POST -D "$body.j" -T application/json -H "Authorization: Bearer $key")
  IFS='|' read -ra hs <<< "$headers"; for h in "${hs[@]}"; do [ -n "$h" ] && hargs+=(-H "$h"); done
  h=$(hey "${hargs[@]}" "$url" 2>&1)
  rss3=$( [ -n "$root" ] && tree_rss_kb "$root" || echo 0)
  peak=$(printf "%s\n" "$rss1" "$rss2" "$rss3" | sort -n | tail -1)
  hp50=$(echo "$h" | awk '/ 50% in/{printf "%.2f", $3*1000}'); hp99=$(echo "$h" | awk '/ 99% in/{printf "%.2f", $3*1000}')
  herr=$(echo "$h" | awk '/^ *\[[0-9]+\]/{if ($1 != "[200]") n+=$2} END{print n+0}')
  n1=$(echo "$w" | awk '/Non-2xx/{print $5}'); n2=$(echo "$s" | awk '/Non-2xx/{print $5}')
  printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n" "$t" \
    "$(echo "$w" | awk '/Requests\/sec/{printf "%.0f", $2}')" "$(echo "$w" | ms 50%)" "$(echo "$w" | ms 99%)" \
    "$(echo "$s" | awk '/Requests\/sec/{printf "%.0f", $2}')" "$(echo "$s" | ms 99%)" \
    "${hp50:-?}" "${hp99:-?}" "$((peak / 1024))" "$(( ${n1:-0} + ${n2:-0} + herr ))"
  stop_all
done
rm -f "$body.j"
