// SPDX-License-Identifier: GPL-2.0
/* stats.c - `lbctl stats`, `lbctl top` and `lbctl flows`: per-CPU
 * counters summed in user space, rates from lbd's sampler (metrics.h),
 * flows read from both flow tables in batches, listed in steps (the loop
 * serves others in between).
 *
 * The flow entries' layout is read here (flow_keep, flow_print) and in
 * dp_flows_walk() only. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "container_of.h"
#include "ctl.h"
#include "hll.h"
#include "lbd.h"
#include "log.h"
#include "node.h"
#include "sync.h"
#include "textform.h"

static const char *const stat_names[XDPLB_STAT_MAX] = { XDPLB_STAT_NAMES };

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
	struct lbd *d = container_of(t, struct lbd, hll_timer);
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

/* The HyperLogLog estimate of distinct client addresses of a VIP (be_id ==
 * XDPLB_NO_BACKEND) over the last one to two epochs (xdplb.h).  False when
 * there is no sketch (backends; VIP ids >= XDPLB_HLL_VIPS): `lbctl stats`
 * shows "-" and JSON null. */
static bool unique_clients(const struct lbd *d, const struct xdplb_vip *v, __u32 be_id,
			   __u64 *n)
{
	double e = be_id == XDPLB_NO_BACKEND ? lbd_vip_unique_clients(d, v) : -1;

	if (e < 0)
		return false; /* sketches are per VIP only */
	*n = (__u64)(e + 0.5);
	return true;
}

/* 1234567 -> "1.2M": rates in a column of 7 characters. */
static const char *si(double v, char *buf, size_t len)
{
	static const char unit[] = " kMGTP";
	int u = 0;

	while (v >= 999.95 && u < 5) {
		v /= 1000;
		u++;
	}
	if (!u)
		snprintf(buf, len, "%.0f", v);
	else
		snprintf(buf, len, "%.1f%c", v, unit[u]);
	return buf;
}

/* One row: a VIP (b NULL) or one of its backends. */
struct stat_row {
	const struct xdplb_vip *v;
	const struct xdplb_backend *b;
	struct xdplb_counters c;
	struct mon_rate r;
};

static void row_fill(struct lbd *d, struct stat_row *row, const struct xdplb_vip *v,
		     const struct xdplb_backend *b)
{
	static const struct mon_rate zero;
	const struct lbd_mon *m = &d->mon;
	__u32 id = b ? b->id : v->id;

	row->v = v;
	row->b = b;
	row->c = b ? m->be_cur[id] : m->vip_cur[id];
	row->r = b ? (id < m->n_be_prev ? m->be_rate[id] : zero)
		   : (id < m->n_vip_prev ? m->vip_rate[id] : zero);
}

#define ROW_HEAD "%-32s %-10s %7s %7s %12s %14s %10s %8s\n"

static void row_text(struct lbd *d, const struct stat_row *row, struct strbuf *out)
{
	char name[XDPLB_VIP_STRLEN + 2], pps[16], bps[16], uc[24] = "-";
	__u64 n;

	if (row->b) {
		name[0] = name[1] = ' ';
		addr_format(&row->b->addr, row->b->family, name + 2, sizeof(name) - 2);
	} else {
		vip_format(&row->v->key, name, sizeof(name));
	}
	if (unique_clients(d, row->v, row->b ? row->b->id : XDPLB_NO_BACKEND, &n))
		snprintf(uc, sizeof(uc), "%llu", (unsigned long long)n);
	sb_printf(out, "%-32s %-10s %7s %7s %12llu %14llu %10llu %8s\n", name,
		  row->b ? sync_backend_status(d->sync, row->b)
			 : lbd_vip_serving(d, row->v) ? "serving" : "down",
		  si(row->r.pps, pps, sizeof(pps)),
		  si(row->r.bps, bps, sizeof(bps)), (unsigned long long)row->c.packets,
		  (unsigned long long)row->c.bytes, (unsigned long long)row->c.new_flows, uc);
}

static void row_json(struct lbd *d, const struct stat_row *row, struct strbuf *out)
{
	char s[XDPLB_VIP_STRLEN];
	__u64 n;

	if (row->b)
		sb_printf(out, "{\"backend\":\"%s\",\"state\":\"%s\",\"healthy\":%s,\"weight\":%u,",
			  addr_format(&row->b->addr, row->b->family, s, sizeof(s)),
			  sync_backend_status(d->sync, row->b),
			  sync_backend(d->sync, row->b->id).healthy ? "true" : "false",
			  row->b->weight);
	else
		sb_printf(out, "{\"vip\":\"%s\",\"serving\":%s,\"announced\":%s,",
			  vip_format(&row->v->key, s, sizeof(s)),
			  lbd_vip_serving(d, row->v) ? "true" : "false",
			  lbd_vip_announced(d, row->v) ? "true" : "false");
	sb_printf(out, "\"packets\":%llu,\"bytes\":%llu,\"new_flows\":%llu,\"pps\":%.1f,"
		  "\"bps\":%.1f,\"unique_clients\":", (unsigned long long)row->c.packets,
		  (unsigned long long)row->c.bytes, (unsigned long long)row->c.new_flows,
		  row->r.pps, row->r.bps);
	if (unique_clients(d, row->v, row->b ? row->b->id : XDPLB_NO_BACKEND, &n))
		sb_printf(out, "%llu", (unsigned long long)n);
	else
		sb_printf(out, "null");
	if (row->b)
		sb_printf(out, "}");
}

static int by_rate(const void *a, const void *b)
{
	const struct stat_row *x = a, *y = b;

	if (x->r.pps != y->r.pps)
		return x->r.pps < y->r.pps ? 1 : -1;
	return x->r.bps < y->r.bps ? 1 : x->r.bps > y->r.bps ? -1 : 0;
}

/* One VIP and its backends (sorted by rate when `sorted`). */
static int vip_rows(struct lbd *d, const struct xdplb_vip *v, bool json, bool sorted,
		    struct strbuf *out)
{
	struct stat_row vr, *br = calloc(v->n_backends + 1, sizeof(*br));
	__u32 i;

	if (!br)
		return -ENOMEM;
	row_fill(d, &vr, v, NULL);
	for (i = 0; i < v->n_backends; i++)
		row_fill(d, &br[i], v, &v->backends[i]);
	if (sorted)
		qsort(br, v->n_backends, sizeof(*br), by_rate);
	if (json) {
		row_json(d, &vr, out);
		sb_printf(out, ",\"backends\":[");
	} else {
		row_text(d, &vr, out);
	}
	for (i = 0; i < v->n_backends; i++) {
		if (json && i)
			sb_append(out, ",", 1);
		if (json)
			row_json(d, &br[i], out);
		else
			row_text(d, &br[i], out);
	}
	if (json)
		sb_printf(out, "]}");
	free(br);
	return 0;
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
	sb_printf(out, json ? ",\"node\":{\"drained\":%s,\"announce_table\":%u}" :
			      "node: %s, announce table %u (0: off; lbctl node show)\n",
		  json ? (d->model.drained ? "true" : "false")
		       : (d->model.drained ? "drained" : "not drained"),
		  d->o.announce_table);
}

/* The VIPs to show, in model order or by rate. */
static int vip_list(struct lbd *d, const struct xdplb_cmd *c, bool sorted,
		    const struct xdplb_vip ***list, __u32 *n, struct strbuf *out)
{
	char vs[XDPLB_VIP_STRLEN];
	struct stat_row *rows;
	__u32 i, nv, nb;
	int err;

	*n = 0;
	if (c->has_vip && !model_find_vip(&d->model, &c->vip)) {
		sb_printf(out, "no VIP %s", vip_format(&c->vip, vs, sizeof(vs)));
		return -1;
	}
	err = mon_read_counters(d, &nv, &nb);
	if (err) {
		sb_printf(out, "cannot read the counters: %s", strerror(-err));
		return -1;
	}
	rows = calloc(d->model.n_vips + 1, sizeof(*rows));
	*list = calloc(d->model.n_vips + 1, sizeof(**list));
	if (!rows || !*list) {
		free(rows);
		free(*list);
		*list = NULL;
		sb_printf(out, "out of memory");
		return -1;
	}
	for (i = 0; i < d->model.n_vips; i++)
		if (!c->has_vip || !vip_key_cmp(&d->model.vips[i].key, &c->vip))
			row_fill(d, &rows[(*n)++], &d->model.vips[i], NULL);
	if (sorted)
		qsort(rows, *n, sizeof(*rows), by_rate);
	for (i = 0; i < *n; i++)
		(*list)[i] = rows[i].v;
	free(rows);
	return 0;
}

static int stats_out(struct lbd *d, const struct xdplb_cmd *c, bool json, bool sorted,
		     struct strbuf *out)
{
	const struct xdplb_vip **list = NULL;
	__u32 i, n;
	int err = vip_list(d, c, sorted, &list, &n, out);

	if (err)
		return err;
	if (json)
		sb_printf(out, "{\"interval_ms\":%u,\"vips\":[", MON_SAMPLE_MS);
	else
		sb_printf(out, ROW_HEAD, "VIP / BACKEND", "STATE", "PPS", "BIT/S", "PACKETS",
			  "BYTES", "NEW_FLOWS", "CLIENTS");
	for (i = 0; i < n && !err; i++) {
		if (json && i)
			sb_append(out, ",", 1);
		err = vip_rows(d, list[i], json, sorted, out);
	}
	free(list);
	if (err) {
		sb_reset(out);
		sb_printf(out, "out of memory");
		return -1;
	}
	/* top shows rates only; stats adds the datapath's global counters */
	if (json)
		sb_printf(out, sorted ? "]" : "],");
	if (!sorted && (!c->has_vip || json))
		stats_global(d, json, out);
	if (json)
		sb_printf(out, "}\n");
	return 0;
}

int lbd_stats(struct lbd *d, const struct xdplb_cmd *c, bool json, struct strbuf *out)
{
	return stats_out(d, c, json, false, out);
}

int lbd_top(struct lbd *d, const struct xdplb_cmd *c, bool json, struct strbuf *out)
{
	return stats_out(d, c, json, true, out);
}

/* ---- flows ---- */

/* `lbctl flows` reads the flow tables, sorts and prints in steps of about a
 * millisecond each (README, "lbd's one loop never waits on a long job"), on
 * the control socket's deferred replies (ctl.h): the loop serves everything
 * else in between.  The request is counted (xdplb_control_operations_total)
 * when it is taken; a later failure to read the tables is answered as an
 * error but not counted as one. */
#define FLOWS_READ_STEP	 1024 /* entries read (one batched lookup) */
#define FLOWS_SORT_STEP	 4096 /* rows taken off the heap */
#define FLOWS_PRINT_STEP 1024 /* rows printed */

/* A listed flow is a struct dp_flow: its table is f->established. */
/* The rows are a min-heap by bytes: all flows (keep == 0), or the `keep`
 * with the most bytes (memory bounded by N whatever the table size). */
struct flow_set {
	bool has_only;
	__u32 only; /* with has_only: the VIP id whose flows are listed */
	struct dp_flow *rows;
	size_t n, cap, keep;
	__u64 total[DP_FLOW_TABLES];
};

static bool less(const struct dp_flow *a, const struct dp_flow *b)
{
	return a->v.bytes < b->v.bytes;
}

static void heap_down(struct dp_flow *h, size_t n, size_t i)
{
	struct dp_flow t;
	size_t c;

	while ((c = 2 * i + 1) < n) {
		if (c + 1 < n && less(&h[c + 1], &h[c]))
			c++;
		if (!less(&h[c], &h[i]))
			break;
		t = h[i];
		h[i] = h[c];
		h[c] = t;
		i = c;
	}
}

static void heap_up(struct dp_flow *h, size_t i)
{
	struct dp_flow t;

	while (i && less(&h[i], &h[(i - 1) / 2])) {
		t = h[i];
		h[i] = h[(i - 1) / 2];
		h[(i - 1) / 2] = t;
		i = (i - 1) / 2;
	}
}

static int flow_keep(void *ctx, enum dp_flow_table t, const struct dp_flow *f)
{
	struct flow_set *s = ctx;
	struct dp_flow row = *f, *r;

	if (s->has_only && f->v.vip_id != s->only)
		return 0;
	s->total[t]++;
	if (s->keep && s->n == s->keep) {
		if (!less(&s->rows[0], &row))
			return 0;
		s->rows[0] = row;
		heap_down(s->rows, s->n, 0);
		return 0;
	}
	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 1024;

		r = realloc(s->rows, cap * sizeof(*r));
		if (!r)
			return -ENOMEM;
		s->rows = r;
		s->cap = cap;
	}
	s->rows[s->n++] = row;
	heap_up(s->rows, s->n - 1);
	return 0;
}

static const char *const table_name[DP_FLOW_TABLES] = { "established", "half_open" };

/* One flow's line: VIP from an id-indexed table of the model, backend
 * address from the run-time state (both O(1) per flow). */
static void flow_print(const struct lbd *d, const struct xdplb_vip *const *by_id,
		       const struct dp_flow *r, __u64 now, bool json, bool comma,
		       struct strbuf *out)
{
	const struct xdplb_vip *v = r->v.vip_id < XDPLB_MAX_VIPS ? by_id[r->v.vip_id] : NULL;
	struct sync_backend_state b = sync_backend(d->sync, r->v.backend_id);
	char vs[XDPLB_VIP_STRLEN] = "?", cs[XDPLB_ADDR_STRLEN] = "?", bs[XDPLB_ADDR_STRLEN] = "?";
	char line[512];
	int n;
	double idle = r->v.last_ns && now > r->v.last_ns ? (double)(now - r->v.last_ns) / 1e9 : 0;

	if (v)
		vip_format(&v->key, vs, sizeof(vs));
	addr_format(&r->src, r->family, cs, sizeof(cs));
	if (b.known && b.vip_id == r->v.vip_id)
		addr_format(&b.addr, b.family, bs, sizeof(bs));
	/* formatted once into line (sb_printf formats twice: to measure, then to write) */
	if (json)
		n = snprintf(line, sizeof(line),
			     "%s{\"client\":\"%s\",\"port\":%u,\"vip\":\"%s\",\"dport\":%u,"
			     "\"backend\":\"%s\",\"table\":\"%s\",\"origin\":\"%s\",\"packets\":%llu,"
			     "\"bytes\":%llu,\"idle_s\":%.1f}",
			     comma ? "," : "", cs, ntohs(r->sport), vs, ntohs(r->dport), bs,
			     table_name[r->established ? DP_FLOWS_ESTABLISHED : DP_FLOWS_HALF_OPEN],
			     r->v.flags & XDPLB_FLOW_F_GUESS    ? "guess"
			     : r->v.flags & XDPLB_FLOW_F_SYNCED ? "synced"
								: "learned",
			     (unsigned long long)r->v.packets, (unsigned long long)r->v.bytes, idle);
	else
		n = snprintf(line, sizeof(line), "%-40s %-6u %-28s %-40s %-11s %-10llu %-12llu %.1f\n",
			     cs, ntohs(r->sport), vs, bs,
			     r->established ? "established" : "half-open",
			     (unsigned long long)r->v.packets, (unsigned long long)r->v.bytes, idle);
	if (n < 0 || (size_t)n >= sizeof(line))
		out->overflow = true; /* cannot happen: every field is bounded */
	else
		sb_append(out, line, (size_t)n);
}

/* A listing in the making: read both tables, sort, print. */
enum listing_phase { LIST_READ, LIST_SORT, LIST_PRINT };

struct flow_listing {
	struct lbd *d;
	bool json;
	enum listing_phase phase;
	struct dp_flow_walk walk; /* LIST_READ: walk.table is the table being read */
	struct flow_set s;
	size_t i; /* LIST_SORT: rows still in the heap; LIST_PRINT: rows printed */
	__u64 now;
	const struct xdplb_vip **by_id; /* [XDPLB_MAX_VIPS], refilled every print step */
};

static void listing_free(void *ctx)
{
	struct flow_listing *l = ctx;

	free(l->s.rows);
	free(l->by_id);
	free(l);
}

static void listing_head(struct flow_listing *l, struct strbuf *out)
{
	const struct flow_set *s = &l->s;
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts); /* bpf_ktime_get_coarse_ns()'s clock */
	l->now = (__u64)ts.tv_sec * 1000000000ull + (__u64)ts.tv_nsec;
	if (l->json)
		sb_printf(out, "{\"total\":%llu,\"established\":%llu,\"half_open\":%llu,\"flows\":[",
			  (unsigned long long)(s->total[0] + s->total[1]),
			  (unsigned long long)s->total[0], (unsigned long long)s->total[1]);
	else
		sb_printf(out, "%-40s %-6s %-28s %-40s %-11s %-10s %-12s %s\n", "CLIENT", "PORT",
			  "VIP", "BACKEND", "TABLE", "PACKETS", "BYTES", "IDLE_S");
	l->phase = LIST_PRINT;
	l->i = 0;
}

static int listing_read(struct flow_listing *l, struct strbuf *out)
{
	long n = dp_flows_walk(&l->d->dp, &l->walk, FLOWS_READ_STEP, flow_keep, &l->s);
	enum dp_flow_table next = l->walk.table + 1;

	if (n < 0) {
		sb_printf(out, "cannot read the flow table: %s", strerror((int)-n));
		return -1;
	}
	if (!l->walk.done)
		return 1;
	memset(&l->walk, 0, sizeof(l->walk));
	l->walk.table = next;
	if (next == DP_FLOW_TABLES) {
		l->phase = LIST_SORT;
		l->i = l->s.n;
	}
	return 1;
}

/* Heapsort in place: the smallest row of the min-heap goes to the end,
 * so the rows end busiest first. */
static int listing_sort(struct flow_listing *l, struct strbuf *out)
{
	struct dp_flow *h = l->s.rows, t;
	size_t k;

	for (k = 0; k < FLOWS_SORT_STEP && l->i > 1; k++) {
		l->i--;
		t = h[0];
		h[0] = h[l->i];
		h[l->i] = t;
		heap_down(h, l->i, 0);
	}
	if (l->i <= 1)
		listing_head(l, out);
	return 1;
}

static int listing_print(struct flow_listing *l, struct strbuf *out)
{
	const struct xdplb_model *m = &l->d->model;
	size_t k;

	/* the model may have changed since the last step */
	memset(l->by_id, 0, XDPLB_MAX_VIPS * sizeof(*l->by_id));
	for (k = 0; k < m->n_vips; k++)
		l->by_id[m->vips[k].id] = &m->vips[k];
	for (k = 0; k < FLOWS_PRINT_STEP && l->i < l->s.n; k++, l->i++)
		flow_print(l->d, l->by_id, &l->s.rows[l->i], l->now, l->json, l->i > 0, out);
	if (l->i < l->s.n)
		return 1;
	if (l->json)
		sb_printf(out, "]}\n");
	return 0;
}

/* One step of a listing (a ctl_step_fn): 1 while there is more to do. */
static int listing_step(void *ctx, struct strbuf *out)
{
	struct flow_listing *l = ctx;

	switch (l->phase) {
	case LIST_READ:
		return listing_read(l, out);
	case LIST_SORT:
		return listing_sort(l, out);
	case LIST_PRINT:
		return listing_print(l, out);
	}
	return -1;
}

int lbd_flows(struct lbd *d, const struct xdplb_cmd *c, bool json, struct strbuf *out)
{
	struct flow_listing *l = calloc(1, sizeof(*l));
	const struct xdplb_vip *v = NULL;
	char vs[XDPLB_VIP_STRLEN];
	int ret;

	if (l)
		l->by_id = calloc(XDPLB_MAX_VIPS, sizeof(*l->by_id));
	if (!l || !l->by_id) {
		if (l)
			listing_free(l);
		sb_printf(out, "out of memory");
		return -1;
	}
	if (c->has_vip && !(v = model_find_vip(&d->model, &c->vip))) {
		listing_free(l);
		sb_printf(out, "no VIP %s", vip_format(&c->vip, vs, sizeof(vs)));
		return -1;
	}
	l->d = d;
	l->json = json;
	l->s.keep = c->top;
	l->s.has_only = v != NULL;
	l->s.only = v ? v->id : 0;
	l->walk.table = DP_FLOWS_ESTABLISHED;
	if (!ctl_defer(d->ctl, listing_step, listing_free, l))
		return 0; /* the control socket calls listing_step until it is done */
	/* not asked over the socket (tests): all steps now */
	while ((ret = listing_step(l, out)) > 0 && !out->overflow)
		;
	listing_free(l);
	return ret > 0 ? 0 : ret;
}
