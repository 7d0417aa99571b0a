/* SPDX-License-Identifier: MIT */
#ifndef STAGES_STAGES_H
#define STAGES_STAGES_H

/*
 * What a job does.  Container jobs (stages/job.c): prepare creates the
 * per-job network, services and the long-lived job container; run executes
 * the runner's script for the job's own stages inside it, and for the
 * runner's own stages (sources, cache, artifacts) in the job's helper
 * container (stages/helper.c); cleanup removes exactly what the job created,
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
	char helper[160];	   /* <name>-helper: the runner's stages (stages/helper.c) */
	char network[128];	   /* the job's network: its slot's, or one named like the job */
	struct action action;	   /* ACTION_NONE for an ordinary container job */
	struct registry_auth auth; /* pull credentials, read by prepare */
};

/* Read the payload and environment; connect to the engine (ping). */
int job_ctx_init(struct job_ctx *ctx, struct config *cfg, int need_engine, struct error *err);
void job_ctx_release(struct job_ctx *ctx);

int stage_prepare(struct job_ctx *ctx, struct error *err);
/* *script_exit: the script's exit code when it ran (0 = success). */
int stage_run(struct job_ctx *ctx, const char *script_path, const char *stage, int *script_exit,
	      struct error *err);
int stage_cleanup(struct job_ctx *ctx, struct error *err);

/* Deployment jobs (stages/deployjob.c): the driver carries out the action at
 * build_script; get_sources is a libgit2 fetch on the host. */
int deployjob_prepare(struct job_ctx *ctx, struct error *err);
int deployjob_run(struct job_ctx *ctx, const char *script_path, const char *stage, int *script_exit,
		  struct error *err);
/* The job's builds slot, "slots/<runner>/project-<id>/concurrent-<n>" below
 * the state directory (what the job container mounts at the parent of
 * CI_PROJECT_DIR), and the base name of CI_PROJECT_DIR in it. */
int job_builds_slot(const struct job_ctx *ctx, char *slot_rel, size_t rsize, char *base,
		    size_t bsize, struct error *err);
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

/* Pieces of a job container shared with the helper (stages/helper.c). */
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
/* A test job that names EXECUTOR_ENV and EXECUTOR_COLOR joins that color's networks. */
int job_join_color(struct job_ctx *ctx, struct error *err);

/* A client for the admin's engine (stages/engine.c): the API version from
 * <state>/engine-api when an earlier process negotiated it, else a ping. */
struct docker_client *engine_connect(const struct config *cfg, struct error *err);
/* A client for the admin's engine (docker_host, docker_tls, docker_tls_verify,
 * docker_cert_path over their DOCKER_* variables), not connected yet. */
struct docker_client *engine_client(const struct config *cfg, struct error *err);
/* Keep the client's version when it negotiated one since (call before freeing). */
void engine_cache_update(const struct config *cfg, struct docker_client *c);

/* Image helpers shared by jobs and deployments (stages/image.c). */

/* How an image is had: the credentials to pull it with and GitLab's pull
 * policies, tried in order, the next when one fails (docs/configuration.md). */
struct image_pull {
	const struct registry_auth *auth; /* NULL: anonymous pulls */
	struct pull_policies policies;	  /* the effective ones: at least one */
};

/*
 * The registry credentials of a job or an action, in GitLab's order:
 * DOCKER_AUTH_CONFIG (the job variable; for a local command, job NULL, the
 * environment's), the admin's docker_auth_config, the payload's registry
 * credentials, the admin's docker_auth_file.  A source that cannot be read
 * is one warning line and adds nothing, as in GitLab.
 */
void image_auth_load(struct registry_auth *a, const struct config *cfg,
		     const struct gitlab_job *job);
/* Only the admin's: docker_auth_config, then docker_auth_file (the helper
 * image is the admin's, so a job's credentials are not used for it). */
void image_auth_load_admin(struct registry_auth *a, const struct config *cfg);
/* Stack images: the admin's pull_policy. */
void image_pull_admin(struct image_pull *p, const struct config *cfg,
		      const struct registry_auth *auth);
/* A job's image or service: the payload's pull_policy (a string or a list)
 * when it names one, else the admin's pull_policy; of those, the ones in
 * allowed_pull_policies, in the requested order.  None allowed: ERR_POLICY
 * naming them; not a pull policy: ERR_JOB.  what: "image", "service image". */
int image_pull_for_job(struct image_pull *p, const struct config *cfg,
		       const struct registry_auth *auth, json_object *requested, const char *what,
		       const char *image, struct error *err);
/* Anything but never: may the image be pulled at all? */
int image_pull_can_pull(const struct image_pull *p);
/* Have the image by the policies; pull progress goes to the log. */
int image_ensure(struct docker_client *c, const struct image_pull *pull, const char *ref,
		 struct error *err);
/* POST /containers/create for config's Image, pulling by the policies: unless
 * the first is always, the create's own 404 "No such image" is the cue to
 * pull (then create again), so a present image costs no inspect. */
int image_create_container(struct docker_client *c, const struct image_pull *pull, const char *name,
			   json_object *config, char **id_out, struct error *err);
/* True when the image matches a pattern of the list (an unset list allows
 * every image).  Patterns match registry, repository and tag as parts: see
 * image_pattern_match() and docs/configuration.md, "Image patterns". */
int image_allowed(const struct pattern_list *allowed, const char *ref);
/* One pattern against one image reference: 1 when it matches. */
int image_pattern_match(const char *pattern, const char *image);

#endif
