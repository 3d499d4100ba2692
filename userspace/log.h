/* SPDX-License-Identifier: GPL-2.0 */
/* log.h - lbd's log: one line on stderr per event, a UTC timestamp first. */
#ifndef XDPLB_LOG_H
#define XDPLB_LOG_H

void lbd_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif /* XDPLB_LOG_H */
