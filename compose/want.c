/* SPDX-License-Identifier: MIT */
/* The model builder's typed readers: each value checked, each failure file:line. */
#define COMPOSE_WANT_DEFINE /* want_oom itself */
#include "compose/want.h"

#include <stdlib.h>
#include <string.h>

#include "compose/diag.h"
#include "compose/kv.h"
#include "compose/scalar.h"

int want_oom(struct mb *m)
{
	return error_set(m->err, ERR_SYSTEM, "out of memory");
}

int want_string(struct mb *m, const struct cnode *n, const char *path, char **out)
{
	*out = NULL;
	if (!n || n->kind == CN_NULL)
		return 0;
	if (n->kind != CN_SCALAR)
		return diag_error(m->err, n, path, "expected a string, got %s", cnode_kind_name(n));
	*out = strdup(n->str);
	return *out ? 0 : want_oom(m);
}

int want_nonempty(struct mb *m, const struct cnode *n, const char *path, char **out)
{
	if (want_string(m, n, path, out) < 0)
		return -1;
	if (*out && !**out) {
		free(*out);
		*out = NULL;
		return diag_error(m->err, n, path, "must not be empty");
	}
	return 0;
}

/* null keeps the default in *out */
int want_bool(struct mb *m, const struct cnode *n, const char *path, bool *out)
{
	if (!n || n->kind == CN_NULL)
		return 0;
	if (n->kind != CN_SCALAR)
		return diag_error(m->err, n, path, "expected true or false, got %s",
				  cnode_kind_name(n));
	if (scalar_bool(n->str, out) < 0)
		return diag_error(m->err, n, path, "expected true or false, got \"%s\"", n->str);
	return 0;
}

int want_int(struct mb *m, const struct cnode *n, const char *path, long min, long max, long *out)
{
	if (!n || n->kind == CN_NULL)
		return 0;
	if (n->kind != CN_SCALAR)
		return diag_error(m->err, n, path, "expected a number, got %s", cnode_kind_name(n));
	if (scalar_long(n->str, min, max, out) < 0)
		return diag_error(m->err, n, path,
				  "expected a whole number from %ld to %ld, got \"%s\"", min, max,
				  n->str);
	return 0;
}

int want_duration(struct mb *m, const struct cnode *n, const char *path, int64_t *ms)
{
	if (!n || n->kind == CN_NULL)
		return 0;
	if (n->kind != CN_SCALAR)
		return diag_error(m->err, n, path, "expected a duration, got %s",
				  cnode_kind_name(n));
	if (scalar_duration_ms(n->str, ms) < 0)
		return diag_error(m->err, n, path,
				  "expected a duration like 1m30s, 10s or 500ms, got \"%s\"",
				  n->str);
	return 0;
}

int want_map(struct mb *m, const struct cnode *n, const char *path)
{
	if (n->kind != CN_MAP)
		return diag_error(m->err, n, path, "expected a mapping, got %s",
				  cnode_kind_name(n));
	return 0;
}

int want_argv(struct mb *m, const struct cnode *n, const char *path, struct compose_argv *out)
{
	char ipath[COMPOSE_PATH_MAX];
	size_t i;

	if (!n || n->kind == CN_NULL)
		return 0;
	if (n->kind == CN_SCALAR) {
		if (scalar_shell_split(n->str, &out->argv, &out->argc) < 0)
			return diag_error(m->err, n, path,
					  "unterminated quote or trailing backslash in \"%s\"",
					  n->str);
		out->set = true;
		return 0;
	}
	if (n->kind != CN_SEQ)
		return diag_error(m->err, n, path, "expected a string or a list of strings, got %s",
				  cnode_kind_name(n));
	out->argv = calloc(n->n + 1, sizeof(*out->argv));
	if (!out->argv)
		return want_oom(m);
	out->set = true;
	for (i = 0; i < n->n; i++) {
		const struct cnode *it = n->items[i].val;

		if (it->kind != CN_SCALAR) {
			path_index(ipath, sizeof(ipath), path, i);
			return diag_error(m->err, it, ipath, "expected a string, got %s",
					  cnode_kind_name(it));
		}
		out->argv[i] = strdup(it->str);
		if (!out->argv[i])
			return want_oom(m);
		out->argc++;
	}
	return 0;
}

/* A mapping of names to scalar values (labels); null values become "". */
int want_labels(struct mb *m, const struct cnode *n, const char *path, struct compose_kv **kv,
		size_t *nkv)
{
	char sub[COMPOSE_PATH_MAX];
	size_t i;

	if (!n || n->kind == CN_NULL)
		return 0;
	if (want_map(m, n, path) < 0)
		return -1;
	for (i = 0; i < n->n; i++) {
		const struct cnode *v = n->items[i].val;

		path_key(sub, sizeof(sub), path, n->items[i].key);
		if (!*n->items[i].key)
			return diag_error(m->err, v, path, "empty label name");
		if (v->kind != CN_SCALAR && v->kind != CN_NULL)
			return diag_error(m->err, v, sub, "expected a string, got %s",
					  cnode_kind_name(v));
		if (kv_set(kv, nkv, n->items[i].key, v->kind == CN_SCALAR ? v->str : "") < 0)
			return want_oom(m);
	}
	return 0;
}

int want_strv(struct mb *m, const struct cnode *n, const char *path, bool one_ok, char ***out,
	      size_t *nout)
{
	char ipath[COMPOSE_PATH_MAX];
	size_t i;

	if (!n || n->kind == CN_NULL)
		return 0;
	if (n->kind == CN_SCALAR && one_ok) {
		*out = calloc(2, sizeof(char *));
		if (!*out || !((*out)[0] = strdup(n->str)))
			return want_oom(m);
		*nout = 1;
		return 0;
	}
	if (n->kind != CN_SEQ)
		return diag_error(m->err, n, path, "expected a list of strings, got %s",
				  cnode_kind_name(n));
	*out = calloc(n->n + 1, sizeof(char *));
	if (!*out)
		return want_oom(m);
	*nout = 0;
	for (i = 0; i < n->n; i++) {
		const struct cnode *it = n->items[i].val;

		path_index(ipath, sizeof(ipath), path, i);
		if (it->kind != CN_SCALAR || !*it->str)
			return diag_error(m->err, it, ipath, "expected a non-empty string, got %s",
					  it->kind == CN_SCALAR ? "an empty string"
								: cnode_kind_name(it));
		(*out)[i] = strdup(it->str);
		if (!(*out)[i])
			return want_oom(m);
		(*nout)++;
	}
	return 0;
}

int want_defs(struct mb *m, const struct cnode *root, const char *section, size_t size,
	      want_def_fn one, void **out, size_t *nout)
{
	const struct cnode *sec = cnode_get(root, section);
	size_t i;

	if (!sec || sec->kind == CN_NULL)
		return 0;
	if (want_map(m, sec, section) < 0)
		return -1;
	*out = calloc(sec->n + 1, size);
	if (!*out)
		return want_oom(m);
	for (i = 0; i < sec->n; i++) {
		(*nout)++;
		if (one(m, section, &sec->items[i], (char *)*out + i * size) < 0)
			return -1;
	}
	return 0;
}
