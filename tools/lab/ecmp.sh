# ecmp.sh - the ECMP lab: several LB nodes announcing the VIPs by BGP to a
# router that spreads clients over them.  Sourced by tools/lab/lab (`up
# ecmp`), selftests/net/test_ecmp.sh and selftests/bench/failover.sh.
# Namespaces PREFIX-{cl,rt,lb1..lbN,be1,be2,be3}:
#
#   cl (10.99.50.0/24, 20 client addresses) --- rt (BIRD, ECMP)
#                                                |
#                  bridge fab in rt (10.99.40.0/24, fd99:40::/64):
#                  lb1 lb2 [lb3...] (lbd, XDP_TX)  be1 be2 be3
#
# Each LB node runs lbd --announce-table 100 and BIRD (tools/bird/lb-node.conf:
# kernel table 100 learned, BGP with next hop self, BFD); the router's BIRD
# (tools/bird/router.conf) merges the nodes' routes into one multipath
# route, hashed on layer 4.  LB nodes and backends share the router's L2
# segment (the l2 method; ipip and gue go to the backends' addresses on it);
# backends hold the VIPs on lo, decapsulate E_VIP4I and E_VIP6G with
# lbdecap (ecmp_decap_attach) and answer the clients straight through the
# router (DSR).  Functions return 1 at the first failing command.

E_VIP4=10.99.1.100          # talking connections (port 80)
E_VIP4B=10.99.1.101         # the health-check withdrawal (port 8080)
E_VIP6=fd99:1::100
E_VIP4I=10.99.1.102         # ipip (4in4) for the talking connections
E_VIP6G=fd99:1::102         # gue (6in6) for the talking connections
E_CL4=10.99.50.1
E_CL6=fd99:50::1
E_RT4=10.99.40.254
E_RT6=fd99:40::fe
E_BE4=(10.99.40.11 10.99.40.12 10.99.40.13)
E_BE6=(fd99:40::11 fd99:40::12 fd99:40::13)
E_CLIENTS=20                # client addresses 10.99.50.20.. / fd99:50::20..
E_TABLE=100                 # lbd --announce-table, learned by the nodes' BIRD
E_RT_AS=65000
E_LB_AS=65001
E_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

e_lb4() { echo "10.99.40.$1"; } # node I's addresses
e_lb6() { echo "fd99:40::$1"; }
e_cl4s() { local i; for ((i = 0; i < E_CLIENTS; i++)); do echo "10.99.50.$((20 + i))"; done; }
e_cl6s() { local i; for ((i = 0; i < E_CLIENTS; i++)); do echo "fd99:50::$((20 + i))"; done; }

_ens() { local n=$1; shift; ip netns exec "$_EP-$n" "$@"; }

_ecmp_ns() { # _ecmp_ns NAME: a namespace with lo up, no DAD, checksums complete
	ip netns add "$_EP-$1" && ip -n "$_EP-$1" link set lo up &&
		_ens "$1" sysctl -qw net.ipv6.conf.default.accept_dad=0 net.ipv6.conf.all.accept_dad=0
}

# _ecmp_port NAME: NAME's eth0, a port of the router's bridge.  LAB.md trap
# 2: every sender's checksums complete (the router's and nodes' packets
# cross native XDP programs: lbd's, and xdp_pass on the nodes' ports).
_ecmp_port() {
	ip link add eth0 netns "$_EP-$1" type veth peer name "$1" netns "$_EP-rt" &&
		ip -n "$_EP-rt" link set "$1" master fab up && ip -n "$_EP-$1" link set eth0 up &&
		_ens "$1" ethtool -K eth0 tx off >/dev/null && _ens rt ethtool -K "$1" tx off >/dev/null
}

# ecmp_node_add PREFIX I XDP_PASS_OBJ: LB node lbI on the fabric (also a
# node joining a running lab).
ecmp_node_add() {
	_EP=$1
	local n=lb$2
	_ecmp_ns "$n" && _ecmp_port "$n" || return 1
	# LAB.md trap 1: the node's XDP_TX into its veth needs a program on the peer
	ip -n "$_EP-rt" link set "$n" xdpdrv obj "$3" sec xdp || return 1
	# no unknown unicast to the nodes: when a node's port goes down the bridge
	# forgets its MAC and would flood the router's frames for it to every
	# port, and the other node's XDP program, which does not look at the
	# destination MAC, would forward them: a dead node must be a black hole
	bridge -n "$_EP-rt" link set dev "$n" flood off || return 1
	ip -n "$_EP-$n" addr add "$(e_lb4 "$2")/24" dev eth0 &&
		ip -n "$_EP-$n" addr add "$(e_lb6 "$2")/64" dev eth0 || return 1
	# lbd resolves the backends' MACs from the neighbour table: fill it
	local i
	for i in 0 1 2; do
		_ens "$n" ping -c1 -W2 "${E_BE4[$i]}" >/dev/null &&
			_ens "$n" ping -c1 -W2 "${E_BE6[$i]}" >/dev/null || return 1
	done
	_ens "$n" ping -c1 -W2 $E_RT4 >/dev/null && _ens "$n" ping -c1 -W2 $E_RT6 >/dev/null
}

# ecmp_topology PREFIX XDP_PASS_OBJ NODES
ecmp_topology() {
	_EP=$1
	local i n
	_ecmp_ns rt && _ecmp_ns cl || return 1
	# a MAC of its own: a bridge without one takes its ports' lowest, so a
	# node joining could change the router's MAC, which flushes the router's
	# neighbours while the nodes keep sending to the old one (seen: a node's
	# IPv6 BGP session lost for seconds)
	ip -n "$_EP-rt" link add fab address 02:00:0a:63:28:fe type bridge &&
		ip -n "$_EP-rt" link set fab up || return 1
	_ens rt sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 \
		net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0 \
		net.ipv4.fib_multipath_hash_policy=1 net.ipv6.fib_multipath_hash_policy=1 || return 1
	ip -n "$_EP-rt" addr add $E_RT4/24 dev fab && ip -n "$_EP-rt" addr add $E_RT6/64 dev fab ||
		return 1
	_ens rt ethtool -K fab tx off >/dev/null || return 1
	# the client's subnet
	ip link add eth0 netns "$_EP-cl" type veth peer name cl netns "$_EP-rt" &&
		ip -n "$_EP-rt" link set cl up && ip -n "$_EP-cl" link set eth0 up &&
		_ens cl ethtool -K eth0 tx off >/dev/null || return 1
	ip -n "$_EP-rt" addr add 10.99.50.254/24 dev cl && ip -n "$_EP-rt" addr add fd99:50::fe/64 dev cl &&
		ip -n "$_EP-cl" addr add $E_CL4/24 dev eth0 && ip -n "$_EP-cl" addr add $E_CL6/64 dev eth0 ||
		return 1
	{
		for i in $(e_cl4s); do echo "addr add $i/24 dev eth0"; done
		for i in $(e_cl6s); do echo "addr add $i/64 dev eth0"; done
	} | ip -n "$_EP-cl" -batch - || return 1
	ip -n "$_EP-cl" route add default via 10.99.50.254 &&
		ip -n "$_EP-cl" route add default via fd99:50::fe || return 1
	# backends: the VIPs on lo, never answered for nor announced (DSR)
	for i in 0 1 2; do
		n=be$((i + 1))
		_ecmp_ns $n && _ecmp_port $n || return 1
		ip -n "$_EP-$n" addr add "${E_BE4[$i]}/24" dev eth0 &&
			ip -n "$_EP-$n" addr add "${E_BE6[$i]}/64" dev eth0 &&
			ip -n "$_EP-$n" route add default via $E_RT4 &&
			ip -n "$_EP-$n" route add default via $E_RT6 || return 1
		ip -n "$_EP-$n" addr add $E_VIP4/32 dev lo && ip -n "$_EP-$n" addr add $E_VIP4B/32 dev lo &&
			ip -n "$_EP-$n" addr add $E_VIP6/128 dev lo &&
			ip -n "$_EP-$n" addr add $E_VIP4I/32 dev lo &&
			ip -n "$_EP-$n" addr add $E_VIP6G/128 dev lo || return 1
		_ens $n sysctl -qw net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2 \
			net.ipv4.conf.eth0.arp_ignore=1 net.ipv4.conf.eth0.arp_announce=2 || return 1
	done
	for ((i = 1; i <= $3; i++)); do ecmp_node_add "$1" $i "$2" || return 1; done
	_ens cl ping -c1 -W2 10.99.50.254 >/dev/null && _ens cl ping -c1 -W2 fd99:50::fe >/dev/null
}

# ecmp_bird_lb I HOLD KEEPALIVE BFD: node I's bird.conf (tools/bird/lb-node.conf)
ecmp_bird_lb() {
	sed -e "s/@ROUTER_ID@/$(e_lb4 "$1")/; s/@LOCAL_AS@/$E_LB_AS/; s/@PEER_AS@/$E_RT_AS/" \
		-e "s/@PEER4@/$E_RT4/; s/@PEER6@/$E_RT6/; s/@TABLE@/$E_TABLE/g" \
		-e "s/@HOLD@/$2/; s/@KEEPALIVE@/$3/; s/@BFD@/$4/" "$E_ROOT/tools/bird/lb-node.conf"
}

# ecmp_bird_router NODES HOLD KEEPALIVE BFD: the router's bird.conf
# (tools/bird/router.conf up to its example peers, then one pair per node)
ecmp_bird_router() {
	local i
	sed -e '/^# --- one pair per LB node/,$d' \
		-e "s/@ROUTER_ID@/$E_RT4/; s/@LOCAL_AS@/$E_RT_AS/" \
		-e "s/@HOLD@/$2/; s/@KEEPALIVE@/$3/; s/@BFD@/$4/" "$E_ROOT/tools/bird/router.conf"
	for ((i = 1; i <= $1; i++)); do
		echo "protocol bgp lb${i}_4 from lbnode4 { neighbor $(e_lb4 $i) as $E_LB_AS; }"
		echo "protocol bgp lb${i}_6 from lbnode6 { neighbor $(e_lb6 $i) as $E_LB_AS; }"
	done
}

# ecmp_bird_start PREFIX NODE CONF DIR: BIRD in NODE (control socket
# DIR/NODE.ctl, log DIR/NODE.bird.log); waits until it answers.
ecmp_bird_start() {
	local d=$4 i
	_EP=$1
	bird -p -c "$3" || return 1
	# not a job of the caller's shell: its namespace's teardown ends it
	(_ens "$2" bird -f -c "$3" -s "$d/$2.ctl" -P "$d/$2.bird.pid" </dev/null >>"$d/$2.bird.log" 2>&1 &)
	for ((i = 0; i < 50; i++)); do
		birdc -s "$d/$2.ctl" show status >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}

# ecmp_bird_reload DIR NODE: BIRD in NODE reads its configuration file again
# (a node joining: write the router's with one more pair, then reload); birdc
# exits 0 whatever happened, so its answer decides
ecmp_bird_reload() { birdc -s "$1/$2.ctl" configure | grep -q '^Reconfigur'; }

# ecmp_bird_stop DIR NODE
ecmp_bird_stop() {
	local pid
	pid=$(cat "$1/$2.bird.pid" 2>/dev/null) || return 0
	kill "$pid" 2>/dev/null
	rm -f "$1/$2.bird.pid"
}

# ecmp_backends_start PREFIX ECHOD: echod on every backend: port 80 (the
# talking VIPs) and 8080 (E_VIP4B), one process each, IPv4 and IPv6 on any
# address (the VIPs on lo and the backend's own, where health checks go).
ecmp_backends_start() {
	_EP=$1
	local n
	for n in be1 be2 be3; do
		ecmp_echod_start "$1" "$2" $n 80 && ecmp_echod_start "$1" "$2" $n 8080 || return 1
	done
}

# ecmp_decap_attach PREFIX LBDECAP PIN: lbdecap on every backend's eth0
# (pinned in PIN/lbdecap-beN, PIN on a bpffs) for E_VIP4I and E_VIP6G: no
# ipip, fou or ip6tnl in this kernel (LAB.md trap 4).
ecmp_decap_attach() {
	_EP=$1
	local n
	for n in be1 be2 be3; do
		_ens $n "$2" --pin "$3/lbdecap-$n" attach eth0 vip $E_VIP4I $E_VIP6G || return 1
	done
}

# ecmp_echod_start PREFIX ECHOD NODE PORT
ecmp_echod_start() {
	local i
	_EP=$1
	(_ens "$3" "$2" "$3" tcp 0.0.0.0 "$4" tcp :: "$4" </dev/null >/dev/null 2>&1 &)
	for ((i = 0; i < 50; i++)); do
		[ "$(_ens "$3" ss -Hltn "sport = :$4" | wc -l)" = 2 ] && return 0
		sleep 0.1
	done
	return 1
}

# ecmp_echod_stop PREFIX NODE PORT: the echod serving PORT on NODE gone
ecmp_echod_stop() {
	local pid
	for pid in $(ip netns pids "$1-$2"); do
		tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "echod $2 tcp 0.0.0.0 $3 " &&
			kill "$pid"
	done
	return 0
}

# ecmp_nexthops PREFIX ADDR: the router's kernel next hops for ADDR, one
# per line (none when it has no route)
ecmp_nexthops() {
	local f=-4
	case $2 in *:*) f=-6 ;; esac
	ip -n "$1-rt" $f route show "$2" 2>/dev/null | grep -oE 'via (inet6 )?[0-9a-f.:]+' | awk '{print $NF}'
}

# The router's route changes, timestamped by the kernel's notifications
# (`ip -ts monitor route`), so that measured withdrawal times do not depend
# on how fast a polling loop runs.
# ecmp_monitor_start PREFIX FILE: sets E_MON_PID
ecmp_monitor_start() {
	ip -n "$1-rt" -ts monitor route >"$2" 2>/dev/null &
	E_MON_PID=$!
	sleep 0.2
}
ecmp_monitor_stop() { [ -n "${E_MON_PID:-}" ] && kill "$E_MON_PID" 2>/dev/null && wait "$E_MON_PID" 2>/dev/null; E_MON_PID=; return 0; }

# ecmp_withdrawn_ms FILE ADDR NEXTHOP T0: ms from T0 (date +%s%N) to the
# first change after it that took NEXTHOP out of ADDR's route (a route for
# ADDR without it, or NEXTHOP's path deleted); nothing when there was none.
ecmp_withdrawn_ms() {
	local file=$1 addr=$2 nh=$3 t0=$4 ts rest rec="" line t
	while IFS= read -r line || [ -n "$line" ]; do
		if [[ $line == \[* ]]; then
			[ -n "$rec" ] && t=$(_ecmp_rec "$rec" "$addr" "$nh" "$t0") && { echo "$t"; return 0; }
			rec=$line
		else
			rec+=" $line"
		fi
	done <"$file"
	[ -n "$rec" ] && t=$(_ecmp_rec "$rec" "$addr" "$nh" "$t0") && echo "$t"
}
_ecmp_rec() { # a record "[TS] [Deleted ]ADDR ..." -> ms after T0 if it withdraws NH
	local rec=$1 ts rest ns
	ts=${rec%%]*}
	ts=${ts#[}
	rest=${rec#*] }
	case $rest in
	"Deleted $2 "*) [[ " $rest " == *" via $3 "* ]] || [[ " $rest " == *" via inet6 $3 "* ]] || return 1 ;;
	"$2 "*) [[ " $rest " != *" via $3 "* ]] || return 1 ;;
	*) return 1 ;;
	esac
	ns=$(date -d "${ts/T/ }" +%s%N) || return 1
	[ "$ns" -ge "$4" ] || return 1
	echo $(((ns - $4) / 1000000))
}
