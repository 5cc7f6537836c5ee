#!/bin/sh
# Line coverage the fuzzers' working corpora reach in the parsers.
#
#   tests/fuzz/coverage.sh TARGET...     (after make fuzz-coverage builds them)
#
# Each coverage build of a target replays its corpus (seeds and what the
# fuzzing runs kept, build-fuzz/corpus/NAME) once; the profiles are merged
# and llvm-cov reports every source file under src/ that some target
# reaches, then the total.
set -eu
dir=build-fuzzcov
rm -f $dir/*.profraw
objects=""
for n in "$@"; do
	mkdir -p build-fuzz/corpus/$n
	LLVM_PROFILE_FILE="$dir/$n.profraw" $dir/$n -runs=0 \
		build-fuzz/corpus/$n tests/fuzz/corpus/$n >$dir/$n.log 2>&1 || {
		tail -20 $dir/$n.log; exit 1; }
	objects="$objects -object $dir/$n"
done
llvm-profdata merge -sparse -o $dir/all.profdata $dir/*.profraw
first=$(echo $objects | cut -d' ' -f2)
rest=$(echo $objects | cut -d' ' -f3-)
# Files no target reaches (the daemon's event loop, say) are left out.
llvm-cov report "$first" $rest -instr-profile=$dir/all.profdata \
	-ignore-filename-regex='tests/|/usr/' | awk 'NR<=2 || $8 != $9 ||
	/^TOTAL/'
