/* SPDX-License-Identifier: MIT */
#include <string.h>

#include "gitlab/registry.h"
#include "jobs/deployjob.h"
#include "jobs/helper.h"
#include "jobs/job.h"
#include "jobs/stage.h"

int stage_prepare(struct job_ctx *ctx, struct error *err)
{
	/* the credentials of every pull of this job (job image, services) */
	gitlab_registry_auth(&ctx->auth, ctx->cfg, &ctx->job);
	if (ctx->action.kind != ACTION_NONE)
		return deployjob_prepare(ctx, err);
	return job_prepare(ctx, err);
}

int stage_run(struct job_ctx *ctx, const char *script_path, const char *stage, int *script_exit,
	      struct error *err)
{
	int rc;

	if (ctx->action.kind != ACTION_NONE)
		return deployjob_run(ctx, script_path, stage, script_exit, err);
	if (stage_place_of(stage) == STAGE_IN_HELPER && ctx->cfg->helper_image) {
		/* cleanup_file_variables only where a helper ran something: a job
		 * whose helper never came up cleans up in its job container */
		rc = helper_run(ctx, script_path, stage,
				strcmp(stage, "cleanup_file_variables") != 0, script_exit, err);
		if (rc <= 0)
			return rc;
	}
	return job_run_in_container(ctx, script_path, stage, script_exit, err);
}

/* Both kinds of job clean up the same way: what carries the job's labels. */
int stage_cleanup(struct job_ctx *ctx, struct error *err)
{
	return job_cleanup(ctx, err);
}
