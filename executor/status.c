/* SPDX-License-Identifier: MIT */
/* executor status: prints what stages/status.c collects, as text or JSON. */
#include <stdio.h>

#include "executor/status.h"

static const char *str_of(json_object *o, const char *key)
{
	json_object *v;

	if (o && json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string))
		return json_object_get_string(v);
	return NULL;
}

static const char * or (const char *s, const char *dflt)
{
	return s ? s : dflt;
}

static void print_env(const struct status_env *e)
{
	json_object *colors = NULL, *hist = NULL;
	const char *live = str_of(e->doc, "live");
	char split[192] = "", when[64];

	if (e->canary[0])
		snprintf(split, sizeof(split), "   split: %s %d%%, %s %d%% (canary since %s)", live,
			 100 - e->canary_weight, e->canary, e->canary_weight, e->canary_since);
	printf("app %s, env %s\n", or (str_of(e->doc, "app"), ""), or (str_of(e->doc, "env"), ""));
	printf("  durable   %s\n", or (str_of(e->doc, "durable"), ""));
	printf("  live      %s   (https://localhost:%d/)%s\n", or (live, "-"), e->live_port, split);
	printf("  preview   %s   (https://localhost:%d/)\n", or (str_of(e->doc, "preview"), "-"),
	       e->preview_port);
	if (e->lock.held)
		printf("  lock      held by %s (%s)\n",
		       e->lock.job_id[0] ? e->lock.job_id : "a local command", e->lock.action);
	if (json_object_object_get_ex(e->doc, "colors", &colors)) {
		json_object_object_foreach(colors, color, c)
		{
			status_age(when, sizeof(when), str_of(c, "deployed_at"));
			printf("  color %-8s %-8s %s, commit %.12s, deployed %s\n", color,
			       or (str_of(c, "role"), ""), or (str_of(c, "containers"), ""),
			       or (str_of(c, "commit"), "-"), when);
		}
	}
	if (json_object_object_get_ex(e->doc, "history", &hist) && json_object_array_length(hist)) {
		size_t k, n = json_object_array_length(hist);

		printf("  last deployments:\n");
		for (k = 0; k < n; k++) {
			json_object *h = json_object_array_get_idx(hist, k);

			printf("    %s  %-15s %-6s %-8s %s\n", or (str_of(h, "time"), ""),
			       or (str_of(h, "action"), ""), or (str_of(h, "color"), ""),
			       or (str_of(h, "result"), ""), or (str_of(h, "job_id"), ""));
		}
	}
}

int status_print(struct config *cfg, struct docker_client *docker, int json, struct error *err)
{
	struct status_report r;
	size_t i;

	if (status_collect(cfg, docker, &r, err) < 0)
		return -1;
	if (json)
		puts(json_object_to_json_string_ext(r.doc, JSON_C_TO_STRING_PRETTY |
								   JSON_C_TO_STRING_NOSLASHESCAPE));
	else if (!r.nenvs)
		printf("No env has been set up under %s (executor durable setup <env>)\n",
		       cfg->state_dir);
	for (i = 0; !json && i < r.nenvs; i++)
		print_env(&r.envs[i]);
	status_report_release(&r);
	return 0;
}
