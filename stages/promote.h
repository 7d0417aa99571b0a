/* SPDX-License-Identifier: MIT */
#ifndef STAGES_PROMOTE_H
#define STAGES_PROMOTE_H

/* promote:<color> and the switch of the live entry, also rollback's
 * (stages/promote.c). */

#include <json-c/json.h>

#include "common/error.h"
#include "durable/state.h"
#include "stages/context.h"
#include "stages/watch.h"

/* What a promote did, for the history: the action's own color stays as
 * the job named it. */
struct promote_result {
	char color[ACTION_NAME_MAX]; /* the color promoted, or whose canary was aborted */
	char note[160];		     /* the history's message on success; "" for "promoted" */
	int rolled_back;	     /* the watch failed and the live entry went back */
};

/* promote:<color>, recorded in the env's history. */
int action_promote(struct deploy_ctx *d, struct error *err);
/* The promote itself: *res says what it did (also on failure). */
int promote_run(struct deploy_ctx *d, struct promote_result *res, struct error *err);
/* Switch the live entry to target, verified through it (and watched when w
 * is given), switched back on failure; *rolled_back says which. */
int promote_switch_live(struct deploy_ctx *d, struct env_state *state, const char *target,
			const char *what, struct watch *w, const struct watch_opts *o,
			int *rolled_back, struct error *err);

#endif
