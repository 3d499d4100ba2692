#!/usr/bin/env bash
# test_flowsync.sh - flow sync between LB nodes (lbd --sync-key/--sync-peer,
# userspace/flowsync.c) on the ECMP lab's fabric (tools/lab/ecmp.sh)
# without BGP: the router's static route for the VIPs names one node at a
# time, so every move of the connections from node to node is the test's
# own.  Node 2 builds its configuration in another order than node 1 (its
# backend ids differ: sync speaks addresses), a backend is added after the
# first connections and before the second batch (a ring change that moves
# slots), and the connections move lb1 -> lb2, to lb3 joining, and to lb2
# restarted without its pinned maps; each move must break and move nothing
# and cost the receiving node no non-SYN miss.  Also: the join waits for a
# peer's table before announcing, a peer's loss and return, messages with a
# wrong key, replays and garbage counted and dropped, bad options refused,
# /metrics and `lbctl sync show`.
source "$(dirname "$0")/lib.sh"
source "$ROOT/tools/lab/ecmp.sh"

V4="$E_VIP4:80/tcp" V6="[$E_VIP6]:80/tcp"
CHECK="check tcp interval 200ms timeout 200ms fall 2 rise 2"
KEY=$TMP/sync.key
N=40 # connections per family and batch
declare -A LBD
TALKS=()

lbctl_n() { local i=$1; shift; "$SAN/lbctl" -s "$TMP/lb$i.sock" "$@"; }
peers_of() { # peers_of NODE NODES...: --sync-peer for every other node
	local i=$1 j
	shift
	for j in "$@"; do [ "$j" = "$i" ] || echo "--sync-peer $(e_lb4 "$j")"; done
}
# lbd_start NODE [ARGS...]: lbd on lbNODE with flow sync; waits for its socket
lbd_start() {
	local i=$1
	shift
	rm -f "$TMP/lb$i.sock"
	ip netns exec "$P-lb$i" "$SAN/lbd" --iface eth0 --xdp-mode native --socket "$TMP/lb$i.sock" \
		--state "$TMP/lb$i.state" --pin "$PIN/lb$i" --metrics "127.0.0.1:$((9480 + i))" \
		--sync-key "$KEY" "$@" 2>>"$TMP/lb$i.log" &
	LBD[$i]=$!
	wait_for 150 test -S "$TMP/lb$i.sock" && wait_for 50 lbctl_n "$i" vip show
}
lbd_stop() { kill -TERM "${LBD[$1]}" 2>/dev/null; wait "${LBD[$1]}" 2>/dev/null; }

# configure NODE ORDER: the VIPs with backends be1, be2 (ORDER fwd) or
# be2, be1 behind a VIP that takes ids first (ORDER rev)
configure() {
	local i=$1 b bs="0 1"
	if [ "$2" = rev ]; then
		bs="1 0"
		lbctl_n $i vip add 10.99.1.150:81/tcp method l2 &&
			lbctl_n $i backend add 10.99.1.150:81/tcp "${E_BE4[2]}" || return 1
	fi
	lbctl_n $i vip add "$V4" method l2 $CHECK && lbctl_n $i vip add "$V6" method l2 $CHECK || return 1
	for b in $bs; do
		lbctl_n $i backend add "$V4" "${E_BE4[$b]}" && lbctl_n $i backend add "$V6" "${E_BE6[$b]}" ||
			return 1
	done
}
add_be3() { lbctl_n $1 backend add "$V4" "${E_BE4[2]}" && lbctl_n $1 backend add "$V6" "${E_BE6[2]}"; }
serving() { lbctl_n $1 -j vip show | grep -q '"up":3'; } # serving NODE: all three backends up

# route_to NODE: the router sends both VIPs to lbNODE
route_to() {
	ip -n "$P-rt" route replace $E_VIP4/32 via "$(e_lb4 "$1")" &&
		ip -n "$P-rt" -6 route replace $E_VIP6/128 via "$(e_lb6 "$1")"
}

# talk_batch NAME: N connections per family from the 20 client addresses
talk_batch() {
	local a4=() a6=() a f
	for a in $(e_cl4s); do a4+=(-s "$a"); done
	for a in $(e_cl6s); do a6+=(-s "$a"); done
	ip netns exec "$P-cl" "$BUILD/talk" "${a4[@]}" -n $N -i 100 -t 3000 -d 600 -r "$TMP/$1.4" $E_VIP4 80 &
	TALKS+=($!)
	ip netns exec "$P-cl" "$BUILD/talk" "${a6[@]}" -n $N -i 100 -t 3000 -d 600 -r "$TMP/$1.6" $E_VIP6 80 &
	TALKS+=($!)
	for f in 4 6; do
		wait_for 50 grep -q "^opened $N " "$TMP/$1.$f" || return 1
	done
}
# field REPORT NAME: a figure of talk's first line
field() { head -n1 "$1" | awk -v k="$2" '{ for (i = 1; i < NF; i++) if ($i == k) print $(i + 1) }'; }
# calm: no connection of any batch broken or moved; prints the figures
calm() {
	local r bad=0 b m
	for r in "$TMP"/b*.4 "$TMP"/b*.6; do
		b=$(field "$r" broken) m=$(field "$r" moved)
		[ "$b" = 0 ] && [ "$m" = 0 ] || { echo "# $(basename "$r"): broken $b moved $m"; bad=1; }
	done
	return $bad
}
answers() { cat "$TMP"/b*.4 "$TMP"/b*.6 | awk '/^conn/ { s += $14 } END { print s + 0 }'; }
talking() { # the connections got answers in the last second
	local a0 a1
	a0=$(answers) && sleep 1 && a1=$(answers) && [ "$a1" -gt "$a0" ]
}
stat_of() { lbctl_n $1 -j stats | python3 -c 'import json,sys; print(json.load(sys.stdin)["global"][sys.argv[1]])' "$2"; }
sync_field() { # sync_field NODE KEY [PEER]: a figure of `lbctl -j sync show`
	lbctl_n $1 -j sync show | python3 -c '
import json, sys
s = json.load(sys.stdin)
if sys.argv[2]:
    s = [p for p in s["peers"] if p["peer"].startswith(sys.argv[2] + ":")][0]
v = s[sys.argv[1]]
print(str(v).lower())' "$2" "${3:-}"
}
# sync_is NODE PEER KEY VALUE / sync_ge NODE PEER KEY N: evaluated at each
# call, for wait_for (PEER "" for the node's own figures)
sync_is() { [ "$(sync_field "$1" "$3" "$2")" = "$4" ]; }
sync_ge() { [ "$(sync_field "$1" "$3" "$2")" -ge "$4" ]; }
rejected() { # rejected NODE REASON: messages refused for REASON
	lbctl_n $1 -j sync show | python3 -c 'import json,sys; print(json.load(sys.stdin)["messages_rejected"][sys.argv[1]])' "$2"
}
rejected_ge() { [ "$(rejected "$1" "$2")" -ge "$3" ]; }
established() { # established NODE: flows in the established table, all families
	lbctl_n $1 -j flows | python3 -c 'import json,sys; print(json.load(sys.stdin)["established"])'
}
# moved_ok NODE: the connections moved to NODE: none broken or moved, still
# talking, and NODE met none of them as an unknown flow
moved_ok() {
	local i=$1 name=$2 miss0
	miss0=$(stat_of "$i" flow_miss_nonsyn)
	sleep 2
	check "$name/talking" talking
	check "$name/none_broken_or_moved" calm
	check "$name/no_nonsyn_miss" test "$(stat_of "$i" flow_miss_nonsyn)" = "$miss0"
}

setup() {
	local i
	umask 077
	head -c 32 /dev/urandom | base64 >"$KEY"
	ecmp_topology "$P" "$BUILD/bpf/xdp_pass.bpf.o" 2 || return 1
	mkdir -p "$PIN" && mount -t bpf bpf "$PIN" || return 1 # LAB.md trap 3
	ecmp_backends_start "$P" "$BUILD/echod" || return 1
	for i in 1 2; do lbd_start $i $(peers_of $i 1 2) || return 1; done
	configure 1 fwd && configure 2 rev
}

test_options() {
	local out
	out=$("$SAN/lbd" --iface lo --sync-peer 10.0.0.1 2>&1)
	check opt_peer_needs_key test $? = 2 -a -n "$(echo "$out" | grep -- --sync-key)"
	"$SAN/lbd" --iface lo --sync-key "$KEY" --sync-peer 10.0.0.1:99999 >/dev/null 2>&1
	check opt_bad_peer_port test $? = 2
	"$SAN/lbd" --iface lo --sync-key "$KEY" --sync-peer not-an-address >/dev/null 2>&1
	check opt_bad_peer_address test $? = 2
	cp "$KEY" "$TMP/open.key" && chmod 644 "$TMP/open.key"
	out=$(ip netns exec "$P-be1" "$SAN/lbd" --iface eth0 --socket "$TMP/x.sock" --state "$TMP/x.state" \
		--pin "$PIN/x" --metrics none --sync-key "$TMP/open.key" 2>&1)
	check opt_world_readable_key_refused test $? -ne 0 -a -n "$(echo "$out" | grep 'chmod 600')"
	check opt_refused_key_left_nothing test ! -e "$PIN/x/eth0"
	printf short >"$TMP/short.key"
	out=$(ip netns exec "$P-be1" "$SAN/lbd" --iface eth0 --socket "$TMP/x.sock" --state "$TMP/x.state" \
		--pin "$PIN/x" --metrics none --sync-key "$TMP/short.key" 2>&1)
	check opt_short_key_refused test $? -ne 0 -a -n "$(echo "$out" | grep 'too short')"
}

test_peers_up() {
	check peers_up_1 wait_for 30 sync_is 1 "$(e_lb4 2)" up true
	check peers_up_2 wait_for 30 sync_is 2 "$(e_lb4 1)" up true
	check sync_show_text bash -c "'$SAN/lbctl' -s '$TMP/lb1.sock' sync show | grep -q '^$(e_lb4 2):6078 *up'"
	check both_serving wait_for 50 bash -c "'$SAN/lbctl' -s '$TMP/lb1.sock' -j vip show | grep -q '\"up\":2' &&
		'$SAN/lbctl' -s '$TMP/lb2.sock' -j vip show | grep -q '\"up\":2'"
}

# batch 1 through lb1; be3 added (a ring change); batch 2 through lb1;
# then everything moves to lb2
test_move() {
	local e
	check route_lb1 route_to 1
	check batch1 talk_batch b1
	check add_be3_lb1 add_be3 1
	check add_be3_lb2 add_be3 2
	check be3_up wait_for 50 serving 1 && check be3_up_lb2 wait_for 50 serving 2
	check batch2 talk_batch b2
	sleep 1
	e=$(established 2)
	echo "# lb2 holds $e established flows before any packet reached it ($((4 * N)) connections)"
	check lb2_knows_every_flow test "$e" -ge $((4 * N))
	check lb2_applied_from_lb1 test "$(sync_field 2 flows_applied "$(e_lb4 1)")" -ge $((4 * N))
	check lb2_rejected_none test "$(sync_field 2 flows_rejected)" = 0
	check lb2_flows_marked_synced bash -c "'$SAN/lbctl' -s '$TMP/lb2.sock' -j flows | grep -q '\"origin\":\"synced\"'"
	check route_lb2 route_to 2
	moved_ok 2 to_lb2
	check lb1_idle_after_move test "$(stat_of 1 flow_hit)" = "$(sleep 1; stat_of 1 flow_hit)"
}

# lb3 joins with --announce-table: it announces only after a peer's table,
# then the connections move to it
test_join() {
	local t
	check lb3_added ecmp_node_add "$P" 3 "$BUILD/bpf/xdp_pass.bpf.o"
	check lb3_started lbd_start 3 $(peers_of 3 1 2 3) --announce-table 100
	check lb3_learned_by_lb1 wait_for 30 sync_is 1 "$(e_lb4 3)" up true
	check lb3_configured configure 3 fwd
	check lb3_be3 add_be3 3
	check lb3_announced wait_for 100 bash -c "ip -n $P-lb3 route show table 100 | grep -q $E_VIP4"
	t=$(sync_field 3 tables_received)
	check lb3_table_before_announcing test "$t" -ge 1
	check lb3_knows_every_flow test "$(established 3)" -ge $((4 * N))
	check route_lb3 route_to 3
	moved_ok 3 to_lb3
}

# lb2 loses its pinned maps (lbd --detach, then a fresh start): it takes
# the table from its peers before it announces, then the connections move back
test_fresh_restart() {
	lbd_stop 2
	check lb2_detached ip netns exec "$P-lb2" "$SAN/lbd" --iface eth0 --pin "$PIN/lb2" --detach
	rm -f "$TMP/lb2.state"
	check lb2_fresh_start lbd_start 2 $(peers_of 2 1 2 3) --announce-table 100
	check lb2_reconfigured configure 2 rev
	check lb2_be3 add_be3 2
	check lb2_announced wait_for 100 bash -c "ip -n $P-lb2 route show table 100 | grep -q $E_VIP4"
	check lb2_relearned_every_flow test "$(established 2)" -ge $((4 * N))
	check route_lb2_again route_to 2
	moved_ok 2 to_fresh_lb2
}

# lb1's link down: its peers see it go, and send it their tables when it is back
test_peer_loss() {
	local sent0
	sent0=$(sync_field 2 tables_sent "$(e_lb4 1)")
	ip -n "$P-rt" link set lb1 down
	check peer_down_seen wait_for 60 sync_is 2 "$(e_lb4 1)" up false
	check batch3_while_lb1_away talk_batch b3
	ip -n "$P-rt" link set lb1 up
	check peer_back_seen wait_for 60 sync_is 2 "$(e_lb4 1)" up true
	check peer_back_sent_table wait_for 30 sync_ge 2 "$(e_lb4 1)" tables_sent $((sent0 + 1))
	sleep 1
	check route_lb1_again route_to 1
	moved_ok 1 back_to_lb1
}

# messages that must be dropped and counted: garbage, a wrong key, a replay
test_bad_messages() {
	local fmt0 mac0 rep0
	fmt0=$(rejected 1 format) mac0=$(rejected 1 mac)
	ip netns exec "$P-be1" python3 - "$(e_lb4 1)" <<'EOF'
import os, socket, struct, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
dst = (sys.argv[1], 6078)
for n in (0, 1, 39, 72, 1500, 65000):           # garbage of every size
    s.sendto(os.urandom(n), dst)
# well-formed header and one entry, MAC of another key
hdr = struct.pack("!IBBHIIQQQ", 0x584c4253, 1, 2, 1, 0, 0, 7, 1, int(time.time() * 1000))
s.sendto(hdr + bytes(56) + os.urandom(32), dst)
s.sendto(struct.pack("!IBBHIIQQQ", 0x584c4253, 1, 9, 0, 0, 0, 7, 2, 0) + bytes(32), dst)  # bad type
EOF
	check garbage_counted wait_for 20 rejected_ge 1 format $((fmt0 + 7))
	check wrong_key_counted wait_for 20 rejected_ge 1 mac $((mac0 + 1))
	check no_peer_learned_from_bad_messages test "$(lbctl_n 1 -j sync show | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["peers"]))')" = 2
	# a replay: capture one of lb2's messages to lb1 and send it again from lb2's address
	rep0=$(rejected 1 replay)
	ip netns exec "$P-lb2" timeout 5 python3 - "$(e_lb4 1)" <<'EOF'
import socket, subprocess, sys
# read one of lb2's own hellos off the wire (lb1 got it already), then replay it
r = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))  # ETH_P_ALL: sent frames too
r.bind(("eth0", 0))
while True:
    f, a = r.recvfrom(2048)
    if a[2] != socket.PACKET_OUTGOING or f[12:14] != b"\x08\x00" or f[23] != 17:
        continue
    ihl = (f[14] & 15) * 4
    udp = f[14 + ihl:]
    if int.from_bytes(udp[2:4], "big") == 6078:
        break
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.sendto(udp[8:], (sys.argv[1], 6078))
EOF
	check replay_counted wait_for 20 rejected_ge 1 replay $((rep0 + 1))
	check lbd_alive_after_bad_messages lbctl_n 1 sync show
}

test_metrics() {
	local m
	m=$(ip netns exec "$P-lb1" curl -s "http://127.0.0.1:9481/metrics")
	check metric_peer_up grep -q "^xdplb_sync_peer_up{peer=\"$(e_lb4 2):6078\"} 1" <<<"$m"
	check metric_flows_sent grep -qE '^xdplb_sync_flows_sent_total [1-9]' <<<"$m"
	check metric_flows_applied grep -qE '^xdplb_sync_flows_applied_total [1-9]' <<<"$m"
	check metric_rejected_reason grep -q '^xdplb_sync_messages_rejected_total{reason="mac"}' <<<"$m"
	check metric_sync_lost_zero grep -q '^xdplb_flow_table_events_total{event="sync_lost"} 0' <<<"$m"
}

main() {
	setup || { fail setup "cannot build the lab"; summary; exit 1; }
	test_options
	test_peers_up
	test_move
	test_join
	test_fresh_restart
	test_peer_loss
	test_bad_messages
	test_metrics
	kill -TERM "${TALKS[@]}" 2>/dev/null
	wait "${TALKS[@]}" 2>/dev/null
	check lbd_sanitizers_clean bash -c "! cat $TMP/lb*.log | grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:'"
	summary
}
main
