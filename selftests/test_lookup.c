// SPDX-License-Identifier: GPL-2.0
/* test_lookup.c - `lbctl flow lookup` answered by the forwarder's own code
 * (lookup.c running xdplb_lookup): lbd's answer names the backend the
 * forwarder then sends the same flow to, from the table or ring the
 * forwarder used, also where a simplified copy of its rules would not
 * (an inactive backend, a ring naming no active backend, a VIP missing
 * from the datapath); and asking changes nothing in the datapath. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <unistd.h>
#include <bpf/libbpf.h>

#include "test_progs.h"
#include "fixture.h"
#include "commands.h"
#include "lbd.h"
#include "lookup.h"
#include "sync.h"

#define VIP4   "10.0.0.100"
#define VIP6   "fd00::100"
#define CL4    "192.0.2.7"
#define CL6    "2001:db8::7"
#define TCP4   VIP4 ":80/tcp"
#define UDP4   VIP4 ":53/udp"
#define TCP6   "[" VIP6 "]:80/tcp"
#define ABSENT "10.0.0.200:80/tcp" /* in the model, not in the datapath */

static const char *const BE4[3] = { "10.0.1.1", "10.0.1.2", "10.0.1.3" };
static const char *const BE6[3] = { "fd00:1::1", "fd00:1::2", "fd00:1::3" };

/* lbd's model and a datapath written for it, by the model's ids */
struct lk {
	struct lbd d;
	__u32 vip_id[3]; /* TCP4, UDP4, TCP6 */
	__u32 ids[3][3]; /* their backends' ids, in BE4/BE6 order */
};

static const char *const CMDS[] = {
	"vip add " TCP4, "vip add " UDP4, "vip add " TCP6, "vip add " ABSENT,
	"backend add " TCP4 " 10.0.1.1", "backend add " TCP4 " 10.0.1.2",
	"backend add " TCP4 " 10.0.1.3", "backend add " UDP4 " 10.0.1.1",
	"backend add " UDP4 " 10.0.1.2", "backend add " UDP4 " 10.0.1.3",
	"backend add " TCP6 " fd00:1::1", "backend add " TCP6 " fd00:1::2",
	"backend add " TCP6 " fd00:1::3", "backend add " ABSENT " 10.0.1.9",
};

static const struct {
	int family;
	const char *addr;
	__u16 port;
	__u8 proto;
} VIPS[3] = { { 4, VIP4, 80, IPPROTO_TCP },
	      { 4, VIP4, 53, IPPROTO_UDP },
	      { 6, VIP6, 80, IPPROTO_TCP } };

static int setup(struct lk *t)
{
	struct sync_env env = { .dp = &t->d.dp, .model = &t->d.model };
	struct xdplb_vip_key k;
	size_t i;
	int j, err = 0;

	memset(t, 0, sizeof(*t));
	model_init(&t->d.model);
	if (!(t->d.sync = sync_open(&env)))
		return -1;
	for (i = 0; i < sizeof(CMDS) / sizeof(CMDS[0]); i++)
		if (fix_apply(&t->d.model, CMDS[i]))
			return -1;
	if (fix_open(&t->d.dp))
		return -1;
	for (i = 0; i < 3; i++) {
		const struct xdplb_vip *v;

		fix_vip_key(VIPS[i].family, VIPS[i].addr, VIPS[i].port, VIPS[i].proto, &k);
		v = model_find_vip(&t->d.model, &k);
		if (!v || v->n_backends != 3)
			return -1;
		t->vip_id[i] = v->id;
		err |= fix_vip(&t->d.dp, VIPS[i].family, VIPS[i].addr, VIPS[i].port, VIPS[i].proto,
			       XDPLB_METHOD_L2, v->id, 0);
		for (j = 0; j < 3; j++) { /* the model sorts them by address, as BE4/BE6 are */
			t->ids[i][j] = v->backends[j].id;
			err |= fix_backend(&t->d.dp, v->backends[j].id, v->id, VIPS[i].family,
					   VIPS[i].family == 4 ? BE4[j] : BE6[j], MAC_BE[j], true);
		}
		err |= fix_ring(&t->d.dp, 2 * v->id, t->ids[i], 3);
	}
	return err;
}

static void teardown(struct lk *t)
{
	sync_close(t->d.sync);
	if (t->d.dp.skel)
		dp_close(&t->d.dp);
	model_free(&t->d.model);
}

static int ask(struct lk *t, const char *line, struct strbuf *out)
{
	char buf[256];

	sb_reset(out);
	snprintf(buf, sizeof(buf), "%s", line);
	return lbd_handle(&t->d, buf, strlen(buf), out);
}

/* `flow lookup` of VIP i from the client's port: lbd's one line of text. */
static const char *lookup(struct lk *t, int i, __u16 port, struct strbuf *out)
{
	static const char *const name[3] = { TCP4, UDP4, TCP6 };
	char line[160];

	snprintf(line, sizeof(line), "flow lookup %s %s:%u", name[i],
		 VIPS[i].family == 4 ? CL4 : "[" CL6 "]", port);
	if (ask(t, line, out))
		return "(refused)";
	return sb_str(out);
}

static struct pkt_spec flow(int i, __u16 port, __u8 tcp_flags)
{
	return (struct pkt_spec){ .family = VIPS[i].family,
				  .src = VIPS[i].family == 4 ? CL4 : CL6,
				  .dst = VIPS[i].addr,
				  .proto = VIPS[i].proto,
				  .sport = port,
				  .dport = VIPS[i].port,
				  .tcp_flags = tcp_flags,
				  .payload = 20 };
}

/* One packet through the forwarder itself (xdplb_fwd): the text `flow
 * lookup` should have given for it, from its XDP action and the MAC it
 * was sent to (`from` names the table or ring the answer must cite). */
static void forwarded(struct lk *t, int i, __u16 port, __u8 tcp_flags, const char *from, char *exp,
		      size_t len)
{
	struct pkt_spec s = flow(i, port, tcp_flags);
	__u8 in[PKT_MAX], out[PKT_MAX];
	size_t n = pkt_build(&s, in), out_len;
	int act = fix_run(&t->d.dp, in, n, out, &out_len), j;

	snprintf(exp, len, "forwarder: action %d", act);
	if (act == XDP_DROP)
		snprintf(exp, len, "none (from the %s)\n", from);
	if (act != XDP_TX)
		return;
	for (j = 0; j < 3; j++)
		if (!memcmp(out, MAC_BE[j], 6))
			snprintf(exp, len, "%s (from the %s)\n",
				 VIPS[i].family == 4 ? BE4[j] : BE6[j], from);
}

/* The lookup's answer for a flow, then the forwarder's for its packet. */
static bool same_as_forwarder(struct lk *t, int i, __u16 port, __u8 tcp_flags, const char *from,
			      struct strbuf *out)
{
	char got[128], exp[128];

	snprintf(got, sizeof(got), "%s", lookup(t, i, port, out));
	forwarded(t, i, port, tcp_flags, from, exp, sizeof(exp));
	return ASSERT_STREQ(got, exp, "lookup = forwarder");
}

static int on_event(void *ctx, void *data, size_t size)
{
	(void)data;
	(void)size;
	(*(int *)ctx)++;
	return 0;
}

/* A packet of the flow straight to the lookup program. */
static int verdict(struct lk *t, int i, __u16 port, __u8 tcp_flags, struct xdplb_lookup *v)
{
	struct pkt_spec s = flow(i, port, tcp_flags);
	__u8 in[PKT_MAX];
	size_t n = pkt_build(&s, in);

	return lookup_packet(dp_lookup_prog_fd(&t->d.dp), in, n, v);
}

static void test_ring_and_tables(struct lk *t, struct strbuf *out)
{
	__u16 port;
	int i, seen[3] = { 0 }, j;

	/* new flows: the ring's pick, for each VIP, as the forwarder sends them */
	for (i = 0; i < 3; i++)
		for (port = 40000; port < 40012; port++)
			same_as_forwarder(t, i, port, 0x02, "ring", out);
	/* and not one answer for all: the TCP4 answers follow the ring */
	for (port = 40000; port < 40012; port++)
		for (j = 0; j < 3; j++) {
			struct pkt_spec s = flow(0, port, 0x02);

			seen[j] += fix_ring_index(&s, 3) == j;
		}
	ASSERT_TRUE(seen[0] && seen[1] && seen[2], "the test's flows cover the ring");
	/* those SYNs left half-open flows: a retransmitted SYN keeps its backend */
	for (i = 0; i < 3; i++)
		same_as_forwarder(t, i, 40000, 0x02, "flow table (half-open)", out);
	/* the first ACK finds them there too and promotes them (UDP: the
	 * second datagram did), later packets find them established */
	for (i = 0; i < 3; i++) {
		same_as_forwarder(t, i, 40000, 0x10,
				  i == 1 ? "flow table" : "flow table (half-open)", out);
		same_as_forwarder(t, i, 40000, 0x10, "flow table", out);
	}
}

/* An established flow on backend x (SYN, ACK through the forwarder);
 * returns x's index, or -1. */
static int establish(struct lk *t, __u16 port)
{
	struct xdplb_lookup v;
	char exp[64];
	int x;

	forwarded(t, 0, port, 0x02, "", exp, sizeof(exp));
	forwarded(t, 0, port, 0x10, "", exp, sizeof(exp));
	if (!ASSERT_OK(verdict(t, 0, port, 0x10, &v), "verdict") ||
	    !ASSERT_EQ(v.from, XDPLB_FROM_ESTABLISHED, "established"))
		return -1;
	for (x = 0; x < 3 && t->ids[0][x] != v.backend_id; x++)
		;
	return ASSERT_LT(x, 3, "a backend of the VIP") ? x : -1;
}

/* The ring moves all new flows to another backend; an established flow
 * stays where it is. */
static void test_ring_change(struct lk *t, struct strbuf *out)
{
	int x = establish(t, 40100), y = (x + 1) % 3;
	char exp[64];

	if (x < 0 || !ASSERT_OK(fix_ring(&t->d.dp, 2 * t->vip_id[0], &t->ids[0][y], 1), "ring"))
		return;
	snprintf(exp, sizeof(exp), "%s (from the ring)\n", BE4[y]);
	ASSERT_STREQ(lookup(t, 0, 40101, out), exp, "a new flow: the new ring");
	snprintf(exp, sizeof(exp), "%s (from the flow table)\n", BE4[x]);
	ASSERT_STREQ(lookup(t, 0, 40100, out), exp, "the flow: its backend");
	same_as_forwarder(t, 0, 40100, 0x10, "flow table", out);
	same_as_forwarder(t, 0, 40102, 0x02, "ring", out);
	fix_ring(&t->d.dp, 2 * t->vip_id[0], t->ids[0], 3);
}

/* Where the forwarder's rules differ from reading the tables: an
 * established flow whose backend went down, and a ring naming only a
 * backend that is down (the answers a copy without the active check gave:
 * the flow table's backend, and the ring's). */
static void test_inactive(struct lk *t, struct strbuf *out)
{
	__u16 port = 40200;
	int x = establish(t, port);
	char exp[64];

	if (x < 0)
		return;
	/* x goes down; the ring names the next backend only */
	fix_backend(&t->d.dp, t->ids[0][x], t->vip_id[0], 4, BE4[x], MAC_BE[x], false);
	fix_ring(&t->d.dp, 2 * t->vip_id[0], &t->ids[0][(x + 1) % 3], 1);
	snprintf(exp, sizeof(exp), "%s (from the ring)\n", BE4[(x + 1) % 3]);
	ASSERT_STREQ(lookup(t, 0, port, out), exp, "the flow's backend is down: the ring's");
	same_as_forwarder(t, 0, port, 0x10, "ring", out);
	/* a ring that names x alone: nothing to send to */
	fix_ring(&t->d.dp, 2 * t->vip_id[0], &t->ids[0][x], 1);
	ASSERT_STREQ(lookup(t, 0, 40201, out), "none (from the ring)\n",
		     "ring names a down backend");
	same_as_forwarder(t, 0, 40202, 0x02, "ring", out);
	fix_backend(&t->d.dp, t->ids[0][x], t->vip_id[0], 4, BE4[x], MAC_BE[x], true);
	fix_ring(&t->d.dp, 2 * t->vip_id[0], t->ids[0], 3);
}

static void test_json(struct lk *t, struct strbuf *out)
{
	struct pkt_spec s = flow(0, 40300, 0x02);
	int idx = fix_ring_index(&s, 3);
	char exp[256];

	ASSERT_OK(ask(t, "-j flow lookup " TCP4 " " CL4 ":40300", out), "json");
	snprintf(exp, sizeof(exp),
		 "{\"backend\":\"%s\",\"from\":\"ring\",\"action\":\"tx\",\"reason\":\"\","
		 "\"backend_id\":%u,\"hash\":%u,\"ring\":%u}\n",
		 BE4[idx], t->ids[0][idx], fix_hash(&s), 2 * t->vip_id[0]);
	ASSERT_STREQ(sb_str(out), exp, "ring answer");
	fix_ring(&t->d.dp, 2 * t->vip_id[0], NULL, 0);
	ASSERT_OK(ask(t, "-j flow lookup " TCP4 " " CL4 ":40300", out), "json, empty ring");
	snprintf(exp, sizeof(exp),
		 "{\"backend\":\"none\",\"from\":\"ring\",\"action\":\"drop\","
		 "\"reason\":\"drop_no_backend\",\"ring\":%u}\n",
		 2 * t->vip_id[0]);
	ASSERT_STREQ(sb_str(out), exp, "no backend");
	fix_ring(&t->d.dp, 2 * t->vip_id[0], t->ids[0], 3);
	ASSERT_OK(ask(t, "-j flow lookup " ABSENT " " CL4 ":1", out), "json, not in the datapath");
	ASSERT_STREQ(sb_str(out),
		     "{\"backend\":\"none\",\"from\":\"none\",\"action\":\"pass\","
		     "\"reason\":\"pass_not_vip\"}\n",
		     "passed");
}

/* Nothing a lookup does shows in the datapath: counters, flow tables,
 * sketches, flow sync's ring buffer.  The same packets through the
 * forwarder change them (the check can fail). */
static void test_no_side_effects(struct lk *t, struct strbuf *out)
{
	static struct fix_snap before, after;
	struct ring_buffer *rb;
	struct xdplb_lookup v;
	char exp[64];
	int events = 0;

	dp_sync_flows_set(&t->d.dp, true);
	rb = ring_buffer__new(dp_flow_events_fd(&t->d.dp), on_event, &events, NULL);
	if (!ASSERT_OK_PTR(rb, "ring buffer"))
		return;
	forwarded(t, 0, 40400, 0x02, "", exp, sizeof(exp)); /* a half-open flow */
	forwarded(t, 2, 40400, 0x02, "", exp, sizeof(exp));
	if (establish(t, 40402) < 0 || !ASSERT_OK(fix_snap_take(&t->d.dp, &before), "before"))
		goto out;
	ring_buffer__consume(rb); /* the promotions so far */
	events = 0;
	lookup(t, 0, 40401, out); /* new flows, TCP and UDP (sketched at once) */
	lookup(t, 1, 40401, out);
	lookup(t, 2, 40401, out);
	ASSERT_OK(verdict(t, 0, 40400, 0x10, &v), "a half-open flow's ACK"); /* would promote */
	ASSERT_EQ(v.from, XDPLB_FROM_HALF_OPEN, "from the half-open table");
	ASSERT_OK(verdict(t, 2, 40400, 0x10, &v), "the same in IPv6");
	ASSERT_EQ(v.from, XDPLB_FROM_HALF_OPEN, "from the half-open table (v6)");
	ASSERT_OK(verdict(t, 0, 40402, 0x10, &v), "an established flow's packet"); /* counted */
	ASSERT_EQ(v.from, XDPLB_FROM_ESTABLISHED, "from the established table");
	ASSERT_OK(fix_snap_take(&t->d.dp, &after), "after");
	ASSERT_STREQ(fix_snap_diff(&after, &before), "", "datapath unchanged");
	ASSERT_EQ(ring_buffer__consume(rb), 0, "nothing reported to flow sync");
	ASSERT_EQ(events, 0, "no event");
	/* the forwarder, for contrast */
	forwarded(t, 0, 40400, 0x10, "", exp, sizeof(exp));
	ASSERT_OK(fix_snap_take(&t->d.dp, &after), "after the forwarder");
	ASSERT_EQ(after.flows[DP_FLOWS_ESTABLISHED][0], before.flows[DP_FLOWS_ESTABLISHED][0] + 1,
		  "the forwarder promotes");
	ASSERT_EQ(after.st.v[XDPLB_STAT_TX], before.st.v[XDPLB_STAT_TX] + 1, "and counts");
	ring_buffer__consume(rb);
	ASSERT_EQ(events, 1, "and reports");
out:
	dp_sync_flows_set(&t->d.dp, false);
	ring_buffer__free(rb);
}

static void test_refusals(struct lk *t, struct strbuf *out)
{
	int fd = dp_lookup_prog_fd(&t->d.dp), saved = dup(fd),
	    nul = open("/dev/null", O_RDONLY | O_CLOEXEC);

	ASSERT_ERR(ask(t, "flow lookup 10.0.0.9:80/tcp " CL4 ":1", out), "no such VIP");
	ASSERT_STREQ(sb_str(out), "no VIP 10.0.0.9:80/tcp", "says which");
	ASSERT_OK(ask(t, "flow lookup " ABSENT " " CL4 ":1", out), "not in the datapath");
	ASSERT_STREQ(sb_str(out), "none (the forwarder would pass it: pass_not_vip)\n",
		     "the forwarder passes it");
	/* the program unusable: refused, not answered by a guess */
	if (ASSERT_GE(saved, 0, "dup") && ASSERT_GE(nul, 0, "open") &&
	    ASSERT_EQ(dup2(nul, fd), fd, "dup2")) {
		ASSERT_ERR(ask(t, "flow lookup " TCP4 " " CL4 ":1", out), "refused");
		ASSERT_TRUE(strstr(sb_str(out), "cannot run the forwarder's flow lookup") != NULL,
			    "says why");
		dup2(saved, fd);
	}
	if (saved >= 0)
		close(saved);
	if (nul >= 0)
		close(nul);
}

TEST(flow_lookup)
{
	static struct lk t; /* large: not on the stack */
	struct strbuf out;

	sb_init(&out, 0);
	if (!ASSERT_OK(setup(&t), "setup"))
		goto out;
	if (test__start_subtest("ring_and_tables"))
		test_ring_and_tables(&t, &out);
	if (test__start_subtest("ring_change"))
		test_ring_change(&t, &out);
	if (test__start_subtest("inactive_backend"))
		test_inactive(&t, &out);
	if (test__start_subtest("json"))
		test_json(&t, &out);
	if (test__start_subtest("no_side_effects"))
		test_no_side_effects(&t, &out);
	if (test__start_subtest("refusals"))
		test_refusals(&t, &out);
out:
	teardown(&t);
	sb_free(&out);
}
