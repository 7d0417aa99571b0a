/* SPDX-License-Identifier: MIT */
#ifndef COMPOSE_CTX_H
#define COMPOSE_CTX_H

/*
 * ctx.c: the load context compose_load() (load.c) hands to the passes: the
 * variables, the project directory and root the files are confined to, and
 * the budget of the expanded document.
 */

#include <stdbool.h>
#include <stddef.h>

#include "compose/compose.h"

struct compose_ctx {
	compose_lookup_fn lookup;
	void *payload;
	struct compose_diags *diags;
	char **files; /* interned file names, as given */
	size_t nfiles;
	char *project_dir;  /* absolute */
	char *root;	    /* absolute, or NULL: compose_load_opts.root */
	char **warned_vars; /* unset variables already warned about */
	size_t nwarned;
	size_t expanded; /* bytes of the expanded document so far (COMPOSE_EXPANDED_MAX) */
	/* the .env file's variables (the caller's win over them) */
	struct compose_kv *dotenv;
	size_t ndotenv;
	/* services left out by profiles, for messages about references to them */
	char **disabled;
	size_t ndisabled;
	int include_depth;
	char **including; /* the files being included, to refuse a cycle (not owned) */
	size_t nincluding;
	/* an included project's env files: below the caller's and the .env's */
	struct compose_kv *inc_env;
	size_t ninc_env;
	const struct compose_load_opts *opts;
};

/* Free what the context owns (not the context itself). */
void ctx_release(struct compose_ctx *ctx);

/* A variable: the caller's, else the .env file's, else NULL. */
const char *ctx_var(struct compose_ctx *ctx, const char *name);

/* Is the file at abs (absolute) readable under the confinement rules?  Returns the
 * base directory to read it beneath and the path relative to it, or NULL when it lies
 * outside (root, else the project directory). */
const char *ctx_confine(const struct compose_ctx *ctx, const char *abs, const char **rel);

/* Count bytes against COMPOSE_EXPANDED_MAX; false once the budget is exceeded. */
bool ctx_budget_add(struct compose_ctx *ctx, size_t bytes);

/* An absolute, lexically cleaned path: p itself when absolute, else dir/p (the project
 * directory, mostly; malloc'd, NULL when out of memory). */
char *ctx_abspath(const char *dir, const char *p);

#endif
