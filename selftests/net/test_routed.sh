#!/usr/bin/env bash
# test_routed.sh - the routed lab (tools/lab/routed.sh): client, router, LB
# and three backends on three subnets.  Real lbd and lbctl (ASan + UBSan
# builds) forward VIPs by ipip (4in4, 6in6, 4in6) and gue (v4, v6, 4in6);
# backends run nginx and echod (UDP) and decapsulate with lbdecap (also a
# sanitizer build).  Checked: every request answered, every backend used,
# backends see the real client addresses, replies never cross the LB
# (nftables counters on the router that are shown to count first), the
# decapsulation counters per kind, that without lbdecap a backend gets
# nothing, and lbdecap's command-line contract.
source "$(dirname "$0")/lib.sh"
source "$ROOT/tools/lab/routed.sh"

NREQ=30                          # requests per VIP: P(a backend unused) = 3 * (2/3)^30 < 2e-5
CLIENTS4=($R_CL4) CLIENTS6=($R_CL6)
for ((i = 0; i < R_CLIENTS; i++)); do CLIENTS4+=(10.99.10.$((20 + i))); CLIENTS6+=(fd99:10::$((20 + i))); done

lbdecap() { # lbdecap NODE ARGS...: the sanitizer build with NODE's pin directory
	local n=$1; shift
	nsx "$n" "$SAN/lbdecap" --pin "$PIN/lbdecap-$n" "$@" 2>>"$TMP/lbdecap.log"
}

nginx_up() { # nginx_up NODE: ports 80 and 8080, answers "NODE CLIENT-ADDRESS"
	local n=$1 d=$TMP/$1
	mkdir -p "$d"
	cat >"$d/nginx.conf" <<-CONF
	user root;
	worker_processes 1;
	pid $d/nginx.pid;
	error_log $d/error.log;
	events { worker_connections 256; }
	http {
		access_log $d/access.log;
		client_body_temp_path $d; proxy_temp_path $d;
		fastcgi_temp_path $d; uwsgi_temp_path $d; scgi_temp_path $d;
		server { listen 80; listen [::]:80; listen 8080; listen [::]:8080;
			 location / { return 200 "$n \$remote_addr\n"; } }
	}
	CONF
	nsx "$n" nginx -c "$d/nginx.conf" -p "$d"
}

udp_up() { # udp_up NODE: port 53 on both VIPs (bound: replies come from the VIP)
	nsx "$1" "$BUILD/echod" "$1" udp $R_VIP4 53 udp $R_VIP6 53 </dev/null >/dev/null 2>>"$TMP/echod-$1.log" &
}

# Router counters: packets from a VIP leaving towards the LB (must stay 0),
# towards the client, and packets to a VIP towards the LB.
nft_up() {
	nsx rt nft -f - <<-NFT
	table inet xlb {
		counter reply_via_lb {}
		counter reply_to_client {}
		counter request_to_lb {}
		chain forward {
			type filter hook forward priority 0; policy accept;
			oifname "lb" ip saddr $R_VIP_NET4 counter name reply_via_lb
			oifname "lb" ip6 saddr $R_VIP_NET6 counter name reply_via_lb
			oifname "cl" ip saddr $R_VIP_NET4 counter name reply_to_client
			oifname "cl" ip6 saddr $R_VIP_NET6 counter name reply_to_client
			oifname "lb" ip daddr $R_VIP_NET4 counter name request_to_lb
			oifname "lb" ip6 daddr $R_VIP_NET6 counter name request_to_lb
		}
	}
	NFT
}
nft_packets() { nsx rt nft list counter inet xlb "$1" | grep -o 'packets [0-9]*' | awk '{print $2}'; }

setup() {
	local n i
	routed_topology "$P" "$BUILD/bpf/xdp_pass.bpf.o" || return 1
	mkdir -p "$PIN" && mount -t bpf bpf "$PIN" || return 1 # LAB.md trap 3
	nft_up || return 1
	for n in be1 be2 be3; do
		nginx_up $n || return 1
		udp_up $n
	done
	start_lbd --xdp-mode native || { cat "$TMP/lbd.log"; return 1; }
	lbctl vip add $R_VIP4:80/tcp method ipip && lbctl vip add "[$R_VIP6]:80/tcp" method ipip &&
		lbctl vip add $R_VIP4B:80/tcp method ipip && lbctl vip add $R_VIP4:8080/tcp method gue &&
		lbctl vip add "[$R_VIP6]:8080/tcp" method gue && lbctl vip add $R_VIP4B:8080/tcp method gue &&
		lbctl vip add $R_VIP4:53/udp method gue && lbctl vip add "[$R_VIP6]:53/udp" method ipip ||
		return 1
	for i in 0 1 2; do
		lbctl backend add $R_VIP4:80/tcp "${R_BE4[$i]}" &&
			lbctl backend add "[$R_VIP6]:80/tcp" "${R_BE6[$i]}" &&
			lbctl backend add $R_VIP4B:80/tcp "${R_BE6[$i]}" &&
			lbctl backend add $R_VIP4:8080/tcp "${R_BE4[$i]}" &&
			lbctl backend add "[$R_VIP6]:8080/tcp" "${R_BE6[$i]}" &&
			lbctl backend add $R_VIP4B:8080/tcp "${R_BE6[$i]}" &&
			lbctl backend add $R_VIP4:53/udp "${R_BE4[$i]}" &&
			lbctl backend add "[$R_VIP6]:53/udp" "${R_BE6[$i]}" || return 1
	done
}

test_lbdecap_attach() {
	local n
	for n in be1 be2 be3; do
		check "lbdecap_attach_$n" lbdecap $n attach eth0 vip $R_VIP4 $R_VIP4B vip $R_VIP6
	done
	check lbdecap_status_attached bash -c "ip netns exec $P-be1 '$SAN/lbdecap' --pin '$PIN/lbdecap-be1' -j status |
		grep -q '\"name\":\"eth0\",\"ifindex\":[0-9]*,\"state\":\"attached\"'"
	check lbdecap_filter_in_tc bash -c "ip netns exec $P-be1 tc filter show dev eth0 ingress | grep -q lbdecap"
}

# The next hop of every backend is the router: lbd must have resolved its MAC.
test_nexthop_is_router() {
	local mac
	mac=$(ip -n "$P-rt" link show lb | awk '/link\/ether/ {print $2}')
	check nexthop_router_mac wait_for 50 bash -c "[ \$('$SAN/lbctl' -s '$SOCK' vip show | grep -c ' $mac') = 24 ]" ||
		lbctl vip show
}

# The counters can count: a packet from a VIP towards the LB's subnet (an
# address nobody has) is counted as a reply crossing the LB.
test_counter_sensitive() {
	nsx be1 ping -c1 -W1 -I $R_VIP4 10.99.20.99 >/dev/null 2>&1
	nsx be1 ping -c1 -W1 -I $R_VIP6 fd99:20::99 >/dev/null 2>&1
	check nft_counter_counts test "$(nft_packets reply_via_lb)" = 2
	nsx rt nft reset counters table inet xlb >/dev/null
	check nft_counter_reset test "$(nft_packets reply_via_lb)" = 0
}

# tcp_requests NAME URL-HOST PORT FAMILY: NREQ requests, source addresses in turn.
tcp_requests() {
	local name=$1 host=$2 port=$3 fam=$4 out srcs
	if [ "$fam" = 4 ]; then srcs="${CLIENTS4[*]}"; else srcs="${CLIENTS6[*]}"; fi
	out=$(nsx cl bash -c "
		srcs=($srcs)
		for ((i = 0; i < $NREQ; i++)); do
			s=\${srcs[i % \${#srcs[@]}]}
			r=\$(curl -s --max-time 3 --interface \$s http://$host:$port/) || r=FAILED
			echo \"\$s \$r\"
		done")
	echo "$out" >"$TMP/req-$name"
	check "${name}_all_answered" test "$(grep -c ' be[123] ' <<<"$out")" = $NREQ ||
		{ grep -v ' be[123] ' <<<"$out" | head -3; }
	check "${name}_every_backend" test "$(awk '{print $2}' <<<"$out" | sort -u | tr '\n' ' ')" = "be1 be2 be3 "
	# the backend saw the address the client sent from
	check "${name}_client_address_seen" test "$(awk '$1 != $3' <<<"$out" | wc -l)" = 0
}

# udp_requests NAME VIP FAMILY: NREQ datagrams, each from a new socket (a new
# flow), each answered by echod exactly once: no retry.  The sockets stay
# open until the end, so no port is used twice.  On a loss, where it was
# lost: the forwarder's, lbdecap's and each backend's UDP counters.
udp_requests() {
	local name=$1 vip=$2 fam=$3 out ok=1 addr
	out=$(nsx cl bash -c "
		for ((i = 0; i < $NREQ; i++)); do
			exec {fd}<>/dev/udp/$vip/53
			printf q >&\$fd
			r=\$(timeout 2 dd bs=512 count=1 status=none <&\$fd)
			echo \"\${r:-FAILED}\"
		done")
	echo "$out" >"$TMP/req-$name"
	check "${name}_all_answered" test "$(grep -c '^be[123] ' <<<"$out")" = $NREQ ||
		udp_loss_report "$out"
	check "${name}_every_backend" test "$(awk '{print $1}' <<<"$out" | sort -u | tr '\n' ' ')" = "be1 be2 be3 "
	for addr in $(grep -v FAILED <<<"$out" | awk '{print $2}' | sort -u); do
		if [ "$fam" = 4 ]; then
			[[ " ${CLIENTS4[*]} " == *" $addr "* ]] || ok=0
		else
			[[ " ${CLIENTS6[*]} " == *" $addr "* ]] || ok=0
		fi
	done
	check "${name}_client_address_seen" test $ok = 1
}

udp_loss_report() { # the unanswered requests and the counters along their way
	local n
	grep -vn '^be[123] ' <<<"$1" | head -3
	lbctl stats | head -20
	for n in be1 be2 be3; do
		echo "  $n: $(nsx $n grep -A1 '^Udp:' /proc/net/snmp | tail -n 1 | awk '{print "UdpInDatagrams " $2 ", NoPorts " $3 ", InErrors " $4 ", RcvbufErrors " $6}')"
		lbdecap $n -j status | head -c 600; echo
	done
}

test_traffic() {
	tcp_requests ipip_4in4 $R_VIP4 80 4
	tcp_requests ipip_6in6 "[$R_VIP6]" 80 6
	tcp_requests ipip_4in6 $R_VIP4B 80 4
	tcp_requests gue_4in4 $R_VIP4 8080 4
	tcp_requests gue_6in6 "[$R_VIP6]" 8080 6
	tcp_requests gue_4in6 $R_VIP4B 8080 4
	udp_requests gue_udp4 $R_VIP4 4
	udp_requests ipip_udp6 $R_VIP6 6
}

test_replies_direct() {
	local nreq=$((8 * NREQ))
	check replies_not_via_lb test "$(nft_packets reply_via_lb)" = 0
	check replies_to_client test "$(nft_packets reply_to_client)" -ge $nreq
	check requests_via_lb test "$(nft_packets request_to_lb)" -ge $nreq
	check lb_forwarded bash -c "'$SAN/lbctl' -s '$SOCK' -j stats | grep -q '\"tx\":[1-9]'"
}

test_backend_logs() {
	local n addrs bad=0
	for n in be1 be2 be3; do
		addrs=$(awk '{print $1}' "$TMP/$n/access.log" | sort -u)
		for a in $addrs; do
			[[ " ${CLIENTS4[*]} ${CLIENTS6[*]} " == *" $a "* ]] || { bad=1; echo "  $n logged $a"; }
		done
		[ -n "$addrs" ] || bad=1
	done
	check backends_log_only_clients test $bad = 0
}

counter() { # counter NODE NAME: one lbdecap counter, from the status read last
	grep -o "\"$2\":[0-9]*" "$TMP/status-$1" | cut -d: -f2
}

test_decap_counters() {
	local k n sum total drops=0
	for n in be1 be2 be3; do lbdecap $n -j status >"$TMP/status-$n"; done
	for k in decap_ipip_4in4 decap_ipip_6in6 decap_ipip_4in6 decap_gue_4in4 decap_gue_6in6 decap_gue_4in6; do
		sum=0
		for n in be1 be2 be3; do sum=$((sum + $(counter $n $k))); done
		check "counter_${k}_moved" test $sum -ge $NREQ
	done
	for n in be1 be2 be3; do
		total=0
		for k in decap_ipip_4in4 decap_ipip_6in6 decap_ipip_4in6 decap_gue_4in4 decap_gue_6in6 decap_gue_4in6; do
			total=$((total + $(counter $n $k)))
		done
		check "counter_${n}_decapsulated" test $total -gt 0
		for k in drop_malformed drop_gso_mixed drop_adjust; do drops=$((drops + $(counter $n $k))); done
	done
	check counters_no_drops test $drops = 0
}

# Without lbdecap a backend gets nothing: a flow lbd sends to be1 fails while
# be1 is detached and works again once it is attached.
test_detach_reattach() {
	local p port= out st
	for ((p = 42000; p < 42100; p++)); do
		if lbctl flow lookup $R_VIP4:80/tcp $R_CL4:$p | grep -q "${R_BE4[0]} "; then port=$p; break; fi
	done
	check flow_to_be1_found test -n "$port" || return
	check detach_be1 lbdecap be1 detach eth0
	check detach_unpinned test ! -e "$PIN/lbdecap-be1"
	check detach_filter_gone bash -c "! ip netns exec $P-be1 tc filter show dev eth0 ingress | grep -q lbdecap"
	out=$(nsx cl curl -s --max-time 2 --interface $R_CL4 --local-port $port http://$R_VIP4/)
	check detached_be1_gets_nothing test -z "$out"
	out=$(nsx be1 "$SAN/lbdecap" --pin "$PIN/lbdecap-be1" detach eth0 2>&1); st=$?
	check detach_twice_refused test $st = 1 -a "$out" = "lbdecap: not attached to eth0 (nothing pinned at $PIN/lbdecap-be1)"
	check reattach_be1 lbdecap be1 attach eth0 vip $R_VIP4 $R_VIP4B $R_VIP6
	out=$(nsx cl curl -s --max-time 3 --interface $R_CL4 --local-port $port http://$R_VIP4/)
	check reattached_be1_answers test "$out" = "be1 $R_CL4"
}

test_cli() {
	local out st
	out=$(nsx be2 "$SAN/lbdecap" --pin "$PIN/lbdecap-be2" attach eth0 vip $R_VIP4 2>&1); st=$?
	check cli_attach_twice test $st = 1 -a "$out" = "lbdecap: already attached to eth0"
	out=$(nsx be2 "$SAN/lbdecap" --pin "$PIN/lbdecap-be2" detach lo 2>&1); st=$?
	check cli_detach_not_attached test $st = 1 -a "$out" = "lbdecap: not attached to lo"
	out=$(nsx be2 "$SAN/lbdecap" --pin "$PIN/lbdecap-be2" attach 2>&1); st=$?
	check cli_usage_exit2 test $st = 2 -a "${out#lbdecap: }" != "$out"
	out=$(nsx be2 "$SAN/lbdecap" --pin "$PIN/lbdecap-be2" attach eth0 vip 10.1.2.300 2>&1); st=$?
	check cli_bad_address_exit2 test $st = 2 -a "${out#lbdecap: }" != "$out"
	out=$(nsx be2 "$SAN/lbdecap" --pin "$PIN/lbdecap-be2" vip add $R_VIP4 2>&1); st=$?
	check cli_vip_exists test $st = 1 -a "$out" = "lbdecap: VIP $R_VIP4 is already configured"
	out=$(nsx be2 "$SAN/lbdecap" --pin "$TMP/not-bpffs" attach eth0 vip $R_VIP4 2>&1); st=$?
	check cli_pin_not_bpffs test $st = 1 -a "${out/not on a bpf filesystem/}" != "$out"
	check cli_status_human bash -c "ip netns exec $P-be2 '$SAN/lbdecap' --pin '$PIN/lbdecap-be2' status |
		grep -q '^vips: .*$R_VIP6'"
}

main() {
	setup || { fail setup "cannot build the routed lab"; summary; exit 1; }
	test_lbdecap_attach
	test_nexthop_is_router
	test_counter_sensitive
	test_traffic
	test_replies_direct
	test_backend_logs
	test_decap_counters
	test_detach_reattach
	test_cli
	stop_lbd TERM
	check lbd_sanitizers_clean lbd_log_clean
	check lbdecap_sanitizers_clean bash -c "! grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' '$TMP/lbdecap.log'"
	summary
}

main
