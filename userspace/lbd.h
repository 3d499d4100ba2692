/* SPDX-License-Identifier: GPL-2.0 */
/* lbd.h - the daemon's top-level state: its options, the model (the one
 * source of truth), the datapath, and the modules that work on them (each
 * declared in its own header: sync.h derives the datapath, node.h
 * announces, commands.h answers lbctl, metrics.h measures). */
#ifndef XDPLB_LBD_H
#define XDPLB_LBD_H

#include <stdbool.h>
#include <sys/types.h>
#include <signal.h>

#include "cmdparse.h"
#include "counters.h"
#include "dataplane.h"
#include "flowsync.h"
#include "loop.h"
#include "metrics.h"
#include "model.h"
#include "strbuf.h"

struct announce;
struct ctl;
struct neigh;
struct sync;

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
	struct sync *sync;      /* the datapath derived from the model (sync.h) */
	struct ctl *ctl;
	struct neigh *neigh;
	struct counters counters; /* totals, rates, unique clients, flow count (counters.h) */
	struct lbd_mon mon;     /* /metrics, control operation counts (metrics.h) */
	struct announce *announce; /* --announce-table (announce.h); NULL when off */
	struct loop_timer announce_timer;
	char announce_err[256]; /* why the last announce_set() failed; "" if it did not */
	struct flowsync *flowsync; /* --sync-key (flowsync.h); NULL when off */
	volatile sig_atomic_t stop;
	int exit_status;        /* set with stop when lbd cannot go on */
};

#endif /* XDPLB_LBD_H */
