/* SPDX-License-Identifier: GPL-2.0 */
/* lookup.h - which backend the forwarder gives a flow, answered by the
 * forwarder's own code: its dry-run entry point `xdplb_lookup`
 * (bpf/xdplb.bpf.c) run with BPF_PROG_TEST_RUN on a packet built here, on
 * the maps the forwarder uses.  Nothing is learned, counted or reported. */
#ifndef XDPLB_LOOKUP_H
#define XDPLB_LOOKUP_H

#include <stddef.h>
#include "xdplb.h"

/* The largest packet lookup_build() writes. */
#define LOOKUP_PKT_MAX 128

/* A flow's first packet, from client:client_port (host order) to the VIP:
 * Ethernet, IPv4 or IPv6 (the VIP's family), TCP SYN or a UDP datagram.
 * Returns its length (at most LOOKUP_PKT_MAX). */
size_t lookup_build(const struct xdplb_vip_key *vip, const union xdplb_addr *client,
		    __u16 client_port, __u8 *buf);

/* Run the lookup program (prog_fd) on a packet of len bytes
 * (<= LOOKUP_PKT_MAX).  Returns 0 with *out filled, or -errno (-EPROTO
 * when the program did not give a verdict). */
int lookup_packet(int prog_fd, const __u8 *pkt, size_t len, struct xdplb_lookup *out);

/* lookup_build() and lookup_packet() together. */
int lookup_flow(int prog_fd, const struct xdplb_vip_key *vip, const union xdplb_addr *client,
		__u16 client_port, struct xdplb_lookup *out);

/* Where the answer came from, as `lbctl flow lookup` says it: "flow table",
 * "flow table (half-open)", "ring"; "none" when no backend was chosen. */
const char *lookup_from_name(__u32 from);

#endif /* XDPLB_LOOKUP_H */
