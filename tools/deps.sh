#!/usr/bin/env bash
# deps.sh - install the Debian packages xdplb needs; installs only what is
# missing, so running it again is a no-op.  Used by `make deps`.
set -euo pipefail

PKGS=(
	# build
	make gcc clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev libmnl-dev
	linux-libc-dev pkg-config libclang-rt-14-dev
	libmicrohttpd-dev # lbd's /metrics server (HTTP parsing, limits; see README)
	libsodium-dev # lbd's flow sync: HMAC-SHA256 of every message (see README)
	# labs and tests
	iproute2 iputils-ping ethtool curl nginx-light socat procps psmisc util-linux
	nftables # test_routed.sh: counters on the router
	prometheus # promtool and a real server scraping lbd in test_metrics.sh
	python3 # test_metrics.sh: JSON checks, slowloris clients
	cppcheck clang-tidy # make lint (tools/lint.sh)
	qemu-system-x86 # selftests/k61: the BPF objects on Debian 12's 6.1 kernel in a VM
	haproxy wrk # test_outage.sh, bench outage: the HAProxy reference
	bird2 # test_ecmp.sh, lab up ecmp, bench failover: BGP + BFD between router and LB nodes
	dpkg-dev lintian man-db bash-completion systemd # make deb, test_install.sh (lintian, man, completion, systemd-analyze)
	docker.io busybox-static # test_docker.sh, lab up docker: a dockerd per backend namespace
	# benchmarks
	gnuplot-nox # PNG plots in build/bench/
)

missing=()
for p in "${PKGS[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
		missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
	echo "deps: missing packages: ${missing[*]} (run as root to install them)" >&2
	exit 1
fi
echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# haproxy's package starts and enables a system service: the tests run their
# own HAProxy processes in namespaces, so keep the system one stopped
if [[ " ${missing[*]} " == *" haproxy "* ]]; then
	if [ -d /run/systemd/system ]; then
		systemctl disable --now haproxy >/dev/null 2>&1 || true
	else
		invoke-rc.d haproxy stop >/dev/null 2>&1 || true
		update-rc.d haproxy disable >/dev/null 2>&1 || true
	fi
fi
# bird2 enables a system BIRD too: the tests run one BIRD per namespace
if [[ " ${missing[*]} " == *" bird2 "* ]]; then
	if [ -d /run/systemd/system ]; then
		systemctl disable --now bird >/dev/null 2>&1 || true
	else
		invoke-rc.d bird stop >/dev/null 2>&1 || true
		update-rc.d bird disable >/dev/null 2>&1 || true
	fi
fi
# docker.io enables docker and containerd services: the tests run their own
# dockerd (with its own containerd) per namespace, so keep the system ones stopped
if [[ " ${missing[*]} " == *" docker.io "* ]]; then
	if [ -d /run/systemd/system ]; then
		systemctl disable --now docker.socket docker.service containerd.service >/dev/null 2>&1 || true
	else
		invoke-rc.d docker stop >/dev/null 2>&1 || true
		update-rc.d docker disable >/dev/null 2>&1 || true
	fi
	# a system dockerd that started anyway (it stops the containerd it started)
	[ -s /run/docker.pid ] && kill -TERM "$(cat /run/docker.pid)" 2>/dev/null || true
fi
