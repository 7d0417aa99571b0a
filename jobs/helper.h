/* SPDX-License-Identifier: MIT */
#ifndef JOBS_HELPER_H
#define JOBS_HELPER_H

/*
 * The runner's own stages (sources, cache, artifacts, file variables) run in
 * a helper container of the job, as in GitLab's Docker executor: the admin's
 * helper_image, with the host's gitlab-runner binary mounted read-only at
 * HELPER_RUNNER_PATH, sharing the job container's builds directory and its
 * network.  The job's own stages stay in the job container.  Both start the
 * stage's shell through shell_detect_script() (jobs/shell.h): bash when the image has it,
 * else sh.  See docs/architecture.md, "The runner's stages".
 */

#include <stddef.h>

#include "common/config.h"
#include "common/error.h"

struct job_ctx;

/* Where the runner's gitlab-runner binary appears in the helper (on PATH). */
#define HELPER_RUNNER_PATH "/usr/bin/gitlab-runner"
enum stage_place {
	STAGE_IN_JOB,	 /* the job's own: prepare_script, build_script, step_*, after_script,
			    and any name the driver does not know */
	STAGE_IN_HELPER, /* the runner's own: get_sources, clear_worktree, restore_cache,
			    download_artifacts, archive_cache*, upload_artifacts_*,
			    cleanup_file_variables */
};

/* Where a stage runs: a table of the runner's stage names (pure). */
enum stage_place stage_place_of(const char *stage);

/*
 * The gitlab-runner binary the helper gets: runner_binary, else
 * `gitlab-runner` found on PATH (its real path).  1: found (out); 0: no
 * runner_binary and none on PATH; -1: runner_binary is not an executable
 * file (ERR_CONFIG).
 */
int helper_runner_binary(const struct config *cfg, char *out, size_t size, struct error *err);

/* 1 when the ELF file has no program interpreter (a static binary, which runs
 * in any helper image), 0 when it has one, -1 when it is not a readable ELF
 * file. */
int helper_binary_is_static(const char *path);

/*
 * Run a runner's stage in the job's helper container.  create: make the
 * helper when it does not exist yet (pulling helper_image by the admin's
 * pull_policy and credentials), on the job container's network when there is
 * one, else on the job's network (deployment jobs without image).  Without
 * create, 1 when there is no helper (nothing was run).  Otherwise as
 * job_run_in_container().
 */
int helper_run(struct job_ctx *ctx, const char *script_path, const char *stage, int create,
	       int *script_exit, struct error *err);

#endif
