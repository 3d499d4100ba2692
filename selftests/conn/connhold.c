/* SPDX-License-Identifier: GPL-2.0 */
/* connhold - open N TCP connections from one source address and hold them.
 *
 *   connhold -s SRC -n N [-p PARALLEL] [-t SECONDS] [-r REPORT] DST PORT
 *
 * Opens N connections from SRC (any free port: IP_BIND_ADDRESS_NO_PORT, so
 * ports are shared across destinations as connect() allows) to DST:PORT,
 * at most PARALLEL (default 200) still being set up at a time.  A
 * connection counts as held once the server's first bytes (holdd's
 * greeting) arrived: then it went all the way, through any proxy, to a
 * server.  One that fails is classified:
 *   refused   connect() refused (RST to the SYN)
 *   reset     reset before the greeting
 *   closed    closed by the peer before the greeting (a proxy that could
 *             not reach its backend)
 *   timeout   no greeting within SECONDS (default 10) of the connect()
 *   other     any other error (the first one is quoted in "err")
 * Held connections are watched until SIGTERM/SIGINT: one the peer closes
 * counts as dropped.  Every socket has SO_LINGER 0, so the end of the
 * process resets its connections (no TIME_WAIT left behind).
 *
 * The counts go to REPORT (rewritten, one line; default: stdout) when the
 * set-up is over ("done 1"), and to REPORT again whenever a held
 * connection drops afterwards and at the end:
 *   attempted N held H failed F refused R reset X closed C timeout T
 *   other O dropped D done 0|1 err "..."
 * Descriptors are capped per process (20000 here, LAB.md trap 5): run
 * several processes for more connections.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "conn.h"

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

enum cstate { C_IDLE, C_CONNECTING, C_WAITING, C_HELD, C_DONE };
enum result { R_REFUSED, R_RESET, R_CLOSED, R_TIMEOUT, R_OTHER, R_NUM };
static const char *const result_names[R_NUM] = { "refused", "reset", "closed", "timeout",
						 "other" };

struct conn {
	int fd;
	unsigned char state;
	long start_ms;
};

static struct {
	unsigned long attempted, held, dropped, failed[R_NUM];
	char err[128];
	bool done;
} cnt;

static void usage(void)
{
	fprintf(stderr, "usage: connhold -s SRC -n N [-p PARALLEL] [-t SECONDS] [-r REPORT] DST PORT\n"
			"  opens N connections from SRC to DST:PORT and holds them until SIGTERM\n");
	exit(2);
}

static unsigned long num(const char *s, const char *what, unsigned long min, unsigned long max)
{
	unsigned long v;
	char *end;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || !*s || v < min || v > max) {
		fprintf(stderr, "connhold: bad %s \"%s\" (%lu-%lu)\n", what, s, min, max);
		exit(2);
	}
	return v;
}

static void report(const char *path)
{
	unsigned long failed = 0;
	char tmp[4200];
	FILE *f = stdout;
	int i;

	for (i = 0; i < R_NUM; i++)
		failed += cnt.failed[i];
	if (path) {
		snprintf(tmp, sizeof(tmp), "%s.tmp", path);
		f = fopen(tmp, "w");
		if (!f) {
			fprintf(stderr, "connhold: cannot write %s: %s\n", tmp, strerror(errno));
			return;
		}
	}
	fprintf(f, "attempted %lu held %lu failed %lu", cnt.attempted, cnt.held, failed);
	for (i = 0; i < R_NUM; i++)
		fprintf(f, " %s %lu", result_names[i], cnt.failed[i]);
	fprintf(f, " dropped %lu done %d err \"%s\"\n", cnt.dropped, cnt.done, cnt.err);
	if (path && (fclose(f) || rename(tmp, path)))
		fprintf(stderr, "connhold: cannot write %s: %s\n", path, strerror(errno));
	if (!path)
		fflush(f);
}

static void fail(struct conn *c, enum result r, int err, unsigned *inflight)
{
	if (err && !cnt.err[0])
		snprintf(cnt.err, sizeof(cnt.err), "%s", strerror(err));
	cnt.failed[r]++;
	close(c->fd);
	c->fd = -1;
	c->state = C_DONE;
	(*inflight)--;
}

static enum result classify(int err)
{
	switch (err) {
	case ECONNREFUSED:
		return R_REFUSED;
	case ECONNRESET:
	case EPIPE:
		return R_RESET;
	case ETIMEDOUT:
		return R_TIMEOUT;
	default:
		return R_OTHER;
	}
}

/* Starts connection C: 0, or -1 after a failure that is the caller's
 * (bad source address: nothing would work). */
static int start(struct conn *c, const struct sockaddr_storage *src, socklen_t srclen,
		 const struct addrinfo *dst, int ep, uint32_t idx, unsigned *inflight)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT | EPOLLRDHUP, .data.u32 = idx };
	int one = 1;

	c->fd = socket(dst->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		fprintf(stderr, "connhold: socket: %s\n", strerror(errno));
		return -1;
	}
	setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	if (dst->ai_family == AF_INET)
		setsockopt(c->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
	if (bind(c->fd, (const struct sockaddr *)src, srclen)) {
		fprintf(stderr, "connhold: cannot bind to the source address: %s\n", strerror(errno));
		return -1;
	}
	cnt.attempted++;
	c->start_ms = now_ms();
	c->state = C_CONNECTING;
	(*inflight)++;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev)) {
		fail(c, R_OTHER, errno, inflight);
		return 0;
	}
	if (connect(c->fd, dst->ai_addr, dst->ai_addrlen) && errno != EINPROGRESS)
		fail(c, classify(errno), errno, inflight);
	return 0;
}

/* An event on connection C. */
static void on_event(struct conn *c, uint32_t events, unsigned *inflight)
{
	socklen_t len = sizeof(int);
	char buf[4096];
	ssize_t n;
	int err = 0;

	if (c->state == C_CONNECTING) {
		getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
		if (err) {
			fail(c, classify(err), err, inflight);
			return;
		}
		if (!(events & (EPOLLOUT | EPOLLIN | EPOLLRDHUP | EPOLLHUP)))
			return;
		c->state = C_WAITING; /* the caller stops watching for EPOLLOUT */
	}
	if (c->state == C_WAITING && (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))) {
		n = read(c->fd, buf, sizeof(buf));
		if (n > 0) {
			c->state = C_HELD;
			cnt.held++;
			(*inflight)--;
		} else if (n == 0) {
			fail(c, R_CLOSED, 0, inflight);
		} else if (errno != EAGAIN) {
			fail(c, classify(errno), errno, inflight);
		}
		return;
	}
	if (c->state == C_HELD && (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))) {
		while ((n = read(c->fd, buf, sizeof(buf))) > 0)
			;
		if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
			close(c->fd);
			c->fd = -1;
			c->state = C_DONE;
			cnt.held--;
			cnt.dropped++;
		}
	}
}

int main(int argc, char **argv)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV };
	unsigned long n = 0, parallel = 200, timeout_s = 10, next = 0, oldest = 0;
	const char *src_text = NULL, *report_path = NULL;
	struct sockaddr_storage src = { 0 };
	struct epoll_event evs[512];
	unsigned inflight = 0;
	rlim_t lim;
	struct addrinfo *dst;
	struct conn *conns;
	socklen_t srclen;
	int opt, err, ep, k, i;
	long last = 0;

	while ((opt = getopt(argc, argv, "s:n:p:t:r:h")) != -1) {
		switch (opt) {
		case 's':
			src_text = optarg;
			break;
		case 'n':
			n = num(optarg, "connection count", 1, 1000000);
			break;
		case 'p':
			parallel = num(optarg, "parallel count", 1, 100000);
			break;
		case 't':
			timeout_s = num(optarg, "timeout", 1, 3600);
			break;
		case 'r':
			report_path = optarg;
			break;
		default:
			usage();
		}
	}
	if (argc - optind != 2 || !src_text || !n)
		usage();
	err = getaddrinfo(argv[optind], argv[optind + 1], &hints, &dst);
	if (err) {
		fprintf(stderr, "connhold: bad destination \"%s\" port \"%s\": %s\n", argv[optind],
			argv[optind + 1], gai_strerror(err));
		return 2;
	}
	if (dst->ai_family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&src;

		s6->sin6_family = AF_INET6;
		err = inet_pton(AF_INET6, src_text, &s6->sin6_addr) != 1;
		srclen = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&src;

		s4->sin_family = AF_INET;
		err = inet_pton(AF_INET, src_text, &s4->sin_addr) != 1;
		srclen = sizeof(*s4);
	}
	if (err) {
		fprintf(stderr, "connhold: bad source address \"%s\" (an %s address, like the destination)\n",
			src_text, dst->ai_family == AF_INET6 ? "IPv6" : "IPv4");
		return 2;
	}
	lim = conn_raise_nofile();
	if (lim != RLIM_INFINITY && n + 16 > lim) {
		fprintf(stderr,
			"connhold: %lu connections need more descriptors than the limit %lu: "
			"run several processes\n",
			n, (unsigned long)lim);
		return 2;
	}
	conns = calloc(n, sizeof(*conns));
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (!conns || ep < 0) {
		fprintf(stderr, "connhold: %s\n", strerror(errno));
		return 1;
	}
	conn_signals();

	while (!stop) {
		while (next < n && inflight < parallel) {
			if (start(&conns[next], &src, srclen, dst, ep, (uint32_t)next, &inflight))
				return 1;
			next++;
		}
		k = epoll_wait(ep, evs, 512, cnt.done ? 200 : 50);
		for (i = 0; i < k; i++) {
			struct conn *c = &conns[evs[i].data.u32];
			enum cstate before = c->state;

			on_event(c, evs[i].events, &inflight);
			if (before == C_CONNECTING && c->state == C_WAITING) {
				struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP,
							  .data.u32 = evs[i].data.u32 };

				epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
			}
		}
		/* deadlines grow with the index: the oldest unfinished one is first */
		for (; oldest < next; oldest++) {
			struct conn *c = &conns[oldest];

			if (c->state == C_HELD || c->state == C_DONE)
				continue;
			if (now_ms() - c->start_ms <= (long)timeout_s * 1000)
				break;
			fail(c, R_TIMEOUT, 0, &inflight);
		}
		if (!cnt.done && next == n && inflight == 0) {
			cnt.done = true;
			report(report_path);
			last = now_ms();
		} else if (cnt.done && now_ms() - last >= 200) {
			static unsigned long reported_drops;

			if (cnt.dropped != reported_drops) {
				reported_drops = cnt.dropped;
				report(report_path);
			}
			last = now_ms();
		}
	}
	if (report_path || !cnt.done)
		report(report_path); /* the final state */
	freeaddrinfo(dst);
	return 0;
}
