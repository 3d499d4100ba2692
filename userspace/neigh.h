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

/* What a call of changed(arg, what) reports: an OR of these. */
enum neigh_change {
	/* a followed next hop got, lost or changed its MAC: results for which
	 * neigh_current() is false need a new neigh_resolve() */
	NEIGH_CHANGED_NEXTHOPS = 1u << 0,
	/* a route or a used interface changed, an interface was removed, or
	 * events were lost: any result may be different */
	NEIGH_CHANGED_PATHS = 1u << 1,
	/* the interface given to neigh_follow_iface() changed: a link event
	 * (MTU, MAC, state) or one of its addresses came or went (or events
	 * were lost) */
	NEIGH_CHANGED_IFACE = 1u << 2,
	/* the periodic call (NEIGH_RESYNC_MS): resolve again what did not
	 * resolve (the kernel does not solicit a failed neighbour again by
	 * itself), check the rest with neigh_current(), which keeps their next
	 * hops followed */
	NEIGH_RESYNC = 1u << 3,
};

/* Open two NETLINK_ROUTE sockets: one subscribed to neighbour, link,
 * address and IPv4/IPv6 route changes, registered in l; one for
 * synchronous queries.  changed(arg, what) runs from a loop timer, at most
 * once per burst of events (a few ms after it), when one of them may
 * change a result (see enum neigh_change; events about neighbours that no
 * resolve returned, and re-confirmations with the same MAC, are silent),
 * and every NEIGH_RESYNC_MS (30 s).  Next hops that neither a resolve nor
 * neigh_current() asked about during three resync periods stop being
 * followed.  Returns NULL with a message in err on failure. */
struct neigh *neigh_open(struct loop *l, void (*changed)(void *arg, unsigned int what),
			 void *arg, char *err, size_t errlen);
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

/* Whether res (from neigh_resolve()) still says what the neighbour events
 * since say of its next hop: the same MAC, or none for a result that had
 * none (-EAGAIN).  No query.  False when its next hop is not followed (past
 * NEIGH_MAX_WATCH, or dropped after three resync periods); true for a
 * result without a next hop (an error other than -EAGAIN: only a route
 * change, NEIGH_CHANGED_PATHS, can change it).  Keeps the next hop
 * followed, as a resolve through it would. */
bool neigh_current(struct neigh *n, const struct neigh_result *res);

/* Also report changes of interface ifindex (NEIGH_CHANGED_IFACE); 0: none. */
void neigh_follow_iface(struct neigh *n, int ifindex);

#endif /* XDPLB_NEIGH_H */
