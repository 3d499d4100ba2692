/* SPDX-License-Identifier: GPL-2.0 */
/* ctl.h - lbd's control socket: a Unix stream socket (mode 0600), many
 * clients at once, one request per connection.
 *
 * Protocol: the client writes its request (first line: [-j] OBJECT VERB
 * ARGS; for `restore`, the configuration follows on the next lines) and
 * shuts down its write side.  The server answers "ok\n" followed by the
 * output, or "error MESSAGE\n", and closes.  Requests over CTL_MAX_REQUEST
 * bytes, and clients idle for CTL_IDLE_MS, are answered with an error and
 * dropped; at most CTL_MAX_CLIENTS are served at once. */
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

struct ctl;
struct ctl *ctl_open(struct loop *l, const char *path, ctl_handler h, void *arg, char *err,
		     size_t errlen);
void ctl_close(struct ctl *c);

#endif /* XDPLB_CTL_H */
