# routed.sh - the routed lab's topology, sourced by tools/lab/lab (`up
# routed`) and selftests/net/test_routed.sh.  Defines the addresses below
# and routed_topology PREFIX XDP_PASS_OBJ, which builds namespaces
# PREFIX-{cl,rt,lb,be1,be2,be3}:
#
#   cl (10.99.10.0/24) --- rt --- lb (10.99.20.0/24, lbd's XDP on eth0)
#                           |
#                    bridge bebr (10.99.30.0/24): be1 be2 be3
#
# The router sends the VIP prefixes to the LB (what BGP would do); the LB
# encapsulates towards the backends' addresses, via the router; backends
# hold the VIPs on lo, decapsulate with lbdecap (attached by the caller) and
# answer the client straight through the router, never through the LB.
# Every command is checked: the function returns 1 at the first failure.

R_VIP4=10.99.1.100          # ipip 4in4, gue
R_VIP4B=10.99.1.101         # ipip 4in6 (IPv4 VIP, IPv6 backends)
R_VIP6=fd99:1::100          # ipip 6in6, gue
R_VIP_NET4=10.99.1.0/24
R_VIP_NET6=fd99:1::/64
R_CL4=10.99.10.1
R_CL6=fd99:10::1
R_LB4=10.99.20.2
R_LB6=fd99:20::2
R_BE4=(10.99.30.11 10.99.30.12 10.99.30.13)
R_BE6=(fd99:30::11 fd99:30::12 fd99:30::13)
R_CLIENTS=6                 # extra client addresses 10.99.10.20.. / fd99:10::20..
# The fabric behind the client's edge carries full-size packets plus up to
# 48 bytes of encapsulation (what real deployments do with a larger MTU).
R_MTU=1600

_rns() { local n=$1; shift; ip netns exec "$_RP-$n" "$@"; }

_routed_nodes() {
	local n
	for n in cl rt lb be1 be2 be3; do
		ip netns add "$_RP-$n" && ip -n "$_RP-$n" link set lo up || return 1
		# no duplicate address detection: addresses usable at once, no
		# tentative link-local address delaying neighbour discovery
		_rns "$n" sysctl -qw net.ipv6.conf.default.accept_dad=0 net.ipv6.conf.all.accept_dad=0 ||
			return 1
	done
	ip -n "$_RP-rt" link add bebr type bridge || return 1
	for n in cl lb be1 be2 be3; do
		ip link add eth0 netns "$_RP-$n" type veth peer name "$n" netns "$_RP-rt" || return 1
	done
	for n in lb be1 be2 be3; do
		ip -n "$_RP-$n" link set eth0 mtu $R_MTU && ip -n "$_RP-rt" link set "$n" mtu $R_MTU ||
			return 1
	done
	for n in be1 be2 be3; do ip -n "$_RP-rt" link set "$n" master bebr || return 1; done
	ip -n "$_RP-rt" link set bebr mtu $R_MTU up || return 1
	for n in cl lb be1 be2 be3; do
		ip -n "$_RP-$n" link set eth0 up && ip -n "$_RP-rt" link set "$n" up || return 1
	done
}

_routed_router() {
	local dev
	# DSR is asymmetric: replies come from the VIPs, which the router routes
	# to the LB, through the backends' interface.  Strict reverse-path
	# filtering would drop them; a new namespace inherits the host's setting.
	_rns rt sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 \
		net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0 || return 1
	for dev in cl lb bebr; do _rns rt sysctl -qw "net.ipv4.conf.$dev.rp_filter=0" || return 1; done
	ip -n "$_RP-rt" addr add 10.99.10.254/24 dev cl && ip -n "$_RP-rt" addr add fd99:10::fe/64 dev cl &&
		ip -n "$_RP-rt" addr add 10.99.20.254/24 dev lb && ip -n "$_RP-rt" addr add fd99:20::fe/64 dev lb &&
		ip -n "$_RP-rt" addr add 10.99.30.254/24 dev bebr &&
		ip -n "$_RP-rt" addr add fd99:30::fe/64 dev bebr || return 1
	# the VIPs are the LB's (in production: announced over BGP)
	ip -n "$_RP-rt" route add $R_VIP_NET4 via $R_LB4 && ip -n "$_RP-rt" route add $R_VIP_NET6 via $R_LB6 ||
		return 1
	# LAB.md trap 1: the LB's XDP_TX into its veth needs a program on the peer
	ip -n "$_RP-rt" link set lb xdpdrv obj "$1" sec xdp || return 1
	# LAB.md trap 2: what the router sends into the LB's veth (native XDP
	# there) must carry complete checksums
	_rns rt ethtool -K lb tx off >/dev/null
}

_routed_hosts() {
	local i n
	ip -n "$_RP-cl" addr add $R_CL4/24 dev eth0 && ip -n "$_RP-cl" addr add $R_CL6/64 dev eth0 || return 1
	for ((i = 0; i < R_CLIENTS; i++)); do
		ip -n "$_RP-cl" addr add 10.99.10.$((20 + i))/24 dev eth0 &&
			ip -n "$_RP-cl" addr add fd99:10::$((20 + i))/64 dev eth0 || return 1
	done
	ip -n "$_RP-cl" route add default via 10.99.10.254 && ip -n "$_RP-cl" route add default via fd99:10::fe ||
		return 1
	# LAB.md trap 2: the client's packets cross the LB's native XDP program
	# (inside the tunnel: the backend checks the inner checksum)
	_rns cl ethtool -K eth0 tx off >/dev/null || return 1
	ip -n "$_RP-lb" addr add $R_LB4/24 dev eth0 && ip -n "$_RP-lb" addr add $R_LB6/64 dev eth0 &&
		ip -n "$_RP-lb" route add default via 10.99.20.254 &&
		ip -n "$_RP-lb" route add default via fd99:20::fe || return 1
	# LAB.md trap 2: the LB's own packets (health checks) cross the router's
	# native XDP program on the other end of its veth
	_rns lb ethtool -K eth0 tx off >/dev/null || return 1
	for i in 0 1 2; do
		n=be$((i + 1))
		ip -n "$_RP-$n" addr add "${R_BE4[$i]}/24" dev eth0 &&
			ip -n "$_RP-$n" addr add "${R_BE6[$i]}/64" dev eth0 &&
			ip -n "$_RP-$n" route add default via 10.99.30.254 &&
			ip -n "$_RP-$n" route add default via fd99:30::fe || return 1
		# DSR: the VIPs on lo, never answered for nor announced on the wire
		ip -n "$_RP-$n" addr add $R_VIP4/32 dev lo && ip -n "$_RP-$n" addr add $R_VIP4B/32 dev lo &&
			ip -n "$_RP-$n" addr add $R_VIP6/128 dev lo || return 1
		_rns $n sysctl -qw net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2 \
			net.ipv4.conf.eth0.arp_ignore=1 net.ipv4.conf.eth0.arp_announce=2 || return 1
	done
}

# routed_topology PREFIX XDP_PASS_OBJ
routed_topology() {
	local i
	_RP=$1
	_routed_nodes && _routed_router "$2" && _routed_hosts || return 1
	# neighbours known before the first packet (lbd resolves the router's
	# MAC for the backends' routes; IPv6 ones come from these exchanges)
	_rns lb ping -c1 -W2 10.99.20.254 >/dev/null && _rns lb ping -c1 -W2 fd99:20::fe >/dev/null ||
		return 1
	for i in 0 1 2; do
		_rns lb ping -c1 -W2 "${R_BE4[$i]}" >/dev/null && _rns lb ping -c1 -W2 "${R_BE6[$i]}" >/dev/null ||
			return 1
	done
	_rns cl ping -c1 -W2 10.99.10.254 >/dev/null && _rns cl ping -c1 -W2 fd99:10::fe >/dev/null
}
