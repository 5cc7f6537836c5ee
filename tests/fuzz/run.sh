#!/bin/sh
# Run libFuzzer targets for a bounded time each and keep a ledger.
#
#   tests/fuzz/run.sh SECONDS [TARGET...]     (default: every built target)
#
# FUZZ_RUNS=N also stops each target after N executions, whichever comes
# first (to top a target up to a total without overshooting).
#
# Each target fuzzes its working corpus (build-fuzz/corpus/NAME, kept
# between runs) seeded from tests/fuzz/corpus/NAME. A crash stops the run
# with the target's log tail; the artifact is build-fuzz/NAME-crash-*.
# Every run appends "date target seconds executions cov features corpus"
# to build-fuzz/ledger.tsv, so executions can be totalled over time
# (tests/fuzz/ledger.sh prints the totals). Run one instance per target at
# a time: the log and the working corpus are the target's.
set -eu
secs=$1; shift
dir=build-fuzz
[ $# -gt 0 ] || set -- $(ls $dir | grep -E '^fuzz_[a-z0-9_]+$')
printf '%-28s %12s %8s %8s %7s\n' target executions cov features corpus
for n in "$@"; do
	bin=$dir/$n; work=$dir/corpus/$n; log=$dir/$n.log
	mkdir -p "$work"
	if ! "$bin" -max_total_time="$secs" -timeout=5 -rss_limit_mb=2048 \
		-artifact_prefix="$dir/$n-" -print_final_stats=1 ${FUZZ_RUNS:+-runs=$FUZZ_RUNS} \
		"$work" "tests/fuzz/corpus/$n" >"$log" 2>&1; then
		tail -40 "$log"; echo "fuzz: $n failed, see $log" >&2; exit 1
	fi
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
	# a target may print binary input to its log: -a reads it as text
	last=$(grep -aE '^#[0-9]+.*cov: ' "$log" | tail -1)
	cov=$(echo "$last" | sed -n 's/.* cov: \([0-9]*\).*/\1/p')
	ft=$(echo "$last" | sed -n 's/.* ft: \([0-9]*\).*/\1/p')
	files=$(ls "$work" | wc -l)
	printf '%-28s %12s %8s %8s %7s\n' "$n" "$execs" "${cov:-?}" \
		"${ft:-?}" "$files"
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$(date -u +%FT%TZ)" "$n" \
		"$secs" "$execs" "${cov:-0}" "${ft:-0}" "$files" >>$dir/ledger.tsv
done
