/* SPDX-License-Identifier: GPL-2.0 */
/* holdd - an accept-and-hold TCP server for connection-scale tests.
 *
 *   holdd [-n NPROC] [-r PREFIX] ADDR PORT
 *
 * NPROC processes (default 4), each with its own SO_REUSEPORT listener on
 * ADDR:PORT, so the kernel spreads connections over them, and each with at
 * most the hard limit of descriptors (20000 here: LAB.md trap 5).  Every
 * accepted connection gets a one-line greeting ("holdd\n"), then is held
 * open, its input discarded, until the peer closes it.  Process N rewrites
 * PREFIX.N (default /tmp/holdd.N) whenever its counts change, at most five
 * times a second:
 *
 *   held H accepted A closed C emfile E addrs K overflow O
 *   ADDR HELD SEEN      one line per distinct client address (at most 4096)
 *
 * "held" is open now, "emfile" counts accepts refused for lack of
 * descriptors, "addrs" the distinct client addresses among held
 * connections.  SIGTERM or SIGINT stops every process.
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
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "conn.h"

#define MAX_PROCS  64
#define MAX_ADDRS  4096
#define GREETING   "holdd\n"
#define REPORT_GAP 200 /* ms between two rewrites of the report */

struct addr {
	int family;
	unsigned char bytes[16];
	char text[INET6_ADDRSTRLEN];
	unsigned held, seen;
};

static struct {
	unsigned long held, accepted, closed, emfile, overflow;
	struct addr addrs[MAX_ADDRS];
	unsigned n_addrs;
	bool dirty;
} st;

static void usage(void)
{
	fprintf(stderr, "usage: holdd [-n NPROC] [-r PREFIX] ADDR PORT\n"
			"  NPROC processes (1-%d, default 4) accept on ADDR:PORT and hold every\n"
			"  connection; process N writes its counts to PREFIX.N (default /tmp/holdd)\n",
		MAX_PROCS);
	exit(2);
}

/* The index of the connection's client address in st.addrs, added if new;
 * MAX_ADDRS when the table is full (counted in "overflow"). */
static unsigned addr_index(const struct sockaddr_storage *ss)
{
	const void *raw;
	size_t len;
	unsigned i;

	if (ss->ss_family == AF_INET6) {
		raw = &((const struct sockaddr_in6 *)ss)->sin6_addr;
		len = 16;
	} else {
		raw = &((const struct sockaddr_in *)ss)->sin_addr;
		len = 4;
	}
	for (i = 0; i < st.n_addrs; i++)
		if (st.addrs[i].family == ss->ss_family && !memcmp(st.addrs[i].bytes, raw, len))
			return i;
	if (st.n_addrs == MAX_ADDRS) {
		st.overflow++;
		return MAX_ADDRS;
	}
	st.addrs[i].family = ss->ss_family;
	memcpy(st.addrs[i].bytes, raw, len);
	inet_ntop(ss->ss_family, raw, st.addrs[i].text, sizeof(st.addrs[i].text));
	st.n_addrs++;
	return i;
}

static void write_report(const char *path)
{
	char tmp[4200];
	unsigned i, n = 0;
	FILE *f;

	for (i = 0; i < st.n_addrs; i++)
		n += st.addrs[i].held > 0;
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "w");
	if (!f) {
		fprintf(stderr, "holdd: cannot write %s: %s\n", tmp, strerror(errno));
		return;
	}
	fprintf(f, "held %lu accepted %lu closed %lu emfile %lu addrs %u overflow %lu\n", st.held,
		st.accepted, st.closed, st.emfile, n, st.overflow);
	for (i = 0; i < st.n_addrs; i++)
		fprintf(f, "%s %u %u\n", st.addrs[i].text, st.addrs[i].held, st.addrs[i].seen);
	if (fclose(f) || rename(tmp, path))
		fprintf(stderr, "holdd: cannot write %s: %s\n", path, strerror(errno));
	st.dirty = false;
}

static int listener(const struct addrinfo *ai)
{
	int one = 1, fd;

	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) ||
	    bind(fd, ai->ai_addr, ai->ai_addrlen) || listen(fd, 65535)) {
		close(fd);
		return -1;
	}
	return fd;
}

/* epoll data of a connection: its fd, and its address index above. */
#define CONN_DATA(fd, ai) ((uint64_t)(ai) << 32 | (uint32_t)(fd))
#define LISTEN_DATA       UINT64_MAX

static void accept_some(int lfd, int ep, bool *paused, long *resume)
{
	struct sockaddr_storage ss;
	struct epoll_event ev;
	socklen_t len;
	unsigned ai;
	int k, fd;

	for (k = 0; k < 512; k++) {
		len = sizeof(ss);
		fd = accept4(lfd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
				/* out of descriptors: stop accepting for 100 ms */
				st.emfile++;
				st.dirty = true;
				ev.events = 0;
				ev.data.u64 = LISTEN_DATA;
				epoll_ctl(ep, EPOLL_CTL_MOD, lfd, &ev);
				*paused = true;
				*resume = now_ms() + 100;
			}
			return;
		}
		ai = addr_index(&ss);
		ev.events = EPOLLIN | EPOLLRDHUP;
		ev.data.u64 = CONN_DATA(fd, ai);
		if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev)) {
			close(fd);
			continue;
		}
		if (write(fd, GREETING, sizeof(GREETING) - 1) < 0) {
			/* the peer is already gone: its close event follows */
		}
		st.held++;
		st.accepted++;
		if (ai < MAX_ADDRS) {
			st.addrs[ai].held++;
			st.addrs[ai].seen++;
		}
		st.dirty = true;
	}
}

static void conn_event(uint64_t data, uint32_t events)
{
	int fd = (int)(uint32_t)data;
	unsigned ai = (unsigned)(data >> 32);
	char buf[4096];
	ssize_t n;

	if (events & EPOLLIN) {
		while ((n = read(fd, buf, sizeof(buf))) > 0)
			;
		if (n < 0 && (errno == EAGAIN || errno == EINTR) &&
		    !(events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)))
			return;
	} else if (!(events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))) {
		return;
	}
	close(fd); /* also leaves the epoll set */
	st.held--;
	st.closed++;
	if (ai < MAX_ADDRS)
		st.addrs[ai].held--;
	st.dirty = true;
}

static int serve(const struct addrinfo *ai, const char *report)
{
	struct epoll_event ev, evs[256];
	long resume = 0, last = 0;
	bool paused = false;
	int lfd, ep, n, i;

	lfd = listener(ai);
	if (lfd < 0) {
		fprintf(stderr, "holdd: cannot listen: %s\n", strerror(errno));
		return 1;
	}
	ep = epoll_create1(EPOLL_CLOEXEC);
	ev.events = EPOLLIN;
	ev.data.u64 = LISTEN_DATA;
	if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev)) {
		fprintf(stderr, "holdd: epoll: %s\n", strerror(errno));
		return 1;
	}
	write_report(report);
	while (!stop) {
		n = epoll_wait(ep, evs, 256, REPORT_GAP);
		for (i = 0; i < n; i++) {
			if (evs[i].data.u64 == LISTEN_DATA)
				accept_some(lfd, ep, &paused, &resume);
			else
				conn_event(evs[i].data.u64, evs[i].events);
		}
		if (paused && now_ms() >= resume) {
			ev.events = EPOLLIN;
			ev.data.u64 = LISTEN_DATA;
			epoll_ctl(ep, EPOLL_CTL_MOD, lfd, &ev);
			paused = false;
		}
		if (st.dirty && now_ms() - last >= REPORT_GAP) {
			write_report(report);
			last = now_ms();
		}
	}
	write_report(report);
	return 0;
}

int main(int argc, char **argv)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE };
	const char *prefix = "/tmp/holdd";
	pid_t pids[MAX_PROCS];
	struct addrinfo *ai;
	int nproc = 4, opt, i, err, status, rc = 0;
	char report[4096], *end;

	while ((opt = getopt(argc, argv, "n:r:h")) != -1) {
		switch (opt) {
		case 'n':
			nproc = (int)strtol(optarg, &end, 10);
			if (*end || nproc < 1 || nproc > MAX_PROCS)
				usage();
			break;
		case 'r':
			prefix = optarg;
			break;
		default:
			usage();
		}
	}
	if (argc - optind != 2)
		usage();
	err = getaddrinfo(argv[optind], argv[optind + 1], &hints, &ai);
	if (err) {
		fprintf(stderr, "holdd: bad address \"%s\" port \"%s\": %s\n", argv[optind],
			argv[optind + 1], gai_strerror(err));
		return 2;
	}
	conn_raise_nofile();
	conn_signals(); /* no SA_RESTART: a signal ends the parent's wait() */
	for (i = 0; i < nproc; i++) {
		pids[i] = fork();
		if (pids[i] < 0) {
			fprintf(stderr, "holdd: fork: %s\n", strerror(errno));
			nproc = i;
			stop = 1;
			rc = 1;
			break;
		}
		if (pids[i] == 0) {
			prctl(PR_SET_PDEATHSIG, SIGTERM);
			snprintf(report, sizeof(report), "%s.%d", prefix, i);
			exit(serve(ai, report));
		}
	}
	/* the parent: wait for a signal or a child that failed, then stop all */
	while (!stop) {
		pid_t p = wait(&status);

		if (p < 0 && errno != EINTR)
			break;
		if (p > 0) {
			fprintf(stderr, "holdd: process %d ended (status %d)\n", (int)p, status);
			rc = 1;
			break;
		}
	}
	for (i = 0; i < nproc; i++)
		kill(pids[i], SIGTERM);
	while (wait(&status) > 0 || errno == EINTR)
		;
	freeaddrinfo(ai);
	return rc;
}
