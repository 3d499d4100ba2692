/* SPDX-License-Identifier: GPL-2.0 */
/* bpfstats - the BPF run time of programs while a command runs.
 *
 *   bpfstats [-o FILE] PINNED_PROG... -- COMMAND [ARG...]
 *
 * Turns the kernel's BPF run-time statistics on (BPF_ENABLE_STATS: what
 * the kernel.bpf_stats_enabled sysctl turns on, but held by a descriptor
 * and counted, so it neither switches off someone else's statistics nor
 * stays on after us), runs COMMAND, and prints for each pinned program
 * the run count and run time that COMMAND's duration added:
 *
 *   prog ID NAME run_cnt N run_time_ns T
 *
 * to FILE (default stderr).  The exit status is COMMAND's.
 */
#include <bpf/bpf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_PROGS 16

struct prog {
	int fd;
	struct bpf_prog_info before, after;
};

static int info(int fd, struct bpf_prog_info *pi)
{
	__u32 len = sizeof(*pi);

	memset(pi, 0, sizeof(*pi));
	return bpf_obj_get_info_by_fd(fd, pi, &len);
}

static void usage(void)
{
	fprintf(stderr, "usage: bpfstats [-o FILE] PINNED_PROG... -- COMMAND [ARG...]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct prog progs[MAX_PROGS];
	int n = 0, i, st, stats_fd;
	FILE *out = stderr;
	pid_t pid;

	for (i = 1; i < argc && strcmp(argv[i], "--"); i++) {
		if (!strcmp(argv[i], "-o") && i + 1 < argc) {
			out = fopen(argv[++i], "w");
			if (!out) {
				fprintf(stderr, "bpfstats: cannot write %s: %s\n", argv[i],
					strerror(errno));
				return 2;
			}
			continue;
		}
		if (n == MAX_PROGS)
			usage();
		progs[n].fd = bpf_obj_get(argv[i]);
		if (progs[n].fd < 0 || info(progs[n].fd, &progs[n].before)) {
			fprintf(stderr, "bpfstats: no BPF program pinned at %s: %s\n", argv[i],
				strerror(errno));
			return 2;
		}
		n++;
	}
	if (i + 1 >= argc)
		usage();
	stats_fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
	if (stats_fd < 0) {
		fprintf(stderr, "bpfstats: cannot enable BPF statistics: %s\n", strerror(errno));
		return 1;
	}
	for (int j = 0; j < n; j++)
		info(progs[j].fd, &progs[j].before);
	pid = fork();
	if (pid == 0) {
		execvp(argv[i + 1], &argv[i + 1]);
		fprintf(stderr, "bpfstats: cannot run %s: %s\n", argv[i + 1], strerror(errno));
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &st, 0) < 0) {
		fprintf(stderr, "bpfstats: %s\n", strerror(errno));
		return 1;
	}
	for (i = 0; i < n; i++) {
		info(progs[i].fd, &progs[i].after);
		fprintf(out, "prog %u %s run_cnt %llu run_time_ns %llu\n", progs[i].after.id,
			progs[i].after.name,
			(unsigned long long)(progs[i].after.run_cnt - progs[i].before.run_cnt),
			(unsigned long long)(progs[i].after.run_time_ns -
					     progs[i].before.run_time_ns));
	}
	close(stats_fd);
	if (out != stderr)
		fclose(out);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
}
