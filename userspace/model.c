// SPDX-License-Identifier: GPL-2.0
/* model.c - the configuration model: VIPs and backends with stable ids; apply, save, load.
 *
 * Ids index the datapath's maps, so an id stays with its VIP or backend for
 * as long as that exists, whatever else changes (restore included: entries
 * present before and after keep their ids).
 *   VIP ids: lowest free.
 *   Backend ids: never-used ids first, lowest first; a freed id joins the tail
 *   of a FIFO and is handed out again, oldest first, only once every id has
 *   been used.  Reason: an LRU flow entry may still name a freed id, and a
 *   quickly reused id would send that flow to an unrelated backend (the
 *   vip_id check in backend_info does not catch reuse within one VIP).
 *   Delaying reuse gives stale entries time to age out.
 * Every mutation validates first and reserves its memory before it changes
 * anything, so a failed model_apply leaves the model as it was.
 */
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "cmdparse.h"
#include "maglev.h"
#include "model.h"
#include "textform.h"

void model_init(struct xdplb_model *m)
{
	memset(m, 0, sizeof(*m));
}

void model_free(struct xdplb_model *m)
{
	__u32 i;

	for (i = 0; i < m->n_vips; i++)
		free(m->vips[i].backends);
	free(m->vips);
	free(m->be_free);
	model_init(m);
}

/* Room for `need` elements of `size` bytes: the (maybe moved) array, or NULL
 * with arr untouched. */
static void *grow(void *arr, __u32 *cap, __u32 need, size_t size)
{
	__u32 n = *cap ? *cap * 2 : 8;
	void *p;

	if (need <= *cap)
		return arr;
	if (n < need)
		n = need;
	p = realloc(arr, (size_t)n * size);
	if (p)
		*cap = n;
	return p;
}

/* Make room for `more` freed backend ids in the FIFO (a ring buffer). */
static int be_free_reserve(struct xdplb_model *m, __u32 more)
{
	__u32 need = m->be_free_len + more, cap = m->be_free_cap * 2, i;
	__u32 *q;

	if (need <= m->be_free_cap)
		return 0;
	if (cap < need)
		cap = need < 64 ? 64 : need;
	q = malloc((size_t)cap * sizeof(*q));
	if (!q)
		return -1;
	for (i = 0; i < m->be_free_len; i++)
		q[i] = m->be_free[(m->be_free_head + i) % m->be_free_cap];
	free(m->be_free);
	m->be_free = q;
	m->be_free_cap = cap;
	m->be_free_head = 0;
	return 0;
}

/* Queue a freed id; be_free_reserve() made room. */
static void be_id_release(struct xdplb_model *m, __u32 id)
{
	m->be_free[(m->be_free_head + m->be_free_len) % m->be_free_cap] = id;
	m->be_free_len++;
}

/* Take an id; the caller checked that fewer than XDPLB_MAX_BACKENDS are in use. */
static __u32 be_id_take(struct xdplb_model *m)
{
	__u32 id;

	if (m->be_next < XDPLB_MAX_BACKENDS)
		return m->be_next++;
	id = m->be_free[m->be_free_head];
	m->be_free_head = (m->be_free_head + 1) % m->be_free_cap;
	m->be_free_len--;
	return id;
}

/* Lowest free VIP id; the caller checked that fewer than XDPLB_MAX_VIPS are in use. */
static __u32 vip_id_take(struct xdplb_model *m)
{
	__u32 w, id = 0;

	for (w = 0; w < sizeof(m->vip_ids) / sizeof(m->vip_ids[0]); w++)
		if (~m->vip_ids[w]) {
			id = w * 64 + (__u32)__builtin_ctzll(~m->vip_ids[w]);
			break;
		}
	m->vip_ids[id / 64] |= 1ull << (id % 64);
	return id;
}

static void vip_id_release(struct xdplb_model *m, __u32 id)
{
	m->vip_ids[id / 64] &= ~(1ull << (id % 64));
}

/* Index of key in the sorted VIPs, or where it would go. */
static __u32 vip_search(const struct xdplb_model *m, const struct xdplb_vip_key *key, bool *found)
{
	__u32 lo = 0, hi = m->n_vips, mid;
	int r;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		r = vip_key_cmp(&m->vips[mid].key, key);
		if (!r) {
			*found = true;
			return mid;
		}
		if (r < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = false;
	return lo;
}

static int be_cmp(const struct xdplb_backend *b, const union xdplb_addr *addr, __u8 family)
{
	if (b->family != family)
		return b->family < family ? -1 : 1;
	return memcmp(b->addr.bytes, addr->bytes, sizeof(*addr));
}

/* Index of the backend in the VIP's sorted list, or where it would go. */
static __u32 be_search(const struct xdplb_vip *v, const union xdplb_addr *addr, __u8 family,
		       bool *found)
{
	__u32 lo = 0, hi = v->n_backends, mid;
	int r;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		r = be_cmp(&v->backends[mid], addr, family);
		if (!r) {
			*found = true;
			return mid;
		}
		if (r < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = false;
	return lo;
}

struct xdplb_vip *model_find_vip(const struct xdplb_model *m, const struct xdplb_vip_key *key)
{
	bool found;
	__u32 pos = vip_search(m, key, &found);

	return found ? &m->vips[pos] : NULL;
}

struct xdplb_backend *model_find_backend(const struct xdplb_vip *v, const union xdplb_addr *addr,
					 __u8 family)
{
	bool found;
	__u32 pos = be_search(v, addr, family, &found);

	return found ? &v->backends[pos] : NULL;
}

/* Insert a validated VIP at pos (from vip_search); -1 only when out of memory. */
static int vip_insert(struct xdplb_model *m, __u32 pos, const struct xdplb_vip_key *key,
		      const struct xdplb_vip_opts *opts)
{
	struct xdplb_vip *p = grow(m->vips, &m->cap_vips, m->n_vips + 1, sizeof(*p));

	if (!p)
		return -1;
	m->vips = p;
	memmove(&p[pos + 1], &p[pos], (m->n_vips - pos) * sizeof(*p));
	memset(&p[pos], 0, sizeof(*p));
	/* key is never NULL: the analyzer reaches here from reconcile() with a
	 * model that has VIPs and no array, which no path builds */
	/* NOLINTNEXTLINE(clang-analyzer-core.NullDereference) */
	p[pos].key = *key;
	p[pos].opts = *opts;
	p[pos].id = vip_id_take(m);
	m->n_vips++;
	return 0;
}

/* Remove the VIP at pos with its backends; -1 only when out of memory. */
static int vip_remove(struct xdplb_model *m, __u32 pos)
{
	struct xdplb_vip *v = &m->vips[pos];
	__u32 i;

	if (be_free_reserve(m, v->n_backends))
		return -1;
	for (i = 0; i < v->n_backends; i++)
		be_id_release(m, v->backends[i].id);
	m->n_backends -= v->n_backends;
	vip_id_release(m, v->id);
	free(v->backends);
	memmove(v, v + 1, (m->n_vips - pos - 1) * sizeof(*v));
	m->n_vips--;
	return 0;
}

/* Insert a validated backend at pos (from be_search); -1 only when out of memory. */
static int be_insert(struct xdplb_model *m, struct xdplb_vip *v, __u32 pos,
		     const union xdplb_addr *addr, __u8 family, __u32 weight)
{
	struct xdplb_backend *p =
	    grow(v->backends, &v->cap_backends, v->n_backends + 1, sizeof(*p));

	if (!p)
		return -1;
	v->backends = p;
	memmove(&p[pos + 1], &p[pos], (v->n_backends - pos) * sizeof(*p));
	memset(&p[pos], 0, sizeof(*p));
	p[pos].addr = *addr;
	p[pos].family = family;
	p[pos].weight = weight;
	p[pos].id = be_id_take(m);
	v->n_backends++;
	m->n_backends++;
	return 0;
}

static int be_remove(struct xdplb_model *m, struct xdplb_vip *v, __u32 pos)
{
	if (be_free_reserve(m, 1))
		return -1;
	be_id_release(m, v->backends[pos].id);
	memmove(&v->backends[pos], &v->backends[pos + 1],
		(v->n_backends - pos - 1) * sizeof(*v->backends));
	v->n_backends--;
	m->n_backends--;
	return 0;
}

static int oom(char *err, size_t errlen)
{
	return cfg_error(err, errlen, "out of memory");
}

void vip_opts_default(struct xdplb_vip_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->method = XDPLB_DEFAULT_METHOD;
	o->ring_size = XDPLB_DEFAULT_RING_SIZE;
	o->check = XDPLB_CHECK_NONE;
	o->interval_ms = XDPLB_DEFAULT_INTERVAL_MS;
	o->timeout_ms = XDPLB_DEFAULT_TIMEOUT_MS;
	o->fall = XDPLB_DEFAULT_FALL;
	o->rise = XDPLB_DEFAULT_RISE;
	o->need = XDPLB_DEFAULT_NEED;
}

/* Whole-struct validation, for commands that did not come through cmd_parse. */
int vip_opts_check(const struct xdplb_vip_opts *o, char *err, size_t errlen)
{
	if ((unsigned)o->method >= XDPLB_METHOD_MAX)
		return cfg_error(err, errlen, "unknown method %d", (int)o->method);
	if (o->ring_size < CMD_MIN_RING_SIZE || o->ring_size > XDPLB_MAX_RING_SIZE ||
	    !maglev_is_prime(o->ring_size))
		return cfg_error(err, errlen, "ring size %u is not a prime in %u-%u", o->ring_size,
				 CMD_MIN_RING_SIZE, XDPLB_MAX_RING_SIZE);
	if ((unsigned)o->check >= XDPLB_CHECK_MAX)
		return cfg_error(err, errlen, "unknown check %d", (int)o->check);
	if ((o->check == XDPLB_CHECK_HTTP) != (o->check_path[0] != '\0') ||
	    (o->check == XDPLB_CHECK_HTTP && !check_path_ok(o->check_path)))
		return cfg_error(err, errlen, "bad check path for check %s", check_name(o->check));
	if (!o->interval_ms || o->interval_ms > CMD_MAX_DURATION_MS || !o->timeout_ms ||
	    o->timeout_ms > CMD_MAX_DURATION_MS)
		return cfg_error(err, errlen, "interval and timeout must be 1ms to %us",
				 CMD_MAX_DURATION_MS / 1000);
	if (!o->fall || o->fall > CMD_MAX_FALL_RISE || !o->rise || o->rise > CMD_MAX_FALL_RISE)
		return cfg_error(err, errlen, "fall and rise must be 1-%u", CMD_MAX_FALL_RISE);
	if (!o->need || o->need > XDPLB_MAX_BACKENDS_PER_VIP)
		return cfg_error(err, errlen, "need must be 1-%u", XDPLB_MAX_BACKENDS_PER_VIP);
	if (o->flags & ~(__u32)XDPLB_VIP_F_HASH_SRC)
		return cfg_error(err, errlen, "unknown VIP flags 0x%x", o->flags);
	if ((o->flags & XDPLB_VIP_F_HASH_SRC) && o->method == XDPLB_METHOD_L2)
		return cfg_error(err, errlen, "\"src hash\" needs method ipip or gue");
	return 0;
}

/* A key as cmd_parse makes it: known family and protocol, usable address,
 * IPv4 in the first word only (the rest takes part in map lookups). */
static int vip_key_check(const struct xdplb_vip_key *k, const char *vs, char *err, size_t errlen)
{
	const char *why;

	if (k->family != XDPLB_AF_INET && k->family != XDPLB_AF_INET6)
		return cfg_error(err, errlen, "VIP %s: unknown address family %u", vs, k->family);
	if (k->proto != IPPROTO_TCP && k->proto != IPPROTO_UDP)
		return cfg_error(err, errlen, "VIP %s: protocol must be tcp or udp", vs);
	if (k->family == XDPLB_AF_INET && (k->addr.v6[1] || k->addr.v6[2] || k->addr.v6[3]))
		return cfg_error(err, errlen, "VIP %s: IPv4 key with bytes after the address", vs);
	why = addr_unusable(&k->addr, k->family);
	if (why)
		return cfg_error(err, errlen, "VIP %s: address is %s", vs, why);
	return 0;
}

static int apply_vip_add(struct xdplb_model *m, const struct xdplb_cmd *c, char *err, size_t errlen)
{
	char vs[XDPLB_VIP_STRLEN];
	bool found;
	__u32 pos = vip_search(m, &c->vip, &found);

	vip_format(&c->vip, vs, sizeof(vs));
	if (found)
		return cfg_error(err, errlen, "VIP %s already exists", vs);
	if (vip_key_check(&c->vip, vs, err, errlen) || vip_opts_check(&c->opts, err, errlen))
		return -1;
	if (m->n_vips >= XDPLB_MAX_VIPS)
		return cfg_error(err, errlen, "too many VIPs (at most %d)", XDPLB_MAX_VIPS);
	return vip_insert(m, pos, &c->vip, &c->opts) ? oom(err, errlen) : 0;
}

/* The VIP a command names, or NULL with "no VIP ..." in err. */
static struct xdplb_vip *need_vip(const struct xdplb_model *m, const struct xdplb_vip_key *key,
				  char *err, size_t errlen)
{
	struct xdplb_vip *v = model_find_vip(m, key);
	char vs[XDPLB_VIP_STRLEN];

	if (!v)
		cfg_error(err, errlen, "no VIP %s", vip_format(key, vs, sizeof(vs)));
	return v;
}

static int apply_vip_del(struct xdplb_model *m, const struct xdplb_cmd *c, char *err, size_t errlen)
{
	struct xdplb_vip *v = need_vip(m, &c->vip, err, errlen);

	if (!v)
		return -1;
	return vip_remove(m, (__u32)(v - m->vips)) ? oom(err, errlen) : 0;
}

/* Can this address family reach backends of this VIP?  l2 needs the VIP's
 * family; ipip/gue carry an IPv4 VIP in IPv6 too, but not the reverse. */
static int be_family_check(const struct xdplb_vip *v, __u8 family, const char *as, const char *vs,
			   char *err, size_t errlen)
{
	bool v6 = v->key.family == XDPLB_AF_INET6;

	if (family == v->key.family || (!v6 && v->opts.method != XDPLB_METHOD_L2))
		return 0;
	if (v6)
		return cfg_error(
		    err, errlen,
		    "backend %s is IPv4 but VIP %s is IPv6 (an IPv6 VIP needs IPv6 backends)", as,
		    vs);
	return cfg_error(err, errlen,
			 "backend %s is IPv6 but VIP %s is IPv4 (method l2 needs the VIP's family; "
			 "ipip and gue can carry IPv4 in IPv6)",
			 as, vs);
}

/* Everything but existence that a new backend must pass. */
static int be_add_check(const struct xdplb_model *m, const struct xdplb_vip *v,
			const struct xdplb_cmd *c, const char *as, const char *vs, char *err,
			size_t errlen)
{
	const char *why = addr_unusable(&c->addr, c->family);

	if (c->family != XDPLB_AF_INET && c->family != XDPLB_AF_INET6)
		return cfg_error(err, errlen, "backend %s: unknown address family %u", as,
				 c->family);
	if (why)
		return cfg_error(err, errlen, "backend address %s is %s", as, why);
	if (c->family == v->key.family && !memcmp(&c->addr, &v->key.addr, sizeof(c->addr)))
		return cfg_error(err, errlen, "backend %s is the address of VIP %s itself", as, vs);
	if (be_family_check(v, c->family, as, vs, err, errlen))
		return -1;
	if (c->weight > XDPLB_MAX_WEIGHT)
		return cfg_error(err, errlen, "bad weight %u (0-%u)", c->weight, XDPLB_MAX_WEIGHT);
	if (v->n_backends >= XDPLB_MAX_BACKENDS_PER_VIP)
		return cfg_error(err, errlen, "VIP %s has %u backends, the most a VIP may have", vs,
				 v->n_backends);
	if (m->n_backends >= XDPLB_MAX_BACKENDS)
		return cfg_error(err, errlen, "too many backends (at most %d)", XDPLB_MAX_BACKENDS);
	if (v->n_backends >= v->opts.ring_size)
		return cfg_error(err, errlen, "VIP %s: ring size %u is too small for %u backends",
				 vs, v->opts.ring_size, v->n_backends + 1);
	return 0;
}

/* Backend commands: find the VIP and the backend's place; format both for messages. */
static struct xdplb_vip *be_locate(const struct xdplb_model *m, const struct xdplb_cmd *c,
				   __u32 *pos, bool *found, char *as, char *vs, char *err,
				   size_t errlen)
{
	struct xdplb_vip *v = need_vip(m, &c->vip, err, errlen);

	if (!v)
		return NULL;
	addr_format(&c->addr, c->family, as, XDPLB_ADDR_STRLEN);
	vip_format(&c->vip, vs, XDPLB_VIP_STRLEN);
	*pos = be_search(v, &c->addr, c->family, found);
	return v;
}

static int apply_backend(struct xdplb_model *m, const struct xdplb_cmd *c, char *err, size_t errlen)
{
	char as[XDPLB_ADDR_STRLEN], vs[XDPLB_VIP_STRLEN];
	struct xdplb_vip *v;
	bool found;
	__u32 pos;

	v = be_locate(m, c, &pos, &found, as, vs, err, errlen);
	if (!v)
		return -1;
	if (c->kind == CMD_BACKEND_ADD) {
		if (found)
			return cfg_error(err, errlen, "backend %s already in VIP %s", as, vs);
		if (be_add_check(m, v, c, as, vs, err, errlen))
			return -1;
		return be_insert(m, v, pos, &c->addr, c->family, c->weight) ? oom(err, errlen) : 0;
	}
	if (!found)
		return cfg_error(err, errlen, "no backend %s in VIP %s", as, vs);
	if (c->kind == CMD_BACKEND_DEL)
		return be_remove(m, v, pos) ? oom(err, errlen) : 0;
	if (c->weight > XDPLB_MAX_WEIGHT)
		return cfg_error(err, errlen, "bad weight %u (0-%u)", c->weight, XDPLB_MAX_WEIGHT);
	v->backends[pos].weight = c->weight;
	return 0;
}

/* Apply a configuration change (vip add/del, backend add/set/del) whole or not at all. */
int model_apply(struct xdplb_model *m, const struct xdplb_cmd *c, char *err, size_t errlen)
{
	char name[32];

	switch (c->kind) {
	case CMD_VIP_ADD:
		return apply_vip_add(m, c, err, errlen);
	case CMD_VIP_DEL:
		return apply_vip_del(m, c, err, errlen);
	case CMD_BACKEND_ADD:
	case CMD_BACKEND_SET:
	case CMD_BACKEND_DEL:
		return apply_backend(m, c, err, errlen);
	case CMD_NODE_DRAIN:
	case CMD_NODE_UNDRAIN:
		m->drained = c->kind == CMD_NODE_DRAIN;
		m->drained_given = true;
		return 0;
	default:
		return cfg_error(err, errlen, "\"%s\" does not change the configuration",
				 cmd_kind_name(c->kind, name, sizeof(name)));
	}
}

/* The configuration as commands, one per line, VIPs and backends sorted,
 * every option spelled out: what model_load reads back to the same model. */
int model_save(const struct xdplb_model *m, FILE *f)
{
	char vs[XDPLB_VIP_STRLEN], os[XDPLB_OPTS_STRLEN], as[XDPLB_ADDR_STRLEN];
	const struct xdplb_backend *b;
	const struct xdplb_vip *v;
	__u32 i, j;

	for (i = 0; i < m->n_vips; i++) {
		v = &m->vips[i];
		vip_format(&v->key, vs, sizeof(vs));
		fprintf(f, "vip add %s %s\n", vs, vip_opts_format(&v->opts, os, sizeof(os)));
		for (j = 0; j < v->n_backends; j++) {
			b = &v->backends[j];
			fprintf(f, "backend add %s %s weight %u\n", vs,
				addr_format(&b->addr, b->family, as, sizeof(as)), b->weight);
		}
	}
	return ferror(f) ? -1 : 0;
}

int model_save_state(const struct xdplb_model *m, FILE *f)
{
	if (model_save(m, f))
		return -1;
	if (m->drained)
		fprintf(f, "node drain\n");
	return ferror(f) ? -1 : 0;
}

static int copy_vip(struct xdplb_vip *dst, const struct xdplb_vip *src)
{
	*dst = *src;
	dst->backends = NULL;
	dst->cap_backends = 0;
	if (!src->n_backends)
		return 0;
	dst->backends = malloc(src->n_backends * sizeof(*dst->backends));
	if (!dst->backends)
		return -1;
	memcpy(dst->backends, src->backends, src->n_backends * sizeof(*dst->backends));
	dst->cap_backends = src->n_backends;
	return 0;
}

/* A deep copy, id allocator included; on failure dst is left empty. */
int model_copy(struct xdplb_model *dst, const struct xdplb_model *src)
{
	__u32 i;

	*dst = *src;
	dst->vips = NULL;
	dst->n_vips = dst->cap_vips = 0;
	dst->be_free = NULL;
	dst->be_free_head = dst->be_free_len = dst->be_free_cap = 0;
	if (src->n_vips && !(dst->vips = calloc(src->n_vips, sizeof(*dst->vips))))
		goto fail;
	dst->cap_vips = src->n_vips;
	for (; dst->n_vips < src->n_vips; dst->n_vips++)
		if (copy_vip(&dst->vips[dst->n_vips], &src->vips[dst->n_vips]))
			goto fail;
	if (be_free_reserve(dst, src->be_free_len))
		goto fail;
	for (i = 0; i < src->be_free_len; i++)
		be_id_release(dst, src->be_free[(src->be_free_head + i) % src->be_free_cap]);
	return 0;
fail:
	model_free(dst);
	return -1;
}

/* One line of at most CMD_MAX_LINE bytes, newline dropped: 1 read, 0 end of
 * file, -1 too long, -2 a NUL byte. */
static int read_line(FILE *f, char *buf, size_t size)
{
	size_t n = 0;
	int ch;

	while ((ch = getc(f)) != EOF && ch != '\n') {
		if (ch == '\0')
			return -2;
		if (n + 1 >= size)
			return -1;
		buf[n++] = (char)ch;
	}
	buf[n] = '\0';
	return n || ch == '\n' ? 1 : 0;
}

static int load_line(struct xdplb_model *m, char *line, char *err, size_t errlen)
{
	char *argv[CMD_MAX_WORDS];
	struct xdplb_cmd c;
	int argc;

	if (cmd_split_line(line, argv, &argc, err, errlen))
		return -1;
	if (!argc)
		return 0;
	if (cmd_parse(argc, argv, &c, err, errlen))
		return -1;
	return model_apply(m, &c, err, errlen);
}

static int load_lines(struct xdplb_model *m, FILE *f, char *err, size_t errlen)
{
	char line[CMD_MAX_LINE + 1], msg[256];
	unsigned n = 0;
	int r;

	while ((r = read_line(f, line, sizeof(line))) != 0) {
		n++;
		if (r < 0)
			return r == -1
				   ? cfg_error(err, errlen, "line %u: line longer than %d bytes", n,
					       CMD_MAX_LINE)
				   : cfg_error(err, errlen, "line %u: NUL byte", n);
		if (load_line(m, line, msg, sizeof(msg)))
			return cfg_error(err, errlen, "line %u: %s", n, msg);
	}
	if (ferror(f))
		return cfg_error(err, errlen, "line %u: read error", n + 1);
	return 0;
}

/* Drop the backends of w's VIP that f's lacks; take f's options. */
static int prune_vip(struct xdplb_model *w, struct xdplb_vip *wv, const struct xdplb_vip *fv)
{
	const struct xdplb_backend *b;
	__u32 j;

	for (j = wv->n_backends; j-- > 0;) {
		b = &wv->backends[j];
		if (!model_find_backend(fv, &b->addr, b->family) && be_remove(w, wv, j))
			return -1;
	}
	wv->opts = fv->opts;
	return 0;
}

/* Add f's VIP and those of its backends that w lacks; take f's weights. */
static int graft_vip(struct xdplb_model *w, const struct xdplb_vip *fv)
{
	const struct xdplb_backend *fb;
	struct xdplb_vip *wv;
	bool found;
	__u32 pos = vip_search(w, &fv->key, &found), j, bpos;

	if (!found && vip_insert(w, pos, &fv->key, &fv->opts))
		return -1;
	wv = &w->vips[pos];
	for (j = 0; j < fv->n_backends; j++) {
		fb = &fv->backends[j];
		bpos = be_search(wv, &fb->addr, fb->family, &found);
		if (found)
			wv->backends[bpos].weight = fb->weight;
		else if (be_insert(w, wv, bpos, &fb->addr, fb->family, fb->weight))
			return -1;
	}
	return 0;
}

/* Make w hold what f holds, keeping the ids of what is in both.  Removals
 * come first, so w never holds more than f (which passed every limit). */
static int reconcile(struct xdplb_model *w, const struct xdplb_model *f)
{
	const struct xdplb_vip *fv;
	__u32 i;

	for (i = w->n_vips; i-- > 0;) {
		fv = model_find_vip(f, &w->vips[i].key);
		if (fv ? prune_vip(w, &w->vips[i], fv) : vip_remove(w, i))
			return -1;
	}
	for (i = 0; i < f->n_vips; i++)
		if (graft_vip(w, &f->vips[i]))
			return -1;
	return 0;
}

/* Read commands (a state file, `restore` input) into a new model; only if
 * every line applies does m become that model.  Errors read "line N: ...". */
int model_load(struct xdplb_model *m, FILE *f, char *err, size_t errlen)
{
	struct xdplb_model fresh, work;

	model_init(&fresh);
	if (load_lines(&fresh, f, err, errlen)) {
		model_free(&fresh);
		return -1;
	}
	if (model_copy(&work, m) || reconcile(&work, &fresh)) {
		model_free(&work);
		model_free(&fresh);
		return oom(err, errlen);
	}
	if (fresh.drained_given)
		work.drained = fresh.drained;
	work.drained_given = false;
	model_free(&fresh);
	model_free(m);
	*m = work;
	return 0;
}

#define ID_NONE 0xffffffffu

/* Rebuild the backend id allocator from the ids in use: ids below the
 * highest in use that are free go to the FIFO in increasing order. */
static int be_ids_rebuild(struct xdplb_model *m, const __u64 *used)
{
	__u32 id, top = 0;

	for (id = 0; id < XDPLB_MAX_BACKENDS; id++)
		if (used[id / 64] & (1ull << (id % 64)))
			top = id + 1;
	m->be_next = top;
	m->be_free_len = 0;
	m->be_free_head = 0;
	if (be_free_reserve(m, top))
		return -1;
	for (id = 0; id < top; id++)
		if (!(used[id / 64] & (1ull << (id % 64))))
			be_id_release(m, id);
	return 0;
}

static void vip_ids_assign(struct xdplb_model *m, const struct model_id_source *src)
{
	__u32 i;
	long want;

	memset(m->vip_ids, 0, sizeof(m->vip_ids));
	for (i = 0; i < m->n_vips; i++) {
		want = src->vip_id(src->ctx, &m->vips[i]);
		if (want >= 0 && want < XDPLB_MAX_VIPS &&
		    !(m->vip_ids[want / 64] & (1ull << (want % 64)))) {
			m->vips[i].id = (__u32)want;
			m->vip_ids[want / 64] |= 1ull << (want % 64);
		} else {
			m->vips[i].id = ID_NONE;
		}
	}
	for (i = 0; i < m->n_vips; i++)
		if (m->vips[i].id == ID_NONE)
			m->vips[i].id = vip_id_take(m);
}

int model_assign_ids(struct xdplb_model *m, const struct model_id_source *src)
{
	__u64 *used = calloc(XDPLB_MAX_BACKENDS / 64, sizeof(*used));
	struct xdplb_backend *b;
	__u32 i, j;
	long want;

	if (!used)
		return -1;
	vip_ids_assign(m, src);
	for (i = 0; i < m->n_vips; i++)
		for (j = 0; j < m->vips[i].n_backends; j++) {
			b = &m->vips[i].backends[j];
			want = src->be_id(src->ctx, &m->vips[i], b);
			if (want >= 0 && want < XDPLB_MAX_BACKENDS &&
			    !(used[want / 64] & (1ull << (want % 64)))) {
				b->id = (__u32)want;
				used[want / 64] |= 1ull << (want % 64);
			} else {
				b->id = ID_NONE;
			}
		}
	if (be_ids_rebuild(m, used)) {
		free(used);
		return -1;
	}
	for (i = 0; i < m->n_vips; i++)
		for (j = 0; j < m->vips[i].n_backends; j++)
			if (m->vips[i].backends[j].id == ID_NONE)
				m->vips[i].backends[j].id = be_id_take(m);
	free(used);
	return 0;
}
