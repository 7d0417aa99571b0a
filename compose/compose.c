/* SPDX-License-Identifier: MIT */
/* compose_load(): read each file, check, normalize, merge, build the model. */
#include "compose/internal.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fs.h"
#include "common/log.h"

void diag_add(struct compose_diags *d, const char *file, int line, const char *fmt, ...)
{
	struct compose_diag *items, *it;
	va_list ap;
	char *msg = NULL;
	int n;

	if (!d)
		return;
	va_start(ap, fmt);
	n = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if (d->n == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 8;

		items = realloc(d->items, cap * sizeof(*items));
		if (!items) {
			free(msg);
			return;
		}
		d->items = items;
		d->cap = cap;
	}
	it = &d->items[d->n];
	it->file = strdup(file ? file : "");
	it->line = line;
	it->message = msg;
	if (!it->file) {
		free(msg);
		return;
	}
	d->n++;
}

void compose_diags_release(struct compose_diags *d)
{
	size_t i;

	if (!d)
		return;
	for (i = 0; i < d->n; i++) {
		free(d->items[i].file);
		free(d->items[i].message);
	}
	free(d->items);
	d->items = NULL;
	d->n = d->cap = 0;
}

static int vat_error(struct error *err, const char *file, int line, const char *path,
		     const char *fmt, va_list ap) __attribute__((format(printf, 5, 0)));

static int vat_error(struct error *err, const char *file, int line, const char *path,
		     const char *fmt, va_list ap)
{
	_cleanup_free_ char *msg = NULL;
	char where[ERROR_MSG_MAX / 2];

	/* whole, not cut: error_set masks secrets before it cuts the message */
	if (vasprintf(&msg, fmt, ap) < 0)
		return error_set(err, ERR_SYSTEM, "out of memory");
	if (line > 0)
		snprintf(where, sizeof(where), "%s:%d", file ? file : "?", line);
	else
		snprintf(where, sizeof(where), "%s", file ? file : "?");
	if (path && *path)
		return error_set(err, ERR_COMPOSE, "%s: %s: %s", where, path, msg);
	return error_set(err, ERR_COMPOSE, "%s: %s", where, msg);
}

int at_error(struct error *err, const char *file, int line, const char *path, const char *fmt, ...)
{
	va_list ap;
	int ret;

	va_start(ap, fmt);
	ret = vat_error(err, file, line, path, fmt, ap);
	va_end(ap);
	return ret;
}

int node_error(struct error *err, const struct cnode *n, const char *path, const char *fmt, ...)
{
	va_list ap;
	int ret;

	va_start(ap, fmt);
	ret = vat_error(err, n ? n->file : NULL, n ? n->line : 0, path, fmt, ap);
	va_end(ap);
	return ret;
}

char *compose_abspath(const char *dir, const char *p)
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

static char *default_project_dir(const char *file)
{
	char *copy = strdup(file), *slash, *dir = NULL;
	char cwd[PATH_MAX];

	if (!copy)
		return NULL;
	slash = strrchr(copy, '/');
	if (slash == copy)
		slash[1] = '\0';
	else if (slash)
		*slash = '\0';
	else
		snprintf(copy, strlen(file) + 1, "%s", "."); /* names are never empty */
	if (copy[0] == '/')
		dir = compose_abspath("/", copy);
	else if (getcwd(cwd, sizeof(cwd)))
		dir = compose_abspath(cwd, copy);
	free(copy);
	return dir;
}

static void ctx_release(struct compose_ctx *ctx)
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
}

static int load_one(struct compose_ctx *ctx, const struct compose_load_opts *opts, size_t i,
		    struct cnode **out, struct error *err)
{
	_cleanup_buf_ struct buf text = BUF_INIT;
	const char *file = ctx->files[i];
	const char *data;
	size_t len;

	if (opts->contents && opts->contents[i]) {
		data = opts->contents[i];
		len = strlen(data);
	} else if (ctx->root) {
		_cleanup_free_ char *abs = NULL;
		char cwd[PATH_MAX];
		const char *rel;

		if (file[0] != '/' && !getcwd(cwd, sizeof(cwd)))
			return error_set_errno(err, ERR_IO, errno, "current directory");
		abs = compose_abspath(cwd, file);
		if (!abs)
			return error_set(err, ERR_SYSTEM, "out of memory");
		rel = fs_rel_below(ctx->root, abs);
		if (!rel)
			return error_set(
				err, ERR_POLICY,
				"stack file %s is outside the repository; name a file in it", file);
		buf_init(&text, COMPOSE_FILE_MAX);
		if (fs_read_beneath(ctx->root, rel, &text, COMPOSE_FILE_MAX, err) < 0) {
			if (err->cls == ERR_POLICY)
				return -1;
			if (err->code == EFBIG) {
				error_clear(err);
				return error_set(err, ERR_COMPOSE,
						 "%s: the file is larger than %u bytes", file,
						 COMPOSE_FILE_MAX);
			}
			return error_wrap(err, "read stack file");
		}
		data = buf_str(&text);
		len = text.len;
	} else {
		buf_init(&text, COMPOSE_FILE_MAX);
		if (fs_read_file(file, &text, COMPOSE_FILE_MAX, err) < 0) {
			struct stat st;

			/* too big is the file's fault (a build failure), not the host's */
			if (stat(file, &st) == 0 && st.st_size > (off_t)COMPOSE_FILE_MAX) {
				error_clear(err);
				return error_set(err, ERR_COMPOSE,
						 "%s: the file is larger than %u bytes", file,
						 COMPOSE_FILE_MAX);
			}
			return error_wrap(err, "read stack file");
		}
		data = buf_str(&text);
		len = text.len;
	}
	if (compose_yaml_load(ctx, file, data, len, out, err) < 0)
		return -1;
	compose_schema_check(ctx, *out);
	if (compose_normalize(*out, err) < 0) {
		cnode_free(*out);
		*out = NULL;
		return -1;
	}
	return 0;
}

static int load(struct compose_ctx *ctx, const struct compose_load_opts *opts,
		struct compose_project **out, struct error *err)
{
	_cleanup_cnode_ struct cnode *base = NULL;
	size_t i;

	ctx->files = calloc(opts->nfiles, sizeof(*ctx->files));
	if (!ctx->files)
		return error_set(err, ERR_SYSTEM, "out of memory");
	for (i = 0; i < opts->nfiles; i++) {
		if (!opts->files[i] || !*opts->files[i])
			return error_set(err, ERR_COMPOSE, "stack file %zu has no name", i + 1);
		ctx->files[i] = strdup(opts->files[i]);
		if (!ctx->files[i])
			return error_set(err, ERR_SYSTEM, "out of memory");
		ctx->nfiles++;
	}
	if (opts->project_dir) {
		char cwd[PATH_MAX];

		if (opts->project_dir[0] != '/' && !getcwd(cwd, sizeof(cwd)))
			return error_set_errno(err, ERR_IO, errno, "current directory");
		ctx->project_dir = compose_abspath(cwd, opts->project_dir);
	} else {
		ctx->project_dir = default_project_dir(opts->files[0]);
	}
	if (!ctx->project_dir)
		return error_set(err, ERR_SYSTEM, "out of memory");
	if (opts->root) {
		char cwd[PATH_MAX];

		if (opts->root[0] != '/' && !getcwd(cwd, sizeof(cwd)))
			return error_set_errno(err, ERR_IO, errno, "current directory");
		ctx->root = compose_abspath(cwd, opts->root);
		if (!ctx->root)
			return error_set(err, ERR_SYSTEM, "out of memory");
	}

	for (i = 0; i < opts->nfiles; i++) {
		struct cnode *tree = NULL;

		if (load_one(ctx, opts, i, &tree, err) < 0)
			return -1;
		if (!base) {
			base = tree;
		} else if (compose_merge(base, tree, err) < 0) {
			return -1;
		}
	}
	compose_prune(base);
	return compose_model_build(ctx, base, opts, out, err);
}

int compose_load(const struct compose_load_opts *opts, struct compose_project **out,
		 struct compose_diags *diags, struct error *err)
{
	struct compose_diags local = COMPOSE_DIAGS_INIT;
	struct compose_ctx ctx = {0};
	size_t i;
	int ret;

	*out = NULL;
	if (!opts || !opts->files || opts->nfiles == 0)
		return error_set(err, ERR_COMPOSE, "no stack file given");
	ctx.lookup = opts->lookup;
	ctx.payload = opts->payload;
	ctx.diags = diags ? diags : &local;
	ret = load(&ctx, opts, out, err);
	ctx_release(&ctx);
	if (!diags) {
		for (i = 0; i < local.n; i++) {
			if (local.items[i].line > 0)
				log_warn("%s:%d: %s", local.items[i].file, local.items[i].line,
					 local.items[i].message);
			else
				log_warn("%s: %s", local.items[i].file, local.items[i].message);
		}
		compose_diags_release(&local);
	}
	return ret;
}
