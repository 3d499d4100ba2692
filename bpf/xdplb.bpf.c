// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* xdplb.bpf.c - the XDP forwarder: parse, find the VIP, pick the backend
 * (flow tables, then Maglev ring), rewrite or encapsulate, count, send.
 *
 * Flow table policy (why there are two tables): a flow is first learned in
 * `flows_new` (TCP: from its SYN; UDP: from its first packet) and promoted
 * to `flows` by its next non-SYN packet.  A flood of new flows, spoofed or
 * not, only churns `flows_new`; established flows are evicted only by other
 * established flows.  A TCP non-SYN packet found in neither table belongs to
 * a connection the LB forgot (restart, eviction, another node): it goes to
 * the backend of the VIP's previous ring if that backend is still active,
 * else to the current ring, and is counted as a non-SYN miss.
 */
#include "parse.h"
#include "maps.h"
#include "csum.h"
#include "encap.h"
#include "icmp.h"
#include "xdplb_hash.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

static __always_inline void count(struct xdplb_stats *st, __u32 idx)
{
	barrier_var(idx); /* keep the bound check next to the access */
	if (st && idx < XDPLB_STAT_MAX)
		st->v[idx]++;
}

static __always_inline __u32 flow_hash(const struct pkt *p, __u32 seed)
{
	__u32 ports = (__u32)p->sport | (__u32)p->dport << 16;

	if (p->family == XDPLB_AF_INET)
		return xdplb_hash4(p->src.v4, p->dst.v4, ports, p->proto, seed);
	return xdplb_hash6(p->src.v6, p->dst.v6, ports, p->proto, seed);
}

static __always_inline struct xdplb_vip_info *vip_lookup(const struct pkt *p, __be16 port,
							 __u8 proto)
{
	struct xdplb_vip_key k = {};

	k.addr = p->dst;
	k.port = port;
	k.proto = proto;
	k.family = p->family;
	return bpf_map_lookup_elem(&vips, &k);
}

/* Is the destination one of the VIPs' addresses?  Every VIP address has an
 * echo key, so this is one lookup. */
static __always_inline struct xdplb_vip_info *vip_addr_lookup(const struct pkt *p)
{
	return vip_lookup(p, 0, p->family == XDPLB_AF_INET ? IPPROTO_ICMP : IPPROTO_ICMPV6);
}

static __always_inline struct xdplb_backend_info *backend_active(__u32 id, __u32 vip_id)
{
	struct xdplb_backend_info *be = bpf_map_lookup_elem(&backends, &id);

	if (!be || !(be->flags & XDPLB_BE_F_ACTIVE) || be->vip_id != vip_id)
		return NULL;
	return be;
}

static __always_inline __u32 ring_pick(__u32 slot, __u32 size, __u32 hash)
{
	__u32 idx, *id;
	void *ring;

	if (slot == XDPLB_NO_RING || !size)
		return XDPLB_NO_BACKEND;
	ring = bpf_map_lookup_elem(&rings, &slot);
	if (!ring)
		return XDPLB_NO_BACKEND;
	idx = hash % size;
	id = bpf_map_lookup_elem(ring, &idx);
	return id ? *id : XDPLB_NO_BACKEND;
}

static __always_inline void flow_touch(struct xdplb_flow_val *fv, const struct pkt *p)
{
	fv->packets++;
	fv->bytes += p->frame_len;
	fv->last_ns = bpf_ktime_get_coarse_ns();
}

static __always_inline void flow_learn(void *table, const struct xdplb_flow_key *key, __u32 id,
				       __u32 hash, const struct pkt *p)
{
	struct xdplb_flow_val v = { .backend_id = id, .hash = hash, .packets = 1,
				    .bytes = p->frame_len };

	v.last_ns = bpf_ktime_get_coarse_ns();
	bpf_map_update_elem(table, key, &v, BPF_ANY);
}

static __always_inline void count_new_flow(__u32 vip_id, __u32 be_id)
{
	struct xdplb_counters *c;

	c = bpf_map_lookup_elem(&vip_stats, &vip_id);
	if (c)
		c->new_flows++;
	c = bpf_map_lookup_elem(&backend_stats, &be_id);
	if (c)
		c->new_flows++;
}

/* A packet with no flow entry: the previous ring for forgotten TCP flows
 * (and ICMP errors), else the current ring. */
static __always_inline __u32 ring_choose(const struct pkt *p, const struct xdplb_vip_info *vi,
					 __u32 hash, int established, struct xdplb_stats *st,
					 struct xdplb_backend_info **be)
{
	__u32 id;

	if (established && vi->ring_prev != XDPLB_NO_RING) {
		id = ring_pick(vi->ring_prev, vi->ring_prev_size, hash);
		*be = backend_active(id, vi->vip_id);
		if (*be) {
			count(st, XDPLB_STAT_FLOW_PREV_RING);
			return id;
		}
	}
	id = ring_pick(vi->ring, vi->ring_size, hash);
	*be = backend_active(id, vi->vip_id);
	return id;
}

/* Choose the backend of a packet: established table, half-open table,
 * then the rings.  Learns and promotes flows as the file comment says.
 * *hash is the flow hash: stored with the flow, computed only on a miss. */
static __always_inline struct xdplb_backend_info *
select_backend(const struct pkt *p, const struct xdplb_vip_info *vi, __u32 seed, int icmp_err,
	       struct xdplb_stats *st, __u32 *be_id, __u32 *hash)
{
	struct xdplb_flow_key key = {};
	struct xdplb_backend_info *be;
	struct xdplb_flow_val *fv;
	int syn = p->proto == IPPROTO_TCP && (p->tcp_flags & TCP_FLAG_SYN);
	int nonsyn_tcp = p->proto == IPPROTO_TCP && !syn;

	key.src = p->src;
	key.vip_id = vi->vip_id;
	key.sport = p->sport;
	key.dport = p->dport;
	fv = bpf_map_lookup_elem(&flows, &key);
	if (fv && (be = backend_active(fv->backend_id, vi->vip_id))) {
		count(st, XDPLB_STAT_FLOW_HIT);
		*be_id = fv->backend_id;
		*hash = fv->hash;
		if (!icmp_err)
			flow_touch(fv, p);
		return be;
	}
	fv = bpf_map_lookup_elem(&flows_new, &key);
	if (fv && (be = backend_active(fv->backend_id, vi->vip_id))) {
		count(st, XDPLB_STAT_FLOW_HIT);
		*be_id = fv->backend_id;
		*hash = fv->hash;
		if (icmp_err)
			return be;
		flow_touch(fv, p);
		if (!syn) {
			bpf_map_update_elem(&flows, &key, fv, BPF_ANY);
			count(st, XDPLB_STAT_FLOW_PROMOTED);
		}
		return be;
	}
	*hash = flow_hash(p, seed);
	if (icmp_err)
		return *be_id = ring_choose(p, vi, *hash, 1, st, &be), be;
	count(st, nonsyn_tcp ? XDPLB_STAT_FLOW_MISS_NONSYN : XDPLB_STAT_FLOW_MISS_SYN);
	*be_id = ring_choose(p, vi, *hash, nonsyn_tcp, st, &be);
	if (!be)
		return NULL;
	if (nonsyn_tcp) {
		flow_learn(&flows, &key, *be_id, *hash, p);
	} else {
		flow_learn(&flows_new, &key, *be_id, *hash, p);
		count_new_flow(vi->vip_id, *be_id);
	}
	return be;
}

static __always_inline void count_traffic(__u32 vip_id, __u32 be_id, __u32 len)
{
	struct xdplb_counters *c;

	c = bpf_map_lookup_elem(&vip_stats, &vip_id);
	if (c) {
		c->packets++;
		c->bytes += len;
	}
	c = bpf_map_lookup_elem(&backend_stats, &be_id);
	if (c) {
		c->packets++;
		c->bytes += len;
	}
}

static __always_inline int send_to(const struct xdplb_backend_info *be)
{
	if (be->flags & XDPLB_BE_F_REDIRECT)
		return bpf_redirect_map(&tx_ports, be->ifindex, XDP_DROP);
	return XDP_TX;
}

/* Answer "too big" to the client if the encapsulated packet would not fit.
 * Returns XDP_PASS (= fits, go on) or the action to take. */
static __always_inline int check_mtu(struct xdp_md *ctx, const struct pkt *p, __u32 overhead,
				     const struct xdplb_config *cfg, int icmp_err,
				     struct xdplb_stats *st)
{
	int err;

	if (!cfg->mtu || p->ip_len + overhead <= cfg->mtu)
		return XDP_PASS;
	if (!p->df || icmp_err) {
		count(st, XDPLB_STAT_DROP_TOO_BIG);
		return XDP_DROP;
	}
	if (p->family == XDPLB_AF_INET)
		err = send_frag_needed(ctx, p, cfg->mtu - overhead);
	else
		err = send_pkt_too_big(ctx, p, cfg->mtu - overhead);
	if (err) {
		count(st, err);
		return XDP_DROP;
	}
	count(st, XDPLB_STAT_ICMP_PTB_SENT);
	return XDP_TX;
}

/* Forward a packet of a VIP's flow to its backend. */
static __always_inline int forward(struct xdp_md *ctx, const struct pkt *p,
				   const struct xdplb_vip_info *vi, int icmp_err,
				   struct xdplb_stats *st)
{
	__u32 zero = 0, hash = 0, be_id = 0, overhead;
	struct xdplb_config *cfg = bpf_map_lookup_elem(&config, &zero);
	struct xdplb_backend_info *be;
	int act, err;

	if (!cfg)
		return XDP_ABORTED; /* cannot happen: array key 0 always exists */
	be = select_backend(p, vi, cfg->seed, icmp_err, st, &be_id, &hash);
	if (!be) {
		count(st, XDPLB_STAT_DROP_NO_BACKEND);
		return XDP_DROP;
	}
	if (vi->method == XDPLB_METHOD_L2) {
		void *data = (void *)(long)ctx->data;

		if (data + ETH_HLEN > (void *)(long)ctx->data_end)
			return XDP_ABORTED; /* cannot happen: the frame was parsed */
		set_macs(data, be);
		count_traffic(vi->vip_id, be_id, p->frame_len);
		return send_to(be);
	}
	overhead = encap_overhead(vi->method, be->family);
	act = check_mtu(ctx, p, overhead, cfg, icmp_err, st);
	if (act != XDP_PASS)
		return act;
	err = encapsulate(ctx, p, vi, be, cfg, hash);
	if (err) {
		count(st, err);
		return XDP_DROP;
	}
	count_traffic(vi->vip_id, be_id, p->frame_len);
	return send_to(be);
}

static __always_inline int handle_icmp(struct xdp_md *ctx, struct pkt *p, struct xdplb_stats *st)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	__u8 echo = p->family == XDPLB_AF_INET ? ICMP_ECHO : ICMPV6_ECHO_REQUEST;
	struct xdplb_vip_info *vi;
	struct pkt q = *p;

	if (!vip_addr_lookup(p)) {
		count(st, XDPLB_STAT_PASS_NOT_VIP);
		return XDP_PASS;
	}
	if (p->frag || p->l4_short) {
		count(st, p->frag ? XDPLB_STAT_DROP_FRAGMENT : XDPLB_STAT_DROP_TRUNCATED);
		return XDP_DROP;
	}
	if (p->icmp_type == echo) {
		if (echo_reply(data, end, p))
			return XDP_ABORTED; /* cannot happen: lengths were checked */
		count(st, XDPLB_STAT_ICMP_ECHO);
		return XDP_TX;
	}
	if (!icmp_is_error(p) || icmp_quoted_flow(data, end, p, &q)) {
		count(st, XDPLB_STAT_PASS_ICMP_OTHER);
		return XDP_PASS;
	}
	vi = vip_lookup(&q, q.dport, q.proto);
	if (!vi)
		vi = vip_lookup(&q, 0, q.proto);
	if (!vi || (vi->flags & XDPLB_VIP_F_ECHO)) {
		count(st, XDPLB_STAT_PASS_ICMP_OTHER);
		return XDP_PASS;
	}
	count(st, XDPLB_STAT_ICMP_ERR_FWD);
	return forward(ctx, &q, vi, 1, st);
}

static __always_inline int process(struct xdp_md *ctx, struct xdplb_stats *st)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	struct xdplb_vip_info *vi;
	struct pkt p = {};
	int ret;

	ret = parse_packet(&p, data, end);
	if (ret) {
		count(st, ret);
		return XDP_PASS;
	}
	if (p.proto == IPPROTO_ICMP || p.proto == IPPROTO_ICMPV6)
		return handle_icmp(ctx, &p, st);
	if (p.proto != IPPROTO_TCP && p.proto != IPPROTO_UDP) {
		count(st, XDPLB_STAT_PASS_NOT_VIP);
		return XDP_PASS;
	}
	if (p.frag || p.l4_short) {
		if (!vip_addr_lookup(&p)) {
			count(st, p.frag ? XDPLB_STAT_PASS_NOT_VIP : XDPLB_STAT_PASS_TRUNCATED);
			return XDP_PASS;
		}
		count(st, p.frag ? XDPLB_STAT_DROP_FRAGMENT : XDPLB_STAT_DROP_TRUNCATED);
		return XDP_DROP;
	}
	vi = vip_lookup(&p, p.dport, p.proto);
	if (!vi)
		vi = vip_lookup(&p, 0, p.proto);
	if (!vi) {
		count(st, XDPLB_STAT_PASS_NOT_VIP);
		return XDP_PASS;
	}
	return forward(ctx, &p, vi, 0, st);
}

SEC("xdp")
int xdplb_fwd(struct xdp_md *ctx)
{
	__u32 zero = 0;
	struct xdplb_stats *st = bpf_map_lookup_elem(&stats, &zero);
	int act = process(ctx, st);

	count(st, (__u32)act <= XDP_REDIRECT ? (__u32)act : XDPLB_STAT_ABORTED);
	return act;
}
