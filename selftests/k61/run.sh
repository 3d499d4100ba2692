#!/usr/bin/env bash
# run.sh - the BPF objects on a Debian 12 stock kernel (6.1), under qemu.
#
# Fetches Debian's linux-image-6.1.0-N-amd64 package once (apt-get download,
# the kernel only: nothing is installed on the host), builds an initramfs
# with a static init, the static loader (every build/bpf/*.bpf.o through
# libbpf) and the static golden-packet tests (build/k61/test_progs), boots it
# with qemu (KVM if /dev/kvm exists, else TCG) and turns the serial console
# into "PASS 6.1/..." / "FAIL 6.1/..." lines and one closing
# "N passed, N failed, 0 skipped" line.  Built by `make k61-build`.
#
# Environment: BUILD (build), K61_TIMEOUT (seconds for the whole boot, 600),
# K61_KERNEL (a vmlinuz to use instead of Debian's package), K61_TESTS (a
# test_progs -t glob), K61_VERBOSE=1 (whole verifier logs).
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

accel=(-accel tcg)
[ -w /dev/kvm ] && accel=(-accel kvm -cpu host)
append="console=ttyS0 loglevel=4 panic=-1 oops=panic"
[ -n "${K61_TESTS:-}" ] && append+=" K61_TESTS=$K61_TESTS"
[ "${K61_VERBOSE:-}" = 1 ] && append+=" K61_VERBOSE=1"

echo "k61: booting $(basename "$kernel") (${accel[1]}, timeout ${TIMEOUT} s)"
log=$DIR/console.log
start=$(date +%s)
timeout --kill-after=10 "$TIMEOUT" qemu-system-x86_64 "${accel[@]}" -m 1G -smp 2 \
	-kernel "$kernel" -initrd "$DIR/initramfs.cpio" -append "$append" \
	-display none -monitor none -serial stdio -no-reboot -nodefaults \
	</dev/null 2>&1 | tr -d '\r' >"$log"
rc=${PIPESTATUS[0]}
secs=$(($(date +%s) - start))

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
	if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
		echo "FAIL 6.1/boot: no end after $TIMEOUT s (K61_TIMEOUT); see $log"
	else
		echo "FAIL 6.1/boot: the VM stopped early (qemu exit $rc); last lines of $log:"
		tail -n 20 "$log" | sed 's/^/  | /'
	fi
	fail=$((fail + 1))
elif [ "$parts" -ne 2 ]; then
	echo "FAIL 6.1/runners: $parts of 2 summary lines (loadall, test_progs): one crashed; see $log"
	fail=$((fail + 1))
fi
echo "k61: $(basename "$kernel") under ${accel[1]}: $secs s"
echo "$pass passed, $fail failed, 0 skipped"
[ "$fail" -eq 0 ]
