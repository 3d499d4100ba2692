// SPDX-License-Identifier: GPL-2.0
/* gen_seeds.c - write fuzz_packet's seed frames (pkt.c golden packets to the
 * VIPs fuzz_packet.c sets up) into the directory named on the command line. */
#include <netinet/in.h>
#include <stdio.h>

#include "pkt.h"

/* A client's packet to VIP address d, protocol p, ports sp -> dp. */
#define V4(d, p, sp, dp)                                                                           \
	.family = 4, .src = "192.0.2.1", .dst = d, .proto = p, .sport = sp, .dport = dp
#define V6(d, p, sp, dp)                                                                           \
	.family = 6, .src = "2001:db8::1", .dst = d, .proto = p, .sport = sp, .dport = dp

static const struct {
	const char *name;
	struct pkt_spec s;
} SEEDS[] = {
	{ "l2_tcp4_syn", { V4("10.0.0.100", IPPROTO_TCP, 1234, 80), .tcp_flags = 0x02,
			   .payload = 16 } },
	{ "l2_udp4_vlan", { V4("10.0.0.100", IPPROTO_UDP, 1234, 53), .payload = 8,
			    .vlan = true, .vlan_tci = 7 } },
	{ "l2_tcp4_opts", { V4("10.0.0.100", IPPROTO_TCP, 1, 80), .tcp_flags = 0x10,
			    .ip_opts = 8 } },
	{ "l2_tcp6_ack", { V6("fd00::100", IPPROTO_TCP, 5, 80), .tcp_flags = 0x10,
			   .payload = 4 } },
	{ "ipip4_syn", { V4("10.0.0.101", IPPROTO_TCP, 99, 80), .tcp_flags = 0x02,
			 .df = true } },
	{ "ipip6_syn", { V6("fd00::101", IPPROTO_TCP, 99, 80), .tcp_flags = 0x02 } },
	{ "ipip4in6_wild", { V4("10.0.0.102", IPPROTO_TCP, 9, 8080),
			     .tcp_flags = 0x02 } },
	{ "gue4_udp", { V4("10.0.0.101", IPPROTO_UDP, 7, 53), .payload = 20 } },
	{ "gue6_udp", { V6("fd00::101", IPPROTO_UDP, 7, 53), .payload = 20 } },
	{ "gue6in4_wild", { V6("fd00::102", IPPROTO_UDP, 7, 5353) } },
	{ "gue4_big_df", { V4("10.0.0.101", IPPROTO_UDP, 7, 53), .payload = 1450,
			   .df = true } },
	{ "echo4", { V4("10.0.0.100", IPPROTO_ICMP, 0, 0), .icmp_type = 8, .payload = 8 } },
	{ "echo6", { V6("fd00::100", IPPROTO_ICMPV6, 0, 0), .icmp_type = 128,
		     .payload = 8 } },
	{ "frag4", { V4("10.0.0.100", IPPROTO_UDP, 1, 53), .frag = 0x2000 } },
	{ "frag6", { V6("fd00::101", IPPROTO_UDP, 1, 53), .frag6 = true } },
	{ "down_tcp4", { V4("10.0.0.103", IPPROTO_TCP, 1, 80), .tcp_flags = 0x02 } },
	{ "notvip_tcp4", { V4("10.9.9.9", IPPROTO_TCP, 1, 80), .tcp_flags = 0x02 } },
};

int main(int argc, char **argv)
{
	__u8 buf[PKT_MAX];
	char path[512];
	size_t i, len;
	FILE *f;

	if (argc != 2) {
		fprintf(stderr, "usage: gen_seeds DIR\n");
		return 2;
	}
	for (i = 0; i < sizeof(SEEDS) / sizeof(SEEDS[0]); i++) {
		len = pkt_build(&SEEDS[i].s, buf);
		snprintf(path, sizeof(path), "%s/%s", argv[1], SEEDS[i].name);
		f = fopen(path, "wb");
		if (!f || fwrite(buf, 1, len, f) != len || fclose(f)) {
			perror(path);
			return 1;
		}
	}
	return 0;
}
