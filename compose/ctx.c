/* SPDX-License-Identifier: MIT */
/* The load context: variables, confinement, the expanded document's budget. */
#include "compose/ctx.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/fs.h"
#include "compose/kv.h"
#include "compose/node.h"
#include "compose/scalar.h"

char *ctx_abspath(const char *dir, const char *p)
{
	_cleanup_free_ char *joined = NULL;
	char *out, *seg, *save = NULL;
	size_t len = 0;

	if (p[0] == '/')
		joined = strdup(p);
	else if (asprintf(&joined, "%s/%s", dir, p) < 0)
		joined = NULL;
	if (!joined)
		return NULL;
	out = malloc(strlen(joined) + 2);
	if (!out)
		return NULL;
	out[0] = '\0';
	for (seg = strtok_r(joined, "/", &save); seg; seg = strtok_r(NULL, "/", &save)) {
		if (!strcmp(seg, "."))
			continue;
		if (!strcmp(seg, "..")) {
			char *slash = strrchr(out, '/');

			if (slash) {
				*slash = '\0';
				len = (size_t)(slash - out);
			}
			continue;
		}
		out[len++] = '/';
		memcpy(out + len, seg, strlen(seg) + 1);
		len += strlen(seg);
	}
	if (!len) {
		out[0] = '/';
		out[1] = '\0';
	}
	return out;
}

void ctx_release(struct compose_ctx *ctx)
{
	size_t i;

	for (i = 0; i < ctx->nfiles; i++)
		free(ctx->files[i]);
	free(ctx->files);
	for (i = 0; i < ctx->nwarned; i++)
		free(ctx->warned_vars[i]);
	free(ctx->warned_vars);
	free(ctx->project_dir);
	free(ctx->root);
	for (i = 0; i < ctx->ndotenv; i++) {
		free(ctx->dotenv[i].key);
		free(ctx->dotenv[i].value);
	}
	free(ctx->dotenv);
	for (i = 0; i < ctx->ninc_env; i++) {
		free(ctx->inc_env[i].key);
		free(ctx->inc_env[i].value);
	}
	free(ctx->inc_env);
	free(ctx->including);
	scalar_strv_free(ctx->disabled, ctx->ndisabled);
}

const char *ctx_var(struct compose_ctx *ctx, const char *name)
{
	const char *v = ctx->lookup ? ctx->lookup(name, ctx->payload) : NULL;
	size_t i;

	if (v)
		return v;
	for (i = 0; i < ctx->ndotenv; i++)
		if (!strcmp(ctx->dotenv[i].key, name))
			return ctx->dotenv[i].value;
	for (i = 0; i < ctx->ninc_env; i++)
		if (!strcmp(ctx->inc_env[i].key, name))
			return ctx->inc_env[i].value;
	return NULL;
}

const char *ctx_confine(const struct compose_ctx *ctx, const char *abs, const char **rel)
{
	const char *base = ctx->root ? ctx->root : ctx->project_dir;

	*rel = fs_rel_below(base, abs);
	return *rel ? base : NULL;
}

bool ctx_budget_add(struct compose_ctx *ctx, size_t bytes)
{
	if (bytes > COMPOSE_EXPANDED_MAX - ctx->expanded) {
		ctx->expanded = COMPOSE_EXPANDED_MAX;
		return false;
	}
	ctx->expanded += bytes;
	return true;
}
