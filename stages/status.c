/* SPDX-License-Identifier: MIT */
/* executor status: per env, the durable layer, the colors, live and preview,
 * the last deployments.  Reads only; takes no lock. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "durable/env.h"
#include "durable/history.h"
#include "durable/lock.h"
#include "durable/state.h"
#include "stages/context.h"
#include "stages/route.h"
#include "stages/stack.h"
#include "stages/status.h"

static json_object *containers_of(struct docker_client *c, const char *app, const char *env,
				  const char *layer, struct error *err)
{
	char envl[128], layerl[128], appl[128];
	const char *filters[] = {envl, layerl, appl, "io.executor.managed=true", NULL};
	json_object *list = NULL;

	snprintf(appl, sizeof(appl), "io.executor.app=%s", app);
	snprintf(envl, sizeof(envl), "io.executor.env=%s", env);
	snprintf(layerl, sizeof(layerl), "io.executor.layer=%s", layer);
	if (docker_container_list(c, filters, 1, &list, err) < 0)
		return NULL;
	return list;
}

static const char *summarize(json_object *list, const char *color, char *out, size_t size)
{
	size_t i, n = list ? json_object_array_length(list) : 0;
	int total = 0, up = 0, healthy = 0, unhealthy = 0, starting = 0;

	for (i = 0; i < n; i++) {
		json_object *c = json_object_array_get_idx(list, i), *labels, *v, *st;
		const char *status = "";

		if (color && (!json_object_object_get_ex(c, "Labels", &labels) ||
			      !json_object_object_get_ex(labels, "io.executor.color", &v) ||
			      strcmp(json_object_get_string(v), color)))
			continue;
		total++;
		if (json_object_object_get_ex(c, "Status", &st))
			status = json_object_get_string(st);
		if (!strncmp(status, "Up", 2))
			up++;
		if (strstr(status, "(healthy)"))
			healthy++;
		else if (strstr(status, "unhealthy"))
			unhealthy++;
		else if (strstr(status, "starting"))
			starting++;
	}
	if (!total)
		snprintf(out, size, "not running");
	else if (up < total)
		snprintf(out, size, "%d of %d containers running", up, total);
	else if (unhealthy)
		snprintf(out, size, "running, %d unhealthy", unhealthy);
	else if (starting)
		snprintf(out, size, "running, %d starting", starting);
	else
		snprintf(out, size, "running, healthy (%d containers)", total);
	return out;
}

static void age(char *out, size_t size, const char *rfc3339)
{
	time_t t;
	long s;

	if (!rfc3339 || durable_time_parse_rfc3339(rfc3339, &t) < 0) {
		snprintf(out, size, "?");
		return;
	}
	s = (long)(time(NULL) - t);
	if (s < 120)
		snprintf(out, size, "%lds ago", s);
	else if (s < 7200)
		snprintf(out, size, "%ldm ago", s / 60);
	else if (s < 172800)
		snprintf(out, size, "%ldh ago", s / 3600);
	else
		snprintf(out, size, "%ldd ago", s / 86400);
}

static const char *str_of(json_object *o, const char *key)
{
	json_object *v;

	if (o && json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string))
		return json_object_get_string(v);
	return NULL;
}

static int status_app(const char *root, const char *app, struct docker_client *docker, int json,
		      json_object *out, struct error *err)
{
	char **envs = NULL;
	size_t nenvs = 0, i;

	if (durable_env_list(root, &envs, &nenvs, err) < 0)
		return error_wrap(err, "list envs in %s", root);
	for (i = 0; i < nenvs; i++) {
		const char *env = envs[i];
		json_object *state = NULL, *dur = NULL, *col = NULL, *hist = NULL, *colors, *e;
		json_object *je = json_object_new_object(), *jc = json_object_new_object();
		struct durable_lock_info lock;
		char text[256], when[64], split_text[192];

		if (durable_state_load(root, env, &state, err) < 0) {
			log_warn("env %s: %s", env, err->msg);
			error_clear(err);
			json_object_put(je);
			json_object_put(jc);
			continue;
		}
		dur = containers_of(docker, app, env, "durable", err);
		col = containers_of(docker, app, env, "color", err);
		if (!dur || !col) {
			json_object_put(state);
			json_object_put(dur);
			json_object_put(col);
			json_object_put(je);
			json_object_put(jc);
			durable_env_list_free(envs);
			return -1;
		}
		durable_history_read(root, env, 5, &hist, err);
		error_clear(err);
		memset(&lock, 0, sizeof(lock));
		durable_lock_query(root, env, &lock, err);
		error_clear(err);

		json_object_object_add(je, "app", json_object_new_string(app));
		json_object_object_add(je, "env", json_object_new_string(env));
		json_object_object_add(
			je, "durable",
			json_object_new_string(summarize(dur, NULL, text, sizeof(text))));
		json_object_object_add(je, "live",
				       durable_state_live(state)
					       ? json_object_new_string(durable_state_live(state))
					       : NULL);
		json_object_object_add(
			je, "preview",
			durable_state_preview(state)
				? json_object_new_string(durable_state_preview(state))
				: NULL);
		{
			int weight = 0;
			const char *canary = durable_state_canary(state, &weight);
			json_object *split = json_object_new_object();

			/* the live entry's split: {"blue": 90, "green": 10} */
			if (durable_state_live(state))
				json_object_object_add(split, durable_state_live(state),
						       json_object_new_int(100 - weight));
			if (canary)
				json_object_object_add(split, canary, json_object_new_int(weight));
			json_object_object_add(je, "split", split);
			if (!json && canary)
				snprintf(split_text, sizeof(split_text),
					 "   split: %s %d%%, %s %d%% (canary since %s)",
					 durable_state_live(state), 100 - weight, canary, weight,
					 str_of(json_object_object_get(state, "canary"), "since")
						 ? str_of(json_object_object_get(state, "canary"),
							  "since")
						 : "?");
			else
				split_text[0] = '\0';
		}
		if (!json) {
			printf("app %s, env %s\n", app, env);
			printf("  durable   %s\n", text);
			printf("  live      %s   (https://localhost:%d/)%s\n",
			       durable_state_live(state) ? durable_state_live(state) : "-",
			       route_router_port(state, "live_port"), split_text);
			printf("  preview   %s   (https://localhost:%d/)\n",
			       durable_state_preview(state) ? durable_state_preview(state) : "-",
			       route_router_port(state, "preview_port"));
			if (lock.held)
				printf("  lock      held by %s (%s)\n",
				       lock.job_id[0] ? lock.job_id : "a local command",
				       lock.action);
		}
		if (json_object_object_get_ex(state, "colors", &colors)) {
			json_object_object_foreach(colors, color, rec)
			{
				json_object *jr = json_object_new_object();
				const char *commit = str_of(rec, "commit");
				const char *role =
					durable_state_live(state) &&
							!strcmp(durable_state_live(state), color)
						? "live"
					: durable_state_preview(state) &&
							!strcmp(durable_state_preview(state), color)
						? "preview"
						: "idle";

				summarize(col, color, text, sizeof(text));
				age(when, sizeof(when), str_of(rec, "deployed_at"));
				json_object_object_add(jr, "containers",
						       json_object_new_string(text));
				json_object_object_add(jr, "role", json_object_new_string(role));
				json_object_object_add(jr, "commit",
						       commit ? json_object_new_string(commit)
							      : NULL);
				json_object_object_add(
					jr, "deployed_at",
					str_of(rec, "deployed_at")
						? json_object_new_string(str_of(rec, "deployed_at"))
						: NULL);
				json_object_object_add(
					jr, "status",
					str_of(rec, "status")
						? json_object_new_string(str_of(rec, "status"))
						: NULL);
				json_object_object_add(jc, color, jr);
				if (!json)
					printf("  color %-8s %-8s %s, commit %.12s, deployed %s\n",
					       color, role, text, commit ? commit : "-", when);
			}
		}
		json_object_object_add(je, "colors", jc);
		json_object_object_add(je, "history", hist ? hist : json_object_new_array());
		if (!json && hist && json_object_array_length(hist)) {
			size_t k, nh = json_object_array_length(hist);

			printf("  last deployments:\n");
			for (k = 0; k < nh; k++) {
				e = json_object_array_get_idx(hist, k);
				printf("    %s  %-15s %-6s %-8s %s\n",
				       str_of(e, "time") ? str_of(e, "time") : "",
				       str_of(e, "action") ? str_of(e, "action") : "",
				       str_of(e, "color") ? str_of(e, "color") : "",
				       str_of(e, "result") ? str_of(e, "result") : "",
				       str_of(e, "job_id") ? str_of(e, "job_id") : "");
			}
		}
		json_object_array_add(out, je);
		json_object_put(state);
		json_object_put(dur);
		json_object_put(col);
	}
	durable_env_list_free(envs);
	return 0;
}

int action_status(struct config *cfg, struct docker_client *docker, int json, struct error *err)
{
	json_object *out = json_object_new_array();
	char apps[4096];
	DIR *dir;
	struct dirent *de;
	int rc = 0;

	snprintf(apps, sizeof(apps), "%s/apps", cfg->state_dir);
	dir = opendir(apps);
	while (dir && (de = readdir(dir))) {
		char root[4096];

		if (de->d_name[0] == '.')
			continue;
		deploy_state_root(cfg, de->d_name, root, sizeof(root));
		if (status_app(root, de->d_name, docker, json, out, err) < 0) {
			rc = -1;
			break;
		}
	}
	if (dir)
		closedir(dir);
	if (rc == 0 && !json && json_object_array_length(out) == 0)
		printf("No env has been set up under %s (executor durable setup <env>)\n",
		       cfg->state_dir);
	if (rc == 0 && json)
		puts(json_object_to_json_string_ext(out, JSON_C_TO_STRING_PRETTY |
								 JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(out);
	return rc;
}
