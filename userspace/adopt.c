// SPDX-License-Identifier: GPL-2.0
/* adopt.c - take over a pinned datapath left by an earlier lbd: read back
 * its VIPs, rings and backends, and give the model the same ids so the
 * adopted flow table keeps pointing at the right backends. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lbd.h"

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
	struct lbd *d;
	struct pinned_be *be;
	__u32 n_be;
};

static int adopt_vip(void *ctx, const struct xdplb_vip_key *k, const struct xdplb_vip_info *vi)
{
	struct lbd *d = ((struct adopt_ctx *)ctx)->d;
	struct vip_rt *vr;

	if (vi->flags & XDPLB_VIP_F_ECHO) {
		if (d->n_echo < LBD_MAX_ECHO)
			d->echo[d->n_echo++] = *k;
		return 0;
	}
	if (vi->vip_id >= XDPLB_MAX_VIPS)
		return 0;
	vr = &d->vip[vi->vip_id];
	vr->used = true;
	vr->key = *k;
	vr->ring = vi->ring;
	vr->ring_size = vi->ring_size;
	vr->ring_prev = vi->ring_prev;
	vr->ring_prev_size = vi->ring_prev_size;
	vr->written = *vi;
	vr->have_written = true;
	if (vi->ring < XDPLB_MAX_RINGS)
		d->ring_used[vi->ring] = 1;
	if (vi->ring_prev < XDPLB_MAX_RINGS)
		d->ring_used[vi->ring_prev] = 1;
	return 0;
}

static int adopt_backends(struct adopt_ctx *c)
{
	struct lbd *d = c->d;
	struct xdplb_backend_info be;
	struct be_rt *r;
	__u32 id;

	c->be = calloc(XDPLB_MAX_BACKENDS, sizeof(*c->be));
	if (!c->be)
		return -ENOMEM;
	for (id = 0; id < XDPLB_MAX_BACKENDS; id++) {
		if (dp_backend_get(&d->dp, id, &be) || !be.family)
			continue;
		r = &d->be[id];
		r->used = true;
		r->lbd = d;
		r->vip_id = be.vip_id;
		r->addr = be.addr;
		r->family = be.family;
		r->written = be;
		r->have_written = true;
		r->up = r->resolved = !!(be.flags & XDPLB_BE_F_ACTIVE);
		c->be[c->n_be++] = (struct pinned_be){ be.vip_id, be.family, be.addr, id };
	}
	qsort(c->be, c->n_be, sizeof(*c->be), pinned_be_cmp);
	return 0;
}

static long pinned_vip_id(void *ctx, const struct xdplb_vip *v)
{
	struct adopt_ctx *c = ctx;
	struct xdplb_vip_info vi;

	if (dp_vip_get(&c->d->dp, &v->key, &vi) || (vi.flags & XDPLB_VIP_F_ECHO))
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

int lbd_adopt_ids(struct lbd *d)
{
	struct adopt_ctx c = { .d = d };
	struct model_id_source src = { pinned_vip_id, pinned_be_id, &c };
	__u32 slot;
	int err;

	err = dp_vips_for_each(&d->dp, adopt_vip, &c);
	if (!err)
		err = adopt_backends(&c);
	if (!err && model_assign_ids(&d->model, &src))
		err = -ENOMEM;
	free(c.be);
	if (err)
		return err;
	/* rings no VIP names are leftovers of an interrupted update */
	for (slot = 0; slot < XDPLB_MAX_RINGS; slot++)
		if (!d->ring_used[slot])
			dp_ring_clear(&d->dp, slot);
	d->adopting = true;
	return 0;
}
