/* SPDX-License-Identifier: GPL-2.0 */
/* metrics.h - what lbd measures, for /metrics, `lbctl stats` and `lbctl top`.
 *
 * - Rates: every MON_SAMPLE_MS a timer reads the counters of every VIP and
 *   backend id in use (batched: a few syscalls for thousands of ids) and
 *   keeps packets/s and bits/s over the last interval.
 * - Flow table sizes: counting the entries of a 1M-entry LRU hash means
 *   reading it whole, so a background walk does it in steps of
 *   MON_COUNT_STEP entries with the loop free between steps, and starts
 *   again 100 count durations after it ends (1 s to MON_COUNT_PERIOD_MS).  /metrics reports the last
 *   complete count and when it finished.
 * - Control operations by command and result.
 * - The /metrics page: rendered on each scrape from fresh counters (also
 *   read batched), the model and the run-time state.
 */
#ifndef XDPLB_METRICS_H
#define XDPLB_METRICS_H

#include <stdbool.h>
#include <linux/types.h>

#include "cmdparse.h"
#include "dataplane.h"
#include "loop.h"
#include "strbuf.h"

#define MON_SAMPLE_MS	    1000
#define MON_COUNT_PERIOD_MS 30000 /* at most; see mon_count_period_ms() */
#define MON_COUNT_STEP	    1024 /* flow entries read per loop turn (~1 ms, see README) */
#define MON_COUNT_PAUSE_MS  1	 /* between steps: the loop serves everyone else */
#define MON_METRICS_PATH    "/metrics"

struct lbd;
struct http;

struct mon_rate {
	double pps; /* packets per second over the last sample interval */
	double bps; /* bits per second */
};

struct lbd_mon {
	struct http *http;
	/* sampler: counters of ids [0, n) one interval ago, and the rates */
	struct loop_timer sample_timer;
	struct xdplb_counters *vip_prev, *be_prev; /* [XDPLB_MAX_VIPS], [XDPLB_MAX_BACKENDS] */
	struct xdplb_counters *vip_cur, *be_cur;   /* scratch: the latest read */
	struct mon_rate *vip_rate, *be_rate;
	__u32 n_vip_prev, n_be_prev;
	__u64 prev_ms;		/* 0: no sample yet */
	/* the background count of the flow tables */
	struct loop_timer count_timer;
	struct dp_flow_walk walk;
	__u64 partial[DP_FLOW_TABLES]; /* the walk in progress */
	__u64 entries[DP_FLOW_TABLES]; /* the last complete count */
	bool counted;
	double counted_at;    /* unix time the last count ended */
	double count_seconds; /* how long it took, pauses included */
	double step_max_seconds; /* the longest single step: how long the loop waited */
	__u64 count_started_ms;
	bool counting;        /* a count began at count_started_ms and is not done */
	/* control operations: [kind][0 ok, 1 error]; CMD_NONE counts lines
	 * that did not parse far enough to name a command */
	__u64 ops[CMD_KIND_MAX][2];
	__u64 scrapes;
	double render_seconds; /* the previous scrape's */
};

/* Buffers (no timers, no server): enough for lbd_stats and metrics_render. */
int mon_init(struct lbd *d);
/* The sampler, the flow count and, unless listen is NULL, the server. */
int mon_start(struct lbd *d, const char *listen, char *err, size_t errlen);
void mon_stop(struct lbd *d);
void mon_free(struct lbd *d);
/* The port /metrics is served on (0 if not served). */
unsigned int mon_port(const struct lbd *d);

void mon_count_op(struct lbd *d, enum cmd_kind kind, bool ok);
/* Read every VIP's and backend's counters into mon.vip_cur/be_cur; *nv,
 * *nb get the number of ids read (highest id in the model + 1). */
int mon_read_counters(struct lbd *d, __u32 *nv, __u32 *nb);
/* One sample: read counters, update rates over the time since the last
 * sample (now_ms, loop_now_ms() clock). */
int mon_sample(struct lbd *d, __u64 now_ms);
/* Rate over the interval from prev to cur (counters that went back, as a
 * reused id's do, give 0). */
struct mon_rate mon_rate_of(const struct xdplb_counters *prev, const struct xdplb_counters *cur,
			    __u64 interval_ms);

/* The /metrics page (text format 0.0.4).  Returns 0, or -1 with a message. */
int metrics_render(struct lbd *d, struct strbuf *out);

/* When the next flow-table count starts after one that took count_seconds. */
__u64 mon_count_period_ms(double count_seconds);

#endif /* XDPLB_METRICS_H */
