/* SPDX-License-Identifier: MIT */
#ifndef EXECUTOR_STATUS_H
#define EXECUTOR_STATUS_H

/* executor status [--json] (executor/status.c): stages/status.c collects,
 * this prints. */

#include "common/config.h"
#include "common/error.h"
#include "docker/docker.h"
#include "stages/status.h"

int status_print(struct config *cfg, struct docker_client *docker, int json, struct error *err);

#endif
