/* SPDX-License-Identifier: MIT */
#include "stages/action.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "common/cleanup.h"

/* Longest prefix first where prefixes overlap (cleanup:durable- before cleanup:). */
static const struct {
	const char *prefix;
	enum action_kind kind;
	int arg_is_env;
} job_names[] = {
	{"durable:setup-", ACTION_DURABLE_SETUP, 1},
	{"cleanup:durable-", ACTION_DURABLE_CLEANUP, 1},
	{"deploy:", ACTION_DEPLOY, 0},
	{"promote:", ACTION_PROMOTE, 0},
	{"rollback:to-", ACTION_ROLLBACK, 0},
	{"cleanup:", ACTION_CLEANUP, 0},
};

static const struct {
	const char *name;
	enum action_kind kind;
} action_names[] = {
	{"none", ACTION_NONE},
	{"durable-setup", ACTION_DURABLE_SETUP},
	{"durable-cleanup", ACTION_DURABLE_CLEANUP},
	{"deploy", ACTION_DEPLOY},
	{"promote", ACTION_PROMOTE},
	{"rollback", ACTION_ROLLBACK},
	{"cleanup", ACTION_CLEANUP},
};

const char *action_name(enum action_kind kind)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(action_names); i++)
		if (action_names[i].kind == kind)
			return action_names[i].name;
	return "unknown";
}

int action_is_guarded(enum action_kind kind)
{
	return kind == ACTION_PROMOTE || kind == ACTION_ROLLBACK || kind == ACTION_DURABLE_CLEANUP;
}

int action_valid_name(const char *s)
{
	size_t n = 0;

	if (!s || !(islower((unsigned char)*s) || isdigit((unsigned char)*s)))
		return 0;
	for (; *s; s++, n++) {
		if (n >= ACTION_NAME_MAX - 1)
			return 0;
		if (!islower((unsigned char)*s) && !isdigit((unsigned char)*s) && *s != '-' &&
		    *s != '_')
			return 0;
	}
	return 1;
}

static int set_name(char *dst, const char *what, const char *v, struct error *err)
{
	if (!action_valid_name(v))
		return error_set(err, ERR_JOB,
				 "%s \"%.64s\" is not a valid name: use 1 to 32 of a-z, 0-9, - and "
				 "_, starting with a letter or digit",
				 what, v);
	snprintf(dst, ACTION_NAME_MAX, "%s", v);
	return 0;
}

int action_resolve(const char *job_name, const char *action, const char *env, const char *color,
		   struct action *out, struct error *err)
{
	const char *arg = NULL;
	int arg_is_env = 0;
	size_t i;

	memset(out, 0, sizeof(*out));
	out->kind = ACTION_NONE;
	if (action && *action) {
		for (i = 0; i < ARRAY_SIZE(action_names); i++)
			if (!strcmp(action, action_names[i].name))
				break;
		if (i == ARRAY_SIZE(action_names))
			return error_set(
				err, ERR_JOB,
				"EXECUTOR_ACTION \"%.64s\" is not an action: use none, "
				"durable-setup, durable-cleanup, deploy, promote, rollback "
				"or cleanup",
				action);
		out->kind = action_names[i].kind;
	} else if (job_name) {
		for (i = 0; i < ARRAY_SIZE(job_names); i++) {
			size_t n = strlen(job_names[i].prefix);

			if (!strncmp(job_name, job_names[i].prefix, n)) {
				out->kind = job_names[i].kind;
				arg = job_name + n;
				arg_is_env = job_names[i].arg_is_env;
				break;
			}
		}
	}
	if (out->kind == ACTION_NONE) {
		/* a test job may still name the env and color whose network it joins */
		if (env && *env && set_name(out->env, "EXECUTOR_ENV", env, err) < 0)
			return -1;
		if (color && *color && set_name(out->color, "EXECUTOR_COLOR", color, err) < 0)
			return -1;
		return action_check_color(out->color, err);
	}

	/* EXECUTOR_ENV / EXECUTOR_COLOR win over the job name */
	if (env && *env) {
		if (set_name(out->env, "EXECUTOR_ENV", env, err) < 0)
			return -1;
	} else if (arg && arg_is_env) {
		if (set_name(out->env, "the env in the job name", arg, err) < 0)
			return -1;
	} else {
		snprintf(out->env, sizeof(out->env), "ci");
	}
	if (out->kind == ACTION_DURABLE_SETUP || out->kind == ACTION_DURABLE_CLEANUP)
		return 0;
	if (color && *color) {
		if (set_name(out->color, "EXECUTOR_COLOR", color, err) < 0)
			return -1;
	} else if (arg && !arg_is_env && *arg) {
		if (set_name(out->color, "the color in the job name", arg, err) < 0)
			return -1;
	} else if (out->kind != ACTION_PROMOTE) {
		return error_set(err, ERR_JOB,
				 "the %s action needs a color: name the job %s:<color> or set "
				 "EXECUTOR_COLOR",
				 action_name(out->kind), action_name(out->kind));
	}
	return action_check_color(out->color, err);
}

int action_check_color(const char *color, struct error *err)
{
	size_t n = strlen(color);

	/* a color's Compose project is <app>-<color>, a durable layer's
	 * <app>-<env>-durable: no color may name one */
	if (n >= 7 && !strcmp(color + n - 7, "durable"))
		return error_set(err, ERR_JOB,
				 "color \"%s\" ends in \"durable\", which names durable layers "
				 "(<app>-<env>-durable): choose another color name, e.g. blue or "
				 "green",
				 color);
	return 0;
}
