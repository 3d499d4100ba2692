// SPDX-License-Identifier: GPL-2.0
/* dp_maps.c - the forwarder's configuration, VIP, VIP filter, backend and
 * redirect maps: what sync.c writes and reads back. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "dp_internal.h"
#include "xdplb_hash.h"

int dp_config_set(struct dp *dp, const struct xdplb_config *cfg)
{
	__u32 zero = 0;

	return neg_errno(bpf_map_update_elem(map_fd(dp->skel->maps.config), &zero, cfg, BPF_ANY));
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

/* The maps counters.c reads and writes. */
int dp_counter_map_fd(const struct dp *dp, enum dp_counter_map which)
{
	switch (which) {
	case DP_COUNTER_GLOBAL:
		return map_fd(dp->skel->maps.stats);
	case DP_COUNTER_BACKENDS:
		return map_fd(dp->skel->maps.backend_stats);
	case DP_COUNTER_RETIRED:
		return map_fd(dp->skel->maps.vip_stats); /* the pinned name (see dataplane.h) */
	case DP_COUNTER_SKETCHES:
		return map_fd(dp->skel->maps.hll);
	}
	return -EINVAL;
}
