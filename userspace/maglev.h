/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* maglev.h - weighted Maglev consistent-hashing table builder. */
#ifndef XDPLB_MAGLEV_H
#define XDPLB_MAGLEV_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>

#include "xdplb.h"

/* Seeds of the two per-backend hashes (offset and skip).  Part of the
 * table's identity: every LB node must use the same ones. */
#define MAGLEV_SEED_OFFSET 0x6d61676cu
#define MAGLEV_SEED_SKIP 0x736b6970u

struct maglev_backend {
	union xdplb_addr addr; /* IPv4 in addr.v4, the rest ignored */
	__u8 family;           /* XDPLB_AF_INET / XDPLB_AF_INET6 */
	__u32 weight;          /* 0 = not in the table */
	__u32 id;              /* value written into the table */
};

/* The one primality test: ring sizes (`vip add ... ring M`) are checked with it too. */
bool maglev_is_prime(__u32 m);

/* Fill table[0..m-1] with backend ids.  m must be a prime in
 * [3, XDPLB_MAX_RING_SIZE].  The result depends only on the set of
 * (family, addr, weight) plus which id each carries, never on the order of
 * `be`, so every LB node builds the same table.  Each backend with weight > 0
 * owns a share of slots proportional to its weight; with none, every slot is
 * XDPLB_NO_BACKEND.
 *
 * Returns 0, -EINVAL (bad m, n > XDPLB_MAX_BACKENDS, unknown family,
 * duplicate address) or -ENOMEM.  On error the table is left untouched. */
int maglev_build(const struct maglev_backend *be, size_t n, __u32 m, __u32 *table);

#endif /* XDPLB_MAGLEV_H */
