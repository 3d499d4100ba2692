// SPDX-License-Identifier: GPL-2.0
/* test_decap.c - golden packets for lbdecap (BPF_PROG_TEST_RUN, SCHED_CLS):
 * every encapsulation the forwarder emits, IPv4/IPv6 inner, TCP/UDP, exact
 * output bytes; what must pass unchanged; a frame truncated at every byte;
 * and that each packet moves exactly one counter.
 *
 * Encapsulated input is built by pkt_encap() (the same independent builder
 * the forwarder's golden tests compare against), so these frames are what
 * the forwarder sends.  BPF_PROG_TEST_RUN gives the skb the loopback
 * device, whose MAC is 00:00:00:00:00:00: frames to MAC_HOST are
 * PACKET_HOST, frames to any other unicast MAC are PACKET_OTHERHOST. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/pkt_cls.h>

#include "test_progs.h"
#include "pkt.h"
#include "xdplb_decap.h"
#include "lbdecap.skel.h"

static const __u8 MAC_HOST[6] = { 0 };
#define VIP4 "10.0.0.100"
#define VIP6 "fd00::100"
#define CL4 "192.0.2.33"
#define CL6 "2001:db8::33"

struct kind {
	const char *name;
	int outer, inner;
	bool gue;
	enum lbdecap_stat stat;
};

static const struct kind KINDS[] = {
	{ "ipip_4in4", 4, 4, false, LBDECAP_STAT_IPIP_4IN4 },
	{ "ipip_6in6", 6, 6, false, LBDECAP_STAT_IPIP_6IN6 },
	{ "ipip_4in6", 6, 4, false, LBDECAP_STAT_IPIP_4IN6 },
	{ "ipip_6in4", 4, 6, false, LBDECAP_STAT_IPIP_6IN4 },
	{ "gue_4in4", 4, 4, true, LBDECAP_STAT_GUE_4IN4 },
	{ "gue_6in6", 6, 6, true, LBDECAP_STAT_GUE_6IN6 },
	{ "gue_4in6", 6, 4, true, LBDECAP_STAT_GUE_4IN6 },
	{ "gue_6in4", 4, 6, true, LBDECAP_STAT_GUE_6IN4 },
};
#define N_KINDS (int)(sizeof(KINDS) / sizeof(KINDS[0]))

static int stats_fd, vips_fd;

static bool dc_open(struct lbdecap_bpf **skel)
{
	struct lbdecap_config cfg = { .gue_port = htons(XDPLB_GUE_PORT) };
	struct lbdecap_vip_key k;
	__u32 zero = 0, val = 0;
	int err;

	*skel = lbdecap_bpf__open_and_load();
	if (!ASSERT_OK_PTR(*skel, "lbdecap_bpf__open_and_load"))
		return false;
	stats_fd = bpf_map__fd((*skel)->maps.decap_stats);
	vips_fd = bpf_map__fd((*skel)->maps.decap_vips);
	err = bpf_map_update_elem(bpf_map__fd((*skel)->maps.decap_config), &zero, &cfg, BPF_ANY);
	memset(&k, 0, sizeof(k));
	pkt_addr(4, VIP4, &k.addr);
	k.family = XDPLB_AF_INET;
	err = err ?: bpf_map_update_elem(vips_fd, &k, &val, BPF_NOEXIST);
	memset(&k, 0, sizeof(k));
	pkt_addr(6, VIP6, &k.addr);
	k.family = XDPLB_AF_INET6;
	err = err ?: bpf_map_update_elem(vips_fd, &k, &val, BPF_NOEXIST);
	return ASSERT_OK(err, "maps");
}

static void stats_read(struct lbdecap_stats *sum)
{
	int ncpu = libbpf_num_possible_cpus(), c, i;
	struct lbdecap_stats per[ncpu > 0 ? ncpu : 1];
	__u32 zero = 0;

	memset(sum, 0, sizeof(*sum));
	if (ncpu <= 0 || bpf_map_lookup_elem(stats_fd, &zero, per))
		return;
	for (c = 0; c < ncpu; c++)
		for (i = 0; i < LBDECAP_STAT_MAX; i++)
			sum->v[i] += per[c].v[i];
}

/* Run one frame; returns the TC verdict (or -1000 + error). */
static int run(struct lbdecap_bpf *skel, const __u8 *in, size_t len, __u8 *out, size_t *out_len)
{
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = in, .data_size_in = (__u32)len,
		    .data_out = out, .data_size_out = PKT_MAX, .repeat = 1);
	int err = bpf_prog_test_run_opts(bpf_program__fd(skel->progs.lbdecap), &o);

	if (err)
		return -1000 + err;
	*out_len = o.data_size_out;
	return (int)o.retval;
}

/* Run a frame and check the verdict and that exactly counter `stat` moved,
 * by one.  The output goes to out. */
static bool run_counted(struct lbdecap_bpf *skel, const __u8 *in, size_t len, __u8 *out,
			size_t *out_len, int verdict, enum lbdecap_stat stat, const char *name)
{
	struct lbdecap_stats before, after;
	bool ok = true;
	int i;

	stats_read(&before);
	ok &= ASSERT_EQ(run(skel, in, len, out, out_len), verdict, name);
	stats_read(&after);
	for (i = 0; i < LBDECAP_STAT_MAX; i++)
		ok &= ASSERT_EQ(after.v[i] - before.v[i], i == (int)stat ? 1 : 0, name);
	return ok;
}

static struct pkt_spec inner_spec(int family, __u8 proto, const char *dst, __u16 payload)
{
	struct pkt_spec s = { .family = family, .proto = proto, .sport = 40001, .dport = 80,
			      .tcp_flags = 0x02, .payload = payload, .df = true, .tos = 0x28 };

	s.src = family == 4 ? CL4 : CL6;
	s.dst = dst ? dst : family == 4 ? VIP4 : VIP6;
	return s;
}

/* The frame the forwarder sends for inner packet s, as kind k, to us. */
static size_t encap_frame(const struct kind *k, const struct pkt_spec *s, __u8 *out)
{
	__u8 plain[PKT_MAX];
	size_t len = pkt_build(s, plain);
	struct encap_spec e = {
		.outer_family = k->outer,
		.outer_src = k->outer == 4 ? "10.0.0.2" : "fd00::2",
		.outer_dst = k->outer == 4 ? "10.1.0.1" : "fd01::1",
		.dmac = MAC_HOST, .smac = MAC_GW,
		.gue = k->gue, .gue_sport = 0xc123, .gue_dport = XDPLB_GUE_PORT,
		.flow_label = 0x12345,
	};

	return pkt_encap(plain, len, 14, &e, out);
}

/* What must come out: the outer frame's MACs, the inner packet's type, the
 * inner packet byte for byte. */
static size_t decap_expected(const struct pkt_spec *s, __u8 *out)
{
	memcpy(out, MAC_HOST, 6);
	memcpy(out + 6, MAC_GW, 6);
	out[12] = s->family == 4 ? 0x08 : 0x86;
	out[13] = s->family == 4 ? 0x00 : 0xdd;
	return 14 + pkt_build_ip(s, out + 14);
}

static void expect_decap(struct lbdecap_bpf *skel, const struct kind *k, __u8 proto,
			 __u16 payload)
{
	__u8 in[PKT_MAX], out[PKT_MAX], exp[PKT_MAX];
	struct pkt_spec s = inner_spec(k->inner, proto, NULL, payload);
	size_t len = encap_frame(k, &s, in), out_len = 0, exp_len = decap_expected(&s, exp);
	char name[64];

	snprintf(name, sizeof(name), "%s %s", k->name, proto == IPPROTO_TCP ? "tcp" : "udp");
	if (run_counted(skel, in, len, out, &out_len, TC_ACT_OK, k->stat, name))
		ASSERT_MEMEQ(out, out_len, exp, exp_len, name);
}

/* Frame in must come out as it went in, with counter stat moved. */
static void expect_pass(struct lbdecap_bpf *skel, const __u8 *in, size_t len,
			enum lbdecap_stat stat, const char *name)
{
	__u8 out[PKT_MAX];
	size_t out_len = 0;

	if (run_counted(skel, in, len, out, &out_len, TC_ACT_OK, stat, name))
		ASSERT_MEMEQ(out, out_len, in, len, name);
}

TEST(decap_kinds)
{
	struct lbdecap_bpf *skel;
	int i;

	if (!dc_open(&skel))
		return;
	for (i = 0; i < N_KINDS; i++) {
		test__start_subtest(KINDS[i].name);
		expect_decap(skel, &KINDS[i], IPPROTO_TCP, 100);
		expect_decap(skel, &KINDS[i], IPPROTO_UDP, 33);
		expect_decap(skel, &KINDS[i], IPPROTO_TCP, 0);
		expect_decap(skel, &KINDS[i], IPPROTO_UDP, 1400);
	}
	lbdecap_bpf__destroy(skel);
}

/* Encapsulated for an address that is not a VIP, and packets that are not
 * encapsulated at all, go to the stack byte for byte. */
TEST(decap_pass)
{
	__u8 in[PKT_MAX];
	struct lbdecap_bpf *skel;
	struct pkt_spec s;
	size_t len;
	int i;

	if (!dc_open(&skel))
		return;
	test__start_subtest("inner_not_vip");
	for (i = 0; i < N_KINDS; i++) {
		s = inner_spec(KINDS[i].inner, IPPROTO_TCP, KINDS[i].inner == 4 ? "10.0.0.101"
										 : "fd00::101", 20);
		len = encap_frame(&KINDS[i], &s, in);
		expect_pass(skel, in, len, LBDECAP_STAT_PASS_NOT_VIP, KINDS[i].name);
	}
	test__start_subtest("inner_vip_other_family_slot");
	/* 10.0.0.100 as an IPv6 address's first word is not the IPv4 VIP */
	s = inner_spec(6, IPPROTO_TCP, "a00:64::", 20);
	len = encap_frame(&KINDS[1], &s, in);
	expect_pass(skel, in, len, LBDECAP_STAT_PASS_NOT_VIP, "6in6 to a00:64::");

	test__start_subtest("not_encapsulated");
	s = inner_spec(4, IPPROTO_TCP, NULL, 20); /* straight to the VIP (l2 method) */
	len = pkt_build(&s, in);
	memcpy(in, MAC_HOST, 6);
	expect_pass(skel, in, len, LBDECAP_STAT_PASS_NOT_ENCAP, "tcp4 to the VIP");
	s = inner_spec(6, IPPROTO_UDP, NULL, 20);
	len = pkt_build(&s, in);
	memcpy(in, MAC_HOST, 6);
	expect_pass(skel, in, len, LBDECAP_STAT_PASS_NOT_ENCAP, "udp6 to the VIP");
	s = inner_spec(4, IPPROTO_UDP, NULL, 20);
	len = encap_frame(&KINDS[4], &s, in); /* gue shape, other port */
	in[14 + 22] = (XDPLB_GUE_PORT + 1) >> 8;
	in[14 + 23] = (XDPLB_GUE_PORT + 1) & 0xff;
	expect_pass(skel, in, len, LBDECAP_STAT_PASS_NOT_ENCAP, "udp to another port");

	test__start_subtest("not_ip");
	memset(in, 0, 60);
	memcpy(in + 6, MAC_GW, 6);
	in[12] = 0x08;
	in[13] = 0x06; /* ARP */
	expect_pass(skel, in, 60, LBDECAP_STAT_PASS_NOT_IP, "arp");

	test__start_subtest("not_to_this_host");
	s = inner_spec(4, IPPROTO_TCP, NULL, 20);
	len = encap_frame(&KINDS[0], &s, in);
	memcpy(in, MAC_BE[1], 6); /* another backend's frame, seen in promiscuous mode */
	expect_pass(skel, in, len, LBDECAP_STAT_PASS_NOT_HOST, "otherhost");
	memset(in, 0xff, 6);
	expect_pass(skel, in, len, LBDECAP_STAT_PASS_NOT_HOST, "broadcast");

	test__start_subtest("gue_variant0");
	s = inner_spec(4, IPPROTO_UDP, NULL, 20);
	len = encap_frame(&KINDS[4], &s, in);
	in[14 + 28] = 0x01; /* GUE header version 0, hlen 1: not what the forwarder sends */
	expect_pass(skel, in, len, LBDECAP_STAT_PASS_UNSUPPORTED, "gue variant 0");
	lbdecap_bpf__destroy(skel);
}

static void ip4_recsum(__u8 *ip)
{
	__u16 c;

	ip[10] = ip[11] = 0;
	c = pkt_csum(ip, (size_t)(ip[0] & 0xf) * 4, 0);
	memcpy(ip + 10, &c, 2);
}

/* Outer headers the program does not handle pass; inner headers that do
 * not fit the outer ones drop, when they are for a VIP. */
TEST(decap_malformed)
{
	__u8 in[PKT_MAX], big[PKT_MAX], out[PKT_MAX], exp[PKT_MAX];
	struct lbdecap_bpf *skel;
	struct pkt_spec s;
	size_t len, out_len, exp_len;

	if (!dc_open(&skel))
		return;
	s = inner_spec(4, IPPROTO_TCP, NULL, 40);

	test__start_subtest("outer_bad_checksum");
	len = encap_frame(&KINDS[0], &s, in);
	in[14 + 10] ^= 0x01;
	expect_pass(skel, in, len, LBDECAP_STAT_PASS_MALFORMED, "outer checksum");

	test__start_subtest("outer_fragment");
	len = encap_frame(&KINDS[0], &s, in);
	in[14 + 6] |= 0x20; /* MF */
	ip4_recsum(in + 14);
	expect_pass(skel, in, len, LBDECAP_STAT_PASS_FRAGMENT, "outer MF");
	len = encap_frame(&KINDS[1], &s, in);
	in[14 + 6] = 44; /* next header: fragment */
	expect_pass(skel, in, len, LBDECAP_STAT_PASS_FRAGMENT, "outer v6 fragment header");

	test__start_subtest("outer_options");
	len = encap_frame(&KINDS[0], &s, in);
	memcpy(big, in, 34);
	big[14] = 0x46;
	memset(big + 34, 1, 4); /* NOP options */
	memcpy(big + 38, in + 34, len - 34);
	big[14 + 3] += 4;
	ip4_recsum(big + 14);
	expect_pass(skel, big, len + 4, LBDECAP_STAT_PASS_UNSUPPORTED, "outer options");

	test__start_subtest("outer_length_beyond_frame");
	len = encap_frame(&KINDS[0], &s, in);
	in[14 + 3] += 1;
	ip4_recsum(in + 14);
	expect_pass(skel, in, len, LBDECAP_STAT_PASS_MALFORMED, "tot_len + 1");
	len = encap_frame(&KINDS[5], &s, in);
	expect_pass(skel, in, len - 1, LBDECAP_STAT_PASS_MALFORMED, "v6 payload beyond frame");

	test__start_subtest("gue_udp_length");
	len = encap_frame(&KINDS[4], &s, in);
	in[14 + 20 + 5] -= 1;
	expect_pass(skel, in, len, LBDECAP_STAT_PASS_MALFORMED, "udp length");

	test__start_subtest("inner_length_mismatch_dropped");
	len = encap_frame(&KINDS[0], &s, in);
	in[14 + 20 + 3] -= 1; /* inner tot_len one short of the outer payload */
	ASSERT_TRUE(run_counted(skel, in, len, out, &out_len, TC_ACT_SHOT,
				LBDECAP_STAT_DROP_MALFORMED, "inner v4 short"), "dropped");
	len = encap_frame(&KINDS[6], &s, in); /* gue 4in6 */
	in[14 + 48 + 0] = 0x44; /* IHL 4 */
	ASSERT_TRUE(run_counted(skel, in, len, out, &out_len, TC_ACT_SHOT,
				LBDECAP_STAT_DROP_MALFORMED, "inner ihl 4"), "dropped");
	s = inner_spec(6, IPPROTO_UDP, NULL, 40);
	len = encap_frame(&KINDS[1], &s, in);
	in[14 + 40 + 5] += 1; /* inner payload_len one more than there is */
	ASSERT_TRUE(run_counted(skel, in, len, out, &out_len, TC_ACT_SHOT,
				LBDECAP_STAT_DROP_MALFORMED, "inner v6 long"), "dropped");

	test__start_subtest("ethernet_padding_kept_out");
	s = inner_spec(4, IPPROTO_UDP, NULL, 0);
	len = encap_frame(&KINDS[0], &s, in);
	memset(in + len, 0, 8); /* trailing bytes after the outer packet */
	exp_len = decap_expected(&s, exp);
	memset(exp + exp_len, 0, 8);
	if (run_counted(skel, in, len + 8, out, &out_len, TC_ACT_OK, LBDECAP_STAT_IPIP_4IN4,
			"padded"))
		ASSERT_MEMEQ(out, out_len, exp, exp_len + 8, "padding stays after the inner packet");
	lbdecap_bpf__destroy(skel);
}

/* Every prefix of every kind of frame: passed unchanged, never decapsulated.
 * This kernel's BPF_PROG_TEST_RUN refuses (EINVAL) an IP frame shorter than
 * its IP header, so prefixes cut inside the outer IP header are run only
 * where the harness accepts them (6.1 does); any other refusal fails. */
TEST(decap_truncated)
{
	__u8 in[PKT_MAX], out[PKT_MAX], exp[PKT_MAX];
	struct lbdecap_stats before, after;
	struct lbdecap_bpf *skel;
	struct pkt_spec s;
	size_t len, cut, out_len, ohl;
	int i, j, bad, refused;

	if (!dc_open(&skel))
		return;
	for (i = 0; i < N_KINDS; i++) {
		test__start_subtest(KINDS[i].name);
		s = inner_spec(KINDS[i].inner, i % 2 ? IPPROTO_UDP : IPPROTO_TCP, NULL, 12);
		len = encap_frame(&KINDS[i], &s, in);
		ohl = KINDS[i].outer == 4 ? 20 : 40;
		stats_read(&before);
		bad = refused = 0;
		for (cut = 14; cut < len; cut++) {
			int v = run(skel, in, cut, out, &out_len);

			if (v == -1000 - EINVAL && cut < 14 + ohl) {
				refused++;
				continue;
			}
			if (v != TC_ACT_OK || out_len != cut || memcmp(out, in, cut)) {
				if (!bad++)
					ASSERT_FAIL_("%s cut at %zu: verdict %d, %zu bytes out",
						     KINDS[i].name, cut, v, out_len);
			}
		}
		ASSERT_EQ(bad, 0, "every prefix passed unchanged");
		ASSERT_LE(refused, (int)ohl, "refusals only inside the outer header");
		stats_read(&after);
		for (j = LBDECAP_STAT_IPIP_4IN4; j <= LBDECAP_STAT_GUE_6IN4; j++)
			ASSERT_EQ(after.v[j], before.v[j], "no decap counted");
		ASSERT_EQ(after.v[LBDECAP_STAT_PASS_TRUNCATED] + after.v[LBDECAP_STAT_PASS_MALFORMED] -
				  before.v[LBDECAP_STAT_PASS_TRUNCATED] -
				  before.v[LBDECAP_STAT_PASS_MALFORMED],
			  len - 14 - (size_t)refused, "each prefix counted truncated or malformed");
		/* and the whole frame still decapsulates */
		ASSERT_EQ(run(skel, in, len, out, &out_len), TC_ACT_OK, "whole frame");
		ASSERT_MEMEQ(out, out_len, exp, decap_expected(&s, exp), "whole frame decapsulated");
	}
	lbdecap_bpf__destroy(skel);
}

/* A GRO aggregate of 4in6 or 6in4 is dropped (6.1's bpf_skb_change_proto()
 * would scale its segment size).  The harness sets gso_size but no
 * gso_type, which is why same-family aggregates cannot be tried here: the
 * kernel refuses to shrink a "GSO" skb of no known type. */
TEST(decap_gso_mixed)
{
	__u8 in[PKT_MAX], out[PKT_MAX];
	struct __sk_buff ctx = { .gso_size = 1000, .gso_segs = 2 };
	struct lbdecap_stats before, after;
	struct lbdecap_bpf *skel;
	struct pkt_spec s;
	int i, j;

	if (!dc_open(&skel))
		return;
	for (i = 0; i < N_KINDS; i++) {
		LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = in, .data_out = out,
			    .data_size_out = PKT_MAX, .repeat = 1, .ctx_in = &ctx,
			    .ctx_size_in = sizeof(ctx));

		if (KINDS[i].inner == KINDS[i].outer)
			continue;
		test__start_subtest(KINDS[i].name);
		s = inner_spec(KINDS[i].inner, IPPROTO_TCP, NULL, 100);
		o.data_size_in = (__u32)encap_frame(&KINDS[i], &s, in);
		stats_read(&before);
		ASSERT_OK(bpf_prog_test_run_opts(bpf_program__fd(skel->progs.lbdecap), &o), "run");
		ASSERT_EQ(o.retval, TC_ACT_SHOT, "dropped");
		stats_read(&after);
		for (j = 0; j < LBDECAP_STAT_MAX; j++)
			ASSERT_EQ(after.v[j] - before.v[j], j == LBDECAP_STAT_DROP_GSO_MIXED, "counted");
	}
	lbdecap_bpf__destroy(skel);
}
