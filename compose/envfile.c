/* SPDX-License-Identifier: MIT */
/*
 * env_file content, the dotenv format Compose reads:
 *
 *	# comment
 *	KEY=value              blanks around the value trimmed; " #" starts a comment
 *	export KEY=value
 *	KEY='literal $value'   single quotes: nothing interpolated, may span lines
 *	KEY="a\nb ${OTHER}"    double quotes: \n \r \t \\ \" escapes, may span lines
 *	KEY                    the value of KEY from the variables, or unset
 *
 * Unquoted and double-quoted values are interpolated; a variable resolves to
 * a key set earlier in the same file first, then to the caller's variables.
 */
#include "compose/envfile.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "compose/ctx.h"
#include "compose/diag.h"
#include "compose/interp.h"
#include "compose/kv.h"
#include "compose/node.h"

struct env_scope {
	struct compose_ctx *ctx;
	struct compose_kv *kv;
	size_t n;
};

static const char *scope_lookup(const char *name, void *payload)
{
	struct env_scope *sc = payload;
	size_t i;

	for (i = sc->n; i > 0; i--)
		if (!strcmp(sc->kv[i - 1].key, name))
			return sc->kv[i - 1].value;
	return ctx_var(sc->ctx, name);
}

static bool valid_key_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '.' || c == '-';
}

static int env_error(struct error *err, const char *path, int line, const char *what)
{
	return diag_error_at(err, path, line, NULL, "env_file: %s", what);
}

/* A quoted value starting after the opening quote; *pp ends after the closing quote. */
static int quoted_value(const char **pp, char quote, struct buf *out, int *line)
{
	const char *p = *pp;

	while (*p && *p != quote) {
		char c = *p;

		if (c == '\n')
			(*line)++;
		if (quote == '"' && c == '\\' && p[1]) {
			p++;
			switch (*p) {
			case 'n':
				c = '\n';
				break;
			case 'r':
				c = '\r';
				break;
			case 't':
				c = '\t';
				break;
			case '\\':
			case '"':
				c = *p;
				break;
			default:
				/* unknown escape: keep the backslash */
				if (buf_putc(out, '\\') < 0)
					return -1;
				c = *p;
				if (c == '\n')
					(*line)++;
			}
		}
		if (buf_putc(out, c) < 0)
			return -1;
		p++;
	}
	if (*p != quote)
		return -2;
	*pp = p + 1;
	return 0;
}

/*
 * The dotenv format above, one pass over text: a line (or a quoted value
 * spanning lines) at a time, blanks and comments skipped, "export " dropped,
 * the key checked, the value unquoted and interpolated by its quoting, and
 * set in *kv, where later keys see it.  Counts text against the expanded
 * document's budget first.  One loop with the quoting cases inline, as the
 * format reads: a line's state (quote, escapes, comment) is local to it.
 */
int compose_envfile_parse(struct compose_ctx *ctx, const char *path, const char *text,
			  struct compose_kv **kv, size_t *n, struct error *err)
{
	struct env_scope sc = {.ctx = ctx};
	const char *p = text;
	int line = 1, ret = -1;
	size_t i;

	/* every service reading a 1 MiB env file would hold a copy */
	if (!ctx_budget_add(ctx, strlen(text)))
		return diag_error_at(
			err, path, 0, NULL,
			"env_file: the stack grows past %u MiB with its env files read (each "
			"service holds its own copy); use large env files in fewer services",
			COMPOSE_EXPANDED_MAX >> 20);
	while (*p) {
		_cleanup_buf_ struct buf raw = BUF_INIT;
		_cleanup_buf_ struct buf val = BUF_INIT;
		_cleanup_free_ char *key = NULL;
		const char *k, *eol;
		int start_line = line;
		bool interpolate = true, has_value = true;

		buf_init(&raw, COMPOSE_ENV_FILE_MAX);
		buf_init(&val, COMPOSE_ENV_FILE_MAX);
		while (*p == ' ' || *p == '\t' || *p == '\r')
			p++;
		if (*p == '\n' || *p == '#' || !*p) {
			eol = strchr(p, '\n');
			p = eol ? eol + 1 : p + strlen(p);
			line++;
			continue;
		}
		if (!strncmp(p, "export ", 7)) {
			p += 7;
			while (*p == ' ' || *p == '\t')
				p++;
		}
		k = p;
		while (valid_key_char(*p))
			p++;
		if (p == k) {
			env_error(err, path, line, "expected KEY=value");
			goto out;
		}
		key = strndup(k, (size_t)(p - k));
		if (!key)
			goto oom;
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '=') {
			p++;
			while (*p == ' ' || *p == '\t')
				p++;
			if (*p == '\'' || *p == '"') {
				char q = *p++;
				int r = quoted_value(&p, q, &raw, &line);

				if (r == -2) {
					env_error(err, path, start_line,
						  "unterminated quoted value");
					goto out;
				}
				if (r < 0)
					goto oom;
				interpolate = q == '"';
				/* rest of the line: blanks and a comment only */
				while (*p == ' ' || *p == '\t' || *p == '\r')
					p++;
				if (*p && *p != '\n' && *p != '#') {
					env_error(err, path, line, "text after a quoted value");
					goto out;
				}
			} else {
				const char *end;

				eol = strchr(p, '\n');
				end = eol ? eol : p + strlen(p);
				for (const char *c = p; c < end; c++)
					if (*c == '#' && c > p && (c[-1] == ' ' || c[-1] == '\t')) {
						end = c;
						break;
					}
				while (end > p &&
				       (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
					end--;
				if (buf_append(&raw, p, (size_t)(end - p)) < 0)
					goto oom;
			}
		} else if (*p == '\n' || *p == '\r' || *p == '#' || !*p) {
			has_value = false;
		} else {
			env_error(err, path, line, "expected KEY=value");
			goto out;
		}
		eol = strchr(p, '\n');
		p = eol ? eol + 1 : p + strlen(p);
		line++;

		if (!has_value) {
			const char *v = scope_lookup(key, &sc);

			if (kv_set(&sc.kv, &sc.n, key, v) < 0)
				goto oom;
			continue;
		}
		if (memchr(buf_str(&raw), '\0', raw.len)) {
			env_error(err, path, start_line, "a value contains a NUL character");
			goto out;
		}
		if (interpolate) {
			if (compose_interpolate(buf_str(&raw), scope_lookup, &sc, &val, err) < 0) {
				char msg[ERROR_MSG_MAX];

				snprintf(msg, sizeof(msg), "%s", err->msg);
				diag_error_at(err, path, start_line, key, "%s", msg);
				goto out;
			}
		} else if (buf_puts(&val, buf_str(&raw)) < 0) {
			goto oom;
		}
		if (kv_set(&sc.kv, &sc.n, key, buf_str(&val)) < 0)
			goto oom;
	}
	for (i = 0; i < sc.n; i++)
		if (kv_set(kv, n, sc.kv[i].key, sc.kv[i].value) < 0)
			goto oom;
	ret = 0;
	goto out;
oom:
	error_set(err, ERR_SYSTEM, "out of memory");
out:
	for (i = 0; i < sc.n; i++) {
		free(sc.kv[i].key);
		free(sc.kv[i].value);
	}
	free(sc.kv);
	return ret;
}

int compose_envfile_parse_raw(const char *path, const char *text, struct compose_kv **kv, size_t *n,
			      struct error *err)
{
	const char *p = text;
	int line = 1;

	while (*p) {
		const char *eol = strchr(p, '\n');
		const char *end = eol ? eol : p + strlen(p);
		const char *eq = memchr(p, '=', (size_t)(end - p));
		_cleanup_free_ char *key = NULL, *val = NULL;
		const char *k = p, *ke;

		while (k < end && (*k == ' ' || *k == '\t'))
			k++;
		if (k == end || *k == '#' || (*k == '\r' && k + 1 == end)) {
			p = eol ? eol + 1 : end;
			line++;
			continue;
		}
		ke = eq ? eq : end;
		while (ke > k && (ke[-1] == ' ' || ke[-1] == '\t' || ke[-1] == '\r'))
			ke--;
		for (const char *c = k; c < ke; c++)
			if (!valid_key_char(*c))
				return env_error(err, path, line, "expected KEY=value");
		if (ke <= k)
			return env_error(err, path, line, "expected KEY=value");
		key = malloc((size_t)(ke - k) + 1);
		if (key) {
			memcpy(key, k, (size_t)(ke - k));
			key[ke - k] = '\0';
		}
		if (eq) {
			size_t vlen = (size_t)(end - eq) - 1;

			if (vlen && eq[vlen] == '\r')
				vlen--;
			val = strndup(eq + 1, vlen);
		}
		if (!key || (eq && !val) || kv_set(kv, n, key, val) < 0)
			return error_set(err, ERR_SYSTEM, "out of memory");
		p = eol ? eol + 1 : end;
		line++;
	}
	return 0;
}
