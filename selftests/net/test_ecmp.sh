#!/usr/bin/env bash
# test_ecmp.sh - several entry nodes (tools/lab/ecmp.sh): a router running
# BIRD spreads 20 client addresses over two LB nodes by ECMP; each node runs
# lbd --announce-table 100 (sanitizer build) and BIRD announcing that table
# by BGP with BFD.  200 IPv4 and 200 IPv6 connections keep talking (a line
# every 100 ms, build/talk against build/echod) through: both nodes
# carrying traffic; a node's link down (the router drops it within 1 s) and
# up again; a node drained and undrained; every backend of a VIP failing its
# health check and one recovering; lbd restarted (SIGTERM, SIGKILL, adopting)
# with the router's route polled throughout.  Done twice: the configuration
# applied in one `lbctl restore`, and built command by command (backends
# added one at a time, health checks bringing them up one by one).
# PASS/FAIL lines for what must hold (routes, withdrawal times, traffic
# continuing, both nodes used, client addresses seen); how many connections
# broke or moved is issue 15's subject and printed as "# ..." lines.
source "$(dirname "$0")/lib.sh"
source "$ROOT/tools/lab/ecmp.sh"

NODES=2
V4="$E_VIP4:80/tcp" V6="[$E_VIP6]:80/tcp" V4B="$E_VIP4B:8080/tcp"
CHECK="check tcp interval 200ms timeout 200ms fall 2 rise 2"
declare -A LBD  # node -> lbd pid
TALK4= TALK6=

lbctl_n() { local i=$1; shift; "$SAN/lbctl" -s "$TMP/lb$i.sock" "$@"; }
nh_addr() { case $2 in *:*) e_lb6 "$1" ;; *) e_lb4 "$1" ;; esac; } # nh_addr NODE ADDR
# routed ADDR NODE: the router's kernel route for ADDR goes via NODE
routed() { ecmp_nexthops "$P" "$1" | grep -qx "$(nh_addr "$2" "$1")"; }
unrouted() { ! routed "$@"; }
routed_both() { routed $E_VIP4 "$1" && routed $E_VIP6 "$1"; } # routed_both NODE
no_route() { [ -z "$(ecmp_nexthops "$P" "$1")" ]; }
all_routed() { # all_routed ADDR: every node is a next hop
	local i
	for ((i = 1; i <= NODES; i++)); do routed "$1" $i || return 1; done
}
# table_holds NODE ADDR...: NODE's announce table has a host route for each ADDR
table_holds() {
	local i=$1 a
	shift
	for a in "$@"; do
		case $a in
		*:*) ip -n "$P-lb$i" -6 route show table $E_TABLE "$a/128" proto 249 | grep -q . ;;
		*) ip -n "$P-lb$i" -4 route show table $E_TABLE "$a/32" proto 249 | grep -q . ;;
		esac || return 1
	done
}
ms() { echo $(($(date +%s%N) / 1000000)); }

# lbd_start NODE: lbd on lbNODE (adopts what its pin holds); waits for its socket
lbd_start() {
	local i=$1
	rm -f "$TMP/lb$i.sock"
	ip netns exec "$P-lb$i" "$SAN/lbd" --iface eth0 --xdp-mode native --socket "$TMP/lb$i.sock" \
		--state "$TMP/lb$i.state" --pin "$PIN/lb$i" --metrics "127.0.0.1:$((9470 + i))" \
		--announce-table $E_TABLE 2>>"$TMP/lb$i.log" &
	LBD[$i]=$!
	wait_for 150 test -S "$TMP/lb$i.sock" && wait_for 50 lbctl_n "$i" vip show
}
lbd_stop() { # lbd_stop NODE SIGNAL: true when it ended as it should (0 after TERM)
	local pid=${LBD[$1]} st
	kill -"$2" "$pid" 2>/dev/null
	{ wait "$pid"; } 2>/dev/null
	st=$?
	[ "$2" = KILL ] && [ $st = 137 ] && st=0
	return $st
}

# counters: "NODE VIP PACKETS" for every node and VIP, and "0 answers N":
# the lines talk got answered so far (both families)
counters() {
	local i
	for ((i = 1; i <= NODES; i++)); do
		lbctl_n $i -j stats | python3 -c '
import json, sys
for v in json.load(sys.stdin)["vips"]:
    print(sys.argv[1], v["vip"], v["packets"])' $i
	done
	cat "$TMP/talk4" "$TMP/talk6" 2>/dev/null | awk '/^conn/ { s += $14 } END { print 0, "answers", s + 0 }'
}
# window: what the counters did in one second, into DELTA["NODE VIP"]
declare -A DELTA
window() {
	local n v d
	DELTA=()
	counters >"$TMP/c0" && sleep 1 && counters >"$TMP/c1" || return 1
	while read -r n v d; do
		DELTA["$n $v"]=$d
	done < <(awk 'NR == FNR { a[$1 " " $2] = $3; next } { print $1, $2, $3 - a[$1 " " $2] }' \
		"$TMP/c0" "$TMP/c1")
}
grows() { [ "${DELTA["$1 $2"]:-0}" -gt 0 ]; }     # grows NODE VIP: NODE forwarded VIP's packets
still() { [ "${DELTA["$1 $2"]:--1}" -eq 0 ]; }    # still NODE VIP: and none
talking() { [ "${DELTA["0 answers"]:-0}" -gt 0 ]; } # the connections got answers

setup() {
	local i
	ecmp_topology "$P" "$BUILD/bpf/xdp_pass.bpf.o" $NODES || return 1
	mkdir -p "$PIN" && mount -t bpf bpf "$PIN" || return 1 # LAB.md trap 3
	ecmp_bird_router $NODES 3 1 on >"$TMP/rt.conf" && ecmp_bird_start "$P" rt "$TMP/rt.conf" "$TMP" ||
		return 1
	for ((i = 1; i <= NODES; i++)); do
		ecmp_bird_lb $i 3 1 on >"$TMP/lb$i.conf" &&
			ecmp_bird_start "$P" lb$i "$TMP/lb$i.conf" "$TMP" && lbd_start $i || return 1
	done
	ecmp_backends_start "$P" "$BUILD/echod"
}

config_text() {
	local v i
	for v in "$V4" "$V6" "$V4B"; do
		echo "vip add $v method l2 $CHECK"
		for i in 0 1 2; do
			case $v in \[*) echo "backend add $v ${E_BE6[$i]}" ;; *) echo "backend add $v ${E_BE4[$i]}" ;; esac
		done
	done
}

# configure restore|commands: the same configuration on every node
configure() {
	local i b v
	if [ "$1" = restore ]; then
		config_text >"$TMP/conf"
		for ((i = 1; i <= NODES; i++)); do lbctl_n $i restore "$TMP/conf" || return 1; done
		return 0
	fi
	for ((i = 1; i <= NODES; i++)); do
		for v in "$V4" "$V6" "$V4B"; do lbctl_n $i vip add "$v" method l2 $CHECK || return 1; done
	done
	# one backend at a time on every node; health checks bring each up (rise 2 x 200 ms)
	for b in 0 1 2; do
		for ((i = 1; i <= NODES; i++)); do
			lbctl_n $i backend add "$V4" "${E_BE4[$b]}" && lbctl_n $i backend add "$V6" "${E_BE6[$b]}" &&
				lbctl_n $i backend add "$V4B" "${E_BE4[$b]}" || return 1
		done
		sleep 1
	done
}

unconfigure() {
	local i v
	for ((i = 1; i <= NODES; i++)); do
		for v in "$V4" "$V6" "$V4B"; do lbctl_n $i vip del "$v" >/dev/null 2>&1; done
	done
	wait_for 50 no_route $E_VIP4 && wait_for 50 no_route $E_VIP6
}

talk_start() {
	local a4=() a6=() a
	for a in $(e_cl4s); do a4+=(-s "$a"); done
	for a in $(e_cl6s); do a6+=(-s "$a"); done
	rm -f "$TMP/talk4" "$TMP/talk6"
	ip netns exec "$P-cl" "$BUILD/talk" "${a4[@]}" -n 200 -i 100 -t 3000 -d 600 -r "$TMP/talk4" $E_VIP4 80 &
	TALK4=$!
	ip netns exec "$P-cl" "$BUILD/talk" "${a6[@]}" -n 200 -i 100 -t 3000 -d 600 -r "$TMP/talk6" $E_VIP6 80 &
	TALK6=$!
	wait_for 50 test -s "$TMP/talk4" && wait_for 50 test -s "$TMP/talk6"
}
talk_stop() {
	kill -TERM $TALK4 $TALK6 2>/dev/null
	wait $TALK4 $TALK6
}
opened_all() { head -n1 "$1" | grep -q '^opened 200 '; }
# clients_seen REPORT: every answer named the connection's own source
# address, and the backends saw all 20 of them
clients_seen() {
	awk '/^conn/ && $18 != "-" { if ($18 != $4) bad++; seen[$18] = 1 }
		END { n = 0; for (a in seen) n++; exit !(bad == 0 && n == 20) }' "$1"
}

# withdrawal NODE T0 ADDR...: waits (3 s at most) until the router has
# dropped NODE for every ADDR; prints the longest time it took after T0
# (date +%s%N), from the kernel's timestamped notifications (ecmp_monitor)
withdrawal() {
	local i=$1 t0=$2 a t worst=0
	shift 2
	for a in "$@"; do wait_for 30 unrouted "$a" "$i" || return 1; done
	sleep 0.1
	for a in "$@"; do
		t=$(ecmp_withdrawn_ms "$TMP/mon" "$a" "$(nh_addr "$i" "$a")" "$t0")
		[ -n "$t" ] || return 1
		[ "$t" -gt $worst ] && worst=$t
	done
	echo $worst
}

step_both_nodes() { # $1: the round's name
	local i
	window
	for ((i = 1; i <= NODES; i++)); do
		check "$1/lb${i}_carries_v4" grows $i "$V4"
		check "$1/lb${i}_carries_v6" grows $i "$V6"
	done
	check "$1/clients_seen_v4" clients_seen "$TMP/talk4"
	check "$1/clients_seen_v6" clients_seen "$TMP/talk6"
}

step_node_dies() {
	local t0 t
	ecmp_monitor_start "$P" "$TMP/mon"
	t0=$(date +%s%N)
	ip -n "$P-rt" link set lb1 down # its link (the port on the router's bridge)
	t=$(withdrawal 1 "$t0" $E_VIP4 $E_VIP6)
	ecmp_monitor_stop
	echo "# $1: the router dropped the dead node after ${t:-(not within 3 s)} ms"
	check "$1/dead_node_dropped_within_1s" test "${t:-9999}" -lt 1000
	window
	check "$1/other_node_carries_v4" grows 2 "$V4"
	check "$1/other_node_carries_v6" grows 2 "$V6"
	check "$1/talking_after_death" talking
	ip -n "$P-rt" link set lb1 up
	check "$1/returned_node_announced" wait_for 150 routed_both 1
	window
	check "$1/returned_node_carries_v4" grows 1 "$V4"
	check "$1/returned_node_carries_v6" grows 1 "$V6"
}

step_drain() {
	local t0 t
	ecmp_monitor_start "$P" "$TMP/mon"
	t0=$(date +%s%N)
	check "$1/drain" lbctl_n 2 node drain
	t=$(withdrawal 2 "$t0" $E_VIP4 $E_VIP6 $E_VIP4B)
	ecmp_monitor_stop
	echo "# $1: the drained node was withdrawn from the router after ${t:-(not within 3 s)} ms"
	check "$1/drained_node_withdrawn" test -n "$t"
	window
	check "$1/drained_node_idle_v4" still 2 "$V4"
	check "$1/drained_node_idle_v6" still 2 "$V6"
	check "$1/traffic_moved_v4" grows 1 "$V4"
	check "$1/traffic_moved_v6" grows 1 "$V6"
	check "$1/undrain" lbctl_n 2 node undrain
	check "$1/undrained_node_announced" wait_for 50 all_routed $E_VIP4
	check "$1/undrained_node_announced_v6" wait_for 50 all_routed $E_VIP6
}

step_health() {
	local n
	for n in be1 be2 be3; do ecmp_echod_stop "$P" $n 8080; done
	check "$1/unhealthy_vip_withdrawn" wait_for 50 no_route $E_VIP4B
	check "$1/healthy_vips_kept" all_routed $E_VIP4
	ecmp_echod_start "$P" "$BUILD/echod" be1 8080
	check "$1/recovered_vip_announced" wait_for 50 all_routed $E_VIP4B
	ecmp_echod_start "$P" "$BUILD/echod" be2 8080 && ecmp_echod_start "$P" "$BUILD/echod" be3 8080
}

# lbd on node 1: SIGTERM, start (adopting), SIGKILL, start; the router's
# route is polled every 20 ms throughout and must never lose node 1
step_restart() {
	local stopf=$TMP/poll.stop lostf=$TMP/poll.lost poller
	rm -f "$stopf" "$lostf"
	(
		for ((k = 0; k < 3000; k++)); do
			[ -e "$stopf" ] && break
			routed $E_VIP4 1 && routed $E_VIP6 1 || echo "$(ms)" >>"$lostf"
			sleep 0.02
		done
	) &
	poller=$!
	check "$1/lbd_sigterm" lbd_stop 1 TERM
	check "$1/routes_kept_after_sigterm" table_holds 1 $E_VIP4 $E_VIP6 $E_VIP4B
	check "$1/lbd_adopts" lbd_start 1
	sleep 1
	check "$1/lbd_sigkill" lbd_stop 1 KILL
	check "$1/routes_kept_after_sigkill" table_holds 1 $E_VIP4 $E_VIP6 $E_VIP4B
	check "$1/lbd_adopts_again" lbd_start 1
	sleep 2
	touch "$stopf"
	wait $poller
	check "$1/route_kept_through_restarts" test ! -e "$lostf"
	window
	check "$1/talking_after_restarts" talking
}

round() { # round restore|commands
	local r=$1 f
	check "$r/configured" configure "$r"
	check "$r/announced_v4" wait_for 100 all_routed $E_VIP4
	check "$r/announced_v6" wait_for 100 all_routed $E_VIP6
	check "$r/talk_started" talk_start
	sleep 2
	check "$r/opened_v4" opened_all "$TMP/talk4"
	check "$r/opened_v6" opened_all "$TMP/talk6"
	step_both_nodes "$r"
	step_node_dies "$r"
	step_drain "$r"
	step_health "$r"
	step_restart "$r"
	talk_stop
	for f in 4 6; do
		read -r _ o _ b _ m _ g _ a <"$TMP/talk$f"
		echo "# $r: IPv$f opened $o broken $b moved $m longest gap $g ms answered $a" \
			"(broken by: $(awk '/^conn/ && $8 == "broken" { w[$NF]++ }
				END { for (k in w) { printf "%s%s %d", sep, k, w[k]; sep = ", " } }' "$TMP/talk$f"))"
		cp "$TMP/talk$f" "$BUILD/test_ecmp-$r-talk$f.txt" 2>/dev/null
	done
	unconfigure
}

main() {
	setup || { fail setup "cannot build the ECMP lab"; summary; exit 1; }
	round restore
	round commands
	check lbd_sanitizers_clean bash -c "! cat $TMP/lb*.log | grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:'"
	summary
}
main
