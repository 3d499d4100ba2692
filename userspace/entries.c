// SPDX-License-Identifier: GPL-2.0
/* entries.c - the datapath's map entries as lbd writes them (entries.h). */
#include <netinet/in.h>
#include <string.h>

#include "entries.h"

void entry_vip(const struct xdplb_vip *v, __u32 ring, __u32 ring_size, __u32 ring_prev,
	       __u32 ring_prev_size, struct xdplb_vip_info *vi)
{
	memset(vi, 0, sizeof(*vi)); /* pads too: entries are compared whole */
	vi->vip_id = v->id;
	vi->flags = v->opts.flags;
	vi->ring = ring;
	vi->ring_size = ring_size;
	vi->ring_prev = ring_prev;
	vi->ring_prev_size = ring_prev_size;
	vi->method = (__u8)v->opts.method;
}

void entry_echo_key(const struct xdplb_vip_key *vip, struct xdplb_vip_key *k)
{
	memset(k, 0, sizeof(*k));
	k->addr = vip->addr;
	k->family = vip->family;
	k->proto = vip->family == XDPLB_AF_INET ? IPPROTO_ICMP : IPPROTO_ICMPV6;
}

void entry_echo(struct xdplb_vip_info *vi)
{
	memset(vi, 0, sizeof(*vi));
	vi->flags = XDPLB_VIP_F_ECHO;
	vi->ring = vi->ring_prev = XDPLB_NO_RING;
}

void entry_backend(const struct xdplb_vip *v, const struct xdplb_backend *b, bool up,
		   const struct neigh_result *nr, int ifindex, struct xdplb_backend_info *be)
{
	memset(be, 0, sizeof(*be));
	be->addr = b->addr;
	be->vip_id = v->id;
	be->family = b->family;
	be->method = (__u8)v->opts.method;
	be->vip_flags = (__u8)v->opts.flags;
	if (!nr)
		return;
	if (up)
		be->flags |= XDPLB_BE_F_ACTIVE;
	memcpy(be->mac, nr->mac, 6);
	memcpy(be->src_mac, nr->src_mac, 6);
	if ((int)nr->ifindex != ifindex) {
		be->flags |= XDPLB_BE_F_REDIRECT;
		be->ifindex = nr->ifindex;
	}
}
