#!/bin/sh
# Run libFuzzer targets for a while each:  run-fuzz.sh SECONDS BIN...
# Each target starts from a temporary copy of tests/fuzz/corpus/<name without
# fuzz_>/ (the seed corpus is never modified).  Prints executions and crashes
# per target; exits non-zero when any target crashed (the reproducer is kept
# in build-fuzz/artifacts/).
set -u
if [ $# -lt 2 ]; then
	echo "usage: run-fuzz.sh SECONDS BIN..." >&2
	exit 2
fi
seconds=$1
shift
root=$(cd "$(dirname "$0")/.." && pwd)
artifacts=$root/build-fuzz/artifacts
mkdir -p "$artifacts"
failed=0
for bin in "$@"; do
	name=$(basename "$bin")
	seeds=$root/tests/fuzz/corpus/${name#fuzz_}
	work=$(mktemp -d "${TMPDIR:-/tmp}/fuzz-$name.XXXXXX")
	mkdir -p "$work/corpus"
	[ -d "$seeds" ] && cp -R "$seeds/." "$work/corpus/"
	UBSAN_OPTIONS=halt_on_error=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS} "$bin" -max_total_time="$seconds" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048 \
		-artifact_prefix="$artifacts/$name-" "$work/corpus" >"$work/log" 2>&1
	rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log" | tail -1)
	crashes=$(grep -c 'Test unit written to' "$work/log")
	if [ "$rc" -ne 0 ] && [ "$crashes" -eq 0 ]; then
		crashes=1
	fi
	echo "$name: ${execs:-0} executions, $crashes crashes"
	if [ "$crashes" -ne 0 ]; then
		failed=1
		grep -E 'ERROR|SUMMARY|Test unit written' "$work/log" | head -5 >&2
	fi
	rm -rf "$work"
done
exit $failed
