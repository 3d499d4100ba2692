// SPDX-License-Identifier: GPL-2.0
/* pinlock.c - the pin directory: on a bpffs, one owner at a time (see pinlock.h). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/vfs.h>
#include <linux/magic.h>

#include "pinlock.h"

/* The one bpffs test: pin_dir_on_bpffs and pin_lock ask it. */
static bool is_bpffs(const struct statfs *st)
{
	return st->f_type == BPF_FS_MAGIC;
}

int pin_dir_on_bpffs(const char *path, long *fs_type, char *at, size_t atlen)
{
	char buf[PATH_MAX], *slash;
	struct statfs st;

	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
		return -ENAMETOOLONG;
	while (statfs(buf, &st)) {
		if (errno != ENOENT)
			return -errno;
		slash = strrchr(buf, '/');
		if (!slash)
			snprintf(buf, sizeof(buf), ".");
		else if (slash == buf)
			buf[1] = 0;
		else
			*slash = 0;
	}
	snprintf(at, atlen, "%s", buf);
	*fs_type = (long)st.f_type;
	return is_bpffs(&st);
}

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
	if (fstatfs(fd, &st) || !is_bpffs(&st)) {
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
