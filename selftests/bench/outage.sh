#!/usr/bin/env bash
# outage.sh - bench part "outage" (make bench-outage): the outage xdplb
# exists for, reproduced at full size, HAProxy beside xdplb.
#
# HAProxy 2.6 in TCP mode, as the entry node of a Docker Swarm, ran out of
# ephemeral ports at ~35k concurrent connections: it opens one connection
# of its own to the backend per client connection, from its own address,
# and one address has one port range.  xdplb forwards at XDP with direct
# server return: the node holds no socket and the backend sees the client.
#
# 1. Connections: 20 client addresses open long-lived connections (connhold,
#    through to holdd on one backend), stepping up to 10k, 30k, 60k, 100k
#    concurrent, through xdplb (the VIP), through HAProxy with Linux's
#    default port range (32768-60999) and with it narrowed to 4000 ports.
#    For each: connections held, what the backend holds and from how many
#    distinct addresses, HAProxy's "no free ports" log lines.  HAProxy runs
#    $HAP_NPROC processes on the same port (SO_REUSEPORT) because each may
#    hold only 20000 descriptors here (LAB.md trap 5): their maxconn adds up
#    to well over the port range, and each process's peak is printed, so it
#    is the port range that stops HAProxy, not the descriptor cap.
# 2. Requests: wrk through each to nginx on the backend (a 3-byte answer,
#    keep-alive), alternating, two rounds; requests per second and the
#    entry node's CPU per 1000 requests: HAProxy's processes (on-CPU time,
#    /proc/PID/task/*/schedstat) against xdplb's XDP program (BPF run time,
#    BPF_ENABLE_STATS, i.e. what kernel.bpf_stats_enabled counts) plus lbd's
#    processes.  The softirq time of the whole machine during each run is
#    printed too: it cannot be split by namespace (the clients', the
#    backend's and the node's packets share the same softirqs), and other
#    work on the machine adds to it.
#
# Output: stdout, $BENCH_DIR/outage.md, $BENCH_DIR/outage.png (gnuplot).
# OUTAGE_STEPS="10000 30000" and OUTAGE_WRK_SECONDS=8 make a shorter run,
# OUTAGE_PARTS="conn" or "http" only one of the two.
set -u
cd "$(dirname "$0")/../.."
BUILD=$(cd "${BUILD:-build}" && pwd)
SAN=$BUILD # lbd without sanitizers: speed
T=outage
BENCH_DIR=${BENCH_DIR:-$BUILD/bench}
mkdir -p "$BENCH_DIR"
BENCH_DIR=$(cd "$BENCH_DIR" && pwd)
source selftests/net/lib.sh
source selftests/net/lib_outage.sh

STEPS=(${OUTAGE_STEPS:-10000 30000 60000 100000})
WRK_SECONDS=${OUTAGE_WRK_SECONDS:-8}
PARTS=" ${OUTAGE_PARTS:-conn http} "
HAP_NPROC=6
# seconds a connection may take to be set up (greeting included): generous,
# so that a loaded machine slows HAProxy down without failing it
CONN_TIMEOUT=${OUTAGE_CONN_TIMEOUT:-30}
DEFAULT_RANGE="32768 60999"
NARROW_RANGE="40000 43999"
MD=$BENCH_DIR/outage.md
DAT=$BENCH_DIR/outage.dat
PNG=$BENCH_DIR/outage.png
for t in haproxy wrk gnuplot; do
	command -v $t >/dev/null || { echo "outage: $t is missing (make deps)" >&2; exit 1; }
done
for b in connhold holdd bpfstats lbd lbctl; do
	[ -x "$BUILD/$b" ] || { echo "outage: $BUILD/$b is missing (make all)" >&2; exit 1; }
done
say() { echo "outage: $*"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }

# --- 1. connections held, stepping up ---
declare -A HELD BE ADDRS NFP PEAK SLOTS

# run_steps NAME TARGET: the steps through TARGET in the lab as it is.
run_steps() {
	local name=$1 target=$2 prev=0 s peak slots
	for s in "${STEPS[@]}"; do
		conn_start "$target" $((s - prev)) $CONN_TIMEOUT
		conn_wait 300 || say "$name: set-up of $s not finished in 300 s"
		settle
		prev=$s
		HELD[$name,$s]=$(conn_sum held) BE[$name,$s]=$(be_held) ADDRS[$name,$s]=$(be_addrs)
		NFP[$name,$s]=- PEAK[$name,$s]=- SLOTS[$name,$s]=-
		if [ "$target" = $HAP4 ]; then
			NFP[$name,$s]=$(hap_no_free_ports)
			PEAK[$name,$s]=$(hap_info CurrConns | sort -n | tail -n 1)
			SLOTS[$name,$s]=$(hap_info Maxconn | awk '{ s += $1; m = $1 } END { print m "x" NR "=" s }')
		fi
		say "$(printf '%-16s %6d attempted: %6d held, backend %6d from %2d address(es), no-free-ports lines %s, busiest process %s of maxconn %s' \
			"$name" "$s" "${HELD[$name,$s]}" "${BE[$name,$s]}" "${ADDRS[$name,$s]}" \
			"${NFP[$name,$s]}" "${PEAK[$name,$s]}" "${SLOTS[$name,$s]}")"
	done
	say "$name: failed connections: $(conn_sum closed) closed by the proxy, $(conn_sum timeout)" \
		"timed out ($CONN_TIMEOUT s), $(conn_sum reset) reset, $(conn_sum refused) refused, $(conn_sum other) other;" \
		"$(conn_sum dropped) dropped after being held"
	local e
	e=$(conn_errors)
	[ -n "$e" ] && say "$name: connhold errors: $e"
	[ "$(be_emfile)" -gt 0 ] && say "$name: the backend ran out of descriptors $(be_emfile) times"
	return 0
}

say "load average $(cut -d' ' -f1-3 /proc/loadavg); steps ${STEPS[*]}; 20 client addresses; one backend"
t0=$SECONDS
[[ $PARTS == *" conn "* ]] || STEPS=()
if [ ${#STEPS[@]} -eq 0 ]; then
	: # not this part
elif outage_lab && xdplb_start; then
	run_steps xdplb $VIP4
else
	say "xdplb lab did not start: $(tail -n 3 "$TMP/lbd.log" 2>/dev/null)"
fi
outage_down
for cfg in "haproxy:$DEFAULT_RANGE" "haproxy-narrow:$NARROW_RANGE"; do
	[ ${#STEPS[@]} -gt 0 ] || break
	name=${cfg%%:*} range=${cfg#*:}
	if outage_lab && hap_start "$range"; then
		say "$name: port range $range ($(echo $range | awk '{ print $2 - $1 + 1 }') ports)," \
			"$HAP_NPROC processes, retries $HAP_RETRIES"
		run_steps "$name" $HAP4
	else
		say "$name: lab or HAProxy did not start: $(cat "$TMP"/hap/*.err 2>/dev/null | head -n 3)"
	fi
	outage_down
done
say "connection steps took $((SECONDS - t0)) s"

# --- 2. requests per second and CPU per 1000 requests ---
# cpu_ns PID...: on-CPU nanoseconds of the processes (all their threads)
cpu_ns() {
	local p
	for p in "$@"; do cat /proc/"$p"/task/*/schedstat 2>/dev/null; done | awk '{ s += $1 } END { printf "%.0f", s }' # mawk: %d stops at 2^31
}
# softirq_ticks: the softirq time of all CPUs, in USER_HZ ticks
softirq_ticks() { awk '$1 == "cpu" { print $8 }' /proc/stat; }
HZ=$(getconf CLK_TCK)

declare -A REQ RPS CPU SIRQ
# wrk_run NAME URL: one wrk run from the client; adds requests, CPU of the
# node (ns) and softirq ticks to NAME's sums.
wrk_run() {
	local name=$1 url=$2 c0 c1 s0 s1 out bpf=0 n rps pids
	if [ "$name" = xdplb ]; then pids=$LBD_PID; else pids=${HAP_PIDS[*]}; fi
	c0=$(cpu_ns $pids) s0=$(softirq_ticks)
	if [ "$name" = xdplb ]; then
		out=$("$BUILD/bpfstats" -o "$TMP/bpfstats" "$PIN/eth0/prog" -- \
			ip netns exec "$P-cl" wrk -t2 -c32 -d"${WRK_SECONDS}s" "$url" 2>&1)
		bpf=$(awk '{ print $7 }' "$TMP/bpfstats" 2>/dev/null)
		say "xdplb: $(cat "$TMP/bpfstats")"
	else
		out=$(nsx cl wrk -t2 -c32 -d"${WRK_SECONDS}s" "$url" 2>&1)
	fi
	c1=$(cpu_ns $pids) s1=$(softirq_ticks)
	n=$(awk '/requests in/ { print $1 }' <<<"$out")
	rps=$(awk '/^Requests\/sec/ { print $2 }' <<<"$out")
	if [ -z "$n" ] || grep -q "Non-2xx\|Socket errors" <<<"$out"; then
		say "$name: wrk: $(tr '\n' ' ' <<<"$out" | cut -c1-300)"
	fi
	say "$(printf '%-8s %9s requests (%9s/s), node CPU %6.3f s (processes %6.3f + BPF %6.3f), softirq (all CPUs) %5.2f s' \
		"$name" "${n:-0}" "${rps:-0}" "$(((c1 - c0) + ${bpf:-0}))e-9" "$((c1 - c0))e-9" "${bpf:-0}e-9" \
		"$(awk -v t=$((s1 - s0)) -v hz=$HZ 'BEGIN { print t / hz }')")"
	REQ[$name]=$((${REQ[$name]:-0} + ${n:-0}))
	RPS[$name]=$(awk -v a="${RPS[$name]:-0}" -v b="${rps:-0}" 'BEGIN { print a + b }')
	CPU[$name]=$((${CPU[$name]:-0} + (c1 - c0) + ${bpf:-0}))
	SIRQ[$name]=$((${SIRQ[$name]:-0} + (s1 - s0)))
}

say "load average $(cut -d' ' -f1-3 /proc/loadavg); wrk -t2 -c32 -d${WRK_SECONDS}s, alternating, 2 rounds"
if [[ $PARTS != *" http "* ]]; then
	: # not this part
elif outage_lab && xdplb_start && hap_start "$DEFAULT_RANGE"; then
	for round in 1 2; do
		wrk_run xdplb "http://$VIP4:$HTTP_PORT/"
		wrk_run haproxy "http://$HAP4:$HTTP_PORT/"
	done
else
	say "HTTP lab did not start"
fi
outage_down

# per 1000 requests, in ms
per_k() { awk -v v="$1" -v n="$2" -v scale="$3" 'BEGIN { if (n > 0) printf "%.3f", v / scale / n * 1000 * 1000; else print "-" }'; }
declare -A RPSAVG CPUK SIRQK
for n in xdplb haproxy; do
	RPSAVG[$n]=$(awk -v r="${RPS[$n]:-0}" 'BEGIN { printf "%.0f", r / 2 }')
	CPUK[$n]=$(per_k "${CPU[$n]:-0}" "${REQ[$n]:-0}" 1e9)
	SIRQK[$n]=$(per_k "${SIRQ[$n]:-0}" "${REQ[$n]:-0}" "$HZ")
done

# --- output: table, plot ---
last=0
[ ${#STEPS[@]} -eq 0 ] || last=${STEPS[${#STEPS[@]} - 1]}
{
	echo "# The outage: HAProxy vs xdplb (selftests/bench/outage.sh)"
	echo
	echo "Measured $(date -u '+%Y-%m-%d %H:%M UTC'), load average at the end $(cut -d' ' -f1-3 /proc/loadavg)" \
		"($(nproc) CPUs, shared with other work). 20 client addresses, one backend (holdd), HAProxy 2.6" \
		"TCP mode, $HAP_NPROC processes (20000 descriptors each), retries $HAP_RETRIES."
	echo
	echo "## Concurrent connections held"
	echo
	echo "| attempted | xdplb held | backend sees (xdplb) | HAProxy held, ports 32768-60999 | backend sees | 'no free ports' lines | HAProxy held, 4000 ports | backend sees | 'no free ports' lines | xdplb / HAProxy |"
	echo "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
	for s in "${STEPS[@]}"; do
		echo "| $s | ${HELD[xdplb,$s]:-} | ${BE[xdplb,$s]:-} from ${ADDRS[xdplb,$s]:-} addr | ${HELD[haproxy,$s]:-} | ${BE[haproxy,$s]:-} from ${ADDRS[haproxy,$s]:-} addr | ${NFP[haproxy,$s]:-} | ${HELD[haproxy-narrow,$s]:-} | ${BE[haproxy-narrow,$s]:-} from ${ADDRS[haproxy-narrow,$s]:-} addr | ${NFP[haproxy-narrow,$s]:-} | $(ratio "${HELD[xdplb,$s]:-0}" "${HELD[haproxy,$s]:-0}") |"
	done
	echo
	if [ ${#STEPS[@]} -gt 0 ]; then
		peak=${PEAK[haproxy,$last]:-0} per=${SLOTS[haproxy,$last]:-}
		per=${per%%x*}
		if [ "$peak" -lt "${per:-0}" ] 2>/dev/null; then
			verdict="below its own maxconn: the port range stopped HAProxy, not its descriptors"
		else
			verdict="AT its maxconn: the descriptor cap may have stopped it (raise HAP_NPROC)"
		fi
		echo "HAProxy's busiest process held $peak connections at $last attempted, of" \
			"maxconn ${SLOTS[haproxy,$last]:-?} (per process x processes = total): $verdict."
		echo
	fi
	echo "## Requests through the entry node (wrk -t2 -c32, ${WRK_SECONDS} s x 2 rounds, nginx, 3-byte answer)"
	echo
	echo "| entry node | requests/s | node CPU ms / 1000 requests | machine-wide softirq ms / 1000 requests |"
	echo "| --- | ---: | ---: | ---: |"
	echo "| HAProxy (processes' on-CPU time) | ${RPSAVG[haproxy]} | ${CPUK[haproxy]} | ${SIRQK[haproxy]} |"
	echo "| xdplb (XDP program's BPF run time + lbd) | ${RPSAVG[xdplb]} | ${CPUK[xdplb]} | ${SIRQK[xdplb]} |"
	echo "| xdplb / HAProxy | $(ratio "${RPSAVG[xdplb]}" "${RPSAVG[haproxy]}") | $(ratio "${CPUK[xdplb]}" "${CPUK[haproxy]}") | $(ratio "${SIRQK[xdplb]}" "${SIRQK[haproxy]}") |"
	echo
	echo "Softirq time cannot be split by namespace: it is every CPU's, the clients' and the backend's" \
		"packets included (and anything else running)."
} >"$MD"

{
	echo "# attempted xdplb haproxy haproxy-narrow"
	for s in "${STEPS[@]}"; do
		echo "$s ${HELD[xdplb,$s]:-0} ${HELD[haproxy,$s]:-0} ${HELD[haproxy-narrow,$s]:-0}"
	done
} >"$DAT"
[ ${#STEPS[@]} -eq 0 ] || gnuplot <<PLOT 2>&1 | grep -v '^$' || true
set terminal png size 900,560
set output "$PNG"
set title "Concurrent connections held: xdplb (DSR) vs HAProxy (TCP proxy), 20 clients, 1 backend"
set xlabel "connections attempted"
set ylabel "connections held"
set key top left
set xrange [0:*]
set yrange [0:*]
set grid
set format x "%.0s%c"
set format y "%.0s%c"
plot x with lines dashtype 2 lc rgb "gray" title "all held", \
	"$DAT" using 1:2 with linespoints lw 2 pt 7 title "xdplb", \
	"$DAT" using 1:3 with linespoints lw 2 pt 5 title "HAProxy, ports 32768-60999", \
	"$DAT" using 1:4 with linespoints lw 2 pt 9 title "HAProxy, 4000 ports"
PLOT

echo
cat "$MD"
echo
echo "outage: table $MD, plot $PNG"
# the bench fails when a part that ran measured nothing
[[ $PARTS != *" conn "* ]] || { [ -n "${HELD[xdplb,$last]:-}" ] && [ -n "${HELD[haproxy,$last]:-}" ]; } || exit 1
[[ $PARTS != *" http "* ]] || [ "${REQ[xdplb]:-0}" -gt 0 ]
