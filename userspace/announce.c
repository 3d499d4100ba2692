// SPDX-License-Identifier: GPL-2.0
/* announce.c - host routes for announced VIP addresses, over rtnetlink (libmnl).
 *
 * announce_set() reconciles: one dump of each family's routes, then one
 * request per route to add or remove, each acknowledged.  A few dozen
 * routes cost a few hundred microseconds, so lbd simply calls it after
 * every change and every few seconds (which also repairs a route someone
 * removed by hand).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <linux/rtnetlink.h>
#include <libmnl/libmnl.h>

#include "announce.h"

#define ANNOUNCE_QUERY_MS 500 /* how long one read of an answer may wait */
#define ANNOUNCE_MAX	  (2 * XDPLB_MAX_VIPS) /* routes followed (one per VIP address) */
#define ANNOUNCE_BUF	  32768 /* one datagram of an answer */

struct announce {
	struct mnl_socket *nl;
	__u32 portid, seq, table;
	int lo; /* ifindex of lo */
	struct announce_addr *present; /* what the table holds, as last read and changed */
	__u32 n_present;
	char buf[ANNOUNCE_BUF];
};

static int af_of(__u8 family)
{
	return family == XDPLB_AF_INET6 ? AF_INET6 : AF_INET;
}

static size_t addr_len(__u8 family)
{
	return family == XDPLB_AF_INET6 ? 16 : 4;
}

static bool same(const struct announce_addr *x, const struct announce_addr *y)
{
	return x->family == y->family && !memcmp(&x->addr, &y->addr, addr_len(x->family));
}

static bool member(const struct announce_addr *set, __u32 n, const struct announce_addr *x)
{
	__u32 i;

	for (i = 0; i < n; i++)
		if (same(&set[i], x))
			return true;
	return false;
}

bool announce_has(const struct announce *a, const struct announce_addr *addr)
{
	return a && member(a->present, a->n_present, addr);
}

static int read_table(struct announce *a);

struct announce *announce_open(__u32 table, char *err, size_t errlen)
{
	struct timeval tv = { .tv_sec = ANNOUNCE_QUERY_MS / 1000,
			      .tv_usec = (ANNOUNCE_QUERY_MS % 1000) * 1000 };
	struct announce *a;
	int ret;

	if (!table || table == RT_TABLE_DEFAULT || table == RT_TABLE_MAIN ||
	    table == RT_TABLE_LOCAL || table == 0xffffffffu) {
		snprintf(err, errlen, "table %u is not for announcements (1-4294967294, not 253-255)",
			 table);
		return NULL;
	}
	a = calloc(1, sizeof(*a));
	if (a)
		a->present = calloc(ANNOUNCE_MAX, sizeof(*a->present));
	if (!a || !a->present) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	a->table = table;
	a->lo = (int)if_nametoindex("lo");
	if (!a->lo) {
		snprintf(err, errlen, "no loopback interface: %s", strerror(errno));
		goto fail;
	}
	a->nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
	if (!a->nl ||
	    setsockopt(mnl_socket_get_fd(a->nl), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) ||
	    mnl_socket_bind(a->nl, 0, MNL_SOCKET_AUTOPID)) {
		snprintf(err, errlen, "Couldn't open a route socket: %s", strerror(errno));
		goto fail;
	}
	a->portid = mnl_socket_get_portid(a->nl);
	/* what the table holds already (an adopting lbd's routes): announce_has()
	 * must know them before the first announce_set() */
	ret = read_table(a);
	if (ret) {
		snprintf(err, errlen, "cannot read routing table %u: %s", table,
			 strerror(ret < 0 ? -ret : EIO));
		goto fail;
	}
	return a;
fail:
	announce_close(a);
	return NULL;
}

void announce_close(struct announce *a)
{
	if (!a)
		return;
	if (a->nl)
		mnl_socket_close(a->nl);
	free(a->present);
	free(a);
}

/* Send req and read answers until it is done, handing each message to cb
 * (NULL: an acknowledgement is all that comes). */
static int talk(struct announce *a, struct nlmsghdr *req, mnl_cb_t cb, void *data)
{
	ssize_t len;
	int ret;

	req->nlmsg_seq = ++a->seq;
	if (mnl_socket_sendto(a->nl, req, req->nlmsg_len) < 0)
		return -errno;
	do {
		len = mnl_socket_recvfrom(a->nl, a->buf, sizeof(a->buf));
		if (len < 0)
			return errno == EAGAIN || errno == EWOULDBLOCK ? -ETIMEDOUT : -errno;
		ret = mnl_cb_run(a->buf, (size_t)len, a->seq, a->portid, cb, data);
	} while (ret == MNL_CB_OK);
	return ret < 0 ? -errno : 0;
}

struct dump {
	struct announce *a;
	__u8 family;
};

/* One route of the dump: ours (table, protocol, host route) goes to present. */
static int dump_route(const struct nlmsghdr *nlh, void *data)
{
	const struct dump *d = data;
	const struct rtmsg *rtm = mnl_nlmsg_get_payload(nlh);
	struct announce *a = d->a;
	const struct nlattr *attr;
	struct announce_addr x = { .family = d->family };
	__u32 table = rtm->rtm_table;
	bool have_dst = false;

	if (nlh->nlmsg_type != RTM_NEWROUTE || rtm->rtm_protocol != XDPLB_RTPROT ||
	    rtm->rtm_dst_len != addr_len(d->family) * 8)
		return MNL_CB_OK;
	mnl_attr_for_each(attr, nlh, sizeof(*rtm)) {
		if (mnl_attr_get_type(attr) == RTA_TABLE &&
		    !mnl_attr_validate(attr, MNL_TYPE_U32))
			table = mnl_attr_get_u32(attr);
		if (mnl_attr_get_type(attr) == RTA_DST &&
		    mnl_attr_get_payload_len(attr) == addr_len(d->family)) {
			memcpy(&x.addr, mnl_attr_get_payload(attr), addr_len(d->family));
			have_dst = true;
		}
	}
	if (table != a->table || !have_dst || member(a->present, a->n_present, &x) ||
	    a->n_present >= ANNOUNCE_MAX)
		return MNL_CB_OK;
	a->present[a->n_present++] = x;
	return MNL_CB_OK;
}

static int read_table(struct announce *a)
{
	static const __u8 families[] = { XDPLB_AF_INET, XDPLB_AF_INET6 };
	char req[512];
	struct nlmsghdr *nlh;
	struct rtmsg *rtm;
	size_t i;
	int err;

	a->n_present = 0;
	for (i = 0; i < sizeof(families); i++) {
		struct dump d = { .a = a, .family = families[i] };

		nlh = mnl_nlmsg_put_header(req);
		nlh->nlmsg_type = RTM_GETROUTE;
		nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
		rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
		rtm->rtm_family = (__u8)af_of(families[i]);
		err = talk(a, nlh, dump_route, &d);
		if (err)
			return err;
	}
	return 0;
}

static int route_change(struct announce *a, const struct announce_addr *x, bool add)
{
	char req[512];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(req);
	struct rtmsg *rtm;

	nlh->nlmsg_type = add ? RTM_NEWROUTE : RTM_DELROUTE;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | (add ? NLM_F_CREATE | NLM_F_EXCL : 0);
	rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	rtm->rtm_family = (__u8)af_of(x->family);
	rtm->rtm_dst_len = (__u8)(addr_len(x->family) * 8);
	rtm->rtm_table = a->table < 256 ? (__u8)a->table : RT_TABLE_UNSPEC;
	rtm->rtm_protocol = XDPLB_RTPROT;
	rtm->rtm_scope = add ? RT_SCOPE_LINK : RT_SCOPE_NOWHERE; /* as `ip route add ADDR dev lo` */
	rtm->rtm_type = RTN_UNICAST;
	mnl_attr_put(nlh, RTA_DST, addr_len(x->family), &x->addr);
	mnl_attr_put_u32(nlh, RTA_TABLE, a->table);
	mnl_attr_put_u32(nlh, RTA_OIF, (__u32)a->lo);
	return talk(a, nlh, NULL, NULL);
}

static void describe(const struct announce_addr *x, char *buf, size_t len)
{
	if (!inet_ntop(af_of(x->family), &x->addr, buf, (socklen_t)len))
		snprintf(buf, len, "?");
}

int announce_set(struct announce *a, const struct announce_addr *want, __u32 n, __u32 *changed,
		 char *err, size_t errlen)
{
	char as[64];
	int ret, first = 0;
	__u32 i;

	*changed = 0;
	ret = read_table(a);
	if (ret) {
		snprintf(err, errlen, "cannot read routing table %u: %s", a->table, strerror(-ret));
		return ret;
	}
	for (i = 0; i < a->n_present;) { /* removals first: a drain must not wait on adds */
		if (member(want, n, &a->present[i])) {
			i++;
			continue;
		}
		ret = route_change(a, &a->present[i], false);
		if (ret && ret != -ESRCH && ret != -ENOENT) {
			if (!first) {
				describe(&a->present[i], as, sizeof(as));
				snprintf(err, errlen, "cannot remove the route to %s from table %u: %s",
					 as, a->table, strerror(-ret));
				first = ret;
			}
			i++;
			continue;
		}
		a->present[i] = a->present[--a->n_present];
		(*changed)++;
	}
	for (i = 0; i < n; i++) {
		if (member(a->present, a->n_present, &want[i]) || a->n_present >= ANNOUNCE_MAX)
			continue;
		ret = route_change(a, &want[i], true);
		if (ret) {
			if (!first) {
				describe(&want[i], as, sizeof(as));
				snprintf(err, errlen, "cannot add a route to %s in table %u: %s", as,
					 a->table, strerror(-ret));
				first = ret;
			}
			continue;
		}
		a->present[a->n_present++] = want[i];
		(*changed)++;
	}
	return first;
}
