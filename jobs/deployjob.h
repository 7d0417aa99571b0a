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
/* A test job that names EXECUTOR_ENV and EXECUTOR_COLOR joins that color's networks. */
int deployjob_join_color(struct job_ctx *ctx, struct error *err);

#endif
