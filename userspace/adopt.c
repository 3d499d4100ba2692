// SPDX-License-Identifier: GPL-2.0
/* adopt.c - take over a pinned datapath left by an earlier lbd: read back
 * its VIPs, rings and backends, and give the model the same ids so the
 * adopted flow table keeps pointing at the right backends. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "adopt.h"

struct pinned_be {
	__u32 vip_id;
	__u8 family;
	union xdplb_addr addr;
	__u32 id;
};

static int pinned_be_cmp(const void *a, const void *b)
{
	const struct pinned_be *x = a, *y = b;

	if (x->vip_id != y->vip_id)
		return x->vip_id < y->vip_id ? -1 : 1;
	if (x->family != y->family)
		return x->family < y->family ? -1 : 1;
	return memcmp(&x->addr, &y->addr, sizeof(x->addr));
}

struct adopt_ctx {
	const struct dp *dp;
	struct sync *sync;
	struct pinned_be *be;
	__u32 n_be;
};

static int adopt_vip(void *ctx, const struct xdplb_vip_key *k, const struct xdplb_vip_info *vi)
{
	sync_adopt_vip(((struct adopt_ctx *)ctx)->sync, k, vi);
	return 0;
}

static int adopt_backends(struct adopt_ctx *c)
{
	struct xdplb_backend_info be;
	__u32 id;

	c->be = calloc(XDPLB_MAX_BACKENDS, sizeof(*c->be));
	if (!c->be)
		return -ENOMEM;
	for (id = 0; id < XDPLB_MAX_BACKENDS; id++) {
		if (dp_backend_get(c->dp, id, &be) || !be.family)
			continue;
		sync_adopt_backend(c->sync, id, &be);
		c->be[c->n_be++] = (struct pinned_be){ be.vip_id, be.family, be.addr, id };
	}
	qsort(c->be, c->n_be, sizeof(*c->be), pinned_be_cmp);
	return 0;
}

static long pinned_vip_id(void *ctx, const struct xdplb_vip *v)
{
	struct adopt_ctx *c = ctx;
	struct xdplb_vip_info vi;

	if (dp_vip_get(c->dp, &v->key, &vi) || (vi.flags & XDPLB_VIP_F_ECHO))
		return -1;
	return vi.vip_id;
}

static long pinned_be_id(void *ctx, const struct xdplb_vip *v, const struct xdplb_backend *b)
{
	struct adopt_ctx *c = ctx;
	struct pinned_be k = { .vip_id = v->id, .family = b->family, .addr = b->addr }, *hit;

	hit = bsearch(&k, c->be, c->n_be, sizeof(k), pinned_be_cmp);
	return hit ? (long)hit->id : -1;
}

int adopt_ids(const struct dp *dp, struct xdplb_model *m, struct sync *sync)
{
	struct adopt_ctx c = { .dp = dp, .sync = sync };
	struct model_id_source src = { pinned_vip_id, pinned_be_id, &c };
	int err;

	err = dp_vips_for_each(dp, adopt_vip, &c);
	if (!err)
		err = adopt_backends(&c);
	if (!err && model_assign_ids(m, &src))
		err = -ENOMEM;
	free(c.be);
	if (!err)
		sync_adopt_done(sync);
	return err;
}
