// SPDX-License-Identifier: GPL-2.0
/* fuzz_cmd.c - libFuzzer harness for the command parser: the input is up to
 * 32 lines, each split into words and parsed as lbctl/the state file would.
 * A line either parses or leaves an error message; a parsed change command
 * is applied to one model, which either takes it or refuses it with a
 * message and no change.  After every line the model keeps its invariants
 * (fuzz_model.h), and at the end it survives a save/load round trip. */
#include <stdint.h>

#include "fuzz_model.h"

#define MAX_LINES 32

static void one_line(struct xdplb_model *m, char *line)
{
	char *argv[CMD_MAX_WORDS], err[512], name[32], *before, *after;
	struct xdplb_cmd cmd;
	int argc = -1, r;

	memset(err, 0, sizeof(err));
	memset(&cmd, 0, sizeof(cmd));
	r = cmd_split_line(line, argv, &argc, err, sizeof(err));
	if (!r) {
		FUZZ_CHECK(argc >= 0 && argc <= CMD_MAX_WORDS);
		r = cmd_parse(argc, argv, &cmd, err, sizeof(err));
	}
	FUZZ_CHECK(memchr(err, '\0', sizeof(err)));
	if (r) {
		FUZZ_CHECK(r == -1 && err[0]);
		return;
	}
	FUZZ_CHECK(cmd.kind > CMD_NONE && cmd.kind < CMD_KIND_MAX);
	FUZZ_CHECK(cmd_kind_name(cmd.kind, name, sizeof(name)));
	if (cmd.kind == CMD_VIP_ADD)
		FUZZ_CHECK(vip_opts_check(&cmd.opts, err, sizeof(err)) == 0);
	if (cmd.kind == CMD_BACKEND_ADD || cmd.kind == CMD_BACKEND_SET)
		FUZZ_CHECK(cmd.weight <= XDPLB_MAX_WEIGHT);
	if (!cmd_is_change(cmd.kind))
		return;
	before = fuzz_model_text(m);
	err[0] = '\0';
	r = model_apply(m, &cmd, err, sizeof(err));
	FUZZ_CHECK(memchr(err, '\0', sizeof(err)));
	if (r) {
		FUZZ_CHECK(r == -1 && err[0]);
		after = fuzz_model_text(m);
		FUZZ_CHECK(strcmp(before, after) == 0); /* a refused command changes nothing */
		free(after);
	} else if (cmd.kind == CMD_VIP_ADD) {
		FUZZ_CHECK(model_find_vip(m, &cmd.vip));
	} else if (cmd.kind == CMD_BACKEND_ADD) {
		const struct xdplb_vip *v = model_find_vip(m, &cmd.vip);
		const struct xdplb_backend *b;

		FUZZ_CHECK(v);
		b = model_find_backend(v, &cmd.addr, cmd.family);
		FUZZ_CHECK(b && b->weight == cmd.weight);
	} else if (cmd.kind == CMD_VIP_DEL) {
		FUZZ_CHECK(!model_find_vip(m, &cmd.vip));
	}
	free(before);
	fuzz_model_check(m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct xdplb_model m;
	char *buf = malloc(size + 1), *line, *next;
	int n = 0;

	FUZZ_CHECK(buf);
	memcpy(buf, data, size);
	buf[size] = '\0';
	model_init(&m);
	for (line = buf; line && n < MAX_LINES; line = next, n++) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		one_line(&m, line);
	}
	fuzz_model_check(&m);
	fuzz_model_roundtrip(&m);
	model_free(&m);
	free(buf);
	return 0;
}
