// SPDX-License-Identifier: GPL-2.0
/* gen_seeds.c - write fuzz_packet's seed frames (pkt.c golden packets to the
 * VIPs fuzz_packet.c sets up) into the directory named first on the command
 * line, and fuzz_decap's (the frames test_decap.c checks: each kind of
 * encapsulation to lbdecap's VIPs, and ones it passes or drops) into the
 * second, if there is one. */
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "pkt.h"
#include "xdplb.h"

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

static int write_seed(const char *dir, const char *name, const __u8 *buf, size_t len)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f || fwrite(buf, 1, len, f) != len || fclose(f)) {
		perror(path);
		return -1;
	}
	return 0;
}

/* fuzz_decap: the forwarder's encapsulations of a client's packet to the
 * VIPs fuzz_decap.c configures (10.0.0.100, fd00::100), to the loopback
 * device's MAC (all zero) that BPF_PROG_TEST_RUN gives the packet. */
static const struct {
	const char *name;
	int outer, inner;
	bool gue;
	const char *dst; /* inner destination; NULL: the VIP */
	int edit;	 /* what to break after building (below) */
} DECAP[] = {
	{ "ipip_4in4", 4, 4, false, NULL, 0 },	{ "ipip_6in6", 6, 6, false, NULL, 0 },
	{ "ipip_4in6", 6, 4, false, NULL, 0 },	{ "ipip_6in4", 4, 6, false, NULL, 0 },
	{ "gue_4in4", 4, 4, true, NULL, 0 },	{ "gue_6in6", 6, 6, true, NULL, 0 },
	{ "gue_4in6", 6, 4, true, NULL, 0 },	{ "gue_6in4", 4, 6, true, NULL, 0 },
	{ "not_vip4", 4, 4, false, "10.0.0.101", 0 },
	{ "not_vip6", 6, 6, true, "fd00::101", 0 },
	{ "gue_variant0", 4, 4, true, NULL, 1 },
	{ "outer_bad_csum", 4, 4, false, NULL, 2 },
	{ "inner_short", 4, 4, false, NULL, 3 },
	{ "padded_4in4", 4, 4, false, NULL, 4 },
	{ "csum0_gue_6in4", 4, 6, true, NULL, 5 },
};

static size_t decap_seed(int i, __u8 *out)
{
	static const __u8 host[6] = { 0 };
	struct pkt_spec s = { .family = DECAP[i].inner, .proto = i % 2 ? IPPROTO_UDP : IPPROTO_TCP,
			      .sport = 40001, .dport = 80, .tcp_flags = 0x02, .payload = 20,
			      .df = true };
	struct encap_spec e = { .outer_family = DECAP[i].outer, .dmac = host, .smac = MAC_GW,
				.gue = DECAP[i].gue, .gue_sport = 0xc123,
				.gue_dport = XDPLB_GUE_PORT, .flow_label = 0x12345 };
	__u8 plain[PKT_MAX];
	size_t len;

	s.src = s.family == 4 ? "192.0.2.33" : "2001:db8::33";
	s.dst = DECAP[i].dst ? DECAP[i].dst : s.family == 4 ? "10.0.0.100" : "fd00::100";
	e.outer_src = e.outer_family == 4 ? "10.0.0.2" : "fd00::2";
	e.outer_dst = e.outer_family == 4 ? "10.1.0.1" : "fd01::1";
	len = pkt_encap(plain, pkt_build(&s, plain), 14, &e, out);
	switch (DECAP[i].edit) {
	case 1: /* a GUE header (version 0) where the inner IP header starts */
		out[14 + 28] = 0x01;
		break;
	case 2:
		out[14 + 10] ^= 0x01;
		break;
	case 3: /* inner tot_len one short of the outer payload: dropped */
		out[14 + 20 + 3] -= 1;
		break;
	case 4: /* Ethernet padding after the outer packet */
		memset(out + len, 0, 8);
		len += 8;
		break;
	case 5: /* outer checksum zero: fuzz_decap fills it in (fix_csum) */
		out[14 + 10] = out[14 + 11] = 0;
		break;
	}
	return len;
}

int main(int argc, char **argv)
{
	__u8 buf[PKT_MAX];
	size_t i;

	if (argc != 2 && argc != 3) {
		fprintf(stderr, "usage: gen_seeds PACKET_DIR [DECAP_DIR]\n");
		return 2;
	}
	for (i = 0; i < sizeof(SEEDS) / sizeof(SEEDS[0]); i++)
		if (write_seed(argv[1], SEEDS[i].name, buf, pkt_build(&SEEDS[i].s, buf)))
			return 1;
	for (i = 0; argc == 3 && i < sizeof(DECAP) / sizeof(DECAP[0]); i++)
		if (write_seed(argv[2], DECAP[i].name, buf, decap_seed((int)i, buf)))
			return 1;
	return 0;
}
