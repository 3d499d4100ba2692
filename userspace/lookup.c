// SPDX-License-Identifier: GPL-2.0
/* lookup.c - ask the forwarder which backend a flow goes to (lookup.h). */
#include <errno.h>
#include <string.h>
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf.h>

#include "lookup.h"

#define LOOKUP_TCP_SYN 0x02
#define LOOKUP_L4_LEN  20 /* a TCP header; a datagram as long, as most are */

_Static_assert(sizeof(struct ethhdr) + sizeof(struct ipv6hdr) + LOOKUP_L4_LEN <= LOOKUP_PKT_MAX,
	       "LOOKUP_PKT_MAX");

/* The L4 header: a SYN (the question is where a new connection goes; a
 * known flow's entry answers a SYN as it answers its other packets), or
 * a datagram.  Checksums stay 0: the forwarder does not read them, and the
 * packet never leaves the test run. */
static void put_l4(__u8 *l4, const struct xdplb_vip_key *vip, __u16 client_port)
{
	struct tcphdr *th = (struct tcphdr *)l4;
	struct udphdr *uh = (struct udphdr *)l4;

	memset(l4, 0, LOOKUP_L4_LEN);
	if (vip->proto == IPPROTO_TCP) {
		th->source = htons(client_port);
		th->dest = vip->port;
		th->doff = 5;
		l4[13] = LOOKUP_TCP_SYN;
		th->window = htons(65535);
		return;
	}
	uh->source = htons(client_port);
	uh->dest = vip->port;
	uh->len = htons(LOOKUP_L4_LEN);
}

size_t lookup_build(const struct xdplb_vip_key *vip, const union xdplb_addr *client,
		    __u16 client_port, __u8 *buf)
{
	struct ethhdr *eth = (struct ethhdr *)buf;
	struct iphdr *iph = (struct iphdr *)(eth + 1);
	struct ipv6hdr *ip6 = (struct ipv6hdr *)(eth + 1);
	size_t len;

	memset(buf, 0, LOOKUP_PKT_MAX);
	if (vip->family == XDPLB_AF_INET) {
		len = sizeof(*eth) + sizeof(*iph) + LOOKUP_L4_LEN;
		eth->h_proto = htons(ETH_P_IP);
		iph->version = 4;
		iph->ihl = 5;
		iph->tot_len = htons(sizeof(*iph) + LOOKUP_L4_LEN);
		iph->frag_off = htons(0x4000); /* DF */
		iph->ttl = 64;
		iph->protocol = vip->proto;
		iph->saddr = client->v4;
		iph->daddr = vip->addr.v4;
		put_l4((__u8 *)(iph + 1), vip, client_port);
		return len;
	}
	len = sizeof(*eth) + sizeof(*ip6) + LOOKUP_L4_LEN;
	eth->h_proto = htons(ETH_P_IPV6);
	ip6->version = 6;
	ip6->payload_len = htons(LOOKUP_L4_LEN);
	ip6->nexthdr = vip->proto;
	ip6->hop_limit = 64;
	memcpy(&ip6->saddr, client->v6, 16);
	memcpy(&ip6->daddr, vip->addr.v6, 16);
	put_l4((__u8 *)(ip6 + 1), vip, client_port);
	return len;
}

int lookup_packet(int prog_fd, const __u8 *pkt, size_t len, struct xdplb_lookup *out)
{
	__u8 res[sizeof(*out) + LOOKUP_PKT_MAX];
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt, .data_size_in = (__u32)len,
		    .data_out = res, .data_size_out = sizeof(res), .repeat = 1);

	if (len > LOOKUP_PKT_MAX)
		return -EINVAL;
	if (bpf_prog_test_run_opts(prog_fd, &o))
		return -errno;
	/* the verdict is the metadata in front of the packet it ran on */
	if (o.data_size_out != sizeof(*out) + len)
		return -EPROTO;
	memcpy(out, res, sizeof(*out));
	return out->action == o.retval ? 0 : -EPROTO;
}

int lookup_flow(int prog_fd, const struct xdplb_vip_key *vip, const union xdplb_addr *client,
		__u16 client_port, struct xdplb_lookup *out)
{
	__u8 pkt[LOOKUP_PKT_MAX];
	size_t len = lookup_build(vip, client, client_port, pkt);

	return lookup_packet(prog_fd, pkt, len, out);
}

const char *lookup_from_name(__u32 from)
{
	switch (from) {
	case XDPLB_FROM_ESTABLISHED:
		return "flow table";
	case XDPLB_FROM_HALF_OPEN:
		return "flow table (half-open)";
	case XDPLB_FROM_RING:
		return "ring";
	default:
		return "none";
	}
}
