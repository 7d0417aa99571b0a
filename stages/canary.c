/* SPDX-License-Identifier: MIT */
/* The canary steps of a promote: a share of the live entry's clients at a
 * time, each watched. */
#include <string.h>

#include "common/log.h"
#include "durable/state.h"
#include "stages/canary.h"
#include "stages/route.h"

/* Back to 0%: the live color serves every client again. */
int canary_reset(struct deploy_ctx *d, struct env_state *state, const char *target,
		 struct error *err)
{
	durable_state_set_canary(state, NULL, 0, NULL);
	if (route_apply(d, state, durable_state_live(state), target, ROUTE_UNWATCHED, err) < 0)
		return -1;
	return durable_state_save(d->state_root, d->action.env, state, err);
}

/*
 * The canary steps below 100%: for each, shift that share of the live
 * entry's clients to `target` and watch for the pause.  *full is set when the
 * steps reach 100% (or an operator asks for it): the caller switches fully.
 */
int canary_steps(struct deploy_ctx *d, struct env_state *state, const char *target,
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
		if (route_apply(d, state, durable_state_live(state), target,
				p->pause > 0 ? ROUTE_WATCHED : ROUTE_UNWATCHED, err) < 0) {
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
			watch_outcome_error(out, &reason, "every client is back on the live color",
					    err);
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
