/* SPDX-License-Identifier: GPL-2.0 */
/* dataplane.h - load the forwarder and write its maps (the daemon's and the
 * tests' only way to touch the datapath). */
#ifndef XDPLB_DATAPLANE_H
#define XDPLB_DATAPLANE_H

#include <stdbool.h>
#include "xdplb.h"

struct xdplb_bpf;

struct dp {
	struct xdplb_bpf *skel;
	bool adopted;
};

struct dp_opts {
	__u32 flows;         /* established flow table entries; 0 = XDPLB_DEFAULT_FLOWS */
	const char *pin_dir; /* maps pinned (or adopted) here; NULL: not pinned */
};

enum dp_xdp_mode {
	DP_XDP_AUTO = 0, /* native, else generic with a warning */
	DP_XDP_NATIVE,
	DP_XDP_GENERIC,
};

/* Route libbpf's own messages to stderr (verbose) or nowhere. */
void dp_set_libbpf_verbose(bool verbose);

int dp_open(struct dp *dp, const struct dp_opts *opts);
void dp_close(struct dp *dp);
int dp_prog_fd(const struct dp *dp);
/* True if dp_open() found the maps pinned and reused them. */
bool dp_adopted(const struct dp *dp);

/* Attach to ifindex through a bpf_link pinned as PIN_DIR/link, or, if that
 * link exists, swap the program in it atomically.  *mode_used says which
 * mode is in force; warn (if not NULL) gets a one-line explanation when
 * auto fell back to generic.  err gets a message on failure. */
int dp_attach(struct dp *dp, int ifindex, const char *pin_dir, enum dp_xdp_mode mode,
	      enum dp_xdp_mode *mode_used, char *warn, size_t warnlen, char *err, size_t errlen);
/* Remove the link and every pinned map under pin_dir (the interface's own
 * directory).  Returns 0, or -errno with err set. */
int dp_detach(const char *pin_dir, char *err, size_t errlen);

int dp_config_set(struct dp *dp, const struct xdplb_config *cfg);
/* Create an inner array of m backend ids and put it in ring slot `slot`. */
int dp_ring_set(struct dp *dp, __u32 slot, const __u32 *table, __u32 m);
int dp_ring_clear(struct dp *dp, __u32 slot);
/* The backend id in entry idx of the ring in slot (XDPLB_NO_BACKEND if none). */
int dp_ring_get(const struct dp *dp, __u32 slot, __u32 idx, __u32 *id);
int dp_config_get(const struct dp *dp, struct xdplb_config *cfg);
int dp_vip_set(struct dp *dp, const struct xdplb_vip_key *key, const struct xdplb_vip_info *vi);
int dp_vip_get(const struct dp *dp, const struct xdplb_vip_key *key, struct xdplb_vip_info *vi);
int dp_vip_del(struct dp *dp, const struct xdplb_vip_key *key);
int dp_backend_set(struct dp *dp, __u32 id, const struct xdplb_backend_info *be);
int dp_backend_get(const struct dp *dp, __u32 id, struct xdplb_backend_info *be);
/* Let backends behind another interface be reached (XDP redirect). */
int dp_txport_add(struct dp *dp, __u32 ifindex);
/* Call fn for every entry of the VIP map; stops at fn's first non-zero. */
int dp_vips_for_each(const struct dp *dp,
		     int (*fn)(void *ctx, const struct xdplb_vip_key *k,
			       const struct xdplb_vip_info *vi),
		     void *ctx);

/* Per-CPU values summed. */
int dp_vip_counters(const struct dp *dp, __u32 vip_id, struct xdplb_counters *out);
int dp_backend_counters(const struct dp *dp, __u32 be_id, struct xdplb_counters *out);
int dp_stats(const struct dp *dp, struct xdplb_stats *out);

enum dp_counter_map {
	DP_VIP_COUNTERS,     /* vip_stats, indexed by VIP id */
	DP_BACKEND_COUNTERS, /* backend_stats, indexed by backend id */
};
/* Counters of ids [0, n) of one per-CPU array, per-CPU values summed into
 * out[0..n), read with batched lookups (one syscall per DP_COUNTER_BATCH ids,
 * where one lookup per id would cost n syscalls). */
#define DP_COUNTER_BATCH 4096
int dp_counters_range(const struct dp *dp, enum dp_counter_map which, __u32 n,
		      struct xdplb_counters *out);

/* Look a flow up in the established, then the half-open table.
 * Returns 1 and fills *out if found (established: *established = true). */
int dp_flow_lookup(const struct dp *dp, const struct xdplb_flow_key *key,
		   struct xdplb_flow_val *out, bool *established);
/* The flow tables.  All reading of flow entries goes through
 * dp_flows_walk() (dataplane.c) and its callers in stats.c, so a change of
 * the flow key or value layout is adapted in these two places. */
enum dp_flow_table {
	DP_FLOWS_ESTABLISHED = 0, /* `flows` */
	DP_FLOWS_HALF_OPEN,	  /* `flows_new` */
	DP_FLOW_TABLES,
};
typedef int (*dp_flow_fn)(void *ctx, enum dp_flow_table t, const struct xdplb_flow_key *k,
			  const struct xdplb_flow_val *v);
/* A walk over one table that can be resumed later (the cursor is a hash
 * bucket: entries added or removed between steps may be missed or seen
 * twice, so counts taken this way are approximate under churn). */
struct dp_flow_walk {
	enum dp_flow_table table;
	__u32 cursor;
	bool started, done;
};
#define DP_FLOW_BATCH 4096
#define DP_FLOW_MIN_BATCH 256 /* a batch holds whole hash buckets */
__u32 dp_flows_capacity(const struct dp *dp, enum dp_flow_table t);
/* One step: read batches of max entries (DP_FLOW_MIN_BATCH to
 * DP_FLOW_BATCH) until about `max` entries were read or the table ends
 * (w->done).  fn may be NULL
 * (count only); a negative return of fn (-errno) stops the walk and is
 * returned.  Returns the number of entries read in this step, or -errno. */
long dp_flows_walk(const struct dp *dp, struct dp_flow_walk *w, __u32 max, dp_flow_fn fn,
		   void *ctx);
/* Every flow of table t, read in batches (the table is not locked). */
int dp_flows_for_each(const struct dp *dp, enum dp_flow_table t, dp_flow_fn fn, void *ctx);


#endif /* XDPLB_DATAPLANE_H */
