/* SPDX-License-Identifier: GPL-2.0 */
/* fuzz.h - what every harness shares: an invariant check that abort()s, so
 * that libFuzzer reports the input (selftests/fuzz/run.sh greps for
 * "invariant failed"). */
#ifndef SELFTESTS_FUZZ_H
#define SELFTESTS_FUZZ_H

#include <stdio.h>
#include <stdlib.h>

#define FUZZ_CHECK(cond)                                                                           \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__,       \
				#cond);                                                            \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

#endif /* SELFTESTS_FUZZ_H */
