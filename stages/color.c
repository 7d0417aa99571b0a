/* SPDX-License-Identifier: MIT */
/* What the color actions share: the env's state, and a color's health. */
#include <string.h>

#include "common/cleanup.h"
#include "common/log.h"
#include "durable/state.h"
#include "stages/color.h"
#include "stages/layer.h"
#include "stages/names.h"
#include "stages/route.h"
#include "stages/stack.h"

int color_state_load(struct deploy_ctx *d, struct env_state **state, struct error *err)
{
	if (durable_state_load(d->state_root, d->action.env, state, err) < 0)
		return -1;
	if (!durable_state_setup_at(*state))
		return error_set(err, ERR_JOB,
				 "the durable layer of env %s is not set up: run durable:setup-%s "
				 "(or executor durable setup %s) first",
				 d->action.env, d->action.env, d->action.env);
	/* a deploy without a router runs the color on its own ports */
	if (!durable_state_router(*state) && d->action.kind != ACTION_DEPLOY)
		return route_no_router(d, err);
	/* the probes verify against the env's CA: load it (same names, no reissue) */
	return deploy_ensure_tls(d, *state, NULL, err);
}

/* Every container of the color is running, and healthy where it checks: 0;
 * -1 when not; 1 (err set) when the only trouble is a health check still
 * starting. */
static int color_health_once(struct deploy_ctx *d, const char *color, struct error *err)
{
	char project[NAMES_PROJECT_MAX];
	_cleanup_json_ json_object *list = NULL;
	size_t i, n;

	names_color_project(d->app, color, project, sizeof(project));
	if (stack_containers(d->docker, project, &list, err) < 0)
		return -1;
	n = json_object_array_length(list);
	if (!n)
		return error_set(err, ERR_JOB, "color %s of env %s is not running: deploy:%s first",
				 color, d->action.env, color);
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
			return starting ? 1 : -1;
		}
	}
	return 0;
}

/* color_health_once(), waiting for health checks that are still starting (the
 * color came back with a restarted engine, say) up to COLOR_STARTING_WAIT_S. */
#define COLOR_STARTING_WAIT_S 60
int color_healthy(struct deploy_ctx *d, const char *color, struct error *err)
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
