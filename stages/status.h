/* SPDX-License-Identifier: MIT */
#ifndef STAGES_STATUS_H
#define STAGES_STATUS_H

/* executor status (stages/status.c). */

#include "common/error.h"
#include "stages/context.h"

int action_status(struct config *cfg, struct docker_client *docker, int json, struct error *err);

#endif
