#!/bin/sh
# Totals of build-fuzz/ledger.tsv: runs, seconds and executions per target,
# and the highest coverage (libFuzzer's cov/ft) reached.
set -eu
printf '%-28s %5s %8s %14s %6s %7s\n' target runs seconds executions cov ft
awk -F'\t' '{ runs[$2]++; secs[$2] += $3; ex[$2] += $4;
	if ($5 > cov[$2]) cov[$2] = $5; if ($6 > ft[$2]) ft[$2] = $6 }
	END { for (t in runs) printf "%-28s %5d %8d %14d %6d %7d\n", t,
		runs[t], secs[t], ex[t], cov[t], ft[t] }' \
	"${1:-build-fuzz/ledger.tsv}" | sort
