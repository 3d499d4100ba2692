// SPDX-License-Identifier: GPL-2.0
/* textform.c - text forms shared by parser and model: numbers, addresses, VIPs, durations,
 * options. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <string.h>

#include "textform.h"

static const char *const method_names[XDPLB_METHOD_MAX] = {
    [XDPLB_METHOD_L2] = "l2",
    [XDPLB_METHOD_IPIP] = "ipip",
    [XDPLB_METHOD_GUE] = "gue",
};

static const char *const check_names[XDPLB_CHECK_MAX] = {
    [XDPLB_CHECK_NONE] = "none",
    [XDPLB_CHECK_TCP] = "tcp",
    [XDPLB_CHECK_HTTP] = "http",
};

/* Write a message to err (if any) and return -1, so callers can `return cfg_error(...)`. */
int cfg_error(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -1;
}

/* Plain decimal only: no sign, no spaces, no hex; min <= value <= max. */
int parse_u32(const char *s, __u32 min, __u32 max, __u32 *out)
{
	unsigned long long v = 0;

	if (!*s)
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		v = v * 10 + (unsigned)(*s - '0');
		if (v > max)
			return -1;
	}
	if (v < min)
		return -1;
	*out = (__u32)v;
	return 0;
}

/* An address without brackets: IPv6 when it holds a ':', else dotted IPv4. */
int addr_parse(const char *s, union xdplb_addr *addr, __u8 *family)
{
	memset(addr, 0, sizeof(*addr));
	if (strchr(s, ':')) {
		if (inet_pton(AF_INET6, s, addr->bytes) != 1)
			return -1;
		*family = XDPLB_AF_INET6;
		return 0;
	}
	if (inet_pton(AF_INET, s, &addr->v4) != 1)
		return -1;
	*family = XDPLB_AF_INET;
	return 0;
}

char *addr_format(const union xdplb_addr *addr, __u8 family, char *buf, size_t len)
{
	int af = family == XDPLB_AF_INET6 ? AF_INET6 : AF_INET;

	if (!inet_ntop(af, addr->bytes, buf, (socklen_t)len))
		snprintf(buf, len, "?");
	return buf;
}

/* Why an address cannot be a VIP or a backend, or NULL when it can. */
const char *addr_unusable(const union xdplb_addr *addr, __u8 family)
{
	static const union xdplb_addr zero;

	if (family == XDPLB_AF_INET) {
		if (addr->v4 == 0)
			return "unspecified";
		if (addr->v4 == 0xffffffffu)
			return "broadcast";
		if ((addr->bytes[0] & 0xf0) == 0xe0)
			return "multicast";
		return NULL;
	}
	if (!memcmp(addr, &zero, sizeof(zero)))
		return "unspecified";
	if (addr->bytes[0] == 0xff)
		return "multicast";
	return NULL;
}

/* Copy s[0..n) into dst as a string; -1 if it does not fit. */
static int copy_span(char *dst, size_t dlen, const char *s, size_t n)
{
	if (n >= dlen)
		return -1;
	memcpy(dst, s, n);
	dst[n] = '\0';
	return 0;
}

int hostport_split(const char *s, size_t n, struct hostport *hp)
{
	const char *colon = NULL, *p;

	hp->bracketed = n && s[0] == '[';
	if (hp->bracketed) {
		for (p = s + 1; p + 1 < s + n && !colon; p++)
			if (p[0] == ']' && p[1] == ':')
				colon = p + 1;
		hp->host = s + 1;
		hp->host_len = colon ? (size_t)(colon - 1 - hp->host) : 0;
	} else {
		for (p = s + n; p > s && !colon; p--)
			if (p[-1] == ':')
				colon = p - 1;
		hp->host = s;
		hp->host_len = colon ? (size_t)(colon - s) : 0;
	}
	if (!colon)
		return -1;
	hp->port = colon + 1;
	hp->port_len = (size_t)(s + n - hp->port);
	return 0;
}

/* Split "HOST:PORT" or "[HOST6]:PORT" (the first n bytes of s) into strings.
 * Returns 0, -1 when malformed, -2 when an IPv6 address lacks brackets. */
static int split_hostport(const char *s, size_t n, char *host, size_t hlen, char *port, size_t plen)
{
	struct hostport hp;

	if (hostport_split(s, n, &hp))
		return -1;
	if (hp.bracketed) {
		if (memchr(hp.host, ']', hp.host_len) ||
		    copy_span(host, hlen, hp.host, hp.host_len) || !strchr(host, ':'))
			return -1;
	} else {
		if (memchr(hp.host, ':', hp.host_len))
			return -2;
		if (copy_span(host, hlen, hp.host, hp.host_len))
			return -1;
	}
	return copy_span(port, plen, hp.port, hp.port_len);
}

/* Parse the HOST:PORT part of a VIP or client endpoint, quoting `whole` in errors. */
static int hostport_parse(const char *s, size_t n, const char *whole, union xdplb_addr *addr,
			  __u8 *family, __u16 *port, char *err, size_t errlen)
{
	char host[XDPLB_ADDR_STRLEN], ps[8];
	const char *why;
	__u32 p;
	int r = split_hostport(s, n, host, sizeof(host), ps, sizeof(ps));

	if (r == -2)
		return cfg_error(err, errlen,
				 "IPv6 address needs brackets in \"%.80s\" (e.g. [2001:db8::1]:80)",
				 whole);
	if (r)
		return cfg_error(err, errlen, "bad address:port in \"%.80s\"", whole);
	if (addr_parse(host, addr, family))
		return cfg_error(err, errlen, "bad address \"%s\" in \"%.80s\"", host, whole);
	why = addr_unusable(addr, *family);
	if (why)
		return cfg_error(err, errlen, "address %s in \"%.80s\" is %s", host, whole, why);
	if (parse_u32(ps, 0, 65535, &p))
		return cfg_error(err, errlen, "bad port \"%s\" in \"%.80s\" (0-65535)", ps, whole);
	*port = (__u16)p;
	return 0;
}

/* ADDR:PORT/PROTO into a zeroed key (network byte order). */
int vip_parse(const char *s, struct xdplb_vip_key *key, char *err, size_t errlen)
{
	const char *slash = strrchr(s, '/');
	__u16 port = 0; /* set when hostport_parse returns 0 (the analyzer cannot see that) */

	memset(key, 0, sizeof(*key));
	if (!slash)
		return cfg_error(err, errlen,
				 "bad VIP \"%.80s\" (ADDR:PORT/PROTO, e.g. 10.0.0.100:80/tcp or "
				 "[2001:db8::1]:443/tcp)",
				 s);
	if (!strcmp(slash + 1, "tcp"))
		key->proto = IPPROTO_TCP;
	else if (!strcmp(slash + 1, "udp"))
		key->proto = IPPROTO_UDP;
	else
		return cfg_error(err, errlen, "unknown protocol \"%.16s\" in \"%.80s\" (tcp, udp)",
				 slash + 1, s);
	if (hostport_parse(s, (size_t)(slash - s), s, &key->addr, &key->family, &port, err, errlen))
		return -1;
	key->port = htons(port);
	return 0;
}

char *vip_format(const struct xdplb_vip_key *key, char *buf, size_t len)
{
	char a[XDPLB_ADDR_STRLEN], p[8];
	const char *proto = p;
	bool v6 = key->family == XDPLB_AF_INET6;

	if (key->proto == IPPROTO_TCP)
		proto = "tcp";
	else if (key->proto == IPPROTO_UDP)
		proto = "udp";
	else
		snprintf(p, sizeof(p), "%u", key->proto);
	addr_format(&key->addr, key->family, a, sizeof(a));
	snprintf(buf, len, "%s%s%s:%u/%s", v6 ? "[" : "", a, v6 ? "]" : "", ntohs(key->port),
		 proto);
	return buf;
}

/* Total order: family, address, port, protocol (numeric, not byte order). */
int vip_key_cmp(const struct xdplb_vip_key *a, const struct xdplb_vip_key *b)
{
	int r;

	if (a->family != b->family)
		return a->family < b->family ? -1 : 1;
	r = memcmp(a->addr.bytes, b->addr.bytes, sizeof(a->addr));
	if (r)
		return r < 0 ? -1 : 1;
	if (a->port != b->port)
		return ntohs(a->port) < ntohs(b->port) ? -1 : 1;
	if (a->proto != b->proto)
		return a->proto < b->proto ? -1 : 1;
	return 0;
}

/* ADDR:PORT or [ADDR6]:PORT (a client in `flow lookup`); port in host order. */
int addr_port_parse(const char *s, union xdplb_addr *addr, __u8 *family, __u16 *port, char *err,
		    size_t errlen)
{
	char host[XDPLB_ADDR_STRLEN], ps[8];
	size_t n = strlen(s);
	__u32 p;

	if (!addr_parse(s, addr, family))
		return 0; /* a bare address, IPv6 without brackets too */
	if (n > 2 && s[0] == '[' && s[n - 1] == ']') {
		if (copy_span(host, sizeof(host), s + 1, n - 2) || !strchr(host, ':') ||
		    addr_parse(host, addr, family))
			return cfg_error(err, errlen, "bad address \"%.80s\"", s);
		return 0;
	}
	if (split_hostport(s, n, host, sizeof(host), ps, sizeof(ps)))
		return cfg_error(err, errlen, "\"%.80s\": expected ADDR, ADDR:PORT or [IPV6]:PORT", s);
	if (addr_parse(host, addr, family))
		return cfg_error(err, errlen, "bad address \"%s\" in \"%.80s\"", host, s);
	if (parse_u32(ps, 1, 65535, &p))
		return cfg_error(err, errlen, "bad port \"%s\" in \"%.80s\" (1-65535)", ps, s);
	*port = (__u16)p;
	return 0;
}

int endpoint_parse(const char *s, union xdplb_addr *addr, __u8 *family, __u16 *port, char *err,
		   size_t errlen)
{
	return hostport_parse(s, strlen(s), s, addr, family, port, err, errlen);
}

/* "500ms", "2s" or "3" (seconds); 1ms to CMD_MAX_DURATION_MS. */
int duration_parse(const char *s, __u32 *ms)
{
	size_t n = strlen(s);
	__u32 mult = 1000, v;
	char num[16];

	if (n > 2 && !strcmp(s + n - 2, "ms")) {
		n -= 2;
		mult = 1;
	} else if (n > 1 && s[n - 1] == 's') {
		n -= 1;
	}
	if (copy_span(num, sizeof(num), s, n))
		return -1;
	if (parse_u32(num, 1, CMD_MAX_DURATION_MS / mult, &v))
		return -1;
	*ms = v * mult;
	return 0;
}

/* Whole seconds as "2s", anything else as "1500ms": parses back to the same value. */
char *duration_format(__u32 ms, char *buf, size_t len)
{
	if (ms % 1000 == 0)
		snprintf(buf, len, "%us", ms / 1000);
	else
		snprintf(buf, len, "%ums", ms);
	return buf;
}

int method_parse(const char *s, enum xdplb_method *method)
{
	int i;

	for (i = 0; i < XDPLB_METHOD_MAX; i++)
		if (!strcmp(s, method_names[i])) {
			*method = (enum xdplb_method)i;
			return 0;
		}
	return -1;
}

const char *method_name(enum xdplb_method method)
{
	return (unsigned)method < XDPLB_METHOD_MAX ? method_names[method] : "?";
}

const char *check_name(enum xdplb_check check)
{
	return (unsigned)check < XDPLB_CHECK_MAX ? check_names[check] : "?";
}

/* An http check path: "/..." of printable ASCII without '#' (the comment
 * character of state files), so that `save` output parses back.  The one
 * rule: the model's options and health's hc_start() both judge by it. */
bool check_path_ok(const char *s)
{
	size_t n = strnlen(s, CMD_MAX_CHECK_PATH);

	if (n == 0 || n >= CMD_MAX_CHECK_PATH || s[0] != '/')
		return false;
	for (; *s; s++)
		if (*s <= ' ' || *s > '~' || *s == '#')
			return false;
	return true;
}

/* Every option, explicitly, in `vip add` syntax: "method l2 ring 65537 ...". */
char *vip_opts_format(const struct xdplb_vip_opts *o, char *buf, size_t len)
{
	char iv[XDPLB_DUR_STRLEN], to[XDPLB_DUR_STRLEN], need[24] = "";
	bool http = o->check == XDPLB_CHECK_HTTP;

	if (o->need != XDPLB_DEFAULT_NEED) /* like src hash: said when not the default */
		snprintf(need, sizeof(need), " need %u", o->need);
	snprintf(buf, len,
		 "method %s ring %u check %s%s%s interval %s timeout %s fall %u rise %u%s%s",
		 method_name(o->method), o->ring_size, check_name(o->check), http ? " " : "",
		 http ? o->check_path : "", duration_format(o->interval_ms, iv, sizeof(iv)),
		 duration_format(o->timeout_ms, to, sizeof(to)), o->fall, o->rise,
		 o->flags & XDPLB_VIP_F_HASH_SRC ? " src hash" : "", need);
	return buf;
}
