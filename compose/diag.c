/* SPDX-License-Identifier: MIT */
/* compose's warnings and errors, each pointing at a file and line. */
#define COMPOSE_DIAG_DEFINE /* diag_error and diag_error_at themselves */
#include "compose/diag.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"

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

static int diag_verror(struct error *err, const char *file, int line, const char *path,
		       const char *fmt, va_list ap) __attribute__((format(printf, 5, 0)));

static int diag_verror(struct error *err, const char *file, int line, const char *path,
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

int diag_error_at(struct error *err, const char *file, int line, const char *path, const char *fmt,
		  ...)
{
	va_list ap;
	int ret;

	va_start(ap, fmt);
	ret = diag_verror(err, file, line, path, fmt, ap);
	va_end(ap);
	return ret;
}

int diag_error(struct error *err, const struct cnode *n, const char *path, const char *fmt, ...)
{
	va_list ap;
	int ret;

	va_start(ap, fmt);
	ret = diag_verror(err, n ? n->file : NULL, n ? n->line : 0, path, fmt, ap);
	va_end(ap);
	return ret;
}
