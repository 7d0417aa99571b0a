/* SPDX-License-Identifier: MIT */
#ifndef JOBS_STAGE_H
#define JOBS_STAGE_H

/*
 * The runner's calls (jobs/stage.c): prepare, run (one per stage of the
 * job) and cleanup, each dispatched to an ordinary container job
 * (jobs/job.c), a deployment job (jobs/deployjob.c) or the job's helper
 * (jobs/helper.c).
 */

#include "common/error.h"
#include "jobs/job.h"

int stage_prepare(struct job_ctx *ctx, struct error *err);
/* *script_exit: the script's exit code when it ran (0 = success). */
int stage_run(struct job_ctx *ctx, const char *script_path, const char *stage, int *script_exit,
	      struct error *err);
int stage_cleanup(struct job_ctx *ctx, struct error *err);

#endif
