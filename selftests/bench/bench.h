/* SPDX-License-Identifier: GPL-2.0 */
/* bench.h - the parts of build/bench; bench_main.c lists them by name.
 *
 * Each part is a void function that measures its own references in the same
 * run and prints ratios against them.  Other bench parts add their
 * prototypes here (and a line in bench_main.c's table).
 */
#ifndef XDPLB_BENCH_H
#define XDPLB_BENCH_H

void bench_maglev(void);
void bench_datapath(void);
void bench_metrics(void);

#endif /* XDPLB_BENCH_H */
