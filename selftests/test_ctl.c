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
