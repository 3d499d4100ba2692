#!/usr/bin/env bash
# rate.sh - bench part `rate` (make bench-rate): forwarding rate in Mpps on
# one core with live frames, lbd's forwarder against the bare XDP_TX
# reference (ref_macswap) on the same veth, measured in the same run.
#
# The lab (selftests/net/rate_lab.sh): namespaces gen and lb joined by one
# veth.  `xdplb-bench rate-gen` (selftests/bench/bench_rate.c) runs in gen,
# pinned to one CPU: bpf/bench_gen.bpf.c under BPF_PROG_TEST_RUN with
# BPF_F_TEST_XDP_LIVE_FRAMES sends 64-byte TCP ACKs to the LB's veth, where
# lbd (native XDP, configured with lbctl: an l2 VIP and an ipip VIP, one
# backend each) forwards them back with XDP_TX to a counting program.  The
# reference is swapped into lbd's XDP link and back, round after round.
#
# Three lbd runs: --flows 8388608 (each CPU's LRU lists hold 4,194,304
# established flows, so the l2 and the ipip VIP's million flows fit, and
# the half-open array's 2,097,152 slots take a million new flows before
# their second packet promotes them), then the default --flows (1,048,576:
# 524,288 established per CPU on two CPUs, 262,144 half-open slots) with a
# million flows cycling, then a fresh lbd with the default --flows for the
# SYN flood alone.
#
# Environment: XDPLB_RATE_SECONDS (1) per sample, XDPLB_RATE_ROUNDS (5),
# XDPLB_RATE_FLOWS (1000000), XDPLB_RATE_CURVE ("1000 10000": rows
# with that many of the l2 flows active in the full table), XDPLB_RATE_CPU
# (the last CPU).
# Output: stdout, $BENCH_DIR/rate.md, rate.tsv, rate.png.
set -u -o pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
export BENCH_DIR=${BENCH_DIR:-$BUILD/bench}
export SAN=$BUILD # lbd and lbctl without sanitizers: lbd is no part of the path, but quieter
T=rate
source selftests/net/lib.sh
source selftests/net/rate_lab.sh

SECS=${XDPLB_RATE_SECONDS:-1}
ROUNDS=${XDPLB_RATE_ROUNDS:-5}
FLOWS=${XDPLB_RATE_FLOWS:-1000000}
CURVE=${XDPLB_RATE_CURVE:-1000 10000} # smaller sets of active flows, l2 only
NCPU=$(nproc)
CPU=${XDPLB_RATE_CPU:-$((NCPU - 1))}
BIG_TABLE=8388608
MD=$BENCH_DIR/rate.md
TSV=$BENCH_DIR/rate.tsv
mkdir -p "$BENCH_DIR"
: >"$TSV"

die() { echo "rate: $*" >&2; [ -s "$TMP/lbd.log" ] && tail -n 5 "$TMP/lbd.log" >&2; exit 1; }

# lbd_up FLOWS: a fresh lbd (nothing pinned, no state) with --flows FLOWS,
# configured; kept off the generator's CPU when there is another.
lbd_up() {
	# a table of millions of flows is preallocated at start: ~20 s for 8M
	start_lbd --xdp-mode native --metrics none --flows "$1" ||
		wait_for 600 lbctl vip show || die "lbd did not start"
	[ "$NCPU" -gt 1 ] && taskset -a -p -c $(((CPU + 1) % NCPU)) "$LBD_PID" >/dev/null
	rate_config || die "cannot configure lbd"
}

lbd_down() {
	stop_lbd TERM || die "lbd did not stop cleanly"
	nsx lb "$SAN/lbd" --iface eth0 --pin "$PIN" --detach 2>>"$TMP/lbd.log" || die "lbd --detach failed"
	rm -f "$STATE"
}

# phase LABEL N ROUNDS ARGS...: one rate-gen run with N flows; the veth
# counters that grew go to $TMP/drops.
phase() {
	local label=$1 n=$2 rounds=$3 before after
	shift 3
	before=$(veth_drops)
	echo "-- lbd --flows ${label%% *}, $n flows"
	rate_gen --cpu "$CPU" --seconds "$SECS" --rounds "$rounds" --flows "$n" \
		--tsv "$TSV" --label "$label" "$@" | tee -a "$TMP/out" || die "rate-gen failed"
	after=$(veth_drops)
	join -t= <(sort <<<"$before") <(sort <<<"$after") |
		awk -F= -v l="${label%% *}" '$3 > $2 && $1 != "g0:rx_queue_0_xdp_drops" {
			printf "%s: %s +%d\n", l, $1, $3 - $2 }' >>"$TMP/drops"
}

lab_rate || die "cannot build the lab"
load0=$(cut -d' ' -f1-3 /proc/loadavg)
: >"$TMP/drops"

# entries: flows4's entries after the last phase (rate-gen --table prints them)
entries() { sed -n 's/^flows4 entries after the run: \([0-9]*\).*/\1/p' "$TMP/out" | tail -n 1; }

# curve LABEL: the smaller sets of active flows (CURVE), the first n of the
# l2 flows, in the table lbd has now
curve() {
	local n
	for n in $CURVE; do
		[ "$n" -lt "$FLOWS" ] && phase "$1" "$n" $(((ROUNDS + 1) / 2)) l2-est refn lkpn linn
	done
}

lbd_up $BIG_TABLE
big="$BIG_TABLE (per CPU $((BIG_TABLE / NCPU)))"
phase "$big" "$FLOWS" "$ROUNDS" --table ref1 l2-1 ipip-1 lkp1 refn l2-new l2-est lkpn linn \
	ipip-new ipip-est
big_entries=$(entries)
curve "$big" # the same full table: hits
lbd_down
lbd_up 1048576
def="1048576 (per CPU $((1048576 / NCPU)), default)"
phase "$def" "$FLOWS" "$ROUNDS" --table refn l2-new l2-est l2-syn
small_entries=$(entries)
curve "$def" # a table sized for the flows it holds, not for a million on one CPU
# the SYN flood again on a fresh lbd: the SYN path alone, into an empty
# established table (above, it follows what the cycling left in flows4,
# which differs between forwarders and makes each flows4 miss dearer)
lbd_down
lbd_up 1048576
phase "1048576 (default, fresh lbd)" "$FLOWS" "$ROUNDS" refn l2-syn
stop_lbd TERM || die "lbd did not stop cleanly"
load1=$(cut -d' ' -f1-3 /proc/loadavg)

# --- rate.md ---
{
	echo "# Forwarding rate with live frames (make bench-rate)"
	echo
	echo "$(date -u '+%Y-%m-%d %H:%M UTC'), Linux $(uname -r), $NCPU CPUs, generator and the whole"
	echo "path on CPU $CPU; load average $load0 before, $load1 after.  $ROUNDS rounds of $SECS s"
	echo "per case (the first pass over new flows: once, exactly $FLOWS frames); medians."
	echo
	echo "bench_gen (BPF_PROG_TEST_RUN, BPF_F_TEST_XDP_LIVE_FRAMES, 64-byte TCP ACKs, XDP_TX)"
	echo "-> veth -> lbd's forwarder, native XDP on the LB's veth, XDP_TX -> veth -> bench_count."
	echo "The reference (swap MACs, XDP_TX) replaces the forwarder in lbd's XDP link for its"
	echo "samples.  **Mpps** = frames counted on the far side / the time the CPU spent in the"
	echo "run loop (the kernel's figure: generator, both veth hops, the XDP programs; not the"
	echo "time other tasks had the CPU); **wall** = the same frames / wall time, lower on a"
	echo "shared machine.  **x ref** = the median of each round's Mpps / the reference's in"
	echo "the same round, with the same generator (1 or N sources).  N = $FLOWS flows (client"
	echo "addresses from 172.16.0.0).  **as expected**: frames that arrived with the backend's"
	echo "MAC (l2) or the router's MAC and an IPIP header to the backend (ipip).  The rows"
	echo "with fewer l2 flows run after the million-flow rows, on the same full table: their"
	echo "flows are the first of the million (hits); the reference's generator cycles as"
	echo "many sources.  **ref + flows4 lookup** is the reference plus the forwarder's"
	echo "established-flow lookup in lbd's own flows4 (same map, same entries; key from"
	echo "the frame; bpf/bench_gen.bpf.c ref_lookup): what the flow table costs by itself."
	echo "**ref + one line of per-flow state** (ref_line) is the reference plus one"
	echo "read-modify-write of one 64-byte line per packet, in an array of one line per"
	echo "flow at a hash of the source: the least that any per-flow state (a flow table,"
	echo "per-flow counters) must touch, so its ratio is the most any stateful forwarder"
	echo "can reach on this machine with that many flows.  **SYNs from N sources** (from"
	echo "100.64.0.0, none of them a known flow): a SYN flood; more sources than the"
	echo "half-open table's share of one CPU, so every SYN is a miss, learned half-open"
	echo "in place of another."
	echo
	echo "| lbd --flows | case | Mpps | ns/pkt | min-max | x ref | wall Mpps | sent | arrived | as expected | flow hits | flow misses | LB drop/pass |"
	echo "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
	awk -F'\t' '{ printf "| %s | %s | %.2f | %.0f | %.2f-%.2f | %s | %.2f | %d | %d | %d | %d | %d | %d |\n",
		$1, $3, $4, ($4 > 0 ? 1000 / $4 : 0), $5, $6, $7, $8, $10, $11, $12, $13, $14, $15 }' "$TSV"
	echo
	echo "Goal: the forwarder at 0.60 x the reference or more."
	awk -F'\t' '$2 !~ /^(ref|lkp|lin)/ && $7 != "-" { split($1, f, " ")
		printf "- %s, lbd --flows %s: %s x, %s\n", $3, f[1], $7, ($7 >= 0.6 ? "met" : "**not met**") }' "$TSV"
	echo
	echo "The floor of per-flow state (ref + one line / ref, same flows, same table"
	echo "size): the highest ratio a forwarder that keeps anything per flow can reach here."
	echo
	awk -F'\t' '$2 == "linn" { match($3, /[0-9]+ flows/); n = substr($3, RSTART, RLENGTH - 6)
		printf "- %s flows, lbd --flows %s: %s x%s\n", n,
			substr($1, 1, index($1 " ", " ") - 1), $7, ($7 < 0.6 ? " (below the goal)" : "") }' "$TSV"
	echo
	echo "l2 against ref + flows4 lookup with the same flows (medians; the lookup reference"
	echo "reads the l2 VIP's entries):"
	echo
	awk -F'\t' '{ n = "1"; if (match($3, /[0-9]+ flows/)) n = substr($3, RSTART, RLENGTH - 6)
		k = $1 "|" n }
		$2 ~ /^lkp/ { lk[k] = $4 }
		$2 == "l2-1" || $2 == "l2-est" { fw[k] = $4; d[k] = $3; lb[k] = $1; ord[++m] = k }
		END { for (i = 1; i <= m; i++) { k = ord[i]; if (lk[k] > 0)
			printf "- %s, lbd --flows %s: %.2f x\n", d[k], substr(lb[k], 1, index(lb[k] " ", " ") - 1), fw[k] / lk[k] } }' "$TSV"
	echo
	echo "flows4 entries after each lbd run: $big_entries (--flows $BIG_TABLE), $small_entries"
	echo "(--flows 1048576).  The tables are LRU hashes with per-CPU LRU lists"
	echo "(BPF_F_NO_COMMON_LRU): the kernel gives each possible CPU max_entries / CPUs of"
	echo "the entries and a CPU evicts only from its own share, so the flows one CPU sees"
	echo "can hold only --flows / CPUs entries.  With the default table, $FLOWS flows"
	awk -F'\t' -v n="$FLOWS flows" '$1 ~ /default/ && $2 == "l2-est" && index($3, n) && $13 + $14 > 0 {
		printf "cycling on one CPU missed on %.0f%% of packets (each miss learns the flow and\n", 100 * $14 / ($13 + $14) }' "$TSV"
	echo "evicts another)."
	echo
	if [ -s "$TMP/drops" ]; then
		echo "veth drop and error counters (ethtool -S) that grew during the runs:"
		echo
		sed 's/^/- /' "$TMP/drops"
	else
		echo "No veth drop or error counter (ethtool -S, *drop*/*err*/*full*) grew, besides"
		echo "bench_count's own XDP_DROP on the generator's veth."
	fi
} >"$MD"

# --- rate.png: Mpps per case ---
# short labels: "l2 1000000 flows cycling [default table]" -> "l2 1M est [default]"
awk -F'\t' '{
	split($2, k, "-"); if ($2 ~ /^ref/) k[1] = "ref"; if ($2 ~ /^lkp/) k[1] = "ref+lookup"
	if ($2 ~ /^lin/) k[1] = "ref+line"
	n = "1 flow"; c = k[1] == "ref" ? 1 : k[1] == "l2" ? 2 : k[1] == "ipip" ? 3 : 4
	if (match($3, /[0-9]+ (new )?flows/) || match($3, /[0-9]+ sources/)) {
		n = substr($3, RSTART, RLENGTH); sub(/ .*/, "", n)
		n = n >= 1000000 ? n / 1000000 "M" : n >= 1000 ? n / 1000 "k" : n
		n = n ($2 ~ /new/ ? " new" : $2 ~ /est/ ? " est" : $2 ~ /syn/ ? " SYN" : "")
	}
	printf "\"%s %s%s\"\t%s\t%d\n", k[1], n, ($1 ~ /fresh/ ? " [fresh]" : $1 ~ /default/ ? " [default]" : ""), $4, c }' \
	"$TSV" >"$TMP/plot.dat"
if command -v gnuplot >/dev/null; then
	gnuplot <<PLOT || echo "rate: gnuplot failed; no plot" >&2
set terminal pngcairo size 1200,680 font ",10"
set output "$BENCH_DIR/rate.png"
set title "xdplb forwarding rate, one core, live frames: reference (grey), reference + flow lookup or one line (dark), l2 (blue), ipip (orange); load $load0"
set ylabel "Mpps"
set style fill solid 0.8
set boxwidth 0.7
set yrange [0:*]
set xtics rotate by -35 left
set bmargin 7
set rmargin 14
set grid ytics
set linetype 1 lc rgb "#888888"
set linetype 2 lc rgb "#1f77b4"
set linetype 3 lc rgb "#ff7f0e"
set linetype 4 lc rgb "#444444"
plot "$TMP/plot.dat" using 0:2:(0.7):3:xtic(1) with boxes lc variable notitle, \
     "" using 0:2:(sprintf("%.2f", \$2)) with labels offset 0,0.7 notitle
PLOT
else
	echo "rate: gnuplot not installed (make deps); no plot" >&2
fi
echo "rate: $MD, $TSV${BENCH_DIR:+, $BENCH_DIR/rate.png}"
