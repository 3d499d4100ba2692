// SPDX-License-Identifier: GPL-2.0
/* test_entries.c - the map entries lbd writes (entries.c), which the
 * fixture builds the golden tests' datapath with too. */
#include <netinet/in.h>

#include "test_progs.h"
#include "entries.h"
#include "fixture.h"

TEST(entries)
{
	struct xdplb_model m;
	struct xdplb_vip_info vi;
	struct xdplb_backend_info be;
	struct xdplb_vip_key k;
	struct neigh_result nr = { .ifindex = 7, .mac = { 2, 0, 0, 0, 0, 0x11 },
				   .src_mac = { 2, 0, 0, 0, 0, 0x0b } };
	const struct xdplb_vip *v;
	const struct xdplb_backend *b;

	model_init(&m);
	if (!ASSERT_OK(fix_apply(&m, "vip add [fd00::1]:443/tcp method gue src hash"), "vip") ||
	    !ASSERT_OK(fix_apply(&m, "backend add [fd00::1]:443/tcp fd00:1::5"), "backend"))
		goto out;
	v = &m.vips[0];
	b = &v->backends[0];
	if (test__start_subtest("vip")) {
		memset(&vi, 0xff, sizeof(vi)); /* every byte written, pads included */
		entry_vip(v, 5, 65537, XDPLB_NO_RING, 0, &vi);
		ASSERT_EQ(vi.vip_id, v->id, "id");
		ASSERT_EQ(vi.flags, XDPLB_VIP_F_HASH_SRC, "flags");
		ASSERT_EQ(vi.method, XDPLB_METHOD_GUE, "method");
		ASSERT_EQ(vi.ring, 5, "ring");
		ASSERT_EQ(vi.ring_size, 65537, "size");
		ASSERT_EQ(vi.ring_prev, XDPLB_NO_RING, "no previous ring");
		ASSERT_EQ(vi.ring_prev_size, 0, "its size");
		ASSERT_TRUE(!vi.pad[0] && !vi.pad[1] && !vi.pad[2] && !vi.pad2, "pads zero");
	}
	if (test__start_subtest("echo")) {
		memset(&k, 0xff, sizeof(k));
		entry_echo_key(&v->key, &k);
		ASSERT_MEMEQ(&k.addr, sizeof(k.addr), &v->key.addr, sizeof(v->key.addr), "address");
		ASSERT_EQ(k.proto, IPPROTO_ICMPV6, "ICMPv6 for an IPv6 VIP");
		ASSERT_EQ(k.port, 0, "no port");
		ASSERT_EQ(k.family, XDPLB_AF_INET6, "family");
		memset(&vi, 0xff, sizeof(vi));
		entry_echo(&vi);
		ASSERT_EQ(vi.flags, XDPLB_VIP_F_ECHO, "echo flag");
		ASSERT_EQ(vi.vip_id, 0, "no VIP id: one key serves every VIP of the address");
		ASSERT_EQ(vi.ring, XDPLB_NO_RING, "no ring");
	}
	if (test__start_subtest("backend")) {
		memset(&be, 0xff, sizeof(be));
		entry_backend(v, b, true, &nr, 7, &be);
		ASSERT_MEMEQ(&be.addr, sizeof(be.addr), &b->addr, sizeof(b->addr), "address");
		ASSERT_EQ(be.vip_id, v->id, "its VIP");
		ASSERT_EQ(be.flags, XDPLB_BE_F_ACTIVE, "up, resolved, on lbd's interface");
		ASSERT_EQ(be.ifindex, 0, "no egress interface of its own");
		ASSERT_MEMEQ(be.mac, 6, nr.mac, 6, "next hop's MAC");
		ASSERT_MEMEQ(be.src_mac, 6, nr.src_mac, 6, "interface's MAC");
		ASSERT_EQ(be.method, XDPLB_METHOD_GUE, "the VIP's method");
		ASSERT_EQ(be.vip_flags, XDPLB_VIP_F_HASH_SRC, "the VIP's flags");
		ASSERT_EQ(be.family, XDPLB_AF_INET6, "family");
		entry_backend(v, b, false, &nr, 7, &be);
		ASSERT_EQ(be.flags, 0, "down: inactive");
		ASSERT_MEMEQ(be.mac, 6, nr.mac, 6, "down: MAC kept");
		entry_backend(v, b, true, NULL, 7, &be);
		ASSERT_EQ(be.flags, 0, "unresolved: inactive");
		ASSERT_EQ(be.mac[5], 0, "unresolved: no MAC");
		entry_backend(v, b, true, &nr, 3, &be);
		ASSERT_EQ(be.flags, XDPLB_BE_F_ACTIVE | XDPLB_BE_F_REDIRECT, "another interface");
		ASSERT_EQ(be.ifindex, 7, "redirected there");
	}
out:
	model_free(&m);
}
