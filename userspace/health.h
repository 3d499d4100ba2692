/* SPDX-License-Identifier: GPL-2.0 */
/* health.h - backend health checks (none, tcp, http) run by the daemon's event loop.
 *
 * One struct hc checks one backend: at most one attempt in flight, one
 * socket per attempt (closed before the next one starts), one loop timer that
 * is either the start of the next attempt or the deadline of the current one.
 * Nothing blocks.  Attempts start every `interval_ms` on a fixed schedule; the
 * first one is delayed by a jitter in [0, interval) derived from the target,
 * so thousands of backends do not all connect at once.  An attempt that runs
 * past its slot (timeout > interval) makes the next one start at the first
 * slot after it ended.
 *
 *   tcp   connect to the target; success when the handshake completes.
 *   http  connect, send "GET PATH HTTP/1.0" (Host, User-Agent: xdplb-lbd,
 *         Connection: close), read the status line (at most HC_STATUS_MAX
 *         bytes); success for status 200-399.
 *   none  always up; no socket, no timer, no callback.
 *
 * State: `fall` consecutive failures take an up backend down, `rise`
 * consecutive successes bring a down backend up.  Initial state: see
 * hc_params.start_up.  Sockets are closed with an abortive close (RST), so
 * frequent checks leave no TIME_WAIT sockets behind on the balancer.
 */
#ifndef XDPLB_HEALTH_H
#define XDPLB_HEALTH_H

#include <stdbool.h>
#include <linux/types.h>

#include "model.h" /* enum xdplb_check: the model's kinds of check are the ones run here */
#include "loop.h"
#include "xdplb.h"

#define HC_STATUS_MAX 512 /* longest http status line accepted, CRLF included */
#define HC_ERROR_MAX  96  /* hc_last_error() length, NUL included */

struct hc_params {
	enum xdplb_check type;
	char path[CMD_MAX_CHECK_PATH]; /* XDPLB_CHECK_HTTP: check_path_ok(); else ignored */
	__u32 interval_ms;	/* >= 1: time between the starts of two attempts */
	__u32 timeout_ms;	/* >= 1: longest attempt; may exceed interval_ms */
	__u32 fall;		/* >= 1 */
	__u32 rise;		/* >= 1 */
	/* Initial state.  false (what a zeroed struct gives, for a new backend):
	 * down, and it takes no traffic until a check passes; the first success
	 * brings it up at once, whatever `rise` (it has no failing history to
	 * outlive); from then on fall/rise apply.  true (for backends that
	 * carried traffic before, e.g. adopted by a restarted lbd): up, and
	 * `fall` failures take it down.  Ignored by XDPLB_CHECK_NONE, which is up. */
	bool start_up;
};

struct hc_target {
	__u8 family;	       /* XDPLB_AF_INET or XDPLB_AF_INET6 */
	union xdplb_addr addr; /* the backend's own address */
	__u16 port;	       /* host order: the VIP's port */
};

struct hc; /* one check of one backend */

/* Start checking t.  cb(arg, up) is called on every change of state (never
 * from inside hc_start; the initial state is what hc_is_up() says right
 * after).  When cb runs, hc_last_error() already tells why.  Returns NULL
 * with errno set on failure (EINVAL: bad target or params; ENOMEM). */
struct hc *hc_start(struct loop *l, const struct hc_target *t, const struct hc_params *p,
		    void (*cb)(void *arg, bool up), void *arg);

/* Stop and release h; NULL is a no-op.  The socket is closed and the timer
 * cancelled at once, and cb is never called again.  Safe from anywhere in
 * the loop's thread: inside h's own cb, inside any other fd or timer
 * callback.  When called outside h's own callbacks while an attempt is in
 * flight, the memory is released at the end of the current loop round
 * (epoll may already have fetched an event that points into it), so run
 * loop_once(l, 0) once before loop_free() to reclaim it. */
void hc_stop(struct hc *h);

bool hc_is_up(const struct hc *h);
/* Why the last attempt failed ("connect: Connection refused", "connect:
 * timeout", "http: timeout", "HTTP 503", "http: bad status line", ...), or
 * "" when it succeeded or none has finished yet.  Never NULL. */
const char *hc_last_error(const struct hc *h);
/* loop_now_ms() of the last change of state, or of hc_start(). */
__u64 hc_last_change_ms(const struct hc *h);

#endif /* XDPLB_HEALTH_H */
