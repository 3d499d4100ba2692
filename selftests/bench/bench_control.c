// SPDX-License-Identifier: GPL-2.0
/* bench_control.c - the control plane against a running lbd: how long from
 * `lbctl backend add` until the datapath sends new flows to the backend, a
 * restore of 512 VIPs x 16 backends, `lbctl flows top 10` and a /metrics
 * scrape with a million flows, and lbd's memory on the way.
 *
 * Run by selftests/bench/control.sh, which builds the lab (an l2 lab from
 * selftests/net/lib.sh), starts lbd and runs this inside the LB's
 * namespace with the environment below.  The reference is one `lbctl vip
 * show` round trip (fork, exec, connect, answer) measured in the same run;
 * the restore is also set against the Maglev builds it implies.
 *
 *   XDPLB_PIN        lbd's --pin directory (prog, flows4, ... pinned there)
 *   XDPLB_LBCTL      the lbctl binary (LBCTL_SOCKET names the socket)
 *   XDPLB_LBD_PID    lbd's pid (memory from /proc)
 *   XDPLB_VIP        an IPv4 VIP:port/tcp served by one backend
 *   XDPLB_CLIENT     the client's IPv4 address (source of probe packets)
 *   XDPLB_BE1        the VIP's backend (kept in every restore file)
 *   XDPLB_BE2, XDPLB_BE2_MAC  the backend added and removed, and its MAC
 *   XDPLB_TMP        a directory for the restore files
 *   XDPLB_METRICS    host:port of lbd's /metrics
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bench.h"
#include "../pkt.h"
#include "maglev.h"
#include "xdplb.h"

#define ROUNDS 9
#define N_VIPS 512
#define N_BE 16
#define RING_M 65537
#define FLOWS (1u << 20)
#define PROBE_LIMIT_NS 5000000000ull

/* A step failed: say which, and make the bench part fail. */
__attribute__((noreturn, format(printf, 1, 2))) static void fail(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "bench control: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	exit(1);
}

static const char *env(const char *name)
{
	const char *v = getenv(name);

	if (!v || !*v) {
		fprintf(stderr, "bench control: %s is not set (run it through "
				"selftests/bench/control.sh: make bench-control)\n",
			name);
		exit(2);
	}
	return v;
}

/* Start argv with stdout to /dev/null; its pid, or -1. */
static pid_t spawn(char *const argv[])
{
	pid_t pid = fork();
	int fd;

	if (!pid) {
		fd = open("/dev/null", O_WRONLY);
		if (fd >= 0)
			dup2(fd, 1);
		execvp(argv[0], argv);
		_exit(127);
	}
	return pid;
}

/* Wait for pid; its exit status, or -1. */
static int reap(pid_t pid)
{
	int st;

	if (pid < 0 || waitpid(pid, &st, 0) < 0)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int run(char *const argv[])
{
	return reap(spawn(argv));
}

static __u64 timed(char *const argv[], int *status)
{
	__u64 t0 = bench_now_ns();

	*status = run(argv);
	return bench_now_ns() - t0;
}

static double ms(__u64 ns)
{
	return (double)ns / 1e6;
}

/* VmRSS and RssAnon of a process, KiB.  VmRSS includes the ring arrays
 * lbd maps (memory of the kernel's maps, shared), RssAnon is lbd's own. */
static void mem_of(int pid, long *rss, long *anon)
{
	char path[64], line[256];
	FILE *f;

	*rss = *anon = -1;
	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	f = fopen(path, "r");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		sscanf(line, "VmRSS: %ld", rss);
		sscanf(line, "RssAnon: %ld", anon);
	}
	fclose(f);
}

/* The kernel's accounting of a map: memlock from fdinfo, max_entries. */
static int map_memlock(int fd, unsigned long long *memlock, unsigned int *entries)
{
	char path[64], line[256];
	FILE *f;

	*memlock = 0;
	*entries = 0;
	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		sscanf(line, "memlock: %llu", memlock);
		sscanf(line, "max_entries: %u", entries);
	}
	fclose(f);
	return *memlock && *entries ? 0 : -1;
}

static int pinned(const char *pin, const char *name)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", pin, name);
	return bpf_obj_get(path);
}

struct probe {
	int prog;
	struct pkt_spec s;
	char vip[64];
	__u16 sport;
	__u8 mac[6];
};

/* One new flow (a SYN from a fresh source port) through the program in
 * force: does it go to the probed backend? */
static int probe_hits(struct probe *p)
{
	__u8 in[PKT_MAX], out[PKT_MAX + 256];
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = in, .data_out = out,
		    .data_size_out = sizeof(out), .repeat = 1);

	p->s.sport = p->sport++;
	if (p->sport < 10000)
		p->sport = 10000;
	o.data_size_in = (__u32)pkt_build(&p->s, in);
	if (bpf_prog_test_run_opts(p->prog, &o))
		return -1;
	return o.retval == XDP_TX && !memcmp(out, p->mac, 6);
}

/* Build what a restore implies: N_VIPS rings of N_BE backends, M=65537. */
static __u64 maglev_builds(void)
{
	struct maglev_backend be[N_BE];
	__u32 *table = malloc(RING_M * sizeof(*table));
	__u64 t0;
	int v, i;

	if (!table)
		return 0;
	t0 = bench_now_ns();
	for (v = 0; v < N_VIPS; v++) {
		for (i = 0; i < N_BE; i++) {
			memset(&be[i], 0, sizeof(be[i]));
			be[i].family = XDPLB_AF_INET;
			be[i].addr.v4 = htonl(0x0a640000u + (__u32)(v * N_BE + i) + 1);
			be[i].weight = 1;
			be[i].id = (__u32)(v * N_BE + i);
		}
		if (maglev_build(be, N_BE, RING_M, table)) {
			free(table);
			return 0;
		}
	}
	free(table);
	return bench_now_ns() - t0;
}

/* The restore file: the probe VIP with its backend, and (full) 512 VIPs
 * 10.101.x.y:80/tcp with 16 backends each from 10.100.0.0/16 (control.sh
 * gives the LB permanent neighbours for them). */
static int write_restore(const char *path, const char *vip, const char *be1, bool full)
{
	FILE *f = fopen(path, "w");
	int v, i, k;

	if (!f)
		return -1;
	fprintf(f, "vip add %s\nbackend add %s %s\n", vip, vip, be1);
	for (v = 0; full && v < N_VIPS; v++) {
		fprintf(f, "vip add 10.101.%d.%d:80/tcp\n", v / 250, v % 250 + 1);
		for (i = 0; i < N_BE; i++) {
			k = v * N_BE + i;
			fprintf(f, "backend add 10.101.%d.%d:80/tcp 10.100.%d.%d\n", v / 250,
				v % 250 + 1, k / 250, k % 250 + 1);
		}
	}
	return fclose(f);
}

/* Fill flows4 with FLOWS entries, each a copy of `val` (a real flow of the
 * probe VIP) from a distinct client address and port. */
static int fill_flows(int fd, const struct xdplb_flow_val *val, const struct pkt_spec *s)
{
	const __u32 batch = 4096;
	struct xdplb_flow4_key *k = calloc(batch, sizeof(*k));
	struct xdplb_flow_val *v = calloc(batch, sizeof(*v));
	LIBBPF_OPTS(bpf_map_batch_opts, o);
	__u32 i, j, n;
	int err = k && v ? 0 : -ENOMEM;

	for (i = 0; i < FLOWS && !err; i += batch) {
		for (j = 0; j < batch; j++) {
			k[j] = (struct xdplb_flow4_key){ .proto = IPPROTO_TCP };
			k[j].src = htonl(0x0b000000u + (i + j) / 32);
			inet_pton(AF_INET, s->dst, &k[j].dst);
			k[j].sport = htons((__u16)(20000 + (i + j) % 32));
			k[j].dport = htons(s->dport);
			v[j] = *val;
			v[j].packets = 1 + (i + j) % 1000;
			v[j].bytes = v[j].packets * 100;
		}
		n = batch;
		err = bpf_map_update_batch(fd, k, v, &n, &o) ? -errno : 0;
	}
	free(k);
	free(v);
	return err;
}

/* The flow of probe packet `s`, as the datapath learnt it: flows4, or a
 * slot of halfopen4 (an array: key and value in the value). */
static int find_flow(const char *pin, const struct pkt_spec *s, struct xdplb_flow_val *val)
{
	struct xdplb_flow4_key k, next;
	struct xdplb_half4 h;
	__u32 i, n;
	__be32 src;
	int fd;

	inet_pton(AF_INET, s->src, &src);
	fd = pinned(pin, "flows4");
	if (fd >= 0) {
		for (void *prev = NULL; !bpf_map_get_next_key(fd, prev, &next); prev = &k) {
			k = next;
			if (k.src == src && k.sport == htons(s->sport) &&
			    !bpf_map_lookup_elem(fd, &k, val)) {
				close(fd);
				return 0;
			}
		}
		close(fd);
	}
	fd = pinned(pin, "halfopen4");
	if (fd < 0)
		return -1;
	for (i = 0, n = 1; i < n; i++) {
		struct bpf_map_info info = { 0 };
		__u32 len = sizeof(info);

		if (!i && !bpf_obj_get_info_by_fd(fd, &info, &len))
			n = info.max_entries;
		if (bpf_map_lookup_elem(fd, &i, &h) || !h.val.last_ns)
			continue;
		if (h.key.src == src && h.key.sport == htons(s->sport)) {
			*val = h.val;
			close(fd);
			return 0;
		}
	}
	close(fd);
	return -1;
}

void bench_control(void)
{
	const char *pin = env("XDPLB_PIN"), *tmp = env("XDPLB_TMP");
	char lbctl[256], vip[64], be2[64], full[512], empty[512], url[128], *colon;
	__u64 ref[ROUNDS], add_dp[ROUNDS], add_ret[ROUNDS], t[ROUNDS], t0, mg[3];
	__u64 r_full, r_same, r_empty, top, scrape, ref_ns, mg_ns, add_dp_ns, add_ret_ns;
	int lbd_pid = atoi(env("XDPLB_LBD_PID")), i, st, bad = 0, tries = 0;
	long rss[4], anon[4];
	struct probe p = { 0 };
	struct xdplb_flow_val fv;
	unsigned long long ml;
	unsigned int me;
	char path[PATH_MAX + 32];
	FILE *md;
	int fd;

	snprintf(lbctl, sizeof(lbctl), "%s", env("XDPLB_LBCTL"));
	snprintf(vip, sizeof(vip), "%s", env("XDPLB_VIP"));
	snprintf(be2, sizeof(be2), "%s", env("XDPLB_BE2"));
	snprintf(url, sizeof(url), "http://%s/metrics", env("XDPLB_METRICS"));
	if (bench_parse_mac(env("XDPLB_BE2_MAC"), p.mac))
		fail("bad XDPLB_BE2_MAC\n");
	p.prog = pinned(pin, "prog");
	if (p.prog < 0)
		fail("%s/prog: %s\n", pin, strerror(errno));
	/* probe packets: TCP SYNs from the client to the VIP */
	snprintf(p.vip, sizeof(p.vip), "%s", vip);
	colon = strchr(p.vip, ':');
	if (!colon)
		fail("XDPLB_VIP is ADDR:PORT/tcp\n");
	*colon = 0;
	p.s = (struct pkt_spec){ .family = 4, .src = env("XDPLB_CLIENT"), .dst = p.vip,
				 .proto = IPPROTO_TCP, .dport = (__u16)atoi(colon + 1),
				 .tcp_flags = 0x02 };
	p.sport = 10000;
	mem_of(lbd_pid, &rss[0], &anon[0]);

	char *show[] = { lbctl, "vip", "show", NULL };
	char *add[] = { lbctl, "backend", "add", vip, be2, NULL };
	char *del[] = { lbctl, "backend", "del", vip, be2, NULL };

	for (i = 0; i < ROUNDS; i++) {
		ref[i] = timed(show, &st);
		bad |= st;
	}
	ref_ns = bench_median_u64(ref, ROUNDS);

	/* lbctl backend add -> the first new flow forwarded to it */
	for (i = 0; i < ROUNDS && !bad; i++) {
		pid_t pid;
		int hit = 0;

		t0 = bench_now_ns();
		pid = spawn(add);
		if (pid < 0) {
			bad = 1;
			break;
		}
		while (bench_now_ns() - t0 < PROBE_LIMIT_NS) {
			hit = probe_hits(&p);
			tries++;
			if (hit)
				break;
			usleep(20); /* leave the other core to lbd */
		}
		add_dp[i] = bench_now_ns() - t0;
		if (reap(pid))
			bad = 1;
		add_ret[i] = bench_now_ns() - t0;
		if (hit != 1)
			bad = 1;
		if (run(del))
			bad = 1;
	}
	if (bad)
		fail("lbctl or the probe failed (is lbd up?)\n");
	add_dp_ns = bench_median_u64(add_dp, ROUNDS);
	add_ret_ns = bench_median_u64(add_ret, ROUNDS);

	/* restore: 512 x 16 from empty, the same again (nothing changes), back to empty */
	snprintf(full, sizeof(full), "%s/restore-512x16.conf", tmp);
	snprintf(empty, sizeof(empty), "%s/restore-empty.conf", tmp);
	if (write_restore(full, vip, env("XDPLB_BE1"), true) ||
	    write_restore(empty, vip, env("XDPLB_BE1"), false))
		fail("cannot write %s\n", full);
	char *r_f[] = { lbctl, "restore", full, NULL };
	char *r_e[] = { lbctl, "restore", empty, NULL };
	__u64 tf[3], ts[3], te[3];

	for (i = 0; i < 3; i++) {
		mg[i] = maglev_builds();
		tf[i] = timed(r_f, &st);
		bad |= st;
		if (i == 0)
			mem_of(lbd_pid, &rss[1], &anon[1]);
		ts[i] = timed(r_f, &st);
		bad |= st;
		te[i] = timed(r_e, &st);
		bad |= st;
	}
	r_full = bench_median_u64(tf, 3);
	r_same = bench_median_u64(ts, 3);
	r_empty = bench_median_u64(te, 3);
	mg_ns = bench_median_u64(mg, 3);
	if (bad || !mg_ns)
		fail("restore failed\n");

	/* a million flows: lbctl flows top 10, and a /metrics scrape with
	 * the 512 x 16 configuration in place */
	if (run(r_f) || probe_hits(&p) < 0 || find_flow(pin, &p.s, &fv))
		fail("no flow of %s learnt\n", vip);
	fd = pinned(pin, "flows4");
	if (fd < 0 || fill_flows(fd, &fv, &p.s))
		fail("cannot fill flows4: %s\n", strerror(errno));
	char *topc[] = { lbctl, "flows", "top", "10", NULL };
	char *curl[] = { "curl", "-sf", "--compressed", "-o", "/dev/null", url, NULL };

	for (i = 0; i < 3; i++) {
		t[i] = timed(topc, &st);
		bad |= st;
	}
	top = bench_median_u64(t, 3);
	for (i = 0; i < ROUNDS; i++) {
		t[i] = timed(curl, &st);
		bad |= st;
	}
	scrape = bench_median_u64(t, ROUNDS);
	mem_of(lbd_pid, &rss[2], &anon[2]);
	if (bad)
		fail("flows top / scrape failed\n");

	printf("  reference: lbctl vip show round trip %.2f ms (median of %d)\n", ms(ref_ns),
	       ROUNDS);
	printf("  %-52s %10s %10s\n", "what", "ms", "x ref");
	printf("  %-52s %10.2f %10.2f\n", "backend add -> first new flow to it", ms(add_dp_ns),
	       (double)add_dp_ns / (double)ref_ns);
	printf("  %-52s %10.2f %10.2f\n", "backend add -> lbctl returned", ms(add_ret_ns),
	       (double)add_ret_ns / (double)ref_ns);
	printf("  %-52s %10.1f %10.1f   (%.2fx the %d Maglev builds: %.1f ms)\n",
	       "restore 512 VIPs x 16 backends, from empty", ms(r_full),
	       (double)r_full / (double)ref_ns, (double)r_full / (double)mg_ns, N_VIPS, ms(mg_ns));
	printf("  %-52s %10.1f %10.1f\n", "restore the same again (no change)", ms(r_same),
	       (double)r_same / (double)ref_ns);
	printf("  %-52s %10.1f %10.1f\n", "restore to empty", ms(r_empty),
	       (double)r_empty / (double)ref_ns);
	printf("  %-52s %10.1f %10.1f\n", "lbctl flows top 10, 1M flows", ms(top),
	       (double)top / (double)ref_ns);
	printf("  %-52s %10.1f %10.1f\n", "curl /metrics --compressed, 512 x 16", ms(scrape),
	       (double)scrape / (double)ref_ns);
	printf("  lbd memory (VmRSS / RssAnon, MiB): idle %.1f / %.1f; 512 x 16 %.1f / %.1f; "
	       "+ 1M flows, top 10, scrapes %.1f / %.1f\n",
	       rss[0] / 1024.0, anon[0] / 1024.0, rss[1] / 1024.0, anon[1] / 1024.0,
	       rss[2] / 1024.0, anon[2] / 1024.0);

	md = bench_open_md("control.md", path, sizeof(path));
	if (!md)
		fail("cannot write %s: %s\n", path, strerror(errno));
	fprintf(md, "# control plane: a running lbd, timed through lbctl\n\n"
		    "Reference: one `lbctl vip show` round trip (fork, exec, connect, "
		    "answer), %.2f ms, median of %d, same run.\n\n",
		ms(ref_ns), ROUNDS);
	fprintf(md, "| what | ms | x reference |\n| --- | ---: | ---: |\n");
	fprintf(md, "| `lbctl backend add` -> first new flow forwarded to it (median of %d, %d probes) | %.2f | %.2f |\n",
		ROUNDS, tries, ms(add_dp_ns), (double)add_dp_ns / (double)ref_ns);
	fprintf(md, "| `lbctl backend add` returned | %.2f | %.2f |\n", ms(add_ret_ns),
		(double)add_ret_ns / (double)ref_ns);
	fprintf(md, "| `lbctl restore`: 512 VIPs x 16 backends, from empty | %.1f | %.1f |\n",
		ms(r_full), (double)r_full / (double)ref_ns);
	fprintf(md, "| ... its %d Maglev builds (M=%d) alone | %.1f | %.1f |\n", N_VIPS, RING_M,
		ms(mg_ns), (double)mg_ns / (double)ref_ns);
	fprintf(md, "| `lbctl restore` of the same again (no change) | %.1f | %.1f |\n",
		ms(r_same), (double)r_same / (double)ref_ns);
	fprintf(md, "| `lbctl restore` to empty | %.1f | %.1f |\n", ms(r_empty),
		(double)r_empty / (double)ref_ns);
	fprintf(md, "| `lbctl flows top 10`, %u flows | %.1f | %.1f |\n", FLOWS, ms(top),
		(double)top / (double)ref_ns);
	fprintf(md, "| `curl --compressed /metrics`, 512 x 16 | %.1f | %.1f |\n\n", ms(scrape),
		(double)scrape / (double)ref_ns);
	fprintf(md, "lbd memory, VmRSS / RssAnon (VmRSS counts the ring arrays lbd maps, which are the kernel's map memory; RssAnon is lbd's own): idle %.1f / %.1f MiB; with 512 x 16 %.1f / %.1f MiB; "
		    "with 1M flows after top 10 and scrapes %.1f / %.1f MiB.\n\n",
		rss[0] / 1024.0, anon[0] / 1024.0, rss[1] / 1024.0, anon[1] / 1024.0,
		rss[2] / 1024.0, anon[2] / 1024.0);
	fprintf(md, "| map | entries | memlock | bytes/entry |\n| --- | ---: | ---: | ---: |\n");
	printf("  flow tables (kernel memlock):");
	for (i = 0; i < 4; i++) {
		static const char *const names[] = { "flows4", "halfopen4", "flows6", "halfopen6" };
		int mfd = pinned(pin, names[i]);

		if (mfd < 0 || map_memlock(mfd, &ml, &me)) {
			if (mfd >= 0)
				close(mfd);
			continue;
		}
		fprintf(md, "| %s | %u | %.1f MiB | %.0f |\n", names[i], me, ml / 1048576.0,
			(double)ml / me);
		printf(" %s %.0f B/entry;", names[i], (double)ml / me);
		close(mfd);
	}
	printf("\n");
	fclose(md);
	close(fd);
	close(p.prog);
}
