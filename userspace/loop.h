/* SPDX-License-Identifier: GPL-2.0 */
/* loop.h - the daemon's one event loop: epoll for file descriptors and a
 * binary heap of millisecond timers.  Single-threaded; callbacks may add,
 * modify or remove fds and timers (their own included). */
#ifndef XDPLB_LOOP_H
#define XDPLB_LOOP_H

#include <signal.h>
#include <stdint.h>

struct loop;

struct loop_fd {
	int fd;
	void (*cb)(struct loop_fd *lf, uint32_t events); /* EPOLLIN/OUT/ERR/HUP */
};

struct loop_timer {
	uint64_t when_ms;               /* absolute, loop_now_ms() clock */
	void (*cb)(struct loop_timer *t);
	unsigned int heap_idx;          /* 0 = not armed (heap is 1-based) */
};

struct loop *loop_new(void);
void loop_free(struct loop *l);
int loop_add(struct loop *l, struct loop_fd *lf, uint32_t events);
int loop_mod(struct loop *l, struct loop_fd *lf, uint32_t events);
/* Call before close(lf->fd).  Afterwards lf may be freed, even from inside
 * another fd's callback: its pending events in this round are dropped. */
void loop_del(struct loop *l, struct loop_fd *lf);

/* Arm (or re-arm) t to fire after delay_ms. */
int loop_timer_set(struct loop *l, struct loop_timer *t, uint64_t delay_ms);
void loop_timer_cancel(struct loop *l, struct loop_timer *t);
static inline int loop_timer_armed(const struct loop_timer *t)
{
	return t->heap_idx != 0;
}

uint64_t loop_now_ms(void);
/* Run until *stop becomes non-zero (checked after every wake-up).
 * Returns 0, or -errno if epoll fails. */
int loop_run(struct loop *l, volatile sig_atomic_t *stop);
/* One round: wait at most max_ms for events, run due timers. */
int loop_once(struct loop *l, int max_ms);

#endif /* XDPLB_LOOP_H */
