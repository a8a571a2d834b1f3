#!/bin/bash
# Median of several compare.sh / run.sh outputs, cell by cell: one number per (table, target, column) instead of
# one run's luck. The machines are shared, so a single run is not a result; three runs and their median are.
# Usage: median.sh RUN1.md RUN2.md RUN3.md ...   (each the table(s) one run printed; other lines are ignored)
# A cell's median keeps the inputs' form: decimals, an explicit sign (the Δ column), a trailing %. Cells that are
# not numbers in every run ("did not start", "—") print as the first run's text. Deltas and ratios are taken
# per run (each sy-* row against the switchyard row of its own run) and only then the median: paired, so a
# run on a busier machine shifts both rows and cancels out.
set -eu
[ $# -ge 1 ] || { echo "usage: $0 RUN.md..." >&2; exit 2; }
awk -F'|' '
  function trim(s) { gsub(/^[ \t]+|[ \t]+$/, "", s); return s }
  function num(s) { return s ~ /^[+-]?[0-9]+(\.[0-9]+)?%?$/ }
  function median(list,   a, n, i, j, t) {
    n = split(list, a, " ")
    for (i = 2; i <= n; i++) { t = a[i] + 0; for (j = i - 1; j >= 1 && a[j] + 0 > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
  }
  /^\|/ && $0 !~ /^\|---/ {
    if (trim($2) == "target") { table = $0; if (!(table in seen)) { seen[table] = 1; order[++ntables] = table }; next }
    t = trim($2); key = table SUBSEP t
    if (!(key in rowseen)) { rowseen[key] = 1; rows[table] = rows[table] SUBSEP t; ncols[key] = NF - 2 }
    for (c = 3; c < NF; c++) {
      v = trim($c); k = key SUBSEP c
      if (!(k in first)) { first[k] = v; allnum[k] = 1 }
      if (!num(v)) { allnum[k] = 0; continue }
      if (v ~ /%$/) pct[k] = 1
      if (v ~ /^[+-]/) sign[k] = 1
      d = (v ~ /\./) ? length(v) - index(v, ".") - (v ~ /%$/ ? 1 : 0) : 0
      if (d > dec[k]) dec[k] = d
      sub(/%$/, "", v); vals[k] = vals[k] " " v
    }
  }
  END {
    for (i = 1; i <= ntables; i++) {
      table = order[i]; if (i > 1) print ""; print table
      n = split(table, h, "|"); sep = "|"; for (c = 2; c < n; c++) sep = sep "---|"; print sep
      m = split(substr(rows[table], 2), ts, SUBSEP)
      for (r = 1; r <= m; r++) {
        key = table SUBSEP ts[r]; line = "| " ts[r] " |"
        for (c = 3; c < ncols[key] + 2; c++) {
          k = key SUBSEP c
          if (allnum[k] && vals[k] != "") {
            out = sprintf("%" (sign[k] ? "+" : "") "." (dec[k] + 0) "f", median(vals[k])) (pct[k] ? "%" : "")
          } else out = first[k]
          line = line " " out " |"
        }
        print line
      }
    }
  }' "$@"
