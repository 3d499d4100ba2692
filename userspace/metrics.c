// SPDX-License-Identifier: GPL-2.0
/* metrics.c - the /metrics page: renders what counters.c reads and derives,
 * the model and the run-time state; counts control operations. */
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

void mon_count_op(struct lbd *d, enum cmd_kind kind, bool ok)
{
	if ((unsigned int)kind >= CMD_KIND_MAX)
		kind = CMD_NONE;
	d->mon.ops[kind][ok ? 0 : 1]++;
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

	if (!listen)
		return 0;
	d->mon.http = http_open(d->loop, listen, &o, err, errlen);
	return d->mon.http ? 0 : -1;
}

void mon_stop(struct lbd *d)
{
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
			const struct xdplb_counters c =
				counters_total(&d->counters, COUNTERS_VIPS, v->id);
			const char *lab = l->text.buf + l->vip_off[i];
			__u64 val = f == VF_PACKETS ? c.packets : f == VF_BYTES ? c.bytes
				  : f == VF_NEW_FLOWS ? c.new_flows
				  : f == VF_REBUILDS  ? sync_vip(d->sync, v->id).rebuilds : v->n_backends;

			mx_u64(out, vip_fams[f].name, lab, val);
		}
	}
	mx_family(out, "xdplb_vip_unique_clients", MX_GAUGE,
		  "Distinct client addresses of the VIP seen in the last 30 to 60 s "
		  "(HyperLogLog estimate, standard error 1.6%; VIP ids below 256 only).");
	for (i = 0; i < d->model.n_vips; i++) {
		__u64 n;

		if (counters_unique_clients(&d->counters, d->model.vips[i].id, &n))
			mx_f64(out, "xdplb_vip_unique_clients", l->text.buf + l->vip_off[i],
			       (double)n);
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
				const struct xdplb_counters c =
					counters_total(&d->counters, COUNTERS_BACKENDS, b->id);
				const char *lab = l->text.buf + l->be_off[k];

				if (f == BF_CHANGED) {
					mx_ms(out, be_fams[f].name, lab,
					      r.known && real_ms + r.changed_ms > mono_ms
						      ? real_ms + r.changed_ms - mono_ms
						      : 0);
					continue;
				}
				mx_u64(out, be_fams[f].name, lab,
				       f == BF_PACKETS	   ? c.packets
				       : f == BF_BYTES	   ? c.bytes
				       : f == BF_NEW_FLOWS ? c.new_flows
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
	__u64 entries[DP_FLOW_TABLES];
	double at, seconds;
	char lab[32];
	int t;

	mx_family(out, "xdplb_flow_table_capacity", MX_GAUGE,
		  "Entries the flow table can hold (LRU: the least recent go first).");
	for (t = 0; t < DP_FLOW_TABLES; t++) {
		snprintf(lab, sizeof(lab), "table=\"%s\"", tname[t]);
		mx_u64(out, "xdplb_flow_table_capacity", lab,
		       counters_flow_capacity(&d->counters, (enum dp_flow_table)t));
	}
	if (!counters_flow_count(&d->counters, entries, &at, &seconds))
		return; /* the first count is still running */
	mx_family(out, "xdplb_flow_table_entries", MX_GAUGE,
		  "Entries in the flow table, as of the last background count "
		  "(see xdplb_flow_table_count_timestamp_seconds).");
	for (t = 0; t < DP_FLOW_TABLES; t++) {
		snprintf(lab, sizeof(lab), "table=\"%s\"", tname[t]);
		mx_u64(out, "xdplb_flow_table_entries", lab, entries[t]);
	}
	mx_family(out, "xdplb_flow_table_count_timestamp_seconds", MX_GAUGE,
		  "Unix time the last count of the flow tables ended.");
	mx_ms(out, "xdplb_flow_table_count_timestamp_seconds", NULL, (__u64)(at * 1000));
	mx_family(out, "xdplb_flow_table_count_duration_seconds", MX_GAUGE,
		  "How long the last count of the flow tables took, pauses between steps included.");
	mx_f64(out, "xdplb_flow_table_count_duration_seconds", NULL, seconds);
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
	int err;

	err = counters_read(&d->counters);
	if (!err)
		err = counters_global(&d->dp, &st);
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
