// SPDX-License-Identifier: GPL-2.0
/* test_fwd_lookup.c - golden packets through the forwarder's dry run
 * (xdplb_lookup, run by lookup.c): for each kind of packet the verdict
 * names the action and the backend the forwarder itself then takes for the
 * same packet, says which table or ring answered, and running it changes
 * nothing in the datapath (counters, flow tables, sketches) nor the packet. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <bpf/bpf.h>

#include "test_progs.h"
#include "fixture.h"
#include "hll.h"
#include "lookup.h"

#define VIP4   "10.0.0.100"
#define VIP6   "fd00::100"
#define WILD4  "10.0.0.101" /* VIP 3: every TCP port */
#define CLIENT "192.0.2.9"
#define N_BE   64 /* backend ids read back */

static const char *BE4[3] = { "10.0.1.1", "10.0.1.2", "10.0.1.3" };
static const char *BE6[3] = { "fd00:1::1", "fd00:1::2", "fd00:1::3" };
static const __u32 IDS4[3] = { 1, 2, 3 }, IDS6[3] = { 11, 12, 13 };
static const __u32 IDSU[3] = { 21, 22, 23 }, IDSW[3] = { 41, 42, 43 };

/* VIP 0: VIP4:80/tcp, 1: VIP4:53/udp, 2: VIP6:80/tcp, 3: WILD4:0/tcp. */
static bool setup(struct dp *dp)
{
	int err = fix_open(dp), i;

	if (!ASSERT_OK(err, "fix_open"))
		return false;
	err |= fix_vip(dp, 4, VIP4, 80, IPPROTO_TCP, XDPLB_METHOD_L2, 0, 0);
	err |= fix_vip(dp, 4, VIP4, 53, IPPROTO_UDP, XDPLB_METHOD_L2, 1, 0);
	err |= fix_vip(dp, 6, VIP6, 80, IPPROTO_TCP, XDPLB_METHOD_L2, 2, 0);
	err |= fix_vip(dp, 4, WILD4, 0, IPPROTO_TCP, XDPLB_METHOD_L2, 3, 0);
	for (i = 0; i < 3; i++) {
		err |= fix_backend(dp, IDS4[i], 0, 4, BE4[i], MAC_BE[i], true);
		err |= fix_backend(dp, IDSU[i], 1, 4, BE4[i], MAC_BE[i], true);
		err |= fix_backend(dp, IDS6[i], 2, 6, BE6[i], MAC_BE[i], true);
		err |= fix_backend(dp, IDSW[i], 3, 4, BE4[i], MAC_BE[i], true);
	}
	err |= fix_ring(dp, 0, IDS4, 3);
	err |= fix_ring(dp, 2, IDSU, 3);
	err |= fix_ring(dp, 4, IDS6, 3);
	err |= fix_ring(dp, 6, IDSW, 3);
	return ASSERT_OK(err, "setup");
}

/* Everything a packet may change in the datapath. */
struct snap {
	struct xdplb_stats st;
	struct xdplb_counters be[N_BE];
	__u64 flows[DP_FLOW_TABLES][4]; /* entries; sums of packets, bytes, last_ns */
	struct hll_regs hll[4];
};

static int count_flow(void *ctx, enum dp_flow_table tb, const struct dp_flow *f)
{
	__u64 (*n)[4] = ctx;

	n[tb][0]++;
	n[tb][1] += f->v.packets;
	n[tb][2] += f->v.bytes;
	n[tb][3] += f->v.last_ns;
	return 0;
}

static int snap_take(struct dp *dp, struct snap *s)
{
	__u32 v;
	int err;

	memset(s, 0, sizeof(*s));
	err = dp_stats(dp, &s->st);
	err = err ?: dp_counters_range(dp, DP_BACKEND_COUNTERS, N_BE, s->be);
	for (v = 0; v < 4; v++)
		err = err ?: dp_vip_hll(dp, v, &s->hll[v]);
	err = err ?: dp_flows_for_each(dp, DP_FLOWS_ESTABLISHED, count_flow, s->flows);
	return err ?: dp_flows_for_each(dp, DP_FLOWS_HALF_OPEN, count_flow, s->flows);
}

/* a and b the same, part by part (a failure names the part). */
static bool snap_same(const struct snap *a, const struct snap *b)
{
	bool ok = ASSERT_MEMEQ(&a->st, sizeof(a->st), &b->st, sizeof(b->st), "global counters");

	ok &= ASSERT_TRUE(!memcmp(a->be, b->be, sizeof(a->be)), "backend counters unchanged");
	ok &= ASSERT_MEMEQ(a->flows, sizeof(a->flows), b->flows, sizeof(b->flows), "flow tables");
	ok &= ASSERT_TRUE(!memcmp(a->hll, b->hll, sizeof(a->hll)), "sketches unchanged");
	return ok;
}

/* The backend index (0-2) a frame was sent to, from its MAC; -1 if none. */
static int mac_index(const __u8 *frame)
{
	int i;

	for (i = 0; i < 3; i++)
		if (!memcmp(frame, MAC_BE[i], 6))
			return i;
	return -1;
}

static int id_index(__u32 id)
{
	int i;

	for (i = 0; i < 3; i++)
		if (id == IDS4[i] || id == IDS6[i] || id == IDSU[i] || id == IDSW[i])
			return i;
	return -1;
}

/* The dry run on frame `in`, then the forwarder on it: same action, same
 * backend; the dry run left the datapath and the packet as they were, and
 * answered from `want_from`. */
static void check(struct dp *dp, const __u8 *in, size_t len, __u32 want_from, const char *name)
{
	__u8 raw[PKT_MAX + sizeof(struct xdplb_lookup)], out[PKT_MAX];
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = in, .data_size_in = (__u32)len,
		    .data_out = raw, .data_size_out = sizeof(raw), .repeat = 1);
	static struct snap before, after;
	struct xdplb_lookup v;
	size_t out_len;
	bool ok;
	int act;

	ok = ASSERT_OK(snap_take(dp, &before), "snapshot") &&
	     ASSERT_OK(lookup_packet(dp_lookup_prog_fd(dp), in, len, &v), "lookup");
	if (ok) {
		/* the same run by hand: the packet behind the verdict is untouched */
		ok &= ASSERT_OK(bpf_prog_test_run_opts(dp_lookup_prog_fd(dp), &o), "raw run") &&
		      ASSERT_MEMEQ(raw + sizeof(v), o.data_size_out - sizeof(v), in, len,
				   "packet as it was");
		ok &= ASSERT_OK(snap_take(dp, &after), "snapshot after") &&
		      snap_same(&after, &before);
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

static size_t frame(const struct pkt_spec *s, __u8 *buf)
{
	return pkt_build(s, buf);
}

/* An ICMP error from a router about the backend's reply VIP4:80 -> CLIENT:port. */
static size_t icmp_error(__u16 port, __u8 *buf)
{
	struct pkt_spec reply = { .family = 4, .src = VIP4, .dst = CLIENT, .proto = IPPROTO_TCP,
				  .sport = 80, .dport = port, .tcp_flags = 0x10, .df = true };
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
	struct pkt_spec s = { .family = 4, .src = CLIENT, .dst = VIP4, .proto = IPPROTO_TCP,
			      .sport = 50000, .dport = 80, .tcp_flags = 0x02 };
	__u8 in[PKT_MAX];
	struct xdplb_lookup v;
	struct dp dp;
	size_t len;
	int x;

	if (!setup(&dp))
		return;
	if (test__start_subtest("packet_kinds")) {
		check(&dp, in, frame(&s, in), XDPLB_FROM_RING, "tcp4 syn");
		s.proto = IPPROTO_UDP;
		s.dport = 53;
		check(&dp, in, frame(&s, in), XDPLB_FROM_RING, "udp4");
		s = (struct pkt_spec){ .family = 6, .src = "2001:db8::9", .dst = VIP6,
				       .proto = IPPROTO_TCP, .sport = 50000, .dport = 80,
				       .tcp_flags = 0x02 };
		check(&dp, in, frame(&s, in), XDPLB_FROM_RING, "tcp6 syn");
		s = (struct pkt_spec){ .family = 4, .src = CLIENT, .dst = VIP4,
				       .proto = IPPROTO_TCP, .sport = 50001, .dport = 80,
				       .tcp_flags = 0x02, .vlan = true, .vlan_tci = 42 };
		check(&dp, in, frame(&s, in), XDPLB_FROM_RING, "vlan");
		s.vlan = false;
		s.sport = 50002;
		s.ip_opts = 12;
		check(&dp, in, frame(&s, in), XDPLB_FROM_RING, "ipv4 options");
		s.ip_opts = 0;
		s.sport = 50003;
		s.dst = WILD4;
		s.dport = 8080;
		check(&dp, in, frame(&s, in), XDPLB_FROM_RING, "wildcard VIP");
		s.dst = "10.0.0.99";
		check(&dp, in, frame(&s, in), XDPLB_FROM_NONE, "not a VIP");
		s.dst = VIP4;
		s.dport = 80;
		s.frag = 0x2000; /* more fragments */
		s.payload = 40;
		check(&dp, in, frame(&s, in), XDPLB_FROM_NONE, "fragment");
		s = (struct pkt_spec){ .family = 4, .src = CLIENT, .dst = VIP4,
				       .proto = IPPROTO_ICMP, .icmp_type = 8, .payload = 56 };
		check(&dp, in, frame(&s, in), XDPLB_FROM_NONE, "echo request");
		check(&dp, in, icmp_error(50010, in), XDPLB_FROM_RING, "icmp error, by the ring");
	}
	if (test__start_subtest("flow_tables")) {
		s = (struct pkt_spec){ .family = 4, .src = CLIENT, .dst = VIP4,
				       .proto = IPPROTO_TCP, .sport = 50100, .dport = 80,
				       .tcp_flags = 0x02 };
		len = frame(&s, in);
		check(&dp, in, len, XDPLB_FROM_RING, "syn");                /* learns */
		check(&dp, in, len, XDPLB_FROM_HALF_OPEN, "syn again");     /* keeps */
		s.tcp_flags = 0x10;
		len = frame(&s, in);
		check(&dp, in, len, XDPLB_FROM_HALF_OPEN, "first ack");     /* promotes */
		check(&dp, in, len, XDPLB_FROM_ESTABLISHED, "next ack");
		check(&dp, in, icmp_error(50100, in), XDPLB_FROM_ESTABLISHED, "icmp error, by the flow");
		/* its backend x goes down, the ring names another: the ring's */
		len = frame(&s, in);
		if (!ASSERT_OK(lookup_packet(dp_lookup_prog_fd(&dp), in, len, &v), "backend") ||
		    !ASSERT_GE(x = id_index(v.backend_id), 0, "a backend of the VIP"))
			goto out;
		ASSERT_OK(fix_backend(&dp, v.backend_id, 0, 4, BE4[x], MAC_BE[x], false), "down");
		ASSERT_OK(fix_ring(&dp, 0, &IDS4[(x + 1) % 3], 1), "ring");
		check(&dp, in, len, XDPLB_FROM_RING, "its backend down");
		/* a ring naming x alone: dropped */
		ASSERT_OK(fix_ring(&dp, 0, &v.backend_id, 1), "ring of the down backend");
		s.sport = 50101;
		s.tcp_flags = 0x02;
		check(&dp, in, frame(&s, in), XDPLB_FROM_NONE, "ring names a down backend");
		ASSERT_OK(lookup_packet(dp_lookup_prog_fd(&dp), in, frame(&s, in), &v), "verdict");
		ASSERT_EQ(v.why, XDPLB_STAT_DROP_NO_BACKEND, "no backend");
		ASSERT_EQ(v.ring, 0, "the ring asked");
	}
out:
	dp_close(&dp);
}
