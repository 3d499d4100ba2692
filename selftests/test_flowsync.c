// SPDX-License-Identifier: GPL-2.0
/* test_flowsync.c - flow sync's wire format (userspace/flowsync.c): what a
 * node accepts and refuses before any flow is applied, the MAC, the peer
 * endpoint syntax.  The exchange between nodes is test_flowsync.sh's. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sodium.h>

#include "test_progs.h"
#include "flowsync.h"

static size_t msg_build(__u8 *buf, __u8 type, unsigned int n, const __u8 key[32])
{
	struct fs_header *h = (void *)buf;
	struct fs_entry *e = (void *)(h + 1);
	size_t len = sizeof(*h) + n * sizeof(*e);
	unsigned int i;

	memset(buf, 0, FS_MSG_MAX);
	h->magic = htonl(FS_MAGIC);
	h->version = FS_VERSION;
	h->type = type;
	h->count = htons((__u16)n);
	for (i = 0; i < n; i++) {
		e[i].family = XDPLB_AF_INET;
		e[i].be_family = XDPLB_AF_INET;
		e[i].proto = IPPROTO_TCP;
		e[i].src.v4 = htonl(0xc0000201 + i);
		e[i].dst.v4 = htonl(0x0a630164);
		e[i].sport = htons((__u16)(40000 + i));
		e[i].dport = htons(80);
		e[i].backend.v4 = htonl(0x0a63280b);
	}
	fs_seal(buf, len, key);
	return len + FS_MAC_BYTES;
}

TEST(flowsync_format)
{
	__u8 key[32], other[32], buf[FS_MSG_MAX + 64];
	struct fs_header *h = (void *)buf;
	size_t len;

	if (!ASSERT_GE(sodium_init(), 0, "sodium"))
		return;
	fs_key_derive("a shared secret of the nodes", 28, key);
	fs_key_derive("a shared secret of the nodez", 28, other);
	ASSERT_TRUE(memcmp(key, other, 32), "keys differ with the secret");

	test__start_subtest("well_formed");
	len = msg_build(buf, FS_FLOWS, FS_ENTRIES_MAX, key);
	ASSERT_EQ(len, FS_MSG_MAX, "a full message is FS_MSG_MAX bytes");
	ASSERT_TRUE(fs_check_format(buf, len) == NULL, "full FLOWS message");
	ASSERT_TRUE(fs_verify(buf, len, key), "MAC verifies");
	len = msg_build(buf, FS_HELLO, 0, key);
	ASSERT_TRUE(fs_check_format(buf, len) == NULL, "empty hello");

	test__start_subtest("mac");
	len = msg_build(buf, FS_TABLE, 3, key);
	ASSERT_FALSE(fs_verify(buf, len, other), "another key");
	buf[sizeof(*h) + 5] ^= 1;
	ASSERT_FALSE(fs_verify(buf, len, key), "one bit of an entry changed");
	buf[sizeof(*h) + 5] ^= 1;
	h->seq ^= 1; /* a replayed message with a new sequence number */
	ASSERT_FALSE(fs_verify(buf, len, key), "the header is covered");
	h->seq ^= 1;
	buf[len - 1] ^= 0x80;
	ASSERT_FALSE(fs_verify(buf, len, key), "MAC changed");
	ASSERT_FALSE(fs_verify(buf, 10, key), "shorter than a MAC");

	test__start_subtest("refused");
	len = msg_build(buf, FS_FLOWS, 2, key);
	ASSERT_TRUE(fs_check_format(buf, len - 1) != NULL, "one byte short");
	ASSERT_TRUE(fs_check_format(buf, len + 1) != NULL, "one byte long");
	ASSERT_TRUE(fs_check_format(buf, sizeof(*h)) != NULL, "no room for the MAC");
	ASSERT_TRUE(fs_check_format(buf, 0) != NULL, "empty");
	ASSERT_TRUE(fs_check_format(buf, FS_MSG_MAX + 1) != NULL, "too long");
	h->count = htons(FS_ENTRIES_MAX + 1);
	ASSERT_TRUE(fs_check_format(buf, sizeof(*h) + (FS_ENTRIES_MAX + 1) * sizeof(struct fs_entry) +
					   FS_MAC_BYTES) != NULL, "more entries than allowed");
	h->count = htons(2);
	h->magic ^= 1;
	ASSERT_TRUE(fs_check_format(buf, len) != NULL, "magic");
	h->magic ^= 1;
	h->version = FS_VERSION + 1;
	ASSERT_TRUE(fs_check_format(buf, len) != NULL, "version");
	h->version = FS_VERSION;
	h->type = 0;
	ASSERT_TRUE(fs_check_format(buf, len) != NULL, "type 0");
	h->type = FS_TABLE_END + 1;
	ASSERT_TRUE(fs_check_format(buf, len) != NULL, "unknown type");
	h->type = FS_HELLO;
	ASSERT_TRUE(fs_check_format(buf, len) != NULL, "a hello with entries");
	h->type = FS_FLOWS;
	ASSERT_TRUE(fs_check_format(buf, len) == NULL, "restored");
}

TEST(flowsync_entry)
{
	struct fs_entry e = { .family = XDPLB_AF_INET, .be_family = XDPLB_AF_INET6,
			      .proto = IPPROTO_UDP, .dport = htons(53) };

	e.dst.v4 = htonl(0x0a630164);
	inet_pton(AF_INET6, "fd99:40::11", &e.backend);
	ASSERT_TRUE(fs_entry_ok(&e), "IPv4 VIP, IPv6 backend (ipip 4in6)");
	e.proto = IPPROTO_ICMP;
	ASSERT_FALSE(fs_entry_ok(&e), "ICMP is not a flow");
	e.proto = IPPROTO_TCP;
	e.family = 5;
	ASSERT_FALSE(fs_entry_ok(&e), "unknown family");
	e.family = XDPLB_AF_INET;
	e.be_family = 0;
	ASSERT_FALSE(fs_entry_ok(&e), "unknown backend family");
	e.be_family = XDPLB_AF_INET6;
	e.dport = 0;
	ASSERT_FALSE(fs_entry_ok(&e), "port 0");
	e.dport = htons(80);
	memset(&e.backend, 0, sizeof(e.backend));
	ASSERT_FALSE(fs_entry_ok(&e), "backend ::");
	inet_pton(AF_INET6, "fd99:40::11", &e.backend);
	e.dst.v4 = 0;
	ASSERT_FALSE(fs_entry_ok(&e), "VIP 0.0.0.0");
}

TEST(flowsync_endpoint)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *s4 = (void *)&ss;
	struct sockaddr_in6 *s6 = (void *)&ss;
	char err[256];

	ASSERT_OK(fs_parse_endpoint("10.99.40.2", false, &ss, err, sizeof(err)), "IPv4");
	ASSERT_EQ(ss.ss_family, AF_INET, "family");
	ASSERT_EQ(ntohs(s4->sin_port), FS_PORT, "default port");
	ASSERT_OK(fs_parse_endpoint("10.99.40.2:7000", false, &ss, err, sizeof(err)), "IPv4:port");
	ASSERT_EQ(ntohs(s4->sin_port), 7000, "port");
	ASSERT_OK(fs_parse_endpoint("fd99:40::2", false, &ss, err, sizeof(err)), "IPv6");
	ASSERT_EQ(ss.ss_family, AF_INET6, "family 6");
	ASSERT_EQ(ntohs(s6->sin6_port), FS_PORT, "default port 6");
	ASSERT_OK(fs_parse_endpoint("[fd99:40::2]:7001", false, &ss, err, sizeof(err)), "[IPv6]:port");
	ASSERT_EQ(ntohs(s6->sin6_port), 7001, "port 6");
	ASSERT_OK(fs_parse_endpoint("[::]", true, &ss, err, sizeof(err)), "[IPv6]");
	ASSERT_ERR(fs_parse_endpoint("10.99.40.2:0", false, &ss, err, sizeof(err)), "port 0");
	ASSERT_ERR(fs_parse_endpoint("10.99.40.2:65536", false, &ss, err, sizeof(err)), "port 65536");
	ASSERT_ERR(fs_parse_endpoint("10.99.40.2:", false, &ss, err, sizeof(err)), "empty port");
	ASSERT_ERR(fs_parse_endpoint("[fd99::2", false, &ss, err, sizeof(err)), "no ]");
	ASSERT_ERR(fs_parse_endpoint("[fd99::2]x", false, &ss, err, sizeof(err)), "junk after ]");
	ASSERT_ERR(fs_parse_endpoint("node1", false, &ss, err, sizeof(err)), "a name");
	ASSERT_TRUE(strstr(err, "node1") != NULL, "the error names the input");
	ASSERT_ERR(fs_parse_endpoint("", false, &ss, err, sizeof(err)), "empty");
	ASSERT_ERR(fs_parse_endpoint("0.0.0.0", false, &ss, err, sizeof(err)), "a peer 0.0.0.0");
	ASSERT_ERR(fs_parse_endpoint("[ff02::1]:6078", true, &ss, err, sizeof(err)), "multicast");
	ASSERT_OK(fs_parse_endpoint("0.0.0.0:7000", true, &ss, err, sizeof(err)), "listen on any");
}
