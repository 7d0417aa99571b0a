/* SPDX-License-Identifier: MIT */
#ifndef STAGES_ACTION_H
#define STAGES_ACTION_H

#include "common/error.h"

/*
 * Which deployment action a job is, from its name as in the seed
 * (durable:setup-ci, deploy:green, promote:green, rollback:to-blue,
 * cleanup:green, cleanup:durable-ci) or from EXECUTOR_ACTION, which wins.
 */
enum action_kind {
	ACTION_NONE, /* an ordinary container job */
	ACTION_DURABLE_SETUP,
	ACTION_DURABLE_CLEANUP,
	ACTION_DEPLOY,
	ACTION_PROMOTE,
	ACTION_ROLLBACK,
	ACTION_CLEANUP,
};

#define ACTION_NAME_MAX 33

/* What a promote does with a canary: go through the steps (EXECUTOR_CANARY_STEPS,
 * or straight to 100% without them), abort it (back to 0%), or finish it
 * (straight to 100%).  From EXECUTOR_PROMOTE=abort|full, or --abort / --full. */
enum promote_control {
	PROMOTE_STEPS,
	PROMOTE_ABORT,
	PROMOTE_FULL,
};

struct action {
	enum action_kind kind;
	char env[ACTION_NAME_MAX];    /* EXECUTOR_ENV, or from the job name; default "ci" */
	char color[ACTION_NAME_MAX];  /* color actions; empty otherwise */
	enum promote_control control; /* promote only */
};

/*
 * job_name: the trusted job name; action/env/color: EXECUTOR_ACTION,
 * EXECUTOR_ENV, EXECUTOR_COLOR (NULL when unset).  Names are validated
 * ([a-z0-9][a-z0-9_-]{0,31}); a bad one is ERR_JOB with the fix.
 */
int action_resolve(const char *job_name, const char *action, const char *env, const char *color,
		   struct action *out, struct error *err);
const char *action_name(enum action_kind kind);
/* True for actions that guard production: promote, rollback, durable cleanup. */
int action_is_guarded(enum action_kind kind);
/* [a-z0-9][a-z0-9_-]{0,31} */
int action_valid_name(const char *s);
/* A color name may not end in "durable" (its project would name a durable
 * layer); ERR_JOB with the fix.  Empty is fine. */
int action_check_color(const char *color, struct error *err);

#endif
