// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* bench_gen.bpf.c - bench only (make bench-rate): a frame generator and a frame counter.
 *
 * bench_gen runs under BPF_PROG_TEST_RUN with BPF_F_TEST_XDP_LIVE_FRAMES: every
 * run writes the frame's first GEN_HDR bytes from gen_frame (the kernel
 * recycles the page without restoring what the forwarder rewrote), gives the
 * source address the next of gen_flows values (fixing the IPv4 and TCP
 * checksums), and sends the frame out of the test's ingress device (XDP_TX).
 *
 * ref_lookup is a second reference for the LB's veth: ref_macswap plus the
 * forwarder's established-flow lookup, in lbd's own flows4 table (the map
 * is lbd's, shared by fd): what a flow table costs by itself.
 *
 * ref_line is the floor of any per-flow state: ref_macswap plus one
 * read-modify-write of one 64-byte line per packet, in an array of as many
 * lines as there are flows (sized before load), at a hash of the source
 * address: the least that per-flow counters or a flow table must touch.
 *
 * bench_count sits on the far end (the generator's veth): it counts every
 * frame that arrives, and those rewritten as expected (destination MAC, and
 * for an encapsulated frame the outer protocol and destination), then drops
 * them.  Both run on one CPU at a time; the counters are per CPU anyway.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/in.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "xdplb.h"
#include "bench_gen.h"
#include "xdplb_hash.h"
#include "csum.h"
#include "parse.h" /* swap_macs, flow_key_tail */

char LICENSE[] SEC("license") = "Dual BSD/GPL";

__u64 gen_frame[GEN_HDR / 8]; /* the frame's first GEN_HDR bytes */
__u32 gen_flows;              /* distinct sources to cycle through; <= 1: one flow */
__u32 gen_seq;                /* index of the next source */
__u64 gen_sent;               /* runs so far: frames handed to XDP_TX */

struct gen_expect gen_expect; /* what bench_count calls a well rewritten frame */

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct gen_counts);
} gen_counts SEC(".maps");

/* Replaced by lbd's pinned flows4 before load (bpf_map__reuse_fd). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_NO_COMMON_LRU);
	__type(key, struct xdplb_flow4_key);
	__type(value, struct xdplb_flow_val);
} flows4 SEC(".maps");

/* One cache line per flow for ref_line; max_entries set before load. */
struct line {
	__u64 n[8];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct line);
} lines SEC(".maps");

__u32 lines_n; /* = max_entries of lines, set before load */

SEC("xdp")
int bench_gen(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	struct iphdr *iph = data + sizeof(struct ethhdr);
	__u64 *w = data;
	__u32 idx, from, to;
	__u16 *l4csum;
	int i;

	if (data + GEN_HDR > end)
		return XDP_ABORTED;
#pragma unroll
	for (i = 0; i < GEN_HDR / 8; i++)
		w[i] = gen_frame[i];
	gen_sent++;
	if (gen_flows <= 1)
		return XDP_TX;
	idx = gen_seq;
	gen_seq = idx + 1 >= gen_flows ? 0 : idx + 1;
	from = iph->saddr;
	to = bpf_htonl(bpf_ntohl(from) + idx);
	iph->saddr = to;
	csum_replace4(&iph->check, from, to);
	l4csum = data + GEN_TCP_CSUM; /* within GEN_HDR: checked above */
	csum_replace4(l4csum, from, to);
	return XDP_TX;
}

SEC("xdp")
int ref_lookup(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *iph = (void *)(eth + 1);
	__u32 *ports = (void *)(iph + 1), zero = 0;
	struct xdplb_flow4_key k;
	__u64 *w = (__u64 *)&k;
	struct gen_counts *c;

	if ((void *)(ports + 1) > end)
		return XDP_PASS;
	/* the key as the forwarder writes it: two 64-bit words */
	w[0] = *(__u64 *)&iph->saddr;
	w[1] = flow_key_tail(*ports, iph->protocol);
	if (bpf_map_lookup_elem(&flows4, &k)) {
		c = bpf_map_lookup_elem(&gen_counts, &zero);
		if (c)
			c->lookup_hits++;
	}
	swap_macs(eth);
	return XDP_TX;
}

SEC("xdp")
int ref_line(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *iph = (void *)(eth + 1);
	__u32 idx, n = lines_n;
	struct line *l;

	if ((void *)(iph + 1) > end || !n)
		return XDP_PASS;
	idx = xdplb_final(iph->saddr, 0) % n; /* consecutive sources, lines not in order */
	l = bpf_map_lookup_elem(&lines, &idx);
	if (l)
		l->n[0]++;
	swap_macs(eth);
	return XDP_TX;
}

SEC("xdp")
int bench_count(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	struct iphdr *iph = data + sizeof(struct ethhdr);
	struct gen_counts *c;
	__u32 zero = 0;

	c = bpf_map_lookup_elem(&gen_counts, &zero);
	if (!c)
		return XDP_DROP;
	c->frames++;
	if ((void *)(iph + 1) > end)
		return XDP_DROP;
	if (*(__u32 *)data != gen_expect.mac_lo || *(__u16 *)(data + 4) != gen_expect.mac_hi)
		return XDP_DROP;
	if (gen_expect.outer_daddr &&
	    (iph->protocol != IPPROTO_IPIP || iph->daddr != gen_expect.outer_daddr))
		return XDP_DROP;
	c->ok++;
	return XDP_DROP;
}
