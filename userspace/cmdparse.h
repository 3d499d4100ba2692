/* SPDX-License-Identifier: GPL-2.0 */
/* cmdparse.h - the one command parser: a line into words, words into a
 * command (lbctl's arguments, lbd's control socket and state file alike). */
#ifndef XDPLB_CMDPARSE_H
#define XDPLB_CMDPARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "model.h"

/* Limits of a command. */
#define CMD_MAX_LINE	    4096 /* bytes in one line, newline excluded */
#define CMD_MAX_WORDS	    64	 /* words in one line */
#define CMD_MAX_FILE	    4096 /* restore FILE, NUL included */
#define CMD_MAX_TOP	    1000000
#define CMD_TOP_INTERVAL_MS 1000
#define CMD_TOP_MIN_INTERVAL_MS 100
#define CMD_TOP_MAX_INTERVAL_MS 3600000
#define CMD_TOP_MAX_COUNT 1000000

enum cmd_kind {
	CMD_NONE = 0,
	CMD_HELP,
	CMD_VIP_ADD,
	CMD_VIP_DEL,
	CMD_VIP_SHOW,
	CMD_BACKEND_ADD,
	CMD_BACKEND_SET,
	CMD_BACKEND_DEL,
	CMD_STATS,
	CMD_FLOWS,
	CMD_FLOW_LOOKUP,
	CMD_SAVE,
	CMD_RESTORE,
	CMD_TOP,
	CMD_NODE_DRAIN,
	CMD_NODE_UNDRAIN,
	CMD_NODE_SHOW,
	CMD_SYNC_SHOW,
	CMD_KIND_MAX,
};

/* One parsed command.  Fields a command does not use are zero; strings are
 * copies, so the struct does not point into the argv it came from (except
 * help_object, which points to a static table name). */
struct xdplb_cmd {
	enum cmd_kind kind;
	const char *help_object; /* CMD_HELP: object name, NULL for all */
	bool has_vip;		 /* false: optional VIP not given */
	struct xdplb_vip_key vip;
	struct xdplb_vip_opts opts; /* CMD_VIP_ADD, defaults filled in */
	union xdplb_addr addr;	    /* backend address */
	__u8 family;		    /* its XDPLB_AF_* */
	__u32 weight;		    /* CMD_BACKEND_ADD/SET */
	__u32 top;		    /* CMD_FLOWS: 0 when not given */
	__u32 top_interval_ms;	    /* CMD_TOP: refresh interval (default CMD_TOP_INTERVAL_MS) */
	__u32 top_count;	    /* CMD_TOP: snapshots to show, 0 = until q or Ctrl-C */
	union xdplb_addr client;    /* CMD_FLOW_LOOKUP */
	__u8 client_family;
	__u16 client_port;	 /* host order */
	char file[CMD_MAX_FILE]; /* CMD_RESTORE: path, "-" for stdin */
};

int cmd_split_line(char *line, char **argv, int *argc, char *err, size_t errlen);
int cmd_parse(int argc, char **argv, struct xdplb_cmd *out, char *err, size_t errlen);
const char *cmd_kind_name(enum cmd_kind kind, char *buf, size_t len);
bool cmd_is_change(enum cmd_kind kind);
void cmd_usage(FILE *f, const char *object);

#endif /* XDPLB_CMDPARSE_H */
