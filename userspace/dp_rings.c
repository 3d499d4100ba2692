// SPDX-License-Identifier: GPL-2.0
/* dp_rings.c - the Maglev rings: ring slots in the array of maps, the
 * mappings lbd keeps of the rings it created, tables written in place. */
#include <sys/mman.h>
#include <time.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "dp_internal.h"

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

void dp_rings_free(struct dp *dp)
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
