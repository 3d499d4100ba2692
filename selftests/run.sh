#!/usr/bin/env bash
# run.sh - every selftest: the C runner (unit, golden packets), the
# libFuzzer harnesses (selftests/fuzz/, 10 s each), the static analysis
# (tools/lint.sh: cppcheck, clang-tidy), the BPF objects and golden packets
# on a Debian 12 6.1 kernel under qemu (selftests/k61/) and the
# network-namespace tests in selftests/net/.  Each part prints PASS/FAIL
# lines and its own "N passed, N failed, N skipped"; this script sums them
# into the one closing line.
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
total_pass=0 total_fail=0 total_skip=0

tally() { # $1: a part's log; adds its closing counts (a part that died counts as failed)
	local line
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$1" | tail -n 1)
	if [ -z "$line" ]; then
		echo "FAIL $2 (no summary line: it crashed or was killed)"
		total_fail=$((total_fail + 1))
		return
	fi
	set -- $line
	total_pass=$((total_pass + $1))
	total_fail=$((total_fail + $3))
	[ "${6:-}" ] && total_skip=$((total_skip + $5))
}

log=$(mktemp)
trap 'rm -f "$log"' EXIT

"$BUILD/test_progs" "$@" 2>&1 | tee "$log"
tally "$log" test_progs

if [ $# -eq 0 ] && [ -e selftests/fuzz/run.sh ]; then # libFuzzer harnesses, 10 s each
	echo "== selftests/fuzz/run.sh"
	BUILD=$BUILD timeout 600 bash selftests/fuzz/run.sh 10 2>&1 | tee "$log"
	tally "$log" selftests/fuzz/run.sh
fi

if [ $# -eq 0 ] && [ -e tools/lint.sh ]; then # cppcheck and clang-tidy (make lint)
	echo "== tools/lint.sh"
	BUILD=$BUILD timeout 600 bash tools/lint.sh 2>&1 | tee "$log"
	tally "$log" tools/lint.sh
fi

if [ $# -eq 0 ] && [ -e selftests/k61/run.sh ]; then # the BPF objects on Debian 12's 6.1 kernel (qemu)
	echo "== selftests/k61/run.sh"
	BUILD=$BUILD timeout 900 bash selftests/k61/run.sh 2>&1 | tee "$log"
	tally "$log" selftests/k61/run.sh
fi

for t in selftests/net/test_*.sh; do
	[ -e "$t" ] || continue
	[ $# -gt 0 ] && break # a filter was given: C tests only
	echo "== $t"
	timeout 600 bash "$t" 2>&1 | tee "$log"
	tally "$log" "$t"
done

echo "$total_pass passed, $total_fail failed, $total_skip skipped"
[ "$total_fail" -eq 0 ]
