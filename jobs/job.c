/* SPDX-License-Identifier: MIT */
/*
 * Container jobs: the runner's prepare / run / cleanup, natively against the
 * Engine API.  One long-lived job container per job (plus one container per
 * service, and the helper that runs the runner's own stages, jobs/helper.c),
 * labelled with the runner and job id so cleanup finds them whatever happened
 * before, on the network of the job's runner slot (or on a network of the
 * job's own when the slot is taken).
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/cleanup.h"
#include "common/fs.h"
#include "common/log.h"
#include "docker/engine.h"
#include "docker/imagepull.h"
#include "durable/state.h"
#include "jobs/job.h"
#include "jobs/joblimits.h"
#include "jobs/shell.h"
#include "stages/context.h"

#define SCRIPT_MAX (64u * 1024u * 1024u)

static void sanitize(char *dst, size_t size, const char *src)
{
	size_t i = 0;

	for (; src && *src && i + 1 < size; src++)
		dst[i++] =
			(isalnum((unsigned char)*src) || *src == '-' || *src == '_') ? *src : '_';
	dst[i] = '\0';
}

static int all_digits(const char *s)
{
	if (!s || !*s || strlen(s) > 19)
		return 0;
	for (; *s; s++)
		if (!isdigit((unsigned char)*s))
			return 0;
	return 1;
}

int job_ctx_init(struct job_ctx *ctx, struct config *cfg, int need_engine, struct error *err)
{
	const char *token, *id;

	memset(ctx, 0, sizeof(*ctx));
	ctx->cfg = cfg;
	ctx->job.protected_ref = -1;
	if (getenv("JOB_RESPONSE_FILE")) {
		if (gitlab_job_load(&ctx->job, NULL, err) < 0)
			return -1;
		ctx->have_payload = 1;
	}
	token = gitlab_var("CI_RUNNER_SHORT_TOKEN");
	sanitize(ctx->runner, sizeof(ctx->runner), token && *token ? token : "local");
	if (ctx->have_payload && ctx->job.id > 0) {
		snprintf(ctx->job_id, sizeof(ctx->job_id), "%lld", ctx->job.id);
	} else {
		id = gitlab_var("CI_JOB_ID");
		if (!all_digits(id))
			return error_set(err, ERR_SYSTEM,
					 "CUSTOM_ENV_CI_JOB_ID is missing or not a number: this "
					 "command must be run by gitlab-runner");
		snprintf(ctx->job_id, sizeof(ctx->job_id), "%s", id);
	}
	snprintf(ctx->name, sizeof(ctx->name), "executor-%s-%s", ctx->runner, ctx->job_id);
	snprintf(ctx->network, sizeof(ctx->network), "%s", ctx->name);
	snprintf(ctx->helper, sizeof(ctx->helper), "%s-helper", ctx->name);
	if (action_resolve(ctx->have_payload && ctx->job.name ? ctx->job.name
							      : gitlab_var("CI_JOB_NAME"),
			   gitlab_var("EXECUTOR_ACTION"), gitlab_var("EXECUTOR_ENV"),
			   gitlab_var("EXECUTOR_COLOR"), &ctx->action, err) < 0)
		return -1;
	if (!need_engine)
		return 0;
	/* the state dir holds every project's checkouts and every env's secrets:
	 * create it and its top folders 0700 before anything below them (the
	 * slots themselves are 0755 for the job containers' users) */
	{
		char slots[4096];

		snprintf(slots, sizeof(slots), "%s/slots", cfg->state_dir);
		if (fs_mkdir_p(cfg->state_dir, 0700, err) < 0 || fs_mkdir_p(slots, 0700, err) < 0)
			return error_wrap(err, "create the state directory (state_dir)");
	}
	ctx->docker = engine_connect(cfg, err);
	if (!ctx->docker)
		return -1;
	return 0;
}

void job_ctx_release(struct job_ctx *ctx)
{
	if (ctx->docker) {
		engine_cache_update(ctx->cfg, ctx->docker);
		docker_client_free(ctx->docker);
	}
	gitlab_job_release(&ctx->job);
	registry_auth_release(&ctx->auth);
	memset(ctx, 0, sizeof(*ctx));
}

json_object *job_labels(const struct job_ctx *ctx, const char *role)
{
	json_object *l = json_object_new_object();

	json_object_object_add(l, JOB_LABEL_MANAGED, json_object_new_string("true"));
	json_object_object_add(l, JOB_LABEL_RUNNER, json_object_new_string(ctx->runner));
	json_object_object_add(l, JOB_LABEL_JOB, json_object_new_string(ctx->job_id));
	json_object_object_add(l, JOB_LABEL_ROLE, json_object_new_string(role));
	return l;
}

/* ---- what a job's containers may do ---- */

/* The job's limits (jobs/joblimits.h) into a container's HostConfig.  They
 * were checked before anything was created (job_limits_check), so a refusal
 * here cannot happen halfway through a prepare. */
int job_host_limits(const struct job_ctx *ctx, json_object *host, struct job_limits *l,
		    struct error *err)
{
	if (job_limits_for_job(ctx->cfg, l, err) < 0)
		return -1;
	return job_limits_apply(ctx->cfg, l, host, err);
}

/* The engine refuses more CPUs than it has (400 "Range of CPUs is from 0.01
 * to N"): when the job asked for them, that is the job's to fix. */
void job_cpus_refused(struct error *err, const struct job_limits *l)
{
	if (err->code == 400 && (l->from_job & JOB_LIMIT_CPUS) && strstr(err->msg, "CPUs")) {
		err->cls = ERR_JOB;
		error_wrap(err, "EXECUTOR_CPUS=%s is more than the engine has",
			   gitlab_var("EXECUTOR_CPUS"));
	}
}

/* ---- paths ---- */

/*
 * The runner's scripts use CI_PROJECT_DIR and its sibling "<dir>.tmp".  The
 * job container gets exactly one host directory, private to this runner,
 * project and concurrency slot, mounted at the project dir's parent path,
 * so the scripts see the paths they expect and nothing of other projects.
 */
int job_builds_slot(const struct job_ctx *ctx, char *slot_rel, size_t rsize, char *base,
		    size_t bsize, struct error *err)
{
	const char *project_dir = gitlab_var("CI_PROJECT_DIR");
	char host[4096], guest[4096];
	const char *b;
	size_t n = strlen(ctx->cfg->state_dir);

	if (job_builds_mount(ctx, host, sizeof(host), guest, sizeof(guest), err) < 0)
		return -1;
	b = strrchr(project_dir, '/') + 1;
	if (!*b || !strcmp(b, ".") || !strcmp(b, "..") || strlen(b) > 255)
		return error_set(err, ERR_JOB,
				 "CI_PROJECT_DIR %s does not end in a directory name; do not "
				 "override CI_PROJECT_DIR or GIT_CLONE_PATH",
				 project_dir);
	if (strncmp(host, ctx->cfg->state_dir, n) || host[n] != '/' ||
	    (size_t)snprintf(slot_rel, rsize, "%s", host + n + 1) >= rsize ||
	    (size_t)snprintf(base, bsize, "%s", b) >= bsize)
		return error_set(err, ERR_SYSTEM, "the builds slot %s: path too long", host);
	return 0;
}

int job_builds_mount(const struct job_ctx *ctx, char *host, size_t hsize, char *guest, size_t gsize,
		     struct error *err)
{
	const char *project_dir = gitlab_var("CI_PROJECT_DIR");
	const char *cid = gitlab_var("CI_CONCURRENT_PROJECT_ID");
	char builds[4096];
	char *slash;
	long long project_id = ctx->job.project_id;

	snprintf(builds, sizeof(builds), "%s/builds/", ctx->cfg->state_dir);
	if (!project_dir || project_dir[0] != '/')
		return error_set(err, ERR_SYSTEM,
				 "CUSTOM_ENV_CI_PROJECT_DIR is missing; is builds_dir taken from "
				 "`executor config` (config_exec)?");
	if (strncmp(project_dir, builds, strlen(builds)) || strstr(project_dir, "/../") ||
	    strstr(project_dir, "/./") || strlen(project_dir) >= gsize)
		return error_set(err, ERR_JOB,
				 "CI_PROJECT_DIR %s is not below the builds directory %s; do not "
				 "override CI_PROJECT_DIR or GIT_CLONE_PATH",
				 project_dir, builds);
	snprintf(guest, gsize, "%s", project_dir);
	slash = strrchr(guest, '/');
	*slash = '\0';
	if (project_id <= 0) {
		const char *pid = gitlab_var("CI_PROJECT_ID");
		project_id = all_digits(pid) ? strtoll(pid, NULL, 10) : 0;
	}
	if (!all_digits(cid))
		cid = "0";
	snprintf(host, hsize, "%s/slots/%s/project-%lld/concurrent-%s", ctx->cfg->state_dir,
		 ctx->runner, project_id, cid);
	return 0;
}

/* ---- services ---- */

/* "registry.example.com/group/img:tag" -> "registry.example.com-group-img" and
 * "registry.example.com__group__img", the two aliases GitLab derives. */
static void service_aliases_from_name(const char *image, char *a1, char *a2, size_t size)
{
	char base[512];
	char *p, *colon, *slash;
	size_t i, j1 = 0, j2 = 0;

	snprintf(base, sizeof(base), "%s", image);
	p = strchr(base, '@');
	if (p)
		*p = '\0';
	slash = strrchr(base, '/');
	colon = strrchr(base, ':');
	if (colon && (!slash || colon > slash))
		*colon = '\0';
	for (i = 0; base[i] && j1 + 1 < size && j2 + 2 < size; i++) {
		if (base[i] == '/') {
			a1[j1++] = '-';
			a2[j2++] = '_';
			a2[j2++] = '_';
		} else {
			a1[j1++] = base[i];
			a2[j2++] = base[i];
		}
	}
	a1[j1] = '\0';
	a2[j2] = '\0';
}

static int valid_alias(const char *a)
{
	if (!*a || strlen(a) > 63)
		return 0;
	for (; *a; a++)
		if (!isalnum((unsigned char)*a) && *a != '-' && *a != '_' && *a != '.')
			return 0;
	return 1;
}

static int is_secret_var(const char *key)
{
	static const char *const secret[] = {"CI_JOB_TOKEN",
					     "CI_BUILD_TOKEN",
					     "CI_REGISTRY_PASSWORD",
					     "CI_REPOSITORY_URL",
					     "CI_DEPENDENCY_PROXY_PASSWORD",
					     "CI_JOB_JWT",
					     "CI_JOB_JWT_V1",
					     "CI_JOB_JWT_V2",
					     "DOCKER_AUTH_CONFIG"};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(secret); i++)
		if (!strcmp(key, secret[i]))
			return 1;
	return 0;
}

/* Services inherit the job's variables (as with GitLab's Docker executor),
 * minus credentials, then their own. */
static void env_add(json_object *env, const char *key, const char *value)
{
	char *kv;

	if (asprintf(&kv, "%s=%s", key, value) < 0)
		return;
	json_object_array_add(env, json_object_new_string(kv));
	free(kv);
}

/* [{key, value, file?}, ...] as the payload writes variables; with
 * job_vars, file variables and credentials are left out. */
static void env_add_list(json_object *env, json_object *list, int job_vars)
{
	size_t i, n = json_object_array_length(list);

	for (i = 0; i < n; i++) {
		json_object *v = json_object_array_get_idx(list, i), *k, *val, *file;

		if (!json_object_object_get_ex(v, "key", &k) ||
		    !json_object_object_get_ex(v, "value", &val))
			continue;
		if (job_vars && ((json_object_object_get_ex(v, "file", &file) &&
				  json_object_get_boolean(file)) ||
				 is_secret_var(json_object_get_string(k))))
			continue;
		env_add(env, json_object_get_string(k), json_object_get_string(val));
	}
}

static json_object *service_env(const struct job_ctx *ctx, json_object *svc)
{
	json_object *env = json_object_new_array();
	json_object *vars;

	if (ctx->job.variables)
		env_add_list(env, ctx->job.variables, 1);
	if (json_object_object_get_ex(svc, "variables", &vars)) {
		if (json_object_is_type(vars, json_type_object)) {
			json_object_object_foreach(vars, key, val)
			{
				env_add(env, key, json_object_get_string(val));
			}
		} else if (json_object_is_type(vars, json_type_array)) {
			env_add_list(env, vars, 0);
		}
	}
	return env;
}

static json_object *services_list(const struct job_ctx *ctx, struct error *err)
{
	const char *env;
	json_object *list;

	if (ctx->have_payload && ctx->job.services)
		return json_object_get(ctx->job.services);
	env = gitlab_var("CI_JOB_SERVICES");
	if (!env || !*env)
		return json_object_new_array();
	list = json_tokener_parse(env);
	if (!list || !json_object_is_type(list, json_type_array)) {
		json_object_put(list);
		error_set(err, ERR_SYSTEM, "CUSTOM_ENV_CI_JOB_SERVICES is not a JSON array");
		return NULL;
	}
	return list;
}

static const char *str_field(json_object *o, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

static int wait_service(struct job_ctx *ctx, const char *cname, const char *image,
			struct error *err)
{
	struct timespec start, now;
	int timeout = ctx->cfg->service_wait_timeout;

	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		json_object *info = NULL, *state, *health, *status, *running;
		const char *hs = NULL;
		int is_running = 0;

		if (docker_container_inspect(ctx->docker, cname, &info, err) < 0)
			return error_wrap(err, "service %s", image);
		if (json_object_object_get_ex(info, "State", &state)) {
			if (json_object_object_get_ex(state, "Running", &running))
				is_running = json_object_get_boolean(running);
			if (json_object_object_get_ex(state, "Health", &health) &&
			    json_object_object_get_ex(health, "Status", &status))
				hs = json_object_get_string(status);
		}
		json_object_put(info);
		if (is_running && (!hs || !strcmp(hs, "healthy")))
			return 0;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (!is_running || (hs && !strcmp(hs, "unhealthy")) ||
		    now.tv_sec - start.tv_sec >= timeout) {
			struct buf logs = BUF_INIT;

			log_warn("Service %s probably didn't start properly (%s)", image,
				 !is_running ? "it exited"
				 : hs	     ? hs
					     : "timeout");
			if (docker_container_logs(ctx->docker, cname, 20, &logs, err) == 0 &&
			    logs.len) {
				log_warn("Last lines of its log:");
				log_raw(buf_str(&logs));
				if (logs.data[logs.len - 1] != '\n')
					log_raw("\n");
			}
			buf_release(&logs);
			error_clear(err);
			return 0;
		}
		usleep(100 * 1000);
	}
}

static int start_service(struct job_ctx *ctx, json_object *svc, int idx, struct error *err)
{
	const char *image = str_field(svc, "name");
	const char *alias = str_field(svc, "alias");
	json_object *cfg, *host, *endpoints, *ep, *aliases, *v;
	struct job_limits limits;
	char cname[192], a1[256], a2[256];
	_cleanup_free_ char *id = NULL;
	struct image_pull pull;
	int rc;

	if (!image || !*image)
		return error_set(err, ERR_JOB, "service %d has no image name", idx);
	if (!image_allowed(&ctx->cfg->allowed_services, image))
		return error_set(err, ERR_POLICY,
				 "service image %s is not allowed on this runner; allowed: %s "
				 "(ask the runner admin, or use an allowed image)",
				 image, pattern_list_str(&ctx->cfg->allowed_services));
	if (image_pull_for_job(&pull, ctx->cfg, &ctx->auth,
			       json_object_object_get(svc, "pull_policy"), "service image", image,
			       err) < 0)
		return -1;
	snprintf(cname, sizeof(cname), "%s-svc-%d", ctx->name, idx);

	aliases = json_object_new_array();
	service_aliases_from_name(image, a1, a2, sizeof(a1));
	if (valid_alias(a1))
		json_object_array_add(aliases, json_object_new_string(a1));
	if (strcmp(a1, a2) && valid_alias(a2))
		json_object_array_add(aliases, json_object_new_string(a2));
	if (alias && *alias) {
		/* GitLab allows several aliases separated by commas or spaces */
		_cleanup_free_ char *copy = strdup(alias);
		char *save = NULL, *tok;

		for (tok = strtok_r(copy, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save)) {
			if (!valid_alias(tok)) {
				json_object_put(aliases);
				return error_set(err, ERR_JOB,
						 "service alias \"%s\" is not a valid host name",
						 tok);
			}
			json_object_array_add(aliases, json_object_new_string(tok));
		}
	}

	cfg = json_object_new_object();
	json_object_object_add(cfg, "Image", json_object_new_string(image));
	json_object_object_add(cfg, "Labels", job_labels(ctx, "service"));
	json_object_object_add(cfg, "Env", service_env(ctx, svc));
	if (json_object_object_get_ex(svc, "entrypoint", &v) &&
	    json_object_is_type(v, json_type_array))
		json_object_object_add(cfg, "Entrypoint", json_object_get(v));
	if (json_object_object_get_ex(svc, "command", &v) &&
	    json_object_is_type(v, json_type_array))
		json_object_object_add(cfg, "Cmd", json_object_get(v));
	host = json_object_new_object();
	json_object_object_add(cfg, "HostConfig", host);
	json_object_object_add(host, "NetworkMode", json_object_new_string(ctx->network));
	json_object_object_add(host, "Privileged", json_object_new_boolean(ctx->cfg->privileged));
	if (job_host_limits(ctx, host, &limits, err) < 0) {
		json_object_put(aliases);
		json_object_put(cfg);
		return -1;
	}
	endpoints = json_object_new_object();
	ep = json_object_new_object();
	json_object_object_add(ep, "Aliases", aliases);
	json_object_object_add(endpoints, ctx->network, ep);
	v = json_object_new_object();
	json_object_object_add(v, "EndpointsConfig", endpoints);
	json_object_object_add(cfg, "NetworkingConfig", v);

	rc = image_create_container(ctx->docker, &pull, cname, cfg, &id, err);
	json_object_put(cfg);
	if (rc < 0) {
		job_cpus_refused(err, &limits);
		return error_wrap(err, "create service container for %s", image);
	}
	if (docker_container_start(ctx->docker, id, err) < 0)
		return error_wrap(err, "start service %s", image);
	log_info("Starting service %s as %s", image, cname);
	return wait_service(ctx, cname, image, err);
}

/* ---- prepare ---- */

static const char *job_image(const struct job_ctx *ctx)
{
	const char *img = NULL;

	if (ctx->have_payload && ctx->job.image)
		img = ctx->job.image;
	if (!img)
		img = gitlab_var("CI_JOB_IMAGE");
	if (!img || !*img)
		img = ctx->cfg->default_image;
	return img && *img ? img : NULL;
}

int job_container_exists(struct job_ctx *ctx)
{
	struct error err = ERROR_INIT;
	json_object *info = NULL;

	if (docker_container_inspect(ctx->docker, ctx->name, &info, &err) < 0)
		return 0;
	json_object_put(info);
	return 1;
}

int job_create_container(struct job_ctx *ctx, const char *image, struct error *err)
{
	char host_dir[4096], guest_dir[4096];
	json_object *cfg, *host, *binds, *v;
	struct job_limits limits;
	_cleanup_free_ char *bind = NULL, *id = NULL;
	struct image_pull pull;
	int rc;

	if (image_pull_for_job(&pull, ctx->cfg, &ctx->auth, ctx->job.image_pull_policy, "image",
			       image, err) < 0)
		return -1;
	if (job_builds_mount(ctx, host_dir, sizeof(host_dir), guest_dir, sizeof(guest_dir), err) <
	    0)
		return -1;
	if (fs_mkdir_p(host_dir, 0755, err) < 0)
		return error_wrap(err, "create the builds directory");
	if (asprintf(&bind, "%s:%s", host_dir, guest_dir) < 0)
		return error_set(err, ERR_SYSTEM, "out of memory");

	cfg = json_object_new_object();
	json_object_object_add(cfg, "Image", json_object_new_string(image));
	json_object_object_add(cfg, "Labels", job_labels(ctx, "job"));
	/* An idle shell on an open stdin keeps the container up between stages;
	 * scripts run through exec. */
	v = json_object_new_array();
	json_object_array_add(v, json_object_new_string("sh"));
	json_object_object_add(cfg, "Cmd", v);
	if (ctx->job.image_entrypoint)
		json_object_object_add(cfg, "Entrypoint",
				       json_object_get(ctx->job.image_entrypoint));
	json_object_object_add(cfg, "OpenStdin", json_object_new_boolean(1));
	json_object_object_add(cfg, "StdinOnce", json_object_new_boolean(0));
	json_object_object_add(cfg, "Tty", json_object_new_boolean(0));

	host = json_object_new_object();
	binds = json_object_new_array();
	json_object_array_add(binds, json_object_new_string(bind));
	if (ctx->cfg->mount_docker_socket)
		json_object_array_add(
			binds, json_object_new_string("/var/run/docker.sock:/var/run/docker.sock"));
	json_object_object_add(host, "Binds", binds);
	json_object_object_add(host, "NetworkMode", json_object_new_string(ctx->network));
	json_object_object_add(host, "Privileged", json_object_new_boolean(ctx->cfg->privileged));
	json_object_object_add(cfg, "HostConfig", host);
	if (job_host_limits(ctx, host, &limits, err) < 0) {
		json_object_put(cfg);
		return -1;
	}

	rc = image_create_container(ctx->docker, &pull, ctx->name, cfg, &id, err);
	json_object_put(cfg);
	if (rc < 0) {
		job_cpus_refused(err, &limits);
		return error_wrap(err, "create the job container");
	}
	if (docker_container_start(ctx->docker, id, err) < 0)
		return error_wrap(err, "start the job container");
	return 0;
}

/* ---- the job's network ----
 *
 * gitlab-runner gives each running job of a runner a distinct
 * CI_CONCURRENT_ID (its slot), so a slot runs one job at a time and the
 * slot's network can outlive the job: creating and deleting a bridge network
 * was ~240 ms of every job.  The variable is the job's to override, so it is
 * not trusted for isolation.  Under the slot's lock (held until the job's
 * containers are attached), prepare looks at what the slot network holds;
 * when any container of another job is attached (a job claiming a slot in
 * use, or one whose cleanup never ran), this job gets a network of its own,
 * created now and deleted by cleanup.  Nothing of another job is removed, so
 * a claimed slot cannot be used to stop someone else's job.  Slots from
 * slot_networks up (or without the variable) always get their own network,
 * which bounds the networks a runner keeps.
 */

static int job_slot(const struct job_ctx *ctx)
{
	const char *id = gitlab_var("CI_CONCURRENT_ID");
	long long n;

	if (!all_digits(id))
		return -1;
	n = strtoll(id, NULL, 10);
	return n < ctx->cfg->slot_networks ? (int)n : -1;
}

/* An attached container of this job: its container, its helper or one of
 * its services. */
static int job_owns(const struct job_ctx *ctx, const char *cname)
{
	size_t n = strlen(ctx->name);

	if (*cname == '/')
		cname++;
	return !strncmp(cname, ctx->name, n) &&
	       (cname[n] == '\0' || !strcmp(cname + n, "-helper") ||
		!strncmp(cname + n, "-svc-", 5));
}

static int slot_lock(const struct job_ctx *ctx, int slot, struct error *err)
{
	char path[4200];
	int fd;

	snprintf(path, sizeof(path), "%s/slots/.network-%s-%d.lock", ctx->cfg->state_dir,
		 ctx->runner, slot);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return error_set_errno(err, ERR_IO, errno, "open the slot lock %s", path);
	while (flock(fd, LOCK_EX) < 0) {
		if (errno != EINTR) {
			error_set_errno(err, ERR_IO, errno, "lock %s", path);
			close(fd);
			return -1;
		}
	}
	return fd;
}

static const char *label_str(json_object *labels, const char *key)
{
	json_object *v;

	if (!labels || !json_object_object_get_ex(labels, key, &v))
		return NULL;
	return json_object_get_string(v);
}

/* 1: the slot network is ready for this job; 0: it is taken (or not ours). */
static int slot_network(struct job_ctx *ctx, const char *name, int slot, struct error *err)
{
	json_object *info = NULL, *labels = NULL, *containers;
	const char *other = NULL, *managed, *runner;
	char slot_s[16];
	int usable, rc;

	if (docker_network_inspect(ctx->docker, name, &info, err) < 0) {
		if (err->code != 404)
			return -1;
		error_clear(err);
		snprintf(slot_s, sizeof(slot_s), "%d", slot);
		labels = json_object_new_object();
		json_object_object_add(labels, JOB_LABEL_MANAGED, json_object_new_string("true"));
		json_object_object_add(labels, JOB_LABEL_RUNNER,
				       json_object_new_string(ctx->runner));
		json_object_object_add(labels, JOB_LABEL_ROLE,
				       json_object_new_string("slot-network"));
		json_object_object_add(labels, JOB_LABEL_SLOT, json_object_new_string(slot_s));
		rc = docker_network_create(ctx->docker, name, labels, 0, NULL, err);
		json_object_put(labels);
		if (rc < 0)
			return -1;
		log_info("Created network %s for runner slot %d (kept for its next jobs)", name,
			 slot);
		return 1;
	}
	json_object_object_get_ex(info, "Labels", &labels);
	managed = label_str(labels, JOB_LABEL_MANAGED);
	runner = label_str(labels, JOB_LABEL_RUNNER);
	usable = managed && !strcmp(managed, "true") && runner && !strcmp(runner, ctx->runner);
	if (usable && json_object_object_get_ex(info, "Containers", &containers) &&
	    json_object_is_type(containers, json_type_object)) {
		json_object_object_foreach(containers, id, c)
		{
			const char *cname = str_field(c, "Name");

			(void)id;
			if (!cname || !job_owns(ctx, cname)) {
				other = cname ? cname : "?";
				usable = 0;
				break;
			}
		}
	}
	if (!usable)
		log_info("Network %s of runner slot %d %s: this job gets a network of its own",
			 name, slot,
			 other ? "has another job's containers attached" : "is not ours");
	json_object_put(info);
	return usable;
}

/* A network named like the job: created here, deleted by cleanup. */
static int own_network(struct job_ctx *ctx, struct error *err)
{
	json_object *labels = job_labels(ctx, "network");
	int rc;

	snprintf(ctx->network, sizeof(ctx->network), "%s", ctx->name);
	/* CheckDuplicate: an existing one (prepare run again) answers 409 */
	rc = docker_network_create(ctx->docker, ctx->name, labels, 0, NULL, err);
	json_object_put(labels);
	if (rc < 0) {
		if (err->code == 409) {
			error_clear(err);
			return 0;
		}
		return -1; /* docker_network_create() named it */
	}
	return 0;
}

int job_ensure_network(struct job_ctx *ctx, int *lock, struct error *err)
{
	int slot = job_slot(ctx), rc;
	char name[128];

	*lock = -1;
	if (slot < 0)
		return own_network(ctx, err);
	snprintf(name, sizeof(name), "executor-%s-slot-%d", ctx->runner, slot);
	*lock = slot_lock(ctx, slot, err);
	if (*lock < 0)
		return -1;
	rc = slot_network(ctx, name, slot, err);
	if (rc > 0) {
		snprintf(ctx->network, sizeof(ctx->network), "%s", name);
		return 0;
	}
	close(*lock);
	*lock = -1;
	if (rc < 0)
		return error_wrap(err, "the network of runner slot %d", slot);
	return own_network(ctx, err);
}

/* The pull policies of the job's image and services, refused before
 * anything is created when allowed_pull_policies leaves none. */
static int check_pull_policies(struct job_ctx *ctx, const char *image, json_object *services,
			       struct error *err)
{
	struct image_pull pull;
	size_t i, n = json_object_array_length(services);

	if (image_pull_for_job(&pull, ctx->cfg, &ctx->auth, ctx->job.image_pull_policy, "image",
			       image, err) < 0)
		return -1;
	for (i = 0; i < n; i++) {
		json_object *svc = json_object_array_get_idx(services, i);
		const char *simg = str_field(svc, "name");

		if (simg && image_pull_for_job(&pull, ctx->cfg, &ctx->auth,
					       json_object_object_get(svc, "pull_policy"),
					       "service image", simg, err) < 0)
			return -1;
	}
	return 0;
}

int job_prepare(struct job_ctx *ctx, struct error *err)
{
	const char *image = job_image(ctx);
	json_object *services;
	size_t i, n;
	int rc = -1, lock = -1;

	if (!image)
		return error_set(err, ERR_JOB,
				 "the job names no image and the runner has no default_image; add "
				 "`image:` to the job");
	if (!image_allowed(&ctx->cfg->allowed_images, image))
		return error_set(err, ERR_POLICY,
				 "image %s is not allowed on this runner; allowed: %s (use an "
				 "allowed image, or ask the runner admin to extend allowed_images)",
				 image, pattern_list_str(&ctx->cfg->allowed_images));
	if (job_limits_check(ctx->cfg, err) < 0)
		return -1;
	services = services_list(ctx, err);
	if (!services)
		return -1;
	n = json_object_array_length(services);
	for (i = 0; i < n; i++) {
		const char *simg = str_field(json_object_array_get_idx(services, i), "name");

		if (simg && !image_allowed(&ctx->cfg->allowed_services, simg)) {
			error_set(err, ERR_POLICY,
				  "service image %s is not allowed on this runner; allowed: %s "
				  "(use an allowed image, or ask the runner admin)",
				  simg, pattern_list_str(&ctx->cfg->allowed_services));
			goto out;
		}
	}

	if (check_pull_policies(ctx, image, services, err) < 0)
		goto out;
	if (job_ensure_network(ctx, &lock, err) < 0)
		goto out;

	for (i = 0; i < n; i++)
		if (start_service(ctx, json_object_array_get_idx(services, i), (int)i, err) < 0)
			goto out;

	if (job_create_container(ctx, image, err) < 0)
		goto out;
	if (ctx->action.color[0] && job_join_color(ctx, err) < 0)
		goto out;
	log_notice("Job container %s ready (image %s)", ctx->name, image);
	rc = 0;
out:
	if (lock >= 0)
		close(lock);
	json_object_put(services);
	return rc;
}

/* ---- a test job joins a color ---- */

int job_join_color(struct job_ctx *ctx, struct error *err)
{
	_cleanup_env_state_ struct env_state *state = NULL;
	struct env_color rec;
	json_object *nets;
	char app[64], root[4096];
	size_t i, n;

	if (!ctx->action.env[0])
		snprintf(ctx->action.env, sizeof(ctx->action.env), "ci");
	if (deploy_app_name(gitlab_var("EXECUTOR_APP"), ctx->job.project_path,
			    gitlab_var("CI_PROJECT_DIR"), app, sizeof(app), err) < 0)
		return -1;
	deploy_state_root(ctx->cfg, app, root, sizeof(root));
	/* a color's network reaches its services: only the app's owner, and on
	 * a protected env only a protected ref */
	if (deploy_check_env_protection(ctx->cfg, ctx->have_payload ? &ctx->job : NULL,
					ctx->action.env, "joining a color's network", err) < 0 ||
	    deploy_check_owner(ctx->cfg, app, root, ctx->have_payload ? &ctx->job : NULL,
			       gitlab_var("EXECUTOR_APP") && *gitlab_var("EXECUTOR_APP"), 0,
			       err) < 0)
		return -1;
	if (durable_state_load(root, ctx->action.env, &state, err) < 0)
		return error_wrap(err, "read env %s", ctx->action.env);
	nets = durable_state_color(state, ctx->action.color, &rec) ? rec.networks : NULL;
	if (!nets || !json_object_array_length(nets))
		return error_set(
			err, ERR_JOB,
			"EXECUTOR_COLOR=%s: color %s is not deployed in env %s, so the job "
			"cannot join its network; deploy it first",
			ctx->action.color, ctx->action.color, ctx->action.env);
	/* the env's CA (never a key), so tests verify the color's certificates */
	{
		char ca[4200];
		struct buf pem = BUF_INIT, tar = BUF_INIT;

		snprintf(ca, sizeof(ca), "%s/envs/%s/tls/ca.pem", root, ctx->action.env);
		if (fs_read_file(ca, &pem, 1 << 20, err) == 0 &&
		    docker_tar_add_dir(&tar, "etc/executor", 0755, 0, 0) == 0 &&
		    docker_tar_add_dir(&tar, "etc/executor/tls", 0755, 0, 0) == 0 &&
		    docker_tar_add_file(&tar, "etc/executor/tls/ca.pem", pem.data, pem.len, 0644, 0,
					0) == 0 &&
		    docker_tar_finish(&tar) == 0 &&
		    docker_archive_put(ctx->docker, ctx->name, "/", tar.data, tar.len, err) == 0)
			log_info(
				"The env's CA is at /etc/executor/tls/ca.pem in the job container");
		else
			log_warn("could not give the job the env's CA: %s", err->msg);
		error_clear(err);
		buf_release(&pem);
		buf_release(&tar);
	}
	n = json_object_array_length(nets);
	for (i = 0; i < n; i++) {
		const char *net = json_object_get_string(json_object_array_get_idx(nets, i));

		if (docker_network_connect(ctx->docker, net, ctx->name, NULL, err) < 0) {
			/* net lives in state, which is put on return */
			return error_wrap(err, "join network %s of color %s", net,
					  ctx->action.color);
		}
		log_info("Job container joined network %s (color %s of env %s)", net,
			 ctx->action.color, ctx->action.env);
	}
	return 0;
}

/* ---- run ---- */

static volatile sig_atomic_t got_term;

static void on_term(int sig)
{
	(void)sig;
	got_term = 1;
}

static int write_all(int fd, const char *data, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, data, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

struct run_state {
	struct job_ctx *ctx;
	const char *container; /* where the stage runs: the job's or the helper */
	int kill_phase;
	struct timespec term_at;
	char tail[256]; /* last stderr bytes, to recognise a missing shell */
};

static int on_output(int stream, const char *data, size_t len, void *payload)
{
	struct run_state *st = payload;

	if (stream == 2) {
		size_t keep = len < sizeof(st->tail) - 1 ? len : sizeof(st->tail) - 1;

		memcpy(st->tail, data + len - keep, keep);
		st->tail[keep] = '\0';
	}
	/* a closed stdout (the runner went away) must not kill us mid-stream */
	write_all(stream == 2 ? 2 : 1, data, len);
	return 0;
}

/* kill(-1) from inside the container reaches every process but PID 1 (the
 * idle shell) and the killer itself: the whole running stage. */
static void signal_stage(struct job_ctx *ctx, const char *container, const char *sig)
{
	struct error err = ERROR_INIT;
	json_object *cfg = json_object_new_object(), *cmd = json_object_new_array(), *start;
	_cleanup_free_ char *exec_id = NULL;
	char script[64];

	snprintf(script, sizeof(script), "kill -%s -1 2>/dev/null; exit 0", sig);
	json_object_array_add(cmd, json_object_new_string("sh"));
	json_object_array_add(cmd, json_object_new_string("-c"));
	json_object_array_add(cmd, json_object_new_string(script));
	json_object_object_add(cfg, "Cmd", cmd);
	json_object_object_add(cfg, "User", json_object_new_string("0"));
	if (docker_exec_create(ctx->docker, container, cfg, &exec_id, &err) == 0) {
		char path[256];

		start = json_object_new_object();
		json_object_object_add(start, "Detach", json_object_new_boolean(1));
		snprintf(path, sizeof(path), "/exec/%s/start", exec_id);
		docker_call_json(ctx->docker, "POST", path, start, NULL, 5000, &err);
		json_object_put(start);
	}
	json_object_put(cfg);
}

static double elapsed(const struct timespec *since)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - since->tv_sec) + (now.tv_nsec - since->tv_nsec) / 1e9;
}

static int on_tick(void *payload)
{
	struct run_state *st = payload;

	if (!got_term)
		return 0;
	switch (st->kill_phase) {
	case 0:
		fprintf(stderr, "\nexecutor: job cancelled, stopping the running script\n");
		clock_gettime(CLOCK_MONOTONIC, &st->term_at);
		signal_stage(st->ctx, st->container, "TERM");
		st->kill_phase = 1;
		break;
	case 1:
		if (elapsed(&st->term_at) > 2.0) {
			signal_stage(st->ctx, st->container, "KILL");
			st->kill_phase = 2;
		}
		break;
	default:
		if (elapsed(&st->term_at) > 4.0)
			return 1;
	}
	return 0;
}

/* Exec create answers 404 (no such container) or 409 (not running) when the
 * job container is gone: only then is it inspected, for the reason. */
static int container_gone(struct job_ctx *ctx, const char *stage, struct error *err)
{
	struct error ierr = ERROR_INIT;
	json_object *info = NULL, *state, *ec = NULL, *oom = NULL;

	if (err->code == 404)
		return error_set(err, ERR_SYSTEM,
				 "the job container %s does not exist: prepare did not run or it "
				 "was removed",
				 ctx->name);
	if (err->code != 409 ||
	    docker_container_inspect(ctx->docker, ctx->name, &info, &ierr) < 0 ||
	    !json_object_object_get_ex(info, "State", &state)) {
		json_object_put(info);
		return error_wrap(err, "start the %s stage", stage);
	}
	json_object_object_get_ex(state, "ExitCode", &ec);
	json_object_object_get_ex(state, "OOMKilled", &oom);
	error_set(err, ERR_SYSTEM,
		  "the job container %s has stopped (exit code %d%s); the job cannot go on",
		  ctx->name, ec ? json_object_get_int(ec) : -1,
		  oom && json_object_get_boolean(oom) ? ", killed for lack of memory" : "");
	json_object_put(info);
	return -1;
}

int job_exec_script(struct job_ctx *ctx, const struct job_exec *x, const struct buf *script,
		    const char *stage, int *script_exit, int *no_exec, struct error *err)
{
	_cleanup_free_ char *exec_id = NULL;
	json_object *cfg, *cmd;
	struct run_state st = {.ctx = ctx, .container = x->container};
	struct docker_exec_io io = {0};
	struct sigaction sa = {0};
	int running = 1, code = -1, rc, i;

	*script_exit = -1;
	*no_exec = 0;
	cfg = json_object_new_object();
	cmd = json_object_new_array();
	json_object_array_add(cmd, json_object_new_string("sh"));
	json_object_array_add(cmd, json_object_new_string("-c"));
	json_object_array_add(cmd, json_object_new_string(x->shell_cmd));
	json_object_object_add(cfg, "Cmd", cmd);
	json_object_object_add(cfg, "AttachStdin", json_object_new_boolean(1));
	json_object_object_add(cfg, "AttachStdout", json_object_new_boolean(1));
	json_object_object_add(cfg, "AttachStderr", json_object_new_boolean(1));
	json_object_object_add(cfg, "Tty", json_object_new_boolean(0));
	rc = docker_exec_create(ctx->docker, x->container, cfg, &exec_id, err);
	json_object_put(cfg);
	if (rc < 0) {
		*no_exec = 1;
		return -1;
	}

	sa.sa_handler = on_term;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	io.stdin_data = script->data;
	io.stdin_len = script->len;
	io.on_output = on_output;
	io.on_tick = on_tick;
	io.payload = &st;
	rc = docker_exec_start(ctx->docker, exec_id, &io, err);
	if (rc < 0 && err->cls != ERR_CANCELED)
		return error_wrap(err, "run the %s stage", stage);
	if (rc < 0) {
		/* the script ignored TERM and KILL for 4 s: give up on it */
		return error_set(err, ERR_CANCELED, "the %s stage did not stop after SIGKILL",
				 stage);
	}
	for (i = 0; i < 100 && running; i++) {
		if (docker_exec_inspect(ctx->docker, exec_id, &code, &running, err) < 0)
			return error_wrap(err, "read the exit code of the %s stage", stage);
		if (running)
			usleep(20 * 1000);
	}
	if (running)
		return error_set(
			err, ERR_ENGINE,
			"the %s stage's output ended but the engine still reports it running",
			stage);
	*script_exit = code;
	/* the exec's own sh is missing (the runtime says so), or the detection
	 * found no shell: the image's fault, not the script's */
	if ((code == 126 || code == 127) &&
	    (strstr(st.tail, "executable file not found") || strstr(st.tail, SHELL_NOT_FOUND)))
		return error_set(err, x->image_is_admins ? ERR_CONFIG : ERR_JOB,
				 "%s %s has no shell: the runner's scripts need sh on its PATH, "
				 "and bash or sh in /usr/local/bin, /usr/bin, /bin or /busybox; %s",
				 x->what, x->image ? x->image : "", x->fix);
	if (code != 0) {
		err->cls = ERR_SCRIPT;
		err->code = code;
		snprintf(err->msg, sizeof(err->msg), "the %s script exited with code %d", stage,
			 code);
		return -1;
	}
	return 0;
}

int job_run_in_container(struct job_ctx *ctx, const char *script_path, const char *stage,
			 int *script_exit, struct error *err)
{
	_cleanup_buf_ struct buf script = BUF_INIT;
	struct job_exec x = {
		.container = ctx->name,
		.shell_cmd = shell_detect_script(ctx->cfg->shell, 0),
		.what = "the job image",
		.image = job_image(ctx),
		.fix = "use an image that has one",
	};
	int no_exec, rc;

	*script_exit = -1;
	if (fs_read_file(script_path, &script, SCRIPT_MAX, err) < 0)
		return error_wrap(err, "read the %s script", stage);
	rc = job_exec_script(ctx, &x, &script, stage, script_exit, &no_exec, err);
	if (rc < 0 && no_exec)
		return container_gone(ctx, stage, err);
	return rc;
}

/* ---- cleanup ---- */

/* Every container labelled with this runner and job, force-removed. */
static int remove_labelled(struct job_ctx *ctx, const char *const *filters, struct error *err)
{
	json_object *list = NULL;
	size_t i, n;
	int failed = 0;

	if (docker_container_list(ctx->docker, filters, 1, &list, err) < 0)
		return error_wrap(err, "list the job's containers");
	n = json_object_array_length(list);
	for (i = 0; i < n; i++) {
		json_object *c = json_object_array_get_idx(list, i), *id;

		if (!json_object_object_get_ex(c, "Id", &id))
			continue;
		if (docker_container_remove(ctx->docker, json_object_get_string(id), 1, 1, err) <
		    0) {
			log_warn("remove container %.12s: %s", json_object_get_string(id),
				 err->msg);
			failed++;
		}
	}
	json_object_put(list);
	return failed;
}

/*
 * A job without services has one container and its helper, whose names are
 * known: they are removed by name (a helper that never was costs one 404).
 * With services (or an unreadable list of them) every
 * container labelled with the job is.  Then the job's own network, when it
 * had one (gone already is success); the slot network stays for the slot's
 * next job.
 */
int job_cleanup(struct job_ctx *ctx, struct error *err)
{
	char runner_l[128], job_l[128];
	const char *filters[] = {runner_l, job_l, JOB_LABEL_MANAGED "=true", NULL};
	json_object *services;
	int failed = 0;

	snprintf(runner_l, sizeof(runner_l), JOB_LABEL_RUNNER "=%s", ctx->runner);
	snprintf(job_l, sizeof(job_l), JOB_LABEL_JOB "=%s", ctx->job_id);

	services = services_list(ctx, err);
	error_clear(err);
	if (services && json_object_array_length(services) == 0) {
		/* the helper (404 when the job had none), then the job container */
		const char *names[] = {ctx->helper, ctx->name};
		size_t i;

		for (i = 0; i < ARRAY_SIZE(names); i++)
			if (docker_container_remove(ctx->docker, names[i], 1, 1, err) < 0) {
				log_warn("remove container %s: %s", names[i], err->msg);
				failed++;
			}
	} else {
		int r = remove_labelled(ctx, filters, err);

		if (r < 0) {
			json_object_put(services);
			return -1;
		}
		failed += r;
	}
	json_object_put(services);

	if (docker_network_remove(ctx->docker, ctx->name, err) < 0) {
		log_warn("remove network %s: %s", ctx->name, err->msg);
		failed++;
	}
	if (failed)
		return error_set(err, ERR_ENGINE, "%d of the job's resources could not be removed",
				 failed);
	error_clear(err);
	return 0;
}
