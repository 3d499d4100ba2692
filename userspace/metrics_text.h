/* SPDX-License-Identifier: GPL-2.0 */
/* metrics_text.h - the Prometheus text exposition format 0.0.4: family
 * headers (# HELP, # TYPE), samples, label escaping, number formatting.
 *
 * A label set is built once as text (`vip="10.0.0.100:80/tcp"`, without
 * braces) with mx_label() and reused for every family that carries it.
 * Everything appends to a strbuf; its `overflow` flag tells of a failed
 * append (the caller checks once at the end). */
#ifndef XDPLB_METRICS_TEXT_H
#define XDPLB_METRICS_TEXT_H

#include <stdbool.h>
#include <linux/types.h>

#include "strbuf.h"

#define MX_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

enum mx_type {
	MX_COUNTER,
	MX_GAUGE,
};

/* A metric or label name: [a-zA-Z_:][a-zA-Z0-9_:]* (labels: no ':'). */
bool mx_name_ok(const char *name, bool label);
/* "# HELP name help\n# TYPE name counter|gauge\n"; help escaped (\\, \n). */
void mx_family(struct strbuf *sb, const char *name, enum mx_type type, const char *help);
/* Append `name="value"` to a label set, after a comma if it is not empty.
 * The value is escaped (\\, \", \n) and may be any bytes but NUL. */
void mx_label(struct strbuf *labels, const char *name, const char *value);
/* "name{labels} value\n", or "name value\n" when labels is NULL or "". */
void mx_u64(struct strbuf *sb, const char *name, const char *labels, __u64 v);
void mx_f64(struct strbuf *sb, const char *name, const char *labels, double v);
/* Milliseconds as seconds with three decimals ("1795684428.172"): fast,
 * for timestamps. */
void mx_ms(struct strbuf *sb, const char *name, const char *labels, __u64 ms);
/* A double as Prometheus writes it: NaN, +Inf, -Inf, else the shortest of
 * %.15g/%.17g that reads back exactly.  Returns buf. */
char *mx_format_f64(double v, char *buf, size_t len);

#endif /* XDPLB_METRICS_TEXT_H */
