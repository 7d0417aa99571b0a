/* SPDX-License-Identifier: MIT */
#ifndef STAGES_ROLLBACK_H
#define STAGES_ROLLBACK_H

/* rollback:<color> (stages/rollback.c). */

#include "common/error.h"
#include "stages/context.h"

int action_rollback(struct deploy_ctx *d, struct error *err);

#endif
