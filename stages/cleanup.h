/* SPDX-License-Identifier: MIT */
#ifndef STAGES_CLEANUP_H
#define STAGES_CLEANUP_H

/* cleanup:<color> (stages/cleanup.c). */

#include "common/error.h"
#include "stages/context.h"

int action_color_cleanup(struct deploy_ctx *d, struct error *err);

#endif
