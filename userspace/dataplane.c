// SPDX-License-Identifier: GPL-2.0
/* dataplane.c - the forwarder's skeleton: load (adopting pinned maps),
 * attach, detach, close, and its globals.  The map writes are dp_maps.c,
 * the Maglev rings dp_rings.c, the flow tables dp_flows.c; counters.c
 * reads the counters. */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "dp_internal.h"

static bool libbpf_verbose;

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list args)
{
	(void)level;
	if (!libbpf_verbose)
		return 0;
	return vfprintf(stderr, fmt, args);
}

void dp_set_libbpf_verbose(bool verbose)
{
	libbpf_verbose = verbose;
	libbpf_set_print(libbpf_print);
}

/* Pin every map as DIR/NAME; libbpf reuses a compatible pinned map at load
 * (so a restarted daemon keeps the flow table), or pins the new one.  Any
 * pinned map means a running datapath: it is adopted even when some maps
 * are missing (an upgrade that added a map: dp->pins_created of them are
 * created empty), since libbpf reuses the VIPs, backends, rings and flows
 * that are there, and a fresh start's ids would collide with theirs. */
static int set_pins(struct dp *dp, const char *dir)
{
	struct bpf_map *map;
	char path[PATH_MAX];
	int n_pinned = 0, n = 0, err;

	bpf_object__for_each_map(map, dp->skel->obj) {
		if (map == dp->skel->maps.tx_ports || bpf_map__is_internal(map))
			continue; /* see maps.h; globals belong to one program */
		if (snprintf(path, sizeof(path), "%s/%s", dir, bpf_map__name(map)) >=
		    (int)sizeof(path))
			return -ENAMETOOLONG;
		n++;
		n_pinned += !access(path, F_OK);
		err = bpf_map__set_pin_path(map, path);
		if (err)
			return err;
	}
	dp->adopted = n_pinned > 0;
	dp->pins_created = (unsigned int)(n - n_pinned);
	return 0;
}

/* Maps earlier versions pinned that this one replaced (the half-open LRU
 * tables became the halfopen arrays): their pins go once the new maps are
 * loaded, so that the directory holds only what this version uses (the old
 * program, until replaced on the link, keeps its own references). */
static const char *const retired_pins[] = { "flows4_new", "flows6_new" };

static void unpin_retired(const char *dir)
{
	char path[PATH_MAX];
	size_t i;

	for (i = 0; i < sizeof(retired_pins) / sizeof(retired_pins[0]); i++)
		if (snprintf(path, sizeof(path), "%s/%s", dir, retired_pins[i]) < (int)sizeof(path))
			unlink(path);
}

int dp_open(struct dp *dp, const struct dp_opts *opts)
{
	__u32 flows = opts && opts->flows ? opts->flows : XDPLB_DEFAULT_FLOWS;
	__u32 half_open = XDPLB_HALF_MIN; /* a power of two, at least flows / 4 */
	struct xdplb_config cfg = { .gue_port = htons(XDPLB_GUE_PORT) };
	__u32 gen;
	int err;

	memset(dp, 0, sizeof(*dp));
	dp->ring_quiet_ms = DP_RING_QUIET_MS;
	while (half_open < flows / 4)
		half_open <<= 1;
	dp->skel = xdplb_bpf__open();
	if (!dp->skel)
		return -errno;
	dp->skel->rodata->half_mask = half_open - 1;
	/* lines of the pinned flow cache filled by an earlier forwarder are
	 * stale for this one (xdplb.h) */
	if (getrandom(&gen, sizeof(gen), GRND_NONBLOCK) != sizeof(gen))
		gen = (__u32)time(NULL) * 2654435761u;
	dp->skel->bss->flow_gen = gen;
	err = bpf_map__set_max_entries(dp->skel->maps.flows4, flows);
	if (!err)
		err = bpf_map__set_max_entries(dp->skel->maps.flows6, flows);
	if (!err)
		err = bpf_map__set_max_entries(dp->skel->maps.halfopen4, half_open);
	if (!err)
		err = bpf_map__set_max_entries(dp->skel->maps.halfopen6, half_open);
	if (!err && opts && opts->pin_dir)
		err = set_pins(dp, opts->pin_dir);
	if (!err)
		err = xdplb_bpf__load(dp->skel);
	if (!err && !dp->adopted)
		err = dp_config_set(dp, &cfg);
	if (!err) { /* what the (maybe adopted) map holds */
		__u32 zero = 0;

		if (bpf_map_lookup_elem(bpf_map__fd(dp->skel->maps.vip_filter), &zero, &dp->filter))
			err = -errno;
	}
	if (err) {
		dp_close(dp);
		return err;
	}
	if (opts && opts->pin_dir)
		unpin_retired(opts->pin_dir);
	return 0;
}

void dp_close(struct dp *dp)
{
	dp_rings_free(dp);
	xdplb_bpf__destroy(dp->skel);
	dp->skel = NULL;
}

int dp_prog_fd(const struct dp *dp)
{
	return bpf_program__fd(dp->skel->progs.xdplb_fwd);
}

int dp_lookup_prog_fd(const struct dp *dp)
{
	return bpf_program__fd(dp->skel->progs.xdplb_lookup);
}

bool dp_adopted(const struct dp *dp)
{
	return dp->adopted;
}

static int link_path(char *buf, size_t len, const char *dir)
{
	return snprintf(buf, len, "%s/link", dir) >= (int)len ? -ENAMETOOLONG : 0;
}

/* Swap our program into the pinned link of a running datapath. */
static int attach_adopt(struct dp *dp, int ifindex, const char *path, enum dp_xdp_mode *used,
			char *err, size_t errlen)
{
	struct bpf_link_info info = { 0 };
	__u32 len = sizeof(info);
	int fd = bpf_obj_get(path), ret;

	if (fd < 0)
		return -errno;
	ret = bpf_obj_get_info_by_fd(fd, &info, &len) ? -errno : 0;
	if (!ret && info.type == BPF_LINK_TYPE_XDP && !info.xdp.ifindex) {
		ret = -ENOLINK; /* defunct: its interface was removed */
	} else if (!ret && (info.type != BPF_LINK_TYPE_XDP || (int)info.xdp.ifindex != ifindex)) {
		snprintf(err, errlen, "pinned link %s is not an XDP link on this interface", path);
		ret = -EEXIST;
	} else if (!ret && bpf_link_update(fd, dp_prog_fd(dp), NULL)) {
		ret = -errno;
		snprintf(err, errlen, "cannot replace the program in %s: %s", path, strerror(-ret));
	}
	/* the link keeps the mode it was made with; the kernel does not say which */
	*used = DP_XDP_AUTO;
	close(fd);
	return ret;
}

static int link_create(struct dp *dp, int ifindex, enum dp_xdp_mode mode)
{
	LIBBPF_OPTS(bpf_link_create_opts, o);
	int fd;

	o.flags = mode == DP_XDP_GENERIC ? XDP_FLAGS_SKB_MODE : XDP_FLAGS_DRV_MODE;
	fd = bpf_link_create(dp_prog_fd(dp), ifindex, BPF_XDP, &o);
	return fd < 0 ? -errno : fd;
}

/* Pin the program in force as PIN_DIR/prog (for bpftool and inspection;
 * the link keeps it attached).  A restart replaces the pin. */
static void pin_prog(struct dp *dp, const char *pin_dir)
{
	char path[PATH_MAX];

	if (snprintf(path, sizeof(path), "%s/prog", pin_dir) >= (int)sizeof(path))
		return;
	unlink(path);
	bpf_obj_pin(dp_prog_fd(dp), path);
}

static int attach_link(struct dp *dp, int ifindex, const char *pin_dir, enum dp_xdp_mode mode,
		       enum dp_xdp_mode *used, char *warn, size_t warnlen, char *err,
		       size_t errlen);

int dp_attach(struct dp *dp, int ifindex, const char *pin_dir, enum dp_xdp_mode mode,
	      enum dp_xdp_mode *used, char *warn, size_t warnlen, char *err, size_t errlen)
{
	int ret = attach_link(dp, ifindex, pin_dir, mode, used, warn, warnlen, err, errlen);

	if (!ret)
		pin_prog(dp, pin_dir);
	return ret;
}

static int attach_link(struct dp *dp, int ifindex, const char *pin_dir, enum dp_xdp_mode mode,
		       enum dp_xdp_mode *used, char *warn, size_t warnlen, char *err,
		       size_t errlen)
{
	char path[PATH_MAX], ifname[IF_NAMESIZE + 16];
	int fd, ret;

	if (warn && warnlen)
		warn[0] = 0;
	ret = link_path(path, sizeof(path), pin_dir);
	if (ret)
		return ret;
	if (!access(path, F_OK)) {
		ret = attach_adopt(dp, ifindex, path, used, err, errlen);
		if (ret != -ENOLINK)
			return ret;
		/* the interface this link was made for went away (and maybe came
		 * back with a new index): the link is dead, make a new one */
		if (warn)
			snprintf(warn, warnlen,
				 "the pinned XDP link %s lost its interface (removed); attaching anew",
				 path);
		if (unlink(path) && errno != ENOENT) {
			ret = -errno;
			snprintf(err, errlen, "cannot remove the dead XDP link %s: %s", path,
				 strerror(-ret));
			return ret;
		}
	}
	if (!if_indextoname((unsigned int)ifindex, ifname))
		snprintf(ifname, sizeof(ifname), "ifindex %d", ifindex);
	*used = mode == DP_XDP_GENERIC ? DP_XDP_GENERIC : DP_XDP_NATIVE;
	fd = link_create(dp, ifindex, *used);
	if (fd < 0 && mode == DP_XDP_AUTO) {
		if (warn)
			snprintf(warn, warnlen,
				 "native XDP on '%s' failed (%s): the driver does not support it; "
				 "falling back to generic XDP (slower)",
				 ifname, strerror(-fd));
		*used = DP_XDP_GENERIC;
		fd = link_create(dp, ifindex, *used);
	}
	if (fd < 0) {
		snprintf(err, errlen, "cannot attach the XDP program to '%s' in %s mode: %s%s",
			 ifname, *used == DP_XDP_GENERIC ? "generic" : "native", strerror(-fd),
			 fd == -EBUSY || fd == -EEXIST ? " (another XDP program is attached)"
			 : mode == DP_XDP_NATIVE && fd == -EOPNOTSUPP
				 ? " (the driver has no native XDP: try --xdp-mode generic or auto)"
			 : mode == DP_XDP_NATIVE ? " (try --xdp-mode generic)"
						 : "");
		return fd;
	}
	ret = bpf_obj_pin(fd, path) ? -errno : 0;
	if (ret)
		snprintf(err, errlen, "cannot pin the XDP link at %s: %s", path, strerror(-ret));
	close(fd); /* on failure this detaches again: nothing half done */
	return ret;
}

int dp_detach(const char *pin_dir, char *err, size_t errlen)
{
	struct dirent *de;
	char path[PATH_MAX];
	DIR *d = opendir(pin_dir);
	int ret = 0;

	if (!d) {
		snprintf(err, errlen, "nothing pinned at %s: %s", pin_dir, strerror(errno));
		return -errno;
	}
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", pin_dir, de->d_name);
		if (unlink(path) && !ret) {
			ret = -errno;
			snprintf(err, errlen, "cannot remove %s: %s", path, strerror(errno));
		}
	}
	closedir(d);
	if (!ret && rmdir(pin_dir)) {
		ret = -errno;
		snprintf(err, errlen, "cannot remove %s: %s", pin_dir, strerror(errno));
	}
	return ret;
}

__u32 dp_hll_epoch(const struct dp *dp)
{
	return dp->skel->bss->hll_epoch;
}

void dp_hll_epoch_set(struct dp *dp, __u32 epoch, __u64 start_ns)
{
	/* start time first: a flow touched in between re-adds into the old
	 * sketch, which the estimate still merges for a whole epoch */
	dp->skel->bss->hll_epoch_ns = start_ns;
	dp->skel->bss->hll_epoch = epoch;
}

int dp_sync_flows_set(struct dp *dp, bool on)
{
	dp->skel->bss->sync_flows = on;
	return 0;
}

int dp_flow_events_fd(const struct dp *dp)
{
	return map_fd(dp->skel->maps.flow_events);
}
