/* SPDX-License-Identifier: GPL-2.0 */
/* textform.h - the text forms of the model's values, shared by the command
 * parser, the model's save/load and the daemon's output: numbers,
 * addresses, ADDR:PORT, VIPs, durations, methods, checks, VIP options. */
#ifndef XDPLB_TEXTFORM_H
#define XDPLB_TEXTFORM_H

#include <stdbool.h>
#include <stddef.h>

#include "model.h"

/* Buffer sizes for the formatting helpers. */
#define XDPLB_ADDR_STRLEN 46 /* INET6_ADDRSTRLEN */
#define XDPLB_VIP_STRLEN  64 /* "[" ADDR "]:" PORT "/" PROTO */
#define XDPLB_DUR_STRLEN  16
#define XDPLB_OPTS_STRLEN (160 + CMD_MAX_CHECK_PATH)

/* Parsers return 0 or -1; formatters return buf. */
int cfg_error(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int parse_u32(const char *s, __u32 min, __u32 max, __u32 *out);
int addr_parse(const char *s, union xdplb_addr *addr, __u8 *family);
char *addr_format(const union xdplb_addr *addr, __u8 family, char *buf, size_t len);
const char *addr_unusable(const union xdplb_addr *addr, __u8 family);
int vip_parse(const char *s, struct xdplb_vip_key *key, char *err, size_t errlen);
char *vip_format(const struct xdplb_vip_key *key, char *buf, size_t len);
int vip_key_cmp(const struct xdplb_vip_key *a, const struct xdplb_vip_key *b);
/* "HOST:PORT" or "[HOST]:PORT" (the first n bytes of s), split at the
 * port's colon: the last one, or after a bracketed host the first "]:".
 * host (brackets left out) and port point into s; neither is judged.
 * Returns 0, or -1 when there is no such colon. */
struct hostport {
	const char *host, *port;
	size_t host_len, port_len;
	bool bracketed;
};
int hostport_split(const char *s, size_t n, struct hostport *hp);
/* "ADDR", "[IPV6]", "ADDR:PORT" or "[IPV6]:PORT" (port 1-65535); *port is
 * left as it is when none is given.  The address may be any (callers judge
 * it with addr_unusable). */
int addr_port_parse(const char *s, union xdplb_addr *addr, __u8 *family, __u16 *port, char *err,
		    size_t errlen);
int endpoint_parse(const char *s, union xdplb_addr *addr, __u8 *family, __u16 *port, char *err,
		   size_t errlen);
int duration_parse(const char *s, __u32 *ms);
char *duration_format(__u32 ms, char *buf, size_t len);
int method_parse(const char *s, enum xdplb_method *method);
const char *method_name(enum xdplb_method method);
const char *check_name(enum xdplb_check check);
bool check_path_ok(const char *s);
char *vip_opts_format(const struct xdplb_vip_opts *o, char *buf, size_t len);

#endif /* XDPLB_TEXTFORM_H */
