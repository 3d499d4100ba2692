// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* xdp_pass.bpf.c - XDP_PASS for the lab's veth peers: a veth only delivers
 * frames its peer sends with XDP_TX when it has an XDP program itself
 * (../shared/LAB.md, trap 1). */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("xdp")
int xdp_pass(struct xdp_md *ctx)
{
	(void)ctx;
	return XDP_PASS;
}
