#!/usr/bin/env bash
# run.sh SECONDS - run each libFuzzer harness (build/fuzz/fuzz_*) for SECONDS
# on a scratch copy of its corpus (selftests/fuzz/corpus/<harness>/), with
# its dictionary (selftests/fuzz/<harness>.dict) if it has one; one
# PASS/FAIL/SKIP line per harness and "N passed, N failed, N skipped".  A
# crash leaves its input in the scratch directory, named in the FAIL line.
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
secs=${1:-10}
pass=0 fail=0 skip=0
work=$(mktemp -d /tmp/xdplb-fuzz.XXXXXX)

for src in selftests/fuzz/fuzz_*.c; do
	name=$(basename "$src" .c)
	bin=$BUILD/fuzz/$name
	if [ ! -x "$bin" ]; then
		echo "SKIP $name (not built: make fuzz-build)"
		skip=$((skip + 1))
		continue
	fi
	if { [ "$name" = fuzz_packet ] || [ "$name" = fuzz_decap ]; } && [ "$(id -u)" -ne 0 ]; then
		echo "SKIP $name (needs root for BPF)"
		skip=$((skip + 1))
		continue
	fi
	dir=$work/$name
	mkdir -p "$dir/corpus" "$dir/crash"
	cp selftests/fuzz/corpus/"$name"/* "$dir/corpus/" 2>/dev/null
	log=$dir/log
	dict=() # tokens the harness cannot learn from comparisons (selftests/fuzz/NAME.dict)
	[ -e selftests/fuzz/"$name".dict ] && dict=(-dict=selftests/fuzz/"$name".dict)
	if timeout $((secs + 60)) "$bin" "${dict[@]}" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
		-print_final_stats=1 -artifact_prefix="$dir/crash/" "$dir/corpus" >"$log" 2>&1; then
		runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
		rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
		echo "PASS $name (${runs:-?} runs, ${rate:-?} exec/s in ${secs}s)"
		pass=$((pass + 1))
	else
		echo "FAIL $name (log and crashing input kept in $dir)"
		grep -E 'invariant failed|ERROR: |SUMMARY: ' "$log" | head -n 5 | sed 's/^/  /'
		fail=$((fail + 1))
		continue
	fi
	rm -rf "$dir"
done
rmdir "$work" 2>/dev/null

echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
