# hey -o csv on stdin → "p50 p99 non200" (ms, 3 decimals), for bench/compare.sh and bench/ab.sh --rate.
# hey prints latencies in 0.1 ms classes: quantile q = L + (q*n - F)/f * 0.1 ms, where the class holding the q*n-th
# sample starts at L (its printed value - 0.05 ms), F samples lie below it and f in it.
BEGIN { FS = "," }
NR > 1 && $1 != "" { n++; c[int($1 * 10000 + 0.5)]++; if ($7 != 200) bad++ }
function q(p,   k, cum, t) {
  t = p * n; cum = 0
  for (k = 0; k <= max; k++) if (k in c) { if (cum + c[k] >= t) return (k - 0.5 + (t - cum) / c[k]) / 10; cum += c[k] }
  return max / 10
}
END {
  max = 0; for (k in c) if (k + 0 > max) max = k + 0
  if (n == 0) { print "? ? 0"; exit }
  printf "%.3f %.3f %d\n", q(0.5), q(0.99), bad + 0
}
