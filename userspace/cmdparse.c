// SPDX-License-Identifier: GPL-2.0
/* cmdparse.c - the command parser: the line tokenizer, the dispatch tables, generated usage. */
#include <string.h>

#include "cmdparse.h"
#include "maglev.h"
#include "textform.h"

/* Where the parser is: the words, the next one, and the command so far. */
struct parser {
	int argc;
	char **argv;
	int i;
	char what[32]; /* "vip add", for messages */
	char *err;
	size_t errlen;
};

/* A keyword option; its handler reads its own values after the keyword. */
struct cmd_opt {
	const char *name;
	const char *args; /* for usage: "l2|ipip|gue" */
	int (*parse)(struct parser *p, struct xdplb_cmd *c, const char *kw);
};

/* A verb of an object; name NULL for objects that take no verb (`stats`). */
struct cmd_verb {
	const char *name;
	enum cmd_kind kind;
	int (*parse)(struct parser *p, struct xdplb_cmd *c);
	const char *args;	    /* for usage, before the options */
	const struct cmd_opt *opts; /* for usage, after args */
	const char *desc;	    /* NULL ends a table */
};

struct cmd_object {
	const char *name; /* NULL ends the table */
	const struct cmd_verb *verbs;
	const char *desc;
};

/* The value after keyword kw, or NULL with a message. */
static const char *need_value(struct parser *p, const char *kw)
{
	if (p->i >= p->argc) {
		cfg_error(p->err, p->errlen, "\"%s\" needs a value", kw);
		return NULL;
	}
	return p->argv[p->i++];
}

/* Append ", name" (or "name" first) to buf, which holds pos bytes. */
static void append_name(char *buf, size_t len, size_t *pos, const char *name)
{
	int n;

	if (*pos >= len)
		return;
	n = snprintf(buf + *pos, len - *pos, "%s%s", *pos ? ", " : "", name);
	if (n > 0)
		*pos += (size_t)n;
}

static int opt_method(struct parser *p, struct xdplb_cmd *c, const char *kw)
{
	const char *v;

	v = need_value(p, kw);
	if (!v)
		return -1;
	if (method_parse(v, &c->opts.method))
		return cfg_error(p->err, p->errlen, "unknown method \"%.32s\" (l2, ipip, gue)", v);
	return 0;
}

/* A prime beside n, searching down (step -1) or up (step 1); 0 if none in range. */
static __u32 prime_near(__u32 n, int step)
{
	__u32 q = n;

	do
		q += (__u32)step;
	while (q >= CMD_MIN_RING_SIZE && q <= XDPLB_MAX_RING_SIZE && !maglev_is_prime(q));
	return q >= CMD_MIN_RING_SIZE && q <= XDPLB_MAX_RING_SIZE ? q : 0;
}

static int opt_ring(struct parser *p, struct xdplb_cmd *c, const char *kw)
{
	const char *v;
	__u32 m, lo, hi;

	v = need_value(p, kw);
	if (!v)
		return -1;
	if (parse_u32(v, CMD_MIN_RING_SIZE, XDPLB_MAX_RING_SIZE, &m))
		return cfg_error(p->err, p->errlen, "bad ring size \"%.32s\" (a prime, %u-%u)", v,
				 CMD_MIN_RING_SIZE, XDPLB_MAX_RING_SIZE);
	if (!maglev_is_prime(m)) {
		lo = prime_near(m, -1);
		hi = prime_near(m, 1);
		return cfg_error(p->err, p->errlen, "ring size %u is not prime (try %u or %u)", m,
				 lo ? lo : hi, hi ? hi : lo);
	}
	c->opts.ring_size = m;
	return 0;
}

static int opt_check(struct parser *p, struct xdplb_cmd *c, const char *kw)
{
	const char *v, *path;

	v = need_value(p, kw);
	if (!v)
		return -1;
	if (!strcmp(v, "none") || !strcmp(v, "tcp")) {
		c->opts.check = v[0] == 'n' ? XDPLB_CHECK_NONE : XDPLB_CHECK_TCP;
		return 0;
	}
	if (strcmp(v, "http"))
		return cfg_error(p->err, p->errlen,
				 "unknown check \"%.32s\" (none, tcp, http PATH)", v);
	if (p->i >= p->argc)
		return cfg_error(p->err, p->errlen, "\"check http\" needs a PATH");
	path = p->argv[p->i++];
	if (!check_path_ok(path))
		return cfg_error(p->err, p->errlen,
				 "bad check path \"%.80s\" (starts with \"/\"; printable, no "
				 "spaces or \"#\"; at most %d bytes)",
				 path, CMD_MAX_CHECK_PATH - 1);
	c->opts.check = XDPLB_CHECK_HTTP;
	snprintf(c->opts.check_path, sizeof(c->opts.check_path), "%s", path); /* fits: checked */
	return 0;
}

static int opt_duration(struct parser *p, const char *kw, __u32 *ms)
{
	const char *v;

	v = need_value(p, kw);
	if (!v)
		return -1;
	if (duration_parse(v, ms))
		return cfg_error(p->err, p->errlen, "bad %s \"%.32s\" (500ms, 2s or 3; 1ms to %us)",
				 kw, v, CMD_MAX_DURATION_MS / 1000);
	return 0;
}

static int opt_interval(struct parser *p, struct xdplb_cmd *c, const char *kw)
{
	return opt_duration(p, kw, &c->opts.interval_ms);
}

static int opt_timeout(struct parser *p, struct xdplb_cmd *c, const char *kw)
{
	return opt_duration(p, kw, &c->opts.timeout_ms);
}

static int opt_number(struct parser *p, const char *kw, __u32 min, __u32 max, __u32 *out)
{
	const char *v;

	v = need_value(p, kw);
	if (!v)
		return -1;
	if (parse_u32(v, min, max, out))
		return cfg_error(p->err, p->errlen, "bad %s \"%.32s\" (%u-%u)", kw, v, min, max);
	return 0;
}

static int opt_fall(struct parser *p, struct xdplb_cmd *c, const char *kw)
{
	return opt_number(p, kw, 1, CMD_MAX_FALL_RISE, &c->opts.fall);
}

static int opt_rise(struct parser *p, struct xdplb_cmd *c, const char *kw)
{
	return opt_number(p, kw, 1, CMD_MAX_FALL_RISE, &c->opts.rise);
}

static int opt_weight(struct parser *p, struct xdplb_cmd *c, const char *kw)
{
	return opt_number(p, kw, 0, XDPLB_MAX_WEIGHT, &c->weight);
}

static int opt_top(struct parser *p, struct xdplb_cmd *c, const char *kw)
{
	return opt_number(p, kw, 1, CMD_MAX_TOP, &c->top);
}

static int opt_src(struct parser *p, struct xdplb_cmd *c, const char *kw)
{
	const char *v;

	v = need_value(p, kw);
	if (!v)
		return -1;
	if (strcmp(v, "hash"))
		return cfg_error(p->err, p->errlen, "unknown src \"%.32s\" (hash)", v);
	c->opts.flags |= XDPLB_VIP_F_HASH_SRC;
	return 0;
}

static int opt_need(struct parser *p, struct xdplb_cmd *c, const char *kw)
{
	return opt_number(p, kw, 1, XDPLB_MAX_BACKENDS_PER_VIP, &c->opts.need);
}

static const struct cmd_opt vip_opts[] = {
    {"method", "l2|ipip|gue", opt_method},
    {"ring", "M", opt_ring},
    {"check", "none|tcp|http PATH", opt_check},
    {"interval", "DURATION", opt_interval},
    {"timeout", "DURATION", opt_timeout},
    {"fall", "N", opt_fall},
    {"rise", "N", opt_rise},
    {"src", "hash", opt_src},
    {"need", "N", opt_need},
    {NULL, NULL, NULL},
};

static const struct cmd_opt weight_opts[] = {
    {"weight", "W", opt_weight},
    {NULL, NULL, NULL},
};

static int opt_top_interval(struct parser *p, struct xdplb_cmd *c, const char *kw)
{
	if (opt_duration(p, kw, &c->top_interval_ms))
		return -1;
	if (c->top_interval_ms < CMD_TOP_MIN_INTERVAL_MS ||
	    c->top_interval_ms > CMD_TOP_MAX_INTERVAL_MS)
		return cfg_error(p->err, p->errlen, "\"interval\" must be 100ms to 1h");
	return 0;
}

static int opt_top_count(struct parser *p, struct xdplb_cmd *c, const char *kw)
{
	return opt_number(p, kw, 1, CMD_TOP_MAX_COUNT, &c->top_count);
}

static const struct cmd_opt live_opts[] = {
    {"interval", "DURATION", opt_top_interval},
    {"count", "N", opt_top_count},
    {NULL, NULL, NULL},
};

static const struct cmd_opt top_opts[] = {
    {"top", "N", opt_top},
    {NULL, NULL, NULL},
};

static int find_opt(const struct cmd_opt *opts, const char *name)
{
	int k;

	for (k = 0; opts[k].name; k++)
		if (!strcmp(opts[k].name, name))
			return k;
	return -1;
}

/* Keyword options in any order, each at most once, to the end of the words. */
static int parse_opts(struct parser *p, struct xdplb_cmd *c, const struct cmd_opt *opts,
		      unsigned *seen_out)
{
	char names[128] = "";
	unsigned seen = 0;
	size_t pos = 0;
	int k;

	while (p->i < p->argc) {
		k = find_opt(opts, p->argv[p->i]);
		if (k < 0) {
			for (k = 0; opts[k].name; k++)
				append_name(names, sizeof(names), &pos, opts[k].name);
			return cfg_error(p->err, p->errlen,
					 "unknown option \"%.32s\" to \"%s\" (%s)", p->argv[p->i],
					 p->what, names);
		}
		if (seen & (1u << k))
			return cfg_error(p->err, p->errlen, "\"%s\" given twice", opts[k].name);
		seen |= 1u << k;
		p->i++;
		if (opts[k].parse(p, c, opts[k].name))
			return -1;
	}
	if (seen_out)
		*seen_out = seen;
	return 0;
}

static int need_vip(struct parser *p, struct xdplb_cmd *c)
{
	if (p->i >= p->argc)
		return cfg_error(p->err, p->errlen, "\"%s\" needs a VIP (ADDR:PORT/PROTO)",
				 p->what);
	if (vip_parse(p->argv[p->i++], &c->vip, p->err, p->errlen))
		return -1;
	c->has_vip = true;
	return 0;
}

static int need_addr(struct parser *p, struct xdplb_cmd *c)
{
	const char *s, *why;

	if (p->i >= p->argc)
		return cfg_error(p->err, p->errlen, "\"%s\" needs a backend ADDR", p->what);
	s = p->argv[p->i++];
	if (addr_parse(s, &c->addr, &c->family))
		return cfg_error(p->err, p->errlen, "bad backend address \"%.80s\"", s);
	why = addr_unusable(&c->addr, c->family);
	if (why)
		return cfg_error(p->err, p->errlen, "backend address %s is %s", s, why);
	return 0;
}

static int parse_vip_add(struct parser *p, struct xdplb_cmd *c)
{
	vip_opts_default(&c->opts);
	if (need_vip(p, c) || parse_opts(p, c, vip_opts, NULL))
		return -1;
	return vip_opts_check(&c->opts, p->err, p->errlen);
}

static int parse_vip(struct parser *p, struct xdplb_cmd *c)
{
	return need_vip(p, c);
}

static int parse_opt_vip(struct parser *p, struct xdplb_cmd *c)
{
	return p->i < p->argc ? need_vip(p, c) : 0;
}

static int parse_backend_add(struct parser *p, struct xdplb_cmd *c)
{
	c->weight = XDPLB_DEFAULT_WEIGHT;
	if (need_vip(p, c) || need_addr(p, c))
		return -1;
	return parse_opts(p, c, weight_opts, NULL);
}

static int parse_backend_set(struct parser *p, struct xdplb_cmd *c)
{
	unsigned seen;

	if (need_vip(p, c) || need_addr(p, c) || parse_opts(p, c, weight_opts, &seen))
		return -1;
	if (!seen)
		return cfg_error(p->err, p->errlen, "\"%s\" needs \"weight W\"", p->what);
	return 0;
}

static int parse_backend_del(struct parser *p, struct xdplb_cmd *c)
{
	return need_vip(p, c) || need_addr(p, c) ? -1 : 0;
}

static int parse_flows(struct parser *p, struct xdplb_cmd *c)
{
	if (p->i < p->argc && strcmp(p->argv[p->i], "top") && need_vip(p, c))
		return -1;
	return parse_opts(p, c, top_opts, NULL);
}

static int parse_top(struct parser *p, struct xdplb_cmd *c)
{
	c->top_interval_ms = CMD_TOP_INTERVAL_MS;
	if (p->i < p->argc && find_opt(live_opts, p->argv[p->i]) < 0 && need_vip(p, c))
		return -1;
	return parse_opts(p, c, live_opts, NULL);
}

static int parse_flow_lookup(struct parser *p, struct xdplb_cmd *c)
{
	char vs[XDPLB_VIP_STRLEN];
	const char *s;

	if (need_vip(p, c))
		return -1;
	if (p->i >= p->argc)
		return cfg_error(p->err, p->errlen, "\"%s\" needs a client ADDR:PORT", p->what);
	s = p->argv[p->i++];
	if (endpoint_parse(s, &c->client, &c->client_family, &c->client_port, p->err, p->errlen))
		return -1;
	if (c->client_family != c->vip.family)
		return cfg_error(p->err, p->errlen, "client %.80s and VIP %s are not of one family",
				 s, vip_format(&c->vip, vs, sizeof(vs)));
	return 0;
}

static int parse_nothing(struct parser *p, struct xdplb_cmd *c)
{
	(void)p;
	(void)c;
	return 0;
}

static int parse_restore(struct parser *p, struct xdplb_cmd *c)
{
	const char *f = p->i < p->argc ? p->argv[p->i++] : "-";

	if (!*f || strlen(f) >= sizeof(c->file))
		return cfg_error(p->err, p->errlen, "bad file name \"%.80s\"", f);
	snprintf(c->file, sizeof(c->file), "%s", f); /* fits: checked */
	return 0;
}

static int parse_help(struct parser *p, struct xdplb_cmd *c);

static const struct cmd_verb vip_verbs[] = {
    {"add", CMD_VIP_ADD, parse_vip_add, "VIP", vip_opts, "add a virtual service"},
    {"del", CMD_VIP_DEL, parse_vip, "VIP", NULL, "delete a virtual service and its backends"},
    {"show", CMD_VIP_SHOW, parse_opt_vip, "[VIP]", NULL, "show virtual services and backends"},
    {0},
};

static const struct cmd_verb backend_verbs[] = {
    {"add", CMD_BACKEND_ADD, parse_backend_add, "VIP ADDR", weight_opts,
     "add a backend to a VIP (weight 0-65535, default 1)"},
    {"set", CMD_BACKEND_SET, parse_backend_set, "VIP ADDR weight W", NULL,
     "change a backend's weight (0 drains: no new flows)"},
    {"del", CMD_BACKEND_DEL, parse_backend_del, "VIP ADDR", NULL, "remove a backend"},
    {0},
};

static const struct cmd_verb stats_verbs[] = {
    {NULL, CMD_STATS, parse_opt_vip, "[VIP]", NULL, "packet, byte and flow counters"},
    {0},
};

static const struct cmd_verb flows_verbs[] = {
    {NULL, CMD_FLOWS, parse_flows, "[VIP]", top_opts, "list flows (the N busiest with top)"},
    {0},
};

static const struct cmd_verb top_verbs[] = {
    {NULL, CMD_TOP, parse_top, "[VIP]", live_opts,
     "live view of VIPs and backends by rate (q or Ctrl-C quits; -j: JSON lines)"},
    {0},
};

static const struct cmd_verb flow_verbs[] = {
    {"lookup", CMD_FLOW_LOOKUP, parse_flow_lookup, "VIP CLIENT_ADDR:PORT", NULL,
     "the backend a flow goes to (IPv6 client as [ADDR]:PORT)"},
    {0},
};

static const struct cmd_verb save_verbs[] = {
    {NULL, CMD_SAVE, parse_nothing, "", NULL, "print the configuration as commands, one per line"},
    {0},
};

static const struct cmd_verb restore_verbs[] = {
    {NULL, CMD_RESTORE, parse_restore, "[FILE|-]", NULL,
     "replace the configuration with saved commands (all or nothing)"},
    {0},
};

static const struct cmd_verb node_verbs[] = {
    {"drain", CMD_NODE_DRAIN, parse_nothing, "", NULL,
     "withdraw every announced VIP address (forwarding goes on)"},
    {"undrain", CMD_NODE_UNDRAIN, parse_nothing, "", NULL, "announce serving VIP addresses again"},
    {"show", CMD_NODE_SHOW, parse_nothing, "", NULL,
     "each VIP address: announced or not, and why"},
    {0},
};

static const struct cmd_verb sync_verbs[] = {
    {"show", CMD_SYNC_SHOW, parse_nothing, "", NULL,
     "flow sync between LB nodes: peers, flows sent and received (lbd --sync-key)"},
    {0},
};

static const struct cmd_verb help_verbs[] = {
    {NULL, CMD_HELP, parse_help, "[OBJECT]", NULL, "show the commands (of one OBJECT)"},
    {0},
};

static const struct cmd_object objects[] = {
    {"vip", vip_verbs, "virtual services (ADDR:PORT/PROTO)"},
    {"backend", backend_verbs, "the servers behind a VIP"},
    {"stats", stats_verbs, "counters"},
    {"flows", flows_verbs, "the flow table"},
    {"top", top_verbs, "live rates"},
    {"flow", flow_verbs, "one flow"},
    {"save", save_verbs, "the configuration as text"},
    {"restore", restore_verbs, "configuration from text"},
    {"node", node_verbs, "this node's announcements (lbd --announce-table)"},
    {"sync", sync_verbs, "flow sync with the other LB nodes (lbd --sync-peer)"},
    {"help", help_verbs, "this text"},
    {0},
};

static const struct cmd_object *find_object(const char *name)
{
	const struct cmd_object *o;

	for (o = objects; o->name; o++)
		if (!strcmp(o->name, name))
			return o;
	return NULL;
}

static int unknown_object(const char *name, char *err, size_t errlen)
{
	const struct cmd_object *o;
	char names[128] = "";
	size_t pos = 0;

	for (o = objects; o->name; o++)
		append_name(names, sizeof(names), &pos, o->name);
	return cfg_error(err, errlen, "unknown object \"%.32s\" (%s)", name, names);
}

static int parse_help(struct parser *p, struct xdplb_cmd *c)
{
	const struct cmd_object *o;

	if (p->i >= p->argc)
		return 0;
	o = find_object(p->argv[p->i]);
	if (!o)
		return unknown_object(p->argv[p->i], p->err, p->errlen);
	c->help_object = o->name;
	p->i++;
	return 0;
}

/* The verb named by the next word (or the object's only, unnamed one). */
static const struct cmd_verb *pick_verb(struct parser *p, const struct cmd_object *o)
{
	const struct cmd_verb *v;
	char names[128] = "";
	size_t pos = 0;

	snprintf(p->what, sizeof(p->what), "%s", o->name);
	if (!o->verbs[0].name)
		return &o->verbs[0];
	for (v = o->verbs; p->i < p->argc && v->desc; v++)
		if (!strcmp(v->name, p->argv[p->i])) {
			snprintf(p->what, sizeof(p->what), "%s %s", o->name, v->name);
			p->i++;
			return v;
		}
	for (v = o->verbs; v->desc; v++)
		append_name(names, sizeof(names), &pos, v->name);
	append_name(names, sizeof(names), &pos, "help");
	if (p->i >= p->argc)
		cfg_error(p->err, p->errlen, "\"%s\" needs a command (%s)", o->name, names);
	else
		cfg_error(p->err, p->errlen, "unknown command \"%.32s\" for \"%s\" (%s)",
			  p->argv[p->i], o->name, names);
	return NULL;
}

/* argv holds the words after the global options: OBJECT [VERB] ARGS...
 * On error, *out is unspecified and err holds one line saying what and where. */
int cmd_parse(int argc, char **argv, struct xdplb_cmd *out, char *err, size_t errlen)
{
	struct parser p = {.argc = argc, .argv = argv, .i = 1, .err = err, .errlen = errlen};
	const struct cmd_object *o;
	const struct cmd_verb *v;

	memset(out, 0, sizeof(*out));
	if (argc < 1)
		return cfg_error(err, errlen, "no command given (try \"help\")");
	o = find_object(argv[0]);
	if (!o)
		return unknown_object(argv[0], err, errlen);
	if (argc > 1 && !strcmp(argv[1], "help") && o->verbs[0].kind != CMD_HELP) {
		out->kind = CMD_HELP;
		out->help_object = o->name;
		snprintf(p.what, sizeof(p.what), "%s help", o->name);
		p.i = 2;
	} else {
		v = pick_verb(&p, o);
		if (!v)
			return -1;
		out->kind = v->kind;
		if (v->parse(&p, out))
			return -1;
	}
	if (p.i < p.argc)
		return cfg_error(err, errlen, "unexpected \"%.32s\" at the end of \"%s\"",
				 argv[p.i], p.what);
	return 0;
}

/* "vip add", "stats", ... for messages; "?" for an unknown kind. */
const char *cmd_kind_name(enum cmd_kind kind, char *buf, size_t len)
{
	const struct cmd_object *o;
	const struct cmd_verb *v;

	snprintf(buf, len, "?");
	for (o = objects; o->name; o++)
		for (v = o->verbs; v->desc; v++)
			if (v->kind == kind)
				snprintf(buf, len, "%s%s%s", o->name, v->name ? " " : "",
					 v->name ? v->name : "");
	return buf;
}

bool cmd_is_change(enum cmd_kind kind)
{
	return kind == CMD_VIP_ADD || kind == CMD_VIP_DEL || kind == CMD_BACKEND_ADD ||
	       kind == CMD_BACKEND_SET || kind == CMD_BACKEND_DEL || kind == CMD_NODE_DRAIN ||
	       kind == CMD_NODE_UNDRAIN;
}

/* Print one unit of a synopsis, wrapping before column 80. */
static void usage_word(FILE *f, int *col, const char *pre, const char *w, const char *post)
{
	int n = (int)(strlen(pre) + strlen(w) + strlen(post));

	if (*col + 1 + n > 79) {
		fprintf(f, "\n%8s", "");
		*col = 8;
	}
	*col += fprintf(f, " %s%s%s", pre, w, post);
}

static void usage_verb(FILE *f, const struct cmd_object *o, const struct cmd_verb *v)
{
	const struct cmd_opt *opt;
	char unit[64];
	int col = fprintf(f, "  %s%s%s", o->name, v->name ? " " : "", v->name ? v->name : "");

	if (*v->args)
		usage_word(f, &col, "", v->args, "");
	for (opt = v->opts; opt && opt->name; opt++) {
		snprintf(unit, sizeof(unit), "%s %s", opt->name, opt->args);
		usage_word(f, &col, "[", unit, "]");
	}
	fprintf(f, "\n      %s\n", v->desc);
}

/* The commands, from the tables: all of them, or those of one object. */
void cmd_usage(FILE *f, const char *object)
{
	const struct cmd_object *only = object ? find_object(object) : NULL;
	const struct cmd_object *o;
	const struct cmd_verb *v;
	struct xdplb_vip_opts def;
	char defs[XDPLB_OPTS_STRLEN];

	for (o = objects; o->name; o++) {
		if (only && o != only)
			continue;
		for (v = o->verbs; v->desc; v++)
			usage_verb(f, o, v);
	}
	fprintf(f, "\nVIP is ADDR:PORT/PROTO (10.0.0.100:80/tcp, [2001:db8::1]:443/tcp; PROTO tcp "
		   "or udp;\n"
		   "port 0 takes every port).  DURATION is 500ms, 2s or 3 (seconds).\n");
	if (only && only->verbs != vip_verbs)
		return;
	vip_opts_default(&def);
	fprintf(f, "vip add defaults: %s\n", vip_opts_format(&def, defs, sizeof(defs)));
}

static bool is_space(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\v' || ch == '\f';
}

/* Split a line in place into at most CMD_MAX_WORDS words (argv must have room
 * for that many).  '#' starts a comment, anywhere.  A trailing "\n" or "\r\n"
 * does not count towards the CMD_MAX_LINE bytes a line may hold. */
int cmd_split_line(char *line, char **argv, int *argc, char *err, size_t errlen)
{
	size_t len = strnlen(line, CMD_MAX_LINE + 3);
	char *s = line;
	int n = 0;

	if (len && line[len - 1] == '\n' && len <= CMD_MAX_LINE + 2)
		len -= len >= 2 && line[len - 2] == '\r' ? 2 : 1;
	if (len > CMD_MAX_LINE)
		return cfg_error(err, errlen, "line longer than %d bytes", CMD_MAX_LINE);
	for (;;) {
		while (is_space(*s))
			s++;
		if (!*s || *s == '#')
			break;
		if (n == CMD_MAX_WORDS)
			return cfg_error(err, errlen, "more than %d words", CMD_MAX_WORDS);
		argv[n++] = s;
		while (*s && !is_space(*s) && *s != '#')
			s++;
		if (*s == '#' || !*s) {
			*s = '\0';
			break;
		}
		*s++ = '\0';
	}
	*argc = n;
	return 0;
}
