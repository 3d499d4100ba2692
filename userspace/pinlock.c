// SPDX-License-Identifier: GPL-2.0
/* pinlock.c - one owner at a time for a pin directory (see pinlock.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/vfs.h>

#include "pinlock.h"

#define PINLOCK_BPFFS_MAGIC 0xcafe4a11

int pin_lock(const char *dir, bool wait, char *err, size_t errlen)
{
	struct statfs st;
	int fd, e;

	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		e = errno;
		snprintf(err, errlen, "cannot open %s: %s", dir, strerror(e));
		return -e;
	}
	if (fstatfs(fd, &st) || st.f_type != PINLOCK_BPFFS_MAGIC) {
		close(fd);
		snprintf(err, errlen, "%s is not on a bpf filesystem (mount -t bpf bpf DIR)", dir);
		return -ENOTSUP;
	}
	while (flock(fd, LOCK_EX | (wait ? 0 : LOCK_NB))) {
		e = errno;
		if (e == EINTR && wait)
			continue;
		close(fd);
		if (e == EWOULDBLOCK)
			snprintf(err, errlen, "%s is in use by another process", dir);
		else
			snprintf(err, errlen, "cannot lock %s: %s", dir, strerror(e));
		return -e;
	}
	return fd;
}
