/* SPDX-License-Identifier: GPL-2.0 */
/* flowsync.h - flow-state sync between LB nodes (lbd --sync-peer).
 *
 * Each node sends the flows its forwarder establishes (5-tuple and the
 * backend's address, never its local id) to its peers, which write them
 * into their own established tables: when the routers' ECMP moves a
 * connection to another node (a node lost, drained, returning or joining),
 * that node already knows its backend.  A node asks its peers for their
 * whole tables before it announces an address it did not announce (start,
 * undrain, a VIP that became serving), and whenever messages from a peer
 * were lost; a peer that comes back (or restarts) is sent the whole table.
 *
 * Wire format (UDP, default port FS_PORT): a header, up to FS_ENTRIES_MAX
 * entries, and an HMAC-SHA256 (libsodium) of both under the shared key
 * (--sync-key FILE).  A message is accepted only with a valid MAC, from a
 * sender boot id and sequence number newer than the last accepted (replays
 * are refused); a valid message from an address that is not a configured
 * peer makes it a peer (a node joining needs no change on the others).
 * See README "Flow sync" for what it covers and what it does not.
 */
#ifndef XDPLB_FLOWSYNC_H
#define XDPLB_FLOWSYNC_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "dataplane.h"
#include "loop.h"
#include "strbuf.h"

#define FS_PORT 6078
#define FS_MAX_PEERS 32
#define FS_KEY_MIN 16 /* bytes in the key file, at least */

/* How lbd's model answers flowsync's two questions (ids are node-local). */
struct fs_model {
	/* The address of backend id be_id; -1 if the id is unused. */
	int (*backend_addr)(void *arg, __u32 be_id, union xdplb_addr *addr, __u8 *family);
	/* The local VIP id and backend id for a flow to VIP `vip` (exact key;
	 * the port-wildcard VIP if none) going to backend address `be`;
	 * -1 if this node has no such VIP or backend. */
	int (*ids)(void *arg, const struct xdplb_vip_key *vip, const union xdplb_addr *be,
		   __u8 be_family, __u32 *vip_id, __u32 *be_id);
	/* A table asked for before announcing (flowsync_ready) came in. */
	void (*ready)(void *arg);
	void *arg;
};

struct fs_config {
	const char *key_file;
	struct sockaddr_storage listen;		  /* port FS_PORT unless given */
	struct sockaddr_storage peers[FS_MAX_PEERS]; /* configured (--sync-peer) */
	unsigned int n_peers;
	__u32 seed; /* the forwarder's flow hash seed */
};

struct flowsync;

/* A peer (or, any_ok, a listen address, which may be unspecified):
 * "ADDR", "[IPV6]", "ADDR:PORT" or "[IPV6]:PORT" (addr_port_parse), port
 * FS_PORT when not given.  Returns 0, or -1 with a message in err. */
int fs_parse_endpoint(const char *s, bool any_ok, struct sockaddr_storage *ss, char *err,
		      size_t errlen);

/* Read the key, open the socket, start the timers and turn the forwarder's
 * flow reports on.  NULL with a message in err on failure. */
struct flowsync *flowsync_open(struct loop *l, struct dp *dp, const struct fs_config *cfg,
			       const struct fs_model *m, char *err, size_t errlen);
/* Turns the forwarder's reports off (a next lbd turns them on again). */
void flowsync_close(struct flowsync *fs);

/* Before announcing an address that is not announced: true when the
 * peers' tables came in within the last moment (FS_READY_FRESH_MS) and
 * held no flow to this address that this node could not place (a VIP or
 * backend it does not have yet: its configuration is being built), or
 * there is nobody to ask; otherwise false, having asked the peers if no
 * request is in flight: m->ready is called when the first table is
 * complete, or after FS_TABLE_WAIT_MS without an answer.  An address with
 * unplaceable flows waits for configuration changes (each asks again) for
 * FS_CONVERGE_MS at most. */
bool flowsync_ready(struct flowsync *fs, const union xdplb_addr *addr, __u8 family);
/* Why flowsync_ready() holds this address back, or NULL. */
const char *flowsync_why(const struct flowsync *fs, const union xdplb_addr *addr, __u8 family);

/* The configuration changed: if flows were refused since the peers were
 * last asked for their tables (a VIP or backend this node did not have
 * yet), ask them again (once the request in flight is answered). */
void flowsync_config_changed(struct flowsync *fs);

int flowsync_show(const struct flowsync *fs, bool json, struct strbuf *out);
void flowsync_metrics(const struct flowsync *fs, struct strbuf *out);

/* ---- the wire format, for tests and the fuzzer ---- */

#define FS_MAGIC 0x584c4253u /* "XLBS" */
#define FS_VERSION 1
#define FS_MAC_BYTES 32
#define FS_ENTRIES_MAX 20 /* 40 + 20 * 56 + 32 = 1192 bytes: fits any path MTU >= 1280 */

enum fs_type {
	FS_HELLO = 1,	   /* every FS_HELLO_MS; may ask for the table (FS_F_WANT_TABLE) */
	FS_FLOWS = 2,	   /* flows just established at the sender */
	FS_TABLE = 3,	   /* a part of the sender's table, sent on request */
	FS_TABLE_END = 4, /* the table is complete (req names the request) */
};

enum {
	FS_F_WANT_TABLE = 1u << 0,
};

struct fs_header {
	__be32 magic;
	__u8 version;
	__u8 type;
	__be16 count; /* entries that follow */
	__be32 flags;
	__be32 req;	 /* table request id: in a hello asking, echoed by TABLE/END */
	__be64 boot;	 /* the sender's random id, new at every start */
	__be64 seq;	 /* per sender and receiver, from 1 */
	__be64 time_ms; /* the sender's CLOCK_REALTIME */
};

struct fs_entry {
	__u8 family; /* the flow's (the VIP's) */
	__u8 proto;
	__u8 be_family;
	__u8 pad;
	union xdplb_addr src, dst;
	__be16 sport, dport;
	union xdplb_addr backend;
};

_Static_assert(sizeof(struct fs_header) == 40, "fs_header");
_Static_assert(sizeof(struct fs_entry) == 56, "fs_entry");
#define FS_MSG_MAX (sizeof(struct fs_header) + FS_ENTRIES_MAX * sizeof(struct fs_entry) + \
		    FS_MAC_BYTES)

/* Check a message's format (not its MAC): 0, or a reason (static text). */
const char *fs_check_format(const void *msg, size_t len);
/* Is this entry one a node could apply (families, protocol, addresses)? */
bool fs_entry_ok(const struct fs_entry *e);
/* Derive the 32-byte MAC key from the key file's bytes. */
void fs_key_derive(const void *secret, size_t len, __u8 key[32]);
void fs_seal(void *msg, size_t len_without_mac, const __u8 key[32]);
bool fs_verify(const void *msg, size_t len, const __u8 key[32]);

#endif /* XDPLB_FLOWSYNC_H */
