// SPDX-License-Identifier: GPL-2.0
/* neigh.c - route, link and neighbour queries and change events (neighbour,
 * link, address, route) over rtnetlink (libmnl). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <linux/if_addr.h>
#include <linux/if_arp.h>
#include <linux/if_ether.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <libmnl/libmnl.h>

#include "container_of.h"
#include "neigh.h"

/* Build-time settings (override with -DNAME=value):
 *   NEIGH_DEBOUNCE_MS  delay from the first relevant event to changed()
 *   NEIGH_RESYNC_MS    period of the unconditional changed() (see neigh.h)
 *   NEIGH_WATCH_TTL_MS a next hop no resolve (nor neigh_current()) asked
 *                      about this long is dropped
 *   NEIGH_MAX_WATCH    next hops followed precisely
 *   NEIGH_EV_BATCH     event datagrams read per wake-up
 *   NEIGH_QUERY_MS     how long a query waits for each read of the answer
 *   NEIGH_EV_RCVBUF    receive buffer asked for the event socket
 */
#ifndef NEIGH_DEBOUNCE_MS
#define NEIGH_DEBOUNCE_MS 20
#endif
#ifndef NEIGH_RESYNC_MS
#define NEIGH_RESYNC_MS 30000
#endif
#ifndef NEIGH_WATCH_TTL_MS
#define NEIGH_WATCH_TTL_MS (3 * NEIGH_RESYNC_MS)
#endif
#ifndef NEIGH_MAX_WATCH
#define NEIGH_MAX_WATCH XDPLB_MAX_BACKENDS
#endif
#ifndef NEIGH_EV_BATCH
#define NEIGH_EV_BATCH 64
#endif
#ifndef NEIGH_QUERY_MS
#define NEIGH_QUERY_MS 500
#endif
#ifndef NEIGH_EV_RCVBUF
#define NEIGH_EV_RCVBUF (1 << 20)
#endif

#define NEIGH_BUF	  32768 /* one datagram: answers and events larger are lost */
#define NEIGH_REQ_BUF	  256	/* one request: header, family header, one address */
#define NEIGH_QUERY_READS 4	/* datagrams read for one answer (late ones skipped) */
#define NEIGH_ATTRS	  32	/* attribute types kept by attrs_parse() */

/* States in which the kernel itself sends to the entry's MAC. */
#define NUD_USABLE (NUD_PERMANENT | NUD_NOARP | NUD_REACHABLE | NUD_PROBE | NUD_STALE | NUD_DELAY)


/* A next hop: the key of a neighbour entry.  Zeroed before use (hashed). */
struct nh_key {
	union xdplb_addr addr;
	__u32 ifindex;
	__u8 family; /* XDPLB_AF_*; 0 marks an empty table slot */
	__u8 pad[3];
};

/* A next hop neigh_resolve() returned, and what the kernel last said of it. */
struct watch {
	struct nh_key key;
	__u64 used_ms; /* last neigh_resolve() through it, or neigh_current() about it */
	bool valid;    /* usable state with a MAC */
	__u8 mac[ETH_ALEN];
};

/* A neighbour entry as the kernel describes it. */
struct nbr {
	struct nh_key key;
	__u16 state; /* NUD_*; NUD_NONE when there is no entry */
	bool valid;
	__u8 mac[ETH_ALEN];
};

struct route {
	__u32 oif;
	__u8 type;	/* RTN_* */
	__u8 gw_family; /* 0: on-link */
	union xdplb_addr gw;
};

struct neigh {
	struct loop *loop;
	void (*changed)(void *arg, unsigned int what);
	void *arg;
	struct mnl_socket *evs; /* events, non-blocking */
	struct mnl_socket *qs;	/* queries, NEIGH_QUERY_MS receive timeout */
	struct loop_fd ev;
	bool in_loop;
	struct loop_timer kick;	  /* changed() after a burst of events */
	struct loop_timer resync; /* changed() every NEIGH_RESYNC_MS */
	unsigned int dirty;	  /* enum neigh_change: what events since the last changed() say */
	bool overflow;		  /* a next hop could not be watched: take every event */
	int iface;		  /* neigh_follow_iface(); 0: none */
	__u32 seq, portid;
	struct watch *watch; /* open addressing, linear probing */
	__u32 watch_cap;     /* 0 or a power of two, at least twice watch_n */
	__u32 watch_n;
	_Alignas(8) char qbuf[NEIGH_BUF];
	_Alignas(8) char ebuf[NEIGH_BUF];
};

typedef int (*reply_fn)(const struct nlmsghdr *nlh, void *data);

static int af_of(__u8 family)
{
	return family == XDPLB_AF_INET6 ? AF_INET6 : AF_INET;
}

static __u8 xaf_of(int af)
{
	return af == AF_INET ? XDPLB_AF_INET : af == AF_INET6 ? XDPLB_AF_INET6 : 0;
}

static size_t addr_len(__u8 family)
{
	return family == XDPLB_AF_INET6 ? 16 : 4;
}

static bool mac_unicast(const __u8 *mac)
{
	static const __u8 zero[ETH_ALEN];

	return !(mac[0] & 1) && memcmp(mac, zero, ETH_ALEN);
}

/* ---- messages ---- */

static int attr_store(const struct nlattr *a, void *data)
{
	const struct nlattr **tb = data;
	__u16 type = mnl_attr_get_type(a);

	if (type < NEIGH_ATTRS)
		tb[type] = a;
	return MNL_CB_OK;
}

/* Index the attributes after a family header of hdrlen bytes. */
static int attrs_parse(const struct nlmsghdr *nlh, size_t hdrlen, const struct nlattr **tb)
{
	memset(tb, 0, NEIGH_ATTRS * sizeof(*tb));
	if (nlh->nlmsg_len < mnl_nlmsg_size(hdrlen))
		return -EBADMSG;
	return mnl_attr_parse(nlh, (unsigned int)hdrlen, attr_store, tb) < 0 ? -EBADMSG : 0;
}

static int attr_addr(const struct nlattr *a, __u8 family, union xdplb_addr *out)
{
	size_t len = addr_len(family);

	memset(out, 0, sizeof(*out));
	if (!a || mnl_attr_get_payload_len(a) != len)
		return -EBADMSG;
	memcpy(out->bytes, mnl_attr_get_payload(a), len);
	return 0;
}

static struct nlmsghdr *msg_start(char *buf, __u16 type, __u16 flags)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | flags;
	return nlh;
}

/* ---- synchronous queries ---- */

static int nlmsg_errno(const struct nlmsghdr *nlh)
{
	const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);

	if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(e->error)))
		return -EBADMSG;
	return e->error > 0 ? -EPROTO : e->error;
}

/* Hand the answer to the current request in one datagram to fn (NULL when
 * only an acknowledgement is expected); *done once it was there. */
static int reply_scan(struct neigh *n, int len, reply_fn fn, void *data, bool *done)
{
	const struct nlmsghdr *nlh = (const struct nlmsghdr *)n->qbuf;
	int err;

	for (; mnl_nlmsg_ok(nlh, len); nlh = mnl_nlmsg_next(nlh, &len)) {
		if (nlh->nlmsg_seq != n->seq || nlh->nlmsg_pid != n->portid)
			continue; /* the late answer to a query that timed out */
		*done = true;
		if (nlh->nlmsg_type != NLMSG_ERROR)
			return fn ? fn(nlh, data) : -EBADMSG;
		err = nlmsg_errno(nlh);
		return !err && fn ? -ENODATA : err;
	}
	return 0;
}

static int query(struct neigh *n, struct nlmsghdr *req, reply_fn fn, void *data)
{
	bool done = false;
	int i, err = 0;

	req->nlmsg_seq = ++n->seq;
	if (mnl_socket_sendto(n->qs, req, req->nlmsg_len) < 0)
		return -errno;
	for (i = 0; i < NEIGH_QUERY_READS && !done; i++) {
		ssize_t len = mnl_socket_recvfrom(n->qs, n->qbuf, sizeof(n->qbuf));

		if (len < 0 && errno == EINTR)
			continue;
		if (len < 0)
			return errno == EAGAIN || errno == EWOULDBLOCK ? -ETIMEDOUT : -errno;
		err = reply_scan(n, (int)len, fn, data, &done);
	}
	return done ? err : -ETIMEDOUT;
}

/* ---- routes and links ---- */

static int via_parse(const struct nlattr *a, struct route *rt)
{
	const struct rtvia *via = mnl_attr_get_payload(a);
	size_t len = mnl_attr_get_payload_len(a);
	__u8 family;

	if (len < sizeof(*via))
		return -EBADMSG;
	family = xaf_of(via->rtvia_family);
	if (!family || len - sizeof(*via) != addr_len(family))
		return -EBADMSG;
	memcpy(rt->gw.bytes, via->rtvia_addr, addr_len(family));
	rt->gw_family = family;
	return 0;
}

static int route_parse(const struct nlmsghdr *nlh, void *data)
{
	const struct rtmsg *rtm = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *tb[NEIGH_ATTRS];
	struct route *rt = data;

	if (nlh->nlmsg_type != RTM_NEWROUTE || attrs_parse(nlh, sizeof(*rtm), tb))
		return -EBADMSG;
	rt->type = rtm->rtm_type;
	if (tb[RTA_OIF] && mnl_attr_get_payload_len(tb[RTA_OIF]) == sizeof(__u32))
		rt->oif = mnl_attr_get_u32(tb[RTA_OIF]);
	if (tb[RTA_GATEWAY]) {
		rt->gw_family = xaf_of(rtm->rtm_family);
		return attr_addr(tb[RTA_GATEWAY], rt->gw_family, &rt->gw);
	}
	return tb[RTA_VIA] ? via_parse(tb[RTA_VIA], rt) : 0;
}

/* The kernel's choice for a packet to addr (policy rules and multipath
 * applied): egress interface and gateway. */
static int route_get(struct neigh *n, __u8 family, const union xdplb_addr *addr, struct route *rt)
{
	_Alignas(8) char buf[NEIGH_REQ_BUF];
	struct nlmsghdr *nlh = msg_start(buf, RTM_GETROUTE, 0);
	struct rtmsg *rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	int err;

	rtm->rtm_family = af_of(family);
	rtm->rtm_dst_len = addr_len(family) * 8;
	mnl_attr_put(nlh, RTA_DST, addr_len(family), addr->bytes);
	memset(rt, 0, sizeof(*rt));
	err = query(n, nlh, route_parse, rt);
	/* no route, or an unreachable, prohibit or blackhole one */
	if (err == -ENETUNREACH || err == -EHOSTUNREACH || err == -EACCES || err == -EINVAL)
		return -ENETUNREACH;
	if (err)
		return err;
	if (rt->type == RTN_LOCAL)
		return -EADDRINUSE;
	return rt->type == RTN_UNICAST && rt->oif ? 0 : -ENETUNREACH;
}

static int link_parse(const struct nlmsghdr *nlh, void *data)
{
	const struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *tb[NEIGH_ATTRS];
	const struct nlattr *a;

	if (nlh->nlmsg_type != RTM_NEWLINK || attrs_parse(nlh, sizeof(*ifi), tb))
		return -EBADMSG;
	a = tb[IFLA_ADDRESS];
	if (ifi->ifi_type != ARPHRD_ETHER || !a || mnl_attr_get_payload_len(a) != ETH_ALEN)
		return -EOPNOTSUPP;
	memcpy(data, mnl_attr_get_payload(a), ETH_ALEN);
	return 0;
}

/* The Ethernet address of interface ifindex. */
static int link_mac(struct neigh *n, __u32 ifindex, __u8 *mac)
{
	_Alignas(8) char buf[NEIGH_REQ_BUF];
	struct nlmsghdr *nlh = msg_start(buf, RTM_GETLINK, 0);
	struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));

	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = (int)ifindex;
	mnl_attr_put_u32(nlh, IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
	return query(n, nlh, link_parse, mac);
}

/* ---- neighbours ---- */

static int nbr_parse(const struct nlmsghdr *nlh, struct nbr *nb)
{
	const struct ndmsg *ndm = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *tb[NEIGH_ATTRS];
	const struct nlattr *ll;

	memset(nb, 0, sizeof(*nb));
	if (attrs_parse(nlh, sizeof(*ndm), tb))
		return -EBADMSG;
	nb->key.family = xaf_of(ndm->ndm_family); /* not bridge FDB entries */
	if (!nb->key.family || (ndm->ndm_flags & NTF_PROXY) || ndm->ndm_ifindex <= 0)
		return -EBADMSG;
	nb->key.ifindex = (__u32)ndm->ndm_ifindex;
	if (attr_addr(tb[NDA_DST], nb->key.family, &nb->key.addr))
		return -EBADMSG;
	nb->state = ndm->ndm_state;
	ll = tb[NDA_LLADDR];
	if (ll && mnl_attr_get_payload_len(ll) == ETH_ALEN)
		memcpy(nb->mac, mnl_attr_get_payload(ll), ETH_ALEN);
	nb->valid = (nb->state & NUD_USABLE) && mac_unicast(nb->mac);
	return 0;
}

static int nbr_reply(const struct nlmsghdr *nlh, void *data)
{
	return nlh->nlmsg_type == RTM_NEWNEIGH ? nbr_parse(nlh, data) : -EBADMSG;
}

static void nbr_req(struct nlmsghdr *nlh, const struct nh_key *key, __u16 state, __u8 flags)
{
	struct ndmsg *ndm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ndm));

	ndm->ndm_family = af_of(key->family);
	ndm->ndm_ifindex = (int)key->ifindex;
	ndm->ndm_state = state;
	ndm->ndm_flags = flags;
	mnl_attr_put(nlh, NDA_DST, addr_len(key->family), key->addr.bytes);
}

/* The entry for key (what `ip neigh get` asks); state NUD_NONE if none. */
static int nbr_get(struct neigh *n, const struct nh_key *key, struct nbr *nb)
{
	_Alignas(8) char buf[NEIGH_REQ_BUF];
	struct nlmsghdr *nlh = msg_start(buf, RTM_GETNEIGH, 0);
	int err;

	nbr_req(nlh, key, 0, 0);
	err = query(n, nlh, nbr_reply, nb);
	if (err == -ENOENT) {
		memset(nb, 0, sizeof(*nb));
		err = 0;
	}
	nb->key = *key;
	return err;
}

/* Use the entry as a packet waiting on it would (NTF_USE): a missing one is
 * created and, like an incomplete or failed one, solicited (ARP request or
 * neighbour solicitation); a stale one moves to delay, then gets a unicast
 * probe.  Either way the kernel notifies the outcome. */
static int nbr_use(struct neigh *n, const struct nh_key *key)
{
	_Alignas(8) char buf[NEIGH_REQ_BUF];
	struct nlmsghdr *nlh = msg_start(buf, RTM_NEWNEIGH, NLM_F_CREATE | NLM_F_ACK);

	nbr_req(nlh, key, NUD_NONE, NTF_USE);
	return query(n, nlh, NULL, NULL);
}

/* ---- watched next hops ---- */

static __u32 key_hash(const struct nh_key *k)
{
	const __u8 *p = (const __u8 *)k;
	__u32 h = 2166136261u; /* FNV-1a */
	size_t i;

	for (i = 0; i < sizeof(*k); i++)
		h = (h ^ p[i]) * 16777619u;
	return h;
}

/* The slot holding k, or the empty one where it belongs (cap > entries). */
static struct watch *watch_slot(struct watch *tab, __u32 cap, const struct nh_key *k)
{
	__u32 i = key_hash(k) & (cap - 1);

	while (tab[i].key.family && memcmp(&tab[i].key, k, sizeof(*k)))
		i = (i + 1) & (cap - 1);
	return &tab[i];
}

static struct watch *watch_find(struct neigh *n, const struct nh_key *k)
{
	struct watch *w;

	if (!n->watch_cap)
		return NULL;
	w = watch_slot(n->watch, n->watch_cap, k);
	return w->key.family ? w : NULL;
}

/* Move to a table of cap slots, keeping the entries used since `since`. */
static int watch_rehash(struct neigh *n, __u32 cap, __u64 since)
{
	struct watch *tab = calloc(cap, sizeof(*tab));
	__u32 i;

	if (!tab)
		return -ENOMEM;
	n->watch_n = 0;
	for (i = 0; i < n->watch_cap; i++) {
		const struct watch *w = &n->watch[i];

		if (!w->key.family || w->used_ms < since)
			continue;
		*watch_slot(tab, cap, &w->key) = *w;
		n->watch_n++;
	}
	free(n->watch);
	n->watch = tab;
	n->watch_cap = cap;
	return 0;
}

static struct watch *watch_add(struct neigh *n, const struct nh_key *k)
{
	struct watch *w = watch_find(n, k);
	__u32 cap = n->watch_cap ? 2 * n->watch_cap : 64;

	if (w)
		return w;
	if (n->watch_n >= NEIGH_MAX_WATCH ||
	    (2 * (n->watch_n + 1) > n->watch_cap && watch_rehash(n, cap, 0))) {
		n->overflow = true; /* from now on every neighbour event counts */
		return NULL;
	}
	w = watch_slot(n->watch, n->watch_cap, k);
	memset(w, 0, sizeof(*w));
	w->key = *k;
	n->watch_n++;
	return w;
}

static void watch_note(struct watch *w, const struct nbr *nb)
{
	w->valid = nb->valid;
	if (nb->valid)
		memcpy(w->mac, nb->mac, ETH_ALEN);
	else
		memset(w->mac, 0, ETH_ALEN);
}

/* ---- events ---- */

static void kick(struct neigh *n)
{
	if (n->dirty && !loop_timer_armed(&n->kick))
		loop_timer_set(n->loop, &n->kick, NEIGH_DEBOUNCE_MS);
}

static void ev_neigh(struct neigh *n, const struct nlmsghdr *nlh)
{
	struct watch *w;
	struct nbr nb;

	if (nbr_parse(nlh, &nb))
		return;
	if (nlh->nlmsg_type == RTM_DELNEIGH)
		nb.valid = false;
	if (n->overflow) /* results through unwatched next hops are never current */
		n->dirty |= NEIGH_CHANGED_NEXTHOPS;
	w = watch_find(n, &nb.key);
	if (!w)
		return;
	if (w->valid != nb.valid || (nb.valid && memcmp(w->mac, nb.mac, ETH_ALEN))) {
		watch_note(w, &nb);
		n->dirty |= NEIGH_CHANGED_NEXTHOPS;
	}
	/* XDP bypasses the kernel's use of the entry: re-confirm it for it */
	if (nlh->nlmsg_type == RTM_NEWNEIGH && nb.state == NUD_STALE)
		nbr_use(n, &nb.key);
}

static void ev_link(struct neigh *n, const struct nlmsghdr *nlh)
{
	const struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);
	__u32 i;

	if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*ifi)))
		return;
	if (n->iface && ifi->ifi_index == n->iface)
		n->dirty |= NEIGH_CHANGED_IFACE;
	/* an interface going away matters to every user (lbd's own one) */
	if (n->overflow || nlh->nlmsg_type == RTM_DELLINK)
		n->dirty |= NEIGH_CHANGED_PATHS;
	for (i = 0; i < n->watch_cap && !(n->dirty & NEIGH_CHANGED_PATHS); i++)
		if (n->watch[i].key.family && n->watch[i].key.ifindex == (__u32)ifi->ifi_index)
			n->dirty |= NEIGH_CHANGED_PATHS;
}

static void ev_addr(struct neigh *n, const struct nlmsghdr *nlh)
{
	const struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nlh);

	if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*ifa)))
		return;
	if (n->iface && ifa->ifa_index == (__u32)n->iface)
		n->dirty |= NEIGH_CHANGED_IFACE;
}

static void ev_route(struct neigh *n, const struct nlmsghdr *nlh)
{
	const struct rtmsg *rtm = mnl_nlmsg_get_payload(nlh);

	if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*rtm)))
		return;
	if (!(rtm->rtm_flags & RTM_F_CLONED)) /* not a PMTU exception */
		n->dirty |= NEIGH_CHANGED_PATHS;
}

static void ev_parse(struct neigh *n, int len)
{
	const struct nlmsghdr *nlh = (const struct nlmsghdr *)n->ebuf;

	for (; mnl_nlmsg_ok(nlh, len); nlh = mnl_nlmsg_next(nlh, &len)) {
		switch (nlh->nlmsg_type) {
		case RTM_NEWNEIGH:
		case RTM_DELNEIGH:
			ev_neigh(n, nlh);
			break;
		case RTM_NEWLINK:
		case RTM_DELLINK:
			ev_link(n, nlh);
			break;
		case RTM_NEWROUTE:
		case RTM_DELROUTE:
			ev_route(n, nlh);
			break;
		case RTM_NEWADDR:
		case RTM_DELADDR:
			ev_addr(n, nlh);
			break;
		}
	}
}

static void ev_read(struct loop_fd *lf, uint32_t events)
{
	struct neigh *n = container_of(lf, struct neigh, ev);
	ssize_t len;
	int i;

	(void)events;
	for (i = 0; i < NEIGH_EV_BATCH; i++) {
		len = mnl_socket_recvfrom(n->evs, n->ebuf, sizeof(n->ebuf));
		if (len >= 0) {
			ev_parse(n, (int)len);
			continue;
		}
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			break;
		if (errno == ENOBUFS || errno == ENOSPC) /* events lost or cut: re-sync */
			n->dirty |= NEIGH_CHANGED_PATHS | (n->iface ? NEIGH_CHANGED_IFACE : 0);
		else if (errno != EINTR)
			break;
	}
	kick(n);
}

static void kick_fire(struct loop_timer *t)
{
	struct neigh *n = container_of(t, struct neigh, kick);
	unsigned int what = n->dirty;

	n->dirty = 0;
	n->changed(n->arg, what);
}

static void resync_fire(struct loop_timer *t)
{
	struct neigh *n = container_of(t, struct neigh, resync);
	unsigned int what = n->dirty | NEIGH_RESYNC;
	__u64 now = loop_now_ms();

	loop_timer_set(n->loop, &n->resync, NEIGH_RESYNC_MS);
	if (n->watch_cap && now > NEIGH_WATCH_TTL_MS &&
	    !watch_rehash(n, n->watch_cap, now - NEIGH_WATCH_TTL_MS))
		n->overflow = false; /* the resolves after changed() watch them again */
	loop_timer_cancel(n->loop, &n->kick);
	n->dirty = 0;
	n->changed(n->arg, what);
}

/* ---- the API ---- */

static int open_err(char *err, size_t errlen, const char *what)
{
	snprintf(err, errlen, "Couldn't %s: %s", what, strerror(errno));
	return -1;
}

static int ev_open(struct neigh *n, char *err, size_t errlen)
{
	unsigned int groups = RTMGRP_NEIGH | RTMGRP_LINK | RTMGRP_IPV4_ROUTE | RTMGRP_IPV6_ROUTE |
			      RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR;
	int size = NEIGH_EV_RCVBUF, fd;

	n->evs = mnl_socket_open2(NETLINK_ROUTE, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (!n->evs)
		return open_err(err, errlen, "open the rtnetlink event socket");
	fd = mnl_socket_get_fd(n->evs);
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)))
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size)); /* best effort */
	if (mnl_socket_bind(n->evs, groups, MNL_SOCKET_AUTOPID))
		return open_err(err, errlen, "subscribe to neighbour, link, address and route changes");
	return 0;
}

static int query_open(struct neigh *n, char *err, size_t errlen)
{
	struct timeval tv = {.tv_sec = NEIGH_QUERY_MS / 1000,
			     .tv_usec = (NEIGH_QUERY_MS % 1000) * 1000};

	n->qs = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
	if (!n->qs)
		return open_err(err, errlen, "open the rtnetlink query socket");
	if (setsockopt(mnl_socket_get_fd(n->qs), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) ||
	    mnl_socket_bind(n->qs, 0, MNL_SOCKET_AUTOPID))
		return open_err(err, errlen, "set up the rtnetlink query socket");
	n->portid = mnl_socket_get_portid(n->qs);
	return 0;
}

struct neigh *neigh_open(struct loop *l, void (*changed)(void *arg, unsigned int what),
			 void *arg, char *err, size_t errlen)
{
	struct neigh *n = calloc(1, sizeof(*n));
	int ret;

	if (!n) {
		open_err(err, errlen, "allocate the neighbour resolver");
		return NULL;
	}
	n->loop = l;
	n->changed = changed;
	n->arg = arg;
	n->kick.cb = kick_fire;
	n->resync.cb = resync_fire;
	n->ev.cb = ev_read;
	if (ev_open(n, err, errlen) || query_open(n, err, errlen))
		goto fail;
	n->ev.fd = mnl_socket_get_fd(n->evs);
	ret = loop_add(l, &n->ev, EPOLLIN);
	n->in_loop = !ret;
	if (!ret)
		ret = loop_timer_set(l, &n->resync, NEIGH_RESYNC_MS);
	if (ret) {
		errno = -ret;
		open_err(err, errlen, "watch the rtnetlink event socket");
		goto fail;
	}
	return n;
fail:
	neigh_close(n);
	return NULL;
}

void neigh_close(struct neigh *n)
{
	if (!n)
		return;
	if (n->in_loop)
		loop_del(n->loop, &n->ev);
	loop_timer_cancel(n->loop, &n->kick);
	loop_timer_cancel(n->loop, &n->resync);
	if (n->evs)
		mnl_socket_close(n->evs);
	if (n->qs)
		mnl_socket_close(n->qs);
	free(n->watch);
	free(n);
}

/* Route and egress interface: everything in res but the MAC. */
static int path_get(struct neigh *n, __u8 family, const union xdplb_addr *addr, bool onlink_only,
		    struct neigh_result *res)
{
	struct route rt;
	int err = route_get(n, family, addr, &rt);

	if (err)
		return err;
	if (onlink_only && rt.gw_family)
		return -EHOSTUNREACH;
	res->ifindex = rt.oif;
	res->nh_family = rt.gw_family ? rt.gw_family : family;
	if (rt.gw_family)
		res->nexthop = rt.gw;
	else
		memcpy(res->nexthop.bytes, addr->bytes, addr_len(family));
	return link_mac(n, rt.oif, res->src_mac);
}

/* The next hop's MAC, or -EAGAIN once the kernel was asked to find it. */
static int nexthop_get(struct neigh *n, struct neigh_result *res)
{
	struct nh_key key = {.ifindex = res->ifindex, .family = res->nh_family};
	struct watch *w;
	struct nbr nb;
	int err;

	key.addr = res->nexthop;
	err = nbr_get(n, &key, &nb);
	if (err)
		return err;
	w = watch_add(n, &key);
	if (w) {
		w->used_ms = loop_now_ms();
		watch_note(w, &nb);
	}
	if (!nb.valid) {
		err = nbr_use(n, &key);
		return err ? err : -EAGAIN;
	}
	if (nb.state & NUD_STALE)
		nbr_use(n, &key); /* re-confirm it, as a host sending to it would */
	memcpy(res->mac, nb.mac, ETH_ALEN);
	return 0;
}

int neigh_resolve(struct neigh *n, __u8 family, const union xdplb_addr *addr, bool onlink_only,
		  struct neigh_result *res)
{
	int err;

	memset(res, 0, sizeof(*res));
	if (family != XDPLB_AF_INET && family != XDPLB_AF_INET6)
		return -EAFNOSUPPORT;
	err = path_get(n, family, addr, onlink_only, res);
	if (!err)
		err = nexthop_get(n, res);
	if (err && err != -EAGAIN)
		memset(res, 0, sizeof(*res));
	return err;
}

bool neigh_current(struct neigh *n, const struct neigh_result *res)
{
	static const __u8 none[ETH_ALEN];
	struct nh_key key;
	struct watch *w;

	if (!res->nh_family)
		return true; /* no next hop: nothing a neighbour event changes */
	memset(&key, 0, sizeof(key));
	key.addr = res->nexthop;
	key.ifindex = res->ifindex;
	key.family = res->nh_family;
	w = watch_find(n, &key);
	if (!w)
		return false;
	w->used_ms = loop_now_ms();
	return !memcmp(w->valid ? w->mac : none, res->mac, ETH_ALEN);
}

void neigh_follow_iface(struct neigh *n, int ifindex)
{
	n->iface = ifindex;
}
