// SPDX-License-Identifier: GPL-2.0
/* ctl.c - the control socket server. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>

#include "container_of.h"
#include "ctl.h"

struct ctl_client {
	struct loop_fd lf;
	struct loop_timer idle;
	struct ctl *ctl;
	struct strbuf in;
	struct strbuf out, body; /* the reply: "ok\n" and the output, or "error MESSAGE\n" */
	size_t out_off;          /* bytes sent: of out, then of body */
	/* a deferred reply (ctl_defer): step() runs on `turn` while this
	 * client heads the ctl's queue */
	ctl_step_fn step;
	void (*drop)(void *ctx);
	void *ctx;
	struct loop_timer turn;
	struct ctl_client *queue_next;
	struct ctl_client *prev, *next;
};

struct ctl {
	struct loop_fd lf;
	struct loop *loop;
	ctl_handler handler;
	void *arg;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct ctl_client *clients;
	unsigned int n_clients;
	struct ctl_client *current; /* whose request the handler is handling */
	struct ctl_client *queue;   /* deferred replies, oldest first */
};

/* ---- deferred replies ---- */

/* The reply at the head of the queue makes progress. */
static void queue_kick(struct ctl *ctl)
{
	if (ctl->queue && !loop_timer_armed(&ctl->queue->turn))
		loop_timer_set(ctl->loop, &ctl->queue->turn, 0);
}

/* The client's deferred reply is over (made, or the client gone). */
static void defer_end(struct ctl_client *c)
{
	struct ctl *ctl = c->ctl;
	struct ctl_client **p;

	loop_timer_cancel(ctl->loop, &c->turn);
	for (p = &ctl->queue; *p && *p != c; p = &(*p)->queue_next)
		;
	if (*p)
		*p = c->queue_next;
	c->queue_next = NULL;
	c->step = NULL;
	if (c->drop)
		c->drop(c->ctx);
	c->drop = NULL;
	c->ctx = NULL;
	queue_kick(ctl);
}

int ctl_defer(struct ctl *ctl, ctl_step_fn step, void (*drop)(void *ctx), void *ctx)
{
	struct ctl_client *c = ctl ? ctl->current : NULL, **p;

	if (!c || c->step || !step)
		return -1;
	c->step = step;
	c->drop = drop;
	c->ctx = ctx;
	for (p = &ctl->queue; *p; p = &(*p)->queue_next)
		;
	*p = c;
	return 0;
}

/* ---- clients ---- */

static void client_free(struct ctl_client *c)
{
	struct ctl *ctl = c->ctl;

	if (c->step)
		defer_end(c);
	loop_del(ctl->loop, &c->lf);
	loop_timer_cancel(ctl->loop, &c->idle);
	close(c->lf.fd);
	sb_free(&c->in);
	sb_free(&c->out);
	sb_free(&c->body);
	if (c->prev)
		c->prev->next = c->next;
	else
		ctl->clients = c->next;
	if (c->next)
		c->next->prev = c->prev;
	ctl->n_clients--;
	free(c);
}

/* Send out, then body (no copy of a long output behind its "ok"). */
static void client_flush(struct ctl_client *c)
{
	struct iovec iov[2];
	struct msghdr m = { .msg_iov = iov };
	size_t off;
	ssize_t n;

	while (c->out_off < c->out.len + c->body.len) {
		m.msg_iovlen = 0;
		off = c->out_off;
		if (off < c->out.len) {
			iov[m.msg_iovlen++] = (struct iovec){ c->out.buf + off, c->out.len - off };
			off = 0;
		} else {
			off -= c->out.len;
		}
		if (off < c->body.len)
			iov[m.msg_iovlen++] = (struct iovec){ c->body.buf + off, c->body.len - off };
		n = sendmsg(c->lf.fd, &m, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return; /* EPOLLOUT brings us back */
		if (n <= 0)
			break;
		c->out_off += (size_t)n;
	}
	client_free(c);
}

/* Switch the client from reading to writing `reply`. */
static void client_reply(struct ctl_client *c)
{
	loop_mod(c->ctl->loop, &c->lf, EPOLLOUT);
	loop_timer_set(c->ctl->loop, &c->idle, CTL_IDLE_MS);
	client_flush(c);
}

static void client_error(struct ctl_client *c, const char *msg)
{
	sb_free(&c->body);
	sb_reset(&c->out);
	sb_printf(&c->out, "error %s\n", msg);
	client_reply(c);
}

/* Answer with what the handler (or the deferred steps) made: ret 0 and
 * the output in body, or -1 and a message in body. */
static void client_answer(struct ctl_client *c, int ret)
{
	struct strbuf *b = &c->body;

	if (b->overflow) {
		client_error(c, "reply too large");
		return;
	}
	sb_reset(&c->out);
	if (ret) {
		sb_printf(&c->out, "error %s%s", sb_str(b),
			  !b->len || b->buf[b->len - 1] != '\n' ? "\n" : "");
		sb_free(b);
	} else {
		sb_append(&c->out, "ok\n", 3);
	}
	client_reply(c);
}

static void client_turn(struct loop_timer *t)
{
	struct ctl_client *c = container_of(t, struct ctl_client, turn);
	int ret = c->step(c->ctx, &c->body);

	if (ret > 0 && !c->body.overflow) {
		loop_timer_set(c->ctl->loop, t, 0);
		return;
	}
	defer_end(c);
	client_answer(c, ret > 0 ? -1 : ret);
}

static void client_request(struct ctl_client *c)
{
	struct ctl *ctl = c->ctl;
	int ret;

	sb_append(&c->in, "", 1); /* NUL-terminate; len counts it */
	ctl->current = c;
	ret = ctl->handler(ctl->arg, c->in.buf, c->in.len - 1, &c->body);
	ctl->current = NULL;
	if (!c->step) {
		client_answer(c, ret);
		return;
	}
	/* deferred: wait for the steps, without idle timeout; epoll still
	 * reports a hang-up (the client gone), which drops the work */
	sb_reset(&c->body);
	loop_timer_cancel(ctl->loop, &c->idle);
	loop_mod(ctl->loop, &c->lf, 0);
	queue_kick(ctl);
}

static void client_read(struct ctl_client *c)
{
	char buf[16384];
	ssize_t n;

	for (;;) {
		n = recv(c->lf.fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n < 0) {
			client_free(c);
			return;
		}
		if (n == 0) {
			client_request(c);
			return;
		}
		if (memchr(buf, 0, (size_t)n) || !sb_append(&c->in, buf, (size_t)n)) {
			client_error(c, memchr(buf, 0, (size_t)n) ? "request contains a NUL byte"
								 : "request too large");
			return;
		}
	}
}

static void client_event(struct loop_fd *lf, uint32_t events)
{
	struct ctl_client *c = (struct ctl_client *)lf;

	if (c->step) {
		if (events & (EPOLLHUP | EPOLLERR))
			client_free(c);
		return;
	}
	if (c->out.len || c->out.overflow)
		client_flush(c);
	else if (events & (EPOLLIN | EPOLLHUP | EPOLLERR))
		client_read(c);
}

static void client_idle(struct loop_timer *t)
{
	struct ctl_client *c = container_of(t, struct ctl_client, idle);

	if (c->out.len)
		client_free(c); /* it does not read its answer */
	else
		client_error(c, "request timed out (send the request, then shut down writing)");
}

static void ctl_accept(struct loop_fd *lf, uint32_t events)
{
	struct ctl *ctl = (struct ctl *)lf;
	struct ctl_client *c;
	int fd;

	(void)events;
	while ((fd = accept4(ctl->lf.fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
		if (ctl->n_clients >= CTL_MAX_CLIENTS || !(c = calloc(1, sizeof(*c)))) {
			send(fd, "error too many clients\n", 23, MSG_NOSIGNAL | MSG_DONTWAIT);
			close(fd);
			continue;
		}
		c->lf.fd = fd;
		c->lf.cb = client_event;
		c->idle.cb = client_idle;
		c->turn.cb = client_turn;
		c->ctl = ctl;
		sb_init(&c->in, CTL_MAX_REQUEST);
		sb_init(&c->out, 0);
		sb_init(&c->body, CTL_MAX_REPLY);
		if (loop_add(ctl->loop, &c->lf, EPOLLIN)) {
			close(fd);
			free(c);
			continue;
		}
		c->next = ctl->clients;
		if (c->next)
			c->next->prev = c;
		ctl->clients = c;
		ctl->n_clients++;
		loop_timer_set(ctl->loop, &c->idle, CTL_IDLE_MS);
	}
}

/* A socket file that nobody answers on is left over from a dead daemon. */
static int remove_stale(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), live;

	if (fd < 0) {
		snprintf(err, errlen, "cannot create a socket for %s: %s", path, strerror(errno));
		return -errno;
	}
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	live = !connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	close(fd);
	if (live) {
		snprintf(err, errlen, "another lbd is answering on %s", path);
		return -EADDRINUSE;
	}
	unlink(path);
	return 0;
}

static int ctl_listen(struct ctl *ctl, char *err, size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	mode_t old;
	int fd, ret;

	ret = remove_stale(ctl->path, err, errlen);
	if (ret)
		return ret;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		ret = -errno;
		snprintf(err, errlen, "cannot listen on %s: %s", ctl->path, strerror(-ret));
		return ret;
	}
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", ctl->path);
	old = umask(0177); /* the socket is born 0600: no window where others connect */
	ret = bind(fd, (struct sockaddr *)&sa, sizeof(sa)) ? -errno : 0;
	umask(old);
	if (!ret && chmod(ctl->path, 0600))
		ret = -errno;
	if (!ret && listen(fd, 128))
		ret = -errno;
	if (ret) {
		snprintf(err, errlen, "cannot listen on %s: %s", ctl->path, strerror(-ret));
		close(fd);
		return ret;
	}
	ctl->lf.fd = fd;
	return 0;
}

struct ctl *ctl_open(struct loop *l, const char *path, ctl_handler h, void *arg, char *err,
		     size_t errlen)
{
	struct ctl *ctl;
	int ret;

	if (strlen(path) >= sizeof(ctl->path)) {
		snprintf(err, errlen, "socket path too long: %s", path);
		return NULL;
	}
	ctl = calloc(1, sizeof(*ctl));
	if (!ctl) {
		snprintf(err, errlen, "cannot listen on %s: out of memory", path);
		return NULL;
	}
	ctl->lf.fd = -1;
	snprintf(ctl->path, sizeof(ctl->path), "%s", path);
	ctl->loop = l;
	ctl->handler = h;
	ctl->arg = arg;
	ctl->lf.cb = ctl_accept;
	ret = ctl_listen(ctl, err, errlen);
	if (!ret) {
		ret = loop_add(l, &ctl->lf, EPOLLIN);
		if (ret)
			snprintf(err, errlen, "cannot listen on %s: %s", path, strerror(-ret));
	}
	if (ret) {
		if (ctl->lf.fd >= 0)
			close(ctl->lf.fd);
		free(ctl);
		return NULL;
	}
	return ctl;
}

void ctl_close(struct ctl *ctl)
{
	struct ctl_client *c, *next;

	if (!ctl)
		return;
	for (c = ctl->clients; c; c = next) {
		next = c->next;
		client_free(c);
	}
	loop_del(ctl->loop, &ctl->lf);
	close(ctl->lf.fd);
	unlink(ctl->path);
	free(ctl);
}
