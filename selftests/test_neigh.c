// SPDX-License-Identifier: GPL-2.0
/* test_neigh.c - neigh_resolve() and change events against a veth peer in namespaces of its own. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include "loop.h"
#include "neigh.h"
#include "test_progs.h"

/* The test process moves to a new namespace (A) holding LB_IF; a child of
 * it holds another (B) with PEER_IF.  Neither has a name, so nothing is
 * left behind whatever happens: each dies with its last process. */
#define LB_IF	"xnl0"
#define PEER_IF "xnl1"

static const __u8 lb_mac[6] = {0x02, 0x6c, 0x62, 0x00, 0x00, 0x01};
static const __u8 peer_mac[6] = {0x02, 0x6c, 0x62, 0x00, 0x00, 0x02};
static const __u8 peer_mac2[6] = {0x02, 0x6c, 0x62, 0x00, 0x00, 0x03}; /* after the change */
static const __u8 fake_mac[6] = {0x02, 0x6c, 0x62, 0x00, 0x00, 0x44};
static const __u8 zero_mac[6];

struct nctx {
	struct loop *l;
	struct neigh *n;
	int changed; /* calls of the changed() callback */
	unsigned int what; /* what they said (enum neigh_change), ORed */
	int orig_ns; /* fd of the namespace to return to */
	pid_t peer;  /* holds namespace B */
	__u32 ifindex;
};

static void on_changed(void *arg, unsigned int what)
{
	((struct nctx *)arg)->changed++;
	((struct nctx *)arg)->what |= what;
}

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;
	int ret;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	ret = system(cmd);
	if (ret)
		fprintf(stderr, "command failed (%d): %s\n", ret, cmd);
	return ret;
}

static union xdplb_addr addr_of(__u8 family, const char *s)
{
	union xdplb_addr a = {0};

	if (inet_pton(family == XDPLB_AF_INET6 ? AF_INET6 : AF_INET, s, a.bytes) != 1)
		fprintf(stderr, "bad address in test: %s\n", s);
	return a;
}

/* Fork the holder of namespace B; it dies with us (PDEATHSIG). */
static pid_t peer_spawn(void)
{
	pid_t parent = getpid(), pid;
	int p[2];
	char c;

	if (pipe2(p, O_CLOEXEC))
		return -1;
	pid = fork();
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent || unshare(CLONE_NEWNET) || write(p[1], "x", 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	close(p[1]);
	if (pid > 0 && read(p[0], &c, 1) != 1) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		pid = -1;
	}
	close(p[0]);
	return pid;
}

static int setup_links(struct nctx *c)
{
	const char *nodad = "net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0";

	/* B announces a new MAC (gratuitous ARP, unsolicited NA), as hosts do */
	if (sh("sysctl -qw %s && nsenter -t %d -n sysctl -qw %s "
	       "net.ipv4.conf.default.arp_notify=1 net.ipv6.conf.default.ndisc_notify=1",
	       nodad, c->peer, nodad))
		return -1;
	if (sh("ip link set lo up && ip link add name " LB_IF
	       " address 02:6c:62:00:00:01 type veth "
	       "peer name " PEER_IF " address 02:6c:62:00:00:02 netns %d && "
	       "ip link set " LB_IF " up && ip addr add 10.77.0.1/24 dev " LB_IF " && "
	       "ip addr add fd77::1/64 dev " LB_IF " nodad",
	       c->peer))
		return -1;
	return sh("nsenter -t %d -n sh -c 'ip link set lo up && ip link set " PEER_IF " up && "
		  "ip addr add 10.77.0.2/24 dev " PEER_IF " && "
		  "ip addr add fd77::2/64 dev " PEER_IF " nodad'",
		  c->peer);
}

static int setup(struct nctx *c)
{
	char err[256];

	c->orig_ns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (c->orig_ns < 0 || unshare(CLONE_NEWNET))
		return -errno;
	c->peer = peer_spawn();
	if (c->peer < 0 || setup_links(c))
		return -ECHILD;
	c->ifindex = if_nametoindex(LB_IF);
	c->l = loop_new();
	if (!c->l)
		return -ENOMEM;
	c->n = neigh_open(c->l, on_changed, c, err, sizeof(err));
	if (!c->n)
		fprintf(stderr, "neigh_open: %s\n", err);
	return c->n ? 0 : -EIO;
}

static void teardown(struct nctx *c)
{
	neigh_close(c->n);
	loop_free(c->l);
	if (c->peer > 0) {
		kill(c->peer, SIGKILL);
		waitpid(c->peer, NULL, 0);
	}
	if (c->orig_ns >= 0) {
		ASSERT_OK(setns(c->orig_ns, CLONE_NEWNET) ? -errno : 0,
			  "back to the first namespace");
		close(c->orig_ns);
	}
}

/* Run the loop for ms, or until changed() has run more than `seen` times. */
static void pump(struct nctx *c, int ms, int seen)
{
	__u64 end = loop_now_ms() + (__u64)ms;

	while (c->changed <= seen && loop_now_ms() < end)
		loop_once(c->l, 10);
}

/* Resolve until the answer is not -EAGAIN (and has `mac` if given),
 * resolving again after each changed(), for at most ms. */
static int resolve_wait(struct nctx *c, __u8 family, const char *addr, bool onlink, const __u8 *mac,
			struct neigh_result *res, int ms)
{
	union xdplb_addr a = addr_of(family, addr);
	__u64 end = loop_now_ms() + (__u64)ms;
	int err;

	for (;;) {
		err = neigh_resolve(c->n, family, &a, onlink, res);
		if ((err != -EAGAIN && err) || (!err && (!mac || !memcmp(res->mac, mac, 6))))
			return err;
		if (loop_now_ms() >= end)
			return err ? err : -ETIMEDOUT;
		pump(c, (int)(end - loop_now_ms()), c->changed);
	}
}

/* The kernel's view of a neighbour entry, as `ip -s neigh show` prints it. */
static bool ip_neigh(const char *addr, char *line, size_t len)
{
	char cmd[128];
	FILE *f;
	bool ok;

	snprintf(cmd, sizeof(cmd), "ip -s neigh show %s dev " LB_IF, addr);
	f = popen(cmd, "r");
	if (!f)
		return false;
	ok = fgets(line, (int)len, f) != NULL;
	pclose(f);
	return ok;
}

static void check_result(const struct neigh_result *res, const struct nctx *c, __u8 nh_family,
			 const char *nexthop, const __u8 *mac)
{
	union xdplb_addr nh = addr_of(nh_family, nexthop);

	ASSERT_MEMEQ(res->mac, 6, mac, 6, "next hop's MAC");
	ASSERT_MEMEQ(res->src_mac, 6, lb_mac, 6, "egress MAC");
	ASSERT_EQ(res->ifindex, c->ifindex, "egress ifindex");
	ASSERT_EQ(res->nh_family, nh_family, "next hop family");
	ASSERT_MEMEQ(res->nexthop.bytes, 16, nh.bytes, 16, "next hop");
}

static void t_onlink(struct nctx *c, __u8 family, const char *addr)
{
	union xdplb_addr a = addr_of(family, addr);
	struct neigh_result res;
	int seen = c->changed;
	int err = neigh_resolve(c->n, family, &a, true, &res);

	if (err == -EAGAIN) {
		ASSERT_MEMEQ(res.mac, 6, zero_mac, 6, "no MAC while unresolved");
		ASSERT_EQ(res.ifindex, c->ifindex, "egress known while unresolved");
		pump(c, 2000, seen);
		ASSERT_GT(c->changed, seen, "changed() told of the resolution");
	} else if (!ASSERT_OK(err, "first resolve")) {
		return;
	}
	err = resolve_wait(c, family, addr, true, NULL, &res, 2000);
	if (ASSERT_OK(err, "resolve within 2 s"))
		check_result(&res, c, family, addr, peer_mac);
}

/* The peer takes a new MAC and announces it (gratuitous ARP, unsolicited
 * NA): both entries follow, each within a second, through changed(). */
static void t_mac_change(struct nctx *c)
{
	struct neigh_result res;
	int seen = c->changed;
	__u64 t0;

	if (sh("nsenter -t %d -n ip link set " PEER_IF " address 02:6c:62:00:00:03", c->peer)) {
		test__fail();
		return;
	}
	t0 = loop_now_ms();
	pump(c, 1000, seen);
	ASSERT_GT(c->changed, seen, "changed() within 1 s");
	ASSERT_OK(resolve_wait(c, XDPLB_AF_INET, "10.77.0.2", true, peer_mac2, &res, 1000),
		  "new IPv4 neighbour MAC");
	ASSERT_OK(resolve_wait(c, XDPLB_AF_INET6, "fd77::2", true, peer_mac2, &res, 1000),
		  "new IPv6 neighbour MAC");
	ASSERT_LE(loop_now_ms() - t0, 1000, "ms until both followed");
}

static void t_routed(struct nctx *c)
{
	struct neigh_result res;
	int err;

	if (sh("ip route add 10.88.0.0/24 via 10.77.0.2 && ip route add fd88::/64 via fd77::2")) {
		test__fail();
		return;
	}
	err = resolve_wait(c, XDPLB_AF_INET, "10.88.0.5", false, NULL, &res, 2000);
	if (ASSERT_OK(err, "IPv4 via gateway"))
		check_result(&res, c, XDPLB_AF_INET, "10.77.0.2", peer_mac2);
	err = resolve_wait(c, XDPLB_AF_INET6, "fd88::5", false, NULL, &res, 2000);
	if (ASSERT_OK(err, "IPv6 via gateway"))
		check_result(&res, c, XDPLB_AF_INET6, "fd77::2", peer_mac2);
	if (sh("ip route add 10.66.0.0/24 via inet6 fd77::2 dev " LB_IF)) {
		test__fail();
		return;
	}
	err = resolve_wait(c, XDPLB_AF_INET, "10.66.0.5", false, NULL, &res, 2000);
	if (ASSERT_OK(err, "IPv4 via IPv6 gateway"))
		check_result(&res, c, XDPLB_AF_INET6, "fd77::2", peer_mac2);
}

static void expect_err(struct nctx *c, __u8 family, const char *addr, bool onlink, int exp,
		       const char *name)
{
	union xdplb_addr a = addr_of(family, addr);
	struct neigh_result res;

	memset(&res, 0xa5, sizeof(res));
	ASSERT_EQ(neigh_resolve(c->n, family, &a, onlink, &res), exp, name);
	ASSERT_MEMEQ(res.mac, 6, zero_mac, 6, "no MAC on error");
	ASSERT_EQ(res.ifindex, 0, "result cleared on error");
}

static void t_errors(struct nctx *c)
{
	union xdplb_addr a = {0};
	struct neigh_result res;

	expect_err(c, XDPLB_AF_INET, "10.88.0.5", true, -EHOSTUNREACH, "l2 via gateway, IPv4");
	expect_err(c, XDPLB_AF_INET6, "fd88::5", true, -EHOSTUNREACH, "l2 via gateway, IPv6");
	expect_err(c, XDPLB_AF_INET, "192.0.2.1", false, -ENETUNREACH, "no route, IPv4");
	expect_err(c, XDPLB_AF_INET6, "2001:db8::1", false, -ENETUNREACH, "no route, IPv6");
	expect_err(c, XDPLB_AF_INET, "10.77.0.1", false, -EADDRINUSE, "own address");
	ASSERT_EQ(neigh_resolve(c->n, 0, &a, false, &res), -EAFNOSUPPORT, "bad family");
	if (sh("ip route add unreachable 198.51.100.0/24 && ip route add blackhole "
	       "2001:db8:1::/48")) {
		test__fail();
		return;
	}
	expect_err(c, XDPLB_AF_INET, "198.51.100.1", false, -ENETUNREACH, "unreachable route");
	expect_err(c, XDPLB_AF_INET6, "2001:db8:1::1", false, -ENETUNREACH, "blackhole route");
}

/* Nobody has the address: -EAGAIN every time, never a MAC, and the
 * kernel's entry shows the probes resolve made it send. */
static void t_unresolvable(struct nctx *c, __u8 family, const char *addr)
{
	union xdplb_addr a = addr_of(family, addr);
	__u64 end = loop_now_ms() + 1500;
	struct neigh_result res;
	char line[256];
	const char *p;
	int err, n = 0;

	do {
		err = neigh_resolve(c->n, family, &a, true, &res);
		if (!ASSERT_EQ(err, -EAGAIN, "unresolved") ||
		    !ASSERT_MEMEQ(res.mac, 6, zero_mac, 6, "no MAC"))
			return;
		n++;
		pump(c, 100, INT_MAX);
	} while (loop_now_ms() < end);
	ASSERT_GE(n, 5, "resolves");
	if (!ASSERT_TRUE(ip_neigh(addr, line, sizeof(line)), "kernel entry exists"))
		return;
	p = strstr(line, "probes ");
	if (!ASSERT_OK_PTR(p, "probes shown") || !ASSERT_GE(atoi(p + 7), 1, "probes sent"))
		fprintf(stderr, "  %s", line);
}

/* Events about a neighbour nobody resolved are ignored; an entry that is
 * resolved follows an administrative change (ip neigh replace). */
static void t_filter(struct nctx *c)
{
	struct neigh_result res;
	int seen = c->changed;

	if (sh("ip neigh add 10.77.0.99 lladdr 02:6c:62:00:00:99 dev " LB_IF " nud reachable")) {
		test__fail();
		return;
	}
	pump(c, 300, INT_MAX);
	ASSERT_EQ(c->changed, seen, "no changed() for an unrelated neighbour");
	if (sh("ip neigh replace 10.77.0.2 lladdr 02:6c:62:00:00:44 dev " LB_IF " nud reachable")) {
		test__fail();
		return;
	}
	pump(c, 1000, seen);
	ASSERT_GT(c->changed, seen, "changed() within 1 s");
	ASSERT_OK(resolve_wait(c, XDPLB_AF_INET, "10.77.0.2", true, fake_mac, &res, 100),
		  "replaced MAC");
	sh("ip neigh replace 10.77.0.2 lladdr 02:6c:62:00:00:03 dev " LB_IF " nud reachable");
}

/* A result is current while the events say nothing new of its next hop:
 * a MAC change makes it stale (NEIGH_CHANGED_NEXTHOPS), a new resolve is
 * current again.  Results without a MAC yet, or without a next hop, are
 * current until an event says otherwise. */
static void t_current(struct nctx *c)
{
	union xdplb_addr a = addr_of(XDPLB_AF_INET, "10.77.0.50");
	struct neigh_result res, again, pending, none;
	int seen;

	if (!ASSERT_OK(resolve_wait(c, XDPLB_AF_INET, "10.77.0.2", true, peer_mac2, &res, 2000),
		       "resolved"))
		return;
	pump(c, 200, INT_MAX); /* events of the resolve itself */
	ASSERT_TRUE(neigh_current(c->n, &res), "current after the resolve");
	ASSERT_EQ(neigh_resolve(c->n, XDPLB_AF_INET, &a, true, &pending), -EAGAIN, "unresolvable");
	ASSERT_TRUE(neigh_current(c->n, &pending), "a pending result (no MAC yet) is current");
	memset(&none, 0, sizeof(none));
	ASSERT_TRUE(neigh_current(c->n, &none), "a result without next hop is current");
	seen = c->changed;
	c->what = 0;
	if (sh("ip neigh replace 10.77.0.2 lladdr 02:6c:62:00:00:44 dev " LB_IF " nud reachable")) {
		test__fail();
		return;
	}
	pump(c, 1000, seen);
	ASSERT_GT(c->changed, seen, "changed() within 1 s");
	ASSERT_TRUE(c->what & NEIGH_CHANGED_NEXTHOPS, "says: next hops");
	ASSERT_FALSE(c->what & NEIGH_CHANGED_PATHS, "not: paths");
	ASSERT_FALSE(neigh_current(c->n, &res), "stale after the MAC change");
	ASSERT_TRUE(neigh_current(c->n, &pending), "the pending one is not concerned");
	if (ASSERT_OK(resolve_wait(c, XDPLB_AF_INET, "10.77.0.2", true, fake_mac, &again, 100),
		      "resolved again"))
		ASSERT_TRUE(neigh_current(c->n, &again), "the new result is current");
	sh("ip neigh replace 10.77.0.2 lladdr 02:6c:62:00:00:03 dev " LB_IF " nud reachable");
	pump(c, 300, INT_MAX);
}

/* The followed interface: MTU and address changes are reported as
 * NEIGH_CHANGED_IFACE, those of another interface are not; a route
 * change is NEIGH_CHANGED_PATHS. */
static void t_iface(struct nctx *c)
{
	static const struct {
		const char *cmd, *name;
		bool iface;
	} steps[] = {
		{ "ip link set " LB_IF " mtu 1400", "MTU change", true },
		{ "ip addr add 10.77.0.9/24 dev " LB_IF, "IPv4 address added", true },
		{ "ip addr del 10.77.0.9/24 dev " LB_IF, "IPv4 address removed", true },
		{ "ip addr add fd77::9/64 dev " LB_IF " nodad", "IPv6 address added", true },
		{ "ip addr add 10.55.0.1/32 dev lo", "an address of lo", false },
		{ "ip link set " LB_IF " mtu 1500", "MTU back", true },
	};
	char name[96];
	size_t i;
	int seen;

	neigh_follow_iface(c->n, (int)c->ifindex);
	pump(c, 200, INT_MAX);
	for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		seen = c->changed;
		c->what = 0;
		if (sh("%s", steps[i].cmd)) {
			test__fail();
			return;
		}
		pump(c, steps[i].iface ? 1000 : 300, steps[i].iface ? seen : INT_MAX);
		snprintf(name, sizeof(name), "%s: %s", steps[i].name,
			 steps[i].iface ? "reported" : "not reported");
		ASSERT_EQ(!!(c->what & NEIGH_CHANGED_IFACE), steps[i].iface, name);
	}
	c->what = 0;
	seen = c->changed;
	if (sh("ip route add 10.44.0.0/24 via 10.77.0.2")) {
		test__fail();
		return;
	}
	pump(c, 1000, seen);
	ASSERT_TRUE(c->what & NEIGH_CHANGED_PATHS, "a route change: paths");
	ASSERT_FALSE(c->what & NEIGH_CHANGED_IFACE, "a route change: not the interface");
	neigh_follow_iface(c->n, 0);
}

/* With a reachable time longer than the delay time, an entry the kernel
 * does not use goes stale for good a few seconds after resolution.  One
 * that resolve returned is re-confirmed instead (delay, probe, reachable),
 * and without changed() calls since its MAC holds. */
static void t_stale_refresh(struct nctx *c)
{
	struct neigh_result res;
	int i, seen, fresh = 0;
	char line[256] = "";

	if (sh("sysctl -qw net.ipv4.neigh." LB_IF ".base_reachable_time_ms=2500 "
	       "net.ipv4.neigh." LB_IF ".delay_first_probe_time=1 && "
	       "ip neigh del 10.77.0.2 dev " LB_IF)) {
		test__fail();
		return;
	}
	if (!ASSERT_OK(resolve_wait(c, XDPLB_AF_INET, "10.77.0.2", true, peer_mac2, &res, 2000),
		       "resolved again"))
		return;
	seen = c->changed;
	pump(c, 4000, INT_MAX); /* reachable for 1.25 to 3.75 s */
	for (i = 0; i < 5; i++) {
		if (ip_neigh("10.77.0.2", line, sizeof(line)) && !strstr(line, "STALE"))
			fresh++;
		pump(c, 100, INT_MAX);
	}
	if (!ASSERT_GT(fresh, 0, "samples not stale"))
		fprintf(stderr, "  %s", line);
	ASSERT_EQ(c->changed, seen, "no changed() while the MAC holds");
}

/* A burst of unrelated neighbour events, read too late, overflows the
 * event socket: the lost events may have mattered, so changed() runs. */
static void t_lost_events(struct nctx *c)
{
	char path[] = "/tmp/test_neigh.XXXXXX";
	struct neigh_result res;
	int fd = mkstemp(path), i, seen = c->changed;
	FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;

	if (!ASSERT_OK_PTR(f, "batch file"))
		goto out;
	for (i = 0; i < 8000; i++)
		fprintf(f,
			"neigh add 10.99.%d.%d lladdr 02:6c:62:00:%02x:%02x dev " LB_IF
			" nud permanent\n",
			i / 250, i % 250 + 1, i / 250, i % 250 + 1);
	fclose(f);
	if (sh("ip -batch %s", path)) {
		test__fail();
		goto out;
	}
	pump(c, 1000, seen);
	ASSERT_GT(c->changed, seen, "changed() after lost events");
	ASSERT_OK(resolve_wait(c, XDPLB_AF_INET, "10.77.0.2", true, peer_mac2, &res, 1000),
		  "resolve afterwards");
out:
	if (fd >= 0)
		unlink(path);
}

TEST(neigh)
{
	struct nctx c = {.orig_ns = -1, .peer = -1};
	int err = setup(&c);

	if (err == -EPERM) {
		test__skip("cannot create network namespaces");
		goto out;
	}
	if (!ASSERT_OK(err, "setup"))
		goto out;
	test__start_subtest("onlink_ipv4");
	t_onlink(&c, XDPLB_AF_INET, "10.77.0.2");
	test__start_subtest("onlink_ipv6");
	t_onlink(&c, XDPLB_AF_INET6, "fd77::2");
	test__start_subtest("mac_change");
	t_mac_change(&c);
	test__start_subtest("routed");
	t_routed(&c);
	test__start_subtest("errors");
	t_errors(&c);
	test__start_subtest("unresolvable_ipv4");
	t_unresolvable(&c, XDPLB_AF_INET, "10.77.0.50");
	test__start_subtest("unresolvable_ipv6");
	t_unresolvable(&c, XDPLB_AF_INET6, "fd77::50");
	test__start_subtest("filter");
	t_filter(&c);
	test__start_subtest("current");
	t_current(&c);
	test__start_subtest("iface");
	t_iface(&c);
	test__start_subtest("stale_refresh");
	t_stale_refresh(&c);
	test__start_subtest("lost_events");
	t_lost_events(&c);
out:
	teardown(&c);
}
