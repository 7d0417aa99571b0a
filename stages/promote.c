/* SPDX-License-Identifier: MIT */
/* promote:<color>: the switch of the live entry, its watch, the canary
 * steps (stages/canary.c). */
#include <string.h>

#include "common/cleanup.h"
#include "common/clock.h"
#include "common/log.h"
#include "durable/history.h"
#include "durable/state.h"
#include "stages/canary.h"
#include "stages/color.h"
#include "stages/promote.h"
#include "stages/route.h"

/* Answers in a row that verify a switch through the live entry: after the
 * router confirmed the new configuration (its generation three times in a row
 * on new connections: only new workers answer) one per route proves the route
 * reaches the color; without that confirmation (a template without
 * {{generation}}) more ride out the reload. */
#define VERIFY_CONFIRMED   1
#define VERIFY_CONSECUTIVE 5

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

/*
 * Switch the live entry to `target`; the color that was live becomes the
 * preview.  Verified through the live entry; switched back on failure.  With
 * a watch (w != NULL, o->seconds > 0) the live entry is watched after the
 * switch and switched back when the watch fails.  *rolled_back tells the
 * history what happened.
 */
int promote_switch_live(struct deploy_ctx *d, json_object *state, const char *target,
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
	if (route_probe_all(d, state, target, "live",
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
			watch_outcome_error(
				out, &reason,
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
			    route_probe_all(d, state, old_live, "live",
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
				watch_outcome_error(out, &reason, then, err);
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
	if (read_plan(d, &plan, err) < 0 || color_state_load(d, &state, err) < 0)
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
	if (route_probe_all(d, state, color, "preview", 1, 30, err) < 0)
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
	if (full && promote_switch_live(d, state, color, "Promoted", watching ? &w : NULL,
					&plan.watch, &rolled_back, err) < 0)
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
