/* SPDX-License-Identifier: GPL-2.0 */
/* conn.h - what connhold and holdd share: a stop flag set by SIGTERM or
 * SIGINT, a monotonic clock in ms, and the descriptor limit raised. */
#ifndef SELFTESTS_CONN_H
#define SELFTESTS_CONN_H

#include <signal.h>
#include <sys/resource.h>
#include <time.h>

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

/* SIGTERM and SIGINT set `stop` (no SA_RESTART: they end a blocking wait);
 * SIGPIPE is ignored. */
static inline void conn_signals(void)
{
	struct sigaction sa = { .sa_handler = on_signal };

	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

static inline long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000;
}

/* Raise the soft descriptor limit to the hard one; returns it
 * (RLIM_INFINITY if unknown). */
static inline rlim_t conn_raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl))
		return RLIM_INFINITY;
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
	return rl.rlim_cur;
}

#endif /* SELFTESTS_CONN_H */
