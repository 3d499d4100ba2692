// SPDX-License-Identifier: GPL-2.0
/* test_health.c - health checks against tcp and http servers this file runs on loopback. */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "container_of.h"
#include "health.h"
#include "loop.h"
#include "test_progs.h"

#define IV_MS	       50   /* check interval of most cases */
#define WAIT_MS	       1000 /* longest wait for an expected state */
#define SRV_CONNS      16
#define SRV_REQ_MAX    1024
#define SPLIT_DELAY_MS 30 /* split: pause between the two parts of a response */

enum conn_state { C_READ, C_WAIT, C_HALF };

/* One accepted connection of the test server; fd -1 is a free slot. */
struct conn {
	struct loop_fd lfd;
	struct srv *srv;
	enum conn_state state;
	size_t len, sent;
	char req[SRV_REQ_MAX];
};

/* A listener on 127.0.0.1 or ::1 driven by the test's loop.  rsp NULL: accept
 * and close (a tcp service).  Otherwise read a request up to its blank line
 * and answer rsp ("" closes without a word), unless `silent`; with `split`,
 * send that many bytes first and the rest SPLIT_DELAY_MS later; with `batch`,
 * hold answers until that many requests are in, then answer them together. */
struct srv {
	struct loop *l;
	struct loop_fd lfd;
	struct loop_timer timer;
	__u8 family;
	__u16 port;
	const char *rsp;
	bool silent;
	size_t split;
	int batch, waiting;
	int accepted, requests;
	char last_req[SRV_REQ_MAX];
	struct conn conns[SRV_CONNS];
};

static void conn_close(struct conn *c)
{
	if (c->lfd.fd < 0)
		return;
	loop_del(c->srv->l, &c->lfd);
	close(c->lfd.fd);
	c->lfd.fd = -1;
}

/* Send what is left of the response and hang up. */
static void conn_finish(struct conn *c)
{
	size_t len = strlen(c->srv->rsp);

	if (len > c->sent &&
	    send(c->lfd.fd, c->srv->rsp + c->sent, len - c->sent, MSG_NOSIGNAL) < 0)
		fprintf(stderr, "test server: send: %s\n", strerror(errno));
	conn_close(c);
}

static void srv_answer_all(struct srv *s, enum conn_state state)
{
	int i;

	for (i = 0; i < SRV_CONNS; i++)
		if (s->conns[i].lfd.fd >= 0 && s->conns[i].state == state)
			conn_finish(&s->conns[i]);
}

static void srv_on_timer(struct loop_timer *t)
{
	srv_answer_all(container_of(t, struct srv, timer), C_HALF);
}

static void srv_on_request(struct srv *s, struct conn *c)
{
	c->state = C_WAIT;
	if (s->silent)
		return;
	if (s->split) {
		c->sent = send(c->lfd.fd, s->rsp, s->split, MSG_NOSIGNAL) < 0 ? 0 : s->split;
		c->state = C_HALF;
		loop_timer_set(s->l, &s->timer, SPLIT_DELAY_MS);
	} else if (s->batch) {
		if (++s->waiting >= s->batch)
			srv_answer_all(s, C_WAIT);
	} else {
		conn_finish(c);
	}
}

static void conn_on_fd(struct loop_fd *lf, uint32_t events)
{
	struct conn *c = container_of(lf, struct conn, lfd);
	ssize_t n;

	(void)events;
	n = recv(lf->fd, c->req + c->len, sizeof(c->req) - 1 - c->len, MSG_DONTWAIT);
	if (n < 0 && errno == EAGAIN)
		return;
	if (n <= 0) {
		conn_close(c); /* the checker hung up (or reset) */
		return;
	}
	c->len += n;
	c->req[c->len] = '\0';
	if (c->state != C_READ)
		return;
	if (!strstr(c->req, "\r\n\r\n") && c->len < sizeof(c->req) - 1)
		return;
	memcpy(c->srv->last_req, c->req, c->len + 1);
	c->srv->requests++;
	srv_on_request(c->srv, c);
}

static void srv_take(struct srv *s, int fd)
{
	struct conn *c = NULL;
	int i;

	s->accepted++;
	for (i = 0; i < SRV_CONNS && !c; i++)
		if (s->conns[i].lfd.fd < 0)
			c = &s->conns[i];
	if (!s->rsp || !c) {
		close(fd);
		return;
	}
	memset(c, 0, sizeof(*c));
	c->srv = s;
	c->lfd = (struct loop_fd){.fd = fd, .cb = conn_on_fd};
	if (loop_add(s->l, &c->lfd, EPOLLIN)) {
		close(fd);
		c->lfd.fd = -1;
	}
}

static void srv_on_accept(struct loop_fd *lf, uint32_t events)
{
	struct srv *s = container_of(lf, struct srv, lfd);
	int fd;

	(void)events;
	while ((fd = accept4(lf->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0)
		srv_take(s, fd);
}

static socklen_t lo_addr(__u8 family, __u16 port, struct sockaddr_storage *ss)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (family == XDPLB_AF_INET) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		return sizeof(*sin);
	}
	sin6->sin6_family = AF_INET6;
	sin6->sin6_port = htons(port);
	sin6->sin6_addr = in6addr_loopback;
	return sizeof(*sin6);
}

/* Listen on loopback (port 0: any); `serve` false leaves connections queued. */
static int srv_listen(struct srv *s, int backlog, bool serve)
{
	struct sockaddr_storage ss;
	socklen_t sl = lo_addr(s->family, s->port, &ss);
	int fd, one = 1;

	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	s->lfd = (struct loop_fd){.fd = fd, .cb = srv_on_accept};
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, sl) || listen(fd, backlog) ||
	    getsockname(fd, (struct sockaddr *)&ss, &sl) ||
	    (serve && loop_add(s->l, &s->lfd, EPOLLIN))) {
		close(fd);
		s->lfd.fd = -1;
		return -errno;
	}
	s->port = ntohs(((struct sockaddr_in *)&ss)->sin_port); /* same offset in sin6 */
	return 0;
}

/* A server with no socket yet: srv_close() is a no-op on it. */
static void srv_init(struct srv *s, struct loop *l, __u8 family, const char *rsp)
{
	int i;

	memset(s, 0, sizeof(*s));
	s->l = l;
	s->family = family;
	s->rsp = rsp;
	s->timer.cb = srv_on_timer;
	s->lfd.fd = -1;
	for (i = 0; i < SRV_CONNS; i++)
		s->conns[i].lfd.fd = -1;
}

static int srv_open(struct srv *s, struct loop *l, __u8 family, const char *rsp)
{
	srv_init(s, l, family, rsp);
	return srv_listen(s, 16, true);
}

static void srv_drop_conns(struct srv *s)
{
	int i;

	for (i = 0; i < SRV_CONNS; i++)
		conn_close(&s->conns[i]);
}

/* Stop listening, hang up; the port number stays in s for srv_listen(). */
static void srv_close(struct srv *s)
{
	srv_drop_conns(s);
	loop_timer_cancel(s->l, &s->timer);
	if (s->lfd.fd >= 0) {
		loop_del(s->l, &s->lfd);
		close(s->lfd.fd);
		s->lfd.fd = -1;
	}
}

static struct hc_target srv_target(const struct srv *s)
{
	struct hc_target t = {.family = s->family, .port = s->port};

	if (s->family == XDPLB_AF_INET)
		t.addr.v4 = htonl(INADDR_LOOPBACK);
	else
		memcpy(t.addr.bytes, &in6addr_loopback, 16);
	return t;
}

static struct hc_params params(enum xdplb_check type, const char *path, bool start_up)
{
	struct hc_params p = {
	    .type = type,
	    .interval_ms = IV_MS,
	    .timeout_ms = 300,
	    .fall = 1,
	    .rise = 1,
	    .start_up = start_up,
	};

	if (path)
		snprintf(p.path, sizeof(p.path), "%s", path);
	return p;
}

/* Calls of the state callback. */
struct rec {
	int ups, downs;
};

static void rec_cb(void *arg, bool up)
{
	struct rec *r = arg;

	if (up)
		r->ups++;
	else
		r->downs++;
}

enum cond { UP, DOWN, FAILED, PASSED };

static bool cond_holds(const struct hc *h, enum cond c)
{
	switch (c) {
	case UP:
		return hc_is_up(h);
	case DOWN:
		return !hc_is_up(h);
	case FAILED:
		return hc_last_error(h)[0] != '\0';
	default:
		return hc_last_error(h)[0] == '\0';
	}
}

/* Run the loop until c holds for h; false if max_ms pass first. */
static bool pump(struct loop *l, const struct hc *h, enum cond c, int max_ms)
{
	__u64 end = loop_now_ms() + max_ms;

	while (!cond_holds(h, c)) {
		if (loop_now_ms() >= end)
			return false;
		loop_once(l, 5);
	}
	return true;
}

static void run_for(struct loop *l, int ms)
{
	__u64 end = loop_now_ms() + ms;

	while (loop_now_ms() < end)
		loop_once(l, 5);
}

static bool pump_until_int(struct loop *l, const int *v, int want, int max_ms)
{
	__u64 end = loop_now_ms() + max_ms;

	while (*v < want && loop_now_ms() < end)
		loop_once(l, 5);
	return *v >= want;
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

/* A loopback port nobody listens on (it was free a moment ago). */
static __u16 closed_port(struct loop *l, __u8 family)
{
	struct srv s;
	__u16 port;

	if (srv_open(&s, l, family, NULL))
		return 0;
	port = s.port;
	srv_close(&s);
	return port;
}

/* Release h and the loop, letting a deferred free of h run first. */
static void finish(struct loop *l, struct hc *h)
{
	hc_stop(h);
	loop_once(l, 0);
	loop_free(l);
}

/* The listener went away.  A check whose handshake had completed just
 * before (queued, not yet accepted) reads the listener's RST instead. */
static bool refused_or_reset(const char *err)
{
	return !strcmp(err, "connect: Connection refused") ||
	       !strcmp(err, "connect: Connection reset by peer");
}

static void tcp_up(__u8 family)
{
	struct loop *l = loop_new();
	struct hc_params p = params(XDPLB_CHECK_TCP, NULL, false);
	struct rec r = {};
	struct hc *h = NULL;
	struct hc_target t;
	struct srv s;
	int err;

	if (!ASSERT_OK_PTR(l, "loop_new"))
		return;
	err = srv_open(&s, l, family, NULL);
	if (family == XDPLB_AF_INET6 && (err == -EADDRNOTAVAIL || err == -EAFNOSUPPORT)) {
		test__skip("no ::1");
		goto out;
	}
	if (!ASSERT_OK(err, "srv_open"))
		goto out;
	p.rise = 3; /* a fresh check rises on its first success anyway */
	t = srv_target(&s);
	h = hc_start(l, &t, &p, rec_cb, &r);
	if (!ASSERT_OK_PTR(h, "hc_start") || !ASSERT_FALSE(hc_is_up(h), "starts down"))
		goto out;
	ASSERT_TRUE(pump(l, h, UP, WAIT_MS), "up after the first success");
	ASSERT_LE(s.accepted, 1, "not after `rise` successes");
	ASSERT_STREQ(hc_last_error(h), "", "no error");
	ASSERT_EQ(r.ups, 1, "one up call");
	ASSERT_EQ(r.downs, 0, "no down call");
	ASSERT_GE(s.accepted, 1, "server saw the check");
	srv_close(&s);
	ASSERT_TRUE(pump(l, h, DOWN, WAIT_MS), "down once refused (fall 1)");
	ASSERT_TRUE(refused_or_reset(hc_last_error(h)), hc_last_error(h));
	run_for(l, 2 * IV_MS);
	ASSERT_STREQ(hc_last_error(h), "connect: Connection refused", "error");
out:
	srv_close(&s);
	finish(l, h);
}

/* fall 2 / rise 2: one failure or success is not enough, the second one,
 * an interval later, is. */
static void tcp_fall_rise(void)
{
	struct loop *l = loop_new();
	struct hc_params p = params(XDPLB_CHECK_TCP, NULL, true);
	struct rec r = {};
	struct hc *h = NULL;
	struct hc_target t;
	__u64 t0, change0;
	struct srv s;

	if (!ASSERT_OK_PTR(l, "loop_new"))
		return;
	if (!ASSERT_OK(srv_open(&s, l, XDPLB_AF_INET, NULL), "srv"))
		goto out;
	p.fall = p.rise = 2;
	t = srv_target(&s);
	h = hc_start(l, &t, &p, rec_cb, &r);
	if (!ASSERT_OK_PTR(h, "hc_start") || !ASSERT_TRUE(hc_is_up(h), "starts up"))
		goto out;
	change0 = hc_last_change_ms(h);
	run_for(l, 3 * IV_MS);
	ASSERT_GE(s.accepted, 2, "checks ran");
	ASSERT_TRUE(hc_is_up(h) && !r.ups && !r.downs, "still up, no call");

	srv_close(&s);
	if (!ASSERT_TRUE(pump(l, h, FAILED, WAIT_MS), "first failure"))
		goto out;
	t0 = loop_now_ms();
	ASSERT_TRUE(refused_or_reset(hc_last_error(h)), hc_last_error(h));
	ASSERT_TRUE(hc_is_up(h), "one failure keeps it up");
	ASSERT_TRUE(pump(l, h, DOWN, WAIT_MS), "second failure takes it down");
	ASSERT_STREQ(hc_last_error(h), "connect: Connection refused", "error");
	ASSERT_GE(loop_now_ms() - t0, IV_MS / 2, "not at once: the next interval (t0 is when the test saw the last check, which a busy machine delays)");
	ASSERT_EQ(r.downs, 1, "one down call");
	ASSERT_GT(hc_last_change_ms(h), change0, "change time moved");

	if (!ASSERT_OK(srv_listen(&s, 16, true), "listen again on the same port"))
		goto out;
	if (!ASSERT_TRUE(pump(l, h, PASSED, WAIT_MS), "first success"))
		goto out;
	t0 = loop_now_ms();
	ASSERT_TRUE(!hc_is_up(h), "one success keeps it down");
	ASSERT_TRUE(pump(l, h, UP, WAIT_MS), "second success brings it up");
	ASSERT_GE(loop_now_ms() - t0, IV_MS / 2, "not at once: the next interval (t0 is when the test saw the last check, which a busy machine delays)");
	ASSERT_EQ(r.ups, 1, "one up call");
	ASSERT_EQ(r.downs, 1, "still one down call");
out:
	srv_close(&s);
	finish(l, h);
}

TEST(health_tcp)
{
	test__start_subtest("up_then_refused");
	tcp_up(XDPLB_AF_INET);
	test__start_subtest("ipv6");
	tcp_up(XDPLB_AF_INET6);
	test__start_subtest("fall_rise");
	tcp_fall_rise();
}

struct http_case {
	const char *name;
	const char *rsp;
	bool want_up;
	const char *err;
};

static const char long_line[] =
    "HTTP/1.1 200 "
    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
    "\r\n\r\n";

static const struct http_case http_cases[] = {
    {"200", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", true, ""},
    {"302", "HTTP/1.0 302 Found\r\nLocation: /elsewhere\r\n\r\n", true, ""},
    {"204_no_reason", "HTTP/1.1 204\r\n\r\n", true, ""},
    {"bare_lf", "HTTP/1.0 200 OK\n\n", true, ""},
    {"cut_by_eof", "HTTP/1.0 200 OK", true, ""},
    {"503", "HTTP/1.1 503 Service Unavailable\r\n\r\n", false, "HTTP 503"},
    {"404", "HTTP/1.1 404 Not Found\r\n\r\n", false, "HTTP 404"},
    {"101", "HTTP/1.1 101 Switching Protocols\r\n\r\n", false, "HTTP 101"},
    {"garbage", "SSH-2.0-OpenSSH_9.6\r\n", false, "http: bad status line"},
    {"http2", "HTTP/2 200\r\n\r\n", false, "http: bad status line"},
    {"four_digits", "HTTP/1.1 2000 OK\r\n\r\n", false, "http: bad status line"},
    {"short", "HTTP/1.1 20\r\n\r\n", false, "http: bad status line"},
    {"empty", "", false, "http: connection closed without a response"},
    {"oversized", long_line, false, "http: status line longer than 512 bytes"},
};

/* A passing answer is checked from down (it must rise), a failing one from
 * up (fall 1: it must fall). */
static void http_one(const struct http_case *c, size_t split)
{
	struct loop *l = loop_new();
	struct hc_params p = params(XDPLB_CHECK_HTTP, "/healthz", !c->want_up);
	struct rec r = {};
	struct hc *h = NULL;
	char want_req[256];
	struct hc_target t;
	struct srv s;

	if (!ASSERT_OK_PTR(l, "loop_new"))
		return;
	if (!ASSERT_OK(srv_open(&s, l, XDPLB_AF_INET, c->rsp), "srv"))
		goto out;
	s.split = split;
	t = srv_target(&s);
	h = hc_start(l, &t, &p, rec_cb, &r);
	if (!ASSERT_OK_PTR(h, "hc_start"))
		goto out;
	ASSERT_TRUE(pump(l, h, c->want_up ? UP : DOWN, WAIT_MS), c->name);
	ASSERT_STREQ(hc_last_error(h), c->err, "error");
	ASSERT_EQ(r.ups + r.downs, 1, "one call");
	snprintf(want_req, sizeof(want_req),
		 "GET /healthz HTTP/1.0\r\nHost: 127.0.0.1:%u\r\nUser-Agent: xdplb-lbd\r\n"
		 "Connection: close\r\n\r\n",
		 s.port);
	ASSERT_STREQ(s.last_req, want_req, "request");
out:
	srv_close(&s);
	finish(l, h);
}

static void http_v6(void)
{
	struct loop *l = loop_new();
	struct hc_params p = params(XDPLB_CHECK_HTTP, "/", false);
	struct hc *h = NULL;
	char want_req[256];
	struct hc_target t;
	struct srv s;
	int err;

	if (!ASSERT_OK_PTR(l, "loop_new"))
		return;
	err = srv_open(&s, l, XDPLB_AF_INET6, "HTTP/1.1 200 OK\r\n\r\n");
	if (err == -EADDRNOTAVAIL || err == -EAFNOSUPPORT) {
		test__skip("no ::1");
		goto out;
	}
	if (!ASSERT_OK(err, "srv_open"))
		goto out;
	t = srv_target(&s);
	h = hc_start(l, &t, &p, NULL, NULL);
	if (!ASSERT_OK_PTR(h, "hc_start"))
		goto out;
	ASSERT_TRUE(pump(l, h, UP, WAIT_MS), "up");
	snprintf(want_req, sizeof(want_req),
		 "GET / HTTP/1.0\r\nHost: [::1]:%u\r\nUser-Agent: xdplb-lbd\r\n"
		 "Connection: close\r\n\r\n",
		 s.port);
	ASSERT_STREQ(s.last_req, want_req, "request with a bracketed host");
out:
	srv_close(&s);
	finish(l, h);
}

TEST(health_http)
{
	static const struct http_case split = {"split", "HTTP/1.1 200 OK\r\n\r\n", true, ""};
	size_t i;

	for (i = 0; i < sizeof(http_cases) / sizeof(http_cases[0]); i++) {
		test__start_subtest(http_cases[i].name);
		http_one(&http_cases[i], 0);
	}
	test__start_subtest("status_in_two_reads");
	http_one(&split, 6);
	test__start_subtest("oversized_in_two_reads");
	http_one(&http_cases[sizeof(http_cases) / sizeof(http_cases[0]) - 1], 300);
	test__start_subtest("ipv6");
	http_v6();
}

/* An http server that reads the request and never answers: timeout, with
 * interval < timeout; then it answers and the check recovers. */
static void timeout_http(void)
{
	struct loop *l = loop_new();
	struct hc_params p = params(XDPLB_CHECK_HTTP, "/", true);
	struct rec r = {};
	struct hc *h = NULL;
	struct hc_target t;
	struct srv s;
	__u64 t0;

	if (!ASSERT_OK_PTR(l, "loop_new"))
		return;
	if (!ASSERT_OK(srv_open(&s, l, XDPLB_AF_INET, "HTTP/1.0 200 OK\r\n\r\n"), "srv"))
		goto out;
	s.silent = true;
	p.timeout_ms = 3 * IV_MS;
	t = srv_target(&s);
	t0 = loop_now_ms();
	h = hc_start(l, &t, &p, rec_cb, &r);
	if (!ASSERT_OK_PTR(h, "hc_start"))
		goto out;
	ASSERT_TRUE(pump(l, h, DOWN, WAIT_MS), "down");
	ASSERT_STREQ(hc_last_error(h), "http: timeout", "error");
	ASSERT_GE(loop_now_ms() - t0, p.timeout_ms, "not before the timeout");
	ASSERT_TRUE(pump_until_int(l, &s.requests, 3, WAIT_MS), "checks go on");
	s.silent = false;
	ASSERT_TRUE(pump(l, h, UP, WAIT_MS), "up again once it answers");
	ASSERT_EQ(r.downs, 1, "one down call");
	ASSERT_EQ(r.ups, 1, "one up call");
out:
	srv_close(&s);
	finish(l, h);
}

/* A listener with backlog 0 that never accepts: once one connection sits in
 * its queue, the kernel drops further SYNs and connect() hangs. */
static void timeout_tcp(void)
{
	struct loop *l = loop_new();
	struct hc_params p = params(XDPLB_CHECK_TCP, NULL, true);
	struct sockaddr_storage ss;
	int fill[2] = {-1, -1}, i;
	struct hc *h = NULL;
	struct hc_target t;
	struct srv s;

	if (!ASSERT_OK_PTR(l, "loop_new"))
		return;
	if (!ASSERT_OK(srv_open(&s, l, XDPLB_AF_INET, NULL), "srv"))
		goto out;
	srv_close(&s);
	if (!ASSERT_OK(srv_listen(&s, 0, false), "listen backlog 0"))
		goto out;
	for (i = 0; i < 2; i++) {
		fill[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		connect(fill[i], (struct sockaddr *)&ss, lo_addr(XDPLB_AF_INET, s.port, &ss));
	}
	p.timeout_ms = 100;
	t = srv_target(&s);
	h = hc_start(l, &t, &p, NULL, NULL);
	if (!ASSERT_OK_PTR(h, "hc_start"))
		goto out;
	ASSERT_TRUE(pump(l, h, DOWN, WAIT_MS), "down");
	ASSERT_STREQ(hc_last_error(h), "connect: timeout", "error");
out:
	for (i = 0; i < 2; i++)
		if (fill[i] >= 0)
			close(fill[i]);
	srv_close(&s);
	finish(l, h);
}

TEST(health_timeout)
{
	test__start_subtest("http_no_answer");
	timeout_http();
	test__start_subtest("tcp_backlog_full");
	timeout_tcp();
}

/* hc_stop while the request waits for its answer: no fd left behind. */
static void stop_in_flight(void)
{
	struct loop *l = loop_new();
	struct hc_params p = params(XDPLB_CHECK_HTTP, "/", false);
	struct hc *h = NULL;
	struct hc_target t;
	struct srv s;
	int fds;

	if (!ASSERT_OK_PTR(l, "loop_new"))
		return;
	if (!ASSERT_OK(srv_open(&s, l, XDPLB_AF_INET, "x"), "srv"))
		goto out;
	s.silent = true;
	p.timeout_ms = 5000;
	t = srv_target(&s);
	fds = count_fds();
	h = hc_start(l, &t, &p, NULL, NULL);
	if (!ASSERT_OK_PTR(h, "hc_start"))
		goto out;
	ASSERT_TRUE(pump_until_int(l, &s.requests, 1, WAIT_MS), "request sent");
	ASSERT_EQ(count_fds(), fds + 2, "checker and server ends open");
	hc_stop(h);
	h = NULL;
	srv_drop_conns(&s);
	ASSERT_EQ(count_fds(), fds, "no fd left");
out:
	srv_close(&s);
	finish(l, h);
}

/* A callback that stops an hc: its own (self) or another one (other). */
struct stopper {
	struct hc *h;
	struct stopper *other;
	int calls;
};

static void stop_cb(void *arg, bool up)
{
	struct stopper *st = arg, *victim = st->other ? st->other : st;

	(void)up;
	st->calls++;
	hc_stop(victim->h);
	victim->h = NULL;
}

/* cb stops its own hc: from the fd callback (refused) or the timer (timeout). */
static void stop_self(bool by_timeout)
{
	int fds = count_fds(); /* before the loop's epoll fd */
	struct loop *l = loop_new();
	struct hc_params p = params(by_timeout ? XDPLB_CHECK_HTTP : XDPLB_CHECK_TCP, "/", true);
	struct stopper st = {};
	struct hc_target t;
	struct srv s;

	if (!ASSERT_OK_PTR(l, "loop_new"))
		return;
	srv_init(&s, l, XDPLB_AF_INET, NULL);
	if (by_timeout) {
		if (!ASSERT_OK(srv_open(&s, l, XDPLB_AF_INET, "x"), "srv"))
			goto out;
		s.silent = true;
		p.timeout_ms = 100;
		t = srv_target(&s);
	} else {
		s.port = closed_port(l, XDPLB_AF_INET);
		t = srv_target(&s);
	}
	st.h = hc_start(l, &t, &p, stop_cb, &st);
	if (!ASSERT_OK_PTR(st.h, "hc_start"))
		goto out;
	ASSERT_TRUE(pump_until_int(l, &st.calls, 1, WAIT_MS), "cb ran");
	run_for(l, 3 * IV_MS);
	ASSERT_EQ(st.calls, 1, "never again");
	ASSERT_TRUE(st.h == NULL, "stopped");
out:
	srv_close(&s);
	finish(l, st.h);
	ASSERT_EQ(count_fds(), fds, "no fd left");
}

/* Two checks whose answers arrive together, in one epoll batch: the first
 * callback stops the other check, whose event is already fetched. */
static void stop_other(void)
{
	struct loop *l = loop_new();
	struct hc_params p = params(XDPLB_CHECK_HTTP, "/", false);
	struct stopper st[2] = {};
	struct hc_target t;
	struct srv s;
	int i;

	if (!ASSERT_OK_PTR(l, "loop_new"))
		return;
	if (!ASSERT_OK(srv_open(&s, l, XDPLB_AF_INET, "HTTP/1.0 200 OK\r\n\r\n"), "srv"))
		goto out;
	s.batch = 2;
	t = srv_target(&s);
	for (i = 0; i < 2; i++) {
		st[i].other = &st[1 - i];
		st[i].h = hc_start(l, &t, &p, stop_cb, &st[i]);
		if (!ASSERT_OK_PTR(st[i].h, "hc_start"))
			goto out;
	}
	ASSERT_TRUE(pump_until_int(l, &s.requests, 2, WAIT_MS), "both asked");
	run_for(l, 3 * IV_MS);
	ASSERT_EQ(st[0].calls + st[1].calls, 1, "one callback, the other check was stopped");
	ASSERT_TRUE(!st[0].h != !st[1].h, "one check left");
out:
	srv_close(&s);
	hc_stop(st[0].h);
	finish(l, st[1].h);
}

/* Stopped before its first attempt: released at once. */
static void stop_idle(void)
{
	struct loop *l = loop_new();
	struct hc_params p = params(XDPLB_CHECK_TCP, NULL, false);
	struct hc_target t = {.family = XDPLB_AF_INET, .port = 9};
	struct hc *h;

	if (!ASSERT_OK_PTR(l, "loop_new"))
		return;
	p.interval_ms = 60000;
	t.addr.v4 = htonl(INADDR_LOOPBACK);
	h = hc_start(l, &t, &p, NULL, NULL);
	ASSERT_OK_PTR(h, "hc_start");
	hc_stop(h);
	loop_free(l); /* no loop round: LeakSanitizer tells if h was kept */
}

TEST(health_stop)
{
	test__start_subtest("in_flight_no_fd_leak");
	stop_in_flight();
	test__start_subtest("self_from_fd_callback");
	stop_self(false);
	test__start_subtest("self_from_timer");
	stop_self(true);
	test__start_subtest("other_in_same_batch");
	stop_other();
	test__start_subtest("idle");
	stop_idle();
}

#define SPREAD_N	32
#define SPREAD_IV_MS	500
#define SPREAD_BUCKET	100
#define SPREAD_SLACK_MS 100 /* for a loaded machine */

static void time_cb(void *arg, bool up)
{
	(void)up;
	*(__u64 *)arg = loop_now_ms();
}

/* The first checks of many backends spread over the first interval. */
TEST(health_jitter)
{
	struct hc_params p = params(XDPLB_CHECK_TCP, NULL, true);
	__u64 when[SPREAD_N] = {}, start[SPREAD_N];
	struct hc *h[SPREAD_N] = {};
	struct loop *l = loop_new();
	int i, n_buckets = 0, done = 0;
	bool bucket[SPREAD_IV_MS / SPREAD_BUCKET] = {};
	struct srv s;

	if (!ASSERT_OK_PTR(l, "loop_new"))
		return;
	p.interval_ms = SPREAD_IV_MS;
	srv_init(&s, l, XDPLB_AF_INET, NULL);
	for (i = 0; i < SPREAD_N; i++) {
		struct hc_target t;

		s.port = closed_port(l, XDPLB_AF_INET);
		t = srv_target(&s);
		start[i] = loop_now_ms();
		h[i] = hc_start(l, &t, &p, time_cb, &when[i]);
		if (!ASSERT_OK_PTR(h[i], "hc_start"))
			goto out;
	}
	run_for(l, SPREAD_IV_MS + SPREAD_SLACK_MS);
	for (i = 0; i < SPREAD_N; i++) {
		__u64 d = when[i] - start[i], b = d / SPREAD_BUCKET;

		if (!when[i] || d >= SPREAD_IV_MS + SPREAD_SLACK_MS)
			continue;
		done++;
		b = b < SPREAD_IV_MS / SPREAD_BUCKET ? b : SPREAD_IV_MS / SPREAD_BUCKET - 1;
		n_buckets += !bucket[b];
		bucket[b] = true;
	}
	ASSERT_EQ(done, SPREAD_N, "every first check within the interval (and some slack)");
	ASSERT_GE(n_buckets, SPREAD_IV_MS / SPREAD_BUCKET - 1, "spread");
out:
	for (i = 0; i < SPREAD_N; i++)
		hc_stop(h[i]);
	finish(l, NULL);
}

TEST(health_none)
{
	struct loop *l = loop_new();
	struct hc_params p = params(XDPLB_CHECK_NONE, NULL, false);
	struct hc_target t = {.family = XDPLB_AF_INET6};
	struct rec r = {};
	int fds = count_fds();
	struct hc *h;

	if (!ASSERT_OK_PTR(l, "loop_new"))
		return;
	p.interval_ms = 0; /* not used by XDPLB_CHECK_NONE */
	h = hc_start(l, &t, &p, rec_cb, &r);
	if (ASSERT_OK_PTR(h, "hc_start")) {
		ASSERT_TRUE(hc_is_up(h), "up");
		ASSERT_EQ(count_fds(), fds, "no socket");
		run_for(l, 2 * IV_MS);
		ASSERT_TRUE(hc_is_up(h) && !r.ups && !r.downs, "still up, no call");
		ASSERT_STREQ(hc_last_error(h), "", "no error");
		ASSERT_LE(hc_last_change_ms(h), loop_now_ms(), "change time");
	}
	hc_stop(h);
	loop_free(l);
}

TEST(health_params)
{
	static const char *const bad_paths[] = {"", "healthz", "/a b", "/a\r\nX: y", "/\x7f",
					     "/a#b"};
	struct hc_target t = {.family = XDPLB_AF_INET, .port = 80};
	struct loop *l = loop_new();
	struct hc_params p;
	size_t i;

	if (!ASSERT_OK_PTR(l, "loop_new"))
		return;
#define EXPECT_EINVAL(what)                                                                        \
	do {                                                                                       \
		errno = 0;                                                                         \
		ASSERT_TRUE(!hc_start(l, &t, &p, NULL, NULL) && errno == EINVAL, what);            \
	} while (0)
	p = params(XDPLB_CHECK_TCP, NULL, false);
	p.interval_ms = 0;
	EXPECT_EINVAL("interval 0");
	p = params(XDPLB_CHECK_TCP, NULL, false);
	p.timeout_ms = 0;
	EXPECT_EINVAL("timeout 0");
	p = params(XDPLB_CHECK_TCP, NULL, false);
	p.fall = 0;
	EXPECT_EINVAL("fall 0");
	p = params(XDPLB_CHECK_TCP, NULL, false);
	p.rise = 0;
	EXPECT_EINVAL("rise 0");
	p = params((enum xdplb_check)7, NULL, false);
	EXPECT_EINVAL("type 7");
	p = params(XDPLB_CHECK_TCP, NULL, false);
	t.port = 0;
	EXPECT_EINVAL("port 0");
	t.port = 80;
	t.family = 0;
	EXPECT_EINVAL("family 0");
	t.family = XDPLB_AF_INET;
	for (i = 0; i < sizeof(bad_paths) / sizeof(bad_paths[0]); i++) {
		p = params(XDPLB_CHECK_HTTP, bad_paths[i], false);
		EXPECT_EINVAL(bad_paths[i]);
	}
	memset(p.path, 'a', sizeof(p.path));
	p.path[0] = '/';
	EXPECT_EINVAL("path without NUL");
#undef EXPECT_EINVAL
	loop_free(l);
}
