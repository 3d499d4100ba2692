/* SPDX-License-Identifier: GPL-2.0 */
/* container_of.h - the struct that holds a member, from a pointer to the member. */
#ifndef XDPLB_CONTAINER_OF_H
#define XDPLB_CONTAINER_OF_H

#include <stddef.h>

/* The loop's callbacks get their loop_fd or loop_timer; this finds its owner. */
#define container_of(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))

#endif /* XDPLB_CONTAINER_OF_H */
