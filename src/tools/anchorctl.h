/*  anchord - tools/anchorctl.h: what anchorctl's files share.
 *
 *  anchorctl is anchorctl.c and a file per larger group of commands.
 */
#pragma once

#include "daemon/daemon.h"

#include <stdbool.h>

struct store;

struct ctl {
	struct anchord_config conf;
	struct store *store;
	char actor[96];
	int argc;
	char **argv;			/**< the command's own arguments */
};

/** Record a change in the audit log; 0, or 1 after saying why not. */
int audit(struct ctl *c, const char *action, const char *detail);
/** --name VALUE among the command's arguments, or NULL. */
const char *option(struct ctl *c, const char *name);
bool flag(struct ctl *c, const char *name);
/** Ask a running daemon to look at the store again (best effort). */
void tell_daemon(struct ctl *c);

/* anchorctl_iot.c */
int cmd_iot_allow(struct ctl *c);
int cmd_iot_list(struct ctl *c);
int cmd_iot_remove(struct ctl *c);
