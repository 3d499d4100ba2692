/* SPDX-License-Identifier: GPL-2.0 */
/* lbd.h - the daemon's state: the model (the one source of truth), what it
 * knows at run time about each VIP and backend (health, neighbour), and
 * the datapath it derives from both. */
#ifndef XDPLB_LBD_H
#define XDPLB_LBD_H

#include <stdbool.h>
#include <sys/types.h>
#include <signal.h>

#include "announce.h"
#include "cmdparse.h"
#include "dataplane.h"
#include "flowsync.h"
#include "health.h"
#include "loop.h"
#include "metrics.h"
#include "model.h"
#include "neigh.h"
#include "strbuf.h"
#include "textform.h"

#define LBD_SYNC_DELAY_MS 100 /* health/neighbour changes are applied at most this often */
#define LBD_MAX_ECHO XDPLB_MAX_VIPS

/* A backend id's run-time state (indexed by backend id). */
struct be_rt {
	bool used;
	__u32 vip_id;
	union xdplb_addr addr;
	__u8 family;
	struct hc *hc;          /* NULL for `check none` */
	bool up;                /* health */
	bool resolved;          /* neighbour known */
	int resolve_err;        /* why not: -EAGAIN, -ENETUNREACH, ... */
	struct neigh_result nr;
	__u64 hc_sig;           /* the check parameters hc was started with */
	__u64 changed_ms;       /* last health change */
	struct xdplb_backend_info written; /* last value written to the map */
	bool have_written;
	struct lbd *lbd;
};

/* A VIP id's run-time state (indexed by VIP id). */
struct vip_rt {
	bool used;
	struct xdplb_vip_key key;
	__u32 ring, ring_size;            /* XDPLB_NO_RING when none */
	__u32 ring_prev, ring_prev_size;
	__u64 ring_sig;                   /* members and weights of the current ring */
	__u32 retired;                    /* a ring slot to free after the next VIP write */
	bool retired_pending;
	struct xdplb_vip_info written;
	bool have_written;
	__u64 rebuilds;
	__u32 up;                         /* ring members: weight > 0, healthy, resolved */
	__u64 fingerprint;                /* of the current ring's backend addresses; 0: empty */
};

/* Backends' next hops looked up again after neighbour, route or link
 * events (lbd.c), in passes over every backend id, each in steps of about
 * LBD_REFRESH_TURN_US of lookups per loop turn, resumed on a zero-delay
 * timer. */
struct lbd_refresh {
	struct loop_timer timer;
	unsigned int why;     /* enum neigh_change: what the pass answers; 0: none */
	unsigned int pending; /* what the next pass answers (events during this one) */
	__u32 next;           /* the backend id to visit next */
	__u32 left;           /* ids still to visit, from next on (wrapping) */
	__u32 seen, looked, changed, turns; /* this pass: backends, lookups, new results */
	__u64 started_ms, longest_us;
};

struct lbd_opts {
	const char *iface;
	enum dp_xdp_mode mode;
	const char *socket_path;
	const char *socket_group; /* NULL: root only (0600); else 0660 and this group */
	gid_t socket_gid;
	const char *state_path;
	const char *pin_root;
	const char *metrics;
	__u32 flows;
	__u32 announce_table;     /* --announce-table N; 0: off */
	struct fs_config sync;    /* --sync-key (key_file NULL: off), --sync-peer, --sync-listen */
	bool verbose;
};

struct lbd {
	struct lbd_opts o;
	int ifindex;
	char pin_dir[4096];
	struct loop *loop;
	struct dp dp;
	struct xdplb_model model;
	struct ctl *ctl;
	struct neigh *neigh;
	struct be_rt *be;       /* [XDPLB_MAX_BACKENDS] */
	struct vip_rt *vip;     /* [XDPLB_MAX_VIPS] */
	__u8 *ring_used;        /* [XDPLB_MAX_RINGS] */
	__u32 *table;           /* [XDPLB_MAX_RING_SIZE] scratch */
	struct xdplb_vip_key *echo; /* echo keys present in the datapath */
	__u32 n_echo;
	struct loop_timer sync_timer;
	struct loop_timer hll_timer; /* unique-client sketch epochs */
	bool adopting;          /* first sync after adopting a pinned datapath */
	bool resolve_all;       /* the first sync asks netlink for every backend */
	struct lbd_refresh refresh; /* later changes: the backends they concern (lbd.c) */
	__u64 ring_rebuilds, ctl_ops, ctl_errors;
	struct lbd_mon mon;     /* rates, flow counts, /metrics (metrics.h) */
	struct announce *announce; /* --announce-table (announce.h); NULL when off */
	struct loop_timer announce_timer;
	char announce_err[256]; /* why the last announce_set() failed; "" if it did not */
	struct flowsync *flowsync; /* --sync-key (flowsync.h); NULL when off */
	volatile sig_atomic_t stop;
	int exit_status;        /* set with stop when lbd cannot go on */
};

/* sync.c: derive the datapath from the model and the run-time state. */
int lbd_sync(struct lbd *d, char *err, size_t errlen);
void lbd_sync_soon(struct lbd *d);
int lbd_rt_init(struct lbd *d);
void lbd_rt_free(struct lbd *d);
/* After adopting pinned maps: give the model the ids the datapath uses. */
int lbd_adopt_ids(struct lbd *d);
const char *be_state(const struct lbd *d, const struct xdplb_backend *b);

/* node.c: what this node announces (lbd --announce-table, node drain). */
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
/* The ring fingerprint as text ("-" for an empty ring). */
char *lbd_fingerprint(const struct vip_rt *vr, char *buf, size_t len);

/* commands.c: the control socket's requests. */
int lbd_handle(void *arg, char *req, size_t len, struct strbuf *out);

/* stats.c: counters and flows. */
/* A VIP's distinct clients over the last one to two sketch epochs, or -1
 * when the VIP has no sketch (id >= XDPLB_HLL_VIPS) or it cannot be read. */
double lbd_vip_unique_clients(const struct lbd *d, const struct xdplb_vip *v);
/* Start the first sketch epoch now and switch every XDPLB_HLL_EPOCH_S. */
int lbd_hll_start(struct lbd *d);
int lbd_stats(struct lbd *d, const struct xdplb_cmd *c, bool json, struct strbuf *out);
int lbd_flows(struct lbd *d, const struct xdplb_cmd *c, bool json, struct strbuf *out);
/* One snapshot for `lbctl top`: VIPs and their backends by packet rate. */
int lbd_top(struct lbd *d, const struct xdplb_cmd *c, bool json, struct strbuf *out);

#endif /* XDPLB_LBD_H */
