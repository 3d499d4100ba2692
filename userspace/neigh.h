/* SPDX-License-Identifier: GPL-2.0 */
/* neigh.h - where a backend's frames go: route, egress MAC and next hop's MAC over rtnetlink. */
#ifndef XDPLB_NEIGH_H
#define XDPLB_NEIGH_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>

#include "loop.h"
#include "xdplb.h"

/* Families are XDPLB_AF_*.  On success everything is filled; on -EAGAIN
 * everything but mac (which stays zero); on any other error nothing (zero). */
struct neigh_result {
	__u32 ifindex;		  /* egress interface */
	__u8 mac[6];		  /* next hop's MAC: the backend's own when on-link */
	__u8 src_mac[6];	  /* egress interface's MAC */
	union xdplb_addr nexthop; /* the gateway, or the backend itself when on-link */
	__u8 nh_family;		  /* the gateway's (IPv4 routes may go via IPv6) */
};

struct neigh;

/* Open two NETLINK_ROUTE sockets: one subscribed to neighbour, link and
 * IPv4/IPv6 route changes, registered in l; one for synchronous queries.
 * changed(arg) runs from a loop timer, at most once per burst of events
 * (a few ms after it), when one of them may change a result: a route or
 * one of the used interfaces changed, any interface was removed, or a next hop returned by
 * neigh_resolve() got, lost or changed its MAC (events about other
 * neighbours are ignored; a re-confirmation with the same MAC is silent).
 * It also runs when events were lost and every NEIGH_RESYNC_MS (30 s).
 * Each call is the cue to resolve every backend again: next hops that no
 * resolve asked for during three resync periods stop being followed.
 * Returns NULL with a message in err on failure. */
struct neigh *neigh_open(struct loop *l, void (*changed)(void *arg), void *arg, char *err,
			 size_t errlen);
void neigh_close(struct neigh *n);

/* Resolve now, with a few short synchronous queries (route, link,
 * neighbour).  onlink_only: the address must be on a directly connected
 * network (the l2 method).  Returns:
 *   0             resolved: the neighbour entry is usable (reachable, stale,
 *                 delay, probe, permanent or noarp) and has a MAC; a stale
 *                 one is also sent a probe to re-confirm it
 *   -EAGAIN       not resolved yet: resolution was started (an ARP request or
 *                 neighbour solicitation goes out, as for a packet waiting on
 *                 the entry) and changed() follows when the kernel learns
 *                 the MAC
 *   -ENETUNREACH  no usable route (none, unreachable, prohibit, blackhole,
 *                 broadcast, multicast)
 *   -EHOSTUNREACH onlink_only, and the route goes through a gateway
 *   -EADDRINUSE   the address is one of this host's own
 *   -EOPNOTSUPP   the egress interface is not Ethernet
 *   -EAFNOSUPPORT family is not XDPLB_AF_INET or XDPLB_AF_INET6
 *   other -errno  the query failed (-ETIMEDOUT, -ENOBUFS, ...)
 * Following next hops costs memory: NEIGH_MAX_WATCH of them (build-time)
 * are filtered precisely; past that every neighbour event calls changed(). */
int neigh_resolve(struct neigh *n, __u8 family, const union xdplb_addr *addr, bool onlink_only,
		  struct neigh_result *res);

#endif /* XDPLB_NEIGH_H */
