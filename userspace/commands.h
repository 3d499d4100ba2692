/* SPDX-License-Identifier: GPL-2.0 */
/* commands.h - lbd's answers to control socket requests. */
#ifndef XDPLB_COMMANDS_H
#define XDPLB_COMMANDS_H

#include <stddef.h>

#include "strbuf.h"

/* One request (a ctl_handler, ctl.h): arg is the struct lbd.  The first line
 * is the command ("-j" first for JSON); `restore` reads the rest.  Returns
 * 0, or -1 with the message in out. */
int lbd_handle(void *arg, char *req, size_t len, struct strbuf *out);

#endif /* XDPLB_COMMANDS_H */
