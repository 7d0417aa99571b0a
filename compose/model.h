/* SPDX-License-Identifier: MIT */
#ifndef COMPOSE_MODEL_H
#define COMPOSE_MODEL_H

#include "common/error.h"
#include "compose/compose.h"
#include "compose/ctx.h"
#include "compose/node.h"

/* model.c: the merged tree -> struct compose_project, every type checked. */
int compose_model_build(struct compose_ctx *ctx, struct cnode *root,
			const struct compose_load_opts *opts, struct compose_project **out,
			struct error *err);

#endif
