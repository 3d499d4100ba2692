/* SPDX-License-Identifier: GPL-2.0 */
/* http.h - a small HTTP server for /metrics on the daemon's event loop.
 *
 * GNU libmicrohttpd does the HTTP (parsing, keep-alive, HEAD, limits) in
 * its external-epoll mode: its epoll fd sits in lbd's loop and MHD_run()
 * is called from the loop when that fd is readable or MHD's own timeout
 * (connection idle limits) is due.  Nothing runs in another thread, so the
 * handler reads the daemon's state without locks.
 *
 * Served: GET and HEAD of one path (200, body from the handler, gzip when
 * the client accepts it); other paths 404; other methods 405 with Allow.
 * Bounded: HTTP_MAX_CONNS connections (HTTP_MAX_CONNS_PER_IP from one
 * address), HTTP_TIMEOUT_S idle/slow connection timeout, request line and
 * headers within HTTP_MEMORY_LIMIT bytes (larger ones get 431/414). */
#ifndef XDPLB_HTTP_H
#define XDPLB_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "loop.h"
#include "strbuf.h"

#define HTTP_MAX_CONNS 64
#define HTTP_MAX_CONNS_PER_IP 16
#define HTTP_TIMEOUT_S 10
#define HTTP_MEMORY_LIMIT (32 * 1024)
#define HTTP_MAX_BODY (256u << 20)

/* Write the page to body (text); return 0, or -1 for a 500 with body as
 * the message. */
typedef int (*http_handler)(void *arg, struct strbuf *body);

struct http_opts {
	const char *path;	  /* the one path served, e.g. "/metrics" */
	const char *content_type; /* of the handler's body */
	http_handler handler;
	void *arg;
	unsigned int timeout_s;	  /* idle/slow connection limit; 0: HTTP_TIMEOUT_S */
};

struct http;

/* "ADDR:PORT" (IPv4) or "[ADDR]:PORT" (IPv6), port 1-65535.  Returns 0,
 * or -1 with a message in err. */
int http_parse_listen(const char *s, struct sockaddr_storage *ss, char *err, size_t errlen);
/* Listen on `listen` ("ADDR:PORT") and serve on loop l.  NULL with a
 * message in err on failure (bad address, port in use, ...). */
struct http *http_open(struct loop *l, const char *listen, const struct http_opts *o, char *err,
		       size_t errlen);
void http_close(struct http *h);
/* The port actually bound (useful with port 0 in tests). */
unsigned int http_port(const struct http *h);

/* True if an Accept-Encoding header value accepts gzip (a q of 0 refuses). */
bool http_accepts_gzip(const char *accept_encoding);
/* gzip (RFC 1952) of in, level 1 (fast; the text is repetitive).  Returns
 * 0 and a malloc'ed *out, or -ENOMEM. */
int http_gzip(const void *in, size_t len, void **out, size_t *outlen);

#endif /* XDPLB_HTTP_H */
