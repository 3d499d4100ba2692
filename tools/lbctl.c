// SPDX-License-Identifier: GPL-2.0
/* lbctl.c - manage xdplb: parse and validate a command with the daemon's
 * own parser, send it to lbd over its Unix socket, print the answer. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "cmdparse.h"
#include "ctl.h"
#include "strbuf.h"

#define DEFAULT_SOCKET "/run/xdplb/lbd.sock"

static void usage(FILE *f)
{
	fprintf(f, "usage: lbctl [-s SOCKET] [-j] OBJECT { COMMAND | help }\n\n");
	cmd_usage(f, NULL);
}

/* While `top` owns the terminal, messages wait here (see top_restore). */
static struct strbuf *held_errors;

static int die(int code, const char *fmt, const char *a, const char *b)
{
	if (held_errors) {
		sb_printf(held_errors, "lbctl: ");
		sb_printf(held_errors, fmt, a, b);
		sb_printf(held_errors, "\n");
		return code;
	}
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
		die(1, "permission denied on %s: lbd's socket is for root only (run lbctl as root, "
		       "or as a member of lbd's --socket-group)%s",
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

/* One request, one answer: "ok\n..." or "error MESSAGE\n".  On success
 * the output (without "ok\n") is in *out; on failure the message went to
 * stderr.  Returns 0 or 1. */
static int request(const char *path, struct strbuf *req, struct strbuf *out)
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
		sb_append(out, ans.buf + 3, ans.len - 3);
		ret = 0;
	} else if (!strncmp(sb_str(&ans), "error ", 6)) {
		if (ans.buf[ans.len - 1] == '\n')
			ans.buf[--ans.len] = 0;
		ret = die(1, "%s%s", ans.buf + 6, "");
	} else {
		ret = die(1, "no valid answer from lbd at %s%s", path, "");
	}
	sb_free(&ans);
	return ret;
}

static int transact(const char *path, struct strbuf *req)
{
	struct strbuf out;
	int ret;

	sb_init(&out, 0);
	ret = request(path, req, &out);
	if (!ret)
		fwrite(out.buf ? out.buf : "", 1, out.len, stdout);
	sb_free(&out);
	return ret;
}

/* ---- lbctl top ---- */

static volatile sig_atomic_t top_stop, top_resized;
static struct termios top_saved;
static bool top_raw, top_screen;

static void top_signal(int sig)
{
	if (sig == SIGWINCH)
		top_resized = 1;
	else
		top_stop = 1;
}

/* Undo everything top did to the terminal; safe to call twice. */
static void top_restore(void)
{
	if (top_raw)
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &top_saved);
	top_raw = false;
	if (top_screen)
		fputs("\033[?25h\033[?1049l", stdout); /* cursor back, main screen */
	top_screen = false;
	fflush(stdout);
}

static void top_terminal(bool tty_out)
{
	struct sigaction sa = { .sa_handler = top_signal }; /* no SA_RESTART: poll wakes */
	struct termios t;

	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGWINCH, &sa, NULL);
	atexit(top_restore);
	if (isatty(STDIN_FILENO) && !tcgetattr(STDIN_FILENO, &top_saved)) {
		t = top_saved;
		t.c_lflag &= ~(tcflag_t)(ICANON | ECHO); /* keys one by one, unseen; ISIG stays */
		t.c_cc[VMIN] = 0;
		t.c_cc[VTIME] = 0;
		top_raw = !tcsetattr(STDIN_FILENO, TCSAFLUSH, &t);
	}
	if (tty_out) {
		fputs("\033[?1049h\033[?25l", stdout); /* alternate screen, no cursor */
		top_screen = true;
	}
}

/* Wait up to ms for a key; true if it asks to quit (q, Q, Ctrl-C). */
static bool top_wait(int ms)
{
	struct pollfd p = { .fd = STDIN_FILENO, .events = POLLIN };
	char c[64];
	ssize_t n, i;

	if (!top_raw) {
		poll(NULL, 0, ms);
		return top_stop;
	}
	if (poll(&p, 1, ms) <= 0)
		return top_stop;
	n = read(STDIN_FILENO, c, sizeof(c));
	for (i = 0; i < n; i++)
		if (c[i] == 'q' || c[i] == 'Q' || c[i] == 3)
			return true;
	return top_stop;
}

/* One screen: a title, then the snapshot cut to the window. */
static void top_draw(const struct strbuf *snap, int interval_ms)
{
	struct winsize ws = { .ws_row = 24, .ws_col = 80 };
	const char *p = snap->buf ? snap->buf : "", *nl;
	char ts[16];
	time_t now = time(NULL);
	int rows, len;

	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) || !ws.ws_row || !ws.ws_col) {
		ws.ws_row = 24; /* a terminal that does not know its size */
		ws.ws_col = 80;
	}
	rows = ws.ws_row > 2 ? ws.ws_row - 2 : 1;
	strftime(ts, sizeof(ts), "%H:%M:%S", localtime(&now));
	printf("\033[H\033[2J");
	printf("%.*s\n", (int)ws.ws_col,
	       "lbctl top - by packet rate, refreshed every interval; q or Ctrl-C quits");
	printf("%s  interval %d ms\n", ts, interval_ms);
	for (; *p && rows > 0; rows--, p = *nl ? nl + 1 : nl) {
		nl = strchr(p, '\n');
		if (!nl)
			nl = p + strlen(p);
		len = (int)(nl - p) < ws.ws_col ? (int)(nl - p) : ws.ws_col;
		printf("%.*s%s", len, p, rows > 1 ? "\n" : "");
	}
	fflush(stdout);
}

static int run_top(const char *sock, const struct xdplb_cmd *c, bool json, struct strbuf *req)
{
	bool tty = !json && isatty(STDOUT_FILENO);
	struct strbuf snap, errors;
	__u32 shown = 0;
	int ret = 0;

	sb_init(&snap, 0);
	sb_init(&errors, 0);
	if (tty)
		held_errors = &errors;
	top_terminal(tty);
	while (!top_stop) {
		sb_reset(&snap);
		ret = request(sock, req, &snap);
		if (ret)
			break;
		if (tty)
			top_draw(&snap, (int)c->top_interval_ms);
		else
			printf("%s%s", sb_str(&snap), json ? "" : "\n");
		fflush(stdout);
		if (c->top_count && ++shown >= c->top_count)
			break;
		if (top_wait((int)c->top_interval_ms))
			break;
		top_resized = 0;
	}
	top_restore();
	held_errors = NULL;
	fputs(sb_str(&errors), stderr);
	sb_free(&errors);
	sb_free(&snap);
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
		ret = c->kind == CMD_TOP ? run_top(sock, c, json, &req) : transact(sock, &req);
	sb_free(&req);
	return ret;
}
