/* SPDX-License-Identifier: GPL-2.0 */
/* metrics.h - the /metrics page (Prometheus text format 0.0.4), rendered on
 * each scrape from fresh counters (counters.h), the model and the run-time
 * state; and lbd's own figures: control operations by command and result,
 * scrapes, how long the last page took.
 */
#ifndef XDPLB_METRICS_H
#define XDPLB_METRICS_H

#include <stdbool.h>
#include <linux/types.h>

#include "cmdparse.h"
#include "strbuf.h"

#define MON_METRICS_PATH    "/metrics"

struct lbd;
struct http;

struct lbd_mon {
	struct http *http;
	/* control operations: [kind][0 ok, 1 error]; CMD_NONE counts lines
	 * that did not parse far enough to name a command */
	__u64 ops[CMD_KIND_MAX][2];
	__u64 scrapes;
	double render_seconds; /* the previous scrape's */
};

/* The server, unless listen is NULL (the counters' timers are counters.h's). */
int mon_start(struct lbd *d, const char *listen, char *err, size_t errlen);
void mon_stop(struct lbd *d);
/* The port /metrics is served on (0 if not served). */
unsigned int mon_port(const struct lbd *d);

void mon_count_op(struct lbd *d, enum cmd_kind kind, bool ok);
/* The /metrics page (text format 0.0.4).  Returns 0, or -1 with a message. */
int metrics_render(struct lbd *d, struct strbuf *out);

#endif /* XDPLB_METRICS_H */
