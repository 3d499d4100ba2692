/* SPDX-License-Identifier: GPL-2.0 */
/* echod - a backend that answers every request with its name and the
 * client's address, for the namespace tests.
 *
 *   echod NAME {tcp|udp} ADDR PORT [{tcp|udp} ADDR PORT ...]
 *
 * One process, one epoll loop, no fork: every UDP datagram gets one reply
 * datagram, sent from the socket it came in on (bind the VIP, so the reply
 * leaves from the VIP), and every newline-terminated line on a TCP
 * connection gets one reply line.  A reply is
 *
 *   NAME CLIENT-ADDRESS\n
 *
 * with the address as inet_ntop prints it (fd99:10::20, 10.99.10.20).  A TCP
 * line longer than 4095 bytes is answered once per 4095 bytes.  SIGTERM or
 * SIGINT stops it; it prints "echod: N datagrams, M lines" to stderr then.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conn.h"

#define LINE_MAX_LEN 4096

struct conn {
	int fd;
	bool listener, udp;
	size_t len;
	char peer[INET6_ADDRSTRLEN];
	char buf[LINE_MAX_LEN];
};

static const char *name;
static unsigned long datagrams, lines;

static void usage(void)
{
	fprintf(stderr, "usage: echod NAME {tcp|udp} ADDR PORT [{tcp|udp} ADDR PORT ...]\n"
			"  answers each UDP datagram and each TCP line with \"NAME CLIENT\\n\"\n");
	exit(2);
}

static void peer_text(const struct sockaddr_storage *ss, char *out, size_t len)
{
	const void *raw = ss->ss_family == AF_INET6 ?
				  (const void *)&((const struct sockaddr_in6 *)ss)->sin6_addr :
				  (const void *)&((const struct sockaddr_in *)ss)->sin_addr;

	if (!inet_ntop(ss->ss_family, raw, out, len))
		snprintf(out, len, "?");
}

static int open_socket(const char *proto, const char *addr, const char *port)
{
	struct sockaddr_storage ss = { 0 };
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
	bool udp = !strcmp(proto, "udp");
	char *end;
	long p = strtol(port, &end, 10);
	int fd, one = 1;
	socklen_t len;

	if ((!udp && strcmp(proto, "tcp")) || *end || p < 1 || p > 65535)
		usage();
	if (inet_pton(AF_INET, addr, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons(p);
		len = sizeof(*s4);
	} else if (inet_pton(AF_INET6, addr, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(p);
		len = sizeof(*s6);
	} else {
		usage();
	}
	fd = socket(ss.ss_family, (udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    0);
	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, len) || (!udp && listen(fd, 1024))) {
		fprintf(stderr, "echod: %s %s:%s: %s\n", proto, addr, port, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

static struct conn *conn_new(int fd, bool listener, bool udp)
{
	struct conn *c = calloc(1, sizeof(*c));

	if (!c) {
		close(fd);
		return NULL;
	}
	c->fd = fd;
	c->listener = listener;
	c->udp = udp;
	return c;
}

static void conn_close(struct conn *c)
{
	close(c->fd);
	free(c);
}

static void on_datagram(struct conn *c)
{
	char buf[2048], reply[128], peer[INET6_ADDRSTRLEN];
	struct sockaddr_storage ss;
	socklen_t sl;
	int n, i;

	for (i = 0; i < 64; i++) {
		sl = sizeof(ss);
		if (recvfrom(c->fd, buf, sizeof(buf), 0, (struct sockaddr *)&ss, &sl) < 0)
			return;
		datagrams++;
		peer_text(&ss, peer, sizeof(peer));
		n = snprintf(reply, sizeof(reply), "%s %s\n", name, peer);
		if (sendto(c->fd, reply, n, 0, (struct sockaddr *)&ss, sl) < 0)
			fprintf(stderr, "echod: reply to %s: %s\n", peer, strerror(errno));
	}
}

static void on_accept(int ep, struct conn *l)
{
	struct sockaddr_storage ss;
	struct epoll_event ev = { .events = EPOLLIN };
	struct conn *c;
	socklen_t sl;
	int fd, i;

	for (i = 0; i < 64; i++) {
		sl = sizeof(ss);
		fd = accept4(l->fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		c = conn_new(fd, false, false);
		if (!c)
			continue;
		peer_text(&ss, c->peer, sizeof(c->peer));
		ev.data.ptr = c;
		if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev))
			conn_close(c);
	}
}

/* Reads what the connection has; false when it is to be closed. */
static bool on_stream(struct conn *c)
{
	char reply[128];
	char *nl;
	ssize_t n;
	int rl;

	rl = snprintf(reply, sizeof(reply), "%s %s\n", name, c->peer);
	for (;;) {
		n = read(c->fd, c->buf + c->len, sizeof(c->buf) - 1 - c->len);
		if (n == 0)
			return false;
		if (n < 0)
			return errno == EAGAIN || errno == EINTR;
		c->len += n;
		while ((nl = memchr(c->buf, '\n', c->len))) {
			size_t used = nl - c->buf + 1;

			lines++;
			if (write(c->fd, reply, rl) != rl)
				return false;
			memmove(c->buf, c->buf + used, c->len - used);
			c->len -= used;
		}
		if (c->len == sizeof(c->buf) - 1) { /* a line too long: answer, drop */
			lines++;
			c->len = 0;
			if (write(c->fd, reply, rl) != rl)
				return false;
		}
	}
}

int main(int argc, char **argv)
{
	struct epoll_event ev = { .events = EPOLLIN }, evs[64];
	int ep, i, n;

	if (argc < 5 || (argc - 2) % 3)
		usage();
	name = argv[1];
	conn_signals();
	conn_raise_nofile();
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0)
		return 1;
	for (i = 2; i < argc; i += 3) {
		int fd = open_socket(argv[i], argv[i + 1], argv[i + 2]);
		struct conn *c;

		if (fd < 0)
			return 1;
		c = conn_new(fd, true, !strcmp(argv[i], "udp"));
		if (!c)
			return 1;
		ev.data.ptr = c;
		if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev))
			return 1;
	}
	while (!stop) {
		n = epoll_wait(ep, evs, 64, 1000);
		for (i = 0; i < n; i++) {
			struct conn *c = evs[i].data.ptr;

			if (c->udp)
				on_datagram(c);
			else if (c->listener)
				on_accept(ep, c);
			else if (!on_stream(c))
				conn_close(c);
		}
	}
	fprintf(stderr, "echod: %lu datagrams, %lu lines\n", datagrams, lines);
	return 0;
}
