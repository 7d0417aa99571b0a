/* SPDX-License-Identifier: MIT */
#ifndef STAGES_DEPLOY_H
#define STAGES_DEPLOY_H

/* deploy:<color> (stages/deploy.c). */

#include "common/error.h"
#include "stages/context.h"

int action_deploy(struct deploy_ctx *d, const char *dotenv_path, struct error *err);

#endif
