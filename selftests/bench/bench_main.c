// SPDX-License-Identifier: GPL-2.0
/* bench_main.c - runs every bench part, or the ones named on the command line. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "bench.h"

__u64 bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000000000ull + (__u64)ts.tv_nsec;
}

int bench_cmp_u64(const void *a, const void *b)
{
	__u64 x = *(const __u64 *)a, y = *(const __u64 *)b;

	return x < y ? -1 : x > y;
}

struct bench_part {
	const char *name;
	void (*fn)(void);
};

static const struct bench_part parts[] = {
	{ "maglev", bench_maglev },
	{ "datapath", bench_datapath },
	{ "metrics", bench_metrics },
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
	for (a = 1; a < argc; a++) /* check every name before running any */
		if (!find_part(argv[a])) {
			fprintf(stderr, "unknown bench part '%s'\n", argv[a]);
			usage(argv[0]);
			return 2;
		}
	if (argc == 1)
		for (i = 0; i < N_PARTS; i++)
			parts[i].fn();
	for (a = 1; a < argc; a++) {
		p = find_part(argv[a]);
		p->fn();
	}
	return 0;
}
