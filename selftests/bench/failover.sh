#!/usr/bin/env bash
# failover.sh - bench part "failover" (make bench-failover): how long a
# talking connection goes unanswered when the LB node carrying it dies.
#
# The ECMP lab (tools/lab/ecmp.sh): a router running BIRD spreads 20 client
# addresses over two LB nodes, each running lbd --announce-table 100 and
# BIRD (BGP, next hop self).  200 IPv4 connections (build/talk against
# build/echod on three backends, l2, the same configuration applied by one
# `lbctl restore` on both nodes, no health checks: both nodes' rings have
# one history, so a flow that moves keeps its backend and the gap measures
# the routing alone) each send a line every 100 ms; then node 1's link
# goes down (the port on the router's bridge) and, 8 s later, up again.
# Measured per run: when the router's kernel dropped the node's next hop
# (ip -ts monitor, from the link going down), and the longest gap between
# two answers any connection saw.  Two settings of the BGP sessions, both
# with hold time 3 s and keepalive 1 s:
#   bfd    BFD on every session (100 ms x 3)
#   hold   no BFD: the router waits for the hold timer
# FAILOVER_RUNS (3) runs each.  talk's answer timeout is 15 s here, so that
# the hold-timer case measures a gap instead of ending connections.
# Output: stdout, $BENCH_DIR/failover.md.
set -u
cd "$(dirname "$0")/../.."
BUILD=$(cd "${BUILD:-build}" && pwd)
SAN=$BUILD # lbd without sanitizers
T=failover
BENCH_DIR=${BENCH_DIR:-$BUILD/bench}
mkdir -p "$BENCH_DIR"
BENCH_DIR=$(cd "$BENCH_DIR" && pwd)
source selftests/net/lib.sh
source tools/lab/ecmp.sh

RUNS=${FAILOVER_RUNS:-3}
MD=$BENCH_DIR/failover.md
V4="$E_VIP4:80/tcp"

lbctl_n() { local i=$1; shift; "$SAN/lbctl" -s "$TMP/lb$i.sock" "$@"; }
routed() { ecmp_nexthops "$P" $E_VIP4 | grep -qx "$(e_lb4 "$1")"; }
unrouted() { ! routed "$1"; }

# lab MODE: the lab, BIRD with BFD on (bfd) or off (hold), lbd configured
lab() {
	local bfd=on i b
	[ "$1" = hold ] && bfd=off
	ecmp_topology "$P" "$BUILD/bpf/xdp_pass.bpf.o" 2 || return 1
	mkdir -p "$PIN" && mount -t bpf bpf "$PIN" || return 1
	ecmp_bird_router 2 3 1 $bfd >"$TMP/rt.conf" && ecmp_bird_start "$P" rt "$TMP/rt.conf" "$TMP" || return 1
	ecmp_backends_start "$P" "$BUILD/echod" || return 1
	for i in 1 2; do
		rm -f "$TMP/lb$i.sock" "$TMP/lb$i.state"
		ecmp_bird_lb $i 3 1 $bfd >"$TMP/lb$i.conf" && ecmp_bird_start "$P" lb$i "$TMP/lb$i.conf" "$TMP" ||
			return 1
		ip netns exec "$P-lb$i" "$SAN/lbd" --iface eth0 --xdp-mode native --socket "$TMP/lb$i.sock" \
			--state "$TMP/lb$i.state" --pin "$PIN/lb$i" --metrics none \
			--announce-table $E_TABLE 2>>"$TMP/lb$i.log" &
		wait_for 150 test -S "$TMP/lb$i.sock" && wait_for 50 lbctl_n $i vip show || return 1
		{
			echo "vip add $V4 method l2 check none"
			for b in 0 1 2; do echo "backend add $V4 ${E_BE4[$b]}"; done
		} | lbctl_n $i restore - || return 1
	done
	wait_for 300 routed 1 && wait_for 100 routed 2
}

# one_run: prints "WITHDRAWN_MS GAP_MS BROKEN OPENED"
one_run() {
	local srcs=() a t0 t
	for a in $(e_cl4s); do srcs+=(-s "$a"); done
	ip netns exec "$P-cl" "$BUILD/talk" "${srcs[@]}" -n 200 -i 100 -t 15000 -d 60 -r "$TMP/talk" \
		$E_VIP4 80 &
	local talk=$!
	sleep 3
	ecmp_monitor_start "$P" "$TMP/mon"
	t0=$(date +%s%N)
	ip -n "$P-rt" link set lb1 down
	wait_for 100 unrouted 1
	sleep 8
	ecmp_monitor_stop
	kill -TERM $talk
	wait $talk
	t=$(ecmp_withdrawn_ms "$TMP/mon" $E_VIP4 "$(e_lb4 1)" "$t0")
	read -r _ o _ b _ _ _ g _ _ <"$TMP/talk"
	echo "${t:--} $g $b $o"
	ip -n "$P-rt" link set lb1 up
	wait_for 300 routed 1
}

med() { sort -n | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)]; else print "-" }'; }
max() { sort -n | tail -n 1; }

echo "failover: $RUNS runs per setting, 200 connections, node 1's link down ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'))"
rows=()
for mode in bfd hold; do
	lab $mode || { echo "failover: building the lab ($mode) failed" >&2; exit 1; }
	: >"$TMP/runs"
	for ((r = 1; r <= RUNS; r++)); do
		line=$(one_run)
		echo "  $mode run $r: withdrawn after ${line%% *} ms; longest gap, broken, opened: ${line#* }"
		echo "$line" >>"$TMP/runs"
	done
	wd=$(awk '{ print $1 }' "$TMP/runs")
	gp=$(awk '{ print $2 }' "$TMP/runs")
	br=$(awk '{ s += $3; o += $4 } END { printf "%d of %d", s, o }' "$TMP/runs")
	rows+=("| $mode | $(med <<<"$wd") | $(max <<<"$wd") | $(med <<<"$gp") | $(max <<<"$gp") | $br |")
	lab_down
done

{
	echo "# failover: a node's link goes down under 200 talking connections"
	echo
	echo "$RUNS runs per setting; BGP hold 3 s, keepalive 1 s; BFD 100 ms x 3."
	echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'); load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)."
	echo
	echo "| setting | route dropped, median (ms) | max (ms) | longest gap, median (ms) | max (ms) | connections broken |"
	echo "| --- | --- | --- | --- | --- | --- |"
	printf '%s\n' "${rows[@]}"
} | tee "$MD"
