/* SPDX-License-Identifier: GPL-2.0 */
/* sync.h - the datapath derived from the model and the run-time state.
 *
 * sync owns what lbd knows at run time of each backend id (its health
 * check, its next hop) and VIP id (its current and previous Maglev rings),
 * which ring slots are taken, the map entries it last wrote, and the echo
 * keys.  sync_run() brings the maps in line with the model; health and
 * neighbour changes ask for one through sync_soon().  Everything else
 * reads that state through the queries below, and adoption (adopt.c)
 * records what a pinned datapath holds through sync_adopt_*().
 */
#ifndef XDPLB_SYNC_H
#define XDPLB_SYNC_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>

#include "dataplane.h"
#include "loop.h"
#include "model.h"
#include "neigh.h"

#define SYNC_DELAY_MS 100 /* health/neighbour changes are applied at most this often */

struct sync;

/* What sync works with; none of it is sync's to free. */
struct sync_env {
	struct loop *loop;		 /* health checks, the sync and refresh timers */
	struct dp *dp;
	const struct xdplb_model *model; /* read at every sync */
	struct neigh *neigh;		 /* NULL: no backend resolves */
	int ifindex;			 /* the forwarder's interface */
	bool verbose;			 /* log every refresh pass, not only those that changed */
	void (*synced)(void *arg);	 /* after every sync_run(); NULL: nothing */
	void *arg;
};

/* Empty run-time state; NULL when out of memory. */
struct sync *sync_open(const struct sync_env *env);
/* Stop the health checks and timers and free the state; the maps stay. */
void sync_close(struct sync *s);

/* Reconcile the datapath with the model, by id: backend entries (active:
 * healthy and resolved), each VIP's ring (rebuilt when its members or
 * weights changed) and entry, one echo key per VIP address; then what the
 * model no longer has.  A backend is looked up (netlink) by the sync that
 * adds it, and by the first one; a backend still unresolved is queued for
 * the next refresh pass, which looks it up in a later loop turn.  Returns
 * 0, or -errno with a message in err (what failed is retried by the next
 * sync). */
int sync_run(struct sync *s, char *err, size_t errlen);
/* A sync within SYNC_DELAY_MS (health and neighbour events come in bursts). */
void sync_soon(struct sync *s);
/* Neighbour, route or link events (enum neigh_change): look up again the
 * backends they may concern, in passes over every backend id made in steps
 * of about a millisecond per loop turn; new results go to a sync_soon(). */
void sync_neigh_changed(struct sync *s, unsigned int what);

/* ---- adoption of a pinned datapath (adopt.c), before the first sync ---- */

/* An entry of the VIP map: an echo key, or a VIP with its rings. */
void sync_adopt_vip(struct sync *s, const struct xdplb_vip_key *k, const struct xdplb_vip_info *vi);
/* The entry of backend id (active ones count as healthy and resolved). */
void sync_adopt_backend(struct sync *s, __u32 id, const struct xdplb_backend_info *be);
/* Everything read: free the ring slots no VIP names (leftovers of an
 * interrupted update); the next sync keeps an adopted backend's next hop
 * when the neighbour table does not answer yet. */
void sync_adopt_done(struct sync *s);

/* ---- queries ---- */

struct sync_backend_state {
	bool known;		 /* false until the sync after the backend was added */
	bool healthy;		 /* its check passes, or it has none */
	bool resolved;		 /* its next hop's MAC is known */
	int resolve_err;	 /* why not: -EAGAIN (resolving), -ENETUNREACH, ... */
	__u8 mac[6];		 /* the next hop's, when resolved */
	__u32 ifindex;		 /* the egress interface, when resolved */
	const char *check_error; /* why the last check failed; "" when it passed, or no check */
	__u64 changed_ms;	 /* loop_now_ms() of its last health change */
	__u32 vip_id;
	union xdplb_addr addr;
	__u8 family;
};

struct sync_vip_state {
	__u32 up;	    /* ring members: weight > 0, healthy, resolved */
	__u64 rebuilds;	    /* of its ring */
	__u64 fingerprint;  /* of its current ring's backend addresses; 0: empty */
	__u32 ring;	    /* the ring slot the datapath reads; XDPLB_NO_RING: none */
	__u32 ring_size;
};

struct sync_stats {
	__u64 ring_rebuilds;  /* all VIPs' */
	__u64 lookups;	      /* next-hop lookups asked of the neighbour module */
	__u32 lookups_queued; /* backends a sync left to a refresh pass, not looked up yet */
};

/* All zero (known false) for an id sync has no backend for. */
struct sync_backend_state sync_backend(const struct sync *s, __u32 id);
/* "new", "unresolved", "down", "up" or "draining" (weight 0). */
const char *sync_backend_status(const struct sync *s, const struct xdplb_backend *b);
/* All zero (ring XDPLB_NO_RING) for an id sync has no VIP for. */
struct sync_vip_state sync_vip(const struct sync *s, __u32 id);
/* The ring fingerprint of VIP id as text: 12 hex digits, "-" for an empty ring. */
char *sync_fingerprint(const struct sync *s, __u32 id, char *buf, size_t len);
struct sync_stats sync_stats(const struct sync *s);

#endif /* XDPLB_SYNC_H */
