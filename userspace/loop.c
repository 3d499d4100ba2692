// SPDX-License-Identifier: GPL-2.0
/* loop.c - epoll plus a timer heap. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/epoll.h>

#include "loop.h"

#define LOOP_MAX_EVENTS 64

struct loop {
	int epfd;
	struct epoll_event *batch; /* events being dispatched (loop_del clears) */
	int batch_n;
	struct loop_timer **heap; /* heap[1..n] */
	unsigned int n, cap;
};

uint64_t loop_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

struct loop *loop_new(void)
{
	struct loop *l = calloc(1, sizeof(*l));

	if (!l)
		return NULL;
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd < 0) {
		free(l);
		return NULL;
	}
	return l;
}

void loop_free(struct loop *l)
{
	if (!l)
		return;
	close(l->epfd);
	free(l->heap);
	free(l);
}

static int epoll_op(struct loop *l, int op, struct loop_fd *lf, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = lf };

	return epoll_ctl(l->epfd, op, lf->fd, &ev) ? -errno : 0;
}

int loop_add(struct loop *l, struct loop_fd *lf, uint32_t events)
{
	return epoll_op(l, EPOLL_CTL_ADD, lf, events);
}

int loop_mod(struct loop *l, struct loop_fd *lf, uint32_t events)
{
	return epoll_op(l, EPOLL_CTL_MOD, lf, events);
}

void loop_del(struct loop *l, struct loop_fd *lf)
{
	int i;

	epoll_ctl(l->epfd, EPOLL_CTL_DEL, lf->fd, NULL);
	/* the owner may free lf now: forget events of it still to dispatch */
	for (i = 0; i < l->batch_n; i++)
		if (l->batch[i].data.ptr == lf)
			l->batch[i].data.ptr = NULL;
}

static void heap_place(struct loop *l, unsigned int i, struct loop_timer *t)
{
	l->heap[i] = t;
	t->heap_idx = i;
}

static void sift_up(struct loop *l, unsigned int i)
{
	struct loop_timer *t = l->heap[i];

	while (i > 1 && l->heap[i / 2]->when_ms > t->when_ms) {
		heap_place(l, i, l->heap[i / 2]);
		i /= 2;
	}
	heap_place(l, i, t);
}

static void sift_down(struct loop *l, unsigned int i)
{
	struct loop_timer *t = l->heap[i];
	unsigned int c;

	while ((c = 2 * i) <= l->n) {
		if (c < l->n && l->heap[c + 1]->when_ms < l->heap[c]->when_ms)
			c++;
		if (l->heap[c]->when_ms >= t->when_ms)
			break;
		heap_place(l, i, l->heap[c]);
		i = c;
	}
	heap_place(l, i, t);
}

void loop_timer_cancel(struct loop *l, struct loop_timer *t)
{
	unsigned int i = t->heap_idx;
	struct loop_timer *last;

	if (!i)
		return;
	t->heap_idx = 0;
	last = l->heap[l->n--];
	if (i > l->n)
		return; /* t was the last element */
	heap_place(l, i, last);
	sift_up(l, i);
	sift_down(l, last->heap_idx);
}

int loop_timer_set(struct loop *l, struct loop_timer *t, uint64_t delay_ms)
{
	struct loop_timer **h;

	loop_timer_cancel(l, t);
	if (l->n + 1 >= l->cap) {
		unsigned int cap = l->cap ? 2 * l->cap : 64;

		h = realloc(l->heap, cap * sizeof(*h));
		if (!h)
			return -ENOMEM;
		l->heap = h;
		l->cap = cap;
	}
	t->when_ms = loop_now_ms() + delay_ms;
	heap_place(l, ++l->n, t);
	sift_up(l, l->n);
	return 0;
}

static void run_timers(struct loop *l)
{
	uint64_t now = loop_now_ms();
	struct loop_timer *t;

	while (l->n && l->heap[1]->when_ms <= now) {
		t = l->heap[1];
		loop_timer_cancel(l, t);
		t->cb(t);
	}
}

int loop_once(struct loop *l, int max_ms)
{
	struct epoll_event ev[LOOP_MAX_EVENTS];
	int timeout = max_ms, n, i;

	if (l->n) {
		uint64_t now = loop_now_ms(), when = l->heap[1]->when_ms;
		int due = when <= now ? 0 : (int)(when - now);

		if (timeout < 0 || due < timeout)
			timeout = due;
	}
	n = epoll_wait(l->epfd, ev, LOOP_MAX_EVENTS, timeout);
	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	l->batch = ev;
	l->batch_n = n;
	for (i = 0; i < n; i++) {
		struct loop_fd *lf = ev[i].data.ptr;

		if (lf)
			lf->cb(lf, ev[i].events);
	}
	l->batch_n = 0;
	l->batch = NULL;
	run_timers(l);
	return 0;
}

int loop_run(struct loop *l, volatile sig_atomic_t *stop)
{
	int err = 0;

	while (!*stop && !err)
		err = loop_once(l, 1000);
	return err;
}
