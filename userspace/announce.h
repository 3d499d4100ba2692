/* SPDX-License-Identifier: GPL-2.0 */
/* announce.h - the VIP addresses this node announces, as host routes in a
 * kernel routing table that a routing daemon (BIRD, FRR) exports by BGP.
 *
 * One route per announced address: ADDR/32 or ADDR/128, unicast, dev lo,
 * protocol XDPLB_RTPROT ("xdplb" in /etc/iproute2/rt_protos.d/), in table
 * N (`lbd --announce-table N`).  The table is not consulted for forwarding
 * (no rule points at it), so the routes change nothing on the node itself.
 * Only routes of that protocol in that table are ever changed: they are
 * this module's; everything else is left alone (a route of another
 * protocol to a VIP address in that table makes adding ours fail, EEXIST:
 * reported, never replaced). */
#ifndef XDPLB_ANNOUNCE_H
#define XDPLB_ANNOUNCE_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>

#include "xdplb.h"

#define XDPLB_RTPROT 249 /* the routing protocol number of lbd's routes */

struct announce_addr {
	union xdplb_addr addr;
	__u8 family; /* XDPLB_AF_* */
};

struct announce;

/* A route socket for table `table` (1-0xfffffffe, not 253-255: default,
 * main, local).  NULL with a message in err. */
struct announce *announce_open(__u32 table, char *err, size_t errlen);
void announce_close(struct announce *a);

/* Make the table hold exactly the routes of want[0..n): read what is there,
 * add what is missing, remove what is not wanted.  Returns 0, or -errno of
 * the first failure with a message in err (what could be done was done;
 * calling again retries the rest).  *changed counts routes added or removed. */
int announce_set(struct announce *a, const struct announce_addr *want, __u32 n, __u32 *changed,
		 char *err, size_t errlen);

/* Is addr in the table now (as last read by announce_set)? */
bool announce_has(const struct announce *a, const struct announce_addr *addr);

#endif /* XDPLB_ANNOUNCE_H */
