/* SPDX-License-Identifier: GPL-2.0 */
/* talk - keep N TCP connections talking to echod and record what each sees.
 *
 *   talk -s SRC [-s SRC ...] [-n N] [-i MS] [-t MS] [-d SECONDS] [-r REPORT]
 *        [-e EVENTS] DST PORT
 *
 * Opens N (default 1) connections to DST:PORT, connection k from the source
 * address SRC number k mod (number of -s), all at once.  Each connection
 * sends a line ("talk SEQ\n") and waits for echod's answer ("NAME CLIENT\n"),
 * then sends the next one I ms (default 100) after the previous one was
 * sent (at once if the answer came later than that).  Per connection it
 * records
 *   backend   the NAME of the first answer;
 *   moved     1 once an answer came from another NAME (answered by two
 *             backends);
 *   broken    why the connection ended: refused, reset (RST), eof (closed
 *             by the peer), timeout (no connection or no answer within T ms,
 *             default 3000), error, garbled (an answer that is no line);
 *   gap       the longest time between two answers, in ms;
 *   seen      the client address the backend saw (echod's CLIENT).
 * The report goes to REPORT (default: stdout at the end only), rewritten
 * atomically (REPORT.tmp, then rename) four times a second and at the end:
 *
 *   opened O broken B moved M longest_gap_ms G answered A
 *   conn K src ADDR port P state connecting|talking|broken backend NAME
 *        moved 0|1 answers N gap_ms G seen ADDR why WHY     (one line each)
 *
 * opened counts connections that were established, broken those that
 * ended, moved those answered by two backends, answered those that got at
 * least one answer; longest_gap_ms is the largest gap of any connection.
 * Runs D seconds (default 0: until SIGTERM/SIGINT).  Every socket has
 * SO_LINGER 0: the end of the process resets its connections.
 *
 * With -e, every event is also appended to EVENTS as it happens (one line
 * each, flushed at once), stamped with the wall clock (ms since the epoch,
 * what `date +%s%3N` prints), so that a test can count what happened
 * between two moments of its own (several talk processes, one window):
 *
 *   MS conn K src ADDR port P broken WHY backend NAME
 *   MS conn K src ADDR port P moved FROM TO     (an answer from another
 *                                                backend than the last one)
 *   MS conn K src ADDR port P gap G             (an answer G ms after the
 *                                                previous one, G > 2 x I)
 *
 * The process ending (SIGTERM, -d) writes no event.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "conn.h"

#define MAX_SRCS 256
#define NAME_LEN 32
#define LINE_LEN 192

enum cstate { S_CONNECTING, S_TALKING, S_BROKEN };
static const char *const state_names[] = { "connecting", "talking", "broken" };
enum why { W_NONE, W_REFUSED, W_RESET, W_EOF, W_TIMEOUT, W_ERROR, W_GARBLED };
static const char *const why_names[] = { "-",	     "refused", "reset",  "eof",
					 "timeout", "error",   "garbled" };

struct conn {
	int fd;
	unsigned char state, why;
	bool moved, awaiting;
	unsigned src;
	unsigned long idx; /* K */
	unsigned short sport;
	unsigned long answers, seq;
	long start_ms, sent_ms, last_answer_ms, gap_ms;
	size_t len;
	char backend[NAME_LEN];
	char last[NAME_LEN]; /* the NAME of the latest answer */
	char seen[INET6_ADDRSTRLEN];
	char buf[LINE_LEN];
};

static struct {
	struct sockaddr_storage addr[MAX_SRCS];
	char text[MAX_SRCS][INET6_ADDRSTRLEN];
	socklen_t len;
	unsigned n;
} srcs;
static long interval_ms = 100, timeout_ms = 3000;
static FILE *events; /* -e */

static void usage(void)
{
	fprintf(stderr,
		"usage: talk -s SRC [-s SRC ...] [-n N] [-i MS] [-t MS] [-d SECONDS] [-r REPORT]\n"
		"            [-e EVENTS] DST PORT\n"
		"  N connections (sources round robin), a line every MS each, answers checked\n");
	exit(2);
}

static long num(const char *s, const char *what, long min, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || !*s || v < min || v > max) {
		fprintf(stderr, "talk: bad %s \"%s\" (%ld-%ld)\n", what, s, min, max);
		exit(2);
	}
	return v;
}

static void add_src(const char *text, int family)
{
	struct sockaddr_storage *ss = &srcs.addr[srcs.n];
	int ok;

	if (srcs.n == MAX_SRCS) {
		fprintf(stderr, "talk: at most %d source addresses\n", MAX_SRCS);
		exit(2);
	}
	if (family == AF_INET6) {
		ss->ss_family = AF_INET6;
		ok = inet_pton(AF_INET6, text, &((struct sockaddr_in6 *)ss)->sin6_addr) == 1;
		srcs.len = sizeof(struct sockaddr_in6);
	} else {
		ss->ss_family = AF_INET;
		ok = inet_pton(AF_INET, text, &((struct sockaddr_in *)ss)->sin_addr) == 1;
		srcs.len = sizeof(struct sockaddr_in);
	}
	if (!ok) {
		fprintf(stderr, "talk: bad source address \"%s\" (an %s address, like the destination)\n",
			text, family == AF_INET6 ? "IPv6" : "IPv4");
		exit(2);
	}
	/* the text as inet_ntop writes it, to compare with what echod saw */
	inet_ntop(family,
		  family == AF_INET6 ? (void *)&((struct sockaddr_in6 *)ss)->sin6_addr :
				       (void *)&((struct sockaddr_in *)ss)->sin_addr,
		  srcs.text[srcs.n], sizeof(srcs.text[0]));
	srcs.n++;
}

static void report(const char *path, const struct conn *conns, unsigned long n)
{
	unsigned long opened = 0, broken = 0, moved = 0, answered = 0, i;
	char tmp[4200];
	long gap = 0;
	FILE *f = stdout;

	for (i = 0; i < n; i++) {
		const struct conn *c = &conns[i];

		opened += c->sport != 0;
		broken += c->state == S_BROKEN;
		moved += c->moved;
		answered += c->answers > 0;
		if (c->gap_ms > gap)
			gap = c->gap_ms;
	}
	if (path) {
		snprintf(tmp, sizeof(tmp), "%s.tmp", path);
		f = fopen(tmp, "w");
		if (!f) {
			fprintf(stderr, "talk: cannot write %s: %s\n", tmp, strerror(errno));
			return;
		}
	}
	fprintf(f, "opened %lu broken %lu moved %lu longest_gap_ms %ld answered %lu\n", opened,
		broken, moved, gap, answered);
	for (i = 0; i < n; i++) {
		const struct conn *c = &conns[i];

		fprintf(f,
			"conn %lu src %s port %u state %s backend %s moved %d answers %lu gap_ms %ld seen %s why %s\n",
			i, srcs.text[c->src], c->sport, state_names[c->state],
			c->backend[0] ? c->backend : "-", c->moved, c->answers, c->gap_ms,
			c->seen[0] ? c->seen : "-", why_names[c->why]);
	}
	if (!path)
		fflush(stdout);
	else if (fclose(f) || rename(tmp, path))
		fprintf(stderr, "talk: cannot write %s: %s\n", path, strerror(errno));
}

/* One line to the -e file: "MS conn K src ADDR port P " and WHAT. */
__attribute__((format(printf, 2, 3))) static void event(const struct conn *c, const char *fmt, ...)
{
	struct timespec ts;
	va_list ap;

	if (!events)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	fprintf(events, "%lld conn %lu src %s port %u ",
		(long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000, c->idx, srcs.text[c->src],
		c->sport);
	va_start(ap, fmt);
	vfprintf(events, fmt, ap);
	va_end(ap);
	fputc('\n', events);
	fflush(events);
}

static void end_conn(struct conn *c, enum why why)
{
	if (c->state == S_BROKEN)
		return;
	event(c, "broken %s backend %s", why_names[why], c->backend[0] ? c->backend : "-");
	close(c->fd);
	c->fd = -1;
	c->state = S_BROKEN;
	c->why = why;
}

static enum why classify(int err)
{
	switch (err) {
	case ECONNREFUSED:
		return W_REFUSED;
	case ECONNRESET:
	case EPIPE:
		return W_RESET;
	case ETIMEDOUT:
		return W_TIMEOUT;
	default:
		return W_ERROR;
	}
}

/* Starts connection C: 0, or -1 when its source address cannot be bound. */
static int start(struct conn *c, unsigned long idx, const struct addrinfo *dst, int ep)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	struct epoll_event ev = { .events = EPOLLOUT | EPOLLIN | EPOLLRDHUP, .data.u64 = idx };

	c->idx = idx;
	c->src = idx % srcs.n;
	c->start_ms = now_ms();
	c->state = S_CONNECTING;
	c->fd = socket(dst->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		c->state = S_BROKEN;
		c->why = W_ERROR;
		return 0;
	}
	setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	if (bind(c->fd, (const struct sockaddr *)&srcs.addr[c->src], srcs.len)) {
		fprintf(stderr, "talk: cannot bind to %s: %s\n", srcs.text[c->src], strerror(errno));
		close(c->fd);
		return -1;
	}
	if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev))
		end_conn(c, W_ERROR);
	else if (connect(c->fd, dst->ai_addr, dst->ai_addrlen) && errno != EINPROGRESS)
		end_conn(c, classify(errno));
	return 0;
}

static void send_line(struct conn *c, long now)
{
	char line[32];
	int n = snprintf(line, sizeof(line), "talk %lu\n", c->seq++);

	if (write(c->fd, line, n) != n) {
		end_conn(c, errno == EAGAIN ? W_ERROR : classify(errno));
		return;
	}
	c->awaiting = true;
	c->sent_ms = now;
}

/* One answer line (without its newline). */
static void on_answer(struct conn *c, char *line, long now)
{
	char *sp = strchr(line, ' ');

	if (!c->awaiting || !sp || sp == line) {
		end_conn(c, W_GARBLED);
		return;
	}
	*sp = '\0';
	if (!c->backend[0])
		snprintf(c->backend, sizeof(c->backend), "%.*s", NAME_LEN - 1, line);
	else if (strncmp(c->backend, line, NAME_LEN - 1))
		c->moved = true;
	if (c->last[0] && strncmp(c->last, line, NAME_LEN - 1))
		event(c, "moved %s %.*s", c->last, NAME_LEN - 1, line);
	snprintf(c->last, sizeof(c->last), "%.*s", NAME_LEN - 1, line);
	snprintf(c->seen, sizeof(c->seen), "%s", sp + 1);
	if (c->answers && now - c->last_answer_ms > 2 * interval_ms)
		event(c, "gap %ld", now - c->last_answer_ms);
	if (c->answers && now - c->last_answer_ms > c->gap_ms)
		c->gap_ms = now - c->last_answer_ms;
	c->answers++;
	c->last_answer_ms = now;
	c->awaiting = false;
}

static void on_readable(struct conn *c, long now)
{
	char *nl;
	ssize_t n;
	int i;

	for (i = 0; i < 16 && c->state == S_TALKING; i++) {
		n = read(c->fd, c->buf + c->len, sizeof(c->buf) - 1 - c->len);
		if (n == 0) {
			end_conn(c, W_EOF);
			return;
		}
		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR)
				end_conn(c, classify(errno));
			return;
		}
		c->len += n;
		while (c->state == S_TALKING && (nl = memchr(c->buf, '\n', c->len))) {
			size_t used = nl - c->buf + 1;

			*nl = '\0';
			on_answer(c, c->buf, now);
			memmove(c->buf, c->buf + used, c->len - used);
			c->len -= used;
		}
		if (c->len == sizeof(c->buf) - 1)
			end_conn(c, W_GARBLED);
	}
}

static void on_event(struct conn *c, uint32_t events, int ep, unsigned long idx, long now)
{
	socklen_t len = sizeof(int);
	int err = 0;

	if (c->state == S_CONNECTING) {
		struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP, .data.u64 = idx };
		struct sockaddr_in6 me = { 0 }; /* port at the same offset in sockaddr_in */
		socklen_t ml = sizeof(me);

		getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
		if (err) {
			end_conn(c, classify(err));
			return;
		}
		if (!(events & EPOLLOUT))
			return;
		if (getsockname(c->fd, (struct sockaddr *)&me, &ml) ||
		    epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev)) {
			end_conn(c, W_ERROR);
			return;
		}
		c->sport = ntohs(me.sin6_port);
		c->state = S_TALKING;
		send_line(c, now);
		return;
	}
	if (c->state == S_TALKING && (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)))
		on_readable(c, now);
}

/* Sends what is due, ends what timed out. */
static void tick(struct conn *conns, unsigned long n, long now)
{
	unsigned long i;

	for (i = 0; i < n; i++) {
		struct conn *c = &conns[i];

		long since = c->state == S_CONNECTING ? c->start_ms : c->sent_ms;

		if ((c->state == S_CONNECTING || (c->state == S_TALKING && c->awaiting)) &&
		    now - since > timeout_ms)
			end_conn(c, W_TIMEOUT);
		else if (c->state == S_TALKING && !c->awaiting && now - c->sent_ms >= interval_ms)
			send_line(c, now);
	}
}

int main(int argc, char **argv)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV };
	const char *src_args[MAX_SRCS], *report_path = NULL, *events_path = NULL;
	unsigned long n = 1, i, nsrc = 0;
	long duration_s = 0, end, last_report = 0, now;
	struct epoll_event evs[512];
	struct addrinfo *dst;
	struct conn *conns;
	rlim_t lim;
	int opt, err, ep, k;

	while ((opt = getopt(argc, argv, "s:n:i:t:d:r:e:h")) != -1) {
		switch (opt) {
		case 's':
			if (nsrc == MAX_SRCS) {
				fprintf(stderr, "talk: at most %d source addresses\n", MAX_SRCS);
				return 2;
			}
			src_args[nsrc++] = optarg;
			break;
		case 'n':
			n = num(optarg, "connection count", 1, 100000);
			break;
		case 'i':
			interval_ms = num(optarg, "interval", 1, 3600000);
			break;
		case 't':
			timeout_ms = num(optarg, "timeout", 10, 3600000);
			break;
		case 'd':
			duration_s = num(optarg, "duration", 0, 86400);
			break;
		case 'r':
			report_path = optarg;
			break;
		case 'e':
			events_path = optarg;
			break;
		default:
			usage();
		}
	}
	if (argc - optind != 2 || !nsrc)
		usage();
	err = getaddrinfo(argv[optind], argv[optind + 1], &hints, &dst);
	if (err) {
		fprintf(stderr, "talk: bad destination \"%s\" port \"%s\": %s\n", argv[optind],
			argv[optind + 1], gai_strerror(err));
		return 2;
	}
	for (i = 0; i < nsrc; i++)
		add_src(src_args[i], dst->ai_family);
	lim = conn_raise_nofile();
	if (lim != RLIM_INFINITY && n + 16 > lim) {
		fprintf(stderr, "talk: %lu connections need more descriptors than the limit %lu\n", n,
			(unsigned long)lim);
		return 2;
	}
	if (events_path) {
		events = fopen(events_path, "a");
		if (!events) {
			fprintf(stderr, "talk: cannot write %s: %s\n", events_path,
				strerror(errno));
			return 1;
		}
	}
	conns = calloc(n, sizeof(*conns));
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (!conns || ep < 0) {
		fprintf(stderr, "talk: %s\n", strerror(errno));
		free(conns);
		return 1;
	}
	conn_signals();
	for (i = 0; i < n; i++) {
		if (start(&conns[i], i, dst, ep)) {
			free(conns);
			freeaddrinfo(dst);
			return 1;
		}
	}
	end = duration_s ? now_ms() + duration_s * 1000 : 0;
	while (!stop && (!end || now_ms() < end)) {
		k = epoll_wait(ep, evs, 512, 10);
		now = now_ms();
		for (int j = 0; j < k; j++) {
			unsigned long idx = evs[j].data.u64;

			on_event(&conns[idx], evs[j].events, ep, idx, now);
		}
		tick(conns, n, now);
		if (report_path && now - last_report >= 250) {
			report(report_path, conns, n);
			last_report = now;
		}
	}
	report(report_path, conns, n);
	for (i = 0; i < n; i++)
		if (conns[i].fd >= 0 && conns[i].state != S_BROKEN)
			close(conns[i].fd);
	free(conns);
	freeaddrinfo(dst);
	if (events)
		fclose(events);
	return 0;
}
