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

#define LOOKUP_L4_LEN 20 /* a TCP header; a datagram as long, as most are */

_Static_assert(sizeof(struct ethhdr) + sizeof(struct ipv6hdr) + LOOKUP_L4_LEN <= LOOKUP_PKT_MAX,
	       "LOOKUP_PKT_MAX");

/* The L4 header: a SYN (the question is where a new connection goes; a
 * known flow's entry answers a SYN as it answers its other packets), or
 * a datagram.  Checksums stay 0: the forwarder does not read them, and the
 * packet never leaves the test run.  Headers are built aligned and copied
 * in: behind the 14-byte Ethernet header they are not. */
static void put_l4(__u8 *l4, const struct xdplb_vip_key *vip, __u16 client_port)
{
	struct tcphdr th;
	struct udphdr uh;

	memset(l4, 0, LOOKUP_L4_LEN);
	if (vip->proto == IPPROTO_TCP) {
		memset(&th, 0, sizeof(th));
		th.source = htons(client_port);
		th.dest = vip->port;
		th.doff = 5;
		th.syn = 1;
		th.window = htons(65535);
		memcpy(l4, &th, sizeof(th));
		return;
	}
	memset(&uh, 0, sizeof(uh));
	uh.source = htons(client_port);
	uh.dest = vip->port;
	uh.len = htons(LOOKUP_L4_LEN);
	memcpy(l4, &uh, sizeof(uh));
}

size_t lookup_build(const struct xdplb_vip_key *vip, const union xdplb_addr *client,
		    __u16 client_port, __u8 *buf)
{
	struct ethhdr eth;
	struct iphdr iph;
	struct ipv6hdr ip6;
	__u8 *l3 = buf + sizeof(eth);

	memset(buf, 0, LOOKUP_PKT_MAX);
	memset(&eth, 0, sizeof(eth));
	if (vip->family == XDPLB_AF_INET) {
		eth.h_proto = htons(ETH_P_IP);
		memset(&iph, 0, sizeof(iph));
		iph.version = 4;
		iph.ihl = 5;
		iph.tot_len = htons(sizeof(iph) + LOOKUP_L4_LEN);
		iph.frag_off = htons(0x4000); /* DF */
		iph.ttl = 64;
		iph.protocol = vip->proto;
		iph.saddr = client->v4;
		iph.daddr = vip->addr.v4;
		memcpy(buf, &eth, sizeof(eth));
		memcpy(l3, &iph, sizeof(iph));
		put_l4(l3 + sizeof(iph), vip, client_port);
		return sizeof(eth) + sizeof(iph) + LOOKUP_L4_LEN;
	}
	eth.h_proto = htons(ETH_P_IPV6);
	memset(&ip6, 0, sizeof(ip6));
	ip6.version = 6;
	ip6.payload_len = htons(LOOKUP_L4_LEN);
	ip6.nexthdr = vip->proto;
	ip6.hop_limit = 64;
	memcpy(&ip6.saddr, client->v6, 16);
	memcpy(&ip6.daddr, vip->addr.v6, 16);
	memcpy(buf, &eth, sizeof(eth));
	memcpy(l3, &ip6, sizeof(ip6));
	put_l4(l3 + sizeof(ip6), vip, client_port);
	return sizeof(eth) + sizeof(ip6) + LOOKUP_L4_LEN;
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
