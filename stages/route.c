/* SPDX-License-Identifier: MIT */
/* The router's configuration, derived from the env's state. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fs.h"
#include "common/log.h"
#include "durable/router.h"
#include "durable/state.h"
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

int route_render(const struct deploy_ctx *d, json_object *state, const char *live,
		 const char *preview, struct buf *out, struct error *err)
{
	struct router_target lt, pt;
	struct router_route *lr = NULL, *pr = NULL;
	char lp[160], pp[160];
	_cleanup_free_ char *tpl_path = NULL;
	struct buf tpl = BUF_INIT;
	const char *tpl_text = NULL;
	int rc;

	if (asprintf(&tpl_path, "%s/durable/router.conf.template", d->project_dir) < 0)
		return error_set(err, ERR_SYSTEM, "out of memory");
	if (access(tpl_path, F_OK) == 0) {
		if (fs_read_file(tpl_path, &tpl, 1 << 20, err) < 0)
			return -1;
		tpl_text = buf_str(&tpl);
	}
	if (target_from_state(d, state, live, &lt, lp, sizeof(lp), &lr) < 0 ||
	    target_from_state(d, state, preview, &pt, pp, sizeof(pp), &pr) < 0) {
		free(lr);
		free(pr);
		buf_release(&tpl);
		return error_set(err, ERR_SYSTEM, "out of memory");
	}
	rc = router_render(tpl_text, d->action.env, &lt, &pt, out, err);
	free(lr);
	free(pr);
	buf_release(&tpl);
	return rc;
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
	int rc;

	if (!container)
		return error_set(
			err, ERR_JOB,
			"env %s has no router: its durable stack needs a service named "
			"router (or labelled io.executor.role=router); run durable:setup-%s",
			d->action.env, d->action.env);
	if (route_render(d, state, live, preview, &text, err) < 0) {
		buf_release(&text);
		return -1;
	}
	rc = router_apply(d->docker, container, d->router_dir, buf_str(&text), err);
	buf_release(&text);
	return rc;
}
