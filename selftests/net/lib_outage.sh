#!/usr/bin/env bash
# lib_outage.sh - the outage lab, shared by selftests/net/test_outage.sh
# and selftests/bench/outage.sh (source selftests/net/lib.sh first).
#
# The l2 lab of lib.sh (client, LB, backends on one bridge) plus an HAProxy
# node "hap" ($HAP4) on the same bridge, 20 more client addresses, and one
# backend (be1) running holdd (build/holdd: accept and hold, port 80) and
# nginx (port 8080, a small answer).  Clients reach the backend either
# through xdplb (the VIP $VIP4, DSR: the backend sees the client) or
# through HAProxy in TCP mode ($HAP4, a proxy: it opens one connection of
# its own, from its own address and an ephemeral port, per client
# connection).  This is the outage the product exists for: behind Docker's
# NAT every client came from one address and HAProxy ran out of ports.

HAP4=10.99.0.3
HOLD_PORT=80  # holdd on be1; VIP $VIP4:80 and HAProxy $HAP4:80 lead to it
HTTP_PORT=8080 # nginx on be1; VIP $VIP4:8080 and HAProxy $HAP4:8080
HOLDD_NPROC=10 # holdd processes: 100k connections at 10k descriptors each
HAP_NPROC=${HAP_NPROC:-4}
# HAProxy's retries after a failed connect(): 0, so that a connection it
# cannot forward fails at once and logs one "no free ports" line (with the
# default 3, each waits for the retries and logs up to 4; nothing is held
# longer or more)
HAP_RETRIES=${HAP_RETRIES:-0}
# connhold processes started so far: CONN_PIDS (their reports: $TMP/conn/1..)
HAP_PIDS=() CONN_PIDS=() HOLDD_PID=

# Kernel limits for many connections in one namespace: listen backlogs and
# the ephemeral port range for outgoing connections (wide by default).
ns_scale() { # ns_scale NODE [PORT-RANGE]
	nsx "$1" sysctl -qw net.core.somaxconn=65535 net.ipv4.tcp_max_syn_backlog=65535 \
		net.ipv4.ip_local_port_range="${2:-1024 65535}"
}

# outage_lab: the lab, holdd and nginx on be1, the client's 20 addresses.
outage_lab() {
	lab_l2 || return 1
	lab_clients 20 || return 1
	ip netns add "$P-hap" &&
		ip link add eth0 netns "$P-hap" type veth peer name hap netns "$P-br" &&
		ip -n "$P-br" link set hap master br0 up &&
		ip -n "$P-hap" link set lo up && ip -n "$P-hap" link set eth0 up &&
		ip -n "$P-hap" addr add $HAP4/24 dev eth0 || return 1
	ns_scale cl && ns_scale be1 && ns_scale hap || return 1
	rm -rf "$TMP/conn" "$TMP/hap" "$TMP/be1"
	mkdir -p "$TMP/conn" "$TMP/hap" "$TMP/be1"
	HAP_PIDS=() CONN_PIDS=()
	ip netns exec "$P-be1" "$BUILD/holdd" -n $HOLDD_NPROC -r "$TMP/be1/holdd" 0.0.0.0 $HOLD_PORT \
		</dev/null >/dev/null 2>>"$TMP/be1/holdd.err" &
	HOLDD_PID=$!
	outage_nginx || return 1
	wait_for 100 bash -c "[ \$(ls $TMP/be1/holdd.[0-9] $TMP/be1/holdd.[0-9][0-9] 2>/dev/null | wc -l) = $HOLDD_NPROC ]"
}

# nginx on be1, port 8080: 2 workers, a 3-byte answer, no access log.
outage_nginx() {
	local d=$TMP/be1
	cat >"$d/nginx.conf" <<CONF
user root;
worker_processes 2;
pid $d/nginx.pid;
error_log $d/error.log;
events { worker_connections 1024; }
http {
	access_log off;
	keepalive_requests 1000000;
	client_body_temp_path $d; proxy_temp_path $d;
	fastcgi_temp_path $d; uwsgi_temp_path $d; scgi_temp_path $d;
	server { listen $HTTP_PORT; location / { return 200 "ok\n"; } }
}
CONF
	nsx be1 nginx -c "$d/nginx.conf" -p "$d" &&
		wait_for 50 bash -c "[ -n \"\$(ip netns exec $P-be1 ss -Hltn 'sport = :$HTTP_PORT')\" ]"
}

# xdplb_start: lbd ($SAN/lbd: the sanitizer build unless SAN says otherwise)
# on the LB with the VIPs $VIP4:80 and :8080, both to be1 only.
xdplb_start() {
	local v
	start_lbd --flows 262144 --metrics none || return 1
	for v in $VIP4:$HOLD_PORT/tcp $VIP4:$HTTP_PORT/tcp; do
		lbctl vip add $v >/dev/null && lbctl backend add $v "${BE4[0]}" >/dev/null || return 1
	done
}

# hap_start [PORT-RANGE]: $HAP_NPROC HAProxy processes in TCP mode on the
# same ports (SO_REUSEPORT, HAProxy's default), each with its own stats
# socket and log ($TMP/hap/N.log: "log stdout", errors only).  The node's
# ephemeral port range is PORT-RANGE (Linux's default 32768 60999 if not
# given).  Each process may hold 20000 descriptors (LAB.md trap 5): its
# maxconn, which HAProxy derives from that, is printed by hap_maxconn.
hap_start() {
	local i range=${1:-32768 60999}
	nsx hap sysctl -qw net.ipv4.ip_local_port_range="$range" || return 1
	for ((i = 0; i < HAP_NPROC; i++)); do
		cat >"$TMP/hap/$i.cfg" <<CONF
global
	log stdout format raw local0 err
	stats socket $TMP/hap/$i.sock mode 600 level admin
	nbthread 1
defaults
	mode tcp
	log global
	retries $HAP_RETRIES
	timeout connect 5s
	# idle held connections must outlive a slow bench (10 minutes did not)
	timeout client 1h
	timeout server 1h
frontend fe
	bind $HAP4:$HOLD_PORT
	default_backend be
frontend fe_http
	bind $HAP4:$HTTP_PORT
	default_backend be_http
backend be
	server s1 ${BE4[0]}:$HOLD_PORT
backend be_http
	server s1 ${BE4[0]}:$HTTP_PORT
CONF
		# not through nsx: $! is then haproxy's pid (ip netns exec execs it)
		ip netns exec "$P-hap" haproxy -db -f "$TMP/hap/$i.cfg" </dev/null \
			>"$TMP/hap/$i.log" 2>"$TMP/hap/$i.err" &
		HAP_PIDS+=($!)
		wait_for 100 test -S "$TMP/hap/$i.sock" || return 1
	done
}

# stop_jobs PID...: SIGTERM to these jobs of this shell, and reap them
# (quietly: no "Killed" notices).
stop_jobs() {
	local pid
	for pid in "$@"; do kill "$pid" 2>/dev/null; done
	for pid in "$@"; do wait "$pid" 2>/dev/null; done
	return 0
}

# outage_down: clients, HAProxy, holdd, then the lab (lab_down).
outage_down() {
	stop_jobs "${CONN_PIDS[@]}" "${HAP_PIDS[@]}" $HOLDD_PID $LBD_PID
	CONN_PIDS=() HAP_PIDS=() HOLDD_PID= LBD_PID=
	lab_down
}

# hap_info FIELD: FIELD of "show info" (Maxconn, CurrConns, Ulimit-n, ...)
# of every HAProxy process, one a line.
hap_info() {
	local s
	for s in "$TMP"/hap/*.sock; do
		echo "show info" | timeout 5 socat - "UNIX-CONNECT:$s" | awk -F': ' -v f="$1" '$1 == f { print $2 }'
	done
}

# hap_no_free_ports: lines "no free ports" in the HAProxy logs (stdout).
hap_no_free_ports() {
	cat "$TMP"/hap/*.log 2>/dev/null | grep -c "no free ports"
}

# conn_add TARGET N [TIMEOUT]: N more connections to TARGET:$HOLD_PORT
# (conn_start), and wait until they are set up (conn_wait).
conn_add() {
	conn_start "$@" && conn_wait
}

# conn_start TARGET N [TIMEOUT]: N more connections to TARGET:$HOLD_PORT,
# from the 20 client addresses (one connhold process each, N/20
# connections, 50 at a time in set-up, TIMEOUT seconds for each), held
# until the lab goes.
conn_start() {
	local target=$1 n=$2 to=${3:-10} i per rest k
	per=$((n / ${#CL4S[@]})) rest=$((n % ${#CL4S[@]}))
	for ((i = 0; i < ${#CL4S[@]}; i++)); do
		k=$((per + (i < rest ? 1 : 0)))
		[ $k -gt 0 ] || continue
		# jobs of this shell (teardown kills and reaps them), not through
		# nsx: $! would be a subshell's
		ip netns exec "$P-cl" "$BUILD/connhold" -s "${CL4S[$i]}" -n $k -p 50 -t "$to" \
			-r "$TMP/conn/$((${#CONN_PIDS[@]} + 1))" $target $HOLD_PORT </dev/null >/dev/null \
			2>>"$TMP/conn/err" &
		CONN_PIDS+=($!)
	done
}

# conn_wait [S]: wait until every connhold finished its set-up (each
# connection held or failed), S seconds at most (default 300).
conn_wait() {
	wait_wall "${1:-300}" conn_all_done
}

conn_all_done() {
	[ "$(conn_reports | xargs -r grep -l ' done 1 ' 2>/dev/null | wc -l)" = "${#CONN_PIDS[@]}" ]
}

# conn_reports, holdd_reports: the report files written so far (not the
# temporary files they are written through)
conn_reports() {
	local i
	for ((i = 1; i <= ${#CONN_PIDS[@]}; i++)); do [ -e "$TMP/conn/$i" ] && echo "$TMP/conn/$i"; done
	return 0
}
holdd_reports() {
	local i
	for ((i = 0; i < HOLDD_NPROC; i++)); do [ -e "$TMP/be1/holdd.$i" ] && echo "$TMP/be1/holdd.$i"; done
	return 0
}

# conn_sum FIELD: FIELD (held, failed, closed, ...) summed over the reports
# of every connhold started in this lab.
conn_sum() {
	conn_reports | xargs -r cat 2>/dev/null |
		awk -v f="$1" '{ for (i = 1; i < NF; i++) if ($i == f) s += $(i + 1) } END { print s + 0 }'
}

# conn_errors: the distinct first errors connhold reported ("" when none).
conn_errors() {
	conn_reports | xargs -r cat 2>/dev/null | sed -n 's/.* err "\(.*\)"$/\1/p' | sort -u | grep . | paste -sd, -
}

# be_held, be_addrs: connections holdd holds on be1 now; distinct client
# addresses among them.
be_held() {
	holdd_reports | xargs -r cat 2>/dev/null | awk '$1 == "held" { s += $2 } END { print s + 0 }'
}
be_addrs() {
	holdd_reports | xargs -r cat 2>/dev/null | awk '$1 != "held" && $2 > 0 { print $1 }' | sort -u | wc -l
}
be_emfile() {
	holdd_reports | xargs -r cat 2>/dev/null | awk '$1 == "held" { s += $8 } END { print s + 0 }'
}

# wait_wall S CMD...: poll CMD (0.2 s apart) for S seconds of wall clock.
wait_wall() {
	local end=$((${EPOCHREALTIME/./} + $1 * 1000000))
	shift
	until "$@" >/dev/null 2>&1; do
		((${EPOCHREALTIME/./} < end)) || return 1
		sleep 0.2
	done
}

# settle: wait until the counts of backend and clients stop moving (closes
# that come after set-up), steady for 1 s, 15 s at most.
settle() {
	local a b i
	a="$(be_held) $(conn_sum held)"
	for ((i = 0; i < 15; i++)); do
		sleep 1
		b="$(be_held) $(conn_sum held)"
		[ "$a" = "$b" ] && return 0
		a=$b
	done
}
