#!/usr/bin/env bash
# plot.sh PART - PNG plots of a C part's Markdown table in $BENCH_DIR
# (gnuplot).  Script parts (rate.sh, outage.sh) draw their own.
set -u
BENCH_DIR=${BENCH_DIR:-build/bench}
command -v gnuplot >/dev/null || { echo "plot: gnuplot missing (make deps)" >&2; exit 0; }

case "${1:-}" in
datapath)
	md=$BENCH_DIR/datapath.md dat=$BENCH_DIR/datapath.dat
	[ -s "$md" ] || exit 0
	# rows of the table: case | hot ns | x macswap | x minimal | ...
	awk -F'|' '/^\| (ref|l2|ipip|gue|non-VIP|ICMP)/ {
		gsub(/^ +| +$/, "", $2); gsub(/"/, "", $2); gsub(/ +/, "", $5)
		printf "\"%s\" %s\n", $2, $5 }' "$md" >"$dat"
	n=$(wc -l <"$dat")
	gnuplot <<GP
set terminal pngcairo size 1000,$((120 + 28 * n)) font ",10" noenhanced
set output "$BENCH_DIR/datapath.png"
set title "xdplb datapath (BPF_PROG_TEST_RUN): ns/packet as x the minimal reference"
set style fill solid 0.6 border -1
set yrange [$n-0.4:-0.6]
set logscale x 2
set xrange [0.25:32]
set xlabel "x minimal reference, log scale; dashed: goals 1.5x (l2), 2x (ipip)"
set grid xtics
set arrow from 1.5, graph 0 to 1.5, graph 1 nohead dt 2 lc rgb "#2a7"
set arrow from 2.0, graph 0 to 2.0, graph 1 nohead dt 2 lc rgb "#a72"
unset key
plot "$dat" using (sqrt(\$2*0.25)):0:(0.25):(\$2):(\$0-0.35):(\$0+0.35):ytic(1) with boxxy lc rgb "#4477aa", \
     "" using (\$2):0:(sprintf(" %.2f", \$2)) with labels left font ",9"
GP
	echo "plot: $BENCH_DIR/datapath.png"
	;;
esac
exit 0
