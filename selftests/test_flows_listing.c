// SPDX-License-Identifier: GPL-2.0
/* test_flows_listing.c - `lbctl flows` over lbd's control socket with a
 * large flow table: the listing is made over many loop turns, so another
 * client's request is answered while it is being made, and it comes out
 * whole and sorted.  The loop is driven by hand: no timing is asserted,
 * only the order in which answers arrive. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <bpf/libbpf.h>

#include "test_progs.h"
#include "commands.h"
#include "ctl.h"
#include "fixture.h"
#include "lbd.h"
#include "sync.h"

#define N_FLOWS 200000
#define VIP "10.0.0.100:80/tcp"

struct client {
	int fd;
	struct strbuf got;
	bool eof;
};

static bool client_start(struct client *c, const char *path, const char *req)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	sb_init(&c->got, 0);
	c->eof = false;
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		return false;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    send(c->fd, req, strlen(req), MSG_NOSIGNAL) != (ssize_t)strlen(req) ||
	    shutdown(c->fd, SHUT_WR))
		return false;
	return fcntl(c->fd, F_SETFL, O_NONBLOCK) == 0;
}

/* Read what the server has sent so far. */
static void client_pump(struct client *c)
{
	char buf[65536];
	ssize_t n;

	while (!c->eof && (n = recv(c->fd, buf, sizeof(buf), 0)) != 0) {
		if (n < 0) {
			if (errno != EINTR)
				return;
			continue;
		}
		sb_append(&c->got, buf, (size_t)n);
	}
	c->eof = true;
}

static void client_end(struct client *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	sb_free(&c->got);
}

static __u64 longest_turn_us; /* shown with -v, never asserted */

static __u64 now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000000 + (__u64)ts.tv_nsec / 1000;
}

/* Turn the loop until every client has its whole answer (or max turns). */
static long run_until_answered(struct loop *l, struct client **cs, int n, long max)
{
	long turns = 0;
	__u64 t0;
	bool all;
	int i;

	do {
		t0 = now_us();
		loop_once(l, 10);
		if (now_us() - t0 > longest_turn_us)
			longest_turn_us = now_us() - t0;
		turns++;
		all = true;
		for (i = 0; i < n; i++) {
			client_pump(cs[i]);
			all = all && cs[i]->eof;
		}
	} while (!all && turns < max);
	return turns;
}

/* N_FLOWS established IPv4 flows written with the product's own
 * dp_flow_put(), bytes all different (so the order is known), from one CPU:
 * each CPU's LRU list holds capacity / CPUs entries. */
static int fill(struct lbd *d, __u32 vip_id, __u32 be_id)
{
	struct dp_flow f = { .family = XDPLB_AF_INET, .proto = IPPROTO_TCP };
	cpu_set_t one, old;
	int err = 0;
	__u32 i;

	if (sched_getaffinity(0, sizeof(old), &old))
		return -errno;
	CPU_ZERO(&one);
	CPU_SET(sched_getcpu() < 0 ? 0 : sched_getcpu(), &one);
	if (sched_setaffinity(0, sizeof(one), &one))
		return -errno;
	inet_pton(AF_INET, "10.0.0.100", f.dst.bytes);
	f.dport = htons(80);
	f.v.vip_id = vip_id;
	f.v.backend_id = be_id;
	for (i = 0; i < N_FLOWS && !err; i++) {
		f.src.v4 = htonl(0x0b000000u + i / 16);
		f.sport = htons((__u16)(20000 + i % 16));
		/* a permutation of 0..N-1: bytes unique, in no order the walk follows */
		f.v.bytes = 100ull + (__u64)((i * 7919ull) % N_FLOWS);
		f.v.packets = 1 + i % 1000;
		err = dp_flow_put(&d->dp, &f);
	}
	sched_setaffinity(0, sizeof(old), &old);
	return err;
}

static int setup(struct lbd *d, const char *path)
{
	struct dp_opts o = { .flows = (__u32)(libbpf_num_possible_cpus() * (N_FLOWS + N_FLOWS / 4)) };
	struct xdplb_config cfg = { .mtu = FIX_MTU, .seed = FIX_SEED };
	struct sync_env env = { .dp = &d->dp, .model = &d->model };
	struct xdplb_backend_info be = { .flags = XDPLB_BE_F_ACTIVE };
	const struct xdplb_vip *v;
	char err[256];
	__u32 id;

	memset(d, 0, sizeof(*d));
	model_init(&d->model);
	d->loop = env.loop = loop_new();
	if (!d->loop || !(d->sync = sync_open(&env)) ||
	    counters_init(&d->counters, &d->dp, &d->model, NULL) || dp_open(&d->dp, &o) ||
	    dp_config_set(&d->dp, &cfg))
		return -1;
	if (fix_apply(&d->model, "vip add " VIP) ||
	    fix_apply(&d->model, "backend add " VIP " 10.0.1.1") ||
	    fix_apply(&d->model, "vip add 10.0.0.101:80/tcp"))
		return -1;
	v = &d->model.vips[0];
	id = v->backends[0].id;
	/* the backend in the datapath, healthy and resolved, as adoption records it */
	be.vip_id = v->id;
	be.addr = v->backends[0].addr;
	be.family = v->backends[0].family;
	sync_adopt_backend(d->sync, id, &be);
	if (fill(d, v->id, id))
		return -1;
	d->ctl = ctl_open(d->loop, path, lbd_handle, d, err, sizeof(err));
	if (!d->ctl)
		fprintf(stderr, "ctl_open: %s\n", err);
	return d->ctl ? 0 : -1;
}

static void teardown(struct lbd *d)
{
	ctl_close(d->ctl);
	sync_close(d->sync);
	if (d->loop)
		loop_free(d->loop);
	counters_free(&d->counters);
	if (d->dp.skel)
		dp_close(&d->dp);
	model_free(&d->model);
}

/* The listings are tens of MB: each search below looks at one row's
 * worth of bytes (strstr, strchr and sscanf on the whole rest would make
 * them quadratic, under ASan's interceptors too). */
#define ROW_MAX 1024

static const char *find(const char *p, const char *end, const char *what)
{
	size_t n = (size_t)(end - p) < ROW_MAX ? (size_t)(end - p) : ROW_MAX;

	return memmem(p, n, what, strlen(what));
}

/* Rows of a JSON listing, checked busiest first; returns how many. */
static long json_rows_sorted(const struct strbuf *sb, bool *sorted)
{
	const char *p = sb->buf, *end = sb->buf + sb->len, *q;
	unsigned long long prev = ~0ull, b;
	long n = 0;

	*sorted = true;
	while ((p = find(p, end, "{\"client\":"))) {
		q = find(p, end, "\"bytes\":");
		if (!q)
			return -1;
		b = strtoull(q + 8, NULL, 10);
		*sorted = *sorted && b < prev; /* bytes are unique */
		prev = b;
		n++;
		p = q;
	}
	return n;
}

/* Rows of a text listing ("ok", the header, then rows), checked busiest first. */
static long text_rows_sorted(const struct strbuf *sb, bool *sorted)
{
	const char *end = sb->buf + sb->len, *p, *nl;
	char line[ROW_MAX], client[64], vip[64], be[64], table[16];
	unsigned long long prev = ~0ull, pk, b;
	unsigned int port;
	long n = 0;

	*sorted = true;
	p = memchr(sb->buf, '\n', sb->len);           /* after "ok" */
	p = p ? memchr(p + 1, '\n', (size_t)(end - p - 1)) : NULL; /* after the header */
	while (p && ++p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl || nl - p >= (long)sizeof(line))
			return -1;
		memcpy(line, p, (size_t)(nl - p));
		line[nl - p] = 0;
		if (sscanf(line, "%63s %u %63s %63s %15s %llu %llu", client, &port, vip, be, table,
			   &pk, &b) != 7)
			return -1;
		*sorted = *sorted && b < prev && !strcmp(vip, VIP) && !strcmp(be, "10.0.1.1") &&
			  !strcmp(table, "established");
		prev = b;
		n++;
		p = nl;
	}
	return n;
}

TEST(flows_listing)
{
	static struct lbd d;
	struct client a = { .fd = -1 }, b = { .fd = -1 }, c = { .fd = -1 }, t = { .fd = -1 };
	struct client *both[2] = { &a, &b }, *one[1];
	char path[108], head[256];
	size_t a_len_when_b_done;
	__u64 t0;
	bool sorted;
	long turns;
	int i;

	snprintf(path, sizeof(path), "/tmp/xdplb-test-flows.%d.sock", (int)getpid());
	if (!ASSERT_OK(setup(&d, path), "setup"))
		goto out;

	if (test__start_subtest("other_clients_served_meanwhile")) {
		/* the listing is asked for and its request read ... */
		if (!ASSERT_TRUE(client_start(&a, path, "-j flows"), "connect a"))
			goto out;
		t0 = now_us();
		for (i = 0; i < 3; i++) {
			loop_once(d.loop, 10);
			client_pump(&a);
		}
		if (test__verbose)
			printf("# the first 3 loop turns after the request: %.1f ms\n",
			       (double)(now_us() - t0) / 1000);
		/* ... then another request comes: it is answered first */
		if (!ASSERT_TRUE(client_start(&b, path, "vip show " VIP), "connect b"))
			goto out;
		one[0] = &b;
		turns = run_until_answered(d.loop, one, 1, 100);
		client_pump(&a);
		a_len_when_b_done = a.got.len;
		if (test__verbose)
			printf("# vip show answered in %ld loop turns\n", turns);
		ASSERT_TRUE(b.eof && !strncmp(sb_str(&b.got), "ok\n", 3), "vip show answered");
		ASSERT_LE(turns, 10, "loop turns until vip show was answered");
		ASSERT_EQ(a_len_when_b_done, 0, "flows not answered yet when vip show was");
		longest_turn_us = 0;
		t0 = now_us();
		turns = run_until_answered(d.loop, both, 2, 10000000);
		if (test__verbose)
			printf("# -j flows, %d flows: %.1f ms in %ld loop turns, the longest %.1f ms\n",
			       N_FLOWS, (double)(now_us() - t0) / 1000, turns,
			       (double)longest_turn_us / 1000);
		ASSERT_TRUE(a.eof, "flows answered");
		ASSERT_GT(turns, 10, "loop turns the listing took");
		snprintf(head, sizeof(head),
			 "ok\n{\"total\":%d,\"established\":%d,\"half_open\":0,\"flows\":[{", N_FLOWS,
			 N_FLOWS);
		ASSERT_TRUE(!strncmp(sb_str(&a.got), head, strlen(head)), "JSON totals");
		ASSERT_EQ(json_rows_sorted(&a.got, &sorted), N_FLOWS, "JSON rows");
		ASSERT_TRUE(sorted, "busiest first");
		ASSERT_TRUE(a.got.len > 3 && !memcmp(a.got.buf + a.got.len - 3, "]}\n", 3) &&
				    memchr(a.got.buf + 3, '\n', a.got.len - 3) ==
					    a.got.buf + a.got.len - 1,
			    "JSON closed, one line");
	}
	client_end(&a);
	client_end(&b);

	if (test__start_subtest("text_and_top_at_once")) {
		/* two listings at once: each whole */
		if (!ASSERT_TRUE(client_start(&a, path, "flows"), "connect a") ||
		    !ASSERT_TRUE(client_start(&b, path, "-j flows " VIP " top 5"), "connect b"))
			goto out;
		run_until_answered(d.loop, both, 2, 10000000);
		snprintf(head, sizeof(head), "ok\n%-40s %-6s %-28s %-40s %-11s %-10s %-12s %s\n",
			 "CLIENT", "PORT", "VIP", "BACKEND", "TABLE", "PACKETS", "BYTES", "IDLE_S");
		ASSERT_TRUE(!strncmp(sb_str(&a.got), head, strlen(head)), "text header");
		ASSERT_EQ(text_rows_sorted(&a.got, &sorted), N_FLOWS, "text rows");
		ASSERT_TRUE(sorted, "text busiest first");
		snprintf(head, sizeof(head), "\"bytes\":%d,", 100 + N_FLOWS - 1);
		ASSERT_TRUE(strstr(sb_str(&b.got), head) != NULL, "top 5: the busiest");
		ASSERT_EQ(json_rows_sorted(&b.got, &sorted), 5, "top 5: five rows");
		ASSERT_TRUE(sorted, "top 5 busiest first");
	}
	client_end(&a);
	client_end(&b);

	if (test__start_subtest("client_gone_mid_listing")) {
		/* the client goes away while its listing is made: the others
		 * are served, and a new listing is whole */
		if (!ASSERT_TRUE(client_start(&c, path, "flows"), "connect"))
			goto out;
		for (i = 0; i < 3; i++)
			loop_once(d.loop, 10);
		client_end(&c);
		if (!ASSERT_TRUE(client_start(&a, path, "-j flows 10.0.0.101:80/tcp"), "connect a"))
			goto out;
		one[0] = &a;
		run_until_answered(d.loop, one, 1, 10000000);
		ASSERT_STREQ(sb_str(&a.got),
			     "ok\n{\"total\":0,\"established\":0,\"half_open\":0,\"flows\":[]}\n",
			     "a VIP without flows");
		if (!ASSERT_TRUE(client_start(&t, path, "flows nonsense"), "connect t"))
			goto out;
		one[0] = &t;
		run_until_answered(d.loop, one, 1, 100);
		ASSERT_TRUE(!strncmp(sb_str(&t.got), "error ", 6), "a bad request still refused");
	}
out:
	client_end(&a);
	client_end(&b);
	client_end(&c);
	client_end(&t);
	teardown(&d);
	unlink(path);
}
