// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* xdplb.bpf.c - the XDP forwarder: parse, find the VIP, pick the backend
 * (flow tables, then Maglev ring), rewrite or encapsulate, count, send.
 *
 * Flow table policy (why there are two tables): a flow is first learned in
 * `flows_new` (TCP: from its SYN, or from a non-SYN packet of no known
 * flow; UDP: from its first packet) and promoted to `flows` by its next
 * non-SYN packet, which also deletes the half-open copy: one entry per flow
 * (listed once), and the copy, marked referenced by the lookup that
 * promoted it, would otherwise outlive real half-open flows in the LRU
 * (measured: a million flows promoted left a million copies, and the next
 * million new flows were evicted before their second packet).  A flood of
 * new flows, spoofed SYNs or spoofed ACKs, one packet per source, only
 * churns `flows_new`; established flows are evicted only by flows that sent
 * two packets.  A TCP non-SYN packet found in neither table belongs to a
 * connection this node does not know (restart, eviction, another node's):
 * it goes to the backend of the VIP's current ring, is counted as a
 * non-SYN miss and learned as a guess (XDPLB_FLOW_F_GUESS).  The current
 * ring, not the previous one: that is right for every flow established
 * since the last ring change, and the previous ring would be wrong for all
 * of them; flows older than a change that moved their slot are what flow
 * sync between nodes is for (userspace/flowsync.c: a node that receives
 * another's flows knows them before ECMP moves them).
 *
 * Flow sync: while lbd sets `sync_flows`, every promotion that is not a
 * guess is reported in `flow_events` for lbd to send to its peers.
 */
#include "parse.h"
#include "maps.h"
#include "csum.h"
#include "encap.h"
#include "icmp.h"
#include "xdplb_hash.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Unique-client sketch epoch, set by lbd (see xdplb.h): the sketch being
 * written, and when it started (bpf_ktime_get_coarse_ns clock). */
volatile __u32 hll_epoch;
volatile __u64 hll_epoch_ns;
/* Set by lbd when it has flow sync peers: report promoted flows. */
volatile __u32 sync_flows;

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

/* A flow's key in the table of its family. */
union flow_key {
	struct xdplb_flow4_key v4;
	struct xdplb_flow6_key v6;
};

/* A flow's key, written as whole 64-bit words straight from the packet.
 * The kernel hashes a key with 32-bit loads and compares it with 64-bit
 * ones; a load spanning several narrower stores cannot be forwarded from
 * the store buffer and stalls (measured: a field-by-field key cost the
 * lookup ~10 ns more).  Returns 0, or -1 if the headers are not there
 * (cannot happen after parse_packet). */
static __always_inline int flow_key_make(void *data, void *end, const struct pkt *p,
					 union flow_key *k)
{
	__u32 l3 = p->l3_off & 0x1f, l4 = p->l4_off & 0xffff;
	__u64 *w = (__u64 *)k;
	__u64 *a;
	__u32 ports;

	if (data + l4 + sizeof(ports) > end)
		return -1;
	ports = *(__u32 *)(data + l4);
	if (p->family == XDPLB_AF_INET) {
		a = data + l3 + offsetof(struct iphdr, saddr);
		if ((void *)(a + 1) > end)
			return -1;
		w[0] = a[0]; /* saddr, daddr */
		w[1] = flow_key_tail(ports, p->proto);
		return 0;
	}
	a = data + l3 + offsetof(struct ipv6hdr, saddr);
	if ((void *)(a + 4) > end)
		return -1;
	w[0] = a[0];
	w[1] = a[1];
	w[2] = a[2];
	w[3] = a[3];
	w[4] = flow_key_tail(ports, p->proto);
	return 0;
}

/* The same key from a parsed (possibly quoted, reversed) flow: ICMP errors. */
static __always_inline void flow_key_of(const struct pkt *p, union flow_key *k)
{
	__u64 *w = (__u64 *)k;
	__u32 ports;

#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	ports = (__u32)p->sport | (__u32)p->dport << 16;
#else
	ports = (__u32)p->sport << 16 | (__u32)p->dport;
#endif
	if (p->family == XDPLB_AF_INET) {
		w[0] = word64(p->src.v4, p->dst.v4);
		w[1] = flow_key_tail(ports, p->proto);
		return;
	}
	w[0] = word64(p->src.v6[0], p->src.v6[1]);
	w[1] = word64(p->src.v6[2], p->src.v6[3]);
	w[2] = word64(p->dst.v6[0], p->dst.v6[1]);
	w[3] = word64(p->dst.v6[2], p->dst.v6[3]);
	w[4] = flow_key_tail(ports, p->proto);
}

/* One call site per map: the verifier inlines a lookup only where the map
 * is known, so the tables are never chosen through a pointer. */
static __always_inline struct xdplb_flow_val *flow_get(int family, const union flow_key *k,
						       int established)
{
	if (family == XDPLB_AF_INET)
		return bpf_map_lookup_elem(established ? (void *)&flows4 : (void *)&flows4_new,
					   &k->v4);
	return bpf_map_lookup_elem(established ? (void *)&flows6 : (void *)&flows6_new, &k->v6);
}

static __always_inline void flow_put(int family, const union flow_key *k, int established,
				     const struct xdplb_flow_val *v)
{
	if (family == XDPLB_AF_INET)
		bpf_map_update_elem(established ? (void *)&flows4 : (void *)&flows4_new, &k->v4, v,
				    BPF_ANY);
	else
		bpf_map_update_elem(established ? (void *)&flows6 : (void *)&flows6_new, &k->v6, v,
				    BPF_ANY);
}

static __always_inline void flow_forget_half_open(int family, const union flow_key *k)
{
	if (family == XDPLB_AF_INET)
		bpf_map_delete_elem(&flows4_new, &k->v4);
	else
		bpf_map_delete_elem(&flows6_new, &k->v6);
}

static __always_inline __u32 clz32(__u32 x)
{
	__u32 n = 0;

	if (!x)
		return 32;
	if (!(x & 0xffff0000u)) {
		n += 16;
		x <<= 16;
	}
	if (!(x & 0xff000000u)) {
		n += 8;
		x <<= 8;
	}
	if (!(x & 0xf0000000u)) {
		n += 4;
		x <<= 4;
	}
	if (!(x & 0xc0000000u)) {
		n += 2;
		x <<= 2;
	}
	if (!(x & 0x80000000u))
		n += 1;
	return n;
}

/* Add the packet's client to its VIP's unique-client sketch. */
static __always_inline void hll_add_addr(__u32 vip_id, const union xdplb_addr *a, __u8 family)
{
	__u32 key = vip_id * XDPLB_HLL_EPOCHS + (hll_epoch & 1), h, idx, rank;
	struct xdplb_hll *s;
	__u8 *b, old;

	if (vip_id >= XDPLB_HLL_VIPS)
		return;
	s = bpf_map_lookup_elem(&hll, &key);
	if (!s)
		return;
	h = xdplb_hash_client(a, family);
	idx = h >> (32 - XDPLB_HLL_P);
	rank = clz32(h << XDPLB_HLL_P) + 1;
	if (rank > XDPLB_HLL_MAX_RANK)
		rank = XDPLB_HLL_MAX_RANK;
	b = &s->reg[(idx >> 1) & (XDPLB_HLL_M / 2 - 1)];
	old = idx & 1 ? *b >> 4 : *b & 0xf;
	if (rank > old)
		*b = idx & 1 ? (*b & 0x0f) | rank << 4 : (*b & 0xf0) | rank;
}

static __always_inline void hll_add(__u32 vip_id, const struct pkt *p)
{
	hll_add_addr(vip_id, &p->src, p->family);
}

/* A packet of a known flow: its counters and last time. */
static __always_inline void flow_count(struct xdplb_flow_val *fv, __u32 len)
{
#ifndef XDPLB_NO_FLOW_COUNTERS /* bench only: what per-flow counters cost */
	fv->packets++;
	fv->bytes += len;
#endif
	fv->last_ns = bpf_ktime_get_coarse_ns();
}

/* The same, and the client into this epoch's sketch if this is the flow's
 * first packet of the epoch. */
static __always_inline void flow_touch(struct xdplb_flow_val *fv, const struct pkt *p)
{
	if (fv->last_ns < hll_epoch_ns)
		hll_add(fv->vip_id, p);
	flow_count(fv, p->frame_len);
}

static __always_inline void flow_learn(int family, const union flow_key *k, int established,
				       __u32 id, __u32 vip_id, __u32 hash, __u32 flags,
				       const struct pkt *p)
{
	struct xdplb_flow_val v = { .backend_id = id, .vip_id = vip_id, .hash = hash,
				    .flags = flags, .packets = 1, .bytes = p->frame_len };

	v.last_ns = bpf_ktime_get_coarse_ns();
	flow_put(family, k, established, &v);
	hll_add(vip_id, p);
}

/* Counters are per backend only: user space sums a VIP's backends (see
 * dp_vip_counters), which saves every packet a second per-CPU update. */
static __always_inline void count_new_flow(__u32 be_id)
{
	struct xdplb_counters *c = bpf_map_lookup_elem(&backend_stats, &be_id);

	if (c)
		c->new_flows++;
}

/* A packet with no flow entry: the current ring's backend (file comment). */
static __always_inline __u32 ring_choose(const struct xdplb_vip_info *vi, __u32 hash,
					 struct xdplb_backend_info **be)
{
	__u32 id = ring_pick(vi->ring, vi->ring_size, hash);

	*be = backend_active(id, vi->vip_id);
	return id;
}

/* Tell lbd's flow sync about a flow just promoted (not a guess). */
static __always_inline void flow_report(const struct pkt *p, const struct xdplb_flow_val *fv,
					struct xdplb_stats *st)
{
	struct xdplb_flow_event ev = { .src = p->src, .dst = p->dst, .sport = p->sport,
				       .dport = p->dport, .proto = p->proto, .family = p->family,
				       .backend_id = fv->backend_id, .vip_id = fv->vip_id };

	if (bpf_ringbuf_output(&flow_events, &ev, sizeof(ev), BPF_RB_NO_WAKEUP))
		count(st, XDPLB_STAT_FLOW_SYNC_LOST);
}

/* The backend of an established flow, or NULL: the entry's backend must be
 * active and still serve the entry's VIP. */
static __always_inline struct xdplb_backend_info *flow_backend(const struct xdplb_flow_val *fv)
{
	return fv ? backend_active(fv->backend_id, fv->vip_id) : NULL;
}

/* Choose the backend of a packet that the established table did not
 * answer (`tried_est`: the caller already looked there): half-open table,
 * then the rings.  Learns and promotes flows as the file comment says.
 * *hash is the flow hash: stored with the flow, computed only on a miss. */
static __always_inline struct xdplb_backend_info *
select_backend(const struct pkt *p, const union flow_key *k, const struct xdplb_vip_info *vi,
	       __u32 seed, int icmp_err, int tried_est, struct xdplb_stats *st, __u32 *be_id,
	       __u32 *hash)
{
	struct xdplb_backend_info *be;
	struct xdplb_flow_val *fv;
	int syn = p->proto == IPPROTO_TCP && (p->tcp_flags & TCP_FLAG_SYN);
	int nonsyn_tcp = p->proto == IPPROTO_TCP && !syn;

	if (!tried_est) {
		fv = flow_get(p->family, k, 1);
		if ((be = flow_backend(fv)) && fv->vip_id == vi->vip_id) {
			count(st, XDPLB_STAT_FLOW_HIT);
			*be_id = fv->backend_id;
			*hash = fv->hash;
			return be;
		}
	}
	fv = flow_get(p->family, k, 0);
	if ((be = flow_backend(fv)) && fv->vip_id == vi->vip_id) {
		count(st, XDPLB_STAT_FLOW_HIT);
		*be_id = fv->backend_id;
		*hash = fv->hash;
		if (icmp_err)
			return be;
		flow_touch(fv, p);
		if (!syn) {
			flow_put(p->family, k, 1, fv);
			if (sync_flows && !(fv->flags & XDPLB_FLOW_F_GUESS))
				flow_report(p, fv, st);
			/* last: a deleted entry may be reused at once */
			flow_forget_half_open(p->family, k);
			count(st, XDPLB_STAT_FLOW_PROMOTED);
		}
		return be;
	}
	*hash = flow_hash(p, seed);
	*be_id = ring_choose(vi, *hash, &be);
	if (icmp_err)
		return be;
	count(st, nonsyn_tcp ? XDPLB_STAT_FLOW_MISS_NONSYN : XDPLB_STAT_FLOW_MISS_SYN);
	if (!be)
		return NULL;
	/* half-open even for a non-SYN miss: a lone spoofed packet must not
	 * evict an established flow; the flow's next packet promotes it */
	flow_learn(p->family, k, 0, *be_id, vi->vip_id, *hash,
		   nonsyn_tcp ? XDPLB_FLOW_F_GUESS : 0, p);
	if (!nonsyn_tcp)
		count_new_flow(*be_id);
	return be;
}

static __always_inline void count_traffic(__u32 be_id, __u32 len)
{
	struct xdplb_counters *c = bpf_map_lookup_elem(&backend_stats, &be_id);

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

/* Send a packet to its chosen backend: rewrite (l2) or encapsulate, count. */
static __always_inline int send_backend(struct xdp_md *ctx, const struct pkt *p,
					const struct xdplb_backend_info *be, __u32 be_id,
					__u32 hash, int icmp_err, struct xdplb_stats *st)
{
	__u32 zero = 0, overhead;
	struct xdplb_config *cfg;
	int act, err;

	if (be->method == XDPLB_METHOD_L2) {
		void *data = (void *)(long)ctx->data;

		if (data + ETH_HLEN > (void *)(long)ctx->data_end)
			return XDP_ABORTED; /* cannot happen: the frame was parsed */
		set_macs(data, be);
		count_traffic(be_id, p->frame_len);
		return send_to(be);
	}
	cfg = bpf_map_lookup_elem(&config, &zero);
	if (!cfg)
		return XDP_ABORTED; /* cannot happen: array key 0 always exists */
	overhead = encap_overhead(be->method, be->family);
	act = check_mtu(ctx, p, overhead, cfg, icmp_err, st);
	if (act != XDP_PASS)
		return act;
	err = encapsulate(ctx, p, be, cfg, hash);
	if (err) {
		count(st, err);
		return XDP_DROP;
	}
	count_traffic(be_id, p->frame_len);
	return send_to(be);
}

/* Forward a packet of a VIP's flow to its backend. */
static __always_inline int forward(struct xdp_md *ctx, const struct pkt *p,
				   const union flow_key *k, const struct xdplb_vip_info *vi,
				   int icmp_err, int tried_est, struct xdplb_stats *st)
{
	__u32 zero = 0, hash = 0, be_id = 0;
	struct xdplb_config *cfg = bpf_map_lookup_elem(&config, &zero);
	struct xdplb_backend_info *be;

	if (!cfg)
		return XDP_ABORTED; /* cannot happen: array key 0 always exists */
	be = select_backend(p, k, vi, cfg->seed, icmp_err, tried_est, st, &be_id, &hash);
	if (!be) {
		count(st, XDPLB_STAT_DROP_NO_BACKEND);
		return XDP_DROP;
	}
	return send_backend(ctx, p, be, be_id, hash, icmp_err, st);
}

static __always_inline int send_established(struct xdp_md *ctx, const struct pkt *p,
					    struct xdplb_flow_val *fv,
					    const struct xdplb_backend_info *be,
					    struct xdplb_stats *st)
{
	count(st, XDPLB_STAT_FLOW_HIT);
	flow_touch(fv, p);
	return send_backend(ctx, p, be, fv->backend_id, fv->hash, 0, st);
}

static __always_inline int handle_icmp(struct xdp_md *ctx, struct pkt *p, struct xdplb_stats *st)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	__u8 echo = p->family == XDPLB_AF_INET ? ICMP_ECHO : ICMPV6_ECHO_REQUEST;
	struct xdplb_vip_info *vi;
	union flow_key k;
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
	flow_key_of(&q, &k);
	count(st, XDPLB_STAT_ICMP_ERR_FWD);
	return forward(ctx, &q, &k, vi, 1, 0, st);
}

/* The common case, before any parsed-packet record is built: untagged
 * IPv4 without options, TCP/UDP, of an established flow of an l2 VIP.
 * Returns the action, or -1 to take the general path: then *looked says
 * whether flows4 was already consulted, and *fvp, *bep hold a hit that
 * needs more than a MAC rewrite (encapsulation), with *p filled. */
static __always_inline int fast_established4(struct xdp_md *ctx, struct xdplb_stats *st,
					     struct pkt *p, int *looked,
					     struct xdplb_flow_val **fvp,
					     struct xdplb_backend_info **bep)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	struct iphdr *iph = data + sizeof(struct ethhdr);
	struct tcphdr *th = (void *)(iph + 1);
	struct xdplb_backend_info *be;
	struct xdplb_flow4_key k;
	struct xdplb_flow_val *fv;
	__u64 *w = (__u64 *)&k;
	__u32 len = end - data;

	if (!fast4_ok(data, end) || (void *)(th + 1) > end)
		return -1;
	w[0] = *(__u64 *)&iph->saddr;
	w[1] = flow_key_tail(*(__u32 *)th, iph->protocol);
	fv = bpf_map_lookup_elem(&flows4, &k);
	*looked = 1;
	be = flow_backend(fv);
	if (!be)
		return -1;
	if (be->method != XDPLB_METHOD_L2) {
		fast4_fill(p, data, end);
		*fvp = fv;
		*bep = be;
		return -1;
	}
	count(st, XDPLB_STAT_FLOW_HIT);
	if (fv->last_ns < hll_epoch_ns) {
		union xdplb_addr a = { .v4 = iph->saddr };

		hll_add_addr(fv->vip_id, &a, XDPLB_AF_INET);
	}
	flow_count(fv, len);
	set_macs(data, be);
	count_traffic(fv->backend_id, len);
	return send_to(be);
}

static __always_inline int process(struct xdp_md *ctx, struct xdplb_stats *st)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	struct xdplb_backend_info *be;
	struct xdplb_vip_info *vi;
	struct xdplb_flow_val *fv;
	union flow_key k;
	struct pkt p;
	int ret, looked = 0;

	fv = NULL;
	be = NULL;
	ret = fast_established4(ctx, st, &p, &looked, &fv, &be);
	if (ret >= 0)
		return ret;
	if (be) /* an established flow to encapsulate; p is filled */
		return send_established(ctx, &p, fv, be, st);
	if (looked) { /* fast4_ok() said yes already */
		fast4_fill(&p, data, end);
	} else if (!parse_fast4(&p, data, end)) {
		__builtin_memset(&p, 0, sizeof(p));
		ret = parse_packet(&p, data, end);
		if (ret) {
			count(st, ret);
			return XDP_PASS;
		}
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
	/* Established flows first: one lookup, then straight to the backend.
	 * Each family has its own call site: merged into one, the lookup
	 * would see two maps and the verifier could not inline it. */
	if (flow_key_make(data, end, &p, &k))
		return XDP_ABORTED; /* cannot happen: the headers were parsed */
	if (looked) {
		/* flows4 answered already: a miss */
	} else if (p.family == XDPLB_AF_INET) {
		fv = bpf_map_lookup_elem(&flows4, &k.v4);
		if ((be = flow_backend(fv)))
			return send_established(ctx, &p, fv, be, st);
	} else {
		fv = bpf_map_lookup_elem(&flows6, &k.v6);
		if ((be = flow_backend(fv)))
			return send_established(ctx, &p, fv, be, st);
	}
	vi = vip_lookup(&p, p.dport, p.proto);
	if (!vi)
		vi = vip_lookup(&p, 0, p.proto);
	if (!vi) {
		count(st, XDPLB_STAT_PASS_NOT_VIP);
		return XDP_PASS;
	}
	return forward(ctx, &p, &k, vi, 0, 1, st);
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
