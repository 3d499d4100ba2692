/* SPDX-License-Identifier: GPL-2.0 */
/* dataplane.h - load the forwarder and write its maps (the daemon's and the
 * tests' only way to touch the datapath). */
#ifndef XDPLB_DATAPLANE_H
#define XDPLB_DATAPLANE_H

#include <stdbool.h>
#include "xdplb.h"

struct xdplb_bpf;

struct dp_ring;

struct dp {
	struct xdplb_bpf *skel;
	bool adopted;
	unsigned int pins_created; /* maps not pinned yet (all of them on a first start) */
	struct dp_ring *rings; /* [XDPLB_MAX_RINGS], the rings lbd created (dp_rings.c) */
	bool rings_plain;      /* the outer map takes only non-mmapable arrays */
	__u64 ring_quiet_ms;   /* DP_RING_QUIET_MS; tests lower it */
	struct xdplb_vip_filter filter; /* what the vip_filter map holds */
};

/* A freed ring slot's array is rewritten in place only after this long. */
#define DP_RING_QUIET_MS 1000

struct dp_opts {
	__u32 flows;         /* established flow table entries; 0 = XDPLB_DEFAULT_FLOWS */
	const char *pin_dir; /* maps pinned (or adopted) here; NULL: not pinned */
};

enum dp_xdp_mode {
	DP_XDP_AUTO = 0, /* native, else generic with a warning */
	DP_XDP_NATIVE,
	DP_XDP_GENERIC,
};

/* ---- dataplane.c: load, attach, detach; the forwarder's globals ---- */

/* Route libbpf's own messages to stderr (verbose) or nowhere. */
void dp_set_libbpf_verbose(bool verbose);

int dp_open(struct dp *dp, const struct dp_opts *opts);
void dp_close(struct dp *dp);
int dp_prog_fd(const struct dp *dp);
/* The forwarder's dry run for flow lookups (lookup.h), on the same maps. */
int dp_lookup_prog_fd(const struct dp *dp);
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

/* ---- dp_rings.c: the Maglev rings ---- */

/* Ring slots.  dp_ring_set puts a table of m backend ids in slot `slot`:
 * into the slot's own array in place when dp_ring_reusable says so (a
 * slot freed by dp_ring_clear at least DP_RING_QUIET_MS ago, same m),
 * else into a new array swapped in.  dp_ring_clear frees a slot no VIP
 * entry names any more; the array lbd created stays for reuse. */
int dp_ring_set(struct dp *dp, __u32 slot, const __u32 *table, __u32 m);
int dp_ring_clear(struct dp *dp, __u32 slot);
bool dp_ring_reusable(const struct dp *dp, __u32 slot, __u32 m);
/* The backend id in entry idx of the ring in slot (XDPLB_NO_BACKEND if none). */
int dp_ring_get(const struct dp *dp, __u32 slot, __u32 idx, __u32 *id);
/* ---- dp_maps.c: configuration, VIPs, VIP filter, backends, redirects ---- */

int dp_config_set(struct dp *dp, const struct xdplb_config *cfg);
int dp_config_get(const struct dp *dp, struct xdplb_config *cfg);
int dp_vip_set(struct dp *dp, const struct xdplb_vip_key *key, const struct xdplb_vip_info *vi);
int dp_vip_get(const struct dp *dp, const struct xdplb_vip_key *key, struct xdplb_vip_info *vi);
int dp_vip_del(struct dp *dp, const struct xdplb_vip_key *key);
/* dp_vip_set() sets its address's bit in the VIP filter (xdplb.h); this
 * rewrites the filter for exactly these addresses (any key of each: only
 * addr and family count), so removed addresses lose theirs.  No write when
 * nothing changed. */
int dp_vip_filter_sync(struct dp *dp, const struct xdplb_vip_key *addrs, __u32 n);
int dp_backend_set(struct dp *dp, __u32 id, const struct xdplb_backend_info *be);
int dp_backend_get(const struct dp *dp, __u32 id, struct xdplb_backend_info *be);
/* Let backends behind another interface be reached (XDP redirect). */
int dp_txport_add(struct dp *dp, __u32 ifindex);
/* Call fn for every entry of the VIP map; stops at fn's first non-zero. */
int dp_vips_for_each(const struct dp *dp,
		     int (*fn)(void *ctx, const struct xdplb_vip_key *k,
			       const struct xdplb_vip_info *vi),
		     void *ctx);

/* The per-CPU maps counters.c reads and writes (counters.h), by what they
 * hold. */
enum dp_counter_map {
	DP_COUNTER_GLOBAL,   /* `stats`: the global counters (XDPLB_STAT_*), key 0 */
	DP_COUNTER_BACKENDS, /* `backend_stats`: by backend id */
	/* by VIP id: what the VIP's removed backends counted; pinned as
	 * `vip_stats`, the name an upgrade adopts it by */
	DP_COUNTER_RETIRED,
	DP_COUNTER_SKETCHES, /* `hll`: unique-client sketches (xdplb.h) */
};
int dp_counter_map_fd(const struct dp *dp, enum dp_counter_map which);
/* dataplane.c: the forwarder's unique-client epoch (its globals, not pinned). */
__u32 dp_hll_epoch(const struct dp *dp);
/* Switch to epoch, started at start_ns (CLOCK_MONOTONIC_COARSE). */
void dp_hll_epoch_set(struct dp *dp, __u32 epoch, __u64 start_ns);

/* Flow sync: make the forwarder report promoted flows in flow_events
 * (xdplb.h), or stop it.  The setting is the program's (not pinned): lbd
 * sets it again after every start. */
int dp_sync_flows_set(struct dp *dp, bool on);
/* The flow_events ring buffer, for ring_buffer__new(). */
int dp_flow_events_fd(const struct dp *dp);

/* ---- dp_flows.c: the flow tables ---- */

/* The flow tables.  All reading of flow entries goes through
 * dp_flows_walk() (dp_flows.c), which gives its callers (counters.c,
 * flowsync.c) struct dp_flow, so a change of the flow key or value layout
 * is adapted there. */
enum dp_flow_table {
	DP_FLOWS_ESTABLISHED = 0, /* `flows4` and `flows6` */
	DP_FLOWS_HALF_OPEN,	  /* `halfopen4` and `halfopen6` (arrays: filled slots) */
	DP_FLOW_TABLES,
};
struct dp_flow;
typedef int (*dp_flow_fn)(void *ctx, enum dp_flow_table t, const struct dp_flow *f);
/* A walk over one table that can be resumed later (the cursor is a hash
 * bucket: entries added or removed between steps may be missed or seen
 * twice, so counts taken this way are approximate under churn). */
struct dp_flow_walk {
	enum dp_flow_table table;
	int family; /* 0: the IPv4 map, then 1: the IPv6 map */
	__u32 cursor;
	bool started, done;
};
#define DP_FLOW_BATCH 4096
#define DP_FLOW_MIN_BATCH 256 /* a batch holds whole hash buckets */
#define DP_HALF_SLOTS_PER_ENTRY 4 /* half-open array slots read per unit of `max` */
__u32 dp_flows_capacity(const struct dp *dp, enum dp_flow_table t);
/* One step: read batches of max entries (DP_FLOW_MIN_BATCH to
 * DP_FLOW_BATCH) until about `max` entries were read or the table ends
 * (w->done); in the half-open table (an array, xdplb.h) 16 slots count as
 * one entry, and empty slots are skipped.  fn may be NULL
 * (count only); a negative return of fn (-errno) stops the walk and is
 * returned.  Returns the number of entries read in this step, or -errno. */
long dp_flows_walk(const struct dp *dp, struct dp_flow_walk *w, __u32 max, dp_flow_fn fn,
		   void *ctx);
/* Every flow of table t, read in batches (the table is not locked). */
int dp_flows_for_each(const struct dp *dp, enum dp_flow_table t, dp_flow_fn fn, void *ctx);

/* A flow as user space sees it: the 5-tuple of either family's table. */
struct dp_flow {
	__u8 family; /* enum xdplb_family */
	__u8 proto;
	bool established; /* from the established table, else the half-open one */
	union xdplb_addr src, dst;
	__be16 sport, dport;
	struct xdplb_flow_val v;
};

/* Look a flow (family, proto, addresses, ports of *f) up in the established,
 * then the half-open table.  Returns 1 and fills f->v, f->established if found. */
int dp_flow_lookup(const struct dp *dp, struct dp_flow *f);
/* Write f (a flow learned from a peer) into the established table of its
 * family; overwriting an entry makes the flow cache's lines stale (xdplb.h). */
int dp_flow_put(struct dp *dp, const struct dp_flow *f);

/* The flow cache (xdplb.h) holds what up to the last second of an IPv4
 * flow's packets counted on each CPU, not yet in its established entry.
 * Read it from every CPU at once, then add it to the flows shown (an
 * established IPv4 flow's packets, bytes and last time).  The two reads are
 * not one snapshot: a line that flushes between them is counted twice, so
 * a flow sending meanwhile may show up to one flush interval's counts too
 * many (none when it is quiet). */
struct dp_cache_counts;
#define DP_CACHE_STEP 256 /* sets read per step (128 bytes x CPUs each) */
struct dp_cache_counts *dp_cache_counts_new(void);
/* Read the next DP_CACHE_STEP sets: 1 while there are more, 0 when all are
 * read, -errno. */
int dp_cache_counts_step(const struct dp *dp, struct dp_cache_counts *c);
/* All steps at once: 0 and *out, or -errno. */
int dp_cache_counts_read(const struct dp *dp, struct dp_cache_counts **out);
void dp_cache_counts_add(const struct dp_cache_counts *c, struct dp_flow *f);
void dp_cache_counts_free(struct dp_cache_counts *c);

#endif /* XDPLB_DATAPLANE_H */
