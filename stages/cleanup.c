/* SPDX-License-Identifier: MIT */
/* cleanup:<color>: a color that is neither live nor preview removed. */
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "durable/history.h"
#include "durable/state.h"
#include "stages/cleanup.h"
#include "stages/route.h"
#include "stages/stack.h"

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
