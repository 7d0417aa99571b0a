/* SPDX-License-Identifier: MIT */
#ifndef STAGES_PERFORM_H
#define STAGES_PERFORM_H

/* The one dispatch of a deployment action (stages/perform.c). */

#include "common/error.h"
#include "stages/context.h"

struct deploy_opts {
	const char *dotenv;  /* deploy: the dotenv report to write, or NULL */
	const char *confirm; /* durable cleanup job: EXECUTOR_CONFIRM_DESTROY */
	int volumes;	     /* local durable teardown: --volumes */
};

/* Carry out d->action: the one dispatch shared by runner jobs and local
 * commands.  A durable cleanup is the guarded, confirmed job when d->job is
 * set, the operator's teardown otherwise. */
int deploy_perform(struct deploy_ctx *d, const struct deploy_opts *o, struct error *err);

#endif
