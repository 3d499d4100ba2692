// SPDX-License-Identifier: GPL-2.0
/* hll.c - HyperLogLog estimate (Flajolet et al. 2007) over the datapath's
 * sketches: harmonic mean of 2^-register, with linear counting while many
 * registers are still zero.  The hash is 32 bits and the registers are
 * capped (xdplb.h), far above any per-VIP client count this is meant for,
 * so no large-range correction is applied. */
#include <math.h>
#include <string.h>

#include "hll.h"

void hll_merge(struct hll_regs *r, const struct xdplb_hll *sketch)
{
	__u32 i;

	for (i = 0; i < XDPLB_HLL_M / 2; i++) {
		__u8 lo = sketch->reg[i] & 0xf, hi = sketch->reg[i] >> 4;

		if (lo > r->r[2 * i])
			r->r[2 * i] = lo;
		if (hi > r->r[2 * i + 1])
			r->r[2 * i + 1] = hi;
	}
}

void hll_add_hash(struct xdplb_hll *sketch, __u32 hash)
{
	__u32 idx = hash >> (32 - XDPLB_HLL_P), rest = hash << XDPLB_HLL_P;
	__u32 rank = rest ? (__u32)__builtin_clz(rest) + 1 : 32 - XDPLB_HLL_P + 1;
	__u8 *b = &sketch->reg[idx / 2], old = idx & 1 ? *b >> 4 : *b & 0xf;

	if (rank > XDPLB_HLL_MAX_RANK)
		rank = XDPLB_HLL_MAX_RANK;
	if (rank > old)
		*b = idx & 1 ? (__u8)((*b & 0x0f) | rank << 4) : (__u8)((*b & 0xf0) | rank);
}

double hll_estimate(const struct hll_regs *r)
{
	const double m = XDPLB_HLL_M, alpha = 0.7213 / (1.0 + 1.079 / m);
	double sum = 0, e;
	__u32 i, zeros = 0;

	for (i = 0; i < XDPLB_HLL_M; i++) {
		sum += ldexp(1.0, -(int)r->r[i]);
		zeros += !r->r[i];
	}
	e = alpha * m * m / sum;
	if (e <= 2.5 * m && zeros)
		e = m * log(m / zeros);
	return e;
}
