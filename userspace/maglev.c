// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* maglev.c - weighted Maglev table: permutations, turn schedule, fill.
 *
 * Each backend walks its own permutation of the slots (offset, offset+skip,
 * ... mod m) and claims the first free slot whenever it has a turn.  Turns
 * come in rounds: a backend of weight w has its k-th turn in round
 * ceil(k * max_weight / w), which is what "credit += w; while credit >=
 * max_weight take a slot" gives, so the heaviest backend takes one slot every
 * round and the others proportionally fewer.  Rather than visiting every
 * backend in every round (O(n * rounds), bad for skewed weights), each
 * backend sits in the list of the round of its next turn, so the work is
 * O(slots + probes).  Backends are sorted by address first, which makes the
 * table independent of the input order.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "maglev.h"
#include "xdplb_hash.h"

#define NIL 0xffffffffu

/* One backend while the table is built. */
struct mg_state {
	__u32 pos;    /* next slot of its permutation to try */
	__u32 skip;   /* permutation step, 1..m-1 */
	__u32 id;     /* value written into the table */
	__u32 next;   /* next backend in the same round's list, or NIL */
	__u64 quot;   /* (k+1) * max_weight == quot * weight + rem, */
	__u32 rem;    /*   k = turns taken so far */
	__u32 weight;
	__u32 q, r;   /* max_weight == q * weight + r */
};

/* Scratch memory of one build. */
struct mg_work {
	const struct maglev_backend **sorted;
	struct mg_state *st;
	__u32 *heads; /* heads[round]: first backend whose next turn it is */
	__u64 *used;  /* bitmap of slots already taken */
};

/* Trial division: ring sizes are at most ~2^20, so at most ~1000 steps. */
bool maglev_is_prime(__u32 m)
{
	__u32 d;

	if (m < 2)
		return false;
	for (d = 2; (__u64)d * d <= m; d++)
		if (m % d == 0)
			return false;
	return true;
}

static __u32 addr_len(__u8 family)
{
	return family == XDPLB_AF_INET ? 4 : 16;
}

static int cmp_backend(const void *pa, const void *pb)
{
	const struct maglev_backend *a = *(const struct maglev_backend *const *)pa;
	const struct maglev_backend *b = *(const struct maglev_backend *const *)pb;

	if (a->family != b->family)
		return a->family < b->family ? -1 : 1;
	return memcmp(a->addr.bytes, b->addr.bytes, addr_len(a->family));
}

/* Sort pointers to `be` by (family, address); reject unknown families and
 * duplicates.  Returns the number of backends with weight > 0, or -EINVAL. */
static long sort_backends(const struct maglev_backend *be, size_t n,
			  const struct maglev_backend **sorted)
{
	size_t i, live = 0;

	for (i = 0; i < n; i++) {
		if (be[i].family != XDPLB_AF_INET && be[i].family != XDPLB_AF_INET6)
			return -EINVAL;
		sorted[i] = &be[i];
	}
	qsort(sorted, n, sizeof(*sorted), cmp_backend);
	for (i = 0; i < n; i++) {
		if (i && !cmp_backend(&sorted[i - 1], &sorted[i]))
			return -EINVAL;
		if (sorted[i]->weight)
			sorted[live++] = sorted[i];
	}
	return (long)live;
}

/* Round of the backend's next turn. */
static __u64 next_round(const struct mg_state *s)
{
	return s->quot + (s->rem != 0);
}

static void init_state(struct mg_state *s, const struct maglev_backend *b, __u32 m,
		       __u32 max_weight)
{
	__u32 len = addr_len(b->family);

	s->pos = xdplb_hash_bytes(b->addr.bytes, len, MAGLEV_SEED_OFFSET) % m;
	s->skip = xdplb_hash_bytes(b->addr.bytes, len, MAGLEV_SEED_SKIP) % (m - 1) + 1;
	s->id = b->id;
	s->weight = b->weight;
	s->q = max_weight / b->weight;
	s->r = max_weight % b->weight;
	s->quot = s->q; /* first turn: ceil(max_weight / weight) */
	s->rem = s->r;
	s->next = NIL;
}

/* Queue backend i for its next turn, unless that comes after round m (by
 * then the heaviest backend, which has a turn every round, filled the table). */
static void schedule(struct mg_work *w, __u32 i, __u32 m)
{
	__u64 round = next_round(&w->st[i]);

	if (round > m)
		return;
	w->st[i].next = w->heads[round];
	w->heads[round] = i;
}

/* Step to the turn after the current one: add max_weight / weight.  No
 * overflow: rem + r < max_weight (rem, r < weight, and r < max_weight - weight
 * when q == 1). */
static void advance(struct mg_state *s)
{
	s->quot += s->q;
	s->rem += s->r;
	if (s->rem >= s->weight) {
		s->rem -= s->weight;
		s->quot++;
	}
}

/* Claim the first free slot along the backend's permutation. */
static __u32 take_slot(struct mg_state *s, __u64 *used, __u32 m)
{
	__u32 pos = s->pos, skip = s->skip;

	while (used[pos / 64] & (1ull << (pos % 64))) {
		pos += skip;
		if (pos >= m)
			pos -= m;
	}
	used[pos / 64] |= 1ull << (pos % 64);
	s->pos = pos + skip >= m ? pos + skip - m : pos + skip;
	return pos;
}

static void fill_table(struct mg_work *w, __u32 live, __u32 m, __u32 *table)
{
	__u32 filled = 0, round, i, next;

	for (i = live; i-- > 0;) /* pushed in reverse: round 1 runs in order */
		schedule(w, i, m);
	for (round = 1; filled < m; round++) {
		for (i = w->heads[round]; i != NIL && filled < m; i = next) {
			next = w->st[i].next;
			table[take_slot(&w->st[i], w->used, m)] = w->st[i].id;
			filled++;
			advance(&w->st[i]);
			schedule(w, i, m);
		}
	}
}

static __u32 max_weight(const struct maglev_backend **sorted, __u32 live)
{
	__u32 i, max = 0;

	for (i = 0; i < live; i++)
		if (sorted[i]->weight > max)
			max = sorted[i]->weight;
	return max;
}

static int build_live(struct mg_work *w, __u32 live, __u32 m, __u32 *table)
{
	__u32 i, maxw = max_weight(w->sorted, live);

	w->st = calloc(live, sizeof(*w->st));
	w->heads = malloc(((size_t)m + 1) * sizeof(*w->heads));
	w->used = calloc((m + 63) / 64, sizeof(*w->used));
	if (!w->st || !w->heads || !w->used)
		return -ENOMEM;
	memset(w->heads, 0xff, ((size_t)m + 1) * sizeof(*w->heads)); /* all NIL */
	for (i = 0; i < live; i++)
		init_state(&w->st[i], w->sorted[i], m, maxw);
	fill_table(w, live, m, table);
	return 0;
}

int maglev_build(const struct maglev_backend *be, size_t n, __u32 m, __u32 *table)
{
	struct mg_work w = { 0 };
	long live;
	__u32 i;
	int err = 0;

	if (m < 3 || m > XDPLB_MAX_RING_SIZE || !maglev_is_prime(m) ||
	    n > XDPLB_MAX_BACKENDS || !table || (n && !be))
		return -EINVAL;
	w.sorted = malloc((n ? n : 1) * sizeof(*w.sorted));
	if (!w.sorted)
		return -ENOMEM;
	live = sort_backends(be, n, w.sorted);
	if (live < 0) {
		err = (int)live;
	} else if (live == 0) {
		for (i = 0; i < m; i++)
			table[i] = XDPLB_NO_BACKEND;
	} else {
		err = build_live(&w, (__u32)live, m, table);
	}
	free(w.used);
	free(w.heads);
	free(w.st);
	free(w.sorted);
	return err;
}
