/* SPDX-License-Identifier: MIT */
/*
 * The merged tree -> struct compose_project.  Every type check and every
 * validation happens here, each failure one ERR_COMPOSE error
 * "file:line: path: what was expected, and what was found".
 */
#include "compose/model.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/cleanup.h"
#include "common/fs.h"
#include "compose/ctx.h"
#include "compose/diag.h"
#include "compose/envfile.h"
#include "compose/kv.h"
#include "compose/merge.h"
#include "compose/node.h"
#include "compose/scalar.h"
#include "compose/service.h"
#include "compose/want.h"

static int oom(struct mb *m)
{
	return want_oom(m);
}

/* ---- names ---- */

static bool name_chars(const char *s, bool first_alnum, bool upper, const char *extra)
{
	const char *c;

	if (!*s)
		return false;
	if (first_alnum && !(islower((unsigned char)*s) || isdigit((unsigned char)*s) ||
			     (upper && isupper((unsigned char)*s))))
		return false;
	for (c = s; *c; c++) {
		unsigned char u = (unsigned char)*c;

		if (islower(u) || isdigit(u) || (upper && isupper(u)) || strchr(extra, u))
			continue;
		return false;
	}
	return true;
}

/* Compose: [a-z0-9][a-z0-9_-]* */
static bool valid_project_name(const char *s)
{
	return name_chars(s, true, false, "_-");
}

/* services, networks and volumes keys: [a-zA-Z0-9._-]+ */
static bool valid_key_name(const char *s)
{
	return name_chars(s, false, true, "._-");
}

/* the engine's volume and network names: [a-zA-Z0-9][a-zA-Z0-9_.-]*, bounded;
 * they become Engine API paths (/volumes/<name>), so `..` or `/` must never pass */
static bool valid_engine_name(const char *s)
{
	return strlen(s) <= COMPOSE_ENGINE_NAME_MAX && name_chars(s, true, true, "_.-");
}

/* the engine's container names: [a-zA-Z0-9][a-zA-Z0-9_.-]+, bounded like the others */
static bool valid_container_name(const char *s)
{
	return strlen(s) >= 2 && strlen(s) <= COMPOSE_ENGINE_NAME_MAX &&
	       name_chars(s, true, true, "_.-");
}

/* ---- project name ---- */

static int derive_name(struct mb *m, char **out)
{
	/* as Compose: the directory's name, lowercased, invalid characters dropped */
	const char *base = strrchr(m->ctx->project_dir, '/');
	size_t len = 0;
	char *derived;

	base = base ? base + 1 : m->ctx->project_dir;
	derived = malloc(strlen(base) + 1);
	if (!derived)
		return oom(m);
	for (; *base; base++) {
		char c = (char)tolower((unsigned char)*base);

		if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    (len && (c == '_' || c == '-')))
			derived[len++] = c;
	}
	derived[len] = '\0';
	*out = derived;
	if (!len)
		return error_set(m->err, ERR_COMPOSE,
				 "no project name: set name: in the stack file");
	return 0;
}

/*
 * Precedence: the caller's name (-p) > COMPOSE_PROJECT_NAME > the file's
 * `name:` > the caller's default > the directory; with file_name_wins, the
 * file's `name:` first.
 */
static int project_name(struct mb *m, const struct cnode *root,
			const struct compose_load_opts *opts)
{
	const struct cnode *n = cnode_get(root, "name");
	const char *name = NULL, *from = NULL, *env = ctx_var(m->ctx, "COMPOSE_PROJECT_NAME");
	_cleanup_free_ char *derived = NULL;

	if (n && n->kind == CN_NULL)
		n = NULL;
	if (n && n->kind != CN_SCALAR)
		return diag_error(m->err, n, "name", "expected a string, got %s",
				  cnode_kind_name(n));
	if (n && !*n->str)
		n = NULL;
	if (n && opts->file_name_wins) {
		name = n->str;
	} else if (opts->project_name) {
		name = opts->project_name;
		from = "the project name";
		n = NULL;
	} else if (env && *env) {
		name = env;
		from = "COMPOSE_PROJECT_NAME";
		n = NULL;
	} else if (n) {
		name = n->str;
	} else if (opts->project_name_default) {
		name = opts->project_name_default;
		from = "the default project name";
	} else {
		if (derive_name(m, &derived) < 0)
			return -1;
		name = derived;
		from = "the directory name";
	}
	if (!valid_project_name(name)) {
		const char *why = "must be lowercase letters, digits, dashes and underscores, "
				  "starting with a letter or digit";

		if (n)
			return diag_error(m->err, n, "name", "project name \"%s\" %s", name, why);
		return error_set(m->err, ERR_COMPOSE, "%s \"%s\" %s", from, name, why);
	}
	m->p->name = strdup(name);
	return m->p->name ? 0 : oom(m);
}

/* ---- top-level networks and volumes ---- */

static int resource(struct mb *m, const char *section, const struct centry *e, void *item)
{
	struct compose_resource *r = item;
	char path[COMPOSE_PATH_MAX], sub[COMPOSE_PATH_MAX], name_path[COMPOSE_PATH_MAX];
	const struct cnode *v = e->val;
	const struct cnode *ext, *name_node = NULL;
	_cleanup_free_ char *name = NULL;

	path_key(path, sizeof(path), section, e->key);
	r->enable_ipv4 = r->enable_ipv6 = -1;
	r->key = strdup(e->key);
	r->file = strdup(v->file);
	r->line = e->line;
	if (!r->key || !r->file)
		return oom(m);
	if (!valid_key_name(e->key))
		return diag_error_at(m->err, v->file, e->line, path,
				     "invalid name: use letters, digits, '.', '_' and '-'");
	if (v->kind != CN_NULL) {
		if (want_map(m, v, path) < 0)
			return -1;
		path_key(sub, sizeof(sub), path, "name");
		if (want_nonempty(m, cnode_get(v, "name"), sub, &name) < 0)
			return -1;
		if (name) {
			name_node = cnode_get(v, "name");
			snprintf(name_path, sizeof(name_path), "%s", sub);
		}
		ext = cnode_get(v, "external");
		path_key(sub, sizeof(sub), path, "external");
		if (ext && ext->kind == CN_MAP) {
			/* the old form, external: {name: x} */
			r->external = true;
			if (!name) {
				path_key(sub, sizeof(sub), sub, "name");
				if (want_nonempty(m, cnode_get(ext, "name"), sub, &name) < 0)
					return -1;
				if (name) {
					name_node = cnode_get(ext, "name");
					snprintf(name_path, sizeof(name_path), "%s", sub);
				}
			}
		} else if (want_bool(m, ext, sub, &r->external) < 0) {
			return -1;
		}
		path_key(sub, sizeof(sub), path, "driver");
		if (want_nonempty(m, cnode_get(v, "driver"), sub, &r->driver) < 0)
			return -1;
		path_key(sub, sizeof(sub), path, "labels");
		if (want_labels(m, cnode_get(v, "labels"), sub, &r->labels, &r->nlabels) < 0)
			return -1;
		path_key(sub, sizeof(sub), path, "driver_opts");
		if (want_labels(m, cnode_get(v, "driver_opts"), sub, &r->driver_opts,
				&r->ndriver_opts) < 0)
			return -1;
		if (!strcmp(section, "networks") && compose_network_extras(m, r, v, path) < 0)
			return -1;
	}
	if (name)
		r->name = steal_ptr(name);
	else if (r->external)
		r->name = strdup(e->key);
	else if (asprintf(&r->name, "%s_%s", m->p->name, e->key) < 0)
		r->name = NULL;
	if (!r->name)
		return oom(m);
	if (!valid_engine_name(r->name)) {
		const char *kind = !strcmp(section, "volumes") ? "volume" : "network";

		return diag_error_at(
			m->err, v->file, name_node ? name_node->line : e->line,
			name_node ? name_path : path,
			"invalid %s name \"%.80s%s\": Docker names are "
			"[a-zA-Z0-9][a-zA-Z0-9_.-]* (at most %d characters); use such a "
			"name",
			kind, r->name, strlen(r->name) > 80 ? "..." : "", COMPOSE_ENGINE_NAME_MAX);
	}
	return 0;
}

/* networks: or volumes:; the spare item is room for an implicit default */
static int resources(struct mb *m, const struct cnode *root, const char *section,
		     struct compose_resource **out, size_t *nout)
{
	void *items = *out;
	int ret = want_defs(m, root, section, sizeof(**out), resource, &items, nout);

	*out = items;
	return ret;
}

/* ---- service parts ---- */

static int port_number(const char *s, long *v)
{
	return scalar_long(s, 1, 65535, v);
}

/* "8000" or "8000-8010" */
static int port_range(const char *s, long *start, long *end)
{
	const char *dash = strchr(s, '-');
	char a[16];

	if (!dash) {
		if (port_number(s, start) < 0)
			return -1;
		*end = *start;
		return 0;
	}
	if ((size_t)(dash - s) >= sizeof(a))
		return -1;
	memcpy(a, s, (size_t)(dash - s));
	a[dash - s] = '\0';
	if (port_number(a, start) < 0 || port_number(dash + 1, end) < 0 || *end < *start)
		return -1;
	return 0;
}

static bool valid_protocol(const char *p)
{
	return !strcmp(p, "tcp") || !strcmp(p, "udp") || !strcmp(p, "sctp");
}

static int add_port(struct mb *m, struct compose_service *s, const struct compose_port *pt,
		    const struct cnode *n, const char *path)
{
	if (s->nports >= COMPOSE_PORTS_MAX)
		return diag_error(m->err, n, path, "more than %u ports", COMPOSE_PORTS_MAX);
	if (grow_array((void **)&s->ports, s->nports, sizeof(*s->ports)) < 0)
		return oom(m);
	s->ports[s->nports] = *pt;
	if (pt->host_ip && !(s->ports[s->nports].host_ip = strdup(pt->host_ip)))
		return oom(m);
	s->nports++;
	return 0;
}

/* Expand one port spec (ranges allowed) into entries. */
static int expand_ports(struct mb *m, struct compose_service *s, const struct port_spec *ps,
			const struct cnode *n, const char *path)
{
	struct compose_port pt = {0};
	long ts, te, ps_start = 0, ps_end = 0, i;
	long tcount, pcount = 0;
	/* "0:80": as Docker, host port 0 means the engine picks one */
	bool published = ps->published[0] && strcmp(ps->published, "0") != 0;

	if (port_range(ps->target, &ts, &te) < 0)
		return diag_error(m->err, n, path, "invalid container port \"%s\"", ps->target);
	if (published && port_range(ps->published, &ps_start, &ps_end) < 0)
		return diag_error(m->err, n, path, "invalid host port \"%s\"", ps->published);
	if (!valid_protocol(ps->protocol))
		return diag_error(m->err, n, path, "invalid protocol \"%s\" (tcp, udp or sctp)",
				  ps->protocol);
	tcount = te - ts + 1;
	if (published)
		pcount = ps_end - ps_start + 1;
	if (pcount && pcount != tcount && tcount != 1)
		return diag_error(m->err, n, path,
				  "host ports %s and container ports %s are ranges of different "
				  "sizes",
				  ps->published, ps->target);
	pt.host_ip = ps->ip[0] ? (char *)ps->ip : NULL;
	snprintf(pt.protocol, sizeof(pt.protocol), "%s", ps->protocol);
	for (i = 0; i < tcount; i++) {
		pt.target = (int)(ts + i);
		if (pcount == tcount) {
			pt.published_start = pt.published_end = (int)(ps_start + i);
		} else if (pcount) {
			/* one container port, a host range: the engine picks one in it */
			pt.published_start = (int)ps_start;
			pt.published_end = (int)ps_end;
		}
		if (add_port(m, s, &pt, n, path) < 0)
			return -1;
	}
	return 0;
}

static int scalar_field(struct mb *m, const struct cnode *map, const char *key, const char *path,
			char *dst, size_t size)
{
	const struct cnode *v = cnode_get(map, key);
	char sub[COMPOSE_PATH_MAX];

	dst[0] = '\0';
	if (!v || v->kind == CN_NULL)
		return 0;
	path_key(sub, sizeof(sub), path, key);
	if (v->kind != CN_SCALAR)
		return diag_error(m->err, v, sub, "expected a string or number, got %s",
				  cnode_kind_name(v));
	if (strlen(v->str) >= size)
		return diag_error(m->err, v, sub, "\"%s\" is too long", v->str);
	snprintf(dst, size, "%s", v->str);
	return 0;
}

static int service_ports(struct mb *m, struct compose_service *s, const struct cnode *n,
			 const char *path)
{
	char ipath[COMPOSE_PATH_MAX];
	size_t i;

	if (!n || n->kind == CN_NULL)
		return 0;
	if (n->kind != CN_SEQ)
		return diag_error(m->err, n, path, "expected a sequence, got %s",
				  cnode_kind_name(n));
	for (i = 0; i < n->n; i++) {
		const struct cnode *it = n->items[i].val;
		struct port_spec ps;

		path_index(ipath, sizeof(ipath), path, i);
		if (it->kind == CN_SCALAR) {
			if (parse_port_short(it->str, &ps) < 0)
				return diag_error(m->err, it, ipath,
						  "invalid port \"%s\" (expected "
						  "[[ip:]host:]container[/protocol])",
						  it->str);
		} else if (it->kind == CN_MAP) {
			memset(&ps, 0, sizeof(ps));
			if (scalar_field(m, it, "target", ipath, ps.target, sizeof(ps.target)) <
				    0 ||
			    scalar_field(m, it, "published", ipath, ps.published,
					 sizeof(ps.published)) < 0 ||
			    scalar_field(m, it, "host_ip", ipath, ps.ip, sizeof(ps.ip)) < 0 ||
			    scalar_field(m, it, "protocol", ipath, ps.protocol,
					 sizeof(ps.protocol)) < 0)
				return -1;
			if (!ps.target[0])
				return diag_error(m->err, it, ipath, "target is required");
			if (!ps.protocol[0])
				snprintf(ps.protocol, sizeof(ps.protocol), "%s", "tcp");
		} else {
			return diag_error(m->err, it, ipath, "expected a string or mapping, got %s",
					  cnode_kind_name(it));
		}
		if (expand_ports(m, s, &ps, it, ipath) < 0)
			return -1;
	}
	return 0;
}

static int service_expose(struct mb *m, struct compose_service *s, const struct cnode *n,
			  const char *path)
{
	char ipath[COMPOSE_PATH_MAX];
	size_t i;

	if (!n || n->kind == CN_NULL)
		return 0;
	if (n->kind != CN_SEQ)
		return diag_error(m->err, n, path, "expected a sequence, got %s",
				  cnode_kind_name(n));
	for (i = 0; i < n->n; i++) {
		const struct cnode *it = n->items[i].val;
		char spec[64];
		char *slash;
		long a, b, p;

		path_index(ipath, sizeof(ipath), path, i);
		if (it->kind != CN_SCALAR)
			return diag_error(m->err, it, ipath, "expected a string or number, got %s",
					  cnode_kind_name(it));
		if (strlen(it->str) >= sizeof(spec))
			return diag_error(m->err, it, ipath, "invalid port \"%s\"", it->str);
		snprintf(spec, sizeof(spec), "%s", it->str);
		slash = strchr(spec, '/');
		if (slash)
			*slash++ = '\0';
		if (port_range(spec, &a, &b) < 0 || (slash && !valid_protocol(slash)))
			return diag_error(m->err, it, ipath,
					  "invalid port \"%s\" (expected port[-port][/protocol])",
					  it->str);
		for (p = a; p <= b; p++) {
			struct compose_port *e;

			if (s->nexpose >= COMPOSE_PORTS_MAX)
				return diag_error(m->err, it, ipath, "more than %u ports",
						  COMPOSE_PORTS_MAX);
			if (grow_array((void **)&s->expose, s->nexpose, sizeof(*s->expose)) < 0)
				return oom(m);
			e = &s->expose[s->nexpose++];
			memset(e, 0, sizeof(*e));
			e->target = (int)p;
			snprintf(e->protocol, sizeof(e->protocol), "%s", slash ? slash : "tcp");
		}
	}
	return 0;
}

/* env_file: (kv NULL: into the environment) and label_file: (into kv) */
static int env_files(struct mb *m, struct compose_service *s, const struct cnode *n,
		     const char *path, struct compose_kv **kv, size_t *nkv)
{
	char ipath[COMPOSE_PATH_MAX], sub[COMPOSE_PATH_MAX];
	const char *base = m->ctx->root ? m->ctx->root : m->ctx->project_dir;
	size_t i;

	if (!n || n->kind == CN_NULL)
		return 0;
	if (n->kind != CN_SEQ)
		return diag_error(m->err, n, path, "expected a path or a list of paths, got %s",
				  cnode_kind_name(n));
	for (i = 0; i < n->n; i++) {
		const struct cnode *it = n->items[i].val;
		const struct cnode *pn = it;
		_cleanup_free_ char *abs = NULL;
		_cleanup_buf_ struct buf text = BUF_INIT;
		bool required = true, raw = false;
		const char *rel;

		path_index(ipath, sizeof(ipath), path, i);
		if (it->kind == CN_MAP) {
			_cleanup_free_ char *format = NULL;

			pn = cnode_get(it, "path");
			path_key(sub, sizeof(sub), ipath, "required");
			if (want_bool(m, cnode_get(it, "required"), sub, &required) < 0)
				return -1;
			path_key(sub, sizeof(sub), ipath, "format");
			if (want_string(m, cnode_get(it, "format"), sub, &format) < 0)
				return -1;
			if (format && !strcmp(format, "raw"))
				raw = true;
			else if (format)
				return diag_error(m->err, cnode_get(it, "format"), sub,
						  "unknown env_file format \"%s\" (only raw)",
						  format);
			if (!pn)
				return diag_error(m->err, it, ipath, "path is required");
			path_key(ipath, sizeof(ipath), ipath, "path");
		}
		if (pn->kind != CN_SCALAR || !*pn->str)
			return diag_error(m->err, pn, ipath, "expected a file path, got %s",
					  pn->kind == CN_SCALAR ? "an empty string"
								: cnode_kind_name(pn));
		abs = ctx_abspath(m->ctx->project_dir, pn->str);
		if (!abs)
			return oom(m);
		/* the file's values go into a container: only the repository's own
		 * files, never the runner host's, opened beneath the repository so
		 * that no link leads out of it */
		rel = fs_rel_below(base, abs);
		if (!rel)
			return diag_error(m->err, pn, ipath,
					  "env_file %s is outside the project directory; keep env "
					  "files in the repository",
					  pn->str);
		buf_init(&text, COMPOSE_ENV_FILE_MAX);
		if (fs_read_beneath(base, rel, &text, COMPOSE_ENV_FILE_MAX, m->err) < 0) {
			char msg[ERROR_MSG_MAX];
			enum error_class cls = m->err->cls;

			if (!required && cls == ERR_IO && m->err->code == ENOENT) {
				error_clear(m->err);
				continue;
			}
			if (cls == ERR_IO && m->err->code == EINVAL)
				return diag_error(m->err, pn, ipath, "%s is not a regular file",
						  abs);
			snprintf(msg, sizeof(msg), "%s", m->err->msg);
			diag_error(m->err, pn, ipath, "%s", msg);
			if (cls == ERR_POLICY)
				m->err->cls = ERR_POLICY;
			return -1;
		}
		if (!kv) {
			kv = &s->environment;
			nkv = &s->nenvironment;
		}
		if (raw ? compose_envfile_parse_raw(abs, buf_str(&text), kv, nkv, m->err)
			: compose_envfile_parse(m->ctx, abs, buf_str(&text), kv, nkv, m->err))
			return -1;
	}
	return 0;
}

static int key_env_file(struct mb *m, struct compose_service *s, const struct cnode *n,
			const char *path)
{
	return env_files(m, s, n, path, NULL, NULL);
}

/* after env_file: (key_env_file), whose variables environment: overrides */
static int key_environment(struct mb *m, struct compose_service *s, const struct cnode *n,
			   const char *path)
{
	char sub[COMPOSE_PATH_MAX];
	size_t i;

	if (!n || n->kind == CN_NULL)
		return 0;
	if (n->kind != CN_MAP)
		return diag_error(m->err, n, path, "expected a mapping or a list, got %s",
				  cnode_kind_name(n));
	for (i = 0; i < n->n; i++) {
		const struct cnode *v = n->items[i].val;
		const char *key = n->items[i].key, *value;

		path_key(sub, sizeof(sub), path, key);
		if (!*key)
			return diag_error(m->err, v, path, "empty variable name");
		if (v->kind == CN_SCALAR)
			value = v->str;
		else if (v->kind == CN_NULL)
			/* `FOO:` or `- FOO`: from the variables (or .env), as Compose takes
			 * it from the shell */
			value = ctx_var(m->ctx, key);
		else
			return diag_error(m->err, v, sub,
					  "expected a string, number or boolean, got %s",
					  cnode_kind_name(v));
		if (kv_set(&s->environment, &s->nenvironment, key, value) < 0)
			return oom(m);
	}
	return 0;
}

static const struct compose_resource *find_resource(const struct compose_resource *r, size_t n,
						    const char *key)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!strcmp(r[i].key, key))
			return &r[i];
	return NULL;
}

static int add_alias(struct compose_service_network *sn, const char *alias)
{
	size_t i;

	for (i = 0; i < sn->naliases; i++)
		if (!strcmp(sn->aliases[i], alias))
			return 0;
	if (grow_array((void **)&sn->aliases, sn->naliases, sizeof(*sn->aliases)) < 0)
		return -1;
	sn->aliases[sn->naliases] = strdup(alias);
	if (!sn->aliases[sn->naliases])
		return -1;
	sn->naliases++;
	return 0;
}

static int ensure_default_network(struct mb *m)
{
	struct compose_project *p = m->p;
	struct compose_resource *r;

	if (find_resource(p->networks, p->nnetworks, "default"))
		return 0;
	if (!p->networks) {
		p->networks = calloc(1, sizeof(*p->networks));
		if (!p->networks)
			return oom(m);
	}
	/* resources() left room for exactly one implicit entry */
	r = &p->networks[p->nnetworks++];
	r->key = strdup("default");
	r->implicit = true;
	r->enable_ipv4 = r->enable_ipv6 = -1;
	if (asprintf(&r->name, "%s_default", p->name) < 0)
		r->name = NULL;
	return r->key && r->name ? 0 : oom(m);
}

static int service_networks(struct mb *m, struct compose_service *s, const struct cnode *n,
			    const char *path)
{
	char sub[COMPOSE_PATH_MAX], apath[COMPOSE_PATH_MAX];
	size_t i, j, count;

	if (n && n->kind != CN_NULL && n->kind != CN_MAP)
		return diag_error(m->err, n, path, "expected a list or a mapping, got %s",
				  cnode_kind_name(n));
	count = n && n->kind == CN_MAP ? n->n : 0;
	s->networks = calloc(count ? count : 1, sizeof(*s->networks));
	if (!s->networks)
		return oom(m);
	for (i = 0; i < (count ? count : 1); i++) {
		struct compose_service_network *sn = &s->networks[i];
		const char *key = count ? n->items[i].key : "default";
		const struct cnode *v = count ? n->items[i].val : NULL;
		const struct compose_resource *r;

		s->nnetworks++;
		sn->key = strdup(key);
		if (!sn->key)
			return oom(m);
		/* the implicit default network may be named too: [front, default] */
		if ((!count || !strcmp(key, "default")) && ensure_default_network(m) < 0)
			return -1;
		r = find_resource(m->p->networks, m->p->nnetworks, key);
		path_key(sub, sizeof(sub), path, key);
		if (!r && count)
			return diag_error_at(
				m->err, n->file, n->items[i].line, sub,
				"refers to undefined network \"%s\" (declare it under the "
				"top-level networks:)",
				key);
		if (!r)
			return error_set(m->err, ERR_SYSTEM, "no default network");
		sn->name = strdup(r->name);
		if (!sn->name || add_alias(sn, s->name) < 0)
			return oom(m);
		if (!v || v->kind == CN_NULL)
			continue;
		if (want_map(m, v, sub) < 0)
			return -1;
		const struct cnode *al = cnode_get(v, "aliases");
		long prio = 0;

		path_key(apath, sizeof(apath), sub, "ipv4_address");
		if (want_nonempty(m, cnode_get(v, "ipv4_address"), apath, &sn->ipv4_address) < 0)
			return -1;
		path_key(apath, sizeof(apath), sub, "ipv6_address");
		if (want_nonempty(m, cnode_get(v, "ipv6_address"), apath, &sn->ipv6_address) < 0)
			return -1;
		path_key(apath, sizeof(apath), sub, "priority");
		if (want_int(m, cnode_get(v, "priority"), apath, INT_MIN, INT_MAX, &prio) < 0)
			return -1;
		sn->priority = (int)prio;
		path_key(sub, sizeof(sub), sub, "aliases");
		if (!al || al->kind == CN_NULL)
			continue;
		if (al->kind != CN_SEQ)
			return diag_error(m->err, al, sub, "expected a list of names, got %s",
					  cnode_kind_name(al));
		for (j = 0; j < al->n; j++) {
			const struct cnode *a = al->items[j].val;

			path_index(apath, sizeof(apath), sub, j);
			if (a->kind != CN_SCALAR || !*a->str)
				return diag_error(m->err, a, apath, "expected a name, got %s",
						  a->kind == CN_SCALAR ? "an empty string"
								       : cnode_kind_name(a));
			if (add_alias(sn, a->str) < 0)
				return oom(m);
		}
	}
	return 0;
}

static bool is_path_source(const char *s)
{
	return s[0] == '/' || s[0] == '.' || s[0] == '~';
}

static char *host_path(struct mb *m, const char *src)
{
	if (src[0] == '~' && (src[1] == '\0' || src[1] == '/')) {
		const char *home = getenv("HOME");

		if (!home || home[0] != '/')
			return NULL;
		return ctx_abspath(home, src[1] ? src + 2 : ".");
	}
	return ctx_abspath(m->ctx->project_dir, src);
}

static int mount_common(struct mb *m, struct compose_service *s, struct compose_mount *mt,
			const struct cnode *n, const char *path)
{
	size_t i;
	char *clean;

	if (mt->target[0] != '/')
		return diag_error(m->err, n, path, "the container path \"%s\" must be absolute",
				  mt->target);
	/* /data/ and /data are one mount point, as the engine sees them */
	clean = ctx_abspath("/", mt->target);
	if (!clean)
		return oom(m);
	free(mt->target);
	mt->target = clean;
	for (i = 0; i + 1 < s->nvolumes; i++)
		if (!strcmp(s->volumes[i].target, mt->target))
			return diag_error(m->err, n, path,
					  "%s is mounted twice (duplicate mount point); keep one",
					  mt->target);
	if (mt->type == COMPOSE_MOUNT_BIND) {
		char *abs;

		if (mt->source[0] == '~' && mt->source[1] && mt->source[1] != '/')
			return diag_error(m->err, n, path,
					  "\"%s\": only ~ and ~/ are expanded, not ~user",
					  mt->source);
		abs = host_path(m, mt->source);
		if (!abs)
			return diag_error(m->err, n, path, "cannot resolve \"%s\" (is HOME set?)",
					  mt->source);
		free(mt->source);
		mt->source = abs;
	} else if (mt->type == COMPOSE_MOUNT_VOLUME && mt->source) {
		const struct compose_resource *r =
			find_resource(m->p->volumes, m->p->nvolumes, mt->source);

		if (!r)
			return diag_error(m->err, n, path,
					  "refers to undefined volume \"%s\" (declare it under the "
					  "top-level volumes:)",
					  mt->source);
		mt->volume_name = strdup(r->name);
		if (!mt->volume_name)
			return oom(m);
	}
	return 0;
}

static struct compose_mount *new_mount(struct mb *m, struct compose_service *s)
{
	struct compose_mount *mt;

	if (grow_array((void **)&s->volumes, s->nvolumes, sizeof(*s->volumes)) < 0)
		return NULL;
	mt = &s->volumes[s->nvolumes++];
	memset(mt, 0, sizeof(*mt));
	mt->create_host_path = true;
	return mt;
}

static int mount_short(struct mb *m, struct compose_service *s, const struct cnode *it,
		       const char *path)
{
	_cleanup_free_ char *src = NULL, *dst = NULL, *mode = NULL;
	struct compose_mount *mt;
	char *opt, *save = NULL;

	if (parse_volume_short(it->str, &src, &dst, &mode) < 0)
		return diag_error(m->err, it, path,
				  "invalid volume \"%s\" (expected [source:]target[:mode])",
				  it->str);
	mt = new_mount(m, s);
	if (!mt)
		return oom(m);
	mt->target = steal_ptr(dst);
	if (!src)
		mt->type = COMPOSE_MOUNT_VOLUME; /* anonymous */
	else if (is_path_source(src))
		mt->type = COMPOSE_MOUNT_BIND;
	else
		mt->type = COMPOSE_MOUNT_VOLUME;
	mt->source = steal_ptr(src);
	for (opt = mode ? strtok_r(mode, ",", &save) : NULL; opt;
	     opt = strtok_r(NULL, ",", &save)) {
		if (!strcmp(opt, "ro"))
			mt->read_only = true;
		else if (!strcmp(opt, "rw"))
			mt->read_only = false;
		else if (!strcmp(opt, "nocopy") && mt->type == COMPOSE_MOUNT_VOLUME)
			mt->nocopy = true;
		else if ((!strcmp(opt, "z") || !strcmp(opt, "Z")) &&
			 mt->type == COMPOSE_MOUNT_BIND) {
			free(mt->selinux);
			if (!(mt->selinux = strdup(opt)))
				return oom(m);
		} else if ((!strcmp(opt, "shared") || !strcmp(opt, "rshared") ||
			    !strcmp(opt, "slave") || !strcmp(opt, "rslave") ||
			    !strcmp(opt, "private") || !strcmp(opt, "rprivate")) &&
			   mt->type == COMPOSE_MOUNT_BIND) {
			free(mt->propagation);
			if (!(mt->propagation = strdup(opt)))
				return oom(m);
		} else if (!strcmp(opt, "cached") || !strcmp(opt, "delegated") ||
			   !strcmp(opt, "consistent"))
			diag_add(m->ctx->diags, it->file, it->line,
				 "%s: volume option %s has no effect on Linux (ignored)", path,
				 opt);
		else
			return diag_error(m->err, it, path,
					  "unknown volume option \"%s\" (expected ro or rw)", opt);
	}
	return mount_common(m, s, mt, it, path);
}

/*
 * One volumes: entry in the long syntax: type (bind, volume or tmpfs), source
 * and target, read_only, then the options of each type (bind:, volume:,
 * tmpfs:), each checked against the type it belongs to; the source resolved
 * and checked by mount_common().  A list of keys, each a few lines.
 */
static int mount_long(struct mb *m, struct compose_service *s, const struct cnode *it,
		      const char *path)
{
	char sub[COMPOSE_PATH_MAX], sub2[COMPOSE_PATH_MAX];
	_cleanup_free_ char *type = NULL;
	const struct cnode *opt;
	struct compose_mount *mt;

	path_key(sub, sizeof(sub), path, "type");
	if (want_nonempty(m, cnode_get(it, "type"), sub, &type) < 0)
		return -1;
	if (!type)
		return diag_error(m->err, it, path, "type is required (bind, volume or tmpfs)");
	mt = new_mount(m, s);
	if (!mt)
		return oom(m);
	if (!strcmp(type, "bind"))
		mt->type = COMPOSE_MOUNT_BIND;
	else if (!strcmp(type, "volume"))
		mt->type = COMPOSE_MOUNT_VOLUME;
	else if (!strcmp(type, "tmpfs"))
		mt->type = COMPOSE_MOUNT_TMPFS;
	else
		return diag_error(m->err, cnode_get(it, "type"), sub,
				  "unsupported volume type \"%s\" (bind, volume or tmpfs)", type);
	path_key(sub, sizeof(sub), path, "source");
	if (want_nonempty(m, cnode_get(it, "source"), sub, &mt->source) < 0)
		return -1;
	if (mt->type == COMPOSE_MOUNT_BIND && !mt->source)
		return diag_error(m->err, it, path, "a bind mount needs a source");
	if (mt->type == COMPOSE_MOUNT_TMPFS && mt->source)
		return diag_error(m->err, cnode_get(it, "source"), sub,
				  "a tmpfs mount has no source");
	path_key(sub, sizeof(sub), path, "target");
	if (want_nonempty(m, cnode_get(it, "target"), sub, &mt->target) < 0)
		return -1;
	if (!mt->target)
		return diag_error(m->err, it, path, "target is required");
	path_key(sub, sizeof(sub), path, "read_only");
	if (want_bool(m, cnode_get(it, "read_only"), sub, &mt->read_only) < 0)
		return -1;

	path_key(sub, sizeof(sub), path, "bind");
	opt = cnode_get(it, "bind");
	if (opt && opt->kind != CN_NULL) {
		if (want_map(m, opt, sub) < 0)
			return -1;
		path_key(sub2, sizeof(sub2), sub, "create_host_path");
		if (want_bool(m, cnode_get(opt, "create_host_path"), sub2, &mt->create_host_path) <
		    0)
			return -1;
		path_key(sub2, sizeof(sub2), sub, "propagation");
		if (want_nonempty(m, cnode_get(opt, "propagation"), sub2, &mt->propagation) < 0)
			return -1;
		if (mt->propagation && strcmp(mt->propagation, "private") &&
		    strcmp(mt->propagation, "rprivate") && strcmp(mt->propagation, "shared") &&
		    strcmp(mt->propagation, "rshared") && strcmp(mt->propagation, "slave") &&
		    strcmp(mt->propagation, "rslave"))
			return diag_error(m->err, cnode_get(opt, "propagation"), sub2,
					  "expected private, rprivate, shared, rshared, slave or "
					  "rslave, got \"%s\"",
					  mt->propagation);
		path_key(sub2, sizeof(sub2), sub, "selinux");
		if (want_nonempty(m, cnode_get(opt, "selinux"), sub2, &mt->selinux) < 0)
			return -1;
		if (mt->selinux && strcmp(mt->selinux, "z") && strcmp(mt->selinux, "Z"))
			return diag_error(m->err, cnode_get(opt, "selinux"), sub2,
					  "expected z or Z, got \"%s\"", mt->selinux);
	}
	path_key(sub, sizeof(sub), path, "volume");
	opt = cnode_get(it, "volume");
	if (opt && opt->kind != CN_NULL) {
		if (want_map(m, opt, sub) < 0)
			return -1;
		path_key(sub2, sizeof(sub2), sub, "nocopy");
		if (want_bool(m, cnode_get(opt, "nocopy"), sub2, &mt->nocopy) < 0)
			return -1;
		path_key(sub2, sizeof(sub2), sub, "subpath");
		if (want_nonempty(m, cnode_get(opt, "subpath"), sub2, &mt->subpath) < 0)
			return -1;
		if (mt->subpath && (mt->subpath[0] == '/' || !strcmp(mt->subpath, "..") ||
				    !strncmp(mt->subpath, "../", 3) || strstr(mt->subpath, "/../")))
			return diag_error(m->err, cnode_get(opt, "subpath"), sub2,
					  "\"%s\" must be a relative path inside the volume",
					  mt->subpath);
	}
	path_key(sub, sizeof(sub), path, "tmpfs");
	opt = cnode_get(it, "tmpfs");
	if (opt && opt->kind != CN_NULL) {
		const struct cnode *size, *mode;

		if (want_map(m, opt, sub) < 0)
			return -1;
		size = cnode_get(opt, "size");
		path_key(sub2, sizeof(sub2), sub, "size");
		if (size && size->kind != CN_NULL &&
		    (size->kind != CN_SCALAR || scalar_bytes(size->str, &mt->tmpfs_size) < 0))
			return diag_error(m->err, size, sub2,
					  "expected a size like 65536, 64m or 1g");
		mode = cnode_get(opt, "mode");
		path_key(sub2, sizeof(sub2), sub, "mode");
		if (mode && mode->kind != CN_NULL) {
			const char *t = mode->kind == CN_SCALAR ? mode->str : "";
			char *end;
			unsigned long v;

			if (!strncmp(t, "0o", 2))
				t += 2;
			v = strtoul(t, &end, 8);
			if (!*t || *end || v > 07777)
				return diag_error(m->err, mode, sub2,
						  "expected an octal mode like 1777");
			mt->tmpfs_mode = (uint32_t)v;
		}
	}
	return mount_common(m, s, mt, it, path);
}

static int service_volumes(struct mb *m, struct compose_service *s, const struct cnode *n,
			   const char *path)
{
	char ipath[COMPOSE_PATH_MAX];
	size_t i;

	if (!n || n->kind == CN_NULL)
		return 0;
	if (n->kind != CN_SEQ)
		return diag_error(m->err, n, path, "expected a sequence, got %s",
				  cnode_kind_name(n));
	for (i = 0; i < n->n; i++) {
		const struct cnode *it = n->items[i].val;

		path_index(ipath, sizeof(ipath), path, i);
		if (it->kind == CN_SCALAR) {
			if (mount_short(m, s, it, ipath) < 0)
				return -1;
		} else if (it->kind == CN_MAP) {
			if (mount_long(m, s, it, ipath) < 0)
				return -1;
		} else {
			return diag_error(m->err, it, ipath, "expected a string or mapping, got %s",
					  cnode_kind_name(it));
		}
	}
	return 0;
}

static int service_depends(struct mb *m, struct compose_service *s, const struct cnode *n,
			   const char *path)
{
	char sub[COMPOSE_PATH_MAX], sub2[COMPOSE_PATH_MAX];
	size_t i;

	if (!n || n->kind == CN_NULL)
		return 0;
	if (n->kind != CN_MAP)
		return diag_error(m->err, n, path, "expected a list or a mapping, got %s",
				  cnode_kind_name(n));
	s->depends_on = calloc(n->n ? n->n : 1, sizeof(*s->depends_on));
	if (!s->depends_on)
		return oom(m);
	for (i = 0; i < n->n; i++) {
		struct compose_dependency *d = &s->depends_on[s->ndepends_on++];
		const struct cnode *v = n->items[i].val;
		_cleanup_free_ char *cond = NULL;

		d->required = true;
		d->service = strdup(n->items[i].key);
		if (!d->service)
			return oom(m);
		if (!v || v->kind == CN_NULL)
			continue;
		path_key(sub, sizeof(sub), path, n->items[i].key);
		if (want_map(m, v, sub) < 0)
			return -1;
		path_key(sub2, sizeof(sub2), sub, "condition");
		if (want_string(m, cnode_get(v, "condition"), sub2, &cond) < 0)
			return -1;
		if (!cond || !strcmp(cond, "service_started"))
			d->condition = COMPOSE_COND_STARTED;
		else if (!strcmp(cond, "service_healthy"))
			d->condition = COMPOSE_COND_HEALTHY;
		else if (!strcmp(cond, "service_completed_successfully"))
			d->condition = COMPOSE_COND_COMPLETED;
		else
			return diag_error(m->err, cnode_get(v, "condition"), sub2,
					  "expected service_started, service_healthy or "
					  "service_completed_successfully, got \"%s\"",
					  cond);
		path_key(sub2, sizeof(sub2), sub, "required");
		if (want_bool(m, cnode_get(v, "required"), sub2, &d->required) < 0)
			return -1;
		path_key(sub2, sizeof(sub2), sub, "restart");
		if (want_bool(m, cnode_get(v, "restart"), sub2, &d->restart) < 0)
			return -1;
	}
	return 0;
}

static int service_healthcheck(struct mb *m, struct compose_service *s, const struct cnode *n,
			       const char *path)
{
	struct compose_healthcheck *hc = &s->healthcheck;
	char sub[COMPOSE_PATH_MAX];
	const struct cnode *test;
	long retries = -1;

	hc->interval_ms = hc->timeout_ms = hc->start_period_ms = hc->start_interval_ms = -1;
	hc->retries = -1;
	if (!n || n->kind == CN_NULL)
		return 0;
	if (want_map(m, n, path) < 0)
		return -1;
	hc->set = true;
	path_key(sub, sizeof(sub), path, "disable");
	if (want_bool(m, cnode_get(n, "disable"), sub, &hc->disable) < 0)
		return -1;
	test = cnode_get(n, "test");
	path_key(sub, sizeof(sub), path, "test");
	if (test && test->kind == CN_SCALAR) {
		/* a string is run by the container's shell */
		hc->test.argv = calloc(3, sizeof(char *));
		if (!hc->test.argv)
			return oom(m);
		hc->test.set = true;
		hc->test.argv[0] = strdup("CMD-SHELL");
		hc->test.argv[1] = strdup(test->str);
		hc->test.argc = 2;
		if (!hc->test.argv[0] || !hc->test.argv[1])
			return oom(m);
	} else if (test && test->kind == CN_SEQ) {
		const char *first;

		if (want_argv(m, test, sub, &hc->test) < 0)
			return -1;
		first = hc->test.argc && hc->test.argv[0] ? hc->test.argv[0] : "";
		if (strcmp(first, "NONE") && strcmp(first, "CMD") && strcmp(first, "CMD-SHELL"))
			return diag_error(
				m->err, test, sub,
				"a list must start with \"CMD\", \"CMD-SHELL\" or \"NONE\"");
		if (!strcmp(first, "CMD-SHELL") && hc->test.argc != 2)
			return diag_error(m->err, test, sub,
					  "[\"CMD-SHELL\", command] takes exactly one command");
		if (!strcmp(first, "CMD") && hc->test.argc < 2)
			return diag_error(m->err, test, sub, "[\"CMD\", ...] needs a command");
		if (!strcmp(first, "NONE"))
			hc->disable = true;
	} else if (test && test->kind != CN_NULL) {
		return diag_error(m->err, test, sub, "expected a string or a list, got %s",
				  cnode_kind_name(test));
	}
	if (hc->disable) {
		scalar_strv_free(hc->test.argv, hc->test.argc);
		hc->test.argv = calloc(2, sizeof(char *));
		if (!hc->test.argv || !(hc->test.argv[0] = strdup("NONE")))
			return oom(m);
		hc->test.argc = 1;
		hc->test.set = true;
	}
	path_key(sub, sizeof(sub), path, "interval");
	if (want_duration(m, cnode_get(n, "interval"), sub, &hc->interval_ms) < 0)
		return -1;
	path_key(sub, sizeof(sub), path, "timeout");
	if (want_duration(m, cnode_get(n, "timeout"), sub, &hc->timeout_ms) < 0)
		return -1;
	path_key(sub, sizeof(sub), path, "start_period");
	if (want_duration(m, cnode_get(n, "start_period"), sub, &hc->start_period_ms) < 0)
		return -1;
	path_key(sub, sizeof(sub), path, "start_interval");
	if (want_duration(m, cnode_get(n, "start_interval"), sub, &hc->start_interval_ms) < 0)
		return -1;
	path_key(sub, sizeof(sub), path, "retries");
	if (want_int(m, cnode_get(n, "retries"), sub, 0, INT_MAX, &retries) < 0)
		return -1;
	hc->retries = (int)retries;
	return 0;
}

static int service_restart(struct mb *m, struct compose_service *s, const struct cnode *n,
			   const char *path)
{
	const char *colon;
	long retries;

	if (want_string(m, n, path, &s->restart) < 0)
		return -1;
	if (!s->restart)
		return 0;
	if (!strcmp(s->restart, "no") || !strcmp(s->restart, "always") ||
	    !strcmp(s->restart, "unless-stopped") || !strcmp(s->restart, "on-failure"))
		return 0;
	colon = strchr(s->restart, ':');
	if (colon && (size_t)(colon - s->restart) == strlen("on-failure") &&
	    !strncmp(s->restart, "on-failure", strlen("on-failure")) &&
	    scalar_long(colon + 1, 0, INT_MAX, &retries) == 0) {
		s->restart_max_retries = (int)retries;
		s->restart[colon - s->restart] = '\0';
		return 0;
	}
	return diag_error(m->err, n, path,
			  "expected no, always, on-failure[:max-retries] or unless-stopped, got "
			  "\"%s\"",
			  s->restart);
}

static int service_extra_hosts(struct mb *m, struct compose_service *s, const struct cnode *n,
			       const char *path)
{
	char sub[COMPOSE_PATH_MAX], ipath[COMPOSE_PATH_MAX];
	size_t i, j;

	if (!n || n->kind == CN_NULL)
		return 0;
	if (n->kind != CN_MAP)
		return diag_error(m->err, n, path, "expected a list or a mapping, got %s",
				  cnode_kind_name(n));
	for (i = 0; i < n->n; i++) {
		const struct cnode *v = n->items[i].val;
		const char *host = n->items[i].key;

		path_key(sub, sizeof(sub), path, host);
		if (v->kind == CN_SCALAR && *v->str) {
			if (grow_array((void **)&s->extra_hosts, s->nextra_hosts,
				       sizeof(*s->extra_hosts)) < 0)
				return oom(m);
			s->extra_hosts[s->nextra_hosts].key = strdup(host);
			s->extra_hosts[s->nextra_hosts].value = strdup(v->str);
			s->nextra_hosts++;
			if (!s->extra_hosts[s->nextra_hosts - 1].key ||
			    !s->extra_hosts[s->nextra_hosts - 1].value)
				return oom(m);
			continue;
		}
		if (v->kind != CN_SEQ)
			return diag_error(
				m->err, v, sub, "expected an IP address or a list, got %s",
				v->kind == CN_SCALAR ? "an empty string" : cnode_kind_name(v));
		for (j = 0; j < v->n; j++) {
			const struct cnode *ip = v->items[j].val;

			path_index(ipath, sizeof(ipath), sub, j);
			if (ip->kind != CN_SCALAR || !*ip->str)
				return diag_error(m->err, ip, ipath, "expected an IP address");
			if (grow_array((void **)&s->extra_hosts, s->nextra_hosts,
				       sizeof(*s->extra_hosts)) < 0)
				return oom(m);
			s->extra_hosts[s->nextra_hosts].key = strdup(host);
			s->extra_hosts[s->nextra_hosts].value = strdup(ip->str);
			s->nextra_hosts++;
			if (!s->extra_hosts[s->nextra_hosts - 1].key ||
			    !s->extra_hosts[s->nextra_hosts - 1].value)
				return oom(m);
		}
	}
	return 0;
}

/* network_mode:, else networks: (the two exclude each other) */
static int key_network_mode(struct mb *m, struct compose_service *s, const struct cnode *svc,
			    const char *path)
{
	char sub[COMPOSE_PATH_MAX];

	path_key(sub, sizeof(sub), path, "network_mode");
	if (want_nonempty(m, cnode_get(svc, "network_mode"), sub, &s->network_mode) < 0)
		return -1;
	if (s->network_mode) {
		const char *nm = s->network_mode;
		const struct cnode *nets = cnode_get(svc, "networks");

		if (strcmp(nm, "host") && strcmp(nm, "none") && strcmp(nm, "bridge") &&
		    !((!strncmp(nm, "service:", 8) && nm[8]) ||
		      (!strncmp(nm, "container:", 10) && nm[10])))
			return diag_error(m->err, cnode_get(svc, "network_mode"), sub,
					  "\"%s\" is not a network mode: use host, none, bridge, "
					  "service:<name> or container:<name>",
					  nm);
		if (nets && nets->kind != CN_NULL)
			return diag_error(m->err, nets, sub,
					  "network_mode and networks cannot both be set");
	} else {
		path_key(sub, sizeof(sub), path, "networks");
		if (service_networks(m, s, cnode_get(svc, "networks"), sub) < 0)
			return -1;
	}
	return 0;
}

static int key_working_dir(struct mb *m, struct compose_service *s, const struct cnode *n,
			   const char *path)
{
	if (want_nonempty(m, n, path, &s->working_dir) < 0)
		return -1;
	if (s->working_dir && s->working_dir[0] != '/')
		return diag_error(m->err, n, path, "\"%s\" must be an absolute path",
				  s->working_dir);
	return 0;
}

/* label_file: first, in order; labels: wins over them */
static int key_label_file(struct mb *m, struct compose_service *s, const struct cnode *n,
			  const char *path)
{
	return env_files(m, s, n, path, &s->labels, &s->nlabels);
}

/* The keys after image: and container_name:, in the order they are read. */
static const struct service_key service_keys[] = {
	KEY_ARGV(command),
	KEY_ARGV(entrypoint),
	KEY_FN(env_file, key_env_file),
	KEY_FN(environment, key_environment),
	KEY_FN(ports, service_ports),
	KEY_FN(expose, service_expose),
	KEY_SERVICE(network_mode, key_network_mode),
	KEY_FN(volumes, service_volumes),
	KEY_FN(depends_on, service_depends),
	KEY_FN(healthcheck, service_healthcheck),
	KEY_FN(restart, service_restart),
	KEY_FN(label_file, key_label_file),
	KEY_LABELS(labels),
	KEY_STRING(user),
	KEY_FN(working_dir, key_working_dir),
	KEY_STRING(hostname),
	KEY_FN(extra_hosts, service_extra_hosts),
	KEY_DURATION(stop_grace_period, stop_grace_period_ms),
};

static int service(struct mb *m, const struct centry *e, struct compose_service *s)
{
	const struct cnode *svc = e->val;
	char path[COMPOSE_PATH_MAX], sub[COMPOSE_PATH_MAX];

	path_key(path, sizeof(path), "services", e->key);
	s->name = strdup(e->key);
	s->file = strdup(svc->file);
	s->line = e->line;
	s->stop_grace_period_ms = -1;
	s->healthcheck.interval_ms = s->healthcheck.timeout_ms = -1;
	s->healthcheck.start_period_ms = s->healthcheck.start_interval_ms = -1;
	s->healthcheck.retries = -1;
	if (!s->name || !s->file)
		return oom(m);
	if (!valid_key_name(e->key))
		return diag_error_at(m->err, svc->file, e->line, path,
				     "invalid service name: use letters, digits, '.', '_' and '-'");
	if (svc->kind != CN_MAP)
		return diag_error_at(m->err, svc->file, e->line, path, "expected a mapping, got %s",
				     cnode_kind_name(svc));

	path_key(sub, sizeof(sub), path, "image");
	if (want_nonempty(m, cnode_get(svc, "image"), sub, &s->image) < 0)
		return -1;
	if (!s->image && cnode_get(svc, "build")) {
		/* the name Compose gives a built image; a build job must have made it */
		if (asprintf(&s->image, "%s-%s", m->p->name, s->name) < 0)
			return oom(m);
	}
	if (!s->image)
		return diag_error_at(m->err, svc->file, e->line, path, "no image: set image:");

	path_key(sub, sizeof(sub), path, "container_name");
	if (want_nonempty(m, cnode_get(svc, "container_name"), sub, &s->container_name) < 0)
		return -1;
	if (s->container_name) {
		s->container_name_set = true;
		if (!valid_container_name(s->container_name))
			return diag_error(m->err, cnode_get(svc, "container_name"), sub,
					  "invalid container name \"%.80s%s\": Docker names are "
					  "[a-zA-Z0-9][a-zA-Z0-9_.-]+ (at most %d characters); use "
					  "such a name",
					  s->container_name,
					  strlen(s->container_name) > 80 ? "..." : "",
					  COMPOSE_ENGINE_NAME_MAX);
	} else if (asprintf(&s->container_name, "%s-%s-1", m->p->name, s->name) < 0) {
		s->container_name = NULL;
		return oom(m);
	}

	if (compose_service_keys(m, s, svc, path, service_keys, ARRAY_SIZE(service_keys)) < 0)
		return -1;
	return compose_service_extras(m, s, svc, path);
}

/* ---- validation across services ---- */

static int cmp_service(const void *a, const void *b)
{
	return strcmp(((const struct compose_service *)a)->name,
		      ((const struct compose_service *)b)->name);
}

static int cmp_resource(const void *a, const void *b)
{
	return strcmp(((const struct compose_resource *)a)->key,
		      ((const struct compose_resource *)b)->key);
}

static int cmp_dependency(const void *a, const void *b)
{
	return strcmp(((const struct compose_dependency *)a)->service,
		      ((const struct compose_dependency *)b)->service);
}

static const struct centry *depends_entry(const struct cnode *root, const char *svc,
					  const char *dep)
{
	const struct cnode *s = cnode_get(cnode_get(root, "services"), svc);

	return cnode_find(cnode_get(s, "depends_on"), dep);
}

static int check_dependencies(struct mb *m, const struct cnode *root)
{
	struct compose_project *p = m->p;
	char path[COMPOSE_PATH_MAX];
	size_t i, j;

	for (i = 0; i < p->nservices; i++) {
		struct compose_service *s = &p->services[i];

		for (j = 0; j < i; j++)
			if (!strcmp(p->services[j].container_name, s->container_name))
				return diag_error_at(
					m->err, s->file, s->line, NULL,
					"services %s and %s have the same container name %s",
					p->services[j].name, s->name, s->container_name);
		j = 0;
		while (j < s->ndepends_on) {
			struct compose_dependency *d = &s->depends_on[j];
			const struct centry *e = depends_entry(root, s->name, d->service);
			const char *file = e ? e->val->file : s->file;
			int line = e ? e->line : s->line;

			snprintf(path, sizeof(path), "services.%s.depends_on", s->name);
			if (compose_project_service(p, d->service)) {
				j++;
				continue;
			}
			if (d->required && compose_project_disabled(p, d->service))
				return diag_error_at(
					m->err, file, line, path,
					"service \"%s\" is disabled by its profiles; activate "
					"one of them or drop the dependency",
					d->service);
			if (d->required)
				return diag_error_at(m->err, file, line, path,
						     "unknown service \"%s\"", d->service);
			diag_add(m->ctx->diags, file, line,
				 "%s: optional dependency on unknown service %s (ignored)", path,
				 d->service);
			free(d->service);
			memmove(d, d + 1, (s->ndepends_on - j - 1) * sizeof(*d));
			s->ndepends_on--;
		}
		if (s->ndepends_on)
			qsort(s->depends_on, s->ndepends_on, sizeof(*s->depends_on),
			      cmp_dependency);
	}
	return 0;
}

static size_t service_index(const struct compose_project *p, const char *name)
{
	const struct compose_service key = {.name = (char *)name};
	const struct compose_service *s =
		bsearch(&key, p->services, p->nservices, sizeof(key), cmp_service);

	return s ? (size_t)(s - p->services) : SIZE_MAX;
}

/* Depth-first: each service after its dependencies; a back edge is a cycle. */
static int visit(const struct compose_project *p, size_t i, unsigned char *mark, size_t *stack,
		 size_t depth, size_t *order, size_t *norder, struct error *err)
{
	const struct compose_service *s = &p->services[i];
	size_t j, k;

	if (mark[i] == 2)
		return 0;
	stack[depth] = i;
	if (mark[i] == 1) {
		char msg[ERROR_MSG_MAX] = "";
		size_t len = 0, from = 0;

		for (k = 0; k < depth; k++)
			if (stack[k] == i)
				from = k;
		for (k = from; k <= depth && len < sizeof(msg); k++)
			len += (size_t)snprintf(msg + len, sizeof(msg) - len, "%s%s",
						k > from ? " -> " : "", p->services[stack[k]].name);
		return error_set(
			err, ERR_COMPOSE, "%s:%d: services.%s.depends_on: dependency cycle: %s",
			p->services[i].file, p->services[i].line, p->services[i].name, msg);
	}
	mark[i] = 1;
	for (j = 0; j < s->ndepends_on; j++) {
		size_t d = service_index(p, s->depends_on[j].service);

		if (d == SIZE_MAX)
			continue;
		if (visit(p, d, mark, stack, depth + 1, order, norder, err) < 0)
			return -1;
	}
	mark[i] = 2;
	order[(*norder)++] = i;
	return 0;
}

int compose_project_start_order(const struct compose_project *p, size_t *order, struct error *err)
{
	_cleanup_free_ unsigned char *mark = calloc(p->nservices + 1, 1);
	_cleanup_free_ size_t *stack = calloc(p->nservices + 1, sizeof(size_t));
	size_t i, n = 0;

	if (!mark || !stack)
		return error_set(err, ERR_SYSTEM, "out of memory");
	for (i = 0; i < p->nservices; i++)
		if (visit(p, i, mark, stack, 0, order, &n, err) < 0)
			return -1;
	return 0;
}

/* ---- entry ---- */

/*
 * The merged tree -> *out: the project's name, the top-level networks,
 * volumes, secrets and configs, the services left out by profiles, then each
 * service; everything sorted by name; then the checks across services
 * (depends_on, references to networks, volumes, secrets and configs) and the
 * start order, which refuses a dependency cycle.  On failure nothing is left.
 */
int compose_model_build(struct compose_ctx *ctx, struct cnode *root,
			const struct compose_load_opts *opts, struct compose_project **out,
			struct error *err)
{
	struct mb m = {.ctx = ctx, .err = err};
	const struct cnode *services;
	_cleanup_free_ size_t *order = NULL;
	size_t i;

	m.p = calloc(1, sizeof(*m.p));
	if (!m.p)
		return oom(&m);
	m.p->working_dir = strdup(ctx->project_dir);
	if (!m.p->working_dir) {
		oom(&m);
		goto fail;
	}
	if (project_name(&m, root, opts) < 0)
		goto fail;
	if (resources(&m, root, "networks", &m.p->networks, &m.p->nnetworks) < 0 ||
	    resources(&m, root, "volumes", &m.p->volumes, &m.p->nvolumes) < 0 ||
	    compose_file_defs(&m, root, "secrets", &m.p->secrets, &m.p->nsecrets) < 0 ||
	    compose_file_defs(&m, root, "configs", &m.p->configs, &m.p->nconfigs) < 0)
		goto fail;
	if (ctx->ndisabled) {
		m.p->disabled = calloc(ctx->ndisabled + 1, sizeof(char *));
		if (!m.p->disabled) {
			oom(&m);
			goto fail;
		}
		for (i = 0; i < ctx->ndisabled; i++) {
			m.p->disabled[i] = strdup(ctx->disabled[i]);
			if (!m.p->disabled[i]) {
				oom(&m);
				goto fail;
			}
			m.p->ndisabled++;
		}
	}

	services = cnode_get(root, "services");
	if (services && services->kind != CN_NULL) {
		if (want_map(&m, services, "services") < 0)
			goto fail;
		if (services->n > COMPOSE_SERVICES_MAX) {
			diag_error(err, services, "services", "more than %u services",
				   COMPOSE_SERVICES_MAX);
			goto fail;
		}
		m.p->services = calloc(services->n ? services->n : 1, sizeof(*m.p->services));
		if (!m.p->services) {
			oom(&m);
			goto fail;
		}
		for (i = 0; i < services->n; i++) {
			m.p->nservices++;
			if (service(&m, &services->items[i], &m.p->services[i]) < 0)
				goto fail;
		}
	}
	if (m.p->nservices)
		qsort(m.p->services, m.p->nservices, sizeof(*m.p->services), cmp_service);
	if (m.p->nnetworks)
		qsort(m.p->networks, m.p->nnetworks, sizeof(*m.p->networks), cmp_resource);
	if (m.p->nvolumes)
		qsort(m.p->volumes, m.p->nvolumes, sizeof(*m.p->volumes), cmp_resource);
	/* services copied the engine names already; sorting moved only the array */
	if (check_dependencies(&m, root) < 0 || compose_check_references(&m) < 0)
		goto fail;
	order = calloc(m.p->nservices + 1, sizeof(*order));
	if (!order) {
		oom(&m);
		goto fail;
	}
	if (compose_project_start_order(m.p, order, err) < 0)
		goto fail;
	*out = m.p;
	return 0;
fail:
	compose_project_free(m.p);
	return -1;
}

/* ---- lookups and free ---- */

const struct compose_service *compose_project_service(const struct compose_project *p,
						      const char *name)
{
	size_t i;

	for (i = 0; i < p->nservices; i++)
		if (!strcmp(p->services[i].name, name))
			return &p->services[i];
	return NULL;
}

const struct compose_resource *compose_project_network(const struct compose_project *p,
						       const char *key)
{
	return find_resource(p->networks, p->nnetworks, key);
}

const struct compose_resource *compose_project_volume(const struct compose_project *p,
						      const char *key)
{
	return find_resource(p->volumes, p->nvolumes, key);
}

static void argv_free(struct compose_argv *a)
{
	scalar_strv_free(a->argv, a->argc);
}

static void service_free(struct compose_service *s)
{
	size_t i;

	free(s->name);
	free(s->file);
	free(s->image);
	free(s->container_name);
	argv_free(&s->command);
	argv_free(&s->entrypoint);
	kv_free(s->environment, s->nenvironment);
	for (i = 0; i < s->nports; i++)
		free(s->ports[i].host_ip);
	free(s->ports);
	free(s->expose);
	for (i = 0; i < s->nnetworks; i++) {
		free(s->networks[i].key);
		free(s->networks[i].name);
		scalar_strv_free(s->networks[i].aliases, s->networks[i].naliases);
		free(s->networks[i].ipv4_address);
		free(s->networks[i].ipv6_address);
	}
	free(s->networks);
	for (i = 0; i < s->nvolumes; i++) {
		free(s->volumes[i].source);
		free(s->volumes[i].volume_name);
		free(s->volumes[i].target);
		free(s->volumes[i].propagation);
		free(s->volumes[i].selinux);
		free(s->volumes[i].subpath);
	}
	free(s->volumes);
	for (i = 0; i < s->ndepends_on; i++)
		free(s->depends_on[i].service);
	free(s->depends_on);
	argv_free(&s->healthcheck.test);
	free(s->restart);
	kv_free(s->labels, s->nlabels);
	free(s->user);
	free(s->working_dir);
	free(s->hostname);
	free(s->network_mode);
	kv_free(s->extra_hosts, s->nextra_hosts);
	compose_service_extras_free(s);
}

static void resources_free(struct compose_resource *r, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(r[i].key);
		free(r[i].name);
		free(r[i].driver);
		free(r[i].file);
		kv_free(r[i].labels, r[i].nlabels);
		kv_free(r[i].driver_opts, r[i].ndriver_opts);
		compose_network_extras_free(&r[i]);
	}
	free(r);
}

void compose_project_free(struct compose_project *p)
{
	size_t i;

	if (!p)
		return;
	for (i = 0; i < p->nservices; i++)
		service_free(&p->services[i]);
	free(p->services);
	resources_free(p->networks, p->nnetworks);
	resources_free(p->volumes, p->nvolumes);
	compose_file_defs_free(p->secrets, p->nsecrets);
	compose_file_defs_free(p->configs, p->nconfigs);
	scalar_strv_free(p->disabled, p->ndisabled);
	free(p->name);
	free(p->working_dir);
	free(p);
}
