// SPDX-License-Identifier: GPL-2.0
/* fuzz_packet.c - libFuzzer harness for the forwarder: the input is one
 * Ethernet frame, run through the loaded XDP program with BPF_PROG_TEST_RUN
 * against VIPs of every method and family (set up once, fixture.c).  Needs
 * root.  Invariants, checked on every input (abort() on violation):
 *   - the action is XDP_PASS, XDP_DROP or XDP_TX, and the global counter of
 *     that action (and no other action) went up by one;
 *   - PASS: the output is the input, byte for byte;
 *   - TX that is not an echo reply or a frag-needed/packet-too-big (their
 *     counters did not move): either the same length, and then only the 12
 *     MAC bytes differ (l2), or longer by one encapsulation (ipip 4in4,
 *     6in6, 4in6, gue over either), and then the input from its IP header
 *     on is the tail of the output, untouched, and the VLAN tag is kept;
 *     either way the frame goes from the LB's MAC to a backend's. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "counters.h"
#include "fixture.h"
#include "fuzz.h"

#define CHECK FUZZ_CHECK

struct fvip {
	int family;
	const char *addr;
	__u16 port;
	__u8 proto, method;
	__u32 flags;
	int be_family; /* 0: no active backend */
};

/* VIP i uses backend ids 10*i+1 .. 10*i+3 and ring slot 2*i. */
static const struct fvip FVIPS[] = {
	{ 4, "10.0.0.100", 80, IPPROTO_TCP, XDPLB_METHOD_L2, 0, 4 },
	{ 4, "10.0.0.100", 53, IPPROTO_UDP, XDPLB_METHOD_L2, 0, 4 },
	{ 6, "fd00::100", 80, IPPROTO_TCP, XDPLB_METHOD_L2, 0, 6 },
	{ 4, "10.0.0.101", 80, IPPROTO_TCP, XDPLB_METHOD_IPIP, 0, 4 }, /* 4in4 */
	{ 6, "fd00::101", 80, IPPROTO_TCP, XDPLB_METHOD_IPIP, 0, 6 },  /* 6in6 */
	{ 4, "10.0.0.102", 0, IPPROTO_TCP, XDPLB_METHOD_IPIP, XDPLB_VIP_F_HASH_SRC, 6 }, /* 4in6 */
	{ 4, "10.0.0.101", 53, IPPROTO_UDP, XDPLB_METHOD_GUE, 0, 4 },
	{ 6, "fd00::101", 53, IPPROTO_UDP, XDPLB_METHOD_GUE, XDPLB_VIP_F_HASH_SRC, 6 },
	{ 6, "fd00::102", 0, IPPROTO_UDP, XDPLB_METHOD_GUE, 0, 4 },
	{ 4, "10.0.0.103", 80, IPPROTO_TCP, XDPLB_METHOD_L2, 0, 0 }, /* all backends down */
};
#define N_FVIPS (int)(sizeof(FVIPS) / sizeof(FVIPS[0]))

static const char *BE4[3] = { "10.1.0.1", "10.1.0.2", "10.1.0.3" };
static const char *BE6[3] = { "fd01::1", "fd01::2", "fd01::3" };

static struct dp dp;
static struct xdplb_stats last;

/* The BPF program's branches are invisible to libFuzzer's coverage, so the
 * counters that moved (pass/drop reasons, flow-table events, ICMP) and the
 * output's growth are fed back to it as extra features. */
#define GROWTH_SLOTS 8
static uint8_t feedback[XDPLB_STAT_MAX + GROWTH_SLOTS]
    __attribute__((section("__libfuzzer_extra_counters"), used));

static int setup(void)
{
	int err = fix_open(&dp), i, j;

	for (i = 0; i < N_FVIPS && !err; i++) {
		const struct fvip *v = &FVIPS[i];
		int bf = v->be_family ? v->be_family : v->family;
		__u32 ids[3];

		err |= fix_vip(&dp, v->family, v->addr, v->port, v->proto, v->method, i, v->flags);
		for (j = 0; j < 3; j++) {
			ids[j] = 10 * i + j + 1;
			err |= fix_backend(&dp, ids[j], i, bf, bf == 4 ? BE4[j] : BE6[j], MAC_BE[j],
					   v->be_family != 0);
		}
		err |= fix_ring(&dp, 2 * i, ids, 3);
	}
	return err ? err : counters_global(&dp, &last);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if (setup()) {
		fprintf(stderr, "fuzz_packet: cannot load the forwarder (root needed)\n");
		exit(1);
	}
	return 0;
}

/* Outer header bytes an encapsulation adds: IPv4/IPv6, plus 8 for gue. */
static bool encap_growth(size_t d)
{
	return d == 20 || d == 40 || d == 28 || d == 48;
}

static void check_tx(const __u8 *in, size_t len, const __u8 *out, size_t out_len)
{
	size_t l3 = in[12] == 0x81 && in[13] == 0x00 ? 18 : 14;

	CHECK(out_len >= len && len >= l3);
	CHECK(memcmp(out + 6, MAC_LB, 6) == 0); /* fix_backend's src_mac */
	CHECK(!memcmp(out, MAC_BE[0], 6) || !memcmp(out, MAC_BE[1], 6) ||
	      !memcmp(out, MAC_BE[2], 6));
	if (out_len == len) { /* l2: only the MACs change */
		CHECK(memcmp(in + 12, out + 12, len - 12) == 0);
		return;
	}
	CHECK(encap_growth(out_len - len));
	CHECK(memcmp(in + l3, out + out_len - (len - l3), len - l3) == 0);
	CHECK(memcmp(in + 12, out + 12, l3 - 14) == 0); /* VLAN tag kept */
	CHECK((out[l3 - 2] == 0x08 && out[l3 - 1] == 0x00) ||
	      (out[l3 - 2] == 0x86 && out[l3 - 1] == 0xdd));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static __u8 out[PKT_MAX];
	struct xdplb_stats now;
	size_t out_len = 0;
	bool replied;
	int act, a;

	/* BPF_PROG_TEST_RUN wants a whole Ethernet header; the output buffer
	 * must hold the largest encapsulation. */
	if (size < 14 || size > PKT_MAX - 64)
		return 0;
	act = fix_run(&dp, data, size, out, &out_len);
	if (act < -900) {
		fprintf(stderr, "fuzz_packet: BPF_PROG_TEST_RUN failed (%d)\n", act);
		abort();
	}
	CHECK(act == XDP_PASS || act == XDP_DROP || act == XDP_TX);
	CHECK(counters_global(&dp, &now) == 0);
	for (a = XDPLB_STAT_ABORTED; a <= XDPLB_STAT_REDIRECT; a++)
		CHECK(now.v[a] - last.v[a] == (a == act ? 1u : 0u));
	for (a = 0; a < XDPLB_STAT_MAX; a++)
		if (now.v[a] != last.v[a])
			feedback[a]++;
	if (act == XDP_TX)
		feedback[XDPLB_STAT_MAX + (out_len - size) % GROWTH_SLOTS]++;
	replied = now.v[XDPLB_STAT_ICMP_ECHO] != last.v[XDPLB_STAT_ICMP_ECHO] ||
		  now.v[XDPLB_STAT_ICMP_PTB_SENT] != last.v[XDPLB_STAT_ICMP_PTB_SENT];
	last = now;
	if (act == XDP_PASS) {
		CHECK(out_len == size && memcmp(out, data, size) == 0);
		CHECK(!replied);
	} else if (act == XDP_TX && !replied) {
		check_tx(data, size, out, out_len);
	}
	return 0;
}
