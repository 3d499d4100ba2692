/* SPDX-License-Identifier: GPL-2.0 */
/* entries.h - the datapath's map entries as lbd writes them, built from the
 * model and what lbd knows at run time (rings, health, next hops): lbd's
 * sync and the tests' fixture build them with these, so they cannot drift. */
#ifndef XDPLB_ENTRIES_H
#define XDPLB_ENTRIES_H

#include <stdbool.h>

#include "model.h"
#include "neigh.h"
#include "xdplb.h"

/* The VIP map entry of v: its current ring (slot, size) and the previous
 * one (XDPLB_NO_RING and 0 when there is none). */
void entry_vip(const struct xdplb_vip *v, __u32 ring, __u32 ring_size, __u32 ring_prev,
	       __u32 ring_prev_size, struct xdplb_vip_info *vi);

/* The echo key of a VIP's address (one per address: the forwarder answers
 * pings there and knows the address is a VIP's), and its value. */
void entry_echo_key(const struct xdplb_vip_key *vip, struct xdplb_vip_key *k);
void entry_echo(struct xdplb_vip_info *vi);

/* The backends map entry of b, a backend of v: active when up and its next
 * hop is known (nr; NULL while unresolved), sent by redirect when that next
 * hop is behind another interface than lbd's (ifindex). */
void entry_backend(const struct xdplb_vip *v, const struct xdplb_backend *b, bool up,
		   const struct neigh_result *nr, int ifindex, struct xdplb_backend_info *be);

#endif /* XDPLB_ENTRIES_H */
