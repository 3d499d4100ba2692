// SPDX-License-Identifier: GPL-2.0
/* fixture.c - set up the forwarder's maps for golden tests; the entries
 * are built by lbd's own builders (entries.h) from model VIPs and backends. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <netinet/in.h>
#include <bpf/bpf.h>

#include "counters.h"
#include "entries.h"
#include "fixture.h"
#include "xdplb_hash.h"

#define FIX_IFINDEX 1 /* lbd's interface and every backend's next hop's: XDP_TX */

int fix_open(struct dp *dp)
{
	return fix_open_flows(dp, 4096);
}

int fix_open_flows(struct dp *dp, __u32 flows)
{
	struct dp_opts o = { .flows = flows };
	struct xdplb_config cfg = { 0 };
	int err = dp_open(dp, &o);

	if (err)
		return err;
	cfg.seed = FIX_SEED;
	cfg.mtu = FIX_MTU;
	cfg.gue_port = htons(XDPLB_GUE_PORT);
	inet_pton(AF_INET, FIX_SRC4, &cfg.src4);
	inet_pton(AF_INET6, FIX_SRC6, &cfg.src6);
	inet_pton(AF_INET, "0.0.0.255", &cfg.src4_mask);
	inet_pton(AF_INET6, "::ffff", &cfg.src6_mask);
	return dp_config_set(dp, &cfg);
}

int fix_vip_key(int family, const char *addr, __u16 port, __u8 proto, struct xdplb_vip_key *k)
{
	memset(k, 0, sizeof(*k));
	pkt_addr(family, addr, &k->addr);
	k->port = htons(port);
	k->proto = proto;
	k->family = family == 4 ? XDPLB_AF_INET : XDPLB_AF_INET6;
	return 0;
}

/* The model VIPs fix_vip() made, by id: backend entries copy their method
 * and flags, as lbd's do. */
static struct xdplb_vip fix_vips[XDPLB_MAX_VIPS];

static struct xdplb_vip *fix_model_vip(__u32 vip_id)
{
	static struct xdplb_vip other;

	if (vip_id < XDPLB_MAX_VIPS)
		return &fix_vips[vip_id];
	memset(&other, 0, sizeof(other)); /* an id no VIP can have: tests of bad ids */
	other.id = vip_id;
	return &other;
}

int fix_vip(struct dp *dp, int family, const char *addr, __u16 port, __u8 proto, __u8 method,
	    __u32 vip_id, __u32 flags)
{
	struct xdplb_vip *v = fix_model_vip(vip_id);
	struct xdplb_vip_info vi;
	struct xdplb_vip_key k;
	int err;

	memset(v, 0, sizeof(*v));
	fix_vip_key(family, addr, port, proto, &v->key);
	v->id = vip_id;
	v->opts.method = (enum xdplb_method)method;
	v->opts.flags = flags;
	entry_vip(v, 2 * vip_id, FIX_RING_M, XDPLB_NO_RING, 0, &vi);
	err = dp_vip_set(dp, &v->key, &vi);
	if (err)
		return err;
	entry_echo_key(&v->key, &k);
	entry_echo(&vi);
	return dp_vip_set(dp, &k, &vi);
}

int fix_vip_rings(struct dp *dp, int family, const char *addr, __u16 port, __u8 proto,
		  __u32 cur, __u32 prev)
{
	struct xdplb_vip_info vi;
	struct xdplb_vip_key k;
	int err;

	fix_vip_key(family, addr, port, proto, &k);
	err = dp_vip_get(dp, &k, &vi);
	if (err)
		return err;
	entry_vip(fix_model_vip(vi.vip_id), cur, FIX_RING_M, prev,
		  prev == XDPLB_NO_RING ? 0 : FIX_RING_M, &vi);
	return dp_vip_set(dp, &k, &vi);
}

int fix_backend(struct dp *dp, __u32 id, __u32 vip_id, int family, const char *addr,
		const __u8 *mac, bool active)
{
	struct xdplb_backend b = { .id = id, .weight = XDPLB_DEFAULT_WEIGHT };
	struct neigh_result nr = { .ifindex = FIX_IFINDEX };
	struct xdplb_backend_info be;

	pkt_addr(family, addr, &b.addr);
	b.family = family == 4 ? XDPLB_AF_INET : XDPLB_AF_INET6;
	memcpy(nr.mac, mac, 6);
	memcpy(nr.src_mac, MAC_LB, 6);
	/* resolved; up or down */
	entry_backend(fix_model_vip(vip_id), &b, active, &nr, FIX_IFINDEX, &be);
	return dp_backend_set(dp, id, &be);
}

int fix_ring(struct dp *dp, __u32 slot, const __u32 *ids, int n)
{
	__u32 table[FIX_RING_M];
	int i;

	for (i = 0; i < FIX_RING_M; i++)
		table[i] = n ? ids[i % n] : XDPLB_NO_BACKEND;
	return dp_ring_set(dp, slot, table, FIX_RING_M);
}

int fix_run(struct dp *dp, const __u8 *in, size_t len, __u8 *out, size_t *out_len)
{
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = in, .data_size_in = (__u32)len,
		    .data_out = out, .data_size_out = PKT_MAX, .repeat = 1);
	int err = bpf_prog_test_run_opts(dp_prog_fd(dp), &o);

	if (err)
		return -1000 + err;
	*out_len = o.data_size_out;
	return (int)o.retval;
}

__u32 fix_hash(const struct pkt_spec *s)
{
	union xdplb_addr src, dst;
	__u16 sp = htons(s->sport), dp = htons(s->dport);
	__u32 ports = (__u32)sp | (__u32)dp << 16;

	pkt_addr(s->family, s->src, &src);
	pkt_addr(s->family, s->dst, &dst);
	if (s->family == 4)
		return xdplb_hash4(src.v4, dst.v4, ports, s->proto, FIX_SEED);
	return xdplb_hash6(src.v6, dst.v6, ports, s->proto, FIX_SEED);
}

int fix_ring_index(const struct pkt_spec *s, int n)
{
	return (int)((fix_hash(s) % FIX_RING_M) % (__u32)n);
}

static int snap_flow(void *ctx, enum dp_flow_table t, const struct dp_flow *f)
{
	__u64(*n)[4] = ctx;

	n[t][0]++;
	n[t][1] += f->v.packets;
	n[t][2] += f->v.bytes;
	n[t][3] += f->v.last_ns;
	return 0;
}

int fix_snap_take(struct dp *dp, struct fix_snap *s)
{
	/* the backend counters as lbd reads them: a model of one VIP holding
	 * every backend id below FIX_SNAP_BE */
	static struct xdplb_backend b[FIX_SNAP_BE];
	struct xdplb_vip vip = { .id = 0, .n_backends = FIX_SNAP_BE, .backends = b };
	struct xdplb_model m = { .vips = &vip, .n_vips = 1 };
	struct counters c;
	__u32 i;
	int err;

	memset(s, 0, sizeof(*s));
	for (i = 0; i < FIX_SNAP_BE; i++)
		b[i].id = i;
	err = counters_global(dp, &s->st);
	err = err ?: counters_init(&c, dp, &m, NULL);
	if (!err) {
		err = counters_read(&c);
		for (i = 0; !err && i < FIX_SNAP_BE; i++)
			s->be[i] = counters_total(&c, COUNTERS_BACKENDS, i);
		counters_free(&c);
	}
	for (i = 0; i < FIX_SNAP_VIPS; i++)
		err = err ?: counters_vip_sketch(dp, i, &s->hll[i]);
	err = err ?: dp_flows_for_each(dp, DP_FLOWS_ESTABLISHED, snap_flow, s->flows);
	return err ?: dp_flows_for_each(dp, DP_FLOWS_HALF_OPEN, snap_flow, s->flows);
}

const char *fix_snap_diff(const struct fix_snap *a, const struct fix_snap *b)
{
	if (memcmp(&a->st, &b->st, sizeof(a->st)))
		return "global counters";
	if (memcmp(a->be, b->be, sizeof(a->be)))
		return "backend counters";
	if (memcmp(a->flows, b->flows, sizeof(a->flows)))
		return "flow tables";
	if (memcmp(a->hll, b->hll, sizeof(a->hll)))
		return "unique-client sketches";
	return "";
}

int fix_apply(struct xdplb_model *m, const char *line)
{
	char buf[256], *argv[CMD_MAX_WORDS], err[256];
	static struct xdplb_cmd c; /* large: not on the stack */
	int argc;

	snprintf(buf, sizeof(buf), "%s", line);
	memset(&c, 0, sizeof(c));
	if (cmd_split_line(buf, argv, &argc, err, sizeof(err)) ||
	    cmd_parse(argc, argv, &c, err, sizeof(err)) ||
	    model_apply(m, &c, err, sizeof(err))) {
		fprintf(stderr, "%s: %s\n", line, err);
		return -1;
	}
	return 0;
}

int fix_counters(struct dp *dp, __u32 vip_id, const __u32 *ids, __u32 n,
		 struct xdplb_counters *vip, __u32 be_id, struct xdplb_counters *be)
{
	struct xdplb_backend b[FIX_MAX_BACKENDS] = { 0 };
	struct xdplb_vip v = { .id = vip_id, .n_backends = n, .backends = b };
	struct xdplb_model m = { .vips = &v, .n_vips = 1 };
	struct counters c;
	__u32 i;
	int err;

	if (n > FIX_MAX_BACKENDS)
		return -EINVAL;
	for (i = 0; i < n; i++)
		b[i].id = ids[i];
	err = counters_init(&c, dp, &m, NULL);
	if (!err)
		err = counters_read(&c);
	if (!err) {
		*vip = counters_total(&c, COUNTERS_VIPS, vip_id);
		if (be)
			*be = counters_total(&c, COUNTERS_BACKENDS, be_id);
	}
	counters_free(&c);
	return err;
}
