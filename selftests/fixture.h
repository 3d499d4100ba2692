/* SPDX-License-Identifier: GPL-2.0 */
/* fixture.h - a loaded forwarder with test VIPs, backends and rings. */
#ifndef SELFTESTS_FIXTURE_H
#define SELFTESTS_FIXTURE_H

#include <linux/bpf.h>
#include "cmdparse.h"
#include "dataplane.h"
#include "hll.h"
#include "pkt.h"

#define FIX_SEED 0x5eed1234u
#define FIX_MTU 1500
#define FIX_SRC4 "10.0.0.2"
#define FIX_SRC6 "fd00::2"
#define FIX_RING_M 7 /* small prime: tests can say which slot maps where */

int fix_open(struct dp *dp);
/* The same with --flows `flows` (half-open slots: flows / 4, at least 4096). */
int fix_open_flows(struct dp *dp, __u32 flows);
/* A VIP with id `vip_id`, ring slot 2*vip_id, and its address's echo key. */
int fix_vip(struct dp *dp, int family, const char *addr, __u16 port, __u8 proto, __u8 method,
	    __u32 vip_id, __u32 flags);
int fix_backend(struct dp *dp, __u32 id, __u32 vip_id, int family, const char *addr,
		const __u8 *mac, bool active);
/* Fill slot with a ring of FIX_RING_M entries: ids[i % n]. */
int fix_ring(struct dp *dp, __u32 slot, const __u32 *ids, int n);
/* Point a VIP at rings (cur, prev). */
int fix_vip_rings(struct dp *dp, int family, const char *addr, __u16 port, __u8 proto,
		  __u32 cur, __u32 prev);
int fix_run(struct dp *dp, const __u8 *in, size_t len, __u8 *out, size_t *out_len);
/* The backend index the current FIX ring names for this 5-tuple (ring of
 * ids[i % n] as fix_ring fills it). */
int fix_ring_index(const struct pkt_spec *s, int n);
__u32 fix_hash(const struct pkt_spec *s);
int fix_vip_key(int family, const char *addr, __u16 port, __u8 proto, struct xdplb_vip_key *k);

/* Counters read as lbd reads them (counters_read) for a model of one VIP,
 * id vip_id, whose backends have ids ids[0..n) (n <= FIX_MAX_BACKENDS):
 * the VIP's totals into *vip, and backend be_id's into *be unless be is
 * NULL (zero if be_id is past every id of ids). */
#define FIX_MAX_BACKENDS 16
int fix_counters(struct dp *dp, __u32 vip_id, const __u32 *ids, __u32 n,
		 struct xdplb_counters *vip, __u32 be_id, struct xdplb_counters *be);

/* Everything a packet may change in the datapath: the global counters,
 * the counters of backend ids below FIX_SNAP_BE, the flow tables (entries,
 * and sums of their packets, bytes and last times), the unique-client
 * sketches of VIP ids below FIX_SNAP_VIPS. */
#define FIX_SNAP_BE   64
#define FIX_SNAP_VIPS 8
struct fix_snap {
	struct xdplb_stats st;
	struct xdplb_counters be[FIX_SNAP_BE];
	__u64 flows[DP_FLOW_TABLES][4];
	struct hll_regs hll[FIX_SNAP_VIPS];
};
int fix_snap_take(struct dp *dp, struct fix_snap *s);
/* The first part in which a and b differ ("global counters", ...), or "". */
const char *fix_snap_diff(const struct fix_snap *a, const struct fix_snap *b);

/* Parse one control command line and apply it to model `m` (no lbd, no
 * datapath); -1 with the error printed to stderr. */
int fix_apply(struct xdplb_model *m, const char *line);

#endif
