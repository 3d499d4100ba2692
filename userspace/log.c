// SPDX-License-Identifier: GPL-2.0
/* log.c - lbd's log lines: "2024-05-01T12:00:00.123Z lbd: MESSAGE" on stderr. */
#include <stdarg.h>
#include <stdio.h>
#include <time.h>

#include "log.h"

void lbd_log(const char *fmt, ...)
{
	char ts[32];
	struct timespec now;
	struct tm tm;
	va_list ap;

	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	fprintf(stderr, "%s.%03ldZ lbd: ", ts, now.tv_nsec / 1000000);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}
