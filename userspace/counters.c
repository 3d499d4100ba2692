// SPDX-License-Identifier: GPL-2.0
/* counters.c - the datapath's counters read, summed and derived (see
 * counters.h): totals, rates, unique clients, the flow count, flow
 * listings. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "container_of.h"
#include "counters.h"
#include "model.h"

#define READ_BATCH 4096 /* ids per batched lookup */

static void log_stderr(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void log_stderr(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "counters: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static __u64 clock_ns(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (__u64)ts.tv_sec * 1000000000ull + (__u64)ts.tv_nsec;
}

static void add(struct xdplb_counters *sum, const struct xdplb_counters *c)
{
	sum->packets += c->packets;
	sum->bytes += c->bytes;
	sum->new_flows += c->new_flows;
}

/* ---- per-CPU maps ---- */

/* Read one key of a per-CPU map: an array of one value per possible CPU
 * (free it), or NULL with errno set. */
static void *read_percpu(int fd, __u32 key, size_t value_size, int *ncpu)
{
	void *v;

	*ncpu = libbpf_num_possible_cpus();
	if (*ncpu <= 0) {
		errno = EINVAL;
		return NULL;
	}
	v = calloc((size_t)*ncpu, value_size);
	if (v && bpf_map_lookup_elem(fd, &key, v)) {
		free(v);
		return NULL;
	}
	return v;
}

/* Write zero to one key of a per-CPU map of value_size values. */
static int zero_percpu(int fd, __u32 key, size_t value_size)
{
	int ncpu = libbpf_num_possible_cpus(), err = 0;
	void *z;

	if (ncpu <= 0)
		return -EINVAL;
	z = calloc((size_t)ncpu, value_size);
	if (!z)
		return -ENOMEM;
	if (bpf_map_update_elem(fd, &key, z, BPF_ANY))
		err = -errno;
	free(z);
	return err;
}

/* Counters of ids [0, n) of one per-CPU array of max ids, per-CPU values
 * summed into out[0..n), read with batched lookups (one syscall per
 * READ_BATCH ids, where one lookup per id would cost n syscalls). */
static int read_range(int fd, __u32 max, __u32 n, struct xdplb_counters *out)
{
	LIBBPF_OPTS(bpf_map_batch_opts, o);
	int ncpu = libbpf_num_possible_cpus(), ret = 0, cpu;
	struct xdplb_counters *vals;
	__u32 *keys, cursor = 0, count, i, got = 0;

	if (n > max || ncpu <= 0)
		return -EINVAL;
	memset(out, 0, sizeof(*out) * n);
	keys = calloc(READ_BATCH, sizeof(*keys));
	vals = calloc((size_t)READ_BATCH * (size_t)ncpu, sizeof(*vals));
	if (!keys || !vals) {
		ret = -ENOMEM;
		goto out;
	}
	while (got < n) {
		count = n - got < READ_BATCH ? n - got : READ_BATCH;
		/* the cursor is the last key read: the kernel resumes after it */
		if (bpf_map_lookup_batch(fd, got ? &cursor : NULL, &cursor, keys, vals, &count,
					 &o) &&
		    errno != ENOENT) {
			ret = -errno;
			break;
		}
		if (!count)
			break;
		for (i = 0; i < count; i++) {
			if (keys[i] >= n)
				continue;
			for (cpu = 0; cpu < ncpu; cpu++)
				add(&out[keys[i]], &vals[(size_t)i * ncpu + cpu]);
		}
		got += count;
	}
out:
	free(keys);
	free(vals);
	return ret;
}

/* ---- state ---- */

static const struct {
	enum dp_counter_map map;
	__u32 max;
} kinds[COUNTERS_KINDS] = {
	[COUNTERS_VIPS] = { DP_COUNTER_RETIRED, XDPLB_MAX_VIPS },
	[COUNTERS_BACKENDS] = { DP_COUNTER_BACKENDS, XDPLB_MAX_BACKENDS },
};

int counters_init(struct counters *c, struct dp *dp, const struct xdplb_model *model,
		  counters_log_fn *log)
{
	int k;

	memset(c, 0, sizeof(*c));
	c->dp = dp;
	c->model = model;
	c->log = log ? log : log_stderr;
	for (k = 0; k < COUNTERS_KINDS; k++) {
		struct counters_table *t = &c->t[k];

		t->cur = calloc(kinds[k].max, sizeof(*t->cur));
		t->prev = calloc(kinds[k].max, sizeof(*t->prev));
		t->rate = calloc(kinds[k].max, sizeof(*t->rate));
		if (!t->cur || !t->prev || !t->rate) {
			counters_free(c);
			return -ENOMEM;
		}
	}
	return 0;
}

void counters_free(struct counters *c)
{
	int k;

	for (k = 0; k < COUNTERS_KINDS; k++) {
		free(c->t[k].cur);
		free(c->t[k].prev);
		free(c->t[k].rate);
		memset(&c->t[k], 0, sizeof(c->t[k]));
	}
}

/* ---- totals ---- */

/* Ids [0, *nv) and [0, *nb) cover every VIP and backend of the model. */
static void id_bounds(const struct xdplb_model *m, __u32 *nv, __u32 *nb)
{
	__u32 i, j;

	*nv = *nb = 0;
	for (i = 0; i < m->n_vips; i++) {
		const struct xdplb_vip *v = &m->vips[i];

		if (v->id + 1 > *nv)
			*nv = v->id + 1;
		for (j = 0; j < v->n_backends; j++)
			if (v->backends[j].id + 1 > *nb)
				*nb = v->backends[j].id + 1;
	}
}

int counters_read(struct counters *c)
{
	struct xdplb_counters *vip = c->t[COUNTERS_VIPS].cur, *be = c->t[COUNTERS_BACKENDS].cur;
	const struct xdplb_model *m = c->model;
	__u32 n[COUNTERS_KINDS], i, j;
	int k, err = 0;

	id_bounds(m, &n[COUNTERS_VIPS], &n[COUNTERS_BACKENDS]);
	/* a VIP's totals start from its retired counts */
	for (k = 0; k < COUNTERS_KINDS; k++) {
		c->t[k].n = 0;
		if (!err)
			err = read_range(dp_counter_map_fd(c->dp, kinds[k].map), kinds[k].max, n[k],
					 c->t[k].cur);
	}
	if (err)
		return err;
	/* the VIP-sum rule: retired counts + the current backends' counts */
	for (i = 0; i < m->n_vips; i++) {
		const struct xdplb_vip *v = &m->vips[i];

		for (j = 0; j < v->n_backends; j++)
			add(&vip[v->id], &be[v->backends[j].id]);
	}
	for (k = 0; k < COUNTERS_KINDS; k++)
		c->t[k].n = n[k];
	return 0;
}

struct xdplb_counters counters_total(const struct counters *c, enum counters_kind k, __u32 id)
{
	static const struct xdplb_counters zero;

	return id < c->t[k].n ? c->t[k].cur[id] : zero;
}

int counters_global(const struct dp *dp, struct xdplb_stats *out)
{
	struct xdplb_stats *v;
	int ncpu, i, j;

	memset(out, 0, sizeof(*out));
	v = read_percpu(dp_counter_map_fd(dp, DP_COUNTER_GLOBAL), 0, sizeof(*v), &ncpu);
	if (!v)
		return -errno;
	for (i = 0; i < ncpu; i++)
		for (j = 0; j < XDPLB_STAT_MAX; j++)
			out->v[j] += v[i].v[j];
	free(v);
	return 0;
}

int counters_backend_retire(const struct dp *dp, __u32 be_id, __u32 vip_id)
{
	int be_fd = dp_counter_map_fd(dp, DP_COUNTER_BACKENDS),
	    vip_fd = dp_counter_map_fd(dp, DP_COUNTER_RETIRED);
	struct xdplb_counters *be, *vip;
	int ncpu, i, err = 0;

	be = read_percpu(be_fd, be_id, sizeof(*be), &ncpu);
	vip = read_percpu(vip_fd, vip_id, sizeof(*vip), &ncpu);
	if (!be || !vip) {
		err = -errno;
		goto out;
	}
	for (i = 0; i < ncpu; i++)
		add(&vip[i], &be[i]);
	memset(be, 0, (size_t)ncpu * sizeof(*be));
	if (bpf_map_update_elem(vip_fd, &vip_id, vip, BPF_ANY) ||
	    bpf_map_update_elem(be_fd, &be_id, be, BPF_ANY))
		err = -errno;
out:
	free(be);
	free(vip);
	return err;
}

static int sketches_clear(const struct dp *dp, __u32 vip_id)
{
	int fd = dp_counter_map_fd(dp, DP_COUNTER_SKETCHES), err = 0, e;

	for (e = 0; e < XDPLB_HLL_EPOCHS && !err && vip_id < XDPLB_HLL_VIPS; e++)
		err = zero_percpu(fd, vip_id * XDPLB_HLL_EPOCHS + (__u32)e,
				  sizeof(struct xdplb_hll));
	return err;
}

int counters_vip_forget(const struct dp *dp, __u32 vip_id)
{
	int err = zero_percpu(dp_counter_map_fd(dp, DP_COUNTER_RETIRED), vip_id,
			      sizeof(struct xdplb_counters));

	return err ? err : sketches_clear(dp, vip_id);
}

/* ---- rates ---- */

struct counters_rate counters_rate_of(const struct xdplb_counters *prev,
				      const struct xdplb_counters *cur, __u64 interval_ms)
{
	struct counters_rate r = { 0, 0 };

	if (!interval_ms || cur->packets < prev->packets || cur->bytes < prev->bytes)
		return r;
	r.pps = (double)(cur->packets - prev->packets) * 1000.0 / (double)interval_ms;
	r.bps = (double)(cur->bytes - prev->bytes) * 8000.0 / (double)interval_ms;
	return r;
}

/* The rates of one kind over interval_ms (0: no previous sample), then
 * this read becomes the previous one. */
static void rates(struct counters_table *t, __u64 interval_ms)
{
	static const struct xdplb_counters zero;
	__u32 i;

	/* an id that was not read last time starts from zero: its whole
	 * count is recent unless it is an old id's (then cur < prev gives 0) */
	for (i = 0; i < t->n && interval_ms; i++)
		t->rate[i] = counters_rate_of(i < t->n_prev ? &t->prev[i] : &zero, &t->cur[i],
					      interval_ms);
	memcpy(t->prev, t->cur, sizeof(*t->cur) * t->n);
	t->n_prev = t->n;
}

int counters_sample(struct counters *c, __u64 now_ms)
{
	int err = counters_read(c), k;

	if (err)
		return err;
	for (k = 0; k < COUNTERS_KINDS; k++)
		rates(&c->t[k], c->prev_ms && now_ms > c->prev_ms ? now_ms - c->prev_ms : 0);
	c->prev_ms = now_ms;
	return 0;
}

struct counters_rate counters_rate(const struct counters *c, enum counters_kind k, __u32 id)
{
	static const struct counters_rate zero;

	return id < c->t[k].n_prev ? c->t[k].rate[id] : zero;
}

static void on_sample(struct loop_timer *t)
{
	struct counters *c = container_of(t, struct counters, sample_timer);
	int err = counters_sample(c, loop_now_ms());

	if (err)
		c->log("cannot read the counters: %s", strerror(-err));
	loop_timer_set(c->loop, t, COUNTERS_SAMPLE_MS);
}

/* ---- unique clients ---- */

int counters_vip_sketch(const struct dp *dp, __u32 vip_id, struct hll_regs *out)
{
	int fd = dp_counter_map_fd(dp, DP_COUNTER_SKETCHES), ncpu, i, e;
	struct xdplb_hll *v;

	memset(out, 0, sizeof(*out));
	if (vip_id >= XDPLB_HLL_VIPS)
		return -ERANGE;
	for (e = 0; e < XDPLB_HLL_EPOCHS; e++) {
		v = read_percpu(fd, vip_id * XDPLB_HLL_EPOCHS + (__u32)e, sizeof(*v), &ncpu);
		if (!v)
			return -errno;
		for (i = 0; i < ncpu; i++)
			hll_merge(out, &v[i]);
		free(v);
	}
	return 0;
}

bool counters_unique_clients(const struct counters *c, __u32 vip_id, __u64 *n)
{
	struct hll_regs r;

	if (counters_vip_sketch(c->dp, vip_id, &r))
		return false;
	*n = (__u64)(hll_estimate(&r) + 0.5);
	return true;
}

int counters_epoch_next(struct dp *dp, __u64 now_ns)
{
	int fd = dp_counter_map_fd(dp, DP_COUNTER_SKETCHES), err = 0;
	__u32 next = (dp_hll_epoch(dp) + 1) % XDPLB_HLL_EPOCHS, vip;

	for (vip = 0; vip < XDPLB_HLL_VIPS && !err; vip++)
		err = zero_percpu(fd, vip * XDPLB_HLL_EPOCHS + next, sizeof(struct xdplb_hll));
	if (err)
		return err;
	dp_hll_epoch_set(dp, next, now_ns);
	return 0;
}

static void on_epoch(struct loop_timer *t)
{
	struct counters *c = container_of(t, struct counters, epoch_timer);
	int err = counters_epoch_next(c->dp, clock_ns(CLOCK_MONOTONIC_COARSE));

	if (err)
		c->log("warning: cannot start a new unique-client epoch: %s", strerror(-err));
	loop_timer_set(c->loop, t, XDPLB_HLL_EPOCH_S * 1000ull);
}

int counters_epochs_start(struct counters *c)
{
	int err = counters_epoch_next(c->dp, clock_ns(CLOCK_MONOTONIC_COARSE));

	c->epoch_timer.cb = on_epoch;
	if (!err)
		err = loop_timer_set(c->loop, &c->epoch_timer, XDPLB_HLL_EPOCH_S * 1000ull);
	return err;
}

/* ---- the flow count ---- */

/* Counting may take 1% of the time: the next count starts 100 count
 * durations after this one ended, at least 1 s and at most
 * COUNTERS_COUNT_PERIOD_MS later (a small table is fresh within a second,
 * a million entries are counted every 30 s). */
__u64 counters_count_period_ms(double count_seconds)
{
	double ms = count_seconds * 1000.0 * 100.0;

	return ms < 1000		       ? 1000
	       : ms > COUNTERS_COUNT_PERIOD_MS ? COUNTERS_COUNT_PERIOD_MS
					       : (__u64)ms;
}

__u64 counters_count_step(struct counters *c)
{
	enum dp_flow_table tb = c->walk.table;
	long n;

	/* walk.started is the map cursor's, cleared between families: the
	 * count's own flag says when it began */
	if (!c->counting) {
		c->count_started_ms = loop_now_ms();
		c->counting = true;
	}
	n = dp_flows_walk(c->dp, &c->walk, COUNTERS_COUNT_STEP, NULL, NULL);
	if (n < 0) {
		c->log("cannot count the flow table: %s", strerror((int)-n));
		memset(&c->walk, 0, sizeof(c->walk));
		memset(c->partial, 0, sizeof(c->partial));
		c->counting = false;
		return COUNTERS_COUNT_PERIOD_MS;
	}
	c->partial[tb] += (__u64)n;
	if (!c->walk.done)
		return COUNTERS_COUNT_PAUSE_MS;
	if (tb + 1 < DP_FLOW_TABLES) {
		memset(&c->walk, 0, sizeof(c->walk));
		c->walk.table = tb + 1;
		return COUNTERS_COUNT_PAUSE_MS;
	}
	memcpy(c->entries, c->partial, sizeof(c->entries));
	memset(c->partial, 0, sizeof(c->partial));
	memset(&c->walk, 0, sizeof(c->walk));
	c->counted = true;
	c->counting = false;
	c->counted_at = (double)clock_ns(CLOCK_REALTIME) / 1e9;
	c->count_seconds = (double)(loop_now_ms() - c->count_started_ms) / 1000.0;
	return counters_count_period_ms(c->count_seconds);
}

static void on_count(struct loop_timer *t)
{
	struct counters *c = container_of(t, struct counters, count_timer);

	loop_timer_set(c->loop, t, counters_count_step(c));
}

bool counters_flow_count(const struct counters *c, __u64 entries[DP_FLOW_TABLES], double *at,
			 double *seconds)
{
	if (!c->counted)
		return false;
	memcpy(entries, c->entries, sizeof(c->entries));
	*at = c->counted_at;
	*seconds = c->count_seconds;
	return true;
}

__u32 counters_flow_capacity(const struct counters *c, enum dp_flow_table t)
{
	return dp_flows_capacity(c->dp, t);
}

int counters_start(struct counters *c, struct loop *loop)
{
	c->loop = loop;
	c->sample_timer.cb = on_sample;
	c->count_timer.cb = on_count;
	if (loop_timer_set(loop, &c->sample_timer, 0) || loop_timer_set(loop, &c->count_timer, 0))
		return -ENOMEM;
	return 0;
}

void counters_stop(struct counters *c)
{
	if (!c->loop)
		return;
	loop_timer_cancel(c->loop, &c->sample_timer);
	loop_timer_cancel(c->loop, &c->count_timer);
	loop_timer_cancel(c->loop, &c->epoch_timer);
	c->loop = NULL;
}

/* ---- flows ---- */

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
	struct counters_flows *s = ctx;
	struct dp_flow row = *f, *r;

	if (s->has_only && f->v.vip_id != s->only)
		return 0;
	s->total[t]++;
	dp_cache_counts_add(s->cached, &row);
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

void counters_flows_init(struct counters_flows *f, size_t keep, bool has_only, __u32 only)
{
	memset(f, 0, sizeof(*f));
	f->keep = keep;
	f->has_only = has_only;
	f->only = only;
	f->walk.table = DP_FLOWS_ESTABLISHED;
}

/* Heapsort in place: the smallest row of the min-heap goes to the end,
 * so the rows end busiest first. */
static int flows_sort(struct counters_flows *f)
{
	struct dp_flow *h = f->rows, t;
	size_t k;

	for (k = 0; k < COUNTERS_FLOWS_SORT_STEP && f->unsorted > 1; k++) {
		f->unsorted--;
		t = h[0];
		h[0] = h[f->unsorted];
		h[f->unsorted] = t;
		heap_down(h, f->unsorted, 0);
	}
	return f->unsorted > 1;
}

int counters_flows_step(const struct counters *c, struct counters_flows *f)
{
	enum dp_flow_table next = f->walk.table + 1;
	long n;

	if (f->sorting)
		return flows_sort(f);
	if (!f->cache_read) { /* the flow cache's counts first, in steps (dataplane.h) */
		int ret;

		if (!f->cached && !(f->cached = dp_cache_counts_new()))
			return -ENOMEM;
		ret = dp_cache_counts_step(c->dp, f->cached);
		if (ret < 0)
			return ret;
		f->cache_read = !ret;
		return 1;
	}
	n = dp_flows_walk(c->dp, &f->walk, COUNTERS_FLOWS_READ_STEP, flow_keep, f);
	if (n < 0)
		return (int)n;
	if (!f->walk.done)
		return 1;
	memset(&f->walk, 0, sizeof(f->walk));
	f->walk.table = next;
	if (next == DP_FLOW_TABLES) {
		dp_cache_counts_free(f->cached);
		f->cached = NULL;
		f->sorting = true;
		f->unsorted = f->n;
	}
	return 1;
}

void counters_flows_free(struct counters_flows *f)
{
	dp_cache_counts_free(f->cached);
	f->cached = NULL;
	free(f->rows);
	f->rows = NULL;
	f->n = f->cap = 0;
}
