// SPDX-License-Identifier: GPL-2.0
/* bench_metrics.c - what a /metrics scrape costs lbd's loop with 512 VIPs x
 * 16 backends, against references measured in the same run (`vip show`
 * over the same model, and one map lookup per id, the plain way to read the
 * counters); and what lbd's background count of a full 1M-entry flow table
 * costs (counters.c), whole and per step. */
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bench.h"
#include "commands.h"
#include "counters.h"
#include "http.h"
#include "../fixture.h"
#include "lbd.h"
#include "stats.h"
#include "sync.h"
#include "xdplb.skel.h"

#define N_VIPS 512
#define N_BE_PER_VIP 16
#define RUNS 9

/* Counters with realistic digit counts in every per-CPU slot of ids [0, n). */
static int fill_counters(int fd, __u32 n)
{
	int ncpu = libbpf_num_possible_cpus(), c;
	struct xdplb_counters *v = calloc((size_t)ncpu, sizeof(*v));
	__u32 id;
	int err = v ? 0 : -1;

	for (id = 0; id < n && !err; id++) {
		for (c = 0; c < ncpu; c++)
			v[c] = (struct xdplb_counters){ 123456789ull + id, 98765432100ull + id,
							 1234567ull + id };
		err = bpf_map_update_elem(fd, &id, v, BPF_ANY);
	}
	free(v);
	return err;
}

static int setup(struct lbd *d)
{
	struct dp_opts o = { .flows = 4096 };
	struct sync_env env = { .dp = &d->dp, .model = &d->model };
	char line[128];
	__u32 i, j;

	model_init(&d->model);
	if (!(d->sync = sync_open(&env)) ||
	    counters_init(&d->counters, &d->dp, &d->model, NULL) || dp_open(&d->dp, &o))
		return -1;
	for (i = 0; i < N_VIPS; i++) {
		snprintf(line, sizeof(line), "vip add 10.1.%u.%u:80/tcp", i / 250, i % 250 + 1);
		if (fix_apply(&d->model, line))
			return -1;
		for (j = 0; j < N_BE_PER_VIP; j++) {
			snprintf(line, sizeof(line), "backend add 10.1.%u.%u:80/tcp 10.2.%u.%u",
				 i / 250, i % 250 + 1, (i * N_BE_PER_VIP + j) / 250,
				 (i * N_BE_PER_VIP + j) % 250 + 1);
			if (fix_apply(&d->model, line))
				return -1;
		}
	}
	/* every backend healthy and resolved, as adoption records them */
	for (i = 0; i < d->model.n_vips; i++)
		for (j = 0; j < d->model.vips[i].n_backends; j++) {
			const struct xdplb_backend *b = &d->model.vips[i].backends[j];
			struct xdplb_backend_info be = { .vip_id = d->model.vips[i].id,
							 .addr = b->addr, .family = b->family,
							 .flags = XDPLB_BE_F_ACTIVE };

			sync_adopt_backend(d->sync, b->id, &be);
		}
	return fill_counters(dp_counter_map_fd(&d->dp, DP_COUNTER_RETIRED), N_VIPS) ||
	       fill_counters(dp_counter_map_fd(&d->dp, DP_COUNTER_BACKENDS),
			     N_VIPS * N_BE_PER_VIP);
}

enum part { P_SCRAPE, P_SCRAPE_GZ, P_READ_BATCHED, P_STATS, P_REF_SHOW, P_REF_LOOKUPS, P_MAX };

static size_t page_len, gz_len;

/* The reference: one lookup per id, per-CPU values summed (a VIP's
 * retired counts, then each of its backends), as lbctl stats read them
 * before the batched read. */
static int ref_lookups(struct lbd *d)
{
	int ncpu = libbpf_num_possible_cpus(), retired = dp_counter_map_fd(&d->dp, DP_COUNTER_RETIRED),
	    backends = dp_counter_map_fd(&d->dp, DP_COUNTER_BACKENDS), err = 0, c;
	struct xdplb_counters *v = calloc(ncpu > 0 ? (size_t)ncpu : 1, sizeof(*v)), sum;
	__u32 i, j;

	if (!v || ncpu <= 0) {
		free(v);
		return -1;
	}
	for (i = 0; i < d->model.n_vips && !err; i++) {
		const struct xdplb_vip *vip = &d->model.vips[i];

		memset(&sum, 0, sizeof(sum));
		err = bpf_map_lookup_elem(retired, &vip->id, v);
		for (j = 0; j <= vip->n_backends && !err; j++) {
			for (c = 0; c < ncpu; c++) {
				sum.packets += v[c].packets;
				sum.bytes += v[c].bytes;
				sum.new_flows += v[c].new_flows;
			}
			if (j < vip->n_backends)
				err = bpf_map_lookup_elem(backends, &vip->backends[j].id, v);
		}
	}
	free(v);
	return err;
}

static int run_part(struct lbd *d, enum part p)
{
	struct strbuf out;
	char req[32];
	void *gz = NULL;
	int err = 0;

	sb_init(&out, 0);
	switch (p) {
	case P_SCRAPE:
	case P_SCRAPE_GZ:
		err = metrics_render(d, &out);
		page_len = out.len;
		if (!err && p == P_SCRAPE_GZ)
			err = http_gzip(out.buf, out.len, &gz, &gz_len);
		free(gz);
		break;
	case P_READ_BATCHED:
		err = counters_read(&d->counters);
		break;
	case P_STATS:
	case P_REF_SHOW:
		snprintf(req, sizeof(req), "%s", p == P_STATS ? "stats" : "vip show");
		err = lbd_handle(d, req, strlen(req), &out);
		break;
	case P_REF_LOOKUPS:
		err = ref_lookups(d);
		break;
	default:
		break;
	}
	sb_free(&out);
	return err;
}

/* Median wall time of RUNS runs of part p, after one warm-up run (0 if it fails). */
static __u64 median_ns(struct lbd *d, enum part p)
{
	__u64 t[RUNS], t0;
	int i;

	if (run_part(d, p))
		return 0;
	for (i = 0; i < RUNS; i++) {
		t0 = bench_now_ns();
		run_part(d, p);
		t[i] = bench_now_ns() - t0;
	}
	return bench_median_u64(t, RUNS);
}

static void bench_scrape(void)
{
	static const char *const name[P_MAX] = {
		[P_SCRAPE] = "scrape: /metrics page", [P_SCRAPE_GZ] = "scrape: page + gzip",
		[P_READ_BATCHED] = "counters read, batched", [P_STATS] = "lbctl stats (text)",
		[P_REF_SHOW] = "ref: lbctl vip show", [P_REF_LOOKUPS] = "ref: one lookup per id",
	};
	static struct lbd d;
	__u64 t[P_MAX];
	int p;

	if (setup(&d)) {
		printf("metrics: setup failed\n");
		goto out;
	}
	for (p = 0; p < P_MAX; p++)
		t[p] = median_ns(&d, (enum part)p);
	printf("\n/metrics scrape, %u VIPs x %u backends (%u series per backend family), "
	       "median of %d, one core\n",
	       N_VIPS, N_BE_PER_VIP, N_VIPS * N_BE_PER_VIP, RUNS);
	printf("page %zu bytes, gzip %zu bytes\n", page_len, gz_len);
	printf("| what | ms | x vip show | x one lookup per id |\n| --- | ---: | ---: | ---: |\n");
	for (p = 0; p < P_MAX; p++)
		printf("| %s | %.2f | %.2f | %.2f |\n", name[p], (double)t[p] / 1e6,
		       t[P_REF_SHOW] ? (double)t[p] / (double)t[P_REF_SHOW] : 0,
		       t[P_REF_LOOKUPS] ? (double)t[p] / (double)t[P_REF_LOOKUPS] : 0);
out:
	sync_close(d.sync);
	counters_free(&d.counters);
	if (d.dp.skel)
		dp_close(&d.dp);
	model_free(&d.model);
}

/* Fill the established IPv4 table with n entries of raw bytes (the layout does
 * not matter for counting), from every CPU in turn: the LRU lists are per
 * CPU, each holds 1/ncpu of the table. */
static long fill_flows(struct dp *dp, __u32 n)
{
	struct bpf_map *m = dp->skel->maps.flows4;
	__u32 ks = bpf_map__key_size(m), vs = bpf_map__value_size(m), batch = 4096, i, cnt;
	int ncpu = libbpf_num_possible_cpus(), c;
	char *keys = calloc(batch, ks), *vals = calloc(batch, vs);
	__u64 next = 1;
	cpu_set_t set;
	LIBBPF_OPTS(bpf_map_batch_opts, o);

	if (!keys || !vals || ks < 8)
		return -1;
	for (c = 0; c < ncpu; c++) {
		CPU_ZERO(&set);
		CPU_SET(c, &set);
		if (sched_setaffinity(0, sizeof(set), &set))
			continue;
		for (i = 0; i < n / (__u32)ncpu; i += batch) {
			__u32 j;

			for (j = 0; j < batch; j++, next++)
				memcpy(keys + (size_t)j * ks, &next, 8);
			cnt = batch;
			bpf_map_update_batch(bpf_map__fd(m), keys, vals, &cnt, &o);
		}
	}
	CPU_ZERO(&set);
	for (c = 0; c < ncpu; c++)
		CPU_SET(c, &set);
	sched_setaffinity(0, sizeof(set), &set);
	free(keys);
	free(vals);
	return 0;
}

/* `lbctl flows top 10` on the full table: what lbd does for it (read every
 * entry in batches, keep the 10 busiest in a heap, print), against the
 * plain count of the same table measured just before. */
static void bench_flows_top(struct dp *dp, __u64 t_count)
{
	struct xdplb_cmd c = { .kind = CMD_FLOWS, .top = 10 };
	struct sync_env env;
	struct strbuf out;
	struct lbd d;
	__u64 t0, t;

	memset(&d, 0, sizeof(d));
	model_init(&d.model);
	sb_init(&out, 1 << 20);
	env = (struct sync_env){ .dp = &d.dp, .model = &d.model };
	d.sync = sync_open(&env);
	if (!d.sync || counters_init(&d.counters, &d.dp, &d.model, NULL)) {
		printf("metrics: out of memory\n");
		return;
	}
	d.dp = *dp;
	t0 = bench_now_ns();
	if (lbd_flows(&d, &c, false, &out))
		printf("metrics: lbctl flows failed: %s\n", sb_str(&out));
	t = bench_now_ns() - t0;
	printf("\n`lbctl flows top 10` on the same table: %.1f ms = %.2fx the count above (both tables)\n",
	       (double)t / 1e6, t_count ? (double)t / (double)t_count : 0);
	memset(&d.dp, 0, sizeof(d.dp)); /* the caller closes it */
	counters_free(&d.counters);
	sync_close(d.sync);
	model_free(&d.model);
	sb_free(&out);
}

/* lbd's background count (counters_count_step, as its timer runs it), step
 * by step, each table apart. */
static void bench_flow_count(void)
{
	static const char *const tname[DP_FLOW_TABLES] = { "established", "half_open" };
	struct dp_opts o = { .flows = XDPLB_DEFAULT_FLOWS };
	__u64 t0, step, t[DP_FLOW_TABLES] = { 0 }, step_max[DP_FLOW_TABLES] = { 0 },
			steps[DP_FLOW_TABLES] = { 0 }, entries[DP_FLOW_TABLES] = { 0 }, t_all;
	struct xdplb_model m = { 0 };
	struct counters c = { 0 };
	double at, seconds;
	enum dp_flow_table tb;
	struct dp dp;
	int i;

	if (dp_open(&dp, &o) || fill_flows(&dp, XDPLB_DEFAULT_FLOWS) ||
	    counters_init(&c, &dp, &m, NULL)) {
		printf("metrics: flow table setup failed\n");
		counters_free(&c);
		return;
	}
	t0 = bench_now_ns();
	while (!counters_flow_count(&c, entries, &at, &seconds)) {
		tb = c.walk.table;
		step = bench_now_ns();
		counters_count_step(&c);
		step = bench_now_ns() - step;
		if (!c.counting && !c.counted)
			break; /* the count failed (logged) */
		t[tb] += step;
		steps[tb]++;
		step_max[tb] = step > step_max[tb] ? step : step_max[tb];
	}
	t_all = bench_now_ns() - t0;
	printf("\nflow table count (capacity %u), lbd's background count in steps of %u entries\n",
	       counters_flow_capacity(&c, DP_FLOWS_ESTABLISHED), COUNTERS_COUNT_STEP);
	printf("| table | entries | total ms | ns/entry | steps | longest step ms |\n");
	printf("| --- | ---: | ---: | ---: | ---: | ---: |\n");
	for (i = 0; i < DP_FLOW_TABLES; i++)
		printf("| %s | %llu | %.1f | %.1f | %llu | %.2f |\n", tname[i],
		       (unsigned long long)entries[i], (double)t[i] / 1e6,
		       entries[i] ? (double)t[i] / (double)entries[i] : 0,
		       (unsigned long long)steps[i], (double)step_max[i] / 1e6);
	printf("| both | %llu | %.1f | | %llu | |\n",
	       (unsigned long long)(entries[0] + entries[1]), (double)t_all / 1e6,
	       (unsigned long long)(steps[0] + steps[1]));
	counters_free(&c);
	bench_flows_top(&dp, t_all);
	dp_close(&dp);
}

void bench_metrics(void)
{
	bench_scrape();
	bench_flow_count();
}
