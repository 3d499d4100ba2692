#!/usr/bin/env bash
# run.sh - the BPF objects on a Debian 12 stock kernel (6.1), under qemu.
#
# Fetches Debian's linux-image-6.1.0-N-amd64 package once (apt-get download,
# the kernel only: nothing is installed on the host), builds an initramfs
# with a static init, the static loader (every build/bpf/*.bpf.o through
# libbpf) and the static golden-packet tests (build/k61/test_progs), boots it
# with qemu (KVM where /dev/kvm exists and a 30 s probe boot shows it works,
# else TCG; a KVM run that stalls or aborts is repeated under TCG, and the
# output says which ran) and turns the serial console
# into "PASS 6.1/..." / "FAIL 6.1/..." lines and one closing
# "N passed, N failed, 0 skipped" line.  Built by `make k61-build`.
#
# Environment: BUILD (build), K61_TIMEOUT (seconds for the whole boot, 600),
# K61_KERNEL (a vmlinuz to use instead of Debian's package), K61_TESTS (a
# test_progs -t glob), K61_VERBOSE=1 (whole verifier logs), K61_ACCEL
# (auto, kvm or tcg), K61_STALL (seconds of a silent console after which the
# guest counts as hung, 120), K61_PROBE_TIMEOUT (the KVM probe boot, 30).
# The whole console is kept in $BUILD/k61/console.log.
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
DIR=$BUILD/k61
TIMEOUT=${K61_TIMEOUT:-600}

die() { # a missing piece: one FAIL line and the summary
	echo "FAIL 6.1/setup: $*"
	echo "0 passed, 1 failed, 0 skipped"
	exit 1
}

for f in init loadall test_progs mkcpio; do
	[ -x "$DIR/$f" ] || die "$DIR/$f missing (run: make k61-build)"
done
ls "$BUILD"/bpf/*.bpf.o >/dev/null 2>&1 || die "no $BUILD/bpf/*.bpf.o (run: make k61-build)"
command -v qemu-system-x86_64 >/dev/null ||
	die "qemu-system-x86_64 missing (apt-get install qemu-system-x86, or: make deps)"

# The kernel: the package Debian's linux-image-amd64 depends on now, else
# the newest 6.1.0-N-amd64 the package lists know.
kernel_pkg() {
	local p
	p=$(apt-cache depends linux-image-amd64 2>/dev/null |
		sed -n 's/^ *Depends: \(linux-image-6\.1\.0-[0-9]*-amd64\)$/\1/p' | head -n 1)
	[ -n "$p" ] || p=$(apt-cache pkgnames linux-image-6.1.0- 2>/dev/null |
		grep -E '^linux-image-6\.1\.0-[0-9]+-amd64$' | sort -V | tail -n 1)
	echo "$p"
}

fetch_kernel() {
	local pkg deb tmp
	pkg=$(kernel_pkg)
	if [ -z "$pkg" ] && [ "$(id -u)" -eq 0 ]; then
		apt-get update -qq >/dev/null 2>&1
		pkg=$(kernel_pkg)
	fi
	[ -n "$pkg" ] || die "no linux-image-6.1.0-*-amd64 in the package lists (is this Debian 12? try apt-get update)"
	tmp=$(mktemp -d "$DIR/dl.XXXXXX")
	echo "k61: fetching $pkg (once; cached in $DIR)"
	if ! (cd "$tmp" && apt-get download "$pkg" >dl.log 2>&1); then
		local why
		why=$(grep -E '^E: ' "$tmp/dl.log" | head -n 1)
		rm -rf "$tmp"
		die "apt-get download $pkg failed${why:+: $why}"
	fi
	deb=$(ls "$tmp"/*.deb 2>/dev/null | head -n 1)
	if [ -z "$deb" ] || ! dpkg-deb --fsys-tarfile "$deb" |
		tar -x -C "$tmp" --wildcards './boot/vmlinuz-*' 2>/dev/null; then
		rm -rf "$tmp"
		die "no vmlinuz in $pkg"
	fi
	mv "$(ls "$tmp"/boot/vmlinuz-* | head -n 1)" "$DIR/" && rm -rf "$tmp"
}

if [ -n "${K61_KERNEL:-}" ]; then
	[ -r "$K61_KERNEL" ] || die "K61_KERNEL=$K61_KERNEL is not readable"
	kernel=$K61_KERNEL
else
	kernel=$(ls "$DIR"/vmlinuz-6.1.* 2>/dev/null | sort -V | tail -n 1)
	if [ -z "$kernel" ]; then
		fetch_kernel
		kernel=$(ls "$DIR"/vmlinuz-6.1.* 2>/dev/null | sort -V | tail -n 1)
	fi
	[ -n "$kernel" ] || die "no kernel in $DIR"
fi

# The initramfs.
{
	printf '%s\n' 'dir /dev 755' 'nod /dev/console 600 c 5 1' 'nod /dev/null 666 c 1 3' \
		'dir /proc 755' 'dir /sys 755' 'dir /tmp 1777' 'dir /bin 755' 'dir /bpf 755'
	echo "file /init $DIR/init 755"
	echo "file /bin/loadall $DIR/loadall 755"
	echo "file /bin/test_progs $DIR/test_progs 755"
	for o in "$BUILD"/bpf/*.bpf.o; do
		echo "file /bpf/$(basename "$o") $o 644"
	done
} | "$DIR/mkcpio" "$DIR/initramfs.cpio" || die "cannot build $DIR/initramfs.cpio"

append="console=ttyS0 loglevel=4 panic=-1 oops=panic"
[ -n "${K61_TESTS:-}" ] && append+=" K61_TESTS=$K61_TESTS"
[ "${K61_VERBOSE:-}" = 1 ] && append+=" K61_VERBOSE=1"

# boot NAME LIMIT STALL APPEND ACCEL...: one VM, its console in $DIR/NAME.log.
# Killed after LIMIT seconds, or after STALL seconds in which the console
# said nothing (a hung guest must not cost the whole LIMIT).  Sets rc (qemu's
# exit status, 124 when killed for LIMIT, 125 for STALL) and secs.
boot() {
	local name=$1 limit=$2 stall=$3 app=$4 raw=$DIR/$1.raw pid size last=-1 quiet=0
	shift 4
	rm -f "$raw"
	local t0=$(date +%s)
	qemu-system-x86_64 "$@" -m 1G -smp 2 \
		-kernel "$kernel" -initrd "$DIR/initramfs.cpio" -append "$app" \
		-display none -monitor none -serial "file:$raw" -no-reboot -nodefaults \
		</dev/null >"$DIR/$name.qemu" 2>&1 &
	pid=$! rc=
	while kill -0 "$pid" 2>/dev/null; do
		sleep 1
		secs=$(($(date +%s) - t0))
		size=$(stat -c %s "$raw" 2>/dev/null || echo 0)
		if [ "$size" = "$last" ]; then quiet=$((quiet + 1)); else quiet=0 last=$size; fi
		if [ "$secs" -ge "$limit" ]; then rc=124; elif [ "$quiet" -ge "$stall" ]; then rc=125; fi
		[ -n "$rc" ] && { kill -9 "$pid" 2>/dev/null; break; }
	done
	wait "$pid" 2>/dev/null
	local qrc=$?
	rc=${rc:-$qrc}
	secs=$(($(date +%s) - t0))
	{ [ -f "$raw" ] && tr -d '\r' <"$raw"; cat "$DIR/$name.qemu"; } >"$DIR/$name.log"
}

# why NAME: one line on how a boot that did not finish ended.
why() {
	case $rc in
	124) echo "no end after $secs s" ;;
	125) echo "the console silent for $STALL s (a hung guest), killed after $secs s" ;;
	*) echo "qemu exited $rc after $secs s: $(grep -v '^ *$' "$DIR/$1.log" | tail -n 1)" ;;
	esac
}

# KVM only where a short probe boot proves it works: on some hosts (AMD
# EPYC seen here) qemu aborts at once ("failed to set MSR 0x10a") with
# -cpu host, and other CPU models can hang the guest.  Otherwise TCG.
# K61_ACCEL=tcg|kvm forces the first choice (kvm still falls back).
STALL=${K61_STALL:-120}
KVM=(-accel kvm -cpu host) TCG=(-accel tcg)
accel=tcg
case ${K61_ACCEL:-auto} in
kvm) accel=kvm ;;
auto) [ -w /dev/kvm ] && accel=kvm ;;
esac
if [ "$accel" = kvm ]; then
	boot probe "${K61_PROBE_TIMEOUT:-30}" "${K61_PROBE_TIMEOUT:-30}" "$append K61_PROBE=1" "${KVM[@]}"
	if grep -q '^K61 PROBE OK' "$DIR/probe.log"; then
		echo "k61: KVM probe boot passed in $secs s"
	else
		echo "k61: KVM probe boot failed ($(why probe)): using TCG"
		accel=tcg
	fi
fi

log=$DIR/console.log
while :; do
	if [ "$accel" = kvm ]; then args=("${KVM[@]}"); else args=("${TCG[@]}"); fi
	echo "k61: booting $(basename "$kernel") (${accel^^}, timeout ${TIMEOUT} s, stall ${STALL} s)"
	boot console "$TIMEOUT" "$STALL" "$append" "${args[@]}"
	# KVM that passed the probe and still failed to finish: once more under TCG
	if [ "$accel" = kvm ] && ! grep -q '^K61 DONE' "$log"; then
		echo "k61: the KVM boot did not finish ($(why console)): again under TCG"
		accel=tcg
		continue
	fi
	break
done

# What the VM said: its PASS/FAIL lines as 6.1/NAME, the loader's figures and
# verifier logs, the runners' diagnostics; the kernel's own chatter stays in the log.
sed -n -E \
	-e 's/^(PASS|FAIL|SKIP) /\1 6.1\//p' \
	-e '/^k61-init: |^  |^[a-z_]+\.c:[0-9]+: |^skip: /p' "$log"

pass=0 fail=0 parts=0
while read -r p _ f _; do
	pass=$((pass + p)) fail=$((fail + f)) parts=$((parts + 1))
done < <(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log")
if ! grep -q '^K61 DONE' "$log"; then
	echo "FAIL 6.1/boot: $(why console) (under ${accel^^}; K61_TIMEOUT $TIMEOUT, K61_STALL $STALL); last lines of $log:"
	tail -n 20 "$log" | sed 's/^/  | /'
	fail=$((fail + 1))
elif [ "$parts" -ne 2 ]; then
	echo "FAIL 6.1/runners: $parts of 2 summary lines (loadall, test_progs): one crashed; see $log"
	fail=$((fail + 1))
fi
echo "k61: $(basename "$kernel") under ${accel^^}: $secs s"
echo "$pass passed, $fail failed, 0 skipped"
[ "$fail" -eq 0 ]
