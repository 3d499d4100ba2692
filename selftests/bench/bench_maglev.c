// SPDX-License-Identifier: GPL-2.0
/* bench_maglev.c - Maglev table build time against two in-run references. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"
#include "maglev.h"

#define BENCH_M XDPLB_DEFAULT_RING_SIZE
#define BENCH_RUNS 15
#define BENCH_MAX_BACKENDS 1000

struct bench_ctx {
	struct maglev_backend be[BENCH_MAX_BACKENDS];
	size_t n;
	__u32 *table;
	int err;
};

/* Keep the compiler from dropping stores to `p` it thinks nobody reads. */
static void clobber(void *p)
{
	__asm__ volatile("" : : "r"(p) : "memory");
}

/* Median wall time of BENCH_RUNS calls of fn(ctx), after one warm-up call. */
static __u64 median_ns(void (*fn)(struct bench_ctx *), struct bench_ctx *ctx)
{
	__u64 t[BENCH_RUNS], start;
	int i;

	fn(ctx);
	for (i = 0; i < BENCH_RUNS; i++) {
		start = bench_now_ns();
		fn(ctx);
		t[i] = bench_now_ns() - start;
	}
	return bench_median_u64(t, BENCH_RUNS);
}

/* Reference 1: write the m slots in order (memset speed). */
static void ref_fill(struct bench_ctx *ctx)
{
	__u32 s;

	for (s = 0; s < BENCH_M; s++)
		ctx->table[s] = s;
	clobber(ctx->table);
}

/* Reference 2: write the m slots once along one permutation (pos += skip),
 * i.e. Maglev's access pattern with no collision ever probed. */
static void ref_walk(struct bench_ctx *ctx)
{
	__u32 s, pos = 12345, skip = 40503;

	for (s = 0; s < BENCH_M; s++) {
		ctx->table[pos] = s;
		pos += skip;
		if (pos >= BENCH_M)
			pos -= BENCH_M;
	}
	clobber(ctx->table);
}

static void run_build(struct bench_ctx *ctx)
{
	ctx->err |= maglev_build(ctx->be, ctx->n, BENCH_M, ctx->table);
	clobber(ctx->table);
}

/* Backend i: 10.0.x.y, weight 1, id i. */
static void make_backends(struct bench_ctx *ctx, size_t n)
{
	size_t i;

	memset(ctx->be, 0, sizeof(ctx->be));
	for (i = 0; i < n; i++) {
		ctx->be[i].addr.bytes[0] = 10;
		ctx->be[i].addr.bytes[2] = (__u8)(i >> 8);
		ctx->be[i].addr.bytes[3] = (__u8)i;
		ctx->be[i].family = XDPLB_AF_INET;
		ctx->be[i].weight = 1;
		ctx->be[i].id = (__u32)i;
	}
	ctx->n = n;
}

void bench_maglev(void)
{
	static const size_t ns[] = { 10, 100, BENCH_MAX_BACKENDS };
	static struct bench_ctx ctx;
	__u64 fill, walk, build;
	size_t i;

	ctx.table = malloc(BENCH_M * sizeof(*ctx.table));
	if (!ctx.table) {
		fprintf(stderr, "bench_maglev: out of memory\n");
		return;
	}
	fill = median_ns(ref_fill, &ctx);
	walk = median_ns(ref_walk, &ctx);
	printf("maglev: table build, m=%u, median of %d runs\n", BENCH_M, BENCH_RUNS);
	printf("  reference fill: %10llu ns  (m slots written in order)\n",
	       (unsigned long long)fill);
	printf("  reference walk: %10llu ns  (m slots written along one permutation)\n",
	       (unsigned long long)walk);
	printf("  %8s %12s %10s %10s %10s\n", "backends", "build ns", "ns/slot", "x fill",
	       "x walk");
	for (i = 0; i < sizeof(ns) / sizeof(ns[0]); i++) {
		make_backends(&ctx, ns[i]);
		build = median_ns(run_build, &ctx);
		printf("  %8zu %12llu %10.1f %10.1f %10.1f%s\n", ns[i], (unsigned long long)build,
		       (double)build / BENCH_M, (double)build / (fill ? fill : 1),
		       (double)build / (walk ? walk : 1), ctx.err ? "  (build FAILED)" : "");
	}
	free(ctx.table);
}
