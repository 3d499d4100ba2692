// SPDX-License-Identifier: GPL-2.0
/* commands.c - what lbd does with a control socket request: changes go
 * model copy -> apply -> persist -> swap -> datapath; queries read the
 * model, the run-time state and the maps.  `-j` selects JSON output. */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/bpf.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "lbd.h"
#include "log.h"
#include "lookup.h"
#include "node.h"
#include "persist.h"
#include "sync.h"
#include "stats.h"
#include "textform.h"
#include "xdplb_hash.h"

#define ERRLEN 512

static int fail(struct strbuf *out, const char *msg)
{
	sb_reset(out);
	sb_printf(out, "%s", msg);
	return -1;
}

/* The configuration as commands (`save`), or with the node state too (state). */
static int model_text(const struct xdplb_model *m, bool state, struct strbuf *sb)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	int ret;

	if (!f)
		return -ENOMEM;
	ret = state ? model_save_state(m, f) : model_save(m, f);
	if (fclose(f) || ret) {
		free(buf);
		return -ENOMEM;
	}
	ret = sb_append(sb, buf, len) ? 0 : -ENOMEM;
	free(buf);
	return ret;
}

/* Persist `next`, make it the model and derive the datapath; on any
 * failure the running configuration and the state file stay as they were. */
static int commit(struct lbd *d, struct xdplb_model *next, struct strbuf *out)
{
	char err[ERRLEN], err2[ERRLEN];
	struct xdplb_model old;
	struct strbuf text;
	int ret;

	sb_init(&text, 0);
	ret = model_text(next, true, &text);
	if (!ret)
		ret = persist_write(d->o.state_path, text.buf ? text.buf : "", text.len, err,
				    sizeof(err));
	else
		snprintf(err, sizeof(err), "out of memory");
	sb_free(&text);
	if (ret) { /* disk full, read-only, ...: refused before anything changed */
		model_free(next);
		fail(out, err);
		sb_printf(out, " (nothing changed)");
		return -1;
	}
	old = d->model;
	d->model = *next;
	if (!sync_run(d->sync, err, sizeof(err))) {
		model_free(&old);
		if (d->flowsync)
			flowsync_config_changed(d->flowsync);
		return 0;
	}
	/* the datapath refused: go back to the old model, file included */
	*next = d->model;
	d->model = old;
	model_free(next);
	sb_init(&text, 0);
	if (model_text(&d->model, true, &text))
		snprintf(err2, sizeof(err2), "out of memory");
	else if (!persist_write(d->o.state_path, sb_str(&text), text.len, err2, sizeof(err2)))
		err2[0] = 0;
	if (err2[0])
		lbd_log("warning: the state file still holds the refused configuration (a "
			"restart would apply it): %s", err2);
	sb_free(&text);
	if (sync_run(d->sync, err2, sizeof(err2))) {
		/* the old model's datapath is not fully back either: say so, retry soon */
		lbd_log("warning: restoring the previous configuration's datapath failed, "
			"retrying: %s", err2);
		sync_soon(d->sync);
	}
	return fail(out, err);
}

static int do_change(struct lbd *d, const struct xdplb_cmd *c, struct strbuf *out)
{
	struct xdplb_model next;
	char err[ERRLEN];

	if (model_copy(&next, &d->model))
		return fail(out, "out of memory");
	if (model_apply(&next, c, err, sizeof(err))) {
		model_free(&next);
		return fail(out, err);
	}
	return commit(d, &next, out);
}

static int do_restore(struct lbd *d, char *text, size_t len, struct strbuf *out)
{
	static char empty[] = "\n"; /* fmemopen() refuses size 0 */
	struct xdplb_model next;
	char err[ERRLEN];
	FILE *f;
	int ret;

	if (model_copy(&next, &d->model))
		return fail(out, "out of memory");
	f = len ? fmemopen(text, len, "r") : fmemopen(empty, 1, "r");
	if (!f) {
		model_free(&next);
		return fail(out, "out of memory");
	}
	ret = model_load(&next, f, err, sizeof(err));
	fclose(f);
	if (ret) {
		model_free(&next);
		return fail(out, err);
	}
	return commit(d, &next, out);
}

/* ---- vip show ---- */

static void show_backend_text(const struct lbd *d, const struct xdplb_backend *b,
			      struct strbuf *out)
{
	struct sync_backend_state r = sync_backend(d->sync, b->id);
	char a[XDPLB_ADDR_STRLEN], nh[XDPLB_ADDR_STRLEN + 32] = "-";

	if (r.resolved)
		snprintf(nh, sizeof(nh), "%02x:%02x:%02x:%02x:%02x:%02x", r.mac[0], r.mac[1],
			 r.mac[2], r.mac[3], r.mac[4], r.mac[5]);
	else if (r.known)
		snprintf(nh, sizeof(nh), "(%s)",
			 r.resolve_err == -EAGAIN ? "resolving" : strerror(-r.resolve_err));
	sb_printf(out, "    %-40s weight %-5u %-10s %s%s%s\n",
		  addr_format(&b->addr, b->family, a, sizeof(a)), b->weight,
		  sync_backend_status(d->sync, b), nh,
		  !r.healthy && *r.check_error ? "  check: " : "", r.healthy ? "" : r.check_error);
}

static void show_vip_text(const struct lbd *d, const struct xdplb_vip *v, struct strbuf *out)
{
	char vs[XDPLB_VIP_STRLEN], os[XDPLB_OPTS_STRLEN], fp[24];
	__u32 i;

	/* no " up " here: scripts count backends with grep ' up ' */
	sb_printf(out, "%s %s (%u backends; %s: %u of need %u up%s; ring %s)\n",
		  vip_format(&v->key, vs, sizeof(vs)), vip_opts_format(&v->opts, os, sizeof(os)),
		  v->n_backends, lbd_vip_serving(d, v) ? "serving" : "not serving",
		  sync_vip(d->sync, v->id).up, v->opts.need,
		  !d->announce ? "" : lbd_vip_announced(d, v) ? ", announced" : ", not announced",
		  sync_fingerprint(d->sync, v->id, fp, sizeof(fp)));
	for (i = 0; i < v->n_backends; i++)
		show_backend_text(d, &v->backends[i], out);
}

static void show_backend_json(const struct lbd *d, const struct xdplb_backend *b,
			      struct strbuf *out)
{
	struct sync_backend_state r = sync_backend(d->sync, b->id);
	char a[XDPLB_ADDR_STRLEN], mac[18] = "";

	if (r.resolved)
		snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", r.mac[0], r.mac[1],
			 r.mac[2], r.mac[3], r.mac[4], r.mac[5]);
	sb_printf(out, "{\"address\":");
	sb_json_str(out, addr_format(&b->addr, b->family, a, sizeof(a)));
	sb_printf(out, ",\"id\":%u,\"weight\":%u,\"state\":\"%s\",\"mac\":", b->id, b->weight,
		  sync_backend_status(d->sync, b));
	sb_json_str(out, mac);
	sb_printf(out, ",\"ifindex\":%u,\"check_error\":", r.ifindex);
	sb_json_str(out, r.check_error);
	sb_printf(out, "}");
}

static void show_vip_json(const struct lbd *d, const struct xdplb_vip *v, struct strbuf *out)
{
	struct sync_vip_state vr = sync_vip(d->sync, v->id);
	char vs[XDPLB_VIP_STRLEN], fp[24];
	__u32 i;

	sb_printf(out, "{\"vip\":");
	sb_json_str(out, vip_format(&v->key, vs, sizeof(vs)));
	sb_printf(out, ",\"id\":%u,\"method\":\"%s\",\"ring\":%u,\"check\":\"%s\",\"path\":", v->id,
		  method_name(v->opts.method), v->opts.ring_size, check_name(v->opts.check));
	sb_json_str(out, v->opts.check_path);
	sb_printf(out,
		  ",\"interval_ms\":%u,\"timeout_ms\":%u,\"fall\":%u,\"rise\":%u,"
		  "\"src_hash\":%s,\"ring_rebuilds\":%llu,\"need\":%u,\"up\":%u,"
		  "\"serving\":%s,\"announced\":%s,\"fingerprint\":\"%s\",\"backends\":[",
		  v->opts.interval_ms, v->opts.timeout_ms, v->opts.fall, v->opts.rise,
		  v->opts.flags & XDPLB_VIP_F_HASH_SRC ? "true" : "false",
		  (unsigned long long)vr.rebuilds, v->opts.need, vr.up,
		  lbd_vip_serving(d, v) ? "true" : "false", lbd_vip_announced(d, v) ? "true" : "false",
		  sync_fingerprint(d->sync, v->id, fp, sizeof(fp)));
	for (i = 0; i < v->n_backends; i++) {
		if (i)
			sb_append(out, ",", 1);
		show_backend_json(d, &v->backends[i], out);
	}
	sb_printf(out, "]}");
}

static int do_vip_show(struct lbd *d, const struct xdplb_cmd *c, bool json, struct strbuf *out)
{
	char vs[XDPLB_VIP_STRLEN], msg[128];
	__u32 i, n = 0;

	if (c->has_vip && !model_find_vip(&d->model, &c->vip)) {
		snprintf(msg, sizeof(msg), "no VIP %s", vip_format(&c->vip, vs, sizeof(vs)));
		return fail(out, msg);
	}
	if (json)
		sb_append(out, "[", 1);
	for (i = 0; i < d->model.n_vips; i++) {
		const struct xdplb_vip *v = &d->model.vips[i];

		if (c->has_vip && vip_key_cmp(&v->key, &c->vip))
			continue;
		if (json) {
			if (n++)
				sb_append(out, ",", 1);
			show_vip_json(d, v, out);
		} else {
			show_vip_text(d, v, out);
		}
	}
	if (json)
		sb_append(out, "]\n", 2);
	return 0;
}

/* ---- flow lookup ---- */

/* The address of backend id (the flow's VIP's, or another VIP's: a flow
 * entry names the backend it was learned with), or "none". */
static const char *backend_addr(const struct xdplb_model *m, const struct xdplb_vip *v, __u32 id,
				char *buf, size_t len)
{
	__u32 i, j;

	for (i = 0; i < v->n_backends; i++)
		if (v->backends[i].id == id)
			return addr_format(&v->backends[i].addr, v->backends[i].family, buf, len);
	for (i = 0; i < m->n_vips; i++)
		for (j = 0; j < m->vips[i].n_backends; j++)
			if (m->vips[i].backends[j].id == id)
				return addr_format(&m->vips[i].backends[j].addr,
						   m->vips[i].backends[j].family, buf, len);
	snprintf(buf, len, "none");
	return buf;
}

/* The forwarder's own answer (lookup.h): its dry run on the flow's first
 * packet.  "none (from the ring)" when the ring names no active backend;
 * when the forwarder would not forward the packet at all (the VIP not in
 * the datapath yet, ...), why. */
static int do_flow_lookup(struct lbd *d, const struct xdplb_cmd *c, bool json,
			  struct strbuf *out)
{
	static const char *const names[XDPLB_STAT_MAX] = { XDPLB_STAT_NAMES };
	const struct xdplb_vip *v = model_find_vip(&d->model, &c->vip);
	char a[XDPLB_ADDR_STRLEN] = "none", vs[XDPLB_VIP_STRLEN], msg[160];
	const char *from, *why;
	struct xdplb_lookup r;
	int err;

	if (!v) {
		snprintf(msg, sizeof(msg), "no VIP %s", vip_format(&c->vip, vs, sizeof(vs)));
		return fail(out, msg);
	}
	err = lookup_flow(dp_lookup_prog_fd(&d->dp), &c->vip, &c->client, c->client_port, &r);
	if (err) {
		snprintf(msg, sizeof(msg), "cannot run the forwarder's flow lookup: %s",
			 strerror(-err));
		return fail(out, msg);
	}
	if (r.from != XDPLB_FROM_NONE) {
		backend_addr(&d->model, v, r.backend_id, a, sizeof(a));
		from = lookup_from_name(r.from);
	} else {
		from = r.why == XDPLB_STAT_DROP_NO_BACKEND ? "ring" : NULL;
	}
	why = r.why && r.why < XDPLB_STAT_MAX && names[r.why] ? names[r.why] : "";
	if (json) {
		sb_printf(out, "{\"backend\":");
		sb_json_str(out, a);
		sb_printf(out, ",\"from\":\"%s\",\"action\":\"%s\",\"reason\":\"%s\"",
			  from ? from : "none",
			  r.action <= XDP_REDIRECT ? names[r.action] : "aborted", why);
		if (r.from != XDPLB_FROM_NONE)
			sb_printf(out, ",\"backend_id\":%u,\"hash\":%u", r.backend_id, r.hash);
		if (r.ring != XDPLB_NO_RING)
			sb_printf(out, ",\"ring\":%u", r.ring);
		sb_printf(out, "}\n");
	} else if (from) {
		sb_printf(out, "%s (from the %s)\n", a, from);
	} else {
		sb_printf(out, "none (the forwarder would %s it: %s)\n",
			  r.action == XDP_PASS ? "pass" : "drop", why);
	}
	return 0;
}

/* ---- dispatch ---- */

static int handle_cmd(struct lbd *d, const struct xdplb_cmd *c, bool json, char *rest,
		      size_t rest_len, struct strbuf *out)
{
	switch (c->kind) {
	case CMD_VIP_ADD:
	case CMD_VIP_DEL:
	case CMD_BACKEND_ADD:
	case CMD_BACKEND_SET:
	case CMD_BACKEND_DEL:
	case CMD_NODE_DRAIN:
	case CMD_NODE_UNDRAIN:
		return do_change(d, c, out);
	case CMD_NODE_SHOW:
		return lbd_node_show(d, json, out);
	case CMD_SYNC_SHOW:
		if (!d->flowsync)
			return fail(out, "flow sync is off (lbd --sync-key FILE --sync-peer ADDR)");
		return flowsync_show(d->flowsync, json, out);
	case CMD_RESTORE:
		return do_restore(d, rest, rest_len, out);
	case CMD_SAVE:
		return model_text(&d->model, false, out) ? fail(out, "out of memory") : 0;
	case CMD_VIP_SHOW:
		return do_vip_show(d, c, json, out);
	case CMD_FLOW_LOOKUP:
		return do_flow_lookup(d, c, json, out);
	case CMD_STATS:
		return lbd_stats(d, c, json, out);
	case CMD_FLOWS:
		return lbd_flows(d, c, json, out);
	case CMD_TOP:
		return lbd_top(d, c, json, out);
	default:
		return fail(out, "this command is answered by lbctl itself");
	}
}

int lbd_handle(void *arg, char *req, size_t len, struct strbuf *out)
{
	struct lbd *d = arg;
	char *nl = memchr(req, '\n', len), *argv[CMD_MAX_WORDS], err[ERRLEN];
	char *rest = nl ? nl + 1 : req + len;
	struct xdplb_cmd *c;
	bool json = false;
	int argc, ret;

	if (nl)
		*nl = 0;
	if (strlen(req) > CMD_MAX_LINE) {
		mon_count_op(d, CMD_NONE, false);
		return fail(out, "command line too long");
	}
	if (cmd_split_line(req, argv, &argc, err, sizeof(err))) {
		mon_count_op(d, CMD_NONE, false);
		return fail(out, err);
	}
	if (argc && !strcmp(argv[0], "-j")) {
		json = true;
		argc--;
		memmove(argv, argv + 1, (size_t)argc * sizeof(*argv));
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return fail(out, "out of memory");
	ret = cmd_parse(argc, argv, c, err, sizeof(err));
	if (ret)
		ret = fail(out, err);
	else
		ret = handle_cmd(d, c, json, rest, (size_t)(req + len - rest), out);
	mon_count_op(d, c->kind, ret == 0);
	free(c);
	return ret;
}
