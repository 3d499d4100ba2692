/* SPDX-License-Identifier: GPL-2.0 */
/* fuzz_model.h - model invariants and the save/load round trip, shared by
 * fuzz_cmd.c and fuzz_state.c.  Every check abort()s so libFuzzer reports it. */
#ifndef SELFTESTS_FUZZ_MODEL_H
#define SELFTESTS_FUZZ_MODEL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmdparse.h"
#include "model.h"
#include "textform.h"
#include "fuzz.h"

static inline bool fuzz_bit(const __u64 *map, __u32 id)
{
	return map[id / 64] & (1ull << (id % 64));
}

/* VIPs sorted and unique, ids unique and matching the bitmap, backends
 * unique per VIP with ids unique over the model, counts adding up. */
static inline void fuzz_model_check(const struct xdplb_model *m)
{
	static __u64 vip_seen[(XDPLB_MAX_VIPS + 63) / 64], be_seen[(XDPLB_MAX_BACKENDS + 63) / 64];
	__u32 i, j, n_be = 0, n_ids = 0;
	char msg[256];

	memset(vip_seen, 0, sizeof(vip_seen));
	memset(be_seen, 0, sizeof(be_seen));
	FUZZ_CHECK(m->n_vips <= m->cap_vips);
	for (i = 0; i < m->n_vips; i++) {
		const struct xdplb_vip *v = &m->vips[i];

		if (i)
			FUZZ_CHECK(vip_key_cmp(&m->vips[i - 1].key, &v->key) < 0);
		FUZZ_CHECK(model_find_vip(m, &v->key) == v);
		FUZZ_CHECK(v->id < XDPLB_MAX_VIPS);
		FUZZ_CHECK(!fuzz_bit(vip_seen, v->id));
		FUZZ_CHECK(fuzz_bit(m->vip_ids, v->id));
		vip_seen[v->id / 64] |= 1ull << (v->id % 64);
		FUZZ_CHECK(v->n_backends <= v->cap_backends);
		FUZZ_CHECK(v->n_backends <= XDPLB_MAX_BACKENDS_PER_VIP);
		FUZZ_CHECK(vip_opts_check(&v->opts, msg, sizeof(msg)) == 0);
		for (j = 0; j < v->n_backends; j++) {
			const struct xdplb_backend *b = &v->backends[j];

			FUZZ_CHECK(model_find_backend(v, &b->addr, b->family) == b);
			FUZZ_CHECK(b->family == XDPLB_AF_INET || b->family == XDPLB_AF_INET6);
			FUZZ_CHECK(b->weight <= XDPLB_MAX_WEIGHT);
			FUZZ_CHECK(b->id < XDPLB_MAX_BACKENDS && b->id < m->be_next);
			FUZZ_CHECK(!fuzz_bit(be_seen, b->id));
			be_seen[b->id / 64] |= 1ull << (b->id % 64);
		}
		n_be += v->n_backends;
	}
	FUZZ_CHECK(n_be == m->n_backends);
	for (i = 0; i < (XDPLB_MAX_VIPS + 63) / 64; i++)
		n_ids += (__u32)__builtin_popcountll(m->vip_ids[i]);
	FUZZ_CHECK(n_ids == m->n_vips);
}

/* model_save into a malloc'd string (the caller frees it). */
static inline char *fuzz_model_text(const struct xdplb_model *m)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	FUZZ_CHECK(f);
	FUZZ_CHECK(model_save(m, f) == 0);
	FUZZ_CHECK(fclose(f) == 0);
	return buf;
}

/* What model_save prints, model_load reads back to a model that saves the same. */
static inline void fuzz_model_roundtrip(const struct xdplb_model *m)
{
	struct xdplb_model back;
	char *text = fuzz_model_text(m), *again, err[256] = "";
	FILE *f = fmemopen(text, strlen(text), "r");

	model_init(&back);
	if (!f) { /* fmemopen refuses an empty buffer on some libcs */
		FUZZ_CHECK(!*text);
	} else {
		if (model_load(&back, f, err, sizeof(err))) {
			fprintf(stderr, "saved model does not load: %s\n%s", err, text);
			abort();
		}
		fclose(f);
	}
	fuzz_model_check(&back);
	again = fuzz_model_text(&back);
	FUZZ_CHECK(strcmp(text, again) == 0);
	free(again);
	free(text);
	model_free(&back);
}

#endif /* SELFTESTS_FUZZ_MODEL_H */
