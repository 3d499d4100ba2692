/* SPDX-License-Identifier: GPL-2.0 */
/* pinlock.h - one owner at a time for a pin directory (lbd, lbdecap). */
#ifndef XDPLB_PINLOCK_H
#define XDPLB_PINLOCK_H

#include <stdbool.h>
#include <stddef.h>

/* Open the pin directory dir (on a bpffs) and flock(2) it exclusively.
 * The lock lives as long as the returned fd: close it, exit or be killed
 * and it is gone.  wait: block until the holder lets go; otherwise a held
 * lock returns -EWOULDBLOCK at once.  A missing dir returns -ENOENT; any
 * failure leaves what went wrong in err. */
int pin_lock(const char *dir, bool wait, char *err, size_t errlen);

#endif /* XDPLB_PINLOCK_H */
