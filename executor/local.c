/* SPDX-License-Identifier: MIT */
/*
 * The operator's commands, run in a checkout of the application repository:
 * stack files from the current directory, variables from the environment,
 * the same code as the runner's deployment jobs.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "docker/docker.h"
#include "docker/engine.h"
#include "executor/commands.h"
#include "executor/status.h"
#include "stages/context.h"
#include "stages/perform.h"

struct local_args {
	const char *positional[4];
	int npos;
	const char *env;
	int volumes;
	int json;
	int force;
};

static int parse(int argc, char **argv, struct local_args *a, int allow_volumes, int allow_json,
		 int allow_force, struct error *err)
{
	int i;

	memset(a, 0, sizeof(*a));
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--env") || !strcmp(argv[i], "-e")) {
			if (++i >= argc)
				return error_set(err, ERR_JOB, "--env needs a value");
			a->env = argv[i];
		} else if (!strncmp(argv[i], "--env=", 6)) {
			a->env = argv[i] + 6;
		} else if (allow_volumes && !strcmp(argv[i], "--volumes")) {
			a->volumes = 1;
		} else if (allow_json && !strcmp(argv[i], "--json")) {
			a->json = 1;
		} else if (allow_force && !strcmp(argv[i], "--force")) {
			a->force = 1;
		} else if (argv[i][0] == '-') {
			return error_set(err, ERR_JOB, "unknown option %s; see --help", argv[i]);
		} else if (a->npos < 4) {
			a->positional[a->npos++] = argv[i];
		} else {
			return error_set(err, ERR_JOB, "too many arguments; see --help");
		}
	}
	return 0;
}

static int with_engine(struct config *cfg, struct docker_client **out, struct error *err)
{
	/* the API version negotiated by an earlier process, else a ping */
	*out = engine_connect(cfg, err);
	return *out ? 0 : -1;
}

static int run_action(struct config *cfg, enum action_kind kind, const char *env, const char *color,
		      int volumes, int force, enum promote_control control, struct error *err)
{
	struct docker_client *docker = NULL;
	struct deploy_ctx d;
	struct action a;
	char cwd[PATH_MAX];
	const char *envv = env ? env : getenv("EXECUTOR_ENV");
	int rc;

	if (action_resolve(NULL, action_name(kind), envv, color ? color : getenv("EXECUTOR_COLOR"),
			   &a, err) < 0)
		return -1;
	a.control = control;
	if (!getcwd(cwd, sizeof(cwd)))
		return error_set(err, ERR_IO, "cannot read the current directory");
	if (with_engine(cfg, &docker, err) < 0)
		return -1;
	rc = deploy_ctx_init(&d, cfg, docker, NULL, &a, cwd, err);
	d.force = force;
	if (rc == 0) {
		struct deploy_opts o = {.dotenv = getenv("EXECUTOR_DOTENV"), .volumes = volumes};

		rc = deploy_perform(&d, &o, err);
	}
	deploy_ctx_release(&d);
	engine_cache_update(cfg, docker);
	docker_client_free(docker);
	return rc;
}

int cmd_durable(int argc, char **argv, struct config *cfg, struct error *err)
{
	struct local_args a;

	if (parse(argc, argv, &a, 1, 0, 0, err) < 0)
		return -1;
	if (a.npos != 2 ||
	    (strcmp(a.positional[0], "setup") && strcmp(a.positional[0], "teardown")))
		return error_set(err, ERR_JOB,
				 "usage: executor durable setup|teardown <env> [--volumes]");
	if (!strcmp(a.positional[0], "setup")) {
		if (a.volumes)
			return error_set(err, ERR_JOB, "--volumes goes with teardown");
		return run_action(cfg, ACTION_DURABLE_SETUP, a.positional[1], NULL, 0, 0,
				  PROMOTE_STEPS, err);
	}
	return run_action(cfg, ACTION_DURABLE_CLEANUP, a.positional[1], NULL, a.volumes, 0,
			  PROMOTE_STEPS, err);
}

int cmd_deploy(int argc, char **argv, struct config *cfg, struct error *err)
{
	struct local_args a;

	if (parse(argc, argv, &a, 0, 0, 0, err) < 0)
		return -1;
	if (a.npos != 1)
		return error_set(err, ERR_JOB, "usage: executor deploy <color> [--env ENV]");
	return run_action(cfg, ACTION_DEPLOY, a.env, a.positional[0], 0, 0, PROMOTE_STEPS, err);
}

int cmd_promote(int argc, char **argv, struct config *cfg, struct error *err)
{
	enum promote_control control = PROMOTE_STEPS;
	struct local_args a;
	char *rest[64];
	int i, n = 0;

	/* --abort / --full: the canary (see stages/watch.h) */
	for (i = 0; i < argc && n < 63; i++) {
		if (i && (!strcmp(argv[i], "--abort") || !strcmp(argv[i], "--full"))) {
			if (control != PROMOTE_STEPS)
				return error_set(err, ERR_JOB,
						 "--abort and --full exclude each other");
			control = !strcmp(argv[i], "--abort") ? PROMOTE_ABORT : PROMOTE_FULL;
		} else {
			rest[n++] = argv[i];
		}
	}
	rest[n] = NULL;
	if (parse(n, rest, &a, 0, 0, 0, err) < 0)
		return -1;
	if (a.npos > 1 || (control == PROMOTE_ABORT && a.npos))
		return error_set(err, ERR_JOB,
				 "usage: executor promote [<color>] [--env ENV] [--full] | promote "
				 "--abort [--env ENV]");
	return run_action(cfg, ACTION_PROMOTE, a.env, a.npos ? a.positional[0] : NULL, 0, 0,
			  control, err);
}

int cmd_rollback(int argc, char **argv, struct config *cfg, struct error *err)
{
	struct local_args a;

	if (parse(argc, argv, &a, 0, 0, 0, err) < 0)
		return -1;
	if (a.npos != 1)
		return error_set(err, ERR_JOB, "usage: executor rollback <color> [--env ENV]");
	return run_action(cfg, ACTION_ROLLBACK, a.env, a.positional[0], 0, 0, PROMOTE_STEPS, err);
}

int cmd_cleanup_color(int argc, char **argv, struct config *cfg, struct error *err)
{
	struct local_args a;

	if (parse(argc, argv, &a, 0, 0, 1, err) < 0)
		return -1;
	if (a.npos != 1)
		return error_set(err, ERR_JOB,
				 "usage: executor cleanup <color> [--env ENV] [--force]");
	return run_action(cfg, ACTION_CLEANUP, a.env, a.positional[0], 0, a.force, PROMOTE_STEPS,
			  err);
}

int cmd_status(int argc, char **argv, struct config *cfg, struct error *err)
{
	struct docker_client *docker = NULL;
	struct local_args a;
	int rc;

	if (parse(argc, argv, &a, 0, 1, 0, err) < 0)
		return -1;
	if (with_engine(cfg, &docker, err) < 0)
		return -1;
	rc = status_print(cfg, docker, a.json, err);
	engine_cache_update(cfg, docker);
	docker_client_free(docker);
	return rc;
}
