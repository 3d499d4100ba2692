// SPDX-License-Identifier: GPL-2.0
/* test_fwd_l2.c - golden packets: load, l2 forwarding, VLAN, options,
 * wildcard VIPs, flow table, non-SYN misses and flow reports, draining,
 * pass-through; the forwarder's dry run for flow lookups against it. */
#include <arpa/inet.h>
#include <sched.h>
#include <unistd.h>
#include <netinet/in.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "test_progs.h"
#include "counters.h"
#include "fixture.h"
#include "lookup.h"
#include "xdplb.skel.h"

#define VIP4 "10.0.0.100"
#define VIP6 "fd00::100"
static const char *BE4[3] = { "10.0.1.1", "10.0.1.2", "10.0.1.3" };
static const char *BE6[3] = { "fd00:1::1", "fd00:1::2", "fd00:1::3" };
static const __u32 IDS4[3] = { 1, 2, 3 }, IDS6[3] = { 11, 12, 13 };

/* VIP 0: VIP4:80/tcp, VIP 1: VIP4:53/udp, VIP 2: VIP6:80/tcp, VIP 3: VIP6:53/udp,
 * VIP 4: VIP4:0/tcp on another address (wildcard). l2 throughout. */
static bool setup_l2_flows(struct dp *dp, __u32 flows)
{
	int err = fix_open_flows(dp, flows), i;

	if (!ASSERT_OK(err, "fix_open"))
		return false;
	err |= fix_vip(dp, 4, VIP4, 80, IPPROTO_TCP, XDPLB_METHOD_L2, 0, 0);
	err |= fix_vip(dp, 4, VIP4, 53, IPPROTO_UDP, XDPLB_METHOD_L2, 1, 0);
	err |= fix_vip(dp, 6, VIP6, 80, IPPROTO_TCP, XDPLB_METHOD_L2, 2, 0);
	err |= fix_vip(dp, 6, VIP6, 53, IPPROTO_UDP, XDPLB_METHOD_L2, 3, 0);
	err |= fix_vip(dp, 4, "10.0.0.101", 0, IPPROTO_TCP, XDPLB_METHOD_L2, 4, 0);
	for (i = 0; i < 3; i++) {
		/* v4 VIPs 0, 1, 4 share backend addresses but not ids */
		err |= fix_backend(dp, IDS4[i], 0, 4, BE4[i], MAC_BE[i], true);
		err |= fix_backend(dp, 20 + IDS4[i], 1, 4, BE4[i], MAC_BE[i], true);
		err |= fix_backend(dp, 40 + IDS4[i], 4, 4, BE4[i], MAC_BE[i], true);
		err |= fix_backend(dp, IDS6[i], 2, 6, BE6[i], MAC_BE[i], true);
		err |= fix_backend(dp, 20 + IDS6[i], 3, 6, BE6[i], MAC_BE[i], true);
	}
	err |= fix_ring(dp, 0, IDS4, 3);
	err |= fix_ring(dp, 2, (__u32[]){ 21, 22, 23 }, 3);
	err |= fix_ring(dp, 4, IDS6, 3);
	err |= fix_ring(dp, 6, (__u32[]){ 31, 32, 33 }, 3);
	err |= fix_ring(dp, 8, (__u32[]){ 41, 42, 43 }, 3);
	return ASSERT_OK(err, "setup");
}

static bool setup_l2(struct dp *dp)
{
	return setup_l2_flows(dp, 4096);
}

/* Run s through the forwarder; expect TX with only the MACs changed. */
static void expect_l2(struct dp *dp, const struct pkt_spec *s, int be_idx, const char *name)
{
	__u8 in[PKT_MAX], out[PKT_MAX], exp[PKT_MAX];
	size_t len = pkt_build(s, in), out_len = 0;
	int act = fix_run(dp, in, len, out, &out_len);

	memcpy(exp, in, len);
	memcpy(exp, MAC_BE[be_idx], 6);
	memcpy(exp + 6, MAC_LB, 6);
	ASSERT_EQ(act, XDP_TX, name);
	ASSERT_MEMEQ(out, out_len, exp, len, name);
}

static void expect_pass_unchanged(struct dp *dp, const __u8 *in, size_t len, const char *name)
{
	__u8 out[PKT_MAX];
	size_t out_len = 0;

	ASSERT_EQ(fix_run(dp, in, len, out, &out_len), XDP_PASS, name);
	ASSERT_MEMEQ(out, out_len, in, len, name);
}

static __u64 stat(struct dp *dp, int idx)
{
	struct xdplb_stats st;

	if (counters_global(dp, &st))
		return ~0ull;
	return st.v[idx];
}

static int count_one(void *ctx, enum dp_flow_table t, const struct dp_flow *f)
{
	(void)t;
	(void)f;
	++*(long *)ctx;
	return 0;
}

/* Entries of one flow table, both families; -1 if it cannot be read. */
static long count_flows(struct dp *dp, enum dp_flow_table t)
{
	long n = 0;

	return dp_flows_for_each(dp, t, count_one, &n) ? -1 : n;
}

TEST(fwd_l2)
{
	struct pkt_spec tcp4 = { .family = 4, .src = "192.0.2.7", .dst = VIP4, .proto = IPPROTO_TCP,
				 .sport = 40000, .dport = 80, .tcp_flags = 0x02, .payload = 0 };
	struct pkt_spec s;
	struct xdplb_counters c, be;
	struct dp dp;

	if (!setup_l2(&dp))
		return;

	test__start_subtest("ipv4_tcp_syn");
	expect_l2(&dp, &tcp4, fix_ring_index(&tcp4, 3), "tcp4 syn");
	ASSERT_EQ(stat(&dp, XDPLB_STAT_TX), 1, "tx counted");
	ASSERT_EQ(stat(&dp, XDPLB_STAT_FLOW_MISS_SYN), 1, "syn miss counted");
	ASSERT_OK(fix_counters(&dp, 0, IDS4, 3, &c, IDS4[fix_ring_index(&tcp4, 3)], &be),
		  "counters");
	ASSERT_EQ(c.packets, 1, "vip packets");
	ASSERT_EQ(c.new_flows, 1, "vip new flows");
	ASSERT_EQ(c.bytes, 14 + 20 + 20, "vip bytes");
	ASSERT_EQ(be.packets, 1, "backend packets");

	test__start_subtest("ipv4_udp");
	s = (struct pkt_spec){ .family = 4, .src = "192.0.2.8", .dst = VIP4, .proto = IPPROTO_UDP,
			       .sport = 5353, .dport = 53, .payload = 33 };
	expect_l2(&dp, &s, fix_ring_index(&s, 3), "udp4");

	test__start_subtest("ipv6_tcp");
	s = (struct pkt_spec){ .family = 6, .src = "2001:db8::7", .dst = VIP6, .proto = IPPROTO_TCP,
			       .sport = 41000, .dport = 80, .tcp_flags = 0x02, .payload = 10 };
	expect_l2(&dp, &s, fix_ring_index(&s, 3), "tcp6");

	test__start_subtest("ipv6_udp");
	s = (struct pkt_spec){ .family = 6, .src = "2001:db8::8", .dst = VIP6, .proto = IPPROTO_UDP,
			       .sport = 41001, .dport = 53, .payload = 100 };
	expect_l2(&dp, &s, fix_ring_index(&s, 3), "udp6");

	test__start_subtest("vlan_tag_kept");
	s = tcp4;
	s.vlan = true;
	s.vlan_tci = 42;
	s.sport = 40001;
	expect_l2(&dp, &s, fix_ring_index(&s, 3), "vlan tcp4");

	test__start_subtest("ipv4_options");
	s = tcp4;
	s.ip_opts = 12;
	s.sport = 40002;
	s.payload = 5;
	expect_l2(&dp, &s, fix_ring_index(&s, 3), "ipv4 options");

	test__start_subtest("wildcard_port");
	s = tcp4;
	s.dst = "10.0.0.101";
	s.dport = 8443;
	expect_l2(&dp, &s, fix_ring_index(&s, 3), "wildcard");
	{
		const __u32 ids4[] = { 40 + IDS4[0], 40 + IDS4[1], 40 + IDS4[2] };

		ASSERT_OK(fix_counters(&dp, 4, ids4, 3, &c, 0, NULL), "vip 4 counters");
	}
	ASSERT_EQ(c.packets, 1, "wildcard VIP counted");

	test__start_subtest("port_not_configured_passes");
	{
		__u8 in[PKT_MAX];

		s = tcp4;
		s.dport = 81;
		expect_pass_unchanged(&dp, in, pkt_build(&s, in), "VIP address, other port");
	}
	dp_close(&dp);
}

TEST(fwd_flow_table)
{
	struct pkt_spec syn = { .family = 4, .src = "192.0.2.9", .dst = VIP4, .proto = IPPROTO_TCP,
				.sport = 50000, .dport = 80, .tcp_flags = 0x02 };
	struct pkt_spec ack = syn;
	struct dp_flow f = { .family = XDPLB_AF_INET, .proto = IPPROTO_TCP };
	struct xdplb_counters c;
	int first, other;
	struct dp dp;

	if (!setup_l2(&dp))
		return;
	ack.tcp_flags = 0x10;
	pkt_addr(4, syn.src, &f.src);
	pkt_addr(4, VIP4, &f.dst);
	f.sport = htons(syn.sport);
	f.dport = htons(80);
	first = fix_ring_index(&syn, 3);
	other = (first + 1) % 3;

	test__start_subtest("syn_learns_half_open");
	expect_l2(&dp, &syn, first, "syn");
	ASSERT_EQ(dp_flow_lookup(&dp, &f), 1, "flow learned");
	ASSERT_FALSE(f.established, "SYN learns into the half-open table");
	ASSERT_EQ(f.v.backend_id, IDS4[first], "learned backend");

	test__start_subtest("ack_promotes");
	expect_l2(&dp, &ack, first, "ack");
	ASSERT_EQ(dp_flow_lookup(&dp, &f), 1, "flow present");
	ASSERT_TRUE(f.established, "first non-SYN promotes");
	ASSERT_EQ(stat(&dp, XDPLB_STAT_FLOW_PROMOTED), 1, "promoted counted");
	ASSERT_EQ(count_flows(&dp, DP_FLOWS_HALF_OPEN), 0, "half-open copy deleted");
	ASSERT_EQ(count_flows(&dp, DP_FLOWS_ESTABLISHED), 1, "one established entry");

	test__start_subtest("hit_survives_ring_change");
	/* the ring now names only `other`: the established flow stays put */
	ASSERT_OK(fix_ring(&dp, 0, &IDS4[other], 1), "new ring");
	expect_l2(&dp, &ack, first, "ack after ring change");
	ASSERT_EQ(stat(&dp, XDPLB_STAT_FLOW_HIT), 2, "hits counted");
	ASSERT_EQ(dp_flow_lookup(&dp, &f), 1, "lookup");
	ASSERT_EQ(f.v.packets, 3, "per-flow packets");
	ASSERT_EQ(f.v.bytes, 3 * 54, "per-flow bytes");

	test__start_subtest("new_syn_uses_new_ring");
	syn.sport = 50001;
	expect_l2(&dp, &syn, other, "new syn");

	test__start_subtest("drained_keeps_flows");
	/* `first` is out of the ring (weight 0) but still active */
	ASSERT_OK(fix_counters(&dp, 0, IDS4, 3, &c, 0, NULL), "counters");
	ASSERT_EQ(c.new_flows, 2, "two new flows so far");
	expect_l2(&dp, &ack, first, "drained backend keeps its flow");

	test__start_subtest("down_backend_rescheduled");
	ASSERT_OK(fix_backend(&dp, IDS4[first], 0, 4, BE4[first], MAC_BE[first], false), "down");
	expect_l2(&dp, &ack, other, "flow of a down backend moves");

	test__start_subtest("ack_promotes_ipv6");
	{
		struct pkt_spec s6 = { .family = 6, .src = "2001:db8::9", .dst = VIP6,
				       .proto = IPPROTO_TCP, .sport = 50000, .dport = 80,
				       .tcp_flags = 0x02 };
		long half = count_flows(&dp, DP_FLOWS_HALF_OPEN);
		long est = count_flows(&dp, DP_FLOWS_ESTABLISHED);
		__u64 promoted = stat(&dp, XDPLB_STAT_FLOW_PROMOTED);
		int idx = fix_ring_index(&s6, 3);

		expect_l2(&dp, &s6, idx, "syn6");
		ASSERT_EQ(count_flows(&dp, DP_FLOWS_HALF_OPEN), half + 1, "IPv6 SYN learned half-open");
		s6.tcp_flags = 0x10;
		expect_l2(&dp, &s6, idx, "ack6");
		ASSERT_EQ(count_flows(&dp, DP_FLOWS_HALF_OPEN), half, "IPv6 half-open copy deleted");
		ASSERT_EQ(count_flows(&dp, DP_FLOWS_ESTABLISHED), est + 1, "IPv6 flow established");
		ASSERT_EQ(stat(&dp, XDPLB_STAT_FLOW_PROMOTED), promoted + 1, "promotion counted");
	}
	dp_close(&dp);
}

/* The flow's established entry with what the flow cache holds of it
 * (dataplane.h): the counts `lbctl flows` shows.  -1 if unreadable. */
static int flow_exact(struct dp *dp, struct dp_flow *f)
{
	struct dp_cache_counts *cc;

	if (dp_flow_lookup(dp, f) != 1 || dp_cache_counts_read(dp, &cc))
		return -1;
	dp_cache_counts_add(cc, f);
	dp_cache_counts_free(cc);
	return 0;
}

/* The flow cache in front of flows4 (xdplb.h).  The test keeps to one CPU,
 * so every packet meets the same CPU's lines. */
TEST(fwd_flow_cache)
{
	struct pkt_spec ack = { .family = 4, .src = "192.0.2.44", .dst = VIP4,
				.proto = IPPROTO_TCP, .sport = 50044, .dport = 80,
				.tcp_flags = 0x02 };
	struct dp_flow f = { .family = XDPLB_AF_INET, .proto = IPPROTO_TCP }, g;
	cpu_set_t was, one;
	int first, other, i, cpu = sched_getcpu();
	__u32 gen;
	struct dp dp;

	if (!ASSERT_OK(sched_getaffinity(0, sizeof(was), &was), "affinity") || cpu < 0)
		return;
	CPU_ZERO(&one);
	CPU_SET(cpu, &one);
	if (!ASSERT_OK(sched_setaffinity(0, sizeof(one), &one), "one CPU"))
		return;
	if (!setup_l2(&dp))
		goto out;
	pkt_addr(4, ack.src, &f.src);
	pkt_addr(4, VIP4, &f.dst);
	f.sport = htons(ack.sport);
	f.dport = htons(80);
	first = fix_ring_index(&ack, 3);
	other = (first + 1) % 3;

	test__start_subtest("hits_count_in_the_line");
	expect_l2(&dp, &ack, first, "syn");
	ack.tcp_flags = 0x10;
	for (i = 0; i < 12; i++) /* promote, fill the line, 10 hits */
		expect_l2(&dp, &ack, first, "ack");
	g = f;
	ASSERT_EQ(dp_flow_lookup(&dp, &g), 1, "established");
	ASSERT_EQ(g.v.packets, 3, "flows4: up to the packet that filled the line");
	ASSERT_OK(flow_exact(&dp, &f), "exact");
	ASSERT_EQ(f.v.packets, 13, "with the line's counts: every packet");
	ASSERT_EQ(f.v.bytes, 13 * 54, "and every byte");
	ASSERT_EQ(stat(&dp, XDPLB_STAT_FLOW_HIT), 12, "promotion, fill and line hits counted");

	test__start_subtest("new_entry_keeps_lines");
	gen = dp.skel->bss->flow_gen;
	g = f;
	g.sport = htons(50045);
	g.v.backend_id = IDS4[other];
	ASSERT_OK(dp_flow_put(&dp, &g), "a peer's new flow");
	ASSERT_EQ(dp.skel->bss->flow_gen, gen, "a new entry leaves the lines valid");

	test__start_subtest("overwrite_makes_lines_stale");
	g = f;
	memset(&g.v, 0, sizeof(g.v));
	g.v.backend_id = IDS4[other];
	g.v.flags = XDPLB_FLOW_F_SYNCED;
	ASSERT_OK(dp_flow_put(&dp, &g), "a peer's flow over ours");
	ASSERT_EQ(dp.skel->bss->flow_gen, gen + 1, "overwriting bumps the generation");
	expect_l2(&dp, &ack, other, "the next packet goes to the peer's backend");
	ASSERT_OK(flow_exact(&dp, &f), "exact");
	ASSERT_EQ(f.v.backend_id, IDS4[other], "entry kept");
	ASSERT_EQ(f.v.packets, 11, "the stale line's 10 went to the entry, and this one");

	test__start_subtest("flush_puts_back_an_evicted_entry");
	for (i = 0; i < 5; i++) /* the line the last packet filled */
		expect_l2(&dp, &ack, other, "ack");
	ASSERT_OK(flow_exact(&dp, &f), "exact");
	ASSERT_EQ(f.v.packets, 16, "five more");
	ASSERT_OK(bpf_map_delete_elem(bpf_map__fd(dp.skel->maps.flows4), &(struct xdplb_flow4_key){
		.src = f.src.v4, .dst = f.dst.v4, .sport = f.sport, .dport = f.dport,
		.proto = IPPROTO_TCP }), "the LRU evicts the entry");
	usleep(1100 * 1000); /* past a flush interval */
	expect_l2(&dp, &ack, other, "the line still answers");
	g = f;
	ASSERT_EQ(dp_flow_lookup(&dp, &g), 1, "the flush put the entry back");
	ASSERT_TRUE(g.established, "established");
	ASSERT_EQ(g.v.backend_id, IDS4[other], "with its backend");
	ASSERT_EQ(g.v.packets, 6, "and the line's counts (5 hits and this one)");
	ASSERT_OK(flow_exact(&dp, &g), "exact");
	ASSERT_EQ(g.v.packets, 6, "nothing left in the line");

	test__start_subtest("inactive_backend_misses");
	ASSERT_OK(fix_backend(&dp, IDS4[other], 0, 4, BE4[other], MAC_BE[other], false), "down");
	ASSERT_OK(fix_ring(&dp, 0, &IDS4[first], 1), "ring without it");
	expect_l2(&dp, &ack, first, "the cached flow of a down backend moves");
	dp_close(&dp);
out:
	sched_setaffinity(0, sizeof(was), &was);
}

/* More new flows at once than the half-open array's pairs hold: a flow
 * whose slot two later flows took misses at its next packet, is learned
 * again (a guess) and promoted at the one after; a few passes establish
 * every flow, each on its ring backend, and leave no half-open slot used. */
TEST(fwd_half_open_overflow)
{
	enum { FLOWS = 65536, N = 12000, PASSES = 6 }; /* 16,384 slots, 8,192 pairs */
	struct pkt_spec s = { .family = 4, .dst = VIP4, .proto = IPPROTO_TCP, .dport = 80 };
	__u8 in[PKT_MAX], out[PKT_MAX];
	size_t len, out_len;
	char src[INET_ADDRSTRLEN];
	int pass, i, bad = 0, idx;
	__u64 nonsyn = 0;
	struct dp dp;

	if (!setup_l2_flows(&dp, FLOWS))
		return;
	for (pass = 0; pass < PASSES; pass++) {
		s.tcp_flags = pass ? 0x10 : 0x02;
		for (i = 0; i < N; i++) {
			snprintf(src, sizeof(src), "198.18.%d.%d", i >> 8, i & 255);
			s.src = src;
			s.sport = (__u16)(10000 + i % 50000);
			len = pkt_build(&s, in);
			idx = fix_ring_index(&s, 3);
			if (fix_run(&dp, in, len, out, &out_len) != XDP_TX || out_len < 6 ||
			    memcmp(out, MAC_BE[idx], 6))
				bad++;
		}
		if (pass == 1)
			nonsyn = stat(&dp, XDPLB_STAT_FLOW_MISS_NONSYN);
	}
	ASSERT_EQ(bad, 0, "every packet to its ring backend");
	ASSERT_GT(nonsyn, 0, "the first pass overflowed some pairs");
	ASSERT_LT(nonsyn, N / 2, "most flows kept their slot");
	ASSERT_EQ(count_flows(&dp, DP_FLOWS_ESTABLISHED), N, "every flow established");
	ASSERT_EQ(count_flows(&dp, DP_FLOWS_HALF_OPEN), 0, "no half-open slot left in use");
	ASSERT_EQ(stat(&dp, XDPLB_STAT_FLOW_PROMOTED), N, "each flow promoted once");
	dp_close(&dp);
}

/* Reads what the forwarder reported in flow_events. */
struct events_seen {
	__u32 n;
	struct xdplb_flow_event last;
};

static int event_seen(void *ctx, void *data, size_t size)
{
	struct events_seen *e = ctx;

	if (size == sizeof(e->last))
		memcpy(&e->last, data, sizeof(e->last));
	e->n++;
	return 0;
}

static __u32 events_read(struct dp *dp, struct events_seen *e)
{
	struct ring_buffer *rb = ring_buffer__new(dp_flow_events_fd(dp), event_seen, e, NULL);

	memset(e, 0, sizeof(*e));
	if (rb)
		ring_buffer__consume(rb);
	ring_buffer__free(rb);
	return rb ? e->n : (__u32)-1;
}

/* A TCP packet that is not a SYN and misses both tables goes to the
 * current ring's backend, never the previous ring's (issue 15): that is
 * right for every flow established since the last change. */
TEST(fwd_nonsyn_miss)
{
	struct pkt_spec ack = { .family = 4, .src = "192.0.2.10", .dst = VIP4,
				.proto = IPPROTO_TCP, .sport = 51000, .dport = 80,
				.tcp_flags = 0x10 };
	struct pkt_spec syn = ack;
	struct events_seen ev;
	struct dp dp;

	if (!setup_l2(&dp))
		return;
	syn.tcp_flags = 0x02;
	syn.sport = 51001;
	/* current ring (slot 1): backend 2 only; previous ring (slot 0): 1 only */
	ASSERT_OK(fix_ring(&dp, 0, &IDS4[0], 1), "prev ring");
	ASSERT_OK(fix_ring(&dp, 1, &IDS4[1], 1), "cur ring");
	ASSERT_OK(fix_vip_rings(&dp, 4, VIP4, 80, IPPROTO_TCP, 1, 0), "rings");
	ASSERT_OK(dp_sync_flows_set(&dp, true), "flow sync on");

	test__start_subtest("nonsyn_miss_goes_to_current");
	expect_l2(&dp, &ack, 1, "a flow no table knows: the current ring");
	ASSERT_EQ(stat(&dp, XDPLB_STAT_FLOW_MISS_NONSYN), 1, "non-SYN miss counted");

	test__start_subtest("nonsyn_miss_learns_a_guess");
	{
		/* one lone (maybe spoofed) packet never reaches the established
		 * table, where it could evict a real flow; the next promotes */
		struct dp_flow f = { .family = XDPLB_AF_INET, .proto = IPPROTO_TCP };

		pkt_addr(4, ack.src, &f.src);
		pkt_addr(4, VIP4, &f.dst);
		f.sport = htons(ack.sport);
		f.dport = htons(80);
		ASSERT_EQ(dp_flow_lookup(&dp, &f), 1, "unknown flow learned");
		ASSERT_FALSE(f.established, "in the half-open table");
		ASSERT_EQ(f.v.backend_id, IDS4[1], "with the current ring's backend");
		ASSERT_EQ(f.v.flags, XDPLB_FLOW_F_GUESS, "marked a guess");
		expect_l2(&dp, &ack, 1, "second packet");
		ASSERT_EQ(dp_flow_lookup(&dp, &f), 1, "still known");
		ASSERT_TRUE(f.established, "second packet promotes");
		ASSERT_EQ(f.v.flags, XDPLB_FLOW_F_GUESS, "still a guess");
		ASSERT_EQ(stat(&dp, XDPLB_STAT_FLOW_MISS_NONSYN), 1, "no second miss");
		ASSERT_EQ(events_read(&dp, &ev), 0, "a guess is never reported to peers");
	}

	test__start_subtest("promoted_flow_reported");
	{
		struct pkt_spec ack2 = syn;
		union xdplb_addr src;

		ack2.tcp_flags = 0x10;
		expect_l2(&dp, &syn, 1, "new flow uses the current ring");
		ASSERT_EQ(events_read(&dp, &ev), 0, "a SYN alone is not reported");
		expect_l2(&dp, &ack2, 1, "its second packet");
		ASSERT_EQ(events_read(&dp, &ev), 1, "the promotion is reported");
		pkt_addr(4, syn.src, &src);
		ASSERT_MEMEQ(&ev.last.src, 16, &src, 16, "event: source");
		ASSERT_EQ(ev.last.sport, htons(syn.sport), "event: source port");
		ASSERT_EQ(ev.last.dport, htons(80), "event: VIP port");
		ASSERT_EQ(ev.last.proto, IPPROTO_TCP, "event: protocol");
		ASSERT_EQ(ev.last.family, XDPLB_AF_INET, "event: family");
		ASSERT_EQ(ev.last.backend_id, IDS4[1], "event: backend id");
		ASSERT_OK(dp_sync_flows_set(&dp, false), "flow sync off");
		syn.sport = 51005;
		ack2.sport = 51005;
		expect_l2(&dp, &syn, 1, "syn, sync off");
		expect_l2(&dp, &ack2, 1, "ack, sync off");
		ASSERT_EQ(events_read(&dp, &ev), 0, "nothing reported while sync is off");
		ASSERT_EQ(stat(&dp, XDPLB_STAT_FLOW_SYNC_LOST), 0, "nothing lost");
	}

	test__start_subtest("current_backend_down_drops");
	{
		__u8 in[PKT_MAX], out[PKT_MAX];
		size_t len, out_len;

		ack.sport = 51002;
		ASSERT_OK(fix_backend(&dp, IDS4[1], 0, 4, BE4[1], MAC_BE[1], false), "down");
		len = pkt_build(&ack, in);
		ASSERT_EQ(fix_run(&dp, in, len, out, &out_len), XDP_DROP,
			  "never the previous ring's backend");
		ASSERT_OK(fix_backend(&dp, IDS4[1], 0, 4, BE4[1], MAC_BE[1], true), "up");
	}

	test__start_subtest("empty_ring_drops");
	{
		__u8 in[PKT_MAX], out[PKT_MAX];
		size_t len, out_len;

		ASSERT_OK(fix_ring(&dp, 1, NULL, 0), "empty ring");
		syn.sport = 51004;
		len = pkt_build(&syn, in);
		ASSERT_EQ(fix_run(&dp, in, len, out, &out_len), XDP_DROP, "no backend");
		ASSERT_EQ(stat(&dp, XDPLB_STAT_DROP_NO_BACKEND), 2, "no_backend counted (and the one above)");
	}
	dp_close(&dp);
}

/* The inner array id in ring slot `slot` (0 if empty). */
static __u32 ring_inner_id(struct dp *dp, __u32 slot)
{
	__u32 id = 0;

	if (bpf_map_lookup_elem(bpf_map__fd(dp->skel->maps.rings), &slot, &id))
		return 0;
	return id;
}

/* Ring slots (dp_rings.c): a live slot gets a new array; a freed slot
 * keeps its array, rewritten in place once it has been quiet long enough. */
TEST(ring_slot_reuse)
{
	struct pkt_spec syn = { .family = 4, .src = "192.0.2.20", .dst = VIP4,
				.proto = IPPROTO_TCP, .sport = 52000, .dport = 80,
				.tcp_flags = 0x02 };
	__u32 id0, id1, be;
	struct dp dp;

	if (!setup_l2(&dp))
		return;
	ASSERT_OK(fix_ring(&dp, 0, &IDS4[0], 1), "ring of backend 1");
	id0 = ring_inner_id(&dp, 0);
	ASSERT_NEQ(id0, 0, "slot 0 holds an array");
	expect_l2(&dp, &syn, 0, "ring of backend 1 used");

	test__start_subtest("live_slot_gets_new_array");
	ASSERT_OK(fix_ring(&dp, 0, &IDS4[1], 1), "ring of backend 2");
	id1 = ring_inner_id(&dp, 0);
	ASSERT_NEQ(id1, id0, "a live slot is swapped, never written in place");
	syn.sport++;
	expect_l2(&dp, &syn, 1, "new ring used");

	test__start_subtest("freed_slot_kept_until_quiet");
	ASSERT_OK(dp_ring_clear(&dp, 0), "free slot 0");
	ASSERT_EQ(ring_inner_id(&dp, 0), id1, "freed slot keeps its array");
	ASSERT_FALSE(dp_ring_reusable(&dp, 0, FIX_RING_M), "not reusable before the quiet time");
	dp.ring_quiet_ms = 0;
	ASSERT_TRUE(dp_ring_reusable(&dp, 0, FIX_RING_M), "reusable after the quiet time");
	ASSERT_FALSE(dp_ring_reusable(&dp, 0, FIX_RING_M + 4), "not for another size");
	ASSERT_FALSE(dp_ring_reusable(&dp, 1, FIX_RING_M), "not a slot never created");

	test__start_subtest("quiet_slot_rewritten_in_place");
	ASSERT_OK(fix_ring(&dp, 0, &IDS4[2], 1), "ring of backend 3");
	ASSERT_EQ(ring_inner_id(&dp, 0), id1, "same array, written in place");
	ASSERT_OK(dp_ring_get(&dp, 0, FIX_RING_M - 1, &be), "read back");
	ASSERT_EQ(be, IDS4[2], "last entry rewritten");
	ASSERT_FALSE(dp_ring_reusable(&dp, 0, FIX_RING_M), "in use again");
	syn.sport++;
	expect_l2(&dp, &syn, 2, "rewritten ring used");
	dp_close(&dp);
}

TEST(fwd_pass_through)
{
	struct pkt_spec s = { .family = 4, .src = "192.0.2.7", .dst = "10.0.0.50",
			      .proto = IPPROTO_TCP, .sport = 40000, .dport = 22, .tcp_flags = 0x10,
			      .payload = 20 };
	__u8 in[PKT_MAX];
	size_t len;
	struct dp dp;

	if (!setup_l2(&dp))
		return;
	test__start_subtest("tcp4_other_address");
	expect_pass_unchanged(&dp, in, pkt_build(&s, in), "ssh to the LB");
	ASSERT_EQ(stat(&dp, XDPLB_STAT_PASS_NOT_VIP), 1, "not_vip counted");

	test__start_subtest("udp6_other_address");
	s = (struct pkt_spec){ .family = 6, .src = "2001:db8::1", .dst = "fd00::50",
			       .proto = IPPROTO_UDP, .sport = 1, .dport = 53, .payload = 9 };
	expect_pass_unchanged(&dp, in, pkt_build(&s, in), "udp6");

	test__start_subtest("arp");
	memset(in, 0, 60);
	memset(in, 0xff, 6);
	memcpy(in + 6, MAC_CLIENT, 6);
	in[12] = 0x08;
	in[13] = 0x06;
	expect_pass_unchanged(&dp, in, 60, "arp");
	ASSERT_EQ(stat(&dp, XDPLB_STAT_PASS_NOT_IP), 1, "not_ip counted");

	test__start_subtest("ndp_to_vip_address");
	s = (struct pkt_spec){ .family = 6, .src = "fe80::1", .dst = VIP6, .proto = IPPROTO_ICMPV6,
			       .icmp_type = 135, .payload = 16 };
	expect_pass_unchanged(&dp, in, pkt_build(&s, in), "neighbour solicitation");
	ASSERT_EQ(stat(&dp, XDPLB_STAT_PASS_ICMP_OTHER), 1, "icmp_other counted");

	test__start_subtest("echo_to_other_address");
	s = (struct pkt_spec){ .family = 4, .src = "192.0.2.1", .dst = "10.0.0.50",
			       .proto = IPPROTO_ICMP, .icmp_type = 8, .payload = 56 };
	expect_pass_unchanged(&dp, in, pkt_build(&s, in), "ping the LB");

	test__start_subtest("gre_to_vip_address");
	s = (struct pkt_spec){ .family = 4, .src = "192.0.2.1", .dst = VIP4, .proto = 47,
			       .payload = 20 };
	len = pkt_build(&s, in);
	expect_pass_unchanged(&dp, in, len, "other protocol");
	dp_close(&dp);
}

/* The datapath counts per backend; a VIP is the sum of its backends plus
 * what removed backends counted (counters.c, read as lbd reads them).
 * Retiring keeps the VIP's totals, zeroes the id for its next owner;
 * forgetting a VIP id drops the kept sum. */
TEST(counters_retire)
{
	struct pkt_spec s = { .family = 4, .src = "192.0.2.30", .dst = VIP4,
			      .proto = IPPROTO_TCP, .dport = 80, .tcp_flags = 0x02 };
	struct xdplb_counters before, c, be;
	int i, idx;
	struct dp dp;

	if (!setup_l2(&dp))
		return;
	for (i = 0; i < 12; i++) {
		s.sport = (__u16)(41000 + i);
		expect_l2(&dp, &s, fix_ring_index(&s, 3), "syn");
	}
	ASSERT_OK(fix_counters(&dp, 0, IDS4, 3, &before, 0, NULL), "vip counters");
	ASSERT_EQ(before.packets, 12, "12 packets over the VIP's backends");
	ASSERT_EQ(before.new_flows, 12, "12 new flows");

	test__start_subtest("retire_keeps_vip_totals");
	idx = fix_ring_index(&s, 3); /* the last packet's backend, so it counted something */
	ASSERT_OK(fix_backend(&dp, IDS4[idx], 0, 4, BE4[idx], MAC_BE[idx], false), "inactive");
	ASSERT_OK(counters_backend_retire(&dp, IDS4[idx], 0), "retire");
	{
		__u32 rest[2] = { IDS4[(idx + 1) % 3], IDS4[(idx + 2) % 3] };

		ASSERT_OK(fix_counters(&dp, 0, rest, 2, &c, 0, NULL), "vip counters after");
	}
	ASSERT_EQ(c.packets, before.packets, "VIP packets unchanged");
	ASSERT_EQ(c.bytes, before.bytes, "VIP bytes unchanged");
	ASSERT_EQ(c.new_flows, before.new_flows, "VIP new flows unchanged");
	ASSERT_OK(fix_counters(&dp, 0, IDS4, 3, &c, IDS4[idx], &be), "retired id");
	ASSERT_EQ(be.packets + be.bytes + be.new_flows, 0, "retired id starts at zero");
	ASSERT_EQ(c.packets, before.packets, "VIP packets: the retired id adds nothing");

	test__start_subtest("forget_drops_kept_sum");
	ASSERT_OK(fix_counters(&dp, 0, NULL, 0, &c, 0, NULL), "kept sum");
	ASSERT_TRUE(c.packets > 0, "the retired backend's packets are kept");
	ASSERT_OK(counters_vip_forget(&dp, 0), "forget");
	ASSERT_OK(fix_counters(&dp, 0, NULL, 0, &c, 0, NULL), "kept sum");
	ASSERT_EQ(c.packets, 0, "kept sum gone");
	dp_close(&dp);
}

/* An IPv6 flow behind 1024 bytes of destination options: its L4 header
 * starts past offset 1023, and the flow is learned under its own ports
 * (the key's L4 offset is not cut to 10 bits). */
TEST(fwd_long_ext_hdr)
{
	struct pkt_spec s = { .family = 6, .src = "fd00:9::7", .dst = VIP6, .proto = IPPROTO_TCP,
			      .sport = 41000, .dport = 80, .tcp_flags = 0x02 };
	struct dp_flow f = { .family = XDPLB_AF_INET6, .proto = IPPROTO_TCP };
	const size_t l3 = 14, ext = 1024;
	__u8 in[PKT_MAX], out[PKT_MAX];
	size_t len, out_len = 0;
	struct dp dp;
	__u16 plen;

	if (!setup_l2(&dp))
		return;
	len = pkt_build(&s, in);
	/* insert a destination options header (PadN) after the IPv6 header */
	memmove(in + l3 + 40 + ext, in + l3 + 40, len - l3 - 40);
	memset(in + l3 + 40, 0, ext);
	in[l3 + 40] = in[l3 + 6];		/* its next header: TCP */
	in[l3 + 40 + 1] = ext / 8 - 1;		/* length in 8 bytes, first excluded */
	in[l3 + 40 + 2] = 1;			/* PadN */
	in[l3 + 40 + 3] = (__u8)(ext - 4 > 255 ? 255 : ext - 4);
	in[l3 + 6] = IPPROTO_DSTOPTS;
	plen = (__u16)((in[l3 + 4] << 8 | in[l3 + 5]) + ext);
	in[l3 + 4] = (__u8)(plen >> 8);
	in[l3 + 5] = (__u8)plen;
	len += ext;
	ASSERT_LT(len, (size_t)PKT_MAX, "fits");
	ASSERT_EQ(fix_run(&dp, in, len, out, &out_len), XDP_TX, "forwarded");
	pkt_addr(6, s.src, &f.src);
	pkt_addr(6, VIP6, &f.dst);
	f.sport = htons(s.sport);
	f.dport = htons(s.dport);
	ASSERT_EQ(dp_flow_lookup(&dp, &f), 1, "learned under its own ports");
	dp_close(&dp);
}

/* ---- the forwarder's dry run (xdplb_lookup, run by lookup.c): for each
 * kind of packet the verdict names the action and the backend the
 * forwarder itself then takes for the same packet and which table or ring
 * answered, and running it changes nothing in the datapath nor the packet. */

#define CLIENT_LK "192.0.2.9"

/* The backend index (0-2) a frame was sent to, from its MAC; -1 if none. */
static int mac_index(const __u8 *frame)
{
	int i;

	for (i = 0; i < 3; i++)
		if (!memcmp(frame, MAC_BE[i], 6))
			return i;
	return -1;
}

/* The backend index (0-2) of one of setup_l2's ids (1-3, 11-13, ... 41-43). */
static int id_index(__u32 id)
{
	return id < 50 && id % 10 >= 1 && id % 10 <= 3 ? (int)(id % 10) - 1 : -1;
}

/* The dry run on frame `in`, then the forwarder on it: same action, same
 * backend; the dry run left the datapath and the packet as they were, and
 * answered from `want_from`. */
static void check_lookup(struct dp *dp, const __u8 *in, size_t len, __u32 want_from,
			 const char *name)
{
	__u8 raw[PKT_MAX + sizeof(struct xdplb_lookup)], out[PKT_MAX];
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = in, .data_size_in = (__u32)len,
		    .data_out = raw, .data_size_out = sizeof(raw), .repeat = 1);
	static struct fix_snap before, after;
	struct xdplb_lookup v;
	size_t out_len;
	bool ok;
	int act;

	ok = ASSERT_OK(fix_snap_take(dp, &before), "snapshot") &&
	     ASSERT_OK(lookup_packet(dp_lookup_prog_fd(dp), in, len, &v), "lookup");
	if (ok) {
		/* the same run by hand: the packet behind the verdict is untouched */
		ok &= ASSERT_OK(bpf_prog_test_run_opts(dp_lookup_prog_fd(dp), &o), "raw run") &&
		      ASSERT_MEMEQ(raw + sizeof(v), o.data_size_out - sizeof(v), in, len,
				   "packet as it was");
		ok &= ASSERT_OK(fix_snap_take(dp, &after), "snapshot after") &&
		      ASSERT_STREQ(fix_snap_diff(&after, &before), "", "datapath unchanged");
		ok &= ASSERT_EQ(v.from, want_from, "answered from");
		act = fix_run(dp, in, len, out, &out_len);
		ok &= ASSERT_EQ(v.action, (__u32)act, "the forwarder's action");
		if (act == XDP_TX && v.from != XDPLB_FROM_NONE)
			ok &= ASSERT_EQ(id_index(v.backend_id), mac_index(out),
					"the forwarder's backend");
	}
	if (!ok)
		fprintf(stderr, "  (in case: %s)\n", name);
}

/* An ICMP error from a router about the backend's reply VIP4:80 -> CLIENT_LK:port. */
static size_t icmp_error_about(__u16 port, __u8 *buf)
{
	struct pkt_spec reply = { .family = 4, .src = VIP4, .dst = CLIENT_LK,
				  .proto = IPPROTO_TCP, .sport = 80, .dport = port,
				  .tcp_flags = 0x10, .df = true };
	__u8 quoted[PKT_MAX], l4[8 + 28];
	struct pkt_spec err = { .family = 4, .src = "192.0.2.254", .dst = VIP4,
				.proto = IPPROTO_ICMP, .l4 = l4, .l4_len = sizeof(l4) };
	__u16 c;

	pkt_build_ip(&reply, quoted);
	memset(l4, 0, 8);
	l4[0] = 3; /* unreachable, fragmentation needed */
	l4[1] = 4;
	memcpy(l4 + 8, quoted, 28);
	c = pkt_csum(l4, sizeof(l4), 0);
	memcpy(l4 + 2, &c, 2);
	return pkt_build(&err, buf);
}

TEST(fwd_lookup)
{
	struct pkt_spec s = { .family = 4, .src = CLIENT_LK, .dst = VIP4, .proto = IPPROTO_TCP,
			      .sport = 50000, .dport = 80, .tcp_flags = 0x02 };
	__u8 in[PKT_MAX];
	struct xdplb_lookup v;
	struct dp dp;
	size_t len;
	int x;

	if (!setup_l2(&dp))
		return;
	if (test__start_subtest("packet_kinds")) {
		check_lookup(&dp, in, pkt_build(&s, in), XDPLB_FROM_RING, "tcp4 syn");
		s.proto = IPPROTO_UDP;
		s.dport = 53;
		check_lookup(&dp, in, pkt_build(&s, in), XDPLB_FROM_RING, "udp4");
		s = (struct pkt_spec){ .family = 6, .src = "2001:db8::9", .dst = VIP6,
				       .proto = IPPROTO_TCP, .sport = 50000, .dport = 80,
				       .tcp_flags = 0x02 };
		check_lookup(&dp, in, pkt_build(&s, in), XDPLB_FROM_RING, "tcp6 syn");
		s = (struct pkt_spec){ .family = 4, .src = CLIENT_LK, .dst = VIP4,
				       .proto = IPPROTO_TCP, .sport = 50001, .dport = 80,
				       .tcp_flags = 0x02, .vlan = true, .vlan_tci = 42 };
		check_lookup(&dp, in, pkt_build(&s, in), XDPLB_FROM_RING, "vlan");
		s.vlan = false;
		s.sport = 50002;
		s.ip_opts = 12;
		check_lookup(&dp, in, pkt_build(&s, in), XDPLB_FROM_RING, "ipv4 options");
		s.ip_opts = 0;
		s.sport = 50003;
		s.dst = "10.0.0.101"; /* VIP 4: every TCP port */
		s.dport = 8080;
		check_lookup(&dp, in, pkt_build(&s, in), XDPLB_FROM_RING, "wildcard VIP");
		s.dst = "10.0.0.99";
		check_lookup(&dp, in, pkt_build(&s, in), XDPLB_FROM_NONE, "not a VIP");
		s.dst = VIP4;
		s.dport = 80;
		s.frag = 0x2000; /* more fragments */
		s.payload = 40;
		check_lookup(&dp, in, pkt_build(&s, in), XDPLB_FROM_NONE, "fragment");
		s = (struct pkt_spec){ .family = 4, .src = CLIENT_LK, .dst = VIP4,
				       .proto = IPPROTO_ICMP, .icmp_type = 8, .payload = 56 };
		check_lookup(&dp, in, pkt_build(&s, in), XDPLB_FROM_NONE, "echo request");
		check_lookup(&dp, in, icmp_error_about(50010, in), XDPLB_FROM_RING,
			     "icmp error, by the ring");
	}
	if (test__start_subtest("flow_tables")) {
		s = (struct pkt_spec){ .family = 4, .src = CLIENT_LK, .dst = VIP4,
				       .proto = IPPROTO_TCP, .sport = 50100, .dport = 80,
				       .tcp_flags = 0x02 };
		len = pkt_build(&s, in);
		check_lookup(&dp, in, len, XDPLB_FROM_RING, "syn");            /* learns */
		check_lookup(&dp, in, len, XDPLB_FROM_HALF_OPEN, "syn again"); /* keeps */
		s.tcp_flags = 0x10;
		len = pkt_build(&s, in);
		check_lookup(&dp, in, len, XDPLB_FROM_HALF_OPEN, "first ack"); /* promotes */
		check_lookup(&dp, in, len, XDPLB_FROM_ESTABLISHED, "next ack");
		check_lookup(&dp, in, icmp_error_about(50100, in), XDPLB_FROM_ESTABLISHED,
			     "icmp error, by the flow");
		/* its backend x goes down, the ring names another: the ring's */
		len = pkt_build(&s, in);
		if (!ASSERT_OK(lookup_packet(dp_lookup_prog_fd(&dp), in, len, &v), "backend") ||
		    !ASSERT_GE(x = id_index(v.backend_id), 0, "a backend of the VIP"))
			goto out;
		ASSERT_OK(fix_backend(&dp, v.backend_id, 0, 4, BE4[x], MAC_BE[x], false), "down");
		ASSERT_OK(fix_ring(&dp, 0, &IDS4[(x + 1) % 3], 1), "ring");
		check_lookup(&dp, in, len, XDPLB_FROM_RING, "its backend down");
		/* a ring naming x alone: dropped */
		ASSERT_OK(fix_ring(&dp, 0, &v.backend_id, 1), "ring of the down backend");
		s.sport = 50101;
		s.tcp_flags = 0x02;
		len = pkt_build(&s, in);
		check_lookup(&dp, in, len, XDPLB_FROM_NONE, "ring names a down backend");
		ASSERT_OK(lookup_packet(dp_lookup_prog_fd(&dp), in, len, &v), "verdict");
		ASSERT_EQ(v.why, XDPLB_STAT_DROP_NO_BACKEND, "no backend");
		ASSERT_EQ(v.ring, 0, "the ring asked");
	}
out:
	dp_close(&dp);
}
