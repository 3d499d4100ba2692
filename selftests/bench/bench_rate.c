// SPDX-License-Identifier: GPL-2.0
/* bench_rate.c - `xdplb-bench rate-gen`: live frames through the forwarder
 * that lbd attached, counted on the far side (selftests/bench/rate.sh sets up
 * the namespaces and lbd, selftests/net/test_rate.sh checks the path).
 *
 * Run inside the generator's namespace.  bench_gen (bpf/bench_gen.bpf.c) runs
 * under BPF_PROG_TEST_RUN with BPF_F_TEST_XDP_LIVE_FRAMES and sends 64-byte
 * TCP ACKs out of --iface (a veth) with XDP_TX; the peer, in the LB's
 * namespace, runs lbd's forwarder in native mode, which sends them back with
 * XDP_TX; bench_count, attached to --iface, counts them and drops them.  The
 * whole path runs on the CPU this program is pinned to (--cpu): the veths'
 * NAPI polls run in the softirq that the generator's batch raises.
 *
 * The reference is ref_macswap (swap MACs, XDP_TX) put in lbd's pinned
 * XDP link in place of the forwarder (bpf_link_update) and back, so both
 * run on the same veth in the same run, interleaved in rounds.  A second
 * one, ref_lookup (bench_gen.bpf.c), adds the forwarder's flow lookup in
 * lbd's own flows4: the part of the cost that is the table's.  A third,
 * ref_line, adds one read-modify-write of one random 64-byte line per
 * packet in an array of --flows lines: the floor of any per-flow state.
 *
 * Cases (in the order given, every round; the -new cases in the first
 * round only):
 *   ref1, refn    the reference, 1 flow / --flows sources
 *   lkp1, lkpn    ref_lookup, 1 flow / --flows sources (the l2 VIP's flows)
 *   linn          ref_line, --flows sources
 *   l2-1, ipip-1  one flow: an established hit after the first frame
 *   l2-new, ipip-new  exactly --flows frames of --flows new sources: each
 *                 a flow-table miss (TCP non-SYN: learned half-open), then
 *                 one more pass, not measured, that promotes them
 *   l2-est, ipip-est  --flows sources cycling (hits if the table holds them)
 *   l2-syn        --flows sources of SYNs cycling: a SYN flood; with more
 *                 sources than the half-open table holds, each a miss
 *
 * Figures: Mpps = frames counted on the far side / the time the kernel
 * spent in the generator's run loop (which includes the softirqs its batches
 * raise: both veth hops and the XDP programs on the way), and the same per
 * wall time; medians over rounds, and the median of per-round ratios to the
 * reference with the same generator (1 flow or --flows).  With --count N every case sends exactly N
 * frames instead, paced so that none is lost to a full ring (a check of the
 * path, not a rate): the process exits 1 unless every frame arrived
 * rewritten as expected.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bench.h"
#include "../pkt.h"
#include "../../bpf/bench_gen.h"
#include "bench_gen.skel.h"
#include "ref_macswap.skel.h"

#define MAX_ROUNDS 25
#define CALL_REPEAT (1 << 18) /* frames per BPF_PROG_TEST_RUN call when timing */
#define BATCH 64              /* frames per batch: one NAPI poll's worth */
#define CHECK_WAIT_NS 3000000000ull
#define CLIENT1 "192.0.2.7"   /* the one flow's client */
#define CLIENTN "172.16.0.0"  /* first of the --flows clients (172.16.0.0/12 holds 2^20) */
#define CLIENTS "100.64.0.0"  /* first of the SYN flood's sources (no flow of theirs is known) */
#define MAX_FLOWS (1u << 20)

static volatile sig_atomic_t stopping; /* SIGINT/SIGTERM: stop, put the forwarder back */

static void on_signal(int sig)
{
	(void)sig;
	stopping = 1;
}

enum { P_REF, P_FWD, P_LKP, P_LINE };
enum { V_L2, V_IPIP, N_VIPS };

struct rcase {
	const char *name;
	const char *desc; /* a format: %u is the number of flows of a `many` case */
	int prog;
	int vip;
	bool many; /* --flows sources, else one */
	bool once; /* first round only, exactly --flows frames */
	bool syn;  /* SYNs, not ACKs */
	/* results */
	double mpps[MAX_ROUNDS]; /* per CPU-busy time: the figure */
	double wall[MAX_ROUNDS]; /* per wall time: lower when the CPU is shared */
	int n;
	double med, lo, hi, wall_med;
	__u64 sent, arrived, ok, hit, miss, fwd_drop, fwd_pass;
	bool used;
};

#define CASE(nm, d, p, v, m, o) { .name = nm, .desc = d, .prog = p, .vip = v, .many = m, .once = o }

static struct rcase CASES[] = {
	CASE("ref1", "ref: swap MACs, XDP_TX; 1 flow", P_REF, V_L2, false, false),
	CASE("refn", "ref: swap MACs, XDP_TX; %u flows", P_REF, V_L2, true, false),
	CASE("lkp1", "ref + flows4 lookup; 1 flow", P_LKP, V_L2, false, false),
	CASE("lkpn", "ref + flows4 lookup; %u flows", P_LKP, V_L2, true, false),
	CASE("linn", "ref + one line of per-flow state; %u flows", P_LINE, V_L2, true, false),
	CASE("l2-1", "l2, 1 flow (established hit)", P_FWD, V_L2, false, false),
	CASE("ipip-1", "ipip 4in4, 1 flow (established hit)", P_FWD, V_IPIP, false, false),
	CASE("l2-new", "l2, %u new flows (first pass: miss, ring, learn)", P_FWD, V_L2, true, true),
	CASE("l2-est", "l2, %u flows cycling", P_FWD, V_L2, true, false),
	CASE("ipip-new", "ipip 4in4, %u new flows (first pass: miss, ring, learn)", P_FWD, V_IPIP,
	     true, true),
	CASE("ipip-est", "ipip 4in4, %u flows cycling", P_FWD, V_IPIP, true, false),
	{ .name = "l2-syn", .desc = "l2, SYNs from %u sources cycling (SYN flood)", .prog = P_FWD,
	  .vip = V_L2, .many = true, .syn = true },
};
#define N_CASES (int)(sizeof(CASES) / sizeof(CASES[0]))

struct opts {
	const char *iface, *pin, *tsv, *label;
	__u8 lb_mac[6];
	const char *vip[N_VIPS];
	__u8 expect_mac[N_VIPS][6];
	const char *ipip_backend;
	int cpu, rounds;
	double seconds;
	__u32 flows;
	__u64 count; /* check mode: frames per case */
	bool table;  /* count flows4's entries at the end */
};

struct rate {
	struct opts o;
	int ifindex, ncpu;
	__u8 gen_mac[6];
	struct bench_gen_bpf *gen;
	struct ref_macswap_bpf *ref;
	struct bpf_link *count_link;
	int link_fd, fwd_fd, stats_fd, flows4_fd;
	int cur_prog;
	struct rcase *order[N_CASES];
	int n_order;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: xdplb-bench rate-gen --iface IF --pin DIR --lb-mac MAC --l2 VIP --l2-mac MAC\n"
		"         --ipip VIP --ipip-mac MAC --ipip-backend ADDR [--cpu N] [--seconds S]\n"
		"         [--rounds R] [--flows N] [--count N] [--tsv FILE] [--label TEXT] [--table]\n"
		"         CASE...\n"
		"cases:");
	for (int i = 0; i < N_CASES; i++)
		fprintf(f, " %s", CASES[i].name);
	fprintf(f, "\n");
}

static int parse_u64(const char *s, unsigned long long max, unsigned long long *v)
{
	char *end;

	errno = 0;
	*v = strtoull(s, &end, 10);
	return errno || end == s || *end || *v > max || s[0] == '-' ? -1 : 0;
}

static int bad(const char *opt, const char *val, const char *want)
{
	fprintf(stderr, "rate-gen: bad %s \"%s\" (%s)\n", opt, val, want);
	return -1;
}

static int parse_args(struct rate *r, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "iface", 1, 0, 'i' },	 { "pin", 1, 0, 'p' },	       { "lb-mac", 1, 0, 'm' },
		{ "l2", 1, 0, 'L' },	 { "l2-mac", 1, 0, 'M' },      { "ipip", 1, 0, 'I' },
		{ "ipip-mac", 1, 0, 'G' }, { "ipip-backend", 1, 0, 'B' }, { "cpu", 1, 0, 'c' },
		{ "seconds", 1, 0, 's' }, { "rounds", 1, 0, 'r' },     { "flows", 1, 0, 'f' },
		{ "count", 1, 0, 'n' },	 { "tsv", 1, 0, 't' },	       { "label", 1, 0, 'l' },
		{ "table", 0, 0, 'T' },	 { "help", 0, 0, 'h' },	       { 0, 0, 0, 0 }
	};
	struct opts *o = &r->o;
	int macs = 0; /* --lb-mac, --l2-mac, --ipip-mac seen: bits 0-2 */
	unsigned long long v;
	struct in_addr a;
	char *end;
	int c;

	o->cpu = -1;
	o->rounds = 3;
	o->seconds = 2;
	o->flows = 1000000;
	o->label = "";
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (c) {
		case 'i': o->iface = optarg; break;
		case 'p': o->pin = optarg; break;
		case 't': o->tsv = optarg; break;
		case 'l': o->label = optarg; break;
		case 'T': o->table = true; break;
		case 'L': o->vip[V_L2] = optarg; break;
		case 'I': o->vip[V_IPIP] = optarg; break;
		case 'B': o->ipip_backend = optarg; break;
		case 'm':
			if (bench_parse_mac(optarg, o->lb_mac))
				return bad("--lb-mac", optarg, "aa:bb:cc:dd:ee:ff");
			macs |= 1;
			break;
		case 'M':
			if (bench_parse_mac(optarg, o->expect_mac[V_L2]))
				return bad("--l2-mac", optarg, "aa:bb:cc:dd:ee:ff");
			macs |= 2;
			break;
		case 'G':
			if (bench_parse_mac(optarg, o->expect_mac[V_IPIP]))
				return bad("--ipip-mac", optarg, "aa:bb:cc:dd:ee:ff");
			macs |= 4;
			break;
		case 'c':
			if (parse_u64(optarg, CPU_SETSIZE - 1, &v))
				return bad("--cpu", optarg, "a CPU number");
			o->cpu = (int)v;
			break;
		case 's':
			errno = 0;
			o->seconds = strtod(optarg, &end);
			if (errno || *end || !(o->seconds >= 0.1 && o->seconds <= 60))
				return bad("--seconds", optarg, "0.1 to 60");
			break;
		case 'r':
			if (parse_u64(optarg, MAX_ROUNDS, &v) || !v)
				return bad("--rounds", optarg, "1 to 25");
			o->rounds = (int)v;
			break;
		case 'f':
			if (parse_u64(optarg, MAX_FLOWS, &v) || v < 2)
				return bad("--flows", optarg, "2 to 1048576");
			o->flows = (__u32)v;
			break;
		case 'n':
			if (parse_u64(optarg, 100000000, &v) || !v)
				return bad("--count", optarg, "1 to 100000000");
			o->count = v;
			break;
		case 'h': usage(stdout); exit(0);
		default: usage(stderr); return -1;
		}
	}
	if (!o->iface || !o->pin || !o->vip[V_L2] || !o->vip[V_IPIP] || !o->ipip_backend ||
	    macs != 7) {
		fprintf(stderr, "rate-gen: --iface, --pin, --lb-mac, --l2, --l2-mac, --ipip, --ipip-mac "
				"and --ipip-backend are required\n");
		usage(stderr);
		return -1;
	}
	for (int i = 0; i < N_VIPS; i++)
		if (inet_pton(AF_INET, o->vip[i], &a) != 1)
			return bad(i == V_L2 ? "--l2" : "--ipip", o->vip[i], "an IPv4 address");
	if (inet_pton(AF_INET, o->ipip_backend, &a) != 1)
		return bad("--ipip-backend", o->ipip_backend, "an IPv4 address");
	if (optind == argc) {
		fprintf(stderr, "rate-gen: no case given\n");
		usage(stderr);
		return -1;
	}
	for (; optind < argc; optind++) {
		int i;

		for (i = 0; i < N_CASES && strcmp(CASES[i].name, argv[optind]); i++)
			;
		if (i == N_CASES) {
			fprintf(stderr, "rate-gen: unknown case \"%s\"\n", argv[optind]);
			usage(stderr);
			return -1;
		}
		if (CASES[i].used) {
			fprintf(stderr, "rate-gen: case \"%s\" given twice\n", argv[optind]);
			return -1;
		}
		r->order[r->n_order++] = &CASES[i];
		CASES[i].used = true;
	}
	return 0;
}

static int iface_mac(const char *ifname, __u8 mac[6])
{
	struct ifreq ifr = { 0 };
	int fd = socket(AF_INET, SOCK_DGRAM, 0), err;

	if (fd < 0)
		return -errno;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	err = ioctl(fd, SIOCGIFHWADDR, &ifr) ? -errno : 0;
	close(fd);
	if (!err)
		memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
	return err;
}

/* The forwarder lbd attached: its pinned link, the program in it, its maps. */
static int open_lbd(struct rate *r)
{
	struct bpf_link_info info = { 0 };
	__u32 len = sizeof(info);
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/link", r->o.pin);
	r->link_fd = bpf_obj_get(path);
	if (r->link_fd < 0) {
		fprintf(stderr,
			"rate-gen: cannot open lbd's XDP link %s: %s (--pin is lbd's ROOT/IFACE: is lbd running?)\n",
			path, strerror(errno));
		return -1;
	}
	if (bpf_obj_get_info_by_fd(r->link_fd, &info, &len) || info.type != BPF_LINK_TYPE_XDP) {
		fprintf(stderr, "rate-gen: %s is not an XDP link\n", path);
		return -1;
	}
	r->fwd_fd = bpf_prog_get_fd_by_id(info.prog_id);
	r->cur_prog = P_FWD;
	snprintf(path, sizeof(path), "%s/stats", r->o.pin);
	r->stats_fd = bpf_obj_get(path);
	snprintf(path, sizeof(path), "%s/flows4", r->o.pin);
	r->flows4_fd = bpf_obj_get(path);
	if (r->fwd_fd < 0 || r->stats_fd < 0 || r->flows4_fd < 0) {
		fprintf(stderr, "rate-gen: cannot open the forwarder's program or maps under %s: %s\n",
			r->o.pin, strerror(errno));
		return -1;
	}
	return 0;
}

static int use_prog(struct rate *r, int prog)
{
	int fd = prog == P_REF	 ? bpf_program__fd(r->ref->progs.ref_macswap)
		 : prog == P_LKP  ? bpf_program__fd(r->gen->progs.ref_lookup)
		 : prog == P_LINE ? bpf_program__fd(r->gen->progs.ref_line)
				  : r->fwd_fd;
	static const char *const name[] = { "reference", "forwarder", "lookup reference",
					    "line reference" };

	if (r->cur_prog == prog)
		return 0;
	if (bpf_link_update(r->link_fd, fd, NULL)) {
		fprintf(stderr, "rate-gen: cannot put the %s in lbd's link: %s\n", name[prog],
			strerror(errno));
		return -1;
	}
	r->cur_prog = prog;
	return 0;
}

static int setup(struct rate *r)
{
	r->ncpu = libbpf_num_possible_cpus();
	r->ifindex = (int)if_nametoindex(r->o.iface);
	if (!r->ifindex || iface_mac(r->o.iface, r->gen_mac)) {
		fprintf(stderr, "rate-gen: no interface \"%s\" here: %s\n", r->o.iface, strerror(errno));
		return -1;
	}
	if (r->o.cpu >= 0) {
		cpu_set_t set;

		CPU_ZERO(&set);
		CPU_SET(r->o.cpu, &set);
		if (sched_setaffinity(0, sizeof(set), &set)) {
			fprintf(stderr, "rate-gen: cannot pin to CPU %d: %s\n", r->o.cpu, strerror(errno));
			return -1;
		}
	}
	if (open_lbd(r))
		return -1;
	r->gen = bench_gen_bpf__open();
	if (r->gen) /* one 64-byte line per flow: 64 MiB for a million */
		r->gen->bss->lines_n = r->o.flows;
	if (r->gen && (bpf_map__reuse_fd(r->gen->maps.flows4, r->flows4_fd) ||
		       bpf_map__set_max_entries(r->gen->maps.lines, r->o.flows) ||
		       bench_gen_bpf__load(r->gen))) {
		bench_gen_bpf__destroy(r->gen);
		r->gen = NULL;
	}
	r->ref = ref_macswap_bpf__open_and_load();
	if (!r->gen || !r->ref) {
		fprintf(stderr, "rate-gen: cannot load the generator or the reference: %s\n",
			strerror(errno));
		return -1;
	}
	r->count_link = bpf_program__attach_xdp(r->gen->progs.bench_count, r->ifindex);
	if (!r->count_link) {
		fprintf(stderr, "rate-gen: cannot attach the counter to %s: %s\n", r->o.iface,
			strerror(errno));
		return -1;
	}
	return 0;
}

static void teardown(struct rate *r)
{
	if (r->link_fd >= 0 && r->fwd_fd >= 0)
		use_prog(r, P_FWD); /* never leave the reference in lbd's link */
	bpf_link__destroy(r->count_link);
	bench_gen_bpf__destroy(r->gen);
	ref_macswap_bpf__destroy(r->ref);
	if (r->link_fd >= 0)
		close(r->link_fd);
	if (r->fwd_fd >= 0)
		close(r->fwd_fd);
	if (r->stats_fd >= 0)
		close(r->stats_fd);
	if (r->flows4_fd >= 0)
		close(r->flows4_fd);
}

/* The 64-byte frame of case c, and what the counter expects of it. */
static int prepare(struct rate *r, const struct rcase *c)
{
	struct pkt_spec s = { .family = 4, .proto = IPPROTO_TCP, .sport = 40000, .dport = 80,
			      .tcp_flags = 0x10, .payload = 10, .df = true };
	struct gen_expect ex = { 0 };
	const __u8 *mac = r->gen_mac;
	__u8 buf[PKT_MAX];
	size_t len;

	s.src = c->many ? CLIENTN : CLIENT1;
	s.dst = r->o.vip[c->vip];
	if (c->syn) {
		s.src = CLIENTS;
		s.tcp_flags = 0x02;
	}
	len = pkt_build(&s, buf);
	if (len != GEN_HDR) {
		fprintf(stderr, "rate-gen: frame of %zu bytes, want %d\n", len, GEN_HDR);
		return -1;
	}
	memcpy(buf, r->o.lb_mac, 6);
	memcpy(buf + 6, r->gen_mac, 6);
	memcpy(r->gen->bss->gen_frame, buf, GEN_HDR);
	r->gen->bss->gen_flows = c->many ? r->o.flows : 1;
	r->gen->bss->gen_seq = 0;
	if (c->prog == P_FWD) {
		mac = r->o.expect_mac[c->vip];
		if (c->vip == V_IPIP)
			inet_pton(AF_INET, r->o.ipip_backend, &ex.outer_daddr);
	}
	memcpy(&ex.mac_lo, mac, 4);
	memcpy(&ex.mac_hi, mac + 4, 2);
	r->gen->bss->gen_expect = ex;
	return use_prog(r, c->prog);
}

struct snap {
	__u64 ns, sent, frames, ok, lookup_hits;
	__u64 st[XDPLB_STAT_MAX];
};

static int snapshot(struct rate *r, struct snap *s)
{
	struct gen_counts gc[r->ncpu];
	struct xdplb_stats xs[r->ncpu];
	__u32 zero = 0;

	memset(s, 0, sizeof(*s));
	if (bpf_map_lookup_elem(bpf_map__fd(r->gen->maps.gen_counts), &zero, gc) ||
	    bpf_map_lookup_elem(r->stats_fd, &zero, xs))
		return -errno;
	for (int i = 0; i < r->ncpu; i++) {
		s->frames += gc[i].frames;
		s->ok += gc[i].ok;
		s->lookup_hits += gc[i].lookup_hits;
		for (int j = 0; j < XDPLB_STAT_MAX; j++)
			s->st[j] += xs[i].v[j];
	}
	s->sent = r->gen->bss->gen_sent;
	s->ns = bench_now_ns();
	return 0;
}

/* Sends n frames; *busy_ns grows by the time the kernel spent in the run
 * loop (the generator, and the softirqs its batches raised on this CPU;
 * not the time the thread waited for the CPU between batches). */
static int send_frames(struct rate *r, __u32 n, __u64 *busy_ns)
{
	struct xdp_md ctx = { .data_end = GEN_HDR, .ingress_ifindex = (__u32)r->ifindex };
	__u8 frame[GEN_HDR];
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = frame, .data_size_in = GEN_HDR,
		    .ctx_in = &ctx, .ctx_size_in = sizeof(ctx), .repeat = (int)n,
		    .flags = BPF_F_TEST_XDP_LIVE_FRAMES, .batch_size = BATCH);
	int err;

	memcpy(frame, r->gen->bss->gen_frame, GEN_HDR);
	err = bpf_prog_test_run_opts(bpf_program__fd(r->gen->progs.bench_gen), &o);
	if (err && errno != EINTR) {
		fprintf(stderr, "rate-gen: BPF_PROG_TEST_RUN (live frames): %s\n", strerror(errno));
		return -1;
	}
	*busy_ns += (__u64)o.duration * n; /* duration: ns per frame, rounded down */
	return 0;
}

/* Check mode: N frames in batches, each waited for, so no ring overflows. */
static int send_paced(struct rate *r, __u64 n)
{
	__u64 t0, busy = 0;
	struct snap s;

	while (n && !stopping) {
		__u32 k = n > BATCH ? BATCH : (__u32)n;

		if (send_frames(r, k, &busy))
			return -1;
		n -= k;
		for (t0 = bench_now_ns();;) {
			if (snapshot(r, &s))
				return -1;
			if (s.frames >= s.sent || s.ns - t0 > CHECK_WAIT_NS)
				break;
			usleep(100);
		}
	}
	return 0;
}

static int sample(struct rate *r, struct rcase *c)
{
	__u64 want = r->o.count ? r->o.count : c->once ? r->o.flows : 0;
	__u64 deadline, end, sent = 0, busy = 0;
	struct snap a, b;
	if (prepare(r, c) || snapshot(r, &a))
		return -1;
	deadline = a.ns + (__u64)(r->o.seconds * 1e9);
	if (r->o.count) {
		if (send_paced(r, want))
			return -1;
	} else {
		for (;;) {
			__u32 k = want ? (want - sent > CALL_REPEAT ? CALL_REPEAT : (__u32)(want - sent))
				       : CALL_REPEAT;

			if (send_frames(r, k, &busy))
				return -1;
			sent += k;
			if (stopping || (want ? sent >= want : bench_now_ns() >= deadline))
				break;
		}
	}
	end = bench_now_ns();
	usleep(20000); /* frames a softirq deferred to ksoftirqd may still hold */
	if (snapshot(r, &b))
		return -1;
	/* time to the last send; the few frames counted after it are in */
	c->wall[c->n] = (double)(b.frames - a.frames) / ((double)(end - a.ns) / 1e3);
	c->mpps[c->n] = busy ? (double)(b.frames - a.frames) / ((double)busy / 1e3) : 0;
	c->n++;
	c->sent += b.sent - a.sent;
	c->arrived += b.frames - a.frames;
	c->ok += b.ok - a.ok;
	if (c->prog == P_LKP) {
		c->hit += b.lookup_hits - a.lookup_hits;
		c->miss += (b.frames - a.frames) - (b.lookup_hits - a.lookup_hits);
	} else {
		c->hit += b.st[XDPLB_STAT_FLOW_HIT] - a.st[XDPLB_STAT_FLOW_HIT];
		c->miss += b.st[XDPLB_STAT_FLOW_MISS_NONSYN] - a.st[XDPLB_STAT_FLOW_MISS_NONSYN] +
			   b.st[XDPLB_STAT_FLOW_MISS_SYN] - a.st[XDPLB_STAT_FLOW_MISS_SYN];
	}
	c->fwd_drop += b.st[XDPLB_STAT_DROP] - a.st[XDPLB_STAT_DROP];
	c->fwd_pass += b.st[XDPLB_STAT_PASS] - a.st[XDPLB_STAT_PASS];
	/* A flow's first packet learns it half-open, its second promotes it
	 * (bpf/xdplb.bpf.c): after the first pass over new flows, one more,
	 * not measured, so that the cycling cases find established flows. */
	if (c->once && r->o.count)
		return send_paced(r, r->o.flows);
	for (sent = 0; c->once && sent < r->o.flows; sent += CALL_REPEAT)
		if (send_frames(r, r->o.flows - sent > CALL_REPEAT ? CALL_REPEAT
								  : (__u32)(r->o.flows - sent),
				&busy))
			return -1;
	return 0;
}

/* The median of s[0..n), s left as it is; the extremes in lo and hi. */
static double median(const double *s, int n, double *lo, double *hi)
{
	double v[MAX_ROUNDS], m;

	memcpy(v, s, sizeof(double) * (size_t)n);
	m = bench_median(v, n); /* sorts v */
	if (lo)
		*lo = v[0], *hi = v[n - 1];
	return m;
}

static void summarize(struct rcase *c)
{
	if (!c->n)
		return;
	c->med = median(c->mpps, c->n, &c->lo, &c->hi);
	c->wall_med = median(c->wall, c->n, NULL, NULL);
}

static const struct rcase *ref_of(const struct rcase *c)
{
	const struct rcase *ref = &CASES[c->many ? 1 : 0];

	return ref->n && ref != c ? ref : NULL;
}

/* The median of the per-round ratios to the reference's sample of the same
 * round (taken just before): drift of a shared machine between rounds
 * cancels.  A case run once compares with the first round. */
static double ratio_to_ref(const struct rcase *c)
{
	const struct rcase *ref = ref_of(c);
	double q[MAX_ROUNDS];
	int n = 0;

	for (int k = 0; ref && k < c->n && k < ref->n; k++)
		if (ref->mpps[k] > 0)
			q[n++] = c->mpps[k] / ref->mpps[k];
	return n ? median(q, n, NULL, NULL) : -1;
}

/* Entries in the pinned flows4 table (keys read in batches). */
static long count_flows4(struct rate *r)
{
	static __u8 keys[4096 * sizeof(struct xdplb_flow4_key)], vals[4096 * sizeof(struct xdplb_flow_val)];
	LIBBPF_OPTS(bpf_map_batch_opts, bo);
	__u64 in = 0, out = 0;
	long total = 0;
	__u32 n;
	int err;

	for (bool first = true;; first = false) {
		n = 4096;
		err = bpf_map_lookup_batch(r->flows4_fd, first ? NULL : &in, &out, keys, vals, &n, &bo);
		total += n;
		if (err)
			return errno == ENOENT ? total : -1;
		in = out;
	}
}

static void report(struct rate *r)
{
	FILE *t = r->o.tsv ? fopen(r->o.tsv, "a") : NULL;

	if (r->o.tsv && !t)
		fprintf(stderr, "rate-gen: cannot write %s: %s\n", r->o.tsv, strerror(errno));
	printf("%-56s %6s %11s %6s %6s %11s %11s %11s %11s %11s\n", "case", "Mpps", "min-max",
	       "x ref", "wall", "sent", "arrived", "ok", "flow hits", "misses");
	for (int i = 0; i < N_CASES; i++) {
		struct rcase *c = &CASES[i];
		char ratio[16] = "-", range[32], desc[96];

		if (!c->n)
			continue;
		if (c->many)
			snprintf(desc, sizeof(desc), c->desc, r->o.flows);
		else
			snprintf(desc, sizeof(desc), "%s", c->desc);
		if (c == &CASES[0] || c == &CASES[1]) /* the reference itself */
			snprintf(ratio, sizeof(ratio), "1.00");
		else if (ratio_to_ref(c) >= 0)
			snprintf(ratio, sizeof(ratio), "%.2f", ratio_to_ref(c));
		snprintf(range, sizeof(range), "%.2f-%.2f", c->lo, c->hi);
		printf("%-56s %6.2f %11s %6s %6.2f %11llu %11llu %11llu %11llu %11llu\n", desc,
		       c->med, range, ratio, c->wall_med, (unsigned long long)c->sent,
		       (unsigned long long)c->arrived,
		       (unsigned long long)c->ok, (unsigned long long)c->hit,
		       (unsigned long long)c->miss);
		if (t)
			fprintf(t, "%s\t%s\t%s\t%.3f\t%.3f\t%.3f\t%s\t%.3f\t%d\t%llu\t%llu\t%llu\t%llu\t%llu\t%llu\n",
				r->o.label, c->name, desc, c->med, c->lo, c->hi, ratio, c->wall_med, c->n,
				(unsigned long long)c->sent, (unsigned long long)c->arrived,
				(unsigned long long)c->ok, (unsigned long long)c->hit,
				(unsigned long long)c->miss,
				(unsigned long long)(c->fwd_drop + c->fwd_pass));
	}
	if (t)
		fclose(t);
}

static int run(struct rate *r)
{
	int rounds = r->o.count ? 1 : r->o.rounds;

	for (int k = 0; k < rounds; k++)
		for (int i = 0; i < r->n_order; i++) {
			struct rcase *c = r->order[i];

			if (c->once && k > 0)
				continue;
			if (sample(r, c))
				return -1;
			if (stopping) {
				fprintf(stderr, "rate-gen: interrupted\n");
				return -1;
			}
		}
	for (int i = 0; i < N_CASES; i++)
		summarize(&CASES[i]);
	report(r);
	if (r->o.table)
		printf("flows4 entries after the run: %ld (N = %u flows, %d CPUs)\n",
		       count_flows4(r), r->o.flows, r->ncpu);
	return 0;
}

/* Check mode: every frame sent arrived, rewritten as expected. */
static int verdict(void)
{
	int failed = 0;

	for (int i = 0; i < N_CASES; i++) {
		const struct rcase *c = &CASES[i];

		if (!c->n)
			continue;
		if (c->arrived != c->sent || c->ok != c->sent) {
			printf("rate-gen: %s: %llu sent, %llu arrived, %llu as expected\n", c->name,
			       (unsigned long long)c->sent, (unsigned long long)c->arrived,
			       (unsigned long long)c->ok);
			failed = 1;
		}
	}
	return failed;
}

int bench_rate_gen(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_signal };
	struct rate r = { 0 };
	int ret = 1;

	r.link_fd = r.fwd_fd = r.stats_fd = r.flows4_fd = -1;
	if (parse_args(&r, argc, argv))
		return 2;
	sigaction(SIGINT, &sa, NULL); /* no SA_RESTART: a test run returns EINTR */
	sigaction(SIGTERM, &sa, NULL);
	if (!setup(&r) && !run(&r))
		ret = r.o.count ? verdict() : 0;
	teardown(&r);
	return ret;
}
