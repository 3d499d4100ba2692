/* SPDX-License-Identifier: GPL-2.0 */
/* dp_internal.h - what the dataplane's files (dataplane.c, dp_maps.c,
 * dp_rings.c, dp_flows.c) share with each other and with nothing else:
 * the skeleton, a map's fd, errno as a return value. */
#ifndef XDPLB_DP_INTERNAL_H
#define XDPLB_DP_INTERNAL_H

#include <errno.h>
#include <bpf/libbpf.h>

#include "dataplane.h"
#include "xdplb.skel.h"

static inline int map_fd(const struct bpf_map *m)
{
	return bpf_map__fd(m);
}

static inline int neg_errno(int ret)
{
	return ret < 0 ? -errno : ret;
}

/* dp_rings.c: unmap the rings lbd created (dp_close). */
void dp_rings_free(struct dp *dp);

#endif /* XDPLB_DP_INTERNAL_H */
