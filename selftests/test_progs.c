// SPDX-License-Identifier: GPL-2.0
/* test_progs.c - the runner: registered tests, filters, the summary line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fnmatch.h>
#include <unistd.h>

#include "test_progs.h"

static struct test_entry *tests;
static const char *filter;
static int n_pass, n_fail, n_skip;
int test__verbose;

/* State of the test (and subtest) running now. */
static const char *cur_test;
static const char *cur_sub;
static bool cur_failed, cur_skipped, in_sub, test_had_sub;

void test__register(struct test_entry *t)
{
	/* Keep registration order stable: append. */
	struct test_entry **p = &tests;

	while (*p)
		p = &(*p)->next;
	*p = t;
}

static void end_unit(void)
{
	const char *what = in_sub ? cur_sub : NULL;

	if (cur_skipped && !cur_failed) {
		n_skip++;
		printf("SKIP %s%s%s\n", cur_test, what ? "/" : "", what ? what : "");
	} else if (cur_failed) {
		n_fail++;
		printf("FAIL %s%s%s\n", cur_test, what ? "/" : "", what ? what : "");
	} else {
		n_pass++;
		if (test__verbose || !what)
			printf("PASS %s%s%s\n", cur_test, what ? "/" : "", what ? what : "");
	}
	fflush(stdout);
	cur_failed = cur_skipped = false;
}

bool test__start_subtest(const char *name)
{
	if (in_sub)
		end_unit();
	else if (cur_failed) /* failures before the first subtest count once */
		end_unit();
	cur_sub = name;
	in_sub = true;
	test_had_sub = true;
	return true;
}

void test__fail(void)
{
	cur_failed = true;
}

void test__skip(const char *why)
{
	cur_skipped = true;
	fprintf(stderr, "skip: %s\n", why);
}

void test__hexdiff(const void *got, const void *exp, size_t got_len, size_t exp_len)
{
	const unsigned char *g = got, *e = exp;
	size_t n = got_len > exp_len ? got_len : exp_len, i, first = n;

	for (i = 0; i < n; i++)
		if (i >= got_len || i >= exp_len || g[i] != e[i]) {
			first = i;
			break;
		}
	fprintf(stderr, "  first difference at byte %zu\n", first);
	for (i = 0; i < n; i += 16) {
		size_t j;

		fprintf(stderr, "  %04zx actual  ", i);
		for (j = i; j < i + 16 && j < n; j++)
			fprintf(stderr, j < got_len ? "%02x%c" : "  %c", j < got_len ? g[j] : 0,
				j < got_len && j < exp_len && g[j] != e[j] ? '*' : ' ');
		fprintf(stderr, "\n  %04zx expect  ", i);
		for (j = i; j < i + 16 && j < n; j++)
			fprintf(stderr, j < exp_len ? "%02x " : "   ", j < exp_len ? e[j] : 0);
		fprintf(stderr, "\n");
	}
}

static void usage(const char *prog)
{
	fprintf(stderr, "usage: %s [-v] [-l] [-t GLOB]\n", prog);
	exit(2);
}

int main(int argc, char **argv)
{
	struct test_entry *t;
	bool list = false;
	int opt;

	while ((opt = getopt(argc, argv, "vlt:")) != -1) {
		switch (opt) {
		case 'v':
			test__verbose = 1;
			break;
		case 'l':
			list = true;
			break;
		case 't':
			filter = optarg;
			break;
		default:
			usage(argv[0]);
		}
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (t = tests; t; t = t->next) {
		if (filter && fnmatch(filter, t->name, 0))
			continue;
		if (list) {
			printf("%s\n", t->name);
			continue;
		}
		cur_test = t->name;
		cur_failed = cur_skipped = in_sub = test_had_sub = false;
		t->fn();
		if (in_sub || !test_had_sub || cur_failed)
			end_unit();
		in_sub = false;
	}
	if (list)
		return 0;
	printf("%d passed, %d failed, %d skipped\n", n_pass, n_fail, n_skip);
	return n_fail ? 1 : 0;
}
