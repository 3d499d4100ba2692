/* SPDX-License-Identifier: GPL-2.0 */
/* adopt.h - take over a pinned datapath left by an earlier lbd. */
#ifndef XDPLB_ADOPT_H
#define XDPLB_ADOPT_H

#include "dataplane.h"
#include "model.h"
#include "sync.h"

/* Read back the pinned VIPs, rings and backends into sync's run-time state
 * (sync_adopt_*()), and give model m the ids the datapath uses for them, so
 * that the adopted flow table keeps pointing at the right backends.
 * Returns 0 or -errno. */
int adopt_ids(const struct dp *dp, struct xdplb_model *m, struct sync *sync);

#endif /* XDPLB_ADOPT_H */
