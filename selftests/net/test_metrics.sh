#!/usr/bin/env bash
# test_metrics.sh - lbd's /metrics and lbctl stats/top/flows (ASan + UBSan
# builds) in the l2 lab: the page passes the real `promtool check metrics`,
# counters and rates move by exactly the known traffic, gzip, 404/405/HEAD,
# garbage, oversized headers and slowloris survived, a real Prometheus
# server scrapes lbd and answers a query, `lbctl top` in a pty quits on q
# and Ctrl-C with the terminal restored.
source "$(dirname "$0")/lib.sh"

M=127.0.0.1:9469           # lbd's default, on the LB namespace's own loopback
PROM=127.0.0.1:9090        # Prometheus, also inside the LB namespace
TCP_VIP=$VIP4:80/tcp
UDP_VIP=$VIP4:5353/udp
PAYLOAD=100                # UDP payload: frames of 14 + 20 + 8 + 100 bytes
FRAME=142

scrape() { nsx lb curl -s --max-time 5 "$@" "http://$M/metrics"; }
# value NAME{LABELS}: the sample's value on a fresh page ("" if absent)
value() { scrape | awk -v s="$1" 'index($0, s " ") == 1 { print $NF }'; }
http_code() { nsx lb curl -s -o /dev/null --max-time 5 -w '%{http_code}' "$@"; }
# the flow-table families appear once lbd's first background count ended
counted() { scrape | grep -q '^xdplb_flow_table_count_timestamp_seconds '; }

# n datagrams of $PAYLOAD bytes from one client port (bash picks it) to the UDP VIP
send_udp() { # send_udp N [SLEEP]
	nsx cl bash -c "exec 3>/dev/udp/$VIP4/5353
		for ((i = 0; i < $1; i++)); do printf '%${PAYLOAD}s' '' >&3; ${2:+sleep $2;} done"
}

test_promtool() {
	local page=$TMP/page n t0=$SECONDS
	check promtool_first_count_ended wait_for 200 counted
	echo "first flow-table count ended within $((SECONDS - t0)) s of the first scrape"
	scrape >"$page"
	n=$(grep -vc '^#' "$page")
	check promtool_page_nonempty test "$n" -gt 40
	check promtool_check_metrics bash -c "promtool check metrics <'$page'"
	for f in xdplb_vip_packets_total xdplb_vip_bytes_total xdplb_vip_new_flows_total \
		xdplb_backend_packets_total xdplb_backend_bytes_total xdplb_backend_new_flows_total \
		xdplb_backend_up xdplb_backend_weight xdplb_packets_total xdplb_drops_total \
		xdplb_flow_table_entries xdplb_flow_table_capacity xdplb_flow_table_misses_total \
		xdplb_backend_health_last_change_timestamp_seconds xdplb_ring_rebuilds_total \
		xdplb_control_operations_total xdplb_build_info; do
		grep -q "^# TYPE $f " "$page" || { fail "promtool_family_$f" "no # TYPE $f"; return; }
	done
	pass promtool_design_families_present
	check promtool_v6_label_form grep -q "^xdplb_vip_packets_total{vip=\"\[$VIP6\]:443/tcp\"} " "$page"
	check promtool_nonsyn_misses grep -q '^xdplb_flow_table_misses_total{packet="nonsyn"} ' "$page"
}

test_known_traffic() {
	local vip="{vip=\"$UDP_VIP\"}" p0 b0 f0 t0 p1 b1 f1 t1 bsum js
	p0=$(value "xdplb_vip_packets_total$vip"); b0=$(value "xdplb_vip_bytes_total$vip")
	f0=$(value "xdplb_vip_new_flows_total$vip"); t0=$(value 'xdplb_packets_total{action="tx"}')
	for k in 1 2 3 4; do send_udp 10; done # 40 datagrams, 4 flows
	sleep 0.2
	p1=$(value "xdplb_vip_packets_total$vip"); b1=$(value "xdplb_vip_bytes_total$vip")
	f1=$(value "xdplb_vip_new_flows_total$vip"); t1=$(value 'xdplb_packets_total{action="tx"}')
	check known_traffic_packets test "$((p1 - p0))" = 40
	check known_traffic_bytes test "$((b1 - b0))" = $((40 * FRAME))
	check known_traffic_new_flows test "$((f1 - f0))" = 4
	check known_traffic_tx_action test "$((t1 - t0))" -ge 40
	bsum=$(scrape | awk -v s="xdplb_backend_packets_total{vip=\"$UDP_VIP\"," 'index($0, s) == 1 { n += $NF } END { print n }')
	check known_traffic_backends_sum test "$bsum" = "$p1"
	js=$(lbctl -j stats $UDP_VIP)
	check known_traffic_lbctl_agrees grep -q "\"vip\":\"$UDP_VIP\",\"serving\":true,\"announced\":false,\"packets\":$p1,\"bytes\":$b1,\"new_flows\":$f1," <<<"$js"
	check known_traffic_flows_listed bash -c "'$SAN/lbctl' -s '$SOCK' -j flows $UDP_VIP | grep -q '\"total\":4,\"established\":4,\"half_open\":0,'"
	check known_traffic_flows_sorted bash -c "'$SAN/lbctl' -s '$SOCK' flows $UDP_VIP top 2 | awk 'NR > 1 { print \$7 }' | sort -c -rn"
}

# The exact arithmetic of rates is checked in test_progs (metrics_lbd); here,
# on a machine others share, that lbd's 1 s sampler sees live traffic: a
# positive rate while it flows, bit/s = packets/s x frame bits (one frame
# size), and 0 again once it stops.
vip_rate() { # vip_rate pps|bps [JSON]: the VIP's rate, from JSON if given
	local js=${2:-$(lbctl -j stats $UDP_VIP)}
	grep -o "\"$1\":[0-9.]*" <<<"$js" | head -1 | cut -d: -f2
}

rate_positive() { awk -v p="$(vip_rate pps)" 'BEGIN { exit !(p > 0) }'; }

test_rates() {
	local pps bps js
	send_udp 150 0.02 &
	local sender=$!
	check rates_positive_under_traffic wait_for 40 rate_positive
	js=$(lbctl -j stats $UDP_VIP) # one snapshot: both rates of one sample
	pps=$(vip_rate pps "$js")
	bps=$(vip_rate bps "$js")
	check rates_bps_is_pps_times_frame awk -v p="$pps" -v b="$bps" -v f=$FRAME \
		'BEGIN { exit !(p > 0 && b >= p * f * 8 * 0.99 && b <= p * f * 8 * 1.01) }' ||
		echo "pps $pps bps $bps"
	wait $sender
	check rates_zero_after_traffic wait_for 40 bash -c "'$SAN/lbctl' -s '$SOCK' -j stats $UDP_VIP | grep -q '\"pps\":0.0,'"
	check rates_top_json_lines bash -c "'$SAN/lbctl' -s '$SOCK' -j top count 2 interval 200ms |
		python3 -c 'import json, sys; l = [json.loads(x) for x in sys.stdin]; assert len(l) == 2 and l[0][\"vips\"][0][\"vip\"]'"
}

test_http() {
	local h=$TMP/headers
	nsx lb curl -s --max-time 5 -H 'Accept-Encoding: gzip' -D "$h" -o "$TMP/page.gz" "http://$M/metrics"
	check gzip_header grep -qi '^Content-Encoding: gzip' "$h"
	check gzip_valid_page bash -c "gunzip -c '$TMP/page.gz' | promtool check metrics && gunzip -c '$TMP/page.gz' | grep -q '^xdplb_vip_packets_total'"
	check gzip_not_unasked bash -c "! ip netns exec $P-lb curl -s -D - -o /dev/null http://$M/metrics | grep -qi content-encoding"
	check content_type bash -c "ip netns exec $P-lb curl -s -D - -o /dev/null http://$M/metrics | grep -qi '^Content-Type: text/plain; version=0.0.4'"
	check http_404 test "$(http_code "http://$M/")" = 404
	check http_404_prefix test "$(http_code "http://$M/metricsx")" = 404
	check http_405_post test "$(http_code -X POST -d x=1 "http://$M/metrics")" = 405
	check http_405_allow bash -c "ip netns exec $P-lb curl -s -D - -o /dev/null -X DELETE http://$M/metrics | grep -qi '^Allow: GET, HEAD'"
	check http_head bash -c "[ \"\$(ip netns exec $P-lb curl -s -I -o /dev/null -w '%{http_code} %{size_download}' http://$M/metrics)\" = '200 0' ]"
	check http_query_string_ok test "$(http_code "http://$M/metrics?x=1")" = 200
}

test_abuse() {
	local big code t0 t1 n i
	# garbage, then a request line of 64 KiB, then headers of 64 KiB
	head -c 4096 /dev/urandom | nsx lb timeout 5 socat -t 2 - TCP:$M >"$TMP/garbage.out" 2>/dev/null
	check abuse_garbage_answered_or_closed test "$(value xdplb_vips)" = 3
	big=$(head -c 65536 /dev/zero | tr '\0' a)
	code=$(http_code "http://$M/metrics?$big")
	check abuse_long_url_refused test "$code" -ge 400 -a "$code" -lt 500
	code=$(http_code -H "X-Big: $big" "http://$M/metrics")
	check abuse_big_header_refused test "$code" -ge 400 -a "$code" -lt 500
	check abuse_alive_after_oversized test "$(value xdplb_vips)" = 3
	# slowloris: 40 connections from 127.0.0.2 that send half a request
	# and then nothing (each socat's child ends by itself after 25 s)
	local slow=()
	printf '%s\n' "printf 'GET /metrics HTTP/1.1\\r\\n'" 'sleep 25' >"$TMP/slow.sh"
	for ((i = 0; i < 40; i++)); do
		nsx lb socat -T 30 EXEC:"sh $TMP/slow.sh" TCP:$M,bind=127.0.0.2 >/dev/null 2>&1 &
		slow+=($!)
	done
	sleep 1
	n=$(nsx lb ss -Htn state established "( dport = :9469 and src 127.0.0.2 )" | wc -l)
	check slowloris_per_address_cap test "$n" -ge 8 -a "$n" -le 16
	t0=$(date +%s%N)
	check slowloris_scrape_served test "$(value xdplb_vips)" = 3
	check slowloris_ctl_served lbctl vip show $TCP_VIP
	t1=$(date +%s%N)
	check slowloris_no_delay test $(((t1 - t0) / 1000000)) -lt 5000
	# the server drops them after its idle timeout (10 s)
	check slowloris_timed_out wait_for 150 bash -c "[ \$(ip netns exec $P-lb ss -Htn state established '( dport = :9469 and src 127.0.0.2 )' | wc -l) = 0 ]"
	kill "${slow[@]}" 2>/dev/null # teardown reaps the rest with the namespaces
}

test_prometheus() {
	local d=$TMP/prom q v
	mkdir -p "$d/data"
	cat >"$d/prometheus.yml" <<-EOF
	global:
	  scrape_interval: 1s
	  scrape_timeout: 1s
	scrape_configs:
	  - job_name: xdplb
	    static_configs:
	      - targets: ['$M']
	EOF
	check prometheus_config_valid promtool check config "$d/prometheus.yml"
	nsx lb prometheus --config.file="$d/prometheus.yml" --storage.tsdb.path="$d/data" \
		--web.listen-address=$PROM >"$d/log" 2>&1 &
	check prometheus_ready wait_for 300 nsx lb curl -sf "http://$PROM/-/ready" || { tail -20 "$d/log"; return; }
	send_udp 25
	# a counter that moved, through the query API: the UDP VIP's packets, 40 + 150 + 25
	q="xdplb_vip_packets_total{vip=\"$UDP_VIP\"}"
	check prometheus_query_moved wait_for 200 bash -c "ip netns exec $P-lb curl -s -G 'http://$PROM/api/v1/query' --data-urlencode 'query=$q' |
		python3 -c 'import json, sys; r = json.load(sys.stdin)[\"data\"][\"result\"]; sys.exit(not (r and float(r[0][\"value\"][1]) >= 215))'"
	v=$(nsx lb curl -s -G "http://$PROM/api/v1/query" --data-urlencode 'query=up{job="xdplb"}')
	check prometheus_target_up grep -q '"value":\[[0-9.]*,"1"\]' <<<"$v"
	v=$(nsx lb curl -s -G "http://$PROM/api/v1/query" --data-urlencode 'query=scrape_samples_scraped{job="xdplb"}')
	check prometheus_samples_scraped grep -qE '"value":\[[0-9.]*,"[0-9]{2,}"\]' <<<"$v"
}

# lbctl top in a pseudo-terminal (script): keys are read one by one, q and
# Ctrl-C quit with status 0, and the shell after it finds the terminal in
# canonical mode with echo on again.
top_in_pty() { # top_in_pty KEYS OUT
	(sleep 2; printf "$1"; sleep 4) | timeout 20 script -qfec \
		"sh -c 'trap : INT; ASAN_OPTIONS=$ASAN_OPTIONS $SAN/lbctl -s $SOCK top interval 300ms; echo lbctl-rc=\$?; stty -a'" \
		/dev/null >"$2" 2>&1
}

# what `stty -a` printed after lbctl exited: canonical mode and echo on
tty_restored() {
	local after
	after=$(sed -n '/lbctl-rc/,$p' "$1" | tr -d '\r')
	grep -qE '(^| )icanon( |$)' <<<"$after" && grep -qE '(^| )echo( |$)' <<<"$after"
}

test_top_tty() {
	local o=$TMP/top.out
	top_in_pty q "$o"
	check top_q_quits grep -q 'lbctl-rc=0' "$o" || cat -v "$o" | tail -5
	check top_drew_vips grep -q "$UDP_VIP" "$o"
	check top_alternate_screen_left grep -q $'\e\[?1049l' "$o"
	check top_tty_restored tty_restored "$o"
	top_in_pty '\003' "$o"
	check top_ctrl_c_quits grep -q 'lbctl-rc=0' "$o"
	check top_ctrl_c_tty_restored tty_restored "$o"
	check top_bad_usage bash -c "'$SAN/lbctl' -s '$SOCK' top interval 1ms 2>&1 >/dev/null | grep -q '^lbctl: \"interval\" must be'; [ \${PIPESTATUS[0]} = 2 ]"
}

test_lbd_flags() {
	local out st
	out=$(nsx lb "$SAN/lbd" --iface eth0 --socket "$TMP/x.sock" --state "$TMP/x.state" --pin "$PIN" --metrics 127.0.0.1 2>&1); st=$?
	check metrics_flag_bad_refused test $st = 2
	check metrics_flag_bad_says_why grep -q 'lbd: --metrics: bad listen address "127.0.0.1"' <<<"$out"
	out=$(nsx lb "$SAN/lbd" --iface eth0 --socket "$TMP/x.sock" --state "$TMP/x.state" --pin "$PIN/x" 2>&1); st=$?
	check metrics_port_taken_refused test $st = 1
	check metrics_port_taken_says_why grep -q "lbd: cannot serve metrics on $M" <<<"$out"
	check metrics_port_taken_no_change test ! -e "$TMP/x.state" -a ! -e "$TMP/x.sock"
}

main() {
	lab_l2 || { fail lab "cannot build the lab"; summary; exit 1; }
	for n in be1 be2 be3; do
		serve $n 80
		# a UDP sink: no "port unreachable" back to the client, whose
		# connected socket would then refuse its next datagram
		nsx $n socat -u UDP-RECV:5353 /dev/null >/dev/null 2>&1 &
	done
	start_lbd --xdp-mode native --metrics $M || { fail start "lbd did not start"; cat "$TMP/lbd.log"; summary; exit 1; }
	lbctl vip add $TCP_VIP && lbctl vip add $UDP_VIP && lbctl vip add "[$VIP6]:443/tcp" || fail setup "vip add"
	for b in "${BE4[@]}"; do lbctl backend add $TCP_VIP $b && lbctl backend add $UDP_VIP $b; done
	lbctl backend add "[$VIP6]:443/tcp" "${BE6[0]}"
	ask $VIP4 80 30000 >/dev/null
	test_promtool
	test_known_traffic
	test_rates
	test_http
	test_lbd_flags
	test_top_tty
	test_prometheus
	test_abuse
	check lbd_still_running kill -0 "$LBD_PID"
	stop_lbd TERM
	check lbd_sanitizers_clean lbd_log_clean
	grep -E "Sanitizer|runtime error" -A5 "$TMP/lbd.log" | head -40
	summary
}

main
