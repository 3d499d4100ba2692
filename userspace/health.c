// SPDX-License-Identifier: GPL-2.0
/* health.c - non-blocking tcp/http health checks on the daemon's event loop. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "container_of.h"
#include "health.h"
#include "textform.h"
#include "xdplb_hash.h"

#define HC_REQ_MAX     512
#define HC_JITTER_SEED 0x68636a74u

/* Where the attempt in flight is; the timer means "start" only in HC_IDLE. */
enum hc_phase {
	HC_IDLE,
	HC_CONNECT,
	HC_SEND,
	HC_RECV,
};

struct hc {
	struct loop *loop;
	struct loop_fd lfd;	 /* fd -1 between attempts */
	struct loop_timer timer; /* next start (idle) or deadline (in flight) */
	struct hc_target t;
	struct hc_params p;
	void (*cb)(void *arg, bool up);
	void *arg;
	enum hc_phase phase;
	bool up;
	bool fresh; /* started down and never changed: one success raises */
	bool stopped;
	unsigned int busy; /* > 0 while one of h's own callbacks runs */
	__u32 streak;	   /* consecutive results that disagree with `up` */
	__u64 slot_ms;	   /* scheduled start of the current or last attempt */
	__u64 change_ms;
	unsigned int req_len, req_off, rsp_len;
	char req[HC_REQ_MAX];
	char rsp[HC_STATUS_MAX];
	char err[HC_ERROR_MAX];
};

static void hc_result(struct hc *h, bool ok);

static struct hc *hc_of_fd(struct loop_fd *lf)
{
	return container_of(lf, struct hc, lfd);
}

static struct hc *hc_of_timer(struct loop_timer *t)
{
	return container_of(t, struct hc, timer);
}

static bool hc_args_ok(const struct hc_target *t, const struct hc_params *p)
{
	if (t->family != XDPLB_AF_INET && t->family != XDPLB_AF_INET6)
		return false;
	if (p->type == XDPLB_CHECK_NONE)
		return true;
	if (p->type != XDPLB_CHECK_TCP && p->type != XDPLB_CHECK_HTTP)
		return false;
	if (!t->port || !p->interval_ms || !p->timeout_ms || !p->fall || !p->rise)
		return false;
	return p->type != XDPLB_CHECK_HTTP || check_path_ok(p->path);
}

/* Deterministic first delay in [0, interval), spread by the target. */
static __u32 hc_jitter(const struct hc_target *t, __u32 interval_ms)
{
	__u32 h = xdplb_hash_bytes(t->addr.bytes, sizeof(t->addr.bytes), HC_JITTER_SEED);

	h = xdplb_final(xdplb_mix(h, (__u32)t->port << 8 | t->family), 20);
	return h % interval_ms;
}

static socklen_t hc_sockaddr(const struct hc_target *t, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (t->family == XDPLB_AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(t->port);
		sin->sin_addr.s_addr = t->addr.v4;
		return sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(t->port);
		memcpy(&sin6->sin6_addr, t->addr.bytes, sizeof(sin6->sin6_addr));
		return sizeof(*sin6);
	}
}

/* "GET PATH HTTP/1.0" with Host "ADDR", "[ADDR6]", plus ":PORT" unless 80. */
static void hc_build_request(struct hc *h)
{
	bool v6 = h->t.family == XDPLB_AF_INET6;
	char addr[INET6_ADDRSTRLEN], port[8] = "";
	int n;

	inet_ntop(v6 ? AF_INET6 : AF_INET, h->t.addr.bytes, addr, sizeof(addr));
	if (h->t.port != 80)
		snprintf(port, sizeof(port), ":%u", h->t.port);
	n = snprintf(h->req, sizeof(h->req),
		     "GET %s HTTP/1.0\r\nHost: %s%s%s%s\r\nUser-Agent: xdplb-lbd\r\n"
		     "Connection: close\r\n\r\n",
		     h->p.path, v6 ? "[" : "", addr, v6 ? "]" : "", port);
	h->req_len = (unsigned int)n; /* < sizeof(req): path and addr are bounded */
}

/* Close the attempt's socket, if any.  Deregister first: epoll watches the
 * open file, not the fd number. */
static void hc_close(struct hc *h)
{
	struct linger lg = {.l_onoff = 1, .l_linger = 0};

	if (h->lfd.fd >= 0) {
		loop_del(h->loop, &h->lfd);
		setsockopt(h->lfd.fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		close(h->lfd.fd);
		h->lfd.fd = -1;
	}
	h->phase = HC_IDLE;
	h->req_off = 0;
	h->rsp_len = 0;
}

/* Re-arming a timer that is armed, or that run_timers() just popped, never
 * grows the loop's heap, so it cannot fail; every arm below is one of these. */
static void hc_arm(struct hc *h, __u64 delay_ms)
{
	loop_timer_set(h->loop, &h->timer, delay_ms);
}

/* Fixed schedule: the next slot that is not in the past. */
static void hc_schedule(struct hc *h)
{
	__u64 now = loop_now_ms(), iv = h->p.interval_ms;

	h->slot_ms += iv;
	if (h->slot_ms < now)
		h->slot_ms += (now - h->slot_ms + iv - 1) / iv * iv;
	hc_arm(h, h->slot_ms - now);
}

static void hc_failf(struct hc *h, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A failed attempt, and why. */
static void hc_failf(struct hc *h, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(h->err, sizeof(h->err), fmt, ap);
	va_end(ap);
	hc_result(h, false);
}

static void hc_fail(struct hc *h, const char *what, int err)
{
	hc_failf(h, "%s: %s", what, strerror(err));
}

/* The state machine proper; true when the state changes. */
static bool hc_count(struct hc *h, bool ok)
{
	if (ok == h->up) {
		h->streak = 0;
		return false;
	}
	h->streak++;
	if (h->streak < (ok ? h->p.rise : h->p.fall) && !(ok && h->fresh))
		return false;
	h->up = ok;
	h->fresh = false;
	h->streak = 0;
	h->change_ms = loop_now_ms();
	return true;
}

/* End of an attempt.  cb goes last: it may stop h. */
static void hc_result(struct hc *h, bool ok)
{
	hc_close(h);
	if (ok)
		h->err[0] = '\0';
	hc_schedule(h);
	if (hc_count(h, ok) && h->cb)
		h->cb(h->arg, h->up);
}

static void hc_recv_wait(struct hc *h)
{
	int err = loop_mod(h->loop, &h->lfd, EPOLLIN);

	if (err)
		hc_fail(h, "epoll", -err);
	else
		h->phase = HC_RECV;
}

static void hc_send(struct hc *h)
{
	ssize_t n;

	while (h->req_off < h->req_len) {
		n = send(h->lfd.fd, h->req + h->req_off, h->req_len - h->req_off,
			 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n >= 0) {
			h->req_off += (unsigned int)n;
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN) /* EAGAIN: wait for EPOLLOUT */
			hc_fail(h, "send", errno);
		return;
	}
	hc_recv_wait(h);
}

static void hc_connected(struct hc *h)
{
	if (h->p.type == XDPLB_CHECK_TCP) {
		hc_result(h, true);
		return;
	}
	h->phase = HC_SEND;
	hc_send(h);
}

/* "HTTP/1.x NNN" then a space or the end of the line; -1 if not that. */
static int hc_parse_status(const char *s, size_t len)
{
	if (len < 12 || memcmp(s, "HTTP/1.", 7) || s[7] < '0' || s[7] > '9' || s[8] != ' ')
		return -1;
	if (s[9] < '1' || s[9] > '5' || s[10] < '0' || s[10] > '9' || s[11] < '0' || s[11] > '9')
		return -1;
	if (len > 12 && s[12] != ' ' && s[12] != '\r' && s[12] != '\n')
		return -1;
	return (s[9] - '0') * 100 + (s[10] - '0') * 10 + (s[11] - '0');
}

/* Judge the status line in rsp[0..len). */
static void hc_http_status(struct hc *h, size_t len)
{
	int code = hc_parse_status(h->rsp, len);

	if (code < 0)
		hc_failf(h, "http: bad status line");
	else if (code < 200 || code > 399)
		hc_failf(h, "HTTP %d", code);
	else
		hc_result(h, true);
}

/* Decide on what arrived so far, if it is enough: a whole line, or all
 * there will be. */
static void hc_judge(struct hc *h, bool eof)
{
	const char *nl = memchr(h->rsp, '\n', h->rsp_len);

	if (nl)
		hc_http_status(h, (size_t)(nl - h->rsp));
	else if (eof && h->rsp_len)
		hc_http_status(h, h->rsp_len); /* a status line cut by the end */
	else if (eof)
		hc_failf(h, "http: connection closed without a response");
	else if (h->rsp_len == sizeof(h->rsp))
		hc_failf(h, "http: status line longer than %d bytes", HC_STATUS_MAX);
}

static void hc_recv(struct hc *h)
{
	ssize_t n;

	n = recv(h->lfd.fd, h->rsp + h->rsp_len, sizeof(h->rsp) - h->rsp_len, MSG_DONTWAIT);
	if (n < 0) {
		if (errno != EAGAIN && errno != EINTR)
			hc_fail(h, "recv", errno);
		return;
	}
	h->rsp_len += (unsigned int)n;
	hc_judge(h, n == 0);
}

static void hc_on_connect(struct hc *h)
{
	socklen_t len = sizeof(int);
	int err = 0;

	if (getsockopt(h->lfd.fd, SOL_SOCKET, SO_ERROR, &err, &len))
		err = errno;
	if (err)
		hc_fail(h, "connect", err);
	else
		hc_connected(h);
}

/* Enter and leave one of h's own callbacks: hc_stop() from inside defers the
 * free to hc_leave(), after which the caller must not touch h. */
static void hc_enter(struct hc *h)
{
	h->busy++;
}

static void hc_leave(struct hc *h)
{
	if (!--h->busy && h->stopped)
		free(h);
}

static void hc_on_fd(struct loop_fd *lf, uint32_t events)
{
	struct hc *h = hc_of_fd(lf);

	(void)events; /* errors surface through SO_ERROR, send() and recv() */
	if (h->stopped)
		return; /* event fetched before another callback stopped h */
	hc_enter(h);
	if (h->phase == HC_CONNECT)
		hc_on_connect(h);
	else if (h->phase == HC_SEND)
		hc_send(h);
	else if (h->phase == HC_RECV)
		hc_recv(h);
	hc_leave(h);
}

static int hc_open(struct hc *h)
{
	struct sockaddr_storage ss;
	socklen_t sl = hc_sockaddr(&h->t, &ss);
	int fd;

	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	h->lfd.fd = fd;
	if (connect(fd, (struct sockaddr *)&ss, sl) && errno != EINPROGRESS)
		return -errno;
	return 0;
}

/* Start an attempt; the timer becomes its deadline. */
static void hc_attempt(struct hc *h)
{
	int err;

	hc_arm(h, h->p.timeout_ms);
	err = hc_open(h);
	if (err) {
		hc_fail(h, h->lfd.fd < 0 ? "socket" : "connect", -err);
		return;
	}
	err = loop_add(h->loop, &h->lfd, EPOLLOUT);
	if (err) {
		hc_fail(h, "epoll", -err);
		return;
	}
	h->phase = HC_CONNECT; /* even if connect() returned 0: EPOLLOUT follows */
}

static void hc_on_timer(struct loop_timer *t)
{
	struct hc *h = hc_of_timer(t);

	hc_enter(h);
	if (h->phase == HC_IDLE)
		hc_attempt(h);
	else
		hc_failf(h, "%s: timeout", h->phase == HC_CONNECT ? "connect" : "http");
	hc_leave(h);
}

static void hc_reap(struct loop_timer *t)
{
	free(hc_of_timer(t));
}

struct hc *hc_start(struct loop *l, const struct hc_target *t, const struct hc_params *p,
		    void (*cb)(void *arg, bool up), void *arg)
{
	struct hc *h;
	__u32 jitter;

	if (!hc_args_ok(t, p)) {
		errno = EINVAL;
		return NULL;
	}
	h = calloc(1, sizeof(*h));
	if (!h)
		return NULL;
	h->loop = l;
	h->lfd = (struct loop_fd){.fd = -1, .cb = hc_on_fd};
	h->timer.cb = hc_on_timer;
	h->t = *t;
	h->p = *p;
	h->cb = cb;
	h->arg = arg;
	h->change_ms = loop_now_ms();
	h->up = p->type == XDPLB_CHECK_NONE || p->start_up;
	h->fresh = !h->up;
	if (p->type == XDPLB_CHECK_NONE)
		return h;
	if (p->type == XDPLB_CHECK_HTTP)
		hc_build_request(h);
	jitter = hc_jitter(t, p->interval_ms);
	h->slot_ms = h->change_ms + jitter;
	if (loop_timer_set(l, &h->timer, jitter)) {
		free(h);
		errno = ENOMEM;
		return NULL;
	}
	return h;
}

void hc_stop(struct hc *h)
{
	bool in_flight;

	if (!h || h->stopped)
		return;
	in_flight = h->lfd.fd >= 0;
	hc_close(h);
	loop_timer_cancel(h->loop, &h->timer);
	h->stopped = true;
	if (h->busy)
		return; /* hc_leave() frees */
	if (!in_flight) {
		free(h);
		return;
	}
	/* An event for h may sit in the batch epoll_wait() returned: free h
	 * after the batch.  In flight means the deadline timer was armed, so
	 * arming it again cannot fail. */
	h->timer.cb = hc_reap;
	hc_arm(h, 0);
}

bool hc_is_up(const struct hc *h)
{
	return h->up;
}

const char *hc_last_error(const struct hc *h)
{
	return h->err;
}

__u64 hc_last_change_ms(const struct hc *h)
{
	return h->change_ms;
}
