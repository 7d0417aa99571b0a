/* SPDX-License-Identifier: MIT */
/* The colors of an env: deploy, promote, rollback, cleanup. */
#include <pthread.h>
#include <signal.h>
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
#include "stages/deploy.h"
#include "stages/probe.h"
#include "stages/route.h"
#include "stages/stack.h"
#include "stages/watch.h"

/* Answers in a row that verify a switch through the live entry: after the
 * router confirmed the new configuration a couple suffice; without that
 * confirmation (a template without {{generation}}) more ride out the reload. */
#define VERIFY_CONFIRMED   2
#define VERIFY_CONSECUTIVE 5

/* Something is at rel in the checkout.  A link that leads out of it counts
 * as there, so that loading it says so (fs_exists_beneath). */
static int file_exists(const struct deploy_ctx *d, const char *rel)
{
	return fs_exists_beneath(d->project_dir, rel) != 0;
}

static const char *label_value(const struct compose_service *svc, const char *key)
{
	size_t i;

	for (i = 0; i < svc->nlabels; i++)
		if (!strcmp(svc->labels[i].key, key))
			return svc->labels[i].value;
	return NULL;
}

/* The stack files of a color: EXECUTOR_COMPOSE_FILES (comma-separated), else
 * docker-compose.yml plus docker-compose.<color>.yml (blue may use the seed's
 * docker-compose.override.yml). */
static int color_files(const struct deploy_ctx *d, char files[][512], size_t *n, struct error *err)
{
	const char *list = vars_get(&d->vars, "EXECUTOR_COMPOSE_FILES");
	char overlay[512];

	*n = 0;
	if (list && *list) {
		_cleanup_free_ char *copy = strdup(list);
		char *save = NULL, *tok;

		for (tok = strtok_r(copy, ",:", &save); tok && *n < 8;
		     tok = strtok_r(NULL, ",:", &save)) {
			while (*tok == ' ')
				tok++;
			if (!*tok)
				continue;
			if (deploy_check_relpath("EXECUTOR_COMPOSE_FILES", tok, err) < 0)
				return -1;
			if (!file_exists(d, tok))
				return error_set(err, ERR_JOB,
						 "EXECUTOR_COMPOSE_FILES names %s, which is not in "
						 "the repository",
						 tok);
			snprintf(files[(*n)++], 512, "%s", tok);
		}
		return 0;
	}
	if (!file_exists(d, "docker-compose.yml"))
		return error_set(err, ERR_JOB,
				 "docker-compose.yml is missing in %s: the app stack (or set "
				 "EXECUTOR_COMPOSE_FILES)",
				 d->project_dir);
	snprintf(files[(*n)++], 512, "docker-compose.yml");
	snprintf(overlay, sizeof(overlay), "docker-compose.%s.yml", d->action.color);
	if (file_exists(d, overlay)) {
		snprintf(files[(*n)++], 512, "%s", overlay);
	} else if (!strcmp(d->action.color, "blue") &&
		   file_exists(d, "docker-compose.override.yml")) {
		snprintf(files[(*n)++], 512, "docker-compose.override.yml");
	} else {
		log_warn("no %s: color %s uses docker-compose.yml alone (its ports may clash "
			 "with another color)",
			 overlay, d->action.color);
	}
	return 0;
}

/* Routes the stack declares with io.executor.route.* labels. */
static json_object *stack_routes(const struct compose_project *p, struct error *err)
{
	json_object *routes = json_object_new_array();
	size_t i;

	for (i = 0; i < p->nservices; i++) {
		const struct compose_service *svc = &p->services[i];
		const char *path = label_value(svc, "io.executor.route.path");
		const char *port = label_value(svc, "io.executor.route.port");
		const char *scheme = label_value(svc, "io.executor.route.scheme");
		const char *health = label_value(svc, "io.executor.health.path");
		json_object *r;
		int portn;

		if (!path)
			continue;
		portn = port ? (int)strtol(port, NULL, 10) : 0;
		if (path[0] != '/' || portn <= 0 || portn > 65535 || strpbrk(path, " ;{}'\"\\$")) {
			json_object_put(routes);
			error_set(
				err, ERR_COMPOSE,
				"%s:%d: service %s: io.executor.route.path must start with / (no "
				"spaces, quotes, braces or ;) and io.executor.route.port must be a "
				"port",
				svc->file, svc->line, svc->name);
			return NULL;
		}
		if (scheme && strcmp(scheme, "http") && strcmp(scheme, "https")) {
			json_object_put(routes);
			error_set(
				err, ERR_COMPOSE,
				"%s:%d: service %s: io.executor.route.scheme must be http or https",
				svc->file, svc->line, svc->name);
			return NULL;
		}
		r = json_object_new_object();
		json_object_object_add(r, "service", json_object_new_string(svc->name));
		json_object_object_add(r, "path", json_object_new_string(path));
		json_object_object_add(r, "port", json_object_new_int(portn));
		json_object_object_add(r, "scheme",
				       json_object_new_string(scheme ? scheme : "http"));
		json_object_object_add(
			r, "health",
			json_object_new_string(health && health[0] == '/' ? health : "/"));
		json_object_array_add(routes, r);
	}
	return routes;
}

static json_object *stack_images(struct deploy_ctx *d, const struct compose_project *p)
{
	json_object *images = json_object_new_object();
	size_t i;

	for (i = 0; i < p->nservices; i++) {
		json_object *info = NULL, *v;
		struct error err = ERROR_INIT;
		const char *digest = NULL;

		if (docker_image_inspect(d->docker, p->services[i].image, &info, &err) == 0) {
			if (json_object_object_get_ex(info, "RepoDigests", &v) &&
			    json_object_array_length(v) > 0)
				digest = json_object_get_string(json_object_array_get_idx(v, 0));
			else if (json_object_object_get_ex(info, "Id", &v))
				digest = json_object_get_string(v);
		}
		durable_state_image_set(images, p->services[i].name, p->services[i].image, digest);
		json_object_put(info);
	}
	return images;
}

static json_object *stack_networks(const struct compose_project *p)
{
	json_object *nets = json_object_new_array();
	size_t i;

	for (i = 0; i < p->nnetworks; i++)
		if (!p->networks[i].external)
			json_object_array_add(nets, json_object_new_string(p->networks[i].name));
	return nets;
}

/* One route probed until it answers `need` times in a row (see probe_routes). */
struct route_probe {
	const char *ca, *entry, *color;
	char url[512];
	int port, need;
	long long deadline;
	int rc;
	char msg[900];
};

/* Through the live entry, an answer from the wanted color that is an error
 * is final after this many in a row: users get the same answers, so switch
 * back now rather than at the deadline.  Anything else (the old color, no
 * answer) is a reload still in progress and retried until the deadline, and
 * so is everything through the preview entry (a color just started). */
#define PROBE_DEFINITE_FAILURES 3

static void *probe_route(void *arg)
{
	struct route_probe *p = arg;
	int streak = 0, bad = 0;

	p->rc = 0;
	while (streak < p->need) {
		struct probe_result r;
		int right_color;

		probe_get(p->ca, p->port, p->url, 5000, &r);
		right_color = !r.error[0] && !strcmp(r.color, p->color);
		if (right_color && r.status >= 200 && r.status < 400) {
			streak++;
			bad = 0;
			probe_result_release(&r);
			continue;
		}
		streak = 0;
		bad = right_color && !strcmp(p->entry, "live") ? bad + 1 : 0;
		if (bad >= PROBE_DEFINITE_FAILURES || clock_ms() > p->deadline) {
			char body[200];
			size_t n;

			snprintf(body, sizeof(body), "%s", buf_str(&r.body));
			n = strlen(body);
			while (n &&
			       (body[n - 1] == '\n' || body[n - 1] == '\r' || body[n - 1] == ' '))
				body[--n] = '\0';
			if (r.error[0])
				snprintf(p->msg, sizeof(p->msg),
					 "%.300s through the %s entry: %.500s", p->url, p->entry,
					 r.error);
			else
				snprintf(p->msg, sizeof(p->msg),
					 "%.300s through the %s entry answered %ld from color "
					 "\"%.40s\" "
					 "(wanted %s)%s%s",
					 p->url, p->entry, r.status, r.color, p->color,
					 body[0] ? ": " : "", body);
			probe_result_release(&r);
			p->rc = -1;
			return NULL;
		}
		probe_result_release(&r);
		/* a reload takes effect within tens of ms: retry soon */
		usleep(25 * 1000);
	}
	return NULL;
}

/*
 * Probe every route of `color` through an entry of the router until each
 * answers below 400 with the color's header `need` times in a row; the
 * routes in parallel.
 */
static int probe_routes(struct deploy_ctx *d, json_object *state, const char *color,
			const char *entry, int need, int timeout_s, struct error *err)
{
	json_object *rec = durable_state_color(state, color), *routes = NULL;
	int port = route_router_port(state, !strcmp(entry, "live") ? "live_port" : "preview_port");
	long long deadline = clock_ms() + (long long)timeout_s * 1000;
	struct route_probe *p;
	pthread_t *th;
	int *started;
	size_t i, n;
	int rc = 0;

	if (rec)
		json_object_object_get_ex(rec, "routes", &routes);
	n = routes ? json_object_array_length(routes) : 0;
	if (!n) {
		log_info("Color %s declares no routes (io.executor.route.path labels): nothing "
			 "to probe through the %s entry",
			 color, entry);
		return 0;
	}
	if (port <= 0)
		return error_set(err, ERR_JOB,
				 "the router of env %s publishes no %s port (443 / 1443 in the "
				 "container)",
				 d->action.env, entry);
	p = calloc(n, sizeof(*p));
	th = calloc(n, sizeof(*th));
	started = calloc(n, sizeof(*started));
	if (!p || !th || !started) {
		free(p);
		free(th);
		free(started);
		return error_set(err, ERR_SYSTEM, "out of memory");
	}
	for (i = 0; i < n; i++) {
		p[i].ca = d->tls.ca_cert;
		p[i].entry = entry;
		p[i].color = color;
		p[i].port = port;
		p[i].need = need;
		p[i].deadline = deadline;
		route_health_url(p[i].url, sizeof(p[i].url), json_object_array_get_idx(routes, i));
		started[i] = n > 1 && pthread_create(&th[i], NULL, probe_route, &p[i]) == 0;
		if (!started[i])
			probe_route(&p[i]);
	}
	for (i = 0; i < n; i++) {
		if (started[i])
			pthread_join(th[i], NULL);
		if (p[i].rc < 0 && rc == 0) {
			error_set(err, ERR_HEALTH, "%s", p[i].msg);
			rc = -1;
		} else if (p[i].rc == 0) {
			log_info("  https://localhost:%d%s answers from %s", port, p[i].url, color);
		}
	}
	free(p);
	free(th);
	free(started);
	return rc;
}

static int load_state(struct deploy_ctx *d, json_object **state, struct error *err)
{
	if (durable_state_load(d->state_root, d->action.env, state, err) < 0)
		return -1;
	if (!durable_state_setup_at(*state) || !route_router_container(*state))
		return error_set(err, ERR_JOB,
				 "the durable layer of env %s is not set up: run durable:setup-%s "
				 "(or executor durable setup %s) first",
				 d->action.env, d->action.env, d->action.env);
	/* the probes verify against the env's CA: load it (same names, no reissue) */
	return deploy_ensure_tls(d, *state, NULL, err);
}

int action_deploy(struct deploy_ctx *d, const char *dotenv_path, struct error *err)
{
	char files[8][512];
	const char *fptr[8];
	char joined[4096] = "", project[160], tlsdir[4096];
	const char *roots[3];
	size_t nfiles = 0, i;
	struct compose_project *p = NULL;
	struct stack_report rep = {0};
	struct stack s = {0};
	json_object *state = NULL, *routes = NULL, *images = NULL, *rec;
	const char *old_preview;
	char *prev_preview = NULL;
	long long t0 = clock_ms();
	int rc = -1, switched = 0, touched = 0;

	if (load_state(d, &state, err) < 0)
		goto out;
	if (durable_state_live(state) && !strcmp(durable_state_live(state), d->action.color)) {
		error_set(err, ERR_JOB,
			  "%s is the live color of env %s: deploying over it would drop live "
			  "traffic. Deploy the other color, or promote another color first",
			  d->action.color, d->action.env);
		goto out;
	}
	{
		int weight = 0;
		const char *canary = durable_state_canary(state, &weight);

		if (canary && !strcmp(canary, d->action.color)) {
			error_set(err, ERR_JOB,
				  "%s takes %d%% of the live clients of env %s in a canary: "
				  "finish it (promote with EXECUTOR_PROMOTE=full) or abort it "
				  "(EXECUTOR_PROMOTE=abort) before deploying %s again",
				  d->action.color, weight, d->action.env, d->action.color);
			goto out;
		}
	}
	if (color_files(d, files, &nfiles, err) < 0)
		goto out;
	for (i = 0; i < nfiles; i++) {
		fptr[i] = files[i];
		snprintf(joined + strlen(joined), sizeof(joined) - strlen(joined), "%s%s",
			 i ? "," : "", files[i]);
	}
	snprintf(project, sizeof(project), "%s-%s", d->app, d->action.color);
	if (deploy_load_stack(d, fptr, nfiles, project, &p, err) < 0)
		goto out;
	routes = stack_routes(p, err);
	if (!routes)
		goto out;

	snprintf(tlsdir, sizeof(tlsdir), "%s/tls", d->env_dir);
	roots[0] = tlsdir;
	roots[1] = NULL;
	deploy_stack_init(d, &s, p, joined, roots);
	/* a stack the policy refuses changes nothing, not even the certificate */
	if (stack_check(&s, err) < 0 || deploy_ensure_tls(d, state, p, err) < 0)
		goto out;

	gitlab_section_start(stderr, "deploy", "Deploying the color", 0);
	log_info("Deploying %s to env %s: project %s from %s%s%.12s", d->action.color,
		 d->action.env, project, joined, d->commit[0] ? " at " : "", d->commit);
	touched = 1; /* from here on a failure leaves the color's containers changed */
	if (stack_up(&s, &rep, err) < 0 || stack_wait_healthy(&s, err) < 0) {
		gitlab_section_end(stderr, "deploy");
		goto out;
	}
	gitlab_section_end(stderr, "deploy");
	log_info("Every container of %s is running and healthy (%d created, %d replaced, %d "
		 "unchanged)",
		 project, rep.created, rep.replaced, rep.unchanged);

	images = stack_images(d, p);
	{
		struct durable_color_record r = {0};

		r.commit = d->commit[0] ? d->commit : NULL;
		r.ref = d->job && d->job->ref ? d->job->ref
					      : vars_get(&d->vars, "CI_COMMIT_REF_NAME");
		r.images = images;
		r.status = "healthy";
		if (durable_state_set_color(state, d->action.color, &r, err) < 0)
			goto out;
	}
	rec = durable_state_color(state, d->action.color);
	json_object_object_add(rec, "routes", json_object_get(routes));
	json_object_object_add(rec, "networks", stack_networks(p));
	json_object_object_add(rec, "project", json_object_new_string(project));

	/* point the preview entry at the candidate and probe through it */
	old_preview = durable_state_preview(state);
	prev_preview = old_preview ? strdup(old_preview) : NULL;
	gitlab_section_start(stderr, "preview", "Pointing the preview entry at the candidate", 0);
	if (route_apply(d, state, durable_state_live(state), d->action.color, err) < 0) {
		gitlab_section_end(stderr, "preview");
		goto out;
	}
	switched = 1;
	if (probe_routes(d, state, d->action.color, "preview", 3, 60, err) < 0) {
		gitlab_section_end(stderr, "preview");
		goto out;
	}
	gitlab_section_end(stderr, "preview");
	durable_state_set_preview(state, d->action.color);
	if (durable_state_save(d->state_root, d->action.env, state, err) < 0)
		goto out;

	if (dotenv_path) {
		char url[128], live[128];
		const char *kv[16];
		int n = 0;

		/* not EXECUTOR_*: jobs that need this one inherit the report, and
		 * must not have their own action variables overridden */
		snprintf(url, sizeof(url), "https://localhost:%d/",
			 route_router_port(state, "preview_port"));
		snprintf(live, sizeof(live), "https://localhost:%d/",
			 route_router_port(state, "live_port"));
		kv[n++] = "ENVIRONMENT_URL";
		kv[n++] = url;
		kv[n++] = "PREVIEW_URL";
		kv[n++] = url;
		kv[n++] = "LIVE_URL";
		kv[n++] = live;
		kv[n++] = "DEPLOYED_ENV";
		kv[n++] = d->action.env;
		kv[n++] = "DEPLOYED_COLOR";
		kv[n++] = d->action.color;
		kv[n++] = "DEPLOYED_COMMIT";
		kv[n++] = d->commit;
		kv[n++] = NULL;
		kv[n] = NULL;
		if (gitlab_dotenv_write(dotenv_path, kv, err) < 0)
			goto out;
	}
	log_notice("Color %s of env %s is deployed and healthy; the preview entry "
		   "https://localhost:%d/ serves it. Promote it with promote:%s",
		   d->action.color, d->action.env, route_router_port(state, "preview_port"),
		   d->action.color);
	rc = 0;
out:
	/* a deploy refused or failed before it touched the color (the live color,
	 * bad stack files) leaves the color's record as it was */
	if (rc < 0 && touched && state && durable_state_color(state, d->action.color)) {
		struct error e2 = ERROR_INIT;

		durable_state_set_color_status(state, d->action.color, "unhealthy", &e2);
		if (switched) {
			/* the preview entry goes back to what it served */
			if (route_apply(d, state, durable_state_live(state), prev_preview, &e2) < 0)
				log_warn("could not restore the preview entry: %s", e2.msg);
		}
		durable_state_save(d->state_root, d->action.env, state, &e2);
	}
	if (rc < 0 && err->cls == ERR_HEALTH)
		log_error("The deployment of %s is unhealthy; the live color is untouched",
			  d->action.color);
	deploy_history(d, rc == 0 ? DURABLE_RESULT_OK : DURABLE_RESULT_FAILED, clock_ms() - t0,
		       images, rc == 0 ? "deployed" : err->msg);
	free(prev_preview);
	json_object_put(images);
	json_object_put(routes);
	json_object_put(state);
	compose_project_free(p);
	stack_report_release(&rep);
	return rc;
}

/* Every container of the color is running, and healthy where it checks: 0;
 * -1 when not; 1 (err set) when the only trouble is a health check still
 * starting. */
static int color_health_once(struct deploy_ctx *d, const char *color, struct error *err)
{
	char project[160];
	json_object *list = NULL;
	size_t i, n;

	snprintf(project, sizeof(project), "%s-%s", d->app, color);
	if (stack_containers(d->docker, project, &list, err) < 0)
		return -1;
	n = json_object_array_length(list);
	if (!n) {
		json_object_put(list);
		return error_set(err, ERR_JOB, "color %s of env %s is not running: deploy:%s first",
				 color, d->action.env, color);
	}
	for (i = 0; i < n; i++) {
		json_object *c = json_object_array_get_idx(list, i), *st, *names;
		const char *status = "";
		const char *name = "?";

		if (json_object_object_get_ex(c, "Status", &st))
			status = json_object_get_string(st);
		if (json_object_object_get_ex(c, "Names", &names) &&
		    json_object_array_length(names))
			name = json_object_get_string(json_object_array_get_idx(names, 0));
		if (strncmp(status, "Up", 2) || strstr(status, "unhealthy") ||
		    strstr(status, "starting")) {
			int starting = !strncmp(status, "Up", 2) && strstr(status, "starting");

			error_set(err, ERR_HEALTH, "%s of color %s is not healthy (%s)",
				  name[0] == '/' ? name + 1 : name, color, status);
			json_object_put(list);
			return starting ? 1 : -1;
		}
	}
	json_object_put(list);
	return 0;
}

/* color_health_once(), waiting for health checks that are still starting (the
 * color came back with a restarted engine, say) up to COLOR_STARTING_WAIT_S. */
#define COLOR_STARTING_WAIT_S 60
static int color_healthy(struct deploy_ctx *d, const char *color, struct error *err)
{
	int waited, rc;

	for (waited = 0;; waited++) {
		rc = color_health_once(d, color, err);
		if (rc <= 0 || waited >= COLOR_STARTING_WAIT_S)
			return rc < 0 ? rc : rc ? -1 : 0;
		if (!waited)
			log_info("%s; waiting for its health check", err->msg);
		error_clear(err);
		sleep(1);
	}
}

/* ---- promote: the switch, the watch, the canary steps ---- */

/* How a promote goes, from the job's variables and the admin's defaults. */
struct promote_plan {
	int steps[8];
	int nsteps; /* 0: straight to 100% */
	int pause;  /* seconds of watch at each canary step */
	struct watch_opts watch;
	char steps_text[64];
};

static int var_int(struct deploy_ctx *d, const char *name, int min, int max, int *out,
		   struct error *err)
{
	const char *v = vars_get(&d->vars, name);
	char *end;
	long n;

	if (!v || !*v)
		return 0;
	n = strtol(v, &end, 10);
	if (end == v || *end || n < min || n > max)
		return error_set(err, ERR_JOB,
				 "%s must be a whole number from %d to %d, not \"%.40s\"", name,
				 min, max, v);
	*out = (int)n;
	return 0;
}

static int read_plan(struct deploy_ctx *d, struct promote_plan *p, struct error *err)
{
	const char *rate = vars_get(&d->vars, "EXECUTOR_WATCH_MAX_ERROR_RATE");
	const char *steps = vars_get(&d->vars, "EXECUTOR_CANARY_STEPS");

	memset(p, 0, sizeof(*p));
	p->watch.seconds = d->cfg->watch_seconds;
	p->watch.max_error_rate = d->cfg->watch_max_error_rate;
	p->watch.max_probe_failures = d->cfg->watch_probe_failures;
	p->pause = 60;
	if (var_int(d, "EXECUTOR_WATCH_SECONDS", 0, 86400, &p->watch.seconds, err) < 0 ||
	    var_int(d, "EXECUTOR_WATCH_PROBE_FAILURES", 1, 1000, &p->watch.max_probe_failures,
		    err) < 0 ||
	    var_int(d, "EXECUTOR_CANARY_PAUSE_SECONDS", 0, 86400, &p->pause, err) < 0)
		return -1;
	if (rate && *rate && config_parse_rate(rate, &p->watch.max_error_rate) < 0)
		return error_set(err, ERR_JOB,
				 "EXECUTOR_WATCH_MAX_ERROR_RATE must be a share from 0 to 1 (0.05) "
				 "or a percentage (5%%), not \"%.40s\"",
				 rate);
	if (steps && *steps && d->action.control == PROMOTE_STEPS) {
		if (watch_parse_steps(steps, p->steps, 8, &p->nsteps, err) < 0)
			return -1;
		snprintf(p->steps_text, sizeof(p->steps_text), "%s", steps);
	}
	return 0;
}

static volatile sig_atomic_t promote_canceled;

static void on_promote_signal(int sig)
{
	(void)sig;
	promote_canceled = 1;
}

/* While a watch runs, SIGTERM / SIGINT (the job canceled) end it the safe way. */
static void promote_signals(int on, struct sigaction *saved)
{
	struct sigaction sa = {0};

	if (on) {
		sa.sa_handler = on_promote_signal;
		sigemptyset(&sa.sa_mask);
		sigaction(SIGTERM, &sa, &saved[0]);
		sigaction(SIGINT, &sa, &saved[1]);
	} else {
		sigaction(SIGTERM, &saved[0], NULL);
		sigaction(SIGINT, &saved[1], NULL);
	}
}

static int outcome_error(enum watch_outcome o, struct buf *reason, const char *then,
			 struct error *err)
{
	switch (o) {
	case WATCH_ABORT:
		return error_set(err, ERR_JOB, "%s; %s", buf_str(reason), then);
	case WATCH_CANCELED:
		return error_set(err, ERR_CANCELED, "%s; %s", buf_str(reason), then);
	default:
		return error_set(err, ERR_HEALTH, "%s; %s", buf_str(reason), then);
	}
}

/* Drop the watch's log lines from the router file; a failure only warns
 * (the routing itself is what it should be). */
static void watch_log_off(struct deploy_ctx *d, json_object *state, const char *live,
			  const char *preview)
{
	struct error e2 = ERROR_INIT;

	d->router_watch = 0;
	if (route_apply(d, state, live, preview, &e2) < 0)
		log_warn("could not turn the router's watch log off: %s", e2.msg);
}

/*
 * Switch the live entry to `target`; the color that was live becomes the
 * preview.  Verified through the live entry; switched back on failure.  With
 * a watch (w != NULL, o->seconds > 0) the live entry is watched after the
 * switch and switched back when the watch fails.  *rolled_back tells the
 * history what happened.
 */
static int switch_live(struct deploy_ctx *d, json_object *state, const char *target,
		       const char *what, struct watch *w, const struct watch_opts *o,
		       int *rolled_back, struct error *err)
{
	const char *cur = durable_state_live(state);
	char *old_live = cur ? strdup(cur) : NULL;
	char *old_preview =
		durable_state_preview(state) ? strdup(durable_state_preview(state)) : NULL;
	long long t0 = clock_ms();
	int rc = -1, watching = w && o && o->seconds > 0, confirmed;
	struct buf reason = BUF_INIT;

	gitlab_section_start(stderr, "switch", "Switching live traffic", 0);
	log_info("Switching the live entry of env %s: %s -> %s", d->action.env,
		 old_live ? old_live : "(none)", target);
	d->router_watch = watching;
	confirmed = route_apply(d, state, target, old_live, err);
	if (confirmed < 0)
		goto out;
	if (probe_routes(d, state, target, "live",
			 confirmed ? VERIFY_CONFIRMED : VERIFY_CONSECUTIVE, 30, err) < 0) {
		struct error e2 = ERROR_INIT;

		log_error("The live entry does not answer from %s: switching back to %s", target,
			  old_live ? old_live : "(none)");
		d->router_watch = 0;
		if (route_apply(d, state, old_live, old_preview, &e2) < 0)
			log_error("switching back failed too: %s", e2.msg);
		goto out;
	}
	durable_state_set_live(state, target);
	durable_state_set_preview(state, old_live);
	durable_state_set_canary(state, NULL, 0, NULL);
	if (durable_state_save(d->state_root, d->action.env, state, err) < 0)
		goto out;
	log_notice("%s: %s is live in env %s (switched in %lld ms; %s stays running for "
		   "rollback)",
		   what, target, d->action.env, clock_ms() - t0, old_live ? old_live : "nothing");
	if (watching) {
		enum watch_outcome out;
		struct watch_opts wo = *o;
		struct buf fig = BUF_INIT;

		wo.entry = "live";
		wo.what = "after the switch";
		out = watch_run(w, d, state, &wo, &reason);
		watch_figures(w, &fig);
		if (out == WATCH_QUIET || out == WATCH_FULL) {
			log_notice("The watch after the switch passed: %s", buf_str(&fig));
			buf_release(&fig);
			watch_log_off(d, state, target, old_live);
		} else if (!old_live) {
			buf_release(&fig);
			d->router_watch = 0;
			route_apply(d, state, target, NULL, &(struct error)ERROR_INIT);
			outcome_error(out, &reason,
				      "no color was live before, so there is nothing to switch "
				      "back to",
				      err);
			goto out;
		} else {
			struct error e2 = ERROR_INIT;

			log_error("The watch after the switch failed; figures: %s", buf_str(&fig));
			buf_release(&fig);
			log_error("Switching the live entry back to %s", old_live);
			d->router_watch = 0;
			confirmed = route_apply(d, state, old_live, target, &e2);
			if (confirmed < 0 ||
			    probe_routes(d, state, old_live, "live",
					 confirmed ? VERIFY_CONFIRMED : VERIFY_CONSECUTIVE, 30,
					 &e2) < 0) {
				error_set(err, ERR_HEALTH,
					  "%s; switching back to %s failed too: %s",
					  buf_str(&reason), old_live, e2.msg);
				goto out;
			}
			durable_state_set_live(state, old_live);
			durable_state_set_preview(state, target);
			durable_state_save(d->state_root, d->action.env, state, &e2);
			*rolled_back = 1;
			{
				char then[96];

				snprintf(then, sizeof(then), "switched back to %s", old_live);
				outcome_error(out, &reason, then, err);
			}
			log_notice("Rolled back automatically: %s is live again in env %s",
				   old_live, d->action.env);
			goto out;
		}
	}
	rc = 0;
out:
	gitlab_section_end(stderr, "switch");
	buf_release(&reason);
	free(old_live);
	free(old_preview);
	return rc;
}

/* Back to 0%: the live color serves every client again. */
static int canary_reset(struct deploy_ctx *d, json_object *state, const char *target,
			struct error *err)
{
	durable_state_set_canary(state, NULL, 0, NULL);
	d->router_watch = 0;
	if (route_apply(d, state, durable_state_live(state), target, err) < 0)
		return -1;
	return durable_state_save(d->state_root, d->action.env, state, err);
}

/*
 * The canary steps below 100%: for each, shift that share of the live
 * entry's clients to `target` and watch for the pause.  *full is set when the
 * steps reach 100% (or an operator asks for it): the caller switches fully.
 */
static int canary_steps(struct deploy_ctx *d, json_object *state, const char *target,
			const struct promote_plan *p, struct watch *w, int *full, int *rolled_back,
			struct error *err)
{
	int weight = 0, i;
	const char *cur = durable_state_canary(state, &weight);

	if (!cur || strcmp(cur, target))
		weight = 0;
	*full = 0;
	for (i = 0; i < p->nsteps; i++) {
		int step = p->steps[i];
		char what[64];
		struct buf reason = BUF_INIT;
		enum watch_outcome out = WATCH_QUIET;

		if (step <= weight)
			continue; /* a step an earlier run already took */
		if (step == 100) {
			*full = 1;
			return 0;
		}
		if (durable_state_set_canary(state, target, step, p->steps_text) < 0)
			return error_set(err, ERR_SYSTEM, "out of memory");
		d->router_watch = p->pause > 0;
		if (route_apply(d, state, durable_state_live(state), target, err) < 0) {
			durable_state_set_canary(state, weight ? target : NULL, weight,
						 p->steps_text);
			return -1;
		}
		if (durable_state_save(d->state_root, d->action.env, state, err) < 0)
			return -1;
		log_notice("Canary: %d%% of the live entry's clients now go to %s, %d%% stay on %s",
			   step, target, 100 - step, durable_state_live(state));
		weight = step;
		if (p->pause > 0) {
			struct watch_opts wo = p->watch;

			wo.seconds = p->pause;
			wo.entry = "preview";
			snprintf(what, sizeof(what), "at %d%%", step);
			wo.what = what;
			out = watch_run(w, d, state, &wo, &reason);
		}
		if (out == WATCH_QUIET) {
			if (p->pause > 0) {
				struct buf fig = BUF_INIT;

				watch_figures(w, &fig);
				log_info("The watch at %d%% passed: %s", step, buf_str(&fig));
				buf_release(&fig);
			}
			buf_release(&reason);
			continue;
		}
		if (out == WATCH_FULL) {
			buf_release(&reason);
			*full = 1;
			return 0;
		}
		{
			struct buf fig = BUF_INIT;
			struct error e2 = ERROR_INIT;

			watch_figures(w, &fig);
			log_error("The canary of %s at %d%% ends; figures: %s", target, step,
				  buf_str(&fig));
			buf_release(&fig);
			if (canary_reset(d, state, target, &e2) < 0) {
				error_set(err, ERR_HEALTH,
					  "%s; taking the canary back to 0%% failed too: %s",
					  buf_str(&reason), e2.msg);
				buf_release(&reason);
				return -1;
			}
			*rolled_back = out == WATCH_FAILED;
			outcome_error(out, &reason, "every client is back on the live color", err);
			log_notice("Canary back to 0%%: %s serves every client of env %s",
				   durable_state_live(state), d->action.env);
			buf_release(&reason);
			return -1;
		}
	}
	if (weight == 100 || (p->nsteps && p->steps[p->nsteps - 1] == 100)) {
		*full = 1;
		return 0;
	}
	if (p->pause > 0)
		watch_log_off(d, state, durable_state_live(state), target);
	log_notice("The canary rests at %d%% of live clients on %s: promote again to go on "
		   "(EXECUTOR_CANARY_STEPS), with EXECUTOR_PROMOTE=full (--full) to finish or "
		   "EXECUTOR_PROMOTE=abort (--abort) to go back to 0%%",
		   weight, target);
	return 0;
}

int action_promote(struct deploy_ctx *d, struct error *err)
{
	json_object *state = NULL;
	const char *target, *canary;
	char color[ACTION_NAME_MAX];
	long long t0 = clock_ms();
	struct promote_plan plan;
	struct watch w;
	struct sigaction saved[2];
	const char *result, *message = NULL;
	_cleanup_free_ char *control = NULL;
	int rc = -1, weight = 0, full = 1, rolled_back = 0, watching = 0;
	char note[160] = "";

	if (d->handed_over) {
		log_notice("The running promote of env %s took the %s", d->action.env,
			   d->action.control == PROMOTE_ABORT ? "abort" : "request to finish");
		return 0;
	}
	if (deploy_check_guard(d, err) < 0) {
		deploy_history(d, DURABLE_RESULT_REFUSED, 0, NULL, err->msg);
		return -1;
	}
	if (read_plan(d, &plan, err) < 0 || load_state(d, &state, err) < 0)
		goto out;
	canary = durable_state_canary(state, &weight);
	if (d->action.control == PROMOTE_ABORT) {
		if (!canary) {
			log_notice("No canary runs in env %s: nothing to abort", d->action.env);
			rc = 0;
			message = "no canary to abort";
			goto out;
		}
		snprintf(d->action.color, sizeof(d->action.color), "%s", canary);
		snprintf(note, sizeof(note), "canary of %s aborted at %d%%", canary, weight);
		if (canary_reset(d, state, d->action.color, err) < 0)
			goto out;
		log_notice("Canary aborted: %s serves every client of env %s again; %s stays in "
			   "preview",
			   durable_state_live(state), d->action.env, d->action.color);
		rc = 0;
		message = note;
		goto out;
	}
	target = d->action.color[0] ? d->action.color
				    : (canary ? canary : durable_state_preview(state));
	if (!target) {
		error_set(err, ERR_JOB,
			  "nothing to promote in env %s: no color is in preview; "
			  "deploy one first",
			  d->action.env);
		goto out;
	}
	snprintf(color, sizeof(color), "%s", target);
	snprintf(d->action.color, sizeof(d->action.color), "%s", color);
	if (!durable_state_color(state, color)) {
		error_set(err, ERR_JOB, "color %s was never deployed to env %s: deploy:%s first",
			  color, d->action.env, color);
		goto out;
	}
	if (durable_state_live(state) && !strcmp(durable_state_live(state), color)) {
		log_notice("%s is already live in env %s; nothing to do", color, d->action.env);
		rc = 0;
		goto out;
	}
	if (color_healthy(d, color, err) < 0)
		goto out;
	/* re-check the candidate through the preview entry before the switch;
	 * the router's file may say otherwise than the state when an earlier
	 * action was killed between the two: then it is applied again */
	if (!durable_state_preview(state) || strcmp(durable_state_preview(state), color) ||
	    !route_in_place(d, state, durable_state_live(state), color)) {
		durable_state_set_canary(state, NULL, 0, NULL);
		if (route_apply(d, state, durable_state_live(state), color, err) < 0)
			goto out;
		durable_state_set_preview(state, color);
	}
	if (probe_routes(d, state, color, "preview", 1, 30, err) < 0)
		goto out;
	watching = (plan.nsteps && plan.pause > 0 && durable_state_live(state)) ||
		   plan.watch.seconds > 0;
	if (watching) {
		promote_canceled = 0;
		d->cancel = &promote_canceled;
		promote_signals(1, saved);
		watch_begin(&w, d, state, color);
		if (asprintf(&control, "%s/%s", d->env_dir, WATCH_CONTROL_FILE) > 0) {
			unlink(control); /* a command nobody took before this promote */
			plan.watch.control = control;
		}
	}
	if (plan.nsteps && durable_state_live(state)) {
		if (canary_steps(d, state, color, &plan, &w, &full, &rolled_back, err) < 0)
			goto out_watch;
		if (!full) {
			durable_state_canary(state, &weight);
			snprintf(note, sizeof(note), "canary: %s at %d%% of live clients", color,
				 weight);
			message = note;
		}
	} else if (plan.nsteps) {
		log_info("No color is live in env %s: no canary, %s takes all traffic",
			 d->action.env, color);
	}
	if (full && switch_live(d, state, color, "Promoted", watching ? &w : NULL, &plan.watch,
				&rolled_back, err) < 0)
		goto out_watch;
	rc = 0;
out_watch:
	if (watching) {
		watch_end(&w);
		promote_signals(0, saved);
		d->cancel = NULL;
	}
out:
	result = rc == 0 ? DURABLE_RESULT_OK
			 : (rolled_back ? DURABLE_RESULT_ROLLED_BACK : DURABLE_RESULT_FAILED);
	if (!message)
		message = rc < 0 ? err->msg : "promoted";
	deploy_history(d, result, clock_ms() - t0, NULL, message);
	json_object_put(state);
	return rc;
}

int action_rollback(struct deploy_ctx *d, struct error *err)
{
	json_object *state = NULL;
	long long t0 = clock_ms();
	int rc = -1;

	if (deploy_check_guard(d, err) < 0) {
		deploy_history(d, DURABLE_RESULT_REFUSED, 0, NULL, err->msg);
		return -1;
	}
	if (load_state(d, &state, err) < 0)
		goto out;
	if (durable_state_live(state) && !strcmp(durable_state_live(state), d->action.color)) {
		int weight = 0;
		const char *canary = durable_state_canary(state, &weight);

		if (canary) {
			/* back to the live color: the canary's clients too */
			char cand[ACTION_NAME_MAX];

			snprintf(cand, sizeof(cand), "%s", canary);
			if (canary_reset(d, state, cand, err) < 0)
				goto out;
			log_notice("Rolled back the canary: %s (was %d%% of live clients) serves "
				   "no live traffic; %s serves every client of env %s",
				   cand, weight, d->action.color, d->action.env);
			rc = 0;
			goto out;
		}
		log_notice("%s is already live in env %s; nothing to roll back", d->action.color,
			   d->action.env);
		rc = 0;
		goto out;
	}
	if (!durable_state_color(state, d->action.color)) {
		error_set(err, ERR_JOB, "cannot roll back to %s: it was never deployed to env %s",
			  d->action.color, d->action.env);
		goto out;
	}
	if (color_healthy(d, d->action.color, err) < 0) {
		error_wrap(err, "cannot roll back to %s", d->action.color);
		goto out;
	}
	if (switch_live(d, state, d->action.color, "Rolled back", NULL, NULL, &(int){0}, err) < 0)
		goto out;
	rc = 0;
out:
	deploy_history(d, rc == 0 ? DURABLE_RESULT_OK : DURABLE_RESULT_FAILED, clock_ms() - t0,
		       NULL, rc == 0 ? "rolled back" : err->msg);
	json_object_put(state);
	return rc;
}

int action_color_cleanup(struct deploy_ctx *d, struct error *err)
{
	json_object *state = NULL;
	char project[160];
	long long t0 = clock_ms();
	int rc = -1;

	if (durable_state_load(d->state_root, d->action.env, &state, err) < 0)
		goto out;
	if (durable_state_live(state) && !strcmp(durable_state_live(state), d->action.color)) {
		if (!d->force) {
			error_set(err, ERR_JOB,
				  "%s is the live color of env %s: cleaning it up would take the "
				  "site down. Promote or roll back to another color first (or, to "
				  "retire the env, executor cleanup %s --force)",
				  d->action.color, d->action.env, d->action.color);
			goto out;
		}
		log_warn("%s is live in env %s: the live entry will answer 503", d->action.color,
			 d->action.env);
	}
	snprintf(project, sizeof(project), "%s-%s", d->app, d->action.color);
	if (route_router_container(state) &&
	    ((durable_state_preview(state) &&
	      !strcmp(durable_state_preview(state), d->action.color)) ||
	     (durable_state_live(state) && !strcmp(durable_state_live(state), d->action.color)))) {
		/* stop routing to it before it goes away */
		const char *live = durable_state_live(state);
		const char *preview = durable_state_preview(state);

		if (live && !strcmp(live, d->action.color))
			live = NULL;
		if (preview && !strcmp(preview, d->action.color))
			preview = NULL;
		if (route_apply(d, state, live, preview, err) < 0) {
			struct error e2 = ERROR_INIT;

			/* a router that is gone routes nothing: go on */
			if (docker_container_inspect(d->docker, route_router_container(state), NULL,
						     &e2) == 0 ||
			    e2.code != 404)
				goto out;
			error_clear(err);
		}
	}
	if (stack_down(d->docker, project, "color", d->app, 0, err) < 0 ||
	    deploy_remove_files(d, project, err) < 0)
		goto out;
	durable_state_remove_color(state, d->action.color);
	if (durable_state_save(d->state_root, d->action.env, state, err) < 0)
		goto out;
	log_notice("Color %s of env %s removed; durable resources untouched", d->action.color,
		   d->action.env);
	rc = 0;
out:
	deploy_history(d, rc == 0 ? DURABLE_RESULT_OK : DURABLE_RESULT_FAILED, clock_ms() - t0,
		       NULL, rc == 0 ? "removed" : err->msg);
	json_object_put(state);
	return rc;
}
