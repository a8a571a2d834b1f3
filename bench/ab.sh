#!/bin/bash
# Interleaved A/B of two checkouts on a busy machine: both gateways run side by side (ports 18960/18961), and
# ROUNDS alternating wrk runs (32 connections, SECONDS each, A then B then B then A ...) load one at a time. Each
# round gives both a req/s figure and the gateway's CPU per request (from /proc, until its process tree is idle
# again), so slow drifts of the machine's load hit both alike; the medians and the median of the paired ratios
# are printed as a table.
# With --rate R, each round is instead a fixed-rate load (hey, one connection, R requests/s) and the table gives the
# medians of p50 and p99 latency (ms, from hey's per-request CSV) and their paired differences B − A: the latency a
# caller sees at low load, where CPU per request is not the limit.
# Usage: bench/ab.sh [-s SECONDS] [-r ROUNDS] [-v VARIANT] [--stream] [--rate R] PROJECT_A PROJECT_B
# VARIANT_A / VARIANT_B override the variant of one side (e.g. one tree, switchyard vs switchyard-full: the policy
# set's own cost); AB_PORT (default 18960) and AB_PORT + 1 are the gateways' ports.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
secs=3 rounds=6 variant=switchyard stream="" rate=""
while [ $# -gt 2 ]; do
  case $1 in
    -s) secs=$2; shift 2 ;;
    -r) rounds=$2; shift 2 ;;
    -v) variant=$2; shift 2 ;;
    --stream) stream=1; shift ;;
    --rate) rate=$2; shift 2 ;;
    *) break ;;
  esac
done
a=$1 b=$2
# byte-code for both trees, so neither start compiles its source (this machine kind sets PYTHONDONTWRITEBYTECODE)
for p in "$a" "$b"; do (cd "$p" && env -u PYTHONDONTWRITEBYTECODE .venv/bin/python -m compileall -q src >/dev/null); done
"$here/upstream/start.sh" >/dev/null
declare -A root url key model hdr dir
start() { # NAME PROJECT PORT VARIANT
  local out
  out=$(SWITCHYARD_BENCH_PORT=$3 "$here/switchyard-start.sh" "$2" "$4") || { echo "$1 did not start" >&2; exit 1; }
  eval "$out"
  root[$1]=$root url[$1]=$url key[$1]=$key dir[$1]=$sydir
  if [ -n "$stream" ]; then model[$1]=$smodel hdr[$1]=$sheaders; else model[$1]=$model hdr[$1]=$headers; fi
}
port=${AB_PORT:-18960}
start A "$a" "$port" "${VARIANT_A:-$variant}"
start B "$b" $((port + 1)) "${VARIANT_B:-$variant}"
trap 'kill ${root[A]} ${root[B]} 2>/dev/null; rm -rf "${dir[A]}" "${dir[B]}"' EXIT
ticks() { # CPU ticks of a process tree
  local sum=0 p t
  for p in $(pgrep -g "$(ps -o pgid= "$1" | tr -d ' ')" 2>/dev/null || echo "$1"); do
    t=$(sed 's/^.*) //' "/proc/$p/stat" 2>/dev/null | awk '{print $12 + $13}'); sum=$((sum + ${t:-0}))
  done
  echo $sum
}
idle_ticks() { local x y; x=$(ticks "$1"); while :; do sleep 0.5; y=$(ticks "$1"); [ "$y" -le $((x + 1)) ] && break; x=$y; done; echo "$y"; }
load() { # NAME SECONDS → "req/s cpu_us_per_req"
  local c0 c1 w n
  c0=$(idle_ticks "${root[$1]}")
  w=$(BENCH_KEY=${key[$1]} BENCH_MODEL=${model[$1]} BENCH_HEADERS="${hdr[$1]}" \
    wrk -t1 -c32 -d"${2}s" -s "$here/chat.lua" "${url[$1]}")
  c1=$(idle_ticks "${root[$1]}")
  n=$(awk '/ requests in /{print $1}' <<< "$w")
  awk -v n="$n" -v s="$2" -v c="$((c1 - c0))" -v hz="$(getconf CLK_TCK)" \
    'BEGIN { printf "%.0f %.0f\n", n / s, c * 1e6 / hz / n }'
}
body=$(mktemp)
trap 'kill ${root[A]} ${root[B]} 2>/dev/null; rm -rf "${dir[A]}" "${dir[B]}" "$body"' EXIT
hey_stats() { awk -f "$here/hey_stats.awk" | cut -d" " -f1,2; }   # hey -o csv → "p50 p99" (ms)
paced() { # NAME SECONDS → "p50_ms p99_ms" at $rate requests/s on one connection
  local args=(-z "${2}s" -c 1 -q "$rate" -m POST -T application/json -H "Authorization: Bearer ${key[$1]}")
  local hs h; IFS='|' read -ra hs <<< "${hdr[$1]}"; for h in "${hs[@]}"; do [ -n "$h" ] && args+=(-H "$h"); done
  echo '{"model":"'"${model[$1]}"'","messages":[{"role":"user","content":"What is the capital of France?"}],"max_tokens":64}' > "$body"
  hey "${args[@]}" -D "$body" -o csv "${url[$1]}" 2>/dev/null | hey_stats
}
if [ -n "$rate" ]; then
  paced A 2 >/dev/null; paced B 2 >/dev/null   # warm-up
  results=()
  for r in $(seq 1 "$rounds"); do
    if [ $((r % 2)) = 1 ]; then x=$(paced A "$secs"); y=$(paced B "$secs"); else y=$(paced B "$secs"); x=$(paced A "$secs"); fi
    results+=("$x $y")
  done
  printf '%s\n' "${results[@]}" | awk -v a="$a (${VARIANT_A:-$variant})" -v b="$b (${VARIANT_B:-$variant})" -v rate="$rate" -v up="$(uptime | sed 's/.*load average: //')" '
    function med(arr, k,   i, j, t) { for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++) if (arr[j] < arr[i]) { t = arr[i]; arr[i] = arr[j]; arr[j] = t }
      return k % 2 ? arr[(k + 1) / 2] : (arr[k / 2] + arr[k / 2 + 1]) / 2 }
    { n++; pa[n] = $1; qa[n] = $2; pb[n] = $3; qb[n] = $4; dp[n] = $3 - $1; dq[n] = $4 - $2 }
    END {
      printf "| at %s req/s, one connection | p50 ms (median) | p99 ms (median) |\n|---|---|---|\n", rate
      printf "| A %s | %.3f | %.3f |\n| B %s | %.3f | %.3f |\n", a, med(pa, n), med(qa, n), b, med(pb, n), med(qb, n)
      printf "| B − A (median of %d paired rounds) | %+.3f | %+.3f |\n", n, med(dp, n), med(dq, n)
      printf "\nload average at the end: %s\n", up
    }'
  exit 0
fi
load A 2 >/dev/null; load B 2 >/dev/null   # warm-up
results=()
for r in $(seq 1 "$rounds"); do
  if [ $((r % 2)) = 1 ]; then first=A second=B; else first=B second=A; fi
  x=$(load $first "$secs"); y=$(load $second "$secs")
  if [ $first = A ]; then results+=("$x $y"); else results+=("$y $x"); fi
done
printf '%s\n' "${results[@]}" | awk -v a="$a (${VARIANT_A:-$variant})" -v b="$b (${VARIANT_B:-$variant})" -v up="$(uptime | sed 's/.*load average: //')" '
  function med(arr, k,   i, j, t) { for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++) if (arr[j] < arr[i]) { t = arr[i]; arr[i] = arr[j]; arr[j] = t }
    return k % 2 ? arr[(k + 1) / 2] : (arr[k / 2] + arr[k / 2 + 1]) / 2 }
  { n++; ra[n] = $1; ca[n] = $2; rb[n] = $3; cb[n] = $4; rr[n] = $3 / $1; cr[n] = $4 / $2 }
  END {
    printf "| | req/s (median) | CPU µs/req (median) |\n|---|---|---|\n"
    printf "| A %s | %.0f | %.0f |\n| B %s | %.0f | %.0f |\n", a, med(ra, n), med(ca, n), b, med(rb, n), med(cb, n)
    printf "| B ÷ A (median of %d paired rounds) | %.3f | %.3f |\n", n, med(rr, n), med(cr, n)
    printf "\nload average at the end: %s\n", up
  }'
