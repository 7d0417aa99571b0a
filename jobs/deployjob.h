/* SPDX-License-Identifier: MIT */
#ifndef JOBS_DEPLOYJOB_H
#define JOBS_DEPLOYJOB_H

#include "common/error.h"

struct job_ctx;

/* Deployment jobs (jobs/deployjob.c): the driver carries out the action at
 * build_script; get_sources is a libgit2 fetch on the host. */
int deployjob_prepare(struct job_ctx *ctx, struct error *err);
int deployjob_run(struct job_ctx *ctx, const char *script_path, const char *stage, int *script_exit,
		  struct error *err);

#endif
