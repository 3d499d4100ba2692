// SPDX-License-Identifier: GPL-2.0
/* dp_flows.c - the flow tables: one flow's lookup (established table, then
 * the half-open array's pair), the stepped walk that `lbctl flows`, the
 * flow count and flow sync use, flow sync's writes, and the flow cache's
 * counts not yet in the established table. */
#include <limits.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "dp_internal.h"
#include "xdplb_hash.h"

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
		return fam ? dp->skel->maps.halfopen6 : dp->skel->maps.halfopen4;
	return fam ? dp->skel->maps.flows6 : dp->skel->maps.flows4;
}

/* The half-open table's two slots for f's hash (xdplb.h); as the
 * forwarder's half_get(). */
static int half_lookup(const struct dp *dp, struct dp_flow *f, const void *key)
{
	int fam = f->family != XDPLB_AF_INET, fd = map_fd(flow_map(dp, DP_FLOWS_HALF_OPEN, fam));
	__u32 ports = (__u32)f->sport | (__u32)f->dport << 16, hash, i, j;
	size_t ksz = fam ? sizeof(struct xdplb_flow6_key) : sizeof(struct xdplb_flow4_key);
	union {
		struct xdplb_half4 h4;
		struct xdplb_half6 h6;
	} slot;
	struct xdplb_flow_val *v = fam ? &slot.h6.val : &slot.h4.val;
	struct xdplb_config cfg;

	if (dp_config_get(dp, &cfg))
		return -1;
	hash = fam ? xdplb_hash6(f->src.v6, f->dst.v6, ports, f->proto, cfg.seed)
		   : xdplb_hash4(f->src.v4, f->dst.v4, ports, f->proto, cfg.seed);
	i = hash & dp->skel->rodata->half_mask & ~1u;
	for (j = i; j <= (i | 1); j++) {
		if (bpf_map_lookup_elem(fd, &j, &slot))
			continue;
		if (v->last_ns && v->hash == hash && !memcmp(&slot, key, ksz)) {
			f->v = *v;
			f->established = false;
			return 1;
		}
	}
	return 0;
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
	return half_lookup(dp, f, key);
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
	bool half = w->table == DP_FLOWS_HALF_OPEN;
	/* half-open slots are plain array reads: DP_HALF_SLOTS_PER_ENTRY of them
	 * cost about one hash-table entry (bucket walk and lock); measured by
	 * bench-metrics' half-open count */
	__u64 want = half ? (__u64)max * DP_HALF_SLOTS_PER_ENTRY : max;
	__u32 size = want < DP_FLOW_MIN_BATCH ? DP_FLOW_MIN_BATCH
		     : want > DP_FLOW_BATCH   ? DP_FLOW_BATCH : (__u32)want;
	/* half-open: array slots (index keys; key and value in the value) */
	const size_t key_max = half ? sizeof(__u32) : sizeof(struct xdplb_flow6_key);
	const size_t val_max = half ? sizeof(struct xdplb_half6) : sizeof(struct xdplb_flow_val);
	__u32 count, i;
	long seen = 0;   /* entries (filled slots) */
	__u64 read = 0;  /* entries or slots: what bounds a step */
	struct dp_flow f;
	size_t ksz, vsz;
	char *keys, *vals;
	int ret = 0, err, fd;

	if (w->done)
		return 0;
	keys = calloc(DP_FLOW_BATCH, key_max); /* either family's keys */
	vals = calloc(DP_FLOW_BATCH, val_max);
	if (!keys || !vals) {
		seen = -ENOMEM;
		goto out;
	}
	do {
		fd = map_fd(flow_map(dp, w->table, w->family));
		ksz = half ? sizeof(__u32)
		      : w->family ? sizeof(struct xdplb_flow6_key) : sizeof(struct xdplb_flow4_key);
		vsz = !half ? sizeof(struct xdplb_flow_val)
		      : w->family ? sizeof(struct xdplb_half6) : sizeof(struct xdplb_half4);
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
		read += half ? (count + DP_HALF_SLOTS_PER_ENTRY - 1) / DP_HALF_SLOTS_PER_ENTRY : count;
		for (i = 0; i < count && !ret; i++) {
			const char *k = half ? vals + i * vsz : keys + i * ksz;
			const struct xdplb_flow_val *v =
				(const void *)(!half ? vals + i * vsz
					       : k + (w->family ? sizeof(struct xdplb_flow6_key)
								: sizeof(struct xdplb_flow4_key)));

			if (half && !v->last_ns)
				continue; /* an empty slot */
			seen++;
			if (!fn)
				continue;
			if (w->family)
				flow_from6(&f, (const void *)k);
			else
				flow_from4(&f, (const void *)k);
			f.v = *v;
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
	} while (!w->done && !ret && read < max);
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

int dp_flow_put(struct dp *dp, const struct dp_flow *f)
{
	int fam = f->family != XDPLB_AF_INET, fd = map_fd(flow_map(dp, DP_FLOWS_ESTABLISHED, fam));
	struct xdplb_flow4_key k4;
	struct xdplb_flow6_key k6;
	const void *key = flow_key(f, &k4, &k6);

	if (!bpf_map_update_elem(fd, key, &f->v, BPF_NOEXIST))
		return 0;
	if (errno != EEXIST || bpf_map_update_elem(fd, key, &f->v, BPF_EXIST))
		return -errno;
	/* an entry overwritten: the flow cache's lines are stale (xdplb.h) */
	__atomic_fetch_add(&dp->skel->bss->flow_gen, 1, __ATOMIC_RELAXED);
	return 0;
}

/* ---- the flow cache's counts (xdplb.h) ----
 * Every CPU's lines with counts not yet added to flows4, indexed by set:
 * head[set] is the first of the set's lines, next[] chains the rest. */
struct dp_cache_counts {
	struct xdplb_flow_cache_line *line;
	__s32 *next;
	size_t n, cap;
	struct xdplb_flow_cache_set *vals; /* one step's sets, every CPU's */
	int ncpu;
	__u32 set; /* the next set to read */
	__s32 head[XDPLB_FLOW_CACHE_SETS];
};

static int cache_keep(struct dp_cache_counts *c, __u32 set, const struct xdplb_flow_cache_line *l)
{
	if (c->n == c->cap) {
		size_t cap = c->cap ? 2 * c->cap : 1024;
		struct xdplb_flow_cache_line *line = realloc(c->line, cap * sizeof(*line));
		__s32 *next;

		if (!line)
			return -ENOMEM;
		c->line = line;
		next = realloc(c->next, cap * sizeof(*next));
		if (!next)
			return -ENOMEM;
		c->next = next;
		c->cap = cap;
	}
	c->line[c->n] = *l;
	c->next[c->n] = c->head[set];
	c->head[set] = (__s32)c->n++;
	return 0;
}

struct dp_cache_counts *dp_cache_counts_new(void)
{
	int ncpu = libbpf_num_possible_cpus();
	struct dp_cache_counts *c;
	__u32 s;

	if (ncpu < 1)
		return NULL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->ncpu = ncpu;
	c->vals = calloc((size_t)DP_CACHE_STEP * ncpu, sizeof(*c->vals));
	if (!c->vals) {
		free(c);
		return NULL;
	}
	for (s = 0; s < XDPLB_FLOW_CACHE_SETS; s++)
		c->head[s] = -1;
	return c;
}

int dp_cache_counts_step(const struct dp *dp, struct dp_cache_counts *c)
{
	LIBBPF_OPTS(bpf_map_batch_opts, o);
	__u32 keys[DP_CACHE_STEP], in = c->set, next = 0, count = DP_CACHE_STEP, i;
	int cpu, w, err = 0;

	if (c->set >= XDPLB_FLOW_CACHE_SETS)
		return 0;
	if (bpf_map_lookup_batch(map_fd(dp->skel->maps.flow_cache), c->set ? &in : NULL, &next,
				 keys, c->vals, &count, &o) &&
	    errno != ENOENT)
		return -errno;
	for (i = 0; i < count && !err; i++) {
		for (cpu = 0; cpu < c->ncpu && !err; cpu++) {
			const struct xdplb_flow_cache_set *set = &c->vals[(size_t)i * c->ncpu + cpu];

			for (w = 0; w < 2 && !err; w++)
				if (set->way[w].key.proto && set->way[w].packets &&
				    keys[i] < XDPLB_FLOW_CACHE_SETS)
					err = cache_keep(c, keys[i], &set->way[w]);
		}
	}
	if (err)
		return err;
	c->set = count < DP_CACHE_STEP ? XDPLB_FLOW_CACHE_SETS : next;
	return c->set < XDPLB_FLOW_CACHE_SETS;
}

int dp_cache_counts_read(const struct dp *dp, struct dp_cache_counts **out)
{
	struct dp_cache_counts *c = dp_cache_counts_new();
	int ret = c ? 1 : -ENOMEM;

	while (ret > 0)
		ret = dp_cache_counts_step(dp, c);
	if (ret < 0) {
		dp_cache_counts_free(c);
		c = NULL;
	}
	*out = c;
	return ret;
}

void dp_cache_counts_add(const struct dp_cache_counts *c, struct dp_flow *f)
{
	struct xdplb_flow4_key k;
	struct xdplb_flow6_key k6;
	__u64 w[2];
	__s32 i;

	if (!c || f->family != XDPLB_AF_INET || !f->established)
		return;
	flow_key(f, &k, &k6);
	memcpy(w, &k, sizeof(w));
	for (i = c->head[xdplb_flow_cache_set4(w[0], w[1])]; i >= 0; i = c->next[i]) {
		const struct xdplb_flow_cache_line *l = &c->line[i];

		if (memcmp(&l->key, &k, sizeof(k)))
			continue;
		f->v.packets += l->packets;
		f->v.bytes += l->bytes;
		if (f->v.last_ns < l->last_ns)
			f->v.last_ns = l->last_ns;
	}
}

void dp_cache_counts_free(struct dp_cache_counts *c)
{
	if (!c)
		return;
	free(c->vals);
	free(c->line);
	free(c->next);
	free(c);
}
