// SPDX-License-Identifier: GPL-2.0
/* sync.c - derive the datapath from the model and the run-time state.
 *
 * sync_run() reconciles everything, by id: a backend's map entry (active =
 * healthy and resolved; MACs from the neighbour table), each VIP's Maglev
 * ring (rebuilt only when its members or weights changed, written to a free
 * ring slot and switched in one VIP map update, the old ring kept as the
 * previous one), the VIP entries, and one echo key per VIP address.
 * Removal runs after the rings no longer name what is removed.
 *
 * The run-time state behind it is this file's alone: what each backend id
 * and VIP id is at run time, the ring slots in use, the entries last
 * written (a sync writes only what differs), the echo keys, and the passes
 * that look backends' next hops up again after neighbour events.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "container_of.h"
#include "counters.h"
#include "entries.h"
#include "health.h"
#include "log.h"
#include "maglev.h"
#include "sync.h"
#include "textform.h"

#define SYNC_MAX_ECHO	     XDPLB_MAX_VIPS
#define SYNC_REFRESH_TURN_US 1000 /* lookups per loop turn: about this long */
#define SYNC_REFRESH_SCAN    4096 /* backend ids visited per loop turn, at most */
/* Besides enum neigh_change: a pass for the backends a sync queued. */
#define REFRESH_QUEUED (1u << 16)

/* A backend id's run-time state (indexed by backend id). */
struct be_rt {
	bool used;
	__u32 vip_id;
	union xdplb_addr addr;
	__u8 family;
	struct hc *hc;		/* NULL for `check none` */
	bool up;		/* health */
	bool resolved;		/* neighbour known */
	int resolve_err;	/* why not: -EAGAIN, -ENETUNREACH, ... */
	struct neigh_result nr;
	bool lookup_queued;	/* by a sync, for the next refresh pass */
	__u64 hc_sig;		/* the check parameters hc was started with */
	__u64 changed_ms;	/* last health change */
	struct xdplb_backend_info written; /* last value written to the map */
	bool have_written;
	struct sync *s;
};

/* A VIP id's run-time state (indexed by VIP id). */
struct vip_rt {
	bool used;
	struct xdplb_vip_key key;
	__u32 ring, ring_size;		  /* XDPLB_NO_RING when none */
	__u32 ring_prev, ring_prev_size;
	__u64 ring_sig;			  /* members and weights of the current ring */
	__u32 retired;			  /* a ring slot to free after the next VIP write */
	bool retired_pending;
	struct xdplb_vip_info written;
	bool have_written;
	__u64 rebuilds;
	__u32 up;			  /* ring members: weight > 0, healthy, resolved */
	__u64 fingerprint;		  /* of the current ring's backend addresses; 0: empty */
};

/* Backends' next hops looked up again after neighbour, route or link
 * events, in passes over every backend id, each in steps of about
 * SYNC_REFRESH_TURN_US of lookups per loop turn, resumed on a zero-delay
 * timer. */
struct refresh {
	struct loop_timer timer;
	unsigned int why;     /* enum neigh_change: what the pass answers; 0: none */
	unsigned int pending; /* what the next pass answers (events during this one) */
	__u32 next;	      /* the backend id to visit next */
	__u32 left;	      /* ids still to visit, from next on (wrapping) */
	__u32 seen, looked, changed, turns; /* this pass: backends, lookups, new results */
	__u64 started_ms, longest_us;
};

struct sync {
	struct sync_env env;
	struct be_rt *be;	    /* [XDPLB_MAX_BACKENDS] */
	struct vip_rt *vip;	    /* [XDPLB_MAX_VIPS] */
	__u8 *ring_used;	    /* [XDPLB_MAX_RINGS] */
	__u32 *table;		    /* [XDPLB_MAX_RING_SIZE] scratch */
	struct xdplb_vip_key *echo; /* echo keys present in the datapath */
	__u32 n_echo;
	struct loop_timer timer;    /* sync_soon() */
	bool adopting;		    /* first sync after adopting a pinned datapath */
	bool resolve_all;	    /* the first sync (at start) looks every backend up */
	struct refresh refresh;
	__u64 ring_rebuilds, lookups;
};

struct sync *sync_open(const struct sync_env *env)
{
	struct sync *s = calloc(1, sizeof(*s));
	__u32 i;

	if (!s)
		return NULL;
	s->env = *env;
	s->resolve_all = true;
	s->be = calloc(XDPLB_MAX_BACKENDS, sizeof(*s->be));
	s->vip = calloc(XDPLB_MAX_VIPS, sizeof(*s->vip));
	s->ring_used = calloc(XDPLB_MAX_RINGS, 1);
	s->table = malloc(sizeof(*s->table) * XDPLB_MAX_RING_SIZE);
	s->echo = calloc(SYNC_MAX_ECHO, sizeof(*s->echo));
	if (!s->be || !s->vip || !s->ring_used || !s->table || !s->echo) {
		sync_close(s);
		return NULL;
	}
	for (i = 0; i < XDPLB_MAX_VIPS; i++)
		s->vip[i].ring = s->vip[i].ring_prev = XDPLB_NO_RING;
	return s;
}

void sync_close(struct sync *s)
{
	__u32 i;

	if (!s)
		return;
	if (s->env.loop) {
		loop_timer_cancel(s->env.loop, &s->timer);
		loop_timer_cancel(s->env.loop, &s->refresh.timer);
	}
	if (s->be)
		for (i = 0; i < XDPLB_MAX_BACKENDS; i++)
			hc_stop(s->be[i].hc);
	free(s->be);
	free(s->vip);
	free(s->ring_used);
	free(s->table);
	free(s->echo);
	free(s);
}

static void refresh_start(struct sync *s, unsigned int what);

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
		(unsigned int)(r - r->s->be), up ? "up" : "down", up ? "" : ": ",
		up ? "" : hc_last_error(r->hc));
	sync_soon(r->s);
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

static void be_check_start(struct sync *s, const struct xdplb_vip *v, struct be_rt *r)
{
	struct hc_params p = { .type = v->opts.check,
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
	r->hc = hc_start(s->env.loop, &t, &p, hc_changed, r);
	if (!r->hc) {
		lbd_log("cannot start the health check: %s", strerror(errno));
		r->up = false;
		return;
	}
	r->up = hc_is_up(r->hc);
}

/* Where backend r's packets go, asked of the neighbour module: its MAC
 * (l2) or the next hop's. */
static int nexthop_lookup(struct sync *s, const struct be_rt *r, const struct xdplb_vip *v,
			  struct neigh_result *nr)
{
	union xdplb_addr a = r->addr;

	s->lookups++;
	if (!s->env.neigh) {
		memset(nr, 0, sizeof(*nr));
		return -ENOENT;
	}
	return neigh_resolve(s->env.neigh, r->family, &a, v->opts.method == XDPLB_METHOD_L2, nr);
}

static void be_resolve(struct sync *s, const struct xdplb_vip *v, struct be_rt *r)
{
	int err = nexthop_lookup(s, r, v, &r->nr);

	r->lookup_queued = false;
	if (err && s->adopting && r->have_written && (r->written.flags & XDPLB_BE_F_ACTIVE)) {
		/* keep the adopted MAC until the neighbour table answers */
		memcpy(r->nr.mac, r->written.mac, 6);
		memcpy(r->nr.src_mac, r->written.src_mac, 6);
		r->nr.ifindex = r->written.ifindex ? r->written.ifindex : (__u32)s->env.ifindex;
		err = 0;
	}
	r->resolved = !err;
	r->resolve_err = err;
}

static void be_rt_reset(struct sync *s, const struct xdplb_vip *v, const struct xdplb_backend *b,
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
	r->s = s;
	r->vip_id = v->id;
	r->addr = b->addr;
	r->family = b->family;
	r->up = adopted_up;
	r->changed_ms = loop_now_ms();
	be_check_start(s, v, r);
}

static bool be_rt_matches(const struct be_rt *r, const struct xdplb_vip *v,
			  const struct xdplb_backend *b)
{
	return r->used && r->vip_id == v->id && r->family == b->family &&
	       !memcmp(&r->addr, &b->addr, sizeof(b->addr)) && r->hc_sig == check_sig(v);
}

static int be_write(struct sync *s, const struct xdplb_vip *v, const struct xdplb_backend *b,
		    struct be_rt *r)
{
	struct xdplb_backend_info be;
	__u32 id = b->id;
	int err;

	entry_backend(v, b, r->up, r->resolved ? &r->nr : NULL, s->env.ifindex, &be);
	if (be.flags & XDPLB_BE_F_REDIRECT) {
		err = dp_txport_add(s->env.dp, be.ifindex); /* the map is not pinned: refill */
		if (err)
			return err;
	}
	if (r->have_written && !memcmp(&be, &r->written, sizeof(be)))
		return 0;
	err = dp_backend_set(s->env.dp, id, &be);
	if (err)
		return err;
	r->written = be;
	r->have_written = true;
	return 0;
}

static int be_drop(struct sync *s, __u32 id)
{
	struct xdplb_backend_info zero = { 0 };
	struct be_rt *r = &s->be[id];
	__u32 vip_id = r->vip_id;
	int err;

	hc_stop(r->hc);
	r->hc = NULL; /* hc_stop frees it */
	err = dp_backend_set(s->env.dp, id, &zero);
	/* after the entry is inactive, so nothing counts on the id any more */
	if (!err && vip_id < XDPLB_MAX_VIPS)
		err = counters_backend_retire(s->env.dp, id, vip_id);
	/* forgotten only once the map agrees: a failed write is retried by
	 * the next sync (the backend is still `used` and in no VIP) */
	if (!err)
		memset(r, 0, sizeof(*r));
	return err;
}

/* ---- rings ---- */

/* A free slot for a ring of m entries: one whose array can be rewritten
 * in place if there is one (no RCU wait, see dp_rings.c), else the first. */
static __u32 ring_slot_take(struct sync *s, __u32 m)
{
	__u32 i, first = XDPLB_NO_RING;

	for (i = 0; i < XDPLB_MAX_RINGS; i++) {
		if (s->ring_used[i])
			continue;
		if (first == XDPLB_NO_RING)
			first = i;
		if (dp_ring_reusable(s->env.dp, i, m)) {
			first = i;
			break;
		}
	}
	if (first != XDPLB_NO_RING)
		s->ring_used[first] = 1;
	return first;
}

static void ring_slot_free(struct sync *s, __u32 slot)
{
	if (slot == XDPLB_NO_RING || slot >= XDPLB_MAX_RINGS)
		return;
	dp_ring_clear(s->env.dp, slot);
	s->ring_used[slot] = 0;
}

/* Members of the ring: weight > 0, healthy, resolved. */
static __u32 ring_members(struct sync *s, const struct xdplb_vip *v, struct maglev_backend *mb,
			  __u64 *sig)
{
	__u32 i, n = 0;

	*sig = fnv(0xcbf29ce484222325ull, &v->opts.ring_size, sizeof(v->opts.ring_size));
	for (i = 0; i < v->n_backends; i++) {
		const struct xdplb_backend *b = &v->backends[i];
		const struct be_rt *r = &s->be[b->id];

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
static __u64 ring_fingerprint(const struct sync *s, __u32 m)
{
	__u64 h = 0xcbf29ce484222325ull;
	__u32 i, id;

	if (s->table[0] == XDPLB_NO_BACKEND)
		return 0;
	h = fnv(h, &m, sizeof(m));
	for (i = 0; i < m; i++) {
		id = s->table[i];
		h = fnv(h, &s->be[id].family, 1);
		h = fnv(h, &s->be[id].addr, s->be[id].family == XDPLB_AF_INET ? 4 : 16);
	}
	return h ? h : 1;
}

/* Build the ring anew if its members changed; *retired is the slot of the
 * ring that stops being the previous one, to free once the VIP entry no
 * longer names it. */
static int vip_ring(struct sync *s, const struct xdplb_vip *v, struct vip_rt *vr, __u32 *retired)
{
	struct maglev_backend *mb = calloc(v->n_backends + 1, sizeof(*mb));
	__u32 n, slot;
	__u64 sig;
	int err;

	if (!mb)
		return -ENOMEM;
	n = ring_members(s, v, mb, &sig);
	vr->up = n;
	if (vr->ring != XDPLB_NO_RING && sig == vr->ring_sig) {
		free(mb);
		return 0;
	}
	err = maglev_build(mb, n, v->opts.ring_size, s->table);
	free(mb);
	if (err)
		return err;
	slot = ring_slot_take(s, v->opts.ring_size);
	if (slot == XDPLB_NO_RING)
		return -ENOSPC;
	err = dp_ring_set(s->env.dp, slot, s->table, v->opts.ring_size);
	if (err) {
		s->ring_used[slot] = 0;
		return err;
	}
	*retired = vr->ring_prev;
	vr->ring_prev = vr->ring;
	vr->ring_prev_size = vr->ring_size;
	vr->ring = slot;
	vr->ring_size = v->opts.ring_size;
	vr->ring_sig = sig;
	vr->fingerprint = ring_fingerprint(s, vr->ring_size);
	vr->rebuilds++;
	s->ring_rebuilds++;
	return 0;
}

static int vip_write(struct sync *s, const struct xdplb_vip *v, struct vip_rt *vr)
{
	struct xdplb_vip_info vi;
	int err;

	entry_vip(v, vr->ring, vr->ring_size, vr->ring_prev, vr->ring_prev_size, &vi);
	if (vr->have_written && !memcmp(&vi, &vr->written, sizeof(vi)))
		return 0;
	err = dp_vip_set(s->env.dp, &v->key, &vi);
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

/* *queued counts the backends queued for a lookup by the refresh. */
static int vip_sync(struct sync *s, const struct xdplb_vip *v, __u32 *queued)
{
	struct vip_rt *vr = &s->vip[v->id];
	__u32 i, retired = XDPLB_NO_RING;
	int err;

	if (!vr->used || vip_key_cmp(&vr->key, &v->key))
		vip_rt_reset(vr, v);
	for (i = 0; i < v->n_backends; i++) {
		const struct xdplb_backend *b = &v->backends[i];
		struct be_rt *r = &s->be[b->id];
		bool fresh = !be_rt_matches(r, v, b);

		if (fresh)
			be_rt_reset(s, v, b, r);
		/* netlink here only for a backend this sync adds (the change
		 * that adds it answers with it in place) and at start; one
		 * still unresolved is looked up again by the refresh, in steps
		 * (neigh.c calls `changed` at least every 30 s, which keeps
		 * every backend's next hop followed) */
		if (fresh || s->resolve_all)
			be_resolve(s, v, r);
		else if (!r->resolved && !r->lookup_queued) {
			r->lookup_queued = true;
			(*queued)++;
		}
		err = be_write(s, v, b, r);
		if (err)
			return err;
	}
	/* a slot retired by an earlier sync whose VIP write failed: the map
	 * entry may still name it, so it is freed only after a write */
	if (vr->retired_pending) {
		err = vip_write(s, v, vr);
		if (err)
			return err;
		ring_slot_free(s, vr->retired);
		vr->retired_pending = false;
	}
	err = vip_ring(s, v, vr, &retired);
	if (!err)
		err = vip_write(s, v, vr);
	if (err && retired != XDPLB_NO_RING) {
		vr->retired = retired;
		vr->retired_pending = true;
	} else {
		ring_slot_free(s, retired);
	}
	return err;
}

static int vip_drop(struct sync *s, __u32 id)
{
	struct vip_rt *vr = &s->vip[id];
	int err = dp_vip_del(s->env.dp, &vr->key);

	if (err == -ENOENT)
		err = 0;
	if (!err)
		err = counters_vip_forget(s->env.dp, id);
	/* the entry may still name its rings: keep them and the VIP for the
	 * next sync to retry (a deleted entry then answers -ENOENT) */
	if (err)
		return err;
	if (vr->retired_pending)
		ring_slot_free(s, vr->retired);
	ring_slot_free(s, vr->ring);
	ring_slot_free(s, vr->ring_prev);
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

static bool echo_present(const struct sync *s, const struct xdplb_vip_key *k)
{
	__u32 i;

	for (i = 0; i < s->n_echo; i++)
		if (!memcmp(&s->echo[i], k, sizeof(*k)))
			return true;
	return false;
}

static int echo_sync(struct sync *s)
{
	struct xdplb_vip_info vi;
	struct xdplb_vip_key k;
	__u32 i;
	int err;

	entry_echo(&vi);
	for (i = 0; i < s->n_echo;) {
		if (model_has_addr(s->env.model, &s->echo[i])) {
			i++;
			continue;
		}
		err = dp_vip_del(s->env.dp, &s->echo[i]);
		if (err && err != -ENOENT)
			return err;
		s->echo[i] = s->echo[--s->n_echo];
	}
	for (i = 0; i < s->env.model->n_vips; i++) {
		entry_echo_key(&s->env.model->vips[i].key, &k);
		if (echo_present(s, &k))
			continue;
		if (s->n_echo >= SYNC_MAX_ECHO)
			return -ENOSPC;
		err = dp_vip_set(s->env.dp, &k, &vi);
		if (err)
			return err;
		s->echo[s->n_echo++] = k;
	}
	return 0;
}

/* ---- the whole ---- */

static int drop_stale(struct sync *s)
{
	__u8 *vip_seen = calloc(XDPLB_MAX_VIPS, 1), *be_seen = calloc(XDPLB_MAX_BACKENDS, 1);
	__u32 i, j;
	int err = 0;

	if (!vip_seen || !be_seen) {
		err = -ENOMEM;
		goto out;
	}
	for (i = 0; i < s->env.model->n_vips; i++) {
		vip_seen[s->env.model->vips[i].id] = 1;
		for (j = 0; j < s->env.model->vips[i].n_backends; j++)
			be_seen[s->env.model->vips[i].backends[j].id] = 1;
	}
	/* backends first: a dropped backend's counters go to its VIP's kept
	 * sum, which must be gone too if the VIP goes */
	for (i = 0; i < XDPLB_MAX_BACKENDS && !err; i++)
		if (s->be[i].used && !be_seen[i])
			err = be_drop(s, i);
	for (i = 0; i < XDPLB_MAX_VIPS && !err; i++)
		if (s->vip[i].used && !vip_seen[i])
			err = vip_drop(s, i);
out:
	free(vip_seen);
	free(be_seen);
	return err;
}

int sync_run(struct sync *s, char *err, size_t errlen)
{
	const struct xdplb_model *m = s->env.model;
	char vs[XDPLB_VIP_STRLEN];
	__u32 i, queued = 0;
	int ret = 0;

	if (s->env.loop)
		loop_timer_cancel(s->env.loop, &s->timer);
	for (i = 0; i < m->n_vips && !ret; i++)
		ret = vip_sync(s, &m->vips[i], &queued);
	if (queued)
		refresh_start(s, REFRESH_QUEUED);
	if (ret) {
		snprintf(err, errlen, "cannot update the datapath for VIP %s: %s",
			 vip_format(&m->vips[i - 1].key, vs, sizeof(vs)), strerror(-ret));
		return ret;
	}
	ret = echo_sync(s);
	if (!ret)
		ret = drop_stale(s);
	if (!ret) /* the echo keys are the addresses in the datapath: one each */
		ret = dp_vip_filter_sync(s->env.dp, s->echo, s->n_echo);
	if (ret)
		snprintf(err, errlen, "cannot update the datapath: %s", strerror(-ret));
	if (s->env.synced)
		s->env.synced(s->env.arg);
	s->adopting = false;
	if (!ret)
		s->resolve_all = false;
	return ret;
}

static void sync_timer_fired(struct loop_timer *t)
{
	struct sync *s = container_of(t, struct sync, timer);
	char err[256];

	if (sync_run(s, err, sizeof(err)))
		lbd_log("%s", err);
}

/* Health and neighbour events come in bursts: apply them together, and at
 * most every SYNC_DELAY_MS (ring rebuilds are rate-limited by this). */
void sync_soon(struct sync *s)
{
	s->timer.cb = sync_timer_fired;
	if (!loop_timer_armed(&s->timer))
		loop_timer_set(s->env.loop, &s->timer, SYNC_DELAY_MS);
}

/* ---- backends' next hops after neighbour, route and link events ---- */

static bool nr_equal(const struct neigh_result *a, const struct neigh_result *b)
{
	return a->ifindex == b->ifindex && !memcmp(a->mac, b->mac, sizeof(a->mac)) &&
	       !memcmp(a->src_mac, b->src_mac, sizeof(a->src_mac)) &&
	       a->nh_family == b->nh_family && !memcmp(&a->nexthop, &b->nexthop, sizeof(a->nexthop));
}

/* Does backend r need a lookup for a pass answering `why`?  One a sync
 * queued, in any pass.  Every one after a route or link change; after
 * neighbour changes, those whose next hop's MAC is not what they have;
 * every 30 s also those not resolved (a failed neighbour is solicited
 * again) or resolved without a next hop (a MAC kept from the adopted
 * datapath). */
static bool be_stale(const struct sync *s, const struct be_rt *r, unsigned int why)
{
	if (r->lookup_queued || (why & NEIGH_CHANGED_PATHS))
		return true;
	if ((why & NEIGH_RESYNC) && (!r->resolved || !r->nr.nh_family))
		return true;
	return (why & ~REFRESH_QUEUED) && s->env.neigh && !neigh_current(s->env.neigh, &r->nr);
}

/* Look backend id up again; true if its result changed (the next sync
 * writes it and rebuilds the rings it changes). */
static bool be_lookup(struct sync *s, __u32 id)
{
	struct be_rt *r = &s->be[id];
	const struct xdplb_vip *v = s->vip[r->vip_id].used
		? model_find_vip(s->env.model, &s->vip[r->vip_id].key) : NULL;
	struct neigh_result nr;
	int err;

	r->lookup_queued = false;
	if (!v || v->id != r->vip_id)
		return false; /* on its way out: the next sync drops it */
	err = nexthop_lookup(s, r, v, &nr);
	if (err == r->resolve_err && r->resolved == !err && nr_equal(&nr, &r->nr))
		return false;
	r->nr = nr;
	r->resolved = !err;
	r->resolve_err = err;
	sync_soon(s);
	return true;
}

static __u64 now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000000 + (__u64)ts.tv_nsec / 1000;
}

static void refresh_done(struct sync *s)
{
	struct refresh *rf = &s->refresh;
	unsigned int next = rf->pending;

	/* a changed next hop changes forwarding: always said; -v also
	 * tells of passes that changed nothing */
	if (rf->changed || s->env.verbose)
		lbd_log("neighbour refresh: %u of %u backends looked up, %u changed, in %u loop "
			"turns (%llu ms, the longest turn %.1f ms)",
			rf->looked, rf->seen, rf->changed, rf->turns,
			(unsigned long long)(loop_now_ms() - rf->started_ms),
			(double)rf->longest_us / 1000);
	rf->why = rf->pending = 0;
	if (next)
		refresh_start(s, next);
}

/* One turn of a pass: backend ids from rf->next on, looked up while the
 * turn is shorter than SYNC_REFRESH_TURN_US; the rest on the next turn. */
static void refresh_turn(struct loop_timer *t)
{
	struct sync *s = container_of(t, struct sync, refresh.timer);
	struct refresh *rf = &s->refresh;
	__u64 t0 = now_us(), took;
	__u32 visited, id;

	for (visited = 0; rf->left && visited < SYNC_REFRESH_SCAN; visited++) {
		const struct be_rt *r = &s->be[rf->next];

		if (now_us() - t0 >= SYNC_REFRESH_TURN_US)
			break;
		id = rf->next;
		rf->next = (rf->next + 1) % XDPLB_MAX_BACKENDS;
		rf->left--;
		if (!r->used)
			continue;
		rf->seen++;
		if (!be_stale(s, r, rf->why))
			continue;
		rf->looked++;
		rf->changed += be_lookup(s, id);
	}
	took = now_us() - t0;
	rf->turns++;
	if (took > rf->longest_us)
		rf->longest_us = took;
	if (rf->left)
		loop_timer_set(s->env.loop, t, 0);
	else
		refresh_done(s);
}

/* A pass over every backend id; during one, the next (what events
 * arriving meanwhile call for) waits for its end. */
static void refresh_start(struct sync *s, unsigned int what)
{
	struct refresh *rf = &s->refresh;

	if (!s->env.loop)
		return; /* nothing runs one (tests that only ask) */
	if (rf->why) {
		rf->pending |= what;
		return;
	}
	rf->why = what;
	rf->left = XDPLB_MAX_BACKENDS;
	rf->seen = rf->looked = rf->changed = rf->turns = 0;
	rf->longest_us = 0;
	rf->started_ms = loop_now_ms();
	rf->timer.cb = refresh_turn;
	loop_timer_set(s->env.loop, &rf->timer, 0);
}

void sync_neigh_changed(struct sync *s, unsigned int what)
{
	if (what & (NEIGH_CHANGED_NEXTHOPS | NEIGH_CHANGED_PATHS | NEIGH_RESYNC))
		refresh_start(s, what);
}

/* ---- adoption ---- */

void sync_adopt_vip(struct sync *s, const struct xdplb_vip_key *k, const struct xdplb_vip_info *vi)
{
	struct vip_rt *vr;

	if (vi->flags & XDPLB_VIP_F_ECHO) {
		if (s->n_echo < SYNC_MAX_ECHO)
			s->echo[s->n_echo++] = *k;
		return;
	}
	if (vi->vip_id >= XDPLB_MAX_VIPS)
		return;
	vr = &s->vip[vi->vip_id];
	vr->used = true;
	vr->key = *k;
	vr->ring = vi->ring;
	vr->ring_size = vi->ring_size;
	vr->ring_prev = vi->ring_prev;
	vr->ring_prev_size = vi->ring_prev_size;
	vr->written = *vi;
	vr->have_written = true;
	if (vi->ring < XDPLB_MAX_RINGS)
		s->ring_used[vi->ring] = 1;
	if (vi->ring_prev < XDPLB_MAX_RINGS)
		s->ring_used[vi->ring_prev] = 1;
}

void sync_adopt_backend(struct sync *s, __u32 id, const struct xdplb_backend_info *be)
{
	struct be_rt *r;

	if (id >= XDPLB_MAX_BACKENDS)
		return;
	r = &s->be[id];
	r->used = true;
	r->s = s;
	r->vip_id = be->vip_id;
	r->addr = be->addr;
	r->family = be->family;
	r->written = *be;
	r->have_written = true;
	r->up = r->resolved = !!(be->flags & XDPLB_BE_F_ACTIVE);
	r->changed_ms = loop_now_ms();
}

void sync_adopt_done(struct sync *s)
{
	__u32 slot;

	/* rings no VIP names are leftovers of an interrupted update */
	for (slot = 0; slot < XDPLB_MAX_RINGS; slot++)
		if (!s->ring_used[slot])
			dp_ring_clear(s->env.dp, slot);
	s->adopting = true;
}

/* ---- queries ---- */

struct sync_backend_state sync_backend(const struct sync *s, __u32 id)
{
	struct sync_backend_state st = { .check_error = "" };
	const struct be_rt *r = id < XDPLB_MAX_BACKENDS ? &s->be[id] : NULL;

	if (!r || !r->used)
		return st;
	st.known = true;
	st.healthy = r->up;
	st.resolved = r->resolved;
	st.resolve_err = r->resolve_err;
	if (r->resolved) {
		memcpy(st.mac, r->nr.mac, sizeof(st.mac));
		st.ifindex = r->nr.ifindex;
	}
	if (r->hc)
		st.check_error = hc_last_error(r->hc);
	st.changed_ms = r->changed_ms;
	st.vip_id = r->vip_id;
	st.addr = r->addr;
	st.family = r->family;
	return st;
}

const char *sync_backend_status(const struct sync *s, const struct xdplb_backend *b)
{
	const struct be_rt *r = &s->be[b->id];

	if (!r->used)
		return "new";
	if (!r->resolved)
		return "unresolved";
	if (!r->up)
		return "down";
	return b->weight ? "up" : "draining";
}

struct sync_vip_state sync_vip(const struct sync *s, __u32 id)
{
	struct sync_vip_state st = { .ring = XDPLB_NO_RING };
	const struct vip_rt *vr = id < XDPLB_MAX_VIPS ? &s->vip[id] : NULL;

	if (!vr || !vr->used)
		return st;
	st.up = vr->up;
	st.rebuilds = vr->rebuilds;
	st.fingerprint = vr->fingerprint;
	st.ring = vr->ring;
	st.ring_size = vr->ring_size;
	return st;
}

char *sync_fingerprint(const struct sync *s, __u32 id, char *buf, size_t len)
{
	__u64 fp = sync_vip(s, id).fingerprint;

	if (!fp)
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, "%012llx", (unsigned long long)(fp >> 16));
	return buf;
}

struct sync_stats sync_stats(const struct sync *s)
{
	struct sync_stats st = { .ring_rebuilds = s->ring_rebuilds, .lookups = s->lookups };
	__u32 id;

	for (id = 0; id < XDPLB_MAX_BACKENDS; id++)
		st.lookups_queued += s->be[id].used && s->be[id].lookup_queued;
	return st;
}
