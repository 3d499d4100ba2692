/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* ref_minimal.h - the map layout of the minimal reference program, shared
 * by bpf/ref_minimal.bpf.c and the benchmark that fills its map. */
#ifndef XDPLB_REF_MINIMAL_H
#define XDPLB_REF_MINIMAL_H

#include <linux/types.h>

struct ref_key {
	__be32 daddr;
	__be16 dport;
	__u8 proto;
	__u8 pad;
};

struct ref_val {
	__u8 mac[6];
	__u8 pad[2];
};

#endif /* XDPLB_REF_MINIMAL_H */
