// SPDX-License-Identifier: GPL-2.0
/* bench_datapath.c - ns/packet of the forwarder's paths under
 * BPF_PROG_TEST_RUN, beside two reference programs loaded in the same run
 * (bpf/ref_macswap.bpf.c, bpf/ref_minimal.bpf.c), printed as ratios.
 *
 * All figures are the kernel's own `duration` (ns per run).  Three timings:
 *
 *   repeat   one call with repeat = LOOP_REPEAT.  The kernel reruns the
 *            program on the same buffer WITHOUT restoring it: each run sees
 *            the previous run's output (an encapsulated packet, an echo
 *            reply, the flow the first SYN learned).  So this figure exists
 *            only for a case whose every run took the intended path, which a
 *            probe checks on the forwarder's counters: l2 (MAC rewrite is
 *            idempotent), half-open SYN, non-VIP pass, the references.
 *   restore  the same, through bpf/bench_fwd.bpf.c: the forwarder's code
 *            behind a step that puts the input back first (and, for new
 *            flows, gives every run a new source).  The step's cost is
 *            measured on the cases that have both figures and subtracted.
 *   single   one packet per call (repeat = 1), SINGLE_CALLS calls averaged.
 *            No correction, but each run starts with caches cooled by the
 *            syscall, which costs a big program far more than a small one:
 *            a cross-check of the order of the rows, not of the goals.
 *
 * The "hot" column is repeat where it exists, else restore minus its step.
 * Ratios compare figures of the same kind.  Every sample is checked: each
 * packet must have taken the intended path (action and path counter grew
 * by one per packet, every other forwarder counter unchanged), else the
 * row is marked FAIL.  Samples are taken in rounds over all rows, so drift
 * of a shared VM spreads evenly; each figure is the median of the rounds
 * (BENCH_ROUNDS, or XDPLB_BENCH_ROUNDS=n up to MAX_ROUNDS).  A busy machine
 * (another vCPU or SMT sibling at work) inflates every figure, small
 * programs relatively more: compare ratios from quiet runs.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bench.h"
#include "counters.h"
#include "../fixture.h"
#include "xdplb.skel.h"
#include "bench_fwd.skel.h"
#include "bench_nocnt.skel.h"
#include "ref_macswap.skel.h"
#include "ref_minimal.skel.h"
#include "../../bpf/ref_minimal.h"

#define BENCH_ROUNDS 5
#define MAX_ROUNDS 25
#define LOOP_REPEAT 1000000
#define SINGLE_CALLS 20000
#define PROBE_REPEAT 64
#define BENCH_HDR 64 /* bytes bench_fwd.bpf.c restores; every input is at least this long */
#define GOAL_L2 1.5
#define GOAL_IPIP 2.0

enum { REPEAT, RESTORE, SINGLE, N_MODES };
static const char *const MODE_NAME[N_MODES] = { "repeat", "restore", "single" };

/* The forwarder's VIPs, all port 80/tcp: VIP i has backend ids
 * 10*i+1..10*i+3 and ring slot 2*i (the fixture's convention). */
struct bvip {
	int family;
	const char *addr;
	__u8 method;
	int be_family;
};

static const struct bvip BVIPS[] = {
	{ 4, "10.0.0.100", XDPLB_METHOD_L2, 4 },   /* 0 */
	{ 6, "fd00::100", XDPLB_METHOD_L2, 6 },    /* 1 */
	{ 4, "10.0.0.102", XDPLB_METHOD_IPIP, 4 }, /* 2: 4in4 */
	{ 6, "fd00::102", XDPLB_METHOD_IPIP, 6 },  /* 3: 6in6 */
	{ 4, "10.0.0.104", XDPLB_METHOD_IPIP, 6 }, /* 4: 4in6 */
	{ 4, "10.0.0.105", XDPLB_METHOD_GUE, 4 },  /* 5: gue 4in4 */
	{ 6, "fd00::106", XDPLB_METHOD_GUE, 6 },   /* 6: gue 6in6 */
};
#define N_BVIPS (int)(sizeof(BVIPS) / sizeof(BVIPS[0]))

enum kind {
	K_REF_MACSWAP,
	K_REF_MINIMAL,
	K_EST,      /* TCP ACK (10 bytes of data) of a flow in the established table */
	K_SYN_HALF, /* TCP SYN of a flow already in the half-open table */
	K_SYN_NEW,  /* TCP SYN of a flow in no table (a new source every packet) */
	K_ACK_NEW,  /* TCP ACK of a flow in no table: an ACK flood (a guess each) */
	K_NONVIP,   /* TCP to an address that is no VIP: XDP_PASS */
	K_ECHO,     /* ICMP echo request to a VIP address: reply with XDP_TX */
	K_EST_NOCNT, /* K_EST through bench_nocnt.bpf.c: no per-flow counters */
};

struct row {
	const char *name;
	enum kind kind;
	int vip; /* BVIPS index, -1 for none */
	int family;
	/* filled by setup */
	int fd; /* program for repeat and single */
	__u8 pkt[PKT_MAX];
	__u32 len;
	__u32 act;
	int stat[2];     /* forwarder counters that grow by one per packet */
	__u32 fresh_off; /* K_SYN_NEW, K_ACK_NEW: offset of the 4 source bytes made new */
	double s[N_MODES][MAX_ROUNDS];
	int n[N_MODES];
	bool fail[N_MODES];
	bool na[N_MODES]; /* the timing cannot measure this path */
	double med[N_MODES];
	double hot;      /* repeat, or restore minus the restore step */
	bool corrected;  /* hot came from restore */
};

#define ROW(nm, k, v, fam) { .name = nm, .kind = k, .vip = v, .family = fam }

static struct row ROWS[] = {
	ROW("ref macswap: swap MACs, XDP_TX", K_REF_MACSWAP, -1, 4),
	ROW("ref minimal: eth+ip4+tcp, 1 lookup, MAC", K_REF_MINIMAL, -1, 4),
	ROW("l2 v4 TCP ACK, established hit", K_EST, 0, 4),
	ROW("l2 v6 TCP ACK, established hit", K_EST, 1, 6),
	ROW("l2 v4 established, no per-flow counters", K_EST_NOCNT, 0, 4),
	ROW("l2 v4 TCP SYN, half-open hit", K_SYN_HALF, 0, 4),
	ROW("l2 v4 TCP SYN, new flow (miss, ring, learn)", K_SYN_NEW, 0, 4),
	ROW("l2 v6 TCP SYN, new flow (miss, ring, learn)", K_SYN_NEW, 1, 6),
	ROW("l2 v4 TCP ACK, no flow (miss, ring, learn a guess)", K_ACK_NEW, 0, 4),
	ROW("non-VIP v4 TCP, XDP_PASS", K_NONVIP, -1, 4),
	ROW("non-VIP v6 TCP, XDP_PASS", K_NONVIP, -1, 6),
	ROW("ICMP echo v4 to a VIP, reply", K_ECHO, 0, 4),
	ROW("ICMPv6 echo to a VIP, reply", K_ECHO, 1, 6),
	ROW("ipip 4in4 TCP ACK, established hit", K_EST, 2, 4),
	ROW("ipip 6in6 TCP ACK, established hit", K_EST, 3, 6),
	ROW("ipip 4in6 TCP ACK, established hit", K_EST, 4, 4),
	ROW("gue 4in4 TCP ACK, established hit", K_EST, 5, 4),
	ROW("gue 6in6 TCP ACK, established hit", K_EST, 6, 6),
	ROW("ipip 4in4 TCP SYN, new flow (miss, ring, learn)", K_SYN_NEW, 2, 4),
	ROW("gue 6in6 TCP SYN, new flow (miss, ring, learn)", K_SYN_NEW, 6, 6),
};
#define N_ROWS (int)(sizeof(ROWS) / sizeof(ROWS[0]))
#define ROW_MACSWAP 0
#define ROW_MINIMAL 1

static const char *const STAT_NAME[XDPLB_STAT_MAX] = { XDPLB_STAT_NAMES };
static int rounds = BENCH_ROUNDS;
static char loadavg[32] = "?";

static void read_env(void)
{
	const char *v = getenv("XDPLB_BENCH_ROUNDS");
	FILE *f = fopen("/proc/loadavg", "r");

	if (v && atoi(v) > 0)
		rounds = atoi(v) > MAX_ROUNDS ? MAX_ROUNDS : atoi(v);
	if (f) {
		if (fscanf(f, "%31s", loadavg) != 1)
			strcpy(loadavg, "?");
		fclose(f);
	}
}

struct bench {
	struct dp dp;
	struct bench_fwd_bpf *wrap;
	struct bench_nocnt_bpf *nocnt;
	struct ref_macswap_bpf *macswap;
	struct ref_minimal_bpf *minimal;
	__u32 fresh; /* source counter of the new-flow rows in single calls */
	double step; /* cost of bench_fwd's restore step, ns */
	int n_step;
	double step_lo, step_hi;
};

static const char *client(int family)
{
	return family == 4 ? "192.0.2.7" : "2001:db8::7";
}

static bool is_ref(const struct row *r)
{
	return r->kind == K_REF_MACSWAP || r->kind == K_REF_MINIMAL;
}

static int setup_forwarder(struct bench *b)
{
	char addr[64];
	__u32 ids[3];
	int err, i, j;

	err = fix_open(&b->dp);
	if (err)
		return err;
	for (i = 0; i < N_BVIPS && !err; i++) {
		const struct bvip *v = &BVIPS[i];

		err = fix_vip(&b->dp, v->family, v->addr, 80, IPPROTO_TCP, v->method, i, 0);
		for (j = 0; j < 3 && !err; j++) {
			ids[j] = 10 * i + j + 1;
			if (v->be_family == 4)
				snprintf(addr, sizeof(addr), "10.1.%d.%d", i, j + 1);
			else
				snprintf(addr, sizeof(addr), "fd01::%d:%d", i, j + 1);
			err = fix_backend(&b->dp, ids[j], i, v->be_family, addr,
					  v->method == XDPLB_METHOD_L2 ? MAC_BE[j] : MAC_GW, true);
		}
		if (!err)
			err = fix_ring(&b->dp, 2 * i, ids, 3);
	}
	return err;
}

/* Give obj's maps the forwarder's fds (same state), all but its globals. */
static int reuse_maps(struct bench *b, struct bpf_object *obj)
{
	struct bpf_map *m, *fm;
	int err;

	bpf_object__for_each_map(m, obj) {
		if (strchr(bpf_map__name(m), '.')) /* .bss: the program's own */
			continue;
		fm = bpf_object__find_map_by_name(b->dp.skel->obj, bpf_map__name(m));
		if (!fm)
			return -ENOENT;
		err = bpf_map__reuse_fd(m, bpf_map__fd(fm));
		if (err)
			return err;
	}
	return 0;
}

/* bench_fwd.bpf.c on the forwarder's own maps (same fds, same state). */
static int setup_wrapper(struct bench *b)
{
	int err;

	b->wrap = bench_fwd_bpf__open();
	if (!b->wrap)
		return -errno;
	bpf_program__set_autoload(b->wrap->progs.xdplb_fwd, false);
	bpf_program__set_autoload(b->wrap->progs.xdplb_lookup, false);
	b->wrap->bss->bench_fresh = 0xc6130000u; /* 198.19.0.0 on for v4 */
	b->wrap->rodata->half_mask = b->dp.skel->rodata->half_mask; /* the maps' size */
	err = reuse_maps(b, b->wrap->obj);
	return err ? err : bench_fwd_bpf__load(b->wrap);
}

/* The forwarder without per-flow counters, on the same maps. */
static int setup_nocnt(struct bench *b)
{
	int err;

	b->nocnt = bench_nocnt_bpf__open();
	if (!b->nocnt)
		return -errno;
	b->nocnt->rodata->half_mask = b->dp.skel->rodata->half_mask;
	bpf_program__set_autoload(b->nocnt->progs.xdplb_lookup, false);
	err = reuse_maps(b, b->nocnt->obj);
	return err ? err : bench_nocnt_bpf__load(b->nocnt);
}

static int setup_refs(struct bench *b)
{
	struct ref_key k = { .dport = htons(80), .proto = IPPROTO_TCP };
	struct ref_val v;

	b->macswap = ref_macswap_bpf__open_and_load();
	if (!b->macswap)
		return -errno;
	b->minimal = ref_minimal_bpf__open_and_load();
	if (!b->minimal)
		return -errno;
	memset(&v, 0, sizeof(v));
	inet_pton(AF_INET, BVIPS[0].addr, &k.daddr);
	memcpy(v.mac, MAC_BE[0], 6);
	return bpf_map__update_elem(b->minimal->maps.ref_services, &k, sizeof(k), &v, sizeof(v),
				    BPF_ANY);
}

static int run(int fd, const void *pkt, __u32 len, __u32 repeat, __u32 *duration)
{
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt, .data_size_in = len, .repeat = repeat);
	int err = bpf_prog_test_run_opts(fd, &o);

	if (err)
		return -1000 + err;
	if (duration)
		*duration = o.duration;
	return (int)o.retval;
}

/* New-flow rows in single calls: a source no packet used before (from
 * 100.64.0.0 on for v4, the low 32 bits of the client for v6; far from
 * bench_fwd.bpf.c's 198.19.0.0 on, which moves by a million a sample). */
static void set_fresh_src(struct bench *b, struct row *r)
{
	__be32 v = htonl(0x64400000u + b->fresh++);

	memcpy(r->pkt + r->fresh_off, &v, 4);
}

static void build_row(struct bench *b, struct row *r, int idx)
{
	struct pkt_spec s = { .family = r->family, .src = client(r->family),
			      .proto = IPPROTO_TCP, .sport = (__u16)(40000 + idx), .dport = 80,
			      .tcp_flags = 0x10, .payload = 10 /* v4 frame: BENCH_HDR */ };

	s.dst = r->vip >= 0 ? BVIPS[r->vip].addr : r->family == 4 ? "10.0.0.50" : "fd00::50";
	r->fd = dp_prog_fd(&b->dp);
	r->act = XDP_TX;
	r->stat[0] = XDPLB_STAT_TX;
	r->stat[1] = XDPLB_STAT_FLOW_HIT;
	switch (r->kind) {
	case K_REF_MACSWAP:
		r->fd = bpf_program__fd(b->macswap->progs.ref_macswap);
		s.dst = BVIPS[0].addr;
		break;
	case K_REF_MINIMAL:
		r->fd = bpf_program__fd(b->minimal->progs.ref_minimal);
		s.dst = BVIPS[0].addr;
		break;
	case K_EST:
		break;
	case K_EST_NOCNT:
		r->fd = bpf_program__fd(b->nocnt->progs.xdplb_fwd);
		break;
	case K_SYN_HALF:
		s.tcp_flags = 0x02;
		break;
	case K_SYN_NEW:
		s.tcp_flags = 0x02;
		r->stat[1] = XDPLB_STAT_FLOW_MISS_SYN;
		r->fresh_off = 14 + (r->family == 4 ? 12 : 8 + 12);
		break;
	case K_ACK_NEW:
		r->stat[1] = XDPLB_STAT_FLOW_MISS_NONSYN;
		r->fresh_off = 14 + (r->family == 4 ? 12 : 8 + 12);
		break;
	case K_NONVIP:
		s.dport = 22;
		r->act = XDP_PASS;
		r->stat[0] = XDPLB_STAT_PASS;
		r->stat[1] = XDPLB_STAT_PASS_NOT_VIP;
		break;
	case K_ECHO:
		s.proto = r->family == 4 ? IPPROTO_ICMP : IPPROTO_ICMPV6;
		s.icmp_type = r->family == 4 ? 8 : 128;
		s.payload = 56;
		r->stat[1] = XDPLB_STAT_ICMP_ECHO;
		break;
	}
	if (is_ref(r))
		r->stat[0] = r->stat[1] = -1;
	r->len = (__u32)pkt_build(&s, r->pkt);
	if (r->fresh_off)
		set_fresh_src(b, r);
}

/* Put the row's flow in the table its packets are meant to hit. */
static int warm_row(struct bench *b, struct row *r)
{
	__u32 l4 = 14 + (r->family == 4 ? 20 : 40);
	struct dp_flow f = { .family = r->family == 4 ? XDPLB_AF_INET : XDPLB_AF_INET6,
			     .proto = IPPROTO_TCP };
	__u8 syn[PKT_MAX];

	if (r->len < BENCH_HDR)
		return -1;
	if (r->kind != K_EST && r->kind != K_EST_NOCNT && r->kind != K_SYN_HALF)
		return 0;
	memcpy(syn, r->pkt, r->len);
	syn[l4 + 13] = 0x02;
	if (run(r->fd, syn, r->len, 1, NULL) != XDP_TX)
		return -1;
	if (r->kind != K_SYN_HALF && run(r->fd, r->pkt, r->len, 1, NULL) != XDP_TX)
		return -1;
	pkt_addr(r->family, client(r->family), &f.src);
	pkt_addr(r->family, BVIPS[r->vip].addr, &f.dst);
	memcpy(&f.sport, r->pkt + l4, 2);
	memcpy(&f.dport, r->pkt + l4 + 2, 2);
	if (dp_flow_lookup(&b->dp, &f) != 1)
		return -1;
	return f.established == (r->kind != K_SYN_HALF) ? 0 : -1;
}

/* Did each of the n packets take the row's path?  If not, says what the
 * counters show instead, after `what`. */
static bool check_stats(const struct row *r, const struct xdplb_stats *a,
			const struct xdplb_stats *z, __u64 n, const char *what)
{
	bool ok = true;
	int i;

	for (i = 0; i < XDPLB_STAT_MAX; i++) {
		__u64 want = (i == r->stat[0] || i == r->stat[1]) ? n : 0;

		if (z->v[i] - a->v[i] != want)
			ok = false;
	}
	if (ok)
		return true;
	printf("  %s: %s: %llu packets gave", what, r->name, (unsigned long long)n);
	for (i = 0; i < XDPLB_STAT_MAX; i++)
		if (z->v[i] != a->v[i])
			printf(" %s %llu", STAT_NAME[i], (unsigned long long)(z->v[i] - a->v[i]));
	printf("\n");
	return false;
}

static int mode_fd(const struct bench *b, const struct row *r, int mode)
{
	return mode == RESTORE ? bpf_program__fd(b->wrap->progs.bench_fwd) : r->fd;
}

/* Tell bench_fwd.bpf.c what to restore. */
static void wrap_input(struct bench *b, const struct row *r)
{
	memcpy(b->wrap->bss->bench_orig, r->pkt, BENCH_HDR);
	b->wrap->bss->bench_len = r->len;
	b->wrap->bss->bench_fresh_off = r->fresh_off;
}

/* A repeat/restore timing is valid for a row if PROBE_REPEAT runs in one
 * call all take the row's path. */
static void probe(struct bench *b, struct row *r, int mode)
{
	struct xdplb_stats a, z;
	int act;

	if (is_ref(r) || r->kind == K_EST_NOCNT) {
		/* idempotent (they only set MACs); restore would time bench_fwd */
		r->na[mode] = mode == RESTORE;
		return;
	}
	if (mode == RESTORE)
		wrap_input(b, r);
	if (counters_global(&b->dp, &a))
		goto fail;
	act = run(mode_fd(b, r, mode), r->pkt, r->len, PROBE_REPEAT, NULL);
	if (counters_global(&b->dp, &z))
		goto fail;
	if (check_stats(r, &a, &z, PROBE_REPEAT,
			mode == REPEAT ? "repeat not usable" : "FAIL restore probe") &&
	    act == (int)r->act)
		return;
	if (mode == REPEAT) { /* expected for paths that rewrite the packet */
		r->na[mode] = true;
		return;
	}
	printf("  FAIL: %s, %s: action %d, expected %u\n", r->name, MODE_NAME[mode], act, r->act);
fail:
	r->fail[mode] = true;
}

static void sample(struct bench *b, struct row *r, int mode)
{
	struct xdplb_stats a, z;
	__u64 sum = 0, n;
	__u32 d = 0;
	int i, act;

	if (r->na[mode] || r->fail[mode])
		return;
	/* the new-flow rows churn the half-open table: learn this row's flow again */
	if (r->kind == K_SYN_HALF && run(r->fd, r->pkt, r->len, 1, NULL) != (int)r->act)
		goto fail;
	if (!is_ref(r) && counters_global(&b->dp, &a))
		goto fail;
	if (mode != SINGLE) {
		if (mode == RESTORE)
			wrap_input(b, r);
		n = LOOP_REPEAT;
		act = run(mode_fd(b, r, mode), r->pkt, r->len, LOOP_REPEAT, &d);
		if (act != (int)r->act)
			goto bad_act;
		r->s[mode][r->n[mode]++] = d;
	} else {
		n = SINGLE_CALLS;
		for (i = 0; i < SINGLE_CALLS; i++) {
			if (r->fresh_off)
				set_fresh_src(b, r);
			act = run(r->fd, r->pkt, r->len, 1, &d);
			if (act != (int)r->act)
				goto bad_act;
			sum += d;
		}
		r->s[mode][r->n[mode]++] = (double)sum / SINGLE_CALLS;
	}
	if (is_ref(r))
		return;
	if (counters_global(&b->dp, &z) || !check_stats(r, &a, &z, n, "FAIL wrong path"))
		goto fail;
	return;
bad_act:
	printf("  FAIL: %s, %s: action %d, expected %u\n", r->name, MODE_NAME[mode], act, r->act);
fail:
	r->fail[mode] = true;
}

static bool has(const struct row *r, int m)
{
	return !r->fail[m] && !r->na[m] && r->n[m] == rounds;
}

/* The restore step: median over the rows with both repeat and restore of
 * (restore - repeat), each pair taken back to back in the same round; then
 * the medians and the hot figure of every row. */
static void summarise(struct bench *b)
{
	double steps[N_ROWS * MAX_ROUNDS];
	int i, m, k;

	b->n_step = 0;
	for (i = 0; i < N_ROWS; i++)
		if (has(&ROWS[i], REPEAT) && has(&ROWS[i], RESTORE))
			for (k = 0; k < rounds; k++)
				steps[b->n_step++] = ROWS[i].s[RESTORE][k] - ROWS[i].s[REPEAT][k];
	for (i = 0; i < N_ROWS; i++)
		for (m = 0; m < N_MODES; m++)
			ROWS[i].med[m] = has(&ROWS[i], m) ? bench_median(ROWS[i].s[m], rounds) : 0;
	if (b->n_step) {
		b->step = bench_median(steps, b->n_step); /* sorts steps */
		b->step_lo = steps[0];
		b->step_hi = steps[b->n_step - 1];
	}
	for (i = 0; i < N_ROWS; i++) {
		struct row *r = &ROWS[i];

		r->hot = 0;
		if (r->fail[REPEAT] || r->fail[RESTORE])
			continue;
		if (has(r, REPEAT)) {
			r->hot = r->med[REPEAT];
		} else if (has(r, RESTORE) && b->n_step) {
			r->hot = r->med[RESTORE] - b->step;
			r->corrected = true;
		}
	}
}

/* XDPLB_BENCH_VERBOSE=1: every sample, sorted, per timing. */
static void dump_samples(void)
{
	int i, m, k;

	for (i = 0; i < N_ROWS; i++)
		for (m = 0; m < N_MODES; m++) {
			if (!ROWS[i].n[m])
				continue;
			printf("  %-48s %-7s", ROWS[i].name, MODE_NAME[m]);
			for (k = 0; k < ROWS[i].n[m]; k++)
				printf(" %7.1f", ROWS[i].s[m][k]);
			printf("\n");
		}
}

static const char *hot_how(const struct row *r)
{
	if (r->fail[REPEAT] || r->fail[RESTORE])
		return "FAIL";
	if (!r->hot)
		return "n/a";
	return r->corrected ? "restore" : "repeat";
}

/* A cell triple: ns, x macswap, x minimal (or dashes). */
static void triple(char *buf, size_t len, double v, double ref1, double ref2, bool md)
{
	if (v <= 0)
		snprintf(buf, len, md ? "- | - | -" : "%8s %7s %7s", "-", "-", "-");
	else
		snprintf(buf, len, md ? "%.1f | %.2f | %.2f" : "%8.1f %7.2f %7.2f", v,
			 ref1 > 0 ? v / ref1 : 0, ref2 > 0 ? v / ref2 : 0);
}

static void prog_size(int fd, __u32 *insns, __u32 *jited)
{
	struct bpf_prog_info info;
	__u32 len = sizeof(info);

	memset(&info, 0, sizeof(info));
	*insns = *jited = 0;
	if (!bpf_obj_get_info_by_fd(fd, &info, &len)) {
		*insns = info.xlated_prog_len / 8;
		*jited = info.jited_prog_len;
	}
}

static const struct row *find_row(enum kind kind, int vip)
{
	int i;

	for (i = 0; i < N_ROWS; i++)
		if (ROWS[i].kind == kind && ROWS[i].vip == vip)
			return &ROWS[i];
	return NULL;
}

static void goal_line(char *buf, size_t len, const char *what, const struct row *r, double goal)
{
	const struct row *min = &ROWS[ROW_MINIMAL];
	double x;

	if (!r || !r->hot || !min->hot) {
		snprintf(buf, len, "%s: no figure (goal <= %gx)", what, goal);
		return;
	}
	x = r->hot / min->hot;
	snprintf(buf, len, "%s: %.2fx of minimal reference (goal <= %gx) [%s]%s", what, x, goal,
		 hot_how(r), x <= goal ? "" : "  ** over goal **");
}

static void report(struct bench *b)
{
	const struct row *ms = &ROWS[ROW_MACSWAP], *mn = &ROWS[ROW_MINIMAL];
	char hot[96], single[96], goal[2][256], progs[256], path[PATH_MAX + 32];
	__u32 insns[3], jited[3];
	FILE *md;
	int i;

	prog_size(bpf_program__fd(b->macswap->progs.ref_macswap), &insns[0], &jited[0]);
	prog_size(bpf_program__fd(b->minimal->progs.ref_minimal), &insns[1], &jited[1]);
	prog_size(dp_prog_fd(&b->dp), &insns[2], &jited[2]);
	snprintf(progs, sizeof(progs),
		 "programs (xlated insns / jited bytes): macswap %u / %u, minimal %u / %u, "
		 "forwarder %u / %u",
		 insns[0], jited[0], insns[1], jited[1], insns[2], jited[2]);
	goal_line(goal[0], sizeof(goal[0]), "established l2 v4", find_row(K_EST, 0), GOAL_L2);
	goal_line(goal[1], sizeof(goal[1]), "established ipip", find_row(K_EST, 2), GOAL_IPIP);

	printf("  %-48s %8s %7s %7s %-8s | %8s %7s %7s\n", "", "hot", "x", "x", "", "single", "x",
	       "x");
	printf("  %-48s %8s %7s %7s %-8s | %8s %7s %7s\n", "case", "ns/pkt", "macswap", "minimal",
	       "how", "ns/pkt", "macswap", "minimal");
	for (i = 0; i < N_ROWS; i++) {
		const struct row *r = &ROWS[i];

		triple(hot, sizeof(hot), r->hot, ms->hot, mn->hot, false);
		triple(single, sizeof(single), r->med[SINGLE], ms->med[SINGLE], mn->med[SINGLE],
		       false);
		printf("  %-48s %s %-8s | %s\n", r->name, hot, hot_how(r), single);
	}
	printf("  restore step subtracted: %.1f ns (median of %d back-to-back pairs, "
	       "range %.1f..%.1f)\n",
	       b->step, b->n_step, b->step_lo, b->step_hi);
	printf("  %s\n%s\n%s\n", progs, goal[0], goal[1]);

	md = bench_open_md("datapath.md", path, sizeof(path));
	if (!md) {
		fprintf(stderr, "bench_datapath: cannot write %s: %s\n", path, strerror(errno));
		return;
	}
	fprintf(md, "# datapath: ns/packet under BPF_PROG_TEST_RUN\n\n");
	fprintf(md, "Load average at start: %s.\n\n", loadavg);
	fprintf(md,
		"Kernel-reported `duration`, median of %d samples taken in rounds.\n\n"
		"- **hot**: one call with repeat=%d. *repeat*: the forwarder itself, for paths "
		"whose every repetition takes the same path (the kernel does not restore the "
		"packet between repetitions). *restore*: through `bpf/bench_fwd.bpf.c`, which "
		"puts the input back (and gives new flows a new source) before each run; its "
		"step, %.1f ns (median of %d back-to-back pairs on rows that have both, range %.1f..%.1f), is subtracted.\n"
		"- **single**: one packet per call, mean of %d calls; no correction, caches "
		"cooled by each syscall. A cross-check of the order, not of the goals.\n"
		"- New-flow rows: every packet a new source, so the half-open table is full "
		"and each learn evicts (LRU), as under a SYN flood or a long-running node.\n\n",
		rounds, LOOP_REPEAT, b->step, b->n_step, b->step_lo, b->step_hi,
		SINGLE_CALLS);
	fprintf(md, "| case | hot ns/pkt | x macswap | x minimal | how | single ns/pkt | "
		    "x macswap | x minimal |\n|---|---:|---:|---:|---|---:|---:|---:|\n");
	for (i = 0; i < N_ROWS; i++) {
		const struct row *r = &ROWS[i];

		triple(hot, sizeof(hot), r->hot, ms->hot, mn->hot, true);
		triple(single, sizeof(single), r->med[SINGLE], ms->med[SINGLE], mn->med[SINGLE],
		       true);
		fprintf(md, "| %s | %s | %s | %s |\n", r->name, hot, hot_how(r), single);
	}
	fprintf(md, "\n%s.\n\n- %s\n- %s\n", progs, goal[0], goal[1]);
	fclose(md);
	printf("  (table written to %s)\n", path);
}

void bench_datapath(void)
{
	static struct bench b;
	int i, m, k;

	memset(&b, 0, sizeof(b));
	read_env();
	if (setup_forwarder(&b)) {
		fprintf(stderr, "bench_datapath: cannot load the forwarder (root? BPF?)\n");
		return;
	}
	if (setup_wrapper(&b) || setup_nocnt(&b) || setup_refs(&b)) {
		fprintf(stderr, "bench_datapath: cannot load bench_fwd or the references\n");
		goto out;
	}
	printf("datapath: ns/packet under BPF_PROG_TEST_RUN (kernel duration), median of %d; "
	       "hot = repeat %d per call, single = 1 packet per call x %d; load average %s\n",
	       rounds, LOOP_REPEAT, SINGLE_CALLS, loadavg);
	for (i = 0; i < N_ROWS; i++) {
		build_row(&b, &ROWS[i], i);
		if (warm_row(&b, &ROWS[i])) {
			printf("  FAIL: %s: could not put the flow in its table\n", ROWS[i].name);
			for (m = 0; m < N_MODES; m++)
				ROWS[i].fail[m] = true;
		}
	}
	for (i = 0; i < N_ROWS; i++) {
		probe(&b, &ROWS[i], REPEAT);
		probe(&b, &ROWS[i], RESTORE);
	}
	for (k = 0; k < rounds; k++)
		for (i = 0; i < N_ROWS; i++)
			for (m = 0; m < N_MODES; m++)
				sample(&b, &ROWS[i], m);
	summarise(&b);
	if (getenv("XDPLB_BENCH_VERBOSE"))
		dump_samples();
	report(&b);
out:
	ref_minimal_bpf__destroy(b.minimal);
	ref_macswap_bpf__destroy(b.macswap);
	bench_fwd_bpf__destroy(b.wrap);
	bench_nocnt_bpf__destroy(b.nocnt);
	dp_close(&b.dp);
}
