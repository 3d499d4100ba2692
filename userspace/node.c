// SPDX-License-Identifier: GPL-2.0
/* node.c - what this node announces to the routers.
 *
 * A VIP is serving while at least `need` of its backends are up (weight
 * > 0, healthy, next hop resolved: the members of its ring).  An address
 * is announced while the node is not drained and at least one VIP on it is
 * serving.  "At least one", not "all": withdrawing an address takes every
 * port of it away from this node, so a VIP without backends (which every
 * node sees alike, their health checks reaching the same backends) must
 * not take its neighbours on the same address down with it; its own
 * clients get nothing either way.  Alerts watch xdplb_vip_serving.
 *
 * The routes live in kernel table N (announce.c); lbd_announce() runs after
 * every sync_run() and every LBD_ANNOUNCE_MS.  Stopping lbd, or killing it,
 * leaves the routes as they are (forwarding goes on, so must the
 * announcement); `lbd --detach --announce-table N` removes them.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "announce.h"
#include "container_of.h"
#include "lbd.h"
#include "log.h"
#include "node.h"
#include "sync.h"
#include "textform.h"

#define LBD_ANNOUNCE_MS 2000

bool lbd_vip_serving(const struct lbd *d, const struct xdplb_vip *v)
{
	return sync_vip(d->sync, v->id).up >= v->opts.need;
}

static struct announce_addr addr_of(const struct xdplb_vip *v)
{
	struct announce_addr a = { .addr = v->key.addr, .family = v->key.family };

	return a;
}

static bool same_addr(const struct xdplb_vip *x, const struct xdplb_vip *y)
{
	return x->key.family == y->key.family && !memcmp(&x->key.addr, &y->key.addr,
							 sizeof(x->key.addr));
}

/* Is any VIP on v's address serving? */
static bool addr_serving(const struct lbd *d, const struct xdplb_vip *v)
{
	__u32 i;

	for (i = 0; i < d->model.n_vips; i++)
		if (same_addr(&d->model.vips[i], v) && lbd_vip_serving(d, &d->model.vips[i]))
			return true;
	return false;
}

bool lbd_vip_addr_first(const struct lbd *d, const struct xdplb_vip *v)
{
	__u32 i;

	for (i = 0; &d->model.vips[i] != v; i++)
		if (same_addr(&d->model.vips[i], v))
			return false;
	return true;
}

static bool addr_wanted(const struct lbd *d, const struct xdplb_vip *v)
{
	return !d->model.drained && addr_serving(d, v);
}

bool lbd_vip_announced(const struct lbd *d, const struct xdplb_vip *v)
{
	struct announce_addr a = addr_of(v);

	return announce_has(d->announce, &a);
}

static void announce_fired(struct loop_timer *t)
{
	lbd_announce(container_of(t, struct lbd, announce_timer));
}

void lbd_announce(struct lbd *d)
{
	struct announce_addr *want;
	char err[sizeof(d->announce_err)];
	__u32 i, n = 0, changed;
	int ret;

	if (!d->announce)
		return;
	loop_timer_cancel(d->loop, &d->announce_timer);
	d->announce_timer.cb = announce_fired;
	loop_timer_set(d->loop, &d->announce_timer, LBD_ANNOUNCE_MS);
	want = calloc(d->model.n_vips + 1, sizeof(*want));
	if (!want) {
		snprintf(d->announce_err, sizeof(d->announce_err), "out of memory");
		return;
	}
	for (i = 0; i < d->model.n_vips; i++) {
		const struct xdplb_vip *v = &d->model.vips[i];

		if (lbd_vip_addr_first(d, v) && addr_wanted(d, v))
			want[n++] = addr_of(v);
	}
	/* an address this node starts announcing brings it flows it never
	 * saw: the peers' tables first (flowsync.c calls back) */
	if (d->flowsync) {
		__u32 kept = 0;

		for (i = 0; i < n; i++)
			if (announce_has(d->announce, &want[i]) ||
			    flowsync_ready(d->flowsync, &want[i].addr, want[i].family))
				want[kept++] = want[i];
		n = kept;
	}
	ret = announce_set(d->announce, want, n, &changed, err, sizeof(err));
	free(want);
	if (ret && strcmp(err, d->announce_err))
		lbd_log("announce: %s (retried every %d s)", err, LBD_ANNOUNCE_MS / 1000);
	snprintf(d->announce_err, sizeof(d->announce_err), "%s", ret ? err : "");
	if (changed)
		lbd_log("announce: %u route%s changed in table %u", changed, changed == 1 ? "" : "s",
			d->o.announce_table);
}

/* Why an address is (not) announced, in a few words. */
static const char *addr_why(const struct lbd *d, const struct xdplb_vip *v, bool announced)
{
	bool wanted = addr_wanted(d, v);

	if (!d->announce)
		return "announcements off (no --announce-table)";
	if (announced && wanted)
		return "serving";
	if (announced)
		return d->model.drained ? "drained, withdrawal failed" : "not serving, withdrawal failed";
	if (wanted && d->flowsync && flowsync_why(d->flowsync, &v->key.addr, v->key.family))
		return flowsync_why(d->flowsync, &v->key.addr, v->key.family);
	if (wanted)
		return "serving, route failed";
	return d->model.drained ? "drained" : "no VIP serving";
}

static void node_vip_text(const struct lbd *d, const struct xdplb_vip *v, struct strbuf *out)
{
	char vs[XDPLB_VIP_STRLEN];

	sb_printf(out, "    %-44s %s (%u of need %u up)\n", vip_format(&v->key, vs, sizeof(vs)),
		  lbd_vip_serving(d, v) ? "serving" : "not serving", sync_vip(d->sync, v->id).up,
		  v->opts.need);
}

int lbd_node_show(const struct lbd *d, bool json, struct strbuf *out)
{
	char as[XDPLB_ADDR_STRLEN], vs[XDPLB_VIP_STRLEN];
	__u32 i, j, n = 0;

	if (json) {
		sb_printf(out, "{\"drained\":%s,\"announce_table\":%u,\"error\":",
			  d->model.drained ? "true" : "false", d->o.announce_table);
		sb_json_str(out, d->announce_err);
		sb_printf(out, ",\"addresses\":[");
	} else if (d->announce) {
		sb_printf(out, "node %s, announcing in table %u%s%s\n",
			  d->model.drained ? "drained" : "not drained", d->o.announce_table,
			  d->announce_err[0] ? "; last error: " : "", d->announce_err);
	} else {
		sb_printf(out, "node %s, announcements off (no --announce-table)\n",
			  d->model.drained ? "drained" : "not drained");
	}
	for (i = 0; i < d->model.n_vips; i++) {
		const struct xdplb_vip *v = &d->model.vips[i];
		bool ann = lbd_vip_announced(d, v);

		if (!lbd_vip_addr_first(d, v))
			continue;
		addr_format(&v->key.addr, v->key.family, as, sizeof(as));
		if (json) {
			sb_printf(out, "%s{\"address\":\"%s\",\"announced\":%s,\"why\":\"%s\",\"vips\":[",
				  n++ ? "," : "", as, ann ? "true" : "false", addr_why(d, v, ann));
		} else {
			sb_printf(out, "%-40s %-13s %s\n", as, ann ? "announced" : "not announced",
				  addr_why(d, v, ann));
		}
		for (j = i; j < d->model.n_vips; j++) {
			const struct xdplb_vip *w = &d->model.vips[j];

			if (!same_addr(v, w))
				continue;
			if (!json) {
				node_vip_text(d, w, out);
				continue;
			}
			sb_printf(out, "%s{\"vip\":\"%s\",\"serving\":%s,\"up\":%u,\"need\":%u}",
				  j == i ? "" : ",", vip_format(&w->key, vs, sizeof(vs)),
				  lbd_vip_serving(d, w) ? "true" : "false", sync_vip(d->sync, w->id).up,
				  w->opts.need);
		}
		if (json)
			sb_printf(out, "]}");
	}
	if (json)
		sb_printf(out, "]}\n");
	return 0;
}

/* ---- flow sync's questions to the model (flowsync.h) ---- */

static int fs_backend_addr(void *arg, __u32 be_id, union xdplb_addr *addr, __u8 *family)
{
	struct sync_backend_state r = sync_backend(((const struct lbd *)arg)->sync, be_id);

	if (!r.known)
		return -1;
	*addr = r.addr;
	*family = r.family;
	return 0;
}

static int fs_ids(void *arg, const struct xdplb_vip_key *vip, const union xdplb_addr *be,
		  __u8 be_family, __u32 *vip_id, __u32 *be_id)
{
	const struct lbd *d = arg;
	struct xdplb_vip_key wild = *vip;
	const struct xdplb_vip *v = model_find_vip(&d->model, vip);
	const struct xdplb_backend *b;

	if (!v) {
		wild.port = 0;
		v = model_find_vip(&d->model, &wild);
	}
	b = v ? model_find_backend(v, be, be_family) : NULL;
	if (!b)
		return -1;
	*vip_id = v->id;
	*be_id = b->id;
	return 0;
}

static void fs_ready(void *arg)
{
	lbd_announce(arg);
}

int lbd_flowsync_open(struct lbd *d, char *err, size_t errlen)
{
	struct fs_model m = { .backend_addr = fs_backend_addr, .ids = fs_ids, .ready = fs_ready,
			      .arg = d };

	d->flowsync = flowsync_open(d->loop, &d->dp, &d->o.sync, &m, err, errlen);
	return d->flowsync ? 0 : -1;
}
