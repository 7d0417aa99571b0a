/* SPDX-License-Identifier: MIT */
#ifndef STAGES_PROMOTE_H
#define STAGES_PROMOTE_H

/* promote:<color> and the switch of the live entry, also rollback's
 * (stages/promote.c). */

#include <json-c/json.h>

#include "common/error.h"
#include "stages/context.h"
#include "stages/watch.h"

int action_promote(struct deploy_ctx *d, struct error *err);
/* Switch the live entry to target, verified through it (and watched when w
 * is given), switched back on failure; *rolled_back says which. */
int promote_switch_live(struct deploy_ctx *d, json_object *state, const char *target,
			const char *what, struct watch *w, const struct watch_opts *o,
			int *rolled_back, struct error *err);

#endif
