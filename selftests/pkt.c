// SPDX-License-Identifier: GPL-2.0
/* pkt.c - packet builders and checksums for the golden tests. */
#include <arpa/inet.h>
#include <string.h>
#include <stdlib.h>
#include <stdio.h>
#include <netinet/in.h>

#include "pkt.h"

const __u8 MAC_CLIENT[6] = { 0x02, 0, 0, 0, 0, 0x01 };
const __u8 MAC_LB[6] = { 0x02, 0, 0, 0, 0, 0x0b };
const __u8 MAC_BE[3][6] = { { 0x02, 0, 0, 0, 0, 0x11 },
			    { 0x02, 0, 0, 0, 0, 0x12 },
			    { 0x02, 0, 0, 0, 0, 0x13 } };
const __u8 MAC_GW[6] = { 0x02, 0, 0, 0, 0, 0xfe };

__u32 pkt_csum_partial(const void *data, size_t len, __u32 sum)
{
	const __u8 *p = data;
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += (__u32)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		sum += (__u32)(p[len - 1] << 8);
	return sum;
}

/* Returns the checksum in network order, ready to be stored with memcpy. */
__u16 pkt_csum(const void *data, size_t len, __u32 sum)
{
	sum = pkt_csum_partial(data, len, sum);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return htons((__u16)~sum);
}

void pkt_addr(int family, const char *s, union xdplb_addr *a)
{
	memset(a, 0, sizeof(*a));
	if (inet_pton(family == 4 ? AF_INET : AF_INET6, s, a) != 1) {
		fprintf(stderr, "bad address in test: %s\n", s);
		abort();
	}
}

/* Write just the address bytes (4 or 16) at p. */
static void put_addr(int family, const char *str, __u8 *p)
{
	union xdplb_addr a;

	pkt_addr(family, str, &a);
	memcpy(p, &a, family == 4 ? 4 : 16);
}

static void put16(__u8 *p, __u16 v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

static __u32 pseudo_sum(int family, const __u8 *src, const __u8 *dst, __u8 proto, size_t len)
{
	size_t alen = family == 4 ? 4 : 16;
	__u32 sum = pkt_csum_partial(src, alen, 0);

	sum = pkt_csum_partial(dst, alen, sum);
	return sum + proto + (__u32)(len >> 16) + (__u32)(len & 0xffff);
}

static size_t build_l4(const struct pkt_spec *s, __u8 *l4)
{
	size_t hl = s->proto == IPPROTO_TCP ? 20 : 8, i;

	if (s->l4) {
		memcpy(l4, s->l4, s->l4_len);
		return s->l4_len;
	}
	memset(l4, 0, hl);
	for (i = 0; i < s->payload; i++)
		l4[hl + i] = (__u8)(i * 7 + 3);
	if (s->proto == IPPROTO_TCP || s->proto == IPPROTO_UDP) {
		put16(l4, s->sport);
		put16(l4 + 2, s->dport);
	}
	if (s->proto == IPPROTO_TCP) {
		l4[4] = 0x12; /* seq */
		l4[12] = 5 << 4;
		l4[13] = s->tcp_flags;
		put16(l4 + 14, 64240);
	} else if (s->proto == IPPROTO_UDP) {
		put16(l4 + 4, (__u16)(hl + s->payload));
	} else {
		l4[0] = s->icmp_type;
		l4[1] = s->icmp_code;
		put16(l4 + 4, 0x1234); /* echo id */
		put16(l4 + 6, 1);
	}
	return hl + s->payload;
}

static void l4_csum(const struct pkt_spec *s, __u8 *l4, size_t len, const __u8 *src,
		    const __u8 *dst)
{
	__u16 c;
	size_t off = s->proto == IPPROTO_TCP ? 16 : s->proto == IPPROTO_UDP ? 6 : 2;
	__u32 sum = 0;

	if (s->l4)
		return;
	if (s->proto != IPPROTO_ICMP)
		sum = pseudo_sum(s->family, src, dst, s->proto, len);
	c = pkt_csum(l4, len, sum);
	memcpy(l4 + off, &c, 2);
}

static size_t build_ip4(const struct pkt_spec *s, __u8 *ip)
{
	size_t hl = 20 + s->ip_opts, l4len;
	__u16 c;

	memset(ip, 0, hl);
	ip[0] = 0x40 | (__u8)(hl / 4);
	ip[1] = s->tos;
	put16(ip + 4, 0x4242);
	put16(ip + 6, (s->df ? 0x4000 : 0) | s->frag);
	ip[8] = s->ttl ? s->ttl : 64;
	ip[9] = s->proto;
	put_addr(4, s->src, ip + 12);
	put_addr(4, s->dst, ip + 16);
	memset(ip + 20, 1, s->ip_opts); /* NOP options */
	l4len = build_l4(s, ip + hl);
	l4_csum(s, ip + hl, l4len, ip + 12, ip + 16);
	put16(ip + 2, (__u16)(hl + l4len));
	c = pkt_csum(ip, hl, 0);
	memcpy(ip + 10, &c, 2);
	return hl + l4len;
}

static size_t build_ip6(const struct pkt_spec *s, __u8 *ip)
{
	size_t hl = 40 + (s->frag6 ? 8 : 0), l4len;

	memset(ip, 0, hl);
	ip[0] = 0x60 | (s->tos >> 4);
	ip[1] = (__u8)(s->tos << 4);
	ip[6] = s->frag6 ? 44 : s->proto;
	ip[7] = s->ttl ? s->ttl : 64;
	put_addr(6, s->src, ip + 8);
	put_addr(6, s->dst, ip + 24);
	if (s->frag6) {
		ip[40] = s->proto;
		put16(ip + 42, 0x0001); /* offset 0, M=1: the first fragment */
		ip[47] = 7;             /* identification */
	}
	l4len = build_l4(s, ip + hl);
	l4_csum(s, ip + hl, l4len, ip + 8, ip + 24);
	put16(ip + 4, (__u16)(hl - 40 + l4len));
	return hl + l4len;
}

size_t pkt_build_ip(const struct pkt_spec *s, __u8 *buf)
{
	return s->family == 4 ? build_ip4(s, buf) : build_ip6(s, buf);
}

size_t pkt_build(const struct pkt_spec *s, __u8 *buf)
{
	size_t l3 = s->vlan ? 18 : 14;

	memcpy(buf, MAC_LB, 6);
	memcpy(buf + 6, MAC_CLIENT, 6);
	if (s->vlan) {
		put16(buf + 12, 0x8100);
		put16(buf + 14, s->vlan_tci);
	}
	put16(buf + l3 - 2, s->family == 4 ? 0x0800 : 0x86dd);
	return l3 + pkt_build_ip(s, buf + l3);
}

size_t pkt_encap(const __u8 *in, size_t in_len, size_t l3, const struct encap_spec *e, __u8 *out)
{
	const __u8 *inner = in + l3;
	size_t ilen = in_len - l3, ohl = e->outer_family == 4 ? 20 : 40, udp = e->gue ? 8 : 0;
	int inner4 = (inner[0] >> 4) == 4;
	__u8 proto = e->gue ? IPPROTO_UDP : inner4 ? IPPROTO_IPIP : IPPROTO_IPV6;
	__u8 tos = inner4 ? inner[1] : (__u8)((inner[0] << 4) | (inner[1] >> 4));
	int df = inner4 ? !!(inner[6] & 0x40) : 1;
	__u8 *o = out + l3;
	__u16 c;

	memcpy(out, e->dmac, 6);
	memcpy(out + 6, e->smac, 6);
	memcpy(out + 12, in + 12, l3 - 14); /* VLAN tag */
	put16(out + l3 - 2, e->outer_family == 4 ? 0x0800 : 0x86dd);
	memset(o, 0, ohl + udp);
	if (e->outer_family == 4) {
		o[0] = 0x45;
		o[1] = tos;
		put16(o + 2, (__u16)(ohl + udp + ilen));
		put16(o + 6, df ? 0x4000 : 0);
		o[8] = 64;
		o[9] = proto;
		put_addr(4, e->outer_src, o + 12);
		put_addr(4, e->outer_dst, o + 16);
		c = pkt_csum(o, 20, 0);
		memcpy(o + 10, &c, 2);
	} else {
		__u32 w = 6u << 28 | (__u32)tos << 20 | (e->flow_label & 0xfffff);

		w = htonl(w);
		memcpy(o, &w, 4);
		put16(o + 4, (__u16)(udp + ilen));
		o[6] = proto;
		o[7] = 64;
		put_addr(6, e->outer_src, o + 8);
		put_addr(6, e->outer_dst, o + 24);
	}
	if (e->gue) {
		put16(o + ohl, e->gue_sport);
		put16(o + ohl + 2, e->gue_dport);
		put16(o + ohl + 4, (__u16)(8 + ilen));
	}
	memcpy(o + ohl + udp, inner, ilen);
	return l3 + ohl + udp + ilen;
}
