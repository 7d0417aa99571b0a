/* SPDX-License-Identifier: MIT */
#ifndef STAGES_CONTEXT_H
#define STAGES_CONTEXT_H

/*
 * The context of a deployment action (stages/context.c), the same for
 * runner jobs and local commands: names, variables, the lock, the env's
 * secrets and TLS, the trust checks.  The actions: stages/layer.c (durable
 * setup / teardown / cleanup), stages/deploy.c, promote.c, rollback.c,
 * cleanup.c (the colors), dispatched by stages/perform.c.
 */

#include <json-c/json.h>

#include "common/config.h"
#include "common/error.h"
#include "compose/compose.h"
#include "docker/auth.h"
#include "docker/docker.h"
#include "durable/lock.h"
#include "durable/secrets.h"
#include "durable/tls.h"
#include "gitlab/gitlab.h"
#include "stages/action.h"
#include "stages/names.h"

/* Ordered variables offered to stack files; later sets overwrite. */
struct vars {
	struct compose_kv *items;
	size_t n, cap;
};

void vars_set(struct vars *v, const char *key, const char *value);
const char *vars_get(const struct vars *v, const char *key);
void vars_release(struct vars *v);
/* compose_lookup_fn over a struct vars */
const char *vars_lookup(const char *name, void *payload);

struct deploy_ctx {
	struct config *cfg;
	struct docker_client *docker;
	const struct gitlab_job *job; /* trusted payload, or NULL for local commands */
	int runner_mode;
	struct action action;

	char app[64];		/* EXECUTOR_APP, default: the project's name */
	char state_root[4096];	/* <state_dir>/apps/<app>: envs of this app live here */
	char project_dir[4096]; /* the checkout holding the stack files */
	char durable_project[NAMES_PROJECT_MAX]; /* <app>-<env>-durable, or the file's name: */
	char durable_network[NAMES_NETWORK_MAX]; /* <app>-<env>-durable-network */
	char *env_dir;				 /* <state>/envs/<env> */
	char *router_dir;			 /* <state>/envs/<env>/router */
	char files_dir[4400]; /* <env>/files/<project>: its secrets and configs */
	char commit[41];      /* the checkout's HEAD, when it is a git tree */

	struct durable_secrets secrets;
	struct durable_tls tls;
	struct durable_lock lock;
	struct vars vars;

	/* who, for the lock and the history (the trusted payload's, under the runner) */
	struct durable_holder who;
	char job_id[32], pipeline_id[32], job_name[256], project_path[256];
	char project_id[32], ref[256], user[128], user_claimed[128];
	/* the router's template: from the checkout of a protected ref (or an
	 * operator's), else the one a protected ref last set, else built in */
	struct buf router_template;
	int have_router_template;
	int router_template_store; /* a trusted checkout: keep its template on success */
	char action_text[128];
	int force; /* local `cleanup <color> --force`: even the live color */
	/* promote --abort / --full handed to the promote that holds the lock:
	 * nothing else to do (deploy_ctx_init returned without the lock) */
	int handed_over;
	/* pull credentials of the stack images: deploy_registry_auth() */
	struct registry_auth auth;
	int auth_loaded;
};

/*
 * Set up the context for an action: names, the variables (job variables or
 * the process environment; the driver's own names; secrets), the lock, the
 * secrets and TLS material.  project_dir: where the stack files are.
 */
int deploy_ctx_init(struct deploy_ctx *d, struct config *cfg, struct docker_client *docker,
		    const struct gitlab_job *job, const struct action *action,
		    const char *project_dir, struct error *err);
void deploy_ctx_release(struct deploy_ctx *d);

/*
 * Durable setup: read the x-executor.generate declaration of the durable
 * stack file `file` (relative to the checkout) and make, in memory, every
 * declared value the env does not store yet and the job does not set, as
 * variables for the stack.  ERR_COMPOSE for a wrong declaration.  Nothing
 * is written: deploy_secrets_commit() persists them once the stack is read
 * and valid.
 */
int deploy_secrets_declare(struct deploy_ctx *d, const char *file, struct error *err);
int deploy_secrets_commit(struct deploy_ctx *d, struct error *err);

/*
 * The durable file's top-level name: is the durable project's name, unless
 * it names objects that are not this app's durable layer in this env
 * (containers or networks of that Compose project), or spells another app's
 * objects (<app>-...) whose owner refuses this job (deploy_check_owner):
 * ERR_POLICY naming the file.  deploy_set_durable_project() records it in
 * the env (durable-project) for teardown and the color actions.
 */
int deploy_check_project_name(struct deploy_ctx *d, const char *name, const char *file,
			      struct error *err);
int deploy_set_durable_project(struct deploy_ctx *d, const char *name, struct error *err);
/* The registry credentials for the stack's pulls, read on first use
 * (gitlab_registry_auth: the job's, or the environment's for a local command). */
const struct registry_auth *deploy_registry_auth(struct deploy_ctx *d);

/* The application name: explicit (EXECUTOR_APP), else the last component of
 * the project path, else of dir; normalized to [a-z0-9-]. */
int deploy_app_name(const char *explicit_name, const char *project_path, const char *dir, char *out,
		    size_t size, struct error *err);
/* <state_dir>/apps/<app> */
void deploy_state_root(const struct config *cfg, const char *app, char *out, size_t size);

/* A stack file named by a job variable must be a relative path inside the
 * checkout: no leading /, no .. component.  ERR_JOB naming the variable. */
int deploy_check_relpath(const char *var, const char *path, struct error *err);

struct stack;
/* The stack of the action: the durable layer (kept, drift reported) or the
 * color (replaced, attached to the durable network), with the context's
 * engine, policy, registry credentials, labels and the host directories
 * its bind mounts may use (roots, NULL-terminated). */
void deploy_stack_init(struct deploy_ctx *d, struct stack *s, const struct compose_project *p,
		       const char *files, const char *const *roots);

/* Remove the secrets and configs a project's containers mounted (the env's
 * <env>/files/<project>), once its containers are gone. */
int deploy_remove_files(struct deploy_ctx *d, const char *project, struct error *err);

/* Load stack files (relative to project_dir) with the context's variables. */
int deploy_load_stack(struct deploy_ctx *d, const char *const *files, size_t nfiles,
		      const char *project_name, struct compose_project **out, struct error *err);

/* Record an entry in the env's history, of the action's color. */
void deploy_history(struct deploy_ctx *d, const char *result, long long duration_ms,
		    json_object *images, const char *message);
/* The same for the color an action resolved (NULL: none). */
void deploy_history_color(struct deploy_ctx *d, const char *color, const char *result,
			  long long duration_ms, json_object *images, const char *message);

/* Check that a guarded action runs from a protected ref of an allowed
 * project, as the trusted payload says. */
int deploy_check_guard(const struct deploy_ctx *d, struct error *err);

/*
 * Trust boundaries (docs/security.md), for runner jobs (job NULL: an
 * operator on the host, allowed).  The app belongs to the project that first
 * acted on it (durable/owner.h), or to the projects the admin's
 * app_projects shares it with: another project is refused (ERR_POLICY) with
 * the owner's name; a first use claims the app when `claim` is set.
 * `explicit_app`: the name came from EXECUTOR_APP (said in the message).
 */
int deploy_check_owner(const struct config *cfg, const char *app, const char *state_root,
		       const struct gitlab_job *job, int explicit_app, int claim,
		       struct error *err);
/* A protected env (protected_envs) is acted on only from a protected ref;
 * `what` names the action in the message. */
int deploy_check_env_protection(const struct config *cfg, const struct gitlab_job *job,
				const char *env, const char *what, struct error *err);
/* Keep the checkout's router template for the env after a successful action
 * of a trusted ref (or forget the kept one when the checkout has none). */
int deploy_store_router_template(struct deploy_ctx *d, struct error *err);

#endif
