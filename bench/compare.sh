#!/bin/bash
# Side-by-side gateway overhead, one machine, one run: the same nginx mock upstream, the same load.
# Usage: compare.sh [-s SECONDS] [TARGET...]
#   TARGETS: direct portkey litellm switchyard sy-limit sy-limit-redis sy-cache sy-cache-redis
#   (default: direct portkey litellm switchyard)
#   direct      no gateway: the baseline (the physical limit of this setup)
#   portkey     npm @portkey-ai/gateway 1.15.2   (peers-setup.sh installs it under $PEERS)
#   litellm     PyPI litellm[proxy], 1 worker, no database
#   switchyard  the project at $PROJECT, started by switchyard-start.sh (embedded defaults, auth + logging on)
#   sy-*        the same gateway with one policy on every request (switchyard-start.sh says which)
#   floor       the gateway's own server stack and upstream client with nothing behind them (floor_app.py):
#               its CPU per request is what the layers below the pipeline cost
#   switchyard-full  a rate-limit rule on every request plus a two-item fallback chain; switchyard-w2: two workers
#   base, base-full, base-w2, ...  the same variants of the gateway at $BASELINE_PROJECT (another checkout with its
#               own .venv, e.g. a git worktree of an older commit): measured in this same run, next to the candidate
# After the table, when switchyard ran: a second one with each sy-* row's cost against the switchyard row of the
# same run, and the gateway's CPU per request (user + system µs from /proc over the wrk run and until the process
# tree is idle again, so the log rows a load queued are written on its account; whole process tree).
# Columns: saturation req/s at 32 connections (non-stream and stream), p50/p99 there, p50/p99 at a fixed
# 200 req/s from one sequential client (pure per-request overhead), peak RSS of the gateway process tree, non-2xx answers.
# hey prints latencies in 0.1 ms steps, too coarse for a Redis round trip: its per-request CSV is read instead and
# the quantiles interpolated within the 0.1 ms class (the grouped-data median), which resolves ~10 µs shifts.
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
declare -A rps srps p50 p50s p99s hits cpu scpu rssmb   # per target, for the policy-cost table
prefix=""; sydir=""; redis_url=""   # set by start() from switchyard-start.sh for the sy-* targets
stop_all() {
  for p in "${pids[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null; done; pids=(); sleep 1
  if [ -n "${prefix:-}" ] && command -v redis-cli >/dev/null; then # the Redis variants' keys (cache entries live 7 days)
    redis-cli -u "$redis_url" --scan --pattern "$prefix*" | xargs -r -n 500 redis-cli -u "$redis_url" del >/dev/null
  fi
  # the gateway's home (its SQLite log grows ~15 MB per second of load); BENCH_KEEP=1 keeps it for inspection
  [ -n "${sydir:-}" ] && [ -z "${BENCH_KEEP:-}" ] && rm -rf "$sydir"
  prefix=""; sydir=""
}
trap 'stop_all; rm -f "$body"' EXIT
wait_port() { for _ in $(seq 1 120); do curl -s -o /dev/null "http://127.0.0.1:$1/" && return 0; sleep 0.5; done; return 1; }
tree_rss_kb() { # RSS of a process and its descendants, in kB
  local all=$1 p kids
  for p in $(pgrep -P "$1" 2>/dev/null); do all="$all $(tree_pids "$p")"; done
  ps -o rss= -p "$(echo $all | tr ' ' ',')" 2>/dev/null | awk '{s+=$1} END{print s+0}'
}
tree_hwm_kb() { # peak RSS (VmHWM) of a process and its descendants, summed, in kB
  local p sum=0 v
  for p in $(tree_pids "$1"); do v=$(awk '/^VmHWM/{print $2}' "/proc/$p/status" 2>/dev/null); sum=$((sum + ${v:-0})); done
  echo "$sum"
}
settle() { # wait (≤ 15 s) until the process tree is idle: the log writer has caught up with what the load queued
  local a b
  for _ in $(seq 1 30); do
    a=$(cpu_ticks "$1"); sleep 0.5; b=$(cpu_ticks "$1")
    [ $((b - a)) -le 3 ] && return 0
  done
}
tree_pids() { local out=$1 p; for p in $(pgrep -P "$1" 2>/dev/null); do out="$out $(tree_pids "$p")"; done; echo "$out"; }
start() { # sets: url, key, headers, model, smodel (stream model), root pid; prefix (Redis keys), sydir to delete
  prefix=""; sydir=""
  case $1 in
    direct) url=http://127.0.0.1:18080/v1/chat/completions; surl=http://127.0.0.1:18081/v1/chat/completions
            key=sk-bench; headers=""; sheaders=""; model=gpt-4o-mini; smodel=gpt-4o-mini; root="";;
    portkey)
      node "$PEERS/portkey/node_modules/@portkey-ai/gateway/build/start-server.js" --headless --port=18787 >/tmp/bench-portkey.log 2>&1 & root=$!; pids+=($root)
      wait_port 18787 || return 1
      url=http://127.0.0.1:18787/v1/chat/completions; surl=$url; key=sk-upstream; model=gpt-4o-mini; smodel=gpt-4o-mini
      headers="x-portkey-provider: openai|x-portkey-custom-host: http://127.0.0.1:18080/v1"
      sheaders="x-portkey-provider: openai|x-portkey-custom-host: http://127.0.0.1:18081/v1";;
    floor)  # the gateway's server stack and upstream client with no gateway behind them (floor_app.py)
      PYTHONPATH="$PROJECT/src:$here" "$PROJECT/.venv/bin/python" "$here/floor_app.py" 18990 >/tmp/bench-floor.log 2>&1 & root=$!; pids+=($root)
      wait_port 18990 || return 1
      url=http://127.0.0.1:18990/json/v1/chat/completions; surl=http://127.0.0.1:18990/sse/v1/chat/completions
      key=sk-bench; headers=""; sheaders=""; model=gpt-4o-mini; smodel=gpt-4o-mini;;
    litellm)
      LITELLM_LOCAL_MODEL_COST_MAP=True "$PEERS/litellm-venv/bin/litellm" --config "$here/litellm.yaml" --host 127.0.0.1 --port 14000 --num_workers 1 >/tmp/bench-litellm.log 2>&1 & root=$!; pids+=($root)
      wait_port 14000 || return 1; sleep 2
      url=http://127.0.0.1:14000/v1/chat/completions; surl=$url; key=sk-bench; headers=""; sheaders=""
      model=gpt-4o-mini; smodel=gpt-4o-mini-stream;;
    switchyard | switchyard-* | sy-limit | sy-limit-redis | sy-cache | sy-cache-redis | sy-*-w2 | base | base-*)
      local proj=$PROJECT variant=$1
      if [[ $1 == base* ]]; then
        [ -n "${BASELINE_PROJECT:-}" ] || { echo "$1: set BASELINE_PROJECT" >&2; return 1; }
        proj=$BASELINE_PROJECT; variant=switchyard${1#base}
      fi
      local out; out=$("$here/switchyard-start.sh" "$proj" "$variant") || return 1
      eval "$out"   # sets: root url key model smodel headers sheaders prefix redis_url sydir
      surl=$url; pids+=($root);;
    *) echo "unknown target: $1" >&2; return 1;;
  esac
}
hey_stats() { awk -f "$here/hey_stats.awk"; }   # hey -o csv → "p50 p99 non200" (ms)
# CPU seconds (user + system, in clock ticks) of a process tree so far. Per request it is the robust figure on a
# shared machine: other jobs stretch wall-clock time and cut req/s, but barely change the CPU a request costs.
cpu_ticks() {
  local p sum=0 t
  for p in $(tree_pids "$1"); do
    t=$(sed 's/^.*) //' "/proc/$p/stat" 2>/dev/null | awk '{print $12 + $13}'); sum=$((sum + ${t:-0}))
  done
  echo "$sum"
}
hz=$(getconf CLK_TCK)
cpu_us_per_req() { # ticks before, ticks after, wrk output → µs of gateway CPU per answered request
  awk -v a="$1" -v b="$2" -v hz="$hz" '/ requests in /{n = $1} END { if (n > 0 && b > a) printf "%.0f", (b - a) / hz * 1e6 / n; else print "?" }' <<< "$3"
}
fmt2() { if [[ ${1:-} =~ ^[0-9.]+$ ]]; then printf %.2f "$1"; else echo "?"; fi; }
ms() { awk -v q="$1" '$1==q{v=$2; if (v ~ /us$/) {sub(/us/,"",v); v=v/1000} else if (v ~ /ms$/) {sub(/ms/,"",v)} else if (v ~ /s$/) {sub(/s/,"",v); v=v*1000}; printf "%.2f", v}'; }
echo "| target | req/s | p50 ms | p99 ms | stream req/s | stream p99 ms | p50 ms @200/s | p99 ms @200/s | peak RSS MB | non-2xx |"
echo "|---|---|---|---|---|---|---|---|---|---|"
for t in $targets; do
  if ! start "$t"; then echo "| $t | did not start | | | | | | | | |"; stop_all; continue; fi
  BENCH_KEY=$key BENCH_MODEL=$model BENCH_HEADERS="$headers" wrk -t1 -c8 -d2s -s "$here/chat.lua" "$url" >/dev/null 2>&1
  c0=$( [ -n "$root" ] && cpu_ticks "$root" || echo 0)
  w=$(BENCH_KEY=$key BENCH_MODEL=$model BENCH_HEADERS="$headers" wrk -t1 -c32 -d${secs}s -s "$here/chat.lua" --latency "$url" 2>&1)
  rss1=$( [ -n "$root" ] && tree_rss_kb "$root" || echo 0)
  [ -n "$root" ] && settle "$root"   # the CPU of writing the load's log rows belongs to its requests
  c1=$( [ -n "$root" ] && cpu_ticks "$root" || echo 0)
  c2=$( [ -n "$root" ] && cpu_ticks "$root" || echo 0)
  s=$(BENCH_STREAM=1 BENCH_KEY=$key BENCH_MODEL=$smodel BENCH_HEADERS="$sheaders" wrk -t1 -c32 -d${secs}s -s "$here/chat.lua" --latency "$surl" 2>&1)
  rss2=$( [ -n "$root" ] && tree_rss_kb "$root" || echo 0)
  [ -n "$root" ] && settle "$root"
  c3=$( [ -n "$root" ] && cpu_ticks "$root" || echo 0)
  cpu[$t]=$(cpu_us_per_req "$c0" "$c1" "$w"); scpu[$t]=$(cpu_us_per_req "$c2" "$c3" "$s")
  sed "s|MODEL|$model|" "$body" > "$body.j"
  hargs=(-z ${secs}s -c 1 -q 200 -m POST -D "$body.j" -T application/json -H "Authorization: Bearer $key")
  IFS='|' read -ra hs <<< "$headers"; for h in "${hs[@]}"; do [ -n "$h" ] && hargs+=(-H "$h"); done
  h=$(hey "${hargs[@]}" -o csv "$url" 2>/dev/null | hey_stats)
  rss3=$( [ -n "$root" ] && tree_hwm_kb "$root" || echo 0)   # each process's own peak (VmHWM), summed
  peak=$(printf "%s\n" "$rss1" "$rss2" "$rss3" | sort -n | tail -1)
  read -r hp50 hp99 herr <<< "$h"
  n1=$(echo "$w" | awk '/Non-2xx/{print $5}'); n2=$(echo "$s" | awk '/Non-2xx/{print $5}')
  rps[$t]=$(echo "$w" | awk '/Requests\/sec/{printf "%.0f", $2}'); srps[$t]=$(echo "$s" | awk '/Requests\/sec/{printf "%.0f", $2}')
  p50[$t]=$hp50; rssmb[$t]=$((peak / 1024))
  p50s[$t]=$(echo "$w" | ms 50%); p99s[$t]=$(echo "$w" | ms 99%)
  hits[$t]="—"   # cache variants: share of lookups that hit (this worker's /metrics), proof of the hit path
  if [[ $t == sy-cache* ]]; then
    hits[$t]=$(curl -s "${url%%/v1/*}/metrics" | awk '/^switchyard_cache_total\{result="(hit|miss)"\}/ {
      n += $2; if ($1 ~ /hit/) h += $2 } END { if (n > 0) printf "%.2f%%", 100 * h / n; else print "?" }')
  fi
  printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n" "$t" \
    "${rps[$t]}" "$(echo "$w" | ms 50%)" "$(echo "$w" | ms 99%)" "${srps[$t]}" "$(echo "$s" | ms 99%)" \
    "$(fmt2 "$hp50")" "$(fmt2 "$hp99")" \
    "$((peak / 1024))" "$(( ${n1:-0} + ${n2:-0} + ${herr:-0} ))"
  stop_all
done
rm -f "$body.j"
# The policies' cost: each sy-* row against the plain gateway measured in this same run (paired, so a busier
# machine moves both); the switchyard row itself gives the reference CPU per request.
if [ -n "${p50[switchyard]:-}" ]; then
  echo
  echo "| target | Δ p50 µs @200/s vs switchyard | req/s ÷ switchyard | stream req/s ÷ switchyard | CPU µs/req | Δ CPU µs/req | stream CPU µs/req | Δ stream CPU µs/req | cache hits |"
  echo "|---|---|---|---|---|---|---|---|---|"
  for t in $targets; do
    [[ $t == switchyard || ( ( $t == sy-* || $t == switchyard-* || $t == base* || $t == floor ) && -n "${p50[$t]:-}" ) ]] || continue
    awk -v t="$t" -v a="${p50[$t]}" -v b="${p50[switchyard]}" -v r="${rps[$t]}" -v rb="${rps[switchyard]}" \
      -v s="${srps[$t]}" -v sb="${srps[switchyard]}" -v c="${cpu[$t]}" -v cb="${cpu[switchyard]}" \
      -v sc="${scpu[$t]}" -v scb="${scpu[switchyard]}" -v hit="${hits[$t]}" '
      function isnum(x) { return x ~ /^[0-9.]+$/ }
      function ratio(x, y) { return (x + 0 > 0 && y + 0 > 0) ? sprintf("%.2f", x / y) : "?" }
      function delta(x, y, k) { return (isnum(x) && isnum(y)) ? sprintf("%+.0f", (x - y) * k) : "?" }
      BEGIN { printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", t, delta(a, b, 1000), ratio(r, rb), ratio(s, sb),
                     c, delta(c, cb, 1), sc, delta(sc, scb, 1), hit }'
  done
fi
# The redesign's targets (issue 10), each a ratio within this run: candidate ÷ baseline, ÷ Portkey, the full
# policy set and two workers ÷ the plain gateway, stream ÷ non-stream, p50 @200/s over direct, p99 ÷ p50 at 32.
if [ -n "${rps[switchyard]:-}" ]; then
  echo
  echo "| target | req/s ÷ base | req/s ÷ portkey | full ÷ plain | stream ÷ non-stream | p50 @200/s − direct ms | p99 ÷ p50 @32 | w2 ÷ 1 worker | CPU µs/req ÷ base | peak RSS MB |"
  echo "|---|---|---|---|---|---|---|---|---|---|"
  for t in switchyard base; do
    [ -n "${rps[$t]:-}" ] || continue
    awk -v r="${rps[$t]}" -v rb="${rps[base]:-}" -v rp="${rps[portkey]:-}" -v rf="${rps[$t-full]:-}" \
      -v s="${srps[$t]}" -v a="${p50[$t]}" -v d="${p50[direct]:-}" -v q50="${p50s[$t]}" -v q99="${p99s[$t]}" \
      -v w2="${rps[$t-w2]:-}" -v c="${cpu[$t]}" -v cb="${cpu[base]:-}" -v m="${rssmb[$t]}" -v t="$t" '
      function ratio(x, y) { return (x + 0 > 0 && y + 0 > 0) ? sprintf("%.2f", x / y) : "—" }
      BEGIN { diff = (a ~ /^[0-9.]+$/ && d ~ /^[0-9.]+$/) ? sprintf("%.2f", a - d) : "—"
        printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", t, (t == "base" ? "—" : ratio(r, rb)),
          ratio(r, rp), ratio(rf, r), ratio(s, r), diff, ratio(q99, q50), ratio(w2, r),
          (t == "base" ? "—" : ratio(c, cb)), m }'
  done
fi
