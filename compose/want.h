/* SPDX-License-Identifier: MIT */
#ifndef COMPOSE_WANT_H
#define COMPOSE_WANT_H

/*
 * want.c: the model builder's state and its typed readers, shared by model.c
 * and service.c.  Each want_*() reads node n (NULL or null: the default stays,
 * unless said otherwise) and fails with one "file:line: path: expected ..."
 * error (diag.c).
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "compose/compose.h"
#include "compose/ctx.h"
#include "compose/node.h"

struct mb {
	struct compose_ctx *ctx;
	struct compose_project *p;
	struct error *err;
};

/* ERR_SYSTEM "out of memory"; returns -1. */
int want_oom(struct mb *m);
#if defined(__clang_analyzer__) && !defined(COMPOSE_WANT_DEFINE)
/* always -1: the analyzer does not look into want.c (common/error.h) */
#define want_oom(m) (want_oom(m), -1)
#endif
int want_string(struct mb *m, const struct cnode *n, const char *path, char **out);
int want_nonempty(struct mb *m, const struct cnode *n, const char *path, char **out);
int want_bool(struct mb *m, const struct cnode *n, const char *path, bool *out);
int want_int(struct mb *m, const struct cnode *n, const char *path, long min, long max, long *out);
int want_duration(struct mb *m, const struct cnode *n, const char *path, int64_t *ms);
/* n must be a mapping (n not NULL). */
int want_map(struct mb *m, const struct cnode *n, const char *path);
int want_argv(struct mb *m, const struct cnode *n, const char *path, struct compose_argv *out);
int want_labels(struct mb *m, const struct cnode *n, const char *path, struct compose_kv **kv,
		size_t *nkv);
/* A string list (cap_add, dns...): a string is a list of one when one_ok. */
int want_strv(struct mb *m, const struct cnode *n, const char *path, bool one_ok, char ***out,
	      size_t *nout);

/*
 * A top-level section of named definitions (networks:, volumes:, secrets:,
 * configs:): absent or null is nothing; else a mapping, read into an array of
 * its entries plus one spare, zeroed (*out, items of size bytes), one() called
 * on each entry in order.  *nout counts the items one() was called on, so that
 * the caller frees them all after a failure too.
 */
typedef int (*want_def_fn)(struct mb *m, const char *section, const struct centry *e, void *item);
int want_defs(struct mb *m, const struct cnode *root, const char *section, size_t size,
	      want_def_fn one, void **out, size_t *nout);

#endif
