/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* bench_gen.h - what bench_gen.bpf.c shares with selftests/bench/bench_rate.c. */
#ifndef XDPLB_BENCH_GEN_H
#define XDPLB_BENCH_GEN_H

#include <linux/types.h>

#define GEN_HDR 64 /* bytes of the frame the generator writes every run: the whole frame */
#define GEN_TCP_CSUM (14 + 20 + 16) /* offset of its TCP checksum (covers saddr) */

/* A frame bench_count calls rewritten as expected: destination MAC (bytes
 * 0-3 and 4-5 as they are in memory) and, if outer_daddr is nonzero, an
 * IPv4 outer header with protocol IPIP towards outer_daddr. */
struct gen_expect {
	__u32 mac_lo;
	__u16 mac_hi;
	__u16 pad;
	__be32 outer_daddr;
};

struct gen_counts {
	__u64 frames; /* every frame that arrived */
	__u64 ok;     /* of which rewritten as gen_expect says */
	__u64 lookup_hits; /* ref_lookup (on the LB's veth): flows4 answered */
};

#endif /* XDPLB_BENCH_GEN_H */
