// SPDX-License-Identifier: GPL-2.0
/* init.c - PID 1 of the 6.1 verification VM (selftests/k61/run.sh).
 *
 * Mounts what libbpf and the tests read (/proc, /sys, bpffs, /dev), brings
 * up lo, runs /bin/loadall on every /bpf/NAME.bpf.o and then /bin/test_progs
 * (the golden-packet tests, statically linked), each bounded by a timeout,
 * prints "K61 DONE" and powers the VM off.  Their output goes to the serial
 * console, where the host reads the PASS/FAIL lines.
 *
 * The kernel hands unknown "NAME=VALUE" boot parameters to init as
 * environment: K61_TESTS=GLOB narrows test_progs (its -t), K61_VERBOSE=1
 * makes loadall print whole verifier logs, K61_PROBE=1 makes a short probe
 * boot instead (one object loaded, then "K61 PROBE OK": run.sh
 * proves KVM works with it before trusting it with the whole check).
 * test_progs runs with -v: one PASS line for every subtest.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define STEP_TIMEOUT 900 /* seconds for one program (TCG is slow, not this slow) */
#define MAX_OBJS 64

static void mnt(const char *src, const char *dir, const char *type)
{
	mkdir(dir, 0755);
	if (mount(src, dir, type, 0, NULL) && errno != EBUSY)
		printf("k61-init: mount %s on %s: %s\n", type, dir, strerror(errno));
}

static void lo_up(void)
{
	struct ifreq ifr;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return;
	memset(&ifr, 0, sizeof(ifr));
	strcpy(ifr.ifr_name, "lo");
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) == 0) {
		ifr.ifr_flags |= IFF_UP;
		if (ioctl(fd, SIOCSIFFLAGS, &ifr))
			printf("k61-init: lo up: %s\n", strerror(errno));
	}
	close(fd);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Run argv, killed after STEP_TIMEOUT; prints how it ended and how long it took. */
static void run(char **argv)
{
	double t0 = now();
	int status = 0, waited = 0;
	pid_t pid = fork();

	if (pid < 0) {
		printf("FAIL k61 %s: fork: %s\n", argv[0], strerror(errno));
		return;
	}
	if (pid == 0) {
		execv(argv[0], argv);
		printf("FAIL k61 %s: exec: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	for (;;) {
		pid_t r = waitpid(-1, &status, WNOHANG); /* PID 1 reaps every orphan too */

		if (r == pid)
			break;
		if (r > 0)
			continue;
		if (waited++ >= STEP_TIMEOUT * 10) {
			printf("k61-init: %s still running after %d s: killed\n", argv[0],
			       STEP_TIMEOUT);
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			break;
		}
		usleep(100000);
	}
	if (WIFSIGNALED(status))
		printf("k61-init: %s killed by signal %d\n", argv[0], WTERMSIG(status));
	printf("k61-init: %s exited %d after %.1f s\n", argv[0],
	       WIFEXITED(status) ? WEXITSTATUS(status) : -1, now() - t0);
}

static void power_off(void)
{
	fflush(stdout);
	sync();
	reboot(RB_AUTOBOOT); /* qemu runs with -no-reboot: a reboot ends it */
	for (;;)
		pause();
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void run_loadall(int verbose)
{
	char *argv[MAX_OBJS + 3];
	int argc = 0, n = 0;
	struct dirent *e;
	DIR *d = opendir("/bpf");

	argv[argc++] = "/bin/loadall";
	if (verbose)
		argv[argc++] = "-v";
	while (d && (e = readdir(d)) && n < MAX_OBJS) {
		size_t len = strlen(e->d_name);
		char *p;

		if (len < 7 || strcmp(e->d_name + len - 6, ".bpf.o"))
			continue;
		p = malloc(len + 6);
		if (!p)
			break;
		snprintf(p, len + 6, "/bpf/%s", e->d_name);
		argv[argc + n++] = p;
	}
	if (d)
		closedir(d);
	if (!n) {
		printf("FAIL k61 loadall: no BPF objects in /bpf of the initramfs\n");
		return;
	}
	qsort(argv + argc, n, sizeof(argv[0]), cmp_str);
	argv[argc + n] = NULL;
	run(argv);
}

int main(void)
{
	const char *tests = getenv("K61_TESTS");
	int verbose = getenv("K61_VERBOSE") && !strcmp(getenv("K61_VERBOSE"), "1");
	char *tp[5] = { "/bin/test_progs" };
	int tpc = 1, fd;
	struct utsname u;

	mnt("devtmpfs", "/dev", "devtmpfs");
	if (fcntl(1, F_GETFD) < 0 && (fd = open("/dev/console", O_RDWR)) >= 0) {
		dup2(fd, 0);
		dup2(fd, 1);
		dup2(fd, 2);
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	mnt("proc", "/proc", "proc");
	mnt("sysfs", "/sys", "sysfs");
	mnt("bpf", "/sys/fs/bpf", "bpf");
	mnt("tmpfs", "/tmp", "tmpfs");
	lo_up();
	uname(&u);
	printf("k61-init: kernel %s %s\n", u.release, u.version);
	if (access("/sys/kernel/btf/vmlinux", R_OK))
		printf("k61-init: note: no /sys/kernel/btf/vmlinux in this kernel\n");

	if (getenv("K61_PROBE")) {
		char *probe[] = { "/bin/loadall", "/bpf/xdp_pass.bpf.o", NULL };

		run(probe);
		printf("K61 PROBE OK\n");
		power_off();
	}
	run_loadall(verbose);
	tp[tpc++] = "-v"; /* a PASS line for every subtest too */
	if (tests && *tests) {
		tp[tpc++] = "-t";
		tp[tpc++] = (char *)tests;
	}
	tp[tpc] = NULL;
	run(tp);

	printf("K61 DONE\n");
	power_off();
}
