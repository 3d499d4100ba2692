#!/usr/bin/env bash
# test_floods.sh - lbd under stress in the l2 lab (ASan + UBSan builds):
#  - /metrics listens on loopback only by default and shows no paths,
#    socket, state-file lines or health-check payloads;
#  - 1,000 concurrent clients on the control socket and on /metrics: each
#    answered or refused cleanly within a bound, RSS bounded, lbd alive;
#  - a SYN flood of 1,000,000 spoofed sources (selftests/net/synflood.c:
#    the pinned forwarder run with BPF_PROG_TEST_RUN on every CPU, so with
#    lbd's own maps) while 1,000 real TCP connections carry traffic: none
#    of them evicted from the established table, moved or broken; the
#    counters account for every spoofed SYN; the half-open table stays at
#    its size;
#  - a backend flapping every 200 ms for 30 s (four addresses of be3, out
#    of phase, `check tcp interval 100ms`): lbctl answers within a bound
#    throughout, ring rebuilds stay within SYNC_DELAY_MS's limit,
#    connections to the other backends stay put.
# A small ASan quarantine: freed memory is still held for use-after-free
# checks, but RSS then follows what lbd really keeps (tests of RSS below).
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:exitcode=86:abort_on_error=0:quarantine_size_mb=16}
source "$(dirname "$0")/lib.sh"

PY=$ROOT/selftests/net/floods.py
FLOOD=$BUILD/net/synflood
M=127.0.0.1:9469            # lbd's default /metrics address
FLOWS=65536                 # --flows: established 65536, half-open 16384 per family
FLOOD_N=1000000
ACK_N=200000                # spoofed ACKs: three times the established table
FLOOD_VIP=$VIP4:8080/tcp
FLAP_VIP=$VIP4:9000/tcp
FLAP_ADDRS=(10.99.0.14 10.99.0.15 10.99.0.16 10.99.0.17) # be3's flapping addresses
FLAP_S=${FLAP_S:-30}          # the issue asks for 30 s; FLAP_S=5 while developing
SYNC_DELAY_MS=$(awk '/define SYNC_DELAY_MS/ { print $3 }' "$ROOT/userspace/sync.h")
SECRET=hc-Zq9secret-payload # the http check path of a VIP: must not reach /metrics

scrape() { nsx lb curl -s --max-time 10 "http://$M/metrics"; }
rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$LBD_PID/status"; }
# jtrue EXPR: the awk condition EXPR on the numbers of the flat JSON object
# on stdin (each field a variable) is true
jtrue() {
	local a
	a=$(grep -oE '"[a-z_]+": ?[0-9.]+' | sed -E 's/"([a-z_]+)": ?/\1=/' | tr '\n' ';')
	awk "BEGIN { $a exit !($1) }"
}

# --- /metrics exposure ---

test_metrics_loopback() {
	local socks
	# every TCP listener of lbd's process, as "local-address:port"
	socks=$(nsx lb ss -Hltnp | awk -v p="pid=$LBD_PID," 'index($0, p) { print $4 }')
	echo "lbd listens on: $(echo $socks)"
	check metrics_default_listens test -n "$socks"
	check metrics_default_loopback_only bash -c "! grep -vE '^(127\.0\.0\.1|\[::1\]):' <<<'$socks'"
	check metrics_not_on_lan_address bash -c "! ip netns exec $P-lb curl -s --max-time 3 -o /dev/null http://$LB4:9469/metrics"
}

test_metrics_no_secrets() {
	local page=$TMP/page line leaked=0
	scrape >"$page"
	check secrets_page_served grep -q '^xdplb_build_info' "$page"
	check secrets_check_path_used grep -q "$SECRET" "$STATE"
	for s in "$SOCK" "$STATE" "$PIN" "$TMP" "$SECRET" /run/xdplb /var/lib/xdplb /sys/fs/bpf; do
		grep -qF -- "$s" "$page" && { echo "leaked: $s"; leaked=1; }
	done
	check secrets_no_paths_or_payload test $leaked = 0
	while read -r line; do # no line of the state file (the configuration) verbatim
		[ -n "$line" ] && grep -qF -- "$line" "$page" && { echo "leaked: $line"; leaked=1; }
	done <"$STATE"
	check secrets_no_state_lines test $leaked = 0
}

# --- 1,000 concurrent clients ---

test_thousand_clients() {
	local r0 r1 r2 out round
	r0=$(rss_kib)
	for round in 1 2; do
		out=$(nsx lb python3 "$PY" load-ctl "$SOCK" 1000 60)
		echo "control socket, 1000 clients, round $round: $out"
		check ctl_1000_all_accounted_$round jtrue "answered + refused == 1000 && bad == 0 && hung == 0" <<<"$out"
		check ctl_1000_answered_most_$round jtrue "answered >= 900" <<<"$out"
		out=$(nsx lb python3 "$PY" load-http 127.0.0.1 9469 1000 60)
		echo "/metrics, 1000 clients, round $round: $out"
		check http_1000_all_accounted_$round jtrue "answered + refused + connect_failed == 1000 && bad == 0 && hung == 0" <<<"$out"
		check http_1000_some_answered_$round jtrue "answered >= 64" <<<"$out"
		[ $round = 1 ] && r1=$(rss_kib)
	done
	r2=$(rss_kib)
	echo "lbd RSS (ASan build, quarantine 16 MiB): $r0 KiB before, $r1 KiB after round 1, $r2 KiB after round 2"
	check clients_rss_growth_bounded test $((r1 - r0)) -lt $((64 * 1024))
	check clients_rss_steady test $((r2 - r1)) -lt $((16 * 1024))
	check clients_lbd_alive kill -0 "$LBD_PID"
	check clients_ctl_answers_after bash -c "'$SAN/lbctl' -s '$SOCK' vip show $FLOOD_VIP >/dev/null"
	check clients_metrics_answers_after bash -c "ip netns exec $P-lb curl -s --max-time 5 http://$M/metrics | grep -q '^xdplb_vips 1'"
}

# --- SYN flood against established flows ---

# Plain grep/sed on lbctl's JSON below, not python: on a loaded machine a
# python start-up costs seconds, and these run many times.
# est_flows VIP: the lab client's established flows to VIP, "port backend", sorted
est_flows() {
	lbctl -j flows "$1" | grep -o "{\"client\":\"$CL4\",[^}]*\"table\":\"established\"[^}]*}" |
		sed -E 's/.*"port":([0-9]+),.*"backend":"([^"]+)".*/\1 \2/' | sort -n
}

# flow_changes BEFORE AFTER (est_flows outputs): how many of the client's
# 1,000 flows are missing from AFTER, and how many changed backend.
flow_changes() {
	local both
	both=$(join <(echo "$1") <(echo "$2"))
	echo "$((1000 - $(grep -c . <<<"$both"))) $(awk '$2 != $3' <<<"$both" | wc -l)"
}

# gnum NAME JSON: the global counter NAME in `lbctl -j stats` output JSON
gnum() { sed 's/.*"global":{//' <<<"$2" | grep -o "\"$1\":[0-9]*" | head -1 | cut -d: -f2; }
# jnum NAME JSON: the first number field NAME in JSON
jnum() { grep -o "\"$1\":[0-9]*" <<<"$2" | head -1 | cut -d: -f2; }

test_syn_flood() {
	local d=$TMP/flood before after s0 s1 nf0 nf1 out rc t0 t1 lost moved res half
	mkdir -p "$d"
	for n in be1 be2 be3; do nsx $n python3 "$PY" echo $n 8080 & done
	wait_for 50 bash -c "ip netns exec $P-be3 ss -Hltn 'sport = :8080' | grep -q ."
	nsx cl python3 "$PY" clients $VIP4 8080 1000 "$d" >"$d/result" 2>"$d/err" &
	if ! wait_for 600 test -e "$d/ready"; then
		fail flood_clients_ready "1000 connections not open in 60 s: $(cat "$d/err")"
		return
	fi
	echo "# 1000 connections open after ${SECONDS}s"
	check flood_1000_connections_open test "$(wc -l <"$d/conns")" = 1000
	before=$(est_flows $FLOOD_VIP)
	check flood_1000_established_before test "$(wc -l <<<"$before")" = 1000
	# the client's view agrees with the table: backend beN is 10.99.0.1N
	check flood_client_view_matches_table bash -c "diff <(sed 's/ be/ 10.99.0.1/' '$d/conns' | sort -n) - <<<'$before'"
	s0=$(lbctl -j stats) nf0=$(jnum new_flows "$(lbctl -j stats $FLOOD_VIP)")
	t0=$(date +%s%N)
	out=$("$FLOOD" "$PIN/eth0/prog" $VIP4 8080 $FLOOD_N syn)
	rc=$?
	t1=$(date +%s%N)
	echo "flood: $out in $(((t1 - t0) / 1000000)) ms (load $(cut -d' ' -f1-3 /proc/loadavg))"
	check flood_ran test $rc = 0
	check flood_all_forwarded test "$out" = "sent $FLOOD_N tx $FLOOD_N pass 0 drop 0 other 0 errors 0"
	sleep 2 # two more rounds of the clients' traffic after the flood
	s1=$(lbctl -j stats) nf1=$(jnum new_flows "$(lbctl -j stats $FLOOD_VIP)")
	after=$(est_flows $FLOOD_VIP)
	read -r lost moved < <(flow_changes "$before" "$after")
	echo "established flows after the flood: $(wc -l <<<"$after") of the client's, evicted $lost, moved $moved"
	check flood_no_established_evicted test "$lost" = 0
	check flood_no_established_moved test "$moved" = 0
	d_stat() { echo $(($(gnum $1 "$s1") - $(gnum $1 "$s0"))); }
	echo "counters during the flood: flow_miss_syn +$(d_stat flow_miss_syn) new_flows(vip) +$((nf1 - nf0)) flow_miss_nonsyn +$(d_stat flow_miss_nonsyn) flow_promoted +$(d_stat flow_promoted) flow_hit +$(d_stat flow_hit) tx +$(d_stat tx)"
	check flood_counted_as_syn_misses test "$(d_stat flow_miss_syn)" = $FLOOD_N
	check flood_counted_as_new_flows test $((nf1 - nf0)) = $FLOOD_N
	check flood_no_nonsyn_misses test "$(d_stat flow_miss_nonsyn)" = 0
	check flood_no_promotions test "$(d_stat flow_promoted)" = 0
	check flood_established_kept_flowing test "$(d_stat flow_hit)" -ge 1000
	half=$(jnum half_open "$(lbctl -j flows $FLOOD_VIP)")
	echo "half-open entries after the flood: $half (capacity $((FLOWS / 4)))"
	check flood_half_open_bounded test "$half" -le $((FLOWS / 4)) -a "$half" -gt 0
	ack_flood "$before"
	touch "$d/stop"
	wait_for 200 test -s "$d/result"
	res=$(cat "$d/result")
	echo "clients: $res"
	check flood_clients_unbroken jtrue "opened == 1000 && broken == 0 && moved == 0 && rounds >= 3" <<<"$res"
}

# The same with spoofed ACKs (one per source): each is a non-SYN packet of
# no known flow, which the forwarder must send to a backend (it may be a
# connection the LB forgot) without letting it into the established table,
# where it would evict real flows.  Real flows re-learned after an eviction
# would show as non-SYN misses beyond the flood's own.
ack_flood() { # ack_flood ESTABLISHED-BEFORE
	local s0 s1 out rc after lost moved miss
	s0=$(lbctl -j stats)
	out=$("$FLOOD" "$PIN/eth0/prog" $VIP4 8080 $ACK_N ack)
	rc=$?
	s1=$(lbctl -j stats)
	echo "ack flood: $out (load $(cut -d' ' -f1-3 /proc/loadavg))"
	check ack_flood_ran test $rc = 0
	check ack_flood_all_forwarded test "$out" = "sent $ACK_N tx $ACK_N pass 0 drop 0 other 0 errors 0"
	sleep 1
	after=$(est_flows $FLOOD_VIP)
	read -r lost moved < <(flow_changes "$1" "$after")
	miss=$(($(gnum flow_miss_nonsyn "$s1") - $(gnum flow_miss_nonsyn "$s0")))
	echo "after the ack flood: non-SYN misses +$miss (the flood's own: $ACK_N), client flows missing $lost, moved $moved"
	check ack_flood_counted_as_nonsyn_misses test "$miss" -ge $ACK_N
	check ack_flood_no_established_evicted test "$miss" = $ACK_N -a "$lost" = 0
	check ack_flood_no_established_moved test "$moved" = 0
}

# --- a flapping backend ---

rebuilds() { jnum ring_rebuilds "$(lbctl -j vip show $FLAP_VIP)"; }
health_events() { grep -cE 'backend 10\.99\.0\.1[4-7] .*health (up|down)' "$TMP/lbd.log"; }

test_flap() {
	local d=$TMP/flap a i r0 r1 h0 h1 max=0 n=0 failed=0 t0 t1 ms res before after limit
	mkdir -p "$d"
	for a in "${FLAP_ADDRS[@]}"; do
		ip -n "$P-be3" addr add $a/24 dev eth0
		nsx lb ping -c1 -W1 $a >/dev/null
	done
	lbctl vip add $FLAP_VIP check tcp interval 100ms timeout 100ms fall 1 rise 1
	for a in ${BE4[0]} ${BE4[1]} "${FLAP_ADDRS[@]}"; do lbctl backend add $FLAP_VIP $a; done
	for a in be1 be2; do nsx $a python3 "$PY" echo $a 9000 & done
	# be1 and be2 up, be3's addresses down (nothing listens there yet)
	check flap_two_up_four_down_before wait_for 100 bash -c "[ \"\$('$SAN/lbctl' -s '$SOCK' -j vip show $FLAP_VIP |
		grep -o '\"state\":\"[a-z]*\"' | cut -d'\"' -f4 | tr '\n' ' ')\" = 'up up down down down down ' ]"
	nsx cl python3 "$PY" clients $VIP4 9000 100 "$d" >"$d/result" 2>"$d/err" &
	wait_for 300 test -e "$d/ready" || { fail flap_clients_ready "$(cat "$d/err")"; return; }
	before=$(est_flows $FLAP_VIP)
	check flap_100_established test "$(wc -l <<<"$before")" = 100
	r0=$(rebuilds) h0=$(health_events)
	nsx be3 python3 "$PY" flap be3 9000 200 $FLAP_S "${FLAP_ADDRS[@]}" &
	local flapper=$!
	# lbd's answer time throughout: a control request every 50 ms from a
	# Python client (no process start-up in the figure), and the real
	# lbctl (sanitizer build, its own start-up included) every 0.5 s
	python3 "$PY" probe "$SOCK" "$FLAP_S" >"$d/probe" &
	local prober=$!
	while kill -0 $flapper 2>/dev/null && ((n < 1000)); do
		t0=$(date +%s%N)
		lbctl -j vip show $FLAP_VIP >/dev/null || failed=$((failed + 1))
		t1=$(date +%s%N)
		ms=$(((t1 - t0) / 1000000))
		((ms > max)) && max=$ms
		n=$((n + 1))
		sleep 0.5
	done
	wait $flapper
	wait $prober
	r1=$(rebuilds) h1=$(health_events)
	limit=$((FLAP_S * 1000 / SYNC_DELAY_MS + 10))
	echo "flap ${FLAP_S}s: $((h1 - h0)) health changes, $((r1 - r0)) ring rebuilds (limit $limit); probe $(cat "$d/probe"); lbctl $n calls, max ${max} ms, $failed failed (load $(cut -d' ' -f1-3 /proc/loadavg))"
	check flap_health_changed_often test $((h1 - h0)) -ge $((FLAP_S * 3))
	check flap_rebuilds_rate_limited test $((r1 - r0)) -le $limit
	check flap_rebuilds_coalesced test $((r1 - r0)) -lt $((h1 - h0))
	check flap_ctl_always_answered jtrue "failed == 0 && n >= $FLAP_S * 2" <"$d/probe"
	check flap_ctl_latency_bounded jtrue "n > 0 && max_ms < 3000" <"$d/probe"
	check flap_lbctl_always_answered test $failed = 0 -a $n -ge $((FLAP_S / 2))
	check flap_lbctl_latency_bounded test $max -lt 10000
	after=$(est_flows $FLAP_VIP)
	check flap_flows_stayed_put test "$before" = "$after"
	touch "$d/stop"
	wait_for 200 test -s "$d/result"
	res=$(cat "$d/result")
	echo "clients: $res"
	check flap_clients_unbroken jtrue "opened == 100 && broken == 0 && moved == 0" <<<"$res"
	check flap_lbd_alive kill -0 "$LBD_PID"
}

# FLOODS_ONLY="flood flap": run only those parts (while developing)
want() { [ -z "${FLOODS_ONLY:-}" ] || [[ " $FLOODS_ONLY " == *" $1 "* ]]; }

main() {
	lab_l2 || { fail lab "cannot build the lab"; summary; exit 1; }
	start_lbd --xdp-mode native --flows $FLOWS ||
		{ fail start "lbd did not start"; cat "$TMP/lbd.log"; summary; exit 1; }
	lbctl vip add $FLOOD_VIP
	for i in 0 1 2; do lbctl backend add $FLOOD_VIP ${BE4[$i]}; done
	lbctl vip add $VIP4:80/tcp check http "/$SECRET"
	lbctl backend add $VIP4:80/tcp ${BE4[0]}
	echo "# lab and lbd up after ${SECONDS}s"
	want metrics && test_metrics_loopback
	want metrics && test_metrics_no_secrets
	lbctl vip del $VIP4:80/tcp
	want clients && test_thousand_clients
	echo "# clients done after ${SECONDS}s"
	want flood && test_syn_flood
	echo "# floods done after ${SECONDS}s"
	want flap && test_flap
	echo "# flap done after ${SECONDS}s"
	check lbd_log_clean lbd_log_clean
	stop_lbd TERM
	check lbd_stops_cleanly test $? = 0
	summary
}
main
