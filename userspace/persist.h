/* SPDX-License-Identifier: GPL-2.0 */
/* persist.h - replace a file atomically (temp file, fsync, rename, fsync dir). */
#ifndef XDPLB_PERSIST_H
#define XDPLB_PERSIST_H

#include <stddef.h>

/* Write len bytes as the new content of path.  On failure the old file is
 * untouched, the temp file removed, and err says what failed. */
int persist_write(const char *path, const void *data, size_t len, char *err, size_t errlen);

#endif /* XDPLB_PERSIST_H */
