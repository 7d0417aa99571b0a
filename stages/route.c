/* SPDX-License-Identifier: MIT */
/* The router's configuration, derived from the env's state. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/clock.h"
#include "common/fs.h"
#include "common/log.h"
#include "durable/router.h"
#include "durable/state.h"
#include "stages/names.h"
#include "stages/probe.h"
#include "stages/route.h"

static int target_from_state(const struct deploy_ctx *d, struct env_state *state, const char *color,
			     struct router_target *t, char *project, size_t psize,
			     struct router_route **routes)
{
	struct env_color rec;

	memset(t, 0, sizeof(*t));
	*routes = NULL;
	if (!color || !durable_state_color(state, color, &rec))
		return 0;
	if (router_routes_from_json(rec.routes, routes, &t->nroutes) < 0)
		return -1;
	names_color_project(d->app, color, project, psize);
	t->color = color;
	t->project = project;
	t->routes = *routes;
	return 0;
}

int route_generation_of(const char *text, char *out, size_t size)
{
	const char *p;

	/* "g" digits "-" digits, as new_generation() writes it */
	for (p = text ? strchr(text, 'g') : NULL; p; p = strchr(p + 1, 'g')) {
		size_t a = strspn(p + 1, "0123456789"), b;

		if (a < 10 || p[1 + a] != '-')
			continue;
		b = strspn(p + 2 + a, "0123456789");
		if (!b || 2 + a + b >= size)
			continue;
		memcpy(out, p, 2 + a + b);
		out[2 + a + b] = '\0';
		return 0;
	}
	return -1;
}

/* A new value for {{generation}}: wall-clock microseconds and the pid. */
static void new_generation(char *out, size_t size)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	snprintf(out, size, "g%lld%06ld-%d", (long long)ts.tv_sec, ts.tv_nsec / 1000,
		 (int)getpid());
}

int route_render_as(const struct deploy_ctx *d, struct env_state *state, const char *live,
		    const char *preview, enum route_watch watch, const char *generation,
		    struct buf *out, struct error *err)
{
	struct router_target lt, pt;
	struct router_route *lr = NULL, *pr = NULL;
	char lp[NAMES_PROJECT_MAX], pp[NAMES_PROJECT_MAX];
	/* chosen once per action (deploy_ctx_init): a protected ref's */
	const char *tpl_text = d->have_router_template ? buf_str(&d->router_template) : NULL;
	int rc;

	if (target_from_state(d, state, live, &lt, lp, sizeof(lp), &lr) < 0 ||
	    target_from_state(d, state, preview, &pt, pp, sizeof(pp), &pr) < 0) {
		free(lr);
		free(pr);
		return error_set(err, ERR_SYSTEM, "out of memory");
	}
	{
		struct router_view v = {.live = &lt,
					.preview = &pt,
					.watch_log = watch == ROUTE_WATCHED,
					.generation = generation};
		const char *canary = durable_state_canary(state, &v.canary_weight);

		/* the split of the state, when these entries are the ones it splits */
		if (!canary || !live || !preview || strcmp(canary, preview))
			v.canary_weight = 0;
		rc = router_render(tpl_text, d->action.env, &v, out, err);
	}
	free(lr);
	free(pr);
	return rc;
}

int route_in_place(const struct deploy_ctx *d, struct env_state *state, const char *live,
		   const char *preview)
{
	_cleanup_free_ char *path = NULL;
	struct buf cur = BUF_INIT, text = BUF_INIT;
	struct error e = ERROR_INIT;
	char gen[64];
	int same;

	if (asprintf(&path, "%s/%s", d->router_dir, ROUTER_FILE) < 0) {
		path = NULL;
		return 0;
	}
	same = fs_read_file(path, &cur, 4 << 20, &e) == 0 &&
	       route_generation_of(buf_str(&cur), gen, sizeof(gen)) == 0 &&
	       route_render_as(d, state, live, preview, ROUTE_UNWATCHED, gen, &text, &e) == 0 &&
	       !strcmp(buf_str(&text), buf_str(&cur));
	buf_release(&cur);
	buf_release(&text);
	return same;
}

void route_health_url(char *out, size_t size, json_object *route)
{
	json_object *p = NULL, *h = NULL;
	const char *path, *health;
	size_t n;

	json_object_object_get_ex(route, "path", &p);
	json_object_object_get_ex(route, "health", &h);
	path = p ? json_object_get_string(p) : "/";
	health = h ? json_object_get_string(h) : "/";
	n = strlen(path);
	if (n && path[n - 1] == '/' && health[0] == '/')
		health++;
	snprintf(out, size, "%s%s", path, health);
}

int route_render(const struct deploy_ctx *d, struct env_state *state, const char *live,
		 const char *preview, struct buf *out, struct error *err)
{
	char gen[64];

	new_generation(gen, sizeof(gen));
	return route_render_as(d, state, live, preview, ROUTE_UNWATCHED, gen, out, err);
}

/*
 * A reload is in effect once new workers answer: the live entry's
 * /_executor/health says the new generation three times in a row on new
 * connections.  Not an error when it does not (a template without
 * {{generation}}, an entry the host cannot reach): the probes that follow a
 * switch judge it.
 */
#define GENERATION_WAIT_MS 10000

static int wait_generation(const struct deploy_ctx *d, struct env_state *state, const char *gen)
{
	int port = durable_state_router_port(state, ENV_ENTRY_LIVE), streak = 0;
	long long deadline = clock_ms() + GENERATION_WAIT_MS;

	if (port <= 0 || !d->tls.ca_cert)
		return 0;
	while (streak < 3) {
		struct probe_result r;

		probe_get(d->tls.ca_cert, port, "/_executor/health", 2000, &r);
		if (!r.error[0] && r.status == 200 && strstr(buf_str(&r.body), gen)) {
			streak++;
		} else {
			streak = 0;
			if (clock_ms() > deadline) {
				log_warn("the router's live entry did not confirm the new "
					 "configuration within %d ms (%s)",
					 GENERATION_WAIT_MS,
					 r.error[0] ? r.error : buf_str(&r.body));
				probe_result_release(&r);
				return 0;
			}
			usleep(10 * 1000);
		}
		probe_result_release(&r);
	}
	return 1;
}

int route_no_router(const struct deploy_ctx *d, struct error *err)
{
	return error_set(err, ERR_JOB,
			 "env %s has no router, so %s has no entry to switch (its colors run on "
			 "their own ports): add a router service to the durable stack (labelled "
			 "io.executor.role: router, publishing 443 and 1443) and run "
			 "durable:setup-%s again",
			 d->action.env, action_name(d->action.kind), d->action.env);
}

int route_apply(const struct deploy_ctx *d, struct env_state *state, const char *live,
		const char *preview, enum route_watch watch, struct error *err)
{
	const char *container = durable_state_router(state);
	struct buf text = BUF_INIT;
	char gen[64];
	int rc;

	if (!container)
		return error_set(
			err, ERR_JOB,
			"env %s has no router: its durable stack needs a service named "
			"router (or labelled io.executor.role=router); run durable:setup-%s",
			d->action.env, d->action.env);
	new_generation(gen, sizeof(gen));
	if (route_render_as(d, state, live, preview, watch, gen, &text, err) < 0) {
		buf_release(&text);
		return -1;
	}
	rc = router_apply(d->docker, container, d->router_dir, buf_str(&text), err);
	if (rc == 0 && strstr(buf_str(&text), gen))
		rc = wait_generation(d, state, gen);
	buf_release(&text);
	return rc;
}

/* ---- the routes of a color probed through an entry ---- */

/* One route probed until it answers `need` times in a row (see route_probe_all). */
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
int route_probe_all(struct deploy_ctx *d, struct env_state *state, const char *color,
		    const char *entry, int need, int timeout_s, struct error *err)
{
	struct env_color rec;
	json_object *routes = durable_state_color(state, color, &rec) ? rec.routes : NULL;
	int port = durable_state_router_port(state, !strcmp(entry, "live") ? ENV_ENTRY_LIVE
									   : ENV_ENTRY_PREVIEW);
	long long deadline = clock_ms() + (long long)timeout_s * 1000;
	struct route_probe *p;
	pthread_t *th;
	int *started;
	size_t i, n;
	int rc = 0;

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
