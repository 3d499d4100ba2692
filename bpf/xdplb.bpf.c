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
 *
 * Two entry points share this code and the maps: `xdplb_fwd`, the
 * forwarder, and `xdplb_lookup`, the same way taken as a dry run for
 * `lbctl flow lookup`: nothing learned, promoted, counted, sketched or
 * reported, the packet neither rewritten nor sent; the verdict goes in
 * front of the packet (struct xdplb_lookup, xdplb.h).  `dry` is a
 * constant, so xdplb_fwd has none of its branches: its code is the same
 * instructions as without them (compare llvm-objdump of both builds when
 * moving a dry-run line; some placements make clang lay out blocks anew).
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
	__u32 l3 = p->l3_off & 0x1f, l4 = p->l4_off & PKT_OFF_MASK;
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

/* The established tables.  One call site per map: the verifier inlines a
 * lookup only where the map is known, so they are never chosen through a
 * pointer. */
static __always_inline struct xdplb_flow_val *flow_get(int family, const union flow_key *k)
{
	if (family == XDPLB_AF_INET)
		return bpf_map_lookup_elem(&flows4, &k->v4);
	return bpf_map_lookup_elem(&flows6, &k->v6);
}

static __always_inline void flow_put(int family, const union flow_key *k,
				     const struct xdplb_flow_val *v)
{
	if (family == XDPLB_AF_INET)
		bpf_map_update_elem(&flows4, &k->v4, v, BPF_ANY);
	else
		bpf_map_update_elem(&flows6, &k->v6, v, BPF_ANY);
}

/* ---- the half-open table (xdplb.h: two-way slots of an array) ---- */

/* Slots per family - 1, a power of two minus one: set by lbd before load. */
const volatile __u32 half_mask = XDPLB_DEFAULT_FLOWS / 4 - 1;

/* One set of functions per family (HALF_FNS below): a slot pointer never
 * crosses a family test, which the verifier could not follow. */
static __always_inline int key4_eq(const struct xdplb_flow4_key *a, const union flow_key *k)
{
	const __u64 *x = (const __u64 *)a, *y = (const __u64 *)k;

	return x[0] == y[0] && x[1] == y[1];
}

static __always_inline int key6_eq(const struct xdplb_flow6_key *a, const union flow_key *k)
{
	const __u64 *x = (const __u64 *)a, *y = (const __u64 *)k;

	return x[0] == y[0] && x[1] == y[1] && x[2] == y[2] && x[3] == y[3] && x[4] == y[4];
}

/* A guess (a non-SYN miss) takes a slot only when it is empty or its flow
 * was learned longer ago than this: otherwise three flows sharing a pair,
 * their packets interleaved, would evict each other forever (each one's
 * miss relearns it over the next one's entry) and none would be promoted.
 * Left out, the guess still goes to the current ring's backend; the pair's
 * flows are promoted by their next packets, and its next packet is learned
 * in the slot they left. */
#define HALF_GUESS_WAIT_NS 1000000000ull

/* For family F: halfF_get(key, hash, out, idx) copies the flow's entry to
 * *out and says which slot holds it; halfF_put(key, val) learns a flow in
 * the pair's slot that holds it, else an empty one, else the one learned
 * longer ago (a guess: see above); halfF_forget(idx, hash) empties a slot after its flow was
 * promoted, unless another flow took it meanwhile.  The value is copied
 * before the key is compared, and written after the key: on x86's ordered
 * stores a copy that holds any of another flow's value meets that flow's
 * key, and is refused. */
#define HALF_FNS(F)                                                                      \
static __always_inline int half##F##_match(struct xdplb_half##F *h, const union flow_key *k, \
					   __u32 hash, struct xdplb_flow_val *out)      \
{                                                                                        \
	if (!h)                                                                          \
		return 0;                                                                \
	*out = h->val;                                                                   \
	barrier();                                                                       \
	return out->last_ns && out->hash == hash && key##F##_eq(&h->key, k);             \
}                                                                                        \
static __always_inline int half##F##_get(const union flow_key *k, __u32 hash,           \
					 struct xdplb_flow_val *out, __u32 *idx)         \
{                                                                                        \
	__u32 i = hash & half_mask & ~1u, j = i | 1;                                     \
                                                                                         \
	*idx = i;                                                                        \
	if (half##F##_match(bpf_map_lookup_elem(&halfopen##F, &i), k, hash, out))        \
		return 1;                                                                \
	*idx = j;                                                                        \
	return half##F##_match(bpf_map_lookup_elem(&halfopen##F, &j), k, hash, out);     \
}                                                                                        \
static __always_inline void half##F##_put(const union flow_key *k,                      \
					  const struct xdplb_flow_val *v)               \
{                                                                                        \
	__u32 i = v->hash & half_mask & ~1u, j = i | 1;                                  \
	struct xdplb_half##F *a = bpf_map_lookup_elem(&halfopen##F, &i),                 \
			     *b = bpf_map_lookup_elem(&halfopen##F, &j), *s;             \
                                                                                         \
	if (!a || !b)                                                                    \
		return;                                                                  \
	if (b->val.last_ns && b->val.hash == v->hash && key##F##_eq(&b->key, k))         \
		s = b;                                                                   \
	else if (a->val.last_ns && a->val.hash == v->hash && key##F##_eq(&a->key, k))    \
		s = a;                                                                   \
	else if ((s = b->val.last_ns < a->val.last_ns ? b : a)->val.last_ns &&          \
		 (v->flags & XDPLB_FLOW_F_GUESS) &&                                      \
		 v->last_ns - s->val.last_ns < HALF_GUESS_WAIT_NS)                       \
		return;                                                                  \
	s->key = k->v##F;                                                                \
	barrier();                                                                       \
	s->val = *v;                                                                     \
}                                                                                        \
static __always_inline void half##F##_forget(__u32 idx, __u32 hash)                     \
{                                                                                        \
	struct xdplb_half##F *h = bpf_map_lookup_elem(&halfopen##F, &idx);               \
                                                                                         \
	if (h && h->val.hash == hash)                                                    \
		h->val.last_ns = 0;                                                      \
}

HALF_FNS(4)
HALF_FNS(6)

static __always_inline int half_get(int family, const union flow_key *k, __u32 hash,
				    struct xdplb_flow_val *out, __u32 *idx)
{
	if (family == XDPLB_AF_INET)
		return half4_get(k, hash, out, idx);
	return half6_get(k, hash, out, idx);
}

static __always_inline void half_put(int family, const union flow_key *k,
				     const struct xdplb_flow_val *v)
{
	if (family == XDPLB_AF_INET)
		half4_put(k, v);
	else
		half6_put(k, v);
}

static __always_inline void half_forget(int family, __u32 idx, __u32 hash)
{
	if (family == XDPLB_AF_INET)
		half4_forget(idx, hash);
	else
		half6_forget(idx, hash);
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

/* A new flow (or one this node does not know) into the half-open table. */
static __always_inline void flow_learn(int family, const union flow_key *k, __u32 id,
				       __u32 vip_id, __u32 hash, __u32 flags, const struct pkt *p)
{
	struct xdplb_flow_val v = { .backend_id = id, .vip_id = vip_id, .hash = hash,
				    .flags = flags, .packets = 1, .bytes = p->frame_len };

	v.last_ns = bpf_ktime_get_coarse_ns();
	half_put(family, k, &v);
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

/* The backend of a flow entry, or NULL: the entry's backend must be
 * active and still serve the entry's VIP. */
static __always_inline struct xdplb_backend_info *flow_backend(const struct xdplb_flow_val *fv)
{
	return fv ? backend_active(fv->backend_id, fv->vip_id) : NULL;
}

/* ---- one packet's way ----
 *
 * parse -> VIP filter -> established flow -> (whole header) -> VIP ->
 * choose a backend -> send.  Each stage returns NEXT or the packet's XDP
 * action; it notes why in `why` (a pass or drop reason, an ICMP outcome)
 * and what the flow tables said in `flow_event`, and the one exit,
 * xdplb_fwd(), counts both, the action, and the backend's traffic. */

#define NEXT (-1)

struct fwd {
	struct xdp_md *ctx;
	struct xdplb_stats *st;
	union flow_key key __attribute__((aligned(8))); /* TCP/UDP: the flow's key (64-bit stores) */
	struct pkt p;		/* whole only once `parsed`; before, family, frame_len, tcp_flags */
	struct xdplb_backend_info *be;
	__u32 be_id;
	__u32 hash;		/* the flow hash (encapsulation's entropy) */
	__u32 why;		/* XDPLB_STAT_* pass/drop reason or ICMP outcome; 0: none */
	__u32 flow_event;	/* XDPLB_STAT_FLOW_HIT / _MISS_SYN / _MISS_NONSYN; 0: none */
	__u8 parsed;		/* p is filled (else only the IPv4 fast path's key is) */
	__u8 sent;		/* the packet goes to be: count its traffic */
	__u8 new_flow;		/* and a new flow on it */
	/* dry run only (never written by the forwarder) */
	__u8 from;		/* enum xdplb_lookup_from */
	__u32 ring;		/* the ring slot asked, or XDPLB_NO_RING */
};

static __always_inline void *pkt_data(const struct fwd *f)
{
	return (void *)(long)f->ctx->data;
}

static __always_inline void *pkt_end(const struct fwd *f)
{
	return (void *)(long)f->ctx->data_end;
}

/* The common frame (untagged IPv4 without options, TCP or UDP, not a
 * fragment) needs only its flow key until it misses the established
 * table; anything else is parsed whole at once. */
static __always_inline int parse(struct fwd *f)
{
	void *data = pkt_data(f), *end = pkt_end(f);
	struct iphdr *iph = data + sizeof(struct ethhdr);
	__u64 *w = (__u64 *)&f->key;
	int ret;

	if (fast4_ok(data, end)) {
		__u8 *th = (void *)(iph + 1);

		f->p.frame_len = end - data;
		if ((void *)(th + 14) > end)
			return XDP_ABORTED; /* cannot happen after fast4_ok() */
		f->p.family = XDPLB_AF_INET;
		f->p.tcp_flags = iph->protocol == IPPROTO_TCP ? th[13] : 0;
		w[0] = *(__u64 *)&iph->saddr;
		w[1] = flow_key_tail(*(__u32 *)th, iph->protocol);
		return NEXT;
	}
	__builtin_memset(&f->p, 0, sizeof(f->p)); /* IPv4 leaves addr words 1-3 */
	ret = parse_packet(&f->p, data, end);
	if (ret) {
		f->why = ret;
		return XDP_PASS;
	}
	f->parsed = 1;
	if (f->p.proto == IPPROTO_ICMP || f->p.proto == IPPROTO_ICMPV6 || f->p.frag ||
	    f->p.l4_short)
		return NEXT; /* no flow key: after the VIP filter */
	if (f->p.proto != IPPROTO_TCP && f->p.proto != IPPROTO_UDP) {
		f->why = XDPLB_STAT_PASS_NOT_VIP;
		return XDP_PASS;
	}
	if (flow_key_make(data, end, &f->p, &f->key))
		return XDP_ABORTED; /* cannot happen: the headers were parsed */
	return NEXT;
}

/* The rest of the header of a frame parse() took the fast way. */
static __always_inline void parse_rest(struct fwd *f)
{
	if (!f->parsed) {
		fast4_fill(&f->p, pkt_data(f), pkt_end(f));
		f->parsed = 1;
	}
}

static __always_inline const union xdplb_addr *pkt_dst(const struct fwd *f)
{
	return f->parsed ? &f->p.dst : (const union xdplb_addr *)&f->key.v4.dst;
}

/* Can the destination be a VIP's address at all?  One array read. */
static __always_inline int vip_filter_pass(struct fwd *f)
{
	const union xdplb_addr *dst = pkt_dst(f);
	__u32 zero = 0, bit;
	struct xdplb_vip_filter *vf = bpf_map_lookup_elem(&vip_filter, &zero);

	if (!vf)
		return XDP_ABORTED; /* cannot happen: array key 0 always exists */
	bit = f->p.family == XDPLB_AF_INET ? xdplb_vip_filter_bit4(dst->v4)
					    : xdplb_vip_filter_bit6(dst->v6);
	if (vf->bits[(bit >> 3) & (sizeof(vf->bits) - 1)] & (1u << (bit & 7)))
		return NEXT;
	f->why = f->parsed && f->p.l4_short && !f->p.frag ? XDPLB_STAT_PASS_TRUNCATED
							  : XDPLB_STAT_PASS_NOT_VIP;
	return XDP_PASS;
}

static __always_inline void flow_found(struct fwd *f, struct xdplb_flow_val *fv,
				       struct xdplb_backend_info *be)
{
	f->be = be;
	f->be_id = fv->backend_id;
	f->hash = fv->hash;
	f->flow_event = XDPLB_STAT_FLOW_HIT;
}

/* The packet's client into vip_id's sketch of this epoch. */
static __always_inline void client_add(const struct fwd *f, __u32 vip_id)
{
	union xdplb_addr src = f->p.src;

	if (!f->parsed) {
		src.v6[0] = f->key.v4.src;
		src.v6[1] = src.v6[2] = src.v6[3] = 0;
	}
	hll_add_addr(vip_id, &src, f->p.family);
}

/* A packet of a known flow: its counters, and its client into this epoch's
 * sketch if this is the flow's first packet of the epoch. */
static __always_inline void flow_touch(struct fwd *f, struct xdplb_flow_val *fv)
{
	if (fv->last_ns < hll_epoch_ns)
		client_add(f, fv->vip_id);
	flow_count(fv, f->p.frame_len);
}

/* ---- the flow cache (xdplb.h): per CPU, IPv4, in front of flows4 ---- */

/* Bumped by lbd when it overwrites an entry of flows4: lines filled
 * before are stale.  lbd starts it at a random value, so lines a previous
 * forwarder filled (the map is pinned) are stale for this one. */
volatile __u32 flow_gen;

static __always_inline __u32 cache_units(__u64 ns)
{
	return (__u32)(ns >> XDPLB_FLOW_CACHE_FLUSH_SHIFT);
}

static __always_inline void cache_empty(struct xdplb_flow_cache_line *l)
{
	__u64 *w = (__u64 *)&l->key;

	w[1] = 0; /* proto 0 matches no flow */
}

/* Add the line's counts to its flows4 entry and take the entry's backend
 * (flow sync may have written another); put the entry back if the LRU
 * evicted it. */
static __always_inline void cache_flush(struct xdplb_flow_cache_line *l, __u64 now)
{
	struct xdplb_flow_val *fv = bpf_map_lookup_elem(&flows4, &l->key);

	if (fv) {
		fv->packets += l->packets;
		fv->bytes += l->bytes;
		if (fv->last_ns < l->last_ns)
			fv->last_ns = l->last_ns;
		l->backend_id = fv->backend_id;
		l->vip_id = fv->vip_id;
		l->hash = fv->hash;
		l->flags = fv->flags;
	} else {
		struct xdplb_flow_val v = { .backend_id = l->backend_id, .vip_id = l->vip_id,
					    .hash = l->hash, .flags = l->flags,
					    .packets = l->packets, .bytes = l->bytes,
					    .last_ns = l->last_ns };

		bpf_map_update_elem(&flows4, &l->key, &v, BPF_ANY);
	}
	l->packets = 0;
	l->bytes = 0;
	l->flushed_at = cache_units(now);
}

/* The cache's answer for an IPv4 flow: 1 (f has the backend, the packet is
 * counted in the line) or 0 (go to flows4; *set is the flow's set, for
 * cache_fill, or NULL).  A stale line (older flow_gen, backend no longer
 * active) gives its counts to flows4 and is emptied. */
static __always_inline int cache_hit(struct fwd *f, struct xdplb_flow_cache_set **set)
{
	const __u64 *w = (const __u64 *)&f->key;
	__u32 idx = xdplb_flow_cache_set4(w[0], w[1]);
	struct xdplb_flow_cache_set *s = bpf_map_lookup_elem(&flow_cache, &idx);
	struct xdplb_flow_cache_line *l;
	struct xdplb_backend_info *be = NULL;
	__u64 now;

	*set = s;
	if (!s)
		return 0;
	if (key4_eq(&s->way[0].key, &f->key))
		l = &s->way[0];
	else if (key4_eq(&s->way[1].key, &f->key))
		l = &s->way[1];
	else
		return 0;
	if (l->gen == flow_gen)
		be = backend_active(l->backend_id, l->vip_id);
	now = bpf_ktime_get_coarse_ns();
	if (be) {
		f->be = be;
		f->be_id = l->backend_id;
		f->hash = l->hash;
		f->flow_event = XDPLB_STAT_FLOW_HIT;
		if (l->last_ns < hll_epoch_ns)
			client_add(f, l->vip_id);
#ifndef XDPLB_NO_FLOW_COUNTERS
		l->packets++;
		l->bytes += f->p.frame_len;
#endif
		l->last_ns = now;
	}
	/* one call site: the flush is inlined */
	if (!be || cache_units(now) - l->flushed_at >= XDPLB_FLOW_CACHE_FLUSH_UNITS)
		cache_flush(l, now);
	if (!be)
		cache_empty(l);
	return be != NULL;
}

/* A flows4 hit (its packet already counted there) into the flow's set: the
 * first line if it is empty or idle for a flush interval, else the second.
 * The first line is kept by a flow that keeps sending: when three flows
 * share a set, one of them still hits (with least-recently-used lines,
 * flows taking turns would all miss). */
static __always_inline void cache_fill(struct fwd *f, struct xdplb_flow_cache_set *s,
				       const struct xdplb_flow_val *fv)
{
	const __u64 *w = (const __u64 *)&f->key;
	struct xdplb_flow_cache_line *l;
	__u64 *k, now = fv->last_ns;

	if (!s)
		return;
	l = &s->way[0];
	if (l->key.proto &&
	    cache_units(now) - cache_units(l->last_ns) < XDPLB_FLOW_CACHE_FLUSH_UNITS)
		l = &s->way[1];
	if (l->key.proto && l->packets)
		cache_flush(l, now);
	k = (__u64 *)&l->key;
	k[0] = w[0];
	k[1] = w[1];
	l->backend_id = fv->backend_id;
	l->vip_id = fv->vip_id;
	l->hash = fv->hash;
	l->gen = flow_gen;
	l->packets = 0;
	l->bytes = 0;
	l->last_ns = now;
	l->flushed_at = cache_units(now);
	l->flags = fv->flags;
}

/* The established table: one lookup, and the packet is on its way.  Each
 * family has its own call site (one map each: the verifier inlines the
 * lookup only then).  Returns whether the flow was found. */
static __always_inline int established(struct fwd *f, const int dry)
{
	struct xdplb_flow_cache_set *set = NULL;
	struct xdplb_backend_info *be;
	struct xdplb_flow_val *fv;

	if (f->p.family == XDPLB_AF_INET) {
		/* a SYN is a new flow, nearly always: its set would be one more
		 * cold line (measured: +130 ns of 180); flows4 answers it alone */
		if (!dry && !(f->p.tcp_flags & TCP_FLAG_SYN) && cache_hit(f, &set))
			return 1;
		fv = bpf_map_lookup_elem(&flows4, &f->key.v4);
	} else {
		fv = bpf_map_lookup_elem(&flows6, &f->key.v6);
	}
	be = flow_backend(fv);
	if (!be)
		return 0;
	flow_found(f, fv, be);
	if (dry) {
		f->from = XDPLB_FROM_ESTABLISHED;
	} else {
		flow_touch(f, fv);
		cache_fill(f, set, fv);
	}
	return 1;
}

/* A packet to a VIP's address that has no flow key: fragments and cut
 * headers are dropped (after the VIP address check: others pass). */
static __always_inline int unkeyed(struct fwd *f)
{
	if (!vip_addr_lookup(&f->p)) {
		f->why = f->p.l4_short && !f->p.frag ? XDPLB_STAT_PASS_TRUNCATED
						     : XDPLB_STAT_PASS_NOT_VIP;
		return XDP_PASS;
	}
	f->why = f->p.frag ? XDPLB_STAT_DROP_FRAGMENT : XDPLB_STAT_DROP_TRUNCATED;
	return XDP_DROP;
}

static __always_inline struct xdplb_vip_info *vip_find(const struct pkt *p)
{
	struct xdplb_vip_info *vi = vip_lookup(p, p->dport, p->proto);

	return vi ? vi : vip_lookup(p, 0, p->proto);
}

/* A flow's second packet: its entry (fv, a copy of the half-open slot)
 * moves to the established table, is reported to flow sync, and (TCP) its
 * client goes into the sketch now, when it has shown two packets. */
static __always_inline void promote(struct fwd *f, const struct xdplb_flow_val *fv, __u32 slot)
{
	int family = f->p.family;

	flow_put(family, &f->key, fv);
	if (sync_flows && !(fv->flags & XDPLB_FLOW_F_GUESS))
		flow_report(&f->p, fv, f->st);
	if (f->p.proto == IPPROTO_TCP)
		hll_add(fv->vip_id, &f->p);
	half_forget(family, slot, fv->hash);
	count(f->st, XDPLB_STAT_FLOW_PROMOTED);
}

/* No established entry: a flow's second packet finds its half-open entry
 * and promotes it; a new flow (or one this node does not know) gets the
 * current ring's backend and a half-open entry.  A retransmitted SYN finds
 * its entry too and keeps its backend (which may have answered already:
 * asking a ring that changed meanwhile would split the handshake). */
static __always_inline int choose(struct fwd *f, const struct xdplb_vip_info *vi, const int dry)
{
	struct xdplb_backend_info *be;
	struct xdplb_config *cfg;
	struct xdplb_flow_val v;
	const struct pkt *p = &f->p;
	int tcp = p->proto == IPPROTO_TCP, syn = tcp && (p->tcp_flags & TCP_FLAG_SYN);
	__u32 zero = 0, slot;

	cfg = bpf_map_lookup_elem(&config, &zero);
	if (!cfg)
		return XDP_ABORTED; /* cannot happen: array key 0 always exists */
	f->hash = flow_hash(p, cfg->seed);
	if (half_get(p->family, &f->key, f->hash, &v, &slot) &&
	    (be = flow_backend(&v)) && v.vip_id == vi->vip_id) {
		flow_found(f, &v, be);
		if (dry) {
			f->from = XDPLB_FROM_HALF_OPEN;
			return NEXT;
		}
		if (!syn) {
			flow_touch(f, &v);
			promote(f, &v, slot);
		}
		return NEXT;
	}
	f->be_id = ring_choose(vi, f->hash, &f->be);
	f->flow_event = tcp && !syn ? XDPLB_STAT_FLOW_MISS_NONSYN : XDPLB_STAT_FLOW_MISS_SYN;
	if (dry)
		f->ring = vi->ring;
	if (!f->be) {
		f->why = XDPLB_STAT_DROP_NO_BACKEND;
		return XDP_DROP;
	}
	if (dry) {
		f->from = XDPLB_FROM_RING;
		return NEXT;
	}
	/* half-open even for a non-SYN miss: a lone spoofed packet must not
	 * evict an established flow; the flow's next packet promotes it */
	flow_learn(p->family, &f->key, f->be_id, vi->vip_id, f->hash,
		   tcp && !syn ? XDPLB_FLOW_F_GUESS : 0, p);
	if (!tcp) /* a UDP client may send one datagram only: count it now */
		hll_add(vi->vip_id, p);
	f->new_flow = !(tcp && !syn);
	return NEXT;
}

static __always_inline int send_to(const struct xdplb_backend_info *be)
{
	if (be->flags & XDPLB_BE_F_REDIRECT)
		return bpf_redirect_map(&tx_ports, be->ifindex, XDP_DROP);
	return XDP_TX;
}

/* Answer "too big" to the client if the encapsulated packet would not fit.
 * Returns NEXT (it fits) or the action to take. */
static __always_inline int check_mtu(struct fwd *f, __u32 overhead,
				     const struct xdplb_config *cfg, int icmp_err)
{
	const struct pkt *p = &f->p;
	int err;

	if (!cfg->mtu || p->ip_len + overhead <= cfg->mtu)
		return NEXT;
	if (!p->df || icmp_err) {
		f->why = XDPLB_STAT_DROP_TOO_BIG;
		return XDP_DROP;
	}
	if (p->family == XDPLB_AF_INET)
		err = send_frag_needed(f->ctx, p, cfg->mtu - overhead);
	else
		err = send_pkt_too_big(f->ctx, p, cfg->mtu - overhead);
	if (err) {
		f->why = err;
		return XDP_DROP;
	}
	f->why = XDPLB_STAT_ICMP_PTB_SENT;
	return XDP_TX;
}

/* To the chosen backend: rewrite the MACs (l2) or encapsulate. */
static __always_inline int send(struct fwd *f, int icmp_err, const int dry)
{
	const struct xdplb_backend_info *be = f->be;
	struct xdplb_config *cfg;
	__u32 zero = 0, overhead;
	int act, err;

	if (dry) /* where it would go; the packet stays as it is */
		return be->flags & XDPLB_BE_F_REDIRECT ? XDP_REDIRECT : XDP_TX;
	if (be->method == XDPLB_METHOD_L2) {
		void *data = pkt_data(f);

		if (data + ETH_HLEN > pkt_end(f))
			return XDP_ABORTED; /* cannot happen: the frame was parsed */
		set_macs(data, be);
		f->sent = 1;
		return send_to(be);
	}
	parse_rest(f);
	cfg = bpf_map_lookup_elem(&config, &zero);
	if (!cfg)
		return XDP_ABORTED; /* cannot happen: array key 0 always exists */
	overhead = encap_overhead(be->method, be->family);
	act = check_mtu(f, overhead, cfg, icmp_err);
	if (act != NEXT)
		return act;
	err = encapsulate(f->ctx, &f->p, be, cfg, f->hash);
	if (err) {
		f->why = err;
		return XDP_DROP;
	}
	f->sent = 1;
	return send_to(be);
}

/* An ICMP error about a VIP flow goes where the flow goes: the flow tables
 * (nothing learned or promoted), else the current ring. */
static __always_inline int icmp_error(struct fwd *f, const struct pkt *q, const int dry)
{
	struct xdplb_backend_info *be;
	struct xdplb_vip_info *vi;
	struct xdplb_config *cfg;
	struct xdplb_flow_val *fv, v;
	__u32 zero = 0, slot;

	vi = vip_find(q);
	if (!vi || (vi->flags & XDPLB_VIP_F_ECHO)) {
		f->why = XDPLB_STAT_PASS_ICMP_OTHER;
		return XDP_PASS;
	}
	flow_key_of(q, &f->key);
	fv = flow_get(q->family, &f->key);
	if (dry) /* provisional; xdplb_lookup keeps it only if the packet is sent */
		f->from = XDPLB_FROM_ESTABLISHED;
	if ((be = flow_backend(fv)) && fv->vip_id == vi->vip_id) {
		flow_found(f, fv, be);
	} else {
		cfg = bpf_map_lookup_elem(&config, &zero);
		if (!cfg)
			return XDP_ABORTED; /* cannot happen: array key 0 always exists */
		f->hash = flow_hash(q, cfg->seed);
		if (half_get(q->family, &f->key, f->hash, &v, &slot) &&
		    (be = flow_backend(&v)) && v.vip_id == vi->vip_id) {
			flow_found(f, &v, be);
			if (dry)
				f->from = XDPLB_FROM_HALF_OPEN;
		} else {
			f->be_id = ring_choose(vi, f->hash, &f->be);
			if (dry) {
				f->ring = vi->ring;
				f->from = XDPLB_FROM_RING;
			}
			if (!f->be) {
				f->why = XDPLB_STAT_DROP_NO_BACKEND;
				return XDP_DROP;
			}
		}
	}
	f->why = XDPLB_STAT_ICMP_ERR_FWD;
	return send(f, 1, dry);
}

/* ICMP to a VIP address: echo requests answered here, errors that quote a
 * VIP flow sent to its backend, the rest passed. */
static __always_inline int icmp(struct fwd *f, const int dry)
{
	void *data = pkt_data(f), *end = pkt_end(f);
	struct pkt *p = &f->p;
	__u8 echo = p->family == XDPLB_AF_INET ? ICMP_ECHO : ICMPV6_ECHO_REQUEST;
	struct pkt q = *p;

	if (!vip_addr_lookup(p)) {
		f->why = XDPLB_STAT_PASS_NOT_VIP;
		return XDP_PASS;
	}
	if (p->frag || p->l4_short) {
		f->why = p->frag ? XDPLB_STAT_DROP_FRAGMENT : XDPLB_STAT_DROP_TRUNCATED;
		return XDP_DROP;
	}
	if (p->icmp_type == echo) {
		if (!dry && echo_reply(data, end, p))
			return XDP_ABORTED; /* cannot happen: lengths were checked */
		f->why = XDPLB_STAT_ICMP_ECHO;
		return XDP_TX;
	}
	if (!icmp_is_error(p) || icmp_quoted_flow(data, end, p, &q)) {
		f->why = XDPLB_STAT_PASS_ICMP_OTHER;
		return XDP_PASS;
	}
	return icmp_error(f, &q, dry);
}

static __always_inline int forward(struct fwd *f, const int dry)
{
	struct xdplb_vip_info *vi;
	int act;

	act = parse(f);
	if (act != NEXT)
		return act;
	act = vip_filter_pass(f);
	if (act != NEXT)
		return act;
	if (f->parsed && (f->p.proto == IPPROTO_ICMP || f->p.proto == IPPROTO_ICMPV6))
		return icmp(f, dry);
	if (f->parsed && (f->p.frag || f->p.l4_short))
		return unkeyed(f);
	if (established(f, dry))
		return send(f, 0, dry);
	parse_rest(f);
	vi = vip_find(&f->p);
	if (!vi) {
		f->why = XDPLB_STAT_PASS_NOT_VIP;
		return XDP_PASS;
	}
	act = choose(f, vi, dry);
	if (act != NEXT)
		return act;
	return send(f, 0, dry);
}

/* What a packet sent to a backend adds to its counters (per backend only:
 * user space sums a VIP's backends, see userspace/counters.h). */
static __always_inline void count_backend(const struct fwd *f)
{
	struct xdplb_counters *c = bpf_map_lookup_elem(&backend_stats, &f->be_id);

	if (!c)
		return;
	c->packets++;
	c->bytes += f->p.frame_len;
	c->new_flows += f->new_flow;
}

static __always_inline void fwd_start(struct fwd *f, struct xdp_md *ctx, struct xdplb_stats *st)
{
	f->ctx = ctx;
	f->st = st;
	f->why = 0;
	f->flow_event = 0;
	f->parsed = 0;
	f->sent = 0;
	f->new_flow = 0;
}

/* The one exit: why, what the flow tables said, the action, the traffic. */
static __always_inline int xdplb_run(struct xdp_md *ctx, struct xdplb_stats *st)
{
	struct fwd f;
	int act;

	fwd_start(&f, ctx, st);
	act = forward(&f, 0);
	if (f.why)
		count(st, f.why);
	if (f.flow_event)
		count(st, f.flow_event);
	if (f.sent)
		count_backend(&f);
	count(st, (__u32)act <= XDP_REDIRECT ? (__u32)act : XDPLB_STAT_ABORTED);
	return act;
}

SEC("xdp")
int xdplb_fwd(struct xdp_md *ctx)
{
	__u32 zero = 0;

	return xdplb_run(ctx, bpf_map_lookup_elem(&stats, &zero));
}

/* `lbctl flow lookup`: the forwarder's way as a dry run (file comment) on
 * a packet lbd built, run with BPF_PROG_TEST_RUN; the verdict goes in the
 * packet's metadata, where the test run's output begins. */
SEC("xdp")
int xdplb_lookup(struct xdp_md *ctx)
{
	struct xdplb_lookup *v;
	struct fwd f;
	int act;

	fwd_start(&f, ctx, NULL);
	f.be_id = XDPLB_NO_BACKEND;
	f.hash = 0;
	f.from = XDPLB_FROM_NONE;
	f.ring = XDPLB_NO_RING;
	act = forward(&f, 1);
	if (bpf_xdp_adjust_meta(ctx, -(int)sizeof(*v)))
		return XDP_ABORTED;
	v = (void *)(long)ctx->data_meta;
	if ((void *)(v + 1) > (void *)(long)ctx->data)
		return XDP_ABORTED;
	v->action = act;
	v->why = f.why;
	v->flow_event = f.flow_event;
	v->from = act == XDP_TX || act == XDP_REDIRECT ? f.from : XDPLB_FROM_NONE;
	v->backend_id = f.be_id;
	v->hash = f.hash;
	v->ring = f.ring;
	v->pad = 0;
	return act;
}
