/* SPDX-License-Identifier: MIT */
/* rollback:<color>: the live entry back to a color still running. */
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "durable/history.h"
#include "durable/state.h"
#include "stages/canary.h"
#include "stages/color.h"
#include "stages/promote.h"
#include "stages/rollback.h"

int action_rollback(struct deploy_ctx *d, struct error *err)
{
	json_object *state = NULL;
	long long t0 = clock_ms();
	int rc = -1;

	if (deploy_check_guard(d, err) < 0) {
		deploy_history(d, DURABLE_RESULT_REFUSED, 0, NULL, err->msg);
		return -1;
	}
	if (color_state_load(d, &state, err) < 0)
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
	if (promote_switch_live(d, state, d->action.color, "Rolled back", NULL, NULL, &(int){0},
				err) < 0)
		goto out;
	rc = 0;
out:
	deploy_history(d, rc == 0 ? DURABLE_RESULT_OK : DURABLE_RESULT_FAILED, clock_ms() - t0,
		       NULL, rc == 0 ? "rolled back" : err->msg);
	json_object_put(state);
	return rc;
}
