// SPDX-License-Identifier: GPL-2.0
/* test_hll.c - unique clients per VIP: the datapath's HyperLogLog sketch
 * through BPF_PROG_TEST_RUN against known counts, register for register
 * against the user-space reference, and its two-epoch window. */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "test_progs.h"
#include "counters.h"
#include "fixture.h"
#include "hll.h"
#include "xdplb_hash.h"

#define VIP4 "10.0.0.100"
#define VIP6 "fd00::100"

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
		err |= fix_backend(dp, (__u32)i + 1, 0, 4, be4[i], MAC_BE[i], true);
		err |= fix_backend(dp, (__u32)i + 11, 1, 6, be6[i], MAC_BE[i], true);
	}
	err |= fix_ring(dp, 0, (__u32[]){ 1, 2, 3 }, 3);
	err |= fix_ring(dp, 2, (__u32[]){ 11, 12, 13 }, 3);
	return ASSERT_OK(err, "setup");
}

static __u64 coarse_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (__u64)ts.tv_sec * 1000000000ull + (__u64)ts.tv_nsec;
}

static void client_addr(int family, __u32 i, char *buf, size_t len)
{
	if (family == 4)
		snprintf(buf, len, "%u.%u.%u.%u", 11 + (i >> 24) % 200, (i >> 16) & 255,
			 (i >> 8) & 255, i & 255);
	else
		snprintf(buf, len, "2001:db8:%x:%x::%x", i >> 16, i & 0xffff, (i * 7 + 1) & 0xffff);
}

/* n clients (ids first .. first+n-1), one packet each with `flags`, and
 * for a SYN (0x02) the ACK after it: a TCP client counts once its flow is
 * established (a lone, maybe spoofed, SYN does not).  Adds each to `ref`
 * as the datapath should.  Returns how many were forwarded. */
static __u32 send_clients(struct dp *dp, int family, __u32 first, __u32 n, __u8 flags,
			  struct xdplb_hll *ref)
{
	struct pkt_spec s = { .family = family, .dst = family == 4 ? VIP4 : VIP6,
			      .proto = IPPROTO_TCP, .sport = 40000, .dport = 80,
			      .tcp_flags = flags };
	__u8 in[PKT_MAX], out[PKT_MAX];
	char addr[64];
	size_t out_len;
	__u32 i, ok = 0;

	s.src = addr;
	for (i = first; i < first + n; i++) {
		union xdplb_addr a;

		client_addr(family, i, addr, sizeof(addr));
		s.tcp_flags = flags;
		ok += fix_run(dp, in, pkt_build(&s, in), out, &out_len) == XDP_TX;
		if (flags == 0x02) {
			s.tcp_flags = 0x10;
			fix_run(dp, in, pkt_build(&s, in), out, &out_len);
		}
		if (ref) {
			pkt_addr(family, addr, &a);
			hll_add_hash(ref, xdplb_hash_client(&a, family == 4 ? XDPLB_AF_INET
									 : XDPLB_AF_INET6));
		}
	}
	return ok;
}

static double estimate(struct dp *dp, __u32 vip_id, struct hll_regs *r)
{
	struct hll_regs tmp;

	if (!r)
		r = &tmp;
	if (!ASSERT_OK(counters_vip_sketch(dp, vip_id, r), "read sketch"))
		return -1;
	return hll_estimate(r);
}

static void accuracy(int family, __u32 n)
{
	static struct xdplb_hll ref;
	struct hll_regs want, got;
	char name[64];
	struct dp dp;
	double e;

	if (!setup(&dp))
		return;
	memset(&ref, 0, sizeof(ref));
	snprintf(name, sizeof(name), "%u IPv%d clients forwarded", n, family);
	ASSERT_EQ(send_clients(&dp, family, 1, n, 0x02, &ref), n, name);
	e = estimate(&dp, family == 4 ? 0 : 1, &got);
	printf("  hll: %u IPv%d clients, estimate %.0f (%+.2f%%)\n", n, family, e,
	       100.0 * (e - n) / n);
	snprintf(name, sizeof(name), "estimate %.0f of %u within 5%%", e, n);
	ASSERT_TRUE(fabs(e - n) <= 0.05 * n, name);
	/* the datapath's registers are exactly the reference's */
	memset(&want, 0, sizeof(want));
	hll_merge(&want, &ref);
	ASSERT_MEMEQ(got.r, sizeof(got.r), want.r, sizeof(want.r), "registers as computed in C");
	/* the same clients again: no change */
	send_clients(&dp, family, 1, n < 5000 ? n : 5000, 0x02, NULL);
	ASSERT_TRUE(estimate(&dp, family == 4 ? 0 : 1, NULL) == e, "repeat clients add nothing");
	dp_close(&dp);
}

TEST(hll_accuracy)
{
	test__start_subtest("ipv4_1000");
	accuracy(4, 1000);
	test__start_subtest("ipv4_100000");
	accuracy(4, 100000);
	test__start_subtest("ipv6_1000");
	accuracy(6, 1000);
	test__start_subtest("ipv6_100000");
	accuracy(6, 100000);
}

/* Two epochs: the estimate covers the current and the previous one. */
TEST(hll_window)
{
	struct pkt_spec ack = { .family = 4, .dst = VIP4, .proto = IPPROTO_TCP,
				.sport = 40000, .dport = 80, .tcp_flags = 0x10 };
	__u8 in[PKT_MAX], out[PKT_MAX];
	char addr[64];
	size_t out_len;
	struct dp dp;
	double e;

	if (!setup(&dp))
		return;
	ASSERT_OK(counters_epoch_next(&dp, coarse_ns()), "first epoch");
	send_clients(&dp, 4, 1, 500, 0x02, NULL);
	send_clients(&dp, 4, 1, 1, 0x10, NULL); /* client 1's flow is now established */
	e = estimate(&dp, 0, NULL);
	ASSERT_TRUE(fabs(e - 500) <= 25, "500 clients in this epoch");

	test__start_subtest("previous_epoch_still_counts");
	ASSERT_OK(counters_epoch_next(&dp, coarse_ns() + 1), "next epoch");
	send_clients(&dp, 4, 1000, 300, 0x02, NULL);
	e = estimate(&dp, 0, NULL);
	ASSERT_TRUE(fabs(e - 800) <= 40, "previous 500 + current 300");

	test__start_subtest("older_epochs_forgotten");
	ASSERT_OK(counters_epoch_next(&dp, coarse_ns() + 1), "third epoch");
	e = estimate(&dp, 0, NULL);
	ASSERT_TRUE(fabs(e - 300) <= 15, "only the previous epoch's 300 remain");
	ASSERT_OK(counters_epoch_next(&dp, coarse_ns() + 1), "fourth epoch");
	ASSERT_TRUE(estimate(&dp, 0, NULL) == 0, "empty after two quiet epochs");

	test__start_subtest("established_flow_counted_again");
	client_addr(4, 1, addr, sizeof(addr));
	ack.src = addr;
	ASSERT_EQ(fix_run(&dp, in, pkt_build(&ack, in), out, &out_len), XDP_TX, "ack forwarded");
	e = estimate(&dp, 0, NULL);
	ASSERT_TRUE(e > 0.5 && e < 1.5, "a known flow's first packet of the epoch adds its client");
	ASSERT_EQ(fix_run(&dp, in, pkt_build(&ack, in), out, &out_len), XDP_TX, "ack again");
	ASSERT_TRUE(estimate(&dp, 0, NULL) == e, "and only once");

	test__start_subtest("lone_syns_not_counted");
	{
		struct pkt_spec syn = ack;
		double before = estimate(&dp, 0, NULL);
		__u32 i, tx = 0;

		syn.tcp_flags = 0x02;
		syn.src = addr;
		for (i = 5000; i < 5200; i++) {
			client_addr(4, i, addr, sizeof(addr));
			tx += fix_run(&dp, in, pkt_build(&syn, in), out, &out_len) == XDP_TX;
		}
		ASSERT_EQ(tx, 200, "200 SYNs forwarded");
		ASSERT_TRUE(estimate(&dp, 0, NULL) == before,
			    "clients that sent a SYN only are not counted");
	}

	test__start_subtest("freed_vip_starts_empty");
	ASSERT_OK(counters_vip_forget(&dp, 0), "forget the VIP id");
	ASSERT_TRUE(estimate(&dp, 0, NULL) == 0, "cleared");
	ASSERT_EQ(counters_vip_sketch(&dp, XDPLB_HLL_VIPS, &(struct hll_regs){ 0 }), -ERANGE,
		  "VIP ids past the sketches are refused");
	dp_close(&dp);
}

/* The estimator alone, on hashes: small counts are exact-ish (linear
 * counting), large ones within the HLL's error. */
TEST(hll_estimator)
{
	static struct xdplb_hll s;
	struct hll_regs r;
	__u32 i;
	double e;

	memset(&s, 0, sizeof(s));
	memset(&r, 0, sizeof(r));
	ASSERT_TRUE(hll_estimate(&r) == 0, "empty is zero");
	for (i = 0; i < 1000000; i++)
		hll_add_hash(&s, xdplb_mix(0x1234, i) * 0x9e3779b1u ^ i);
	hll_merge(&r, &s);
	e = hll_estimate(&r);
	ASSERT_TRUE(fabs(e - 1e6) <= 0.05e6, "one million within 5%");
}
