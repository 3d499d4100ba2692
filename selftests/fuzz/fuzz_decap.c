// SPDX-License-Identifier: GPL-2.0
/* fuzz_decap.c - libFuzzer harness for lbdecap (bpf/lbdecap.bpf.c), the
 * backends' TC decapsulator: the input is one Ethernet frame, run through
 * the loaded program with BPF_PROG_TEST_RUN (SCHED_CLS) against two VIPs
 * (10.0.0.100, fd00::100) and the default gue port.  Needs root.
 *
 * An independent reference parser (expect() below) says what the frame is:
 * a well-formed encapsulation of a packet for a VIP (ipip 4in4, 6in6, 4in6,
 * 6in4, gue over IPv4 or IPv6, as the header's comment defines them), an
 * encapsulation for a VIP whose inner lengths do not fit, or anything else.
 * Invariants, checked on every input (abort() on violation):
 *   - the verdict is TC_ACT_OK or TC_ACT_SHOT, and exactly one counter went
 *     up, by one; SHOT exactly when that counter is a drop reason;
 *   - a decapsulated frame is exactly the input's Ethernet addresses, the
 *     inner family's type, and the input from its inner IP header on (the
 *     inner packet and any Ethernet padding), counted as the kind the
 *     reference names; the reference and the program agree on which frames
 *     decapsulate;
 *   - a frame passed is the input byte for byte, and no frame the reference
 *     calls decapsulable is passed or dropped;
 *   - a drop is an encapsulation for a VIP with inconsistent inner lengths.
 * An outer IPv4 checksum field of zero is filled in first (fix_csum). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/pkt_cls.h>

#include "xdplb_decap.h"
#include "lbdecap.skel.h"
#include "pkt.h"
#include "fuzz.h"

#define CHECK FUZZ_CHECK

#define FRAME_MAX 4096
#define GUE_PORT XDPLB_GUE_PORT

/* The VIPs; the host MAC is the loopback device's, all zero. */
static const __u8 VIP4[4] = { 10, 0, 0, 100 };
static const __u8 VIP6[16] = { 0xfd, [14] = 0x01 }; /* fd00::100 */

static struct lbdecap_bpf *skel;
static int prog_fd, stats_fd, ncpu;
static struct lbdecap_stats last;

/* The BPF program's branches are invisible to libFuzzer's coverage: the
 * counter that moved is fed back as an extra feature. */
static uint8_t feedback[LBDECAP_STAT_MAX] __attribute__((section("__libfuzzer_extra_counters"),
							 used));

static int stats_read(struct lbdecap_stats *sum)
{
	struct lbdecap_stats *per = calloc((size_t)ncpu, sizeof(*per));
	__u32 zero = 0;
	int c, i, err;

	memset(sum, 0, sizeof(*sum));
	if (!per)
		return -1;
	err = bpf_map_lookup_elem(stats_fd, &zero, per);
	for (c = 0; c < ncpu && !err; c++)
		for (i = 0; i < LBDECAP_STAT_MAX; i++)
			sum->v[i] += per[c].v[i];
	free(per);
	return err;
}

static int vip_add(int fd, int family, const __u8 *addr)
{
	struct lbdecap_vip_key k;
	__u32 val = 0;

	memset(&k, 0, sizeof(k));
	memcpy(&k.addr, addr, family == XDPLB_AF_INET ? 4 : 16);
	k.family = (__u8)family;
	return bpf_map_update_elem(fd, &k, &val, BPF_NOEXIST);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct lbdecap_config cfg = { .gue_port = htons(GUE_PORT) };
	__u32 zero = 0;
	int err, vips;

	(void)argc;
	(void)argv;
	skel = lbdecap_bpf__open_and_load();
	if (!skel) {
		fprintf(stderr, "fuzz_decap: cannot load lbdecap (root needed)\n");
		exit(1);
	}
	prog_fd = bpf_program__fd(skel->progs.lbdecap);
	stats_fd = bpf_map__fd(skel->maps.decap_stats);
	vips = bpf_map__fd(skel->maps.decap_vips);
	ncpu = libbpf_num_possible_cpus();
	err = ncpu <= 0;
	err = err ?: bpf_map_update_elem(bpf_map__fd(skel->maps.decap_config), &zero, &cfg, BPF_ANY);
	err = err ?: vip_add(vips, XDPLB_AF_INET, VIP4);
	err = err ?: vip_add(vips, XDPLB_AF_INET6, VIP6);
	err = err ?: stats_read(&last);
	if (err) {
		fprintf(stderr, "fuzz_decap: cannot set up lbdecap's maps\n");
		exit(1);
	}
	return 0;
}

/* ---- the reference: what a frame is, from the documented format ---- */

enum verdict {
	V_PASS,	 /* not a well-formed encapsulation for a VIP: unchanged */
	V_DROP,	 /* for a VIP, inner lengths inconsistent */
	V_DECAP, /* stat and hlen say how */
};

struct expectation {
	enum verdict v;
	int stat;    /* V_DECAP: LBDECAP_STAT_IPIP_4IN4 .. GUE_6IN4 */
	size_t hlen; /* V_DECAP: outer bytes after Ethernet */
	int inner;   /* V_DECAP: 4 or 6 */
};

static unsigned int be16(const __u8 *p)
{
	return (unsigned int)p[0] << 8 | p[1];
}

static bool ip4_csum_ok(const __u8 *ip)
{
	return pkt_csum(ip, 20, 0) == 0;
}

static struct expectation expect(const __u8 *f, size_t len)
{
	static const __u8 zero_mac[6];
	struct expectation e = { V_PASS, -1, 0, 0 };
	const __u8 *ip = f + 14, *in;
	size_t payload, ohl;
	unsigned int type, proto;
	int outer;
	bool vip, fits;

	if (len < 14 || memcmp(f, zero_mac, 6)) /* not to this host */
		return e;
	type = be16(f + 12);
	if (type == 0x0800 && len >= 14 + 20) {
		size_t tot = be16(ip + 2);

		if (ip[0] != 0x45 || tot < 20 || tot > len - 14 || !ip4_csum_ok(ip) ||
		    (be16(ip + 6) & 0x3fff))
			return e; /* options, version, length, checksum, fragments */
		outer = 4;
		ohl = 20;
		payload = tot - 20;
		proto = ip[9];
	} else if (type == 0x86dd && len >= 14 + 40) {
		payload = be16(ip + 4);
		if (ip[0] >> 4 != 6 || !payload || payload > len - 14 - 40)
			return e;
		outer = 6;
		ohl = 40;
		proto = ip[6];
	} else {
		return e;
	}
	if (proto == IPPROTO_UDP) {
		const __u8 *uh = ip + ohl;

		if (len < 14 + ohl + 8 || be16(uh + 2) != GUE_PORT || be16(uh + 4) != payload ||
		    payload < 8)
			return e;
		ohl += 8;
		payload -= 8;
		if (len < 14 + ohl + 1)
			return e;
		e.inner = ip[ohl] >> 4;
		if (e.inner != 4 && e.inner != 6)
			return e; /* GUE variant 0 */
	} else if (proto == IPPROTO_IPIP || proto == IPPROTO_IPV6) {
		e.inner = proto == IPPROTO_IPIP ? 4 : 6;
	} else {
		return e;
	}
	/* the inner header is read where it is, even past the outer payload
	 * (in Ethernet padding); the length checks catch that */
	in = ip + ohl;
	if (len < 14 + ohl + (e.inner == 4 ? 20u : 40u))
		return e;
	vip = e.inner == 4 ? !memcmp(in + 16, VIP4, 4) : !memcmp(in + 24, VIP6, 16);
	if (!vip)
		return e;
	if (e.inner == 4)
		fits = in[0] >> 4 == 4 && (in[0] & 0xf) >= 5 && be16(in + 2) == payload;
	else
		fits = in[0] >> 4 == 6 && be16(in + 4) + 40u == payload;
	e.v = fits ? V_DECAP : V_DROP;
	e.hlen = ohl;
	e.stat = (proto == IPPROTO_UDP ? LBDECAP_STAT_GUE_4IN4 : LBDECAP_STAT_IPIP_4IN4) +
		 (outer == e.inner ? (e.inner == 4 ? 0 : 1) : (e.inner == 4 ? 2 : 3));
	return e;
}

/* ---- one input ---- */

static void check_decap(const __u8 *in, size_t len, const __u8 *out, size_t out_len,
			const struct expectation *e)
{
	size_t rest = len - 14 - e->hlen;

	CHECK(out_len == 14 + rest);
	CHECK(memcmp(out, in, 12) == 0);
	CHECK(be16(out + 12) == (e->inner == 4 ? 0x0800u : 0x86ddu));
	CHECK(memcmp(out + 14, in + 14 + e->hlen, rest) == 0);
}

/* A checksum is a wall for a mutating fuzzer: an outer IPv4 header whose
 * checksum field is zero gets its correct checksum (no frame is lost: one
 * whose correct checksum is zero keeps it), so that the paths behind the
 * checksum (fragments, lengths, everything inside) are reached. */
static void fix_csum(__u8 *f, size_t len)
{
	__u16 c;

	if (len < 14 + 20 || be16(f + 12) != 0x0800 || f[24] || f[25])
		return;
	c = pkt_csum(f + 14, 20, 0);
	memcpy(f + 24, &c, 2);
}

int LLVMFuzzerTestOneInput(const uint8_t *input, size_t size)
{
	static __u8 out[FRAME_MAX + 64], data[FRAME_MAX];
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = data, .data_out = out, .repeat = 1);
	struct lbdecap_stats now;
	struct expectation e;
	int err, moved = -1, i;
	__u32 verdict;

	if (size < 14 || size > FRAME_MAX)
		return 0;
	memcpy(data, input, size);
	fix_csum(data, size);
	o.data_size_in = (__u32)size;
	o.data_size_out = sizeof(out);
	err = bpf_prog_test_run_opts(prog_fd, &o);
	/* this kernel refuses an IP frame shorter than its IP header */
	if (err == -EINVAL && size < 14 + 40)
		return 0;
	if (err) {
		fprintf(stderr, "fuzz_decap: BPF_PROG_TEST_RUN failed (%d)\n", err);
		abort();
	}
	verdict = o.retval;
	CHECK(stats_read(&now) == 0);
	for (i = 0; i < LBDECAP_STAT_MAX; i++) {
		__u64 d = now.v[i] - last.v[i];

		CHECK(d <= 1);
		if (d) {
			CHECK(moved < 0);
			moved = i;
		}
	}
	last = now;
	CHECK(moved >= 0);
	feedback[moved]++;
	CHECK(verdict == TC_ACT_OK || verdict == TC_ACT_SHOT);
	CHECK((verdict == TC_ACT_SHOT) == (moved >= LBDECAP_STAT_DROP_MALFORMED));

	e = expect(data, size);
	if (moved <= LBDECAP_STAT_GUE_6IN4) {
		CHECK(e.v == V_DECAP);
		CHECK(moved == e.stat);
		check_decap(data, size, out, o.data_size_out, &e);
	} else if (moved < LBDECAP_STAT_DROP_MALFORMED) {
		CHECK(e.v == V_PASS);
		CHECK(o.data_size_out == size && memcmp(out, data, size) == 0);
	} else {
		CHECK(moved == LBDECAP_STAT_DROP_MALFORMED && e.v == V_DROP);
	}
	return 0;
}
