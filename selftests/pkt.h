/* SPDX-License-Identifier: GPL-2.0 */
/* pkt.h - packet builders for golden tests, written independently of the
 * forwarder (plain byte layout and RFC 1071 checksums). */
#ifndef SELFTESTS_PKT_H
#define SELFTESTS_PKT_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>
#include "xdplb.h"

#define PKT_MAX 2048

struct pkt_spec {
	int family;         /* 4 or 6 */
	const char *src, *dst;
	__u8 proto;         /* IPPROTO_TCP, _UDP, _ICMP, _ICMPV6 */
	__u16 sport, dport; /* host order */
	__u8 tcp_flags;     /* TCP: 0x02 SYN, 0x10 ACK, ... */
	__u8 icmp_type, icmp_code;
	__u16 payload;      /* bytes of payload after the L4 header */
	__u8 ip_opts;       /* IPv4 option bytes (multiple of 4) */
	bool df;
	__u16 frag;         /* IPv4 frag_off bits (host order) besides DF */
	bool frag6;         /* IPv6: add a fragment header */
	__u8 tos;
	__u8 ttl;           /* 0: 64 */
	bool vlan;
	__u16 vlan_tci;
	const __u8 *l4;     /* if set: raw bytes after the IP header (ICMP errors) */
	size_t l4_len;
};

extern const __u8 MAC_CLIENT[6], MAC_LB[6], MAC_BE[3][6], MAC_GW[6];

/* Build Ethernet (+VLAN) + IP + L4 + payload; returns the frame length. */
size_t pkt_build(const struct pkt_spec *s, __u8 *buf);
/* Just the IP packet (no Ethernet) into buf; returns its length. */
size_t pkt_build_ip(const struct pkt_spec *s, __u8 *buf);

__u16 pkt_csum(const void *data, size_t len, __u32 sum);
__u32 pkt_csum_partial(const void *data, size_t len, __u32 sum);
void pkt_addr(int family, const char *s, union xdplb_addr *a);

/* Expected output of encapsulating frame `in` (l3 at 14 or 18). */
struct encap_spec {
	int outer_family;
	const char *outer_src, *outer_dst;
	const __u8 *dmac, *smac;
	bool gue;
	__u16 gue_sport, gue_dport; /* host order */
	__u32 flow_label;
};
size_t pkt_encap(const __u8 *in, size_t in_len, size_t l3, const struct encap_spec *e, __u8 *out);

#endif /* SELFTESTS_PKT_H */
