/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* xdplb.h - the one ABI shared by the BPF forwarder and user space.
 *
 * Every map key and value, flag, limit and counter index lives here.  Both
 * sides include this file; there is no second copy of any struct.  All
 * structs are fixed-width with explicit padding, and keys must be zeroed
 * before use (padding takes part in hash lookups).
 *
 * Build-time limits (override with -DNAME=value on both sides):
 *   XDPLB_MAX_VIPS      VIP entries (exact + wildcard + echo keys)
 *   XDPLB_MAX_BACKENDS  (VIP, backend) pairs; ids index per-backend maps
 *   XDPLB_MAX_RINGS     Maglev ring slots (current + previous + staging)
 *   XDPLB_MAX_RING_SIZE largest ring M a VIP may use
 */
#ifndef XDPLB_H
#define XDPLB_H

#include <linux/types.h>

#ifndef XDPLB_MAX_VIPS
#define XDPLB_MAX_VIPS 4096
#endif
#ifndef XDPLB_MAX_BACKENDS
#define XDPLB_MAX_BACKENDS 65536
#endif
#ifndef XDPLB_MAX_RINGS
#define XDPLB_MAX_RINGS (3 * XDPLB_MAX_VIPS)
#endif
#ifndef XDPLB_MAX_RING_SIZE
#define XDPLB_MAX_RING_SIZE 1048573 /* largest prime below 2^20 */
#endif
#define XDPLB_DEFAULT_RING_SIZE 65537
#define XDPLB_DEFAULT_FLOWS (1u << 20)
#define XDPLB_GUE_PORT 6080  /* default outer UDP destination port for gue */
#define XDPLB_OUTER_TTL 64
#define XDPLB_NO_RING 0xffffffffu    /* vip_info.ring_prev when there is none */
#define XDPLB_NO_BACKEND 0xffffffffu /* ring slot of a VIP with no backend in it */

/* Pin names (files under --pin) and map names in the object. */
#define XDPLB_PROG_NAME "xdplb_fwd"
#define XDPLB_LOOKUP_PROG_NAME "xdplb_lookup" /* the dry run of `lbctl flow lookup` */

/* Address families as stored in keys (not AF_* to stay libc-free in BPF). */
enum xdplb_family {
	XDPLB_AF_INET = 4,
	XDPLB_AF_INET6 = 6,
};

/* An IPv4 address is stored in addr[0]; addr[1..3] are zero. */
union xdplb_addr {
	__be32 v4;
	__be32 v6[4];
	__u8 bytes[16];
};

/* vips map key: exact VIP, port-wildcard VIP (port 0), or echo key
 * (proto ICMP/ICMPv6, port 0: the address answers echo requests). */
struct xdplb_vip_key {
	union xdplb_addr addr;
	__be16 port;
	__u8 proto;  /* IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMP, IPPROTO_ICMPV6 */
	__u8 family; /* enum xdplb_family */
};

enum xdplb_method {
	XDPLB_METHOD_L2 = 0,
	XDPLB_METHOD_IPIP = 1,
	XDPLB_METHOD_GUE = 2,
	XDPLB_METHOD_MAX,
};

/* vip_info.flags */
enum {
	XDPLB_VIP_F_HASH_SRC = 1u << 0, /* outer source = src prefix + flow hash */
	XDPLB_VIP_F_ECHO = 1u << 1,     /* echo-responder key, not a service */
};

/* vips map value.  Updated as a whole by the daemon (the map is not
 * preallocated, so a reader sees the old or the new value, never a mix). */
struct xdplb_vip_info {
	__u32 vip_id;    /* index into vip_stats, < XDPLB_MAX_VIPS */
	__u32 flags;     /* XDPLB_VIP_F_* */
	__u32 ring;      /* slot in `rings` of the current Maglev table */
	__u32 ring_prev; /* slot of the previous table, or XDPLB_NO_RING */
	__u32 ring_size; /* M of the current table */
	__u32 ring_prev_size;
	__u8 method;     /* enum xdplb_method */
	__u8 pad[3];
	__u32 pad2;
};

/* backend_info.flags */
enum {
	XDPLB_BE_F_ACTIVE = 1u << 0, /* configured, healthy and resolved */
	XDPLB_BE_F_REDIRECT = 1u << 1, /* egress via `tx_ports`[ifindex], not XDP_TX */
};

/* backends map (array indexed by backend id) value.  A backend id belongs
 * to one (VIP, address) pair.  `mac` is the backend's own MAC for l2 and
 * the next hop's MAC for ipip/gue; `src_mac` is the egress interface's.
 * The VIP's method and flags are copied here so that an established packet
 * needs its flow entry and this entry only, not the VIP. */
struct xdplb_backend_info {
	union xdplb_addr addr;
	__u32 vip_id;  /* the VIP this id serves; flows of other VIPs miss */
	__u32 flags;   /* XDPLB_BE_F_* */
	__u32 ifindex; /* egress interface when XDPLB_BE_F_REDIRECT */
	__u8 mac[6];
	__u8 src_mac[6];
	__u8 family;   /* enum xdplb_family */
	__u8 method;   /* the VIP's enum xdplb_method */
	__u8 vip_flags; /* the VIP's XDPLB_VIP_F_* */
	__u8 pad[5];
};

/* Flow tables (LRU hash, per-CPU LRU lists), one pair per family so that
 * the IPv4 key stays 16 bytes.  Keyed by the whole 5-tuple: an established
 * packet is forwarded after this one lookup, before any VIP lookup. */
struct xdplb_flow4_key {
	__be32 src;
	__be32 dst;
	__be16 sport;
	__be16 dport;
	__u8 proto;
	__u8 pad[3];
};

struct xdplb_flow6_key {
	__be32 src[4];
	__be32 dst[4];
	__be16 sport;
	__be16 dport;
	__u8 proto;
	__u8 pad[3];
};

/* Per-flow counters are updated without atomics: a flow normally stays on
 * one CPU (RSS), so races only cost the odd lost increment.  A hit counts
 * only if backends[backend_id] is active and still serves vip_id. */
struct xdplb_flow_val {
	__u32 backend_id;
	__u32 vip_id;
	__u32 hash; /* the flow hash, kept so established packets skip it */
	__u32 flags; /* XDPLB_FLOW_F_* */
	__u64 packets;
	__u64 bytes;
	__u64 last_ns; /* bpf_ktime_get_coarse_ns() of the last packet */
};

/* The VIP filter: one bit per hash of a VIP address (xdplb_hash.h), set
 * by lbd for every address any VIP uses.  The forwarder looks at it before
 * any flow table or VIP lookup: a clear bit means "not a VIP", and the
 * packet passes to the kernel after one array read (no hash-map lookup).
 * A set bit may be another address's (about 6% of non-VIP addresses with
 * 4096 VIP addresses); those go on to the lookups. */
#define XDPLB_VIP_FILTER_LOG2 16
#define XDPLB_VIP_FILTER_BITS (1u << XDPLB_VIP_FILTER_LOG2)

struct xdplb_vip_filter {
	__u8 bits[XDPLB_VIP_FILTER_BITS / 8];
};

/* Half-open flows (TCP after its SYN, UDP after its first packet): not a
 * hash map but an array of 2^k slots used two-way set-associatively, the
 * pair (hash & mask & ~1, | 1) of the flow hash.  Learning writes the pair's
 * slot that holds the same flow, else an empty one, else the older one: no
 * lock, no allocation, no eviction walk (an LRU insert into a full table
 * cost about 60% of a new flow).  A slot is empty while val.last_ns is 0;
 * it matches a flow when val.hash and the key are the flow's (a slot torn
 * by two CPUs writing at once matches neither flow). */
struct xdplb_half4 {
	struct xdplb_flow4_key key;
	struct xdplb_flow_val val;
};

struct xdplb_half6 {
	struct xdplb_flow6_key key;
	struct xdplb_flow_val val;
};
#define XDPLB_HALF_MIN 4096 /* slots per family, at least (a power of two) */

/* The flow cache: per CPU, in front of the IPv4 established table
 * (`flows4`, a kernel LRU hash whose lookup touches two to three scattered
 * lines: bucket, element, value).  A set of two lines at
 * xdplb_flow_cache_set4() of the key; a line holds one flow's backend and
 * what its packets counted since the line last added them to the flow's
 * `flows4` entry ("flushed": every XDPLB_FLOW_CACHE_FLUSH_NS of traffic, and
 * when the line is taken by another flow).  So `flows4` holds each flow's
 * counts up to its last second on this CPU; lbd adds the lines' counts where
 * it shows one flow (dp_flow_cache_add).  A line is valid while its `gen` is
 * the forwarder's `flow_gen`, which lbd bumps when it overwrites an entry of
 * `flows4` (flow sync), and while its backend is active; the forwarder's own
 * writes of `flows4` (promotion) come after a miss or an inactive line.  A
 * flush also takes the entry's backend if it differs, and puts the entry back
 * if the LRU evicted it (a cached flow's packets do not mark it used there). */
#define XDPLB_FLOW_CACHE_LOG2 14 /* sets per CPU: 2 lines of 64 bytes each (2 MiB) */
#define XDPLB_FLOW_CACHE_SETS (1u << XDPLB_FLOW_CACHE_LOG2)
#define XDPLB_FLOW_CACHE_FLUSH_SHIFT 20 /* flushed_at counts units of 2^20 ns */
#define XDPLB_FLOW_CACHE_FLUSH_UNITS 954 /* about 1 s */

struct xdplb_flow_cache_line {
	struct xdplb_flow4_key key; /* proto 0: empty */
	__u32 backend_id;
	__u32 vip_id;
	__u32 hash;
	__u32 gen;        /* flow_gen when filled */
	__u64 packets;    /* not yet added to flows4 */
	__u64 bytes;
	__u64 last_ns;    /* the last packet on this CPU */
	__u32 flushed_at; /* bpf_ktime_get_coarse_ns() >> XDPLB_FLOW_CACHE_FLUSH_SHIFT */
	__u32 flags;      /* the entry's XDPLB_FLOW_F_* (put back with it) */
};

struct xdplb_flow_cache_set {
	struct xdplb_flow_cache_line way[2];
};

/* xdplb_flow_val.flags */
enum {
	/* learned from a TCP packet that was not a SYN and missed every table:
	 * the backend is the ring's guess, so the flow is never sent to peers */
	XDPLB_FLOW_F_GUESS = 1u << 0,
	XDPLB_FLOW_F_SYNCED = 1u << 1, /* written by lbd from a peer's flow sync */
};

/* Flow sync (userspace/flowsync.c): while the global `sync_flows` is set,
 * the forwarder reports each flow it promotes to the established table
 * (its second packet: spoofed one-packet floods report nothing), unless
 * it is a guess, into the ring buffer `flow_events`.  lbd turns the
 * backend id into the backend's address and sends the flow to its peers. */
struct xdplb_flow_event {
	union xdplb_addr src, dst;
	__be16 sport, dport;
	__u8 proto;
	__u8 family;
	__u8 pad[2];
	__u32 backend_id;
	__u32 vip_id;
};
#define XDPLB_FLOW_EVENTS_BYTES (1u << 20) /* ~18,000 events between two reads */

/* Flow lookup (`lbctl flow lookup`): lbd runs the program `xdplb_lookup`
 * (XDPLB_LOOKUP_PROG_NAME) with BPF_PROG_TEST_RUN on a packet it builds.
 * That program is the forwarder's own code taken as a dry run (nothing
 * learned, promoted, counted or reported, the packet not rewritten) and
 * puts this verdict in the packet's metadata, the first bytes of the test
 * run's output. */
enum xdplb_lookup_from {
	XDPLB_FROM_NONE = 0,	/* no backend: passed or dropped, `why` says */
	XDPLB_FROM_ESTABLISHED, /* the established flow table */
	XDPLB_FROM_HALF_OPEN,	/* the half-open flow table */
	XDPLB_FROM_RING,	/* the VIP's current Maglev ring */
};

struct xdplb_lookup {
	__u32 action;	  /* the XDP action the forwarder takes */
	__u32 why;	  /* XDPLB_STAT_* pass or drop reason (or ICMP outcome); 0: none */
	__u32 flow_event; /* XDPLB_STAT_FLOW_HIT / _MISS_SYN / _MISS_NONSYN; 0: none */
	__u32 from;	  /* enum xdplb_lookup_from */
	__u32 backend_id; /* chosen, or the ring's pick if inactive; else XDPLB_NO_BACKEND */
	__u32 hash;	  /* the flow hash (the flow entry's on a hit); 0 if none */
	__u32 ring;	  /* the ring slot asked, or XDPLB_NO_RING */
	__u32 pad;
};

/* Unique clients per VIP: HyperLogLog sketches of client addresses, per
 * CPU, merged in user space.  2^P registers of 4 bits, two per byte (even
 * register in the low nibble); a register holds the largest rank seen,
 * capped at 15 (saturates near m * 2^15 = 134 million clients).  Two
 * sketches per VIP, written in turns: the datapath writes epoch
 * `hll_epoch` (a global of the program), lbd clears the other one and
 * switches every XDPLB_HLL_EPOCH_S; the estimate merges both, so it counts
 * the clients seen in the last one to two epochs.  A flow adds its client
 * when it is learned, and again with its first packet of each new epoch.
 * Only VIP ids below XDPLB_HLL_VIPS have sketches (memory: 2 sketches *
 * 2 KiB per VIP per CPU). */
#define XDPLB_HLL_P 12
#define XDPLB_HLL_M (1u << XDPLB_HLL_P)
#define XDPLB_HLL_MAX_RANK 15
#define XDPLB_HLL_VIPS 256
#define XDPLB_HLL_EPOCHS 2
#define XDPLB_HLL_EPOCH_S 30
#define XDPLB_HLL_SEED 0x9e3779b9u

/* hll map (per-CPU array) value; key vip_id * XDPLB_HLL_EPOCHS + epoch. */
struct xdplb_hll {
	__u8 reg[XDPLB_HLL_M / 2];
};

/* Global configuration, one entry (key 0) of the `config` array. */
struct xdplb_config {
	__u32 seed;       /* flow hash seed: same on every LB node */
	__u16 mtu;        /* L3 MTU of the egress interface */
	__be16 gue_port;  /* outer UDP destination port for gue */
	__be32 src4;      /* outer IPv4 source */
	__be32 src4_mask; /* host bits of the hashed-source IPv4 prefix */
	union xdplb_addr src6;      /* outer IPv6 source */
	union xdplb_addr src6_mask; /* host bits of the hashed-source IPv6 prefix */
};

/* Per VIP and per backend counters (per-CPU arrays, summed in user space). */
struct xdplb_counters {
	__u64 packets;
	__u64 bytes;
	__u64 new_flows;
};

/* Global counters: one per-CPU array entry of XDPLB_STAT_MAX u64s.
 * Actions first (indexed by XDP action), then pass and drop reasons. */
enum xdplb_stat {
	XDPLB_STAT_ABORTED = 0, /* XDP_ABORTED .. XDP_REDIRECT, by value */
	XDPLB_STAT_DROP,
	XDPLB_STAT_PASS,
	XDPLB_STAT_TX,
	XDPLB_STAT_REDIRECT,
	/* why a packet was passed to the kernel */
	XDPLB_STAT_PASS_NOT_IP,        /* not IPv4/IPv6 (ARP, LLDP, ...) */
	XDPLB_STAT_PASS_NOT_VIP,       /* IP, but no VIP matches */
	XDPLB_STAT_PASS_TRUNCATED,     /* header cut short before a VIP was known */
	XDPLB_STAT_PASS_IP_MALFORMED,  /* bad version/IHL/length */
	XDPLB_STAT_PASS_IPV6_EXT,      /* too many or unknown IPv6 extension headers */
	XDPLB_STAT_PASS_ICMP_OTHER,    /* ICMP to a VIP address we do not handle (NDP, errors
					 * quoting no VIP flow, ...) */
	/* why a packet to a VIP was dropped */
	XDPLB_STAT_DROP_TRUNCATED,     /* L4 header to a VIP cut short */
	XDPLB_STAT_DROP_FRAGMENT,      /* IP fragment to a VIP (see README) */
	XDPLB_STAT_DROP_NO_BACKEND,    /* ring empty or names no active backend */
	XDPLB_STAT_DROP_TOO_BIG,       /* encapsulated packet over MTU, DF clear */
	XDPLB_STAT_DROP_ENCAP,         /* could not grow the packet */
	/* flow table */
	XDPLB_STAT_FLOW_HIT,
	XDPLB_STAT_FLOW_MISS_SYN,      /* SYN (or UDP packet) with no entry: new flow */
	XDPLB_STAT_FLOW_MISS_NONSYN,   /* TCP non-SYN with no entry: a flow was forgotten */
	XDPLB_STAT_FLOW_SYNC_LOST,     /* a promoted flow not reported: flow_events full */
	XDPLB_STAT_FLOW_PROMOTED,      /* half-open flow promoted to the established table */
	/* ICMP */
	XDPLB_STAT_ICMP_ECHO,          /* echo requests answered */
	XDPLB_STAT_ICMP_ERR_FWD,       /* ICMP errors forwarded to a flow's backend */
	XDPLB_STAT_ICMP_PTB_SENT,      /* frag-needed / packet-too-big sent to clients */
	XDPLB_STAT_MAX,
};

struct xdplb_stats {
	__u64 v[XDPLB_STAT_MAX];
};

/* Names of the global counters, for `lbctl stats` and /metrics:
 * static const char *const names[XDPLB_STAT_MAX] = { XDPLB_STAT_NAMES }; */
#define XDPLB_STAT_NAMES                                                        \
	[XDPLB_STAT_ABORTED] = "aborted", [XDPLB_STAT_DROP] = "drop",            \
	[XDPLB_STAT_PASS] = "pass", [XDPLB_STAT_TX] = "tx",                      \
	[XDPLB_STAT_REDIRECT] = "redirect",                                      \
	[XDPLB_STAT_PASS_NOT_IP] = "pass_not_ip",                                \
	[XDPLB_STAT_PASS_NOT_VIP] = "pass_not_vip",                              \
	[XDPLB_STAT_PASS_TRUNCATED] = "pass_truncated",                          \
	[XDPLB_STAT_PASS_IP_MALFORMED] = "pass_ip_malformed",                    \
	[XDPLB_STAT_PASS_IPV6_EXT] = "pass_ipv6_ext",                            \
	[XDPLB_STAT_PASS_ICMP_OTHER] = "pass_icmp_other",                        \
	[XDPLB_STAT_DROP_TRUNCATED] = "drop_truncated",                          \
	[XDPLB_STAT_DROP_FRAGMENT] = "drop_fragment",                            \
	[XDPLB_STAT_DROP_NO_BACKEND] = "drop_no_backend",                        \
	[XDPLB_STAT_DROP_TOO_BIG] = "drop_too_big",                              \
	[XDPLB_STAT_DROP_ENCAP] = "drop_encap",                                  \
	[XDPLB_STAT_FLOW_HIT] = "flow_hit",                                      \
	[XDPLB_STAT_FLOW_MISS_SYN] = "flow_miss_syn",                            \
	[XDPLB_STAT_FLOW_MISS_NONSYN] = "flow_miss_nonsyn",                      \
	[XDPLB_STAT_FLOW_SYNC_LOST] = "flow_sync_lost",                          \
	[XDPLB_STAT_FLOW_PROMOTED] = "flow_promoted",                            \
	[XDPLB_STAT_ICMP_ECHO] = "icmp_echo",                                    \
	[XDPLB_STAT_ICMP_ERR_FWD] = "icmp_err_fwd",                              \
	[XDPLB_STAT_ICMP_PTB_SENT] = "icmp_ptb_sent"

#ifndef __bpf__
_Static_assert(sizeof(union xdplb_addr) == 16, "addr");
_Static_assert(sizeof(struct xdplb_vip_key) == 20, "vip_key");
_Static_assert(sizeof(struct xdplb_vip_info) == 32, "vip_info");
_Static_assert(sizeof(struct xdplb_backend_info) == 48, "backend_info");
_Static_assert(__builtin_offsetof(struct xdplb_backend_info, mac) % 4 == 0 &&
		       __builtin_offsetof(struct xdplb_backend_info, src_mac) ==
			       __builtin_offsetof(struct xdplb_backend_info, mac) + 6,
	       "mac, src_mac: the Ethernet header's 12 bytes, 4-aligned (encap.h set_macs)");
_Static_assert(sizeof(struct xdplb_flow4_key) == 16, "flow4_key");
_Static_assert(sizeof(struct xdplb_flow6_key) == 40, "flow6_key");
_Static_assert(sizeof(struct xdplb_flow_val) == 40, "flow_val");
_Static_assert(sizeof(struct xdplb_half4) == 56 && sizeof(struct xdplb_half6) == 80, "half");
_Static_assert(sizeof(struct xdplb_config) == 48, "config");
_Static_assert(sizeof(struct xdplb_flow_cache_line) == 64, "flow_cache_line");
_Static_assert(sizeof(struct xdplb_flow_event) == 48, "flow_event");
_Static_assert(sizeof(struct xdplb_vip_filter) == 8192, "vip_filter");
_Static_assert(sizeof(struct xdplb_counters) == 24, "counters");
_Static_assert(sizeof(struct xdplb_hll) == 2048, "hll");
_Static_assert(sizeof(struct xdplb_lookup) <= 32, "lookup: XDP metadata holds 32 bytes at most");
#endif

#endif /* XDPLB_H */
