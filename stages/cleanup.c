/* SPDX-License-Identifier: MIT */
/* cleanup:<color>: a color that is neither live nor preview removed. */
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "durable/history.h"
#include "durable/state.h"
#include "stages/cleanup.h"
#include "stages/names.h"
#include "stages/route.h"
#include "stages/stack.h"

static int color_cleanup(struct deploy_ctx *d, struct error *err)
{
	_cleanup_env_state_ struct env_state *state = NULL;
	const char *color = d->action.color;
	char project[NAMES_PROJECT_MAX];

	if (durable_state_load(d->state_root, d->action.env, &state, err) < 0)
		return -1;
	if (durable_state_is_live(state, color)) {
		if (!d->force)
			return error_set(
				err, ERR_JOB,
				"%s is the live color of env %s: cleaning it up would take the "
				"site down. Promote or roll back to another color first (or, to "
				"retire the env, executor cleanup %s --force)",
				color, d->action.env, color);
		log_warn("%s is live in env %s: the live entry will answer 503", color,
			 d->action.env);
	}
	names_color_project(d->app, color, project, sizeof(project));
	if (durable_state_router(state) &&
	    (durable_state_is_preview(state, color) || durable_state_is_live(state, color))) {
		/* stop routing to it before it goes away */
		const char *live = durable_state_live(state);
		const char *preview = durable_state_preview(state);

		if (durable_state_is_live(state, color))
			live = NULL;
		if (durable_state_is_preview(state, color))
			preview = NULL;
		if (route_apply(d, state, live, preview, ROUTE_UNWATCHED, err) < 0) {
			struct error e2 = ERROR_INIT;

			/* a router that is gone routes nothing: go on */
			if (docker_container_inspect(d->docker, durable_state_router(state), NULL,
						     &e2) == 0 ||
			    e2.code != 404)
				return -1;
			error_clear(err);
		}
	}
	if (stack_down(d->docker, project, "color", d->app, 0, err) < 0 ||
	    deploy_remove_files(d, project, err) < 0)
		return -1;
	durable_state_remove_color(state, color);
	if (durable_state_save(d->state_root, d->action.env, state, err) < 0)
		return -1;
	log_notice("Color %s of env %s removed; durable resources untouched", color, d->action.env);
	return 0;
}

int action_color_cleanup(struct deploy_ctx *d, struct error *err)
{
	long long t0 = clock_ms();
	int rc = color_cleanup(d, err);

	deploy_history(d, rc == 0 ? DURABLE_RESULT_OK : DURABLE_RESULT_FAILED, clock_ms() - t0,
		       NULL, rc == 0 ? "removed" : err->msg);
	return rc;
}
