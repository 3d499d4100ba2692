/* SPDX-License-Identifier: GPL-2.0 */
/* model.h - the configuration model: VIPs, their options and backends; its
 * limits and defaults.  Text forms: textform.h; commands: cmdparse.h. */
#ifndef XDPLB_MODEL_H
#define XDPLB_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "xdplb.h"

/* Limits of the model (the ABI header holds XDPLB_MAX_VIPS/_BACKENDS). */
#define XDPLB_MAX_BACKENDS_PER_VIP 4096

/* Limits of a VIP's options. */
#define CMD_MAX_CHECK_PATH  256	 /* http check path, NUL included */
#define CMD_MIN_RING_SIZE   3	 /* what maglev_build() accepts */
#define CMD_MAX_FALL_RISE   100
#define CMD_MAX_DURATION_MS (86400u * 1000) /* one day */

/* Defaults of `vip add` and `backend add`. */
#define XDPLB_DEFAULT_METHOD	  XDPLB_METHOD_L2
#define XDPLB_DEFAULT_INTERVAL_MS 2000
#define XDPLB_DEFAULT_TIMEOUT_MS  1000
#define XDPLB_DEFAULT_FALL	  3
#define XDPLB_DEFAULT_RISE	  2
#define XDPLB_DEFAULT_WEIGHT	  1
#define XDPLB_DEFAULT_NEED	  1
#define XDPLB_MAX_WEIGHT	  65535

/* A VIP's health check (health.h runs them). */
enum xdplb_check {
	XDPLB_CHECK_NONE = 0,
	XDPLB_CHECK_TCP,
	XDPLB_CHECK_HTTP,
	XDPLB_CHECK_MAX,
};

/* Everything `vip add` can set besides the key. */
struct xdplb_vip_opts {
	enum xdplb_method method;
	__u32 ring_size; /* prime, <= XDPLB_MAX_RING_SIZE */
	enum xdplb_check check;
	char check_path[CMD_MAX_CHECK_PATH]; /* XDPLB_CHECK_HTTP only, else "" */
	__u32 interval_ms;
	__u32 timeout_ms;
	__u32 fall;
	__u32 rise;
	__u32 flags; /* XDPLB_VIP_F_HASH_SRC (`src hash`) */
	__u32 need;  /* backends up for the VIP to be serving (announced) */
};

struct xdplb_backend {
	union xdplb_addr addr;
	__u32 id;     /* < XDPLB_MAX_BACKENDS, unique in the model */
	__u32 weight; /* 0..XDPLB_MAX_WEIGHT; 0 drains */
	__u8 family;  /* XDPLB_AF_* */
};

struct xdplb_vip {
	struct xdplb_vip_key key;
	struct xdplb_vip_opts opts;
	__u32 id; /* < XDPLB_MAX_VIPS */
	__u32 n_backends;
	__u32 cap_backends;
	struct xdplb_backend *backends; /* sorted by (family, address) */
};

/* The configuration: the one source of truth the daemon derives maps from.
 * Initialise with model_init() (or zero it), release with model_free(). */
struct xdplb_model {
	struct xdplb_vip *vips; /* sorted by vip_key_cmp() */
	__u32 n_vips;
	__u32 cap_vips;
	__u32 n_backends;			   /* over all VIPs */
	__u64 vip_ids[(XDPLB_MAX_VIPS + 63) / 64]; /* bitmap of VIP ids in use */
	__u32 be_next;				   /* lowest backend id never handed out */
	__u32 *be_free; /* ring buffer of freed backend ids, oldest first */
	__u32 be_free_head;
	__u32 be_free_len;
	__u32 be_free_cap;
	/* Node state, not configuration: kept in the state file, left out of
	 * `save`.  `node drain`/`undrain` set drained and drained_given;
	 * model_load takes drained from its input only when the input says it. */
	bool drained;
	bool drained_given;
};

/* model.c: the model.  Functions taking err return 0 or -1 with a message. */
struct xdplb_cmd; /* cmdparse.h */
/* The options `vip add` gives a VIP that names none. */
void vip_opts_default(struct xdplb_vip_opts *o);
/* Whole-struct validation, for commands that did not come through cmd_parse. */
int vip_opts_check(const struct xdplb_vip_opts *o, char *err, size_t errlen);
void model_init(struct xdplb_model *m);
void model_free(struct xdplb_model *m);
int model_copy(struct xdplb_model *dst, const struct xdplb_model *src);
int model_apply(struct xdplb_model *m, const struct xdplb_cmd *c, char *err, size_t errlen);
int model_save(const struct xdplb_model *m, FILE *f);
/* model_save, then the node state (`node drain`): what the state file holds. */
int model_save_state(const struct xdplb_model *m, FILE *f);
int model_load(struct xdplb_model *m, FILE *f, char *err, size_t errlen);
/* Where model_assign_ids() takes ids from: a number, or -1 for "none". */
struct model_id_source {
	long (*vip_id)(void *ctx, const struct xdplb_vip *v);
	long (*be_id)(void *ctx, const struct xdplb_vip *v, const struct xdplb_backend *b);
	void *ctx;
};
/* Give VIPs and backends the ids src names (the ids of a running datapath,
 * when lbd adopts it); the rest get fresh ones.  Returns 0 or -1 (ENOMEM). */
int model_assign_ids(struct xdplb_model *m, const struct model_id_source *src);
struct xdplb_vip *model_find_vip(const struct xdplb_model *m, const struct xdplb_vip_key *key);
struct xdplb_backend *model_find_backend(const struct xdplb_vip *v, const union xdplb_addr *addr,
					 __u8 family);

#endif /* XDPLB_MODEL_H */
