/* SPDX-License-Identifier: GPL-2.0 */
/* counters.h - what the datapath counted, read, summed and derived: the one
 * source of the figures `lbctl stats`, `lbctl top`, `lbctl flows` (stats.c)
 * and /metrics (metrics.c) render.
 *
 * - Totals: the datapath counts packets, bytes and new flows per backend id
 *   (one per-CPU update per packet).  A VIP's totals are its current
 *   backends' plus what its removed backends counted, which
 *   counters_backend_retire() keeps per VIP id in the retired-counts map
 *   (pinned as `vip_stats`: an upgrade adopts maps by name, so the name
 *   stays).  Every id of the model is read with batched lookups: a few
 *   syscalls for thousands of ids.
 * - Rates: every COUNTERS_SAMPLE_MS a timer reads the totals and keeps
 *   packets/s and bits/s over the last interval.
 * - Unique clients: each VIP's HyperLogLog sketches merged over CPUs and
 *   epochs; a timer starts a new epoch every XDPLB_HLL_EPOCH_S (xdplb.h).
 * - The flow count: counting the entries of a 1M-entry LRU hash means
 *   reading it whole, so a background walk does it in steps of
 *   COUNTERS_COUNT_STEP entries with the loop free between steps, and
 *   starts again 100 count durations after it ends (1 s to
 *   COUNTERS_COUNT_PERIOD_MS).  The last complete count is kept.
 * - Flows: both flow tables read in steps, all flows or the busiest N by
 *   bytes, sorted busiest first (`lbctl flows`).
 */
#ifndef XDPLB_COUNTERS_H
#define XDPLB_COUNTERS_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>

#include "dataplane.h"
#include "hll.h"
#include "loop.h"
#include "xdplb.h"

#define COUNTERS_SAMPLE_MS	 1000
#define COUNTERS_COUNT_PERIOD_MS 30000 /* at most; see counters_count_period_ms() */
#define COUNTERS_COUNT_STEP	 1024  /* flow entries read per loop turn (~1 ms, see README) */
#define COUNTERS_COUNT_PAUSE_MS	 1     /* between steps: the loop serves everyone else */
#define COUNTERS_FLOWS_READ_STEP 1024  /* flows listing: entries read per step */
#define COUNTERS_FLOWS_SORT_STEP 4096  /* flows listing: rows sorted per step */

struct xdplb_model;

struct counters_rate {
	double pps; /* packets per second over the last sample interval */
	double bps; /* bits per second */
};

/* Where the timers report what failed (lbd_log); NULL: stderr. */
typedef void counters_log_fn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

enum counters_kind {
	COUNTERS_VIPS,	   /* by VIP id: retired counts + the current backends' */
	COUNTERS_BACKENDS, /* by backend id */
	COUNTERS_KINDS,
};

/* One kind's totals and rates, by id. */
struct counters_table {
	struct xdplb_counters *cur;  /* the last read: ids [0, n) */
	struct xdplb_counters *prev; /* the sampler's previous read: ids [0, n_prev) */
	struct counters_rate *rate;  /* the rates between them: ids [0, n_prev) */
	__u32 n, n_prev;
};

struct counters {
	struct dp *dp;
	const struct xdplb_model *model;
	struct loop *loop; /* counters_start's; NULL before */
	counters_log_fn *log;
	struct counters_table t[COUNTERS_KINDS];
	/* the sampler */
	struct loop_timer sample_timer;
	__u64 prev_ms; /* 0: no sample yet */
	/* the background count of the flow tables */
	struct loop_timer count_timer;
	struct dp_flow_walk walk;
	__u64 partial[DP_FLOW_TABLES]; /* the walk in progress */
	__u64 entries[DP_FLOW_TABLES]; /* the last complete count */
	bool counted;
	bool counting; /* a count began at count_started_ms and is not done */
	__u64 count_started_ms;
	double counted_at;    /* unix time the last count ended */
	double count_seconds; /* how long it took, pauses included */
	/* unique-client sketch epochs */
	struct loop_timer epoch_timer;
};

/* Buffers, no timers: enough for counters_read() and what reads it.  dp and
 * model are lbd's, read at each call (dp may be opened later). */
int counters_init(struct counters *c, struct dp *dp, const struct xdplb_model *model,
		  counters_log_fn *log);
void counters_free(struct counters *c);
/* The sampler and the flow count, on loop (first runs in its next turn). */
int counters_start(struct counters *c, struct loop *loop);
/* Start the first unique-client epoch now and the next every
 * XDPLB_HLL_EPOCH_S (after counters_start, once the datapath is open). */
int counters_epochs_start(struct counters *c);
void counters_stop(struct counters *c);

/* ---- totals and rates ---- */

/* Read the totals of every VIP and backend of the model.  -EINVAL if an id
 * is past the maps. */
int counters_read(struct counters *c);
/* The last read's totals of a VIP or backend id (zero for an id not read). */
struct xdplb_counters counters_total(const struct counters *c, enum counters_kind k, __u32 id);
/* One sample: read, and the rates over the time since the last sample
 * (now_ms, loop_now_ms() clock). */
int counters_sample(struct counters *c, __u64 now_ms);
/* The last sample's rates of a VIP or backend id (zero for an id not sampled). */
struct counters_rate counters_rate(const struct counters *c, enum counters_kind k, __u32 id);
/* Rate over the interval from prev to cur (counters that went back, as a
 * reused id's do, give 0). */
struct counters_rate counters_rate_of(const struct xdplb_counters *prev,
				      const struct xdplb_counters *cur, __u64 interval_ms);
/* The datapath's global counters (XDPLB_STAT_*), summed over CPUs. */
int counters_global(const struct dp *dp, struct xdplb_stats *out);

/* A backend id leaves VIP vip_id (its entry already inactive): its counts
 * go to the VIP's retired counts and the id starts again at zero, so the
 * VIP's totals never go back and a reused id's start at 0. */
int counters_backend_retire(const struct dp *dp, __u32 be_id, __u32 vip_id);
/* A VIP id is freed: its retired counts and its sketches go. */
int counters_vip_forget(const struct dp *dp, __u32 vip_id);

/* ---- unique clients ---- */

/* Distinct client addresses of a VIP over the last one to two epochs,
 * rounded; false when the VIP has no sketch (id >= XDPLB_HLL_VIPS) or it
 * cannot be read. */
bool counters_unique_clients(const struct counters *c, __u32 vip_id, __u64 *n);
/* Both epochs' sketches of a VIP, merged over CPUs (-ERANGE: no sketch). */
int counters_vip_sketch(const struct dp *dp, __u32 vip_id, struct hll_regs *out);
/* Start the next epoch at now_ns (CLOCK_MONOTONIC_COARSE, the datapath's
 * bpf_ktime_get_coarse_ns clock): clear its sketches, switch. */
int counters_epoch_next(struct dp *dp, __u64 now_ns);

/* ---- the flow count ---- */

/* One step of the background count; returns the delay before the next one
 * (ms).  A count ends with both tables read (counters_flow_count). */
__u64 counters_count_step(struct counters *c);
/* When the next count starts after one that took count_seconds. */
__u64 counters_count_period_ms(double count_seconds);
/* The last complete count: false before the first one ends. */
bool counters_flow_count(const struct counters *c, __u64 entries[DP_FLOW_TABLES], double *at,
			 double *seconds);
__u32 counters_flow_capacity(const struct counters *c, enum dp_flow_table t);

/* ---- flows (`lbctl flows`) ---- */

/* Both tables read in steps: rows are every flow (keep 0) or the `keep`
 * with the most bytes (memory bounded by keep whatever the table size),
 * of VIP id `only` if has_only; then sorted, busiest first.  Counts include
 * the flow cache's, read once before the tables (dataplane.h). */
struct counters_flows {
	bool has_only;
	__u32 only;
	size_t keep;
	struct dp_flow *rows; /* a min-heap by bytes until sorted */
	size_t n, cap;
	__u64 total[DP_FLOW_TABLES]; /* flows seen (of `only`), kept or not */
	struct dp_flow_walk walk;    /* walk.table is the table being read */
	struct dp_cache_counts *cached; /* the flow cache's counts, while walking */
	bool cache_read;                /* all of them */
	bool sorting;
	size_t unsorted; /* while sorting: rows still in the heap */
};

void counters_flows_init(struct counters_flows *f, size_t keep, bool has_only, __u32 only);
/* One step: about COUNTERS_FLOWS_READ_STEP entries read or
 * COUNTERS_FLOWS_SORT_STEP rows sorted.  1 while there is more to do, 0
 * when f->rows[0..n) are sorted, or -errno (the tables could not be read). */
int counters_flows_step(const struct counters *c, struct counters_flows *f);
void counters_flows_free(struct counters_flows *f);

#endif /* XDPLB_COUNTERS_H */
