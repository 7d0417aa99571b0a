/* SPDX-License-Identifier: MIT */
#include "compose/node.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct cnode *cnode_new(enum cnode_kind kind, const char *file, int line)
{
	struct cnode *n = calloc(1, sizeof(*n));

	if (!n)
		return NULL;
	n->kind = kind;
	n->file = file;
	n->line = line;
	return n;
}

struct cnode *cnode_new_scalar(const char *s, const char *file, int line)
{
	struct cnode *n = cnode_new(CN_SCALAR, file, line);

	if (!n)
		return NULL;
	n->str = strdup(s);
	if (!n->str) {
		free(n);
		return NULL;
	}
	return n;
}

void cnode_free(struct cnode *n)
{
	size_t i;

	if (!n)
		return;
	for (i = 0; i < n->n; i++) {
		free(n->items[i].key);
		cnode_free(n->items[i].val);
	}
	free(n->items);
	free(n->str);
	free(n);
}

int cnode_append(struct cnode *n, const char *key, int line, struct cnode *val)
{
	struct centry *e;

	if (n->n == n->cap) {
		size_t cap = n->cap ? n->cap * 2 : 4;
		struct centry *items = realloc(n->items, cap * sizeof(*items));

		if (!items)
			goto fail;
		n->items = items;
		n->cap = cap;
	}
	e = &n->items[n->n];
	e->key = NULL;
	if (key) {
		e->key = strdup(key);
		if (!e->key)
			goto fail;
	}
	e->line = line;
	e->val = val;
	n->n++;
	return 0;
fail:
	cnode_free(val);
	return -1;
}

struct centry *cnode_find(const struct cnode *map, const char *key)
{
	size_t i;

	if (!map || map->kind != CN_MAP)
		return NULL;
	for (i = 0; i < map->n; i++)
		if (!strcmp(map->items[i].key, key))
			return &map->items[i];
	return NULL;
}

struct cnode *cnode_get(const struct cnode *map, const char *key)
{
	struct centry *e = cnode_find(map, key);

	return e ? e->val : NULL;
}

void cnode_remove_at(struct cnode *n, size_t i)
{
	free(n->items[i].key);
	cnode_free(n->items[i].val);
	memmove(&n->items[i], &n->items[i + 1], (n->n - i - 1) * sizeof(n->items[0]));
	n->n--;
}

const char *cnode_kind_name(const struct cnode *n)
{
	if (!n)
		return "nothing";
	switch (n->kind) {
	case CN_NULL:
		return "null";
	case CN_SCALAR:
		return "a string";
	case CN_MAP:
		return "a mapping";
	case CN_SEQ:
		return "a sequence";
	}
	return "?";
}

/* Both may be called with dst == parent. */
void path_key(char *dst, size_t size, const char *parent, const char *key)
{
	char tmp[COMPOSE_PATH_MAX];

	snprintf(tmp, sizeof(tmp), "%s", parent ? parent : "");
	if (!tmp[0])
		snprintf(dst, size, "%s", key);
	else
		snprintf(dst, size, "%s.%s", tmp, key);
}

void path_index(char *dst, size_t size, const char *parent, size_t i)
{
	char tmp[COMPOSE_PATH_MAX];

	snprintf(tmp, sizeof(tmp), "%s", parent ? parent : "");
	snprintf(dst, size, "%s[%zu]", tmp, i);
}

int grow_array(void **arr, size_t n, size_t size)
{
	void *p;

	if (n && (n & (n - 1)))
		return 0;
	if (n > SIZE_MAX / 2 / size)
		return -1;
	p = realloc(*arr, (n ? n * 2 : 1) * size);
	if (!p)
		return -1;
	*arr = p;
	return 0;
}

struct cnode *cnode_clone(const struct cnode *n)
{
	struct cnode *c = cnode_new(n->kind, n->file, n->line);
	size_t i;

	if (!c)
		return NULL;
	c->flags = n->flags;
	if (n->str && !(c->str = strdup(n->str)))
		goto fail;
	for (i = 0; i < n->n; i++) {
		struct cnode *v = cnode_clone(n->items[i].val);

		if (!v || cnode_append(c, n->items[i].key, n->items[i].line, v) < 0)
			goto fail;
	}
	return c;
fail:
	cnode_free(c);
	return NULL;
}
