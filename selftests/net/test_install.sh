#!/usr/bin/env bash
# test_install.sh - xdplb installed the way an operator would (issue 18):
#   make install DESTDIR: exactly the expected files, units with PREFIX/sbin;
#     make uninstall: none left.  systemd-analyze verify on the units.
#   promtool: the alert rules check and their unit tests pass (and a
#     mutated rule fails them).
#   make deb: lintian clean (errors, warnings), Depends covers what the
#     binaries link, the conffiles; apt-get install of it on this machine;
#     the INSTALLED binaries (/usr/sbin) in the l2 lab: lbd started by the
#     unit's ExecStart line as written, under the unit's capability bounding
#     set, traffic through it, /metrics, stop leaves forwarding on, --detach;
#     lbdecap by its unit's ExecStart/ExecStop lines; the man pages; the
#     iproute2 protocol name; bash completion against the running lbd; then
#     apt-get remove and purge: nothing of the package left but what policy
#     keeps (conffiles until purge).
# It installs into this machine's root file system: the package is purged on
# every exit path (trap), lbd is stopped and the lab's XDP program goes with
# the lab's namespaces.  systemd is not PID 1 here: units are checked with
# systemd-analyze verify and by running their Exec lines.
export SAN=/usr/sbin # lib.sh's lbd/lbctl: the installed ones
source "$(dirname "$0")/lib.sh"

APT=(env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 -y -qq)
UNIT=/lib/systemd/system/lbd@.service
DUNIT=/lib/systemd/system/lbdecap@.service

purge_pkg() {
	if dpkg-query -W -f='${Status}' xdplb 2>/dev/null | grep -qv 'not-installed'; then
		"${APT[@]}" purge xdplb >/dev/null 2>&1 || dpkg --purge xdplb >/dev/null 2>&1
	fi
	return 0
}
cleanup() {
	teardown
	purge_pkg
	rm -rf "${DEST:-}"
}
trap cleanup EXIT

# installed_lbd_pids: processes running the installed lbd (gone or not)
installed_lbd_pids() {
	find /proc/[0-9]*/exe -maxdepth 0 \( -lname /usr/sbin/lbd -o -lname '/usr/sbin/lbd (deleted)' \) \
		2>/dev/null | cut -d/ -f3
}

# unit_line FILE KEY: KEY's value in a unit file (the first)
unit_line() { sed -n "s/^$2=//p" "$1" | head -n 1; }

# --- make install / uninstall ---------------------------------------------------
EXPECTED="etc/iproute2/rt_protos.d/xdplb.conf
etc/xdplb/lbd.conf
etc/xdplb/lbdecap.conf
usr/local/lib/systemd/system/lbd@.service
usr/local/lib/systemd/system/lbdecap@.service
usr/local/sbin/lbctl
usr/local/sbin/lbd
usr/local/sbin/lbdecap
usr/local/share/bash-completion/completions/lbctl
usr/local/share/doc/xdplb/examples/example.conf
usr/local/share/doc/xdplb/examples/xdplb.rules.yml
usr/local/share/man/man8/lbctl.8
usr/local/share/man/man8/lbd.8
usr/local/share/man/man8/lbdecap.8"

test_make_install() {
	local got r
	DEST=$(mktemp -d /tmp/xdplb-dest.XXXXXX)
	make -s -C "$ROOT" BUILD="$BUILD" DESTDIR="$DEST/root" install >"$DEST/log" 2>&1 ||
		fail make_install "make install failed: $(tail -3 "$DEST/log")"
	got=$(cd "$DEST/root" && find . ! -type d | sed 's|^\./||' | sort)
	if [ "$got" = "$EXPECTED" ]; then pass make_install_files; else
		fail make_install_files "expected/installed differ: $(diff <(echo "$EXPECTED") <(echo "$got") | grep '^[<>]' | tr '\n' ' ')"
	fi
	r=$(unit_line "$DEST/root/usr/local/lib/systemd/system/lbd@.service" ExecStart)
	check make_install_unit_prefix test "$r" = '/usr/local/sbin/lbd --iface %i $LBD_OPTS'
	r=$(unit_line "$DEST/root/usr/local/lib/systemd/system/lbd@.service" EnvironmentFile)
	check make_install_unit_sysconf test "$r" = '-/etc/xdplb/lbd.conf'
	cmp -s "$DEST/root/usr/local/sbin/lbd" "$BUILD/lbd" && test -x "$DEST/root/usr/local/sbin/lbd"
	check make_install_binary test $? = 0
	make -s -C "$ROOT" BUILD="$BUILD" DESTDIR="$DEST/root" uninstall >"$DEST/log" 2>&1
	got=$(cd "$DEST/root" && find . ! -type d; find . -path '*xdplb*')
	check make_uninstall_leaves_nothing test -z "$got"
	# units of an install under PREFIX (binaries and man pages where they
	# say): systemd-analyze verify prints nothing
	make -s -C "$ROOT" BUILD="$BUILD" PREFIX="$DEST/p" SYSCONFDIR="$DEST/etc" install >"$DEST/log" 2>&1
	r=$(MANPATH=$DEST/p/share/man systemd-analyze verify "$DEST"/p/lib/systemd/system/*.service 2>&1)
	check make_install_units_verify test $? = 0 -a -z "$r"
	# and verify does find faults: a unit with a bad directive value
	sed 's/^Restart=on-failure/Restart=sometimes/' "$DEST/p/lib/systemd/system/lbd@.service" >"$DEST/bad@.service"
	r=$(MANPATH=$DEST/p/share/man systemd-analyze verify "$DEST/bad@.service" 2>&1)
	check units_verify_catches_faults grep -qi 'restart specifier' <<<"$r"
}

# --- Prometheus rules ------------------------------------------------------------
test_rules() {
	local d=$ROOT/tools/prometheus m
	promtool check rules "$d/xdplb.rules.yml" >"$TMP/promtool.log" 2>&1
	check rules_check test $? = 0 || cat "$TMP/promtool.log"
	promtool test rules "$d/xdplb.rules.test.yml" >"$TMP/promtool.log" 2>&1
	check rules_unit_tests test $? = 0 || cat "$TMP/promtool.log"
	# the tests bite: the flow-table threshold moved from 0.9 to 0.96
	m=$(mktemp -d /tmp/xdplb-rules.XXXXXX)
	sed 's/> 0.9$/> 0.96/' "$d/xdplb.rules.yml" >"$m/xdplb.rules.yml"
	cp "$d/xdplb.rules.test.yml" "$m/"
	! grep -q '> 0.9$' "$m/xdplb.rules.yml" && ! promtool test rules "$m/xdplb.rules.test.yml" >/dev/null 2>&1
	check rules_tests_catch_a_mutation test $? = 0
	rm -rf "$m"
}

# --- the package -----------------------------------------------------------------
DEB=
test_deb() {
	local v f deps need lib pkg missing='' d
	purge_pkg # a run killed before its trap may have left it
	rm -f "$BUILD"/xdplb_*.deb
	make -s -C "$ROOT" BUILD="$BUILD" deb >"$TMP/deb.log" 2>&1 || fail make_deb "$(tail -5 "$TMP/deb.log")"
	DEB=$(ls "$BUILD"/xdplb_*.deb 2>/dev/null)
	v=$(dpkg-deb -f "$DEB" Version 2>/dev/null)
	check make_deb test -n "$v" -a "$DEB" = "$BUILD/xdplb_${v}_$(dpkg --print-architecture).deb"
	lintian --fail-on error,warning "$DEB" >"$TMP/lintian.log" 2>&1
	f=$?
	check lintian_clean test $f = 0 -a -z "$(grep -E '^[EW]: ' "$TMP/lintian.log")" ||
		cat "$TMP/lintian.log"
	f=$(dpkg-deb -f "$DEB" Depends)
	deps=$(tr ',' '\n' <<<"$f" | awk '{print $1}')
	# every library the binaries need comes from a package in Depends or
	# from one of their own dependencies
	d=$(mktemp -d /tmp/xdplb-deb.XXXXXX)
	dpkg-deb -x "$DEB" "$d"
	need=$(for b in lbd lbctl lbdecap; do objdump -p "$d/usr/sbin/$b" | awk '/NEEDED/ {print $2}'; done | sort -u)
	for lib in $need; do
		pkg=$(dpkg -S "*/$(gcc -print-multiarch)/$lib" 2>/dev/null | head -1 | cut -d: -f1)
		grep -qx "$pkg" <<<"$deps" && continue
		for p in $deps; do
			dpkg-query -W -f='${Depends}\n' "$p" 2>/dev/null | tr ',' '\n' | awk '{print $1}' |
				grep -qx "$pkg" && continue 2
		done
		missing+="$lib($pkg) "
	done
	check deb_depends_cover_libraries test -n "$need" -a -z "$missing" -a -n "$(grep -x libbpf1 <<<"$deps")"
	rm -rf "$d"
	f=$(dpkg-deb -I "$DEB" conffiles | sort | tr '\n' ' ')
	check deb_conffiles test "$f" = "/etc/iproute2/rt_protos.d/xdplb.conf /etc/xdplb/lbd.conf /etc/xdplb/lbdecap.conf "
}

test_apt_install() {
	local f bad=
	local t0=$SECONDS
	"${APT[@]}" install "$DEB" >"$TMP/apt.log" 2>&1 || cat "$TMP/apt.log"
	echo "  apt-get install: $((SECONDS - t0)) s"
	f=$(dpkg-query -W -f='${Status} ${Version}' xdplb 2>/dev/null)
	check apt_install test "$f" = "install ok installed $(dpkg-deb -f "$DEB" Version)"
	dpkg -L xdplb >"$TMP/files"
	for f in $(cat "$TMP/files"); do [ -e "$f" ] || bad+="$f "; done
	check installed_files_present test -z "$bad" -a -x /usr/sbin/lbd -a -x /usr/sbin/lbctl -a -x /usr/sbin/lbdecap
	check postinst_started_nothing test -z "$(installed_lbd_pids)"
	f=$(systemd-analyze verify "$UNIT" "$DUNIT" 2>&1)
	check units_verify test $? = 0 -a -z "$f" || echo "$f"
	check unit_execstart_usr_sbin test "$(unit_line "$UNIT" ExecStart)" = '/usr/sbin/lbd --iface %i $LBD_OPTS'
	f=$(man -w lbd 2>/dev/null)
	check man_lbd_path test "$f" = /usr/share/man/man8/lbd.8.gz
	MANWIDTH=100 man -P cat lbd 2>/dev/null | grep -q 'lbd - the xdplb load balancer daemon'
	check man_lbd_renders test $? = 0
	MANWIDTH=100 man -P cat lbctl 2>/dev/null | grep -q 'lbctl - manage the xdplb load balancer'
	check man_lbctl_renders test $? = 0
	check rt_protos_name ip route show proto xdplb
}

# unit_caps UNIT: its CapabilityBoundingSet as setpriv's list (+bpf,+net_admin,...)
unit_caps() { unit_line "$1" CapabilityBoundingSet | tr 'A-Z' 'a-z' | sed 's/cap_/+/g; s/ /,/g'; }

# The lab with the installed lbd: started by the unit's ExecStart line (%i
# = eth0, LBD_OPTS from the installed lbd.conf plus the lab's socket, pin
# and a metrics port), under the unit's capability bounding set; its state
# in the unit's place, /var/lib/xdplb/state (purge must remove it).
start_unit_lbd() {
	local exec caps LBD_OPTS
	exec=$(unit_line "$UNIT" ExecStart)
	exec=${exec//%i/eth0}
	caps=$(unit_caps "$UNIT")
	source /etc/xdplb/lbd.conf
	export LBD_OPTS="$LBD_OPTS --socket $SOCK --pin $PIN"
	rm -f "$SOCK"
	mkdir -p /var/lib/xdplb
	ip netns exec "$P-lb" setpriv --no-new-privs --inh-caps=-all --bounding-set=-all,$caps \
		bash -c "exec $exec" 2>>"$TMP/lbd.log" &
	LBD_PID=$!
	wait_for 100 test -S "$SOCK" && wait_for 50 lbctl vip show
}

# caps_mask: the bounding set the unit names, as /proc/PID/status shows it
caps_mask() {
	local c n m=0
	for c in $(unit_line "$UNIT" CapabilityBoundingSet); do
		case $c in CAP_NET_ADMIN) n=12 ;; CAP_SYS_ADMIN) n=21 ;; CAP_PERFMON) n=38 ;; CAP_BPF) n=39 ;; *) return 1 ;; esac
		m=$((m | (1 << n)))
	done
	printf '%016x\n' $m
}

# complete WORDS...: what the installed completion offers for the command line
# "WORDS..." (the last word the one being completed), one per line
complete_line() {
	bash -c '
		source /usr/share/bash-completion/bash_completion
		_completion_loader lbctl
		COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
		COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
		_lbctl lbctl "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
		printf "%s\n" "${COMPREPLY[@]}"' complete "$@" 2>/dev/null | sort | tr '\n' ' '
}

# asks TCP4|TCP6 ADDR PORTBASE BINDADDR: 30 requests from the client (source ports
# PORTBASE+1..30) in one namespace command; prints the backends' names
asks() {
	nsx cl bash -c 'for i in $(seq 30); do
		echo | timeout 3 socat -T 2 - "$0:$1:80,bind=$3:$(($2 + i))" 2>/dev/null | head -n 1
	done' "$@"
}

test_lab() {
	local i r seen n mask
	lab_l2 || fail lab "the l2 lab did not come up"
	for i in 1 2 3; do serve be$i 80; serve6 be$i 80; done
	start_unit_lbd
	check lbd_started_from_unit test -n "$LBD_PID" -a "$(installed_lbd_pids)" = "$LBD_PID"
	mask=$(awk '/^CapBnd/ {print $2}' "/proc/$LBD_PID/status" 2>/dev/null)
	check lbd_runs_with_unit_caps test -n "$mask" -a "$mask" = "$(caps_mask)"
	lbctl vip add $VIP4:80/tcp >/dev/null && lbctl vip add "[$VIP6]:80/tcp" >/dev/null
	for i in 0 1 2; do
		lbctl backend add $VIP4:80/tcp "${BE4[$i]}" >/dev/null
		lbctl backend add "[$VIP6]:80/tcp" "${BE6[$i]}" >/dev/null
	done
	wait_for 50 bash -c "[ \$(/usr/sbin/lbctl -s $SOCK vip show | grep -c ' up ') = 6 ]"
	seen=$(asks TCP4 $VIP4 30000 "" | sort | uniq -c | awk '{print $2 ":" $1}' | tr '\n' ' ')
	n=$(wc -w <<<"$seen")
	check lab_traffic_ipv4 test "$n" = 3 -a -z "$(tr ' ' '\n' <<<"$seen" | grep -v '^be[123]:' | grep .)" ||
		echo "  answers: $seen"
	seen=$(asks TCP6 "[$VIP6]" 31000 "[::]" | sort | uniq -c | awk '{print $2}' | tr '\n' ' ')
	check lab_traffic_ipv6 test "$seen" = "be1 be2 be3 "
	r=$(nsx lb curl -s --max-time 5 http://127.0.0.1:9469/metrics |
		awk -v v="xdplb_vip_packets_total{vip=\"$VIP4:80/tcp\"}" '$1 == v {print $2}')
	check metrics_scrape test "${r:-0}" -ge 30
	check state_in_var_lib grep -q "backend add $VIP4:80/tcp" /var/lib/xdplb/state

	# bash completion, VIPs and backends from this lbd
	r=$(complete_line lbctl -s "$SOCK" "")
	check completion_objects test -n "$(grep -w vip <<<"$r")" -a -n "$(grep -w node <<<"$r")" -a -n "$(grep -w backend <<<"$r")"
	r=$(complete_line lbctl -s "$SOCK" node "")
	check completion_node test "$r" = "drain help show undrain "
	r=$(complete_line lbctl -s "$SOCK" vip show "")
	check completion_vips_from_lbd test "$r" = "$VIP4:80/tcp [$VIP6]:80/tcp "
	r=$(complete_line lbctl -s "$SOCK" backend set $VIP4:80/tcp "")
	check completion_backends_from_lbd test "$r" = "${BE4[*]} "
	r=$(complete_line lbctl -s "$SOCK" vip add 10.0.0.1:80/tcp check tcp "")
	check completion_vip_add_keywords grep -qw need <<<"$r"
	r=$(complete_line lbctl -s "$SOCK" vip add 10.0.0.1:80/tcp method "")
	check completion_methods test "$r" = "gue ipip l2 "

	# routes of protocol 249 show by the installed name
	nsx lb ip route add 10.99.7.0/24 dev eth0 proto 249
	r=$(nsx lb ip route show 10.99.7.0/24)
	check rt_protos_route_shown test "$r" = "10.99.7.0/24 dev eth0 proto xdplb scope link "
	r=$(nsx lb ip route show proto xdplb)
	check rt_protos_filter test "$r" = "10.99.7.0/24 dev eth0 scope link "

	# stop as systemd does (SIGTERM): exit 0, forwarding goes on
	stop_lbd TERM
	check lbd_stop_exit_0 test $? = 0
	r=$(ask $VIP4 80 32000)
	check forwarding_survives_stop test -n "$r" -a "${r#be}" != "$r"
	check lbd_detach nsx lb /usr/sbin/lbd --iface eth0 --pin "$PIN" --detach
	check no_xdp_left test -z "$(nsx lb ip link show eth0 | grep -o 'xdp[a-z]*')"

	# lbdecap@: its Exec lines as written, on be1, under the unit's
	# capability bounding set (VIPS from lbdecap.conf's variables, a pin
	# directory of the lab)
	local exec stop VIPS LBDECAP_OPTS LBDECAP_ARGS
	source /etc/xdplb/lbdecap.conf
	export VIPS="$VIP4 $VIP6" LBDECAP_OPTS="--pin $PIN/decap" LBDECAP_ARGS
	exec=$(unit_line "$DUNIT" ExecStart) stop=$(unit_line "$DUNIT" ExecStop)
	nsx be1 setpriv --no-new-privs --inh-caps=-all --bounding-set=-all,"$(unit_caps "$DUNIT")" \
		bash -c "${exec//%i/eth0}" >/dev/null 2>>"$TMP/decap.log"
	check lbdecap_unit_start test -n "$(nsx be1 tc filter show dev eth0 ingress | grep 'pref 3564')"
	r=$(nsx be1 /usr/sbin/lbdecap --pin "$PIN/decap" status 2>/dev/null)
	check lbdecap_status_attached test -n "$(grep -x 'interfaces: eth0' <<<"$r")" \
		-a -n "$(grep "^vips: " <<<"$r" | grep -w $VIP4 | grep -w $VIP6)" || echo "$r" | head -4
	nsx be1 setpriv --no-new-privs --inh-caps=-all --bounding-set=-all,"$(unit_caps "$DUNIT")" \
		bash -c "${stop//%i/eth0}" >/dev/null 2>>"$TMP/decap.log"
	check lbdecap_unit_stop test -z "$(nsx be1 tc filter show dev eth0 ingress)" -a ! -e "$PIN/decap"
	lab_down
}

test_remove_purge() {
	local f left='' paths
	local t0=$SECONDS
	"${APT[@]}" remove xdplb >"$TMP/apt.log" 2>&1 || cat "$TMP/apt.log"
	echo "  apt-get remove: $((SECONDS - t0)) s"
	f=$(dpkg-query -W -f='${Status}' xdplb 2>/dev/null)
	check apt_remove test "$f" = "deinstall ok config-files" -a ! -e /usr/sbin/lbd
	dpkg-deb -I "$DEB" conffiles >"$TMP/conffiles"
	for f in $(cat "$TMP/files"); do
		[ -f "$f" ] || continue
		grep -qx "$f" "$TMP/conffiles" || left+="$f "
	done
	check remove_keeps_only_conffiles test -z "$left" -a -f /etc/xdplb/lbd.conf
	check remove_keeps_state test -f /var/lib/xdplb/state
	t0=$SECONDS
	"${APT[@]}" purge xdplb >"$TMP/apt.log" 2>&1 || cat "$TMP/apt.log"
	echo "  apt-get purge: $((SECONDS - t0)) s"
	f=$(dpkg-query -W -f='${Status}' xdplb 2>/dev/null)
	check apt_purge test -z "$f" -o "$f" = "unknown ok not-installed"
	left=
	for f in $(cat "$TMP/files") /var/lib/xdplb; do
		[ "$f" != /. ] && [ -e "$f" ] && echo "$f"
	done >"$TMP/left"
	# a directory another package holds stays (/etc/iproute2/rt_protos.d, /usr/sbin, ...)
	mapfile -t paths <"$TMP/left"
	dpkg -S "${paths[@]}" 2>/dev/null | sed 's/.*: //' >"$TMP/owned"
	while read -r f; do
		[ -d "$f" ] && grep -qxF "$f" "$TMP/owned" && continue
		left+="$f "
	done <"$TMP/left"
	check purge_leaves_nothing test -z "$left" || echo "  left: $left"
	check no_installed_lbd_running test -z "$(installed_lbd_pids)"
}

for t in make_install rules deb apt_install lab remove_purge; do
	[ -n "$DEB" ] || case $t in make_install | rules | deb) ;; *) continue ;; esac
	"test_$t"
	echo "== $t done at $SECONDS s"
done
summary
