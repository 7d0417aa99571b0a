/* SPDX-License-Identifier: MIT */
#ifndef STAGES_PROMOTE_H
#define STAGES_PROMOTE_H

/* The switch of the live entry (stages/promote.c), also rollback's. */

#include <json-c/json.h>

#include "common/error.h"
#include "stages/deploy.h"
#include "stages/watch.h"

/* Switch the live entry to target, verified through it (and watched when w
 * is given), switched back on failure; *rolled_back says which. */
int promote_switch_live(struct deploy_ctx *d, json_object *state, const char *target,
			const char *what, struct watch *w, const struct watch_opts *o,
			int *rolled_back, struct error *err);

#endif
