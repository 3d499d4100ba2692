// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* bench_fwd.bpf.c - bench only: the forwarder behind a step that restores its input, so that
 * BPF_PROG_TEST_RUN's repeat (which reruns on the previous run's output) can time every path.
 *
 * The bench sets the globals, reuses the forwarder's maps (same fds) and times
 * this program; the restore step's own cost is measured on paths that need no
 * restoring and subtracted.  Each run: move the front back to the input's
 * length (bpf_xdp_adjust_head, called with 0 when nothing moved), rewrite the
 * first BENCH_HDR bytes, optionally give the source a new value, then do
 * exactly what xdplb_fwd does.
 */
#include "xdplb.bpf.c"

#define BENCH_HDR 64 /* every path rewrites at most the first 64 bytes; inputs are >= 64 */

__u64 bench_orig[BENCH_HDR / 8]; /* the input's first BENCH_HDR bytes */
__u32 bench_len;                  /* the input's length */
__u32 bench_fresh_off;            /* nonzero: offset of 4 source bytes made new every run */
__u32 bench_fresh;

SEC("xdp")
int bench_fwd(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	__u32 zero = 0, off = bench_fresh_off;
	__u64 *w;
	int i;

	if (bpf_xdp_adjust_head(ctx, (int)(end - data) - (int)bench_len))
		return XDP_ABORTED;
	data = (void *)(long)ctx->data;
	end = (void *)(long)ctx->data_end;
	w = data;
	if ((void *)(w + BENCH_HDR / 8) > end)
		return XDP_ABORTED;
#pragma unroll
	for (i = 0; i < BENCH_HDR / 8; i++)
		w[i] = bench_orig[i];
	if (off) {
		__u32 *src = data + (off & (BENCH_HDR - 1));

		if ((void *)(src + 1) > end)
			return XDP_ABORTED;
		*src = bpf_htonl(++bench_fresh);
	}

	return xdplb_run(ctx, bpf_map_lookup_elem(&stats, &zero));
}
