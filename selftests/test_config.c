// SPDX-License-Identifier: GPL-2.0
/* test_config.c - command parser, tokenizer, usage, model apply/ids, save/load round trip. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>

#include "test_progs.h"
#include "cmdparse.h"
#include "maglev.h"
#include "model.h"
#include "textform.h"

#define V4 "10.0.0.1:80/tcp"

static struct xdplb_cmd cmd;
static char err[512];

/* Split a copy of s into words and parse them into `cmd`. */
static int parse(const char *s)
{
	char *argv[CMD_MAX_WORDS], *buf = strdup(s);
	int argc, r;

	err[0] = '\0';
	r = cmd_split_line(buf, argv, &argc, err, sizeof(err));
	if (!r)
		r = cmd_parse(argc, argv, &cmd, err, sizeof(err));
	free(buf);
	return r;
}

static bool parses(const char *s)
{
	bool ok = parse(s) == 0;

	if (!ok)
		fprintf(stderr, "  \"%s\": %s\n", s, err);
	return ASSERT_TRUE(ok, s);
}

/* The command fails and its message contains `want`. */
static void rejects(const char *s, const char *want)
{
	if (!ASSERT_ERR(parse(s), s))
		return;
	if (!strstr(err, want))
		fprintf(stderr, "  \"%s\": message \"%s\" lacks \"%s\"\n", s, err, want);
	ASSERT_TRUE(strstr(err, want), s);
}

static void check_key(const struct xdplb_vip_key *k, const char *addr, __u16 port, __u8 proto,
		      const char *what)
{
	struct xdplb_vip_key exp;

	memset(&exp, 0, sizeof(exp));
	exp.family = strchr(addr, ':') ? XDPLB_AF_INET6 : XDPLB_AF_INET;
	inet_pton(exp.family == XDPLB_AF_INET6 ? AF_INET6 : AF_INET, addr, exp.addr.bytes);
	exp.port = htons(port);
	exp.proto = proto;
	ASSERT_MEMEQ(k, sizeof(*k), &exp, sizeof(exp), what);
}

static void test_parse_vip_add(void)
{
	struct xdplb_vip_opts *o = &cmd.opts;

	if (parses("vip add " V4)) {
		ASSERT_EQ(cmd.kind, CMD_VIP_ADD, "kind");
		check_key(&cmd.vip, "10.0.0.1", 80, IPPROTO_TCP, "v4 key");
		ASSERT_EQ(o->method, XDPLB_METHOD_L2, "default method");
		ASSERT_EQ(o->ring_size, XDPLB_DEFAULT_RING_SIZE, "default ring");
		ASSERT_EQ(o->check, XDPLB_CHECK_NONE, "default check");
		ASSERT_EQ(o->interval_ms, 2000, "default interval");
		ASSERT_EQ(o->timeout_ms, 1000, "default timeout");
		ASSERT_EQ(o->fall, 3, "default fall");
		ASSERT_EQ(o->rise, 2, "default rise");
		ASSERT_EQ(o->flags, 0, "default flags");
	}
	if (parses("vip add [2001:db8::1]:443/udp rise 1 method gue ring 131071 check http "
		   "/healthz?x=1 interval 500ms timeout 3 fall 5 src hash")) {
		check_key(&cmd.vip, "2001:db8::1", 443, IPPROTO_UDP, "v6 key");
		ASSERT_EQ(o->method, XDPLB_METHOD_GUE, "method");
		ASSERT_EQ(o->ring_size, 131071, "ring");
		ASSERT_EQ(o->check, XDPLB_CHECK_HTTP, "check");
		ASSERT_STREQ(o->check_path, "/healthz?x=1", "path");
		ASSERT_EQ(o->interval_ms, 500, "interval");
		ASSERT_EQ(o->timeout_ms, 3000, "timeout");
		ASSERT_EQ(o->fall, 5, "fall");
		ASSERT_EQ(o->rise, 1, "rise");
		ASSERT_EQ(o->flags, XDPLB_VIP_F_HASH_SRC, "src hash");
	}
	if (parses("vip add 192.0.2.7:0/udp method ipip check tcp interval 2s ring 3"))
		check_key(&cmd.vip, "192.0.2.7", 0, IPPROTO_UDP, "port wildcard");
	ASSERT_EQ(o->method, XDPLB_METHOD_IPIP, "ipip");
	ASSERT_EQ(o->check, XDPLB_CHECK_TCP, "check tcp");
	ASSERT_EQ(o->ring_size, 3, "ring 3");
	if (parses("vip add [::ffff:10.1.2.3]:65535/tcp check none method l2 ring 1048573"))
		check_key(&cmd.vip, "::ffff:10.1.2.3", 65535, IPPROTO_TCP,
			  "v4-mapped v6, max port");
	ASSERT_EQ(o->ring_size, XDPLB_MAX_RING_SIZE, "max ring");
}

static void test_parse_other_valid(void)
{
	if (parses("vip del " V4))
		ASSERT_EQ(cmd.kind, CMD_VIP_DEL, "vip del");
	if (parses("vip show"))
		ASSERT_FALSE(cmd.has_vip, "vip show: no VIP");
	if (parses("vip show [2001:db8::1]:443/tcp"))
		ASSERT_TRUE(cmd.has_vip && cmd.kind == CMD_VIP_SHOW, "vip show VIP");
	if (parses("backend add " V4 " 10.0.0.5")) {
		ASSERT_EQ(cmd.kind, CMD_BACKEND_ADD, "backend add");
		ASSERT_EQ(cmd.family, XDPLB_AF_INET, "family");
		ASSERT_EQ(cmd.addr.v4, htonl(0x0a000005), "addr");
		ASSERT_EQ(cmd.weight, 1, "default weight");
	}
	if (parses("backend add " V4 " 2001:db8::5 weight 65535")) {
		ASSERT_EQ(cmd.family, XDPLB_AF_INET6, "v6 backend");
		ASSERT_EQ(cmd.addr.bytes[15], 5, "v6 addr");
		ASSERT_EQ(cmd.weight, 65535, "max weight");
	}
	if (parses("backend add " V4 " 10.0.0.5 weight 0"))
		ASSERT_EQ(cmd.weight, 0, "weight 0");
	if (parses("backend set " V4 " 10.0.0.5 weight 0"))
		ASSERT_TRUE(cmd.kind == CMD_BACKEND_SET && cmd.weight == 0, "backend set");
	if (parses("backend del " V4 " 10.0.0.5"))
		ASSERT_EQ(cmd.kind, CMD_BACKEND_DEL, "backend del");
	if (parses("stats"))
		ASSERT_TRUE(cmd.kind == CMD_STATS && !cmd.has_vip, "stats");
	if (parses("stats " V4))
		ASSERT_TRUE(cmd.has_vip, "stats VIP");
	if (parses("flows"))
		ASSERT_TRUE(cmd.kind == CMD_FLOWS && !cmd.has_vip && !cmd.top, "flows");
	if (parses("flows top 10"))
		ASSERT_TRUE(!cmd.has_vip && cmd.top == 10, "flows top");
	if (parses("flows " V4 " top 1"))
		ASSERT_TRUE(cmd.has_vip && cmd.top == 1, "flows VIP top");
	if (parses("flows " V4))
		ASSERT_TRUE(cmd.has_vip && !cmd.top, "flows VIP");
}

static void test_parse_misc_valid(void)
{
	if (parses("flow lookup " V4 " 192.0.2.1:40000")) {
		ASSERT_EQ(cmd.kind, CMD_FLOW_LOOKUP, "flow lookup");
		ASSERT_EQ(cmd.client.v4, htonl(0xc0000201), "client");
		ASSERT_EQ(cmd.client_port, 40000, "client port");
	}
	if (parses("flow lookup [2001:db8::1]:443/tcp [2001:db8::99]:1")) {
		ASSERT_EQ(cmd.client_family, XDPLB_AF_INET6, "v6 client");
		ASSERT_EQ(cmd.client_port, 1, "v6 client port");
	}
	if (parses("save"))
		ASSERT_EQ(cmd.kind, CMD_SAVE, "save");
	if (parses("restore"))
		ASSERT_STREQ(cmd.file, "-", "restore: stdin");
	if (parses("restore -"))
		ASSERT_STREQ(cmd.file, "-", "restore -");
	if (parses("restore /var/lib/xdplb/state"))
		ASSERT_STREQ(cmd.file, "/var/lib/xdplb/state", "restore FILE");
	if (parses("help"))
		ASSERT_TRUE(cmd.kind == CMD_HELP && !cmd.help_object, "help");
	if (parses("help backend"))
		ASSERT_STREQ(cmd.help_object, "backend", "help OBJECT");
	if (parses("vip help"))
		ASSERT_STREQ(cmd.help_object, "vip", "vip help");
	if (parses("flows help"))
		ASSERT_TRUE(cmd.kind == CMD_HELP, "flows help");
}

TEST(config_parse)
{
	test__start_subtest("vip_add");
	test_parse_vip_add();
	test__start_subtest("other_commands");
	test_parse_other_valid();
	test__start_subtest("misc_commands");
	test_parse_misc_valid();
}

static void test_reject_vips(void)
{
	rejects("vip add 10.0.0.300:80/tcp", "bad address \"10.0.0.300\" in \"10.0.0.300:80/tcp\"");
	rejects("vip add 010.0.0.1:80/tcp", "bad address \"010.0.0.1\"");
	rejects("vip add 10.0.0.1:70000/tcp",
		"bad port \"70000\" in \"10.0.0.1:70000/tcp\" (0-65535)");
	rejects("vip add 10.0.0.1:-1/tcp", "bad port \"-1\"");
	rejects("vip add 10.0.0.1:/tcp", "bad port \"\"");
	rejects("vip add 10.0.0.1:8a/tcp", "bad port \"8a\"");
	rejects("vip add 10.0.0.1:80/sctp", "unknown protocol \"sctp\" in \"10.0.0.1:80/sctp\"");
	rejects("vip add 10.0.0.1:80/TCP", "unknown protocol \"TCP\"");
	rejects("vip add 10.0.0.1:80", "bad VIP \"10.0.0.1:80\" (ADDR:PORT/PROTO");
	rejects("vip add 10.0.0.1/tcp", "bad address:port in \"10.0.0.1/tcp\"");
	rejects("vip add 2001:db8::1:80/tcp", "IPv6 address needs brackets");
	rejects("vip add [10.0.0.1]:80/tcp", "bad address:port");
	rejects("vip add [2001:db8::1]80/tcp", "bad address:port");
	rejects("vip add [2001:db8::1:80/tcp", "bad address:port");
	rejects("vip add [2001:db8::g]:80/tcp", "bad address \"2001:db8::g\"");
	rejects("vip add [fe80::1%eth0]:80/tcp", "bad address");
	rejects("vip add 0.0.0.0:80/tcp", "address 0.0.0.0 in \"0.0.0.0:80/tcp\" is unspecified");
	rejects("vip add [::]:80/tcp", "is unspecified");
	rejects("vip add 224.0.0.1:80/tcp", "is multicast");
	rejects("vip add [ff02::1]:80/tcp", "is multicast");
	rejects("vip add 255.255.255.255:80/tcp", "is broadcast");
	rejects("vip add", "\"vip add\" needs a VIP (ADDR:PORT/PROTO)");
	rejects("vip del", "\"vip del\" needs a VIP");
}

static void test_reject_vip_opts(void)
{
	rejects("vip add " V4 " method foo", "unknown method \"foo\" (l2, ipip, gue)");
	rejects("vip add " V4 " method", "\"method\" needs a value");
	rejects("vip add " V4 " method l2 method gue", "\"method\" given twice");
	rejects("vip add " V4 " ring 65536", "ring size 65536 is not prime (try 65521 or 65537)");
	rejects("vip add " V4 " ring 4", "ring size 4 is not prime (try 3 or 5)");
	rejects("vip add " V4 " ring 2", "bad ring size \"2\" (a prime, 3-1048573)");
	rejects("vip add " V4 " ring 1048583", "bad ring size \"1048583\"");
	rejects("vip add " V4 " ring 0x101", "bad ring size \"0x101\"");
	rejects("vip add " V4 " ring", "\"ring\" needs a value");
	rejects("vip add " V4 " check foo", "unknown check \"foo\" (none, tcp, http PATH)");
	rejects("vip add " V4 " check http", "\"check http\" needs a PATH");
	rejects("vip add " V4 " check http healthz", "bad check path \"healthz\"");
	rejects("vip add " V4 " check tcp check none", "\"check\" given twice");
	rejects("vip add " V4 " interval 0", "bad interval \"0\"");
	rejects("vip add " V4 " interval 1.5s", "bad interval \"1.5s\"");
	rejects("vip add " V4 " interval 2m", "bad interval \"2m\"");
	rejects("vip add " V4 " interval -1", "bad interval \"-1\"");
	rejects("vip add " V4 " interval ms", "bad interval \"ms\"");
	rejects("vip add " V4 " timeout 86401s", "bad timeout \"86401s\"");
	rejects("vip add " V4 " timeout", "\"timeout\" needs a value");
	rejects("vip add " V4 " fall 0", "bad fall \"0\" (1-100)");
	rejects("vip add " V4 " rise 101", "bad rise \"101\" (1-100)");
	rejects("vip add " V4 " rise two", "bad rise \"two\"");
	rejects("vip add " V4 " src", "\"src\" needs a value");
	rejects("vip add " V4 " src random", "unknown src \"random\" (hash)");
	rejects("vip add " V4 " src hash", "\"src hash\" needs method ipip or gue");
	rejects("vip add " V4 " weight 3",
		"unknown option \"weight\" to \"vip add\" (method, ring, check, interval, timeout, "
		"fall, rise, src, need)");
}

/* A check path must survive save -> restore, so no '#' or spaces even from argv. */
static void test_reject_check_path_argv(void)
{
	char *hash[] = {"vip", "add", V4, "check", "http", "/a#b"};
	char *space[] = {"vip", "add", V4, "check", "http", "/a b"};
	char longp[CMD_MAX_CHECK_PATH + 1];
	char *toolong[] = {"vip", "add", V4, "check", "http", longp};

	memset(longp, 'a', sizeof(longp) - 1);
	longp[0] = '/';
	longp[sizeof(longp) - 1] = '\0';
	ASSERT_ERR(cmd_parse(6, hash, &cmd, err, sizeof(err)), "path with #");
	ASSERT_ERR(cmd_parse(6, space, &cmd, err, sizeof(err)), "path with space");
	ASSERT_ERR(cmd_parse(6, toolong, &cmd, err, sizeof(err)), "path too long");
	longp[CMD_MAX_CHECK_PATH - 1] = '\0';
	ASSERT_OK(cmd_parse(6, toolong, &cmd, err, sizeof(err)), "path of 255 bytes");
	ASSERT_ERR(cmd_parse(0, hash, &cmd, err, sizeof(err)), "no words");
	ASSERT_TRUE(strstr(err, "no command given"), "no words: message");
}

static void test_reject_backends(void)
{
	rejects("backend add " V4, "\"backend add\" needs a backend ADDR");
	rejects("backend add " V4 " 10.0.0.256", "bad backend address \"10.0.0.256\"");
	rejects("backend add " V4 " [2001:db8::5]", "bad backend address");
	rejects("backend add " V4 " 0.0.0.0", "backend address 0.0.0.0 is unspecified");
	rejects("backend add " V4 " 10.0.0.5 weight -1", "bad weight \"-1\" (0-65535)");
	rejects("backend add " V4 " 10.0.0.5 weight abc", "bad weight \"abc\" (0-65535)");
	rejects("backend add " V4 " 10.0.0.5 weight 65536", "bad weight \"65536\" (0-65535)");
	rejects("backend add " V4 " 10.0.0.5 weight +5", "bad weight \"+5\"");
	rejects("backend add " V4 " 10.0.0.5 weight 99999999999999999999", "bad weight");
	rejects("backend add " V4 " 10.0.0.5 weight", "\"weight\" needs a value");
	rejects("backend add " V4 " 10.0.0.5 weight 1 weight 2", "\"weight\" given twice");
	rejects("backend add " V4 " 10.0.0.5 wieght 2",
		"unknown option \"wieght\" to \"backend add\" (weight)");
	rejects("backend set " V4 " 10.0.0.5", "\"backend set\" needs \"weight W\"");
	rejects("backend set " V4, "\"backend set\" needs a backend ADDR");
	rejects("backend del " V4 " 10.0.0.5 weight 3",
		"unexpected \"weight\" at the end of \"backend del\"");
	rejects("backend add 10.0.0.1:80/xyz 10.0.0.5", "unknown protocol \"xyz\"");
}

static void test_reject_structure(void)
{
	rejects("vipp add " V4, "unknown object \"vipp\" (vip, backend, stats, flows, top, flow, "
				"save, restore, node, sync, help)");
	rejects("vip", "\"vip\" needs a command (add, del, show, help)");
	rejects("vip remove " V4, "unknown command \"remove\" for \"vip\" (add, del, show, help)");
	rejects("VIP add " V4, "unknown object \"VIP\"");
	rejects("vip ad " V4, "unknown command \"ad\"");
	rejects("vip del " V4 " extra", "unexpected \"extra\" at the end of \"vip del\"");
	rejects("vip show " V4 " " V4, "unexpected");
	rejects("stats " V4 " now", "unexpected \"now\" at the end of \"stats\"");
	rejects("stats all", "bad VIP \"all\"");
	rejects("save now", "unexpected \"now\" at the end of \"save\"");
	rejects("restore a b", "unexpected \"b\" at the end of \"restore\"");
	rejects("flows top 0", "bad top \"0\"");
	rejects("flows top", "\"top\" needs a value");
	rejects("flows " V4 " top 5 extra", "unknown option \"extra\" to \"flows\" (top)");
	rejects("flow lookup " V4, "\"flow lookup\" needs a client ADDR:PORT");
	rejects("flow lookup " V4 " 192.0.2.1", "bad address:port in \"192.0.2.1\"");
	rejects("flow lookup " V4 " 192.0.2.1:99999", "bad port \"99999\"");
	rejects("flow lookup " V4 " [2001:db8::5]:1234", "not of one family");
	rejects("flow lookup " V4 " 192.0.2.1:1 extra", "unexpected \"extra\"");
	rejects("help vipp", "unknown object \"vipp\"");
	rejects("vip help me", "unexpected \"me\" at the end of \"vip help\"");
	rejects("", "no command given");
}

TEST(config_parse_errors)
{
	test__start_subtest("vip");
	test_reject_vips();
	test__start_subtest("vip_options");
	test_reject_vip_opts();
	test__start_subtest("check_path_argv");
	test_reject_check_path_argv();
	test__start_subtest("backend");
	test_reject_backends();
	test__start_subtest("structure");
	test_reject_structure();
}

/* A line of n bytes: words "w" separated by spaces, padded with spaces. */
static char *make_line(size_t n, int words)
{
	char *s = malloc(n + 1);
	int i;

	memset(s, ' ', n);
	s[n] = '\0';
	for (i = 0; i < words; i++)
		s[2 * i] = 'w';
	return s;
}

static void split_case(size_t len, int words, const char *tail, bool ok, const char *what)
{
	char *line = make_line(len, words), *argv[CMD_MAX_WORDS], *full;
	int argc = -1, r;

	full = malloc(len + strlen(tail) + 1);
	strcpy(full, line);
	strcat(full, tail);
	r = cmd_split_line(full, argv, &argc, err, sizeof(err));
	if (ok && ASSERT_OK(r, what))
		ASSERT_EQ(argc, words, what);
	if (!ok)
		ASSERT_ERR(r, what);
	free(line);
	free(full);
}

TEST(config_split_line)
{
	char line[] = "  vip\tadd 10.0.0.1:80/tcp   method#gue\r\n", *argv[CMD_MAX_WORDS];
	char comment[] = "   # vip add 10.0.0.1:80/tcp", empty[] = "";
	int argc;

	test__start_subtest("words_and_comments");
	if (ASSERT_OK(cmd_split_line(line, argv, &argc, err, sizeof(err)), "split") &&
	    ASSERT_EQ(argc, 4, "words")) {
		ASSERT_STREQ(argv[0], "vip", "word 0");
		ASSERT_STREQ(argv[2], "10.0.0.1:80/tcp", "word 2");
		ASSERT_STREQ(argv[3], "method", "comment inside a word");
	}
	ASSERT_OK(cmd_split_line(comment, argv, &argc, err, sizeof(err)), "comment line");
	ASSERT_EQ(argc, 0, "comment: no words");
	ASSERT_OK(cmd_split_line(empty, argv, &argc, err, sizeof(err)), "empty line");
	ASSERT_EQ(argc, 0, "empty: no words");

	test__start_subtest("limits");
	split_case(CMD_MAX_LINE, 3, "", true, "4096 bytes");
	split_case(CMD_MAX_LINE, 3, "\n", true, "4096 bytes and newline");
	split_case(CMD_MAX_LINE, 3, "\r\n", true, "4096 bytes and CRLF");
	split_case(CMD_MAX_LINE + 1, 3, "", false, "4097 bytes");
	split_case(CMD_MAX_LINE * 4, 3, "\n", false, "16 KiB");
	ASSERT_TRUE(strstr(err, "line longer than 4096 bytes"), "long: message");
	split_case(200, CMD_MAX_WORDS, "", true, "64 words");
	split_case(200, CMD_MAX_WORDS + 1, "", false, "65 words");
	ASSERT_TRUE(strstr(err, "more than 64 words"), "words: message");
}

TEST(config_usage)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	cmd_usage(f, NULL);
	fclose(f);
	ASSERT_TRUE(strstr(buf, "vip add VIP [method l2|ipip|gue] [ring M]"), "vip add synopsis");
	ASSERT_TRUE(strstr(buf, "[src hash]"), "src hash");
	ASSERT_TRUE(strstr(buf, "backend set VIP ADDR weight W"), "backend set");
	ASSERT_TRUE(strstr(buf, "flows [VIP] [top N]"), "flows");
	ASSERT_TRUE(strstr(buf, "flow lookup VIP CLIENT_ADDR:PORT"), "flow lookup");
	ASSERT_TRUE(strstr(buf, "restore [FILE|-]"), "restore");
	ASSERT_TRUE(strstr(buf, "method l2 ring 65537 check none interval 2s timeout 1s fall 3 "
				"rise 2"),
		    "defaults");
	free(buf);
	buf = NULL;
	f = open_memstream(&buf, &len);
	cmd_usage(f, "backend");
	fclose(f);
	ASSERT_TRUE(strstr(buf, "backend add VIP ADDR [weight W]"), "backend help");
	ASSERT_FALSE(strstr(buf, "vip add"), "backend help: only backend");
	free(buf);
}

/* Parse and apply one command; on failure err holds the message. */
static int apply(struct xdplb_model *m, const char *s)
{
	if (parse(s))
		return -1;
	return model_apply(m, &cmd, err, sizeof(err));
}

static bool applies(struct xdplb_model *m, const char *s)
{
	bool ok = apply(m, s) == 0;

	if (!ok)
		fprintf(stderr, "  \"%s\": %s\n", s, err);
	return ASSERT_TRUE(ok, s);
}

/* Applying s fails with exactly `want`. */
static void refused(struct xdplb_model *m, const char *s, const char *want)
{
	if (ASSERT_ERR(apply(m, s), s))
		ASSERT_STREQ(err, want, s);
}

/* model_save into a malloc'd string. */
static char *save_str(const struct xdplb_model *m)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (model_save(m, f))
		ASSERT_FAIL_("model_save failed");
	fclose(f);
	return buf;
}

static int load_str(struct xdplb_model *m, const char *text)
{
	FILE *f = fmemopen((void *)text, strlen(text), "r");
	int r;

	err[0] = '\0';
	r = model_load(m, f, err, sizeof(err));
	fclose(f);
	return r;
}

static struct xdplb_backend *find_be(const struct xdplb_model *m, const char *vip, const char *addr)
{
	struct xdplb_vip_key key;
	union xdplb_addr a;
	struct xdplb_vip *v;
	__u8 fam;

	if (vip_parse(vip, &key, NULL, 0) || addr_parse(addr, &a, &fam))
		return NULL;
	v = model_find_vip(m, &key);
	return v ? model_find_backend(v, &a, fam) : NULL;
}

static struct xdplb_vip *find_vip(const struct xdplb_model *m, const char *vip)
{
	struct xdplb_vip_key key;

	return vip_parse(vip, &key, NULL, 0) ? NULL : model_find_vip(m, &key);
}

static void test_apply_refusals(struct xdplb_model *m)
{
	applies(m, "vip add " V4);
	applies(m, "vip add [2001:db8::1]:443/tcp method gue");
	applies(m, "vip add 10.0.0.2:53/udp method ipip ring 3");
	applies(m, "backend add " V4 " 10.0.0.5");
	refused(m, "vip add " V4 " method gue", "VIP 10.0.0.1:80/tcp already exists");
	refused(m, "vip del 10.0.0.9:80/tcp", "no VIP 10.0.0.9:80/tcp");
	refused(m, "vip del 10.0.0.1:80/udp", "no VIP 10.0.0.1:80/udp");
	refused(m, "backend add 10.0.0.9:80/tcp 10.0.0.5", "no VIP 10.0.0.9:80/tcp");
	refused(m, "backend add " V4 " 10.0.0.5 weight 3",
		"backend 10.0.0.5 already in VIP 10.0.0.1:80/tcp");
	refused(m, "backend set " V4 " 10.0.0.6 weight 3",
		"no backend 10.0.0.6 in VIP 10.0.0.1:80/tcp");
	refused(m, "backend del " V4 " 10.0.0.6", "no backend 10.0.0.6 in VIP 10.0.0.1:80/tcp");
	refused(m, "backend set 10.0.0.9:80/tcp 10.0.0.5 weight 3", "no VIP 10.0.0.9:80/tcp");
	refused(m, "backend add " V4 " 2001:db8::5",
		"backend 2001:db8::5 is IPv6 but VIP 10.0.0.1:80/tcp is IPv4 (method l2 needs the "
		"VIP's family; ipip and gue can carry IPv4 in IPv6)");
	refused(m, "backend add [2001:db8::1]:443/tcp 10.0.0.5",
		"backend 10.0.0.5 is IPv4 but VIP [2001:db8::1]:443/tcp is IPv6 (an IPv6 VIP needs "
		"IPv6 backends)");
	refused(m, "backend add " V4 " 10.0.0.1",
		"backend 10.0.0.1 is the address of VIP 10.0.0.1:80/tcp itself");
	refused(m, "stats", "\"stats\" does not change the configuration");
	refused(m, "vip show", "\"vip show\" does not change the configuration");
}

static void test_apply_changes(struct xdplb_model *m)
{
	struct xdplb_backend *b;
	char *before;

	applies(m, "backend add 10.0.0.2:53/udp 2001:db8::7");
	applies(m, "backend add 10.0.0.2:53/udp 10.0.0.7 weight 9");
	applies(m, "backend add 10.0.0.2:53/udp 10.0.0.8");
	before = save_str(m);
	refused(m, "backend add 10.0.0.2:53/udp 10.0.0.9",
		"VIP 10.0.0.2:53/udp: ring size 3 is too small for 4 backends");
	if (before) {
		char *after = save_str(m);

		ASSERT_STREQ(after, before, "refused change leaves the model as it was");
		free(after);
	}
	free(before);
	applies(m, "backend set " V4 " 10.0.0.5 weight 0");
	b = find_be(m, V4, "10.0.0.5");
	if (ASSERT_OK_PTR(b, "backend"))
		ASSERT_EQ(b->weight, 0, "weight set");
	applies(m, "backend del 10.0.0.2:53/udp 10.0.0.7");
	ASSERT_FALSE(find_be(m, "10.0.0.2:53/udp", "10.0.0.7"), "backend gone");
	ASSERT_EQ(m->n_backends, 3, "backends in model");
	applies(m, "vip del 10.0.0.2:53/udp");
	ASSERT_FALSE(find_vip(m, "10.0.0.2:53/udp"), "VIP gone");
	ASSERT_EQ(m->n_vips, 2, "VIPs in model");
	ASSERT_EQ(m->n_backends, 1, "its backends gone");
}

TEST(config_model_apply)
{
	struct xdplb_model m;

	model_init(&m);
	test__start_subtest("refusals");
	test_apply_refusals(&m);
	test__start_subtest("changes");
	test_apply_changes(&m);
	model_free(&m);
}

static __u32 be_id(const struct xdplb_model *m, const char *vip, const char *addr)
{
	struct xdplb_backend *b = find_be(m, vip, addr);

	return b ? b->id : 0xdeadbeef;
}

static __u32 be_weight(const struct xdplb_model *m, const char *vip, const char *addr)
{
	struct xdplb_backend *b = find_be(m, vip, addr);

	return b ? b->weight : 0xdeadbeef;
}

static __u32 vip_id(const struct xdplb_model *m, const char *vip)
{
	struct xdplb_vip *v = find_vip(m, vip);

	return v ? v->id : 0xdeadbeef;
}

static void test_ids_stable(struct xdplb_model *m)
{
	applies(m, "vip add 10.0.0.3:80/tcp");
	applies(m, "vip add 10.0.0.1:80/tcp");
	applies(m, "vip add 10.0.0.2:80/tcp");
	ASSERT_EQ(vip_id(m, "10.0.0.3:80/tcp"), 0, "first VIP id");
	ASSERT_EQ(vip_id(m, "10.0.0.1:80/tcp"), 1, "second VIP id");
	ASSERT_EQ(vip_id(m, "10.0.0.2:80/tcp"), 2, "third VIP id");
	applies(m, "backend add 10.0.0.1:80/tcp 10.1.0.3");
	applies(m, "backend add 10.0.0.1:80/tcp 10.1.0.1");
	applies(m, "backend add 10.0.0.2:80/tcp 10.1.0.2");
	applies(m, "backend add 10.0.0.3:80/tcp 10.1.0.4");
	applies(m, "vip del 10.0.0.2:80/tcp");
	applies(m, "backend del 10.0.0.1:80/tcp 10.1.0.3");
	ASSERT_EQ(vip_id(m, "10.0.0.3:80/tcp"), 0, "VIP id kept");
	ASSERT_EQ(vip_id(m, "10.0.0.1:80/tcp"), 1, "VIP id kept");
	ASSERT_EQ(be_id(m, "10.0.0.1:80/tcp", "10.1.0.1"), 1, "backend id kept");
	ASSERT_EQ(be_id(m, "10.0.0.3:80/tcp", "10.1.0.4"), 3, "backend id kept");
	applies(m, "vip add 10.0.0.9:80/tcp");
	ASSERT_EQ(vip_id(m, "10.0.0.9:80/tcp"), 2, "lowest free VIP id");
	applies(m, "backend add 10.0.0.9:80/tcp 10.1.0.3");
	ASSERT_EQ(be_id(m, "10.0.0.9:80/tcp", "10.1.0.3"), 4, "freed backend ids wait");
}

/* Add backends 11.0.0.0, 11.0.0.1, ... until every backend id is in use. */
static bool fill_ids(struct xdplb_model *m)
{
	struct xdplb_cmd c;
	__u32 v, n = 0;

	memset(&c, 0, sizeof(c));
	c.kind = CMD_BACKEND_ADD;
	c.family = XDPLB_AF_INET;
	c.weight = 1;
	for (v = 0; v < m->n_vips; v++) {
		c.vip = m->vips[v].key;
		while (m->vips[v].n_backends < XDPLB_MAX_BACKENDS_PER_VIP &&
		       m->n_backends < XDPLB_MAX_BACKENDS) {
			c.addr.v4 = htonl(0x0b000000 + n++);
			if (model_apply(m, &c, err, sizeof(err))) {
				ASSERT_FAIL_("fill: %s", err);
				return false;
			}
		}
	}
	return ASSERT_EQ(m->n_backends, XDPLB_MAX_BACKENDS, "all ids in use");
}

/* With every id in use, free two in a known order: they come back in that order. */
static void test_ids_fifo(struct xdplb_model *m)
{
	__u32 first, second;
	char s[64];
	int i;

	for (i = 0; i < 16; i++) {
		snprintf(s, sizeof(s), "vip add 10.0.2.%d:80/tcp", i);
		applies(m, s);
	}
	if (!fill_ids(m))
		return;
	snprintf(s, sizeof(s), "backend add 10.0.2.15:80/tcp 12.0.0.1");
	refused(m, s, "too many backends (at most 65536)");
	first = be_id(m, "10.0.0.9:80/tcp", "10.1.0.3");
	second = be_id(m, "10.0.0.1:80/tcp", "10.1.0.1");
	applies(m, "backend del 10.0.0.9:80/tcp 10.1.0.3");
	applies(m, "backend del 10.0.0.1:80/tcp 10.1.0.1");
	applies(m, "backend add 10.0.0.1:80/tcp 10.1.0.8");
	applies(m, "backend add 10.0.0.9:80/tcp 10.1.0.7");
	ASSERT_EQ(be_id(m, "10.0.0.1:80/tcp", "10.1.0.8"), first, "oldest freed id first");
	ASSERT_EQ(be_id(m, "10.0.0.9:80/tcp", "10.1.0.7"), second, "then the next");
}

/* Restoring a changed configuration keeps the ids of what stayed. */
static void test_ids_restore(void)
{
	struct xdplb_model m;
	const char *a = "vip add " V4 " method ipip\nbackend add " V4 " 10.1.0.1\n"
			"backend add " V4 " 10.1.0.2\nbackend add " V4 " 10.1.0.3\n"
			"vip add 10.0.0.2:80/tcp\nbackend add 10.0.0.2:80/tcp 10.2.0.1\n";
	const char *b = "vip add 10.0.0.0:80/tcp\nvip add " V4 " method gue\n"
			"backend add " V4 " 10.1.0.3 weight 7\nbackend add " V4 " 10.1.0.4\n"
			"backend add " V4 " 10.1.0.1\n";

	model_init(&m);
	if (!ASSERT_OK(load_str(&m, a), err))
		goto out;
	ASSERT_EQ(be_id(&m, V4, "10.1.0.3"), 2, "id before");
	if (!ASSERT_OK(load_str(&m, a), "same again"))
		goto out;
	ASSERT_EQ(be_id(&m, V4, "10.1.0.3"), 2, "same config: same id");
	if (!ASSERT_OK(load_str(&m, b), err))
		goto out;
	ASSERT_EQ(vip_id(&m, V4), 0, "VIP id kept");
	ASSERT_EQ(vip_id(&m, "10.0.0.0:80/tcp"), 1, "new VIP takes the freed id");
	ASSERT_EQ(be_id(&m, V4, "10.1.0.1"), 0, "backend id kept");
	ASSERT_EQ(be_id(&m, V4, "10.1.0.3"), 2, "backend id kept");
	ASSERT_EQ(be_weight(&m, V4, "10.1.0.3"), 7, "weight taken");
	ASSERT_EQ(be_id(&m, V4, "10.1.0.4"), 4, "new backend: fresh id");
	ASSERT_TRUE(find_vip(&m, V4) && find_vip(&m, V4)->opts.method == XDPLB_METHOD_GUE,
		    "options taken");
	ASSERT_FALSE(find_be(&m, V4, "10.1.0.2"), "dropped backend");
	ASSERT_FALSE(find_vip(&m, "10.0.0.2:80/tcp"), "dropped VIP");
out:
	model_free(&m);
}

TEST(config_model_ids)
{
	struct xdplb_model m;

	model_init(&m);
	test__start_subtest("stable");
	test_ids_stable(&m);
	test__start_subtest("fifo_reuse");
	test_ids_fifo(&m);
	model_free(&m);
	test__start_subtest("restore_keeps_ids");
	test_ids_restore();
}

static const char *const config_cmds[] = {
    "vip add [2001:db8::1]:443/tcp method gue check http /healthz interval 500ms src hash",
    "vip add 10.0.0.100:80/tcp",
    "vip add 10.0.0.100:0/udp method ipip ring 251 check tcp timeout 1500ms fall 1 rise 7",
    "backend add 10.0.0.100:80/tcp 10.0.1.12 weight 3",
    "backend add 10.0.0.100:80/tcp 10.0.1.2",
    "backend add 10.0.0.100:0/udp 2001:db8::20",
    "backend add 10.0.0.100:0/udp 10.0.1.9 weight 0",
    "backend add [2001:db8::1]:443/tcp 2001:db8::b",
    "backend add [2001:db8::1]:443/tcp 2001:db8::a weight 65535",
    "vip add 10.0.0.9:80/tcp",
    "vip del 10.0.0.9:80/tcp",
};

static const char golden[] =
    "vip add 10.0.0.100:0/udp method ipip ring 251 check tcp interval 2s timeout 1500ms "
    "fall 1 rise 7\n"
    "backend add 10.0.0.100:0/udp 10.0.1.9 weight 0\n"
    "backend add 10.0.0.100:0/udp 2001:db8::20 weight 1\n"
    "vip add 10.0.0.100:80/tcp method l2 ring 65537 check none interval 2s timeout 1s "
    "fall 3 rise 2\n"
    "backend add 10.0.0.100:80/tcp 10.0.1.2 weight 1\n"
    "backend add 10.0.0.100:80/tcp 10.0.1.12 weight 3\n"
    "vip add [2001:db8::1]:443/tcp method gue ring 65537 check http /healthz interval 500ms "
    "timeout 1s fall 3 rise 2 src hash\n"
    "backend add [2001:db8::1]:443/tcp 2001:db8::a weight 65535\n"
    "backend add [2001:db8::1]:443/tcp 2001:db8::b weight 1\n";

static bool build_config(struct xdplb_model *m)
{
	size_t i;

	for (i = 0; i < sizeof(config_cmds) / sizeof(config_cmds[0]); i++)
		if (!applies(m, config_cmds[i]))
			return false;
	return true;
}

TEST(config_roundtrip)
{
	struct xdplb_model m, m2;
	char *s1 = NULL, *s2 = NULL;

	model_init(&m);
	model_init(&m2);
	if (!build_config(&m))
		goto out;
	s1 = save_str(&m);
	ASSERT_STREQ(s1, golden, "save: sorted, every option");
	if (!ASSERT_OK(load_str(&m2, s1), err))
		goto out;
	s2 = save_str(&m2);
	ASSERT_STREQ(s2, s1, "save -> load -> save");
	ASSERT_EQ(m2.n_vips, 3, "VIPs");
	ASSERT_EQ(m2.n_backends, 6, "backends");
out:
	free(s1);
	free(s2);
	model_free(&m);
	model_free(&m2);
}

/* Loading text with an error on line `line` fails with "line N: want" and leaves m as it was. */
static void load_fails(struct xdplb_model *m, const char *text, int line, const char *want)
{
	char *before = save_str(m), *after, prefix[32];

	snprintf(prefix, sizeof(prefix), "line %d: ", line);
	if (ASSERT_ERR(load_str(m, text), prefix)) {
		ASSERT_EQ(strncmp(err, prefix, strlen(prefix)), 0, err);
		if (!strstr(err, want))
			fprintf(stderr, "  message \"%s\" lacks \"%s\"\n", err, want);
		ASSERT_TRUE(strstr(err, want), want);
	}
	after = save_str(m);
	ASSERT_STREQ(after, before, "model untouched");
	free(before);
	free(after);
}

static void test_load_errors(struct xdplb_model *m)
{
	char *big = malloc(2 * CMD_MAX_LINE), *words = malloc(300);
	int i;

	load_fails(m, "# new config\n\nvip add 10.0.0.7:80/tcp\nvip add 10.0.0.7:80/tcp\n", 4,
		   "VIP 10.0.0.7:80/tcp already exists");
	load_fails(m,
		   "vip add 10.0.0.7:80/tcp\nbackend add 10.0.0.7:80/tcp 10.0.0.8\n"
		   "backend add 10.0.0.7:80/tcp 10.0.0.8 weight 70000\n",
		   3, "bad weight \"70000\" (0-65535)");
	load_fails(m, "vip add 10.0.0.7:80/tcp\nbackend add 10.0.0.6:80/tcp 10.0.0.8", 2,
		   "no VIP 10.0.0.6:80/tcp");
	load_fails(m, "vip add 10.0.0.7:80/tcp\nstats\n", 2,
		   "\"stats\" does not change the configuration");
	load_fails(m, "vip add 10.0.0.7:80/tcp\nvip add 10.0.0.8:80/tcp ring 10\n", 2,
		   "ring size 10 is not prime");
	snprintf(big, 2 * CMD_MAX_LINE, "vip add 10.0.0.7:80/tcp\n# %*s\n", CMD_MAX_LINE, "x");
	load_fails(m, big, 2, "line longer than 4096 bytes");
	strcpy(words, "vip add 10.0.0.7:80/tcp\n#\n");
	for (i = 0; i <= CMD_MAX_WORDS; i++)
		strcat(words, "x ");
	load_fails(m, words, 3, "more than 64 words");
	free(big);
	free(words);
}

TEST(config_load)
{
	struct xdplb_model m;
	char *s;

	model_init(&m);
	if (!build_config(&m))
		goto out;
	test__start_subtest("bad_line_leaves_model");
	test_load_errors(&m);
	test__start_subtest("comments_and_blanks");
	if (ASSERT_OK(load_str(&m, "# state\n\n  vip add 10.0.0.7:80/tcp   # web\r\n"
				   "\tbackend add 10.0.0.7:80/tcp 10.0.0.8"),
		      err)) {
		s = save_str(&m);
		ASSERT_STREQ(
		    s,
		    "vip add 10.0.0.7:80/tcp method l2 ring 65537 check none interval 2s "
		    "timeout 1s fall 3 rise 2\nbackend add 10.0.0.7:80/tcp 10.0.0.8 weight 1\n",
		    "replaced whole");
		free(s);
	}
	test__start_subtest("empty_clears");
	if (ASSERT_OK(load_str(&m, "# nothing\n"), err))
		ASSERT_EQ(m.n_vips + m.n_backends, 0, "empty model");
out:
	model_free(&m);
}

/* `need N` and the node's drain: need round-trips like any option (said
 * only when not 1); the drain lives in the state file (model_save_state),
 * not in save, and a load changes it only when its input says so. */
TEST(config_node)
{
	struct xdplb_model m;
	char *buf = NULL, *s;
	size_t len = 0;
	FILE *f;

	model_init(&m);
	test__start_subtest("need");
	if (ASSERT_OK(load_str(&m, "vip add 10.0.0.7:80/tcp need 2\nvip add 10.0.0.7:81/tcp need 1\n"),
		      err)) {
		s = save_str(&m);
		ASSERT_STREQ(s,
			     "vip add 10.0.0.7:80/tcp method l2 ring 65537 check none interval 2s "
			     "timeout 1s fall 3 rise 2 need 2\n"
			     "vip add 10.0.0.7:81/tcp method l2 ring 65537 check none interval 2s "
			     "timeout 1s fall 3 rise 2\n",
			     "need said when not 1");
		free(s);
	}
	rejects("vip add 10.0.0.7:80/tcp need 0", "bad need \"0\" (1-4096)");
	test__start_subtest("drain_state");
	applies(&m, "node drain");
	ASSERT_TRUE(m.drained, "drained");
	s = save_str(&m);
	ASSERT_TRUE(s && !strstr(s, "node"), "save leaves the drain out");
	free(s);
	f = open_memstream(&buf, &len);
	ASSERT_OK(model_save_state(&m, f), "save state");
	fclose(f);
	ASSERT_TRUE(buf && len > 11 && !strcmp(buf + len - 11, "node drain\n"), "state has it");
	test__start_subtest("restore_keeps_drain");
	ASSERT_OK(load_str(&m, "vip add 10.0.0.9:80/tcp\n"), err);
	ASSERT_TRUE(m.drained, "a restore without node lines keeps the drain");
	test__start_subtest("state_file_drain");
	model_free(&m);
	ASSERT_OK(load_str(&m, buf), err);
	ASSERT_TRUE(m.drained && m.n_vips == 2, "a state file restores drain and VIPs");
	ASSERT_OK(load_str(&m, "node undrain\n"), err);
	ASSERT_FALSE(m.drained, "undrain in the input");
	free(buf);
	model_free(&m);
}

TEST(config_copy)
{
	struct xdplb_model m, c;
	char *a, *b;

	model_init(&m);
	if (!build_config(&m))
		goto out;
	if (!ASSERT_OK(model_copy(&c, &m), "copy"))
		goto out;
	applies(&m, "vip del 10.0.0.100:80/tcp");
	a = save_str(&c);
	ASSERT_STREQ(a, golden, "copy is independent");
	applies(&c, "backend add 10.0.0.100:80/tcp 10.0.1.3");
	b = save_str(&m);
	ASSERT_EQ(be_id(&c, "10.0.0.100:80/tcp", "10.0.1.3"), 6, "copy continues the ids");
	ASSERT_FALSE(strstr(b, "10.0.0.100:80/tcp"), "original changed alone");
	free(a);
	free(b);
	model_free(&c);
out:
	model_free(&m);
}

TEST(config_format)
{
	char buf[XDPLB_VIP_STRLEN];
	struct xdplb_vip_key k;
	__u32 ms;

	ASSERT_OK(vip_parse("[2001:DB8:0::1]:443/tcp", &k, err, sizeof(err)), "parse v6");
	ASSERT_STREQ(vip_format(&k, buf, sizeof(buf)), "[2001:db8::1]:443/tcp", "canonical v6");
	ASSERT_OK(vip_parse("10.0.0.100:080/udp", &k, err, sizeof(err)), "parse v4");
	ASSERT_STREQ(vip_format(&k, buf, sizeof(buf)), "10.0.0.100:80/udp", "canonical v4");
	ASSERT_STREQ(duration_format(500, buf, sizeof(buf)), "500ms", "500ms");
	ASSERT_STREQ(duration_format(2000, buf, sizeof(buf)), "2s", "2s");
	ASSERT_STREQ(duration_format(1500, buf, sizeof(buf)), "1500ms", "1500ms");
	ASSERT_TRUE(!duration_parse("3", &ms) && ms == 3000, "plain seconds");
	ASSERT_ERR(duration_parse("0ms", &ms), "0ms rejected");
	ASSERT_TRUE(maglev_is_prime(XDPLB_MAX_RING_SIZE), "max ring is prime");
}
