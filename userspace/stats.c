// SPDX-License-Identifier: GPL-2.0
/* stats.c - `lbctl stats` and `lbctl flows`: per-CPU counters summed in
 * user space, flows read from the established table in batches. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hll.h"
#include "lbd.h"

static const char *const stat_names[XDPLB_STAT_MAX] = { XDPLB_STAT_NAMES };

int lbd_vip_counters(const struct lbd *d, const struct xdplb_vip *v, struct xdplb_counters *out)
{
	__u32 ids[XDPLB_MAX_BACKENDS_PER_VIP], i;

	for (i = 0; i < v->n_backends && i < XDPLB_MAX_BACKENDS_PER_VIP; i++)
		ids[i] = v->backends[i].id;
	return dp_vip_counters(&d->dp, v->id, ids, i, out);
}

double lbd_vip_unique_clients(const struct lbd *d, const struct xdplb_vip *v)
{
	struct hll_regs r;

	if (dp_vip_hll(&d->dp, v->id, &r))
		return -1;
	return hll_estimate(&r);
}

static __u64 coarse_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (__u64)ts.tv_sec * 1000000000ull + (__u64)ts.tv_nsec;
}

static void hll_epoch_end(struct loop_timer *t)
{
	struct lbd *d = (void *)((char *)t - offsetof(struct lbd, hll_timer));
	int err = dp_hll_rotate(&d->dp, coarse_ns());

	if (err)
		lbd_log("warning: cannot start a new unique-client epoch: %s", strerror(-err));
	loop_timer_set(d->loop, &d->hll_timer, XDPLB_HLL_EPOCH_S * 1000ull);
}

int lbd_hll_start(struct lbd *d)
{
	int err = dp_hll_rotate(&d->dp, coarse_ns());

	d->hll_timer.cb = hll_epoch_end;
	if (!err)
		err = loop_timer_set(d->loop, &d->hll_timer, XDPLB_HLL_EPOCH_S * 1000ull);
	return err;
}

static void stats_vip(struct lbd *d, const struct xdplb_vip *v, bool json, struct strbuf *out)
{
	char vs[XDPLB_VIP_STRLEN], a[XDPLB_ADDR_STRLEN];
	struct xdplb_counters c = { 0 };
	__u32 i;

	double uniq = lbd_vip_unique_clients(d, v);
	char us[32] = "-";

	lbd_vip_counters(d, v, &c);
	vip_format(&v->key, vs, sizeof(vs));
	if (uniq >= 0)
		snprintf(us, sizeof(us), "%.0f", uniq);
	if (json)
		sb_printf(out, "{\"vip\":\"%s\",\"packets\":%llu,\"bytes\":%llu,\"new_flows\":%llu,"
			  "\"unique_clients\":%s,\"backends\":[", vs, (unsigned long long)c.packets,
			  (unsigned long long)c.bytes, (unsigned long long)c.new_flows,
			  uniq >= 0 ? us : "null");
	else
		sb_printf(out, "%-28s packets %-12llu bytes %-14llu new flows %-10llu unique clients %s\n",
			  vs, (unsigned long long)c.packets, (unsigned long long)c.bytes,
			  (unsigned long long)c.new_flows, us);
	for (i = 0; i < v->n_backends; i++) {
		const struct xdplb_backend *b = &v->backends[i];

		dp_backend_counters(&d->dp, b->id, &c);
		addr_format(&b->addr, b->family, a, sizeof(a));
		if (json)
			sb_printf(out, "%s{\"backend\":\"%s\",\"state\":\"%s\",\"packets\":%llu,"
				  "\"bytes\":%llu,\"new_flows\":%llu}", i ? "," : "", a,
				  be_state(d, b), (unsigned long long)c.packets,
				  (unsigned long long)c.bytes, (unsigned long long)c.new_flows);
		else
			sb_printf(out, "  %-26s packets %-12llu bytes %-14llu new flows %-10llu %s\n",
				  a, (unsigned long long)c.packets, (unsigned long long)c.bytes,
				  (unsigned long long)c.new_flows, be_state(d, b));
	}
	if (json)
		sb_printf(out, "]}");
}

static void stats_global(struct lbd *d, bool json, struct strbuf *out)
{
	struct xdplb_stats st;
	int i;

	if (dp_stats(&d->dp, &st))
		return;
	sb_printf(out, json ? "\"global\":{" : "global:");
	for (i = 0; i < XDPLB_STAT_MAX; i++)
		sb_printf(out, json ? "%s\"%s\":%llu" : "%s%s %llu", i ? (json ? "," : " ") : " ",
			  stat_names[i], (unsigned long long)st.v[i]);
	sb_printf(out, json ? "}" : "\n");
}

int lbd_stats(struct lbd *d, const struct xdplb_cmd *c, bool json, struct strbuf *out)
{
	char vs[XDPLB_VIP_STRLEN];
	__u32 i, n = 0;

	if (c->has_vip && !model_find_vip(&d->model, &c->vip)) {
		sb_printf(out, "no VIP %s", vip_format(&c->vip, vs, sizeof(vs)));
		return -1;
	}
	if (json)
		sb_printf(out, "{\"vips\":[");
	for (i = 0; i < d->model.n_vips; i++) {
		if (c->has_vip && vip_key_cmp(&d->model.vips[i].key, &c->vip))
			continue;
		if (json && n++)
			sb_append(out, ",", 1);
		stats_vip(d, &d->model.vips[i], json, out);
	}
	if (json)
		sb_printf(out, "],");
	if (!c->has_vip || json)
		stats_global(d, json, out);
	if (json)
		sb_printf(out, "}\n");
	return 0;
}

struct flow_set {
	const struct xdplb_vip *only;
	struct dp_flow *rows;
	size_t n, cap;
};

static int flow_collect(void *ctx, const struct dp_flow *f)
{
	struct flow_set *s = ctx;
	struct dp_flow *r;

	if (s->only && f->v.vip_id != s->only->id)
		return 0;
	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 1024;

		r = realloc(s->rows, cap * sizeof(*r));
		if (!r)
			return -ENOMEM;
		s->rows = r;
		s->cap = cap;
	}
	s->rows[s->n++] = *f;
	return 0;
}

static int by_bytes(const void *a, const void *b)
{
	const struct dp_flow *x = a, *y = b;

	return x->v.bytes < y->v.bytes ? 1 : x->v.bytes > y->v.bytes ? -1 : 0;
}

/* One flow's line: VIP from an id-indexed table built once per listing,
 * backend address from the run-time state (both O(1) per flow). */
static void flow_print(const struct lbd *d, const struct xdplb_vip *const *by_id,
		       const struct dp_flow *r, __u64 now, bool json, bool comma,
		       struct strbuf *out)
{
	const struct xdplb_vip *v = r->v.vip_id < XDPLB_MAX_VIPS ? by_id[r->v.vip_id] : NULL;
	const struct be_rt *b = r->v.backend_id < XDPLB_MAX_BACKENDS ? &d->be[r->v.backend_id]
								      : NULL;
	char vs[XDPLB_VIP_STRLEN] = "?", cs[XDPLB_ADDR_STRLEN] = "?", bs[XDPLB_ADDR_STRLEN] = "?";
	double idle = r->v.last_ns && now > r->v.last_ns ? (double)(now - r->v.last_ns) / 1e9 : 0;

	if (v) {
		vip_format(&v->key, vs, sizeof(vs));
	}
	addr_format(&r->src, r->family, cs, sizeof(cs));
	if (b && b->used && b->vip_id == r->v.vip_id)
		addr_format(&b->addr, b->family, bs, sizeof(bs));
	if (json)
		sb_printf(out, "%s{\"client\":\"%s\",\"port\":%u,\"vip\":\"%s\",\"dport\":%u,"
			  "\"backend\":\"%s\",\"packets\":%llu,\"bytes\":%llu,\"idle_s\":%.1f}",
			  comma ? "," : "", cs, ntohs(r->sport), vs, ntohs(r->dport), bs,
			  (unsigned long long)r->v.packets, (unsigned long long)r->v.bytes, idle);
	else
		sb_printf(out, "%-40s %-6u %-28s %-40s %-10llu %-12llu %.1f\n", cs,
			  ntohs(r->sport), vs, bs, (unsigned long long)r->v.packets,
			  (unsigned long long)r->v.bytes, idle);
}

int lbd_flows(struct lbd *d, const struct xdplb_cmd *c, bool json, struct strbuf *out)
{
	const struct xdplb_vip **by_id = calloc(XDPLB_MAX_VIPS, sizeof(*by_id));
	struct flow_set s = { 0 };
	struct timespec ts;
	char vs[XDPLB_VIP_STRLEN];
	size_t i, n;
	__u64 now;
	int err;

	if (!by_id) {
		sb_printf(out, "out of memory");
		return -1;
	}
	for (i = 0; i < d->model.n_vips; i++)
		by_id[d->model.vips[i].id] = &d->model.vips[i];
	if (c->has_vip && !(s.only = model_find_vip(&d->model, &c->vip))) {
		free(by_id);
		sb_printf(out, "no VIP %s", vip_format(&c->vip, vs, sizeof(vs)));
		return -1;
	}
	err = dp_flows_for_each(&d->dp, false, flow_collect, &s);
	if (err) {
		free(by_id);
		free(s.rows);
		sb_printf(out, "cannot read the flow table: %s", strerror(-err));
		return -1;
	}
	qsort(s.rows, s.n, sizeof(*s.rows), by_bytes);
	n = c->top && c->top < s.n ? c->top : s.n;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	now = (__u64)ts.tv_sec * 1000000000ull + (__u64)ts.tv_nsec;
	if (json)
		sb_printf(out, "{\"total\":%zu,\"flows\":[", s.n);
	else
		sb_printf(out, "%-40s %-6s %-28s %-40s %-10s %-12s %s\n", "CLIENT", "PORT", "VIP",
			  "BACKEND", "PACKETS", "BYTES", "IDLE_S");
	for (i = 0; i < n; i++)
		flow_print(d, by_id, &s.rows[i], now, json, i > 0, out);
	if (json)
		sb_printf(out, "]}\n");
	free(by_id);
	free(s.rows);
	return 0;
}
