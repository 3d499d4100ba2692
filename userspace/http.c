// SPDX-License-Identifier: GPL-2.0
/* http.c - /metrics over GNU libmicrohttpd, driven by the daemon's loop. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <netinet/in.h>
#include <microhttpd.h>
#include <zlib.h>

#include "container_of.h"
#include "http.h"
#include "textform.h"

struct http {
	struct loop_fd lf;	 /* MHD's epoll fd */
	struct loop_timer timer; /* MHD's next timeout */
	struct loop *loop;
	struct MHD_Daemon *mhd;
	struct http_opts o;
	char err[256]; /* MHD's start-up complaint, for http_open's message */
};

int http_parse_listen(const char *s, struct sockaddr_storage *ss, char *err, size_t errlen)
{
	char host[XDPLB_ADDR_STRLEN];
	struct hostport hp;
	union xdplb_addr a;
	__u8 family;
	__u32 p;

	memset(ss, 0, sizeof(*ss));
	if (hostport_split(s, strlen(s), &hp) || !hp.host_len || hp.host_len >= sizeof(host))
		return cfg_error(err, errlen,
				 "bad listen address \"%.80s\" (ADDR:PORT, or [ADDR]:PORT for IPv6)", s);
	memcpy(host, hp.host, hp.host_len);
	host[hp.host_len] = 0;
	if (parse_u32(hp.port, 0, 65535, &p)) /* hp.port runs to the end of s */
		return cfg_error(err, errlen, "bad port \"%.16s\" in listen address \"%.80s\" (0-65535)",
				 hp.port, s);
	if (addr_parse(host, &a, &family) ||
	    family != (hp.bracketed ? XDPLB_AF_INET6 : XDPLB_AF_INET)) {
		if (hp.bracketed)
			return cfg_error(err, errlen, "bad IPv6 address \"%s\" in \"%.80s\"", host, s);
		return cfg_error(err, errlen,
				 "bad IPv4 address \"%s\" in \"%.80s\" (IPv6 goes in brackets: [::1]:9469)",
				 host, s);
	}
	if (hp.bracketed) {
		struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;

		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons((__u16)p);
		memcpy(&a6->sin6_addr, a.bytes, sizeof(a6->sin6_addr));
	} else {
		struct sockaddr_in *a4 = (struct sockaddr_in *)ss;

		a4->sin_family = AF_INET;
		a4->sin_port = htons((__u16)p);
		a4->sin_addr.s_addr = a.v4;
	}
	return 0;
}

bool http_accepts_gzip(const char *ae)
{
	const char *p = ae;

	while (p && *p) {
		const char *end = strchr(p, ','), *semi, *q;
		size_t n;
		bool gzip;

		if (!end)
			end = p + strlen(p);
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		semi = memchr(p, ';', (size_t)(end - p));
		n = (size_t)((semi ? semi : end) - p);
		while (n && (p[n - 1] == ' ' || p[n - 1] == '\t'))
			n--;
		gzip = (n == 4 && !strncasecmp(p, "gzip", 4)) ||
		       (n == 6 && !strncasecmp(p, "x-gzip", 6)) || (n == 1 && *p == '*');
		if (gzip) {
			q = semi;
			/* q=0, q=0.0, q=0.000 refuse; any other q accepts */
			while (q && q < end && (q = memchr(q + 1, 'q', (size_t)(end - q - 1)))) {
				const char *v = q + 1;

				while (*v == ' ')
					v++;
				if (*v != '=')
					continue;
				v++;
				while (*v == ' ')
					v++;
				if (strtod(v, NULL) <= 0)
					gzip = false;
				break;
			}
			if (gzip)
				return true;
		}
		p = *end ? end + 1 : end;
	}
	return false;
}

int http_gzip(const void *in, size_t len, void **out, size_t *outlen)
{
	z_stream z = { 0 };
	size_t cap;
	void *buf;
	int ret;

	if (deflateInit2(&z, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return -ENOMEM;
	cap = deflateBound(&z, len);
	buf = malloc(cap ? cap : 1);
	if (!buf) {
		deflateEnd(&z);
		return -ENOMEM;
	}
	z.next_in = (Bytef *)in;
	z.avail_in = (uInt)len;
	z.next_out = buf;
	z.avail_out = (uInt)cap;
	ret = deflate(&z, Z_FINISH);
	*outlen = z.total_out;
	deflateEnd(&z);
	if (ret != Z_STREAM_END || len > UINT32_MAX) {
		free(buf);
		return -ENOMEM;
	}
	*out = buf;
	return 0;
}

static enum MHD_Result reply_text(struct MHD_Connection *c, unsigned int status, const char *msg)
{
	struct MHD_Response *r =
		MHD_create_response_from_buffer(strlen(msg), (void *)msg, MHD_RESPMEM_PERSISTENT);
	enum MHD_Result ret;

	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result reply_page(struct http *h, struct MHD_Connection *c)
{
	const char *ae = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
						     MHD_HTTP_HEADER_ACCEPT_ENCODING);
	bool gz = ae && http_accepts_gzip(ae);
	struct MHD_Response *r;
	struct strbuf body;
	enum MHD_Result ret;
	void *data;
	size_t len;

	sb_init(&body, HTTP_MAX_BODY);
	if (h->o.handler(h->o.arg, &body) || body.overflow) {
		sb_free(&body);
		return reply_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR,
				  body.overflow ? "page too large or out of memory\n"
						: "cannot read the counters\n");
	}
	data = body.buf;
	len = body.len;
	if (gz && http_gzip(body.buf, body.len, &data, &len)) {
		sb_free(&body);
		return reply_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
	}
	if (gz)
		sb_free(&body);
	r = MHD_create_response_from_buffer(len, data ? data : "", data ? MHD_RESPMEM_MUST_FREE
									 : MHD_RESPMEM_PERSISTENT);
	if (!r) {
		free(data);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, h->o.content_type);
	MHD_add_response_header(r, MHD_HTTP_HEADER_VARY, MHD_HTTP_HEADER_ACCEPT_ENCODING);
	if (gz)
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_ENCODING, "gzip");
	ret = MHD_queue_response(c, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version, const char *upload,
				  size_t *upload_len, void **req_cls)
{
	struct http *h = cls;

	(void)version;
	(void)upload;
	(void)upload_len;
	(void)req_cls;
	if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD))
		return reply_text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET and HEAD\n");
	if (strcmp(url, h->o.path))
		return reply_text(c, MHD_HTTP_NOT_FOUND, "not found (try /metrics)\n");
	return reply_page(h, c);
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	struct http *h = cls;
	size_t n = strlen(h->err);

	/* kept for http_open's message; MHD also complains about every bad
	 * client, which is not worth a log line per request */
	if (!h->mhd && n < sizeof(h->err) - 1)
		vsnprintf(h->err + n, sizeof(h->err) - n, fmt, ap);
}

static unsigned int http_conns(struct http *h)
{
	const union MHD_DaemonInfo *info =
		MHD_get_daemon_info(h->mhd, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);

	return info ? info->num_connections : 0;
}

/* At its connection limit MHD takes the listen socket out of its epoll
 * set; it puts it back at the start of a later MHD_run(), but it closes
 * connections at the end of one.  When the run that closed the last of
 * them is the last event, nothing would call it again and /metrics would
 * stop accepting for good (seen with 1,000 concurrent clients): so after
 * a run that closed connections, run once more. */
static void http_drive(struct http *h)
{
	MHD_UNSIGNED_LONG_LONG ms;
	unsigned int before = http_conns(h);

	MHD_run(h->mhd);
	if (http_conns(h) < before)
		MHD_run(h->mhd);
	if (MHD_get_timeout(h->mhd, &ms) == MHD_YES)
		loop_timer_set(h->loop, &h->timer, ms);
	else
		loop_timer_cancel(h->loop, &h->timer);
}

static void on_epoll(struct loop_fd *lf, uint32_t events)
{
	(void)events;
	http_drive((struct http *)lf);
}

static void on_timer(struct loop_timer *t)
{
	http_drive(container_of(t, struct http, timer));
}

struct http *http_open(struct loop *l, const char *listen, const struct http_opts *o, char *err,
		       size_t errlen)
{
	struct sockaddr_storage ss;
	const union MHD_DaemonInfo *info;
	struct http *h;

	if (http_parse_listen(listen, &ss, err, errlen))
		return NULL;
	h = calloc(1, sizeof(*h));
	if (!h) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	h->loop = l;
	h->o = *o;
	h->lf.cb = on_epoll;
	h->timer.cb = on_timer;
	h->mhd = MHD_start_daemon(
		MHD_USE_EPOLL | MHD_USE_ERROR_LOG | (ss.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0),
		0, NULL, NULL, on_request, h, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
		MHD_OPTION_CONNECTION_LIMIT, (unsigned int)HTTP_MAX_CONNS,
		MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned int)HTTP_MAX_CONNS_PER_IP,
		MHD_OPTION_CONNECTION_TIMEOUT, o->timeout_s ? o->timeout_s : (unsigned int)HTTP_TIMEOUT_S,
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HTTP_MEMORY_LIMIT,
		MHD_OPTION_EXTERNAL_LOGGER, mhd_log, h, MHD_OPTION_END);
	if (!h->mhd) {
		snprintf(err, errlen, "cannot serve metrics on %s%s%s", listen, h->err[0] ? ": " : "",
			 h->err);
		if (strlen(err) && err[strlen(err) - 1] == '\n')
			err[strlen(err) - 1] = 0;
		free(h);
		return NULL;
	}
	info = MHD_get_daemon_info(h->mhd, MHD_DAEMON_INFO_EPOLL_FD);
	h->lf.fd = info ? info->epoll_fd : -1;
	if (h->lf.fd < 0 || loop_add(l, &h->lf, EPOLLIN)) {
		snprintf(err, errlen, "cannot serve metrics on %s: no epoll fd", listen);
		MHD_stop_daemon(h->mhd);
		free(h);
		return NULL;
	}
	http_drive(h);
	return h;
}

unsigned int http_port(const struct http *h)
{
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(h->mhd, MHD_DAEMON_INFO_BIND_PORT);

	return info ? info->port : 0;
}

void http_close(struct http *h)
{
	if (!h)
		return;
	loop_del(h->loop, &h->lf);
	loop_timer_cancel(h->loop, &h->timer);
	MHD_stop_daemon(h->mhd);
	free(h);
}
