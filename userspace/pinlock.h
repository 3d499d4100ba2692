/* SPDX-License-Identifier: GPL-2.0 */
/* pinlock.h - the pin directory (lbd, lbdecap): on a bpffs, one owner at a time. */
#ifndef XDPLB_PINLOCK_H
#define XDPLB_PINLOCK_H

#include <stdbool.h>
#include <stddef.h>

/* Whether path is on a bpffs, or where it does not exist yet, its nearest
 * existing ancestor (whose name goes to at): 1 if it is, 0 if it is not
 * (the file system's statfs f_type in *fs_type), -errno when it cannot
 * tell (-ENAMETOOLONG: path is longer than PATH_MAX). */
int pin_dir_on_bpffs(const char *path, long *fs_type, char *at, size_t atlen);

/* Open the pin directory dir (on a bpffs) and flock(2) it exclusively.
 * The lock lives as long as the returned fd: close it, exit or be killed
 * and it is gone.  wait: block until the holder lets go; otherwise a held
 * lock returns -EWOULDBLOCK at once.  A missing dir returns -ENOENT; any
 * failure leaves what went wrong in err. */
int pin_lock(const char *dir, bool wait, char *err, size_t errlen);

#endif /* XDPLB_PINLOCK_H */
