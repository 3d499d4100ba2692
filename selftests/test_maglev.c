// SPDX-License-Identifier: GPL-2.0
/* test_maglev.c - Maglev table: shares, disruption, determinism, bad input. */
#include <errno.h>
#include <stdlib.h>

#include "test_progs.h"
#include "maglev.h"

#define M XDPLB_DEFAULT_RING_SIZE

/* Extra slots that may move when one of N backends leaves or joins, in % of
 * m (the ideal is 0; the backend's own m/N slots are not counted).  Measured
 * worst cases: 0.41% for N=10 and 0.72% for N=100 with these addresses (see
 * -v), at most 0.46% and 0.78% over other address sets; the bounds leave
 * about 2x headroom, so they catch a broken permutation or fill order. */
#define MAX_EXTRA_PCT_N10 1.0
#define MAX_EXTRA_PCT_N100 1.5
#define CHURN_MAX 101  /* largest set measure_churn() builds */
#define CHURN_JOINS 20 /* new backends tried, one at a time */

/* Backend i gets v = first + i: address 10.v (or 2001:db8::v), weight 1, id v. */
static void make_backends(struct maglev_backend *be, size_t n, __u8 family, __u32 first)
{
	size_t i;

	memset(be, 0, n * sizeof(*be));
	for (i = 0; i < n; i++) {
		__u32 v = first + (__u32)i;
		__u8 *b = be[i].addr.bytes;

		be[i].family = family;
		be[i].weight = 1;
		be[i].id = v;
		if (family == XDPLB_AF_INET) {
			b[0] = 10;
			b[1] = v >> 16;
		} else {
			b[0] = 0x20, b[1] = 0x01, b[2] = 0x0d, b[3] = 0xb8;
			b[12] = v >> 24, b[13] = v >> 16;
		}
		b[family == XDPLB_AF_INET ? 2 : 14] = v >> 8;
		b[family == XDPLB_AF_INET ? 3 : 15] = v;
	}
}

/* cnt[id] for ids < nids; cnt[nids] counts anything else. */
static void count_slots(const __u32 *t, __u32 m, __u32 *cnt, __u32 nids)
{
	__u32 s;

	memset(cnt, 0, (nids + 1) * sizeof(*cnt));
	for (s = 0; s < m; s++)
		cnt[t[s] < nids ? t[s] : nids]++;
}

/* Does `got` slots match weight/wsum of m within 1% (or one slot)? */
static bool share_ok(__u32 got, __u32 m, __u32 weight, __u64 wsum)
{
	double exp = (double)m * weight / wsum, tol = exp / 100;

	if (tol < 1)
		tol = 1;
	return got >= exp - tol && got <= exp + tol;
}

static bool check_shares(const struct maglev_backend *be, size_t n, __u32 m, const char *what)
{
	__u32 *t = malloc(m * sizeof(*t)), *cnt = calloc(n + 1, sizeof(*cnt));
	__u64 wsum = 0;
	__u32 i;
	bool ok = false;

	if (!ASSERT_OK_PTR(t, "table") || !ASSERT_OK_PTR(cnt, "cnt"))
		goto out;
	for (i = 0; i < n; i++)
		wsum += be[i].weight;
	if (!ASSERT_OK(maglev_build(be, n, m, t), what))
		goto out;
	count_slots(t, m, cnt, n);
	ok = ASSERT_EQ(cnt[n], 0, "slots with a foreign id");
	for (i = 0; i < n && ok; i++)
		if (!share_ok(cnt[i], m, be[i].weight, wsum)) {
			ok = false;
			ASSERT_FAIL_("%s: backend %u weight %u has %u of %u slots (sum %llu)",
				     what, i, be[i].weight, cnt[i], m, (unsigned long long)wsum);
		}
out:
	free(cnt);
	free(t);
	return ok;
}

TEST(maglev_is_prime)
{
	ASSERT_TRUE(maglev_is_prime(2), "2");
	ASSERT_TRUE(maglev_is_prime(3), "3");
	ASSERT_TRUE(maglev_is_prime(65537), "65537");
	ASSERT_TRUE(maglev_is_prime(1048573), "1048573");
	ASSERT_TRUE(maglev_is_prime(4294967291u), "largest 32-bit prime");
	ASSERT_FALSE(maglev_is_prime(0), "0");
	ASSERT_FALSE(maglev_is_prime(1), "1");
	ASSERT_FALSE(maglev_is_prime(65536), "65536");
	ASSERT_FALSE(maglev_is_prime(1048575), "1048575");
	ASSERT_FALSE(maglev_is_prime(65537u * 65521u), "product of two primes");
}

TEST(maglev_equal_weights)
{
	/* the runner keeps the name pointer: one string per subtest */
	static const char *names[] = { "n=1", "n=3", "n=10", "n=100", "n=1000" };
	static const size_t ns[] = { 1, 3, 10, 100, 1000 };
	struct maglev_backend be[1000];
	size_t i;

	for (i = 0; i < sizeof(ns) / sizeof(ns[0]); i++) {
		test__start_subtest(names[i]);
		make_backends(be, ns[i], XDPLB_AF_INET, 0);
		check_shares(be, ns[i], M, names[i]);
	}
}

TEST(maglev_weights)
{
	struct maglev_backend be[1000];
	size_t i;

	test__start_subtest("1_2_3_4");
	make_backends(be, 4, XDPLB_AF_INET, 0);
	for (i = 0; i < 4; i++)
		be[i].weight = i + 1;
	check_shares(be, 4, M, "1,2,3,4");

	test__start_subtest("1_vs_10");
	make_backends(be, 2, XDPLB_AF_INET, 0);
	be[1].weight = 10;
	check_shares(be, 2, M, "1,10");

	test__start_subtest("zero_weight_excluded");
	make_backends(be, 3, XDPLB_AF_INET, 0);
	be[1].weight = 0;
	check_shares(be, 3, M, "1,0,1");

	test__start_subtest("skewed_1000");
	make_backends(be, 1000, XDPLB_AF_INET, 0);
	be[500].weight = 1000;
	check_shares(be, 1000, M, "one 1000, 999 x 1");

	test__start_subtest("large_weights");
	make_backends(be, 3, XDPLB_AF_INET, 0);
	be[0].weight = 0xffffffffu;
	be[1].weight = 0xc0000000u;
	be[2].weight = 0x55555555u;
	check_shares(be, 3, M, "near 2^32");
}

/* Slots whose owner changed between a and b although neither owner is
 * `exempt` (the backend that left or joined). */
static __u32 extra_moved(const __u32 *a, const __u32 *b, __u32 m, __u32 exempt)
{
	__u32 s, moved = 0;

	for (s = 0; s < m; s++)
		if (a[s] != b[s] && a[s] != exempt && b[s] != exempt)
			moved++;
	return moved;
}

/* Build the table of be[0..n-1] minus be[skip] (skip >= n: none). */
static bool build_without(const struct maglev_backend *be, size_t n, size_t skip, __u32 *t)
{
	struct maglev_backend rest[CHURN_MAX];
	size_t i, k = 0;

	for (i = 0; i < n; i++)
		if (i != skip)
			rest[k++] = be[i];
	return ASSERT_OK(maglev_build(rest, k, M, t), "build");
}

/* Worst and mean extra movement when each of n backends in turn leaves
 * (join = false), or when each of CHURN_JOINS new ones joins the n. */
static bool measure_churn(size_t n, bool join, __u32 *worst, double *mean)
{
	struct maglev_backend be[CHURN_MAX];
	__u32 *base = malloc(M * sizeof(*base)), *t = malloc(M * sizeof(*t));
	size_t k, trials = join ? CHURN_JOINS : n, total = join ? n + 1 : n;
	__u32 moved;
	double sum = 0;
	bool ok = false;

	*worst = 0;
	if (!ASSERT_OK_PTR(base, "base") || !ASSERT_OK_PTR(t, "t"))
		goto out;
	make_backends(be, n, XDPLB_AF_INET, 0);
	if (!build_without(be, n, n, base))
		goto out;
	for (k = 0; k < trials; k++) {
		if (join)
			make_backends(be + n, 1, XDPLB_AF_INET, 1000 + k * 37);
		if (!build_without(be, total, join ? total : k, t))
			goto out;
		moved = extra_moved(base, t, M, join ? be[n].id : k);
		sum += moved;
		if (moved > *worst)
			*worst = moved;
	}
	*mean = sum / trials;
	ok = true;
out:
	free(t);
	free(base);
	return ok;
}

static void check_churn(size_t n, bool join, double max_pct)
{
	__u32 worst;
	double mean;

	if (!measure_churn(n, join, &worst, &mean))
		return;
	if (test__verbose)
		printf("  %s one %s %zu: extra slots moved worst %u (%.3f%% of m), mean %.1f\n",
		       join ? "adding" : "removing", join ? "to" : "of", n, worst,
		       100.0 * worst / M, mean);
	ASSERT_LE(worst, (__u32)(max_pct * M / 100), "extra slots moved");
}

TEST(maglev_disruption)
{
	test__start_subtest("remove_1_of_10");
	check_churn(10, false, MAX_EXTRA_PCT_N10);
	test__start_subtest("remove_1_of_100");
	check_churn(100, false, MAX_EXTRA_PCT_N100);
	test__start_subtest("add_1_to_10");
	check_churn(10, true, MAX_EXTRA_PCT_N10);
	test__start_subtest("add_1_to_100");
	check_churn(100, true, MAX_EXTRA_PCT_N100);
}

static __u32 rng_next(__u64 *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return (__u32)(*s >> 32);
}

static void shuffle(struct maglev_backend *be, size_t n, __u64 seed)
{
	struct maglev_backend tmp;
	size_t i, j;

	for (i = n; i > 1; i--) {
		j = rng_next(&seed) % i;
		tmp = be[i - 1];
		be[i - 1] = be[j];
		be[j] = tmp;
	}
}

TEST(maglev_order_independent)
{
	struct maglev_backend be[200];
	__u32 *a = malloc(M * sizeof(*a)), *b = malloc(M * sizeof(*b)), s, i;

	if (!ASSERT_OK_PTR(a, "a") || !ASSERT_OK_PTR(b, "b"))
		goto out;
	make_backends(be, 100, XDPLB_AF_INET, 0);
	make_backends(be + 100, 100, XDPLB_AF_INET6, 100);
	for (i = 0; i < 200; i++)
		be[i].weight = 1 + i % 7;
	if (!ASSERT_OK(maglev_build(be, 200, M, a), "build"))
		goto out;

	test__start_subtest("shuffled");
	for (i = 1; i <= 5; i++) {
		shuffle(be, 200, 0x9e3779b97f4a7c15ull * i);
		if (!ASSERT_OK(maglev_build(be, 200, M, b), "build shuffled") ||
		    !ASSERT_MEMEQ(b, M * sizeof(*b), a, M * sizeof(*a), "same table"))
			break;
	}

	test__start_subtest("ids_renamed");
	for (i = 0; i < 200; i++)
		be[i].id = be[i].id * 7 + 1000;
	if (!ASSERT_OK(maglev_build(be, 200, M, b), "build renamed"))
		goto out;
	for (s = 0; s < M; s++)
		if (!ASSERT_EQ(b[s], a[s] * 7 + 1000, "renamed id in slot"))
			break;
out:
	free(b);
	free(a);
}

/* maglev_build must fail with -EINVAL and leave the table alone. */
static void expect_einval(const struct maglev_backend *be, size_t n, __u32 m, const char *what)
{
	__u32 size = m > M ? m : M, *t = malloc(size * sizeof(*t)), s;

	if (!ASSERT_OK_PTR(t, "table"))
		return;
	memset(t, 0x5a, size * sizeof(*t));
	ASSERT_EQ(maglev_build(be, n, m, t), -EINVAL, what);
	for (s = 0; s < size; s++)
		if (!ASSERT_EQ(t[s], 0x5a5a5a5a, "table untouched"))
			break;
	free(t);
}

static __u32 first_prime_above(__u32 m)
{
	while (!maglev_is_prime(++m))
		;
	return m;
}

TEST(maglev_invalid)
{
	struct maglev_backend be[4], *many;

	make_backends(be, 4, XDPLB_AF_INET, 0);
	test__start_subtest("bad_m");
	expect_einval(be, 4, 65536, "m not prime");
	expect_einval(be, 4, 1, "m = 1");
	expect_einval(be, 4, 2, "m = 2");
	expect_einval(be, 4, 0, "m = 0");
	expect_einval(be, 4, first_prime_above(XDPLB_MAX_RING_SIZE), "m too large");

	test__start_subtest("duplicate_address");
	be[3].addr = be[1].addr;
	expect_einval(be, 4, M, "duplicate v4");
	be[1].weight = 0;
	expect_einval(be, 4, M, "duplicate with weight 0");
	make_backends(be, 4, XDPLB_AF_INET6, 0);
	be[0].addr = be[2].addr;
	expect_einval(be, 4, M, "duplicate v6");

	test__start_subtest("bad_family");
	make_backends(be, 4, XDPLB_AF_INET, 0);
	be[2].family = 0;
	expect_einval(be, 4, M, "family 0");

	test__start_subtest("too_many_backends");
	many = calloc(XDPLB_MAX_BACKENDS + 1, sizeof(*many));
	if (ASSERT_OK_PTR(many, "many")) {
		make_backends(many, XDPLB_MAX_BACKENDS + 1, XDPLB_AF_INET6, 0);
		expect_einval(many, XDPLB_MAX_BACKENDS + 1, M, "n > XDPLB_MAX_BACKENDS");
	}
	free(many);
}

static void expect_all_empty(const struct maglev_backend *be, size_t n, const char *what)
{
	__u32 *t = malloc(M * sizeof(*t)), s;

	if (!ASSERT_OK_PTR(t, "table"))
		return;
	memset(t, 0, M * sizeof(*t));
	if (ASSERT_OK(maglev_build(be, n, M, t), what))
		for (s = 0; s < M; s++)
			if (!ASSERT_EQ(t[s], XDPLB_NO_BACKEND, "empty slot"))
				break;
	free(t);
}

TEST(maglev_edges)
{
	struct maglev_backend be[10];
	__u32 t[7], cnt[11], i;

	test__start_subtest("no_backends");
	expect_all_empty(NULL, 0, "n = 0");

	test__start_subtest("all_weights_zero");
	make_backends(be, 10, XDPLB_AF_INET, 0);
	for (i = 0; i < 10; i++)
		be[i].weight = 0;
	expect_all_empty(be, 10, "all weight 0");

	test__start_subtest("more_backends_than_slots");
	make_backends(be, 10, XDPLB_AF_INET, 0);
	if (ASSERT_OK(maglev_build(be, 10, 7, t), "m = 7, n = 10")) {
		count_slots(t, 7, cnt, 10);
		ASSERT_EQ(cnt[10], 0, "every slot has a backend");
		for (i = 0; i < 10; i++)
			ASSERT_LE(cnt[i], 1, "at most one slot each");
	}

	test__start_subtest("largest_m");
	ASSERT_TRUE(check_shares(be, 10, XDPLB_MAX_RING_SIZE, "m = max"), "shares");
}

TEST(maglev_ipv6)
{
	static __u32 t[M];
	struct maglev_backend be[20];
	__u32 cnt[4];

	test__start_subtest("v6_only");
	make_backends(be, 20, XDPLB_AF_INET6, 0);
	check_shares(be, 20, M, "20 x v6");

	test__start_subtest("mixed");
	make_backends(be, 10, XDPLB_AF_INET, 0);
	make_backends(be + 10, 10, XDPLB_AF_INET6, 10);
	check_shares(be, 20, M, "10 x v4 + 10 x v6");

	test__start_subtest("same_bytes_other_family");
	/* 10.0.0.1 and 0a00:0001:: share their first four bytes: not duplicates */
	make_backends(be, 2, XDPLB_AF_INET, 1);
	be[1].family = XDPLB_AF_INET6;
	be[1].addr = be[0].addr;
	if (ASSERT_OK(maglev_build(be, 2, M, t), "build")) {
		count_slots(t, M, cnt, 3);
		ASSERT_TRUE(share_ok(cnt[1], M, 1, 2), "v4 half");
		ASSERT_TRUE(share_ok(cnt[2], M, 1, 2), "v6 half");
	}
}
