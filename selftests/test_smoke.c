// SPDX-License-Identifier: GPL-2.0
/* test_smoke.c - the ABI header and the flow hash agree with themselves. */
#include "test_progs.h"
#include "xdplb.h"
#include "xdplb_hash.h"

TEST(hash_stable)
{
	__be32 a[4] = { 1, 2, 3, 4 }, b[4] = { 5, 6, 7, 8 };

	ASSERT_EQ(xdplb_hash4(1, 5, 0x50001234, 6, 7), xdplb_hash4(1, 5, 0x50001234, 6, 7),
		  "hash4 deterministic");
	ASSERT_NEQ(xdplb_hash4(1, 5, 0x50001234, 6, 7), xdplb_hash4(1, 5, 0x50001234, 6, 8),
		   "seed changes hash4");
	ASSERT_NEQ(xdplb_hash6(a, b, 1, 6, 0), xdplb_hash6(b, a, 1, 6, 0), "hash6 ordered");
}
