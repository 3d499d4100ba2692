// SPDX-License-Identifier: GPL-2.0
/* test_fwd_icmp.c - golden packets: echo replies from a VIP, ICMP errors
 * routed by the flow they quote, fragments, truncated and malformed frames. */
#include <arpa/inet.h>
#include <netinet/in.h>

#include "test_progs.h"
#include "counters.h"
#include "fixture.h"

#define VIP4 "10.0.0.100"
#define VIP6 "fd00::100"
#define CLIENT4 "192.0.2.44"
#define CLIENT6 "2001:db8::44"
static const __u32 IDS4[3] = { 1, 2, 3 }, IDS6[3] = { 11, 12, 13 };

static bool setup(struct dp *dp)
{
	static const char *be4[3] = { "10.0.1.1", "10.0.1.2", "10.0.1.3" };
	static const char *be6[3] = { "fd00:1::1", "fd00:1::2", "fd00:1::3" };
	int err = fix_open(dp), i;

	if (!ASSERT_OK(err, "fix_open"))
		return false;
	err |= fix_vip(dp, 4, VIP4, 80, IPPROTO_TCP, XDPLB_METHOD_L2, 0, 0);
	err |= fix_vip(dp, 6, VIP6, 80, IPPROTO_TCP, XDPLB_METHOD_L2, 1, 0);
	for (i = 0; i < 3; i++) {
		err |= fix_backend(dp, IDS4[i], 0, 4, be4[i], MAC_BE[i], true);
		err |= fix_backend(dp, IDS6[i], 1, 6, be6[i], MAC_BE[i], true);
	}
	err |= fix_ring(dp, 0, IDS4, 3);
	err |= fix_ring(dp, 2, IDS6, 3);
	return ASSERT_OK(err, "setup");
}

static __u64 stat(struct dp *dp, int idx)
{
	struct xdplb_stats st;

	return counters_global(dp, &st) ? ~0ull : st.v[idx];
}

static void swap_macs(__u8 *frame)
{
	__u8 t[6];

	memcpy(t, frame, 6);
	memcpy(frame, frame + 6, 6);
	memcpy(frame + 6, t, 6);
}

TEST(fwd_icmp_echo)
{
	struct pkt_spec req = { .family = 4, .src = CLIENT4, .dst = VIP4, .proto = IPPROTO_ICMP,
				.icmp_type = 8, .payload = 56, .ttl = 50 };
	struct pkt_spec rep = { .family = 4, .src = VIP4, .dst = CLIENT4, .proto = IPPROTO_ICMP,
				.icmp_type = 0, .payload = 56 };
	__u8 in[PKT_MAX], out[PKT_MAX], exp[PKT_MAX];
	size_t len, out_len, exp_len;
	struct dp dp;

	if (!setup(&dp))
		return;
	test__start_subtest("echo_v4");
	len = pkt_build(&req, in);
	exp_len = pkt_build(&rep, exp);
	swap_macs(exp);
	ASSERT_EQ(fix_run(&dp, in, len, out, &out_len), XDP_TX, "echo reply sent");
	ASSERT_MEMEQ(out, out_len, exp, exp_len, "echo reply v4");

	test__start_subtest("echo_v6");
	req = (struct pkt_spec){ .family = 6, .src = CLIENT6, .dst = VIP6,
				 .proto = IPPROTO_ICMPV6, .icmp_type = 128, .payload = 56,
				 .ttl = 3 };
	rep = (struct pkt_spec){ .family = 6, .src = VIP6, .dst = CLIENT6,
				 .proto = IPPROTO_ICMPV6, .icmp_type = 129, .payload = 56 };
	len = pkt_build(&req, in);
	exp_len = pkt_build(&rep, exp);
	swap_macs(exp);
	ASSERT_EQ(fix_run(&dp, in, len, out, &out_len), XDP_TX, "echo reply sent");
	ASSERT_MEMEQ(out, out_len, exp, exp_len, "echo reply v6");
	ASSERT_EQ(stat(&dp, XDPLB_STAT_ICMP_ECHO), 2, "echo counted");

	test__start_subtest("echo_vlan");
	req = (struct pkt_spec){ .family = 4, .src = CLIENT4, .dst = VIP4, .proto = IPPROTO_ICMP,
				 .icmp_type = 8, .payload = 8, .vlan = true, .vlan_tci = 5 };
	rep = (struct pkt_spec){ .family = 4, .src = VIP4, .dst = CLIENT4, .proto = IPPROTO_ICMP,
				 .icmp_type = 0, .payload = 8, .vlan = true, .vlan_tci = 5 };
	len = pkt_build(&req, in);
	exp_len = pkt_build(&rep, exp);
	swap_macs(exp);
	ASSERT_EQ(fix_run(&dp, in, len, out, &out_len), XDP_TX, "echo reply sent");
	ASSERT_MEMEQ(out, out_len, exp, exp_len, "echo reply vlan");
	dp_close(&dp);
}

/* An ICMP error from a router about the backend's reply VIP:80 -> client. */
static size_t build_icmp_error(int family, __u16 client_port, __u8 type, __u8 code, __u8 *frame)
{
	struct pkt_spec reply = { .family = family, .src = family == 4 ? VIP4 : VIP6,
				  .dst = family == 4 ? CLIENT4 : CLIENT6, .proto = IPPROTO_TCP,
				  .sport = 80, .dport = client_port, .tcp_flags = 0x10,
				  .payload = 1400, .df = true };
	__u8 quoted[PKT_MAX], l4[PKT_MAX];
	size_t qlen = pkt_build_ip(&reply, quoted), keep = family == 4 ? 28 : 48;
	struct pkt_spec err = { .family = family, .src = family == 4 ? "192.0.2.254" : "2001:db8::fe",
				.dst = family == 4 ? VIP4 : VIP6,
				.proto = family == 4 ? IPPROTO_ICMP : IPPROTO_ICMPV6,
				.l4 = l4, .l4_len = 8 + keep };
	__u16 c;

	(void)qlen;
	memset(l4, 0, 8);
	l4[0] = type;
	l4[1] = code;
	l4[6] = 0x05; /* MTU 1400 / 0x0578 */
	l4[7] = 0x78;
	memcpy(l4 + 8, quoted, keep); /* a router quotes little: 8 bytes of L4 */
	if (family == 4) {
		c = pkt_csum(l4, 8 + keep, 0);
		memcpy(l4 + 2, &c, 2);
	}
	return pkt_build(&err, frame);
}

TEST(fwd_icmp_error)
{
	struct pkt_spec ack = { .family = 4, .src = CLIENT4, .dst = VIP4, .proto = IPPROTO_TCP,
				.sport = 33000, .dport = 80, .tcp_flags = 0x10 };
	__u8 in[PKT_MAX], out[PKT_MAX], exp[PKT_MAX];
	size_t len, out_len;
	int be, other;
	struct dp dp;

	if (!setup(&dp))
		return;
	be = fix_ring_index(&ack, 3);
	other = (be + 1) % 3;

	test__start_subtest("quoted_flow_by_ring");
	len = build_icmp_error(4, 33000, 3, 4, in);
	memcpy(exp, in, len);
	memcpy(exp, MAC_BE[be], 6);
	memcpy(exp + 6, MAC_LB, 6);
	ASSERT_EQ(fix_run(&dp, in, len, out, &out_len), XDP_TX, "forwarded");
	ASSERT_MEMEQ(out, out_len, exp, len, "frag needed to the flow's backend");
	ASSERT_EQ(stat(&dp, XDPLB_STAT_ICMP_ERR_FWD), 1, "icmp_err_fwd counted");
	ASSERT_EQ(stat(&dp, XDPLB_STAT_FLOW_MISS_SYN) + stat(&dp, XDPLB_STAT_FLOW_MISS_NONSYN), 0,
		  "an ICMP error learns no flow");

	test__start_subtest("quoted_flow_by_flow_table");
	len = pkt_build(&ack, in);
	ASSERT_EQ(fix_run(&dp, in, len, out, &out_len), XDP_TX, "learn the flow");
	ASSERT_OK(fix_ring(&dp, 0, &IDS4[other], 1), "ring moves");
	len = build_icmp_error(4, 33000, 11, 0, in);
	memcpy(exp, in, len);
	memcpy(exp, MAC_BE[be], 6);
	memcpy(exp + 6, MAC_LB, 6);
	ASSERT_EQ(fix_run(&dp, in, len, out, &out_len), XDP_TX, "forwarded");
	ASSERT_MEMEQ(out, out_len, exp, len, "time exceeded follows the flow table");

	test__start_subtest("packet_too_big_v6");
	ack.family = 6;
	ack.src = CLIENT6;
	ack.dst = VIP6;
	be = fix_ring_index(&ack, 3);
	len = build_icmp_error(6, 33000, 2, 0, in);
	memcpy(exp, in, len);
	memcpy(exp, MAC_BE[be], 6);
	memcpy(exp + 6, MAC_LB, 6);
	ASSERT_EQ(fix_run(&dp, in, len, out, &out_len), XDP_TX, "forwarded");
	ASSERT_MEMEQ(out, out_len, exp, len, "PTB to the flow's backend");

	test__start_subtest("quoting_no_vip_passes");
	len = build_icmp_error(4, 33000, 3, 4, in);
	in[14 + 20 + 8 + 20] = 0x1f; /* quoted source port 80 -> 8016: no such VIP */
	ASSERT_EQ(fix_run(&dp, in, len, out, &out_len), XDP_PASS, "passed");
	ASSERT_MEMEQ(out, out_len, in, len, "unchanged");
	ASSERT_EQ(stat(&dp, XDPLB_STAT_PASS_ICMP_OTHER), 1, "icmp_other counted");
	dp_close(&dp);
}

TEST(fwd_fragments)
{
	struct pkt_spec s = { .family = 4, .src = CLIENT4, .dst = VIP4, .proto = IPPROTO_TCP,
			      .sport = 1, .dport = 80, .tcp_flags = 0x10, .payload = 100 };
	__u8 in[PKT_MAX], out[PKT_MAX];
	size_t len, out_len;
	struct dp dp;

	if (!setup(&dp))
		return;
	test__start_subtest("first_fragment_v4");
	s.frag = 0x2000; /* MF */
	len = pkt_build(&s, in);
	ASSERT_EQ(fix_run(&dp, in, len, out, &out_len), XDP_DROP, "dropped");
	test__start_subtest("later_fragment_v4");
	s.frag = 0x0010;
	len = pkt_build(&s, in);
	ASSERT_EQ(fix_run(&dp, in, len, out, &out_len), XDP_DROP, "dropped");
	test__start_subtest("fragment_v6");
	s = (struct pkt_spec){ .family = 6, .src = CLIENT6, .dst = VIP6, .proto = IPPROTO_TCP,
			       .sport = 1, .dport = 80, .payload = 10, .frag6 = true };
	len = pkt_build(&s, in);
	ASSERT_EQ(fix_run(&dp, in, len, out, &out_len), XDP_DROP, "dropped");
	ASSERT_EQ(stat(&dp, XDPLB_STAT_DROP_FRAGMENT), 3, "fragments counted");
	test__start_subtest("fragment_not_vip_passes");
	s = (struct pkt_spec){ .family = 4, .src = CLIENT4, .dst = "10.9.9.9",
			       .proto = IPPROTO_UDP, .sport = 1, .dport = 80, .payload = 10,
			       .frag = 0x2000 };
	len = pkt_build(&s, in);
	ASSERT_EQ(fix_run(&dp, in, len, out, &out_len), XDP_PASS, "passed");
	ASSERT_MEMEQ(out, out_len, in, len, "unchanged");
	dp_close(&dp);
}

/* Cut a frame at every length: never TX, and a passed frame is unchanged. */
static void truncate_all(struct dp *dp, const __u8 *in, size_t len, const char *name)
{
	__u8 out[PKT_MAX];
	size_t cut, out_len;
	int act, bad = 0;

	for (cut = 0; cut < len; cut++) {
		act = fix_run(dp, in, cut, out, &out_len);
		if (cut < 14 && act == -1000 - 22)
			continue; /* the kernel refuses frames shorter than Ethernet */
		if (act == XDP_DROP)
			continue;
		if (act != XDP_PASS || out_len != cut || memcmp(in, out, cut)) {
			ASSERT_FAIL_("%s: cut at %zu: action %d", name, cut, act);
			if (++bad > 3)
				break;
		}
	}
}

TEST(fwd_truncated)
{
	struct pkt_spec specs[] = {
		{ .family = 4, .src = CLIENT4, .dst = VIP4, .proto = IPPROTO_TCP, .sport = 9,
		  .dport = 80, .tcp_flags = 2, .ip_opts = 8 },
		{ .family = 6, .src = CLIENT6, .dst = VIP6, .proto = IPPROTO_TCP, .sport = 9,
		  .dport = 80, .tcp_flags = 2, .vlan = true },
		{ .family = 4, .src = CLIENT4, .dst = VIP4, .proto = IPPROTO_ICMP, .icmp_type = 8,
		  .payload = 4 },
	};
	__u8 in[PKT_MAX], out[PKT_MAX], l4[10] = { 0, 9, 0, 80 };
	struct xdplb_stats st;
	size_t len, out_len, i;
	struct pkt_spec s;
	struct dp dp;

	if (!setup(&dp))
		return;
	for (i = 0; i < sizeof(specs) / sizeof(specs[0]); i++) {
		test__start_subtest(i == 0 ? "tcp4_options" : i == 1 ? "tcp6_vlan" : "icmp4");
		len = pkt_build(&specs[i], in);
		truncate_all(&dp, in, len, "cut");
	}
	ASSERT_OK(counters_global(&dp, &st), "stats");
	ASSERT_GT(st.v[XDPLB_STAT_PASS_TRUNCATED] + st.v[XDPLB_STAT_PASS_IP_MALFORMED], 0,
		  "cut frames counted");

	test__start_subtest("short_l4_to_vip_dropped");
	s = (struct pkt_spec){ .family = 4, .src = CLIENT4, .dst = VIP4, .proto = IPPROTO_TCP,
			       .l4 = l4, .l4_len = sizeof(l4) };
	len = pkt_build(&s, in);
	ASSERT_EQ(fix_run(&dp, in, len, out, &out_len), XDP_DROP, "short TCP to a VIP");
	ASSERT_EQ(stat(&dp, XDPLB_STAT_DROP_TRUNCATED), 1, "truncated drop counted");

	test__start_subtest("short_l4_elsewhere_passes");
	s.dst = "10.9.9.9";
	len = pkt_build(&s, in);
	ASSERT_EQ(fix_run(&dp, in, len, out, &out_len), XDP_PASS, "short TCP elsewhere");
	ASSERT_MEMEQ(out, out_len, in, len, "unchanged");

	test__start_subtest("malformed_ipv4");
	s = specs[0];
	len = pkt_build(&s, in);
	in[14] = 0x44; /* IHL 4 */
	ASSERT_EQ(fix_run(&dp, in, len, out, &out_len), XDP_PASS, "IHL < 5");
	in[14] = 0x65; /* version 6 in an IPv4 frame */
	ASSERT_EQ(fix_run(&dp, in, len, out, &out_len), XDP_PASS, "bad version");
	in[14] = 0x47;
	in[17] = 0x10; /* total length below the header length */
	ASSERT_EQ(fix_run(&dp, in, len, out, &out_len), XDP_PASS, "short total length");
	ASSERT_EQ(stat(&dp, XDPLB_STAT_PASS_IP_MALFORMED) >= 3, 1, "malformed counted");
	ASSERT_EQ(stat(&dp, XDPLB_STAT_TX), 0, "nothing forwarded");
	dp_close(&dp);
}
