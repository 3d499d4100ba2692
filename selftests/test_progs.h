/* SPDX-License-Identifier: GPL-2.0 */
/* test_progs.h - a small runner in the style of the kernel's BPF selftests.
 *
 * One file per area defines tests with TEST(name) { ... }.  A test may open
 * subtests with test__start_subtest("name"); each subtest (or a test that
 * has none) counts once as passed or failed.  ASSERT_* print the expected
 * and the actual value on failure and return whether they held, so tests
 * read: if (!ASSERT_OK(err, "load")) goto out;
 */
#ifndef TEST_PROGS_H
#define TEST_PROGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

struct test_entry {
	const char *name;
	void (*fn)(void);
	struct test_entry *next;
};

void test__register(struct test_entry *t);
bool test__start_subtest(const char *name);
void test__fail(void);
void test__skip(const char *why);
void test__hexdiff(const void *got, const void *exp, size_t got_len, size_t exp_len);
extern int test__verbose;

#define TEST(name)                                                                       \
	static void test_##name(void);                                                   \
	static struct test_entry test_entry_##name = { #name, test_##name, NULL };       \
	__attribute__((constructor)) static void test_register_##name(void)              \
	{                                                                                \
		test__register(&test_entry_##name);                                      \
	}                                                                                \
	static void test_##name(void)

#define ASSERT_FAIL_(fmt, ...)                                                           \
	do {                                                                             \
		fprintf(stderr, "%s:%d: " fmt "\n", __FILE__, __LINE__, ##__VA_ARGS__);  \
		test__fail();                                                            \
	} while (0)

#define ASSERT_CMP_(a, b, op, name)                                                      \
	({                                                                               \
		long long a_ = (long long)(a), b_ = (long long)(b);                      \
		bool ok_ = a_ op b_;                                                     \
		if (!ok_)                                                                \
			ASSERT_FAIL_("%s: expected %s %s %s: actual %lld, expected %lld", \
				     name, #a, #op, #b, a_, b_);                         \
		ok_;                                                                     \
	})

#define ASSERT_EQ(a, b, name) ASSERT_CMP_(a, b, ==, name)
#define ASSERT_NEQ(a, b, name) ASSERT_CMP_(a, b, !=, name)
#define ASSERT_LT(a, b, name) ASSERT_CMP_(a, b, <, name)
#define ASSERT_LE(a, b, name) ASSERT_CMP_(a, b, <=, name)
#define ASSERT_GT(a, b, name) ASSERT_CMP_(a, b, >, name)
#define ASSERT_GE(a, b, name) ASSERT_CMP_(a, b, >=, name)

#define ASSERT_TRUE(a, name)                                                             \
	({                                                                               \
		bool ok_ = !!(a);                                                        \
		if (!ok_)                                                                \
			ASSERT_FAIL_("%s: expected %s to be true", name, #a);            \
		ok_;                                                                     \
	})
#define ASSERT_FALSE(a, name) ASSERT_TRUE(!(a), name)

#define ASSERT_OK(err, name)                                                             \
	({                                                                               \
		long long e_ = (long long)(err);                                         \
		if (e_)                                                                  \
			ASSERT_FAIL_("%s: unexpected error %lld (%s)", name, e_,         \
				     strerror(e_ < 0 ? (int)-e_ : (int)e_));             \
		!e_;                                                                     \
	})

#define ASSERT_ERR(err, name)                                                            \
	({                                                                               \
		long long e_ = (long long)(err);                                         \
		if (!e_)                                                                 \
			ASSERT_FAIL_("%s: expected an error, got success", name);        \
		!!e_;                                                                    \
	})

#define ASSERT_OK_PTR(p, name)                                                           \
	({                                                                               \
		const void *p_ = (p);                                                    \
		if (!p_)                                                                 \
			ASSERT_FAIL_("%s: unexpected NULL", name);                       \
		!!p_;                                                                    \
	})

#define ASSERT_STREQ(a, b, name)                                                         \
	({                                                                               \
		const char *a_ = (a), *b_ = (b);                                         \
		bool ok_ = a_ && b_ && !strcmp(a_, b_);                                  \
		if (!ok_)                                                                \
			ASSERT_FAIL_("%s: actual \"%s\", expected \"%s\"", name,         \
				     a_ ? a_ : "(null)", b_ ? b_ : "(null)");            \
		ok_;                                                                     \
	})

/* Compare buffers; on mismatch print both as hex with the first difference. */
#define ASSERT_MEMEQ(got, got_len, exp, exp_len, name)                                   \
	({                                                                               \
		size_t gl_ = (got_len), el_ = (exp_len);                                 \
		bool ok_ = gl_ == el_ && !memcmp((got), (exp), gl_);                     \
		if (!ok_) {                                                              \
			ASSERT_FAIL_("%s: bytes differ (actual %zu bytes, expected %zu)", \
				     name, gl_, el_);                                    \
			test__hexdiff((got), (exp), gl_, el_);                           \
		}                                                                        \
		ok_;                                                                     \
	})

#endif /* TEST_PROGS_H */
