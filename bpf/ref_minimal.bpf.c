// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* ref_minimal.bpf.c - bench reference: Ethernet + IPv4 + TCP parse, one hash lookup, MAC rewrite. */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/in.h>
#include <linux/tcp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "ref_minimal.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, struct ref_key);
	__type(value, struct ref_val);
} ref_services SEC(".maps");

SEC("xdp")
int ref_minimal(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct ref_key key = {};
	struct ref_val *val;
	struct iphdr *iph;
	struct tcphdr *th;

	if ((void *)(eth + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP))
		return XDP_PASS;
	iph = (void *)(eth + 1);
	if ((void *)(iph + 1) > end || iph->ihl < 5 || iph->protocol != IPPROTO_TCP)
		return XDP_PASS;
	th = (void *)iph + iph->ihl * 4;
	if ((void *)(th + 1) > end)
		return XDP_PASS;
	key.daddr = iph->daddr;
	key.dport = th->dest;
	key.proto = IPPROTO_TCP;
	val = bpf_map_lookup_elem(&ref_services, &key);
	if (!val)
		return XDP_PASS;
	__builtin_memcpy(eth->h_dest, val->mac, ETH_ALEN);
	return XDP_TX;
}
