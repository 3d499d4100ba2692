// SPDX-License-Identifier: GPL-2.0
/* fuzz_http.c - libFuzzer harness for lbd's /metrics server (userspace/http.c
 * over libmicrohttpd, on the daemon's loop): the input is the bytes a client
 * sends on one TCP connection to a real server on 127.0.0.1 (port chosen by
 * the kernel), in-process.  The client sends them, half-closes, and drives
 * the loop until the server closes (bounded: HANG_MS).  Invariants, checked
 * on every input (abort() on violation):
 *   - the server never crashes (ASan/UBSan) and always closes the connection;
 *   - what comes back is a sequence of whole responses (the last may be cut
 *     only if the connection was reset), each a well-formed status line
 *     "HTTP/1.x NNN reason" with a status from a known set, header lines
 *     "Name: value", and a body of its Content-Length (none for HEAD);
 *   - 200 carries our Content-Type and Vary, and its body is the page, or
 *     (Content-Encoding: gzip) a gzip stream that inflates to the page; 405
 *     carries "Allow: GET, HEAD"; nothing else than 200 carries the page;
 *   - the whole reply is bounded: at most one page (plus headers) per
 *     request the input could hold.
 * The input's Accept-Encoding values also go to http_accepts_gzip (a value
 * without "gzip", "x-gzip" or "*" never accepts), and an input "listen
 * ADDR:PORT" to http_parse_listen (a parsed address is one of the two
 * families, with the port it names). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zlib.h>

#include "http.h"
#include "loop.h"
#include "metrics_text.h"
#include "strbuf.h"
#include "fuzz.h"

#define CHECK FUZZ_CHECK

#define INPUT_MAX (64 * 1024) /* twice MHD's memory limit: 414/431 are reached */
/* Inputs of a size near MHD's memory limit are skipped: a request line or
 * header block that fills MHD's read buffer to just below the limit can be
 * left waiting for more (until the idle timeout) instead of getting 414/431,
 * depending on how the reads split.  That is MHD's, and bounded like any
 * slow client, but every such input would cost the fuzzer a timeout.  Other
 * inputs can meet the same wait (a CI run found one), so the server here
 * runs with a short idle timeout (IDLE_S) and the invariant is the one lbd
 * relies on: the server closes every connection by its idle timeout. */
#define NEAR_LIMIT_MIN (20 * 1024)
#define NEAR_LIMIT_MAX (36 * 1024)
#define IDLE_S 1	      /* the server's idle timeout here (lbd: HTTP_TIMEOUT_S) */
#define HANG_MS (IDLE_S * 1000 + 4000) /* the server must have closed by then */
#define REPLY_HEADERS_MAX 1024

static struct loop *loop;
static struct http *srv;
static struct sockaddr_in addr;
static struct strbuf page;
static char *reply;
static size_t reply_cap;

static int handler(void *arg, struct strbuf *body)
{
	(void)arg;
	return sb_append(body, page.buf, page.len) ? 0 : -1;
}

/* A page like lbd's: a few families, labels, repetitive (gzip shrinks it). */
static void page_build(void)
{
	struct strbuf l;
	char v[64];
	int i;

	sb_init(&page, 0);
	mx_family(&page, "xdplb_vip_packets_total", MX_COUNTER, "Packets forwarded.\nPer VIP.");
	for (i = 0; i < 60; i++) {
		sb_init(&l, 0);
		snprintf(v, sizeof(v), "10.0.%d.%d:80/tcp", i / 250, i % 250);
		mx_label(&l, "vip", v);
		mx_u64(&page, "xdplb_vip_packets_total", sb_str(&l), (__u64)i * 1000003u);
		sb_free(&l);
	}
	mx_family(&page, "xdplb_flow_table_entries", MX_GAUGE, "Entries \"counted\" \\ by a walk.");
	mx_f64(&page, "xdplb_flow_table_entries", NULL, 12345.5);
	CHECK(!page.overflow && page.len > 1000);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct http_opts o = { .path = "/metrics", .content_type = MX_CONTENT_TYPE,
			       .handler = handler, .timeout_s = IDLE_S };
	char err[256];

	(void)argc;
	(void)argv;
	signal(SIGPIPE, SIG_IGN);
	page_build();
	loop = loop_new();
	srv = loop ? http_open(loop, "127.0.0.1:0", &o, err, sizeof(err)) : NULL;
	if (!srv) {
		fprintf(stderr, "fuzz_http: cannot start the server: %s\n", loop ? err : "no loop");
		exit(1);
	}
	addr.sin_family = AF_INET;
	addr.sin_port = htons((__u16)http_port(srv));
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	reply_cap = (INPUT_MAX / 16 + 1) * (page.len + 64 + REPLY_HEADERS_MAX);
	reply = malloc(reply_cap);
	CHECK(reply);
	return 0;
}

/* ---- the exchange ---- */

/* Read what there is; false once the server closed (or reset: *reset). */
static bool drain(int fd, size_t *got, bool *reset)
{
	for (;;) {
		ssize_t n = recv(fd, reply + *got, reply_cap - *got, 0);

		if (n > 0) {
			*got += (size_t)n;
			CHECK(*got < reply_cap); /* unbounded reply */
			continue;
		}
		if (n == 0)
			return false;
		if (errno == ECONNRESET || errno == EPIPE) {
			*reset = true;
			return false;
		}
		CHECK(errno == EAGAIN || errno == ENOTCONN);
		return true;
	}
}

/* Send in, half-close, read until the server closes.  Returns the reply
 * length; *reset tells of a reset connection.
 *
 * The half-close waits until the loop has run a few rounds after the last
 * byte went out: MHD's epoll is edge-triggered, and a FIN that arrives with
 * the last bytes of an incomplete request raises no edge of its own after
 * MHD read them, so MHD would notice it only at its idle timeout
 * (HTTP_TIMEOUT_S; lbd is safe either way, the connection is bounded). */
static size_t exchange(const uint8_t *in, size_t size, bool *reset)
{
	uint64_t deadline = loop_now_ms() + HANG_MS;
	size_t sent = 0, got = 0;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), settle = 4;
	bool open = true;

	CHECK(fd >= 0);
	*reset = false;
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) && errno != EINPROGRESS)
		CHECK(!"connect to the server");
	while (open && (sent < size || settle > 0)) {
		CHECK(loop_now_ms() < deadline); /* the server reads nothing */
		if (sent < size) {
			ssize_t n = send(fd, in + sent, size - sent, MSG_NOSIGNAL);

			if (n > 0)
				sent += (size_t)n;
			else if (errno != EAGAIN && errno != ENOTCONN && errno != EINPROGRESS)
				break; /* the server closed while we were sending */
		} else {
			settle--;
		}
		loop_once(loop, sent < size ? 1 : 0);
		open = drain(fd, &got, reset);
	}
	shutdown(fd, SHUT_WR);
	while (open) {
		CHECK(loop_now_ms() < deadline); /* the server does not close */
		loop_once(loop, 1);
		open = drain(fd, &got, reset);
	}
	close(fd);
	loop_once(loop, 0); /* MHD cleans the connection up */
	return got;
}

/* ---- the reply ---- */

static bool inflates_to_page(const char *gz, size_t len)
{
	static char buf[1 << 16];
	z_stream z = { 0 };
	bool ok;
	int r;

	CHECK(page.len < sizeof(buf));
	if (inflateInit2(&z, 15 + 16) != Z_OK)
		return false;
	z.next_in = (Bytef *)gz;
	z.avail_in = (uInt)len;
	z.next_out = (Bytef *)buf;
	z.avail_out = sizeof(buf);
	r = inflate(&z, Z_FINISH);
	ok = r == Z_STREAM_END && z.avail_in == 0 && z.total_out == page.len &&
	     !memcmp(buf, page.buf, page.len);
	inflateEnd(&z);
	return ok;
}

static const char *find_crlf(const char *p, const char *end)
{
	for (; p + 1 < end; p++)
		if (p[0] == '\r' && p[1] == '\n')
			return p;
	return NULL;
}

struct head {
	int status;
	long clen; /* -1: none */
	bool gzip, ctype, vary, allow, chunked;
};

static bool status_known(int s)
{
	static const int ok[] = { 100, 200, 400, 404, 405, 413, 414, 417, 431, 501, 505 };
	size_t i;

	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		if (s == ok[i])
			return true;
	return false;
}

/* One header line "Name: value" (no CRLF). */
static void header_line(const char *p, size_t n, struct head *h)
{
	const char *colon = memchr(p, ':', n), *v;
	size_t nl, vl;

	CHECK(colon && colon > p);
	for (v = p; v < colon; v++)
		CHECK(*v > 32 && *v < 127);
	nl = (size_t)(colon - p);
	v = colon + 1;
	while (v < p + n && *v == ' ')
		v++;
	vl = (size_t)(p + n - v);
#define IS(name) (nl == strlen(name) && !strncasecmp(p, name, nl))
#define VAL(s) (vl == strlen(s) && !memcmp(v, s, vl))
	if (IS("Content-Length")) {
		char num[24];

		CHECK(vl > 0 && vl < sizeof(num));
		memcpy(num, v, vl);
		num[vl] = 0;
		CHECK(strspn(num, "0123456789") == vl);
		h->clen = strtol(num, NULL, 10);
	} else if (IS("Content-Encoding")) {
		CHECK(VAL("gzip"));
		h->gzip = true;
	} else if (IS("Content-Type")) {
		h->ctype = VAL(MX_CONTENT_TYPE);
	} else if (IS("Vary")) {
		h->vary = VAL("Accept-Encoding");
	} else if (IS("Allow")) {
		CHECK(VAL("GET, HEAD"));
		h->allow = true;
	} else if (IS("Transfer-Encoding")) {
		h->chunked = true;
	}
#undef IS
#undef VAL
}

/* Check the responses in r[0, len); returns how many there were.  `head`:
 * the requests may include a HEAD (its reply has no body). */
static int check_reply(const char *r, size_t len, bool reset, bool head)
{
	const char *p = r, *end = r + len, *eol;
	int n = 0;

	while (p < end) {
		struct head h = { .clen = -1 };
		size_t body;

		eol = find_crlf(p, end);
		if (!eol) {
			CHECK(reset);
			break;
		}
		/* "HTTP/1.1 200 OK" */
		CHECK(eol - p >= 13 && (!memcmp(p, "HTTP/1.1 ", 9) || !memcmp(p, "HTTP/1.0 ", 9)));
		CHECK(p[9] >= '1' && p[9] <= '5' && p[10] >= '0' && p[10] <= '9' &&
		      p[11] >= '0' && p[11] <= '9' && p[12] == ' ');
		h.status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
		CHECK(status_known(h.status));
		for (p = eol + 2; (eol = find_crlf(p, end)) && eol != p; p = eol + 2) {
			CHECK(eol - p < REPLY_HEADERS_MAX);
			header_line(p, (size_t)(eol - p), &h);
		}
		if (!eol) {
			CHECK(reset);
			break;
		}
		p = eol + 2;
		n++;
		CHECK(!h.chunked); /* every reply here has a known length */
		if (h.status == 100) /* "Expect: 100-continue": the final reply follows */
			continue;
		CHECK(h.clen >= 0);
		if (h.status == 405)
			CHECK(h.allow);
		/* a reply to HEAD has no body: the next reply, or the end, follows.
		 * So may libmicrohttpd's own error replies (seen: a 400 for a bad
		 * Content-Length sent twice, without its body); lbd's page (200)
		 * comes with its body unless a HEAD asked for it. */
		body = (head || h.status != 200) &&
				       ((end - p >= 7 && !memcmp(p, "HTTP/1.", 7)) || p == end)
			       ? 0
			       : (size_t)h.clen;
		if ((size_t)(end - p) < body) {
			CHECK(reset);
			break;
		}
		if (h.status == 200) {
			CHECK(h.ctype && h.vary);
			if (body)
				CHECK(h.gzip ? inflates_to_page(p, body)
					     : body == page.len && !memcmp(p, page.buf, body));
		} else {
			CHECK(!h.gzip && (size_t)h.clen < page.len / 4);
		}
		p += body;
	}
	return n;
}

/* ---- the helpers that see request text ---- */

/* v: one Accept-Encoding value as MHD would hand it to the server. */
static void check_accept(const char *v)
{
	bool named = strchr(v, '*');
	const char *p;

	for (p = v; *p && !named; p++)
		named = !strncasecmp(p, "gzip", 4);
	if (http_accepts_gzip(v))
		CHECK(named);
}

/* "listen ADDR:PORT": the --metrics flag's parser (not network input, but
 * cheap to try). */
static void check_listen(const char *s)
{
	struct sockaddr_storage ss;
	char err[128];

	err[0] = 0;
	if (http_parse_listen(s, &ss, err, sizeof(err)) == 0) {
		CHECK(ss.ss_family == AF_INET || ss.ss_family == AF_INET6);
		CHECK(strrchr(s, ':'));
		CHECK(ntohs(((struct sockaddr_in *)&ss)->sin_port) ==
		      strtoul(strrchr(s, ':') + 1, NULL, 10));
	} else {
		CHECK(err[0]);
	}
}

/* The helpers see what they would see in lbd: the value of every
 * Accept-Encoding line of the input (the server's own call sees only the
 * one MHD picks), and the rest of a first line "listen ...". */
static void check_helpers(const uint8_t *data, size_t size)
{
	static const char ae[] = "accept-encoding:";
	char s[1024];
	size_t n = size < sizeof(s) - 1 ? size : sizeof(s) - 1;
	char *line, *next;

	memcpy(s, data, n);
	s[n] = 0;
	if (!strncmp(s, "listen ", 7)) {
		check_listen(s + 7);
		return;
	}
	for (line = s; line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = 0;
		if (!strncasecmp(line, ae, sizeof(ae) - 1))
			check_accept(line + sizeof(ae) - 1);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	bool reset;
	size_t got;
	int n;

	if (size > INPUT_MAX || (size > NEAR_LIMIT_MIN && size < NEAR_LIMIT_MAX))
		return 0;
	check_helpers(data, size);
	got = exchange(data, size, &reset);
	n = check_reply(reply, got, reset, memmem(data, size, "HEAD", 4) != NULL);
	/* no more replies than requests the input can hold ("GET / HTTP/1.0\r\n\r\n") */
	CHECK((size_t)n <= size / 16 + 1);
	return 0;
}
