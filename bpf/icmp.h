/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* icmp.h - echo replies from a VIP, "fragmentation needed" / "packet too
 * big" towards clients, and parsing of the flow an ICMP error quotes. */
#ifndef XDPLB_ICMP_H
#define XDPLB_ICMP_H

#include "parse.h"
#include "csum.h"

#define PTB6_QUOTE 48   /* quoted bytes: the IPv6 header and 8 bytes after it */
#define PTB4_MAX_WORDS 38 /* (ICMP header + 60-byte IP header + 8) / 2 */

/* Turn an echo request into the reply in place. */
static __always_inline int echo_reply(void *data, void *end, const struct pkt *p)
{
	struct icmphdr *ih = data + (p->l4_off & PKT_OFF_MASK);
	struct iphdr *iph = data + (p->l3_off & 0x1f);
	struct ipv6hdr *ip6 = data + (p->l3_off & 0x1f);
	__u16 old;

	if ((void *)(ih + 1) > end || (void *)(iph + 1) > end || data + ETH_HLEN > end)
		return -1;
	old = *(__u16 *)ih;
	ih->type = p->family == XDPLB_AF_INET ? ICMP_ECHOREPLY : ICMPV6_ECHO_REPLY;
	csum_replace2(&ih->checksum, old, *(__u16 *)ih);
	if (p->family == XDPLB_AF_INET) {
		old = *(__u16 *)&iph->ttl;
		iph->ttl = XDPLB_OUTER_TTL;
		csum_replace2(&iph->check, old, *(__u16 *)&iph->ttl);
		iph->saddr = p->dst.v4;
		iph->daddr = p->src.v4;
	} else {
		if ((void *)(ip6 + 1) > end)
			return -1;
		ip6->hop_limit = XDPLB_OUTER_TTL;
		__builtin_memcpy(&ip6->saddr, &p->dst, 16);
		__builtin_memcpy(&ip6->daddr, &p->src, 16);
	}
	swap_macs(data);
	return 0;
}

/* After bpf_xdp_adjust_head(-room): write the reply's Ethernet header at
 * the new front from the original one `room` bytes further on. */
static __always_inline void reply_eth(void *data, __u32 l3, __u32 room, __be16 proto)
{
	__builtin_memcpy(data, data + room + ETH_ALEN, ETH_ALEN);
	__builtin_memcpy(data + ETH_ALEN, data + room, ETH_ALEN);
	if (l3 == 18)
		*(__be32 *)(data + 12) = *(__be32 *)(data + room + 12);
	*(__be16 *)(data + l3 - 2) = proto;
}

/* ICMP "fragmentation needed" quoting the IP header and 8 bytes of the
 * packet, from the VIP to the client.  Returns 0 or a drop reason. */
static __always_inline int send_frag_needed(struct xdp_md *ctx, const struct pkt *p, __u16 mtu)
{
	__u32 l3 = p->l3_off == 18 ? 18 : 14;
	__u32 quote = ((p->l4_off - p->l3_off) & 0x3c) + 8;
	__u32 room = sizeof(struct iphdr) + sizeof(struct icmphdr), sum = 0, i;
	void *data, *end;
	struct iphdr *iph;
	struct icmphdr *ih;
	__u16 *w;

	if (bpf_xdp_adjust_head(ctx, -(int)room))
		return XDPLB_STAT_DROP_ENCAP;
	data = (void *)(long)ctx->data;
	end = (void *)(long)ctx->data_end;
	if (data + 18 + room > end)
		return XDPLB_STAT_DROP_ENCAP;
	reply_eth(data, l3, room, bpf_htons(ETH_P_IP));
	iph = data + l3;
	ih = (void *)(iph + 1);
	if ((void *)(ih + 1) > end)
		return XDPLB_STAT_DROP_ENCAP;
	*(__u8 *)iph = 0x45;
	iph->tos = 0;
	iph->tot_len = bpf_htons(room + quote);
	iph->id = 0;
	iph->frag_off = 0;
	iph->ttl = XDPLB_OUTER_TTL;
	iph->protocol = IPPROTO_ICMP;
	iph->check = 0;
	iph->saddr = p->dst.v4;
	iph->daddr = p->src.v4;
	iph->check = csum_fold(csum_words(iph, sizeof(*iph) / 2));
	ih->type = ICMP_DEST_UNREACH;
	ih->code = ICMP_FRAG_NEEDED;
	ih->checksum = 0;
	ih->un.frag.__unused = 0;
	ih->un.frag.mtu = bpf_htons(mtu);
	w = (void *)ih;
	for (i = 0; i < PTB4_MAX_WORDS; i++) {
		if (i >= (sizeof(*ih) + quote) / 2 || (void *)(w + i + 1) > end)
			break;
		sum += w[i];
	}
	ih->checksum = csum_fold(sum);
	if (bpf_xdp_adjust_tail(ctx, (int)(l3 + room + quote) - (int)(end - data)))
		return XDPLB_STAT_DROP_ENCAP;
	return 0;
}

/* ICMPv6 "packet too big" quoting the first 48 bytes of the packet. */
static __always_inline int send_pkt_too_big(struct xdp_md *ctx, const struct pkt *p, __u32 mtu)
{
	__u32 l3 = p->l3_off == 18 ? 18 : 14;
	__u32 room = sizeof(struct ipv6hdr) + sizeof(struct icmp6hdr), sum;
	__be32 pseudo[2] = { bpf_htonl(sizeof(struct icmp6hdr) + PTB6_QUOTE),
			     bpf_htonl(IPPROTO_ICMPV6) };
	struct ipv6hdr *ip6;
	struct icmp6hdr *ih;
	void *data, *end;

	if (bpf_xdp_adjust_head(ctx, -(int)room))
		return XDPLB_STAT_DROP_ENCAP;
	data = (void *)(long)ctx->data;
	end = (void *)(long)ctx->data_end;
	if (data + 18 + room + PTB6_QUOTE > end)
		return XDPLB_STAT_DROP_ENCAP;
	reply_eth(data, l3, room, bpf_htons(ETH_P_IPV6));
	ip6 = data + l3;
	ih = (void *)(ip6 + 1);
	*(__be32 *)ip6 = bpf_htonl(6u << 28);
	ip6->payload_len = bpf_htons(sizeof(*ih) + PTB6_QUOTE);
	ip6->nexthdr = IPPROTO_ICMPV6;
	ip6->hop_limit = XDPLB_OUTER_TTL;
	__builtin_memcpy(&ip6->saddr, &p->dst, 16);
	__builtin_memcpy(&ip6->daddr, &p->src, 16);
	ih->icmp6_type = ICMPV6_PKT_TOOBIG;
	ih->icmp6_code = 0;
	ih->icmp6_cksum = 0;
	ih->icmp6_mtu = bpf_htonl(mtu);
	sum = csum_words(&ip6->saddr, 16) + csum_words(pseudo, 4) +
	      csum_words(ih, (sizeof(*ih) + PTB6_QUOTE) / 2);
	ih->icmp6_cksum = csum_fold(sum);
	if (bpf_xdp_adjust_tail(ctx, (int)(l3 + room + PTB6_QUOTE) - (int)(end - data)))
		return XDPLB_STAT_DROP_ENCAP;
	return 0;
}

static __always_inline int icmp_is_error(const struct pkt *p)
{
	if (p->family == XDPLB_AF_INET)
		return p->icmp_type == ICMP_DEST_UNREACH || p->icmp_type == ICMP_TIME_EXCEEDED;
	return p->icmp_type == ICMPV6_DEST_UNREACH || p->icmp_type == ICMPV6_PKT_TOOBIG ||
	       p->icmp_type == ICMPV6_TIME_EXCEED;
}

/* The flow an ICMP error quotes, seen from the client: q->src is the
 * client (the quoted destination), q->dst the VIP.  Only the first 8
 * bytes of the quoted L4 header are relied on.  Returns 0 if usable. */
static __always_inline int icmp_quoted_flow(void *data, void *end, const struct pkt *p,
					    struct pkt *q)
{
	void *in = data + ((p->l4_off + 8) & PKT_OFF_MASK);
	struct iphdr *iph = in;
	struct ipv6hdr *ip6 = in;
	__be16 *ports;

	if (p->family == XDPLB_AF_INET) {
		if ((void *)(iph + 1) > end || iph->version != 4 || iph->ihl < 5)
			return -1;
		ports = in + iph->ihl * 4;
		q->proto = iph->protocol;
		q->src.v4 = iph->daddr;
		q->dst.v4 = iph->saddr;
	} else {
		if ((void *)(ip6 + 1) > end || ip6->version != 6)
			return -1;
		ports = (void *)(ip6 + 1);
		q->proto = ip6->nexthdr;
		__builtin_memcpy(&q->src, &ip6->daddr, 16);
		__builtin_memcpy(&q->dst, &ip6->saddr, 16);
	}
	if ((void *)(ports + 2) > end || (q->proto != IPPROTO_TCP && q->proto != IPPROTO_UDP))
		return -1;
	q->sport = ports[1];
	q->dport = ports[0];
	return 0;
}

#endif /* XDPLB_ICMP_H */
