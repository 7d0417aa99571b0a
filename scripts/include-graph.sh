#!/bin/sh
# The include graph of the C source (run by `make lint`).  One node per file
# without its extension (x.c and x.h are one node: a header stands for the
# file that defines what it declares), one edge per #include "...".  Fails on
#  - a circle: files that include each other, directly or around a loop;
#  - an arrow against the layers, each including only those below it:
#      executor -> jobs -> stages -> (durable, compose, gitlab) -> docker -> common
# Prints the edges between layers with their counts.  -v: every edge.
set -eu
cd "$(dirname "$0")/.."

LAYERS="common docker compose gitlab durable stages jobs executor"

rank() {
	case $1 in
	common) echo 0 ;;
	docker) echo 1 ;;
	compose | gitlab | durable) echo 2 ;;
	stages) echo 3 ;;
	jobs) echo 4 ;;
	executor) echo 5 ;;
	*) echo 9 ;;
	esac
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# shellcheck disable=SC2086
find $LAYERS -name '*.[ch]' | sort | while read -r f; do
	sed -n 's/^#include "\(.*\)"/\1/p' "$f" | while read -r inc; do
		[ "${f%.*}" = "${inc%.*}" ] || echo "${f%.*} ${inc%.*}"
	done
done | sort -u >"$tmp/edges"

status=0

# circles: tsort names the files of each loop it finds; a loop is one line of
# its files, sorted.  The loops in scripts/include-graph.known are reported
# and let through until they are broken (then they must leave that list).
tsort <"$tmp/edges" >/dev/null 2>"$tmp/tsort" || true
awk '/input contains a loop/ { if (l != "") print l; l = ""; next }
     /^tsort: / { sub(/^tsort: /, ""); a[n++] = $0; l = l " " $0 }
     END { if (l != "") print l }' "$tmp/tsort" |
	while read -r loop; do echo "$loop" | tr ' ' '\n' | sort | tr '\n' ' ' | sed 's/ $//'; echo; done |
	sort -u >"$tmp/loops"
grep -v '^#' scripts/include-graph.known 2>/dev/null | sed 's/ *#.*//; /^$/d' | sort -u >"$tmp/known"
if comm -23 "$tmp/loops" "$tmp/known" | grep -q .; then
	echo "include-graph: circles (files that include each other around a loop):"
	comm -23 "$tmp/loops" "$tmp/known" | sed 's/^/  /'
	status=1
fi
if comm -12 "$tmp/loops" "$tmp/known" | grep -q .; then
	echo "include-graph: known circles, to break (scripts/include-graph.known):"
	comm -12 "$tmp/loops" "$tmp/known" | sed 's/^/  /'
fi
if comm -13 "$tmp/loops" "$tmp/known" | grep -q .; then
	echo "include-graph: these circles are gone; remove them from scripts/include-graph.known:"
	comm -13 "$tmp/loops" "$tmp/known" | sed 's/^/  /'
	status=1
fi

# arrows: a layer includes only layers of a lower rank (durable, compose and
# gitlab share one)
while read -r from to; do
	lf=${from%%/*} lt=${to%%/*}
	[ "$lf" = "$lt" ] && continue
	echo "$lf -> $lt" >>"$tmp/layers"
	if [ "$(rank "$lf")" -le "$(rank "$lt")" ] && [ "$(rank "$lf")" != 2 -o "$(rank "$lt")" != 2 ]; then
		echo "include-graph: $from includes $to, against the arrows"
		status=1
	fi
done <"$tmp/edges"

echo "include-graph: $(wc -l <"$tmp/edges") edges between $(tr ' ' '\n' <"$tmp/edges" | sort -u | wc -l) files; between layers:"
sort "$tmp/layers" | uniq -c | sed 's/^ */  /'
[ "${1:-}" = -v ] && sed 's/^/  /' "$tmp/edges"
[ $status = 0 ] && echo "include-graph: no new circle, every arrow points down"
exit $status
