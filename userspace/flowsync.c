// SPDX-License-Identifier: GPL-2.0
/* flowsync.c - flow-state sync between LB nodes (see flowsync.h).
 *
 * Three ways a flow reaches a peer:
 *   - live: every FS_POLL_MS lbd reads the forwarder's reports (flow_events,
 *     one per flow promoted to the established table, guesses excluded),
 *     turns each backend id into its address, and sends them in FS_FLOWS
 *     messages to every peer;
 *   - a table on request: before announcing an address it does not
 *     announce, and when a peer's sequence numbers show lost messages, a
 *     node sets FS_F_WANT_TABLE in its hellos; the peer walks its
 *     established table (FS_DUMP_PER_TICK entries a tick) and ends with
 *     FS_TABLE_END;
 *   - a table unasked: a peer heard again after FS_DEAD_MS of silence, or
 *     with a new boot id (restarted), is sent the whole table.
 * The receiver writes what it can map (same VIP, same backend address) into
 * its established table, marked XDPLB_FLOW_F_SYNCED; the rest is counted
 * as rejected.  Memory is bounded: one message buffer per peer, a fixed
 * peer table, the kernel's ring buffer; what does not fit is counted.
 */
#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <bpf/libbpf.h>
#include <sodium.h>

#include "container_of.h"
#include "flowsync.h"
#include "metrics_text.h"
#include "textform.h"
#include "xdplb_hash.h"

#define FS_POLL_MS 10		/* read the forwarder's reports, send, walk dumps */
#define FS_HELLO_MS 500		/* hellos to every peer */
#define FS_DEAD_MS 3000		/* a peer silent this long is down */
#define FS_TABLE_WAIT_MS 1500	/* a table request waits this long for an answer or more of it */
#define FS_TABLE_MAX_MS 60000	/* and never longer than this */
#define FS_READY_FRESH_MS 2000	/* a table this recent needs no new request */
#define FS_CONVERGE_MS 10000	/* an address whose flows this node cannot place waits this long */
#define FS_GAP_ASK_MS 2000	/* lost messages: ask a peer again at most this often */
#define FS_REFUSED_MAX 64	/* VIP addresses remembered with refused flows */
#define FS_DUMP_PER_TICK 512	/* table entries walked per peer per tick */
#define FS_RECV_PER_WAKE 256	/* datagrams read per wake-up */
#define FS_SKEW_MS 300000	/* a new sender boot's clock: within 5 minutes of ours */
#define FS_KEY_FILE_MAX 4096

enum fs_reject {
	FS_REJ_FORMAT,
	FS_REJ_MAC,
	FS_REJ_REPLAY,
	FS_REJ_CLOCK,
	FS_REJ_PEERS_FULL,
	FS_REJ_MAX,
};
static const char *const rej_names[FS_REJ_MAX] = { "format", "mac", "replay", "clock",
						   "peers_full" };

/* A message being filled: header, entries, room for the MAC. */
struct fs_out {
	union {
		struct fs_header h;
		__u8 buf[FS_MSG_MAX];
	};
	unsigned int n;
};

struct fs_peer {
	struct sockaddr_in6 sa; /* IPv4 peers as v4-mapped addresses */
	char name[INET6_ADDRSTRLEN + 8];
	bool configured;
	bool up;
	__u64 heard_ms; /* loop clock; 0: never */
	__u64 tx_seq;
	/* the last accepted message from it */
	bool rx_known;
	__u64 rx_boot, rx_seq, rx_time_ms;
	/* our request for its table: hellos carry it until its TABLE_END */
	__u32 ask_req;
	__u64 ask_since_ms, gap_ask_ms;
	__u64 ask_applied, ask_rejected; /* flows_applied, flows_rejected when asked */
	/* our table, being sent to it */
	bool dumping;
	__u32 dump_req;
	struct dp_flow_walk walk;
	struct fs_out dump;
	__u64 flows_sent, flows_received, flows_applied, flows_rejected;
	__u64 tables_sent, tables_received;
};

struct flowsync {
	struct loop *loop;
	struct dp *dp;
	struct fs_model m;
	__u32 seed;
	__u8 key[32];
	__u64 boot;
	int fd;
	struct loop_fd lf;
	struct loop_timer poll, hello;
	struct ring_buffer *rb;
	struct sockaddr_in6 listen;
	struct fs_peer peers[FS_MAX_PEERS];
	unsigned int n_peers;
	struct fs_out live; /* FS_FLOWS entries for every peer */
	/* the peers' tables, asked for before announcing (flowsync_ready):
	 * table_req is the request in flight (0: none), answered by the first
	 * peer's FS_TABLE_END or timed out; refused[] the VIP addresses of
	 * flows refused since it was sent (no such VIP or backend here) */
	__u32 req_seq, table_req;
	__u64 table_asked_ms, table_deadline_ms, table_done_ms;
	bool refetch; /* ask again once table_req is answered */
	struct {
		union xdplb_addr addr;
		__u8 family;
	} refused[FS_REFUSED_MAX];
	unsigned int n_refused;
	__u64 blocked_since_ms; /* an address has waited for placeable flows since */
	/* counters */
	__u64 events, events_unmapped;
	__u64 flows_sent, flows_received, flows_applied, flows_rejected, apply_errors;
	__u64 rejected[FS_REJ_MAX];
	__u64 send_errors, msgs_sent, msgs_received;
	__u64 tables_sent, tables_received, waits_timed_out, converge_timeouts;
};

/* ---- the wire format ---- */

const char *fs_check_format(const void *msg, size_t len)
{
	const struct fs_header *h = msg;
	size_t n;

	if (len < sizeof(*h) + FS_MAC_BYTES || len > FS_MSG_MAX)
		return "length";
	if (ntohl(h->magic) != FS_MAGIC)
		return "magic";
	if (h->version != FS_VERSION)
		return "version";
	if (h->type < FS_HELLO || h->type > FS_TABLE_END)
		return "type";
	n = ntohs(h->count);
	if (n > FS_ENTRIES_MAX || len != sizeof(*h) + n * sizeof(struct fs_entry) + FS_MAC_BYTES)
		return "count";
	if (n && h->type != FS_FLOWS && h->type != FS_TABLE)
		return "entries in a message that has none";
	return NULL;
}

static bool family_ok(__u8 f)
{
	return f == XDPLB_AF_INET || f == XDPLB_AF_INET6;
}

bool fs_entry_ok(const struct fs_entry *e)
{
	return family_ok(e->family) && family_ok(e->be_family) &&
	       (e->proto == IPPROTO_TCP || e->proto == IPPROTO_UDP) && e->dport &&
	       !addr_unusable(&e->dst, e->family) && !addr_unusable(&e->backend, e->be_family);
}

void fs_key_derive(const void *secret, size_t len, __u8 key[32])
{
	crypto_generichash(key, 32, secret, len, (const unsigned char *)"xdplb flow sync", 15);
}

void fs_seal(void *msg, size_t len, const __u8 key[32])
{
	crypto_auth_hmacsha256((__u8 *)msg + len, msg, len, key);
}

bool fs_verify(const void *msg, size_t len, const __u8 key[32])
{
	if (len < FS_MAC_BYTES)
		return false;
	return !crypto_auth_hmacsha256_verify((const __u8 *)msg + len - FS_MAC_BYTES, msg,
					      len - FS_MAC_BYTES, key);
}

/* ---- addresses ---- */

static void to_v6(const struct sockaddr_storage *ss, struct sockaddr_in6 *out)
{
	const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;

	memset(out, 0, sizeof(*out));
	out->sin6_family = AF_INET6;
	if (ss->ss_family == AF_INET6) {
		*out = *(const struct sockaddr_in6 *)ss;
		return;
	}
	out->sin6_port = s4->sin_port;
	out->sin6_addr.s6_addr[10] = 0xff;
	out->sin6_addr.s6_addr[11] = 0xff;
	memcpy(&out->sin6_addr.s6_addr[12], &s4->sin_addr, 4);
}

static void endpoint_name(const struct sockaddr_in6 *sa, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	if (IN6_IS_ADDR_V4MAPPED(&sa->sin6_addr)) {
		inet_ntop(AF_INET, &sa->sin6_addr.s6_addr[12], a, sizeof(a));
		snprintf(buf, len, "%s:%u", a, ntohs(sa->sin6_port));
	} else {
		inet_ntop(AF_INET6, &sa->sin6_addr, a, sizeof(a));
		snprintf(buf, len, "[%s]:%u", a, ntohs(sa->sin6_port));
	}
}

int fs_parse_endpoint(const char *s, bool any_ok, struct sockaddr_storage *ss, char *err,
		      size_t errlen)
{
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	__u16 port = FS_PORT;
	union xdplb_addr a;
	const char *why;
	__u8 family;

	memset(ss, 0, sizeof(*ss));
	if (addr_port_parse(s, &a, &family, &port, err, errlen))
		return -1;
	why = addr_unusable(&a, family);
	if (why && !(any_ok && !strcmp(why, "unspecified")))
		return cfg_error(err, errlen, "\"%.80s\": the address is %s", s, why);
	if (family == XDPLB_AF_INET) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		s4->sin_addr.s_addr = a.v4;
	} else {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		memcpy(&s6->sin6_addr, a.bytes, 16);
	}
	return 0;
}

static __u64 real_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (__u64)ts.tv_sec * 1000 + (__u64)ts.tv_nsec / 1000000;
}

static __u64 coarse_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (__u64)ts.tv_sec * 1000000000ull + (__u64)ts.tv_nsec;
}

/* ---- peers ---- */

static struct fs_peer *peer_find(struct flowsync *fs, const struct sockaddr_in6 *sa)
{
	unsigned int i;

	for (i = 0; i < fs->n_peers; i++)
		if (!memcmp(&fs->peers[i].sa.sin6_addr, &sa->sin6_addr, 16))
			return &fs->peers[i];
	return NULL;
}

static struct fs_peer *peer_add(struct flowsync *fs, const struct sockaddr_in6 *sa, bool configured)
{
	struct fs_peer *p;

	if (fs->n_peers == FS_MAX_PEERS)
		return NULL;
	p = &fs->peers[fs->n_peers++];
	memset(p, 0, sizeof(*p));
	p->sa = *sa;
	p->configured = configured;
	endpoint_name(sa, p->name, sizeof(p->name));
	return p;
}

/* ---- sending ---- */

static void out_start(struct fs_out *o, enum fs_type type)
{
	memset(&o->h, 0, sizeof(o->h));
	o->h.magic = htonl(FS_MAGIC);
	o->h.version = FS_VERSION;
	o->h.type = (__u8)type;
	o->n = 0;
}

static struct fs_entry *out_entries(struct fs_out *o)
{
	return (struct fs_entry *)(o->buf + sizeof(struct fs_header));
}

/* Stamp o for peer p (sequence, time, MAC) and send it. */
static void out_send(struct flowsync *fs, struct fs_peer *p, struct fs_out *o, __u32 flags,
		     __u32 req)
{
	size_t len = sizeof(o->h) + o->n * sizeof(struct fs_entry);

	o->h.count = htons((__u16)o->n);
	o->h.flags = htonl(flags);
	o->h.req = htonl(req);
	o->h.boot = htobe64(fs->boot);
	o->h.seq = htobe64(++p->tx_seq);
	o->h.time_ms = htobe64(real_ms());
	fs_seal(o->buf, len, fs->key);
	if (sendto(fs->fd, o->buf, len + FS_MAC_BYTES, MSG_DONTWAIT, (struct sockaddr *)&p->sa,
		   sizeof(p->sa)) < 0) {
		fs->send_errors++; /* the receiver notices the gap and asks again */
		return;
	}
	fs->msgs_sent++;
}

static void send_hello(struct flowsync *fs, struct fs_peer *p)
{
	struct fs_out o;

	out_start(&o, FS_HELLO);
	out_send(fs, p, &o, p->ask_req ? FS_F_WANT_TABLE : 0, p->ask_req);
}

static void live_flush(struct flowsync *fs)
{
	unsigned int i;

	if (!fs->live.n)
		return;
	for (i = 0; i < fs->n_peers; i++) {
		out_send(fs, &fs->peers[i], &fs->live, 0, 0);
		fs->peers[i].flows_sent += fs->live.n;
		fs->flows_sent += fs->live.n;
	}
	out_start(&fs->live, FS_FLOWS);
}

/* An entry for a flow of ours, or -1 if its backend id is not in use. */
static int entry_make(struct flowsync *fs, struct fs_entry *e, __u8 family, __u8 proto,
		      const union xdplb_addr *src, const union xdplb_addr *dst, __be16 sport,
		      __be16 dport, __u32 be_id)
{
	memset(e, 0, sizeof(*e));
	if (fs->m.backend_addr(fs->m.arg, be_id, &e->backend, &e->be_family))
		return -1;
	e->family = family;
	e->proto = proto;
	e->src = *src;
	e->dst = *dst;
	e->sport = sport;
	e->dport = dport;
	return 0;
}

static int on_event(void *ctx, void *data, size_t size)
{
	struct flowsync *fs = ctx;
	const struct xdplb_flow_event *ev = data;

	if (size < sizeof(*ev))
		return 0;
	fs->events++;
	if (entry_make(fs, &out_entries(&fs->live)[fs->live.n], ev->family, ev->proto, &ev->src,
		       &ev->dst, ev->sport, ev->dport, ev->backend_id)) {
		fs->events_unmapped++;
		return 0;
	}
	if (++fs->live.n == FS_ENTRIES_MAX)
		live_flush(fs);
	return 0;
}

/* ---- our table, to a peer ---- */

static void dump_start(struct flowsync *fs, struct fs_peer *p, __u32 req)
{
	p->dumping = true;
	p->dump_req = req;
	memset(&p->walk, 0, sizeof(p->walk));
	p->walk.table = DP_FLOWS_ESTABLISHED;
	out_start(&p->dump, FS_TABLE);
	(void)fs;
}

struct dump_ctx {
	struct flowsync *fs;
	struct fs_peer *p;
};

static int dump_one(void *arg, enum dp_flow_table t, const struct dp_flow *f)
{
	struct dump_ctx *c = arg;
	struct fs_peer *p = c->p;

	(void)t;
	if (f->v.flags & XDPLB_FLOW_F_GUESS)
		return 0; /* never spread a guess */
	if (entry_make(c->fs, &out_entries(&p->dump)[p->dump.n], f->family, f->proto, &f->src,
		       &f->dst, f->sport, f->dport, f->v.backend_id))
		return 0;
	if (++p->dump.n == FS_ENTRIES_MAX) {
		out_send(c->fs, p, &p->dump, 0, p->dump_req);
		p->flows_sent += p->dump.n;
		c->fs->flows_sent += p->dump.n;
		out_start(&p->dump, FS_TABLE);
	}
	return 0;
}

static void dump_step(struct flowsync *fs, struct fs_peer *p)
{
	struct dump_ctx c = { .fs = fs, .p = p };
	struct fs_out end;

	if (dp_flows_walk(fs->dp, &p->walk, FS_DUMP_PER_TICK, dump_one, &c) < 0)
		p->walk.done = true; /* cannot read the table: end what was sent */
	if (!p->walk.done)
		return;
	if (p->dump.n) {
		out_send(fs, p, &p->dump, 0, p->dump_req);
		p->flows_sent += p->dump.n;
		fs->flows_sent += p->dump.n;
	}
	out_start(&end, FS_TABLE_END);
	out_send(fs, p, &end, 0, p->dump_req);
	p->dumping = false;
	p->tables_sent++;
	fs->tables_sent++;
}

/* ---- a peer's flows, into our table ---- */

static bool refused_has(const struct flowsync *fs, const union xdplb_addr *a, __u8 family)
{
	unsigned int i;

	for (i = 0; i < fs->n_refused; i++)
		if (fs->refused[i].family == family && !memcmp(&fs->refused[i].addr, a, sizeof(*a)))
			return true;
	return false;
}

static void refused_add(struct flowsync *fs, const union xdplb_addr *a, __u8 family)
{
	if (fs->n_refused == FS_REFUSED_MAX || refused_has(fs, a, family))
		return; /* full: the addresses not listed are not held back */
	fs->refused[fs->n_refused].addr = *a;
	fs->refused[fs->n_refused].family = family;
	fs->n_refused++;
}

static void apply(struct flowsync *fs, struct fs_peer *p, const struct fs_entry *e)
{
	struct xdplb_vip_key vk = { .addr = e->dst, .port = e->dport, .proto = e->proto,
				    .family = e->family };
	struct dp_flow f = { .family = e->family, .proto = e->proto, .src = e->src,
			     .dst = e->dst, .sport = e->sport, .dport = e->dport };
	__u32 vip_id, be_id, ports = (__u32)e->sport | (__u32)e->dport << 16;

	fs->flows_received++;
	p->flows_received++;
	if (!fs_entry_ok(e) || fs->m.ids(fs->m.arg, &vk, &e->backend, e->be_family, &vip_id, &be_id)) {
		fs->flows_rejected++;
		p->flows_rejected++;
		refused_add(fs, &e->dst, e->family);
		return;
	}
	if (dp_flow_lookup(fs->dp, &f) == 1 && f.established && f.v.backend_id == be_id &&
	    f.v.vip_id == vip_id && !(f.v.flags & XDPLB_FLOW_F_GUESS))
		goto applied; /* known already: its counters stay */
	memset(&f.v, 0, sizeof(f.v));
	f.v.backend_id = be_id;
	f.v.vip_id = vip_id;
	f.v.flags = XDPLB_FLOW_F_SYNCED;
	f.v.last_ns = coarse_ns();
	f.v.hash = e->family == XDPLB_AF_INET
			   ? xdplb_hash4(e->src.v4, e->dst.v4, ports, e->proto, fs->seed)
			   : xdplb_hash6(e->src.v6, e->dst.v6, ports, e->proto, fs->seed);
	if (dp_flow_put(fs->dp, &f)) {
		fs->apply_errors++;
		return;
	}
applied:
	fs->flows_applied++;
	p->flows_applied++;
}

static void ask_all(struct flowsync *fs);

/* The request for the peers' tables was answered (or timed out): lbd
 * decides again what to announce. */
static void table_done(struct flowsync *fs, bool answered)
{
	unsigned int i;

	for (i = 0; i < fs->n_peers; i++)
		if (fs->peers[i].ask_req == fs->table_req)
			fs->peers[i].ask_req = 0;
	fs->table_req = 0;
	fs->table_done_ms = loop_now_ms();
	if (!answered) {
		fs->waits_timed_out++;
		fprintf(stderr, "lbd: flow sync: no peer's table within %llu ms\n",
			(unsigned long long)(fs->table_done_ms - fs->table_asked_ms));
	}
	if (fs->refetch) {
		fs->refetch = false;
		ask_all(fs);
		return;
	}
	fs->m.ready(fs->m.arg);
}

static void ask(struct flowsync *fs, struct fs_peer *p, __u32 req)
{
	p->ask_req = req;
	p->ask_since_ms = loop_now_ms();
	p->ask_applied = p->flows_applied;
	p->ask_rejected = p->flows_rejected;
	send_hello(fs, p);
}

/* A message with a valid MAC from p: is it new?  Sets *fresh for a peer
 * heard again after silence or restarted, *gap for lost messages. */
static enum fs_reject accept_seq(struct flowsync *fs, struct fs_peer *p, const struct fs_header *h,
				 bool *fresh, bool *gap)
{
	__u64 boot = be64toh(h->boot), seq = be64toh(h->seq), t = be64toh(h->time_ms), now = real_ms();

	(void)fs;
	*fresh = *gap = false;
	if (!p->rx_known || boot != p->rx_boot) {
		if (p->rx_known && t <= p->rx_time_ms)
			return FS_REJ_REPLAY; /* an older boot's message */
		if (t + FS_SKEW_MS < now || t > now + FS_SKEW_MS)
			return FS_REJ_CLOCK;
		*fresh = true;
		p->rx_boot = boot;
		p->rx_known = true;
	} else if (seq <= p->rx_seq) {
		return FS_REJ_REPLAY;
	} else if (seq > p->rx_seq + 1) {
		*gap = true;
	}
	p->rx_seq = seq;
	p->rx_time_ms = t;
	return FS_REJ_MAX;
}

static void receive(struct flowsync *fs, const void *msg, size_t len,
		    const struct sockaddr_in6 *from)
{
	const struct fs_header *h = msg;
	const struct fs_entry *e = (const void *)(h + 1);
	struct fs_peer *p;
	enum fs_reject r;
	bool fresh, gap;
	unsigned int i, n;
	__u32 req;

	if (fs_check_format(msg, len)) {
		fs->rejected[FS_REJ_FORMAT]++;
		return;
	}
	if (!fs_verify(msg, len, fs->key)) {
		fs->rejected[FS_REJ_MAC]++;
		return;
	}
	p = peer_find(fs, from);
	if (!p) {
		p = peer_add(fs, from, false);
		if (!p) {
			fs->rejected[FS_REJ_PEERS_FULL]++;
			return;
		}
		fprintf(stderr, "lbd: flow sync: new peer %s (a valid message)\n", p->name);
	}
	r = accept_seq(fs, p, h, &fresh, &gap);
	if (r != FS_REJ_MAX) {
		fs->rejected[r]++;
		return;
	}
	fs->msgs_received++;
	p->heard_ms = loop_now_ms();
	if (!p->up || fresh) {
		/* back after silence, or restarted: it missed what we sent */
		fprintf(stderr, "lbd: flow sync: peer %s up%s; sending it our table\n", p->name,
			fresh && p->up ? " (restarted)" : "");
		p->up = true;
		dump_start(fs, p, 0);
	}
	if (gap && !p->ask_req && p->heard_ms - p->gap_ask_ms >= FS_GAP_ASK_MS) {
		p->gap_ask_ms = p->heard_ms;
		ask(fs, p, ++fs->req_seq);
	}
	req = ntohl(h->req);
	n = ntohs(h->count);
	switch (h->type) {
	case FS_HELLO:
		if ((ntohl(h->flags) & FS_F_WANT_TABLE) && req &&
		    !(p->dumping && p->dump_req == req))
			dump_start(fs, p, req);
		break;
	case FS_FLOWS:
	case FS_TABLE:
		for (i = 0; i < n; i++)
			apply(fs, p, &e[i]);
		if (h->type == FS_TABLE && req && req == fs->table_req)
			fs->table_deadline_ms = p->heard_ms + FS_TABLE_WAIT_MS; /* progress */
		break;
	case FS_TABLE_END:
		p->tables_received++;
		fs->tables_received++;
		if (req && p->ask_req == req) {
			p->ask_req = 0;
			fprintf(stderr, "lbd: flow sync: table of %s in %llu ms: %llu flows applied, "
				"%llu refused (no such VIP or backend here)\n", p->name,
				(unsigned long long)(p->heard_ms - p->ask_since_ms),
				(unsigned long long)(p->flows_applied - p->ask_applied),
				(unsigned long long)(p->flows_rejected - p->ask_rejected));
		}
		if (req && req == fs->table_req)
			table_done(fs, true);
		break;
	}
}

static void on_readable(struct loop_fd *lf, uint32_t events)
{
	struct flowsync *fs = container_of(lf, struct flowsync, lf);
	__u8 buf[FS_MSG_MAX + 1];
	struct sockaddr_in6 from = { 0 };
	socklen_t fl;
	ssize_t n;
	int i;

	(void)events;
	for (i = 0; i < FS_RECV_PER_WAKE; i++) {
		fl = sizeof(from);
		n = recvfrom(fs->fd, buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *)&from, &fl);
		if (n < 0)
			break;
		if (fl != sizeof(from) || from.sin6_family != AF_INET6) {
			fs->rejected[FS_REJ_FORMAT]++;
			continue;
		}
		receive(fs, buf, (size_t)n, &from);
	}
}

/* ---- timers ---- */

static void on_poll(struct loop_timer *t)
{
	struct flowsync *fs = container_of(t, struct flowsync, poll);
	__u64 now = loop_now_ms();
	unsigned int i;

	ring_buffer__consume(fs->rb);
	live_flush(fs);
	for (i = 0; i < fs->n_peers; i++)
		if (fs->peers[i].dumping)
			dump_step(fs, &fs->peers[i]);
	if (fs->table_req &&
	    (now >= fs->table_deadline_ms || now - fs->table_asked_ms >= FS_TABLE_MAX_MS))
		table_done(fs, false);
	loop_timer_set(fs->loop, &fs->poll, FS_POLL_MS);
}

static void on_hello(struct loop_timer *t)
{
	struct flowsync *fs = container_of(t, struct flowsync, hello);
	__u64 now = loop_now_ms();
	unsigned int i;

	for (i = 0; i < fs->n_peers; i++) {
		struct fs_peer *p = &fs->peers[i];

		if (p->up && now - p->heard_ms > FS_DEAD_MS) {
			p->up = false;
			p->dumping = false; /* it will be sent the table when it is back */
			fprintf(stderr, "lbd: flow sync: peer %s down (silent for %llu ms)\n", p->name,
				(unsigned long long)(now - p->heard_ms));
		}
		if (p->ask_req && now - p->ask_since_ms > FS_TABLE_MAX_MS)
			p->ask_req = 0;
		send_hello(fs, p);
	}
	loop_timer_set(fs->loop, &fs->hello, FS_HELLO_MS);
}

/* Ask every peer for its table: a new request (dumps in progress restart). */
static void ask_all(struct flowsync *fs)
{
	__u64 now = loop_now_ms();
	unsigned int i;

	fs->table_req = ++fs->req_seq;
	fs->table_asked_ms = now;
	fs->table_deadline_ms = now + FS_TABLE_WAIT_MS;
	fs->n_refused = 0;
	for (i = 0; i < fs->n_peers; i++)
		ask(fs, &fs->peers[i], fs->table_req);
}

bool flowsync_ready(struct flowsync *fs, const union xdplb_addr *addr, __u8 family)
{
	__u64 now = loop_now_ms();

	if (!fs->n_peers)
		return true;
	if (fs->table_req)
		return false; /* asked; table_done() calls back */
	if (!fs->table_done_ms || now - fs->table_done_ms >= FS_READY_FRESH_MS) {
		ask_all(fs);
		return false;
	}
	if (!refused_has(fs, addr, family)) {
		fs->blocked_since_ms = 0;
		return true;
	}
	/* the peers have flows to this address that this node cannot place:
	 * its configuration is still being built (a backend not added yet);
	 * each change asks again (flowsync_config_changed) */
	if (!fs->blocked_since_ms)
		fs->blocked_since_ms = now;
	if (now - fs->blocked_since_ms < FS_CONVERGE_MS)
		return false;
	fs->blocked_since_ms = 0;
	fs->converge_timeouts++;
	fprintf(stderr, "lbd: flow sync: peers still have flows to an address of this node's "
		"for a VIP or backend it does not have, after %d s; announcing it anyway (compare "
		"`lbctl vip show` fingerprints)\n", FS_CONVERGE_MS / 1000);
	return true;
}

const char *flowsync_why(const struct flowsync *fs, const union xdplb_addr *addr, __u8 family)
{
	if (fs->table_req)
		return "waiting for the peers' flow tables (flow sync)";
	if (refused_has(fs, addr, family))
		return "peers have flows to it for a VIP or backend this node does not have";
	return NULL;
}

void flowsync_config_changed(struct flowsync *fs)
{
	if (!fs->n_refused)
		return;
	if (fs->table_req)
		fs->refetch = true; /* table_done() asks again */
	else
		ask_all(fs);
}

/* ---- open, close ---- */

static int read_key(const char *path, __u8 key[32], char *err, size_t errlen)
{
	__u8 buf[FS_KEY_FILE_MAX + 1];
	struct stat st;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return cfg_error(err, errlen, "--sync-key %s: %s", path, strerror(errno));
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		close(fd);
		return cfg_error(err, errlen, "--sync-key %s: not a regular file", path);
	}
	if (st.st_mode & (S_IRWXG | S_IRWXO)) {
		close(fd);
		return cfg_error(err, errlen, "--sync-key %s: readable by others than its owner "
				 "(chmod 600 it)", path);
	}
	n = read(fd, buf, sizeof(buf));
	close(fd);
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
		n--;
	if (n < FS_KEY_MIN || n > FS_KEY_FILE_MAX) {
		sodium_memzero(buf, sizeof(buf));
		return cfg_error(err, errlen, "--sync-key %s: %s (%d to %d bytes; e.g. head -c 32 "
				 "/dev/urandom | base64 > FILE)", path,
				 n < 0 ? strerror(errno) : n < FS_KEY_MIN ? "too short" : "too long",
				 FS_KEY_MIN, FS_KEY_FILE_MAX);
	}
	fs_key_derive(buf, (size_t)n, key);
	sodium_memzero(buf, sizeof(buf));
	return 0;
}

static int open_socket(struct flowsync *fs, char *err, size_t errlen)
{
	int off = 0, buf = 1 << 20;
	char name[INET6_ADDRSTRLEN + 8];

	fs->fd = socket(AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fs->fd < 0)
		return cfg_error(err, errlen, "flow sync socket: %s", strerror(errno));
	setsockopt(fs->fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off));
	setsockopt(fs->fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
	setsockopt(fs->fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
	if (bind(fs->fd, (struct sockaddr *)&fs->listen, sizeof(fs->listen))) {
		endpoint_name(&fs->listen, name, sizeof(name));
		return cfg_error(err, errlen, "flow sync: cannot listen on %s: %s", name,
				 strerror(errno));
	}
	fs->lf.fd = fs->fd;
	fs->lf.cb = on_readable;
	if (loop_add(fs->loop, &fs->lf, EPOLLIN))
		return cfg_error(err, errlen, "flow sync: %s", strerror(errno));
	return 0;
}

struct flowsync *flowsync_open(struct loop *l, struct dp *dp, const struct fs_config *cfg,
			       const struct fs_model *m, char *err, size_t errlen)
{
	struct flowsync *fs;
	struct sockaddr_in6 sa;
	unsigned int i;

	if (sodium_init() < 0) {
		cfg_error(err, errlen, "flow sync: libsodium cannot start");
		return NULL;
	}
	fs = calloc(1, sizeof(*fs));
	if (!fs) {
		cfg_error(err, errlen, "out of memory");
		return NULL;
	}
	fs->fd = -1;
	fs->loop = l;
	fs->dp = dp;
	fs->m = *m;
	fs->seed = cfg->seed;
	randombytes_buf(&fs->boot, sizeof(fs->boot));
	to_v6(&cfg->listen, &fs->listen);
	if (cfg->listen.ss_family == 0) { /* any address, FS_PORT */
		memset(&fs->listen, 0, sizeof(fs->listen));
		fs->listen.sin6_family = AF_INET6;
		fs->listen.sin6_port = htons(FS_PORT);
	}
	for (i = 0; i < cfg->n_peers; i++) {
		to_v6(&cfg->peers[i], &sa);
		if (!peer_find(fs, &sa))
			peer_add(fs, &sa, true);
	}
	out_start(&fs->live, FS_FLOWS);
	if (read_key(cfg->key_file, fs->key, err, errlen) || open_socket(fs, err, errlen))
		goto fail;
	fs->rb = ring_buffer__new(dp_flow_events_fd(dp), on_event, fs, NULL);
	if (!fs->rb) {
		cfg_error(err, errlen, "flow sync: cannot read the forwarder's flow reports: %s",
			  strerror(errno));
		goto fail;
	}
	ring_buffer__consume(fs->rb); /* reports of a previous lbd: their peers have them */
	fs->events = 0;
	fs->poll.cb = on_poll;
	fs->hello.cb = on_hello;
	loop_timer_set(l, &fs->poll, FS_POLL_MS);
	loop_timer_set(l, &fs->hello, 0);
	dp_sync_flows_set(dp, true);
	return fs;
fail:
	flowsync_close(fs);
	return NULL;
}

void flowsync_close(struct flowsync *fs)
{
	if (!fs)
		return;
	if (fs->dp && fs->dp->skel)
		dp_sync_flows_set(fs->dp, false);
	loop_timer_cancel(fs->loop, &fs->poll);
	loop_timer_cancel(fs->loop, &fs->hello);
	if (fs->fd >= 0) {
		if (fs->lf.cb)
			loop_del(fs->loop, &fs->lf);
		close(fs->fd);
	}
	ring_buffer__free(fs->rb);
	sodium_memzero(fs->key, sizeof(fs->key));
	free(fs);
}

/* ---- show, metrics ---- */

int flowsync_show(const struct flowsync *fs, bool json, struct strbuf *out)
{
	__u64 now = loop_now_ms();
	char name[INET6_ADDRSTRLEN + 8];
	unsigned int i, r;

	endpoint_name(&fs->listen, name, sizeof(name));
	if (json) {
		sb_printf(out, "{\"listen\":");
		sb_json_str(out, name);
		sb_printf(out, ",\"boot\":\"%016llx\",\"waiting_for_table\":%s,\"flows_sent\":%llu,"
			  "\"flows_received\":%llu,\"flows_applied\":%llu,\"flows_rejected\":%llu,"
			  "\"tables_sent\":%llu,\"tables_received\":%llu,\"send_errors\":%llu,"
			  "\"messages_rejected\":{",
			  (unsigned long long)fs->boot, fs->table_req ? "true" : "false",
			  (unsigned long long)fs->flows_sent, (unsigned long long)fs->flows_received,
			  (unsigned long long)fs->flows_applied,
			  (unsigned long long)fs->flows_rejected, (unsigned long long)fs->tables_sent,
			  (unsigned long long)fs->tables_received,
			  (unsigned long long)fs->send_errors);
		for (r = 0; r < FS_REJ_MAX; r++)
			sb_printf(out, "%s\"%s\":%llu", r ? "," : "", rej_names[r],
				  (unsigned long long)fs->rejected[r]);
		sb_printf(out, "},\"peers\":[");
	} else {
		sb_printf(out, "flow sync on %s, %u peer%s%s\n", name, fs->n_peers,
			  fs->n_peers == 1 ? "" : "s",
			  fs->table_req ? "; asking the peers for their tables" : "");
		sb_printf(out, "%-46s %-5s %-10s %10s %10s %10s %10s\n", "PEER", "STATE", "HEARD",
			  "SENT", "RECEIVED", "APPLIED", "REJECTED");
	}
	for (i = 0; i < fs->n_peers; i++) {
		const struct fs_peer *p = &fs->peers[i];
		char heard[32];

		if (p->heard_ms)
			snprintf(heard, sizeof(heard), "%.1fs ago", (double)(now - p->heard_ms) / 1000);
		else
			snprintf(heard, sizeof(heard), "never");
		if (json) {
			sb_printf(out, "%s{\"peer\":", i ? "," : "");
			sb_json_str(out, p->name);
			sb_printf(out, ",\"up\":%s,\"configured\":%s,\"heard_s\":%.1f,\"flows_sent\":%llu,"
				  "\"flows_received\":%llu,\"flows_applied\":%llu,"
				  "\"flows_rejected\":%llu,\"tables_sent\":%llu,\"tables_received\":%llu}",
				  p->up ? "true" : "false", p->configured ? "true" : "false",
				  p->heard_ms ? (double)(now - p->heard_ms) / 1000 : -1.0,
				  (unsigned long long)p->flows_sent,
				  (unsigned long long)p->flows_received,
				  (unsigned long long)p->flows_applied,
				  (unsigned long long)p->flows_rejected,
				  (unsigned long long)p->tables_sent,
				  (unsigned long long)p->tables_received);
		} else {
			sb_printf(out, "%-46s %-5s %-10s %10llu %10llu %10llu %10llu\n", p->name,
				  p->up ? "up" : "down", heard, (unsigned long long)p->flows_sent,
				  (unsigned long long)p->flows_received,
				  (unsigned long long)p->flows_applied,
				  (unsigned long long)p->flows_rejected);
		}
	}
	if (json)
		sb_printf(out, "]}\n");
	return 0;
}

void flowsync_metrics(const struct flowsync *fs, struct strbuf *out)
{
	static const struct {
		const char *name, *help;
		size_t off;
	} c[] = {
		{ "xdplb_sync_flows_sent_total", "Flows sent to peers (each peer counts).",
		  offsetof(struct flowsync, flows_sent) },
		{ "xdplb_sync_flows_received_total", "Flows received from peers.",
		  offsetof(struct flowsync, flows_received) },
		{ "xdplb_sync_flows_applied_total",
		  "Flows received that the flow table now holds (written, or known already).",
		  offsetof(struct flowsync, flows_applied) },
		{ "xdplb_sync_flows_rejected_total",
		  "Flows received for a VIP or backend this node does not have.",
		  offsetof(struct flowsync, flows_rejected) },
		{ "xdplb_sync_tables_sent_total", "Whole flow tables sent to a peer.",
		  offsetof(struct flowsync, tables_sent) },
		{ "xdplb_sync_tables_received_total", "Whole flow tables received from a peer.",
		  offsetof(struct flowsync, tables_received) },
		{ "xdplb_sync_send_errors_total", "Messages the socket refused to send.",
		  offsetof(struct flowsync, send_errors) },
		{ "xdplb_sync_table_waits_timed_out_total",
		  "Requests for the peers' tables that no peer answered in time.",
		  offsetof(struct flowsync, waits_timed_out) },
		{ "xdplb_sync_converge_timeouts_total",
		  "Addresses announced although peers had flows to them this node could not place "
		  "(after 10 s).",
		  offsetof(struct flowsync, converge_timeouts) },
	};
	struct strbuf lab;
	unsigned int i;

	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		mx_family(out, c[i].name, MX_COUNTER, c[i].help);
		mx_u64(out, c[i].name, NULL, *(const __u64 *)((const char *)fs + c[i].off));
	}
	sb_init(&lab, 0);
	mx_family(out, "xdplb_sync_messages_rejected_total", MX_COUNTER,
		  "Messages refused: format, mac (wrong key or tampered), replay, clock (a new "
		  "sender more than 5 minutes off), peers_full.");
	for (i = 0; i < FS_REJ_MAX; i++) {
		sb_reset(&lab);
		mx_label(&lab, "reason", rej_names[i]);
		mx_u64(out, "xdplb_sync_messages_rejected_total", sb_str(&lab), fs->rejected[i]);
	}
	mx_family(out, "xdplb_sync_peer_up", MX_GAUGE,
		  "1 while the peer is heard (a message within the last 3 s).");
	for (i = 0; i < fs->n_peers; i++) {
		sb_reset(&lab);
		mx_label(&lab, "peer", fs->peers[i].name);
		mx_u64(out, "xdplb_sync_peer_up", sb_str(&lab), fs->peers[i].up);
	}
	mx_family(out, "xdplb_sync_waiting_for_table", MX_GAUGE,
		  "1 while a request for the peers' flow tables is unanswered.");
	mx_u64(out, "xdplb_sync_waiting_for_table", NULL, fs->table_req != 0);
	sb_free(&lab);
}
