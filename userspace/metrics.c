// SPDX-License-Identifier: GPL-2.0
/* metrics.c - rates, flow table counts, control operation counts and the
 * /metrics page. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "container_of.h"
#include "http.h"
#include "lbd.h"
#include "log.h"
#include "metrics.h"
#include "metrics_text.h"
#include "node.h"
#include "sync.h"
#include "textform.h"
#include "version.h"

static double now_real(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double now_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int mon_init(struct lbd *d)
{
	struct lbd_mon *m = &d->mon;

	m->vip_prev = calloc(XDPLB_MAX_VIPS, sizeof(*m->vip_prev));
	m->vip_cur = calloc(XDPLB_MAX_VIPS, sizeof(*m->vip_cur));
	m->vip_rate = calloc(XDPLB_MAX_VIPS, sizeof(*m->vip_rate));
	m->be_prev = calloc(XDPLB_MAX_BACKENDS, sizeof(*m->be_prev));
	m->be_cur = calloc(XDPLB_MAX_BACKENDS, sizeof(*m->be_cur));
	m->be_rate = calloc(XDPLB_MAX_BACKENDS, sizeof(*m->be_rate));
	if (!m->vip_prev || !m->vip_cur || !m->vip_rate || !m->be_prev || !m->be_cur ||
	    !m->be_rate)
		return -ENOMEM;
	return 0;
}

void mon_free(struct lbd *d)
{
	struct lbd_mon *m = &d->mon;

	free(m->vip_prev);
	free(m->vip_cur);
	free(m->vip_rate);
	free(m->be_prev);
	free(m->be_cur);
	free(m->be_rate);
	m->vip_prev = m->vip_cur = m->be_prev = m->be_cur = NULL;
	m->vip_rate = m->be_rate = NULL;
}

void mon_count_op(struct lbd *d, enum cmd_kind kind, bool ok)
{
	if ((unsigned int)kind >= CMD_KIND_MAX)
		kind = CMD_NONE;
	d->mon.ops[kind][ok ? 0 : 1]++;
}

/* ---- counters and rates ---- */

static void id_bounds(const struct lbd *d, __u32 *nv, __u32 *nb)
{
	__u32 i, j;

	*nv = *nb = 0;
	for (i = 0; i < d->model.n_vips; i++) {
		const struct xdplb_vip *v = &d->model.vips[i];

		if (v->id + 1 > *nv)
			*nv = v->id + 1;
		for (j = 0; j < v->n_backends; j++)
			if (v->backends[j].id + 1 > *nb)
				*nb = v->backends[j].id + 1;
	}
}

int mon_read_counters(struct lbd *d, __u32 *nv, __u32 *nb)
{
	int err;

	__u32 i, j;

	id_bounds(d, nv, nb);
	err = dp_counters_range(&d->dp, DP_VIP_COUNTERS, *nv, d->mon.vip_cur);
	if (!err)
		err = dp_counters_range(&d->dp, DP_BACKEND_COUNTERS, *nb, d->mon.be_cur);
	if (err)
		return err;
	/* the datapath counts per backend; vip_stats holds what removed
	 * backends counted (see dp_vip_counters) */
	for (i = 0; i < d->model.n_vips; i++) {
		const struct xdplb_vip *v = &d->model.vips[i];
		struct xdplb_counters *c = &d->mon.vip_cur[v->id];

		for (j = 0; j < v->n_backends; j++) {
			const struct xdplb_counters *b = &d->mon.be_cur[v->backends[j].id];

			c->packets += b->packets;
			c->bytes += b->bytes;
			c->new_flows += b->new_flows;
		}
	}
	return 0;
}

struct mon_rate mon_rate_of(const struct xdplb_counters *prev, const struct xdplb_counters *cur,
			    __u64 interval_ms)
{
	struct mon_rate r = { 0, 0 };

	if (!interval_ms || cur->packets < prev->packets || cur->bytes < prev->bytes)
		return r;
	r.pps = (double)(cur->packets - prev->packets) * 1000.0 / (double)interval_ms;
	r.bps = (double)(cur->bytes - prev->bytes) * 8000.0 / (double)interval_ms;
	return r;
}

static void rates(struct xdplb_counters *prev, __u32 n_prev, const struct xdplb_counters *cur,
		  __u32 n, struct mon_rate *out, __u64 interval_ms)
{
	static const struct xdplb_counters zero;
	__u32 i;

	/* an id that was not read last time starts from zero: its whole
	 * count is recent unless it is an old id's (then cur < prev gives 0) */
	for (i = 0; i < n; i++)
		out[i] = mon_rate_of(i < n_prev ? &prev[i] : &zero, &cur[i], interval_ms);
	memcpy(prev, cur, sizeof(*cur) * n);
}

int mon_sample(struct lbd *d, __u64 now_ms)
{
	struct lbd_mon *m = &d->mon;
	__u32 nv, nb;
	int err = mon_read_counters(d, &nv, &nb);

	if (err)
		return err;
	if (m->prev_ms && now_ms > m->prev_ms) {
		rates(m->vip_prev, m->n_vip_prev, m->vip_cur, nv, m->vip_rate, now_ms - m->prev_ms);
		rates(m->be_prev, m->n_be_prev, m->be_cur, nb, m->be_rate, now_ms - m->prev_ms);
	} else {
		memcpy(m->vip_prev, m->vip_cur, sizeof(*m->vip_cur) * nv);
		memcpy(m->be_prev, m->be_cur, sizeof(*m->be_cur) * nb);
	}
	m->n_vip_prev = nv;
	m->n_be_prev = nb;
	m->prev_ms = now_ms;
	return 0;
}

static void on_sample(struct loop_timer *t)
{
	struct lbd *d = container_of(t, struct lbd, mon.sample_timer);
	int err = mon_sample(d, loop_now_ms());

	if (err)
		lbd_log("cannot read the counters: %s", strerror(-err));
	loop_timer_set(d->loop, t, MON_SAMPLE_MS);
}

/* ---- the flow table count ---- */

/* Counting may take 1% of the time: the next count starts 100 count
 * durations after this one ended, at least 1 s and at most
 * MON_COUNT_PERIOD_MS later (a small table is fresh within a second, a
 * million entries are counted every 30 s). */
__u64 mon_count_period_ms(double count_seconds)
{
	double ms = count_seconds * 1000.0 * 100.0;

	return ms < 1000 ? 1000 : ms > MON_COUNT_PERIOD_MS ? MON_COUNT_PERIOD_MS : (__u64)ms;
}

static void on_count(struct loop_timer *t)
{
	struct lbd *d = container_of(t, struct lbd, mon.count_timer);
	struct lbd_mon *m = &d->mon;
	enum dp_flow_table tb = m->walk.table;
	double t0 = now_mono();
	long n;

	/* walk.started is the map cursor's, cleared between families: the
	 * count's own flag says when it began */
	if (!m->counting) {
		m->count_started_ms = loop_now_ms();
		m->counting = true;
	}
	n = dp_flows_walk(&d->dp, &m->walk, MON_COUNT_STEP, NULL, NULL);
	if (now_mono() - t0 > m->step_max_seconds)
		m->step_max_seconds = now_mono() - t0;
	if (n < 0) {
		lbd_log("cannot count the flow table: %s", strerror((int)-n));
		memset(&m->walk, 0, sizeof(m->walk));
		memset(m->partial, 0, sizeof(m->partial));
		m->counting = false;
		loop_timer_set(d->loop, t, MON_COUNT_PERIOD_MS);
		return;
	}
	m->partial[tb] += (__u64)n;
	if (!m->walk.done) {
		loop_timer_set(d->loop, t, MON_COUNT_PAUSE_MS);
		return;
	}
	if (tb + 1 < DP_FLOW_TABLES) {
		memset(&m->walk, 0, sizeof(m->walk));
		m->walk.table = tb + 1;
		loop_timer_set(d->loop, t, MON_COUNT_PAUSE_MS);
		return;
	}
	memcpy(m->entries, m->partial, sizeof(m->entries));
	memset(m->partial, 0, sizeof(m->partial));
	memset(&m->walk, 0, sizeof(m->walk));
	m->counted = true;
	m->counting = false;
	m->counted_at = now_real();
	m->count_seconds = (double)(loop_now_ms() - m->count_started_ms) / 1000.0;
	loop_timer_set(d->loop, t, mon_count_period_ms(m->count_seconds));
}

/* ---- the page ---- */

static int render_cb(void *arg, struct strbuf *body)
{
	struct lbd *d = arg;

	return metrics_render(d, body);
}

int mon_start(struct lbd *d, const char *listen, char *err, size_t errlen)
{
	struct http_opts o = { .path = MON_METRICS_PATH, .content_type = MX_CONTENT_TYPE,
			       .handler = render_cb, .arg = d };
	struct lbd_mon *m = &d->mon;

	if (listen) {
		m->http = http_open(d->loop, listen, &o, err, errlen);
		if (!m->http)
			return -1;
	}
	m->sample_timer.cb = on_sample;
	m->count_timer.cb = on_count;
	if (loop_timer_set(d->loop, &m->sample_timer, 0) ||
	    loop_timer_set(d->loop, &m->count_timer, 0)) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

void mon_stop(struct lbd *d)
{
	if (d->loop) {
		loop_timer_cancel(d->loop, &d->mon.sample_timer);
		loop_timer_cancel(d->loop, &d->mon.count_timer);
	}
	http_close(d->mon.http);
	d->mon.http = NULL;
}

unsigned int mon_port(const struct lbd *d)
{
	return d->mon.http ? http_port(d->mon.http) : 0;
}

/* Label sets of every VIP (`vip="..."`) and backend (`vip="...",backend="..."`),
 * built once per page: text in one buffer, NUL-separated, offsets by index. */
struct labels {
	struct strbuf text;
	size_t *vip_off, *be_off; /* by model index; backends flattened */
};

static int labels_build(const struct lbd *d, struct labels *l)
{
	char vs[XDPLB_VIP_STRLEN], bs[XDPLB_ADDR_STRLEN];
	struct strbuf vl, bl;
	__u32 i, j, k = 0;

	sb_init(&l->text, 0);
	sb_init(&vl, 0);
	sb_init(&bl, 0);
	l->vip_off = calloc(d->model.n_vips + 1, sizeof(size_t));
	l->be_off = calloc(d->model.n_backends + 1, sizeof(size_t));
	if (!l->vip_off || !l->be_off)
		return -ENOMEM;
	for (i = 0; i < d->model.n_vips; i++) {
		const struct xdplb_vip *v = &d->model.vips[i];

		sb_reset(&vl);
		mx_label(&vl, "vip", vip_format(&v->key, vs, sizeof(vs)));
		l->vip_off[i] = l->text.len;
		sb_append(&l->text, sb_str(&vl), vl.len + 1);
		for (j = 0; j < v->n_backends && k < d->model.n_backends; j++, k++) {
			const struct xdplb_backend *b = &v->backends[j];

			sb_reset(&bl);
			sb_append(&bl, vl.buf, vl.len);
			mx_label(&bl, "backend", addr_format(&b->addr, b->family, bs, sizeof(bs)));
			l->be_off[k] = l->text.len;
			sb_append(&l->text, sb_str(&bl), bl.len + 1);
		}
	}
	sb_free(&vl);
	sb_free(&bl);
	return l->text.overflow ? -ENOMEM : 0;
}

static void labels_free(struct labels *l)
{
	sb_free(&l->text);
	free(l->vip_off);
	free(l->be_off);
}

enum vip_field { VF_PACKETS, VF_BYTES, VF_NEW_FLOWS, VF_REBUILDS, VF_BACKENDS, VF_MAX };

static const struct {
	const char *name;
	enum mx_type type;
	const char *help;
} vip_fams[VF_MAX] = {
	[VF_PACKETS] = { "xdplb_vip_packets_total", MX_COUNTER,
			 "Packets forwarded for the VIP (client to backend direction)." },
	[VF_BYTES] = { "xdplb_vip_bytes_total", MX_COUNTER,
		       "Bytes forwarded for the VIP (Ethernet frames as received)." },
	[VF_NEW_FLOWS] = { "xdplb_vip_new_flows_total", MX_COUNTER,
			   "New flows of the VIP (a backend picked by the Maglev ring)." },
	[VF_REBUILDS] = { "xdplb_vip_ring_rebuilds_total", MX_COUNTER,
			  "Maglev ring rebuilds of the VIP (membership, weight or health changed)." },
	[VF_BACKENDS] = { "xdplb_vip_backends", MX_GAUGE, "Backends configured for the VIP." },
};

static void render_vips(const struct lbd *d, const struct labels *l, struct strbuf *out)
{
	int f;
	__u32 i;

	for (f = 0; f < VF_MAX; f++) {
		mx_family(out, vip_fams[f].name, vip_fams[f].type, vip_fams[f].help);
		for (i = 0; i < d->model.n_vips; i++) {
			const struct xdplb_vip *v = &d->model.vips[i];
			const struct xdplb_counters *c = &d->mon.vip_cur[v->id];
			const char *lab = l->text.buf + l->vip_off[i];
			__u64 val = f == VF_PACKETS ? c->packets : f == VF_BYTES ? c->bytes
				  : f == VF_NEW_FLOWS ? c->new_flows
				  : f == VF_REBUILDS  ? sync_vip(d->sync, v->id).rebuilds : v->n_backends;

			mx_u64(out, vip_fams[f].name, lab, val);
		}
	}
	mx_family(out, "xdplb_vip_unique_clients", MX_GAUGE,
		  "Distinct client addresses of the VIP seen in the last 30 to 60 s "
		  "(HyperLogLog estimate, standard error 1.6%; VIP ids below 256 only).");
	for (i = 0; i < d->model.n_vips; i++) {
		double e = lbd_vip_unique_clients(d, &d->model.vips[i]);

		if (e >= 0)
			mx_f64(out, "xdplb_vip_unique_clients", l->text.buf + l->vip_off[i],
			       (double)(__u64)(e + 0.5));
	}
}

enum be_field { BF_PACKETS, BF_BYTES, BF_NEW_FLOWS, BF_UP, BF_HEALTHY, BF_CHANGED, BF_WEIGHT,
		BF_MAX };

static const struct {
	const char *name;
	enum mx_type type;
	const char *help;
} be_fams[BF_MAX] = {
	[BF_PACKETS] = { "xdplb_backend_packets_total", MX_COUNTER,
			 "Packets forwarded to the backend." },
	[BF_BYTES] = { "xdplb_backend_bytes_total", MX_COUNTER, "Bytes forwarded to the backend." },
	[BF_NEW_FLOWS] = { "xdplb_backend_new_flows_total", MX_COUNTER,
			   "New flows the Maglev ring gave the backend." },
	[BF_UP] = { "xdplb_backend_up", MX_GAUGE,
		    "1 if the datapath may send to the backend (health check passing or none, "
		    "next hop resolved), else 0." },
	[BF_HEALTHY] = { "xdplb_backend_healthy", MX_GAUGE,
			 "The health check's verdict: 1 up (or no check), 0 down." },
	[BF_CHANGED] = { "xdplb_backend_health_last_change_timestamp_seconds", MX_GAUGE,
			 "Unix time of the last health change (or of the backend's start)." },
	[BF_WEIGHT] = { "xdplb_backend_weight", MX_GAUGE,
			"Configured weight (0 drains: no new flows)." },
};

static void render_backends(const struct lbd *d, const struct labels *l, struct strbuf *out)
{
	__u64 mono_ms = loop_now_ms(), real_ms = (__u64)(now_real() * 1000);
	__u32 i, j, k;
	int f;

	for (f = 0; f < BF_MAX; f++) {
		mx_family(out, be_fams[f].name, be_fams[f].type, be_fams[f].help);
		for (i = 0, k = 0; i < d->model.n_vips; i++) {
			const struct xdplb_vip *v = &d->model.vips[i];

			for (j = 0; j < v->n_backends; j++, k++) {
				const struct xdplb_backend *b = &v->backends[j];
				struct sync_backend_state r = sync_backend(d->sync, b->id);
				const struct xdplb_counters *c = &d->mon.be_cur[b->id];
				const char *lab = l->text.buf + l->be_off[k];

				if (f == BF_CHANGED) {
					mx_ms(out, be_fams[f].name, lab,
					      r.known && real_ms + r.changed_ms > mono_ms
						      ? real_ms + r.changed_ms - mono_ms
						      : 0);
					continue;
				}
				mx_u64(out, be_fams[f].name, lab,
				       f == BF_PACKETS	   ? c->packets
				       : f == BF_BYTES	   ? c->bytes
				       : f == BF_NEW_FLOWS ? c->new_flows
				       : f == BF_UP	   ? (__u64)(r.known && r.healthy && r.resolved)
				       : f == BF_HEALTHY   ? (__u64)(r.known && r.healthy)
							   : b->weight);
			}
		}
	}
}

/* The datapath's global counters (XDPLB_STAT_NAMES), grouped into families
 * by name: actions, then by prefix; a name no rule claims goes to the
 * catch-all family, so a counter added to the datapath is never lost. */
static const char *const stat_names[XDPLB_STAT_MAX] = { XDPLB_STAT_NAMES };

static const struct stat_family {
	const char *prefix; /* NULL: the XDP actions; "": the catch-all */
	const char *name, *label, *help;
} stat_fams[] = {
	{ NULL, "xdplb_packets_total", "action",
	  "Packets seen by the forwarder, by XDP action (aborted, drop, pass, tx, redirect)." },
	{ "drop_", "xdplb_drops_total", "reason", "Packets to a VIP dropped, by reason." },
	{ "pass_", "xdplb_passes_total", "reason", "Packets passed to the kernel, by reason." },
	{ "flow_miss_", "xdplb_flow_table_misses_total", "packet",
	  "Flow table misses: syn = a new flow (TCP SYN or first UDP packet); nonsyn = a TCP "
	  "packet of a flow no table remembers (sent by the current ring)." },
	{ "flow_", "xdplb_flow_table_events_total", "event",
	  "Flow table hits, half-open flows promoted, promotions flow sync missed (sync_lost: "
	  "its ring buffer was full)." },
	{ "icmp_", "xdplb_icmp_total", "event",
	  "ICMP handled: echo requests answered, errors forwarded, too-big messages sent." },
	{ "", "xdplb_datapath_events_total", "counter", "Other datapath counters, by name." },
};

#define N_STAT_FAMS (sizeof(stat_fams) / sizeof(stat_fams[0]))

/* The family index of global counter i and its label value. */
static size_t stat_family(int i, const char **value)
{
	size_t f;

	*value = stat_names[i] ? stat_names[i] : "unnamed";
	if (i <= XDPLB_STAT_REDIRECT)
		return 0;
	for (f = 1; f < N_STAT_FAMS - 1; f++) {
		size_t n = strlen(stat_fams[f].prefix);

		/* i < XDPLB_STAT_MAX (the callers' loop); cppcheck takes the
		 * i <= XDPLB_STAT_REDIRECT test above for a bound on i */
		/* cppcheck-suppress arrayIndexOutOfBoundsCond */
		if (stat_names[i] && !strncmp(stat_names[i], stat_fams[f].prefix, n)) {
			*value = stat_names[i] + n;
			return f;
		}
	}
	return N_STAT_FAMS - 1;
}

static void render_stats(const struct xdplb_stats *st, struct strbuf *out)
{
	struct strbuf lab;
	const char *value;
	size_t f;
	int i;
	bool any;

	sb_init(&lab, 0);
	for (f = 0; f < N_STAT_FAMS; f++) {
		for (i = 0, any = false; i < XDPLB_STAT_MAX; i++) {
			if (stat_family(i, &value) != f)
				continue;
			if (!any)
				mx_family(out, stat_fams[f].name, MX_COUNTER, stat_fams[f].help);
			any = true;
			sb_reset(&lab);
			mx_label(&lab, stat_fams[f].label, value);
			mx_u64(out, stat_fams[f].name, sb_str(&lab), st->v[i]);
		}
	}
	sb_free(&lab);
}

static void render_flow_tables(const struct lbd *d, struct strbuf *out)
{
	static const char *const tname[DP_FLOW_TABLES] = { "established", "half_open" };
	const struct lbd_mon *m = &d->mon;
	char lab[32];
	int t;

	mx_family(out, "xdplb_flow_table_capacity", MX_GAUGE,
		  "Entries the flow table can hold (LRU: the least recent go first).");
	for (t = 0; t < DP_FLOW_TABLES; t++) {
		snprintf(lab, sizeof(lab), "table=\"%s\"", tname[t]);
		mx_u64(out, "xdplb_flow_table_capacity", lab,
		       dp_flows_capacity(&d->dp, (enum dp_flow_table)t));
	}
	if (!m->counted)
		return; /* the first count is still running */
	mx_family(out, "xdplb_flow_table_entries", MX_GAUGE,
		  "Entries in the flow table, as of the last background count "
		  "(see xdplb_flow_table_count_timestamp_seconds).");
	for (t = 0; t < DP_FLOW_TABLES; t++) {
		snprintf(lab, sizeof(lab), "table=\"%s\"", tname[t]);
		mx_u64(out, "xdplb_flow_table_entries", lab, m->entries[t]);
	}
	mx_family(out, "xdplb_flow_table_count_timestamp_seconds", MX_GAUGE,
		  "Unix time the last count of the flow tables ended.");
	mx_ms(out, "xdplb_flow_table_count_timestamp_seconds", NULL, (__u64)(m->counted_at * 1000));
	mx_family(out, "xdplb_flow_table_count_duration_seconds", MX_GAUGE,
		  "How long the last count of the flow tables took, pauses between steps included.");
	mx_f64(out, "xdplb_flow_table_count_duration_seconds", NULL, m->count_seconds);
}

static void render_ops(const struct lbd *d, struct strbuf *out)
{
	static const char *const result[2] = { "ok", "error" };
	struct strbuf lab;
	char name[32];
	int k, r;

	sb_init(&lab, 0);
	mx_family(out, "xdplb_control_operations_total", MX_COUNTER,
		  "Requests on the control socket, by command and result "
		  "(command \"invalid\": the line named no command).");
	for (k = 0; k < CMD_KIND_MAX; k++) {
		if (k == CMD_HELP)
			continue; /* answered by lbctl itself */
		if (k == CMD_NONE)
			snprintf(name, sizeof(name), "invalid");
		else
			cmd_kind_name((enum cmd_kind)k, name, sizeof(name));
		for (r = 0; r < 2; r++) {
			sb_reset(&lab);
			mx_label(&lab, "command", name);
			mx_label(&lab, "result", result[r]);
			mx_u64(out, "xdplb_control_operations_total", sb_str(&lab),
			       d->mon.ops[k][r]);
		}
	}
	sb_free(&lab);
}

/* Serving, announcements, drain and ring fingerprints (node.c). */
static void render_node(const struct lbd *d, const struct labels *l, struct strbuf *out)
{
	char as[XDPLB_ADDR_STRLEN], fp[24];
	struct strbuf lab;
	__u32 i;

	mx_family(out, "xdplb_vip_serving", MX_GAUGE,
		  "1 while at least `need` backends of the VIP are up (weight > 0, healthy, "
		  "next hop resolved).");
	for (i = 0; i < d->model.n_vips; i++)
		mx_u64(out, "xdplb_vip_serving", l->text.buf + l->vip_off[i],
		       lbd_vip_serving(d, &d->model.vips[i]));
	mx_family(out, "xdplb_vip_ring_info", MX_GAUGE,
		  "Always 1; the fingerprint of the VIP's ring (its backend addresses slot by "
		  "slot): equal on every node that picks the same backends.");
	sb_init(&lab, 0);
	for (i = 0; i < d->model.n_vips; i++) {
		sb_reset(&lab);
		sb_printf(&lab, "%s", l->text.buf + l->vip_off[i]);
		mx_label(&lab, "fingerprint", sync_fingerprint(d->sync, d->model.vips[i].id, fp,
							       sizeof(fp)));
		mx_u64(out, "xdplb_vip_ring_info", sb_str(&lab), 1);
	}
	/* only on nodes that announce: an alert on "announces nothing" must
	 * not fire on a node that never announces */
	if (d->announce)
		mx_family(out, "xdplb_address_announced", MX_GAUGE,
			  "1 while the VIP address is announced (a route in the --announce-table table).");
	for (i = 0; i < d->model.n_vips && d->announce; i++) {
		const struct xdplb_vip *v = &d->model.vips[i];

		if (!lbd_vip_addr_first(d, v))
			continue;
		sb_reset(&lab);
		mx_label(&lab, "address", addr_format(&v->key.addr, v->key.family, as, sizeof(as)));
		mx_u64(out, "xdplb_address_announced", sb_str(&lab), lbd_vip_announced(d, v));
	}
	sb_free(&lab);
	mx_family(out, "xdplb_node_drained", MX_GAUGE,
		  "1 while the node is drained (lbctl node drain): nothing announced.");
	mx_u64(out, "xdplb_node_drained", NULL, d->model.drained);
}

static void render_daemon(const struct lbd *d, struct strbuf *out)
{
	struct strbuf lab;

	sb_init(&lab, 0);
	mx_label(&lab, "version", XDPLB_VERSION);
	mx_family(out, "xdplb_build_info", MX_GAUGE, "Always 1; the version lbd was built from.");
	mx_u64(out, "xdplb_build_info", sb_str(&lab), 1);
	sb_free(&lab);
	mx_family(out, "xdplb_vips", MX_GAUGE, "VIPs configured.");
	mx_u64(out, "xdplb_vips", NULL, d->model.n_vips);
	mx_family(out, "xdplb_backends", MX_GAUGE, "Backends configured, over all VIPs.");
	mx_u64(out, "xdplb_backends", NULL, d->model.n_backends);
	mx_family(out, "xdplb_ring_rebuilds_total", MX_COUNTER,
		  "Maglev ring rebuilds, all VIPs together.");
	mx_u64(out, "xdplb_ring_rebuilds_total", NULL, sync_stats(d->sync).ring_rebuilds);
	mx_family(out, "xdplb_metrics_render_seconds", MX_GAUGE,
		  "How long lbd took to build the previous /metrics page (its loop waits meanwhile).");
	mx_f64(out, "xdplb_metrics_render_seconds", NULL, d->mon.render_seconds);
}

int metrics_render(struct lbd *d, struct strbuf *out)
{
	double t0 = now_mono();
	struct labels l = { 0 };
	struct xdplb_stats st;
	__u32 nv, nb;
	int err;

	err = mon_read_counters(d, &nv, &nb);
	if (!err)
		err = dp_stats(&d->dp, &st);
	if (!err)
		err = labels_build(d, &l);
	if (err) {
		labels_free(&l);
		sb_printf(out, "cannot read the counters: %s\n", strerror(-err));
		return -1;
	}
	render_vips(d, &l, out);
	render_backends(d, &l, out);
	render_stats(&st, out);
	render_flow_tables(d, out);
	render_ops(d, out);
	render_node(d, &l, out);
	if (d->flowsync)
		flowsync_metrics(d->flowsync, out);
	render_daemon(d, out);
	labels_free(&l);
	d->mon.scrapes++;
	d->mon.render_seconds = now_mono() - t0;
	return 0;
}
