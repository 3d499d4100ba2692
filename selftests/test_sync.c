// SPDX-License-Identifier: GPL-2.0
/* test_sync.c - sync's run-time state through its functions: what adoption
 * records and the first sync keeps, and unresolved backends left to the
 * stepped refresh instead of looked up inside a sync.  No neighbour module:
 * every lookup fails, as for a backend with no route. */
#include <errno.h>
#include <string.h>
#include <netinet/in.h>

#include "test_progs.h"
#include "adopt.h"
#include "fixture.h"
#include "sync.h"

#define VIP "10.0.0.100:80/tcp"

struct sctx {
	struct xdplb_model m;
	struct dp dp;
	struct loop *l;
	struct sync *s;
};

static int sctx_open(struct sctx *c)
{
	struct sync_env env = { .dp = &c->dp, .model = &c->m };

	memset(c, 0, sizeof(*c));
	model_init(&c->m);
	c->l = env.loop = loop_new();
	if (!c->l || fix_open(&c->dp))
		return -1;
	c->s = sync_open(&env);
	return c->s ? 0 : -1;
}

static void sctx_close(struct sctx *c)
{
	sync_close(c->s);
	loop_free(c->l);
	if (c->dp.skel)
		dp_close(&c->dp);
	model_free(&c->m);
}

/* The model's backend of VIP at address a. */
static const struct xdplb_backend *be_of(struct sctx *c, const char *a)
{
	union xdplb_addr addr;

	pkt_addr(4, a, &addr);
	return model_find_backend(&c->m.vips[0], &addr, XDPLB_AF_INET);
}

static int run(struct sctx *c)
{
	char err[256];
	int ret = sync_run(c->s, err, sizeof(err));

	if (ret)
		fprintf(stderr, "sync: %s\n", err);
	return ret;
}

TEST(sync_lookups_queued)
{
	struct sctx c;
	struct sync_stats st;
	int turns;

	if (!ASSERT_OK(sctx_open(&c), "open") ||
	    !ASSERT_OK(fix_apply(&c.m, "vip add " VIP), "vip") ||
	    !ASSERT_OK(fix_apply(&c.m, "backend add " VIP " 10.0.1.1"), "backend 1") ||
	    !ASSERT_OK(fix_apply(&c.m, "backend add " VIP " 10.0.1.2"), "backend 2"))
		goto out;
	ASSERT_OK(run(&c), "first sync");
	st = sync_stats(c.s);
	ASSERT_EQ(st.lookups, 2, "the first sync looks every backend up");
	ASSERT_EQ(st.lookups_queued, 0, "nothing queued");
	ASSERT_STREQ(sync_backend_status(c.s, &c.m.vips[0].backends[0]), "unresolved", "status");
	ASSERT_EQ(sync_backend(c.s, c.m.vips[0].backends[0].id).resolve_err, -ENOENT, "why");

	ASSERT_OK(run(&c), "second sync");
	ASSERT_OK(run(&c), "third sync");
	st = sync_stats(c.s);
	ASSERT_EQ(st.lookups, 2, "no lookup inside the later syncs");
	ASSERT_EQ(st.lookups_queued, 2, "both unresolved backends queued, once");

	for (turns = 0; turns < 100000 && sync_stats(c.s).lookups_queued; turns++)
		loop_once(c.l, 0);
	st = sync_stats(c.s);
	ASSERT_EQ(st.lookups_queued, 0, "the refresh took the queue");
	ASSERT_EQ(st.lookups, 4, "each looked up once more, by the refresh");

	/* a backend a change adds is looked up by the sync that adds it */
	ASSERT_OK(fix_apply(&c.m, "backend add " VIP " 10.0.1.3"), "backend 3");
	ASSERT_OK(run(&c), "sync adding one");
	st = sync_stats(c.s);
	ASSERT_EQ(st.lookups, 5, "the new backend looked up at once");
	ASSERT_EQ(st.lookups_queued, 2, "the other two queued again");
	ASSERT_TRUE(sync_backend(c.s, c.m.vips[0].backends[2].id).known, "the new one known");
out:
	sctx_close(&c);
}

TEST(sync_adopt)
{
	struct xdplb_backend_info bi;
	struct sync_backend_state b;
	struct sync_vip_state v;
	struct sctx c;
	const __u32 vid = 3, ids[2] = { 7, 9 };

	/* what an earlier lbd left pinned: VIP id 3 on ring slot 6, backend
	 * 7 active, backend 9 not */
	if (!ASSERT_OK(sctx_open(&c), "open") ||
	    !ASSERT_OK(fix_vip(&c.dp, 4, "10.0.0.100", 80, IPPROTO_TCP, XDPLB_METHOD_L2, vid, 0),
		       "pinned vip") ||
	    !ASSERT_OK(fix_backend(&c.dp, ids[0], vid, 4, "10.0.1.1", MAC_BE[0], true), "be 7") ||
	    !ASSERT_OK(fix_backend(&c.dp, ids[1], vid, 4, "10.0.1.2", MAC_BE[1], false), "be 9") ||
	    !ASSERT_OK(fix_ring(&c.dp, 2 * vid, ids, 1), "pinned ring") ||
	    !ASSERT_OK(fix_apply(&c.m, "vip add " VIP), "vip") ||
	    !ASSERT_OK(fix_apply(&c.m, "backend add " VIP " 10.0.1.2"), "backend 2") ||
	    !ASSERT_OK(fix_apply(&c.m, "backend add " VIP " 10.0.1.1"), "backend 1"))
		goto out;
	if (!ASSERT_OK(adopt_ids(&c.dp, &c.m, c.s), "adopt"))
		goto out;
	ASSERT_EQ(c.m.vips[0].id, vid, "the model takes the pinned VIP id");
	ASSERT_EQ(be_of(&c, "10.0.1.1")->id, ids[0], "and the pinned backend ids,");
	ASSERT_EQ(be_of(&c, "10.0.1.2")->id, ids[1], "by address");
	v = sync_vip(c.s, vid);
	ASSERT_EQ(v.ring, 2 * vid, "adopted ring slot");
	ASSERT_EQ(v.ring_size, FIX_RING_M, "adopted ring size");
	b = sync_backend(c.s, ids[0]);
	ASSERT_TRUE(b.known && b.healthy && b.resolved, "the active backend: up");
	b = sync_backend(c.s, ids[1]);
	ASSERT_TRUE(b.known && !b.healthy && !b.resolved, "the inactive one: not");
	ASSERT_FALSE(sync_backend(c.s, 8).known, "no backend 8");

	/* the first sync: no neighbour answers, the adopted MAC stays */
	if (!ASSERT_OK(run(&c), "first sync"))
		goto out;
	b = sync_backend(c.s, ids[0]);
	ASSERT_TRUE(b.resolved, "still resolved");
	ASSERT_MEMEQ(b.mac, 6, MAC_BE[0], 6, "with the adopted MAC");
	ASSERT_STREQ(sync_backend_status(c.s, be_of(&c, "10.0.1.1")), "up", "status");
	ASSERT_STREQ(sync_backend_status(c.s, be_of(&c, "10.0.1.2")), "unresolved", "the other's");
	ASSERT_OK(dp_backend_get(&c.dp, ids[0], &bi), "entry");
	ASSERT_TRUE(bi.flags & XDPLB_BE_F_ACTIVE, "entry still active");
	v = sync_vip(c.s, vid);
	ASSERT_EQ(v.up, 1, "one ring member");
	ASSERT_EQ(v.rebuilds, 1, "its ring rebuilt once");
	ASSERT_NEQ(v.ring, 2 * vid, "into another slot: the adopted one is the previous ring");
	ASSERT_EQ(v.ring_size, XDPLB_DEFAULT_RING_SIZE, "of the model's size");
	ASSERT_NEQ(v.fingerprint, 0, "a fingerprint");
	ASSERT_EQ(sync_stats(c.s).ring_rebuilds, 1, "one rebuild in all");
	ASSERT_EQ(sync_vip(c.s, vid + 1).ring, XDPLB_NO_RING, "no VIP 4: no ring");
out:
	sctx_close(&c);
}
