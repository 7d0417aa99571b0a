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

static int rollback(struct deploy_ctx *d, struct error *err)
{
	_cleanup_env_state_ struct env_state *state = NULL;
	const char *color = d->action.color;

	if (color_state_load(d, &state, err) < 0)
		return -1;
	if (durable_state_is_live(state, color)) {
		int weight = 0;
		const char *canary = durable_state_canary(state, &weight);
		char cand[ACTION_NAME_MAX];

		if (!canary) {
			log_notice("%s is already live in env %s; nothing to roll back", color,
				   d->action.env);
			return 0;
		}
		/* back to the live color: the canary's clients too */
		snprintf(cand, sizeof(cand), "%s", canary);
		if (canary_reset(d, state, cand, err) < 0)
			return -1;
		log_notice("Rolled back the canary: %s (was %d%% of live clients) serves "
			   "no live traffic; %s serves every client of env %s",
			   cand, weight, color, d->action.env);
		return 0;
	}
	if (!durable_state_color(state, color, &(struct env_color){0}))
		return error_set(err, ERR_JOB,
				 "cannot roll back to %s: it was never deployed to env %s", color,
				 d->action.env);
	if (color_healthy(d, color, err) < 0)
		return error_wrap(err, "cannot roll back to %s", color);
	return promote_switch_live(d, state, color, "Rolled back", NULL, NULL, &(int){0}, err);
}

int action_rollback(struct deploy_ctx *d, struct error *err)
{
	long long t0 = clock_ms();
	int rc;

	if (deploy_check_guard(d, err) < 0) {
		deploy_history(d, DURABLE_RESULT_REFUSED, 0, NULL, err->msg);
		return -1;
	}
	rc = rollback(d, err);
	deploy_history(d, rc == 0 ? DURABLE_RESULT_OK : DURABLE_RESULT_FAILED, clock_ms() - t0,
		       NULL, rc == 0 ? "rolled back" : err->msg);
	return rc;
}
