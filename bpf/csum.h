/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* csum.h - Internet checksum helpers (RFC 1071, incremental per RFC 1624). */
#ifndef XDPLB_CSUM_H
#define XDPLB_CSUM_H

#include <linux/types.h>
#include <bpf/bpf_helpers.h>

static __always_inline __u16 csum_fold(__u32 sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)~sum;
}

/* Sum of n 16-bit words of a fixed-size object (n a constant: unrolled). */
static __always_inline __u32 csum_words(const void *p, int n)
{
	const __u16 *w = p;
	__u32 sum = 0;
	int i;

#pragma unroll
	for (i = 0; i < n; i++)
		sum += w[i];
	return sum;
}

/* RFC 1624: update a checksum when one 16-bit word changes. */
static __always_inline void csum_replace2(__sum16 *sum, __u16 old, __u16 new)
{
	__u32 s = (__u16)~*sum;

	s += (__u16)~old;
	s += new;
	*sum = csum_fold(s);
}

/* The same when one 32-bit word (an IPv4 address) changes. */
static __always_inline void csum_replace4(__sum16 *sum, __u32 old, __u32 new)
{
	__u32 s = (__u16)~*sum;

	s += (__u16)~(old >> 16) + (__u16)~(old & 0xffff);
	s += (new >> 16) + (new & 0xffff);
	*sum = csum_fold(s);
}

#endif /* XDPLB_CSUM_H */
