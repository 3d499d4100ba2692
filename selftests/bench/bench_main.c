// SPDX-License-Identifier: GPL-2.0
/* bench_main.c - runs every bench part, or the ones named on the command line. */
#include <errno.h>
#include <stdbool.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

__u64 bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000000000ull + (__u64)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
	__u64 x = *(const __u64 *)a, y = *(const __u64 *)b;

	return x < y ? -1 : x > y;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

__u64 bench_median_u64(__u64 *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_u64);
	return v[n / 2];
}

double bench_median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int bench_parse_mac(const char *s, __u8 mac[6])
{
	unsigned int b[6];
	char tail;

	if (sscanf(s, "%x:%x:%x:%x:%x:%x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5], &tail) != 6)
		return -1;
	for (int i = 0; i < 6; i++) {
		if (b[i] > 0xff)
			return -1;
		mac[i] = (__u8)b[i];
	}
	return 0;
}

FILE *bench_open_md(const char *name, char *path, size_t len)
{
	char exe[PATH_MAX], dir[PATH_MAX + 16];
	const char *env = getenv("BENCH_DIR");
	ssize_t n;

	if (env && *env) {
		snprintf(dir, sizeof(dir), "%s", env);
	} else {
		n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
		if (n <= 0) {
			snprintf(path, len, "bench/%s", name);
			return NULL;
		}
		exe[n] = 0;
		snprintf(dir, sizeof(dir), "%s/bench", dirname(exe));
	}
	snprintf(path, len, "%s/%s", dir, name);
	if (mkdir(dir, 0755) && errno != EEXIST)
		return NULL;
	return fopen(path, "w");
}

struct bench_part {
	const char *name;
	void (*fn)(void);
	bool scripted; /* needs the setup of selftests/bench/NAME.sh: not listed */
};

static const struct bench_part parts[] = {
	{ "maglev", bench_maglev, false },
	{ "datapath", bench_datapath, false },
	{ "metrics", bench_metrics, false },
	{ "control", bench_control, true },
};

#define N_PARTS (sizeof(parts) / sizeof(parts[0]))

static const struct bench_part *find_part(const char *name)
{
	size_t i;

	for (i = 0; i < N_PARTS; i++)
		if (!strcmp(parts[i].name, name))
			return &parts[i];
	return NULL;
}

static void usage(const char *prog)
{
	size_t i;

	fprintf(stderr, "usage: %s [PART...]\nparts:", prog);
	for (i = 0; i < N_PARTS; i++)
		fprintf(stderr, " %s", parts[i].name);
	fprintf(stderr, "\n");
}

int main(int argc, char **argv)
{
	const struct bench_part *p;
	size_t i;
	int a;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc >= 2 && !strcmp(argv[1], "rate-gen")) /* a tool of rate.sh, not a part */
		return bench_rate_gen(argc - 1, argv + 1);
	if (argc == 2 && !strcmp(argv[1], "--list")) {
		for (i = 0; i < N_PARTS; i++)
			if (!parts[i].scripted)
				printf("%s\n", parts[i].name);
		return 0;
	}
	for (a = 1; a < argc; a++) /* check every name before running any */
		if (!find_part(argv[a])) {
			fprintf(stderr, "unknown bench part '%s'\n", argv[a]);
			usage(argv[0]);
			return 2;
		}
	if (argc == 1)
		for (i = 0; i < N_PARTS; i++)
			if (!parts[i].scripted)
				parts[i].fn();
	for (a = 1; a < argc; a++) {
		p = find_part(argv[a]);
		p->fn();
	}
	return 0;
}
