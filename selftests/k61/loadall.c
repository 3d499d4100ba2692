// SPDX-License-Identifier: GPL-2.0
/* loadall.c - load BPF objects through libbpf, one PASS/FAIL line each.
 *
 * Usage: loadall [-v] OBJ.bpf.o...
 *
 * Run inside the 6.1 VM (selftests/k61/run.sh) on every BPF object in build/bpf/,
 * and on the host too: it proves the verifier of the running kernel accepts
 * every program of every object.  On a failure the end of the verifier's
 * log is printed (its last lines hold the reason; -v prints all of it).  Hash
 * maps larger than SHRINK_TO entries are created with SHRINK_TO: the flow
 * tables are preallocated LRU maps of a million entries, more than a small
 * VM holds, and a hash map's size plays no part in verification.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#define SHRINK_TO 65536

static int verbose;
static char *libbpf_msgs; /* libbpf's own messages for the object being loaded */
static size_t msgs_len, msgs_cap;

static int print_fn(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	va_list aq;
	int n;

	if (level == LIBBPF_DEBUG && !verbose)
		return 0;
	va_copy(aq, ap);
	n = vsnprintf(NULL, 0, fmt, aq);
	va_end(aq);
	if (n <= 0)
		return 0;
	if (msgs_len + n + 1 > msgs_cap) {
		size_t cap = (msgs_cap ? msgs_cap * 2 : 4096) + n + 1;
		char *p = realloc(libbpf_msgs, cap);

		if (!p)
			return 0;
		libbpf_msgs = p;
		msgs_cap = cap;
	}
	vsnprintf(libbpf_msgs + msgs_len, n + 1, fmt, ap);
	msgs_len += n;
	return 0;
}

/* The last `max` lines of a verifier log, indented. */
static void print_tail(const char *log, int max)
{
	const char *p = log + strlen(log);
	int lines = 0;

	while (p > log && lines <= max)
		if (*--p == '\n')
			lines++;
	if (p > log)
		printf("  ... (%d lines of the log above; run with -v for all)\n", max);
	for (; *p; p++) {
		const char *nl = strchr(p, '\n');
		int len = nl ? (int)(nl - p) : (int)strlen(p);

		if (len)
			printf("  | %.*s\n", len, p);
		if (!nl)
			break;
		p = nl;
	}
}

static void shrink_maps(struct bpf_object *obj, const char *name)
{
	struct bpf_map *m;

	bpf_object__for_each_map(m, obj) {
		enum bpf_map_type t = bpf_map__type(m);

		if ((t == BPF_MAP_TYPE_HASH || t == BPF_MAP_TYPE_LRU_HASH ||
		     t == BPF_MAP_TYPE_PERCPU_HASH || t == BPF_MAP_TYPE_LRU_PERCPU_HASH) &&
		    bpf_map__max_entries(m) > SHRINK_TO) {
			if (verbose)
				printf("  %s: map %s: %u entries -> %u\n", name, bpf_map__name(m),
				       bpf_map__max_entries(m), SHRINK_TO);
			bpf_map__set_max_entries(m, SHRINK_TO);
		}
	}
}

/* Load one object; returns 0 if every program in it was accepted.  On a
 * failure libbpf loads the program again with the verifier's log on (in a
 * buffer it grows until the log fits) and hands the log to print_fn. */
static int load_one(const char *path)
{
	const char *name = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	struct bpf_object *obj;
	struct bpf_program *p;
	int err, n = 0;

	msgs_len = 0;
	if (libbpf_msgs)
		libbpf_msgs[0] = '\0';
	obj = bpf_object__open_file(path, NULL);
	if (!obj) {
		err = -errno;
		printf("FAIL load %s: cannot open: %s\n", name, strerror(-err));
		return err;
	}
	shrink_maps(obj, name);
	bpf_object__for_each_program(p, obj)
		n++;
	err = bpf_object__load(obj);
	if (err) {
		printf("FAIL load %s: %s; libbpf and the verifier said:\n", name, strerror(-err));
		if (libbpf_msgs && msgs_len)
			print_tail(libbpf_msgs, verbose ? 1 << 30 : 80);
		bpf_object__close(obj);
		return err;
	}
	bpf_object__for_each_program(p, obj) {
		struct bpf_prog_info info;
		__u32 len = sizeof(info);

		memset(&info, 0, sizeof(info));
		if (bpf_obj_get_info_by_fd(bpf_program__fd(p), &info, &len) == 0)
			printf("  %s: %s: %u instructions, %u processed by the verifier\n", name,
			       bpf_program__name(p), info.xlated_prog_len / 8, info.verified_insns);
	}
	printf("PASS load %s (%d program%s)\n", name, n, n == 1 ? "" : "s");
	bpf_object__close(obj);
	return 0;
}

int main(int argc, char **argv)
{
	int i = 1, pass = 0, fail = 0;

	if (argc > 1 && !strcmp(argv[1], "-v")) {
		verbose = 1;
		i++;
	}
	if (i >= argc) {
		fprintf(stderr, "usage: %s [-v] OBJ.bpf.o...\n", argv[0]);
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	libbpf_set_print(print_fn);
	for (; i < argc; i++) {
		if (load_one(argv[i]))
			fail++;
		else
			pass++;
	}
	free(libbpf_msgs);
	printf("%d passed, %d failed, 0 skipped\n", pass, fail);
	return fail ? 1 : 0;
}
