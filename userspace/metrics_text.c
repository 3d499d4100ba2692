// SPDX-License-Identifier: GPL-2.0
/* metrics_text.c - the Prometheus text exposition format. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics_text.h"

bool mx_name_ok(const char *name, bool label)
{
	const char *p;

	if (!name || !*name || (*name >= '0' && *name <= '9'))
		return false;
	for (p = name; *p; p++) {
		char c = *p;

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || (c == ':' && !label)))
			return false;
	}
	return true;
}

/* Append s with the characters in `special` backslash-escaped ('\n' as "\n"). */
static void escape(struct strbuf *sb, const char *s, const char *special)
{
	const char *p;

	while ((p = strpbrk(s, special))) {
		sb_append(sb, s, (size_t)(p - s));
		sb_append(sb, *p == '\n' ? "\\n" : *p == '"' ? "\\\"" : "\\\\", 2);
		s = p + 1;
	}
	sb_append(sb, s, strlen(s));
}

void mx_family(struct strbuf *sb, const char *name, enum mx_type type, const char *help)
{
	size_t n = strlen(name);

	sb_append(sb, "# HELP ", 7);
	sb_append(sb, name, n);
	sb_append(sb, " ", 1);
	escape(sb, help, "\\\n");
	sb_append(sb, "\n# TYPE ", 8);
	sb_append(sb, name, n);
	sb_printf(sb, " %s\n", type == MX_COUNTER ? "counter" : "gauge");
}

void mx_label(struct strbuf *labels, const char *name, const char *value)
{
	if (labels->len)
		sb_append(labels, ",", 1);
	sb_append(labels, name, strlen(name));
	sb_append(labels, "=\"", 2);
	escape(labels, value, "\\\"\n");
	sb_append(labels, "\"", 1);
}

static void sample_head(struct strbuf *sb, const char *name, const char *labels)
{
	sb_append(sb, name, strlen(name));
	if (labels && *labels) {
		sb_append(sb, "{", 1);
		sb_append(sb, labels, strlen(labels));
		sb_append(sb, "}", 1);
	}
	sb_append(sb, " ", 1);
}

/* Write v's decimal digits ending just before end; returns the first. */
static char *digits(char *end, __u64 v)
{
	do {
		*--end = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	return end;
}

void mx_u64(struct strbuf *sb, const char *name, const char *labels, __u64 v)
{
	char buf[24], *p;

	buf[sizeof(buf) - 1] = '\n';
	p = digits(buf + sizeof(buf) - 1, v);
	sample_head(sb, name, labels);
	sb_append(sb, p, (size_t)(buf + sizeof(buf) - p));
}

void mx_ms(struct strbuf *sb, const char *name, const char *labels, __u64 ms)
{
	char buf[32], *end = buf + sizeof(buf), *p;

	*--end = '\n';
	p = digits(end, 1000 + ms % 1000) + 1; /* "1xyz": three digits, zeros kept */
	*--p = '.';
	p = digits(p, ms / 1000);
	sample_head(sb, name, labels);
	sb_append(sb, p, (size_t)(buf + sizeof(buf) - p));
}

char *mx_format_f64(double v, char *buf, size_t len)
{
	if (isnan(v))
		snprintf(buf, len, "NaN");
	else if (isinf(v))
		snprintf(buf, len, v > 0 ? "+Inf" : "-Inf");
	else if (snprintf(buf, len, "%.15g", v), strtod(buf, NULL) != v)
		snprintf(buf, len, "%.17g", v);
	return buf;
}

void mx_f64(struct strbuf *sb, const char *name, const char *labels, double v)
{
	char buf[32];

	sample_head(sb, name, labels);
	sb_printf(sb, "%s\n", mx_format_f64(v, buf, sizeof(buf)));
}
