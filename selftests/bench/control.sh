#!/usr/bin/env bash
# control.sh - `make bench-control`: the control plane of a running lbd
# (selftests/bench/bench_control.c says what is measured).  An l2 lab from
# selftests/net/lib.sh, lbd from build/ (not the sanitizer build), one VIP
# with one backend, and 8192 permanent neighbours for the restore's
# backends so that the restore measures lbd, not address resolution.
SAN=${SAN:-${BUILD:-build}} # lbd and lbctl as shipped
T=bench-control
source "$(dirname "$0")/../net/lib.sh"

lab_l2 || { echo "bench control: lab setup failed" >&2; exit 1; }
mac_be1=$(ip -n "$P-be1" -br link show eth0 | awk '{print $3}')
mac_be2=$(ip -n "$P-be2" -br link show eth0 | awk '{print $3}')
ip -n "$P-lb" addr add 10.100.255.254/16 dev eth0
for ((k = 0; k < 8192; k++)); do
	echo "neigh add 10.100.$((k / 250)).$((k % 250 + 1)) lladdr $mac_be1 nud permanent dev eth0"
done | ip -n "$P-lb" -batch - || { echo "bench control: neighbours failed" >&2; exit 1; }

start_lbd --xdp-mode native --metrics 127.0.0.1:9469 ||
	{ echo "bench control: lbd did not start" >&2; cat "$TMP/lbd.log" >&2; exit 1; }
lbctl vip add $VIP4:80/tcp && lbctl backend add $VIP4:80/tcp ${BE4[0]} || exit 1
wait_for 50 sh -c "'$SAN/lbctl' -s '$SOCK' vip show | grep -q '$mac_be1'" ||
	{ echo "bench control: backend not resolved" >&2; exit 1; }

XDPLB_PIN=$PIN/eth0 XDPLB_LBCTL=$(realpath "$SAN/lbctl") LBCTL_SOCKET=$SOCK XDPLB_LBD_PID=$LBD_PID \
	XDPLB_VIP=$VIP4:80/tcp XDPLB_CLIENT=$CL4 XDPLB_BE1=${BE4[0]} XDPLB_BE2=${BE4[1]} \
	XDPLB_BE2_MAC=$mac_be2 XDPLB_TMP=$TMP XDPLB_METRICS=127.0.0.1:9469 \
	nsx lb "$BUILD/xdplb-bench" control
