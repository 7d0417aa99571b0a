/* SPDX-License-Identifier: MIT */
/* The context every deployment action runs in: names, variables, lock,
 * secrets and TLS material of one env. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/fs.h"
#include "common/log.h"
#include "durable/env.h"
#include "durable/history.h"
#include "durable/owner.h"
#include "gitlab/git.h"
#include "gitlab/registry.h"
#include "stages/context.h"
#include "stages/names.h"
#include "stages/stack.h"
#include "stages/control.h"

extern char **environ;

/* ---- variables ---- */

void vars_set(struct vars *v, const char *key, const char *value)
{
	size_t i;

	for (i = 0; i < v->n; i++) {
		if (!strcmp(v->items[i].key, key)) {
			free(v->items[i].value);
			v->items[i].value = value ? strdup(value) : NULL;
			return;
		}
	}
	if (v->n == v->cap) {
		size_t cap = v->cap ? v->cap * 2 : 64;
		struct compose_kv *p = realloc(v->items, cap * sizeof(*p));

		if (!p)
			return;
		v->items = p;
		v->cap = cap;
	}
	v->items[v->n].key = strdup(key);
	v->items[v->n].value = value ? strdup(value) : NULL;
	v->n++;
}

const char *vars_get(const struct vars *v, const char *key)
{
	size_t i;

	for (i = 0; i < v->n; i++)
		if (!strcmp(v->items[i].key, key))
			return v->items[i].value;
	return NULL;
}

const char *vars_lookup(const char *name, void *payload)
{
	return vars_get(payload, name);
}

void vars_release(struct vars *v)
{
	size_t i;

	for (i = 0; i < v->n; i++) {
		free(v->items[i].key);
		if (v->items[i].value) {
			/* values may be secrets */
			memset(v->items[i].value, 0, strlen(v->items[i].value));
			free(v->items[i].value);
		}
	}
	free(v->items);
	memset(v, 0, sizeof(*v));
}

/* The job's variables: CUSTOM_ENV_* under the runner, the process
 * environment for local commands. */
static void vars_from_environ(struct vars *v, int runner_mode)
{
	char **e;

	for (e = environ; *e; e++) {
		const char *kv = *e, *eq = strchr(kv, '=');
		char key[256];

		if (!eq)
			continue;
		if (runner_mode) {
			if (strncmp(kv, "CUSTOM_ENV_", 11))
				continue;
			kv += 11;
		}
		if ((size_t)(eq - kv) >= sizeof(key) || eq == kv)
			continue;
		memcpy(key, kv, (size_t)(eq - kv));
		key[eq - kv] = '\0';
		vars_set(v, key, eq + 1);
	}
}

/* The seed's ports, where the env has them; other envs set their own. */
static const struct {
	const char *env;
	const char *db, *live, *preview;
} env_ports[] = {
	{"devlocal", "3306", "8443", "9443"},
	{"ci", "3307", "443", "1443"},
};

static void set_default(struct vars *v, const char *key, const char *value)
{
	if (!vars_get(v, key))
		vars_set(v, key, value);
}

static void normalize_name(char *dst, size_t size, const char *src)
{
	size_t i = 0;

	for (; *src && i + 1 < size; src++) {
		char c = (char)tolower((unsigned char)*src);

		if (isalnum((unsigned char)c))
			dst[i++] = c;
		else if ((c == '-' || c == '_' || c == '.') && i > 0 && dst[i - 1] != '-')
			dst[i++] = '-';
	}
	while (i > 0 && dst[i - 1] == '-')
		i--;
	dst[i] = '\0';
}

int deploy_app_name(const char *explicit_name, const char *project_path, const char *dir, char *out,
		    size_t size, struct error *err)
{
	const char *app = explicit_name, *slash;

	if (app && *app) {
		/* a name the job chose is taken as it is or refused, never rewritten */
		size_t n = strlen(app);

		if (n > 40 || strspn(app, "abcdefghijklmnopqrstuvwxyz0123456789-") != n ||
		    app[0] == '-')
			return error_set(
				err, ERR_JOB,
				"EXECUTOR_APP \"%.64s\" is not a valid name: use 1 to 40 of "
				"a-z, 0-9 and -, starting with a letter or digit",
				app);
		snprintf(out, size, "%s", app);
		return 0;
	}
	{
		if (project_path && *project_path) {
			slash = strrchr(project_path, '/');
			app = slash ? slash + 1 : project_path;
		} else {
			slash = dir ? strrchr(dir, '/') : NULL;
			app = slash && slash[1] ? slash + 1 : "app";
		}
	}
	normalize_name(out, size, app);
	if (!out[0] || strlen(out) > 40)
		return error_set(
			err, ERR_JOB,
			"cannot derive an application name from \"%.64s\": set EXECUTOR_APP "
			"(a-z, 0-9 and -, at most 40)",
			app);
	return 0;
}

void deploy_state_root(const struct config *cfg, const char *app, char *out, size_t size)
{
	snprintf(out, size, "%s/apps/%s", cfg->state_dir, app);
}

/* ---- trust boundaries ---- */

int deploy_check_owner(const struct config *cfg, const char *app, const char *state_root,
		       const struct gitlab_job *job, int explicit_app, int claim, struct error *err)
{
	struct durable_owner o;
	char jid[32];
	const char *how = explicit_app ? " (EXECUTOR_APP)" : "";
	int shared;

	if (!job)
		return 0; /* an operator on the host is the admin */
	if (job->project_id <= 0)
		return error_set(err, ERR_SYSTEM,
				 "the job payload names no project id (job_info.project_id): "
				 "cannot tell who owns application %s",
				 app);
	shared = config_app_shared_with(cfg, app, job->project_id);
	if (durable_owner_read(state_root, &o, err) < 0)
		return -1;
	if (o.project_id == job->project_id || shared == 1) {
		if (o.project_id)
			return 0;
	} else if (o.project_id) {
		return error_set(
			err, ERR_POLICY,
			"application %s%s belongs to project %s (id %lld): project %s (id %lld) "
			"may not act on it. Choose another name with EXECUTOR_APP, or ask the "
			"runner admin to share it (app_projects = %s: %lld)",
			app, how, o.project[0] ? o.project : "?", o.project_id,
			job->project_path ? job->project_path : "?", job->project_id, app,
			job->project_id);
	} else if (shared == 0) {
		return error_set(err, ERR_POLICY,
				 "application %s%s is shared by the runner admin with other "
				 "projects only (app_projects); project %s (id %lld) is not one "
				 "of them. Choose another name with EXECUTOR_APP",
				 app, how, job->project_path ? job->project_path : "?",
				 job->project_id);
	}
	/* nobody owns it yet: the first project claims it */
	if (!claim)
		return 0;
	snprintf(jid, sizeof(jid), "%lld", job->id);
	if (durable_owner_claim(state_root, job->project_id, job->project_path, jid, &o, err) < 0)
		return -1;
	if (o.project_id != job->project_id && shared != 1)
		return error_set(err, ERR_POLICY,
				 "application %s%s was just claimed by project %s (id %lld): "
				 "choose another name with EXECUTOR_APP",
				 app, how, o.project[0] ? o.project : "?", o.project_id);
	if (o.project_id == job->project_id)
		log_info("Application %s now belongs to project %s (id %lld): other projects' "
			 "jobs cannot act on it",
			 app, job->project_path ? job->project_path : "?", job->project_id);
	return 0;
}

int deploy_check_env_protection(const struct config *cfg, const struct gitlab_job *job,
				const char *env, const char *what, struct error *err)
{
	if (!job || !config_env_protected(cfg, env) || job->protected_ref == 1)
		return 0;
	return error_set(err, ERR_POLICY,
			 "env %s is protected on this runner: %s runs only from a protected "
			 "branch or tag, and ref %s is %s in the job payload. Protect the ref "
			 "(Settings > Repository), or use an unprotected env such as ci "
			 "(protected_envs: %s)",
			 env, what, job->ref ? job->ref : "?",
			 job->protected_ref == 0 ? "not protected" : "not marked protected",
			 cfg->protected_envs.set ? pattern_list_str(&cfg->protected_envs)
						 : "every env but ci");
}

/* Where the router template comes from: see struct deploy_ctx.  The
 * checkout's is read beneath it (a link out of the repository is refused). */
#define ROUTER_TEMPLATE_REL "durable/router.conf.template"

static int load_router_template(struct deploy_ctx *d, struct error *err)
{
	_cleanup_free_ char *stored = NULL;
	struct buf theirs = BUF_INIT;
	int trusted = !d->job || d->job->protected_ref == 1;
	int has = fs_exists_beneath(d->project_dir, ROUTER_TEMPLATE_REL);

	if (asprintf(&stored, "%s/%s", d->env_dir, DURABLE_ROUTER_TEMPLATE_FILE) < 0) {
		stored = NULL;
		return error_set(err, ERR_SYSTEM, "out of memory");
	}
	buf_reset(&d->router_template);
	if (trusted) {
		d->router_template_store = 1;
		if (has == 0)
			return 0;
		if (fs_read_beneath(d->project_dir, ROUTER_TEMPLATE_REL, &d->router_template,
				    1 << 20, err) < 0)
			return -1;
		d->have_router_template = 1;
		return 0;
	}
	if (access(stored, F_OK) == 0) {
		if (fs_read_file(stored, &d->router_template, 1 << 20, err) < 0)
			return -1;
		d->have_router_template = 1;
	}
	if (has != 0 &&
	    (fs_read_beneath(d->project_dir, ROUTER_TEMPLATE_REL, &theirs, 1 << 20, err) < 0 ||
	     !d->have_router_template || strcmp(buf_str(&theirs), buf_str(&d->router_template))))
		log_notice("durable/router.conf.template of ref %s is not used: it decides what "
			   "the live entry serves, so only a protected ref sets it; the router "
			   "keeps %s",
			   d->job->ref ? d->job->ref : "?",
			   d->have_router_template ? "the template a protected ref last set"
						   : "the built-in template");
	error_clear(err);
	buf_release(&theirs);
	return 0;
}

int deploy_store_router_template(struct deploy_ctx *d, struct error *err)
{
	_cleanup_free_ char *stored = NULL;
	struct buf cur = BUF_INIT;
	int same;

	if (!d->router_template_store || !d->env_dir)
		return 0;
	if (asprintf(&stored, "%s/%s", d->env_dir, DURABLE_ROUTER_TEMPLATE_FILE) < 0)
		return error_set(err, ERR_SYSTEM, "out of memory");
	if (!d->have_router_template) {
		if (unlink(stored) < 0 && errno != ENOENT)
			return error_set_errno(err, ERR_IO, errno, "remove %s", stored);
		return 0;
	}
	same = fs_read_file(stored, &cur, 1 << 20, NULL) == 0 &&
	       !strcmp(buf_str(&cur), buf_str(&d->router_template));
	buf_release(&cur);
	if (same)
		return 0;
	return fs_write_atomic(stored, d->router_template.data, d->router_template.len, 0600, err);
}

/* ---- the durable stack's own project name ---- */

/* Where durable setup keeps the project name the durable file chose
 * (top-level name:), so that teardown and the color actions find it. */
#define DURABLE_PROJECT_FILE "durable-project"

int deploy_check_project_name(struct deploy_ctx *d, const char *name, const char *file,
			      struct error *err)
{
	char filter[256];
	const char *filters[] = {filter, NULL};
	json_object *list = NULL;
	_cleanup_free_ char *apps = NULL;
	size_t i;
	DIR *dir;
	struct dirent *de;

	char derived[NAMES_PROJECT_MAX];

	if (strcmp(name, d->durable_project)) {
		/* a layer running under its previous name would be left behind */
		char app_filter[128];
		const char *mine[] = {filter, app_filter, "io.executor.layer=durable", NULL};
		size_t n;

		snprintf(filter, sizeof(filter), "com.docker.compose.project=%s",
			 d->durable_project);
		snprintf(app_filter, sizeof(app_filter), "io.executor.app=%s", d->app);
		if (docker_container_list(d->docker, mine, 1, &list, err) < 0)
			return error_wrap(err, "containers of project %s", d->durable_project);
		n = json_object_array_length(list);
		json_object_put(list);
		list = NULL;
		if (n)
			return error_set(
				err, ERR_JOB,
				"%s: the durable layer of env %s runs as project %s, and "
				"the file now names it %s: tear it down first (executor "
				"durable teardown %s keeps the volumes), then set it up again",
				file, d->action.env, d->durable_project, name, d->action.env);
	}
	names_durable_project(d->app, d->action.env, derived, sizeof(derived));
	if (!strcmp(name, derived))
		return 0;
	/* objects of that Compose project that are not this app's durable layer
	 * in this env: another app's, env's or color's (names can be spelled alike) */
	snprintf(filter, sizeof(filter), "com.docker.compose.project=%s", name);
	for (i = 0; i < 2; i++) {
		int rc = i == 0 ? docker_container_list(d->docker, filters, 1, &list, err)
				: docker_network_list(d->docker, filters, &list, err);
		size_t k;

		if (rc < 0)
			return error_wrap(err, "objects of project %s", name);
		for (k = 0; k < json_object_array_length(list); k++) {
			json_object *o = json_object_array_get_idx(list, k);
			const char *app = docker_object_label(o, "io.executor.app");
			const char *env = docker_object_label(o, "io.executor.env");
			const char *layer = docker_object_label(o, "io.executor.layer");

			if (docker_object_label(o, "io.executor.managed") && app &&
			    !strcmp(app, d->app) && env && !strcmp(env, d->action.env) && layer &&
			    !strcmp(layer, "durable"))
				continue;
			json_object_put(list);
			return error_set(
				err, ERR_POLICY,
				"%s: name: %s is the Compose project of objects that are not app "
				"%s's durable layer in env %s (they belong to %s%s%s): choose "
				"another name:, or leave it out (the driver then names the "
				"project %s)",
				file, name, d->app, d->action.env,
				app ? "app " : "nobody the driver knows", app ? app : "",
				app && env ? (strcmp(app, d->app) ? "" : ", another env or layer")
					   : "",
				derived);
		}
		json_object_put(list);
		list = NULL;
	}
	/* a name that spells another app's objects (<app>-...): that app's owner
	 * decides, exactly as for a derived name */
	if (asprintf(&apps, "%s/apps", d->cfg->state_dir) < 0) {
		apps = NULL;
		return error_set(err, ERR_SYSTEM, "out of memory");
	}
	dir = opendir(apps);
	while (dir && (de = readdir(dir))) {
		char root[4096];
		size_t n = strlen(de->d_name);

		if (de->d_name[0] == '.' || !strcmp(de->d_name, d->app) ||
		    strncmp(name, de->d_name, n) || name[n] != '-')
			continue;
		deploy_state_root(d->cfg, de->d_name, root, sizeof(root));
		if (deploy_check_owner(d->cfg, de->d_name, root, d->job, 0, 0, err) < 0) {
			closedir(dir);
			return error_wrap(err, "%s: name: %s spells app %s's objects", file, name,
					  de->d_name);
		}
	}
	if (dir)
		closedir(dir);
	return 0;
}

int deploy_set_durable_project(struct deploy_ctx *d, const char *name, struct error *err)
{
	_cleanup_free_ char *path = NULL;
	struct buf cur = BUF_INIT;
	int same;

	if (asprintf(&path, "%s/%s", d->env_dir, DURABLE_PROJECT_FILE) < 0) {
		path = NULL;
		return error_set(err, ERR_SYSTEM, "out of memory");
	}
	snprintf(d->durable_project, sizeof(d->durable_project), "%s", name);
	vars_set(&d->vars, "EXECUTOR_DURABLE_PROJECT", d->durable_project);
	same = fs_read_file(path, &cur, 256, NULL) == 0 && !strcmp(buf_str(&cur), name);
	buf_release(&cur);
	if (same)
		return 0;
	return fs_write_atomic(path, name, strlen(name), 0600, err);
}

/* The name durable setup recorded, when the durable file chose one. */
static void read_durable_project(struct deploy_ctx *d)
{
	_cleanup_free_ char *path = NULL;
	struct buf cur = BUF_INIT;
	const char *s;
	size_t n;

	if (asprintf(&path, "%s/%s", d->env_dir, DURABLE_PROJECT_FILE) < 0)
		return;
	if (fs_read_file(path, &cur, 256, NULL) == 0) {
		s = buf_str(&cur);
		n = strlen(s);
		if (n && n < sizeof(d->durable_project) &&
		    strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789-_") == n)
			snprintf(d->durable_project, sizeof(d->durable_project), "%s", s);
	}
	buf_release(&cur);
}

/* ---- context ---- */

/* A stored or generated value as a variable, unless the job sets that name. */
static void secret_to_vars(struct deploy_ctx *d, const struct durable_secret *it)
{
	if (!vars_get(&d->vars, it->name))
		vars_set(&d->vars, it->name, it->value);
}

int deploy_ctx_init(struct deploy_ctx *d, struct config *cfg, struct docker_client *docker,
		    const struct gitlab_job *job, const struct action *action,
		    const char *project_dir, struct error *err)
{
	const char *app = NULL, *v;
	char tmp[512];
	size_t i;

	memset(d, 0, sizeof(*d));
	d->lock.fd = -1;
	d->cfg = cfg;
	d->docker = docker;
	d->job = job;
	d->runner_mode = job != NULL;
	d->action = *action;
	snprintf(d->project_dir, sizeof(d->project_dir), "%s", project_dir);

	vars_from_environ(&d->vars, d->runner_mode);

	app = vars_get(&d->vars, "EXECUTOR_APP");
	if (deploy_app_name(app, job ? job->project_path : NULL, d->project_dir, d->app,
			    sizeof(d->app), err) < 0)
		return -1;
	deploy_state_root(cfg, d->app, d->state_root, sizeof(d->state_root));
	/* who may act, before anything of the app or env is touched */
	if (deploy_check_env_protection(cfg, job, action->env, action_name(action->kind), err) <
		    0 ||
	    deploy_check_owner(cfg, d->app, d->state_root, job, app && *app, 1, err) < 0)
		return -1;
	if (fs_mkdir_p(d->state_root, 0700, err) < 0)
		return -1;
	names_durable_project(d->app, action->env, d->durable_project, sizeof(d->durable_project));
	names_network(d->durable_project, d->durable_network, sizeof(d->durable_network));

	if (durable_env_ensure(d->state_root, action->env, err) < 0 ||
	    durable_env_path(d->state_root, action->env, NULL, &d->env_dir, err) < 0 ||
	    durable_env_path(d->state_root, action->env, "router", &d->router_dir, err) < 0)
		return -1;
	if (fs_mkdir_p(d->router_dir, 0755, err) < 0)
		return -1;
	read_durable_project(d);

	if (git_read_head(d->project_dir, d->commit, err) < 0) {
		d->commit[0] = '\0';
		error_clear(err);
	}

	/* who, for the lock and the history: under the runner, the trusted
	 * payload says it (its first variable of a name is GitLab's own); a job
	 * variable saying otherwise is recorded as a claim */
	if (job) {
		const char *claimed = vars_get(&d->vars, "GITLAB_USER_LOGIN");

		if (job->id > 0)
			snprintf(d->job_id, sizeof(d->job_id), "%lld", job->id);
		if (job->project_id > 0)
			snprintf(d->project_id, sizeof(d->project_id), "%lld", job->project_id);
		if ((v = gitlab_job_variable(job, "CI_PIPELINE_ID")))
			snprintf(d->pipeline_id, sizeof(d->pipeline_id), "%s", v);
		if ((v = gitlab_job_variable(job, "GITLAB_USER_LOGIN")))
			snprintf(d->user, sizeof(d->user), "%s", v);
		if (claimed && strcmp(claimed, d->user))
			snprintf(d->user_claimed, sizeof(d->user_claimed), "%s", claimed);
		if (job->name)
			snprintf(d->job_name, sizeof(d->job_name), "%s", job->name);
		if (job->project_path)
			snprintf(d->project_path, sizeof(d->project_path), "%s", job->project_path);
		if (job->ref)
			snprintf(d->ref, sizeof(d->ref), "%s", job->ref);
		d->who.protected_ref = job->protected_ref == 1	 ? "true"
				       : job->protected_ref == 0 ? "false"
								 : NULL;
		d->who.via = "job";
	} else {
		if ((v = vars_get(&d->vars, "CI_JOB_ID")))
			snprintf(d->job_id, sizeof(d->job_id), "%s", v);
		if ((v = vars_get(&d->vars, "CI_PIPELINE_ID")))
			snprintf(d->pipeline_id, sizeof(d->pipeline_id), "%s", v);
		d->who.via = "local";
	}
	snprintf(d->action_text, sizeof(d->action_text), "%s%s%s", action_name(action->kind),
		 action->color[0] ? " " : "", action->color);
	d->who.action = d->action_text;
	d->who.job_id = d->job_id[0] ? d->job_id : NULL;
	d->who.job_name = d->job_name[0] ? d->job_name : NULL;
	d->who.pipeline_id = d->pipeline_id[0] ? d->pipeline_id : NULL;
	d->who.project = d->project_path[0] ? d->project_path : NULL;
	d->who.project_id = d->project_id[0] ? d->project_id : NULL;
	d->who.ref = d->ref[0] ? d->ref : NULL;
	d->who.user = d->user[0] ? d->user : NULL;
	d->who.user_claimed = d->user_claimed[0] ? d->user_claimed : NULL;

	if (action->kind == ACTION_PROMOTE && action->control == PROMOTE_STEPS &&
	    (v = vars_get(&d->vars, "EXECUTOR_PROMOTE")) && *v) {
		if (!strcmp(v, "abort"))
			d->action.control = PROMOTE_ABORT;
		else if (!strcmp(v, "full"))
			d->action.control = PROMOTE_FULL;
		else if (strcmp(v, "steps"))
			return error_set(err, ERR_JOB,
					 "EXECUTOR_PROMOTE must be abort, full or steps, not "
					 "\"%.40s\"",
					 v);
	}
	if (d->action.control != PROMOTE_STEPS) {
		/* a canary job holds the lock through its pauses: hand it the
		 * command (which only a promote may give) */
		int rc = deploy_check_guard(d, err) < 0
				 ? -1
				 : control_send(d->env_dir, d->state_root, action->env,
						d->action.control == PROMOTE_ABORT ? "abort"
										   : "full",
						60, err);

		if (rc < 0)
			return -1;
		if (rc > 0) {
			d->handed_over = 1;
			return 0;
		}
	}
	if (durable_lock_acquire(d->state_root, action->env, &d->who, cfg->lock_timeout, &d->lock,
				 err) < 0)
		return -1;
	/* the env's stored values; which ones are generated is the durable
	 * stack's declaration, read by durable setup (deploy_secrets_declare) */
	if (durable_secrets_load(d->state_root, action->env, &d->secrets, err) < 0)
		return error_wrap(err, "secrets of env %s", action->env);
	if (load_router_template(d, err) < 0)
		return -1;

	/* defaults first, then what the job says, then the driver's own names,
	 * which nothing overrides; the env's stored secrets fill in what the
	 * job does not set (a job or CI/CD variable of the same name wins) */
	for (i = 0; i < ARRAY_SIZE(env_ports); i++) {
		if (strcmp(env_ports[i].env, action->env))
			continue;
		set_default(&d->vars, "EXECUTOR_DB_PORT", env_ports[i].db);
		set_default(&d->vars, "EXECUTOR_LIVE_PORT", env_ports[i].live);
		set_default(&d->vars, "EXECUTOR_PREVIEW_PORT", env_ports[i].preview);
	}
	vars_set(&d->vars, "EXECUTOR_APP", d->app);
	vars_set(&d->vars, "EXECUTOR_ENV", action->env);
	vars_set(&d->vars, "EXECUTOR_DURABLE_PROJECT", d->durable_project);
	vars_set(&d->vars, "EXECUTOR_DURABLE_NETWORK", d->durable_network);
	vars_set(&d->vars, "EXECUTOR_ROUTER_DIR", d->router_dir);
	snprintf(tmp, sizeof(tmp), "%s/tls", d->env_dir);
	vars_set(&d->vars, "EXECUTOR_TLS_DIR", tmp);
	if (action->color[0]) {
		vars_set(&d->vars, "EXECUTOR_COLOR", action->color);
		vars_set(&d->vars, "EXECUTOR_PROJECT",
			 names_color_project(d->app, action->color, tmp, sizeof(tmp)));
	} else {
		vars_set(&d->vars, "EXECUTOR_PROJECT", d->durable_project);
	}
	for (i = 0; i < d->secrets.n; i++)
		secret_to_vars(d, &d->secrets.items[i]);
	return 0;
}

static bool job_gives(const char *name, void *payload)
{
	return vars_get(payload, name) != NULL;
}

int deploy_secrets_declare(struct deploy_ctx *d, const char *file, struct error *err)
{
	struct durable_secret_decls decls = {0};
	struct buf text = BUF_INIT;
	size_t before = d->secrets.n, i;
	int rc;

	if (fs_read_beneath(d->project_dir, file, &text, 4u << 20, err) < 0) {
		/* the stack reader says what is wrong with the file */
		error_clear(err);
		buf_release(&text);
		return 0;
	}
	rc = durable_secrets_parse_decls(file, buf_str(&text), text.len, &decls, err);
	buf_release(&text);
	if (rc < 0)
		return -1;
	for (i = 0; i < decls.n; i++)
		if (!durable_secrets_get(&d->secrets, decls.items[i].name) &&
		    vars_get(&d->vars, decls.items[i].name))
			log_info("%s: %s is the job's variable; nothing generated for it", file,
				 decls.items[i].name);
	rc = durable_secrets_add(&d->secrets, &decls, job_gives, &d->vars, err);
	durable_secret_decls_release(&decls);
	if (rc < 0)
		return -1;
	for (i = before; i < d->secrets.n; i++)
		secret_to_vars(d, &d->secrets.items[i]);
	return 0;
}

int deploy_secrets_commit(struct deploy_ctx *d, struct error *err)
{
	return durable_secrets_save(d->state_root, d->action.env, &d->secrets, err);
}

void deploy_ctx_release(struct deploy_ctx *d)
{
	durable_lock_release(&d->lock);
	durable_secrets_release(&d->secrets);
	durable_tls_release(&d->tls);
	vars_release(&d->vars);
	buf_release(&d->router_template);
	free(d->env_dir);
	free(d->router_dir);
	d->env_dir = d->router_dir = NULL;
	registry_auth_release(&d->auth);
	d->auth_loaded = 0;
}

const struct registry_auth *deploy_registry_auth(struct deploy_ctx *d)
{
	if (!d->auth_loaded) {
		gitlab_registry_auth(&d->auth, d->cfg, d->job);
		d->auth_loaded = 1;
	}
	return &d->auth;
}

void deploy_stack_init(struct deploy_ctx *d, struct stack *s, const struct compose_project *p,
		       const char *files, const char *const *roots)
{
	int color = d->action.color[0] && d->action.kind != ACTION_DURABLE_SETUP;

	memset(s, 0, sizeof(*s));
	s->docker = d->docker;
	s->cfg = d->cfg;
	s->auth = deploy_registry_auth(d);
	s->project = p;
	s->mode = color ? STACK_REPLACE : STACK_KEEP;
	s->layer = color ? "color" : "durable";
	s->app = d->app;
	s->env = d->action.env;
	s->color = color ? d->action.color : NULL;
	s->config_files = files;
	s->attach_network = color ? d->durable_network : NULL;
	s->bind_roots = roots;
	s->health_timeout_s = 180;
	snprintf(d->files_dir, sizeof(d->files_dir), "%s/files/%s", d->env_dir, p->name);
	s->files_dir = d->files_dir;
	s->lookup = vars_lookup;
	s->lookup_payload = &d->vars;
}

int deploy_remove_files(struct deploy_ctx *d, const char *project, struct error *err)
{
	_cleanup_free_ char *dir = NULL;

	if (asprintf(&dir, "%s/files/%s", d->env_dir, project) < 0) {
		dir = NULL;
		return error_set(err, ERR_SYSTEM, "out of memory");
	}
	return fs_remove_tree(dir, err);
}

int deploy_load_stack(struct deploy_ctx *d, const char *const *files, size_t nfiles,
		      const char *project_name, struct compose_project **out, struct error *err)
{
	_cleanup_free_ char *profiles_copy = NULL;
	const char *profiles[32];
	size_t nprofiles = 0;
	struct compose_load_opts opts = {0};
	struct compose_diags diags = COMPOSE_DIAGS_INIT;
	char *paths[8];
	size_t i;
	int rc;

	if (nfiles > 8)
		return error_set(err, ERR_SYSTEM, "too many stack files");
	for (i = 0; i < nfiles; i++) {
		if (files[i][0] == '/')
			paths[i] = strdup(files[i]);
		else if (asprintf(&paths[i], "%s/%s", d->project_dir, files[i]) < 0)
			paths[i] = NULL;
	}
	opts.files = (const char *const *)paths;
	opts.nfiles = nfiles;
	opts.project_name = project_name;
	/* the durable file's own name: wins over the driver's (checked by
	 * deploy_check_project_name); a color's project stays <app>-<color> */
	opts.file_name_wins = d->action.kind == ACTION_DURABLE_SETUP;
	opts.project_dir = d->project_dir;
	/* every file the stack reads is the repository's: opened beneath the
	 * checkout, never through a link that leads out of it */
	opts.root = d->project_dir;
	opts.lookup = vars_lookup;
	opts.payload = &d->vars;
	/* EXECUTOR_PROFILES (else COMPOSE_PROFILES): comma-separated, as Compose takes them */
	{
		const char *pv = vars_get(&d->vars, "EXECUTOR_PROFILES");
		char *save = NULL, *tok;

		if (!pv || !*pv)
			pv = vars_get(&d->vars, "COMPOSE_PROFILES");
		profiles_copy = pv && *pv ? strdup(pv) : NULL;
		for (tok = profiles_copy ? strtok_r(profiles_copy, ", ", &save) : NULL;
		     tok && nprofiles < ARRAY_SIZE(profiles); tok = strtok_r(NULL, ", ", &save))
			profiles[nprofiles++] = tok;
		opts.profiles = profiles;
		opts.nprofiles = nprofiles;
	}
	rc = compose_load(&opts, out, &diags, err);
	for (i = 0; i < diags.n; i++) {
		const char *f = diags.items[i].file ? diags.items[i].file : "";
		size_t n = strlen(d->project_dir);

		if (!strncmp(f, d->project_dir, n) && f[n] == '/')
			f += n + 1;
		if (diags.items[i].line)
			log_warn("%s:%d: %s", f, diags.items[i].line, diags.items[i].message);
		else
			log_warn("%s: %s", f, diags.items[i].message);
	}
	compose_diags_release(&diags);
	for (i = 0; i < nfiles; i++)
		free(paths[i]);
	if (rc < 0) {
		/* messages name files relative to the checkout */
		char *hit = strstr(err->msg, d->project_dir);

		if (hit && hit[strlen(d->project_dir)] == '/') {
			size_t n = strlen(d->project_dir) + 1;

			memmove(hit, hit + n, strlen(hit + n) + 1);
		}
	}
	return rc;
}

void deploy_history(struct deploy_ctx *d, const char *result, long long duration_ms,
		    json_object *images, const char *message)
{
	deploy_history_color(d, d->action.color[0] ? d->action.color : NULL, result, duration_ms,
			     images, message);
}

void deploy_history_color(struct deploy_ctx *d, const char *color, const char *result,
			  long long duration_ms, json_object *images, const char *message)
{
	struct durable_history_entry e = {0};
	struct error err = ERROR_INIT;

	e.action = action_name(d->action.kind);
	e.color = color;
	e.result = result;
	e.duration_ms = duration_ms;
	e.who = &d->who;
	e.commit = d->commit[0] ? d->commit : NULL;
	e.images = images;
	e.message = message;
	if (durable_history_append(d->state_root, d->action.env, &e, &err) < 0)
		log_warn("could not record the history: %s", err.msg);
}

int deploy_check_guard(const struct deploy_ctx *d, struct error *err)
{
	const struct pattern_list *projects = &d->cfg->protected_projects;

	if (!d->job)
		return 0; /* an operator on the host is the admin */
	if (d->job->protected_ref != 1)
		return error_set(
			err, ERR_POLICY,
			"%s runs only from a protected branch or tag; ref %s is %s in the "
			"job payload (CI_COMMIT_REF_PROTECTED set by a job does not count): "
			"protect the ref in Settings > Repository",
			action_name(d->action.kind), d->job->ref ? d->job->ref : "?",
			d->job->protected_ref == 0 ? "not protected" : "not marked protected");
	if (projects->set &&
	    (!d->job->project_path || !pattern_list_match(projects, d->job->project_path)))
		return error_set(err, ERR_POLICY,
				 "project %s may not %s on this runner (protected_projects: %s); "
				 "ask the runner admin",
				 d->job->project_path ? d->job->project_path : "?",
				 action_name(d->action.kind), pattern_list_str(projects));
	return 0;
}

int deploy_check_relpath(const char *var, const char *path, struct error *err)
{
	const char *p = path;

	if (path[0] == '/' || strlen(path) > 1024)
		goto bad;
	while (*p) {
		size_t n = strcspn(p, "/");

		if (n == 2 && p[0] == '.' && p[1] == '.')
			goto bad;
		p += n;
		while (*p == '/')
			p++;
	}
	return 0;
bad:
	return error_set(err, ERR_JOB,
			 "%s \"%.80s\" must be a path inside the repository (relative, without "
			 "..)",
			 var, path);
}
