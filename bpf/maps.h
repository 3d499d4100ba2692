/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* maps.h - the forwarder's maps; keys and values come from headers/xdplb.h. */
#ifndef XDPLB_MAPS_H
#define XDPLB_MAPS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "xdplb.h"

/* VIPs, wildcard VIPs and per-address echo keys.  Not preallocated, so an
 * update swaps the whole value under RCU: a ring switch is atomic. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 2 * XDPLB_MAX_VIPS); /* a VIP and its address's echo key */
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct xdplb_vip_key);
	__type(value, struct xdplb_vip_info);
} vips SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, XDPLB_MAX_BACKENDS);
	__type(key, __u32);
	__type(value, struct xdplb_backend_info);
} backends SEC(".maps");

/* Maglev rings: one inner array of backend ids per slot, sized per VIP
 * (BPF_F_INNER_MAP lets inner arrays differ in size); mmapable, so lbd
 * writes a table through a mapping (userspace/dataplane.c). */
struct ring_inner {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_INNER_MAP | BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, __u32);
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, XDPLB_MAX_RINGS);
	__type(key, __u32);
	__array(values, struct ring_inner);
} rings SEC(".maps");

/* Established flows, per family.  Sizes set by the daemon (--flows) before load. */
#define FLOW_TABLE(name, size, key_type)                    \
	struct {                                            \
		__uint(type, BPF_MAP_TYPE_LRU_HASH);        \
		__uint(max_entries, size);                  \
		__uint(map_flags, BPF_F_NO_COMMON_LRU);     \
		__type(key, key_type);                      \
		__type(value, struct xdplb_flow_val);       \
	} name SEC(".maps")

FLOW_TABLE(flows4, XDPLB_DEFAULT_FLOWS, struct xdplb_flow4_key);
FLOW_TABLE(flows6, XDPLB_DEFAULT_FLOWS, struct xdplb_flow6_key);

/* The flow cache in front of flows4 (xdplb.h): per CPU, so a line is only
 * ever written by one CPU's forwarder.  Pinned like the tables: a restarted
 * lbd's forwarder goes on with its lines' unflushed counts. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, XDPLB_FLOW_CACHE_SETS);
	__type(key, __u32);
	__type(value, struct xdplb_flow_cache_set);
} flow_cache SEC(".maps");

/* Half-open flows (xdplb.h): TCP after its SYN, UDP after its first
 * packet.  A flood of new flows churns these tables only; see README "Flow
 * table policy".  Sizes (a power of two) set by the daemon before load,
 * with the mask in `half_mask`. */
#define HALF_OPEN_TABLE(name, slot_type)                    \
	struct {                                            \
		__uint(type, BPF_MAP_TYPE_ARRAY);           \
		__uint(max_entries, XDPLB_DEFAULT_FLOWS / 4); \
		__type(key, __u32);                         \
		__type(value, slot_type);                   \
	} name SEC(".maps")

HALF_OPEN_TABLE(halfopen4, struct xdplb_half4);
HALF_OPEN_TABLE(halfopen6, struct xdplb_half6);

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct xdplb_config);
} config SEC(".maps");

/* By VIP id: what the VIP's removed backends counted, kept there by lbd
 * (user space calls it the retired counts, counters.h); the forwarder
 * counts per backend only.  The name stays: an upgrade adopts pinned maps
 * by name. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, XDPLB_MAX_VIPS);
	__type(key, __u32);
	__type(value, struct xdplb_counters);
} vip_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, XDPLB_MAX_BACKENDS);
	__type(key, __u32);
	__type(value, struct xdplb_counters);
} backend_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct xdplb_stats);
} stats SEC(".maps");

/* Unique-client sketches, two per VIP id below XDPLB_HLL_VIPS (xdplb.h). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, XDPLB_HLL_VIPS * XDPLB_HLL_EPOCHS);
	__type(key, __u32);
	__type(value, struct xdplb_hll);
} hll SEC(".maps");

/* Which destination addresses can be a VIP's (xdplb.h); key 0. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct xdplb_vip_filter);
} vip_filter SEC(".maps");

/* Flows promoted to the established table, for lbd's flow sync (xdplb.h).
 * Written with BPF_RB_NO_WAKEUP: lbd reads it on a timer, so a packet never
 * pays for waking it. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, XDPLB_FLOW_EVENTS_BYTES);
} flow_events SEC(".maps");

/* Egress interfaces for backends behind another NIC (key: ifindex).  Not
 * pinned: the kernel adds BPF_F_RDONLY_PROG to devmaps, so libbpf would
 * never find a pinned one compatible; lbd refills it on every start. */
struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP_HASH);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u32);
} tx_ports SEC(".maps");

#endif /* XDPLB_MAPS_H */
