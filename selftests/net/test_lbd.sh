#!/usr/bin/env bash
# test_lbd.sh - lbd and lbctl (ASan + UBSan builds) in an l2 lab: traffic
# in native and generic mode, health checks moving the ring, neighbour MAC
# changes, restart with adoption, SIGKILL during changes, --detach, the
# control socket under abuse, a second lbd on the
# same pin directory refused, and lbctl's error contract.
source "$(dirname "$0")/lib.sh"

VIP=$VIP4:80/tcp

backends_seen() { # N source ports from 30000+$1: the distinct backends that answered
	local base=$1 i
	for ((i = 0; i < $2; i++)); do ask $VIP4 80 $((base + i)); done | sort -u | tr '\n' ' '
}

test_cli() {
	local out st
	out=$("$SAN/lbctl" -s "$TMP/none.sock" vip show 2>&1); st=$?
	check cli_not_running test $st -eq 1 -a "${out#lbctl: }" != "$out" -a "${out/none.sock/}" != "$out"
	"$SAN/lbctl" -s "$SOCK" vip add 10.0.0.1:99999/tcp 2>/dev/null; st=$?
	check cli_bad_usage_exit2 test $st -eq 2
	out=$(lbctl vip add $VIP 2>&1); st=$?
	check cli_refused_exit1 test $st -eq 1 -a "$out" = "lbctl: VIP $VIP already exists"
	check cli_help bash -c "'$SAN/lbctl' vip help | grep -q 'vip add'"
}

test_traffic() { # test_traffic MODE PORTBASE (fresh client ports: no TIME_WAIT clash)
	local seen
	seen=$(backends_seen "$2" 40)
	check "traffic_$1_all_backends" test "$seen" = "be1 be2 be3 " ||
		{ lbctl vip show; lbctl stats; tail -5 "$TMP/lbd.log"; nsx lb ip -d link show eth0; nsx lb ip neigh; }
	check "traffic_$1_non_vip_untouched" nsx cl ping -c1 -W2 $LB4
	check "traffic_$1_stats_counted" bash -c "'$SAN/lbctl' -s '$SOCK' -j stats | grep -q '\"new_flows\":[1-9]'"
}

test_non_vip_tcp() { # an SSH-like connection to the LB's own address while it forwards
	nsx lb socat -T 10 TCP-LISTEN:2222,reuseaddr SYSTEM:'echo lb-sshd; cat' >/dev/null 2>&1 &
	wait_for 50 bash -c "ip netns exec $P-lb ss -Hltn 'sport = :2222' | grep -q ."
	check non_vip_tcp_to_lb test "$(echo | nsx cl timeout 3 socat -T 2 - TCP:$LB4:2222 | head -n1)" = lb-sshd
}

test_restart_under_load() { # requests run while lbd is stopped, killed and restarted
	local log=$TMP/load.out i
	(for i in $(seq 0 79); do r=$(ask $VIP4 80 $((34000 + i))); echo "${r:-FAILED}"; sleep 0.05; done >"$log") &
	local load=$!
	sleep 0.5; stop_lbd TERM; sleep 0.5; start_lbd
	sleep 0.3; stop_lbd KILL; sleep 0.3; start_lbd
	wait $load
	check restart_under_load_zero_failed test "$(grep -c FAILED "$log")" = 0 -a "$(wc -l <"$log")" = 80
}

test_corrupt_state() {
	local out st
	stop_lbd TERM
	cp "$STATE" "$TMP/state.good"
	printf 'vip add 10.99.9.9:80/tcp\nbackend add 10.99.9.9:80/tcp 10.99.0.11 weight lots\n' >>"$STATE"
	out=$(ip netns exec "$P-lb" "$SAN/lbd" --iface eth0 --socket "$SOCK" --state "$STATE" --pin "$PIN" 2>&1); st=$?
	check corrupt_state_refused test $st -ne 0
	check corrupt_state_names_line grep -q "line $(wc -l <"$TMP/state.good" | awk '{print $1 + 2}')" <<<"$out"
	check corrupt_state_forwarding_on test "$(ask $VIP4 80 35000)" != ""
	cp "$TMP/state.good" "$STATE"
	start_lbd
}

test_auto_fallback() { # a bridge device has no native XDP (no dummy module here): auto falls back, and says why
	local d=$TMP/fallback
	mkdir -p "$d"
	nsx lb ip link add xbr0 type bridge && nsx lb ip link set xbr0 up
	nsx lb "$SAN/lbd" --iface xbr0 --socket "$d/sock" --state "$d/state" --pin "$PIN" \
		--metrics none 2>"$d/log" &
	local pid=$!
	wait_for 50 test -S "$d/sock"
	check auto_fallback_warns grep -q "falling back to generic" "$d/log" || cat "$d/log"
	check auto_fallback_generic bash -c "ip -n $P-lb -d link show xbr0 | grep -q xdpgeneric"
	kill $pid; wait $pid
	check auto_fallback_detach nsx lb "$SAN/lbd" --iface xbr0 --pin "$PIN" --detach
	nsx lb ip link del xbr0
}

test_health() {
	local lookups
	lbctl vip add $VIP4:81/tcp check tcp interval 200ms timeout 200ms fall 2 rise 2 || return
	for b in "${BE4[@]}"; do lbctl backend add $VIP4:81/tcp $b; done
	for n in be1 be2 be3; do serve $n 81; done
	check health_all_up wait_for 30 bash -c "[ \$('$SAN/lbctl' -s '$SOCK' vip show $VIP4:81/tcp | grep -c ' up ') = 3 ]"
	stop_serve be2 81
	check health_down_detected wait_for 20 bash -c "'$SAN/lbctl' -s '$SOCK' vip show $VIP4:81/tcp | grep ${BE4[1]} | grep -q down"
	sleep 0.3
	lookups=$(for p in $(seq 40000 40060); do lbctl flow lookup $VIP4:81/tcp $CL4:$p; done | sort | uniq -c)
	check health_down_out_of_ring bash -c "! grep -q '${BE4[1]} ' <<<'$lookups'"
	serve be2 81
	check health_up_again wait_for 30 bash -c "'$SAN/lbctl' -s '$SOCK' vip show $VIP4:81/tcp | grep ${BE4[1]} | grep -q ' up '"
	sleep 0.3
	lookups=$(for p in $(seq 40000 40060); do lbctl flow lookup $VIP4:81/tcp $CL4:$p; done)
	check health_up_back_in_ring grep -q "${BE4[1]} " <<<"$lookups"
}

test_neigh() {
	local mac=02:aa:bb:cc:dd:01 seen
	nsx be1 ip link set eth0 address $mac # arp_notify: a gratuitous ARP follows
	check neigh_mac_followed wait_for 10 bash -c "'$SAN/lbctl' -s '$SOCK' vip show $VIP | grep ${BE4[0]} | grep -q $mac"
	seen=$(backends_seen 31000 30)
	check neigh_traffic_follows grep -q be1 <<<"$seen"
}

# restarted NAME WHY: lbd started again; if it does not come, NAME fails,
# the test's connection (fd 7, process $pid) ends and lbd gets one more try
restarted() {
	start_lbd && return 0
	fail "$1" "$2"
	exec 7>&-
	kill $pid 2>/dev/null
	start_lbd
	return 1
}

test_restart() {
	local before after pid fifo=$TMP/conn
	mkfifo "$fifo"
	# a long connection through the LB, written to before, during and after
	(sleep 60 >"$fifo") & pid=$!
	nsx cl socat -T 60 "TCP:$VIP4:80,bind=:32000" - <"$fifo" >"$TMP/conn.out" 2>/dev/null &
	exec 7>"$fifo"
	echo one >&7
	before=$(lbctl save)
	check restart_flow_learned wait_for 20 bash -c "'$SAN/lbctl' -s '$SOCK' flows | grep -q ' 32000 '"
	check restart_sigterm_exit0 stop_lbd TERM
	check restart_forwarding_while_down test "$(ask $VIP4 80 32001)" != ""
	check restart_xdp_still_attached bash -c "ip -n $P-lb -d link show eth0 | grep -q prog/xdp"
	check restart_pins_present test -e "$PIN/eth0/link" -a -e "$PIN/eth0/prog" -a -e "$PIN/eth0/flows4"
	echo two >&7
	restarted restart_start "lbd did not come back" || return
	after=$(lbctl save)
	check restart_config_restored test "$before" = "$after"
	check restart_flow_table_adopted bash -c "'$SAN/lbctl' -s '$SOCK' flows | grep -q ' 32000 '"
	echo three >&7
	check restart_connection_survived wait_for 20 bash -c "grep -q three '$TMP/conn.out' && grep -q one '$TMP/conn.out'"
	stop_lbd KILL
	restarted restart_after_kill "lbd did not come back after SIGKILL" || return
	echo four >&7
	check restart_after_sigkill wait_for 20 grep -q four "$TMP/conn.out"
	# an upgrade that adds a map: the pinned datapath lacks it, and is adopted
	# anyway; a map an earlier version pinned and this one replaced (the
	# half-open LRU tables, now halfopen4/6) is unpinned
	stop_lbd TERM
	rm -f "$PIN/eth0/flow_events"
	bpftool map create "$PIN/eth0/flows4_new" type hash key 16 value 40 entries 16 name flows4_new
	restarted restart_partial_pins "lbd did not start over a datapath without flow_events" || return
	check partial_pins_adopted grep -q 'adopting the pinned datapath .*(with maps new to this version' "$TMP/lbd.log"
	check partial_pins_map_created test -e "$PIN/eth0/flow_events"
	check partial_pins_retired_unpinned test ! -e "$PIN/eth0/flows4_new"
	check partial_pins_config_kept test "$before" = "$(lbctl save)"
	check partial_pins_flow_kept bash -c "'$SAN/lbctl' -s '$SOCK' flows | grep -q ' 32000 '"
	echo five >&7
	check partial_pins_connection_survived wait_for 20 grep -q five "$TMP/conn.out"
	exec 7>&-
	kill $pid 2>/dev/null
}

test_kill_during_changes() {
	local i k n pref ok=1
	local burst
	for round in 1 2 3; do
		(for i in $(seq 1 60); do "$SAN/lbctl" -s "$SOCK" backend add $VIP 10.99.0.$((100 + i)) 2>/dev/null || break; done) &
		burst=$!
		sleep 0.$((RANDOM % 5 + 2))
		stop_lbd KILL
		wait $burst
		# the state file is exactly some prefix of the sequence of changes
		n=$(grep -c '^backend add .* 10\.99\.0\.1[0-9][0-9] ' "$STATE")
		pref=$(grep -o '10\.99\.0\.1[0-9][0-9] ' "$STATE" | sort -t. -k4 -n | tr -d ' ' | tr '\n' ' ')
		k=$(for i in $(seq 1 "$n"); do echo -n "10.99.0.$((100 + i)) "; done)
		[ "$pref" = "$k" ] || ok=0
		start_lbd || { ok=0; break; }
		for i in $(seq 1 60); do lbctl backend del $VIP 10.99.0.$((100 + i)) 2>/dev/null; done
	done
	check kill_during_changes_state_whole test $ok = 1
}

# lbctl_as GROUP OUT: `lbctl vip show` as the real user nobody with only
# GROUP, output to OUT; returns lbctl's status.  $TMP is opened to others
# (711: entered, not listed) for the call.
lbctl_as() {
	local st
	chmod 711 "$TMP"
	setpriv --reuid=nobody --regid="$1" --clear-groups "$BUILD/lbctl" -s "$SOCK" vip show \
		>"$2" 2>&1
	st=$?
	chmod 700 "$TMP"
	return $st
}

test_ctl_abuse() {
	local i pids=() t0 t1
	head -c 4096 /dev/urandom | tr -d '\0' | timeout 5 socat - "UNIX-CONNECT:$SOCK" >"$TMP/garbage.out" 2>/dev/null
	check ctl_garbage_answered grep -q '^error ' "$TMP/garbage.out"
	head -c 1048576 /dev/zero | tr '\0' a | timeout 10 socat - "UNIX-CONNECT:$SOCK" >"$TMP/big.out" 2>/dev/null
	check ctl_1mib_line_refused grep -q '^error ' "$TMP/big.out"
	for ((i = 0; i < 300; i++)); do
		sleep 20 | socat - "UNIX-CONNECT:$SOCK" >/dev/null 2>&1 &
		pids+=($!)
	done
	sleep 1
	t0=$(date +%s%N)
	check ctl_answers_with_300_idle lbctl vip show $VIP
	t1=$(date +%s%N)
	check ctl_answer_quick test $(((t1 - t0) / 1000000)) -lt 2000
	kill "${pids[@]}" 2>/dev/null
	pkill -f "UNIX-CONNECT:$SOCK" 2>/dev/null
	check ctl_socket_mode_0600 test "$(stat -c %a "$SOCK")" = 600
	# a real unprivileged user: the directory may be entered, the socket
	# itself (0600, root) must refuse, with a message that says so
	lbctl_as nogroup "$TMP/nobody.out"
	check ctl_unprivileged_exit1 test $? -eq 1
	check ctl_unprivileged_refused grep -q "^lbctl: permission denied on $SOCK: lbd's socket is for root only" "$TMP/nobody.out"
}

# --socket-group: the socket becomes 0660 with that group; a member's
# lbctl works, anyone else is still refused; an unknown group stops lbd
# before it touches anything.
test_socket_group() {
	local out
	out=$(timeout 10 ip netns exec "$P-lb" "$SAN/lbd" --iface eth0 --socket "$TMP/g.sock" \
		--state "$TMP/g.state" --pin "$PIN" --socket-group no-such-group-xlb 2>&1)
	check socket_group_unknown_exit2 test $? -eq 2
	check socket_group_unknown_said grep -q 'socket-group: no group "no-such-group-xlb"' <<<"$out"
	check socket_group_unknown_no_socket test ! -e "$TMP/g.sock"
	check socket_group_stop stop_lbd TERM
	check socket_group_start start_lbd --xdp-mode native --socket-group nogroup
	check socket_group_mode test "$(stat -c '%a %G' "$SOCK")" = "660 nogroup"
	lbctl_as nogroup "$TMP/member.out"
	check socket_group_member_allowed grep -q "$VIP" "$TMP/member.out"
	lbctl_as daemon "$TMP/other.out"
	check socket_group_other_exit1 test $? -eq 1
	check socket_group_other_refused grep -q "permission denied on $SOCK" "$TMP/other.out"
}

test_detach() {
	check detach_sigterm stop_lbd TERM
	check detach_runs nsx lb "$SAN/lbd" --iface eth0 --pin "$PIN" --detach
	check detach_no_xdp bash -c "! ip -n $P-lb -d link show eth0 | grep -q prog/xdp"
	check detach_nothing_pinned test ! -e "$PIN/eth0"
}

test_two_lbd() { # a second lbd on the same pin directory is refused, the first goes on; SIGKILL frees the lock
	local out st
	out=$(timeout 30 ip netns exec "$P-lb" "$SAN/lbd" --iface eth0 --socket "$TMP/second.sock" \
		--state "$TMP/second.state" --pin "$PIN" --metrics none 2>&1); st=$?
	check second_lbd_refused test $st -eq 1 -a "${out/another lbd already runs on eth0/}" != "$out" ||
		echo "exit $st: $out"
	check second_lbd_no_socket test ! -e "$TMP/second.sock"
	check second_lbd_first_alive kill -0 "$LBD_PID"
	check second_lbd_first_serves test "$(backends_seen 36000 20)" = "be1 be2 be3 "
	stop_lbd KILL
	check second_lbd_after_kill_starts start_lbd
}

main() {
	if [ -n "${ONLY:-}" ]; then # ONLY="fn ...": a quick run of some parts
		lab_l2 && for n in be1 be2 be3; do serve $n 80; done
		start_lbd --xdp-mode native && lbctl vip add $VIP && for b in "${BE4[@]}"; do lbctl backend add $VIP $b; done
		for f in $ONLY; do $f; done
		summary
		return
	fi
	lab_l2 || { fail lab "cannot build the lab"; summary; exit 1; }
	for n in be1 be2 be3; do serve $n 80; done
	start_lbd --xdp-mode native || { fail start "lbd did not start"; cat "$TMP/lbd.log"; summary; exit 1; }
	lbctl vip add $VIP && for b in "${BE4[@]}"; do lbctl backend add $VIP $b; done
	test_cli
	test_traffic native 30000
	test_health
	test_neigh
	test_non_vip_tcp
	test_auto_fallback
	test_restart
	test_restart_under_load
	test_corrupt_state
	test_kill_during_changes
	test_ctl_abuse
	test_two_lbd
	test_socket_group
	test_detach
	# generic mode: the same traffic checks
	start_lbd --xdp-mode generic || fail generic_start "lbd did not start in generic mode"
	test_traffic generic 33000
	stop_lbd TERM
	check lbd_sanitizers_clean lbd_log_clean
	grep -E "Sanitizer|runtime error" -A5 "$TMP/lbd.log" | head -40
	summary
}

main
