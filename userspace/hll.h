/* SPDX-License-Identifier: GPL-2.0 */
/* hll.h - unique clients per VIP: merging and estimating the datapath's
 * HyperLogLog sketches (layout and window in headers/xdplb.h). */
#ifndef XDPLB_HLL_H
#define XDPLB_HLL_H

#include "xdplb.h"

/* Registers unpacked, one per byte. */
struct hll_regs {
	__u8 r[XDPLB_HLL_M];
};

/* r = max(r, sketch), register by register. */
void hll_merge(struct hll_regs *r, const struct xdplb_hll *sketch);
/* Add one hash as the datapath does (tests and tools). */
void hll_add_hash(struct xdplb_hll *sketch, __u32 hash);
/* The estimated number of distinct clients. */
double hll_estimate(const struct hll_regs *r);

#endif /* XDPLB_HLL_H */
