/* SPDX-License-Identifier: MIT */
#ifndef COMPOSE_YAML_H
#define COMPOSE_YAML_H

#include <stddef.h>

#include "common/error.h"
#include "compose/ctx.h"
#include "compose/node.h"

/* yaml.c: read text into a tree, interpolated.  *out is a mapping. */
int compose_yaml_load(struct compose_ctx *ctx, const char *file, const char *text, size_t len,
		      struct cnode **out, struct error *err);

#endif
