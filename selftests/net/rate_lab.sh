#!/usr/bin/env bash
# rate_lab.sh - the live-frames lab of selftests/bench/rate.sh and
# test_rate.sh; source it after lib.sh.  Two namespaces joined by one veth:
# $P-gen (g0: bench_gen sends, bench_count counts) and $P-lb (eth0: lbd's
# forwarder in native mode).  The backends are only MACs: a permanent
# neighbour for the l2 backend and for the router towards the ipip backend.
# IPv6 is off on both ends so that no frame but the generator's crosses.

R_GEN_MAC=02:00:00:00:01:01
R_LB_MAC=02:00:00:00:01:02
R_BE_MAC=02:00:00:00:01:11 # the l2 backend
R_GW_MAC=02:00:00:00:01:fe # the router towards the ipip backend
R_LB4=10.98.0.2
R_BE_L2=10.98.0.11
R_GW=10.98.0.254
R_BE_IPIP=10.98.2.11
R_VIP_L2=10.98.1.100
R_VIP_IPIP=10.98.1.101

lab_rate() {
	local n
	for n in gen lb; do
		ip netns add "$P-$n" || return 1
		nsx $n sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
	done
	ip link add g0 netns "$P-gen" address $R_GEN_MAC type veth \
		peer name eth0 netns "$P-lb" address $R_LB_MAC || return 1
	ip -n "$P-gen" link set lo up && ip -n "$P-gen" link set g0 up &&
		ip -n "$P-lb" link set lo up && ip -n "$P-lb" link set eth0 up &&
		ip -n "$P-lb" addr add $R_LB4/24 dev eth0 &&
		ip -n "$P-lb" neigh add $R_BE_L2 lladdr $R_BE_MAC dev eth0 nud permanent &&
		ip -n "$P-lb" neigh add $R_GW lladdr $R_GW_MAC dev eth0 nud permanent &&
		ip -n "$P-lb" route add 10.98.2.0/24 via $R_GW || return 1
	mkdir -p "$PIN" && mount -t bpf bpf "$PIN" # LAB.md trap 3
}

# rate_config: an l2 VIP and an ipip VIP, one backend each, MACs resolved.
rate_config() {
	lbctl vip add $R_VIP_L2:80/tcp method l2 >/dev/null &&
		lbctl backend add $R_VIP_L2:80/tcp $R_BE_L2 >/dev/null &&
		lbctl vip add $R_VIP_IPIP:80/tcp method ipip >/dev/null &&
		lbctl backend add $R_VIP_IPIP:80/tcp $R_BE_IPIP >/dev/null || return 1
	wait_for 50 bash -c "'$SAN/lbctl' -s '$SOCK' vip show | grep -q $R_BE_MAC &&
		'$SAN/lbctl' -s '$SOCK' vip show | grep -q $R_GW_MAC"
}

# rate_gen ARGS...: xdplb-bench rate-gen in the generator's namespace (lbd pins
# under $PIN/IFACE).
rate_gen() {
	nsx gen "$BUILD/xdplb-bench" rate-gen --iface g0 --pin "$PIN/eth0" --lb-mac $R_LB_MAC \
		--l2 $R_VIP_L2 --l2-mac $R_BE_MAC --ipip $R_VIP_IPIP --ipip-mac $R_GW_MAC \
		--ipip-backend $R_BE_IPIP "$@"
}

# veth_drops: the drop and error counters of both ends, "NAME=VALUE" per line.
veth_drops() {
	{
		nsx gen ethtool -S g0 | sed 's/^ */g0:/'
		nsx lb ethtool -S eth0 | sed 's/^ */lb-eth0:/'
	} | grep -E 'drop|err|full' | tr -d ' ' | sed 's/:\([0-9]*\)$/=\1/'
}
