/* SPDX-License-Identifier: MIT */
/* The durable layer of an env: setup, teardown, confirmed cleanup. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/clock.h"
#include "common/fs.h"
#include "common/log.h"
#include "durable/history.h"
#include "durable/router.h"
#include "durable/state.h"
#include "gitlab/gitlab.h"
#include "stages/context.h"
#include "stages/layer.h"
#include "stages/names.h"
#include "stages/route.h"
#include "stages/stack.h"

static const char *durable_file(const struct deploy_ctx *d)
{
	const char *f = vars_get(&d->vars, "EXECUTOR_DURABLE_FILE");

	return f && *f ? f : "durable/docker-compose.yml";
}

/* Something is at rel in the checkout.  A link that leads out of it counts
 * as there, so that loading it says so (fs_exists_beneath). */
static int file_exists(const struct deploy_ctx *d, const char *rel)
{
	return fs_exists_beneath(d->project_dir, rel) != 0;
}

/* The service that is the router: labelled io.executor.role=router, else
 * the service named "router". */
static const struct compose_service *find_router(const struct compose_project *p)
{
	size_t i, k;

	for (i = 0; i < p->nservices; i++)
		for (k = 0; k < p->services[i].nlabels; k++)
			if (!strcmp(p->services[i].labels[k].key, "io.executor.role") &&
			    p->services[i].labels[k].value &&
			    !strcmp(p->services[i].labels[k].value, "router"))
				return &p->services[i];
	return compose_project_service(p, "router");
}

/* TLS names: every service and container name of the durable stack and,
 * when the repository has one, of the app stack; kept in the state so the
 * set only grows and the certificate is not reissued back and forth. */
static int ensure_tls(struct deploy_ctx *d, struct env_state *state,
		      const struct compose_project *p, struct error *err)
{
	const char **list;
	size_t i, n;
	int rc;

	for (i = 0; p && i < p->nservices; i++) {
		if (durable_state_add_tls_name(state, p->services[i].name) < 0 ||
		    (p->services[i].container_name &&
		     durable_state_add_tls_name(state, p->services[i].container_name) < 0))
			return error_set(err, ERR_SYSTEM, "out of memory");
	}
	list = calloc(DURABLE_TLS_MAX_NAMES, sizeof(*list));
	if (!list)
		return error_set(err, ERR_SYSTEM, "out of memory");
	n = durable_state_tls_names(state, list, DURABLE_TLS_MAX_NAMES - 1);
	durable_tls_release(&d->tls);
	rc = durable_tls_ensure(d->state_root, d->action.env, list, &d->tls, err);
	free(list);
	if (rc == 0 && d->tls.cert_issued)
		log_info("Issued the TLS certificate of env %s (%zu names)", d->action.env, n + 3);
	return rc;
}

int deploy_ensure_tls(struct deploy_ctx *d, struct env_state *state,
		      const struct compose_project *p, struct error *err)
{
	return ensure_tls(d, state, p, err);
}

static int port_of(const struct compose_service *svc, int target)
{
	size_t i;

	for (i = 0; i < svc->nports; i++)
		if (svc->ports[i].target == target)
			return svc->ports[i].published_start;
	return 0;
}

static int record_router(struct env_state *state, const struct compose_service *router,
			 struct error *err)
{
	if (durable_state_set_router(state, router->container_name, port_of(router, 443),
				     port_of(router, 1443)) < 0)
		return error_set(err, ERR_SYSTEM, "out of memory");
	return 0;
}

static int state_running(json_object *info)
{
	json_object *st, *v;

	return json_object_object_get_ex(info, "State", &st) &&
	       json_object_object_get_ex(st, "Running", &v) && json_object_get_boolean(v);
}

static void forget_missing_colors(struct deploy_ctx *d, struct env_state *state)
{
	_cleanup_json_ json_object *gone = json_object_new_array();
	struct env_color c;
	size_t i;

	for (i = 0; durable_state_color_at(state, i, &c); i++) {
		char project[NAMES_PROJECT_MAX];
		_cleanup_json_ json_object *list = NULL;
		struct error e = ERROR_INIT;

		names_color_project(d->app, c.name, project, sizeof(project));
		if (stack_containers(d->docker, project, &list, &e) == 0 &&
		    json_object_array_length(list) == 0) {
			json_object_array_add(gone, json_object_new_string(c.name));
			/* its network may have outlived its containers */
			if (stack_down(d->docker, project, "color", d->app, 0, &e) < 0)
				log_warn("could not remove what is left of color %s: %s", c.name,
					 e.msg);
		}
	}
	for (i = 0; i < json_object_array_length(gone); i++) {
		const char *color = json_object_get_string(json_object_array_get_idx(gone, i));

		log_warn("color %s of env %s has no containers any more: forgetting it (the router "
			 "stops routing to it)",
			 color, d->action.env);
		durable_state_remove_color(state, color);
	}
}

int action_durable_setup(struct deploy_ctx *d, struct error *err)
{
	const char *file = durable_file(d);
	struct compose_project *p = NULL;
	struct stack_report rep = {0};
	_cleanup_env_state_ struct env_state *state = NULL;
	json_object *hashes = NULL;
	const struct compose_service *router;
	char tlsdir[4096], derived[NAMES_PROJECT_MAX];
	const char *roots[3];
	struct stack s = {0};
	struct buf router_text = BUF_INIT;
	int router_running = 0, router_same = 0;
	long long t0 = clock_ms();
	int rc = -1, running;
	size_t i;

	if (deploy_check_relpath("EXECUTOR_DURABLE_FILE", file, err) < 0)
		goto out;
	if (!file_exists(d, file)) {
		error_set(err, ERR_JOB,
			  "%s is missing in %s: the durable layer's stack file (set "
			  "EXECUTOR_DURABLE_FILE to use another path)",
			  file, d->project_dir);
		goto out;
	}
	names_durable_project(d->app, d->action.env, derived, sizeof(derived));
	if (deploy_secrets_declare(d, file, err) < 0 ||
	    deploy_load_stack(d, &file, 1, derived, &p, err) < 0 ||
	    deploy_check_project_name(d, p->name, file, err) < 0)
		goto out;
	if (p->nservices == 0) { /* an empty file is not a layer that is already up */
		error_set(err, ERR_JOB,
			  "%s defines no services: the durable layer needs at least its "
			  "database (or router); add them, or leave durable:setup-%s out of the "
			  "pipeline",
			  file, d->action.env);
		goto out;
	}
	if (durable_state_load(d->state_root, d->action.env, &state, err) < 0)
		goto out;

	snprintf(tlsdir, sizeof(tlsdir), "%s/tls", d->env_dir);
	roots[0] = tlsdir;
	roots[1] = d->router_dir;
	roots[2] = NULL;
	deploy_stack_init(d, &s, p, file, roots);
	/* a stack the policy refuses changes nothing, not even the certificate */
	if (stack_check(&s, err) < 0)
		goto out;
	/* the stack is read and valid: keep what it made the env generate, and
	 * the project name it chose */
	if (deploy_secrets_commit(d, err) < 0 || deploy_set_durable_project(d, p->name, err) < 0 ||
	    ensure_tls(d, state, p, err) < 0)
		goto out;

	/* colors whose containers are gone (removed by hand, or an engine that
	 * lost them) must not stay in the router's file: nginx refuses to start
	 * with an upstream name it cannot resolve */
	forget_missing_colors(d, state);

	router = find_router(p);
	if (router) {
		char path[4096];
		json_object *info = NULL;
		struct error e = ERROR_INIT;

		snprintf(path, sizeof(path), "%s/%s", d->router_dir, ROUTER_FILE);
		/* the same routing in place means nothing to reload (the color
		 * actions reload on every change of targets) */
		router_same = route_in_place(d, state, durable_state_live(state),
					     durable_state_preview(state));
		if (!router_same &&
		    route_render(d, state, durable_state_live(state), durable_state_preview(state),
				 &router_text, err) < 0)
			goto out;
		/* a router that is not running loads the file when it starts: write
		 * it now; a running one gets it through nginx -t and a reload below */
		router_running = docker_container_inspect(d->docker, router->container_name, &info,
							  &e) == 0 &&
				 state_running(info);
		json_object_put(info);
		if (!router_running && !router_same &&
		    fs_write_atomic(path, buf_str(&router_text), router_text.len, 0644, err) < 0)
			goto out;
	}

	gitlab_section_start(stderr, "durable_setup", "Setting up the durable layer", 0);
	log_info("Durable layer of env %s: project %s, network %s", d->action.env,
		 d->durable_project, d->durable_network);
	if (stack_up(&s, &rep, err) < 0) {
		gitlab_section_end(stderr, "durable_setup");
		goto out;
	}
	if (stack_wait_healthy(&s, err) < 0) {
		gitlab_section_end(stderr, "durable_setup");
		goto out;
	}
	if (router && router_running && !router_same &&
	    router_apply(d->docker, router->container_name, d->router_dir, buf_str(&router_text),
			 err) < 0) {
		gitlab_section_end(stderr, "durable_setup");
		goto out;
	}
	gitlab_section_end(stderr, "durable_setup");

	if (rep.drifted) {
		log_warn("The durable layer differs from %s (not recreated, data kept):", file);
		log_raw(buf_str(&rep.drift));
		log_warn("To apply the change: executor durable teardown %s (keeps volumes), then "
			 "set it up again",
			 d->action.env);
	}
	/* services that were running already: unchanged ones and drifted ones
	 * left as they are (a drifted stopped one counts as started) */
	running = (int)p->nservices - rep.created - rep.started - rep.replaced;
	if (!rep.created && !rep.started && !rep.replaced)
		log_notice("The durable layer of env %s is already running and healthy (%d "
			   "service%s); nothing to do",
			   d->action.env, running, running == 1 ? "" : "s");
	else
		log_notice("Durable layer of env %s ready: %d created, %d started again, %d "
			   "already running",
			   d->action.env, rep.created, rep.started, running);

	hashes = json_object_new_object();
	for (i = 0; i < p->nservices; i++) {
		char hash[65];

		if (compose_service_hash(&p->services[i], hash, err) == 0)
			json_object_object_add(hashes, p->services[i].name,
					       json_object_new_string(hash));
	}
	error_clear(err);
	if (durable_state_mark_setup(state, 0, rep.created > 0, hashes, err) < 0)
		goto out;
	if (router) {
		if (record_router(state, router, err) < 0)
			goto out;
	} else {
		if (durable_state_set_router(state, NULL, 0, 0) < 0) {
			rc = error_set(err, ERR_SYSTEM, "out of memory");
			goto out;
		}
		log_notice("The durable stack has no router service: colors deploy on their own "
			   "ports, and promote refuses (add a service labelled "
			   "io.executor.role: router to switch traffic)");
	}
	if (durable_state_save(d->state_root, d->action.env, state, err) < 0)
		goto out;
	rc = 0;
out:
	deploy_history(d, rc == 0 ? DURABLE_RESULT_OK : DURABLE_RESULT_FAILED, clock_ms() - t0,
		       NULL,
		       rc == 0 ? (rep.created	? "created"
				  : rep.drifted ? "drift reported"
						: "verified")
			       : err->msg);
	json_object_put(hashes);
	compose_project_free(p);
	stack_report_release(&rep);
	buf_release(&router_text);
	return rc;
}

/* Colors of this app in the env that still have containers (their Compose
 * project is <app>-<color>; another app's colors in an env of the same name
 * run on another durable layer). */
static int running_colors(struct deploy_ctx *d, struct buf *names, struct error *err)
{
	char envl[128];
	const char *filters[] = {envl, "io.executor.layer=color", "io.executor.managed=true", NULL};
	json_object *list = NULL;
	size_t i, n, applen = strlen(d->app);

	snprintf(envl, sizeof(envl), "io.executor.env=%s", d->action.env);
	if (docker_container_list(d->docker, filters, 1, &list, err) < 0)
		return -1;
	n = json_object_array_length(list);
	for (i = 0; i < n; i++) {
		json_object *c = json_object_array_get_idx(list, i), *labels, *color, *proj;
		const char *cs, *ps;

		if (!json_object_object_get_ex(c, "Labels", &labels) ||
		    !json_object_object_get_ex(labels, "io.executor.color", &color) ||
		    !json_object_object_get_ex(labels, "com.docker.compose.project", &proj))
			continue;
		cs = json_object_get_string(color);
		ps = json_object_get_string(proj);
		if (strncmp(ps, d->app, applen) || ps[applen] != '-' || strcmp(ps + applen + 1, cs))
			continue;
		if (!strstr(buf_str(names), cs))
			buf_printf(names, "%s%s", names->len ? ", " : "", cs);
	}
	json_object_put(list);
	return 0;
}

int action_durable_teardown(struct deploy_ctx *d, int remove_volumes, struct error *err)
{
	struct buf colors = BUF_INIT;
	_cleanup_env_state_ struct env_state *state = NULL;
	long long t0 = clock_ms();
	int rc = -1;

	if (running_colors(d, &colors, err) < 0)
		goto out;
	if (colors.len) {
		error_set(err, ERR_JOB,
			  "colors %s of env %s still run on its durable layer: clean them up first "
			  "(cleanup:<color> or executor cleanup <color>)",
			  buf_str(&colors), d->action.env);
		goto out;
	}
	if (stack_down(d->docker, d->durable_project, "durable", d->app, remove_volumes, err) < 0 ||
	    deploy_remove_files(d, d->durable_project, err) < 0)
		goto out;
	if (durable_state_load(d->state_root, d->action.env, &state, err) < 0)
		goto out;
	durable_state_clear_setup(state);
	durable_state_set_router(state, NULL, 0, 0);
	if (durable_state_save(d->state_root, d->action.env, state, err) < 0)
		goto out;
	if (remove_volumes) {
		/* the data is gone: the next setup starts over with new passwords */
		if (durable_secrets_remove(d->state_root, d->action.env, err) < 0)
			goto out;
		log_notice("Durable layer of env %s removed, with its data", d->action.env);
	} else {
		log_notice("Durable layer of env %s removed; its volumes (data) are kept",
			   d->action.env);
	}
	rc = 0;
out:
	deploy_history(d, rc == 0 ? DURABLE_RESULT_OK : DURABLE_RESULT_FAILED, clock_ms() - t0,
		       NULL,
		       rc == 0 ? (remove_volumes ? "removed with volumes" : "removed, volumes kept")
			       : err->msg);
	buf_release(&colors);
	return rc;
}

int action_durable_cleanup(struct deploy_ctx *d, const char *confirm, struct error *err)
{
	if (deploy_check_guard(d, err) < 0) {
		deploy_history(d, DURABLE_RESULT_REFUSED, 0, NULL, err->msg);
		return -1;
	}
	if (!confirm || strcmp(confirm, d->action.env)) {
		error_set(err, ERR_POLICY,
			  "refused: cleanup:durable-%s deletes the database of env %s. To confirm, "
			  "run the job with the variable EXECUTOR_CONFIRM_DESTROY=%s",
			  d->action.env, d->action.env, d->action.env);
		deploy_history(d, DURABLE_RESULT_REFUSED, 0, NULL, err->msg);
		return -1;
	}
	return action_durable_teardown(d, 1, err);
}
