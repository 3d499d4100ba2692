/* SPDX-License-Identifier: GPL-2.0 */
/* node.h - what this node announces to the routers (lbd --announce-table,
 * node drain), `node show`, and flow sync's questions to the model. */
#ifndef XDPLB_NODE_H
#define XDPLB_NODE_H

#include <stdbool.h>
#include <stddef.h>

#include "model.h"
#include "strbuf.h"

struct lbd;

/* At least `need` of v's backends are up (its ring members). */
bool lbd_vip_serving(const struct lbd *d, const struct xdplb_vip *v);
/* Is v the first VIP of its address in the model?  (Lists name each address once.) */
bool lbd_vip_addr_first(const struct lbd *d, const struct xdplb_vip *v);
/* Whether the address of VIP v is announced now (routes in the table). */
bool lbd_vip_announced(const struct lbd *d, const struct xdplb_vip *v);
/* Bring the announcement table in line with drain and health; then every
 * LBD_ANNOUNCE_MS again (which repairs routes removed by hand). */
void lbd_announce(struct lbd *d);
int lbd_node_show(const struct lbd *d, bool json, struct strbuf *out);
/* Start flow sync (--sync-key): NULL model callbacks are node.c's. */
int lbd_flowsync_open(struct lbd *d, char *err, size_t errlen);

#endif /* XDPLB_NODE_H */
