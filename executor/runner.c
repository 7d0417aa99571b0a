/* SPDX-License-Identifier: MIT */
/* The four commands gitlab-runner calls: config, prepare, run, cleanup. */
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "executor/commands.h"
#include "gitlab/gitlab.h"
#include "jobs/stage.h"

int cmd_config(int argc, char **argv, struct config *cfg, struct error *err)
{
	json_object *out = json_object_new_object(), *driver = json_object_new_object();
	char dir[4096];

	if (argc > 1)
		return error_set(err, ERR_SYSTEM, "config takes no arguments (got \"%s\")",
				 argv[1]);
	snprintf(dir, sizeof(dir), "%s/builds", cfg->state_dir);
	json_object_object_add(out, "builds_dir", json_object_new_string(dir));
	snprintf(dir, sizeof(dir), "%s/cache", cfg->state_dir);
	json_object_object_add(out, "cache_dir", json_object_new_string(dir));
	/* the shared layout puts the runner token and concurrency slot in the
	 * path, so concurrent jobs of one project never share a checkout */
	json_object_object_add(out, "builds_dir_is_shared", json_object_new_boolean(1));
	json_object_object_add(out, "hostname", json_object_new_string(cfg->hostname));
	json_object_object_add(driver, "name", json_object_new_string("executor"));
	json_object_object_add(driver, "version", json_object_new_string(EXECUTOR_VERSION));
	json_object_object_add(out, "driver", driver);
	json_object_object_add(out, "shell", json_object_new_string(cfg->shell));
	puts(json_object_to_json_string_ext(out, JSON_C_TO_STRING_PLAIN |
							 JSON_C_TO_STRING_NOSLASHESCAPE));
	fflush(stdout);
	json_object_put(out);
	return 0;
}

int cmd_prepare(int argc, char **argv, struct config *cfg, struct error *err)
{
	struct job_ctx ctx;
	int rc;

	if (job_ctx_init(&ctx, cfg, 1, err) < 0) {
		job_ctx_release(&ctx);
		return -1;
	}
	rc = stage_prepare(&ctx, err);
	job_ctx_release(&ctx);
	return rc;
}

int cmd_run(int argc, char **argv, struct config *cfg, struct error *err)
{
	struct job_ctx ctx;
	int rc, script_exit = -1;

	if (argc != 3)
		return error_set(err, ERR_SYSTEM,
				 "usage: executor run <script> <stage> (got %d arguments); check "
				 "run_args in config.toml",
				 argc - 1);
	if (job_ctx_init(&ctx, cfg, 1, err) < 0) {
		job_ctx_release(&ctx);
		return -1;
	}
	rc = stage_run(&ctx, argv[1], argv[2], &script_exit, err);
	job_ctx_release(&ctx);
	if (rc < 0 && err->cls == ERR_SCRIPT) {
		struct error werr = ERROR_INIT;

		if (gitlab_write_exit_code(script_exit, &werr) < 0) {
			log_error("%s", werr.msg);
			*err = werr;
			err->cls = ERR_IO;
			return -1;
		}
		command_exit_override = gitlab_build_failure_code();
	} else if (rc < 0 && err->cls == ERR_JOB && script_exit > 0) {
		struct error werr = ERROR_INIT;

		gitlab_write_exit_code(script_exit, &werr);
	}
	return rc;
}

int cmd_cleanup(int argc, char **argv, struct config *cfg, struct error *err)
{
	struct job_ctx ctx;
	int rc;

	if (argc > 1)
		return cmd_cleanup_color(argc, argv, cfg, err);
	if (job_ctx_init(&ctx, cfg, 1, err) < 0) {
		job_ctx_release(&ctx);
		return -1;
	}
	rc = stage_cleanup(&ctx, err);
	job_ctx_release(&ctx);
	return rc;
}
