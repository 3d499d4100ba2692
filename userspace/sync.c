// SPDX-License-Identifier: GPL-2.0
/* sync.c - derive the datapath from the model and the run-time state.
 *
 * lbd_sync() reconciles everything, by id: a backend's map entry (active =
 * healthy and resolved; MACs from the neighbour table), each VIP's Maglev
 * ring (rebuilt only when its members or weights changed, written to a free
 * ring slot and switched in one VIP map update, the old ring kept as the
 * previous one), the VIP entries, and one echo key per VIP address.
 * Removal runs after the rings no longer name what is removed.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "entries.h"
#include "lbd.h"
#include "maglev.h"

void lbd_log(const char *fmt, ...)
{
	char ts[32];
	struct timespec now;
	struct tm tm;
	va_list ap;

	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	fprintf(stderr, "%s.%03ldZ lbd: ", ts, now.tv_nsec / 1000000);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int lbd_rt_init(struct lbd *d)
{
	__u32 i;

	d->be = calloc(XDPLB_MAX_BACKENDS, sizeof(*d->be));
	d->vip = calloc(XDPLB_MAX_VIPS, sizeof(*d->vip));
	d->ring_used = calloc(XDPLB_MAX_RINGS, 1);
	d->table = malloc(sizeof(*d->table) * XDPLB_MAX_RING_SIZE);
	d->echo = calloc(LBD_MAX_ECHO, sizeof(*d->echo));
	if (!d->be || !d->vip || !d->ring_used || !d->table || !d->echo)
		return -ENOMEM;
	for (i = 0; i < XDPLB_MAX_VIPS; i++)
		d->vip[i].ring = d->vip[i].ring_prev = XDPLB_NO_RING;
	return 0;
}

void lbd_rt_free(struct lbd *d)
{
	__u32 i;

	if (d->be)
		for (i = 0; i < XDPLB_MAX_BACKENDS; i++)
			hc_stop(d->be[i].hc);
	free(d->be);
	free(d->vip);
	free(d->ring_used);
	free(d->table);
	free(d->echo);
	d->be = NULL;
	d->vip = NULL;
}

static __u64 fnv(__u64 h, const void *p, size_t len)
{
	const __u8 *b = p;

	while (len--)
		h = (h ^ *b++) * 0x100000001b3ull;
	return h;
}

/* ---- backends ---- */

static void hc_changed(void *arg, bool up)
{
	struct be_rt *r = arg;
	char a[XDPLB_ADDR_STRLEN];

	r->up = up;
	r->changed_ms = loop_now_ms();
	lbd_log("backend %s (id %u): health %s%s%s", addr_format(&r->addr, r->family, a, sizeof(a)),
		(unsigned int)(r - r->lbd->be), up ? "up" : "down", up ? "" : ": ",
		up ? "" : hc_last_error(r->hc));
	lbd_sync_soon(r->lbd);
}

static __u64 check_sig(const struct xdplb_vip *v)
{
	const struct xdplb_vip_opts *o = &v->opts;
	__u64 h = 0xcbf29ce484222325ull;

	h = fnv(h, &o->check, sizeof(o->check));
	h = fnv(h, o->check_path, strlen(o->check_path));
	h = fnv(h, &o->interval_ms, sizeof(o->interval_ms));
	h = fnv(h, &o->timeout_ms, sizeof(o->timeout_ms));
	h = fnv(h, &o->fall, sizeof(o->fall));
	h = fnv(h, &o->rise, sizeof(o->rise));
	return fnv(h, &v->key.port, sizeof(v->key.port));
}

static void be_check_start(struct lbd *d, const struct xdplb_vip *v, struct be_rt *r)
{
	struct hc_params p = { .type = (enum hc_type)v->opts.check,
			       .interval_ms = v->opts.interval_ms,
			       .timeout_ms = v->opts.timeout_ms,
			       .fall = v->opts.fall, .rise = v->opts.rise, .start_up = r->up };
	struct hc_target t = { .family = r->family, .addr = r->addr,
			       .port = ntohs(v->key.port) };

	hc_stop(r->hc);
	r->hc = NULL;
	r->hc_sig = check_sig(v);
	if (v->opts.check == XDPLB_CHECK_NONE) {
		r->up = true;
		return;
	}
	snprintf(p.path, sizeof(p.path), "%s", v->opts.check_path);
	r->hc = hc_start(d->loop, &t, &p, hc_changed, r);
	if (!r->hc) {
		lbd_log("cannot start the health check: %s", strerror(errno));
		r->up = false;
		return;
	}
	r->up = hc_is_up(r->hc);
}

/* Where the backend's packets go: its MAC (l2) or the next hop's. */
static void be_resolve(struct lbd *d, const struct xdplb_vip *v, struct be_rt *r)
{
	union xdplb_addr a = r->addr;
	int err = -ENOENT;

	if (d->neigh)
		err = neigh_resolve(d->neigh, r->family, &a, v->opts.method == XDPLB_METHOD_L2,
				    &r->nr);
	if (err && d->adopting && r->have_written && (r->written.flags & XDPLB_BE_F_ACTIVE)) {
		/* keep the adopted MAC until the neighbour table answers */
		memcpy(r->nr.mac, r->written.mac, 6);
		memcpy(r->nr.src_mac, r->written.src_mac, 6);
		r->nr.ifindex = r->written.ifindex ? r->written.ifindex : (__u32)d->ifindex;
		err = 0;
	}
	r->resolved = !err;
	r->resolve_err = err;
}

static void be_rt_reset(struct lbd *d, const struct xdplb_vip *v, const struct xdplb_backend *b,
			struct be_rt *r)
{
	bool adopted_up = r->used && r->have_written && r->vip_id == v->id &&
			  r->family == b->family && !memcmp(&r->addr, &b->addr, sizeof(b->addr)) &&
			  (r->written.flags & XDPLB_BE_F_ACTIVE);

	hc_stop(r->hc);
	if (!adopted_up)
		memset(r, 0, sizeof(*r));
	r->hc = NULL;
	r->used = true;
	r->lbd = d;
	r->vip_id = v->id;
	r->addr = b->addr;
	r->family = b->family;
	r->up = adopted_up;
	r->changed_ms = loop_now_ms();
	be_check_start(d, v, r);
}

static bool be_rt_matches(const struct be_rt *r, const struct xdplb_vip *v,
			  const struct xdplb_backend *b)
{
	return r->used && r->vip_id == v->id && r->family == b->family &&
	       !memcmp(&r->addr, &b->addr, sizeof(b->addr)) && r->hc_sig == check_sig(v);
}

static int be_write(struct lbd *d, const struct xdplb_vip *v, const struct xdplb_backend *b,
		    struct be_rt *r)
{
	struct xdplb_backend_info be;
	__u32 id = b->id;
	int err;

	entry_backend(v, b, r->up, r->resolved ? &r->nr : NULL, d->ifindex, &be);
	if (be.flags & XDPLB_BE_F_REDIRECT) {
		err = dp_txport_add(&d->dp, be.ifindex); /* the map is not pinned: refill */
		if (err)
			return err;
	}
	if (r->have_written && !memcmp(&be, &r->written, sizeof(be)))
		return 0;
	err = dp_backend_set(&d->dp, id, &be);
	if (err)
		return err;
	r->written = be;
	r->have_written = true;
	return 0;
}

static int be_drop(struct lbd *d, __u32 id)
{
	struct xdplb_backend_info zero = { 0 };
	struct be_rt *r = &d->be[id];
	__u32 vip_id = r->vip_id;
	int err;

	hc_stop(r->hc);
	r->hc = NULL; /* hc_stop frees it */
	err = dp_backend_set(&d->dp, id, &zero);
	/* after the entry is inactive, so nothing counts on the id any more */
	if (!err && vip_id < XDPLB_MAX_VIPS)
		err = dp_backend_retire(&d->dp, id, vip_id);
	/* forgotten only once the map agrees: a failed write is retried by
	 * the next sync (the backend is still `used` and in no VIP) */
	if (!err)
		memset(r, 0, sizeof(*r));
	return err;
}

/* ---- rings ---- */

/* A free slot for a ring of m entries: one whose array can be rewritten
 * in place if there is one (no RCU wait, see dataplane.c), else the first. */
static __u32 ring_slot_take(struct lbd *d, __u32 m)
{
	__u32 i, first = XDPLB_NO_RING;

	for (i = 0; i < XDPLB_MAX_RINGS; i++) {
		if (d->ring_used[i])
			continue;
		if (first == XDPLB_NO_RING)
			first = i;
		if (dp_ring_reusable(&d->dp, i, m)) {
			first = i;
			break;
		}
	}
	if (first != XDPLB_NO_RING)
		d->ring_used[first] = 1;
	return first;
}

static void ring_slot_free(struct lbd *d, __u32 slot)
{
	if (slot == XDPLB_NO_RING || slot >= XDPLB_MAX_RINGS)
		return;
	dp_ring_clear(&d->dp, slot);
	d->ring_used[slot] = 0;
}

/* Members of the ring: weight > 0, healthy, resolved. */
static __u32 ring_members(struct lbd *d, const struct xdplb_vip *v, struct maglev_backend *mb,
			  __u64 *sig)
{
	__u32 i, n = 0;

	*sig = fnv(0xcbf29ce484222325ull, &v->opts.ring_size, sizeof(v->opts.ring_size));
	for (i = 0; i < v->n_backends; i++) {
		const struct xdplb_backend *b = &v->backends[i];
		const struct be_rt *r = &d->be[b->id];

		if (!b->weight || !r->up || !r->resolved)
			continue;
		mb[n] = (struct maglev_backend){ .addr = b->addr, .family = b->family,
						 .weight = b->weight, .id = b->id };
		*sig = fnv(*sig, &mb[n], sizeof(mb[n]));
		n++;
	}
	return n;
}

/* What the ring says, as addresses: the same on every node whose ring
 * picks the same backends, whatever ids they have there. */
static __u64 ring_fingerprint(const struct lbd *d, __u32 m)
{
	__u64 h = 0xcbf29ce484222325ull;
	__u32 i, id;

	if (d->table[0] == XDPLB_NO_BACKEND)
		return 0;
	h = fnv(h, &m, sizeof(m));
	for (i = 0; i < m; i++) {
		id = d->table[i];
		h = fnv(h, &d->be[id].family, 1);
		h = fnv(h, &d->be[id].addr, d->be[id].family == XDPLB_AF_INET ? 4 : 16);
	}
	return h ? h : 1;
}

/* Build the ring anew if its members changed; *retired is the slot of the
 * ring that stops being the previous one, to free once the VIP entry no
 * longer names it. */
static int vip_ring(struct lbd *d, const struct xdplb_vip *v, struct vip_rt *vr, __u32 *retired)
{
	struct maglev_backend *mb = calloc(v->n_backends + 1, sizeof(*mb));
	__u32 n, slot;
	__u64 sig;
	int err;

	if (!mb)
		return -ENOMEM;
	n = ring_members(d, v, mb, &sig);
	vr->up = n;
	if (vr->ring != XDPLB_NO_RING && sig == vr->ring_sig) {
		free(mb);
		return 0;
	}
	err = maglev_build(mb, n, v->opts.ring_size, d->table);
	free(mb);
	if (err)
		return err;
	slot = ring_slot_take(d, v->opts.ring_size);
	if (slot == XDPLB_NO_RING)
		return -ENOSPC;
	err = dp_ring_set(&d->dp, slot, d->table, v->opts.ring_size);
	if (err) {
		d->ring_used[slot] = 0;
		return err;
	}
	*retired = vr->ring_prev;
	vr->ring_prev = vr->ring;
	vr->ring_prev_size = vr->ring_size;
	vr->ring = slot;
	vr->ring_size = v->opts.ring_size;
	vr->ring_sig = sig;
	vr->fingerprint = ring_fingerprint(d, vr->ring_size);
	vr->rebuilds++;
	d->ring_rebuilds++;
	return 0;
}

static int vip_write(struct lbd *d, const struct xdplb_vip *v, struct vip_rt *vr)
{
	struct xdplb_vip_info vi;
	int err;

	entry_vip(v, vr->ring, vr->ring_size, vr->ring_prev, vr->ring_prev_size, &vi);
	if (vr->have_written && !memcmp(&vi, &vr->written, sizeof(vi)))
		return 0;
	err = dp_vip_set(&d->dp, &v->key, &vi);
	if (!err) {
		vr->written = vi;
		vr->have_written = true;
	}
	return err;
}

/* ---- VIPs ---- */

static void vip_rt_reset(struct vip_rt *vr, const struct xdplb_vip *v)
{
	memset(vr, 0, sizeof(*vr));
	vr->used = true;
	vr->key = v->key;
	vr->ring = vr->ring_prev = XDPLB_NO_RING;
}

static int vip_sync(struct lbd *d, const struct xdplb_vip *v)
{
	struct vip_rt *vr = &d->vip[v->id];
	__u32 i, retired = XDPLB_NO_RING;
	int err;

	if (!vr->used || vip_key_cmp(&vr->key, &v->key))
		vip_rt_reset(vr, v);
	for (i = 0; i < v->n_backends; i++) {
		const struct xdplb_backend *b = &v->backends[i];
		struct be_rt *r = &d->be[b->id];

		bool fresh = !be_rt_matches(r, v, b);

		if (fresh)
			be_rt_reset(d, v, b, r);
		/* netlink only when something may have changed (or is missing);
		 * neigh.c calls `changed` at least every 30 s, which keeps every
		 * backend's next hop followed */
		if (fresh || !r->resolved || d->resolve_all)
			be_resolve(d, v, r);
		err = be_write(d, v, b, r);
		if (err)
			return err;
	}
	/* a slot retired by an earlier sync whose VIP write failed: the map
	 * entry may still name it, so it is freed only after a write */
	if (vr->retired_pending) {
		err = vip_write(d, v, vr);
		if (err)
			return err;
		ring_slot_free(d, vr->retired);
		vr->retired_pending = false;
	}
	err = vip_ring(d, v, vr, &retired);
	if (!err)
		err = vip_write(d, v, vr);
	if (err && retired != XDPLB_NO_RING) {
		vr->retired = retired;
		vr->retired_pending = true;
	} else {
		ring_slot_free(d, retired);
	}
	return err;
}

static int vip_drop(struct lbd *d, __u32 id)
{
	struct vip_rt *vr = &d->vip[id];
	int err = dp_vip_del(&d->dp, &vr->key);

	if (err == -ENOENT)
		err = 0;
	if (!err)
		err = dp_vip_counters_reset(&d->dp, id);
	if (!err)
		err = dp_hll_clear_vip(&d->dp, id);
	/* the entry may still name its rings: keep them and the VIP for the
	 * next sync to retry (a deleted entry then answers -ENOENT) */
	if (err)
		return err;
	if (vr->retired_pending)
		ring_slot_free(d, vr->retired);
	ring_slot_free(d, vr->ring);
	ring_slot_free(d, vr->ring_prev);
	memset(vr, 0, sizeof(*vr));
	vr->ring = vr->ring_prev = XDPLB_NO_RING;
	return 0;
}

/* ---- echo keys: one per VIP address, so the forwarder answers pings and
 * knows the address is a VIP's (fragments, short headers). ---- */

static bool model_has_addr(const struct xdplb_model *m, const struct xdplb_vip_key *e)
{
	struct xdplb_vip_key k;
	__u32 i;

	for (i = 0; i < m->n_vips; i++) {
		entry_echo_key(&m->vips[i].key, &k);
		if (!memcmp(&k, e, sizeof(k)))
			return true;
	}
	return false;
}

static bool echo_present(const struct lbd *d, const struct xdplb_vip_key *k)
{
	__u32 i;

	for (i = 0; i < d->n_echo; i++)
		if (!memcmp(&d->echo[i], k, sizeof(*k)))
			return true;
	return false;
}

static int echo_sync(struct lbd *d)
{
	struct xdplb_vip_info vi;
	struct xdplb_vip_key k;
	__u32 i;
	int err;

	entry_echo(&vi);
	for (i = 0; i < d->n_echo;) {
		if (model_has_addr(&d->model, &d->echo[i])) {
			i++;
			continue;
		}
		err = dp_vip_del(&d->dp, &d->echo[i]);
		if (err && err != -ENOENT)
			return err;
		d->echo[i] = d->echo[--d->n_echo];
	}
	for (i = 0; i < d->model.n_vips; i++) {
		entry_echo_key(&d->model.vips[i].key, &k);
		if (echo_present(d, &k))
			continue;
		if (d->n_echo >= LBD_MAX_ECHO)
			return -ENOSPC;
		err = dp_vip_set(&d->dp, &k, &vi);
		if (err)
			return err;
		d->echo[d->n_echo++] = k;
	}
	return 0;
}

/* ---- the whole ---- */

static int drop_stale(struct lbd *d)
{
	__u8 *vip_seen = calloc(XDPLB_MAX_VIPS, 1), *be_seen = calloc(XDPLB_MAX_BACKENDS, 1);
	__u32 i, j;
	int err = 0;

	if (!vip_seen || !be_seen) {
		err = -ENOMEM;
		goto out;
	}
	for (i = 0; i < d->model.n_vips; i++) {
		vip_seen[d->model.vips[i].id] = 1;
		for (j = 0; j < d->model.vips[i].n_backends; j++)
			be_seen[d->model.vips[i].backends[j].id] = 1;
	}
	/* backends first: a dropped backend's counters go to its VIP's kept
	 * sum, which must be gone too if the VIP goes */
	for (i = 0; i < XDPLB_MAX_BACKENDS && !err; i++)
		if (d->be[i].used && !be_seen[i])
			err = be_drop(d, i);
	for (i = 0; i < XDPLB_MAX_VIPS && !err; i++)
		if (d->vip[i].used && !vip_seen[i])
			err = vip_drop(d, i);
out:
	free(vip_seen);
	free(be_seen);
	return err;
}

int lbd_sync(struct lbd *d, char *err, size_t errlen)
{
	char vs[XDPLB_VIP_STRLEN];
	__u32 i;
	int ret;

	loop_timer_cancel(d->loop, &d->sync_timer);
	for (i = 0; i < d->model.n_vips; i++) {
		ret = vip_sync(d, &d->model.vips[i]);
		if (ret) {
			snprintf(err, errlen, "cannot update the datapath for VIP %s: %s",
				 vip_format(&d->model.vips[i].key, vs, sizeof(vs)), strerror(-ret));
			return ret;
		}
	}
	ret = echo_sync(d);
	if (!ret)
		ret = drop_stale(d);
	if (!ret) /* the echo keys are the addresses in the datapath: one each */
		ret = dp_vip_filter_sync(&d->dp, d->echo, d->n_echo);
	if (ret)
		snprintf(err, errlen, "cannot update the datapath: %s", strerror(-ret));
	lbd_announce(d);
	d->adopting = false;
	if (!ret)
		d->resolve_all = false;
	return ret;
}

static void sync_timer_fired(struct loop_timer *t)
{
	struct lbd *d = (void *)((char *)t - offsetof(struct lbd, sync_timer));
	char err[256];

	if (lbd_sync(d, err, sizeof(err)))
		lbd_log("%s", err);
}

/* Health and neighbour events come in bursts: apply them together, and at
 * most every LBD_SYNC_DELAY_MS (ring rebuilds are rate-limited by this). */
void lbd_sync_soon(struct lbd *d)
{
	d->sync_timer.cb = sync_timer_fired;
	if (!loop_timer_armed(&d->sync_timer))
		loop_timer_set(d->loop, &d->sync_timer, LBD_SYNC_DELAY_MS);
}

const char *be_state(const struct lbd *d, const struct xdplb_backend *b)
{
	const struct be_rt *r = &d->be[b->id];

	if (!r->used)
		return "new";
	if (!r->resolved)
		return "unresolved";
	if (!r->up)
		return "down";
	return b->weight ? "up" : "draining";
}
