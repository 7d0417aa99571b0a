/* SPDX-License-Identifier: MIT */
#ifndef STAGES_COLOR_H
#define STAGES_COLOR_H

/* What the color actions (deploy, promote, rollback) share (stages/color.c). */

#include <json-c/json.h>

#include "common/error.h"
#include "durable/state.h"
#include "stages/context.h"

/* The env's state, refused (ERR_JOB) when its durable layer is not set up;
 * the env's CA loaded for the probes. */
int color_state_load(struct deploy_ctx *d, struct env_state **state, struct error *err);
/* Every container of the color running and healthy: 0, else -1 (a health
 * check still starting is waited for, up to a minute). */
int color_healthy(struct deploy_ctx *d, const char *color, struct error *err);

#endif
