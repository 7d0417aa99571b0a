/* SPDX-License-Identifier: MIT */
#ifndef STAGES_STATUS_H
#define STAGES_STATUS_H

/* executor status as data (stages/status.c); executor/status.c prints it. */

#include <json-c/json.h>

#include "common/error.h"
#include "durable/lock.h"
#include "stages/context.h"

/* One env.  doc is what `status --json` shows of it; the rest only the text. */
struct status_env {
	json_object *doc; /* borrowed from the report's doc */
	int live_port, preview_port;
	/* the canary that splits the live entry: "" and 0 when none */
	char canary[ACTION_NAME_MAX];
	int canary_weight;
	char canary_since[32];
	struct durable_lock_info lock;
};

struct status_report {
	json_object *doc; /* the array `status --json` prints, one object per env */
	struct status_env *envs;
	size_t nenvs;
};

/* Every env of every app under the state directory, with its containers
 * from the engine.  An env whose state cannot be read is left out with a
 * warning; an engine that fails is -1. */
int status_collect(struct config *cfg, struct docker_client *docker, struct status_report *r,
		   struct error *err);
void status_report_release(struct status_report *r);

/* "42s ago", "3m ago", "5h ago", "2d ago" of an RFC 3339 time; "?" when it
 * is not one. */
void status_age(char *out, size_t size, const char *rfc3339);

#endif
