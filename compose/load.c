/* SPDX-License-Identifier: MIT */
/* compose_load(): read each file, check, normalize, merge, build the model. */
#define COMPOSE_ERROR_DEFINE /* diag_error and diag_error_at themselves */
#include "compose/compose.h"

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
#include "compose/ctx.h"
#include "compose/diag.h"
#include "compose/envfile.h"
#include "compose/kv.h"
#include "compose/merge.h"
#include "compose/model.h"
#include "compose/node.h"
#include "compose/scalar.h"
#include "compose/schema.h"
#include "compose/yaml.h"

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
		dir = ctx_abspath("/", copy);
	else if (getcwd(cwd, sizeof(cwd)))
		dir = ctx_abspath(cwd, copy);
	free(copy);
	return dir;
}

/* A file name the nodes of a file may point at for as long as the load runs. */
static const char *intern(struct compose_ctx *ctx, const char *name)
{
	char **files;
	size_t i;

	for (i = 0; i < ctx->nfiles; i++)
		if (!strcmp(ctx->files[i], name))
			return ctx->files[i];
	files = realloc(ctx->files, (ctx->nfiles + 1) * sizeof(*files));
	if (!files)
		return NULL;
	ctx->files = files;
	files[ctx->nfiles] = strdup(name);
	if (!files[ctx->nfiles])
		return NULL;
	return files[ctx->nfiles++];
}

static char *dir_of(const char *abs)
{
	const char *slash = strrchr(abs, '/');

	if (!slash || slash == abs)
		return strdup("/");
	return strndup(abs, (size_t)(slash - abs));
}

/*
 * Read a stack file from disk: beneath the root when there is one (a link
 * that leads out is refused), else as named.  name is what messages say.
 */
static int read_stack_file(struct compose_ctx *ctx, const char *name, const char *abs,
			   struct buf *text, struct error *err)
{
	buf_init(text, COMPOSE_FILE_MAX);
	if (ctx->root) {
		const char *rel = fs_rel_below(ctx->root, abs);

		if (!rel)
			return error_set(
				err, ERR_POLICY,
				"stack file %s is outside the repository; name a file in it", name);
		if (fs_read_beneath(ctx->root, rel, text, COMPOSE_FILE_MAX, err) < 0) {
			if (err->cls == ERR_POLICY)
				return -1;
			if (err->code == EFBIG) {
				error_clear(err);
				return error_set(err, ERR_COMPOSE,
						 "%s: the file is larger than %u bytes", name,
						 COMPOSE_FILE_MAX);
			}
			return error_wrap(err, "read stack file");
		}
		return 0;
	}
	if (fs_read_file(abs, text, COMPOSE_FILE_MAX, err) < 0) {
		struct stat st;

		/* too big is the file's fault (a build failure), not the host's */
		if (stat(abs, &st) == 0 && st.st_size > (off_t)COMPOSE_FILE_MAX) {
			error_clear(err);
			return error_set(err, ERR_COMPOSE, "%s: the file is larger than %u bytes",
					 name, COMPOSE_FILE_MAX);
		}
		return error_wrap(err, "read stack file");
	}
	return 0;
}

/* text -> tree: YAML, interpolation, key check, list forms normalized */
static int parse_file(struct compose_ctx *ctx, const char *file, const char *data, size_t len,
		      struct cnode **out, struct error *err)
{
	if (compose_yaml_load(ctx, file, data, len, out, err) < 0)
		return -1;
	if (compose_schema_check(ctx, *out, err) < 0 || compose_normalize(*out, err) < 0) {
		cnode_free(*out);
		*out = NULL;
		return -1;
	}
	return 0;
}

static int load_path(struct compose_ctx *ctx, const char *abs, struct cnode **out,
		     struct error *err)
{
	_cleanup_buf_ struct buf text = BUF_INIT;
	const char *file = intern(ctx, abs);

	if (!file)
		return error_set(err, ERR_SYSTEM, "out of memory");
	if (read_stack_file(ctx, file, abs, &text, err) < 0)
		return -1;
	return parse_file(ctx, file, buf_str(&text), text.len, out, err);
}

/* ---- relative paths of a file loaded from another directory ---- */

static int rebase_scalar(struct cnode *n, const char *dir, bool dot_only)
{
	char *abs;

	if (!n || n->kind != CN_SCALAR || !*n->str || n->str[0] == '/' || n->str[0] == '~')
		return 0;
	if (dot_only && n->str[0] != '.')
		return 0;
	if (strstr(n->str, "://") || !strncmp(n->str, "git@", 4))
		return 0;
	abs = ctx_abspath(dir, n->str);
	if (!abs)
		return -1;
	free(n->str);
	n->str = abs;
	return 0;
}

static int rebase_files(struct cnode *seq, const char *dir)
{
	size_t i;

	if (!seq || seq->kind != CN_SEQ)
		return 0;
	for (i = 0; i < seq->n; i++) {
		struct cnode *it = seq->items[i].val;

		if (rebase_scalar(it->kind == CN_MAP ? cnode_get(it, "path") : it, dir, false) < 0)
			return -1;
	}
	return 0;
}

/* Paths in a service that resolve against its file's directory: make them absolute. */
static int rebase_service(struct cnode *svc, const char *dir)
{
	struct cnode *vols = cnode_get(svc, "volumes");
	size_t i;

	if (svc->kind != CN_MAP)
		return 0;
	if (rebase_scalar(cnode_get(cnode_get(svc, "build"), "context"), dir, false) < 0 ||
	    rebase_files(cnode_get(svc, "env_file"), dir) < 0 ||
	    rebase_files(cnode_get(svc, "label_file"), dir) < 0)
		return -1;
	for (i = 0; vols && vols->kind == CN_SEQ && i < vols->n; i++) {
		struct cnode *it = vols->items[i].val;

		if (it->kind == CN_SCALAR && it->str[0] == '.') {
			char *src, *dst, *mode, *abs, *joined = NULL;

			if (parse_volume_short(it->str, &src, &dst, &mode) < 0)
				continue;
			abs = src ? ctx_abspath(dir, src) : NULL;
			if (abs && asprintf(&joined, "%s:%s%s%s", abs, dst, mode ? ":" : "",
					    mode ? mode : "") < 0)
				joined = NULL;
			free(src);
			free(dst);
			free(mode);
			free(abs);
			if (!joined)
				return -1;
			free(it->str);
			it->str = joined;
		} else if (it->kind == CN_MAP) {
			const struct cnode *type = cnode_get(it, "type");

			if (type && type->kind == CN_SCALAR && !strcmp(type->str, "bind") &&
			    rebase_scalar(cnode_get(it, "source"), dir, false) < 0)
				return -1;
		}
	}
	return 0;
}

static int rebase_tree(struct cnode *root, const char *dir)
{
	static const char *const defs[] = {"secrets", "configs"};
	struct cnode *services = cnode_get(root, "services");
	size_t i, d;

	for (i = 0; services && services->kind == CN_MAP && i < services->n; i++)
		if (rebase_service(services->items[i].val, dir) < 0)
			return -1;
	for (d = 0; d < ARRAY_SIZE(defs); d++) {
		struct cnode *sec = cnode_get(root, defs[d]);

		for (i = 0; sec && sec->kind == CN_MAP && i < sec->n; i++)
			if (rebase_scalar(cnode_get(sec->items[i].val, "file"), dir, false) < 0)
				return -1;
	}
	return 0;
}

/* ---- extends ---- */

#define EXTENDS_DEPTH_MAX 16
#define INCLUDE_DEPTH_MAX 8

static size_t tree_bytes(const struct cnode *n)
{
	size_t i, total = sizeof(*n) + (n->str ? strlen(n->str) : 0);

	for (i = 0; i < n->n; i++)
		total += (n->items[i].key ? strlen(n->items[i].key) : 0) +
			 tree_bytes(n->items[i].val);
	return total;
}

struct ext_frame {
	const char *file;
	const char *service;
};

static int resolve_extends(struct compose_ctx *ctx, struct cnode *services, const char *name,
			   const char *file, struct ext_frame *chain, int depth, struct error *err);

/* The base service named by extends:, resolved (its own extends applied), as a copy. */
static int extends_base(struct compose_ctx *ctx, struct cnode *services, const char *file,
			const struct cnode *ext, const char *name, struct ext_frame *chain,
			int depth, struct cnode **out, struct error *err)
{
	char path[COMPOSE_PATH_MAX];
	const struct cnode *svc_n = ext, *file_n = NULL;
	_cleanup_cnode_ struct cnode *other = NULL;
	_cleanup_free_ char *other_abs = NULL, *other_dir = NULL;
	struct cnode *from = services, *base;
	const char *from_file = file;

	snprintf(path, sizeof(path), "services.%s.extends", name);
	if (ext->kind == CN_MAP) {
		svc_n = cnode_get(ext, "service");
		file_n = cnode_get(ext, "file");
		if (!svc_n)
			return diag_error(err, ext, path, "service is required");
	}
	if (svc_n->kind != CN_SCALAR || !*svc_n->str)
		return diag_error(err, svc_n, path, "expected a service name");
	if (file_n && file_n->kind != CN_NULL) {
		_cleanup_free_ char *dir = NULL;

		if (file_n->kind != CN_SCALAR || !*file_n->str)
			return diag_error(err, file_n, path, "file: expected a path");
		{
			char cwd[PATH_MAX];
			_cleanup_free_ char *self = NULL;

			if (!getcwd(cwd, sizeof(cwd)))
				return error_set_errno(err, ERR_IO, errno, "current directory");
			self = ctx_abspath(cwd, file);
			dir = self ? dir_of(self) : NULL;
		}
		if (!dir)
			return error_set(err, ERR_SYSTEM, "out of memory");
		other_abs = ctx_abspath(dir, file_n->str);
		if (!other_abs || !(other_dir = dir_of(other_abs)))
			return error_set(err, ERR_SYSTEM, "out of memory");
		if (load_path(ctx, other_abs, &other, err) < 0) {
			if (err->cls == ERR_IO) {
				char msg[ERROR_MSG_MAX];

				snprintf(msg, sizeof(msg), "%s", err->msg);
				error_clear(err);
				return diag_error(err, file_n, path, "%s", msg);
			}
			return -1;
		}
		from = cnode_get(other, "services");
		from_file = intern(ctx, other_abs);
		if (!from_file)
			return error_set(err, ERR_SYSTEM, "out of memory");
	}
	if (!cnode_get(from, svc_n->str))
		return diag_error(err, svc_n, path, "service \"%s\" not found in %s", svc_n->str,
				  from_file);
	if (resolve_extends(ctx, from, svc_n->str, from_file, chain, depth + 1, err) < 0)
		return -1;
	base = cnode_get(from, svc_n->str);
	if (!ctx_budget_add(ctx, tree_bytes(base)))
		return diag_error(err, ext, path,
				  "the stack grows past %u MiB once extends copies its base; "
				  "extend large services fewer times",
				  COMPOSE_EXPANDED_MAX >> 20);
	*out = cnode_clone(base);
	if (!*out)
		return error_set(err, ERR_SYSTEM, "out of memory");
	if (other_dir && strcmp(other_dir, ctx->project_dir) &&
	    rebase_service(*out, other_dir) < 0) {
		cnode_free(*out);
		*out = NULL;
		return error_set(err, ERR_SYSTEM, "out of memory");
	}
	return 0;
}

static int resolve_extends(struct compose_ctx *ctx, struct cnode *services, const char *name,
			   const char *file, struct ext_frame *chain, int depth, struct error *err)
{
	struct centry *e = cnode_find(services, name);
	struct centry *ext;
	struct cnode *base = NULL, *svc;
	char path[COMPOSE_PATH_MAX];
	int i;

	if (!e || e->val->kind != CN_MAP)
		return 0;
	svc = e->val;
	ext = cnode_find(svc, "extends");
	if (!ext)
		return 0;
	snprintf(path, sizeof(path), "services.%s.extends", name);
	for (i = 0; i < depth; i++)
		if (!strcmp(chain[i].service, name) && !strcmp(chain[i].file, file))
			return diag_error_at(err, svc->file, ext->line, path,
					     "extends cycle: %s extends itself through the chain",
					     name);
	if (depth >= EXTENDS_DEPTH_MAX)
		return diag_error_at(err, svc->file, ext->line, path,
				     "extends nested more than %d deep", EXTENDS_DEPTH_MAX);
	chain[depth].file = file;
	chain[depth].service = name;
	if (extends_base(ctx, services, file, ext->val, name, chain, depth, &base, err) < 0)
		return -1;
	/* the extending service's own keys win: merge it over the base */
	cnode_remove_at(svc, (size_t)(ext - svc->items));
	e = cnode_find(services, name);
	svc = e->val;
	e->val = base;
	/* compose_merge_service consumes svc, also when it fails */
	return compose_merge_service(base, svc, err);
}

static int apply_extends(struct compose_ctx *ctx, struct cnode *root, const char *file,
			 struct error *err)
{
	struct cnode *services = cnode_get(root, "services");
	struct ext_frame chain[EXTENDS_DEPTH_MAX + 1];
	size_t i;

	if (!services || services->kind != CN_MAP)
		return 0;
	for (i = 0; i < services->n; i++)
		if (resolve_extends(ctx, services, services->items[i].key, file, chain, 0, err) < 0)
			return -1;
	return 0;
}

/* ---- include ---- */

static bool cnode_equal(const struct cnode *a, const struct cnode *b)
{
	size_t i;

	if (a->kind != b->kind || a->n != b->n)
		return false;
	if (a->kind == CN_SCALAR)
		return !strcmp(a->str, b->str);
	for (i = 0; i < a->n; i++) {
		if ((a->items[i].key || b->items[i].key) &&
		    (!a->items[i].key || !b->items[i].key ||
		     strcmp(a->items[i].key, b->items[i].key)))
			return false;
		if (!cnode_equal(a->items[i].val, b->items[i].val))
			return false;
	}
	return true;
}

/* Copy the included project's services, networks, volumes, secrets and configs. */
static int import_resources(struct cnode *root, struct cnode *inc, const char *inc_file,
			    const struct centry *at, struct error *err)
{
	static const char *const sections[] = {"services", "networks", "volumes", "secrets",
					       "configs"};
	size_t s, i;

	for (s = 0; s < ARRAY_SIZE(sections); s++) {
		struct cnode *from = cnode_get(inc, sections[s]);
		struct cnode *to = cnode_get(root, sections[s]);

		if (!from || from->kind != CN_MAP)
			continue;
		if (!to || to->kind == CN_NULL) {
			struct centry *old = cnode_find(root, sections[s]);

			to = cnode_new(CN_MAP, from->file, from->line);
			if (!to)
				return error_set(err, ERR_SYSTEM, "out of memory");
			if (old) {
				cnode_free(old->val);
				old->val = to;
			} else if (cnode_append(root, sections[s], from->line, to) < 0) {
				return error_set(err, ERR_SYSTEM, "out of memory");
			}
		}
		if (to->kind != CN_MAP)
			continue;
		for (i = 0; i < from->n; i++) {
			struct centry *e = &from->items[i];
			const struct cnode *have = cnode_get(to, e->key);
			char path[COMPOSE_PATH_MAX];

			if (have) {
				if (cnode_equal(have, e->val))
					continue;
				path_key(path, sizeof(path), sections[s], e->key);
				return diag_error_at(
					err, at->val->file, at->line, path,
					"%s (included) defines it differently from this "
					"project; rename one of them",
					inc_file);
			}
			if (cnode_append(to, e->key, e->line, e->val) < 0) {
				e->val = cnode_new(CN_NULL, NULL, 0);
				return error_set(err, ERR_SYSTEM, "out of memory");
			}
			e->val = cnode_new(CN_NULL, NULL, 0);
			if (!e->val)
				return error_set(err, ERR_SYSTEM, "out of memory");
		}
	}
	return 0;
}

static int process_file(struct compose_ctx *ctx, struct cnode *tree, const char *file,
			const char *dir, struct error *err);

/* Variables of an included project's env files: below the including project's. */
static int include_env(struct compose_ctx *ctx, const char *abs, const char *name, bool required,
		       struct error *err)
{
	_cleanup_buf_ struct buf text = BUF_INIT;
	struct compose_kv *kv = NULL;
	size_t n = 0, i;
	const char *rel = NULL, *base = ctx_confine(ctx, abs, &rel);
	int ret = 0;

	if (!base) {
		if (!required)
			return 0;
		return error_set(err, ERR_COMPOSE,
				 "%s: the env file is outside the project directory; keep it in "
				 "the repository",
				 name);
	}
	buf_init(&text, COMPOSE_ENV_FILE_MAX);
	if (fs_read_beneath(base, rel, &text, COMPOSE_ENV_FILE_MAX, err) < 0) {
		if (!required && err->cls == ERR_IO &&
		    (err->code == ENOENT || err->code == ENOTDIR)) {
			error_clear(err);
			return 0;
		}
		return error_wrap(err, "include env_file %s", name);
	}
	if (compose_envfile_parse(ctx, abs, buf_str(&text), &kv, &n, err) < 0)
		return -1;
	for (i = 0; i < n && ret == 0; i++) {
		size_t j;
		bool have = false;

		for (j = 0; j < ctx->ninc_env; j++)
			if (!strcmp(ctx->inc_env[j].key, kv[i].key))
				have = true;
		if (!have && kv_set(&ctx->inc_env, &ctx->ninc_env, kv[i].key, kv[i].value) < 0)
			ret = error_set(err, ERR_SYSTEM, "out of memory");
	}
	kv_free(kv, n);
	return ret;
}

static size_t count_of(const struct cnode *n)
{
	return n->kind == CN_SEQ ? n->n : 1;
}

static const struct cnode *item_of(const struct cnode *n, size_t i)
{
	return n->kind == CN_SEQ ? n->items[i].val : n;
}

/* Load the included files (merged, their own includes and extends applied) into *out. */
static int include_files(struct compose_ctx *ctx, const struct cnode *paths, const char *dir,
			 const char *proj, struct cnode **out, struct error *err)
{
	size_t i;

	for (i = 0; i < count_of(paths); i++) {
		const struct cnode *one = item_of(paths, i);
		_cleanup_free_ char *abs = NULL;
		struct cnode *tree = NULL;

		if (one->kind != CN_SCALAR || !*one->str)
			return diag_error(err, one, "include", "expected a file path");
		abs = ctx_abspath(dir, one->str);
		if (!abs)
			return error_set(err, ERR_SYSTEM, "out of memory");
		if (load_path(ctx, abs, &tree, err) < 0) {
			if (err->cls == ERR_IO) {
				char msg[ERROR_MSG_MAX];

				snprintf(msg, sizeof(msg), "%s", err->msg);
				error_clear(err);
				return diag_error(err, one, "include", "%s", msg);
			}
			return -1;
		}
		if (process_file(ctx, tree, intern(ctx, abs), proj, err) < 0) {
			cnode_free(tree);
			return -1;
		}
		if (!*out)
			*out = tree;
		else if (compose_merge(*out, tree, err) < 0)
			return -1;
	}
	return 0;
}

static int include_envs(struct compose_ctx *ctx, const struct cnode *envs, const char *dir,
			const char *proj, struct error *err)
{
	size_t i;

	if (!envs || envs->kind == CN_NULL) {
		_cleanup_free_ char *abs = ctx_abspath(proj, ".env");

		if (!abs)
			return error_set(err, ERR_SYSTEM, "out of memory");
		return include_env(ctx, abs, abs, false, err);
	}
	for (i = 0; i < count_of(envs); i++) {
		const struct cnode *one = item_of(envs, i);
		_cleanup_free_ char *abs = NULL;

		if (one->kind != CN_SCALAR || !*one->str)
			return diag_error(err, one, "include", "env_file: expected a path");
		abs = ctx_abspath(dir, one->str);
		if (!abs)
			return error_set(err, ERR_SYSTEM, "out of memory");
		if (include_env(ctx, abs, one->str, true, err) < 0)
			return -1;
	}
	return 0;
}

static int include_one(struct compose_ctx *ctx, struct cnode *root, const struct centry *at,
		       const char *dir, struct error *err)
{
	const struct cnode *it = at->val, *paths = it, *pd = NULL, *envs = NULL, *p0;
	_cleanup_cnode_ struct cnode *merged = NULL;
	_cleanup_free_ char *proj = NULL, *first = NULL;
	struct compose_kv *saved_env = ctx->inc_env;
	size_t saved_n = ctx->ninc_env, i;
	char **inc;
	int ret = -1;

	if (it->kind == CN_MAP) {
		paths = cnode_get(it, "path");
		pd = cnode_get(it, "project_directory");
		envs = cnode_get(it, "env_file");
		if (!paths)
			return diag_error(err, it, "include", "path is required");
	}
	if ((paths->kind != CN_SCALAR && paths->kind != CN_SEQ) || count_of(paths) == 0)
		return diag_error(err, paths, "include", "expected a path or a list of paths");
	if (ctx->include_depth >= INCLUDE_DEPTH_MAX)
		return diag_error(err, it, "include", "includes nested more than %d deep",
				  INCLUDE_DEPTH_MAX);
	p0 = item_of(paths, 0);
	if (p0->kind != CN_SCALAR || !*p0->str)
		return diag_error(err, p0, "include", "expected a file path");
	first = ctx_abspath(dir, p0->str);
	if (!first)
		return error_set(err, ERR_SYSTEM, "out of memory");
	for (i = 0; i < ctx->nincluding; i++)
		if (!strcmp(ctx->including[i], first))
			return diag_error(err, p0, "include", "include cycle: %s includes itself",
					  p0->str);
	/* its project directory: project_directory, else its first file's directory */
	if (pd && pd->kind == CN_SCALAR && *pd->str)
		proj = ctx_abspath(dir, pd->str);
	else
		proj = dir_of(first);
	if (!proj)
		return error_set(err, ERR_SYSTEM, "out of memory");
	inc = realloc(ctx->including, (ctx->nincluding + 1) * sizeof(char *));
	if (!inc)
		return error_set(err, ERR_SYSTEM, "out of memory");
	ctx->including = inc;

	/* its variables: ours first, then its env files (default: its .env) */
	ctx->inc_env = NULL;
	ctx->ninc_env = 0;
	for (i = 0; i < saved_n; i++)
		if (kv_set(&ctx->inc_env, &ctx->ninc_env, saved_env[i].key, saved_env[i].value) <
		    0) {
			error_set(err, ERR_SYSTEM, "out of memory");
			goto out;
		}
	if (include_envs(ctx, envs, dir, proj, err) < 0)
		goto out;
	ctx->including[ctx->nincluding++] = first;
	ctx->include_depth++;
	ret = include_files(ctx, paths, dir, proj, &merged, err);
	ctx->include_depth--;
	ctx->nincluding--;
	if (ret < 0)
		goto out;
	compose_prune(merged);
	/* paths in it resolve against its own project directory */
	if (rebase_tree(merged, proj) < 0) {
		ret = error_set(err, ERR_SYSTEM, "out of memory");
		goto out;
	}
	ret = import_resources(root, merged, first, at, err);
out:
	kv_free(ctx->inc_env, ctx->ninc_env);
	ctx->inc_env = saved_env;
	ctx->ninc_env = saved_n;
	return ret;
}

static int apply_include(struct compose_ctx *ctx, struct cnode *root, const char *dir,
			 struct error *err)
{
	struct centry *inc = cnode_find(root, "include");
	size_t i, n;

	if (!inc)
		return 0;
	if (inc->val->kind != CN_NULL && inc->val->kind != CN_SEQ)
		return diag_error(err, inc->val, "include", "expected a list, got %s",
				  cnode_kind_name(inc->val));
	n = inc->val->kind == CN_SEQ ? inc->val->n : 0;
	for (i = 0; i < n; i++) {
		/* import_resources may append to root: find the entry again */
		inc = cnode_find(root, "include");
		if (include_one(ctx, root, &inc->val->items[i], dir, err) < 0)
			return -1;
	}
	inc = cnode_find(root, "include");
	cnode_remove_at(root, (size_t)(inc - root->items));
	return 0;
}

/* Per file, as Compose: its includes, then its extends, before it is merged. */
static int process_file(struct compose_ctx *ctx, struct cnode *tree, const char *file,
			const char *dir, struct error *err)
{
	if (!file)
		return error_set(err, ERR_SYSTEM, "out of memory");
	if (apply_include(ctx, tree, dir, err) < 0)
		return -1;
	return apply_extends(ctx, tree, file, err);
}

/* ---- profiles ---- */

static bool profile_active(const struct compose_load_opts *opts, const char *p)
{
	size_t i;

	for (i = 0; i < opts->nprofiles; i++)
		if (opts->profiles[i] &&
		    (!strcmp(opts->profiles[i], p) || !strcmp(opts->profiles[i], "*")))
			return true;
	return false;
}

/* Services none of whose profiles is active leave the tree (their names are kept). */
static int apply_profiles(struct compose_ctx *ctx, struct cnode *root, struct error *err)
{
	struct cnode *services = cnode_get(root, "services");
	size_t i = 0, j;

	if (!services || services->kind != CN_MAP)
		return 0;
	while (i < services->n) {
		const struct cnode *pr = cnode_get(services->items[i].val, "profiles");
		bool on = !pr || pr->kind == CN_NULL || (pr->kind == CN_SEQ && pr->n == 0);

		if (pr && pr->kind != CN_SEQ && pr->kind != CN_NULL) {
			char path[COMPOSE_PATH_MAX];

			snprintf(path, sizeof(path), "services.%s.profiles",
				 services->items[i].key);
			return diag_error(err, pr, path, "expected a list of profile names, got %s",
					  cnode_kind_name(pr));
		}
		for (j = 0; !on && pr && j < pr->n; j++)
			if (pr->items[j].val->kind == CN_SCALAR &&
			    profile_active(ctx->opts, pr->items[j].val->str))
				on = true;
		if (on) {
			i++;
			continue;
		}
		if (grow_array((void **)&ctx->disabled, ctx->ndisabled, sizeof(char *)) < 0 ||
		    !(ctx->disabled[ctx->ndisabled] = strdup(services->items[i].key)))
			return error_set(err, ERR_SYSTEM, "out of memory");
		ctx->ndisabled++;
		cnode_remove_at(services, i);
	}
	return 0;
}

/* ---- the project's .env ---- */

static int read_dotenv(struct compose_ctx *ctx, struct error *err)
{
	_cleanup_buf_ struct buf text = BUF_INIT;
	_cleanup_free_ char *abs = ctx_abspath(ctx->project_dir, ".env");
	const char *rel = NULL, *base;

	if (!abs)
		return error_set(err, ERR_SYSTEM, "out of memory");
	base = ctx_confine(ctx, abs, &rel);
	if (!base)
		return 0; /* the project directory lies outside the root: nothing to read */
	buf_init(&text, COMPOSE_ENV_FILE_MAX);
	if (fs_read_beneath(base, rel, &text, COMPOSE_ENV_FILE_MAX, err) < 0) {
		if (err->cls == ERR_IO && (err->code == ENOENT || err->code == ENOTDIR)) {
			error_clear(err);
			return 0;
		}
		return error_wrap(err, "read the project's .env file");
	}
	return compose_envfile_parse(ctx, abs, buf_str(&text), &ctx->dotenv, &ctx->ndotenv, err);
}

static int load(struct compose_ctx *ctx, const struct compose_load_opts *opts,
		struct compose_project **out, struct error *err)
{
	_cleanup_cnode_ struct cnode *base = NULL;
	size_t i, nnamed;
	char cwd[PATH_MAX];

	ctx->opts = opts;
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
	nnamed = ctx->nfiles;
	if (!getcwd(cwd, sizeof(cwd)))
		return error_set_errno(err, ERR_IO, errno, "current directory");
	if (opts->project_dir)
		ctx->project_dir = ctx_abspath(cwd, opts->project_dir);
	else
		ctx->project_dir = default_project_dir(opts->files[0]);
	if (!ctx->project_dir)
		return error_set(err, ERR_SYSTEM, "out of memory");
	if (opts->root) {
		ctx->root = ctx_abspath(cwd, opts->root);
		if (!ctx->root)
			return error_set(err, ERR_SYSTEM, "out of memory");
	}
	if (!opts->no_dotenv && read_dotenv(ctx, err) < 0)
		return -1;

	for (i = 0; i < nnamed; i++) {
		struct cnode *tree = NULL;
		const char *file = ctx->files[i];

		if (opts->contents && opts->contents[i]) {
			if (parse_file(ctx, file, opts->contents[i], strlen(opts->contents[i]),
				       &tree, err) < 0)
				return -1;
		} else {
			_cleanup_buf_ struct buf text = BUF_INIT;
			_cleanup_free_ char *abs = ctx_abspath(cwd, file);

			if (!abs)
				return error_set(err, ERR_SYSTEM, "out of memory");
			if (read_stack_file(ctx, file, abs, &text, err) < 0 ||
			    parse_file(ctx, file, buf_str(&text), text.len, &tree, err) < 0)
				return -1;
		}
		/* includes resolve against the project directory, as every relative path */
		if (process_file(ctx, tree, file, ctx->project_dir, err) < 0) {
			cnode_free(tree);
			return -1;
		}
		if (!base) {
			base = tree;
		} else if (compose_merge(base, tree, err) < 0) {
			return -1;
		}
	}
	compose_prune(base);
	if (apply_profiles(ctx, base, err) < 0)
		return -1;
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
