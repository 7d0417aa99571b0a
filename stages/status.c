/* SPDX-License-Identifier: MIT */
/* executor status as data: per env, the durable layer, the colors, live and
 * preview, the last deployments (executor/status.c prints it).  Reads only;
 * takes no lock. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/cleanup.h"
#include "common/log.h"
#include "durable/env.h"
#include "durable/history.h"
#include "durable/lock.h"
#include "durable/state.h"
#include "stages/context.h"
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

void status_age(char *out, size_t size, const char *rfc3339)
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

/* json string, or null for NULL */
static json_object *jstr(const char *s)
{
	return s ? json_object_new_string(s) : NULL;
}

/* The colors as `status --json` shows them. */
static json_object *status_colors(const struct env_state *state, json_object *col)
{
	json_object *jc = json_object_new_object();
	struct env_color c;
	char text[256];
	size_t i;

	for (i = 0; durable_state_color_at(state, i, &c); i++) {
		json_object *jr = json_object_new_object();
		const char *role = durable_state_is_live(state, c.name)	     ? "live"
				   : durable_state_is_preview(state, c.name) ? "preview"
									     : "idle";

		summarize(col, c.name, text, sizeof(text));
		json_object_object_add(jr, "containers", json_object_new_string(text));
		json_object_object_add(jr, "role", json_object_new_string(role));
		json_object_object_add(jr, "commit", jstr(c.commit));
		json_object_object_add(jr, "deployed_at", jstr(c.deployed_at));
		json_object_object_add(jr, "status", jstr(c.status));
		json_object_object_add(jc, c.name, jr);
	}
	return jc;
}

/* One env: its --json object into out->doc (a new reference), what only the
 * text shows into the rest of out.  -1 (err set) when the engine fails. */
static int status_env(const char *root, const char *app, const char *env,
		      struct docker_client *docker, struct status_env *out, struct error *err)
{
	_cleanup_env_state_ struct env_state *state = NULL;
	_cleanup_json_ json_object *dur = NULL, *col = NULL;
	json_object *je, *hist = NULL, *split;
	const char *canary, *live;
	char text[256];
	int weight = 0;

	memset(out, 0, sizeof(*out));
	if (durable_state_load(root, env, &state, err) < 0) {
		log_warn("env %s: %s", env, err->msg);
		error_clear(err);
		return 1;
	}
	dur = containers_of(docker, app, env, "durable", err);
	col = containers_of(docker, app, env, "color", err);
	if (!dur || !col)
		return -1;
	durable_history_read(root, env, 5, &hist, err);
	error_clear(err);
	durable_lock_query(root, env, &out->lock, err);
	error_clear(err);

	live = durable_state_live(state);
	canary = durable_state_canary(state, &weight);
	out->doc = je = json_object_new_object();
	json_object_object_add(je, "app", json_object_new_string(app));
	json_object_object_add(je, "env", json_object_new_string(env));
	json_object_object_add(je, "durable",
			       json_object_new_string(summarize(dur, NULL, text, sizeof(text))));
	json_object_object_add(je, "live", jstr(live));
	json_object_object_add(je, "preview", jstr(durable_state_preview(state)));
	/* the live entry's split: {"blue": 90, "green": 10} */
	split = json_object_new_object();
	if (live)
		json_object_object_add(split, live, json_object_new_int(100 - weight));
	if (canary)
		json_object_object_add(split, canary, json_object_new_int(weight));
	json_object_object_add(je, "split", split);
	json_object_object_add(je, "colors", status_colors(state, col));
	json_object_object_add(je, "history", hist ? hist : json_object_new_array());

	out->live_port = durable_state_router_port(state, ENV_ENTRY_LIVE);
	out->preview_port = durable_state_router_port(state, ENV_ENTRY_PREVIEW);
	if (canary) {
		snprintf(out->canary, sizeof(out->canary), "%s", canary);
		out->canary_weight = weight;
		snprintf(out->canary_since, sizeof(out->canary_since), "%s",
			 durable_state_canary_since(state) ? durable_state_canary_since(state)
							   : "?");
	}
	return 0;
}

static int status_app(const char *root, const char *app, struct docker_client *docker,
		      struct status_report *r, struct error *err)
{
	char **envs = NULL;
	size_t nenvs = 0, i;
	int rc = 0;

	if (durable_env_list(root, &envs, &nenvs, err) < 0)
		return error_wrap(err, "list envs in %s", root);
	for (i = 0; i < nenvs && rc == 0; i++) {
		struct status_env e;
		struct status_env *grown;
		int one = status_env(root, app, envs[i], docker, &e, err);

		if (one < 0)
			rc = -1;
		if (one)
			continue;
		grown = realloc(r->envs, (r->nenvs + 1) * sizeof(*grown));
		if (!grown) {
			json_object_put(e.doc);
			rc = error_set(err, ERR_SYSTEM, "out of memory");
			continue;
		}
		r->envs = grown;
		json_object_array_add(r->doc, e.doc); /* the array owns it, e.doc borrows */
		r->envs[r->nenvs++] = e;
	}
	durable_env_list_free(envs);
	return rc;
}

void status_report_release(struct status_report *r)
{
	json_object_put(r->doc);
	free(r->envs);
	memset(r, 0, sizeof(*r));
}

int status_collect(struct config *cfg, struct docker_client *docker, struct status_report *r,
		   struct error *err)
{
	char apps[4096];
	DIR *dir;
	struct dirent *de;
	int rc = 0;

	memset(r, 0, sizeof(*r));
	r->doc = json_object_new_array();
	if (!r->doc)
		return error_set(err, ERR_SYSTEM, "out of memory");
	snprintf(apps, sizeof(apps), "%s/apps", cfg->state_dir);
	dir = opendir(apps);
	while (dir && (de = readdir(dir))) {
		char root[4096];

		if (de->d_name[0] == '.')
			continue;
		deploy_state_root(cfg, de->d_name, root, sizeof(root));
		if (status_app(root, de->d_name, docker, r, err) < 0) {
			rc = -1;
			break;
		}
	}
	if (dir)
		closedir(dir);
	if (rc < 0)
		status_report_release(r);
	return rc;
}
