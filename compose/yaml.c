/* SPDX-License-Identifier: MIT */
/*
 * Stack file text -> tree, with libfyaml's document API.  Every node keeps
 * its line (from the tokens' start marks), aliases are expanded here (with a
 * node budget and a byte budget, so a "billion laughs" file fails cleanly and
 * early, whether its aliases multiply nodes or one large scalar), `<<` merge keys are
 * applied, and !reset / !override tags become flags for merge.c.  Then every
 * scalar value is interpolated, as Compose does before merging.
 */
#include "compose/yaml.h"

#include <libfyaml.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "compose/ctx.h"
#include "compose/diag.h"
#include "compose/interp.h"
#include "compose/node.h"

#define TAG_STR	   "tag:yaml.org,2002:str"
#define TAG_NULL   "tag:yaml.org,2002:null"
#define TAG_PREFIX "tag:yaml.org,2002:"

struct loader {
	struct compose_ctx *ctx;
	const char *file;
	size_t nodes;
	/* the collections being converted, to refuse an alias to its own ancestor */
	struct fy_node *stack[COMPOSE_DEPTH_MAX + 1];
	int depth;
	int alias_line; /* line of the outermost alias being expanded, 0 when none */
};

static int oom(struct error *err)
{
	return error_set(err, ERR_SYSTEM, "out of memory");
}

/* 1-based line of a node's own token (tag, scalar, alias), 0 when it has none. */
static int fy_line(struct fy_node *fn)
{
	struct fy_token *t = fy_node_get_tag_token(fn);
	const struct fy_mark *m;

	if (!t && fy_node_get_type(fn) == FYNT_SCALAR)
		t = fy_node_get_scalar_token(fn);
	if (!t)
		return 0;
	m = fy_token_start_mark(t);
	return m ? m->line + 1 : 0;
}

static bool is_null_text(const char *s, size_t len)
{
	static const char *const nulls[] = {"", "~", "null", "Null", "NULL"};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(nulls); i++)
		if (strlen(nulls[i]) == len && !memcmp(s, nulls[i], len))
			return true;
	return false;
}

static int convert(struct loader *ld, struct fy_node *fn, int line_hint, struct cnode **out,
		   struct error *err);

/* Count bytes of the expanded tree before they are allocated. */
static int budget(struct loader *ld, size_t bytes, int line, struct error *err)
{
	if (ctx_budget_add(ld->ctx, bytes))
		return 0;
	/* the copy is made where the alias is, not where its anchor is */
	return diag_error_at(
		err, ld->file, ld->alias_line ?: line, NULL,
		"the stack grows past %u MiB once aliases are expanded (each alias is a "
		"full copy of its anchor); use aliases of large values fewer times",
		COMPOSE_EXPANDED_MAX >> 20);
}

static int scalar_text(struct loader *ld, struct fy_node *fn, int line, char **out,
		       struct error *err)
{
	size_t len = 0;
	const char *s = fy_node_get_scalar(fn, &len);

	if (!s) {
		s = "";
		len = 0;
	}
	if (memchr(s, '\0', len))
		return diag_error_at(err, ld->file, line, NULL,
				     "a string contains a NUL character");
	if (budget(ld, len + 1, line, err) < 0)
		return -1;
	*out = strndup(s, len);
	return *out ? 0 : oom(err);
}

/* Apply the tag of fn to n; warn about tags that mean nothing here. */
static void apply_tag(struct loader *ld, struct fy_node *fn, struct cnode *n)
{
	size_t len = 0;
	const char *tag = fy_node_get_tag(fn, &len);

	if (!tag || !len)
		return;
	if (len == 6 && !memcmp(tag, "!reset", 6))
		n->flags |= CN_F_RESET;
	else if (len == 9 && !memcmp(tag, "!override", 9))
		n->flags |= CN_F_OVERRIDE;
	else if (len == 1 && tag[0] == '!')
		n->flags |= CN_F_QUOTED; /* the non-specific tag: a string */
	else if (len >= strlen(TAG_PREFIX) && !memcmp(tag, TAG_PREFIX, strlen(TAG_PREFIX)))
		return; /* !!str, !!int...: the text is what matters */
	else
		diag_add(ld->ctx->diags, ld->file, n->line, "unknown tag %.*s (ignored)", (int)len,
			 tag);
}

static int convert_scalar(struct loader *ld, struct fy_node *fn, int line, struct cnode **out,
			  struct error *err)
{
	_cleanup_cnode_ struct cnode *n = NULL;
	size_t tlen = 0, len = 0;
	const char *tag = fy_node_get_tag(fn, &tlen);
	const char *s = fy_node_get_scalar(fn, &len);
	bool plain = fy_node_get_style(fn) == FYNS_PLAIN;
	bool tag_str = tag && ((tlen == strlen(TAG_STR) && !memcmp(tag, TAG_STR, tlen)) ||
			       (tlen == 1 && tag[0] == '!'));
	bool tag_null = tag && tlen == strlen(TAG_NULL) && !memcmp(tag, TAG_NULL, tlen);

	if (!s)
		len = 0;
	if (tag_null || (plain && !tag_str && is_null_text(s ? s : "", len))) {
		n = cnode_new(CN_NULL, ld->file, line);
		if (!n)
			return oom(err);
	} else {
		n = cnode_new(CN_SCALAR, ld->file, line);
		if (!n)
			return oom(err);
		if (scalar_text(ld, fn, line, &n->str, err) < 0)
			return -1;
		if (!plain || tag_str)
			n->flags |= CN_F_QUOTED;
	}
	apply_tag(ld, fn, n);
	*out = steal_ptr(n);
	return 0;
}

/* The text of a mapping key; keys are scalars (aliases to scalars allowed). */
static int key_text(struct loader *ld, struct fy_node *kn, int line, char **out, bool *merge,
		    struct error *err)
{
	struct fy_node *k = kn;

	*merge = false;
	if (!k)
		return diag_error_at(err, ld->file, line, NULL, "a mapping key is empty");
	if (fy_node_is_alias(k)) {
		k = fy_node_resolve_alias(k);
		if (!k)
			return diag_error_at(err, ld->file, line, NULL,
					     "a mapping key is an alias to an unknown anchor");
	} else if (fy_node_get_type(k) == FYNT_SCALAR && fy_node_get_style(k) == FYNS_PLAIN) {
		size_t len = 0;
		const char *s = fy_node_get_scalar(k, &len);

		*merge = s && len == 2 && !memcmp(s, "<<", 2);
	}
	if (fy_node_get_type(k) != FYNT_SCALAR)
		return diag_error_at(err, ld->file, line, NULL,
				     "mapping keys must be strings, not a %s",
				     fy_node_get_type(k) == FYNT_MAPPING ? "mapping" : "sequence");
	return scalar_text(ld, k, line, out, err);
}

/* `<<: *anchor` or `<<: [*a, *b]`: add the keys the mapping does not have yet. */
static int apply_merge_key(struct loader *ld, struct cnode *map, struct fy_node *vn, int line,
			   struct error *err)
{
	struct fy_node *sources[1];
	struct fy_node *v = vn, *item;
	void *iter = NULL;
	bool single;

	if (v && fy_node_is_alias(v))
		v = fy_node_resolve_alias(v);
	if (!v)
		return diag_error_at(err, ld->file, line, NULL,
				     "<< (merge key): expected a mapping or a list of mappings");
	single = fy_node_get_type(v) == FYNT_MAPPING;
	if (!single && fy_node_get_type(v) != FYNT_SEQUENCE)
		return diag_error_at(err, ld->file, line, NULL,
				     "<< (merge key): expected a mapping or a list of mappings");
	sources[0] = vn; /* unresolved: convert() catches an alias to an ancestor */
	for (;;) {
		_cleanup_cnode_ struct cnode *src = NULL;
		size_t i;

		if (single) {
			item = sources[0];
			sources[0] = NULL;
		} else {
			item = fy_node_sequence_iterate(v, &iter);
		}
		if (!item)
			break;
		if (fy_node_is_alias(item) && fy_node_resolve_alias(item) &&
		    fy_node_get_type(fy_node_resolve_alias(item)) != FYNT_MAPPING)
			return diag_error_at(
				err, ld->file, line, NULL,
				"<< (merge key): expected a mapping or a list of mappings");
		if (!fy_node_is_alias(item) && fy_node_get_type(item) != FYNT_MAPPING)
			return diag_error_at(
				err, ld->file, line, NULL,
				"<< (merge key): expected a mapping or a list of mappings");
		if (convert(ld, item, line, &src, err) < 0)
			return -1;
		if (src->kind != CN_MAP)
			return diag_error_at(
				err, ld->file, line, NULL,
				"<< (merge key): expected a mapping or a list of mappings");
		/* explicit keys were added first; earlier sources win over later ones */
		for (i = 0; i < src->n; i++) {
			struct centry *e = &src->items[i];

			if (cnode_find(map, e->key))
				continue;
			if (cnode_append(map, e->key, e->line, e->val) < 0)
				return oom(err);
			e->val = NULL;
		}
	}
	return 0;
}

static int convert_map(struct loader *ld, struct fy_node *fn, struct cnode *map, struct error *err)
{
	struct fy_node_pair *p;
	void *iter = NULL;
	bool has_merge = false;

	while ((p = fy_node_mapping_iterate(fn, &iter))) {
		_cleanup_free_ char *key = NULL;
		struct fy_node *kn = fy_node_pair_key(p);
		struct cnode *val = NULL;
		int line = kn ? fy_line(kn) : 0;
		bool merge;

		if (!line)
			line = map->line;
		if (key_text(ld, kn, line, &key, &merge, err) < 0)
			return -1;
		if (merge) {
			has_merge = true;
			continue;
		}
		if (convert(ld, fy_node_pair_value(p), line, &val, err) < 0)
			return -1;
		if (cnode_append(map, key, line, val) < 0)
			return oom(err);
	}
	if (!has_merge)
		return 0;
	iter = NULL;
	while ((p = fy_node_mapping_iterate(fn, &iter))) {
		_cleanup_free_ char *key = NULL;
		struct fy_node *kn = fy_node_pair_key(p);
		int line = kn ? fy_line(kn) : map->line;
		bool merge;

		if (key_text(ld, kn, line, &key, &merge, err) < 0)
			return -1;
		if (merge && apply_merge_key(ld, map, fy_node_pair_value(p), line, err) < 0)
			return -1;
	}
	return 0;
}

static int convert_seq(struct loader *ld, struct fy_node *fn, struct cnode *seq, struct error *err)
{
	struct fy_node *item;
	void *iter = NULL;

	while ((item = fy_node_sequence_iterate(fn, &iter))) {
		struct cnode *val = NULL;

		if (convert(ld, item, 0, &val, err) < 0)
			return -1;
		if (!val->line)
			val->line = seq->line;
		if (cnode_append(seq, NULL, val->line, val) < 0)
			return oom(err);
	}
	return 0;
}

/* The line of a collection: its tag, else the key it is the value of, else its first child. */
static int collection_line(struct fy_node *fn, int line_hint)
{
	int line = fy_line(fn);
	void *iter = NULL;

	if (line)
		return line;
	if (line_hint)
		return line_hint;
	if (fy_node_get_type(fn) == FYNT_MAPPING) {
		struct fy_node_pair *p = fy_node_mapping_iterate(fn, &iter);

		if (p && fy_node_pair_key(p))
			return fy_line(fy_node_pair_key(p));
	} else {
		struct fy_node *c = fy_node_sequence_iterate(fn, &iter);

		if (c)
			return fy_line(c);
	}
	return 0;
}

static int convert(struct loader *ld, struct fy_node *fn, int line_hint, struct cnode **out,
		   struct error *err)
{
	_cleanup_cnode_ struct cnode *n = NULL;
	enum fy_node_type type;
	int i, line, ret;

	if (++ld->nodes > COMPOSE_NODES_MAX)
		return diag_error_at(err, ld->file, line_hint, NULL,
				     "the file has more than %u nodes once aliases are expanded",
				     COMPOSE_NODES_MAX);
	/* the node and the entry that holds it */
	if (budget(ld, sizeof(struct cnode) + sizeof(struct centry), line_hint, err) < 0)
		return -1;
	if (!fn) {
		/* `key:` with nothing after it */
		*out = cnode_new(CN_NULL, ld->file, line_hint);
		return *out ? 0 : oom(err);
	}
	if (fy_node_is_alias(fn)) {
		struct fy_node *target = fy_node_resolve_alias(fn);
		const char *name = fy_node_get_scalar0(fn);

		line = fy_line(fn) ?: line_hint;
		if (!target)
			return diag_error_at(err, ld->file, line, NULL, "alias *%s: no such anchor",
					     name ? name : "");
		for (i = 0; i < ld->depth; i++)
			if (ld->stack[i] == target)
				return diag_error_at(err, ld->file, line, NULL,
						     "alias *%s refers to a node that contains it",
						     name ? name : "");
		if (ld->alias_line)
			return convert(ld, target, line, out, err);
		ld->alias_line = line;
		ret = convert(ld, target, line, out, err);
		ld->alias_line = 0;
		return ret;
	}
	type = fy_node_get_type(fn);
	if (type == FYNT_SCALAR)
		return convert_scalar(ld, fn, fy_line(fn) ?: line_hint, out, err);

	line = collection_line(fn, line_hint);
	if (ld->depth >= COMPOSE_DEPTH_MAX)
		return diag_error_at(err, ld->file, line, NULL, "nested more than %d levels deep",
				     COMPOSE_DEPTH_MAX);
	n = cnode_new(type == FYNT_MAPPING ? CN_MAP : CN_SEQ, ld->file, line);
	if (!n)
		return oom(err);
	apply_tag(ld, fn, n);
	ld->stack[ld->depth++] = fn;
	ret = type == FYNT_MAPPING ? convert_map(ld, fn, n, err) : convert_seq(ld, fn, n, err);
	ld->depth--;
	if (ret < 0)
		return -1;
	*out = steal_ptr(n);
	return 0;
}

/* ---- interpolation of every scalar value ---- */

struct walker {
	struct compose_ctx *ctx;
	const struct cnode *node;
};

static const char *walker_lookup(const char *name, void *payload)
{
	struct walker *w = payload;

	return ctx_var(w->ctx, name);
}

static void walker_unset(const char *name, void *payload)
{
	struct walker *w = payload;
	struct compose_ctx *ctx = w->ctx;
	char **v;
	size_t i;

	for (i = 0; i < ctx->nwarned; i++)
		if (!strcmp(ctx->warned_vars[i], name))
			return;
	v = realloc(ctx->warned_vars, (ctx->nwarned + 1) * sizeof(*v));
	if (!v)
		return;
	ctx->warned_vars = v;
	v[ctx->nwarned] = strdup(name);
	if (!v[ctx->nwarned])
		return;
	ctx->nwarned++;
	diag_add(ctx->diags, w->node->file, w->node->line,
		 "variable %s is not set; substituting an empty string", name);
}

enum level {
	LV_ROOT,    /* the file */
	LV_SECTION, /* services:, networks:, volumes: */
	LV_OBJECT,  /* one service, network or volume */
	LV_OTHER,
};

static int interpolate_tree(struct compose_ctx *ctx, struct cnode *n, const char *path,
			    enum level lv, struct error *err)
{
	char sub[COMPOSE_PATH_MAX];
	size_t i;

	switch (n->kind) {
	case CN_NULL:
		return 0;
	case CN_SCALAR: {
		_cleanup_buf_ struct buf out = BUF_INIT;
		struct walker w = {.ctx = ctx, .node = n};

		if (!strchr(n->str, '$'))
			return 0;
		buf_init(&out, COMPOSE_FILE_MAX);
		if (compose_interpolate_full(n->str, walker_lookup, walker_unset, &w, &out, err) <
		    0) {
			char msg[ERROR_MSG_MAX];

			snprintf(msg, sizeof(msg), "%s", err->msg);
			return diag_error(err, n, path, "%s", msg);
		}
		if (out.len > strlen(n->str) && !ctx_budget_add(ctx, out.len - strlen(n->str)))
			return diag_error(err, n, path,
					  "the stack grows past %u MiB once variables are "
					  "substituted; use large variables fewer times",
					  COMPOSE_EXPANDED_MAX >> 20);
		free(n->str);
		n->str = buf_detach(&out, NULL);
		return 0;
	}
	case CN_SEQ:
		for (i = 0; i < n->n; i++) {
			path_index(sub, sizeof(sub), path, i);
			if (interpolate_tree(ctx, n->items[i].val, sub, LV_OTHER, err) < 0)
				return -1;
		}
		return 0;
	case CN_MAP:
		for (i = 0; i < n->n; i++) {
			const char *key = n->items[i].key;
			enum level next = LV_OTHER;

			/* x- extensions are not part of the model: never interpolated */
			if ((lv == LV_ROOT || lv == LV_OBJECT) && !strncmp(key, "x-", 2))
				continue;
			if (lv == LV_ROOT && (!strcmp(key, "services") ||
					      !strcmp(key, "networks") || !strcmp(key, "volumes") ||
					      !strcmp(key, "secrets") || !strcmp(key, "configs")))
				next = LV_SECTION;
			else if (lv == LV_SECTION)
				next = LV_OBJECT;
			path_key(sub, sizeof(sub), path, key);
			if (interpolate_tree(ctx, n->items[i].val, sub, next, err) < 0)
				return -1;
		}
		return 0;
	}
	return 0;
}

/* ---- entry ---- */

static int syntax_error(struct loader *ld, struct fy_diag *diag, struct error *err)
{
	struct fy_diag_error *e;
	void *iter = NULL;

	while ((e = fy_diag_errors_iterate(diag, &iter))) {
		if (e->type < FYET_ERROR)
			continue;
		return diag_error_at(err, ld->file, e->line, NULL,
				     "YAML syntax error: %s (column %d)",
				     e->msg ? e->msg : "invalid YAML", e->column);
	}
	return diag_error_at(err, ld->file, 0, NULL, "YAML syntax error");
}

/*
 * text -> *out through libfyaml: a parser that collects its errors (the first
 * becomes "YAML syntax error: ... (column N)" at its line), exactly one
 * document (a second is refused), converted by convert(); an empty document,
 * or one of just null, is an empty mapping, any other non-mapping refused.
 * The libfyaml objects are freed at one exit.
 */
static int load_tree(struct loader *ld, const char *text, size_t len, struct cnode **out,
		     struct error *err)
{
	struct fy_diag_cfg dcfg;
	struct fy_diag *diag;
	struct fy_parser *fyp = NULL;
	struct fy_document *doc = NULL, *extra = NULL;
	struct fy_node *root;
	int ret = -1;

	fy_diag_cfg_default(&dcfg);
	dcfg.fp = NULL;
	dcfg.colorize = false;
	diag = fy_diag_create(&dcfg);
	if (!diag)
		return oom(err);
	fy_diag_set_collect_errors(diag, true);
	struct fy_parse_cfg cfg = {
		.flags = FYPCF_QUIET | FYPCF_DEFAULT_VERSION_1_2 | FYPCF_JSON_NONE,
		.diag = diag,
	};
	fyp = fy_parser_create(&cfg);
	if (!fyp) {
		oom(err);
		goto out;
	}
	if (fy_parser_set_string(fyp, text, len) < 0) {
		oom(err);
		goto out;
	}
	doc = fy_parse_load_document(fyp);
	if (!doc) {
		if (fy_parser_get_stream_error(fyp) || fy_diag_got_error(diag)) {
			syntax_error(ld, diag, err);
			goto out;
		}
		/* empty, or only comments */
		*out = cnode_new(CN_MAP, ld->file, 1);
		ret = *out ? 0 : oom(err);
		goto out;
	}
	extra = fy_parse_load_document(fyp);
	if (extra || fy_parser_get_stream_error(fyp) || fy_diag_got_error(diag)) {
		if (!extra) {
			syntax_error(ld, diag, err);
			goto out;
		}
		root = fy_document_root(extra);
		diag_error_at(err, ld->file, root ? collection_line(root, 0) : 0, NULL,
			      "more than one YAML document in a stack file is not supported");
		goto out;
	}
	root = fy_document_root(doc);
	if (!root) {
		*out = cnode_new(CN_MAP, ld->file, 1);
		ret = *out ? 0 : oom(err);
		goto out;
	}
	if (convert(ld, root, 1, out, err) < 0)
		goto out;
	if ((*out)->kind == CN_NULL) {
		/* a document of just "~" or "null" */
		cnode_free(*out);
		*out = cnode_new(CN_MAP, ld->file, 1);
		ret = *out ? 0 : oom(err);
		goto out;
	}
	if ((*out)->kind != CN_MAP) {
		diag_error(err, *out, NULL, "the file must be a mapping (services:, ...), not %s",
			   cnode_kind_name(*out));
		cnode_free(*out);
		*out = NULL;
		goto out;
	}
	ret = 0;
out:
	if (extra)
		fy_parse_document_destroy(fyp, extra);
	if (doc)
		fy_parse_document_destroy(fyp, doc);
	if (fyp)
		fy_parser_destroy(fyp);
	fy_diag_destroy(diag);
	return ret;
}

/*
 * Length of the valid UTF-8 sequence at p (1-4), or 0 when it is not one:
 * no overlong forms, no surrogates, nothing above U+10FFFF.
 */
static size_t utf8_seq(const unsigned char *p, size_t left)
{
	size_t n, i;
	uint32_t cp;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		n = 2;
		cp = p[0] & 0x1f;
	} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		n = 3;
		cp = p[0] & 0x0f;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		n = 4;
		cp = p[0] & 0x07;
	} else {
		return 0;
	}
	if (left < n)
		return 0;
	for (i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	if ((n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (n == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return n;
}

/*
 * YAML streams here are UTF-8, as Compose reads them.  Checked before
 * libfyaml sees the text: 0.7.12 loops forever on some invalid UTF-8 (in a
 * `%` directive line), and a NUL cannot be part of any value we hand on.
 */
static int check_text(const char *file, const char *text, size_t len, struct error *err)
{
	const unsigned char *p = (const unsigned char *)text;
	size_t i = 0, n;
	int line = 1;

	while (i < len) {
		if (p[i] == '\n')
			line++;
		if (p[i] == '\0')
			return diag_error_at(err, file, line, NULL, "the file contains a NUL byte");
		n = utf8_seq(p + i, len - i);
		if (!n)
			return diag_error_at(err, file, line, NULL,
					     "invalid UTF-8 (stack files must be saved as UTF-8)");
		i += n;
	}
	return 0;
}

int compose_yaml_load(struct compose_ctx *ctx, const char *file, const char *text, size_t len,
		      struct cnode **out, struct error *err)
{
	struct loader ld = {.ctx = ctx, .file = file};
	_cleanup_cnode_ struct cnode *root = NULL;

	if (len > COMPOSE_FILE_MAX)
		return diag_error_at(err, file, 0, NULL, "the file is larger than %u bytes",
				     COMPOSE_FILE_MAX);
	if (check_text(file, text, len, err) < 0)
		return -1;
	if (load_tree(&ld, text, len, &root, err) < 0)
		return -1;
	if (interpolate_tree(ctx, root, "", LV_ROOT, err) < 0)
		return -1;
	*out = steal_ptr(root);
	return 0;
}
