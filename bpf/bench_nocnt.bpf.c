// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* bench_nocnt.bpf.c - bench only: the forwarder without its per-flow packet
 * and byte counters, run on the forwarder's maps, so `make bench` can show
 * what those counters cost an established packet. */
#define XDPLB_NO_FLOW_COUNTERS
#include "xdplb.bpf.c"
