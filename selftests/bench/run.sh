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

# Which machine: figures move with the CPU (AMD EPYC with retpolines and
# SRSO "Safe RET" pays more for every call and return than the Intel seen
# here), so every run says what it ran on, and keeps it beside the tables.
machine() {
	local v=/sys/devices/system/cpu/vulnerabilities
	echo "CPU: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)," \
		"$(nproc) cores, Linux $(uname -r)"
	echo "mitigations: spectre_v2: $(cat $v/spectre_v2 2>/dev/null);" \
		"spec_rstack_overflow: $(cat $v/spec_rstack_overflow 2>/dev/null);" \
		"retbleed: $(cat $v/retbleed 2>/dev/null)"
}
machine | tee "$BENCH_DIR/machine.md" | sed 's/^/== /'

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
