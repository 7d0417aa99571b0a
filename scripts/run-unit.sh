#!/bin/sh
# Run every cmocka unit-test binary; print one summary line, fail if any failed.
#   run-unit.sh NAME BINARY...   (NAME starts the summary line: unit, unit-live)
set -u
name=$1
shift
# third-party leaks we cannot fix (see the file); harmless without sanitizers
LSAN_OPTIONS="suppressions=$(cd "$(dirname "$0")/.." && pwd)/tests/lsan.supp:print_suppressions=0${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
export LSAN_OPTIONS
pass=0
fail=0
for t in "$@"; do
	if "$t"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAILED: $t" >&2; fi
done
echo "$name: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
