/* SPDX-License-Identifier: MIT */
#ifndef STAGES_CANARY_H
#define STAGES_CANARY_H

/* The canary steps of a promote (stages/canary.c). */

#include <json-c/json.h>

#include "common/error.h"
#include "durable/state.h"
#include "stages/context.h"
#include "stages/watch.h"

/* Back to 0%: the live color serves every client again (state saved). */
int canary_reset(struct deploy_ctx *d, struct env_state *state, const char *target,
		 struct error *err);
/* The steps below 100%, each watched; *full: switch fully now. */
int canary_steps(struct deploy_ctx *d, struct env_state *state, const char *target,
		 const struct promote_plan *p, struct watch *w, int *full, int *rolled_back,
		 struct error *err);

#endif
