/* SPDX-License-Identifier: MIT */
#ifndef STAGES_LAYER_H
#define STAGES_LAYER_H

/* The durable layer of an env (stages/layer.c): setup, teardown, cleanup. */

#include "common/error.h"
#include <json-c/json.h>

#include "compose/compose.h"
#include "durable/state.h"
#include "stages/context.h"

/* Make sure the env's TLS material covers the stack's service and container
 * names (the set, kept in the state, only grows). */
int deploy_ensure_tls(struct deploy_ctx *d, struct env_state *state,
		      const struct compose_project *p, struct error *err);

int action_durable_setup(struct deploy_ctx *d, struct error *err);
/* teardown: keep volumes unless remove_volumes */
int action_durable_teardown(struct deploy_ctx *d, int remove_volumes, struct error *err);
/* the job cleanup:durable-<env>: needs EXECUTOR_CONFIRM_DESTROY=<env> */
int action_durable_cleanup(struct deploy_ctx *d, const char *confirm, struct error *err);

#endif
