/* SPDX-License-Identifier: GPL-2.0 */
/* ctl.h - lbd's control socket: a Unix stream socket (mode 0600), many
 * clients at once, one request per connection.
 *
 * Protocol: the client writes its request (first line: [-j] OBJECT VERB
 * ARGS; for `restore`, the configuration follows on the next lines) and
 * shuts down its write side.  The server answers "ok\n" followed by the
 * output, or "error MESSAGE\n", and closes.  Requests over CTL_MAX_REQUEST
 * bytes, and clients idle for CTL_IDLE_MS, are answered with an error and
 * dropped; at most CTL_MAX_CLIENTS are served at once.
 *
 * A reply too long to make in one loop turn (a listing of a million flows)
 * is made in steps: the handler calls ctl_defer() and returns; the loop
 * then calls step() on a zero-delay timer, other clients, timers and
 * sockets being served between steps.  Deferred replies are made one at a
 * time, in the order they were asked for (one listing's memory at a time);
 * a client waiting for one is not timed out. */
#ifndef XDPLB_CTL_H
#define XDPLB_CTL_H

#include <stddef.h>
#include "loop.h"
#include "strbuf.h"

#define CTL_MAX_REQUEST (8u << 20)
#define CTL_MAX_REPLY (256u << 20)
#define CTL_MAX_CLIENTS 1024
#define CTL_IDLE_MS 10000

/* Handle a request (NUL-terminated, len bytes).  Write the output to out
 * and return 0, or write a one-line message to out and return -1. */
typedef int (*ctl_handler)(void *arg, char *req, size_t len, struct strbuf *out);

/* One bounded part of a deferred reply, appended to out.  Returns 1 while
 * there is more to do, 0 when out is the whole output, -1 when out is a
 * one-line error message (as a handler would). */
typedef int (*ctl_step_fn)(void *ctx, struct strbuf *out);

struct ctl;
struct ctl *ctl_open(struct loop *l, const char *path, ctl_handler h, void *arg, char *err,
		     size_t errlen);
void ctl_close(struct ctl *c);
/* From inside the handler only: answer the request being handled with the
 * output of step(ctx, ...) calls instead (the handler's return value and
 * output are then ignored).  drop(ctx) runs once the reply is made, or when
 * the client goes away or the socket is closed first.  Returns 0, or -1 (c
 * NULL, not in a handler, step NULL): nothing was deferred, the caller
 * makes the reply itself. */
int ctl_defer(struct ctl *c, ctl_step_fn step, void (*drop)(void *ctx), void *ctx);

#endif /* XDPLB_CTL_H */
