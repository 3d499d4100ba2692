// SPDX-License-Identifier: GPL-2.0
/* strbuf.c - a growable text buffer with a hard size limit. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strbuf.h"

void sb_init(struct strbuf *sb, size_t max)
{
	memset(sb, 0, sizeof(*sb));
	sb->max = max;
}

void sb_free(struct strbuf *sb)
{
	free(sb->buf);
	sb_init(sb, sb->max);
}

void sb_reset(struct strbuf *sb)
{
	sb->len = 0;
	sb->overflow = false;
	if (sb->buf)
		sb->buf[0] = 0;
}

static bool sb_reserve(struct strbuf *sb, size_t extra)
{
	size_t need = sb->len + extra + 1, cap;
	char *p;

	if (sb->max && need > sb->max + 1)
		return false;
	if (need <= sb->cap)
		return true;
	cap = sb->cap ? sb->cap : 256;
	while (cap < need)
		cap *= 2;
	if (sb->max && cap > sb->max + 1)
		cap = sb->max + 1;
	p = realloc(sb->buf, cap);
	if (!p)
		return false;
	sb->buf = p;
	sb->cap = cap;
	return true;
}

bool sb_append(struct strbuf *sb, const void *data, size_t len)
{
	if (!sb_reserve(sb, len)) {
		sb->overflow = true;
		return false;
	}
	memcpy(sb->buf + sb->len, data, len);
	sb->len += len;
	sb->buf[sb->len] = 0;
	return true;
}

bool sb_printf(struct strbuf *sb, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || !sb_reserve(sb, (size_t)n)) {
		sb->overflow = true;
		return false;
	}
	va_start(ap, fmt);
	vsnprintf(sb->buf + sb->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	sb->len += (size_t)n;
	return true;
}

const char *sb_str(struct strbuf *sb)
{
	return sb->buf ? sb->buf : "";
}

void sb_json_str(struct strbuf *sb, const char *s)
{
	sb_append(sb, "\"", 1);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			sb_printf(sb, "\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			sb_printf(sb, "\\u%04x", *s);
		else
			sb_append(sb, s, 1);
	}
	sb_append(sb, "\"", 1);
}
