/* SPDX-License-Identifier: MIT */
#ifndef JOBS_JOB_H
#define JOBS_JOB_H

/*
 * What a job does.  Container jobs (jobs/job.c): prepare creates the
 * per-job network, services and the long-lived job container; run executes
 * the runner's script for the job's own stages inside it, and for the
 * runner's own stages (sources, cache, artifacts) in the job's helper
 * container (jobs/helper.c); cleanup removes exactly what the job created,
 * found by labels.
 */

#include "common/config.h"
#include "common/error.h"
#include "docker/auth.h"
#include "docker/docker.h"
#include "gitlab/gitlab.h"
#include "stages/action.h"

#define JOB_LABEL_MANAGED "io.executor.managed"
#define JOB_LABEL_RUNNER  "io.executor.runner"
#define JOB_LABEL_JOB	  "io.executor.job"
#define JOB_LABEL_ROLE	  "io.executor.role"
#define JOB_LABEL_SLOT	  "io.executor.slot" /* on a runner slot's network */

struct job_ctx {
	struct config *cfg;
	struct docker_client *docker;
	struct gitlab_job job; /* the trusted payload; empty when absent */
	int have_payload;
	char runner[64];	   /* CI_RUNNER_SHORT_TOKEN, sanitized, or "local" */
	char job_id[32];	   /* digits */
	char name[128];		   /* executor-<runner>-<job id>: the job container */
	char helper[160];	   /* <name>-helper: the runner's stages (jobs/helper.c) */
	char network[128];	   /* the job's network: its slot's, or one named like the job */
	struct action action;	   /* ACTION_NONE for an ordinary container job */
	struct registry_auth auth; /* pull credentials, read by prepare */
};

/* Read the payload and environment; connect to the engine (ping). */
int job_ctx_init(struct job_ctx *ctx, struct config *cfg, int need_engine, struct error *err);
void job_ctx_release(struct job_ctx *ctx);

/* An ordinary container job's prepare: the job's network, its services and
 * the job container (jobs/stage.c dispatches). */
int job_prepare(struct job_ctx *ctx, struct error *err);
/* Remove what the job created, found by name or by its labels. */
int job_cleanup(struct job_ctx *ctx, struct error *err);

/* The job's builds slot, "slots/<runner>/project-<id>/concurrent-<n>" below
 * the state directory (what the job container mounts at the parent of
 * CI_PROJECT_DIR), and the base name of CI_PROJECT_DIR in it. */
int job_builds_slot(const struct job_ctx *ctx, char *slot_rel, size_t rsize, char *base,
		    size_t bsize, struct error *err);
/* A test job that names EXECUTOR_ENV and EXECUTOR_COLOR joins that color's networks. */
int job_join_color(struct job_ctx *ctx, struct error *err);
/* The job container exists (a deployment job that named an image has one). */
int job_container_exists(struct job_ctx *ctx);
/* The job's network (ctx->network): the network of its runner slot when the
 * slot is free, else one of its own.  *slot_lock (-1 when none) holds the
 * slot until the job's containers are attached; close it after. */
int job_ensure_network(struct job_ctx *ctx, int *slot_lock, struct error *err);
/* Create the job container with the given image (shared by both kinds). */
int job_create_container(struct job_ctx *ctx, const char *image, struct error *err);

/* Run a script in the job container (what stage_run does for the job's own
 * stages of container jobs). */
int job_run_in_container(struct job_ctx *ctx, const char *script_path, const char *stage,
			 int *script_exit, struct error *err);

/* A container of the job a stage's script runs in, through exec. */
struct job_exec {
	const char *container; /* its name */
	const char *shell_cmd; /* `sh -c` text that starts the shell: shell_detect_script() */
	const char *what;      /* "the job image", "the helper image": for messages */
	const char *image;
	const char *fix;     /* what to do when the image has no shell */
	int image_is_admins; /* a missing shell is the admin's to fix (ERR_CONFIG) */
};
/*
 * The script on the stdin of the shell started by exec in the container,
 * output written through, SIGTERM handled as a cancel (TERM, then KILL, to
 * every process of the container but its first).  A non-zero exit is
 * ERR_SCRIPT with *script_exit; an image without a shell is ERR_JOB (or
 * ERR_CONFIG when it is the admin's).  When the exec cannot be created,
 * *no_exec is set and err carries the engine's status (404: no such
 * container, 409: not running).
 */
int job_exec_script(struct job_ctx *ctx, const struct job_exec *x, const struct buf *script,
		    const char *stage, int *script_exit, int *no_exec, struct error *err);

/* Pieces of a job container shared with the helper (jobs/helper.c). */
struct job_limits;
/* The labels of everything the job creates, with its role. */
json_object *job_labels(const struct job_ctx *ctx, const char *role);
/* The job's limits and security options into a HostConfig (joblimits.h). */
int job_host_limits(const struct job_ctx *ctx, json_object *host, struct job_limits *l,
		    struct error *err);
/* A create refused for more CPUs than the engine has is the job's (ERR_JOB)
 * when the job asked for them. */
void job_cpus_refused(struct error *err, const struct job_limits *l);
/* The job's builds slot on the host and where it is mounted: the parent of
 * CI_PROJECT_DIR (checked to lie below builds_dir). */
int job_builds_mount(const struct job_ctx *ctx, char *host, size_t hsize, char *guest, size_t gsize,
		     struct error *err);
#endif
