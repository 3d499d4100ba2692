// SPDX-License-Identifier: GPL-2.0
/* stats.c - `lbctl stats`, `lbctl top` and `lbctl flows`: render what
 * counters.c reads, sums and derives (totals, rates from its sampler,
 * unique clients, flows read and sorted in steps, printed here in steps:
 * the loop serves others in between). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "container_of.h"
#include "ctl.h"
#include "lbd.h"
#include "stats.h"
#include "log.h"
#include "node.h"
#include "sync.h"
#include "textform.h"

static const char *const stat_names[XDPLB_STAT_MAX] = { XDPLB_STAT_NAMES };

/* The estimate of distinct client addresses of a VIP (be_id ==
 * XDPLB_NO_BACKEND) over the last one to two epochs (xdplb.h).  False when
 * there is no sketch (backends; VIP ids >= XDPLB_HLL_VIPS): `lbctl stats`
 * shows "-" and JSON null. */
static bool unique_clients(const struct lbd *d, const struct xdplb_vip *v, __u32 be_id,
			   __u64 *n)
{
	return be_id == XDPLB_NO_BACKEND && counters_unique_clients(&d->counters, v->id, n);
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
	struct counters_rate r;
};

static void row_fill(struct lbd *d, struct stat_row *row, const struct xdplb_vip *v,
		     const struct xdplb_backend *b)
{
	enum counters_kind k = b ? COUNTERS_BACKENDS : COUNTERS_VIPS;
	__u32 id = b ? b->id : v->id;

	row->v = v;
	row->b = b;
	row->c = counters_total(&d->counters, k, id);
	row->r = counters_rate(&d->counters, k, id);
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

	if (counters_global(&d->dp, &st))
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
	__u32 i;
	int err;

	*n = 0;
	if (c->has_vip && !model_find_vip(&d->model, &c->vip)) {
		sb_printf(out, "no VIP %s", vip_format(&c->vip, vs, sizeof(vs)));
		return -1;
	}
	err = counters_read(&d->counters);
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
		sb_printf(out, "{\"interval_ms\":%u,\"vips\":[", COUNTERS_SAMPLE_MS);
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
 * error but not counted as one.  A listed flow is a struct dp_flow: its
 * table is f->established. */
#define FLOWS_PRINT_STEP 1024 /* rows printed */

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

/* A listing in the making: read and sort (counters.c), then print. */
struct flow_listing {
	struct lbd *d;
	bool json;
	bool printing;
	struct counters_flows fl;
	size_t i; /* rows printed */
	__u64 now;
	const struct xdplb_vip **by_id; /* [XDPLB_MAX_VIPS], refilled every print step */
};

static void listing_free(void *ctx)
{
	struct flow_listing *l = ctx;

	counters_flows_free(&l->fl);
	free(l->by_id);
	free(l);
}

static void listing_head(struct flow_listing *l, struct strbuf *out)
{
	const __u64 *total = l->fl.total;
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts); /* bpf_ktime_get_coarse_ns()'s clock */
	l->now = (__u64)ts.tv_sec * 1000000000ull + (__u64)ts.tv_nsec;
	if (l->json)
		sb_printf(out, "{\"total\":%llu,\"established\":%llu,\"half_open\":%llu,\"flows\":[",
			  (unsigned long long)(total[0] + total[1]), (unsigned long long)total[0],
			  (unsigned long long)total[1]);
	else
		sb_printf(out, "%-40s %-6s %-28s %-40s %-11s %-10s %-12s %s\n", "CLIENT", "PORT",
			  "VIP", "BACKEND", "TABLE", "PACKETS", "BYTES", "IDLE_S");
	l->printing = true;
	l->i = 0;
}

/* Read or sort (counters.c); the header once the rows are ready. */
static int listing_collect(struct flow_listing *l, struct strbuf *out)
{
	int ret = counters_flows_step(&l->d->counters, &l->fl);

	if (ret < 0) {
		sb_printf(out, "cannot read the flow table: %s", strerror(-ret));
		return -1;
	}
	if (!ret)
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
	for (k = 0; k < FLOWS_PRINT_STEP && l->i < l->fl.n; k++, l->i++)
		flow_print(l->d, l->by_id, &l->fl.rows[l->i], l->now, l->json, l->i > 0, out);
	if (l->i < l->fl.n)
		return 1;
	if (l->json)
		sb_printf(out, "]}\n");
	return 0;
}

/* One step of a listing (a ctl_step_fn): 1 while there is more to do. */
static int listing_step(void *ctx, struct strbuf *out)
{
	struct flow_listing *l = ctx;

	return l->printing ? listing_print(l, out) : listing_collect(l, out);
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
	counters_flows_init(&l->fl, c->top, v != NULL, v ? v->id : 0);
	if (!ctl_defer(d->ctl, listing_step, listing_free, l))
		return 0; /* the control socket calls listing_step until it is done */
	/* not asked over the socket (tests): all steps now */
	while ((ret = listing_step(l, out)) > 0 && !out->overflow)
		;
	listing_free(l);
	return ret > 0 ? 0 : ret;
}
