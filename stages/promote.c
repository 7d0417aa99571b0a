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

/* The watch after a switch; when it fails, the live entry goes back to
 * old_live (*rolled_back set) and the error says why. */
static int watch_switch(struct deploy_ctx *d, struct env_state *state, const char *target,
			const char *old_live, struct watch *w, const struct watch_opts *o,
			int *rolled_back, struct error *err)
{
	struct watch_opts wo = *o;
	struct buf fig = BUF_INIT, reason = BUF_INIT;
	struct error e2 = ERROR_INIT;
	enum watch_outcome out;
	char then[96];
	int confirmed;

	wo.entry = "live";
	wo.what = "after the switch";
	out = watch_run(w, d, state, &wo, &reason);
	watch_figures(w, &fig);
	if (out == WATCH_QUIET || out == WATCH_FULL) {
		log_notice("The watch after the switch passed: %s", buf_str(&fig));
		buf_release(&fig);
		buf_release(&reason);
		watch_log_off(d, state, target, old_live);
		return 0;
	}
	if (!old_live) {
		buf_release(&fig);
		route_apply(d, state, target, NULL, ROUTE_UNWATCHED, &e2);
		watch_outcome_error(out, &reason,
				    "no color was live before, so there is nothing to switch "
				    "back to",
				    err);
		buf_release(&reason);
		return -1;
	}
	log_error("The watch after the switch failed; figures: %s", buf_str(&fig));
	buf_release(&fig);
	log_error("Switching the live entry back to %s", old_live);
	confirmed = route_apply(d, state, old_live, target, ROUTE_UNWATCHED, &e2);
	if (confirmed < 0 ||
	    route_probe_all(d, state, old_live, "live",
			    confirmed ? VERIFY_CONFIRMED : VERIFY_CONSECUTIVE, 30, &e2) < 0) {
		error_set(err, ERR_HEALTH, "%s; switching back to %s failed too: %s",
			  buf_str(&reason), old_live, e2.msg);
		buf_release(&reason);
		return -1;
	}
	durable_state_set_live(state, old_live);
	durable_state_set_preview(state, target);
	durable_state_save(d->state_root, d->action.env, state, &e2);
	*rolled_back = 1;
	snprintf(then, sizeof(then), "switched back to %s", old_live);
	watch_outcome_error(out, &reason, then, err);
	buf_release(&reason);
	log_notice("Rolled back automatically: %s is live again in env %s", old_live,
		   d->action.env);
	return -1;
}

/*
 * Switch the live entry to `target`; the color that was live becomes the
 * preview.  Verified through the live entry; switched back on failure.  With
 * a watch (w != NULL, o->seconds > 0) the live entry is watched after the
 * switch and switched back when the watch fails.  *rolled_back tells the
 * history what happened.
 */
int promote_switch_live(struct deploy_ctx *d, struct env_state *state, const char *target,
			const char *what, struct watch *w, const struct watch_opts *o,
			int *rolled_back, struct error *err)
{
	const char *cur = durable_state_live(state);
	_cleanup_free_ char *old_live = cur ? strdup(cur) : NULL;
	_cleanup_free_ char *old_preview =
		durable_state_preview(state) ? strdup(durable_state_preview(state)) : NULL;
	long long t0 = clock_ms();
	int rc, watching = w && o && o->seconds > 0;
	enum route_watch watch = watching ? ROUTE_WATCHED : ROUTE_UNWATCHED;
	int confirmed;

	gitlab_section_start(stderr, "switch", "Switching live traffic", 0);
	log_info("Switching the live entry of env %s: %s -> %s", d->action.env,
		 old_live ? old_live : "(none)", target);
	confirmed = route_apply(d, state, target, old_live, watch, err);
	if (confirmed < 0) {
		rc = -1;
	} else if (route_probe_all(d, state, target, "live",
				   confirmed ? VERIFY_CONFIRMED : VERIFY_CONSECUTIVE, 30,
				   err) < 0) {
		struct error e2 = ERROR_INIT;

		log_error("The live entry does not answer from %s: switching back to %s", target,
			  old_live ? old_live : "(none)");
		if (route_apply(d, state, old_live, old_preview, ROUTE_UNWATCHED, &e2) < 0)
			log_error("switching back failed too: %s", e2.msg);
		rc = -1;
	} else {
		durable_state_set_live(state, target);
		durable_state_set_preview(state, old_live);
		durable_state_set_canary(state, NULL, 0, NULL);
		rc = durable_state_save(d->state_root, d->action.env, state, err);
	}
	if (rc == 0) {
		log_notice("%s: %s is live in env %s (switched in %lld ms; %s stays running for "
			   "rollback)",
			   what, target, d->action.env, clock_ms() - t0,
			   old_live ? old_live : "nothing");
		if (watching)
			rc = watch_switch(d, state, target, old_live, w, o, rolled_back, err);
	}
	gitlab_section_end(stderr, "switch");
	return rc;
}

/* The color a promote acts on: the one named, else the canary's candidate,
 * else the preview.  ERR_JOB when there is none or it was never deployed. */
static int promote_target(struct deploy_ctx *d, struct env_state *state, const char *canary,
			  char *out, size_t size, struct error *err)
{
	const char *target = d->action.color[0] ? d->action.color
						: (canary ? canary : durable_state_preview(state));

	if (!target)
		return error_set(err, ERR_JOB,
				 "nothing to promote in env %s: no color is in preview; "
				 "deploy one first",
				 d->action.env);
	snprintf(out, size, "%s", target);
	if (!durable_state_color(state, out, &(struct env_color){0}))
		return error_set(err, ERR_JOB,
				 "color %s was never deployed to env %s: deploy:%s first", out,
				 d->action.env, out);
	return 0;
}

/* The candidate in the preview entry, answering there, before the switch:
 * the router's file may say otherwise than the state when an earlier action
 * was killed between the two, and then it is applied again. */
static int promote_preview(struct deploy_ctx *d, struct env_state *state, const char *color,
			   struct error *err)
{
	if (!durable_state_is_preview(state, color) ||
	    !route_in_place(d, state, durable_state_live(state), color)) {
		durable_state_set_canary(state, NULL, 0, NULL);
		if (route_apply(d, state, durable_state_live(state), color, ROUTE_UNWATCHED, err) <
		    0)
			return -1;
		durable_state_set_preview(state, color);
	}
	return route_probe_all(d, state, color, "preview", 1, 30, err);
}

/* The canary steps (when asked for and a color is live), then the switch
 * when they reach 100%; watched when the plan says so. */
static int promote_steps(struct deploy_ctx *d, struct env_state *state, struct promote_plan *plan,
			 struct promote_result *res, struct error *err)
{
	_cleanup_free_ char *control = NULL;
	struct sigaction saved[2];
	struct watch w;
	int rc = 0, full = 1, weight = 0;
	int watching = (plan->nsteps && plan->pause > 0 && durable_state_live(state)) ||
		       plan->watch.seconds > 0;

	if (watching) {
		promote_canceled = 0;
		promote_signals(1, saved);
		watch_begin(&w, d, state, res->color, &promote_canceled);
		if (asprintf(&control, "%s/%s", d->env_dir, WATCH_CONTROL_FILE) > 0) {
			unlink(control); /* a command nobody took before this promote */
			plan->watch.control = control;
		} else {
			control = NULL;
		}
	}
	if (plan->nsteps && durable_state_live(state)) {
		rc = canary_steps(d, state, res->color, plan, &w, &full, &res->rolled_back, err);
		if (rc == 0 && !full) {
			durable_state_canary(state, &weight);
			snprintf(res->note, sizeof(res->note), "canary: %s at %d%% of live clients",
				 res->color, weight);
		}
	} else if (plan->nsteps) {
		log_info("No color is live in env %s: no canary, %s takes all traffic",
			 d->action.env, res->color);
	}
	if (rc == 0 && full)
		rc = promote_switch_live(d, state, res->color, "Promoted", watching ? &w : NULL,
					 &plan->watch, &res->rolled_back, err);
	if (watching) {
		watch_end(&w);
		promote_signals(0, saved);
	}
	return rc;
}

/* promote --abort: the canary back to 0%. */
static int promote_abort(struct deploy_ctx *d, struct env_state *state, const char *canary,
			 int weight, struct promote_result *res, struct error *err)
{
	if (!canary) {
		log_notice("No canary runs in env %s: nothing to abort", d->action.env);
		snprintf(res->note, sizeof(res->note), "no canary to abort");
		return 0;
	}
	snprintf(res->color, sizeof(res->color), "%s", canary);
	snprintf(res->note, sizeof(res->note), "canary of %s aborted at %d%%", canary, weight);
	if (canary_reset(d, state, res->color, err) < 0)
		return -1;
	log_notice("Canary aborted: %s serves every client of env %s again; %s stays in "
		   "preview",
		   durable_state_live(state), d->action.env, res->color);
	return 0;
}

int promote_run(struct deploy_ctx *d, struct promote_result *res, struct error *err)
{
	_cleanup_env_state_ struct env_state *state = NULL;
	struct promote_plan plan;
	const char *canary;
	int weight = 0;

	memset(res, 0, sizeof(*res));
	snprintf(res->color, sizeof(res->color), "%s", d->action.color);
	if (read_plan(d, &plan, err) < 0 || color_state_load(d, &state, err) < 0)
		return -1;
	canary = durable_state_canary(state, &weight);
	if (d->action.control == PROMOTE_ABORT)
		return promote_abort(d, state, canary, weight, res, err);
	if (promote_target(d, state, canary, res->color, sizeof(res->color), err) < 0)
		return -1;
	if (durable_state_is_live(state, res->color)) {
		log_notice("%s is already live in env %s; nothing to do", res->color,
			   d->action.env);
		return 0;
	}
	if (color_healthy(d, res->color, err) < 0 || promote_preview(d, state, res->color, err) < 0)
		return -1;
	return promote_steps(d, state, &plan, res, err);
}

int action_promote(struct deploy_ctx *d, struct error *err)
{
	struct promote_result res;
	long long t0 = clock_ms();
	const char *result;
	int rc;

	if (d->handed_over) {
		log_notice("The running promote of env %s took the %s", d->action.env,
			   d->action.control == PROMOTE_ABORT ? "abort" : "request to finish");
		return 0;
	}
	if (deploy_check_guard(d, err) < 0) {
		deploy_history(d, DURABLE_RESULT_REFUSED, 0, NULL, err->msg);
		return -1;
	}
	rc = promote_run(d, &res, err);
	result = rc == 0 ? DURABLE_RESULT_OK
			 : (res.rolled_back ? DURABLE_RESULT_ROLLED_BACK : DURABLE_RESULT_FAILED);
	deploy_history_color(d, res.color[0] ? res.color : NULL, result, clock_ms() - t0, NULL,
			     rc < 0 ? err->msg : (res.note[0] ? res.note : "promoted"));
	return rc;
}
