// SPDX-License-Identifier: GPL-2.0
/* test_ctl.c - the control socket's failure paths: every failure of
 * ctl_open says why in err, and a socket that got fd 0 is not leaked. */
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "test_progs.h"
#include "ctl.h"
#include "loop.h"

static int no_handler(void *arg, char *req, size_t len, struct strbuf *out)
{
	(void)arg, (void)req, (void)len, (void)out;
	return 0;
}

static void sock_path(char *buf, size_t len)
{
	snprintf(buf, len, "/tmp/xdplb-test-ctl.%d.sock", (int)getpid());
}

/* No fd left for the socket: ctl_open fails and err names the path. */
TEST(ctl_err_no_fds)
{
	struct rlimit old, none = { 0, 0 };
	struct loop *l = loop_new();
	char path[108], err[256] = "";
	struct ctl *c;

	if (!ASSERT_OK_PTR(l, "loop_new") || !ASSERT_OK(getrlimit(RLIMIT_NOFILE, &old), "getrlimit"))
		goto out;
	none.rlim_max = old.rlim_max;
	sock_path(path, sizeof(path));
	if (!ASSERT_OK(setrlimit(RLIMIT_NOFILE, &none), "setrlimit"))
		goto out;
	c = ctl_open(l, path, no_handler, NULL, err, sizeof(err));
	setrlimit(RLIMIT_NOFILE, &old);
	ASSERT_TRUE(c == NULL, "ctl_open fails without fds");
	if (c)
		ctl_close(c);
	ASSERT_TRUE(strstr(err, path) != NULL, "err names the socket path");
out:
	if (l)
		loop_free(l);
}

/* The listening socket got fd 0 (stdin closed) and registering it with
 * the loop fails: the socket is closed, not leaked, and err says why. */
TEST(ctl_fd0_not_leaked)
{
	char path[108], err[256] = "", link[64], target[PATH_MAX];
	int probe = dup(1), pipefd[2] = { -1, -1 }, saved0 = -1;
	struct loop *l = NULL;
	struct ctl *c;
	ssize_t n;

	if (!ASSERT_GE(probe, 0, "dup"))
		return;
	close(probe);
	l = loop_new(); /* its epoll fd takes the lowest free number: probe */
	snprintf(link, sizeof(link), "/proc/self/fd/%d", probe);
	n = readlink(link, target, sizeof(target) - 1);
	if (!ASSERT_OK_PTR(l, "loop_new") || !ASSERT_GT(n, 0, "readlink"))
		goto out;
	target[n] = 0;
	if (!ASSERT_TRUE(strstr(target, "eventpoll") != NULL, "loop's epoll fd found"))
		goto out;
	/* the loop's epoll fd becomes a pipe: loop_add fails */
	if (!ASSERT_OK(pipe(pipefd), "pipe") || !ASSERT_EQ(dup2(pipefd[0], probe), probe, "dup2"))
		goto out;
	saved0 = fcntl(0, F_DUPFD_CLOEXEC, 10);
	if (!ASSERT_GE(saved0, 0, "save fd 0"))
		goto out;
	close(0);
	sock_path(path, sizeof(path));
	c = ctl_open(l, path, no_handler, NULL, err, sizeof(err));
	ASSERT_TRUE(c == NULL, "ctl_open fails when the loop refuses the socket");
	if (c)
		ctl_close(c);
	ASSERT_TRUE(fcntl(0, F_GETFD) < 0, "the socket on fd 0 is closed");
	ASSERT_TRUE(strstr(err, path) != NULL, "err names the socket path");
	unlink(path);
out:
	if (saved0 >= 0) {
		dup2(saved0, 0);
		close(saved0);
	}
	if (pipefd[0] >= 0)
		close(pipefd[0]), close(pipefd[1]);
	if (l)
		loop_free(l);
}

/* ---- deferred replies ---- */

/* A job: "count N" answers "1\n2\n...N\n" one number per step; "fail"
 * fails at its second step; "forever" never ends; "now" answers at once. */
struct job {
	int n, at;
	bool fail, forever;
	int *log;       /* the jobs' step calls, in order: job id */
	int *n_log;
	int id;
	int *dropped;   /* count of drop() calls */
};

struct defer_ctx {
	struct ctl *ctl;
	int log[64], n_log, dropped, next_id;
};

static int job_step(void *ctx, struct strbuf *out)
{
	struct job *j = ctx;

	if (*j->n_log < 64)
		j->log[(*j->n_log)++] = j->id;
	if (j->forever)
		return 1;
	if (j->fail && ++j->at == 2) {
		sb_reset(out);
		sb_printf(out, "job %d failed", j->id);
		return -1;
	}
	if (j->fail)
		return 1;
	sb_printf(out, "%d\n", ++j->at);
	return j->at < j->n;
}

static void job_drop(void *ctx)
{
	struct job *j = ctx;

	(*j->dropped)++;
	free(j);
}

static int defer_handler(void *arg, char *req, size_t len, struct strbuf *out)
{
	struct defer_ctx *dc = arg;
	struct job *j;

	(void)len;
	if (!strcmp(req, "now")) {
		sb_printf(out, "at once\n");
		return 0;
	}
	j = calloc(1, sizeof(*j));
	if (!j)
		return -1;
	*j = (struct job){ .fail = !strcmp(req, "fail"), .forever = !strcmp(req, "forever"),
			   .log = dc->log, .n_log = &dc->n_log, .id = dc->next_id++,
			   .dropped = &dc->dropped };
	if (sscanf(req, "count %d", &j->n) != 1 && !j->fail && !j->forever) {
		free(j);
		return -1;
	}
	sb_printf(out, "ignored: the steps answer");
	if (ctl_defer(dc->ctl, job_step, job_drop, j)) {
		free(j);
		return -1;
	}
	return 0;
}

static int dial(const char *path, const char *req)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    send(fd, req, strlen(req), MSG_NOSIGNAL) != (ssize_t)strlen(req) ||
	    shutdown(fd, SHUT_WR) || fcntl(fd, F_SETFL, O_NONBLOCK)) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* What the server sent so far; *eof once it closed. */
static void drain(int fd, char *buf, size_t len, size_t *got, bool *eof)
{
	ssize_t n;

	while (!*eof && *got < len - 1 && (n = recv(fd, buf + *got, len - 1 - *got, 0)) != 0) {
		if (n < 0)
			return; /* EAGAIN: nothing more yet */
		*got += (size_t)n;
	}
	buf[*got] = 0;
	*eof = *eof || (*got < len - 1);
}

TEST(ctl_defer)
{
	static struct defer_ctx dc;
	struct loop *l = loop_new();
	char path[108], err[256], a[256], b[256], c[256], e[256];
	size_t ga = 0, gb = 0, gc = 0, ge = 0;
	bool ea = false, eb = false, ec = false, ee = false;
	int fa = -1, fb = -1, fc = -1, fe = -1, i, first_b;

	memset(&dc, 0, sizeof(dc));
	snprintf(path, sizeof(path), "/tmp/xdplb-test-defer.%d.sock", (int)getpid());
	if (!ASSERT_OK_PTR(l, "loop_new"))
		return;
	dc.ctl = ctl_open(l, path, defer_handler, &dc, err, sizeof(err));
	if (!ASSERT_OK_PTR(dc.ctl, "ctl_open"))
		goto out;
	ASSERT_EQ(ctl_defer(dc.ctl, job_step, job_drop, NULL), -1, "outside a handler: refused");
	ASSERT_EQ(ctl_defer(NULL, job_step, job_drop, NULL), -1, "no ctl: refused");

	/* two deferred replies and one at once, asked in that order */
	fa = dial(path, "count 5");
	fb = dial(path, "count 3");
	for (i = 0; i < 3; i++)
		loop_once(l, 10);
	fc = dial(path, "now");
	for (i = 0; i < 200 && !(ea && eb && ec); i++) {
		loop_once(l, 10);
		drain(fa, a, sizeof(a), &ga, &ea);
		drain(fb, b, sizeof(b), &gb, &eb);
		drain(fc, c, sizeof(c), &gc, &ec);
		if (ec && !ea)
			ASSERT_FALSE(ga, "the deferred reply comes whole, at its end");
	}
	ASSERT_STREQ(a, "ok\n1\n2\n3\n4\n5\n", "first deferred reply");
	ASSERT_STREQ(b, "ok\n1\n2\n3\n", "second deferred reply");
	ASSERT_STREQ(c, "ok\nat once\n", "an ordinary reply meanwhile");
	/* one at a time, in the order asked: a's 5 steps, then b's 3 */
	for (first_b = 0; first_b < dc.n_log && dc.log[first_b] == 0; first_b++)
		;
	ASSERT_EQ(first_b, 5, "a's steps first");
	ASSERT_EQ(dc.n_log, 8, "then b's");
	ASSERT_EQ(dc.dropped, 2, "both dropped once done");

	/* a step that fails answers an error */
	fe = dial(path, "fail");
	for (i = 0; i < 200 && !ee; i++) {
		loop_once(l, 10);
		drain(fe, e, sizeof(e), &ge, &ee);
	}
	ASSERT_STREQ(e, "error job 2 failed\n", "a failed step's message");
	ASSERT_EQ(dc.dropped, 3, "dropped after failing");

	/* the client hangs up while its reply is made: dropped; the next
	 * deferred reply gets its turn */
	close(fe);
	fe = dial(path, "forever");
	for (i = 0; i < 5; i++)
		loop_once(l, 10);
	ASSERT_EQ(dc.dropped, 3, "still being made");
	close(fe);
	fe = -1;
	for (i = 0; i < 5; i++)
		loop_once(l, 10);
	ASSERT_EQ(dc.dropped, 4, "dropped when its client went away");

	/* a deferred reply still being made when the socket closes is dropped */
	fe = dial(path, "forever");
	for (i = 0; i < 5; i++)
		loop_once(l, 10);
	ctl_close(dc.ctl);
	dc.ctl = NULL;
	ASSERT_EQ(dc.dropped, 5, "dropped at ctl_close");
out:
	for (i = 0; i < 4; i++) {
		int fd = i == 0 ? fa : i == 1 ? fb : i == 2 ? fc : fe;

		if (fd >= 0)
			close(fd);
	}
	if (dc.ctl)
		ctl_close(dc.ctl);
	loop_free(l);
	unlink(path);
}
