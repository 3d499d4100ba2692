// SPDX-License-Identifier: GPL-2.0
/* lbctl.c - manage xdplb: parse and validate a command with the daemon's
 * own parser, send it to lbd over its Unix socket, print the answer. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "config.h"
#include "ctl.h"
#include "strbuf.h"

#define DEFAULT_SOCKET "/run/xdplb/lbd.sock"

static void usage(FILE *f)
{
	fprintf(f, "usage: lbctl [-s SOCKET] [-j] OBJECT { COMMAND | help }\n\n");
	cmd_usage(f, NULL);
}

static int die(int code, const char *fmt, const char *a, const char *b)
{
	fprintf(stderr, "lbctl: ");
	fprintf(stderr, fmt, a, b);
	fputc('\n', stderr);
	return code;
}

/* Read FILE (or stdin for "-") whole, bounded by what lbd accepts. */
static int read_input(const char *path, struct strbuf *sb)
{
	FILE *f = strcmp(path, "-") ? fopen(path, "r") : stdin;
	char buf[65536];
	size_t n;

	if (!f)
		return die(1, "cannot open %s: %s", path, strerror(errno));
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		if (!sb_append(sb, buf, n)) {
			if (f != stdin)
				fclose(f);
			return die(1, "%s is too large (over %s bytes)", path, "8 MiB");
		}
	if (ferror(f)) {
		if (f != stdin)
			fclose(f);
		return die(1, "cannot read %s: %s", path, strerror(errno));
	}
	if (f != stdin)
		fclose(f);
	return 0;
}

static int connect_lbd(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		return die(-2, "socket path too long: %s%s", path, "");
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return die(-1, "socket: %s%s", strerror(errno), "");
	memcpy(sa.sun_path, path, strlen(path));
	if (!connect(fd, (struct sockaddr *)&sa, sizeof(sa)))
		return fd;
	if (errno == EACCES || errno == EPERM)
		die(1, "permission denied on %s: lbd's socket is for root only (run lbctl as root)%s",
		    path, "");
	else if (errno == ENOENT || errno == ECONNREFUSED)
		die(1, "lbd is not running (nothing answers on %s)%s", path, "");
	else
		die(1, "cannot connect to lbd at %s: %s", path, strerror(errno));
	close(fd);
	return -1;
}

static int send_all(int fd, const char *p, size_t len)
{
	ssize_t n;

	while (len) {
		n = send(fd, p, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* One request, one answer: "ok\n..." or "error MESSAGE\n". */
static int transact(const char *path, struct strbuf *req)
{
	struct strbuf ans;
	char buf[65536];
	ssize_t n;
	int fd = connect_lbd(path), ret;

	if (fd < 0)
		return 1;
	sb_init(&ans, 0);
	if (send_all(fd, req->buf, req->len) || shutdown(fd, SHUT_WR)) {
		close(fd);
		return die(1, "lost the connection to lbd while sending: %s%s", strerror(errno), "");
	}
	while ((n = recv(fd, buf, sizeof(buf), 0)) > 0 || (n < 0 && errno == EINTR))
		if (n > 0 && !sb_append(&ans, buf, (size_t)n))
			break;
	close(fd);
	if (!strncmp(sb_str(&ans), "ok\n", 3)) {
		fwrite(ans.buf + 3, 1, ans.len - 3, stdout);
		ret = 0;
	} else if (!strncmp(sb_str(&ans), "error ", 6)) {
		fprintf(stderr, "lbctl: %s", ans.buf + 6);
		ret = 1;
	} else {
		ret = die(1, "no valid answer from lbd at %s%s", path, "");
	}
	sb_free(&ans);
	return ret;
}

int main(int argc, char **argv)
{
	const char *sock = getenv("LBCTL_SOCKET") ? getenv("LBCTL_SOCKET") : DEFAULT_SOCKET;
	static struct xdplb_cmd cmd;
	struct xdplb_cmd *c = &cmd;
	struct strbuf req;
	bool json = false;
	char err[512];
	int i, ret;

	for (i = 1; i < argc && argv[i][0] == '-' && argv[i][1]; i++) {
		if (!strcmp(argv[i], "-j") || !strcmp(argv[i], "--json"))
			json = true;
		else if (!strcmp(argv[i], "-s") && i + 1 < argc)
			sock = argv[++i];
		else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
			return usage(stdout), 0;
		else
			return usage(stderr), die(2, "unknown option \"%s\"%s", argv[i], "");
	}
	if (i == argc)
		return usage(stderr), 2;
	if (cmd_parse(argc - i, argv + i, c, err, sizeof(err)))
		return die(2, "%s%s", err, "");
	if (c->kind == CMD_HELP) {
		cmd_usage(stdout, c->help_object);
		return 0;
	}
	sb_init(&req, CTL_MAX_REQUEST);
	sb_printf(&req, "%s", json ? "-j" : "");
	for (; i < argc; i++)
		sb_printf(&req, "%s%s", req.len ? " " : "", argv[i]);
	sb_append(&req, "\n", 1);
	ret = c->kind == CMD_RESTORE ? read_input(c->file[0] ? c->file : "-", &req) : 0;
	if (!ret)
		ret = transact(sock, &req);
	sb_free(&req);
	return ret;
}
