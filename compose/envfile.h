/* SPDX-License-Identifier: MIT */
#ifndef COMPOSE_ENVFILE_H
#define COMPOSE_ENVFILE_H

#include <stddef.h>

#include "common/error.h"
#include "compose/compose.h"
#include "compose/ctx.h"

/* envfile.c: parse dotenv text; appends to *kv (replacing earlier keys). */
int compose_envfile_parse(struct compose_ctx *ctx, const char *path, const char *text,
			  struct compose_kv **kv, size_t *n, struct error *err);
/* The `format: raw` of env_file: KEY=value taken as written, no quotes, no interpolation. */
int compose_envfile_parse_raw(const char *path, const char *text, struct compose_kv **kv, size_t *n,
			      struct error *err);

#endif
