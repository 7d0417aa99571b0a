/* SPDX-License-Identifier: MIT */
/*
 * The service keys beyond the original subset, with Compose's forms
 * (05-services.md): build, profiles, capabilities, sysctls, read_only,
 * security_opt, tmpfs, secrets and configs, links, dns, init, stop_signal,
 * ulimits, logging, resources (deploy.resources and the service-level
 * limits), devices, namespaces, lifecycle hooks; the top-level secrets: and
 * configs:, and the networks' internal / ipam / ipv6 settings.  Every
 * failure is one ERR_COMPOSE error "file:line: path: what".
 */
#include "compose/service.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/fs.h"
#include "compose/ctx.h"
#include "compose/diag.h"
#include "compose/kv.h"
#include "compose/merge.h"
#include "compose/node.h"
#include "compose/scalar.h"
#include "compose/want.h"

/* ---- small readers ---- */

static int want_bytes(struct mb *m, const struct cnode *n, const char *path, bool minus_one,
		      int64_t *out)
{
	if (!n || n->kind == CN_NULL)
		return 0;
	if (n->kind == CN_SCALAR && minus_one && !strcmp(n->str, "-1")) {
		*out = -1;
		return 0;
	}
	if (n->kind != CN_SCALAR || scalar_bytes(n->str, out) < 0)
		return diag_error(m->err, n, path,
				  "expected a size like 512m, 1gb or 65536%s, got %s%s%s",
				  minus_one ? " (or -1)" : "", n->kind == CN_SCALAR ? "\"" : "",
				  n->kind == CN_SCALAR ? n->str : cnode_kind_name(n),
				  n->kind == CN_SCALAR ? "\"" : "");
	return 0;
}

static int want_cpus(struct mb *m, const struct cnode *n, const char *path, double *out)
{
	if (!n || n->kind == CN_NULL)
		return 0;
	if (n->kind != CN_SCALAR || scalar_double(n->str, out) < 0)
		return diag_error(m->err, n, path,
				  "expected a number of CPUs like 0.5 or 2, got %s%s%s",
				  n->kind == CN_SCALAR ? "\"" : "",
				  n->kind == CN_SCALAR ? n->str : cnode_kind_name(n),
				  n->kind == CN_SCALAR ? "\"" : "");
	return 0;
}

static int want_i64(struct mb *m, const struct cnode *n, const char *path, long min, long max,
		    int64_t *out)
{
	long v;

	if (!n || n->kind == CN_NULL)
		return 0;
	if (want_int(m, n, path, min, max, &v) < 0)
		return -1;
	*out = v;
	return 0;
}

/* A mapping of names to values, or a list of NAME=value; null values stay unset (NULL). */
static int want_env(struct mb *m, const struct cnode *n, const char *path, struct compose_kv **kv,
		    size_t *nkv)
{
	char sub[COMPOSE_PATH_MAX];
	size_t i;

	if (!n || n->kind == CN_NULL)
		return 0;
	if (n->kind == CN_SEQ) {
		for (i = 0; i < n->n; i++) {
			const struct cnode *it = n->items[i].val;
			_cleanup_free_ char *key = NULL;
			const char *eq;

			path_index(sub, sizeof(sub), path, i);
			if (it->kind != CN_SCALAR || !*it->str || *it->str == '=')
				return diag_error(m->err, it, sub, "expected NAME=value");
			eq = strchr(it->str, '=');
			key = eq ? strndup(it->str, (size_t)(eq - it->str)) : strdup(it->str);
			if (!key || kv_set(kv, nkv, key, eq ? eq + 1 : ctx_var(m->ctx, key)) < 0)
				return want_oom(m);
		}
		return 0;
	}
	if (want_map(m, n, path) < 0)
		return -1;
	for (i = 0; i < n->n; i++) {
		const struct cnode *v = n->items[i].val;

		path_key(sub, sizeof(sub), path, n->items[i].key);
		if (v->kind != CN_SCALAR && v->kind != CN_NULL)
			return diag_error(m->err, v, sub, "expected a string, got %s",
					  cnode_kind_name(v));
		if (kv_set(kv, nkv, n->items[i].key,
			   v->kind == CN_SCALAR ? v->str : ctx_var(m->ctx, n->items[i].key)) < 0)
			return want_oom(m);
	}
	return 0;
}

static bool one_of(const char *s, const char *const *list)
{
	for (; *list; list++)
		if (!strcmp(s, *list))
			return true;
	return false;
}

/* "service:<name>" / "container:<name>" or one of the fixed words */
static int want_namespace(struct mb *m, const struct cnode *n, const char *path,
			  const char *const *words, const char *what, char **out)
{
	if (want_nonempty(m, n, path, out) < 0)
		return -1;
	if (!*out)
		return 0;
	if (one_of(*out, words) || (!strncmp(*out, "service:", 8) && (*out)[8]) ||
	    (!strncmp(*out, "container:", 10) && (*out)[10]))
		return 0;
	return diag_error(m->err, n, path, "\"%s\" is not %s", *out, what);
}

/* ---- build ---- */

static bool is_remote_context(const char *s)
{
	return strstr(s, "://") || !strncmp(s, "git@", 4) || !strncmp(s, "github.com/", 11);
}

static int service_build(struct mb *m, struct compose_service *s, const struct cnode *n,
			 const char *path)
{
	struct compose_build *b = &s->build;
	char sub[COMPOSE_PATH_MAX];
	_cleanup_free_ char *context = NULL;

	if (!n || n->kind == CN_NULL)
		return 0;
	if (want_map(m, n, path) < 0)
		return -1;
	b->set = true;
	path_key(sub, sizeof(sub), path, "context");
	if (want_nonempty(m, cnode_get(n, "context"), sub, &context) < 0)
		return -1;
	if (!context && !(context = strdup(".")))
		return want_oom(m);
	if (is_remote_context(context)) {
		b->context = steal_ptr(context);
	} else if (!(b->context = ctx_abspath(m->ctx->project_dir, context))) {
		return want_oom(m);
	}
	path_key(sub, sizeof(sub), path, "dockerfile");
	if (want_nonempty(m, cnode_get(n, "dockerfile"), sub, &b->dockerfile) < 0)
		return -1;
	path_key(sub, sizeof(sub), path, "target");
	if (want_nonempty(m, cnode_get(n, "target"), sub, &b->target) < 0)
		return -1;
	path_key(sub, sizeof(sub), path, "args");
	return want_env(m, cnode_get(n, "args"), sub, &b->args, &b->nargs);
}

/* ---- secrets and configs of a service ---- */

/* 0440 and 0o440 are octal, 288 decimal (YAML 1.1 and Go's yaml); a quoted "440" is octal */
static int file_mode(const struct cnode *n, int64_t *out)
{
	const char *t = n->str;
	int base = 10;
	char *end;
	unsigned long v;

	if (n->flags & CN_F_QUOTED)
		base = 8;
	if (!strncmp(t, "0o", 2) || !strncmp(t, "0O", 2)) {
		t += 2;
		base = 8;
	} else if (t[0] == '0' && t[1]) {
		base = 8;
	}
	if (!*t || !isdigit((unsigned char)*t))
		return -1;
	errno = 0;
	v = strtoul(t, &end, base);
	if (errno || *end || v > 07777)
		return -1;
	*out = (int64_t)v;
	return 0;
}

static int file_refs(struct mb *m, const struct cnode *n, const char *path, bool secret,
		     struct compose_file_ref **out, size_t *nout)
{
	char ipath[COMPOSE_PATH_MAX], sub[COMPOSE_PATH_MAX];
	size_t i, j;

	if (!n || n->kind == CN_NULL)
		return 0;
	if (n->kind != CN_SEQ)
		return diag_error(m->err, n, path, "expected a list, got %s", cnode_kind_name(n));
	*out = calloc(n->n + 1, sizeof(**out));
	if (!*out)
		return want_oom(m);
	for (i = 0; i < n->n; i++) {
		const struct cnode *it = n->items[i].val;
		struct compose_file_ref *f = &(*out)[(*nout)++];
		_cleanup_free_ char *target = NULL;

		f->mode = COMPOSE_UNSET;
		path_index(ipath, sizeof(ipath), path, i);
		if (it->kind == CN_SCALAR) {
			if (!*it->str)
				return diag_error(m->err, it, ipath, "expected a name");
			if (!(f->source = strdup(it->str)))
				return want_oom(m);
		} else if (it->kind == CN_MAP) {
			const struct cnode *mode = cnode_get(it, "mode");

			path_key(sub, sizeof(sub), ipath, "source");
			if (want_nonempty(m, cnode_get(it, "source"), sub, &f->source) < 0)
				return -1;
			if (!f->source)
				return diag_error(m->err, it, ipath, "source is required");
			path_key(sub, sizeof(sub), ipath, "target");
			if (want_nonempty(m, cnode_get(it, "target"), sub, &target) < 0)
				return -1;
			path_key(sub, sizeof(sub), ipath, "uid");
			if (want_nonempty(m, cnode_get(it, "uid"), sub, &f->uid) < 0)
				return -1;
			path_key(sub, sizeof(sub), ipath, "gid");
			if (want_nonempty(m, cnode_get(it, "gid"), sub, &f->gid) < 0)
				return -1;
			path_key(sub, sizeof(sub), ipath, "mode");
			if (mode && mode->kind != CN_NULL &&
			    (mode->kind != CN_SCALAR || file_mode(mode, &f->mode) < 0))
				return diag_error(m->err, mode, sub,
						  "expected a file mode like 0440 or 0o440");
		} else {
			return diag_error(m->err, it, ipath, "expected a name or a mapping, got %s",
					  cnode_kind_name(it));
		}
		if (!target) {
			if (asprintf(&f->target, "%s/%s", secret ? "/run/secrets" : "", f->source) <
			    0)
				f->target = NULL;
		} else if (target[0] == '/') {
			f->target = ctx_abspath("/", target);
		} else if (asprintf(&f->target, "%s/%s", secret ? "/run/secrets" : "", target) <
			   0) {
			f->target = NULL;
		}
		if (!f->target)
			return want_oom(m);
		for (j = 0; j + 1 < *nout; j++)
			if (!strcmp((*out)[j].target, f->target))
				return diag_error(
					m->err, it, ipath,
					"%s is mounted twice (duplicate target); keep one",
					f->target);
	}
	return 0;
}

/* ---- ulimits, logging, devices, hooks ---- */

static int service_ulimits(struct mb *m, struct compose_service *s, const struct cnode *n,
			   const char *path)
{
	char sub[COMPOSE_PATH_MAX], sub2[COMPOSE_PATH_MAX];
	size_t i;

	if (!n || n->kind == CN_NULL)
		return 0;
	if (want_map(m, n, path) < 0)
		return -1;
	s->ulimits = calloc(n->n + 1, sizeof(*s->ulimits));
	if (!s->ulimits)
		return want_oom(m);
	for (i = 0; i < n->n; i++) {
		const struct cnode *v = n->items[i].val;
		struct compose_ulimit *u = &s->ulimits[s->nulimits++];
		long soft = -2, hard = -2;

		path_key(sub, sizeof(sub), path, n->items[i].key);
		if (!(u->name = strdup(n->items[i].key)))
			return want_oom(m);
		for (const char *c = u->name; *c; c++)
			if (!islower((unsigned char)*c))
				return diag_error(m->err, v, sub,
						  "invalid ulimit name (nofile, nproc, core...)");
		if (v->kind == CN_SCALAR) {
			if (want_int(m, v, sub, -1, LONG_MAX, &soft) < 0)
				return -1;
			hard = soft;
		} else if (v->kind == CN_MAP) {
			path_key(sub2, sizeof(sub2), sub, "soft");
			if (want_int(m, cnode_get(v, "soft"), sub2, -1, LONG_MAX, &soft) < 0)
				return -1;
			path_key(sub2, sizeof(sub2), sub, "hard");
			if (want_int(m, cnode_get(v, "hard"), sub2, -1, LONG_MAX, &hard) < 0)
				return -1;
			if (soft == -2 || hard == -2)
				return diag_error(m->err, v, sub,
						  "soft and hard are both required");
			if (hard != -1 && (soft == -1 || soft > hard))
				return diag_error(m->err, v, sub,
						  "soft (%ld) must not be above hard (%ld)", soft,
						  hard);
		} else {
			return diag_error(m->err, v, sub,
					  "expected a number or {soft, hard}, got %s",
					  cnode_kind_name(v));
		}
		u->soft = soft;
		u->hard = hard;
	}
	return 0;
}

static int service_logging(struct mb *m, struct compose_service *s, const struct cnode *n,
			   const char *path)
{
	char sub[COMPOSE_PATH_MAX];

	if (!n || n->kind == CN_NULL)
		return 0;
	if (want_map(m, n, path) < 0)
		return -1;
	s->logging_set = true;
	path_key(sub, sizeof(sub), path, "driver");
	if (want_nonempty(m, cnode_get(n, "driver"), sub, &s->logging.driver) < 0)
		return -1;
	path_key(sub, sizeof(sub), path, "options");
	return want_labels(m, cnode_get(n, "options"), sub, &s->logging.options,
			   &s->logging.noptions);
}

static int service_devices(struct mb *m, struct compose_service *s, const struct cnode *n,
			   const char *path)
{
	char ipath[COMPOSE_PATH_MAX], sub[COMPOSE_PATH_MAX];
	size_t i;

	if (!n || n->kind == CN_NULL)
		return 0;
	if (n->kind != CN_SEQ)
		return diag_error(m->err, n, path, "expected a list, got %s", cnode_kind_name(n));
	s->devices = calloc(n->n + 1, sizeof(*s->devices));
	if (!s->devices)
		return want_oom(m);
	for (i = 0; i < n->n; i++) {
		const struct cnode *it = n->items[i].val;
		struct compose_device *d = &s->devices[s->ndevices++];

		path_index(ipath, sizeof(ipath), path, i);
		if (it->kind == CN_SCALAR) {
			char *src = NULL, *dst = NULL, *perm = NULL;

			if (parse_volume_short(it->str, &src, &dst, &perm) < 0)
				return diag_error(m->err, it, ipath,
						  "invalid device \"%s\" (expected "
						  "host-path[:container-path[:permissions]])",
						  it->str);
			if (!src) { /* a lone path: the same in the container */
				d->source = dst;
				d->target = strdup(dst);
			} else {
				d->source = src;
				d->target = dst;
			}
			d->permissions = perm;
			if (!d->target)
				return want_oom(m);
		} else if (it->kind == CN_MAP) {
			path_key(sub, sizeof(sub), ipath, "source");
			if (want_nonempty(m, cnode_get(it, "source"), sub, &d->source) < 0)
				return -1;
			path_key(sub, sizeof(sub), ipath, "target");
			if (want_nonempty(m, cnode_get(it, "target"), sub, &d->target) < 0)
				return -1;
			path_key(sub, sizeof(sub), ipath, "permissions");
			if (want_nonempty(m, cnode_get(it, "permissions"), sub, &d->permissions) <
			    0)
				return -1;
			if (!d->source)
				return diag_error(m->err, it, ipath, "source is required");
			if (!d->target && !(d->target = strdup(d->source)))
				return want_oom(m);
		} else {
			return diag_error(m->err, it, ipath, "expected a string or mapping, got %s",
					  cnode_kind_name(it));
		}
		if (!d->permissions && !(d->permissions = strdup("rwm")))
			return want_oom(m);
		if (d->source[0] != '/' || d->target[0] != '/')
			return diag_error(m->err, it, ipath, "device paths must be absolute");
		if (strspn(d->permissions, "rwm") != strlen(d->permissions))
			return diag_error(m->err, it, ipath,
					  "device permissions \"%s\": use r, w and m",
					  d->permissions);
	}
	return 0;
}

static int service_hooks(struct mb *m, const struct cnode *n, const char *path, bool pre_start,
			 struct compose_hooks *h)
{
	char ipath[COMPOSE_PATH_MAX], sub[COMPOSE_PATH_MAX];
	size_t i;

	if (!n || n->kind == CN_NULL)
		return 0;
	if (n->kind != CN_SEQ)
		return diag_error(m->err, n, path, "expected a list of hooks, got %s",
				  cnode_kind_name(n));
	h->items = calloc(n->n + 1, sizeof(*h->items));
	if (!h->items)
		return want_oom(m);
	for (i = 0; i < n->n; i++) {
		const struct cnode *it = n->items[i].val;
		struct compose_hook *k = &h->items[h->n++];

		path_index(ipath, sizeof(ipath), path, i);
		if (want_map(m, it, ipath) < 0)
			return -1;
		path_key(sub, sizeof(sub), ipath, "command");
		if (want_argv(m, cnode_get(it, "command"), sub, &k->command) < 0)
			return -1;
		if (!pre_start && (!k->command.set || !k->command.argc))
			return diag_error(m->err, it, ipath, "command is required");
		path_key(sub, sizeof(sub), ipath, "user");
		if (want_nonempty(m, cnode_get(it, "user"), sub, &k->user) < 0)
			return -1;
		path_key(sub, sizeof(sub), ipath, "working_dir");
		if (want_nonempty(m, cnode_get(it, "working_dir"), sub, &k->working_dir) < 0)
			return -1;
		path_key(sub, sizeof(sub), ipath, "privileged");
		if (want_bool(m, cnode_get(it, "privileged"), sub, &k->privileged) < 0)
			return -1;
		path_key(sub, sizeof(sub), ipath, "environment");
		if (want_env(m, cnode_get(it, "environment"), sub, &k->environment,
			     &k->nenvironment) < 0)
			return -1;
		if (pre_start) {
			path_key(sub, sizeof(sub), ipath, "image");
			if (want_nonempty(m, cnode_get(it, "image"), sub, &k->image) < 0)
				return -1;
			path_key(sub, sizeof(sub), ipath, "per_replica");
			if (want_bool(m, cnode_get(it, "per_replica"), sub, &k->per_replica) < 0)
				return -1;
		}
	}
	return 0;
}

/* ---- deploy ---- */

static int resource_spec(struct mb *m, const struct cnode *n, const char *path,
			 struct compose_resource_spec *r)
{
	char sub[COMPOSE_PATH_MAX];

	if (!n || n->kind == CN_NULL)
		return 0;
	if (want_map(m, n, path) < 0)
		return -1;
	path_key(sub, sizeof(sub), path, "cpus");
	if (want_cpus(m, cnode_get(n, "cpus"), sub, &r->cpus) < 0)
		return -1;
	path_key(sub, sizeof(sub), path, "memory");
	if (want_bytes(m, cnode_get(n, "memory"), sub, false, &r->memory) < 0)
		return -1;
	path_key(sub, sizeof(sub), path, "pids");
	return want_i64(m, cnode_get(n, "pids"), sub, -1, LONG_MAX, &r->pids);
}

static int service_deploy(struct mb *m, struct compose_service *s, const struct cnode *n,
			  const char *path)
{
	char sub[COMPOSE_PATH_MAX], sub2[COMPOSE_PATH_MAX];
	const struct cnode *res, *rp;
	long replicas = 1;

	if (!n || n->kind == CN_NULL)
		return 0;
	if (want_map(m, n, path) < 0)
		return -1;
	path_key(sub, sizeof(sub), path, "replicas");
	if (want_int(m, cnode_get(n, "replicas"), sub, 0, INT_MAX, &replicas) < 0)
		return -1;
	if (replicas != 1)
		return diag_error(m->err, cnode_get(n, "replicas"), sub,
				  "%ld replicas: this driver runs one container per service; "
				  "remove it or set 1",
				  replicas);
	res = cnode_get(n, "resources");
	path_key(sub, sizeof(sub), path, "resources");
	if (res && res->kind != CN_NULL) {
		if (want_map(m, res, sub) < 0)
			return -1;
		path_key(sub2, sizeof(sub2), sub, "limits");
		if (resource_spec(m, cnode_get(res, "limits"), sub2, &s->limits) < 0)
			return -1;
		path_key(sub2, sizeof(sub2), sub, "reservations");
		if (resource_spec(m, cnode_get(res, "reservations"), sub2, &s->reservations) < 0)
			return -1;
	}
	rp = cnode_get(n, "restart_policy");
	path_key(sub, sizeof(sub), path, "restart_policy");
	if (rp && rp->kind != CN_NULL) {
		_cleanup_free_ char *cond = NULL;
		long max = 0;

		if (want_map(m, rp, sub) < 0)
			return -1;
		path_key(sub2, sizeof(sub2), sub, "condition");
		if (want_string(m, cnode_get(rp, "condition"), sub2, &cond) < 0)
			return -1;
		if (cond && strcmp(cond, "none") && strcmp(cond, "on-failure") &&
		    strcmp(cond, "any"))
			return diag_error(m->err, cnode_get(rp, "condition"), sub2,
					  "expected none, on-failure or any, got \"%s\"", cond);
		path_key(sub2, sizeof(sub2), sub, "max_attempts");
		if (want_int(m, cnode_get(rp, "max_attempts"), sub2, 0, INT_MAX, &max) < 0)
			return -1;
		/* as Compose: the service's restart: wins; else the policy's condition */
		if (!s->restart) {
			const char *r = !cond || !strcmp(cond, "any") ? "always"
					: !strcmp(cond, "none")	      ? "no"
								      : "on-failure";

			if (!(s->restart = strdup(r)))
				return want_oom(m);
			if (!strcmp(r, "on-failure"))
				s->restart_max_retries = (int)max;
		}
	}
	return 0;
}

/* ---- the service ---- */

static bool valid_profile(const char *p)
{
	if (!isalnum((unsigned char)*p))
		return false;
	for (; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("_.-", *p))
			return false;
	return true;
}

/* ---- the keys beyond the original subset, as a table ---- */

static int key_profiles(struct mb *m, struct compose_service *s, const struct cnode *n,
			const char *path)
{
	size_t i;

	if (want_strv(m, n, path, false, &s->profiles, &s->nprofiles) < 0)
		return -1;
	for (i = 0; i < s->nprofiles; i++)
		if (!valid_profile(s->profiles[i]))
			return diag_error(m->err, n, path,
					  "invalid profile name \"%s\": use letters, digits, '.', "
					  "'_' and '-'",
					  s->profiles[i]);
	return 0;
}

static int key_pull_policy(struct mb *m, struct compose_service *s, const struct cnode *n,
			   const char *path)
{
	static const char *const pull[] = {"always", "never", "missing", "if_not_present",
					   "build",  "daily", "weekly",	 NULL};

	if (want_nonempty(m, n, path, &s->pull_policy) < 0)
		return -1;
	if (s->pull_policy && !one_of(s->pull_policy, pull) && strncmp(s->pull_policy, "every_", 6))
		return diag_error(m->err, n, path,
				  "expected always, never, missing, build, daily, weekly or "
				  "every_<duration>, got \"%s\"",
				  s->pull_policy);
	return 0;
}

static int key_sysctls(struct mb *m, struct compose_service *s, const struct cnode *n,
		       const char *path)
{
	size_t i;

	if (want_labels(m, n, path, &s->sysctls, &s->nsysctls) < 0)
		return -1;
	for (i = 0; i < s->nsysctls; i++)
		if (!*s->sysctls[i].value)
			return diag_error(m->err, n, path, "sysctl %s needs a value",
					  s->sysctls[i].key);
	return 0;
}

static int key_tmpfs(struct mb *m, struct compose_service *s, const struct cnode *n,
		     const char *path)
{
	size_t i;

	if (want_strv(m, n, path, true, &s->tmpfs, &s->ntmpfs) < 0)
		return -1;
	for (i = 0; i < s->ntmpfs; i++)
		if (s->tmpfs[i][0] != '/')
			return diag_error(m->err, n, path,
					  "\"%s\": a tmpfs needs an absolute container path",
					  s->tmpfs[i]);
	return 0;
}

static int key_secrets(struct mb *m, struct compose_service *s, const struct cnode *n,
		       const char *path)
{
	return file_refs(m, n, path, true, &s->secrets, &s->nsecrets);
}

static int key_configs(struct mb *m, struct compose_service *s, const struct cnode *n,
		       const char *path)
{
	return file_refs(m, n, path, false, &s->configs, &s->nconfigs);
}

/* unset: -1 (the engine's default) */
static int key_init(struct mb *m, struct compose_service *s, const struct cnode *n,
		    const char *path)
{
	bool b = false;

	if (!n || n->kind == CN_NULL)
		return 0;
	if (want_bool(m, n, path, &b) < 0)
		return -1;
	s->init = b ? 1 : 0;
	return 0;
}

static int key_scale(struct mb *m, struct compose_service *s, const struct cnode *n,
		     const char *path)
{
	long scale = 1;

	if (want_int(m, n, path, 0, INT_MAX, &scale) < 0)
		return -1;
	if (scale != 1)
		return diag_error(m->err, n, path,
				  "scale %ld: this driver runs one container per service; remove "
				  "it or set 1",
				  scale);
	return 0;
}

static int key_cpuset(struct mb *m, struct compose_service *s, const struct cnode *n,
		      const char *path)
{
	if (want_nonempty(m, n, path, &s->cpuset) < 0)
		return -1;
	if (s->cpuset && strspn(s->cpuset, "0123456789,-") != strlen(s->cpuset))
		return diag_error(m->err, n, path, "expected CPUs like 0-3 or 0,1, got \"%s\"",
				  s->cpuset);
	return 0;
}

static int key_pid(struct mb *m, struct compose_service *s, const struct cnode *n, const char *path)
{
	static const char *const words[] = {"host", NULL};

	return want_namespace(m, n, path, words, "a pid mode (host, service:<name>)", &s->pid);
}

static int key_ipc(struct mb *m, struct compose_service *s, const struct cnode *n, const char *path)
{
	static const char *const words[] = {"host", "private", "shareable", "none", NULL};

	return want_namespace(m, n, path, words,
			      "an ipc mode (host, private, shareable, none, service:<name>)",
			      &s->ipc);
}

static int key_userns_mode(struct mb *m, struct compose_service *s, const struct cnode *n,
			   const char *path)
{
	static const char *const words[] = {"host", NULL};

	return want_namespace(m, n, path, words, "a userns mode (host)", &s->userns_mode);
}

static int key_post_start(struct mb *m, struct compose_service *s, const struct cnode *n,
			  const char *path)
{
	return service_hooks(m, n, path, false, &s->post_start);
}

static int key_pre_stop(struct mb *m, struct compose_service *s, const struct cnode *n,
			const char *path)
{
	return service_hooks(m, n, path, false, &s->pre_stop);
}

static int key_pre_start(struct mb *m, struct compose_service *s, const struct cnode *n,
			 const char *path)
{
	return service_hooks(m, n, path, true, &s->pre_start);
}

/* In the order they are read: the first error found is the one reported. */
static const struct service_key extra_keys[] = {
	KEY_FN(build, service_build),
	KEY_FN(profiles, key_profiles),
	KEY_FN(pull_policy, key_pull_policy),
	KEY_STRING(platform),
	KEY_STRV(cap_add, SK_STRV),
	KEY_STRV(cap_drop, SK_STRV),
	KEY_FN(sysctls, key_sysctls),
	KEY_BOOL(read_only),
	KEY_STRV(security_opt, SK_STRV),
	KEY_FN(tmpfs, key_tmpfs),
	KEY_FN(secrets, key_secrets),
	KEY_FN(configs, key_configs),
	KEY_STRV(links, SK_STRV),
	KEY_STRV(dns, SK_STRV_ONE),
	KEY_STRV(dns_search, SK_STRV_ONE),
	KEY_STRV(dns_opt, SK_STRV_ONE),
	KEY_FN(init, key_init),
	KEY_STRING(stop_signal),
	KEY_FN(ulimits, service_ulimits),
	KEY_FN(logging, service_logging),
	KEY_FN(deploy, service_deploy),
	KEY_FN(scale, key_scale),
	KEY_I64(pids_limit, -1, LONG_MAX),
	KEY_BYTES(mem_limit, SK_BYTES),
	KEY_BYTES(mem_reservation, SK_BYTES),
	KEY_BYTES(memswap_limit, SK_BYTES_OR_MINUS_ONE),
	KEY_CPUS(cpus),
	KEY_I64(cpu_shares, 0, LONG_MAX),
	KEY_I64(cpu_quota, -1, LONG_MAX),
	KEY_I64(cpu_period, 0, LONG_MAX),
	KEY_FN(cpuset, key_cpuset),
	KEY_BYTES(shm_size, SK_BYTES),
	KEY_BOOL(privileged),
	KEY_FN(devices, service_devices),
	KEY_STRV(group_add, SK_STRV),
	KEY_BOOL(stdin_open),
	KEY_BOOL(tty),
	KEY_STRING(domainname),
	KEY_STRING(mac_address),
	KEY_BOOL(oom_kill_disable),
	KEY_I64(oom_score_adj, -1000, 1000),
	KEY_FN(pid, key_pid),
	KEY_FN(ipc, key_ipc),
	KEY_FN(userns_mode, key_userns_mode),
	KEY_FN(post_start, key_post_start),
	KEY_FN(pre_stop, key_pre_stop),
	KEY_FN(pre_start, key_pre_start),
};

/* One key of a service, read by its kind into its field. */
static int service_key(struct mb *m, struct compose_service *s, const struct service_key *k,
		       const struct cnode *svc, const char *svc_path)
{
	char path[COMPOSE_PATH_MAX];
	const struct cnode *n = cnode_get(svc, k->key);
	/* the field and its count, of the type the kind names (FIELD() checked it) */
	void *field = (char *)s + k->off;
	size_t *count = (void *)((char *)s + k->count_off);

	path_key(path, sizeof(path), svc_path, k->key);
	switch (k->kind) {
	case SK_STRING:
		return want_nonempty(m, n, path, field);
	case SK_BOOL:
		return want_bool(m, n, path, field);
	case SK_STRV:
	case SK_STRV_ONE:
		return want_strv(m, n, path, k->kind == SK_STRV_ONE, field, count);
	case SK_I64:
		return want_i64(m, n, path, k->min, k->max, field);
	case SK_BYTES:
	case SK_BYTES_OR_MINUS_ONE:
		return want_bytes(m, n, path, k->kind == SK_BYTES_OR_MINUS_ONE, field);
	case SK_CPUS:
		return want_cpus(m, n, path, field);
	case SK_DURATION:
		return want_duration(m, n, path, field);
	case SK_ARGV:
		return want_argv(m, n, path, field);
	case SK_LABELS:
		return want_labels(m, n, path, field, count);
	case SK_FN:
		return k->fn(m, s, n, path);
	case SK_SERVICE:
		return k->service_fn(m, s, svc, svc_path);
	}
	return 0;
}

int compose_service_keys(struct mb *m, struct compose_service *s, const struct cnode *svc,
			 const char *path, const struct service_key *keys, size_t nkeys)
{
	size_t i;

	for (i = 0; i < nkeys; i++)
		if (service_key(m, s, &keys[i], svc, path) < 0)
			return -1;
	return 0;
}

int compose_service_extras(struct mb *m, struct compose_service *s, const struct cnode *svc,
			   const char *path)
{
	s->init = -1;
	s->limits.memory = s->limits.pids = COMPOSE_UNSET;
	s->reservations.memory = s->reservations.pids = COMPOSE_UNSET;
	s->pids_limit = s->mem_limit = s->mem_reservation = s->memswap_limit = COMPOSE_UNSET;
	s->cpu_shares = s->cpu_quota = s->cpu_period = s->shm_size = COMPOSE_UNSET;
	s->oom_score_adj = COMPOSE_UNSET;
	return compose_service_keys(m, s, svc, path, extra_keys, ARRAY_SIZE(extra_keys));
}

/* ---- top-level secrets and configs ---- */

static int file_def(struct mb *m, const char *section, const struct centry *e, void *item)
{
	struct compose_file_def *d = item;
	char path[COMPOSE_PATH_MAX], sub[COMPOSE_PATH_MAX];
	const struct cnode *v = e->val, *ext;
	_cleanup_free_ char *file = NULL;
	bool secret = !strcmp(section, "secrets");
	int sources = 0;

	path_key(path, sizeof(path), section, e->key);
	d->line = e->line;
	if (!(d->key = strdup(e->key)) || !(d->file_decl = strdup(v->file)))
		return want_oom(m);
	if (want_map(m, v, path) < 0)
		return -1;
	path_key(sub, sizeof(sub), path, "name");
	if (want_nonempty(m, cnode_get(v, "name"), sub, &d->name) < 0)
		return -1;
	ext = cnode_get(v, "external");
	path_key(sub, sizeof(sub), path, "external");
	if (ext && ext->kind == CN_MAP) {
		d->external = true;
		if (!d->name) {
			path_key(sub, sizeof(sub), sub, "name");
			if (want_nonempty(m, cnode_get(ext, "name"), sub, &d->name) < 0)
				return -1;
		}
	} else if (want_bool(m, ext, sub, &d->external) < 0) {
		return -1;
	}
	path_key(sub, sizeof(sub), path, "file");
	if (want_nonempty(m, cnode_get(v, "file"), sub, &file) < 0)
		return -1;
	path_key(sub, sizeof(sub), path, "environment");
	if (want_nonempty(m, cnode_get(v, "environment"), sub, &d->environment) < 0)
		return -1;
	path_key(sub, sizeof(sub), path, "content");
	if (want_string(m, cnode_get(v, "content"), sub, &d->content) < 0)
		return -1;
	if (d->content && secret)
		return diag_error(m->err, cnode_get(v, "content"), sub,
				  "content is for configs; give a secret a file or an "
				  "environment variable");
	path_key(sub, sizeof(sub), path, "labels");
	if (want_labels(m, cnode_get(v, "labels"), sub, &d->labels, &d->nlabels) < 0)
		return -1;
	sources = !!file + !!d->environment + !!d->content;
	if (d->external && sources)
		return diag_error_at(m->err, v->file, e->line, path,
				     "an external %s has no file, environment or content",
				     secret ? "secret" : "config");
	if (!d->external && sources != 1)
		return diag_error_at(m->err, v->file, e->line, path,
				     "set exactly one of file, environment%s",
				     secret ? "" : " or content");
	if (file) {
		const char *rel = NULL;

		d->file = ctx_abspath(m->ctx->project_dir, file);
		if (!d->file)
			return want_oom(m);
		/* its content goes into a container: only the repository's own files */
		if (!ctx_confine(m->ctx, d->file, &rel))
			return diag_error(m->err, cnode_get(v, "file"), sub,
					  "%s is outside the project directory; keep %s files in "
					  "the repository",
					  file, secret ? "secret" : "config");
	}
	if (!d->name) {
		if (d->external)
			d->name = strdup(e->key);
		else if (asprintf(&d->name, "%s_%s", m->p->name, e->key) < 0)
			d->name = NULL;
		if (!d->name)
			return want_oom(m);
	}
	return 0;
}

static int cmp_file_def(const void *a, const void *b)
{
	return strcmp(((const struct compose_file_def *)a)->key,
		      ((const struct compose_file_def *)b)->key);
}

int compose_file_defs(struct mb *m, const struct cnode *root, const char *section,
		      struct compose_file_def **out, size_t *nout)
{
	void *items = *out;
	int ret = want_defs(m, root, section, sizeof(**out), file_def, &items, nout);

	*out = items;
	if (ret == 0 && *nout)
		qsort(*out, *nout, sizeof(**out), cmp_file_def);
	return ret;
}

/* ---- networks ---- */

static int want_tristate(struct mb *m, const struct cnode *n, const char *path, int *out)
{
	bool b = false;

	if (!n || n->kind == CN_NULL)
		return 0;
	if (want_bool(m, n, path, &b) < 0)
		return -1;
	*out = b ? 1 : 0;
	return 0;
}

static int ipam(struct mb *m, struct compose_resource *r, const struct cnode *n, const char *path)
{
	char sub[COMPOSE_PATH_MAX], ipath[COMPOSE_PATH_MAX], fpath[COMPOSE_PATH_MAX];
	const struct cnode *cfg;
	size_t i;

	if (!n || n->kind == CN_NULL)
		return 0;
	if (want_map(m, n, path) < 0)
		return -1;
	r->ipam = calloc(1, sizeof(*r->ipam));
	if (!r->ipam)
		return want_oom(m);
	path_key(sub, sizeof(sub), path, "driver");
	if (want_nonempty(m, cnode_get(n, "driver"), sub, &r->ipam->driver) < 0)
		return -1;
	path_key(sub, sizeof(sub), path, "options");
	if (want_labels(m, cnode_get(n, "options"), sub, &r->ipam->options, &r->ipam->noptions) < 0)
		return -1;
	cfg = cnode_get(n, "config");
	path_key(sub, sizeof(sub), path, "config");
	if (!cfg || cfg->kind == CN_NULL)
		return 0;
	if (cfg->kind != CN_SEQ)
		return diag_error(m->err, cfg, sub, "expected a list, got %s",
				  cnode_kind_name(cfg));
	r->ipam->config = calloc(cfg->n + 1, sizeof(*r->ipam->config));
	if (!r->ipam->config)
		return want_oom(m);
	for (i = 0; i < cfg->n; i++) {
		const struct cnode *it = cfg->items[i].val;
		struct compose_ipam_pool *pool = &r->ipam->config[r->ipam->nconfig++];

		path_index(ipath, sizeof(ipath), sub, i);
		if (want_map(m, it, ipath) < 0)
			return -1;
		path_key(fpath, sizeof(fpath), ipath, "subnet");
		if (want_nonempty(m, cnode_get(it, "subnet"), fpath, &pool->subnet) < 0)
			return -1;
		if (pool->subnet && !strchr(pool->subnet, '/'))
			return diag_error(m->err, cnode_get(it, "subnet"), fpath,
					  "expected a CIDR like 172.28.0.0/16, got \"%s\"",
					  pool->subnet);
		path_key(fpath, sizeof(fpath), ipath, "ip_range");
		if (want_nonempty(m, cnode_get(it, "ip_range"), fpath, &pool->ip_range) < 0)
			return -1;
		path_key(fpath, sizeof(fpath), ipath, "gateway");
		if (want_nonempty(m, cnode_get(it, "gateway"), fpath, &pool->gateway) < 0)
			return -1;
		path_key(fpath, sizeof(fpath), ipath, "aux_addresses");
		if (want_labels(m, cnode_get(it, "aux_addresses"), fpath, &pool->aux_addresses,
				&pool->naux_addresses) < 0)
			return -1;
	}
	return 0;
}

int compose_network_extras(struct mb *m, struct compose_resource *r, const struct cnode *v,
			   const char *path)
{
	char sub[COMPOSE_PATH_MAX];

	path_key(sub, sizeof(sub), path, "internal");
	if (want_bool(m, cnode_get(v, "internal"), sub, &r->internal) < 0)
		return -1;
	path_key(sub, sizeof(sub), path, "attachable");
	if (want_bool(m, cnode_get(v, "attachable"), sub, &r->attachable) < 0)
		return -1;
	path_key(sub, sizeof(sub), path, "enable_ipv4");
	if (want_tristate(m, cnode_get(v, "enable_ipv4"), sub, &r->enable_ipv4) < 0)
		return -1;
	path_key(sub, sizeof(sub), path, "enable_ipv6");
	if (want_tristate(m, cnode_get(v, "enable_ipv6"), sub, &r->enable_ipv6) < 0)
		return -1;
	path_key(sub, sizeof(sub), path, "ipam");
	return ipam(m, r, cnode_get(v, "ipam"), sub);
}

/* ---- references between services and resources ---- */

bool compose_project_disabled(const struct compose_project *p, const char *name)
{
	size_t i;

	for (i = 0; i < p->ndisabled; i++)
		if (!strcmp(p->disabled[i], name))
			return true;
	return false;
}

static const struct compose_file_def *find_def(const struct compose_file_def *d, size_t n,
					       const char *key)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!strcmp(d[i].key, key))
			return &d[i];
	return NULL;
}

static int service_ref(struct mb *m, const struct compose_service *s, const char *key,
		       const char *value)
{
	char path[COMPOSE_PATH_MAX];
	const char *colon = strchr(value, ':');
	_cleanup_free_ char *name = NULL;

	if (!strncmp(value, "service:", 8))
		name = strdup(value + 8);
	else if (!strcmp(key, "links"))
		name = colon ? strndup(value, (size_t)(colon - value)) : strdup(value);
	else
		return 0;
	if (!name)
		return want_oom(m);
	snprintf(path, sizeof(path), "services.%s.%s", s->name, key);
	if (!strcmp(name, s->name))
		return diag_error_at(m->err, s->file, s->line, path,
				     "a service cannot refer to itself");
	if (compose_project_service(m->p, name))
		return 0;
	if (compose_project_disabled(m->p, name))
		return diag_error_at(
			m->err, s->file, s->line, path,
			"service \"%s\" is disabled by its profiles; activate one of them", name);
	return diag_error_at(m->err, s->file, s->line, path, "unknown service \"%s\"", name);
}

int compose_check_references(struct mb *m)
{
	char path[COMPOSE_PATH_MAX];
	size_t i, j;

	for (i = 0; i < m->p->nservices; i++) {
		const struct compose_service *s = &m->p->services[i];

		for (j = 0; j < s->nsecrets; j++)
			if (!find_def(m->p->secrets, m->p->nsecrets, s->secrets[j].source)) {
				snprintf(path, sizeof(path), "services.%s.secrets", s->name);
				return diag_error_at(
					m->err, s->file, s->line, path,
					"refers to undefined secret \"%s\" (declare it "
					"under the top-level secrets:)",
					s->secrets[j].source);
			}
		for (j = 0; j < s->nconfigs; j++)
			if (!find_def(m->p->configs, m->p->nconfigs, s->configs[j].source)) {
				snprintf(path, sizeof(path), "services.%s.configs", s->name);
				return diag_error_at(
					m->err, s->file, s->line, path,
					"refers to undefined config \"%s\" (declare it "
					"under the top-level configs:)",
					s->configs[j].source);
			}
		for (j = 0; j < s->nlinks; j++)
			if (service_ref(m, s, "links", s->links[j]) < 0)
				return -1;
		if ((s->network_mode && service_ref(m, s, "network_mode", s->network_mode) < 0) ||
		    (s->pid && service_ref(m, s, "pid", s->pid) < 0) ||
		    (s->ipc && service_ref(m, s, "ipc", s->ipc) < 0))
			return -1;
	}
	return 0;
}

/* ---- free ---- */

static void hooks_free(struct compose_hooks *h)
{
	size_t i;

	for (i = 0; i < h->n; i++) {
		scalar_strv_free(h->items[i].command.argv, h->items[i].command.argc);
		free(h->items[i].image);
		free(h->items[i].user);
		free(h->items[i].working_dir);
		kv_free(h->items[i].environment, h->items[i].nenvironment);
	}
	free(h->items);
}

static void file_refs_free(struct compose_file_ref *f, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(f[i].source);
		free(f[i].target);
		free(f[i].uid);
		free(f[i].gid);
	}
	free(f);
}

void compose_service_extras_free(struct compose_service *s)
{
	size_t i;

	free(s->build.context);
	free(s->build.dockerfile);
	free(s->build.target);
	kv_free(s->build.args, s->build.nargs);
	scalar_strv_free(s->profiles, s->nprofiles);
	free(s->pull_policy);
	free(s->platform);
	scalar_strv_free(s->cap_add, s->ncap_add);
	scalar_strv_free(s->cap_drop, s->ncap_drop);
	kv_free(s->sysctls, s->nsysctls);
	scalar_strv_free(s->security_opt, s->nsecurity_opt);
	scalar_strv_free(s->tmpfs, s->ntmpfs);
	file_refs_free(s->secrets, s->nsecrets);
	file_refs_free(s->configs, s->nconfigs);
	scalar_strv_free(s->links, s->nlinks);
	scalar_strv_free(s->dns, s->ndns);
	scalar_strv_free(s->dns_search, s->ndns_search);
	scalar_strv_free(s->dns_opt, s->ndns_opt);
	free(s->stop_signal);
	for (i = 0; i < s->nulimits; i++)
		free(s->ulimits[i].name);
	free(s->ulimits);
	free(s->logging.driver);
	kv_free(s->logging.options, s->logging.noptions);
	free(s->cpuset);
	for (i = 0; i < s->ndevices; i++) {
		free(s->devices[i].source);
		free(s->devices[i].target);
		free(s->devices[i].permissions);
	}
	free(s->devices);
	scalar_strv_free(s->group_add, s->ngroup_add);
	free(s->domainname);
	free(s->mac_address);
	free(s->pid);
	free(s->ipc);
	free(s->userns_mode);
	hooks_free(&s->post_start);
	hooks_free(&s->pre_stop);
	hooks_free(&s->pre_start);
}

void compose_file_defs_free(struct compose_file_def *d, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(d[i].key);
		free(d[i].name);
		free(d[i].file);
		free(d[i].environment);
		free(d[i].content);
		kv_free(d[i].labels, d[i].nlabels);
		free(d[i].file_decl);
	}
	free(d);
}

void compose_network_extras_free(struct compose_resource *r)
{
	size_t i;

	if (!r->ipam)
		return;
	free(r->ipam->driver);
	for (i = 0; i < r->ipam->nconfig; i++) {
		free(r->ipam->config[i].subnet);
		free(r->ipam->config[i].ip_range);
		free(r->ipam->config[i].gateway);
		kv_free(r->ipam->config[i].aux_addresses, r->ipam->config[i].naux_addresses);
	}
	free(r->ipam->config);
	kv_free(r->ipam->options, r->ipam->noptions);
	free(r->ipam);
	r->ipam = NULL;
}
