/* SPDX-License-Identifier: MIT */
/* The router's configuration, derived from the env's state. */
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
#include "stages/probe.h"
#include "stages/route.h"

static int target_from_state(const struct deploy_ctx *d, json_object *state, const char *color,
			     struct router_target *t, char *project, size_t psize,
			     struct router_route **routes)
{
	json_object *rec, *jr = NULL;

	memset(t, 0, sizeof(*t));
	*routes = NULL;
	if (!color)
		return 0;
	rec = durable_state_color(state, color);
	if (!rec)
		return 0;
	json_object_object_get_ex(rec, "routes", &jr);
	if (router_routes_from_json(jr, routes, &t->nroutes) < 0)
		return -1;
	snprintf(project, psize, "%s-%s", d->app, color);
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

int route_render_as(const struct deploy_ctx *d, json_object *state, const char *live,
		    const char *preview, const char *generation, struct buf *out, struct error *err)
{
	struct router_target lt, pt;
	struct router_route *lr = NULL, *pr = NULL;
	char lp[160], pp[160];
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
					.watch_log = d->router_watch,
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

int route_in_place(const struct deploy_ctx *d, json_object *state, const char *live,
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
	       route_render_as(d, state, live, preview, gen, &text, &e) == 0 &&
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

int route_render(const struct deploy_ctx *d, json_object *state, const char *live,
		 const char *preview, struct buf *out, struct error *err)
{
	char gen[64];

	new_generation(gen, sizeof(gen));
	return route_render_as(d, state, live, preview, gen, out, err);
}

/*
 * A reload is in effect once new workers answer: the live entry's
 * /_executor/health says the new generation three times in a row on new
 * connections.  Not an error when it does not (a template without
 * {{generation}}, an entry the host cannot reach): the probes that follow a
 * switch judge it.
 */
#define GENERATION_WAIT_MS 10000

static int wait_generation(const struct deploy_ctx *d, json_object *state, const char *gen)
{
	int port = route_router_port(state, "live_port"), streak = 0;
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

json_object *route_router_info(json_object *state)
{
	json_object *r;

	if (json_object_object_get_ex(state, "router", &r) &&
	    json_object_is_type(r, json_type_object))
		return r;
	return NULL;
}

const char *route_router_container(json_object *state)
{
	json_object *r = route_router_info(state), *v;

	if (r && json_object_object_get_ex(r, "container", &v))
		return json_object_get_string(v);
	return NULL;
}

int route_router_port(json_object *state, const char *which)
{
	json_object *r = route_router_info(state), *v;

	if (r && json_object_object_get_ex(r, which, &v))
		return json_object_get_int(v);
	return 0;
}

int route_apply(const struct deploy_ctx *d, json_object *state, const char *live,
		const char *preview, struct error *err)
{
	const char *container = route_router_container(state);
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
	if (route_render_as(d, state, live, preview, gen, &text, err) < 0) {
		buf_release(&text);
		return -1;
	}
	rc = router_apply(d->docker, container, d->router_dir, buf_str(&text), err);
	if (rc == 0 && strstr(buf_str(&text), gen))
		rc = wait_generation(d, state, gen);
	buf_release(&text);
	return rc;
}
