// SPDX-License-Identifier: GPL-2.0
/* test_pinlock.c - the pin directory: the one bpffs test (what lbd's --pin
 * check and pin_lock ask) and one owner at a time, on a bpffs of its own. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mount.h>
#include <linux/magic.h>

#include "test_progs.h"
#include "pinlock.h"

TEST(pin_dir_on_bpffs)
{
	char dir[] = "/tmp/xdplb-pinlock.XXXXXX", path[PATH_MAX + 64], at[PATH_MAX], err[256];
	long type = 0;
	int fd, fd2;

	memset(path, 'a', sizeof(path) - 1);
	path[0] = '/';
	path[sizeof(path) - 1] = 0;
	ASSERT_EQ(pin_dir_on_bpffs(path, &type, at, sizeof(at)), -ENAMETOOLONG, "too long");
	ASSERT_EQ(pin_dir_on_bpffs("/proc/self/no/such", &type, at, sizeof(at)), 0, "proc");
	ASSERT_STREQ(at, "/proc/self", "nearest existing ancestor");
	ASSERT_EQ(type, PROC_SUPER_MAGIC, "proc's type");
	if (!ASSERT_OK_PTR(mkdtemp(dir), "mkdtemp"))
		return;
	if (!ASSERT_OK(mount("bpf", dir, "bpf", 0, "mode=0700"), "mount bpffs"))
		goto out_rmdir;
	snprintf(path, sizeof(path), "%s/not/yet", dir);
	ASSERT_EQ(pin_dir_on_bpffs(path, &type, at, sizeof(at)), 1, "bpffs");
	ASSERT_STREQ(at, dir, "bpffs: the mount point");
	fd = pin_lock(dir, false, err, sizeof(err));
	ASSERT_GE(fd, 0, "lock");
	fd2 = pin_lock(dir, false, err, sizeof(err));
	ASSERT_EQ(fd2, -EWOULDBLOCK, "second lock");
	ASSERT_TRUE(strstr(err, "is in use by another process"), "second lock's message");
	if (fd2 >= 0)
		close(fd2);
	if (fd >= 0)
		close(fd);
	ASSERT_EQ(pin_lock("/proc", false, err, sizeof(err)), -ENOTSUP, "lock off bpffs");
	ASSERT_TRUE(strstr(err, "/proc is not on a bpf filesystem"), "off bpffs message");
	umount2(dir, MNT_DETACH);
out_rmdir:
	rmdir(dir);
}
