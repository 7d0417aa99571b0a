/* SPDX-License-Identifier: MIT */
#ifndef COMPOSE_SCHEMA_H
#define COMPOSE_SCHEMA_H

#include "common/error.h"
#include "compose/ctx.h"
#include "compose/node.h"

/* schema.c: warn about metadata keys; refuse unknown keys and keys that would be dropped. */
int compose_schema_check(struct compose_ctx *ctx, const struct cnode *root, struct error *err);

#endif
