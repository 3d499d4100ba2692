#!/usr/bin/env bash
# test_docker.sh - Docker backends behind xdplb (tools/lab/docker.sh): the
# l2 lab with a real dockerd in each of the three backend namespaces, each
# running a busybox httpd container published with `docker run -p 80:80`.
# lbd forwards two VIPs to the backends' own addresses: one by `l2`, one by
# `ipip` (the backends decapsulate with lbdecap); Docker's DNAT (any local
# address, the VIPs on lo included) takes the request into the container.
# Checked, for both: every request from 20 client addresses answered,
# every container sees and logs the clients' own addresses (never Docker's
# gateway 172.17.0.1 nor the LB), replies never cross the LB (nftables
# counters on the bridge, shown to count first); a stopped container is
# taken out by lbd's health checks and no new connection goes there, and
# back in once started; a long-lived connection survives `docker restart`
# of another backend's container.  Then a single-node Swarm on one backend,
# its service published in host mode with --endpoint-mode dnsrr, checked
# the same way.  Finally nothing is left in the host: no dockerd,
# containerd or mount of theirs, no docker0, the host's ruleset unchanged.
source "$(dirname "$0")/lib.sh"
source "$ROOT/tools/lab/docker.sh"

VIPI=10.99.1.101              # the ipip VIP (VIP4 is the l2 one)
NREQ=40                       # per round: 2 from each of the 20 client addresses
BES=(be1 be2 be3)
HC="check http / interval 200ms timeout 1s fall 2 rise 2"

dkd() { echo "$TMP/dk-$1"; }   # a backend's dockerd directory
dkcg() { echo "xdplb-$P-$1"; } # its cgroup parent
dkn() { local n=$1; shift; dk "$(dkd "$n")" "$@"; }
dkq() { dkn "$@" >/dev/null; } # the same, quiet

dk_teardown() {
	local n
	for n in "${BES[@]}"; do dk_stop "$(dkd "$n")" "$(dkcg "$n")"; done
	dk_run_dirs
}
trap 'dk_teardown; teardown' EXIT

# A run killed outright leaves its dockerds' mounts, containers and cgroups
# (lib.sh sweeps only its namespaces): stop those whose run is gone.
sweep_dead_dockerds() {
	local f owner d
	for f in /tmp/xdplb-net.*/dk.owner; do
		[ -e "$f" ] || continue
		owner=$(cat "$f")
		kill -0 "$owner" 2>/dev/null && continue
		for d in "${f%/dk.owner}"/dk-*; do [ -d "$d" ] && dk_stop "$d" "xdplb-xlb$owner-${d##*/dk-}"; done
		# and the rest of that run's directory: its bpffs, its files
		mountpoint -q "${f%/dk.owner}/bpf" && umount "${f%/dk.owner}/bpf"
		rm -rf "${f%/dk.owner}"
	done
}
sweep_dead_dockerds
echo $$ >"$TMP/dk.owner"

lbdecap() { # lbdecap NODE ARGS...: the sanitizer build with NODE's pin directory
	local n=$1; shift
	nsx "$n" "$SAN/lbdecap" --pin "$PIN/lbdecap-$n" "$@" 2>>"$TMP/lbdecap.log"
}

# Counters on the bridge, the wire between the backends and the LB: frames
# from a VIP addressed to the LB's MAC (replies through the LB: must stay
# 0), frames from a VIP to the client, frames to a VIP to the LB.
nft_up() {
	local lbmac clmac
	lbmac=$(ip -n "$P-lb" link show eth0 | awk '/link\/ether/ {print $2}')
	clmac=$(ip -n "$P-cl" link show eth0 | awk '/link\/ether/ {print $2}')
	nsx br nft -f - <<-NFT
	table bridge xlb {
		counter reply_via_lb {}
		counter reply_to_client {}
		counter request_to_lb {}
		chain forward {
			type filter hook forward priority 0; policy accept;
			ether daddr $lbmac ip saddr 10.99.1.0/24 counter name reply_via_lb
			ether daddr $clmac ip saddr 10.99.1.0/24 counter name reply_to_client
			ether daddr $lbmac ip daddr 10.99.1.0/24 counter name request_to_lb
		}
	}
	NFT
}
nft_packets() { nsx br nft list counter bridge xlb "$1" | grep -o 'packets [0-9]*' | awk '{print $2}'; }
nft_reset() { nsx br nft reset counters table bridge xlb >/dev/null; }

# A container's log lines for client requests ("[ADDR]:PORT: url:/cgi-bin/who").
who_log() { # who_log NODE: client addresses, one per request
	local c
	c=$(dkn "$1" ps -q --filter "label=xdplb.web" --filter status=running | head -n 1)
	[ -n "$c" ] || c=$(dkn "$1" ps -aq --filter "label=xdplb.web" | head -n 1)
	dkn "$1" logs "$c" 2>&1 | awk -F']:' '/url:\/cgi-bin\/who/ {sub(/^\[(::ffff:)?/, "", $1); print $1}'
}

start_backends() {
	local n i pids=()
	dk_rootfs "$TMP/rootfs" || return 1
	for n in "${BES[@]}"; do
		dk_start "$P-$n" "$(dkd "$n")" "$(dkcg "$n")" &
		pids+=($!)
	done
	for i in 0 1 2; do check "dockerd_up_${BES[$i]}" wait "${pids[$i]}" || return 1; done
	for n in "${BES[@]}"; do
		check "image_imported_$n" dk_image "$(dkd "$n")" "$TMP/rootfs" || return 1
		check "container_run_$n" dkq $n run -d --init --name web --label xdplb.web -e NAME=$n \
			-p 80:80 $DK_IMAGE || return 1
	done
	# the published port on each host's own address (what the health checks reach)
	for i in 0 1 2; do
		check "container_answers_${BES[$i]}" wait_for 300 bash -c \
			"[ \"\$(ip netns exec $P-lb curl -s --max-time 2 http://${BE4[$i]}/)\" = ${BES[$i]} ]"
		# Docker's DNAT for the port, in the backend's namespace only
		check "docker_dnat_${BES[$i]}" bash -c \
			"nsenter --net=/var/run/netns/$P-${BES[$i]} iptables -t nat -S DOCKER | grep -q 'dport 80 -j DNAT --to-destination 172.17.0.2:80'"
	done
}

setup() {
	local i n
	RULES_BEFORE=$(nft list ruleset 2>&1 | md5sum)
	RUN_DIRS_BEFORE=$(ls -d /run/docker /run/containerd 2>/dev/null)
	lab_l2 && lab_clients 20 || return 1
	ip -n "$P-cl" route add $VIPI/32 via $LB4 || return 1
	for n in "${BES[@]}"; do
		ip -n "$P-$n" addr add $VIPI/32 dev lo || return 1
		# strict reverse-path filtering on the Docker hosts: it must not matter
		nsx $n sysctl -qw net.ipv4.conf.all.rp_filter=1 net.ipv4.conf.eth0.rp_filter=1 || return 1
	done
	nft_up || return 1
	start_backends || return 1
	start_lbd --xdp-mode native || { cat "$TMP/lbd.log"; return 1; }
	lbctl vip add $VIP4:80/tcp method l2 $HC && lbctl vip add $VIPI:80/tcp method ipip $HC || return 1
	for i in 0 1 2; do
		lbctl backend add $VIP4:80/tcp "${BE4[$i]}" && lbctl backend add $VIPI:80/tcp "${BE4[$i]}" ||
			return 1
	done
	for n in "${BES[@]}"; do check "lbdecap_attach_$n" lbdecap $n attach eth0 vip $VIPI || return 1; done
	for i in 0 1 2; do
		check "health_up_${BES[$i]}" wait_for 150 bash -c \
			"[ \$('$SAN/lbctl' -s '$SOCK' vip show | grep -w '${BE4[$i]}' | grep -cw up) = 2 ]" ||
			{ lbctl vip show; return 1; }
	done
}

# The counter can count: be1 sends from the VIP to the LB's address.
test_counter_sensitive() {
	nsx be1 ping -c1 -W1 -I $VIP4 $LB4 >/dev/null 2>&1
	check nft_counter_counts test "$(nft_packets reply_via_lb)" = 1
	nft_reset
	check nft_counter_reset test "$(nft_packets reply_via_lb)" = 0
}

# requests NAME VIP: NREQ requests to /cgi-bin/who from the 20 client
# addresses in turn; lines "SOURCE BACKEND [ADDR-SEEN]" in $TMP/req-NAME.
requests() {
	local name=$1 vip=$2
	nsx cl bash -c "
		srcs=(${CL4S[*]})
		for ((i = 0; i < $NREQ; i++)); do
			s=\${srcs[i % \${#srcs[@]}]}
			r=\$(curl -s --max-time 5 --interface \$s http://$vip/cgi-bin/who) || r=FAILED
			echo \"\$s \$r\"
		done" >"$TMP/req-$name"
}

# check_requests NAME BACKENDS: all answered, by exactly BACKENDS ("be1 be2 be3 "),
# each answer naming the address the client sent from
check_requests() {
	local name=$1 want=$2 out
	out=$(cat "$TMP/req-$name")
	check "${name}_all_answered" test "$(grep -c ' be[123] ' <<<"$out")" = $NREQ ||
		{ grep -v ' be[123] ' <<<"$out" | head -3; }
	check "${name}_backends" test "$(awk '{print $2}' <<<"$out" | sort -u | tr '\n' ' ')" = "$want"
	check "${name}_client_address_seen" test "$(awk '$3 != "[::ffff:" $1 "]"' <<<"$out" | wc -l)" = 0 ||
		{ awk '$3 != "[::ffff:" $1 "]"' <<<"$out" | head -3; }
}

# check_logs NAME: what the containers logged since the marks taken by
# log_marks: every client address, and nothing else (not 172.17.0.1, not the LB)
declare -A MARK
log_marks() { local n; for n in "${BES[@]}"; do MARK[$n]=$(who_log $n | wc -l); done; }
check_logs() {
	local name=$1 n got all bad=""
	for n in "${BES[@]}"; do
		got=$(who_log $n | tail -n +$((MARK[$n] + 1)) | sort -u)
		all+="$got"$'\n'
		for a in $got; do [[ " ${CL4S[*]} " == *" $a "* ]] || bad+="$n:$a "; done
	done
	check "${name}_logs_only_clients" test -z "$bad" || echo "  logged: $bad"
	check "${name}_logs_every_client" test "$(grep -c . <<<"$(sort -u <<<"$all")")" = ${#CL4S[@]}
}

check_replies() { # check_replies NAME NREQ: counted on the bridge since the last reset
	check "${1}_replies_not_via_lb" test "$(nft_packets reply_via_lb)" = 0
	check "${1}_replies_to_client" test "$(nft_packets reply_to_client)" -ge "$2"
	check "${1}_requests_via_lb" test "$(nft_packets request_to_lb)" -ge "$2"
}

round() { # round NAME VIP BACKENDS: one round of requests, checked
	log_marks
	nft_reset
	requests "$1" "$2"
	check_requests "$1" "$3"
	check_logs "$1"
	check_replies "$1" $NREQ
}

test_l2() {
	round l2 $VIP4 "be1 be2 be3 "
}

test_ipip() {
	local n sum=0 drops=0
	for n in "${BES[@]}"; do lbdecap $n -j status >"$TMP/status0-$n"; done
	round ipip $VIPI "be1 be2 be3 "
	for n in "${BES[@]}"; do
		lbdecap $n -j status >"$TMP/status-$n"
		sum=$((sum + $(grep -o '"decap_ipip_4in4":[0-9]*' "$TMP/status-$n" | cut -d: -f2)))
		sum=$((sum - $(grep -o '"decap_ipip_4in4":[0-9]*' "$TMP/status0-$n" | cut -d: -f2)))
		drops=$((drops + $(grep -o '"drop_[a-z_]*":[0-9]*' "$TMP/status-$n" | awk -F: '{s += $2} END {print s + 0}')))
	done
	check ipip_decapsulated test $sum -ge $NREQ
	check ipip_no_decap_drops test $drops = 0
	# a request larger than the links' MTU minus the tunnel's 20 bytes: the
	# LB answers "fragmentation needed", the client's path MTU follows
	head -c 20000 /dev/zero | tr '\0' x >"$TMP/body"
	check ipip_large_request bash -c "ip netns exec $P-cl curl -s --max-time 10 --interface ${CL4S[5]} \
		--data-binary @$TMP/body http://$VIPI/cgi-bin/who | grep -qx 'be[123] \[::ffff:${CL4S[5]}\]'"
	check ipip_path_mtu_1480 bash -c "ip -n $P-cl route get $VIPI from ${CL4S[5]} | grep -q 'mtu 1480'"
}

# health NAME NODE STOP START: STOP takes NODE's container away: lbd marks
# it down on both VIPs, new connections go elsewhere; START brings it back.
health() {
	local name=$1 n=$2 stop=$3 start=$4 addr=${BE4[${2#be} - 1]}
	check "${name}_stopped" $stop
	check "${name}_marked_down" wait_for 200 bash -c "! '$SAN/lbctl' -s '$SOCK' vip show | grep -w '$addr' | grep -qw up" ||
		lbctl vip show
	# and out of both VIPs' rings: a health change reaches the datapath up to
	# 100 ms (SYNC_DELAY_MS) after `vip show` shows it
	check "${name}_out_of_rings" wait_for 50 bash -c \
		"[ \$('$SAN/lbctl' -s '$SOCK' -j vip show | grep -o '\"up\":2,' | wc -l) -ge 2 ]"
	NREQ=20 requests "${name}_down_l2" $VIP4
	NREQ=20 requests "${name}_down_ipip" $VIPI
	NREQ=20 check_requests "${name}_down_l2" "$(tr ' ' '\n' <<<"be1 be2 be3" | grep -vx $n | tr '\n' ' ')"
	NREQ=20 check_requests "${name}_down_ipip" "$(tr ' ' '\n' <<<"be1 be2 be3" | grep -vx $n | tr '\n' ' ')"
	check "${name}_started" $start
	check "${name}_marked_up" wait_for 300 bash -c \
		"[ \$('$SAN/lbctl' -s '$SOCK' vip show | grep -w '$addr' | grep -cw up) = 2 ]" || lbctl vip show
	NREQ=30 requests "${name}_up_l2" $VIP4
	NREQ=30 check_requests "${name}_up_l2" "be1 be2 be3 "
}

test_health() {
	health stop_be3 be3 "dkq be3 stop -t 2 web" "dkq be3 start web"
}

# longlived NAME PORT CMD...: a streaming connection to be1 through the l2
# VIP (from the first client port from PORT on that goes there) keeps
# going while CMD runs (on another backend) and after it.
longlived() {
	local name=$1 base=$2 port= p out n1 pid ok
	shift 2
	for ((p = base; p < base + 200; p++)); do
		lbctl flow lookup $VIP4:80/tcp ${CL4S[0]}:$p | grep -q "${BE4[0]} " && { port=$p; break; }
	done
	check "${name}_flow_to_be1" test -n "$port" || return
	out=$TMP/stream-$name
	nsx cl curl -sN --max-time 60 --interface ${CL4S[0]} --local-port $port \
		"http://$VIP4/cgi-bin/stream?250" >"$out" 2>&1 &
	pid=$!
	check "${name}_stream_started" wait_for 100 bash -c "[ \$(wc -l <'$out') -ge 3 ]"
	# be1's conntrack: the DNAT'd flow, whose reply leaves from the VIP
	check "${name}_conntrack_dnat" nsx be1 grep -qE \
		"src=${CL4S[0]} dst=$VIP4 sport=$port dport=80 src=172\.17\.[0-9.]+ dst=${CL4S[0]} sport=80 dport=$port " \
		/proc/net/nf_conntrack || nsx be1 grep "sport=$port" /proc/net/nf_conntrack
	check "${name}_done" "$@"
	n1=$(wc -l <"$out")
	check "${name}_stream_goes_on" wait_for 100 bash -c "[ \$(wc -l <'$out') -ge $((n1 + 5)) ]"
	kill "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	# one connection, to be1, nothing lost or repeated
	ok=$(awk '$1 != "be1" || $2 != NR {bad = 1} END {print (NR > 0 && !bad)}' "$out")
	check "${name}_one_connection_to_be1" test "$ok" = 1 || head -3 "$out"
}

test_longlived() {
	longlived restart_be2 40000 dkq be2 restart -t 2 web
	check restart_be2_back_up wait_for 300 bash -c \
		"[ \$('$SAN/lbctl' -s '$SOCK' vip show | grep -w '${BE4[1]}' | grep -cw up) = 2 ]"
}

# A single-node Swarm on be3 instead of its `docker run` container: a
# service published in host mode (the routing mesh would hide clients).
swarm_service() {
	dkn be3 service create --detach --name web --label xdplb.web --container-label xdplb.web \
		--init --env NAME=be3 --no-resolve-image --stop-grace-period 2s \
		--publish mode=host,target=80,published=80 --endpoint-mode dnsrr $DK_IMAGE >/dev/null
}
swarm_tasks() { [ "$(dkn be3 ps -q --filter label=xdplb.web --filter status=running | wc -l)" = "$1" ]; }
test_swarm() {
	check swarm_container_removed dkq be3 rm -f web
	check swarm_init dkq be3 swarm init --advertise-addr ${BE4[2]} || return
	check swarm_service_created swarm_service || return
	check swarm_task_running wait_for 300 swarm_tasks 1 || { dkn be3 service ps --no-trunc web; return; }
	check swarm_host_mode_dnat bash -c \
		"nsenter --net=/var/run/netns/$P-be3 iptables -t nat -S DOCKER | grep -q 'dport 80 -j DNAT'"
	check swarm_marked_up wait_for 300 bash -c \
		"[ \$('$SAN/lbctl' -s '$SOCK' vip show | grep -w '${BE4[2]}' | grep -cw up) = 2 ]" || return
	round swarm_l2 $VIP4 "be1 be2 be3 "
	round swarm_ipip $VIPI "be1 be2 be3 "
	health swarm_scale be3 "dkq be3 service scale --detach web=0" "dkq be3 service scale --detach web=1"
	longlived swarm_update 41000 dkq be3 service update --detach --force web
}

test_no_leaks() {
	local out
	dk_teardown
	out=$(dk_leaks "$TMP/dk-")
	check no_docker_leftovers test -z "$out" || echo "$out"
	check host_ruleset_unchanged test "$(nft list ruleset 2>&1 | md5sum)" = "$RULES_BEFORE"
	# what remains of /run/docker, /run/containerd was there before
	check no_run_dirs_left bash -c "for r in \$(ls -d /run/docker /run/containerd 2>/dev/null); do
		grep -qx \$r <<<'$RUN_DIRS_BEFORE' || exit 1; done"
	check no_data_dirs bash -c "! ls -d '$TMP'/dk-* 2>/dev/null"
	check no_cgroups_left bash -c "[ -z \"\$(find /sys/fs/cgroup -maxdepth 6 -type d -name 'xdplb-$P-*' 2>/dev/null)\" ]"
}

main() {
	setup || { fail setup "cannot build the Docker lab"; summary; exit 1; }
	test_counter_sensitive
	test_l2
	test_ipip
	test_health
	test_longlived
	test_swarm
	test_no_leaks
	stop_lbd TERM
	check lbd_sanitizers_clean lbd_log_clean
	check lbdecap_sanitizers_clean bash -c "! grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' '$TMP/lbdecap.log'"
	summary
}

main
