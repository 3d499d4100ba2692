#!/usr/bin/env bash
# lib.sh - shared by the namespace tests: an l2 lab in namespaces named
# after this run, lbd and lbctl from the sanitizer build, PASS/FAIL lines,
# and a teardown trapped on EXIT so nothing is left behind (LAB.md trap 6).
set -u

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=${BUILD:-$ROOT/build}
[[ $BUILD == /* ]] || BUILD=$PWD/$BUILD # make test passes BUILD=build: tests cd and apt needs ./
SAN=${SAN:-$BUILD/san}           # lbd, lbctl built with ASan + UBSan
P=xlb$$                          # namespace prefix: this run only
TMP=$(mktemp -d /tmp/xdplb-net.XXXXXX)
SOCK=$TMP/lbd.sock
STATE=$TMP/state
PIN=$TMP/bpf
T=${T:-$(basename "$0" .sh)}
n_pass=0 n_fail=0
LBD_PID=

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:exitcode=86:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1:exitcode=87}

VIP4=10.99.1.100
VIP6=fd99:1::100
LB4=10.99.0.2
CL4=10.99.0.1
BE4=(10.99.0.11 10.99.0.12 10.99.0.13)
BE6=(fd99::11 fd99::12 fd99::13)

pass() { echo "PASS $T/$1"; n_pass=$((n_pass + 1)); }
fail() { echo "FAIL $T/$1: $2"; n_fail=$((n_fail + 1)); return 1; }
# check NAME CMD...: PASS if CMD succeeds
check() { local name=$1; shift; if "$@"; then pass "$name"; else fail "$name" "$*"; fi; }
summary() { echo "$n_pass passed, $n_fail failed, 0 skipped"; }

nsx() { local n=$1; shift; ip netns exec "$P-$n" "$@"; }
lbctl() { "$SAN/lbctl" -s "$SOCK" "$@"; }

# Poll CMD (bounded): succeed as soon as it does, fail after $1 tenths of a second.
wait_for() {
	local tenths=$1 i; shift
	for ((i = 0; i < tenths; i++)); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}

teardown() {
	local ns pid
	[ -n "$LBD_PID" ] && kill -9 "$LBD_PID" 2>/dev/null
	kill -9 $(jobs -p) 2>/dev/null
	for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep "^$P-"); do
		for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$pid" 2>/dev/null; done
	done
	wait 2>/dev/null
	for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep "^$P-"); do
		ip netns del "$ns" 2>/dev/null
	done
	mountpoint -q "$PIN" && umount "$PIN"
	if [ -n "${KEEP_TMP:-}" ]; then echo "# kept $TMP (KEEP_TMP)"; else rm -rf "$TMP"; fi
}
trap teardown EXIT
trap 'exit 130' INT TERM

# A run killed outright (SIGKILL, a lost machine) cannot run its trap: its
# namespaces, xlb<pid>-*, stay.  Remove those whose run is gone.
sweep_dead_runs() {
	local ns pid owner
	for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E '^xlb[0-9]+-'); do
		owner=${ns#xlb}
		owner=${owner%%-*}
		kill -0 "$owner" 2>/dev/null && continue
		for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$pid" 2>/dev/null; done
		ip netns del "$ns" 2>/dev/null
	done
}
sweep_dead_runs

# The l2 lab: client, LB and three backends on one bridge.  The client
# routes the VIPs via the LB; backends hold the VIPs on lo and neither
# answer ARP for them nor announce them (arp_ignore/arp_announce).
lab_l2() {
	local n i
	ip netns add "$P-br" && ip -n "$P-br" link add br0 type bridge &&
		ip -n "$P-br" link set br0 up || return 1
	for n in cl lb be1 be2 be3; do
		ip netns add "$P-$n" &&
			ip link add eth0 netns "$P-$n" type veth peer name "$n" netns "$P-br" &&
			ip -n "$P-br" link set "$n" master br0 up &&
			ip -n "$P-$n" link set lo up && ip -n "$P-$n" link set eth0 up || return 1
	done
	# LAB.md trap 1: XDP_TX from the LB's veth needs a program on its peer
	ip -n "$P-br" link set lb xdpdrv obj "$BUILD/bpf/xdp_pass.bpf.o" sec xdp || return 1
	ip -n "$P-cl" addr add $CL4/24 dev eth0 && ip -n "$P-cl" addr add fd99::1/64 dev eth0 nodad
	ip -n "$P-lb" addr add $LB4/24 dev eth0 && ip -n "$P-lb" addr add fd99::2/64 dev eth0 nodad
	ip -n "$P-cl" route add $VIP4/32 via $LB4
	ip -n "$P-cl" route add $VIP6/128 via fd99::2
	# LAB.md trap 2: native XDP breaks partial checksums from a veth sender
	nsx cl ethtool -K eth0 tx off >/dev/null
	for i in 0 1 2; do
		n=be$((i + 1))
		ip -n "$P-$n" addr add "${BE4[$i]}/24" dev eth0
		ip -n "$P-$n" addr add "${BE6[$i]}/64" dev eth0 nodad
		ip -n "$P-$n" addr add $VIP4/32 dev lo
		ip -n "$P-$n" addr add $VIP6/128 dev lo nodad
		nsx $n sysctl -qw net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2 \
			net.ipv4.conf.eth0.arp_ignore=1 net.ipv4.conf.eth0.arp_announce=2 \
			net.ipv4.conf.all.arp_notify=1 net.ipv4.conf.eth0.arp_notify=1
		nsx $n ethtool -K eth0 tx off >/dev/null
	done
	mkdir -p "$PIN" && mount -t bpf bpf "$PIN" # LAB.md trap 3
	# fill the LB's neighbour table the way traffic would
	for i in 0 1 2; do nsx lb ping -c1 -W1 "${BE4[$i]}" >/dev/null; nsx lb ping -c1 -W1 "${BE6[$i]}" >/dev/null; done
	return 0
}

# start_lbd [ARGS...]: lbd on the LB's eth0; waits for its socket.
start_lbd() {
	rm -f "$SOCK"
	ip netns exec "$P-lb" "$SAN/lbd" --iface eth0 --socket "$SOCK" --state "$STATE" \
		--pin "$PIN" "$@" 2>>"$TMP/lbd.log" &
	LBD_PID=$!
	wait_for 100 test -S "$SOCK" && wait_for 50 lbctl vip show
}

# stop_lbd [SIGNAL]: returns lbd's exit status (0 expected after TERM).
stop_lbd() {
	local sig=${1:-TERM} st
	[ -n "$LBD_PID" ] || return 0
	kill -"$sig" "$LBD_PID" 2>/dev/null
	wait "$LBD_PID"
	st=$?
	LBD_PID=
	return $st
}

# A backend server: TCP on port 80 answering its name (one line) and echoing.
serve() { # serve NODE PORT
	nsx "$1" socat -T 30 "TCP-LISTEN:$2,fork,reuseaddr" "SYSTEM:echo $1; cat" >/dev/null 2>&1 &
}
serve6() {
	nsx "$1" socat -T 30 "TCP6-LISTEN:$2,fork,reuseaddr,ipv6only=1" "SYSTEM:echo $1; cat" >/dev/null 2>&1 &
}
stop_serve() { # stop_serve NODE PORT
	local pid
	for pid in $(ip netns pids "$P-$1"); do
		grep -q "TCP.*LISTEN:$2" "/proc/$pid/cmdline" 2>/dev/null && kill "$pid"
	done
	return 0
}

# One request from the client (source port $3 if given): prints the backend's name.
ask() { # ask ADDR PORT [SRCPORT]
	local bind=""
	[ $# -ge 3 ] && bind=",bind=:$3"
	echo | nsx cl timeout 3 socat -T 2 - "TCP:$1:$2$bind" 2>/dev/null | head -n 1
}
ask6() {
	local bind=""
	[ $# -ge 3 ] && bind=",bind=[::]:$3"
	echo | nsx cl timeout 3 socat -T 2 - "TCP6:[$1]:$2$bind" 2>/dev/null | head -n 1
}

lbd_log_clean() { # no sanitizer report in lbd's log
	! grep -qE "ERROR: (Address|Leak)Sanitizer|runtime error:" "$TMP/lbd.log"
}

# --- real servers and many clients (test_e2e.sh) ---
CL4S=() CL6S=() # the client's extra addresses (lab_clients)
BIG=$TMP/www/big # what nginx serves at /big: 2 MiB of random bytes

# lab_clients N: N (at most 20) more client addresses, 10.99.0.20... and
# fd99::20...; the client's ephemeral ports move to 20000-29999 so that the
# explicit source ports tests choose (30000 and up) never meet them.
lab_clients() {
	local i
	for ((i = 20; i < 20 + $1 && i < 40; i++)); do CL4S+=(10.99.0.$i) CL6S+=(fd99::$i); done
	for ((i = 0; i < ${#CL4S[@]}; i++)); do
		echo "addr add ${CL4S[$i]}/24 dev eth0"
		echo "addr add ${CL6S[$i]}/64 dev eth0 nodad"
	done | ip -n "$P-cl" -batch - || return 1
	nsx cl sysctl -qw net.ipv4.ip_local_port_range="20000 29999"
}

# nginx_start NODE: nginx on NODE, port 80 (IPv4 and IPv6): "/" answers
# NODE's name, "/big" is $BIG.  It logs "client-address client-port
# server-address status bytes uri" per request to $TMP/NODE/access.log.
nginx_start() {
	local n=$1 d=$TMP/$1
	mkdir -p "$d" "$TMP/www"
	[ -s "$BIG" ] || head -c 2097152 /dev/urandom >"$BIG"
	cat >"$d/nginx.conf" <<CONF
user root;
worker_processes 1;
pid $d/nginx.pid;
error_log $d/error.log;
events { worker_connections 1024; }
http {
	log_format e2e '\$remote_addr \$remote_port \$server_addr \$status \$body_bytes_sent \$request_uri';
	access_log $d/access.log e2e;
	client_body_temp_path $d; proxy_temp_path $d;
	fastcgi_temp_path $d; uwsgi_temp_path $d; scgi_temp_path $d;
	server {
		listen 80; listen [::]:80;
		location = /big { root $TMP/www; }
		location / { return 200 "$n\n"; }
	}
}
CONF
	nsx "$n" nginx -c "$d/nginx.conf" -p "$d" &&
		wait_for 50 bash -c "[ \$(ip netns exec $P-$n ss -Hltn 'sport = :80' | wc -l) = 2 ]"
}

# nginx_stop NODE: stops NODE's nginx (nothing listens on port 80 on return).
nginx_stop() {
	local pid
	pid=$(cat "$TMP/$1/nginx.pid" 2>/dev/null) || return 1
	kill -TERM "$pid" && wait_for 50 bash -c "[ -z \"\$(ip netns exec $P-$1 ss -Hltn 'sport = :80')\" ]"
}

# udp_echo NODE PORT [ADDR...]: a UDP echo on NODE, bound to each ADDR (the
# VIPs by default, so that replies leave from the VIP): answers "NODE LINE"
# to a datagram "LINE" and logs "client-address client-port LINE" to
# $TMP/NODE/udp.log.  One process, no fork per datagram (socat's
# UDP-RECVFROM,fork loses datagrams that arrive while a child lingers).
# Not a job of the calling shell: the namespace's teardown stops it.
UDP_ECHO='use Socket qw(:all);
my ($name, $port, $log, @addrs) = @ARGV;
my ($rin, @socks) = ("");
for my $a (@addrs) {
	my ($err, $ai) = getaddrinfo($a, $port, {socktype => SOCK_DGRAM, flags => AI_NUMERICHOST});
	die "udp_echo: $a: $err\n" if $err;
	socket(my $s, $ai->{family}, SOCK_DGRAM, 0) or die "udp_echo: socket: $!\n";
	bind($s, $ai->{addr}) or die "udp_echo: bind $a: $!\n";
	vec($rin, fileno($s), 1) = 1;
	push @socks, $s;
}
open(my $l, ">>", $log) or die "udp_echo: $log: $!\n";
select((select($l), $| = 1)[0]);
while (1) {
	select(my $rout = $rin, undef, undef, undef) > 0 or next;
	for my $s (@socks) {
		next unless vec($rout, fileno($s), 1);
		my $peer = recv($s, my $buf, 65535, 0);
		next unless defined $peer;
		my ($err, $host, $serv) = getnameinfo($peer, NI_NUMERICHOST | NI_NUMERICSERV);
		chomp $buf;
		print $l "$host $serv $buf\n";
		send($s, "$name $buf\n", 0, $peer);
	}
}'
udp_echo() {
	local n=$1 port=$2
	shift 2
	[ $# -gt 0 ] || set -- $VIP4 $VIP6
	mkdir -p "$TMP/$n"
	(nsx "$n" perl -e "$UDP_ECHO" "$n" "$port" "$TMP/$n/udp.log" "$@" </dev/null >/dev/null 2>>"$TMP/$n/udp.err" &)
	wait_for 50 bash -c "[ \$(ip netns exec $P-$n ss -Hlun 'sport = :$port' | wc -l) = $# ]"
}

# lab_down: the lab and everything in it gone (lbd, servers, namespaces,
# bpffs, state), for a fresh lab_l2 in the same run.
lab_down() {
	local ns pid
	if [ -n "$LBD_PID" ]; then
		kill -9 "$LBD_PID" 2>/dev/null
		wait "$LBD_PID" 2>/dev/null
		LBD_PID=
	fi
	for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep "^$P-"); do
		for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$pid" 2>/dev/null; done
		ip netns del "$ns" 2>/dev/null
	done
	mountpoint -q "$PIN" && umount "$PIN"
	rm -rf "$SOCK" "$STATE" "$TMP"/be[0-9]
	CL4S=() CL6S=()
	return 0
}
