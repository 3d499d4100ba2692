#!/usr/bin/env bash
# demo.sh - `make demo`: the l2 lab, lbd on the LB, a VIP with three nginx
# backends configured with lbctl, a few hundred requests from 20 client
# addresses, and what each side saw.
set -euo pipefail
cd "$(dirname "$0")/../.."
LAB=tools/lab/lab
RUN=/run/xdplb-lab
VIP=10.99.1.100

$LAB down >/dev/null 2>&1 || true
$LAB up
$LAB exec lb build/lbd --iface eth0 --socket $RUN/lbd.sock --state $RUN/state \
	--pin $RUN/bpf </dev/null >$RUN/lbd.log 2>&1 &
echo $! >$RUN/lbd.pid
for i in $(seq 50); do [ -S $RUN/lbd.sock ] && break; sleep 0.1; done
ctl() { echo "+ lbctl $*"; $LAB exec lb build/lbctl "$@"; }
ctl vip add $VIP:80/tcp check http / interval 1s
for b in 10.99.0.11 10.99.0.12 10.99.0.13; do ctl backend add $VIP:80/tcp $b; done
sleep 1.5 # first health checks
ctl vip show

echo; echo "== 300 requests from 20 client addresses (curl)"
for r in $(seq 15); do
	for i in $(seq 20 39); do
		$LAB exec cl curl -s --max-time 2 --interface 10.99.0.$i http://$VIP/ || echo FAILED
	done
done | sort | uniq -c

echo; echo "== client addresses each nginx logged (lbd's own health checks, user agent xdplb-lbd, left out)"
for n in be1 be2 be3; do
	addrs=$(grep -v xdplb-lbd $RUN/$n/access.log | awk '{print $1}' | sort -u)
	echo "$n: $(echo "$addrs" | wc -l) distinct: $(echo $addrs | cut -c1-90)..."
done

echo; ctl stats
echo; echo "== /metrics (Prometheus text format), a few lines: curl from the LB namespace"
echo "+ curl -s http://127.0.0.1:9469/metrics"
$LAB exec lb curl -s --max-time 5 http://127.0.0.1:9469/metrics |
	grep -E '^xdplb_(vip_packets_total|vip_new_flows_total|backend_new_flows_total|backend_up|vip_unique_clients|packets_total\{action="tx"|flow_table_entries|build_info)' |
	head -n 14
echo
echo "Look around:  tools/lab/lab exec lb build/lbctl vip show   (or stats, top, flows, save)"
echo "              tools/lab/lab exec lb curl -s http://127.0.0.1:9469/metrics"
echo "Tear down:    make demo-down"
