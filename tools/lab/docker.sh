# docker.sh - Docker hosts inside network namespaces, sourced by
# tools/lab/lab (`up docker`) and selftests/net/test_docker.sh.
#
# One real dockerd (Debian's docker.io) per namespace, each with a
# directory of its own, D: data-root D/data, exec-root D/exec (dockerd
# starts its own containerd there, socket D/exec/containerd/containerd.sock),
# API socket D/sock, pidfile D/pid, trust key D/key.json (not
# /etc/docker/key.json), log D/dockerd.log, and a cgroup parent of its own
# (so that its containers can be found and killed even if dockerd is gone).
# dockerd is entered with `nsenter --net` only: `ip netns exec` remounts
# /sys and hides the cgroup mounts dockerd needs ("Devices cgroup isn't
# mounted").  Its containers' mounts are therefore in the host's mount
# namespace, under D; dk_stop removes them.
#
# The image is built here, no registry: a static busybox (busybox-static)
# whose httpd serves /www on port 80 and logs each request as
# "[ADDR]:PORT: url:PATH" (-vv); /cgi-bin/who answers "NAME [CLIENT-ADDR]"
# and /cgi-bin/stream?N sends "NAME I" N times, one line every 0.2 s (a
# long-lived connection).  NAME comes from the container's environment.

DK_IMAGE=xdplb-httpd

dk() { # dk D ARGS...: the docker client of the dockerd in D
	local d=$1
	shift
	DOCKER_HOST=unix://$d/sock timeout 120 docker "$@"
}

# dk_rootfs DIR: the image's root file system in DIR.
dk_rootfs() {
	local r=$1 a
	mkdir -p "$r/bin" "$r/www/cgi-bin" "$r/tmp" || return 1
	cp /bin/busybox "$r/bin/busybox" || return 1
	if ldd "$r/bin/busybox" >/dev/null 2>&1; then # exit 1: "not a dynamic executable"
		echo "dk_rootfs: /bin/busybox is not static (install busybox-static)" >&2
		return 1
	fi
	for a in sh httpd sleep cat; do ln -sf busybox "$r/bin/$a" || return 1; done
	cat >"$r/bin/web" <<-'EOF'
	#!/bin/sh
	echo "$NAME" >/www/index.html
	exec httpd -f -vv -p 80 -h /www
	EOF
	cat >"$r/www/cgi-bin/who" <<-'EOF'
	#!/bin/sh
	printf 'Content-Type: text/plain\r\n\r\n%s %s\n' "$NAME" "$REMOTE_ADDR"
	EOF
	cat >"$r/www/cgi-bin/stream" <<-'EOF'
	#!/bin/sh
	printf 'Content-Type: text/plain\r\n\r\n'
	i=0
	while [ $i -lt "${QUERY_STRING:-10}" ]; do i=$((i + 1)); echo "$NAME $i"; sleep 0.2; done
	EOF
	chmod 755 "$r/bin/web" "$r/www/cgi-bin/who" "$r/www/cgi-bin/stream"
}

# dk_start NS D CGROUP: dockerd in namespace NS; returns once it answers
# (at most 90 s).  Not a job of the calling shell: dk_stop ends it.
dk_start() {
	local ns=$1 d=$2 cg=$3 i
	mkdir -p "$d" || return 1
	printf '{ "deprecated-key-path": "%s/key.json" }\n' "$d" >"$d/daemon.json"
	# DOCKER_SERVICE_PREFER_OFFLINE_IMAGE: Swarm tasks use the local image
	# and never try a registry (there is none; nothing may leave the lab)
	(DOCKER_SERVICE_PREFER_OFFLINE_IMAGE=1 nsenter --net="/var/run/netns/$ns" \
		dockerd --config-file "$d/daemon.json" --data-root "$d/data" --exec-root "$d/exec" \
		--pidfile "$d/pid" -H "unix://$d/sock" --cgroup-parent "$cg" \
		</dev/null >"$d/dockerd.log" 2>&1 &)
	for ((i = 0; i < 900; i++)); do
		[ -S "$d/sock" ] && DOCKER_HOST=unix://$d/sock timeout 10 docker info >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	echo "dk_start: dockerd in $ns did not come up; its log's end:" >&2
	tail -n 5 "$d/dockerd.log" >&2
	return 1
}

# dk_image D ROOTFS: the image, imported into the dockerd in D.
dk_image() {
	tar -C "$2" -c . | dk "$1" import -c 'CMD ["/bin/web"]' - $DK_IMAGE >/dev/null
}

# dk_pids D CGROUP: every process of the dockerd in D: dockerd, its
# containerd and shims (their command lines name D), its containers (in
# CGROUP).
dk_pids() {
	local d=$1 cg=$2 f
	pgrep -f -- "$d/"
	for f in $(find /sys/fs/cgroup -maxdepth 6 -path "*/$cg/*" -name cgroup.procs 2>/dev/null); do
		cat "$f" 2>/dev/null
	done
}

# dk_shim_sockets PID...: the sockets of those PIDs that are containerd
# shims: /run/containerd/s/ and sha256 of "ADDRESS/NAMESPACE/ID" (containerd
# 1.6, checked here against live shims).
dk_shim_sockets() {
	local p
	for p in "$@"; do
		tr '\0' '\n' 2>/dev/null <"/proc/$p/cmdline" | awk '
			/^-namespace$/ {getline ns} /^-id$/ {getline id} /^-address$/ {getline a}
			END {if (ns != "" && id != "" && a != "") print a "/" ns "/" id}' |
			while IFS= read -r k; do
				echo "/run/containerd/s/$(printf '%s' "$k" | sha256sum | cut -d' ' -f1)"
			done
	done
}

# dk_stop D CGROUP: the dockerd in D and everything it made gone: swarm
# left, containers removed, dockerd and containerd stopped (killed after
# 30 s), then whatever is left killed, its mounts under D unmounted, its
# cgroups removed and D deleted.  The namespace's iptables rules go with
# the namespace.  Safe to call twice, and on a dockerd that never started.
dk_stop() {
	local d=$1 cg=$2 pid i m left socks=""
	[ -d "$d" ] || return 0
	if [ -S "$d/sock" ] && DOCKER_HOST=unix://$d/sock timeout 10 docker info >/dev/null 2>&1; then
		DOCKER_HOST=unix://$d/sock timeout 30 docker swarm leave --force >/dev/null 2>&1
		left=$(DOCKER_HOST=unix://$d/sock timeout 10 docker ps -aq 2>/dev/null)
		[ -z "$left" ] || DOCKER_HOST=unix://$d/sock timeout 60 docker rm -f $left >/dev/null 2>&1
	fi
	pid=$(cat "$d/pid" 2>/dev/null)
	if [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null; then
		for ((i = 0; i < 300; i++)); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
	fi
	for ((i = 0; i < 3; i++)); do
		left=$(dk_pids "$d" "$cg" | sort -u)
		[ -z "$left" ] && break
		socks+=" $(dk_shim_sockets $left)"
		kill -9 $left 2>/dev/null
		sleep 0.3
	done
	# a killed shim leaves its socket in /run/containerd/s
	[ -z "${socks// /}" ] || rm -f $socks
	# deepest first; lazily if busy
	for m in $(awk -v d="$d/" 'index($5, d) == 1 {print $5}' /proc/self/mountinfo | sort -r); do
		umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null
	done
	find /sys/fs/cgroup -maxdepth 6 -depth -type d -path "*/$cg*" -exec rmdir {} \; 2>/dev/null
	rm -rf "$d"
	return 0
}

# dk_run_dirs: remove /run/docker/plugins and /run/containerd/s (made by
# dockerd and containerd whatever their flags) when empty and no dockerd
# runs any more.
dk_run_dirs() {
	pgrep -x dockerd >/dev/null && return 0
	rmdir /run/docker/plugins /run/docker /run/containerd/s /run/containerd 2>/dev/null
	return 0
}

# dk_leaks PREFIX: what the dockerds in directories PREFIX* could leave in
# the host (its namespace, its file system), one line each; nothing when clean.
dk_leaks() {
	local p
	ip link show docker0 >/dev/null 2>&1 && echo "docker0 in the host's namespace"
	ip link show docker_gwbridge >/dev/null 2>&1 && echo "docker_gwbridge in the host's namespace"
	for p in $(pgrep -f -- "$1"); do
		echo "process $p: $(tr '\0' ' ' 2>/dev/null <"/proc/$p/cmdline")"
	done
	grep -F -- "$1" /proc/self/mountinfo | awk '{print "mount " $5}'
	[ -e /etc/docker/key.json ] && echo "/etc/docker/key.json"
	return 0
}
