// SPDX-License-Identifier: GPL-2.0
/* dataplane.c - the forwarder's skeleton and map writes. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "dataplane.h"
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

int dp_open(struct dp *dp, const struct dp_opts *opts)
{
	__u32 flows = opts && opts->flows ? opts->flows : XDPLB_DEFAULT_FLOWS;
	struct xdplb_config cfg = { .gue_port = htons(XDPLB_GUE_PORT) };
	int err;

	memset(dp, 0, sizeof(*dp));
	dp->skel = xdplb_bpf__open();
	if (!dp->skel)
		return -errno;
	err = bpf_map__set_max_entries(dp->skel->maps.flows, flows);
	if (!err)
		err = bpf_map__set_max_entries(dp->skel->maps.flows_new,
					       flows / 4 > 4096 ? flows / 4 : 4096);
	if (!err)
		err = xdplb_bpf__load(dp->skel);
	if (!err)
		err = dp_config_set(dp, &cfg);
	if (err) {
		dp_close(dp);
		return err;
	}
	return 0;
}

void dp_close(struct dp *dp)
{
	xdplb_bpf__destroy(dp->skel);
	dp->skel = NULL;
}

int dp_prog_fd(const struct dp *dp)
{
	return bpf_program__fd(dp->skel->progs.xdplb_fwd);
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

int dp_ring_set(struct dp *dp, __u32 slot, const __u32 *table, __u32 m)
{
	LIBBPF_OPTS(bpf_map_create_opts, mopts, .map_flags = BPF_F_INNER_MAP);
	LIBBPF_OPTS(bpf_map_batch_opts, bopts);
	__u32 *keys, count = m, i;
	int fd, err;

	if (!m || m > XDPLB_MAX_RING_SIZE || slot >= XDPLB_MAX_RINGS)
		return -EINVAL;
	keys = malloc(sizeof(*keys) * m);
	if (!keys)
		return -ENOMEM;
	for (i = 0; i < m; i++)
		keys[i] = i;
	fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "xdplb_ring", 4, 4, m, &mopts);
	if (fd < 0) {
		err = -errno;
		goto out;
	}
	err = neg_errno(bpf_map_update_batch(fd, keys, table, &count, &bopts));
	if (!err)
		err = neg_errno(
			bpf_map_update_elem(map_fd(dp->skel->maps.rings), &slot, &fd, BPF_ANY));
	close(fd);
out:
	free(keys);
	return err;
}

int dp_ring_clear(struct dp *dp, __u32 slot)
{
	int err = bpf_map_delete_elem(map_fd(dp->skel->maps.rings), &slot);

	return err && errno != ENOENT ? -errno : 0;
}

int dp_vip_set(struct dp *dp, const struct xdplb_vip_key *key, const struct xdplb_vip_info *vi)
{
	return neg_errno(bpf_map_update_elem(map_fd(dp->skel->maps.vips), key, vi, BPF_ANY));
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

static int sum_counters(int fd, __u32 id, struct xdplb_counters *out)
{
	int ncpu = libbpf_num_possible_cpus(), i;
	struct xdplb_counters *v;

	if (ncpu <= 0)
		return -EINVAL;
	v = calloc(ncpu, sizeof(*v));
	if (!v)
		return -ENOMEM;
	memset(out, 0, sizeof(*out));
	if (bpf_map_lookup_elem(fd, &id, v)) {
		free(v);
		return -errno;
	}
	for (i = 0; i < ncpu; i++) {
		out->packets += v[i].packets;
		out->bytes += v[i].bytes;
		out->new_flows += v[i].new_flows;
	}
	free(v);
	return 0;
}

int dp_vip_counters(const struct dp *dp, __u32 vip_id, struct xdplb_counters *out)
{
	return sum_counters(map_fd(dp->skel->maps.vip_stats), vip_id, out);
}

int dp_backend_counters(const struct dp *dp, __u32 be_id, struct xdplb_counters *out)
{
	return sum_counters(map_fd(dp->skel->maps.backend_stats), be_id, out);
}

int dp_stats(const struct dp *dp, struct xdplb_stats *out)
{
	int ncpu = libbpf_num_possible_cpus(), i, j;
	struct xdplb_stats *v;
	__u32 zero = 0;

	if (ncpu <= 0)
		return -EINVAL;
	v = calloc(ncpu, sizeof(*v));
	if (!v)
		return -ENOMEM;
	memset(out, 0, sizeof(*out));
	if (bpf_map_lookup_elem(map_fd(dp->skel->maps.stats), &zero, v)) {
		free(v);
		return -errno;
	}
	for (i = 0; i < ncpu; i++)
		for (j = 0; j < XDPLB_STAT_MAX; j++)
			out->v[j] += v[i].v[j];
	free(v);
	return 0;
}

static int zero_percpu(int fd, __u32 entries, size_t value_size)
{
	int ncpu = libbpf_num_possible_cpus();
	void *zero;
	__u32 i;
	int err = 0;

	zero = calloc(ncpu, value_size);
	if (!zero)
		return -ENOMEM;
	for (i = 0; i < entries && !err; i++)
		err = neg_errno(bpf_map_update_elem(fd, &i, zero, BPF_ANY));
	free(zero);
	return err;
}

int dp_counters_reset(struct dp *dp)
{
	int err = zero_percpu(map_fd(dp->skel->maps.stats), 1, sizeof(struct xdplb_stats));

	if (!err)
		err = zero_percpu(map_fd(dp->skel->maps.vip_stats), 64,
				  sizeof(struct xdplb_counters));
	if (!err)
		err = zero_percpu(map_fd(dp->skel->maps.backend_stats), 64,
				  sizeof(struct xdplb_counters));
	return err;
}

int dp_flow_lookup(const struct dp *dp, const struct xdplb_flow_key *key,
		   struct xdplb_flow_val *out, bool *established)
{
	if (!bpf_map_lookup_elem(map_fd(dp->skel->maps.flows), key, out)) {
		*established = true;
		return 1;
	}
	if (!bpf_map_lookup_elem(map_fd(dp->skel->maps.flows_new), key, out)) {
		*established = false;
		return 1;
	}
	return 0;
}

static int clear_hash(int fd)
{
	struct xdplb_flow_key key, next;
	void *prev = NULL;

	while (!bpf_map_get_next_key(fd, prev, &next)) {
		key = next;
		bpf_map_delete_elem(fd, &key);
		prev = NULL; /* restart: the deleted key cannot lead on */
	}
	return 0;
}

int dp_flows_clear(struct dp *dp)
{
	clear_hash(map_fd(dp->skel->maps.flows));
	return clear_hash(map_fd(dp->skel->maps.flows_new));
}
