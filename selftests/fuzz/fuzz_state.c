// SPDX-License-Identifier: GPL-2.0
/* fuzz_state.c - libFuzzer harness for the state-file loader: arbitrary bytes
 * through model_load(), once into an empty model and once into a model that
 * already holds a configuration (the reconcile path lbd takes on restore).
 * A load either succeeds, leaving a model that keeps its invariants and
 * survives a save/load round trip, or fails with a message and leaves the
 * model as it was. */
#include <stdint.h>

#include "fuzz_model.h"

static const char BASE[] = "vip add 10.0.0.1:80/tcp method l2 ring 7\n"
			   "backend add 10.0.0.1:80/tcp 10.0.1.1 weight 1\n"
			   "backend add 10.0.0.1:80/tcp 10.0.1.2 weight 3\n"
			   "vip add [fd00::1]:53/udp method gue ring 13\n"
			   "backend add [fd00::1]:53/udp fd01::1 weight 2\n";

static void load_into(struct xdplb_model *m, const uint8_t *data, size_t size)
{
	char err[512], *before = fuzz_model_text(m), *after;
	FILE *f = fmemopen((void *)data, size, "r");
	int r;

	FUZZ_CHECK(f);
	memset(err, 0, sizeof(err));
	r = model_load(m, f, err, sizeof(err));
	fclose(f);
	FUZZ_CHECK(memchr(err, '\0', sizeof(err)));
	if (r) {
		FUZZ_CHECK(r == -1 && err[0]);
		after = fuzz_model_text(m);
		FUZZ_CHECK(strcmp(before, after) == 0);
		free(after);
	} else {
		fuzz_model_check(m);
		fuzz_model_roundtrip(m);
	}
	free(before);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct xdplb_model m;
	FILE *f;
	char err[256];

	if (!size) /* fmemopen wants a non-empty buffer */
		return 0;
	model_init(&m);
	load_into(&m, data, size);
	model_free(&m);

	model_init(&m);
	f = fmemopen((void *)BASE, sizeof(BASE) - 1, "r");
	FUZZ_CHECK(f && model_load(&m, f, err, sizeof(err)) == 0);
	fclose(f);
	load_into(&m, data, size);
	model_free(&m);
	return 0;
}
