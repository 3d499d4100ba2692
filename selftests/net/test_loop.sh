#!/usr/bin/env bash
# test_loop.sh - lbd's event loop stays free and current (ASan + UBSan
# builds), in a lab of two namespaces: lb (lbd on eth0) and peer (the
# client, and the backends' addresses).
# - Neighbour refresh with NV x NB backends (l2 VIPs of NB backends each,
#   the same NB addresses, permanent neighbour entries; lbd -v logs each
#   refresh):
#   a route change makes lbd look every backend up again, in steps; control
#   requests timed all along are answered within a bound meanwhile; a
#   backend's MAC change is followed, by looking up that backend alone; the
#   periodic refresh (30 s) looks nothing up when nothing changed.
# - Interface changes without a restart: the MTU (an ipip VIP's too-big
#   packet gets "fragmentation needed" with the new MTU) and the outer
#   source addresses (ipip packets leave from the interface's new IPv4 and
#   IPv6 addresses).
source "$(dirname "$0")/lib.sh"

NV=${NV:-5}               # l2 VIPs, 10.99.100.1:80/tcp and the next ports
NB=${NB:-4000}            # backends of each (at most 4096)
BOUND_MS=${BOUND_MS:-150} # a control request's round trip while a refresh runs
ALL=$((NV * NB + 2))      # backends in all, with the ipip VIPs' two
l2_vip() { echo "10.99.100.1:$((80 + $1))/tcp"; }
IPIP4=10.99.100.2       # ipip VIPs, port 53/udp
IPIP6=fd99:100::2
PEER4=10.99.0.1 PEER6=fd99::1
LB4=10.99.0.2 LB4B=10.99.0.3
LB6=fd99::2 LB6B=fd99::3
BE4=10.99.0.11 BE6=fd99::11 # the ipip VIPs' backend: an address of the peer
BE=()                       # the l2 backends' addresses
for ((i = 0; i < NB; i++)); do BE+=("10.99.$((1 + i / 250)).$((i % 250 + 1))"); done

setup() {
	local i v vip
	ip netns add "$P-lb" && ip netns add "$P-peer" &&
		ip link add eth0 netns "$P-lb" type veth peer name eth0 netns "$P-peer" || return 1
	for n in lb peer; do ip -n "$P-$n" link set lo up && ip -n "$P-$n" link set eth0 up || return 1; done
	# LAB.md trap 1: XDP_TX from the LB's veth needs a program on its peer
	ip -n "$P-peer" link set eth0 xdpdrv obj "$BUILD/bpf/xdp_pass.bpf.o" sec xdp || return 1
	ip -n "$P-lb" addr add $LB4/16 dev eth0 && ip -n "$P-lb" addr add $LB6/64 dev eth0 nodad &&
		ip -n "$P-peer" addr add $PEER4/16 dev eth0 && ip -n "$P-peer" addr add $PEER6/64 dev eth0 nodad &&
		ip -n "$P-peer" addr add $BE4/16 dev eth0 && ip -n "$P-peer" addr add $BE6/64 dev eth0 nodad || return 1
	# replacing the first IPv4 address keeps the subnet (its secondary is promoted)
	nsx lb sysctl -qw net.ipv4.conf.eth0.promote_secondaries=1 || return 1
	# the client sends to the VIPs by the LB's MAC, whatever the LB's address
	local mac
	mac=$(ip -n "$P-lb" link show eth0 | awk '/link\/ether/ {print $2}')
	ip -n "$P-peer" route add 10.99.100.0/24 dev eth0 && ip -n "$P-peer" route add fd99:100::/64 dev eth0 &&
		ip -n "$P-peer" neigh add $IPIP4 lladdr "$mac" dev eth0 nud permanent &&
		ip -n "$P-peer" neigh add $IPIP6 lladdr "$mac" dev eth0 nud permanent || return 1
	# the l2 backends: permanent neighbour entries on the LB (resolution answers at once)
	mac=$(ip -n "$P-peer" link show eth0 | awk '/link\/ether/ {print $2}')
	for ((i = 0; i < NB; i++)); do
		echo "neigh add ${BE[$i]} lladdr $mac dev eth0 nud permanent"
	done | ip -n "$P-lb" -batch - || return 1
	nsx lb ping -c1 -W1 $BE4 >/dev/null && nsx lb ping -c1 -W1 $BE6 >/dev/null
	mkdir -p "$PIN" && mount -t bpf bpf "$PIN" || return 1 # LAB.md trap 3
	LBD_T0=$(date +%s.%N)
	start_lbd --xdp-mode native --metrics none -v || { cat "$TMP/lbd.log"; return 1; }
	{
		for ((v = 0; v < NV; v++)); do
			vip=$(l2_vip $v)
			echo "vip add $vip"
			for ((i = 0; i < NB; i++)); do echo "backend add $vip ${BE[$i]}"; done
		done
		echo "vip add $IPIP4:53/udp method ipip"
		echo "backend add $IPIP4:53/udp $BE4"
		echo "vip add [$IPIP6]:53/udp method ipip"
		echo "backend add [$IPIP6]:53/udp $BE6"
	} >"$TMP/conf"
	lbctl restore "$TMP/conf"
}

# probe SECONDS OUT: `node show` over the socket, back to back, each round
# trip timed; OUT gets "requests max_ms".
PROBE='import socket, sys, time
path, secs = sys.argv[1], float(sys.argv[2])
end, worst, n = time.monotonic() + secs, 0.0, 0
while time.monotonic() < end:
    t0 = time.monotonic()
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    s.sendall(b"node show")
    s.shutdown(socket.SHUT_WR)
    while s.recv(65536):
        pass
    s.close()
    worst = max(worst, time.monotonic() - t0)
    n += 1
    time.sleep(0.002)
print(n, round(worst * 1000, 1))'
probe() { python3 -c "$PROBE" "$SOCK" "$1" >"$2"; }

refreshes() { grep -c "neighbour refresh" "$TMP/lbd.log"; }
backends_up() { "$SAN/lbctl" -s "$SOCK" vip show | grep -c ' up '; }

test_refresh_holds_nothing() {
	local before out n worst i
	# one route event: every backend's path may have changed
	before=$(refreshes)
	probe 3 "$TMP/probe" &
	local pid=$!
	sleep 0.3
	nsx lb ip route add 192.0.2.0/24 dev eth0
	wait $pid
	read -r n worst <"$TMP/probe"
	echo "# $ALL backends looked up again after a route change; $n control requests meanwhile, the slowest $worst ms"
	grep "neighbour refresh" "$TMP/lbd.log" | tail -n +$((before + 1)) | sed 's/^/# lbd: /'
	check refresh_ran test "$(refreshes)" -gt "$before"
	check refresh_all_backends bash -c "grep 'neighbour refresh' '$TMP/lbd.log' | tail -n 1 | grep -q ' $ALL of $ALL backends'"
	check refresh_loop_free awk -v w="$worst" -v b="$BOUND_MS" 'BEGIN { exit !(w < b) }'
	check refresh_all_still_up test "$(backends_up)" = $ALL
}

# The periodic refresh (30 s after lbd started, then every 30 s) looks up
# nothing when nothing changed, and holds nothing.
test_resync() {
	local before wait n worst
	before=$(refreshes)
	wait=$(awk -v t0="$LBD_T0" -v now="$(date +%s.%N)" 'BEGIN { w = t0 + 31.5 - now; print (w > 1 ? w : 1) }')
	probe "$wait" "$TMP/probe"
	read -r n worst <"$TMP/probe"
	echo "# until the first periodic refresh: $n control requests, the slowest $worst ms"
	grep "neighbour refresh" "$TMP/lbd.log" | tail -n +$((before + 1)) | sed 's/^/# lbd: /'
	check resync_looks_nothing_up bash -c "grep 'neighbour refresh' '$TMP/lbd.log' | tail -n +$((before + 1)) | grep -q ': 0 of $ALL backends looked up'"
	check resync_loop_free awk -v w="$worst" -v b="$BOUND_MS" 'BEGIN { exit !(w < b) }'
}

test_mac_change_followed() {
	local b=${BE[7]} mac=02:00:00:00:99:07 before
	before=$(refreshes)
	nsx lb ip neigh replace "$b" lladdr $mac dev eth0 nud permanent
	check mac_change_followed wait_for 20 bash -c "[ \$('$SAN/lbctl' -s '$SOCK' vip show | grep ' $b ' | grep -c $mac) = $NV ]"
	check mac_change_others_kept test "$(backends_up)" = $ALL
	grep "neighbour refresh" "$TMP/lbd.log" | tail -n +$((before + 1)) | sed 's/^/# lbd: /'
	# only the backends whose next hop changed (one address, in each l2 VIP) were looked up
	check mac_change_only_those bash -c "grep 'neighbour refresh' '$TMP/lbd.log' | tail -n +$((before + 1)) | grep -q ' $NV of $ALL backends'"
}

# What arrives on the peer's eth0 (no tcpdump here: a packet socket): the
# first IPv4 ipip packet ("ipip4 OUTER-SOURCE"), IPv6-in-IPv6 one ("ipip6
# OUTER-SOURCE") or ICMP "fragmentation needed" ("frag-needed MTU"), of the
# kinds asked for, within 5 s.
CAPTURE='import ipaddress, select, socket, sys, time
kinds = sys.argv[1].split(",")
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))  # ETH_P_ALL
s.bind(("eth0", 0))
print("listening", file=sys.stderr, flush=True)
end = time.monotonic() + 5
while time.monotonic() < end:
    if not select.select([s], [], [], 0.1)[0]:
        continue
    f, addr = s.recvfrom(65535)
    if addr[2] == socket.PACKET_OUTGOING:
        continue
    eth = int.from_bytes(f[12:14], "big")
    if eth == 0x0800 and f[23] == 4 and "ipip4" in kinds:
        print("ipip4", ipaddress.ip_address(f[26:30])); break
    if eth == 0x86dd and f[20] == 41 and "ipip6" in kinds:
        print("ipip6", ipaddress.ip_address(f[22:38])); break
    ihl = (f[14] & 15) * 4
    if eth == 0x0800 and f[23] == 1 and f[14 + ihl] == 3 and f[15 + ihl] == 4 and "ptb4" in kinds:
        print("frag-needed", int.from_bytes(f[20 + ihl:22 + ihl], "big")); break'

# capture NAME KINDS: start a capture into $TMP/NAME (listening on return)
capture() {
	rm -f "$TMP/$1" "$TMP/$1.err"
	nsx peer python3 -c "$CAPTURE" "$2" >"$TMP/$1" 2>"$TMP/$1.err" &
	wait_for 30 grep -q listening "$TMP/$1.err"
}
captured() { wait_for 60 test -s "$TMP/$1"; cat "$TMP/$1"; }

send4() { nsx peer python3 -c "import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IP, 10, 2)  # IP_MTU_DISCOVER = IP_PMTUDISC_DO: DF set
s.sendto(b'x' * $1, ('$IPIP4', 53))"; }
send6() { nsx peer python3 -c "import socket; s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.sendto(b'x' * $1, ('$IPIP6', 53))"; }

# outer_src NAME SEND KIND: the outer source of the ipip packet SEND makes
outer_src() {
	capture "$1" "$3" || return 1
	$2 20
	captured "$1" | awk '{ print $2 }'
}

test_outer_source() {
	local s
	s=$(outer_src src4_before send4 ipip4)
	check outer_src4_initial test "$s" = $LB4 || echo "# got '$s'"
	s=$(outer_src src6_before send6 ipip6)
	check outer_src6_initial test "$s" = $LB6 || echo "# got '$s'"
	# replace the interface's addresses: the new one first, then the old one goes
	nsx lb ip addr add $LB4B/16 dev eth0 && nsx lb ip addr del $LB4/16 dev eth0 &&
		nsx lb ip addr add $LB6B/64 dev eth0 nodad && nsx lb ip addr del $LB6/64 dev eth0
	check outer_src_logged wait_for 20 grep -q "outer IPv4 source $LB4 -> $LB4B" "$TMP/lbd.log"
	s=$(outer_src src4_after send4 ipip4)
	check outer_src4_follows test "$s" = $LB4B || echo "# got '$s'"
	s=$(outer_src src6_after send6 ipip6)
	check outer_src6_follows test "$s" = $LB6B || echo "# got '$s'"
}

test_mtu() {
	local out
	# 1390 bytes with DF: fits the first MTU (1500) with 20 bytes of ipip
	capture mtu_before ipip4,ptb4 || return 1
	send4 1362
	check mtu_initial_encapsulated grep -q "^ipip4 " <<<"$(captured mtu_before)"
	nsx lb ip link set eth0 mtu 1400
	check mtu_logged wait_for 20 grep -q "MTU 1500 -> 1400" "$TMP/lbd.log"
	capture mtu_after ipip4,ptb4 || return 1
	send4 1362
	out=$(captured mtu_after)
	check mtu_frag_needed test "$out" = "frag-needed 1380" || echo "# got: '$out'"
}

main() {
	setup || { fail setup "cannot build the lab"; tail -5 "$TMP/lbd.log"; summary; exit 1; }
	check all_backends_up test "$(backends_up)" = $ALL
	test_refresh_holds_nothing
	test_mac_change_followed
	test_outer_source
	test_mtu
	test_resync
	stop_lbd TERM
	check lbd_sanitizers_clean lbd_log_clean
	summary
}

main
