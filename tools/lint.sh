#!/usr/bin/env bash
# lint.sh [FILE...] - static analysis of the user-space C (userspace/, tools/*.c):
# cppcheck (warning, performance, portability) and clang-tidy (the checks in
# .clang-tidy), with the flags the Makefile compiles with (LINT_CFLAGS,
# from `make lint`).  The compilation database is written to
# $BUILD/lint/compile_commands.json at each run, never committed.  One
# PASS/FAIL line per tool and "N passed, N failed, N skipped"; a finding is
# a failure (printed).  Needs the skeletons and build/version.h (`make all`).
#
# A false positive is silenced where it stands, with the reason beside it:
#   cppcheck:   // cppcheck-suppress ID  (--inline-suppr)
#   clang-tidy: // NOLINT(check) or // NOLINTNEXTLINE(check)
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
# the build's flags (make lint and make test pass them); these when run by hand
CFLAGS=${LINT_CFLAGS:--std=c11 -Wall -Wextra -D_GNU_SOURCE -Iheaders -Iuserspace -I$BUILD}
jobs=$(nproc 2>/dev/null || echo 2)
out=$BUILD/lint
pass=0 fail=0 skip=0
mkdir -p "$out"

srcs=(userspace/*.c tools/*.c)
[ $# -gt 0 ] && srcs=("$@") # lint.sh FILE...: just those
# -I and -D of the build, for cppcheck (which takes no other compiler flags)
defs=()
for f in $CFLAGS; do
	case $f in -I* | -D*) defs+=("$f") ;; esac
done

result() { # NAME STATUS LOG SECONDS [FINDINGS]
	if [ "$2" -eq 0 ]; then
		echo "PASS $1 (${#srcs[@]} files, $4 s)"
		pass=$((pass + 1))
	else
		echo "FAIL $1: findings (full output in $3)"
		if [ $# -ge 5 ]; then cat "$5"; else
			grep -E '(warning|error|style|portability|performance): ' "$3" | sort -u
		fi | head -n 40 | sed 's/^/  /'
		fail=$((fail + 1))
	fi
}

# cppcheck: only the build's configuration (its -D), so it is deterministic
if command -v cppcheck >/dev/null; then
	t0=$(date +%s)
	cppcheck --std=c11 --enable=warning,performance,portability --error-exitcode=1 \
		--inline-suppr --library=tools/cppcheck.cfg --suppress=missingIncludeSystem -q \
		-j "$jobs" "${defs[@]}" "${srcs[@]}" >"$out/cppcheck.log" 2>&1
	result cppcheck $? "$out/cppcheck.log" $(($(date +%s) - t0))
else
	echo "SKIP cppcheck (not installed: make deps)"
	skip=$((skip + 1))
fi

# clang-tidy: the compilation database from the Makefile's flags, with the
# generated skeletons in $BUILD as system headers (libbpf's code, not ours)
tidy_flags=${CFLAGS//-I$BUILD/-isystem $BUILD}
tidy=$(command -v clang-tidy-14 || command -v clang-tidy)
if [ -n "$tidy" ]; then
	t0=$(date +%s)
	{
		echo "["
		sep=""
		for f in "${srcs[@]}"; do
			printf '%s{"directory": "%s", "file": "%s", "command": "cc %s -c %s -o /dev/null"}\n' \
				"$sep" "$PWD" "$f" "$tidy_flags" "$f"
			sep=","
		done
		echo "]"
	} >"$out/compile_commands.json"
	printf '%s\n' "${srcs[@]}" |
		xargs -P "$jobs" -n 1 "$tidy" -p "$out" --quiet >"$out/clang-tidy.log" 2>&1
	rc=$?
	# The analyzer reports paths that end inside bpftool's generated
	# skeletons ($BUILD/*.skel.h; -isystem does not hide those): not ours.
	# Anything else, or clang-tidy failing without a finding, fails.
	grep -E '^[^ ]+:[0-9]+:[0-9]+: (warning|error): ' "$out/clang-tidy.log" |
		grep -vE "^($PWD/)?$BUILD/[^/ ]+\.skel\.h:" | sort -u >"$out/clang-tidy.findings"
	if grep -qE 'Error while processing|Stack dump|PLEASE submit' "$out/clang-tidy.log" ||
		{ [ "$rc" -ne 0 ] && ! grep -qE ': (warning|error): ' "$out/clang-tidy.log"; }; then
		echo "clang-tidy did not finish (exit $rc)" >>"$out/clang-tidy.findings"
	fi
	result clang-tidy "$([ -s "$out/clang-tidy.findings" ] && echo 1 || echo 0)" \
		"$out/clang-tidy.log" $(($(date +%s) - t0)) "$out/clang-tidy.findings"
else
	echo "SKIP clang-tidy (not installed: make deps)"
	skip=$((skip + 1))
fi

echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
