/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* encap.h - l2 rewrite and ipip / gue encapsulation towards a backend. */
#ifndef XDPLB_ENCAP_H
#define XDPLB_ENCAP_H

#include "parse.h"
#include "csum.h"

#define GUE_SPORT_BASE 0xc000 /* gue source ports: 49152 + 14 bits of the flow hash */
#define GUE_SPORT_MASK 0x3fff

/* Bytes an encapsulation adds in front of the IP packet. */
static __always_inline __u32 encap_overhead(__u8 method, __u8 outer_family)
{
	__u32 ip = outer_family == XDPLB_AF_INET6 ? sizeof(struct ipv6hdr) : sizeof(struct iphdr);

	if (method == XDPLB_METHOD_L2)
		return 0;
	return method == XDPLB_METHOD_GUE ? ip + sizeof(struct udphdr) : ip;
}

/* Destination and source MAC: be->mac and be->src_mac lie back to back,
 * 4-byte aligned, in the Ethernet header's order (xdplb.h asserts it), so
 * three 32-bit moves instead of twelve byte moves. */
static __always_inline void set_macs(void *data, const struct xdplb_backend_info *be)
{
	const __u32 *s = (const __u32 *)be->mac;
	__u32 *d = data;

	d[0] = s[0];
	d[1] = s[1];
	d[2] = s[2];
}

/* Outer source: the LB's address, or a prefix whose host bits are the flow
 * hash (so backends' receive-side scaling spreads flows). */
static __always_inline void outer_src(union xdplb_addr *src, const struct xdplb_config *cfg,
				      __u8 family, int hashed, __u32 hash)
{
	__be32 h = hashed ? bpf_htonl(hash) : 0;
	int i;

	if (family == XDPLB_AF_INET) {
		src->v4 = (cfg->src4 & ~(hashed ? cfg->src4_mask : 0)) | (h & cfg->src4_mask);
		return;
	}
#pragma unroll
	for (i = 0; i < 4; i++)
		src->v6[i] = hashed ? (cfg->src6.v6[i] & ~cfg->src6_mask.v6[i]) |
					      (h & cfg->src6_mask.v6[i])
				    : cfg->src6.v6[i];
}

static __always_inline __u8 inner_proto(const struct pkt *p)
{
	return p->family == XDPLB_AF_INET ? IPPROTO_IPIP : IPPROTO_IPV6;
}

/* Two header bytes as the 16-bit word a load of them gives. */
static __always_inline __u32 word16(__u8 first, __u8 second)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	return (__u32)first | (__u32)second << 8;
#else
	return (__u32)first << 8 | (__u32)second;
#endif
}

/* The outer IPv4 header.  Its checksum is summed from the values in
 * registers, not read back: loading 16-bit words across the byte stores
 * just made would stall on store forwarding. */
static __always_inline int write_outer4(void *data, void *end, __u32 l3, const struct pkt *p,
					const struct xdplb_backend_info *be,
					const union xdplb_addr *src, __u32 overhead, __u8 proto)
{
	struct iphdr *o = data + l3;
	__be16 tot_len = bpf_htons(p->ip_len + overhead), frag = p->df ? bpf_htons(IP_DF) : 0;
	__be32 saddr = src->v4, daddr = be->addr.v4;
	__u32 sum;

	if ((void *)(o + 1) > end)
		return -1;
	sum = word16(0x45, p->tos) + tot_len + frag + word16(XDPLB_OUTER_TTL, proto) +
	      (saddr & 0xffff) + (saddr >> 16) + (daddr & 0xffff) + (daddr >> 16);
	*(__u8 *)o = 0x45;
	o->tos = p->tos;
	o->tot_len = tot_len;
	o->id = 0;
	o->frag_off = frag;
	o->ttl = XDPLB_OUTER_TTL;
	o->protocol = proto;
	o->check = csum_fold(sum);
	o->saddr = saddr;
	o->daddr = daddr;
	return 0;
}

static __always_inline int write_outer6(void *data, void *end, __u32 l3, const struct pkt *p,
					const struct xdplb_backend_info *be,
					const union xdplb_addr *src, __u32 udp, __u8 proto,
					__u32 hash)
{
	struct ipv6hdr *o = data + l3;

	if ((void *)(o + 1) > end)
		return -1;
	*(__be32 *)o = bpf_htonl(6u << 28 | (__u32)p->tos << 20 | (hash & 0xfffff));
	o->payload_len = bpf_htons(p->ip_len + udp);
	o->nexthdr = proto;
	o->hop_limit = XDPLB_OUTER_TTL;
	__builtin_memcpy(&o->saddr, src, 16);
	__builtin_memcpy(&o->daddr, &be->addr, 16);
	return 0;
}

/* Put an outer IP (+ UDP for gue) header in front of the packet.  The
 * Ethernet header (and its VLAN tag) moves to the new front; the inner
 * packet is not touched.  Returns 0 or a drop reason. */
static __always_inline int encapsulate(struct xdp_md *ctx, const struct pkt *p,
				       const struct xdplb_backend_info *be,
				       const struct xdplb_config *cfg, __u32 hash)
{
	__u32 l3 = p->l3_off == 18 ? 18 : 14;
	int gue = be->method == XDPLB_METHOD_GUE;
	__u32 overhead = encap_overhead(be->method, be->family);
	/* The outer IP header's length, not "overhead - udp": the compiler
	 * reads be->method again for `gue`, and the 6.1 verifier then follows
	 * a path where overhead is 0 (l2) and gue is 1, so uh = data + l3 - 8
	 * ("math between pkt pointer and 4294967288 is not allowed"). */
	__u32 ohl = be->family == XDPLB_AF_INET6 ? sizeof(struct ipv6hdr) : sizeof(struct iphdr);
	__u8 proto = gue ? IPPROTO_UDP : inner_proto(p);
	union xdplb_addr src;
	struct udphdr *uh;
	void *data, *end;

	if (bpf_xdp_adjust_head(ctx, -(int)overhead))
		return XDPLB_STAT_DROP_ENCAP;
	data = (void *)(long)ctx->data;
	end = (void *)(long)ctx->data_end;
	if (data + 18 + overhead > end)
		return XDPLB_STAT_DROP_ENCAP;
	set_macs(data, be);
	if (l3 == 18)
		*(__be32 *)(data + 12) = *(__be32 *)(data + overhead + 12);
	*(__be16 *)(data + l3 - 2) =
		bpf_htons(be->family == XDPLB_AF_INET6 ? ETH_P_IPV6 : ETH_P_IP);
	outer_src(&src, cfg, be->family, be->vip_flags & XDPLB_VIP_F_HASH_SRC, hash);
	if (be->family == XDPLB_AF_INET6) {
		if (write_outer6(data, end, l3, p, be, &src, gue ? sizeof(*uh) : 0, proto, hash))
			return XDPLB_STAT_DROP_ENCAP;
	} else if (write_outer4(data, end, l3, p, be, &src, overhead, proto)) {
		return XDPLB_STAT_DROP_ENCAP;
	}
	if (!gue)
		return 0;
	uh = data + l3 + ohl;
	if ((void *)(uh + 1) > end)
		return XDPLB_STAT_DROP_ENCAP;
	uh->source = bpf_htons(GUE_SPORT_BASE | (hash & GUE_SPORT_MASK));
	uh->dest = cfg->gue_port;
	uh->len = bpf_htons(p->ip_len + sizeof(*uh));
	uh->check = 0; /* allowed for tunnels over IPv6 too (RFC 6935) */
	return 0;
}

#endif /* XDPLB_ENCAP_H */
