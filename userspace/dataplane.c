// SPDX-License-Identifier: GPL-2.0
/* dataplane.c - the forwarder's skeleton and map writes. */
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
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "dataplane.h"
#include "xdplb_hash.h"
#include "hll.h"
#include "xdplb.skel.h"

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

int dp_open(struct dp *dp, const struct dp_opts *opts)
{
	__u32 flows = opts && opts->flows ? opts->flows : XDPLB_DEFAULT_FLOWS;
	__u32 half_open = flows / 4 > 4096 ? flows / 4 : 4096;
	struct xdplb_config cfg = { .gue_port = htons(XDPLB_GUE_PORT) };
	int err;

	memset(dp, 0, sizeof(*dp));
	dp->ring_quiet_ms = DP_RING_QUIET_MS;
	dp->skel = xdplb_bpf__open();
	if (!dp->skel)
		return -errno;
	err = bpf_map__set_max_entries(dp->skel->maps.flows4, flows);
	if (!err)
		err = bpf_map__set_max_entries(dp->skel->maps.flows6, flows);
	if (!err)
		err = bpf_map__set_max_entries(dp->skel->maps.flows4_new, half_open);
	if (!err)
		err = bpf_map__set_max_entries(dp->skel->maps.flows6_new, half_open);
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
	return 0;
}

static void rings_free(struct dp *dp);

void dp_close(struct dp *dp)
{
	rings_free(dp);
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

static int map_fd(const struct bpf_map *m)
{
	return bpf_map__fd(m);
}

static int neg_errno(int ret)
{
	return ret < 0 ? -errno : ret;
}

int dp_config_set(struct dp *dp, const struct xdplb_config *cfg)
{
	__u32 zero = 0;

	return neg_errno(bpf_map_update_elem(map_fd(dp->skel->maps.config), &zero, cfg, BPF_ANY));
}

/* Maglev rings (see dataplane.h, "Ring slots").  An inner array is
 * BPF_F_MMAPABLE, so a table is written with plain stores through a mapping
 * (a batched update goes element by element in the kernel: many times
 * slower), and lbd keeps the mapping of every ring it created.  A slot
 * lbd frees keeps its array; when the slot is taken again for a table of
 * the same size after DP_RING_QUIET_MS, the new table is written into that
 * array in place: no map created, no outer-map update, and so none of the
 * RCU grace periods the kernel waits for on every array-of-maps update or
 * delete (milliseconds each).  The quiet time is what makes this safe: a
 * freed slot is named by no VIP entry, and a packet that read the VIP entry
 * before it changed is done with the ring within microseconds (XDP runs
 * under rcu_read_lock in softirq). */
struct dp_ring {
	__u32 *mem;       /* the inner array's mapping, NULL if lbd did not create it */
	__u32 m;          /* its entries */
	bool retired;     /* freed: named by no VIP entry since retired_ms */
	__u64 retired_ms;
};

static __u64 mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000 + (__u64)ts.tv_nsec / 1000000;
}

/* An array map's elements are 8-byte aligned: a __u32 value takes 8 bytes
 * (its first 4) in the mapping. */
#define RING_STRIDE 2 /* __u32 words per element */

static size_t ring_bytes(__u32 m)
{
	long page = sysconf(_SC_PAGESIZE);
	size_t pg = page > 0 ? (size_t)page : 4096;

	return ((size_t)m * RING_STRIDE * sizeof(__u32) + pg - 1) / pg * pg;
}

static void ring_write(__u32 *mem, const __u32 *table, __u32 m)
{
	__u32 i;

	for (i = 0; i < m; i++)
		mem[i * RING_STRIDE] = table[i];
}

static void ring_unmap(struct dp_ring *r)
{
	if (r->mem)
		munmap(r->mem, ring_bytes(r->m));
	memset(r, 0, sizeof(*r));
}

static void rings_free(struct dp *dp)
{
	__u32 i;

	for (i = 0; dp->rings && i < XDPLB_MAX_RINGS; i++)
		ring_unmap(&dp->rings[i]);
	free(dp->rings);
	dp->rings = NULL;
}

static struct dp_ring *ring_cache(struct dp *dp, __u32 slot)
{
	if (!dp->rings) {
		dp->rings = calloc(XDPLB_MAX_RINGS, sizeof(*dp->rings));
		if (!dp->rings)
			return NULL;
	}
	return &dp->rings[slot];
}

bool dp_ring_reusable(const struct dp *dp, __u32 slot, __u32 m)
{
	const struct dp_ring *r = dp->rings && slot < XDPLB_MAX_RINGS ? &dp->rings[slot] : NULL;

	return r && r->mem && r->retired && r->m == m &&
	       mono_ms() - r->retired_ms >= dp->ring_quiet_ms;
}

/* A new inner array holding `table`, mapped into *mem when mmapable. */
static int ring_create(struct dp *dp, const __u32 *table, __u32 m, __u32 **mem)
{
	LIBBPF_OPTS(bpf_map_create_opts, mopts, .map_flags = BPF_F_INNER_MAP | BPF_F_MMAPABLE);
	LIBBPF_OPTS(bpf_map_batch_opts, bopts);
	__u32 *keys, count = m, i;
	void *p;
	int fd, err;

	*mem = NULL;
	if (!dp->rings_plain) {
		fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "xdplb_ring", 4, 4, m, &mopts);
		if (fd < 0)
			return -errno;
		p = mmap(NULL, ring_bytes(m), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (p == MAP_FAILED) {
			err = -errno;
			close(fd);
			return err;
		}
		ring_write(p, table, m);
		*mem = p;
		return fd;
	}
	/* the pinned outer map of an older lbd wants plain inner arrays */
	mopts.map_flags = BPF_F_INNER_MAP;
	keys = malloc(sizeof(*keys) * m);
	if (!keys)
		return -ENOMEM;
	for (i = 0; i < m; i++)
		keys[i] = i;
	fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "xdplb_ring", 4, 4, m, &mopts);
	err = fd < 0 ? -errno : neg_errno(bpf_map_update_batch(fd, keys, table, &count, &bopts));
	free(keys);
	if (err && fd >= 0)
		close(fd);
	return err ? err : fd;
}

int dp_ring_set(struct dp *dp, __u32 slot, const __u32 *table, __u32 m)
{
	struct dp_ring *r;
	__u32 *mem;
	int fd, err;

	if (!m || m > XDPLB_MAX_RING_SIZE || slot >= XDPLB_MAX_RINGS)
		return -EINVAL;
	r = ring_cache(dp, slot);
	if (!r)
		return -ENOMEM;
	if (dp_ring_reusable(dp, slot, m)) {
		ring_write(r->mem, table, m);
		r->retired = false;
		return 0;
	}
	for (;;) {
		fd = ring_create(dp, table, m, &mem);
		if (fd < 0)
			return fd;
		err = neg_errno(
			bpf_map_update_elem(map_fd(dp->skel->maps.rings), &slot, &fd, BPF_ANY));
		if (err != -EINVAL || !mem)
			break;
		/* an adopted outer map of an older lbd: plain inner arrays */
		munmap(mem, ring_bytes(m));
		close(fd);
		dp->rings_plain = true;
	}
	close(fd); /* the outer map, and the mapping, hold the array */
	if (err) {
		if (mem)
			munmap(mem, ring_bytes(m));
		return err;
	}
	ring_unmap(r); /* the slot's previous array, if any */
	r->mem = mem;
	r->m = m;
	return 0;
}

int dp_ring_clear(struct dp *dp, __u32 slot)
{
	struct dp_ring *r = dp->rings && slot < XDPLB_MAX_RINGS ? &dp->rings[slot] : NULL;
	int err;

	if (r && r->mem) { /* keep it for reuse (see above) */
		if (!r->retired) {
			r->retired = true;
			r->retired_ms = mono_ms();
		}
		return 0;
	}
	err = bpf_map_delete_elem(map_fd(dp->skel->maps.rings), &slot);
	return err && errno != ENOENT ? -errno : 0;
}

int dp_ring_get(const struct dp *dp, __u32 slot, __u32 idx, __u32 *id)
{
	__u32 inner_id;
	int fd, ret;

	*id = XDPLB_NO_BACKEND;
	if (bpf_map_lookup_elem(map_fd(dp->skel->maps.rings), &slot, &inner_id))
		return errno == ENOENT ? 0 : -errno;
	fd = bpf_map_get_fd_by_id(inner_id);
	if (fd < 0)
		return -errno;
	ret = bpf_map_lookup_elem(fd, &idx, id) ? -errno : 0;
	close(fd);
	return ret;
}

int dp_config_get(const struct dp *dp, struct xdplb_config *cfg)
{
	__u32 zero = 0;

	return neg_errno(bpf_map_lookup_elem(map_fd(dp->skel->maps.config), &zero, cfg));
}

static __u32 filter_bit(const union xdplb_addr *a, __u8 family)
{
	return family == XDPLB_AF_INET ? xdplb_vip_filter_bit4(a->v4) : xdplb_vip_filter_bit6(a->v6);
}

static int filter_write(struct dp *dp, const struct xdplb_vip_filter *f)
{
	__u32 zero = 0;

	if (bpf_map_update_elem(map_fd(dp->skel->maps.vip_filter), &zero, f, BPF_ANY))
		return -errno;
	dp->filter = *f;
	return 0;
}

/* The address's bit goes in before its entry: a VIP never exists with its
 * bit clear (the forwarder would pass its packets to the kernel). */
int dp_vip_set(struct dp *dp, const struct xdplb_vip_key *key, const struct xdplb_vip_info *vi)
{
	__u32 bit = filter_bit(&key->addr, key->family);
	int err;

	if (!(dp->filter.bits[bit / 8] & (1u << (bit % 8)))) {
		struct xdplb_vip_filter f = dp->filter;

		f.bits[bit / 8] |= (__u8)(1u << (bit % 8));
		err = filter_write(dp, &f);
		if (err)
			return err;
	}
	return neg_errno(bpf_map_update_elem(map_fd(dp->skel->maps.vips), key, vi, BPF_ANY));
}

int dp_vip_filter_sync(struct dp *dp, const struct xdplb_vip_key *addrs, __u32 n)
{
	struct xdplb_vip_filter *f = calloc(1, sizeof(*f));
	__u32 i, bit;
	int err = 0;

	if (!f)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		bit = filter_bit(&addrs[i].addr, addrs[i].family);
		f->bits[bit / 8] |= (__u8)(1u << (bit % 8));
	}
	/* one write: every bit still needed is set in the old and the new value,
	 * so a packet reading a byte mid-write never misses its VIP */
	if (memcmp(f, &dp->filter, sizeof(*f)))
		err = filter_write(dp, f);
	free(f);
	return err;
}

int dp_vip_get(const struct dp *dp, const struct xdplb_vip_key *key, struct xdplb_vip_info *vi)
{
	return neg_errno(bpf_map_lookup_elem(map_fd(dp->skel->maps.vips), key, vi));
}

int dp_vip_del(struct dp *dp, const struct xdplb_vip_key *key)
{
	return neg_errno(bpf_map_delete_elem(map_fd(dp->skel->maps.vips), key));
}

int dp_backend_set(struct dp *dp, __u32 id, const struct xdplb_backend_info *be)
{
	return neg_errno(bpf_map_update_elem(map_fd(dp->skel->maps.backends), &id, be, BPF_ANY));
}

int dp_backend_get(const struct dp *dp, __u32 id, struct xdplb_backend_info *be)
{
	return neg_errno(bpf_map_lookup_elem(map_fd(dp->skel->maps.backends), &id, be));
}

int dp_txport_add(struct dp *dp, __u32 ifindex)
{
	return neg_errno(
		bpf_map_update_elem(map_fd(dp->skel->maps.tx_ports), &ifindex, &ifindex, BPF_ANY));
}

int dp_vips_for_each(const struct dp *dp,
		     int (*fn)(void *ctx, const struct xdplb_vip_key *k,
			       const struct xdplb_vip_info *vi),
		     void *ctx)
{
	int fd = map_fd(dp->skel->maps.vips), ret;
	struct xdplb_vip_key key, next;
	struct xdplb_vip_info vi;
	void *prev = NULL;

	while (!bpf_map_get_next_key(fd, prev, &next)) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(fd, &key, &vi))
			continue; /* deleted meanwhile */
		ret = fn(ctx, &key, &vi);
		if (ret)
			return ret;
	}
	return 0;
}

/* Read one key of a per-CPU map: an array of one value per possible CPU
 * (free it), or NULL with errno set. */
static void *read_percpu(int fd, __u32 key, size_t value_size, int *ncpu)
{
	void *v;

	*ncpu = libbpf_num_possible_cpus();
	if (*ncpu <= 0) {
		errno = EINVAL;
		return NULL;
	}
	v = calloc((size_t)*ncpu, value_size);
	if (v && bpf_map_lookup_elem(fd, &key, v)) {
		free(v);
		return NULL;
	}
	return v;
}

static int sum_counters(int fd, __u32 id, struct xdplb_counters *out)
{
	struct xdplb_counters *v;
	int ncpu, i;

	memset(out, 0, sizeof(*out));
	v = read_percpu(fd, id, sizeof(*v), &ncpu);
	if (!v)
		return -errno;
	for (i = 0; i < ncpu; i++) {
		out->packets += v[i].packets;
		out->bytes += v[i].bytes;
		out->new_flows += v[i].new_flows;
	}
	free(v);
	return 0;
}

int dp_vip_counters(const struct dp *dp, __u32 vip_id, const __u32 *be_ids, __u32 n,
		    struct xdplb_counters *out)
{
	struct xdplb_counters c;
	int err = sum_counters(map_fd(dp->skel->maps.vip_stats), vip_id, out);
	__u32 i;

	for (i = 0; i < n && !err; i++) {
		err = sum_counters(map_fd(dp->skel->maps.backend_stats), be_ids[i], &c);
		out->packets += c.packets;
		out->bytes += c.bytes;
		out->new_flows += c.new_flows;
	}
	return err;
}

int dp_backend_retire(const struct dp *dp, __u32 be_id, __u32 vip_id)
{
	int be_fd = map_fd(dp->skel->maps.backend_stats), vip_fd = map_fd(dp->skel->maps.vip_stats);
	struct xdplb_counters *be, *vip;
	int ncpu, i, err = 0;

	be = read_percpu(be_fd, be_id, sizeof(*be), &ncpu);
	vip = read_percpu(vip_fd, vip_id, sizeof(*vip), &ncpu);
	if (!be || !vip) {
		err = -errno;
		goto out;
	}
	for (i = 0; i < ncpu; i++) {
		vip[i].packets += be[i].packets;
		vip[i].bytes += be[i].bytes;
		vip[i].new_flows += be[i].new_flows;
	}
	memset(be, 0, (size_t)ncpu * sizeof(*be));
	if (bpf_map_update_elem(vip_fd, &vip_id, vip, BPF_ANY) ||
	    bpf_map_update_elem(be_fd, &be_id, be, BPF_ANY))
		err = -errno;
out:
	free(be);
	free(vip);
	return err;
}

int dp_vip_counters_reset(const struct dp *dp, __u32 vip_id)
{
	int ncpu = libbpf_num_possible_cpus(), err = 0;
	struct xdplb_counters *z;

	if (ncpu <= 0)
		return -EINVAL;
	z = calloc((size_t)ncpu, sizeof(*z));
	if (!z)
		return -ENOMEM;
	if (bpf_map_update_elem(map_fd(dp->skel->maps.vip_stats), &vip_id, z, BPF_ANY))
		err = -errno;
	free(z);
	return err;
}

int dp_backend_counters(const struct dp *dp, __u32 be_id, struct xdplb_counters *out)
{
	return sum_counters(map_fd(dp->skel->maps.backend_stats), be_id, out);
}

int dp_stats(const struct dp *dp, struct xdplb_stats *out)
{
	struct xdplb_stats *v;
	int ncpu, i, j;

	memset(out, 0, sizeof(*out));
	v = read_percpu(map_fd(dp->skel->maps.stats), 0, sizeof(*v), &ncpu);
	if (!v)
		return -errno;
	for (i = 0; i < ncpu; i++)
		for (j = 0; j < XDPLB_STAT_MAX; j++)
			out->v[j] += v[i].v[j];
	free(v);
	return 0;
}

int dp_counters_range(const struct dp *dp, enum dp_counter_map which, __u32 n,
		      struct xdplb_counters *out)
{
	LIBBPF_OPTS(bpf_map_batch_opts, o);
	const struct bpf_map *m = which == DP_VIP_COUNTERS ? dp->skel->maps.vip_stats
							   : dp->skel->maps.backend_stats;
	int fd = map_fd(m), ncpu = libbpf_num_possible_cpus(), ret = 0;
	struct xdplb_counters *vals;
	__u32 *keys, cursor = 0, count, i, got = 0;
	int c;

	if (n > bpf_map__max_entries(m) || ncpu <= 0)
		return -EINVAL;
	memset(out, 0, sizeof(*out) * n);
	keys = calloc(DP_COUNTER_BATCH, sizeof(*keys));
	vals = calloc((size_t)DP_COUNTER_BATCH * (size_t)ncpu, sizeof(*vals));
	if (!keys || !vals) {
		ret = -ENOMEM;
		goto out;
	}
	while (got < n) {
		count = n - got < DP_COUNTER_BATCH ? n - got : DP_COUNTER_BATCH;
		/* the cursor is the last key read: the kernel resumes after it */
		if (bpf_map_lookup_batch(fd, got ? &cursor : NULL, &cursor, keys, vals, &count,
					 &o) &&
		    errno != ENOENT) {
			ret = -errno;
			break;
		}
		if (!count)
			break;
		for (i = 0; i < count; i++) {
			struct xdplb_counters *s;

			if (keys[i] >= n)
				continue;
			s = &out[keys[i]];
			for (c = 0; c < ncpu; c++) {
				s->packets += vals[(size_t)i * ncpu + c].packets;
				s->bytes += vals[(size_t)i * ncpu + c].bytes;
				s->new_flows += vals[(size_t)i * ncpu + c].new_flows;
			}
		}
		got += count;
	}
out:
	free(keys);
	free(vals);
	return ret;
}

/* A dp_flow's key in the table of its family. */
static const void *flow_key(const struct dp_flow *f, struct xdplb_flow4_key *k4,
			    struct xdplb_flow6_key *k6)
{
	if (f->family == XDPLB_AF_INET) {
		memset(k4, 0, sizeof(*k4));
		k4->src = f->src.v4;
		k4->dst = f->dst.v4;
		k4->sport = f->sport;
		k4->dport = f->dport;
		k4->proto = f->proto;
		return k4;
	}
	memset(k6, 0, sizeof(*k6));
	memcpy(k6->src, f->src.v6, 16);
	memcpy(k6->dst, f->dst.v6, 16);
	k6->sport = f->sport;
	k6->dport = f->dport;
	k6->proto = f->proto;
	return k6;
}

/* The map of a table and family (family index 0: IPv4, 1: IPv6). */
static struct bpf_map *flow_map(const struct dp *dp, enum dp_flow_table t, int fam)
{
	if (t == DP_FLOWS_HALF_OPEN)
		return fam ? dp->skel->maps.flows6_new : dp->skel->maps.flows4_new;
	return fam ? dp->skel->maps.flows6 : dp->skel->maps.flows4;
}

int dp_flow_lookup(const struct dp *dp, struct dp_flow *f)
{
	int fam = f->family != XDPLB_AF_INET;
	struct xdplb_flow4_key k4;
	struct xdplb_flow6_key k6;
	const void *key = flow_key(f, &k4, &k6);

	if (!bpf_map_lookup_elem(map_fd(flow_map(dp, DP_FLOWS_ESTABLISHED, fam)), key, &f->v)) {
		f->established = true;
		return 1;
	}
	if (!bpf_map_lookup_elem(map_fd(flow_map(dp, DP_FLOWS_HALF_OPEN, fam)), key, &f->v)) {
		f->established = false;
		return 1;
	}
	return 0;
}

static void flow_from4(struct dp_flow *f, const struct xdplb_flow4_key *k)
{
	memset(f, 0, sizeof(*f));
	f->family = XDPLB_AF_INET;
	f->src.v4 = k->src;
	f->dst.v4 = k->dst;
	f->sport = k->sport;
	f->dport = k->dport;
	f->proto = k->proto;
}

static void flow_from6(struct dp_flow *f, const struct xdplb_flow6_key *k)
{
	memset(f, 0, sizeof(*f));
	f->family = XDPLB_AF_INET6;
	memcpy(f->src.v6, k->src, 16);
	memcpy(f->dst.v6, k->dst, 16);
	f->sport = k->sport;
	f->dport = k->dport;
	f->proto = k->proto;
}

__u32 dp_flows_capacity(const struct dp *dp, enum dp_flow_table t)
{
	return bpf_map__max_entries(flow_map(dp, t, 0)) + bpf_map__max_entries(flow_map(dp, t, 1));
}

/* The IPv4 map of the table, then the IPv6 one; the cursor restarts
 * between them. */
long dp_flows_walk(const struct dp *dp, struct dp_flow_walk *w, __u32 max, dp_flow_fn fn,
		   void *ctx)
{
	LIBBPF_OPTS(bpf_map_batch_opts, o);
	__u32 size = max < DP_FLOW_MIN_BATCH ? DP_FLOW_MIN_BATCH
		     : max > DP_FLOW_BATCH   ? DP_FLOW_BATCH : max;
	struct xdplb_flow_val *vals;
	__u32 count, i;
	long seen = 0;
	struct dp_flow f;
	const size_t key_max = sizeof(struct xdplb_flow6_key);
	size_t ksz;
	char *keys;
	int ret = 0, err, fd;

	if (w->done)
		return 0;
	keys = calloc(DP_FLOW_BATCH, key_max); /* either family's keys */
	vals = calloc(DP_FLOW_BATCH, sizeof(*vals));
	if (!keys || !vals) {
		seen = -ENOMEM;
		goto out;
	}
	do {
		fd = map_fd(flow_map(dp, w->table, w->family));
		ksz = w->family ? sizeof(struct xdplb_flow6_key) : sizeof(struct xdplb_flow4_key);
		count = size;
		err = bpf_map_lookup_batch(fd, w->started ? &w->cursor : NULL, &w->cursor, keys,
					   vals, &count, &o);
		if (err && errno == ENOSPC && size < DP_FLOW_BATCH) {
			size = DP_FLOW_BATCH; /* one hash bucket holds more than size entries */
			continue;
		}
		if (err && errno != ENOENT) {
			seen = -errno;
			break;
		}
		w->started = true;
		seen += count;
		for (i = 0; fn && i < count && !ret; i++) {
			if (w->family)
				flow_from6(&f, (const void *)(keys + i * ksz));
			else
				flow_from4(&f, (const void *)(keys + i * ksz));
			f.v = vals[i];
			f.established = w->table == DP_FLOWS_ESTABLISHED;
			ret = fn(ctx, w->table, &f);
		}
		if (err) { /* this family's map is done */
			if (w->family)
				w->done = true;
			w->family = 1;
			w->started = false;
			w->cursor = 0;
		}
	} while (!w->done && !ret && (__u64)seen < max);
	if (ret)
		seen = ret;
out:
	free(keys);
	free(vals);
	return seen;
}

int dp_flows_for_each(const struct dp *dp, enum dp_flow_table t, dp_flow_fn fn, void *ctx)
{
	struct dp_flow_walk w = { .table = t };
	long n = 0;

	while (!w.done && n >= 0)
		n = dp_flows_walk(dp, &w, UINT32_MAX, fn, ctx);
	return n < 0 ? (int)n : 0;
}

/* ---- unique-client sketches ---- */

int dp_vip_hll(const struct dp *dp, __u32 vip_id, struct hll_regs *out)
{
	int fd = map_fd(dp->skel->maps.hll), ncpu, i, e;
	struct xdplb_hll *v;

	memset(out, 0, sizeof(*out));
	if (vip_id >= XDPLB_HLL_VIPS)
		return -ERANGE;
	for (e = 0; e < XDPLB_HLL_EPOCHS; e++) {
		v = read_percpu(fd, vip_id * XDPLB_HLL_EPOCHS + (__u32)e, sizeof(*v), &ncpu);
		if (!v)
			return -errno;
		for (i = 0; i < ncpu; i++)
			hll_merge(out, &v[i]);
		free(v);
	}
	return 0;
}

static int hll_clear(const struct dp *dp, __u32 key)
{
	int ncpu = libbpf_num_possible_cpus(), err = 0;
	struct xdplb_hll *z;

	if (ncpu <= 0)
		return -EINVAL;
	z = calloc((size_t)ncpu, sizeof(*z));
	if (!z)
		return -ENOMEM;
	if (bpf_map_update_elem(map_fd(dp->skel->maps.hll), &key, z, BPF_ANY))
		err = -errno;
	free(z);
	return err;
}

int dp_hll_clear_vip(const struct dp *dp, __u32 vip_id)
{
	int err = 0, e;

	for (e = 0; e < XDPLB_HLL_EPOCHS && !err && vip_id < XDPLB_HLL_VIPS; e++)
		err = hll_clear(dp, vip_id * XDPLB_HLL_EPOCHS + (__u32)e);
	return err;
}

int dp_hll_rotate(struct dp *dp, __u64 now_ns)
{
	__u32 next = (dp->skel->bss->hll_epoch + 1) % XDPLB_HLL_EPOCHS, vip;
	int err = 0;

	for (vip = 0; vip < XDPLB_HLL_VIPS && !err; vip++)
		err = hll_clear(dp, vip * XDPLB_HLL_EPOCHS + next);
	if (err)
		return err;
	/* start time first: a flow touched in between re-adds into the old
	 * sketch, which the estimate still merges for a whole epoch */
	dp->skel->bss->hll_epoch_ns = now_ns;
	dp->skel->bss->hll_epoch = next;
	return 0;
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

int dp_flow_put(struct dp *dp, const struct dp_flow *f)
{
	int fam = f->family != XDPLB_AF_INET;
	struct xdplb_flow4_key k4;
	struct xdplb_flow6_key k6;
	const void *key = flow_key(f, &k4, &k6);

	if (bpf_map_update_elem(map_fd(flow_map(dp, DP_FLOWS_ESTABLISHED, fam)), key, &f->v, BPF_ANY))
		return -errno;
	return 0;
}
