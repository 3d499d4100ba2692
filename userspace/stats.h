/* SPDX-License-Identifier: GPL-2.0 */
/* stats.h - `lbctl stats`, `lbctl top` and `lbctl flows`, rendered from
 * what counters.c reads (stats.c). */
#ifndef XDPLB_STATS_H
#define XDPLB_STATS_H

#include <stdbool.h>

#include "cmdparse.h"
#include "strbuf.h"

struct lbd;

int lbd_stats(struct lbd *d, const struct xdplb_cmd *c, bool json, struct strbuf *out);
/* `lbctl flows`: read in steps (a deferred reply), so the loop keeps serving. */
int lbd_flows(struct lbd *d, const struct xdplb_cmd *c, bool json, struct strbuf *out);
/* One snapshot for `lbctl top`: VIPs and their backends by packet rate. */
int lbd_top(struct lbd *d, const struct xdplb_cmd *c, bool json, struct strbuf *out);

#endif /* XDPLB_STATS_H */
