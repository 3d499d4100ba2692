/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* parse.h - header parsing: Ethernet (+ one 802.1Q tag), IPv4, IPv6, L4. */
#ifndef XDPLB_PARSE_H
#define XDPLB_PARSE_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/in.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <linux/icmpv6.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "xdplb.h"

#ifndef ETH_P_8021Q
#define ETH_P_8021Q 0x8100
#endif
#ifndef ETH_P_8021AD
#define ETH_P_8021AD 0x88A8
#endif
/* From linux/icmp.h, which drags in libc's socket headers. */
struct icmphdr {
	__u8 type;
	__u8 code;
	__sum16 checksum;
	union {
		struct {
			__be16 id;
			__be16 sequence;
		} echo;
		struct {
			__be16 __unused;
			__be16 mtu;
		} frag;
	} un;
};
#define ICMP_ECHOREPLY 0
#define ICMP_DEST_UNREACH 3
#define ICMP_ECHO 8
#define ICMP_TIME_EXCEEDED 11
#define ICMP_FRAG_NEEDED 4

#define IP_MF 0x2000
#define IP_DF 0x4000
#define IP_OFFSET 0x1fff
#define IPV6_MAX_EXT 4 /* extension headers skipped before giving up */
/* Offsets into the frame, masked before they move a packet pointer: the
 * verifier gives no range to a pointer whose offset may pass 0xffff, and a
 * linear XDP frame is a page at most (four 2 KiB IPv6 extension headers fit). */
#define PKT_OFF_MASK 0x3fff

/* What the forwarder knows about a packet after parsing.  Offsets are from
 * the start of the frame; `ip_len` is the IP datagram's own length. */
struct pkt {
	__u32 l3_off;
	__u32 l4_off;
	__u32 ip_len;
	__u32 frame_len;
	union xdplb_addr src;
	union xdplb_addr dst;
	__be16 sport;
	__be16 dport;
	__u8 family;
	__u8 proto;
	__u8 tcp_flags; /* TCP flags byte (FIN 0x01, SYN 0x02, RST 0x04, ACK 0x10) */
	__u8 df;        /* IPv4 DF set, or IPv6 (never fragmented on the way) */
	__u8 tos;       /* IPv4 TOS / IPv6 traffic class */
	__u8 icmp_type;
	__u8 frag;      /* an IP fragment */
	__u8 l4_short;  /* the L4 header (or its first 8 bytes for ICMP) is cut short */
};

#define TCP_FLAG_SYN 0x02

/* Outcome of parsing: go on with a VIP lookup, or pass with a reason. */
enum parse_res {
	PARSE_OK = 0,
	PARSE_NOT_IP = XDPLB_STAT_PASS_NOT_IP,
	PARSE_TRUNCATED = XDPLB_STAT_PASS_TRUNCATED,
	PARSE_MALFORMED = XDPLB_STAT_PASS_IP_MALFORMED,
	PARSE_IPV6_EXT = XDPLB_STAT_PASS_IPV6_EXT,
};

static __always_inline int parse_eth(struct pkt *p, void *data, void *end, __be16 *proto)
{
	struct ethhdr *eth = data;
	struct vlan_hdr {
		__be16 tci;
		__be16 proto;
	} *vh;

	if ((void *)(eth + 1) > end)
		return PARSE_TRUNCATED;
	*proto = eth->h_proto;
	p->l3_off = sizeof(*eth);
	if (*proto == bpf_htons(ETH_P_8021Q) || *proto == bpf_htons(ETH_P_8021AD)) {
		vh = (void *)(eth + 1);
		if ((void *)(vh + 1) > end)
			return PARSE_TRUNCATED;
		*proto = vh->proto;
		p->l3_off += sizeof(*vh);
	}
	return PARSE_OK;
}

static __always_inline int parse_ipv4(struct pkt *p, void *data, void *end)
{
	struct iphdr *iph = data + p->l3_off;
	__u32 hlen;

	if ((void *)(iph + 1) > end)
		return PARSE_TRUNCATED;
	if (iph->version != 4 || iph->ihl < 5)
		return PARSE_MALFORMED;
	hlen = iph->ihl * 4;
	p->ip_len = bpf_ntohs(iph->tot_len);
	if (p->ip_len < hlen || p->l3_off + p->ip_len > p->frame_len)
		return PARSE_MALFORMED;
	p->family = XDPLB_AF_INET;
	p->proto = iph->protocol;
	p->src.v4 = iph->saddr;
	p->dst.v4 = iph->daddr;
	p->tos = iph->tos;
	p->df = !!(iph->frag_off & bpf_htons(IP_DF));
	p->frag = !!(iph->frag_off & bpf_htons(IP_MF | IP_OFFSET));
	p->l4_off = p->l3_off + hlen;
	return PARSE_OK;
}

/* Skip hop-by-hop, routing and destination options headers (a bounded
 * number); a fragment header marks the packet as a fragment. */
static __always_inline int skip_ipv6_ext(struct pkt *p, void *data, void *end)
{
	struct ipv6_opt_hdr *oh;
	int i;

#pragma unroll
	for (i = 0; i < IPV6_MAX_EXT; i++) {
		switch (p->proto) {
		case IPPROTO_HOPOPTS:
		case IPPROTO_ROUTING:
		case IPPROTO_DSTOPTS:
			oh = data + (p->l4_off & PKT_OFF_MASK);
			if ((void *)(oh + 1) > end)
				return PARSE_TRUNCATED;
			p->proto = oh->nexthdr;
			p->l4_off += (oh->hdrlen + 1) * 8;
			break;
		case IPPROTO_FRAGMENT:
			oh = data + (p->l4_off & PKT_OFF_MASK);
			if ((void *)(oh + 1) > end)
				return PARSE_TRUNCATED;
			p->frag = 1;
			p->proto = oh->nexthdr;
			p->l4_off += 8;
			break;
		default:
			return PARSE_OK;
		}
	}
	return PARSE_IPV6_EXT;
}

static __always_inline int parse_ipv6(struct pkt *p, void *data, void *end)
{
	struct ipv6hdr *ip6 = data + p->l3_off;

	if ((void *)(ip6 + 1) > end)
		return PARSE_TRUNCATED;
	if (ip6->version != 6)
		return PARSE_MALFORMED;
	p->ip_len = sizeof(*ip6) + bpf_ntohs(ip6->payload_len);
	if (p->l3_off + p->ip_len > p->frame_len)
		return PARSE_MALFORMED;
	p->family = XDPLB_AF_INET6;
	p->proto = ip6->nexthdr;
	__builtin_memcpy(&p->src, &ip6->saddr, 16);
	__builtin_memcpy(&p->dst, &ip6->daddr, 16);
	p->tos = (ip6->priority << 4) | (ip6->flow_lbl[0] >> 4);
	p->df = 1;
	p->l4_off = p->l3_off + sizeof(*ip6);
	return skip_ipv6_ext(p, data, end);
}

/* Ports and flags; a short L4 header is noted, not an error yet: whether
 * it is dropped or passed depends on whether it was meant for a VIP. */
static __always_inline void parse_l4(struct pkt *p, void *data, void *end)
{
	void *l4 = data + (p->l4_off & PKT_OFF_MASK);
	struct tcphdr *th = l4;
	struct udphdr *uh = l4;
	struct icmphdr *ih = l4;

	if (p->frag)
		return;
	switch (p->proto) {
	case IPPROTO_TCP:
		if ((void *)(th + 1) > end) {
			p->l4_short = 1;
			return;
		}
		p->sport = th->source;
		p->dport = th->dest;
		p->tcp_flags = ((__u8 *)th)[13];
		return;
	case IPPROTO_UDP:
		if ((void *)(uh + 1) > end) {
			p->l4_short = 1;
			return;
		}
		p->sport = uh->source;
		p->dport = uh->dest;
		return;
	case IPPROTO_ICMP:
	case IPPROTO_ICMPV6:
		if ((void *)(ih + 1) > end) {
			p->l4_short = 1;
			return;
		}
		p->icmp_type = ih->type;
		return;
	}
}

/* The common case: untagged Ethernet, IPv4 without options, not a
 * fragment, a whole TCP or UDP header (20 bytes, also for UDP). */
static __always_inline int fast4_ok(void *data, void *end)
{
	struct ethhdr *eth = data;
	struct iphdr *iph = (void *)(eth + 1);
	struct tcphdr *th = (void *)(iph + 1);
	__u32 ip_len;

	if ((void *)(th + 1) > end)
		return 0;
	if (eth->h_proto != bpf_htons(ETH_P_IP) || *(__u8 *)iph != 0x45 ||
	    (iph->frag_off & bpf_htons(IP_MF | IP_OFFSET)) ||
	    (iph->protocol != IPPROTO_TCP && iph->protocol != IPPROTO_UDP))
		return 0;
	ip_len = bpf_ntohs(iph->tot_len);
	return ip_len >= sizeof(*iph) && sizeof(*eth) + ip_len <= (__u32)(end - data);
}

/* Fill *p from a frame fast4_ok() accepted. */
static __always_inline void fast4_fill(struct pkt *p, void *data, void *end)
{
	struct iphdr *iph = data + sizeof(struct ethhdr);
	struct tcphdr *th = (void *)(iph + 1);

	if ((void *)(th + 1) > end)
		return; /* cannot happen after fast4_ok(); for the verifier */
	p->l3_off = sizeof(struct ethhdr);
	p->l4_off = sizeof(struct ethhdr) + sizeof(*iph);
	p->ip_len = bpf_ntohs(iph->tot_len);
	p->frame_len = end - data;
	p->src.v6[0] = iph->saddr;
	p->src.v6[1] = p->src.v6[2] = p->src.v6[3] = 0;
	p->dst.v6[0] = iph->daddr;
	p->dst.v6[1] = p->dst.v6[2] = p->dst.v6[3] = 0;
	p->sport = th->source;
	p->dport = th->dest;
	p->family = XDPLB_AF_INET;
	p->proto = iph->protocol;
	p->tcp_flags = iph->protocol == IPPROTO_TCP ? ((__u8 *)th)[13] : 0;
	p->df = !!(iph->frag_off & bpf_htons(IP_DF));
	p->tos = iph->tos;
	p->icmp_type = 0;
	p->frag = 0;
	p->l4_short = 0;
}

/* The common case in a few loads: untagged Ethernet, IPv4 without options,
 * not a fragment, a whole TCP or UDP header.  Fills every field of *p as
 * parse_packet() would and returns 1; returns 0 for anything else (then
 * parse_packet() does the full job). */
static __always_inline int parse_fast4(struct pkt *p, void *data, void *end)
{
	if (!fast4_ok(data, end))
		return 0;
	fast4_fill(p, data, end);
	return 1;
}

/* Parse a frame from its start; PARSE_OK when p describes an IP packet. */
static __always_inline int parse_packet(struct pkt *p, void *data, void *end)
{
	__be16 proto;
	int ret;

	p->frame_len = end - data;
	ret = parse_eth(p, data, end, &proto);
	if (ret)
		return ret;
	if (proto == bpf_htons(ETH_P_IP))
		ret = parse_ipv4(p, data, end);
	else if (proto == bpf_htons(ETH_P_IPV6))
		ret = parse_ipv6(p, data, end);
	else
		return PARSE_NOT_IP;
	if (ret)
		return ret;
	parse_l4(p, data, end);
	return PARSE_OK;
}

/* Two 32-bit halves as the 64-bit word that holds `lo` in its first four
 * bytes in memory. */
static __always_inline __u64 word64(__u32 lo, __u32 hi)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	return (__u64)lo | (__u64)hi << 32;
#else
	return (__u64)hi | (__u64)lo << 32;
#endif
}

/* The last word of a flow key: the ports as they are on the wire, then
 * proto and three zero bytes. */
static __always_inline __u64 flow_key_tail(__u32 ports, __u8 proto)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	return word64(ports, proto);
#else
	return word64(ports, (__u32)proto << 24);
#endif
}

/* Swap the Ethernet destination and source (a reply, or XDP_TX back). */
static __always_inline void swap_macs(void *data)
{
	__u8 tmp[ETH_ALEN];

	__builtin_memcpy(tmp, data, ETH_ALEN);
	__builtin_memcpy(data, data + ETH_ALEN, ETH_ALEN);
	__builtin_memcpy(data + ETH_ALEN, tmp, ETH_ALEN);
}

#endif /* XDPLB_PARSE_H */
