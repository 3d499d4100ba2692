/* SPDX-License-Identifier: GPL-2.0 */
/* strbuf.h - a growable text buffer with a hard size limit. */
#ifndef XDPLB_STRBUF_H
#define XDPLB_STRBUF_H

#include <stdbool.h>
#include <stddef.h>

struct strbuf {
	char *buf;
	size_t len, cap, max; /* max 0: unlimited */
	bool overflow;        /* an append was cut short by max or ENOMEM */
};

void sb_init(struct strbuf *sb, size_t max);
void sb_free(struct strbuf *sb);
void sb_reset(struct strbuf *sb);
bool sb_append(struct strbuf *sb, const void *data, size_t len);
bool sb_printf(struct strbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* s as a JSON string, quotes included. */
void sb_json_str(struct strbuf *sb, const char *s);
/* Always NUL-terminated (an empty buffer gives ""). */
const char *sb_str(struct strbuf *sb);

#endif /* XDPLB_STRBUF_H */
