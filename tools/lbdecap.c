// SPDX-License-Identifier: GPL-2.0
/* lbdecap.c - the backends' side of xdplb: attach the TC decapsulator
 * (bpf/lbdecap.bpf.c) to interfaces, list the VIPs it decapsulates for,
 * show its counters.  The program and its maps are pinned under one bpffs
 * directory so that they outlive the tool; see tools/man/lbdecap.8. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "xdplb_decap.h"
#include "pinlock.h"
#include "strbuf.h"
#include "lbdecap.skel.h"

#define DEFAULT_PIN "/sys/fs/bpf/lbdecap"
#ifndef SO_NETNS_COOKIE
#define SO_NETNS_COOKIE 71
#endif

/* Files under the pin directory. */
enum pin_obj { PIN_PROG, PIN_VIPS, PIN_CONFIG, PIN_STATS, PIN_IFACES, PIN_MAX };
static const char *const PIN_NAMES[PIN_MAX] = { "prog", "vips", "config", "stats", "ifaces" };
static const char *const STAT_NAMES[LBDECAP_STAT_MAX] = { LBDECAP_STAT_NAMES };

struct opts {
	const char *pin;
	bool json;
	bool verbose;
};

/* The pinned program and maps, opened. */
struct pins {
	int fd[PIN_MAX];
	__u32 prog_id;
};

static bool verbose;

__attribute__((format(printf, 2, 3))) static int fail(int code, const char *fmt, ...)
{
	va_list ap;

	fputs("lbdecap: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return code;
}

static int libbpf_log(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	(void)level;
	return verbose ? vfprintf(stderr, fmt, ap) : 0;
}

static void usage(FILE *f)
{
	fputs("usage: lbdecap [--pin DIR] [-j] [-v] COMMAND\n"
	      "  attach IF [vip ADDR...] [gue-port PORT]  decapsulate on IF for these VIPs\n"
	      "  detach IF                                stop; the last detach unpins all\n"
	      "  status                                   interfaces, VIPs, gue port, counters\n"
	      "  vip add ADDR...                          decapsulate for more VIPs\n"
	      "  vip del ADDR...                          and for fewer\n"
	      "  help\n"
	      "DIR defaults to " DEFAULT_PIN "; -j prints status as JSON.\n",
	      f);
}

/* ---- addresses ---- */

static int vip_parse(const char *s, struct lbdecap_vip_key *k)
{
	char buf[INET6_ADDRSTRLEN + 2];
	size_t n = strlen(s);

	memset(k, 0, sizeof(*k));
	if (n >= sizeof(buf))
		return -1;
	if (s[0] == '[' && n > 2 && s[n - 1] == ']') {
		memcpy(buf, s + 1, n - 2);
		buf[n - 2] = 0;
	} else {
		memcpy(buf, s, n + 1);
	}
	if (inet_pton(AF_INET, buf, &k->addr.v4) == 1) {
		k->family = XDPLB_AF_INET;
		return k->addr.v4 && (ntohl(k->addr.v4) >> 28) != 14 ? 0 : -1;
	}
	if (inet_pton(AF_INET6, buf, &k->addr) == 1) {
		static const union xdplb_addr any;

		k->family = XDPLB_AF_INET6;
		return memcmp(&k->addr, &any, sizeof(any)) && k->addr.bytes[0] != 0xff ? 0 : -1;
	}
	return -1;
}

static const char *vip_str(const struct lbdecap_vip_key *k, char *buf, size_t len)
{
	inet_ntop(k->family == XDPLB_AF_INET ? AF_INET : AF_INET6, &k->addr, buf, (socklen_t)len);
	return buf;
}

/* ---- pin directory ---- */

static void pin_path(const char *pin, enum pin_obj o, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s", pin, PIN_NAMES[o]);
}

/* Open (creating it if need be) and lock the pin directory: one lbdecap at
 * a time changes it. */
static int pin_lock_dir(const char *pin, bool create)
{
	char err[512];
	int fd;

	if (create && mkdir(pin, 0700) && errno != EEXIST)
		return fail(-1, "cannot create %s: %s (is a bpf filesystem mounted there? "
				"mount -t bpf bpf DIR)", pin, strerror(errno));
	fd = pin_lock(pin, true, err, sizeof(err));
	if (fd == -ENOENT)
		return -ENOENT;
	return fd < 0 ? fail(-1, "%s", err) : fd;
}

static void pins_close(struct pins *p)
{
	int i;

	for (i = 0; i < PIN_MAX; i++)
		if (p->fd[i] >= 0)
			close(p->fd[i]);
}

/* 0, -ENOENT when nothing is pinned, or -1 after a message. */
static int pins_open(const char *pin, struct pins *p)
{
	struct bpf_prog_info info = { 0 };
	__u32 len = sizeof(info);
	char path[PATH_MAX];
	int i;

	for (i = 0; i < PIN_MAX; i++)
		p->fd[i] = -1;
	for (i = 0; i < PIN_MAX; i++) {
		pin_path(pin, i, path, sizeof(path));
		p->fd[i] = bpf_obj_get(path);
		if (p->fd[i] < 0) {
			int err = errno;

			pins_close(p);
			if (err == ENOENT && i == PIN_PROG)
				return -ENOENT;
			return fail(-1, "cannot open %s: %s", path, strerror(err));
		}
	}
	if (bpf_obj_get_info_by_fd(p->fd[PIN_PROG], &info, &len)) {
		pins_close(p);
		return fail(-1, "cannot read the pinned program's id: %s", strerror(errno));
	}
	p->prog_id = info.id;
	return 0;
}

static void unpin_objs(const char *pin)
{
	char path[PATH_MAX];
	int i;

	for (i = 0; i < PIN_MAX; i++) {
		pin_path(pin, i, path, sizeof(path));
		unlink(path);
	}
}

static void unpin_all(const char *pin)
{
	unpin_objs(pin);
	rmdir(pin);
}

/* Lock the pin directory and open what is pinned there: the lock's fd,
 * -ENOENT when nothing is, or -1 after a message. */
static int pin_open_locked(const char *pin, struct pins *p)
{
	int lock = pin_lock_dir(pin, false), err;

	if (lock < 0)
		return lock;
	err = pins_open(pin, p);
	if (err) {
		close(lock);
		return err;
	}
	return lock;
}

/* Load the program, configure it and pin it with its maps. */
static int load_and_pin(const char *pin, __u16 gue_port)
{
	struct lbdecap_config cfg = { .gue_port = htons(gue_port) };
	struct lbdecap_bpf *skel;
	struct bpf_map *maps[PIN_MAX];
	char path[PATH_MAX];
	__u32 zero = 0;
	int i, err;

	unpin_objs(pin); /* leftovers of an interrupted run: nothing uses them */
	skel = lbdecap_bpf__open_and_load();
	if (!skel)
		return fail(-1, "cannot load the decapsulator: %s (-v shows the verifier's log)",
			    strerror(errno));
	maps[PIN_VIPS] = skel->maps.decap_vips;
	maps[PIN_CONFIG] = skel->maps.decap_config;
	maps[PIN_STATS] = skel->maps.decap_stats;
	maps[PIN_IFACES] = skel->maps.decap_ifaces;
	err = bpf_map_update_elem(bpf_map__fd(skel->maps.decap_config), &zero, &cfg, BPF_ANY);
	for (i = PIN_VIPS; i < PIN_MAX && !err; i++) {
		pin_path(pin, i, path, sizeof(path));
		err = bpf_map__pin(maps[i], path);
	}
	pin_path(pin, PIN_PROG, path, sizeof(path));
	err = err ?: bpf_program__pin(skel->progs.lbdecap, path);
	lbdecap_bpf__destroy(skel);
	if (err) {
		unpin_objs(pin);
		return fail(-1, "cannot pin under %s: %s", pin, strerror(-err));
	}
	return 0;
}

/* ---- interfaces ---- */

static __u64 netns_cookie(void)
{
	socklen_t len = sizeof(__u64);
	__u64 cookie = 0;
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (s >= 0) {
		if (getsockopt(s, SOL_SOCKET, SO_NETNS_COOKIE, &cookie, &len))
			cookie = 0;
		close(s);
	}
	return cookie;
}

/* 0 and the interface's index if it is an Ethernet interface here. */
static int iface_get(const char *name, int *ifindex)
{
	struct ifreq ifr = { 0 };
	int s, err = 0;

	/* name is never NULL: attach_parse fails (fail() returns its nonzero
	 * code) before it is set, but the analyzer does not follow variadic calls */
	/* NOLINTNEXTLINE(clang-analyzer-core.NonNullParamChecker) */
	if (strlen(name) >= IFNAMSIZ || !(*ifindex = (int)if_nametoindex(name)))
		return fail(1, "no interface '%s' in this network namespace", name);
	memcpy(ifr.ifr_name, name, strlen(name));
	s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0 || ioctl(s, SIOCGIFHWADDR, &ifr))
		err = fail(1, "cannot read the type of '%s': %s", name, strerror(errno));
	else if (ifr.ifr_hwaddr.sa_family != ARPHRD_ETHER)
		err = fail(1, "'%s' is not an Ethernet interface (type %u): lbdecap reads an "
			      "Ethernet header", name, ifr.ifr_hwaddr.sa_family);
	if (s >= 0)
		close(s);
	return err;
}

/* The program id of the filter at lbdecap's handle on ifindex, 0 if none. */
static __u32 tc_prog_id(int ifindex)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = BPF_TC_INGRESS);
	LIBBPF_OPTS(bpf_tc_opts, o, .handle = LBDECAP_TC_HANDLE, .priority = LBDECAP_TC_PRIO);

	return bpf_tc_query(&hook, &o) ? 0 : o.prog_id;
}

static int tc_attach(int ifindex, int prog_fd)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = BPF_TC_INGRESS);
	LIBBPF_OPTS(bpf_tc_opts, o, .handle = LBDECAP_TC_HANDLE, .priority = LBDECAP_TC_PRIO,
		    .prog_fd = prog_fd);
	int err = bpf_tc_hook_create(&hook);

	if (err && err != -EEXIST)
		return err;
	return bpf_tc_attach(&hook, &o);
}

static int tc_detach(int ifindex)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = BPF_TC_INGRESS);
	LIBBPF_OPTS(bpf_tc_opts, o, .handle = LBDECAP_TC_HANDLE, .priority = LBDECAP_TC_PRIO);

	return bpf_tc_detach(&hook, &o);
}

static void iface_key(struct lbdecap_iface_key *k, int ifindex)
{
	memset(k, 0, sizeof(*k));
	k->netns = netns_cookie();
	k->ifindex = (__u32)ifindex;
}

static bool map_empty(int fd, size_t key_size)
{
	char key[64];

	return key_size > sizeof(key) || bpf_map_get_next_key(fd, NULL, key) != 0;
}

/* ---- commands ---- */

struct attach_args {
	const char *ifname;
	struct lbdecap_vip_key vips[64];
	int n_vips;
	int gue_port; /* -1: keep */
};

static int attach_parse(int argc, char **argv, struct attach_args *a)
{
	bool in_vips = false;
	char *end;
	long v;
	int i;

	if (argc < 1)
		return fail(2, "attach needs an interface: lbdecap attach IF [vip ADDR...]");
	a->ifname = argv[0];
	a->gue_port = -1;
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "vip")) {
			in_vips = true;
			if (i + 1 == argc)
				return fail(2, "\"vip\" needs an address");
		} else if (!strcmp(argv[i], "gue-port")) {
			in_vips = false;
			if (++i == argc)
				return fail(2, "\"gue-port\" needs a value");
			errno = 0;
			v = strtol(argv[i], &end, 10);
			if (errno || *end || v < 1 || v > 65535)
				return fail(2, "gue port '%s' is not a port number (1-65535)", argv[i]);
			a->gue_port = (int)v;
		} else if (!in_vips) {
			return fail(2, "unexpected '%s' (try: lbdecap help)", argv[i]);
		} else if (a->n_vips == (int)(sizeof(a->vips) / sizeof(a->vips[0]))) {
			return fail(2, "too many VIPs on one command line (add more with vip add)");
		} else if (vip_parse(argv[i], &a->vips[a->n_vips++])) {
			return fail(2, "'%s' is not a usable VIP address (unicast IPv4 or IPv6)",
				    argv[i]);
		}
	}
	return 0;
}

/* Add the VIPs not there yet; remember which were new in added[]. */
static int vips_add(int fd, const struct attach_args *a, bool *added)
{
	__u32 val = 0;
	char buf[INET6_ADDRSTRLEN];
	int i;

	for (i = 0; i < a->n_vips; i++) {
		added[i] = !bpf_map_update_elem(fd, &a->vips[i], &val, BPF_NOEXIST);
		if (!added[i] && errno != EEXIST)
			return fail(1, "cannot add VIP %s: %s", vip_str(&a->vips[i], buf, sizeof(buf)),
				    errno == E2BIG ? "too many VIPs" : strerror(errno));
	}
	return 0;
}

static int attach_to(const struct opts *o, const struct attach_args *a, int ifindex,
		     struct pins *p)
{
	struct lbdecap_config cfg = { 0 };
	struct lbdecap_iface_key key;
	struct lbdecap_iface_val val = { 0 };
	bool added[64] = { false };
	__u32 zero = 0, id = tc_prog_id(ifindex);
	int err, i;

	if (id == p->prog_id)
		return fail(1, "already attached to %s", a->ifname);
	if (id)
		return fail(1, "%s already has a filter at lbdecap's handle (program id %u, not the "
			       "one pinned at %s): lbdecap --pin DIR detach %s", a->ifname, id, o->pin,
			    a->ifname);
	if (map_empty(p->fd[PIN_VIPS], sizeof(struct lbdecap_vip_key)) && !a->n_vips)
		return fail(1, "no VIP configured: name them (lbdecap attach %s vip ADDR...)",
			    a->ifname);
	if (a->gue_port > 0) {
		cfg.gue_port = htons((__u16)a->gue_port);
		if (bpf_map_update_elem(p->fd[PIN_CONFIG], &zero, &cfg, BPF_ANY))
			return fail(1, "cannot set the gue port: %s", strerror(errno));
	}
	if (vips_add(p->fd[PIN_VIPS], a, added))
		return 1;
	err = tc_attach(ifindex, p->fd[PIN_PROG]);
	if (!err) {
		iface_key(&key, ifindex);
		memcpy(val.name, a->ifname, strlen(a->ifname));
		if (!bpf_map_update_elem(p->fd[PIN_IFACES], &key, &val, BPF_ANY))
			return 0;
		err = -errno;
		tc_detach(ifindex);
	}
	for (i = 0; i < a->n_vips; i++)
		if (added[i])
			bpf_map_delete_elem(p->fd[PIN_VIPS], &a->vips[i]);
	return fail(1, "cannot attach to %s: %s", a->ifname, strerror(-err));
}

static int cmd_attach(const struct opts *o, int argc, char **argv)
{
	struct attach_args a = { 0 };
	struct pins p;
	int ifindex = 0, lock, err;
	bool fresh = false;

	if ((err = attach_parse(argc, argv, &a)) || (err = iface_get(a.ifname, &ifindex)))
		return err;
	lock = pin_lock_dir(o->pin, true);
	if (lock < 0)
		return 1;
	err = pins_open(o->pin, &p);
	if (err == -ENOENT) {
		fresh = true;
		err = load_and_pin(o->pin, a.gue_port > 0 ? (__u16)a.gue_port : XDPLB_GUE_PORT);
		err = err ?: pins_open(o->pin, &p);
	}
	if (err) {
		close(lock);
		return 1;
	}
	err = attach_to(o, &a, ifindex, &p);
	pins_close(&p);
	if (err && fresh)
		unpin_all(o->pin);
	close(lock);
	return err;
}

static int cmd_detach(const struct opts *o, int argc, char **argv)
{
	struct lbdecap_iface_key key;
	struct pins p;
	int ifindex = 0, lock, err;
	__u32 id;

	if (argc != 1)
		return fail(2, "usage: lbdecap detach IF");
	lock = pin_open_locked(o->pin, &p);
	if (lock == -ENOENT)
		return fail(1, "not attached to %s (nothing pinned at %s)", argv[0], o->pin);
	if (lock < 0)
		return 1;
	ifindex = (int)if_nametoindex(argv[0]);
	id = ifindex ? tc_prog_id(ifindex) : 0;
	if (!ifindex)
		err = fail(1, "no interface '%s' in this network namespace", argv[0]);
	else if (id != p.prog_id)
		err = fail(1, "not attached to %s", argv[0]);
	else if ((err = tc_detach(ifindex)))
		err = fail(1, "cannot detach from %s: %s", argv[0], strerror(-err));
	if (!err) {
		iface_key(&key, ifindex);
		bpf_map_delete_elem(p.fd[PIN_IFACES], &key);
		if (map_empty(p.fd[PIN_IFACES], sizeof(key))) {
			pins_close(&p);
			unpin_all(o->pin); /* the last one: nothing stays behind */
			close(lock);
			return 0;
		}
	}
	pins_close(&p);
	close(lock);
	return err;
}

static int cmd_vip(const struct opts *o, int argc, char **argv)
{
	struct lbdecap_vip_key k[64];
	char buf[INET6_ADDRSTRLEN];
	bool add;
	__u32 val = 0;
	struct pins p;
	int i, n = argc - 1, lock, err = 0;

	if (argc < 2 || (strcmp(argv[0], "add") && strcmp(argv[0], "del")))
		return fail(2, "usage: lbdecap vip { add | del } ADDR...");
	if (n > (int)(sizeof(k) / sizeof(k[0])))
		return fail(2, "too many VIPs on one command line");
	add = !strcmp(argv[0], "add");
	for (i = 0; i < n; i++)
		if (vip_parse(argv[i + 1], &k[i]))
			return fail(2, "'%s' is not a usable VIP address (unicast IPv4 or IPv6)",
				    argv[i + 1]);
	lock = pin_open_locked(o->pin, &p);
	if (lock == -ENOENT)
		return fail(1, "not attached anywhere (nothing pinned at %s): attach first",
			    o->pin);
	if (lock < 0)
		return 1;
	for (i = 0; i < n && !err; i++) /* all or nothing: check first */
		if ((bpf_map_lookup_elem(p.fd[PIN_VIPS], &k[i], &val) == 0) == add)
			err = fail(1, add ? "VIP %s is already configured" : "VIP %s is not configured",
				   vip_str(&k[i], buf, sizeof(buf)));
	for (i = 0; i < n && !err; i++)
		if (add ? bpf_map_update_elem(p.fd[PIN_VIPS], &k[i], &val, BPF_NOEXIST)
			: bpf_map_delete_elem(p.fd[PIN_VIPS], &k[i]))
			err = fail(1, "cannot %s VIP %s: %s", argv[0], vip_str(&k[i], buf, sizeof(buf)),
				   errno == E2BIG ? "too many VIPs" : strerror(errno));
	pins_close(&p);
	close(lock);
	return err;
}

/* ---- status ---- */

/* s as a JSON string on stdout, escaped as lbctl's output is (sb_json_str). */
static void json_str(const char *s)
{
	struct strbuf sb;

	sb_init(&sb, 0);
	sb_json_str(&sb, s);
	fputs(sb_str(&sb), stdout);
	sb_free(&sb);
}

static int stats_sum(int fd, struct lbdecap_stats *sum)
{
	int ncpu = libbpf_num_possible_cpus(), c, i;
	struct lbdecap_stats *per;
	__u32 zero = 0;

	memset(sum, 0, sizeof(*sum));
	if (ncpu <= 0 || !(per = calloc((size_t)ncpu, sizeof(*per))))
		return -1;
	if (bpf_map_lookup_elem(fd, &zero, per)) {
		free(per);
		return -1;
	}
	for (c = 0; c < ncpu; c++)
		for (i = 0; i < LBDECAP_STAT_MAX; i++)
			sum->v[i] += per[c].v[i];
	free(per);
	return 0;
}

static const char *iface_state(const struct lbdecap_iface_key *k, __u64 here, __u32 prog_id)
{
	if (k->netns != here)
		return "other-netns";
	return tc_prog_id((int)k->ifindex) == prog_id ? "attached" : "missing";
}

static void print_ifaces(const struct opts *o, const struct pins *p)
{
	struct lbdecap_iface_key k, next, *prev = NULL;
	struct lbdecap_iface_val v;
	__u64 here = netns_cookie();
	int n = 0;

	printf(o->json ? "\"interfaces\":[" : "interfaces:");
	while (!bpf_map_get_next_key(p->fd[PIN_IFACES], prev, &next)) {
		k = next;
		prev = &k;
		if (bpf_map_lookup_elem(p->fd[PIN_IFACES], &k, &v))
			continue;
		v.name[sizeof(v.name) - 1] = 0;
		if (o->json) {
			printf("%s{\"name\":", n++ ? "," : "");
			json_str(v.name);
			printf(",\"ifindex\":%u,\"state\":\"%s\"}", k.ifindex,
			       iface_state(&k, here, p->prog_id));
		} else {
			const char *st = iface_state(&k, here, p->prog_id);

			printf(" %s%s%s%s", v.name, strcmp(st, "attached") ? " (" : "",
			       strcmp(st, "attached") ? st : "", strcmp(st, "attached") ? ")" : "");
		}
	}
	printf(o->json ? "]," : "\n");
}

static void print_vips(const struct opts *o, const struct pins *p)
{
	struct lbdecap_vip_key k, next, *prev = NULL;
	char buf[INET6_ADDRSTRLEN];
	int n = 0;

	printf(o->json ? "\"vips\":[" : "vips:");
	while (!bpf_map_get_next_key(p->fd[PIN_VIPS], prev, &next)) {
		k = next;
		prev = &k;
		printf(o->json ? "%s\"%s\"" : "%s%s", !o->json ? " " : n++ ? "," : "",
		       vip_str(&k, buf, sizeof(buf)));
	}
	printf(o->json ? "]," : "\n");
}

static int cmd_status(const struct opts *o, int argc, char **argv)
{
	struct lbdecap_config cfg = { 0 };
	struct lbdecap_stats st;
	struct pins p;
	__u32 zero = 0;
	int i, err;

	(void)argv;
	if (argc)
		return fail(2, "usage: lbdecap status");
	err = pins_open(o->pin, &p);
	if (err == -ENOENT) {
		if (o->json) {
			printf("{\"pin\":");
			json_str(o->pin);
			printf(",\"loaded\":false}\n");
		} else {
			printf("not attached (nothing pinned at %s)\n", o->pin);
		}
		return 0;
	}
	if (err)
		return 1;
	if (bpf_map_lookup_elem(p.fd[PIN_CONFIG], &zero, &cfg) || stats_sum(p.fd[PIN_STATS], &st)) {
		pins_close(&p);
		return fail(1, "cannot read the maps pinned at %s: %s", o->pin, strerror(errno));
	}
	if (o->json) {
		printf("{\"pin\":");
		json_str(o->pin);
		printf(",\"loaded\":true,\"prog_id\":%u,\"gue_port\":%u,", p.prog_id,
		       ntohs(cfg.gue_port));
	} else {
		printf("pin: %s (program id %u)\ngue port: %u\n", o->pin, p.prog_id,
		       ntohs(cfg.gue_port));
	}
	print_ifaces(o, &p);
	print_vips(o, &p);
	printf(o->json ? "\"counters\":{" : "counters:\n");
	for (i = 0; i < LBDECAP_STAT_MAX; i++)
		printf(o->json ? "%s\"%s\":%llu" : "%s  %-18s %llu\n", o->json && i ? "," : "",
		       STAT_NAMES[i], (unsigned long long)st.v[i]);
	if (o->json)
		printf("}}\n");
	pins_close(&p);
	return 0;
}

static int parse_opts(int argc, char **argv, struct opts *o)
{
	static const struct option longs[] = {
		{ "pin", required_argument, NULL, 'p' },
		{ "json", no_argument, NULL, 'j' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	o->pin = DEFAULT_PIN;
	while ((c = getopt_long(argc, argv, "+jvh", longs, NULL)) != -1) {
		switch (c) {
		case 'p':
			if (!*optarg || strlen(optarg) > PATH_MAX - 16)
				return fail(2, "--pin needs a directory");
			o->pin = optarg;
			break;
		case 'j':
			o->json = true;
			break;
		case 'v':
			o->verbose = true;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return 2;
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*fn)(const struct opts *o, int argc, char **argv);
	} cmds[] = {
		{ "attach", cmd_attach },
		{ "detach", cmd_detach },
		{ "status", cmd_status },
		{ "vip", cmd_vip },
	};
	struct opts o = { 0 };
	size_t i;
	int err = parse_opts(argc, argv, &o);

	if (err)
		return err;
	verbose = o.verbose;
	libbpf_set_print(libbpf_log);
	if (optind == argc) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[optind], "help")) {
		usage(stdout);
		return 0;
	}
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (!strcmp(argv[optind], cmds[i].name))
			return cmds[i].fn(&o, argc - optind - 1, argv + optind + 1);
	fail(2, "unknown command '%s' (try: lbdecap help)", argv[optind]);
	return 2;
}
