/* SPDX-License-Identifier: GPL-2.0 */
/* bench.h - the parts of build/xdplb-bench; bench_main.c lists them by name.
 *
 * Each part is a void function that measures its own references in the same
 * run and prints ratios against them.  Other bench parts add their
 * prototypes here (and a line in bench_main.c's table).
 */
#ifndef XDPLB_BENCH_H
#define XDPLB_BENCH_H

#include <linux/types.h>

/* Shared by the parts (bench_main.c): CLOCK_MONOTONIC in ns, and the
 * median of n samples, which sorts v: for an even n, the upper of the two
 * middle samples (__u64) or their mean (double). */
__u64 bench_now_ns(void);
__u64 bench_median_u64(__u64 *v, int n);
double bench_median(double *v, int n);
/* "aa:bb:cc:dd:ee:ff" into mac[6]; -1 if it is not one. */
int bench_parse_mac(const char *s, __u8 mac[6]);

#include <stdio.h>

/* Opens BENCH_DIR/NAME for writing (BENCH_DIR from the environment, else
 * "bench" beside the binary: build/bench/), creating the directory; PATH
 * gets the file's path either way, for messages.  NULL with errno set. */
FILE *bench_open_md(const char *name, char *path, size_t len);

void bench_maglev(void);
void bench_datapath(void);
void bench_metrics(void);
void bench_control(void); /* selftests/bench/control.sh sets it up */

/* `xdplb-bench rate-gen ...`: the live-frame generator of rate.sh (bench_rate.c). */
int bench_rate_gen(int argc, char **argv);

#endif /* XDPLB_BENCH_H */
