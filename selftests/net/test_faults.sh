#!/usr/bin/env bash
# test_faults.sh - lbd (ASan + UBSan build) under faults, in namespaces:
#   1. SIGKILL at random points of `lbctl restore` of 1,000 backends, 20
#      times: after each restart the configuration is exactly the old or the
#      new one, and a client sending to a VIP of both configurations never
#      misses an answer (the pinned datapath forwards while lbd is dead);
#   2. the state directory full, then read-only (a small tmpfs): changes
#      are refused with the reason, and the configuration, the state file
#      and the datapath maps stay as they were;
#   3. no bpffs at --pin, a missing interface, the interface removed while
#      lbd runs, no native XDP, no kernel BTF: a clear message (asserted)
#      and exit status 1 where lbd cannot run, never a sanitizer report.
source "$(dirname "$0")/lib.sh"

VA=$VIP4:7/udp  # in both configurations: the client's traffic goes here
VB=$VIP4:8/udp  # 1,000 backends of set 0 in one configuration, set 1 in the other
VB_MEMBER=(${BE4[0]} ${BE4[1]}) # the one backend of each set that resolves
KILLS=${KILLS:-20}
SD=$TMP/sd      # the state directory: a tmpfs of its own (case 2)
STATE=$SD/state
LBD_START_TENTHS=300
FLOWS=65536     # small flow tables: the machine is shared

faults_teardown() {
	[ -n "$LBD_PID" ] && kill -9 "$LBD_PID" 2>/dev/null
	mountpoint -q "$SD" && umount "$SD"
	teardown
}
trap faults_teardown EXIT

# UDP requests to ADDR:PORT, each from a new socket (a new flow, so the
# VIP's ring is read each time), a reply awaited TMO seconds: prints "OK
# FAILED".  COUNT 0: until the file STOP exists (at most 400 s).  Each
# answer "be<N> <seq>" is logged to LOG, each miss as "FAIL <seq>".
UDP_ASK='use Socket qw(:all);
my ($addr, $port, $count, $gap, $tmo, $stop, $log) = @ARGV;
open(my $l, ">>", $log) or die "udp_ask: $log: $!\n";
select((select($l), $| = 1)[0]);
my ($ok, $bad, $i, $end) = (0, 0, 0, time + 400);
my $dst = pack_sockaddr_in($port, inet_aton($addr));
while (($count ? $i < $count : !-e $stop) && time < $end) {
	$i++;
	socket(my $s, AF_INET, SOCK_DGRAM, 0) or die "udp_ask: socket: $!\n";
	send($s, "$i\n", 0, $dst);
	my ($rin, $got) = ("", "");
	vec($rin, fileno($s), 1) = 1;
	recv($s, $got, 1500, 0) if select(my $rout = $rin, undef, undef, $tmo) > 0;
	if ($got =~ /^(be\d) $i$/m) { $ok++; print $l "ok $i $1\n"; }
	else { $bad++; print $l "FAIL $i\n"; }
	close($s);
	select(undef, undef, undef, $gap);
}
print "$ok $bad\n";'
udp_ask() { # udp_ask COUNT LOG [STOPFILE]: prints "OK FAILED"
	nsx cl perl -e "$UDP_ASK" $VIP4 7 "$1" 0.02 3 "${3:-/nonexistent}" "$2"
}

# lbd in the LB namespace, waited for longer than start_lbd does: a state
# of 1,003 backends under ASan on a loaded machine.
lbd_up() {
	rm -f "$SOCK"
	ip netns exec "$P-lb" "$SAN/lbd" --iface eth0 --socket "$SOCK" --state "$STATE" \
		--pin "$PIN" --metrics none --flows $FLOWS "$@" 2>>"$TMP/lbd.log" &
	LBD_PID=$!
	wait_for $LBD_START_TENTHS test -S "$SOCK" && wait_for 100 lbctl vip show
}

gen_config() { # gen_config SET: VA with the three backends, VB with 1,000 of SET
	local i
	echo "vip add $VA check none"
	for i in "${BE4[@]}"; do echo "backend add $VA $i"; done
	echo "vip add $VB check none"
	echo "backend add $VB ${VB_MEMBER[$1]}"
	# 10.9x/16 has no route from the LB: these stay unresolved, out of the ring
	for ((i = 1; i < 1000; i++)); do
		echo "backend add $VB 10.$((96 + $1)).$((i / 250)).$((i % 250 + 1))"
	done
}

lbd_kill() { # SIGKILL, reaped quietly
	kill -9 "$LBD_PID" 2>/dev/null
	wait "$LBD_PID" 2>/dev/null
	LBD_PID=
}

# VB's ring in the datapath names ADDR (its one resolved backend) and
# nothing else: `flow lookup` reads the ring slot lbd wrote, and a stale
# backend id (of the other configuration) would print "none".
ring_is() {
	local want="$1 (from the ring)"
	wait_for 50 bash -c "for p in 40001 40002 40003; do [ \"\$('$SAN/lbctl' -s '$SOCK' flow lookup $VB $CL4:\$p)\" = '$want' ] || exit 1; done"
}

xdp_attached() { ip -n "$P-lb" -d link show eth0 | grep -q prog/xdp; }
ms_now() { echo $(($(date +%s%N) / 1000000)); }

# ---- 1. SIGKILL during restore ----

test_kill_during_restore() {
	local i t0 dur=999999 d cur new got rst st bad="" n_old=0 n_new=0 interrupted=0 mid=0
	local dead_fail=0 detached=0 load=$TMP/load.log stop=$TMP/load.stop res up_ms=""
	# the expected `lbctl save` of each, and how long a restore takes here
	# (the shortest of 4: kill points from 0 to it fall inside a restore)
	for i in 1 0 1 0; do
		t0=$(ms_now)
		lbctl restore "$TMP/cfg$i" || { fail restore_setup "restore of cfg$i refused"; return; }
		d=$(($(ms_now) - t0))
		[ $d -lt $dur ] && dur=$d
		lbctl save >"$TMP/exp$i"
	done
	check restore_setup test "$(grep -c '^backend add ' "$TMP/exp1")" = 1003
	echo "# restore of 1,000 backends (1,000 others removed): shortest of 4 took $dur ms (load $(cut -d' ' -f1 /proc/loadavg))"
	cur=0
	(udp_ask 0 "$load" "$stop" >"$TMP/load.res") &
	res=$!
	for ((i = 1; i <= KILLS; i++)); do
		new=$((1 - cur))
		(lbctl restore "$TMP/cfg$new" >/dev/null 2>&1; echo $? >"$TMP/rst") &
		rst=$!
		d=$((RANDOM % (dur + 1)))
		sleep "$(printf '%d.%03d' $((d / 1000)) $((d % 1000)))"
		lbd_kill
		wait $rst
		st=$(cat "$TMP/rst")
		if [ "$st" != 0 ]; then
			interrupted=$((interrupted + 1))
			# persisted, not answered: killed while deriving the maps
			cmp -s "$STATE" "$TMP/exp$new" && mid=$((mid + 1))
		fi
		# lbd is dead: the pinned datapath still forwards
		xdp_attached || detached=$((detached + 1))
		got=$(udp_ask 3 "$TMP/dead.log")
		[ "$got" = "3 0" ] || dead_fail=$((dead_fail + 1))
		t0=$(ms_now)
		if ! lbd_up; then
			bad+=" $i:no-restart"
			break
		fi
		up_ms+=" $(($(ms_now) - t0))"
		lbctl save >"$TMP/now"
		if cmp -s "$TMP/now" "$TMP/exp$new"; then
			n_new=$((n_new + 1))
			cur=$new
			ring_is "${VB_MEMBER[$cur]}" || bad+=" $i:ring-not-new"
		elif cmp -s "$TMP/now" "$TMP/exp$cur" && [ "$st" != 0 ]; then
			n_old=$((n_old + 1))
			ring_is "${VB_MEMBER[$cur]}" || bad+=" $i:ring-not-old"
		else
			bad+=" $i:$( [ "$st" = 0 ] && echo answered-ok-but-)$(cmp -s "$TMP/now" "$TMP/exp$cur" && echo old || echo neither)"
		fi
	done
	touch "$stop"
	wait $res
	echo "# $KILLS kills at 0-$dur ms: $interrupted before lbctl's answer ($mid of them with the new state file written); after restart $n_old old, $n_new new"
	echo "# lbd restarts (ms):$up_ms"
	check restore_kill_config_old_or_new test -z "$bad" || echo "# iterations:$bad"
	check restore_kill_some_interrupted test $interrupted -gt 0
	check restore_kill_xdp_stays_attached test $detached = 0
	check restore_kill_forwards_while_dead test $dead_fail = 0
	read -r ok failed <"$TMP/load.res"
	echo "# client during the kill loop: $ok answered, $failed missed"
	check restore_kill_client_never_failed test "${failed:-1}" = 0 -a "${ok:-0}" -ge 50 ||
		grep FAIL "$load" | head -5
	check restore_kill_all_backends_answered \
		test "$(awk '$1 == "ok" {print $3}' "$load" | sort -u | tr '\n' ' ')" = "be1 be2 be3 "
}

# ---- 2. state directory full, then read-only ----

# The running configuration, the state file and the maps a change would
# touch (VIP entries and ring slots; the 65,536-entry backend array takes
# bpftool seconds to dump, and a refused `backend set` would show in the
# ring slots anyway).
snapshot() {
	{
		lbctl save
		echo "--- state"
		cat "$STATE"
		echo "--- vips"
		bpftool map dump pinned "$PIN/eth0/vips"
		echo "--- rings"
		bpftool map dump pinned "$PIN/eth0/rings"
		echo "--- files"
		ls "$SD"
	} 2>&1
}

# refused NAME REASON CMD...: lbctl CMD exits 1 with "lbctl: ...: REASON (nothing changed)"
refused() {
	local name=$1 reason=$2 out st
	shift 2
	out=$(lbctl "$@" 2>&1)
	st=$?
	check "${name}_exit1" test $st = 1
	check "${name}_says_why" grep -qE "^lbctl: cannot (create|write) state file $SD/state.tmp: $reason \(nothing changed\)$" <<<"$out" ||
		echo "# got: $out"
}

test_state_dir() {
	local before
	before=$(snapshot)
	# full: creating the temporary file works, writing it does not
	dd if=/dev/zero of="$SD/fill" bs=4k 2>/dev/null
	gen_config 0 | head -n 4 >"$TMP/small"
	refused full_vip_add "No space left on device" vip add $VIP4:9/udp
	refused full_backend_add "No space left on device" backend add $VA 10.99.0.14
	refused full_backend_set "No space left on device" backend set $VA ${BE4[0]} weight 5
	refused full_restore "No space left on device" restore "$TMP/small"
	rm -f "$SD/fill"
	check full_nothing_changed test "$before" = "$(snapshot)"
	check full_lbd_alive bash -c "'$SAN/lbctl' -s '$SOCK' vip show $VA >/dev/null"
	# read-only: not even the temporary file
	mount -o remount,ro "$SD"
	refused ro_vip_add "Read-only file system" vip add $VIP4:9/udp
	refused ro_backend_set "Read-only file system" backend set $VA ${BE4[0]} weight 5
	check ro_nothing_changed test "$before" = "$(snapshot)"
	mount -o remount,rw "$SD"
	# writable again: changes go through
	check state_dir_back lbctl vip add $VIP4:9/udp
	check state_dir_back_saved grep -q "^vip add $VIP4:9/udp " "$STATE"
	lbctl vip del $VIP4:9/udp
}

# ---- 3. environments lbd cannot (fully) run in ----

# lbd_fails NAME NS REGEX ARGS...: lbd in namespace NS exits 1 (not a
# sanitizer's 86/87, not a hang) with a line matching REGEX on stderr.
lbd_fails() {
	local name=$1 ns=$2 re=$3 st
	shift 3
	timeout 30 ip netns exec "$P-$ns" "$SAN/lbd" --socket "$TMP/x/sock" --state "$TMP/x/state" \
		--metrics none "$@" >"$TMP/x/$name.out" 2>&1
	st=$?
	check "${name}_exit1" test $st = 1 || { echo "# exit $st"; cat "$TMP/x/$name.out"; }
	check "${name}_says_why" grep -qE "$re" "$TMP/x/$name.out" || cat "$TMP/x/$name.out"
}

xlink() { # a veth pair x0/x1 in the namespace x
	ip -n "$P-x" link add x0 type veth peer name x1 &&
		ip -n "$P-x" link set x0 up && ip -n "$P-x" link set x1 up
}

test_env() {
	local pid
	mkdir -p "$TMP/x/notbpf"
	ip netns add "$P-x" && xlink && ip -n "$P-x" link add xbr0 type bridge &&
		ip -n "$P-x" link set xbr0 up || { fail env_setup "namespace x"; return; }
	# --pin on a plain directory (a bpffs there would die with lbd's mount
	# namespace, and nothing pinned on tmpfs or ext4 can be adopted)
	lbd_fails pin_not_bpffs x "^lbd: --pin $TMP/x/notbpf/xdplb is not on a bpffs \($TMP/x/notbpf is on [^)]*\): .*mount -t bpf bpf $TMP/x/notbpf/xdplb" \
		--iface x0 --pin "$TMP/x/notbpf/xdplb"
	check pin_not_bpffs_nothing_made test ! -e "$TMP/x/notbpf/xdplb"
	# the default pin under `ip netns exec` (LAB.md trap 3: /sys is remounted, so no bpffs)
	lbd_fails pin_default_netns x "^lbd: no bpffs at /sys/fs/bpf and lbd .*mount -t bpf bpf /sys/fs/bpf" \
		--iface x0
	check pin_refused_no_xdp bash -c "! ip -n $P-x -d link show x0 | grep -q prog/xdp"
	lbd_fails iface_missing x "^lbd: interface 'xlbnone0' not found$" --iface xlbnone0 --pin "$PIN"
	# no native XDP on a bridge (no dummy module here): refused, nothing left pinned
	lbd_fails native_unsupported x "^lbd: cannot attach the XDP program to 'xbr0' in native mode: Operation not supported \(the driver has no native XDP: try --xdp-mode generic or auto\)$" \
		--iface xbr0 --xdp-mode native --pin "$PIN"
	check native_unsupported_nothing_pinned test ! -e "$PIN/xbr0"
	check native_unsupported_no_xdp bash -c "! ip -n $P-x -d link show xbr0 | grep -q prog/xdp"
	# auto: generic, and says why
	ip netns exec "$P-x" "$SAN/lbd" --iface xbr0 --pin "$PIN" --socket "$TMP/x/sock" \
		--state "$TMP/x/state.br" --metrics none --flows $FLOWS 2>"$TMP/x/auto.log" &
	pid=$!
	wait_for 100 test -S "$TMP/x/sock"
	check auto_falls_back_generic bash -c "ip -n $P-x -d link show xbr0 | grep -q xdpgeneric"
	check auto_says_why grep -q "native XDP on 'xbr0' failed (Operation not supported): the driver does not support it; falling back to generic XDP" "$TMP/x/auto.log"
	kill $pid; wait $pid
	check auto_stop_exit0 test $? = 0
	ip netns exec "$P-x" "$SAN/lbd" --iface xbr0 --pin "$PIN" --detach 2>/dev/null
	test_iface_removed
}

test_iface_removed() {
	local pid st save
	rm -f "$TMP/x/sock"
	ip netns exec "$P-x" "$SAN/lbd" --iface x0 --pin "$PIN" --socket "$TMP/x/sock" \
		--state "$TMP/x/state.x0" --metrics none --flows $FLOWS 2>"$TMP/x/gone.log" &
	pid=$!
	wait_for 100 test -S "$TMP/x/sock" && "$SAN/lbctl" -s "$TMP/x/sock" vip add 10.98.0.1:80/tcp
	save=$("$SAN/lbctl" -s "$TMP/x/sock" save)
	ip -n "$P-x" link del x0
	wait_for 100 bash -c "! kill -0 $pid 2>/dev/null"
	kill -9 $pid 2>/dev/null
	wait $pid
	st=$?
	check iface_removed_exit1 test $st = 1 || echo "# exit $st"
	check iface_removed_says_so grep -qE "lbd: interface x0 \(index [0-9]+\) was removed, and its XDP program with it: nothing is forwarded any more; exiting \(status 1\)" "$TMP/x/gone.log" ||
		cat "$TMP/x/gone.log"
	check iface_removed_maps_kept test -e "$PIN/x0/vips" -a ! -e "$PIN/x0/link"
	# the interface is back (a new index): lbd adopts the maps and attaches anew
	xlink
	rm -f "$TMP/x/sock"
	ip netns exec "$P-x" "$SAN/lbd" --iface x0 --pin "$PIN" --socket "$TMP/x/sock" \
		--state "$TMP/x/state.x0" --metrics none --flows $FLOWS 2>>"$TMP/x/gone.log" &
	pid=$!
	check iface_back_restarts wait_for 100 test -S "$TMP/x/sock"
	check iface_back_config test "$("$SAN/lbctl" -s "$TMP/x/sock" save 2>&1)" = "$save"
	check iface_back_attached bash -c "ip -n $P-x -d link show x0 | grep -q prog/xdp"
	kill $pid; wait $pid
	check iface_back_stop_exit0 test $? = 0
	# an interface killed under a dead lbd: the dead pinned link is replaced
	ip -n "$P-x" link del x0 && xlink
	rm -f "$TMP/x/sock"
	ip netns exec "$P-x" "$SAN/lbd" --iface x0 --pin "$PIN" --socket "$TMP/x/sock" \
		--state "$TMP/x/state.x0" --metrics none --flows $FLOWS 2>>"$TMP/x/gone.log" &
	pid=$!
	check dead_link_replaced wait_for 100 test -S "$TMP/x/sock"
	check dead_link_says_so grep -q "lost its interface (removed); attaching anew" "$TMP/x/gone.log"
	kill $pid; wait $pid
	ip netns exec "$P-x" "$SAN/lbd" --iface x0 --pin "$PIN" --detach 2>/dev/null
	check env_sanitizers_clean bash -c "! grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' $TMP/x/*.log $TMP/x/*.out" ||
		grep -E 'Sanitizer|runtime error' -A5 "$TMP"/x/*.log "$TMP"/x/*.out | head -30
	[ -n "${KEEP:-}" ] && cp -r "$TMP/x" "$KEEP"
}

# No kernel BTF: a private mount namespace with an empty tmpfs over
# /sys/kernel/btf.  The forwarder uses no CO-RE, so lbd must simply work:
# adopt the datapath, answer lbctl, forward.
test_no_btf() {
	local got
	stop_lbd TERM
	rm -f "$SOCK"
	ip netns exec "$P-lb" unshare -m --propagation private sh -c \
		'mount -t tmpfs -o size=4k none /sys/kernel/btf && ! test -e /sys/kernel/btf/vmlinux || exit 99
		 exec "$@"' sh "$SAN/lbd" --iface eth0 --socket "$SOCK" --state "$STATE" --pin "$PIN" \
		--metrics none --flows $FLOWS 2>>"$TMP/lbd.log" &
	LBD_PID=$!
	check no_btf_lbd_starts wait_for $LBD_START_TENTHS test -S "$SOCK"
	check no_btf_lbctl_answers test "$(lbctl save)" = "$(cat "$STATE")"
	lbctl vip add $VIP4:9/udp check none && lbctl backend add $VIP4:9/udp ${BE4[1]}
	# VA, VB, the new VIP and the address's echo key
	check no_btf_change_applied test "$(bpftool -j map dump pinned $PIN/eth0/vips | python3 -c 'import json, sys; print(len(json.load(sys.stdin)))')" = 4 ||
		bpftool map dump pinned $PIN/eth0/vips | tail -3
	got=$(udp_ask 10 "$TMP/nobtf.log")
	check no_btf_forwards test "$got" = "10 0"
	lbctl vip del $VIP4:9/udp
	check no_btf_stop_exit0 stop_lbd TERM
}

main() {
	local st
	lab_l2 || { fail lab "cannot build the lab"; summary; exit 1; }
	mkdir -p "$SD" "$TMP/x" && mount -t tmpfs -o size=1m,mode=0700 xlbstate "$SD" ||
		{ fail state_tmpfs "cannot mount a tmpfs"; summary; exit 1; }
	for n in be1 be2 be3; do udp_echo $n 7 $VIP4; done
	lbd_up --xdp-mode native || { fail start "lbd did not start"; cat "$TMP/lbd.log"; summary; exit 1; }
	gen_config 0 >"$TMP/cfg0"
	gen_config 1 >"$TMP/cfg1"
	if [ -n "${ONLY:-}" ]; then # ONLY="fn ...": a quick run of some parts
		lbctl restore "$TMP/cfg0"
		for f in $ONLY; do $f; done
		stop_lbd TERM
		summary
		return
	fi
	for f in test_kill_during_restore test_state_dir test_no_btf test_env; do
		st=$SECONDS
		$f
		echo "# $f: $((SECONDS - st)) s (load $(cut -d' ' -f1 /proc/loadavg))"
	done
	stop_lbd TERM
	check lbd_sanitizers_clean lbd_log_clean || grep -E "Sanitizer|runtime error" -A5 "$TMP/lbd.log" | head -40
	summary
}

main
