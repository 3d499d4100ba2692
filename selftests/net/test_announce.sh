#!/usr/bin/env bash
# test_announce.sh - lbd --announce-table on one node (the l2 lab): one
# route per serving VIP address in table 100 (protocol 249 "xdplb", dev
# lo); `need N`; an address stays while one VIP on it serves and goes when
# none does (health checks); `node drain`/`undrain` (persisted, left out of
# `save`, traffic still forwarded); SIGTERM and SIGKILL leave the routes and
# a restart never removes them; --detach --announce-table removes them;
# routes lbd did not write are never touched; node show, stats, vip show
# and /metrics say it; the ring fingerprint is the same on a second lbd
# whose configuration was built in another order.
source "$(dirname "$0")/lib.sh"

TABLE=100
VIP80=$VIP4:80/tcp
VIP443=$VIP4:443/tcp
VIP6T="[$VIP6]:80/tcp"
METRICS=127.0.0.1:19469

routes() { # our routes in table 100, one "ADDR/LEN" per line, sorted
	{ ip -n "$P-lb" -4 route show table $TABLE proto 249; ip -n "$P-lb" -6 route show table $TABLE proto 249; } |
		awk '$1 !~ /\// { $1 = $1 ($1 ~ /:/ ? "/128" : "/32") } { print $1 }' | sort
}
routes_are() { [ "$(routes | tr '\n' ' ')" = "$1" ]; }
ALL="$VIP4/32 $VIP6/128 "
metric_line() { nsx lb curl -s --max-time 3 "http://$METRICS/metrics" | grep -qxF "$1"; }

setup() {
	local i
	lab_l2 || return 1
	for i in 1 2 3; do serve be$i 80; serve6 be$i 80; done
	serve be1 443
	# routes that are not lbd's: another protocol in its table, and the main table
	ip -n "$P-lb" route add 10.99.7.7/32 dev lo table $TABLE proto static &&
		ip -n "$P-lb" route add 10.99.7.8/32 dev lo proto 249 || return 1
	start_lbd --announce-table $TABLE --metrics $METRICS || { cat "$TMP/lbd.log"; return 1; }
	lbctl vip add $VIP80 check tcp interval 200ms timeout 200ms fall 2 rise 1 &&
		lbctl vip add $VIP443 check tcp interval 200ms timeout 200ms fall 2 rise 1 need 2 &&
		lbctl vip add "$VIP6T" check tcp interval 200ms timeout 200ms fall 2 rise 1 || return 1
	for i in 0 1 2; do
		lbctl backend add $VIP80 "${BE4[$i]}" && lbctl backend add $VIP443 "${BE4[$i]}" &&
			lbctl backend add "$VIP6T" "${BE6[$i]}" || return 1
	done
}

test_routes() {
	check routes_announced wait_for 50 routes_are "$ALL" || routes
	check route_form bash -c "ip -n $P-lb route show table $TABLE proto 249 | grep -q '^$VIP4 dev lo scope link'"
	check vip_need_saved bash -c "'$SAN/lbctl' -s '$SOCK' save | grep -qx 'vip add $VIP443 .* need 2'"
	# :443 has one backend up of the two it needs; :80 on the same address serves
	check need_not_serving bash -c "'$SAN/lbctl' -s '$SOCK' vip show $VIP443 | grep -q 'not serving: 1 of need 2 up, announced'"
	check need_metric_0 metric_line "xdplb_vip_serving{vip=\"$VIP443\"} 0"
	check need_metric_1 metric_line "xdplb_vip_serving{vip=\"$VIP80\"} 1"
	check address_metric metric_line "xdplb_address_announced{address=\"$VIP4\"} 1"
	check node_show bash -c "'$SAN/lbctl' -s '$SOCK' node show | grep -q '^$VIP4 *announced *serving'"
	check node_show_json bash -c "'$SAN/lbctl' -s '$SOCK' -j node show | python3 -c 'import json,sys; j=json.load(sys.stdin); assert not j[\"drained\"] and j[\"announce_table\"] == $TABLE and all(a[\"announced\"] for a in j[\"addresses\"]) and len(j[\"addresses\"]) == 2'"
	check stats_json_serving bash -c "'$SAN/lbctl' -s '$SOCK' -j stats | python3 -c 'import json,sys; j=json.load(sys.stdin); v={x[\"vip\"]: x for x in j[\"vips\"]}; assert v[\"$VIP80\"][\"serving\"] and v[\"$VIP80\"][\"announced\"] and not v[\"$VIP443\"][\"serving\"] and j[\"node\"][\"drained\"] is False'"
	# someone removes our route by hand: lbd puts it back
	ip -n "$P-lb" route del $VIP4/32 table $TABLE proto 249
	check route_repaired wait_for 60 routes_are "$ALL"
}

test_health() {
	local i
	for i in 1 2 3; do stop_serve be$i 80; done
	stop_serve be1 443
	check all_down_withdrawn wait_for 50 routes_are "" || routes
	check all_down_metric metric_line "xdplb_address_announced{address=\"$VIP4\"} 0"
	check all_down_vip_show bash -c "'$SAN/lbctl' -s '$SOCK' vip show $VIP80 | grep -q 'not serving: 0 of need 1 up, not announced'"
	check node_show_why bash -c "'$SAN/lbctl' -s '$SOCK' node show | grep -q '^$VIP4 *not announced *no VIP serving'"
	serve be2 80 # IPv4 only: one address back, the other not
	check one_up_announced wait_for 50 routes_are "$VIP4/32 " || routes
	for i in 1 2 3; do serve6 be$i 80; done
	for i in 1 3; do serve be$i 80; done
	serve be1 443
	check all_up_announced wait_for 50 routes_are "$ALL" || routes
	wait_for 50 bash -c "'$SAN/lbctl' -s '$SOCK' vip show | grep -c ' up ' | grep -qx 7"
}

test_drain() {
	local who
	check drain lbctl node drain
	check drain_withdrawn routes_are ""
	who=$(ask $VIP4 80 36000)
	check drain_forwarding_on test -n "$who"
	check drain_in_state grep -qx 'node drain' "$STATE"
	check drain_not_in_save bash -c "! '$SAN/lbctl' -s '$SOCK' save | grep -q node"
	check drain_metric metric_line "xdplb_node_drained 1"
	check drain_node_show bash -c "'$SAN/lbctl' -s '$SOCK' node show | grep -q '^$VIP4 *not announced *drained'"
	# restore keeps the node drained (the file holds configuration, not node state)
	"$SAN/lbctl" -s "$SOCK" save >"$TMP/conf"
	check drain_kept_by_restore bash -c "'$SAN/lbctl' -s '$SOCK' restore '$TMP/conf' && grep -qx 'node drain' '$STATE'"
	stop_lbd TERM
	start_lbd --announce-table $TABLE --metrics $METRICS
	sleep 1
	check drain_survives_restart routes_are ""
	check drain_shown_after_restart bash -c "'$SAN/lbctl' -s '$SOCK' node show | grep -q '^node drained'"
	check undrain lbctl node undrain
	check undrain_announced wait_for 50 routes_are "$ALL"
	check undrain_not_in_state bash -c "! grep -q node '$STATE'"
}

# restart_watch SIG: lbd stopped with SIG and started again while the table
# is sampled every 50 ms; the routes must never be missing.
restart_watch() {
	local sig=$1 log=$TMP/watch-$1 i
	(for ((i = 0; i < 120; i++)); do routes | tr '\n' ' '; echo; sleep 0.05; done >"$log") &
	local w=$!
	sleep 0.3
	stop_lbd "$sig"
	check "routes_kept_after_$sig" routes_are "$ALL"
	start_lbd --announce-table $TABLE --metrics $METRICS
	wait $w
	check "routes_never_missing_$sig" test "$(grep -cvx "$ALL" "$log")" = 0 ||
		sort "$log" | uniq -c
}

test_restart() {
	restart_watch TERM
	restart_watch KILL
	check restart_log_clean lbd_log_clean || grep -A30 -m1 -E 'Sanitizer|runtime error' "$TMP/lbd.log"
}

# A second lbd (lb2: a lone veth, generic XDP, backends' MACs as static
# neighbours) with the same VIPs, backends added in the reverse order and
# no health checks: every ring fingerprint equals the first lbd's.
test_fingerprint() {
	local i sock2=$TMP/lbd2.sock fp1 fp2
	ip netns add "$P-lb2" && ip -n "$P-lb2" link add eth0 type veth peer name eth1 &&
		ip -n "$P-lb2" link set eth0 up && ip -n "$P-lb2" link set eth1 up &&
		ip -n "$P-lb2" addr add 10.99.0.3/24 dev eth0 &&
		ip -n "$P-lb2" addr add fd99::3/64 dev eth0 nodad || { fail fingerprint_lab "lb2"; return; }
	for i in 0 1 2; do
		ip -n "$P-lb2" neigh add "${BE4[$i]}" lladdr "$(ip -n "$P-be$((i + 1))" link show eth0 | awk '/ether/ {print $2}')" dev eth0 nud permanent
		ip -n "$P-lb2" neigh add "${BE6[$i]}" lladdr "$(ip -n "$P-be$((i + 1))" link show eth0 | awk '/ether/ {print $2}')" dev eth0 nud permanent
	done
	ip netns exec "$P-lb2" "$SAN/lbd" --iface eth0 --xdp-mode generic --socket "$sock2" \
		--state "$TMP/state2" --pin "$PIN/lb2" --metrics none 2>>"$TMP/lbd2.log" &
	local pid2=$!
	wait_for 100 test -S "$sock2"
	l2() { "$SAN/lbctl" -s "$sock2" "$@"; }
	l2 vip add "$VIP6T" && l2 vip add $VIP443 need 2 && l2 vip add $VIP80
	for i in 2 1 0; do
		l2 backend add $VIP80 "${BE4[$i]}" && l2 backend add "$VIP6T" "${BE6[$i]}"
	done
	# :443 on the first lbd has only be1 up: give lb2 the same one member
	l2 backend add $VIP443 "${BE4[0]}"
	fp1=$(lbctl -j vip show | python3 -c 'import json,sys; print(" ".join(v["vip"]+"="+v["fingerprint"] for v in sorted(json.load(sys.stdin), key=lambda v: v["vip"])))')
	fp2=$(l2 -j vip show | python3 -c 'import json,sys; print(" ".join(v["vip"]+"="+v["fingerprint"] for v in sorted(json.load(sys.stdin), key=lambda v: v["vip"])))')
	check fingerprints_equal test -n "$fp1" -a "$fp1" = "$fp2" || echo "  lbd1: $fp1"$'\n'"  lbd2: $fp2"
	check fingerprints_not_empty test "${fp1/=-/}" = "$fp1"
	# and they tell rings apart: one more backend on lb2 changes its fingerprint
	l2 backend add $VIP80 10.99.0.14 weight 1
	ip -n "$P-lb2" neigh replace 10.99.0.14 lladdr 02:00:00:00:00:14 dev eth0 nud permanent
	check fingerprint_differs wait_for 30 bash -c "[ \"\$('$SAN/lbctl' -s '$sock2' -j vip show $VIP80 | grep -o '\"fingerprint\":\"[^\"]*\"')\" != \"\$('$SAN/lbctl' -s '$SOCK' -j vip show $VIP80 | grep -o '\"fingerprint\":\"[^\"]*\"')\" ]"
	fp1=${fp1#*"$VIP80="}
	check fingerprint_metric metric_line "xdplb_vip_ring_info{vip=\"$VIP80\",fingerprint=\"${fp1%% *}\"} 1"
	kill "$pid2"; wait "$pid2"
	check lbd2_log_clean bash -c "! grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' '$TMP/lbd2.log'"
	ip netns exec "$P-lb2" "$SAN/lbd" --iface eth0 --pin "$PIN/lb2" --detach 2>>"$TMP/lbd2.log"
}

test_detach() {
	stop_lbd TERM
	check detach_cmd ip netns exec "$P-lb" "$SAN/lbd" --iface eth0 --pin "$PIN" --announce-table $TABLE --detach
	check detach_withdrawn routes_are ""
	check foreign_route_in_table bash -c "ip -n $P-lb route show table $TABLE | grep -q '^10.99.7.7 .*proto static'"
	check foreign_route_in_main bash -c "ip -n $P-lb route show | grep -q '^10.99.7.8 .*proto 249'"
	check bad_table_refused bash -c "! ip netns exec $P-lb '$SAN/lbd' --iface eth0 --announce-table 254 --detach 2>/dev/null"
}

setup || { fail setup "lab or lbd"; summary; exit 1; }
test_routes
test_health
test_drain
test_restart
test_fingerprint
test_detach
check lbd_log_clean lbd_log_clean || grep -A30 -m1 -E 'Sanitizer|runtime error' "$TMP/lbd.log"
summary
[ $n_fail -eq 0 ]
