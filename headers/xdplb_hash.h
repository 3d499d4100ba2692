/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* xdplb_hash.h - the seeded flow hash, identical in BPF and user space.
 *
 * A flow's backend depends only on this hash and the Maglev table, so every
 * LB node with the same seed and backend set picks the same backend, and
 * `lbctl flow lookup` can answer without asking the datapath.  Words are
 * taken as they lie in memory (network order), so the result does not
 * depend on the host's byte order.  The mixing is MurmurHash3's 32-bit body
 * and finaliser, written out here.
 */
#ifndef XDPLB_HASH_H
#define XDPLB_HASH_H

#include <linux/types.h>

#include "xdplb.h"

static inline __u32 xdplb_rotl32(__u32 x, int r)
{
	return (x << r) | (x >> (32 - r));
}

static inline __u32 xdplb_mix(__u32 h, __u32 k)
{
	k *= 0xcc9e2d51u;
	k = xdplb_rotl32(k, 15);
	k *= 0x1b873593u;
	h ^= k;
	h = xdplb_rotl32(h, 13);
	return h * 5 + 0xe6546b64u;
}

static inline __u32 xdplb_final(__u32 h, __u32 len)
{
	h ^= len;
	h ^= h >> 16;
	h *= 0x85ebca6bu;
	h ^= h >> 13;
	h *= 0xc2b2ae35u;
	h ^= h >> 16;
	return h;
}

/* Hash of an IPv4 5-tuple.  `ports` is (sport | dport << 16) as the two
 * __be16 lie in memory. */
static inline __u32 xdplb_hash4(__be32 src, __be32 dst, __u32 ports, __u8 proto, __u32 seed)
{
	__u32 h = seed;

	h = xdplb_mix(h, (__u32)src);
	h = xdplb_mix(h, (__u32)dst);
	h = xdplb_mix(h, ports);
	h = xdplb_mix(h, proto);
	return xdplb_final(h, 16);
}

static inline __u32 xdplb_hash6(const __be32 *src, const __be32 *dst, __u32 ports, __u8 proto,
				__u32 seed)
{
	__u32 h = seed;

	h = xdplb_mix(h, (__u32)src[0]);
	h = xdplb_mix(h, (__u32)src[1]);
	h = xdplb_mix(h, (__u32)src[2]);
	h = xdplb_mix(h, (__u32)src[3]);
	h = xdplb_mix(h, (__u32)dst[0]);
	h = xdplb_mix(h, (__u32)dst[1]);
	h = xdplb_mix(h, (__u32)dst[2]);
	h = xdplb_mix(h, (__u32)dst[3]);
	h = xdplb_mix(h, ports);
	h = xdplb_mix(h, proto);
	return xdplb_final(h, 40);
}

/* Hash of arbitrary bytes (Maglev's per-backend offset and skip). */
static inline __u32 xdplb_hash_bytes(const void *data, __u32 len, __u32 seed)
{
	const __u8 *p = (const __u8 *)data;
	__u32 h = seed, i, k;

	for (i = 0; i + 4 <= len; i += 4) {
		k = (__u32)p[i] | (__u32)p[i + 1] << 8 | (__u32)p[i + 2] << 16 |
		    (__u32)p[i + 3] << 24;
		h = xdplb_mix(h, k);
	}
	k = 0;
	for (; i < len; i++)
		k = k << 8 | p[i];
	if (len & 3)
		h = xdplb_mix(h, k);
	return xdplb_final(h, len);
}

/* A client address alone, for the unique-client sketches (its own seed,
 * so it is independent of the flow hash). */
static inline __u32 xdplb_hash_client(const union xdplb_addr *a, __u8 family)
{
	__u32 h = XDPLB_HLL_SEED;

	h = xdplb_mix(h, a->v6[0]);
	if (family == XDPLB_AF_INET)
		return xdplb_final(h, 4);
	h = xdplb_mix(h, a->v6[1]);
	h = xdplb_mix(h, a->v6[2]);
	h = xdplb_mix(h, a->v6[3]);
	return xdplb_final(h, 16);
}

/* The bit of an address in the VIP filter (xdplb.h, struct xdplb_vip_filter):
 * one multiply of the address's words folded, the top bits. */
static inline __u32 xdplb_vip_filter_bit4(__be32 a)
{
	return ((__u32)a * 0x9e3779b1u) >> (32 - XDPLB_VIP_FILTER_LOG2);
}

static inline __u32 xdplb_vip_filter_bit6(const __be32 *a)
{
	return xdplb_vip_filter_bit4(a[0] ^ a[1] ^ a[2] ^ a[3]);
}

/* The flow cache's set of an IPv4 flow key (xdplb.h), given as the two
 * 64-bit words the forwarder loads (the key's bytes in memory order): two
 * multiplies, the top bits. */
static inline __u32 xdplb_flow_cache_set4(__u64 w0, __u64 w1)
{
	__u64 h = (w0 ^ (w1 * 0x9e3779b97f4a7c15ull)) * 0xff51afd7ed558ccdull;

	return (__u32)(h >> (64 - XDPLB_FLOW_CACHE_LOG2));
}

#endif /* XDPLB_HASH_H */
