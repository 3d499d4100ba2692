// SPDX-License-Identifier: GPL-2.0
/* lbd.c - the daemon: options, start-up (state file, pinned datapath,
 * attach), the event loop, and a clean stop that leaves forwarding on. */
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <libgen.h>
#include <limits.h>
#include <net/if.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <linux/magic.h>

#include "adopt.h"
#include "announce.h"
#include "commands.h"
#include "ctl.h"
#include "http.h"
#include "lbd.h"
#include "log.h"
#include "neigh.h"
#include "node.h"
#include "pinlock.h"
#include "sync.h"
#include "textform.h"

#define LBD_SEED 0x786c6231u /* flow hash seed: the same on every LB node */

static struct lbd *the_lbd;

static void usage(FILE *f)
{
	fprintf(f,
		"usage: lbd --iface IF [--xdp-mode auto|native|generic] [--socket PATH]\n"
		"           [--socket-group GROUP] [--state PATH] [--pin DIR] [--metrics ADDR:PORT|none] [--flows N]\n"
		"           [--announce-table N] [--sync-key FILE [--sync-peer ADDR[:PORT]]...\n"
		"           [--sync-listen ADDR[:PORT]]] [-v]\n"
		"       lbd --iface IF [--pin DIR] [--announce-table N] --detach\n"
		"defaults: socket /run/xdplb/lbd.sock, state /var/lib/xdplb/state,\n"
		"          pin /sys/fs/bpf/xdplb, metrics 127.0.0.1:9469, flows 1048576\n");
}

/* A group by name or number. */
static int parse_group(const char *s, gid_t *gid)
{
	struct group *g = getgrnam(s);
	__u32 n;

	if (g) {
		*gid = g->gr_gid;
		return 0;
	}
	if (parse_u32(s, 0, 0x7fffffff, &n))
		return -1;
	*gid = (gid_t)n;
	return 0;
}

static int parse_opts(int argc, char **argv, struct lbd_opts *o, bool *detach)
{
	static const struct option lo[] = {
		{ "iface", required_argument, 0, 'i' }, { "xdp-mode", required_argument, 0, 'm' },
		{ "socket", required_argument, 0, 's' }, { "state", required_argument, 0, 'S' },
		{ "socket-group", required_argument, 0, 'g' },
		{ "pin", required_argument, 0, 'p' },	 { "metrics", required_argument, 0, 'M' },
		{ "flows", required_argument, 0, 'f' },	 { "detach", no_argument, 0, 'd' },
		{ "announce-table", required_argument, 0, 'A' },
		{ "sync-key", required_argument, 0, 'K' }, { "sync-peer", required_argument, 0, 'P' },
		{ "sync-listen", required_argument, 0, 'L' },
		{ "verbose", no_argument, 0, 'v' },	 { "help", no_argument, 0, 'h' },
		{ 0, 0, 0, 0 }
	};
	struct sockaddr_storage ss;
	char err[256];
	int c;

	while ((c = getopt_long(argc, argv, "vh", lo, NULL)) != -1) {
		switch (c) {
		case 'i': o->iface = optarg; break;
		case 's': o->socket_path = optarg; break;
		case 'g':
			if (parse_group(optarg, &o->socket_gid))
				return fprintf(stderr, "lbd: --socket-group: no group \"%s\"\n", optarg), -1;
			o->socket_group = optarg;
			break;
		case 'S': o->state_path = optarg; break;
		case 'p': o->pin_root = optarg; break;
		case 'M':
			o->metrics = optarg;
			if (strcmp(optarg, "none") && http_parse_listen(optarg, &ss, err, sizeof(err)))
				return fprintf(stderr, "lbd: --metrics: %s\n", err), -1;
			break;
		case 'd': *detach = true; break;
		case 'A':
			if (parse_u32(optarg, 1, 0xfffffffeu, &o->announce_table) ||
			    (o->announce_table >= 253 && o->announce_table <= 255))
				return fprintf(stderr, "lbd: bad --announce-table \"%s\" (1-4294967294, "
					       "not 253-255: default, main, local)\n", optarg), -1;
			break;
		case 'K': o->sync.key_file = optarg; break;
		case 'P':
			if (o->sync.n_peers == FS_MAX_PEERS)
				return fprintf(stderr, "lbd: more than %d --sync-peer\n", FS_MAX_PEERS), -1;
			if (fs_parse_endpoint(optarg, false, &o->sync.peers[o->sync.n_peers], err,
					      sizeof(err)))
				return fprintf(stderr, "lbd: --sync-peer: %s\n", err), -1;
			o->sync.n_peers++;
			break;
		case 'L':
			if (fs_parse_endpoint(optarg, true, &o->sync.listen, err, sizeof(err)))
				return fprintf(stderr, "lbd: --sync-listen: %s\n", err), -1;
			break;
		case 'v': o->verbose = true; break;
		case 'h': usage(stdout); exit(0);
		case 'm':
			if (!strcmp(optarg, "auto"))
				o->mode = DP_XDP_AUTO;
			else if (!strcmp(optarg, "native"))
				o->mode = DP_XDP_NATIVE;
			else if (!strcmp(optarg, "generic"))
				o->mode = DP_XDP_GENERIC;
			else
				return fprintf(stderr, "lbd: bad --xdp-mode \"%s\" (auto, native, generic)\n", optarg), -1;
			break;
		case 'f':
			if (parse_u32(optarg, 1024, 1u << 28, &o->flows))
				return fprintf(stderr, "lbd: bad --flows \"%s\" (1024-268435456)\n", optarg), -1;
			break;
		default:
			usage(stderr);
			return -1;
		}
	}
	if ((o->sync.n_peers || o->sync.listen.ss_family) && !o->sync.key_file)
		return fprintf(stderr, "lbd: --sync-peer and --sync-listen need --sync-key FILE (the "
			       "key shared by the nodes)\n"), -1;
	if (optind < argc || !o->iface) {
		fprintf(stderr, "lbd: %s\n", optind < argc ? "unexpected argument" : "--iface is required");
		usage(stderr);
		return -1;
	}
	return 0;
}

static int mkdir_p(const char *path, mode_t mode)
{
	char buf[PATH_MAX], *p;

	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
		return -ENAMETOOLONG;
	for (p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(buf, mode) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	return mkdir(buf, mode) && errno != EEXIST ? -errno : 0;
}

static int parent_dir(const char *path, mode_t mode)
{
	char buf[PATH_MAX];

	snprintf(buf, sizeof(buf), "%s", path);
	return mkdir_p(dirname(buf), mode);
}

static const char *fs_name(long type)
{
	switch (type) {
	case TMPFS_MAGIC: return "tmpfs";
	case EXT4_SUPER_MAGIC: return "ext2/3/4";
	case SYSFS_MAGIC: return "sysfs";
	case PROC_SUPER_MAGIC: return "proc";
	case BTRFS_SUPER_MAGIC: return "btrfs";
	case OVERLAYFS_SUPER_MAGIC: return "overlayfs";
	}
	return "a filesystem that is not a bpffs";
}

/* 1: lbd runs in a mount namespace of its own (ip netns exec, systemd's
 * PrivateMounts=), where what it mounts goes away with the namespace;
 * 0: it runs in init's; -1: it cannot tell (init's namespace unreadable). */
static int private_mount_ns(void)
{
	struct stat self, init;

	if (stat("/proc/self/ns/mnt", &self) || stat("/proc/1/ns/mnt", &init))
		return -1;
	return self.st_ino != init.st_ino || self.st_dev != init.st_dev;
}

#define SYS_BPFFS "/sys/fs/bpf"

/* The pin root must be on a bpffs, or the pinned datapath would neither
 * outlive lbd nor be adopted by the next one.  Only the system's own place
 * (/sys/fs/bpf, where systemd normally mounts one) is mounted if missing,
 * and only from the host's mount namespace; anything else is refused with
 * what to do. */
static int ensure_bpffs(const char *dir)
{
	char at[PATH_MAX];
	long type = 0;
	int bpffs = pin_dir_on_bpffs(dir, &type, at, sizeof(at)), err, priv;
	bool sys = !strncmp(dir, SYS_BPFFS, strlen(SYS_BPFFS)) &&
		   (!dir[strlen(SYS_BPFFS)] || dir[strlen(SYS_BPFFS)] == '/');

	if (bpffs < 0) {
		fprintf(stderr, "lbd: --pin %s: %s\n", dir, strerror(-bpffs));
		return bpffs;
	}
	if (!bpffs && (!sys || strcmp(at, SYS_BPFFS))) {
		fprintf(stderr,
			"lbd: --pin %s is not on a bpffs (%s is on %s): pinned maps and links "
			"cannot live there, so the datapath would neither outlive lbd nor be "
			"adopted by the next one; mount one first (mkdir -p %s && mount -t bpf bpf "
			"%s) or use a directory under " SYS_BPFFS "\n",
			dir, at, fs_name(type), dir, dir);
		return -ENOTSUP;
	}
	priv = !bpffs ? private_mount_ns() : 0;
	if (priv) {
		fprintf(stderr,
			"lbd: no bpffs at " SYS_BPFFS " and lbd %s: a bpffs mounted from here "
			"could vanish with lbd and take the datapath with it; mount one in the "
			"host's namespace (mount -t bpf bpf " SYS_BPFFS ") or pass --pin DIR on "
			"a bpffs\n",
			priv > 0 ? "runs in a mount namespace of its own (ip netns exec, systemd "
				   "PrivateMounts=)"
				 : "cannot tell whether it runs in the host's mount namespace "
				   "(/proc/1/ns/mnt is not readable)");
		return -ENOTSUP;
	}
	if (!bpffs) {
		if (mount("bpf", SYS_BPFFS, "bpf", 0, "mode=0700")) {
			err = -errno;
			fprintf(stderr, "lbd: no bpffs at " SYS_BPFFS " and mounting one failed: %s\n",
				strerror(errno));
			return err;
		}
		lbd_log("mounted a bpffs at " SYS_BPFFS);
	}
	err = mkdir_p(dir, 0700);
	if (err)
		fprintf(stderr, "lbd: cannot create %s: %s\n", dir, strerror(-err));
	return err;
}

static int load_state(struct lbd *d)
{
	FILE *f = fopen(d->o.state_path, "r");
	char err[512];
	int ret;

	if (!f && errno == ENOENT)
		return 0;
	if (!f) {
		fprintf(stderr, "lbd: cannot read state file %s: %s\n", d->o.state_path,
			strerror(errno));
		return -1;
	}
	ret = model_load(&d->model, f, err, sizeof(err));
	fclose(f);
	if (ret) {
		fprintf(stderr, "lbd: state file %s: %s (nothing applied)\n", d->o.state_path, err);
		return -1;
	}
	lbd_log("state %s: %u VIPs, %u backends", d->o.state_path, d->model.n_vips,
		d->model.n_backends);
	return 0;
}

/* Outer source addresses and MTU come from the interface: cfg's mtu, src4
 * and src6 (the first IPv4 address, the first IPv6 one that is not
 * link-local; 0 when there is none). */
static void iface_config(struct lbd *d, struct xdplb_config *cfg)
{
	struct ifaddrs *ifa, *i;
	char path[128], line[32];
	__u32 mtu = 1500;
	FILE *f;

	/* 1500 if unreadable; at most 65535 (lo has 65536, which a __u16
	 * would make 0) */
	snprintf(path, sizeof(path), "/sys/class/net/%s/mtu", d->o.iface);
	f = fopen(path, "r");
	if (f) {
		if (fgets(line, sizeof(line), f)) {
			line[strcspn(line, "\n")] = 0;
			if (parse_u32(line, 68, UINT32_MAX, &mtu))
				mtu = 1500;
		}
		fclose(f);
	}
	cfg->mtu = (__u16)(mtu > 65535 ? 65535 : mtu);
	cfg->src4 = 0;
	memset(&cfg->src6, 0, sizeof(cfg->src6));
	if (getifaddrs(&ifa))
		return;
	for (i = ifa; i; i = i->ifa_next) {
		if (!i->ifa_addr || strcmp(i->ifa_name, d->o.iface))
			continue;
		if (i->ifa_addr->sa_family == AF_INET && !cfg->src4)
			cfg->src4 = ((struct sockaddr_in *)i->ifa_addr)->sin_addr.s_addr;
		if (i->ifa_addr->sa_family == AF_INET6 && !cfg->src6.v6[0] &&
		    !IN6_IS_ADDR_LINKLOCAL(&((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr))
			memcpy(&cfg->src6, &((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr, 16);
	}
	freeifaddrs(ifa);
}

/* An outer source as text: "none" for 0. */
static const char *src_text(const union xdplb_addr *a, __u8 family, char *buf, size_t len)
{
	static const union xdplb_addr none;

	if (!memcmp(a, &none, family == XDPLB_AF_INET ? 4 : 16))
		return "none";
	return addr_format(a, family, buf, len);
}

/* "MTU 1500 -> 1400, outer IPv4 source 10.0.0.2 -> none, ..." */
static void config_changes(const struct xdplb_config *was, const struct xdplb_config *now,
			   struct strbuf *out)
{
	union xdplb_addr a = { .v4 = was->src4 }, b = { .v4 = now->src4 };
	char s0[XDPLB_ADDR_STRLEN], s1[XDPLB_ADDR_STRLEN];

	if (was->mtu != now->mtu)
		sb_printf(out, "MTU %u -> %u", was->mtu, now->mtu);
	if (was->src4 != now->src4)
		sb_printf(out, "%souter IPv4 source %s -> %s", out->len ? ", " : "",
			  src_text(&a, XDPLB_AF_INET, s0, sizeof(s0)),
			  src_text(&b, XDPLB_AF_INET, s1, sizeof(s1)));
	if (memcmp(&was->src6, &now->src6, sizeof(now->src6)))
		sb_printf(out, "%souter IPv6 source %s -> %s", out->len ? ", " : "",
			  src_text(&was->src6, XDPLB_AF_INET6, s0, sizeof(s0)),
			  src_text(&now->src6, XDPLB_AF_INET6, s1, sizeof(s1)));
}

/* The interface's link or addresses changed (neigh.c): write what the
 * forwarder takes from it into the config map if it differs, and say so. */
static void iface_refresh(struct lbd *d)
{
	struct xdplb_config cur, cfg;
	int err = dp_config_get(&d->dp, &cur);
	struct strbuf msg;

	if (err) {
		lbd_log("interface %s changed, but the forwarder's configuration cannot be read: %s",
			d->o.iface, strerror(-err));
		return;
	}
	cfg = cur;
	iface_config(d, &cfg);
	if (!memcmp(&cfg, &cur, sizeof(cfg)))
		return;
	err = dp_config_set(&d->dp, &cfg);
	if (err) {
		lbd_log("interface %s changed, but the forwarder's configuration cannot be written "
			"(the old MTU and sources stay until the next change): %s",
			d->o.iface, strerror(-err));
		return;
	}
	sb_init(&msg, 512);
	config_changes(&cur, &cfg, &msg);
	lbd_log("interface %s: %s", d->o.iface, sb_str(&msg));
	sb_free(&msg);
}

/* The interface went away (deleted, its driver unloaded, its namespace
 * gone), and the kernel detached the XDP program with it.  lbd exits with
 * status 1 (a failure: systemd's Restart=on-failure tries again) after
 * saying so, rather than answer lbctl as if it still forwarded.  The state
 * file and the pinned maps stay; the dead link's pin goes, so that lbd
 * started on the interface once it is back attaches anew. */
static bool iface_gone(struct lbd *d)
{
	char name[IF_NAMESIZE], path[PATH_MAX];

	if (if_indextoname((unsigned int)d->ifindex, name) || errno != ENXIO)
		return false;
	lbd_log("interface %s (index %d) was removed, and its XDP program with it: nothing "
		"is forwarded any more; exiting (status 1).  The configuration (%s) and the "
		"pinned maps are kept: start lbd again once %s is back",
		d->o.iface, d->ifindex, d->o.state_path, d->o.iface);
	if (snprintf(path, sizeof(path), "%s/link", d->pin_dir) < (int)sizeof(path))
		unlink(path);
	d->exit_status = 1;
	d->stop = 1;
	return true;
}

static void neigh_changed(void *arg, unsigned int what)
{
	struct lbd *d = arg;

	if (iface_gone(d))
		return;
	if (what & NEIGH_CHANGED_IFACE)
		iface_refresh(d);
	sync_neigh_changed(d->sync, what);
}

static int open_datapath(struct lbd *d)
{
	struct dp_opts o = { .flows = d->o.flows, .pin_dir = d->pin_dir };
	struct xdplb_config cfg = { 0 };
	int err = mkdir_p(d->pin_dir, 0700);

	if (!err)
		err = dp_open(&d->dp, &o);
	if (err) {
		fprintf(stderr,
			"lbd: cannot load the forwarder%s: %s%s\n", err == -EINVAL ? " (pinned maps in "
			"the way?)" : "", strerror(-err),
			err == -EINVAL ? "; if --flows changed, run lbd --detach first" : "");
		return err;
	}
	cfg.seed = LBD_SEED;
	d->o.sync.seed = LBD_SEED;
	cfg.gue_port = htons(XDPLB_GUE_PORT);
	iface_config(d, &cfg);
	err = dp_config_set(&d->dp, &cfg);
	if (!err && dp_adopted(&d->dp)) {
		lbd_log("adopting the pinned datapath in %s%s", d->pin_dir,
			d->dp.pins_created ? " (with maps new to this version, created empty)" : "");
		err = adopt_ids(&d->dp, &d->model, d->sync);
	}
	return err;
}

static int attach(struct lbd *d)
{
	char warn[256], err[512];
	enum dp_xdp_mode used;
	int ret = dp_attach(&d->dp, d->ifindex, d->pin_dir, d->o.mode, &used, warn, sizeof(warn),
			    err, sizeof(err));

	if (ret) {
		fprintf(stderr, "lbd: %s\n", err);
		return ret;
	}
	if (warn[0])
		lbd_log("warning: %s", warn);
	lbd_log("forwarding on %s (%s)", d->o.iface,
		used == DP_XDP_AUTO ? "program replaced in the pinned link, no packet dropped"
		: used == DP_XDP_NATIVE ? "native XDP" : "generic XDP");
	return 0;
}

/* lbd --detach --announce-table N: withdraw every route lbd wrote there. */
static int withdraw_all(__u32 table)
{
	struct announce *a;
	char err[256];
	__u32 changed = 0;
	int ret;

	a = announce_open(table, err, sizeof(err));
	ret = a ? announce_set(a, NULL, 0, &changed, err, sizeof(err)) : -1;
	announce_close(a);
	if (ret)
		return fprintf(stderr, "lbd: --announce-table: %s\n", err), -1;
	lbd_log("withdrew %u route%s from table %u", changed, changed == 1 ? "" : "s", table);
	return 0;
}

static void on_signal(int sig)
{
	(void)sig;
	if (the_lbd)
		the_lbd->stop = 1;
}

static void synced(void *arg)
{
	lbd_announce(arg);
}

static int open_sync(struct lbd *d)
{
	struct sync_env env = { .loop = d->loop, .dp = &d->dp, .model = &d->model,
				.neigh = d->neigh, .ifindex = d->ifindex,
				.verbose = d->o.verbose, .synced = synced, .arg = d };

	d->sync = sync_open(&env);
	return d->sync ? 0 : -ENOMEM;
}

static int start(struct lbd *d)
{
	char err[512];

	if (!(d->loop = loop_new()) ||
	    counters_init(&d->counters, &d->dp, &d->model, lbd_log) ||
	    counters_start(&d->counters, d->loop))
		return fprintf(stderr, "lbd: out of memory\n"), -1;
	/* the metrics port first: if it is taken, nothing else has changed */
	if (mon_start(d, strcmp(d->o.metrics, "none") ? d->o.metrics : NULL, err, sizeof(err)))
		return fprintf(stderr, "lbd: %s\n", err), -1;
	if (d->mon.http)
		lbd_log("metrics on http://%s/metrics (port %u)", d->o.metrics, mon_port(d));
	/* sync asks it for next hops (its events are read once the loop runs) */
	d->neigh = neigh_open(d->loop, neigh_changed, d, err, sizeof(err));
	if (!d->neigh)
		return fprintf(stderr, "lbd: %s\n", err), -1;
	if (open_sync(d))
		return fprintf(stderr, "lbd: out of memory\n"), -1;
	if (load_state(d) || open_datapath(d))
		return -1;
	if (d->o.announce_table) {
		d->announce = announce_open(d->o.announce_table, err, sizeof(err));
		if (!d->announce)
			return fprintf(stderr, "lbd: --announce-table: %s\n", err), -1;
		lbd_log("announcing serving VIP addresses in routing table %u%s",
			d->o.announce_table, d->model.drained ? " (node drained: none)" : "");
	}
	/* MTU and addresses followed from now on: also what changed since read */
	neigh_follow_iface(d->neigh, d->ifindex);
	iface_refresh(d);
	if (d->o.sync.key_file) {
		if (lbd_flowsync_open(d, err, sizeof(err)))
			return fprintf(stderr, "lbd: %s\n", err), -1;
		lbd_log("flow sync: %u peer%s configured", d->o.sync.n_peers,
			d->o.sync.n_peers == 1 ? "" : "s");
	}
	if (sync_run(d->sync, err, sizeof(err)))
		return fprintf(stderr, "lbd: %s\n", err), -1;
	if (attach(d))
		return -1;
	if (counters_epochs_start(&d->counters))
		lbd_log("warning: unique-client sketches are not rotating");
	if (parent_dir(d->o.socket_path, 0755) || parent_dir(d->o.state_path, 0700))
		lbd_log("warning: cannot create the socket or state directory");
	d->ctl = ctl_open(d->loop, d->o.socket_path, lbd_handle, d, err, sizeof(err));
	if (!d->ctl)
		return fprintf(stderr, "lbd: %s\n", err), -1;
	/* born 0600 (ctl.c); then opened to the group, never wider */
	if (d->o.socket_group && (chown(d->o.socket_path, (uid_t)-1, d->o.socket_gid) ||
				  chmod(d->o.socket_path, 0660)))
		return fprintf(stderr, "lbd: cannot give %s to group %s: %s\n", d->o.socket_path,
			       d->o.socket_group, strerror(errno)),
		       -1;
	lbd_log("listening on %s%s%s", d->o.socket_path,
		d->o.socket_group ? ", mode 0660, group " : "",
		d->o.socket_group ? d->o.socket_group : "");
	return 0;
}

static void stop(struct lbd *d)
{
	/* no timer of lbd's may fire in the last loop turn below: each would
	 * reach state closed here */
	if (d->loop)
		loop_timer_cancel(d->loop, &d->announce_timer);
	flowsync_close(d->flowsync);
	d->flowsync = NULL;
	mon_stop(d);
	counters_stop(&d->counters);
	ctl_close(d->ctl);
	d->ctl = NULL;
	sync_close(d->sync);
	d->sync = NULL;
	neigh_close(d->neigh);
	d->neigh = NULL;
	announce_close(d->announce); /* the routes stay, as forwarding does */
	d->announce = NULL;
	if (d->loop)
		loop_once(d->loop, 0); /* let stopped checks release their memory */
	if (d->dp.skel)
		dp_close(&d->dp);
	model_free(&d->model);
	counters_free(&d->counters);
	loop_free(d->loop);
}

int main(int argc, char **argv)
{
	static struct lbd d = { .o = { .socket_path = "/run/xdplb/lbd.sock",
				       .state_path = "/var/lib/xdplb/state",
				       .pin_root = "/sys/fs/bpf/xdplb",
				       .metrics = "127.0.0.1:9469" } };
	bool detach = false, fresh, undo = false;
	char err[512];
	int ret = 1, lock;

	if (parse_opts(argc, argv, &d.o, &detach))
		return 2;
	dp_set_libbpf_verbose(d.o.verbose);
	d.ifindex = (int)if_nametoindex(d.o.iface);
	snprintf(d.pin_dir, sizeof(d.pin_dir), "%s/%s", d.o.pin_root, d.o.iface);
	if (detach) {
		if (d.o.announce_table && withdraw_all(d.o.announce_table))
			return 1;
		if (dp_detach(d.pin_dir, err, sizeof(err)))
			return fprintf(stderr, "lbd: %s\n", err), 1;
		lbd_log("detached from %s: removed %s", d.o.iface, d.pin_dir);
		return 0;
	}
	if (!d.ifindex)
		return fprintf(stderr, "lbd: interface '%s' not found\n", d.o.iface), 1;
	if (ensure_bpffs(d.o.pin_root))
		return 1;
	fresh = access(d.pin_dir, F_OK) != 0;
	/* one lbd per pin directory: the lock lives as long as this process */
	lock = mkdir_p(d.pin_dir, 0700);
	if (lock)
		return fprintf(stderr, "lbd: cannot create %s: %s\n", d.pin_dir, strerror(-lock)), 1;
	lock = pin_lock(d.pin_dir, false, err, sizeof(err));
	if (lock == -EWOULDBLOCK)
		return fprintf(stderr, "lbd: another lbd already runs on %s (%s is locked); "
			       "stop it first\n", d.o.iface, d.pin_dir), 1;
	if (lock < 0)
		return fprintf(stderr, "lbd: %s\n", err), 1;
	the_lbd = &d;
	signal(SIGPIPE, SIG_IGN);
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	if (!start(&d)) {
		ret = loop_run(d.loop, &d.stop) ? 1 : 0;
		if (d.exit_status)
			ret = d.exit_status;
		else
			lbd_log("stopping; forwarding goes on (lbd --iface %s --detach removes it)",
				d.o.iface);
	} else if (fresh && !access(d.pin_dir, F_OK)) {
		undo = true;
	}
	stop(&d);
	/* a first start that failed leaves nothing pinned behind it */
	if (undo && !dp_detach(d.pin_dir, err, sizeof(err)))
		lbd_log("nothing left behind: removed %s", d.pin_dir);
	close(lock);
	return ret;
}
