// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* lbdecap.bpf.c - TC ingress program for backends: strips the forwarder's
 * ipip (4in4, 6in6, 4in6, 6in4) and gue encapsulation so that the inner
 * packet, client -> VIP, reaches the local socket bound to the VIP.
 *
 * Which packets: a frame to this host's MAC (PACKET_HOST) whose outer IP
 * header carries IP (protocol 4 or 41) or UDP to the configured gue port
 * followed by an IP header (GUE variant 1), and whose inner destination is
 * in the `decap_vips` map.  The VIPs are listed explicitly (lbdecap attach
 * IF vip ADDR, lbdecap vip add): a packet for an address the host merely
 * owns is not a VIP's and is left to the stack.  The outer destination is
 * not compared with the host's addresses: the program cannot follow address
 * changes, the MAC check already keeps other hosts' frames out, and the
 * inner destination must be one of ours.  Anything else passes unchanged.
 *
 * Linux 6.1 compatibility (Debian 12): only helpers and flags that 6.1 has.
 * The BPF_F_ADJ_ROOM_DECAP_L3_* flags (6.3) are not used: a same-family
 * packet loses its outer headers with bpf_skb_adjust_room(BPF_ADJ_ROOM_MAC,
 * FIXED_GSO); across families bpf_skb_change_proto() first swaps
 * skb->protocol (and removes or inserts the 20 bytes the IP headers differ
 * by) and bpf_skb_adjust_room removes the rest.  The Ethernet type is
 * rewritten to match.  The inner packet is never modified: its checksums
 * stay valid, a CHECKSUM_COMPLETE sum is corrected by the helpers for the
 * bytes removed, and CHECKSUM_UNNECESSARY (which may describe the outer
 * header) is reset so that the stack verifies the inner checksum itself.
 *
 * Outcomes: TC_ACT_OK (decapsulated or passed unchanged) or TC_ACT_SHOT for
 * an encapsulated packet to a VIP that cannot be delivered as it is.  Every
 * packet is counted once by reason in `decap_stats` (headers/xdplb_decap.h).
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/in.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "xdplb_decap.h"
#include "csum.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define PACKET_HOST 0 /* linux/if_packet.h, which needs libc */
#define IP_MF 0x2000
#define IP_OFFSET 0x1fff
#define ETH_HDR 14u
/* Ethernet, outer IPv6, UDP, inner IPv6: what must be linear to decide. */
#define HDR_MAX (ETH_HDR + 40u + 8u + 40u)

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, LBDECAP_MAX_VIPS);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct lbdecap_vip_key);
	__type(value, __u32);
} decap_vips SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct lbdecap_config);
} decap_config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct lbdecap_stats);
} decap_stats SEC(".maps");

/* Where the tool attached this program (user space only). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, LBDECAP_MAX_IFACES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct lbdecap_iface_key);
	__type(value, struct lbdecap_iface_val);
} decap_ifaces SEC(".maps");

/* The outer headers as parsed: what to strip and what follows. */
struct outer {
	__u32 hlen;    /* outer IP (+ UDP) header bytes after Ethernet */
	__u32 payload; /* bytes after them, per the outer length fields */
	__u8 family;   /* XDPLB_AF_* of the outer header */
	__u8 inner;    /* XDPLB_AF_* of the inner packet */
	__u8 proto;    /* outer protocol: IPPROTO_IPIP, IPPROTO_IPV6 or IPPROTO_UDP */
	__u8 gue;
};

static __always_inline int outer4(struct __sk_buff *ctx, void *data, void *end, struct outer *o)
{
	struct iphdr *ip = data + ETH_HDR;
	__u32 tot;

	if ((void *)(ip + 1) > end)
		return LBDECAP_STAT_PASS_TRUNCATED;
	if (ip->version != 4 || ip->ihl < 5)
		return LBDECAP_STAT_PASS_MALFORMED;
	if (ip->protocol != IPPROTO_IPIP && ip->protocol != IPPROTO_IPV6 &&
	    ip->protocol != IPPROTO_UDP)
		return LBDECAP_STAT_PASS_NOT_ENCAP;
	if (ip->ihl != 5)
		return LBDECAP_STAT_PASS_UNSUPPORTED; /* the forwarder sends no options */
	tot = bpf_ntohs(ip->tot_len);
	if (tot < sizeof(*ip) || tot > ctx->len - ETH_HDR ||
	    csum_fold(csum_words(ip, sizeof(*ip) / 2)))
		return LBDECAP_STAT_PASS_MALFORMED;
	if (ip->frag_off & bpf_htons(IP_MF | IP_OFFSET))
		return LBDECAP_STAT_PASS_FRAGMENT;
	o->family = XDPLB_AF_INET;
	o->hlen = sizeof(*ip);
	o->payload = tot - sizeof(*ip);
	o->proto = ip->protocol;
	return 0;
}

static __always_inline int outer6(struct __sk_buff *ctx, void *data, void *end, struct outer *o)
{
	struct ipv6hdr *ip6 = data + ETH_HDR;
	__u32 plen;

	if ((void *)(ip6 + 1) > end)
		return LBDECAP_STAT_PASS_TRUNCATED;
	if (ip6->version != 6)
		return LBDECAP_STAT_PASS_MALFORMED;
	switch (ip6->nexthdr) {
	case IPPROTO_IPIP:
	case IPPROTO_IPV6:
	case IPPROTO_UDP:
		break;
	case IPPROTO_FRAGMENT:
		return LBDECAP_STAT_PASS_FRAGMENT;
	case IPPROTO_HOPOPTS:
	case IPPROTO_ROUTING:
	case IPPROTO_DSTOPTS:
		return LBDECAP_STAT_PASS_UNSUPPORTED; /* the forwarder sends none */
	default:
		return LBDECAP_STAT_PASS_NOT_ENCAP;
	}
	plen = bpf_ntohs(ip6->payload_len);
	if (!plen || plen > ctx->len - ETH_HDR - sizeof(*ip6))
		return LBDECAP_STAT_PASS_MALFORMED; /* 0: a jumbogram, not ours */
	o->family = XDPLB_AF_INET6;
	o->hlen = sizeof(*ip6);
	o->payload = plen;
	o->proto = ip6->nexthdr;
	return 0;
}

/* After the outer IP header: ipip names the inner family; gue is UDP to
 * the gue port and then an inner IP header (its version nibble is GUE
 * variant 1's marker: 0x4 IPv4, 0x6 IPv6). */
static __always_inline int encap_kind(void *data, void *end, struct outer *o)
{
	struct lbdecap_config *cfg;
	struct udphdr *uh;
	__u32 zero = 0;
	__u8 *first;

	if (o->proto == IPPROTO_IPIP) {
		o->inner = XDPLB_AF_INET;
		return 0;
	}
	if (o->proto == IPPROTO_IPV6) {
		o->inner = XDPLB_AF_INET6;
		return 0;
	}
	uh = data + ETH_HDR + (o->hlen & 0x3f);
	if ((void *)(uh + 1) > end)
		return LBDECAP_STAT_PASS_TRUNCATED;
	cfg = bpf_map_lookup_elem(&decap_config, &zero);
	if (!cfg || uh->dest != cfg->gue_port)
		return LBDECAP_STAT_PASS_NOT_ENCAP;
	if (bpf_ntohs(uh->len) != o->payload || o->payload < sizeof(*uh))
		return LBDECAP_STAT_PASS_MALFORMED;
	o->hlen += sizeof(*uh);
	o->payload -= sizeof(*uh);
	o->gue = 1;
	first = data + ETH_HDR + (o->hlen & 0x3f);
	if ((void *)(first + 1) > end)
		return LBDECAP_STAT_PASS_TRUNCATED;
	if (*first >> 4 == 4)
		o->inner = XDPLB_AF_INET;
	else if (*first >> 4 == 6)
		o->inner = XDPLB_AF_INET6;
	else
		return LBDECAP_STAT_PASS_UNSUPPORTED; /* GUE variant 0, or not IP */
	return 0;
}

/* The inner header: is it for a VIP, and does it fill the outer payload
 * exactly (what the forwarder sends)?  Returns 0 to decapsulate. */
static __always_inline int inner_check(void *data, void *end, const struct outer *o)
{
	void *in = data + ETH_HDR + (o->hlen & 0x3f);
	struct lbdecap_vip_key key = { 0 };
	struct ipv6hdr *ip6 = in;
	struct iphdr *ip = in;

	key.family = o->inner;
	if (o->inner == XDPLB_AF_INET) {
		if ((void *)(ip + 1) > end)
			return LBDECAP_STAT_PASS_TRUNCATED;
		key.addr.v4 = ip->daddr;
	} else {
		if ((void *)(ip6 + 1) > end)
			return LBDECAP_STAT_PASS_TRUNCATED;
		__builtin_memcpy(&key.addr, &ip6->daddr, sizeof(key.addr));
	}
	if (!bpf_map_lookup_elem(&decap_vips, &key))
		return LBDECAP_STAT_PASS_NOT_VIP;
	if (o->inner == XDPLB_AF_INET) {
		if (ip->version != 4 || ip->ihl < 5 || bpf_ntohs(ip->tot_len) != o->payload)
			return LBDECAP_STAT_DROP_MALFORMED;
	} else if (ip6->version != 6 || bpf_ntohs(ip6->payload_len) + sizeof(*ip6) != o->payload) {
		return LBDECAP_STAT_DROP_MALFORMED;
	}
	return 0;
}

static __always_inline __u32 decap_stat(const struct outer *o)
{
	__u32 base = o->gue ? LBDECAP_STAT_GUE_4IN4 : LBDECAP_STAT_IPIP_4IN4;

	if (o->family == o->inner)
		return base + (o->inner == XDPLB_AF_INET ? 0 : 1);
	return base + (o->inner == XDPLB_AF_INET ? 2 : 3);
}

/* Remove the outer headers.  Once a helper has changed the packet a
 * failure leaves it corrupt: the caller drops it. */
static __always_inline int decap(struct __sk_buff *ctx, const struct outer *o)
{
	__s32 strip = (__s32)o->hlen;
	__be16 type;

	if (o->family == o->inner)
		return bpf_skb_adjust_room(ctx, -strip, BPF_ADJ_ROOM_MAC,
					   BPF_F_ADJ_ROOM_FIXED_GSO) ? LBDECAP_STAT_DROP_ADJUST : 0;
	/* 6.1's bpf_skb_change_proto() scales a GRO aggregate's segment size
	 * by the 20 bytes, which is wrong for a decapsulated packet. */
	if (ctx->gso_size)
		return LBDECAP_STAT_DROP_GSO_MIXED;
	if (o->inner == XDPLB_AF_INET) {
		type = bpf_htons(ETH_P_IP);
		strip -= (__s32)(sizeof(struct ipv6hdr) - sizeof(struct iphdr)); /* change_proto pops */
	} else {
		type = bpf_htons(ETH_P_IPV6);
		strip += (__s32)(sizeof(struct ipv6hdr) - sizeof(struct iphdr)); /* it pushes */
	}
	if (bpf_skb_change_proto(ctx, type, 0) ||
	    bpf_skb_adjust_room(ctx, -strip, BPF_ADJ_ROOM_MAC, BPF_F_ADJ_ROOM_FIXED_GSO) ||
	    bpf_skb_store_bytes(ctx, offsetof(struct ethhdr, h_proto), &type, sizeof(type), 0))
		return LBDECAP_STAT_DROP_ADJUST;
	return 0;
}

/* Returns a stat index: one of the decap_* on success. */
static __always_inline __u32 process(struct __sk_buff *ctx)
{
	struct outer o = { 0 };
	void *data, *end;
	__u32 lin, want;
	int r;

	if (ctx->protocol != bpf_htons(ETH_P_IP) && ctx->protocol != bpf_htons(ETH_P_IPV6))
		return LBDECAP_STAT_PASS_NOT_IP;
	if (ctx->pkt_type != PACKET_HOST)
		return LBDECAP_STAT_PASS_NOT_HOST;
	/* headers in a paged skb: make what we read linear (content unchanged) */
	lin = ctx->data_end - ctx->data;
	want = ctx->len < HDR_MAX ? ctx->len : HDR_MAX;
	if (lin < want && bpf_skb_pull_data(ctx, want))
		return LBDECAP_STAT_PASS_TRUNCATED;
	data = (void *)(long)ctx->data;
	end = (void *)(long)ctx->data_end;
	r = ctx->protocol == bpf_htons(ETH_P_IP) ? outer4(ctx, data, end, &o)
						 : outer6(ctx, data, end, &o);
	if (!r)
		r = encap_kind(data, end, &o);
	if (!r)
		r = inner_check(data, end, &o);
	if (!r)
		r = decap(ctx, &o);
	if (r)
		return (__u32)r;
	bpf_set_hash_invalid(ctx); /* the hash was the outer flow's: recompute on the inner */
	return decap_stat(&o);
}

SEC("tc")
int lbdecap(struct __sk_buff *ctx)
{
	__u32 zero = 0, idx = process(ctx);
	struct lbdecap_stats *st = bpf_map_lookup_elem(&decap_stats, &zero);

	if (st && idx < LBDECAP_STAT_MAX)
		st->v[idx]++;
	return idx >= LBDECAP_STAT_DROP_MALFORMED ? TC_ACT_SHOT : TC_ACT_OK;
}
