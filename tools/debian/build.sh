#!/usr/bin/env bash
# build.sh - `make deb`: $BUILD/xdplb_VERSION_ARCH.deb with dpkg-deb.  The
# binaries are built again in $BUILD/deb/ with Debian's hardening flags
# (dpkg-buildflags), installed by `make install` with PREFIX=/usr into a
# staging tree, stripped; Depends comes from dpkg-shlibdeps on them.  No
# network: everything needed is in tools/deps.sh.
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
D=$(realpath -m "$BUILD/deb")
ROOT=$D/root
ARCH=$(dpkg --print-architecture)
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}
# 0~gitYYYYMMDD.N.HASH (N: commits so far, so that later builds sort
# higher): below any released 0.x; a tree with changes is marked (+dirty),
# a tree without git is 0~unknown
if hash=$(git rev-parse --short HEAD 2>/dev/null); then
	VERSION=0~git$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y%m%d).$(git rev-list --count HEAD).$hash
	git diff --quiet HEAD 2>/dev/null || VERSION+=+dirty
else
	VERSION=0~unknown
fi

rm -rf "$ROOT" "$D/pkg"
mkdir -p "$ROOT/DEBIAN" "$D/pkg/debian"
export DEB_BUILD_MAINT_OPTIONS=hardening=+all
# the BPF objects and skeletons do not depend on CFLAGS: reuse those of
# $BUILD (make rebuilds them if the sources are newer)
for f in "$BUILD"/bpf/*.bpf.o "$BUILD"/*.skel.h; do
	[ -e "$f" ] || continue
	mkdir -p "$D/bpf"
	[ "$f" -nt "$D/${f#"$BUILD"/}" ] && cp -p "$f" "$D/${f#"$BUILD"/}"
done
CFLAGS="$(dpkg-buildflags --get CPPFLAGS) $(dpkg-buildflags --get CFLAGS) $(dpkg-buildflags --get LDFLAGS)" \
	make --no-print-directory BUILD="$D" "$D/lbd" "$D/lbctl" "$D/lbdecap"
make --no-print-directory BUILD="$D" DESTDIR="$ROOT" PREFIX=/usr UNITDIR=/lib/systemd/system install

for b in lbd lbctl lbdecap; do
	strip --remove-section=.comment --remove-section=.note --strip-unneeded "$ROOT/usr/sbin/$b"
done
gzip -9n "$ROOT"/usr/share/man/man8/*.8
install -m 0644 tools/debian/copyright "$ROOT/usr/share/doc/xdplb/copyright"
sed -e "s/@VERSION@/$VERSION/" -e "s/@DATE@/$(date -u -R -d "@$SOURCE_DATE_EPOCH")/" \
	tools/debian/changelog | gzip -9n >"$ROOT/usr/share/doc/xdplb/changelog.gz"
install -d -m 0755 "$ROOT/var/lib/xdplb" # lbd's state (StateDirectory= makes it 0700)

# Depends: what the binaries link, as dpkg-shlibdeps finds it
cp tools/debian/control "$D/pkg/debian/control"
deps=$(cd "$D/pkg" && dpkg-shlibdeps -O -e"$ROOT/usr/sbin/lbd" -e"$ROOT/usr/sbin/lbctl" \
	-e"$ROOT/usr/sbin/lbdecap" 2>"$D/shlibdeps.log" |
	sed -n 's/^shlibs:Depends=//p')
[ -n "$deps" ] || { cat "$D/shlibdeps.log" >&2; echo "deb: dpkg-shlibdeps found nothing" >&2; exit 1; }

size=$(du -sk --exclude=DEBIAN "$ROOT" | cut -f1)
# the binary package's stanza of tools/debian/control, filled in
awk '/^Package:/ { p = 1 } p' tools/debian/control |
	sed -e "s/@ARCH@/$ARCH/" -e "s/@VERSION@/$VERSION/" -e "s/@SIZE@/$size/" \
		-e "s/@DEPENDS@/$deps/" >"$ROOT/DEBIAN/control"
sed -i '/^Package:/a Source: xdplb\nSection: net\nPriority: optional\nMaintainer: xdplb developers <xdplb@example.org>' \
	"$ROOT/DEBIAN/control"
(cd "$ROOT" && find etc -type f | sed 's|^|/|' | sort) >"$ROOT/DEBIAN/conffiles"
for s in postinst prerm postrm; do install -m 0755 "tools/debian/$s" "$ROOT/DEBIAN/$s"; done
(cd "$ROOT" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | sort -z |
	xargs -0 md5sum) >"$ROOT/DEBIAN/md5sums"
find "$ROOT" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
out=$BUILD/xdplb_${VERSION}_$ARCH.deb
rm -f "$BUILD"/xdplb_*.deb
dpkg-deb --root-owner-group -Zxz --build "$ROOT" "$out" >/dev/null
echo "deb: $out"
