/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* xdplb_decap.h - the ABI of lbdecap, the backends' TC decapsulator, shared
 * by bpf/lbdecap.bpf.c, tools/lbdecap.c and the tests.
 *
 * What it strips (exactly what bpf/encap.h emits, see README "gue"):
 *   ipip  outer IPv4 (protocol 4 or 41) or IPv6 (next header 4 or 41),
 *         no IPv4 options, no IPv6 extension headers
 *   gue   the same outer header with protocol UDP to the configured port,
 *         then directly the inner IP header: GUE variant 1 ("direct IP
 *         encapsulation"), whose first bits are those of the inner IP
 *         version; variant 0 (a GUE header) is not emitted and is passed
 *
 * Build-time limits (override with -DNAME=value on both sides):
 *   LBDECAP_MAX_VIPS    VIP addresses a host decapsulates for
 *   LBDECAP_MAX_IFACES  interfaces one pin directory remembers
 */
#ifndef XDPLB_DECAP_H
#define XDPLB_DECAP_H

#include <linux/types.h>
#include "xdplb.h"

#ifndef LBDECAP_MAX_VIPS
#define LBDECAP_MAX_VIPS 1024
#endif
#ifndef LBDECAP_MAX_IFACES
#define LBDECAP_MAX_IFACES 256
#endif

/* The tc filter lbdecap owns on an interface's clsact ingress hook. */
#define LBDECAP_TC_HANDLE 0x1dec
#define LBDECAP_TC_PRIO 0xdec

/* vips map key (the value is a __u32, unused, zero).  IPv4 in addr.v4 with
 * the rest zero, like every xdplb address.  Zero the key before use. */
struct lbdecap_vip_key {
	union xdplb_addr addr;
	__u8 family; /* enum xdplb_family */
	__u8 pad[3];
};

/* config map, one entry (key 0). */
struct lbdecap_config {
	__be16 gue_port; /* outer UDP destination port of gue */
	__u16 pad;
	__u32 pad2;
};

/* ifaces map: where this pin directory's program is attached.  Written by
 * the tool only; the datapath never reads it. */
struct lbdecap_iface_key {
	__u64 netns; /* network namespace cookie (SO_NETNS_COOKIE), 0 if unknown */
	__u32 ifindex;
	__u32 pad;
};

struct lbdecap_iface_val {
	char name[16]; /* IFNAMSIZ */
};

/* Per-CPU counters, one per outcome: every packet the program sees is
 * counted exactly once. */
enum lbdecap_stat {
	/* decapsulated and handed to the stack: method, outer in inner */
	LBDECAP_STAT_IPIP_4IN4 = 0,
	LBDECAP_STAT_IPIP_6IN6,
	LBDECAP_STAT_IPIP_4IN6,
	LBDECAP_STAT_IPIP_6IN4,
	LBDECAP_STAT_GUE_4IN4,
	LBDECAP_STAT_GUE_6IN6,
	LBDECAP_STAT_GUE_4IN6,
	LBDECAP_STAT_GUE_6IN4,
	/* passed unchanged */
	LBDECAP_STAT_PASS_NOT_IP,      /* neither IPv4 nor IPv6 */
	LBDECAP_STAT_PASS_NOT_HOST,    /* frame not to this host's MAC (promiscuous, broadcast) */
	LBDECAP_STAT_PASS_NOT_ENCAP,   /* IP, but neither ipip nor UDP to the gue port */
	LBDECAP_STAT_PASS_NOT_VIP,     /* encapsulated, inner destination is no VIP */
	LBDECAP_STAT_PASS_TRUNCATED,   /* cut short before the inner destination */
	LBDECAP_STAT_PASS_MALFORMED,   /* outer header invalid (version, length, checksum) */
	LBDECAP_STAT_PASS_FRAGMENT,    /* outer IPv4 fragment: the stack reassembles it */
	LBDECAP_STAT_PASS_UNSUPPORTED, /* IPv4 options, IPv6 extension headers, GUE variant 0 */
	/* dropped: encapsulated for a VIP, but not deliverable as it is */
	LBDECAP_STAT_DROP_MALFORMED,   /* inner header or lengths inconsistent */
	LBDECAP_STAT_DROP_GSO_MIXED,   /* GRO aggregate of 4in6/6in4: the 6.1 helpers would
					* corrupt its segment size */
	LBDECAP_STAT_DROP_ADJUST,      /* a helper failed while removing the outer header */
	LBDECAP_STAT_MAX,
};

struct lbdecap_stats {
	__u64 v[LBDECAP_STAT_MAX];
};

#define LBDECAP_STAT_NAMES                                                      \
	[LBDECAP_STAT_IPIP_4IN4] = "decap_ipip_4in4",                            \
	[LBDECAP_STAT_IPIP_6IN6] = "decap_ipip_6in6",                            \
	[LBDECAP_STAT_IPIP_4IN6] = "decap_ipip_4in6",                            \
	[LBDECAP_STAT_IPIP_6IN4] = "decap_ipip_6in4",                            \
	[LBDECAP_STAT_GUE_4IN4] = "decap_gue_4in4",                              \
	[LBDECAP_STAT_GUE_6IN6] = "decap_gue_6in6",                              \
	[LBDECAP_STAT_GUE_4IN6] = "decap_gue_4in6",                              \
	[LBDECAP_STAT_GUE_6IN4] = "decap_gue_6in4",                              \
	[LBDECAP_STAT_PASS_NOT_IP] = "pass_not_ip",                              \
	[LBDECAP_STAT_PASS_NOT_HOST] = "pass_not_host",                          \
	[LBDECAP_STAT_PASS_NOT_ENCAP] = "pass_not_encap",                        \
	[LBDECAP_STAT_PASS_NOT_VIP] = "pass_not_vip",                            \
	[LBDECAP_STAT_PASS_TRUNCATED] = "pass_truncated",                        \
	[LBDECAP_STAT_PASS_MALFORMED] = "pass_malformed",                        \
	[LBDECAP_STAT_PASS_FRAGMENT] = "pass_fragment",                          \
	[LBDECAP_STAT_PASS_UNSUPPORTED] = "pass_unsupported",                    \
	[LBDECAP_STAT_DROP_MALFORMED] = "drop_malformed",                        \
	[LBDECAP_STAT_DROP_GSO_MIXED] = "drop_gso_mixed",                        \
	[LBDECAP_STAT_DROP_ADJUST] = "drop_adjust"

#ifndef __bpf__
_Static_assert(sizeof(struct lbdecap_vip_key) == 20, "lbdecap_vip_key");
_Static_assert(sizeof(struct lbdecap_config) == 8, "lbdecap_config");
_Static_assert(sizeof(struct lbdecap_iface_key) == 16, "lbdecap_iface_key");
_Static_assert(sizeof(struct lbdecap_iface_val) == 16, "lbdecap_iface_val");
#endif

#endif /* XDPLB_DECAP_H */
