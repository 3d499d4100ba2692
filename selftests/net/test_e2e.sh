#!/usr/bin/env bash
# test_e2e.sh - the l2 lab end to end with real servers: nginx (TCP) and a
# UDP echo (perl) on three backends, curl and socat clients from 20 client
# addresses, lbd (ASan + UBSan) on the LB.  Scenario groups, each in a fresh
# lab:
#   l2_native, l2_generic (lbd --xdp-mode): IPv4 and IPv6, TCP and UDP
#     traffic (every request answered, every backend used, backends log the
#     real clients); non-VIP traffic to the LB while it forwards; failover
#     by health check; long downloads through a backend added and another
#     drained.
#   restart: lbd stopped (SIGTERM), killed (SIGKILL) and restarted under
#     load of every kind: nothing fails, configuration restored.
#   neigh: a backend's MAC changes: IPv6 and UDP traffic follows.
# Client source ports are explicit and distinct per scenario (LAB.md: no
# TIME_WAIT clash).  ONLY="native generic restart neigh" runs some groups.
source "$(dirname "$0")/lib.sh"

V4T=$VIP4:80/tcp
V6T="[$VIP6]:80/tcp"
V4U=$VIP4:5300/udp
V6U="[$VIP6]:5300/udp"
UPORT=5300
NCL=20 # client addresses
MIB2=2097152
BIG_SUM=

# assert NAME WHAT CMD...: PASS if CMD succeeds, else FAIL saying WHAT
# (expected and seen).
assert() {
	local name=$1 what=$2
	shift 2
	if "$@" >/dev/null 2>&1; then pass "$name"; else fail "$name" "$what"; fi
}

# wait_secs S CMD...: poll CMD (0.1 s apart) until it succeeds, S seconds of
# wall clock at most (wait_for counts polls, which a busy machine stretches)
wait_secs() {
	local end=$((${EPOCHREALTIME/./} + $1 * 1000000))
	shift
	until "$@" >/dev/null 2>&1; do
		((${EPOCHREALTIME/./} < end)) || return 1
		sleep 0.1
	done
}

# qlbctl: lbctl without the sanitizers, for the many queries of the helpers
# below (an ASan lbctl takes ~0.1-0.3 s to start); changes go through the
# ASan lbctl.
qlbctl() { "$BUILD/lbctl" -s "$SOCK" "$@"; }

# state_is STATE VIP ADDR: ADDR's state in `lbctl vip show VIP` (up, down,
# draining, ...) is STATE
state_is() {
	[ "$(qlbctl vip show "$2" | awk -v a="$3" '$1 == a { print $4 }')" = "$1" ]
}
# tcp_state_is STATE I: backend I (0..2) is in STATE in both TCP VIPs
tcp_state_is() {
	state_is "$1" $V4T "${BE4[$2]}" && state_is "$1" "$V6T" "${BE6[$2]}"
}

# --- clients -------------------------------------------------------------------
# req, batch, load and reqs run inside the client's namespace, in one bash
# process each (in_cl): an `ip netns exec` per request costs more than the
# request on a busy machine.

# in_cl FUNCTION ARGS...: a function of this file in the client's namespace
in_cl() {
	nsx cl bash -c "$(declare -p VIP4 VIP6 UPORT NCL CL4S CL6S TMP); $(declare -f req batch load reqs);
		$(printf '%q ' "$@")"
}

# req FAM KIND ADDR PORT TAG: one request from the client address ADDR, source
# port PORT, to the VIP of family FAM (4|6): KIND http asks nginx for /TAG,
# KIND udp sends the datagram TAG to the echo (whose answer must echo TAG).
# Prints the answering backend's name, or FAILED.  The timeouts are long:
# lost is what fails, slow (a busy machine) is not.
req() {
	local fam=$1 kind=$2 a=$3 p=$4 tag=$5 r dst
	if [ "$kind" = http ]; then
		[ "$fam" = 4 ] && dst=http://$VIP4/$tag || dst="http://[$VIP6]/$tag"
		r=$(curl -gsS --max-time 10 --interface "$a" --local-port "$p" "$dst" 2>/dev/null)
	else
		[ "$fam" = 4 ] && dst=UDP4:$VIP4:$UPORT,bind=$a:$p || dst="UDP6:[$VIP6]:$UPORT,bind=[$a]:$p"
		# readbytes: done on the answer ("beN TAG\n") rather than after -t
		r=$(echo "$tag" | socat -t 10 - "$dst,readbytes=$((${#tag} + 5))" 2>/dev/null)
		[ "${r#* }" = "$tag" ] && r=${r%% *} || r=
	fi
	case $r in be[1-9]) echo "$r" ;; *) echo FAILED ;; esac
}

caddr() { # caddr FAM I: the client's I-th address (mod NCL)
	[ "$1" = 4 ] && echo "${CL4S[$(($2 % NCL))]}" || echo "${CL6S[$(($2 % NCL))]}"
}

# batch FAM KIND PORTBASE TAG: 2 requests from each client address (ports
# PORTBASE + 2*address + 0..1); prints "address port backend" lines.
batch() {
	local k j a p
	for ((k = 0; k < NCL; k++)); do
		[ "$1" = 4 ] && a=${CL4S[k]} || a=${CL6S[k]}
		for ((j = 0; j < 2; j++)); do
			p=$(($3 + 2 * k + j))
			echo "$a $p $(req "$1" "$2" "$a" $p "$4-$p")"
		done
	done
}

# load FAM KIND PORTBASE MAX TAG: requests one after another (the client
# address rotating) until $TMP/stop exists, MAX at most; prints "start-time
# address port backend" lines.
load() {
	local i a p
	for ((i = 0; i < $4; i++)); do
		[ -e "$TMP/stop" ] && break
		[ "$1" = 4 ] && a=${CL4S[i % NCL]} || a=${CL6S[i % NCL]}
		p=$(($3 + i))
		echo "$EPOCHREALTIME $a $p $(req "$1" "$2" "$a" $p "$5-$p")"
	done
}

# reqs FAM KIND TAG: one request per "address port" line of standard input;
# prints "address port backend" lines.
reqs() {
	local a p
	while read -r a p; do echo "$a $p $(req "$1" "$2" "$a" "$p" "$3-$p")"; done
}

# count_after FILE TIME [TIME2]: requests of a load started after TIME (and before TIME2)
count_after() {
	awk -v a="$2" -v b="${3:-9e18}" '$1 > a && $1 < b' "$1" | wc -l
}
plus() { awk -v t="$1" -v d="$2" 'BEGIN { printf "%.6f", t + d }'; }

# loads_reach N TIME FILE...: every load has N requests started after TIME
loads_reach() {
	local n=$1 t=$2 f
	shift 2
	for f; do [ "$(count_after "$f" "$t")" -ge "$n" ] || return 1; done
}

# download FAM ADDR PORT TAG [CURL OPTIONS]: GET /big?TAG into $TMP/dl/TAG;
# "status size" into $TMP/dl/TAG.meta.  Meant to run in the background.
download() {
	local fam=$1 a=$2 p=$3 tag=$4 url
	shift 4
	[ "$fam" = 4 ] && url="http://$VIP4/big?$tag" || url="http://[$VIP6]/big?$tag"
	nsx cl curl -gs --max-time 150 --interface "$a" --local-port "$p" -o "$TMP/dl/$tag" \
		-w '%{http_code} %{size_download}' "$@" "$url" >"$TMP/dl/$tag.meta" 2>/dev/null
}

download_ok() { # download_ok TAG: complete, the right bytes
	[ "$(cat "$TMP/dl/$1.meta" 2>/dev/null)" = "200 $MIB2" ] &&
		[ "$(sha256sum <"$TMP/dl/$1" | cut -d' ' -f1)" = "$BIG_SUM" ]
}
dl_sizes() { # dl_sizes TAG...: bytes received so far by each
	local t
	for t; do stat -c %s "$TMP/dl/$t" 2>/dev/null || echo 0; done | tr '\n' ' '
}

# ring_pick VIP FAM BACKEND N ADDRBASE PORTBASE: N "address port" pairs,
# distinct client addresses from ADDRBASE, whose new flows the VIP's ring
# sends to BACKEND now.
ring_pick() {
	local vip=$1 fam=$2 want=$3 n=$4 k=$5 p=$6 a c got=0 tries
	for ((tries = 0; tries < 400 && got < n; tries++, p++)); do
		[ "$fam" = 4 ] && a=${CL4S[k % NCL]} c=$a:$p || a=${CL6S[k % NCL]} c="[$a]:$p"
		if [ "$(qlbctl flow lookup "$vip" "$c" | cut -d' ' -f1)" = "$want" ]; then
			echo "$a $p"
			got=$((got + 1)) k=$((k + 1))
		fi
	done
}

# shape_flows RATE "FAM ADDR PORT"...: the client's link (the bridge port
# towards it) gives each of these flows RATE, everything else 1 Gbit/s;
# reshape RATE changes the flows' rate.
SHAPED=0
shape_flows() {
	local rate=$1 i=10 f fam a p
	shift
	SHAPED=$#
	nsx br tc qdisc add dev cl root handle 1: htb default 1 &&
		nsx br tc class add dev cl parent 1: classid 1:1 htb rate 1gbit quantum 60000 || return 1
	for f; do
		set -- $f
		fam=$1 a=$2 p=$3
		nsx br tc class add dev cl parent 1: classid 1:$i htb rate "$rate" ceil "$rate" quantum 1514 &&
			nsx br tc qdisc add dev cl parent 1:$i bfifo limit 262144 || return 1
		if [ "$fam" = 4 ]; then
			nsx br tc filter add dev cl parent 1: protocol ip prio 1 u32 \
				match ip dst "$a/32" match ip dport "$p" 0xffff flowid 1:$i
		else
			nsx br tc filter add dev cl parent 1: protocol ipv6 prio 2 u32 \
				match ip6 dst "$a/128" match ip6 dport "$p" 0xffff flowid 1:$i
		fi || return 1
		i=$((i + 1))
	done
}
reshape() {
	local i
	for ((i = 10; i < 10 + SHAPED; i++)); do
		nsx br tc class change dev cl parent 1: classid 1:$i htb rate "$1" ceil "$1" quantum 1514 || return 1
	done
}
unshape() { nsx br tc qdisc del dev cl root; }

# --- what the backends logged ----------------------------------------------------

# logged TAG: "address port backend" for every request whose URI (nginx) or
# datagram (UDP echo) starts with /TAG or TAG (all with TAG ""), from every
# backend's log.
logged() {
	local n
	for n in be1 be2 be3; do
		[ -e "$TMP/$n/access.log" ] &&
			awk -v t="/$1" -v n=$n 'index($6, t) == 1 { print $1, $2, n }' "$TMP/$n/access.log"
		[ -e "$TMP/$n/udp.log" ] &&
			awk -v t="$1" -v n=$n 't == "" || index($3, t) == 1 { print $1, $2, n }' "$TMP/$n/udp.log"
	done
	return 0
}

# --- the lab ---------------------------------------------------------------------

# e2e_lab MODE: the l2 lab with 20 client addresses, nginx and the UDP echo on
# be1..be3, lbd in XDP mode MODE, four VIPs (IPv4/IPv6 TCP with tcp health
# checks every 500 ms, IPv4/IPv6 UDP without) over the three backends.
e2e_lab() {
	local n i v
	lab_l2 && lab_clients $NCL || return 1
	for n in be1 be2 be3; do
		nginx_start $n && udp_echo $n $UPORT || return 1
	done
	start_lbd --xdp-mode "$1" || return 1
	for v in $V4T "$V6T" $V4U "$V6U"; do
		case $v in
		*tcp) echo "vip add $v check tcp interval 500ms fall 2 rise 2" ;;
		*) echo "vip add $v" ;;
		esac
		for i in 0 1 2; do
			[ "${v#[}" = "$v" ] && echo "backend add $v ${BE4[$i]}" || echo "backend add $v ${BE6[$i]}"
		done
	done | lbctl restore - || return 1
	# every backend up (its first checks passed) before any traffic
	wait_secs 20 bash -c "[ \$('$BUILD/lbctl' -s '$SOCK' vip show | grep -c ' up ') = 12 ]"
}

group_start() { # group_start NAME MODE
	echo "== $1 (lbd --xdp-mode $2)"
	G0=$SECONDS
	rm -f "$TMP/stop"
	mkdir -p "$TMP/dl" "$TMP/out"
	if ! e2e_lab "$2"; then
		fail "$1_lab" "the lab or lbd did not come up"
		tail -20 "$TMP/lbd.log"
		lab_down
		return 1
	fi
	echo "== $1: lab up at $((SECONDS - G0)) s"
}

group_end() { # group_end NAME: no backend ever saw the LB as a client; lbd stops cleanly
	local lb
	lb=$(logged "" | awk -v a=$LB4 '$1 == a || $1 == "fd99::2"' | wc -l)
	assert "$1_lb_never_a_client" "expected no request from the LB's addresses, saw $lb" test "$lb" = 0
	assert "$1_lbd_term_exit0" "expected lbd to exit 0 on SIGTERM" stop_lbd TERM
	lab_down
	rm -rf "$TMP/dl" "$TMP/out"
	echo "== $1: $((SECONDS - G0)) s"
}

# --- l2 scenarios (in each XDP mode) -----------------------------------------------

# traffic_check NAME FILE TAG: every request of FILE ("address port backend")
# answered, every backend used, each logged by the backend that answered it
# with the client's own address and port, 20 client addresses in the logs.
traffic_check() {
	local name=$1 f=$2 tag=$3 total failed used sent seen addrs
	total=$(wc -l <"$f") failed=$(grep -c FAILED "$f")
	assert "${name}_all_answered" "expected $((2 * NCL)) answered, saw $total requests, $failed failed" \
		test "$total" = $((2 * NCL)) -a "$failed" = 0
	used=$(awk '{print $3}' "$f" | sort -u | tr '\n' ' ')
	assert "${name}_every_backend" "expected 'be1 be2 be3 ' to answer, saw '$used'" \
		test "$used" = "be1 be2 be3 "
	sent=$(sort "$f") seen=$(logged "$tag" | sort)
	assert "${name}_logged_real_clients" \
		"expected each backend to log the address and port of the clients it answered; differences (< answered, > logged): $(diff <(echo "$sent") <(echo "$seen") | grep '^[<>]' | head -4 | tr '\n' ' ')" \
		test "$sent" = "$seen"
	addrs=$(logged "$tag" | awk '{print $1}' | sort -u | wc -l)
	assert "${name}_many_client_addrs" "expected $NCL distinct client addresses in the logs, saw $addrs" \
		test "$addrs" = $NCL
}

test_traffic() { # test_traffic MODE: IPv4/IPv6 x TCP/UDP, the four at once
	local m=$1 fam kind base=30000 pids=() want="mtu [0-9]* xdp "
	[ "$m" = generic ] && want="mtu [0-9]* xdpgeneric "
	assert "${m}_xdp_mode" "expected '$want' on the LB's eth0, saw: $(ip -n "$P-lb" link show eth0 | head -1)" \
		bash -c "ip -n $P-lb link show eth0 | grep -q '$want'"
	for fam in 4 6; do
		for kind in http udp; do
			in_cl batch $fam $kind $base "t$m$kind$fam" >"$TMP/out/$m-$kind$fam" &
			pids+=($!)
			base=$((base + 1000))
		done
	done
	wait "${pids[@]}"
	for fam in 4 6; do
		for kind in http udp; do
			traffic_check "${m}_${kind/http/tcp}$fam" "$TMP/out/$m-$kind$fam" "t$m$kind$fam"
		done
	done
}

# Non-VIP traffic to the LB while it forwards (IPv4 ping and TCP are in
# test_lbd.sh): ping6, TCP over IPv6 to port 80 of the LB's own address, UDP
# (IPv4, IPv6) to port 5300 of its own addresses: the VIPs' ports.
test_non_vip() {
	local m=$1 f=$TMP/out/$1-nonvip load r n
	(nsx lb socat -T 5 TCP6-LISTEN:80,bind=[fd99::2],reuseaddr,fork SYSTEM:'echo lb-sshd; cat' \
		</dev/null >/dev/null 2>&1 &)
	udp_echo lb $UPORT $LB4 fd99::2
	wait_for 50 bash -c "[ \$(ip netns exec $P-lb ss -Hltn 'sport = :80' | wc -l) = 1 ]"
	rm -f "$TMP/stop"
	in_cl load 4 http 34000 300 "n$m" >"$f" &
	load=$!
	wait_for 50 test -s "$f"
	r=$(nsx cl ping -6 -c3 -i0.2 -W2 fd99::2 | grep -o '[0-9]* received')
	assert "${m}_non_vip_ping6" "expected '3 received', saw '$r'" test "$r" = "3 received"
	r=$(printf 'hello\n' | nsx cl timeout 5 socat -T 2 - "TCP6:[fd99::2]:80,bind=[fd99::1]" 2>/dev/null | tr '\n' ' ')
	assert "${m}_non_vip_tcp6_to_lb_port80" "expected 'lb-sshd hello ', saw '$r'" test "$r" = "lb-sshd hello "
	r=$(echo ping4 | nsx cl socat -t 3 - "UDP4:$LB4:$UPORT,readbytes=9" 2>/dev/null)
	assert "${m}_non_vip_udp4_to_lb" "expected 'lb ping4', saw '$r'" test "$r" = "lb ping4"
	r=$(echo ping6 | nsx cl socat -t 3 - "UDP6:[fd99::2]:$UPORT,readbytes=9" 2>/dev/null)
	assert "${m}_non_vip_udp6_to_lb" "expected 'lb ping6', saw '$r'" test "$r" = "lb ping6"
	touch "$TMP/stop"
	wait $load
	n=$(wc -l <"$f")
	assert "${m}_non_vip_while_forwarding" \
		"expected VIP requests meanwhile, all answered: $n made, $(grep -c FAILED "$f") failed" \
		test "$n" -gt 0 -a "$(grep -c FAILED "$f")" = 0
}

# Failover: nginx stops on be2; with check tcp interval 500ms fall 2 no
# request fails from 2 s later on (IPv4 and IPv6 load throughout); nginx
# starts again and be2 takes traffic again.
test_failover() {
	local m=$1 f4=$TMP/out/$1-fo4 f6=$TMP/out/$1-fo6 t_stop t_start t2 p4 p6 f n fam failed
	rm -f "$TMP/stop"
	in_cl load 4 http 35000 900 "f$m" >"$f4" &
	p4=$!
	in_cl load 6 http 36000 900 "f$m" >"$f6" &
	p6=$!
	wait_secs 30 bash -c "grep -q be2 '$f4' && grep -q be2 '$f6'"
	assert "${m}_failover_be2_served_before" "expected be2 to answer before the stop" \
		bash -c "grep -q be2 '$f4' && grep -q be2 '$f6'"
	nginx_stop be2 || fail "${m}_failover_nginx_stop" "nginx on be2 did not stop"
	t_stop=$EPOCHREALTIME t2=$(plus "$t_stop" 2)
	assert "${m}_failover_down_detected" "expected be2 down (IPv4 and IPv6 TCP) within 10 s" \
		wait_secs 10 tcp_state_is down 1
	# the load goes on: 10 requests each from 2 s after the stop
	wait_secs 60 loads_reach 10 "$t2" "$f4" "$f6"
	nginx_start be2 || fail "${m}_failover_nginx_start" "nginx on be2 did not start again"
	t_start=$EPOCHREALTIME
	assert "${m}_failover_up_again" "expected be2 up again (IPv4 and IPv6 TCP) within 30 s" \
		wait_secs 30 tcp_state_is up 1
	wait_secs 20 bash -c "awk '\$1 > $t_start && \$4 == \"be2\"' '$f4' | grep -q . &&
		awk '\$1 > $t_start && \$4 == \"be2\"' '$f6' | grep -q ."
	touch "$TMP/stop"
	wait $p4 $p6
	for fam in 4 6; do
		f=$TMP/out/$m-fo$fam
		failed=$(awk -v t="$t2" '$1 > t && $4 == "FAILED"' "$f" | head -3 | tr '\n' ' ')
		assert "${m}_failover${fam}_none_failed_after_2s" \
			"expected no failed request from 2 s after the stop, saw: $failed" test -z "$failed"
		n=$(count_after "$f" "$t2" "$t_start")
		assert "${m}_failover${fam}_load_ran" \
			"expected >= 10 requests between 2 s after the stop and the restart, saw $n" test "$n" -ge 10
		n=$(awk -v t="$t_start" '$1 > t && $4 == "be2"' "$f" | wc -l)
		assert "${m}_failover${fam}_be2_back" "expected be2 to answer after it came back, saw $n answers" \
			test "$n" -ge 1
	done
}

# Connection consistency: 8 downloads of 2 MiB (IPv4 and IPv6; 2 on be1 and 2
# on be2 each), each shaped to 500 kbit/s on the client's link so that the
# client ACKs through the LB for seconds; mid-transfer be3 is added and be1
# drained, new requests are made, then the downloads may speed up.  Every
# download completes whole on the backend it started on; new requests go to
# be2 and be3, never to be1.
test_consistency() {
	local m=$1 f=$TMP/out/$1-after t0 n_be1 fam vip b a p i n pids=() tags=() want=() flows=() sizes bad
	lbctl backend del $V4T "${BE4[2]}" && lbctl backend del "$V6T" "${BE6[2]}"
	for fam in 4 6; do
		[ $fam = 4 ] && vip=$V4T || vip=$V6T
		for i in 0 1; do
			[ $fam = 4 ] && b=${BE4[$i]} || b=${BE6[$i]}
			while read -r a p; do
				tags+=("c$m$fam-$p") want+=("be$((i + 1))") flows+=("$fam $a $p")
			done < <(ring_pick "$vip" $fam "$b" 2 $((2 * i)) $((37000 + 500 * (fam / 6) + 200 * i)))
		done
	done
	assert "${m}_consistency_ports_picked" "expected 8 client ports for be1/be2, found ${#tags[@]}" \
		test ${#tags[@]} = 8
	shape_flows 500kbit "${flows[@]}" || fail "${m}_consistency_shape" "tc on the client's link failed"
	t0=$EPOCHREALTIME
	for ((i = 0; i < ${#tags[@]}; i++)); do
		download ${flows[$i]} "${tags[$i]}" &
		pids+=($!)
	done
	# every download under way before the changes
	wait_secs 30 bash -c "for s in \$(cd $TMP/dl && stat -c %s ${tags[*]} 2>/dev/null); do [ \$s -ge 65536 ] || exit 1; done; [ \$(cd $TMP/dl && ls ${tags[*]} 2>/dev/null | wc -l) = 8 ]"
	lbctl backend add $V4T "${BE4[2]}" && lbctl backend add "$V6T" "${BE6[2]}"
	lbctl backend set $V4T "${BE4[0]}" weight 0 && lbctl backend set "$V6T" "${BE6[0]}" weight 0
	n_be1=$(wc -l <"$TMP/be1/access.log")
	sizes=$(dl_sizes "${tags[@]}")
	bad=$(for s in $sizes; do [ "$s" -gt 0 -a "$s" -lt $MIB2 ] || echo "$s"; done)
	assert "${m}_consistency_in_flight_at_change" \
		"expected every download started and unfinished at the change, sizes: $sizes" test -z "$bad"
	assert "${m}_consistency_drained_state" "expected be1 draining (IPv4 and IPv6)" tcp_state_is draining 0
	# new connections while the downloads run
	for fam in 4 6; do
		for ((i = 0; i < 10; i++)); do echo "$(caddr $fam $i) $((38000 + 10 * fam + i))"; done |
			in_cl reqs $fam http "a$m"
	done >"$f"
	sizes=$(dl_sizes "${tags[@]}")
	bad=$(for s in $sizes; do [ "$s" -lt $MIB2 ] || echo "$s"; done)
	assert "${m}_consistency_still_in_flight" \
		"expected every download still running after the new requests, sizes: $sizes" test -z "$bad"
	wait_secs 10 bash -c "(( \${EPOCHREALTIME/./} > $(plus "$t0" 4 | tr -d .) ))" # several seconds
	reshape 100mbit
	wait "${pids[@]}"
	unshape
	bad=
	for ((i = 0; i < ${#tags[@]}; i++)); do
		download_ok "${tags[$i]}" || bad+="${tags[$i]}($(cat "$TMP/dl/${tags[$i]}.meta")) "
	done
	assert "${m}_consistency_downloads_whole" \
		"expected 8 x status 200, $MIB2 bytes, the right sha256; bad: $bad" test -z "$bad"
	bad=
	for ((i = 0; i < ${#tags[@]}; i++)); do
		n=$(grep -l " 200 $MIB2 /big?${tags[$i]}\$" "$TMP"/be[1-3]/access.log | awk -F/ '{print $(NF-1)}' | tr '\n' ' ')
		[ "$n" = "${want[$i]} " ] || bad+="${tags[$i]}: expected ${want[$i]}, logged by '$n'; "
	done
	assert "${m}_consistency_stayed_on_backend" "$bad" test -z "$bad"
	bad=
	for ((i = 0; i < ${#tags[@]}; i++)); do
		set -- ${flows[$i]}
		# lbctl flows columns: CLIENT PORT VIP BACKEND TABLE PACKETS BYTES IDLE_S
		n=$(lbctl flows | awk -v a="$2" -v p="$3" '$1 == a && $2 == p && $6 > n { n = $6 } END { print n + 0 }')
		[ "$n" -ge 200 ] || bad+="${tags[$i]}:$n "
	done
	assert "${m}_consistency_acks_through_lb" "expected >= 200 packets per download flow at the LB, saw $bad" \
		test -z "$bad"
	n=$(grep -c FAILED "$f")
	assert "${m}_consistency_new_answered" "expected 20 new requests answered, $n failed" \
		test "$(wc -l <"$f")" = 20 -a "$n" = 0
	# be1's log since the drain: its two downloads, nothing else
	bad=$(tail -n +$((n_be1 + 1)) "$TMP/be1/access.log" | grep -v " /big?c$m" | head -3 | tr '\n' ' ')
	assert "${m}_consistency_drained_no_new" "expected be1 to log no new request after the drain, saw: $bad" \
		test -z "$bad" -a "$(grep -c ' be1$' "$f")" = 0
	n=$(logged "a$m" | grep -c ' be3$')
	assert "${m}_consistency_added_serves" "expected be3 (added) to take new requests, saw $n" test "$n" -ge 1
}

# --- restart ---------------------------------------------------------------------

# lbd stopped (SIGTERM), killed (SIGKILL) and restarted while requests of
# every kind run (IPv4/IPv6 TCP and UDP, two slow downloads), a little while
# down each time: nothing fails, the configuration (weights, a drained
# backend, health-check settings, a change made between the restarts) comes
# back, the drained backend stays drained, health checks run again.
# (test_lbd.sh: restart with a plain configuration, TERM and KILL under
# IPv4 TCP load, one long connection; this adds the rest.)
group_restart() {
	local before after f fl=() lp=() dp=() t_term t_kill t_up t_up1 n bad sizes
	group_start restart native || return
	lbctl backend set $V4T "${BE4[0]}" weight 3 && lbctl backend set $V4T "${BE4[2]}" weight 0 &&
		lbctl backend set "$V6U" "${BE6[1]}" weight 2
	before=$(lbctl save)
	rm -f "$TMP/stop"
	for f in "4 http 40000" "6 http 41000" "4 udp 42000" "6 udp 43000"; do
		set -- $f
		in_cl load $1 $2 $3 900 "r$2$1" >"$TMP/out/r$2$1" &
		lp+=($!) fl+=("$TMP/out/r$2$1")
	done
	# two downloads of 2 MiB, at 200 kbit/s until both restarts are over
	shape_flows 200kbit "4 ${CL4S[0]} 44000" "6 ${CL6S[0]} 44001" ||
		fail restart_shape "tc on the client's link failed"
	download 4 "${CL4S[0]}" 44000 rd4 &
	dp+=($!)
	download 6 "${CL6S[0]}" 44001 rd6 &
	dp+=($!)
	wait_secs 60 loads_reach 3 0 "${fl[@]}"

	stop_lbd TERM
	t_term=$EPOCHREALTIME
	sleep 1 # down for a while
	wait_secs 60 loads_reach 3 "$t_term" "${fl[@]}"
	start_lbd || fail restart_term_start "lbd did not start again after SIGTERM"
	t_up=$EPOCHREALTIME t_up1=$EPOCHREALTIME
	after=$(lbctl save)
	assert restart_term_config_restored "expected the same 'lbctl save' after the restart; diff: $(diff <(echo "$before") <(echo "$after") | grep '^[<>]' | head -4 | tr '\n' ' ')" \
		test "$before" = "$after"
	n=$(for f in "${fl[@]}"; do count_after "$f" "$t_term" "$t_up"; done | sort -n | head -1)
	assert restart_term_load_while_down "expected >= 3 requests of each load while lbd was down, saw $n" \
		test "$n" -ge 3

	# a change between the restarts, then SIGKILL
	lbctl backend set "$V6T" "${BE6[1]}" weight 2
	before=$(lbctl save)
	wait_secs 60 loads_reach 3 "$t_up" "${fl[@]}"
	stop_lbd KILL
	t_kill=$EPOCHREALTIME
	sleep 1
	wait_secs 60 loads_reach 3 "$t_kill" "${fl[@]}"
	start_lbd || fail restart_kill_start "lbd did not start again after SIGKILL"
	t_up=$EPOCHREALTIME
	after=$(lbctl save)
	assert restart_kill_config_restored "expected the same 'lbctl save' (with the change) after the restart; diff: $(diff <(echo "$before") <(echo "$after") | grep '^[<>]' | head -4 | tr '\n' ' ')" \
		test "$before" = "$after"
	n=$(for f in "${fl[@]}"; do count_after "$f" "$t_kill" "$t_up"; done | sort -n | head -1)
	assert restart_kill_load_while_down "expected >= 3 requests of each load while lbd was down, saw $n" \
		test "$n" -ge 3
	sizes=$(dl_sizes rd4 rd6)
	bad=$(for s in $sizes; do [ "$s" -lt $MIB2 ] || echo "$s"; done)
	assert restart_downloads_spanned "expected both downloads unfinished at the second restart, sizes: $sizes" \
		test -z "$bad"
	wait_secs 60 loads_reach 3 "$t_up" "${fl[@]}"
	touch "$TMP/stop"
	reshape 100mbit
	wait "${lp[@]}" "${dp[@]}"
	unshape

	for f in "${fl[@]}"; do
		n=$(wc -l <"$f") bad=$(grep FAILED "$f" | head -3 | tr '\n' ' ')
		assert "restart_zero_failed_${f##*/r}" "expected no failed request of $n, saw: $bad(lbd down $t_term..$t_up1 and $t_kill..$t_up)" \
			test "$n" -ge 12 -a -z "$bad"
	done
	bad=
	download_ok rd4 || bad+="IPv4($(cat "$TMP/dl/rd4.meta")) "
	download_ok rd6 || bad+="IPv6($(cat "$TMP/dl/rd6.meta")) "
	assert restart_downloads_whole "expected both downloads whole (200, $MIB2 bytes, sha256), bad: $bad" \
		test -z "$bad"
	n=$(logged rhttp4 | grep -c ' be3$')
	assert restart_drained_stays_drained "expected no IPv4 TCP request on be3 (weight 0), saw $n" \
		test "$n" = 0 -a "$(grep -c ' be3$' "${fl[0]}")" = 0
	# health checks run again after the restarts
	nginx_stop be2
	assert restart_health_checks_run "expected be2 down (IPv4 and IPv6 TCP) within 10 s of its nginx stopping" \
		wait_secs 10 tcp_state_is down 1
	group_end restart
}

# --- neighbour change ------------------------------------------------------------

# be1's MAC changes (it announces it: arp_notify, ndisc_notify).  test_lbd.sh
# covers IPv4 TCP; here IPv6 (TCP, UDP) and IPv4 UDP: the LB's backend entry
# takes the new MAC within a second and flows the ring gives be1 reach it.
group_neigh() {
	local mac=02:aa:bb:cc:dd:02 f vip fam kind a p n seen bad=
	group_start neigh native || return
	nsx be1 sysctl -qw net.ipv6.conf.all.ndisc_notify=1 net.ipv6.conf.eth0.ndisc_notify=1
	# ports the ring sends to be1: 3 before the change, 3 after, for each
	for f in "$V6T 6 http 45000" "$V6U 6 udp 46000" "$V4U 4 udp 47000"; do
		set -- $f
		[ $2 = 4 ] && b=${BE4[0]} || b=${BE6[0]}
		ring_pick "$1" $2 "$b" 6 0 $4 >"$TMP/out/n$3$2"
	done
	n=$(cat "$TMP"/out/nhttp6 "$TMP"/out/nudp6 "$TMP"/out/nudp4 | wc -l)
	assert neigh_ports_picked "expected 18 client ports for be1, found $n" test "$n" = 18
	seen=$(for f in "http 6" "udp 6" "udp 4"; do
		set -- $f
		head -3 "$TMP/out/n$1$2" | in_cl reqs $2 $1 "nb$1$2"
	done | awk '{print $3}' | sort | uniq -c | tr -s ' ' | tr '\n' ' ')
	assert neigh_be1_before "expected 9 answers from be1 before the change, saw '$seen'" test "$seen" = " 9 be1 "
	nsx be1 ip link set eth0 address $mac
	for f in "$V6T tcp6" "$V6U udp6" "$V4U udp4"; do
		set -- $f
		vip=$1
		[ "${vip#[}" = "$vip" ] && a=${BE4[0]} || a=${BE6[0]}
		# a second, plus what polling an ASan lbctl costs on a busy machine
		assert "neigh_mac_followed_$2" "expected $mac for $a in 'vip show $vip' within 2 s, saw: $(lbctl vip show "$vip" | grep " $a ")" \
			wait_secs 2 bash -c "'$BUILD/lbctl' -s '$SOCK' vip show '$vip' | grep ' $a ' | grep -q $mac"
	done
	for f in "http 6" "udp 6" "udp 4"; do
		set -- $f
		seen=$(tail -3 "$TMP/out/n$1$2" | in_cl reqs $2 $1 "na$1$2" | awk '{print $3}' |
			sort | uniq -c | tr -s ' ' | tr '\n' ' ')
		assert "neigh_traffic_follows_${1/http/tcp}$2" "expected 3 answers from be1, saw '$seen'" \
			test "$seen" = " 3 be1 "
	done
	group_end neigh
}

group_l2() { # group_l2 MODE
	local t
	group_start "l2_$1" "$1" || return
	for t in traffic non_vip failover consistency; do
		"test_$t" "$1"
		echo "== l2_$1: $t done at $((SECONDS - G0)) s"
	done
	group_end "l2_$1"
}

main() {
	mkdir -p "$TMP/www"
	head -c $MIB2 /dev/urandom >"$BIG"
	BIG_SUM=$(sha256sum <"$BIG" | cut -d' ' -f1)
	local g
	for g in ${ONLY:-native generic restart neigh}; do
		case $g in
		native | generic) group_l2 $g ;;
		restart) group_restart ;;
		neigh) group_neigh ;;
		esac
	done
	assert lbd_sanitizers_clean "expected no ASan/UBSan report in lbd's log" lbd_log_clean ||
		grep -E "Sanitizer|runtime error" -A5 "$TMP/lbd.log" | head -40
	summary
}

main
