#!/usr/bin/env bash
# test_outage.sh - the outage xdplb exists for, small: 6000 concurrent
# connections from 20 client addresses to one backend (holdd), once through
# HAProxy 2.6 in TCP mode with its node's ephemeral port range narrowed to
# 4000 ports, once through xdplb (lbd from the sanitizer build, l2 DSR).
# HAProxy holds at most 4000 (one port per backend connection), logs "no
# free ports" and the backend sees one client address, HAProxy's; through
# xdplb all 6000 are held and the backend sees the 20 real addresses.
# The full-size version: selftests/bench/outage.sh (make bench-outage).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_outage.sh"

N=6000
RANGE="40000 43999" # 4000 ports
PORTS=4000
HAP_NPROC=2 # 2 x ~10000 connection slots: the port range binds first

# --- HAProxy, narrowed port range ---
if outage_lab && hap_start "$RANGE"; then
	pass haproxy_lab
	conn_add $HAP4 $N 20 || fail haproxy_setup "connhold did not finish its set-up in 300 s"
	settle
	held=$(conn_sum held) be=$(be_held) addrs=$(be_addrs) nfp=$(hap_no_free_ports)
	slots=$(hap_info Maxconn | awk '{ s += $1 } END { print s + 0 }')
	echo "haproxy: $held of $N held, backend holds $be from $addrs address(es)," \
		"$nfp 'no free ports' log lines, maxconn total $slots for $PORTS ports"
	check haproxy_fd_cap_not_the_limit [ "$slots" -gt $((PORTS + 1000)) ]
	check haproxy_stops_at_port_range test "$held" -le $PORTS -a "$held" -ge $((PORTS / 2))
	check haproxy_backend_at_port_range test "$be" -le $PORTS -a "$be" -ge "$held"
	check haproxy_logs_no_free_ports [ "$nfp" -gt 0 ]
	check haproxy_backend_sees_one_address [ "$addrs" = 1 ]
	echo "haproxy: the others: $(conn_sum closed) closed, $(conn_sum reset) reset," \
		"$(conn_sum timeout) timed out, $(conn_sum other) other ($(conn_errors))"
	check haproxy_others_failed [ $((held + $(conn_sum failed))) = $N ]
else
	fail haproxy_lab "lab or HAProxy did not start: $(cat "$TMP"/hap/*.err 2>/dev/null | head -n 3)"
fi
outage_down

# --- xdplb ---
if outage_lab && xdplb_start; then
	pass xdplb_lab
	conn_add $VIP4 $N 20 || fail xdplb_setup "connhold did not finish its set-up in 300 s"
	settle
	held=$(conn_sum held) be=$(be_held) addrs=$(be_addrs)
	echo "xdplb: $held of $N held, backend holds $be from $addrs addresses" \
		"(connhold errors: $(conn_errors))"
	check xdplb_holds_all [ "$held" = $N ]
	check xdplb_backend_holds_all [ "$be" = $N ]
	check xdplb_backend_sees_20_addresses [ "$addrs" = 20 ]
	check xdplb_lbd_log_clean lbd_log_clean
else
	fail xdplb_lab "lab or lbd did not start: $(tail -n 3 "$TMP/lbd.log" 2>/dev/null)"
fi
outage_down
summary
