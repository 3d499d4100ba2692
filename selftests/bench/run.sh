#!/usr/bin/env bash
# run.sh - the benchmark parts, all of them or the ones named.  A part is
# either a C part of build/xdplb-bench (datapath, maglev, metrics, ...) or a
# script selftests/bench/PART.sh (parts that need namespaces, daemons or
# other programs; run.sh and plot.sh are helpers, not parts).  Every part prints its figures as ratios against a
# reference measured in the same run and writes build/bench/PART.md (and
# PNG plots where it has them).
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
export BENCH_DIR=${BENCH_DIR:-$BUILD/bench}
mkdir -p "$BENCH_DIR"

c_parts=$("$BUILD/xdplb-bench" --list)
script_parts=$(for f in selftests/bench/*.sh; do
	b=$(basename "$f" .sh)
	case $b in run | plot) ;; *) echo "$b" ;; esac
done)

[ $# -gt 0 ] || set -- $c_parts $script_parts
rc=0
for part in "$@"; do
	echo "== bench $part  (load average: $(cut -d' ' -f1-3 /proc/loadavg))"
	if grep -qx "$part" <<<"$script_parts"; then
		BUILD=$BUILD bash "selftests/bench/$part.sh" || rc=1
	elif grep -qx "$part" <<<"$c_parts"; then
		"$BUILD/xdplb-bench" "$part" || rc=1
		bash selftests/bench/plot.sh "$part"
	else
		echo "unknown bench part '$part'; parts: $(echo $c_parts $script_parts)" >&2
		exit 2
	fi
done
echo "results: $BENCH_DIR/"
exit $rc
