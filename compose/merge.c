/* SPDX-License-Identifier: MIT */
/*
 * Normalization of one file and the merge of several, following the Compose
 * specification's merge rules:
 *   - mappings merge by key, recursively; scalars are overridden;
 *   - sequences are appended, except:
 *       command, entrypoint, healthcheck.test    replaced
 *       ports                                    merged on {ip, target, published, protocol}
 *       volumes                                  merged on target
 *       expose, networks.*.aliases               appended without duplicates
 *   - environment, labels, extra_hosts, depends_on and networks are
 *     normalized to mappings first, so they merge by name;
 *   - !reset removes what earlier files set, !override replaces without merging.
 * A null over a mapping keeps the mapping (`networks: [front]` in an override
 * does not drop the aliases the base gave `front`).
 */
#include "compose/merge.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "compose/diag.h"
#include "compose/node.h"

static int oom(struct error *err)
{
	return error_set(err, ERR_SYSTEM, "out of memory");
}

/* ---- short syntax ---- */

int parse_port_short(const char *s, struct port_spec *out)
{
	char spec[160];
	char *slash, *colon, *rest, *host;
	size_t len = strlen(s);

	memset(out, 0, sizeof(*out));
	if (len == 0 || len >= sizeof(spec))
		return -1;
	memcpy(spec, s, len + 1);
	slash = strrchr(spec, '/');
	if (slash) {
		*slash = '\0';
		if (strlen(slash + 1) >= sizeof(out->protocol) || !slash[1])
			return -1;
		snprintf(out->protocol, sizeof(out->protocol), "%s", slash + 1);
	} else {
		snprintf(out->protocol, sizeof(out->protocol), "%s", "tcp");
	}
	rest = spec;
	if (spec[0] == '[') {
		char *close = strchr(spec, ']');

		if (!close || close[1] != ':' || (size_t)(close - spec - 1) >= sizeof(out->ip))
			return -1;
		memcpy(out->ip, spec + 1, (size_t)(close - spec - 1));
		rest = close + 2;
		colon = strrchr(rest, ':');
		if (!colon)
			return -1;
		*colon = '\0';
		host = rest;
		rest = colon + 1;
	} else {
		colon = strrchr(spec, ':');
		if (!colon) {
			host = NULL;
		} else {
			*colon = '\0';
			rest = colon + 1;
			host = spec;
			colon = strrchr(spec, ':');
			if (colon) {
				*colon = '\0';
				if (strlen(spec) >= sizeof(out->ip))
					return -1;
				snprintf(out->ip, sizeof(out->ip), "%s", spec);
				host = colon + 1;
			}
		}
	}
	if (!*rest || strlen(rest) >= sizeof(out->target))
		return -1;
	snprintf(out->target, sizeof(out->target), "%s", rest);
	if (host) {
		if (strlen(host) >= sizeof(out->published))
			return -1;
		snprintf(out->published, sizeof(out->published), "%s", host);
	}
	return 0;
}

int parse_volume_short(const char *s, char **src, char **dst, char **mode)
{
	const char *c1 = strchr(s, ':');
	const char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;

	*src = *dst = *mode = NULL;
	if (c2 && strchr(c2 + 1, ':'))
		return -1;
	if (!c1) {
		*dst = strdup(s);
	} else {
		*src = strndup(s, (size_t)(c1 - s));
		*dst = c2 ? strndup(c1 + 1, (size_t)(c2 - c1 - 1)) : strdup(c1 + 1);
		if (c2)
			*mode = strdup(c2 + 1);
	}
	if (!*dst || (c1 && !*src) || (c2 && !*mode) || !**dst || (*src && !**src) ||
	    (*mode && !**mode)) {
		free(*src);
		free(*dst);
		free(*mode);
		*src = *dst = *mode = NULL;
		return -1;
	}
	return 0;
}

/* ---- normalization ---- */

static int set_entry(struct cnode *map, const char *key, int line, struct cnode *val)
{
	struct centry *e = cnode_find(map, key);

	if (e) {
		cnode_free(e->val);
		e->val = val;
		e->line = line;
		return 0;
	}
	return cnode_append(map, key, line, val);
}

/*
 * `- KEY=value` / `- KEY` (environment, labels), `- host:ip` / `- host=ip`
 * (extra_hosts), or `- name` (depends_on, networks) into a mapping.
 */
enum list_form {
	LF_ASSIGN,  /* KEY=value, KEY alone is null */
	LF_HOSTS,   /* host:ip or host=ip; a host named twice keeps every address */
	LF_NAMES,   /* name, value null */
	LF_DEPENDS, /* name, value {condition: service_started, required: true} */
};

/* {condition: service_started, required: true}: what the list form of depends_on means */
static struct cnode *depends_default(const struct cnode *at)
{
	struct cnode *m = cnode_new(CN_MAP, at->file, at->line);
	struct cnode *c = cnode_new_scalar("service_started", at->file, at->line);
	struct cnode *r = cnode_new_scalar("true", at->file, at->line);

	if (!m || !c || !r) {
		cnode_free(m);
		cnode_free(c);
		cnode_free(r);
		return NULL;
	}
	if (cnode_append(m, "condition", at->line, c) < 0) {
		cnode_free(m);
		cnode_free(r);
		return NULL;
	}
	if (cnode_append(m, "required", at->line, r) < 0) {
		cnode_free(m);
		return NULL;
	}
	return m;
}

/* Add one more address to a host already listed: the value becomes a sequence. */
static int add_host_address(struct centry *e, struct cnode *val)
{
	size_t i;

	if (e->val->kind == CN_SCALAR) {
		struct cnode *seq = cnode_new(CN_SEQ, e->val->file, e->val->line);

		if (!seq)
			goto fail;
		if (cnode_append(seq, NULL, e->val->line, e->val) < 0) {
			e->val = NULL;
			cnode_free(seq);
			goto fail;
		}
		e->val = seq;
	}
	if (e->val->kind != CN_SEQ)
		goto fail;
	for (i = 0; i < e->val->n; i++) {
		const struct cnode *it = e->val->items[i].val;

		if (it->kind == CN_SCALAR && !strcmp(it->str, val->str)) {
			cnode_free(val);
			return 0;
		}
	}
	return cnode_append(e->val, NULL, val->line, val);
fail:
	cnode_free(val);
	return -1;
}

static int list_to_map(struct cnode *svc, const char *attr, const char *svc_path,
		       enum list_form form, struct error *err)
{
	struct centry *e = cnode_find(svc, attr);
	_cleanup_cnode_ struct cnode *map = NULL;
	char path[COMPOSE_PATH_MAX], ipath[COMPOSE_PATH_MAX];
	struct cnode *seq;
	size_t i;

	if (!e || e->val->kind != CN_SEQ)
		return 0;
	seq = e->val;
	path_key(path, sizeof(path), svc_path, attr);
	map = cnode_new(CN_MAP, seq->file, seq->line);
	if (!map)
		return oom(err);
	map->flags = seq->flags;
	for (i = 0; i < seq->n; i++) {
		struct cnode *item = seq->items[i].val;
		_cleanup_free_ char *key = NULL;
		struct cnode *val = NULL;
		const char *sep = NULL;

		path_index(ipath, sizeof(ipath), path, i);
		if (item->kind != CN_SCALAR)
			return diag_error(err, item, ipath, "expected a string, got %s",
					  cnode_kind_name(item));
		if (form == LF_ASSIGN)
			sep = strchr(item->str, '=');
		else if (form == LF_HOSTS)
			sep = strpbrk(item->str, "=:");
		if (form == LF_HOSTS && sep && *sep == ':' && strchr(sep + 1, ':') &&
		    !strchr(item->str, '='))
			sep = strchr(item->str, ':'); /* host:IPv6 address */
		if (sep) {
			key = strndup(item->str, (size_t)(sep - item->str));
			val = cnode_new_scalar(sep + 1, item->file, item->line);
			if (val)
				val->flags |= CN_F_QUOTED;
		} else {
			if (form == LF_HOSTS)
				return diag_error(err, item, ipath,
						  "expected \"host:ip\" or \"host=ip\", got \"%s\"",
						  item->str);
			key = strdup(item->str);
			val = form == LF_DEPENDS ? depends_default(item)
						 : cnode_new(CN_NULL, item->file, item->line);
		}
		if (!key || !val) {
			cnode_free(val);
			return oom(err);
		}
		if (!*key) {
			cnode_free(val);
			return diag_error(err, item, ipath, "empty name in \"%s\"", item->str);
		}
		if (form == LF_HOSTS && cnode_find(map, key)) {
			if (add_host_address(cnode_find(map, key), val) < 0)
				return oom(err);
			continue;
		}
		if (set_entry(map, key, item->line, val) < 0)
			return oom(err);
	}
	cnode_free(e->val);
	e->val = steal_ptr(map);
	return 0;
}

/* A single string where a list may stand (env_file: a.env) becomes a list of one. */
static int scalar_to_seq(struct cnode *map, const char *key, struct error *err)
{
	struct centry *e = cnode_find(map, key);
	struct cnode *seq;

	if (!e || e->val->kind != CN_SCALAR)
		return 0;
	seq = cnode_new(CN_SEQ, e->val->file, e->val->line);
	if (!seq)
		return oom(err);
	seq->flags = e->val->flags & (CN_F_RESET | CN_F_OVERRIDE);
	if (cnode_append(seq, NULL, e->val->line, e->val) < 0) {
		e->val = NULL;
		cnode_free(seq);
		return oom(err);
	}
	e->val = seq;
	return 0;
}

/* build: ./dir is build: {context: ./dir} */
static int build_to_map(struct cnode *svc, struct error *err)
{
	struct centry *e = cnode_find(svc, "build");
	struct cnode *map;

	if (!e || e->val->kind != CN_SCALAR)
		return 0;
	map = cnode_new(CN_MAP, e->val->file, e->val->line);
	if (!map)
		return oom(err);
	map->flags = e->val->flags & (CN_F_RESET | CN_F_OVERRIDE);
	if (cnode_append(map, "context", e->val->line, e->val) < 0) {
		e->val = NULL;
		cnode_free(map);
		return oom(err);
	}
	e->val = map;
	return 0;
}

static int normalize_service(struct cnode *svc, const char *path, struct error *err)
{
	static const char *const seqs[] = {"env_file", "label_file", "tmpfs",
					   "dns",      "dns_search", "dns_opt"};
	struct cnode *build;
	char sub[COMPOSE_PATH_MAX];
	size_t i;

	if (list_to_map(svc, "environment", path, LF_ASSIGN, err) < 0 ||
	    list_to_map(svc, "labels", path, LF_ASSIGN, err) < 0 ||
	    list_to_map(svc, "annotations", path, LF_ASSIGN, err) < 0 ||
	    list_to_map(svc, "sysctls", path, LF_ASSIGN, err) < 0 ||
	    list_to_map(svc, "extra_hosts", path, LF_HOSTS, err) < 0 ||
	    list_to_map(svc, "depends_on", path, LF_DEPENDS, err) < 0 ||
	    list_to_map(svc, "networks", path, LF_NAMES, err) < 0)
		return -1;
	for (i = 0; i < ARRAY_SIZE(seqs); i++)
		if (scalar_to_seq(svc, seqs[i], err) < 0)
			return -1;
	if (build_to_map(svc, err) < 0)
		return -1;
	build = cnode_get(svc, "build");
	path_key(sub, sizeof(sub), path, "build");
	if (build && build->kind == CN_MAP &&
	    (list_to_map(build, "args", sub, LF_ASSIGN, err) < 0 ||
	     list_to_map(build, "labels", sub, LF_ASSIGN, err) < 0))
		return -1;
	return 0;
}

int compose_normalize(struct cnode *root, struct error *err)
{
	static const char *const sections[] = {"networks", "volumes", "secrets", "configs"};
	struct cnode *services = cnode_get(root, "services");
	char path[COMPOSE_PATH_MAX];
	size_t i, s;

	if (services && services->kind == CN_MAP) {
		for (i = 0; i < services->n; i++) {
			struct cnode *svc = services->items[i].val;

			if (svc->kind != CN_MAP)
				continue;
			path_key(path, sizeof(path), "services", services->items[i].key);
			if (normalize_service(svc, path, err) < 0)
				return -1;
		}
	}
	for (s = 0; s < ARRAY_SIZE(sections); s++) {
		struct cnode *sec = cnode_get(root, sections[s]);

		if (!sec || sec->kind != CN_MAP)
			continue;
		for (i = 0; i < sec->n; i++) {
			if (sec->items[i].val->kind != CN_MAP)
				continue;
			path_key(path, sizeof(path), sections[s], sec->items[i].key);
			if (list_to_map(sec->items[i].val, "labels", path, LF_ASSIGN, err) < 0)
				return -1;
		}
	}
	return 0;
}

/* ---- merge ---- */

enum rule {
	R_MERGE,   /* the default: mappings by key, sequences appended */
	R_REPLACE, /* command, entrypoint, healthcheck.test, ulimits.<name> */
	R_PORTS,   /* unique on {ip, published, target, protocol}: same key replaces */
	R_VOLUMES, /* unique on target: same key replaces */
	R_SECRETS, /* unique on target (default /run/secrets/<source>): replaces */
	R_CONFIGS, /* unique on target (default /<source>): replaces */
	R_DEVICES, /* unique on the container path: replaces */
	R_ENVFILE, /* unique on path: replaces */
	R_IPAM,	   /* ipam.config: unique on subnet, same subnet merged */
	R_UNIQUE,  /* appended without duplicates */
	R_HOSTS,   /* extra_hosts: per host, the addresses of both files */
	R_LOGGING, /* logging: merged when the drivers agree (or one is unset), else replaced */
};

#define SEGS_MAX 8

struct segs {
	const char *s[SEGS_MAX];
	int n;
};

static bool seg_is(const struct segs *p, int i, const char *name)
{
	return i < p->n && i < SEGS_MAX && !strcmp(p->s[i], name);
}

static enum rule rule_for(const struct segs *p)
{
	static const char *const unique[] = {"expose",	"cap_add",    "cap_drop", "dns",
					     "dns_opt", "dns_search", "links",	  "profiles",
					     "tmpfs",	"label_file"};
	size_t i;

	if (p->n == 4 && seg_is(p, 0, "networks") && seg_is(p, 2, "ipam") && seg_is(p, 3, "config"))
		return R_IPAM;
	if (p->n < 3 || !seg_is(p, 0, "services"))
		return R_MERGE;
	if (p->n == 3) {
		if (seg_is(p, 2, "command") || seg_is(p, 2, "entrypoint"))
			return R_REPLACE;
		if (seg_is(p, 2, "ports"))
			return R_PORTS;
		if (seg_is(p, 2, "volumes"))
			return R_VOLUMES;
		if (seg_is(p, 2, "secrets"))
			return R_SECRETS;
		if (seg_is(p, 2, "configs"))
			return R_CONFIGS;
		if (seg_is(p, 2, "devices"))
			return R_DEVICES;
		if (seg_is(p, 2, "env_file"))
			return R_ENVFILE;
		if (seg_is(p, 2, "extra_hosts"))
			return R_HOSTS;
		if (seg_is(p, 2, "logging"))
			return R_LOGGING;
		for (i = 0; i < ARRAY_SIZE(unique); i++)
			if (seg_is(p, 2, unique[i]))
				return R_UNIQUE;
	}
	if (p->n == 4 && seg_is(p, 2, "healthcheck") && seg_is(p, 3, "test"))
		return R_REPLACE;
	if (p->n == 4 && seg_is(p, 2, "ulimits"))
		return R_REPLACE;
	if (p->n == 5 && seg_is(p, 2, "networks") && seg_is(p, 4, "aliases"))
		return R_UNIQUE;
	return R_MERGE;
}

static char *scalar_field_dup(const struct cnode *map, const char *key)
{
	const struct cnode *v = cnode_get(map, key);

	return v && v->kind == CN_SCALAR ? strdup(v->str) : NULL;
}

/* secrets and configs: the target, or the default one for the source */
static char *file_ref_key(const struct cnode *n, const char *dir)
{
	const struct cnode *src = n->kind == CN_SCALAR ? n : cnode_get(n, "source");
	const struct cnode *tgt = n->kind == CN_MAP ? cnode_get(n, "target") : NULL;
	char *key = NULL;

	if (tgt && tgt->kind == CN_SCALAR)
		return strdup(tgt->str);
	if (!src || src->kind != CN_SCALAR)
		return NULL;
	if (asprintf(&key, "%s/%s", dir, src->str) < 0)
		return NULL;
	return key;
}

/* The unique key of a sequence item under rule r; NULL: no key (always appended). */
static char *item_key(const struct cnode *n, enum rule r)
{
	char *key = NULL;

	if (r == R_UNIQUE)
		return n->kind == CN_SCALAR ? strdup(n->str) : NULL;
	if (r == R_PORTS) {
		struct port_spec ps;

		if (n->kind == CN_SCALAR) {
			if (parse_port_short(n->str, &ps) < 0)
				return NULL;
		} else if (n->kind == CN_MAP) {
			const struct cnode *ip = cnode_get(n, "host_ip");
			const struct cnode *pub = cnode_get(n, "published");
			const struct cnode *tgt = cnode_get(n, "target");
			const struct cnode *proto = cnode_get(n, "protocol");

			memset(&ps, 0, sizeof(ps));
			if (!tgt || tgt->kind != CN_SCALAR)
				return NULL;
			snprintf(ps.ip, sizeof(ps.ip), "%s",
				 ip && ip->kind == CN_SCALAR ? ip->str : "");
			snprintf(ps.published, sizeof(ps.published), "%s",
				 pub && pub->kind == CN_SCALAR ? pub->str : "");
			snprintf(ps.target, sizeof(ps.target), "%s", tgt->str);
			snprintf(ps.protocol, sizeof(ps.protocol), "%s",
				 proto && proto->kind == CN_SCALAR ? proto->str : "tcp");
		} else {
			return NULL;
		}
		if (asprintf(&key, "%s|%s|%s|%s", ps.ip, ps.published, ps.target, ps.protocol) < 0)
			return NULL;
		return key;
	}
	if (r == R_SECRETS || r == R_CONFIGS)
		return file_ref_key(n, r == R_SECRETS ? "/run/secrets" : "");
	if (r == R_ENVFILE)
		return n->kind == CN_SCALAR ? strdup(n->str) : scalar_field_dup(n, "path");
	if (r == R_IPAM)
		return n->kind == CN_MAP ? scalar_field_dup(n, "subnet") : NULL;
	if (r == R_DEVICES) {
		if (n->kind == CN_SCALAR) {
			const char *c1 = strchr(n->str, ':');
			const char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;

			if (!c1)
				return strdup(n->str);
			return c2 ? strndup(c1 + 1, (size_t)(c2 - c1 - 1)) : strdup(c1 + 1);
		}
		return n->kind == CN_MAP ? scalar_field_dup(n, "target") : NULL;
	}
	if (r == R_VOLUMES) {
		if (n->kind == CN_SCALAR) {
			char *src, *dst, *mode;

			if (parse_volume_short(n->str, &src, &dst, &mode) < 0)
				return NULL;
			free(src);
			free(mode);
			return dst;
		}
		if (n->kind == CN_MAP) {
			const struct cnode *tgt = cnode_get(n, "target");

			return tgt && tgt->kind == CN_SCALAR ? strdup(tgt->str) : NULL;
		}
	}
	return NULL;
}

static int merge_node(struct cnode **basep, struct cnode *over, struct segs *p, struct error *err);

static int merge_map(struct cnode *base, struct cnode *over, struct segs *p, struct error *err)
{
	size_t i;
	int ret = 0;

	for (i = 0; i < over->n && ret == 0; i++) {
		struct centry *e = &over->items[i];
		struct cnode *val = e->val;
		struct centry *found = cnode_find(base, e->key);

		e->val = NULL;
		if (val->flags & CN_F_RESET) {
			if (found)
				cnode_remove_at(base, (size_t)(found - base->items));
			cnode_free(val);
			continue;
		}
		if (!found) {
			if (cnode_append(base, e->key, e->line, val) < 0)
				ret = oom(err);
			continue;
		}
		if (p->n < SEGS_MAX)
			p->s[p->n] = e->key;
		p->n++;
		ret = merge_node(&found->val, val, p, err);
		p->n--;
	}
	cnode_free(over);
	return ret;
}

static int merge_seq(struct cnode *base, struct cnode *over, enum rule r, struct segs *p,
		     struct error *err)
{
	size_t i, j;
	int ret = 0;

	for (i = 0; i < over->n && ret == 0; i++) {
		struct centry *e = &over->items[i];
		struct cnode *val = e->val;
		_cleanup_free_ char *key = NULL;
		bool merged = false;

		e->val = NULL;
		key = r == R_MERGE ? NULL : item_key(val, r);
		for (j = 0; key && j < base->n; j++) {
			_cleanup_free_ char *bkey = item_key(base->items[j].val, r);

			if (!bkey || strcmp(key, bkey))
				continue;
			merged = true;
			if (r == R_UNIQUE) {
				cnode_free(val);
			} else if (r == R_IPAM && base->items[j].val->kind == CN_MAP &&
				   val->kind == CN_MAP) {
				ret = merge_map(base->items[j].val, val, p, err);
			} else {
				/* ports, volumes, secrets, configs, devices, env_file: the
				 * later entry replaces the earlier one whole */
				cnode_free(base->items[j].val);
				base->items[j].val = val;
				base->items[j].line = e->line;
			}
			break;
		}
		if (!merged && cnode_append(base, NULL, e->line, val) < 0)
			ret = oom(err);
	}
	cnode_free(over);
	return ret;
}

/* extra_hosts: per host, the base's addresses then the overlay's new ones */
static int merge_hosts(struct cnode *base, struct cnode *over, struct error *err)
{
	size_t i, j;
	int ret = 0;

	for (i = 0; i < over->n && ret == 0; i++) {
		struct centry *e = &over->items[i];
		struct centry *found = cnode_find(base, e->key);
		struct cnode *val = e->val;

		e->val = NULL;
		if (!found || (val->flags & (CN_F_RESET | CN_F_OVERRIDE)) ||
		    (val->kind != CN_SCALAR && val->kind != CN_SEQ) ||
		    (found->val->kind != CN_SCALAR && found->val->kind != CN_SEQ)) {
			if (found && (val->flags & CN_F_RESET)) {
				cnode_remove_at(base, (size_t)(found - base->items));
				cnode_free(val);
			} else if (found) {
				cnode_free(found->val);
				found->val = val;
			} else if (!(val->flags & CN_F_RESET) &&
				   cnode_append(base, e->key, e->line, val) < 0) {
				ret = oom(err);
			} else if (val->flags & CN_F_RESET) {
				cnode_free(val);
			}
			continue;
		}
		if (val->kind == CN_SCALAR) {
			if (add_host_address(found, val) < 0)
				ret = oom(err);
			continue;
		}
		for (j = 0; j < val->n && ret == 0; j++) {
			struct cnode *it = val->items[j].val;

			val->items[j].val = NULL;
			if (it->kind != CN_SCALAR) {
				cnode_free(it);
				continue;
			}
			if (add_host_address(found, it) < 0)
				ret = oom(err);
		}
		cnode_free(val);
	}
	cnode_free(over);
	return ret;
}

static bool same_driver(const struct cnode *a, const struct cnode *b)
{
	const struct cnode *da = cnode_get(a, "driver"), *db = cnode_get(b, "driver");

	if (!da || !db || da->kind != CN_SCALAR || db->kind != CN_SCALAR)
		return true;
	return !strcmp(da->str, db->str);
}

static int merge_node(struct cnode **basep, struct cnode *over, struct segs *p, struct error *err)
{
	struct cnode *base = *basep;
	enum rule r = rule_for(p);

	if (!(over->flags & CN_F_OVERRIDE) && r == R_HOSTS && base->kind == CN_MAP &&
	    over->kind == CN_MAP)
		return merge_hosts(base, over, err);
	if (!(over->flags & CN_F_OVERRIDE) && r == R_LOGGING && base->kind == CN_MAP &&
	    over->kind == CN_MAP && !same_driver(base, over))
		r = R_REPLACE;
	if (!(over->flags & CN_F_OVERRIDE) && r != R_REPLACE) {
		if (base->kind == CN_MAP && over->kind == CN_MAP)
			return merge_map(base, over, p, err);
		if (base->kind == CN_MAP && over->kind == CN_NULL) {
			cnode_free(over);
			return 0;
		}
		if (base->kind == CN_SEQ && over->kind == CN_SEQ)
			return merge_seq(base, over, r, p, err);
	}
	cnode_free(base);
	*basep = over;
	return 0;
}

int compose_merge(struct cnode *base, struct cnode *over, struct error *err)
{
	struct segs p = {.n = 0};

	return merge_map(base, over, &p, err);
}

int compose_merge_service(struct cnode *base, struct cnode *over, struct error *err)
{
	struct segs p = {.s = {"services", "x"}, .n = 2};

	return merge_map(base, over, &p, err);
}

void compose_prune(struct cnode *n)
{
	size_t i = 0;

	n->flags &= ~CN_F_OVERRIDE;
	while (i < n->n) {
		if (n->items[i].val->flags & CN_F_RESET) {
			cnode_remove_at(n, i);
			continue;
		}
		compose_prune(n->items[i].val);
		i++;
	}
}
