// SPDX-License-Identifier: GPL-2.0
/* test_metrics.c - the exposition writer, the HTTP helpers (gzip, listen
 * addresses), rates, lbd's counter reads, flow listings and flow count
 * (counters.c) against known traffic (BPF_PROG_TEST_RUN), and lbd's
 * /metrics page, `stats`, `top` and `flows` rendered from a fixture
 * datapath. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <unistd.h>
#include <zlib.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "test_progs.h"
#include "adopt.h"
#include "commands.h"
#include "fixture.h"
#include "http.h"
#include "lbd.h"
#include "metrics_text.h"
#include "sync.h"
#include "xdplb.skel.h"

static const char *sb_s(struct strbuf *sb)
{
	return sb_str(sb);
}

TEST(metrics_text)
{
	struct strbuf sb, lab;
	char buf[32];

	sb_init(&sb, 0);
	sb_init(&lab, 0);
	if (test__start_subtest("names")) {
		ASSERT_TRUE(mx_name_ok("xdplb_vip_packets_total", false), "metric");
		ASSERT_TRUE(mx_name_ok("a:b_c", false), "colon in metric");
		ASSERT_FALSE(mx_name_ok("a:b", true), "colon in label");
		ASSERT_FALSE(mx_name_ok("1abc", false), "leading digit");
		ASSERT_FALSE(mx_name_ok("a-b", false), "dash");
		ASSERT_FALSE(mx_name_ok("", false), "empty");
	}
	if (test__start_subtest("label_escaping")) {
		mx_label(&lab, "vip", "[2001:db8::1]:443/tcp");
		mx_label(&lab, "odd", "a\"b\\c\nd");
		ASSERT_STREQ(sb_s(&lab), "vip=\"[2001:db8::1]:443/tcp\",odd=\"a\\\"b\\\\c\\nd\"",
			     "escaped");
	}
	if (test__start_subtest("family_and_samples")) {
		sb_reset(&sb);
		mx_family(&sb, "x_total", MX_COUNTER, "Help with \\ and\nnewline \"quoted\".");
		mx_u64(&sb, "x_total", "a=\"1\"", 0);
		mx_u64(&sb, "x_total", NULL, 18446744073709551615ull);
		mx_f64(&sb, "y", "", 0.1);
		ASSERT_STREQ(sb_s(&sb),
			     "# HELP x_total Help with \\\\ and\\nnewline \"quoted\".\n"
			     "# TYPE x_total counter\n"
			     "x_total{a=\"1\"} 0\n"
			     "x_total 18446744073709551615\n"
			     "y 0.1\n",
			     "page");
	}
	if (test__start_subtest("milliseconds")) {
		sb_reset(&sb);
		mx_ms(&sb, "t", "a=\"b\"", 1795684428172ull);
		mx_ms(&sb, "t", NULL, 5);
		mx_ms(&sb, "t", NULL, 0);
		ASSERT_STREQ(sb_s(&sb), "t{a=\"b\"} 1795684428.172\nt 0.005\nt 0.000\n", "ms");
	}
	if (test__start_subtest("floats")) {
		ASSERT_STREQ(mx_format_f64(NAN, buf, sizeof(buf)), "NaN", "nan");
		ASSERT_STREQ(mx_format_f64(INFINITY, buf, sizeof(buf)), "+Inf", "+inf");
		ASSERT_STREQ(mx_format_f64(-INFINITY, buf, sizeof(buf)), "-Inf", "-inf");
		ASSERT_STREQ(mx_format_f64(1.5e-7, buf, sizeof(buf)), "1.5e-07", "small");
		ASSERT_STREQ(mx_format_f64(1795684428.1723027, buf, sizeof(buf)),
			     "1795684428.1723027", "timestamp keeps its digits");
		ASSERT_TRUE(strtod(mx_format_f64(1.0 / 3, buf, sizeof(buf)), NULL) == 1.0 / 3,
			    "round trip");
	}
	sb_free(&sb);
	sb_free(&lab);
}

static bool gunzip_eq(const void *gz, size_t len, const char *exp)
{
	size_t n = strlen(exp);
	char *out = malloc(n + 16);
	z_stream z = { 0 };
	bool ok;

	if (!out || inflateInit2(&z, 15 + 16) != Z_OK) {
		free(out);
		return false;
	}
	z.next_in = (Bytef *)gz;
	z.avail_in = (uInt)len;
	z.next_out = (Bytef *)out;
	z.avail_out = (uInt)(n + 16);
	ok = inflate(&z, Z_FINISH) == Z_STREAM_END && z.total_out == n && !memcmp(out, exp, n);
	inflateEnd(&z);
	free(out);
	return ok;
}

TEST(metrics_http_helpers)
{
	struct sockaddr_storage ss;
	char err[256];

	if (test__start_subtest("accept_encoding")) {
		ASSERT_TRUE(http_accepts_gzip("gzip"), "gzip");
		ASSERT_TRUE(http_accepts_gzip("GZIP"), "case");
		ASSERT_TRUE(http_accepts_gzip("deflate, gzip;q=0.5"), "list, q");
		ASSERT_TRUE(http_accepts_gzip("identity, x-gzip"), "x-gzip");
		ASSERT_TRUE(http_accepts_gzip("*"), "star");
		ASSERT_FALSE(http_accepts_gzip("gzip;q=0"), "q=0 refuses");
		ASSERT_FALSE(http_accepts_gzip("deflate, gzip ; q = 0.000"), "q=0.000 refuses");
		ASSERT_FALSE(http_accepts_gzip("identity"), "identity");
		ASSERT_FALSE(http_accepts_gzip("gzipx, xgzip"), "near names");
		ASSERT_FALSE(http_accepts_gzip(""), "empty");
		ASSERT_FALSE(http_accepts_gzip(",,;;q=,"), "garbage");
	}
	if (test__start_subtest("gzip_round_trip")) {
		struct strbuf sb;
		void *gz = NULL;
		size_t len = 0;
		int i;

		sb_init(&sb, 0);
		for (i = 0; i < 2000; i++)
			sb_printf(&sb, "xdplb_backend_packets_total{vip=\"10.0.0.%d:80/tcp\"} %d\n",
				  i % 250, i * 7);
		if (ASSERT_OK(http_gzip(sb.buf, sb.len, &gz, &len), "gzip")) {
			ASSERT_TRUE(gunzip_eq(gz, len, sb_s(&sb)), "inflates back");
			ASSERT_LT(len * 5, sb.len, "compresses at least 5x");
		}
		free(gz);
		gz = NULL;
		if (ASSERT_OK(http_gzip("", 0, &gz, &len), "gzip of nothing"))
			ASSERT_TRUE(gunzip_eq(gz, len, ""), "empty inflates back");
		free(gz);
		sb_free(&sb);
	}
	if (test__start_subtest("listen_address")) {
		ASSERT_OK(http_parse_listen("127.0.0.1:9469", &ss, err, sizeof(err)), "v4");
		ASSERT_EQ(ss.ss_family, AF_INET, "v4 family");
		ASSERT_EQ(ntohs(((struct sockaddr_in *)&ss)->sin_port), 9469, "v4 port");
		ASSERT_OK(http_parse_listen("[::1]:80", &ss, err, sizeof(err)), "v6");
		ASSERT_EQ(ss.ss_family, AF_INET6, "v6 family");
		ASSERT_ERR(http_parse_listen("::1:80", &ss, err, sizeof(err)), "v6 without brackets");
		ASSERT_TRUE(strstr(err, "brackets") != NULL, "says to use brackets");
		ASSERT_ERR(http_parse_listen("127.0.0.1:65536", &ss, err, sizeof(err)), "port");
		ASSERT_ERR(http_parse_listen("127.0.0.1", &ss, err, sizeof(err)), "no port");
		ASSERT_ERR(http_parse_listen(":80", &ss, err, sizeof(err)), "no address");
		ASSERT_ERR(http_parse_listen("[]:80", &ss, err, sizeof(err)), "empty brackets");
		ASSERT_ERR(http_parse_listen("[::1]", &ss, err, sizeof(err)), "v6 no port");
		ASSERT_ERR(http_parse_listen("localhost:80", &ss, err, sizeof(err)), "name");
		ASSERT_ERR(http_parse_listen("1.2.3.4:8x", &ss, err, sizeof(err)), "port junk");
	}
}

TEST(metrics_count_period)
{
	ASSERT_EQ(counters_count_period_ms(0.0001), 1000,
		  "a small table: counted again within a second");
	ASSERT_EQ(counters_count_period_ms(0.05), 5000, "100 durations");
	ASSERT_EQ(counters_count_period_ms(0.83), COUNTERS_COUNT_PERIOD_MS,
		  "a million entries: 30 s");
}

TEST(metrics_rates)
{
	struct xdplb_counters a = { .packets = 100, .bytes = 1000 },
			      b = { .packets = 200, .bytes = 3000 };
	struct counters_rate r;

	r = counters_rate_of(&a, &b, 1000);
	ASSERT_TRUE(r.pps == 100.0 && r.bps == 16000.0, "1 s");
	r = counters_rate_of(&a, &b, 500);
	ASSERT_TRUE(r.pps == 200.0 && r.bps == 32000.0, "0.5 s");
	r = counters_rate_of(&b, &a, 1000);
	ASSERT_TRUE(r.pps == 0 && r.bps == 0, "counter went back (reused id): 0");
	r = counters_rate_of(&a, &b, 0);
	ASSERT_TRUE(r.pps == 0 && r.bps == 0, "no interval: 0");
}

/* ---- against a datapath ---- */

#define VIP4 "10.0.0.100"
#define UDP_PAYLOAD 100
#define UDP_FRAME (14 + 20 + 8 + UDP_PAYLOAD)

static int open_dp(struct dp *dp, __u32 flows)
{
	struct dp_opts o = { .flows = flows };
	struct xdplb_config cfg = { .mtu = FIX_MTU, .seed = FIX_SEED };
	int err = dp_open(dp, &o);

	return err ? err : dp_config_set(dp, &cfg);
}

/* n packets of one UDP flow from sport to VIP4:53; returns how many were sent (XDP_TX). */
static int send_udp(struct dp *dp, const char *src, __u16 sport, int n)
{
	struct pkt_spec s = { .family = 4, .src = src, .dst = VIP4, .proto = IPPROTO_UDP,
			      .sport = sport, .dport = 53, .payload = UDP_PAYLOAD };
	__u8 in[PKT_MAX], out[PKT_MAX];
	size_t len = pkt_build(&s, in), out_len;
	int i, tx = 0;

	for (i = 0; i < n; i++)
		tx += fix_run(dp, in, len, out, &out_len) == XDP_TX;
	return tx;
}

/* One id of a per-CPU counter map, by a plain lookup: what the batched
 * read must agree with. */
static struct xdplb_counters lookup_one(struct dp *dp, enum dp_counter_map m, __u32 id)
{
	struct xdplb_counters sum = { 0 }, *v;
	int ncpu = libbpf_num_possible_cpus(), i;

	v = calloc(ncpu > 0 ? (size_t)ncpu : 1, sizeof(*v));
	if (v && ncpu > 0 && !bpf_map_lookup_elem(dp_counter_map_fd(dp, m), &id, v))
		for (i = 0; i < ncpu; i++) {
			sum.packets += v[i].packets;
			sum.bytes += v[i].bytes;
			sum.new_flows += v[i].new_flows;
		}
	free(v);
	return sum;
}

/* A whole listing (counters_flows_step until done); its steps, or -errno. */
static int list_flows(struct counters *c, struct counters_flows *fl, size_t keep, bool has_only,
		      __u32 only)
{
	int ret, steps = 0;

	counters_flows_init(fl, keep, has_only, only);
	while ((ret = counters_flows_step(c, fl)) > 0)
		steps++;
	return ret < 0 ? ret : steps;
}

TEST(metrics_datapath_reads)
{
	const __u32 vip_id = 3, be_id = 5000; /* an id past the first batch of 4096 */
	/* the model lbd would have: VIP 3 with backend 5000 */
	struct xdplb_backend b = { .id = be_id };
	struct xdplb_vip v = { .id = vip_id, .n_backends = 1, .backends = &b };
	struct xdplb_model m = { .vips = &v, .n_vips = 1 };
	struct xdplb_counters one, vc;
	const int K = 5000; /* flows: more than one batch of DP_FLOW_BATCH */
	struct counters_flows fl = { 0 };
	struct counters c = { 0 };
	__u64 entries[DP_FLOW_TABLES];
	double at, seconds;
	int i, tx = 0, steps;
	size_t k;
	bool sorted = true;
	struct dp dp;

	if (!ASSERT_OK(open_dp(&dp, 65536), "open"))
		return;
	if (!ASSERT_OK(counters_init(&c, &dp, &m, NULL), "counters_init"))
		goto out;
	if (!ASSERT_OK(fix_vip(&dp, 4, VIP4, 53, IPPROTO_UDP, XDPLB_METHOD_L2, vip_id, 0) ||
			       fix_backend(&dp, be_id, vip_id, 4, "10.0.1.1", MAC_BE[0], true) ||
			       fix_ring(&dp, 2 * vip_id, &be_id, 1),
		       "setup"))
		goto out;
	/* K flows of 2 packets each: learned half-open, promoted to established */
	for (i = 0; i < K; i++)
		tx += send_udp(&dp, "192.0.2.7", (__u16)(10000 + i), 2);
	ASSERT_EQ(tx, 2 * K, "all forwarded");
	if (test__start_subtest("counters_batched")) {
		ASSERT_OK(counters_read(&c), "read");
		one = counters_total(&c, COUNTERS_BACKENDS, be_id);
		ASSERT_EQ(one.packets, 2 * K, "backend packets");
		ASSERT_EQ(one.bytes, 2ull * K * UDP_FRAME, "backend bytes");
		ASSERT_EQ(one.new_flows, K, "backend new flows");
		ASSERT_EQ(one.packets, lookup_one(&dp, DP_COUNTER_BACKENDS, be_id).packets,
			  "same as a single lookup");
		ASSERT_EQ(counters_total(&c, COUNTERS_BACKENDS, be_id - 1).packets, 0,
			  "other ids untouched");
		ASSERT_EQ(lookup_one(&dp, DP_COUNTER_RETIRED, vip_id).packets, 0,
			  "retired counts: only removed backends' (none yet)");
		vc = counters_total(&c, COUNTERS_VIPS, vip_id);
		ASSERT_EQ(vc.packets, 2 * K, "vip packets");
		ASSERT_EQ(vc.new_flows, K, "vip new flows");
		b.id = XDPLB_MAX_BACKENDS;
		ASSERT_EQ(counters_read(&c), -EINVAL, "a backend id past the map: refused");
		b.id = be_id;
		v.id = XDPLB_MAX_VIPS;
		ASSERT_EQ(counters_read(&c), -EINVAL, "a VIP id past the map: refused");
		v.id = vip_id;
	}
	if (test__start_subtest("flow_listing")) {
		steps = list_flows(&c, &fl, 0, false, 0);
		ASSERT_GE(steps, 2, "in more than one step");
		ASSERT_EQ(fl.total[DP_FLOWS_ESTABLISHED], K, "established flows");
		ASSERT_EQ(fl.total[DP_FLOWS_HALF_OPEN], 0,
			  "no half-open copies (promotion deletes them)");
		ASSERT_EQ(fl.n, K, "every flow listed");
		for (k = 1; k < fl.n; k++)
			sorted = sorted && fl.rows[k - 1].v.bytes >= fl.rows[k].v.bytes;
		ASSERT_TRUE(sorted, "busiest first");
		counters_flows_free(&fl);
		ASSERT_GE(list_flows(&c, &fl, 10, true, vip_id), 0, "top 10 of the VIP");
		ASSERT_EQ(fl.n, 10, "10 kept");
		ASSERT_EQ(fl.total[DP_FLOWS_ESTABLISHED], K, "all counted");
		counters_flows_free(&fl);
		ASSERT_GE(list_flows(&c, &fl, 0, true, vip_id + 1), 0, "another VIP");
		ASSERT_EQ(fl.n + fl.total[DP_FLOWS_ESTABLISHED], 0, "none of its flows");
		counters_flows_free(&fl);
	}
	if (test__start_subtest("flow_count")) {
		/* the background count, stepped as its timer steps it */
		ASSERT_FALSE(counters_flow_count(&c, entries, &at, &seconds), "none before");
		for (steps = 0; steps < 100000 && !counters_flow_count(&c, entries, &at, &seconds);
		     steps++)
			counters_count_step(&c);
		ASSERT_EQ(entries[DP_FLOWS_ESTABLISHED], K, "established entries");
		ASSERT_EQ(entries[DP_FLOWS_HALF_OPEN], 0, "half-open entries");
		ASSERT_GE(steps, 2, "more than one step");
		/* per family: IPv4 + IPv6 */
		ASSERT_EQ(counters_flow_capacity(&c, DP_FLOWS_ESTABLISHED), 2 * 65536, "capacity");
		ASSERT_EQ(counters_flow_capacity(&c, DP_FLOWS_HALF_OPEN), 2 * 16384,
			  "half-open capacity");
	}
out:
	counters_free(&c);
	dp_close(&dp);
}

/* ---- lbd's page, stats, top and flows ---- */

static int ask(struct lbd *d, const char *line, struct strbuf *out)
{
	char buf[256];

	sb_reset(out);
	snprintf(buf, sizeof(buf), "%s", line);
	return lbd_handle(d, buf, strlen(buf), out);
}

/* A sample line "name{labels} value" of the page; NULL if absent. */
static const char *sample(struct strbuf *page, const char *series)
{
	static char line[512];
	const char *p = sb_str(page);
	size_t n = strlen(series);

	for (; (p = strstr(p, series)); p += n)
		if ((p == page->buf || p[-1] == '\n') && p[n] == ' ') {
			snprintf(line, sizeof(line), "%.*s", (int)strcspn(p, "\n"), p);
			return line;
		}
	return NULL;
}

/* Every sample's family was announced by # TYPE just before its group,
 * counters end in _total, and no series appears twice. */
static bool page_well_formed(struct strbuf *page, int *n_samples)
{
	char *copy = strdup(sb_str(page)), *save = NULL, *line, fam[128] = "", type[16] = "";
	struct strbuf seen;
	bool ok = copy != NULL;

	sb_init(&seen, 0);
	*n_samples = 0;
	for (line = ok ? strtok_r(copy, "\n", &save) : NULL; line && ok;
	     line = strtok_r(NULL, "\n", &save)) {
		size_t nl = strcspn(line, "{ ");
		char key[600];

		if (!strncmp(line, "# TYPE ", 7)) {
			ok = sscanf(line + 7, "%127s %15s", fam, type) == 2 &&
			     (strcmp(type, "counter") || strlen(fam) > 6) &&
			     (strcmp(type, "counter") || !strcmp(fam + strlen(fam) - 6, "_total"));
			continue;
		}
		if (line[0] == '#')
			continue;
		ok = strlen(fam) == nl && !strncmp(line, fam, nl) && strrchr(line, ' ');
		if (!ok)
			break;
		snprintf(key, sizeof(key), "\n%.*s\n", (int)(strrchr(line, ' ') - line), line);
		if (strstr(sb_str(&seen), key))
			ok = false;
		sb_append(&seen, key, strlen(key) - 1);
		(*n_samples)++;
		if (!ok)
			fprintf(stderr, "bad sample line: %s (family %s)\n", line, fam);
	}
	sb_free(&seen);
	free(copy);
	return ok;
}

static int setup_lbd(struct lbd *d)
{
	struct sync_env env = { .dp = &d->dp, .model = &d->model };
	const struct xdplb_vip *v;
	char err[256];
	__u32 i, ids[2];

	memset(d, 0, sizeof(*d));
	model_init(&d->model);
	d->loop = env.loop = loop_new();
	if (!d->loop || !(d->sync = sync_open(&env)) ||
	    counters_init(&d->counters, &d->dp, &d->model, NULL) || open_dp(&d->dp, 4096))
		return -1;
	if (fix_apply(&d->model, "vip add 10.0.0.100:53/udp") ||
	    fix_apply(&d->model, "vip add [2001:db8::1]:443/tcp") ||
	    fix_apply(&d->model, "backend add 10.0.0.100:53/udp 10.0.1.1") ||
	    fix_apply(&d->model, "backend add 10.0.0.100:53/udp 10.0.1.2 weight 0") ||
	    fix_apply(&d->model, "backend add [2001:db8::1]:443/tcp 2001:db8::11"))
		return -1;
	/* the datapath of the model's first VIP, by its ids, as an earlier lbd
	 * left it (backends active), adopted and synced as lbd does on start:
	 * its ring is rebuilt of the backend of weight 1; the other VIP's
	 * backend does not resolve (no neighbour module), its ring is empty */
	v = &d->model.vips[0];
	for (i = 0; i < 2; i++)
		ids[i] = v->backends[i].id;
	if (fix_vip(&d->dp, 4, VIP4, 53, IPPROTO_UDP, XDPLB_METHOD_L2, v->id, 0) ||
	    fix_backend(&d->dp, ids[0], v->id, 4, "10.0.1.1", MAC_BE[0], true) ||
	    fix_backend(&d->dp, ids[1], v->id, 4, "10.0.1.2", MAC_BE[1], true) ||
	    fix_ring(&d->dp, 2 * v->id, ids, 1) || adopt_ids(&d->dp, &d->model, d->sync))
		return -1;
	if (sync_run(d->sync, err, sizeof(err))) {
		fprintf(stderr, "sync: %s\n", err);
		return -1;
	}
	return 0;
}

static void teardown_lbd(struct lbd *d)
{
	sync_close(d->sync);
	if (d->loop)
		loop_free(d->loop);
	counters_free(&d->counters);
	if (d->dp.skel)
		dp_close(&d->dp);
	model_free(&d->model);
}

/* fp: the fingerprint of the first VIP's ring, as sync has it */
static void check_page(struct strbuf *page, const char *fp)
{
	const char *vip = "{vip=\"10.0.0.100:53/udp\"}";
	const char *be = "{vip=\"10.0.0.100:53/udp\",backend=\"10.0.1.1\"}";
	const char *drained = "{vip=\"10.0.0.100:53/udp\",backend=\"10.0.1.2\"}";
	char series[256], exp[300];
	int n = 0, stats = 0;
	const char *p;

#define EXPECT(name, labels, value)                                                      \
	do {                                                                             \
		snprintf(series, sizeof(series), "%s%s", name, labels);                  \
		snprintf(exp, sizeof(exp), "%s %s", series, value);                      \
		ASSERT_STREQ(sample(page, series), exp, series);                         \
	} while (0)
	EXPECT("xdplb_vip_packets_total", vip, "30");
	EXPECT("xdplb_vip_bytes_total", vip, "4260"); /* 30 * 142 */
	EXPECT("xdplb_vip_new_flows_total", vip, "3");
	EXPECT("xdplb_vip_ring_rebuilds_total", vip, "1"); /* its ring, once */
	EXPECT("xdplb_vip_backends", vip, "2");
	EXPECT("xdplb_vip_unique_clients", vip, "1"); /* one client address */
	EXPECT("xdplb_vip_unique_clients", "{vip=\"[2001:db8::1]:443/tcp\"}", "0");
	EXPECT("xdplb_vip_packets_total", "{vip=\"[2001:db8::1]:443/tcp\"}", "0");
	EXPECT("xdplb_backend_packets_total", be, "30");
	EXPECT("xdplb_backend_bytes_total", be, "4260");
	EXPECT("xdplb_backend_new_flows_total", be, "3");
	EXPECT("xdplb_backend_up", be, "1");
	EXPECT("xdplb_backend_healthy", be, "1");
	EXPECT("xdplb_backend_weight", be, "1");
	EXPECT("xdplb_backend_weight", drained, "0");
	EXPECT("xdplb_backend_up", "{vip=\"[2001:db8::1]:443/tcp\",backend=\"2001:db8::11\"}", "0");
	EXPECT("xdplb_packets_total", "{action=\"tx\"}", "30");
	EXPECT("xdplb_drops_total", "{reason=\"no_backend\"}", "0");
	EXPECT("xdplb_flow_table_misses_total", "{packet=\"syn\"}", "3");
	EXPECT("xdplb_flow_table_misses_total", "{packet=\"nonsyn\"}", "0");
	EXPECT("xdplb_flow_table_capacity", "{table=\"established\"}", "8192");
	EXPECT("xdplb_ring_rebuilds_total", "", "2"); /* with the other VIP's empty one */
	EXPECT("xdplb_control_operations_total", "{command=\"stats\",result=\"ok\"}", "1");
	EXPECT("xdplb_control_operations_total", "{command=\"vip show\",result=\"error\"}", "1");
	EXPECT("xdplb_control_operations_total", "{command=\"invalid\",result=\"error\"}", "1");
	EXPECT("xdplb_vips", "", "2");
	EXPECT("xdplb_vip_serving", vip, "1");
	EXPECT("xdplb_vip_serving", "{vip=\"[2001:db8::1]:443/tcp\"}", "0");
	ASSERT_EQ(strlen(fp), 12, "a ring's fingerprint: 12 hex digits");
	snprintf(series, sizeof(series), "xdplb_vip_ring_info{vip=\"10.0.0.100:53/udp\",fingerprint=\"%s\"}", fp);
	snprintf(exp, sizeof(exp), "%s 1", series);
	ASSERT_STREQ(sample(page, series), exp, series);
	EXPECT("xdplb_vip_ring_info", "{vip=\"[2001:db8::1]:443/tcp\",fingerprint=\"-\"}", "1");
	ASSERT_TRUE(!strstr(page->buf, "xdplb_address_announced"), "no --announce-table: not shown");
	EXPECT("xdplb_node_drained", "", "0");
	EXPECT("xdplb_backends", "", "3");
#undef EXPECT
	ASSERT_TRUE(strstr(sb_str(page), "\nxdplb_build_info{version=\"") != NULL, "build info");
	ASSERT_TRUE(page_well_formed(page, &n), "well formed");
	ASSERT_GT(n, 60, "samples");
	/* every global counter of the datapath appears once */
	for (p = sb_str(page); (p = strstr(p, "\nxdplb_")); p++) {
		static const char *const fams[] = {
			"packets_total{", "drops_total{", "passes_total{", "flow_table_misses_total{",
			"flow_table_events_total{", "icmp_total{", "datapath_events_total{" };
		size_t f;

		for (f = 0; f < sizeof(fams) / sizeof(fams[0]); f++)
			stats += !strncmp(p + 7, fams[f], strlen(fams[f]));
	}
	ASSERT_EQ(stats, XDPLB_STAT_MAX, "one sample per datapath counter");
	/* the entries gauge is there once a count finished */
	ASSERT_TRUE(sample(page, "xdplb_flow_table_entries{table=\"established\"}") == NULL,
		    "no entries before the first count");
}

TEST(metrics_lbd)
{
	static struct lbd d;
	struct strbuf page, out;
	const char *js;
	int i;

	sb_init(&page, 0);
	sb_init(&out, 0);
	if (!ASSERT_OK(setup_lbd(&d), "setup"))
		goto out;
	/* a sample, 3 flows of 5, 10 and 15 packets, a sample 500 ms later */
	ASSERT_OK(counters_sample(&d.counters, 10000), "first sample");
	for (i = 1; i <= 3; i++)
		ASSERT_EQ(send_udp(&d.dp, "192.0.2.7", (__u16)(20000 + i), 5 * i), 5 * i, "sent");
	ASSERT_OK(counters_sample(&d.counters, 10500), "second sample");
	ASSERT_OK(ask(&d, "-j stats", &out), "stats");
	ASSERT_ERR(ask(&d, "vip show 10.9.9.9:1/tcp", &out), "vip show of nothing");
	ASSERT_ERR(ask(&d, "bogus", &out), "a line naming no command");
	if (test__start_subtest("count_start_kept")) {
		/* a count 5 s in, between the IPv4 and IPv6 established maps
		 * (the walk's cursor state is fresh there): the count's start
		 * stays where it was */
		int k;

		if (ASSERT_OK(counters_start(&d.counters, d.loop), "counters_start")) {
			struct counters *c = &d.counters;

			memset(&c->walk, 0, sizeof(c->walk));
			c->walk.table = DP_FLOWS_ESTABLISHED;
			c->walk.family = 1;
			c->counting = true;
			c->counted = false;
			c->count_started_ms = loop_now_ms() - 5000;
			for (k = 0; k < 100 && !c->counted; k++)
				c->count_timer.cb(&c->count_timer);
			ASSERT_TRUE(c->counted, "the count ended");
			ASSERT_GE(c->count_seconds, 4.9, "its duration counts from its start");
			counters_stop(c);
		}
		/* the next subtests see lbd before its first count */
		d.counters.counted = d.counters.counting = false;
		memset(d.counters.entries, 0, sizeof(d.counters.entries));
		memset(&d.counters.walk, 0, sizeof(d.counters.walk));
	}
	if (test__start_subtest("page")) {
		char fp[24];

		ASSERT_OK(metrics_render(&d, &page), "render");
		check_page(&page, sync_fingerprint(d.sync, d.model.vips[0].id, fp, sizeof(fp)));
	}
	if (test__start_subtest("stats_json_rates")) {
		ASSERT_OK(ask(&d, "-j stats 10.0.0.100:53/udp", &out), "stats");
		js = sb_str(&out);
		/* 30 packets of 142 bytes in 0.5 s: 60 pps, 68160 bit/s */
		ASSERT_TRUE(strstr(js, "{\"vip\":\"10.0.0.100:53/udp\",\"serving\":true,"
				       "\"announced\":false,\"packets\":30,\"bytes\":4260,"
				       "\"new_flows\":3,\"pps\":60.0,\"bps\":68160.0,"
				       "\"unique_clients\":1,") != NULL, "vip row: one client address");
		ASSERT_TRUE(strstr(js, "{\"backend\":\"10.0.1.1\",\"state\":\"up\",\"healthy\":true,"
				       "\"weight\":1,\"packets\":30,") != NULL, "backend row");
		ASSERT_TRUE(strstr(js, "\"state\":\"draining\"") != NULL, "weight 0 drains");
		ASSERT_TRUE(strchr(js, '\n') == js + out.len - 1, "one line");
	}
	if (test__start_subtest("stats_text")) {
		ASSERT_OK(ask(&d, "stats", &out), "stats");
		js = sb_str(&out);
		ASSERT_TRUE(strstr(js, "VIP / BACKEND") == js, "header first");
		ASSERT_TRUE(strstr(js, "  10.0.1.1 ") != NULL, "backend indented");
		ASSERT_TRUE(strstr(js, " 60 ") != NULL && strstr(js, "68.2k") != NULL, "rates");
		ASSERT_TRUE(strstr(js, "\nglobal: ") != NULL, "global line");
	}
	if (test__start_subtest("top_sorted_by_rate")) {
		ASSERT_OK(ask(&d, "-j top", &out), "top");
		js = sb_str(&out);
		ASSERT_TRUE(strstr(js, "\"vips\":[{\"vip\":\"10.0.0.100:53/udp\"") != NULL,
			    "busiest VIP first");
		ASSERT_TRUE(strstr(js, "\"backends\":[{\"backend\":\"10.0.1.1\"") != NULL,
			    "busiest backend first");
		ASSERT_ERR(ask(&d, "top 10.9.9.9:1/tcp", &out), "top of an unknown VIP");
		ASSERT_STREQ(sb_str(&out), "no VIP 10.9.9.9:1/tcp", "message");
	}
	if (test__start_subtest("flows_top_n")) {
		ASSERT_OK(ask(&d, "-j flows top 2", &out), "flows");
		js = sb_str(&out);
		ASSERT_TRUE(strstr(js, "{\"total\":3,\"established\":3,\"half_open\":0,") == js,
			    "totals");
		ASSERT_TRUE(strstr(js, "\"port\":20003,") && strstr(js, "\"port\":20002,") &&
				    !strstr(js, "\"port\":20001,"),
			    "the two busiest");
		ASSERT_TRUE(strstr(js, "\"port\":20003,") < strstr(js, "\"port\":20002,"),
			    "by bytes, busiest first");
		ASSERT_TRUE(strstr(js, "\"backend\":\"10.0.1.1\",\"table\":\"established\","
				       "\"origin\":\"learned\",\"packets\":15,\"bytes\":2130,") != NULL,
			    "busiest row");
		ASSERT_OK(ask(&d, "flows", &out), "text");
		ASSERT_TRUE(strstr(sb_str(&out), " 20001 ") != NULL, "all without top");
	}
	if (test__start_subtest("sync_be_drop_retried")) {
		/* a removed backend whose map write fails stays known, and the
		 * next sync writes its entry inactive */
		struct xdplb_backend_info bi;
		char err[256];
		__u32 id = d.model.vips[0].backends[1].id;
		int bfd = bpf_map__fd(d.dp.skel->maps.backends), saved = dup(bfd),
		    nul = open("/dev/null", O_RDONLY | O_CLOEXEC);

		if (ASSERT_GE(saved, 0, "dup") && ASSERT_GE(nul, 0, "open") &&
		    ASSERT_OK(sync_run(d.sync, err, sizeof(err)), "sync") &&
		    ASSERT_OK(fix_apply(&d.model, "backend del 10.0.0.100:53/udp 10.0.1.2"), "del") &&
		    ASSERT_EQ(dup2(nul, bfd), bfd, "break the backends map")) {
			ASSERT_ERR(sync_run(d.sync, err, sizeof(err)), "sync with the map broken");
			dup2(saved, bfd);
			ASSERT_TRUE(sync_backend(d.sync, id).known, "the backend is still known");
			ASSERT_OK(sync_run(d.sync, err, sizeof(err)), "sync again");
			ASSERT_FALSE(sync_backend(d.sync, id).known, "now forgotten");
			ASSERT_OK(dp_backend_get(&d.dp, id, &bi), "entry");
			ASSERT_EQ(bi.flags & XDPLB_BE_F_ACTIVE, 0, "entry inactive");
		}
		if (saved >= 0)
			close(saved);
		if (nul >= 0)
			close(nul);
	}
out:
	teardown_lbd(&d);
	sb_free(&page);
	sb_free(&out);
}
