// SPDX-License-Identifier: GPL-2.0
/* test_fwd_encap.c - golden packets for ipip and gue, hashed outer source,
 * and "fragmentation needed" / "packet too big" when encapsulation won't fit. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>

#include "test_progs.h"
#include "counters.h"
#include "fixture.h"

static const char *BE4[3] = { "10.1.0.1", "10.1.0.2", "10.1.0.3" };
static const char *BE6[3] = { "fd01::1", "fd01::2", "fd01::3" };

struct evip {
	int family;
	const char *addr;
	__u16 port;
	__u8 proto, method;
	__u32 flags;
	int be_family;
};

/* VIP i uses backend ids 10*i+1 .. 10*i+3 and ring slot 2*i. */
static const struct evip EVIPS[] = {
	{ 4, "10.0.0.100", 80, IPPROTO_TCP, XDPLB_METHOD_IPIP, 0, 4 },  /* 4in4 */
	{ 6, "fd00::100", 80, IPPROTO_TCP, XDPLB_METHOD_IPIP, 0, 6 },   /* 6in6 */
	{ 4, "10.0.0.102", 80, IPPROTO_TCP, XDPLB_METHOD_IPIP, 0, 6 },  /* 4in6 */
	{ 4, "10.0.0.100", 53, IPPROTO_UDP, XDPLB_METHOD_GUE, 0, 4 },
	{ 6, "fd00::100", 53, IPPROTO_UDP, XDPLB_METHOD_GUE, 0, 6 },
	{ 4, "10.0.0.105", 80, IPPROTO_TCP, XDPLB_METHOD_IPIP, XDPLB_VIP_F_HASH_SRC, 4 },
	{ 6, "fd00::105", 80, IPPROTO_TCP, XDPLB_METHOD_GUE, XDPLB_VIP_F_HASH_SRC, 6 },
	{ 4, "10.0.0.100", 443, IPPROTO_TCP, XDPLB_METHOD_GUE, 0, 4 },
};
#define N_EVIPS (int)(sizeof(EVIPS) / sizeof(EVIPS[0]))

static bool setup_encap(struct dp *dp)
{
	int err = fix_open(dp), i, j;

	if (!ASSERT_OK(err, "fix_open"))
		return false;
	for (i = 0; i < N_EVIPS && !err; i++) {
		const struct evip *v = &EVIPS[i];
		__u32 ids[3];

		err |= fix_vip(dp, v->family, v->addr, v->port, v->proto, v->method, i, v->flags);
		for (j = 0; j < 3; j++) {
			ids[j] = 10 * i + j + 1;
			err |= fix_backend(dp, ids[j], i, v->be_family,
					   v->be_family == 4 ? BE4[j] : BE6[j], MAC_GW, true);
		}
		err |= fix_ring(dp, 2 * i, ids, 3);
	}
	return ASSERT_OK(err, "setup");
}

static struct pkt_spec spec_for(int vip, __u16 sport, __u16 payload)
{
	const struct evip *v = &EVIPS[vip];
	struct pkt_spec s = { .family = v->family, .dst = v->addr, .proto = v->proto,
			      .sport = sport, .dport = v->port, .tcp_flags = 0x02,
			      .payload = payload, .df = true, .tos = 0x28 };

	s.src = v->family == 4 ? "192.0.2.33" : "2001:db8::33";
	return s;
}

/* Outer source for a hashed-source VIP: the fixture's prefix with the
 * flow hash in the host bits (0.0.0.255 for IPv4, ::ffff for IPv6). */
static void hashed_src(int family, __u32 hash, char *buf, size_t len)
{
	if (family == 4)
		snprintf(buf, len, "10.0.0.%u", hash & 0xff);
	else
		snprintf(buf, len, "fd00::%x", hash & 0xffff);
}

static void expect_encap(struct dp *dp, int vip, const struct pkt_spec *s, const char *name)
{
	const struct evip *v = &EVIPS[vip];
	__u8 in[PKT_MAX], out[PKT_MAX], exp[PKT_MAX];
	size_t len = pkt_build(s, in), out_len = 0, exp_len;
	__u32 hash = fix_hash(s);
	int be = fix_ring_index(s, 3);
	char src[64];
	struct encap_spec e = {
		.outer_family = v->be_family,
		.outer_src = v->be_family == 4 ? FIX_SRC4 : FIX_SRC6,
		.outer_dst = v->be_family == 4 ? BE4[be] : BE6[be],
		.dmac = MAC_GW, .smac = MAC_LB,
		.gue = v->method == XDPLB_METHOD_GUE,
		.gue_sport = 0xc000 | (hash & 0x3fff), .gue_dport = XDPLB_GUE_PORT,
		.flow_label = hash & 0xfffff,
	};

	if (v->flags & XDPLB_VIP_F_HASH_SRC) {
		hashed_src(v->be_family, hash, src, sizeof(src));
		e.outer_src = src;
	}
	exp_len = pkt_encap(in, len, s->vlan ? 18 : 14, &e, exp);
	ASSERT_EQ(fix_run(dp, in, len, out, &out_len), XDP_TX, name);
	ASSERT_MEMEQ(out, out_len, exp, exp_len, name);
}

TEST(fwd_encap)
{
	struct pkt_spec s;
	struct xdplb_counters c;
	struct xdplb_stats st;
	struct dp dp;

	if (!setup_encap(&dp))
		return;
	test__start_subtest("ipip_4in4_tcp");
	s = spec_for(0, 1000, 100);
	expect_encap(&dp, 0, &s, "4in4");
	{
		const __u32 ids[] = { 1, 2, 3 };

		ASSERT_OK(fix_counters(&dp, 0, ids, 3, &c, 0, NULL), "counters");
	}
	ASSERT_EQ(c.packets, 1, "vip packets");
	ASSERT_EQ(c.bytes, 14 + 20 + 20 + 100, "vip bytes (ingress frame)");

	test__start_subtest("ipip_6in6_tcp");
	s = spec_for(1, 1001, 100);
	expect_encap(&dp, 1, &s, "6in6");

	test__start_subtest("ipip_4in6_tcp");
	s = spec_for(2, 1002, 7);
	expect_encap(&dp, 2, &s, "4in6");

	test__start_subtest("ipip_df_clear_copied");
	s = spec_for(0, 1003, 10);
	s.df = false;
	expect_encap(&dp, 0, &s, "4in4 without DF");

	test__start_subtest("gue_udp4");
	s = spec_for(3, 1004, 64);
	expect_encap(&dp, 3, &s, "gue v4");

	test__start_subtest("gue_udp6");
	s = spec_for(4, 1005, 64);
	expect_encap(&dp, 4, &s, "gue v6");

	test__start_subtest("gue_tcp4");
	s = spec_for(7, 1006, 1);
	expect_encap(&dp, 7, &s, "gue tcp v4");

	test__start_subtest("hashed_source_v4");
	s = spec_for(5, 1007, 0);
	expect_encap(&dp, 5, &s, "ipip hashed source");
	s.sport = 1008;
	expect_encap(&dp, 5, &s, "ipip hashed source, other flow");

	test__start_subtest("hashed_source_v6_gue");
	s = spec_for(6, 1009, 0);
	expect_encap(&dp, 6, &s, "gue v6 hashed source");

	test__start_subtest("vlan_ipip");
	s = spec_for(0, 1010, 30);
	s.vlan = true;
	s.vlan_tci = 7;
	expect_encap(&dp, 0, &s, "vlan 4in4");

	test__start_subtest("vlan_gue6");
	s = spec_for(4, 1011, 30);
	s.vlan = true;
	s.vlan_tci = 4094;
	expect_encap(&dp, 4, &s, "vlan gue v6");

	test__start_subtest("ipv4_options_ipip");
	s = spec_for(0, 1012, 30);
	s.ip_opts = 40;
	expect_encap(&dp, 0, &s, "options 4in4");

	test__start_subtest("largest_that_fits");
	s = spec_for(0, 1013, FIX_MTU - 20 - 40); /* ip_len + 20 == MTU */
	expect_encap(&dp, 0, &s, "exactly MTU");
	ASSERT_OK(counters_global(&dp, &st), "stats");
	ASSERT_EQ(st.v[XDPLB_STAT_ICMP_PTB_SENT], 0, "no PTB yet");
	dp_close(&dp);
}

/* Build the expected ICMP frag-needed reply to frame `in` independently. */
static size_t expect_frag_needed(const __u8 *in, __u8 *exp, __u16 mtu)
{
	const __u8 *ip = in + 14;
	size_t ihl = (ip[0] & 0xf) * 4, q = ihl + 8;
	__u8 *o = exp + 14, *ic = exp + 34;
	__u16 c;

	memcpy(exp, in + 6, 6);
	memcpy(exp + 6, in, 6);
	exp[12] = 0x08;
	exp[13] = 0x00;
	memset(o, 0, 20);
	o[0] = 0x45;
	o[2] = (__u8)((28 + q) >> 8);
	o[3] = (__u8)(28 + q);
	o[8] = 64;
	o[9] = IPPROTO_ICMP;
	memcpy(o + 12, ip + 16, 4); /* from the VIP */
	memcpy(o + 16, ip + 12, 4); /* to the client */
	c = pkt_csum(o, 20, 0);
	memcpy(o + 10, &c, 2);
	memset(ic, 0, 8);
	ic[0] = 3;
	ic[1] = 4;
	ic[6] = (__u8)(mtu >> 8);
	ic[7] = (__u8)mtu;
	memcpy(ic + 8, ip, q);
	c = pkt_csum(ic, 8 + q, 0);
	memcpy(ic + 2, &c, 2);
	return 14 + 28 + q;
}

static size_t expect_pkt_too_big(const __u8 *in, __u8 *exp, __u32 mtu)
{
	const __u8 *ip = in + 14;
	__u8 *o = exp + 14, *ic = exp + 54;
	__u32 sum;
	__u16 c;

	memcpy(exp, in + 6, 6);
	memcpy(exp + 6, in, 6);
	exp[12] = 0x86;
	exp[13] = 0xdd;
	memset(o, 0, 40);
	o[0] = 0x60;
	o[5] = 56;
	o[6] = IPPROTO_ICMPV6;
	o[7] = 64;
	memcpy(o + 8, ip + 24, 16);
	memcpy(o + 24, ip + 8, 16);
	memset(ic, 0, 8);
	ic[0] = 2;
	ic[4] = (__u8)(mtu >> 24);
	ic[5] = (__u8)(mtu >> 16);
	ic[6] = (__u8)(mtu >> 8);
	ic[7] = (__u8)mtu;
	memcpy(ic + 8, ip, 48);
	sum = pkt_csum_partial(o + 8, 32, 0) + 56 + IPPROTO_ICMPV6;
	c = pkt_csum(ic, 56, sum);
	memcpy(ic + 2, &c, 2);
	return 14 + 40 + 56;
}

TEST(fwd_too_big)
{
	__u8 in[PKT_MAX], out[PKT_MAX], exp[PKT_MAX];
	size_t len, out_len, exp_len;
	struct pkt_spec s;
	struct xdplb_stats st;
	struct dp dp;

	if (!setup_encap(&dp))
		return;
	test__start_subtest("ipv4_df_frag_needed");
	s = spec_for(0, 2000, FIX_MTU - 20 - 40 + 1);
	len = pkt_build(&s, in);
	exp_len = expect_frag_needed(in, exp, FIX_MTU - 20);
	ASSERT_EQ(fix_run(&dp, in, len, out, &out_len), XDP_TX, "frag needed sent");
	ASSERT_MEMEQ(out, out_len, exp, exp_len, "frag needed");

	test__start_subtest("ipv4_options_quoted");
	s.ip_opts = 8;
	len = pkt_build(&s, in);
	exp_len = expect_frag_needed(in, exp, FIX_MTU - 20);
	ASSERT_EQ(fix_run(&dp, in, len, out, &out_len), XDP_TX, "frag needed sent");
	ASSERT_MEMEQ(out, out_len, exp, exp_len, "frag needed quoting options");

	test__start_subtest("gue_v4_overhead");
	s = spec_for(7, 2001, FIX_MTU - 28 - 40 + 1);
	len = pkt_build(&s, in);
	exp_len = expect_frag_needed(in, exp, FIX_MTU - 28);
	ASSERT_EQ(fix_run(&dp, in, len, out, &out_len), XDP_TX, "gue frag needed");
	ASSERT_MEMEQ(out, out_len, exp, exp_len, "gue frag needed");

	test__start_subtest("ipv6_packet_too_big");
	s = spec_for(1, 2002, FIX_MTU - 40 - 60 + 1);
	len = pkt_build(&s, in);
	exp_len = expect_pkt_too_big(in, exp, FIX_MTU - 40);
	ASSERT_EQ(fix_run(&dp, in, len, out, &out_len), XDP_TX, "PTB sent");
	ASSERT_MEMEQ(out, out_len, exp, exp_len, "packet too big");

	test__start_subtest("ipv4_no_df_dropped");
	s = spec_for(0, 2003, FIX_MTU);
	s.df = false;
	len = pkt_build(&s, in);
	ASSERT_EQ(fix_run(&dp, in, len, out, &out_len), XDP_DROP, "too big, DF clear");
	ASSERT_OK(counters_global(&dp, &st), "stats");
	ASSERT_EQ(st.v[XDPLB_STAT_ICMP_PTB_SENT], 4, "PTB counted");
	ASSERT_EQ(st.v[XDPLB_STAT_DROP_TOO_BIG], 1, "too_big counted");
	dp_close(&dp);
}
